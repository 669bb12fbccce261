/* conn: the protocol side of one client connection, and the protocol's
 * server-wide state (struct proto: limits, sessions).
 *
 * The transport hands in whole messages and tells of drain and close; the
 * conn decodes requests, checks the handshake gate, runs the methods and
 * sends replies and notifications back through struct conn_io. Knows no
 * sockets and no WebSocket.
 */
#ifndef RINGEXEC_CONN_H
#define RINGEXEC_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct engine;
struct engine_ops;
struct proto;
struct conn;

struct proto_config {
	uint64_t retain_ms;		/* keep a closed process's entry this long (30000) */
	uint64_t session_ttl_ms;	/* detached sessions live this long; 0: kill at once */
	size_t retain_bytes;		/* undelivered output kept per process while detached */
	size_t max_processes;		/* per session, not yet closed (1024) */
	size_t send_high_water;		/* pause output reads above this many queued bytes */
	size_t max_spawn_bytes;		/* argv + env bytes per start (1 MiB) */
};

struct conn_io {
	/* Queue one whole text message. 0, or -errno when the connection is gone. */
	int (*send)(void *io, const char *msg, size_t len);
	/* Optional: write one message in place (no copy). begin returns the
	 * buffer to append about size_hint bytes to (NULL: use send), end
	 * queues it, or drops it when ok is false; 0 or -errno. */
	struct buf *(*msg_begin)(void *io, size_t size_hint);
	int (*msg_end)(void *io, bool ok);
	/* Optional: the same for one binary message (a binary WebSocket
	 * frame), ended by msg_end. NULL: the transport has no binary
	 * messages, so output is always JSON (PROTOCOL §5a). */
	struct buf *(*bin_begin)(void *io, size_t size_hint);
	/* Bytes queued and not yet written to the peer. */
	size_t (*queued)(void *io);
	/* Bytes written to the peer so far, and the stream offset just past
	 * everything queued: a message counts as delivered once the first
	 * passes the second as it was right after the message was queued. */
	uint64_t (*sent_total)(void *io);
	uint64_t (*queued_end)(void *io);
	/* Close the connection with a WebSocket close code. */
	void (*close)(void *io, int code);
	/* Stop or restart reading the client's messages (may be NULL). */
	void (*pause_recv)(void *io, bool pause);
};

/* The protocol on an engine reached through ops (engine/engine_ops.h): the ring's
 * engine_ring_ops with its struct engine, or a test's fake. */
int proto_new(struct proto **out, const struct engine_ops *ops, struct engine *eng,
	      const struct proto_config *cfg);
/* Shutdown: kill and free every detached session (attached ones go with
 * their connections). */
void proto_shutdown(struct proto *pr);
/* Free everything, sessions included. */
void proto_free(struct proto *pr);

/* A new connection; peer is "IP:PORT" (copied). NULL on ENOMEM. */
struct conn *conn_new(struct proto *pr, const struct conn_io *io, void *io_ctx, const char *peer);
/* One whole message (text or binary frame payload). */
void conn_on_message(struct conn *c, const char *data, size_t len);
/* The send queue fell below its low-water mark: resume paused output. */
void conn_on_drained(struct conn *c);
/* Queued bytes reached the peer's socket: output up to there is delivered. */
void conn_on_sent(struct conn *c);
/* The transport is gone: detach the session, drop pending reads, free c. */
void conn_on_closed(struct conn *c);

/* The JSON-RPC error codes counted apart, and one slot for any other. */
#define PROTO_ERROR_KINDS 7

/* What the protocol counts for the metrics: plain increments on the loop. */
struct proto_stats {
	uint64_t sessions_attached;	/* now: sessions with a connection */
	uint64_t sessions_detached;	/* now: sessions waiting out their TTL */
	uint64_t sessions_created;
	uint64_t sessions_resumed;	/* initialize with resumeSessionId */
	uint64_t sessions_expired;	/* TTL ran out: processes killed */
	uint64_t requests;		/* requests dispatched (not notifications) */
	uint64_t errors[PROTO_ERROR_KINDS];	/* error replies, by proto_error_code(i) */
	uint64_t output_messages;	/* process/output notifications queued */
	uint64_t pauses_send_queue;	/* a process's output reads paused: its connection's
					   send queue is above high water (or a resumed
					   backlog is unread) */
	uint64_t pauses_detached;	/* the same, detached with its retention full */
	uint64_t request_pauses;	/* a connection's requests stopped being read */
};

/* The code counted in stats.errors[i]: -32600, -32601, ...; 0 for the last
 * slot, which counts every other code. */
int proto_error_code(size_t i);
/* A copy of the counters, with the session gauges as they are now. */
void proto_stats(const struct proto *pr, struct proto_stats *out);

#endif
