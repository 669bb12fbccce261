/* fileio: asynchronous file work for the fs methods (see fileio.h).
 *
 * Owns every whole-file read, inotify watch and task while it is alive, in
 * three lists of the engine's struct fileio: a cancelled read or a dropped
 * watch whose op is still in the kernel stays on its list, callback
 * cleared, until the completion comes (then it is freed) or engine_free
 * frees it. Must not: know JSON or the protocol, block (the only syscalls
 * are inotify's and close), or call a user back after a cancel or drop.
 */
#include "fileio.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "engine_int.h"
#include "loop.h"
#include "util.h"

/* A link in one of the set's lists (circular, with a head node). */
struct fio_node {
	struct fio_node *prev, *next;
};

struct fileio {
	struct loop *loop;
	struct fio_node reads, watches, tasks;
};

struct fileio_read {
	struct fio_node node;		/* in fio->reads */
	struct fileio *fio;
	struct loop_op op;		/* the IORING_OP_READ in flight (always one) */
	int fd;
	char *data;
	size_t len, cap, max;
	fileio_read_done *done;		/* NULL once cancelled */
	void *ctx;
};

struct fileio_watch {
	struct fio_node node;		/* in fio->watches */
	struct fileio *fio;
	struct loop_op op;		/* the read of ifd */
	int ifd;
	fileio_watch_event *fn;
	void *ctx;
	bool inflight;			/* op submitted, not completed */
	bool in_event;			/* fn is running */
	bool dropped;			/* freed once neither of the above */
	char evbuf[4096] __attribute__((aligned(8)));
};

struct fileio_task {
	struct fio_node node;		/* in fio->tasks */
	struct fileio *fio;
	struct loop_defer defer;
	fileio_task_fn *fn;
	void *ctx;
};

static void fio_init(struct fio_node *head)
{
	head->prev = head->next = head;
}

static void fio_link(struct fio_node *head, struct fio_node *n)
{
	n->prev = head->prev;
	n->next = head;
	head->prev->next = n;
	head->prev = n;
}

static void fio_unlink(struct fio_node *n)
{
	n->prev->next = n->next;
	n->next->prev = n->prev;
	n->prev = n->next = n;
}

static struct fileio *fio_of(struct engine *eng)
{
	return eng->fileio;
}

/* ---- whole-file reads ---- */

static void fio_read_free(struct fileio_read *r)
{
	fio_unlink(&r->node);
	close(r->fd);
	free(r->data);
	free(r);
}

/* The read is over: tell its user (unless cancelled) and free it. */
static void fio_read_end(struct fileio_read *r, int err)
{
	if (r->done)
		r->done(r->ctx, err, err ? NULL : r->data, err ? 0 : r->len);
	fio_read_free(r);
}

/* Submit the next piece, growing the buffer when it is full. 0 or -ENOMEM. */
static int fio_read_submit(struct fileio_read *r)
{
	if (r->len == r->cap) {
		size_t cap = r->cap * 2;
		if (cap > r->max + 1)
			cap = r->max + 1;
		char *d = cap > r->cap ? realloc(r->data, cap) : NULL;
		if (!d)
			return -ENOMEM;
		r->data = d;
		r->cap = cap;
	}
	size_t want = r->cap - r->len;
	if (want > FILEIO_READ_CHUNK)
		want = FILEIO_READ_CHUNK;
	struct io_uring_sqe *sqe = loop_sqe(r->fio->loop, &r->op);
	io_uring_prep_read(sqe, r->fd, r->data + r->len, (unsigned)want, (uint64_t)r->len);
	return 0;
}

static void fio_read_cb(struct loop_op *op, int res, uint32_t flags)
{
	(void)flags;
	struct fileio_read *r = container_of(op, struct fileio_read, op);
	if (!r->done) {
		fio_read_free(r);	/* cancelled: this was its last op */
		return;
	}
	if (res == -EINTR || res == -EAGAIN) {
		res = fio_read_submit(r);
		if (res < 0)
			fio_read_end(r, res);
		return;
	}
	if (res <= 0) {
		fio_read_end(r, res);	/* 0: end of file */
		return;
	}
	r->len += (size_t)res;
	if (r->len > r->max) {
		fio_read_end(r, -EFBIG);
		return;
	}
	res = fio_read_submit(r);
	if (res < 0)
		fio_read_end(r, res);
}

