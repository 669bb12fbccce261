/* stdio: one newline-delimited JSON connection over stdin and stdout.
 *
 * Owns the input line buffer, the one read op and one write op on the two
 * fds (each preceded by a poll op when the fd is non-blocking), the
 * double-buffered output queue, and the close sequence. Must not block,
 * must not know JSON or processes, must not close the fds it was given, and
 * never calls closed() while a handler call is on the stack.
 */
#include "stdio_conn.h"

#include "buf.h"
#include "log.h"
#include "loop.h"
#include "util.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#define STDIO_READ_SIZE (64u << 10)	/* bytes asked of one read */
#define STDIO_SPARE_CAP (1u << 20)	/* an idle output buffer above this is released */


struct stdio_conn {
	struct loop *lp;
	int in_fd, out_fd;
	struct stdio_config cfg;
	const struct stdio_handler *h;
	void *user;
	bool closing;			/* no more input, no more sends */
	bool closed_called;		/* closed() done: no more handler calls */
	bool out_dead;			/* a write failed: queued output is dropped */
	bool above;			/* queued went above high_water: drained() owed */
	bool read_busy, write_busy;	/* op in flight */
	bool read_polling, write_polling;	/* that op is the poll before a retry */
	int err;			/* for closed() */
	struct loop_op read_op, write_op;
	struct loop_defer close_defer;	/* calls closed() from the loop */
	struct loop_defer flush_defer;	/* coalesces writes of one loop turn */
	struct buf in;			/* input not yet split into lines */
	size_t scanned;			/* in[0..scanned) holds no newline */
	struct buf sending;		/* the kernel writes [sent_off, len); never realloc'd then */
	size_t sent_off;
	uint64_t sent_total;
	struct buf pending;		/* appended to; swapped in when sending is done */
};

static void stdio_flush(struct stdio_conn *st);

size_t stdio_queued(const struct stdio_conn *st)
{
	return st->sending.len - st->sent_off + st->pending.len;
}

uint64_t stdio_sent_total(const struct stdio_conn *st)
{
	return st->sent_total;
}

uint64_t stdio_queued_end(const struct stdio_conn *st)
{
	return st->sent_total + stdio_queued(st);
}

bool stdio_done(const struct stdio_conn *st)
{
	return st->closed_called && !st->read_busy && !st->write_busy &&
	       (st->out_dead || stdio_queued(st) == 0);
}

/* ---- closing ---- */

static void stdio_on_close_defer(struct loop_defer *d)
{
	struct stdio_conn *st = container_of(d, struct stdio_conn, close_defer);
	if (st->closed_called)
		return;
	st->closed_called = true;
	if (st->h->closed)
		st->h->closed(st->user, st->err);
}

/* Stop reading; closed() comes at the top of the next loop turn. */
static void stdio_begin_close(struct stdio_conn *st, int err)
{
	if (st->closing)
		return;
	st->closing = true;
	st->err = err;
	if (st->read_busy)
		loop_cancel(st->lp, &st->read_op);
	/* st->in stays: a message() that called stdio_close() may still read it. */
	loop_defer(st->lp, &st->close_defer);
}

void stdio_close(struct stdio_conn *st, int code)
{
	if (!st->closing)
		log_debug("stdio: closing (code %d)", code);
	stdio_begin_close(st, 0);
}

/* ---- output ---- */

static void stdio_schedule_flush(struct stdio_conn *st)
{
	if (!st->write_busy)
		loop_defer(st->lp, &st->flush_defer);
}

int stdio_send(struct stdio_conn *st, const char *data, size_t len)
{
	if (st->closing || st->out_dead)
		return -EPIPE;
	if (len > SIZE_MAX / 2 || buf_reserve(&st->pending, len + 1))
		return -ENOMEM;
	char *p = buf_tail(&st->pending);
	if (len)
		memcpy(p, data, len);
	for (char *nl = memchr(p, '\n', len); nl; nl = memchr(nl + 1, '\n', len - (size_t)(nl + 1 - p)))
		*nl = ' ';
	p[len] = '\n';
	st->pending.len += len + 1;
	if (!st->above && stdio_queued(st) > st->cfg.high_water)
		st->above = true;
	stdio_schedule_flush(st);
	return 0;
}

