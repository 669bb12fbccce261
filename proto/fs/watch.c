/* watch: fs/watchMissing and its fs/missingChanged notification.
 *
 * A watch keeps the paths that were missing when it was registered and an
 * engine fileio watch on the deepest existing ancestor of each; on every
 * event it looks again: once one of the paths exists the session's
 * attached connection (if any) is told, and the watch ends. A watch made
 * under a sandbox policy keeps it and looks (and re-watches) inside it
 * every time, as it did at registration. Watches and the watchIds ever
 * used belong to the session and end with it.
 * Must not: submit ring operations (fileio does), or outlive its session.
 */
#include "fs_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "params.h"
#include "uri.h"

struct fs_watch {
	struct dlist link;		/* in fs_session.watches */
	struct session *s;
	struct fileio_watch *io;
	uint64_t watch_id;
	char **missing;			/* paths that were missing at registration */
	size_t nmissing;
	struct sbpolicy sp;		/* the request's policy, if confined */
	bool confined;
};

static void fs_watch_free(struct fs_session *fss, struct fs_watch *w)
{
	dlist_del(&w->link);
	fss->nwatches--;
	w->s->pr->ops->watch_drop(w->io);
	for (size_t i = 0; i < w->nmissing; i++)
		free(w->missing[i]);
	free(w->missing);
	sbpolicy_free(&w->sp);
	free(w);
}

void fs_watches_drop(struct fs_session *fss)
{
	while (!dlist_empty(&fss->watches))
		fs_watch_free(fss, container_of(fss->watches.next, struct fs_watch, link));
}

/* Watch the deepest existing ancestor of each missing path. 0 or -errno.
 * Plain syscalls: runs inside the request's sandbox at registration. */
static int fs_watch_ancestors(const struct engine_ops *ops, struct fileio_watch *io,
			      char *const *missing, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char *p = strdup(missing[i]);
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
			int r = ops->watch_dir(io, p);
			if (r == 0 || r == -ENOTDIR || r == -EACCES || strcmp(p, "/") == 0)
				break;
			if (r != -ENOENT) {
				free(p);
				return r;
			}
		}
		free(p);
	}
	return 0;
}

static void fs_watch_notify(struct fs_watch *w)
{
	struct conn *c = w->s->conn;
	if (!c)
		return;
	struct jw jw;
	buf_reset(&c->pr->scratch);
	jw_init(&jw, &c->pr->scratch);
	rpc_notification_begin(&jw, "fs/missingChanged");
	jw_obj_open(&jw);
	jw_key(&jw, "watchId");
	jw_u64(&jw, w->watch_id);
	jw_obj_close(&jw);
	rpc_notification_end(&jw);
	conn_send_note(c, &jw);
}

/* After an event: has a missing path appeared? If not (and the read is
 * fine), watch the ancestors again, the tree may have changed. */
struct fs_watch_look {
	struct fs_watch *w;
	int err;			/* the event's */
	bool fire;
	int r;				/* re-watching's */
};

static int fs_watch_relook(void *arg)
{
	struct fs_watch_look *l = arg;
	struct fs_watch *w = l->w;
	for (size_t i = 0; i < w->nmissing && !l->fire; i++)
		l->fire = fs_op_exists(w->missing[i]);
	if (!l->fire && (l->err == 0 || l->err == -EINTR || l->err == -EAGAIN))
		l->r = fs_watch_ancestors(w->s->pr->ops, w->io, w->missing, w->nmissing);
	return 0;
}

static void fs_watch_event(void *ctx, int err)
{
	struct fs_watch *w = ctx;
	struct fs_watch_look l = { .w = w, .err = err };
	if (fs_run_confined(w->s->pr, w->confined ? &w->sp : NULL, fs_watch_relook, &l) < 0)
		return fs_watch_free(w->s->fs, w);	/* cannot look where it must: it ends */
	if (l.fire)
		fs_watch_notify(w);
	if (l.fire || (err < 0 && err != -EINTR && err != -EAGAIN) || l.r < 0)
		fs_watch_free(w->s->fs, w);
}

/* ---- fs/watchMissing ---- */

struct fs_watch_req {
	uint64_t watch_id;
	char **paths;			/* the missing list decoded */
	size_t npaths;
	char *present;			/* or NULL */
	bool watching;			/* execute: paths kept are missing, present exists */
	struct fileio_watch *io;	/* execute 2: the ancestors to watch */
	const struct engine_ops *ops;	/* ... through the engine's table */
	int r;
};

