/* loop: the one io_uring that drives everything, plus timers and deferred work.
 *
 * Every in-flight operation is a struct loop_op embedded in an owner that
 * outlives it (DESIGN rule 1): the SQE's user_data is the op's address and
 * the completion calls op->cb. Timers are a pairing heap of struct
 * loop_timer (also embedded in their owners, links included, so arming one
 * never allocates and cannot fail) serviced by the wait's own timeout.
 * Provided-buffer rings (struct loop_bufs) let reads take memory only when
 * data arrives. Single-threaded; nothing here blocks but the wait.
 */
#ifndef RINGEXEC_LOOP_H
#define RINGEXEC_LOOP_H

#include <liburing.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "timer.h"

/* Opcodes newer than Debian's liburing 2.3 (kernel 6.7+). */
#ifndef IORING_OP_WAITID
#define RINGEXEC_OP_WAITID 50
#else
#define RINGEXEC_OP_WAITID IORING_OP_WAITID
#endif

struct loop;
struct loop_op;

/* res is cqe->res; flags is cqe->flags (IORING_CQE_F_MORE, _F_BUFFER, ...). */
typedef void loop_cb(struct loop_op *op, int res, uint32_t flags);

struct loop_op {
	loop_cb *cb;	/* set by the owner before loop_sqe() */
};

struct loop_defer {
	struct loop_defer *next;	/* queue link, owned by the loop */
	void (*fn)(struct loop_defer *d);	/* set by the owner */
	bool queued;			/* true between loop_defer() and the call */
};

/* Create the ring (SINGLE_ISSUER|DEFER_TASKRUN where the kernel has them)
 * and probe features. 0 or -errno (-EPERM/-ENOSYS: io_uring unavailable). */
int loop_new(struct loop **out, unsigned entries);
void loop_free(struct loop *lp);

/* An SQE whose user_data is op; never NULL (submits to make room).
 * Prep it after this call: liburing's prep helpers leave user_data alone. */
struct io_uring_sqe *loop_sqe(struct loop *lp, struct loop_op *op);
/* An SQE whose completion is ignored (user_data 0): cancels and the like. */
struct io_uring_sqe *loop_sqe_noop(struct loop *lp);
/* Ask the kernel to cancel op; its own completion still comes (with
 * -ECANCELED, or its result if it finished first). */
void loop_cancel(struct loop *lp, struct loop_op *op);

/* Hand every prepared SQE to the kernel now (before running code in
 * another task that may prepare SQEs but must never submit them). */
void loop_flush(struct loop *lp);

/* Run until loop_stop() (one stop ends one run: loop_run() may be called
 * again). Returns 0, or -errno on a fatal ring error. */
int loop_run(struct loop *lp);
void loop_stop(struct loop *lp);

/* Monotonic time, cached per loop iteration. */
uint64_t loop_now_ns(struct loop *lp);
static inline uint64_t loop_now_ms(struct loop *lp) { return loop_now_ns(lp) / 1000000u; }

/* (Re)arm t to fire after ms milliseconds. Never fails: nothing is allocated. */
void loop_timer_arm(struct loop *lp, struct loop_timer *t, uint64_t ms);
void loop_timer_cancel(struct loop *lp, struct loop_timer *t);

/* Run d->fn at the top of the next iteration (once, however often queued). */
void loop_defer(struct loop *lp, struct loop_defer *d);
/* Remove d from the queue if it is there (before freeing its owner). */
void loop_defer_cancel(struct loop *lp, struct loop_defer *d);

/* True when the kernel has IORING_OP_WAITID (probed at start-up). */
bool loop_has_waitid(const struct loop *lp);

/* A ring of `count` provided buffers of `size` bytes in buffer group bgid. */
struct loop_bufs;
int loop_bufs_new(struct loop *lp, struct loop_bufs **out, uint16_t bgid, unsigned count,
		  unsigned size);
void loop_bufs_free(struct loop *lp, struct loop_bufs *b);
uint16_t loop_bufs_group(const struct loop_bufs *b);
unsigned loop_bufs_size(const struct loop_bufs *b);
/* The buffer a completion with IORING_CQE_F_BUFFER selected. */
void *loop_bufs_get(struct loop_bufs *b, uint32_t cqe_flags);
/* Give that buffer back to the kernel. */
void loop_bufs_put(struct loop_bufs *b, uint32_t cqe_flags);

#endif
