/* fake_engine: the scripted engine table (see fake_engine.h).
 *
 * The state machine is proc.c's, event for event (fake_on mirrors
 * proc_on): STARTING --spawned--> RUNNING --reaped--> EXITED --every
 * stream ended (or the drain timer)--> CLOSED, `exited` taking the next seq
 * when it is emitted and `closed` the one after the last event. Owns every
 * fake process and the timer list; knows nothing of JSON or sessions.
 */
#include "fake_engine.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FAKE_NS_PER_MS 1000000u

/* A misuse of the table (a released handle, an impossible call) is a bug
 * in the caller: stop at once, loudly, for the test or the fuzzer. */
static void fake_misuse(const char *what, const struct fake_proc *p)
{
	fprintf(stderr, "fake_engine: %s (proc %p, pid %d)\n", what, (const void *)p,
		p ? (int)p->pid : 0);
	abort();
}

static struct fake_proc *fake_live(const struct proc *handle, const char *what)
{
	struct fake_proc *p = (struct fake_proc *)handle;
	if (!p || p->released)
		fake_misuse(what, p);
	return p;
}

/* ---- timers: an unsorted list, fired in deadline order ---- */

static uint64_t fake_deadline(uint64_t now_ns, uint64_t ms)
{
	uint64_t ns = ms > UINT64_MAX / FAKE_NS_PER_MS ? UINT64_MAX : ms * FAKE_NS_PER_MS;
	return ns > UINT64_MAX - now_ns ? UINT64_MAX : now_ns + ns;
}

static void fake_timer_cancel(struct engine *eng, struct loop_timer *t)
{
	struct fake_engine *fe = (struct fake_engine *)eng;
	if (!t->armed)
		return;
	if (t->prev)
		t->prev->next = t->next;
	else
		fe->timers = t->next;
	if (t->next)
		t->next->prev = t->prev;
	else
		fe->timers_tail = t->prev;
	t->next = t->prev = NULL;
	t->armed = false;
}

static void fake_timer_arm(struct engine *eng, struct loop_timer *t, uint64_t ms)
{
	struct fake_engine *fe = (struct fake_engine *)eng;
	fake_timer_cancel(eng, t);
	t->deadline_ns = fake_deadline(fe->now_ns, ms);
	t->armed = true;
	t->next = NULL;
	t->prev = fe->timers_tail;
	if (fe->timers_tail)
		fe->timers_tail->next = t;
	else
		fe->timers = t;
	fe->timers_tail = t;
}

/* The armed timer due first (the first armed among equals), if due by until. */
static struct loop_timer *fake_timer_due(struct fake_engine *fe, uint64_t until)
{
	struct loop_timer *best = NULL;
	for (struct loop_timer *t = fe->timers; t; t = t->next)
		if (t->deadline_ns <= until && (!best || t->deadline_ns < best->deadline_ns))
			best = t;
	return best;
}

void fake_advance(struct fake_engine *fe, uint64_t ms)
{
	uint64_t until = fake_deadline(fe->now_ns, ms);
	struct loop_timer *t;
	while ((t = fake_timer_due(fe, until))) {
		if (t->deadline_ns > fe->now_ns)
			fe->now_ns = t->deadline_ns;
		fake_timer_cancel((struct engine *)fe, t);
		t->fn(t);
		fake_run(fe);
	}
	fe->now_ns = until;
}

/* ---- events to the observer (proc.c's rules) ---- */

static void fake_stdin_notify(struct fake_proc *p)
{
	if (p->obs && p->obs->stdin_ready)
		p->obs->stdin_ready(p->ctx, (struct proc *)p);
}

static void fake_drop_stdin(struct fake_proc *p)
{
	bool was_open = p->stdin_open;
	p->stdin_open = false;
	p->stdin_queue.len = 0;
	if (was_open)
		fake_stdin_notify(p);
}

