/* ringexecd: the server's main: flags, start-up checks, and the wiring of
 * transport (WebSocket connections, or the one stdio connection) to proto
 * (the exec protocol) to the engine (processes), all on one io_uring loop.
 *
 * Prints one line to stdout per listener, its bound URL (one, unless
 * systemd passed several sockets), then never writes there again (with
 * --listen stdio, stdout carries the messages instead and no URL line).
 * Logs go to stderr. Under systemd: serves the sockets it passed instead
 * of --listen's, and notifies READY=1 once listening, STOPPING=1 at the
 * start of shutdown (cmd/sysd.c).
 */
#include <errno.h>
#include <malloc.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "log.h"
#include "conn.h"
#include "engine.h"
#include "listen.h"
#include "loop.h"
#include "metrics.h"
#include "peer.h"
#include "ringexec_version.h"
#include "spawn.h"
#include "stdio_conn.h"
#include "sysd.h"
#include "ws.h"

#define MAX_ORIGINS 32
#define MAX_ALLOW_UIDS 64
#define AUTH_ENV "RINGEXEC_AUTH_TOKEN"

struct server {
	struct loop *loop;
	struct engine *eng;
	struct proto *proto;
	struct metrics metrics;			/* GET /metrics reads the layers through it */
	struct listener *listeners[SYSD_MAX_FDS];
	size_t nlisteners;
	struct stdio_conn *stdio;		/* --listen stdio: the one connection */
	struct loop_timer shutdown_timer;	/* polls for the end of shutdown */
	uint64_t shutdown_started_ms;		/* 0 while serving */
	bool killed;				/* SIGKILL sent during shutdown */
	int exit_code;				/* main's result once the loop stops */
};

static const char usage[] =
	"usage: ringexecd [options]\n"
	"\n"
	"A low-latency exec host: runs processes for agents over WebSocket JSON-RPC\n"
	"(the codex exec-server protocol).\n"
	"\n"
	"  --listen URL           ws://IP:PORT (default ws://127.0.0.1:0; IPv6 as ws://[::1]:PORT);\n"
	"                         unix:///path/to.sock (WebSocket on a unix socket, mode 0600;\n"
	"                         a stale socket file is replaced, removed at exit); or stdio\n"
	"                         (one connection: a JSON message per line on stdin/stdout, no\n"
	"                         URL line, no resumable session; EOF on stdin kills its\n"
	"                         processes and ends the server)\n"
	"  --session-ttl SECONDS  how long a dropped connection's session and its processes\n"
	"                         live, resumable with initialize.resumeSessionId (default 30;\n"
	"                         0: its processes are killed at once)\n"
	"  --retain-ms MS         keep a closed process's output this long (default 30000)\n"
	"  --retain-bytes BYTES   output kept per process for process/read (default 1048576;\n"
	"                         never a chunk no client has received)\n"
	"  --max-retained BYTES   all processes' kept output together; beyond it output reads\n"
	"                         pause (default 268435456)\n"
	"  --exit-drain-ms MS     how long `exited` waits for output streams (default 50)\n"
	"  --max-processes N      unclosed processes per session (default 1024)\n"
	"  --max-message BYTES    largest WebSocket message; a frame announcing more is closed\n"
	"                         with 1009 at its header (default 67108864)\n"
	"  --send-high-water B    pause process output above this many queued bytes (default 4194304)\n"
	"  --allow-origin ORIGIN  accept upgrades carrying this Origin (repeatable)\n"
	"  --auth-token-file FILE require `Authorization: Bearer <token>` on the upgrade and\n"
	"                         on GET /metrics, the token being FILE's content less one\n"
	"                         trailing newline (or set env " AUTH_ENV "); then it admits\n"
	"                         whoever presents it; /readyz and /livez stay open\n"
	"  --allow-uid UID        without a token, upgrades and GET /metrics are accepted only\n"
	"                         from peers whose socket belongs to root or to the server's\n"
	"                         own user, others get HTTP 403 (peers on other hosts too);\n"
	"                         also accept this user (repeatable)\n"
	"  --head-timeout-ms MS   close a connection that has not sent its whole HTTP request\n"
	"                         head this long after connecting, with 408 (default 10000;\n"
	"                         0: no limit)\n"
	"  --ping-interval-ms MS  ping each connection this often and close one that has\n"
	"                         answered neither of the last two pings (default 30000; 0: off)\n"
	"  --max-connections N    live connections; more get HTTP 503 (default 256)\n"
	"  --log-level LEVEL      error|warn|info|debug (default info)\n"
	"  --version              print the version\n"
	"  --help                 this text\n"
	"\n"
	"Started by systemd with sockets (LISTEN_PID, LISTEN_FDS, LISTEN_FDNAMES), it serves\n"
	"those instead of --listen's; with NOTIFY_SOCKET it sends READY=1 once listening and\n"
	"STOPPING=1 when it starts to shut down. See ringexecd(8).\n";

