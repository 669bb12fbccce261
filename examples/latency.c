/* latency: how long ringexecd takes to run /bin/true for a client, next to
 * what the machine itself needs for the same work.
 *
 * Over one live connection it times process/start -> response and
 * process/start -> process/closed (events mode), and measures in the same
 * run the floor: vfork+execve+waitpid of /bin/true and a WebSocket
 * ping -> pong round trip. Prints min/p50/p95/p99 in microseconds and each
 * figure as a multiple of its floor. Usage: latency [URL] [N]; without a
 * URL it starts $RINGEXECD itself.
 */
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rpc.h"
#include "server.h"
#include "wsc.h"

extern char **environ;

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

struct stats {
	int64_t min, p50, p95, p99;
};

static struct stats stats_of(int64_t *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_i64);
	struct stats s = { v[0], v[n / 2], v[(n * 95) / 100], v[(n * 99) / 100] };
	return s;
}

static void print_row(const char *name, struct stats s, double floor_p50)
{
	printf("| %-34s | %7lld | %7lld | %7lld | %7lld |", name, (long long)s.min, (long long)s.p50,
	       (long long)s.p95, (long long)s.p99);
	if (floor_p50 > 0)
		printf(" %6.2fx |\n", (double)s.p50 / floor_p50);
	else
		printf("        |\n");
}

static int64_t spawn_floor_once(void)
{
	char *argv[] = { "/bin/true", NULL };
	int64_t t0 = wsc_now_us();
	pid_t pid = vfork();
	if (pid == 0) {
		execve("/bin/true", argv, environ);
		_exit(127);
	}
	int st;
	waitpid(pid, &st, 0);
	return wsc_now_us() - t0;
}

static int64_t ping_once(struct wsc *c)
{
	int64_t t0 = wsc_now_us();
	if (wsc_send_ping(c, "p", 1) < 0)
		return -1;
	for (;;) {
		struct wsc_msg m;
		if (wsc_recv(c, &m, 5000) < 0)
			return -1;
		enum wsc_kind k = m.kind;
		free(m.data);
		if (k == WSC_PONG)
			return wsc_now_us() - t0;
	}
}

/* One start of /bin/true: start->response and start->closed in microseconds. */
static int start_once(struct rpc *r, int i, int64_t *to_response, int64_t *to_closed)
{
	char id[32];
	snprintf(id, sizeof(id), "lat-%d", i);
	json_t *params = json_pack("{s:s,s:[s],s:s,s:{},s:b}", "processId", id, "argv", "/bin/true",
				   "cwd", "/", "env", "tty", 0);
	int64_t t0 = wsc_now_us();
	int64_t rid = rpc_send(r, "process/start", params);
	json_t *resp = rpc_wait_response(r, rid, 5000);
	*to_response = wsc_now_us() - t0;
	if (!resp || !json_object_get(resp, "result")) {
		char *txt = resp ? json_dumps(resp, JSON_COMPACT) : NULL;
		fprintf(stderr, "latency: process/start: %s\n", txt ? txt : "no response");
		free(txt);
		json_decref(resp);
		return -1;
	}
	json_decref(resp);
	json_t *closed = rpc_wait_notification(r, "process/closed", id, 5000);
	*to_closed = wsc_now_us() - t0;
	if (!closed) {
		fprintf(stderr, "latency: no process/closed for %s\n", id);
		return -1;
	}
	json_decref(closed);
	/* Drop this process's earlier notifications from the backlog. */
	json_t *n;
	while ((n = rpc_wait_notification(r, NULL, id, 0)))
		json_decref(n);
	return 0;
}

int main(int argc, char **argv)
{
	const char *url = argc > 1 && strcmp(argv[1], "-") ? argv[1] : NULL;
	int n = argc > 2 ? atoi(argv[2]) : 500;
	int warmup = n / 10 + 5;
	struct server srv;
	bool own = false;

	if (n < 10)
		n = 10;
	if (!url) {
		if (server_start(&srv, (const char *const[]){ "--session-ttl", "0", NULL }) < 0) {
			fprintf(stderr, "latency: cannot start $RINGEXECD\n");
			return 1;
		}
		url = srv.url;
		own = true;
	}
	struct rpc *r = rpc_open(url);
	if (!r) {
		fprintf(stderr, "latency: cannot connect to %s\n", url);
		return 1;
	}
	int64_t *resp = calloc((size_t)n, sizeof(int64_t)), *closed = calloc((size_t)n, sizeof(int64_t));
	int64_t *floor = calloc((size_t)n, sizeof(int64_t)), *ping = calloc((size_t)n, sizeof(int64_t));
	for (int i = 0; i < warmup; i++) {
		int64_t a, b;
		if (start_once(r, -1 - i, &a, &b) < 0) {
			fprintf(stderr, "latency: warm-up start failed\n");
			return 1;
		}
		spawn_floor_once();
		ping_once(rpc_wsc(r));
	}
	/* Interleave the measured series so machine noise hits all of them alike. */
	for (int i = 0; i < n; i++) {
		floor[i] = spawn_floor_once();
		if (start_once(r, i, &resp[i], &closed[i]) < 0) {
			fprintf(stderr, "latency: start %d failed\n", i);
			return 1;
		}
		ping[i] = ping_once(rpc_wsc(r));
	}
	struct stats fs = stats_of(floor, n), ps = stats_of(ping, n);
	printf("latency: %d iterations after %d warm-up, microseconds\n\n", n, warmup);
	printf("| %-34s | %7s | %7s | %7s | %7s | vs floor |\n", "figure", "min", "p50", "p95", "p99");
	printf("|------------------------------------|---------|---------|---------|---------|---------|\n");
	print_row("floor: vfork+exec+wait /bin/true", fs, 0);
	print_row("floor: ws ping -> pong", ps, 0);
	print_row("start -> response (events)", stats_of(resp, n), (double)fs.p50);
	print_row("start -> closed /bin/true (events)", stats_of(closed, n), (double)fs.p50);
	rpc_free(r);
	if (own)
		server_stop(&srv);
	free(resp);
	free(closed);
	free(floor);
	free(ping);
	return 0;
}
