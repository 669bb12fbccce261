/* it_process: process/start and process/read against the real ringexecd.
 *
 * Covers the exact wire sequence of a pipe process (start result first, seqs, streams,
 * exited/closed, nothing after closed), process/read after close, maxBytes/nextSeq,
 * the read long-poll (wakes on output, never holds up later requests), start's checks
 * in order with their exact texts, cwd as a file:// URI (by the fs methods' rules), exit codes of signal deaths,
 * the child's exact environment, PATH search in env's PATH, arg0 and timeoutMs.
 */
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "expect.h"
#include "rpc.h"
#include "server.h"
#include "tap.h"
#include "wsc.h"

#define T_MS 5000	/* deadline of one request/response or one short process */

static struct server srv;
static bool srv_started;

/* ---- helpers ---- */

static struct rpc *open_conn(void)
{
	return srv_started ? rpc_open(srv.url) : NULL;
}

static json_t *argv_json(const char *const *argv)
{
	json_t *a = json_array();

	for (size_t i = 0; argv[i]; i++)
		json_array_append_new(a, json_string(argv[i]));
	return a;
}

/* process/start params: cwd "/", env {"PATH":"/usr/bin:/bin"}, tty false. */
static json_t *start_params(const char *id, const char *const *argv)
{
	return json_pack("{s:s, s:o, s:s, s:{s:s}, s:b}", "processId", id, "argv", argv_json(argv),
			 "cwd", "/", "env", "PATH", "/usr/bin:/bin", "tty", 0);
}

static json_t *start(struct rpc *r, json_t *params)
{
	return rpc_call(r, "process/start", params, T_MS);
}

/* The start result is exactly {"processId":id,"sandboxType":"none"}. */
static bool started(const json_t *resp, const char *id)
{
	return result_eq(resp, json_pack("{s:s, s:s}", "processId", id, "sandboxType", "none"));
}

#define CHECK_STARTED(resp, id) CHECKF(started(resp, id), "start %s: %s", id, js(resp))

/* msg is the notification method about process pid. */
static bool is_note(const json_t *msg, const char *method, const char *pid)
{
	const char *m = json_string_value(json_object_get(msg, "method"));
	const char *p = json_string_value(json_object_get(json_object_get(msg, "params"),
							  "processId"));

	return m && !json_object_get(msg, "id") && (!method || strcmp(m, method) == 0) && p &&
	       strcmp(p, pid) == 0;
}

/* Every message until process/closed of pid (included), in arrival order. */
static json_t *collect_msgs(struct rpc *r, const char *pid, int timeout_ms)
{
	int64_t deadline = wsc_now_ms() + timeout_ms;
	json_t *all = json_array(), *m;

	while ((m = rpc_next(r, left_ms(deadline))) != NULL) {
		bool end = is_note(m, "process/closed", pid);

		json_array_append_new(all, m);
		if (end)
			break;
	}
	return all;
}

/* Messages about pid that arrive within ms (each reported). */
static int strays(struct rpc *r, const char *pid, int ms)
{
	int64_t deadline = wsc_now_ms() + ms;
	int n = 0;
	json_t *m;

	while ((m = rpc_next(r, left_ms(deadline))) != NULL) {
		if (is_note(m, NULL, pid)) {
			tap_diag("after closed: %s", js(m));
			n++;
		}
		json_decref(m);
	}
	return n;
}

/* Run params to its close; o filled (free with rpc_output_free). 0 when started and closed. */
static int run(struct rpc *r, json_t *params, struct rpc_output *o)
{
	const char *id = json_string_value(json_object_get(params, "processId"));
	char idbuf[300];
	json_t *resp;
	int ok;

	snprintf(idbuf, sizeof(idbuf), "%s", id ? id : "");
	resp = start(r, params);
	ok = started(resp, idbuf);
	if (!ok)
		tap_diag("start %s: %s", idbuf, js(resp));
	json_decref(resp);
	memset(o, 0, sizeof(*o));
	if (!ok) {
		o->all = calloc(1, 1);
		o->out = calloc(1, 1);
		o->err = calloc(1, 1);
		o->exit_code = INT_MIN;
		return -1;
	}
	return rpc_collect_full(r, idbuf, o, T_MS);
}

