/* it_service: ringexecd as systemd runs it.
 *
 * Socket activation by hand (the test binds a TCP and a unix socket and
 * execs ringexecd with them as fds 3 and 4 and LISTEN_PID/LISTEN_FDS/
 * LISTEN_FDNAMES set): both are served, no default listener, the names are
 * logged, a process started with envPolicy inherit-all sees none of the
 * variables, a sandboxed one does not see the passed unix socket, and the
 * socket file (not ours) stays. LISTEN_PID of
 * another process is ignored; --listen with passed sockets, a bad
 * LISTEN_FDS and a passed fd that is no listening socket are errors.
 * Readiness: a datagram socket stands in for systemd's, at a path and
 * abstract; READY=1 comes from the server's pid once it serves, and
 * STOPPING=1 at SIGTERM. Then the same through Debian's
 * systemd-socket-activate, which starts ringexecd on the first connection.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "expect.h"
#include "rpc.h"
#include "tap.h"
#include "wsc.h"

#define T_MS 5000

static char tmpdir[64];

static const char *tmp_path(const char *name)
{
	static char buf[4][128];
	static int n;
	char *p = buf[n++ % 4];

	snprintf(p, sizeof(buf[0]), "%s/%s", tmpdir, name);
	return p;
}

/* ---- sockets to pass ---- */

static int tcp_listener(int *port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, len) < 0 || listen(fd, 64) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) < 0)
		return -1;
	*port = ntohs(sa.sin_port);
	return fd;
}

static int unix_listener(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	unlink(path);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 64) < 0)
		return -1;
	return fd;
}

/* ---- the child ---- */

struct proc {
	pid_t pid;
	int out, err;	/* its stdout and stderr */
};

/* Run argv with env added ("K=V"; "LISTEN_PID=self" becomes the child's
 * own pid) and fds[i] as fd 3 + i. 0 or -1. */
static int proc_start(struct proc *p, const char *const *argv, const char *const *env,
		      const int *fds, int nfds)
{
	int out[2], err[2];

	if (pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0)
		return -1;
	fflush(NULL);
	p->pid = fork();
	if (p->pid < 0)
		return -1;
	if (p->pid == 0) {
		int high[8], devnull = open("/dev/null", O_RDONLY);

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		signal(SIGPIPE, SIG_DFL);
		for (int i = 0; i < nfds; i++)
			high[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 100);
		for (int i = 0; i < nfds; i++)
			if (dup2(high[i], 3 + i) < 0)
				_exit(127);
		for (; env && *env; env++) {
			char pid[16];

			if (!strcmp(*env, "LISTEN_PID=self")) {
				snprintf(pid, sizeof(pid), "%d", (int)getpid());
				setenv("LISTEN_PID", pid, 1);
			} else {
				putenv((char *)*env);
			}
		}
		dup2(devnull, 0);
		dup2(out[1], 1);
		dup2(err[1], 2);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(out[1]);
	close(err[1]);
	p->out = out[0];
	p->err = err[0];
	return 0;
}

/* Everything fd gives until EOF or timeout_ms of silence (malloc'd). */
static char *read_all(int fd, int timeout_ms)
{
	size_t len = 0, cap = 8192;
	char *buf = malloc(cap);

	while (buf && len < cap - 1) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (poll(&p, 1, timeout_ms) <= 0)
			break;
		ssize_t n = read(fd, buf + len, cap - 1 - len);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	if (buf)
		buf[len] = '\0';
	return buf;
}

/* The next n lines of fd into lines[] (each < 128 bytes), within ms. */
static bool read_lines(int fd, char lines[][128], int n, int ms)
{
	int64_t deadline = wsc_now_ms() + ms;
	int got = 0;
	size_t len = 0;

	while (got < n) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		char c;

		if (poll(&p, 1, left_ms(deadline)) <= 0 || read(fd, &c, 1) != 1)
			return false;
		if (c == '\n') {
			lines[got++][len] = '\0';
			len = 0;
		} else if (len < 127) {
			lines[got][len++] = c;
		}
	}
	return true;
}

/* SIGTERM, then its exit status (-1 if it did not exit within T_MS). */
static int proc_stop(struct proc *p, bool term)
{
	int64_t deadline = wsc_now_ms() + T_MS;
	int st = -1;

	if (term)
		kill(p->pid, SIGTERM);
	while (waitpid(p->pid, &st, WNOHANG) == 0) {
		if (wsc_now_ms() >= deadline) {
			kill(p->pid, SIGKILL);
			waitpid(p->pid, &st, 0);
			st = -1;
			break;
		}
		poll(NULL, 0, 10);
	}
	return st;
}

