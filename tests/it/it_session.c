/* it_session: resumable sessions (--session-ttl) and process/list.
 *
 * Covers resuming a dropped session (same sessionId, processes alive, events on the new
 * connection), no output lost across a drop (5 MiB reassembled by seq), two connections
 * racing to resume one session, unknown and attached session ids, TTL expiry killing the
 * processes, --session-ttl 0, process/list, and a detached process paused (not truncated)
 * at --retain-bytes.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "expect.h"
#include "procfs.h"
#include "rpc.h"
#include "server.h"
#include "tap.h"
#include "wsc.h"

#define T_MS 5000	/* deadline of one request/response or one short process */
#define NO_SESSION "00000000-0000-4000-8000-000000000000"

static struct server srv;	/* default flags: --session-ttl 30 */
static bool srv_started;
static char tmpdir[64];

/* ---- helpers ---- */

/* process/start params: cwd "/", env {"PATH":"/usr/bin:/bin"}, no tty. */
static json_t *start_params(const char *id, const char *const *argv)
{
	json_t *a = json_array();

	for (size_t i = 0; argv[i]; i++)
		json_array_append_new(a, json_string(argv[i]));
	return json_pack("{s:s, s:o, s:s, s:{s:s}, s:b}", "processId", id, "argv", a, "cwd", "/",
			 "env", "PATH", "/usr/bin:/bin", "tty", 0);
}

static bool start_ok(struct rpc *r, const char *id, const char *const *argv)
{
	json_t *resp = rpc_call(r, "process/start", start_params(id, argv), T_MS);
	bool ok = result_eq(resp, json_pack("{s:s, s:s}", "processId", id, "sandboxType", "none"));

	if (!ok)
		tap_diag("start %s: %s", id, js(resp));
	json_decref(resp);
	return ok;
}

/* An upgraded connection that has not sent initialize. */
static struct rpc *connect_raw(const struct server *s)
{
	struct wsc *c;

	if (s->pid <= 0 || wsc_connect(&c, s->url, NULL, T_MS) != 0)
		return NULL;
	return rpc_new(c);
}

static json_t *initialize_params(const char *resume)
{
	return resume ? json_pack("{s:s, s:s}", "clientName", "it", "resumeSessionId", resume)
		      : json_pack("{s:s}", "clientName", "it");
}

static bool send_initialized(struct rpc *r)
{
	static const char note[] = "{\"method\":\"initialized\",\"params\":{}}";

	return wsc_send_text(rpc_wsc(r), note, strlen(note)) == 0;
}

/* initialize (resuming `resume` unless NULL) + initialized; the sessionId into sid. */
static bool handshake(struct rpc *r, const char *resume, char sid[64])
{
	json_t *resp = rpc_call(r, "initialize", initialize_params(resume), T_MS);
	const char *s = json_string_value(json_object_get(json_object_get(resp, "result"),
							  "sessionId"));
	bool ok = s && strlen(s) < 64;

	if (ok)
		snprintf(sid, 64, "%s", s);
	else
		tap_diag("initialize%s%s: %s", resume ? " resuming " : "", resume ?: "", js(resp));
	json_decref(resp);
	return ok && send_initialized(r);
}

/* A new connection with a fresh session (its id in sid). */
static struct rpc *open_session(const struct server *s, char sid[64])
{
	struct rpc *r = connect_raw(s);

	if (r && !handshake(r, NULL, sid)) {
		rpc_free(r);
		r = NULL;
	}
	return r;
}

/* The inode of the server's end of r's TCP connection (from /proc/net/tcp), or 0. */
static unsigned long server_socket_inode(const struct server *s, struct rpc *r)
{
	struct sockaddr_in me;
	socklen_t len = sizeof(me);
	unsigned long inode = 0, ino;
	unsigned lport, rport;
	char line[512];
	FILE *f;

	if (getsockname(wsc_fd(rpc_wsc(r)), (struct sockaddr *)&me, &len) < 0)
		return 0;
	f = fopen("/proc/net/tcp", "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		/* sl local rem st tx:rx tr:when retrnsmt uid timeout inode */
		if (sscanf(line, " %*d: %*x:%x %*x:%x %*x %*x:%*x %*x:%*x %*x %*u %*u %lu",
			   &lport, &rport, &ino) == 3 && (int)lport == s->port &&
		    rport == ntohs(me.sin_port))
			inode = ino;
	fclose(f);
	return inode;
}

/* The server holds an fd on socket:[inode]. */
static bool server_has_socket(const struct server *s, unsigned long inode)
{
	char path[64], link[320], target[64], want[64];
	struct dirent *e;
	bool found = false;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)s->pid);
	snprintf(want, sizeof(want), "socket:[%lu]", inode);
	d = opendir(path);
	if (!d)
		return false;
	while (!found && (e = readdir(d)) != NULL) {
		ssize_t n;

		snprintf(link, sizeof(link), "%s/%s", path, e->d_name);
		n = readlink(link, target, sizeof(target) - 1);
		target[n > 0 ? n : 0] = '\0';
		found = strcmp(target, want) == 0;
	}
	closedir(d);
	return found;
}

/* Abort r's socket (no close frame) and wait until the server has closed its end of
 * that connection (so the session is detached by then). */
