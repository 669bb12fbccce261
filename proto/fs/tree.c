/* tree: fs/copy and fs/remove, jobs that change whole trees a slice at a
 * time (ops_tree.c) and answer once, with {} or the first error.
 * Must not: touch the file system outside a job's step.
 */
#include "fs_int.h"

#include <stdlib.h>

#include "params.h"

/* ---- fs/remove ---- */

struct fs_remove_job {
	struct fs_job job;
	char *path;
	struct fs_rm rm;
};

static int fs_remove_step(struct fs_job *j)
{
	return fs_rm_step(&container_of(j, struct fs_remove_job, job)->rm);
}

static void fs_remove_finish(struct fs_job *j)
{
	if (j->r < 0)
		fs_reply_os(&j->call, j->r);
	else
		fs_reply_empty(&j->call);
}

static void fs_remove_free(struct fs_job *j)
{
	struct fs_remove_job *q = container_of(j, struct fs_remove_job, job);
	fs_rm_free(&q->rm);
	free(q->path);
	free(q);
}

static const struct fs_job_ops fs_remove_ops = {
	fs_remove_step, NULL, fs_remove_finish, fs_remove_free,
};

void fs_remove(struct fs_call *k, const json_t *params)
{
	struct fs_err e;
	struct pd_err pe;
	struct fs_remove_job *q = calloc(1, sizeof(*q));
	if (!q)
		return fs_reply_oom(k);
	q->job.ops = &fs_remove_ops;
	q->rm.recursive = q->rm.force = true;
	if (fs_decode_object(params, "RemoveParams", &e) < 0 ||
	    ((pd_bool(params, "recursive", false, &q->rm.recursive, &pe) < 0 ||
	      pd_bool(params, "force", false, &q->rm.force, &pe) < 0) && fs_err_pd(&e, &pe)) ||
	    fs_decode_path(params, "path", true, &q->path, &e) < 0) {
		fs_reply_err(k, &e);
	} else if (fs_gate(k)) {
		q->rm.path = q->path;
		return fs_job_start(k, &q->job);
	}
	fs_remove_free(&q->job);
}

/* ---- fs/copy ---- */

struct fs_copy_job {
	struct fs_job job;
	char *src, *dst;
	struct fs_copy cp;
};

static int fs_copy_job_step(struct fs_job *j)
{
	return fs_copy_step(&container_of(j, struct fs_copy_job, job)->cp);
}

static void fs_copy_finish(struct fs_job *j)
{
	struct fs_call *k = &j->call;
	const char *refused = NULL;
	switch (j->r) {
	case FS_COPY_DIR_NEEDS_RECURSIVE:
		refused = "fs/copy requires recursive: true when sourcePath is a directory";
		break;
	case FS_COPY_INTO_ITSELF:
		refused = "fs/copy cannot copy a directory to itself or one of its descendants";
		break;
	case FS_COPY_UNSUPPORTED:
		refused = "fs/copy only supports regular files, directories, and symlinks";
		break;
	}
	if (refused)
		conn_reply_error(k->c, k->id, RPC_INVALID_REQUEST, "%s", refused);
	else if (j->r < 0)
		fs_reply_os(k, j->r);
	else
		fs_reply_empty(k);
}

static void fs_copy_free_job(struct fs_job *j)
{
	struct fs_copy_job *q = container_of(j, struct fs_copy_job, job);
	fs_copy_free(&q->cp);
	free(q->src);
	free(q->dst);
	free(q);
}

static const struct fs_job_ops fs_copy_ops = {
	fs_copy_job_step, NULL, fs_copy_finish, fs_copy_free_job,
};

void fs_copy(struct fs_call *k, const json_t *params)
{
	struct fs_err e;
	struct pd_err pe;
	struct fs_copy_job *q = calloc(1, sizeof(*q));
	if (!q)
		return fs_reply_oom(k);
	q->job.ops = &fs_copy_ops;
	if (fs_decode_object(params, "CopyParams", &e) < 0 ||
	    fs_decode_path(params, "sourcePath", true, &q->src, &e) < 0 ||
	    fs_decode_path(params, "destinationPath", true, &q->dst, &e) < 0 ||
	    (pd_bool(params, "recursive", true, &q->cp.recursive, &pe) < 0 && fs_err_pd(&e, &pe))) {
		fs_reply_err(k, &e);
	} else if (fs_gate(k)) {
		q->cp.src = q->src;
		q->cp.dst = q->dst;
		return fs_job_start(k, &q->job);
	}
	fs_copy_free_job(&q->job);
}
