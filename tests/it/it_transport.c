/* it_transport: the ways in to ringexecd, end to end.
 *
 * Covers --listen unix:// (a session over it, mode 0600, a stale socket file
 * replaced, a live one refused, the file removed at exit), ws://[::1]
 * (skipped without IPv6 loopback), --listen stdio driven through pipes
 * (replies and notifications as lines, EOF kills the processes and exits 0,
 * an over-long line exits 1), keep-alive pings (answered: kept; unanswered:
 * closed with 1001), the bearer token (file, env, 401, /readyz open, exit 2
 * on an empty file, no non-loopback warning) and --max-connections (503).
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "expect.h"
#include "rpc.h"
#include "server.h"
#include "tap.h"
#include "wsc.h"

#define T_MS 5000	/* deadline of one request/response */
#define WS_KEY "dGhlIHNhbXBsZSBub25jZQ=="

/* ---- helpers ---- */

static char tmpdir[64];

/* A fresh path in this run's temporary directory. */
static const char *tmp_path(const char *name)
{
	static char buf[4][128];
	static int n;
	char *p = buf[n++ % 4];

	snprintf(p, sizeof(buf[0]), "%s/%s", tmpdir, name);
	return p;
}

/* Start a process over r and collect it; returns its output (malloc'd) or NULL. */
static char *run_echo(struct rpc *r, const char *id, const char *word, int *code)
{
	const char *argv[] = { "echo", word, NULL };
	json_t *resp = rpc_start(r, id, argv, 0, 0);
	char *out = NULL;
	size_t len;

	*code = -1;
	if (!resp || !json_object_get(resp, "result")) {
		tap_diag("process/start: %s", js(resp));
		json_decref(resp);
		return NULL;
	}
	json_decref(resp);
	if (rpc_collect(r, id, &out, &len, code, T_MS) < 0) {
		free(out);
		return NULL;
	}
	return out;
}

/* A whole session on url: handshake, echo, output and exit code. */
static void check_session(const char *url)
{
	struct rpc *r = rpc_open(url);
	char *out;
	int code;

	REQUIREF(r, "rpc_open(%s)", url);
	out = run_echo(r, "e", "hello", &code);
	CHECKF(out && !strcmp(out, "hello\n"), "output \"%s\"", out ? out : "(none)");
	CHECKF(code == 0, "exit code %d", code);
	free(out);
	rpc_close(r, 1000, T_MS);
}

/* A ringexecd child with pipes; any fd pointer may be NULL (then /dev/null
 * for stdin and stdout, our stderr for stderr). Returns the pid or -1. */
static pid_t spawn_server(const char *const *args, int *in_fd, int *out_fd, int *err_fd)
{
	const char *bin = getenv("RINGEXECD");
	const char *argv[32];
	int in[2] = { -1, -1 }, out[2] = { -1, -1 }, err[2] = { -1, -1 };
	size_t n = 0;
	pid_t pid;

	if (!bin)
		return -1;
	argv[n++] = bin;
	for (; args && *args && n < 31; args++)
		argv[n++] = *args;
	argv[n] = NULL;
	if ((in_fd && pipe2(in, O_CLOEXEC) < 0) || (out_fd && pipe2(out, O_CLOEXEC) < 0) ||
	    (err_fd && pipe2(err, O_CLOEXEC) < 0))
		return -1;
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		int devnull = open("/dev/null", O_RDWR);

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		signal(SIGPIPE, SIG_DFL);
		dup2(in_fd ? in[0] : devnull, 0);
		dup2(out_fd ? out[1] : devnull, 1);
		if (err_fd)
			dup2(err[1], 2);
		execv(bin, (char *const *)argv);
		_exit(127);
	}
	if (in_fd) {
		close(in[0]);
		*in_fd = in[1];
	}
	if (out_fd) {
		close(out[1]);
		*out_fd = out[0];
	}
	if (err_fd) {
		close(err[1]);
		*err_fd = err[0];
	}
	return pid;
}

