/* unit_proc_io: a proc's output reads and stdin writes on a kernel that
 * answers -EAGAIN instead of waiting (what io_uring does for a non-blocking
 * fd on kernels that do not poll it), driven through a fake loop.
 *
 * This file defines the loop's functions itself (so loop.o is not linked):
 * SQEs are kept here and a small fake kernel answers them each turn with
 * real syscalls on the real fds of a real child: a READ with nothing to read
 * gets -EAGAIN, a POLL_ADD completes once poll(2) says so, a WRITE to a full
 * pipe gets -EAGAIN, buffer selection takes the fake provided buffers (and
 * -ENOBUFS when they are gone), completions of one turn are delivered after
 * every SQE of it was answered, as the kernel batches them. What is counted
 * is how many reads and writes the proc asks for while nothing can move:
 * a loop that re-arms them at once is busy, one that polls first is idle.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "engine.h"
#include "loop.h"
#include "proc.h"
#include "spawn.h"
#include "tap.h"

/* ---- the fake loop ---- */

#define FK_SQES 256

struct loop {
	int unused;
};

struct loop_bufs {
	unsigned count, size;
	uint16_t bgid;
	char *mem;
	bool taken[64];
};

static struct loop fk_loop;
static struct io_uring_sqe fk_sqe[FK_SQES];
static bool fk_used[FK_SQES];
static struct loop_defer *fk_defer_head, **fk_defer_tail = &fk_defer_head;
static struct loop_timer *fk_timers;	/* armed timers, linked through ->next */
static unsigned fk_buf_limit = 64;	/* provided buffers the fake kernel may use */
static long fk_reads, fk_writes, fk_polls;	/* SQEs answered, by kind */
static long fk_enobufs;				/* reads answered -ENOBUFS */
static struct loop_bufs *fk_bufs;		/* the engine's, caught in loop_bufs_new */

static uint64_t fk_clock_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

struct io_uring_sqe *loop_sqe_noop(struct loop *lp)
{
	(void)lp;
	for (size_t i = 0; i < FK_SQES; i++) {
		if (fk_used[i])
			continue;
		fk_used[i] = true;
		memset(&fk_sqe[i], 0, sizeof(fk_sqe[i]));
		return &fk_sqe[i];
	}
	fprintf(stderr, "unit_proc_io: out of fake SQEs\n");
	abort();
}

struct io_uring_sqe *loop_sqe(struct loop *lp, struct loop_op *op)
{
	struct io_uring_sqe *sqe = loop_sqe_noop(lp);
	io_uring_sqe_set_data(sqe, op);
	return sqe;
}

void loop_cancel(struct loop *lp, struct loop_op *op)
{
	io_uring_prep_cancel64(loop_sqe_noop(lp), (uint64_t)(uintptr_t)op, 0);
}

void loop_flush(struct loop *lp)
{
	(void)lp;
}

uint64_t loop_now_ns(struct loop *lp)
{
	(void)lp;
	return fk_clock_ns();
}

bool loop_has_waitid(const struct loop *lp)
{
	(void)lp;
	return false;	/* exit waits are POLL_ADDs on the pidfd */
}

void loop_timer_cancel(struct loop *lp, struct loop_timer *t)
{
	(void)lp;
	if (!t->armed)
		return;
	for (struct loop_timer **pp = &fk_timers; *pp; pp = &(*pp)->next)
		if (*pp == t) {
			*pp = t->next;
			break;
		}
	t->armed = false;
}

void loop_timer_arm(struct loop *lp, struct loop_timer *t, uint64_t ms)
{
	loop_timer_cancel(lp, t);
	t->deadline_ns = fk_clock_ns() + ms * 1000000u;
	t->armed = true;
	t->next = fk_timers;
	fk_timers = t;
}

void loop_defer(struct loop *lp, struct loop_defer *d)
{
	(void)lp;
	if (d->queued)
		return;
	d->queued = true;
	d->next = NULL;
	*fk_defer_tail = d;
	fk_defer_tail = &d->next;
}

void loop_defer_cancel(struct loop *lp, struct loop_defer *d)
{
	(void)lp;
	if (!d->queued)
		return;
	for (struct loop_defer **pp = &fk_defer_head; *pp; pp = &(*pp)->next)
		if (*pp == d) {
			*pp = d->next;
			if (fk_defer_tail == &d->next)
				fk_defer_tail = pp;
			break;
		}
	d->queued = false;
}

int loop_bufs_new(struct loop *lp, struct loop_bufs **out, uint16_t bgid, unsigned count,
		  unsigned size)
{
	(void)lp;
	struct loop_bufs *b = calloc(1, sizeof(*b));
	if (!b || count > 64 || !(b->mem = malloc((size_t)count * size))) {
		free(b);
		return -ENOMEM;
	}
	b->count = count;
	b->size = size;
	b->bgid = bgid;
	*out = b;
	fk_bufs = b;
	return 0;
}

