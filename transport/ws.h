/* ws: one client connection, from the HTTP request head to the close frame.
 *
 * Owns the socket, its recv and send ops on the loop, the HTTP upgrade
 * (GET / with a valid upgrade -> 101; 401 without the bearer token when
 * one is configured; without one, 403 unless the peer's socket belongs to
 * root, to the server's own user or to an allowed uid; GET /readyz and
 * /livez -> 200 "ok" for anyone; GET /metrics -> the body cfg.metrics
 * writes, admitted as the upgrade is; any Origin not allowed -> 403; other
 * paths -> 404; bad or > max_head -> 400; no whole head within
 * head_timeout_ms -> 408; beyond max_connections -> 503 at once; all of
 * it counted, for every connection together, in ws_stats), the
 * wslay context for incoming frames and control frames (a frame header
 * announcing a message over max_message -> close 1009 before its payload
 * is read), keep-alive pings, and the send queue of outgoing text and
 * binary messages. Knows nothing of JSON or processes:
 * whole messages go up through struct ws_handler, messages go down through
 * ws_send_text() or ws_msg_begin()/ws_bin_begin() and ws_msg_end().
 */
#ifndef RINGEXEC_WS_H
#define RINGEXEC_WS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct buf;

struct loop;
struct ws_conn;

struct ws_handler {
	/* The upgrade succeeded. Return the connection's user pointer, or NULL
	 * to refuse (the connection is then closed with 1011). */
	void *(*open)(void *ctx, struct ws_conn *ws, const char *peer);
	/* One whole message (text or binary), payload only. data is valid only
	 * during the call. */
	void (*message)(void *user, const char *data, size_t len, bool binary);
	/* The send queue fell below the low-water mark after being above the
	 * high-water mark. */
	void (*drained)(void *user);
	/* Queued bytes were written to the socket (ws_sent_total() grew). */
	void (*sent)(void *user);
	/* The connection is gone (close frame, EOF, error, or ws_close done).
	 * Called once, only for opened connections; ws must not be used after. */
	void (*closed)(void *user);
};

struct ws_config {
	size_t max_message;	/* bytes; larger -> close 1009 (default 64 MiB) */
	size_t max_head;	/* HTTP head limit (16 KiB) */
	size_t high_water;	/* send queue bytes above which drained() is owed (4 MiB) */
	const char *const *allow_origins;	/* NULL-terminated, or NULL: none allowed */
	unsigned ping_interval_ms;	/* ping every this often; no pong to two in a row
					 * -> close 1001; 0: no pings */
	const char *auth_token;		/* the upgrade needs "Authorization: Bearer <it>";
					 * NULL or "": no auth; at most WS_AUTH_TOKEN_MAX bytes */
	size_t max_connections;		/* more live ones -> 503 at accept (default 256) */
	/* Without a token: is this peer a process the server runs in a
	 * sandbox (its unix pid, or its TCP socket's inode)? Such a peer is
	 * refused whoever it runs as: a sandboxed command must not drive the
	 * server. NULL: no such check. */
	bool (*sandboxed_peer)(void *ctx, pid_t pid, uint64_t inode);
	void *sandboxed_ctx;
	unsigned head_timeout_ms;	/* no whole request head this long after accept
					 * -> 408 and close; 0: no limit */
	const uint32_t *allow_uids;	/* without auth_token: users besides root and our
					 * own euid whose peers may upgrade */
	size_t n_allow_uids;
	/* GET /metrics: append the body (the Prometheus text format) to out;
	 * 0, or -errno for a 500. Admitted as the upgrade is (the token, else
	 * the peer's user). NULL: /metrics is 404. */
	int (*metrics)(void *ctx, struct buf *out);
	void *metrics_ctx;
};

/* Longest accepted auth token (it must fit http's Authorization buffer). */
#define WS_AUTH_TOKEN_MAX 480

/* Take over an accepted socket (O_CLOEXEC, blocking or not) and serve it.
 * peer is "IP:PORT" (copied). 0 or -errno (the fd is closed either way
 * on failure). */
int ws_accept(struct loop *lp, int fd, const char *peer, const struct ws_config *cfg,
	      const struct ws_handler *h, void *ctx);

/* Queue one text message (copied, framed). 0, or -EPIPE once the
 * connection is closing, or -ENOMEM. */
int ws_send_text(struct ws_conn *ws, const char *data, size_t len);
/* Write one text message in place: append its payload to the returned
 * buffer (about size_hint bytes; nothing else may be queued meanwhile),
 * then ws_msg_end() frames it, or drops it when ok is false. NULL once the
 * connection is closing or on ENOMEM. ws_msg_end: 0 or -ENOMEM. */
struct buf *ws_msg_begin(struct ws_conn *ws, size_t size_hint);
/* The same for one binary message (opcode 2); ws_msg_end() frames it. */
struct buf *ws_bin_begin(struct ws_conn *ws, size_t size_hint);
int ws_msg_end(struct ws_conn *ws, bool ok);
/* Bytes queued for sending and not yet written to the socket. */
size_t ws_queued(const struct ws_conn *ws);
/* Stop (or restart) reading the peer's messages: a client whose requests
 * pile up stalls itself. Missed pongs do not count while paused. */
void ws_pause_recv(struct ws_conn *ws, bool pause);
/* Bytes written to the socket since the connection opened. */
uint64_t ws_sent_total(const struct ws_conn *ws);
/* The stream offset just past everything queued so far: a message queued
 * now has reached the socket once ws_sent_total() passes this. */
uint64_t ws_queued_end(const struct ws_conn *ws);
/* Send a close frame with this code, flush, then close the socket. closed()
 * still follows. */
void ws_close(struct ws_conn *ws, uint16_t code);

/* Live connections (upgraded or not, and ones being refused with 503). */
size_t ws_count(void);
/* Close every live connection (upgraded ones with a close frame carrying
 * code, e.g. 1001 at shutdown; others just closed). */
void ws_close_all(uint16_t code);

/* Why a connection was answered with an error instead of being served. */
enum ws_refusal {
	WS_REFUSED_LIMIT,		/* over max_connections: 503 */
	WS_REFUSED_ORIGIN,		/* an Origin not allowed: 403 */
	WS_REFUSED_TOKEN,		/* no bearer token, or a wrong one: 401 */
	WS_REFUSED_PEER,		/* without a token, a user not served: 403 */
	WS_REFUSED_SANDBOXED,		/* without a token, a peer in one of our sandboxes: 403 */
	WS_REFUSED_BAD_REQUEST,		/* a bad or too large head, or no upgrade: 400 */
	WS_REFUSED_HEAD_TIMEOUT,	/* no whole head within head_timeout_ms: 408 */
	WS_REFUSALS,
};

/* What the connections count, all together: plain increments on the loop. */
struct ws_stats {
	uint64_t open;			/* live connections now (ws_count()) */
	uint64_t accepted;		/* sockets taken over by ws_accept() */
	uint64_t upgrades;		/* WebSocket upgrades (101) */
	uint64_t refused[WS_REFUSALS];	/* by enum ws_refusal */
	uint64_t received_bytes;	/* read from the sockets */
	uint64_t sent_bytes;		/* written to the sockets */
};

/* A copy of the counters, with open as it is now. */
void ws_stats(struct ws_stats *out);

#endif
