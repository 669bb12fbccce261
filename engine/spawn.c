/* spawn: start children with clone(VM|VFORK|PIDFD), open PTY pairs (see spawn.h).
 *
 * Owns the child stacks (mapped once; reused because the parent is
 * suspended while a child runs on them) and the PATH search, prepared in
 * the parent. The child side must not allocate, lock, return, or run
 * instrumented code: raw syscalls only, results through struct spawn_ctx.
 * Not reentrant. The sandboxed half (spare PID namespaces, their init and
 * launcher) is spawn_sandbox.c; the child itself is the same.
 */
#include "spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rawsys.h"
#include "spawn_int.h"

#define SPAWN_DEFAULT_PATH "/usr/local/bin:/usr/bin:/bin"


/* An exec (or access) error after which the PATH search goes on, as execvp. */
#define SPAWN_SKIPPABLE(e) ((e) == ENOENT || (e) == ENOTDIR || (e) == EACCES || \
			    (e) == ELOOP || (e) == ENAMETOOLONG)

/* The kernel's struct sigaction for rt_sigaction (x86_64, arm64 and the
 * generic layout: handler first). Only SIG_DFL (0) with no flags is ever
 * passed, so the trailing fields are zero whatever the arch calls them.
 * glibc's sigaction() would refuse its internal signals 32 and 33. */
struct spawn_ksigaction {
	uintptr_t handler;
	unsigned long flags;
	uintptr_t restorer;
	uint64_t mask;
};

static const struct spawn_ksigaction spawn_sig_dfl;	/* all zero: SIG_DFL */
static const uint64_t spawn_mask_none;			/* all zero: nothing blocked */

struct spawn_globals spawn_g;

void *spawn_map_stack(size_t size, size_t page)
{
	size_t len = size + page;
	void *map = mmap(NULL, len, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	if (map == MAP_FAILED)
		return NULL;
	/* Guard page at the low end: an overflow faults instead of
	 * scribbling over whatever is mapped below. */
	if (mprotect(map, page, PROT_NONE) < 0) {
		munmap(map, len);
		return NULL;
	}
	return map;
}

int spawn_init(const struct rlimit *child_nofile)
{
	struct rlimit cur;
	if (!child_nofile) {
		if (getrlimit(RLIMIT_NOFILE, &cur) < 0)
			return -errno;
		child_nofile = &cur;
	}
	rlim_t c = child_nofile->rlim_cur, m = child_nofile->rlim_max;
	struct spawn_klimit lim = {
		.cur = c == RLIM_INFINITY ? UINT64_MAX : c,
		.max = m == RLIM_INFINITY ? UINT64_MAX : m,
	};

	if (!spawn_g.map) {
		long page = sysconf(_SC_PAGESIZE);
		spawn_g.page = page > 0 ? (size_t)page : 4096;
		size_t len = SPAWN_STACK_SIZE + spawn_g.page;
		void *map = spawn_map_stack(SPAWN_STACK_SIZE, spawn_g.page);
		void *map2 = map ? spawn_map_stack(SPAWN_STACK_SIZE, spawn_g.page) : NULL;
		if (!map2) {
			int ret = -errno;
			if (map)
				munmap(map, len);
			return ret;
		}
		/* Sandboxed children tell whether we are still alive from it
		 * (getppid() says 0 inside a PID namespace). -1 is fine: they
		 * then refuse to run. */
		spawn_g.self_pidfd = (int)syscall(SYS_pidfd_open, getpid(), 0);
		spawn_g.proc_fd = open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC);
		spawn_g.map = map;
		spawn_g.map2 = map2;
		spawn_g.maplen = len;
		spawn_g.top = (char *)map + len;
		spawn_g.top2 = (char *)map2 + len;
	}
	spawn_g.nofile = lim;
	spawn_note_signals();
	return 0;
}

bool spawn_ready(void)
{
	return spawn_g.map != NULL;
}

/* Only a signal the server ignores or catches needs a reset in the child
 * (exec resets caught ones too, but the child unblocks signals before its
 * exec). Asking the kernel about all 64 in every child cost ~15 us a spawn,
 * so the set is taken here, once: glibc's internal 32 and 33 always, and
 * every other signal whose disposition is not SIG_DFL right now. */
