/* soak: N clients (one thread and one connection each) keep M processes in
 * flight for a while, verify every byte and exit code, drop and reconnect now
 * and then, and afterwards check that the server's fds and children are back.
 * Usage: soak URL|- [SECONDS [CLIENTS [PROCS]]]; "-" starts $RINGEXECD with
 * --session-ttl 0; with a URL, $BENCH_SERVER_PID names the server (run it
 * with --session-ttl 0). $SOAK_SEED, $SOAK_NODROP=1 and $SOAK_SETTLE_S adjust.
 */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"
#include "rpc.h"

#define SEQ_MAX 1000000		/* lines in the shared `seq` image */
#define FILL_MAX (4 << 20)
#define RND_LEN (1 << 20)
#define STDIN_MAX (512 << 10)
#define PROC_TIMEOUT_MS 120000
#define DRAIN_MS 120000
#define CHUNK_MAX 65536

enum kind {
	K_TRUE, K_PRINTF, K_SEQ, K_FILL, K_MIX, K_PTY, K_PTY_MIX, K_CAT, K_CAT_ERR,
	K_KILL_SEQ, K_KILL_SLEEP, K_TERM_SLEEP, K_NKINDS
};
static const char *const kind_name[K_NKINDS] = {
	"true", "printf", "seq", "fill", "mix", "pty", "pty-mix", "cat", "cat-stderr",
	"kill-seq", "kill-sleep", "term-sleep",
};

/* What one stream must carry: exactly buf[0..len), or (prefix) any prefix of it. */
struct sexp {
	const uint8_t *buf;
	size_t len, got;
	bool prefix;
};

struct proc {
	bool used, started, exited, closed, bad, term_sent;
	enum kind kind;
	char id[48];
	int64_t t_start;
	int64_t start_id, term_id, w_first, w_last;
	int pending;		/* responses still to come */
	int64_t next_seq;
	int want_exit;
	bool tty;
	struct sexp out, err;	/* pty output goes to out */
	uint8_t *own;		/* expected bytes built for this process */
	char small[128];
	const uint8_t *in;	/* stdin to feed */
	size_t in_len;
};

struct client {
	int idx;
	pthread_t th;
	uint64_t rng;
	struct bench b;
	struct proc *procs;
	long next_n;
	uint8_t *scratch;
	long run, dropped, errors, reconnects, lost, by_kind[K_NKINDS];
	int64_t bytes;
};

static const char *g_url;
static int64_t g_end_ms;
static int g_procs;
static bool g_drop = true;
static uint8_t *seq_buf, *fill_buf, *rnd_buf;
static uint32_t *seq_off;	/* seq_off[k]: length of `seq 1 k` */
static atomic_int g_logged, g_clients_left;

static uint64_t rnd(struct client *c)
{
	c->rng ^= c->rng >> 12;
	c->rng ^= c->rng << 25;
	c->rng ^= c->rng >> 27;
	return c->rng * 0x2545F4914F6CDD1DULL;
}

static long rnd_in(struct client *c, long lo, long hi)
{
	return lo + (long)(rnd(c) % (uint64_t)(hi - lo + 1));
}

