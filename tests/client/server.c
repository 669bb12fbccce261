/* server: run the real ringexecd ($RINGEXECD) for a test, and stop it.
 *
 * Owns the child: fork + exec with a clean signal state, stdin /dev/null,
 * stdout a pipe read only until the URL line (then closed), stderr ours, and
 * SIGTERM as its parent-death signal so a killed test leaves no server behind.
 * Stopping is SIGTERM, a pidfd wait with a deadline, then SIGKILL. With
 * $RINGEXEC_TEST_SERVER_UID set (and the test running as root), the server
 * runs as that uid (and its $RINGEXEC_TEST_SERVER_GID, or the same number).
 */
#include "server.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <grp.h>
#include <sys/wait.h>
#include <unistd.h>

#include "wsc.h"

#define SERVER_START_MS 10000
#define SERVER_STOP_MS 10000

static long server_env_id(const char *name)
{
	const char *v = getenv(name);
	char *end;
	if (!v || !*v)
		return -1;
	long n = strtol(v, &end, 10);
	return *end || n < 0 ? -1 : n;
}

uid_t server_uid(void)
{
	long uid = server_env_id("RINGEXEC_TEST_SERVER_UID");
	return uid >= 0 && getuid() == 0 ? (uid_t)uid : getuid();
}

gid_t server_gid(void)
{
	long uid = server_env_id("RINGEXEC_TEST_SERVER_UID");
	long gid = server_env_id("RINGEXEC_TEST_SERVER_GID");
	if (uid < 0 || getuid() != 0)
		return getgid();
	return (gid_t)(gid >= 0 ? gid : uid);
}

/* In the child: never returns. Only async-signal-safe calls. */
static void server_child(const char *bin, char *const *argv, int out_fd, pid_t parent,
			 uid_t uid, gid_t gid, int err_fd)
{
	static const char msg[] = "server: exec of $RINGEXECD failed\n";
	struct sigaction dfl = { .sa_handler = SIG_DFL };
	sigset_t none;
	int devnull;

	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != parent)
		_exit(127);
	for (int sig = 1; sig < NSIG; sig++)
		sigaction(sig, &dfl, NULL);	/* SIGKILL/SIGSTOP and RT gaps just fail */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (devnull >= 0 && devnull != 0)
		dup2(devnull, 0);
	if (dup2(out_fd, 1) < 0)
		_exit(127);
	if (err_fd >= 0 && dup2(err_fd, 2) < 0)
		_exit(127);
	if (uid != getuid() && (setgroups(0, NULL) < 0 || setgid(gid) < 0 || setuid(uid) < 0))
		_exit(127);
	execv(bin, argv);
	if (write(2, msg, sizeof(msg) - 1) < 0)
		_exit(127);
	_exit(127);
}

/* Reap pid (blocking) and return its wait status, or -1. */
static int server_reap(pid_t pid)
{
	int status;

	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return status;
}

/* Take a URL line into s; 0 or -1 when it is not one. */
static int server_take_url(struct server *s, const char *line)
{
	const char *colon;

	if (strncmp(line, "ws://", 5) != 0 && strncmp(line, "unix://", 7) != 0)
		return -1;
	if (strlen(line) >= sizeof(s->url)) {
		fprintf(stderr, "server: URL line too long: %s\n", line);
		return -1;
	}
	strcpy(s->url, line);
	s->port = 0;
	if (!strncmp(line, "ws://", 5)) {
		colon = strrchr(line, ':');
		if (colon && colon > line + 4)
			s->port = atoi(colon + 1);
	}
	return 0;
}

int server_start(struct server *s, const char *const *extra)
{
	return server_start_as(s, extra, (uid_t)-1, -1);
}

