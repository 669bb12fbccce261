/* sandbox_build: make a template's view of the file system (see the header).
 *
 * In the new mount namespace, with the host's tree still visible:
 *   1. clone every granted tree (open_tree) and set its flags: read-only,
 *      or writable as the host has it; nosuid and nodev on both;
 *   2. take the device nodes of a minimal /dev and the host's /proc (the
 *      kernel lets a user namespace mount a /proc of its own only where a
 *      full one is visible already);
 *   3. make the new root (the clone of "/" when it is granted, else an
 *      empty tmpfs), pivot into it, drop the old one;
 *   4. attach the clones in rule order (by depth: the longer path is
 *      applied later and wins), mask denied paths (an empty mode-000 tmpfs
 *      over a directory, an empty mode-000 file over anything else);
 *   5. a fresh /dev, the host's /proc covered by an empty read-only tmpfs
 *      (each command mounts its own over it), the hidden paths masked,
 *      and every tmpfs of ours made read-only.
 * Runs in a forked child that shares our fd table; its results go to the
 * shared struct sb_build. rawsys.h only, so it could share memory too.
 */
#include "sandbox_build.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/mount.h>
#include <sched.h>
#include <stdint.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>

#include "rawsys.h"
#include "sandbox.h"

#define SB_CHILD __attribute__((noinline, no_sanitize("address", "undefined")))

/* Staging point for the new root before the pivot: always a directory. */
#define SB_STAGE "/proc"

static const char *const sb_devices[] = { "null", "zero", "full", "random", "urandom", "tty" };
#define SB_NDEV (sizeof(sb_devices) / sizeof(sb_devices[0]))

struct sb_state {
	struct sb_build *b;
	int srcfd[SANDBOX_MAX_RULES];	/* clone per rule, -1: none (missing, or deny) */
	bool srcdir[SANDBOX_MAX_RULES];
	int devfd[SB_NDEV];
	int procfd;			/* the host's /proc (tmpfs root only) */
	int rootfd;			/* the new root mount */
	bool tmpfs_root;
	int efs;			/* a private tmpfs holding the empty file "e" */
	int ro_later[SANDBOX_MAX_RULES + 8];	/* tmpfs mounts to make read-only at the end */
	size_t nro;
};

/* Close what we opened. The count goes down before each close: if we are
 * killed in between, the parent (which closes what is still counted)
 * leaks one fd rather than closing one of its own that reused the number. */
static SB_CHILD void sb_close_tracked(struct sb_build *b)
{
	while (b->nfds > 0) {
		int fd = b->fds[b->nfds - 1];
		b->nfds--;
		rs_sys1(SYS_close, fd);
	}
}

static SB_CHILD __attribute__((noreturn)) void sb_fail(struct sb_state *st, long err,
						       const char *step, const char *path)
{
	struct sb_build *b = st->b;
	b->err = (int)err;
	b->step = step;
	b->step_path = path;
	sb_close_tracked(b);
	for (;;)
		rs_sys1(SYS_exit_group, 1);
}

/* Keep track of an fd we opened (closed when the child is done). */
static SB_CHILD long sb_track(struct sb_state *st, long fd, const char *step, const char *path)
{
	if (fd < 0)
		sb_fail(st, fd, step, path);
	if (st->b->nfds >= SB_BUILD_MAX_FDS) {
		rs_sys1(SYS_close, fd);
		sb_fail(st, -EMFILE, step, path);
	}
	st->b->fds[st->b->nfds++] = (int)fd;
	return fd;
}

static SB_CHILD void sb_write_file(struct sb_state *st, const char *path, const char *text)
{
	long fd = rs_sys3(SYS_openat, AT_FDCWD, path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		sb_fail(st, fd, "open", path);
	long n = rs_sys3(SYS_write, fd, text, rs_strlen(text));
	rs_sys1(SYS_close, fd);
	if (n < 0)
		sb_fail(st, n, "write", path);
}

static SB_CHILD int sb_open_ns(struct sb_state *st, const char *path)
{
	long fd = rs_sys4(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC, 0);
	if (fd < 0)
		sb_fail(st, fd, "open", path);
	return (int)fd;
}

static SB_CHILD void sb_setattr(struct sb_state *st, int fd, uint64_t set, bool recursive,
				const char *path)
{
	struct mount_attr a = { .attr_set = set };
	long r = rs_sys5(SYS_mount_setattr, fd, "", AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0),
			 &a, sizeof(a));
	if (r < 0)
		sb_fail(st, r, "mount_setattr", path);
}

