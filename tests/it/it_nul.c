/* it_nul: requests whose JSON holds \u0000 against the real ringexecd.
 *
 * Valid JSON is decoded and answered by its id, whatever string holds the
 * NUL: a string id is echoed exactly; a method name with a NUL is unknown
 * (-32601, the name shown with a visible \u0000); a processId or writeId
 * with a NUL is an id like any other (distinct from its prefix, echoed,
 * listed, deduplicated by its whole length); base64 with a NUL is -32602;
 * argv, env, cwd, arg0 and paths with a NUL cannot reach the kernel and get
 * -32602 naming the field; a NUL in an object key of the params is -32602
 * naming the object. No -32600 with id -1 for any of them.
 */
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "expect.h"
#include "rpc.h"
#include "server.h"
#include "tap.h"
#include "wsc.h"

#define T_MS 5000	/* deadline of one request/response or one short process */

static struct server srv;
static bool srv_started;

/* ---- helpers ---- */

/* j is a JSON string of exactly s[0..len), NUL bytes included. */
static bool strn_is(const json_t *j, const char *s, size_t len)
{
	return json_is_string(j) && json_string_length(j) == len &&
	       memcmp(json_string_value(j), s, len) == 0;
}

/* Send text as one message; the next message that is a response (one
 * with "result" or "error"), new reference, or NULL. Notifications that
 * arrive meanwhile stay in the client's backlog only if asked for later:
 * here they are skipped, since every case sends one request at a time. */
static json_t *raw_call(struct rpc *r, const char *text)
{
	int64_t deadline = wsc_now_ms() + T_MS;

	if (wsc_send_text(rpc_wsc(r), text, strlen(text)) != 0)
		return NULL;
	for (;;) {
		json_t *m = rpc_next(r, left_ms(deadline));
		if (!m || json_object_get(m, "result") || json_object_get(m, "error"))
			return m;
		json_decref(m);
	}
}

/* process/start params with processId id[0..len), argv {"sh","-c",script}. */
static json_t *start_params(const char *id, size_t len, const char *script)
{
	return json_pack("{s:s%, s:[s,s,s], s:s, s:{s:s}, s:b, s:b}", "processId", id, len, "argv",
			 "sh", "-c", script, "cwd", "/", "env", "PATH", "/usr/bin:/bin", "tty", 0,
			 "pipeStdin", 1);
}

/* Output of process id[0..len) until its process/closed: into out (NUL-terminated). */
static bool collect(struct rpc *r, const char *id, size_t len, char *out, size_t cap)
{
	int64_t deadline = wsc_now_ms() + T_MS;
	size_t n = 0;

	out[0] = '\0';
	for (;;) {
		json_t *m = rpc_wait_notification(r, NULL, NULL, left_ms(deadline));
		json_t *p = json_object_get(m, "params");
		const char *method = json_string_value(json_object_get(m, "method"));
		bool mine = strn_is(json_object_get(p, "processId"), id, len);
		if (!m)
			return false;
		if (mine && method && strcmp(method, "process/output") == 0) {
			size_t got;
			char *bytes = rpc_unb64(json_string_value(json_object_get(p, "chunk")), &got);
			if (bytes && n + got < cap) {
				memcpy(out + n, bytes, got);
				n += got;
				out[n] = '\0';
			}
			free(bytes);
		}
		bool closed = mine && method && strcmp(method, "process/closed") == 0;
		json_decref(m);
		if (closed)
			return true;
	}
}

static json_t *write_call(struct rpc *r, const char *pid, size_t pid_len, const char *bytes,
			  const char *wid, size_t wid_len, bool close_stdin)
{
	char *b = rpc_b64(bytes, strlen(bytes));
	json_t *p = json_pack("{s:s%, s:s}", "processId", pid, pid_len, "chunk", b);

	free(b);
	if (wid)
		json_object_set_new(p, "writeId", json_stringn(wid, wid_len));
	if (close_stdin)
		json_object_set_new(p, "closeStdin", json_true());
	return rpc_call(r, "process/write", p, T_MS);
}

static const char *status_of(const json_t *resp)
{
	return json_string_value(json_object_get(json_object_get(resp, "result"), "status"));
}

/* ---- the cases ---- */

