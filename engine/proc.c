/* proc: one child process: spawn, output reads, exit wait, stdin, signals.
 *
 * Transitions (proc_on, one per event):
 *
 *   STARTING --spawned--> RUNNING --exit reaped--> EXITED --all streams
 *   ended--> CLOSED
 *
 * In EXITED the `exited` event waits for every stream to end, or for the
 * drain timer (exit_drain_ms), whichever comes first; output read after it
 * keeps flowing with higher seqs; `closed` comes once the exit has its seq
 * and every stream has ended. Every in-flight op is counted in `inflight`;
 * a released proc frees itself when that count reaches zero (DESIGN rule 1).
 * States, spawns (timed), bytes read and lifetimes are counted in the
 * engine's stats for the metrics: plain increments, no locks.
 */
#include "log.h"
#include "proc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "engine_int.h"
#include "loop.h"
#include "sandbox.h"
#include "spawn.h"

#define container_of(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))

/* Pipe capacity for a writer that fills whole read buffers (the default is 64 KiB). */
#define PROC_PIPE_BULK_SIZE (256 * 1024)

enum proc_event {
	EV_SPAWNED,		/* spawn returned 0 */
	EV_EXIT,		/* the child was reaped */
	EV_STREAM_END,		/* an output stream hit EOF (or failed) */
	EV_DRAIN_TIMEOUT,	/* exit_drain_ms passed since the exit */
};

struct proc_stream {
	struct loop_op op;	/* the read in flight, or the poll before it */
	struct proc *p;		/* owner */
	int fd;			/* read end / PTY master; -1 once ended */
	uint8_t kind;		/* enum outlog_stream */
	bool inflight;		/* a read is submitted */
	bool ended;		/* EOF, EIO on a PTY, or an error */
	bool grown;		/* pipe capacity raised for a bulk writer */
};

struct proc_wbuf {
	struct proc_wbuf *next;
	size_t len;		/* bytes in data */
	size_t off;		/* bytes already written */
	char data[];
};

struct proc {
	struct engine *eng;		/* shared state */
	struct proc *prev, *next;	/* eng->procs list, while linked */
	bool linked;
	const struct proc_observer *obs;	/* NULL once released */
	void *ctx;			/* the observer's context */
	enum proc_state state;
	bool tty;
	bool released;			/* the owner let go */
	bool paused;			/* output reads paused by the observer */
	bool starved;			/* output reads wait for room under max_retained */
	pid_t pid;			/* also pgid and sid; 0 before spawn */
	int pidfd;			/* -1 once reaped */
	struct proc_stream streams[2];	/* stdout+stderr, or the PTY in [0] */
	int nstreams;
	struct loop_op wait_op;		/* WAITID, or POLL_ADD on the pidfd */
	siginfo_t si;			/* written by WAITID at completion */
	bool wait_inflight;
	/* Sandboxed: the init of its PID namespace and the launcher that
	 * made it, also ours to reap ([0] the init, [1] the launcher). */
	bool sandboxed;
	bool sandbox_open_net;		/* and its network is not restricted */
	struct proc_reap {
		struct proc *p;
		pid_t pid;
		int pidfd;		/* -1 once reaped (or none) */
		struct loop_op op;
		siginfo_t si;
	} reaps[2];
	void *init_mem;			/* their stacks, freed once both are reaped */
	struct sandbox_waiter waiter;	/* a sandboxed spawn waiting for its sandbox */
	struct proc_spec *pending;	/* and its spec (a deep copy), meanwhile */
	bool kill_on_spawn;		/* terminated while STARTING */
	int exit_code;			/* status, or 128+signal */
	int exit_signo;			/* terminating signal, or 0 */
	uint64_t exit_seq;		/* seq of `exited`, 0 until emitted */
	bool drain_expired;		/* the drain timer fired */
	struct loop_timer drain_timer;
	uint64_t next_seq;		/* next seq to assign, from 1 */
	struct outlog log;		/* retained output */
	size_t streamed;		/* output bytes read so far (the heap's churn) */
	int stdin_fd;			/* pipe write end or a dup of the master; -1 if none */
	bool stdin_open;		/* writes can still reach the child */
	bool stdin_closing;		/* closeStdin seen: close once the queue drains */
	char last_stdin_byte;		/* last byte queued, for the VEOF rule */
	struct proc_wbuf *wq_head;	/* stdin bytes queued, in order */
	struct proc_wbuf **wq_tail;
	size_t wq_bytes;		/* unwritten bytes in the queue */
	struct loop_op write_op;	/* the stdin write in flight, or the poll before it */
	bool write_inflight;
	int inflight;			/* ops in flight, all kinds */
	struct loop_defer rearm;	/* re-arm reads next turn (after ENOBUFS) */
	uint64_t spawn_asked_ns;	/* CLOCK_MONOTONIC at proc_spawn */
	uint64_t spawned_ns;		/* the same once spawned; 0 before */
};

static void proc_on(struct proc *p, enum proc_event ev);
static void proc_read_arm(struct proc_stream *s);
static void proc_write_arm(struct proc *p);
static void proc_wait_arm(struct proc *p);
struct proc_reap;
static void proc_reap_arm(struct proc_reap *r);

enum proc_write_status proc_write_status_of(enum proc_state state, bool stdin_open)
{
	switch (state) {
	case PROC_STARTING:
		return PROC_WRITE_STARTING;
	case PROC_RUNNING:
	case PROC_EXITED:
		return stdin_open ? PROC_WRITE_ACCEPTED : PROC_WRITE_STDIN_CLOSED;
	case PROC_CLOSED:
		return PROC_WRITE_STDIN_CLOSED;
	}
	return PROC_WRITE_UNKNOWN;
}