static int fs_watch_decode(const json_t *params, struct fs_watch_req *q, struct fs_err *e)
{
	struct pd_err pe;
	const json_t *missing;
	if (fs_decode_object(params, "WatchMissingParams", e) < 0 ||
	    fs_decode_u64(params, "watchId", "u64", &q->watch_id, e) < 0)
		return -1;
	if (pd_strings(params, "missing", true, &missing, &pe) < 0)
		return fs_err_pd(e, &pe);
	if (fs_decode_path(params, "present", false, &q->present, e) < 0)
		return -1;
	if (!(q->paths = calloc(json_array_size(missing) + 1, sizeof(*q->paths))))
		return fs_err_set(e, RPC_INTERNAL_ERROR, "out of memory");
	for (size_t i = 0; i < json_array_size(missing); i++) {
		const char *uri = json_string_value(json_array_get(missing, i));
		if (!(q->paths[q->npaths] = uri_to_path(uri, &e->code, e->msg, sizeof(e->msg))))
			return -1;
		q->npaths++;
	}
	return 0;
}

/* Keep only the paths that are missing now; watching if any are and the
 * present path (if given) exists. */
static int fs_watch_look(void *arg)
{
	struct fs_watch_req *q = arg;
	size_t nm = 0;
	for (size_t i = 0; i < q->npaths; i++) {
		if (fs_op_exists(q->paths[i]))
			free(q->paths[i]);
		else
			q->paths[nm++] = q->paths[i];
	}
	q->npaths = nm;
	q->watching = nm > 0 && (!q->present || fs_op_exists(q->present));
	return 0;
}

static int fs_watch_add(void *arg)
{
	struct fs_watch_req *q = arg;
	q->r = fs_watch_ancestors(q->ops, q->io, q->paths, q->npaths);
	return 0;
}

/* Room for one more watch and watchId in the session. 0, or -1 answered. */
static int fs_watch_room(struct fs_call *k, struct fs_session *fss)
{
	if (fss->nwatches >= FS_WATCHES_MAX || fss->nwatch_ids >= FS_WATCH_IDS_MAX) {
		conn_reply_error(k->c, k->id, RPC_INTERNAL_ERROR, "too many watches");
		return -1;
	}
	if (fss->nwatch_ids == fss->watch_ids_cap) {
		size_t cap = fss->watch_ids_cap ? fss->watch_ids_cap * 2 : 16;
		uint64_t *v = realloc(fss->watch_ids, cap * sizeof(*v));
		if (!v) {
			fs_reply_oom(k);
			return -1;
		}
		fss->watch_ids = v;
		fss->watch_ids_cap = cap;
	}
	return 0;
}

/* Register the watch q describes (its paths taken). 0, or -1 answered. */
static int fs_watch_register(struct fs_call *k, struct fs_session *fss, struct fs_watch_req *q)
{
	if (fs_watch_room(k, fss) < 0)
		return -1;
	struct fs_watch *w = calloc(1, sizeof(*w));
	if (!w) {
		fs_reply_oom(k);
		return -1;
	}
	const struct engine_ops *ops = q->ops = k->c->pr->ops;
	int r = ops->watch_new(k->c->pr->eng, &q->io);
	if (r == 0 && fs_run(k, fs_watch_add, q) < 0) {
		ops->watch_drop(q->io);	/* answered */
		free(w);
		return -1;
	}
	if (r == 0 && q->r < 0) {
		ops->watch_drop(q->io);
		r = q->r;
	}
	if (r < 0) {
		free(w);
		fs_reply_os(k, r);
		return -1;
	}
	*w = (struct fs_watch){ .s = k->c->sess, .io = q->io, .watch_id = q->watch_id,
				.missing = q->paths, .nmissing = q->npaths };
	w->confined = fs_policy_take(k, &w->sp);
	q->paths = NULL;
	q->npaths = 0;
	fss->watch_ids[fss->nwatch_ids++] = w->watch_id;
	dlist_add_tail(&fss->watches, &w->link);
	fss->nwatches++;
	ops->watch_start(w->io, fs_watch_event, w);
	return 0;
}

/* Past the gate: look, register when watching, answer. */
static void fs_watch_answer(struct fs_call *k, struct fs_watch_req *q)
{
	struct fs_session *fss = fs_session_of(k->c->sess, true);
	if (!fss)
		return fs_reply_oom(k);
	if (fs_run(k, fs_watch_look, q) < 0)
		return;
	bool used = false;
	for (size_t i = 0; i < fss->nwatch_ids && !used; i++)
		used = fss->watch_ids[i] == q->watch_id;
	bool watching = !used && q->watching;
	if (watching && fs_watch_register(k, fss, q) < 0)
		return;
	struct jw jw = conn_result_begin(k->c, k->id);
	jw_obj_open(&jw);
	jw_key(&jw, "watching");
	jw_bool(&jw, watching);
	jw_obj_close(&jw);
	conn_result_end(k->c, k->id, &jw);
}

void fs_watch_missing(struct fs_call *k, const json_t *params)
{
	struct fs_watch_req q = { 0 };
	struct fs_err e;
	if (fs_watch_decode(params, &q, &e) < 0)
		fs_reply_err(k, &e);
	else if (fs_gate(k))
		fs_watch_answer(k, &q);
	for (size_t i = 0; i < q.npaths; i++)
		free(q.paths[i]);
	free(q.paths);
	free(q.present);
}
