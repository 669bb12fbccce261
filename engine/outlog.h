/* outlog: a process's retained output, for process/read.
 *
 * A FIFO of whole chunks, each with the seq the process gave it. Bounded by
 * bytes and by chunk count; the oldest chunks fall out first, but never one
 * whose seq is above the delivered mark (PROTOCOL §6, [stricter]): such a
 * chunk has not reached any client yet. Pure: no I/O, no loop.
 */
#ifndef RINGEXEC_OUTLOG_H
#define RINGEXEC_OUTLOG_H

#include <stddef.h>
#include <stdint.h>

enum outlog_stream { OUTLOG_STDOUT = 0, OUTLOG_STDERR = 1, OUTLOG_PTY = 2 };

struct outlog_chunk {
	uint64_t seq;		/* the process's seq for this chunk */
	uint32_t len;		/* bytes in data */
	uint8_t stream;		/* enum outlog_stream */
	char data[];		/* the raw bytes */
};

struct outlog {
	struct outlog_chunk **ring;	/* chunk pointers, oldest at head */
	size_t ring_cap;		/* slots in ring (power of two) */
	size_t head;			/* index of the oldest chunk */
	size_t count;			/* chunks retained */
	size_t bytes;			/* sum of data lengths retained */
	size_t max_bytes;		/* retention cap in bytes */
	size_t max_chunks;		/* retention cap in chunks */
	uint64_t delivered;		/* chunks with seq <= this may be dropped */
	uint64_t dropped;		/* chunks dropped so far (counted, never silent) */
};

/* Empty log with the given caps. Never fails (the ring grows on append). */
void outlog_init(struct outlog *log, size_t max_bytes, size_t max_chunks);
/* Free every chunk and the ring. */
void outlog_free(struct outlog *log);

/* Copy len bytes into a new chunk with this seq (seqs must increase) and
 * append it, then drop what the caps and the delivered mark allow.
 * Returns the chunk (owned by the log), or NULL on ENOMEM. */
const struct outlog_chunk *outlog_append(struct outlog *log, uint64_t seq,
					 enum outlog_stream stream,
					 const void *data, size_t len);

/* Every chunk with seq <= seq has reached a client; drop what the caps allow. */
void outlog_set_delivered(struct outlog *log, uint64_t seq);

/* Drop every chunk at or below the delivered mark (kept only as history
 * for process/read), oldest first: how the global cap makes room. */
void outlog_drop_delivered(struct outlog *log);

/* Index of the first retained chunk with seq > after_seq (binary search);
 * outlog_count() when there is none. */
size_t outlog_find(const struct outlog *log, uint64_t after_seq);
/* Chunk at index i (0 = oldest retained), i < outlog_count(). */
const struct outlog_chunk *outlog_at(const struct outlog *log, size_t i);

static inline size_t outlog_count(const struct outlog *log) { return log->count; }
static inline size_t outlog_bytes(const struct outlog *log) { return log->bytes; }

/* Bytes of retained chunks with seq > the delivered mark. */
size_t outlog_undelivered_bytes(const struct outlog *log);

#endif