_Static_assert(PROC_CLOSED < sizeof(((struct engine_stats *)0)->procs) / sizeof(uint64_t),
	       "engine_stats.procs has a slot per state");
_Static_assert(OUTLOG_PTY < sizeof(((struct engine_stats *)0)->output_bytes) / sizeof(uint64_t),
	       "engine_stats.output_bytes has a slot per stream");

/* Every state change goes through here: the engine counts procs by state. */
static void proc_set_state(struct proc *p, enum proc_state st)
{
	p->eng->stats.procs[p->state]--;
	p->eng->stats.procs[st]++;
	p->state = st;
}

static uint64_t proc_clock_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- engine list (declared in engine_int.h) ---- */

void engine_link_proc(struct engine *eng, struct proc *p)
{
	p->prev = NULL;
	p->next = eng->procs;
	if (eng->procs)
		eng->procs->prev = p;
	eng->procs = p;
	eng->nprocs++;
	p->linked = true;
}

void engine_unlink_proc(struct engine *eng, struct proc *p)
{
	if (!p->linked)
		return;
	if (p->prev)
		p->prev->next = p->next;
	else
		eng->procs = p->next;
	if (p->next)
		p->next->prev = p->prev;
	eng->nprocs--;
	p->linked = false;
}

const struct proc *proc_next(const struct proc *p)
{
	return p->next;
}

bool engine_tracks_pid(const struct engine *eng, pid_t pid)
{
	for (const struct proc *p = eng->procs; p; p = p->next) {
		if (p->pid == pid && p->pidfd >= 0)
			return true;
		for (int i = 0; i < 2; i++)
			if (p->reaps[i].pid == pid && p->reaps[i].pidfd >= 0)
				return true;
	}
	return false;
}

size_t engine_unreaped(const struct engine *eng)
{
	size_t n = 0;
	for (const struct proc *p = eng->procs; p; p = p->next)
		n += (p->pidfd >= 0) + (p->reaps[0].pidfd >= 0) + (p->reaps[1].pidfd >= 0);
	return n;
}

/* All output kept together is at its cap: drop what clients already have
 * (history kept for process/read) before anyone has to wait. */
static void engine_shed_history(struct engine *eng)
{
	for (struct proc *p = eng->procs; p; p = p->next) {
		size_t before = outlog_bytes(&p->log);
		outlog_drop_delivered(&p->log);
		engine_retained_add(eng, (long)outlog_bytes(&p->log) - (long)before);
	}
}

void engine_unstarve_procs(struct engine *eng)
{
	for (struct proc *p = eng->procs; p; p = p->next) {
		if (!p->starved)
			continue;
		p->starved = false;
		for (int i = 0; i < p->nstreams; i++)
			proc_read_arm(&p->streams[i]);
	}
}

void engine_kill_all(struct engine *eng, int sig)
{
	for (struct proc *p = eng->procs; p; p = p->next)
		proc_signal(p, sig);
}

/* ---- lifetime ---- */

static void proc_rearm_deferred(struct loop_defer *d);

struct proc *proc_new(struct engine *eng, const struct proc_observer *obs, void *ctx)
{
	struct proc *p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->eng = eng;
	p->obs = obs;
	p->ctx = ctx;
	p->state = PROC_STARTING;
	eng->stats.procs[PROC_STARTING]++;
	p->pidfd = -1;
	for (int i = 0; i < 2; i++) {
		p->reaps[i].p = p;
		p->reaps[i].pidfd = -1;
	}
	p->stdin_fd = -1;
	p->next_seq = 1;
	p->wq_tail = &p->wq_head;
	p->rearm.fn = proc_rearm_deferred;
	for (int i = 0; i < 2; i++) {
		p->streams[i].p = p;
		p->streams[i].fd = -1;
		p->streams[i].ended = true;
	}
	loop_timer_init(&p->drain_timer, NULL);
	outlog_init(&p->log, eng->cfg.retain_bytes, eng->cfg.retain_chunks);
	return p;
}

static void proc_close_fd(int *fd)
{
	if (*fd >= 0) {
		close(*fd);
		*fd = -1;
	}
}

static void proc_cancel(struct proc *p, struct loop_op *op)
{
	struct io_uring_sqe *sqe = loop_sqe_noop(p->eng->loop);
	io_uring_prep_cancel64(sqe, (uint64_t)(uintptr_t)op, 0);
}

static void proc_free_wbufs(struct proc_wbuf *w)
{
	while (w) {
		struct proc_wbuf *next = w->next;
		free(w);
		w = next;
	}
}

static void proc_stdin_notify(struct proc *p)
{
	if (p->obs && p->obs->stdin_ready)
		p->obs->stdin_ready(p->ctx, p);
}

/* stdin is over: discard what is queued. A buffer the kernel is writing
 * from stays until that write completes (it is cancelled here). */
static void proc_drop_stdin(struct proc *p)
{
	bool was_open = p->stdin_open;
	p->stdin_open = false;
	p->wq_bytes = 0;
	if (was_open)
		proc_stdin_notify(p);
	if (p->write_inflight && p->wq_head) {
		proc_free_wbufs(p->wq_head->next);
		p->wq_head->next = NULL;
		p->wq_tail = &p->wq_head->next;
		proc_cancel(p, &p->write_op);
		return;
	}
	proc_free_wbufs(p->wq_head);
	p->wq_head = NULL;
	p->wq_tail = &p->wq_head;
	proc_close_fd(&p->stdin_fd);
}

