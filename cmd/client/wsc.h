/* wsc: a small blocking WebSocket client (wslay + a plain TCP socket).
 *
 * Shared by ringexec (the CLI), the integration tests and the examples. One
 * connection, one thread; every wait has a deadline in milliseconds (0: do not
 * wait, so a caller may run its own poll() loop on wsc_fd()). Pings from the server
 * are answered automatically; pongs are reported so callers can time them.
 */
#ifndef RINGEXEC_WSC_H
#define RINGEXEC_WSC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct wsc;

enum wsc_kind { WSC_TEXT = 1, WSC_BINARY = 2, WSC_PONG = 3, WSC_CLOSED = 4 };

struct wsc_msg {
	enum wsc_kind kind;
	char *data;		/* malloc'd, NUL-terminated (not counted in len); caller frees */
	size_t len;
	int close_code;		/* for WSC_CLOSED: the peer's status code, 0 if none (EOF) */
};

/* Connect to url ("ws://IP:PORT" or "ws://IP:PORT/path"; also "ws://[IPv6]:PORT",
 * "http://..." alike, and "unix:///path/to.sock") and upgrade.
 * extra_headers: NULL or lines each ending in "\r\n" (e.g. "Origin: x\r\n").
 * 0 on success; -errno on socket errors (-EPROTO: a 101 whose Accept, Upgrade
 * or Connection is wrong); a positive HTTP status when the server answered
 * something other than 101. A negative timeout_ms anywhere means no deadline. */
int wsc_connect(struct wsc **out, const char *url, const char *extra_headers, int timeout_ms);

/* Send one raw HTTP request (the whole text) to url's host:port and return the
 * status code of the answer (and the response body in *body if non-NULL,
 * malloc'd). -errno on failure. For /readyz, 404 and 403 tests. */
int wsc_http_raw(const char *url, const char *request, char **body, int timeout_ms);

/* Sends block until written (30 s deadline; bytes arriving meanwhile are
 * buffered for wsc_recv). 0 or -errno; after a send failed mid-frame, every
 * later send returns that error. */
int wsc_send_text(struct wsc *c, const char *data, size_t len);
int wsc_send_binary(struct wsc *c, const void *data, size_t len);
int wsc_send_ping(struct wsc *c, const void *data, size_t len);
/* Send raw bytes on the socket, bypassing framing (for malformed-frame tests). */
int wsc_send_raw(struct wsc *c, const void *data, size_t len);

/* Wait for the next message. 0 with *msg filled, -ETIMEDOUT, or -errno.
 * WSC_CLOSED carries the close reason in data; EOF or a reset without a
 * close frame is WSC_CLOSED with close_code 0. After WSC_CLOSED every further
 * call returns -ECONNRESET. A frame the server must not send fails the
 * connection with -EPROTO (close 1002), invalid UTF-8 in a text message with
 * -EBADMSG (1007), a message over 256 MiB with -EMSGSIZE (1009); every
 * later call returns the same. Pings are answered here. */
int wsc_recv(struct wsc *c, struct wsc_msg *msg, int timeout_ms);

/* Start a clean close (close frame with code) and wait up to timeout_ms for
 * the peer's; then free. wsc_abort() just closes the socket and frees. */
void wsc_close(struct wsc *c, int code, int timeout_ms);
void wsc_abort(struct wsc *c);

int wsc_fd(const struct wsc *c);
/* Milliseconds on CLOCK_MONOTONIC, and microseconds. */
int64_t wsc_now_ms(void);
int64_t wsc_now_us(void);

#endif
