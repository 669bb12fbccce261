/* fuzz_ws: the real ws.c on a socketpair: a valid upgrade, then the input as raw client frames.
 * Checks: open() once, closed() once, message() in between with valid UTF-8 text <= max_message;
 * the server sends 101 then only well-formed frames (FIN, no RSV, unmasked, minimal length, text/
 * close/pong, control <= 125), its texts are our echoes in order and all precede the close, whose
 * code is 1000/1001/1002/1007/1009/1011 or the client's own; nothing follows it; no fd or memory
 * outlives the input. Odd sizes arrive in pieces; binary 0xf0/f1/f2 closes/closes later/pauses. */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "loop.h"
#include "ws.h"

#define FZ_MAX_MESSAGE (64u << 10)
#define FZ_HIGH_WATER (4u << 10)
#define FZ_DEADLINE_NS (10ull * 1000000000u)	/* > ws.c's flush (5 s) + linger (2 s) timers */

static const char fz_head[] =
	"GET / HTTP/1.1\r\n"
	"Host: localhost\r\n"
	"Upgrade: websocket\r\n"
	"Connection: Upgrade\r\n"
	"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
	"Sec-WebSocket-Version: 13\r\n"
	"\r\n";

#define fz_check(cond) \
	do { \
		if (!(cond)) { \
			fprintf(stderr, "fuzz_ws: %s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
			abort(); \
		} \
	} while (0)

/* One input's run. Touched only by the loop thread while a job is active. */
struct fz_job {
	uint8_t *in;			/* upgrade head + the input */
	size_t in_len, written, piece;	/* piece: bytes per turn (SIZE_MAX: all at once) */
	int cfd;			/* client end */
	bool shut, eof;
	uint64_t start_ns;
	struct buf out;			/* everything the server sent */
	struct buf echoes;		/* echoed texts, each as a size_t length then the bytes */
	size_t n_echoes;
	unsigned opens, closes;
	struct fz_conn *conn;
	bool client_codes[5000];	/* close codes present in client close frames */
};

struct fz_conn {
	struct fz_job *job;
	struct ws_conn *ws;
	bool closed;
	bool close_later;	/* ws_close() from the next turn, outside wslay */
	bool paused;		/* ws_pause_recv() until the next turn */
	uint64_t sent_total;
};

static struct loop *fz_loop;
static struct loop_defer fz_tick_defer;
static struct fz_job *fz_cur;
static int fz_fd_max = -1;		/* highest fd of the first socketpair */

/* Handoff between libFuzzer's thread and the loop thread (only one runs at a time). */
static pthread_mutex_t fz_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t fz_cv = PTHREAD_COND_INITIALIZER;
static const uint8_t *fz_req_data;
static size_t fz_req_size;
static bool fz_req_ready, fz_req_done;

/* ---- UTF-8 (an independent check of what ws.c validated) ---- */

static bool fz_utf8(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n;) {
		uint32_t c = p[i], min;
		size_t k;
		if (c < 0x80) {
			i++;
			continue;
		} else if ((c & 0xe0) == 0xc0) {
			k = 1, c &= 0x1f, min = 0x80;
		} else if ((c & 0xf0) == 0xe0) {
			k = 2, c &= 0x0f, min = 0x800;
		} else if ((c & 0xf8) == 0xf0) {
			k = 3, c &= 0x07, min = 0x10000;
		} else {
			return false;
		}
		if (n - i <= k)
			return false;
		for (size_t j = 1; j <= k; j++) {
			if ((p[i + j] & 0xc0) != 0x80)
				return false;
			c = (c << 6) | (p[i + j] & 0x3f);
		}
		if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
			return false;
		i += k + 1;
	}
	return true;
}

/* ---- the handler ---- */

static void *fz_open(void *ctx, struct ws_conn *ws, const char *peer)
{
	struct fz_job *j = ctx;
	(void)peer;
	fz_check(j == fz_cur && j->opens == 0);
	j->opens++;
	struct fz_conn *c = calloc(1, sizeof(*c));
	fz_check(c);
	c->job = j;
	c->ws = ws;
	j->conn = c;
	return c;
}

