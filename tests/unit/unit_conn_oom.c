/* unit_conn_oom: the protocol side when memory runs out, on a real engine
 * and ring with a fake transport that keeps every message it is given.
 *
 * Each request is handled twice per allocation it makes: with that one
 * failing, and with that one and every later one failing (so that even the
 * short -32603 cannot be encoded; tests/unit/failalloc.h). Whatever fails, every
 * message queued is whole JSON, and the request gets exactly one reply with
 * its id (its result or a -32603), unless the connection was closed. Then
 * the promises the replies make: an `accepted` closeStdin on a PTY has its
 * VEOF queued; an `accepted` write with a writeId is remembered (a retry is
 * not written again) and a -32603 one wrote nothing; a failed initialize
 * leaves no session behind; no getrandom, no session id (never rand()); a
 * notification the transport cannot take closes the connection.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine.h"
#include "failalloc.h"
#include "loop.h"
#include "engine_ops.h"
#include "proto_int.h"
#include "spawn.h"
#include "tap.h"

/* ---- the fake transport: every message kept, in order ---- */

#define FT_MAX_MSGS 100000

struct ft {
	struct buf log;			/* every queued message, back to back */
	size_t off[FT_MAX_MSGS], len[FT_MAX_MSGS];
	size_t n;			/* messages queued */
	size_t msg_start;		/* ft_msg_begin: where the message starts */
	int closed;			/* the close code asked for, 0: open */
	bool refuse;			/* every send and msg_begin fails (-ENOMEM) */
	bool refuse_end;		/* every msg_end fails (-ENOMEM, as a frame
					   header that must grow and cannot) */
};

static int ft_send(void *io, const char *msg, size_t len)
{
	struct ft *t = io;
	if (t->closed)
		return -EPIPE;
	if (t->refuse || t->n == FT_MAX_MSGS || buf_append(&t->log, msg, len) < 0)
		return -ENOMEM;
	t->off[t->n] = t->log.len - len;
	t->len[t->n++] = len;
	return 0;
}

static struct buf *ft_msg_begin(void *io, size_t hint)
{
	struct ft *t = io;
	if (t->closed || t->refuse || t->n == FT_MAX_MSGS || buf_reserve(&t->log, hint) < 0)
		return NULL;
	t->msg_start = t->log.len;
	return &t->log;
}

static int ft_msg_end(void *io, bool ok)
{
	struct ft *t = io;
	if (!ok || t->refuse_end) {
		t->log.len = t->msg_start;
		return -ENOMEM;
	}
	t->off[t->n] = t->msg_start;
	t->len[t->n++] = t->log.len - t->msg_start;
	return 0;
}

static size_t ft_queued(void *io)
{
	(void)io;
	return 0;
}

static uint64_t ft_total(void *io)
{
	return ((struct ft *)io)->log.len;
}

static void ft_close(void *io, int code)
{
	struct ft *t = io;
	if (!t->closed)
		t->closed = code;
}

static const struct conn_io ft_io = {
	.send = ft_send,
	.msg_begin = ft_msg_begin,
	.msg_end = ft_msg_end,
	.queued = ft_queued,
	.sent_total = ft_total,
	.queued_end = ft_total,
	.close = ft_close,
};

/* Message i, parsed (NULL when it is not whole JSON). */
static json_t *ft_msg(const struct ft *t, size_t i)
{
	return json_loadb(t->log.data + t->off[i], t->len[i], JSON_ALLOW_NUL, NULL);
}

/* ---- the server side ---- */

static struct loop *lp;
static struct engine *eng;
static struct proto *pr;

struct client {
	struct ft t;
	struct conn *c;
};

static void send_text(struct client *cl, const char *text)
{
	conn_on_message(cl->c, text, strlen(text));
}

static bool client_open(struct client *cl, bool handshake)
{
	memset(&cl->t, 0, sizeof(cl->t));
	cl->c = conn_new(pr, &ft_io, &cl->t, "test");
	if (!cl->c)
		return false;
	if (!handshake)
		return true;
	send_text(cl, "{\"id\":0,\"method\":\"initialize\",\"params\":{\"clientName\":\"t\"}}");
	send_text(cl, "{\"method\":\"initialized\"}");
	return cl->c->phase == CONN_READY && cl->c->sess;
}

static void client_close(struct client *cl)
{
	if (cl->c)
		conn_on_closed(cl->c);
	cl->c = NULL;
	buf_free(&cl->t.log);
}

