/* it_binary: binary output frames (PROTOCOL §5a) against the real ringexecd.
 *
 * What initialize answers with and without "binaryOutput"; the exact bytes of
 * a frame (kind, stream codes, big-endian seq and processId length, processIds
 * of 1 and 256 bytes, raw payload) read off the socket with no decoder in
 * between; seq order against the text `exited`/`closed` and nothing after
 * `closed`; a reader that stops reading (the child blocks, nothing is lost);
 * resumes that switch JSON -> binary and back (process/read stays base64,
 * notifications follow the new mode); 8 MiB hashed end to end; a PTY; two
 * connections in different modes at once; and a client that did not ask,
 * which never sees a binary frame. Deadlines only, no sleeps.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <nettle/sha2.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "expect.h"
#include "rpc.h"
#include "server.h"
#include "tap.h"
#include "wsc.h"

#define T_MS 5000	/* deadline of one request/response or one short process */
#define BIG_MS 40000	/* deadline of the bulk transfers */
#define MIB (1024L * 1024L)

static struct server srv;	/* --session-ttl 30, --send-high-water 1 MiB */
static bool srv_started;
static char tmpdir[64];

/* ---- connections ---- */

static struct rpc *connect_raw(void)
{
	struct wsc *c;

	if (!srv_started || wsc_connect(&c, srv.url, NULL, T_MS) != 0)
		return NULL;
	return rpc_new(c);
}

/* initialize params: binary < 0 leaves binaryOutput out; resume NULL: a new session. */
static json_t *init_params(int binary, const char *resume)
{
	json_t *p = json_pack("{s:s}", "clientName", "it-binary");

	if (binary >= 0)
		json_object_set_new(p, "binaryOutput", json_boolean(binary));
	if (resume)
		json_object_set_new(p, "resumeSessionId", json_string(resume));
	return p;
}

/* initialize (retried while the resumed session is still attached to a
 * connection the server has not yet seen go) + initialized. The result, or NULL. */
static json_t *handshake(struct rpc *r, int binary, const char *resume)
{
	int64_t deadline = wsc_now_ms() + T_MS;
	json_t *resp, *res;

	for (;;) {
		resp = rpc_call(r, "initialize", init_params(binary, resume), T_MS);
		if (err_code(resp) != -32010 || wsc_now_ms() >= deadline)
			break;
		json_decref(resp);
		poll(NULL, 0, 5);
	}
	res = json_object_get(resp, "result");
	if (!res) {
		tap_diag("initialize: %s", js(resp));
		json_decref(resp);
		return NULL;
	}
	json_incref(res);
	json_decref(resp);
	if (rpc_notify(r, "initialized", NULL) < 0) {
		json_decref(res);
		return NULL;
	}
	return res;
}

/* A new connection and session; binary as init_params. Its sessionId into sid. */
static struct rpc *open_mode(int binary, char sid[64])
{
	struct rpc *r = connect_raw();
	json_t *res = r ? handshake(r, binary, NULL) : NULL;
	const char *s = json_string_value(json_object_get(res, "sessionId"));

	if (!s) {
		json_decref(res);
		rpc_free(r);
		return NULL;
	}
	if (sid)
		snprintf(sid, 64, "%s", s);
	json_decref(res);
	return r;
}

/* ---- requests ---- */

static json_t *start_params(const char *id, const char *const *argv, bool tty, bool pipe_stdin)
{
	json_t *a = json_array();

	for (size_t i = 0; argv[i]; i++)
		json_array_append_new(a, json_string(argv[i]));
	return json_pack("{s:s, s:o, s:s, s:{s:s}, s:b, s:b}", "processId", id, "argv", a, "cwd",
			 "/", "env", "PATH", "/usr/bin:/bin", "tty", tty, "pipeStdin", pipe_stdin);
}

static bool start_ok(struct rpc *r, const char *id, const char *const *argv, bool tty,
		     bool pipe_stdin)
{
	json_t *resp = rpc_call(r, "process/start", start_params(id, argv, tty, pipe_stdin), T_MS);
	bool ok = json_object_get(resp, "result") != NULL;

	if (!ok)
		tap_diag("start %s: %s", id, js(resp));
	json_decref(resp);
	return ok;
}

