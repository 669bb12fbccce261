/* loop: ring setup, op submission, completion dispatch, timers, deferred work.
 *
 * Owns the io_uring and the timer heap (its links live in the timers, so
 * arming allocates nothing). It knows nothing of what the ops do: a
 * completion is handed to op->cb with res and flags, one CQE at a time,
 * after the CQE has been released, so a callback may submit or free freely.
 * Must not block anywhere but in the wait for completions.
 */
#include "loop.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

struct loop {
	struct io_uring ring;		/* the one ring */
	bool stop;			/* set by loop_stop() */
	bool has_waitid;		/* IORING_OP_WAITID probed at start-up */
	uint64_t now_ns;		/* cached monotonic time */
	struct loop_timer *timers;	/* root of the pairing heap on deadline_ns */
	struct loop_defer *defer_head;	/* deferred work, FIFO */
	struct loop_defer **defer_tail;
};

struct loop_bufs {
	struct io_uring_buf_ring *br;	/* the shared ring of buffer descriptors */
	char *mem;			/* count * size bytes of buffers */
	size_t ring_bytes;		/* size of the br mapping */
	unsigned count;			/* buffers (power of two) */
	unsigned size;			/* bytes per buffer */
	uint16_t bgid;			/* buffer group id */
};

static uint64_t loop_clock_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int loop_ring_init(struct loop *lp, unsigned entries)
{
	static const unsigned flag_sets[] = {
		IORING_SETUP_SUBMIT_ALL | IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
		IORING_SETUP_SUBMIT_ALL | IORING_SETUP_COOP_TASKRUN,
		0,
	};
	int ret = -EINVAL;

	for (size_t i = 0; i < sizeof(flag_sets) / sizeof(flag_sets[0]); i++) {
		struct io_uring_params p;
		memset(&p, 0, sizeof(p));
		p.flags = flag_sets[i] | IORING_SETUP_CQSIZE;
		p.cq_entries = entries * 4;
		ret = io_uring_queue_init_params(entries, &lp->ring, &p);
		if (ret != -EINVAL)
			return ret;
	}
	return ret;
}

int loop_new(struct loop **out, unsigned entries)
{
	struct loop *lp = calloc(1, sizeof(*lp));
	if (!lp)
		return -ENOMEM;
	int ret = loop_ring_init(lp, entries);
	if (ret < 0) {
		free(lp);
		return ret;
	}
	struct io_uring_probe *probe = io_uring_get_probe_ring(&lp->ring);
	if (probe) {
		lp->has_waitid = io_uring_opcode_supported(probe, RINGEXEC_OP_WAITID);
		io_uring_free_probe(probe);
	}
	lp->defer_tail = &lp->defer_head;
	lp->now_ns = loop_clock_ns();
	*out = lp;
	return 0;
}

void loop_free(struct loop *lp)
{
	if (!lp)
		return;
	io_uring_queue_exit(&lp->ring);
	free(lp);
}

bool loop_has_waitid(const struct loop *lp)
{
	return lp->has_waitid;
}

struct io_uring_sqe *loop_sqe_noop(struct loop *lp)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&lp->ring);
	while (!sqe) {
		/* SQ full: hand what we have to the kernel to make room. */
		int ret = io_uring_submit(&lp->ring);
		if (ret < 0 && ret != -EINTR && ret != -EAGAIN && ret != -EBUSY) {
			fprintf(stderr, "ringexecd: fatal: io_uring_submit: %s\n", strerror(-ret));
			abort();
		}
		sqe = io_uring_get_sqe(&lp->ring);
	}
	io_uring_sqe_set_data64(sqe, 0);
	return sqe;
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
	int ret;
	do
		ret = io_uring_submit(&lp->ring);
	while (ret == -EINTR);
}

uint64_t loop_now_ns(struct loop *lp)
{
	return lp->now_ns;
}

void loop_stop(struct loop *lp)
{
	lp->stop = true;
}

/* ---- timers: a pairing heap on deadline_ns, its links in each timer ---- */

