/* it_io: stdin writes and output streaming against the real ringexecd.
 *
 * Covers the four write statuses end to end (accepted, stdinClosed, unknownProcess; the
 * fourth, starting, is a unit test), writeId dedupe, closeStdin, write order, invalid
 * base64 and empty writeId, back-pressure that holds only the write concerned, 8 MiB of
 * output complete and in order (and what retention keeps of it), 50 concurrent processes
 * on one connection, and a grandchild holding stdout past the exit.
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
#define BIG_MS 30000	/* deadline of the bulk transfers */

static struct server srv;
static bool srv_started;

/* ---- helpers ---- */

#define CHECK_STATUS(resp, status) \
	CHECKF(result_eq(resp, json_pack("{s:s}", "status", status)), "got %s; want status %s", \
	       js(resp), status)

static struct rpc *open_conn(void)
{
	return srv_started ? rpc_open(srv.url) : NULL;
}

/* process/start params: cwd "/", env {"PATH":"/usr/bin:/bin"}, tty false, pipeStdin
 * as given (< 0: the member is left out). */
static json_t *start_params(const char *id, const char *const *argv, int pipe_stdin)
{
	json_t *a = json_array(), *p;

	for (size_t i = 0; argv[i]; i++)
		json_array_append_new(a, json_string(argv[i]));
	p = json_pack("{s:s, s:o, s:s, s:{s:s}, s:b}", "processId", id, "argv", a, "cwd", "/",
		      "env", "PATH", "/usr/bin:/bin", "tty", 0);
	if (pipe_stdin >= 0)
		json_object_set_new(p, "pipeStdin", json_boolean(pipe_stdin));
	return p;
}

/* Start; true when the result is exactly {"processId":id,"sandboxType":"none"}. */
static bool start_ok(struct rpc *r, json_t *params)
{
	char id[300];
	json_t *resp;
	bool ok;

	snprintf(id, sizeof(id), "%s",
		 json_string_value(json_object_get(params, "processId")) ?: "");
	resp = rpc_call(r, "process/start", params, T_MS);
	ok = result_eq(resp, json_pack("{s:s, s:s}", "processId", id, "sandboxType", "none"));
	if (!ok)
		tap_diag("start %s: %s", id, js(resp));
	json_decref(resp);
	return ok;
}

/* process/write params for len bytes; write_id NULL: no writeId. */
static json_t *write_params(const char *id, const void *bytes, size_t len, const char *write_id,
			    bool close_stdin)
{
	char *b = rpc_b64(bytes, len);
	json_t *p = json_pack("{s:s, s:s}", "processId", id, "chunk", b);

	free(b);
	if (write_id)
		json_object_set_new(p, "writeId", json_string(write_id));
	if (close_stdin)
		json_object_set_new(p, "closeStdin", json_true());
	return p;
}

static json_t *write_call(struct rpc *r, const char *id, const char *text, const char *write_id,
			  bool close_stdin)
{
	return rpc_call(r, "process/write",
			write_params(id, text, strlen(text), write_id, close_stdin), T_MS);
}

/* Output bytes gathered from process/output notifications. */
struct acc {
	char buf[4096];
	size_t len;
	int64_t last_seq;
};

/* Take process/output notifications of id into a until a holds want (or the deadline). */
static bool wait_output(struct rpc *r, const char *id, struct acc *a, const char *want,
			int timeout_ms)
{
	int64_t deadline = wsc_now_ms() + timeout_ms;

	while (!memmem(a->buf, a->len, want, strlen(want))) {
		json_t *m = rpc_wait_notification(r, "process/output", id, left_ms(deadline));
		json_t *p = json_object_get(m, "params");
		const char *c = json_string_value(json_object_get(p, "chunk"));
		size_t n = 0;
		char *bytes;

		if (!m)
			return false;
		a->last_seq = json_integer_value(json_object_get(p, "seq"));
		bytes = c ? rpc_unb64(c, &n) : NULL;
		if (bytes && a->len + n < sizeof(a->buf)) {
			memcpy(a->buf + a->len, bytes, n);
			a->len += n;
			a->buf[a->len] = '\0';
		}
		free(bytes);
		json_decref(m);
	}
	return true;
}

