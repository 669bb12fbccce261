/* it_robust: ringexecd under abuse: slow readers, floods, many connections and
 * processes, malformed frames and payloads, abrupt disconnects, SIGTERM.
 *
 * Every case runs its own server (--session-ttl 0 unless it needs otherwise) and ends
 * by stopping it with SIGTERM, which must give exit status 0 (under a sanitizer build a
 * leak or UB report makes that fail). Server memory is sampled from
 * /proc/<pid>/status VmRSS, fds from /proc/<pid>/fd and children from
 * /proc/<pid>/task/<pid>/children. No sleeps for readiness: deadlines only.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "expect.h"
#include "procfs.h"
#include "rpc.h"
#include "server.h"
#include "tap.h"
#include "wsc.h"

#define T_MS 5000	/* deadline of one request/response or one short process */
#define BIG_MS 40000	/* deadline of bulk transfers */

#define MIB (1024L * 1024L)

static struct server srv;	/* the running case's server (pid 0: none) */

/* ---- server per case ---- */

/* Start srv with --session-ttl 0 --log-level warn plus extra (NULL-terminated, or NULL). */
static bool up(const char *const *extra)
{
	const char *args[32] = { "--session-ttl", "0", "--log-level", "warn" };
	size_t n = 4;

	for (size_t i = 0; extra && extra[i] && n < 31; i++)
		args[n++] = extra[i];
	args[n] = NULL;
	if (server_start(&srv, args) != 0) {
		srv.pid = 0;
		return false;
	}
	return true;
}

/* up() for the cases that measure the server's RSS: a sanitizer build's quarantine
 * keeps freed memory resident (256 MiB by default), so it is turned off for these
 * servers (the options are ignored by a build without AddressSanitizer). */
static bool up_rss(const char *const *extra)
{
	const char *old = getenv("ASAN_OPTIONS");
	char *saved = old ? strdup(old) : NULL, *opts;
	bool ok;

	if (asprintf(&opts, "%s%squarantine_size_mb=0:thread_local_quarantine_size_kb=0",
		     old ? old : "", old && *old ? ":" : "") < 0)
		opts = NULL;
	if (opts)
		setenv("ASAN_OPTIONS", opts, 1);
	ok = up(extra);
	if (saved)
		setenv("ASAN_OPTIONS", saved, 1);
	else
		unsetenv("ASAN_OPTIONS");
	free(saved);
	free(opts);
	return ok;
}

/* Stop srv; it must exit 0. */
static void down(void)
{
	int st;

	if (srv.pid <= 0)
		return;
	st = server_stop(&srv);
	CHECKF(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
	       "server wait status 0x%x (exited %d status %d, signaled %d sig %d)", st,
	       WIFEXITED(st), WIFEXITED(st) ? WEXITSTATUS(st) : -1, WIFSIGNALED(st),
	       WIFSIGNALED(st) ? WTERMSIG(st) : -1);
	srv.pid = 0;
}

static void run_case(void (*body)(void))
{
	memset(&srv, 0, sizeof(srv));
	body();
	down();
}

#define CASE(name) \
	static void name##_body(void); \
	static void name(void) { run_case(name##_body); } \
	static void name##_body(void)

/* ---- /proc probes ---- */

/* VmRSS of pid in KiB, or -1. */
static long rss_kb(pid_t pid)
{
	char path[64], line[256];
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "VmRSS:", 6)) {
			v = strtol(line + 6, NULL, 10);
			break;
		}
	fclose(f);
	return v;
}

/* wchar from /proc/<pid>/io (bytes the process has written), or -1. */
static long long wchar_of(pid_t pid)
{
	char path[64], line[256];
	long long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/io", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "wchar:", 6)) {
			v = strtoll(line + 6, NULL, 10);
			break;
		}
	fclose(f);
	return v;
}

static int count_words(const char *s)
{
	int n = 0;
	bool in = false;

	for (; *s; s++) {
		if (*s != ' ' && !in)
			n++;
		in = *s != ' ';
	}
	return n;
}

/* ---- JSON-RPC helpers ---- */

static json_t *start_params(const char *id, const char *const *argv, bool pipe_stdin)
{
	json_t *a = json_array();

	for (size_t i = 0; argv[i]; i++)
		json_array_append_new(a, json_string(argv[i]));
	return json_pack("{s:s, s:o, s:s, s:{s:s}, s:b, s:b}", "processId", id, "argv", a, "cwd",
			 "/", "env", "PATH", "/usr/bin:/bin", "tty", 0, "pipeStdin", pipe_stdin);
}

static bool start_resp_ok(const json_t *resp, const char *id)
{
	return result_eq(resp, json_pack("{s:s, s:s}", "processId", id, "sandboxType", "none"));
}

static bool start_ok(struct rpc *r, json_t *params)
{
	char id[300];
	json_t *resp;
	bool ok;

	snprintf(id, sizeof(id), "%s",
		 json_string_value(json_object_get(params, "processId")) ?: "");
	resp = rpc_call(r, "process/start", params, T_MS);
	ok = start_resp_ok(resp, id);
	if (!ok)
		tap_diag("start %s: %s", id, js(resp));
	json_decref(resp);
	return ok;
}

static bool status_is(const json_t *resp, const char *status)
{
	return str_is(json_object_get(json_object_get(resp, "result"), "status"), status);
}

static json_t *write_params(const char *id, const void *bytes, size_t len)
{
	char *b = rpc_b64(bytes, len);
	json_t *p = json_pack("{s:s, s:s}", "processId", id, "chunk", b);

	free(b);
	return p;
}

/* The server is alive and serving: a new connection, handshake, process/list. */
static bool healthy(void)
{
	struct rpc *r = rpc_open(srv.url);
	json_t *resp;
	bool ok;

	if (!r) {
		tap_diag("health: cannot open a connection (server pid %d alive: %d)", (int)srv.pid,
			 kill(srv.pid, 0) == 0);
		return false;
	}
	resp = rpc_call(r, "process/list", json_object(), T_MS);
	ok = json_is_array(json_object_get(json_object_get(resp, "result"), "processes"));
	if (!ok)
		tap_diag("health: process/list gave %s", js(resp));
	json_decref(resp);
	rpc_close(r, 1000, 1000);
	return ok;
}

/* pid of process id from process/list, or -1. */
static pid_t pid_of(struct rpc *r, const char *id)
{
	json_t *resp = rpc_call(r, "process/list", json_object(), T_MS);
	json_t *ps = json_object_get(json_object_get(resp, "result"), "processes");
	pid_t pid = -1;

	for (size_t i = 0; i < json_array_size(ps); i++) {
		json_t *p = json_array_get(ps, i);

		if (str_is(json_object_get(p, "processId"), id))
			pid = (pid_t)json_integer_value(json_object_get(p, "pid"));
	}
	json_decref(resp);
	return pid;
}

/* ---- raw WebSocket frames ---- */

static const uint8_t mask_key[4] = { 0x37, 0xfa, 0x21, 0x3d };

/* One frame into out (room for len + 14): first byte b0 (FIN|RSV|opcode),
 * masked with mask_key when mask. Returns its size. */
static size_t ws_frame(uint8_t *out, uint8_t b0, bool mask, const void *payload, size_t len)
{
	const uint8_t *p = payload;
	uint8_t mb = mask ? 0x80 : 0;
	size_t h = 0;

	out[h++] = b0;
	if (len < 126) {
		out[h++] = mb | (uint8_t)len;
	} else if (len <= 0xffff) {
		out[h++] = mb | 126;
		out[h++] = (uint8_t)(len >> 8);
		out[h++] = (uint8_t)len;
	} else {
		out[h++] = mb | 127;
		for (int i = 7; i >= 0; i--)
			out[h++] = (uint8_t)((uint64_t)len >> (8 * i));
	}
	if (mask) {
		memcpy(out + h, mask_key, 4);
		h += 4;
		for (size_t i = 0; i < len; i++)
			out[h + i] = p[i] ^ mask_key[i & 3];
	} else if (len) {
		memcpy(out + h, p, len);
	}
	return h + len;
}

