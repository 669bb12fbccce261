/* fuzz_session: whole request sequences through conn, session and methods
 * on the fake engine and transport (tests/fake/): no ring, no child.
 *
 * The input is lines. A line starting with '!' is an event of the engine
 * or of the transport (the table below); any other line is one message
 * from the client, sent as it is (the fs/ methods and environmentConfig/read,
 * which touch the real filesystem, are left out). An optional first line
 * "#..." picks a variant: p plain transport (no binary frames), 0 session TTL 0,
 * n no initialize first, b binaryOutput in the harness's initializes,
 * q signals do not kill. At the end every process is made to finish and
 * time runs out, so every request can be answered.
 *
 * Invariants, checked on every message the server queues:
 * - every message is whole JSON (a binary frame, a well-formed one);
 * - every request with an id gets exactly one reply with that id, unless
 *   its connection was dropped or closed first (ids are counted as a
 *   multiset, so repeated ids are fine): never a reply to nothing, never
 *   two, and none missing at the end;
 * - a process's notifications (by the fake process behind them) come in
 *   seq order, with no gap within one connection, and nothing after its
 *   `closed`; a process/read result's chunks ascend below its nextSeq;
 * - no output stays paused with an attached connection whose queue is
 *   empty and nothing left to read back (it would stall for ever);
 * - every process the session made is released (the fake counts them),
 *   a released one is never touched again (the fake aborts), and no
 *   memory outlives the input (ASan+LSan).
 */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake_engine.h"
#include "fake_io.h"
#include "proto_int.h"

#define FZ_MAX_RECORDS 4000
#define FZ_MAX_OUTPUT (1u << 20)	/* bytes of scripted output per input */
#define FZ_HIGH_WATER 2048