void loop_bufs_free(struct loop *lp, struct loop_bufs *b)
{
	(void)lp;
	if (b)
		free(b->mem);
	free(b);
}

uint16_t loop_bufs_group(const struct loop_bufs *b)
{
	return b->bgid;
}

unsigned loop_bufs_size(const struct loop_bufs *b)
{
	return b->size;
}

void *loop_bufs_get(struct loop_bufs *b, uint32_t cqe_flags)
{
	return b->mem + (size_t)(cqe_flags >> IORING_CQE_BUFFER_SHIFT) * b->size;
}

void loop_bufs_put(struct loop_bufs *b, uint32_t cqe_flags)
{
	b->taken[cqe_flags >> IORING_CQE_BUFFER_SHIFT] = false;
}

/* ---- the fake kernel ---- */


static short fk_ready(int fd, short events)
{
	struct pollfd pfd = { .fd = fd, .events = events };
	return poll(&pfd, 1, 0) == 1 ? pfd.revents : 0;
}

/* A free provided buffer (within fk_buf_limit), or -1. */
static int fk_take_buf(void)
{
	unsigned in_use = 0;
	for (unsigned i = 0; i < fk_bufs->count; i++)
		in_use += fk_bufs->taken[i];
	for (unsigned i = 0; i < fk_bufs->count && in_use < fk_buf_limit; i++)
		if (!fk_bufs->taken[i]) {
			fk_bufs->taken[i] = true;
			return (int)i;
		}
	return -1;
}

/* Answer one SQE: true (with its result and CQE flags) when it completes this turn. */
static bool fk_answer(struct io_uring_sqe *sqe, int *res, uint32_t *flags)
{
	*flags = 0;
	switch (sqe->opcode) {
	case IORING_OP_READ: {
		fk_reads++;
		if (!fk_ready(sqe->fd, POLLIN)) {
			*res = -EAGAIN;	/* a kernel that does not wait */
			return true;
		}
		int bid = fk_take_buf();
		if (bid < 0) {
			fk_enobufs++;
			*res = -ENOBUFS;
			return true;
		}
		ssize_t n = read(sqe->fd, fk_bufs->mem + (size_t)bid * fk_bufs->size, sqe->len);
		*res = n < 0 ? -errno : (int)n;
		if (n > 0)
			*flags = IORING_CQE_F_BUFFER | ((uint32_t)bid << IORING_CQE_BUFFER_SHIFT);
		else
			fk_bufs->taken[bid] = false;
		return true;
	}
	case IORING_OP_WRITE: {
		fk_writes++;
		if (!fk_ready(sqe->fd, POLLOUT | POLLERR)) {
			*res = -EAGAIN;
			return true;
		}
		int fl = fcntl(sqe->fd, F_GETFL);
		fcntl(sqe->fd, F_SETFL, fl | O_NONBLOCK);
		ssize_t n = write(sqe->fd, (const void *)(uintptr_t)sqe->addr, sqe->len);
		*res = n < 0 ? -errno : (int)n;
		fcntl(sqe->fd, F_SETFL, fl);
		return true;
	}
	case IORING_OP_POLL_ADD: {
		short ev = fk_ready(sqe->fd, (short)sqe->poll32_events);
		if (!ev)
			return false;
		fk_polls++;
		*res = ev;
		return true;
	}
	default:
		fprintf(stderr, "unit_proc_io: unexpected opcode %u\n", sqe->opcode);
		*res = -EINVAL;
		return true;
	}
}

/* One turn: deferred work, then every SQE queued before now answered (up to
 * wait_ms for one to be ready), then the completions, then due timers. */
