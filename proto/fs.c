/* fs: the fs methods (reference/codex-client-surface.md §3).
 *
 * Paths arrive as file: URIs and are decoded and lexically normalised like
 * the reference's URL parser. OS errors map to ENOENT -32004, EACCES/EPERM
 * -32600, anything else -32603, with the reference's "TEXT (os error N)".
 *
 * Loop discipline: metadata, directory and handle calls are direct syscalls
 * (each bounded: fs/readBlock reads at most 1 MiB). fs/readFile reads the
 * file through the ring in 1 MiB IORING_OP_READ pieces and answers when the
 * last one completes, so other work interleaves. fs/writeFile writes bytes
 * the request already carries (bounded by the message size) with write(2).
 * fs/watchMissing owns one inotify fd per watch, read through the ring.
 *
 * State that outlives a request (handles, watches) belongs to the session and
 * is kept here keyed by sessionId; it is released once the session is gone
 * (checked on every fs request and watch event). An in-flight read answers
 * only if its connection is still the session's attached one.
 */
#include "fs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "b64.h"
#include "envinfo.h"
#include "engine.h"
#include "params.h"
#include "sandbox.h"
#include "sbpolicy.h"
#include "uri.h"

#define RPC_NOT_FOUND -32004
#define FS_READ_CHUNK (1u << 20)	/* bytes per IORING_OP_READ of fs/readFile */
#define FS_READ_MAX (256u << 20)	/* largest file fs/readFile returns */
#define FS_BLOCK_MAX 1048576u		/* fs/readBlock len limit */
#define FS_HANDLES_MAX 1024		/* open handles per session */
#define FS_WATCHES_MAX 256		/* live watches per session */
#define FS_WATCH_IDS_MAX 65536		/* watchIds remembered per session */

/* ---- per-session state ---- */

struct fs_handle {
	struct dlist link;
	char *id;
	int fd;
};

struct fs_sess {
	struct dlist link;		/* in fs_sessions */
	char sid[37];
	struct dlist handles;
	size_t nhandles;
	struct dlist watches;
	size_t nwatches;
	uint64_t *watch_ids;		/* every watchId registered */
	size_t nwatch_ids, watch_ids_cap;
};

struct fs_watch {
	struct loop_op op;		/* the inotify read */
	struct dlist link;		/* in its fs_sess, or in fs_orphans */
	struct proto *pr;
	char sid[37];
	uint64_t watch_id;
	int ifd;
	char **missing;			/* paths that were missing at registration */
	size_t nmissing;
	bool inflight, dead;
	char evbuf[4096] __attribute__((aligned(8)));
};

/* A fs/readFile in progress. */
struct fs_read {
	struct loop_op op;
	struct dlist link;		/* in fs_reads */
	struct proto *pr;
	struct conn *c;
	char sid[37];
	char peer[64];
	struct rpc_id id;
	int fd;
	char *data;
	size_t len, cap;
};

static struct dlist fs_sessions = { &fs_sessions, &fs_sessions };
static struct dlist fs_orphans = { &fs_orphans, &fs_orphans };	/* dead watches in flight */
static struct dlist fs_reads = { &fs_reads, &fs_reads };

static void fs_watch_drop(struct fs_watch *w);

static void fs_sess_free(struct fs_sess *fsess)
{
	while (!dlist_empty(&fsess->handles)) {
		struct fs_handle *h = container_of(fsess->handles.next, struct fs_handle, link);
		dlist_del(&h->link);
		close(h->fd);
		free(h->id);
		free(h);
	}
	while (!dlist_empty(&fsess->watches))
		fs_watch_drop(container_of(fsess->watches.next, struct fs_watch, link));
	dlist_del(&fsess->link);
	free(fsess->watch_ids);
	free(fsess);
}

/* Release the state of sessions that no longer exist. */
static void fs_sweep(struct proto *pr)
{
	struct dlist *n = fs_sessions.next;
	while (n != &fs_sessions) {
		struct dlist *next = n->next;
		struct fs_sess *fsess = container_of(n, struct fs_sess, link);
		if (!idmap_get(&pr->sessions, fsess->sid, strlen(fsess->sid)))
			fs_sess_free(fsess);
		n = next;
	}
}

static struct fs_sess *fs_sess_of(struct conn *c, bool create)
{
	fs_sweep(c->pr);
	for (struct dlist *n = fs_sessions.next; n != &fs_sessions; n = n->next) {
		struct fs_sess *fsess = container_of(n, struct fs_sess, link);
		if (strcmp(fsess->sid, c->sess->id) == 0)
			return fsess;
	}
	if (!create)
		return NULL;
	struct fs_sess *fsess = calloc(1, sizeof(*fsess));
	if (!fsess)
		return NULL;
	snprintf(fsess->sid, sizeof(fsess->sid), "%s", c->sess->id);
	dlist_init(&fsess->handles);
	dlist_init(&fsess->watches);
	dlist_add_tail(&fs_sessions, &fsess->link);
	return fsess;
}

/* ---- replies ---- */


static void fs_reply_empty(struct conn *c, const struct rpc_id *id)
{
	struct jw w = conn_result_begin(c, id);
	jw_obj_open(&w);
	jw_obj_close(&w);
	conn_result_end(c, id, &w);
}

/* The reference's (musl's) wording where glibc's differs. */
static const char *fs_strerror(int err)
{
	switch (err) {
	case ELOOP: return "Symbolic link loop";
	case EIO: return "I/O error";
	case ENAMETOOLONG: return "Filename too long";
	case EMFILE: return "No file descriptors available";
	case EXDEV: return "Cross-device link";
	case EBUSY: return "Resource busy";
	default: return strerror(err);
	}
}

static int fs_errno_code(int err)
{
	if (err == ENOENT)
		return RPC_NOT_FOUND;
	if (err == EACCES || err == EPERM)
		return RPC_INVALID_REQUEST;
	return RPC_INTERNAL_ERROR;
}

static void fs_reply_errno(struct conn *c, const struct rpc_id *id, int err)
{
	conn_reply_error(c, id, fs_errno_code(err), "%s (os error %d)", fs_strerror(err), err);
}

static void fs_invalid_params(struct conn *c, const struct rpc_id *id, const struct pd_err *e)
{
	conn_reply_error(c, id, pd_err_nomem(e) ? RPC_INTERNAL_ERROR : RPC_INVALID_PARAMS, "%s",
			 e->msg);
}

/* ---- paths ---- */

char *fs_uri_path(const char *uri, int *code, char *msg, size_t msglen)
{
	return uri_to_path(uri, code, msg, msglen);
}

/* A required (or optional) file URI member decoded to a path. Replies on failure. */
static int fs_path_member(struct conn *c, const struct rpc_id *id, const json_t *params,
			  const char *key, bool required, char **out)
{
	struct pd_err e;
	const char *uri;
	*out = NULL;
	if (pd_string(params, key, required, &uri, NULL, &e) < 0) {
		fs_invalid_params(c, id, &e);
		return -1;
	}
	if (!uri)
		return 0;
	int code;
	char msg[512];
	*out = uri_to_path(uri, &code, msg, sizeof(msg));
	if (!*out) {
		conn_reply_error(c, id, code, "%s", msg);
		return -1;
	}
	return 0;
}

/* params is an object (a `sandbox` in it was dealt with by
 * fs_under_sandbox). Replies on failure. */
static bool fs_params_ok(struct conn *c, const struct rpc_id *id, const json_t *params,
			 const char *name)
{
	struct pd_err e;
	if (pd_object(params, name, &e) < 0) {
		fs_invalid_params(c, id, &e);
		return false;
	}
	return true;
}

