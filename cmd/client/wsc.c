/* wsc: the blocking WebSocket client shared by ringexec, tests and examples.
 *
 * Owns one non-blocking socket, the hand-written HTTP upgrade, a wslay event
 * context for what is sent (messages of 16 KiB and more are masked a word at a
 * time straight into the output buffer), and its own frame reader (wslay's
 * checks text a byte at a time, ~300 MB/s). Every wait is a deadline poll().
 */
#include "wsc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <nettle/base64.h>
#include <nettle/sha1.h>
#include <wslay/wslay.h>

#define WSC_MAX_MESSAGE (256u << 20)	/* largest message we accept */
#define WSC_RBUF_SIZE (256u << 10)	/* socket reads are this large */
#define WSC_OBUF_SIZE (256u << 10)	/* frames are coalesced up to this */
#define WSC_DIRECT_MIN (64u << 10)	/* payload left: recv straight into the message */
#define WSC_MAX_HEAD (64u << 10)	/* largest HTTP response head we read */
#define WSC_BULK_MIN (16u << 10)	/* data messages this large skip wslay */
#define WSC_SEND_TIMEOUT_MS 30000	/* sends have no timeout argument */
#define WSC_CLOSE_REPLY_MS 1000		/* answering a peer's close frame */
#define WSC_RBUF_LIMIT (512u << 20)	/* growth bound while a send is stuck */

enum { OP_CONT = 0x0, OP_TEXT = 0x1, OP_BINARY = 0x2, OP_CLOSE = 0x8, OP_PING = 0x9,
       OP_PONG = 0xa };

struct wsc {
	int fd;
	wslay_event_context_ptr ws;
	int dead;		/* 0, or what every further call returns */
	bool rx_done;		/* EOF or error seen while draining during a send */

	/* unparsed input: rbuf[rpos, rlen) */
	uint8_t *rbuf;
	size_t rcap, rpos, rlen;

	/* coalesced output not yet written */
	uint8_t *obuf;
	size_t olen;
	int64_t send_deadline;	/* for the send callback, in µs */
	int send_err;		/* -errno the send callback hit */
	int tx_err;		/* a send failed mid-frame: every later send returns it */

	/* the frame being read */
	bool in_payload;
	uint8_t fop;
	bool ffin;
	uint64_t frem;

	/* the data message being assembled (mop 0: none) */
	uint8_t mop;
	char *mdata;
	size_t mlen, mcap;

	/* a control frame's payload */
	uint8_t cbuf[125];
	size_t clen;

	/* random bytes for frame masks */
	uint8_t rnd[256];
	size_t rndpos;
};

/* ---- time ---- */

int64_t wsc_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t wsc_now_ms(void)
{
	return wsc_now_us() / 1000;
}

/* timeout_ms < 0: no deadline (INT64_MAX). */
static int64_t wsc_deadline(int timeout_ms)
{
	if (timeout_ms < 0)
		return INT64_MAX;
	return wsc_now_us() + (int64_t)timeout_ms * 1000;
}

/* Milliseconds left for poll(), rounded up so we never spin; -1 for none. */
static int wsc_left_ms(int64_t deadline)
{
	int64_t left;

	if (deadline == INT64_MAX)
		return -1;
	left = deadline - wsc_now_us();
	if (left <= 0)
		return 0;
	left = (left + 999) / 1000;
	return left > INT_MAX ? INT_MAX : (int)left;
}

/* poll one fd for events until deadline: >0 revents, -ETIMEDOUT, -errno. */
static int wsc_poll(int fd, short events, int64_t deadline)
{
	struct pollfd p = { .fd = fd, .events = events };

	for (;;) {
		int ms = wsc_left_ms(deadline);
		int r = poll(&p, 1, ms);

		if (r > 0)
			return p.revents;
		if (r == 0) {
			if (ms == 0 || wsc_now_us() >= deadline)
				return -ETIMEDOUT;
			continue;
		}
		if (errno != EINTR)
			return -errno;
	}
}

/* ---- URLs and connecting ---- */

struct wsc_addr {
	struct sockaddr_storage ss;
	socklen_t len;
	char host[300];		/* for the Host header */
	char path[1024];
};

