/* it_handshake: the HTTP side and the JSON-RPC envelope of ringexecd, end to end.
 *
 * Covers /readyz, /livez, 403 on Origin, 404 and 400 on the plain HTTP side; the
 * initialize result (UUID v4 sessionId, server name); the handshake gate and its
 * exact texts, the check order (method, params, gate); malformed messages (-32600,
 * id -1, the peer in the text, connection kept); id echo types; binary frames; pings;
 * "jsonrpc" accepted and never sent; and a clean exit 0 on SIGTERM.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "expect.h"
#include "rpc.h"
#include "server.h"
#include "tap.h"
#include "wsc.h"

#define T_MS 5000	/* deadline of one request/response */

#define PARSE_PREFIX "failed to parse websocket JSON-RPC message from exec-server websocket "
#define GATE_INIT "client must call initialize before using exec methods"
#define GATE_INITIALIZED "client must send initialized before using exec methods"
#define INIT_TWICE "initialize may only be sent once per connection"

static struct server srv;
static bool srv_started;

/* ---- helpers ---- */

/* resp is an error with this code whose message contains part. */
static bool is_err_with(const json_t *resp, int code, const char *part)
{
	const char *m = err_msg(resp);

	return err_code(resp) == code && m && strstr(m, part);
}

#define CHECK_ERR_WITH(resp, code, part) \
	CHECKF(is_err_with(resp, code, part), "got %s; want error %d containing \"%s\"", js(resp), \
	       code, part)

/* A connection upgraded but not initialized. */
static struct rpc *connect_bare(void)
{
	struct wsc *c;
	int err;

	if (!srv_started)
		return NULL;
	err = wsc_connect(&c, srv.url, NULL, T_MS);
	if (err) {
		tap_diag("wsc_connect(%s) = %d", srv.url, err);
		return NULL;
	}
	return rpc_new(c);
}

static int send_text(struct rpc *r, const char *text)
{
	return wsc_send_text(rpc_wsc(r), text, strlen(text));
}

/* Valid process/start params for a short "true". */
static json_t *true_params(const char *id)
{
	return json_pack("{s:s, s:[s], s:s, s:{s:s}, s:b}", "processId", id, "argv", "true",
			 "cwd", "/", "env", "PATH", "/usr/bin:/bin", "tty", 0);
}

/* The local port of the connection, as the server sees the peer. */
static int local_port(struct rpc *r)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);

	if (getsockname(wsc_fd(rpc_wsc(r)), (struct sockaddr *)&sa, &len) < 0 ||
	    sa.sin_family != AF_INET)
		return -1;
	return ntohs(sa.sin_port);
}

/* 8-4-4-4-12 lowercase-or-uppercase hex, version nibble 4, variant 8/9/a/b. */
static bool is_uuid_v4(const char *s)
{
	static const int dash[] = { 8, 13, 18, 23 };

	if (!s || strlen(s) != 36)
		return false;
	for (int i = 0; i < 36; i++) {
		bool want_dash = i == dash[0] || i == dash[1] || i == dash[2] || i == dash[3];

		if (want_dash ? s[i] != '-' : !isxdigit((unsigned char)s[i]))
			return false;
	}
	return s[14] == '4' && strchr("89abAB", s[19]) != NULL;
}

/* A message carries no "jsonrpc" member anywhere at the top level. */
static bool no_jsonrpc(const json_t *msg)
{
	return json_is_object(msg) && !json_object_get(msg, "jsonrpc");
}

/* The parse-error reply for this connection: exactly {"error":{code,message},"id":-1}
 * with the peer's address and a non-empty reason. */
static bool is_parse_error(const json_t *msg, int port)
{
	char prefix[256];
	const char *m = err_msg(msg);
	json_t *id = json_object_get(msg, "id");

	snprintf(prefix, sizeof(prefix), PARSE_PREFIX "127.0.0.1:%d: ", port);
	return json_is_integer(id) && json_integer_value(id) == -1 && err_code(msg) == -32600 &&
	       m && strncmp(m, prefix, strlen(prefix)) == 0 && strlen(m) > strlen(prefix) &&
	       json_object_size(msg) == 2 && json_object_size(json_object_get(msg, "error")) == 2;
}

static int http_get(const char *path, const char *extra, char **body)
{
	char req[512];

	snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n%sConnection: close\r\n\r\n",
		 path, srv.port, extra ? extra : "");
	return wsc_http_raw(srv.url, req, body, T_MS);
}