static SB_CHILD void sb_attach(struct sb_state *st, int fd, const char *path)
{
	long r = rs_sys5(SYS_move_mount, fd, "", AT_FDCWD, path, MOVE_MOUNT_F_EMPTY_PATH);
	if (r < 0)
		sb_fail(st, r, "move_mount", path);
}

/* A fresh tmpfs mount, detached, with these options (e.g. "0755"). */
static SB_CHILD int sb_tmpfs(struct sb_state *st, const char *fstype, const char *mode,
			     const char *extra_key, const char *extra_val, uint64_t attrs)
{
	long fs = sb_track(st, rs_sys2(SYS_fsopen, fstype, FSOPEN_CLOEXEC), "fsopen", fstype);
	long r = 0;
	if (mode)
		r = rs_sys5(SYS_fsconfig, fs, FSCONFIG_SET_STRING, "mode", mode, 0);
	if (r == 0 && extra_key)
		r = rs_sys5(SYS_fsconfig, fs, FSCONFIG_SET_STRING, extra_key, extra_val, 0);
	if (r == 0)
		r = rs_sys5(SYS_fsconfig, fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0);
	if (r < 0)
		sb_fail(st, r, "fsconfig", fstype);
	return (int)sb_track(st, rs_sys3(SYS_fsmount, fs, FSMOUNT_CLOEXEC, attrs), "fsmount", fstype);
}

static SB_CHILD bool sb_is_dir(int dirfd, const char *path, bool *exists)
{
	struct stat sbuf;
	long r = rs_sys4(SYS_newfstatat, dirfd, path, &sbuf, path[0] ? 0 : AT_EMPTY_PATH);
	*exists = r == 0;
	return r == 0 && S_ISDIR(sbuf.st_mode);
}

/* Make path (and its parents) exist as a directory, or as an empty file
 * when !dir. Quietly leaves it alone where it cannot (a read-only parent):
 * the attach that follows then reports why. */
static SB_CHILD void sb_mkpath(struct sb_state *st, const char *path, bool dir)
{
	char *p = st->b->pathbuf;
	size_t n = rs_strlen(path);
	if (n == 0 || n >= sizeof(st->b->pathbuf))
		sb_fail(st, -ENAMETOOLONG, "path", path);
	for (size_t i = 0; i <= n; i++)
		p[i] = path[i];
	for (size_t i = 1; i <= n; i++) {
		if (p[i] != '/' && p[i] != '\0')
			continue;
		char saved = p[i];
		p[i] = '\0';
		bool last = saved == '\0';
		if (last && !dir) {
			long fd = rs_sys4(SYS_openat, AT_FDCWD, p, O_WRONLY | O_CREAT | O_CLOEXEC, 0);
			if (fd >= 0)
				rs_sys1(SYS_close, fd);
		} else {
			rs_sys3(SYS_mkdirat, AT_FDCWD, p, 0755);
		}
		p[i] = saved;
	}
}

static SB_CHILD void sb_symlink(const char *target, const char *path)
{
	rs_sys3(SYS_symlinkat, target, AT_FDCWD, path);
}