static void proc_free(struct proc *p)
{
	p->eng->stats.procs[p->state]--;
	engine_unlink_proc(p->eng, p);
	loop_timer_cancel(p->eng->loop, &p->drain_timer);
	loop_defer_cancel(p->eng->loop, &p->rearm);
	for (int i = 0; i < 2; i++)
		proc_close_fd(&p->streams[i].fd);
	proc_drop_stdin(p);
	proc_close_fd(&p->pidfd);
	for (int i = 0; i < 2; i++)
		proc_close_fd(&p->reaps[i].pidfd);
	spawn_init_mem_free(p->init_mem);
	engine_note_freed(p->eng, outlog_bytes(&p->log) + p->streamed);
	engine_retained_add(p->eng, -(long)outlog_bytes(&p->log));
	outlog_free(&p->log);
	free(p);
}

/* Called at the end of every completion: free a released proc with no ops left. */
static bool proc_maybe_free(struct proc *p)
{
	if (!p->released || p->inflight > 0)
		return false;
	proc_free(p);
	return true;
}

void proc_release(struct proc *p)
{
	p->released = true;
	p->obs = NULL;
	sandbox_cancel(&p->waiter);
	free(p->pending);
	p->pending = NULL;
	loop_timer_cancel(p->eng->loop, &p->drain_timer);
	if (p->state != PROC_STARTING && p->state != PROC_CLOSED)
		proc_signal(p, SIGKILL);
	for (int i = 0; i < p->nstreams; i++)
		if (p->streams[i].inflight)
			proc_cancel(p, &p->streams[i].op);
	proc_drop_stdin(p);
	/* The exit wait stays: the SIGKILL above ends it soon. */
	proc_maybe_free(p);
}

/* ---- events to the observer ---- */

static bool proc_streams_ended(const struct proc *p)
{
	for (int i = 0; i < p->nstreams; i++)
		if (!p->streams[i].ended)
			return false;
	return true;
}

static void proc_emit_exited(struct proc *p)
{
	p->exit_seq = p->next_seq++;
	loop_timer_cancel(p->eng->loop, &p->drain_timer);
	if (p->obs)
		p->obs->exited(p->ctx, p, p->exit_seq, p->exit_code, p->exit_signo);
}

static void proc_emit_closed(struct proc *p)
{
	uint64_t seq = p->next_seq++;
	proc_set_state(p, PROC_CLOSED);
	if (p->spawned_ns)
		hist_observe(&p->eng->stats.lifetime, proc_clock_ns() - p->spawned_ns);
	proc_drop_stdin(p);
	if (p->obs)
		p->obs->closed(p->ctx, p, seq);
}

static void proc_drain_timeout(struct loop_timer *t)
{
	struct proc *p = container_of(t, struct proc, drain_timer);
	p->drain_expired = true;
	proc_on(p, EV_DRAIN_TIMEOUT);
}

/* The transition function: one place decides what an event means in a state. */
static void proc_on(struct proc *p, enum proc_event ev)
{
	switch (p->state) {
	case PROC_STARTING:
		if (ev == EV_SPAWNED)
			proc_set_state(p, PROC_RUNNING);
		break;
	case PROC_RUNNING:
		if (ev != EV_EXIT)
			break;	/* a stream may end before the exit: nothing yet */
		proc_set_state(p, PROC_EXITED);
		/* The exit may already complete the drain. */
		__attribute__((fallthrough));
	case PROC_EXITED:
		if (!p->exit_seq) {
			if (proc_streams_ended(p) || p->drain_expired) {
				proc_emit_exited(p);
			} else if (!loop_timer_armed(&p->drain_timer)) {
				p->drain_timer.fn = proc_drain_timeout;
				loop_timer_arm(p->eng->loop, &p->drain_timer, p->eng->cfg.exit_drain_ms);
			}
		}
		if (p->exit_seq && proc_streams_ended(p))
			proc_emit_closed(p);
		break;
	case PROC_CLOSED:
		break;
	}
}

/* ---- output reads ---- */

static void proc_stream_end(struct proc_stream *s)
{
	s->ended = true;
	proc_close_fd(&s->fd);
	proc_on(s->p, EV_STREAM_END);
}

/* A read filled a whole buffer: the writer is a bulk producer. A larger
 * pipe lets it run ahead of us, so both sides wake less often. Only the
 * pipes of such writers pay for the extra pages; a PTY keeps its size. */
static void proc_stream_grow(struct proc_stream *s)
{
	s->grown = true;
	if (s->kind != OUTLOG_PTY)
		(void)fcntl(s->fd, F_SETPIPE_SZ, PROC_PIPE_BULK_SIZE);
}

static void proc_poll_arm(struct proc_stream *s);