static bool fs_gate(struct conn *c, const struct rpc_id *id)
{
	return conn_gate(c, id, "filesystem");
}

/* Open the parent directory of path without following any symlink on the
 * way (a symlinked component gives ENOTDIR). *last points into path at the
 * final component ("." for "/"). Returns the fd or -errno. */
static int fs_open_parent_nofollow(const char *path, const char **last)
{
	int dfd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	const char *p = path;
	while (*p == '/')
		p++;
	if (!*p) {
		*last = ".";
		return dfd;
	}
	for (;;) {
		const char *slash = strchr(p, '/');
		if (!slash) {
			*last = p;
			return dfd;
		}
		char comp[NAME_MAX + 1];
		size_t n = (size_t)(slash - p);
		if (n > NAME_MAX) {
			close(dfd);
			return -ENAMETOOLONG;
		}
		memcpy(comp, p, n);
		comp[n] = '\0';
		int nfd = openat(dfd, comp, O_PATH | O_NOFOLLOW | O_DIRECTORY | O_CLOEXEC);
		int err = errno;
		close(dfd);
		if (nfd < 0)
			return -(err == ELOOP ? ENOTDIR : err);
		dfd = nfd;
		p = slash + 1;
	}
}

static int64_t fs_ms(struct timespec ts)
{
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static char *fs_join(const char *dir, const char *name)
{
	size_t dl = strlen(dir), nl = strlen(name);
	char *out = malloc(dl + nl + 2);
	if (!out)
		return NULL;
	memcpy(out, dir, dl);
	size_t o = dl;
	if (!dl || dir[dl - 1] != '/')
		out[o++] = '/';
	memcpy(out + o, name, nl + 1);
	return out;
}

/* ---- fs/getMetadata ---- */

static void fs_get_metadata(struct conn *c, const struct rpc_id *id, const json_t *params)
{
	struct pd_err e;
	bool follow = true;
	char *path;
	if (!fs_params_ok(c, id, params, "GetMetadataParams"))
		return;
	if (pd_bool(params, "followSymlinks", false, &follow, &e) < 0)
		return fs_invalid_params(c, id, &e);
	if (fs_path_member(c, id, params, "path", true, &path) < 0)
		return;
	if (!fs_gate(c, id))
		goto out;
	bool is_link = false;
	int64_t created = 0;
	struct stat st;
	if (follow) {
		struct stat lst;
		if (lstat(path, &lst) < 0 || stat(path, &st) < 0) {
			fs_reply_errno(c, id, errno);
			goto out;
		}
		is_link = S_ISLNK(lst.st_mode);
	} else {
		const char *last;
		int dfd = fs_open_parent_nofollow(path, &last);
		if (dfd < 0) {
			fs_reply_errno(c, id, -dfd);
			goto out;
		}
		struct statx sx;
		int r = statx(dfd, last, AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS | STATX_BTIME, &sx);
		int err = errno;
		close(dfd);
		if (r < 0) {
			fs_reply_errno(c, id, err);
			goto out;
		}
		if (S_ISLNK(sx.stx_mode)) {
			conn_reply_error(c, id, RPC_INVALID_REQUEST, "path contains a symbolic link");
			goto out;
		}
		memset(&st, 0, sizeof(st));
		st.st_mode = sx.stx_mode;
		st.st_size = (off_t)sx.stx_size;
		st.st_mtim.tv_sec = sx.stx_mtime.tv_sec;
		st.st_mtim.tv_nsec = sx.stx_mtime.tv_nsec;
		if (sx.stx_mask & STATX_BTIME)
			created = (int64_t)sx.stx_btime.tv_sec * 1000 + sx.stx_btime.tv_nsec / 1000000;
	}
	bool special = !S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode);
	struct jw w = conn_result_begin(c, id);
	jw_obj_open(&w);
	jw_key(&w, "isDirectory");
	jw_bool(&w, S_ISDIR(st.st_mode));
	jw_key(&w, "isFile");
	jw_bool(&w, S_ISREG(st.st_mode));
	jw_key(&w, "isSymlink");
	jw_bool(&w, is_link);
	jw_key(&w, "size");
	jw_u64(&w, special ? 0 : (uint64_t)st.st_size);
	jw_key(&w, "createdAtMs");
	jw_i64(&w, created);
	jw_key(&w, "modifiedAtMs");
	jw_i64(&w, fs_ms(st.st_mtim));
	jw_obj_close(&w);
	conn_result_end(c, id, &w);
out:
	free(path);
}

/* ---- fs/readFile: bounded reads through the ring ---- */

static void fs_read_free(struct fs_read *r)
{
	dlist_del(&r->link);
	if (r->fd >= 0)
		close(r->fd);
	rpc_id_free(&r->id);
	free(r->data);
	free(r);
}

/* The connection that asked, if it is still attached to its session. */
static struct conn *fs_read_conn(struct fs_read *r)
{
	struct session *s = idmap_get(&r->pr->sessions, r->sid, strlen(r->sid));
	if (!s || s->conn != r->c || strcmp(s->conn->peer, r->peer) != 0)
		return NULL;
	return s->conn;
}

static void fs_read_cb(struct loop_op *op, int res, uint32_t flags);

static void fs_read_submit(struct fs_read *r)
{
	if (r->len == r->cap) {
		size_t cap = r->cap * 2;
		if (cap > (size_t)FS_READ_MAX + 1)
			cap = (size_t)FS_READ_MAX + 1;
		char *d = cap > r->cap ? realloc(r->data, cap) : NULL;
		if (!d) {
			fs_read_cb(&r->op, -ENOMEM, 0);
			return;
		}
		r->data = d;
		r->cap = cap;
	}
	size_t want = r->cap - r->len;
	if (want > FS_READ_CHUNK)
		want = FS_READ_CHUNK;
	struct io_uring_sqe *sqe = loop_sqe(r->pr->loop, &r->op);
	io_uring_prep_read(sqe, r->fd, r->data + r->len, (unsigned)want, (uint64_t)r->len);
}

static void fs_read_cb(struct loop_op *op, int res, uint32_t flags)
{
	(void)flags;
	struct fs_read *r = container_of(op, struct fs_read, op);
	if (res == -EINTR || res == -EAGAIN) {
		fs_read_submit(r);
		return;
	}
	if (res > 0) {
		r->len += (size_t)res;
		if (r->len <= FS_READ_MAX) {
			if (fs_read_conn(r)) {
				fs_read_submit(r);
				return;
			}
			fs_read_free(r);	/* nobody to answer */
			return;
		}
	}
	struct conn *c = fs_read_conn(r);
	if (c) {
		if (res < 0) {
			fs_reply_errno(c, &r->id, -res);
		} else if (r->len > FS_READ_MAX) {
			conn_reply_error(c, &r->id, RPC_INTERNAL_ERROR,
					 "file is larger than %u bytes, the most fs/readFile returns",
					 FS_READ_MAX);
		} else {
			struct jw w = conn_result_begin(c, &r->id);
			jw_obj_open(&w);
			jw_key(&w, "dataBase64");
			jw_b64(&w, r->data, r->len);
			jw_obj_close(&w);
			conn_result_end(c, &r->id, &w);
		}
	}
	fs_read_free(r);
}

/* Open a regular file for reading (non-blocking open so a FIFO cannot stall
 * us). Returns the fd, or -errno, or -EISDIR-like -1000 for "not a file". */