static bool drop_conn(const struct server *s, struct rpc *r)
{
	unsigned long inode = server_socket_inode(s, r);
	int64_t deadline = wsc_now_ms() + T_MS;

	rpc_free(r);
	if (!inode) {
		tap_diag("no server socket found for the connection");
		return false;
	}
	while (server_has_socket(s, inode)) {
		if (wsc_now_ms() >= deadline) {
			tap_diag("server still holds socket:[%lu] %d ms after the drop", inode, T_MS);
			return false;
		}
		poll(NULL, 0, 5);
	}
	return true;
}

/* A new connection resuming sid: initialize must answer that same sessionId. */
static struct rpc *resume_session(const struct server *s, const char *sid)
{
	struct rpc *r = connect_raw(s);
	char got[64] = "";

	if (!r)
		return NULL;
	if (!handshake(r, sid, got) || strcmp(got, sid) != 0) {
		if (got[0])
			tap_diag("resume of %s answered sessionId %s", sid, got);
		rpc_free(r);
		return NULL;
	}
	return r;
}

/* initialize with resumeSessionId on a new connection; the response (connection freed). */
static json_t *resume_reply(const struct server *s, const char *sid)
{
	struct rpc *r = connect_raw(s);
	json_t *resp = r ? rpc_call(r, "initialize", initialize_params(sid), T_MS) : NULL;

	rpc_free(r);
	return resp;
}

/* Output of id gathered until it holds a newline; returns the number before it. */
static long first_line_number(struct rpc *r, const char *id, int64_t *last_seq)
{
	int64_t deadline = wsc_now_ms() + T_MS;
	char buf[256] = "";
	size_t len = 0;

	while (!memchr(buf, '\n', len)) {
		json_t *m = rpc_wait_notification(r, "process/output", id, left_ms(deadline));
		json_t *p = json_object_get(m, "params");
		const char *c = json_string_value(json_object_get(p, "chunk"));
		size_t n = 0;
		char *bytes = c ? rpc_unb64(c, &n) : NULL;

		if (last_seq)
			*last_seq = json_integer_value(json_object_get(p, "seq"));
		json_decref(m);
		if (!m)
			return -1;
		if (bytes && len + n < sizeof(buf)) {
			memcpy(buf + len, bytes, n);
			len += n;
			buf[len] = '\0';
		}
		free(bytes);
	}
	return strtol(buf, NULL, 10);
}

/* A shell that prints its pid and becomes `sleep 30`; its pid, or -1. */
static pid_t start_sleeper(struct rpc *r, const char *id, int64_t *last_seq)
{
	static const char *const argv[] = { "sh", "-c", "echo $$; exec sleep 30", NULL };
	long pid;

	if (!start_ok(r, id, argv))
		return -1;
	pid = first_line_number(r, id, last_seq);
	return pid > 1 ? (pid_t)pid : -1;
}

static bool stopped_cleanly(struct server *s)
{
	int st = server_stop(s);

	if (st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return true;
	tap_diag("server wait status 0x%x", st);
	return false;
}

static json_t *read_call(struct rpc *r, const char *id, int64_t after, int wait_ms)
{
	return rpc_call(r, "process/read", json_pack("{s:s, s:I, s:i}", "processId", id,
						     "afterSeq", (json_int_t)after, "waitMs",
						     wait_ms), T_MS + wait_ms);
}

/* A FIFO in tmpdir that a child blocks on (`read x <FIFO`) until release(). */
static bool make_fifo(const char *name, char path[128])
{
	snprintf(path, 128, "%s/%s", tmpdir, name);
	unlink(path);
	return tmpdir[0] && mkfifo(path, 0600) == 0;
}

static bool release_fifo(const char *path)
{
	int64_t deadline = wsc_now_ms() + T_MS;
	int fd;

	/* ENXIO until the child has opened it for reading. */
	while ((fd = open(path, O_WRONLY | O_NONBLOCK)) < 0) {
		if (errno != ENXIO || wsc_now_ms() >= deadline) {
			tap_diag("open %s: %s", path, strerror(errno));
			return false;
		}
		poll(NULL, 0, 5);
	}
	bool ok = write(fd, "go\n", 3) == 3;

	close(fd);
	return ok;
}

/* The pid process/list gives for id, or -1. */
static pid_t list_pid(struct rpc *r, const char *id)
{
	json_t *resp = rpc_call(r, "process/list", json_object(), T_MS), *p;
	pid_t pid = -1;
	size_t i;

	json_array_foreach(json_object_get(json_object_get(resp, "result"), "processes"), i, p)
		if (str_is(json_object_get(p, "processId"), id))
			pid = (pid_t)json_integer_value(json_object_get(p, "pid"));
	if (pid <= 0)
		tap_diag("process/list: %s", js(resp));
	json_decref(resp);
	return pid;
}

/* A one-line /proc file into buf (trailing newline cut); false if unreadable. */
static bool read_proc(const char *path, char *buf, size_t size)
{
	FILE *f = fopen(path, "r");
	size_t n;

	buf[0] = '\0';
	if (!f)
		return false;
	n = fread(buf, 1, size - 1, f);
	fclose(f);
	buf[n] = '\0';
	while (n > 0 && buf[n - 1] == '\n')
		buf[--n] = '\0';
	return true;
}

/* Wait until the child of parent named comm sleeps in a pipe write (its wchan holds
 * "pipe_write"); its last wchan into wchan. */
static bool blocked_in_pipe_write(pid_t parent, const char *comm, int timeout_ms, char *wchan,
				  size_t size)
{
	int64_t deadline = wsc_now_ms() + timeout_ms;
	char path[96], kids[256], name[64];

	snprintf(wchan, size, "(no %s found)", comm);
	for (;;) {
		snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)parent, (int)parent);
		if (read_proc(path, kids, sizeof(kids)))
			for (char *t = strtok(kids, " "); t; t = strtok(NULL, " ")) {
				snprintf(path, sizeof(path), "/proc/%s/comm", t);
				if (!read_proc(path, name, sizeof(name)) || strcmp(name, comm))
					continue;
				snprintf(path, sizeof(path), "/proc/%s/wchan", t);
				if (read_proc(path, wchan, size) && strstr(wchan, "pipe_write"))
					return true;
			}
		if (wsc_now_ms() >= deadline)
			return false;
		poll(NULL, 0, 5);
	}
}

