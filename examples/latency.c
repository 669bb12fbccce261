/* latency: how long a server takes to run small things for a client, next
 * to what the machine itself needs, all over one live connection.
 *
 * Times /bin/true start->response and start->closed (events mode, and read
 * mode: process/read long-polls), the same start->closed under codex's
 * workspace-write sandbox, PTY `echo hi` start->first output and ->closed,
 * and keystroke echo through a raw-mode PTY `cat`. Floors from the same
 * run: vfork+execve+waitpid of /bin/true and a WebSocket ping->pong. With
 * BENCH_BINARY=1 output comes as binary frames (PROTOCOL §5a).
 * Usage: [BENCH_BINARY=1] latency URL|- [N [KEYSTROKES]]; "-" starts $RINGEXECD.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

static struct ptrack *tracks;
static long ntracks, next_track;

static void on_event(void *arg, struct bev *e)
{
	(void)arg;
	if (e->kind != BEV_OUTPUT && e->kind != BEV_EXITED && e->kind != BEV_CLOSED)
		return;
	long i = bench_pid_index(e->pid);
	if (i >= 0 && i < ntracks)
		ptrack_add(&tracks[i], e, NULL);
}

static long new_track(char *id, size_t cap)
{
	long i = next_track++;
	if (i >= ntracks) {
		fprintf(stderr, "latency: out of trackers\n");
		exit(1);
	}
	memset(&tracks[i], 0, sizeof(tracks[i]));
	snprintf(id, cap, "lat-%ld", i);
	return i;
}

/* Pump events until pred(t) holds; -1 on timeout. */
static int pump_until(struct bench *b, struct ptrack *t, bool (*pred)(const struct ptrack *, int64_t),
		      int64_t arg, int timeout_ms)
{
	int64_t deadline = wsc_now_ms() + timeout_ms;
	while (!pred(t, arg)) {
		struct bev e;
		int64_t left = deadline - wsc_now_ms();
		if (left <= 0 || bench_next(b, &e, (int)left) <= 0)
			return -1;
		on_event(NULL, &e);
		bev_free(&e);
	}
	return 0;
}

static bool is_done(const struct ptrack *t, int64_t a)
{
	(void)a;
	return ptrack_done(t);
}

static bool has_bytes(const struct ptrack *t, int64_t n)
{
	return t->bytes >= n;
}

static const char *sandbox_json;	/* set for a sandboxed start */

static int start_checked(struct bench *b, const char *id, const char *argv, bool tty, int64_t *t_resp)
{
	int64_t rid = bench_start_in(b, id, argv, tty, sandbox_json);
	json_t *r = bench_wait_response(b, rid, 5000, on_event, NULL);
	*t_resp = wsc_now_us();
	bool ok = r && json_object_get(r, "result");
	json_decref(r);
	if (!ok)
		fprintf(stderr, "latency: process/start %s failed\n", id);
	return ok ? 0 : -1;
}

/* events mode: /bin/true, start->response and start->closed. */
static int run_events(struct bench *b, int64_t *to_resp, int64_t *to_closed)
{
	char id[32];
	long i = new_track(id, sizeof(id));
	int64_t t0 = wsc_now_us(), tr;
	if (start_checked(b, id, "[\"/bin/true\"]", false, &tr) < 0)
		return -1;
	if (pump_until(b, &tracks[i], is_done, 0, 5000) < 0) {
		fprintf(stderr, "latency: %s: no process/closed (events)\n", id);
		return -1;
	}
	*to_resp = tr - t0;
	*to_closed = tracks[i].t_closed - t0;
	return 0;
}

/* events mode under codex's workspace-write sandbox. */
static int run_sandboxed(struct bench *b, int64_t *to_resp, int64_t *to_closed)
{
	sandbox_json = bench_sandbox_workspace_write;
	int ret = run_events(b, to_resp, to_closed);
	sandbox_json = NULL;
	return ret;
}