/* ---- the HTTP side ---- */

static void readyz_is_200_ok(void)
{
	char *body = NULL;
	int st;

	REQUIRE(srv_started);
	st = http_get("/readyz", NULL, &body);
	CHECKF(st == 200, "status %d", st);
	CHECKF(body && strcmp(body, "ok") == 0, "body \"%s\"", body ? body : "(none)");
	free(body);
}

static void livez_is_200(void)
{
	int st;

	REQUIRE(srv_started);
	st = http_get("/livez", NULL, NULL);
	CHECKF(st == 200, "status %d", st);
}

static void upgrade_with_origin_is_403(void)
{
	struct wsc *c = NULL;
	int st;

	REQUIRE(srv_started);
	st = wsc_connect(&c, srv.url, "Origin: https://evil.example\r\n", T_MS);
	CHECKF(st == 403, "wsc_connect = %d", st);
	if (st == 0)
		wsc_abort(c);
	/* Any request with an Origin, not only upgrades. */
	st = http_get("/readyz", "Origin: https://evil.example\r\n", NULL);
	CHECKF(st == 403, "GET /readyz with Origin: status %d", st);
}

static void unknown_path_is_404(void)
{
	int st;

	REQUIRE(srv_started);
	st = http_get("/nope", NULL, NULL);
	CHECKF(st == 404, "status %d", st);
}

static void plain_get_root_is_400(void)
{
	int st;

	REQUIRE(srv_started);
	st = http_get("/", NULL, NULL);
	CHECKF(st == 400, "status %d", st);
}

/* ---- initialize ---- */

static void initialize_returns_uuid_v4_session(void)
{
	struct rpc *a = connect_bare(), *b = connect_bare();
	json_t *ra = NULL, *rb = NULL;
	const char *sa, *sb, *name, *ver;
	json_t *server;

	if (!a || !b) {
		rpc_free(a);
		rpc_free(b);
		REQUIRE(a && b);
	}
	ra = rpc_call(a, "initialize", json_pack("{s:s}", "clientName", "it"), T_MS);
	rb = rpc_call(b, "initialize", json_pack("{s:s, s:n}", "clientName", "it",
						 "resumeSessionId"), T_MS);
	sa = json_string_value(json_object_get(json_object_get(ra, "result"), "sessionId"));
	sb = json_string_value(json_object_get(json_object_get(rb, "result"), "sessionId"));
	CHECKF(is_uuid_v4(sa), "initialize: %s", js(ra));
	CHECKF(is_uuid_v4(sb), "initialize (resumeSessionId null): %s", js(rb));
	CHECKF(sa && sb && strcmp(sa, sb) != 0, "two connections got one sessionId %s", sa);
	CHECKF(json_is_object(json_object_get(json_object_get(ra, "result"), "environmentInfo")),
	       "no environmentInfo object: %s", js(ra));
	server = json_object_get(json_object_get(ra, "result"), "server");
	name = json_string_value(json_object_get(server, "name"));
	ver = json_string_value(json_object_get(server, "version"));
	CHECKF(name && strcmp(name, "ringexec") == 0, "server: %s", js(server));
	{
		unsigned x, y, z;
		char tail;

		CHECKF(ver && sscanf(ver, "%u.%u.%u%c", &x, &y, &z, &tail) == 3,
		       "server.version: %s", js(server));
	}
	CHECKF(no_jsonrpc(ra), "%s", js(ra));
	json_decref(ra);
	json_decref(rb);
	rpc_free(a);
	rpc_free(b);
}

static void unknown_resume_session_is_32600(void)
{
	static const char sid[] = "00000000-0000-4000-8000-000000000000";
	struct rpc *r = connect_bare();
	json_t *resp;

	REQUIRE(r);
	resp = rpc_call(r, "initialize",
			json_pack("{s:s, s:s}", "clientName", "it", "resumeSessionId", sid), T_MS);
	CHECK_ERR(resp, -32600, "unknown session id 00000000-0000-4000-8000-000000000000");
	json_decref(resp);
	rpc_free(r);
}

/* ---- the gate and the check order ---- */

