/* ws: one client connection, from the HTTP request head to the close frame.
 *
 * Owns the socket, its one recv and one send op, the head buffer and its
 * deadline, the admission checks (connection limit, bearer token, the
 * peer's user), the plain GET endpoints (/readyz, /livez, /metrics, whose
 * body a callback writes), the counters of all connections (ws_stats), the
 * wslay context (incoming frames, pong and close
 * replies) behind a header check that refuses an oversize message before
 * its payload, our keep-alive pings, and the double-buffered send queue
 * that text and binary frames are written into directly.
 * Must not block, must not know JSON or processes, and never tears a
 * connection down while a handler call for it is on the stack (only loop
 * callbacks do).
 */
#include "ws.h"

#include "buf.h"
#include "http.h"
#include "log.h"
#include "loop.h"
#include "peer.h"
#include "wshdr.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <wslay/wslay.h>

#define WS_BGID 2			/* provided-buffer group for socket recv */
#define WS_RX_BUFS 64
#define WS_RX_BUF_SIZE (16u << 10)
#define WS_FLUSH_MS 5000		/* closing: give up after this long without send progress */
#define WS_LINGER_MS 2000		/* after our FIN: wait this long for the peer's */
#define WS_SPARE_CAP (1u << 20)		/* an idle send buffer above this is released */
#define WS_PINGS_MISSED 2		/* unanswered pings after which we close */

#define ws_container_of(p, type, member) ((type *)((char *)(p) - offsetof(type, member)))

enum ws_state {
	WS_HEAD,	/* reading the HTTP request head */
	WS_OPEN,	/* upgraded: frames both ways */
	WS_FLUSH,	/* last bytes queued (response or close frame): sending, input dropped */
	WS_LINGER,	/* our FIN is out: waiting for the peer's, input dropped */
	WS_DEAD,	/* ops being cancelled; freed when none is in flight */
};

struct ws_conn {
	struct ws_conn *next, *prev;	/* ws_all list, for ws_close_all */
	struct loop *lp;
	int fd;
	enum ws_state state;
	struct ws_config cfg;		/* copied, defaults filled in */
	const struct ws_handler *h;
	void *ctx;			/* for h->open */
	void *user;			/* h->open's result */
	bool opened;			/* open() accepted: closed() is owed */
	bool closed_called;		/* closed() done: no more handler calls */
	bool close_queued;		/* a close frame is queued or sent: no more text */
	bool in_wslay;			/* inside wslay_event_recv (handlers may re-enter) */
	bool above;			/* queued went above high_water: drained() owed */
	bool rx_eof;			/* the peer's FIN arrived while flushing */
	bool recv_busy, send_busy;	/* op in flight */
	bool refused;			/* over max_connections: 503 and close */
	unsigned pings_unanswered;	/* pings sent since the last pong */
	bool rx_paused;			/* ws_pause_recv(): no recv re-armed while OPEN */
	unsigned inflight;		/* ops in flight; freed only at zero */
	struct loop_op recv_op, send_op;
	struct loop_defer flush_defer;	/* coalesces sends of one loop turn */
	struct loop_defer rx_defer;	/* re-arms recv after -ENOBUFS */
	struct loop_timer timer;	/* HEAD, FLUSH, LINGER: deadline; OPEN: next ping */
	int flush_outq;			/* unsent bytes in the kernel at the last FLUSH deadline */
	struct buf head;		/* request head so far (WS_HEAD only) */
	wslay_event_context_ptr wslay;	/* from the upgrade on */
	struct wshdr rx_hdr;		/* the client's frame headers, ahead of wslay */
	const uint8_t *rx;		/* bytes wslay has yet to read */
	size_t rx_len;
	bool close_rx;			/* the frame being read is a close frame */
	size_t close_rx_want, close_rx_len;	/* its payload length, bytes so far */
	uint8_t close_rx_buf[125];	/* its payload (a control frame is <= 125) */
	struct buf sending;		/* the kernel is sending [sent_off, len); never realloc'd then */
	size_t sent_off;
	uint64_t sent_total;		/* bytes written to the socket since the start */
	struct buf pending;		/* appended to; swapped in when sending is done */
	size_t msg_start;		/* ws_msg_begin(): where its frame starts in pending */
	size_t msg_hl;			/* and the header length it set aside */
	uint8_t msg_opcode;		/* its frame's opcode: 0x1 text, 0x2 binary */
	bool in_msg;			/* between ws_msg_begin() and ws_msg_end() */
	char peer[64];
};

static size_t ws_live;			/* connections not yet freed */
static size_t ws_refused_live;		/* of those, ones refused with 503 */
static struct ws_conn *ws_all;		/* all of them */
static struct loop_bufs *ws_bufs;	/* shared recv buffers (group WS_BGID) */
static struct ws_stats ws_counters;	/* for ws_stats() */

static void ws_flush(struct ws_conn *ws);
static void ws_die(struct ws_conn *ws);

size_t ws_count(void)
{
	return ws_live;
}

void ws_stats(struct ws_stats *out)
{
	*out = ws_counters;
	out->open = ws_live;
}

size_t ws_queued(const struct ws_conn *ws)
{
	return ws->sending.len - ws->sent_off + ws->pending.len;
}

