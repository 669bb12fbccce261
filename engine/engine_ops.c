/* engine_ops: engine_ring_ops, the engine table (engine_ops.h) that runs on the ring.
 *
 * Each entry is the proc.h or engine.h function of the same promise; only
 * the timers and the sandbox need a line of glue, to find the engine's
 * loop and template cache. Owns nothing
 * and must not grow logic of its own: what a process does is proc.c's.
 */
#include "engine_ops.h"

#include "engine.h"
#include "loop.h"
#include "sandbox.h"

static void ops_timer_arm(struct engine *eng, struct loop_timer *t, uint64_t ms)
{
	loop_timer_arm(engine_loop(eng), t, ms);
}

static void ops_timer_cancel(struct engine *eng, struct loop_timer *t)
{
	loop_timer_cancel(engine_loop(eng), t);
}

static int ops_sandbox_get(struct engine *eng, const struct sandbox_policy *policy,
			   struct sandbox **out)
{
	return sandbox_get(engine_sandboxes(eng), policy, out);
}

static int ops_sandbox_run(struct engine *eng, struct sandbox *sb, int (*fn)(void *arg), void *arg)
{
	return sandbox_run(engine_sandboxes(eng), sb, fn, arg);
}

const struct engine_ops engine_ring_ops = {
	.proc_new = proc_new,
	.start = proc_spawn,
	.release = proc_release,
	.write = proc_write,
	.stdin_full = proc_stdin_full,
	.signal = proc_signal,
	.resize = proc_resize,
	.resume_output = proc_resume_output,
	.set_delivered = proc_set_delivered,
	.state = proc_state,
	.pid = proc_pid,
	.is_tty = proc_is_tty,
	.sandboxed = proc_sandboxed,
	.exit_event = proc_exit_event,
	.next_seq = proc_next_seq,
	.log = proc_log,
	.sandbox_available = engine_sandbox_available,
	.timer_arm = ops_timer_arm,
	.timer_cancel = ops_timer_cancel,
	.read_start = fileio_read_start,
	.read_cancel = fileio_read_cancel,
	.watch_new = fileio_watch_new,
	.watch_dir = fileio_watch_dir,
	.watch_start = fileio_watch_start,
	.watch_drop = fileio_watch_drop,
	.task_new = fileio_task_new,
	.task_next = fileio_task_next,
	.task_free = fileio_task_free,
	.sandbox_get = ops_sandbox_get,
	.sandbox_run = ops_sandbox_run,
};