/* ---- write statuses ---- */

static void write_accepted_reaches_stdin(void)
{
	static const char *const argv[] = { "sh", "-c", "read l; echo got:$l", NULL };
	struct rpc *r = open_conn();
	struct rpc_output o;
	json_t *resp;

	REQUIRE(r);
	REQUIRE(start_ok(r, start_params("w", argv, 1)));
	resp = write_call(r, "w", "x\n", NULL, false);
	CHECK_STATUS(resp, "accepted");
	json_decref(resp);
	CHECK(rpc_collect_full(r, "w", &o, T_MS) == 0);
	CHECKF(strcmp(o.out, "got:x\n") == 0 && o.err_len == 0, "output \"%s\"", o.all);
	CHECKF(o.exit_code == 0, "exited %s", js(o.exited));
	rpc_output_free(&o);
	/* Closed: its stdin is gone. */
	resp = write_call(r, "w", "y\n", NULL, false);
	CHECK_STATUS(resp, "stdinClosed");
	json_decref(resp);
	rpc_free(r);
}

static void write_without_pipe_stdin_is_stdin_closed(void)
{
	static const char *const argv[] = { "sh", "-c", "cat; echo eof", NULL };
	struct rpc *r = open_conn();
	struct rpc_output o;
	json_t *resp;

	REQUIRE(r);
	REQUIRE(start_ok(r, start_params("n", argv, -1)));
	resp = write_call(r, "n", "x\n", NULL, false);
	CHECK_STATUS(resp, "stdinClosed");
	json_decref(resp);
	CHECK(rpc_collect_full(r, "n", &o, T_MS) == 0);
	CHECKF(strcmp(o.all, "eof\n") == 0, "output \"%s\"", o.all);
	CHECKF(o.exit_code == 0, "exited %s", js(o.exited));
	rpc_output_free(&o);
	rpc_free(r);
}

static void write_unknown_process(void)
{
	struct rpc *r = open_conn();
	json_t *resp;

	REQUIRE(r);
	resp = write_call(r, "ghost", "x", NULL, false);
	CHECK_STATUS(resp, "unknownProcess");
	json_decref(resp);
	resp = write_call(r, "ghost", "x", "w1", false);
	CHECK_STATUS(resp, "unknownProcess");
	json_decref(resp);
	rpc_free(r);
}

static void write_id_dedupes_repeats(void)
{
	static const char *const argv[] = { "sh", "-c", "while read l; do echo line:$l; done",
		NULL };
	struct rpc *r = open_conn();
	struct acc a = { .len = 0 };
	struct rpc_output o;
	json_t *resp;

	REQUIRE(r);
	REQUIRE(start_ok(r, start_params("d", argv, 1)));
	resp = write_call(r, "d", "first\n", "w1", false);
	CHECK_STATUS(resp, "accepted");
	json_decref(resp);
	resp = write_call(r, "d", "first\n", "w1", false);
	CHECK_STATUS(resp, "accepted");
	json_decref(resp);
	resp = write_call(r, "d", "second\n", "w2", false);
	CHECK_STATUS(resp, "accepted");
	json_decref(resp);
	CHECKF(wait_output(r, "d", &a, "line:second\n", T_MS), "output so far \"%s\"", a.buf);
	/* A late repeat of w1 is not written either; w3 is, after it. */
	resp = write_call(r, "d", "first\n", "w1", false);
	CHECK_STATUS(resp, "accepted");
	json_decref(resp);
	resp = write_call(r, "d", "third\n", "w3", false);
	CHECK_STATUS(resp, "accepted");
	json_decref(resp);
	CHECKF(wait_output(r, "d", &a, "line:third\n", T_MS), "output so far \"%s\"", a.buf);
	resp = rpc_call(r, "process/terminate", json_pack("{s:s}", "processId", "d"), T_MS);
	CHECK_RESULT(resp, json_pack("{s:b}", "running", 1));
	json_decref(resp);
	CHECK(rpc_collect_full(r, "d", &o, T_MS) == 0);
	CHECKF(strcmp(a.buf, "line:first\nline:second\nline:third\n") == 0 && o.all_len == 0,
	       "output \"%s\" then \"%s\"", a.buf, o.all);
	rpc_output_free(&o);
	rpc_free(r);
}