static void proc_read_done(struct loop_op *op, int res, uint32_t flags)
{
	struct proc_stream *s = container_of(op, struct proc_stream, op);
	struct proc *p = s->p;
	struct loop_bufs *bufs = p->eng->out_bufs;

	s->inflight = false;
	p->inflight--;
	if (res > 0 && (flags & IORING_CQE_F_BUFFER)) {
		const void *data = loop_bufs_get(bufs, flags);
		p->streamed += (size_t)res;
		p->eng->stats.output_bytes[s->kind] += (uint64_t)res;
		if (!p->released) {
			size_t before = outlog_bytes(&p->log);
			const struct outlog_chunk *c =
				outlog_append(&p->log, p->next_seq, s->kind, data, (size_t)res);
			engine_retained_add(p->eng, (long)outlog_bytes(&p->log) - (long)before);
			if (c) {
				p->next_seq++;
				if (p->obs && !p->obs->output(p->ctx, p, c))
					p->paused = true;
			} else {
				log_error("pid %d: out of memory, %d bytes of output lost",
					(int)p->pid, res);
			}
		}
		loop_bufs_put(bufs, flags);
		if (!s->grown && (unsigned)res == loop_bufs_size(bufs))
			proc_stream_grow(s);
		proc_read_arm(s);
	} else {
		/* A selected buffer comes back even with EOF: return it. */
		if (flags & IORING_CQE_F_BUFFER)
			loop_bufs_put(bufs, flags);
		if (!p->released && res == -EAGAIN) {
			/* No data, and this kernel did not wait for it (a non-blocking
			 * fd): a read re-armed now would fail again at once, so wait
			 * for POLLIN first. */
			proc_poll_arm(s);
		} else if (!p->released && (res == -ENOBUFS || res == -EINTR)) {
			/* The data is there but every provided buffer was taken in this
			 * batch; each comes back in its own completion, so the read
			 * re-armed next turn finds one. */
			loop_defer(p->eng->loop, &p->rearm);
		} else {
			/* 0 is EOF on a pipe; EIO is EOF on a PTY master; errors end it too. */
			if (res < 0 && res != -EIO && res != -ECANCELED)
				log_warn("pid %d: output read: %s",
					(int)p->pid, strerror(-res));
			proc_stream_end(s);
		}
	}
	proc_maybe_free(p);
}

static void proc_read_arm(struct proc_stream *s)
{
	struct proc *p = s->p;
	if (s->inflight || s->ended || p->paused || p->released)
		return;
	if (p->eng->retained >= p->eng->cfg.max_retained)
		engine_shed_history(p->eng);
	if (p->eng->retained >= p->eng->cfg.max_retained) {
		/* Undelivered output alone fills the cap: wait for room. */
		if (!p->starved)
			p->eng->stats.starved++;
		p->starved = true;
		p->eng->starved = true;
		return;
	}
	struct loop_bufs *bufs = p->eng->out_bufs;
	s->op.cb = proc_read_done;
	struct io_uring_sqe *sqe = loop_sqe(p->eng->loop, &s->op);
	io_uring_prep_read(sqe, s->fd, NULL, loop_bufs_size(bufs), (uint64_t)-1);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = loop_bufs_group(bufs);
	s->inflight = true;
	p->inflight++;
}

/* POLLIN (or HUP/ERR) after an -EAGAIN read: read now. */
static void proc_poll_done(struct loop_op *op, int res, uint32_t flags)
{
	(void)flags;
	struct proc_stream *s = container_of(op, struct proc_stream, op);
	struct proc *p = s->p;

	s->inflight = false;
	p->inflight--;
	if (res >= 0) {
		proc_read_arm(s);
	} else if (res == -EINTR && !p->released) {
		proc_poll_arm(s);
	} else if (!p->released) {
		log_warn("pid %d: output poll: %s", (int)p->pid, strerror(-res));
		proc_stream_end(s);
	}
	proc_maybe_free(p);
}

static void proc_poll_arm(struct proc_stream *s)
{
	struct proc *p = s->p;
	s->op.cb = proc_poll_done;
	struct io_uring_sqe *sqe = loop_sqe(p->eng->loop, &s->op);
	io_uring_prep_poll_add(sqe, s->fd, POLLIN);
	s->inflight = true;
	p->inflight++;
}

static void proc_rearm_deferred(struct loop_defer *d)
{
	struct proc *p = container_of(d, struct proc, rearm);
	for (int i = 0; i < p->nstreams; i++)
		proc_read_arm(&p->streams[i]);
}

void proc_resume_output(struct proc *p)
{
	if (!p->paused)
		return;
	p->paused = false;
	for (int i = 0; i < p->nstreams; i++)
		proc_read_arm(&p->streams[i]);
}

/* ---- exit wait ---- */

static void proc_record_exit(struct proc *p, const siginfo_t *si)
{
	if (si->si_code == CLD_EXITED) {
		p->exit_code = si->si_status;
		p->exit_signo = 0;
	} else if (si->si_code == CLD_KILLED || si->si_code == CLD_DUMPED) {
		p->exit_code = 128 + si->si_status;
		p->exit_signo = si->si_status;
	} else {
		p->exit_code = -1;
		p->exit_signo = 0;
	}
}

static void proc_reaped(struct proc *p)
{
	proc_close_fd(&p->pidfd);
	/* A sandbox's init and launcher outlive the command only until now:
	 * killing the init ends what the command left in its namespace. */
	for (int i = 0; i < 2; i++)
		if (p->reaps[i].pidfd >= 0)
			syscall(SYS_pidfd_send_signal, p->reaps[i].pidfd, SIGKILL, NULL, 0);
	proc_on(p, EV_EXIT);
}

