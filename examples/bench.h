/* bench: what the examples share. A thin event loop over one wsc connection
 * that classifies frames by scanning them (no JSON tree for notifications;
 * a binary output frame, PROTOCOL §5a, by its fixed header),
 * per-process trackers that tolerate notifications out of seq order,
 * percentile tables, and reading a server's RSS and CPU from /proc.
 */
#ifndef RINGEXEC_BENCH_H
#define RINGEXEC_BENCH_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "server.h"
#include "wsc.h"

struct bench {
	struct wsc *c;
	int64_t next_id;
	struct server srv;	/* when the example started $RINGEXECD itself */
	bool own;
	pid_t server_pid;	/* own server, $BENCH_SERVER_PID, or 0 */
	const char *url;
	bool binary;		/* output comes as binary frames (bench_open_mode) */
};

enum bev_kind { BEV_OUTPUT = 1, BEV_EXITED, BEV_CLOSED, BEV_RESPONSE, BEV_PONG, BEV_OTHER };

struct bev {
	enum bev_kind kind;
	char pid[64];		/* processId of a notification */
	int64_t seq;
	const char *chunk;	/* output: base64 text inside raw (not NUL-terminated) */
	size_t chunk_len;
	const uint8_t *data;	/* output from a binary frame: the bytes inside raw */
	size_t data_len;	/* (chunk is NULL then) */
	int64_t id;		/* response id */
	json_t *msg;		/* response: the whole message (parsed) */
	bool error;		/* response: has "error" */
	int64_t t_us;		/* when it was received */
	struct wsc_msg raw;
};

/* argv[1] is a URL or "-" (start $RINGEXECD); connects and does the handshake. */
int bench_open(struct bench *b, const char *arg, const char *name);
/* The same, asking for binary output frames when binary is set; a server that
 * does not grant them is an error. In binary mode bench_kv() names get "bin_". */
int bench_open_mode(struct bench *b, const char *arg, const char *name, bool binary);
/* $BENCH_BINARY is set and not "0": the examples that have a binary mode use it. */
bool bench_binary_wanted(void);
void bench_close(struct bench *b);

/* Send {"id":N,"method":M,"params":<params_json>}; N or -1. */
int64_t bench_send(struct bench *b, const char *method, const char *params_json);
/* process/start params; argv_json is a JSON array text. */
int64_t bench_start(struct bench *b, const char *pid, const char *argv_json, bool tty);
/* The same with a `sandbox` (JSON text, or NULL for none). */
int64_t bench_start_in(struct bench *b, const char *pid, const char *argv_json, bool tty,
		       const char *sandbox_json);
/* codex's `--sandbox workspace-write` policy for the workspace /tmp. */
extern const char bench_sandbox_workspace_write[];
/* process/write of raw bytes with a fresh writeId. */
int64_t bench_write(struct bench *b, const char *pid, const void *data, size_t len);
/* Next frame: 1 (*e filled; bev_free it), 0 timeout, -1 connection failed. */
int bench_next(struct bench *b, struct bev *e, int timeout_ms);
void bev_free(struct bev *e);
/* Wait for the response to id, handing every other event to on_event (may be NULL). */
json_t *bench_wait_response(struct bench *b, int64_t id, int timeout_ms,
			    void (*on_event)(void *arg, struct bev *e), void *arg);
/* WebSocket ping -> pong round trip in microseconds (other frames go to on_event). */
int64_t bench_ping(struct bench *b, void (*on_event)(void *arg, struct bev *e), void *arg);

/* A process's events, in whatever order they come. */
struct ptrack {
	int64_t seen;		/* events (output/exited/closed) counted */
	int64_t closed_seq;	/* 0 until closed */
	int64_t bytes;		/* decoded output bytes */
	int64_t t_first_out, t_last_out, t_closed;
	bool exited, nonzero;	/* nonzero: output held a non-NUL byte */
};
/* Count e into t; decode output into scratch (>= chunk_len) when non-NULL,
 * else just count. Output from a binary frame is never copied: with scratch
 * its bytes are checked in place (the nonzero flag), else just counted. */
void ptrack_add(struct ptrack *t, const struct bev *e, uint8_t *scratch);
static inline bool ptrack_done(const struct ptrack *t)
{
	return t->closed_seq > 0 && t->seen >= t->closed_seq;
}
/* Trailing number of a processId ("lat-17" -> 17), -1 if none. */
long bench_pid_index(const char *pid);

/* base64 -> bytes; returns the decoded length or -1 on a bad character. */
ssize_t bench_unb64(const char *s, size_t n, uint8_t *out);

struct stats {
	int64_t min, p50, p95, p99;
};
struct stats stats_of(int64_t *v, int n);
void print_head(void);
void print_row(const char *name, struct stats s, double floor_p50);

/* Figures for compare.sh: "name<TAB>value" appended to $BENCH_KV when set. */
void bench_kv(const char *name, double value);

/* /proc/PID/status VmRSS in KiB, and utime+stime in clock ticks; -1 on failure. */
long proc_rss_kb(pid_t pid);
long proc_cpu_ticks(pid_t pid);
/* vfork+execve+waitpid of /bin/true, microseconds. */
int64_t spawn_floor_once(void);

#endif
