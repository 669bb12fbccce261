/* stdio: the one connection of `--listen stdio`: newline-delimited JSON
 * messages in on one fd (stdin) and out on another (stdout).
 *
 * Reads and writes go through the loop (read/write ops, with a poll first
 * when the fd turns out to be non-blocking). Each input line is one message;
 * each message sent is written as one line. Offers what struct ws_conn
 * offers the protocol (send, queued, sent_total, queued_end, close) so the
 * server wires both the same way. Knows nothing of JSON or processes.
 */
#ifndef RINGEXEC_STDIO_CONN_H
#define RINGEXEC_STDIO_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct loop;
struct stdio_conn;

struct stdio_handler {
	/* Called once from stdio_start(): return the connection's user
	 * pointer, or NULL to refuse (stdio_start then fails). */
	void *(*open)(void *ctx, struct stdio_conn *st, const char *peer);
	/* One whole line, without its "\n" (or "\r\n"); data is valid only
	 * during the call. Empty lines are skipped. */
	void (*message)(void *user, const char *data, size_t len);
	/* The output queue fell below the low-water mark after being above
	 * the high-water mark. */
	void (*drained)(void *user);
	/* Queued bytes were written (stdio_sent_total() grew). */
	void (*sent)(void *user);
	/* The connection is gone. err: 0 for the end of input or stdio_close(),
	 * -EMSGSIZE for a line over max_message, another -errno for a read or
	 * write error. Called once, from the loop; after it only
	 * stdio_done()/stdio_free() may be used. Queued output is still
	 * written after it. */
	void (*closed)(void *user, int err);
};

struct stdio_config {
	size_t max_message;	/* longest input line (64 MiB) */
	size_t high_water;	/* output bytes above which drained() is owed (4 MiB) */
};

/* Serve in_fd/out_fd (left open by stdio_free: they are not ours). The
 * peer name given to open() is "stdio". 0 or -errno. */
int stdio_start(struct stdio_conn **out, struct loop *lp, int in_fd, int out_fd,
		const struct stdio_config *cfg, const struct stdio_handler *h, void *ctx);

/* Queue one message as a line (copied; a raw newline in it, which no
 * JSON encoder emits, becomes a space). 0, -EPIPE once closing, or -ENOMEM. */
int stdio_send(struct stdio_conn *st, const char *data, size_t len);
/* Bytes queued and not yet written. */
size_t stdio_queued(const struct stdio_conn *st);
/* Bytes written since the start. */
uint64_t stdio_sent_total(const struct stdio_conn *st);
/* The stream offset just past everything queued so far. */
uint64_t stdio_queued_end(const struct stdio_conn *st);
/* Stop reading, write out what is queued; closed() follows from the loop.
 * code (a WebSocket close code) is only logged. */
void stdio_close(struct stdio_conn *st, int code);

/* Closed, output written (or failed), no op in flight: safe to stop. */
bool stdio_done(const struct stdio_conn *st);
/* Free. Call it before loop_free(), and when stdio_done() unless the loop
 * is about to be freed (whose teardown then cancels what is in flight). */
void stdio_free(struct stdio_conn *st);

#endif
