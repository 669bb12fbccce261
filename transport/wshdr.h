/* wshdr: the frame headers in a client's byte stream, followed ahead of the
 * frame parser, so that a frame announcing a message larger than the limit
 * is refused at its header, before any of its payload has been read.
 *
 * Pure: bytes in, a verdict out. Counts a message's data frames together
 * (text or binary, then continuations); control frames do not count. It
 * stops following at a malformed length (the frame parser fails those).
 */
#ifndef RINGEXEC_WSHDR_H
#define RINGEXEC_WSHDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct wshdr {
	uint8_t hdr[14];	/* the header being gathered */
	uint8_t have;		/* its bytes so far */
	uint64_t skip;		/* payload bytes of the current frame still to pass */
	uint64_t msg;		/* payload of the current message's data frames so far */
	bool lost;		/* a malformed header: no longer following */
};

/* Follow p[0..n) with max the largest message. 0 when no header in it
 * announces too much (*ok = n); -EMSGSIZE when one does: *ok is how many
 * of these bytes precede that header (0 if it began in an earlier call),
 * *announced the message size it announced (earlier fragments included).
 * After -EMSGSIZE the stream is not followed further. */
int wshdr_feed(struct wshdr *t, const uint8_t *p, size_t n, uint64_t max, size_t *ok,
	       uint64_t *announced);

#endif
