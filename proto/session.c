/* session: what a client's processes belong to, and how their events
 * become notifications.
 *
 * Owns the processId table, each entry's retention timer and writeId
 * memory, the long-poll readers waiting on an entry, and the engine observer
 * that turns output/exited/closed into process/output, process/exited and
 * process/closed on the attached connection, in seq order (output as a
 * binary frame instead when the connection asked for them, §5a). With
 * --session-ttl 0 a detached session kills its processes at once. Processes
 * and timers are reached through the engine table (pr->ops, engine/engine_ops.h)
 * only, so all of this runs on a fake engine in tests.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "fs/fs.h"
#include "log.h"
#include "proto_int.h"

static bool session_on_output(void *ctx, struct proc *p, const struct outlog_chunk *c);
static void session_on_exited(void *ctx, struct proc *p, uint64_t seq, int code, int signo);
static void session_on_closed(void *ctx, struct proc *p, uint64_t seq);
static void session_on_stdin_ready(void *ctx, struct proc *p);
static void session_on_spawned(void *ctx, struct proc *p, int err);

static const struct proc_observer session_observer = {
	.output = session_on_output,
	.exited = session_on_exited,
	.closed = session_on_closed,
	.stdin_ready = session_on_stdin_ready,
	.spawned = session_on_spawned,
};

static void session_on_spawned(void *ctx, struct proc *p, int err)
{
	(void)p;
	methods_start_done(ctx, err);
}

static const char *const session_stream_names[] = { "stdout", "stderr", "pty" };

/* A UUID v4 from the kernel's random bytes (a session id is a capability:
 * whoever knows it can resume the session). 0 or -errno: no id at all. */
static int session_uuid(char out[37])
{
	unsigned char b[16];
	size_t got = 0;
	while (got < sizeof(b)) {
		ssize_t n = getrandom(b + got, sizeof(b) - got, 0);
		if (n < 0 && errno != EINTR)
			return -errno;
		if (n > 0)
			got += (size_t)n;
	}
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
	snprintf(out, 37,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11],
		 b[12], b[13], b[14], b[15]);
	return 0;
}

static void session_ttl_expired(struct loop_timer *t);

/* A copy of s[0..len) (it may hold NUL bytes), NUL-terminated; NULL on ENOMEM. */
static char *session_memdup(const char *s, size_t len)
{
	char *d = malloc(len + 1);
	if (d) {
		memcpy(d, s, len);
		d[len] = '\0';
	}
	return d;
}

int session_new(struct proto *pr, struct session **out)
{
	struct session *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->pr = pr;
	idmap_init(&s->procs);
	dlist_init(&s->order);
	dlist_init(&s->unconfirmed);
	loop_timer_init(&s->ttl, session_ttl_expired);
	int ret;
	do
		ret = session_uuid(s->id);
	while (ret == 0 && idmap_get(&pr->sessions, s->id, 36));
	if (ret == 0)
		ret = idmap_put(&pr->sessions, s->id, 36, s);
	if (ret < 0) {
		free(s);
		return ret;
	}
	pr->stats.sessions_created++;
	dlist_add_tail(&pr->all_sessions, &s->link);
	*out = s;
	return 0;
}

void session_attach(struct session *s, struct conn *c)
{
	s->conn = c;
	c->sess = s;
	s->attach_gen++;
}

/* ---- entries ---- */