static bool fake_streams_ended(const struct fake_proc *p)
{
	for (int i = 0; i < p->nstreams; i++)
		if (!p->ended[i])
			return false;
	return true;
}

static void fake_drain_timeout(struct loop_timer *t);

/* proc_on for EV_EXIT, EV_STREAM_END and EV_DRAIN_TIMEOUT: the exit's seq
 * once the streams ended (or the drain ran out), then `closed`. */
static void fake_on(struct fake_proc *p)
{
	if (p->state != PROC_EXITED)
		return;
	struct engine *eng = (struct engine *)p->fe;
	if (!p->exit_seq) {
		if (fake_streams_ended(p) || p->drain_expired) {
			p->exit_seq = p->next_seq++;
			fake_timer_cancel(eng, &p->drain);
			if (p->obs)
				p->obs->exited(p->ctx, (struct proc *)p, p->exit_seq, p->exit_code,
					       p->exit_signo);
		} else if (!p->drain.armed) {
			p->drain.fn = fake_drain_timeout;
			fake_timer_arm(eng, &p->drain, p->fe->cfg.exit_drain_ms);
		}
	}
	if (p->exit_seq && fake_streams_ended(p) && p->state == PROC_EXITED) {
		uint64_t seq = p->next_seq++;
		p->state = PROC_CLOSED;
		fake_drop_stdin(p);
		if (p->obs)
			p->obs->closed(p->ctx, (struct proc *)p, seq);
	}
}

static void fake_drain_timeout(struct loop_timer *t)
{
	struct fake_proc *p = (struct fake_proc *)((char *)t - offsetof(struct fake_proc, drain));
	p->drain_expired = true;
	fake_on(p);
}

/* ---- the script ---- */

static bool fake_can_emit(const struct fake_proc *p)
{
	return !p->released && (p->state == PROC_RUNNING || p->state == PROC_EXITED);
}

static int fake_stream_of(const struct fake_proc *p, int stream)
{
	return p->tty ? 0 : (stream == OUTLOG_STDERR ? 1 : 0);
}

static bool fake_pipe_put(struct fake_proc *p, int stream, bool eof, const void *data, size_t len)
{
	int i = fake_stream_of(p, stream);
	if (!fake_can_emit(p) || p->eof_queued[i])
		return false;
	struct fake_chunk *c = malloc(sizeof(*c) + len);
	if (!c)
		return false;
	c->next = NULL;
	c->stream = (uint8_t)(p->tty ? OUTLOG_PTY : (i ? OUTLOG_STDERR : OUTLOG_STDOUT));
	c->eof = eof;
	c->len = len;
	if (len)
		memcpy(c->data, data, len);
	*p->pipe_tail = c;
	p->pipe_tail = &c->next;
	p->eof_queued[i] = eof;
	return true;
}

bool fake_output(struct fake_proc *p, int stream, const void *data, size_t len)
{
	return len > 0 && fake_pipe_put(p, stream, false, data, len);
}

bool fake_eof(struct fake_proc *p, int stream)
{
	return fake_pipe_put(p, stream, true, NULL, 0);
}

void fake_eof_all(struct fake_proc *p)
{
	for (int i = 0; i < p->nstreams; i++)
		fake_eof(p, p->tty ? OUTLOG_PTY : (i ? OUTLOG_STDERR : OUTLOG_STDOUT));
}

bool fake_exit(struct fake_proc *p, int code, int signo)
{
	if (p->released || p->state != PROC_RUNNING)
		return false;
	p->reaped = true;
	p->exit_code = code;
	p->exit_signo = signo;
	p->state = PROC_EXITED;
	fake_on(p);
	return true;
}

