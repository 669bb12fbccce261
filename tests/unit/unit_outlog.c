/* unit_outlog: engine/outlog retention rules, checked against a simple model.
 *
 * Eviction by bytes and by chunk count, the delivered mark protecting
 * undelivered chunks even over the caps, drop counting, binary search over
 * seqs with gaps, ring growth and wrap-around. Pure: no loop, no I/O.
 */
#include "outlog.h"
#include "tap.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t outlog_test_rng = 0x243f6a8885a308d3ull;

static uint32_t outlog_test_rand(void)
{
	outlog_test_rng ^= outlog_test_rng << 13;
	outlog_test_rng ^= outlog_test_rng >> 7;
	outlog_test_rng ^= outlog_test_rng << 17;
	return (uint32_t)(outlog_test_rng >> 16);
}

/* Append a chunk whose bytes are derived from its seq, so content checks
 * catch a chunk returned for the wrong index. */
static const struct outlog_chunk *outlog_test_put(struct outlog *log, uint64_t seq, size_t len)
{
	char buf[4096];
	for (size_t i = 0; i < len && i < sizeof(buf); i++)
		buf[i] = (char)(seq * 31 + i);
	return outlog_append(log, seq, (enum outlog_stream)(seq % 3), buf, len);
}

static int outlog_test_content_ok(const struct outlog_chunk *c)
{
	for (uint32_t i = 0; i < c->len; i++)
		if (c->data[i] != (char)(c->seq * 31 + i))
			return 0;
	return c->stream == c->seq % 3;
}

/* Seqs and bytes retained are consistent, increasing and match the content. */
static int outlog_test_consistent(const struct outlog *log)
{
	size_t bytes = 0;
	for (size_t i = 0; i < outlog_count(log); i++) {
		const struct outlog_chunk *c = outlog_at(log, i);
		if (!c || !outlog_test_content_ok(c))
			return 0;
		if (i && outlog_at(log, i - 1)->seq >= c->seq)
			return 0;
		bytes += c->len;
	}
	return bytes == outlog_bytes(log);
}

static void test_empty(void)
{
	struct outlog log;
	outlog_init(&log, 100, 10);
	CHECK(outlog_count(&log) == 0);
	CHECK(outlog_bytes(&log) == 0);
	CHECK(outlog_find(&log, 0) == 0);
	CHECK(outlog_find(&log, UINT64_MAX) == 0);
	CHECK(outlog_undelivered_bytes(&log) == 0);
	CHECK(outlog_at(&log, 0) == NULL);
	outlog_set_delivered(&log, 5);
	CHECK(log.dropped == 0);
	outlog_free(&log);
	outlog_free(&log);
}

static void test_append_copies(void)
{
	struct outlog log;
	outlog_init(&log, 1 << 20, 1000);
	char buf[5] = "hello";
	const struct outlog_chunk *c = outlog_append(&log, 1, OUTLOG_STDERR, buf, 5);
	REQUIRE(c);
	memcpy(buf, "XXXXX", 5);
	CHECK(c->seq == 1 && c->len == 5 && c->stream == OUTLOG_STDERR);
	CHECK(!memcmp(c->data, "hello", 5));
	CHECK(outlog_at(&log, 0) == c);
	const struct outlog_chunk *e = outlog_append(&log, 2, OUTLOG_PTY, NULL, 0);
	REQUIRE(e);
	CHECK(e->len == 0 && outlog_count(&log) == 2 && outlog_bytes(&log) == 5);
	CHECK(outlog_undelivered_bytes(&log) == 5);
	outlog_free(&log);
}

static void test_seq_must_increase(void)
{
	struct outlog log;
	outlog_init(&log, 1 << 20, 1000);
	REQUIRE(outlog_test_put(&log, 10, 3));
	errno = 0;
	CHECK(outlog_test_put(&log, 10, 3) == NULL);
	CHECK(errno == EINVAL);
	CHECK(outlog_test_put(&log, 9, 3) == NULL);
	CHECK(outlog_count(&log) == 1 && outlog_bytes(&log) == 3);
	CHECK(outlog_test_put(&log, 11, 3) != NULL);
	outlog_free(&log);
}

