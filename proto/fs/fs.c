/* fs: the fs methods' table and what every method shares (see fs.h).
 *
 * Owns the dispatch (a `sandbox` policy is decoded and resolved before the
 * method's own params, as the reference does), fs_run (the execute step
 * here, or in a child inside the policy's template: sandbox_run), the
 * decode helpers and error replies, and the per-session and
 * per-connection state. OS errors map to ENOENT -32004, EACCES/EPERM
 * -32600, anything else -32603, with the reference's "TEXT (os error N)".
 *
 * Must not: do filesystem work itself (ops.c), submit ring operations
 * (the engine's fileio does), or keep state in globals.
 */
#include "fs_int.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "params.h"
#include "uri.h"

/* ---- decode ---- */

int fs_err_pd(struct fs_err *e, const struct pd_err *pe)
{
	e->code = pd_err_nomem(pe) ? RPC_INTERNAL_ERROR : RPC_INVALID_PARAMS;
	snprintf(e->msg, sizeof(e->msg), "%s", pe->msg);
	return -1;
}

int fs_err_set(struct fs_err *e, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	e->code = code;
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	return -1;
}

int fs_decode_object(const json_t *params, const char *name, struct fs_err *e)
{
	struct pd_err pe;
	return pd_object(params, name, &pe) < 0 ? fs_err_pd(e, &pe) : 0;
}

int fs_decode_path(const json_t *params, const char *key, bool required, char **out,
		   struct fs_err *e)
{
	struct pd_err pe;
	const char *uri;
	*out = NULL;
	if (pd_string(params, key, required, &uri, NULL, &pe) < 0)
		return fs_err_pd(e, &pe);
	if (uri && !(*out = uri_to_path(uri, &e->code, e->msg, sizeof(e->msg))))
		return -1;
	return 0;
}

int fs_decode_u64(const json_t *params, const char *key, const char *expected, uint64_t *out,
		  struct fs_err *e)
{
	struct pd_err pe;
	bool has;
	if (pd_u64(params, key, expected, &has, out, &pe) < 0)
		return fs_err_pd(e, &pe);
	if (!has)
		return fs_err_set(e, RPC_INVALID_PARAMS, "missing field `%s`", key);
	return 0;
}

/* ---- reply ---- */

void fs_reply_err(struct fs_call *k, const struct fs_err *e)
{
	conn_reply_error(k->c, k->id, e->code, "%s", e->msg);
}

const char *fs_strerror(int err)
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

void fs_reply_os(struct fs_call *k, int err)
{
	err = -err;
	int code = err == ENOENT ? FS_RPC_NOT_FOUND
		 : err == EACCES || err == EPERM ? RPC_INVALID_REQUEST : RPC_INTERNAL_ERROR;
	conn_reply_error(k->c, k->id, code, "%s (os error %d)", fs_strerror(err), err);
}

void fs_reply_oom(struct fs_call *k)
{
	conn_reply_error(k->c, k->id, RPC_INTERNAL_ERROR, "out of memory");
}

void fs_reply_empty(struct fs_call *k)
{
	conn_reply_empty(k->c, k->id);
}

bool fs_gate(struct fs_call *k)
{
	return conn_gate(k->c, k->id, "filesystem");
}

/* ---- execute, here or confined ---- */

static void fs_reply_unenforceable(struct fs_call *k)
{
	conn_reply_error(k->c, k->id, RPC_INTERNAL_ERROR,
			 "sandbox intent cannot be enforced on this executor");
}

/* sp's template (built now if the cache has none). 0 or -EOPNOTSUPP. */
static int fs_template(struct proto *pr, struct sbpolicy *sp, struct sandbox **sb)
{
	if (!pr->ops->sandbox_available(pr->eng, NULL) ||
	    pr->ops->sandbox_get(pr->eng, &sp->policy, sb) < 0)
		return -EOPNOTSUPP;
	return 0;
}

/* Under a policy the execute step runs in a child that has entered its
 * template: every path resolves in the sandbox's view, symlinks included,
 * writes outside the writable trees fail with EROFS, what the policy hides
 * is not there, and the child has no capability, so there is nothing to
 * check before the use. The child shares our memory and fds: what fn
 * leaves in arg (and the fds it opened) is ours when it returns. */
int fs_run_confined(struct proto *pr, struct sbpolicy *sp, int (*fn)(void *arg), void *arg)
{
	if (!sp)
		return fn(arg);
	struct sandbox *sb;
	int ret = fs_template(pr, sp, &sb);
	return ret < 0 ? ret : pr->ops->sandbox_run(pr->eng, sb, fn, arg);
}

int fs_run(struct fs_call *k, int (*fn)(void *arg), void *arg)
{
	int ret = fs_run_confined(k->c->pr, k->sp, fn, arg);
	if (ret == -EOPNOTSUPP)
		fs_reply_unenforceable(k);
	else if (ret < 0)
		conn_reply_error(k->c, k->id, RPC_INTERNAL_ERROR, "%s", strerror(-ret));
	return ret < 0 ? -1 : 0;
}

bool fs_policy_take(struct fs_call *k, struct sbpolicy *out)
{
	memset(out, 0, sizeof(*out));
	if (!k->sp)
		return false;
	*out = *k->sp;
	memset(k->sp, 0, sizeof(*k->sp));	/* left empty for its owner's sbpolicy_free */
	k->sp = NULL;
	return true;
}