static void empty_write_id_is_32602(void)
{
	static const char *const argv[] = { "cat", NULL };
	struct rpc *r = open_conn();
	json_t *resp;

	REQUIRE(r);
	REQUIRE(start_ok(r, start_params("e", argv, 1)));
	resp = write_call(r, "e", "x", "", false);
	CHECK_ERR(resp, -32602, "writeId must not be empty");
	json_decref(resp);
	resp = write_call(r, "e", "", "", true);
	CHECK_ERR(resp, -32602, "writeId must not be empty");
	json_decref(resp);
	rpc_free(r);
}

static void invalid_base64_is_32602(void)
{
	static const char *const bad[] = { "not base64!", "YQ", "YQ=", "Y===", "YWJj\n", "YW Jj",
		"YWJj====", NULL };
	static const char *const argv[] = { "cat", NULL };
	struct rpc *r = open_conn();
	struct rpc_output o;
	json_t *resp;

	REQUIRE(r);
	REQUIRE(start_ok(r, start_params("b", argv, 1)));
	for (int i = 0; bad[i]; i++) {
		const char *m;

		resp = rpc_call(r, "process/write",
				json_pack("{s:s, s:s}", "processId", "b", "chunk", bad[i]), T_MS);
		m = err_msg(resp);
		CHECKF(err_code(resp) == -32602, "chunk \"%s\": %s", bad[i], js(resp));
		CHECKF(m && strstr(m, "chunk"), "chunk \"%s\": message does not name the field: %s",
		       bad[i], js(resp));
		json_decref(resp);
	}
	/* Decoding comes before the process lookup. */
	resp = rpc_call(r, "process/write",
			json_pack("{s:s, s:s}", "processId", "ghost", "chunk", "YQ"), T_MS);
	CHECKF(err_code(resp) == -32602, "unknown process, bad chunk: %s", js(resp));
	json_decref(resp);
	/* Nothing of it reached cat. */
	resp = write_call(r, "b", "ok", NULL, true);
	CHECK_STATUS(resp, "accepted");
	json_decref(resp);
	CHECK(rpc_collect_full(r, "b", &o, T_MS) == 0);
	CHECKF(strcmp(o.all, "ok") == 0 && o.exit_code == 0, "output \"%s\" exited %s", o.all,
	       js(o.exited));
	rpc_output_free(&o);
	rpc_free(r);
}

static void close_stdin_ends_input(void)
{
	static const char *const argv[] = { "sh", "-c", "cat; echo eof", NULL };
	struct rpc *r = open_conn();
	struct rpc_output o;
	json_t *resp;

	REQUIRE(r);
	REQUIRE(start_ok(r, start_params("c", argv, 1)));
	resp = write_call(r, "c", "abc", NULL, true);
	CHECK_STATUS(resp, "accepted");
	json_decref(resp);
	resp = write_call(r, "c", "def", NULL, false);
	CHECK_STATUS(resp, "stdinClosed");
	json_decref(resp);
	CHECK(rpc_collect_full(r, "c", &o, T_MS) == 0);
	CHECKF(strcmp(o.all, "abceof\n") == 0, "output \"%s\"", o.all);
	CHECKF(o.exit_code == 0, "exited %s", js(o.exited));
	rpc_output_free(&o);
	rpc_free(r);
}

