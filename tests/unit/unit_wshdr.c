/* unit_wshdr: transport/wshdr, the frame-header follower.
 *
 * Frames within the limit pass whole and at every split; a header over it
 * is reported at the offset where it starts, whichever call its bytes came
 * in; a message's fragments add up, control frames between them do not,
 * and a new message starts from zero; a 64-bit length with its top bit set
 * ends the following; the announced size includes earlier fragments.
 */
#include "wshdr.h"
#include "tap.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX 1000

/* Append a masked client frame with len payload bytes (zeros) to out. */
static size_t put(uint8_t *out, int fin, uint8_t opcode, uint64_t len, int payload)
{
	size_t n = 2;

	out[0] = (uint8_t)((fin ? 0x80 : 0) | opcode);
	if (len < 126) {
		out[1] = (uint8_t)(0x80 | len);
	} else if (len <= 0xffff) {
		out[1] = 0x80 | 126;
		out[2] = (uint8_t)(len >> 8);
		out[3] = (uint8_t)len;
		n = 4;
	} else {
		out[1] = 0x80 | 127;
		for (int i = 0; i < 8; i++)
			out[2 + i] = (uint8_t)(len >> (56 - 8 * i));
		n = 10;
	}
	memset(out + n, 0x5a, 4);
	n += 4;
	if (payload) {
		memset(out + n, 0, (size_t)len);
		n += (size_t)len;
	}
	return n;
}

/* Feed buf[0..n) in two pieces split at cut; the stream offset of the
 * refused header, or -1 when none was refused. */
static long feed_split(const uint8_t *buf, size_t n, size_t cut, uint64_t *announced)
{
	struct wshdr t = { 0 };
	size_t ok;

	if (wshdr_feed(&t, buf, cut, MAX, &ok, announced) < 0)
		return (long)ok;
	if (ok != cut)
		return -2;
	if (wshdr_feed(&t, buf + cut, n - cut, MAX, &ok, announced) < 0)
		return (long)(cut + ok);	/* ok 0: it began before this piece */
	return ok == n - cut ? -1 : -2;
}

/* Feed one byte at a time. */
static long feed_bytes(const uint8_t *buf, size_t n, uint64_t *announced)
{
	struct wshdr t = { 0 };
	size_t ok;
	long header_start = -1;

	for (size_t i = 0; i < n; i++) {
		if (wshdr_feed(&t, buf + i, 1, MAX, &ok, announced) < 0)
			return header_start;
		if (t.have == 1)
			header_start = (long)i;	/* a header's first byte just went in */
	}
	return -1;
}

static void within_limit_passes(void)
{
	uint8_t buf[4096];
	uint64_t a = 0;
	size_t n = put(buf, 1, 0x1, 10, 1);

	n += put(buf + n, 1, 0x2, MAX, 1);
	n += put(buf + n, 1, 0x9, 125, 1);	/* ping */
	n += put(buf + n, 0, 0x1, 500, 1);
	n += put(buf + n, 1, 0x0, 500, 1);	/* 1000 in all: still fine */
	n += put(buf + n, 1, 0x1, 0, 1);
	for (size_t cut = 0; cut <= n; cut++)
		CHECKF(feed_split(buf, n, cut, &a) == -1, "cut %zu", cut);
	CHECK(feed_bytes(buf, n, &a) == -1);
}

static void over_reported_where_it_starts(void)
{
	uint8_t buf[4096];
	uint64_t a = 0;
	size_t first = put(buf, 1, 0x1, 20, 1);
	size_t n = first + put(buf + first, 1, 0x1, 1ull << 40, 0);

	for (size_t cut = 0; cut <= n; cut++) {
		long at = feed_split(buf, n, cut, &a);
		/* split inside the header: the second piece reports 0, i.e. the cut */
		long want = cut > first && cut < n ? (long)cut : (long)first;
		CHECKF(at == want && a == 1ull << 40, "cut %zu: at %ld, want %ld", cut, at, want);
	}
	CHECK(feed_bytes(buf, n, &a) == (long)first);
	n = put(buf, 1, 0x1, MAX + 1, 0);
	CHECK(feed_split(buf, n, n, &a) == 0 && a == MAX + 1);
}

static void fragments_add_up(void)
{
	uint8_t buf[4096];
	uint64_t a = 0;
	size_t n = put(buf, 0, 0x1, 600, 1);

	n += put(buf + n, 1, 0x9, 100, 1);	/* a ping between fragments: not counted */
	size_t cont = n;
	n += put(buf + n, 1, 0x0, 500, 0);
	CHECK(feed_split(buf, n, n, &a) == (long)cont && a == 1100);
	/* A finished message does not count towards the next one. */
	n = put(buf, 0, 0x2, 600, 1);
	n += put(buf + n, 1, 0x0, 400, 1);
	n += put(buf + n, 1, 0x1, 900, 1);
	CHECK(feed_split(buf, n, n / 2, &a) == -1);
}

static void top_bit_ends_following(void)
{
	struct wshdr t = { 0 };
	uint8_t buf[64] = { 0x81, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4 };
	uint64_t a = 0;
	size_t ok;

	CHECK(wshdr_feed(&t, buf, 14, MAX, &ok, &a) == 0 && ok == 14 && t.lost);
	size_t n = put(buf, 1, 0x1, 1ull << 40, 0);
	CHECK(wshdr_feed(&t, buf, n, MAX, &ok, &a) == 0 && ok == n);
}

static const struct tap_case cases[] = {
	{ "frames within the limit pass, at every split", within_limit_passes },
	{ "a header over the limit: reported where it starts", over_reported_where_it_starts },
	{ "fragments add up; control frames and finished messages do not", fragments_add_up },
	{ "a length with its top bit set ends the following", top_bit_ends_following },
	{ NULL, NULL },
};

int main(int argc, char **argv)
{
	return tap_main(argc, argv, cases);
}