static void session_entry_free(struct sess_proc *sp)
{
	struct session *s = sp->s;
	while (!dlist_empty(&sp->waiters))
		session_waiter_free(container_of(sp->waiters.next, struct waiter, proc_link));
	while (!dlist_empty(&sp->held))
		session_held_free(container_of(sp->held.next, struct held_write, proc_link));
	dlist_del(&sp->unconfirmed_link);
	free(sp->marks);
	for (char **a = sp->argv; a && *a; a++)
		free(*a);
	free(sp->argv);
	proto_timer_cancel(s->pr, &sp->retain);
	proto_timer_cancel(s->pr, &sp->timeout);
	proto_timer_cancel(s->pr, &sp->grace);
	idmap_del(&s->procs, sp->id, sp->id_len);
	dlist_del(&sp->link);
	if (!sp->closed && s->open_procs)
		s->open_procs--;
	if (sp->proc)
		s->pr->ops->release(sp->proc);
	for (size_t i = 0; i < WRITE_IDS_KEPT && sp->write_ids; i++)
		free(sp->write_ids[i].id);
	free(sp->write_ids);
	idmap_free(&sp->write_id_set);
	rpc_id_free(&sp->start_id);
	free(sp->id);
	free(sp);
}

void session_entry_drop(struct sess_proc *sp)
{
	session_entry_free(sp);
}

static void session_retain_expired(struct loop_timer *t)
{
	session_entry_free(container_of(t, struct sess_proc, retain));
}

static void session_timeout_expired(struct loop_timer *t)
{
	struct sess_proc *sp = container_of(t, struct sess_proc, timeout);
	if (session_ops(sp)->state(sp->proc) != PROC_RUNNING)
		return;
	sp->timed_out = true;
	session_ops(sp)->signal(sp->proc, SIGKILL);
}

void session_arm_timeout(struct sess_proc *sp, uint64_t ms)
{
	proto_timer_arm(sp->s->pr, &sp->timeout, ms);
}

static void session_grace_expired(struct loop_timer *t)
{
	struct sess_proc *sp = container_of(t, struct sess_proc, grace);
	session_ops(sp)->signal(sp->proc, SIGKILL);
}

void session_terminate_grace(struct sess_proc *sp, uint64_t ms)
{
	session_ops(sp)->signal(sp->proc, SIGTERM);
	session_ops(sp)->signal(sp->proc, SIGCONT);
	if (!loop_timer_armed(&sp->grace))
		proto_timer_arm(sp->s->pr, &sp->grace, ms);
}

/* ---- process/write, with back-pressure on stdin ---- */

static const char *const session_write_status[] = {
	[PROC_WRITE_ACCEPTED] = "accepted",
	[PROC_WRITE_STARTING] = "starting",
	[PROC_WRITE_STDIN_CLOSED] = "stdinClosed",
	[PROC_WRITE_UNKNOWN] = "unknownProcess",
};

static void session_reply_status(struct conn *c, const struct rpc_id *id, enum proc_write_status st)
{
	if (st == PROC_WRITE_NOMEM)
		return conn_reply_error(c, id, RPC_INTERNAL_ERROR, "out of memory");
	struct jw w = conn_result_begin(c, id);
	jw_obj_open(&w);
	jw_key(&w, "status");
	jw_cstr(&w, session_write_status[st]);
	jw_obj_close(&w);
	conn_result_end(c, id, &w);
}

/* Room in the scratch buffer for the status reply to id, had before the
 * write is made: once a write is taken its answer cannot fail (a -32603
 * for a write that happened would invite a retry that writes it twice). */
static bool session_status_room(struct conn *c, const struct rpc_id *id)
{
	size_t id_max = id->is_str ? 6 * id->len + 2 : 24;	/* every byte escaped */
	buf_reset(&c->pr->scratch);
	return buf_reserve(&c->pr->scratch, id_max + 64) == 0;
}

/* The writeId memory: a ring of the last WRITE_IDS_KEPT ids taken, and a
 * map of the same ids. An id is entered before its write (the memory it
 * needs is had first), kept once the write is taken, dropped if not: a
 * write whose id cannot be remembered is not taken either (-32603). */
static int session_write_id_enter(struct sess_proc *sp, const char *wid, size_t len, char **copy)
{
	if (!sp->write_ids && !(sp->write_ids = calloc(WRITE_IDS_KEPT, sizeof(*sp->write_ids))))
		return -ENOMEM;
	if (!(*copy = session_memdup(wid, len)))
		return -ENOMEM;
	if (idmap_put(&sp->write_id_set, *copy, len, *copy) < 0) {
		free(*copy);
		return -ENOMEM;
	}
	return 0;
}

