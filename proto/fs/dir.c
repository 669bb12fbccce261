/* dir: fs/readDirectory and fs/walk, jobs whose reply grows a slice at a
 * time: each slice's entries (ops_tree.c, ops_walk.c) are encoded into the
 * job's own reply buffer as they come, and the reply is sent whole at the
 * end (or replaced by an error: -errno of the first open, or out of memory).
 * Must not: touch the file system outside a job's step, or write the
 * reply into the shared scratch buffer before the end (other requests
 * use it between two slices).
 */
#include "fs_int.h"

#include <stdio.h>
#include <stdlib.h>

#include "envinfo.h"
#include "params.h"

/* A reply built across slices in the job's own buffer. */
struct fs_out {
	struct buf b;
	struct jw w;
	bool begun;
};

/* Begin the result object with `"entries":[` (once). */
static void fs_out_begin(struct fs_out *o, const struct rpc_id *id)
{
	if (o->begun)
		return;
	o->begun = true;
	jw_init(&o->w, &o->b);
	rpc_result_begin(&o->w, id);
	jw_obj_open(&o->w);
	jw_key(&o->w, "entries");
	jw_arr_open(&o->w);
}

/* Send the finished result (after rpc_result_end), or out of memory. */
static void fs_out_send(struct fs_out *o, struct fs_call *k)
{
	rpc_result_end(&o->w);
	if (!jw_ok(&o->w))
		fs_reply_oom(k);
	else
		conn_send_buf(k->c, &o->b);
}

/* ---- fs/readDirectory ---- */

struct fs_readdir_job {
	struct fs_job job;
	char *path;
	struct fs_list list;
	struct fs_out out;
};

static int fs_readdir_step(struct fs_job *j)
{
	return fs_list_step(&container_of(j, struct fs_readdir_job, job)->list);
}

static void fs_readdir_encode(struct fs_job *j)
{
	struct fs_readdir_job *q = container_of(j, struct fs_readdir_job, job);
	if (j->r < 0 || q->list.nomem)
		return;
	fs_out_begin(&q->out, j->call.id);
	struct jw *w = &q->out.w;
	for (size_t i = 0; i < q->list.n; i++) {
		const struct fs_list_entry *ent = &q->list.batch[i];
		jw_obj_open(w);
		jw_key(w, "fileName");
		jw_cstr(w, ent->name);
		jw_key(w, "isDirectory");
		jw_bool(w, ent->is_dir);
		jw_key(w, "isFile");
		jw_bool(w, ent->is_file);
		jw_obj_close(w);
	}
}

static void fs_readdir_finish(struct fs_job *j)
{
	struct fs_readdir_job *q = container_of(j, struct fs_readdir_job, job);
	if (j->r < 0)
		return fs_reply_os(&j->call, j->r);
	if (q->list.nomem)
		return fs_reply_oom(&j->call);
	jw_arr_close(&q->out.w);
	jw_obj_close(&q->out.w);
	fs_out_send(&q->out, &j->call);
}

static void fs_readdir_free(struct fs_job *j)
{
	struct fs_readdir_job *q = container_of(j, struct fs_readdir_job, job);
	fs_list_free(&q->list);
	buf_free(&q->out.b);
	free(q->path);
	free(q);
}

static const struct fs_job_ops fs_readdir_ops = {
	fs_readdir_step, fs_readdir_encode, fs_readdir_finish, fs_readdir_free,
};

void fs_read_directory(struct fs_call *k, const json_t *params)
{
	struct fs_err e;
	struct fs_readdir_job *q = calloc(1, sizeof(*q));
	if (!q)
		return fs_reply_oom(k);
	q->job.ops = &fs_readdir_ops;
	if (fs_decode_object(params, "ReadDirectoryParams", &e) < 0 ||
	    fs_decode_path(params, "path", true, &q->path, &e) < 0)
		fs_reply_err(k, &e);
	else if (fs_gate(k)) {
		q->list.path = q->path;
		return fs_job_start(k, &q->job);
	}
	fs_readdir_free(&q->job);
}

/* ---- fs/walk ---- */

struct fs_walk_job {
	struct fs_job job;
	char *root;
	struct fs_walk walk;
	struct fs_out out;
};

static int fs_walk_job_step(struct fs_job *j)
{
	return fs_walk_step(&container_of(j, struct fs_walk_job, job)->walk);
}

