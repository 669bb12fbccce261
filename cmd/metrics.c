/* metrics: GET /metrics in the Prometheus text format (see metrics.h).
 *
 * Every family has its HELP and TYPE lines; counters end in _total, units
 * are in the names (_seconds, _bytes), and labels carry only bounded sets
 * (a refusal reason, a session or process state, a stream, a JSON-RPC
 * code), every value of a set always present so that rate() sees zeros.
 * Called per scrape, on the loop: it copies the layers' stats and formats
 * them; it must not keep counters nor reach into a layer's internals.
 */
#include "metrics.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <time.h>

#include "buf.h"
#include "conn.h"
#include "engine.h"
#include "hist.h"
#include "outlog.h"
#include "proc.h"
#include "ringexec_version.h"
#include "ws.h"

/* Label values, indexed by each layer's enum. */
static const char *const metrics_refusals[] = {
	[WS_REFUSED_LIMIT] = "max_connections",
	[WS_REFUSED_ORIGIN] = "origin",
	[WS_REFUSED_TOKEN] = "token",
	[WS_REFUSED_PEER] = "peer_uid",
	[WS_REFUSED_SANDBOXED] = "sandboxed_peer",
	[WS_REFUSED_BAD_REQUEST] = "bad_request",
	[WS_REFUSED_HEAD_TIMEOUT] = "head_timeout",
};
_Static_assert(sizeof(metrics_refusals) / sizeof(metrics_refusals[0]) == WS_REFUSALS,
	       "a label for every refusal reason");

static const char *const metrics_states[] = {
	[PROC_STARTING] = "starting",
	[PROC_RUNNING] = "running",
	[PROC_EXITED] = "exited",
	[PROC_CLOSED] = "closed",
};

static const char *const metrics_streams[] = {
	[OUTLOG_STDOUT] = "stdout",
	[OUTLOG_STDERR] = "stderr",
	[OUTLOG_PTY] = "pty",
};

/* The body being written; after a failed allocation it only stays failed. */
struct mw {
	struct buf *b;
	bool failed;
};