/* Wait for pid with a deadline; its wait status, or -1 (then it is killed). */
static int wait_exit(pid_t pid, int timeout_ms)
{
	int64_t deadline = wsc_now_ms() + timeout_ms;
	int status;

	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid)
			return status;
		if (r < 0 && errno != EINTR)
			return -1;
		if (wsc_now_ms() >= deadline)
			break;
		poll(NULL, 0, 10);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return -1;
}

/* Read everything from fd until EOF (deadline); malloc'd, NUL-terminated. */
static char *read_all(int fd, int timeout_ms)
{
	int64_t deadline = wsc_now_ms() + timeout_ms;
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap);

	while (buf) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, left_ms(deadline)) <= 0)
			break;
		if (len + 1024 > cap) {
			char *nb = realloc(buf, cap * 2);

			if (!nb)
				break;
			buf = nb;
			cap *= 2;
		}
		n = read(fd, buf + len, cap - 1 - len);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	if (buf)
		buf[len] = '\0';
	return buf;
}

/* The exit status of ringexecd with these args (stderr captured in *err). */
static int run_server(const char *const *args, char **err)
{
	int efd;
	pid_t pid = spawn_server(args, NULL, NULL, &efd);
	int st;

	if (pid < 0)
		return -1;
	st = wait_exit(pid, T_MS);
	*err = read_all(efd, 100);
	close(efd);
	return st;
}

/* ---- line reader for stdio mode ---- */

struct lines {
	int fd;
	char buf[1 << 16];
	size_t len;
};

/* The next line as JSON (new reference), or NULL on timeout/EOF/bad JSON. */
static json_t *next_line(struct lines *l, int timeout_ms)
{
	int64_t deadline = wsc_now_ms() + timeout_ms;

	for (;;) {
		char *nl = memchr(l->buf, '\n', l->len);

		if (nl) {
			json_error_t e;
			size_t n = (size_t)(nl - l->buf);
			json_t *j = json_loadb(l->buf, n, 0, &e);

			if (!j)
				tap_diag("stdout line is not JSON: %.*s", (int)n, l->buf);
			memmove(l->buf, nl + 1, l->len - n - 1);
			l->len -= n + 1;
			return j;
		}
		struct pollfd p = { .fd = l->fd, .events = POLLIN };

		if (l->len == sizeof(l->buf) || poll(&p, 1, left_ms(deadline)) <= 0)
			return NULL;
		ssize_t r = read(l->fd, l->buf + l->len, sizeof(l->buf) - l->len);
		if (r <= 0)
			return NULL;
		l->len += (size_t)r;
	}
}

/* The reply with this id; notifications on the way go to the backlog array. */
static json_t *reply_for(struct lines *l, json_int_t id, json_t *backlog)
{
	json_t *j;

	while ((j = next_line(l, T_MS)) != NULL) {
		json_t *jid = json_object_get(j, "id");

		if (json_is_integer(jid) && json_integer_value(jid) == id)
			return j;
		json_array_append_new(backlog, j);
	}
	return NULL;
}

static int write_line(int fd, const char *s)
{
	size_t n = strlen(s);

	return write(fd, s, n) == (ssize_t)n && write(fd, "\n", 1) == 1 ? 0 : -1;
}

static const char *method_of(const json_t *j)
{
	return json_string_value(json_object_get(j, "method"));
}

static const char *param_str(const json_t *j, const char *key)
{
	return json_string_value(json_object_get(json_object_get(j, "params"), key));
}

/* server_start() with --session-ttl 0 first: a server stopped with a
 * detached session left would have it reported as a leak under ASan, and
 * these cases are about the transport, not resuming. A --listen in extra
 * overrides the default one (the last flag wins). */
static int start_server(struct server *s, const char *const *extra)
{
	const char *args[16] = { "--session-ttl", "0" };
	size_t n = 2;

	for (; extra && *extra && n < 15; extra++)
		args[n++] = *extra;
	args[n] = NULL;
	return server_start(s, args);
}

/* ---- unix sockets ---- */