static void string_id_with_nul_is_echoed(void)
{
	struct rpc *r = srv_started ? rpc_open(srv.url) : NULL;
	REQUIRE(r);
	json_t *m = raw_call(r, "{\"id\":\"a\\u0000b\",\"method\":\"process/list\",\"params\":{}}");
	CHECKF(strn_is(json_object_get(m, "id"), "a\0b", 3) && json_object_get(m, "result"),
	       "got %s", js(m));
	json_decref(m);
	/* An error reply carries it too. */
	m = raw_call(r, "{\"id\":\"\\u0000\",\"method\":\"process/read\",\"params\":{}}");
	CHECKF(strn_is(json_object_get(m, "id"), "\0", 1) && err_code(m) == -32602, "got %s",
	       js(m));
	json_decref(m);
	rpc_free(r);
}

static void method_with_nul_is_unknown(void)
{
	struct wsc *c;
	REQUIRE(srv_started && wsc_connect(&c, srv.url, NULL, T_MS) == 0);
	struct rpc *r = rpc_new(c);
	/* Not `initialize`, though strcmp would say so. */
	json_t *m = raw_call(r, "{\"id\":1,\"method\":\"initialize\\u0000x\","
				"\"params\":{\"clientName\":\"t\"}}");
	CHECK_ERR(m, -32601, "exec-server stub does not implement `initialize\\u0000x` yet");
	CHECK(json_integer_value(json_object_get(m, "id")) == 1);
	json_decref(m);
	REQUIRE(rpc_handshake(r) == 0);
	m = raw_call(r, "{\"id\":\"x\",\"method\":\"process/list\\u0000\"}");
	CHECK_ERR(m, -32601, "exec-server stub does not implement `process/list\\u0000` yet");
	CHECK(str_is(json_object_get(m, "id"), "x"));
	json_decref(m);
	rpc_free(r);
}

static void notification_with_nul_is_not_initialized(void)
{
	struct wsc *c;
	REQUIRE(srv_started && wsc_connect(&c, srv.url, NULL, T_MS) == 0);
	struct rpc *r = rpc_new(c);
	json_t *m = rpc_call(r, "initialize", json_pack("{s:s}", "clientName", "t"), T_MS);
	REQUIRE(json_object_get(m, "result"));
	json_decref(m);
	const char *note = "{\"method\":\"initialized\\u0000\",\"params\":{}}";
	REQUIRE(wsc_send_text(rpc_wsc(r), note, strlen(note)) == 0);
	m = rpc_call(r, "process/list", json_object(), T_MS);
	CHECK_ERR(m, -32600, "client must send initialized before using exec methods");
	json_decref(m);
	/* A notification gets no reply: nothing came before that one. */
	m = rpc_next(r, 0);
	CHECKF(!m, "unexpected %s", js(m));
	json_decref(m);
	rpc_free(r);
}

static void process_id_with_nul_is_an_id(void)
{
	struct rpc *r = srv_started ? rpc_open(srv.url) : NULL;
	REQUIRE(r);
	char out[256];
	json_t *m = rpc_call(r, "process/start", start_params("p\0q", 3, "echo nul"), T_MS);
	CHECKF(strn_is(json_object_get(json_object_get(m, "result"), "processId"), "p\0q", 3),
	       "start p\\0q: %s", js(m));
	json_decref(m);
	CHECK(collect(r, "p\0q", 3, out, sizeof(out)));
	CHECKF(strcmp(out, "nul\n") == 0, "output \"%s\"", out);

	/* Its prefix is another process, and both are listed with their whole ids. */
	m = rpc_call(r, "process/start", start_params("p", 1, "echo prefix"), T_MS);
	CHECKF(str_is(json_object_get(json_object_get(m, "result"), "processId"), "p"),
	       "start p: %s", js(m));
	json_decref(m);
	CHECK(collect(r, "p", 1, out, sizeof(out)));
	CHECKF(strcmp(out, "prefix\n") == 0, "output \"%s\"", out);
	m = rpc_call(r, "process/list", json_object(), T_MS);
	json_t *ps = json_object_get(json_object_get(m, "result"), "processes");
	int with_nul = 0, prefix = 0;
	for (size_t i = 0; i < json_array_size(ps); i++) {
		json_t *id = json_object_get(json_array_get(ps, i), "processId");
		with_nul += strn_is(id, "p\0q", 3);
		prefix += strn_is(id, "p", 1);
	}
	CHECKF(with_nul == 1 && prefix == 1, "list %s", js(m));
	json_decref(m);

	/* Taken by its whole length; errors show the NUL. */
	m = rpc_call(r, "process/start", start_params("p\0q", 3, "true"), T_MS);
	CHECK_ERR(m, -32600, "process p\\u0000q already exists");
	json_decref(m);
	m = rpc_call(r, "process/read", json_pack("{s:s%}", "processId", "p\0r", (size_t)3), T_MS);
	CHECK_ERR(m, -32600, "unknown process id p\\u0000r");
	json_decref(m);
	m = rpc_call(r, "process/read", json_pack("{s:s%}", "processId", "p\0q", (size_t)3), T_MS);
	CHECKF(json_object_get(m, "result") &&
	       json_is_true(json_object_get(json_object_get(m, "result"), "closed")), "read %s",
	       js(m));
	json_decref(m);
	rpc_free(r);
}