static void exec_before_initialize_is_32600(void)
{
	struct rpc *r = connect_bare();
	json_t *resp;

	REQUIRE(r);
	resp = rpc_call(r, "process/start", true_params("p"), T_MS);
	CHECK_ERR(resp, -32600, GATE_INIT);
	json_decref(resp);
	resp = rpc_call(r, "process/read", json_pack("{s:s}", "processId", "p"), T_MS);
	CHECK_ERR(resp, -32600, GATE_INIT);
	json_decref(resp);
	resp = rpc_call(r, "process/write",
			json_pack("{s:s, s:s}", "processId", "p", "chunk", "eA=="), T_MS);
	CHECK_ERR(resp, -32600, GATE_INIT);
	json_decref(resp);
	resp = rpc_call(r, "process/terminate", json_pack("{s:s}", "processId", "p"), T_MS);
	CHECK_ERR(resp, -32600, GATE_INIT);
	json_decref(resp);
	resp = rpc_call(r, "environment/info", NULL, T_MS);
	CHECK_ERR(resp, -32600, "client must call initialize before using environment info methods");
	json_decref(resp);
	resp = rpc_call(r, "environment/status", NULL, T_MS);
	CHECK_ERR(resp, -32600,
		  "client must call initialize before using environment status methods");
	json_decref(resp);
	rpc_free(r);
}

static void exec_before_initialized_is_32600(void)
{
	struct rpc *r = connect_bare();
	json_t *resp;

	REQUIRE(r);
	resp = rpc_call(r, "initialize", json_pack("{s:s}", "clientName", "it"), T_MS);
	CHECKF(json_object_get(resp, "result"), "initialize: %s", js(resp));
	json_decref(resp);

	resp = rpc_call(r, "process/start", true_params("p"), T_MS);
	CHECK_ERR(resp, -32600, GATE_INITIALIZED);
	json_decref(resp);
	resp = rpc_call(r, "environment/info", NULL, T_MS);
	CHECK_ERR(resp, -32600, "client must send initialized before using environment info methods");
	json_decref(resp);

	/* initialized opens the gate; the refused start left no entry behind. */
	REQUIRE(send_text(r, "{\"method\":\"initialized\",\"params\":{}}") == 0);
	resp = rpc_call(r, "process/start", true_params("p"), T_MS);
	CHECKF(json_object_get(resp, "result"), "start after initialized: %s", js(resp));
	json_decref(resp);
	rpc_free(r);
}

static void initialize_twice_is_32600(void)
{
	struct rpc *r = connect_bare();
	json_t *resp;

	REQUIRE(r);
	REQUIRE(rpc_handshake(r) == 0);
	resp = rpc_call(r, "initialize", json_pack("{s:s}", "clientName", "again"), T_MS);
	CHECK_ERR(resp, -32600, INIT_TWICE);
	json_decref(resp);
	/* The session is unharmed. */
	resp = rpc_call(r, "process/start", true_params("p"), T_MS);
	CHECKF(json_object_get(resp, "result"), "start after second initialize: %s", js(resp));
	json_decref(resp);
	rpc_free(r);
}

static void unknown_method_is_32601(void)
{
	struct rpc *r = connect_bare();
	json_t *resp;

	REQUIRE(r);
	/* Before the handshake: the method check comes first. */
	resp = rpc_call(r, "nope/x", NULL, T_MS);
	CHECK_ERR(resp, -32601, "exec-server stub does not implement `nope/x` yet");
	json_decref(resp);
	REQUIRE(rpc_handshake(r) == 0);
	resp = rpc_call(r, "nope/x", json_pack("{s:i}", "a", 1), T_MS);
	CHECK_ERR(resp, -32601, "exec-server stub does not implement `nope/x` yet");
	json_decref(resp);
	rpc_free(r);
}

static void params_decode_wins_over_gate(void)
{
	struct rpc *r = connect_bare();
	json_t *resp;

	REQUIRE(r);
	resp = rpc_call(r, "process/start", json_object(), T_MS);
	CHECK_ERR_WITH(resp, -32602, "missing field `processId`");
	json_decref(resp);
	resp = rpc_call(r, "process/read", json_object(), T_MS);
	CHECK_ERR_WITH(resp, -32602, "processId");
	json_decref(resp);
	resp = rpc_call(r, "initialize", json_object(), T_MS);
	CHECK_ERR_WITH(resp, -32602, "clientName");
	json_decref(resp);
	/* Between initialize and initialized too. */
	resp = rpc_call(r, "initialize", json_pack("{s:s}", "clientName", "it"), T_MS);
	CHECKF(json_object_get(resp, "result"), "initialize: %s", js(resp));
	json_decref(resp);
	resp = rpc_call(r, "process/start", json_object(), T_MS);
	CHECK_ERR_WITH(resp, -32602, "missing field `processId`");
	json_decref(resp);
	rpc_free(r);
}