/* Step 1 and 2: the clones, while the host's tree is visible. */
static SB_CHILD void sb_take_sources(struct sb_state *st)
{
	struct sb_build *b = st->b;
	for (size_t i = 0; i < b->nrules; i++) {
		const struct sb_build_rule *r = &b->rules[i];
		st->srcfd[i] = -1;
		if (r->access == SANDBOX_DENY)
			continue;
		long fd = rs_sys3(SYS_open_tree, AT_FDCWD, r->path,
				  OPEN_TREE_CLONE | AT_RECURSIVE | OPEN_TREE_CLOEXEC);
		if (fd == -ENOENT || fd == -ENOTDIR)
			continue;	/* missing: ignored */
		sb_track(st, fd, "open_tree", r->path);
		uint64_t attrs = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;
		if (r->access == SANDBOX_READ)
			attrs |= MOUNT_ATTR_RDONLY;
		sb_setattr(st, (int)fd, attrs, true, r->path);
		bool exists;
		st->srcdir[i] = sb_is_dir((int)fd, "", &exists);
		st->srcfd[i] = (int)fd;
	}
	char path[32] = "/dev/";
	for (size_t d = 0; d < SB_NDEV; d++) {
		const char *name = sb_devices[d];
		size_t k = 0;
		for (; name[k]; k++)
			path[5 + k] = name[k];
		path[5 + k] = '\0';
		long fd = rs_sys3(SYS_open_tree, AT_FDCWD, path, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
		st->devfd[d] = -1;
		if (fd == -ENOENT)
			continue;
		sb_track(st, fd, "open_tree", sb_devices[d]);
		sb_setattr(st, (int)fd, MOUNT_ATTR_NOSUID, false, sb_devices[d]);
		st->devfd[d] = (int)fd;
	}
	st->procfd = (int)sb_track(st, rs_sys3(SYS_open_tree, AT_FDCWD, "/proc",
					       OPEN_TREE_CLONE | AT_RECURSIVE | OPEN_TREE_CLOEXEC),
				   "open_tree", "/proc");
	sb_setattr(st, st->procfd, MOUNT_ATTR_RDONLY, true, "/proc");
}

/* Step 3: the new root, pivoted into. */
static SB_CHILD void sb_pivot(struct sb_state *st)
{
	struct sb_build *b = st->b;
	st->rootfd = -1;
	if (b->nrules && b->rules[0].path[1] == '\0' && st->srcfd[0] >= 0 &&
	    b->rules[0].access != SANDBOX_DENY) {
		st->rootfd = st->srcfd[0];
		st->srcfd[0] = -1;
	} else {
		st->rootfd = sb_tmpfs(st, "tmpfs", "0755", NULL, NULL,
				      MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV);
		st->tmpfs_root = true;
	}
	sb_attach(st, st->rootfd, SB_STAGE);
	long r = rs_sys1(SYS_chdir, SB_STAGE);
	if (r == 0)
		r = rs_sys2(SYS_pivot_root, ".", ".");
	if (r == 0)
		r = rs_sys2(SYS_umount2, ".", MNT_DETACH);
	if (r == 0)
		r = rs_sys1(SYS_chdir, "/");
	if (r < 0)
		sb_fail(st, r, "pivot_root", NULL);
}

/* An empty, mode-000 thing over path: a tmpfs over a directory, else a
 * file. Missing paths are left alone. */
static SB_CHILD void sb_mask(struct sb_state *st, const char *path)
{
	bool exists;
	bool dir = sb_is_dir(AT_FDCWD, path, &exists);
	if (!exists)
		return;
	if (dir) {
		int fd = sb_tmpfs(st, "tmpfs", "0000", "size", "4k",
				  MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC);
		sb_attach(st, fd, path);
		if (st->nro < sizeof(st->ro_later) / sizeof(st->ro_later[0]))
			st->ro_later[st->nro++] = fd;
		else
			sb_setattr(st, fd, MOUNT_ATTR_RDONLY, false, path);
		return;
	}
	if (st->efs < 0) {
		st->efs = sb_tmpfs(st, "tmpfs", "0000", "size", "4k",
				   MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC);
		long e = rs_sys4(SYS_openat, st->efs, "e", O_WRONLY | O_CREAT | O_CLOEXEC, 0);
		if (e < 0)
			sb_fail(st, e, "create", "mask");
		rs_sys1(SYS_close, e);
		sb_setattr(st, st->efs, MOUNT_ATTR_RDONLY, false, "mask");
	}
	int fd = (int)sb_track(st, rs_sys3(SYS_open_tree, st->efs, "e",
					   OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC),
			       "open_tree", path);
	sb_attach(st, fd, path);
}

/* Step 4: the rules, in order. */
static SB_CHILD void sb_apply_rules(struct sb_state *st)
{
	struct sb_build *b = st->b;
	for (size_t i = 0; i < b->nrules; i++) {
		const struct sb_build_rule *r = &b->rules[i];
		if (r->access == SANDBOX_DENY) {
			sb_mask(st, r->path);
			continue;
		}
		if (st->srcfd[i] < 0)
			continue;
		bool exists;
		(void)sb_is_dir(AT_FDCWD, r->path, &exists);
		if (!exists)
			sb_mkpath(st, r->path, st->srcdir[i]);
		sb_attach(st, st->srcfd[i], r->path);
	}
}

/* Step 5a: a minimal /dev. */
static SB_CHILD void sb_make_dev(struct sb_state *st)
{
	static const char *const links[][2] = {
		{ "pts/ptmx", "/dev/ptmx" }, { "/proc/self/fd", "/dev/fd" },
		{ "/proc/self/fd/0", "/dev/stdin" }, { "/proc/self/fd/1", "/dev/stdout" },
		{ "/proc/self/fd/2", "/dev/stderr" }, { "/proc/kcore", "/dev/core" },
	};
	sb_mkpath(st, "/dev", true);
	int dev = sb_tmpfs(st, "tmpfs", "0755", NULL, NULL, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC);
	sb_attach(st, dev, "/dev");
	char path[32] = "/dev/";
	for (size_t d = 0; d < SB_NDEV; d++) {
		if (st->devfd[d] < 0)
			continue;
		size_t k = 0;
		for (const char *name = sb_devices[d]; name[k]; k++)
			path[5 + k] = name[k];
		path[5 + k] = '\0';
		sb_mkpath(st, path, false);
		sb_attach(st, st->devfd[d], path);
	}
	sb_mkpath(st, "/dev/pts", true);
	sb_mkpath(st, "/dev/shm", true);
	for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++)
		sb_symlink(links[i][0], links[i][1]);
	int pts = sb_tmpfs(st, "devpts", "0620", "ptmxmode", "0666",
			   MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC);
	sb_attach(st, pts, "/dev/pts");
	int shm = sb_tmpfs(st, "tmpfs", "1777", NULL, NULL,
			   MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC);
	sb_attach(st, shm, "/dev/shm");
	sb_setattr(st, dev, MOUNT_ATTR_RDONLY, false, "/dev");
}

