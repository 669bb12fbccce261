/* file: fs/getMetadata, fs/readFile, fs/writeFile, fs/createDirectory and
 * fs/canonicalize: one path each, decode -> execute -> encode.
 *
 * fs/readFile opens the file in its execute step (so under a policy the
 * open is confined) and reads it through the engine's fileio, answering
 * when the last piece is in; the pending read belongs to the connection
 * and is cancelled with it. fs/writeFile writes bytes the request already
 * carries (bounded by the message size).
 * Must not: do filesystem work outside an execute step, or read a file on
 * the loop.
 */
#include "fs_int.h"

#include <stdlib.h>
#include <unistd.h>

#include "b64.h"
#include "envinfo.h"
#include "params.h"

/* A path and a followSymlinks flag: what getMetadata and readFile take. */
struct fs_path_req {
	char *path;
	bool follow;
	int r;				/* execute: 0 (or an fd) or -errno */
	struct fs_stat st;		/* getMetadata */
	uint64_t size;			/* readFile */
};

static int fs_path_decode(const json_t *params, const char *name, struct fs_path_req *q,
			  struct fs_err *e)
{
	struct pd_err pe;
	q->follow = true;
	if (fs_decode_object(params, name, e) < 0)
		return -1;
	if (pd_bool(params, "followSymlinks", false, &q->follow, &pe) < 0)
		return fs_err_pd(e, &pe);
	return fs_decode_path(params, "path", true, &q->path, e);
}

/* ---- fs/getMetadata ---- */

static int fs_metadata_execute(void *arg)
{
	struct fs_path_req *q = arg;
	q->r = fs_op_stat(q->path, q->follow, &q->st);
	return 0;
}

static void fs_metadata_encode(struct fs_call *k, const struct fs_stat *st)
{
	struct jw w = conn_result_begin(k->c, k->id);
	jw_obj_open(&w);
	jw_key(&w, "isDirectory");
	jw_bool(&w, st->is_dir);
	jw_key(&w, "isFile");
	jw_bool(&w, st->is_file);
	jw_key(&w, "isSymlink");
	jw_bool(&w, st->is_link);
	jw_key(&w, "size");
	jw_u64(&w, st->size);
	jw_key(&w, "createdAtMs");
	jw_i64(&w, st->created_ms);
	jw_key(&w, "modifiedAtMs");
	jw_i64(&w, st->modified_ms);
	jw_obj_close(&w);
	conn_result_end(k->c, k->id, &w);
}

void fs_get_metadata(struct fs_call *k, const json_t *params)
{
	struct fs_path_req q = { 0 };
	struct fs_err e;
	if (fs_path_decode(params, "GetMetadataParams", &q, &e) < 0)
		fs_reply_err(k, &e);
	else if (fs_gate(k) && fs_run(k, fs_metadata_execute, &q) == 0) {
		if (q.r == FS_IS_SYMLINK)
			conn_reply_error(k->c, k->id, RPC_INVALID_REQUEST, "path contains a symbolic link");
		else if (q.r < 0)
			fs_reply_os(k, q.r);
		else
			fs_metadata_encode(k, &q.st);
	}
	free(q.path);
}

/* ---- fs/readFile ---- */

/* A read in flight, owned by its connection. */
struct fs_read {
	struct dlist link;		/* in fs_conn.reads */
	struct fs_call call;		/* id is &id */
	struct rpc_id id;
	struct fileio_read *io;
};

static void fs_read_free(struct fs_read *r)
{
	dlist_del(&r->link);
	rpc_id_free(&r->id);
	free(r);
}

static void fs_read_done(void *ctx, int err, const char *data, size_t len)
{
	struct fs_read *r = ctx;
	struct fs_call *k = &r->call;
	if (err == -EFBIG) {
		conn_reply_error(k->c, k->id, RPC_INTERNAL_ERROR,
				 "file is larger than %u bytes, the most fs/readFile returns", FS_READ_MAX);
	} else if (err < 0) {
		fs_reply_os(k, err);
	} else {
		struct jw w = conn_result_begin(k->c, k->id);
		jw_obj_open(&w);
		jw_key(&w, "dataBase64");
		jw_b64(&w, data, len);
		jw_obj_close(&w);
		conn_result_end(k->c, k->id, &w);
	}
	fs_read_free(r);
}

/* The file is open (fd): read it through the ring and answer when done. */
static void fs_read_start(struct fs_call *k, int fd, uint64_t size)
{
	struct fs_conn *fc = fs_conn_of(k->c);
	struct fs_read *r = fc ? calloc(1, sizeof(*r)) : NULL;
	if (!r || rpc_id_copy(&r->id, k->id) < 0) {
		free(r);
		close(fd);
		return fs_reply_oom(k);
	}
	r->call = (struct fs_call){ .c = k->c, .id = &r->id };
	size_t hint = size < FS_READ_MAX ? (size_t)size : FS_READ_MAX;
	if (k->c->pr->ops->read_start(k->c->pr->eng, fd, hint, FS_READ_MAX, fs_read_done, r,
				      &r->io) < 0) {
		rpc_id_free(&r->id);
		free(r);
		return fs_reply_oom(k);
	}
	dlist_add_tail(&fc->reads, &r->link);
}