/* "ws://IP:PORT[/path]", "http://..." (same), "unix:///sock[/path is not split]". */
static int wsc_parse_url(const char *url, struct wsc_addr *a)
{
	const char *rest, *hend, *pstart, *colon;
	char hostbuf[256], portbuf[16];
	struct addrinfo hints = { 0 }, *res = NULL;
	size_t hlen;

	memset(a, 0, sizeof(*a));
	if (!strncmp(url, "unix://", 7)) {
		struct sockaddr_un *un = (struct sockaddr_un *)&a->ss;
		const char *p = url + 7;

		if (*p != '/' || strlen(p) >= sizeof(un->sun_path))
			return -EINVAL;
		un->sun_family = AF_UNIX;
		strcpy(un->sun_path, p);
		a->len = sizeof(*un);
		strcpy(a->host, "localhost");
		strcpy(a->path, "/");
		return 0;
	}
	if (!strncmp(url, "ws://", 5))
		rest = url + 5;
	else if (!strncmp(url, "http://", 7))
		rest = url + 7;
	else
		return -EINVAL;

	pstart = strchr(rest, '/');
	if (!pstart)
		pstart = rest + strlen(rest);
	hlen = (size_t)(pstart - rest);
	if (hlen == 0 || hlen >= sizeof(a->host))
		return -EINVAL;
	memcpy(a->host, rest, hlen);
	a->host[hlen] = '\0';
	if (strlen(pstart) >= sizeof(a->path))
		return -EINVAL;
	strcpy(a->path, *pstart ? pstart : "/");

	if (a->host[0] == '[') {
		hend = strchr(a->host, ']');
		if (!hend || hend[1] != ':')
			return -EINVAL;
		colon = hend + 1;
		hlen = (size_t)(hend - a->host - 1);
		if (hlen >= sizeof(hostbuf))
			return -EINVAL;
		memcpy(hostbuf, a->host + 1, hlen);
	} else {
		colon = strrchr(a->host, ':');
		if (!colon)
			return -EINVAL;
		hlen = (size_t)(colon - a->host);
		if (hlen >= sizeof(hostbuf))
			return -EINVAL;
		memcpy(hostbuf, a->host, hlen);
	}
	hostbuf[hlen] = '\0';
	if (strlen(colon + 1) == 0 || strlen(colon + 1) >= sizeof(portbuf))
		return -EINVAL;
	strcpy(portbuf, colon + 1);

	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	if (getaddrinfo(hostbuf, portbuf, &hints, &res) != 0 || !res)
		return -EINVAL;
	memcpy(&a->ss, res->ai_addr, res->ai_addrlen);
	a->len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

/* A connected non-blocking socket, or -errno. */
static int wsc_dial(const struct wsc_addr *a, int64_t deadline)
{
	int family = a->ss.ss_family;
	int fd, one = 1, err = 0, r;
	socklen_t elen = sizeof(err);

	fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (family != AF_UNIX)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (const struct sockaddr *)&a->ss, a->len) == 0)
		return fd;
	if (errno != EINPROGRESS && errno != EAGAIN) {
		r = -errno;
		goto fail;
	}
	r = wsc_poll(fd, POLLOUT, deadline);
	if (r < 0)
		goto fail;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0) {
		r = -errno;
		goto fail;
	}
	if (err) {
		r = -err;
		goto fail;
	}
	return fd;
fail:
	close(fd);
	return r;
}

/* ---- raw socket I/O ---- */

/* Read whatever is ready into rbuf (growing it): keeps a peer that is
 * streaming at us from deadlocking a send we are blocked in. Returns false
 * once nothing more can be taken (EOF, error, or rbuf at its limit). */
static bool wsc_drain_in(struct wsc *c)
{
	for (;;) {
		ssize_t n;

		if (c->rpos == c->rlen) {
			c->rpos = c->rlen = 0;
		} else if (c->rlen == c->rcap && c->rpos > 0) {
			memmove(c->rbuf, c->rbuf + c->rpos, c->rlen - c->rpos);
			c->rlen -= c->rpos;
			c->rpos = 0;
		}
		if (c->rlen == c->rcap) {
			uint8_t *nb;

			if (c->rcap >= WSC_RBUF_LIMIT)
				return false;
			nb = realloc(c->rbuf, c->rcap * 2);
			if (!nb)
				return false;
			c->rbuf = nb;
			c->rcap *= 2;
		}
		n = recv(c->fd, c->rbuf + c->rlen, c->rcap - c->rlen, MSG_DONTWAIT);
		if (n > 0) {
			c->rlen += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return true;
		c->rx_done = true;	/* EOF or error: the reader finds it again */
		return false;
	}
}

/* Write all of data to fd by the deadline. With c, incoming bytes are
 * buffered while we wait for room. 0 or -errno. */
static int wsc_write_all(int fd, struct wsc *c, const void *data, size_t len, int64_t deadline)
{
	const uint8_t *p = data;
	bool take_in = c && !c->rx_done;

	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		int r;

		if (n > 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno != EAGAIN)
			return -errno;
		r = wsc_poll(fd, (short)(POLLOUT | (take_in ? POLLIN : 0)), deadline);
		if (r < 0)
			return r;
		if (take_in && (r & POLLIN))
			take_in = wsc_drain_in(c);
	}
	return 0;
}

static int wsc_obuf_flush(struct wsc *c, int64_t deadline)
{
	int r;

	if (c->olen == 0)
		return 0;
	r = wsc_write_all(c->fd, c, c->obuf, c->olen, deadline);
	c->olen = 0;
	return r;
}