#define FS_NOT_A_FILE (-100000)
static int fs_open_regular(const char *path, bool follow, struct stat *st)
{
	int fd;
	if (follow) {
		fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
		if (fd < 0)
			return -errno;
	} else {
		const char *last;
		int dfd = fs_open_parent_nofollow(path, &last);
		if (dfd < 0)
			return dfd;
		fd = openat(dfd, last, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
		int err = errno;
		close(dfd);
		if (fd < 0)
			return -err;
	}
	if (fstat(fd, st) < 0) {
		int err = errno;
		close(fd);
		return -err;
	}
	if (!S_ISREG(st->st_mode)) {
		close(fd);
		return FS_NOT_A_FILE;
	}
	int fl = fcntl(fd, F_GETFL);
	if (fl >= 0)
		fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
	return fd;
}

static void fs_read_file(struct conn *c, const struct rpc_id *id, const json_t *params)
{
	struct pd_err e;
	bool follow = true;
	char *path;
	if (!fs_params_ok(c, id, params, "ReadFileParams"))
		return;
	if (pd_bool(params, "followSymlinks", false, &follow, &e) < 0)
		return fs_invalid_params(c, id, &e);
	if (fs_path_member(c, id, params, "path", true, &path) < 0)
		return;
	if (!fs_gate(c, id))
		goto out;
	struct stat st;
	int fd = fs_open_regular(path, follow, &st);
	if (fd == FS_NOT_A_FILE) {
		conn_reply_error(c, id, RPC_INVALID_REQUEST, "path `%s` is not a file", path);
		goto out;
	}
	if (fd < 0) {
		fs_reply_errno(c, id, -fd);
		goto out;
	}
	struct fs_read *r = calloc(1, sizeof(*r));
	size_t cap = (size_t)st.st_size + 1;
	if (cap < 4096)
		cap = 4096;
	if (cap > (size_t)FS_READ_MAX + 1)
		cap = (size_t)FS_READ_MAX + 1;
	if (!r || rpc_id_copy(&r->id, id) < 0 || !(r->data = malloc(cap))) {
		if (r)
			rpc_id_free(&r->id);
		free(r);
		close(fd);
		conn_reply_error(c, id, RPC_INTERNAL_ERROR, "out of memory");
		goto out;
	}
	r->op.cb = fs_read_cb;
	r->pr = c->pr;
	r->c = c;
	snprintf(r->sid, sizeof(r->sid), "%s", c->sess->id);
	snprintf(r->peer, sizeof(r->peer), "%s", c->peer);
	r->fd = fd;
	r->cap = cap;
	dlist_add_tail(&fs_reads, &r->link);
	fs_read_submit(r);
out:
	free(path);
}

/* ---- fs/writeFile ---- */

static int fs_write_all(int fd, const char *data, size_t len, bool positional, uint64_t off)
{
	size_t done = 0;
	while (done < len) {
		ssize_t n = positional ? pwrite(fd, data + done, len - done, (off_t)(off + done))
				       : write(fd, data + done, len - done);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		done += (size_t)n;
	}
	return 0;
}

static void fs_write_file(struct conn *c, const struct rpc_id *id, const json_t *params)
{
	struct pd_err e;
	const char *b64;
	size_t b64_len;
	char *path, *data = NULL;
	if (!fs_params_ok(c, id, params, "WriteFileParams"))
		return;
	if (fs_path_member(c, id, params, "path", true, &path) < 0)
		return;
	if (pd_string(params, "dataBase64", true, &b64, &b64_len, &e) < 0) {
		fs_invalid_params(c, id, &e);
		goto out;
	}
	if (!fs_gate(c, id))
		goto out;
	data = malloc(b64_decoded_max(b64_len));
	if (!data) {
		conn_reply_error(c, id, RPC_INTERNAL_ERROR, "out of memory");
		goto out;
	}
	char why[128];
	long n = b64_decode(data, b64, b64_len, why, sizeof(why));
	if (n < 0) {
		conn_reply_error(c, id, RPC_INVALID_REQUEST,
				 "fs/writeFile requires valid base64 dataBase64: %s", why);
		goto out;
	}
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NONBLOCK | O_CLOEXEC, 0666);
	if (fd < 0) {
		fs_reply_errno(c, id, errno);
		goto out;
	}
	int fl = fcntl(fd, F_GETFL);
	if (fl >= 0)
		fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
	int r = fs_write_all(fd, data, (size_t)n, false, 0);
	if (close(fd) < 0 && r == 0 && errno != EINTR)
		r = -errno;
	if (r < 0)
		fs_reply_errno(c, id, -r);
	else
		fs_reply_empty(c, id);
out:
	free(data);
	free(path);
}

/* ---- fs/createDirectory ---- */

static int fs_mkdir_p(char *path)
{
	if (mkdir(path, 0777) == 0)
		return 0;
	int err = errno;
	struct stat st;
	if (err == EEXIST)
		return stat(path, &st) == 0 && S_ISDIR(st.st_mode) ? 0 : -EEXIST;
	if (err != ENOENT)
		return -err;
	char *slash = strrchr(path, '/');
	if (!slash || slash == path)
		return -err;
	*slash = '\0';
	int r = fs_mkdir_p(path);
	*slash = '/';
	if (r < 0)
		return r;
	if (mkdir(path, 0777) == 0)
		return 0;
	err = errno;
	if (err == EEXIST && stat(path, &st) == 0 && S_ISDIR(st.st_mode))
		return 0;
	return -err;
}

static void fs_create_directory(struct conn *c, const struct rpc_id *id, const json_t *params)
{
	struct pd_err e;
	bool recursive = true;
	char *path;
	if (!fs_params_ok(c, id, params, "CreateDirectoryParams"))
		return;
	if (pd_bool(params, "recursive", false, &recursive, &e) < 0)
		return fs_invalid_params(c, id, &e);
	if (fs_path_member(c, id, params, "path", true, &path) < 0)
		return;
	if (!fs_gate(c, id))
		goto out;
	int r = recursive ? fs_mkdir_p(path) : (mkdir(path, 0777) < 0 ? -errno : 0);
	if (r < 0)
		fs_reply_errno(c, id, -r);
	else
		fs_reply_empty(c, id);
out:
	free(path);
}

/* ---- fs/readDirectory ---- */

static void fs_read_directory(struct conn *c, const struct rpc_id *id, const json_t *params)
{
	char *path;
	if (!fs_params_ok(c, id, params, "ReadDirectoryParams"))
		return;
	if (fs_path_member(c, id, params, "path", true, &path) < 0)
		return;
	if (!fs_gate(c, id))
		goto out;
	int dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
	if (!d) {
		int err = errno;
		if (dfd >= 0)
			close(dfd);
		fs_reply_errno(c, id, err);
		goto out;
	}
	struct jw w = conn_result_begin(c, id);
	jw_obj_open(&w);
	jw_key(&w, "entries");
	jw_arr_open(&w);
	struct dirent *de;
	while ((de = readdir(d))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		struct stat st;
		if (fstatat(dirfd(d), de->d_name, &st, 0) < 0)
			continue;	/* dangling symlink (or gone meanwhile) */
		jw_obj_open(&w);
		jw_key(&w, "fileName");
		jw_cstr(&w, de->d_name);
		jw_key(&w, "isDirectory");
		jw_bool(&w, S_ISDIR(st.st_mode));
		jw_key(&w, "isFile");
		jw_bool(&w, S_ISREG(st.st_mode));
		jw_obj_close(&w);
	}
	closedir(d);
	jw_arr_close(&w);
	jw_obj_close(&w);
	conn_result_end(c, id, &w);
out:
	free(path);
}