/* ---- reassembly of one process's events by seq ---- */

enum { EV_NONE, EV_OUTPUT, EV_EXITED, EV_CLOSED };

struct ev {
	int kind;
	unsigned char *data;
	size_t len;
};

struct seqstore {
	const char *id;
	struct ev *ev;		/* indexed by seq */
	size_t cap;
	int dups;		/* events seen twice (fine) */
	int dup_mismatch;	/* seen twice with different content (not fine) */
	int64_t closed_seq;	/* -1 until known */
	int bad;		/* undecodable chunks or seqs */
};

static void store_init(struct seqstore *st, const char *id)
{
	memset(st, 0, sizeof(*st));
	st->id = id;
	st->closed_seq = -1;
}

static void store_free(struct seqstore *st)
{
	for (size_t i = 0; i < st->cap; i++)
		free(st->ev[i].data);
	free(st->ev);
}

static void store_put(struct seqstore *st, int64_t seq, int kind, const char *b64)
{
	unsigned char *data = NULL;
	size_t len = 0;

	if (seq < 1 || seq > 10000000) {
		st->bad++;
		return;
	}
	if (b64 && !(data = rpc_unb64(b64, &len))) {
		st->bad++;
		return;
	}
	if ((size_t)seq >= st->cap) {
		size_t cap = st->cap ? st->cap : 1024;

		while (cap <= (size_t)seq)
			cap *= 2;
		st->ev = realloc(st->ev, cap * sizeof(*st->ev));
		memset(st->ev + st->cap, 0, (cap - st->cap) * sizeof(*st->ev));
		st->cap = cap;
	}
	struct ev *e = &st->ev[seq];

	if (e->kind != EV_NONE) {
		st->dups++;
		if (e->kind != kind || e->len != len || (len && memcmp(e->data, data, len)))
			st->dup_mismatch++;
		free(data);
		return;
	}
	e->kind = kind;
	e->data = data;
	e->len = len;
	if (kind == EV_CLOSED)
		st->closed_seq = seq;
}

/* Take one message: a notification of st->id goes into the store; true if it was one. */
static bool store_note(struct seqstore *st, json_t *m)
{
	const char *method = json_string_value(json_object_get(m, "method"));
	json_t *p = json_object_get(m, "params");
	int64_t seq = json_integer_value(json_object_get(p, "seq"));

	if (!method || !str_is(json_object_get(p, "processId"), st->id))
		return false;
	if (strcmp(method, "process/output") == 0)
		store_put(st, seq, EV_OUTPUT, json_string_value(json_object_get(p, "chunk")) ?: "");
	else if (strcmp(method, "process/exited") == 0)
		store_put(st, seq, EV_EXITED, NULL);
	else if (strcmp(method, "process/closed") == 0)
		store_put(st, seq, EV_CLOSED, NULL);
	else
		return false;
	return true;
}

/* Everything already received on r (no waiting). */
static void store_drain(struct seqstore *st, struct rpc *r)
{
	json_t *m;

	while ((m = rpc_next(r, 0)) != NULL) {
		if (!store_note(st, m))
			tap_diag("unexpected message: %.200s", js(m));
		json_decref(m);
	}
}

/* Output bytes received so far. */
static size_t store_bytes(const struct seqstore *st)
{
	size_t n = 0;

	for (size_t i = 0; i < st->cap; i++)
		n += st->ev[i].len;
	return n;
}

/* Largest seq held, 0 if none. */
static int64_t store_last(const struct seqstore *st)
{
	for (size_t i = st->cap; i-- > 1;)
		if (st->ev[i].kind != EV_NONE)
			return (int64_t)i;
	return 0;
}

/* Page through process/read from `after` until it says closed, every chunk into st.
 * The last read result into *last (new reference). */