size_t fake_stdin_take(struct fake_proc *p, size_t n)
{
	if (p->released || !p->stdin_open)
		return 0;
	if (n > p->stdin_queue.len)
		n = p->stdin_queue.len;
	if (!n || buf_append(&p->stdin_read, p->stdin_queue.data, n) < 0)
		return 0;
	buf_consume(&p->stdin_queue, n);
	/* proc_write_done: the queue drained after closeStdin ends a pipe's
	 * stdin; otherwise room below the limit is told. */
	if (!p->stdin_queue.len && p->stdin_closing && !p->tty)
		fake_drop_stdin(p);
	else if (p->stdin_queue.len < p->fe->cfg.stdin_limit)
		fake_stdin_notify(p);
	return n;
}

void fake_stdin_gone(struct fake_proc *p)
{
	if (!p->released)
		fake_drop_stdin(p);
}

/* ---- the loop's turn ---- */

/* One step of p's life in this turn; false when it has nothing to do. */
static bool fake_step(struct fake_proc *p)
{
	if (p->doomed) {
		int sig = p->doomed;
		p->doomed = 0;
		fake_eof_all(p);
		fake_exit(p, 128 + sig, sig);
		return true;
	}
	struct fake_chunk *c = p->pipe;
	if (!c || p->paused || !fake_can_emit(p))
		return false;
	p->pipe = c->next;
	if (!p->pipe)
		p->pipe_tail = &p->pipe;
	if (c->eof) {
		p->ended[p->tty ? 0 : c->stream == OUTLOG_STDERR] = true;
		fake_on(p);
	} else {
		const struct outlog_chunk *oc =
			outlog_append(&p->log, p->next_seq, c->stream, c->data, c->len);
		if (oc) {
			p->next_seq++;
			if (p->obs && !p->obs->output(p->ctx, (struct proc *)p, oc))
				p->paused = true;
		}
	}
	free(c);
	return true;
}

static void fake_proc_free(struct fake_proc *p)
{
	while (p->pipe) {
		struct fake_chunk *c = p->pipe;
		p->pipe = c->next;
		free(c);
	}
	outlog_free(&p->log);
	buf_free(&p->stdin_queue);
	buf_free(&p->stdin_read);
	free(p);
}

void fake_run(struct fake_engine *fe)
{
	/* Callbacks may release any process: start over after each step. */
	for (;;) {
		struct fake_proc *p = fe->procs;
		while (p && !fake_step(p))
			p = p->next;
		if (!p)
			break;
	}
	while (fe->dead) {
		struct fake_proc *p = fe->dead;
		fe->dead = p->next;
		fake_proc_free(p);
	}
}

/* ---- the table ---- */

static struct proc *fake_proc_new(struct engine *eng, const struct proc_observer *obs, void *ctx)
{
	struct fake_engine *fe = (struct fake_engine *)eng;
	if (fe->fail_new) {
		fe->fail_new = false;
		return NULL;
	}
	struct fake_proc *p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->fe = fe;
	p->obs = obs;
	p->ctx = ctx;
	p->state = PROC_STARTING;
	p->next_seq = 1;
	p->pipe_tail = &p->pipe;
	loop_timer_init(&p->drain, NULL);
	outlog_init(&p->log, fe->cfg.retain_bytes, fe->cfg.retain_chunks);
	p->prev = fe->procs_tail;
	if (fe->procs_tail)
		fe->procs_tail->next = p;
	else
		fe->procs = p;
	fe->procs_tail = p;
	fe->live++;
	p->serial = ++fe->made;
	return (struct proc *)p;
}

static void fake_spawn_now(struct fake_proc *p)
{
	p->pid = p->fe->next_pid++;
	p->nstreams = p->tty ? 1 : 2;
	p->stdin_open = p->tty || p->pipe_stdin;
	p->state = PROC_RUNNING;
}

