/* proto_int: the structs shared by conn.c, session.c and methods.c.
 *
 * The engine is reached through pr->ops (engine/engine_ops.h) only: no loop.h,
 * no proc_*() call, so a test can hand proto a fake engine.
 */
#ifndef RINGEXEC_PROTO_INT_H
#define RINGEXEC_PROTO_INT_H

#include <errno.h>		/* -errno values throughout proto/ */
#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "conn.h"
#include "denied.h"
#include "idmap.h"
#include "jsonrpc.h"
#include "engine_ops.h"
#include "timer.h"
#include "util.h"

/* An intrusive doubly-linked list. */
struct dlist {
	struct dlist *prev, *next;
};

static inline void dlist_init(struct dlist *l) { l->prev = l->next = l; }
static inline bool dlist_empty(const struct dlist *l) { return l->next == l; }
static inline void dlist_add_tail(struct dlist *head, struct dlist *n)
{
	n->prev = head->prev;
	n->next = head;
	head->prev->next = n;
	head->prev = n;
}
static inline void dlist_del(struct dlist *n)
{
	n->prev->next = n->next;
	n->next->prev = n->prev;
	n->prev = n->next = n;
}

#define WRITE_IDS_KEPT 4096

struct proto {
	const struct engine_ops *ops;	/* the engine, as a table (engine_ops.h) */
	struct engine *eng;		/* its handle, passed to the table */
	struct proto_config cfg;
	struct idmap sessions;		/* sessionId -> struct session */
	struct dlist all_sessions;	/* the same sessions, for shutdown */
	struct buf scratch;		/* encoding buffer, reused per message */
	struct proto_stats stats;	/* counters; gauges are filled by proto_stats() */
};

enum conn_phase {
	CONN_NEW,		/* nothing yet */
	CONN_INITIALIZING,	/* initialize answered, initialized not seen */
	CONN_READY,		/* process methods allowed */
};

struct conn {
	struct proto *pr;
	const struct conn_io *io;	/* the transport's callbacks */
	void *io_ctx;
	char peer[64];			/* "IP:PORT" for error texts and logs */
	enum conn_phase phase;
	struct session *sess;		/* attached session, after initialize */
	struct dlist waiters;		/* pending long-poll reads (struct waiter) */
	struct dlist held;		/* process/writes waiting for stdin room */
	size_t held_bytes;		/* their payload bytes */
	bool recv_paused;		/* we asked the transport to stop reading */
	bool binary_output;		/* initialize asked for binary output frames and
					   the transport has them (PROTOCOL §5a) */
	struct fs_conn *fs;		/* pending fs reads and jobs (fs/), or NULL */
};

/* A connection whose held writes carry more than this stops being read. */
#define CONN_HELD_MAX (16u << 20)

struct session {
	struct proto *pr;
	struct dlist link;		/* in pr->all_sessions */
	char id[37];			/* UUID v4 text */
	struct conn *conn;		/* attached connection, or NULL */
	struct idmap procs;		/* processId -> struct sess_proc */
	struct dlist order;		/* sess_procs in start order */
	size_t open_procs;		/* entries not yet closed */
	struct dlist unconfirmed;	/* sess_procs with output queued but not yet sent */
	struct loop_timer ttl;		/* while detached: the end of the session */
	uint64_t attach_gen;		/* counts attaches (a deferred reply goes only to
					   the connection that asked) */
	struct fs_session *fs;		/* fs handles and watches (fs/), or NULL */
};

/* Output queued on the connection: delivered once sent_total reaches end. */
struct sent_mark {
	uint64_t end;			/* queued_end right after the message */
	uint64_t seq;			/* the (last) chunk's seq */
	bool by_read;			/* a process/read result, not a notification */
};