static void pipelined_writes_arrive_in_order(void)
{
	enum { N = 200 };
	static const char *const argv[] = { "cat", NULL };
	struct rpc *r = open_conn();
	struct rpc_output o;
	int64_t ids[N + 1];
	char want[N * 16], line[32];
	size_t wlen = 0;
	int accepted = 0;

	REQUIRE(r);
	REQUIRE(start_ok(r, start_params("o", argv, 1)));
	for (int i = 0; i < N; i++) {
		int n = snprintf(line, sizeof(line), "line-%03d\n", i);

		memcpy(want + wlen, line, (size_t)n);
		wlen += (size_t)n;
		ids[i] = rpc_send(r, "process/write", write_params("o", line, (size_t)n, NULL, false));
	}
	ids[N] = rpc_send(r, "process/write", write_params("o", "", 0, NULL, true));
	for (int i = 0; i <= N; i++) {
		json_t *resp = ids[i] > 0 ? rpc_wait_response(r, ids[i], T_MS) : NULL;

		if (result_eq(resp, json_pack("{s:s}", "status", "accepted")))
			accepted++;
		else
			tap_diag("write %d: %s", i, js(resp));
		json_decref(resp);
	}
	CHECKF(accepted == N + 1, "%d of %d writes accepted", accepted, N + 1);
	CHECK(rpc_collect_full(r, "o", &o, T_MS) == 0);
	CHECKF(o.all_len == wlen && memcmp(o.all, want, wlen) == 0, "got %zu bytes: \"%.200s\"",
	       o.all_len, o.all);
	CHECKF(o.exit_code == 0, "exited %s", js(o.exited));
	rpc_output_free(&o);
	rpc_free(r);
}

static void back_pressure_holds_only_that_write(void)
{
	/* The child reads its stdin only once told to (SIGUSR1), so the test decides when. */
	static const char *const argv[] = { "sh", "-c",
		"trap 'go=1' USR1; echo ready; while [ -z \"$go\" ]; do sleep 0.01; done; wc -c",
		NULL };
	const size_t big = 10u << 20;	/* well over the 8 MiB queue limit, whatever the pipe takes */
	struct rpc *r = open_conn();
	int64_t a, b, c, t0, first = -1;
	struct acc ready = { .len = 0 };
	struct rpc_output o;
	char *data = malloc(big);
	json_t *resp, *resp_b = NULL, *resp_c = NULL;

	if (!r || !data) {
		free(data);
		rpc_free(r);
		REQUIRE(r && data);
	}
	memset(data, 'q', big);
	REQUIRE(start_ok(r, start_params("bp", argv, 1)));
	REQUIRE(wait_output(r, "bp", &ready, "ready\n", T_MS));
	/* 10 MiB into an empty queue: queued whole, although the child does not read. */
	a = rpc_send(r, "process/write", write_params("bp", data, big, NULL, false));
	free(data);
	resp = rpc_wait_response(r, a, BIG_MS);
	CHECK_STATUS(resp, "accepted");
	json_decref(resp);
	/* The queue holds more than 8 MiB: this one waits for the child to read ... */
	t0 = wsc_now_ms();
	b = rpc_send(r, "process/write", write_params("bp", "!", 1, NULL, false));
	/* ... and does not hold up the next request. */
	c = rpc_send(r, "process/write", write_params("ghost", "!", 1, NULL, false));
	REQUIRE(b > 0 && c > 0);
	while (!resp_c) {
		json_t *m = rpc_next(r, T_MS);
		int64_t id = json_integer_value(json_object_get(m, "id"));

		if (!m)
			break;
		if (first < 0 && (id == b || id == c))
			first = id;
		if (id == b && !resp_b)
			resp_b = m;
		else if (id == c)
			resp_c = m;
		else
			json_decref(m);
	}
	CHECKF(resp_c && wsc_now_ms() - t0 < 1000, "ghost write answered after %lld ms: %s",
	       (long long)(wsc_now_ms() - t0), js(resp_c));
	CHECK_STATUS(resp_c, "unknownProcess");
	/* Still held while the child does not read. */
	if (!resp_b)
		resp_b = rpc_wait_response(r, b, 300);
	CHECKF(first == c && !resp_b, "the write over the 8 MiB queue was not held: "
	       "answered %s (first answer: id %lld; held write id %lld)", js(resp_b),
	       (long long)first, (long long)b);
	json_decref(resp_c);
	resp = rpc_call(r, "process/signal",
			json_pack("{s:s, s:s}", "processId", "bp", "signal", "user1"), T_MS);
	CHECK_RESULT(resp, json_object());
	json_decref(resp);
	if (!resp_b)
		resp_b = rpc_wait_response(r, b, BIG_MS);
	CHECK_STATUS(resp_b, "accepted");
	json_decref(resp_b);
	resp = rpc_call(r, "process/write", write_params("bp", "", 0, NULL, true), T_MS);
	CHECK_STATUS(resp, "accepted");
	json_decref(resp);
	CHECK(rpc_collect_full(r, "bp", &o, BIG_MS) == 0);
	CHECKF(strcmp(o.out, "10485761\n") == 0, "wc -c printed \"%s\"", o.out);
	CHECKF(o.exit_code == 0, "exited %s", js(o.exited));
	rpc_output_free(&o);
	rpc_free(r);
}