static void fs_walk_encode(struct fs_job *j)
{
	struct fs_walk_job *q = container_of(j, struct fs_walk_job, job);
	if (j->r < 0 || q->walk.nomem)
		return;
	fs_out_begin(&q->out, j->call.id);
	struct jw *w = &q->out.w;
	for (size_t i = 0; i < q->walk.n; i++) {
		struct fs_walk_entry *ent = &q->walk.batch[i];
		jw_obj_open(w);
		jw_key(w, "path");
		envinfo_write_file_uri(w, ent->path);
		jw_key(w, "kind");
		jw_cstr(w, ent->is_dir ? "directory" : "file");
		jw_obj_close(w);
	}
}

/* `errors`: one "PATH: TEXT (os error N)" (cut to 199 bytes) per directory
 * that could not be read; a text that is not UTF-8 is left out. */
static void fs_walk_encode_errors(struct jw *w, const struct fs_walk *walk)
{
	json_t *errs = json_array();
	for (size_t i = 0; errs && i < walk->nerrors; i++) {
		char m[200];
		int err = walk->errors[i].err;
		snprintf(m, sizeof(m), "%s: %s (os error %d)", walk->errors[i].path, fs_strerror(err),
			 err);
		json_array_append_new(errs, json_string(m));
	}
	if (errs) {
		jw_json(w, errs);
	} else {
		jw_arr_open(w);
		jw_arr_close(w);
	}
	json_decref(errs);
}

static void fs_walk_finish(struct fs_job *j)
{
	struct fs_walk_job *q = container_of(j, struct fs_walk_job, job);
	if (j->r < 0)
		return fs_reply_os(&j->call, j->r);
	if (q->walk.nomem)
		return fs_reply_oom(&j->call);
	struct jw *w = &q->out.w;
	jw_arr_close(w);
	jw_key(w, "errors");
	fs_walk_encode_errors(w, &q->walk);
	jw_key(w, "truncated");
	jw_bool(w, q->walk.truncated);
	jw_obj_close(w);
	fs_out_send(&q->out, &j->call);
}

static void fs_walk_free_job(struct fs_job *j)
{
	struct fs_walk_job *q = container_of(j, struct fs_walk_job, job);
	fs_walk_free(&q->walk);
	buf_free(&q->out.b);
	free(q->root);
	free(q);
}

static const struct fs_job_ops fs_walk_ops = {
	fs_walk_job_step, fs_walk_encode, fs_walk_finish, fs_walk_free_job,
};

/* WalkParams: the path is decoded before `options` is looked at. */
static int fs_walk_decode(const json_t *params, struct fs_walk_job *q, struct fs_err *e)
{
	struct pd_err pe;
	struct fs_walk *w = &q->walk;
	if (fs_decode_object(params, "WalkParams", e) < 0)
		return -1;
	const json_t *opts = json_object_get(params, "options");
	if (fs_decode_path(params, "path", true, &q->root, e) < 0)
		return -1;
	if (!opts)
		return fs_err_set(e, RPC_INVALID_PARAMS, "missing field `options`");
	if (!json_is_object(opts)) {
		pd_type_error(opts, "struct WalkOptions", "options", &pe);
		return fs_err_pd(e, &pe);
	}
	if (fs_decode_u64(opts, "maxDepth", "usize", &w->max_depth, e) < 0 ||
	    fs_decode_u64(opts, "maxDirectories", "usize", &w->max_dirs, e) < 0 ||
	    fs_decode_u64(opts, "maxEntries", "usize", &w->max_entries, e) < 0)
		return -1;
	if (pd_bool(opts, "followDirectorySymlinks", true, &w->follow, &pe) < 0)
		return fs_err_pd(e, &pe);
	return 0;
}

void fs_walk(struct fs_call *k, const json_t *params)
{
	struct fs_err e;
	struct fs_walk_job *q = calloc(1, sizeof(*q));
	if (!q)
		return fs_reply_oom(k);
	q->job.ops = &fs_walk_ops;
	if (fs_walk_decode(params, q, &e) < 0) {
		fs_reply_err(k, &e);
	} else if (fs_gate(k)) {
		if (q->walk.max_dirs > 0 && q->walk.max_entries > 0) {
			q->walk.root = q->root;
			return fs_job_start(k, &q->job);
		}
		conn_reply_error(k->c, k->id, RPC_INVALID_REQUEST,
				 "filesystem walk limits must be greater than zero");
	}
	fs_walk_free_job(&q->job);
}