uint64_t ws_sent_total(const struct ws_conn *ws)
{
	return ws->sent_total;
}

uint64_t ws_queued_end(const struct ws_conn *ws)
{
	return ws->sent_total + ws_queued(ws);
}

/* ---- UTF-8 (RFC 3629: no overlongs, no surrogates, nothing above U+10FFFF) ---- */

static bool ws_utf8_valid(const uint8_t *p, size_t n)
{
	size_t i = 0;
	while (i < n) {
		while (i + 8 <= n) {
			uint64_t w;
			memcpy(&w, p + i, 8);
			if (w & 0x8080808080808080ull)
				break;
			i += 8;
		}
		if (i == n)
			break;
		uint8_t c = p[i];
		if (c < 0x80) {
			i++;
			continue;
		}
		size_t need;
		uint8_t lo = 0x80, hi = 0xbf;	/* range of the second byte */
		if (c >= 0xc2 && c <= 0xdf) {
			need = 1;
		} else if (c >= 0xe0 && c <= 0xef) {
			need = 2;
			if (c == 0xe0)
				lo = 0xa0;
			else if (c == 0xed)
				hi = 0x9f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			need = 3;
			if (c == 0xf0)
				lo = 0x90;
			else if (c == 0xf4)
				hi = 0x8f;
		} else {
			return false;
		}
		if (n - i <= need || p[i + 1] < lo || p[i + 1] > hi)
			return false;
		for (size_t k = 2; k <= need; k++)
			if ((p[i + k] & 0xc0) != 0x80)
				return false;
		i += need + 1;
	}
	return true;
}

/* ---- the send queue ---- */

/* A server frame header (FIN, opcode, unmasked, minimal length). */
static size_t ws_frame_header(uint8_t *h, uint8_t opcode, size_t len)
{
	h[0] = (uint8_t)(0x80 | opcode);
	if (len < 126) {
		h[1] = (uint8_t)len;
		return 2;
	}
	if (len <= 0xffff) {
		h[1] = 126;
		h[2] = (uint8_t)(len >> 8);
		h[3] = (uint8_t)len;
		return 4;
	}
	h[1] = 127;
	for (int i = 0; i < 8; i++)
		h[2 + i] = (uint8_t)((uint64_t)len >> (56 - 8 * i));
	return 10;
}

static void ws_note_queued(struct ws_conn *ws)
{
	if (!ws->above && ws_queued(ws) > ws->cfg.high_water)
		ws->above = true;
}

static void ws_schedule_flush(struct ws_conn *ws)
{
	if (!ws->send_busy && ws->state != WS_DEAD)
		loop_defer(ws->lp, &ws->flush_defer);
}

/* A message written in place, so a big one is not copied once more.
 * The header's room is set aside for a payload of about size_hint bytes;
 * if the payload ends up in another length class, it moves once. */
static struct buf *ws_frame_begin(struct ws_conn *ws, uint8_t opcode, size_t size_hint)
{
	uint8_t hdr[10];
	if (ws->state != WS_OPEN || ws->close_queued || ws->in_msg)
		return NULL;
	size_t hl = ws_frame_header(hdr, opcode, size_hint);
	if (buf_reserve(&ws->pending, hl + size_hint))
		return NULL;
	ws->msg_start = ws->pending.len;
	ws->msg_hl = hl;
	ws->msg_opcode = opcode;
	ws->pending.len += hl;
	ws->in_msg = true;
	return &ws->pending;
}

struct buf *ws_msg_begin(struct ws_conn *ws, size_t size_hint)
{
	return ws_frame_begin(ws, 0x1, size_hint);
}

struct buf *ws_bin_begin(struct ws_conn *ws, size_t size_hint)
{
	return ws_frame_begin(ws, 0x2, size_hint);
}

int ws_msg_end(struct ws_conn *ws, bool ok)
{
	uint8_t hdr[10];
	struct buf *b = &ws->pending;
	size_t body = ws->msg_start + ws->msg_hl;
	ws->in_msg = false;
	if (!ok || b->len < body) {
		b->len = ws->msg_start;
		return -ENOMEM;
	}
	size_t len = b->len - body;
	size_t hl = ws_frame_header(hdr, ws->msg_opcode, len);
	if (hl != ws->msg_hl) {
		if (hl > ws->msg_hl && buf_reserve(b, hl - ws->msg_hl)) {
			b->len = ws->msg_start;
			return -ENOMEM;
		}
		memmove(b->data + ws->msg_start + hl, b->data + body, len);
	}
	memcpy(b->data + ws->msg_start, hdr, hl);
	b->len = ws->msg_start + hl + len;
	ws_note_queued(ws);
	ws_schedule_flush(ws);
	return 0;
}

int ws_send_text(struct ws_conn *ws, const char *data, size_t len)
{
	if (ws->state != WS_OPEN || ws->close_queued)
		return -EPIPE;
	if (len > SIZE_MAX / 2)
		return -ENOMEM;
	struct buf *b = ws_msg_begin(ws, len);	/* room for exactly this much */
	if (!b)
		return -ENOMEM;
	if (len)
		memcpy(buf_tail(b), data, len);
	b->len += len;
	return ws_msg_end(ws, true);
}