/* process/read params; max_bytes < 0: absent. */
static json_t *read_call(struct rpc *r, const char *id, int64_t after, int64_t max_bytes,
			 int64_t wait_ms)
{
	json_t *p = json_pack("{s:s, s:I, s:I}", "processId", id, "afterSeq", (json_int_t)after,
			      "waitMs", (json_int_t)wait_ms);

	if (max_bytes >= 0)
		json_object_set_new(p, "maxBytes", json_integer(max_bytes));
	return rpc_call(r, "process/read", p, T_MS + (int)wait_ms);
}

static json_t *chunk_json(int64_t seq, const char *stream, const char *bytes)
{
	char *b = rpc_b64(bytes, strlen(bytes));
	json_t *j = json_pack("{s:I, s:s, s:s}", "seq", (json_int_t)seq, "stream", stream, "chunk",
			      b);

	free(b);
	return j;
}

/* ---- the event sequence ---- */

static const char *const out_err_7[] = { "sh", "-c",
	"printf out; sleep 0.05; printf err >&2; exit 7", NULL };

static void pipe_process_exact_event_sequence(void)
{
	struct rpc *r = open_conn();
	json_t *got, *want;
	int64_t id;

	REQUIRE(r);
	id = rpc_send(r, "process/start", start_params("p", out_err_7));
	REQUIRE(id > 0);
	got = collect_msgs(r, "p", T_MS);
	want = json_pack("[{s:I, s:{s:s, s:s}},"
			 " {s:s, s:{s:s, s:i, s:s, s:s}},"
			 " {s:s, s:{s:s, s:i, s:s, s:s}},"
			 " {s:s, s:{s:s, s:i, s:i, s:b, s:n, s:b}},"
			 " {s:s, s:{s:s, s:i}}]",
			 "id", (json_int_t)id, "result", "processId", "p", "sandboxType", "none",
			 "method", "process/output", "params", "processId", "p", "seq", 1, "stream",
			 "stdout", "chunk", "b3V0",
			 "method", "process/output", "params", "processId", "p", "seq", 2, "stream",
			 "stderr", "chunk", "ZXJy",
			 "method", "process/exited", "params", "processId", "p", "seq", 3,
			 "exitCode", 7, "sandboxDenied", 0, "signal", "timedOut", 0,
			 "method", "process/closed", "params", "processId", "p", "seq", 4);
	CHECKF(json_equal(got, want), "\n got  %s\n want %s", js(got), js(want));
	CHECK(strays(r, "p", 200) == 0);
	json_decref(got);
	json_decref(want);
	rpc_free(r);
}

static void silent_process_exited_then_closed(void)
{
	static const char *const argv[] = { "true", NULL };
	struct rpc *r = open_conn();
	json_t *got, *want;
	int64_t id;

	REQUIRE(r);
	id = rpc_send(r, "process/start", start_params("t", argv));
	REQUIRE(id > 0);
	got = collect_msgs(r, "t", T_MS);
	want = json_pack("[{s:I, s:{s:s, s:s}},"
			 " {s:s, s:{s:s, s:i, s:i, s:b, s:n, s:b}},"
			 " {s:s, s:{s:s, s:i}}]",
			 "id", (json_int_t)id, "result", "processId", "t", "sandboxType", "none",
			 "method", "process/exited", "params", "processId", "t", "seq", 1,
			 "exitCode", 0, "sandboxDenied", 0, "signal", "timedOut", 0,
			 "method", "process/closed", "params", "processId", "t", "seq", 2);
	CHECKF(json_equal(got, want), "\n got  %s\n want %s", js(got), js(want));
	CHECK(strays(r, "t", 200) == 0);
	json_decref(got);
	json_decref(want);
	rpc_free(r);
}

/* ---- process/read ---- */

