/* handle: the streaming methods fs/open, fs/readBlock, fs/writeBlock and
 * fs/close, on handles the client names; a session's handles are its own
 * (at most FS_HANDLES_MAX), outlive its connections and close with it.
 * Must not: read or write more than a request's block (1 MiB at most) in
 * one call, or touch the file system outside an execute step.
 */
#include "fs_int.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "b64.h"
#include "params.h"

struct fs_handle {
	struct dlist link;		/* in fs_session.handles */
	char *id;
	int fd;
};

static struct fs_handle *fs_handle_find(struct fs_session *fss, const char *hid)
{
	if (!fss)
		return NULL;
	for (struct dlist *n = fss->handles.next; n != &fss->handles; n = n->next) {
		struct fs_handle *h = container_of(n, struct fs_handle, link);
		if (strcmp(h->id, hid) == 0)
			return h;
	}
	return NULL;
}

static void fs_handle_free(struct fs_session *fss, struct fs_handle *h)
{
	dlist_del(&h->link);
	fss->nhandles--;
	close(h->fd);
	free(h->id);
	free(h);
}

void fs_handles_free(struct fs_session *fss)
{
	while (!dlist_empty(&fss->handles))
		fs_handle_free(fss, container_of(fss->handles.next, struct fs_handle, link));
}

/* ---- fs/open ---- */

struct fs_open_req {
	const char *hid;		/* borrowed from params */
	char *path;
	bool replace;
	int fd;				/* execute: the fd, FS_NOT_A_FILE or -errno */
};

static int fs_open_decode(const json_t *params, struct fs_open_req *q, struct fs_err *e)
{
	struct pd_err pe;
	const char *mode = NULL;
	if (fs_decode_object(params, "OpenParams", e) < 0)
		return -1;
	if (pd_string(params, "handleId", true, &q->hid, NULL, &pe) < 0 ||
	    pd_string(params, "mode", false, &mode, NULL, &pe) < 0)
		return fs_err_pd(e, &pe);
	if (mode && strcmp(mode, "replace") == 0)
		q->replace = true;
	else if (mode && strcmp(mode, "read") != 0)
		return fs_err_set(e, RPC_INVALID_PARAMS,
				  "unknown variant `%.200s`, expected `read` or `replace`", mode);
	return fs_decode_path(params, "path", true, &q->path, e);
}

static int fs_open_execute(void *arg)
{
	struct fs_open_req *q = arg;
	uint64_t size;
	q->fd = q->replace ? fs_op_open_replace(q->path) : fs_op_open_regular(q->path, true, &size);
	return 0;
}

/* Before the open: the session's handles have room and hid is new. */
static struct fs_session *fs_open_check(struct fs_call *k, const char *hid)
{
	struct fs_session *fss = fs_session_of(k->c->sess, true);
	if (!fss)
		fs_reply_oom(k);
	else if (fs_handle_find(fss, hid))
		conn_reply_error(k->c, k->id, RPC_INVALID_REQUEST, "file handle `%s` already exists",
				 hid);
	else if (fss->nhandles >= FS_HANDLES_MAX)
		conn_reply_error(k->c, k->id, RPC_INTERNAL_ERROR, "too many open file handles");
	else
		return fss;
	return NULL;
}

/* Keep fd as handle hid and answer. */
static void fs_open_keep(struct fs_call *k, struct fs_session *fss, const char *hid, int fd)
{
	struct fs_handle *h = calloc(1, sizeof(*h));
	if (!h || !(h->id = strdup(hid))) {
		free(h);
		close(fd);
		return fs_reply_oom(k);
	}
	h->fd = fd;
	dlist_add_tail(&fss->handles, &h->link);
	fss->nhandles++;
	struct jw w = conn_result_begin(k->c, k->id);
	jw_obj_open(&w);
	jw_key(&w, "handleId");
	jw_cstr(&w, hid);
	jw_obj_close(&w);
	conn_result_end(k->c, k->id, &w);
}

void fs_open(struct fs_call *k, const json_t *params)
{
	struct fs_open_req q = { 0 };
	struct fs_err e;
	struct fs_session *fss;
	if (fs_open_decode(params, &q, &e) < 0)
		fs_reply_err(k, &e);
	else if (fs_gate(k) && (fss = fs_open_check(k, q.hid)) && fs_run(k, fs_open_execute, &q) == 0) {
		if (q.fd == FS_NOT_A_FILE)
			conn_reply_error(k->c, k->id, RPC_INVALID_REQUEST, "path `%s` is not a file",
					 q.path);
		else if (q.fd < 0)
			fs_reply_os(k, q.fd);
		else
			fs_open_keep(k, fss, q.hid, q.fd);
	}
	free(q.path);
}

/* ---- fs/readBlock ---- */

struct fs_block_req {
	const char *hid;
	uint64_t off, len;
	int fd;
	char *data;
	size_t n;			/* readBlock: bytes read; writeBlock: bytes to write */
	bool eof;
	int r;
};