/* ---- fs/remove ---- */

/* Remove name under dfd and everything below it, never following symlinks. */
static int fs_rm_tree(int dfd, const char *name)
{
	int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOTDIR || errno == ELOOP)
			return unlinkat(dfd, name, 0) < 0 && errno != ENOENT ? -errno : 0;
		return errno == ENOENT ? 0 : -errno;
	}
	DIR *d = fdopendir(fd);
	if (!d) {
		int err = errno;
		close(fd);
		return -err;
	}
	int r = 0;
	struct dirent *de;
	while (r == 0 && (de = readdir(d))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (de->d_type == DT_DIR || de->d_type == DT_UNKNOWN)
			r = fs_rm_tree(dirfd(d), de->d_name);
		else if (unlinkat(dirfd(d), de->d_name, 0) < 0 && errno != ENOENT)
			r = -errno;
	}
	closedir(d);
	if (r == 0 && unlinkat(dfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		r = -errno;
	return r;
}

static void fs_remove(struct conn *c, const struct rpc_id *id, const json_t *params)
{
	struct pd_err e;
	bool recursive = true, force = true;
	char *path;
	if (!fs_params_ok(c, id, params, "RemoveParams"))
		return;
	if (pd_bool(params, "recursive", false, &recursive, &e) < 0 ||
	    pd_bool(params, "force", false, &force, &e) < 0)
		return fs_invalid_params(c, id, &e);
	if (fs_path_member(c, id, params, "path", true, &path) < 0)
		return;
	if (!fs_gate(c, id))
		goto out;
	struct stat st;
	int r = 0;
	if (lstat(path, &st) < 0)
		r = -errno;
	else if (S_ISDIR(st.st_mode))
		r = recursive ? fs_rm_tree(AT_FDCWD, path) : (rmdir(path) < 0 ? -errno : 0);
	else if (unlink(path) < 0)
		r = -errno;
	if (r == -ENOENT && force)
		r = 0;
	if (r < 0)
		fs_reply_errno(c, id, -r);
	else
		fs_reply_empty(c, id);
out:
	free(path);
}

/* ---- fs/copy ---- */

static int fs_copy_file(const char *src, const char *dst)
{
	int in = open(src, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (in < 0)
		return -errno;
	struct stat st;
	if (fstat(in, &st) < 0) {
		int err = errno;
		close(in);
		return -err;
	}
	int out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, st.st_mode & 07777);
	if (out < 0) {
		int err = errno;
		close(in);
		return -err;
	}
	int r = 0;
	bool fallback = false;
	for (;;) {
		ssize_t n;
		if (!fallback) {
			n = copy_file_range(in, NULL, out, NULL, 1u << 30, 0);
			if (n < 0 && (errno == EXDEV || errno == EINVAL || errno == ENOSYS ||
				      errno == EOPNOTSUPP)) {
				fallback = true;
				continue;
			}
		} else {
			char buf[65536];
			n = read(in, buf, sizeof(buf));
			if (n > 0 && fs_write_all(out, buf, (size_t)n, false, 0) < 0)
				n = -1;
		}
		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			break;
		}
		if (n == 0)
			break;
	}
	close(in);
	if (close(out) < 0 && r == 0 && errno != EINTR)
		r = -errno;
	return r;
}

static int fs_copy_symlink(const char *src, const char *dst)
{
	char target[PATH_MAX];
	ssize_t n = readlink(src, target, sizeof(target) - 1);
	if (n < 0)
		return -errno;
	target[n] = '\0';
	return symlink(target, dst) < 0 ? -errno : 0;
}

static int fs_copy_tree(const char *src, const char *dst, mode_t mode)
{
	if (mkdir(dst, mode & 07777) < 0) {
		struct stat st;
		if (errno != EEXIST || stat(dst, &st) < 0 || !S_ISDIR(st.st_mode))
			return -errno;
	}
	DIR *d = opendir(src);
	if (!d)
		return -errno;
	int r = 0;
	struct dirent *de;
	while (r == 0 && (de = readdir(d))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		char *s = fs_join(src, de->d_name), *t = fs_join(dst, de->d_name);
		struct stat st;
		if (!s || !t)
			r = -ENOMEM;
		else if (lstat(s, &st) < 0)
			r = errno == ENOENT ? 0 : -errno;
		else if (S_ISDIR(st.st_mode))
			r = fs_copy_tree(s, t, st.st_mode);
		else if (S_ISLNK(st.st_mode))
			r = fs_copy_symlink(s, t);
		else if (S_ISREG(st.st_mode))
			r = fs_copy_file(s, t);
		free(s);
		free(t);
	}
	closedir(d);
	return r;
}

/* dst resolved as far as it exists: its parent canonicalised plus its name. */
static char *fs_resolve_dest(const char *dst)
{
	char *rp = realpath(dst, NULL);
	if (rp)
		return rp;
	const char *slash = strrchr(dst, '/');
	char *parent = strndup(dst, slash && slash != dst ? (size_t)(slash - dst) : 1);
	char *rparent = parent ? realpath(parent, NULL) : NULL;
	free(parent);
	if (!rparent)
		return NULL;
	char *out = fs_join(rparent, slash ? slash + 1 : dst);
	free(rparent);
	return out;
}

static void fs_copy(struct conn *c, const struct rpc_id *id, const json_t *params)
{
	struct pd_err e;
	bool recursive = false;
	char *src = NULL, *dst = NULL;
	if (!fs_params_ok(c, id, params, "CopyParams"))
		return;
	if (fs_path_member(c, id, params, "sourcePath", true, &src) < 0 ||
	    fs_path_member(c, id, params, "destinationPath", true, &dst) < 0)
		goto out;
	if (pd_bool(params, "recursive", true, &recursive, &e) < 0) {
		fs_invalid_params(c, id, &e);
		goto out;
	}
	if (!fs_gate(c, id))
		goto out;
	struct stat st;
	int r;
	if (lstat(src, &st) < 0) {
		fs_reply_errno(c, id, errno);
		goto out;
	}
	if (S_ISDIR(st.st_mode)) {
		if (!recursive) {
			conn_reply_error(c, id, RPC_INVALID_REQUEST,
					 "fs/copy requires recursive: true when sourcePath is a directory");
			goto out;
		}
		char *rs = realpath(src, NULL), *rd = fs_resolve_dest(dst);
		if (!rd) {
			r = -errno;
			free(rs);
			fs_reply_errno(c, id, -r);
			goto out;
		}
		size_t n = rs ? strlen(rs) : 0;
		bool inside = rs && strncmp(rd, rs, n) == 0 && (rd[n] == '\0' || rd[n] == '/' ||
								 (n == 1 && rs[0] == '/'));
		free(rs);
		free(rd);
		if (inside) {
			conn_reply_error(c, id, RPC_INVALID_REQUEST,
					 "fs/copy cannot copy a directory to itself or one of its descendants");
			goto out;
		}
		r = fs_copy_tree(src, dst, st.st_mode);
	} else if (S_ISLNK(st.st_mode)) {
		r = fs_copy_symlink(src, dst);
	} else if (S_ISREG(st.st_mode)) {
		r = fs_copy_file(src, dst);
	} else {
		conn_reply_error(c, id, RPC_INVALID_REQUEST,
				 "fs/copy only supports regular files, directories, and symlinks");
		goto out;
	}
	if (r < 0)
		fs_reply_errno(c, id, -r);
	else
		fs_reply_empty(c, id);
out:
	free(src);
	free(dst);
}

