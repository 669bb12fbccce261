/* spawn: start children with clone(VM|VFORK|PIDFD), open PTY pairs (see spawn.h).
 *
 * Owns the child stacks (mapped once; reused because the parent is
 * suspended while a child runs on them), the init stacks of sandboxed
 * children (one per live sandboxed child) and the PATH search, prepared in
 * the parent. The child side must not allocate, lock, return, or run
 * instrumented code: raw syscalls only, results through struct spawn_ctx.
 * Not reentrant.
 *
 * A sandboxed spawn is three clones, all sharing our memory: an entry
 * child E (vfork: we wait for it) enters the template's namespaces and
 * unshares a PID and a mount namespace; its first child I becomes pid 1
 * there (CLONE_PARENT: our child, reaped by us) and stays as the reaper of
 * that namespace until the command exits; its second child C (vfork,
 * CLONE_PARENT) is the command: it mounts its own /proc, confines itself
 * and execs. E then exits. I runs concurrently with the server for its
 * whole life, so it uses rawsys.h only, touches nothing but its own stack
 * and context page, and sits under a filter of its own; the server is
 * non-dumpable, so nothing in the sandbox can read or write the memory it
 * shares with I through /proc.
 */
#include "spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/close_range.h>
#include <linux/futex.h>
#include <linux/securebits.h>
#include <linux/seccomp.h>
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
#include <sys/mount.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "rawsys.h"

#define SPAWN_STACK_SIZE (256 * 1024)
/* The init of a sandboxed child: a small loop, so a small stack. */
#define SPAWN_INIT_STACK_SIZE (32 * 1024)
#define SPAWN_DEFAULT_PATH "/usr/local/bin:/usr/bin:/bin"

/* Code that runs in the child: ASan and UBSan cannot follow a CLONE_VM child
 * on a private stack, and inlining would pull it into instrumented code. */
#define SPAWN_CHILD __attribute__((noinline, no_sanitize("address", "undefined")))

/* An exec (or access) error after which the PATH search goes on, as execvp. */
#define SPAWN_SKIPPABLE(e) ((e) == ENOENT || (e) == ENOTDIR || (e) == EACCES || \
			    (e) == ELOOP || (e) == ENAMETOOLONG)

/* The kernel's struct rlimit64, for prlimit64 (glibc's struct rlimit is
 * narrower on 32-bit ABIs). */
struct spawn_klimit {
	uint64_t cur;
	uint64_t max;
};

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

static struct {
	void *map;			/* guard page + stack; NULL before spawn_init */
	size_t maplen;
	void *top;			/* initial stack pointer (stacks grow down) */
	void *map2;			/* the same again, for a sandboxed command */
	void *top2;			/* (its entry child runs on the first one) */
	size_t page;
	int self_pidfd;			/* our own pidfd: readable once we have exited */
	struct spawn_klimit nofile;	/* RLIMIT_NOFILE for children */
	uint64_t reset_sigs;		/* bit sig-1: disposition the child resets */
} spawn_g;

/* The page above a sandbox init's stack: all the init reads once it runs. */
struct spawn_init_ctx {
	volatile int cmd_state;		/* 0 until E knows; 1 the command exists; -1 not */
	int self_pidfd;			/* the server's pidfd (in the shared table until
					   the init unshares it) */
	const struct sock_fprog *filter;
};

/* Shared by parent and child (CLONE_VM): on the parent's stack. */
struct spawn_ctx {
	const struct spawn_spec *spec;
	char *const *argv;		/* as the child sees it (arg0 applied) */
	char *const *envp;
	char *const *cands;		/* execve candidates in order, NULL-terminated */
	pid_t ppid;			/* the parent's pid, for the PDEATHSIG check */
	volatile int err;		/* child -> parent: 0 exec'd, -errno failed */
	volatile int confine_err;	/* a confinement step's errno (err is then
					   -EOPNOTSUPP), for the log */
	const char *volatile confine_step;
	/* Sandboxed: written by the entry child E. */
	struct spawn_init_ctx *ic;	/* the init's context page */
	void *init_top;			/* the init's initial stack pointer */
	pid_t cmd_pid, init_pid;	/* 0 until made */
	int cmd_pidfd, init_pidfd;	/* CLONE_PIDFD results, in our fd table */
};