static int fake_start(struct proc *handle, const struct proc_spec *spec)
{
	struct fake_proc *p = fake_live(handle, "start of a released proc");
	struct fake_engine *fe = p->fe;
	if (p->state != PROC_STARTING || p->waiting || !spec->argv || !spec->argv[0])
		fake_misuse("start twice, or without argv", p);
	snprintf(p->argv0, sizeof(p->argv0), "%s", spec->argv[0]);
	p->tty = spec->tty;
	p->pipe_stdin = spec->pipe_stdin;
	p->sandboxed = spec->sandbox != NULL;
	if (fe->fail_start) {
		int err = fe->fail_start;
		fe->fail_start = 0;
		return err;
	}
	if (spec->sandbox && fe->cfg.no_sandbox)
		return -EOPNOTSUPP;
	if (spec->sandbox && fe->sandbox_wait) {
		p->waiting = true;
		return -EINPROGRESS;
	}
	fake_spawn_now(p);
	return 0;
}

static void fake_release(struct proc *handle)
{
	struct fake_proc *p = fake_live(handle, "release twice");
	struct fake_engine *fe = p->fe;
	if (p->state != PROC_STARTING && p->state != PROC_CLOSED)
		fe->release_kills++;
	p->released = true;
	p->obs = NULL;
	fake_timer_cancel((struct engine *)fe, &p->drain);
	if (p->prev)
		p->prev->next = p->next;
	else
		fe->procs = p->next;
	if (p->next)
		p->next->prev = p->prev;
	else
		fe->procs_tail = p->prev;
	p->prev = NULL;
	p->next = fe->dead;
	fe->dead = p;
	fe->live--;
	fe->released++;
}

static enum proc_write_status fake_write(struct proc *handle, const void *data, size_t len,
					 bool close_stdin)
{
	struct fake_proc *p = fake_live(handle, "write to a released proc");
	enum proc_write_status st =
		proc_write_status_of(p->state, p->stdin_open && !p->stdin_closing);
	if (st != PROC_WRITE_ACCEPTED)
		return st;
	if (p->fe->fail_write) {
		p->fe->fail_write = false;
		return PROC_WRITE_NOMEM;
	}
	/* A PTY's closeStdin is VEOF, twice after a partial line (proc.c). */
	char last = len ? ((const char *)data)[len - 1] : p->last_stdin_byte;
	size_t veofs = close_stdin && p->tty ? (last != '\n' && last != 0 ? 2 : 1) : 0;
	if (buf_reserve(&p->stdin_queue, len + veofs) < 0)
		return PROC_WRITE_NOMEM;
	buf_append(&p->stdin_queue, data, len);
	buf_append(&p->stdin_queue, "\x04\x04", veofs);
	if (len + veofs)
		p->last_stdin_byte = veofs ? '\x04' : last;
	if (close_stdin) {
		p->stdin_closing = true;
		if (!p->tty && !p->stdin_queue.len)
			fake_drop_stdin(p);
	}
	return PROC_WRITE_ACCEPTED;
}

static bool fake_stdin_full(const struct proc *handle)
{
	const struct fake_proc *p = fake_live(handle, "stdin_full of a released proc");
	return p->stdin_open && !p->stdin_closing && p->stdin_queue.len >= p->fe->cfg.stdin_limit;
}

static bool fake_signal_kills(int sig)
{
	return sig == SIGKILL || sig == SIGTERM || sig == SIGINT || sig == SIGHUP;
}

static int fake_signal(struct proc *handle, int sig)
{
	struct fake_proc *p = fake_live(handle, "signal to a released proc");
	if (p->state == PROC_STARTING && p->waiting) {
		if (sig == SIGKILL)
			p->kill_on_spawn = true;
		return sig == SIGKILL ? 0 : -ESRCH;
	}
	if (p->pid <= 0 || p->state == PROC_CLOSED)
		return -ESRCH;
	if (p->fe->fail_signal) {
		int err = p->fe->fail_signal;
		p->fe->fail_signal = 0;
		return err;
	}
	if (sig > 0 && sig < 65)
		p->signals[sig]++;
	/* A running child dies; an exited one's group lets go of its pipes. */
	if (p->fe->cfg.signals_kill && fake_signal_kills(sig) && !p->doomed)
		p->doomed = sig;
	return 0;
}