static void fail(struct client *c, const struct proc *p, const char *fmt, ...)
{
	va_list ap;

	c->errors++;
	if (atomic_fetch_add(&g_logged, 1) >= 40)
		return;
	fprintf(stderr, "soak: client %d", c->idx);
	if (p)
		fprintf(stderr, " %s (%s)", p->id, kind_name[p->kind]);
	fputs(": ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void init_images(void)
{
	size_t o = 0;

	seq_off = malloc((SEQ_MAX + 1) * sizeof(*seq_off));
	seq_buf = malloc((size_t)SEQ_MAX * 8 + 16);
	seq_off[0] = 0;
	for (long k = 1; k <= SEQ_MAX; k++) {
		o += (size_t)sprintf((char *)seq_buf + o, "%ld\n", k);
		seq_off[k] = (uint32_t)o;
	}
	fill_buf = malloc(FILL_MAX);
	memset(fill_buf, 'x', FILL_MAX);
	rnd_buf = malloc(RND_LEN);
	uint64_t s = 0x9E3779B97F4A7C15ULL;
	for (size_t i = 0; i < RND_LEN; i++) {
		s = s * 6364136223846793005ULL + 1442695040888963407ULL;
		rnd_buf[i] = (uint8_t)(s >> 56);
	}
}

/* `seq 1 k` as a terminal shows it (\n -> \r\n), appended at d; returns the length. */
static size_t put_seq_crlf(uint8_t *d, long k)
{
	size_t o = 0;

	for (uint32_t i = 0; i < seq_off[k]; i++) {
		if (seq_buf[i] == '\n')
			d[o++] = '\r';
		d[o++] = seq_buf[i];
	}
	return o;
}

static long pick_lines(struct client *c)
{
	long r = rnd_in(c, 0, 99);

	if (r < 50)
		return rnd_in(c, 1, 200);
	if (r < 85)
		return rnd_in(c, 1, 20000);
	if (r < 97)
		return rnd_in(c, 1, 150000);
	return rnd_in(c, 1, 500000);
}

static long pick_fill(struct client *c)
{
	long r = rnd_in(c, 0, 99);

	if (r < 50)
		return rnd_in(c, 1, 4096);
	if (r < 90)
		return rnd_in(c, 1, 256 << 10);
	return rnd_in(c, 1, FILL_MAX);
}

static void proc_free(struct proc *p)
{
	free(p->own);
	memset(p, 0, sizeof(*p));
}

static struct proc *find_pid(struct client *c, const char *id)
{
	for (int i = 0; i < g_procs; i++)
		if (c->procs[i].used && !strcmp(c->procs[i].id, id))
			return &c->procs[i];
	return NULL;
}

static struct proc *find_req(struct client *c, int64_t id)
{
	for (int i = 0; i < g_procs; i++) {
		struct proc *p = &c->procs[i];
		if (p->used && (p->start_id == id || p->term_id == id ||
				(p->w_first && id >= p->w_first && id <= p->w_last)))
			return p;
	}
	return NULL;
}

/* Choose a kind and its arguments, fill in the expectations, send process/start. */
static int start_proc(struct client *c, struct proc *p)
{
	char argv[512], params[1024];
	long a, b;
	int r = (int)rnd_in(c, 0, 99);

	memset(p, 0, sizeof(*p));
	p->used = true;
	p->next_seq = 1;
	p->kind = r < 8 ? K_TRUE : r < 18 ? K_PRINTF : r < 33 ? K_SEQ : r < 43 ? K_FILL
		: r < 53 ? K_MIX : r < 61 ? K_PTY : r < 66 ? K_PTY_MIX : r < 78 ? K_CAT
		: r < 84 ? K_CAT_ERR : r < 92 ? K_KILL_SEQ : r < 96 ? K_KILL_SLEEP : K_TERM_SLEEP;
	snprintf(p->id, sizeof(p->id), "soak%d-%ld", c->idx, ++c->next_n);
	p->t_start = wsc_now_ms();
	switch (p->kind) {
	case K_TRUE:
		snprintf(argv, sizeof(argv), "[\"true\"]");
		break;
	case K_PRINTF:
		a = rnd_in(c, 0, 1000000);
		snprintf(argv, sizeof(argv), "[\"printf\",\"%%s:%%s.\",\"%s\",\"%ld\"]", p->id, a);
		snprintf(p->small, sizeof(p->small), "%s:%ld.", p->id, a);
		p->out.buf = (const uint8_t *)p->small;
		p->out.len = strlen(p->small);
		break;
	case K_SEQ:
		a = pick_lines(c);
		snprintf(argv, sizeof(argv), "[\"seq\",\"1\",\"%ld\"]", a);
		p->out.buf = seq_buf;
		p->out.len = seq_off[a];
		break;
	case K_FILL:
		a = pick_fill(c);
		snprintf(argv, sizeof(argv),
			 "[\"sh\",\"-c\",\"head -c %ld /dev/zero | tr '\\\\0' x\"]", a);
		p->out.buf = fill_buf;
		p->out.len = (size_t)a;
		break;
	case K_MIX:
		a = pick_lines(c);
		b = pick_lines(c) / 4 + 1;
		p->want_exit = (int)rnd_in(c, 0, 9);
		snprintf(argv, sizeof(argv),
			 "[\"sh\",\"-c\",\"seq 1 %ld; seq 1 %ld >&2; exit %d\"]", a, b,
			 p->want_exit);
		p->out.buf = seq_buf;
		p->out.len = seq_off[a];
		p->err.buf = seq_buf;
		p->err.len = seq_off[b];
		break;
	case K_PTY:
		a = rnd_in(c, 0, 3) ? rnd_in(c, 1, 2000) : rnd_in(c, 1, 50000);
		p->tty = true;
		snprintf(argv, sizeof(argv), "[\"seq\",\"1\",\"%ld\"]", a);
		p->own = malloc(seq_off[a] + (size_t)a);
		p->out.buf = p->own;
		p->out.len = put_seq_crlf(p->own, a);
		break;
	case K_PTY_MIX:
		a = rnd_in(c, 1, 3000);
		b = rnd_in(c, 1, 3000);
		p->tty = true;
		p->want_exit = (int)rnd_in(c, 0, 9);
		snprintf(argv, sizeof(argv),
			 "[\"sh\",\"-c\",\"seq 1 %ld; seq 1 %ld >&2; exit %d\"]", a, b,
			 p->want_exit);
		p->own = malloc(seq_off[a] + (size_t)a + seq_off[b] + (size_t)b);
		p->out.buf = p->own;
		p->out.len = put_seq_crlf(p->own, a);
		p->out.len += put_seq_crlf(p->own + p->out.len, b);
		break;
	case K_CAT:
	case K_CAT_ERR:
		a = rnd_in(c, 0, 3) ? rnd_in(c, 0, 4096) : rnd_in(c, 0, STDIN_MAX);
		b = rnd_in(c, 0, RND_LEN - a);
		p->in = rnd_buf + b;
		p->in_len = (size_t)a;
		if (p->kind == K_CAT) {
			snprintf(argv, sizeof(argv), "[\"cat\"]");
			p->out.buf = p->in;
			p->out.len = p->in_len;
		} else {
			p->want_exit = 3;
			snprintf(argv, sizeof(argv), "[\"sh\",\"-c\",\"cat >&2; exit 3\"]");
			p->err.buf = p->in;
			p->err.len = p->in_len;
		}
		break;
	case K_KILL_SEQ:
		p->want_exit = 128 + SIGKILL;
		snprintf(argv, sizeof(argv), "[\"seq\",\"1\",\"100000000\"]");
		p->out.buf = seq_buf;
		p->out.len = seq_off[SEQ_MAX];
		p->out.prefix = true;
		break;
	case K_KILL_SLEEP:
	case K_TERM_SLEEP:
		p->want_exit = 128 + (p->kind == K_KILL_SLEEP ? SIGKILL : SIGTERM);
		snprintf(argv, sizeof(argv), "[\"sleep\",\"60\"]");
		break;
	default:
		break;
	}
	snprintf(params, sizeof(params),
		 "{\"processId\":\"%s\",\"argv\":%s,\"cwd\":\"/tmp\","
		 "\"env\":{\"PATH\":\"/usr/bin:/bin\",\"TERM\":\"dumb\"},\"tty\":%s,\"pipeStdin\":%s}",
		 p->id, argv, p->tty ? "true" : "false",
		 p->kind == K_CAT || p->kind == K_CAT_ERR ? "true" : "false");
	p->start_id = bench_send(&c->b, "process/start", params);
	if (p->start_id < 0)
		return -1;
	p->pending = 1;
	return 0;
}

static int send_terminate(struct client *c, struct proc *p, int grace_ms)
{
	char params[256];

	if (grace_ms)
		snprintf(params, sizeof(params), "{\"processId\":\"%s\",\"graceMs\":%d}", p->id,
			 grace_ms);
	else
		snprintf(params, sizeof(params), "{\"processId\":\"%s\"}", p->id);
	p->term_sent = true;
	p->term_id = bench_send(&c->b, "process/terminate", params);
	if (p->term_id < 0)
		return -1;
	p->pending++;
	return 0;
}

/* Feed p->in in writes of random size; the last one closes stdin. */
static int send_stdin(struct client *c, struct proc *p)
{
	size_t off = 0;
	int n = 0;

	do {
		size_t len = (size_t)(rnd_in(c, 0, 3) ? rnd_in(c, 1, 4096) : rnd_in(c, 1, CHUNK_MAX));
		if (len > p->in_len - off)
			len = p->in_len - off;
		bool last = off + len == p->in_len;
		char *b64 = rpc_b64(p->in + off, len);
		size_t cap = strlen(b64) + 256;
		char *params = malloc(cap);
		snprintf(params, cap, "{\"processId\":\"%s\",\"chunk\":\"%s\",\"writeId\":\"w%d\"%s}",
			 p->id, b64, ++n, last ? ",\"closeStdin\":true" : "");
		int64_t id = bench_send(&c->b, "process/write", params);
		free(params);
		free(b64);
		if (id < 0)
			return -1;
		if (!p->w_first)
			p->w_first = id;
		p->w_last = id;
		p->pending++;
		off += len;
	} while (off < p->in_len);
	return 0;
}

static void check_bytes(struct client *c, struct proc *p, struct sexp *s, const uint8_t *d,
			size_t n, const char *stream)
{
	if (p->bad)
		return;
	if (!s->buf && n) {
		fail(c, p, "unexpected %zu bytes on %s", n, stream);
		p->bad = true;
		return;
	}
	if (s->got + n > s->len) {
		fail(c, p, "%s: %zu bytes, more than the %zu expected", stream, s->got + n, s->len);
		p->bad = true;
		return;
	}
	if (memcmp(s->buf + s->got, d, n)) {
		size_t i = 0;
		while (s->buf[s->got + i] == d[i])
			i++;
		fail(c, p, "%s: wrong byte at offset %zu (0x%02x, want 0x%02x)", stream, s->got + i,
		     d[i], s->buf[s->got + i]);
		p->bad = true;
		return;
	}
	s->got += n;
	c->bytes += (int64_t)n;
}

/* The text after "key" inside [a, b), or NULL. */
static const char *member(const char *a, const char *b, const char *key)
{
	if (!a || b <= a)
		return NULL;
	const char *k = memmem(a, (size_t)(b - a), key, strlen(key));
	return k ? k + strlen(key) : NULL;
}

static void on_output(struct client *c, struct proc *p, struct bev *e)
{
	const char *d = e->raw.data, *end = d + e->raw.len;
	const char *s = member(d, e->chunk ? e->chunk : end, "\"stream\":\"");

	if (!s && e->chunk)
		s = member(e->chunk + e->chunk_len, end, "\"stream\":\"");
	if (!s || !e->chunk) {
		fail(c, p, "output without stream or chunk: %.200s", d);
		return;
	}
	if (e->chunk_len / 4 * 3 > CHUNK_MAX + 2) {
		fail(c, p, "chunk of %zu base64 characters (over 64 KiB)", e->chunk_len);
		return;
	}
	ssize_t n = bench_unb64(e->chunk, e->chunk_len, c->scratch);
	if (n < 0 || n > CHUNK_MAX) {
		fail(c, p, "bad chunk (%zd bytes)", n);
		return;
	}
	if (p->tty ? strncmp(s, "pty\"", 4) != 0
		   : strncmp(s, "stdout\"", 7) != 0 && strncmp(s, "stderr\"", 7) != 0) {
		fail(c, p, "unexpected stream %.8s", s);
		return;
	}
	if (!strncmp(s, "stderr\"", 7))
		check_bytes(c, p, &p->err, c->scratch, (size_t)n, "stderr");
	else
		check_bytes(c, p, &p->out, c->scratch, (size_t)n, p->tty ? "pty" : "stdout");
	if (p->kind == K_KILL_SEQ && !p->term_sent && send_terminate(c, p, 0) < 0)
		fail(c, p, "send terminate failed");
}

static void on_exited(struct client *c, struct proc *p, struct bev *e)
{
	const char *x = member(e->raw.data, e->raw.data + e->raw.len, "\"exitCode\":");

	if (p->exited)
		fail(c, p, "second exited");
	p->exited = true;
	if (!x || !strncmp(x, "null", 4)) {
		fail(c, p, "exited without exitCode: %.200s", e->raw.data);
		return;
	}
	int code = (int)strtol(x, NULL, 10);
	if (code != p->want_exit)
		fail(c, p, "exit code %d, want %d: %.200s", code, p->want_exit, e->raw.data);
}

static void finish(struct client *c, struct proc *p)
{
	if (!p->bad) {
		if (!p->out.prefix && p->out.got != p->out.len)
			fail(c, p, "%s: %zu bytes, want %zu", p->tty ? "pty" : "stdout", p->out.got,
			     p->out.len);
		else if (p->err.got != p->err.len)
			fail(c, p, "stderr: %zu bytes, want %zu", p->err.got, p->err.len);
	}
	c->run++;
	c->by_kind[p->kind]++;
	proc_free(p);
}

static void on_response(struct client *c, struct bev *e)
{
	struct proc *p = find_req(c, e->id);
	json_t *res = json_object_get(e->msg, "result");

	if (!p) {
		char *t = json_dumps(e->msg, JSON_COMPACT);
		fail(c, NULL, "response to an unknown id: %.300s", t);
		free(t);
		return;
	}
	p->pending--;
	if (e->error || !res) {
		char *t = json_dumps(e->msg, JSON_COMPACT);
		fail(c, p, "error response: %.300s", t);
		free(t);
		p->bad = true;
		if (e->id == p->start_id)
			p->closed = true;	/* nothing more will come for it */
		return;
	}
	if (e->id == p->start_id) {
		p->started = true;
		if ((p->kind == K_CAT || p->kind == K_CAT_ERR) && send_stdin(c, p) < 0)
			fail(c, p, "send write failed");
		if (p->kind == K_KILL_SLEEP && send_terminate(c, p, 0) < 0)
			fail(c, p, "send terminate failed");
		if (p->kind == K_TERM_SLEEP && send_terminate(c, p, 5000) < 0)
			fail(c, p, "send terminate failed");
	} else if (e->id == p->term_id) {
		if (!json_is_true(json_object_get(res, "running")))
			fail(c, p, "terminate: running is not true");
	} else {
		const char *st = json_string_value(json_object_get(res, "status"));
		if (!st || strcmp(st, "accepted"))
			fail(c, p, "write %lld: status %s", (long long)(e->id - p->w_first + 1),
			     st ? st : "(none)");
	}
}

static void on_event(struct client *c, struct bev *e)
{
	struct proc *p;

	if (e->kind == BEV_RESPONSE) {
		on_response(c, e);
	} else if (e->kind == BEV_OUTPUT || e->kind == BEV_EXITED || e->kind == BEV_CLOSED) {
		p = find_pid(c, e->pid);
		if (!p) {
			fail(c, NULL, "event for unknown process %s: %.200s", e->pid, e->raw.data);
			return;
		}
		if (!p->started)
			fail(c, p, "notification before the start response");
		if (p->closed)
			fail(c, p, "event after closed: %.200s", e->raw.data);
		if (e->seq != p->next_seq)
			fail(c, p, "seq %lld, want %lld", (long long)e->seq, (long long)p->next_seq);
		p->next_seq = e->seq + 1;
		if (e->kind == BEV_OUTPUT)
			on_output(c, p, e);
		else if (e->kind == BEV_EXITED)
			on_exited(c, p, e);
		else {
			if (!p->exited)
				fail(c, p, "closed before exited");
			p->closed = true;
		}
	} else if (e->kind == BEV_OTHER) {
		fail(c, NULL, "unexpected message: %.200s", e->raw.data);
	}
	for (int i = 0; i < g_procs; i++) {
		p = &c->procs[i];
		if (p->used && p->closed && p->pending <= 0)
			finish(c, p);
	}
}

static int connect_client(struct client *c)
{
	for (int i = 0; i < 20; i++) {
		if (bench_open(&c->b, g_url, "soak") == 0)
			return 0;
		if (c->b.c)
			wsc_abort(c->b.c);
		c->b.c = NULL;
		usleep(250000);
	}
	return -1;
}

/* Drop the connection on purpose (or after a failure) and connect again. */
static int reconnect(struct client *c, bool clean)
{
	for (int i = 0; i < g_procs; i++)
		if (c->procs[i].used) {
			c->dropped++;
			proc_free(&c->procs[i]);
		}
	if (c->b.c) {
		if (clean)
			wsc_close(c->b.c, 1000, 2000);
		else
			wsc_abort(c->b.c);
	}
	c->b.c = NULL;
	c->reconnects++;
	if (connect_client(c) < 0) {
		fail(c, NULL, "cannot reconnect");
		return -1;
	}
	return 0;
}

static void *client_main(void *arg)
{
	struct client *c = arg;
	int64_t next_drop = wsc_now_ms() + rnd_in(c, 2000, 15000);

	if (connect_client(c) < 0) {
		fail(c, NULL, "cannot connect to %s", g_url);
		goto out;
	}
	for (;;) {
		int64_t now = wsc_now_ms();
		bool running = now < g_end_ms;
		int inflight = 0;
		bool stuck = false;

		if (running && g_drop && now >= next_drop) {
			next_drop = now + rnd_in(c, 2000, 15000);
			if (reconnect(c, rnd(c) & 1) < 0)
				goto out;
			continue;
		}
		for (int i = 0; i < g_procs; i++) {
			struct proc *p = &c->procs[i];
			if (!p->used)
				continue;
			inflight++;
			if (now - p->t_start > PROC_TIMEOUT_MS) {
				fail(c, p, "not closed after %d s (seq %lld, out %zu/%zu, err %zu/%zu, "
				     "exited %d, pending %d)", PROC_TIMEOUT_MS / 1000,
				     (long long)p->next_seq, p->out.got, p->out.len, p->err.got,
				     p->err.len, p->exited, p->pending);
				stuck = true;
			}
		}
		if (!running && inflight && now > g_end_ms + DRAIN_MS) {
			fail(c, NULL, "%d processes still open %d s after the end", inflight,
			     DRAIN_MS / 1000);
			break;
		}
		if (stuck) {
			if (reconnect(c, false) < 0)
				goto out;
			continue;
		}
		if (!running && !inflight)
			break;
		for (int i = 0; running && i < g_procs; i++)
			if (!c->procs[i].used && start_proc(c, &c->procs[i]) < 0) {
				fail(c, &c->procs[i], "send start failed");
				break;
			}
		struct bev e;
		int r = bench_next(&c->b, &e, 100);
		if (r < 0) {
			fail(c, NULL, "connection lost");
			c->lost++;
			if (reconnect(c, false) < 0)
				goto out;
			continue;
		}
		if (r == 0)
			continue;
		on_event(c, &e);
		bev_free(&e);
	}
	if (c->b.c)
		wsc_close(c->b.c, 1000, 2000);
	c->b.c = NULL;
out:
	atomic_fetch_sub(&g_clients_left, 1);
	return NULL;
}

static int count_fds(pid_t pid)
{
	char path[64];
	struct dirent *d;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	DIR *dir = opendir(path);
	if (!dir)
		return -1;
	while ((d = readdir(dir)))
		if (d->d_name[0] != '.')
			n++;
	closedir(dir);
	return n;
}

static int count_children(pid_t pid)
{
	char path[96], buf[8192];
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)pid, (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	size_t len = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[len] = '\0';
	for (char *t = strtok(buf, " \n"); t; t = strtok(NULL, " \n"))
		n++;
	return n;
}

static bool server_alive(struct bench *srv, pid_t pid)
{
	int st;

	if (srv->own)
		return waitpid(pid, &st, WNOHANG) == 0;
	return kill(pid, 0) == 0 || errno == EPERM;
}

int main(int argc, char **argv)
{
	const char *arg = argc > 1 ? argv[1] : "-";
	long secs = argc > 2 ? atol(argv[2]) : 60;
	int nclients = argc > 3 ? atoi(argv[3]) : 8;
	const char *env;
	struct bench srv = { 0 };
	pid_t pid = 0;
	long errors = 0, peak_rss = -1, cpu0 = -1, cpu1 = -1;
	bool crashed = false;
	uint64_t seed = (env = getenv("SOAK_SEED")) ? strtoull(env, NULL, 0) : 1;
	int settle_s = (env = getenv("SOAK_SETTLE_S")) ? atoi(env) : 30;

	g_procs = argc > 4 ? atoi(argv[4]) : 4;
	if (secs < 1 || nclients < 1 || g_procs < 1) {
		fprintf(stderr, "usage: soak URL|- [SECONDS [CLIENTS [PROCS]]]\n");
		return 2;
	}
	if ((env = getenv("SOAK_NODROP")) && *env == '1')
		g_drop = false;
	signal(SIGPIPE, SIG_IGN);
	init_images();
	bench_unb64("AAAA", 4, (uint8_t[8]){ 0 });	/* build the tables before the threads */
	json_decref(json_object());

	if (!strcmp(arg, "-")) {
		if (server_start(&srv.srv, (const char *const[]){ "--session-ttl", "0", NULL }) < 0) {
			fprintf(stderr, "soak: cannot start $RINGEXECD\n");
			return 1;
		}
		srv.own = true;
		pid = srv.srv.pid;
		g_url = srv.srv.url;
	} else {
		g_url = arg;
		pid = (env = getenv("BENCH_SERVER_PID")) ? (pid_t)atol(env) : 0;
	}
	int fds0 = pid ? count_fds(pid) : -1, kids0 = pid ? count_children(pid) : -1;
	long tck = sysconf(_SC_CLK_TCK);
	cpu0 = pid ? proc_cpu_ticks(pid) : -1;

	struct client *cl = calloc((size_t)nclients, sizeof(*cl));
	int64_t t0 = wsc_now_ms();
	g_end_ms = t0 + secs * 1000;
	atomic_store(&g_clients_left, nclients);
	for (int i = 0; i < nclients; i++) {
		cl[i].idx = i;
		cl[i].rng = (seed + 1) * 0x9E3779B97F4A7C15ULL + (uint64_t)i * 0xBF58476D1CE4E5B9ULL;
		cl[i].procs = calloc((size_t)g_procs, sizeof(struct proc));
		cl[i].scratch = malloc(CHUNK_MAX * 2 + 16);
		pthread_create(&cl[i].th, NULL, client_main, &cl[i]);
	}
	while (atomic_load(&g_clients_left) > 0) {
		if (pid) {
			long rss = proc_rss_kb(pid);
			if (rss > peak_rss)
				peak_rss = rss;
			if (!crashed && !server_alive(&srv, pid)) {
				fprintf(stderr, "soak: the server (pid %d) died\n", (int)pid);
				crashed = true;
			}
		}
		usleep(50000);
	}
	int64_t t1 = wsc_now_ms();

	struct client sum = { 0 };
	for (int i = 0; i < nclients; i++) {
		pthread_join(cl[i].th, NULL);
		sum.run += cl[i].run;
		sum.bytes += cl[i].bytes;
		sum.errors += cl[i].errors;
		sum.dropped += cl[i].dropped;
		sum.reconnects += cl[i].reconnects;
		sum.lost += cl[i].lost;
		for (int k = 0; k < K_NKINDS; k++)
			sum.by_kind[k] += cl[i].by_kind[k];
	}
	errors = sum.errors + crashed;

	/* Let the server reap and close what the last connections left. */
	int fds1 = -1, kids1 = -1;
	int64_t settle_end = wsc_now_ms() + settle_s * 1000L;
	while (pid && !crashed) {
		fds1 = count_fds(pid);
		kids1 = count_children(pid);
		if ((fds1 == fds0 && kids1 == kids0) || wsc_now_ms() > settle_end)
			break;
		usleep(100000);
	}
	int64_t t_settle = wsc_now_ms() - t1;
	cpu1 = pid && !crashed ? proc_cpu_ticks(pid) : -1;

	printf("soak: %ld s, %d clients x %d in flight, seed %llu, %s, drops %s\n", secs, nclients,
	       g_procs, (unsigned long long)seed, g_url, g_drop ? "on" : "off");
	printf("processes run          %ld (%.0f/s)\n", sum.run, sum.run * 1000.0 / (double)(t1 - t0));
	printf("  by kind             ");
	for (int k = 0; k < K_NKINDS; k++)
		printf(" %s %ld", kind_name[k], sum.by_kind[k]);
	printf("\n");
	printf("bytes verified         %lld (%.1f MiB/s)\n", (long long)sum.bytes,
	       (double)sum.bytes / 1048576.0 * 1000.0 / (double)(t1 - t0));
	printf("dropped by reconnect   %ld processes in %ld reconnects\n", sum.dropped,
	       sum.reconnects);
	printf("errors                 %ld%s\n", errors, crashed ? " (server died)" : "");
	if (pid) {
		printf("peak server RSS        %ld KiB\n", peak_rss);
		printf("server fds             before %d, after %d (settled in %lld ms)\n", fds0, fds1,
		       (long long)t_settle);
		printf("children               before %d, after %d\n", kids0, kids1);
		if (cpu0 >= 0 && cpu1 >= 0)
			printf("server CPU time        %.2f s (%.0f%% of wall)\n",
			       (double)(cpu1 - cpu0) / (double)tck,
			       (double)(cpu1 - cpu0) / (double)tck * 100000.0 / (double)(t1 - t0));
	} else {
		printf("server pid unknown     (set $BENCH_SERVER_PID): no RSS, fd, children, CPU\n");
	}
	bench_kv("soak_processes", (double)sum.run);
	bench_kv("soak_bytes", (double)sum.bytes);
	bench_kv("soak_errors", (double)errors);
	if (pid) {
		bench_kv("soak_peak_rss_kb", (double)peak_rss);
		if (cpu0 >= 0 && cpu1 >= 0)
			bench_kv("soak_server_cpu_s", (double)(cpu1 - cpu0) / (double)tck);
	}
	fflush(stdout);

	int rc = errors > 0;
	if (pid && !crashed && (fds1 != fds0 || kids1 != kids0)) {
		fprintf(stderr, "soak: fds or children did not return to the baseline\n");
		rc = 1;
	}
	if (srv.own && !crashed) {
		int st = server_stop(&srv.srv);
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
			fprintf(stderr, "soak: the server did not exit 0 on SIGTERM (status 0x%x)\n", st);
			rc = 1;
		}
	}
	if (sum.run == 0) {
		fprintf(stderr, "soak: no process ran\n");
		rc = 1;
	}
	return rc;
}