static void test_evict_by_bytes(void)
{
	struct outlog log;
	outlog_init(&log, 100, 1000);
	outlog_set_delivered(&log, UINT64_MAX);
	for (uint64_t s = 1; s <= 10; s++)
		REQUIRE(outlog_test_put(&log, s, 30));
	/* 3 chunks of 30 fit in 100, a 4th would make 120 */
	CHECK(outlog_count(&log) == 3);
	CHECK(outlog_bytes(&log) == 90);
	CHECK(log.dropped == 7);
	CHECK(outlog_at(&log, 0)->seq == 8);
	CHECK(outlog_at(&log, 2)->seq == 10);
	/* exactly at the cap stays */
	REQUIRE(outlog_test_put(&log, 11, 10));
	CHECK(outlog_count(&log) == 4 && outlog_bytes(&log) == 100);
	CHECK(log.dropped == 7);
	/* one byte over drops the oldest whole chunk */
	REQUIRE(outlog_test_put(&log, 12, 1));
	CHECK(outlog_count(&log) == 4 && outlog_bytes(&log) == 71);
	CHECK(outlog_at(&log, 0)->seq == 9);
	CHECK(log.dropped == 8);
	CHECK(outlog_test_consistent(&log));
	outlog_free(&log);
}

static void test_evict_by_count(void)
{
	struct outlog log;
	outlog_init(&log, 1 << 20, 4);
	outlog_set_delivered(&log, UINT64_MAX);
	for (uint64_t s = 1; s <= 100; s++)
		REQUIRE(outlog_test_put(&log, s, 1));
	CHECK(outlog_count(&log) == 4);
	CHECK(outlog_bytes(&log) == 4);
	CHECK(log.dropped == 96);
	CHECK(outlog_at(&log, 0)->seq == 97);
	CHECK(outlog_at(&log, 3)->seq == 100);
	CHECK(outlog_test_consistent(&log));
	outlog_free(&log);
}

static void test_delivered_protects(void)
{
	struct outlog log;
	outlog_init(&log, 50, 2);
	for (uint64_t s = 1; s <= 10; s++)
		REQUIRE(outlog_test_put(&log, s, 20));
	/* nothing delivered: everything stays, far over both caps */
	CHECK(outlog_count(&log) == 10);
	CHECK(outlog_bytes(&log) == 200);
	CHECK(log.dropped == 0);
	CHECK(outlog_undelivered_bytes(&log) == 200);

	/* delivering up to 4 lets exactly 1..4 go */
	outlog_set_delivered(&log, 4);
	CHECK(outlog_count(&log) == 6);
	CHECK(outlog_at(&log, 0)->seq == 5);
	CHECK(log.dropped == 4);
	CHECK(outlog_undelivered_bytes(&log) == 120);

	/* the mark never moves back */
	outlog_set_delivered(&log, 2);
	CHECK(log.delivered == 4);

	/* delivering everything trims to the caps: 2 chunks, 40 bytes */
	outlog_set_delivered(&log, 10);
	CHECK(outlog_count(&log) == 2);
	CHECK(outlog_bytes(&log) == 40);
	CHECK(outlog_at(&log, 0)->seq == 9);
	CHECK(log.dropped == 8);
	CHECK(outlog_undelivered_bytes(&log) == 0);

	/* new undelivered chunks push delivered ones out at once */
	REQUIRE(outlog_test_put(&log, 20, 20));
	REQUIRE(outlog_test_put(&log, 30, 20));
	CHECK(outlog_count(&log) == 2 && outlog_at(&log, 0)->seq == 20);
	CHECK(log.dropped == 10);
	/* but not undelivered ones */
	REQUIRE(outlog_test_put(&log, 40, 20));
	CHECK(outlog_count(&log) == 3 && outlog_bytes(&log) == 60);
	/* a mark between seqs (seqs have gaps) */
	outlog_set_delivered(&log, 25);
	CHECK(outlog_count(&log) == 2);
	CHECK(outlog_at(&log, 0)->seq == 30);
	CHECK(outlog_undelivered_bytes(&log) == 40);
	/* within the caps, delivered chunks stay */
	outlog_set_delivered(&log, 35);
	CHECK(outlog_count(&log) == 2);
	CHECK(outlog_undelivered_bytes(&log) == 20);
	CHECK(log.dropped == 11);
	CHECK(outlog_test_consistent(&log));
	outlog_free(&log);
}