static int fake_resize(struct proc *handle, unsigned short rows, unsigned short cols)
{
	struct fake_proc *p = fake_live(handle, "resize of a released proc");
	if (!p->tty)
		return -ENOTTY;
	if (!p->stdin_open)
		return -EBADF;
	p->rows = rows;
	p->cols = cols;
	return 0;
}

static void fake_resume_output(struct proc *handle)
{
	fake_live(handle, "resume of a released proc")->paused = false;
}

static void fake_set_delivered(struct proc *handle, uint64_t seq)
{
	outlog_set_delivered(&fake_live(handle, "delivered mark of a released proc")->log, seq);
}

static enum proc_state fake_state(const struct proc *h)
{
	return fake_live(h, "state of a released proc")->state;
}

static pid_t fake_pid(const struct proc *h)
{
	return fake_live(h, "pid of a released proc")->pid;
}

static bool fake_is_tty(const struct proc *h)
{
	return fake_live(h, "tty of a released proc")->tty;
}

static bool fake_sandboxed(const struct proc *h)
{
	return fake_live(h, "sandboxed of a released proc")->sandboxed;
}

static bool fake_exit_event(const struct proc *h, uint64_t *seq, int *exit_code)
{
	const struct fake_proc *p = fake_live(h, "exit of a released proc");
	if (!p->exit_seq)
		return false;
	*seq = p->exit_seq;
	*exit_code = p->exit_code;
	return true;
}

static uint64_t fake_next_seq(const struct proc *h)
{
	return fake_live(h, "next seq of a released proc")->next_seq;
}

static const struct outlog *fake_log(const struct proc *h)
{
	return &fake_live(h, "log of a released proc")->log;
}

static bool fake_sandbox_available(const struct engine *eng, const char **why)
{
	const struct fake_engine *fe = (const struct fake_engine *)eng;
	if (why)
		*why = fe->cfg.no_sandbox ? "the fake has none" : "the fake's";
	return !fe->cfg.no_sandbox;
}

/* ---- the fs methods' work: not in the fake (its users run no fs method) ---- */

static int fake_read_start(struct engine *eng, int fd, size_t size_hint, size_t max,
			   fileio_read_done *done, void *ctx, struct fileio_read **out)
{
	(void)eng, (void)size_hint, (void)max, (void)done, (void)ctx, (void)out;
	close(fd);	/* taken in every case (fileio.h) */
	return -ENOSYS;
}

static int fake_watch_new(struct engine *eng, struct fileio_watch **out)
{
	(void)eng, (void)out;
	return -ENOSYS;
}

static int fake_task_new(struct engine *eng, fileio_task_fn *fn, void *ctx,
			 struct fileio_task **out)
{
	(void)eng, (void)fn, (void)ctx, (void)out;
	return -ENOSYS;
}

static int fake_sandbox_get(struct engine *eng, const struct sandbox_policy *policy,
			    struct sandbox **out)
{
	(void)eng, (void)policy, (void)out;
	return -ENOSYS;
}

/* What only an object made by one of the above could be given to. */
static void fake_no_object(void)
{
	fake_misuse("an fs object the fake never made", NULL);
}

static void fake_read_cancel(struct fileio_read *r) { (void)r, fake_no_object(); }
static int fake_watch_dir(struct fileio_watch *w, const char *dir)
{
	(void)w, (void)dir, fake_no_object();
	return -ENOSYS;
}
static void fake_watch_start(struct fileio_watch *w, fileio_watch_event *fn, void *ctx)
{
	(void)w, (void)fn, (void)ctx, fake_no_object();
}
static void fake_watch_drop(struct fileio_watch *w) { (void)w, fake_no_object(); }
static void fake_task_next(struct fileio_task *t) { (void)t, fake_no_object(); }
static void fake_task_free(struct fileio_task *t) { (void)t, fake_no_object(); }
static int fake_sandbox_run(struct engine *eng, struct sandbox *sb, int (*fn)(void *arg), void *arg)
{
	(void)eng, (void)sb, (void)fn, (void)arg, fake_no_object();
	return -ENOSYS;
}

