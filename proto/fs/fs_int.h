/* fs_int: what the files of the fs family share.
 *
 * A request is answered in three steps: decode (params into the method's
 * request struct; struct fs_err carries the -32602 and friends), execute
 * (ops.h: the filesystem work, a result or -errno, run by fs_run() here or
 * inside the request's sandbox), encode (the result into the reply).
 * Work on whole trees is an fs_job, a slice per loop turn. State that
 * outlives a request hangs off its owner: handles and watches off the
 * session (struct fs_session), pending reads and jobs off the connection
 * (struct fs_conn).
 * Must not: be included outside proto/fs/ (fs.h is the family's face).
 */
#ifndef RINGEXEC_FS_INT_H
#define RINGEXEC_FS_INT_H

#include "fs.h"
#include "ops.h"
#include "proto_int.h"
#include "sbpolicy.h"

#define FS_RPC_NOT_FOUND -32004
#define FS_READ_MAX (256u << 20)	/* largest file fs/readFile returns */
#define FS_BLOCK_MAX 1048576u		/* fs/readBlock len limit */
#define FS_HANDLES_MAX 1024		/* open handles per session */
#define FS_WATCHES_MAX 256		/* live watches per session */
#define FS_WATCH_IDS_MAX 65536		/* watchIds remembered per session */

/* A decode or check that failed: the reply's code and text. */
struct fs_err {
	int code;
	char msg[512];
};

/* One fs request being answered. */
struct fs_call {
	struct conn *c;
	const struct rpc_id *id;
	struct sbpolicy *sp;		/* the enforced sandbox policy, or NULL */
};

typedef void fs_method(struct fs_call *k, const json_t *params);

/* ---- fs.c: decode, run, reply ---- */

/* Fill e from a params decoder's failure (-32602, or -32603 out of memory). Returns -1. */
int fs_err_pd(struct fs_err *e, const struct pd_err *pe);
/* Fill e with code and a text. Returns -1. */
int fs_err_set(struct fs_err *e, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* params is an object ("invalid type: null, expected struct NAME"). 0 or -1. */
int fs_decode_object(const json_t *params, const char *name, struct fs_err *e);
/* A file: URI member decoded to a malloc'd path (*out NULL when optional
 * and absent). 0 or -1. */
int fs_decode_path(const json_t *params, const char *key, bool required, char **out,
		   struct fs_err *e);
/* A required u64 ("u64" or "usize") member: "missing field `KEY`" when absent. 0 or -1. */
int fs_decode_u64(const json_t *params, const char *key, const char *expected, uint64_t *out,
		  struct fs_err *e);

void fs_reply_err(struct fs_call *k, const struct fs_err *e);
/* An OS error (err < 0): "TEXT (os error N)", -32004 for ENOENT,
 * -32600 for EACCES/EPERM, else -32603. */
void fs_reply_os(struct fs_call *k, int err);
void fs_reply_oom(struct fs_call *k);
void fs_reply_empty(struct fs_call *k);
/* The reference's (musl's) text for errno err. */
const char *fs_strerror(int err);
/* The handshake gate of the filesystem family (replies when closed). */
bool fs_gate(struct fs_call *k);

/* Run the execute step fn(arg) (it returns 0; its result is in arg):
 * here, or inside k's sandbox. 0 once it ran; -1 when it could not run
 * (answered). Nothing in fn may touch the connection or the ring. */
int fs_run(struct fs_call *k, int (*fn)(void *arg), void *arg);
/* The same with no one to answer: here when sp is NULL, else inside sp's
 * template. fn's result, -EOPNOTSUPP (no template), or -errno. */
int fs_run_confined(struct proto *pr, struct sbpolicy *sp, int (*fn)(void *arg), void *arg);
/* Move k's policy (if any) into *out (zeroed when none), for work that
 * outlives the request (jobs, watches); k is left without one. True when
 * there was one. */
bool fs_policy_take(struct fs_call *k, struct sbpolicy *out);

/* ---- fs.c: state hung off its owner ---- */

struct fs_session {
	struct dlist handles;		/* struct fs_handle (handle.c) */
	size_t nhandles;
	struct dlist watches;		/* struct fs_watch (watch.c) */
	size_t nwatches;
	uint64_t *watch_ids;		/* every watchId registered */
	size_t nwatch_ids, watch_ids_cap;
};

/* The session's fs state, made on first use when create (NULL: out of memory, or none). */
struct fs_session *fs_session_of(struct session *s, bool create);

struct fs_conn {
	struct conn *c;
	struct dlist reads;		/* struct fs_read: fs/readFile in flight (file.c) */
	struct dlist jobs;		/* struct fs_job: the first runs, a slice a turn;
					   requests that came meanwhile wait in line */
	size_t ndeferred;		/* of those, requests waiting */
	bool running;			/* the queue is being run (job.c) */
	struct fileio_task *task;	/* runs the first job's next slice */
};

/* The connection's fs state, made on first use (NULL: out of memory). */
struct fs_conn *fs_conn_of(struct conn *c);

/* handle.c, watch.c, file.c: free what a session or connection leaves. */
void fs_handles_free(struct fs_session *fss);
void fs_watches_drop(struct fs_session *fss);
void fs_reads_cancel(struct fs_conn *fc);

/* ---- job.c: work in slices ---- */

struct fs_job;

struct fs_job_ops {
	/* Execute one slice (run by fs_run: no JSON, no connection): 1 when
	 * another slice is needed, 0 when done, or -errno (done). */
	int (*step)(struct fs_job *j);
	/* On the loop after each slice: encode what it produced (may be NULL). */
	void (*encode)(struct fs_job *j);
	/* The work is done: reply (j->call answers). */
	void (*finish)(struct fs_job *j);
	/* Free the method's state (the struct the job is embedded in). */
	void (*free)(struct fs_job *j);
};

struct fs_job {
	const struct fs_job_ops *ops;
	struct dlist link;		/* in fs_conn.jobs */
	struct fs_call call;		/* c; id is &id; sp is &sp when confined */
	struct rpc_id id;		/* owned copy */
	struct sbpolicy sp;		/* owned (taken from the request) */
	int r;				/* the last step's result */
};

/* Queue j (embedded in the method's state, ops set) behind the
 * connection's other jobs and run its first slice now if it is first.
 * Takes k's policy. On failure (out of memory) answers and frees j. */
void fs_job_start(struct fs_call *k, struct fs_job *j);
/* An fs request for c: queued (true) when c's jobs are running, to be
 * dispatched in its turn (or answered out of memory); false: run it now. */
bool fs_jobs_defer(struct conn *c, const struct rpc_id *id, const json_t *params, fs_method *fn);
/* Decode the request's sandbox, then run fn (fs.c). */
void fs_dispatch(struct conn *c, const struct rpc_id *id, const json_t *params, fs_method *fn);
/* Drop every job of fc without answering (its connection is gone). */
void fs_jobs_free(struct fs_conn *fc);
/* fc->task's function: the next slice of fc's first job. */
void fs_jobs_tick(void *fc);

/* ---- the families' handlers ---- */

fs_method fs_get_metadata, fs_read_file, fs_write_file, fs_create_directory, fs_canonicalize;
fs_method fs_read_directory, fs_walk;
fs_method fs_copy, fs_remove;
fs_method fs_open, fs_read_block, fs_write_block, fs_close;
fs_method fs_watch_missing;

#endif
