/* listen: the TCP listener and its multishot accept on the loop.
 *
 * Parses the --listen URL (ws://IP:PORT, IPv4 or [IPv6]), binds with
 * SO_REUSEADDR, listens, and hands each accepted socket (O_CLOEXEC,
 * TCP_NODELAY set) and its peer "IP:PORT" to a callback. EMFILE/ENFILE on
 * accept back off briefly instead of spinning. Knows nothing of HTTP.
 */
#ifndef RINGEXEC_LISTEN_H
#define RINGEXEC_LISTEN_H

#include <stddef.h>

struct loop;
struct listener;

typedef void listen_accept_cb(void *ctx, int fd, const char *peer);

/* Parse url. 0 on success with *is_loopback set; otherwise -1 with the
 * upstream message in err: "invalid websocket --listen URL `X`; expected
 * `ws://IP:PORT`" (host not an IP literal) or "unsupported --listen URL `X`;
 * expected `ws://IP:PORT`" (other scheme). */
int listen_parse_url(const char *url, char *err, size_t errlen, int *is_loopback);

/* Bind and start accepting. bound_url receives "ws://IP:PORT" with the real
 * port. 0 or -errno (err says what failed). */
int listen_start(struct listener **out, struct loop *lp, const char *url, listen_accept_cb *cb,
		 void *ctx, char *bound_url, size_t bound_len, char *err, size_t errlen);
/* Stop accepting (cancel) and close the socket; frees once the accept op ends. */
void listen_stop(struct listener *l);

#endif