static void unix_socket_session_and_mode(void)
{
	const char *path = tmp_path("a.sock");
	char want[160], arg[160];
	struct server s;
	struct stat st;
	int status;

	snprintf(arg, sizeof(arg), "unix://%s", path);
	REQUIRE(start_server(&s, (const char *[]){ "--listen", arg, NULL }) == 0);
	snprintf(want, sizeof(want), "unix://%s", path);
	CHECKF(!strcmp(s.url, want), "URL line \"%s\"", s.url);
	CHECK(lstat(path, &st) == 0 && S_ISSOCK(st.st_mode));
	CHECKF((st.st_mode & 07777) == 0600, "mode %o", (unsigned)(st.st_mode & 07777));
	check_session(s.url);
	/* /readyz over the unix socket too */
	CHECK(wsc_http_raw(s.url, "GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n", NULL, T_MS) == 200);
	status = server_stop(&s);
	CHECKF(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %#x", status);
	CHECKF(lstat(path, &st) < 0 && errno == ENOENT, "the socket file is still there");
}

static void unix_stale_socket_is_replaced(void)
{
	const char *path = tmp_path("stale.sock");
	struct sockaddr_un un = { .sun_family = AF_UNIX };
	char arg[160];
	struct server s;
	struct stat st;
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	/* Bound and closed without listening: a file nobody answers on. */
	snprintf(un.sun_path, sizeof(un.sun_path), "%s", path);
	REQUIRE(fd >= 0 && bind(fd, (struct sockaddr *)&un, sizeof(un)) == 0);
	close(fd);
	REQUIRE(lstat(path, &st) == 0 && S_ISSOCK(st.st_mode));
	snprintf(arg, sizeof(arg), "unix://%s", path);
	REQUIRE(start_server(&s, (const char *[]){ "--listen", arg, NULL }) == 0);
	CHECK(lstat(path, &st) == 0 && (st.st_mode & 07777) == 0600);
	check_session(s.url);
	server_stop(&s);
}

static void unix_live_socket_is_refused(void)
{
	const char *path = tmp_path("live.sock");
	const char *file = tmp_path("plain-file");
	char arg[160], arg2[160], *err = NULL;
	struct server s;
	int st, fd;

	snprintf(arg, sizeof(arg), "unix://%s", path);
	REQUIRE(start_server(&s, (const char *[]){ "--listen", arg, NULL }) == 0);
	st = run_server((const char *[]){ "--listen", arg, NULL }, &err);
	CHECKF(WIFEXITED(st) && WEXITSTATUS(st) == 1, "second server: status %#x", st);
	CHECKF(err && strstr(err, "listening"), "stderr: %s", err ? err : "(none)");
	free(err);
	/* The first one still serves on its file. */
	check_session(s.url);
	server_stop(&s);

	/* A path holding something that is not a socket is never removed. */
	fd = open(file, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	REQUIRE(fd >= 0);
	close(fd);
	snprintf(arg2, sizeof(arg2), "unix://%s", file);
	st = run_server((const char *[]){ "--listen", arg2, NULL }, &err);
	CHECKF(WIFEXITED(st) && WEXITSTATUS(st) == 1, "status %#x, stderr %s", st, err);
	CHECK(access(file, F_OK) == 0);
	free(err);
	/* Relative paths are not unix:///path URLs. */
	st = run_server((const char *[]){ "--listen", "unix://relative.sock", NULL }, &err);
	CHECKF(WIFEXITED(st) && WEXITSTATUS(st) == 2, "status %#x", st);
	free(err);
}

/* ---- IPv6 ---- */

static bool have_ipv6_loopback(void)
{
	struct sockaddr_in6 sa = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	int fd = socket(AF_INET6, SOCK_STREAM, 0);
	bool ok = fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;

	if (fd >= 0)
		close(fd);
	return ok;
}

static void ipv6_loopback_session(void)
{
	struct server s;

	if (!have_ipv6_loopback()) {
		tap_skip("no IPv6 loopback on this machine");
		return;
	}
	REQUIRE(start_server(&s, (const char *[]){ "--listen", "ws://[::1]:0", NULL }) == 0);
	CHECKF(!strncmp(s.url, "ws://[::1]:", 11) && s.port > 0, "URL line \"%s\"", s.url);
	check_session(s.url);
	server_stop(&s);
}

/* ---- stdio ---- */

#define INIT_LINE "{\"id\":1,\"method\":\"initialize\",\"params\":{\"clientName\":\"it\"}}"
#define INITIALIZED_LINE "{\"method\":\"initialized\"}"

static void stdio_session_and_eof(void)
{
	static struct lines l;
	json_t *backlog = json_array(), *j;
	int in, out;
	pid_t pid = spawn_server((const char *[]){ "--listen", "stdio", NULL }, &in, &out, NULL);
	long sleeper = 0;
	bool exited = false, closed = false, got_hi = false;
	int st;

	REQUIRE(pid > 0);
	l.fd = out;
	l.len = 0;
	REQUIRE(write_line(in, INIT_LINE) == 0 && write_line(in, INITIALIZED_LINE) == 0);
	j = reply_for(&l, 1, backlog);
	CHECKF(json_is_string(json_object_get(json_object_get(j, "result"), "sessionId")),
	       "initialize: %s", js(j));
	json_decref(j);
	REQUIRE(write_line(in, "{\"id\":2,\"method\":\"process/start\",\"params\":{\"processId\":\"hi\","
			       "\"argv\":[\"echo\",\"hi\"],\"cwd\":\"/\",\"env\":{\"PATH\":\"/usr/bin:/bin\"},"
			       "\"tty\":false}}") == 0);
	REQUIRE(write_line(in, "{\"id\":3,\"method\":\"process/start\",\"params\":{\"processId\":\"s\","
			       "\"argv\":[\"sh\",\"-c\",\"echo $$; exec sleep 30\"],\"cwd\":\"/\","
			       "\"env\":{\"PATH\":\"/usr/bin:/bin\"},\"tty\":false}}") == 0);
	j = reply_for(&l, 2, backlog);
	CHECKF(str_is(json_object_get(json_object_get(j, "result"), "processId"), "hi"),
	       "start hi: %s", js(j));
	json_decref(j);
	j = reply_for(&l, 3, backlog);
	CHECKF(str_is(json_object_get(json_object_get(j, "result"), "processId"), "s"),
	       "start s: %s", js(j));
	json_decref(j);
	/* A bad line gets the parse error naming the peer "stdio". */
	REQUIRE(write_line(in, "not json") == 0);

	/* Notifications: hi's output/exited/closed, the sleeper's pid, the parse error. */
	int64_t deadline = wsc_now_ms() + T_MS;
	bool parse_err = false;
	size_t i = 0;
	while ((!closed || !sleeper || !parse_err) && wsc_now_ms() < deadline) {
		if (i < json_array_size(backlog)) {
			j = json_incref(json_array_get(backlog, i++));
		} else if ((j = next_line(&l, left_ms(deadline))) == NULL) {
			break;
		}
		const char *m = method_of(j), *pid_s = param_str(j, "processId");
		if (m && !strcmp(m, "process/output") && pid_s) {
			size_t n;
			char *b = rpc_unb64(param_str(j, "chunk"), &n);

			if (b && !strcmp(pid_s, "hi"))
				got_hi |= n == 3 && !memcmp(b, "hi\n", 3);
			else if (b && !strcmp(pid_s, "s"))
				sleeper = strtol(b, NULL, 10);
			free(b);
		} else if (m && !strcmp(m, "process/exited") && pid_s && !strcmp(pid_s, "hi")) {
			exited = true;
		} else if (m && !strcmp(m, "process/closed") && pid_s && !strcmp(pid_s, "hi")) {
			closed = true;
		} else if (err_code(j) == -32600) {
			const char *em = err_msg(j);

			parse_err = em && strstr(em, "exec-server websocket stdio: ");
		}
		json_decref(j);
	}
	CHECK(got_hi);
	CHECK(exited);
	CHECK(closed);
	CHECK(parse_err);
	CHECKF(sleeper > 1, "sleeper pid %ld", sleeper);
	if (sleeper > 1)
		CHECK(kill((pid_t)sleeper, 0) == 0);

	/* EOF: the server kills its processes and exits 0. */
	close(in);
	st = wait_exit(pid, T_MS);
	CHECKF(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %#x", st);
	if (sleeper > 1) {
		int64_t gone_by = wsc_now_ms() + 2000;

		while (kill((pid_t)sleeper, 0) == 0 && wsc_now_ms() < gone_by)
			poll(NULL, 0, 10);
		CHECKF(kill((pid_t)sleeper, 0) < 0 && errno == ESRCH, "pid %ld still there", sleeper);
	}
	close(out);
	json_decref(backlog);
}

/* stdio has no binary frames: binaryOutput is answered false and output stays JSON. */
static void stdio_binary_output_is_false(void)
{
	static struct lines l;
	json_t *backlog = json_array(), *j;
	int in, out, st;
	pid_t pid = spawn_server((const char *[]){ "--listen", "stdio", NULL }, &in, &out, NULL);
	bool got_hi = false, closed = false;

	REQUIRE(pid > 0);
	l.fd = out;
	l.len = 0;
	REQUIRE(write_line(in, "{\"id\":1,\"method\":\"initialize\",\"params\":{\"clientName\":"
			       "\"it\",\"binaryOutput\":true}}") == 0 &&
		write_line(in, INITIALIZED_LINE) == 0);
	j = reply_for(&l, 1, backlog);
	CHECKF(json_is_false(json_object_get(json_object_get(j, "result"), "binaryOutput")),
	       "initialize: %s", js(j));
	json_decref(j);
	REQUIRE(write_line(in, "{\"id\":2,\"method\":\"process/start\",\"params\":{\"processId\":\"hi\","
			       "\"argv\":[\"echo\",\"hi\"],\"cwd\":\"/\",\"env\":{},\"tty\":false}}") == 0);
	j = reply_for(&l, 2, backlog);
	CHECKF(json_object_get(j, "result"), "start: %s", js(j));
	json_decref(j);
	for (size_t i = 0; !closed;) {
		if (i < json_array_size(backlog))
			j = json_incref(json_array_get(backlog, i++));
		else if ((j = next_line(&l, T_MS)) == NULL)
			break;
		const char *m = method_of(j);
		if (m && !strcmp(m, "process/output")) {
			size_t n;
			char *b = rpc_unb64(param_str(j, "chunk") ?: "", &n);

			got_hi |= b && n == 3 && !memcmp(b, "hi\n", 3);
			free(b);
		}
		closed |= m && !strcmp(m, "process/closed");
		json_decref(j);
	}
	CHECK(got_hi);
	CHECK(closed);
	close(in);
	st = wait_exit(pid, T_MS);
	CHECKF(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %#x", st);
	close(out);
	json_decref(backlog);
}

static void stdio_overlong_line_exits_1(void)
{
	char line[300];
	int in, out, efd, st;
	pid_t pid = spawn_server((const char *[]){ "--listen", "stdio", "--max-message", "100", NULL },
				 &in, &out, &efd);
	char *err;

	REQUIRE(pid > 0);
	memset(line, 'x', sizeof(line) - 1);
	line[sizeof(line) - 1] = '\0';
	CHECK(write_line(in, line) == 0);
	st = wait_exit(pid, T_MS);
	CHECKF(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 1, "status %#x", st);
	err = read_all(efd, 200);
	CHECKF(err && strstr(err, "--max-message"), "stderr: %s", err ? err : "(none)");
	free(err);
	close(in);
	close(out);
	close(efd);
}

/* ---- pings ---- */

static void ping_answered_keeps_connection(void)
{
	struct server s;
	struct wsc *c;
	struct rpc *r;
	int64_t until;

	REQUIRE(start_server(&s, (const char *[]){ "--ping-interval-ms", "100", NULL }) == 0);
	REQUIRE(wsc_connect(&c, s.url, NULL, T_MS) == 0);
	/* wsc_recv answers every ping; nothing else arrives. */
	until = wsc_now_ms() + 1000;
	while (wsc_now_ms() < until) {
		struct wsc_msg m = { 0 };
		int rc = wsc_recv(c, &m, left_ms(until));

		if (rc == -ETIMEDOUT)
			break;
		CHECKF(rc == 0 && m.kind != WSC_CLOSED, "wsc_recv = %d, kind %d, code %d", rc, m.kind,
		       m.close_code);
		free(m.data);
		if (rc || m.kind == WSC_CLOSED)
			break;
	}
	r = rpc_new(c);
	CHECK(rpc_handshake(r) == 0);
	rpc_close(r, 1000, T_MS);
	server_stop(&s);
}

static void ping_unanswered_closes(void)
{
	char req[256], buf[4096];
	struct server s;
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001) };
	size_t len = 0;
	int fd;
	bool eof = false;

	REQUIRE(start_server(&s, (const char *[]){ "--ping-interval-ms", "100", NULL }) == 0);
	sa.sin_port = htons((uint16_t)s.port);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	REQUIRE(fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	snprintf(req, sizeof(req),
		 "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
		 "Sec-WebSocket-Key: " WS_KEY "\r\nSec-WebSocket-Version: 13\r\n\r\n");
	REQUIRE(write(fd, req, strlen(req)) == (ssize_t)strlen(req));
	int64_t start = wsc_now_ms();
	/* Never answer; read only to see the end: pings, then close 1001, then EOF. */
	poll(NULL, 0, 500);
	while (!eof && wsc_now_ms() - start < 3000 && len < sizeof(buf)) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, 100) <= 0)
			continue;
		n = read(fd, buf + len, sizeof(buf) - len);
		if (n <= 0)
			eof = true;
		else
			len += (size_t)n;
	}
	int64_t took = wsc_now_ms() - start;
	CHECKF(eof && took < 1500, "eof %d after %lld ms", eof, (long long)took);
	char *body = memmem(buf, len, "\r\n\r\n", 4);
	REQUIRE(body && !strncmp(buf, "HTTP/1.1 101", 12));
	body += 4;
	size_t blen = len - (size_t)(body - buf);
	static const uint8_t ping[2] = { 0x89, 0x00 }, close1001[4] = { 0x88, 0x02, 0x03, 0xe9 };
	CHECKF(blen == 8 && !memcmp(body, ping, 2) && !memcmp(body + 2, ping, 2) &&
	       !memcmp(body + 4, close1001, 4), "%zu frame bytes after the 101", blen);
	close(fd);
	server_stop(&s);
}

