/* listen: the TCP listening socket and its multishot accept on the loop.
 *
 * Owns the --listen URL syntax, the listening fd, its one accept op and the
 * back-off timer used when the process runs out of fds. Must not read or
 * write accepted sockets nor know HTTP: each new fd goes straight to the
 * callback, which owns it from then on.
 */
#include "log.h"
#include "listen.h"

#include "loop.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define LISTEN_BACKLOG 1024
#define LISTEN_BACKOFF_MS 100

#define listen_container_of(p, type, member) ((type *)((char *)(p) - offsetof(type, member)))

struct listener {
	struct loop *lp;
	int fd;
	struct loop_op accept_op;
	struct loop_timer backoff;	/* re-arms accept after EMFILE and the like */
	bool accept_busy;		/* the multishot accept has not ended */
	bool stopping;			/* listen_stop(): free when accept_busy clears */
	bool warned;			/* the back-off warning was logged (once) */
	listen_accept_cb *cb;
	void *ctx;
};

/* ---- URLs ---- */

union listen_sa {
	struct sockaddr sa;
	struct sockaddr_in in4;
	struct sockaddr_in6 in6;
	struct sockaddr_storage ss;
};

static int listen_port(const char *s, uint16_t *out)
{
	size_t n = strlen(s);
	if (n == 0 || n > 5)
		return -1;
	unsigned v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (v > 65535)
		return -1;
	*out = (uint16_t)v;
	return 0;
}

/* "IP:PORT" or "[IPv6]:PORT" into sa. */
static int listen_sockaddr(const char *hp, union listen_sa *sa, socklen_t *len)
{
	char host[INET6_ADDRSTRLEN];
	const char *end, *port;
	bool v6 = hp[0] == '[';
	if (v6) {
		hp++;
		end = strchr(hp, ']');
		if (!end || end[1] != ':')
			return -1;
		port = end + 2;
	} else {
		end = strrchr(hp, ':');
		if (!end)
			return -1;
		port = end + 1;
	}
	if ((size_t)(end - hp) >= sizeof(host))
		return -1;
	memcpy(host, hp, (size_t)(end - hp));
	host[end - hp] = '\0';

	uint16_t p;
	memset(sa, 0, sizeof(*sa));
	if (listen_port(port, &p))
		return -1;
	if (v6) {
		sa->in6.sin6_family = AF_INET6;
		sa->in6.sin6_port = htons(p);
		*len = sizeof(sa->in6);
		return inet_pton(AF_INET6, host, &sa->in6.sin6_addr) == 1 ? 0 : -1;
	}
	sa->in4.sin_family = AF_INET;
	sa->in4.sin_port = htons(p);
	*len = sizeof(sa->in4);
	return inet_pton(AF_INET, host, &sa->in4.sin_addr) == 1 ? 0 : -1;
}

