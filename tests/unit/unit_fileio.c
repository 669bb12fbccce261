/* unit_fileio: engine/fileio on a real ring.
 *
 * Whole-file reads: a small file, one of several 1 MiB pieces (the bytes
 * come back exact), a file of exactly max bytes and one of max + 1
 * (-EFBIG), a read error; a cancelled read never calls back and its fd is
 * closed. Watches: an event comes for an entry made in a watched
 * directory, a watch may drop itself from its callback, a dropped one
 * never calls back. Tasks run on the next turn, once per next(), and may
 * free themselves. Whatever is left at the end goes with fileio_free
 * (ASan's leak check sees the rest). The engine is a bare struct engine
 * (engine_int.h) holding only the loop and the fileio set: no signals, no
 * sandbox probe.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine_int.h"
#include "fileio.h"
#include "loop.h"
#include "tap.h"

static struct loop *lp;
static struct engine eng;		/* just what fileio uses of it */
static struct loop_timer guard;		/* ends a run that would never end */
static bool guard_fired;
static char dir[64];

static void guard_fn(struct loop_timer *t)
{
	(void)t;
	guard_fired = true;
	loop_stop(lp);
}

/* Run the loop until a callback stops it (or 5 s pass: false). */
static bool run(void)
{
	guard_fired = false;
	loop_timer_init(&guard, guard_fn);
	loop_timer_arm(lp, &guard, 5000);
	int r = loop_run(lp);
	loop_timer_cancel(lp, &guard);
	return r == 0 && !guard_fired;
}

static struct loop_timer pause_timer;

static void pause_fn(struct loop_timer *t)
{
	(void)t;
	loop_stop(lp);
}

/* Let the loop run (completions, cancels) for ms. */
static void run_for(uint64_t ms)
{
	loop_timer_init(&pause_timer, pause_fn);
	loop_timer_arm(lp, &pause_timer, ms);
	loop_run(lp);
}

static void setup(void)
{
	if (loop_new(&lp, 64) < 0 || fileio_new(&eng.fileio, lp) < 0) {
		printf("Bail out! no ring\n");
		exit(1);
	}
	eng.loop = lp;
}

/* ---- reads ---- */

struct got {
	int calls, err;
	char *data;
	size_t len;
};

static void read_done(void *ctx, int err, const char *data, size_t len)
{
	struct got *g = ctx;
	g->calls++;
	g->err = err;
	g->len = len;
	free(g->data);
	g->data = data ? malloc(len + 1) : NULL;
	if (g->data)
		memcpy(g->data, data, len);
	loop_stop(lp);
}

/* A file of n pseudo-random bytes (a copy in *bytes); the fd open for reading. */
static int make_file(const char *name, size_t n, char **bytes)
{
	char p[128];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	char *b = malloc(n ? n : 1);
	uint32_t x = 2463534242u;
	for (size_t i = 0; i < n; i++) {
		x ^= x << 13, x ^= x >> 17, x ^= x << 5;
		b[i] = (char)x;
	}
	int fd = open(p, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, b, n) != (ssize_t)n) {
		free(b);
		return -1;
	}
	*bytes = b;
	return fd;
}

static void read_whole(size_t n, size_t hint, size_t max, int want_err)
{
	char *bytes;
	int fd = make_file("r.bin", n, &bytes);
	REQUIRE(fd >= 0);
	struct got g = { 0 };
	struct fileio_read *r;
	REQUIRE(fileio_read_start(&eng, fd, hint, max, read_done, &g, &r) == 0);
	CHECK(g.calls == 0);	/* never before start returns */
	CHECK(run());
	CHECKF(g.calls == 1 && g.err == want_err, "n %zu: calls %d err %d", n, g.calls, g.err);
	if (want_err == 0)
		CHECKF(g.len == n && g.data && memcmp(g.data, bytes, n) == 0, "n %zu: len %zu", n, g.len);
	CHECK(fcntl(fd, F_GETFD) < 0 && errno == EBADF);	/* closed by fileio */
	free(g.data);
	free(bytes);
}

static void test_read_sizes(void)
{
	read_whole(10, 10, 1000, 0);
	read_whole(0, 0, 1000, 0);
	read_whole((5u << 19) + 3, 4096, 8u << 20, 0);	/* 2.5 MiB: three pieces, grown from a small hint */
	read_whole(1000, 1000, 1000, 0);		/* exactly max */
	read_whole(1001, 1001, 1000, -EFBIG);
	read_whole((3u << 20), 0, (2u << 20) + 5, -EFBIG);
}

static void test_read_error(void)
{
	char p[128];
	snprintf(p, sizeof(p), "%s/w.bin", dir);
	int fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	REQUIRE(fd >= 0);
	struct got g = { 0 };
	struct fileio_read *r;
	REQUIRE(fileio_read_start(&eng, fd, 0, 1000, read_done, &g, &r) == 0);
	CHECK(run());
	CHECKF(g.calls == 1 && g.err == -EBADF, "calls %d err %d", g.calls, g.err);
	free(g.data);
}

static void task_stop(void *ctx)
{
	(*(int *)ctx)++;
	loop_stop(lp);
}