static void read_after_close_returns_everything(void)
{
	struct rpc *r = open_conn();
	struct rpc_output o;
	json_t *resp;
	int64_t t0;

	REQUIRE(r);
	CHECK(run(r, start_params("p", out_err_7), &o) == 0);
	rpc_output_free(&o);

	resp = read_call(r, "p", 0, -1, 0);
	CHECK_RESULT(resp, json_pack("{s:[o,o], s:i, s:b, s:i, s:b, s:n, s:b}",
				     "chunks", chunk_json(1, "stdout", "out"),
				     chunk_json(2, "stderr", "err"), "nextSeq", 5, "exited", 1,
				     "exitCode", 7, "closed", 1, "failure", "sandboxDenied", 0));
	json_decref(resp);

	resp = read_call(r, "p", 1, -1, 0);
	CHECK_RESULT(resp, json_pack("{s:[o], s:i, s:b, s:i, s:b, s:n, s:b}",
				     "chunks", chunk_json(2, "stderr", "err"), "nextSeq", 5,
				     "exited", 1, "exitCode", 7, "closed", 1, "failure",
				     "sandboxDenied", 0));
	json_decref(resp);

	/* Past everything: returns at once (closed), whatever waitMs says. */
	t0 = wsc_now_ms();
	resp = read_call(r, "p", 4, -1, 3000);
	CHECKF(wsc_now_ms() - t0 < 1000, "took %lld ms", (long long)(wsc_now_ms() - t0));
	CHECK_RESULT(resp, json_pack("{s:[], s:i, s:b, s:i, s:b, s:n, s:b}", "chunks", "nextSeq", 5,
				     "exited", 1, "exitCode", 7, "closed", 1, "failure",
				     "sandboxDenied", 0));
	json_decref(resp);
	rpc_free(r);
}

/* read with maxBytes; checks chunks and nextSeq only. */
static bool read_is(struct rpc *r, int64_t after, int64_t max, json_t *want_chunks,
		    int64_t want_next)
{
	json_t *resp = read_call(r, "m", after, max, 0);
	json_t *res = json_object_get(resp, "result");
	bool ok = json_equal(json_object_get(res, "chunks"), want_chunks) &&
		  json_integer_value(json_object_get(res, "nextSeq")) == want_next;

	if (!ok)
		tap_diag("read afterSeq %lld maxBytes %lld: got %s; want chunks %s nextSeq %lld",
			 (long long)after, (long long)max, js(resp), js(want_chunks),
			 (long long)want_next);
	json_decref(resp);
	json_decref(want_chunks);
	return ok;
}

static void read_max_bytes_and_next_seq(void)
{
	static const char *const argv[] = { "sh", "-c",
		"for i in 1 2 3; do printf aaaa; sleep 0.05; done", NULL };
	struct rpc *r = open_conn();
	struct rpc_output o;
	json_t *one, *two, *three;

	REQUIRE(r);
	CHECK(run(r, start_params("m", argv), &o) == 0);
	CHECKF(o.chunks == 3 && o.exit_code == 0 && o.closed_seq == 5,
	       "chunks %zu exit %d closed seq %lld", o.chunks, o.exit_code,
	       (long long)o.closed_seq);
	rpc_output_free(&o);

	one = chunk_json(1, "stdout", "aaaa");
	two = chunk_json(2, "stdout", "aaaa");
	three = chunk_json(3, "stdout", "aaaa");
	/* The first eligible chunk always comes, even over maxBytes. */
	CHECK(read_is(r, 0, 0, json_pack("[O]", one), 2));
	CHECK(read_is(r, 0, 4, json_pack("[O]", one), 2));
	CHECK(read_is(r, 0, 7, json_pack("[O]", one), 2));
	CHECK(read_is(r, 0, 8, json_pack("[O,O]", one, two), 3));
	CHECK(read_is(r, 1, 4, json_pack("[O]", two), 3));
	CHECK(read_is(r, 2, 0, json_pack("[O]", three), 4));
	CHECK(read_is(r, 0, 100, json_pack("[O,O,O]", one, two, three), 4));
	/* Unlimited: nextSeq is the next unassigned seq (after exited 4, closed 5). */
	CHECK(read_is(r, 0, -1, json_pack("[O,O,O]", one, two, three), 6));
	/* Nothing left with maxBytes: the next unassigned seq. */
	CHECK(read_is(r, 3, 0, json_array(), 6));
	json_decref(one);
	json_decref(two);
	json_decref(three);
	rpc_free(r);
}