static void fk_turn(int wait_ms)
{
	struct loop_defer *d = fk_defer_head;
	fk_defer_head = NULL;
	fk_defer_tail = &fk_defer_head;
	while (d) {
		struct loop_defer *next = d->next;
		d->queued = false;
		d->fn(d);
		d = next;
	}

	struct {
		struct loop_op *op;
		int res;
		uint32_t flags;
	} done[FK_SQES];
	size_t ndone = 0;
	bool snap[FK_SQES];
	memcpy(snap, fk_used, sizeof(snap));
	/* Cancels first: their targets complete with -ECANCELED. */
	for (size_t i = 0; i < FK_SQES; i++) {
		if (!snap[i] || fk_sqe[i].opcode != IORING_OP_ASYNC_CANCEL)
			continue;
		fk_used[i] = snap[i] = false;
		for (size_t j = 0; j < FK_SQES; j++)
			if (snap[j] && fk_sqe[j].user_data == fk_sqe[i].addr) {
				done[ndone].op = (struct loop_op *)(uintptr_t)fk_sqe[j].user_data;
				done[ndone].res = -ECANCELED;
				done[ndone++].flags = 0;
				fk_used[j] = snap[j] = false;
			}
	}
	if (wait_ms > 0) {
		struct pollfd pfd[FK_SQES];
		nfds_t n = 0;
		for (size_t i = 0; i < FK_SQES; i++)
			if (snap[i] && fk_sqe[i].opcode == IORING_OP_POLL_ADD)
				pfd[n++] = (struct pollfd){ .fd = fk_sqe[i].fd,
							    .events = (short)fk_sqe[i].poll32_events };
		if (n && !ndone)
			poll(pfd, n, wait_ms);
	}
	for (size_t i = 0; i < FK_SQES; i++) {
		if (!snap[i] || !fk_answer(&fk_sqe[i], &done[ndone].res, &done[ndone].flags))
			continue;
		done[ndone++].op = (struct loop_op *)(uintptr_t)fk_sqe[i].user_data;
		fk_used[i] = false;
	}
	for (size_t i = 0; i < ndone; i++)
		if (done[i].op)
			done[i].op->cb(done[i].op, done[i].res, done[i].flags);

	uint64_t now = fk_clock_ns();
	for (struct loop_timer *t = fk_timers, *next; t; t = next) {
		next = t->next;
		if (t->deadline_ns <= now) {
			loop_timer_cancel(&fk_loop, t);
			t->fn(t);
			next = fk_timers;	/* the list may have changed */
		}
	}
}

/* Wait (up to timeout_ms) until want of the pending POLL_ADDs are ready. */
static bool fk_wait_ready(int want, int timeout_ms)
{
	uint64_t end = fk_clock_ns() + (uint64_t)timeout_ms * 1000000u;
	for (;;) {
		int ready = 0;
		for (size_t i = 0; i < FK_SQES; i++)
			ready += fk_used[i] && fk_sqe[i].opcode == IORING_OP_POLL_ADD &&
				 fk_ready(fk_sqe[i].fd, (short)fk_sqe[i].poll32_events);
		if (ready >= want)
			return true;
		if (fk_clock_ns() >= end)
			return false;
		poll(NULL, 0, 1);
	}
}

/* ---- the proc's observer ---- */

struct seen {
	char out[4096];
	size_t out_len;
	char err[4096];
	size_t err_len;
	int exit_code;
	bool exited, closed;
};

static bool seen_output(void *ctx, struct proc *p, const struct outlog_chunk *c)
{
	(void)p;
	struct seen *s = ctx;
	char *dst = c->stream == OUTLOG_STDERR ? s->err : s->out;
	size_t *len = c->stream == OUTLOG_STDERR ? &s->err_len : &s->out_len;
	if (*len + c->len < sizeof(s->out)) {
		memcpy(dst + *len, c->data, c->len);
		*len += c->len;
	}
	return true;
}

static void seen_exited(void *ctx, struct proc *p, uint64_t seq, int code, int signo)
{
	(void)p, (void)seq, (void)signo;
	struct seen *s = ctx;
	s->exited = true;
	s->exit_code = code;
}

static void seen_closed(void *ctx, struct proc *p, uint64_t seq)
{
	(void)p, (void)seq;
	((struct seen *)ctx)->closed = true;
}

static const struct proc_observer observer = {
	.output = seen_output,
	.exited = seen_exited,
	.closed = seen_closed,
};

/* ---- cases ---- */

static struct engine *eng;

static const char *const child_env[] = { "PATH=/usr/bin:/bin", NULL };

static struct proc *spawn(struct seen *s, const char *const *argv)
{
	struct proc_spec spec = {
		.argv = argv, .envp = child_env, .cwd = "/", .pipe_stdin = true,
	};
	memset(s, 0, sizeof(*s));
	struct proc *p = proc_new(eng, &observer, s);
	if (p && proc_spawn(p, &spec) < 0) {
		proc_release(p);
		p = NULL;
	}
	return p;
}

/* Turns (each waiting up to 10 ms for an fd) until closed, 5 s at most. */
static bool run_until_closed(struct seen *s)
{
	uint64_t end = fk_clock_ns() + 5000000000u;
	while (!s->closed && fk_clock_ns() < end)
		fk_turn(10);
	return s->closed;
}

/* A child that holds its output open and writes nothing: the reads wait on
 * a poll, they are not asked for again every turn. Then output flows. */
