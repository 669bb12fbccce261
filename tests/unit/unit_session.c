/* unit_session: the whole request path (conn, session, methods) on the fake
 * engine and the fake transport: no ring, no child, no socket.
 *
 * Each case sends requests as a client would, scripts what the processes
 * do (output, exits, stdin reads, a sandbox becoming ready) and what the
 * transport does (bytes written, the connection dropped), and reads back
 * every message the server queued, in order: replies, notifications and
 * their seqs, the write statuses (starting included), delivery marks,
 * back-pressure pauses and resumes, timers (timeoutMs, graceMs, waitMs,
 * retention, the session TTL), and a resume after a detach.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "b64.h"
#include "fake_engine.h"
#include "fake_io.h"
#include "proto_int.h"
#include "tap.h"

/* ---- the rig: a fake engine, the protocol on it, one fake connection ---- */

static struct fake_engine *fe;
static struct proto *pr;
static struct fake_io io;
static struct session *sess;	/* the session of the first initialize */
static json_t *m;		/* the message last read */
static int rid = 1;		/* next request id */

struct rig {
	struct fake_config fc;
	struct proto_config pc;
	enum fake_io_kind kind;
	size_t high_water;	/* the transport's, and the protocol's unless pc says */
	const char *init;	/* extra initialize params, e.g. ",\"binaryOutput\":true" */
};

static const struct proto_config rig_pc = {
	.retain_ms = 30000, .session_ttl_ms = 10000, .retain_bytes = 1 << 20,
	.max_processes = 1024, .send_high_water = 1 << 30, .max_spawn_bytes = 1 << 20,
};

static void send_raw(const char *text)
{
	conn_on_message(io.c, text, strlen(text));
}

/* Send a request with the next id; returns the id. */
static int rq(const char *method, const char *params_fmt, ...) __attribute__((format(printf, 2, 3)));
static int rq(const char *method, const char *params_fmt, ...)
{
	static char params[8192], msg[9000];
	va_list ap;
	va_start(ap, params_fmt);
	vsnprintf(params, sizeof(params), params_fmt, ap);
	va_end(ap);
	int id = rid++;
	snprintf(msg, sizeof(msg), "{\"id\":%d,\"method\":\"%s\",\"params\":%s}", id, method, params);
	send_raw(msg);
	return id;
}

/* The next message queued, or NULL. */
static json_t *next(void)
{
	json_decref(m);
	m = fio_next(&io);
	return m;
}

static const char *dump(const json_t *v)
{
	static char *last;
	free(last);
	last = v ? json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	return last ? last : "(none)";
}

/* v at a dotted path ("result.chunks.0.seq"); NULL when absent. */
static json_t *jp(const json_t *v, const char *path)
{
	char key[64];
	while (v && *path) {
		size_t n = strcspn(path, ".");
		snprintf(key, sizeof(key), "%.*s", (int)n, path);
		v = json_is_array(v) ? json_array_get(v, strtoul(key, NULL, 10)) : json_object_get(v, key);
		path += n + (path[n] == '.');
	}
	return (json_t *)v;
}

static const char *js(const json_t *v, const char *path)
{
	const char *s = json_string_value(jp(v, path));
	return s ? s : "(none)";
}

static long long ji(const json_t *v, const char *path)
{
	return json_integer_value(jp(v, path));
}

static bool is_result(const json_t *v, int id)
{
	return v && !jp(v, "method") && jp(v, "result") && ji(v, "id") == id;
}

static bool is_error(const json_t *v, int id, int code, const char *msg)
{
	return v && !jp(v, "method") && ji(v, "id") == id && ji(v, "error.code") == code &&
	       (!msg || strcmp(js(v, "error.message"), msg) == 0);
}

static bool is_note(const json_t *v, const char *method, const char *pid, long long seq)
{
	return v && strcmp(js(v, "method"), method) == 0 &&
	       strcmp(js(v, "params.processId"), pid) == 0 && ji(v, "params.seq") == seq;
}

/* The base64 string at path decodes to text. */
static bool b64_is(const json_t *v, const char *path, const char *text)
{
	const char *s = json_string_value(jp(v, path));
	char out[4096];
	long n = s ? b64_decode(out, s, strlen(s), out, sizeof(out)) : -1;
	return n == (long)strlen(text) && memcmp(out, text, (size_t)n) == 0;
}

static bool output_is(const json_t *v, const char *pid, long long seq, const char *stream,
		      const char *text)
{
	return is_note(v, "process/output", pid, seq) && strcmp(js(v, "params.stream"), stream) == 0 &&
	       b64_is(v, "params.chunk", text);
}

static bool rig_handshake(const char *init)
{
	int id = rq("initialize", "{\"clientName\":\"unit\"%s}", init ? init : "");
	send_raw("{\"method\":\"initialized\"}");
	return next() && is_result(m, id) && io.c->phase == CONN_READY;
}

static bool up(const struct rig *r)
{
	struct rig d = { .pc = rig_pc, .kind = FIO_WS };
	if (!r)
		r = &d;
	struct proto_config pc = r->pc.max_processes ? r->pc : rig_pc;
	if (r->high_water && pc.send_high_water == rig_pc.send_high_water)
		pc.send_high_water = r->high_water;
	m = NULL;
	rid = 1;
	fe = fake_engine_new(&r->fc);
	if (!fe || proto_new(&pr, &fake_engine_ops, fake_engine_handle(fe), &pc) < 0 ||
	    !fio_open(&io, pr, r->kind, r->high_water) || !rig_handshake(r->init))
		return false;
	sess = io.c->sess;
	return true;
}

