/* it_peer: who may connect, by the user running the peer.
 *
 * The tests run as root; a probe forks, becomes another user (nobody,
 * 65534, or 65533) and only then opens its socket, as a local user would.
 * Without a token: a foreign peer gets 403 and one log line naming its uid,
 * root and the server's own user get a working session, --allow-uid lets
 * a user in; over TCP (IPv4 and IPv6, by sock_diag) and a unix socket (by
 * SO_PEERCRED). With a token: it admits a foreign user, and no user gets in
 * without it. /readyz and /livez answer anyone. A foreign peer that sends
 * its whole request and closes before the server looks is refused too (its
 * closed socket would otherwise read as root's).
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "expect.h"
#include "rpc.h"
#include "server.h"
#include "tap.h"
#include "wsc.h"

#define T_MS 5000
#define NOBODY 65534
#define OTHER 65533	/* a user with no name on most systems: just a number */
#define WS_KEY "dGhlIHNhbXBsZSBub25jZQ=="

static char tmpdir[64];

static const char *tmp_path(const char *name)
{
	static char buf[4][128];
	static int n;
	char *p = buf[n++ % 4];

	snprintf(p, sizeof(buf[0]), "%s/%s", tmpdir, name);
	return p;
}

/* ---- the server and what it logs ---- */

struct srv {
	struct server s;
	int log_fd;		/* its stderr */
	char log[65536];
	size_t log_len;
};

/* Start ringexecd as uid with args (0: root, whatever
 * $RINGEXEC_TEST_SERVER_UID says), its stderr kept for srv_logged(). */
static bool srv_up(struct srv *v, uid_t uid, const char *const *args)
{
	int p[2];

	memset(v, 0, sizeof(*v));
	v->log_fd = -1;
	if (pipe2(p, O_CLOEXEC) < 0)
		return false;
	int r = server_start_as(&v->s, args, uid, p[1]);
	close(p[1]);
	if (r < 0) {
		close(p[0]);
		return false;
	}
	v->log_fd = p[0];
	return true;
}

/* Its log (so far, and up to timeout_ms more) contains needle. */
static bool srv_logged(struct srv *v, const char *needle, int timeout_ms)
{
	int64_t deadline = wsc_now_ms() + timeout_ms;

	for (;;) {
		v->log[v->log_len] = '\0';
		if (strstr(v->log, needle))
			return true;
		struct pollfd p = { .fd = v->log_fd, .events = POLLIN };
		if (v->log_len + 1 >= sizeof(v->log) || poll(&p, 1, left_ms(deadline)) <= 0)
			return false;
		ssize_t n = read(v->log_fd, v->log + v->log_len, sizeof(v->log) - 1 - v->log_len);
		if (n <= 0)
			return false;
		v->log_len += (size_t)n;
	}
}

static void srv_down(struct srv *v)
{
	int st = server_stop(&v->s);

	CHECKF(WIFEXITED(st) && WEXITSTATUS(st) == 0, "server exit status %#x", st);
	if (v->log_fd >= 0)
		close(v->log_fd);
	v->log_fd = -1;
}

/* ---- probes run as another user ---- */

static void become(uid_t uid)
{
	if (uid == geteuid())
		return;
	if (setgroups(0, NULL) < 0 || setgid((gid_t)uid) < 0 || setuid(uid) < 0)
		_exit(126);
}

/* In the child: upgrade, then run `echo` over the session. */
static int probe_child(const char *url, const char *headers)
{
	struct wsc *c;
	int st = wsc_connect(&c, url, headers, T_MS);

	if (st != 0)
		return st;
	struct rpc *r = rpc_new(c);
	const char *argv[] = { "echo", "in", NULL };
	json_t *resp = rpc_handshake(r) == 0 ? rpc_start(r, "p", argv, 0, 0) : NULL;
	char *out = NULL;
	size_t len;
	int code = -1, res = -EPROTO;

	if (resp && json_object_get(resp, "result") &&
	    rpc_collect(r, "p", &out, &len, &code, T_MS) == 0 && out && !strcmp(out, "in\n") &&
	    code == 0)
		res = 101;
	json_decref(resp);
	free(out);
	rpc_close(r, 1000, T_MS);
	return res;
}

/* As uid, in a child: an upgrade to url with headers (NULL or lines ending
 * in CRLF), or with request != NULL a raw HTTP request instead. The answer:
 * 101 for a working session, the HTTP status of anything else, -errno. */
