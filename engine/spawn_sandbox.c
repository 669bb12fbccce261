/* spawn_sandbox: the sandboxed spawn, from a spare PID namespace (see the
 * struct spawn_sandbox comment in spawn.h).
 *
 * Making a spare is one vfork-style clone: the entry child E enters the
 * template's namespaces, unshares a mount namespace (a private copy of the
 * template's view), clones the launcher L there, unshares a PID namespace
 * and clones the init I, pid 1 of it; then E exits. I and L are our
 * children (CLONE_PARENT) and warm up by themselves while the server goes
 * on: I mounts the namespace's /proc, drops its capabilities and loads a
 * filter of its own; L enters I's PID namespace (setns on the namespace
 * file E opened: a pidfd of I would need ptrace access to our
 * non-dumpable memory), so its children are born there while L itself
 * stays outside and learns their pids as we see them; then it drops every
 * capability, sets no_new_privs and loads the command's filter. Attaching a filter costs the kernel a pass over every
 * syscall number, and mounting /proc a superblock: both happen here, off
 * the path of the request.
 *
 * A spawn posts the request to L and waits: L clones the command (vfork,
 * CLONE_PARENT, so the command is pid 2 there and our child, reaped through
 * its pidfd like any other), reports and sleeps. The command inherits L's
 * confinement and only execs. Once the command is reaped, the server kills
 * I and L, and with I whatever the command left in its namespace.
 *
 * I and L run concurrently with the server in the server's memory: they
 * use rawsys.h only and touch nothing but their stacks and the context
 * page. L shares our fd table until it exits (the command's stdio comes
 * from it); I takes an empty one of its own.
 */
#include "spawn_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/capability.h>
#include <linux/close_range.h>
#include <linux/futex.h>
#include <linux/securebits.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "rawsys.h"

#define SP_STACK (32 * 1024)
/* How long a spawn waits for a spare to be ready, or for its launcher. */
#define SP_WAIT_MS 5000

enum {
	SP_WARMING = 0,
	SP_READY = 1,
	SP_GO = 2,		/* L: a request is posted */
	SP_DONE = 3,		/* L: the command is made (or failed) */
	SP_QUIT = -2,		/* L: no request will come */
	SP_FAILED = -1,
};

/* The page above the stacks: all that I and L read and write. */
struct spawn_spare_ctx {
	volatile int init_state;	/* I: SP_WARMING, SP_READY, SP_FAILED */
	volatile int launch_state;	/* L: SP_WARMING .. SP_DONE, SP_QUIT, SP_FAILED */
	volatile int pidns_fd;		/* for L: the new PID namespace once E has it;
					   -1 before; -2 none (closed by the server) */
	volatile int err;		/* the first step that failed (-errno) */
	const char *volatile step;
	int self_pidfd;			/* the server's pidfd */
	struct spawn_sandbox sb;	/* a copy of what to enter and load */
	struct spawn_ctx *job;		/* the request (L reads it once SP_GO) */
	volatile pid_t cmd_pid;		/* L: the command's pid as we see it, or -errno */
};

struct spawn_spare {
	void *mem;			/* [guard][I stack][guard][L stack][context] */
	struct spawn_spare_ctx *ctx;
	pid_t init_pid, launcher_pid;
	int init_pidfd, launcher_pidfd;
};

static size_t sp_len(void)
{
	return spawn_g.page + SP_STACK + spawn_g.page + SP_STACK + spawn_g.page;
}

/* Every waiter: the init's state has two (the server and the launcher). */
static SPAWN_CHILD void sp_wake(volatile int *addr)
{
	rs_syscall6(SYS_futex, (long)addr, FUTEX_WAKE_PRIVATE, INT_MAX, 0, 0, 0);
}

/* Wait while *addr == val (a spurious wake-up just loops). */
static SPAWN_CHILD void sp_wait(volatile int *addr, int val)
{
	while (*addr == val)
		rs_syscall6(SYS_futex, (long)addr, FUTEX_WAIT_PRIVATE, val, 0, 0, 0);
}

static SPAWN_CHILD __attribute__((noreturn)) void sp_exit(void)
{
	for (;;)
		rs_sys1(SYS_exit_group, 0);
}