/* Send one frame raw. 0 or -errno. */
static int send_frame(struct wsc *c, uint8_t b0, bool mask, const void *payload, size_t len)
{
	uint8_t *buf = malloc(len + 14);
	int r;

	if (!buf)
		return -ENOMEM;
	r = wsc_send_raw(c, buf, ws_frame(buf, b0, mask, payload, len));
	free(buf);
	return r;
}

/* Read until the connection closes: the peer's close code (0: EOF without one),
 * or -ETIMEDOUT / another -errno. Data messages meanwhile are counted into *msgs. */
static int wait_close(struct wsc *c, int timeout_ms, int *msgs)
{
	int64_t deadline = wsc_now_ms() + timeout_ms;

	for (;;) {
		struct wsc_msg m;
		int err = wsc_recv(c, &m, left_ms(deadline));

		if (err < 0)
			return err;
		free(m.data);
		if (m.kind == WSC_CLOSED)
			return m.close_code;
		if (msgs && (m.kind == WSC_TEXT || m.kind == WSC_BINARY))
			(*msgs)++;
	}
}

/* ==== 1. slow reader ==== */

CASE(slow_reader_rss_bounded)
{
	static const char *const argv[] = { "head", "-c", "104857600", "/dev/zero", NULL };
	static const uint8_t zeros[65536];
	const long total = 100 * MIB;
	long base, peak, got = 0;
	long long head_wchar;
	int64_t end, next_seq = 1, deadline;
	int seq_errors = 0, nonzero = 0, bad = 0, exit_code = INT_MIN;
	bool closed = false;
	pid_t child;
	struct rpc *r;

	REQUIRE(up_rss(NULL));
	r = rpc_open(srv.url);
	REQUIRE(r);
	base = rss_kb(srv.pid);
	if (!start_ok(r, start_params("z", argv, false))) {
		rpc_free(r);
		REQUIRE(!"start failed");
	}
	child = pid_of(r, "z");
	/* Do not read the socket for 2 s; watch the server's memory. */
	peak = base;
	end = wsc_now_ms() + 2000;
	while (wsc_now_ms() < end) {
		long v = rss_kb(srv.pid);

		if (v > peak)
			peak = v;
		poll(NULL, 0, 20);
	}
	head_wchar = child > 0 ? wchar_of(child) : -1;
	tap_diag("server VmRSS baseline %ld KiB, peak while not reading %ld KiB (+%ld KiB); "
		 "head (pid %d) had written %lld bytes", base, peak, peak - base, (int)child,
		 head_wchar);
	CHECKF(base > 0 && peak - base < 64 * 1024,
	       "server RSS grew by %ld KiB while the client did not read (limit 64 MiB)",
	       peak - base);
	CHECKF(head_wchar < 0 || head_wchar < 64 * MIB,
	       "the child was not paused: it wrote %lld bytes while the client did not read",
	       head_wchar);

	/* Now read everything. */
	deadline = wsc_now_ms() + BIG_MS;
	while (!closed) {
		json_t *m = rpc_wait_notification(r, NULL, "z", left_ms(deadline));
		const char *method = json_string_value(json_object_get(m, "method"));
		json_t *p = json_object_get(m, "params");
		int64_t seq = json_integer_value(json_object_get(p, "seq"));

		if (!m)
			break;
		if (seq != next_seq && seq_errors++ < 5)
			tap_diag("seq %lld where %lld was due", (long long)seq, (long long)next_seq);
		next_seq = seq + 1;
		if (!strcmp(method ?: "", "process/output")) {
			const char *c = json_string_value(json_object_get(p, "chunk"));
			size_t n = 0;
			uint8_t *bytes = c ? rpc_unb64(c, &n) : NULL;

			if (!bytes || n > sizeof(zeros))
				bad++;
			else if (memcmp(bytes, zeros, n) != 0)
				nonzero++;
			got += (long)n;
			free(bytes);
		} else if (!strcmp(method ?: "", "process/exited")) {
			json_t *ec = json_object_get(p, "exitCode");

			exit_code = json_is_integer(ec) ? (int)json_integer_value(ec) : INT_MIN;
		} else if (!strcmp(method ?: "", "process/closed")) {
			closed = true;
		}
		json_decref(m);
	}
	CHECKF(closed, "no process/closed within %d ms (%ld of %ld bytes)", BIG_MS, got, total);
	CHECKF(got == total, "%ld bytes arrived, want %ld", got, total);
	CHECKF(seq_errors == 0 && bad == 0 && nonzero == 0,
	       "%d seq errors, %d bad/oversized chunks, %d chunks not all zero", seq_errors, bad,
	       nonzero);
	CHECKF(exit_code == 0, "exitCode %d", exit_code);
	rpc_free(r);
}

/* ==== 2. stdin flood to a child that does not read ==== */

CASE(stdin_flood_held_then_stdin_closed)
{
	enum { N = 16 };
	static const char *const sleeper[] = { "sleep", "30", NULL };
	static const char *const echo[] = { "echo", "hi", NULL };
	char *chunk = calloc(1, MIB);
	int64_t wid[N], rid, t0, t_read = -1, deadline, tid;
	json_t *wresp[N] = { 0 }, *resp;
	int answered = 0, accepted = 0, other = 0, held_ok = 0, held = 0;
	long base, peak;
	struct rpc *r;

	REQUIRE(chunk);
	if (!up_rss(NULL)) {
		free(chunk);
		REQUIRE(!"server start");
	}
	r = rpc_open(srv.url);
	if (!r || !start_ok(r, start_params("other", echo, false)) ||
	    rpc_collect(r, "other", NULL, NULL, NULL, T_MS) != 0 ||
	    !start_ok(r, start_params("flood", sleeper, true))) {
		free(chunk);
		rpc_free(r);
		REQUIRE(!"setup failed");
	}
	base = rss_kb(srv.pid);
	for (int i = 0; i < N; i++)
		wid[i] = rpc_send(r, "process/write", write_params("flood", chunk, MIB));
	free(chunk);
	t0 = wsc_now_ms();
	rid = rpc_send(r, "process/read", json_pack("{s:s}", "processId", "other"));
	deadline = t0 + T_MS;
	for (;;) {
		json_t *m = rpc_next(r, left_ms(deadline));
		json_t *idj = json_object_get(m, "id");
		int64_t id = json_integer_value(idj);

		if (!m)
			break;
		if (json_is_integer(idj) && id == rid && t_read < 0) {
			t_read = wsc_now_ms() - t0;
			if (!json_is_object(json_object_get(m, "result")))
				tap_diag("process/read of other: %s", js(m));
			/* Give held writes a moment more to (wrongly) answer. */
			deadline = wsc_now_ms() + 500;
		}
		for (int i = 0; i < N; i++)
			if (json_is_integer(idj) && id == wid[i] && !wresp[i]) {
				wresp[i] = json_incref(m);
				answered++;
				if (status_is(m, "accepted"))
					accepted++;
				else if (other++ < 3)
					tap_diag("write %d answered %s", i, js(m));
			}
		json_decref(m);
	}
	peak = rss_kb(srv.pid);
	tap_diag("%d of %d 1 MiB writes answered (%d accepted) before the hold; read of another "
		 "process answered after %lld ms; RSS +%ld KiB", answered, N, accepted,
		 (long long)t_read, peak - base);
	CHECKF(t_read >= 0 && t_read < 1000, "process/read of another process answered after %lld ms"
	       " (-1: never) while writes were held", (long long)t_read);
	CHECKF(other == 0, "%d writes answered with something other than accepted", other);
	CHECKF(accepted >= 8 && accepted <= 9,
	       "%d writes of 1 MiB accepted before the hold; want the first 8 MiB (8, or 9 when the "
	       "pipe took some)", accepted);
	CHECKF(peak - base < 64 * 1024, "server RSS grew by %ld KiB (limit 64 MiB)", peak - base);

	/* Terminate: answered at once; every held write then answers stdinClosed. */
	t0 = wsc_now_ms();
	tid = rpc_send(r, "process/terminate", json_pack("{s:s}", "processId", "flood"));
	resp = rpc_wait_response(r, tid, T_MS);
	CHECKF(result_eq(resp, json_pack("{s:b}", "running", 1)) && wsc_now_ms() - t0 < 1000,
	       "terminate answered %s after %lld ms", js(resp), (long long)(wsc_now_ms() - t0));
	json_decref(resp);
	for (int i = 0; i < N; i++) {
		if (wresp[i])
			continue;
		held++;
		wresp[i] = rpc_wait_response(r, wid[i], T_MS);
		if (status_is(wresp[i], "stdinClosed"))
			held_ok++;
		else
			tap_diag("held write %d answered %s", i, js(wresp[i]));
	}
	CHECKF(held_ok == held && held > 0, "%d of %d held writes answered stdinClosed", held_ok,
	       held);
	for (int i = 0; i < N; i++)
		json_decref(wresp[i]);
	rpc_free(r);
}