static int parse_u64(const char *flag, const char *s, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-') {
		fprintf(stderr, "ringexecd: invalid value `%s` for %s\n", s, flag);
		return -1;
	}
	*out = v;
	return 0;
}

/* ---- wiring ws <-> conn ---- */

static int io_send(void *io, const char *msg, size_t len)
{
	return ws_send_text(io, msg, len);
}

static struct buf *io_msg_begin(void *io, size_t size_hint)
{
	return ws_msg_begin(io, size_hint);
}

static struct buf *io_bin_begin(void *io, size_t size_hint)
{
	return ws_bin_begin(io, size_hint);
}

static int io_msg_end(void *io, bool ok)
{
	return ws_msg_end(io, ok);
}

static size_t io_queued(void *io)
{
	return ws_queued(io);
}

static uint64_t io_sent_total(void *io)
{
	return ws_sent_total(io);
}

static uint64_t io_queued_end(void *io)
{
	return ws_queued_end(io);
}

static void io_close(void *io, int code)
{
	ws_close(io, (uint16_t)code);
}

static void io_pause_recv(void *io, bool pause)
{
	ws_pause_recv(io, pause);
}

static const struct conn_io conn_io = {
	.send = io_send,
	.msg_begin = io_msg_begin,
	.msg_end = io_msg_end,
	.bin_begin = io_bin_begin,
	.queued = io_queued,
	.sent_total = io_sent_total,
	.queued_end = io_queued_end,
	.close = io_close,
	.pause_recv = io_pause_recv,
};

static void start_shutdown(struct server *srv);

static bool on_sandboxed_peer(void *ctx, pid_t pid, uint64_t inode)
{
	return engine_sandboxed_peer(ctx, pid, inode);
}

static void *on_ws_open(void *ctx, struct ws_conn *ws, const char *peer)
{
	struct server *srv = ctx;
	if (srv->shutdown_started_ms)
		return NULL;
	log_info("connection from %s", peer);
	return conn_new(srv->proto, &conn_io, ws, peer);
}

static void on_ws_message(void *user, const char *data, size_t len, bool binary)
{
	(void)binary;
	conn_on_message(user, data, len);
}

static void on_ws_drained(void *user)
{
	conn_on_drained(user);
}

static void on_ws_sent(void *user)
{
	conn_on_sent(user);
}

static void on_ws_closed(void *user)
{
	conn_on_closed(user);
}

static const struct ws_handler ws_handler = {
	.open = on_ws_open,
	.message = on_ws_message,
	.drained = on_ws_drained,
	.sent = on_ws_sent,
	.closed = on_ws_closed,
};

static struct ws_config ws_cfg = {
	.max_message = 64u << 20,
	.max_head = 16u << 10,
	.high_water = 4u << 20,
	.ping_interval_ms = 30000,
	.max_connections = 256,
	.head_timeout_ms = 10000,
};

static void on_accept(void *ctx, int fd, const char *peer)
{
	ws_accept(((struct server *)ctx)->loop, fd, peer, &ws_cfg, &ws_handler, ctx);
}