/* Step 5b: the host's /proc, covered. */
static SB_CHILD void sb_cover_proc(struct sb_state *st)
{
	if (st->tmpfs_root) {
		sb_mkpath(st, "/proc", true);
		sb_attach(st, st->procfd, "/proc");
	}
	int cover = sb_tmpfs(st, "tmpfs", "0555", "size", "4k",
			     MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC |
			     MOUNT_ATTR_RDONLY);
	sb_attach(st, cover, "/proc");
}

static SB_CHILD void sb_hide(struct sb_state *st)
{
	for (const char *const *h = st->b->hide; h && *h; h++)
		sb_mask(st, *h);
}

SB_CHILD int sb_build_main(void *arg)
{
	struct sb_state st_mem, *st = &st_mem;
	struct sb_build *b = arg;
	st->b = b;
	st->efs = -1;
	st->nro = 0;
	st->tmpfs_root = false;
	b->nfds = 0;

	/* Our copy of the server's memory inherited its non-dumpable flag,
	 * which makes /proc/self root's: this copy holds no secret worth it. */
	rs_sys5(SYS_prctl, PR_SET_DUMPABLE, 1, 0, 0, 0);
	if (b->userns) {
		sb_write_file(st, "/proc/self/setgroups", "deny");
		sb_write_file(st, "/proc/self/uid_map", b->uid_map);
		sb_write_file(st, "/proc/self/gid_map", b->gid_map);
		b->userfd = sb_open_ns(st, "/proc/self/ns/user");
	}
	b->mntfd = sb_open_ns(st, "/proc/self/ns/mnt");
	b->ipcfd = sb_open_ns(st, "/proc/self/ns/ipc");
	if (b->netns)
		b->netfd = sb_open_ns(st, "/proc/self/ns/net");

	/* Nothing we mount here may propagate back to the host. */
	long r = rs_sys5(SYS_mount, NULL, "/", NULL, MS_REC | MS_SLAVE, NULL);
	if (r < 0)
		sb_fail(st, r, "mount MS_SLAVE", "/");

	if (b->restrict_fs) {
		sb_take_sources(st);
		sb_pivot(st);
		sb_apply_rules(st);
		sb_make_dev(st);
	}
	sb_cover_proc(st);
	sb_hide(st);
	for (size_t i = 0; i < st->nro; i++)
		sb_setattr(st, st->ro_later[i], MOUNT_ATTR_RDONLY, false, "mask");
	if (st->tmpfs_root)
		sb_setattr(st, st->rootfd, MOUNT_ATTR_RDONLY, false, "/");

	sb_close_tracked(b);
	b->err = 0;
	for (;;)
		rs_sys1(SYS_exit_group, 0);
}

/* ---- the parent's side (normal code, on the loop) ---- */

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sandbox_int.h"
#include "spawn.h"

#undef SB_CHILD

#define SB_JOB_STACK (128 * 1024)

struct sb_job {
	struct sb_build *b;		/* MAP_SHARED: the child reports here */
	int pidfd;
};

