/* sysd: the two systemd protocols ringexecd speaks, without libsystemd.
 *
 * Socket activation: LISTEN_PID (must be ours), LISTEN_FDS (how many
 * sockets, from fd 3 on) and LISTEN_FDNAMES (their names, ':'-separated).
 * Readiness: NOTIFY_SOCKET names a unix datagram socket (a path, or
 * "@name" for an abstract one) that gets "READY=1" and "STOPPING=1".
 * Both read their variables once and remove them from the environment,
 * so no process ringexecd starts inherits them. No loop, no HTTP.
 */
#ifndef RINGEXEC_SYSD_H
#define RINGEXEC_SYSD_H

#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>

#define SYSD_LISTEN_FDS_START 3
#define SYSD_MAX_FDS 16
#define SYSD_NAME_MAX 256	/* systemd's FileDescriptorName= limit, with the NUL */

struct sysd_fd {
	int fd;
	char name[SYSD_NAME_MAX];	/* "" when LISTEN_FDNAMES is absent */
};

/* Parse the three values (any may be NULL: unset) for process self into
 * fds[0..*n). *n is 0 when they are not for us: no LISTEN_PID, another
 * pid, or LISTEN_FDS unset or 0. -1 with err when LISTEN_FDS or
 * LISTEN_PID is not a number, LISTEN_FDS is over SYSD_MAX_FDS, or
 * LISTEN_FDNAMES names another number of sockets. Pure. */
int sysd_parse_listen(const char *pid, const char *nfds, const char *names, pid_t self,
		      struct sysd_fd fds[SYSD_MAX_FDS], size_t *n, char *err, size_t errlen);

/* sysd_parse_listen() on this process's environment, then unset it. */
int sysd_listen_fds(struct sysd_fd fds[SYSD_MAX_FDS], size_t *n, char *err, size_t errlen);

/* NOTIFY_SOCKET's value as an address: "/path" or "@abstract". 0, or -1
 * (empty, relative, too long, or another kind such as vsock:). Pure. */
int sysd_notify_addr(const char *value, struct sockaddr_un *sa, socklen_t *len);

/* Read NOTIFY_SOCKET (and unset it). 0 when it is usable or unset; -1
 * with err when it is set and unusable (notifications are then off). */
int sysd_notify_init(char *err, size_t errlen);
/* Send one state line ("READY=1", "STOPPING=1") if NOTIFY_SOCKET was set;
 * never blocks. 0, or -errno. */
int sysd_notify(const char *state);

#endif