/* ---- wiring stdio <-> conn ---- */

static int sio_send(void *io, const char *msg, size_t len)
{
	return stdio_send(io, msg, len);
}

static size_t sio_queued(void *io)
{
	return stdio_queued(io);
}

static uint64_t sio_sent_total(void *io)
{
	return stdio_sent_total(io);
}

static uint64_t sio_queued_end(void *io)
{
	return stdio_queued_end(io);
}

static void sio_close(void *io, int code)
{
	stdio_close(io, code);
}

static const struct conn_io stdio_conn_io = {
	.send = sio_send,
	.queued = sio_queued,
	.sent_total = sio_sent_total,
	.queued_end = sio_queued_end,
	.close = sio_close,
};

static void *on_stdio_open(void *ctx, struct stdio_conn *st, const char *peer)
{
	log_info("serving one connection on stdin/stdout");
	return conn_new(((struct server *)ctx)->proto, &stdio_conn_io, st, peer);
}

static void on_stdio_message(void *user, const char *data, size_t len)
{
	conn_on_message(user, data, len);
}

static struct server *stdio_server;	/* closed() gets only the conn */

/* The one connection is gone: its session (TTL 0) has had its processes
 * killed; the server ends once they are reaped and the output is out.
 * End of input and a vanished reader exit 0, other failures 1. */
static void on_stdio_closed(void *user, int err)
{
	conn_on_closed(user);
	if (err && err != -EPIPE)
		stdio_server->exit_code = 1;
	start_shutdown(stdio_server);
}

static const struct stdio_handler stdio_handler = {
	.open = on_stdio_open,
	.message = on_stdio_message,
	.drained = on_ws_drained,
	.sent = on_ws_sent,
	.closed = on_stdio_closed,
};

/* ---- shutdown: stop accepting, TERM then KILL the groups, reap, exit ---- */

static void shutdown_poll(struct loop_timer *t)
{
	struct server *srv = (struct server *)((char *)t - offsetof(struct server, shutdown_timer));
	uint64_t now = loop_now_ms(srv->loop);
	if (engine_unreaped(srv->eng) == 0 && ws_count() == 0 &&
	    (!srv->stdio || stdio_done(srv->stdio))) {
		loop_stop(srv->loop);
		return;
	}
	if (!srv->killed && now - srv->shutdown_started_ms >= 2000) {
		engine_kill_all(srv->eng, SIGKILL);
		/* Detached sessions have no connection to close: end them now. */
		proto_shutdown(srv->proto);
		srv->killed = true;
	}
	if (now - srv->shutdown_started_ms >= 5000) {
		loop_stop(srv->loop);
		return;
	}
	loop_timer_arm(srv->loop, &srv->shutdown_timer, 10);
}

static void stop_listeners(struct server *srv)
{
	for (size_t i = 0; i < srv->nlisteners; i++)
		listen_stop(srv->listeners[i]);	/* removes a unix socket file we made */
	srv->nlisteners = 0;
}

static void start_shutdown(struct server *srv)
{
	if (srv->shutdown_started_ms)
		return;
	srv->shutdown_started_ms = loop_now_ms(srv->loop);
	sysd_notify("STOPPING=1");
	stop_listeners(srv);
	engine_kill_all(srv->eng, SIGTERM);
	engine_kill_all(srv->eng, SIGCONT);
	ws_close_all(1001);
	if (srv->stdio)
		stdio_close(srv->stdio, 1001);
	loop_timer_init(&srv->shutdown_timer, shutdown_poll);
	loop_timer_arm(srv->loop, &srv->shutdown_timer, 10);
}

static void on_shutdown_signal(void *ctx, int signo)
{
	struct server *srv = ctx;
	if (srv->shutdown_started_ms)
		return;
	log_info("%s: shutting down", strsignal(signo));
	start_shutdown(srv);
}

/* The auth token: from --auth-token-file (its content less one trailing
 * newline), else from the environment, else none (NULL). It must be
 * 1..WS_AUTH_TOKEN_MAX visible ASCII bytes (it travels in a header).
 * 0, or -1 after a message (exit 2). */