void spawn_note_signals(void)
{
	uint64_t set = 1ull << (32 - 1) | 1ull << (33 - 1);
	for (int sig = 1; sig < NSIG && sig <= 64; sig++) {
		struct spawn_ksigaction old;
		if (sig == SIGKILL || sig == SIGSTOP)
			continue;
		if (syscall(SYS_rt_sigaction, sig, NULL, &old, sizeof(old.mask)) < 0 ||
		    old.handler != (uintptr_t)SIG_DFL)
			set |= 1ull << (sig - 1);
	}
	spawn_g.reset_sigs = set;
}

static const char *spawn_env_path(const char *const *envp)
{
	for (; envp && *envp; envp++)
		if (strncmp(*envp, "PATH=", 5) == 0)
			return *envp + 5;
	return NULL;
}

/* The paths to try for prog, NULL-terminated, in one allocation to free():
 * prog itself when it has a '/', else dir/prog for each entry of envp's PATH
 * (the default without one), "./prog" for an empty entry. NULL on ENOMEM. */
static char **spawn_candidates(const char *prog, const char *const *envp)
{
	char **v;

	if (strchr(prog, '/')) {
		v = malloc(2 * sizeof(*v));
		if (!v)
			return NULL;
		v[0] = (char *)prog;
		v[1] = NULL;
		return v;
	}

	const char *path = spawn_env_path(envp);
	if (!path)
		path = SPAWN_DEFAULT_PATH;
	size_t plen = strlen(path), nlen = strlen(prog), n = 1;
	for (const char *p = path; *p; p++)
		n += *p == ':';
	/* Each candidate: its dir (all dirs sum to < plen) plus "/" or "./",
	 * the name and a NUL. */
	v = malloc((n + 1) * sizeof(*v) + plen + n * (nlen + 3));
	if (!v)
		return NULL;
	char *s = (char *)(v + n + 1);
	const char *dir = path;
	for (size_t i = 0; i < n; i++) {
		const char *end = strchrnul(dir, ':');
		size_t dlen = (size_t)(end - dir);
		v[i] = s;
		if (dlen) {
			memcpy(s, dir, dlen);
			s += dlen;
		} else {
			*s++ = '.';
		}
		*s++ = '/';
		memcpy(s, prog, nlen + 1);
		s += nlen + 1;
		dir = end + 1;
	}
	v[n] = NULL;
	return v;
}

static SPAWN_CHILD __attribute__((noreturn)) void spawn_child_fail(struct spawn_ctx *c, int err)
{
	c->err = -err;
	for (;;)
		syscall(SYS_exit_group, 127);
}

SPAWN_CHILD bool spawn_server_gone(void)
{
	struct pollfd pfd = { .fd = spawn_g.self_pidfd, .events = POLLIN };
	struct timespec zero = { 0, 0 };
	if (spawn_g.self_pidfd < 0)
		return true;
	return rs_sys5(SYS_ppoll, &pfd, 1, &zero, NULL, 0) != 0;
}

void spawn_reap_pidfd(int pidfd)
{
	siginfo_t si;
	while (waitid((idtype_t)P_PIDFD, (id_t)pidfd, &si, WEXITED | __WALL) < 0 && errno == EINTR)
		;
	close(pidfd);
}

/* The child, between clone and execve. It starts with every signal blocked
 * (the parent's mask) and shares the parent's memory: it writes nothing but
 * c->err (and errno, the parent's, which the parent does not read on
 * success). */