static void test_eagain_read_polls_first(void)
{
	struct seen s;
	fk_reads = fk_polls = 0;
	struct proc *p = spawn(&s, (const char *const[]){ "cat", NULL });
	REQUIRE(p);
	for (int i = 0; i < 200; i++)
		fk_turn(0);
	/* One read per stream (stdout, stderr), answered -EAGAIN, then polls. */
	CHECKF(fk_reads <= 2, "%ld reads in 200 idle turns: the loop is busy", fk_reads);
	CHECK(!s.exited && s.out_len == 0);

	CHECK(proc_write(p, "hi\n", 3, true) == PROC_WRITE_ACCEPTED);
	CHECK(run_until_closed(&s));
	CHECKF(s.out_len == 3 && memcmp(s.out, "hi\n", 3) == 0, "out \"%.*s\"", (int)s.out_len,
	       s.out);
	CHECK(s.exited && s.exit_code == 0);
	CHECKF(fk_reads < 20, "%ld reads for one line and two EOFs", fk_reads);
	proc_release(p);
}

/* A child that never reads its stdin: once the pipe is full the write
 * waits on a poll. Killing the child ends stdin (the poll says ERR). */
static void test_eagain_write_polls_first(void)
{
	struct seen s;
	static char big[1 << 20];
	fk_writes = 0;
	struct proc *p = spawn(&s, (const char *const[]){ "sleep", "30", NULL });
	REQUIRE(p);
	CHECK(proc_write(p, big, sizeof(big), false) == PROC_WRITE_ACCEPTED);
	for (int i = 0; i < 200; i++)
		fk_turn(0);
	/* Writes until the pipe is full, one more answered -EAGAIN, then a poll. */
	CHECKF(fk_writes <= 4, "%ld writes in 200 turns on a full pipe: the loop is busy",
	       fk_writes);
	CHECK(proc_stdin_queued(p) > 0);
	CHECK(proc_signal(p, SIGKILL) == 0);
	CHECK(run_until_closed(&s));
	CHECK(s.exited && s.exit_code == 128 + SIGKILL);
	CHECK(proc_write(p, "x", 1, false) == PROC_WRITE_STDIN_CLOSED);
	proc_release(p);
}

/* With one provided buffer, two streams with data in the same turn: one
 * read gets -ENOBUFS and is re-armed next turn; nothing is lost. */
static void test_enobufs_rearms_next_turn(void)
{
	struct seen s;
	fk_reads = fk_enobufs = 0;
	fk_buf_limit = 1;
	struct proc *p = spawn(&s, (const char *const[]){ "sh", "-c",
		"read x; echo out; echo err >&2; read y", NULL });
	REQUIRE(p);
	for (int i = 0; i < 5; i++)
		fk_turn(0);
	CHECK(proc_write(p, "1\n", 2, false) == PROC_WRITE_ACCEPTED);
	fk_turn(0);	/* the write */
	/* Both lines are written before either is read. */
	CHECK(fk_wait_ready(2, 5000));
	uint64_t end = fk_clock_ns() + 5000000000u;
	while ((s.out_len < 4 || s.err_len < 4) && fk_clock_ns() < end)
		fk_turn(10);
	CHECK(proc_write(p, "2\n", 2, true) == PROC_WRITE_ACCEPTED);
	CHECK(run_until_closed(&s));
	CHECKF(s.out_len == 4 && memcmp(s.out, "out\n", 4) == 0, "out \"%.*s\"", (int)s.out_len,
	       s.out);
	CHECKF(s.err_len == 4 && memcmp(s.err, "err\n", 4) == 0, "err \"%.*s\"", (int)s.err_len,
	       s.err);
	CHECKF(fk_enobufs >= 1, "no read met -ENOBUFS: the case did not happen");
	CHECKF(fk_reads < 40, "%ld reads", fk_reads);
	fk_buf_limit = 64;
	proc_release(p);
}

static const struct tap_case cases[] = {
	{ "eagain_read_polls_first", test_eagain_read_polls_first },
	{ "eagain_write_polls_first", test_eagain_write_polls_first },
	{ "enobufs_rearms_next_turn", test_enobufs_rearms_next_turn },
	{ NULL, NULL },
};

/* The spawner's stacks, then the engine on the fake loop (whose
 * loop_bufs_new keeps the output buffers for the fake kernel). */
static int engine_up(void)
{
	int ret = spawn_init(NULL);
	if (ret < 0)
		return ret;
	struct engine_config cfg = {
		.retain_bytes = 1 << 20, .retain_chunks = 50000, .exit_drain_ms = 50,
	};
	return engine_new(&eng, &fk_loop, &cfg);
}

int main(int argc, char **argv)
{
	if (engine_up() < 0) {
		printf("1..0 # SKIP engine_new failed\n");
		return 0;
	}
	int rc = tap_main(argc, argv, cases);
	engine_free(eng);
	return rc;
}