static void proc_close(struct proc *p)
{
	close(p->out);
	close(p->err);
}

/* ---- the stand-in for systemd's notify socket ---- */

struct notify {
	int fd;
	char value[100];	/* what NOTIFY_SOCKET says: a path or @name */
	char env[128];		/* "NOTIFY_SOCKET=..." */
};

static int notify_open(struct notify *n, bool abstract)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	socklen_t len;
	int one = 1;

	if (abstract) {
		snprintf(n->value, sizeof(n->value), "@it_service.%d.notify", (int)getpid());
		memcpy(sa.sun_path, n->value, strlen(n->value));
		sa.sun_path[0] = '\0';
		len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(n->value));
	} else {
		snprintf(n->value, sizeof(n->value), "%s", tmp_path("notify"));
		unlink(n->value);
		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", n->value);
		len = sizeof(sa);
	}
	snprintf(n->env, sizeof(n->env), "NOTIFY_SOCKET=%s", n->value);
	n->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (n->fd < 0 || bind(n->fd, (struct sockaddr *)&sa, len) < 0 ||
	    setsockopt(n->fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) < 0)
		return -1;
	return 0;
}

/* The next datagram within ms: its text, and the sender's pid. */
static bool notify_recv(struct notify *n, char *buf, size_t cap, pid_t *from, int ms)
{
	struct pollfd p = { .fd = n->fd, .events = POLLIN };
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(struct ucred))];
	} ctl;
	struct iovec iov = { .iov_base = buf, .iov_len = cap - 1 };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = &ctl,
			    .msg_controllen = sizeof(ctl) };

	*from = -1;
	if (poll(&p, 1, ms) != 1)
		return false;
	ssize_t len = recvmsg(n->fd, &m, MSG_DONTWAIT);
	if (len < 0)
		return false;
	buf[len] = '\0';
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS) {
			struct ucred cred;
			memcpy(&cred, CMSG_DATA(c), sizeof(cred));
			*from = cred.pid;
		}
	return true;
}

static void notify_close(struct notify *n)
{
	close(n->fd);
	if (n->value[0] == '/')
		unlink(n->value);
}

/* ---- checks over a live server ---- */

/* A session on url: `echo` comes back. */
static bool session_works(const char *url)
{
	struct rpc *r = rpc_open(url);
	const char *argv[] = { "echo", "served", NULL };
	char *out = NULL;
	size_t len;
	int code = -1;

	if (!r)
		return false;
	json_t *resp = rpc_start(r, "e", argv, 0, 0);
	bool ok = resp && json_object_get(resp, "result") &&
		  rpc_collect(r, "e", &out, &len, &code, T_MS) == 0 && out &&
		  !strcmp(out, "served\n") && code == 0;
	json_decref(resp);
	free(out);
	rpc_close(r, 1000, T_MS);
	return ok;
}

/* The environment a process gets with envPolicy inherit all, no excludes. */
static char *inherited_env(const char *url)
{
	struct rpc *r = rpc_open(url);
	char *out = NULL;
	size_t len;
	int code;

	if (!r)
		return NULL;
	json_t *p = json_pack("{s:s, s:[s], s:s, s:{}, s:b, s:{s:s, s:b, s:[], s:[], s:{}}}",
			      "processId", "env", "argv", "/usr/bin/env", "cwd", "/", "env", "tty",
			      0, "envPolicy", "inherit", "all", "ignoreDefaultExcludes", 1,
			      "exclude", "includeOnly", "set");
	json_t *resp = rpc_call(r, "process/start", p, T_MS);
	if (resp && json_object_get(resp, "result"))
		rpc_collect(r, "env", &out, &len, &code, T_MS);
	else
		tap_diag("start: %s", js(resp));
	json_decref(resp);
	rpc_close(r, 1000, T_MS);
	return out;
}

/* Whether path is a socket for a process sandboxed with `root` readable
 * (the read-only policy codex sends; a hidden path is covered by an empty
 * file): 1 yes, 0 no, -1 the start failed. */