#define fz_check(cond, ...) \
	do { \
		if (!(cond)) { \
			fprintf(stderr, "fuzz_session: %s:%d: %s: ", __FILE__, __LINE__, #cond); \
			fprintf(stderr, __VA_ARGS__); \
			fputc('\n', stderr); \
			abort(); \
		} \
	} while (0)

/* A request id asked on the current connection, and its replies. */
struct fz_id {
	char *key;		/* 'i' + the integer's 8 bytes, or 's' + the string's */
	size_t len;
	unsigned asked, answered;
};

/* What has been seen of one fake process (by its serial). */
struct fz_seen {
	uint64_t last_seq;	/* its last notification's seq, 0: none */
	uint64_t gen;		/* the connection that carried it */
	bool closed;
};

static struct {
	struct fake_engine *fe;
	struct proto *pr;
	struct fake_io io;
	enum fake_io_kind kind;
	bool binary;			/* ask for binary output in our initializes */
	uint64_t gen;			/* counts connections */
	struct fz_id *ids;
	size_t nids, capids;
	struct fz_seen *seen;		/* by serial */
	size_t capseen;
	char session[40];		/* the last sessionId an initialize gave */
	size_t output;			/* scripted output bytes so far */
	unsigned init_n;
	bool trace;			/* $FUZZ_SESSION_TRACE: print every message */
} fz;

/* ---- replies ---- */

static size_t fz_key(char *out, size_t cap, bool is_str, int64_t num, const char *s, size_t len)
{
	if (!is_str) {
		out[0] = 'i';
		memcpy(out + 1, &num, sizeof(num));
		return 1 + sizeof(num);
	}
	if (len > cap - 1)
		len = cap - 1;
	out[0] = 's';
	memcpy(out + 1, s, len);
	return 1 + len;
}

static struct fz_id *fz_find(const char *key, size_t len)
{
	for (size_t i = 0; i < fz.nids; i++)
		if (fz.ids[i].len == len && memcmp(fz.ids[i].key, key, len) == 0)
			return &fz.ids[i];
	return NULL;
}

static void fz_ask(const char *key, size_t len)
{
	struct fz_id *id = fz_find(key, len);
	if (!id) {
		if (fz.nids == fz.capids) {
			fz.capids = fz.capids ? fz.capids * 2 : 32;
			fz.ids = realloc(fz.ids, fz.capids * sizeof(*fz.ids));
			fz_check(fz.ids, "out of memory");
		}
		id = &fz.ids[fz.nids++];
		*id = (struct fz_id){ .key = malloc(len), .len = len };
		fz_check(id->key, "out of memory");
		memcpy(id->key, key, len);
	}
	id->asked++;
}

static void fz_forget_ids(void)
{
	for (size_t i = 0; i < fz.nids; i++)
		free(fz.ids[i].key);
	fz.nids = 0;
}

static void fz_check_read(const json_t *result)
{
	const json_t *chunks = json_object_get(result, "chunks");
	json_int_t next = json_integer_value(json_object_get(result, "nextSeq"));
	json_int_t prev = 0;
	for (size_t i = 0; i < json_array_size(chunks); i++) {
		json_int_t seq = json_integer_value(json_object_get(json_array_get(chunks, i), "seq"));
		fz_check(seq > prev && seq < next, "read chunk %zu: seq %lld after %lld, nextSeq %lld",
			 i, (long long)seq, (long long)prev, (long long)next);
		prev = seq;
	}
	fz_check(!json_is_true(json_object_get(result, "closed")) ||
		 json_is_true(json_object_get(result, "exited")), "closed but not exited");
}

static void fz_on_reply(const json_t *v)
{
	const json_t *id = json_object_get(v, "id");
	const json_t *result = json_object_get(v, "result"), *error = json_object_get(v, "error");
	fz_check(json_is_integer(id) || json_is_string(id), "a reply without an id");
	fz_check(!result != !error, "a reply needs exactly one of result and error");
	char key[1100];
	size_t n = fz_key(key, sizeof(key), json_is_string(id), json_integer_value(id),
			  json_string_value(id), json_string_length(id));
	struct fz_id *r = fz_find(key, n);
	fz_check(r && r->answered < r->asked, "a reply with id %s that no request waits for",
		 json_dumps(id, JSON_ENCODE_ANY));
	r->answered++;
	const json_t *sid = json_object_get(result, "sessionId");
	if (json_is_string(sid))
		snprintf(fz.session, sizeof(fz.session), "%s", json_string_value(sid));
	if (json_object_get(result, "chunks"))
		fz_check_read(result);
}

/* ---- notifications ---- */

static struct fz_seen *fz_seen_of(size_t serial)
{
	if (serial >= fz.capseen) {
		size_t cap = fz.capseen ? fz.capseen : 16;
		while (cap <= serial)
			cap *= 2;
		fz.seen = realloc(fz.seen, cap * sizeof(*fz.seen));
		fz_check(fz.seen, "out of memory");
		memset(fz.seen + fz.capseen, 0, (cap - fz.capseen) * sizeof(*fz.seen));
		fz.capseen = cap;
	}
	return &fz.seen[serial];
}

static void fz_on_note(const json_t *v, const char *method)
{
	bool closed = strcmp(method, "process/closed") == 0;
	fz_check(closed || strcmp(method, "process/output") == 0 ||
		 strcmp(method, "process/exited") == 0, "unknown notification %s", method);
	const json_t *params = json_object_get(v, "params");
	const json_t *pid = json_object_get(params, "processId");
	json_int_t seq = json_integer_value(json_object_get(params, "seq"));
	fz_check(json_is_string(pid) && seq >= 1, "%s without processId or seq", method);
	struct conn *c = fz.io.c;
	fz_check(c && c->sess, "a notification on a connection with no session");
	struct sess_proc *sp = session_find(c->sess, json_string_value(pid), json_string_length(pid));
	fz_check(sp && sp->proc, "%s for a process the session does not have", method);
	struct fz_seen *s = fz_seen_of(fake_proc_of(sp->proc)->serial);
	fz_check(!s->closed, "%s seq %lld after closed", method, (long long)seq);
	fz_check((uint64_t)seq > s->last_seq, "%s seq %lld after %llu", method, (long long)seq,
		 (unsigned long long)s->last_seq);
	fz_check(s->gen != fz.gen || (uint64_t)seq == s->last_seq + 1,
		 "%s seq %lld after %llu on the same connection: a gap", method, (long long)seq,
		 (unsigned long long)s->last_seq);
	s->last_seq = (uint64_t)seq;
	s->gen = fz.gen;
	s->closed = closed;
}

static void fz_on_msg(void *ctx, const struct fake_io *t, size_t i)
{
	(void)ctx;
	json_t *v = fio_msg(t, i);
	fz_check(v, "message %zu is not whole JSON (or a malformed binary frame)", i);
	if (fz.trace) {
		char *text = json_dumps(v, JSON_COMPACT);
		fprintf(stderr, "< %.300s\n", text);
		free(text);
	}
	const char *method = json_string_value(json_object_get(v, "method"));
	if (method)
		fz_on_note(v, method);
	else
		fz_on_reply(v);
	json_decref(v);
}

/* ---- the client side ---- */

static void fz_send(const char *data, size_t len)
{
	if (!fz.io.c || fz.io.closed)
		return;
	struct rpc_msg m;
	rpc_parse(data, len, &m);
	bool fs = (m.kind == RPC_REQUEST || m.kind == RPC_NOTIFICATION) &&
		  ((m.method_len >= 3 && memcmp(m.method, "fs/", 3) == 0) ||
		   (m.method_len == 22 && memcmp(m.method, "environmentConfig/read", 22) == 0));
	char key[1100];
	if (m.kind == RPC_REQUEST && !fs)
		fz_ask(key, fz_key(key, sizeof(key), m.id.is_str, m.id.num, m.id.str, m.id.len));
	else if (m.kind == RPC_INVALID)
		fz_ask(key, fz_key(key, sizeof(key), false, -1, NULL, 0));
	rpc_msg_free(&m);
	if (!fs)
		conn_on_message(fz.io.c, data, len);
}

static void fz_send_text(const char *text)
{
	fz_send(text, strlen(text));
}

/* The connection goes (the transport's close), if there is one. */
static void fz_drop(void)
{
	if (fz.io.c)
		fio_drop(&fz.io);
	fz_forget_ids();
}

static void fz_open(void)
{
	fz_drop();
	fz_check(fio_open(&fz.io, fz.pr, fz.kind, FZ_HIGH_WATER), "out of memory");
	fz.io.on_msg = fz_on_msg;
	fz.gen++;
}

static void fz_handshake(const char *resume)
{
	char msg[256];
	snprintf(msg, sizeof(msg),
		 "{\"id\":\"fz-%u\",\"method\":\"initialize\",\"params\":{\"clientName\":\"fuzz\"%s%s%s%s}}",
		 fz.init_n++, fz.binary ? ",\"binaryOutput\":true" : "",
		 resume ? ",\"resumeSessionId\":\"" : "", resume ? resume : "", resume ? "\"" : "");
	fz_send_text(msg);
	fz_send_text("{\"method\":\"initialized\"}");
}

/* ---- events ---- */

/* The n-th decimal number after the command (0 when absent; saturating). */
static uint64_t fz_num(const char *s, size_t len, int n, size_t *end)
{
	size_t i = 2;
	uint64_t v = 0;
	for (int k = 0; k <= n; k++) {
		while (i < len && s[i] == ' ')
			i++;
		v = 0;
		while (i < len && s[i] >= '0' && s[i] <= '9') {
			unsigned d = (unsigned)(s[i++] - '0');
			v = v > (UINT64_MAX - d) / 10 ? UINT64_MAX : v * 10 + d;
		}
	}
	if (end)
		*end = i;
	return v;
}

static struct fake_proc *fz_proc(const char *s, size_t len)
{
	return fz.fe->live ? fake_nth(fz.fe, fz_num(s, len, 0, NULL) % fz.fe->live) : NULL;
}

static void fz_output(struct fake_proc *p, int stream, const char *data, size_t len)
{
	if (!p || fz.output + len > FZ_MAX_OUTPUT)
		return;
	fz.output += len;
	fake_output(p, stream, data, len);
}

/* Events of a process: o P S DATA, b P N (N bytes), e P S (EOF), E P (all
 * EOF), x P CODE (exit), k P SIG (killed), i P N (the child reads N stdin
 * bytes, 0: all), g P (stdin gone). */
static bool fz_proc_event(char cmd, const char *s, size_t len)
{
	struct fake_proc *p = fz_proc(s, len);
	size_t end;
	uint64_t a = fz_num(s, len, 1, &end);
	switch (cmd) {
	case 'o':
		if (end < len && s[end] == ' ')
			end++;
		fz_output(p, (int)(a % 2), s + end, len - end);
		return true;
	case 'b': {
		static char big[64 << 10];
		memset(big, 'b', sizeof(big));
		fz_output(p, 0, big, a % sizeof(big) + 1);
		return true;
	}
	case 'e':
		if (p)
			fake_eof(p, (int)(a % 2));
		return true;
	case 'E':
		if (p)
			fake_eof_all(p);
		return true;
	case 'x':
		if (p)
			fake_exit(p, (int)(a % 256), 0);
		return true;
	case 'k': {
		int sig = 1 + (int)((a + 63) % 64);	/* 1..64, k 9 is SIGKILL */
		if (p)
			fake_exit(p, 128 + sig, sig);
		return true;
	}
	case 'i':
		if (p)
			fake_stdin_take(p, a ? a : SIZE_MAX);
		return true;
	case 'g':
		if (p)
			fake_stdin_gone(p);
		return true;
	}
	return false;
}

/* Events of the engine and the transport: w sandbox waits, r ready, R
 * fails; F E next start fails -E, N next proc_new fails, W next write
 * fails, S E next signal fails -E; t MS time; s N bytes written, f all
 * written, z sends refused; d dropped, a resumed, n new connection, h
 * initialize on it. */
static void fz_event(const char *s, size_t len)
{
	if (len < 2 || fz_proc_event(s[1], s, len))
		return;
	uint64_t a = fz_num(s, len, 0, NULL);
	switch (s[1]) {
	case 'w': fake_sandbox_wait(fz.fe); break;
	case 'r': fake_sandbox_ready(fz.fe, 0); break;
	case 'R': fake_sandbox_ready(fz.fe, -ENOSYS); break;
	case 'F': fz.fe->fail_start = -(int)(a % 133 + 1); break;
	case 'N': fz.fe->fail_new = true; break;
	case 'W': fz.fe->fail_write = true; break;
	case 'S': fz.fe->fail_signal = -(int)(a % 133 + 1); break;
	case 't': fake_advance(fz.fe, a); break;
	case 's': if (fz.io.c) fio_write(&fz.io, a); break;
	case 'f': if (fz.io.c) fio_flush(&fz.io); break;
	case 'z': fz.io.refuse = !fz.io.refuse; break;
	case 'd': fz_drop(); break;
	case 'a': fz_open(); fz_handshake(fz.session[0] ? fz.session : "no-such-session"); break;
	case 'n': fz_open(); break;
	case 'h': fz_handshake(NULL); break;
	}
}

/* ---- one input ---- */

static void fz_begin(const char *flags, size_t n)
{
	bool has = n && flags[0] == '#';
	bool ttl0 = has && memchr(flags, '0', n), quiet = has && memchr(flags, 'q', n);
	memset(&fz, 0, sizeof(fz));
	fz.trace = getenv("FUZZ_SESSION_TRACE") != NULL;
	fz.kind = has && memchr(flags, 'p', n) ? FIO_PLAIN : FIO_WS;
	fz.binary = has && memchr(flags, 'b', n);
	struct fake_config fc = {
		.retain_bytes = 4096, .retain_chunks = 16, .exit_drain_ms = 50,
		.stdin_limit = 64, .signals_kill = !quiet,
	};
	struct proto_config pc = {
		.retain_ms = 1000, .session_ttl_ms = ttl0 ? 0 : 5000, .retain_bytes = 2048,
		.max_processes = 8, .send_high_water = FZ_HIGH_WATER, .max_spawn_bytes = 1 << 20,
	};
	fz.fe = fake_engine_new(&fc);
	fz_check(fz.fe && proto_new(&fz.pr, &fake_engine_ops, fake_engine_handle(fz.fe), &pc) == 0,
		 "out of memory");
	fz_open();
	if (!(has && memchr(flags, 'n', n)))
		fz_handshake(NULL);
}

/* Nothing may stay paused that should not. */
static void fz_check_stalls(void)
{
	struct conn *c = fz.io.c;
	if (!c || !c->sess || c->io->queued(c->io_ctx) > FZ_HIGH_WATER)
		return;
	for (struct dlist *n = c->sess->order.next; n != &c->sess->order; n = n->next) {
		struct sess_proc *sp = container_of(n, struct sess_proc, link);
		fz_check(!sp->paused || sp->backlog_end, "process %s stays paused: queue empty, no backlog",
			 sp->id);
	}
}

/* Let every process end and time run out, then check the replies. */
static void fz_finish(void)
{
	struct fake_engine *fe = fz.fe;
	fz.io.refuse = false;
	fake_sandbox_ready(fe, 0);
	for (size_t i = 0; i < fe->live; i++) {
		struct fake_proc *p = fake_nth(fe, i);
		fake_stdin_take(p, SIZE_MAX);
		fake_eof_all(p);
		fake_exit(p, 0, 0);
	}
	fake_run(fe);
	if (fz.io.c && !fz.io.closed)
		fio_flush(&fz.io);
	fake_run(fe);
	if (fz.io.c && !fz.io.closed)
		fz_check_stalls();
	fake_advance(fe, UINT64_MAX);
	if (fz.io.c && !fz.io.closed)
		for (size_t i = 0; i < fz.nids; i++)
			fz_check(fz.ids[i].answered == fz.ids[i].asked,
				 "%u of %u requests with an id (%c...) never answered",
				 fz.ids[i].asked - fz.ids[i].answered, fz.ids[i].asked, fz.ids[i].key[0]);
}

static void fz_end(void)
{
	fz_drop();
	proto_free(fz.pr);
	size_t never = fake_engine_free(fz.fe);
	fz_check(never == 0, "%zu processes never released", never);
	free(fz.ids);
	free(fz.seen);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data, *endp = s + size;
	const char *nl = memchr(s, '\n', size);
	size_t first = nl ? (size_t)(nl - s) : size;
	fz_begin(s, first);
	if (first && s[0] == '#')
		s += first + (nl != NULL);
	for (int records = 0; s < endp && records < FZ_MAX_RECORDS; records++) {
		nl = memchr(s, '\n', (size_t)(endp - s));
		size_t len = nl ? (size_t)(nl - s) : (size_t)(endp - s);
		if (fz.trace)
			fprintf(stderr, "> %.*s\n", (int)(len > 300 ? 300 : len), s);
		if (len && s[0] == '!')
			fz_event(s, len);
		else if (len)
			fz_send(s, len);
		fake_run(fz.fe);
		/* A close the server asked for: the transport goes, as ws.c's would. */
		if (fz.io.c && fz.io.closed)
			fz_drop();
		s += len + (nl != NULL);
	}
	fz_finish();
	fz_end();
	return 0;
}
