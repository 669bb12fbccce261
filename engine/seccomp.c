/* seccomp: build the sandbox filters (see seccomp.h).
 *
 * A tiny compiler over struct sock_filter: the rules are sorted by syscall
 * number and laid out as a binary search tree (an upper half reached by a
 * long jump), so a call is matched in a handful of comparisons. A rule's
 * body, entered when the number matches, ends in a return on every path,
 * so the accumulator holds the number wherever the tree branches.
 */
#include "seccomp.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>

#include "rawsys.h"

#if defined(__x86_64__)
#define SC_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define SC_ARCH AUDIT_ARCH_AARCH64
#else
#error "seccomp.c: add this architecture"
#endif

#define SC_MAX 400
#define SC_NR offsetof(struct seccomp_data, nr)
#define SC_ARCH_OFF offsetof(struct seccomp_data, arch)
/* The low 32 bits of argument i (little-endian). */
#define SC_ARG(i) (offsetof(struct seccomp_data, args) + 8 * (i))

#define SC_EPERM (SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA))
#define SC_ENOSYS (SECCOMP_RET_ERRNO | (ENOSYS & SECCOMP_RET_DATA))

#ifndef TIOCLINUX
#define TIOCLINUX 0x541C
#endif

/* Namespace flags a clone(2) must not carry. */
#define SC_CLONE_NS (CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | \
		     CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWCGROUP)
/* Set-user-ID and set-group-ID. */
#define SC_SUID_BITS 06000

struct sc_prog {
	struct sock_filter ins[SC_MAX];
	unsigned short n;
	bool overflow;
};

enum sc_kind {
	SC_RET,		/* the call gives action */
	SC_BITS,	/* EPERM when (arg & value) != 0 */
	SC_EQ2,		/* EPERM when arg is value or value2 */
	SC_ONLY,	/* EPERM unless arg is value */
};

struct sc_rule {
	uint32_t nr;
	enum sc_kind kind;
	uint32_t action;	/* SC_RET */
	unsigned arg;
	uint32_t value, value2;
};

#define SC_MAX_RULES 128

struct sc_rules {
	struct sc_rule r[SC_MAX_RULES];
	size_t n;
	bool overflow;
};

static struct sc_prog sc_child[2];	/* [restrict_net] */
static struct sc_prog sc_init;
static struct sock_fprog sc_child_fprog[2], sc_init_fprog;
static bool sc_built;

static void sc_emit(struct sc_prog *p, uint16_t code, uint8_t jt, uint8_t jf, uint32_t k)
{
	if (p->n >= SC_MAX) {
		p->overflow = true;
		return;
	}
	p->ins[p->n++] = (struct sock_filter){ code, jt, jf, k };
}

static void sc_ret(struct sc_prog *p, uint32_t action)
{
	sc_emit(p, BPF_RET | BPF_K, 0, 0, action);
}

static void sc_load(struct sc_prog *p, uint32_t off)
{
	sc_emit(p, BPF_LD | BPF_W | BPF_ABS, 0, 0, off);
}

/* The architecture check, then the syscall number in A. */
static void sc_prologue(struct sc_prog *p)
{
	sc_load(p, SC_ARCH_OFF);
	sc_emit(p, BPF_JMP | BPF_JEQ | BPF_K, 1, 0, SC_ARCH);
	sc_ret(p, SECCOMP_RET_KILL_PROCESS);
	sc_load(p, SC_NR);
#if defined(__x86_64__)
	/* x32 calls are x86_64 with bit 30 set in the number. */
	sc_emit(p, BPF_JMP | BPF_JSET | BPF_K, 0, 1, 0x40000000);
	sc_ret(p, SECCOMP_RET_KILL_PROCESS);
#endif
}

static void sc_add(struct sc_rules *rs, struct sc_rule r)
{
	if (rs->n >= SC_MAX_RULES) {
		rs->overflow = true;
		return;
	}
	rs->r[rs->n++] = r;
}

static int sc_rule_cmp(const void *a, const void *b)
{
	const struct sc_rule *x = a, *y = b;
	return x->nr < y->nr ? -1 : x->nr > y->nr;
}

/* The instructions of one rule's body, entered when A == nr; every path
 * ends in a return. */
