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
#include "flags.h"
#include "listen.h"
#include "loop.h"
#include "metrics.h"
#include "engine_ops.h"
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
	struct conn *stdio_user;		/* ... and its protocol side */
	struct loop_timer shutdown_timer;	/* polls for the end of shutdown */
	uint64_t shutdown_started_ms;		/* 0 while serving */
	bool killed;				/* SIGKILL sent during shutdown */
	int exit_code;				/* main's result once the loop stops */
};

static const char usage_head[] =
	"usage: ringexecd [options]\n"
	"\n"
	"A low-latency exec host: runs processes for agents over WebSocket JSON-RPC\n"
	"(the codex exec-server protocol).\n"
	"\n";

static const char usage_tail[] =
	"\n"
	"Started by systemd with sockets (LISTEN_PID, LISTEN_FDS, LISTEN_FDNAMES), it serves\n"
	"those instead of --listen's; with NOTIFY_SOCKET it sends READY=1 once listening and\n"
	"STOPPING=1 when it starts to shut down. See ringexecd(8).\n";

/* What the command line says, before it becomes the parts' configs. */
struct options {
	const char *listen;		/* NULL: ws://127.0.0.1:0, unless socket-activated */
	uint64_t session_ttl_s, retain_ms, retain_bytes, max_retained, exit_drain_ms;
	uint64_t max_processes, max_message, send_high_water, ping_interval_ms;
	uint64_t max_connections, head_timeout_ms;
	const char *origins[MAX_ORIGINS + 1];	/* NULL-terminated */
	size_t norigins;
	uint32_t allow_uids[MAX_ALLOW_UIDS];
	size_t nallow_uids;
	const char *token_file;
	int log_level;			/* enum log_level */
	bool version, help;
};

static const char *const log_levels[] = { "error", "warn", "info", "debug", NULL };

#define DAY_MS 86400000ull
#define FLAG_NUM(n, v, t, lo, hi, h) { .name = n, .value = v, .kind = FLAG_U64, .target = t, \
				       .min = lo, .max = hi, .help = h }

/* The flags, in --help's order. A range's bounds are what the parts
 * accept (0 where 0 means "off" or "at once"). */