/* ---- wslay callbacks (sending side) ---- */

static ssize_t wsc_cb_send(wslay_event_context_ptr ctx, const uint8_t *data, size_t len,
			   int flags, void *user)
{
	struct wsc *c = user;
	int r;

	(void)flags;
	if (c->olen + len > WSC_OBUF_SIZE) {
		r = wsc_obuf_flush(c, c->send_deadline);
		if (r == 0 && len > WSC_OBUF_SIZE)
			r = wsc_write_all(c->fd, c, data, len, c->send_deadline);
		if (r < 0) {
			c->send_err = r;
			wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
			return -1;
		}
		if (len > WSC_OBUF_SIZE)
			return (ssize_t)len;
	}
	memcpy(c->obuf + c->olen, data, len);
	c->olen += len;
	return (ssize_t)len;
}

static ssize_t wsc_cb_recv(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags,
			   void *user)
{
	/* Never called: frames are read by wsc_parse(). */
	(void)buf;
	(void)len;
	(void)flags;
	(void)user;
	wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
	return -1;
}

static int wsc_cb_genmask(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, void *user)
{
	struct wsc *c = user;

	(void)ctx;
	while (len > 0) {
		size_t n;

		if (c->rndpos == sizeof(c->rnd)) {
			ssize_t g = getrandom(c->rnd, sizeof(c->rnd), 0);

			if (g != (ssize_t)sizeof(c->rnd))
				return -1;
			c->rndpos = 0;
		}
		n = sizeof(c->rnd) - c->rndpos;
		if (n > len)
			n = len;
		memcpy(buf, c->rnd + c->rndpos, n);
		c->rndpos += n;
		buf += n;
		len -= n;
	}
	return 0;
}

/* Send everything wslay has queued, then the coalescing buffer. */
static int wsc_flush(struct wsc *c, int64_t deadline)
{
	int r;

	c->send_deadline = deadline;
	c->send_err = 0;
	r = wslay_event_send(c->ws);
	if (r != 0) {
		c->olen = 0;
		return c->send_err ? c->send_err : -EIO;
	}
	return wsc_obuf_flush(c, deadline);
}

/* dst = src masked with key, the payload being at offset off of its frame;
 * eight bytes per step (8 is a multiple of the key's 4). */
static void wsc_mask_copy(uint8_t *dst, const uint8_t *src, size_t n, const uint8_t key[4],
			  size_t off)
{
	uint8_t m[8];
	uint64_t m64;
	size_t i = 0;

	for (int k = 0; k < 8; k++)
		m[k] = key[(off + (size_t)k) & 3];
	memcpy(&m64, m, 8);
	for (; i + 8 <= n; i += 8) {
		uint64_t w;

		memcpy(&w, src + i, 8);
		w ^= m64;
		memcpy(dst + i, &w, 8);
	}
	for (; i < n; i++)
		dst[i] = src[i] ^ m[i & 7];
}

/* One whole masked data frame straight into obuf and out: for payloads
 * where wslay's extra copies and byte-wise masking would cap throughput
 * (about 1.2 GB/s). Only called with wslay idle, so frames never interleave. */
static int wsc_send_bulk(struct wsc *c, uint8_t opcode, const void *data, size_t len)
{
	int64_t deadline = wsc_deadline(WSC_SEND_TIMEOUT_MS);
	const uint8_t *src = data;
	uint8_t *h, key[4];
	size_t off = 0;
	int r;

	if (wsc_cb_genmask(c->ws, key, sizeof(key), c) < 0)
		return -EIO;
	if (c->olen + 14 > WSC_OBUF_SIZE && (r = wsc_obuf_flush(c, deadline)) < 0)
		goto fail;
	h = c->obuf + c->olen;
	*h++ = 0x80 | opcode;
	if (len < 126) {
		*h++ = 0x80 | (uint8_t)len;
	} else if (len <= 0xffff) {
		*h++ = 0x80 | 126;
		*h++ = (uint8_t)(len >> 8);
		*h++ = (uint8_t)len;
	} else {
		*h++ = 0x80 | 127;
		for (int i = 7; i >= 0; i--)
			*h++ = (uint8_t)((uint64_t)len >> (8 * i));
	}
	memcpy(h, key, 4);
	h += 4;
	c->olen = (size_t)(h - c->obuf);
	while (off < len) {
		size_t n = WSC_OBUF_SIZE - c->olen;

		if (n == 0) {
			r = wsc_obuf_flush(c, deadline);
			if (r < 0)
				goto fail;
			continue;
		}
		if (n > len - off)
			n = len - off;
		wsc_mask_copy(c->obuf + c->olen, src + off, n, key, off);
		c->olen += n;
		off += n;
	}
	r = wsc_obuf_flush(c, deadline);
	if (r == 0)
		return 0;
fail:
	/* A frame was cut short: nothing more can be sent on this stream. */
	c->tx_err = r;
	wslay_event_shutdown_write(c->ws);
	return r;
}