static void sc_body(struct sc_prog *p, const struct sc_rule *r)
{
	switch (r->kind) {
	case SC_RET:
		sc_ret(p, r->action);
		return;
	case SC_BITS:
		sc_load(p, SC_ARG(r->arg));
		sc_emit(p, BPF_JMP | BPF_JSET | BPF_K, 0, 1, r->value);
		sc_ret(p, SC_EPERM);
		sc_ret(p, SECCOMP_RET_ALLOW);
		return;
	case SC_EQ2:
		sc_load(p, SC_ARG(r->arg));
		sc_emit(p, BPF_JMP | BPF_JEQ | BPF_K, 2, 0, r->value);
		sc_emit(p, BPF_JMP | BPF_JEQ | BPF_K, 1, 0, r->value2);
		sc_ret(p, SECCOMP_RET_ALLOW);
		sc_ret(p, SC_EPERM);
		return;
	case SC_ONLY:
		sc_load(p, SC_ARG(r->arg));
		sc_emit(p, BPF_JMP | BPF_JEQ | BPF_K, 0, 1, r->value);
		sc_ret(p, SECCOMP_RET_ALLOW);
		sc_ret(p, SC_EPERM);
		return;
	}
}

static unsigned sc_body_len(const struct sc_rule *r)
{
	return r->kind == SC_RET ? 1 : r->kind == SC_BITS ? 4 : 5;
}

/* A binary search over the sorted numbers (A holds the number): a few
 * comparisons for any call instead of one per rule, which is what the
 * kernel's per-number action cache (built by running the filter for
 * every number at attach time) and every filtered call pay for. */
static void sc_tree(struct sc_prog *p, const struct sc_rule *r, size_t n, uint32_t dflt)
{
	if (n <= 3) {
		for (size_t i = 0; i < n; i++) {
			sc_emit(p, BPF_JMP | BPF_JEQ | BPF_K, 0, (uint8_t)sc_body_len(&r[i]), r[i].nr);
			sc_body(p, &r[i]);
		}
		sc_ret(p, dflt);
		return;
	}
	size_t mid = n / 2;
	/* A >= r[mid].nr: the upper half, through a long jump. */
	sc_emit(p, BPF_JMP | BPF_JGE | BPF_K, 0, 1, r[mid].nr);
	size_t ja = p->n;
	sc_emit(p, BPF_JMP | BPF_JA, 0, 0, 0);
	sc_tree(p, r, mid, dflt);
	if (ja < SC_MAX)
		p->ins[ja].k = (uint32_t)(p->n - ja - 1);
	sc_tree(p, r + mid, n - mid, dflt);
}

static int sc_compile(struct sc_prog *p, struct sc_rules *rs, uint32_t dflt)
{
	p->n = 0;
	p->overflow = rs->overflow;
	qsort(rs->r, rs->n, sizeof(rs->r[0]), sc_rule_cmp);
	sc_prologue(p);
	sc_tree(p, rs->r, rs->n, dflt);
	return p->overflow ? -E2BIG : 0;
}

/* Calls no sandboxed process may make (EPERM). */
static const long sc_denied[] = {
	SYS_io_uring_setup, SYS_io_uring_enter, SYS_io_uring_register,
	SYS_ptrace, SYS_process_vm_readv, SYS_process_vm_writev, SYS_process_madvise,
	SYS_pidfd_getfd, SYS_kcmp,
	SYS_mount, SYS_umount2, SYS_pivot_root, SYS_chroot, SYS_unshare, SYS_setns,
	SYS_open_tree, SYS_open_tree_attr, SYS_move_mount, SYS_fsopen, SYS_fsconfig,
	SYS_fsmount, SYS_fspick, SYS_mount_setattr,
	SYS_init_module, SYS_finit_module, SYS_delete_module, SYS_kexec_load,
	SYS_kexec_file_load, SYS_reboot, SYS_swapon, SYS_swapoff, SYS_acct,
	SYS_bpf, SYS_perf_event_open, SYS_userfaultfd, SYS_keyctl, SYS_add_key,
	SYS_request_key, SYS_name_to_handle_at, SYS_open_by_handle_at,
	SYS_fanotify_init, SYS_quotactl, SYS_lookup_dcookie, SYS_vhangup,
#ifdef SYS_iopl
	SYS_iopl,
#endif
#ifdef SYS_ioperm
	SYS_ioperm,
#endif
#ifdef SYS_umount
	SYS_umount,
#endif
#ifdef SYS_quotactl_fd
	SYS_quotactl_fd,
#endif
};

#define SC_R(n, a) ((struct sc_rule){ .nr = (uint32_t)(n), .kind = SC_RET, .action = (a) })
#define SC_B(n, i, bits) ((struct sc_rule){ .nr = (uint32_t)(n), .kind = SC_BITS, .arg = (i), .value = (bits) })

