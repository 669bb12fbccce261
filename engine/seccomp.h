/* seccomp: the BPF programs that sandboxed children load before execve.
 *
 * Built once (seccomp_build) into static storage, so a child only passes a
 * pointer to seccomp(2). The command's filter denies, with EPERM: io_uring,
 * ptrace and the process_vm/pidfd_getfd family, every mount, namespace and
 * root change, kernel modules, kexec, BPF, perf events, keyrings,
 * userfaultfd, open_by_handle_at, TIOCSTI/TIOCLINUX, a clone asking for a
 * new namespace, and setting the set-user-ID or set-group-ID bit (chmod,
 * creat, open/mkdir/mknod with such a mode); clone3 and openat2 answer
 * ENOSYS (their arguments are out of the filter's reach, and libc falls
 * back); with a restricted network, socket() and socketpair() of any
 * family but AF_UNIX. Another architecture's system calls (i386 on
 * x86_64, x32) kill the process. The init's filter allows only what a
 * reaper needs. Pure: no I/O.
 */
#ifndef RINGEXEC_SECCOMP_H
#define RINGEXEC_SECCOMP_H

#include <linux/filter.h>
#include <stdbool.h>

/* Build the programs. Idempotent. 0, or -E2BIG if a program outgrew its
 * storage (a bug). */
int seccomp_build(void);

/* The command's filter (network restricted or not); NULL before seccomp_build. */
const struct sock_fprog *seccomp_child_filter(bool restrict_net);
/* The filter of a sandbox's init (pid 1 of its PID namespace). */
const struct sock_fprog *seccomp_init_filter(void);

#endif
