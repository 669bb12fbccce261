/* fake_io: a scripted transport under one conn (proto/conn.h's conn_io).
 *
 * Every message the conn queues is kept, whole and in order, with whether
 * it went as a binary frame. Nothing reaches a socket until the test says
 * how many bytes were written (fio_write): then the conn hears sent, and
 * drained once the queue falls to half the high-water mark after having
 * gone above it, as transport/ws.c does. A close the conn asks for is
 * recorded (later sends fail with -EPIPE); the test decides when the
 * transport is gone (fio_drop). Knows no sockets.
 */
#ifndef RINGEXEC_FAKE_IO_H
#define RINGEXEC_FAKE_IO_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

struct conn;
struct proto;

struct fake_msg {
	size_t off, len;		/* in fake_io.out */
	bool binary;			/* a binary frame (PROTOCOL §5a) */
};

enum fake_io_kind {
	FIO_WS,		/* messages written in place, binary frames offered (ws.c) */
	FIO_PLAIN,	/* send() only, no binary frames (a copying transport) */
};

struct fake_io {
	struct conn *c;			/* NULL once dropped */
	enum fake_io_kind kind;
	struct buf out;			/* every message queued, back to back */
	struct fake_msg *msgs;
	size_t n, cap;			/* messages queued */
	size_t next;			/* fio_next's cursor */
	uint64_t sent;			/* bytes written to the "socket" */
	size_t high_water;		/* 0: the queue never counts as above */
	bool above;			/* went above high water: drained() owed */
	int closed;			/* the close code the conn asked for, 0: open */
	bool refuse;			/* sends fail with -ENOMEM */
	bool recv_paused;		/* the conn asked to stop reading it */
	unsigned pauses;		/* how often it asked */
	size_t msg_start;		/* an in-place message being written */
	bool msg_binary;
	/* Called for each message queued (may be NULL). */
	void (*on_msg)(void *ctx, const struct fake_io *t, size_t i);
	void *on_msg_ctx;
};

/* A conn on a new fake transport; false on ENOMEM. */
bool fio_open(struct fake_io *t, struct proto *pr, enum fake_io_kind kind, size_t high_water);
/* The transport is gone: the conn is closed (conn_on_closed) and t freed. */
void fio_drop(struct fake_io *t);
/* Bytes queued and not written yet. */
size_t fio_queued(const struct fake_io *t);
/* n bytes (at most what is queued) reach the peer: sent, maybe drained. */
void fio_write(struct fake_io *t, size_t n);
/* Everything queued reaches the peer. */
void fio_flush(struct fake_io *t);

/* Message i, and the next unread one (parsed JSON; a binary frame comes
 * back as {"binary":{"kind","stream","seq","processId","chunk"}} with the
 * chunk as a JSON string of its bytes). NULL: none, or not JSON. Caller
 * decrefs. */
json_t *fio_msg(const struct fake_io *t, size_t i);
json_t *fio_next(struct fake_io *t);
/* Unread messages. */
static inline size_t fio_unread(const struct fake_io *t) { return t->n - t->next; }

#endif
