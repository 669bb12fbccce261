/* rpc: JSON-RPC over one wsc connection, for ringexec, tests and examples.
 *
 * Owns the request ids, the backlog of messages nobody has asked for yet
 * (arrival order, a singly linked queue), the process helpers built on it
 * (start, collect) and a strict base64 codec. Checks nothing on behalf of a
 * caller: it hands messages over and lets the caller judge them. It must not
 * exit or print to stdout; its diagnostics go to stderr unless quiet.
 */
#include "rpc.h"
#include "outframe.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RPC_OPEN_TIMEOUT_MS 10000
#define RPC_CALL_TIMEOUT_MS 10000
#ifndef RPC_START_CWD
#define RPC_START_CWD "/"	/* servers that take only file: URIs: -DRPC_START_CWD='"file:///"' */
#endif

struct rpc_item {
	struct rpc_item *next;
	json_t *msg;
};

struct rpc {
	struct wsc *c;
	int64_t next_id;
	struct rpc_item *head, *tail;	/* the backlog */
	int close_code;			/* -1 while open */
	int fail_err;			/* -errno that failed the connection, 0 if none */
	bool quiet;			/* no diagnostics on stderr */
	size_t binary_msgs;		/* binary messages received */
};

struct rpc *rpc_new(struct wsc *c)
{
	struct rpc *r = calloc(1, sizeof(*r));

	if (!r) {
		wsc_abort(c);
		return NULL;
	}
	r->c = c;
	r->next_id = 1;
	r->close_code = -1;
	return r;
}

static void rpc_drop_backlog(struct rpc *r)
{
	while (r->head) {
		struct rpc_item *it = r->head;

		r->head = it->next;
		json_decref(it->msg);
		free(it);
	}
	r->tail = NULL;
}

void rpc_free(struct rpc *r)
{
	if (!r)
		return;
	rpc_drop_backlog(r);
	wsc_abort(r->c);
	free(r);
}

void rpc_close(struct rpc *r, int code, int timeout_ms)
{
	if (!r)
		return;
	rpc_drop_backlog(r);
	wsc_close(r->c, code, timeout_ms);
	free(r);
}

struct wsc *rpc_wsc(struct rpc *r)
{
	return r->c;
}

int rpc_close_code(const struct rpc *r)
{
	return r->close_code;
}

int rpc_fail_error(const struct rpc *r)
{
	return r->fail_err;
}

void rpc_set_quiet(struct rpc *r, bool quiet)
{
	r->quiet = quiet;
}

size_t rpc_binary_msgs(const struct rpc *r)
{
	return r->binary_msgs;
}

/* ---- the backlog ---- */

static void rpc_push(struct rpc *r, json_t *msg)
{
	struct rpc_item *it = malloc(sizeof(*it));

	if (!it) {
		json_decref(msg);
		return;
	}
	it->next = NULL;
	it->msg = msg;
	if (r->tail)
		r->tail->next = it;
	else
		r->head = it;
	r->tail = it;
}

/* Unlink it (whose predecessor is prev, NULL for the head); return its message. */
static json_t *rpc_unlink(struct rpc *r, struct rpc_item *prev, struct rpc_item *it)
{
	json_t *msg = it->msg;

	if (prev)
		prev->next = it->next;
	else
		r->head = it->next;
	if (r->tail == it)
		r->tail = prev;
	free(it);
	return msg;
}

/* The first backlog message match() accepts, unlinked; NULL if none. */
static json_t *rpc_take(struct rpc *r, bool (*match)(json_t *, const void *), const void *arg)
{
	struct rpc_item *prev = NULL;

	for (struct rpc_item *it = r->head; it; prev = it, it = it->next)
		if (match(it->msg, arg))
			return rpc_unlink(r, prev, it);
	return NULL;
}

/* ---- receiving ---- */

#define RPC_FAST_MIN 4096

/* jansson lexes a long string at about 90 MB/s, and every process/output
 * carries one: parse the message with that string cut out, then put it back
 * in a single copy. NULL when the message is not of that shape (the caller
 * parses it whole). Only for text frames, whose UTF-8 wsc has checked. */