static void session_write_id_settle(struct sess_proc *sp, char *copy, size_t len, bool taken)
{
	if (!taken) {
		idmap_del(&sp->write_id_set, copy, len);
		free(copy);
		return;
	}
	struct write_id *slot = &sp->write_ids[sp->write_ids_next];
	if (slot->id) {
		idmap_del(&sp->write_id_set, slot->id, slot->len);
		free(slot->id);
	}
	slot->id = copy;
	slot->len = len;
	sp->write_ids_next = (sp->write_ids_next + 1) % WRITE_IDS_KEPT;
}

/* The status of writing now, or PROC_WRITE_NOMEM with nothing written. */
static enum proc_write_status session_write_now(struct sess_proc *sp, const char *data, size_t len,
						bool close_stdin, const char *wid, size_t wid_len)
{
	char *copy = NULL;
	if (wid && idmap_get(&sp->write_id_set, wid, wid_len))
		return PROC_WRITE_ACCEPTED;	/* a retry of a write already taken */
	if (wid && session_write_id_enter(sp, wid, wid_len, &copy) < 0)
		return PROC_WRITE_NOMEM;
	enum proc_write_status st = session_ops(sp)->write(sp->proc, data, len, close_stdin);
	if (copy)
		session_write_id_settle(sp, copy, wid_len, st == PROC_WRITE_ACCEPTED);
	return st;
}

void session_held_free(struct held_write *h)
{
	h->c->held_bytes -= h->len;
	dlist_del(&h->conn_link);
	dlist_del(&h->proc_link);
	rpc_id_free(&h->id);
	free(h->data);
	free(h->write_id);
	free(h);
}

int session_write(struct conn *c, struct sess_proc *sp, const struct rpc_id *id, char *data,
		  size_t len, bool close_stdin, const char *write_id, size_t write_id_len)
{
	/* Writes already waiting go first: a new one queues behind them. */
	if (dlist_empty(&sp->held) && !session_ops(sp)->stdin_full(sp->proc)) {
		if (!session_status_room(c, id))
			return -ENOMEM;
		session_reply_status(c, id, session_write_now(sp, data, len, close_stdin, write_id,
							      write_id_len));
		free(data);
		return 0;
	}
	struct held_write *h = calloc(1, sizeof(*h));
	if (!h || rpc_id_copy(&h->id, id) < 0 ||
	    (write_id && !(h->write_id = session_memdup(write_id, write_id_len)))) {
		if (h)
			rpc_id_free(&h->id);
		free(h);
		return -ENOMEM;
	}
	h->c = c;
	h->sp = sp;
	h->data = data;
	h->len = len;
	h->close_stdin = close_stdin;
	h->write_id_len = write_id_len;
	dlist_add_tail(&c->held, &h->conn_link);
	dlist_add_tail(&sp->held, &h->proc_link);
	c->held_bytes += len;
	return 0;
}

static void session_on_stdin_ready(void *ctx, struct proc *p)
{
	struct sess_proc *sp = ctx;
	while (!dlist_empty(&sp->held) && !session_ops(sp)->stdin_full(p)) {
		struct held_write *h = container_of(sp->held.next, struct held_write, proc_link);
		struct conn *c = h->c;
		enum proc_write_status st = PROC_WRITE_NOMEM;
		if (session_status_room(c, &h->id))
			st = session_write_now(sp, h->data, h->len, h->close_stdin, h->write_id,
					       h->write_id_len);
		session_reply_status(c, &h->id, st);
		session_held_free(h);
		conn_check_recv(c);
	}
}

struct sess_proc *session_find(struct session *s, const char *id, size_t len)
{
	return idmap_get(&s->procs, id, len);
}