/* ---- fs/canonicalize ---- */

static void fs_canonicalize(struct conn *c, const struct rpc_id *id, const json_t *params)
{
	char *path;
	if (!fs_params_ok(c, id, params, "CanonicalizeParams"))
		return;
	if (fs_path_member(c, id, params, "path", true, &path) < 0)
		return;
	if (!fs_gate(c, id))
		goto out;
	char *rp = realpath(path, NULL);
	if (!rp) {
		fs_reply_errno(c, id, errno);
		goto out;
	}
	struct jw w = conn_result_begin(c, id);
	jw_obj_open(&w);
	jw_key(&w, "path");
	envinfo_write_file_uri(&w, rp);
	jw_obj_close(&w);
	conn_result_end(c, id, &w);
	free(rp);
out:
	free(path);
}

/* ---- fs/walk ---- */

static int fs_cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

struct fs_walk_dir {
	char *path;
	uint64_t depth;
};

static void fs_walk(struct conn *c, const struct rpc_id *id, const json_t *params)
{
	struct pd_err e;
	char *root;
	uint64_t max_depth, max_dirs, max_entries;
	bool has, follow = false;
	if (!fs_params_ok(c, id, params, "WalkParams"))
		return;
	const json_t *opts = json_object_get(params, "options");
	if (fs_path_member(c, id, params, "path", true, &root) < 0)
		return;
	if (!opts) {
		snprintf(e.msg, sizeof(e.msg), "missing field `options`");
		goto bad;
	}
	if (!json_is_object(opts)) {
		pd_type_error(opts, "struct WalkOptions", "options", &e);
		goto bad;
	}
	if (pd_u64(opts, "maxDepth", "usize", &has, &max_depth, &e) < 0)
		goto bad;
	if (!has) {
		snprintf(e.msg, sizeof(e.msg), "missing field `maxDepth`");
		goto bad;
	}
	if (pd_u64(opts, "maxDirectories", "usize", &has, &max_dirs, &e) < 0)
		goto bad;
	if (!has) {
		snprintf(e.msg, sizeof(e.msg), "missing field `maxDirectories`");
		goto bad;
	}
	if (pd_u64(opts, "maxEntries", "usize", &has, &max_entries, &e) < 0)
		goto bad;
	if (!has) {
		snprintf(e.msg, sizeof(e.msg), "missing field `maxEntries`");
		goto bad;
	}
	if (pd_bool(opts, "followDirectorySymlinks", true, &follow, &e) < 0)
		goto bad;
	if (!fs_gate(c, id))
		goto out;
	if (max_dirs == 0 || max_entries == 0) {
		conn_reply_error(c, id, RPC_INVALID_REQUEST,
				 "filesystem walk limits must be greater than zero");
		goto out;
	}
	struct stat st;
	if (stat(root, &st) < 0) {
		fs_reply_errno(c, id, errno);
		goto out;
	}
	struct jw w = conn_result_begin(c, id);
	jw_obj_open(&w);
	jw_key(&w, "entries");
	jw_arr_open(&w);
	bool truncated = false;
	uint64_t nentries = 0, ndirs = 0;
	struct fs_walk_dir *q = NULL;
	size_t qhead = 0, qlen = 0, qcap = 0;
	json_t *errs = json_array();
	bool nomem = false;
	if (S_ISDIR(st.st_mode)) {
		q = malloc(sizeof(*q));
		if (!q || !(q->path = strdup(root)))
			nomem = true;
		else {
			q->depth = 0;
			qlen = 1;
			qcap = 1;
		}
	}
	while (!nomem && qhead < qlen && !truncated) {
		struct fs_walk_dir dir = q[qhead++];
		if (ndirs >= max_dirs) {
			truncated = true;
			free(dir.path);
			break;
		}
		ndirs++;
		DIR *d = opendir(dir.path);
		if (!d) {
			char m[200];
			int err = errno;
			snprintf(m, sizeof(m), "%s: %s (os error %d)", dir.path, fs_strerror(err), err);
			json_array_append_new(errs, json_string(m));
			free(dir.path);
			continue;
		}
		char **names = NULL;
		size_t nn = 0, ncap = 0;
		struct dirent *de;
		while ((de = readdir(d))) {
			if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
				continue;
			if (nn == ncap) {
				ncap = ncap ? ncap * 2 : 32;
				char **nv = realloc(names, ncap * sizeof(*nv));
				if (!nv) {
					nomem = true;
					break;
				}
				names = nv;
			}
			if (!(names[nn] = strdup(de->d_name))) {
				nomem = true;
				break;
			}
			nn++;
		}
		closedir(d);
		if (nn)
			qsort(names, nn, sizeof(*names), fs_cmp_str);
		for (size_t i = 0; i < nn; i++) {
			char *p = nomem || truncated ? NULL : fs_join(dir.path, names[i]);
			free(names[i]);
			if (!p) {
				if (!truncated)
					nomem = true;
				continue;
			}
			struct stat est;
			const char *kind = NULL;
			bool descend = false;
			if (lstat(p, &est) == 0) {
				if (S_ISDIR(est.st_mode)) {
					kind = "directory";
					descend = true;
				} else if (S_ISREG(est.st_mode)) {
					kind = "file";
				} else if (S_ISLNK(est.st_mode) && follow && stat(p, &est) == 0 &&
					   S_ISDIR(est.st_mode)) {
					kind = "directory";
					descend = true;
				}
			}
			if (!kind) {
				free(p);
				continue;
			}
			if (nentries >= max_entries) {
				truncated = true;
				free(p);
				continue;
			}
			nentries++;
			jw_obj_open(&w);
			jw_key(&w, "path");
			envinfo_write_file_uri(&w, p);
			jw_key(&w, "kind");
			jw_cstr(&w, kind);
			jw_obj_close(&w);
			if (descend && dir.depth < max_depth) {
				if (qlen == qcap) {
					size_t cap = qcap * 2;
					struct fs_walk_dir *nq = realloc(q, cap * sizeof(*nq));
					if (!nq) {
						nomem = true;
						free(p);
						continue;
					}
					q = nq;
					qcap = cap;
				}
				q[qlen].path = p;
				q[qlen].depth = dir.depth + 1;
				qlen++;
			} else {
				free(p);
			}
		}
		free(names);
		free(dir.path);
	}
	for (size_t i = qhead; i < qlen; i++) {
		free(q[i].path);
		truncated = true;
	}
	free(q);
	jw_arr_close(&w);
	jw_key(&w, "errors");
	if (errs)
		jw_json(&w, errs);
	else
		jw_arr_open(&w), jw_arr_close(&w);
	json_decref(errs);
	jw_key(&w, "truncated");
	jw_bool(&w, truncated);
	jw_obj_close(&w);
	if (nomem)
		conn_reply_error(c, id, RPC_INTERNAL_ERROR, "out of memory");
	else
		conn_result_end(c, id, &w);
	goto out;
bad:
	fs_invalid_params(c, id, &e);
out:
	free(root);
}

/* ---- streaming: fs/open, fs/readBlock, fs/writeBlock, fs/close ---- */

static struct fs_handle *fs_handle_find(struct fs_sess *fsess, const char *hid)
{
	if (!fsess)
		return NULL;
	for (struct dlist *n = fsess->handles.next; n != &fsess->handles; n = n->next) {
		struct fs_handle *h = container_of(n, struct fs_handle, link);
		if (strcmp(h->id, hid) == 0)
			return h;
	}
	return NULL;
}