static void down(void)
{
	json_decref(m);
	m = NULL;
	fio_drop(&io);
	proto_free(pr);
	pr = NULL;
	size_t never = fake_engine_free(fe);
	fe = NULL;
	CHECKF(never == 0, "%zu fake processes were never released", never);
}

#define SANDBOX \
	",\"sandbox\":{\"cwd\":\"file:///\",\"workspaceRoots\":[\"file:///\"],\"permissions\":" \
	"{\"type\":\"managed\",\"network\":\"restricted\",\"file_system\":{\"type\":\"restricted\"," \
	"\"entries\":[{\"access\":\"read\",\"path\":{\"type\":\"special\",\"value\":" \
	"{\"kind\":\"root\"}}}]}}}"

/* Send process/start for pid (pipes, pipeStdin) with extra params; the id. */
static int start(const char *pid, const char *extra)
{
	return rq("process/start",
		  "{\"processId\":\"%s\",\"argv\":[\"cmd\",\"arg\"],\"cwd\":\"/\",\"env\":{},"
		  "\"tty\":false,\"pipeStdin\":true%s}", pid, extra ? extra : "");
}

/* The fake behind pid in the rig's session, or NULL. */
static struct fake_proc *fp(const char *pid)
{
	struct sess_proc *sp = session_find(sess, pid, strlen(pid));
	return sp ? fake_proc_of(sp->proc) : NULL;
}

/* Start pid and read its result: its fake, or NULL. */
static struct fake_proc *started(const char *pid, const char *extra)
{
	int id = start(pid, extra);
	if (!next() || !is_result(m, id) || strcmp(js(m, "result.processId"), pid) != 0) {
		tap_diag("start %s: %s", pid, dump(m));
		return NULL;
	}
	return fp(pid);
}

static const char *write_status(const char *pid, const char *chunk_b64, const char *more)
{
	int id = rq("process/write", "{\"processId\":\"%s\",\"chunk\":\"%s\"%s}", pid, chunk_b64,
		    more ? more : "");
	if (!next() || !is_result(m, id))
		return "(no result)";
	return js(m, "result.status");
}

/* ---- the cases ---- */

static void test_output_exit_closed(void)
{
	REQUIRE(up(NULL));
	struct fake_proc *p = started("p1", NULL);
	REQUIRE(p);
	CHECKF(strcmp(js(m, "result.sandboxType"), "none") == 0, "%s", dump(m));
	CHECK(p->state == PROC_RUNNING && strcmp(p->argv0, "cmd") == 0 && !next());

	fake_output(p, OUTLOG_STDOUT, "hello", 5);
	fake_output(p, OUTLOG_STDERR, "oops", 4);
	fake_run(fe);
	CHECKF(next() && output_is(m, "p1", 1, "stdout", "hello"), "%s", dump(m));
	CHECKF(next() && output_is(m, "p1", 2, "stderr", "oops"), "%s", dump(m));

	/* The exit waits for the streams: nothing until both have ended. */
	fake_exit(p, 3, 0);
	fake_eof(p, OUTLOG_STDOUT);
	fake_run(fe);
	CHECK(!next());
	fake_eof(p, OUTLOG_STDERR);
	fake_run(fe);
	CHECKF(next() && is_note(m, "process/exited", "p1", 3) && ji(m, "params.exitCode") == 3 &&
	       json_is_null(jp(m, "params.signal")) && json_is_false(jp(m, "params.timedOut")) &&
	       json_is_false(jp(m, "params.sandboxDenied")), "%s", dump(m));
	CHECKF(next() && is_note(m, "process/closed", "p1", 4), "%s", dump(m));
	CHECK(!next());
	CHECK(pr->stats.output_messages == 2);
	down();
}

static void test_drain_timer(void)
{
	REQUIRE(up(NULL));
	struct fake_proc *p = started("p1", NULL);
	REQUIRE(p);
	fake_output(p, OUTLOG_STDOUT, "a", 1);
	fake_exit(p, 0, 0);
	fake_run(fe);
	CHECKF(next() && output_is(m, "p1", 1, "stdout", "a"), "%s", dump(m));
	fake_advance(fe, 49);
	CHECK(!next());
	fake_advance(fe, 1);	/* exit_drain_ms: `exited` without the streams */
	CHECKF(next() && is_note(m, "process/exited", "p1", 2), "%s", dump(m));
	/* Output after it keeps its own higher seqs; closed once the streams end. */
	fake_output(p, OUTLOG_STDERR, "late", 4);
	fake_eof_all(p);
	fake_run(fe);
	CHECKF(next() && output_is(m, "p1", 3, "stderr", "late"), "%s", dump(m));
	CHECKF(next() && is_note(m, "process/closed", "p1", 4), "%s", dump(m));
	down();
}

