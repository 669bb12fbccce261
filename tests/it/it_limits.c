/* it_limits: two limits that hold before any message is read.
 *
 * --head-timeout-ms: 50 connections that trickle a request head one byte
 * at a time, never finishing it, all get 408 and EOF no sooner than the
 * timeout, and the server's fd count (/proc/PID/fd) falls back to where it
 * was; a connection whose head was whole in time is not touched by it.
 * --max-message at the frame header: a header alone announcing a huge
 * message (64-bit length), or one just over the limit (16-bit length), or
 * a continuation that takes a fragmented message over it, is answered with
 * close 1009 while none of that payload has been sent; a message of
 * exactly the limit still gets through.
 */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "expect.h"
#include "procfs.h"
#include "rpc.h"
#include "server.h"
#include "tap.h"
#include "wsc.h"

#define T_MS 5000
#define TRICKLERS 50
#define HEAD_TIMEOUT_MS 1000
#define MAX_MESSAGE 1000

static int connect_port(int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* pid's fd count reaches want (or, with at_least, goes no lower) within ms. */
static bool fds_within(pid_t pid, int want, bool at_least, int ms)
{
	int64_t deadline = wsc_now_ms() + ms;
	int n;

	while ((n = count_fds(pid)) >= 0 && (at_least ? n < want : n != want)) {
		if (wsc_now_ms() >= deadline) {
			tap_diag("server fds: %d, want %s%d", n, at_least ? ">= " : "", want);
			return false;
		}
		poll(NULL, 0, 10);
	}
	return n >= 0;
}

struct trickler {
	int fd;
	int64_t opened_ms, closed_ms;	/* closed_ms 0: still open */
	char got[64];			/* the start of what the server sent */
	size_t got_len;
	size_t sent;			/* bytes of the head sent so far */
};

/* Read what is there; note EOF (or a reset) as the close. */
static void trickle_read(struct trickler *t)
{
	char buf[512];
	ssize_t n = recv(t->fd, buf, sizeof(buf), MSG_DONTWAIT);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n > 0) {
		size_t k = (size_t)n < sizeof(t->got) - 1 - t->got_len ? (size_t)n
								 : sizeof(t->got) - 1 - t->got_len;
		memcpy(t->got + t->got_len, buf, k);
		t->got_len += k;
		t->got[t->got_len] = '\0';
		return;
	}
	t->closed_ms = wsc_now_ms();
	close(t->fd);
	t->fd = -1;
}

/* 50 connections send a head one byte per round, a round every 20 ms,
 * without ever ending it. Each must get 408 and EOF, not before the
 * timeout; the server's fds must then be what they were. */
static void trickling_heads_closed(void)
{
	static const char head[] = "GET / HTTP/1.1\r\nHost: x\r\nX-Trickle: "
				   "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
	char timeout[16];
	struct trickler t[TRICKLERS];
	struct server s;
	int open_n = 0;

	snprintf(timeout, sizeof(timeout), "%d", HEAD_TIMEOUT_MS);
	REQUIRE(server_start(&s, (const char *[]){ "--head-timeout-ms", timeout, "--log-level",
						   "warn", NULL }) == 0);
	int base = count_fds(s.pid);
	REQUIRE(base > 0);
	for (int i = 0; i < TRICKLERS; i++) {
		t[i] = (struct trickler){ .fd = connect_port(s.port), .opened_ms = wsc_now_ms() };
		REQUIRE(t[i].fd >= 0);
		open_n++;
	}
	CHECK(fds_within(s.pid, base + TRICKLERS, true, T_MS));	/* all held */
	int64_t deadline = wsc_now_ms() + HEAD_TIMEOUT_MS + 3 * T_MS;
	while (open_n && wsc_now_ms() < deadline) {
		for (int i = 0; i < TRICKLERS; i++) {
			if (t[i].fd < 0)
				continue;
			if (t[i].sent < sizeof(head) - 1 &&
			    send(t[i].fd, head + t[i].sent, 1, MSG_NOSIGNAL) == 1)
				t[i].sent++;
			trickle_read(&t[i]);
			if (t[i].fd < 0)
				open_n--;
		}
		poll(NULL, 0, 20);
	}
	int early = 0, no_408 = 0;
	for (int i = 0; i < TRICKLERS; i++) {
		if (t[i].fd >= 0) {
			close(t[i].fd);
			continue;
		}
		if (t[i].closed_ms - t[i].opened_ms < HEAD_TIMEOUT_MS)
			early++;
		if (strncmp(t[i].got, "HTTP/1.1 408 ", 13))
			no_408++;
	}
	CHECKF(open_n == 0, "%d of %d connections still open", open_n, TRICKLERS);
	CHECKF(early == 0, "%d closed before %d ms", early, HEAD_TIMEOUT_MS);
	CHECKF(no_408 == 0, "%d closed without a 408 (e.g. \"%s\")", no_408, t[0].got);
	CHECK(fds_within(s.pid, base, false, T_MS));
	if (count_fds(s.pid) != base)
		dump_fds(s.pid);
	server_stop(&s);
}

