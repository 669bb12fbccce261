/* engine: shared state of all procs; signals; orphan reaping.
 *
 * SIGCHLD, SIGTERM and SIGINT are blocked and read from a signalfd on the
 * ring, so no work ever runs in a signal handler (DESIGN rule 5). As child
 * subreaper, orphans of our children reparent to us: on SIGCHLD we reap
 * only pids no proc tracks (tracked children are reaped via their pidfd),
 * never with a blind waitid(P_ALL), which could steal a tracked status.
 */
#include "engine_int.h"
#include "fileio.h"
#include "log.h"
#include "proc.h"
#include "sandbox.h"
#include "spawn.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#define ENGINE_OUT_BGID 1
#define ENGINE_OUT_BUFS 64
#define ENGINE_OUT_BUF_SIZE (64 * 1024)
/* Our own children exit without a signal (spawn.c); SIGCHLD comes from
 * orphans, whose exit signal the kernel sets to SIGCHLD when they reparent.
 * The orphan scan (an open and read of /proc) runs this long after the
 * first one, and once for a burst of exits. */
#define ENGINE_ORPHAN_SCAN_MS 2
/* Once this much output has been freed, the heap's free pages go back to
 * the kernel (malloc keeps them otherwise), a little later and once for a
 * burst of frees. */
#define ENGINE_TRIM_BYTES (4u << 20)
#define ENGINE_TRIM_MS 50

static void engine_sig_arm(struct engine *eng);

static void engine_trim(struct loop_timer *t)
{
	struct engine *eng = container_of(t, struct engine, trim);
	eng->freed = 0;
	malloc_trim(0);
}

void engine_note_freed(struct engine *eng, size_t n)
{
	eng->freed += n;
	if (eng->freed >= ENGINE_TRIM_BYTES && !loop_timer_armed(&eng->trim))
		loop_timer_arm(eng->loop, &eng->trim, ENGINE_TRIM_MS);
}
static void engine_unstarve(struct loop_defer *d);

/* Reap children that no proc tracks (orphans reparented to us). */
static void engine_reap_orphans(struct engine *eng)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/self/task/%d/children", (int)gettid());
	FILE *f = fopen(path, "re");
	if (!f)
		return;
	long pid;
	while (fscanf(f, "%ld", &pid) == 1) {
		if (engine_tracks_pid(eng, (pid_t)pid))
			continue;
		siginfo_t si;
		memset(&si, 0, sizeof(si));
		waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | __WALL);
	}
	fclose(f);
}

static void engine_orphan_timer(struct loop_timer *t)
{
	engine_reap_orphans(container_of(t, struct engine, orphan_timer));
}

/* The signalfd became readable: drain it, then poll again. The read is a
 * plain non-blocking read(2): a signalfd read must run in our own task, so
 * it is not handed to the ring (an io-wq worker would read its own queue). */
static void engine_sig_done(struct loop_op *op, int res, uint32_t flags)
{
	(void)flags;
	struct engine *eng = container_of(op, struct engine, sig_op);
	eng->sig_inflight = false;
	if (res == -ECANCELED)
		return;
	struct signalfd_siginfo ssi;
	while (read(eng->sigfd, &ssi, sizeof(ssi)) == (ssize_t)sizeof(ssi)) {
		int signo = (int)ssi.ssi_signo;
		if (signo == SIGCHLD) {
			if (!loop_timer_armed(&eng->orphan_timer))
				loop_timer_arm(eng->loop, &eng->orphan_timer, ENGINE_ORPHAN_SCAN_MS);
		} else if (eng->cfg.on_shutdown_signal)
			eng->cfg.on_shutdown_signal(eng->cfg.ctx, signo);
	}
	engine_sig_arm(eng);
}

static void engine_sig_arm(struct engine *eng)
{
	if (eng->sig_inflight || eng->sigfd < 0)
		return;
	eng->sig_op.cb = engine_sig_done;
	struct io_uring_sqe *sqe = loop_sqe(eng->loop, &eng->sig_op);
	io_uring_prep_poll_add(sqe, eng->sigfd, POLLIN);
	eng->sig_inflight = true;
}

/* The first engine sets spawning up (unless the caller did): children
 * keep the fd limit the process started with, the server takes the hard
 * one, so a busy server does not run out of fds before its children do. */