static int wsc_queue(struct wsc *c, uint8_t opcode, const void *data, size_t len)
{
	struct wslay_event_msg m = { .opcode = opcode, .msg = data, .msg_length = len };
	int r;

	if (c->dead)
		return c->dead;
	if (c->tx_err)
		return c->tx_err;
	if (!wslay_event_get_write_enabled(c->ws) || wslay_event_get_close_sent(c->ws))
		return -EPIPE;
	if (len >= WSC_BULK_MIN && opcode < OP_CLOSE && !wslay_event_want_write(c->ws))
		return wsc_send_bulk(c, opcode, data, len);
	r = wslay_event_queue_msg(c->ws, &m);
	if (r == WSLAY_ERR_NO_MORE_MSG)
		return -EPIPE;
	if (r == WSLAY_ERR_INVALID_ARGUMENT)
		return -EINVAL;
	if (r != 0)
		return -ENOMEM;
	r = wsc_flush(c, wsc_deadline(WSC_SEND_TIMEOUT_MS));
	if (r < 0)
		c->tx_err = r;
	return r;
}

int wsc_send_text(struct wsc *c, const char *data, size_t len)
{
	return wsc_queue(c, OP_TEXT, data, len);
}

int wsc_send_binary(struct wsc *c, const void *data, size_t len)
{
	return wsc_queue(c, OP_BINARY, data, len);
}

int wsc_send_ping(struct wsc *c, const void *data, size_t len)
{
	if (len > 125)
		return -EINVAL;
	return wsc_queue(c, OP_PING, data, len);
}

int wsc_send_raw(struct wsc *c, const void *data, size_t len)
{
	int64_t deadline = wsc_deadline(WSC_SEND_TIMEOUT_MS);
	int r;

	if (c->dead)
		return c->dead;
	r = wsc_flush(c, deadline);
	if (r < 0)
		return r;
	return wsc_write_all(c->fd, c, data, len, deadline);
}

/* ---- the frame reader ---- */

/* Strict UTF-8 (no overlongs, surrogates or code points past U+10FFFF),
 * 32 ASCII bytes per step. */
static bool wsc_utf8_valid(const uint8_t *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		uint32_t cp;
		size_t need, k;
		uint8_t b;

		while (i + 32 <= n) {
			uint64_t w[4];

			memcpy(w, s + i, 32);
			if ((w[0] | w[1] | w[2] | w[3]) & 0x8080808080808080ull)
				break;
			i += 32;
		}
		while (i < n && s[i] < 0x80)
			i++;
		if (i >= n)
			break;
		b = s[i];
		if (b >= 0xc2 && b <= 0xdf) {
			need = 1;
			cp = b & 0x1f;
		} else if (b >= 0xe0 && b <= 0xef) {
			need = 2;
			cp = b & 0x0f;
		} else if (b >= 0xf0 && b <= 0xf4) {
			need = 3;
			cp = b & 0x07;
		} else {
			return false;
		}
		if (n - i - 1 < need)
			return false;
		for (k = 1; k <= need; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if (need == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff)))
			return false;
		if (need == 3 && (cp < 0x10000 || cp > 0x10ffff))
			return false;
		i += need + 1;
	}
	return true;
}

static bool wsc_close_code_valid(unsigned code)
{
	return (code >= 1000 && code <= 1014 && code != 1004 && code != 1005 && code != 1006) ||
	       (code >= 3000 && code <= 4999);
}

/* Fail the connection: best-effort close frame with code, then dead = err. */
static int wsc_fail(struct wsc *c, int err, uint16_t code)
{
	if (!c->dead) {
		if (code && wslay_event_queue_close(c->ws, code, NULL, 0) == 0)
			wsc_flush(c, wsc_deadline(WSC_CLOSE_REPLY_MS));
		c->dead = err;
	}
	return err;
}

/* Make room for plen more payload bytes of the data message (+ NUL). */
static int wsc_msg_reserve(struct wsc *c, uint64_t plen)
{
	size_t need;
	char *nd;

	if (plen > WSC_MAX_MESSAGE || c->mlen + plen > WSC_MAX_MESSAGE)
		return -EMSGSIZE;
	need = c->mlen + (size_t)plen + 1;
	if (need <= c->mcap)
		return 0;
	if (c->mcap && need < c->mcap * 2)
		need = c->mcap * 2;	/* fragments: grow geometrically */
	nd = realloc(c->mdata, need);
	if (!nd)
		return -ENOMEM;
	c->mdata = nd;
	c->mcap = need;
	return 0;
}

static char *wsc_dup(const void *p, size_t n)
{
	char *d = malloc(n + 1);

	if (d) {
		if (n)
			memcpy(d, p, n);
		d[n] = '\0';
	}
	return d;
}