static void write_id_with_nul_deduplicates_by_length(void)
{
	struct rpc *r = srv_started ? rpc_open(srv.url) : NULL;
	REQUIRE(r);
	char out[256];
	json_t *m = rpc_call(r, "process/start", start_params("w\0", 2, "cat"), T_MS);
	REQUIRE(json_object_get(m, "result"));
	json_decref(m);
	static const struct {
		const char *bytes, *wid;
		size_t wid_len;
	} writes[] = {
		{ "A", "w\0a", 3 }, { "B", "w\0b", 3 }, { "C", "w\0a", 3 }, { "D", "w", 1 },
		{ "E", "w\0b", 3 },
	};
	for (size_t i = 0; i < sizeof(writes) / sizeof(writes[0]); i++) {
		m = write_call(r, "w\0", 2, writes[i].bytes, writes[i].wid, writes[i].wid_len, false);
		CHECKF(status_of(m) && strcmp(status_of(m), "accepted") == 0, "write %zu: %s", i,
		       js(m));
		json_decref(m);
	}
	m = write_call(r, "w\0", 2, "", NULL, 0, true);
	CHECKF(status_of(m) && strcmp(status_of(m), "accepted") == 0, "close: %s", js(m));
	json_decref(m);
	CHECK(collect(r, "w\0", 2, out, sizeof(out)));
	/* C and E repeat writeIds already taken: not written again. */
	CHECKF(strcmp(out, "ABD") == 0, "output \"%s\", want \"ABD\"", out);
	rpc_free(r);
}

static void chunk_with_nul_is_32602(void)
{
	struct rpc *r = srv_started ? rpc_open(srv.url) : NULL;
	REQUIRE(r);
	json_t *m = raw_call(r, "{\"id\":3,\"method\":\"process/write\",\"params\":"
				"{\"processId\":\"x\",\"chunk\":\"QQ\\u0000=\"}}");
	CHECKF(err_code(m) == -32602 && err_msg(m) && strstr(err_msg(m), "chunk") &&
	       json_integer_value(json_object_get(m, "id")) == 3, "got %s", js(m));
	json_decref(m);
	rpc_free(r);
}