/* A request (unless it waits behind its connection's jobs): its `sandbox`
 * decoded first (its -32602 wins), then, once past the gate would let it
 * through, resolved and its template made, so an unenforceable policy is
 * refused before the method's own params are looked at. Without anything
 * to confine the method runs as it is. */
void fs_dispatch(struct conn *c, const struct rpc_id *id, const json_t *params, fs_method *fn)
{
	struct fs_call k = { .c = c, .id = id };
	if (fs_jobs_defer(c, id, params, fn))
		return;
	const json_t *sbv = json_is_object(params) ? json_object_get(params, "sandbox") : NULL;
	if (!sbv || json_is_null(sbv))
		return fn(&k, params);
	struct sbpolicy sp;
	struct pd_err pe;
	struct fs_err e;
	if (sbpolicy_decode(sbv, &sp, &pe) < 0) {
		fs_err_pd(&e, &pe);
		return fs_reply_err(&k, &e);
	}
	if (!sp.enforce || c->phase != CONN_READY) {
		/* Nothing to confine, or the gate answers anyway. */
		sbpolicy_free(&sp);
		return fn(&k, params);
	}
	struct sandbox *sb;
	int r = sbpolicy_resolve(&sp, getenv("TMPDIR"), &pe);
	k.sp = &sp;
	if (r == SBP_RESOLVE_INVALID) {
		fs_err_pd(&e, &pe);
		fs_reply_err(&k, &e);
	} else if (r == SBP_RESOLVE_NOMEM) {
		fs_reply_oom(&k);
	} else if (r < 0) {
		fs_reply_unenforceable(&k);
	} else if (fs_template(c->pr, &sp, &sb) < 0) {
		fs_reply_unenforceable(&k);
	} else {
		fn(&k, params);
	}
	sbpolicy_free(&sp);
}

/* ---- state hung off its owner ---- */

struct fs_session *fs_session_of(struct session *s, bool create)
{
	if (s->fs || !create)
		return s->fs;
	struct fs_session *fss = calloc(1, sizeof(*fss));
	if (!fss)
		return NULL;
	dlist_init(&fss->handles);
	dlist_init(&fss->watches);
	s->fs = fss;
	return fss;
}

void fs_session_free(struct session *s)
{
	struct fs_session *fss = s->fs;
	if (!fss)
		return;
	fs_handles_free(fss);
	fs_watches_drop(fss);
	free(fss->watch_ids);
	free(fss);
	s->fs = NULL;
}

struct fs_conn *fs_conn_of(struct conn *c)
{
	if (c->fs)
		return c->fs;
	struct fs_conn *fc = calloc(1, sizeof(*fc));
	if (!fc || c->pr->ops->task_new(c->pr->eng, fs_jobs_tick, fc, &fc->task) < 0) {
		free(fc);
		return NULL;
	}
	fc->c = c;
	dlist_init(&fc->reads);
	dlist_init(&fc->jobs);
	c->fs = fc;
	return fc;
}

void fs_conn_closed(struct conn *c)
{
	struct fs_conn *fc = c->fs;
	if (!fc)
		return;
	fs_reads_cancel(fc);
	fs_jobs_free(fc);
	c->pr->ops->task_free(fc->task);
	free(fc);
	c->fs = NULL;
}

/* ---- the table ---- */

#define FS_ENTRY(fn)                                                                      \
	static void fn##_entry(struct conn *c, const struct rpc_id *id, const json_t *p) \
	{                                                                                 \
		fs_dispatch(c, id, p, fn);                                                \
	}
FS_ENTRY(fs_get_metadata)
FS_ENTRY(fs_read_file)
FS_ENTRY(fs_write_file)
FS_ENTRY(fs_create_directory)
FS_ENTRY(fs_read_directory)
FS_ENTRY(fs_remove)
FS_ENTRY(fs_copy)
FS_ENTRY(fs_canonicalize)
FS_ENTRY(fs_walk)
FS_ENTRY(fs_open)
FS_ENTRY(fs_read_block)
FS_ENTRY(fs_write_block)
FS_ENTRY(fs_close)
FS_ENTRY(fs_watch_missing)

static const struct method_entry fs_table[] = {
	{ "fs/getMetadata", fs_get_metadata_entry },
	{ "fs/readFile", fs_read_file_entry },
	{ "fs/writeFile", fs_write_file_entry },
	{ "fs/createDirectory", fs_create_directory_entry },
	{ "fs/readDirectory", fs_read_directory_entry },
	{ "fs/remove", fs_remove_entry },
	{ "fs/copy", fs_copy_entry },
	{ "fs/canonicalize", fs_canonicalize_entry },
	{ "fs/walk", fs_walk_entry },
	{ "fs/open", fs_open_entry },
	{ "fs/readBlock", fs_read_block_entry },
	{ "fs/writeBlock", fs_write_block_entry },
	{ "fs/close", fs_close_entry },
	{ "fs/watchMissing", fs_watch_missing_entry },
};

method_fn *fs_methods_find(const char *name)
{
	return methods_lookup(fs_table, sizeof(fs_table) / sizeof(fs_table[0]), name);
}