static int load_auth_token(const char *file, char *out, size_t cap, const char **token)
{
	size_t n = 0;
	const char *src;
	*token = NULL;
	if (file) {
		src = file;
		int fd = open(file, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			fprintf(stderr, "ringexecd: cannot read --auth-token-file %s: %s\n", file,
				strerror(errno));
			return -1;
		}
		for (;;) {
			ssize_t r = read(fd, out + n, cap - 1 - n);
			if (r < 0 && errno == EINTR)
				continue;
			if (r < 0) {
				fprintf(stderr, "ringexecd: cannot read --auth-token-file %s: %s\n",
					file, strerror(errno));
				close(fd);
				return -1;
			}
			n += (size_t)r;
			if (r == 0 || n == cap - 1)
				break;
		}
		close(fd);
		out[n] = '\0';
		if (n && out[n - 1] == '\n')
			out[--n] = '\0';
		if (n && out[n - 1] == '\r')
			out[--n] = '\0';
	} else {
		const char *env = getenv(AUTH_ENV);
		if (!env)
			return 0;
		src = "$" AUTH_ENV;
		n = strlen(env);
		if (n >= cap)
			n = cap - 1;
		memcpy(out, env, n);
		out[n] = '\0';
	}
	if (n == 0) {
		fprintf(stderr, "ringexecd: the auth token in %s is empty\n", src);
		return -1;
	}
	if (n > WS_AUTH_TOKEN_MAX) {
		fprintf(stderr, "ringexecd: the auth token in %s is longer than %d bytes\n", src,
			WS_AUTH_TOKEN_MAX);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)out[i];
		if (c <= 0x20 || c >= 0x7f) {
			fprintf(stderr, "ringexecd: the auth token in %s must be printable ASCII "
				"without spaces\n", src);
			return -1;
		}
	}
	*token = out;
	return 0;
}

/* The sockets systemd passed (act[0..nact)), else --listen's one; each
 * bound URL printed on its own line. 0, or 1 after a message. */
static int start_listeners(struct server *srv, const char *url, const struct sysd_fd *act,
			   size_t nact, const char *waits)
{
	char bound[128], err[256];
	for (size_t i = 0; i < (nact ? nact : 1); i++) {
		struct listener **l = &srv->listeners[srv->nlisteners];
		int ret = nact ? listen_adopt(l, srv->loop, act[i].fd, on_accept, srv, bound,
					     sizeof(bound), err, sizeof(err))
			       : listen_start(l, srv->loop, url, on_accept, srv, bound,
					      sizeof(bound), err, sizeof(err));
		if (ret < 0) {
			fprintf(stderr, "ringexecd: %s%s%s\n", err, nact ? ", passed by systemd as " : "",
				nact ? (act[i].name[0] ? act[i].name : "unnamed") : "");
			return 1;
		}
		srv->nlisteners++;
		if (!listen_loopback(*l) && !ws_cfg.auth_token)
			log_warn("listening on a non-loopback address without authentication: "
				 "peers on other hosts will be refused (403) for want of a "
				 "bearer token (--auth-token-file)");
		if (nact)
			log_info("listening on %s (fd %d from systemd, named \"%s\")", bound,
				 act[i].fd, act[i].name);
		else
			log_info("listening on %s", bound);
		printf("%s\n", bound);
	}
	log_info("exit waits: %s%s", waits, ws_cfg.auth_token ? "; bearer token required" : "");
	fflush(stdout);
	return 0;
}

/* fds 0-2 must exist, or the first socket would become someone's stdout. */
static void ensure_std_fds(void)
{
	for (int fd = 0; fd < 3; fd++) {
		if (fcntl(fd, F_GETFD) >= 0)
			continue;
		int n = open("/dev/null", O_RDWR);
		if (n >= 0 && n != fd)
			close(n);
	}
}