static bool store_read_all(struct seqstore *st, struct rpc *r, int64_t after, json_t **last,
			   int timeout_ms)
{
	int64_t deadline = wsc_now_ms() + timeout_ms;

	*last = NULL;
	for (;;) {
		json_t *resp = read_call(r, st->id, after, 2000);
		json_t *res = json_object_get(resp, "result"), *c;
		size_t i;

		if (!res) {
			tap_diag("read after %lld: %s", (long long)after, js(resp));
			json_decref(resp);
			return false;
		}
		json_array_foreach(json_object_get(res, "chunks"), i, c)
			store_put(st, json_integer_value(json_object_get(c, "seq")), EV_OUTPUT,
				  json_string_value(json_object_get(c, "chunk")) ?: "");
		if (!*last) {
			size_t n = json_array_size(json_object_get(res, "chunks"));

			tap_diag("first read afterSeq %lld: %zu chunks, seqs %lld..%lld, nextSeq %lld",
				 (long long)after, n,
				 (long long)json_integer_value(json_object_get(json_array_get(
					 json_object_get(res, "chunks"), 0), "seq")),
				 (long long)json_integer_value(json_object_get(json_array_get(
					 json_object_get(res, "chunks"), n ? n - 1 : 0), "seq")),
				 (long long)json_integer_value(json_object_get(res, "nextSeq")));
		}
		store_drain(st, r);
		after = json_integer_value(json_object_get(res, "nextSeq")) - 1;
		json_decref(*last);
		*last = resp;
		if (json_is_true(json_object_get(res, "closed")))
			return true;
		if (wsc_now_ms() >= deadline) {
			tap_diag("not closed after %d ms: %.300s", timeout_ms, js(resp));
			return false;
		}
	}
}

/* Wait for the closed notification (the store fills meanwhile). */
static bool store_wait_closed(struct seqstore *st, struct rpc *r, int timeout_ms)
{
	int64_t deadline = wsc_now_ms() + timeout_ms;

	while (st->closed_seq < 0) {
		json_t *m = rpc_next(r, left_ms(deadline));

		if (!m)
			return false;
		if (!store_note(st, m))
			tap_diag("unexpected message: %.200s", js(m));
		json_decref(m);
	}
	return true;
}

/* Seqs 1..closed all present, one exited, output equal to want. */
static void store_check(const struct seqstore *st, const unsigned char *want, size_t want_len)
{
	size_t off = 0, holes = 0, exits = 0, mism = 0;
	int64_t first_hole = -1, first_mism = -1;

	CHECKF(st->closed_seq > 0, "no closed event for %s", st->id);
	CHECKF(st->bad == 0 && st->dup_mismatch == 0, "%d bad chunks, %d duplicates that differ",
	       st->bad, st->dup_mismatch);
	for (int64_t s = 1; s <= st->closed_seq && (size_t)s < st->cap; s++) {
		const struct ev *e = &st->ev[s];

		if (e->kind == EV_NONE) {
			if (!holes++)
				first_hole = s;
		} else if (e->kind == EV_EXITED) {
			exits++;
		} else if (e->kind == EV_OUTPUT && holes) {
			off += e->len;	/* offsets are unknown past a hole */
		} else if (e->kind == EV_OUTPUT) {
			if (off + e->len > want_len || memcmp(want + off, e->data, e->len)) {
				if (!mism++)
					first_mism = s;
			}
			off += e->len;
		}
	}
	CHECKF(holes == 0, "%zu seqs missing of 1..%lld, the first %lld", holes,
	       (long long)st->closed_seq, (long long)first_hole);
	if (holes) {
		char list[256] = "";
		size_t n = 0;

		for (int64_t s = 1; s <= st->closed_seq && (size_t)s < st->cap && n < 200; s++)
			if (st->ev[s].kind == EV_NONE)
				n += snprintf(list + n, sizeof(list) - n, " %lld", (long long)s);
		tap_diag("missing seqs:%s", list);
	}
	CHECKF(exits == 1, "%zu exited events", exits);
	CHECKF(off == want_len && mism == 0, "%zu bytes in seq order, want %zu; %zu chunks differ "
	       "before the first hole (first at seq %lld)", off, want_len, mism,
	       (long long)first_mism);
	CHECKF((size_t)st->closed_seq + 1 >= st->cap || st->ev[st->closed_seq + 1].kind == EV_NONE,
	       "events after closed");
}

/* ---- cases ---- */

static void resume_keeps_processes(void)
{
	char sid[64], sid2[64];
	struct rpc *a, *b;
	struct rpc_output o;
	json_t *resp, *res;
	int64_t seen = 0;
	pid_t pid;

	REQUIRE(srv_started);
	a = open_session(&srv, sid);
	REQUIRE(a);
	pid = start_sleeper(a, "s", &seen);
	if (pid <= 0)
		rpc_free(a);
	REQUIRE(pid > 0);
	REQUIRE(drop_conn(&srv, a));
	b = connect_raw(&srv);
	REQUIRE(b);
	if (!handshake(b, sid, sid2)) {
		rpc_free(b);
		REQUIRE(!"resume failed");
	}
	CHECKF(strcmp(sid, sid2) == 0, "resumed %s, got sessionId %s", sid, sid2);
	resp = read_call(b, "s", seen, 0);
	res = json_object_get(resp, "result");
	CHECKF(res && json_is_false(json_object_get(res, "exited")) &&
	       json_is_false(json_object_get(res, "closed")) &&
	       json_array_size(json_object_get(res, "chunks")) == 0 &&
	       json_integer_value(json_object_get(res, "nextSeq")) == seen + 1,
	       "read after seq %lld: %s", (long long)seen, js(resp));
	json_decref(resp);
	CHECKF(kill(pid, 0) == 0, "pid %d gone after the resume: %s", (int)pid, strerror(errno));
	resp = rpc_call(b, "process/terminate", json_pack("{s:s}", "processId", "s"), T_MS);
	CHECK_RESULT(resp, json_pack("{s:b}", "running", 1));
	json_decref(resp);
	CHECK(rpc_collect_full(b, "s", &o, T_MS) == 0);
	CHECKF(o.closed && o.exit_code == 137 && o.first_seq == seen + 1 &&
	       o.closed_seq == seen + 2 && o.seq_errors == 0,
	       "on the new connection: exited %s first seq %lld closed seq %lld (seen %lld)",
	       js(o.exited), (long long)o.first_seq, (long long)o.closed_seq, (long long)seen);
	rpc_output_free(&o);
	CHECKF(pid_gone_within(pid, T_MS), "pid %d survived terminate", (int)pid);
	rpc_free(b);
}