static void fz_message(void *user, const char *data, size_t len, bool binary)
{
	struct fz_conn *c = user;
	struct fz_job *j = c->job;
	fz_check(j == fz_cur && !c->closed);
	fz_check(len <= FZ_MAX_MESSAGE);
	fz_check(data != NULL);
	if (binary) {
		/* A binary message's first byte may ask for an action. */
		if (len && (uint8_t)data[0] == 0xf0)
			ws_close(c->ws, 1011);
		else if (len && (uint8_t)data[0] == 0xf1)
			c->close_later = true;
		else if (len && (uint8_t)data[0] == 0xf2 && !c->paused)
			ws_pause_recv(c->ws, c->paused = true);
		return;
	}
	fz_check(fz_utf8((const uint8_t *)data, len));
	if (ws_send_text(c->ws, data, len) == 0) {
		fz_check(buf_append(&j->echoes, &len, sizeof(len)) == 0);
		fz_check(buf_append(&j->echoes, data, len) == 0);
		j->n_echoes++;
	}
}

static void fz_drained(void *user)
{
	struct fz_conn *c = user;
	fz_check(c->job == fz_cur && !c->closed);
}

static void fz_sent(void *user)
{
	struct fz_conn *c = user;
	fz_check(c->job == fz_cur && !c->closed);
	uint64_t total = ws_sent_total(c->ws);
	fz_check(total > c->sent_total && ws_queued_end(c->ws) >= total);
	c->sent_total = total;
}

static void fz_closed(void *user)
{
	struct fz_conn *c = user;
	fz_check(c->job == fz_cur && !c->closed);
	c->closed = true;
	c->job->closes++;
}

static const struct ws_handler fz_handler = {
	.open = fz_open,
	.message = fz_message,
	.drained = fz_drained,
	.sent = fz_sent,
	.closed = fz_closed,
};

static const struct ws_config fz_config = {
	.max_message = FZ_MAX_MESSAGE,
	.high_water = FZ_HIGH_WATER,
};

/* ---- checks on the bytes ---- */

static uint64_t fz_be(const uint8_t *p, size_t n)
{
	uint64_t v = 0;
	for (size_t i = 0; i < n; i++)
		v = (v << 8) | p[i];
	return v;
}

/* Walk the client's frames leniently and note each close code it sent. */
static void fz_scan_client(struct fz_job *j, const uint8_t *p, size_t n)
{
	size_t off = 0;
	while (n - off >= 2) {
		uint8_t op = p[off] & 0x0f, l7 = p[off + 1] & 0x7f;
		bool masked = p[off + 1] & 0x80;
		size_t hl = 2 + (l7 == 126 ? 2 : l7 == 127 ? 8 : 0);
		if (n - off < hl + (masked ? 4 : 0))
			return;
		uint64_t plen = l7 == 126 ? fz_be(p + off + 2, 2) : l7 == 127 ? fz_be(p + off + 2, 8) : l7;
		const uint8_t *key = masked ? p + off + hl : NULL;
		hl += masked ? 4 : 0;
		if (plen > n - off - hl)
			return;
		if (op == 0x8 && plen >= 2) {
			uint8_t b0 = p[off + hl], b1 = p[off + hl + 1];
			if (key)
				b0 ^= key[0], b1 ^= key[1];
			uint16_t code = (uint16_t)(b0 << 8 | b1);
			if (code < sizeof(j->client_codes))
				j->client_codes[code] = true;
		}
		off += hl + (size_t)plen;
	}
}

static bool fz_code_ok(const struct fz_job *j, uint16_t code)
{
	switch (code) {
	case 1000: case 1001: case 1002: case 1007: case 1009: case 1011:
		return true;
	default:
		break;
	}
	/* An echo of the client's own code, if that one was valid to send. */
	bool valid = (code >= 1000 && code <= 1011 && code != 1004 && code != 1005 && code != 1006) ||
		     (code >= 3000 && code <= 4999);
	return valid && j->client_codes[code];
}