/* ---- auth ---- */

/* An upgrade with these headers: the HTTP status (101 is 0 from wsc_connect). */
static int upgrade_status(const char *url, const char *headers)
{
	struct wsc *c;
	int st = wsc_connect(&c, url, headers, T_MS);

	if (st == 0) {
		wsc_abort(c);
		return 101;
	}
	return st;
}

static void check_auth(const struct server *s, const char *token)
{
	char good[600], bad[600], req[256], *body = NULL;
	struct wsc *c;
	struct rpc *r;
	int st;

	snprintf(good, sizeof(good), "Authorization: Bearer %s\r\n", token);
	snprintf(bad, sizeof(bad), "Authorization: Bearer %sx\r\n", token);
	CHECKF((st = upgrade_status(s->url, NULL)) == 401, "no token: %d", st);
	CHECKF((st = upgrade_status(s->url, bad)) == 401, "wrong token: %d", st);
	CHECKF((st = upgrade_status(s->url, "Authorization: Basic Zm9vOmJhcg==\r\n")) == 401,
	       "basic auth: %d", st);
	CHECKF((st = upgrade_status(s->url, "Authorization: Bearer\r\n")) == 401, "empty: %d", st);
	/* The 401 names the scheme. */
	snprintf(req, sizeof(req),
		 "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
		 "Sec-WebSocket-Key: " WS_KEY "\r\nSec-WebSocket-Version: 13\r\n\r\n");
	CHECK(wsc_http_raw(s->url, req, NULL, T_MS) == 401);
	/* /readyz and /livez stay open. */
	st = wsc_http_raw(s->url, "GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n", &body, T_MS);
	CHECKF(st == 200 && body && !strcmp(body, "ok"), "/readyz: %d", st);
	free(body);
	CHECK(wsc_http_raw(s->url, "GET /livez HTTP/1.1\r\nHost: x\r\n\r\n", NULL, T_MS) == 200);
	/* The right token: 101 and a working session. */
	st = wsc_connect(&c, s->url, good, T_MS);
	REQUIREF(st == 0, "right token: %d", st);
	r = rpc_new(c);
	REQUIRE(rpc_handshake(r) == 0);
	int code;
	char *out = run_echo(r, "a", "authed", &code);
	CHECKF(out && !strcmp(out, "authed\n") && code == 0, "output \"%s\"", out ? out : "(none)");
	free(out);
	rpc_close(r, 1000, T_MS);
}