/* ---- output ---- */

static void output_8mib_complete_in_order(void)
{
	static const char pattern[] = "0123456789abcdefghijklmnopqrstuvwxyz\n";
	static const char *const argv[] = { "sh", "-c",
		"yes 0123456789abcdefghijklmnopqrstuvwxyz | head -c 8388608", NULL };
	const size_t total = 8u << 20, plen = sizeof(pattern) - 1;
	char *want = malloc(total), *got = malloc(total + 65536);
	size_t glen = 0, retained = 0;
	int64_t next_seq = 1, last_out_seq = 0, deadline;
	int seq_errors = 0, oversized = 0, bad = 0, exit_code = INT_MIN;
	bool closed = false, tail_ok = true;
	struct rpc *r = open_conn();
	json_t *resp, *chunks;

	if (!r || !want || !got) {
		free(want);
		free(got);
		rpc_free(r);
		REQUIRE(r && want && got);
	}
	for (size_t i = 0; i < total; i++)
		want[i] = pattern[i % plen];
	if (!start_ok(r, start_params("big", argv, 0)))
		goto out;
	deadline = wsc_now_ms() + BIG_MS;
	while (!closed) {
		json_t *m = rpc_wait_notification(r, NULL, "big", left_ms(deadline));
		const char *method = json_string_value(json_object_get(m, "method"));
		json_t *p = json_object_get(m, "params");
		int64_t seq = json_integer_value(json_object_get(p, "seq"));

		if (!m)
			break;
		if (seq != next_seq && seq_errors++ < 5)
			tap_diag("seq %lld where %lld was due", (long long)seq, (long long)next_seq);
		next_seq = seq + 1;
		if (method && !strcmp(method, "process/output")) {
			const char *c = json_string_value(json_object_get(p, "chunk"));
			const char *st = json_string_value(json_object_get(p, "stream"));
			size_t n = 0;
			char *bytes = c ? rpc_unb64(c, &n) : NULL;

			if (!bytes || !st || strcmp(st, "stdout"))
				bad++;
			if (n > 65536)
				oversized++;
			if (bytes && glen + n <= total + 65536) {
				memcpy(got + glen, bytes, n);
				glen += n;
			}
			free(bytes);
			last_out_seq = seq;
		} else if (method && !strcmp(method, "process/exited")) {
			exit_code = (int)json_integer_value(json_object_get(p, "exitCode"));
		} else if (method && !strcmp(method, "process/closed")) {
			closed = true;
		}
		json_decref(m);
	}
	CHECKF(closed, "no process/closed within %d ms (%zu bytes so far)", BIG_MS, glen);
	CHECKF(glen == total, "%zu bytes, want %zu", glen, total);
	CHECKF(glen == total && memcmp(got, want, total) == 0, "content differs");
	CHECKF(seq_errors == 0 && bad == 0 && oversized == 0,
	       "%d seq errors, %d bad chunks, %d chunks over 64 KiB", seq_errors, bad, oversized);
	CHECKF(exit_code == 0, "exitCode %d", exit_code);

	/* What retention keeps: the newest chunks, whole, consecutive, at most 1 MiB. */
	resp = rpc_call(r, "process/read", json_pack("{s:s}", "processId", "big"), T_MS);
	chunks = json_object_get(json_object_get(resp, "result"), "chunks");
	CHECKF(json_array_size(chunks) > 0, "read: %.300s", js(resp));
	for (size_t i = json_array_size(chunks); i-- > 0;) {
		json_t *ch = json_array_get(chunks, i);
		const char *c = json_string_value(json_object_get(ch, "chunk"));
		int64_t seq = json_integer_value(json_object_get(ch, "seq"));
		size_t n = 0;
		char *bytes = c ? rpc_unb64(c, &n) : NULL;

		if (!bytes || seq != last_out_seq - (int64_t)(json_array_size(chunks) - 1 - i) ||
		    retained + n > total ||
		    memcmp(bytes, want + total - retained - n, n) != 0)
			tail_ok = false;
		retained += n;
		free(bytes);
	}
	CHECKF(tail_ok, "retained chunks are not the newest output, consecutive, ending at seq %lld",
	       (long long)last_out_seq);
	CHECKF(retained > 0 && retained <= (1u << 20), "retained %zu bytes", retained);
	json_decref(resp);
out:
	free(want);
	free(got);
	rpc_free(r);
}