static void fz_check_output(struct fz_job *j)
{
	static const char status[] = "HTTP/1.1 101 ";
	const uint8_t *p = (const uint8_t *)j->out.data;
	size_t n = j->out.len;
	if (!n)
		return;		/* the peer's EOF may beat even the 101 out the door */
	fz_check(!memcmp(p, status, n < sizeof(status) - 1 ? n : sizeof(status) - 1));
	const uint8_t *end = memmem(p, n, "\r\n\r\n", 4);
	if (!end)
		return;
	size_t off = (size_t)(end - p) + 4, echo_off = 0, echo_idx = 0;
	bool saw_close = false;
	while (off < n) {
		fz_check(!saw_close);	/* nothing after a close frame */
		if (n - off < 2)
			break;
		uint8_t b0 = p[off], b1 = p[off + 1], op = b0 & 0x0f, l7 = b1 & 0x7f;
		fz_check(b0 & 0x80);		/* FIN: we never fragment */
		fz_check(!(b0 & 0x70));		/* no RSV bits */
		fz_check(!(b1 & 0x80));		/* server frames are unmasked */
		fz_check(op == 0x1 || op == 0x8 || op == 0xa);	/* no pings: ping_interval is 0 */
		size_t hl = 2 + (l7 == 126 ? 2 : l7 == 127 ? 8 : 0);
		if (n - off < hl)
			break;
		uint64_t plen = l7;
		if (l7 == 126) {
			plen = fz_be(p + off + 2, 2);
			fz_check(plen >= 126);
		} else if (l7 == 127) {
			plen = fz_be(p + off + 2, 8);
			fz_check(plen > 0xffff && !(plen >> 63));
		}
		if (op & 0x8)
			fz_check(plen <= 125);
		if (plen > n - off - hl)
			break;		/* cut short: the connection died mid-send */
		const uint8_t *pl = p + off + hl;
		if (op == 0x1) {
			fz_check(fz_utf8(pl, (size_t)plen));
			fz_check(echo_idx < j->n_echoes);
			size_t elen;
			memcpy(&elen, j->echoes.data + echo_off, sizeof(elen));
			fz_check(elen == plen && !memcmp(j->echoes.data + echo_off + sizeof(elen), pl, elen));
			echo_off += sizeof(elen) + elen;
			echo_idx++;
		} else if (op == 0x8) {
			fz_check(plen != 1);
			if (plen >= 2) {
				uint16_t code = (uint16_t)fz_be(pl, 2);
				if (!fz_code_ok(j, code)) {
					fprintf(stderr, "fuzz_ws: server close code %u\n", code);
					abort();
				}
				fz_check(fz_utf8(pl + 2, (size_t)plen - 2));
			}
			saw_close = true;
		}
		off += hl + (size_t)plen;
	}
	if (saw_close)
		fz_check(echo_idx == j->n_echoes);	/* the close went out after every echo */
	else
		fz_check(echo_idx <= j->n_echoes);
}

/* ---- one job, stepped once per loop turn ---- */

/* Not loop_now_ns(): that is stale after the loop thread waited for an input. */
static uint64_t fz_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void fz_job_start(struct fz_job *j, const uint8_t *data, size_t size)
{
	int sv[2];
	memset(j, 0, sizeof(*j));
	j->in_len = sizeof(fz_head) - 1 + size;
	j->in = malloc(j->in_len);
	fz_check(j->in);
	memcpy(j->in, fz_head, sizeof(fz_head) - 1);
	if (size)
		memcpy(j->in + sizeof(fz_head) - 1, data, size);
	j->piece = size % 2 ? 1 + size % 97 : SIZE_MAX;
	fz_scan_client(j, data, size);
	fz_check(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) == 0);
	/* Both ends come back on the same two numbers every time, or an fd leaked. */
	int hi = sv[0] > sv[1] ? sv[0] : sv[1];
	if (fz_fd_max < 0)
		fz_fd_max = hi;
	fz_check(hi <= fz_fd_max);
	j->cfd = sv[0];
	j->start_ns = fz_now_ns();
	fz_cur = j;
	fz_check(ws_count() == 0);
	fz_check(ws_accept(fz_loop, sv[1], "fuzz:1", &fz_config, &fz_handler, j) == 0);
}

