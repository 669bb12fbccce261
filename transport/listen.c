/* listen: the TCP or unix listening socket and its multishot accept on the loop.
 *
 * Owns the --listen URL syntax, the listening fd (bound here, or passed by
 * systemd and checked here), a unix socket's file when we bound it (mode
 * 0600, a stale one replaced, removed again at stop), its one accept op and
 * the back-off timer used when the process runs out of fds. Must not read or
 * write accepted sockets nor know HTTP: each new fd goes straight to the
 * callback, which owns it from then on.
 */
#include "log.h"
#include "listen.h"

#include "loop.h"
#include "util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define LISTEN_BACKLOG 1024
#define LISTEN_BACKOFF_MS 100


struct listener {
	struct loop *lp;
	int fd;
	struct loop_op accept_op;
	struct loop_timer backoff;	/* re-arms accept after EMFILE and the like */
	bool accept_busy;		/* the multishot accept has not ended */
	bool stopping;			/* listen_stop(): free when accept_busy clears */
	bool warned;			/* the back-off warning was logged (once) */
	bool is_unix;			/* path is ours to remove at stop */
	int family;			/* AF_INET, AF_INET6 or AF_UNIX */
	dev_t dev;			/* the socket file we bound, to recognise it */
	ino_t ino;
	listen_accept_cb *cb;
	void *ctx;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
};

/* ---- URLs ---- */

union listen_sa {
	struct sockaddr sa;
	struct sockaddr_in in4;
	struct sockaddr_in6 in6;
	struct sockaddr_un un;
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

/* "unix:///path": an absolute path that fits sun_path with its NUL. */
static int listen_parse_unix(const char *url, union listen_sa *sa, socklen_t *len, char *err,
			     size_t errlen)
{
	const char *path = url + sizeof("unix://") - 1;
	size_t n = strlen(path);
	if (path[0] != '/' || n >= sizeof(sa->un.sun_path)) {
		snprintf(err, errlen, "invalid unix --listen URL `%s`; expected `unix:///path`", url);
		return -1;
	}
	memset(sa, 0, sizeof(*sa));
	sa->un.sun_family = AF_UNIX;
	memcpy(sa->un.sun_path, path, n + 1);
	*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
	return 0;
}

static int listen_parse(const char *url, enum listen_kind *kind, union listen_sa *sa,
			socklen_t *len, char *err, size_t errlen)
{
	static const char scheme[] = "ws://";
	if (!strcmp(url, "stdio") || !strcmp(url, "stdio://")) {
		*kind = LISTEN_STDIO;
		return 0;
	}
	if (!strncmp(url, "unix://", sizeof("unix://") - 1)) {
		*kind = LISTEN_UNIX;
		return listen_parse_unix(url, sa, len, err, errlen);
	}
	*kind = LISTEN_TCP;
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

int listen_parse_url(const char *url, char *err, size_t errlen, enum listen_kind *kind,
		     int *is_loopback)
{
	union listen_sa sa;
	socklen_t len;
	if (listen_parse(url, kind, &sa, &len, err, errlen))
		return -1;
	*is_loopback = *kind != LISTEN_TCP || listen_is_loopback(&sa);
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

/* Remove our socket file, unless someone replaced it meanwhile. */
static void listen_unlink(struct listener *l)
{
	struct stat st;
	if (!l->is_unix)
		return;
	l->is_unix = false;
	if (lstat(l->path, &st) == 0 && st.st_dev == l->dev && st.st_ino == l->ino)
		unlink(l->path);
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

	if (l->stopping) {
		close(fd);
		return;
	}
	if (l->family == AF_UNIX) {
		l->cb(l->ctx, fd, "unix");	/* unix peers have no useful name */
		return;
	}
	if (getpeername(fd, &sa.sa, &len) < 0) {
		close(fd);	/* the peer is already gone */
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
		loop_cancel(l->lp, &l->accept_op);
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
	struct listener *l = container_of(op, struct listener, accept_op);
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
	struct listener *l = container_of(t, struct listener, backoff);
	if (!l->accept_busy && !l->stopping)
		listen_arm(l);
}

/* ---- start and stop ---- */

/* Something already at a unix socket path: a stale socket file (connect
 * refused: nobody listens) is removed; a live one (connect succeeds, or its
 * backlog is full) or a file of another type is refused. */
static int listen_unix_clear(const union listen_sa *sa, socklen_t len, const char *url, char *err,
			     size_t errlen)
{
	const char *path = sa->un.sun_path;
	struct stat st;
	if (lstat(path, &st) < 0) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errlen, "cannot listen on %s: %s", url, strerror(errno));
		return -errno;
	}
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(err, errlen, "cannot listen on %s: the path exists and is not a socket", url);
		return -EADDRINUSE;
	}
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		snprintf(err, errlen, "cannot listen on %s: %s", url, strerror(errno));
		return -errno;
	}
	int r = connect(fd, &sa->sa, len) == 0 ? 0 : -errno;
	close(fd);
	if (r == 0 || r == -EAGAIN || r == -EINPROGRESS) {
		snprintf(err, errlen, "cannot listen on %s: another server is listening on it", url);
		return -EADDRINUSE;
	}
	if (r != -ECONNREFUSED) {
		snprintf(err, errlen, "cannot listen on %s: cannot tell whether it is in use: %s",
			 url, strerror(-r));
		return r;
	}
	if (unlink(path) < 0 && errno != ENOENT) {
		snprintf(err, errlen, "cannot remove the stale socket %s: %s", path, strerror(errno));
		return -errno;
	}
	log_info("removed the stale socket %s", path);
	return 0;
}