/* ==== 3. 256 connections at once ==== */

CASE(connections_256_at_once)
{
	enum { N = 256 };
	static const char *const argv[] = { "true", NULL };
	struct rpc *rs[N] = { 0 };
	int64_t ids[N];
	int connected = 0, inited = 0, started = 0, closed_ok = 0, extra, rc;
	struct wsc *c = NULL;
	int64_t deadline;
	bool ok = false;

	REQUIRE(up(NULL));
	for (int i = 0; i < N; i++) {
		struct wsc *w;
		int err = wsc_connect(&w, srv.url, NULL, T_MS);

		if (err != 0) {
			tap_diag("connection %d: wsc_connect %d", i, err);
			break;
		}
		rs[i] = rpc_new(w);
		connected++;
	}
	CHECKF(connected == N, "%d of %d connections opened", connected, N);
	/* One more is over --max-connections: HTTP 503. */
	extra = wsc_connect(&c, srv.url, NULL, T_MS);
	CHECKF(extra == 503, "connection %d got %d, want HTTP 503", N + 1, extra);
	if (extra == 0)
		wsc_abort(c);
	for (int i = 0; i < connected; i++)
		ids[i] = rpc_send(rs[i], "initialize", json_pack("{s:s}", "clientName", "robust"));
	for (int i = 0; i < connected; i++) {
		json_t *resp = rpc_wait_response(rs[i], ids[i], T_MS);
		static const char note[] = "{\"method\":\"initialized\",\"params\":{}}";

		if (json_is_object(json_object_get(resp, "result")) &&
		    wsc_send_text(rpc_wsc(rs[i]), note, sizeof(note) - 1) == 0)
			inited++;
		else if (i - inited < 4)
			tap_diag("initialize on %d: %s", i, js(resp));
		json_decref(resp);
	}
	CHECKF(inited == connected, "%d of %d initialized", inited, connected);
	for (int i = 0; i < connected; i++)
		ids[i] = rpc_send(rs[i], "process/start", start_params("t", argv, false));
	for (int i = 0; i < connected; i++) {
		json_t *resp = rpc_wait_response(rs[i], ids[i], T_MS);

		if (start_resp_ok(resp, "t"))
			started++;
		else
			tap_diag("start on %d: %s", i, js(resp));
		json_decref(resp);
	}
	CHECKF(started == connected, "%d of %d started", started, connected);
	for (int i = 0; i < connected; i++) {
		struct rpc_output o;

		rc = rpc_collect_full(rs[i], "t", &o, T_MS);
		if (rc == 0 && o.exit_code == 0 && o.seq_errors == 0 && o.closed)
			closed_ok++;
		else
			tap_diag("conn %d: rc %d closed %d exit %d seq errors %d", i, rc, o.closed,
				 o.exit_code, o.seq_errors);
		rpc_output_free(&o);
	}
	CHECKF(closed_ok == connected, "%d of %d processes exited 0 and closed", closed_ok,
	       connected);
	for (int i = 0; i < connected; i++)
		rpc_close(rs[i], 1000, 2000);
	/* A new connection works (a slot may take a moment to be released). */
	deadline = wsc_now_ms() + 3000;
	for (;;) {
		int err = wsc_connect(&c, srv.url, NULL, T_MS);

		if (err == 0) {
			wsc_abort(c);
			break;
		}
		if (err != 503 || wsc_now_ms() >= deadline) {
			tap_diag("new connection after closing all: %d", err);
			break;
		}
		poll(NULL, 0, 10);
	}
	ok = healthy();
	CHECKF(ok, "server not healthy after 256 connections closed");
}

/* ==== 4. 1,000 processes, no fd or zombie left ==== */

CASE(thousand_processes_no_leak)
{
	enum { N = 1000, WINDOW = 16 };
	static const char *const argv[] = { "true", NULL };
	int fd_base, fd_after, kids_base, started = 0, inflight = 0, done = 0, bad_start = 0,
	    bad_exit = 0;
	char kids[4096], id[16];
	int64_t deadline;
	struct rpc *r;

	REQUIRE(up(NULL));
	fd_base = count_fds(srv.pid);
	children_of(srv.pid, kids, sizeof(kids));
	kids_base = count_words(kids);
	r = rpc_open(srv.url);
	REQUIRE(r);
	deadline = wsc_now_ms() + BIG_MS;
	while (done < N) {
		json_t *m, *p;
		const char *method;

		while (started < N && inflight < WINDOW) {
			snprintf(id, sizeof(id), "p%d", started);
			if (rpc_send(r, "process/start", start_params(id, argv, false)) < 0)
				break;
			started++;
			inflight++;
		}
		m = rpc_next(r, left_ms(deadline));
		if (!m)
			break;
		method = json_string_value(json_object_get(m, "method"));
		p = json_object_get(m, "params");
		if (!method) {
			if (!json_is_object(json_object_get(m, "result")) && bad_start++ < 3)
				tap_diag("start answered %s", js(m));
			if (!json_is_object(json_object_get(m, "result"))) {
				inflight--;
				done++;
			}
		} else if (!strcmp(method, "process/exited")) {
			json_t *ec = json_object_get(p, "exitCode");

			if ((!json_is_integer(ec) || json_integer_value(ec) != 0) && bad_exit++ < 3)
				tap_diag("exited %s", js(m));
		} else if (!strcmp(method, "process/closed")) {
			inflight--;
			done++;
		}
		json_decref(m);
	}
	CHECKF(done == N && bad_start == 0 && bad_exit == 0,
	       "%d of %d processes closed (%d started), %d bad starts, %d bad exits", done, N,
	       started, bad_start, bad_exit);
	rpc_close(r, 1000, 2000);
	deadline = wsc_now_ms() + T_MS;
	for (;;) {
		fd_after = count_fds(srv.pid);
		children_of(srv.pid, kids, sizeof(kids));
		if ((fd_after <= fd_base && count_words(kids) <= kids_base) ||
		    wsc_now_ms() >= deadline)
			break;
		poll(NULL, 0, 10);
	}
	tap_diag("server fds %d before, %d after; children before %d, after \"%s\"", fd_base,
		 fd_after, kids_base, kids);
	CHECKF(fd_after == fd_base, "server holds %d fds, %d before", fd_after, fd_base);
	if (fd_after != fd_base)
		dump_fds(srv.pid);
	CHECKF(count_words(kids) == kids_base, "children left: \"%s\"", kids);
}