/* process/write of text; true when accepted. */
static bool write_ok(struct rpc *r, const char *id, const char *text, bool close_stdin)
{
	char *b = rpc_b64(text, strlen(text));
	json_t *p = json_pack("{s:s, s:s, s:b}", "processId", id, "chunk", b, "closeStdin",
			      close_stdin);
	json_t *resp = rpc_call(r, "process/write", p, T_MS);
	bool ok = result_eq(resp, json_pack("{s:s}", "status", "accepted"));

	if (!ok)
		tap_diag("write %s: %s", id, js(resp));
	free(b);
	json_decref(resp);
	return ok;
}

static json_t *read_call(struct rpc *r, const char *id, int64_t after, int wait_ms)
{
	json_t *resp = rpc_call(r, "process/read",
				json_pack("{s:s, s:I, s:I}", "processId", id, "afterSeq",
					  (json_int_t)after, "waitMs", (json_int_t)wait_ms),
				T_MS + wait_ms);
	json_t *res = json_incref(json_object_get(resp, "result"));

	if (!res)
		tap_diag("process/read %s: %s", id, js(resp));
	json_decref(resp);
	return res;
}

/* The bytes of a process/read result's chunks from seq from on, concatenated
 * into buf (NUL-terminated); false when a chunk's seq or base64 is wrong. */
static bool read_text(const json_t *res, int64_t from, char *buf, size_t size)
{
	json_t *ch;
	size_t i, len = 0;
	int64_t want = from;

	buf[0] = '\0';
	json_array_foreach(json_object_get(res, "chunks"), i, ch) {
		size_t n;
		char *b = rpc_unb64(json_string_value(json_object_get(ch, "chunk")) ?: "", &n);

		if (!b || json_integer_value(json_object_get(ch, "seq")) != want++ ||
		    len + n >= size) {
			free(b);
			return false;
		}
		memcpy(buf + len, b, n);
		len += n;
		buf[len] = '\0';
		free(b);
	}
	return true;
}

/* pid of id from process/list, or -1. */
static pid_t pid_of(struct rpc *r, const char *id)
{
	json_t *resp = rpc_call(r, "process/list", json_object(), T_MS), *p;
	pid_t pid = -1;
	size_t i;

	json_array_foreach(json_object_get(json_object_get(resp, "result"), "processes"), i, p)
		if (str_is(json_object_get(p, "processId"), id))
			pid = (pid_t)json_integer_value(json_object_get(p, "pid"));
	json_decref(resp);
	return pid;
}

/* The next process/output notification of id (binary or text), or NULL. */
static json_t *next_output(struct rpc *r, const char *id, int timeout_ms)
{
	return rpc_wait_notification(r, "process/output", id, timeout_ms);
}

/* The bytes a process/output notification carries, whichever form it came in
 * (malloc'd, NUL-terminated), or NULL. */
static char *note_bytes(const json_t *m, size_t *n)
{
	json_t *p = json_object_get(m, "params"), *raw = json_object_get(p, "raw");
	const char *c = json_string_value(json_object_get(p, "chunk"));
	char *b;

	if (c)
		return rpc_unb64(c, n);
	if (!json_is_string(raw))
		return NULL;
	*n = json_string_length(raw);
	b = malloc(*n + 1);
	if (b) {
		memcpy(b, json_string_value(raw), *n);
		b[*n] = '\0';
	}
	return b;
}

static bool is_binary_note(const json_t *m)
{
	return json_is_true(json_object_get(m, "binaryFrame"));
}

static int64_t note_seq(const json_t *m)
{
	return json_integer_value(json_object_get(json_object_get(m, "params"), "seq"));
}

/* ---- the raw socket: frames as bytes ---- */