/* Bind with mode 0600 (umask: fchmod does not reach the file), remember
 * the file, listen. */
static int listen_bind_unix(struct listener *l, const union listen_sa *sa, socklen_t len)
{
	struct stat st;
	mode_t old = umask(0177);
	int r = bind(l->fd, &sa->sa, len) < 0 ? -errno : 0;
	umask(old);
	if (r < 0)
		return r;
	snprintf(l->path, sizeof(l->path), "%s", sa->un.sun_path);
	if (lstat(l->path, &st) == 0) {
		l->is_unix = true;
		l->dev = st.st_dev;
		l->ino = st.st_ino;
	}
	if (listen(l->fd, LISTEN_BACKLOG) < 0) {
		r = -errno;
		listen_unlink(l);
		return r;
	}
	return 0;
}

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

static int listen_bound_url(const struct listener *l, char *out, size_t cap)
{
	union listen_sa sa;
	socklen_t len = sizeof(sa);
	char hp[80];
	if (l->family == AF_UNIX) {
		if ((size_t)snprintf(out, cap, "unix://%s", l->path) >= cap)
			return -ENAMETOOLONG;
		return 0;
	}
	if (getsockname(l->fd, &sa.sa, &len) < 0)
		return -errno;
	listen_format(&sa, hp, sizeof(hp));
	if ((size_t)snprintf(out, cap, "ws://%s", hp) >= cap)
		return -ENAMETOOLONG;
	return 0;
}

static void listen_go(struct listener *l, struct loop *lp, listen_accept_cb *cb, void *ctx)
{
	l->lp = lp;
	l->cb = cb;
	l->ctx = ctx;
	l->accept_op.cb = listen_on_accept;
	loop_timer_init(&l->backoff, listen_on_backoff);
	listen_arm(l);
}