static int engine_spawn_setup(void)
{
	struct rlimit nofile;
	if (spawn_ready())
		return 0;
	if (getrlimit(RLIMIT_NOFILE, &nofile) < 0)
		return -errno;
	int ret = spawn_init(&nofile);
	if (ret < 0)
		return ret;
	struct rlimit raised = { nofile.rlim_max, nofile.rlim_max };
	if (setrlimit(RLIMIT_NOFILE, &raised) < 0)
		log_warn("cannot raise the fd limit to %llu: %s",
			 (unsigned long long)nofile.rlim_max, strerror(errno));
	return 0;
}

int engine_new(struct engine **out, struct loop *lp, const struct engine_config *cfg)
{
	int ret = engine_spawn_setup();
	if (ret < 0)
		return ret;
	struct engine *eng = calloc(1, sizeof(*eng));
	if (!eng)
		return -ENOMEM;
	eng->loop = lp;
	eng->cfg = *cfg;
	if (!eng->cfg.max_retained)
		eng->cfg.max_retained = (size_t)256 << 20;
	eng->sigfd = -1;
	eng->unstarve.fn = engine_unstarve;
	loop_timer_init(&eng->orphan_timer, engine_orphan_timer);
	loop_timer_init(&eng->trim, engine_trim);

	eng->devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (eng->devnull < 0) {
		ret = -errno;
		goto fail;
	}
	ret = loop_bufs_new(lp, &eng->out_bufs, ENGINE_OUT_BGID, ENGINE_OUT_BUFS,
			    ENGINE_OUT_BUF_SIZE);
	if (ret < 0)
		goto fail;

	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0) {
		ret = -errno;
		goto fail;
	}
	eng->sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (eng->sigfd < 0) {
		ret = -errno;
		goto fail;
	}
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0) {
		ret = -errno;
		goto fail;
	}
	struct sandbox_config scfg = { .hide = cfg->sandbox_hide };
	ret = sandbox_set_new(&eng->sandboxes, lp, &scfg);
	if (ret < 0)
		goto fail;
	ret = fileio_new(&eng->fileio, lp);
	if (ret < 0)
		goto fail;
	const char *how;
	if (sandbox_set_available(eng->sandboxes, &how))
		log_info("sandbox: ready: mount, PID, IPC and network namespaces %s, "
			 "seccomp-bpf, no capabilities, no_new_privs (uid %d)", how, (int)geteuid());
	else
		log_warn("sandbox: unavailable (%s): sandboxed starts will be refused", how);
	engine_sig_arm(eng);
	*out = eng;
	return 0;

fail:
	engine_free(eng);
	return ret;
}

void engine_free(struct engine *eng)
{
	if (!eng)
		return;
	loop_defer_cancel(eng->loop, &eng->unstarve);
	loop_timer_cancel(eng->loop, &eng->orphan_timer);
	loop_timer_cancel(eng->loop, &eng->trim);
	fileio_free(eng->fileio);
	sandbox_set_free(eng->sandboxes);
	if (eng->out_bufs)
		loop_bufs_free(eng->loop, eng->out_bufs);
	if (eng->sigfd >= 0)
		close(eng->sigfd);
	if (eng->devnull >= 0)
		close(eng->devnull);
	free(eng);
}

size_t engine_retained(const struct engine *eng)
{
	return eng->retained;
}

void engine_stats(const struct engine *eng, struct engine_stats *out)
{
	*out = eng->stats;
	out->retained = eng->retained;
}

bool engine_sandbox_available(const struct engine *eng, const char **why)
{
	return sandbox_set_available(eng->sandboxes, why);
}

bool engine_sandboxed_peer(struct engine *eng, pid_t pid, uint64_t inode)
{
	for (const struct proc *p = eng->procs; p; p = proc_next(p))
		if (proc_holds_peer(p, pid, inode))
			return true;
	return false;
}

struct sandbox_set *engine_sandboxes(struct engine *eng)
{
	return eng->sandboxes;
}

static void engine_unstarve(struct loop_defer *d)
{
	struct engine *eng = container_of(d, struct engine, unstarve);
	if (eng->retained >= eng->cfg.max_retained)
		return;
	eng->starved = false;
	engine_unstarve_procs(eng);
}

void engine_retained_add(struct engine *eng, long delta)
{
	eng->retained = (size_t)((long)eng->retained + delta);
	if (eng->starved && eng->retained < eng->cfg.max_retained)
		loop_defer(eng->loop, &eng->unstarve);
}

struct loop *engine_loop(struct engine *eng)
{
	return eng->loop;
}

size_t engine_live_procs(const struct engine *eng)
{
	return eng->nprocs;
}