static void read_long_poll_wakes_on_output(void)
{
	static const char *const argv[] = { "sh", "-c", "sleep 0.3; printf late", NULL };
	struct rpc *r = open_conn();
	json_t *resp, *chunks, *want;
	struct rpc_output o;
	int64_t t0, dt;

	REQUIRE(r);
	resp = start(r, start_params("lp", argv));
	CHECK_STARTED(resp, "lp");
	json_decref(resp);
	t0 = wsc_now_ms();
	resp = read_call(r, "lp", 0, -1, 5000);
	dt = wsc_now_ms() - t0;
	CHECKF(dt < 2000, "read took %lld ms", (long long)dt);
	chunks = json_object_get(json_object_get(resp, "result"), "chunks");
	want = json_pack("[o]", chunk_json(1, "stdout", "late"));
	CHECKF(json_equal(chunks, want), "got %s", js(resp));
	json_decref(want);
	json_decref(resp);
	CHECK(rpc_collect_full(r, "lp", &o, T_MS) == 0);
	rpc_output_free(&o);
	rpc_free(r);
}

static void read_long_poll_does_not_block_later_requests(void)
{
	static const char *const argv[] = { "sleep", "2", NULL };
	struct rpc *r = open_conn();
	json_t *resp, *msg, *res;
	int64_t read_id, write_id, t0, dt;
	struct rpc_output o;

	REQUIRE(r);
	resp = start(r, start_params("s", argv));
	CHECK_STARTED(resp, "s");
	json_decref(resp);
	read_id = rpc_send(r, "process/read",
			   json_pack("{s:s, s:i, s:i}", "processId", "s", "afterSeq", 0, "waitMs",
				     3000));
	t0 = wsc_now_ms();
	write_id = rpc_send(r, "process/write",
			    json_pack("{s:s, s:s}", "processId", "ghost", "chunk", "eA=="));
	REQUIRE(read_id > 0 && write_id > 0);
	/* The very next message answers the write. */
	msg = rpc_next(r, 1000);
	dt = wsc_now_ms() - t0;
	CHECKF(msg && json_integer_value(json_object_get(msg, "id")) == write_id &&
	       result_eq(msg, json_pack("{s:s}", "status", "unknownProcess")),
	       "first message: %s (want the write's {\"status\":\"unknownProcess\"})", js(msg));
	CHECKF(dt < 1000, "write answered after %lld ms", (long long)dt);
	json_decref(msg);

	/* The held read returns the moment the exit is known. */
	resp = rpc_call(r, "process/terminate", json_pack("{s:s}", "processId", "s"), T_MS);
	CHECK_RESULT(resp, json_pack("{s:b}", "running", 1));
	json_decref(resp);
	resp = rpc_wait_response(r, read_id, T_MS);
	res = json_object_get(resp, "result");
	CHECKF(json_is_true(json_object_get(res, "exited")) &&
	       json_integer_value(json_object_get(res, "exitCode")) == 137 &&
	       json_array_size(json_object_get(res, "chunks")) == 0, "read: %s", js(resp));
	CHECKF(wsc_now_ms() - t0 < 2500, "read answered after %lld ms",
	       (long long)(wsc_now_ms() - t0));
	json_decref(resp);
	CHECK(rpc_collect_full(r, "s", &o, T_MS) == 0);
	rpc_output_free(&o);
	rpc_free(r);
}

static void read_unknown_process_is_32600(void)
{
	struct rpc *r = open_conn();
	json_t *resp;

	REQUIRE(r);
	resp = read_call(r, "nope", 0, -1, 0);
	CHECK_ERR(resp, -32600, "unknown process id nope");
	json_decref(resp);
	rpc_free(r);
}

