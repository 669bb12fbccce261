/* hist: a latency histogram with fixed buckets, for the metrics.
 *
 * Sixteen upper bounds from 100 µs to 10 s in 1-2.5-5 steps, and +Inf.
 * Observations are nanoseconds: recording one is a few integer compares
 * and three additions (no float, no clock, no allocation), so it can sit
 * on the loop's hot path. Pure: the caller measures the time, the metrics
 * renderer reads the buckets. Knows nothing of any exposition format.
 */
#ifndef RINGEXEC_HIST_H
#define RINGEXEC_HIST_H

#include <stddef.h>
#include <stdint.h>

#define HIST_BUCKETS 16		/* finite buckets; one more counts the rest (+Inf) */

struct hist {
	uint64_t counts[HIST_BUCKETS + 1];	/* per bucket, not cumulative */
	uint64_t count;				/* observations */
	uint64_t sum_ns;			/* their sum */
};

/* The upper bound of bucket i (0 <= i < HIST_BUCKETS), inclusive, in ns. */
uint64_t hist_bound_ns(size_t i);
/* Count one observation of ns nanoseconds. */
void hist_observe(struct hist *h, uint64_t ns);
/* Observations <= hist_bound_ns(i); i == HIST_BUCKETS gives all of them. */
uint64_t hist_cumulative(const struct hist *h, size_t i);

#endif
