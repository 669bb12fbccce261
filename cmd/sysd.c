/* sysd: socket activation and readiness notification, systemd's way.
 *
 * Owns the parsing of LISTEN_PID / LISTEN_FDS / LISTEN_FDNAMES and of
 * NOTIFY_SOCKET, their removal from the environment, and the notify
 * address. A notification is one datagram on a socket opened for it and
 * closed again (there are two in a server's life), sent without waiting.
 * Must not judge the passed fds (transport/listen adopts and checks them).
 */
#include "sysd.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct sockaddr_un sysd_addr;	/* NOTIFY_SOCKET, when sysd_addr_len > 0 */
static socklen_t sysd_addr_len;

/* A decimal number without sign, spaces or overflow. */
static int sysd_number(const char *s, unsigned long *out)
{
	char *end;
	if (!s || s[0] < '0' || s[0] > '9')
		return -1;
	errno = 0;
	*out = strtoul(s, &end, 10);
	return errno || *end ? -1 : 0;
}

/* Split names at ':' into fds[0..n). -1 when their number is not n. */
static int sysd_names(const char *names, struct sysd_fd *fds, size_t n)
{
	size_t i = 0;
	const char *p = names;
	for (;;) {
		const char *colon = strchr(p, ':');
		size_t len = colon ? (size_t)(colon - p) : strlen(p);
		if (i == n)
			return -1;
		if (len >= sizeof(fds[i].name))
			len = sizeof(fds[i].name) - 1;
		memcpy(fds[i].name, p, len);
		fds[i].name[len] = '\0';
		i++;
		if (!colon)
			break;
		p = colon + 1;
	}
	return i == n ? 0 : -1;
}

int sysd_parse_listen(const char *pid, const char *nfds, const char *names, pid_t self,
		      struct sysd_fd fds[SYSD_MAX_FDS], size_t *n, char *err, size_t errlen)
{
	unsigned long p, k;
	*n = 0;
	if (!pid || !nfds)
		return 0;
	if (sysd_number(pid, &p) < 0) {
		snprintf(err, errlen, "LISTEN_PID=%s is not a process id", pid);
		return -1;
	}
	if (p != (unsigned long)self)
		return 0;	/* meant for a process that has exec'd us, not for us */
	if (sysd_number(nfds, &k) < 0) {
		snprintf(err, errlen, "LISTEN_FDS=%s is not a number", nfds);
		return -1;
	}
	if (k > SYSD_MAX_FDS) {
		snprintf(err, errlen, "LISTEN_FDS=%lu: at most %d sockets can be passed", k,
			 SYSD_MAX_FDS);
		return -1;
	}
	for (size_t i = 0; i < k; i++) {
		fds[i].fd = SYSD_LISTEN_FDS_START + (int)i;
		fds[i].name[0] = '\0';
	}
	if (names && k && sysd_names(names, fds, k) < 0) {
		snprintf(err, errlen, "LISTEN_FDNAMES=%.100s does not name LISTEN_FDS=%lu sockets",
			 names, k);
		return -1;
	}
	*n = k;
	return 0;
}

int sysd_listen_fds(struct sysd_fd fds[SYSD_MAX_FDS], size_t *n, char *err, size_t errlen)
{
	int r = sysd_parse_listen(getenv("LISTEN_PID"), getenv("LISTEN_FDS"),
				  getenv("LISTEN_FDNAMES"), getpid(), fds, n, err, errlen);
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	return r;
}

int sysd_notify_addr(const char *value, struct sockaddr_un *sa, socklen_t *len)
{
	size_t n = value ? strlen(value) : 0;
	if (n < 2 || (value[0] != '/' && value[0] != '@') || n >= sizeof(sa->sun_path))
		return -1;
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	memcpy(sa->sun_path, value, n);
	if (value[0] == '@') {
		sa->sun_path[0] = '\0';	/* abstract: the name is the n bytes, no NUL */
		*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
	} else {
		*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
	}
	return 0;
}

int sysd_notify_init(char *err, size_t errlen)
{
	const char *v = getenv("NOTIFY_SOCKET");
	int r = 0;
	sysd_addr_len = 0;
	if (v && sysd_notify_addr(v, &sysd_addr, &sysd_addr_len) < 0) {
		snprintf(err, errlen, "NOTIFY_SOCKET=%.100s is not a unix socket path or @name; "
			 "no readiness notification", v);
		sysd_addr_len = 0;
		r = -1;
	}
	unsetenv("NOTIFY_SOCKET");
	return r;
}

int sysd_notify(const char *state)
{
	if (!sysd_addr_len)
		return 0;
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	ssize_t w = sendto(fd, state, strlen(state), MSG_NOSIGNAL,
			   (const struct sockaddr *)&sysd_addr, sysd_addr_len);
	int r = w < 0 ? -errno : 0;
	close(fd);
	return r;
}