static bool listen_is_loopback(const union listen_sa *sa)
{
	if (sa->sa.sa_family == AF_INET)
		return (ntohl(sa->in4.sin_addr.s_addr) >> 24) == 127;
	const struct in6_addr *a = &sa->in6.sin6_addr;
	return IN6_IS_ADDR_LOOPBACK(a) || (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
}

static int listen_parse(const char *url, union listen_sa *sa, socklen_t *len, char *err,
			size_t errlen)
{
	static const char scheme[] = "ws://";
	if (strncmp(url, scheme, sizeof(scheme) - 1)) {
		snprintf(err, errlen, "unsupported --listen URL `%s`; expected `ws://IP:PORT`", url);
		return -1;
	}
	if (listen_sockaddr(url + sizeof(scheme) - 1, sa, len)) {
		snprintf(err, errlen, "invalid websocket --listen URL `%s`; expected `ws://IP:PORT`",
			 url);
		return -1;
	}
	return 0;
}

int listen_parse_url(const char *url, char *err, size_t errlen, int *is_loopback)
{
	union listen_sa sa;
	socklen_t len;
	if (listen_parse(url, &sa, &len, err, errlen))
		return -1;
	*is_loopback = listen_is_loopback(&sa);
	return 0;
}

/* "IP:PORT", or "[IPv6]:PORT". */
static void listen_format(const union listen_sa *sa, char *out, size_t cap)
{
	char ip[INET6_ADDRSTRLEN] = "?";
	if (sa->sa.sa_family == AF_INET6) {
		inet_ntop(AF_INET6, &sa->in6.sin6_addr, ip, sizeof(ip));
		snprintf(out, cap, "[%s]:%u", ip, (unsigned)ntohs(sa->in6.sin6_port));
	} else {
		inet_ntop(AF_INET, &sa->in4.sin_addr, ip, sizeof(ip));
		snprintf(out, cap, "%s:%u", ip, (unsigned)ntohs(sa->in4.sin_port));
	}
}

/* ---- accepting ---- */

static void listen_arm(struct listener *l)
{
	struct io_uring_sqe *sqe = loop_sqe(l->lp, &l->accept_op);
	io_uring_prep_multishot_accept(sqe, l->fd, NULL, NULL, SOCK_CLOEXEC);
	l->accept_busy = true;
}

static void listen_cancel(struct listener *l)
{
	struct io_uring_sqe *sqe = loop_sqe_noop(l->lp);
	io_uring_prep_cancel64(sqe, (uint64_t)(uintptr_t)&l->accept_op, 0);
}

static void listen_free(struct listener *l)
{
	loop_timer_cancel(l->lp, &l->backoff);
	close(l->fd);
	free(l);
}

static void listen_hand_over(struct listener *l, int fd)
{
	union listen_sa sa;
	socklen_t len = sizeof(sa);
	char peer[64];
	int one = 1;

	if (l->stopping || getpeername(fd, &sa.sa, &len) < 0) {
		close(fd);	/* stopping, or the peer is already gone */
		return;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	listen_format(&sa, peer, sizeof(peer));
	l->cb(l->ctx, fd, peer);
}

/* Out of fds or memory (or something unexpected): stop, retry after a
 * pause instead of spinning on a backlog we cannot take. */
static void listen_back_off(struct listener *l, int res, bool more)
{
	if (!l->warned) {
		l->warned = true;
		log_warn("accept: %s; retrying every %d ms (logged once)",
			strerror(-res), LISTEN_BACKOFF_MS);
	}
	if (more)
		listen_cancel(l);
	loop_timer_arm(l->lp, &l->backoff, LISTEN_BACKOFF_MS);
}

static void listen_on_error(struct listener *l, int res, bool more)
{
	switch (res) {
	case -ECANCELED:
	case -ECONNABORTED:
	case -EINTR:
	case -EAGAIN:
	case -EPERM:
		return;		/* re-armed below if the op ended */
	default:
		listen_back_off(l, res, more);
	}
}

static void listen_on_accept(struct loop_op *op, int res, uint32_t flags)
{
	struct listener *l = listen_container_of(op, struct listener, accept_op);
	bool more = flags & IORING_CQE_F_MORE;
	if (res >= 0)
		listen_hand_over(l, res);
	else
		listen_on_error(l, res, more);
	/* Only now: the callback may have called listen_stop(). */
	if (!more)
		l->accept_busy = false;
	if (l->stopping) {
		if (!l->accept_busy)
			listen_free(l);
		return;
	}
	if (!l->accept_busy && !loop_timer_armed(&l->backoff))
		listen_arm(l);
}

static void listen_on_backoff(struct loop_timer *t)
{
	struct listener *l = listen_container_of(t, struct listener, backoff);
	if (!l->accept_busy && !l->stopping)
		listen_arm(l);
}

/* ---- start and stop ---- */

static int listen_bind(int fd, const union listen_sa *sa, socklen_t len)
{
	int one = 1;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0)
		return -errno;
	if (sa->sa.sa_family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0)
		return -errno;
	if (bind(fd, &sa->sa, len) < 0 || listen(fd, LISTEN_BACKLOG) < 0)
		return -errno;
	return 0;
}

static int listen_bound_url(int fd, char *out, size_t cap)
{
	union listen_sa sa;
	socklen_t len = sizeof(sa);
	char hp[80];
	if (getsockname(fd, &sa.sa, &len) < 0)
		return -errno;
	listen_format(&sa, hp, sizeof(hp));
	if ((size_t)snprintf(out, cap, "ws://%s", hp) >= cap)
		return -ENAMETOOLONG;
	return 0;
}

int listen_start(struct listener **out, struct loop *lp, const char *url, listen_accept_cb *cb,
		 void *ctx, char *bound_url, size_t bound_len, char *err, size_t errlen)
{
	union listen_sa sa;
	socklen_t len;
	int ret;

	if (listen_parse(url, &sa, &len, err, errlen))
		return -EINVAL;
	struct listener *l = calloc(1, sizeof(*l));
	if (!l) {
		snprintf(err, errlen, "cannot listen on %s: out of memory", url);
		return -ENOMEM;
	}
	l->fd = socket(sa.sa.sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (l->fd < 0) {
		ret = -errno;
		goto fail_free;
	}
	ret = listen_bind(l->fd, &sa, len);
	if (ret < 0)
		goto fail_close;
	ret = listen_bound_url(l->fd, bound_url, bound_len);
	if (ret < 0)
		goto fail_close;
	l->lp = lp;
	l->cb = cb;
	l->ctx = ctx;
	l->accept_op.cb = listen_on_accept;
	loop_timer_init(&l->backoff, listen_on_backoff);
	listen_arm(l);
	*out = l;
	return 0;

fail_close:
	close(l->fd);
fail_free:
	free(l);
	snprintf(err, errlen, "cannot listen on %s: %s", url, strerror(-ret));
	return ret;
}

void listen_stop(struct listener *l)
{
	if (!l || l->stopping)
		return;
	l->stopping = true;
	loop_timer_cancel(l->lp, &l->backoff);
	if (l->accept_busy)
		listen_cancel(l);	/* freed by the op's last completion */
	else
		listen_free(l);
}
