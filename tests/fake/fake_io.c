/* fake_io: the scripted transport (see fake_io.h). Owns the messages the
 * conn queued and the counters that say what reached the "peer"; must not
 * decide anything the conn decides.
 */
#include "fake_io.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "b64.h"
#include "conn.h"

size_t fio_queued(const struct fake_io *t)
{
	return (size_t)(t->out.len - t->sent);
}

/* A message is in t->out from off on: record it, tell on_msg. */
static int fio_record(struct fake_io *t, size_t off, bool binary)
{
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 64;
		struct fake_msg *m = realloc(t->msgs, cap * sizeof(*m));
		if (!m) {
			t->out.len = off;
			return -ENOMEM;
		}
		t->msgs = m;
		t->cap = cap;
	}
	t->msgs[t->n++] = (struct fake_msg){ .off = off, .len = t->out.len - off, .binary = binary };
	if (!t->above && t->high_water && fio_queued(t) > t->high_water)
		t->above = true;
	if (t->on_msg)
		t->on_msg(t->on_msg_ctx, t, t->n - 1);
	return 0;
}

static int fio_send(void *io, const char *msg, size_t len)
{
	struct fake_io *t = io;
	if (t->closed)
		return -EPIPE;
	if (t->refuse)
		return -ENOMEM;
	size_t off = t->out.len;
	if (buf_append(&t->out, msg, len) < 0)
		return -ENOMEM;
	return fio_record(t, off, false);
}

static struct buf *fio_begin(struct fake_io *t, size_t hint, bool binary)
{
	if (t->closed || t->refuse || buf_reserve(&t->out, hint) < 0)
		return NULL;
	t->msg_start = t->out.len;
	t->msg_binary = binary;
	return &t->out;
}

static struct buf *fio_msg_begin(void *io, size_t hint)
{
	return fio_begin(io, hint, false);
}

static struct buf *fio_bin_begin(void *io, size_t hint)
{
	return fio_begin(io, hint, true);
}

static int fio_msg_end(void *io, bool ok)
{
	struct fake_io *t = io;
	if (!ok) {
		t->out.len = t->msg_start;
		return -ENOMEM;
	}
	return fio_record(t, t->msg_start, t->msg_binary);
}

static size_t fio_io_queued(void *io)
{
	return fio_queued(io);
}

static uint64_t fio_sent_total(void *io)
{
	return ((struct fake_io *)io)->sent;
}

static uint64_t fio_queued_end(void *io)
{
	return ((struct fake_io *)io)->out.len;
}

static void fio_close(void *io, int code)
{
	struct fake_io *t = io;
	if (!t->closed)
		t->closed = code;
}

static void fio_pause_recv(void *io, bool pause)
{
	struct fake_io *t = io;
	t->recv_paused = pause;
	t->pauses += pause;
}

static const struct conn_io fio_ws_io = {
	.send = fio_send,
	.msg_begin = fio_msg_begin,
	.msg_end = fio_msg_end,
	.bin_begin = fio_bin_begin,
	.queued = fio_io_queued,
	.sent_total = fio_sent_total,
	.queued_end = fio_queued_end,
	.close = fio_close,
	.pause_recv = fio_pause_recv,
};

static const struct conn_io fio_plain_io = {
	.send = fio_send,
	.queued = fio_io_queued,
	.sent_total = fio_sent_total,
	.queued_end = fio_queued_end,
	.close = fio_close,
	.pause_recv = fio_pause_recv,
};

bool fio_open(struct fake_io *t, struct proto *pr, enum fake_io_kind kind, size_t high_water)
{
	memset(t, 0, sizeof(*t));
	t->kind = kind;
	t->high_water = high_water;
	t->c = conn_new(pr, kind == FIO_WS ? &fio_ws_io : &fio_plain_io, t, "fake:1");
	return t->c != NULL;
}

void fio_drop(struct fake_io *t)
{
	if (t->c)
		conn_on_closed(t->c);
	t->c = NULL;
	buf_free(&t->out);
	free(t->msgs);
	t->msgs = NULL;
	t->n = t->cap = t->next = 0;
}

void fio_write(struct fake_io *t, size_t n)
{
	if (n > fio_queued(t))
		n = fio_queued(t);
	t->sent += n;
	/* ws.c: no callbacks once the conn asked to close. */
	if (!t->c || t->closed || !n)
		return;
	conn_on_sent(t->c);
	if (t->above && fio_queued(t) <= t->high_water / 2 && !t->closed && t->c) {
		t->above = false;
		conn_on_drained(t->c);
	}
}

void fio_flush(struct fake_io *t)
{
	fio_write(t, fio_queued(t));
}

/* A binary output frame as the JSON notification it stands for. */
static json_t *fio_binary_json(const unsigned char *h, size_t len)
{
	static const char *const streams[] = { "stdout", "stderr", "pty" };
	if (len < 12 || h[0] != 1 || h[1] > 2)
		return NULL;
	uint64_t seq = 0;
	for (int i = 0; i < 8; i++)
		seq = seq << 8 | h[2 + i];
	size_t idlen = (size_t)h[10] << 8 | h[11];
	if (12 + idlen > len)
		return NULL;
	size_t n = len - 12 - idlen;
	char *b64 = malloc(b64_encoded_len(n) + 1);
	if (!b64)
		return NULL;
	b64[b64_encode(b64, h + 12 + idlen, n)] = '\0';
	json_t *m = json_pack("{s:s,s:{s:s%,s:I,s:s,s:s},s:b}", "method", "process/output",
			      "params", "processId", (const char *)h + 12, idlen, "seq",
			      (json_int_t)seq, "stream", streams[h[1]], "chunk", b64, "binary", 1);
	free(b64);
	return m;
}

json_t *fio_msg(const struct fake_io *t, size_t i)
{
	if (i >= t->n)
		return NULL;
	const struct fake_msg *m = &t->msgs[i];
	if (m->binary)
		return fio_binary_json((const unsigned char *)t->out.data + m->off, m->len);
	return json_loadb(t->out.data + m->off, m->len, JSON_ALLOW_NUL, NULL);
}

json_t *fio_next(struct fake_io *t)
{
	return t->next < t->n ? fio_msg(t, t->next++) : NULL;
}
