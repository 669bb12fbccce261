/* engine: what all procs share: the loop, the read buffers, the limits, the
 * list of live children, and the signals (SIGCHLD for orphans that reparent
 * to us as child subreaper; SIGTERM/SIGINT for shutdown), read through a
 * signalfd on the ring; and the counters the metrics read (engine_stats).
 * Knows no JSON and no sockets.
 */
#ifndef RINGEXEC_ENGINE_H
#define RINGEXEC_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/types.h>

#include "hist.h"

struct loop;
struct engine;

struct engine_config {
	size_t retain_bytes;		/* outlog byte cap per proc (1 MiB) */
	size_t retain_chunks;		/* outlog chunk cap per proc (50,000) */
	size_t max_retained;		/* all procs' retained output together (256 MiB);
					   beyond it output reads pause */
	unsigned exit_drain_ms;		/* how long `exited` waits for streams (50) */
	/* Paths no sandboxed child may see (sandbox.h), NULL-terminated or NULL. */
	const char *const *sandbox_hide;
	/* Called on the loop when SIGTERM or SIGINT arrives. */
	void (*on_shutdown_signal)(void *ctx, int signo);
	void *ctx;
};

/* Block the signals the engine reads, start the signalfd read, allocate the
 * output buffers, become child subreaper. 0 or -errno. */
int engine_new(struct engine **out, struct loop *lp, const struct engine_config *cfg);
void engine_free(struct engine *eng);
struct loop *engine_loop(struct engine *eng);
/* SIGKILL every live proc's group (shutdown). */
void engine_kill_all(struct engine *eng, int sig);
/* Live procs (spawned, not yet freed). */
size_t engine_live_procs(const struct engine *eng);
/* Spawned children not yet reaped. */
size_t engine_unreaped(const struct engine *eng);
/* Bytes of output retained by all procs together. */
size_t engine_retained(const struct engine *eng);
/* Whether sandboxed spawns can be had (probed at engine_new); *why says
 * how, or why not. */
bool engine_sandbox_available(const struct engine *eng, const char **why);
/* Is this connecting peer (a unix pid, or a TCP socket's inode) inside one
 * of our sandboxes? Costs nothing without a sandboxed process that could
 * reach us; else a walk of those processes in /proc. */
bool engine_sandboxed_peer(struct engine *eng, pid_t pid, uint64_t inode);
/* The template cache (sandbox.h), for running fs work inside a policy. */
struct sandbox_set *engine_sandboxes(struct engine *eng);

/* What the engine counts for the metrics: plain increments on the loop. */
struct engine_stats {
	uint64_t spawns;		/* proc_spawn successes */
	uint64_t sandboxed_spawns;	/* of those, in a sandbox */
	uint64_t spawn_failures;	/* proc_spawn errors (exec, cwd, fds, sandbox) */
	uint64_t procs[4];		/* live procs by enum proc_state, now */
	uint64_t output_bytes[3];	/* bytes read by enum outlog_stream */
	uint64_t starved;		/* times a proc's reads paused at max_retained */
	size_t retained;		/* bytes of output retained now */
	struct hist spawn_latency;	/* proc_spawn to a running child, successes (a
					   sandboxed one's wait for its template included) */
	struct hist lifetime;		/* from proc_spawn to `closed` */
};

/* A copy of the counters, with the gauges as they are now. */
void engine_stats(const struct engine *eng, struct engine_stats *out);

#endif