/* A close frame framed by us, for when wslay can no longer queue one. */
static int ws_append_close(struct ws_conn *ws, uint16_t code)
{
	uint8_t f[4] = { 0x88, 2, (uint8_t)(code >> 8), (uint8_t)code };
	return buf_append(&ws->pending, f, sizeof(f));
}

static void ws_send_submit(struct ws_conn *ws)
{
	struct io_uring_sqe *sqe = loop_sqe(ws->lp, &ws->send_op);
	io_uring_prep_send(sqe, ws->fd, ws->sending.data + ws->sent_off,
			   ws->sending.len - ws->sent_off, MSG_NOSIGNAL);
	ws->send_busy = true;
	ws->inflight++;
}

/* Both buffers empty: give large blocks back so idle connections stay small. */
static void ws_trim(struct ws_conn *ws)
{
	if (ws->sending.cap > WS_SPARE_CAP)
		buf_free(&ws->sending);
	if (ws->pending.cap > WS_SPARE_CAP)
		buf_free(&ws->pending);
}

/* ---- closing ---- */

static void ws_notify_closed(struct ws_conn *ws)
{
	if (!ws->opened || ws->closed_called)
		return;
	ws->closed_called = true;
	if (ws->h->closed)
		ws->h->closed(ws->user);
}

/* Unsent bytes in the kernel's copy; they shrink while the peer reads. */
static int ws_outq(const struct ws_conn *ws)
{
	int outq;
	return ioctl(ws->fd, SIOCOUTQ, &outq) == 0 ? outq : -1;
}

/* Closing must not wait forever on a peer that reads nothing. */
static void ws_flush_deadline(struct ws_conn *ws)
{
	ws->flush_outq = ws_outq(ws);
	loop_timer_arm(ws->lp, &ws->timer, WS_FLUSH_MS);
}

static void ws_enter_flush(struct ws_conn *ws)
{
	if (ws->state != WS_HEAD && ws->state != WS_OPEN)
		return;
	ws->state = WS_FLUSH;
	ws_flush_deadline(ws);
	ws_schedule_flush(ws);
}

static void ws_recv_arm(struct ws_conn *ws);

/* Everything is sent: our FIN, then wait briefly for the peer's so that
 * unread input does not turn our close into a reset. May free ws. */
static void ws_linger(struct ws_conn *ws)
{
	ws->state = WS_LINGER;
	shutdown(ws->fd, SHUT_WR);
	ws_notify_closed(ws);
	if (ws->rx_eof) {
		ws_die(ws);
		return;
	}
	loop_timer_arm(ws->lp, &ws->timer, WS_LINGER_MS);
	ws_recv_arm(ws);
}

static void ws_free(struct ws_conn *ws)
{
	close(ws->fd);
	wslay_event_context_free(ws->wslay);
	buf_free(&ws->head);
	buf_free(&ws->sending);
	buf_free(&ws->pending);
	if (ws->prev)
		ws->prev->next = ws->next;
	else
		ws_all = ws->next;
	if (ws->next)
		ws->next->prev = ws->prev;
	ws_live--;
	if (ws->refused)
		ws_refused_live--;
	free(ws);
}

static void ws_cancel(struct ws_conn *ws, struct loop_op *op)
{
	struct io_uring_sqe *sqe = loop_sqe_noop(ws->lp);
	io_uring_prep_cancel64(sqe, (uint64_t)(uintptr_t)op, 0);
}

/* The connection is gone: cancel what is in flight, free when it is back.
 * May free ws. */
static void ws_die(struct ws_conn *ws)
{
	if (ws->state == WS_DEAD)
		return;
	ws->state = WS_DEAD;
	loop_timer_cancel(ws->lp, &ws->timer);
	loop_defer_cancel(ws->lp, &ws->flush_defer);
	loop_defer_cancel(ws->lp, &ws->rx_defer);
	ws_notify_closed(ws);
	if (ws->recv_busy)
		ws_cancel(ws, &ws->recv_op);
	if (ws->send_busy)
		ws_cancel(ws, &ws->send_op);
	if (!ws->inflight)
		ws_free(ws);
}

void ws_close(struct ws_conn *ws, uint16_t code)
{
	if (ws->state != WS_OPEN || ws->close_queued)
		return;
	ws->close_queued = true;
	wslay_event_shutdown_read(ws->wslay);
	int r = wslay_event_queue_close(ws->wslay, code, NULL, 0);
	if (r == 0 && !ws->in_wslay)
		r = wslay_event_send(ws->wslay);
	if (r < 0)
		ws_append_close(ws, code);
	/* Inside wslay_event_recv the frame goes out when it returns. */
	if (!ws->in_wslay)
		ws_enter_flush(ws);
}

void ws_close_all(uint16_t code)
{
	struct ws_conn *next;
	for (struct ws_conn *ws = ws_all; ws; ws = next) {
		next = ws->next;
		if (ws->state == WS_HEAD)
			ws_die(ws);
		else if (ws->state == WS_OPEN)
			ws_close(ws, code);
	}
}

/* ---- send completion ---- */

static void ws_check_drained(struct ws_conn *ws)
{
	if (!ws->above || ws_queued(ws) > ws->cfg.high_water / 2)
		return;
	ws->above = false;
	if (ws->state == WS_OPEN && ws->opened && !ws->closed_called && ws->h->drained)
		ws->h->drained(ws->user);
}

