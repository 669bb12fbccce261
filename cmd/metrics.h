/* metrics: the body of GET /metrics, in the Prometheus text exposition
 * format (version 0.0.4).
 *
 * Reads what each layer counts (engine_stats, proto_stats, ws_stats) and
 * writes it as ringexecd_* families with HELP and TYPE lines. Wiring, so it
 * lives in cmd/: it owns the metric names, help texts and label values, and
 * counts nothing itself (it only remembers when the server started).
 */
#ifndef RINGEXEC_METRICS_H
#define RINGEXEC_METRICS_H

#include <stdint.h>

struct buf;
struct engine;
struct proto;

struct metrics {
	struct engine *eng;
	struct proto *proto;
	uint64_t start_mono_ns;		/* CLOCK_MONOTONIC at metrics_init */
	uint64_t start_real_ns;		/* CLOCK_REALTIME then */
};

/* Remember the layers to read and the start time. */
void metrics_init(struct metrics *m, struct engine *eng, struct proto *proto);
/* Append the whole exposition to out (ctx is a struct metrics): the
 * ws_config.metrics callback. 0 or -ENOMEM. */
int metrics_write(void *ctx, struct buf *out);

#endif