/* read mode: /bin/true, process/read long-polls until a result says closed. */
static int run_read(struct bench *b, int64_t *to_closed)
{
	char id[32], p[256];
	long i = new_track(id, sizeof(id));
	int64_t t0 = wsc_now_us(), tr, after = 0;
	if (start_checked(b, id, "[\"/bin/true\"]", false, &tr) < 0)
		return -1;
	for (int k = 0;; k++) {
		if (k > 1000) {
			fprintf(stderr, "latency: %s: read never said closed\n", id);
			return -1;
		}
		snprintf(p, sizeof(p), "{\"processId\":\"%s\",\"afterSeq\":%lld,\"waitMs\":5000}", id,
			 (long long)after);
		int64_t rid = bench_send(b, "process/read", p);
		json_t *r = bench_wait_response(b, rid, 10000, on_event, NULL);
		json_t *res = json_object_get(r, "result");
		if (!res) {
			fprintf(stderr, "latency: %s: process/read failed\n", id);
			json_decref(r);
			return -1;
		}
		bool closed = json_is_true(json_object_get(res, "closed"));
		int64_t next = json_integer_value(json_object_get(res, "nextSeq"));
		json_decref(r);
		if (closed) {
			*to_closed = wsc_now_us() - t0;
			break;
		}
		if (next > 0)
			after = next - 1;
	}
	/* Let its notifications go by so the next figure starts quiet. */
	if (pump_until(b, &tracks[i], is_done, 0, 5000) < 0) {
		fprintf(stderr, "latency: %s: notifications incomplete (read)\n", id);
		return -1;
	}
	return 0;
}

/* PTY echo hi: start->first output, start->closed. */
static int run_pty(struct bench *b, int64_t *to_out, int64_t *to_closed)
{
	char id[32];
	long i = new_track(id, sizeof(id));
	int64_t t0 = wsc_now_us(), tr;
	if (start_checked(b, id, "[\"/bin/echo\",\"hi\"]", true, &tr) < 0)
		return -1;
	if (pump_until(b, &tracks[i], is_done, 0, 5000) < 0 || tracks[i].bytes < 3) {
		fprintf(stderr, "latency: %s: PTY echo hi incomplete (%lld bytes)\n", id,
			(long long)tracks[i].bytes);
		return -1;
	}
	*to_out = tracks[i].t_first_out - t0;
	*to_closed = tracks[i].t_closed - t0;
	return 0;
}

static int64_t ping(struct bench *b)
{
	return bench_ping(b, on_event, NULL);
}