struct sess_proc *session_start(struct session *s, const char *id, size_t len,
				const struct proc_spec *spec, int *err)
{
	if (idmap_get(&s->procs, id, len)) {
		*err = -EEXIST;
		return NULL;
	}
	struct sess_proc *sp = calloc(1, sizeof(*sp));
	if (!sp || !(sp->id = malloc(len + 1))) {
		free(sp);
		*err = -ENOMEM;
		return NULL;
	}
	memcpy(sp->id, id, len);
	sp->id[len] = '\0';
	sp->id_len = len;
	sp->s = s;
	dlist_init(&sp->waiters);
	dlist_init(&sp->unconfirmed_link);
	dlist_add_tail(&s->order, &sp->link);
	idmap_init(&sp->write_id_set);
	loop_timer_init(&sp->retain, session_retain_expired);
	loop_timer_init(&sp->timeout, session_timeout_expired);
	loop_timer_init(&sp->grace, session_grace_expired);
	dlist_init(&sp->held);
	s->open_procs++;

	/* STARTING: the id is reserved from here until the spawn returns. */
	sp->proc = s->pr->ops->proc_new(s->pr->eng, &session_observer, sp);
	int ret = sp->proc ? idmap_put(&s->procs, sp->id, len, sp) : -ENOMEM;
	if (ret == 0)
		ret = s->pr->ops->start(sp->proc, spec);
	if (ret == -EINPROGRESS) {
		/* Spawned later: the caller keeps the reply for then. */
		*err = ret;
		return sp;
	}
	if (ret < 0) {
		session_entry_free(sp);
		*err = ret;
		return NULL;
	}
	return sp;
}

/* ---- process/read ---- */

bool session_read_result(struct jw *w, struct sess_proc *sp, uint64_t after, bool has_max,
			 uint64_t max_bytes, bool waited_out, uint64_t *last_seq)
{
	const struct engine_ops *ops = session_ops(sp);
	const struct outlog *log = ops->log(sp->proc);
	uint64_t exit_seq = 0;
	int exit_code = 0;
	bool exited = ops->exit_event(sp->proc, &exit_seq, &exit_code);
	bool closed = ops->state(sp->proc) == PROC_CLOSED;
	size_t first = outlog_find(log, after);
	size_t count = outlog_count(log);

	bool ready = first < count || closed || (exited && after < exit_seq);
	if (!ready && !waited_out)
		return false;

	uint64_t next_seq = ops->next_seq(sp->proc);
	uint64_t total = 0;
	*last_seq = 0;
	jw_obj_open(w);
	jw_key(w, "chunks");
	jw_arr_open(w);
	for (size_t i = first; i < count; i++) {
		const struct outlog_chunk *c = outlog_at(log, i);
		if (i > first && has_max && total + c->len > max_bytes)
			break;
		total += c->len;
		jw_obj_open(w);
		jw_key(w, "seq");
		jw_u64(w, c->seq);
		jw_key(w, "stream");
		jw_cstr(w, session_stream_names[c->stream]);
		jw_key(w, "chunk");
		jw_b64(w, c->data, c->len);
		jw_obj_close(w);
		*last_seq = c->seq;
		if (has_max)
			next_seq = c->seq + 1;
		if (has_max && total >= max_bytes)
			break;
	}
	jw_arr_close(w);
	jw_key(w, "nextSeq");
	jw_u64(w, next_seq);
	jw_key(w, "exited");
	jw_bool(w, exited);
	jw_key(w, "exitCode");
	if (exited)
		jw_i64(w, exit_code);
	else
		jw_null(w);
	jw_key(w, "closed");
	jw_bool(w, closed);
	jw_key(w, "failure");
	jw_null(w);
	jw_key(w, "sandboxDenied");
	jw_bool(w, exited && denied_verdict(&sp->denied, ops->sandboxed(sp->proc), exit_code));
	jw_obj_close(w);
	return true;
}