/* ==== 5. malformed frames ==== */

/* Connect a raw wsc; NULL on failure (diag printed). */
static struct wsc *raw_conn(void)
{
	struct wsc *c;
	int err = wsc_connect(&c, srv.url, NULL, T_MS);

	if (err != 0) {
		tap_diag("wsc_connect: %d", err);
		return NULL;
	}
	return c;
}

/* Send one frame on a fresh connection and expect the server to close with want. */
static void expect_close_after(const char *what, uint8_t b0, bool mask, const void *payload,
			       size_t len, int want)
{
	struct wsc *c = raw_conn();
	int err, code, msgs = 0;

	CHECKF(c, "%s: no connection", what);
	if (!c)
		return;
	err = send_frame(c, b0, mask, payload, len);
	code = wait_close(c, T_MS, &msgs);
	CHECKF(code == want, "%s: close code %d (0: a close frame without a status code, or EOF; "
	       "negative: -errno %s), want %d; send %d, %d messages before", what, code,
	       code < 0 ? strerror(-code) : "", want, err, msgs);
	wsc_abort(c);
}

CASE(malformed_frames)
{
	static const char json_list[] = "{\"id\":1,\"method\":\"process/list\",\"params\":{}}";
	static const char bad_utf8[] = "{\"id\":1,\"method\":\"a\xc3\x28\"}";
	const size_t big = 2 * MIB;
	char *pad;
	struct wsc *c;
	uint8_t hdr[32];
	size_t h;
	int err, code, msgs = 0;

	REQUIRE(up((const char *[]){ "--max-message", "1048576", NULL }));

	/* A truncated frame, then the socket closes. */
	c = raw_conn();
	REQUIRE(c);
	h = ws_frame(hdr, 0x81, true, "0123456789", 10);
	hdr[1] = 0x80 | 100;	/* claims 100 bytes, carries 10 */
	err = wsc_send_raw(c, hdr, h);
	CHECKF(err == 0, "truncated frame send: %d", err);
	wsc_abort(c);
	CHECKF(healthy(), "server not serving after a truncated frame and a close");

	/* A 2 MiB text message with --max-message 1 MiB: 1009. */
	pad = malloc(big);
	REQUIRE(pad);
	memset(pad, 'x', big);
	{
		static const char head[] = "{\"id\":1,\"method\":\"process/list\",\"params\":{\"p\":\"";

		memcpy(pad, head, sizeof(head) - 1);
	}
	memcpy(pad + big - 3, "\"}}", 3);
	c = raw_conn();
	if (c) {
		err = send_frame(c, 0x81, true, pad, big);
		code = wait_close(c, T_MS, &msgs);
		CHECKF(code == 1009, "2 MiB message: close code %d (negative: -errno), want 1009; "
		       "send %d, %d messages before", code, err, msgs);
		wsc_abort(c);
	}
	/* The same, in two 1 MiB fragments (each within the limit, the message not). */
	c = raw_conn();
	if (c) {
		uint8_t *buf = malloc(big + 64);

		h = ws_frame(buf, 0x01, true, pad, big / 2);			/* text, !FIN */
		h += ws_frame(buf + h, 0x80, true, pad + big / 2, big / 2);	/* cont, FIN */
		err = wsc_send_raw(c, buf, h);
		free(buf);
		msgs = 0;
		code = wait_close(c, T_MS, &msgs);
		CHECKF(code == 1009, "2 MiB message in 2 fragments: close code %d, want 1009; "
		       "send %d, %d messages before", code, err, msgs);
		wsc_abort(c);
	}
	free(pad);
	CHECKF(healthy(), "server not serving after oversized messages");

	expect_close_after("invalid UTF-8 text", 0x81, true, bad_utf8, sizeof(bad_utf8) - 1, 1007);
	expect_close_after("unmasked frame", 0x81, false, json_list, sizeof(json_list) - 1, 1002);
	expect_close_after("RSV1 set", 0xc1, true, json_list, sizeof(json_list) - 1, 1002);
	expect_close_after("reserved opcode 3", 0x83, true, json_list, sizeof(json_list) - 1, 1002);
	expect_close_after("continuation without a start", 0x80, true, json_list,
			   sizeof(json_list) - 1, 1002);
	{
		char p126[126];

		memset(p126, 'p', sizeof(p126));
		expect_close_after("ping with 126 bytes", 0x89, true, p126, sizeof(p126), 1002);
	}
	expect_close_after("fragmented ping", 0x09, true, "x", 1, 1002);
	expect_close_after("close with a 1-byte payload", 0x88, true, "\x03", 1, 1002);
	expect_close_after("close with code 1005", 0x88, true, "\x03\xed", 2, 1002);
	expect_close_after("close with code 999", 0x88, true, "\x03\xe7", 2, 1002);
	expect_close_after("close with an invalid UTF-8 reason", 0x88, true, "\x03\xe8\xff", 3,
			   1007);
	/* A header claiming 2^40 bytes, then more payload than --max-message: 1009. (How soon
	 * is not specified: a refusal at the header alone is only reported.) */
	c = raw_conn();
	if (c) {
		static const uint8_t huge_hdr[] = { 0x81, 0xff, 0, 0, 0x01, 0, 0, 0, 0, 0,
						    0x37, 0xfa, 0x21, 0x3d };
		char *more = malloc(MIB + 65536);

		err = wsc_send_raw(c, huge_hdr, sizeof(huge_hdr));
		msgs = 0;
		code = wait_close(c, 500, &msgs);
		if (code == -ETIMEDOUT) {
			tap_diag("note: a header announcing 2^40 bytes (--max-message 1 MiB) is not "
				 "refused at the header: no close within 500 ms");
			if (more) {
				memset(more, 'x', MIB + 65536);
				err = wsc_send_raw(c, more, MIB + 65536);
			}
			code = wait_close(c, T_MS, &msgs);
		}
		free(more);
		CHECKF(code == 1009, "a 2^40-byte header and 1 MiB + 64 KiB of payload: close code "
		       "%d, want 1009 (send %d)", code, err);
		wsc_abort(c);
	}
	/* A 64-bit length with the top bit set is a protocol error. */
	c = raw_conn();
	if (c) {
		static const uint8_t bad_len[] = { 0x81, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 5,
						   0x37, 0xfa, 0x21, 0x3d };

		err = wsc_send_raw(c, bad_len, sizeof(bad_len));
		msgs = 0;
		code = wait_close(c, T_MS, &msgs);
		CHECKF(code == 1002 || code == 1009,
		       "a 64-bit length with the top bit set: close code %d, want 1002 (send %d)",
		       code, err);
		wsc_abort(c);
	}
	/* Valid: a UTF-8 character split across fragments, with a ping in between. */
	c = raw_conn();
	if (c) {
		static const char a[] = "{\"id\":\"\xc3", b[] = "\xa9\",\"method\":\"process/list\"}";
		uint8_t buf[256];
		struct wsc_msg m = { 0 };
		json_t *j;

		h = ws_frame(buf, 0x01, true, a, sizeof(a) - 1);
		h += ws_frame(buf + h, 0x89, true, "pp", 2);
		h += ws_frame(buf + h, 0x80, true, b, sizeof(b) - 1);
		err = wsc_send_raw(c, buf, h);
		do {
			free(m.data);
			m.data = NULL;
			err = wsc_recv(c, &m, T_MS);
		} while (err == 0 && m.kind == WSC_PONG);
		j = err == 0 && m.kind == WSC_TEXT ? json_loads(m.data, 0, NULL) : NULL;
		CHECKF(str_is(json_object_get(j, "id"), "\xc3\xa9") && err_code(j) == -32600,
		       "split UTF-8 + ping inside a fragmented message: recv %d kind %d close %d "
		       "data %.300s; want the gate error for id \"\xc3\xa9\"", err, m.kind,
		       m.close_code, m.data ? m.data : "");
		json_decref(j);
		free(m.data);
		wsc_abort(c);
	}
	CHECKF(healthy(), "server not serving after protocol violations");
}