/* 5 MiB of `yes 0123456789abcdefghijklmnopqrstuvwxyz`; the first 1 MiB flows to the first
 * connection and is read completely; then the child blocks on a FIFO, the connection drops,
 * and the FIFO releases the other 4 MiB while the session is detached (the child pauses at
 * the default --retain-bytes 1 MiB). The child is gated so that nothing is in flight on the
 * dropped socket: a chunk written to the socket counts as delivered and may be evicted, so
 * an unread in-flight chunk would be lost by design, not by a bug. */
static void no_loss_across_a_drop(void)
{
	enum { TOTAL = 5 * 1048576, FIRST = 1048576 };
	static const char line[] = "0123456789abcdefghijklmnopqrstuvwxyz\n";
	char sid[64], fifo[128], file[128], script[512];
	unsigned char *want = malloc(TOTAL);
	struct seqstore st;
	struct rpc *a, *b;
	json_t *last = NULL;
	int64_t seen, deadline;
	FILE *f;

	REQUIRE(srv_started && want);
	for (size_t i = 0; i < TOTAL; i++)
		want[i] = (unsigned char)line[i % (sizeof(line) - 1)];
	snprintf(file, sizeof(file), "%s/data", tmpdir);
	f = fopen(file, "w");
	if (!f || fwrite(want, 1, TOTAL, f) != TOTAL || fclose(f) != 0) {
		free(want);
		REQUIRE(!"cannot write the data file");
	}
	if (!make_fifo("gate2", fifo)) {
		free(want);
		REQUIRE(!"mkfifo");
	}
	snprintf(script, sizeof(script), "head -c %d '%s'; read x <'%s'; tail -c +%d '%s'",
		 FIRST, file, fifo, FIRST + 1, file);
	store_init(&st, "big");
	a = open_session(&srv, sid);
	if (!a)
		free(want);
	REQUIRE(a);
	if (!start_ok(a, "big", (const char *const[]){ "sh", "-c", script, NULL })) {
		rpc_free(a);
		free(want);
		REQUIRE(!"start");
	}
	deadline = wsc_now_ms() + 10000;
	while (store_bytes(&st) < FIRST && wsc_now_ms() < deadline) {
		json_t *m = rpc_next(a, left_ms(deadline));

		if (!m)
			break;
		if (!store_note(&st, m))
			tap_diag("unexpected message: %.200s", js(m));
		json_decref(m);
	}
	seen = store_last(&st);
	CHECKF(store_bytes(&st) == FIRST, "%zu bytes before the drop, want %d", store_bytes(&st),
	       FIRST);
	tap_diag("before the drop: %zu bytes in %lld chunks", store_bytes(&st), (long long)seen);
	if (!drop_conn(&srv, a) || !release_fifo(fifo))
		goto out;
	b = resume_session(&srv, sid);
	CHECKF(b, "resume of %s failed", sid);
	if (!b)
		goto out;
	CHECK(store_read_all(&st, b, seen, &last, 20000));
	CHECKF(json_integer_value(json_object_get(json_object_get(last, "result"), "exitCode")) ==
	       0 && json_is_true(json_object_get(json_object_get(last, "result"), "exited")),
	       "last read: %.300s", js(last));
	CHECKF(store_wait_closed(&st, b, T_MS), "no process/closed on the resumed connection");
	tap_diag("after the resume: %zu bytes, closed at seq %lld, %d duplicates",
		 store_bytes(&st), (long long)st.closed_seq, st.dups);
	store_check(&st, want, TOTAL);
	json_decref(last);
	rpc_free(b);
out:
	store_free(&st);
	free(want);
	unlink(fifo);
	unlink(file);
}