static void proc_wait_done(struct loop_op *op, int res, uint32_t flags)
{
	(void)flags;
	struct proc *p = container_of(op, struct proc, wait_op);
	p->wait_inflight = false;
	p->inflight--;

	if (res == -EINTR || res == -EAGAIN) {
		proc_wait_arm(p);
	} else if (loop_has_waitid(p->eng->loop)) {
		if (res < 0) {
			log_warn("pid %d: waitid: %s", (int)p->pid,
				strerror(-res));
			p->exit_code = -1;
		} else {
			proc_record_exit(p, &p->si);
		}
		proc_reaped(p);
	} else {
		/* POLL_ADD fired: the pidfd is readable once the child has exited. */
		siginfo_t si;
		memset(&si, 0, sizeof(si));
		int ret = waitid(P_PIDFD, (id_t)p->pidfd, &si, WEXITED | WNOHANG | __WALL);
		if (ret == 0 && si.si_pid == 0) {
			proc_wait_arm(p);
		} else {
			if (ret < 0)
				p->exit_code = -1;
			else
				proc_record_exit(p, &si);
			proc_reaped(p);
		}
	}
	proc_maybe_free(p);
}

static void proc_wait_arm(struct proc *p)
{
	p->wait_op.cb = proc_wait_done;
	struct io_uring_sqe *sqe = loop_sqe(p->eng->loop, &p->wait_op);
	if (loop_has_waitid(p->eng->loop)) {
		memset(&p->si, 0, sizeof(p->si));
		io_uring_prep_rw(RINGEXEC_OP_WAITID, sqe, p->pidfd, NULL, P_PIDFD, 0);
		sqe->file_index = WEXITED | __WALL;	/* children send no SIGCHLD */
		sqe->addr2 = (uint64_t)(uintptr_t)&p->si;
	} else {
		io_uring_prep_poll_add(sqe, p->pidfd, POLLIN);
	}
	p->wait_inflight = true;
	p->inflight++;
}

/* The init of a sandboxed proc's PID namespace and the launcher, killed
 * when the command has been reaped (or by proc_signal's SIGKILL): reaped
 * here, their stacks freed after. */
static void proc_reap_done(struct loop_op *op, int res, uint32_t flags)
{
	(void)flags;
	struct proc_reap *r = container_of(op, struct proc_reap, op);
	struct proc *p = r->p;
	p->inflight--;
	if (res == -EINTR || res == -EAGAIN) {
		proc_reap_arm(r);
		return;
	}
	if (!loop_has_waitid(p->eng->loop)) {
		siginfo_t si;
		memset(&si, 0, sizeof(si));
		if (waitid(P_PIDFD, (id_t)r->pidfd, &si, WEXITED | WNOHANG | __WALL) == 0 &&
		    si.si_pid == 0) {
			proc_reap_arm(r);
			return;
		}
	}
	proc_close_fd(&r->pidfd);
	if (p->reaps[0].pidfd < 0 && p->reaps[1].pidfd < 0) {
		spawn_init_mem_free(p->init_mem);
		p->init_mem = NULL;
	}
	proc_maybe_free(p);
}

static void proc_reap_arm(struct proc_reap *r)
{
	struct proc *p = r->p;
	r->op.cb = proc_reap_done;
	struct io_uring_sqe *sqe = loop_sqe(p->eng->loop, &r->op);
	if (loop_has_waitid(p->eng->loop)) {
		memset(&r->si, 0, sizeof(r->si));
		io_uring_prep_rw(RINGEXEC_OP_WAITID, sqe, r->pidfd, NULL, P_PIDFD, 0);
		sqe->file_index = WEXITED | __WALL;
		sqe->addr2 = (uint64_t)(uintptr_t)&r->si;
	} else {
		io_uring_prep_poll_add(sqe, r->pidfd, POLLIN);
	}
	p->inflight++;
}

/* ---- stdin ---- */

static void proc_write_poll(struct proc *p);

static void proc_write_done(struct loop_op *op, int res, uint32_t flags)
{
	(void)flags;
	struct proc *p = container_of(op, struct proc, write_op);
	p->write_inflight = false;
	p->inflight--;

	if (!p->stdin_open) {
		/* Dropped while this write was in flight: its buffer goes now. */
		proc_drop_stdin(p);
	} else if (res > 0 && p->wq_head) {
		struct proc_wbuf *w = p->wq_head;
		w->off += (size_t)res;
		p->wq_bytes -= (size_t)res;
		if (w->off == w->len) {
			p->wq_head = w->next;
			if (!p->wq_head)
				p->wq_tail = &p->wq_head;
			free(w);
		}
		proc_write_arm(p);
		if (!p->wq_head && p->stdin_closing && !p->tty)
			proc_drop_stdin(p);	/* closeStdin: the child reads EOF now */
		else if (p->wq_bytes < PROC_STDIN_LIMIT)
			proc_stdin_notify(p);
	} else if (res == -EAGAIN) {
		/* Full, and this kernel did not wait for room: wait for POLLOUT
		 * (a write re-armed now would fail again at once). */
		proc_write_poll(p);
	} else if (res == -EINTR) {
		proc_write_arm(p);
	} else {
		/* EPIPE, EIO (PTY hang-up): the child's side is gone. */
		proc_drop_stdin(p);
	}
	proc_maybe_free(p);
}

/* POLLOUT (or HUP/ERR: the write then says why) after an -EAGAIN write. */
static void proc_write_poll_done(struct loop_op *op, int res, uint32_t flags)
{
	(void)flags;
	struct proc *p = container_of(op, struct proc, write_op);
	p->write_inflight = false;
	p->inflight--;

	if (!p->stdin_open || (res < 0 && res != -EINTR))
		proc_drop_stdin(p);
	else if (res == -EINTR)
		proc_write_poll(p);
	else
		proc_write_arm(p);
	proc_maybe_free(p);
}