SPAWN_CHILD int spawn_child(void *arg)
{
	struct spawn_ctx *c = arg;
	const struct spawn_spec *s = c->spec;

	/* Dispositions first, while everything is still blocked: from here on
	 * no signal can reach one of the server's handlers. */
	for (uint64_t set = spawn_g.reset_sigs; set; set &= set - 1) {
		int sig = __builtin_ctzll(set) + 1;
		syscall(SYS_rt_sigaction, sig, &spawn_sig_dfl, NULL, sizeof(spawn_sig_dfl.mask));
	}

	if (syscall(SYS_setsid) < 0)
		spawn_child_fail(c, errno);

	/* 0/1/2. A source may itself be 0, 1 or 2 (a permutation would clobber
	 * one before it is copied), or the same fd twice (a PTY slave is all
	 * three), and dup2(fd, fd) would leave FD_CLOEXEC set. So move every
	 * source below 3 above 2 first; then each dup3 is a real copy, which
	 * clears FD_CLOEXEC, and close_range drops the moved copies. */
	int src[3] = { s->stdin_fd, s->stdout_fd, s->stderr_fd };
	int fd[3];
	for (int i = 0; i < 3; i++) {
		fd[i] = src[i];
		if (src[i] >= 3)
			continue;
		int j;
		for (j = 0; j < i && src[j] != src[i]; j++)
			;
		if (j < i) {
			fd[i] = fd[j];
			continue;
		}
		long r = syscall(SYS_fcntl, src[i], F_DUPFD, 3);
		if (r < 0)
			spawn_child_fail(c, errno);
		fd[i] = (int)r;
	}
	for (int i = 0; i < 3; i++)
		if (syscall(SYS_dup3, fd[i], i, 0) < 0)
			spawn_child_fail(c, errno);

	if (s->ctty && syscall(SYS_ioctl, 0, TIOCSCTTY, 0) < 0)
		spawn_child_fail(c, errno);
	if (s->cwd && syscall(SYS_chdir, s->cwd) < 0)
		spawn_child_fail(c, errno);

	/* PDEATHSIG fires when the parent dies; if it already died (killed
	 * while suspended in clone) we were reparented and nobody waits. In
	 * a PID namespace getppid() is 0: ask our parent's pidfd instead. */
	if (syscall(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
		spawn_child_fail(c, errno);
	if (s->sandbox ? spawn_server_gone() : syscall(SYS_getppid) != c->ppid)
		for (;;)
			syscall(SYS_exit_group, 127);
	if (syscall(SYS_close_range, 3U, ~0U, 0U) < 0)
		spawn_child_fail(c, errno);

	/* After close_range: a soft limit below the server's fds is fine now. */
	if (syscall(SYS_prlimit64, 0, RLIMIT_NOFILE, &spawn_g.nofile, NULL) < 0)
		spawn_child_fail(c, errno);

	c->err = 0;
	if (s->probe)
		for (;;)
			syscall(SYS_exit_group, 0);
	syscall(SYS_rt_sigprocmask, SIG_SETMASK, &spawn_mask_none, NULL, sizeof(spawn_mask_none));

	int err = ENOENT;
	int eacces = 0;
	for (char *const *p = c->cands; *p; p++) {
		syscall(SYS_execve, *p, c->argv, c->envp);
		err = errno;
		if (!SPAWN_SKIPPABLE(err))
			spawn_child_fail(c, err);
		if (err == EACCES)
			eacces = 1;
	}
	spawn_child_fail(c, eacces ? EACCES : err);
}

int spawn_start(const struct spawn_spec *spec, struct spawn_result *out)
{
	static const char *const spawn_no_env[] = { NULL };
	int ret;

	if (!spawn_g.map)
		return -EINVAL;		/* spawn_init was not called */
	if (!spec->argv || !spec->argv[0])
		return -EINVAL;
	if (!spec->argv[0][0])
		return -ENOENT;

	const char *const *envp = spec->envp ? spec->envp : spawn_no_env;
	char **cands = spawn_candidates(spec->argv[0], envp);
	if (!cands)
		return -ENOMEM;

	const char **argv = NULL;
	if (spec->arg0) {
		size_t argc = 0;
		while (spec->argv[argc])
			argc++;
		argv = malloc((argc + 1) * sizeof(*argv));
		if (!argv) {
			ret = -ENOMEM;
			goto out_cands;
		}
		memcpy(argv, spec->argv, (argc + 1) * sizeof(*argv));
		argv[0] = spec->arg0;
	}

	struct spawn_ctx ctx = {
		.spec = spec,
		.argv = (char *const *)(argv ? argv : spec->argv),
		.envp = (char *const *)envp,
		.cands = cands,
		.ppid = getpid(),
		.err = -ECHILD,		/* stays so if the child dies before exec */
	};

	/* Block everything, glibc's internal signals 32/33 included (which
	 * pthread_sigmask silently leaves out), so the child, which inherits
	 * this mask, cannot run a handler before it has reset the dispositions.
	 * rt_sigprocmask sets the calling thread's mask, as pthread_sigmask. */
	uint64_t all = UINT64_MAX, old;
	if (syscall(SYS_rt_sigprocmask, SIG_SETMASK, &all, &old, sizeof(all)) < 0) {
		ret = -errno;
		goto out_argv;
	}
	out->init_pidfd = out->launcher_pidfd = -1;
	out->init_pid = out->launcher_pid = 0;
	out->init_mem = NULL;
	if (spec->sandbox) {
		ret = spawn_start_sandboxed(&ctx, out);
		syscall(SYS_rt_sigprocmask, SIG_SETMASK, &old, NULL, sizeof(old));
		goto out_argv;
	}
	int pidfd = -1;
	/* No exit signal: the pidfd tells us of the exit, and a SIGCHLD would
	 * only wake the loop once more (waits on it need __WALL). */
	pid_t pid = clone(spawn_child, spawn_g.top,
			  CLONE_VM | CLONE_VFORK | CLONE_PIDFD, &ctx, &pidfd);
	int clone_errno = errno;
	syscall(SYS_rt_sigprocmask, SIG_SETMASK, &old, NULL, sizeof(old));
	if (pid < 0) {
		ret = -clone_errno;
		goto out_argv;
	}

	ret = ctx.err;
	if (ret < 0) {
		/* It has _exit'ed or is about to: reap it here, nobody else will. */
		siginfo_t si;
		while (waitid((idtype_t)P_PIDFD, (id_t)pidfd, &si, WEXITED | __WALL) < 0 &&
		       errno == EINTR)
			;
		close(pidfd);
		goto out_argv;
	}
	out->pid = pid;
	out->pidfd = pidfd;

out_argv:
	free(argv);
out_cands:
	free(cands);
	return ret;
}

int spawn_open_pty(int *master, int *slave, unsigned short rows, unsigned short cols)
{
	int ret;

	int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (m < 0)
		return -errno;
	if (grantpt(m) < 0 || unlockpt(m) < 0)
		goto fail_master;
	int fl = fcntl(m, F_GETFL);
	if (fl < 0 || fcntl(m, F_SETFL, fl | O_NONBLOCK) < 0)
		goto fail_master;
	int s = ioctl(m, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (s < 0)
		goto fail_master;
	struct winsize ws = { .ws_row = rows, .ws_col = cols };
	if (ioctl(m, TIOCSWINSZ, &ws) < 0)
		goto fail_slave;

	*master = m;
	*slave = s;
	return 0;

fail_slave:
	ret = -errno;
	close(s);
	close(m);
	return ret;
fail_master:
	ret = -errno;
	close(m);
	return ret;
}

int spawn_resolve(const char *prog, const char *const *envp, char *out, size_t outlen)
{
	if (!prog || !*prog)
		return -ENOENT;
	char **cands = spawn_candidates(prog, envp);
	if (!cands)
		return -ENOMEM;

	int ret = -ENOENT, eacces = 0;
	for (char **p = cands; *p; p++) {
		struct stat st;
		int err;
		if (access(*p, X_OK) == 0 && stat(*p, &st) == 0) {
			if (S_ISREG(st.st_mode)) {
				size_t len = strlen(*p);
				if (len >= outlen) {
					ret = -ENAMETOOLONG;
				} else {
					memcpy(out, *p, len + 1);
					ret = 0;
				}
				goto done;
			}
			err = EACCES;	/* what execve says of a directory */
		} else {
			err = errno;
		}
		if (!SPAWN_SKIPPABLE(err)) {
			ret = -err;
			goto done;
		}
		if (err == EACCES)
			eacces = 1;
		ret = -err;
	}
	if (eacces)
		ret = -EACCES;
done:
	free(cands);
	return ret;
}