static int sandboxed_sees(const char *url, const char *path)
{
	struct rpc *r = rpc_open(url);
	char *out = NULL;
	size_t len;
	int code = -1;

	if (!r)
		return -1;
	json_t *sb = json_pack("{s:s, s:{s:s, s:s, s:{s:s, s:[{s:s, s:{s:s, s:{s:s}}}]}}}", "cwd",
			       "file:///", "permissions", "type", "managed", "network", "restricted",
			       "file_system", "type", "restricted", "entries", "access", "read",
			       "path", "type", "special", "value", "kind", "root");
	json_t *p = json_pack("{s:s, s:[s,s,s], s:s, s:{s:s}, s:b, s:o}", "processId", "sb", "argv",
			      "test", "-S", path, "cwd", "/", "env", "PATH", "/usr/bin:/bin", "tty", 0,
			      "sandbox", sb);
	json_t *resp = rpc_call(r, "process/start", p, T_MS);
	if (resp && json_object_get(resp, "result"))
		rpc_collect(r, "sb", &out, &len, &code, T_MS);
	else
		tap_diag("sandboxed start: %s", js(resp));
	json_decref(resp);
	free(out);
	rpc_close(r, 1000, T_MS);
	return code == 0 ? 1 : code == 1 ? 0 : -1;
}

/* ---- socket activation by hand ---- */

static void passed_sockets_served(void)
{
	const char *bin = getenv("RINGEXECD");
	const char *path = tmp_path("passed.sock");
	int port, fds[2] = { tcp_listener(&port), unix_listener(path) };
	struct notify n;
	struct proc p;
	char lines[2][128], want[2][160];

	REQUIRE(bin && fds[0] >= 0 && fds[1] >= 0 && notify_open(&n, false) == 0);
	const char *env[] = { "LISTEN_PID=self", "LISTEN_FDS=2", "LISTEN_FDNAMES=web:local",
			      n.env, NULL };
	REQUIRE(proc_start(&p, (const char *[]){ bin, "--log-level", "info", NULL }, env, fds, 2) == 0);
	close(fds[0]);
	close(fds[1]);
	REQUIRE(read_lines(p.out, lines, 2, T_MS));
	snprintf(want[0], sizeof(want[0]), "ws://127.0.0.1:%d", port);
	snprintf(want[1], sizeof(want[1]), "unix://%s", path);
	CHECKF(!strcmp(lines[0], want[0]) && !strcmp(lines[1], want[1]), "URL lines: %s | %s",
	       lines[0], lines[1]);
	CHECK(session_works(want[0]));
	CHECK(session_works(want[1]));
	char *env_out = inherited_env(want[0]);
	CHECKF(env_out && strstr(env_out, "PATH=") && !strstr(env_out, "LISTEN_") &&
	       !strstr(env_out, "NOTIFY_SOCKET"), "child env: %s", env_out ? env_out : "(none)");
	free(env_out);
	/* A sandboxed command must not reach the server through systemd's socket either. */
	int seen = sandboxed_sees(want[0], path);
	CHECKF(seen == 0, "a sandboxed `test -S %s`: %d (1: it is reachable)", path, seen);
	int st = proc_stop(&p, true);
	CHECKF(WIFEXITED(st) && WEXITSTATUS(st) == 0, "exit status %#x", st);
	char *err = read_all(p.err, 100);
	CHECKF(err && strstr(err, "(fd 3 from systemd, named \"web\")") &&
	       strstr(err, "(fd 4 from systemd, named \"local\")"), "stderr: %s", err);
	free(err);
	struct stat sb;
	CHECK(stat(path, &sb) == 0 && S_ISSOCK(sb.st_mode));	/* systemd's file, not ours */
	proc_close(&p);
	notify_close(&n);
	unlink(path);
}

/* LISTEN_PID names another process: not for us; --listen is served. */
static void other_pid_ignored(void)
{
	const char *bin = getenv("RINGEXECD");
	int port, fd = tcp_listener(&port);
	struct proc p;
	char line[1][128], passed[64];

	REQUIRE(bin && fd >= 0);
	const char *env[] = { "LISTEN_PID=1", "LISTEN_FDS=1", NULL };
	REQUIRE(proc_start(&p, (const char *[]){ bin, "--listen", "ws://127.0.0.1:0", NULL }, env,
			   &fd, 1) == 0);
	close(fd);
	snprintf(passed, sizeof(passed), "ws://127.0.0.1:%d", port);
	REQUIRE(read_lines(p.out, line, 1, T_MS));
	CHECKF(!strncmp(line[0], "ws://127.0.0.1:", 15) && strcmp(line[0], passed),
	       "URL line %s (passed %s)", line[0], passed);
	CHECK(session_works(line[0]));
	int st = proc_stop(&p, true);
	CHECKF(WIFEXITED(st) && WEXITSTATUS(st) == 0, "exit status %#x", st);
	proc_close(&p);
}