/* ---- process/start checks ---- */

static void spawn_failures_are_32603_with_os_text(void)
{
	static const char *const t[] = { "true", NULL };
	static const char *const abs_missing[] = { "/nonexistent/prog", NULL };
	static const char *const bare_missing[] = { "ringexec-no-such-program", NULL };
	struct rpc *r = open_conn();
	json_t *params, *resp;

	REQUIRE(r);
	params = start_params("f", t);
	json_object_set_new(params, "cwd", json_string("/nonexistent"));
	resp = start(r, params);
	CHECK_ERR(resp, -32603, "No such file or directory (os error 2)");
	json_decref(resp);

	params = start_params("f", t);
	json_object_set_new(params, "cwd", json_string("/etc/passwd"));
	resp = start(r, params);
	CHECK_ERR(resp, -32603, "Not a directory (os error 20)");
	json_decref(resp);

	resp = start(r, start_params("f", abs_missing));
	CHECK_ERR(resp, -32603, "No such file or directory (os error 2)");
	json_decref(resp);
	resp = start(r, start_params("f", bare_missing));
	CHECK_ERR(resp, -32603, "No such file or directory (os error 2)");
	json_decref(resp);

	/* A failed spawn leaves no entry: the id is free. */
	resp = read_call(r, "f", 0, -1, 0);
	CHECK_ERR(resp, -32600, "unknown process id f");
	json_decref(resp);
	resp = start(r, start_params("f", t));
	CHECK_STARTED(resp, "f");
	json_decref(resp);
	rpc_free(r);
}

static void empty_argv_is_32602(void)
{
	static const char *const none[] = { NULL };
	struct rpc *r = open_conn();
	json_t *params, *resp;

	REQUIRE(r);
	resp = start(r, start_params("e", none));
	CHECK_ERR(resp, -32602, "argv must not be empty");
	json_decref(resp);
	/* Checked before the cwd. */
	params = start_params("e", none);
	json_object_set_new(params, "cwd", json_string("rel/dir"));
	resp = start(r, params);
	CHECK_ERR(resp, -32602, "argv must not be empty");
	json_decref(resp);
	rpc_free(r);
}

static void relative_cwd_is_32602(void)
{
	static const char *const t[] = { "true", NULL };
	struct rpc *r = open_conn();
	json_t *params, *resp;

	REQUIRE(r);
	params = start_params("c", t);
	json_object_set_new(params, "cwd", json_string("rel/dir"));
	resp = start(r, params);
	CHECK_ERR(resp, -32602, "cwd `rel/dir` is not an absolute path");
	json_decref(resp);
	rpc_free(r);
}

static void cwd_file_uri_is_used(void)
{
	static const char *const pwd[] = { "pwd", NULL };
	struct rpc *r = open_conn();
	struct rpc_output o;
	json_t *params;

	REQUIRE(r);
	params = start_params("u1", pwd);
	json_object_set_new(params, "cwd", json_string("file:///tmp"));
	CHECK(run(r, params, &o) == 0);
	CHECKF(strcmp(o.all, "/tmp\n") == 0 && o.exit_code == 0, "output \"%s\" exit %d", o.all,
	       o.exit_code);
	rpc_output_free(&o);
	/* Percent-decoded. */
	params = start_params("u2", pwd);
	json_object_set_new(params, "cwd", json_string("file:///t%6Dp"));
	CHECK(run(r, params, &o) == 0);
	CHECKF(strcmp(o.all, "/tmp\n") == 0 && o.exit_code == 0, "output \"%s\" exit %d", o.all,
	       o.exit_code);
	rpc_output_free(&o);
	rpc_free(r);
}

/* cwd follows the fs methods' file: URI rules (uri.h): the scheme and
 * localhost in any case, dot segments, query and fragment; a remote host
 * keeps cwd's own text. */