/* The raw 401 response, for its WWW-Authenticate header. */
static void check_401_header(int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001),
				  .sin_port = htons((uint16_t)port) };
	static const char req[] = "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
				  "Connection: Upgrade\r\nSec-WebSocket-Key: " WS_KEY "\r\n"
				  "Sec-WebSocket-Version: 13\r\n\r\n";
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	char *resp;

	REQUIRE(fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	REQUIRE(write(fd, req, sizeof(req) - 1) == (ssize_t)(sizeof(req) - 1));
	resp = read_all(fd, T_MS);
	CHECKF(resp && !strncmp(resp, "HTTP/1.1 401 ", 13) &&
	       strstr(resp, "\r\nWWW-Authenticate: Bearer\r\n"), "response: %s", resp);
	free(resp);
	close(fd);
}

static void auth_token_from_file(void)
{
	const char *file = tmp_path("token");
	char arg[160];
	struct server s;
	FILE *f = fopen(file, "w");

	REQUIRE(f);
	fputs("s3cret-Token_42\n", f);	/* one trailing newline is not part of it */
	fclose(f);
	snprintf(arg, sizeof(arg), "%s", file);
	REQUIRE(start_server(&s, (const char *[]){ "--auth-token-file", arg, NULL }) == 0);
	check_auth(&s, "s3cret-Token_42");
	check_401_header(s.port);
	/* A prefix of the token is not the token. */
	CHECK(upgrade_status(s.url, "Authorization: Bearer s3cret\r\n") == 401);
	server_stop(&s);
}