/* Write, read, and report whether the connection is gone and fully read. */
static bool fz_job_step(struct fz_job *j)
{
	struct fz_conn *c = j->conn;
	if (c && !c->closed && c->paused)
		ws_pause_recv(c->ws, c->paused = false);
	if (c && !c->closed && c->close_later) {
		c->close_later = false;
		ws_close(c->ws, 1001);
	}
	if (!j->shut) {
		/* The head, then up to one piece of the input per turn. */
		size_t from = j->written > sizeof(fz_head) - 1 ? j->written : sizeof(fz_head) - 1;
		size_t want = j->in_len - j->written;
		if (j->in_len - from > j->piece)
			want = from + j->piece - j->written;
		ssize_t r = send(j->cfd, j->in + j->written, want, MSG_NOSIGNAL);
		if (r > 0)
			j->written += (size_t)r;
		else if (r < 0 && errno != EAGAIN && errno != EINTR)
			j->written = j->in_len;		/* EPIPE, ECONNRESET: the server is done */
		if (j->written == j->in_len) {
			shutdown(j->cfd, SHUT_WR);
			j->shut = true;
		}
	}
	while (!j->eof) {
		fz_check(buf_reserve(&j->out, 16384) == 0);
		ssize_t r = recv(j->cfd, buf_tail(&j->out), 16384, 0);
		if (r > 0)
			j->out.len += (size_t)r;
		else if (r == 0 || (errno != EAGAIN && errno != EINTR))
			j->eof = true;
		else
			break;
	}
	if (fz_now_ns() - j->start_ns > FZ_DEADLINE_NS) {
		fprintf(stderr, "fuzz_ws: connection still live after 10 s (count %zu, eof %d)\n",
			ws_count(), j->eof);
		abort();
	}
	return j->eof && ws_count() == 0;
}

static void fz_job_finish(struct fz_job *j)
{
	fz_check(j->opens == 1 && j->closes == 1 && j->conn && j->conn->closed);
	fz_check_output(j);
	close(j->cfd);
	free(j->conn);
	free(j->in);
	buf_free(&j->out);
	buf_free(&j->echoes);
	fz_cur = NULL;
}

/* Runs at the top of every loop turn: waits for an input when idle, else steps the job. */
static void fz_tick(struct loop_defer *d)
{
	static struct fz_job job;
	if (!fz_cur) {
		pthread_mutex_lock(&fz_mu);
		while (!fz_req_ready)
			pthread_cond_wait(&fz_cv, &fz_mu);
		fz_req_ready = false;
		pthread_mutex_unlock(&fz_mu);
		fz_job_start(&job, fz_req_data, fz_req_size);
	} else if (fz_job_step(&job)) {
		fz_job_finish(&job);
		pthread_mutex_lock(&fz_mu);
		fz_req_done = true;
		pthread_cond_broadcast(&fz_cv);
		pthread_mutex_unlock(&fz_mu);
	}
	loop_defer(fz_loop, d);
}

/* loop_run() returns only after loop_stop() and cannot be resumed, so it runs for good on its
 * own thread (which also creates the ring: SINGLE_ISSUER) and fz_tick hands inputs over. */
static void *fz_loop_main(void *arg)
{
	(void)arg;
	int ret = loop_new(&fz_loop, 256);
	if (ret < 0) {
		fprintf(stderr, "fuzz_ws: loop_new: %s (io_uring unavailable?)\n", strerror(-ret));
		exit(1);
	}
	fz_tick_defer.fn = fz_tick;
	loop_defer(fz_loop, &fz_tick_defer);
	ret = loop_run(fz_loop);
	fprintf(stderr, "fuzz_ws: loop_run returned %d\n", ret);
	abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool started;
	if (!started) {
		pthread_t thr;
		fz_check(pthread_create(&thr, NULL, fz_loop_main, NULL) == 0);
		started = true;
	}
	pthread_mutex_lock(&fz_mu);
	fz_req_data = data;
	fz_req_size = size;
	fz_req_ready = true;
	fz_req_done = false;
	pthread_cond_broadcast(&fz_cv);
	while (!fz_req_done)
		pthread_cond_wait(&fz_cv, &fz_mu);
	pthread_mutex_unlock(&fz_mu);
	return 0;
}