static void cwd_uri_follows_the_fs_rules(void)
{
	static const char *const pwd[] = { "pwd", NULL };
	static const char *const uris[] = { "FILE:///tmp", "file://LOCALHOST/tmp", "file://localhost/tmp",
					    "file:///tmp/./x/..", "file:///tmp?q#f", "file:/tmp" };
	struct rpc *r = open_conn();
	struct rpc_output o;
	json_t *params, *resp;

	REQUIRE(r);
	for (size_t i = 0; i < sizeof(uris) / sizeof(uris[0]); i++) {
		char id[16];
		snprintf(id, sizeof(id), "c%zu", i);
		params = start_params(id, pwd);
		json_object_set_new(params, "cwd", json_string(uris[i]));
		CHECKF(run(r, params, &o) == 0 && strcmp(o.all, "/tmp\n") == 0 && o.exit_code == 0,
		       "%s: output \"%s\" exit %d", uris[i], o.all, o.exit_code);
		rpc_output_free(&o);
	}
	params = start_params("c-host", pwd);
	json_object_set_new(params, "cwd", json_string("file://host/tmp"));
	resp = start(r, params);
	CHECK_ERR(resp, -32602,
		  "cwd URI `file://host/tmp` is not valid on this exec-server host: only local file URIs are supported");
	json_decref(resp);
	rpc_free(r);
}

static void duplicate_id_is_32600(void)
{
	static const char *const s30[] = { "sleep", "30", NULL };
	static const char *const t[] = { "true", NULL };
	struct rpc *r = open_conn();
	struct rpc_output o;
	json_t *params, *resp;

	REQUIRE(r);
	resp = start(r, start_params("p", s30));
	CHECK_STARTED(resp, "p");
	json_decref(resp);
	resp = start(r, start_params("p", t));
	CHECK_ERR(resp, -32600, "process p already exists");
	json_decref(resp);
	/* The cwd check comes before the duplicate check. */
	params = start_params("p", t);
	json_object_set_new(params, "cwd", json_string("rel/dir"));
	resp = start(r, params);
	CHECK_ERR(resp, -32602, "cwd `rel/dir` is not an absolute path");
	json_decref(resp);
	/* The first one is untouched, and stays an entry after it closes. */
	resp = rpc_call(r, "process/terminate", json_pack("{s:s}", "processId", "p"), T_MS);
	CHECK_RESULT(resp, json_pack("{s:b}", "running", 1));
	json_decref(resp);
	CHECK(rpc_collect_full(r, "p", &o, T_MS) == 0);
	CHECKF(o.exit_code == 137, "exit %d", o.exit_code);
	rpc_output_free(&o);
	resp = start(r, start_params("p", t));
	CHECK_ERR(resp, -32600, "process p already exists");
	json_decref(resp);
	rpc_free(r);
}

static void process_id_length_is_checked(void)
{
	static const char *const t[] = { "true", NULL };
	struct rpc *r = open_conn();
	char id[258];
	struct rpc_output o;
	json_t *resp;

	REQUIRE(r);
	resp = start(r, start_params("", t));
	CHECK_ERR(resp, -32602, "processId must be 1 to 256 bytes");
	json_decref(resp);
	memset(id, 'x', 257);
	id[257] = '\0';
	resp = start(r, start_params(id, t));
	CHECK_ERR(resp, -32602, "processId must be 1 to 256 bytes");
	json_decref(resp);
	id[256] = '\0';
	CHECK(run(r, start_params(id, t), &o) == 0);
	CHECK(o.exit_code == 0);
	rpc_output_free(&o);
	rpc_free(r);
}