/* A frame header at rbuf[rpos]: checked and consumed, its payload next.
 * 1: in_payload set; 0: need more input; <0: failed. */
static int wsc_parse_header(struct wsc *c)
{
	const uint8_t *p = c->rbuf + c->rpos;
	size_t avail = c->rlen - c->rpos, hlen = 2;
	uint64_t plen;

	if (avail < 2)
		return 0;
	if (p[1] & 0x80)	/* servers must not mask */
		return wsc_fail(c, -EPROTO, 1002);
	plen = p[1] & 0x7f;
	if (plen == 126)
		hlen = 4;
	else if (plen == 127)
		hlen = 10;
	if (avail < hlen)
		return 0;
	if (plen == 126) {
		plen = (uint64_t)p[2] << 8 | p[3];
	} else if (plen == 127) {
		plen = 0;
		for (int i = 2; i < 10; i++)
			plen = plen << 8 | p[i];
		if (plen >> 63)
			return wsc_fail(c, -EPROTO, 1002);
	}
	bool fin = p[0] & 0x80;
	uint8_t op = p[0] & 0x0f;
	if (p[0] & 0x70)	/* no extension was negotiated */
		return wsc_fail(c, -EPROTO, 1002);
	switch (op) {
	case OP_CONT:
		if (!c->mop)
			return wsc_fail(c, -EPROTO, 1002);
		break;
	case OP_TEXT:
	case OP_BINARY:
		if (c->mop)
			return wsc_fail(c, -EPROTO, 1002);
		c->mop = op;
		c->mlen = 0;
		break;
	case OP_CLOSE:
	case OP_PING:
	case OP_PONG:
		if (!fin || plen > 125)
			return wsc_fail(c, -EPROTO, 1002);
		c->clen = 0;
		break;
	default:
		return wsc_fail(c, -EPROTO, 1002);
	}
	if (op < OP_CLOSE) {
		int r = wsc_msg_reserve(c, plen);
		if (r < 0)
			return wsc_fail(c, r, r == -EMSGSIZE ? 1009 : 1011);
	}
	c->rpos += hlen;
	c->fop = op;
	c->ffin = fin;
	c->frem = plen;
	c->in_payload = true;
	return 1;
}

/* A close frame is whole: it is the message, answered (echoing a valid
 * code), and the connection is done. 1, or <0. */
static int wsc_on_close(struct wsc *c, struct wsc_msg *msg)
{
	unsigned code = 0;
	size_t off = 0;

	if (c->clen == 1)
		return wsc_fail(c, -EPROTO, 1002);
	if (c->clen >= 2) {
		code = (unsigned)c->cbuf[0] << 8 | c->cbuf[1];
		off = 2;
	}
	msg->kind = WSC_CLOSED;
	msg->close_code = (int)code;
	msg->data = wsc_dup(c->cbuf + off, c->clen - off);
	msg->len = c->clen - off;
	wsc_fail(c, -ECONNRESET, 0);
	if (wslay_event_queue_close(c->ws, wsc_close_code_valid(code) ? (uint16_t)code : 0,
				    NULL, 0) == 0)
		wsc_flush(c, wsc_deadline(WSC_CLOSE_REPLY_MS));
	return 1;
}

/* A frame's payload is all in. 1: *msg filled; 0: nothing for the caller
 * (a ping answered, a fragment kept); <0: failed. */
static int wsc_frame_done(struct wsc *c, struct wsc_msg *msg)
{
	switch (c->fop) {
	case OP_PING: {
		struct wslay_event_msg m = { OP_PONG, c->cbuf, c->clen };
		/* Answer at once; a failure shows on the next send. */
		if (!c->tx_err && wslay_event_queue_msg(c->ws, &m) == 0) {
			int r = wsc_flush(c, wsc_deadline(WSC_SEND_TIMEOUT_MS));
			if (r < 0)
				c->tx_err = r;
		}
		return 0;
	}
	case OP_PONG:
		msg->kind = WSC_PONG;
		msg->data = wsc_dup(c->cbuf, c->clen);
		msg->len = c->clen;
		msg->close_code = 0;
		return msg->data ? 1 : wsc_fail(c, -ENOMEM, 1011);
	case OP_CLOSE:
		return wsc_on_close(c, msg);
	}
	if (!c->ffin)
		return 0;
	if (c->mop == OP_TEXT && !wsc_utf8_valid((const uint8_t *)c->mdata, c->mlen))
		return wsc_fail(c, -EBADMSG, 1007);
	c->mdata[c->mlen] = '\0';
	msg->kind = c->mop == OP_TEXT ? WSC_TEXT : WSC_BINARY;
	msg->data = c->mdata;
	msg->len = c->mlen;
	msg->close_code = 0;
	c->mdata = NULL;
	c->mlen = c->mcap = 0;
	c->mop = 0;
	return 1;
}

