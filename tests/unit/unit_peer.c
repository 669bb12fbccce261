/* unit_peer: transport/peer against real sockets on this host.
 *
 * A client made by another user (a child that becomes nobody first) is
 * reported as that user over a unix socket (SO_PEERCRED), TCP over IPv4
 * and IPv6 (sock_diag), and IPv4 reaching a dual-stack IPv6 listener (a
 * v4-mapped peer). Once the client has closed, the answer is an error,
 * never uid 0; after a reset too. Cases that need another user skip when
 * not run as root.
 */
#include "peer.h"
#include "tap.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#define NOBODY 65534

union sa {
	struct sockaddr sa;
	struct sockaddr_in in4;
	struct sockaddr_in6 in6;
	struct sockaddr_un un;
};

/* A listener on a loopback address (port 0) or a unix path; its address in *a. */
static int listener(int family, bool v6only, union sa *a, socklen_t *len)
{
	int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0), zero = 0;

	if (fd < 0)
		return -1;
	memset(a, 0, sizeof(*a));
	if (family == AF_INET) {
		a->in4.sin_family = AF_INET;
		a->in4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		*len = sizeof(a->in4);
	} else if (family == AF_INET6) {
		a->in6.sin6_family = AF_INET6;
		a->in6.sin6_addr = v6only ? in6addr_loopback : in6addr_any;
		*len = sizeof(a->in6);
		if (!v6only)
			setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	} else {
		a->un.sun_family = AF_UNIX;
		snprintf(a->un.sun_path, sizeof(a->un.sun_path), "/tmp/unit_peer.%d.sock",
			 (int)getpid());
		unlink(a->un.sun_path);
		*len = sizeof(a->un);
	}
	if (bind(fd, &a->sa, *len) < 0 || listen(fd, 8) < 0 || getsockname(fd, &a->sa, len) < 0 ||
	    (family == AF_UNIX && chmod(a->un.sun_path, 0666) < 0)) {
		close(fd);
		return -1;
	}
	return fd;
}

struct client {
	pid_t pid;
	int go;		/* write a byte: close (0) or reset (1), then exit */
};

/* A child that becomes uid (unless -1), connects to a (with an AF_INET
 * socket to 127.0.0.1 when v4 is set), and waits for the word to close. */
