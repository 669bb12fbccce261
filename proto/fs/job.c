/* job: fs work in slices (fs/walk, fs/copy, fs/remove, fs/readDirectory).
 *
 * A connection's jobs run one after another, in the order they came: the
 * first runs a slice (its execute step, confined like any other), its
 * encode takes what the slice produced, and the next slice comes on a
 * later loop turn (the connection's fileio task), so other clients and
 * this client's other requests are answered in between. A job that is
 * done in one slice answers in the turn it came, as a direct call would.
 * Must not: touch the file system itself, or outlive its connection.
 */
#include "fs_int.h"

#include <stdlib.h>

#include "fileio.h"

static void fs_job_free(struct fs_job *j)
{
	rpc_id_free(&j->id);
	sbpolicy_free(&j->sp);
	j->ops->free(j);
}

/* fs_run's fn: the method's step. */
static int fs_job_execute(void *arg)
{
	struct fs_job *j = arg;
	j->r = j->ops->step(j);
	return 0;
}

/* One slice of j (the connection's first job). True when j is over:
 * answered, unlinked and freed. */
static bool fs_job_slice(struct fs_job *j)
{
	bool ran = fs_run(&j->call, fs_job_execute, j) == 0;
	if (ran && j->ops->encode)
		j->ops->encode(j);
	if (ran && j->r > 0)
		return false;
	dlist_del(&j->link);
	if (ran)
		j->ops->finish(j);
	fs_job_free(j);
	return true;
}

/* Run slices of fc's first job: one now, the next on a later turn. */
static void fs_jobs_run(struct fs_conn *fc)
{
	if (dlist_empty(&fc->jobs))
		return;
	fs_job_slice(container_of(fc->jobs.next, struct fs_job, link));
	if (!dlist_empty(&fc->jobs))
		fileio_task_next(fc->task);
}

void fs_jobs_tick(void *ctx)
{
	fs_jobs_run(ctx);
}

void fs_job_start(struct fs_call *k, struct fs_job *j)
{
	struct fs_conn *fc = fs_conn_of(k->c);
	if (!fc || rpc_id_copy(&j->id, k->id) < 0) {
		fs_reply_oom(k);
		j->ops->free(j);
		return;
	}
	j->call.c = k->c;
	j->call.id = &j->id;
	if (fs_policy_take(k, &j->sp))
		j->call.sp = &j->sp;
	bool idle = dlist_empty(&fc->jobs);
	dlist_add_tail(&fc->jobs, &j->link);
	if (idle)
		fs_jobs_run(fc);
}

void fs_jobs_free(struct fs_conn *fc)
{
	while (!dlist_empty(&fc->jobs)) {
		struct fs_job *j = container_of(fc->jobs.next, struct fs_job, link);
		dlist_del(&j->link);
		fs_job_free(j);
	}
}