static void test_write_statuses(void)
{
	REQUIRE(up(NULL));
	struct fake_proc *p1 = started("p1", NULL);
	struct fake_proc *p2 = started("p2", ",\"pipeStdin\":false");
	struct fake_proc *p3 = started("p3", ",\"tty\":true");
	REQUIRE(p1 && p2 && p3);
	CHECK(strcmp(write_status("p1", "YWJj", NULL), "accepted") == 0);	/* "abc" */
	CHECK(p1->stdin_queue.len == 3 && memcmp(p1->stdin_queue.data, "abc", 3) == 0);
	CHECK(strcmp(write_status("p2", "YWJj", NULL), "stdinClosed") == 0);
	CHECK(strcmp(write_status("nope", "YWJj", NULL), "unknownProcess") == 0);

	/* closeStdin: accepted, then the pipe ends once the child read it all. */
	CHECK(strcmp(write_status("p1", "ZA==", ",\"closeStdin\":true"), "accepted") == 0);
	CHECK(strcmp(write_status("p1", "ZQ==", NULL), "stdinClosed") == 0);
	CHECK(p1->stdin_open);
	CHECK(fake_stdin_take(p1, SIZE_MAX) == 4 && !p1->stdin_open);
	CHECK(p1->stdin_read.len == 4 && memcmp(p1->stdin_read.data, "abcd", 4) == 0);

	/* On a PTY, closeStdin after a partial line queues VEOF twice. */
	CHECK(strcmp(write_status("p3", "eA==", ",\"closeStdin\":true"), "accepted") == 0);
	CHECK(p3->stdin_queue.len == 3 && memcmp(p3->stdin_queue.data, "x\x04\x04", 3) == 0);
	CHECK(strcmp(write_status("p3", "eA==", NULL), "stdinClosed") == 0);

	/* Bad base64 is -32602 naming the field; ENOMEM takes nothing. */
	int id = rq("process/write", "{\"processId\":\"p2\",\"chunk\":\"!!!!\"}");
	CHECKF(next() && is_error(m, id, -32602, NULL) && strstr(js(m, "error.message"), "`chunk`"),
	       "%s", dump(m));
	down();
}

static void test_write_id(void)
{
	REQUIRE(up(NULL));
	struct fake_proc *p = started("p1", NULL);
	REQUIRE(p);
	CHECK(strcmp(write_status("p1", "YQ==", ",\"writeId\":\"w1\""), "accepted") == 0);
	CHECK(strcmp(write_status("p1", "YQ==", ",\"writeId\":\"w1\""), "accepted") == 0);
	CHECKF(p->stdin_queue.len == 1, "a retried writeId was written again: %zu bytes",
	       p->stdin_queue.len);
	/* A write the engine could not take is -32603 and not remembered. */
	fe->fail_write = true;
	int id = rq("process/write", "{\"processId\":\"p1\",\"chunk\":\"Yg==\",\"writeId\":\"w2\"}");
	CHECKF(next() && is_error(m, id, -32603, "out of memory"), "%s", dump(m));
	CHECK(p->stdin_queue.len == 1);
	CHECK(strcmp(write_status("p1", "Yg==", ",\"writeId\":\"w2\""), "accepted") == 0);
	CHECK(p->stdin_queue.len == 2 && memcmp(p->stdin_queue.data, "ab", 2) == 0);
	down();
}

static void test_held_writes(void)
{
	struct rig r = { .fc = { .stdin_limit = 4 }, .kind = FIO_WS };
	REQUIRE(up(&r));
	struct fake_proc *p = started("p1", NULL);
	REQUIRE(p);
	CHECK(strcmp(write_status("p1", "YWJjZA==", NULL), "accepted") == 0);	/* full now */
	int a = rq("process/write", "{\"processId\":\"p1\",\"chunk\":\"ZWY=\"}");	/* "ef" */
	int b = rq("process/write", "{\"processId\":\"p1\",\"chunk\":\"Zw==\"}");	/* "g" */
	CHECK(!next());		/* both held, in order */
	CHECK(io.c->held_bytes == 3);
	/* Room for one: "ef" goes (and fills it again), "g" still waits. */
	CHECK(fake_stdin_take(p, 2) == 2);
	CHECKF(next() && is_result(m, a) && strcmp(js(m, "result.status"), "accepted") == 0, "%s",
	       dump(m));
	CHECK(!next());
	CHECK(fake_stdin_take(p, SIZE_MAX) == 4);
	CHECKF(next() && is_result(m, b) && strcmp(js(m, "result.status"), "accepted") == 0, "%s",
	       dump(m));
	CHECK(p->stdin_read.len == 6 && memcmp(p->stdin_read.data, "abcdef", 6) == 0);
	/* A write held when the process closes is answered stdinClosed. */
	CHECK(strcmp(write_status("p1", "YWJjZA==", NULL), "accepted") == 0);
	int c = rq("process/write", "{\"processId\":\"p1\",\"chunk\":\"eA==\"}");
	CHECK(!next());
	fake_exit(p, 0, 0);
	fake_eof_all(p);
	fake_run(fe);
	/* proc.c's order: `exited`, then stdin ends (the held write answers),
	 * then `closed`. */
	CHECK(next() && is_note(m, "process/exited", "p1", 1));
	CHECKF(next() && is_result(m, c) && strcmp(js(m, "result.status"), "stdinClosed") == 0,
	       "%s", dump(m));
	CHECK(next() && is_note(m, "process/closed", "p1", 2));
	CHECK(io.c->held_bytes == 0);
	down();
}

