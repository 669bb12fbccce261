/* proc: one child process, from spawn to the last byte of its output.
 *
 * A proc spawns on pipes or a PTY, reads its output streams into its outlog
 * (each chunk takes the next seq), waits for its exit on the pidfd, writes
 * queued stdin bytes in order, and reports output, exited and closed to an
 * observer, in seq order. State: STARTING -> RUNNING -> EXITED (draining)
 * -> CLOSED. Knows no JSON and no sockets; its owner is the session.
 */
#ifndef RINGEXEC_PROC_H
#define RINGEXEC_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "outlog.h"

struct engine;
struct proc;
struct sandbox_policy;

enum proc_state {
	PROC_STARTING,	/* id reserved, spawn not returned yet */
	PROC_RUNNING,	/* spawned, exit not known */
	PROC_EXITED,	/* reaped; output may still be draining */
	PROC_CLOSED,	/* exit known, every stream ended: nothing more comes */
};

enum proc_write_status {
	PROC_WRITE_ACCEPTED,
	PROC_WRITE_STARTING,
	PROC_WRITE_STDIN_CLOSED,
	PROC_WRITE_UNKNOWN,
	PROC_WRITE_NOMEM,	/* proc_write only: out of memory, nothing taken */
};

struct proc_observer {
	/* A chunk was appended (c lives in the proc's log). Return false to
	 * pause this proc's output reads until proc_resume_output(). */
	bool (*output)(void *ctx, struct proc *p, const struct outlog_chunk *c);
	/* The exit, with its seq. exit_code is the status or 128+signal;
	 * signo the terminating signal or 0. */
	void (*exited)(void *ctx, struct proc *p, uint64_t seq, int exit_code, int signo);
	/* The last event. */
	void (*closed)(void *ctx, struct proc *p, uint64_t seq);
	/* The stdin queue fell below PROC_STDIN_LIMIT, or stdin ended: writes
	 * held back for room can go on. */
	void (*stdin_ready)(void *ctx, struct proc *p);
	/* A spawn that proc_spawn answered -EINPROGRESS is done: err 0 (the
	 * proc is RUNNING; its events follow) or -errno (it stays STARTING
	 * and must be released). */
	void (*spawned)(void *ctx, struct proc *p, int err);
};

/* Bytes of stdin queued per process before writers must wait. */
#define PROC_STDIN_LIMIT (8u << 20)

struct proc_spec {
	const char *const *argv;	/* NULL-terminated, non-empty */
	const char *arg0;		/* argv[0] the child sees, or NULL */
	const char *const *envp;	/* NULL-terminated complete environment */
	const char *cwd;		/* absolute directory, or NULL */
	bool tty;			/* PTY instead of pipes */
	bool pipe_stdin;		/* pipes only: stdin is a pipe, not /dev/null */
	unsigned short rows, cols;	/* PTY size */
	/* Run confined (sandbox.h); NULL: not sandboxed. Only read during
	 * proc_spawn. */
	const struct sandbox_policy *sandbox;
	bool net_restricted;		/* (set by proc_spawn from sandbox) */
};

/* The write status that a state gives (DESIGN "Spawning"). Pure. */
enum proc_write_status proc_write_status_of(enum proc_state state, bool stdin_open);

/* A new proc in STARTING; nothing is spawned yet. NULL on ENOMEM. */
struct proc *proc_new(struct engine *eng, const struct proc_observer *obs, void *ctx);
/* Spawn it: STARTING -> RUNNING and 0, or -errno (the proc stays STARTING
 * and must be released). Blocks only for the spawn itself. A sandboxed
 * spawn whose template is still being built (or whose spare PID namespace
 * is warming up) answers -EINPROGRESS: spec is copied, the proc stays
 * STARTING, and the observer's spawned() tells the outcome later. A
 * sandbox that cannot be had is -EOPNOTSUPP, never a spawn without it. */
int proc_spawn(struct proc *p, const struct proc_spec *spec);
/* The owner lets go: the observer is never called again, the process group
 * gets SIGKILL unless closed, and the proc frees itself once its ops end. */
void proc_release(struct proc *p);

/* Queue len bytes for the child's stdin (copied). The status says whether
 * they were taken. With close_stdin, stdin ends after these bytes: a pipe
 * is closed once they are written; a PTY gets VEOF (twice when the last
 * byte written was not a newline, so a partial line is flushed first).
 * PROC_WRITE_NOMEM: neither the bytes nor the end were taken. */
enum proc_write_status proc_write(struct proc *p, const void *data, size_t len, bool close_stdin);
/* Bytes queued for stdin and not yet written. */
size_t proc_stdin_queued(const struct proc *p);
/* True when stdin is open and its queue holds PROC_STDIN_LIMIT or more:
 * a writer should wait for stdin_ready(). */
bool proc_stdin_full(const struct proc *p);

/* Set the PTY window size (the foreground group gets SIGWINCH). 0, -ENOTTY
 * for a pipe process, or -errno. */
int proc_resize(struct proc *p, unsigned short rows, unsigned short cols);

/* Send sig to the process group. 0 or -errno (-ESRCH when nothing is left).
 * A proc still STARTING takes a SIGKILL as "kill it the moment it is
 * spawned" (0). */
int proc_signal(struct proc *p, int sig);
/* True while the exit is not known. */
bool proc_running(const struct proc *p);
/* True when it runs in a sandbox. */
bool proc_sandboxed(const struct proc *p);
/* Does a sandboxed p (or one of its descendants, or an orphan its
 * namespace's init adopted) hold the peer: unix pid, or (for a sandbox
 * whose network is open) the TCP socket inode? Reads /proc. */
bool proc_holds_peer(const struct proc *p, pid_t pid, uint64_t inode);

/* Resume output reads paused by the observer's output() returning false. */
void proc_resume_output(struct proc *p);

enum proc_state proc_state(const struct proc *p);
pid_t proc_pid(const struct proc *p);
bool proc_is_tty(const struct proc *p);
const struct outlog *proc_log(const struct proc *p);
/* The next seq to be assigned. */
uint64_t proc_next_seq(const struct proc *p);
/* True once `exited` has its seq; then *seq and *exit_code are set. */
bool proc_exit_event(const struct proc *p, uint64_t *seq, int *exit_code);
/* The observer's context (the owner's entry). */
void *proc_ctx(const struct proc *p);
/* Mark output up to seq as received by a client (lets the log trim it). */
void proc_set_delivered(struct proc *p, uint64_t seq);

#endif