static void proc_write_poll(struct proc *p)
{
	p->write_op.cb = proc_write_poll_done;
	struct io_uring_sqe *sqe = loop_sqe(p->eng->loop, &p->write_op);
	io_uring_prep_poll_add(sqe, p->stdin_fd, POLLOUT);
	p->write_inflight = true;
	p->inflight++;
}

static void proc_write_arm(struct proc *p)
{
	struct proc_wbuf *w = p->wq_head;
	if (p->write_inflight || !w || !p->stdin_open || p->released)
		return;
	p->write_op.cb = proc_write_done;
	struct io_uring_sqe *sqe = loop_sqe(p->eng->loop, &p->write_op);
	io_uring_prep_write(sqe, p->stdin_fd, w->data + w->off, (unsigned)(w->len - w->off),
			    (uint64_t)-1);
	p->write_inflight = true;
	p->inflight++;
}

static struct proc_wbuf *proc_wbuf_new(const void *data, size_t len)
{
	struct proc_wbuf *w = malloc(sizeof(*w) + len);
	if (!w)
		return NULL;
	w->next = NULL;
	w->len = len;
	w->off = 0;
	memcpy(w->data, data, len);
	return w;
}

static void proc_queue(struct proc *p, struct proc_wbuf *w)
{
	*p->wq_tail = w;
	p->wq_tail = &w->next;
	p->wq_bytes += w->len;
	p->last_stdin_byte = w->data[w->len - 1];
}

/* closeStdin on a PTY: VEOF ends a read at the start of a line; after a
 * partial line the first VEOF only flushes it, so a second one is needed.
 * last is the last byte written before it (0: none). */
static struct proc_wbuf *proc_veof_new(struct proc *p, char last)
{
	struct termios t;
	char veof[2];
	veof[0] = veof[1] = tcgetattr(p->stdin_fd, &t) == 0 ? (char)t.c_cc[VEOF] : 4;
	bool partial = last != '\n' && last != 0;
	return proc_wbuf_new(veof, partial ? 2 : 1);
}

enum proc_write_status proc_write(struct proc *p, const void *data, size_t len, bool close_stdin)
{
	enum proc_write_status st =
		proc_write_status_of(p->state, p->stdin_open && !p->stdin_closing);
	if (st != PROC_WRITE_ACCEPTED)
		return st;
	/* Everything this write needs is had before any of it is queued, so
	 * it is taken whole or not at all. */
	struct proc_wbuf *w = len ? proc_wbuf_new(data, len) : NULL;
	struct proc_wbuf *eof = NULL;
	if (close_stdin && p->tty)
		eof = proc_veof_new(p, len ? ((const char *)data)[len - 1] : p->last_stdin_byte);
	if ((len && !w) || (close_stdin && p->tty && !eof)) {
		free(w);
		free(eof);
		return PROC_WRITE_NOMEM;
	}
	if (w)
		proc_queue(p, w);
	if (close_stdin) {
		p->stdin_closing = true;
		if (eof)
			proc_queue(p, eof);
		else if (!p->wq_head)
			proc_drop_stdin(p);
	}
	proc_write_arm(p);
	return PROC_WRITE_ACCEPTED;
}

int proc_resize(struct proc *p, unsigned short rows, unsigned short cols)
{
	if (!p->tty)
		return -ENOTTY;
	if (p->stdin_fd < 0)
		return -EBADF;
	struct winsize ws = { .ws_row = rows, .ws_col = cols };
	if (ioctl(p->stdin_fd, TIOCSWINSZ, &ws) < 0)
		return -errno;
	return 0;
}

size_t proc_stdin_queued(const struct proc *p)
{
	return p->wq_bytes;
}

bool proc_stdin_full(const struct proc *p)
{
	return p->stdin_open && !p->stdin_closing && p->wq_bytes >= PROC_STDIN_LIMIT;
}

/* ---- spawn ---- */

static void proc_stream_init(struct proc_stream *s, int fd, enum outlog_stream kind)
{
	s->fd = fd;
	s->kind = (uint8_t)kind;
	s->ended = false;
	s->inflight = false;
}

static bool spec_open_net_restricted(const struct proc_spec *spec)
{
	return spec->net_restricted;
}