/* Meld two roots (either may be NULL): the later becomes the earlier's first child. */
static struct loop_timer *loop_meld(struct loop_timer *a, struct loop_timer *b)
{
	if (!a)
		return b;
	if (!b)
		return a;
	if (b->deadline_ns < a->deadline_ns) {
		struct loop_timer *t = a;
		a = b;
		b = t;
	}
	b->prev = a;
	b->next = a->child;
	if (a->child)
		a->child->prev = b;
	a->child = b;
	a->next = a->prev = NULL;
	return a;
}

/* Meld a list of siblings into one root: pairs left to right, then the
 * pairs right to left (the two passes that keep the heap shallow). */
static struct loop_timer *loop_meld_siblings(struct loop_timer *first)
{
	struct loop_timer *pairs = NULL;	/* melded pairs, newest first */
	while (first) {
		struct loop_timer *a = first, *b = a->next;
		first = b ? b->next : NULL;
		a->next = a->prev = NULL;
		if (b)
			b->next = b->prev = NULL;
		struct loop_timer *m = loop_meld(a, b);
		m->next = pairs;
		pairs = m;
	}
	struct loop_timer *root = NULL;
	while (pairs) {
		struct loop_timer *n = pairs->next;
		pairs->next = NULL;
		root = loop_meld(root, pairs);
		pairs = n;
	}
	return root;
}

void loop_timer_cancel(struct loop *lp, struct loop_timer *t)
{
	if (!t->armed)
		return;
	t->armed = false;
	if (t == lp->timers) {
		lp->timers = loop_meld_siblings(t->child);
	} else {
		/* Cut t's subtree out (prev is its parent or its left sibling). */
		if (t->prev->child == t)
			t->prev->child = t->next;
		else
			t->prev->next = t->next;
		if (t->next)
			t->next->prev = t->prev;
		lp->timers = loop_meld(lp->timers, loop_meld_siblings(t->child));
	}
	t->child = t->next = t->prev = NULL;
}

void loop_timer_arm(struct loop *lp, struct loop_timer *t, uint64_t ms)
{
	loop_timer_cancel(lp, t);
	uint64_t now = loop_clock_ns();
	/* A deadline past the clock's range is "never" (a huge waitMs must
	 * not wrap around and fire at once). */
	t->deadline_ns = ms > (UINT64_MAX - now) / 1000000u ? UINT64_MAX : now + ms * 1000000u;
	t->armed = true;
	lp->timers = loop_meld(lp->timers, t);
}

static void loop_run_timers(struct loop *lp)
{
	while (lp->timers && lp->timers->deadline_ns <= lp->now_ns) {
		struct loop_timer *t = lp->timers;
		loop_timer_cancel(lp, t);
		t->fn(t);
	}
}

/* ---- deferred work ---- */

void loop_defer(struct loop *lp, struct loop_defer *d)
{
	if (d->queued)
		return;
	d->queued = true;
	d->next = NULL;
	*lp->defer_tail = d;
	lp->defer_tail = &d->next;
}

void loop_defer_cancel(struct loop *lp, struct loop_defer *d)
{
	if (!d->queued)
		return;
	for (struct loop_defer **pp = &lp->defer_head; *pp; pp = &(*pp)->next) {
		if (*pp != d)
			continue;
		*pp = d->next;
		if (lp->defer_tail == &d->next)
			lp->defer_tail = pp;
		break;
	}
	d->queued = false;
}

static void loop_run_deferred(struct loop *lp)
{
	/* Only what was queued before this call runs now; the rest waits a turn. */
	struct loop_defer *d = lp->defer_head;
	lp->defer_head = NULL;
	lp->defer_tail = &lp->defer_head;
	while (d) {
		struct loop_defer *next = d->next;
		d->queued = false;
		d->fn(d);
		d = next;
	}
}

/* ---- the loop ---- */

static void loop_dispatch(struct loop *lp)
{
	struct io_uring_cqe *cqe;

	while (io_uring_peek_cqe(&lp->ring, &cqe) == 0) {
		struct loop_op *op = io_uring_cqe_get_data(cqe);
		int res = cqe->res;
		uint32_t flags = cqe->flags;
		io_uring_cqe_seen(&lp->ring, cqe);
		if (op)
			op->cb(op, res, flags);
	}
}