static void managed_network_fields_only_when_off(void)
{
	static const char *const t[] = { "true", NULL };
	struct rpc *r = open_conn();
	struct rpc_output o;
	json_t *params, *resp;

	REQUIRE(r);
	params = start_params("x", t);
	/* A malformed sandbox is a decode error (it_sandbox covers the rest). */
	json_object_set_new(params, "sandbox", json_pack("{s:s}", "type", "readOnly"));
	resp = start(r, params);
	CHECK_ERR(resp, -32602, "missing field `permissions`");
	json_decref(resp);
	params = start_params("x", t);
	json_object_set_new(params, "enforceManagedNetwork", json_true());
	resp = start(r, params);
	CHECK_ERR(resp, -32602, "enforceManagedNetwork is not supported by this server");
	json_decref(resp);
	/* null / false / any metadata are fine. */
	params = start_params("x", t);
	json_object_set_new(params, "sandbox", json_null());
	json_object_set_new(params, "enforceManagedNetwork", json_false());
	json_object_set_new(params, "managedNetwork", json_null());
	json_object_set_new(params, "networkProxy", json_null());
	json_object_set_new(params, "metadata", json_pack("{s:[i,s]}", "any", 1, "thing"));
	json_object_set_new(params, "arg0", json_null());
	CHECK(run(r, params, &o) == 0);
	CHECK(o.exit_code == 0);
	rpc_output_free(&o);
	rpc_free(r);
}

/* ---- what the child sees ---- */

static void signal_death_is_128_plus_signal(void)
{
	static const char *const argv[] = { "sh", "-c", "kill -TERM $$", NULL };
	struct rpc *r = open_conn();
	struct rpc_output o;

	REQUIRE(r);
	CHECK(run(r, start_params("k", argv), &o) == 0);
	CHECKF(o.exit_code == 143, "exited %s", js(o.exited));
	CHECKF(str_is(json_object_get(o.exited, "signal"), "SIGTERM"), "exited %s", js(o.exited));
	rpc_output_free(&o);
	rpc_free(r);
}

static void env_is_exactly_what_was_sent(void)
{
	static const char *const env[] = { "env", NULL };
	struct rpc *r = open_conn();
	struct rpc_output o;
	json_t *params;

	REQUIRE(r);
	params = start_params("e1", env);
	json_object_set_new(params, "env", json_pack("{s:s, s:s}", "A", "1", "PATH", "/usr/bin:/bin"));
	CHECK(run(r, params, &o) == 0);
	CHECKF(strcmp(o.all, "A=1\nPATH=/usr/bin:/bin\n") == 0, "env printed \"%s\"", o.all);
	CHECK(o.exit_code == 0);
	rpc_output_free(&o);
	/* An empty env: nothing at all, and "env" is found in the default PATH. */
	params = start_params("e2", env);
	json_object_set_new(params, "env", json_object());
	CHECK(run(r, params, &o) == 0);
	CHECKF(o.all_len == 0 && o.exit_code == 0, "env printed \"%s\", exit %d", o.all,
	       o.exit_code);
	rpc_output_free(&o);
	rpc_free(r);
}

static void bare_name_searched_in_env_path(void)
{
	static const char script[] = "#!/bin/sh\nprintf 'tool:%s' \"$1\"\n";
	static const char *const argv[] = { "ringexec-it-tool", "x", NULL };
	char dir[] = "/tmp/ringexec-it-XXXXXX", file[64], path[128];
	struct rpc *r;
	struct rpc_output o;
	json_t *params, *resp;
	FILE *f;

	REQUIRE(mkdtemp(dir));
	snprintf(file, sizeof(file), "%s/ringexec-it-tool", dir);
	f = fopen(file, "w");
	if (f) {
		fputs(script, f);
		fclose(f);
	}
	CHECK(f && chmod(file, 0755) == 0);
	r = open_conn();
	if (r) {
		snprintf(path, sizeof(path), "/nonexistent:%s:/usr/bin:/bin", dir);
		params = start_params("w1", argv);
		json_object_set_new(params, "env", json_pack("{s:s}", "PATH", path));
		CHECK(run(r, params, &o) == 0);
		CHECKF(strcmp(o.all, "tool:x") == 0 && o.exit_code == 0, "output \"%s\" exit %d",
		       o.all, o.exit_code);
		rpc_output_free(&o);
		/* Not in env's PATH: not found, whatever the server's PATH. */
		resp = start(r, start_params("w2", argv));
		CHECK_ERR(resp, -32603, "No such file or directory (os error 2)");
		json_decref(resp);
		rpc_free(r);
	}
	unlink(file);
	rmdir(dir);
	CHECK(r != NULL);
}