static SPAWN_CHILD void sp_fail(struct spawn_spare_ctx *x, volatile int *state, const char *step,
				long err)
{
	if (!x->err) {
		x->err = (int)err;
		x->step = step;
	}
	*state = SP_FAILED;
	sp_wake(state);
	sp_exit();
}

/* ---- I: the init ---- */

/* This namespace's /proc; for a command that is uid 0 on the host, the
 * kernel's writable knobs in it bound read-only. */
static SPAWN_CHILD long sp_mount_proc(struct spawn_spare_ctx *x)
{
	static const char *const ro[] = { "/proc/sys", "/proc/sysrq-trigger", "/proc/irq" };
	const unsigned long pflags = MS_NOSUID | MS_NODEV | MS_NOEXEC;
	long r = rs_sys5(SYS_mount, "proc", "/proc", "proc", pflags, NULL);
	for (size_t i = 0; r == 0 && x->sb.proc_ro && i < sizeof(ro) / sizeof(ro[0]); i++) {
		r = rs_sys5(SYS_mount, ro[i], ro[i], NULL, MS_BIND | MS_REC, NULL);
		if (r == 0)
			r = rs_sys5(SYS_mount, NULL, ro[i], NULL,
				    MS_REMOUNT | MS_BIND | MS_RDONLY | pflags, NULL);
		if (r == -ENOENT)
			r = 0;
	}
	return r;
}

/* pid 1: it reaps the orphans that reparent to it until the server kills
 * it (once the command, pid 2, has exited), which kills whatever is left
 * in here. */