static void test_starting(void)
{
	REQUIRE(up(NULL));
	fake_sandbox_wait(fe);
	int id = start("sb", SANDBOX);
	CHECKF(!next(), "a deferred start answered early: %s", dump(m));
	struct fake_proc *p = fp("sb");
	REQUIRE(p && p->waiting && p->state == PROC_STARTING);
	CHECK(strcmp(write_status("sb", "YQ==", NULL), "starting") == 0);
	int r = rq("process/read", "{\"processId\":\"sb\"}");
	CHECKF(next() && is_error(m, r, -32600, "process id sb is starting"), "%s", dump(m));
	int l = rq("process/list", "{}");
	CHECKF(next() && is_result(m, l) && strcmp(js(m, "result.processes.0.state"), "starting") == 0,
	       "%s", dump(m));
	fake_sandbox_ready(fe, 0);
	CHECKF(next() && is_result(m, id) && strcmp(js(m, "result.sandboxType"), "linuxSeccomp") == 0,
	       "%s", dump(m));
	CHECK(p->state == PROC_RUNNING && p->sandboxed);
	CHECK(strcmp(write_status("sb", "YQ==", NULL), "accepted") == 0);

	/* Terminated while starting: running, killed the moment it spawns,
	 * and its start still answers. */
	fake_sandbox_wait(fe);
	int id2 = start("sb2", SANDBOX);
	struct fake_proc *p2 = fp("sb2");
	REQUIRE(p2);
	int t = rq("process/terminate", "{\"processId\":\"sb2\"}");
	CHECKF(next() && is_result(m, t) && json_is_true(jp(m, "result.running")), "%s", dump(m));
	CHECK(p2->signals[SIGKILL] == 0);
	fake_sandbox_ready(fe, 0);
	CHECK(p2->signals[SIGKILL] == 1);
	CHECKF(next() && is_result(m, id2), "%s", dump(m));

	/* A sandbox that cannot be had: -32603, and the id is free again. */
	fake_sandbox_wait(fe);
	int id3 = start("sb3", SANDBOX);
	fake_sandbox_ready(fe, -ENOSYS);
	CHECKF(next() && is_error(m, id3, -32603, "sandbox intent cannot be enforced on this executor"),
	       "%s", dump(m));
	CHECK(!fp("sb3"));
	fake_run(fe);
	CHECK(started("sb3", SANDBOX) != NULL);
	down();
}

static void test_starting_after_drop(void)
{
	/* The start's answer goes only to the connection that asked. */
	REQUIRE(up(NULL));
	fake_sandbox_wait(fe);
	start("sb", SANDBOX);
	char resume[128];
	snprintf(resume, sizeof(resume), ",\"resumeSessionId\":\"%s\"", sess->id);
	fio_drop(&io);
	REQUIRE(fio_open(&io, pr, FIO_WS, 0) && rig_handshake(resume));
	fake_sandbox_ready(fe, 0);
	CHECKF(!next(), "the start was answered on another connection: %s", dump(m));
	CHECK(fp("sb") && fp("sb")->state == PROC_RUNNING);
	down();
}

static void test_sandbox_unavailable(void)
{
	struct rig r = { .fc = { .no_sandbox = true }, .kind = FIO_WS };
	REQUIRE(up(&r));
	int id = start("sb", SANDBOX);
	CHECKF(next() && is_error(m, id, -32603, "sandbox intent cannot be enforced on this executor"),
	       "%s", dump(m));
	CHECK(fe->made == 0);
	down();
}

static void test_spawn_fails(void)
{
	REQUIRE(up(NULL));
	fe->fail_start = -ENOENT;
	int id = start("p1", NULL);
	CHECKF(next() && is_error(m, id, -32603, "No such file or directory (os error 2)"), "%s",
	       dump(m));
	CHECK(!fp("p1") && fe->live == 0 && sess->open_procs == 0);
	fe->fail_new = true;
	id = start("p1", NULL);
	CHECKF(next() && is_error(m, id, -32603, "Cannot allocate memory (os error 12)"), "%s",
	       dump(m));
	CHECK(started("p1", NULL) != NULL);
	down();
}

static void test_seq_order_and_read(void)
{
	REQUIRE(up(NULL));
	struct fake_proc *p = started("p1", NULL);
	REQUIRE(p);
	const char *text[] = { "one", "two", "three", "four", "five" };
	for (int i = 0; i < 5; i++)
		fake_output(p, i % 2 ? OUTLOG_STDERR : OUTLOG_STDOUT, text[i], strlen(text[i]));
	fake_run(fe);
	for (int i = 0; i < 5; i++)
		CHECKF(next() && output_is(m, "p1", i + 1, i % 2 ? "stderr" : "stdout", text[i]),
		       "%d: %s", i, dump(m));
	int id = rq("process/read", "{\"processId\":\"p1\",\"afterSeq\":0}");
	REQUIRE(next() && is_result(m, id));
	CHECK(json_array_size(jp(m, "result.chunks")) == 5 && ji(m, "result.nextSeq") == 6);
	for (int i = 0; i < 5; i++) {
		char path[64];
		snprintf(path, sizeof(path), "result.chunks.%d.seq", i);
		CHECK(ji(m, path) == i + 1);
	}
	CHECK(b64_is(m, "result.chunks.2.chunk", "three") &&
	      strcmp(js(m, "result.chunks.1.stream"), "stderr") == 0);
	CHECK(json_is_false(jp(m, "result.exited")) && json_is_null(jp(m, "result.exitCode")) &&
	      json_is_false(jp(m, "result.closed")));
	id = rq("process/read", "{\"processId\":\"p1\",\"afterSeq\":3}");
	CHECKF(next() && is_result(m, id) && json_array_size(jp(m, "result.chunks")) == 2 &&
	       ji(m, "result.chunks.0.seq") == 4, "%s", dump(m));
	/* maxBytes: at least one chunk, and nextSeq right after the last one given. */
	id = rq("process/read", "{\"processId\":\"p1\",\"afterSeq\":0,\"maxBytes\":1}");
	CHECKF(next() && is_result(m, id) && json_array_size(jp(m, "result.chunks")) == 1 &&
	       ji(m, "result.nextSeq") == 2, "%s", dump(m));
	id = rq("process/read", "{\"processId\":\"p1\",\"afterSeq\":0,\"maxBytes\":6}");
	CHECKF(next() && is_result(m, id) && json_array_size(jp(m, "result.chunks")) == 2 &&
	       ji(m, "result.nextSeq") == 3, "%s", dump(m));
	fake_exit(p, 7, 0);
	fake_eof_all(p);
	fake_run(fe);
	CHECK(next() && is_note(m, "process/exited", "p1", 6));
	CHECK(next() && is_note(m, "process/closed", "p1", 7));
	id = rq("process/read", "{\"processId\":\"p1\",\"afterSeq\":5}");
	CHECKF(next() && is_result(m, id) && json_array_size(jp(m, "result.chunks")) == 0 &&
	       ji(m, "result.nextSeq") == 8 && json_is_true(jp(m, "result.exited")) &&
	       ji(m, "result.exitCode") == 7 && json_is_true(jp(m, "result.closed")), "%s", dump(m));
	down();
}