static void ws_on_send(struct loop_op *op, int res, uint32_t flags)
{
	struct ws_conn *ws = ws_container_of(op, struct ws_conn, send_op);
	(void)flags;
	ws->send_busy = false;
	ws->inflight--;
	if (ws->state == WS_DEAD) {
		if (!ws->inflight)
			ws_free(ws);
		return;
	}
	if (res == -EINTR || res == -EAGAIN) {
		ws_flush(ws);
		return;
	}
	if (res <= 0) {
		ws_die(ws);
		return;
	}
	ws->sent_off += (size_t)res;
	ws->sent_total += (uint64_t)res;
	ws_counters.sent_bytes += (uint64_t)res;
	if (ws->state == WS_FLUSH)
		ws_flush_deadline(ws);
	if (ws->state == WS_OPEN && ws->opened && !ws->closed_called && ws->h->sent)
		ws->h->sent(ws->user);
	ws_check_drained(ws);
	ws_flush(ws);
}

/* Keep one send in flight while there are bytes; at the end of FLUSH,
 * linger. May free ws, so it is always a caller's last step. */
static void ws_flush(struct ws_conn *ws)
{
	if (ws->send_busy || ws->state == WS_DEAD)
		return;
	if (ws->sent_off == ws->sending.len) {
		ws->sending.len = 0;
		ws->sent_off = 0;
		if (!ws->pending.len) {
			ws_trim(ws);
			if (ws->state == WS_FLUSH)
				ws_linger(ws);
			return;
		}
		struct buf t = ws->sending;
		ws->sending = ws->pending;
		ws->pending = t;
	}
	ws_send_submit(ws);
}

static void ws_on_flush_defer(struct loop_defer *d)
{
	ws_flush(ws_container_of(d, struct ws_conn, flush_defer));
}

/* ---- wslay: memory callbacks ---- */

static ssize_t ws_wslay_recv(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags,
			     void *user)
{
	struct ws_conn *ws = user;
	(void)flags;
	if (!ws->rx_len) {
		wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
		return -1;
	}
	size_t n = len < ws->rx_len ? len : ws->rx_len;
	memcpy(buf, ws->rx, n);
	ws->rx += n;
	ws->rx_len -= n;
	return (ssize_t)n;
}

static ssize_t ws_wslay_send(wslay_event_context_ptr ctx, const uint8_t *data, size_t len,
			     int flags, void *user)
{
	struct ws_conn *ws = user;
	(void)flags;
	if (buf_append(&ws->pending, data, len)) {
		wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
		return -1;
	}
	return (ssize_t)len;
}

static void ws_wslay_on_msg(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *arg,
			    void *user)
{
	struct ws_conn *ws = user;
	(void)ctx;
	bool binary = arg->opcode == WSLAY_BINARY_FRAME;
	if (arg->opcode == WSLAY_PONG)
		ws->pings_unanswered = 0;	/* any pong answers every ping so far */
	if (!binary && arg->opcode != WSLAY_TEXT_FRAME)
		return;		/* ping and close are answered by wslay */
	if (ws->close_queued || !ws->opened)
		return;
	if (!binary && !ws_utf8_valid(arg->msg, arg->msg_length)) {
		ws_close(ws, WSLAY_CODE_INVALID_FRAME_PAYLOAD_DATA);
		return;
	}
	const char *data = arg->msg ? (const char *)arg->msg : "";
	ws->h->message(ws->user, data, arg->msg_length, binary);
}

/* A close frame's body is empty or a 2-byte code plus a reason: one byte
 * is a protocol error (RFC 6455 5.5.1), which wslay would answer with an
 * empty close. Queue 1002 first; wslay then sends no close of its own. */
static void ws_wslay_on_frame_start(wslay_event_context_ptr ctx,
				    const struct wslay_event_on_frame_recv_start_arg *arg, void *user)
{
	struct ws_conn *ws = user;
	ws->close_rx = arg->opcode == WSLAY_CONNECTION_CLOSE &&
		       arg->payload_length <= sizeof(ws->close_rx_buf);
	ws->close_rx_want = ws->close_rx ? (size_t)arg->payload_length : 0;
	ws->close_rx_len = 0;
	if (arg->opcode == WSLAY_CONNECTION_CLOSE && arg->payload_length == 1)
		wslay_event_queue_close(ctx, WSLAY_CODE_PROTOCOL_ERROR, NULL, 0);
}

/* wslay checks a close reason's UTF-8 per read, skipping the first two bytes
 * of every read, then echoes the reason: a close frame split across recvs
 * could make us send an invalid one. Check the whole reason; 1007 first. */
static void ws_wslay_on_frame_chunk(wslay_event_context_ptr ctx,
				    const struct wslay_event_on_frame_recv_chunk_arg *arg, void *user)
{
	struct ws_conn *ws = user;
	if (!ws->close_rx)
		return;
	size_t n = ws->close_rx_want - ws->close_rx_len;
	if (n > arg->data_length)
		n = arg->data_length;
	if (n)
		memcpy(ws->close_rx_buf + ws->close_rx_len, arg->data, n);
	ws->close_rx_len += n;
	if (ws->close_rx_len < ws->close_rx_want)
		return;
	ws->close_rx = false;
	if (ws->close_rx_want > 2 && !ws_utf8_valid(ws->close_rx_buf + 2, ws->close_rx_want - 2))
		wslay_event_queue_close(ctx, WSLAY_CODE_INVALID_FRAME_PAYLOAD_DATA, NULL, 0);
}