int listen_start(struct listener **out, struct loop *lp, const char *url, listen_accept_cb *cb,
		 void *ctx, char *bound_url, size_t bound_len, char *err, size_t errlen)
{
	union listen_sa sa;
	socklen_t len;
	enum listen_kind kind;
	int ret;

	if (listen_parse(url, &kind, &sa, &len, err, errlen))
		return -EINVAL;
	if (kind == LISTEN_STDIO) {
		snprintf(err, errlen, "cannot listen on %s: not a socket URL", url);
		return -EINVAL;
	}
	if (kind == LISTEN_UNIX) {
		ret = listen_unix_clear(&sa, len, url, err, errlen);
		if (ret < 0)
			return ret;
	}
	struct listener *l = calloc(1, sizeof(*l));
	if (!l) {
		snprintf(err, errlen, "cannot listen on %s: out of memory", url);
		return -ENOMEM;
	}
	l->family = sa.sa.sa_family;
	l->fd = socket(sa.sa.sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (l->fd < 0) {
		ret = -errno;
		goto fail_free;
	}
	if (kind == LISTEN_UNIX)
		ret = listen_bind_unix(l, &sa, len);
	else
		ret = listen_bind(l->fd, &sa, len);
	if (ret < 0)
		goto fail_close;
	ret = listen_bound_url(l, bound_url, bound_len);
	if (ret < 0)
		goto fail_unlink;
	listen_go(l, lp, cb, ctx);
	*out = l;
	return 0;

fail_unlink:
	listen_unlink(l);
fail_close:
	close(l->fd);
fail_free:
	free(l);
	snprintf(err, errlen, "cannot listen on %s: %s", url, strerror(-ret));
	return ret;
}

/* ---- a socket passed by systemd ---- */

static int listen_sockopt(int fd, int opt, int *v)
{
	socklen_t len = sizeof(*v);
	return getsockopt(fd, SOL_SOCKET, opt, v, &len) < 0 ? -errno : 0;
}

/* A listening stream socket we can serve: TCP over IPv4/IPv6, or unix. */
static int listen_check_passed(int fd, int *family, char *err, size_t errlen)
{
	struct stat st;
	int type, acc, proto;
	if (fstat(fd, &st) < 0 || !S_ISSOCK(st.st_mode)) {
		snprintf(err, errlen, "fd %d is not a socket", fd);
		return -ENOTSOCK;
	}
	if (listen_sockopt(fd, SO_TYPE, &type) || listen_sockopt(fd, SO_DOMAIN, family) ||
	    listen_sockopt(fd, SO_ACCEPTCONN, &acc) || listen_sockopt(fd, SO_PROTOCOL, &proto)) {
		snprintf(err, errlen, "fd %d: cannot read its socket options: %s", fd,
			 strerror(errno));
		return -errno;
	}
	if (type != SOCK_STREAM || !acc) {
		snprintf(err, errlen, "fd %d is not a listening stream socket (ListenStream= with "
			 "Accept=no is what ringexecd serves)", fd);
		return -EINVAL;
	}
	bool inet = *family == AF_INET || *family == AF_INET6;
	if (!(inet && proto == IPPROTO_TCP) && *family != AF_UNIX) {
		snprintf(err, errlen, "fd %d is neither TCP nor a unix socket", fd);
		return -EAFNOSUPPORT;
	}
	return 0;
}

/* The bound URL of a unix socket we did not bind: a path, an abstract
 * name as @name, or an unnamed one. */
static void listen_passed_unix_path(struct listener *l)
{
	union listen_sa sa;
	socklen_t len = sizeof(sa);
	size_t off = offsetof(struct sockaddr_un, sun_path);
	if (getsockname(l->fd, &sa.sa, &len) < 0 || len <= off) {
		snprintf(l->path, sizeof(l->path), "(unnamed)");
		return;
	}
	if (sa.un.sun_path[0]) {
		snprintf(l->path, sizeof(l->path), "%s", sa.un.sun_path);
		return;
	}
	size_t n = len - off - 1;	/* abstract: the bytes after the NUL */
	if (n >= sizeof(l->path) - 1)
		n = sizeof(l->path) - 2;
	l->path[0] = '@';
	memcpy(l->path + 1, sa.un.sun_path + 1, n);
	l->path[n + 1] = '\0';
}

int listen_adopt(struct listener **out, struct loop *lp, int fd, listen_accept_cb *cb, void *ctx,
		 char *bound_url, size_t bound_len, char *err, size_t errlen)
{
	int family, ret = listen_check_passed(fd, &family, err, errlen);
	if (ret < 0)
		return ret;
	struct listener *l = calloc(1, sizeof(*l));
	if (!l) {
		snprintf(err, errlen, "fd %d: out of memory", fd);
		return -ENOMEM;
	}
	l->fd = fd;
	l->family = family;
	if (family == AF_UNIX)
		listen_passed_unix_path(l);	/* its file is systemd's, never removed here */
	ret = listen_bound_url(l, bound_url, bound_len);
	if (ret < 0 || fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
		ret = ret < 0 ? ret : -errno;
		snprintf(err, errlen, "fd %d: %s", fd, strerror(-ret));
		free(l);
		return ret;
	}
	listen_go(l, lp, cb, ctx);
	*out = l;
	return 0;
}

int listen_unix_path(int fd, char *out, size_t cap)
{
	union listen_sa sa;
	socklen_t len = sizeof(sa);
	size_t off = offsetof(struct sockaddr_un, sun_path);
	if (getsockname(fd, &sa.sa, &len) < 0 || sa.sa.sa_family != AF_UNIX || len <= off ||
	    !sa.un.sun_path[0])
		return -ENOENT;
	size_t n = strnlen(sa.un.sun_path, len - off);
	if (n >= cap)
		return -ENAMETOOLONG;
	memcpy(out, sa.un.sun_path, n);
	out[n] = '\0';
	return 0;
}

bool listen_loopback(const struct listener *l)
{
	union listen_sa sa;
	socklen_t len = sizeof(sa);
	if (l->family == AF_UNIX)
		return true;
	return getsockname(l->fd, &sa.sa, &len) == 0 && listen_is_loopback(&sa);
}

void listen_stop(struct listener *l)
{
	if (!l || l->stopping)
		return;
	l->stopping = true;
	listen_unlink(l);
	loop_timer_cancel(l->lp, &l->backoff);
	if (l->accept_busy)
		loop_cancel(l->lp, &l->accept_op);	/* freed by the op's last completion */
	else
		listen_free(l);
}