/* One processId of a session: its proc, retention and waiting readers. */
struct sess_proc {
	struct session *s;
	char *id;			/* processId, NUL-terminated */
	size_t id_len;
	struct proc *proc;		/* owned; released when the entry goes */
	struct dlist link;		/* in s->order */
	struct dlist waiters;		/* long-poll reads on this process */
	struct loop_timer retain;	/* removal after close + retain_ms */
	struct loop_timer timeout;	/* timeoutMs: SIGKILL when it fires */
	bool timed_out;			/* the timeout killed it */
	struct loop_timer grace;	/* terminate graceMs: SIGKILL when it fires */
	struct dlist held;		/* writes waiting for stdin room, in order */
	bool paused;			/* output reads paused by back-pressure */
	bool closed;			/* `closed` was emitted */
	struct dlist unconfirmed_link;	/* in s->unconfirmed while marks are pending */
	struct sent_mark *marks;	/* FIFO ring of queued-not-sent chunks */
	size_t marks_head, marks_count, marks_cap;
	uint64_t backlog_end;		/* after a resume: last seq the client must still
					   read; 0 when it has caught up */
	uint64_t note_confirmed;	/* notifications sent up to here meanwhile */
	char **argv;			/* copy of argv, for process/list */
	uint64_t started_at_ms;		/* wall clock at start, for process/list */
	struct write_id {
		char *id;		/* owned, may hold NUL bytes */
		size_t len;
	} *write_ids;			/* ring of the last WRITE_IDS_KEPT writeIds */
	size_t write_ids_next;		/* next slot of the ring */
	struct idmap write_id_set;	/* the same ids, for lookup */
	struct denied denied;		/* sandboxDenied: a phrase in its output? */
	/* A process/start whose (sandboxed) spawn was deferred: answered by
	 * methods_start_done() once the spawn is done. */
	bool start_pending;
	struct rpc_id start_id;		/* owned */
	uint64_t start_gen;		/* s->attach_gen when it was asked */
	bool start_sandbox;
	uint64_t start_timeout_ms;	/* timeoutMs to arm then, or 0 */
};

/* A process/write held back until the process's stdin queue has room. */
struct held_write {
	struct conn *c;
	struct sess_proc *sp;
	struct dlist conn_link;		/* in c->held */
	struct dlist proc_link;		/* in sp->held */
	struct rpc_id id;		/* owned copy */
	char *data;			/* decoded bytes, owned */
	size_t len;
	bool close_stdin;
	char *write_id;			/* owned, or NULL */
	size_t write_id_len;
};

/* A process/read that waits for output, exit or close. */
struct waiter {
	struct conn *c;
	struct sess_proc *sp;
	struct dlist conn_link;		/* in c->waiters */
	struct dlist proc_link;		/* in sp->waiters */
	struct rpc_id id;		/* owned copy */
	uint64_t after_seq;
	bool has_max;
	uint64_t max_bytes;
	struct loop_timer timer;	/* waitMs deadline */
};

/* The engine table of a session's entry, and the timers through it. */
static inline const struct engine_ops *session_ops(const struct sess_proc *sp)
{
	return sp->s->pr->ops;
}
static inline void proto_timer_arm(struct proto *pr, struct loop_timer *t, uint64_t ms)
{
	pr->ops->timer_arm(pr->eng, t, ms);
}
static inline void proto_timer_cancel(struct proto *pr, struct loop_timer *t)
{
	pr->ops->timer_cancel(pr->eng, t);
}

/* conn.c */
/* The WebSocket close code when a message cannot be queued (1011: internal error). */
#define CONN_CLOSE_INTERNAL 1011
/* Queue b's message (and empty b). 0, or -errno after closing the
 * connection: a message is never lost or cut while it stays open. */
int conn_send_buf(struct conn *c, struct buf *b);
/* A notification encoded with w (into w->b): queue it whole, or close the
 * connection when encoding or queueing failed. 0 or -errno. */