static void *spawn_map_stack(size_t size, size_t page)
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

/* A step of the sandbox's confinement failed: the sandbox cannot be had. */
static SPAWN_CHILD __attribute__((noreturn)) void spawn_confine_fail(struct spawn_ctx *c,
								      const char *step, int err)
{
	c->confine_err = err;
	c->confine_step = step;
	spawn_child_fail(c, EOPNOTSUPP);
}

/* True when the server has exited (its pidfd is readable), or unknown. */
static SPAWN_CHILD bool spawn_server_gone(void)
{
	struct pollfd pfd = { .fd = spawn_g.self_pidfd, .events = POLLIN };
	struct timespec zero = { 0, 0 };
	if (spawn_g.self_pidfd < 0)
		return true;
	return rs_sys5(SYS_ppoll, &pfd, 1, &zero, NULL, 0) != 0;
}

/* The sandboxed command's own /proc (it is pid 2 of its namespace), over
 * the template's empty one; for a child that is uid 0 on the host, the
 * kernel's writable knobs in it bound read-only. */
static SPAWN_CHILD void spawn_child_mount_proc(struct spawn_ctx *c)
{
	static const char *const ro[] = {
		"/proc/sys", "/proc/sysrq-trigger", "/proc/irq", "/proc/bus",
	};
	const unsigned long pflags = MS_NOSUID | MS_NODEV | MS_NOEXEC;
	if (syscall(SYS_mount, "proc", "/proc", "proc", pflags, NULL) < 0)
		spawn_confine_fail(c, "mount /proc", errno);
	if (!c->spec->sandbox->proc_ro)
		return;
	for (size_t i = 0; i < sizeof(ro) / sizeof(ro[0]); i++) {
		if (syscall(SYS_mount, ro[i], ro[i], NULL, MS_BIND | MS_REC, NULL) < 0) {
			if (errno == ENOENT)
				continue;
			spawn_confine_fail(c, ro[i], errno);
		}
		if (syscall(SYS_mount, NULL, ro[i], NULL,
			    MS_REMOUNT | MS_BIND | MS_RDONLY | pflags, NULL) < 0)
			spawn_confine_fail(c, ro[i], errno);
	}
}