static void fs_open(struct conn *c, const struct rpc_id *id, const json_t *params)
{
	struct pd_err e;
	const char *hid, *mode = NULL;
	char *path;
	bool replace = false;
	if (!fs_params_ok(c, id, params, "OpenParams"))
		return;
	if (pd_string(params, "handleId", true, &hid, NULL, &e) < 0 ||
	    pd_string(params, "mode", false, &mode, NULL, &e) < 0)
		return fs_invalid_params(c, id, &e);
	if (mode && strcmp(mode, "replace") == 0)
		replace = true;
	else if (mode && strcmp(mode, "read") != 0)
		return conn_reply_error(c, id, RPC_INVALID_PARAMS,
					"unknown variant `%.200s`, expected `read` or `replace`", mode);
	if (fs_path_member(c, id, params, "path", true, &path) < 0)
		return;
	if (!fs_gate(c, id))
		goto out;
	struct fs_sess *fsess = fs_sess_of(c, true);
	if (!fsess) {
		conn_reply_error(c, id, RPC_INTERNAL_ERROR, "out of memory");
		goto out;
	}
	if (fs_handle_find(fsess, hid)) {
		conn_reply_error(c, id, RPC_INVALID_REQUEST, "file handle `%s` already exists", hid);
		goto out;
	}
	if (fsess->nhandles >= FS_HANDLES_MAX) {
		conn_reply_error(c, id, RPC_INTERNAL_ERROR, "too many open file handles");
		goto out;
	}
	int fd;
	struct stat st;
	if (replace) {
		if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
			fd = FS_NOT_A_FILE;
		} else {
			fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NONBLOCK | O_CLOEXEC, 0666);
			if (fd < 0) {
				fd = -errno;
			} else {
				int fl = fcntl(fd, F_GETFL);
				if (fl >= 0)
					fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
			}
		}
	} else {
		fd = fs_open_regular(path, true, &st);
	}
	if (fd == FS_NOT_A_FILE) {
		conn_reply_error(c, id, RPC_INVALID_REQUEST, "path `%s` is not a file", path);
		goto out;
	}
	if (fd < 0) {
		fs_reply_errno(c, id, -fd);
		goto out;
	}
	struct fs_handle *h = calloc(1, sizeof(*h));
	if (!h || !(h->id = strdup(hid))) {
		free(h);
		close(fd);
		conn_reply_error(c, id, RPC_INTERNAL_ERROR, "out of memory");
		goto out;
	}
	h->fd = fd;
	dlist_add_tail(&fsess->handles, &h->link);
	fsess->nhandles++;
	struct jw w = conn_result_begin(c, id);
	jw_obj_open(&w);
	jw_key(&w, "handleId");
	jw_cstr(&w, hid);
	jw_obj_close(&w);
	conn_result_end(c, id, &w);
out:
	free(path);
}

static void fs_read_block(struct conn *c, const struct rpc_id *id, const json_t *params)
{
	struct pd_err e;
	const char *hid;
	bool has;
	uint64_t off = 0, len = 0;
	if (!fs_params_ok(c, id, params, "ReadBlockParams"))
		return;
	if (pd_string(params, "handleId", true, &hid, NULL, &e) < 0 ||
	    pd_u64(params, "offset", "u64", &has, &off, &e) < 0)
		return fs_invalid_params(c, id, &e);
	if (!has)
		return conn_reply_error(c, id, RPC_INVALID_PARAMS, "missing field `offset`");
	if (pd_u64(params, "len", "usize", &has, &len, &e) < 0)
		return fs_invalid_params(c, id, &e);
	if (!has)
		return conn_reply_error(c, id, RPC_INVALID_PARAMS, "missing field `len`");
	if (!fs_gate(c, id))
		return;
	if (len < 1 || len > FS_BLOCK_MAX)
		return conn_reply_error(c, id, RPC_INVALID_REQUEST,
					"file read block length must be between 1 and 1048576");
	struct fs_handle *h = fs_handle_find(fs_sess_of(c, false), hid);
	if (!h)
		return conn_reply_error(c, id, RPC_NOT_FOUND, "unknown file handle `%s`", hid);
	if (off > (uint64_t)INT64_MAX - len)
		return fs_reply_errno(c, id, EINVAL);
	char *data = malloc(len);
	if (!data)
		return conn_reply_error(c, id, RPC_INTERNAL_ERROR, "out of memory");
	size_t n = 0;
	while (n < len) {
		ssize_t r = pread(h->fd, data + n, len - n, (off_t)(off + n));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int err = errno;
			free(data);
			return fs_reply_errno(c, id, err);
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	struct stat st;
	bool eof = n < len || (fstat(h->fd, &st) == 0 && off + n >= (uint64_t)st.st_size);
	struct jw w = conn_result_begin(c, id);
	jw_obj_open(&w);
	jw_key(&w, "chunk");
	jw_b64(&w, data, n);
	jw_key(&w, "eof");
	jw_bool(&w, eof);
	jw_obj_close(&w);
	free(data);
	conn_result_end(c, id, &w);
}

static void fs_write_block(struct conn *c, const struct rpc_id *id, const json_t *params)
{
	struct pd_err e;
	const char *hid, *chunk;
	size_t chunk_len;
	bool has;
	uint64_t off = 0;
	if (!fs_params_ok(c, id, params, "WriteBlockParams"))
		return;
	if (pd_string(params, "handleId", true, &hid, NULL, &e) < 0 ||
	    pd_u64(params, "offset", "u64", &has, &off, &e) < 0)
		return fs_invalid_params(c, id, &e);
	if (!has)
		return conn_reply_error(c, id, RPC_INVALID_PARAMS, "missing field `offset`");
	if (pd_string(params, "chunk", true, &chunk, &chunk_len, &e) < 0)
		return fs_invalid_params(c, id, &e);
	char *data = malloc(b64_decoded_max(chunk_len));
	if (!data)
		return conn_reply_error(c, id, RPC_INTERNAL_ERROR, "out of memory");
	char why[128];
	long n = b64_decode(data, chunk, chunk_len, why, sizeof(why));
	if (n < 0) {
		conn_reply_error(c, id, RPC_INVALID_PARAMS, "%s", why);
		goto out;
	}
	if (!fs_gate(c, id))
		goto out;
	struct fs_handle *h = fs_handle_find(fs_sess_of(c, false), hid);
	if (!h) {
		conn_reply_error(c, id, RPC_NOT_FOUND, "unknown file handle `%s`", hid);
		goto out;
	}
	if (off > (uint64_t)INT64_MAX - (uint64_t)n) {
		fs_reply_errno(c, id, EINVAL);
		goto out;
	}
	int r = fs_write_all(h->fd, data, (size_t)n, true, off);
	if (r < 0)
		fs_reply_errno(c, id, -r);
	else
		fs_reply_empty(c, id);
out:
	free(data);
}

static void fs_close(struct conn *c, const struct rpc_id *id, const json_t *params)
{
	struct pd_err e;
	const char *hid;
	if (!fs_params_ok(c, id, params, "CloseParams"))
		return;
	if (pd_string(params, "handleId", true, &hid, NULL, &e) < 0)
		return fs_invalid_params(c, id, &e);
	if (!fs_gate(c, id))
		return;
	struct fs_sess *fsess = fs_sess_of(c, false);
	struct fs_handle *h = fs_handle_find(fsess, hid);
	if (h) {
		dlist_del(&h->link);
		fsess->nhandles--;
		close(h->fd);
		free(h->id);
		free(h);
	}
	fs_reply_empty(c, id);
}

/* ---- fs/watchMissing ---- */

static void fs_watch_free(struct fs_watch *w)
{
	dlist_del(&w->link);
	if (w->ifd >= 0)
		close(w->ifd);
	for (size_t i = 0; i < w->nmissing; i++)
		free(w->missing[i]);
	free(w->missing);
	free(w);
}

/* Stop a watch: freed now, or (read in flight) cancelled and freed on its completion. */
static void fs_watch_drop(struct fs_watch *w)
{
	if (!w->inflight) {
		fs_watch_free(w);
		return;
	}
	dlist_del(&w->link);
	dlist_add_tail(&fs_orphans, &w->link);
	w->dead = true;
	struct io_uring_sqe *sqe = loop_sqe_noop(w->pr->loop);
	io_uring_prep_cancel64(sqe, (uint64_t)(uintptr_t)&w->op, 0);
}

static bool fs_exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0;
}