static void test_long_poll(void)
{
	REQUIRE(up(NULL));
	struct fake_proc *p = started("p1", NULL);
	REQUIRE(p);
	int a = rq("process/read", "{\"processId\":\"p1\",\"afterSeq\":0,\"waitMs\":1000}");
	CHECK(!next());
	/* A waiting read never holds up the requests after it. */
	CHECK(strcmp(write_status("p1", "YQ==", NULL), "accepted") == 0);
	fake_output(p, OUTLOG_STDOUT, "x", 1);
	fake_run(fe);
	CHECKF(next() && output_is(m, "p1", 1, "stdout", "x"), "%s", dump(m));
	CHECKF(next() && is_result(m, a) && b64_is(m, "result.chunks.0.chunk", "x"), "%s", dump(m));
	/* Its time runs out: an empty result. */
	int b = rq("process/read", "{\"processId\":\"p1\",\"afterSeq\":1,\"waitMs\":100}");
	fake_advance(fe, 99);
	CHECK(!next());
	fake_advance(fe, 1);
	CHECKF(next() && is_result(m, b) && json_array_size(jp(m, "result.chunks")) == 0 &&
	       ji(m, "result.nextSeq") == 2 && json_is_false(jp(m, "result.exited")), "%s", dump(m));
	/* The exit wakes one too. */
	int c = rq("process/read", "{\"processId\":\"p1\",\"afterSeq\":1,\"waitMs\":100000}");
	fake_exit(p, 0, 0);
	fake_eof_all(p);
	fake_run(fe);
	CHECK(next() && is_note(m, "process/exited", "p1", 2));
	CHECKF(next() && is_result(m, c) && json_is_true(jp(m, "result.exited")), "%s", dump(m));
	CHECK(next() && is_note(m, "process/closed", "p1", 3));
	/* A read still waiting when the connection goes is dropped with it. */
	struct fake_proc *q = started("p2", NULL);
	REQUIRE(q);
	rq("process/read", "{\"processId\":\"p2\",\"waitMs\":100000}");
	CHECK(!dlist_empty(&io.c->waiters));
	down();
}

static void test_delivery_marks(void)
{
	struct rig r = { .fc = { .retain_chunks = 2 }, .kind = FIO_WS };
	REQUIRE(up(&r));
	fio_flush(&io);
	struct fake_proc *p = started("p1", NULL);
	REQUIRE(p);
	fio_flush(&io);
	for (int i = 0; i < 5; i++)
		fake_output(p, OUTLOG_STDOUT, "abc", 3);
	fake_run(fe);
	/* Queued is not delivered: nothing may be dropped, caps or not. */
	CHECK(p->log.delivered == 0 && outlog_count(&p->log) == 5);
	REQUIRE(io.n >= 5);
	size_t end1 = io.msgs[io.n - 5].off + io.msgs[io.n - 5].len;
	fio_write(&io, end1 - io.sent - 1);
	CHECKF(p->log.delivered == 0, "delivered %llu before its last byte was written",
	       (unsigned long long)p->log.delivered);
	fio_write(&io, 1);
	CHECK(p->log.delivered == 1);
	fio_flush(&io);
	CHECK(p->log.delivered == 5 && outlog_count(&p->log) == 2);
	CHECK(p->log.dropped == 3);
	down();
}

static void test_backpressure(void)
{
	struct rig r = { .kind = FIO_WS, .high_water = 200 };
	REQUIRE(up(&r));
	fio_flush(&io);
	struct fake_proc *p = started("p1", NULL);
	REQUIRE(p);
	fio_flush(&io);
	char big[300];
	memset(big, 'x', sizeof(big));
	fake_output(p, OUTLOG_STDOUT, big, sizeof(big));
	fake_output(p, OUTLOG_STDOUT, "second", 6);
	fake_run(fe);
	/* Above the mark: output reads pause (the second chunk stays in the
	 * pipe); the connection's own requests stop being read after the next
	 * one is answered. */
	CHECK(fio_queued(&io) > 200 && p->paused && p->pipe != NULL);
	CHECK(pr->stats.pauses_send_queue == 1 && !io.recv_paused);
	CHECK(next() && is_note(m, "process/output", "p1", 1) && !next());
	uint64_t request_pauses = pr->stats.request_pauses;
	int id = rq("environment/status", "{}");
	CHECKF(next() && is_result(m, id) && io.recv_paused &&
	       pr->stats.request_pauses == request_pauses + 1, "%s", dump(m));
	/* Still above: still paused. */
	fio_write(&io, fio_queued(&io) - 201);
	fake_run(fe);
	CHECK(p->paused && !next());
	/* Below half the mark it reads again (PROTOCOL §6), not before; and
	 * requests are read again once the transport says drained (half). */
	size_t resumed_at = 0;
	while (fio_queued(&io) > 0 && !resumed_at) {
		fio_write(&io, 1);
		if (!p->paused)
			resumed_at = fio_queued(&io);
	}
	CHECK(!p->paused);
	CHECKF(resumed_at <= 100, "paused above 200 queued bytes, resumed at %zu, not below half",
	       resumed_at);
	fio_write(&io, fio_queued(&io) - 100);
	CHECK(!io.recv_paused);
	fio_flush(&io);
	fake_run(fe);
	CHECKF(next() && output_is(m, "p1", 2, "stdout", "second"), "%s", dump(m));
	CHECK(pr->stats.pauses_send_queue == 1);
	down();
}