static void test_read_cancel(void)
{
	char *bytes;
	int fd = make_file("c.bin", 3u << 20, &bytes);
	REQUIRE(fd >= 0);
	struct got g = { 0 };
	struct fileio_read *r;
	REQUIRE(fileio_read_start(&eng, fd, 0, 8u << 20, read_done, &g, &r) == 0);
	fileio_read_cancel(r);
	/* Its completion comes back (freeing it and closing fd) in a few turns. */
	for (int i = 0; i < 2000 && fcntl(fd, F_GETFD) >= 0; i++)
		run_for(1);
	CHECKF(g.calls == 0, "a cancelled read called back %d times", g.calls);
	CHECK(fcntl(fd, F_GETFD) < 0 && errno == EBADF);
	free(bytes);
}

/* ---- watches ---- */

struct seen {
	int events;
	struct fileio_watch *w;
	bool drop;		/* drop the watch from its callback */
};

static void watch_event(void *ctx, int err)
{
	struct seen *s = ctx;
	if (err == 0)
		s->events++;
	if (s->drop)
		fileio_watch_drop(s->w);
	loop_stop(lp);
}

static void test_watch(void)
{
	char sub[128], file[160];
	snprintf(sub, sizeof(sub), "%s/wd", dir);
	REQUIRE(mkdir(sub, 0700) == 0);
	struct seen s = { .drop = true };
	REQUIRE(fileio_watch_new(&eng, &s.w) == 0);
	CHECK(fileio_watch_dir(s.w, sub) == 0);
	CHECK(fileio_watch_dir(s.w, "/nonexistent/dir") == -ENOENT);
	snprintf(file, sizeof(file), "%s/x", dir);
	close(open(file, O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
	CHECK(fileio_watch_dir(s.w, file) == -ENOTDIR);	/* IN_ONLYDIR */
	fileio_watch_start(s.w, watch_event, &s);
	snprintf(file, sizeof(file), "%s/new", sub);
	close(open(file, O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
	CHECK(run());
	CHECKF(s.events == 1, "%d events", s.events);
	/* Dropped from its callback: nothing more, whatever happens there. */
	snprintf(file, sizeof(file), "%s/more", sub);
	close(open(file, O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
	run_for(50);
	CHECK(s.events == 1);
}

static void test_watch_drop_in_flight(void)
{
	struct seen s = { 0 };
	REQUIRE(fileio_watch_new(&eng, &s.w) == 0);
	CHECK(fileio_watch_dir(s.w, dir) == 0);
	fileio_watch_start(s.w, watch_event, &s);
	fileio_watch_drop(s.w);	/* its read is in flight: cancelled, freed on completion */
	char file[128];
	snprintf(file, sizeof(file), "%s/after-drop", dir);
	close(open(file, O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
	run_for(50);
	CHECK(s.events == 0);
}

/* ---- tasks ---- */

struct counted {
	int runs;
	struct fileio_task *t;
	bool free_self;
};

static void task_count(void *ctx)
{
	struct counted *c = ctx;
	c->runs++;
	if (c->free_self)
		fileio_task_free(c->t);
	loop_stop(lp);
}

static void test_tasks(void)
{
	struct counted c = { 0 };
	REQUIRE(fileio_task_new(&eng, task_count, &c, &c.t) == 0);
	CHECK(c.runs == 0);
	fileio_task_next(c.t);
	fileio_task_next(c.t);	/* once per turn, however often asked */
	CHECK(c.runs == 0);	/* not before the next turn */
	CHECK(run());
	CHECK(c.runs == 1);
	c.free_self = true;
	fileio_task_next(c.t);
	CHECK(run());
	CHECK(c.runs == 2);
	/* A task freed while queued never runs. */
	struct counted d = { 0 };
	REQUIRE(fileio_task_new(&eng, task_count, &d, &d.t) == 0);
	fileio_task_next(d.t);
	fileio_task_free(d.t);
	struct counted e = { .free_self = true };
	REQUIRE(fileio_task_new(&eng, task_count, &e, &e.t) == 0);
	fileio_task_next(e.t);
	CHECK(run());
	CHECK(d.runs == 0 && e.runs == 1);
}

/* Left behind: freed with the set (ASan checks). */
static void test_free_with_live_objects(void)
{
	struct fileio_watch *w;
	struct fileio_task *t;
	struct fileio_read *r;
	char *bytes;
	struct got g = { 0 };
	int fd = make_file("left.bin", 100, &bytes);
	REQUIRE(fd >= 0);
	REQUIRE(fileio_watch_new(&eng, &w) == 0);
	fileio_watch_start(w, watch_event, NULL);
	REQUIRE(fileio_task_new(&eng, task_stop, NULL, &t) == 0);
	REQUIRE(fileio_read_start(&eng, fd, 100, 1000, read_done, &g, &r) == 0);
	fileio_free(eng.fileio);
	eng.fileio = NULL;
	CHECK(g.calls == 0);
	free(bytes);
}

static const struct tap_case cases[] = {
	{ "read_sizes", test_read_sizes },
	{ "read_error", test_read_error },
	{ "read_cancel", test_read_cancel },
	{ "watch", test_watch },
	{ "watch_drop_in_flight", test_watch_drop_in_flight },
	{ "tasks", test_tasks },
	{ "free_with_live_objects", test_free_with_live_objects },
	{ NULL, NULL },
};

int main(int argc, char **argv)
{
	snprintf(dir, sizeof(dir), "/tmp/unit_fileio.XXXXXX");
	if (!mkdtemp(dir))
		return 1;
	setup();
	int rc = tap_main(argc, argv, cases);
	fileio_free(eng.fileio);
	loop_free(lp);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		rc = rc ? rc : 1;
	return rc;
}