static void put_be(uint8_t *p, uint64_t v, int n)
{
	for (int i = n - 1; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

/* Send a request as text with id; wait for its response, handing every binary
 * message meanwhile to on_bin. The response, or NULL. */
static json_t *raw_call(struct wsc *c, int64_t id, const char *method, json_t *params,
			void (*on_bin)(void *arg, const struct wsc_msg *m), void *arg)
{
	json_t *req = json_pack("{s:I, s:s, s:o}", "id", (json_int_t)id, "method", method,
				"params", params);
	char *text = json_dumps(req, JSON_COMPACT);
	int64_t deadline = wsc_now_ms() + T_MS;
	json_t *resp = NULL;

	json_decref(req);
	if (!text || wsc_send_text(c, text, strlen(text)) < 0) {
		free(text);
		return NULL;
	}
	free(text);
	while (!resp) {
		struct wsc_msg m;

		if (wsc_recv(c, &m, left_ms(deadline)) < 0)
			return NULL;
		if (m.kind == WSC_BINARY && on_bin) {
			on_bin(arg, &m);
		} else if (m.kind == WSC_TEXT) {
			json_t *j = json_loadb(m.data, m.len, 0, NULL);

			if (json_integer_value(json_object_get(j, "id")) == id &&
			    !json_object_get(j, "method"))
				resp = j;
			else
				json_decref(j);
		} else if (m.kind == WSC_CLOSED) {
			free(m.data);
			return NULL;
		}
		free(m.data);
	}
	return resp;
}

/* The frames of one process as they came: each binary message whole. */
struct frames {
	struct wsc_msg m[512];
	size_t n;
	size_t other;	/* binary messages that did not fit */
};

static void keep_frame(void *arg, const struct wsc_msg *m)
{
	struct frames *f = arg;

	if (f->n == sizeof(f->m) / sizeof(f->m[0])) {
		f->other++;
		return;
	}
	f->m[f->n] = *m;
	f->m[f->n].data = malloc(m->len + 1);
	if (f->m[f->n].data)
		memcpy(f->m[f->n++].data, m->data, m->len);
}

static void frames_free(struct frames *f)
{
	for (size_t i = 0; i < f->n; i++)
		free(f->m[i].data);
	f->n = 0;
}

/* The frame m is exactly: kind 1, stream, seq, the id's length and bytes, then payload. */
static bool frame_is(const struct wsc_msg *m, uint8_t stream, uint64_t seq, const char *id,
		     const void *payload, size_t len)
{
	size_t idl = strlen(id), want_len = 12 + idl + len;
	uint8_t head[12] = { 1, stream };
	const uint8_t *d = (const uint8_t *)m->data;

	put_be(head + 2, seq, 8);
	put_be(head + 10, idl, 2);
	return m->kind == WSC_BINARY && m->len == want_len && !memcmp(d, head, 12) &&
	       !memcmp(d + 12, id, idl) && !memcmp(d + 12 + idl, payload, len);
}

static void dump_frame(const char *what, const struct wsc_msg *m)
{
	char hex[80] = "";
	const uint8_t *d = (const uint8_t *)m->data;

	for (size_t i = 0; i < m->len && i < 24; i++)
		snprintf(hex + 3 * i, sizeof(hex) - 3 * i, "%02x ", d[i]);
	tap_diag("%s: kind %d, %zu bytes: %s...", what, m->kind, m->len, hex);
}

/* ==== cases ==== */

static void initialize_answers(void)
{
	struct rpc *r = connect_raw();
	json_t *res, *resp;

	REQUIRE(r);
	res = handshake(r, 1, NULL);
	CHECKF(json_is_true(json_object_get(res, "binaryOutput")), "asked: %s", js(res));
	json_decref(res);
	rpc_free(r);

	/* Not asked, or asked false: the result is today's, with no such member. */
	for (int binary = -1; binary <= 0; binary++) {
		r = connect_raw();
		REQUIRE(r);
		res = handshake(r, binary, NULL);
		CHECKF(res && !json_object_get(res, "binaryOutput"), "binaryOutput %d: %s", binary,
		       js(res));
		json_decref(res);
		rpc_free(r);
	}

	/* Not a boolean: -32602 naming the field; the connection may initialize after. */
	r = connect_raw();
	REQUIRE(r);
	json_t *p = json_pack("{s:s, s:s}", "clientName", "it", "binaryOutput", "yes");
	resp = rpc_call(r, "initialize", p, T_MS);
	CHECK_ERR(resp, -32602, "invalid type: string \"yes\", expected a boolean for `binaryOutput`");
	json_decref(resp);
	res = handshake(r, 1, NULL);
	CHECKF(json_is_true(json_object_get(res, "binaryOutput")), "after the error: %s", js(res));
	json_decref(res);
	rpc_free(r);
}

/* A 1-byte processId, both pipe streams, bytes a string would mangle. */
static void layout_short_id(void)
{
	static const char *const argv[] = { "sh", "-c", "printf 'o\\000\\377'; printf 'e' >&2", NULL };
	static const uint8_t out[] = { 'o', 0x00, 0xff };
	struct rpc *r = open_mode(1, NULL);
	struct frames f = { .n = 0 };
	struct wsc *c;
	json_t *resp;
	int64_t deadline = wsc_now_ms() + T_MS;
	uint64_t seqs = 0;	/* bit s set: seq s was seen */
	bool got_out = false, got_err = false, closed = false;
	int bad = 0;

	REQUIRE(r);
	c = rpc_wsc(r);
	resp = raw_call(c, 100, "process/start", start_params("a", argv, false, false), keep_frame,
			&f);
	CHECKF(json_object_get(resp, "result"), "start: %s", js(resp));
	json_decref(resp);
	while (!closed && wsc_now_ms() < deadline) {
		struct wsc_msg m;

		if (wsc_recv(c, &m, left_ms(deadline)) < 0)
			break;
		if (m.kind == WSC_BINARY)
			keep_frame(&f, &m);
		if (m.kind == WSC_TEXT) {
			json_t *j = json_loadb(m.data, m.len, 0, NULL);
			const char *meth = json_string_value(json_object_get(j, "method"));
			int64_t s = json_integer_value(json_object_get(json_object_get(j, "params"),
								       "seq"));

			CHECKF(!meth || strcmp(meth, "process/output"), "JSON output: %s", js(j));
			if (meth && s > 0 && s < 64)
				seqs |= 1ull << s;
			closed |= meth && !strcmp(meth, "process/closed");
			json_decref(j);
		}
		free(m.data);
	}
	CHECK(closed);
	for (size_t i = 0; i < f.n; i++) {
		const struct wsc_msg *m = &f.m[i];
		const uint8_t *d = (const uint8_t *)m->data;
		uint64_t seq = 0;

		for (int k = 2; k < 10 && m->len >= 12; k++)
			seq = seq << 8 | d[k];
		if (seq > 0 && seq < 64)
			seqs |= 1ull << seq;
		if (frame_is(m, 0, seq, "a", out, sizeof(out)))
			got_out = true;
		else if (frame_is(m, 1, seq, "a", "e", 1))
			got_err = true;
		else if (bad++ < 4)
			dump_frame("unexpected frame", m);
	}
	CHECKF(got_out && got_err && !bad, "stdout frame %d, stderr frame %d, %d others", got_out,
	       got_err, bad);
	/* Two outputs, exited, closed: seqs 1-4, no gap, shared by both kinds of frame. */
	CHECKF(seqs == 0x1e, "seqs seen: mask 0x%llx, want 0x1e", (unsigned long long)seqs);
	frames_free(&f);
	rpc_free(r);
}

/* A 256-byte processId (L = 0x0100) and seqs past 255 (two bytes of the u64):
 * cat echoes each line in its own frame. */
static void layout_long_id_and_seq(void)
{
	enum { LINES = 300 };
	static const char *const argv[] = { "cat", NULL };
	char id[257];
	struct rpc *r = open_mode(1, NULL);
	struct frames f = { .n = 0 };
	struct wsc *c;
	json_t *resp;
	int wrong = 0;

	REQUIRE(r);
	memset(id, 'i', 256);
	memcpy(id, "\xc3\xa9", 2);	/* UTF-8 counts bytes: 'é' is two of the 256 */
	id[256] = '\0';
	c = rpc_wsc(r);
	resp = raw_call(c, 1, "process/start", start_params(id, argv, false, true), NULL, NULL);
	REQUIREF(json_object_get(resp, "result"), "start: %s", js(resp));
	json_decref(resp);
	for (int i = 1; i <= LINES && wrong < 4; i++) {
		char line[16], *b;
		int64_t deadline = wsc_now_ms() + T_MS;

		snprintf(line, sizeof(line), "%d\n", i);
		b = rpc_b64(line, strlen(line));
		resp = raw_call(c, 1000 + i, "process/write",
				json_pack("{s:s, s:s}", "processId", id, "chunk", b), keep_frame, &f);
		free(b);
		json_decref(resp);
		while (f.n == 0 && wsc_now_ms() < deadline) {
			struct wsc_msg m;

			if (wsc_recv(c, &m, left_ms(deadline)) < 0)
				break;
			if (m.kind == WSC_BINARY)
				keep_frame(&f, &m);
			free(m.data);
		}
		if (f.n != 1 || !frame_is(&f.m[0], 0, (uint64_t)i, id, line, strlen(line))) {
			wrong++;
			tap_diag("line %d: %zu frames", i, f.n);
			if (f.n)
				dump_frame("frame", &f.m[0]);
		}
		frames_free(&f);
	}
	CHECKF(!wrong, "%d of the %d echoed lines came in an unexpected frame", wrong, LINES);
	rpc_free(r);
}

/* Output, stderr, exit and close of a bigger process: one seq run across binary and
 * text frames, closed last, nothing of the process after it. */
static void order_against_exited_closed(void)
{
	static const char *const argv[] = {
		"sh", "-c", "head -c 300000 /dev/urandom; printf x >&2; head -c 1000 /dev/zero; exit 3",
		NULL
	};
	struct rpc *r = open_mode(1, NULL);
	struct rpc_output o;
	json_t *resp, *late;

	REQUIRE(r);
	REQUIRE(start_ok(r, "o", argv, false, false));
	CHECK(rpc_collect_full(r, "o", &o, BIG_MS) == 0);
	CHECKF(o.seq_errors == 0 && o.bad_chunks == 0, "%d seq errors, %d bad chunks",
	       o.seq_errors, o.bad_chunks);
	CHECKF(o.chunks > 1 && o.binary_chunks == o.chunks, "%zu chunks, %zu binary", o.chunks,
	       o.binary_chunks);
	CHECKF(o.out_len == 301000 && o.err_len == 1 && o.err[0] == 'x', "stdout %zu, stderr %zu",
	       o.out_len, o.err_len);
	CHECKF(o.first_seq == 1 && o.exited_seq > (int64_t)o.chunks - 1 &&
	       o.closed_seq == (int64_t)o.chunks + 2, "first %lld, exited %lld, closed %lld, %zu chunks",
	       (long long)o.first_seq, (long long)o.exited_seq, (long long)o.closed_seq, o.chunks);
	CHECK(o.exit_code == 3);
	/* A round trip later: nothing of "o" came after closed. */
	resp = rpc_call(r, "process/list", json_object(), T_MS);
	CHECK(resp);
	json_decref(resp);
	late = rpc_wait_notification(r, NULL, "o", 0);
	CHECKF(!late, "after closed: %s", js(late));
	json_decref(late);
	CHECKF(rpc_binary_msgs(r) == o.binary_chunks, "%zu binary messages for %zu chunks",
	       rpc_binary_msgs(r), o.binary_chunks);
	rpc_output_free(&o);
	rpc_free(r);
}

/* The child's bytes written so far (/proc/PID/io wchar), or -1. */
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
		if (!strncmp(line, "wchar:", 6))
			v = strtoll(line + 6, NULL, 10);
	fclose(f);
	return v;
}

/* pid's wchan, or "" */
static void wchan_of(pid_t pid, char *buf, size_t size)
{
	char path[64];
	FILE *f;
	size_t n = 0;

	snprintf(path, sizeof(path), "/proc/%d/wchan", (int)pid);
	f = fopen(path, "r");
	if (f) {
		n = fread(buf, 1, size - 1, f);
		fclose(f);
	}
	buf[n] = '\0';
}

/* pid sleeps in a pipe write and has written nothing more for quiet_ms
 * (polled every 5 ms), before the deadline; its wchar then into *written. */
static bool stuck_in_pipe_write(pid_t pid, int quiet_ms, int timeout_ms, long long *written)
{
	int64_t deadline = wsc_now_ms() + timeout_ms, since = wsc_now_ms();
	long long last = -1;
	char wchan[64];

	for (;;) {
		long long w = wchar_of(pid);

		wchan_of(pid, wchan, sizeof(wchan));
		if (w != last || !strstr(wchan, "pipe_write"))
			since = wsc_now_ms();
		last = w;
		*written = w;
		if (wsc_now_ms() - since >= quiet_ms)
			return true;
		if (wsc_now_ms() >= deadline)
			return false;
		poll(NULL, 0, 5);
	}
}

/* A client that stops reading: the send queue's high-water mark (1 MiB here)
 * counts binary frames, so the child ends up blocked in write() with a bounded
 * amount written; once read, all 64 MiB arrive in order. */
static void slow_reader_blocks_child(void)
{
	static const char *const argv[] = { "head", "-c", "67108864", "/dev/zero", NULL };
	struct rpc *r = open_mode(1, NULL);
	struct rpc_output o;
	long long written;
	pid_t pid;
	bool zero = true;

	REQUIRE(r);
	REQUIRE(start_ok(r, "z", argv, false, false));
	pid = pid_of(r, "z");
	REQUIRE(pid > 0);
	CHECKF(stuck_in_pipe_write(pid, 200, 10000, &written),
	       "head did not stay blocked in write() (wrote %lld bytes)", written);
	tap_diag("head had written %lld of %ld bytes when it blocked", written, 64 * MIB);
	CHECKF(written >= 0 && written < 32 * MIB,
	       "the child wrote %lld bytes to a client that reads nothing", written);
	CHECK(rpc_collect_full(r, "z", &o, BIG_MS) == 0);
	for (size_t i = 0; i < o.out_len && zero; i++)
		zero = o.out[i] == 0;
	CHECKF(o.out_len == (size_t)(64 * MIB) && zero, "%zu bytes arrived, all zero %d",
	       o.out_len, zero);
	CHECKF(o.seq_errors == 0 && o.bad_chunks == 0 && o.binary_chunks == o.chunks,
	       "%d seq errors, %d bad, %zu of %zu binary", o.seq_errors, o.bad_chunks,
	       o.binary_chunks, o.chunks);
	CHECK(o.exit_code == 0);
	rpc_output_free(&o);
	rpc_free(r);
}

/* Detach a session started in mode `from` with output it has and has not seen,
 * resume it in mode `to`: process/read gives the retained bytes as base64, and
 * the next output, exited and closed follow the resuming connection's choice. */
static void resume_switches(int from, int to)
{
	static const char *const argv[] = { "cat", NULL };
	char sid[64], text[256];
	struct rpc *a = open_mode(from, sid), *b;
	json_t *m, *res;
	size_t n;
	char *bytes;

	REQUIRE(a);
	REQUIRE(start_ok(a, "c", argv, false, true));
	REQUIRE(write_ok(a, "c", "one\n", false));
	m = next_output(a, "c", T_MS);
	bytes = note_bytes(m, &n);
	CHECKF(bytes && n == 4 && !memcmp(bytes, "one\n", 4) && note_seq(m) == 1 &&
	       is_binary_note(m) == (from == 1), "first output: %s", js(m));
	free(bytes);
	json_decref(m);
	/* "two" is written, and the connection dropped before its output is read. */
	REQUIRE(write_ok(a, "c", "two\n", false));
	rpc_free(a);

	b = connect_raw();
	REQUIRE(b);
	res = handshake(b, to, sid);
	REQUIREF(str_is(json_object_get(res, "sessionId"), sid), "resume: %s", js(res));
	if (to == 1)
		CHECKF(json_is_true(json_object_get(res, "binaryOutput")), "resume: %s", js(res));
	else
		CHECKF(!json_object_get(res, "binaryOutput"), "resume: %s", js(res));
	json_decref(res);

	/* process/read is base64 in either mode: "two" once it is there, then both. */
	res = read_call(b, "c", 1, T_MS);
	CHECKF(read_text(res, 2, text, sizeof(text)) && !strcmp(text, "two\n"),
	       "read after 1: %s", js(res));
	json_decref(res);
	res = read_call(b, "c", 0, 0);
	CHECKF(read_text(res, 1, text, sizeof(text)) && !strcmp(text, "one\ntwo\n"),
	       "read after 0: %s", js(res));
	json_decref(res);

	/* "two" may have been notified to b as well (read after the resume): in b's mode. */
	REQUIRE(write_ok(b, "c", "three\n", true));
	int64_t deadline = wsc_now_ms() + T_MS;
	bool got_three = false;
	while (!got_three && (m = next_output(b, "c", left_ms(deadline))) != NULL) {
		bytes = note_bytes(m, &n);
		CHECKF(is_binary_note(m) == (to == 1), "output on the resumed connection: %s", js(m));
		got_three = note_seq(m) == 3 && bytes && n == 6 && !memcmp(bytes, "three\n", 6);
		CHECKF(got_three || note_seq(m) == 2, "unexpected output: %s", js(m));
		free(bytes);
		json_decref(m);
	}
	CHECK(got_three);
	struct rpc_output o;
	CHECK(rpc_collect_full(b, "c", &o, T_MS) == 0);
	CHECKF(o.exited_seq == 4 && o.closed_seq == 5 && o.chunks == 0 && o.exit_code == 0,
	       "after three: exited %lld, closed %lld, %zu more chunks, exit %d",
	       (long long)o.exited_seq, (long long)o.closed_seq, o.chunks, o.exit_code);
	rpc_output_free(&o);
	if (to != 1)
		CHECKF(rpc_binary_msgs(b) == 0, "%zu binary messages on a JSON connection",
		       rpc_binary_msgs(b));
	rpc_free(b);
}

static void resume_binary_as_json(void)
{
	resume_switches(1, -1);
}

static void resume_json_as_binary(void)
{
	resume_switches(-1, 1);
}

/* 8 MiB of pseudo-random bytes from a file through binary frames, SHA-256 compared. */
static void bulk_8mib_hashed(void)
{
	const size_t size = 8 * MIB;
	char path[128];
	uint8_t *data = malloc(size), want[SHA256_DIGEST_SIZE], got[SHA256_DIGEST_SIZE];
	uint64_t x = 0x9e3779b97f4a7c15ull;
	struct sha256_ctx h;
	struct rpc_output o;
	struct rpc *r;
	int fd;

	REQUIRE(data);
	for (size_t i = 0; i < size; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		data[i] = (uint8_t)(x >> 24);
	}
	sha256_init(&h);
	sha256_update(&h, size, data);
	sha256_digest(&h, sizeof(want), want);
	snprintf(path, sizeof(path), "%s/bulk", tmpdir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	bool written = fd >= 0 && write(fd, data, size) == (ssize_t)size;
	if (fd >= 0)
		close(fd);
	free(data);
	REQUIRE(written);

	r = open_mode(1, NULL);
	REQUIRE(r);
	REQUIRE(start_ok(r, "bulk", (const char *const[]){ "cat", path, NULL }, false, false));
	CHECK(rpc_collect_full(r, "bulk", &o, BIG_MS) == 0);
	sha256_init(&h);
	sha256_update(&h, o.out_len, (const uint8_t *)o.out);
	sha256_digest(&h, sizeof(got), got);
	CHECKF(o.out_len == size && !memcmp(got, want, sizeof(got)), "%zu bytes, hash %s",
	       o.out_len, memcmp(got, want, sizeof(got)) ? "differs" : "equal");
	CHECKF(o.seq_errors == 0 && o.bad_chunks == 0 && o.chunks > 1 &&
	       o.binary_chunks == o.chunks, "%d seq errors, %d bad, %zu of %zu binary",
	       o.seq_errors, o.bad_chunks, o.binary_chunks, o.chunks);
	CHECK(o.exit_code == 0);
	rpc_output_free(&o);
	unlink(path);
	rpc_free(r);
}

/* A PTY in binary mode: stream code 2, the terminal's bytes raw, stdin echoed. */
static void pty_binary(void)
{
	static const char *const argv[] = {
		"sh", "-c", "printf 'ready\\n'; read x; printf 'got:%s\\n' \"$x\"", NULL
	};
	struct rpc *r = open_mode(1, NULL);
	struct rpc_output o;
	json_t *m;

	REQUIRE(r);
	REQUIRE(start_ok(r, "t", argv, true, false));
	m = next_output(r, "t", T_MS);
	CHECKF(is_binary_note(m) && str_is(json_object_get(json_object_get(m, "params"), "stream"),
					   "pty"), "first PTY output: %s", js(m));
	json_decref(m);
	REQUIRE(write_ok(r, "t", "hi\n", false));
	CHECK(rpc_collect_full(r, "t", &o, T_MS) == 0);
	CHECKF(memmem(o.out, o.out_len, "hi\r\n", 4) && memmem(o.out, o.out_len, "got:hi\r\n", 8),
	       "PTY output: %s", o.out);
	CHECKF(o.err_len == 0 && o.binary_chunks == o.chunks && o.bad_chunks == 0,
	       "%zu stderr bytes, %zu of %zu binary", o.err_len, o.binary_chunks, o.chunks);
	CHECK(o.exit_code == 0);
	rpc_output_free(&o);
	rpc_free(r);
}

/* One connection in each mode at once: each gets its own. */
static void modes_per_connection(void)
{
	static const char *const argv[] = { "head", "-c", "1048576", "/dev/zero", NULL };
	struct rpc *bin = open_mode(1, NULL), *txt = open_mode(-1, NULL);
	struct rpc_output ob, ot;

	REQUIRE(bin && txt);
	REQUIRE(start_ok(bin, "p", argv, false, false));
	REQUIRE(start_ok(txt, "p", argv, false, false));
	CHECK(rpc_collect_full(txt, "p", &ot, BIG_MS) == 0);
	CHECK(rpc_collect_full(bin, "p", &ob, BIG_MS) == 0);
	CHECKF(ob.out_len == (size_t)MIB && ob.binary_chunks == ob.chunks && ob.chunks > 0,
	       "binary connection: %zu bytes, %zu of %zu chunks binary", ob.out_len,
	       ob.binary_chunks, ob.chunks);
	CHECKF(ot.out_len == (size_t)MIB && ot.binary_chunks == 0 && rpc_binary_msgs(txt) == 0,
	       "JSON connection: %zu bytes, %zu binary messages", ot.out_len, rpc_binary_msgs(txt));
	rpc_output_free(&ob);
	rpc_output_free(&ot);
	rpc_free(bin);
	rpc_free(txt);
}

/* A client that did not ask (or asked false) never sees a binary frame. */
static void no_binary_unless_asked(void)
{
	static const char *const argv[] = {
		"sh", "-c", "head -c 1048576 /dev/zero; printf e >&2", NULL
	};
	for (int binary = -1; binary <= 0; binary++) {
		struct rpc *r = open_mode(binary, NULL);
		struct rpc_output o;

		REQUIRE(r);
		REQUIRE(start_ok(r, "n", argv, false, false));
		CHECK(rpc_collect_full(r, "n", &o, BIG_MS) == 0);
		CHECKF(o.out_len == (size_t)MIB && o.err_len == 1 && o.chunks > 0 &&
		       o.binary_chunks == 0 && rpc_binary_msgs(r) == 0,
		       "binaryOutput %d: %zu+%zu bytes, %zu binary messages", binary, o.out_len,
		       o.err_len, rpc_binary_msgs(r));
		rpc_output_free(&o);
		rpc_free(r);
	}
}

static void server_exits_0(void)
{
	REQUIRE(srv_started);
	int st = server_stop(&srv);

	srv_started = false;
	CHECKF(st == 0, "server wait status 0x%x", st);
}

static const struct tap_case cases[] = {
	{ "initialize_answers", initialize_answers },
	{ "layout_short_id", layout_short_id },
	{ "layout_long_id_and_seq", layout_long_id_and_seq },
	{ "order_against_exited_closed", order_against_exited_closed },
	{ "slow_reader_blocks_child", slow_reader_blocks_child },
	{ "resume_binary_as_json", resume_binary_as_json },
	{ "resume_json_as_binary", resume_json_as_binary },
	{ "bulk_8mib_hashed", bulk_8mib_hashed },
	{ "pty_binary", pty_binary },
	{ "modes_per_connection", modes_per_connection },
	{ "no_binary_unless_asked", no_binary_unless_asked },
	{ "server_exits_0", server_exits_0 },
	{ NULL, NULL },
};

int main(int argc, char **argv)
{
	static const char *const args[] = { "--session-ttl", "30", "--send-high-water", "1048576",
					    "--log-level", "warn", NULL };
	int ret;

	snprintf(tmpdir, sizeof(tmpdir), "/tmp/it_binary.XXXXXX");
	if (!mkdtemp(tmpdir))
		return 1;
	srv_started = server_start(&srv, args) == 0;
	ret = tap_main(argc, argv, cases);
	if (srv_started)
		server_stop(&srv);
	rmdir(tmpdir);
	return ret;
}
