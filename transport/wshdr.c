/* wshdr: follows a client's frame headers ahead of the frame parser.
 *
 * Owns only the few bytes of a header in progress and the counts of the
 * frame and message being passed. It never unmasks, copies or judges a
 * payload, and leaves every other protocol check to the frame parser: a
 * header it cannot read (a 64-bit length with the top bit set) ends its
 * following rather than guessing.
 */
#include "wshdr.h"

#include <errno.h>

/* The header's whole length, from the bytes known so far. */
static size_t wshdr_need(const struct wshdr *t)
{
	if (t->have < 2)
		return 2;
	size_t n = (t->hdr[1] & 0x80) ? 6 : 2;	/* a mask key follows the lengths */
	uint8_t len7 = t->hdr[1] & 0x7f;
	if (len7 == 126)
		n += 2;
	else if (len7 == 127)
		n += 8;
	return n;
}

static uint64_t wshdr_length(const struct wshdr *t)
{
	uint8_t len7 = t->hdr[1] & 0x7f;
	if (len7 < 126)
		return len7;
	size_t bytes = len7 == 126 ? 2 : 8;
	uint64_t v = 0;
	for (size_t i = 0; i < bytes; i++)
		v = v << 8 | t->hdr[2 + i];
	return v;
}

/* A whole header: 0, or -EMSGSIZE when its message is over max. */
static int wshdr_judge(struct wshdr *t, uint64_t max, uint64_t *announced)
{
	uint64_t len = wshdr_length(t);
	uint8_t opcode = t->hdr[0] & 0x0f;
	t->have = 0;
	if (len >> 63) {
		t->lost = true;
		return 0;
	}
	if (opcode < 8) {	/* data: continuation, text, binary (or reserved) */
		if (opcode != 0)
			t->msg = 0;	/* a new message */
		if (len > max || t->msg > max - len) {
			*announced = len > UINT64_MAX - t->msg ? UINT64_MAX : t->msg + len;
			t->lost = true;
			return -EMSGSIZE;
		}
		t->msg += len;
	}
	t->skip = len;
	return 0;
}

int wshdr_feed(struct wshdr *t, const uint8_t *p, size_t n, uint64_t max, size_t *ok,
	       uint64_t *announced)
{
	size_t i = 0;
	*ok = n;
	while (i < n && !t->lost) {
		if (t->skip) {
			uint64_t k = t->skip < n - i ? t->skip : n - i;
			i += (size_t)k;
			t->skip -= k;
			continue;
		}
		size_t start = t->have ? 0 : i;	/* begun in an earlier call: before p */
		while (i < n && t->have < wshdr_need(t))
			t->hdr[t->have++] = p[i++];
		if (t->have < wshdr_need(t))
			break;
		if (wshdr_judge(t, max, announced) < 0) {
			*ok = start;
			return -EMSGSIZE;
		}
	}
	return 0;
}