static void two_clients_race_to_resume(void)
{
	char sid[64], want[160], fresh[64] = "";
	struct rpc *a, *b, *c, *win = NULL, *lose = NULL;
	json_t *rb, *rc, *lose_resp = NULL, *resp;
	int64_t ib, ic;
	bool b_ok, c_ok;

	REQUIRE(srv_started);
	a = open_session(&srv, sid);
	REQUIRE(a);
	if (!start_ok(a, "r", (const char *const[]){ "sleep", "30", NULL }))
		rpc_free(a);
	else
		REQUIRE(drop_conn(&srv, a));
	b = connect_raw(&srv);
	c = connect_raw(&srv);
	if (!b || !c) {
		rpc_free(b);
		rpc_free(c);
		REQUIRE(b && c);
	}
	ib = rpc_send(b, "initialize", initialize_params(sid));
	ic = rpc_send(c, "initialize", initialize_params(sid));
	rb = rpc_wait_response(b, ib, T_MS);
	rc = rpc_wait_response(c, ic, T_MS);
	b_ok = str_is(json_object_get(json_object_get(rb, "result"), "sessionId"), sid);
	c_ok = str_is(json_object_get(json_object_get(rc, "result"), "sessionId"), sid);
	CHECKF(b_ok != c_ok, "both or neither resumed: %s / %s", js(rb), js(rc));
	if (b_ok != c_ok) {
		win = b_ok ? b : c;
		lose = b_ok ? c : b;
		lose_resp = b_ok ? rc : rb;
		snprintf(want, sizeof(want), "session %s is already attached to another connection",
			 sid);
		CHECK_ERR(lose_resp, -32010, want);
		/* The loser is still uninitialized: the gate, then a fresh session. */
		resp = rpc_call(lose, "process/list", json_object(), T_MS);
		CHECK_ERR(resp, -32600, "client must call initialize before using exec methods");
		json_decref(resp);
		CHECK(handshake(lose, NULL, fresh));
		CHECKF(fresh[0] && strcmp(fresh, sid) != 0, "fresh session %s (resumed %s)", fresh,
		       sid);
		resp = rpc_call(lose, "process/list", json_object(), T_MS);
		CHECK_RESULT(resp, json_pack("{s:[]}", "processes"));
		json_decref(resp);
		/* The winner owns the process. */
		CHECK(send_initialized(win));
		resp = rpc_call(win, "process/terminate", json_pack("{s:s}", "processId", "r"),
				T_MS);
		CHECK_RESULT(resp, json_pack("{s:b}", "running", 1));
		json_decref(resp);
	}
	json_decref(rb);
	json_decref(rc);
	rpc_free(b);
	rpc_free(c);
}

static void unknown_and_attached_session_ids(void)
{
	char sid[64], want[160];
	struct rpc *a, *b;
	json_t *resp;

	REQUIRE(srv_started);
	resp = resume_reply(&srv, NO_SESSION);
	CHECK_ERR(resp, -32600, "unknown session id " NO_SESSION);
	json_decref(resp);

	a = open_session(&srv, sid);
	REQUIRE(a);
	b = connect_raw(&srv);
	if (!b)
		rpc_free(a);
	REQUIRE(b);
	resp = rpc_call(b, "initialize", initialize_params(sid), T_MS);
	snprintf(want, sizeof(want), "session %s is already attached to another connection", sid);
	CHECK_ERR(resp, -32010, want);
	json_decref(resp);
	/* Both connections carry on: a in its session, b can still initialize. */
	resp = rpc_call(a, "process/list", json_object(), T_MS);
	CHECK_RESULT(resp, json_pack("{s:[]}", "processes"));
	json_decref(resp);
	resp = rpc_call(b, "initialize", initialize_params(NULL), T_MS);
	CHECKF(json_object_get(json_object_get(resp, "result"), "sessionId") &&
	       !str_is(json_object_get(json_object_get(resp, "result"), "sessionId"), sid),
	       "initialize after the refused resume: %s", js(resp));
	json_decref(resp);
	rpc_free(a);
	rpc_free(b);
}

static void ttl_expiry_kills_processes(void)
{
	struct server s;
	char sid[64], want[128];
	struct rpc *a;
	json_t *resp;
	pid_t pid = -1;
	int64_t t0, dt = -1;

	REQUIRE(server_start(&s, (const char *[]){ "--session-ttl", "1", NULL }) == 0);
	a = open_session(&s, sid);
	if (a)
		pid = start_sleeper(a, "s", NULL);
	CHECK(a && pid > 0);
	if (a && pid > 0) {
		t0 = wsc_now_ms();
		CHECK(drop_conn(&s, a));
		a = NULL;
		CHECKF(pid_gone_within(pid, 5000), "pid %d still exists 5 s after the drop",
		       (int)pid);
		dt = wsc_now_ms() - t0;
		CHECKF(dt >= 900, "pid %d gone %lld ms after the drop (ttl 1 s)", (int)pid,
		       (long long)dt);
		resp = resume_reply(&s, sid);
		snprintf(want, sizeof(want), "unknown session id %s", sid);
		CHECK_ERR(resp, -32600, want);
		json_decref(resp);
	}
	rpc_free(a);
	CHECK(stopped_cleanly(&s));
}

static void ttl_zero_has_nothing_to_resume(void)
{
	struct server s;
	char sid[64], want[128];
	struct rpc *a;
	json_t *resp;

	REQUIRE(server_start(&s, (const char *[]){ "--session-ttl", "0", NULL }) == 0);
	a = open_session(&s, sid);
	CHECK(a);
	if (a && !start_ok(a, "s", (const char *const[]){ "sleep", "30", NULL })) {
		rpc_free(a);
		a = NULL;
	}
	if (a && drop_conn(&s, a)) {
		resp = resume_reply(&s, sid);
		snprintf(want, sizeof(want), "unknown session id %s", sid);
		CHECK_ERR(resp, -32600, want);
		json_decref(resp);
	} else if (a) {
		CHECK(!"drop failed");
	}
	CHECK(stopped_cleanly(&s));
}