/* ==== 6. bad JSON-RPC payloads ==== */

/* Send text raw on r and expect the -32600 id -1 parse error. */
static void expect_parse_error(struct rpc *r, const char *what, const char *text, size_t len)
{
	static const char prefix[] =
		"failed to parse websocket JSON-RPC message from exec-server websocket 127.0.0.1:";
	int err = wsc_send_text(rpc_wsc(r), text, len);
	json_t *resp = err == 0 ? rpc_wait_response(r, -1, T_MS) : NULL;
	const char *msg = err_msg(resp);

	CHECKF(err_code(resp) == -32600 && msg && !strncmp(msg, prefix, sizeof(prefix) - 1),
	       "%s: got %.400s (send %d); want -32600 id -1 \"%s...\"", what, js(resp), err, prefix);
	if (getenv("ROBUST_VERBOSE"))
		tap_diag("%.60s -> %.300s", what, js(resp));
	json_decref(resp);
}

struct bad_param {
	const char *method;
	const char *params;	/* JSON text of the whole params value */
	const char *field;	/* the message must contain it; NULL: any message */
};

static const struct bad_param bad_params[] = {
#define S "\"argv\":[\"true\"],\"cwd\":\"/\",\"env\":{},\"tty\":false"
	{ "process/start", "{\"processId\":5," S "}", "processId" },
	{ "process/start", "{\"processId\":\"w\",\"argv\":\"true\",\"cwd\":\"/\",\"env\":{},\"tty\":false}", "argv" },
	{ "process/start", "{\"processId\":\"w\",\"argv\":[1],\"cwd\":\"/\",\"env\":{},\"tty\":false}", "argv" },
	{ "process/start", "{\"processId\":\"w\",\"argv\":[\"true\"],\"cwd\":5,\"env\":{},\"tty\":false}", "cwd" },
	{ "process/start", "{\"processId\":\"w\",\"argv\":[\"true\"],\"cwd\":\"/\",\"env\":[],\"tty\":false}", "env" },
	{ "process/start", "{\"processId\":\"w\",\"argv\":[\"true\"],\"cwd\":\"/\",\"env\":{\"A\":1},\"tty\":false}", "env" },
	{ "process/start", "{\"processId\":\"w\",\"argv\":[\"true\"],\"cwd\":\"/\",\"env\":{},\"tty\":\"yes\"}", "tty" },
	{ "process/start", "{\"processId\":\"w\"," S ",\"pipeStdin\":\"yes\"}", "pipeStdin" },
	{ "process/start", "{\"processId\":\"w\"," S ",\"arg0\":5}", "arg0" },
	{ "process/start", "{\"processId\":\"w\"," S ",\"size\":\"big\"}", "size" },
	{ "process/start", "{\"processId\":\"w\"," S ",\"size\":{\"rows\":\"24\",\"cols\":80}}", "rows" },
	{ "process/start", "{\"processId\":\"w\"," S ",\"size\":{\"rows\":24,\"cols\":true}}", "cols" },
	{ "process/start", "{\"processId\":\"w\"," S ",\"timeoutMs\":\"100\"}", "timeoutMs" },
	{ "process/start", "{\"processId\":\"w\"," S ",\"envPolicy\":5}", "envPolicy" },
	{ "process/start", "{\"processId\":\"w\",\"cwd\":\"/\",\"env\":{},\"tty\":false}", "argv" },
	{ "process/start", "\"params\"", NULL },
#undef S
	{ "process/read", "{\"processId\":5}", "processId" },
	{ "process/read", "{\"processId\":\"x\",\"afterSeq\":\"1\"}", "afterSeq" },
	{ "process/read", "{\"processId\":\"x\",\"afterSeq\":-1}", "afterSeq" },
	{ "process/read", "{\"processId\":\"x\",\"maxBytes\":\"1\"}", "maxBytes" },
	{ "process/read", "{\"processId\":\"x\",\"waitMs\":true}", "waitMs" },
	{ "process/read", "{\"processId\":\"x\",\"waitMs\":1.5}", "waitMs" },
	{ "process/read", "{}", "processId" },
	{ "process/read", "[1]", NULL },
	{ "process/write", "{\"processId\":5,\"chunk\":\"\"}", "processId" },
	{ "process/write", "{\"processId\":\"x\",\"chunk\":5}", "chunk" },
	{ "process/write", "{\"processId\":\"x\",\"chunk\":\"\",\"writeId\":5}", "writeId" },
	{ "process/write", "{\"processId\":\"x\",\"chunk\":\"\",\"closeStdin\":\"yes\"}", "closeStdin" },
	{ "process/terminate", "{\"processId\":5}", "processId" },
	{ "process/terminate", "{\"processId\":\"x\",\"graceMs\":\"5\"}", "graceMs" },
	{ "process/signal", "{\"processId\":5,\"signal\":\"interrupt\"}", "processId" },
	{ "process/signal", "{\"processId\":\"x\",\"signal\":5}", "signal" },
	{ "process/resize", "{\"processId\":5,\"rows\":24,\"cols\":80}", "processId" },
	{ "process/resize", "{\"processId\":\"x\",\"rows\":\"24\",\"cols\":80}", "rows" },
	{ "process/resize", "{\"processId\":\"x\",\"rows\":24,\"cols\":\"80\"}", "cols" },
	{ "process/list", "\"x\"", NULL },
	{ "process/list", "5", NULL },
	{ NULL, NULL, NULL }
};

static void check_bad_param(struct rpc *r, const struct bad_param *b)
{
	char *text;
	int err, n;
	json_t *resp;
	const char *msg;
	static int64_t next_id = 900000;
	int64_t id = next_id++;

	n = asprintf(&text, "{\"id\":%lld,\"method\":\"%s\",\"params\":%s}", (long long)id,
		     b->method, b->params);
	if (n < 0)
		return;
	err = wsc_send_text(rpc_wsc(r), text, (size_t)n);
	resp = err == 0 ? rpc_wait_response(r, id, T_MS) : NULL;
	msg = err_msg(resp);
	CHECKF(err_code(resp) == -32602 && msg && (!b->field || strstr(msg, b->field)),
	       "%s params %s: got %s; want -32602 naming `%s`", b->method, b->params, js(resp),
	       b->field ?: "(any)");
	if (getenv("ROBUST_VERBOSE"))
		tap_diag("%s %s -> %s", b->method, b->params, js(resp));
	json_decref(resp);
	free(text);
}