static void test_resume_after_detach(void)
{
	REQUIRE(up(NULL));
	struct fake_proc *p = started("p1", NULL);
	REQUIRE(p);
	fio_flush(&io);
	fake_output(p, OUTLOG_STDOUT, "a", 1);
	fake_run(fe);
	fio_flush(&io);
	CHECK(p->log.delivered == 1);
	fake_output(p, OUTLOG_STDOUT, "b", 1);	/* queued, never written */
	fake_run(fe);
	char resume[128];
	snprintf(resume, sizeof(resume), ",\"resumeSessionId\":\"%s\"", sess->id);
	fio_drop(&io);
	CHECK(p->log.delivered == 1 && fe->live == 1 && pr->sessions.count == 1);
	fake_output(p, OUTLOG_STDOUT, "c", 1);	/* detached: kept, not sent */
	fake_run(fe);

	/* The resumed connection: the backlog by process/read, then notifications. */
	REQUIRE(fio_open(&io, pr, FIO_WS, 0) && rig_handshake(resume));
	CHECK(strcmp(js(m, "result.sessionId"), sess->id) == 0 && io.c->sess == sess);
	CHECK(pr->stats.sessions_resumed == 1);
	int id = rq("process/read", "{\"processId\":\"p1\",\"afterSeq\":1}");
	CHECKF(next() && is_result(m, id) && json_array_size(jp(m, "result.chunks")) == 2 &&
	       b64_is(m, "result.chunks.0.chunk", "b") && b64_is(m, "result.chunks.1.chunk", "c"),
	       "%s", dump(m));
	/* Output before the backlog's result is written is told at once but
	 * pauses the reads, and the delivered mark stays behind the backlog. */
	fake_output(p, OUTLOG_STDOUT, "d", 1);
	fake_output(p, OUTLOG_STDOUT, "e", 1);
	fake_run(fe);
	CHECKF(next() && output_is(m, "p1", 4, "stdout", "d"), "%s", dump(m));
	CHECK(!next() && p->paused);
	size_t read_end = io.msgs[io.n - 2].off + io.msgs[io.n - 2].len;
	fio_write(&io, read_end - io.sent);	/* the result, not the notification */
	CHECK(p->log.delivered == 3);
	fio_flush(&io);
	CHECK(p->log.delivered == 4 && !p->paused);
	fake_run(fe);
	CHECKF(next() && output_is(m, "p1", 5, "stdout", "e"), "%s", dump(m));
	/* A second client cannot take an attached session. */
	struct fake_io other;
	REQUIRE(fio_open(&other, pr, FIO_WS, 0));
	char msg[256];
	snprintf(msg, sizeof(msg),
		 "{\"id\":9,\"method\":\"initialize\",\"params\":{\"clientName\":\"u\"%s}}", resume);
	conn_on_message(other.c, msg, strlen(msg));
	json_t *e = fio_next(&other);
	CHECKF(is_error(e, 9, -32010, NULL), "%s", dump(e));
	json_decref(e);
	fio_drop(&other);
	down();
}

static void test_detached_retention(void)
{
	struct rig r = { .pc = rig_pc, .kind = FIO_WS };
	r.pc.retain_bytes = 10;
	REQUIRE(up(&r));
	struct fake_proc *p = started("p1", NULL);
	REQUIRE(p);
	char resume[128];
	snprintf(resume, sizeof(resume), ",\"resumeSessionId\":\"%s\"", sess->id);
	fio_drop(&io);
	fake_output(p, OUTLOG_STDOUT, "0123456789", 10);
	fake_output(p, OUTLOG_STDOUT, "more", 4);
	fake_run(fe);
	/* Its retention is full of undelivered output: reads pause, nothing lost. */
	CHECK(p->paused && p->pipe && pr->stats.pauses_detached == 1 && outlog_count(&p->log) == 1);
	REQUIRE(fio_open(&io, pr, FIO_WS, 0) && rig_handshake(resume));
	fake_run(fe);
	CHECK(p->paused && !next());	/* until the backlog is read */
	int id = rq("process/read", "{\"processId\":\"p1\"}");
	CHECKF(next() && is_result(m, id) && b64_is(m, "result.chunks.0.chunk", "0123456789"),
	       "%s", dump(m));
	fio_flush(&io);
	CHECK(!p->paused && p->log.delivered == 1);
	fake_run(fe);
	CHECKF(next() && output_is(m, "p1", 2, "stdout", "more"), "%s", dump(m));
	down();
}