static void tty_string_is_32602(void)
{
	struct rpc *r = connect_bare();
	json_t *params, *resp;

	REQUIRE(r);
	REQUIRE(rpc_handshake(r) == 0);
	params = true_params("p");
	json_object_set_new(params, "tty", json_string("yes"));
	resp = rpc_call(r, "process/start", params, T_MS);
	CHECK_ERR_WITH(resp, -32602, "invalid type: string \"yes\", expected a boolean");
	json_decref(resp);
	/* Nothing was started under that id. */
	resp = rpc_call(r, "process/read", json_pack("{s:s}", "processId", "p"), T_MS);
	CHECK_ERR(resp, -32600, "unknown process id p");
	json_decref(resp);
	rpc_free(r);
}

/* ---- the envelope ---- */

static void malformed_json_keeps_connection(void)
{
	struct rpc *r = connect_bare();
	int port;
	json_t *msg, *res;

	REQUIRE(r);
	port = local_port(r);
	REQUIRE(port > 0);
	REQUIRE(send_text(r, "not-json") == 0);
	msg = rpc_next(r, T_MS);
	CHECKF(is_parse_error(msg, port), "got %s; want {\"error\":{\"code\":-32600,\"message\":\""
	       PARSE_PREFIX "127.0.0.1:%d: <reason>\"},\"id\":-1}", js(msg), port);
	json_decref(msg);
	/* Still open and still before initialize. */
	res = rpc_result(r, "initialize", json_pack("{s:s}", "clientName", "it"), T_MS);
	CHECKF(res && is_uuid_v4(json_string_value(json_object_get(res, "sessionId"))),
	       "initialize after bad JSON: %s", js(res));
	json_decref(res);
	rpc_free(r);
}

static void non_request_values_are_32600_id_minus_1(void)
{
	static const char *const bad[] = {
		"",
		"[{\"id\":1,\"method\":\"initialize\",\"params\":{\"clientName\":\"x\"}}]",
		"[1,\"initialize\",{\"clientName\":\"x\"}]",
		"[1,2]",
		"42",
		"\"initialize\"",
		"null",
		"true",
		"{\"foo\":1}",
		"{\"id\":7}",
		"{\"id\":true,\"method\":\"initialize\",\"params\":{\"clientName\":\"x\"}}",
		"{\"id\":1.5,\"method\":\"initialize\",\"params\":{\"clientName\":\"x\"}}",
		"{\"id\":null,\"method\":\"initialize\",\"params\":{\"clientName\":\"x\"}}",
		"{\"id\":[1],\"method\":\"initialize\",\"params\":{\"clientName\":\"x\"}}",
		"{\"id\":9223372036854775808,\"method\":\"initialize\",\"params\":{\"clientName\":\"x\"}}",
		"{\"id\":8,\"method\":\"initialize\",\"params\":{\"clientName\":\"x\",\"n\":99999999999999999999}}",
		NULL
	};
	struct rpc *r = connect_bare();
	int port;
	json_t *res;

	REQUIRE(r);
	port = local_port(r);
	REQUIRE(port > 0);
	for (int i = 0; bad[i]; i++) {
		json_t *msg;

		REQUIRE(send_text(r, bad[i]) == 0);
		msg = rpc_next(r, T_MS);
		CHECKF(is_parse_error(msg, port), "sent '%s', got %s; want -32600, id -1, "
		       PARSE_PREFIX "127.0.0.1:%d: <reason>", bad[i], js(msg), port);
		json_decref(msg);
	}
	/* None of them initialized the connection; it is still open. */
	res = rpc_result(r, "initialize", json_pack("{s:s}", "clientName", "it"), T_MS);
	CHECKF(res != NULL, "initialize after the bad messages failed");
	json_decref(res);
	rpc_free(r);
}