void session_waiter_free(struct waiter *w)
{
	proto_timer_cancel(w->c->pr, &w->timer);
	dlist_del(&w->conn_link);
	dlist_del(&w->proc_link);
	rpc_id_free(&w->id);
	free(w);
}

/* Answer w if it is ready (or its time is up), then free it. */
static void session_waiter_try(struct waiter *w, bool waited_out)
{
	struct jw jw = conn_result_begin(w->c, &w->id);
	uint64_t last;
	if (!session_read_result(&jw, w->sp, w->after_seq, w->has_max, w->max_bytes, waited_out,
				 &last))
		return;
	if (conn_result_end(w->c, &w->id, &jw) && last)
		session_read_sent(w->c, w->sp, last);
	session_waiter_free(w);
}

static void session_waiter_timeout(struct loop_timer *t)
{
	session_waiter_try(container_of(t, struct waiter, timer), true);
}

static void session_wake(struct sess_proc *sp)
{
	struct dlist *n = sp->waiters.next;
	while (n != &sp->waiters) {
		struct dlist *next = n->next;
		session_waiter_try(container_of(n, struct waiter, proc_link), false);
		n = next;
	}
}

int session_wait(struct conn *c, struct sess_proc *sp, const struct rpc_id *id, uint64_t after,
		 bool has_max, uint64_t max_bytes, uint64_t wait_ms)
{
	struct waiter *w = calloc(1, sizeof(*w));
	if (!w || rpc_id_copy(&w->id, id) < 0) {
		free(w);
		return -ENOMEM;
	}
	w->c = c;
	w->sp = sp;
	w->after_seq = after;
	w->has_max = has_max;
	w->max_bytes = max_bytes;
	loop_timer_init(&w->timer, session_waiter_timeout);
	dlist_add_tail(&c->waiters, &w->conn_link);
	dlist_add_tail(&sp->waiters, &w->proc_link);
	proto_timer_arm(c->pr, &w->timer, wait_ms);
	return 0;
}

int session_keep_argv(struct sess_proc *sp, const char *const *argv)
{
	size_t n = 0;
	while (argv[n])
		n++;
	sp->argv = calloc(n + 1, sizeof(*sp->argv));
	if (!sp->argv)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		if (!(sp->argv[i] = strdup(argv[i])))
			return -ENOMEM;
	return 0;
}

/* ---- delivery: a chunk counts once its notification reached the socket ---- */

/* Every process/output queued on a connection comes through here
 * (by_read false), so this is where they are counted. */
static void session_mark_queued(struct sess_proc *sp, uint64_t end, uint64_t seq, bool by_read)
{
	if (!by_read)
		sp->s->pr->stats.output_messages++;
	if (sp->marks_count == sp->marks_cap) {
		size_t cap = sp->marks_cap ? sp->marks_cap * 2 : 16;
		struct sent_mark *m = malloc(cap * sizeof(*m));
		if (!m) {
			/* Cannot track it: count it delivered now, as before. */
			session_ops(sp)->set_delivered(sp->proc, seq);
			return;
		}
		for (size_t i = 0; i < sp->marks_count; i++)
			m[i] = sp->marks[(sp->marks_head + i) % sp->marks_cap];
		free(sp->marks);
		sp->marks = m;
		sp->marks_cap = cap;
		sp->marks_head = 0;
	}
	sp->marks[(sp->marks_head + sp->marks_count++) % sp->marks_cap] =
		(struct sent_mark){ .end = end, .seq = seq, .by_read = by_read };
	if (dlist_empty(&sp->unconfirmed_link))
		dlist_add_tail(&sp->s->unconfirmed, &sp->unconfirmed_link);
}

/* A message carrying output up to seq reached the socket. The delivered
 * mark is one watermark, so after a resume it must not pass the backlog
 * kept while detached until a process/read has sent that backlog too. */