/* ---- running the loop until something holds ---- */

static bool (*until_fn)(void *arg);
static void *until_arg;
static struct loop_timer until_tick;
static int until_left;

static void until_check(struct loop_timer *t)
{
	if (until_fn(until_arg) || --until_left <= 0)
		loop_stop(lp);
	else
		loop_timer_arm(lp, t, 5);
}

/* Run the loop until fn(arg) holds: checked every 5 ms, for 5 s at most. */
static bool run_until(bool (*fn)(void *), void *arg)
{
	until_fn = fn;
	until_arg = arg;
	until_left = 1000;
	loop_timer_init(&until_tick, until_check);
	loop_timer_arm(lp, &until_tick, 0);
	loop_run(lp);
	loop_timer_cancel(lp, &until_tick);
	return fn(arg);
}

/* ---- the sweep ---- */

struct sweep {
	const char *name;
	/* Called with allocations working: set up, then write the request
	 * (id 77) into req. False: the case cannot go on. */
	bool (*prepare)(struct client *cl, char *req, size_t n, long round);
	/* Called after the reply with allocations working: the reply's
	 * promise holds. reply is the reply (NULL when the connection closed). */
	bool (*check)(struct client *cl, const json_t *reply, long round);
};

static struct client cl;	/* the connection the sweep uses */

/* Handle the request twice per allocation it makes (see the top). */
static void sweep_run(const struct sweep *sw)
{
	int bad_json = 0, bad_reply = 0, bad_check = 0, closes = 0, errors = 0;
	long round, clean = 0;
	REQUIRE(client_open(&cl, true));
	for (round = 0; round < 10000 && clean < 2; round++) {
		char req[2048];
		if (!sw->prepare(&cl, req, sizeof(req), round)) {
			tap_fail(__FILE__, __LINE__, "prepare", "%s: round %ld", sw->name, round);
			break;
		}
		size_t first = cl.t.n;
		buf_free(&pr->scratch);		/* encoding must allocate */
		if (round % 2)
			failalloc_set(round / 2);
		else
			failalloc_one(round / 2);
		send_text(&cl, req);
		long failed = failalloc_failed();
		failalloc_set(-1);
		clean += failed == 0;

		json_t *reply = NULL;
		int replies = 0;
		for (size_t i = first; i < cl.t.n; i++) {
			json_t *m = ft_msg(&cl.t, i);
			if (!m) {
				if (bad_json++ < 3)
					tap_diag("%s round %ld: not whole JSON: %.*s", sw->name, round,
						 (int)(cl.t.len[i] > 200 ? 200 : cl.t.len[i]),
						 cl.t.log.data + cl.t.off[i]);
				continue;
			}
			json_t *id = json_object_get(m, "id");
			if (json_integer_value(id) == 77 && !json_object_get(m, "method")) {
				replies++;
				json_decref(reply);
				reply = json_incref(m);
			}
			json_decref(m);
		}
		bool closed = cl.t.closed != 0;
		const json_t *err = json_object_get(reply, "error");
		bool ok_reply = closed ? replies <= 1
			: replies == 1 && (!err || (failed > 0 &&
				json_integer_value(json_object_get(err, "code")) == -32603));
		if (!ok_reply && bad_reply++ < 3)
			tap_diag("%s round %ld (%ld failed, closed %d): %d replies, last %s", sw->name,
				 round, failed, cl.t.closed, replies, reply ? json_dumps(reply, 0) : "-");
		if (!sw->check(&cl, closed ? NULL : reply, round) && bad_check++ < 3)
			tap_diag("%s round %ld: the reply's promise does not hold: %s", sw->name, round,
				 reply ? json_dumps(reply, 0) : "(closed)");
		closes += closed;
		errors += err != NULL;
		json_decref(reply);
		if (closed) {
			client_close(&cl);
			if (!client_open(&cl, true)) {
				tap_fail(__FILE__, __LINE__, "reopen", "%s", sw->name);
				break;
			}
		}
	}
	/* Ends once both ways ran with every allocation they made working. */
	tap_diag("%s: %ld rounds: %d answered -32603, %d closed the connection", sw->name, round,
		 errors, closes);
	CHECKF(clean == 2, "%s: no round without a failure", sw->name);
	CHECKF(bad_json == 0, "%s: %d messages not whole JSON", sw->name, bad_json);
	CHECKF(bad_reply == 0, "%s: %d rounds without exactly one reply", sw->name, bad_reply);
	CHECKF(bad_check == 0, "%s: %d rounds broke the reply's promise", sw->name, bad_check);
	client_close(&cl);
}