static void ids_echoed_with_their_type(void)
{
	struct rpc *r = connect_bare();
	json_t *msg, *id;

	REQUIRE(r);
	REQUIRE(send_text(r, "{\"id\":\"abc\",\"method\":\"initialize\","
			  "\"params\":{\"clientName\":\"it\"}}") == 0);
	msg = rpc_next(r, T_MS);
	id = json_object_get(msg, "id");
	CHECKF(json_is_string(id) && strcmp(json_string_value(id), "abc") == 0 &&
	       json_object_get(msg, "result"), "got %s", js(msg));
	json_decref(msg);
	REQUIRE(send_text(r, "{\"method\":\"initialized\"}") == 0);

	/* A numeric-looking string stays a string, on an error too. */
	REQUIRE(send_text(r, "{\"id\":\"7\",\"method\":\"nope/x\"}") == 0);
	msg = rpc_next(r, T_MS);
	id = json_object_get(msg, "id");
	CHECKF(json_is_string(id) && strcmp(json_string_value(id), "7") == 0 &&
	       err_code(msg) == -32601, "got %s", js(msg));
	json_decref(msg);

	REQUIRE(send_text(r, "{\"id\":9223372036854775807,\"method\":\"process/read\","
			  "\"params\":{\"processId\":\"none\"}}") == 0);
	msg = rpc_next(r, T_MS);
	id = json_object_get(msg, "id");
	CHECKF(json_is_integer(id) && json_integer_value(id) == INT64_MAX &&
	       is_err(msg, -32600, "unknown process id none"), "got %s", js(msg));
	json_decref(msg);

	REQUIRE(send_text(r, "{\"id\":-5,\"method\":\"process/terminate\","
			  "\"params\":{\"processId\":\"none\"}}") == 0);
	msg = rpc_next(r, T_MS);
	id = json_object_get(msg, "id");
	CHECKF(json_is_integer(id) && json_integer_value(id) == -5 &&
	       json_object_get(msg, "result"), "got %s", js(msg));
	json_decref(msg);

	REQUIRE(send_text(r, "{\"id\":\"\",\"method\":\"process/terminate\","
			  "\"params\":{\"processId\":\"none\"}}") == 0);
	msg = rpc_next(r, T_MS);
	id = json_object_get(msg, "id");
	CHECKF(json_is_string(id) && !*json_string_value(id) && json_object_get(msg, "result"),
	       "got %s", js(msg));
	json_decref(msg);
	rpc_free(r);
}

static void binary_frame_is_answered_in_text(void)
{
	static const char init[] = "{\"id\":1,\"method\":\"initialize\",\"params\":{\"clientName\":\"it\"}}";
	struct rpc *r = connect_bare();
	struct wsc_msg m = { 0 };
	json_t *msg = NULL;
	int err;

	REQUIRE(r);
	REQUIRE(wsc_send_binary(rpc_wsc(r), init, strlen(init)) == 0);
	err = wsc_recv(rpc_wsc(r), &m, T_MS);
	REQUIRE(err == 0);
	CHECKF(m.kind == WSC_TEXT, "reply kind %d", (int)m.kind);
	msg = json_loadb(m.data, m.len, 0, NULL);
	CHECKF(json_integer_value(json_object_get(msg, "id")) == 1 &&
	       is_uuid_v4(json_string_value(json_object_get(json_object_get(msg, "result"),
							    "sessionId"))), "got %.300s", m.data);
	free(m.data);
	json_decref(msg);
	rpc_free(r);
}

static void ping_is_answered(void)
{
	struct rpc *r = connect_bare();
	struct wsc_msg m = { 0 };
	int err;

	REQUIRE(r);
	REQUIRE(wsc_send_ping(rpc_wsc(r), "tick", 4) == 0);
	err = wsc_recv(rpc_wsc(r), &m, T_MS);
	REQUIRE(err == 0);
	CHECKF(m.kind == WSC_PONG && m.len == 4 && memcmp(m.data, "tick", 4) == 0,
	       "kind %d len %zu", (int)m.kind, m.len);
	free(m.data);
	rpc_free(r);
}