/* Spawn now; sb is the ready sandbox of a sandboxed spec. */
static int proc_spawn_now(struct proc *p, const struct proc_spec *spec, struct sandbox *sb)
{
	struct engine *eng = p->eng;
	int out[2] = { -1, -1 }, err[2] = { -1, -1 }, in[2] = { -1, -1 };
	int master = -1, slave = -1;
	struct spawn_spec ss = {
		.argv = spec->argv,
		.arg0 = spec->arg0,
		.envp = spec->envp,
		.cwd = spec->cwd,
	};
	int ret;

	if (spec->tty) {
		ret = spawn_open_pty(&master, &slave, spec->rows ? spec->rows : 24,
				     spec->cols ? spec->cols : 80);
		if (ret < 0)
			return ret;
		ss.stdin_fd = ss.stdout_fd = ss.stderr_fd = slave;
		ss.ctty = true;
	} else {
		if (pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0 ||
		    (spec->pipe_stdin && pipe2(in, O_CLOEXEC) < 0)) {
			ret = -errno;
			goto fail;
		}
		ss.stdin_fd = spec->pipe_stdin ? in[0] : eng->devnull;
		ss.stdout_fd = out[1];
		ss.stderr_fd = err[1];
	}

	if (sb) {
		ss.sandbox = sandbox_spawn_info(sb);
		ss.spare = sandbox_spare(sb);
	}
	struct spawn_result sr;
	ret = spawn_start(&ss, &sr);
	if (sb)
		sandbox_spawned(sb);
	/* The child has its copies now (or failed): drop ours. */
	proc_close_fd(&slave);
	proc_close_fd(&out[1]);
	proc_close_fd(&err[1]);
	proc_close_fd(&in[0]);
	if (ret < 0)
		goto fail;

	p->pid = sr.pid;
	p->pidfd = sr.pidfd;
	p->sandboxed = ss.sandbox != NULL;
	p->sandbox_open_net = p->sandboxed && !spec_open_net_restricted(spec);
	p->reaps[0].pid = sr.init_pid;
	p->reaps[0].pidfd = sr.init_pidfd;
	p->reaps[1].pid = sr.launcher_pid;
	p->reaps[1].pidfd = sr.launcher_pidfd;
	p->init_mem = sr.init_mem;
	p->tty = spec->tty;
	if (spec->tty) {
		proc_stream_init(&p->streams[0], master, OUTLOG_PTY);
		p->nstreams = 1;
		p->stdin_fd = fcntl(master, F_DUPFD_CLOEXEC, 3);
		p->stdin_open = p->stdin_fd >= 0;
	} else {
		proc_stream_init(&p->streams[0], out[0], OUTLOG_STDOUT);
		proc_stream_init(&p->streams[1], err[0], OUTLOG_STDERR);
		p->nstreams = 2;
		p->stdin_fd = in[1];
		p->stdin_open = spec->pipe_stdin;
	}
	engine_link_proc(eng, p);
	proc_on(p, EV_SPAWNED);
	for (int i = 0; i < p->nstreams; i++)
		proc_read_arm(&p->streams[i]);
	proc_wait_arm(p);
	for (int i = 0; i < 2; i++)
		if (p->reaps[i].pidfd >= 0)
			proc_reap_arm(&p->reaps[i]);
	return 0;

fail:
	proc_close_fd(&master);
	proc_close_fd(&slave);
	for (int i = 0; i < 2; i++) {
		proc_close_fd(&out[i]);
		proc_close_fd(&err[i]);
		proc_close_fd(&in[i]);
	}
	return ret;
}

/* A deep copy of spec (its strings and vectors), for a deferred spawn. */
static struct proc_spec *proc_spec_copy(const struct proc_spec *spec)
{
	size_t argc = 0, envc = 0, bytes = 0;
	while (spec->argv[argc])
		bytes += strlen(spec->argv[argc++]) + 1;
	while (spec->envp && spec->envp[envc])
		bytes += strlen(spec->envp[envc++]) + 1;
	bytes += (spec->arg0 ? strlen(spec->arg0) + 1 : 0) + (spec->cwd ? strlen(spec->cwd) + 1 : 0);
	size_t vecs = (argc + 1 + envc + 1) * sizeof(char *);
	struct proc_spec *c = malloc(sizeof(*c) + vecs + bytes);
	if (!c)
		return NULL;
	*c = *spec;
	const char **argv = (const char **)(c + 1);
	const char **envp = argv + argc + 1;
	char *str = (char *)(envp + envc + 1);
	for (size_t i = 0; i < argc; i++) {
		argv[i] = str;
		str = stpcpy(str, spec->argv[i]) + 1;
	}
	argv[argc] = NULL;
	for (size_t i = 0; i < envc; i++) {
		envp[i] = str;
		str = stpcpy(str, spec->envp[i]) + 1;
	}
	envp[envc] = NULL;
	c->argv = argv;
	c->envp = envp;
	if (spec->arg0) {
		c->arg0 = str;
		str = stpcpy(str, spec->arg0) + 1;
	}
	if (spec->cwd) {
		c->cwd = str;
		stpcpy(str, spec->cwd);
	}
	c->sandbox = NULL;	/* the waiter holds the template now */
	return c;
}

/* A spawn's outcome, for the metrics: counted, and timed from the
 * proc_spawn call (a sandboxed one may have waited for its template). The
 * start of the start-to-closed clock. */
static void proc_count_spawn(struct proc *p, int ret)
{
	struct engine_stats *st = &p->eng->stats;
	if (ret < 0) {
		st->spawn_failures++;
		return;
	}
	hist_observe(&st->spawn_latency, proc_clock_ns() - p->spawn_asked_ns);
	p->spawned_ns = p->spawn_asked_ns;
	st->spawns++;
	st->sandboxed_spawns += p->sandboxed;
}

static void proc_sandbox_ready(struct sandbox_waiter *w, struct sandbox *sb, int err)
{
	struct proc *p = container_of(w, struct proc, waiter);
	struct proc_spec *spec = p->pending;
	p->pending = NULL;
	int ret = err < 0 ? -EOPNOTSUPP : proc_spawn_now(p, spec, sb);
	proc_count_spawn(p, ret);
	free(spec);
	if (ret == 0 && p->kill_on_spawn)
		proc_signal(p, SIGKILL);
	if (p->obs && p->obs->spawned)
		p->obs->spawned(p->ctx, p, ret);
}