static void fifty_concurrent_processes(void)
{
	enum { N = 50 };
	struct rpc *r = open_conn();
	char ids[N][8], outs[N][32];
	int64_t req[N];
	int good_starts = 0, good = 0;

	REQUIRE(r);
	for (int i = 0; i < N; i++) {
		const char *argv[] = { "sh", "-c", "printf %s \"$0\"", outs[i], NULL };

		snprintf(ids[i], sizeof(ids[i]), "c%02d", i);
		snprintf(outs[i], sizeof(outs[i]), "output-of-%02d:%.*s", i, i % 7, "xxxxxxx");
		req[i] = rpc_send(r, "process/start", start_params(ids[i], argv, 0));
	}
	for (int i = 0; i < N; i++) {
		json_t *resp = req[i] > 0 ? rpc_wait_response(r, req[i], T_MS) : NULL;

		if (result_eq(resp, json_pack("{s:s, s:s}", "processId", ids[i], "sandboxType", "none")))
			good_starts++;
		else
			tap_diag("start %s: %s", ids[i], js(resp));
		json_decref(resp);
	}
	CHECKF(good_starts == N, "%d of %d started", good_starts, N);
	for (int i = 0; i < N; i++) {
		struct rpc_output o;
		int rc = rpc_collect_full(r, ids[i], &o, T_MS);
		bool ok = rc == 0 && strcmp(o.out, outs[i]) == 0 && o.err_len == 0 &&
			  o.exit_code == 0 && o.seq_errors == 0 && o.bad_chunks == 0 &&
			  o.first_seq == 1 && o.exited_seq == (int64_t)o.chunks + 1 &&
			  o.closed_seq == o.exited_seq + 1;

		if (ok)
			good++;
		else
			tap_diag("%s: closed %d output \"%s\" exit %d seq errors %d chunks %zu "
				 "first %lld exited %lld closed %lld", ids[i], o.closed, o.all,
				 o.exit_code, o.seq_errors, o.chunks, (long long)o.first_seq,
				 (long long)o.exited_seq, (long long)o.closed_seq);
		rpc_output_free(&o);
	}
	CHECKF(good == N, "%d of %d processes as expected", good, N);
	rpc_free(r);
}