static void session_confirm(struct sess_proc *sp, uint64_t seq, bool by_read)
{
	const struct engine_ops *ops = session_ops(sp);
	if (!sp->backlog_end) {
		ops->set_delivered(sp->proc, seq);
		return;
	}
	if (!by_read) {
		if (seq > sp->note_confirmed)
			sp->note_confirmed = seq;
		return;
	}
	if (seq >= sp->backlog_end) {
		sp->backlog_end = 0;
		ops->set_delivered(sp->proc, seq > sp->note_confirmed ? seq : sp->note_confirmed);
	} else {
		ops->set_delivered(sp->proc, seq);
	}
}

static bool session_should_pause(struct sess_proc *sp);

void session_on_sent(struct session *s)
{
	if (!s->conn)
		return;
	uint64_t sent = s->conn->io->sent_total(s->conn->io_ctx);
	struct dlist *n = s->unconfirmed.next;
	while (n != &s->unconfirmed) {
		struct dlist *next = n->next;
		struct sess_proc *sp = container_of(n, struct sess_proc, unconfirmed_link);
		while (sp->marks_count && sp->marks[sp->marks_head].end <= sent) {
			struct sent_mark m = sp->marks[sp->marks_head];
			sp->marks_head = (sp->marks_head + 1) % sp->marks_cap;
			sp->marks_count--;
			session_confirm(sp, m.seq, m.by_read);
		}
		if (!sp->marks_count)
			dlist_del(&sp->unconfirmed_link);
		/* Resume below half the high mark (PROTOCOL §6), not at it: a
		 * pause for the queue ends with drained(); this one catches a
		 * backlog read out while the queue stayed low. */
		if (sp->paused && !session_should_pause(sp) &&
		    s->conn->io->queued(s->conn->io_ctx) <= s->pr->cfg.send_high_water / 2) {
			sp->paused = false;
			session_ops(sp)->resume_output(sp->proc);
		}
		n = next;
	}
}

void session_read_sent(struct conn *c, struct sess_proc *sp, uint64_t seq)
{
	session_mark_queued(sp, c->io->queued_end(c->io_ctx), seq, true);
}

/* The connection is gone: what it had not sent stays undelivered. */
static void session_forget_marks(struct session *s)
{
	while (!dlist_empty(&s->unconfirmed)) {
		struct sess_proc *sp = container_of(s->unconfirmed.next, struct sess_proc,
						    unconfirmed_link);
		sp->marks_count = 0;
		dlist_del(&sp->unconfirmed_link);
	}
}

/* ---- engine events -> notifications ---- */

/* Should this process's output reads pause? Attached: while the send queue
 * is above its high-water mark. Detached: once its undelivered output fills
 * the retention, so nothing unseen is ever dropped. */
static bool session_should_pause(struct sess_proc *sp)
{
	struct session *s = sp->s;
	struct conn *c = s->conn;
	if (!c)
		return outlog_undelivered_bytes(s->pr->ops->log(sp->proc)) >= s->pr->cfg.retain_bytes;
	/* Attached: until the backlog kept while detached has been read (the
	 * log could not trim meanwhile), and above the send queue's high mark. */
	return sp->backlog_end || c->io->queued(c->io_ctx) > s->pr->cfg.send_high_water;
}

/* process/output as JSON, encoded straight into the send queue when the
 * transport allows it (big chunks are not copied once more). 0 or -errno. */