int main(int argc, char **argv)
{
	int n = argc > 2 ? atoi(argv[2]) : 500;
	int nk = argc > 3 ? atoi(argv[3]) : 2000;
	int warmup = n / 10 + 5;
	struct bench b;

	if (argc < 2) {
		fprintf(stderr, "usage: [BENCH_BINARY=1] latency URL|- [N [KEYSTROKES]]\n");
		return 2;
	}
	if (n < 10)
		n = 10;
	if (nk < 10)
		nk = 10;
	ntracks = 4L * (n + warmup) + 8;
	tracks = calloc((size_t)ntracks, sizeof(*tracks));
	if (bench_open_mode(&b, argv[1], "latency", bench_binary_wanted()) < 0)
		return 1;
	int64_t *resp = calloc((size_t)n, 8), *closed = calloc((size_t)n, 8);
	int64_t *rclosed = calloc((size_t)n, 8), *pout = calloc((size_t)n, 8);
	int64_t *pclosed = calloc((size_t)n, 8), *floor = calloc((size_t)n, 8);
	int64_t *pings = calloc((size_t)(n + nk), 8), *keys = calloc((size_t)nk, 8);
	int64_t *sresp = calloc((size_t)n, 8), *sclosed = calloc((size_t)n, 8);
	int np = 0;

	for (int i = 0; i < warmup; i++) {
		int64_t a, c;
		if (run_events(&b, &a, &c) < 0 || run_read(&b, &a) < 0 || run_pty(&b, &a, &c) < 0 ||
		    run_sandboxed(&b, &a, &c) < 0) {
			fprintf(stderr, "latency: warm-up failed\n");
			return 1;
		}
		spawn_floor_once();
		ping(&b);
	}
	/* Interleave the series so machine noise hits all of them alike. */
	for (int i = 0; i < n; i++) {
		floor[i] = spawn_floor_once();
		if (run_events(&b, &resp[i], &closed[i]) < 0 || run_read(&b, &rclosed[i]) < 0 ||
		    run_pty(&b, &pout[i], &pclosed[i]) < 0 || run_sandboxed(&b, &sresp[i], &sclosed[i]) < 0)
			return 1;
		if ((pings[np++] = ping(&b)) < 0)
			return 1;
	}

	/* keystroke: raw mode and no line-discipline echo, so the byte comes
	 * back only through cat itself (as through a shell or an editor). */
	char kid[32];
	long ki = new_track(kid, sizeof(kid));
	int64_t tr;
	if (start_checked(&b, kid, "[\"/bin/sh\",\"-c\",\"stty raw -echo; printf R; exec cat\"]", true,
			  &tr) < 0 ||
	    pump_until(&b, &tracks[ki], has_bytes, 1, 5000) < 0) {
		fprintf(stderr, "latency: keystroke cat did not come up\n");
		return 1;
	}
	int kwarm = nk / 10 + 5;
	for (int i = -kwarm; i < nk; i++) {
		int64_t want = tracks[ki].bytes + 1;
		int64_t t0 = wsc_now_us();
		int64_t rid = bench_write(&b, kid, "x", 1);
		json_t *r = bench_wait_response(&b, rid, 5000, on_event, NULL);
		const char *st = json_string_value(json_object_get(json_object_get(r, "result"), "status"));
		if (!st || strcmp(st, "accepted")) {
			fprintf(stderr, "latency: keystroke write not accepted\n");
			return 1;
		}
		json_decref(r);
		if (pump_until(&b, &tracks[ki], has_bytes, want, 5000) < 0) {
			fprintf(stderr, "latency: keystroke %d: no echo\n", i);
			return 1;
		}
		if (i >= 0) {
			keys[i] = tracks[ki].t_last_out - t0;
			if (i % 4 == 0 && np < n + nk && (pings[np++] = ping(&b)) < 0)
				return 1;
		}
	}
	{
		char p[128];
		snprintf(p, sizeof(p), "{\"processId\":\"%s\"}", kid);
		int64_t rid = bench_send(&b, "process/terminate", p);
		json_decref(bench_wait_response(&b, rid, 5000, on_event, NULL));
		if (pump_until(&b, &tracks[ki], is_done, 0, 5000) < 0) {
			fprintf(stderr, "latency: keystroke cat did not close\n");
			return 1;
		}
	}

	struct stats fs = stats_of(floor, n), ps = stats_of(pings, np);
	struct stats s_resp = stats_of(resp, n), s_closed = stats_of(closed, n);
	struct stats s_rclosed = stats_of(rclosed, n), s_pout = stats_of(pout, n);
	struct stats s_pclosed = stats_of(pclosed, n), s_keys = stats_of(keys, nk);
	struct stats s_sresp = stats_of(sresp, n), s_sclosed = stats_of(sclosed, n);
	printf("latency: %s, %s, %d iterations after %d warm-up, %d keystrokes\n\n", b.url,
	       b.binary ? "binary output frames" : "JSON output", n, warmup, nk);
	print_head();
	print_row("floor: vfork+exec+wait /bin/true", fs, 0);
	print_row("floor: ws ping -> pong", ps, 0);
	print_row("start -> response (events)", s_resp, (double)fs.p50);
	print_row("start -> closed /bin/true (events)", s_closed, (double)fs.p50);
	print_row("start -> closed /bin/true (read)", s_rclosed, (double)fs.p50);
	print_row("sandboxed: start -> response", s_sresp, (double)fs.p50);
	print_row("sandboxed: start -> closed /bin/true", s_sclosed, (double)fs.p50);
	print_row("PTY echo hi: start -> first output", s_pout, (double)fs.p50);
	print_row("PTY echo hi: start -> closed", s_pclosed, (double)fs.p50);
	print_row("keystroke echo (raw PTY cat)", s_keys, (double)ps.p50);
	bench_kv("floor_vfork_p50_us", (double)fs.p50);
	bench_kv("floor_ping_p50_us", (double)ps.p50);
	bench_kv("start_response_events_p50_us", (double)s_resp.p50);
	bench_kv("start_closed_events_p50_us", (double)s_closed.p50);
	bench_kv("start_closed_events_p99_us", (double)s_closed.p99);
	bench_kv("start_closed_events_x_vfork", (double)s_closed.p50 / (double)fs.p50);
	bench_kv("start_closed_read_p50_us", (double)s_rclosed.p50);
	bench_kv("sandboxed_start_response_p50_us", (double)s_sresp.p50);
	bench_kv("sandboxed_start_closed_p50_us", (double)s_sclosed.p50);
	bench_kv("sandboxed_start_closed_p99_us", (double)s_sclosed.p99);
	bench_kv("sandboxed_start_closed_x_vfork", (double)s_sclosed.p50 / (double)fs.p50);
	bench_kv("pty_first_output_p50_us", (double)s_pout.p50);
	bench_kv("pty_closed_p50_us", (double)s_pclosed.p50);
	bench_kv("keystroke_p50_us", (double)s_keys.p50);
	bench_kv("keystroke_p99_us", (double)s_keys.p99);
	bench_kv("keystroke_x_ping", (double)s_keys.p50 / (double)ps.p50);
	bench_close(&b);
	return 0;
}