/* Run bin with args, env and fds; its exit status and stderr. */
static int run_status(const char *const *args, const char *const *env, const int *fds, int nfds,
		      char **err)
{
	const char *argv[8] = { getenv("RINGEXECD") };
	struct proc p;
	int n = 1;

	for (; args && *args && n < 7; args++)
		argv[n++] = *args;
	argv[n] = NULL;
	*err = NULL;
	if (!argv[0] || proc_start(&p, argv, env, fds, nfds) < 0)
		return -1;
	int st = proc_stop(&p, false);
	*err = read_all(p.err, 100);
	proc_close(&p);
	return st;
}

static void bad_activation_refused(void)
{
	int port, tcp = tcp_listener(&port);
	int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
	int unlistened = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	const char *one[] = { "LISTEN_PID=self", "LISTEN_FDS=1", NULL };
	char *err;
	int st;

	REQUIRE(tcp >= 0 && devnull >= 0 && unlistened >= 0);
	st = run_status((const char *[]){ "--listen", "ws://127.0.0.1:0", NULL }, one, &tcp, 1, &err);
	CHECKF(WIFEXITED(st) && WEXITSTATUS(st) == 2 && err && strstr(err, "LISTEN_FDS"),
	       "--listen with passed sockets: %#x %s", st, err);
	free(err);
	st = run_status(NULL, one, &devnull, 1, &err);
	CHECKF(WIFEXITED(st) && WEXITSTATUS(st) == 1 && err && strstr(err, "fd 3 is not a socket"),
	       "/dev/null: %#x %s", st, err);
	free(err);
	st = run_status(NULL, one, &unlistened, 1, &err);
	CHECKF(WIFEXITED(st) && WEXITSTATUS(st) == 1 && err &&
	       strstr(err, "fd 3 is not a listening stream socket"), "unlistened: %#x %s", st, err);
	free(err);
	st = run_status(NULL, (const char *[]){ "LISTEN_PID=self", "LISTEN_FDS=two", NULL }, &tcp,
			1, &err);
	CHECKF(WIFEXITED(st) && WEXITSTATUS(st) == 2 && err && strstr(err, "LISTEN_FDS=two"),
	       "LISTEN_FDS=two: %#x %s", st, err);
	free(err);
	st = run_status(NULL, (const char *[]){ "LISTEN_PID=self", "LISTEN_FDS=1",
						"LISTEN_FDNAMES=a:b", NULL }, &tcp, 1, &err);
	CHECKF(WIFEXITED(st) && WEXITSTATUS(st) == 2 && err && strstr(err, "LISTEN_FDNAMES"),
	       "two names for one fd: %#x %s", st, err);
	free(err);
	close(tcp);
	close(devnull);
	close(unlistened);
}

/* ---- readiness ---- */

/* READY=1 from the server's own pid once it serves; STOPPING=1 at SIGTERM. */
static void check_notify(bool abstract)
{
	const char *bin = getenv("RINGEXECD");
	struct notify n;
	struct proc p;
	char msg[256], line[1][128];
	pid_t from;

	REQUIRE(bin && notify_open(&n, abstract) == 0);
	const char *env[] = { n.env, NULL };
	REQUIRE(proc_start(&p, (const char *[]){ bin, "--listen", "ws://127.0.0.1:0", NULL }, env,
			   NULL, 0) == 0);
	CHECKF(notify_recv(&n, msg, sizeof(msg), &from, T_MS) && !strcmp(msg, "READY=1") &&
	       from == p.pid, "first datagram \"%s\" from %d (server %d)", msg, (int)from,
	       (int)p.pid);
	/* Ready means served: the URL is out and a probe gets its answer. */
	REQUIRE(read_lines(p.out, line, 1, 100));
	int st = wsc_http_raw(line[0], "GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n", NULL, T_MS);
	CHECKF(st == 200, "/readyz: %d", st);
	kill(p.pid, SIGTERM);
	CHECKF(notify_recv(&n, msg, sizeof(msg), &from, T_MS) && !strcmp(msg, "STOPPING=1") &&
	       from == p.pid, "second datagram \"%s\" from %d", msg, (int)from);
	st = proc_stop(&p, false);
	CHECKF(WIFEXITED(st) && WEXITSTATUS(st) == 0, "exit status %#x", st);
	CHECK(!notify_recv(&n, msg, sizeof(msg), &from, 0));	/* nothing else was sent */
	proc_close(&p);
	notify_close(&n);
}

static void notify_path(void)
{
	check_notify(false);
}

static void notify_abstract(void)
{
	check_notify(true);
}

/* ---- systemd-socket-activate ---- */

static const char *find_tool(void)
{
	static const char *const where[] = { "/usr/bin/systemd-socket-activate",
					     "/bin/systemd-socket-activate" };
	for (size_t i = 0; i < sizeof(where) / sizeof(where[0]); i++)
		if (access(where[i], X_OK) == 0)
			return where[i];
	return NULL;
}