static SPAWN_CHILD __attribute__((noreturn)) int sp_init(void *arg)
{
	struct spawn_spare_ctx *x = arg;
	struct timespec zero = { 0, 0 };

	rs_sys5(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	struct pollfd self = { .fd = x->self_pidfd, .events = POLLIN };
	if (x->self_pidfd < 0 || rs_sys5(SYS_ppoll, &self, 1, &zero, NULL, 0) != 0)
		sp_exit();
	rs_sys0(SYS_setsid);	/* out of the server's session and group */
	/* We share the server's fd table until here: take an empty one. */
	long r = rs_sys3(SYS_close_range, 0, ~0U, CLOSE_RANGE_UNSHARE);
	if (r < 0)
		sp_fail(x, &x->init_state, "close_range", r);
	uint64_t chld = 1ull << (SIGCHLD - 1);	/* every signal is blocked (spawn) */
	long sfd = rs_sys4(SYS_signalfd4, -1, &chld, sizeof(chld), SFD_CLOEXEC);
	if (sfd < 0)
		sp_fail(x, &x->init_state, "signalfd", sfd);
	if ((r = sp_mount_proc(x)) < 0)
		sp_fail(x, &x->init_state, "mount /proc", r);
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[2] = { { 0, 0, 0 }, { 0, 0, 0 } };
	if ((r = rs_sys2(SYS_capset, &hdr, data)) < 0 ||
	    (r = rs_sys5(SYS_prctl, PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) < 0 ||
	    (r = rs_sys3(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, x->sb.init_filter)) < 0)
		sp_fail(x, &x->init_state, "confining the init", r);
	x->init_state = SP_READY;
	sp_wake(&x->init_state);

	/* Reap what reparents to us, until the server kills us (when the
	 * command has exited, or it is terminated). */
	struct pollfd pfd = { .fd = (int)sfd, .events = POLLIN };
	char sbuf[8 * sizeof(struct signalfd_siginfo)];
	siginfo_t si;
	for (;;) {
		if (rs_sys5(SYS_ppoll, &pfd, 1, NULL, NULL, 0) <= 0)
			continue;
		rs_sys3(SYS_read, sfd, sbuf, sizeof(sbuf));
		for (;;) {
			si.si_pid = 0;
			if (rs_sys5(SYS_waitid, P_ALL, 0, &si, WEXITED | WNOHANG | __WALL, NULL) < 0 ||
			    si.si_pid == 0)
				break;
		}
	}
}

/* ---- L: the launcher ---- */

/* Give up every privilege for good, then load the command's filter. */
static SPAWN_CHILD long sp_confine(struct spawn_spare_ctx *x)
{
	/* Root (in its user namespace) must not regain capabilities at exec. */
	unsigned long bits = SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP |
			     SECBIT_NO_SETUID_FIXUP_LOCKED | SECBIT_KEEP_CAPS_LOCKED |
			     SECBIT_NO_CAP_AMBIENT_RAISE | SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED;
	long r = rs_sys5(SYS_prctl, PR_SET_SECUREBITS, bits, 0, 0, 0);
	for (int cap = 0; r == 0 && cap < 64; cap++)
		if ((r = rs_sys5(SYS_prctl, PR_CAPBSET_DROP, cap, 0, 0, 0)) == -EINVAL) {
			r = 0;	/* past the last capability this kernel has */
			break;
		}
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[2] = { { 0, 0, 0 }, { 0, 0, 0 } };
	if (r == 0)
		r = rs_sys5(SYS_prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	if (r == 0)
		r = rs_sys2(SYS_capset, &hdr, data);
	if (r == 0)
		r = rs_sys5(SYS_prctl, PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
	if (r == 0)
		r = rs_sys3(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, x->sb.filter);
	return r;
}

static SPAWN_CHILD __attribute__((noreturn)) int sp_launcher(void *arg)
{
	struct spawn_spare_ctx *x = arg;

	rs_sys5(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	if (spawn_server_gone())
		sp_exit();
	sp_wait(&x->pidns_fd, -1);
	if (x->pidns_fd < 0)
		sp_exit();
	/* Children from here on are born in I's PID namespace. */
	long r = rs_sys2(SYS_setns, x->pidns_fd, CLONE_NEWPID);
	if (r < 0)
		sp_fail(x, &x->launch_state, "setns", r);
	if ((r = sp_confine(x)) < 0)
		sp_fail(x, &x->launch_state, "confining the launcher", r);
	/* Warm once I is too: then say so (the eventfd is the loop's). */
	sp_wait(&x->init_state, SP_WARMING);
	x->launch_state = SP_READY;
	sp_wake(&x->launch_state);
	if (x->sb.ready_fd >= 0) {
		uint64_t one = 1;
		rs_sys3(SYS_write, x->sb.ready_fd, &one, sizeof(one));
	}

	sp_wait(&x->launch_state, SP_READY);
	if (x->launch_state != SP_GO)
		sp_exit();
	/* The server waits for us (a futex, no errno): the clone wrapper's
	 * errno on failure clobbers nothing it reads. */
	struct spawn_ctx *job = x->job;
	pid_t pid = clone(spawn_child, spawn_g.top2,
			  CLONE_VM | CLONE_VFORK | CLONE_PARENT | CLONE_PIDFD, job, &job->cmd_pidfd);
	x->cmd_pid = pid < 0 ? -ENOMEM : pid;
	x->launch_state = SP_DONE;
	sp_wake(&x->launch_state);
	/* Sleep, rather than exit on the request's path: the server kills us
	 * with the init. */
	for (;;)
		sp_wait(&x->launch_state, SP_DONE);
}

/* ---- E: the entry child ---- */

/* We wait for it (CLONE_VFORK) and share its fd table (CLONE_FILES), so the
 * pidfds it gets are ours. */
static SPAWN_CHILD __attribute__((noreturn)) int sp_entry(void *arg)
{
	struct spawn_spare *sp = arg;
	struct spawn_spare_ctx *x = sp->ctx;
	const struct spawn_sandbox *sb = &x->sb;
	const char *step = "setns";
	char *istack = (char *)sp->mem + spawn_g.page + SP_STACK;
	char *lstack = (char *)x;

	if ((sb->userfd >= 0 && syscall(SYS_setns, sb->userfd, CLONE_NEWUSER) < 0) ||
	    syscall(SYS_setns, sb->mntfd, CLONE_NEWNS) < 0 ||
	    (sb->netfd >= 0 && syscall(SYS_setns, sb->netfd, CLONE_NEWNET) < 0) ||
	    syscall(SYS_setns, sb->ipcfd, CLONE_NEWIPC) < 0 ||
	    (step = "unshare", syscall(SYS_unshare, CLONE_NEWNS) < 0))
		goto fail;
	step = "clone";
	pid_t l = clone(sp_launcher, lstack, CLONE_VM | CLONE_FILES | CLONE_PARENT | CLONE_PIDFD, x,
			&sp->launcher_pidfd);
	if (l < 0)
		goto fail;
	sp->launcher_pid = l;
	step = "unshare";
	if (syscall(SYS_unshare, CLONE_NEWPID) < 0)
		goto fail;
	/* The first child in the new PID namespace is its init. */
	step = "clone";
	pid_t i = clone(sp_init, istack, CLONE_VM | CLONE_FILES | CLONE_PARENT | CLONE_PIDFD, x,
			&sp->init_pidfd);
	if (i < 0)
		goto fail;
	sp->init_pid = i;
	step = "open pid_for_children";
	int ns = (int)syscall(SYS_openat, spawn_g.proc_fd, "thread-self/ns/pid_for_children",
			      O_RDONLY | O_CLOEXEC);
	if (ns < 0)
		goto fail;
	x->pidns_fd = ns;
	sp_wake(&x->pidns_fd);
	for (;;)
		syscall(SYS_exit, 0);
fail:
	x->err = -errno;
	x->step = step;
	x->pidns_fd = -2;
	sp_wake(&x->pidns_fd);
	for (;;)
		syscall(SYS_exit, 0);
}

/* ---- the server's side ---- */

static void sp_kill_reap(int *pidfd)
{
	if (*pidfd < 0)
		return;
	syscall(SYS_pidfd_send_signal, *pidfd, SIGKILL, NULL, 0);
	spawn_reap_pidfd(*pidfd);
	*pidfd = -1;
}

static void sp_close_pidns(struct spawn_spare_ctx *x)
{
	if (x->pidns_fd >= 0) {
		close(x->pidns_fd);
		x->pidns_fd = -2;
	}
}

void spawn_spare_free(struct spawn_spare *sp)
{
	if (!sp)
		return;
	/* The launcher first: it is outside the PID namespace. */
	sp_kill_reap(&sp->launcher_pidfd);
	sp_kill_reap(&sp->init_pidfd);
	sp_close_pidns(sp->ctx);
	spawn_init_mem_free(sp->mem);
	free(sp);
}

void spawn_init_mem_free(void *mem)
{
	if (mem)
		munmap(mem, sp_len());
}

int spawn_spare_new(const struct spawn_sandbox *sb, struct spawn_spare **out)
{
	if (!spawn_g.map)
		return -EINVAL;
	struct spawn_spare *sp = calloc(1, sizeof(*sp));
	if (!sp)
		return -ENOMEM;
	sp->init_pidfd = sp->launcher_pidfd = -1;
	sp->mem = spawn_map_stack(sp_len() - spawn_g.page, spawn_g.page);
	if (!sp->mem) {
		free(sp);
		return -ENOMEM;
	}
	/* A guard between the two stacks too. */
	mprotect((char *)sp->mem + spawn_g.page + SP_STACK, spawn_g.page, PROT_NONE);
	struct spawn_spare_ctx *x = (struct spawn_spare_ctx *)((char *)sp->mem + sp_len() - spawn_g.page);
	sp->ctx = x;
	x->pidns_fd = -1;
	x->self_pidfd = spawn_g.self_pidfd;
	x->sb = *sb;

	/* Every signal blocked: the children start with that mask and run
	 * none of our handlers. */
	uint64_t all = UINT64_MAX, old;
	syscall(SYS_rt_sigprocmask, SIG_SETMASK, &all, &old, sizeof(all));
	int entry_pidfd = -1;
	pid_t pid = clone(sp_entry, spawn_g.top, CLONE_VM | CLONE_VFORK | CLONE_FILES | CLONE_PIDFD,
			  sp, &entry_pidfd);
	int clone_errno = errno;
	syscall(SYS_rt_sigprocmask, SIG_SETMASK, &old, NULL, sizeof(old));
	if (pid < 0) {
		spawn_spare_free(sp);
		return -clone_errno;
	}
	spawn_reap_pidfd(entry_pidfd);
	if (x->err) {
		log_warn("sandbox: preparing a PID namespace failed at %s: %s", x->step,
			 strerror(-x->err));
		int err = x->err;
		spawn_spare_free(sp);
		return err;
	}
	*out = sp;
	return 0;
}

/* Wait while *addr == val, up to SP_WAIT_MS, as long as pidfd lives. */
static int sp_await(volatile int *addr, int val, int pidfd)
{
	struct timespec step = { 0, 20 * 1000 * 1000 };
	for (int waited = 0; *addr == val; waited += 20) {
		struct pollfd p = { .fd = pidfd, .events = POLLIN };
		struct timespec zero = { 0, 0 };
		if (waited >= SP_WAIT_MS || rs_sys5(SYS_ppoll, &p, 1, &zero, NULL, 0) != 0)
			return -ECHILD;	/* it died, or hangs */
		rs_syscall6(SYS_futex, (long)addr, FUTEX_WAIT_PRIVATE, val, (long)&step, 0, 0);
	}
	return 0;
}

int spawn_spare_ready(const struct spawn_spare *sp)
{
	const struct spawn_spare_ctx *x = sp->ctx;
	if (x->init_state == SP_FAILED || x->launch_state == SP_FAILED)
		return -1;
	if (x->init_state == SP_READY && x->launch_state == SP_READY)
		return 1;
	/* Still warming, unless one of them is gone without a word. */
	struct pollfd p[2] = { { .fd = sp->init_pidfd, .events = POLLIN },
			       { .fd = sp->launcher_pidfd, .events = POLLIN } };
	struct timespec zero = { 0, 0 };
	return rs_sys5(SYS_ppoll, p, 2, &zero, NULL, 0) > 0 ? -1 : 0;
}

static int sp_ready(struct spawn_spare *sp)
{
	struct spawn_spare_ctx *x = sp->ctx;
	if (sp_await(&x->init_state, SP_WARMING, sp->init_pidfd) < 0 ||
	    sp_await(&x->launch_state, SP_WARMING, sp->launcher_pidfd) < 0 ||
	    x->init_state != SP_READY || x->launch_state != SP_READY) {
		if (x->err)
			log_warn("sandbox: a PID namespace failed to warm up at %s: %s", x->step,
				 strerror(-x->err));
		return -EOPNOTSUPP;
	}
	sp_close_pidns(x);	/* L is in it; I keeps it alive */
	return 0;
}

int spawn_start_sandboxed(struct spawn_ctx *ctx, struct spawn_result *out)
{
	const struct spawn_spec *spec = ctx->spec;
	struct spawn_spare *sp = spec->spare ? *spec->spare : NULL;
	int ret = 0;
	if (spec->spare)
		*spec->spare = NULL;
	/* A spare that died on us is replaced once, on the spot. */
	for (int attempt = 0; attempt < 2; attempt++) {
		if (!sp && (ret = spawn_spare_new(spec->sandbox, &sp)) < 0)
			return ret == -ENOMEM ? ret : -EOPNOTSUPP;
		if ((ret = sp_ready(sp)) == 0)
			break;
		spawn_spare_free(sp);
		sp = NULL;
	}
	if (ret < 0)
		return ret;

	struct spawn_spare_ctx *x = sp->ctx;
	ctx->cmd_pidfd = -1;
	x->job = ctx;
	x->launch_state = SP_GO;
	sp_wake(&x->launch_state);
	if (sp_await(&x->launch_state, SP_GO, sp->launcher_pidfd) < 0 ||
	    x->launch_state != SP_DONE) {
		spawn_spare_free(sp);
		return -EOPNOTSUPP;
	}
	if (x->cmd_pid < 0 || ctx->err < 0) {
		/* The command failed before its exec (or never came): it has
		 * exited, and the init follows once it sees that. */
		ret = ctx->err < 0 ? ctx->err : x->cmd_pid;
		if (ctx->cmd_pidfd >= 0)
			spawn_reap_pidfd(ctx->cmd_pidfd);
		spawn_spare_free(sp);
		return ret;
	}
	out->pid = x->cmd_pid;
	out->pidfd = ctx->cmd_pidfd;
	out->init_pid = sp->init_pid;
	out->init_pidfd = sp->init_pidfd;
	out->launcher_pid = sp->launcher_pid;
	out->launcher_pidfd = sp->launcher_pidfd;
	out->init_mem = sp->mem;
	free(sp);
	return 0;
}