int main(int argc, char **argv)
{
	const char *listen_url = NULL;	/* default ws://127.0.0.1:0, unless socket-activated */
	const char *token_file = NULL;
	static char token_buf[WS_AUTH_TOKEN_MAX + 2];
	const char *origins[MAX_ORIGINS + 1] = { 0 };
	size_t norigins = 0;
	static uint32_t allow_uids[MAX_ALLOW_UIDS];
	struct engine_config ecfg = {
		.retain_bytes = 1u << 20,
		.retain_chunks = 50000,
		.max_retained = (size_t)256 << 20,
		.exit_drain_ms = 50,
	};
	struct proto_config pcfg = {
		.retain_ms = 30000,
		.session_ttl_ms = 30000,
		.retain_bytes = 1u << 20,
		.max_processes = 1024,
		.send_high_water = 4u << 20,
		.max_spawn_bytes = 1u << 20,
	};
	enum { O_LISTEN = 256, O_TTL, O_RETAIN_MS, O_RETAIN_BYTES, O_DRAIN, O_MAXPROC, O_MAXMSG,
	       O_HIGH, O_ORIGIN, O_LOG, O_VERSION, O_HELP, O_TOKEN_FILE, O_PING, O_MAXCONN,
	       O_MAXRET, O_ALLOW_UID, O_HEAD_TIMEOUT };
	static const struct option opts[] = {
		{ "listen", required_argument, 0, O_LISTEN },
		{ "session-ttl", required_argument, 0, O_TTL },
		{ "retain-ms", required_argument, 0, O_RETAIN_MS },
		{ "retain-bytes", required_argument, 0, O_RETAIN_BYTES },
		{ "max-retained", required_argument, 0, O_MAXRET },
		{ "exit-drain-ms", required_argument, 0, O_DRAIN },
		{ "max-processes", required_argument, 0, O_MAXPROC },
		{ "max-message", required_argument, 0, O_MAXMSG },
		{ "send-high-water", required_argument, 0, O_HIGH },
		{ "allow-origin", required_argument, 0, O_ORIGIN },
		{ "auth-token-file", required_argument, 0, O_TOKEN_FILE },
		{ "ping-interval-ms", required_argument, 0, O_PING },
		{ "max-connections", required_argument, 0, O_MAXCONN },
		{ "allow-uid", required_argument, 0, O_ALLOW_UID },
		{ "head-timeout-ms", required_argument, 0, O_HEAD_TIMEOUT },
		{ "log-level", required_argument, 0, O_LOG },
		{ "version", no_argument, 0, O_VERSION },
		{ "help", no_argument, 0, O_HELP },
		{ 0, 0, 0, 0 },
	};
	int opt;
	uint64_t v;
	enum log_level level;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case O_LISTEN:
			listen_url = optarg;
			break;
		case O_TTL:
			if (parse_u64("--session-ttl", optarg, &v) < 0 || v > 86400 * 365)
				return 2;
			pcfg.session_ttl_ms = v * 1000;
			break;
		case O_RETAIN_MS:
			if (parse_u64("--retain-ms", optarg, &pcfg.retain_ms) < 0)
				return 2;
			break;
		case O_MAXRET:
			if (parse_u64("--max-retained", optarg, &v) < 0 || v == 0)
				return 2;
			ecfg.max_retained = v;
			break;
		case O_RETAIN_BYTES:
			if (parse_u64("--retain-bytes", optarg, &v) < 0)
				return 2;
			ecfg.retain_bytes = v;
			pcfg.retain_bytes = v;
			break;
		case O_DRAIN:
			if (parse_u64("--exit-drain-ms", optarg, &v) < 0)
				return 2;
			ecfg.exit_drain_ms = (unsigned)v;
			break;
		case O_MAXPROC:
			if (parse_u64("--max-processes", optarg, &v) < 0)
				return 2;
			pcfg.max_processes = v;
			break;
		case O_MAXMSG:
			if (parse_u64("--max-message", optarg, &v) < 0 || v == 0)
				return 2;
			ws_cfg.max_message = v;
			break;
		case O_HIGH:
			if (parse_u64("--send-high-water", optarg, &v) < 0 || v == 0)
				return 2;
			pcfg.send_high_water = v;
			ws_cfg.high_water = v;
			break;
		case O_ORIGIN:
			if (norigins == MAX_ORIGINS) {
				fprintf(stderr, "ringexecd: too many --allow-origin\n");
				return 2;
			}
			origins[norigins++] = optarg;
			break;
		case O_TOKEN_FILE:
			token_file = optarg;
			break;
		case O_PING:
			if (parse_u64("--ping-interval-ms", optarg, &v) < 0 || v > 86400000)
				return 2;
			ws_cfg.ping_interval_ms = (unsigned)v;
			break;
		case O_MAXCONN:
			if (parse_u64("--max-connections", optarg, &v) < 0 || v == 0 || v > 1000000)
				return 2;
			ws_cfg.max_connections = v;
			break;
		case O_ALLOW_UID:
			if (parse_u64("--allow-uid", optarg, &v) < 0 || v >= UINT32_MAX)
				return 2;
			if (ws_cfg.n_allow_uids == MAX_ALLOW_UIDS) {
				fprintf(stderr, "ringexecd: too many --allow-uid\n");
				return 2;
			}
			allow_uids[ws_cfg.n_allow_uids++] = (uint32_t)v;
			break;
		case O_HEAD_TIMEOUT:
			if (parse_u64("--head-timeout-ms", optarg, &v) < 0 || v > 86400000)
				return 2;
			ws_cfg.head_timeout_ms = (unsigned)v;
			break;
		case O_LOG:
			if (log_parse_level(optarg, &level) < 0) {
				fprintf(stderr, "ringexecd: --log-level must be error, warn, info or debug\n");
				return 2;
			}
			log_set_level(level);
			break;
		case O_VERSION:
			printf("ringexecd %s\n", RINGEXEC_VERSION);
			return 0;
		case O_HELP:
			fputs(usage, stdout);
			return 0;
		default:
			fputs(usage, stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "ringexecd: unexpected argument `%s`\n", argv[optind]);
		return 2;
	}
	ws_cfg.allow_origins = origins;
	ws_cfg.allow_uids = allow_uids;

	char err[256];
	int loopback;
	enum listen_kind kind;
	static struct sysd_fd act[SYSD_MAX_FDS];
	size_t nact;
	if (sysd_listen_fds(act, &nact, err, sizeof(err)) < 0) {
		fprintf(stderr, "ringexecd: %s\n", err);
		return 2;
	}
	if (nact && listen_url) {
		fprintf(stderr, "ringexecd: --listen %s and the %zu socket(s) systemd passed "
			"(LISTEN_FDS): serve one or the other\n", listen_url, nact);
		return 2;
	}
	if (!listen_url)
		listen_url = "ws://127.0.0.1:0";
	if (sysd_notify_init(err, sizeof(err)) < 0)
		fprintf(stderr, "ringexecd: warn: %s\n", err);
	if (listen_parse_url(listen_url, err, sizeof(err), &kind, &loopback) < 0) {
		fprintf(stderr, "ringexecd: %s\n", err);
		return 2;
	}
	if (load_auth_token(token_file, token_buf, sizeof(token_buf), &ws_cfg.auth_token) < 0)
		return 2;
	unsetenv(AUTH_ENV);	/* an envPolicy that inherits everything must not pass it on */
	/* One connection and nothing to resume it over: its end is the end. */
	if (kind == LISTEN_STDIO)
		pcfg.session_ttl_ms = 0;

	ensure_std_fds();
	signal(SIGPIPE, SIG_IGN);
	/* Big blocks (send queues, whole-file reads) straight from and back to
	 * the kernel: a fixed threshold, not glibc's, which grows after the
	 * first big free and then keeps such blocks in the heap for good. */
	mallopt(M_MMAP_THRESHOLD, 256 * 1024);

	/* Children get the limit we started with; the server takes the hard limit. */
	struct rlimit nofile;
	getrlimit(RLIMIT_NOFILE, &nofile);
	int ret = spawn_init(&nofile);
	if (ret < 0) {
		fprintf(stderr, "ringexecd: spawn set-up failed: %s\n", strerror(-ret));
		return 1;
	}
	struct rlimit raised = { nofile.rlim_max, nofile.rlim_max };
	setrlimit(RLIMIT_NOFILE, &raised);

	struct server srv = { 0 };
	ret = loop_new(&srv.loop, 4096);
	if (ret < 0) {
		fprintf(stderr,
			"ringexecd: io_uring is unavailable: %s. It may be disabled by the "
			"kernel.io_uring_disabled sysctl or blocked by a seccomp profile "
			"(e.g. a container runtime's default).\n",
			strerror(-ret));
		return 1;
	}
	ecfg.on_shutdown_signal = on_shutdown_signal;
	ecfg.ctx = &srv;
	/* A sandboxed child must not reach the server itself: neither its
	 * unix sockets (ours, or systemd's) nor its token. */
	const char *hide[3 + SYSD_MAX_FDS] = { NULL };
	static char passed_paths[SYSD_MAX_FDS][108];
	size_t nhide = 0;
	if (kind == LISTEN_UNIX && strncmp(listen_url, "unix://", 7) == 0 && !nact)
		hide[nhide++] = listen_url + 7;
	for (size_t i = 0; i < nact; i++)
		if (listen_unix_path(act[i].fd, passed_paths[i], sizeof(passed_paths[i])) == 0)
			hide[nhide++] = passed_paths[i];
	if (token_file)
		hide[nhide++] = token_file;
	ecfg.sandbox_hide = hide;
	ret = engine_new(&srv.eng, srv.loop, &ecfg);
	if (ret < 0) {
		fprintf(stderr, "ringexecd: engine set-up failed: %s\n", strerror(-ret));
		return 1;
	}
	/* A sandboxed command must not drive the server (connect back to it
	 * over loopback, as whatever user the sandbox maps it to). */
	ws_cfg.sandboxed_peer = on_sandboxed_peer;
	ws_cfg.sandboxed_ctx = srv.eng;
	ret = proto_new(&srv.proto, srv.eng, &pcfg);
	if (ret < 0) {
		fprintf(stderr, "ringexecd: out of memory\n");
		return 1;
	}
	metrics_init(&srv.metrics, srv.eng, srv.proto);
	ws_cfg.metrics = metrics_write;
	ws_cfg.metrics_ctx = &srv.metrics;
	const char *waits = loop_has_waitid(srv.loop) ? "IORING_OP_WAITID" : "POLL_ADD on pidfd + waitid";
	if (kind == LISTEN_STDIO) {
		struct stdio_config scfg = {
			.max_message = ws_cfg.max_message,
			.high_water = ws_cfg.high_water,
		};
		stdio_server = &srv;
		ret = stdio_start(&srv.stdio, srv.loop, 0, 1, &scfg, &stdio_handler, &srv);
		if (ret < 0) {
			fprintf(stderr, "ringexecd: cannot serve stdio: %s\n", strerror(-ret));
			return 1;
		}
		log_info("serving stdio (exit waits: %s)", waits);
	} else {
		/* Now, not at the first upgrade: fd counts stay flat from here. */
		ret = ws_cfg.auth_token ? 0 : peer_open();
		if (ret < 0)
			log_warn("cannot look up TCP peers' users (sock_diag: %s): TCP upgrades "
				 "without a bearer token will be refused", strerror(-ret));
		if (start_listeners(&srv, listen_url, act, nact, waits))
			return 1;
	}
	sysd_notify("READY=1");

	ret = loop_run(srv.loop);
	stop_listeners(&srv);
	stdio_free(srv.stdio);
	proto_free(srv.proto);
	engine_free(srv.eng);
	loop_free(srv.loop);
	peer_close();
	return ret < 0 ? 1 : srv.exit_code;
}
