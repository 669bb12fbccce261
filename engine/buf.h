/* buf: a growable byte buffer.
 *
 * Owns one heap block. Used by the JSON writer, the WebSocket send queue and
 * the stdin queue. Never shrinks on its own; buf_free() releases the block.
 */
#ifndef RINGEXEC_BUF_H
#define RINGEXEC_BUF_H

#include <stddef.h>

struct buf {
	char *data;	/* heap block, or NULL while empty */
	size_t len;	/* bytes in use */
	size_t cap;	/* bytes allocated */
};

/* Make room for at least `extra` more bytes. 0 or -ENOMEM. */
int buf_reserve(struct buf *b, size_t extra);
/* Append n bytes. 0 or -ENOMEM (b unchanged then). */
int buf_append(struct buf *b, const void *p, size_t n);
/* Append a NUL-terminated string without its NUL. */
int buf_puts(struct buf *b, const char *s);
/* Drop the first n bytes (memmove of the rest). */
void buf_consume(struct buf *b, size_t n);
void buf_free(struct buf *b);

static inline void buf_reset(struct buf *b) { b->len = 0; }
static inline char *buf_tail(struct buf *b) { return b->data + b->len; }

#endif
