/* unit_hist: engine/hist, the fixed-bucket latency histogram.
 *
 * The bounds (100 µs to 10 s, increasing), inclusive upper bounds at every
 * edge, the +Inf bucket, cumulative counts that end at the count, and the
 * sum.
 */
#include "hist.h"
#include "tap.h"

#include <string.h>

static void bounds_span_100us_to_10s(void)
{
	CHECK(hist_bound_ns(0) == 100000);
	CHECK(hist_bound_ns(HIST_BUCKETS - 1) == 10000000000ull);
	for (size_t i = 1; i < HIST_BUCKETS; i++)
		CHECKF(hist_bound_ns(i) > hist_bound_ns(i - 1), "bound %zu", i);
	CHECK(hist_bound_ns(HIST_BUCKETS) == UINT64_MAX);
}

static void empty_is_all_zero(void)
{
	struct hist h;
	memset(&h, 0, sizeof(h));
	for (size_t i = 0; i <= HIST_BUCKETS; i++)
		CHECK(hist_cumulative(&h, i) == 0);
	CHECK(h.count == 0 && h.sum_ns == 0);
}

/* A value on a bound is in that bucket; one ns more is in the next. */
static void edges_are_inclusive(void)
{
	for (size_t i = 0; i < HIST_BUCKETS; i++) {
		struct hist h;
		memset(&h, 0, sizeof(h));
		uint64_t b = hist_bound_ns(i);
		hist_observe(&h, b);
		CHECKF(h.counts[i] == 1, "bound %zu", i);
		CHECKF(hist_cumulative(&h, i) == 1, "bound %zu", i);
		if (i > 0)
			CHECKF(hist_cumulative(&h, i - 1) == 0, "bound %zu", i);
		hist_observe(&h, b + 1);
		CHECKF(h.counts[i + 1] == 1, "bound %zu + 1 ns", i);
		CHECKF(hist_cumulative(&h, i) == 1, "bound %zu + 1 ns", i);
		CHECK(h.count == 2 && h.sum_ns == 2 * b + 1);
	}
}

static void zero_and_beyond_10s(void)
{
	struct hist h;
	memset(&h, 0, sizeof(h));
	hist_observe(&h, 0);
	CHECK(h.counts[0] == 1);
	hist_observe(&h, 10000000001ull);	/* 10 s + 1 ns */
	hist_observe(&h, 3600ull * 1000000000ull);	/* an hour */
	CHECK(h.counts[HIST_BUCKETS] == 2);
	CHECK(hist_cumulative(&h, HIST_BUCKETS - 1) == 1);
	CHECK(hist_cumulative(&h, HIST_BUCKETS) == 3);
	CHECK(hist_cumulative(&h, HIST_BUCKETS + 5) == 3);	/* clamped to +Inf */
}

/* Spawn-like values: cumulative counts never fall and end at count; the
 * sum is the exact sum. */
static void cumulative_and_sum(void)
{
	static const uint64_t v[] = { 40000, 95000, 120000, 260000, 260000, 1200000,
				      30000000, 700000000, 4000000000ull, 12000000000ull };
	struct hist h;
	memset(&h, 0, sizeof(h));
	uint64_t sum = 0;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		hist_observe(&h, v[i]);
		sum += v[i];
	}
	CHECK(h.count == sizeof(v) / sizeof(v[0]));
	CHECK(h.sum_ns == sum);
	CHECK(hist_cumulative(&h, 0) == 2);	/* <= 100 µs */
	CHECK(hist_cumulative(&h, 1) == 3);	/* <= 250 µs */
	CHECK(hist_cumulative(&h, 2) == 5);	/* <= 500 µs */
	CHECK(hist_cumulative(&h, 4) == 6);	/* <= 2.5 ms */
	CHECK(hist_cumulative(&h, 7) == 6);	/* <= 25 ms (30 ms is above) */
	CHECK(hist_cumulative(&h, 8) == 7);	/* <= 50 ms */
	CHECK(hist_cumulative(&h, 11) == 7);	/* <= 500 ms */
	CHECK(hist_cumulative(&h, 12) == 8);	/* <= 1 s */
	CHECK(hist_cumulative(&h, 14) == 9);	/* <= 5 s */
	uint64_t prev = 0;
	for (size_t i = 0; i <= HIST_BUCKETS; i++) {
		uint64_t c = hist_cumulative(&h, i);
		CHECKF(c >= prev, "bucket %zu", i);
		prev = c;
	}
	CHECK(prev == h.count);
	CHECK(h.counts[HIST_BUCKETS] == 1);	/* 12 s */
}

int main(int argc, char **argv)
{
	static const struct tap_case cases[] = {
		{ "bounds: 100 us .. 10 s, increasing", bounds_span_100us_to_10s },
		{ "an empty histogram is all zero", empty_is_all_zero },
		{ "a value on a bound is in that bucket, one ns more in the next", edges_are_inclusive },
		{ "0 in the first bucket; beyond 10 s only in +Inf", zero_and_beyond_10s },
		{ "cumulative counts rise to the count; the sum is exact", cumulative_and_sum },
		{ NULL, NULL },
	};
	return tap_main(argc, argv, cases);
}