void fs_reads_cancel(struct fs_conn *fc)
{
	while (!dlist_empty(&fc->reads)) {
		struct fs_read *r = container_of(fc->reads.next, struct fs_read, link);
		fc->c->pr->ops->read_cancel(r->io);
		fs_read_free(r);
	}
}

static int fs_read_execute(void *arg)
{
	struct fs_path_req *q = arg;
	q->r = fs_op_open_regular(q->path, q->follow, &q->size);
	return 0;
}

void fs_read_file(struct fs_call *k, const json_t *params)
{
	struct fs_path_req q = { 0 };
	struct fs_err e;
	if (fs_path_decode(params, "ReadFileParams", &q, &e) < 0)
		fs_reply_err(k, &e);
	else if (fs_gate(k) && fs_run(k, fs_read_execute, &q) == 0) {
		if (q.r == FS_NOT_A_FILE)
			conn_reply_error(k->c, k->id, RPC_INVALID_REQUEST, "path `%s` is not a file",
					 q.path);
		else if (q.r < 0)
			fs_reply_os(k, q.r);
		else
			fs_read_start(k, q.r, q.size);
	}
	free(q.path);
}

/* ---- fs/writeFile ---- */

struct fs_write_req {
	char *path;
	char *data;
	size_t len;
	int r;
};

static int fs_write_execute(void *arg)
{
	struct fs_write_req *q = arg;
	q->r = fs_op_write_file(q->path, q->data, q->len);
	return 0;
}

/* The base64 is decoded after the gate: its errors are -32600. 0, or -1 answered. */
static int fs_write_data(struct fs_call *k, const char *b64, size_t b64_len, struct fs_write_req *q)
{
	q->data = malloc(b64_decoded_max(b64_len));
	if (!q->data) {
		fs_reply_oom(k);
		return -1;
	}
	char why[128];
	long n = b64_decode(q->data, b64, b64_len, why, sizeof(why));
	if (n < 0) {
		conn_reply_error(k->c, k->id, RPC_INVALID_REQUEST,
				 "fs/writeFile requires valid base64 dataBase64: %s", why);
		return -1;
	}
	q->len = (size_t)n;
	return 0;
}

void fs_write_file(struct fs_call *k, const json_t *params)
{
	struct fs_write_req q = { 0 };
	struct fs_err e;
	struct pd_err pe;
	const char *b64;
	size_t b64_len;
	if (fs_decode_object(params, "WriteFileParams", &e) < 0 ||
	    fs_decode_path(params, "path", true, &q.path, &e) < 0 ||
	    (pd_string(params, "dataBase64", true, &b64, &b64_len, &pe) < 0 && fs_err_pd(&e, &pe)))
		fs_reply_err(k, &e);
	else if (fs_gate(k) && fs_write_data(k, b64, b64_len, &q) == 0 &&
		 fs_run(k, fs_write_execute, &q) == 0) {
		if (q.r < 0)
			fs_reply_os(k, q.r);
		else
			fs_reply_empty(k);
	}
	free(q.data);
	free(q.path);
}

/* ---- fs/createDirectory ---- */

struct fs_mkdir_req {
	char *path;
	bool recursive;
	int r;
};

static int fs_mkdir_execute(void *arg)
{
	struct fs_mkdir_req *q = arg;
	q->r = fs_op_mkdir(q->path, q->recursive);
	return 0;
}

void fs_create_directory(struct fs_call *k, const json_t *params)
{
	struct fs_mkdir_req q = { .recursive = true };
	struct fs_err e;
	struct pd_err pe;
	if (fs_decode_object(params, "CreateDirectoryParams", &e) < 0 ||
	    (pd_bool(params, "recursive", false, &q.recursive, &pe) < 0 && fs_err_pd(&e, &pe)) ||
	    fs_decode_path(params, "path", true, &q.path, &e) < 0)
		fs_reply_err(k, &e);
	else if (fs_gate(k) && fs_run(k, fs_mkdir_execute, &q) == 0) {
		if (q.r < 0)
			fs_reply_os(k, q.r);
		else
			fs_reply_empty(k);
	}
	free(q.path);
}

/* ---- fs/canonicalize ---- */

struct fs_canon_req {
	char *path;
	char *real;			/* execute: realpath's, or NULL with err */
	int err;
};

static int fs_canon_execute(void *arg)
{
	struct fs_canon_req *q = arg;
	q->real = realpath(q->path, NULL);
	q->err = q->real ? 0 : -errno;
	return 0;
}

void fs_canonicalize(struct fs_call *k, const json_t *params)
{
	struct fs_canon_req q = { 0 };
	struct fs_err e;
	if (fs_decode_object(params, "CanonicalizeParams", &e) < 0 ||
	    fs_decode_path(params, "path", true, &q.path, &e) < 0)
		fs_reply_err(k, &e);
	else if (fs_gate(k) && fs_run(k, fs_canon_execute, &q) == 0) {
		if (q.err < 0) {
			fs_reply_os(k, q.err);
		} else {
			struct jw w = conn_result_begin(k->c, k->id);
			jw_obj_open(&w);
			jw_key(&w, "path");
			envinfo_write_file_uri(&w, q.real);
			jw_obj_close(&w);
			conn_result_end(k->c, k->id, &w);
		}
	}
	free(q.real);
	free(q.path);
}