/* Parse buffered bytes. 1: *msg filled; 0: need more input; <0: failed. */
static int wsc_parse(struct wsc *c, struct wsc_msg *msg)
{
	for (;;) {
		int r;

		if (!c->in_payload && (r = wsc_parse_header(c)) <= 0)
			return r;
		size_t avail = c->rlen - c->rpos;
		size_t n = avail < c->frem ? avail : (size_t)c->frem;
		if (n) {
			if (c->fop < OP_CLOSE) {
				memcpy(c->mdata + c->mlen, c->rbuf + c->rpos, n);
				c->mlen += n;
			} else {
				memcpy(c->cbuf + c->clen, c->rbuf + c->rpos, n);
				c->clen += n;
			}
			c->rpos += n;
			c->frem -= n;
		}
		if (c->frem)
			return 0;
		c->in_payload = false;
		if ((r = wsc_frame_done(c, msg)) != 0)
			return r;
	}
}

/* Read more input by the deadline. 1: progress; 0: EOF; <0: -errno. */
static int wsc_fill(struct wsc *c, int64_t deadline)
{
	for (;;) {
		ssize_t n;

		if (c->in_payload && c->fop < OP_CLOSE && c->rpos == c->rlen &&
		    c->frem >= WSC_DIRECT_MIN) {
			/* A large payload: skip rbuf and land the bytes where they belong. */
			n = recv(c->fd, c->mdata + c->mlen, (size_t)c->frem, MSG_DONTWAIT);
			if (n > 0) {
				c->mlen += (size_t)n;
				c->frem -= (uint64_t)n;
				return 1;
			}
		} else {
			if (c->rpos == c->rlen) {
				c->rpos = c->rlen = 0;
			} else if (c->rpos > 0 && c->rcap - c->rlen < WSC_RBUF_SIZE / 4) {
				memmove(c->rbuf, c->rbuf + c->rpos, c->rlen - c->rpos);
				c->rlen -= c->rpos;
				c->rpos = 0;
			}
			if (c->rlen == c->rcap)
				return -ENOBUFS;	/* unreachable: parse leaves < 14 bytes */
			n = recv(c->fd, c->rbuf + c->rlen, c->rcap - c->rlen, MSG_DONTWAIT);
			if (n > 0) {
				c->rlen += (size_t)n;
				return 1;
			}
		}
		if (n == 0)
			return 0;
		if (errno == EINTR)
			continue;
		if (errno == ECONNRESET)
			return 0;
		if (errno != EAGAIN)
			return -errno;
		n = wsc_poll(c->fd, POLLIN, deadline);
		if (n < 0)
			return (int)n;
	}
}

int wsc_recv(struct wsc *c, struct wsc_msg *msg, int timeout_ms)
{
	int64_t deadline = wsc_deadline(timeout_ms);

	memset(msg, 0, sizeof(*msg));
	if (c->dead)
		return c->dead;
	for (;;) {
		int r = wsc_parse(c, msg);

		if (r > 0)
			return 0;
		if (r < 0)
			return r;
		r = wsc_fill(c, deadline);
		if (r == 0) {
			/* EOF (or reset) without a close frame. */
			c->dead = -ECONNRESET;
			msg->kind = WSC_CLOSED;
			msg->data = wsc_dup("", 0);
			msg->len = 0;
			msg->close_code = 0;
			return 0;
		}
		if (r == -ETIMEDOUT)
			return r;
		if (r < 0) {
			c->dead = r;
			return r;
		}
	}
}

/* ---- handshake ---- */

#define WSC_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

static void wsc_accept_for(const char *key, char out[29])
{
	struct sha1_ctx sha;
	uint8_t dig[SHA1_DIGEST_SIZE];

	sha1_init(&sha);
	sha1_update(&sha, strlen(key), (const uint8_t *)key);
	sha1_update(&sha, strlen(WSC_GUID), (const uint8_t *)WSC_GUID);
	sha1_digest(&sha, sizeof(dig), dig);
	base64_encode_raw(out, sizeof(dig), dig);
	out[28] = '\0';
}

/* The status code of "HTTP/1.x SSS ...", or -EPROTO. */
static int wsc_status_of(const char *head, size_t len)
{
	if (len < 12 || strncmp(head, "HTTP/1.", 7) != 0 || head[8] != ' ')
		return -EPROTO;
	for (int i = 9; i < 12; i++)
		if (head[i] < '0' || head[i] > '9')
			return -EPROTO;
	return (head[9] - '0') * 100 + (head[10] - '0') * 10 + (head[11] - '0');
}