static void process_list(void)
{
	char sid[64], sid2[64];
	struct rpc *a, *b;
	struct rpc_output o;
	json_t *resp, *ps, *p0, *p1;
	json_t *argv_t = json_pack("[s]", "true"), *argv_z = json_pack("[s,s]", "sleep", "30");
	struct timespec ts;
	int64_t now;

	REQUIRE(srv_started);
	a = open_session(&srv, sid);
	REQUIRE(a);
	b = open_session(&srv, sid2);
	if (!b)
		rpc_free(a);
	REQUIRE(b);
	CHECK(start_ok(a, "t", (const char *const[]){ "true", NULL }));
	CHECK(start_ok(a, "z", (const char *const[]){ "sleep", "30", NULL }));
	CHECK(rpc_collect_full(a, "t", &o, T_MS) == 0 && o.exit_code == 0);
	rpc_output_free(&o);
	clock_gettime(CLOCK_REALTIME, &ts);
	now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	resp = rpc_call(a, "process/list", json_object(), T_MS);
	ps = json_object_get(json_object_get(resp, "result"), "processes");
	p0 = json_array_get(ps, 0);
	p1 = json_array_get(ps, 1);
	CHECKF(json_array_size(ps) == 2, "list: %s", js(resp));
	CHECKF(str_is(json_object_get(p0, "processId"), "t") &&
	       json_equal(json_object_get(p0, "argv"), argv_t) &&
	       json_is_false(json_object_get(p0, "tty")) &&
	       json_integer_value(json_object_get(p0, "pid")) > 0 &&
	       str_is(json_object_get(p0, "state"), "closed") &&
	       json_is_integer(json_object_get(p0, "exitCode")) &&
	       json_integer_value(json_object_get(p0, "exitCode")) == 0,
	       "first entry: %s", js(p0));
	CHECKF(str_is(json_object_get(p1, "processId"), "z") &&
	       json_equal(json_object_get(p1, "argv"), argv_z) &&
	       json_is_false(json_object_get(p1, "tty")) &&
	       json_integer_value(json_object_get(p1, "pid")) > 0 &&
	       str_is(json_object_get(p1, "state"), "running") &&
	       json_is_null(json_object_get(p1, "exitCode")),
	       "second entry: %s", js(p1));
	for (size_t i = 0; i < 2; i++) {
		json_t *t = json_object_get(json_array_get(ps, i), "startedAtMs");
		int64_t at = json_integer_value(t);

		CHECKF(json_is_integer(t) && at > now - 60000 && at <= now + 1000,
		       "startedAtMs %s, now %lld", js(t), (long long)now);
	}
	CHECKF(json_integer_value(json_object_get(p0, "startedAtMs")) <=
	       json_integer_value(json_object_get(p1, "startedAtMs")), "start times out of order");
	CHECKF(json_integer_value(json_object_get(p0, "pid")) !=
	       json_integer_value(json_object_get(p1, "pid")), "one pid twice");
	json_decref(resp);
	json_decref(argv_t);
	json_decref(argv_z);
	resp = rpc_call(b, "process/list", json_object(), T_MS);
	CHECK_RESULT(resp, json_pack("{s:[]}", "processes"));
	json_decref(resp);
	resp = rpc_call(a, "process/terminate", json_pack("{s:s}", "processId", "z"), T_MS);
	CHECK_RESULT(resp, json_pack("{s:b}", "running", 1));
	json_decref(resp);
	rpc_free(a);
	rpc_free(b);
}

/* --retain-bytes 65536: a 1 MiB writer that starts right after the drop (gated on a FIFO
 * so that no chunk is in flight on the dropped socket) is paused while detached and
 * delivers every byte after the resume. */