static void auth_token_from_env(void)
{
	struct server s;
	int rc;

	setenv("RINGEXEC_AUTH_TOKEN", "from-the-env", 1);
	rc = start_server(&s, NULL);
	unsetenv("RINGEXEC_AUTH_TOKEN");
	REQUIRE(rc == 0);
	check_auth(&s, "from-the-env");
	/* lower-case scheme is the same scheme */
	CHECK(upgrade_status(s.url, "Authorization: bearer from-the-env\r\n") == 101);
	server_stop(&s);
}

static void auth_bad_token_file_exits_2(void)
{
	const char *empty = tmp_path("empty-token");
	char *err = NULL;
	FILE *f = fopen(empty, "w");
	int st;

	REQUIRE(f);
	fputs("\n", f);
	fclose(f);
	st = run_server((const char *[]){ "--auth-token-file", empty, NULL }, &err);
	CHECKF(WIFEXITED(st) && WEXITSTATUS(st) == 2, "empty: status %#x, stderr %s", st, err);
	free(err);
	st = run_server((const char *[]){ "--auth-token-file", tmp_path("missing"), NULL }, &err);
	CHECKF(WIFEXITED(st) && WEXITSTATUS(st) == 2, "missing: status %#x, stderr %s", st, err);
	free(err);
}

