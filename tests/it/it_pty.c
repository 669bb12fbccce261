/* it_pty: PTY processes and signals against the real ringexecd.
 *
 * Covers tty:true end to end (stdin/stdout/stderr are the terminal, echo, the "pty"
 * stream, 24x80 by default, size and process/resize, closeStdin as VEOF, ^C through the
 * line discipline, signal deaths as 128+n) and process/signal (an interrupt trapped by
 * a shell, other names, unknown names and processes).
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

static struct rpc *open_conn(void)
{
	return srv_started ? rpc_open(srv.url) : NULL;
}

/* process/start params: cwd "/", env {"PATH":"/usr/bin:/bin"}. */
static json_t *start_params(const char *id, const char *const *argv, bool tty)
{
	json_t *a = json_array();

	for (size_t i = 0; argv[i]; i++)
		json_array_append_new(a, json_string(argv[i]));
	return json_pack("{s:s, s:o, s:s, s:{s:s}, s:b}", "processId", id, "argv", a, "cwd", "/",
			 "env", "PATH", "/usr/bin:/bin", "tty", tty);
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

static json_t *write_call(struct rpc *r, const char *id, const char *bytes, bool close_stdin)
{
	char *b = rpc_b64(bytes, strlen(bytes));
	json_t *p = json_pack("{s:s, s:s}", "processId", id, "chunk", b);

	free(b);
	if (close_stdin)
		json_object_set_new(p, "closeStdin", json_true());
	return rpc_call(r, "process/write", p, T_MS);
}

static json_t *signal_call(struct rpc *r, const char *id, const char *sig)
{
	return rpc_call(r, "process/signal", json_pack("{s:s, s:s}", "processId", id, "signal", sig),
			T_MS);
}

/* Output bytes gathered from process/output notifications. */
struct acc {
	char buf[65536];
	size_t len;
	int wrong_stream;	/* chunks whose stream was not the expected one */
	int64_t last_seq;
};

/* Take process/output notifications of id into a until a holds want (or the deadline).
 * true when it does. Streams other than stream are counted. */
static bool wait_output(struct rpc *r, const char *id, const char *stream, struct acc *a,
			const char *want, int timeout_ms)
{
	int64_t deadline = wsc_now_ms() + timeout_ms;

	while (!memmem(a->buf, a->len, want, strlen(want))) {
		json_t *m = rpc_wait_notification(r, "process/output", id, left_ms(deadline));
		json_t *p = json_object_get(m, "params");
		const char *st = json_string_value(json_object_get(p, "stream"));
		const char *c = json_string_value(json_object_get(p, "chunk"));
		size_t n = 0;
		char *bytes;

		if (!m)
			return false;
		if (!st || strcmp(st, stream) != 0) {
			tap_diag("unexpected stream: %s", js(m));
			a->wrong_stream++;
		}
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

/* Run params to its close; o filled (free with rpc_output_free). */
static int run(struct rpc *r, json_t *params, struct rpc_output *o)
{
	char id[300];

	snprintf(id, sizeof(id), "%s",
		 json_string_value(json_object_get(params, "processId")) ?: "");
	if (!start_ok(r, params)) {
		memset(o, 0, sizeof(*o));
		o->all = calloc(1, 1);
		o->out = calloc(1, 1);
		o->err = calloc(1, 1);
		o->exit_code = INT_MIN;
		return -1;
	}
	return rpc_collect_full(r, id, o, T_MS);
}

/* ---- PTY processes ---- */

static void pty_cat_echoes_input(void)
{
	static const char *const argv[] = { "cat", NULL };
	struct rpc *r = open_conn();
	struct acc a = { .len = 0 };
	struct rpc_output o;
	json_t *resp;

	REQUIRE(r);
	REQUIRE(start_ok(r, start_params("c", argv, true)));
	resp = write_call(r, "c", "hello\n", false);
	CHECK_RESULT(resp, json_pack("{s:s}", "status", "accepted"));
	json_decref(resp);
	/* The terminal's echo, then cat's copy; both with ONLCR. */
	CHECKF(wait_output(r, "c", "pty", &a, "hello\r\nhello\r\n", T_MS), "output so far \"%s\"",
	       a.buf);
	CHECKF(a.len == 14 && a.wrong_stream == 0, "output \"%s\"", a.buf);
	resp = rpc_call(r, "process/terminate", json_pack("{s:s}", "processId", "c"), T_MS);
	CHECK_RESULT(resp, json_pack("{s:b}", "running", 1));
	json_decref(resp);
	CHECK(rpc_collect_full(r, "c", &o, T_MS) == 0);
	CHECKF(o.exit_code == 137 && o.all_len == 0 && o.seq_errors == 0 &&
	       o.first_seq == a.last_seq + 1, "exited %s, %zu more bytes, first seq %lld",
	       js(o.exited), o.all_len, (long long)o.first_seq);
	rpc_output_free(&o);
	/* After close: the terminal is gone. */
	resp = write_call(r, "c", "more\n", false);
	CHECK_RESULT(resp, json_pack("{s:s}", "status", "stdinClosed"));
	json_decref(resp);
	rpc_free(r);
}

static void pty_close_stdin_sends_eof(void)
{
	static const char *const argv[] = { "cat", NULL };
	struct rpc *r = open_conn();
	struct rpc_output o;
	json_t *resp;

	REQUIRE(r);
	REQUIRE(start_ok(r, start_params("c", argv, true)));
	/* No trailing newline: VEOF twice, the first flushes "abc" to cat. */
	resp = write_call(r, "c", "abc", true);
	CHECK_RESULT(resp, json_pack("{s:s}", "status", "accepted"));
	json_decref(resp);
	resp = write_call(r, "c", "late", false);
	CHECK_RESULT(resp, json_pack("{s:s}", "status", "stdinClosed"));
	json_decref(resp);
	CHECK(rpc_collect_full(r, "c", &o, T_MS) == 0);
	CHECKF(strcmp(o.out, "abcabc") == 0 && o.err_len == 0, "output \"%s\"", o.all);
	CHECKF(o.exit_code == 0, "exited %s", js(o.exited));
	rpc_output_free(&o);
	rpc_free(r);
}

static void pty_is_the_terminal_24x80(void)
{
	static const char *const argv[] = { "sh", "-c",
		"test -t 0 && test -t 1 && test -t 2 && stty size", NULL };
	struct rpc *r = open_conn();
	struct rpc_output o;

	REQUIRE(r);
	CHECK(run(r, start_params("t", argv, true), &o) == 0);
	CHECKF(strcmp(o.all, "24 80\r\n") == 0, "output \"%s\"", o.all);
	CHECKF(o.err_len == 0 && o.bad_chunks == 0, "stderr chunks: \"%s\"", o.err);
	CHECKF(o.exit_code == 0, "exited %s", js(o.exited));
	rpc_output_free(&o);
	rpc_free(r);
}

static void pty_size_param(void)
{
	static const char *const argv[] = { "stty", "size", NULL };
	struct rpc *r = open_conn();
	struct rpc_output o;
	json_t *params, *resp;

	REQUIRE(r);
	params = start_params("s", argv, true);
	json_object_set_new(params, "size", json_pack("{s:i, s:i}", "rows", 40, "cols", 100));
	CHECK(run(r, params, &o) == 0);
	CHECKF(strcmp(o.all, "40 100\r\n") == 0, "output \"%s\"", o.all);
	rpc_output_free(&o);
	params = start_params("s0", argv, true);
	json_object_set_new(params, "size", json_pack("{s:i, s:i}", "rows", 0, "cols", 80));
	resp = rpc_call(r, "process/start", params, T_MS);
	CHECKF(err_code(resp) == -32602, "rows 0: %s", js(resp));
	json_decref(resp);
	params = start_params("s1", argv, true);
	json_object_set_new(params, "size", json_pack("{s:i, s:i}", "rows", 24, "cols", 1001));
	resp = rpc_call(r, "process/start", params, T_MS);
	CHECKF(err_code(resp) == -32602, "cols 1001: %s", js(resp));
	json_decref(resp);
	rpc_free(r);
}

static void pty_resize(void)
{
	static const char *const argv[] = { "sh", "-c", "read l; stty size", NULL };
	static const char *const pipe_argv[] = { "sleep", "30", NULL };
	struct rpc *r = open_conn();
	struct rpc_output o;
	json_t *resp;

	REQUIRE(r);
	REQUIRE(start_ok(r, start_params("t", argv, true)));
	resp = rpc_call(r, "process/resize",
			json_pack("{s:s, s:i, s:i}", "processId", "t", "rows", 50, "cols", 132), T_MS);
	CHECK_RESULT(resp, json_object());
	json_decref(resp);
	resp = rpc_call(r, "process/resize",
			json_pack("{s:s, s:i, s:i}", "processId", "t", "rows", 0, "cols", 132), T_MS);
	CHECKF(err_code(resp) == -32602, "rows 0: %s", js(resp));
	json_decref(resp);
	resp = write_call(r, "t", "\n", false);
	CHECK_RESULT(resp, json_pack("{s:s}", "status", "accepted"));
	json_decref(resp);
	CHECK(rpc_collect_full(r, "t", &o, T_MS) == 0);
	CHECKF(strcmp(o.all, "\r\n50 132\r\n") == 0, "output \"%s\"", o.all);
	rpc_output_free(&o);

	REQUIRE(start_ok(r, start_params("p", pipe_argv, false)));
	resp = rpc_call(r, "process/resize",
			json_pack("{s:s, s:i, s:i}", "processId", "p", "rows", 10, "cols", 10), T_MS);
	CHECK_ERR(resp, -32600, "process p is not a tty");
	json_decref(resp);
	resp = rpc_call(r, "process/resize",
			json_pack("{s:s, s:i, s:i}", "processId", "nope", "rows", 10, "cols", 10),
			T_MS);
	CHECK_ERR(resp, -32600, "unknown process id nope");
	json_decref(resp);
	rpc_free(r);
}

static void pty_ctrl_c_interrupts_foreground_group(void)
{
	static const char *const argv[] = { "sh", "-c",
		"trap 'echo int; exit 5' INT; echo ready; while :; do sleep 0.05; done", NULL };
	struct rpc *r = open_conn();
	struct acc a = { .len = 0 };
	struct rpc_output o;
	json_t *resp;

	REQUIRE(r);
	REQUIRE(start_ok(r, start_params("i", argv, true)));
	CHECKF(wait_output(r, "i", "pty", &a, "ready\r\n", T_MS), "output so far \"%s\"", a.buf);
	resp = write_call(r, "i", "\003", false);
	CHECK_RESULT(resp, json_pack("{s:s}", "status", "accepted"));
	json_decref(resp);
	CHECK(rpc_collect_full(r, "i", &o, T_MS) == 0);
	CHECKF(strstr(o.all, "int\r\n") != NULL, "output after ready \"%s\"", o.all);
	CHECKF(o.exit_code == 5, "exited %s", js(o.exited));
	rpc_output_free(&o);
	rpc_free(r);
}

static void pty_signal_death_is_128_plus_signal(void)
{
	static const char *const argv[] = { "sh", "-c", "kill -TERM $$", NULL };
	struct rpc *r = open_conn();
	struct rpc_output o;

	REQUIRE(r);
	CHECK(run(r, start_params("k", argv, true), &o) == 0);
	CHECKF(o.exit_code == 143, "exited %s", js(o.exited));
	rpc_output_free(&o);
	rpc_free(r);
}

/* ---- process/signal ---- */

static void interrupt_trapped_by_shell(void)
{
	static const char *const argv[] = { "sh", "-c",
		"trap \"echo signal:2; exit 7\" INT; echo ready; while :; do sleep 0.05; done", NULL };
	struct rpc *r = open_conn();
	struct acc a = { .len = 0 };
	struct rpc_output o;
	json_t *resp;

	REQUIRE(r);
	REQUIRE(start_ok(r, start_params("g", argv, false)));
	CHECKF(wait_output(r, "g", "stdout", &a, "ready\n", T_MS), "output so far \"%s\"", a.buf);
	CHECKF(strcmp(a.buf, "ready\n") == 0, "output \"%s\"", a.buf);
	resp = signal_call(r, "g", "interrupt");
	CHECK_RESULT(resp, json_object());
	json_decref(resp);
	CHECK(rpc_collect_full(r, "g", &o, T_MS) == 0);
	CHECKF(strcmp(o.out, "signal:2\n") == 0, "output after ready \"%s\"", o.all);
	CHECKF(o.exit_code == 7 && o.closed && o.seq_errors == 0 && o.first_seq == a.last_seq + 1,
	       "exited %s closed %d seq errors %d first seq %lld", js(o.exited), o.closed,
	       o.seq_errors, (long long)o.first_seq);
	rpc_output_free(&o);
	/* Signalling an exited process: {} and nothing else. */
	resp = signal_call(r, "g", "interrupt");
	CHECK_RESULT(resp, json_object());
	json_decref(resp);
	rpc_free(r);
}

static void other_signal_names(void)
{
	static const char *const argv[] = { "sleep", "30", NULL };
	struct rpc *r = open_conn();
	struct rpc_output o;
	json_t *resp;

	REQUIRE(r);
	REQUIRE(start_ok(r, start_params("a", argv, false)));
	resp = signal_call(r, "a", "terminate");
	CHECK_RESULT(resp, json_object());
	json_decref(resp);
	CHECK(rpc_collect_full(r, "a", &o, T_MS) == 0);
	CHECKF(o.exit_code == 143, "exited %s", js(o.exited));
	rpc_output_free(&o);

	REQUIRE(start_ok(r, start_params("b", argv, false)));
	resp = signal_call(r, "b", "kill");
	CHECK_RESULT(resp, json_object());
	json_decref(resp);
	CHECK(rpc_collect_full(r, "b", &o, T_MS) == 0);
	CHECKF(o.exit_code == 137, "exited %s", js(o.exited));
	rpc_output_free(&o);
	rpc_free(r);
}

static void unknown_signal_name_is_32602(void)
{
	static const char *const argv[] = { "sleep", "30", NULL };
	struct rpc *r = open_conn();
	json_t *resp;

	REQUIRE(r);
	REQUIRE(start_ok(r, start_params("u", argv, false)));
	resp = signal_call(r, "u", "SIGFOO");
	CHECKF(err_code(resp) == -32602, "got %s", js(resp));
	json_decref(resp);
	resp = signal_call(r, "u", "Interrupt");
	CHECKF(err_code(resp) == -32602, "got %s", js(resp));
	json_decref(resp);
	/* An unknown process is not an error. */
	resp = signal_call(r, "nope", "interrupt");
	CHECK_RESULT(resp, json_object());
	json_decref(resp);
	resp = rpc_call(r, "process/terminate", json_pack("{s:s}", "processId", "u"), T_MS);
	CHECK_RESULT(resp, json_pack("{s:b}", "running", 1));
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
	{ "pty_cat_echoes_input", pty_cat_echoes_input },
	{ "pty_close_stdin_sends_eof", pty_close_stdin_sends_eof },
	{ "pty_is_the_terminal_24x80", pty_is_the_terminal_24x80 },
	{ "pty_size_param", pty_size_param },
	{ "pty_resize", pty_resize },
	{ "pty_ctrl_c_interrupts_foreground_group", pty_ctrl_c_interrupts_foreground_group },
	{ "pty_signal_death_is_128_plus_signal", pty_signal_death_is_128_plus_signal },
	{ "interrupt_trapped_by_shell", interrupt_trapped_by_shell },
	{ "other_signal_names", other_signal_names },
	{ "unknown_signal_name_is_32602", unknown_signal_name_is_32602 },
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