static const json_t *result_of(const json_t *reply)
{
	return json_object_get(reply, "result");
}

static const char *status_of(const json_t *reply)
{
	return json_string_value(json_object_get(result_of(reply), "status"));
}

static bool start(struct client *c, const char *id, const char *argv_json, bool tty)
{
	char req[512];
	size_t n0 = c->t.n;
	snprintf(req, sizeof(req),
		 "{\"id\":1,\"method\":\"process/start\",\"params\":{\"processId\":\"%s\","
		 "\"argv\":%s,\"cwd\":\"/\",\"env\":{\"PATH\":\"/usr/bin:/bin\"},\"tty\":%s,"
		 "\"pipeStdin\":true}}", id, argv_json, tty ? "true" : "false");
	send_text(c, req);
	if (c->t.n != n0 + 1)
		return false;
	json_t *m = ft_msg(&c->t, n0);
	bool ok = result_of(m) != NULL;
	json_decref(m);
	return ok;
}

static struct sess_proc *find(struct client *c, const char *id)
{
	return c->c->sess ? session_find(c->c->sess, id, strlen(id)) : NULL;
}

/* -- initialize: a fresh connection each round -- */

static size_t sessions_before;

static bool init_prepare(struct client *c, char *req, size_t n, long round)
{
	(void)round;
	client_close(c);
	if (!client_open(c, false))
		return false;
	sessions_before = pr->sessions.count;
	snprintf(req, n, "{\"id\":77,\"method\":\"initialize\",\"params\":{\"clientName\":\"t\"}}");
	return true;
}

static bool init_check(struct client *c, const json_t *reply, long round)
{
	(void)round;
	if (!reply)
		return true;	/* closed: a session made goes with the connection */
	/* A session exists exactly when the initialize succeeded. */
	bool made = result_of(reply) != NULL;
	return pr->sessions.count == sessions_before + made && (c->c->sess != NULL) == made;
}

static void test_initialize(void)
{
	static const struct sweep sw = { "initialize", init_prepare, init_check };
	sweep_run(&sw);
}

/* -- process/list over 40 processes: a reply that must grow -- */

static bool list_prepare(struct client *c, char *req, size_t n, long round)
{
	(void)round;
	for (int i = 0; i < 40 && c->c->sess->procs.count < 40; i++) {
		char id[64];
		snprintf(id, sizeof(id), "list-%d-with-a-long-process-id", i);
		if (!start(c, id, "[\"sleep\",\"30\"]", false))
			return false;
	}
	snprintf(req, n, "{\"id\":77,\"method\":\"process/list\",\"params\":{}}");
	return true;
}

static bool list_check(struct client *c, const json_t *reply, long round)
{
	(void)c, (void)round;
	const json_t *ps = json_object_get(result_of(reply), "processes");
	return !result_of(reply) || json_array_size(ps) == 40;
}

static void test_list(void)
{
	static const struct sweep sw = { "process/list", list_prepare, list_check };
	sweep_run(&sw);
}

/* -- process/start: a new id each round -- */

static bool start_prepare(struct client *c, char *req, size_t n, long round)
{
	(void)c;
	snprintf(req, n,
		 "{\"id\":77,\"method\":\"process/start\",\"params\":{\"processId\":\"s%ld\","
		 "\"argv\":[\"true\"],\"cwd\":\"/\",\"env\":{\"PATH\":\"/usr/bin:/bin\"},"
		 "\"tty\":false,\"timeoutMs\":60000}}", round);
	return true;
}

static bool start_check(struct client *c, const json_t *reply, long round)
{
	char id[32];
	snprintf(id, sizeof(id), "s%ld", round);
	/* A started process is one that the client was told of. */
	struct sess_proc *sp = find(c, id);
	return !reply || (result_of(reply) != NULL) == (sp != NULL);
}

static void test_start(void)
{
	static const struct sweep sw = { "process/start", start_prepare, start_check };
	sweep_run(&sw);
}

/* -- closeStdin on a PTY: accepted means the VEOF is queued -- */