static void arg0_is_the_childs_argv0(void)
{
	static const char *const argv[] = { "cat", "/proc/self/cmdline", NULL };
	static const char want1[] = "fake-cat\0/proc/self/cmdline";
	static const char want2[] = "cat\0/proc/self/cmdline";
	struct rpc *r = open_conn();
	struct rpc_output o;
	json_t *params;

	REQUIRE(r);
	params = start_params("a1", argv);
	json_object_set_new(params, "arg0", json_string("fake-cat"));
	CHECK(run(r, params, &o) == 0);
	CHECKF(o.all_len == sizeof(want1) && memcmp(o.all, want1, sizeof(want1)) == 0,
	       "cmdline (%zu bytes) \"%s\"", o.all_len, o.all);
	rpc_output_free(&o);
	CHECK(run(r, start_params("a2", argv), &o) == 0);
	CHECKF(o.all_len == sizeof(want2) && memcmp(o.all, want2, sizeof(want2)) == 0,
	       "cmdline (%zu bytes) \"%s\"", o.all_len, o.all);
	rpc_output_free(&o);
	rpc_free(r);
}

static void timeout_ms_kills_the_process(void)
{
	static const char *const argv[] = { "sleep", "30", NULL };
	struct rpc *r = open_conn();
	struct rpc_output o;
	json_t *params, *resp;
	int64_t t0;

	REQUIRE(r);
	params = start_params("to", argv);
	json_object_set_new(params, "timeoutMs", json_integer(200));
	t0 = wsc_now_ms();
	CHECK(run(r, params, &o) == 0);
	CHECKF(wsc_now_ms() - t0 < 3000, "took %lld ms", (long long)(wsc_now_ms() - t0));
	CHECKF(o.exit_code == 137 && json_is_true(json_object_get(o.exited, "timedOut")) &&
	       str_is(json_object_get(o.exited, "signal"), "SIGKILL"),
	       "exited %s", js(o.exited));
	rpc_output_free(&o);
	params = start_params("to0", argv);
	json_object_set_new(params, "timeoutMs", json_integer(0));
	resp = start(r, params);
	CHECKF(err_code(resp) == -32602, "timeoutMs 0: %s", js(resp));
	json_decref(resp);
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
	{ "pipe_process_exact_event_sequence", pipe_process_exact_event_sequence },
	{ "silent_process_exited_then_closed", silent_process_exited_then_closed },
	{ "read_after_close_returns_everything", read_after_close_returns_everything },
	{ "read_max_bytes_and_next_seq", read_max_bytes_and_next_seq },
	{ "read_long_poll_wakes_on_output", read_long_poll_wakes_on_output },
	{ "read_long_poll_does_not_block_later_requests",
	  read_long_poll_does_not_block_later_requests },
	{ "read_unknown_process_is_32600", read_unknown_process_is_32600 },
	{ "spawn_failures_are_32603_with_os_text", spawn_failures_are_32603_with_os_text },
	{ "empty_argv_is_32602", empty_argv_is_32602 },
	{ "relative_cwd_is_32602", relative_cwd_is_32602 },
	{ "cwd_file_uri_is_used", cwd_file_uri_is_used },
	{ "cwd_uri_follows_the_fs_rules", cwd_uri_follows_the_fs_rules },
	{ "duplicate_id_is_32600", duplicate_id_is_32600 },
	{ "process_id_length_is_checked", process_id_length_is_checked },
	{ "managed_network_fields_only_when_off", managed_network_fields_only_when_off },
	{ "signal_death_is_128_plus_signal", signal_death_is_128_plus_signal },
	{ "env_is_exactly_what_was_sent", env_is_exactly_what_was_sent },
	{ "bare_name_searched_in_env_path", bare_name_searched_in_env_path },
	{ "arg0_is_the_childs_argv0", arg0_is_the_childs_argv0 },
	{ "timeout_ms_kills_the_process", timeout_ms_kills_the_process },
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
