/* job: fs work in slices (fs/walk, fs/copy, fs/remove, fs/readDirectory).
 *
 * A connection's jobs run one after another, in the order they came: the
 * first runs a slice (its execute step, confined like any other), its
 * encode takes what the slice produced, and the next slice comes on a
 * later loop turn (the connection's fileio task), so other clients and
 * this client's process requests are answered in between. A job that is
 * done in one slice answers in the turn it came, as a direct call would.
 * An fs request that comes while its connection has a job waits behind it
 * (and the connection is not read meanwhile), so one connection's fs
 * requests take effect in the order they were sent, as when each was
 * done at once.
 * Must not: touch the file system itself, or outlive its connection.
 */
#include "fs_int.h"

#include <stdlib.h>


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

/* ---- fs requests waiting behind a job ---- */

struct fs_deferred {
	struct fs_job job;		/* in the queue: link and id are used */
	fs_method *fn;
	json_t *params;			/* a reference */
};

static void fs_deferred_free(struct fs_job *j)
{
	struct fs_deferred *d = container_of(j, struct fs_deferred, job);
	json_decref(d->params);
	free(d);
}

static const struct fs_job_ops fs_deferred_ops = { .free = fs_deferred_free };

bool fs_jobs_defer(struct conn *c, const struct rpc_id *id, const json_t *params, fs_method *fn)
{
	struct fs_conn *fc = c->fs;
	if (!fc || fc->running || dlist_empty(&fc->jobs))
		return false;
	struct fs_deferred *d = calloc(1, sizeof(*d));
	if (!d || rpc_id_copy(&d->job.id, id) < 0) {
		free(d);
		conn_reply_error(c, id, RPC_INTERNAL_ERROR, "out of memory");
		return true;
	}
	d->job.ops = &fs_deferred_ops;
	d->fn = fn;
	d->params = json_incref((json_t *)params);
	dlist_add_tail(&fc->jobs, &d->job.link);
	fc->ndeferred++;
	return true;
}

/* Its turn: run it as if it came now (a job it starts goes first). */
static void fs_deferred_run(struct fs_conn *fc, struct fs_job *j)
{
	struct fs_deferred *d = container_of(j, struct fs_deferred, job);
	dlist_del(&j->link);
	fc->ndeferred--;
	fs_dispatch(fc->c, &j->id, d->params, d->fn);
	fs_job_free(j);
}

/* ---- the queue ---- */

/* Run fc's queue: waiting requests at its head now, and one slice of the
 * first job; the next slice on a later turn. */
static void fs_jobs_run(struct fs_conn *fc)
{
	bool sliced = false;
	fc->running = true;
	while (!dlist_empty(&fc->jobs)) {
		struct fs_job *j = container_of(fc->jobs.next, struct fs_job, link);
		if (j->ops == &fs_deferred_ops) {
			fs_deferred_run(fc, j);
			continue;
		}
		if (sliced)
			break;
		sliced = true;
		fs_job_slice(j);
	}
	fc->running = false;
	if (!dlist_empty(&fc->jobs))
		fc->c->pr->ops->task_next(fc->task);
	conn_check_recv(fc->c);
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
	if (fc->running) {
		/* From a waiting request the queue runs now: first in line. */
		dlist_add_tail(fc->jobs.next, &j->link);
		return;
	}
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
	fc->ndeferred = 0;
}

bool fs_conn_waiting(const struct conn *c)
{
	return c->fs && c->fs->ndeferred > 0;
}