static void stdio_write_submit(struct stdio_conn *st)
{
	struct io_uring_sqe *sqe = loop_sqe(st->lp, &st->write_op);
	if (st->write_polling)
		io_uring_prep_poll_add(sqe, st->out_fd, POLLOUT);
	else
		io_uring_prep_write(sqe, st->out_fd, st->sending.data + st->sent_off,
				    (unsigned)(st->sending.len - st->sent_off > (1u << 30)
						       ? (1u << 30)
						       : st->sending.len - st->sent_off),
				    (uint64_t)-1);
	st->write_busy = true;
}

/* Keep one write in flight while there are bytes. */
static void stdio_flush(struct stdio_conn *st)
{
	if (st->write_busy || st->out_dead)
		return;
	if (st->sent_off == st->sending.len) {
		st->sending.len = 0;
		st->sent_off = 0;
		if (!st->pending.len) {
			if (st->sending.cap > STDIO_SPARE_CAP)
				buf_free(&st->sending);
			if (st->pending.cap > STDIO_SPARE_CAP)
				buf_free(&st->pending);
			return;
		}
		struct buf t = st->sending;
		st->sending = st->pending;
		st->pending = t;
	}
	stdio_write_submit(st);
}

static void stdio_on_flush_defer(struct loop_defer *d)
{
	stdio_flush(container_of(d, struct stdio_conn, flush_defer));
}

static void stdio_on_write(struct loop_op *op, int res, uint32_t flags)
{
	struct stdio_conn *st = container_of(op, struct stdio_conn, write_op);
	(void)flags;
	st->write_busy = false;
	if (st->write_polling) {
		st->write_polling = false;
		if (res < 0 && res != -EINTR) {
			res = res == -ECANCELED ? -EPIPE : res;
			goto fail;
		}
		stdio_flush(st);
		return;
	}
	if (res == -EAGAIN) {
		st->write_polling = true;	/* a non-blocking fd: wait until writable */
		stdio_write_submit(st);
		return;
	}
	if (res == -EINTR) {
		stdio_flush(st);
		return;
	}
	if (res <= 0) {
		res = res == 0 ? -EPIPE : res;
		goto fail;
	}
	st->sent_off += (size_t)res;
	st->sent_total += (uint64_t)res;
	if (!st->closed_called && !st->closing && st->h->sent)
		st->h->sent(st->user);
	if (st->above && stdio_queued(st) <= st->cfg.high_water / 2) {
		st->above = false;
		if (!st->closed_called && !st->closing && st->h->drained)
			st->h->drained(st->user);
	}
	stdio_flush(st);
	return;

fail:
	if (!st->closing)
		log_warn("stdio: writing stdout: %s", strerror(-res));
	st->out_dead = true;
	buf_free(&st->sending);
	buf_free(&st->pending);
	st->sent_off = 0;
	stdio_begin_close(st, res);
}

/* ---- input ---- */

static void stdio_read_submit(struct stdio_conn *st)
{
	if (st->read_busy || st->closing)
		return;
	if (!st->read_polling && buf_reserve(&st->in, STDIO_READ_SIZE)) {
		log_error("stdio: out of memory reading stdin");
		stdio_begin_close(st, -ENOMEM);
		return;
	}
	struct io_uring_sqe *sqe = loop_sqe(st->lp, &st->read_op);
	if (st->read_polling)
		io_uring_prep_poll_add(sqe, st->in_fd, POLLIN);
	else
		io_uring_prep_read(sqe, st->in_fd, buf_tail(&st->in), STDIO_READ_SIZE, (uint64_t)-1);
	st->read_busy = true;
}