const struct engine_ops fake_engine_ops = {
	.proc_new = fake_proc_new,
	.start = fake_start,
	.release = fake_release,
	.write = fake_write,
	.stdin_full = fake_stdin_full,
	.signal = fake_signal,
	.resize = fake_resize,
	.resume_output = fake_resume_output,
	.set_delivered = fake_set_delivered,
	.state = fake_state,
	.pid = fake_pid,
	.is_tty = fake_is_tty,
	.sandboxed = fake_sandboxed,
	.exit_event = fake_exit_event,
	.next_seq = fake_next_seq,
	.log = fake_log,
	.sandbox_available = fake_sandbox_available,
	.timer_arm = fake_timer_arm,
	.timer_cancel = fake_timer_cancel,
	.read_start = fake_read_start,
	.read_cancel = fake_read_cancel,
	.watch_new = fake_watch_new,
	.watch_dir = fake_watch_dir,
	.watch_start = fake_watch_start,
	.watch_drop = fake_watch_drop,
	.task_new = fake_task_new,
	.task_next = fake_task_next,
	.task_free = fake_task_free,
	.sandbox_get = fake_sandbox_get,
	.sandbox_run = fake_sandbox_run,
};

/* ---- the engine ---- */

struct fake_engine *fake_engine_new(const struct fake_config *cfg)
{
	struct fake_engine *fe = calloc(1, sizeof(*fe));
	if (!fe)
		return NULL;
	if (cfg)
		fe->cfg = *cfg;
	if (!fe->cfg.retain_bytes)
		fe->cfg.retain_bytes = 1u << 20;
	if (!fe->cfg.retain_chunks)
		fe->cfg.retain_chunks = 50000;
	if (!fe->cfg.exit_drain_ms)
		fe->cfg.exit_drain_ms = 50;
	if (!fe->cfg.stdin_limit)
		fe->cfg.stdin_limit = PROC_STDIN_LIMIT;
	fe->now_ns = 1000 * (uint64_t)FAKE_NS_PER_MS;
	fe->next_pid = 1000;
	return fe;
}

size_t fake_engine_free(struct fake_engine *fe)
{
	if (!fe)
		return 0;
	size_t never_released = fe->live;
	while (fe->procs) {
		struct fake_proc *p = fe->procs;
		fe->procs = p->next;
		fake_proc_free(p);
	}
	while (fe->dead) {
		struct fake_proc *p = fe->dead;
		fe->dead = p->next;
		fake_proc_free(p);
	}
	free(fe);
	return never_released;
}

struct fake_proc *fake_nth(struct fake_engine *fe, size_t i)
{
	struct fake_proc *p = fe->procs;
	while (p && i--)
		p = p->next;
	return p;
}

void fake_sandbox_wait(struct fake_engine *fe)
{
	fe->sandbox_wait = true;
}

void fake_sandbox_ready(struct fake_engine *fe, int err)
{
	fe->sandbox_wait = false;
	/* spawned() may drop any entry (and release its proc): start over each time. */
	for (bool found = true; found;) {
		found = false;
		for (struct fake_proc *p = fe->procs; p; p = p->next) {
			if (!p->waiting)
				continue;
			found = true;
			p->waiting = false;
			int ret = err < 0 ? -EOPNOTSUPP : 0;
			if (ret == 0)
				fake_spawn_now(p);
			if (ret == 0 && p->kill_on_spawn)
				fake_signal((struct proc *)p, SIGKILL);
			if (p->obs && p->obs->spawned)
				p->obs->spawned(p->ctx, (struct proc *)p, ret);
			break;
		}
	}
}