int loop_run(struct loop *lp)
{
	while (!lp->stop) {
		/* What the last turn prepared (replies) goes out before the
		 * deferred work (which may take a while) runs. */
		if (lp->defer_head && io_uring_sq_ready(&lp->ring))
			io_uring_submit(&lp->ring);
		loop_run_deferred(lp);
		if (lp->stop)
			break;

		struct __kernel_timespec ts, *tsp = NULL;
		struct io_uring_cqe *cqe;
		if (lp->defer_head) {
			ts.tv_sec = 0;
			ts.tv_nsec = 0;
			tsp = &ts;
		} else if (lp->timers) {
			uint64_t now = loop_clock_ns();
			uint64_t due = lp->timers->deadline_ns;
			uint64_t wait = due > now ? due - now : 0;
			ts.tv_sec = (long long)(wait / 1000000000u);
			ts.tv_nsec = (long long)(wait % 1000000000u);
			tsp = &ts;
		}
		int ret;
		if (tsp && ts.tv_sec == 0 && ts.tv_nsec == 0)
			ret = io_uring_submit_and_get_events(&lp->ring);
		else
			ret = io_uring_submit_and_wait_timeout(&lp->ring, &cqe, 1, tsp, NULL);
		if (ret < 0 && ret != -ETIME && ret != -EINTR && ret != -EBUSY && ret != -EAGAIN) {
			fprintf(stderr, "ringexecd: fatal: io_uring wait: %s\n", strerror(-ret));
			return ret;
		}
		lp->now_ns = loop_clock_ns();
		loop_dispatch(lp);
		loop_run_timers(lp);
	}
	lp->stop = false;	/* that stop is spent: a later loop_run() runs again */
	io_uring_submit(&lp->ring);
	return 0;
}

/* ---- provided buffer rings ---- */

int loop_bufs_new(struct loop *lp, struct loop_bufs **out, uint16_t bgid, unsigned count,
		  unsigned size)
{
	struct loop_bufs *b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	b->count = count;
	b->size = size;
	b->bgid = bgid;
	b->ring_bytes = count * sizeof(struct io_uring_buf);
	b->br = mmap(NULL, b->ring_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (b->br == MAP_FAILED)
		goto fail_free;
	b->mem = mmap(NULL, (size_t)count * size, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (b->mem == MAP_FAILED)
		goto fail_br;

	struct io_uring_buf_reg reg;
	memset(&reg, 0, sizeof(reg));
	reg.ring_addr = (unsigned long)b->br;
	reg.ring_entries = count;
	reg.bgid = bgid;
	int ret = io_uring_register_buf_ring(&lp->ring, &reg, 0);
	if (ret < 0) {
		munmap(b->mem, (size_t)count * size);
		munmap(b->br, b->ring_bytes);
		free(b);
		return ret;
	}
	io_uring_buf_ring_init(b->br);
	int mask = io_uring_buf_ring_mask(count);
	for (unsigned i = 0; i < count; i++)
		io_uring_buf_ring_add(b->br, b->mem + (size_t)i * size, size, (unsigned short)i, mask,
				      (int)i);
	io_uring_buf_ring_advance(b->br, (int)count);
	*out = b;
	return 0;

fail_br:
	munmap(b->br, b->ring_bytes);
fail_free:
	free(b);
	return -ENOMEM;
}

void loop_bufs_free(struct loop *lp, struct loop_bufs *b)
{
	if (!b)
		return;
	io_uring_unregister_buf_ring(&lp->ring, b->bgid);
	munmap(b->mem, (size_t)b->count * b->size);
	munmap(b->br, b->ring_bytes);
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
	unsigned bid = cqe_flags >> IORING_CQE_BUFFER_SHIFT;
	return b->mem + (size_t)bid * b->size;
}

void loop_bufs_put(struct loop_bufs *b, uint32_t cqe_flags)
{
	unsigned short bid = (unsigned short)(cqe_flags >> IORING_CQE_BUFFER_SHIFT);
	io_uring_buf_ring_add(b->br, b->mem + (size_t)bid * b->size, b->size, bid,
			      io_uring_buf_ring_mask(b->count), 0);
	io_uring_buf_ring_advance(b->br, 1);
}