static int fs_read_block_execute(void *arg)
{
	struct fs_block_req *q = arg;
	q->r = fs_op_read_at(q->fd, q->data, (size_t)q->len, q->off, &q->n, &q->eof);
	return 0;
}

/* The handle named by q->hid, after the gate. -1 when answered. */
static int fs_block_handle(struct fs_call *k, struct fs_block_req *q, uint64_t len)
{
	struct fs_handle *h = fs_handle_find(fs_session_of(k->c->sess, false), q->hid);
	if (!h) {
		conn_reply_error(k->c, k->id, FS_RPC_NOT_FOUND, "unknown file handle `%s`", q->hid);
		return -1;
	}
	if (q->off > (uint64_t)INT64_MAX - len) {
		fs_reply_os(k, -EINVAL);
		return -1;
	}
	q->fd = h->fd;
	return 0;
}

static void fs_read_block_encode(struct fs_call *k, const struct fs_block_req *q)
{
	struct jw w = conn_result_begin(k->c, k->id);
	jw_obj_open(&w);
	jw_key(&w, "chunk");
	jw_b64(&w, q->data, q->n);
	jw_key(&w, "eof");
	jw_bool(&w, q->eof);
	jw_obj_close(&w);
	conn_result_end(k->c, k->id, &w);
}

void fs_read_block(struct fs_call *k, const json_t *params)
{
	struct fs_block_req q = { 0 };
	struct fs_err e;
	struct pd_err pe;
	if (fs_decode_object(params, "ReadBlockParams", &e) < 0 ||
	    (pd_string(params, "handleId", true, &q.hid, NULL, &pe) < 0 && fs_err_pd(&e, &pe)) ||
	    fs_decode_u64(params, "offset", "u64", &q.off, &e) < 0 ||
	    fs_decode_u64(params, "len", "usize", &q.len, &e) < 0)
		return fs_reply_err(k, &e);
	if (!fs_gate(k))
		return;
	if (q.len < 1 || q.len > FS_BLOCK_MAX)
		return conn_reply_error(k->c, k->id, RPC_INVALID_REQUEST,
					"file read block length must be between 1 and 1048576");
	if (fs_block_handle(k, &q, q.len) < 0)
		return;
	if (!(q.data = malloc(q.len)))
		return fs_reply_oom(k);
	if (fs_run(k, fs_read_block_execute, &q) == 0) {
		if (q.r < 0)
			fs_reply_os(k, q.r);
		else
			fs_read_block_encode(k, &q);
	}
	free(q.data);
}

/* ---- fs/writeBlock ---- */

static int fs_write_block_execute(void *arg)
{
	struct fs_block_req *q = arg;
	q->r = fs_op_write_all(q->fd, q->data, q->n, true, q->off);
	return 0;
}

/* The chunk is decoded before the gate: its errors are -32602. */
static int fs_write_block_decode(const json_t *params, struct fs_block_req *q, struct fs_err *e)
{
	struct pd_err pe;
	const char *chunk;
	size_t chunk_len;
	if (fs_decode_object(params, "WriteBlockParams", e) < 0)
		return -1;
	if (pd_string(params, "handleId", true, &q->hid, NULL, &pe) < 0)
		return fs_err_pd(e, &pe);
	if (fs_decode_u64(params, "offset", "u64", &q->off, e) < 0)
		return -1;
	if (pd_string(params, "chunk", true, &chunk, &chunk_len, &pe) < 0)
		return fs_err_pd(e, &pe);
	if (!(q->data = malloc(b64_decoded_max(chunk_len))))
		return fs_err_set(e, RPC_INTERNAL_ERROR, "out of memory");
	char why[128];
	long n = b64_decode(q->data, chunk, chunk_len, why, sizeof(why));
	if (n < 0)
		return fs_err_set(e, RPC_INVALID_PARAMS, "%s", why);
	q->n = (size_t)n;
	return 0;
}

void fs_write_block(struct fs_call *k, const json_t *params)
{
	struct fs_block_req q = { 0 };
	struct fs_err e;
	if (fs_write_block_decode(params, &q, &e) < 0)
		fs_reply_err(k, &e);
	else if (fs_gate(k) && fs_block_handle(k, &q, q.n) == 0 &&
		 fs_run(k, fs_write_block_execute, &q) == 0) {
		if (q.r < 0)
			fs_reply_os(k, q.r);
		else
			fs_reply_empty(k);
	}
	free(q.data);
}

/* ---- fs/close ---- */

void fs_close(struct fs_call *k, const json_t *params)
{
	struct fs_err e;
	struct pd_err pe;
	const char *hid;
	if (fs_decode_object(params, "CloseParams", &e) < 0 ||
	    (pd_string(params, "handleId", true, &hid, NULL, &pe) < 0 && fs_err_pd(&e, &pe)))
		return fs_reply_err(k, &e);
	if (!fs_gate(k))
		return;
	struct fs_session *fss = fs_session_of(k->c->sess, false);
	struct fs_handle *h = fs_handle_find(fss, hid);
	if (h)
		fs_handle_free(fss, h);
	fs_reply_empty(k);
}