/* Watch the deepest existing ancestor of each missing path. 0 or -errno. */
static int fs_watch_add(struct fs_watch *w)
{
	for (size_t i = 0; i < w->nmissing; i++) {
		char *p = strdup(w->missing[i]);
		if (!p)
			return -ENOMEM;
		for (;;) {
			char *slash = strrchr(p, '/');
			if (!slash)
				break;
			if (slash == p)
				slash[1] = '\0';
			else
				*slash = '\0';
			int wd = inotify_add_watch(w->ifd, p, IN_CREATE | IN_MOVED_TO | IN_DELETE_SELF |
							      IN_MOVE_SELF | IN_ONLYDIR);
			if (wd >= 0 || errno == ENOTDIR || errno == EACCES || strcmp(p, "/") == 0)
				break;
			if (errno != ENOENT) {
				int err = errno;
				free(p);
				return -err;
			}
		}
		free(p);
	}
	return 0;
}

static void fs_watch_cb(struct loop_op *op, int res, uint32_t flags);

static void fs_watch_arm(struct fs_watch *w)
{
	struct io_uring_sqe *sqe = loop_sqe(w->pr->loop, &w->op);
	io_uring_prep_read(sqe, w->ifd, w->evbuf, sizeof(w->evbuf), (uint64_t)-1);
	w->inflight = true;
}

static void fs_watch_notify(struct fs_watch *w)
{
	struct session *s = idmap_get(&w->pr->sessions, w->sid, strlen(w->sid));
	if (!s || !s->conn)
		return;
	struct jw jw;
	buf_reset(&w->pr->scratch);
	jw_init(&jw, &w->pr->scratch);
	rpc_notification_begin(&jw, "fs/missingChanged");
	jw_obj_open(&jw);
	jw_key(&jw, "watchId");
	jw_u64(&jw, w->watch_id);
	jw_obj_close(&jw);
	rpc_notification_end(&jw);
	conn_send_note(s->conn, &jw);
}

static struct fs_sess *fs_sess_by_sid(const char *sid)
{
	for (struct dlist *n = fs_sessions.next; n != &fs_sessions; n = n->next) {
		struct fs_sess *fsess = container_of(n, struct fs_sess, link);
		if (strcmp(fsess->sid, sid) == 0)
			return fsess;
	}
	return NULL;
}

static void fs_watch_cb(struct loop_op *op, int res, uint32_t flags)
{
	(void)flags;
	struct fs_watch *w = container_of(op, struct fs_watch, op);
	w->inflight = false;
	if (w->dead) {
		fs_watch_free(w);
		return;
	}
	struct fs_sess *fsess = fs_sess_by_sid(w->sid);
	if (!idmap_get(&w->pr->sessions, w->sid, strlen(w->sid))) {
		fs_sess_free(fsess);	/* frees w too: it is not in flight now */
		return;
	}
	bool fire = false;
	for (size_t i = 0; i < w->nmissing && !fire; i++)
		fire = fs_exists(w->missing[i]);
	if (fire)
		fs_watch_notify(w);
	if (fire || (res < 0 && res != -EINTR && res != -EAGAIN) || fs_watch_add(w) < 0) {
		fsess->nwatches--;
		fs_watch_free(w);
		return;
	}
	fs_watch_arm(w);
}