static int ws_wslay_new(struct ws_conn *ws)
{
	struct wslay_event_callbacks cb = {
		.recv_callback = ws_wslay_recv,
		.send_callback = ws_wslay_send,
		.on_frame_recv_start_callback = ws_wslay_on_frame_start,
		.on_frame_recv_chunk_callback = ws_wslay_on_frame_chunk,
		.on_msg_recv_callback = ws_wslay_on_msg,
	};
	if (wslay_event_context_server_init(&ws->wslay, &cb, ws))
		return -ENOMEM;
	wslay_event_config_set_max_recv_msg_length(ws->wslay, ws->cfg.max_message);
	return 0;
}

/* After wslay_event_recv returned r: push out its replies; a close frame
 * queued or received (read disabled) means we are closing. */
static int ws_after_wslay(struct ws_conn *ws, int r)
{
	if (r < 0) {
		/* wslay is finished (a frame it could not parse, or no memory) and
		 * its own close frame would carry no code: frame ours. */
		int ret = 0;
		if (!wslay_event_get_close_sent(ws->wslay) && !ws->close_queued)
			ret = ws_append_close(ws, r == WSLAY_ERR_NOMEM ? WSLAY_CODE_INTERNAL_SERVER_ERROR
								  : WSLAY_CODE_PROTOCOL_ERROR);
		ws->close_queued = true;
		ws_enter_flush(ws);
		return ret;
	}
	if (wslay_event_want_write(ws->wslay) && wslay_event_send(ws->wslay) < 0)
		return -ENOMEM;
	ws_note_queued(ws);
	if (!wslay_event_get_read_enabled(ws->wslay) || wslay_event_get_close_sent(ws->wslay)) {
		ws->close_queued = true;
		ws_enter_flush(ws);
	}
	return 0;
}

/* A frame header announced a message over max_message: 1009 now, before
 * its payload (wslay alone would wait for the payload's first bytes). */
static void ws_too_big(struct ws_conn *ws, uint64_t announced)
{
	if (ws->close_queued || wslay_event_get_close_sent(ws->wslay))
		return;
	log_info("%s: a frame announces a %llu-byte message, over --max-message %zu; closing "
		 "with 1009", ws->peer, (unsigned long long)announced, ws->cfg.max_message);
	wslay_event_queue_close(ws->wslay, WSLAY_CODE_MESSAGE_TOO_BIG, NULL, 0);
}

/* wslay gets the bytes up to a too-big frame's header, none of it. */
static int ws_frames_input(struct ws_conn *ws, const char *data, size_t len)
{
	size_t ok;
	uint64_t announced = 0;
	bool over = wshdr_feed(&ws->rx_hdr, (const uint8_t *)data, len, ws->cfg.max_message, &ok,
			       &announced) < 0;
	int r = 0;
	if (ok) {
		ws->rx = (const uint8_t *)data;
		ws->rx_len = ok;
		ws->in_wslay = true;
		r = wslay_event_recv(ws->wslay);
		ws->in_wslay = false;
		ws->rx = NULL;
		ws->rx_len = 0;
	}
	if (over && r >= 0 && ws->state == WS_OPEN)
		ws_too_big(ws, announced);
	return ws_after_wslay(ws, r);
}

/* ---- the HTTP side ---- */

/* A plain response, then close. */
static int ws_respond(struct ws_conn *ws, int status, const char *body)
{
	char out[512];
	size_t n = http_format_response(out, sizeof(out), status, NULL, body);
	buf_free(&ws->head);
	if (!n || buf_append(&ws->pending, out, n))
		return -ENOMEM;
	ws_enter_flush(ws);
	return 0;
}

static bool ws_origin_allowed(const struct ws_conn *ws, const char *origin)
{
	const char *const *o = ws->cfg.allow_origins;
	if (!o || strlen(origin) >= sizeof(((struct http_request *)0)->origin) - 1)
		return false;	/* none allowed, or a value http truncated */
	for (; *o; o++)
		if (!strcmp(*o, origin))
			return true;
	return false;
}

/* The Authorization value is "Bearer <token>" (scheme in any case). The
 * token is compared in time that depends on neither the position of the
 * first difference nor the token's length: both sides are zero-padded to
 * one fixed size and every byte is compared (header values hold no NUL). */
static bool ws_auth_ok(const struct ws_conn *ws, const char *authz)
{
	char want[sizeof(((struct http_request *)0)->authorization)] = { 0 };
	char got[sizeof(want)] = { 0 };
	const char *tok = ws->cfg.auth_token;
	size_t tlen = strlen(tok), glen;
	unsigned diff;

	if (strncasecmp(authz, "Bearer ", 7))
		return false;
	authz += 7;
	while (*authz == ' ')
		authz++;
	glen = strlen(authz);
	if (tlen >= sizeof(want) || glen >= sizeof(got))
		return false;
	memcpy(want, tok, tlen);
	memcpy(got, authz, glen);
	diff = (unsigned)(tlen ^ glen);
	for (size_t i = 0; i < sizeof(want); i++)
		diff |= (unsigned char)(want[i] ^ got[i]);
	return diff == 0;
}