static json_t *rpc_parse_fast(const char *data, size_t len)
{
	static const char key[] = "\"chunk\":\"";
	const char *k, *v, *end;
	json_t *j, *params, *ch;
	size_t pre, post;
	char *buf;

	if (len < RPC_FAST_MIN)
		return NULL;
	k = memmem(data, len, key, sizeof(key) - 1);
	if (!k)
		return NULL;
	v = k + sizeof(key) - 1;
	end = memchr(v, '"', len - (size_t)(v - data));
	if (!end || memchr(v, '\\', (size_t)(end - v)))
		return NULL;
	pre = (size_t)(v - data);
	post = len - (size_t)(end - data);
	buf = malloc(pre + post);
	if (!buf)
		return NULL;
	memcpy(buf, data, pre);
	memcpy(buf + pre, end, post);
	j = json_loadb(buf, pre + post, JSON_ALLOW_NUL, NULL);
	free(buf);
	params = json_object_get(j, "params");
	ch = json_object_get(params, "chunk");
	if (!json_is_string(ch) || json_string_length(ch) != 0) {
		json_decref(j);	/* "chunk" sat elsewhere: not the shape we know */
		return NULL;
	}
	json_object_set_new(params, "chunk", json_stringn_nocheck(v, (size_t)(end - v)));
	return j;
}

/* A binary output frame as the notification it stands for, with "raw"
 * (the bytes, as a jansson string that knows its length) in place of
 * "chunk", marked "binaryFrame": true. NULL for a frame of another kind
 * (ignored, PROTOCOL §5a); a malformed one is handed over as a JSON
 * string, as a message that is not JSON is. */
static json_t *rpc_binary_note(struct rpc *r, const struct wsc_msg *m)
{
	struct outframe f;
	int err = outframe_parse(m->data, m->len, &f);
	json_t *j = NULL;

	if (err == -ENOMSG)
		return NULL;
	if (err == 0)	/* NULL too when the processId is not UTF-8 */
		j = json_pack("{s:s, s:{s:s%, s:I, s:s, s:o}, s:b}", "method", "process/output",
			      "params", "processId", f.process_id, f.process_id_len, "seq",
			      (json_int_t)f.seq, "stream", outframe_stream_name(f.stream), "raw",
			      json_stringn_nocheck((const char *)f.data, f.len), "binaryFrame", 1);
	if (!j) {
		if (!r->quiet)
			fprintf(stderr, "rpc: malformed binary output frame of %zu bytes\n", m->len);
		j = json_stringn_nocheck(m->data, m->len);
	}
	return j;
}

/* One message off the wire (not the backlog). 1: *out set; 0: timed out;
 * -1: the connection is closed or failed. */
static int rpc_pull(struct rpc *r, int64_t deadline_ms, json_t **out)
{
	for (;;) {
		struct wsc_msg m;
		int64_t left = deadline_ms == INT64_MAX ? -1 : deadline_ms - wsc_now_ms();
		int err;

		if (r->close_code >= 0)
			return -1;
		if (left < 0 && deadline_ms != INT64_MAX)
			left = 0;
		err = wsc_recv(r->c, &m, left > INT_MAX ? INT_MAX : (int)left);
		if (err == -ETIMEDOUT)
			return 0;
		if (err < 0) {
			if (!r->quiet)
				fprintf(stderr, "rpc: connection failed: %s\n", strerror(-err));
			r->close_code = 0;
			r->fail_err = err;
			return -1;
		}
		if (m.kind == WSC_CLOSED) {
			r->close_code = m.close_code;
			free(m.data);
			return -1;
		}
		if (m.kind == WSC_PONG) {
			free(m.data);
			continue;
		}
		if (m.kind == WSC_BINARY) {
			json_t *j = rpc_binary_note(r, &m);

			r->binary_msgs++;
			free(m.data);
			if (!j)
				continue;
			*out = j;
			return 1;
		}
		json_error_t jerr;
		json_t *j = rpc_parse_fast(m.data, m.len);

		if (!j)
			j = json_loadb(m.data, m.len, JSON_ALLOW_NUL, &jerr);
		if (!j) {
			/* Hand it over as a JSON string so a test notices it. */
			if (!r->quiet)
				fprintf(stderr, "rpc: not JSON (%s): %.200s\n", jerr.text, m.data);
			j = json_stringn_nocheck(m.data, m.len);
		}
		free(m.data);
		if (!j)
			continue;
		*out = j;
		return 1;
	}
}

