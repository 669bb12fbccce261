/* listen: the TCP or unix listener and its multishot accept on the loop.
 *
 * Parses the --listen URL (ws://IP:PORT, IPv4 or [IPv6]; unix:///path;
 * stdio, which is only recognised here and served by transport/stdio),
 * binds (TCP with SO_REUSEADDR; unix with mode 0600, replacing a stale
 * socket file), listens, and hands each accepted socket (O_CLOEXEC,
 * TCP_NODELAY on TCP) and its peer ("IP:PORT", or "unix") to a callback.
 * Also serves a listening socket it is given (socket activation).
 * EMFILE/ENFILE on accept back off briefly instead of spinning. Knows
 * nothing of HTTP.
 */
#ifndef RINGEXEC_LISTEN_H
#define RINGEXEC_LISTEN_H

#include <stdbool.h>
#include <stddef.h>

struct loop;
struct listener;

typedef void listen_accept_cb(void *ctx, int fd, const char *peer);

enum listen_kind {
	LISTEN_TCP,	/* ws://IP:PORT */
	LISTEN_UNIX,	/* unix:///path */
	LISTEN_STDIO,	/* stdio or stdio:// : no listener at all */
};

/* Parse url. 0 on success with *kind set and *is_loopback (true for unix
 * and stdio); otherwise -1 with the message in err: "invalid websocket
 * --listen URL `X`; expected `ws://IP:PORT`" (host not an IP literal),
 * "invalid unix --listen URL `X`; expected `unix:///path`" (no absolute
 * path, or one too long for sun_path) or "unsupported --listen URL `X`;
 * expected `ws://IP:PORT`" (other scheme). */
int listen_parse_url(const char *url, char *err, size_t errlen, enum listen_kind *kind,
		     int *is_loopback);

/* Bind and start accepting (ws:// and unix:// only). bound_url receives
 * "ws://IP:PORT" with the real port, or "unix:///path". A unix socket file
 * that exists with nobody listening is replaced; a live one, or a file that
 * is not a socket, fails with -EADDRINUSE. 0 or -errno (err says what
 * failed). */
int listen_start(struct listener **out, struct loop *lp, const char *url, listen_accept_cb *cb,
		 void *ctx, char *bound_url, size_t bound_len, char *err, size_t errlen);
/* Serve fd, a listening socket passed by systemd: a TCP (IPv4/IPv6) or
 * unix stream socket in the listening state, else -errno with err naming
 * the fd and what it is (the fd is then left alone). Taken over and made
 * close-on-exec; a unix socket's file is not removed at stop (it is not
 * ours). bound_url as for listen_start ("unix://@name" for an abstract
 * socket). */
int listen_adopt(struct listener **out, struct loop *lp, int fd, listen_accept_cb *cb, void *ctx,
		 char *bound_url, size_t bound_len, char *err, size_t errlen);
/* The file path fd (a unix socket) is bound to: 0, or -ENOENT when it is
 * not a unix socket with a path (abstract, unnamed, or not unix). */
int listen_unix_path(int fd, char *out, size_t cap);
/* Bound to loopback (or a unix socket): nobody on another host reaches it. */
bool listen_loopback(const struct listener *l);
/* Stop accepting (cancel) and close the socket (a unix socket's file is
 * removed, if it is still ours); frees once the accept op ends. */
void listen_stop(struct listener *l);

#endif
