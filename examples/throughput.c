/* throughput: bulk output delivered to a client, in payload MB/s.
 *
 * A pipe process writes 256 MiB of zeros and a PTY process 32 MiB; the
 * client decodes every chunk (a scan of the frame, no JSON tree), checks
 * the byte count and the bytes exactly, and reports its own CPU share
 * (getrusage) beside each rate. With BENCH_BINARY=1 it asks for binary
 * output frames (PROTOCOL §5a) and checks the bytes where they landed, with
 * no base64 and no copy: what the bare loop does. Floors in the same run: a
 * bare read(2) loop on a pipe and on a PTY master fed by the same writer.
 * Usage: [BENCH_BINARY=1] throughput URL|- [PIPE_MiB [PTY_MiB]]; "-" starts
 * $RINGEXECD.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

#define MiB (1024.0 * 1024.0)

static struct ptrack track;
static char track_id[32];
static uint8_t scratch[1 << 20];

static void on_event(void *arg, struct bev *e)
{
	(void)arg;
	if ((e->kind == BEV_OUTPUT || e->kind == BEV_EXITED || e->kind == BEV_CLOSED) &&
	    !strcmp(e->pid, track_id)) {
		if (e->kind == BEV_OUTPUT && e->chunk_len / 4 * 3 > sizeof(scratch)) {
			fprintf(stderr, "throughput: chunk of %zu base64 bytes too large\n", e->chunk_len);
			exit(1);
		}
		ptrack_add(&track, e, scratch);
	}
}

static double cpu_s(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

struct result {
	double mbps, client_cpu;	/* client_cpu: share of one core over the wall time */
	double chunk_kib;		/* mean payload per process/output (server runs) */
};

/* One bulk run through the server; 0 or -1 (wrong count, bad bytes, missing event). */
static int run_server(struct bench *b, const char *id, bool tty, long bytes, struct result *res)
{
	char argv[128];
	static int runs;

	snprintf(track_id, sizeof(track_id), "%s-%d", id, runs++);
	memset(&track, 0, sizeof(track));
	snprintf(argv, sizeof(argv), "[\"head\",\"-c\",\"%ld\",\"/dev/zero\"]", bytes);
	double c0 = cpu_s();
	int64_t t0 = wsc_now_us();
	int64_t rid = bench_start(b, track_id, argv, tty);
	json_t *r = bench_wait_response(b, rid, 10000, on_event, NULL);
	bool ok = r && json_object_get(r, "result");
	json_decref(r);
	if (!ok)
		return -1;
	int64_t deadline = wsc_now_ms() + 120000;
	while (!ptrack_done(&track)) {
		struct bev e;
		int64_t left = deadline - wsc_now_ms();
		if (left <= 0 || bench_next(b, &e, (int)left) <= 0) {
			fprintf(stderr, "throughput: %s: no process/closed (%lld bytes so far)\n",
				track_id, (long long)track.bytes);
			return -1;
		}
		on_event(NULL, &e);
		bev_free(&e);
	}
	double wall = (double)(track.t_closed - t0) / 1e6;
	double cpu = cpu_s() - c0;
	if (track.bytes != bytes || track.nonzero) {
		fprintf(stderr, "throughput: %s: got %lld bytes (want %ld)%s\n", track_id,
			(long long)track.bytes, bytes, track.nonzero ? ", not all zero" : "");
		return -1;
	}
	res->mbps = (double)bytes / 1e6 / wall;
	res->client_cpu = cpu / wall;
	/* seen counts exited and closed besides the output chunks. */
	res->chunk_kib = track.seen > 2 ? (double)bytes / 1024.0 / (double)(track.seen - 2) : 0;
	return 0;
}