static int sc_build_child(struct sc_prog *p, bool restrict_net)
{
	struct sc_rules rs = { .n = 0 };
	for (size_t i = 0; i < sizeof(sc_denied) / sizeof(sc_denied[0]); i++)
		sc_add(&rs, SC_R(sc_denied[i], SC_EPERM));
	/* Out of the filter's reach (a struct argument): libc falls back. */
	sc_add(&rs, SC_R(SYS_clone3, SC_ENOSYS));
	sc_add(&rs, SC_R(SYS_openat2, SC_ENOSYS));

	sc_add(&rs, SC_B(SYS_clone, 0, SC_CLONE_NS));
	sc_add(&rs, (struct sc_rule){ .nr = SYS_ioctl, .kind = SC_EQ2, .arg = 1, .value = TIOCSTI,
				      .value2 = TIOCLINUX });
	/* No set-user-ID or set-group-ID file can be made. */
	sc_add(&rs, SC_B(SYS_fchmod, 1, SC_SUID_BITS));
	sc_add(&rs, SC_B(SYS_fchmodat, 2, SC_SUID_BITS));
	sc_add(&rs, SC_B(SYS_fchmodat2, 2, SC_SUID_BITS));
	sc_add(&rs, SC_B(SYS_openat, 3, SC_SUID_BITS));
	sc_add(&rs, SC_B(SYS_mkdirat, 2, SC_SUID_BITS));
	sc_add(&rs, SC_B(SYS_mknodat, 2, SC_SUID_BITS));
#ifdef SYS_chmod
	sc_add(&rs, SC_B(SYS_chmod, 1, SC_SUID_BITS));
#endif
#ifdef SYS_open
	sc_add(&rs, SC_B(SYS_open, 2, SC_SUID_BITS));
#endif
#ifdef SYS_creat
	sc_add(&rs, SC_B(SYS_creat, 1, SC_SUID_BITS));
#endif
#ifdef SYS_mkdir
	sc_add(&rs, SC_B(SYS_mkdir, 1, SC_SUID_BITS));
#endif
#ifdef SYS_mknod
	sc_add(&rs, SC_B(SYS_mknod, 1, SC_SUID_BITS));
#endif
	if (restrict_net) {
		sc_add(&rs, (struct sc_rule){ .nr = SYS_socket, .kind = SC_ONLY, .arg = 0, .value = AF_UNIX });
		sc_add(&rs, (struct sc_rule){ .nr = SYS_socketpair, .kind = SC_ONLY, .arg = 0,
					      .value = AF_UNIX });
	}
	return sc_compile(p, &rs, SECCOMP_RET_ALLOW);
}

/* What the init of a sandbox does: wait for signals and exits, reap. */
static const long sc_init_allowed[] = {
	SYS_read, SYS_ppoll, SYS_waitid, SYS_exit, SYS_exit_group, SYS_rt_sigreturn,
	SYS_restart_syscall, SYS_futex, SYS_pidfd_open, SYS_close,
#ifdef SYS_poll
	SYS_poll,
#endif
};

static int sc_build_init(struct sc_prog *p)
{
	struct sc_rules rs = { .n = 0 };
	for (size_t i = 0; i < sizeof(sc_init_allowed) / sizeof(sc_init_allowed[0]); i++)
		sc_add(&rs, SC_R(sc_init_allowed[i], SECCOMP_RET_ALLOW));
	return sc_compile(p, &rs, SECCOMP_RET_KILL_PROCESS);
}

int seccomp_build(void)
{
	if (sc_built)
		return 0;
	for (int net = 0; net < 2; net++) {
		int ret = sc_build_child(&sc_child[net], net);
		if (ret < 0)
			return ret;
		sc_child_fprog[net].len = sc_child[net].n;
		sc_child_fprog[net].filter = sc_child[net].ins;
	}
	int ret = sc_build_init(&sc_init);
	if (ret < 0)
		return ret;
	sc_init_fprog.len = sc_init.n;
	sc_init_fprog.filter = sc_init.ins;
	sc_built = true;
	return 0;
}

const struct sock_fprog *seccomp_child_filter(bool restrict_net)
{
	return sc_built ? &sc_child_fprog[restrict_net ? 1 : 0] : NULL;
}

const struct sock_fprog *seccomp_init_filter(void)
{
	return sc_built ? &sc_init_fprog : NULL;
}
