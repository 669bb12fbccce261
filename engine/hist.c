/* hist: fixed-bucket latency histograms (see hist.h).
 *
 * Owns the bucket bounds and the counting. Must stay pure: no clock, no
 * allocation, no I/O.
 */
#include "hist.h"

/* 100 µs .. 10 s; Prometheus' `le` is inclusive, so is ours. */
static const uint64_t hist_bounds[HIST_BUCKETS] = {
	100000, 250000, 500000,			/* 100 µs, 250 µs, 500 µs */
	1000000, 2500000, 5000000,		/* 1 ms, 2.5 ms, 5 ms */
	10000000, 25000000, 50000000,		/* 10 ms, 25 ms, 50 ms */
	100000000, 250000000, 500000000,	/* 100 ms, 250 ms, 500 ms */
	1000000000, 2500000000, 5000000000,	/* 1 s, 2.5 s, 5 s */
	10000000000,				/* 10 s */
};

uint64_t hist_bound_ns(size_t i)
{
	return i < HIST_BUCKETS ? hist_bounds[i] : UINT64_MAX;
}

void hist_observe(struct hist *h, uint64_t ns)
{
	size_t i = 0;
	while (i < HIST_BUCKETS && ns > hist_bounds[i])	/* short: most land early */
		i++;
	h->counts[i]++;
	h->count++;
	h->sum_ns += ns;
}

uint64_t hist_cumulative(const struct hist *h, size_t i)
{
	uint64_t n = 0;
	if (i > HIST_BUCKETS)
		i = HIST_BUCKETS;
	for (size_t k = 0; k <= i; k++)
		n += h->counts[k];
	return n;
}
