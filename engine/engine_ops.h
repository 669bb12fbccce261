/* engine_ops: the engine as proto/ sees it, one table of operations.
 *
 * proto/ reaches processes and time through struct engine_ops and nothing
 * else: it makes a proc (handing it the observer of proc.h, which reports
 * output, exited, closed, stdin room and a deferred spawn's outcome),
 * starts it, writes its stdin (close_stdin ends it), signals, resizes and
 * releases it, reads its state and its log, moves its delivered mark,
 * resumes its paused output, asks whether sandboxing can be had, and arms
 * and cancels the timers it embeds (timer.h). engine_ring_ops (engine_ops.c) is
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

#include "outlog.h"
#include "proc.h"
#include "timer.h"

struct engine;
struct loop;
struct proc;

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

	/* The ring, for proto/fs.c's file reads and inotify watches until
	 * that work moves behind this table (engine/fileio); NULL in a fake,
	 * which does not run the fs methods. */
	struct loop *(*loop)(struct engine *eng);
};

/* The real table: eng is the struct engine of engine.h, procs are proc.h's. */
extern const struct engine_ops engine_ring_ops;

#endif
