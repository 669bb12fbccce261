/* denied: the sandboxDenied phrase search (see denied.h).
 *
 * Every phrase starts with one of a few letters; only there is a
 * comparison started. A phrase that starts in the last bytes of a chunk is
 * found on the next call, through the tail kept from this one.
 */
#include "denied.h"

#include <string.h>

static const char *const denied_phrases[] = {
	"operation not permitted", "permission denied", "read-only file system", "seccomp",
	"sandbox", "landlock", "failed to write file",
};
#define DENIED_N (sizeof(denied_phrases) / sizeof(denied_phrases[0]))

static unsigned char denied_lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c - 'A' + 'a') : c;
}

/* Does a phrase start at p (n bytes available)? */
static bool denied_at(const unsigned char *p, size_t n)
{
	unsigned char c0 = denied_lower(p[0]);
	for (size_t k = 0; k < DENIED_N; k++) {
		const char *ph = denied_phrases[k];
		if ((unsigned char)ph[0] != c0)
			continue;
		size_t len = strlen(ph);
		if (len > n)
			continue;
		size_t i = 1;
		while (i < len && denied_lower(p[i]) == (unsigned char)ph[i])
			i++;
		if (i == len)
			return true;
	}
	return false;
}

static bool denied_start(unsigned char c)
{
	switch (denied_lower(c)) {
	case 'o': case 'p': case 'r': case 's': case 'l': case 'f':
		return true;
	default:
		return false;
	}
}

void denied_feed(struct denied *d, const void *data, size_t len)
{
	const unsigned char *in = data;
	if (d->hit || len == 0)
		return;
	/* Starts inside the tail: look at tail + the chunk's first bytes. */
	if (d->tail_len) {
		unsigned char win[2 * DENIED_TAIL];
		size_t take = len < DENIED_TAIL ? len : DENIED_TAIL;
		memcpy(win, d->tail, d->tail_len);
		memcpy(win + d->tail_len, in, take);
		for (size_t i = 0; i < d->tail_len; i++)
			if (denied_start(win[i]) && denied_at(win + i, d->tail_len + take - i)) {
				d->hit = true;
				return;
			}
	}
	for (size_t i = 0; i < len; i++)
		if (denied_start(in[i]) && denied_at(in + i, len - i)) {
			d->hit = true;
			return;
		}
	/* Keep the last bytes (a phrase may start there and end next time). */
	size_t keep = DENIED_TAIL - 1;
	if (len >= keep) {
		memcpy(d->tail, in + len - keep, keep);
		d->tail_len = keep;
	} else {
		size_t old = d->tail_len + len > keep ? keep - len : d->tail_len;
		memmove(d->tail, d->tail + d->tail_len - old, old);
		memcpy(d->tail + old, in, len);
		d->tail_len = old + len;
	}
}