/* Give up every privilege for good, then load the filter. */
static SPAWN_CHILD void spawn_child_confine(struct spawn_ctx *c)
{
	/* Root (in its user namespace) must not regain capabilities at exec. */
	unsigned long bits = SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP |
			     SECBIT_NO_SETUID_FIXUP_LOCKED | SECBIT_KEEP_CAPS_LOCKED |
			     SECBIT_NO_CAP_AMBIENT_RAISE | SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED;
	if (syscall(SYS_prctl, PR_SET_SECUREBITS, bits, 0, 0, 0) < 0)
		spawn_confine_fail(c, "securebits", errno);
	for (int cap = 0; cap < 64; cap++)
		if (syscall(SYS_prctl, PR_CAPBSET_DROP, cap, 0, 0, 0) < 0) {
			if (errno == EINVAL)
				break;	/* past the last capability this kernel has */
			spawn_confine_fail(c, "capability bounding set", errno);
		}
	if (syscall(SYS_prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0)
		spawn_confine_fail(c, "ambient capabilities", errno);
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[2] = { { 0, 0, 0 }, { 0, 0, 0 } };
	if (syscall(SYS_capset, &hdr, data) < 0)
		spawn_confine_fail(c, "capset", errno);
	if (syscall(SYS_prctl, PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		spawn_confine_fail(c, "no_new_privs", errno);
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, c->spec->sandbox->filter) < 0)
		spawn_confine_fail(c, "seccomp", errno);
}

/* The child, between clone and execve. It starts with every signal blocked
 * (the parent's mask) and shares the parent's memory: it writes nothing but
 * c->err (and errno, the parent's, which the parent does not read on
 * success). */
static SPAWN_CHILD int spawn_child(void *arg)
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
	if (s->sandbox)
		spawn_child_mount_proc(c);
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
	if (s->sandbox)
		spawn_child_confine(c);

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

/* ---- sandboxed: the init (pid 1) and the entry child ---- */

/* pid 1 of a sandboxed command's PID namespace, for as long as the command
 * (pid 2) lives: it reaps the orphans that reparent to it and exits when
 * the command has exited, which kills whatever is left in the namespace.
 * It runs concurrently with the server in the server's memory: rawsys.h
 * only, its own stack and context page, and a filter of its own. */
static SPAWN_CHILD __attribute__((noreturn)) int spawn_init_main(void *arg)
{
	struct spawn_init_ctx *ic = arg;
	struct timespec zero = { 0, 0 };

	rs_sys5(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	struct pollfd self = { .fd = ic->self_pidfd, .events = POLLIN };
	if (ic->self_pidfd < 0 || rs_sys5(SYS_ppoll, &self, 1, &zero, NULL, 0) != 0)
		rs_sys1(SYS_exit_group, 0);
	/* We share the server's fd table until here: take an empty one. */
	if (rs_sys3(SYS_close_range, 0, ~0U, CLOSE_RANGE_UNSHARE) < 0)
		rs_sys1(SYS_exit_group, 0);

	uint64_t chld = 1ull << (SIGCHLD - 1);	/* every signal is blocked (spawn_start) */
	long sfd = rs_sys4(SYS_signalfd4, -1, &chld, sizeof(chld), SFD_CLOEXEC);
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[2] = { { 0, 0, 0 }, { 0, 0, 0 } };
	if (sfd < 0 || rs_sys2(SYS_capset, &hdr, data) < 0 ||
	    rs_sys5(SYS_prctl, PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
	    rs_sys3(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, ic->filter) < 0)
		rs_sys1(SYS_exit_group, 0);

	while (ic->cmd_state == 0)
		rs_sys4(SYS_futex, &ic->cmd_state, FUTEX_WAIT_PRIVATE, 0, NULL);
	if (ic->cmd_state < 0)
		rs_sys1(SYS_exit_group, 0);
	/* The command is pid 2 and cannot have been reaped yet: the server
	 * waits for the entry child, which woke us, before it reaps anything. */
	long cmd = rs_sys2(SYS_pidfd_open, 2, 0);
	if (cmd < 0)
		rs_sys1(SYS_exit_group, 0);

	struct pollfd pfd[2] = { { .fd = (int)cmd, .events = POLLIN },
				 { .fd = (int)sfd, .events = POLLIN } };
	char sbuf[8 * sizeof(struct signalfd_siginfo)];
	siginfo_t si;
	for (;;) {
		if (rs_sys5(SYS_ppoll, pfd, 2, NULL, NULL, 0) < 0)
			continue;
		if (pfd[0].revents)
			rs_sys1(SYS_exit_group, 0);
		if (pfd[1].revents) {
			rs_sys3(SYS_read, sfd, sbuf, sizeof(sbuf));
			for (;;) {
				si.si_pid = 0;
				if (rs_sys5(SYS_waitid, P_ALL, 0, &si, WEXITED | WNOHANG | __WALL,
					    NULL) < 0 || si.si_pid == 0)
					break;
			}
		}
	}
}

/* E: enters the template, makes the init and the command, and exits. We
 * wait for it (CLONE_VFORK) and share its fd table (CLONE_FILES), so the
 * pidfds it gets are ours. */
static SPAWN_CHILD __attribute__((noreturn)) int spawn_entry(void *arg)
{
	struct spawn_ctx *c = arg;
	const struct spawn_sandbox *sb = c->spec->sandbox;

	if ((sb->userfd >= 0 && syscall(SYS_setns, sb->userfd, CLONE_NEWUSER) < 0) ||
	    syscall(SYS_setns, sb->mntfd, CLONE_NEWNS) < 0 ||
	    (sb->netfd >= 0 && syscall(SYS_setns, sb->netfd, CLONE_NEWNET) < 0) ||
	    syscall(SYS_setns, sb->ipcfd, CLONE_NEWIPC) < 0 ||
	    syscall(SYS_unshare, CLONE_NEWPID | CLONE_NEWNS) < 0) {
		c->confine_err = errno;
		c->confine_step = "entering the template";
		c->err = -EOPNOTSUPP;
		for (;;)
			syscall(SYS_exit, 0);
	}
	/* The first child in the new PID namespace is its init. */
	pid_t init = clone(spawn_init_main, c->init_top,
			   CLONE_VM | CLONE_FILES | CLONE_PARENT | CLONE_PIDFD, c->ic,
			   &c->init_pidfd);
	if (init < 0) {
		c->err = -errno;
		for (;;)
			syscall(SYS_exit, 0);
	}
	c->init_pid = init;
	pid_t cmd = clone(spawn_child, spawn_g.top2,
			  CLONE_VM | CLONE_VFORK | CLONE_PARENT | CLONE_PIDFD, c, &c->cmd_pidfd);
	if (cmd < 0)
		c->err = -errno;
	else
		c->cmd_pid = cmd;
	c->ic->cmd_state = cmd < 0 ? -1 : 1;
	syscall(SYS_futex, &c->ic->cmd_state, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
	for (;;)
		syscall(SYS_exit, 0);
}

static size_t spawn_init_mem_len(void)
{
	return spawn_g.page + SPAWN_INIT_STACK_SIZE + spawn_g.page;
}

/* [guard page][stack][context page] */
static void *spawn_init_mem_new(void)
{
	void *map = spawn_map_stack(SPAWN_INIT_STACK_SIZE + spawn_g.page, spawn_g.page);
	return map;
}

void spawn_init_mem_free(void *mem)
{
	if (mem)
		munmap(mem, spawn_init_mem_len());
}

static void spawn_reap_fd(int pidfd)
{
	siginfo_t si;
	while (waitid((idtype_t)P_PIDFD, (id_t)pidfd, &si, WEXITED | __WALL) < 0 && errno == EINTR)
		;
	close(pidfd);
}

/* The sandboxed clone: E runs on the first stack, the command on the
 * second. Returns E's clone result; the rest is in ctx. */
static int spawn_clone_sandboxed(struct spawn_ctx *ctx, void **init_mem)
{
	void *mem = spawn_init_mem_new();
	if (!mem)
		return -ENOMEM;
	ctx->ic = (struct spawn_init_ctx *)((char *)mem + spawn_g.page + SPAWN_INIT_STACK_SIZE);
	ctx->ic->cmd_state = 0;
	ctx->ic->self_pidfd = spawn_g.self_pidfd;
	ctx->ic->filter = ctx->spec->sandbox->init_filter;
	ctx->init_top = ctx->ic;
	ctx->cmd_pidfd = ctx->init_pidfd = -1;

	int entry_pidfd = -1;
	pid_t pid = clone(spawn_entry, spawn_g.top,
			  CLONE_VM | CLONE_VFORK | CLONE_FILES | CLONE_PIDFD, ctx, &entry_pidfd);
	int clone_errno = errno;
	if (pid < 0) {
		spawn_init_mem_free(mem);
		return -clone_errno;
	}
	spawn_reap_fd(entry_pidfd);
	if (ctx->confine_err)
		log_warn("sandbox: confining a child failed at %s: %s", ctx->confine_step,
			 strerror(ctx->confine_err));
	if (ctx->err < 0) {
		/* The command failed (or never came): it has exited; the init
		 * follows once it sees that. Reap both here. */
		if (ctx->cmd_pidfd >= 0)
			spawn_reap_fd(ctx->cmd_pidfd);
		if (ctx->init_pidfd >= 0) {
			syscall(SYS_pidfd_send_signal, ctx->init_pidfd, SIGKILL, NULL, 0);
			spawn_reap_fd(ctx->init_pidfd);
		}
		spawn_init_mem_free(mem);
		return ctx->err;
	}
	*init_mem = mem;
	return 0;
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
	out->init_pidfd = -1;
	out->init_pid = 0;
	out->init_mem = NULL;
	if (spec->sandbox) {
		ret = spawn_clone_sandboxed(&ctx, &out->init_mem);
		syscall(SYS_rt_sigprocmask, SIG_SETMASK, &old, NULL, sizeof(old));
		if (ret < 0)
			goto out_argv;
		out->pid = ctx.cmd_pid;
		out->pidfd = ctx.cmd_pidfd;
		out->init_pid = ctx.init_pid;
		out->init_pidfd = ctx.init_pidfd;
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