static int64_t rpc_deadline(int timeout_ms)
{
	return timeout_ms < 0 ? INT64_MAX : wsc_now_ms() + timeout_ms;
}

/* Wait for the first message match() accepts, backlog first; the others
 * are appended to the backlog. NULL on timeout or close. */
static json_t *rpc_wait(struct rpc *r, bool (*match)(json_t *, const void *), const void *arg,
			int timeout_ms)
{
	int64_t deadline = rpc_deadline(timeout_ms);
	json_t *msg = rpc_take(r, match, arg);

	while (!msg) {
		if (rpc_pull(r, deadline, &msg) <= 0)
			return NULL;
		if (!match(msg, arg)) {
			rpc_push(r, msg);
			msg = NULL;
		}
	}
	return msg;
}

static bool rpc_match_any(json_t *msg, const void *arg)
{
	(void)msg;
	(void)arg;
	return true;
}

json_t *rpc_next(struct rpc *r, int timeout_ms)
{
	return rpc_wait(r, rpc_match_any, NULL, timeout_ms);
}

static bool rpc_is_response_to(json_t *msg, const void *arg)
{
	json_t *id = json_object_get(msg, "id");

	return json_is_integer(id) && json_integer_value(id) == *(const int64_t *)arg &&
	       !json_object_get(msg, "method") &&
	       (json_object_get(msg, "result") || json_object_get(msg, "error"));
}

json_t *rpc_wait_response(struct rpc *r, int64_t id, int timeout_ms)
{
	return rpc_wait(r, rpc_is_response_to, &id, timeout_ms);
}

struct rpc_note_want {
	const char *method;
	const char *process_id;
};

static bool rpc_is_note(json_t *msg, const void *arg)
{
	const struct rpc_note_want *w = arg;
	const char *m = json_string_value(json_object_get(msg, "method"));
	const char *pid;

	if (!m || json_object_get(msg, "id"))
		return false;
	if (w->method && strcmp(m, w->method) != 0)
		return false;
	if (!w->process_id)
		return true;
	pid = json_string_value(json_object_get(json_object_get(msg, "params"), "processId"));
	return pid && strcmp(pid, w->process_id) == 0;
}

json_t *rpc_wait_notification(struct rpc *r, const char *method, const char *process_id,
			      int timeout_ms)
{
	struct rpc_note_want w = { method, process_id };

	return rpc_wait(r, rpc_is_note, &w, timeout_ms);
}

/* ---- sending ---- */

static int rpc_send_json(struct rpc *r, json_t *msg)
{
	size_t n = json_dumpb(msg, NULL, 0, JSON_COMPACT);
	char *buf;
	int err;

	if (n == 0)
		return -EINVAL;
	buf = malloc(n);
	if (!buf)
		return -ENOMEM;
	json_dumpb(msg, buf, n, JSON_COMPACT);
	err = wsc_send_text(r->c, buf, n);
	free(buf);
	return err;
}

int64_t rpc_send(struct rpc *r, const char *method, json_t *params)
{
	int64_t id = r->next_id++;
	json_t *msg = json_object();
	int err;

	if (!msg) {
		json_decref(params);
		return -1;
	}
	json_object_set_new(msg, "id", json_integer(id));
	json_object_set_new(msg, "method", json_string(method));
	if (params)
		json_object_set_new(msg, "params", params);
	err = rpc_send_json(r, msg);
	json_decref(msg);
	if (err < 0) {
		if (!r->quiet)
			fprintf(stderr, "rpc: sending %s failed: %s\n", method, strerror(-err));
		r->fail_err = err;
		return -1;
	}
	return id;
}

int rpc_notify(struct rpc *r, const char *method, json_t *params)
{
	json_t *msg = json_pack("{s:s, s:o}", "method", method, "params",
				params ? params : json_object());
	int err;

	if (!msg)
		return -ENOMEM;
	err = rpc_send_json(r, msg);
	json_decref(msg);
	if (err < 0)
		r->fail_err = err;
	return err;
}

json_t *rpc_call(struct rpc *r, const char *method, json_t *params, int timeout_ms)
{
	int64_t id = rpc_send(r, method, params);

	if (id < 0)
		return NULL;
	return rpc_wait_response(r, id, timeout_ms);
}