static void fs_watch_missing(struct conn *c, const struct rpc_id *id, const json_t *params)
{
	struct pd_err e;
	bool has;
	uint64_t watch_id;
	const json_t *missing;
	char *present = NULL;
	char **paths = NULL;
	size_t npaths = 0;
	if (!fs_params_ok(c, id, params, "WatchMissingParams"))
		return;
	if (pd_u64(params, "watchId", "u64", &has, &watch_id, &e) < 0)
		return fs_invalid_params(c, id, &e);
	if (!has)
		return conn_reply_error(c, id, RPC_INVALID_PARAMS, "missing field `watchId`");
	if (pd_strings(params, "missing", true, &missing, &e) < 0)
		return fs_invalid_params(c, id, &e);
	if (fs_path_member(c, id, params, "present", false, &present) < 0)
		return;
	paths = calloc(json_array_size(missing) + 1, sizeof(*paths));
	if (!paths) {
		conn_reply_error(c, id, RPC_INTERNAL_ERROR, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < json_array_size(missing); i++) {
		int code;
		char msg[512];
		char *p = uri_to_path(json_string_value(json_array_get(missing, i)), &code, msg, sizeof(msg));
		if (!p) {
			conn_reply_error(c, id, code, "%s", msg);
			goto out;
		}
		paths[npaths++] = p;
	}
	if (!fs_gate(c, id))
		goto out;
	struct fs_sess *fsess = fs_sess_of(c, true);
	if (!fsess) {
		conn_reply_error(c, id, RPC_INTERNAL_ERROR, "out of memory");
		goto out;
	}
	bool used = false;
	for (size_t i = 0; i < fsess->nwatch_ids && !used; i++)
		used = fsess->watch_ids[i] == watch_id;
	/* keep only the paths that are missing now */
	size_t nm = 0;
	for (size_t i = 0; i < npaths; i++) {
		if (fs_exists(paths[i]))
			free(paths[i]);
		else
			paths[nm++] = paths[i];
	}
	npaths = nm;
	bool watching = !used && npaths > 0 && (!present || fs_exists(present));
	if (watching) {
		if (fsess->nwatches >= FS_WATCHES_MAX || fsess->nwatch_ids >= FS_WATCH_IDS_MAX) {
			conn_reply_error(c, id, RPC_INTERNAL_ERROR, "too many watches");
			goto out;
		}
		if (fsess->nwatch_ids == fsess->watch_ids_cap) {
			size_t cap = fsess->watch_ids_cap ? fsess->watch_ids_cap * 2 : 16;
			uint64_t *v = realloc(fsess->watch_ids, cap * sizeof(*v));
			if (!v) {
				conn_reply_error(c, id, RPC_INTERNAL_ERROR, "out of memory");
				goto out;
			}
			fsess->watch_ids = v;
			fsess->watch_ids_cap = cap;
		}
		struct fs_watch *w = calloc(1, sizeof(*w));
		if (!w) {
			conn_reply_error(c, id, RPC_INTERNAL_ERROR, "out of memory");
			goto out;
		}
		w->op.cb = fs_watch_cb;
		w->pr = c->pr;
		snprintf(w->sid, sizeof(w->sid), "%s", c->sess->id);
		w->watch_id = watch_id;
		w->missing = paths;
		w->nmissing = npaths;
		paths = NULL;
		npaths = 0;
		dlist_init(&w->link);
		w->ifd = inotify_init1(IN_CLOEXEC);
		int r = w->ifd < 0 ? -errno : fs_watch_add(w);
		if (r < 0) {
			fs_watch_free(w);
			fs_reply_errno(c, id, -r);
			goto out;
		}
		fsess->watch_ids[fsess->nwatch_ids++] = watch_id;
		dlist_add_tail(&fsess->watches, &w->link);
		fsess->nwatches++;
		fs_watch_arm(w);
	}
	struct jw jw = conn_result_begin(c, id);
	jw_obj_open(&jw);
	jw_key(&jw, "watching");
	jw_bool(&jw, watching);
	jw_obj_close(&jw);
	conn_result_end(c, id, &jw);
out:
	for (size_t i = 0; i < npaths; i++)
		free(paths[i]);
	free(paths);
	free(present);
}

/* ---- under a sandbox ----
 *
 * A request with an enforceable `sandbox` runs its whole handler in a
 * child that has entered the policy's template (sandbox_run): every path
 * resolves in the sandbox's view, symlinks included, writes outside the
 * writable trees fail with EROFS, what the policy hides is not there, and
 * the child has no capability, so there is nothing to check before the
 * use. The child shares our memory and fd table, so what the handler
 * keeps (handles, fds, pending reads) is ours when it returns; what it
 * sends is captured and sent from here, after it. */

struct fs_capture {
	struct conn_io io;		/* what the handler sees as c->io */
	const struct conn_io *real;
	void *real_ctx;
	struct buf msgs;		/* each: u32 length, then the message */
	bool ok;
	int close_code;			/* 0: no close asked */
};

static int fs_cap_send(void *io, const char *msg, size_t len)
{
	struct fs_capture *k = io;
	uint32_t n = (uint32_t)len;
	if (buf_append(&k->msgs, &n, sizeof(n)) < 0 || buf_append(&k->msgs, msg, len) < 0)
		k->ok = false;
	return 0;
}

static size_t fs_cap_queued(void *io)
{
	struct fs_capture *k = io;
	return k->real->queued(k->real_ctx);
}

static uint64_t fs_cap_sent_total(void *io)
{
	struct fs_capture *k = io;
	return k->real->sent_total(k->real_ctx);
}

static uint64_t fs_cap_queued_end(void *io)
{
	struct fs_capture *k = io;
	return k->real->queued_end(k->real_ctx);
}

static void fs_cap_close(void *io, int code)
{
	struct fs_capture *k = io;
	k->close_code = code;
}

struct fs_inside {
	struct conn *c;
	const struct rpc_id *id;
	const json_t *params;
	method_fn *fn;
};

static int fs_inside_run(void *arg)
{
	struct fs_inside *in = arg;
	in->fn(in->c, in->id, in->params);
	return 0;
}

static void fs_under_sandbox(struct conn *c, const struct rpc_id *id, const json_t *params,
			     method_fn *fn)
{
	const json_t *sbv = json_is_object(params) ? json_object_get(params, "sandbox") : NULL;
	if (!sbv || json_is_null(sbv))
		return fn(c, id, params);
	struct sbpolicy sp;
	struct pd_err e;
	if (sbpolicy_decode(sbv, &sp, &e) < 0)
		return fs_invalid_params(c, id, &e);
	if (!sp.enforce || c->phase != CONN_READY) {
		/* Nothing to confine, or the gate answers anyway. */
		sbpolicy_free(&sp);
		return fn(c, id, params);
	}
	struct sandbox *sb = NULL;
	int r = sbpolicy_resolve(&sp, getenv("TMPDIR"), &e);
	if (r == SBP_RESOLVE_INVALID) {
		fs_invalid_params(c, id, &e);
	} else if (r == SBP_RESOLVE_NOMEM) {
		conn_reply_error(c, id, RPC_INTERNAL_ERROR, "out of memory");
	} else if (r < 0 || !engine_sandbox_available(c->pr->eng, NULL) ||
		   sandbox_get(engine_sandboxes(c->pr->eng), &sp.policy, &sb) < 0) {
		conn_reply_error(c, id, RPC_INTERNAL_ERROR,
				 "sandbox intent cannot be enforced on this executor");
	} else {
		struct fs_capture k = {
			.io = { .send = fs_cap_send, .queued = fs_cap_queued,
				.sent_total = fs_cap_sent_total, .queued_end = fs_cap_queued_end,
				.close = fs_cap_close },
			.real = c->io, .real_ctx = c->io_ctx, .ok = true,
		};
		struct fs_inside in = { c, id, params, fn };
		c->io = &k.io;
		c->io_ctx = &k;
		int ret = sandbox_run(engine_sandboxes(c->pr->eng), sb, fs_inside_run, &in);
		c->io = k.real;
		c->io_ctx = k.real_ctx;
		if (ret < 0 || !k.ok) {
			conn_reply_error(c, id, RPC_INTERNAL_ERROR, "%s",
					 ret < 0 ? strerror(-ret) : "out of memory");
		} else {
			for (size_t off = 0; off + sizeof(uint32_t) <= k.msgs.len;) {
				uint32_t n;
				memcpy(&n, k.msgs.data + off, sizeof(n));
				int r = c->io->send(c->io_ctx, k.msgs.data + off + sizeof(n), n);
				if (r < 0) {
					conn_send_failed(c, r);
					break;
				}
				off += sizeof(n) + n;
			}
			if (k.close_code)
				c->io->close(c->io_ctx, k.close_code);
		}
		buf_free(&k.msgs);
	}
	sbpolicy_free(&sp);
}

#define FS_SANDBOXED(fn)                                                                  \
	static void fn##_sandboxed(struct conn *c, const struct rpc_id *id, const json_t *p) \
	{                                                                                 \
		fs_under_sandbox(c, id, p, fn);                                           \
	}
FS_SANDBOXED(fs_get_metadata)
FS_SANDBOXED(fs_read_file)
FS_SANDBOXED(fs_write_file)
FS_SANDBOXED(fs_create_directory)
FS_SANDBOXED(fs_read_directory)
FS_SANDBOXED(fs_remove)
FS_SANDBOXED(fs_copy)
FS_SANDBOXED(fs_canonicalize)
FS_SANDBOXED(fs_walk)
FS_SANDBOXED(fs_open)
FS_SANDBOXED(fs_read_block)
FS_SANDBOXED(fs_write_block)
FS_SANDBOXED(fs_close)
FS_SANDBOXED(fs_watch_missing)

/* ---- the table ---- */

static const struct method_entry fs_table[] = {
	{ "fs/getMetadata", fs_get_metadata_sandboxed },
	{ "fs/readFile", fs_read_file_sandboxed },
	{ "fs/writeFile", fs_write_file_sandboxed },
	{ "fs/createDirectory", fs_create_directory_sandboxed },
	{ "fs/readDirectory", fs_read_directory_sandboxed },
	{ "fs/remove", fs_remove_sandboxed },
	{ "fs/copy", fs_copy_sandboxed },
	{ "fs/canonicalize", fs_canonicalize_sandboxed },
	{ "fs/walk", fs_walk_sandboxed },
	{ "fs/open", fs_open_sandboxed },
	{ "fs/readBlock", fs_read_block_sandboxed },
	{ "fs/writeBlock", fs_write_block_sandboxed },
	{ "fs/close", fs_close_sandboxed },
	{ "fs/watchMissing", fs_watch_missing_sandboxed },
};

method_fn *fs_methods_find(const char *name)
{
	return methods_lookup(fs_table, sizeof(fs_table) / sizeof(fs_table[0]), name);
}