static void test_ttl(void)
{
	struct rig r = { .pc = rig_pc, .kind = FIO_WS };
	r.pc.session_ttl_ms = 1000;
	REQUIRE(up(&r));
	REQUIRE(started("p1", NULL));
	char resume[128];
	snprintf(resume, sizeof(resume), ",\"resumeSessionId\":\"%s\"", sess->id);
	fio_drop(&io);
	fake_advance(fe, 999);
	CHECK(fe->live == 1 && pr->sessions.count == 1);
	fake_advance(fe, 1);
	CHECK(fe->live == 0 && fe->release_kills == 1 && pr->sessions.count == 0);
	CHECK(pr->stats.sessions_expired == 1);
	REQUIRE(fio_open(&io, pr, FIO_WS, 0));
	int id = rq("initialize", "{\"clientName\":\"u\"%s}", resume);
	CHECKF(next() && is_error(m, id, -32600, NULL) &&
	       strncmp(js(m, "error.message"), "unknown session id ", 19) == 0, "%s", dump(m));
	down();

	/* TTL 0: a dropped connection's processes are killed at once. */
	r.pc.session_ttl_ms = 0;
	REQUIRE(up(&r));
	REQUIRE(started("p1", NULL));
	fio_drop(&io);
	CHECK(fe->live == 0 && fe->release_kills == 1 && pr->sessions.count == 0);
	down();
}

static void test_timeout(void)
{
	REQUIRE(up(NULL));
	struct fake_proc *p = started("p1", ",\"timeoutMs\":100");
	REQUIRE(p);
	fake_advance(fe, 99);
	CHECK(p->signals[SIGKILL] == 0);
	fake_advance(fe, 1);
	CHECK(p->signals[SIGKILL] == 1);
	fake_exit(p, 137, SIGKILL);
	fake_eof_all(p);
	fake_run(fe);
	CHECKF(next() && is_note(m, "process/exited", "p1", 1) && ji(m, "params.exitCode") == 137 &&
	       strcmp(js(m, "params.signal"), "SIGKILL") == 0 &&
	       json_is_true(jp(m, "params.timedOut")), "%s", dump(m));
	CHECK(next() && is_note(m, "process/closed", "p1", 2));
	/* An exit before the timeout cancels it. */
	struct fake_proc *q = started("p2", ",\"timeoutMs\":100");
	REQUIRE(q);
	fake_exit(q, 0, 0);
	fake_advance(fe, 1000);
	CHECK(q->signals[SIGKILL] == 0);
	down();
}

static void test_terminate(void)
{
	REQUIRE(up(NULL));
	struct fake_proc *p = started("p1", NULL);
	REQUIRE(p);
	int id = rq("process/terminate", "{\"processId\":\"p1\",\"graceMs\":500}");
	CHECKF(next() && is_result(m, id) && json_is_true(jp(m, "result.running")), "%s", dump(m));
	CHECK(p->signals[SIGTERM] == 1 && p->signals[SIGCONT] == 1 && p->signals[SIGKILL] == 0);
	fake_advance(fe, 499);
	CHECK(p->signals[SIGKILL] == 0);
	fake_advance(fe, 1);
	CHECK(p->signals[SIGKILL] == 1);

	/* Closed before the grace ends: no SIGKILL. */
	struct fake_proc *q = started("p2", NULL);
	REQUIRE(q);
	rq("process/terminate", "{\"processId\":\"p2\",\"graceMs\":500}");
	fake_exit(q, 143, SIGTERM);
	fake_eof_all(q);
	fake_run(fe);
	fake_advance(fe, 1000);
	CHECK(q->signals[SIGKILL] == 0 && q->state == PROC_CLOSED);
	/* Closed: not running, no signal. Exited with its streams open: SIGKILL. */
	id = rq("process/terminate", "{\"processId\":\"p2\"}");
	while (next() && !is_result(m, id))
		;
	CHECKF(is_result(m, id) && json_is_false(jp(m, "result.running")), "%s", dump(m));
	struct fake_proc *x = started("p3", NULL);
	REQUIRE(x);
	fake_exit(x, 0, 0);
	id = rq("process/terminate", "{\"processId\":\"p3\"}");
	CHECKF(next() && is_result(m, id) && json_is_false(jp(m, "result.running")), "%s", dump(m));
	CHECK(x->signals[SIGKILL] == 1);
	down();
}

static void test_list_resize_signal(void)
{
	REQUIRE(up(NULL));
	struct fake_proc *p = started("p1", NULL);
	struct fake_proc *t = started("t1", ",\"tty\":true");
	REQUIRE(p && t);
	int id = rq("process/list", "{}");
	CHECKF(next() && is_result(m, id) && json_array_size(jp(m, "result.processes")) == 2 &&
	       strcmp(js(m, "result.processes.0.processId"), "p1") == 0 &&
	       ji(m, "result.processes.0.pid") == p->pid &&
	       strcmp(js(m, "result.processes.0.argv.1"), "arg") == 0 &&
	       json_is_false(jp(m, "result.processes.0.tty")) &&
	       json_is_true(jp(m, "result.processes.1.tty")) &&
	       strcmp(js(m, "result.processes.1.state"), "running") == 0 &&
	       json_is_null(jp(m, "result.processes.1.exitCode")), "%s", dump(m));
	id = rq("process/resize", "{\"processId\":\"t1\",\"rows\":40,\"cols\":100}");
	CHECK(next() && is_result(m, id) && t->rows == 40 && t->cols == 100);
	id = rq("process/resize", "{\"processId\":\"p1\",\"rows\":40,\"cols\":100}");
	CHECKF(next() && is_error(m, id, -32600, "process p1 is not a tty"), "%s", dump(m));
	id = rq("process/signal", "{\"processId\":\"p1\",\"signal\":\"interrupt\"}");
	CHECK(next() && is_result(m, id) && p->signals[SIGINT] == 1);
	fe->fail_signal = -EPERM;
	id = rq("process/signal", "{\"processId\":\"p1\",\"signal\":\"user1\"}");
	CHECKF(next() && is_error(m, id, -32603, "failed to signal process: Operation not permitted"),
	       "%s", dump(m));
	fake_exit(p, 2, 0);
	fake_eof_all(p);
	fake_run(fe);
	CHECK(next() && next());	/* exited, closed */
	id = rq("process/signal", "{\"processId\":\"p1\",\"signal\":\"kill\"}");
	CHECK(next() && is_result(m, id) && p->signals[SIGKILL] == 0);
	id = rq("process/list", "{}");
	CHECKF(next() && is_result(m, id) && strcmp(js(m, "result.processes.0.state"), "closed") == 0 &&
	       ji(m, "result.processes.0.exitCode") == 2, "%s", dump(m));
	down();
}

