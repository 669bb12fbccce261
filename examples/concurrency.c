/* concurrency: many processes on one connection.
 *
 * 1,000 /bin/true with 16 in flight (starts per second, and the server's
 * CPU time for them from /proc/PID/stat when its pid is known), then 256
 * `sleep 1` started at once (time until every one is closed, and the
 * server's RSS while they live).
 * Usage: concurrency URL|- [N_TRUE [N_SLEEP]]; "-" starts $RINGEXECD;
 * with a URL, $BENCH_SERVER_PID names the server for the /proc figures.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

static struct ptrack *tracks;
static bool *counted;
static long ntracks, base, ndone, nerrors;

static void on_event(void *arg, struct bev *e)
{
	(void)arg;
	if (e->kind == BEV_RESPONSE) {
		if (e->error) {
			char *t = json_dumps(e->msg, JSON_COMPACT);
			fprintf(stderr, "concurrency: error response: %s\n", t);
			free(t);
			nerrors++;
		}
		return;
	}
	if (e->kind != BEV_OUTPUT && e->kind != BEV_EXITED && e->kind != BEV_CLOSED)
		return;
	long i = bench_pid_index(e->pid);
	if (i < 0 || i >= ntracks)
		return;
	ptrack_add(&tracks[i], e, NULL);
	if (!counted[i] && ptrack_done(&tracks[i])) {
		counted[i] = true;
		ndone++;
	}
}

static int pump(struct bench *b, int timeout_ms)
{
	struct bev e;
	int r = bench_next(b, &e, timeout_ms);
	if (r <= 0)
		return -1;
	on_event(NULL, &e);
	bev_free(&e);
	return nerrors ? -1 : 0;
}

int main(int argc, char **argv)
{
	long n_true = argc > 2 ? atol(argv[2]) : 1000;
	long n_sleep = argc > 3 ? atol(argv[3]) : 256;
	const long inflight_max = 16;
	struct bench b;
	char id[32];

	if (argc < 2) {
		fprintf(stderr, "usage: concurrency URL|- [N_TRUE [N_SLEEP]]\n");
		return 2;
	}
	ntracks = n_true + n_sleep + 32;
	tracks = calloc((size_t)ntracks, sizeof(*tracks));
	counted = calloc((size_t)ntracks, sizeof(*counted));
	if (bench_open(&b, argv[1], "concurrency") < 0)
		return 1;
	pid_t sp = b.server_pid;
	long rss_idle = sp ? proc_rss_kb(sp) : -1;

	/* Phase 1: /bin/true, 16 in flight. A few first to warm up. */
	long warm = 16, started = 0;
	double hz = (double)sysconf(_SC_CLK_TCK);
	long cpu0 = -1;
	int64_t t0 = 0;
	base = 0;
	ndone = 0;
	while (ndone < n_true + warm) {
		if (ndone == warm && cpu0 < 0) {
			/* warm-up over (all 16 warm ones closed) */
			cpu0 = sp ? proc_cpu_ticks(sp) : -1;
			t0 = wsc_now_us();
			if (cpu0 < 0)
				cpu0 = 0;
		}
		while (started < n_true + warm && started - ndone < inflight_max &&
		       (started < warm || cpu0 >= 0)) {
			snprintf(id, sizeof(id), "c-%ld", started++);
			if (bench_start(&b, id, "[\"/bin/true\"]", false) < 0)
				return 1;
		}
		if (pump(&b, 10000) < 0) {
			fprintf(stderr, "concurrency: /bin/true phase stalled (%ld of %ld closed)\n", ndone,
				n_true + warm);
			return 1;
		}
	}
	int64_t t_true = wsc_now_us() - t0;
	long cpu1 = sp ? proc_cpu_ticks(sp) : -1;
	double starts_s = (double)n_true / ((double)t_true / 1e6);
	double cpu_ms_per_1000 = sp ? (double)(cpu1 - cpu0) / hz * 1000.0 * 1000.0 / (double)n_true : -1;

	/* Phase 2: n_sleep `sleep 1` at once. */
	long first = started;
	int64_t t1 = wsc_now_us();
	int64_t *rids = calloc((size_t)n_sleep, sizeof(*rids));
	for (long k = 0; k < n_sleep; k++) {
		snprintf(id, sizeof(id), "c-%ld", first + k);
		if ((rids[k] = bench_start(&b, id, "[\"sleep\",\"1\"]", false)) < 0)
			return 1;
	}
	long ndone0 = ndone;
	/* Every response, then the RSS while all of them live. */
	for (long k = 0; k < n_sleep; k++) {
		json_t *r = bench_wait_response(&b, rids[k], 20000, on_event, NULL);
		bool ok = r && json_object_get(r, "result");
		json_decref(r);
		if (!ok) {
			fprintf(stderr, "concurrency: sleep start %ld failed\n", k);
			return 1;
		}
	}
	int64_t t_all_started = wsc_now_us() - t1;
	long rss_live = sp ? proc_rss_kb(sp) : -1;
	while (ndone - ndone0 < n_sleep) {
		if (pump(&b, 20000) < 0) {
			fprintf(stderr, "concurrency: sleep phase stalled (%ld of %ld closed)\n",
				ndone - ndone0, n_sleep);
			return 1;
		}
	}
	int64_t t_sleep = wsc_now_us() - t1;

	printf("concurrency: %s\n\n", b.url);
	printf("| %-46s | %12s |\n", "figure", "value");
	printf("|------------------------------------------------|--------------|\n");
	printf("| %-46s | %12.0f |\n", "/bin/true, 16 in flight: starts/s", starts_s);
	char name[96];
	snprintf(name, sizeof(name), "%ld x /bin/true, 16 in flight: total ms", n_true);
	printf("| %-46s | %12.1f |\n", name, (double)t_true / 1e3);
	snprintf(name, sizeof(name), "%ld x sleep 1 at once: all started, ms", n_sleep);
	printf("| %-46s | %12.1f |\n", name, (double)t_all_started / 1e3);
	snprintf(name, sizeof(name), "%ld x sleep 1 at once: all closed, ms", n_sleep);
	printf("| %-46s | %12.1f |\n", name, (double)t_sleep / 1e3);
	if (sp) {
		printf("| %-46s | %12.1f |\n", "server CPU ms per 1,000 starts", cpu_ms_per_1000);
		printf("| %-46s | %12ld |\n", "server RSS KiB, connected idle", rss_idle);
		snprintf(name, sizeof(name), "server RSS KiB, %ld live processes", n_sleep);
		printf("| %-46s | %12ld |\n", name, rss_live);
	}
	bench_kv("true_starts_per_s", starts_s);
	bench_kv("sleep_all_closed_ms", (double)t_sleep / 1e3);
	bench_kv("sleep_all_started_ms", (double)t_all_started / 1e3);
	if (sp) {
		bench_kv("cpu_ms_per_1000_starts", cpu_ms_per_1000);
		bench_kv("rss_kb_connected_idle", (double)rss_idle);
		bench_kv("rss_kb_live", (double)rss_live);
	}
	bench_close(&b);
	return 0;
}