static bool ws_uid_allowed(const struct ws_conn *ws, uint32_t uid)
{
	if (uid == 0 || uid == (uint32_t)geteuid())
		return true;
	for (size_t i = 0; i < ws->cfg.n_allow_uids; i++)
		if (ws->cfg.allow_uids[i] == uid)
			return true;
	return false;
}

/* Who may upgrade (or scrape /metrics: what names the request in the log).
 * With a token: whoever presents it. Without one: a peer whose socket
 * belongs to root, to our own user or to an allowed uid; not one whose
 * user cannot be told (on another host, or gone), nor one inside one of
 * our sandboxes. 0, or the HTTP status to refuse with (401, 403), logged
 * and counted. */
static int ws_admit(const struct ws_conn *ws, const struct http_request *req, const char *what)
{
	uint32_t uid;
	if (ws->cfg.auth_token && ws->cfg.auth_token[0]) {
		if (ws_auth_ok(ws, req->authorization))
			return 0;
		log_info("%s: %s refused: %s bearer token", ws->peer, what,
			 req->authorization[0] ? "wrong" : "no");
		ws_counters.refused[WS_REFUSED_TOKEN]++;
		return 401;
	}
	struct peer_id id;
	int r = peer_identify(ws->fd, &id);
	uid = id.uid;
	if (r == 0 && ws->cfg.sandboxed_peer &&
	    ws->cfg.sandboxed_peer(ws->cfg.sandboxed_ctx, id.pid, id.inode)) {
		log_warn("%s: %s refused (403): the peer runs in one of this server's sandboxes",
			 ws->peer, what);
		ws_counters.refused[WS_REFUSED_SANDBOXED]++;
		return 403;
	}
	if (r == 0 && ws_uid_allowed(ws, uid))
		return 0;
	if (r == 0)
		log_warn("%s: %s refused (403): peer uid %u is neither root, nor the server's "
			 "uid %u, nor an --allow-uid", ws->peer, what, uid, (unsigned)geteuid());
	else if (r == -ENOENT)
		log_warn("%s: %s refused (403): the peer is not on this host, so its user is "
			 "unknown; it needs a bearer token (--auth-token-file)", ws->peer, what);
	else if (r == -ENOTCONN)
		log_warn("%s: %s refused (403): the peer closed its socket, so its user is "
			 "unknown", ws->peer, what);
	else
		log_warn("%s: %s refused (403): cannot tell the peer's user: %s", ws->peer, what,
			 strerror(-r));
	ws_counters.refused[WS_REFUSED_PEER]++;
	return 403;
}

/* ---- keep-alive pings ---- */

static void ws_ping_arm(struct ws_conn *ws)
{
	if (ws->cfg.ping_interval_ms)
		loop_timer_arm(ws->lp, &ws->timer, ws->cfg.ping_interval_ms);
}

/* Every interval: a peer that answered none of the last two pings is
 * closed with 1001 and its session detached at once (closed() does not
 * wait for the close frame to drain); otherwise one more ping. */
static void ws_ping_tick(struct ws_conn *ws)
{
	static const uint8_t ping[2] = { 0x89, 0x00 };	/* FIN, ping, no payload */
	if (ws->close_queued)
		return;
	if (ws->rx_paused)
		ws->pings_unanswered = 0;	/* we are not reading: its pongs wait in the socket */
	if (ws->pings_unanswered >= WS_PINGS_MISSED) {
		log_info("%s: no pong to the last %d pings; closing", ws->peer, WS_PINGS_MISSED);
		ws_close(ws, WSLAY_CODE_GOING_AWAY);
		ws_notify_closed(ws);
		return;
	}
	if (buf_append(&ws->pending, ping, sizeof(ping)) == 0) {
		ws->pings_unanswered++;
		ws_schedule_flush(ws);
	}
	ws_ping_arm(ws);
}

static void ws_open(struct ws_conn *ws)
{
	void *user = ws->h->open ? ws->h->open(ws->ctx, ws, ws->peer) : NULL;
	if (!user) {
		ws_close(ws, WSLAY_CODE_INTERNAL_SERVER_ERROR);
		return;
	}
	ws->user = user;
	ws->opened = true;
}

static int ws_upgrade(struct ws_conn *ws, const struct http_request *req)
{
	char key[29], out[256];
	http_ws_accept(req->ws_key, key);
	size_t n = http_format_response(out, sizeof(out), 101, key, NULL);
	if (!n || ws_wslay_new(ws) || buf_append(&ws->pending, out, n))
		return -ENOMEM;
	ws->state = WS_OPEN;
	ws_counters.upgrades++;
	ws_schedule_flush(ws);
	loop_timer_cancel(ws->lp, &ws->timer);	/* the head's deadline */
	ws_ping_arm(ws);

	/* Bytes after the head are the first frames; keep them past open(). */
	struct buf head = ws->head;
	size_t used = req->head_len;
	memset(&ws->head, 0, sizeof(ws->head));
	ws_open(ws);
	int ret = 0;
	if (head.len > used && ws->state == WS_OPEN && !ws->close_queued)
		ret = ws_frames_input(ws, head.data + used, head.len - used);
	buf_free(&head);
	return ret;
}