static int client_start(struct client *c, uid_t uid, const union sa *a, socklen_t len, bool v4)
{
	int ready[2], go[2];
	char b;

	if (pipe2(ready, O_CLOEXEC) < 0 || pipe2(go, O_CLOEXEC) < 0)
		return -1;
	fflush(NULL);
	c->pid = fork();
	if (c->pid < 0)
		return -1;
	if (c->pid == 0) {
		struct sockaddr_in in4 = { .sin_family = AF_INET,
					   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
		if (uid != (uid_t)-1 && (setgroups(0, NULL) < 0 || setgid(uid) < 0 || setuid(uid) < 0))
			_exit(2);
		int fd = socket(v4 ? AF_INET : a->sa.sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (v4)
			in4.sin_port = a->in6.sin6_port;
		if (fd < 0 || connect(fd, v4 ? (struct sockaddr *)&in4 : &a->sa,
				      v4 ? sizeof(in4) : len) < 0)
			_exit(3);
		if (write(ready[1], "r", 1) != 1 || read(go[0], &b, 1) != 1)
			_exit(4);
		if (b == 1) {
			struct linger lg = { .l_onoff = 1, .l_linger = 0 };
			setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		}
		close(fd);
		_exit(0);
	}
	close(ready[1]);
	close(go[0]);
	c->go = go[1];
	struct pollfd p = { .fd = ready[0], .events = POLLIN };
	int ok = poll(&p, 1, 5000) == 1 && read(ready[0], &b, 1) == 1;
	close(ready[0]);
	return ok ? 0 : -1;
}

/* Tell it to close (or reset) and reap it. */
static void client_end(struct client *c, char how)
{
	int st;

	if (write(c->go, &how, 1) != 1)
		kill(c->pid, SIGKILL);
	close(c->go);
	waitpid(c->pid, &st, 0);
}

/* The accepted socket reads EOF (or a reset): the client's close is in. */
static bool eof_within(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN | POLLRDHUP };
	char b[16];

	return poll(&p, 1, ms) == 1 && recv(fd, b, sizeof(b), MSG_DONTWAIT) <= 0;
}

/* Over a listener of family: a nobody client is nobody; closed, an error. */
static void check_family(int family, bool v6only, bool v4_client)
{
	union sa a;
	socklen_t len;
	struct client c;
	uint32_t uid = 12345;

	if (geteuid() != 0) {
		tap_skip("needs root to run a client as nobody");
		return;
	}
	int l = listener(family, v6only, &a, &len);
	if (l < 0) {
		tap_skip("no listener for family %d: %s", family, strerror(errno));
		return;
	}
	REQUIRE(client_start(&c, NOBODY, &a, len, v4_client) == 0);
	int fd = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	REQUIRE(fd >= 0);
	int r = peer_uid(fd, &uid);
	CHECKF(r == 0 && uid == NOBODY, "open: %d (%s), uid %u", r, strerror(-r), uid);
	client_end(&c, 0);
	CHECK(eof_within(fd, 5000));
	uid = 12345;
	r = peer_uid(fd, &uid);
	if (family == AF_UNIX)	/* SO_PEERCRED keeps the connect-time credentials */
		CHECKF(r == 0 && uid == NOBODY, "closed: %d, uid %u", r, uid);
	else
		CHECKF(r == -ENOTCONN && uid == 12345, "closed: %d (%s), uid %u", r, strerror(-r),
		       uid);
	close(fd);
	close(l);
	if (family == AF_UNIX)
		unlink(a.un.sun_path);
}

static void unix_nobody(void)
{
	check_family(AF_UNIX, false, false);
}

static void tcp4_nobody(void)
{
	check_family(AF_INET, false, false);
}

static void tcp6_nobody(void)
{
	check_family(AF_INET6, true, false);
}

static void tcp_mapped_nobody(void)
{
	check_family(AF_INET6, false, true);
}

/* Our own user, over a socketpair and over loopback. */
static void own_user(void)
{
	int sv[2];
	uint32_t uid = 12345;
	union sa a;
	socklen_t len;
	struct client c;

	REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
	CHECK(peer_uid(sv[0], &uid) == 0 && uid == geteuid());
	close(sv[0]);
	close(sv[1]);
	int l = listener(AF_INET, false, &a, &len);
	REQUIRE(l >= 0);
	REQUIRE(client_start(&c, (uid_t)-1, &a, len, false) == 0);
	int fd = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	REQUIRE(fd >= 0);
	uid = 12345;
	CHECK(peer_uid(fd, &uid) == 0 && uid == geteuid());
	client_end(&c, 1);	/* a reset: its socket is gone at once */
	CHECK(eof_within(fd, 5000));
	uid = 12345;
	int r = peer_uid(fd, &uid);
	CHECKF(r < 0 && uid == 12345, "after a reset: %d, uid %u", r, uid);
	close(fd);
	close(l);
}

/* Not a socket at all. */
static void not_a_socket(void)
{
	uint32_t uid;
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

	REQUIRE(fd >= 0);
	CHECK(peer_uid(fd, &uid) == -ENOTSOCK);
	close(fd);
}

static const struct tap_case cases[] = {
	{ "own user: a socketpair, loopback TCP; a reset peer is an error", own_user },
	{ "unix: nobody by SO_PEERCRED, also after it closed", unix_nobody },
	{ "tcp4: nobody by sock_diag; closed: -ENOTCONN, not uid 0", tcp4_nobody },
	{ "tcp6: the same over ::1", tcp6_nobody },
	{ "tcp: an IPv4 client of a dual-stack IPv6 listener", tcp_mapped_nobody },
	{ "not a socket: -ENOTSOCK", not_a_socket },
	{ NULL, NULL },
};

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	int rc = tap_main(argc, argv, cases);
	peer_close();
	return rc;
}
