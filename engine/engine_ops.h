/* engine_ops: the engine as proto/ sees it, one table of operations.
 *
 * proto/ reaches processes and time through struct engine_ops and nothing
 * else: it makes a proc (handing it the observer of proc.h, which reports
 * output, exited, closed, stdin room and a deferred spawn's outcome),
 * starts it, writes its stdin (close_stdin ends it), signals, resizes and
 * releases it, reads its state and its log, moves its delivered mark,
 * resumes its paused output, asks whether sandboxing can be had, and arms
 * and cancels the timers it embeds (timer.h); for the fs methods, it
 * reads whole files, watches directories and runs tasks through the ring
 * (fileio.h), and has fs work done inside a policy's sandbox (sandbox.h).
 * engine_ring_ops (engine_ops.c) is
 * the real table, on the ring; tests/fake/fake_engine.c is a scripted one,
 * so that conn, session and methods run whole with no ring and no child.
 *
 * struct engine and struct proc are opaque handles here: only the table
 * that made one looks inside it. The log comes back as a const pointer:
 * an outlog is pure data (outlog.h), read in place by cursor, so a
 * process/read costs no call per chunk and a fake keeps a real outlog.
 * Must not grow anything that only one caller's convenience needs.
 */
#ifndef RINGEXEC_ENGINE_OPS_H
#define RINGEXEC_ENGINE_OPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "fileio.h"
#include "outlog.h"
#include "proc.h"
#include "timer.h"

struct engine;
struct proc;
struct sandbox;
struct sandbox_policy;

struct engine_ops {
	/* -- a process's life (proc.h says what each one promises) -- */

	/* A new proc in STARTING, reporting to obs with ctx; NULL on ENOMEM. */
	struct proc *(*proc_new)(struct engine *eng, const struct proc_observer *obs, void *ctx);
	/* Spawn it: 0 (RUNNING), -errno (it stays STARTING and must be
	 * released), or -EINPROGRESS for a sandboxed start whose sandbox is
	 * being made ready: obs->spawned() tells the outcome later. */
	int (*start)(struct proc *p, const struct proc_spec *spec);
	/* Let go: the observer is never called again, the group is killed
	 * unless closed, and the handle must not be used after this. */
	void (*release)(struct proc *p);
	/* Queue stdin bytes, whole or not at all; close_stdin ends stdin
	 * after them (a PTY gets VEOF). */
	enum proc_write_status (*write)(struct proc *p, const void *data, size_t len,
					bool close_stdin);
	/* Stdin open and its queue at PROC_STDIN_LIMIT: wait for stdin_ready. */
	bool (*stdin_full)(const struct proc *p);
	/* Signal the group: 0 or -errno (-ESRCH: nothing left). A SIGKILL
	 * while a deferred start waits kills it the moment it is spawned. */
	int (*signal)(struct proc *p, int sig);
	/* PTY window size: 0, -ENOTTY for pipes, -EBADF once stdin is gone. */
	int (*resize)(struct proc *p, unsigned short rows, unsigned short cols);
	/* Read output again after the observer's output() returned false. */
	void (*resume_output)(struct proc *p);
	/* Output up to seq has reached a client: the log may drop it. */
	void (*set_delivered)(struct proc *p, uint64_t seq);

	/* -- what a process is -- */
	enum proc_state (*state)(const struct proc *p);
	pid_t (*pid)(const struct proc *p);
	bool (*is_tty)(const struct proc *p);
	bool (*sandboxed)(const struct proc *p);
	/* True once `exited` has its seq; then *seq and *exit_code are set. */
	bool (*exit_event)(const struct proc *p, uint64_t *seq, int *exit_code);
	/* The seq the next event will take. */
	uint64_t (*next_seq)(const struct proc *p);
	/* Its retained output, read in place (outlog.h); valid until release. */
	const struct outlog *(*log)(const struct proc *p);

	/* -- the engine -- */

	/* Can sandboxed starts be had? *why (if asked) says how, or why not. */
	bool (*sandbox_available)(const struct engine *eng, const char **why);
	/* (Re)arm t to fire after ms; never fails. Cancel: not armed after. */
	void (*timer_arm)(struct engine *eng, struct loop_timer *t, uint64_t ms);
	void (*timer_cancel)(struct engine *eng, struct loop_timer *t);

	/* -- the fs methods' work (fileio.h and sandbox.h say what each
	 * promises; a fake may answer -ENOSYS) -- */
	int (*read_start)(struct engine *eng, int fd, size_t size_hint, size_t max,
			  fileio_read_done *done, void *ctx, struct fileio_read **out);
	void (*read_cancel)(struct fileio_read *r);
	int (*watch_new)(struct engine *eng, struct fileio_watch **out);
	int (*watch_dir)(struct fileio_watch *w, const char *dir);
	void (*watch_start)(struct fileio_watch *w, fileio_watch_event *fn, void *ctx);
	void (*watch_drop)(struct fileio_watch *w);
	int (*task_new)(struct engine *eng, fileio_task_fn *fn, void *ctx, struct fileio_task **out);
	void (*task_next)(struct fileio_task *t);
	void (*task_free)(struct fileio_task *t);
	/* A policy's template (built now if none is cached): 0 or -errno. */
	int (*sandbox_get)(struct engine *eng, const struct sandbox_policy *policy,
			   struct sandbox **out);
	/* fn(arg) in a child that entered sb (sandbox.h): its return, or -errno. */
	int (*sandbox_run)(struct engine *eng, struct sandbox *sb, int (*fn)(void *arg), void *arg);
};

/* The real table: eng is the struct engine of engine.h, procs are proc.h's. */
extern const struct engine_ops engine_ring_ops;

#endif