/* Non-loopback: a warning without a token, none with one. */
static void auth_nonloopback_warning(void)
{
	const char *file = tmp_path("token2");
	FILE *f = fopen(file, "w");
	const char *with[] = { "--listen", "ws://0.0.0.0:0", "--auth-token-file", file, NULL };
	const char *without[] = { "--listen", "ws://0.0.0.0:0", NULL };
	const char *const *cases[] = { without, with };

	REQUIRE(f);
	fputs("tok", f);
	fclose(f);
	for (int i = 0; i < 2; i++) {
		int out, efd;
		pid_t pid = spawn_server(cases[i], NULL, &out, &efd);
		struct pollfd p = { .fd = out, .events = POLLIN };
		char url[128], *err;

		REQUIRE(pid > 0);
		/* the URL line means start-up (and its warnings) is done */
		CHECK(poll(&p, 1, T_MS) == 1 && read(out, url, sizeof(url)) > 0);
		kill(pid, SIGTERM);
		wait_exit(pid, T_MS);
		err = read_all(efd, 500);
		if (i == 0)
			CHECKF(err && strstr(err, "without authentication"), "stderr: %s", err);
		else
			CHECKF(err && !strstr(err, "warn"), "stderr: %s", err);
		free(err);
		close(out);
		close(efd);
	}
}