static int probe_as(uid_t uid, const char *url, const char *headers, const char *request)
{
	int p[2], res = -ETIMEDOUT, st;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		close(p[0]);
		become(uid);
		res = request ? wsc_http_raw(url, request, NULL, T_MS) : probe_child(url, headers);
		_exit(write(p[1], &res, sizeof(res)) == sizeof(res) ? 0 : 1);
	}
	close(p[1]);
	struct pollfd pf = { .fd = p[0], .events = POLLIN };
	if (poll(&pf, 1, 3 * T_MS) != 1 || read(p[0], &res, sizeof(res)) != sizeof(res))
		kill(pid, SIGKILL);
	close(p[0]);
	waitpid(pid, &st, 0);
	if (WIFEXITED(st) && WEXITSTATUS(st) == 126)
		tap_diag("probe: could not become uid %u", (unsigned)uid);
	return res;
}

#define CHECK_PROBE(uid, url, headers, want) \
	do { \
		int got_ = probe_as(uid, url, headers, NULL); \
		CHECKF(got_ == (want), "uid %u on %s: %d, want %d", (unsigned)(uid), url, got_, \
		       want); \
	} while (0)

/* ---- cases ---- */

static bool have_ipv6_loopback(void)
{
	struct sockaddr_in6 sa = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool ok = fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;

	if (fd >= 0)
		close(fd);
	return ok;
}

/* A root server, no token: nobody refused and named in the log, root in. */
static void check_foreign_refused(const char *listen)
{
	struct srv v;

	REQUIRE(srv_up(&v, 0, (const char *[]){ "--listen", listen, NULL }));
	if (!strncmp(v.s.url, "unix://", 7))
		chmod(v.s.url + 7, 0666);	/* let other users reach the socket at all */
	CHECK_PROBE(NOBODY, v.s.url, NULL, 403);
	CHECKF(srv_logged(&v, "upgrade refused (403): peer uid 65534 ", T_MS), "log: %s", v.log);
	CHECK_PROBE(OTHER, v.s.url, NULL, 403);
	CHECKF(srv_logged(&v, "peer uid 65533 ", T_MS), "log: %s", v.log);
	CHECK_PROBE(0, v.s.url, NULL, 101);
	srv_down(&v);
}

static void tcp_foreign_refused(void)
{
	check_foreign_refused("ws://127.0.0.1:0");
}

static void tcp6_foreign_refused(void)
{
	if (!have_ipv6_loopback()) {
		tap_skip("no IPv6 loopback");
		return;
	}
	check_foreign_refused("ws://[::1]:0");
}

static void unix_foreign_refused(void)
{
	char url[160];

	snprintf(url, sizeof(url), "unix://%s", tmp_path("root.sock"));
	check_foreign_refused(url);
}

/* --allow-uid: that user in, others still out; both transports. */
static void allow_uid_admits(void)
{
	char url[160];
	const char *listens[2] = { "ws://127.0.0.1:0", url };

	snprintf(url, sizeof(url), "unix://%s", tmp_path("allow.sock"));
	for (int i = 0; i < 2; i++) {
		struct srv v;

		REQUIRE(srv_up(&v, 0,
			       (const char *[]){ "--listen", listens[i], "--allow-uid", "65534", NULL }));
		if (i == 1)
			chmod(url + 7, 0666);
		CHECK_PROBE(NOBODY, v.s.url, NULL, 101);
		CHECK_PROBE(OTHER, v.s.url, NULL, 403);
		CHECK_PROBE(0, v.s.url, NULL, 101);
		srv_down(&v);
	}
}

/* A server run by nobody: its own user and root in, another user out. */
static void server_own_user_admitted(void)
{
	char dir[128], url[160];
	const char *listens[2] = { "ws://127.0.0.1:0", url };

	snprintf(dir, sizeof(dir), "%s", tmp_path("nobody"));
	REQUIRE(mkdir(dir, 0755) == 0 || errno == EEXIST);
	REQUIRE(chown(dir, NOBODY, NOBODY) == 0);
	snprintf(url, sizeof(url), "unix://%s/own.sock", dir);
	for (int i = 0; i < 2; i++) {
		struct srv v;

		REQUIRE(srv_up(&v, NOBODY, (const char *[]){ "--listen", listens[i], NULL }));
		if (i == 1)
			chmod(url + 7, 0666);
		CHECK_PROBE(NOBODY, v.s.url, NULL, 101);
		CHECK_PROBE(0, v.s.url, NULL, 101);
		CHECK_PROBE(OTHER, v.s.url, NULL, 403);
		CHECKF(srv_logged(&v, "peer uid 65533 is neither root, nor the server's uid 65534",
				  T_MS), "log: %s", v.log);
		srv_down(&v);
	}
}