static bool veof_prepare(struct client *c, char *req, size_t n, long round)
{
	char id[32];
	snprintf(id, sizeof(id), "pty%ld", round);
	if (!start(c, id, "[\"cat\"]", true))
		return false;
	snprintf(req, n,
		 "{\"id\":77,\"method\":\"process/write\",\"params\":{\"processId\":\"%s\","
		 "\"chunk\":\"\",\"closeStdin\":true}}", id);
	return true;
}

static bool veof_check(struct client *c, const json_t *reply, long round)
{
	char id[32];
	snprintf(id, sizeof(id), "pty%ld", round);
	struct sess_proc *sp = find(c, id);
	if (!reply || !sp)
		return true;
	size_t queued = proc_stdin_queued(sp->proc);
	if (status_of(reply) && strcmp(status_of(reply), "accepted") == 0)
		return queued >= 1;	/* the VEOF, not yet written: no loop turn ran */
	/* -32603: nothing was taken, stdin still open. */
	return queued == 0 && proc_write(sp->proc, "", 0, false) == PROC_WRITE_ACCEPTED;
}

static void test_close_stdin_pty(void)
{
	static const struct sweep sw = { "closeStdin on a PTY", veof_prepare, veof_check };
	sweep_run(&sw);
}

/* -- writeId: accepted means remembered, -32603 means not written -- */

static size_t wid_queued_before;

static bool wid_prepare(struct client *c, char *req, size_t n, long round)
{
	if (!find(c, "wid") && !start(c, "wid", "[\"sleep\",\"30\"]", false))
		return false;
	struct sess_proc *sp = find(c, "wid");
	if (!sp)
		return false;
	wid_queued_before = proc_stdin_queued(sp->proc);
	snprintf(req, n,
		 "{\"id\":77,\"method\":\"process/write\",\"params\":{\"processId\":\"wid\","
		 "\"chunk\":\"eHl6\",\"writeId\":\"w-%ld\"}}", round);
	return true;
}

static bool wid_check(struct client *c, const json_t *reply, long round)
{
	struct sess_proc *sp = find(c, "wid");
	if (!reply || !sp)
		return true;
	size_t after = proc_stdin_queued(sp->proc);
	bool accepted = status_of(reply) && strcmp(status_of(reply), "accepted") == 0;
	if (after != wid_queued_before + (accepted ? 3 : 0))
		return false;
	/* The same writeId again, with memory: written only if not taken before. */
	char req[256];
	snprintf(req, sizeof(req),
		 "{\"id\":78,\"method\":\"process/write\",\"params\":{\"processId\":\"wid\","
		 "\"chunk\":\"eHl6\",\"writeId\":\"w-%ld\"}}", round);
	send_text(c, req);
	return proc_stdin_queued(sp->proc) == after + (accepted ? 0 : 3);
}

static void test_write_id(void)
{
	static const struct sweep sw = { "writeId", wid_prepare, wid_check };
	sweep_run(&sw);
}

/* -- process/read with output in the log -- */

static bool closed_in_log(void *arg)
{
	struct sess_proc *sp = find(arg, "out");
	return sp && proc_state(sp->proc) == PROC_CLOSED;
}

static bool read_prepare(struct client *c, char *req, size_t n, long round)
{
	(void)round;
	if (!find(c, "out")) {
		if (!start(c, "out", "[\"sh\",\"-c\",\"i=0; while [ $i -lt 200 ]; do "
			   "echo line $i; i=$((i+1)); done\"]", false) ||
		    !run_until(closed_in_log, c))
			return false;
	}
	snprintf(req, n, "{\"id\":77,\"method\":\"process/read\",\"params\":{\"processId\":\"out\"}}");
	return true;
}

static bool read_check(struct client *c, const json_t *reply, long round)
{
	(void)c, (void)round;
	return !result_of(reply) || json_is_true(json_object_get(result_of(reply), "closed"));
}

static void test_read(void)
{
	static const struct sweep sw = { "process/read", read_prepare, read_check };
	sweep_run(&sw);
}

/* -- no random bytes, no session -- */