static size_t options_table(struct options *o, struct flag *t)
{
	const struct flag table[] = {
	{ "listen", "URL", FLAG_STRING, &o->listen, .help =
	  "ws://IP:PORT (default ws://127.0.0.1:0; IPv6 as ws://[::1]:PORT);\n"
	  "unix:///path/to.sock (WebSocket on a unix socket, mode 0600;\n"
	  "a stale socket file is replaced, removed at exit); or stdio\n"
	  "(one connection: a JSON message per line on stdin/stdout, no\n"
	  "URL line, no resumable session; EOF on stdin kills its\n"
	  "processes and ends the server)" },
	FLAG_NUM("session-ttl", "SECONDS", &o->session_ttl_s, 0, 86400 * 365,
	  "how long a dropped connection's session and its processes\n"
	  "live, resumable with initialize.resumeSessionId (default 30;\n"
	  "0: its processes are killed at once)"),
	FLAG_NUM("retain-ms", "MS", &o->retain_ms, 0, 365 * DAY_MS,
	  "keep a closed process's output this long (default 30000)"),
	FLAG_NUM("retain-bytes", "BYTES", &o->retain_bytes, 0, (uint64_t)1 << 40,
	  "output kept per process for process/read (default 1048576;\n"
	  "never a chunk no client has received)"),
	FLAG_NUM("max-retained", "BYTES", &o->max_retained, 1, (uint64_t)1 << 44,
	  "all processes' kept output together; beyond it output reads\n"
	  "pause (default 268435456)"),
	FLAG_NUM("exit-drain-ms", "MS", &o->exit_drain_ms, 0, DAY_MS,
	  "how long `exited` waits for output streams (default 50)"),
	FLAG_NUM("max-processes", "N", &o->max_processes, 0, 1u << 20,
	  "unclosed processes per session (default 1024)"),
	FLAG_NUM("max-message", "BYTES", &o->max_message, 1, (uint64_t)1 << 40,
	  "largest WebSocket message; a frame announcing more is closed\n"
	  "with 1009 at its header (default 67108864)"),
	FLAG_NUM("send-high-water", "B", &o->send_high_water, 1, (uint64_t)1 << 40,
	  "pause process output above this many queued bytes (default 4194304)"),
	{ "allow-origin", "ORIGIN", FLAG_STRINGS, o->origins, .count = &o->norigins,
	  .cap = MAX_ORIGINS, .help =
	  "accept upgrades carrying this Origin (repeatable)" },
	{ "auth-token-file", "FILE", FLAG_STRING, &o->token_file, .help =
	  "require `Authorization: Bearer <token>` on the upgrade and\n"
	  "on GET /metrics, the token being FILE's content less one\n"
	  "trailing newline (or set env " AUTH_ENV "); then it admits\n"
	  "whoever presents it; /readyz and /livez stay open" },
	{ "allow-uid", "UID", FLAG_U32S, o->allow_uids, .min = 0, .max = UINT32_MAX - 1,
	  .count = &o->nallow_uids, .cap = MAX_ALLOW_UIDS, .help =
	  "without a token, upgrades and GET /metrics are accepted only\n"
	  "from peers whose socket belongs to root or to the server's\n"
	  "own user, others get HTTP 403 (peers on other hosts too);\n"
	  "also accept this user (repeatable)" },
	FLAG_NUM("head-timeout-ms", "MS", &o->head_timeout_ms, 0, DAY_MS,
	  "close a connection that has not sent its whole HTTP request\n"
	  "head this long after connecting, with 408 (default 10000;\n"
	  "0: no limit)"),
	FLAG_NUM("ping-interval-ms", "MS", &o->ping_interval_ms, 0, DAY_MS,
	  "ping each connection this often and close one that has\n"
	  "answered neither of the last two pings (default 30000; 0: off)"),
	FLAG_NUM("max-connections", "N", &o->max_connections, 1, 1000000,
	  "live connections; more get HTTP 503 (default 256)"),
	{ "log-level", "LEVEL", FLAG_CHOICE, &o->log_level, .choices = log_levels,
	  .help = "error|warn|info|debug (default info)" },
	{ "version", NULL, FLAG_SWITCH, &o->version, .help = "print the version" },
	{ "help", NULL, FLAG_SWITCH, &o->help, .help = "this text" },
	};
	memcpy(t, table, sizeof(table));
	return sizeof(table) / sizeof(table[0]);
}

#define MAX_FLAGS 32

/* Parse the command line into o (defaults first). false when main is to
 * return *status at once: 0 after --help or --version, 2 after a message. */