/* A free port held (bound, not listening, SO_REUSEADDR) so that nobody
 * else takes it while the tool binds it too. */
static int hold_port(int *port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, (struct sockaddr *)&sa, len) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) < 0)
		return -1;
	*port = ntohs(sa.sin_port);
	return fd;
}

/* What /proc/pid/exe points at ends in name. */
static bool exe_is(pid_t pid, const char *name)
{
	char path[64], target[256];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
	n = readlink(path, target, sizeof(target) - 1);
	if (n <= 0)
		return false;
	target[n] = '\0';
	return strlen(target) >= strlen(name) && !strcmp(target + strlen(target) - strlen(name), name);
}

static void socket_activate_tool(void)
{
	const char *tool = find_tool(), *bin = getenv("RINGEXECD");
	const char *path = tmp_path("activate.sock");
	char listen_tcp[64], listen_unix[160], urls[2][128], want[2][160], msg[256];
	struct notify n;
	struct proc p;
	pid_t from;
	int port;

	if (!tool) {
		tap_skip("systemd-socket-activate is not installed (Debian package systemd)");
		return;
	}
	int held = hold_port(&port);
	REQUIRE(bin && held >= 0 && notify_open(&n, true) == 0);
	snprintf(listen_tcp, sizeof(listen_tcp), "127.0.0.1:%d", port);
	snprintf(listen_unix, sizeof(listen_unix), "%s", path);
	unlink(path);
	REQUIRE(proc_start(&p, (const char *[]){ tool, "-l", listen_tcp, "-l", listen_unix,
						 "--fdname=web:local", "-E", n.env, bin, NULL },
			   NULL, NULL, 0) == 0);
	/* The tool says it listens (on stderr) before it waits for a connection. */
	int64_t deadline = wsc_now_ms() + T_MS;
	struct stat sb;
	while (stat(path, &sb) != 0 && wsc_now_ms() < deadline)
		poll(NULL, 0, 10);
	close(held);
	CHECKF(exe_is(p.pid, "systemd-socket-activate"), "ringexecd ran before any connection");
	/* The first connection starts ringexecd; it serves that very one. */
	snprintf(want[1], sizeof(want[1]), "unix://%s", path);
	CHECK(session_works(want[1]));
	CHECKF(notify_recv(&n, msg, sizeof(msg), &from, T_MS) && !strcmp(msg, "READY=1") &&
	       from == p.pid, "datagram \"%s\" from %d", msg, (int)from);
	CHECK(exe_is(p.pid, "ringexecd"));
	REQUIRE(read_lines(p.out, urls, 2, T_MS));
	snprintf(want[0], sizeof(want[0]), "ws://127.0.0.1:%d", port);
	CHECKF(!strcmp(urls[0], want[0]) && !strcmp(urls[1], want[1]), "URL lines: %s | %s",
	       urls[0], urls[1]);
	CHECK(session_works(want[0]));
	kill(p.pid, SIGTERM);
	CHECKF(notify_recv(&n, msg, sizeof(msg), &from, T_MS) && !strcmp(msg, "STOPPING=1"),
	       "datagram \"%s\"", msg);
	int st = proc_stop(&p, false);
	CHECKF(WIFEXITED(st) && WEXITSTATUS(st) == 0, "exit status %#x", st);
	char *err = read_all(p.err, 100);
	CHECKF(err && strstr(err, "named \"web\"") && strstr(err, "named \"local\""), "stderr: %s",
	       err);
	free(err);
	proc_close(&p);
	notify_close(&n);
	unlink(path);
}

static const struct tap_case cases[] = {
	{ "LISTEN_FDS: a passed TCP and unix socket served, named; children see none of it",
	  passed_sockets_served },
	{ "LISTEN_PID of another process: ignored, --listen served", other_pid_ignored },
	{ "--listen with passed sockets, bad LISTEN_FDS, a non-listening fd: errors",
	  bad_activation_refused },
	{ "NOTIFY_SOCKET path: READY=1 from the server once served, STOPPING=1 at SIGTERM",
	  notify_path },
	{ "NOTIFY_SOCKET abstract: the same", notify_abstract },
	{ "systemd-socket-activate: started by the first connection, TCP and unix, notify",
	  socket_activate_tool },
	{ NULL, NULL },
};

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/it_service.XXXXXX");
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	int rc = tap_main(argc, argv, cases);
	static const char *const names[] = { "passed.sock", "activate.sock", "notify" };
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		unlink(tmp_path(names[i]));
	rmdir(tmpdir);
	return rc;
}
