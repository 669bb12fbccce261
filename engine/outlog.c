/* outlog: a process's retained output (see outlog.h).
 *
 * Owns the chunks and the ring of pointers to them: a power-of-two ring that
 * grows by doubling, oldest at head. Trims oldest whole chunks while over a
 * cap, but never one above the delivered mark. Must not do I/O, must not
 * abort: allocation failure is a NULL return and leaves the log unchanged.
 */
#include "outlog.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define OUTLOG_MIN_SLOTS 16

void outlog_init(struct outlog *log, size_t max_bytes, size_t max_chunks)
{
	memset(log, 0, sizeof(*log));
	log->max_bytes = max_bytes;
	log->max_chunks = max_chunks;
}

static inline size_t outlog_slot(const struct outlog *log, size_t i)
{
	return (log->head + i) & (log->ring_cap - 1);
}

void outlog_free(struct outlog *log)
{
	for (size_t i = 0; i < log->count; i++)
		free(log->ring[outlog_slot(log, i)]);
	free(log->ring);
	log->ring = NULL;
	log->ring_cap = 0;
	log->head = 0;
	log->count = 0;
	log->bytes = 0;
}

/* Double the ring, unwrapping it so the oldest chunk lands in slot 0. */
static int outlog_grow(struct outlog *log)
{
	size_t cap = log->ring_cap ? log->ring_cap * 2 : OUTLOG_MIN_SLOTS;
	if (cap < log->ring_cap || cap > SIZE_MAX / sizeof(*log->ring))
		return -ENOMEM;
	struct outlog_chunk **ring = malloc(cap * sizeof(*ring));
	if (!ring)
		return -ENOMEM;
	for (size_t i = 0; i < log->count; i++)
		ring[i] = log->ring[outlog_slot(log, i)];
	free(log->ring);
	log->ring = ring;
	log->ring_cap = cap;
	log->head = 0;
	return 0;
}

static inline struct outlog_chunk *outlog_oldest(const struct outlog *log)
{
	return log->ring[log->head];
}

static inline int outlog_over_cap(const struct outlog *log)
{
	return log->bytes > log->max_bytes || log->count > log->max_chunks;
}

static void outlog_drop_oldest(struct outlog *log)
{
	struct outlog_chunk *c = outlog_oldest(log);
	log->bytes -= c->len;
	log->count--;
	log->ring[log->head] = NULL;
	log->head = (log->head + 1) & (log->ring_cap - 1);
	log->dropped++;
	free(c);
}

/* Drop oldest chunks while over a cap, stopping at the first undelivered
 * one (seqs increase, so every later chunk is undelivered too) and never
 * touching the newest `keep` chunks. */
static void outlog_trim(struct outlog *log, size_t keep)
{
	while (log->count > keep && outlog_over_cap(log) &&
	       outlog_oldest(log)->seq <= log->delivered)
		outlog_drop_oldest(log);
}

static inline const struct outlog_chunk *outlog_newest(const struct outlog *log)
{
	return log->count ? log->ring[outlog_slot(log, log->count - 1)] : NULL;
}

const struct outlog_chunk *outlog_append(struct outlog *log, uint64_t seq,
					 enum outlog_stream stream,
					 const void *data, size_t len)
{
	const struct outlog_chunk *last = outlog_newest(log);
	if ((last && seq <= last->seq) || len > UINT32_MAX) {
		errno = EINVAL;
		return NULL;
	}
	if (log->count == log->ring_cap && outlog_grow(log)) {
		errno = ENOMEM;
		return NULL;
	}
	struct outlog_chunk *c = malloc(sizeof(*c) + len);
	if (!c) {
		errno = ENOMEM;
		return NULL;
	}
	c->seq = seq;
	c->len = (uint32_t)len;
	c->stream = (uint8_t)stream;
	if (len)
		memcpy(c->data, data, len);
	log->ring[outlog_slot(log, log->count)] = c;
	log->count++;
	log->bytes += len;
	/* The caller holds the returned pointer: never drop the new chunk here. */
	outlog_trim(log, 1);
	return c;
}

void outlog_set_delivered(struct outlog *log, uint64_t seq)
{
	if (seq > log->delivered)
		log->delivered = seq;
	outlog_trim(log, 0);
}

size_t outlog_find(const struct outlog *log, uint64_t after_seq)
{
	size_t lo = 0, hi = log->count;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (log->ring[outlog_slot(log, mid)]->seq > after_seq)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

const struct outlog_chunk *outlog_at(const struct outlog *log, size_t i)
{
	if (i >= log->count)
		return NULL;
	return log->ring[outlog_slot(log, i)];
}

size_t outlog_undelivered_bytes(const struct outlog *log)
{
	size_t sum = 0;
	for (size_t i = log->count; i > 0; i--) {
		const struct outlog_chunk *c = log->ring[outlog_slot(log, i - 1)];
		if (c->seq <= log->delivered)
			break;
		sum += c->len;
	}
	return sum;
}

void outlog_drop_delivered(struct outlog *log)
{
	while (log->count && outlog_oldest(log)->seq <= log->delivered)
		outlog_drop_oldest(log);
}