static int session_output_json(struct sess_proc *sp, struct conn *cn,
			       const struct outlog_chunk *c)
{
	struct proto *pr = sp->s->pr;
	size_t hint = (c->len + 2) / 3 * 4 + sp->id_len + 96;
	struct buf *out = cn->io->msg_begin ? cn->io->msg_begin(cn->io_ctx, hint) : NULL;
	struct jw w;
	if (!out) {
		out = &pr->scratch;
		buf_reset(out);
	}
	jw_init(&w, out);
	rpc_notification_begin(&w, "process/output");
	jw_obj_open(&w);
	jw_key(&w, "processId");
	jw_str(&w, sp->id, sp->id_len);
	jw_key(&w, "seq");
	jw_u64(&w, c->seq);
	jw_key(&w, "stream");
	jw_cstr(&w, session_stream_names[c->stream]);
	jw_key(&w, "chunk");
	jw_b64(&w, c->data, c->len);
	jw_obj_close(&w);
	rpc_notification_end(&w);
	if (out != &pr->scratch)
		return cn->io->msg_end(cn->io_ctx, jw_ok(&w));
	return jw_ok(&w) ? cn->io->send(cn->io_ctx, out->data, out->len) : -ENOMEM;
}

/* Stream codes of a binary output frame; the outlog's own numbering
 * is not the wire's. */
static const uint8_t session_stream_codes[] = {
	[OUTLOG_STDOUT] = 0, [OUTLOG_STDERR] = 1, [OUTLOG_PTY] = 2,
};

#define SESSION_BIN_HEAD 12	/* kind, stream, seq, processId length */

/* process/output as one binary frame (PROTOCOL §5a): u8 kind 1, u8
 * stream, u64 seq, u16 processId length, the processId, the raw bytes;
 * integers big-endian. 0 or -errno. */
static int session_output_binary(struct sess_proc *sp, struct conn *cn,
				 const struct outlog_chunk *c)
{
	struct buf *out = cn->io->bin_begin(cn->io_ctx, SESSION_BIN_HEAD + sp->id_len + c->len);
	if (!out)
		return -ENOMEM;
	uint8_t *h = (uint8_t *)buf_tail(out);
	h[0] = 1;
	h[1] = session_stream_codes[c->stream];
	for (int i = 0; i < 8; i++)
		h[2 + i] = (uint8_t)(c->seq >> (56 - 8 * i));
	h[10] = (uint8_t)(sp->id_len >> 8);
	h[11] = (uint8_t)sp->id_len;
	memcpy(h + SESSION_BIN_HEAD, sp->id, sp->id_len);
	memcpy(h + SESSION_BIN_HEAD + sp->id_len, c->data, c->len);
	out->len += SESSION_BIN_HEAD + sp->id_len + c->len;
	return cn->io->msg_end(cn->io_ctx, true);
}

static bool session_on_output(void *ctx, struct proc *p, const struct outlog_chunk *c)
{
	struct sess_proc *sp = ctx;
	struct session *s = sp->s;

	if (s->pr->ops->sandboxed(p))
		denied_feed(&sp->denied, c->data, c->len);
	if (s->conn) {
		struct conn *cn = s->conn;
		int r = cn->binary_output && cn->io->bin_begin ? session_output_binary(sp, cn, c)
							       : session_output_json(sp, cn, c);
		/* Not queued (nothing of it is: a message goes whole or not at
		 * all): the connection closes, and the chunk stays undelivered in
		 * the log for process/read after a resume. */
		if (r < 0)
			conn_send_failed(cn, r);
		if (r == 0)
			session_mark_queued(sp, cn->io->queued_end(cn->io_ctx), c->seq, false);
	}
	session_wake(sp);
	if (session_should_pause(sp)) {
		sp->paused = true;
		if (s->conn)
			s->pr->stats.pauses_send_queue++;
		else
			s->pr->stats.pauses_detached++;
		return false;
	}
	return true;
}