int sb_job_start(const struct sb_job_spec *spec, struct sb_job **out, char *why, size_t whylen)
{
	struct sb_job *j = calloc(1, sizeof(*j));
	struct sb_build_rule *br = calloc(spec->nrules ? spec->nrules : 1, sizeof(*br));
	void *stack = mmap(NULL, SB_JOB_STACK, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	struct sb_build *b = mmap(NULL, sizeof(*b), PROT_READ | PROT_WRITE,
				  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	int ret = -ENOMEM;
	snprintf(why, whylen, "out of memory");
	if (!j || !br || stack == MAP_FAILED || b == MAP_FAILED)
		goto fail;
	for (size_t i = 0; i < spec->nrules; i++) {
		br[i].path = spec->rules[i].path;
		br[i].access = (unsigned char)spec->rules[i].access;
	}
	b->restrict_fs = spec->restrict_fs;
	b->userns = spec->userns;
	b->netns = spec->restrict_net;
	b->rules = br;
	b->nrules = spec->restrict_fs ? spec->nrules : 0;
	b->hide = spec->hide;
	b->userfd = b->mntfd = b->ipcfd = b->netfd = -1;
	b->err = -ECHILD;	/* stays so if the child dies on its way */
	uid_t uid = geteuid();
	gid_t gid = getegid();
	snprintf(b->uid_map, sizeof(b->uid_map), "%u %u 1\n", (unsigned)uid, (unsigned)uid);
	snprintf(b->gid_map, sizeof(b->gid_map), "%u %u 1\n", (unsigned)gid, (unsigned)gid);

	/* A fork (it must be dumpable to write its id maps, and our memory is
	 * not), so what it reads is its own copy and what it reports goes to
	 * the shared page; CLONE_FILES makes the namespace fds ours. Every
	 * signal blocked: it runs none of our handlers. */
	int flags = CLONE_FILES | CLONE_NEWNS | CLONE_NEWIPC | CLONE_PIDFD;
	if (b->userns)
		flags |= CLONE_NEWUSER;
	if (b->netns)
		flags |= CLONE_NEWNET;
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	j->pidfd = -1;
	pid_t pid = clone(sb_build_main, (char *)stack + SB_JOB_STACK, flags, b, &j->pidfd);
	int clone_errno = errno;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (pid < 0) {
		ret = -clone_errno;
		snprintf(why, whylen, "clone(%s): %s",
			 b->userns ? "user, mount namespaces" : "mount namespace",
			 strerror(clone_errno));
		goto fail;
	}
	/* The child has its own copies of both. */
	munmap(stack, SB_JOB_STACK);
	free(br);
	j->b = b;
	*out = j;
	return 0;
fail:
	if (b != MAP_FAILED)
		munmap(b, sizeof(*b));
	if (stack != MAP_FAILED)
		munmap(stack, SB_JOB_STACK);
	free(br);
	free(j);
	return ret;
}

int sb_job_pidfd(const struct sb_job *j)
{
	return j->pidfd;
}

static void sb_job_close_ns(struct sb_build *b)
{
	int *fds[] = { &b->userfd, &b->mntfd, &b->ipcfd, &b->netfd };
	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		if (*fds[i] >= 0) {
			close(*fds[i]);
			*fds[i] = -1;
		}
}

int sb_job_finish(struct sb_job *j, struct spawn_sandbox *out, char *why, size_t whylen)
{
	struct sb_build *b = j->b;
	int ret = b->err;
	if (ret < 0) {
		/* The child closes what it opened, unless it died on its way. */
		for (size_t i = 0; i < b->nfds && i < SB_BUILD_MAX_FDS; i++)
			close(b->fds[i]);
		sb_job_close_ns(b);
		snprintf(why, whylen, "%s%s%s: %s", b->step ? b->step : "build",
			 b->step_path ? " " : "", b->step_path ? b->step_path : "", strerror(-ret));
	} else {
		out->userfd = b->userfd;
		out->mntfd = b->mntfd;
		out->ipcfd = b->ipcfd;
		out->netfd = b->netfd;
	}
	close(j->pidfd);
	munmap(b, sizeof(*b));
	free(j);
	return ret;
}

int sb_job_wait(struct sb_job *j, struct spawn_sandbox *out, char *why, size_t whylen)
{
	siginfo_t si;
	while (waitid(P_PIDFD, (id_t)j->pidfd, &si, WEXITED | __WALL) < 0 && errno == EINTR)
		;
	return sb_job_finish(j, out, why, whylen);
}

void sb_job_abort(struct sb_job *j)
{
	if (!j)
		return;
	syscall(SYS_pidfd_send_signal, j->pidfd, SIGKILL, NULL, 0);
	struct spawn_sandbox sp = { .userfd = -1, .mntfd = -1, .ipcfd = -1, .netfd = -1 };
	char why[8];
	if (sb_job_wait(j, &sp, why, sizeof(why)) == 0) {
		int *fds[] = { &sp.userfd, &sp.mntfd, &sp.ipcfd, &sp.netfd };
		for (size_t i = 0; i < 4; i++)
			if (*fds[i] >= 0)
				close(*fds[i]);
	}
}