CASE(bad_jsonrpc_payloads)
{
	static const char *const non_objects[] = {
		"[1,2,3]", "42", "\"hello\"", "null", "true", "{bad json", "", "{}",
		"{\"id\":true,\"method\":\"process/list\"}",
		"{\"id\":1.5,\"method\":\"process/list\"}",
		"{\"id\":[1],\"method\":\"process/list\"}",
		"{\"id\":1,\"method\":5}",
		NULL
	};
	static const char *const huge[] = {
		"{\"id\":99999999999999999999,\"method\":\"process/list\",\"params\":{}}",
		"{\"id\":9223372036854775808,\"method\":\"process/list\",\"params\":{}}",
		"{\"id\":-9223372036854775809,\"method\":\"process/list\",\"params\":{}}",
		"{\"id\":7,\"method\":\"process/read\",\"params\":{\"processId\":\"x\","
		"\"afterSeq\":100000000000000000000}}",
		"{\"id\":7,\"method\":\"process/list\",\"params\":{\"x\":[1e999999999999]}}",
		NULL
	};
	enum { DEPTH = 100000 };
	char *deep = malloc(2 * DEPTH + 256), *pre;
	size_t n;
	struct rpc *r, *r0;
	json_t *resp;
	int err;

	REQUIRE(deep);
	if (!up(NULL)) {
		free(deep);
		REQUIRE(!"server start");
	}
	r = rpc_open(srv.url);
	if (!r) {
		free(deep);
		REQUIRE(r);
	}
	for (size_t i = 0; non_objects[i]; i++)
		expect_parse_error(r, non_objects[i], non_objects[i], strlen(non_objects[i]));

	/* Deep nesting: unbalanced, balanced, and balanced inside an ignored field. */
	memset(deep, '[', DEPTH);
	expect_parse_error(r, "100000 '['", deep, DEPTH);
	memset(deep + DEPTH, ']', DEPTH);
	expect_parse_error(r, "100000 nested arrays", deep, 2 * DEPTH);
	pre = deep;
	n = (size_t)sprintf(pre, "{\"id\":77,\"method\":\"process/start\",\"params\":{\"processId\":"
			    "\"deep\",\"argv\":[\"true\"],\"cwd\":\"/\",\"env\":{},\"tty\":false,"
			    "\"metadata\":");
	memset(deep + n, '[', DEPTH);
	memset(deep + n + DEPTH, ']', DEPTH);
	memcpy(deep + n + 2 * DEPTH, "}}", 2);
	err = wsc_send_text(rpc_wsc(r), deep, n + 2 * DEPTH + 2);
	{
		json_t *m = err == 0 ? rpc_next(r, T_MS) : NULL;

		tap_diag("metadata nested %d deep answered %.200s", DEPTH, js(m));
		CHECKF(m && (json_object_get(m, "error") || json_object_get(m, "result")),
		       "metadata nested %d deep: no answer (send %d)", DEPTH, err);
		json_decref(m);
		/* If it started, let it finish. */
		rpc_collect(r, "deep", NULL, NULL, NULL, 1000);
	}
	free(deep);

	for (size_t i = 0; huge[i]; i++)
		expect_parse_error(r, huge[i], huge[i], strlen(huge[i]));

	/* The int64 limits themselves are fine and echoed with the same type. */
	{
		static const char *const edge[] = {
			"{\"id\":9223372036854775807,\"method\":\"process/list\",\"params\":{}}",
			"{\"id\":-9223372036854775808,\"method\":\"process/list\",\"params\":{}}",
			"{\"id\":\"9223372036854775808\",\"method\":\"process/list\",\"params\":{}}",
		};
		for (size_t i = 0; i < 3; i++) {
			json_t *sent = json_loads(edge[i], 0, NULL), *m;

			err = wsc_send_text(rpc_wsc(r), edge[i], strlen(edge[i]));
			m = err == 0 ? rpc_next(r, T_MS) : NULL;
			CHECKF(m && json_equal(json_object_get(m, "id"), json_object_get(sent, "id")) &&
			       json_object_get(m, "result"),
			       "%s: got %s", edge[i], js(m));
			json_decref(m);
			json_decref(sent);
		}
	}

	/* Wrong types in every field of every method. */
	for (const struct bad_param *b = bad_params; b->method; b++)
		check_bad_param(r, b);

	/* initialize on a connection that has not initialized. */
	{
		struct wsc *c = raw_conn();
		static const struct bad_param init_bad[] = {
			{ "initialize", "{\"clientName\":5}", "clientName" },
			{ "initialize", "{\"clientName\":\"x\",\"resumeSessionId\":5}",
			  "resumeSessionId" },
			{ "initialize", "{}", "clientName" },
			{ "initialize", "[]", NULL },
			{ NULL, NULL, NULL }
		};

		r0 = c ? rpc_new(c) : NULL;
		CHECK(r0);
		for (const struct bad_param *b = init_bad; r0 && b->method; b++)
			check_bad_param(r0, b);
		/* The failed ones did not initialize: a good one still works once. */
		if (r0) {
			resp = rpc_call(r0, "initialize", json_pack("{s:s}", "clientName", "x"), T_MS);
			CHECKF(json_is_object(json_object_get(resp, "result")),
			       "initialize after bad ones: %s", js(resp));
			json_decref(resp);
			rpc_free(r0);
		}
	}

	/* Still alive and answering on the same connection. */
	resp = rpc_call(r, "process/list", json_object(), T_MS);
	CHECKF(json_object_get(resp, "result"), "process/list afterwards: %s", js(resp));
	json_decref(resp);
	rpc_free(r);
}

/* ==== 7. 1,000 requests in one TCP write ==== */

CASE(thousand_requests_one_write)
{
	enum { N = 1000, BASE = 100000 };
	size_t cap = (size_t)N * 256, len = 0;
	uint8_t *buf = malloc(cap);
	int answered = 0, wrong = 0, starts = 0, closed = 0, err;
	int64_t deadline;
	struct rpc *r;

	REQUIRE(buf);
	if (!up(NULL) || !(r = rpc_open(srv.url))) {
		free(buf);
		REQUIRE(!"setup failed");
	}
	for (int i = 0; i < N; i++) {
		char text[200];
		int n;

		if (i % 100 == 0)
			n = snprintf(text, sizeof(text),
				     "{\"id\":%d,\"method\":\"process/start\",\"params\":{\"processId\":"
				     "\"s%d\",\"argv\":[\"true\"],\"cwd\":\"/\",\"env\":{},\"tty\":false}}",
				     BASE + i, i);
		else
			n = snprintf(text, sizeof(text),
				     "{\"id\":%d,\"method\":\"process/write\",\"params\":{\"processId\":"
				     "\"ghost\",\"chunk\":\"aGk=\"}}", BASE + i);
		len += ws_frame(buf + len, 0x81, true, text, (size_t)n);
	}
	err = wsc_send_raw(rpc_wsc(r), buf, len);
	free(buf);
	CHECKF(err == 0, "send of %zu bytes: %d", len, err);
	deadline = wsc_now_ms() + 15000;
	for (int i = 0; i < N; i++) {
		json_t *resp = rpc_wait_response(r, BASE + i, left_ms(deadline));

		if (resp)
			answered++;
		if (i % 100 == 0) {
			char id[16];

			snprintf(id, sizeof(id), "s%d", i);
			if (start_resp_ok(resp, id))
				starts++;
			else if (wrong++ < 5)
				tap_diag("start %d: %s", i, js(resp));
		} else if (!status_is(resp, "unknownProcess") && wrong++ < 5) {
			tap_diag("write %d: %s", i, js(resp));
		}
		json_decref(resp);
	}
	CHECKF(answered == N && wrong == 0, "%d of %d answered, %d wrong (%d starts ok)", answered,
	       N, wrong, starts);
	for (int i = 0; i < N; i += 100) {
		char id[16];
		struct rpc_output o;

		snprintf(id, sizeof(id), "s%d", i);
		if (rpc_collect_full(r, id, &o, T_MS) == 0 && o.exit_code == 0 && o.closed &&
		    o.seq_errors == 0)
			closed++;
		else
			tap_diag("%s: closed %d exit %d seq errors %d", id, o.closed, o.exit_code,
				 o.seq_errors);
		rpc_output_free(&o);
	}
	CHECKF(closed == N / 100, "%d of %d started processes exited 0 and closed", closed, N / 100);

	/* 200 requests again, dribbled in pieces of 1 to 7 bytes (headers split too). */
	{
		enum { M = 200, B2 = 200000 };
		uint8_t *b = malloc((size_t)M * 128);
		size_t blen = 0, off = 0;
		unsigned step = 0;

		answered = wrong = 0;
		REQUIRE(b);
		for (int i = 0; i < M; i++) {
			char text[160];
			int n = snprintf(text, sizeof(text),
					 "{\"id\":%d,\"method\":\"process/write\",\"params\":"
					 "{\"processId\":\"ghost\",\"chunk\":\"aGk=\"}}", B2 + i);

			blen += ws_frame(b + blen, 0x81, true, text, (size_t)n);
		}
		err = 0;
		while (off < blen && err == 0) {
			size_t k = 1 + (step++ % 7);

			if (k > blen - off)
				k = blen - off;
			err = wsc_send_raw(rpc_wsc(r), b + off, k);
			off += k;
		}
		free(b);
		CHECKF(err == 0, "dribbled send: %d at offset %zu", err, off);
		deadline = wsc_now_ms() + 15000;
		for (int i = 0; i < M; i++) {
			json_t *resp = rpc_wait_response(r, B2 + i, left_ms(deadline));

			if (resp)
				answered++;
			if (!status_is(resp, "unknownProcess") && wrong++ < 5)
				tap_diag("dribbled write %d: %s", i, js(resp));
			json_decref(resp);
		}
		CHECKF(answered == M && wrong == 0, "dribbled: %d of %d answered, %d wrong", answered,
		       M, wrong);
	}
	rpc_free(r);
}