static void session_notify_simple(struct sess_proc *sp, const char *method, uint64_t seq,
				  bool with_exit, int code, int signo)
{
	struct session *s = sp->s;
	struct proto *pr = s->pr;
	if (!s->conn)
		return;
	struct jw w;
	buf_reset(&pr->scratch);
	jw_init(&w, &pr->scratch);
	rpc_notification_begin(&w, method);
	jw_obj_open(&w);
	jw_key(&w, "processId");
	jw_str(&w, sp->id, sp->id_len);
	jw_key(&w, "seq");
	jw_u64(&w, seq);
	if (with_exit) {
		jw_key(&w, "exitCode");
		jw_i64(&w, code);
		jw_key(&w, "sandboxDenied");
		jw_bool(&w, denied_verdict(&sp->denied, pr->ops->sandboxed(sp->proc), code));
		jw_key(&w, "signal");
		if (signo && sigabbrev_np(signo)) {
			char name[32];
			snprintf(name, sizeof(name), "SIG%s", sigabbrev_np(signo));
			jw_cstr(&w, name);
		} else {
			jw_null(&w);
		}
		jw_key(&w, "timedOut");
		jw_bool(&w, sp->timed_out);
	}
	jw_obj_close(&w);
	rpc_notification_end(&w);
	conn_send_note(s->conn, &w);
}

static void session_on_exited(void *ctx, struct proc *p, uint64_t seq, int code, int signo)
{
	(void)p;
	struct sess_proc *sp = ctx;
	proto_timer_cancel(sp->s->pr, &sp->timeout);
	session_notify_simple(sp, "process/exited", seq, true, code, signo);
	session_wake(sp);
}

static void session_on_closed(void *ctx, struct proc *p, uint64_t seq)
{
	(void)p;
	struct sess_proc *sp = ctx;
	struct session *s = sp->s;
	sp->closed = true;
	proto_timer_cancel(s->pr, &sp->grace);
	if (s->open_procs)
		s->open_procs--;
	session_notify_simple(sp, "process/closed", seq, false, 0, 0);
	session_wake(sp);
	proto_timer_arm(s->pr, &sp->retain, s->pr->cfg.retain_ms);
}

void session_resume_output(struct session *s)
{
	for (struct dlist *n = s->order.next; n != &s->order; n = n->next) {
		struct sess_proc *sp = container_of(n, struct sess_proc, link);
		if (!sp->paused || session_should_pause(sp))
			continue;
		sp->paused = false;
		s->pr->ops->resume_output(sp->proc);
	}
}

void session_resume(struct session *s, struct conn *c)
{
	proto_timer_cancel(s->pr, &s->ttl);
	s->pr->stats.sessions_resumed++;
	session_attach(s, c);
	/* What was kept while detached is the client's to read: remember where it ends. */
	for (struct dlist *n = s->order.next; n != &s->order; n = n->next) {
		struct sess_proc *sp = container_of(n, struct sess_proc, link);
		const struct outlog *log = s->pr->ops->log(sp->proc);
		sp->note_confirmed = 0;
		sp->backlog_end = 0;
		if (outlog_count(log) && outlog_undelivered_bytes(log))
			sp->backlog_end = outlog_at(log, outlog_count(log) - 1)->seq;
	}
	session_resume_output(s);
}

/* ---- detach ---- */

void session_free(struct session *s)
{
	if (s->conn)
		s->conn->sess = NULL;
	dlist_del(&s->link);
	proto_timer_cancel(s->pr, &s->ttl);
	while (!dlist_empty(&s->order))
		session_entry_free(container_of(s->order.next, struct sess_proc, link));
	fs_session_free(s);
	idmap_del(&s->pr->sessions, s->id, 36);
	idmap_free(&s->procs);
	free(s);
}

static void session_ttl_expired(struct loop_timer *t)
{
	struct session *s = container_of(t, struct session, ttl);
	log_info("session %s expired: killing its processes", s->id);
	s->pr->stats.sessions_expired++;
	session_free(s);
}

void session_detach(struct session *s)
{
	if (s->conn)
		s->conn->sess = NULL;
	s->conn = NULL;
	session_forget_marks(s);
	if (s->pr->cfg.session_ttl_ms == 0) {
		session_free(s);
		return;
	}
	/* Processes keep running and their output is kept; reads pause once a
	 * process's undelivered output fills its retention. */
	proto_timer_arm(s->pr, &s->ttl, s->pr->cfg.session_ttl_ms);
}