int server_start_as(struct server *s, const char *const *extra, uid_t uid, int err_fd)
{
	const char *bin = getenv("RINGEXECD");
	size_t nextra = 0, len = 0;
	char **argv, buf[4096];
	int pipefd[2], r = -1;
	int64_t deadline;
	pid_t pid, self = getpid();
	bool found = false;

	memset(s, 0, sizeof(*s));
	if (!bin || !*bin) {
		fprintf(stderr, "server: RINGEXECD is not set (it names the ringexecd binary)\n");
		return -1;
	}
	while (extra && extra[nextra])
		nextra++;
	argv = calloc(nextra + 4, sizeof(*argv));
	if (!argv)
		return -1;
	argv[0] = (char *)bin;
	argv[1] = (char *)"--listen";
	argv[2] = (char *)"ws://127.0.0.1:0";
	for (size_t i = 0; i < nextra; i++)
		argv[3 + i] = (char *)extra[i];
	if (pipe2(pipefd, O_CLOEXEC) < 0) {
		perror("server: pipe2");
		free(argv);
		return -1;
	}
	gid_t gid = uid == (uid_t)-1 ? server_gid() : (gid_t)uid;
	if (uid == (uid_t)-1)
		uid = server_uid();
	fflush(NULL);	/* no duplicated stdio buffers in the child */
	pid = fork();
	if (pid < 0) {
		perror("server: fork");
		close(pipefd[0]);
		close(pipefd[1]);
		free(argv);
		return -1;
	}
	if (pid == 0)
		server_child(bin, argv, pipefd[1], self, uid, gid, err_fd);
	free(argv);
	close(pipefd[1]);

	deadline = wsc_now_ms() + SERVER_START_MS;
	while (!found) {
		struct pollfd p = { .fd = pipefd[0], .events = POLLIN };
		int64_t left = deadline - wsc_now_ms();
		char *nl;
		ssize_t n;

		if (left <= 0) {
			fprintf(stderr, "server: no URL line from %s within %d ms\n", bin,
				SERVER_START_MS);
			break;
		}
		if (poll(&p, 1, (int)left) < 0 && errno != EINTR)
			break;
		if (!p.revents)
			continue;
		n = read(pipefd[0], buf + len, sizeof(buf) - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			fprintf(stderr, "server: %s closed stdout without printing a URL\n", bin);
			break;
		}
		len += (size_t)n;
		buf[len] = '\0';
		while (!found && (nl = memchr(buf, '\n', len)) != NULL) {
			size_t ll = (size_t)(nl - buf);

			*nl = '\0';
			if (ll && buf[ll - 1] == '\r')
				buf[ll - 1] = '\0';
			if (server_take_url(s, buf) == 0)
				found = true;
			else if (*buf)
				fprintf(stderr, "server: stdout: %s\n", buf);
			memmove(buf, nl + 1, len - ll - 1);
			len -= ll + 1;
			buf[len] = '\0';
		}
		if (len == sizeof(buf) - 1) {
			fprintf(stderr, "server: stdout line too long\n");
			break;
		}
	}
	close(pipefd[0]);
	if (found) {
		s->pid = pid;
		return 0;
	}
	kill(pid, SIGKILL);
	r = server_reap(pid);
	if (r >= 0 && WIFEXITED(r))
		fprintf(stderr, "server: %s exited with status %d\n", bin, WEXITSTATUS(r));
	else if (r >= 0 && WIFSIGNALED(r) && WTERMSIG(r) != SIGKILL)
		fprintf(stderr, "server: %s died of signal %d\n", bin, WTERMSIG(r));
	memset(s, 0, sizeof(*s));
	return -1;
}

int server_stop(struct server *s)
{
	int64_t deadline = wsc_now_ms() + SERVER_STOP_MS;
	bool gone = false;
	int pidfd, status;

	if (s->pid <= 0)
		return -1;
	kill(s->pid, SIGTERM);
	pidfd = pidfd_open(s->pid, 0);
	while (!gone) {
		int64_t left = deadline - wsc_now_ms();

		if (left <= 0)
			break;
		if (pidfd >= 0) {
			struct pollfd p = { .fd = pidfd, .events = POLLIN };

			if (poll(&p, 1, (int)left) > 0)
				gone = true;
		} else {
			/* No pidfd: look every 10 ms. */
			siginfo_t si = { 0 };

			if (waitid(P_PID, (id_t)s->pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 &&
			    si.si_pid == s->pid)
				gone = true;
			else
				poll(NULL, 0, 10);
		}
	}
	if (pidfd >= 0)
		close(pidfd);
	if (!gone) {
		fprintf(stderr, "server: pid %d ignored SIGTERM for %d ms; SIGKILL\n", (int)s->pid,
			SERVER_STOP_MS);
		kill(s->pid, SIGKILL);
	}
	status = server_reap(s->pid);
	s->pid = 0;
	return status;
}