json_t *rpc_result(struct rpc *r, const char *method, json_t *params, int timeout_ms)
{
	json_t *resp = rpc_call(r, method, params, timeout_ms);
	json_t *res;

	if (!resp) {
		fprintf(stderr, "rpc: %s: no response\n", method);
		return NULL;
	}
	res = json_object_get(resp, "result");
	if (!res) {
		char *s = json_dumps(resp, JSON_COMPACT);

		fprintf(stderr, "rpc: %s failed: %s\n", method, s ? s : "?");
		free(s);
		json_decref(resp);
		return NULL;
	}
	json_incref(res);
	json_decref(resp);
	return res;
}

int rpc_handshake(struct rpc *r)
{
	json_t *res;

	res = rpc_result(r, "initialize", json_pack("{s:s}", "clientName", "ringexec-tests"),
			 RPC_CALL_TIMEOUT_MS);
	if (!res)
		return -1;
	json_decref(res);
	return rpc_notify(r, "initialized", NULL) < 0 ? -1 : 0;
}

struct rpc *rpc_open(const char *url)
{
	struct wsc *c;
	struct rpc *r;
	int err = wsc_connect(&c, url, NULL, RPC_OPEN_TIMEOUT_MS);

	if (err != 0) {
		fprintf(stderr, "rpc: connecting to %s failed: %s%d\n", url,
			err > 0 ? "HTTP " : "errno ", err > 0 ? err : -err);
		return NULL;
	}
	r = rpc_new(c);
	if (!r)
		return NULL;
	if (rpc_handshake(r) < 0) {
		rpc_free(r);
		return NULL;
	}
	return r;
}

/* ---- process helpers ---- */

json_t *rpc_start(struct rpc *r, const char *process_id, const char *const *argv, int tty,
		  int pipe_stdin)
{
	json_t *av = json_array(), *params;

	for (size_t i = 0; argv && argv[i]; i++)
		json_array_append_new(av, json_string(argv[i]));
	params = json_pack("{s:s, s:o, s:s, s:{s:s}, s:b, s:b}", "processId", process_id,
			   "argv", av, "cwd", RPC_START_CWD, "env", "PATH", "/usr/bin:/bin", "tty", tty,
			   "pipeStdin", pipe_stdin);
	if (!params)
		return NULL;
	return rpc_call(r, "process/start", params, RPC_CALL_TIMEOUT_MS);
}

struct rpc_buf {
	char *p;
	size_t len, cap;
};

static int rpc_buf_add(struct rpc_buf *b, const void *data, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		char *np;

		while (cap < b->len + n + 1)
			cap *= 2;
		np = realloc(b->p, cap);
		if (!np)
			return -ENOMEM;
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, data, n);
	b->len += n;
	b->p[b->len] = '\0';
	return 0;
}

struct rpc_gather {
	const char *process_id;
	struct rpc_buf all, out, err;
	struct rpc_buf *only;	/* while one stream alone has spoken: its buffer */
	bool mixed;		/* both have: all is kept apart */
	struct rpc_output *o;
	int64_t last_seq;
};

static bool rpc_is_proc_event(json_t *msg, const void *arg)
{
	const struct rpc_gather *g = arg;
	const char *m = json_string_value(json_object_get(msg, "method"));
	const char *pid;

	if (!m || json_object_get(msg, "id") ||
	    (strcmp(m, "process/output") && strcmp(m, "process/exited") &&
	     strcmp(m, "process/closed")))
		return false;
	pid = json_string_value(json_object_get(json_object_get(msg, "params"), "processId"));
	return pid && strcmp(pid, g->process_id) == 0;
}