/* Value of header name in an HTTP head (first match, trimmed), copied to val. */
static bool wsc_header(const char *head, size_t len, const char *name, char *val, size_t vsize)
{
	size_t nlen = strlen(name);
	const char *p = memchr(head, '\n', len), *end = head + len;

	while (p && p < end) {
		const char *line = p + 1, *eol = memchr(line, '\n', (size_t)(end - line));

		if (!eol)
			eol = end;
		if ((size_t)(eol - line) > nlen && !strncasecmp(line, name, nlen) &&
		    line[nlen] == ':') {
			const char *v = line + nlen + 1, *ve = eol;
			size_t vl;

			while (v < ve && (*v == ' ' || *v == '\t'))
				v++;
			while (ve > v && (ve[-1] == '\r' || ve[-1] == ' ' || ve[-1] == '\t'))
				ve--;
			vl = (size_t)(ve - v);
			if (vl >= vsize)
				vl = vsize - 1;
			memcpy(val, v, vl);
			val[vl] = '\0';
			return true;
		}
		p = eol;
	}
	return false;
}

static bool wsc_has_token(const char *list, const char *tok)
{
	size_t tl = strlen(tok);

	for (const char *p = list; *p;) {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		const char *e = p;
		while (*e && *e != ',')
			e++;
		const char *te = e;
		while (te > p && (te[-1] == ' ' || te[-1] == '\t'))
			te--;
		if ((size_t)(te - p) == tl && !strncasecmp(p, tok, tl))
			return true;
		p = e;
	}
	return false;
}

/* Read an HTTP response head into c->rbuf; *head_len is its length
 * including the blank line. 0 or -errno. */
static int wsc_read_head(struct wsc *c, size_t *head_len, int64_t deadline)
{
	size_t scanned = 0;

	for (;;) {
		if (c->rlen >= 4) {
			size_t from = scanned > 3 ? scanned - 3 : 0;
			uint8_t *e = memmem(c->rbuf + from, c->rlen - from, "\r\n\r\n", 4);

			if (e) {
				*head_len = (size_t)(e - c->rbuf) + 4;
				return 0;
			}
			scanned = c->rlen;
		}
		if (c->rlen >= WSC_MAX_HEAD)
			return -EMSGSIZE;
		int r = wsc_fill(c, deadline);
		if (r == 0)
			return -ECONNRESET;
		if (r < 0)
			return r;
	}
}

static void wsc_free(struct wsc *c)
{
	if (!c)
		return;
	if (c->ws)
		wslay_event_context_free(c->ws);
	if (c->fd >= 0)
		close(c->fd);
	free(c->rbuf);
	free(c->obuf);
	free(c->mdata);
	free(c);
}

/* Send the upgrade request on c->fd and check the 101 that answers it;
 * what follows the head stays in rbuf. 0, an HTTP status, or -errno. */
static int wsc_handshake(struct wsc *c, const struct wsc_addr *a, const char *extra_headers,
			 int64_t deadline)
{
	uint8_t keyraw[16];
	char key[25], want[29], val[256], *req;
	size_t head_len;
	int r, status;

	if (getrandom(keyraw, sizeof(keyraw), 0) != (ssize_t)sizeof(keyraw))
		return -EIO;
	base64_encode_raw(key, sizeof(keyraw), keyraw);
	key[24] = '\0';
	wsc_accept_for(key, want);
	r = asprintf(&req,
		     "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
		     "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n%s\r\n",
		     a->path, a->host, key, extra_headers ? extra_headers : "");
	if (r < 0)
		return -ENOMEM;
	r = wsc_write_all(c->fd, NULL, req, strlen(req), deadline);
	free(req);
	if (r < 0)
		return r;
	r = wsc_read_head(c, &head_len, deadline);
	if (r < 0)
		return r;
	status = wsc_status_of((const char *)c->rbuf, head_len);
	if (status != 101)
		return status;	/* -errno, or the refusal's status */
	if (!wsc_header((const char *)c->rbuf, head_len, "Sec-WebSocket-Accept", val, sizeof(val)) ||
	    strcmp(val, want) != 0 ||
	    !wsc_header((const char *)c->rbuf, head_len, "Upgrade", val, sizeof(val)) ||
	    strcasecmp(val, "websocket") != 0 ||
	    !wsc_header((const char *)c->rbuf, head_len, "Connection", val, sizeof(val)) ||
	    !wsc_has_token(val, "upgrade"))
		return -EPROTO;
	c->rpos = head_len;	/* what follows the head is WebSocket data */
	return 0;
}

int wsc_connect(struct wsc **out, const char *url, const char *extra_headers, int timeout_ms)
{
	static const struct wslay_event_callbacks cbs = {
		.recv_callback = wsc_cb_recv,
		.send_callback = wsc_cb_send,
		.genmask_callback = wsc_cb_genmask,
	};
	int64_t deadline = wsc_deadline(timeout_ms);
	struct wsc_addr a;
	struct wsc *c;
	int r;

	*out = NULL;
	r = wsc_parse_url(url, &a);
	if (r < 0)
		return r;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->fd = -1;
	c->rndpos = sizeof(c->rnd);
	c->rcap = WSC_RBUF_SIZE;
	c->rbuf = malloc(c->rcap);
	c->obuf = malloc(WSC_OBUF_SIZE);
	if (!c->rbuf || !c->obuf) {
		r = -ENOMEM;
		goto fail;
	}
	r = wsc_dial(&a, deadline);
	if (r < 0)
		goto fail;
	c->fd = r;
	r = wsc_handshake(c, &a, extra_headers, deadline);
	if (r != 0)
		goto fail;
	if (wslay_event_context_client_init(&c->ws, &cbs, c) != 0) {
		c->ws = NULL;
		r = -ENOMEM;
		goto fail;
	}
	*out = c;
	return 0;
fail:
	wsc_free(c);
	return r;
}