/* ==== 8. a held write and a terminate on the same connection ==== */

CASE(held_write_then_terminate)
{
	static const char *const sleeper[] = { "sleep", "30", NULL };
	const size_t big = 9 * MIB;
	char *data = calloc(1, big);
	int64_t a, b, t, t0;
	json_t *resp, *held;
	struct rpc *r;

	REQUIRE(data);
	if (!up(NULL) || !(r = rpc_open(srv.url))) {
		free(data);
		REQUIRE(!"setup failed");
	}
	if (!start_ok(r, start_params("bp", sleeper, true))) {
		free(data);
		rpc_free(r);
		REQUIRE(!"start");
	}
	a = rpc_send(r, "process/write", write_params("bp", data, big));
	free(data);
	resp = rpc_wait_response(r, a, T_MS);
	CHECKF(status_is(resp, "accepted"), "9 MiB write into an empty queue: %s", js(resp));
	json_decref(resp);
	b = rpc_send(r, "process/write", write_params("bp", "!", 1));
	held = rpc_wait_response(r, b, 300);
	CHECKF(!held, "the write over 8 MiB was not held: %s", js(held));
	t0 = wsc_now_ms();
	t = rpc_send(r, "process/terminate", json_pack("{s:s}", "processId", "bp"));
	resp = rpc_wait_response(r, t, T_MS);
	CHECKF(result_eq(resp, json_pack("{s:b}", "running", 1)) && wsc_now_ms() - t0 < 1000,
	       "terminate answered %s after %lld ms", js(resp), (long long)(wsc_now_ms() - t0));
	json_decref(resp);
	if (!held)
		held = rpc_wait_response(r, b, T_MS);
	CHECKF(status_is(held, "stdinClosed"), "held write answered %s", js(held));
	json_decref(held);
	CHECK(rpc_collect(r, "bp", NULL, NULL, NULL, T_MS) == 0);
	rpc_free(r);
}

/* ==== 9. 100 abrupt drops while streaming ==== */

CASE(hundred_drops_while_streaming)
{
	static const char *const yes[] = { "yes", NULL };
	long base, now_rss = -1;
	int ok = 0;
	char kids[4096] = "";
	int64_t deadline;

	REQUIRE(up_rss(NULL));
	base = rss_kb(srv.pid);
	for (int i = 0; i < 100; i++) {
		struct rpc *r = rpc_open(srv.url);
		json_t *m;

		if (!r) {
			tap_diag("iteration %d: no connection", i);
			break;
		}
		if (start_ok(r, start_params("y", yes, false))) {
			m = rpc_wait_notification(r, "process/output", "y", T_MS);
			if (m)
				ok++;
			json_decref(m);
		}
		rpc_free(r);	/* abrupt: no close frame */
	}
	CHECKF(ok == 100, "%d of 100 iterations streamed", ok);
	/* Each dropped session streamed megabytes: a leak per session would show
	 * as 100+ MiB. 16 MiB leaves room for what the allocator keeps after
	 * freeing send queues and logs (seen: 3.8-9.3 MiB on a loaded machine). */
	deadline = wsc_now_ms() + 10000;
	for (;;) {
		now_rss = rss_kb(srv.pid);
		children_of(srv.pid, kids, sizeof(kids));
		if ((now_rss - base <= 16 * 1024 && !kids[0]) || wsc_now_ms() >= deadline)
			break;
		poll(NULL, 0, 20);
	}
	tap_diag("RSS baseline %ld KiB, after %ld KiB (+%ld)", base, now_rss, now_rss - base);
	CHECKF(now_rss - base <= 16 * 1024, "server RSS %ld KiB above baseline after 100 drops",
	       now_rss - base);
	CHECKF(!kids[0], "children left: \"%s\"", kids);
	CHECKF(healthy(), "server not serving after 100 drops");
}

/* ==== 10. drops during a long-poll and during large output ==== */

CASE(drops_during_long_poll_and_output)
{
	static const char *const sleeper[] = { "sleep", "30", NULL };
	static const char *const big[] = { "head", "-c", "8388608", "/dev/zero", NULL };
	char kids[4096];
	json_t *resp, *m;
	int64_t deadline;
	struct rpc *r;

	REQUIRE(up(NULL));

	/* A long-poll of 10 s, then the connection drops. */
	r = rpc_open(srv.url);
	REQUIRE(r);
	if (start_ok(r, start_params("s", sleeper, false))) {
		int64_t rid = rpc_send(r, "process/read",
				       json_pack("{s:s, s:i}", "processId", "s", "waitMs", 10000));

		/* Requests are decoded in order: once list answers, the read is waiting. */
		resp = rpc_call(r, "process/list", json_object(), T_MS);
		CHECKF(json_object_get(resp, "result"), "list during long-poll: %s", js(resp));
		json_decref(resp);
		m = rpc_wait_response(r, rid, 0);
		CHECKF(!m, "the long-poll answered early: %s", js(m));
		json_decref(m);
	}
	rpc_free(r);
	CHECKF(healthy(), "server not serving after a drop during a long-poll");

	/* A short long-poll dropped, and its timer left to fire after the drop. */
	r = rpc_open(srv.url);
	REQUIRE(r);
	if (start_ok(r, start_params("s2", sleeper, false))) {
		rpc_send(r, "process/read", json_pack("{s:s, s:i}", "processId", "s2", "waitMs", 300));
		resp = rpc_call(r, "process/list", json_object(), T_MS);
		json_decref(resp);
	}
	rpc_free(r);
	poll(NULL, 0, 600);	/* past the read's 300 ms: its timer fires with the connection gone */
	CHECKF(healthy(), "server not serving after a long-poll's timer outlived its connection");

	/* 8 MiB of output, dropped after the first chunk. */
	r = rpc_open(srv.url);
	REQUIRE(r);
	if (start_ok(r, start_params("big", big, false))) {
		m = rpc_wait_notification(r, "process/output", "big", T_MS);
		CHECKF(m, "no output from the 8 MiB process");
		json_decref(m);
	}
	rpc_free(r);
	CHECKF(healthy(), "server not serving after a drop during large output");

	/* Dropped while the send queue is over the high-water mark (client not reading). */
	r = rpc_open(srv.url);
	REQUIRE(r);
	if (start_ok(r, start_params("huge", (const char *const[]){ "head", "-c", "104857600",
								    "/dev/zero", NULL }, false))) {
		pid_t child = pid_of(r, "huge");
		long long w = -1, prev = -2;

		deadline = wsc_now_ms() + T_MS;
		/* Until the child is held back: its output stops growing past 4 MiB. */
		while (wsc_now_ms() < deadline) {
			w = wchar_of(child);
			if (w > 4 * MIB && w == prev)
				break;
			prev = w;
			poll(NULL, 0, 50);
		}
		CHECKF(w > 4 * MIB && w < 64 * MIB, "child wrote %lld bytes before the drop", w);
	}
	rpc_free(r);
	CHECKF(healthy(), "server not serving after a drop with a full send queue");

	/* Dropped while a write is held by back-pressure. */
	r = rpc_open(srv.url);
	REQUIRE(r);
	if (start_ok(r, start_params("hw", sleeper, true))) {
		char *data = calloc(1, 9 * MIB);
		int64_t a = data ? rpc_send(r, "process/write", write_params("hw", data, 9 * MIB)) : -1;

		free(data);
		m = rpc_wait_response(r, a, T_MS);
		CHECKF(status_is(m, "accepted"), "9 MiB write: %s", js(m));
		json_decref(m);
		rpc_send(r, "process/write", write_params("hw", "!", 1));
		resp = rpc_call(r, "process/list", json_object(), T_MS);	/* the write is held now */
		json_decref(resp);
	}
	rpc_free(r);
	CHECKF(healthy(), "server not serving after a drop with a held write");
	deadline = wsc_now_ms() + T_MS;
	do {
		children_of(srv.pid, kids, sizeof(kids));
		if (!kids[0])
			break;
		poll(NULL, 0, 10);
	} while (wsc_now_ms() < deadline);
	CHECKF(!kids[0], "children left after the drops (--session-ttl 0): \"%s\"", kids);
}