int conn_send_note(struct conn *c, struct jw *w);
/* A message could not be queued (err): close the connection. */
void conn_send_failed(struct conn *c, int err);
void conn_reply_error(struct conn *c, const struct rpc_id *id, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
bool conn_gate(struct conn *c, const struct rpc_id *id, const char *family);
/* A result in the shared scratch buffer: begin, write the value, end (sends
 * it, or an out-of-memory error if encoding failed). True when the result
 * itself was queued. */
struct jw conn_result_begin(struct conn *c, const struct rpc_id *id);
bool conn_result_end(struct conn *c, const struct rpc_id *id, struct jw *w);
/* The result `{}`. */
void conn_reply_empty(struct conn *c, const struct rpc_id *id);
/* Pause reading the client while its replies pile up above the send
 * high-water mark or its held writes exceed CONN_HELD_MAX; resume below. */
void conn_check_recv(struct conn *c);

/* session.c */
/* A new session with a fresh random id. 0, -ENOMEM, or getrandom's -errno. */
int session_new(struct proto *pr, struct session **out);
void session_attach(struct session *s, struct conn *c);
/* A detached session taken over by c (resume): stop its TTL, resume output. */
void session_resume(struct session *s, struct conn *c);
/* Output queued on the attached connection has reached its socket. */
void session_on_sent(struct session *s);
/* The connection is gone: with TTL 0 every process is killed and the session freed. */
void session_detach(struct session *s);
/* Kill the session's processes and free it (TTL expiry, shutdown). */
void session_free(struct session *s);
struct sess_proc *session_find(struct session *s, const char *id, size_t len);
/* Reserve id (STARTING) and spawn. On failure *errno_out (negative) says why and
 * nothing stays registered. -EEXIST: id taken. */
/* Drop an entry at once (a start that failed late). */
void session_entry_drop(struct sess_proc *sp);
/* methods.c: the deferred spawn of sp is done (err 0 or -errno): answer
 * the process/start, and on failure drop the entry. */
void methods_start_done(struct sess_proc *sp, int err);

struct sess_proc *session_start(struct session *s, const char *id, size_t len,
				const struct proc_spec *spec, int *err);
/* Write a process/read result for sp into w; true when it should be sent
 * now, with *last_seq the seq of the last chunk in it (0: none). */
bool session_read_result(struct jw *w, struct sess_proc *sp, uint64_t after, bool has_max,
			 uint64_t max_bytes, bool waited_out, uint64_t *last_seq);
/* A process/read result with chunks up to seq was queued on c. */
void session_read_sent(struct conn *c, struct sess_proc *sp, uint64_t seq);
/* Write to sp's stdin now, or hold the write (taking data) until there is
 * room; either way the reply is sent. 0 or -ENOMEM (data not taken). */
int session_write(struct conn *c, struct sess_proc *sp, const struct rpc_id *id, char *data,
		  size_t len, bool close_stdin, const char *write_id, size_t write_id_len);
/* Drop a held write without answering (its connection is gone). */
void session_held_free(struct held_write *h);
/* terminate with graceMs: SIGTERM+SIGCONT now, SIGKILL after ms. */
void session_terminate_grace(struct sess_proc *sp, uint64_t ms);
/* Kill the process group after ms (timeoutMs); `exited` says timedOut. */
void session_arm_timeout(struct sess_proc *sp, uint64_t ms);
/* Queue a long-poll read. 0 or -ENOMEM. */
int session_wait(struct conn *c, struct sess_proc *sp, const struct rpc_id *id, uint64_t after,
		 bool has_max, uint64_t max_bytes, uint64_t wait_ms);
/* Remember argv for process/list. 0 or -ENOMEM. */
int session_keep_argv(struct sess_proc *sp, const char *const *argv);
/* Drop a waiter without answering (its connection is gone). */
void session_waiter_free(struct waiter *w);
/* Resume output of every paused process of the session. */
void session_resume_output(struct session *s);

/* methods.c */
typedef void method_fn(struct conn *c, const struct rpc_id *id, const json_t *params);

struct method_entry {
	const char *name;
	method_fn *fn;
};

method_fn *methods_find(const char *name);
/* The handler named name in table[0..n), or NULL. */
method_fn *methods_lookup(const struct method_entry *table, size_t n, const char *name);

#endif