/* A token admits whoever presents it; without it nobody gets in, root
 * neither (401, not 403: the token is what is missing). */
static void token_admits_foreign_user(void)
{
	struct srv v;

	setenv("RINGEXEC_AUTH_TOKEN", "tok-42", 1);
	bool up = srv_up(&v, 0, NULL);
	unsetenv("RINGEXEC_AUTH_TOKEN");
	REQUIRE(up);
	CHECK_PROBE(NOBODY, v.s.url, "Authorization: Bearer tok-42\r\n", 101);
	CHECK_PROBE(NOBODY, v.s.url, NULL, 401);
	CHECK_PROBE(NOBODY, v.s.url, "Authorization: Bearer tok-41\r\n", 401);
	CHECK_PROBE(0, v.s.url, NULL, 401);
	srv_down(&v);
}

/* The probes reveal nothing and answer anyone. */
static void probes_open_to_anyone(void)
{
	struct srv v;

	REQUIRE(srv_up(&v, 0, NULL));
	int st = probe_as(NOBODY, v.s.url, NULL, "GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n");
	CHECKF(st == 200, "/readyz as nobody: %d", st);
	st = probe_as(NOBODY, v.s.url, NULL, "GET /livez HTTP/1.1\r\nHost: x\r\n\r\n");
	CHECKF(st == 200, "/livez as nobody: %d", st);
	srv_down(&v);
}

/* ---- a request sent whole, then the socket closed ---- */

/* One masked client text frame. */
static size_t put_frame(uint8_t *out, const char *text)
{
	static const uint8_t key[4] = { 0x11, 0x22, 0x33, 0x44 };
	size_t n = strlen(text), hl;

	out[0] = 0x81;
	if (n < 126) {
		out[1] = (uint8_t)(0x80 | n);
		hl = 2;
	} else {
		out[1] = 0x80 | 126;
		out[2] = (uint8_t)(n >> 8);
		out[3] = (uint8_t)n;
		hl = 4;
	}
	memcpy(out + hl, key, 4);
	for (size_t i = 0; i < n; i++)
		out[hl + 4 + i] = (uint8_t)text[i] ^ key[i % 4];
	return hl + 4 + n;
}

/* The upgrade, then initialize, initialized and a start of `touch path`. */
static size_t build_request(uint8_t *out, const char *path)
{
	char start[512];
	size_t n = (size_t)sprintf((char *)out,
				   "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
				   "Connection: Upgrade\r\nSec-WebSocket-Key: " WS_KEY "\r\n"
				   "Sec-WebSocket-Version: 13\r\n\r\n");

	n += put_frame(out + n, "{\"id\":1,\"method\":\"initialize\",\"params\":"
				"{\"clientName\":\"it_peer\"}}");
	n += put_frame(out + n, "{\"method\":\"initialized\",\"params\":{}}");
	snprintf(start, sizeof(start),
		 "{\"id\":2,\"method\":\"process/start\",\"params\":{\"processId\":\"t\","
		 "\"argv\":[\"touch\",\"%s\"],\"cwd\":\"/\",\"env\":{\"PATH\":\"/usr/bin:/bin\"},"
		 "\"tty\":false}}", path);
	n += put_frame(out + n, start);
	return n;
}

/* In the child: read until the started process has closed, or EOF. */
static void await_closed(int fd)
{
	char buf[8192];
	size_t len = 0;
	struct pollfd p = { .fd = fd, .events = POLLIN };

	while (len < sizeof(buf) && poll(&p, 1, T_MS) == 1) {
		ssize_t n = read(fd, buf + len, sizeof(buf) - len);
		if (n <= 0)
			return;
		len += (size_t)n;	/* frame headers may hold NULs: memmem */
		if (memmem(buf, len, "\"process/closed\"", 16))
			return;
	}
}

/* As uid: connect to 127.0.0.1:port and send req whole; then close at once
 * when hang_up, else once the process has closed. The client's port, or -1. */
static int send_as(uid_t uid, int port, const uint8_t *req, size_t len, bool hang_up)
{
	int p[2], st, client_port = -1;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
					  .sin_addr.s_addr = htonl(0x7f000001) };
		socklen_t slen = sizeof(sa);

		become(uid);
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
		    write(fd, req, len) != (ssize_t)len ||
		    getsockname(fd, (struct sockaddr *)&sa, &slen) < 0)
			_exit(1);
		int mine = ntohs(sa.sin_port);
		if (!hang_up)
			await_closed(fd);
		close(fd);
		_exit(write(p[1], &mine, sizeof(mine)) == sizeof(mine) ? 0 : 1);
	}
	close(p[1]);
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0 ||
	    read(p[0], &client_port, sizeof(client_port)) != sizeof(client_port))
		client_port = -1;
	close(p[0]);
	return client_port;
}