static void test_getrandom_fails(void)
{
	struct client c;
	REQUIRE(client_open(&c, false));
	size_t before = pr->sessions.count;
	failalloc_getrandom(ENOSYS);
	send_text(&c, "{\"id\":5,\"method\":\"initialize\",\"params\":{\"clientName\":\"t\"}}");
	failalloc_getrandom(0);
	REQUIRE(c.t.n == 1);
	json_t *m = ft_msg(&c.t, 0);
	json_t *err = json_object_get(m, "error");
	CHECKF(json_integer_value(json_object_get(err, "code")) == -32603 &&
	       json_integer_value(json_object_get(m, "id")) == 5, "got %s", json_dumps(m, 0));
	CHECKF(strcmp(json_string_value(json_object_get(err, "message")) ?: "",
		      "no random bytes for a session id: Function not implemented (os error 38)") == 0,
	       "got %s", json_dumps(m, 0));
	json_decref(m);
	CHECK(pr->sessions.count == before && !c.c->sess && c.c->phase == CONN_NEW);
	/* With random bytes again, the same connection initializes. */
	send_text(&c, "{\"id\":6,\"method\":\"initialize\",\"params\":{\"clientName\":\"t\"}}");
	CHECK(c.t.n == 2 && c.c->sess && pr->sessions.count == before + 1);
	client_close(&c);
}

/* -- a notification the transport cannot take closes the connection -- */

static bool note_done(void *arg)
{
	struct client *c = arg;
	struct sess_proc *sp = c->c->sess ? find(c, "note") : NULL;
	return c->t.closed || (sp && proc_state(sp->proc) == PROC_CLOSED);
}

static void test_notification_refused(void)
{
	struct client c;
	REQUIRE(client_open(&c, true));
	REQUIRE(start(&c, "note", "[\"sh\",\"-c\",\"read x; echo out\"]", false));
	size_t n0 = c.t.n;
	c.t.refuse = true;
	send_text(&c, "{\"id\":9,\"method\":\"process/write\",\"params\":{\"processId\":\"note\","
		      "\"chunk\":\"eAo=\"}}");
	CHECKF(c.t.closed == CONN_CLOSE_INTERNAL, "a refused reply: close code %d", c.t.closed);
	c.t.closed = 0;		/* as if the close had not happened: the notifications */
	CHECK(run_until(note_done, &c));
	CHECKF(c.t.closed == CONN_CLOSE_INTERNAL, "refused notifications: close code %d",
	       c.t.closed);
	CHECK(c.t.n == n0);	/* nothing of them was queued */
	client_close(&c);

	/* The same when the message is written in place and cannot be framed. */
	REQUIRE(client_open(&c, true));
	REQUIRE(start(&c, "note", "[\"sh\",\"-c\",\"read x; echo out\"]", false));
	send_text(&c, "{\"id\":9,\"method\":\"process/write\",\"params\":{\"processId\":\"note\","
		      "\"chunk\":\"eAo=\"}}");
	n0 = c.t.n;
	c.t.refuse_end = true;
	CHECK(run_until(note_done, &c));
	CHECKF(c.t.closed == CONN_CLOSE_INTERNAL, "unframed output: close code %d", c.t.closed);
	CHECK(c.t.n == n0);
	client_close(&c);
}

static bool no_live_procs(void *arg)
{
	(void)arg;
	return engine_live_procs(eng) == 0;
}

static const struct tap_case cases[] = {
	{ "initialize", test_initialize },
	{ "process_list", test_list },
	{ "process_start", test_start },
	{ "close_stdin_pty", test_close_stdin_pty },
	{ "write_id", test_write_id },
	{ "getrandom_fails", test_getrandom_fails },
	{ "process_read", test_read },
	{ "notification_refused", test_notification_refused },
	{ NULL, NULL },
};

int main(int argc, char **argv)
{
	struct engine_config ecfg = {
		.retain_bytes = 1 << 20, .retain_chunks = 50000, .exit_drain_ms = 50,
	};
	struct proto_config pcfg = {
		.retain_ms = 30000, .session_ttl_ms = 0, .retain_bytes = 1 << 20,
		.max_processes = 1024, .send_high_water = 1 << 30, .max_spawn_bytes = 1 << 20,
	};
	if (spawn_init(NULL) < 0 || loop_new(&lp, 256) < 0 || engine_new(&eng, lp, &ecfg) < 0 ||
	    proto_new(&pr, &engine_ring_ops, eng, &pcfg) < 0) {
		printf("1..0 # SKIP no engine here\n");
		return 0;
	}
	int rc = tap_main(argc, argv, cases);
	proto_free(pr);
	run_until(no_live_procs, NULL);	/* released procs free themselves as their ops end */
	engine_free(eng);
	loop_free(lp);
	return rc;
}