static int stdio_line(struct stdio_conn *st, const char *p, size_t n)
{
	if (n && p[n - 1] == '\r')
		n--;
	if (n > st->cfg.max_message)
		return -EMSGSIZE;
	if (n)
		st->h->message(st->user, p, n);
	return 0;
}

/* Hand out every whole line in st->in; keep the rest. */
static int stdio_lines(struct stdio_conn *st)
{
	size_t start = 0;
	char *nl;
	while (!st->closing &&
	       (nl = memchr(st->in.data + st->scanned, '\n', st->in.len - st->scanned)) != NULL) {
		size_t end = (size_t)(nl - st->in.data);
		int r = stdio_line(st, st->in.data + start, end - start);
		if (r < 0)
			return r;
		start = end + 1;
		st->scanned = start;
	}
	if (st->closing)
		return 0;
	if (start)
		buf_consume(&st->in, start);
	st->scanned = st->in.len;
	if (st->in.len > st->cfg.max_message)
		return -EMSGSIZE;
	return 0;
}

static void stdio_on_read(struct loop_op *op, int res, uint32_t flags)
{
	struct stdio_conn *st = container_of(op, struct stdio_conn, read_op);
	(void)flags;
	st->read_busy = false;
	if (st->closing)
		return;
	if (st->read_polling) {
		st->read_polling = false;
		if (res < 0 && res != -EINTR) {
			log_warn("stdio: waiting for stdin: %s", strerror(-res));
			stdio_begin_close(st, res);
			return;
		}
		stdio_read_submit(st);
		return;
	}
	if (res == -EAGAIN || res == -EINTR) {
		st->read_polling = res == -EAGAIN;	/* a non-blocking fd */
		stdio_read_submit(st);
		return;
	}
	if (res < 0) {
		log_warn("stdio: reading stdin: %s", strerror(-res));
		stdio_begin_close(st, res);
		return;
	}
	int r = 0;
	if (res == 0) {
		/* End of input: a last line without its newline still counts. */
		if (st->in.len)
			r = stdio_line(st, st->in.data, st->in.len);
		if (r == 0) {
			log_info("stdio: end of input");
			stdio_begin_close(st, 0);
			return;
		}
	} else {
		st->in.len += (size_t)res;
		r = stdio_lines(st);
	}
	if (r < 0) {
		log_error("stdio: a message on stdin is longer than --max-message (%zu bytes)",
			  st->cfg.max_message);
		stdio_begin_close(st, r);
		return;
	}
	stdio_read_submit(st);
}

/* ---- start and free ---- */

int stdio_start(struct stdio_conn **out, struct loop *lp, int in_fd, int out_fd,
		const struct stdio_config *cfg, const struct stdio_handler *h, void *ctx)
{
	struct stdio_conn *st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	st->lp = lp;
	st->in_fd = in_fd;
	st->out_fd = out_fd;
	st->cfg = *cfg;
	if (!st->cfg.max_message)
		st->cfg.max_message = 64u << 20;
	if (!st->cfg.high_water)
		st->cfg.high_water = 4u << 20;
	st->h = h;
	st->read_op.cb = stdio_on_read;
	st->write_op.cb = stdio_on_write;
	st->close_defer.fn = stdio_on_close_defer;
	st->flush_defer.fn = stdio_on_flush_defer;
	st->user = h->open ? h->open(ctx, st, "stdio") : NULL;
	if (!st->user) {
		free(st);
		return -ENOMEM;
	}
	stdio_read_submit(st);
	*out = st;
	return 0;
}

void stdio_free(struct stdio_conn *st)
{
	if (!st)
		return;
	loop_defer_cancel(st->lp, &st->close_defer);
	loop_defer_cancel(st->lp, &st->flush_defer);
	buf_free(&st->in);
	buf_free(&st->sending);
	buf_free(&st->pending);
	free(st);
}