static void kernel_strings_with_nul_are_32602(void)
{
	static const struct {
		const char *params;	/* process/start params, JSON text */
		const char *field;	/* named in the message */
	} cases[] = {
#define ENV "\"env\":{\"PATH\":\"/usr/bin:/bin\"}"
		{ "{\"processId\":\"n1\",\"argv\":[\"echo\",\"a\\u0000b\"],\"cwd\":\"/\"," ENV
		  ",\"tty\":false}", "`argv[1]` must not contain a NUL byte" },
		{ "{\"processId\":\"n2\",\"argv\":[\"true\"],\"cwd\":\"/tmp\\u0000/x\"," ENV
		  ",\"tty\":false}", "`cwd` must not contain a NUL byte" },
		{ "{\"processId\":\"n3\",\"argv\":[\"true\"],\"cwd\":\"/\",\"env\":{\"A\":\"1\\u00002\"},"
		  "\"tty\":false}", "`env.A` must not contain a NUL byte" },
		{ "{\"processId\":\"n4\",\"argv\":[\"true\"],\"cwd\":\"/\",\"env\":{\"A\\u0000B\":\"1\"},"
		  "\"tty\":false}", "`env` has an object key with a NUL byte" },
		{ "{\"processId\":\"n5\",\"argv\":[\"true\"],\"arg0\":\"x\\u0000\",\"cwd\":\"/\"," ENV
		  ",\"tty\":false}", "`arg0` must not contain a NUL byte" },
		{ "{\"processId\":\"n6\",\"argv\":[\"true\"],\"cwd\":\"/\"," ENV ",\"tty\":false,"
		  "\"envPolicy\":{\"inherit\":\"none\",\"ignoreDefaultExcludes\":false,\"exclude\":[],"
		  "\"includeOnly\":[\"P\\u0000\"],\"set\":{}}}", "envPolicy.includeOnly[0]" },
#undef ENV
	};
	struct rpc *r = srv_started ? rpc_open(srv.url) : NULL;
	REQUIRE(r);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char text[1024];
		snprintf(text, sizeof(text), "{\"id\":%zu,\"method\":\"process/start\",\"params\":%s}",
			 100 + i, cases[i].params);
		json_t *m = raw_call(r, text);
		CHECKF(err_code(m) == -32602 && err_msg(m) && strstr(err_msg(m), cases[i].field) &&
		       json_integer_value(json_object_get(m, "id")) == (json_int_t)(100 + i),
		       "%s: got %s; want -32602 with \"%s\"", cases[i].params, js(m), cases[i].field);
		json_decref(m);
	}
	/* Nothing of them was started. */
	json_t *m = rpc_call(r, "process/list", json_object(), T_MS);
	CHECKF(json_array_size(json_object_get(json_object_get(m, "result"), "processes")) == 0,
	       "list %s", js(m));
	json_decref(m);

	/* A path of the fs methods. */
	m = raw_call(r, "{\"id\":7,\"method\":\"fs/readFile\",\"params\":"
			"{\"path\":\"file:///etc/hostname\\u0000.x\"}}");
	CHECKF(err_code(m) == -32602 && err_msg(m) &&
	       strstr(err_msg(m), "`path` must not contain a NUL byte") &&
	       json_integer_value(json_object_get(m, "id")) == 7, "fs/readFile: got %s", js(m));
	json_decref(m);
	rpc_free(r);
}

static void envelope_key_with_nul_is_ignored(void)
{
	struct rpc *r = srv_started ? rpc_open(srv.url) : NULL;
	REQUIRE(r);
	/* An unknown member of the envelope, as any other unknown member. */
	json_t *m = raw_call(r, "{\"id\":8,\"method\":\"process/list\",\"params\":{},\"x\\u0000\":1}");
	CHECKF(json_object_get(m, "result") && json_integer_value(json_object_get(m, "id")) == 8,
	       "got %s", js(m));
	json_decref(m);
	rpc_free(r);
}

static void resume_session_id_with_nul_is_unknown(void)
{
	struct wsc *c;
	REQUIRE(srv_started && wsc_connect(&c, srv.url, NULL, T_MS) == 0);
	struct rpc *r = rpc_new(c);
	json_t *m = raw_call(r, "{\"id\":4,\"method\":\"initialize\",\"params\":"
				"{\"clientName\":\"t\\u0000\",\"resumeSessionId\":\"s\\u0000\"}}");
	CHECK_ERR(m, -32600, "unknown session id s\\u0000");
	json_decref(m);
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
	{ "string_id_with_nul_is_echoed", string_id_with_nul_is_echoed },
	{ "method_with_nul_is_unknown", method_with_nul_is_unknown },
	{ "notification_with_nul_is_not_initialized", notification_with_nul_is_not_initialized },
	{ "process_id_with_nul_is_an_id", process_id_with_nul_is_an_id },
	{ "write_id_with_nul_deduplicates_by_length", write_id_with_nul_deduplicates_by_length },
	{ "chunk_with_nul_is_32602", chunk_with_nul_is_32602 },
	{ "kernel_strings_with_nul_are_32602", kernel_strings_with_nul_are_32602 },
	{ "envelope_key_with_nul_is_ignored", envelope_key_with_nul_is_ignored },
	{ "resume_session_id_with_nul_is_unknown", resume_session_id_with_nul_is_unknown },
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