/* The same writer into a pipe or a PTY, read by a bare read(2) loop. */
static int run_floor(bool tty, long bytes, struct result *res)
{
	char count[32];
	int rfd, wfd, fds[2];
	static char buf[1 << 16];

	snprintf(count, sizeof(count), "%ld", bytes);
	if (tty) {
		rfd = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
		if (rfd < 0 || grantpt(rfd) < 0 || unlockpt(rfd) < 0)
			return -1;
		wfd = open(ptsname(rfd), O_RDWR | O_NOCTTY | O_CLOEXEC);
	} else {
		if (pipe2(fds, O_CLOEXEC) < 0)
			return -1;
		rfd = fds[0];
		wfd = fds[1];
	}
	if (wfd < 0)
		return -1;
	double c0 = cpu_s();
	int64_t t0 = wsc_now_us();
	pid_t pid = fork();
	if (pid == 0) {
		setsid();
		dup2(wfd, 1);
		execlp("head", "head", "-c", count, "/dev/zero", (char *)NULL);
		_exit(127);
	}
	close(wfd);
	long got = 0;
	bool nonzero = false;
	for (;;) {
		ssize_t n = read(rfd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)	/* EOF on a pipe, EIO on a PTY master once the slave is gone */
			break;
		uint8_t acc = 0;
		for (ssize_t i = 0; i < n; i++)
			acc |= (uint8_t)buf[i];
		nonzero |= acc != 0;
		got += n;
	}
	int st;
	waitpid(pid, &st, 0);
	double wall = (double)(wsc_now_us() - t0) / 1e6;
	close(rfd);
	if (got != bytes || nonzero) {
		fprintf(stderr, "throughput: %s floor read %ld bytes (want %ld)\n", tty ? "PTY" : "pipe",
			got, bytes);
		return -1;
	}
	res->mbps = (double)bytes / 1e6 / wall;
	res->client_cpu = (cpu_s() - c0) / wall;
	return 0;
}

static void row(const char *name, long bytes, struct result r, double floor_mbps)
{
	printf("| %-34s | %8.1f | %9.1f | %11.0f%% |", name, bytes / MiB, r.mbps, r.client_cpu * 100);
	if (floor_mbps > 0)
		printf(" %7.0f%% | %9.1f |\n", r.mbps / floor_mbps * 100, r.chunk_kib);
	else
		printf("  (floor) |         - |\n");
}

int main(int argc, char **argv)
{
	long pipe_bytes = (long)((argc > 2 ? atof(argv[2]) : 256) * MiB);
	long pty_bytes = (long)((argc > 3 ? atof(argv[3]) : 32) * MiB);
	struct bench b;
	struct result sp, st, fp, ft, warm;

	if (argc < 2) {
		fprintf(stderr, "usage: [BENCH_BINARY=1] throughput URL|- [PIPE_MiB [PTY_MiB]]\n");
		return 2;
	}
	if (bench_open_mode(&b, argv[1], "throughput", bench_binary_wanted()) < 0)
		return 1;
	/* Warm-up: a small run of each kind. */
	if (run_server(&b, "warm", false, 1 << 20, &warm) < 0 ||
	    run_server(&b, "warm", true, 1 << 20, &warm) < 0)
		return 1;
	if (run_floor(false, pipe_bytes, &fp) < 0 || run_server(&b, "pipe", false, pipe_bytes, &sp) < 0 ||
	    run_floor(true, pty_bytes, &ft) < 0 || run_server(&b, "pty", true, pty_bytes, &st) < 0)
		return 1;
	printf("throughput: %s, %s, payload MB/s (10^6 bytes), every byte counted and checked\n\n",
	       b.url, b.binary ? "binary output frames" : "JSON output (base64)");
	printf("| %-34s | %8s | %9s | %12s | vs floor | KiB/chunk |\n", "figure", "MiB", "MB/s",
	       "client CPU");
	printf("|------------------------------------|----------|-----------|--------------|----------|-----------|\n");
	row("floor: read(2) loop on a pipe", pipe_bytes, fp, 0);
	row("pipe bulk via server", pipe_bytes, sp, fp.mbps);
	row("floor: read(2) loop on a PTY", pty_bytes, ft, 0);
	row("PTY bulk via server", pty_bytes, st, ft.mbps);
	bench_kv("floor_pipe_MBps", fp.mbps);
	bench_kv("pipe_MBps", sp.mbps);
	bench_kv("pipe_client_cpu_pct", sp.client_cpu * 100);
	bench_kv("pipe_chunk_KiB", sp.chunk_kib);
	bench_kv("pipe_pct_of_floor", sp.mbps / fp.mbps * 100);
	bench_kv("floor_pty_MBps", ft.mbps);
	bench_kv("pty_MBps", st.mbps);
	bench_kv("pty_client_cpu_pct", st.client_cpu * 100);
	bench_kv("pty_pct_of_floor", st.mbps / ft.mbps * 100);
	bench_close(&b);
	return 0;
}