static bool options_read(struct options *o, int argc, char **argv, int *status)
{
	*o = (struct options){
		.session_ttl_s = 30, .retain_ms = 30000, .retain_bytes = 1u << 20,
		.max_retained = (uint64_t)256 << 20, .exit_drain_ms = 50, .max_processes = 1024,
		.max_message = 64u << 20, .send_high_water = 4u << 20,
		.ping_interval_ms = 30000, .max_connections = 256, .head_timeout_ms = 10000,
		.log_level = LOG_INFO,
	};
	struct flag table[MAX_FLAGS];
	size_t n = options_table(o, table);
	char err[256];
	*status = 0;
	if (flags_parse(table, n, argc, argv, err, sizeof(err)) < 0) {
		fprintf(stderr, "ringexecd: %s\n", err);
		*status = 2;
		return false;
	}
	if (o->version) {
		printf("ringexecd %s\n", RINGEXEC_VERSION);
		return false;
	}
	if (o->help) {
		fputs(usage_head, stdout);
		flags_usage(stdout, table, n);
		fputs(usage_tail, stdout);
		return false;
	}
	log_set_level((enum log_level)o->log_level);
	return true;
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

/* The stdio connection's user pointer is the server, which holds the
 * protocol connection: closed() must reach both. */
static void *on_stdio_open(void *ctx, struct stdio_conn *st, const char *peer)
{
	struct server *srv = ctx;
	log_info("serving one connection on stdin/stdout");
	srv->stdio_user = conn_new(srv->proto, &stdio_conn_io, st, peer);
	return srv->stdio_user ? srv : NULL;
}

static void on_stdio_message(void *user, const char *data, size_t len)
{
	conn_on_message(((struct server *)user)->stdio_user, data, len);
}

static void on_stdio_drained(void *user)
{
	conn_on_drained(((struct server *)user)->stdio_user);
}

static void on_stdio_sent(void *user)
{
	conn_on_sent(((struct server *)user)->stdio_user);
}

/* The one connection is gone: its session (TTL 0) has had its processes
 * killed; the server ends once they are reaped and the output is out.
 * End of input and a vanished reader exit 0, other failures 1. */
static void on_stdio_closed(void *user, int err)
{
	struct server *srv = user;
	conn_on_closed(srv->stdio_user);
	srv->stdio_user = NULL;
	if (err && err != -EPIPE)
		srv->exit_code = 1;
	start_shutdown(srv);
}

static const struct stdio_handler stdio_handler = {
	.open = on_stdio_open,
	.message = on_stdio_message,
	.drained = on_stdio_drained,
	.sent = on_stdio_sent,
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

/* Everything the command line decides, in the parts' own terms. */
struct server_config {
	struct engine_config engine;
	struct proto_config proto;
	const char *listen_url;
	enum listen_kind kind;
	const char *token_file;
	struct sysd_fd act[SYSD_MAX_FDS];	/* the sockets systemd passed */
	size_t nact;
	const char *hide[3 + SYSD_MAX_FDS];	/* paths sandboxes must not see */
	char passed_paths[SYSD_MAX_FDS][108];
	char token[WS_AUTH_TOKEN_MAX + 2];
};

/* The parts' configs from the options, systemd's sockets and the token.
 * 0, or 2 after a message. */
static int server_configure(struct server_config *c, struct options *o)
{
	char err[256];
	int loopback;
	c->engine = (struct engine_config){
		.retain_bytes = o->retain_bytes,
		.retain_chunks = 50000,
		.max_retained = o->max_retained,
		.exit_drain_ms = (unsigned)o->exit_drain_ms,
		.on_shutdown_signal = on_shutdown_signal,
	};
	c->proto = (struct proto_config){
		.retain_ms = o->retain_ms,
		.session_ttl_ms = o->session_ttl_s * 1000,
		.retain_bytes = o->retain_bytes,
		.max_processes = o->max_processes,
		.send_high_water = o->send_high_water,
		.max_spawn_bytes = 1u << 20,
	};
	ws_cfg.max_message = o->max_message;
	ws_cfg.high_water = o->send_high_water;
	ws_cfg.ping_interval_ms = (unsigned)o->ping_interval_ms;
	ws_cfg.max_connections = o->max_connections;
	ws_cfg.head_timeout_ms = (unsigned)o->head_timeout_ms;
	ws_cfg.allow_origins = o->origins;
	ws_cfg.allow_uids = o->allow_uids;
	ws_cfg.n_allow_uids = o->nallow_uids;
	c->token_file = o->token_file;

	if (sysd_listen_fds(c->act, &c->nact, err, sizeof(err)) < 0) {
		fprintf(stderr, "ringexecd: %s\n", err);
		return 2;
	}
	if (c->nact && o->listen) {
		fprintf(stderr, "ringexecd: --listen %s and the %zu socket(s) systemd passed "
			"(LISTEN_FDS): serve one or the other\n", o->listen, c->nact);
		return 2;
	}
	c->listen_url = o->listen ? o->listen : "ws://127.0.0.1:0";
	if (sysd_notify_init(err, sizeof(err)) < 0)
		fprintf(stderr, "ringexecd: warn: %s\n", err);
	if (listen_parse_url(c->listen_url, err, sizeof(err), &c->kind, &loopback) < 0) {
		fprintf(stderr, "ringexecd: %s\n", err);
		return 2;
	}
	if (load_auth_token(c->token_file, c->token, sizeof(c->token), &ws_cfg.auth_token) < 0)
		return 2;
	unsetenv(AUTH_ENV);	/* an envPolicy that inherits everything must not pass it on */
	/* One connection and nothing to resume it over: its end is the end. */
	if (c->kind == LISTEN_STDIO)
		c->proto.session_ttl_ms = 0;

	/* A sandboxed child must not reach the server itself: neither its
	 * unix sockets (ours, or systemd's) nor its token. */
	size_t nhide = 0;
	if (c->kind == LISTEN_UNIX && strncmp(c->listen_url, "unix://", 7) == 0 && !c->nact)
		c->hide[nhide++] = c->listen_url + 7;
	for (size_t i = 0; i < c->nact; i++)
		if (listen_unix_path(c->act[i].fd, c->passed_paths[i],
				     sizeof(c->passed_paths[i])) == 0)
			c->hide[nhide++] = c->passed_paths[i];
	if (c->token_file)
		c->hide[nhide++] = c->token_file;
	c->engine.sandbox_hide = c->hide;
	return 0;
}

/* The loop, the engine, the protocol and the listeners (or the stdio
 * connection), wired. 0, or 1 after a message. */
static int server_start(struct server *srv, struct server_config *c)
{
	int ret = loop_new(&srv->loop, 4096);
	if (ret < 0) {
		fprintf(stderr,
			"ringexecd: io_uring is unavailable: %s. It may be disabled by the "
			"kernel.io_uring_disabled sysctl or blocked by a seccomp profile "
			"(e.g. a container runtime's default).\n",
			strerror(-ret));
		return 1;
	}
	c->engine.ctx = srv;
	ret = engine_new(&srv->eng, srv->loop, &c->engine);
	if (ret < 0) {
		fprintf(stderr, "ringexecd: engine set-up failed: %s\n", strerror(-ret));
		return 1;
	}
	/* A sandboxed command must not drive the server (connect back to it
	 * over loopback, as whatever user the sandbox maps it to). */
	ws_cfg.sandboxed_peer = on_sandboxed_peer;
	ws_cfg.sandboxed_ctx = srv->eng;
	if (proto_new(&srv->proto, &engine_ring_ops, srv->eng, &c->proto) < 0) {
		fprintf(stderr, "ringexecd: out of memory\n");
		return 1;
	}
	metrics_init(&srv->metrics, srv->eng, srv->proto);
	ws_cfg.metrics = metrics_write;
	ws_cfg.metrics_ctx = &srv->metrics;
	const char *waits = loop_has_waitid(srv->loop) ? "IORING_OP_WAITID"
						       : "POLL_ADD on pidfd + waitid";
	if (c->kind == LISTEN_STDIO) {
		struct stdio_config scfg = {
			.max_message = ws_cfg.max_message,
			.high_water = ws_cfg.high_water,
		};
		ret = stdio_start(&srv->stdio, srv->loop, 0, 1, &scfg, &stdio_handler, srv);
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
		if (start_listeners(srv, c->listen_url, c->act, c->nact, waits))
			return 1;
	}
	sysd_notify("READY=1");
	return 0;
}

/* In the reverse order of server_start; any part may be missing. */
static void server_free(struct server *srv)
{
	stop_listeners(srv);
	stdio_free(srv->stdio);
	if (srv->proto)
		proto_free(srv->proto);
	if (srv->eng)
		engine_free(srv->eng);
	if (srv->loop)
		loop_free(srv->loop);
	peer_close();
}

int main(int argc, char **argv)
{
	static struct options opts;
	static struct server_config cfg;
	int status;
	if (!options_read(&opts, argc, argv, &status))
		return status;
	if ((status = server_configure(&cfg, &opts)) != 0)
		return status;

	ensure_std_fds();
	signal(SIGPIPE, SIG_IGN);
	/* Big blocks (send queues, whole-file reads) straight from and back to
	 * the kernel: a fixed threshold, not glibc's, which grows after the
	 * first big free and then keeps such blocks in the heap for good. */
	mallopt(M_MMAP_THRESHOLD, 256 * 1024);

	struct server srv = { 0 };
	status = server_start(&srv, &cfg);
	if (status == 0)
		status = loop_run(srv.loop) < 0 ? 1 : srv.exit_code;
	server_free(&srv);
	return status;
}
