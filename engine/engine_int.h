/* engine_int: the engine's fields, shared by engine.c, proc.c and fileio.c only. */
#ifndef RINGEXEC_ENGINE_INT_H
#define RINGEXEC_ENGINE_INT_H

#include <sys/signalfd.h>

#include "engine.h"
#include "loop.h"

struct fileio;
struct proc;

struct engine {
	struct loop *loop;		/* the ring everything runs on */
	struct engine_config cfg;	/* limits and the shutdown hook */
	struct loop_bufs *out_bufs;	/* provided buffers for output reads */
	int devnull;			/* /dev/null, stdin of pipe children */
	int sigfd;			/* signalfd: SIGCHLD, SIGTERM, SIGINT */
	struct loop_op sig_op;		/* the poll of sigfd */
	bool sig_inflight;		/* sig_op submitted */
	struct loop_timer orphan_timer;	/* a SIGCHLD came: scan for orphans soon */
	struct proc *procs;		/* live procs (spawned, not freed), a list */
	size_t nprocs;			/* its length */
	size_t retained;		/* sum of every proc's outlog bytes */
	bool starved;			/* some proc's reads wait for retained < max */
	struct loop_defer unstarve;	/* re-arms them once there is room */
	struct sandbox_set *sandboxes;	/* templates for sandboxed spawns */
	struct fileio *fileio;		/* the fs methods' reads, watches, tasks */
	size_t freed;			/* output bytes freed since the last trim */
	struct loop_timer trim;		/* gives freed heap back to the kernel */
	struct engine_stats stats;	/* counted by proc.c; engine_stats() reads */
};

/* proc.c: a proc's retained output of n bytes was freed. */
void engine_note_freed(struct engine *eng, size_t n);

/* proc.c: link/unlink a spawned proc into eng->procs; is pid a live child
 * that some proc will reap through its pidfd? */
void engine_link_proc(struct engine *eng, struct proc *p);
void engine_unlink_proc(struct engine *eng, struct proc *p);
bool engine_tracks_pid(const struct engine *eng, pid_t pid);
/* The retained total changed by delta; wake starved procs when under the cap. */
void engine_retained_add(struct engine *eng, long delta);
/* proc.c: the next proc of eng->procs after p, or NULL. */
const struct proc *proc_next(const struct proc *p);
/* proc.c: re-arm the reads of every proc that waits for room. */
void engine_unstarve_procs(struct engine *eng);

#endif