/* ==== 11. SIGTERM while processes run ==== */

CASE(sigterm_with_running_processes)
{
	enum { N = 10 };
	static const char *const sleeper[] = { "sleep", "30", NULL };
	pid_t pids[N];
	int st, code, gone = 0, have = 0;
	json_t *resp, *ps;
	struct rpc *r;

	REQUIRE(up(NULL));
	r = rpc_open(srv.url);
	REQUIRE(r);
	for (int i = 0; i < N; i++) {
		char id[8];

		snprintf(id, sizeof(id), "t%d", i);
		CHECK(start_ok(r, start_params(id, sleeper, false)));
	}
	resp = rpc_call(r, "process/list", json_object(), T_MS);
	ps = json_object_get(json_object_get(resp, "result"), "processes");
	for (size_t i = 0; i < json_array_size(ps) && have < N; i++) {
		json_int_t pid = json_integer_value(json_object_get(json_array_get(ps, i), "pid"));

		if (pid > 1)
			pids[have++] = (pid_t)pid;
	}
	json_decref(resp);
	CHECKF(have == N, "process/list gave %d pids", have);
	/* Also pending at the signal: a long-poll and a write held by back-pressure. */
	rpc_send(r, "process/read", json_pack("{s:s, s:i}", "processId", "t0", "waitMs", 20000));
	if (start_ok(r, start_params("hw", sleeper, true))) {
		char *data = calloc(1, 9 * MIB);
		int64_t a = data ? rpc_send(r, "process/write", write_params("hw", data, 9 * MIB)) : -1;

		free(data);
		json_decref(rpc_wait_response(r, a, T_MS));
		rpc_send(r, "process/write", write_params("hw", "!", 1));
		json_decref(rpc_call(r, "process/list", json_object(), T_MS));
	}
	st = server_stop(&srv);
	srv.pid = 0;
	CHECKF(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
	       "server wait status 0x%x (exited %d status %d, signaled %d sig %d)", st,
	       WIFEXITED(st), WIFEXITED(st) ? WEXITSTATUS(st) : -1, WIFSIGNALED(st),
	       WIFSIGNALED(st) ? WTERMSIG(st) : -1);
	code = wait_close(rpc_wsc(r), 1000, NULL);
	CHECKF(code == 1001, "the connection closed with %d, want 1001", code);
	for (int i = 0; i < have; i++)
		if (pid_gone_within(pids[i], 1000))
			gone++;
		else
			tap_diag("pid %d still there", (int)pids[i]);
	CHECKF(gone == have, "%d of %d processes gone", gone, have);
	rpc_free(r);
}

/* ==== 12. idle outputs keep the server idle ==== */

/* utime + stime of pid in clock ticks, from /proc/<pid>/stat, or -1. */
static long long cpu_ticks(pid_t pid)
{
	char path[64], buf[1024];
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* Fields after the command's closing parenthesis: 3 state ... 14 utime 15 stime. */
	char *p = strrchr(buf, ')');
	unsigned long long ut, st;
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut,
			 &st) != 2)
		return -1;
	return (long long)(ut + st);
}

/* Processes that hold their pipes or their PTY open and write nothing (and
 * one whose leader exited while a grandchild keeps the pipes): however the
 * kernel answers a read with nothing to read, the loop waits on the fds and
 * the server's CPU time over two seconds stays near zero. Not a speed
 * figure: a busy loop burns all of those two seconds, the bound is a tenth
 * of them. The wait is two long-polls that time out (events, not sleeps). */
CASE(idle_outputs_keep_the_server_idle)
{
	static const char *const sleeper[] = { "sleep", "30", NULL };
	static const char *const orphaner[] = { "sh", "-c", "sleep 30 & exit 0", NULL };
	long long before, after, ticks = sysconf(_SC_CLK_TCK);
	int64_t t0, t1;
	json_t *p;
	struct rpc *r;

	REQUIRE(up(NULL));
	r = rpc_open(srv.url);
	REQUIRE(r);
	CHECK(start_ok(r, start_params("pipe", sleeper, true)));
	p = start_params("pty", sleeper, false);
	json_object_set_new(p, "tty", json_true());
	CHECK(start_ok(r, p));
	CHECK(start_ok(r, start_params("orphan", orphaner, false)));
	json_decref(rpc_wait_notification(r, "process/exited", "orphan", T_MS));
	before = cpu_ticks(srv.pid);
	t0 = wsc_now_ms();
	for (int i = 0; i < 2; i++) {
		json_t *resp = rpc_call(r, "process/read", json_pack("{s:s, s:i, s:i}", "processId",
			"pty", "afterSeq", 1000000, "waitMs", 1000), T_MS);
		CHECKF(json_object_get(resp, "result"), "read: %s", js(resp));
		json_decref(resp);
	}
	t1 = wsc_now_ms();
	after = cpu_ticks(srv.pid);
	REQUIRE(before >= 0 && after >= 0);
	tap_diag("server CPU %lld ms over %lld ms with idle outputs",
		 (after - before) * 1000 / ticks, (long long)(t1 - t0));
	CHECKF((after - before) * 1000 / ticks < (t1 - t0) / 10,
	       "server used %lld ms of CPU in %lld ms: its loop is busy",
	       (after - before) * 1000 / ticks, (long long)(t1 - t0));
	rpc_free(r);
}

static const struct tap_case cases[] = {
	{ "slow_reader_rss_bounded", slow_reader_rss_bounded },
	{ "stdin_flood_held_then_stdin_closed", stdin_flood_held_then_stdin_closed },
	{ "connections_256_at_once", connections_256_at_once },
	{ "thousand_processes_no_leak", thousand_processes_no_leak },
	{ "malformed_frames", malformed_frames },
	{ "bad_jsonrpc_payloads", bad_jsonrpc_payloads },
	{ "thousand_requests_one_write", thousand_requests_one_write },
	{ "held_write_then_terminate", held_write_then_terminate },
	{ "hundred_drops_while_streaming", hundred_drops_while_streaming },
	{ "drops_during_long_poll_and_output", drops_during_long_poll_and_output },
	{ "sigterm_with_running_processes", sigterm_with_running_processes },
	{ "idle_outputs_keep_the_server_idle", idle_outputs_keep_the_server_idle },
	{ NULL, NULL }
};

int main(int argc, char **argv)
{
	int rc = tap_main(argc, argv, cases);

	if (srv.pid > 0)
		server_stop(&srv);
	return rc;
}