static void test_append_keeps_new_chunk(void)
{
	/* A chunk at or below the mark that alone exceeds the byte cap is still
	 * returned valid by append (ASan would flag a freed one). */
	struct outlog log;
	outlog_init(&log, 10, 10);
	outlog_set_delivered(&log, 100);
	REQUIRE(outlog_test_put(&log, 1, 5));
	const struct outlog_chunk *c = outlog_test_put(&log, 2, 50);
	REQUIRE(c);
	CHECK(c->seq == 2 && c->len == 50 && outlog_test_content_ok(c));
	CHECK(outlog_count(&log) == 1 && log.dropped == 1);
	/* the next trim may drop it */
	outlog_set_delivered(&log, 100);
	CHECK(outlog_count(&log) == 0 && outlog_bytes(&log) == 0);
	CHECK(log.dropped == 2);
	outlog_free(&log);
}

static void test_zero_caps(void)
{
	struct outlog log;
	outlog_init(&log, 0, 0);
	for (uint64_t s = 1; s <= 5; s++)
		REQUIRE(outlog_test_put(&log, s, 3));
	CHECK(outlog_count(&log) == 5);
	outlog_set_delivered(&log, 3);
	CHECK(outlog_count(&log) == 2 && outlog_at(&log, 0)->seq == 4);
	outlog_set_delivered(&log, 5);
	CHECK(outlog_count(&log) == 0 && log.dropped == 5);
	outlog_free(&log);
}

static void test_find_with_gaps(void)
{
	struct outlog log;
	outlog_init(&log, 1 << 20, 1000);
	/* seqs 2, 5, 8, ... 299: exit/close events took the others */
	uint64_t seqs[100];
	for (size_t i = 0; i < 100; i++) {
		seqs[i] = 2 + 3 * i;
		REQUIRE(outlog_test_put(&log, seqs[i], i % 7));
	}
	for (uint64_t after = 0; after <= 310; after++) {
		size_t want = 0;
		while (want < 100 && seqs[want] <= after)
			want++;
		size_t got = outlog_find(&log, after);
		CHECKF(got == want, "after=%llu got %zu want %zu",
		       (unsigned long long)after, got, want);
	}
	CHECK(outlog_find(&log, UINT64_MAX) == 100);
	CHECK(outlog_find(&log, 1) == 0);
	CHECK(outlog_at(&log, outlog_find(&log, 4))->seq == 5);
	CHECK(outlog_at(&log, outlog_find(&log, 5))->seq == 8);
	outlog_free(&log);
}

static void test_find_after_wrap(void)
{
	/* The ring has wrapped (head > 0 and the live range crosses the end):
	 * the search must still see chunks in seq order. */
	struct outlog log;
	outlog_init(&log, 1 << 20, 10);
	outlog_set_delivered(&log, UINT64_MAX);
	for (uint64_t s = 1; s <= 37; s++)
		REQUIRE(outlog_test_put(&log, s * 10, 2));
	CHECK(outlog_count(&log) == 10);
	CHECK(log.ring_cap == 16);
	CHECK(log.head + log.count > log.ring_cap);
	for (size_t i = 0; i < 10; i++)
		CHECK(outlog_at(&log, i)->seq == (28 + i) * 10);
	CHECK(outlog_find(&log, 0) == 0);
	CHECK(outlog_find(&log, 280) == 1);
	CHECK(outlog_find(&log, 285) == 1);
	CHECK(outlog_find(&log, 369) == 9);
	CHECK(outlog_find(&log, 370) == 10);
	CHECK(outlog_test_consistent(&log));
	outlog_free(&log);
}