/* ---- connection limit ---- */

static void max_connections_503(void)
{
	struct server s;
	struct wsc *a, *b, *c;
	int st;

	REQUIRE(start_server(&s, (const char *[]){ "--max-connections", "2", NULL }) == 0);
	REQUIRE(wsc_connect(&a, s.url, NULL, T_MS) == 0);
	REQUIRE(wsc_connect(&b, s.url, NULL, T_MS) == 0);
	st = wsc_connect(&c, s.url, NULL, T_MS);
	CHECKF(st == 503, "third connection: %d", st);
	if (st == 0)
		wsc_abort(c);
	/* /readyz counts as a connection too */
	st = wsc_http_raw(s.url, "GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n", NULL, T_MS);
	CHECKF(st == 503, "/readyz: %d", st);
	/* One leaves: room again (once the server has seen it go). */
	wsc_close(a, 1000, T_MS);
	int64_t deadline = wsc_now_ms() + T_MS;
	do {
		st = wsc_connect(&c, s.url, NULL, T_MS);
		if (st == 0)
			break;
		poll(NULL, 0, 20);
	} while (wsc_now_ms() < deadline);
	CHECKF(st == 0, "after a close: %d", st);
	if (st == 0)
		wsc_abort(c);
	wsc_abort(b);
	server_stop(&s);
}

/* ---- help ---- */

static void help_lists_new_flags(void)
{
	int out;
	pid_t pid = spawn_server((const char *[]){ "--help", NULL }, NULL, &out, NULL);
	char *text;
	static const char *const flags[] = { "--listen", "unix://", "stdio", "--auth-token-file",
					     "RINGEXEC_AUTH_TOKEN", "--ping-interval-ms",
					     "--max-connections" };

	REQUIRE(pid > 0);
	text = read_all(out, T_MS);
	CHECK(wait_exit(pid, T_MS) == 0);
	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
		CHECKF(text && strstr(text, flags[i]), "--help lacks %s", flags[i]);
	free(text);
	close(out);
}

static const struct tap_case cases[] = {
	{ "unix socket: a session, mode 0600, file removed at exit", unix_socket_session_and_mode },
	{ "unix socket: a stale file is replaced", unix_stale_socket_is_replaced },
	{ "unix socket: a live one or a non-socket is refused", unix_live_socket_is_refused },
	{ "ws://[::1]:0 serves a session", ipv6_loopback_session },
	{ "stdio: lines in and out, EOF kills and exits 0", stdio_session_and_eof },
	{ "stdio: a line over --max-message exits 1", stdio_overlong_line_exits_1 },
	{ "stdio: binaryOutput is answered false, output stays JSON", stdio_binary_output_is_false },
	{ "pings answered: the connection stays", ping_answered_keeps_connection },
	{ "pings unanswered: closed with 1001", ping_unanswered_closes },
	{ "auth: token from a file", auth_token_from_file },
	{ "auth: token from the environment", auth_token_from_env },
	{ "auth: empty or missing token file exits 2", auth_bad_token_file_exits_2 },
	{ "auth: non-loopback warning only without a token", auth_nonloopback_warning },
	{ "--max-connections 2: the third gets 503", max_connections_503 },
	{ "--help lists the transport flags", help_lists_new_flags },
	{ NULL, NULL },
};

int main(int argc, char **argv)
{
	int rc;

	signal(SIGPIPE, SIG_IGN);
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/it_transport.XXXXXX");
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	rc = tap_main(argc, argv, cases);
	/* Best effort: the files the cases left. */
	static const char *const names[] = { "a.sock", "stale.sock", "live.sock", "plain-file",
					     "token", "empty-token", "token2" };
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		unlink(tmp_path(names[i]));
	rmdir(tmpdir);
	return rc;
}