static void test_retain_and_limit(void)
{
	struct rig r = { .pc = rig_pc, .kind = FIO_WS };
	r.pc.max_processes = 2;
	r.pc.retain_ms = 1000;
	REQUIRE(up(&r));
	struct fake_proc *p = started("p1", NULL);
	REQUIRE(p && started("p2", NULL));
	int id = start("p3", NULL);
	CHECKF(next() && is_error(m, id, -32603, "too many processes"), "%s", dump(m));
	fake_exit(p, 0, 0);
	fake_eof_all(p);
	fake_run(fe);
	CHECK(next() && next());
	REQUIRE(started("p3", NULL));	/* a closed process does not count */
	id = start("p1", NULL);
	CHECKF(next() && is_error(m, id, -32600, "process p1 already exists"), "%s", dump(m));
	fake_advance(fe, 1000);		/* retain_ms: the entry goes, its id is free */
	CHECK(!fp("p1") && fe->released == 1);
	id = rq("process/read", "{\"processId\":\"p1\"}");
	CHECKF(next() && is_error(m, id, -32600, "unknown process id p1"), "%s", dump(m));
	down();
}

static void test_binary_output(void)
{
	struct rig r = { .kind = FIO_WS, .init = ",\"binaryOutput\":true" };
	REQUIRE(up(&r));
	CHECK(json_is_true(jp(m, "result.binaryOutput")) && io.c->binary_output);
	struct fake_proc *p = started("p1", NULL);
	REQUIRE(p);
	fake_output(p, OUTLOG_STDERR, "bin", 3);
	fake_exit(p, 0, 0);
	fake_eof_all(p);
	fake_run(fe);
	CHECKF(next() && json_is_true(jp(m, "binary")) && output_is(m, "p1", 1, "stderr", "bin"),
	       "%s", dump(m));
	CHECK(next() && !jp(m, "binary") && is_note(m, "process/exited", "p1", 2));
	CHECK(next() && is_note(m, "process/closed", "p1", 3));
	down();

	/* A transport without binary frames answers false and sends JSON. */
	r.kind = FIO_PLAIN;
	REQUIRE(up(&r));
	CHECK(json_is_false(jp(m, "result.binaryOutput")));
	p = started("p1", NULL);
	REQUIRE(p);
	fake_output(p, OUTLOG_STDOUT, "txt", 3);
	fake_run(fe);
	CHECK(next() && !jp(m, "binary") && output_is(m, "p1", 1, "stdout", "txt"));
	down();
}

static void test_send_refused(void)
{
	/* A notification that cannot be queued closes the connection; the
	 * output stays in the log for a resume. */
	REQUIRE(up(NULL));
	struct fake_proc *p = started("p1", NULL);
	REQUIRE(p);
	io.refuse = true;
	fake_output(p, OUTLOG_STDOUT, "lost?", 5);
	fake_run(fe);
	CHECK(io.closed == CONN_CLOSE_INTERNAL && !next());
	CHECK(outlog_count(&p->log) == 1 && p->log.delivered == 0);
	down();
}

static void test_bad_bytes_answered_as_json(void)
{
	/* jansson's reason quotes the input near the error; cut inside a
	 * UTF-8 sequence it made the -32600 invalid JSON (fuzz_session). */
	REQUIRE(up(NULL));
	static const char bad[] = "{\"id\":1,\"method\":\"process/start\",\"para\\u000\xc9\x8f\x8d\x90"
				  "cessId\":1}";
	conn_on_message(io.c, bad, sizeof(bad) - 1);
	CHECKF(next() && is_error(m, -1, -32600, NULL), "%s", dump(m));
	CHECK(strstr(js(m, "error.message"), "failed to parse websocket JSON-RPC message") != NULL);
	down();
}

static const struct tap_case cases[] = {
	{ "output_exit_closed", test_output_exit_closed },
	{ "drain_timer", test_drain_timer },
	{ "write_statuses", test_write_statuses },
	{ "write_id", test_write_id },
	{ "held_writes", test_held_writes },
	{ "starting", test_starting },
	{ "starting_after_drop", test_starting_after_drop },
	{ "sandbox_unavailable", test_sandbox_unavailable },
	{ "spawn_fails", test_spawn_fails },
	{ "seq_order_and_read", test_seq_order_and_read },
	{ "long_poll", test_long_poll },
	{ "delivery_marks", test_delivery_marks },
	{ "backpressure", test_backpressure },
	{ "resume_after_detach", test_resume_after_detach },
	{ "detached_retention", test_detached_retention },
	{ "ttl", test_ttl },
	{ "timeout", test_timeout },
	{ "terminate", test_terminate },
	{ "list_resize_signal", test_list_resize_signal },
	{ "retain_and_limit", test_retain_and_limit },
	{ "binary_output", test_binary_output },
	{ "send_refused", test_send_refused },
	{ "bad_bytes_answered_as_json", test_bad_bytes_answered_as_json },
	{ NULL, NULL },
};

int main(int argc, char **argv)
{
	return tap_main(argc, argv, cases);
}