/* ---- plain HTTP ---- */

/* An HTTP response being read: its bytes, where its head ends, and how
 * long the whole is (SIZE_MAX: until EOF). */
struct wsc_http_resp {
	char *buf;
	size_t cap, len, head_len, want, scanned;
	int status;
};

/* Once the head is in: its status and how many bytes the response has. */
static void wsc_http_scan(struct wsc_http_resp *h)
{
	char val[64];

	if (h->head_len || h->len < 4)
		return;
	size_t from = h->scanned > 3 ? h->scanned - 3 : 0;
	char *e = memmem(h->buf + from, h->len - from, "\r\n\r\n", 4);
	h->scanned = h->len;
	if (!e)
		return;
	h->head_len = (size_t)(e - h->buf) + 4;
	h->status = wsc_status_of(h->buf, h->head_len);
	if (h->status == 204 || h->status == 304 || (h->status >= 100 && h->status < 200))
		h->want = h->head_len;
	else if (wsc_header(h->buf, h->head_len, "Content-Length", val, sizeof(val)))
		h->want = h->head_len + strtoull(val, NULL, 10);
}

/* Read the response on fd until it is whole (or EOF) by the deadline.
 * 0 or -errno. */
static int wsc_http_read(int fd, struct wsc_http_resp *h, int64_t deadline)
{
	for (;;) {
		wsc_http_scan(h);
		if (h->head_len && h->len >= h->want)
			return 0;
		if (h->len == h->cap) {
			char *nb = realloc(h->buf, h->cap * 2 + 1);
			if (!nb)
				return -ENOMEM;
			h->buf = nb;
			h->cap *= 2;
		}
		ssize_t n = recv(fd, h->buf + h->len, h->cap - h->len, MSG_DONTWAIT);
		if (n > 0) {
			h->len += (size_t)n;
			continue;
		}
		if (n == 0 || (errno == ECONNRESET && h->len > 0))
			return 0;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			return -errno;
		int r = wsc_poll(fd, POLLIN, deadline);
		if (r < 0)
			return r;
	}
}

int wsc_http_raw(const char *url, const char *request, char **body, int timeout_ms)
{
	int64_t deadline = wsc_deadline(timeout_ms);
	struct wsc_http_resp h = { .cap = 16384, .want = SIZE_MAX, .status = -EPROTO };
	struct wsc_addr a;
	int fd, r;

	if (body)
		*body = NULL;
	r = wsc_parse_url(url, &a);
	if (r < 0)
		return r;
	fd = wsc_dial(&a, deadline);
	if (fd < 0)
		return fd;
	r = wsc_write_all(fd, NULL, request, strlen(request), deadline);
	if (r < 0 && r != -EPIPE && r != -ECONNRESET)
		goto out;
	h.buf = malloc(h.cap + 1);
	r = h.buf ? wsc_http_read(fd, &h, deadline) : -ENOMEM;
	if (r < 0)
		goto out;
	if (!h.head_len) {
		r = h.len ? -EPROTO : -ECONNRESET;
		goto out;
	}
	r = h.status;
	if (r >= 0 && body) {
		size_t blen = h.len - h.head_len;
		if (h.want != SIZE_MAX && h.want - h.head_len < blen)
			blen = h.want - h.head_len;
		*body = wsc_dup(h.buf + h.head_len, blen);
		if (!*body)
			r = -ENOMEM;
	}
out:
	free(h.buf);
	close(fd);
	return r;
}

/* ---- closing ---- */

void wsc_close(struct wsc *c, int code, int timeout_ms)
{
	int64_t deadline;

	if (!c)
		return;
	deadline = wsc_deadline(timeout_ms);
	if (!c->dead && wslay_event_queue_close(c->ws, (uint16_t)code, NULL, 0) == 0 &&
	    wsc_flush(c, deadline) == 0) {
		for (;;) {
			struct wsc_msg m;
			int r = wsc_recv(c, &m, wsc_left_ms(deadline));

			if (r < 0)
				break;
			free(m.data);
			if (m.kind == WSC_CLOSED)
				break;
		}
	}
	wsc_free(c);
}

void wsc_abort(struct wsc *c)
{
	wsc_free(c);
}

int wsc_fd(const struct wsc *c)
{
	return c->fd;
}