static void jsonrpc_member_accepted_never_sent(void)
{
	struct rpc *r = connect_bare();
	bool closed = false;
	int64_t deadline;
	json_t *msg;

	REQUIRE(r);
	REQUIRE(send_text(r, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\","
			  "\"params\":{\"clientName\":\"it\"}}") == 0);
	msg = rpc_next(r, T_MS);
	CHECKF(json_integer_value(json_object_get(msg, "id")) == 1 &&
	       json_object_get(msg, "result") && no_jsonrpc(msg), "got %s", js(msg));
	json_decref(msg);
	REQUIRE(send_text(r, "{\"jsonrpc\":\"2.0\",\"method\":\"initialized\",\"params\":{}}") == 0);
	/* An error, a result and every notification of a process: none carries it. */
	REQUIRE(send_text(r, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"nope/x\"}") == 0);
	msg = rpc_next(r, T_MS);
	CHECKF(json_integer_value(json_object_get(msg, "id")) == 2 && err_code(msg) == -32601 &&
	       no_jsonrpc(msg), "got %s", js(msg));
	json_decref(msg);
	REQUIRE(send_text(r, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"process/start\",\"params\":"
			  "{\"processId\":\"p\",\"argv\":[\"sh\",\"-c\",\"echo hi\"],\"cwd\":\"/\","
			  "\"env\":{\"PATH\":\"/usr/bin:/bin\"},\"tty\":false}}") == 0);
	deadline = wsc_now_ms() + T_MS;
	while (!closed && (msg = rpc_next(r, left_ms(deadline))) != NULL) {
		const char *m = json_string_value(json_object_get(msg, "method"));

		CHECKF(no_jsonrpc(msg), "got %s", js(msg));
		closed = m && strcmp(m, "process/closed") == 0;
		json_decref(msg);
	}
	CHECKF(closed, "no process/closed within %d ms", T_MS);
	rpc_free(r);
}

static void other_notifications_are_ignored(void)
{
	struct rpc *r = connect_bare();
	json_t *msg;

	REQUIRE(r);
	REQUIRE(rpc_handshake(r) == 0);
	REQUIRE(send_text(r, "{\"method\":\"bogus/note\",\"params\":{\"x\":1}}") == 0);
	REQUIRE(send_text(r, "{\"method\":\"process/start\",\"params\":{}}") == 0);
	REQUIRE(send_text(r, "{\"id\":77,\"method\":\"process/terminate\","
			  "\"params\":{\"processId\":\"none\"}}") == 0);
	/* The first thing that comes back answers id 77. */
	msg = rpc_next(r, T_MS);
	CHECKF(json_integer_value(json_object_get(msg, "id")) == 77 &&
	       json_object_get(msg, "result"), "got %s", js(msg));
	json_decref(msg);
	rpc_free(r);
}

static void server_exits_0_on_sigterm(void)
{
	int st;

	REQUIRE(srv_started && srv.pid > 0);
	st = server_stop(&srv);
	CHECKF(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "wait status 0x%x", st);
}

static const struct tap_case cases[] = {
	{ "readyz_is_200_ok", readyz_is_200_ok },
	{ "livez_is_200", livez_is_200 },
	{ "upgrade_with_origin_is_403", upgrade_with_origin_is_403 },
	{ "unknown_path_is_404", unknown_path_is_404 },
	{ "plain_get_root_is_400", plain_get_root_is_400 },
	{ "initialize_returns_uuid_v4_session", initialize_returns_uuid_v4_session },
	{ "unknown_resume_session_is_32600", unknown_resume_session_is_32600 },
	{ "exec_before_initialize_is_32600", exec_before_initialize_is_32600 },
	{ "exec_before_initialized_is_32600", exec_before_initialized_is_32600 },
	{ "initialize_twice_is_32600", initialize_twice_is_32600 },
	{ "unknown_method_is_32601", unknown_method_is_32601 },
	{ "params_decode_wins_over_gate", params_decode_wins_over_gate },
	{ "tty_string_is_32602", tty_string_is_32602 },
	{ "malformed_json_keeps_connection", malformed_json_keeps_connection },
	{ "non_request_values_are_32600_id_minus_1", non_request_values_are_32600_id_minus_1 },
	{ "ids_echoed_with_their_type", ids_echoed_with_their_type },
	{ "binary_frame_is_answered_in_text", binary_frame_is_answered_in_text },
	{ "ping_is_answered", ping_is_answered },
	{ "jsonrpc_member_accepted_never_sent", jsonrpc_member_accepted_never_sent },
	{ "other_notifications_are_ignored", other_notifications_are_ignored },
	{ "server_exits_0_on_sigterm", server_exits_0_on_sigterm },
	{ NULL, NULL }
};

int main(int argc, char **argv)
{
	int rc;

	srv_started = server_start(&srv, (const char *[]){ "--session-ttl", "0", NULL }) == 0;
	rc = tap_main(argc, argv, cases);
	if (srv.pid > 0)
		server_stop(&srv);
	return rc;
}
