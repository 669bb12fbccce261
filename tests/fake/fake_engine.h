/* fake_engine: a scripted engine behind the engine table (engine/engine_ops.h).
 *
 * What proto/ asks of it is done in memory: a start makes a scripted
 * process (no fork, no exec), a write queues bytes that the test lets the
 * "child" read, a signal is counted, timers wait in a list that the test
 * advances. What a process does is said by the test: emit this chunk on
 * stdout, end stderr, exit with 3, read 5 bytes of stdin; the engine's
 * side of it follows proc.c's rules (engine/proc.h): seqs from 1, `exited`
 * once every stream has ended or the drain timer fired, `closed` last,
 * stdin_ready while the stdin queue is under its limit, output paused
 * while the observer says so, a deferred sandboxed start (-EINPROGRESS)
 * answered by spawned() when the test makes the sandbox ready. Each
 * process keeps a real outlog (engine/outlog.c), so retention and the
 * delivered mark are the engine's own.
 *
 * Nothing here runs by itself: fake_run() is one turn of the loop (output
 * a process's pipe holds is read unless paused), fake_advance() is time.
 * A released process is never touched again (every table entry aborts on
 * one) and is freed at the next turn. Single-threaded; no ring, no child.
 */
#ifndef RINGEXEC_FAKE_ENGINE_H
#define RINGEXEC_FAKE_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "buf.h"
#include "engine_ops.h"

struct fake_config {
	size_t retain_bytes;		/* outlog caps per process (1 MiB, 50,000) */
	size_t retain_chunks;
	unsigned exit_drain_ms;		/* `exited` waits this long for streams (50) */
	size_t stdin_limit;		/* stdin_full at this many queued bytes
					   (PROC_STDIN_LIMIT) */
	bool no_sandbox;		/* sandbox_available() says no */
	/* A SIGKILL, SIGTERM, SIGINT or SIGHUP ends a running process at the
	 * next turn (its pipes end after what they hold), as a real one dies;
	 * off: signals are only counted and the test scripts the exit. */
	bool signals_kill;
};

/* A piece of a process's pipe not read yet: output, or its end. */
struct fake_chunk {
	struct fake_chunk *next;
	uint8_t stream;			/* enum outlog_stream */
	bool eof;			/* the stream ends here */
	size_t len;
	char data[];
};

struct fake_engine;

struct fake_proc {
	struct fake_engine *fe;
	size_t serial;			/* 1 for the first made, 2 for the next, ... */
	struct fake_proc *prev, *next;	/* fe->procs (creation order), or fe->dead */
	const struct proc_observer *obs;
	void *ctx;
	enum proc_state state;
	bool released;			/* the owner let go: nothing may touch it */
	bool tty, sandboxed;
	bool waiting;			/* -EINPROGRESS: waits for fake_sandbox_ready() */
	bool kill_on_spawn;		/* SIGKILL while waiting */
	bool pipe_stdin;		/* the start asked for it */
	bool paused;			/* the observer's output() returned false */
	pid_t pid;			/* 0 until spawned */
	char argv0[64];			/* the start's argv[0], cut to fit */
	struct outlog log;		/* the real thing */
	uint64_t next_seq;		/* from 1 */
	uint64_t exit_seq;		/* `exited`'s seq, 0 until emitted */
	bool reaped;			/* the exit is known */
	int exit_code, exit_signo;
	bool drain_expired;
	struct loop_timer drain;
	int nstreams;			/* 2 (stdout, stderr) or 1 (PTY) */
	bool ended[2];			/* the stream's EOF was read */
	bool eof_queued[2];		/* ... or is in the pipe */
	struct fake_chunk *pipe, **pipe_tail;	/* not read yet, in order */
	int doomed;			/* signals_kill: the signal that ends it */
	/* stdin */
	bool stdin_open;		/* writes reach the child */
	bool stdin_closing;		/* closeStdin seen */
	char last_stdin_byte;
	struct buf stdin_queue;		/* queued, not read by the child yet */
	struct buf stdin_read;		/* what the child has read */
	/* what it was asked */
	unsigned signals[65];		/* count per signal number */
	unsigned short rows, cols;	/* the last resize */
};

struct fake_engine {
	struct fake_config cfg;
	struct fake_proc *procs, *procs_tail;	/* not released, creation order */
	struct fake_proc *dead;			/* released, freed next turn */
	size_t live;				/* length of procs */
	struct loop_timer *timers, *timers_tail;	/* armed, in arming order */
	uint64_t now_ns;
	pid_t next_pid;
	bool sandbox_wait;		/* sandboxed starts answer -EINPROGRESS */
	/* One-shot failures: the next such call fails so. */
	bool fail_new;			/* proc_new: NULL */
	int fail_start;			/* start: this -errno */
	bool fail_write;		/* write: PROC_WRITE_NOMEM */
	int fail_signal;		/* signal: this -errno */
	/* Counts. */
	size_t made, released, release_kills;	/* release_kills: released while
						   not STARTING or CLOSED */
};

extern const struct engine_ops fake_engine_ops;

/* NULL on ENOMEM. cfg may be NULL (the defaults). */
struct fake_engine *fake_engine_new(const struct fake_config *cfg);
/* Free it and every process; returns how many were never released. */
size_t fake_engine_free(struct fake_engine *fe);
/* The handle proto_new() takes with fake_engine_ops. */
static inline struct engine *fake_engine_handle(struct fake_engine *fe)
{
	return (struct engine *)fe;
}
/* The fake behind a handle proto holds (sess_proc.proc). */
static inline struct fake_proc *fake_proc_of(struct proc *p) { return (struct fake_proc *)p; }
/* The i-th process not released, in creation order; NULL past the end. */
struct fake_proc *fake_nth(struct fake_engine *fe, size_t i);

/* -- the sandbox -- */
/* Sandboxed starts wait (-EINPROGRESS) from now until fake_sandbox_ready(). */
void fake_sandbox_wait(struct fake_engine *fe);
/* Every waiting start is done: spawned (err 0; one that was killed while
 * waiting gets its SIGKILL now) or failed (err < 0: -EOPNOTSUPP, as the
 * engine says for a sandbox it cannot have). Later starts do not wait. */
void fake_sandbox_ready(struct fake_engine *fe, int err);

/* -- a process's script (ignored once it cannot happen: not spawned,
 * closed, or that stream already ended) -- */
/* len bytes on a stream (a PTY process has one: any stream is its PTY). */
bool fake_output(struct fake_proc *p, int stream, const void *data, size_t len);
/* The stream ends after what its pipe holds. */
bool fake_eof(struct fake_proc *p, int stream);
/* Every stream ends. */
void fake_eof_all(struct fake_proc *p);
/* It is reaped: code is the status, or 128+signo when a signal ended it. */
bool fake_exit(struct fake_proc *p, int code, int signo);
/* The child reads up to n bytes of its stdin (SIZE_MAX: all); how many. */
size_t fake_stdin_take(struct fake_proc *p, size_t n);
/* The child's end of stdin is gone (EPIPE): stdin is over. */
void fake_stdin_gone(struct fake_proc *p);

/* -- the loop -- */
/* One turn: a process doomed by a signal dies, and every pipe is read (in
 * order) unless its process is paused. Frees released processes. */
void fake_run(struct fake_engine *fe);
/* ms pass: due timers fire in deadline order, each followed by a turn. */
void fake_advance(struct fake_engine *fe, uint64_t ms);

#endif