/* The client socket 127.0.0.1:from -> :to has become a time-wait socket
 * (FIN_WAIT2 or TIME_WAIT, no inode), as /proc/net/tcp shows it. */
static bool time_wait_within(int from, int to, int timeout_ms)
{
	int64_t deadline = wsc_now_ms() + timeout_ms;
	char want[64], line[512];

	snprintf(want, sizeof(want), "0100007F:%04X 0100007F:%04X ", (unsigned)from, (unsigned)to);
	for (;;) {
		FILE *f = fopen("/proc/net/tcp", "r");
		bool found = false;

		while (f && !found && fgets(line, sizeof(line), f)) {
			unsigned st;
			unsigned long inode;
			char *at = strstr(line, want);

			if (at && sscanf(at + strlen(want), "%x %*s %*s %*s %*s %*s %lu", &st,
					 &inode) == 2)
				found = (st == 5 || st == 6) && inode == 0;
		}
		if (f)
			fclose(f);
		if (found)
			return true;
		if (wsc_now_ms() >= deadline)
			return false;
		poll(NULL, 0, 10);
	}
}

static bool exists_within(const char *path, int timeout_ms)
{
	int64_t deadline = wsc_now_ms() + timeout_ms;

	while (access(path, F_OK) != 0) {
		if (wsc_now_ms() >= deadline)
			return false;
		poll(NULL, 0, 10);
	}
	return true;
}

/* The server is stopped while nobody connects, sends everything and
 * closes, until the peer's socket has become a time-wait socket (which
 * sock_diag reports with uid 0). It must refuse, and the start must not
 * run. The same bytes from root, kept open, do run: the request is real. */
static void closed_foreign_peer_refused(void)
{
	const char *mark = tmp_path("ran");
	uint8_t req[2048];
	size_t len = build_request(req, mark);
	struct srv v;

	/* The default session TTL: a start admitted for a gone peer would still run. */
	REQUIRE(srv_up(&v, 0, NULL));
	REQUIRE(send_as(0, v.s.port, req, len, false) > 0);
	CHECKF(exists_within(mark, T_MS), "root's request did not run");
	unlink(mark);

	REQUIRE(kill(v.s.pid, SIGSTOP) == 0);
	int from = send_as(NOBODY, v.s.port, req, len, true);
	bool tw = from > 0 && time_wait_within(from, v.s.port, 3 * T_MS);
	kill(v.s.pid, SIGCONT);
	REQUIRE(from > 0);
	CHECKF(tw, "the closed client socket never showed as time-wait");
	CHECKF(srv_logged(&v, "upgrade refused (403): the peer closed its socket", T_MS),
	       "log: %s", v.log);
	CHECKF(!exists_within(mark, 500), "a closed foreign peer's start ran");
	srv_down(&v);
	unlink(mark);
}

static const struct tap_case cases[] = {
	{ "tcp: nobody gets 403 and a log line with its uid; root a session", tcp_foreign_refused },
	{ "tcp [::1]: the same", tcp6_foreign_refused },
	{ "unix: the same by SO_PEERCRED", unix_foreign_refused },
	{ "--allow-uid 65534: nobody in, 65533 still out (tcp, unix)", allow_uid_admits },
	{ "a server run by nobody: nobody and root in, 65533 out (tcp, unix)",
	  server_own_user_admitted },
	{ "a token admits a foreign user; without it 401 for anyone", token_admits_foreign_user },
	{ "/readyz and /livez answer a foreign user", probes_open_to_anyone },
	{ "a foreign peer that sent everything and closed is refused", closed_foreign_peer_refused },
	{ NULL, NULL },
};

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	if (geteuid() != 0) {
		/* Becoming another user needs root. */
		printf("1..0 # SKIP it_peer needs root to run probes as other users\n");
		return 0;
	}
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/it_peer.XXXXXX");
	if (!mkdtemp(tmpdir) || chmod(tmpdir, 0711) < 0) {
		perror("mkdtemp");
		return 1;
	}
	int rc = tap_main(argc, argv, cases);
	static const char *const names[] = { "root.sock", "allow.sock", "nobody/own.sock", "nobody",
					     "ran" };
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		remove(tmp_path(names[i]));
	rmdir(tmpdir);
	return rc;
}