/* Fold one event of the process into g; consumes msg. */
static void rpc_gather_event(struct rpc_gather *g, json_t *msg)
{
	struct rpc_output *o = g->o;
	const char *m = json_string_value(json_object_get(msg, "method"));
	json_t *params = json_object_get(msg, "params");
	json_t *seqj = json_object_get(params, "seq");
	int64_t seq = json_is_integer(seqj) ? json_integer_value(seqj) : -1;

	if (o->first_seq < 0)
		o->first_seq = seq;
	else if (seq != g->last_seq + 1)
		o->seq_errors++;
	if (o->closed)
		o->seq_errors++;
	g->last_seq = seq;

	if (!strcmp(m, "process/output")) {
		const char *chunk = json_string_value(json_object_get(params, "chunk"));
		const char *stream = json_string_value(json_object_get(params, "stream"));
		json_t *raw = json_object_get(params, "raw");
		size_t n = 0;
		char *bytes = chunk ? rpc_unb64(chunk, &n) : NULL;

		if (!chunk && json_is_string(raw)) {	/* from a binary frame */
			n = json_string_length(raw);
			bytes = malloc(n + 1);
			if (bytes)
				memcpy(bytes, json_string_value(raw), n);
			o->binary_chunks++;
		}
		o->chunks++;
		if (!bytes || !stream ||
		    (strcmp(stream, "stdout") && strcmp(stream, "stderr") && strcmp(stream, "pty"))) {
			o->bad_chunks++;
		} else {
			struct rpc_buf *b = strcmp(stream, "stderr") ? &g->out : &g->err;

			/* all is the one stream's buffer until the other one speaks
			 * (saves a copy of every byte in the usual one-stream case). */
			if (!g->mixed && g->only && g->only != b) {
				g->mixed = true;
				rpc_buf_add(&g->all, g->only->p, g->only->len);
			}
			g->only = b;
			if (g->mixed)
				rpc_buf_add(&g->all, bytes, n);
			rpc_buf_add(b, bytes, n);
		}
		free(bytes);
	} else if (!strcmp(m, "process/exited")) {
		json_t *code = json_object_get(params, "exitCode");

		o->exit_code = json_is_integer(code) ? (int)json_integer_value(code) : INT_MIN;
		o->exited_seq = seq;
		json_decref(o->exited);
		o->exited = json_incref(params);
	} else {
		o->closed_seq = seq;
		o->closed = true;
	}
	json_decref(msg);
}

int rpc_collect_full(struct rpc *r, const char *process_id, struct rpc_output *o, int timeout_ms)
{
	int64_t deadline = rpc_deadline(timeout_ms);
	struct rpc_gather g = { .process_id = process_id, .o = o };
	struct rpc_item *prev = NULL, *it;

	memset(o, 0, sizeof(*o));
	o->exit_code = INT_MIN;
	o->first_seq = o->exited_seq = o->closed_seq = -1;

	/* What already waits in the backlog, in one pass. */
	for (it = r->head; it && !o->closed;) {
		struct rpc_item *next = it->next;

		if (rpc_is_proc_event(it->msg, &g))
			rpc_gather_event(&g, rpc_unlink(r, prev, it));
		else
			prev = it;
		it = next;
	}
	while (!o->closed) {
		json_t *msg;

		if (rpc_pull(r, deadline, &msg) <= 0)
			break;
		if (rpc_is_proc_event(msg, &g))
			rpc_gather_event(&g, msg);
		else
			rpc_push(r, msg);
	}

	rpc_buf_add(&g.out, "", 0);
	rpc_buf_add(&g.err, "", 0);
	if (!g.mixed && g.only) {
		free(g.all.p);
		g.all = *g.only;	/* aliased: rpc_output_free knows */
	} else {
		rpc_buf_add(&g.all, "", 0);
	}
	o->all = g.all.p;
	o->all_len = g.all.len;
	o->out = g.out.p;
	o->out_len = g.out.len;
	o->err = g.err.p;
	o->err_len = g.err.len;
	return o->closed ? 0 : -1;
}

void rpc_output_free(struct rpc_output *o)
{
	if (o->all != o->out && o->all != o->err)
		free(o->all);
	free(o->out);
	free(o->err);
	json_decref(o->exited);
	memset(o, 0, sizeof(*o));
}

int rpc_collect(struct rpc *r, const char *process_id, char **out, size_t *out_len,
		int *exit_code, int timeout_ms)
{
	struct rpc_output o;
	int ret = rpc_collect_full(r, process_id, &o, timeout_ms);

	if (out) {
		*out = o.all;	/* may alias o.out or o.err: hand it over once */
		if (o.out == o.all)
			o.out = NULL;
		if (o.err == o.all)
			o.err = NULL;
		o.all = NULL;
	}
	if (out_len)
		*out_len = o.all_len;
	if (exit_code)
		*exit_code = o.exit_code;
	rpc_output_free(&o);
	return ret;
}