int fileio_read_start(struct engine *eng, int fd, size_t size_hint, size_t max,
		      fileio_read_done *done, void *ctx, struct fileio_read **out)
{
	struct fileio *fio = fio_of(eng);
	size_t cap = size_hint < max ? size_hint + 1 : max + 1;
	if (cap < 4096)
		cap = 4096;
	if (cap > max + 1)
		cap = max + 1;
	struct fileio_read *r = calloc(1, sizeof(*r));
	char *data = r ? malloc(cap) : NULL;
	if (!data) {
		free(r);
		close(fd);
		return -ENOMEM;
	}
	r->fio = fio;
	r->op.cb = fio_read_cb;
	r->fd = fd;
	r->data = data;
	r->cap = cap;
	r->max = max;
	r->done = done;
	r->ctx = ctx;
	fio_link(&fio->reads, &r->node);
	int ret = fio_read_submit(r);	/* cannot fail: the buffer has room */
	if (ret < 0) {
		fio_read_free(r);
		return ret;
	}
	*out = r;
	return 0;
}

void fileio_read_cancel(struct fileio_read *r)
{
	r->done = NULL;
	loop_cancel(r->fio->loop, &r->op);
}

/* ---- inotify watches ---- */

static void fio_watch_free(struct fileio_watch *w)
{
	fio_unlink(&w->node);
	close(w->ifd);
	free(w);
}

static void fio_watch_arm(struct fileio_watch *w)
{
	struct io_uring_sqe *sqe = loop_sqe(w->fio->loop, &w->op);
	io_uring_prep_read(sqe, w->ifd, w->evbuf, sizeof(w->evbuf), (uint64_t)-1);
	w->inflight = true;
}

static void fio_watch_cb(struct loop_op *op, int res, uint32_t flags)
{
	(void)flags;
	struct fileio_watch *w = container_of(op, struct fileio_watch, op);
	w->inflight = false;
	if (!w->dropped) {
		w->in_event = true;
		w->fn(w->ctx, res < 0 ? res : 0);
		w->in_event = false;
	}
	if (w->dropped)
		fio_watch_free(w);
	else
		fio_watch_arm(w);
}

int fileio_watch_new(struct engine *eng, struct fileio_watch **out)
{
	struct fileio *fio = fio_of(eng);
	struct fileio_watch *w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->ifd = inotify_init1(IN_CLOEXEC);
	if (w->ifd < 0) {
		int err = errno;
		free(w);
		return -err;
	}
	w->fio = fio;
	w->op.cb = fio_watch_cb;
	fio_link(&fio->watches, &w->node);
	*out = w;
	return 0;
}

int fileio_watch_dir(struct fileio_watch *w, const char *dir)
{
	int wd = inotify_add_watch(w->ifd, dir, IN_CREATE | IN_MOVED_TO | IN_DELETE_SELF |
						     IN_MOVE_SELF | IN_ONLYDIR);
	return wd < 0 ? -errno : 0;
}

void fileio_watch_start(struct fileio_watch *w, fileio_watch_event *fn, void *ctx)
{
	w->fn = fn;
	w->ctx = ctx;
	if (!w->inflight)
		fio_watch_arm(w);
}

void fileio_watch_drop(struct fileio_watch *w)
{
	w->dropped = true;
	if (w->in_event)
		return;			/* freed when fn returns */
	if (w->inflight)
		loop_cancel(w->fio->loop, &w->op);	/* freed on its completion */
	else
		fio_watch_free(w);
}

/* ---- tasks ---- */

static void fio_task_run(struct loop_defer *d)
{
	struct fileio_task *t = container_of(d, struct fileio_task, defer);
	t->fn(t->ctx);
}

int fileio_task_new(struct engine *eng, fileio_task_fn *fn, void *ctx, struct fileio_task **out)
{
	struct fileio *fio = fio_of(eng);
	struct fileio_task *t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->fio = fio;
	t->defer.fn = fio_task_run;
	t->fn = fn;
	t->ctx = ctx;
	fio_link(&fio->tasks, &t->node);
	*out = t;
	return 0;
}

void fileio_task_next(struct fileio_task *t)
{
	loop_defer(t->fio->loop, &t->defer);
}

void fileio_task_free(struct fileio_task *t)
{
	loop_defer_cancel(t->fio->loop, &t->defer);
	fio_unlink(&t->node);
	free(t);
}

/* ---- the set ---- */

int fileio_new(struct fileio **out, struct loop *lp)
{
	struct fileio *fio = calloc(1, sizeof(*fio));
	if (!fio)
		return -ENOMEM;
	fio->loop = lp;
	fio_init(&fio->reads);
	fio_init(&fio->watches);
	fio_init(&fio->tasks);
	*out = fio;
	return 0;
}

void fileio_free(struct fileio *fio)
{
	if (!fio)
		return;
	while (fio->reads.next != &fio->reads)
		fio_read_free(container_of(fio->reads.next, struct fileio_read, node));
	while (fio->watches.next != &fio->watches)
		fio_watch_free(container_of(fio->watches.next, struct fileio_watch, node));
	while (fio->tasks.next != &fio->tasks)
		fileio_task_free(container_of(fio->tasks.next, struct fileio_task, node));
	free(fio);
}
