/* server: start the real ringexecd for a test and stop it again.
 *
 * The binary comes from $RINGEXECD (meson sets it). server_start() runs it
 * with --listen ws://127.0.0.1:0 plus extra args, reads the one URL line from
 * its stdout (deadline 10 s) and returns. Its stderr goes to ours, unless
 * server_start_as() names another fd (and maybe another user).
 */
#ifndef RINGEXEC_SERVER_H
#define RINGEXEC_SERVER_H

#include <sys/types.h>

struct server {
	pid_t pid;
	char url[128];	/* "ws://127.0.0.1:PORT" as printed */
	int port;
};

/* The uid and gid the server runs as ($RINGEXEC_TEST_SERVER_UID/_GID when
 * the test runs as root, else the test's own). */
uid_t server_uid(void);
gid_t server_gid(void);

/* extra: NULL-terminated list of extra arguments, or NULL. 0 or -1. */
int server_start(struct server *s, const char *const *extra);
/* The same, run as uid (its gid the same number, no supplementary groups;
 * (uid_t)-1: as server_start() would, server_uid()), its stderr on err_fd
 * (-1: ours). */
int server_start_as(struct server *s, const char *const *extra, uid_t uid, int err_fd);
/* SIGTERM, wait up to 10 s (then SIGKILL). Returns the wait status. */
int server_stop(struct server *s);

#endif