static void detached_process_pauses_at_retain_bytes(void)
{
	enum { TOTAL = 1048576 };
	char sid[64], fifo[128], script[256];
	unsigned char *want = malloc(TOTAL);
	struct seqstore st;
	struct server s;
	struct rpc *a, *b = NULL;
	json_t *last = NULL;
	char wchan[64] = "";
	pid_t sh = -1;

	REQUIRE(want);
	memset(want, 'a', TOTAL);
	if (!make_fifo("gate8", fifo)) {
		free(want);
		REQUIRE(!"mkfifo");
	}
	snprintf(script, sizeof(script), "read x <'%s'; head -c %d /dev/zero | tr '\\0' a", fifo,
		 TOTAL);
	store_init(&st, "w");
	if (server_start(&s, (const char *[]){ "--retain-bytes", "65536", NULL }) != 0) {
		free(want);
		REQUIRE(!"server_start");
	}
	a = open_session(&s, sid);
	CHECK(a);
	if (a && (!start_ok(a, "w", (const char *const[]){ "sh", "-c", script, NULL }) ||
		  (sh = list_pid(a, "w")) <= 0)) {
		rpc_free(a);
		a = NULL;
	}
	if (a && drop_conn(&s, a) && release_fifo(fifo)) {
		/* It runs into the limit while detached: then tr blocks in write(). */
		CHECKF(blocked_in_pipe_write(sh, "tr", T_MS, wchan, sizeof(wchan)),
		       "tr (child of %d) not blocked in a pipe write: wchan %s", (int)sh, wchan);
		b = resume_session(&s, sid);
		CHECKF(b, "resume of %s failed", sid);
	} else if (a) {
		CHECK(!"drop or release failed");
	}
	if (b) {
		json_t *resp = read_call(b, "w", 0, 0);
		json_t *res = json_object_get(resp, "result");
		size_t held, i;
		int64_t after;
		json_t *c;

		/* Paused: what the first read gets is at most about --retain-bytes. */
		json_array_foreach(json_object_get(res, "chunks"), i, c)
			store_put(&st, json_integer_value(json_object_get(c, "seq")), EV_OUTPUT,
				  json_string_value(json_object_get(c, "chunk")) ?: "");
		held = store_bytes(&st);
		CHECKF(res && json_is_false(json_object_get(res, "exited")) &&
		       held <= 65536 + 65536, "first read after the resume: %zu bytes, %.200s",
		       held, js(resp));
		tap_diag("retained while detached: %zu bytes", held);
		json_array_foreach(json_object_get(res, "chunks"), i, c)
			tap_diag("  first read: seq %lld, %zu base64 chars",
				 (long long)json_integer_value(json_object_get(c, "seq")),
				 strlen(json_string_value(json_object_get(c, "chunk")) ?: ""));
		tap_diag("  nextSeq %lld", (long long)json_integer_value(json_object_get(res, "nextSeq")));
		after = json_integer_value(json_object_get(res, "nextSeq")) - 1;
		json_decref(resp);
		store_drain(&st, b);
		CHECK(store_read_all(&st, b, after, &last, 15000));
		CHECKF(store_wait_closed(&st, b, T_MS), "no process/closed on the resumed connection");
		store_check(&st, want, TOTAL);
		json_decref(last);
		rpc_free(b);
	}
	CHECK(stopped_cleanly(&s));
	store_free(&st);
	free(want);
	unlink(fifo);
}

/* A process that ends while its session is detached: the resumed reader sees its output,
 * exit code and close through process/read. */
static void exit_while_detached(void)
{
	char sid[64], fifo[128], script[256];
	struct rpc *a, *b;
	json_t *last = NULL, *res;
	struct seqstore st;
	pid_t sh = -1;

	REQUIRE(srv_started);
	REQUIRE(make_fifo("gate9", fifo));
	snprintf(script, sizeof(script), "read x <'%s'; echo done; exit 7", fifo);
	store_init(&st, "e");
	a = open_session(&srv, sid);
	REQUIRE(a);
	if (!start_ok(a, "e", (const char *const[]){ "sh", "-c", script, NULL }) ||
	    (sh = list_pid(a, "e")) <= 0) {
		rpc_free(a);
		REQUIRE(!"start or process/list failed");
	}
	REQUIRE(drop_conn(&srv, a));
	REQUIRE(release_fifo(fifo));
	CHECKF(pid_gone_within(sh, T_MS), "pid %d still there", (int)sh);
	b = resume_session(&srv, sid);
	REQUIRE(b);
	CHECK(store_read_all(&st, b, 0, &last, T_MS));
	res = json_object_get(last, "result");
	CHECKF(json_is_true(json_object_get(res, "exited")) &&
	       json_integer_value(json_object_get(res, "exitCode")) == 7 &&
	       json_integer_value(json_object_get(res, "nextSeq")) == 4,
	       "last read: %s", js(last));
	CHECKF(st.cap > 1 && st.ev[1].kind == EV_OUTPUT && st.ev[1].len == 5 &&
	       memcmp(st.ev[1].data, "done\n", 5) == 0, "seq 1 is not \"done\\n\"");
	json_decref(last);
	store_free(&st);
	rpc_free(b);
	unlink(fifo);
}

static void server_exits_0_on_sigterm(void)
{
	REQUIRE(srv_started && srv.pid > 0);
	CHECK(stopped_cleanly(&srv));
}

static const struct tap_case cases[] = {
	{ "resume_keeps_processes", resume_keeps_processes },
	{ "no_loss_across_a_drop", no_loss_across_a_drop },
	{ "two_clients_race_to_resume", two_clients_race_to_resume },
	{ "unknown_and_attached_session_ids", unknown_and_attached_session_ids },
	{ "ttl_expiry_kills_processes", ttl_expiry_kills_processes },
	{ "ttl_zero_has_nothing_to_resume", ttl_zero_has_nothing_to_resume },
	{ "process_list", process_list },
	{ "detached_process_pauses_at_retain_bytes", detached_process_pauses_at_retain_bytes },
	{ "exit_while_detached", exit_while_detached },
	{ "server_exits_0_on_sigterm", server_exits_0_on_sigterm },
	{ NULL, NULL }
};

int main(int argc, char **argv)
{
	int rc;

	snprintf(tmpdir, sizeof(tmpdir), "/tmp/it_session.XXXXXX");
	if (!mkdtemp(tmpdir))
		tmpdir[0] = '\0';
	srv_started = server_start(&srv, NULL) == 0;
	rc = tap_main(argc, argv, cases);
	if (srv.pid > 0)
		server_stop(&srv);
	if (tmpdir[0])
		rmdir(tmpdir);
	return rc;
}