/* A whole head in time: the deadline is gone with it. */
static void whole_head_not_timed_out(void)
{
	struct server s;
	struct wsc_msg m;
	const char *argv[] = { "echo", "later", NULL };
	char *out = NULL;
	size_t len;
	int code = -1;

	REQUIRE(server_start(&s, (const char *[]){ "--head-timeout-ms", "200", NULL }) == 0);
	struct rpc *r = rpc_open(s.url);
	REQUIRE(r);
	/* Three timeouts' worth of quiet: nothing may arrive, no close. */
	int st = wsc_recv(rpc_wsc(r), &m, 600);
	CHECKF(st == -ETIMEDOUT, "recv: %d (kind %d, code %d)", st, st == 0 ? m.kind : 0,
	       st == 0 ? m.close_code : 0);
	if (st == 0)
		free(m.data);
	json_t *resp = rpc_start(r, "p", argv, 0, 0);
	CHECKF(resp && json_object_get(resp, "result"), "start: %s", js(resp));
	json_decref(resp);
	CHECK(rpc_collect(r, "p", &out, &len, &code, T_MS) == 0 && out && !strcmp(out, "later\n"));
	free(out);
	rpc_close(r, 1000, T_MS);
	server_stop(&s);
}

/* ---- frame headers over --max-message ---- */

/* A masked client frame header: FIN, opcode, the length in its smallest
 * (or, with wide, the 64-bit) form; returns its size. */
static size_t frame_header(uint8_t *h, bool fin, uint8_t opcode, uint64_t len, bool wide)
{
	size_t n = 2;

	h[0] = (uint8_t)((fin ? 0x80 : 0) | opcode);
	if (len < 126 && !wide) {
		h[1] = (uint8_t)(0x80 | len);
	} else if (len <= 0xffff && !wide) {
		h[1] = 0x80 | 126;
		h[2] = (uint8_t)(len >> 8);
		h[3] = (uint8_t)len;
		n = 4;
	} else {
		h[1] = 0x80 | 127;
		for (int i = 0; i < 8; i++)
			h[2 + i] = (uint8_t)(len >> (56 - 8 * i));
		n = 10;
	}
	memset(h + n, 0, 4);	/* mask key 0: the payload goes as it is */
	return n + 4;
}

/* Upgrade to a server with --max-message 1000. */
static struct wsc *small_server(struct server *s)
{
	char max[16];
	struct wsc *c = NULL;

	snprintf(max, sizeof(max), "%d", MAX_MESSAGE);
	if (server_start(s, (const char *[]){ "--max-message", max, NULL }) != 0)
		return NULL;
	if (wsc_connect(&c, s->url, NULL, T_MS) != 0) {
		server_stop(s);
		return NULL;
	}
	return c;
}

/* The next thing from the server is close 1009. */
static void check_1009(struct wsc *c, const char *what)
{
	struct wsc_msg m = { 0 };
	int st = wsc_recv(c, &m, T_MS);

	CHECKF(st == 0 && m.kind == WSC_CLOSED && m.close_code == 1009,
	       "%s: recv %d, kind %d, close code %d", what, st, m.kind, m.close_code);
	free(m.data);
}

/* A header alone, its payload never sent: 1009 arrives anyway. */
static void huge_header_1009(void)
{
	static const struct {
		uint64_t len;
		bool wide;
		const char *what;
	} hdrs[] = {
		{ 1ull << 40, true, "a 1 TiB text frame" },
		{ MAX_MESSAGE + 1, false, "one byte over, 16-bit length" },
	};

	for (size_t i = 0; i < sizeof(hdrs) / sizeof(hdrs[0]); i++) {
		struct server s;
		uint8_t h[14];
		struct wsc *c = small_server(&s);

		REQUIRE(c);
		size_t n = frame_header(h, true, 0x1, hdrs[i].len, hdrs[i].wide);
		REQUIRE(wsc_send_raw(c, h, n) == 0);
		check_1009(c, hdrs[i].what);
		wsc_abort(c);
		server_stop(&s);
	}
}

/* 600 bytes in a first fragment, then a continuation header announcing
 * 500 more: 1009 at that header. */
static void fragment_over_1009(void)
{
	struct server s;
	uint8_t buf[700];
	struct wsc *c = small_server(&s);

	REQUIRE(c);
	size_t n = frame_header(buf, false, 0x1, 600, false);
	memset(buf + n, ' ', 600);
	REQUIRE(wsc_send_raw(c, buf, n + 600) == 0);
	n = frame_header(buf, true, 0x0, 500, false);
	REQUIRE(wsc_send_raw(c, buf, n) == 0);
	check_1009(c, "the continuation");
	wsc_abort(c);
	server_stop(&s);
}

/* Exactly the limit: the whole message is read (and answered: it is no
 * JSON, and the parser got to its 1000th byte). */
static void exact_limit_passes(void)
{
	struct server s;
	uint8_t buf[MAX_MESSAGE + 14];
	struct wsc_msg m = { 0 };
	struct wsc *c = small_server(&s);

	REQUIRE(c);
	size_t n = frame_header(buf, true, 0x1, MAX_MESSAGE, false);
	memset(buf + n, 'x', MAX_MESSAGE);
	REQUIRE(wsc_send_raw(c, buf, n + MAX_MESSAGE) == 0);
	int st = wsc_recv(c, &m, T_MS);
	CHECKF(st == 0 && m.kind == WSC_TEXT && m.data && strstr(m.data, "column 1000"),
	       "recv %d, kind %d: %s", st, m.kind, m.data ? m.data : "");
	free(m.data);
	wsc_abort(c);
	server_stop(&s);
}

static const struct tap_case cases[] = {
	{ "50 trickling heads: 408 and EOF after --head-timeout-ms, fds released",
	  trickling_heads_closed },
	{ "a head whole in time is not timed out", whole_head_not_timed_out },
	{ "a header announcing too much: 1009 before any payload", huge_header_1009 },
	{ "a continuation taking a message over: 1009 at its header", fragment_over_1009 },
	{ "a message of exactly --max-message passes", exact_limit_passes },
	{ NULL, NULL },
};

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	return tap_main(argc, argv, cases);
}