/* ---- base64 (standard alphabet, padded) ---- */

static const char rpc_b64_alpha[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *rpc_b64(const void *data, size_t len)
{
	const uint8_t *s = data;
	char *out = malloc((len + 2) / 3 * 4 + 1), *d = out;
	size_t i = 0;

	if (!out)
		return NULL;
	for (; i + 3 <= len; i += 3) {
		uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];

		d[0] = rpc_b64_alpha[v >> 18];
		d[1] = rpc_b64_alpha[(v >> 12) & 63];
		d[2] = rpc_b64_alpha[(v >> 6) & 63];
		d[3] = rpc_b64_alpha[v & 63];
		d += 4;
	}
	if (len - i == 1) {
		uint32_t v = (uint32_t)s[i] << 16;

		d[0] = rpc_b64_alpha[v >> 18];
		d[1] = rpc_b64_alpha[(v >> 12) & 63];
		d[2] = d[3] = '=';
		d += 4;
	} else if (len - i == 2) {
		uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8;

		d[0] = rpc_b64_alpha[v >> 18];
		d[1] = rpc_b64_alpha[(v >> 12) & 63];
		d[2] = rpc_b64_alpha[(v >> 6) & 63];
		d[3] = '=';
		d += 4;
	}
	*d = '\0';
	return out;
}

/* rpc_b64_dec[k][c]: character c at position k of a group of four, already
 * shifted to where its bits land in the three output bytes (little-endian
 * word); bit 24 marks a byte outside the alphabet. */
static uint32_t rpc_b64_dec[4][256];

static void rpc_b64_init(void)
{
	static bool done;

	if (done)
		return;
	done = true;
	for (int k = 0; k < 4; k++)
		for (int c = 0; c < 256; c++)
			rpc_b64_dec[k][c] = 1u << 24;
	for (uint32_t v = 0; v < 64; v++) {
		uint8_t c = (uint8_t)rpc_b64_alpha[v];

		rpc_b64_dec[0][c] = v << 2;
		rpc_b64_dec[1][c] = (v >> 4) | (v & 15) << 12;
		rpc_b64_dec[2][c] = (v >> 2) << 8 | (v & 3) << 22;
		rpc_b64_dec[3][c] = v << 16;
	}
}

static inline uint32_t rpc_b64_group(const uint8_t *p)
{
	return rpc_b64_dec[0][p[0]] | rpc_b64_dec[1][p[1]] | rpc_b64_dec[2][p[2]] |
	       rpc_b64_dec[3][p[3]];
}

void *rpc_unb64(const char *s, size_t *len)
{
	const uint8_t *p = (const uint8_t *)s;
	size_t n = strlen(s), i = 0, pad = 0;
	uint8_t *out, *d;

	rpc_b64_init();
	if (n % 4)
		return NULL;
	if (n && p[n - 1] == '=')
		pad = n >= 2 && p[n - 2] == '=' ? 2 : 1;
	/* +2: the word stores below write one byte past the three they fill */
	out = malloc(n / 4 * 3 + 2);
	if (!out)
		return NULL;
	d = out;
	/* Eight characters to six bytes a step; '=' stops it like any non-alphabet byte. */
	for (; i + 8 <= n; i += 8) {
		uint32_t x = rpc_b64_group(p + i), y = rpc_b64_group(p + i + 4);

		if ((x | y) >> 24)
			break;
		memcpy(d, &x, 4);
		memcpy(d + 3, &y, 4);
		d += 6;
	}
	for (; i < n; i += 4) {
		uint8_t g[4];
		uint32_t x;

		memcpy(g, p + i, 4);
		if (i + 4 == n && pad) {	/* padding only ends the last group */
			g[3] = 'A';
			if (pad == 2)
				g[2] = 'A';
		}
		x = rpc_b64_group(g);
		if (x >> 24) {
			free(out);
			return NULL;
		}
		memcpy(d, &x, 4);
		d += 3;
	}
	d -= pad;
	*d = '\0';
	if (len)
		*len = (size_t)(d - out);
	return out;
}