static void grandchild_keeps_stdout_open(void)
{
	static const char *const argv[] = { "sh", "-c", "(sleep 0.3; printf late) & exit 0", NULL };
	struct rpc *r = open_conn();
	json_t *got = json_array(), *want, *m;
	int64_t deadline;

	REQUIRE(r);
	REQUIRE(start_ok(r, start_params("g", argv, 0)));
	deadline = wsc_now_ms() + T_MS;
	while ((m = rpc_wait_notification(r, NULL, "g", left_ms(deadline))) != NULL) {
		bool end = !strcmp(json_string_value(json_object_get(m, "method")) ?: "",
				   "process/closed");

		json_array_append_new(got, m);
		if (end)
			break;
	}
	want = json_pack("[{s:s, s:{s:s, s:i, s:i, s:b, s:n, s:b}},"
			 " {s:s, s:{s:s, s:i, s:s, s:s}},"
			 " {s:s, s:{s:s, s:i}}]",
			 "method", "process/exited", "params", "processId", "g", "seq", 1,
			 "exitCode", 0, "sandboxDenied", 0, "signal", "timedOut", 0,
			 "method", "process/output", "params", "processId", "g", "seq", 2, "stream",
			 "stdout", "chunk", "bGF0ZQ==",
			 "method", "process/closed", "params", "processId", "g", "seq", 3);
	CHECKF(json_equal(got, want), "\n got  %s\n want %s", js(got), js(want));
	json_decref(got);
	json_decref(want);
	rpc_free(r);
}

/* --max-retained below what the processes write: history that clients
 * already have is shed, so nothing waits forever and every byte arrives. */
static void max_retained_sheds_history_not_output(void)
{
	static const char *const argv[] = { "sh", "-c", "head -c 1048576 /dev/zero | tr '\\0' a",
					    NULL };
	struct server s;
	REQUIRE(server_start(&s, (const char *[]){ "--session-ttl", "0", "--max-retained", "262144",
						   NULL }) == 0);
	struct rpc *r = rpc_open(s.url);
	if (!r) {
		server_stop(&s);
		REQUIRE(r);
	}
	const char *ids[] = { "m1", "m2", "m3" };
	for (int i = 0; i < 3; i++)
		CHECK(start_ok(r, start_params(ids[i], argv, 0)));
	for (int i = 0; i < 3; i++) {
		struct rpc_output o;
		CHECKF(rpc_collect_full(r, ids[i], &o, 20000) == 0, "%s did not close", ids[i]);
		bool all_a = o.out_len == 1048576;
		for (size_t k = 0; all_a && k < o.out_len; k++)
			all_a = o.out[k] == 'a';
		CHECKF(all_a, "%s: %zu bytes", ids[i], o.out_len);
		CHECKF(o.exit_code == 0 && o.seq_errors == 0, "%s: exit %d, %d seq errors", ids[i],
		       o.exit_code, o.seq_errors);
		rpc_output_free(&o);
	}
	rpc_free(r);
	int st = server_stop(&s);
	CHECKF(WIFEXITED(st) && WEXITSTATUS(st) == 0, "server exit status %d", st);
}

static void server_exits_0_on_sigterm(void)
{
	int st;

	REQUIRE(srv_started && srv.pid > 0);
	st = server_stop(&srv);
	CHECKF(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "wait status 0x%x", st);
}

static const struct tap_case cases[] = {
	{ "max_retained_sheds_history_not_output", max_retained_sheds_history_not_output },
	{ "write_accepted_reaches_stdin", write_accepted_reaches_stdin },
	{ "write_without_pipe_stdin_is_stdin_closed", write_without_pipe_stdin_is_stdin_closed },
	{ "write_unknown_process", write_unknown_process },
	{ "write_id_dedupes_repeats", write_id_dedupes_repeats },
	{ "empty_write_id_is_32602", empty_write_id_is_32602 },
	{ "invalid_base64_is_32602", invalid_base64_is_32602 },
	{ "close_stdin_ends_input", close_stdin_ends_input },
	{ "pipelined_writes_arrive_in_order", pipelined_writes_arrive_in_order },
	{ "back_pressure_holds_only_that_write", back_pressure_holds_only_that_write },
	{ "output_8mib_complete_in_order", output_8mib_complete_in_order },
	{ "fifty_concurrent_processes", fifty_concurrent_processes },
	{ "grandchild_keeps_stdout_open", grandchild_keeps_stdout_open },
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