static void test_growth_while_wrapped(void)
{
	/* Fill, drop some so head moves, then grow past capacity while the
	 * contents wrap: order must survive the unwrap into the new ring. */
	struct outlog log;
	outlog_init(&log, 1 << 20, 1 << 20);
	for (uint64_t s = 1; s <= 16; s++)
		REQUIRE(outlog_test_put(&log, s, 4));
	CHECK(log.ring_cap == 16);
	log.max_chunks = 10;
	outlog_set_delivered(&log, 16);
	CHECK(outlog_count(&log) == 10 && log.head == 6);
	log.max_chunks = 1 << 20;
	for (uint64_t s = 17; s <= 100; s++)
		REQUIRE(outlog_test_put(&log, s, 4));
	CHECK(outlog_count(&log) == 94);
	CHECK(log.ring_cap == 128);
	CHECK((log.ring_cap & (log.ring_cap - 1)) == 0);
	for (size_t i = 0; i < outlog_count(&log); i++)
		CHECKF(outlog_at(&log, i)->seq == 7 + i, "i=%zu", i);
	CHECK(outlog_test_consistent(&log));
	outlog_free(&log);
}

/* A random run against a model that keeps every chunk's seq and length. */
static void test_random_model(void)
{
	enum { N = 20000 };
	static uint64_t mseq[N];
	static size_t mlen[N];
	size_t mhead = 0, mtail = 0;
	struct outlog log;
	size_t max_bytes = 5000, max_chunks = 64;
	uint64_t seq = 0, delivered = 0, dropped = 0;
	outlog_init(&log, max_bytes, max_chunks);

	for (int step = 0; step < N; step++) {
		uint32_t r = outlog_test_rand();
		if (r % 4) {
			seq += 1 + r % 3;
			size_t len = outlog_test_rand() % 300;
			REQUIRE(outlog_test_put(&log, seq, len));
			mseq[mtail] = seq;
			mlen[mtail++] = len;
		} else if (seq) {
			uint64_t d = seq - outlog_test_rand() % (seq < 20 ? seq : 20);
			outlog_set_delivered(&log, d);
			if (d > delivered)
				delivered = d;
		}
		/* model trim: oldest delivered chunks go while over a cap, but an
		 * append never drops the chunk it just added */
		size_t bytes = 0;
		for (size_t i = mhead; i < mtail; i++)
			bytes += mlen[i];
		size_t keep = r % 4 ? 1 : 0;
		while (mtail - mhead > keep &&
		       (bytes > max_bytes || mtail - mhead > max_chunks) &&
		       mseq[mhead] <= delivered) {
			bytes -= mlen[mhead++];
			dropped++;
		}
		REQUIREF(outlog_count(&log) == mtail - mhead, "step %d count %zu model %zu",
			 step, outlog_count(&log), mtail - mhead);
		REQUIRE(outlog_bytes(&log) == bytes);
		REQUIRE(log.dropped == dropped);
		REQUIRE(outlog_at(&log, 0) == NULL || outlog_at(&log, 0)->seq == mseq[mhead]);
		size_t und = 0;
		for (size_t i = mhead; i < mtail; i++)
			if (mseq[i] > delivered)
				und += mlen[i];
		REQUIRE(outlog_undelivered_bytes(&log) == und);
		if (step % 97 == 0)
			REQUIRE(outlog_test_consistent(&log));
	}
	CHECK(log.dropped > 0);
	outlog_free(&log);
}

static const struct tap_case cases[] = {
	{ "empty", test_empty },
	{ "append_copies", test_append_copies },
	{ "seq_must_increase", test_seq_must_increase },
	{ "evict_by_bytes", test_evict_by_bytes },
	{ "evict_by_count", test_evict_by_count },
	{ "delivered_protects", test_delivered_protects },
	{ "append_keeps_new_chunk", test_append_keeps_new_chunk },
	{ "zero_caps", test_zero_caps },
	{ "find_with_gaps", test_find_with_gaps },
	{ "find_after_wrap", test_find_after_wrap },
	{ "growth_while_wrapped", test_growth_while_wrapped },
	{ "random_model", test_random_model },
	{ NULL, NULL },
};

int main(int argc, char **argv)
{
	return tap_main(argc, argv, cases);
}