static int proc_spawn_begin(struct proc *p, const struct proc_spec *spec_in)
{
	struct proc_spec copy = *spec_in;
	const struct proc_spec *spec = &copy;
	if (spec->sandbox)
		copy.net_restricted = spec->sandbox->restrict_net;
	if (!spec->sandbox)
		return proc_spawn_now(p, spec, NULL);
	struct sandbox *sb;
	p->waiter.ready = proc_sandbox_ready;
	int ret = sandbox_acquire(p->eng->sandboxes, spec->sandbox, &sb, &p->waiter);
	if (ret == 0)
		return proc_spawn_now(p, spec, sb);
	if (ret != -EINPROGRESS)
		/* Whatever stops us from having it, the answer is the same:
		 * this policy cannot be enforced here (sandbox.c logs why). */
		return -EOPNOTSUPP;
	if (!(p->pending = proc_spec_copy(spec))) {
		sandbox_cancel(&p->waiter);
		return -ENOMEM;
	}
	return -EINPROGRESS;
}

int proc_spawn(struct proc *p, const struct proc_spec *spec)
{
	p->spawn_asked_ns = proc_clock_ns();
	int ret = proc_spawn_begin(p, spec);
	if (ret != -EINPROGRESS)
		proc_count_spawn(p, ret);
	return ret;
}

/* ---- which sandbox a peer is in ---- */

/* Collect pid and its descendants (through every task's children file)
 * into *v. */
static void proc_tree(pid_t pid, pid_t **v, size_t *n, size_t *cap)
{
	if (*n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 64;
		pid_t *nv = realloc(*v, ncap * sizeof(*nv));
		if (!nv)
			return;
		*v = nv;
		*cap = ncap;
	}
	(*v)[(*n)++] = pid;
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	DIR *d = opendir(path);
	for (struct dirent *de; d && (de = readdir(d));) {
		if (de->d_name[0] == '.')
			continue;
		char cpath[320];
		snprintf(cpath, sizeof(cpath), "/proc/%d/task/%s/children", (int)pid, de->d_name);
		FILE *f = fopen(cpath, "re");
		long child;
		while (f && fscanf(f, "%ld", &child) == 1)
			proc_tree((pid_t)child, v, n, cap);
		if (f)
			fclose(f);
	}
	if (d)
		closedir(d);
}

static bool proc_has_socket(pid_t pid, uint64_t inode)
{
	char path[64], want[64];
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	snprintf(want, sizeof(want), "socket:[%llu]", (unsigned long long)inode);
	DIR *d = opendir(path);
	bool found = false;
	for (struct dirent *de; d && !found && (de = readdir(d));) {
		char link[64], fpath[320];
		snprintf(fpath, sizeof(fpath), "%s/%s", path, de->d_name);
		ssize_t k = readlink(fpath, link, sizeof(link) - 1);
		if (k > 0) {
			link[k] = '\0';
			found = strcmp(link, want) == 0;
		}
	}
	if (d)
		closedir(d);
	return found;
}

bool proc_holds_peer(const struct proc *p, pid_t pid, uint64_t inode)
{
	if (!p->sandboxed || p->pidfd < 0 || (inode && !p->sandbox_open_net))
		return false;
	pid_t *v = NULL;
	size_t n = 0, cap = 0;
	proc_tree(p->pid, &v, &n, &cap);
	if (p->reaps[0].pidfd >= 0)
		proc_tree(p->reaps[0].pid, &v, &n, &cap);	/* the orphans it adopted */
	bool found = false;
	for (size_t i = 0; i < n && !found; i++)
		found = pid ? v[i] == pid : proc_has_socket(v[i], inode);
	free(v);
	return found;
}

/* ---- signals and accessors ---- */

int proc_signal(struct proc *p, int sig)
{
	if (p->state == PROC_STARTING && p->pending) {
		if (sig == SIGKILL)
			p->kill_on_spawn = true;
		return sig == SIGKILL ? 0 : -ESRCH;
	}
	/* A sandbox's init takes its whole PID namespace down with it. */
	if (sig == SIGKILL)
		for (int i = 0; i < 2; i++)
			if (p->reaps[i].pidfd >= 0)
				syscall(SYS_pidfd_send_signal, p->reaps[i].pidfd, SIGKILL, NULL, 0);
	if (p->pid <= 0 || p->state == PROC_CLOSED)
		return -ESRCH;
	if (kill(-p->pid, sig) < 0)
		return -errno;
	return 0;
}

bool proc_running(const struct proc *p)
{
	return p->state == PROC_RUNNING;
}

bool proc_sandboxed(const struct proc *p)
{
	return p->sandboxed;
}

enum proc_state proc_state(const struct proc *p)
{
	return p->state;
}

pid_t proc_pid(const struct proc *p)
{
	return p->pid;
}

bool proc_is_tty(const struct proc *p)
{
	return p->tty;
}

const struct outlog *proc_log(const struct proc *p)
{
	return &p->log;
}

uint64_t proc_next_seq(const struct proc *p)
{
	return p->next_seq;
}

bool proc_exit_event(const struct proc *p, uint64_t *seq, int *exit_code)
{
	if (!p->exit_seq)
		return false;
	*seq = p->exit_seq;
	*exit_code = p->exit_code;
	return true;
}

void *proc_ctx(const struct proc *p)
{
	return p->ctx;
}

void proc_set_delivered(struct proc *p, uint64_t seq)
{
	size_t before = outlog_bytes(&p->log);
	outlog_set_delivered(&p->log, seq);
	/* Someone waits for room under the global cap: what was just delivered
	 * is history, and history goes first. */
	if (p->eng->starved)
		outlog_drop_delivered(&p->log);
	engine_retained_add(p->eng, (long)outlog_bytes(&p->log) - (long)before);
}