/* Answer ws_admit's refusal (401 or 403). */
static int ws_refuse(struct ws_conn *ws, int status)
{
	if (status == 401)
		return ws_respond(ws, 401, "unauthorized\n");
	return ws_respond(ws, 403, "forbidden: not a user this server serves\n");
}

/* GET /metrics, admitted: 200 with the body the callback writes, in the
 * Prometheus text format's content type; 500 when it cannot be made. */
static int ws_metrics(struct ws_conn *ws)
{
	struct buf body = { 0 };
	char head[256];
	if (ws->cfg.metrics(ws->cfg.metrics_ctx, &body) < 0) {
		buf_free(&body);
		return ws_respond(ws, 500, "internal server error: cannot make the metrics\n");
	}
	size_t n = http_format_head(head, sizeof(head), 200,
				    "text/plain; version=0.0.4; charset=utf-8", body.len);
	int ret = n && buf_reserve(&ws->pending, n + body.len) == 0 ? 0 : -ENOMEM;
	if (ret == 0) {
		buf_append(&ws->pending, head, n);
		buf_append(&ws->pending, body.data, body.len);
		buf_free(&ws->head);
		ws_enter_flush(ws);
	}
	buf_free(&body);
	return ret;
}

static int ws_route(struct ws_conn *ws, const struct http_request *req)
{
	if (req->has_origin && !ws_origin_allowed(ws, req->origin)) {
		ws_counters.refused[WS_REFUSED_ORIGIN]++;
		return ws_respond(ws, 403, "forbidden\n");
	}
	if (!strcmp(req->path, "/")) {
		int refuse = ws_admit(ws, req, "upgrade");
		if (refuse)
			return ws_refuse(ws, refuse);
		if (!http_is_ws_upgrade(req)) {
			ws_counters.refused[WS_REFUSED_BAD_REQUEST]++;
			return ws_respond(ws, 400, "bad request: expected a WebSocket upgrade\n");
		}
		return ws_upgrade(ws, req);
	}
	if (!strcmp(req->path, "/metrics") && ws->cfg.metrics) {
		if (strcmp(req->method, "GET"))
			return ws_respond(ws, 405, "method not allowed\n");
		int refuse = ws_admit(ws, req, "/metrics");
		return refuse ? ws_refuse(ws, refuse) : ws_metrics(ws);
	}
	if (!strcmp(req->path, "/readyz") || !strcmp(req->path, "/livez")) {
		if (strcmp(req->method, "GET"))
			return ws_respond(ws, 405, "method not allowed\n");
		return ws_respond(ws, 200, "ok");
	}
	return ws_respond(ws, 404, "not found\n");
}

static int ws_head_input(struct ws_conn *ws, const char *data, size_t len)
{
	if (buf_append(&ws->head, data, len))
		return -ENOMEM;
	/* The parser starts over each time: only a new line can change its answer. */
	if (!memchr(data, '\n', len) && ws->head.len < ws->cfg.max_head)
		return 0;
	struct http_request req;
	switch (http_parse_request(ws->head.data, ws->head.len, ws->cfg.max_head, &req)) {
	case HTTP_INCOMPLETE:
		return 0;
	case HTTP_DONE:
		return ws_route(ws, &req);
	case HTTP_TOO_LARGE:
		ws_counters.refused[WS_REFUSED_BAD_REQUEST]++;
		return ws_respond(ws, 400, "bad request: request head too large\n");
	case HTTP_BAD:
	default:
		ws_counters.refused[WS_REFUSED_BAD_REQUEST]++;
		return ws_respond(ws, 400, "bad request\n");
	}
}

/* ---- recv ---- */

static void ws_recv_arm(struct ws_conn *ws)
{
	if (ws->recv_busy || ws->rx_eof || ws->state == WS_DEAD)
		return;
	if (ws->rx_paused && ws->state == WS_OPEN)
		return;
	struct io_uring_sqe *sqe = loop_sqe(ws->lp, &ws->recv_op);
	io_uring_prep_recv(sqe, ws->fd, NULL, 0, 0);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = WS_BGID;
	ws->recv_busy = true;
	ws->inflight++;
}

void ws_pause_recv(struct ws_conn *ws, bool pause)
{
	if (ws->rx_paused == pause)
		return;
	ws->rx_paused = pause;
	if (!pause)
		ws_recv_arm(ws);
}

static void ws_on_rx_defer(struct loop_defer *d)
{
	ws_recv_arm(ws_container_of(d, struct ws_conn, rx_defer));
}

static int ws_input(struct ws_conn *ws, const char *data, size_t len)
{
	switch (ws->state) {
	case WS_HEAD:
		return ws_head_input(ws, data, len);
	case WS_OPEN:
		return ws_frames_input(ws, data, len);
	default:
		return 0;	/* closing: input is dropped */
	}
}