static void mw_printf(struct mw *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void mw_printf(struct mw *w, const char *fmt, ...)
{
	size_t want = 256;
	for (int attempt = 0; attempt < 2 && !w->failed; attempt++) {
		if (buf_reserve(w->b, want) < 0) {
			w->failed = true;
			return;
		}
		size_t room = w->b->cap - w->b->len;
		va_list ap;
		va_start(ap, fmt);
		int n = vsnprintf(buf_tail(w->b), room, fmt, ap);
		va_end(ap);
		if (n < 0) {
			w->failed = true;
			return;
		}
		if ((size_t)n < room) {
			w->b->len += (size_t)n;
			return;
		}
		want = (size_t)n + 1;
	}
}

static void mw_family(struct mw *w, const char *name, const char *type, const char *help)
{
	mw_printf(w, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A family of one unlabelled sample. */
static void mw_one(struct mw *w, const char *name, const char *type, const char *help,
		   uint64_t v)
{
	mw_family(w, name, type, help);
	mw_printf(w, "%s %" PRIu64 "\n", name, v);
}

/* A family with one sample per label value: values[i] for names[i]. */
static void mw_labelled(struct mw *w, const char *name, const char *type, const char *help,
			const char *label, const char *const *names, const uint64_t *values,
			size_t n)
{
	mw_family(w, name, type, help);
	for (size_t i = 0; i < n; i++)
		mw_printf(w, "%s{%s=\"%s\"} %" PRIu64 "\n", name, label, names[i], values[i]);
}

static void mw_hist(struct mw *w, const char *name, const char *help, const struct hist *h)
{
	mw_family(w, name, "histogram", help);
	for (size_t i = 0; i < HIST_BUCKETS; i++)
		mw_printf(w, "%s_bucket{le=\"%g\"} %" PRIu64 "\n", name,
			  (double)hist_bound_ns(i) / 1e9, hist_cumulative(h, i));
	mw_printf(w, "%s_bucket{le=\"+Inf\"} %" PRIu64 "\n", name, hist_cumulative(h, HIST_BUCKETS));
	mw_printf(w, "%s_sum %.9f\n", name, (double)h->sum_ns / 1e9);
	mw_printf(w, "%s_count %" PRIu64 "\n", name, h->count);
}

static uint64_t metrics_clock_ns(clockid_t clk)
{
	struct timespec ts;
	clock_gettime(clk, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void metrics_init(struct metrics *m, struct engine *eng, struct proto *proto)
{
	m->eng = eng;
	m->proto = proto;
	m->start_mono_ns = metrics_clock_ns(CLOCK_MONOTONIC);
	m->start_real_ns = metrics_clock_ns(CLOCK_REALTIME);
}

static void metrics_server(struct mw *w, const struct metrics *m)
{
	mw_family(w, "ringexecd_build_info", "gauge", "The running ringexecd's version, as a label.");
	mw_printf(w, "ringexecd_build_info{version=\"%s\"} 1\n", RINGEXEC_VERSION);
	mw_family(w, "ringexecd_start_time_seconds", "gauge",
		  "When ringexecd started, in seconds since the Unix epoch.");
	mw_printf(w, "ringexecd_start_time_seconds %.3f\n", (double)m->start_real_ns / 1e9);
	mw_family(w, "ringexecd_uptime_seconds", "gauge", "Seconds since ringexecd started.");
	mw_printf(w, "ringexecd_uptime_seconds %.3f\n",
		  (double)(metrics_clock_ns(CLOCK_MONOTONIC) - m->start_mono_ns) / 1e9);
}

static void metrics_transport(struct mw *w)
{
	struct ws_stats t;
	ws_stats(&t);
	mw_one(w, "ringexecd_connections_open", "gauge",
	       "Live connections (upgraded or not), this scrape's included.", t.open);
	mw_one(w, "ringexecd_connections_accepted_total", "counter",
	       "Connections accepted on the listeners.", t.accepted);
	mw_labelled(w, "ringexecd_connections_refused_total", "counter",
		    "Requests answered with an HTTP error instead of being served, by reason.",
		    "reason", metrics_refusals, t.refused, WS_REFUSALS);
	mw_one(w, "ringexecd_websocket_upgrades_total", "counter",
	       "WebSocket upgrades (HTTP 101).", t.upgrades);
	mw_one(w, "ringexecd_received_bytes_total", "counter",
	       "Bytes read from client sockets (HTTP and WebSocket frames).", t.received_bytes);
	mw_one(w, "ringexecd_sent_bytes_total", "counter",
	       "Bytes written to client sockets (HTTP and WebSocket frames).", t.sent_bytes);
}

static void metrics_protocol(struct mw *w, const struct proto_stats *p)
{
	static const char *const session_states[] = { "attached", "detached" };
	uint64_t sessions[] = { p->sessions_attached, p->sessions_detached };
	mw_labelled(w, "ringexecd_sessions", "gauge",
		    "Sessions, attached to a connection or detached and waiting out --session-ttl.",
		    "state", session_states, sessions, 2);
	mw_one(w, "ringexecd_sessions_created_total", "counter", "Sessions created by initialize.",
	       p->sessions_created);
	mw_one(w, "ringexecd_sessions_resumed_total", "counter",
	       "Detached sessions taken over by initialize with resumeSessionId.",
	       p->sessions_resumed);
	mw_one(w, "ringexecd_sessions_expired_total", "counter",
	       "Detached sessions whose --session-ttl ran out (their processes killed).",
	       p->sessions_expired);
	mw_one(w, "ringexecd_requests_total", "counter", "JSON-RPC requests dispatched.",
	       p->requests);
	mw_family(w, "ringexecd_protocol_errors_total", "counter",
		  "JSON-RPC error replies, by error code.");
	for (size_t i = 0; i < PROTO_ERROR_KINDS; i++) {
		int code = proto_error_code(i);
		if (code)
			mw_printf(w, "ringexecd_protocol_errors_total{code=\"%d\"} %" PRIu64 "\n",
				  code, p->errors[i]);
		else
			mw_printf(w, "ringexecd_protocol_errors_total{code=\"other\"} %" PRIu64 "\n",
				  p->errors[i]);
	}
}

static void metrics_processes(struct mw *w, const struct engine_stats *e, bool sandbox)
{
	mw_labelled(w, "ringexecd_processes", "gauge",
		    "Processes by state; closed ones count until their entry is dropped "
		    "(--retain-ms).", "state", metrics_states, e->procs, 4);
	mw_one(w, "ringexecd_spawns_total", "counter", "Processes spawned.", e->spawns);
	mw_one(w, "ringexecd_sandboxed_spawns_total", "counter",
	       "Processes spawned in a sandbox (also in ringexecd_spawns_total).",
	       e->sandboxed_spawns);
	mw_one(w, "ringexecd_spawn_failures_total", "counter",
	       "Spawns that failed (no such program, bad cwd, a sandbox that cannot be built).",
	       e->spawn_failures);
	mw_one(w, "ringexecd_sandbox_available", "gauge",
	       "1 when sandboxed starts can be served here, else 0.", sandbox);
	mw_hist(w, "ringexecd_spawn_duration_seconds",
		"Seconds from a spawn's request to its child running (a sandboxed one's wait "
		"for its template included), successful spawns.",
		&e->spawn_latency);
	mw_hist(w, "ringexecd_process_lifetime_seconds",
		"Seconds from a process's spawn request to its closed event (exit known, "
		"output read).",
		&e->lifetime);
}

static void metrics_output(struct mw *w, const struct engine_stats *e, const struct proto_stats *p)
{
	static const char *const reasons[] = { "send_queue", "detached", "max_retained", "requests" };
	uint64_t pauses[] = { p->pauses_send_queue, p->pauses_detached, e->starved,
			      p->request_pauses };
	mw_labelled(w, "ringexecd_output_bytes_total", "counter",
		    "Bytes read from processes' output, by stream.", "stream", metrics_streams,
		    e->output_bytes, 3);
	mw_one(w, "ringexecd_output_messages_total", "counter",
	       "process/output notifications queued to clients.", p->output_messages);
	mw_labelled(w, "ringexecd_backpressure_pauses_total", "counter",
		    "Times reads paused for back-pressure: a process's output for a full send "
		    "queue, for a detached session's full retention or for --max-retained; a "
		    "connection's requests for its own replies piling up.",
		    "reason", reasons, pauses, 4);
	mw_one(w, "ringexecd_retained_bytes", "gauge",
	       "Bytes of process output retained for process/read, all processes together.",
	       e->retained);
}

int metrics_write(void *ctx, struct buf *out)
{
	const struct metrics *m = ctx;
	struct mw w = { .b = out };
	struct engine_stats e;
	struct proto_stats p;
	engine_stats(m->eng, &e);
	proto_stats(m->proto, &p);
	metrics_server(&w, m);
	metrics_transport(&w);
	metrics_protocol(&w, &p);
	metrics_processes(&w, &e, engine_sandbox_available(m->eng, NULL));
	metrics_output(&w, &e, &p);
	return w.failed ? -ENOMEM : 0;
}