/* res is 0 (EOF) or an error other than -ENOBUFS. May free ws. */
static void ws_on_recv_end(struct ws_conn *ws, int res)
{
	if (res == -EINTR || res == -EAGAIN) {
		ws_recv_arm(ws);
		return;
	}
	if (res == 0 && ws->state == WS_FLUSH) {
		ws->rx_eof = true;	/* a half-close: still send what is queued */
		return;
	}
	ws_die(ws);
}

static void ws_on_recv(struct loop_op *op, int res, uint32_t flags)
{
	struct ws_conn *ws = ws_container_of(op, struct ws_conn, recv_op);
	ws->recv_busy = false;
	ws->inflight--;
	if (res > 0)
		ws_counters.received_bytes += (uint64_t)res;
	int ret = 0;
	if (res > 0 && ws->state != WS_DEAD)
		ret = ws_input(ws, loop_bufs_get(ws_bufs, flags), (size_t)res);
	if (flags & IORING_CQE_F_BUFFER)
		loop_bufs_put(ws_bufs, flags);
	if (ws->state == WS_DEAD) {
		if (!ws->inflight)
			ws_free(ws);
		return;
	}
	if (res == -ENOBUFS) {
		loop_defer(ws->lp, &ws->rx_defer);	/* the group is empty: next turn */
		return;
	}
	if (res <= 0) {
		ws_on_recv_end(ws, res);
		return;
	}
	if (ret < 0) {
		ws_die(ws);
		return;
	}
	ws_recv_arm(ws);
	ws_flush(ws);
}

/* HEAD: no whole request head in time -> 408 and close. OPEN: ping.
 * FLUSH: the peer still drains the kernel's copy (a slow reader) -> wait
 * on; no progress at all -> give up. LINGER: give up. */
static void ws_on_timer(struct loop_timer *t)
{
	struct ws_conn *ws = ws_container_of(t, struct ws_conn, timer);
	if (ws->state == WS_HEAD) {
		log_info("%s: no whole request head within %u ms (--head-timeout-ms); closing",
			 ws->peer, ws->cfg.head_timeout_ms);
		ws_counters.refused[WS_REFUSED_HEAD_TIMEOUT]++;
		if (ws_respond(ws, 408, "request timeout\n") < 0)
			ws_die(ws);
		return;
	}
	if (ws->state == WS_OPEN) {
		ws_ping_tick(ws);
		return;
	}
	if (ws->state == WS_FLUSH && ws_outq(ws) < ws->flush_outq) {
		ws_flush_deadline(ws);
		return;
	}
	ws_die(ws);
}

/* ---- accept ---- */

static void ws_config_fill(struct ws_config *c, const struct ws_config *from)
{
	*c = *from;
	if (!c->max_message)
		c->max_message = 64u << 20;
	if (!c->max_head)
		c->max_head = 16u << 10;
	if (!c->high_water)
		c->high_water = 4u << 20;
	if (!c->max_connections)
		c->max_connections = 256;
}

/* io_uring waits on a blocking socket; O_NONBLOCK would surface -EAGAIN. */
static void ws_make_blocking(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	if (fl >= 0 && (fl & O_NONBLOCK))
		fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
}

int ws_accept(struct loop *lp, int fd, const char *peer, const struct ws_config *cfg,
	      const struct ws_handler *h, void *ctx)
{
	int ret = 0;
	if (!ws_bufs)
		ret = loop_bufs_new(lp, &ws_bufs, WS_BGID, WS_RX_BUFS, WS_RX_BUF_SIZE);
	if (ret < 0)
		goto fail;
	struct ws_conn *ws = calloc(1, sizeof(*ws));
	if (!ws) {
		ret = -ENOMEM;
		goto fail;
	}
	ws_make_blocking(fd);
	ws->lp = lp;
	ws->fd = fd;
	ws->state = WS_HEAD;
	ws_config_fill(&ws->cfg, cfg);
	ws->h = h;
	ws->ctx = ctx;
	ws->recv_op.cb = ws_on_recv;
	ws->send_op.cb = ws_on_send;
	ws->flush_defer.fn = ws_on_flush_defer;
	ws->rx_defer.fn = ws_on_rx_defer;
	loop_timer_init(&ws->timer, ws_on_timer);
	snprintf(ws->peer, sizeof(ws->peer), "%s", peer ? peer : "");
	ws->next = ws_all;
	if (ws_all)
		ws_all->prev = ws;
	ws_all = ws;
	ws_live++;
	ws_counters.accepted++;
	if (ws_live - 1 - ws_refused_live >= ws->cfg.max_connections) {
		/* Answered at once, before the request: the peer reads it as the
		 * response to whatever it sends, and lingering keeps our close clean. */
		ws->refused = true;
		ws_refused_live++;
		ws_counters.refused[WS_REFUSED_LIMIT]++;
		log_info("%s: refused: already %zu connections (--max-connections)", ws->peer,
			 ws->cfg.max_connections);
		if (ws_respond(ws, 503, "service unavailable: too many connections\n") < 0)
			ws_die(ws);
		return 0;
	}
	if (ws->cfg.head_timeout_ms)
		loop_timer_arm(lp, &ws->timer, ws->cfg.head_timeout_ms);
	ws_recv_arm(ws);
	return 0;

fail:
	close(fd);
	return ret;
}
