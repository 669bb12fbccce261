/* rawsys: system calls that never touch errno, for code that runs in a
 * CLONE_VM child while the server runs too.
 *
 * A CLONE_VM child shares the server's memory and its thread pointer, so
 * glibc's syscall() would write the *server's* errno from another task.
 * These return the kernel's result as is: >= 0, or -errno. Inline asm for
 * x86_64 and aarch64 (the architectures the seccomp filter knows); nothing
 * else may be called from such a child but these, memcpy-like loops and
 * plain stores into memory that the child owns.
 */
#ifndef RINGEXEC_RAWSYS_H
#define RINGEXEC_RAWSYS_H

#include <sys/syscall.h>

#if defined(__x86_64__)
static inline __attribute__((always_inline)) long
rs_syscall6(long n, long a, long b, long c, long d, long e, long f)
{
	long ret;
	register long r10 __asm__("r10") = d;
	register long r8 __asm__("r8") = e;
	register long r9 __asm__("r9") = f;
	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
			 : "rcx", "r11", "memory");
	return ret;
}
#elif defined(__aarch64__)
static inline __attribute__((always_inline)) long
rs_syscall6(long n, long a, long b, long c, long d, long e, long f)
{
	register long x8 __asm__("x8") = n;
	register long x0 __asm__("x0") = a;
	register long x1 __asm__("x1") = b;
	register long x2 __asm__("x2") = c;
	register long x3 __asm__("x3") = d;
	register long x4 __asm__("x4") = e;
	register long x5 __asm__("x5") = f;
	__asm__ volatile("svc 0"
			 : "+r"(x0)
			 : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x5)
			 : "memory");
	return x0;
}
#else
#error "rawsys.h: add this architecture's syscall convention"
#endif

#define rs_sys0(n) rs_syscall6((n), 0, 0, 0, 0, 0, 0)
#define rs_sys1(n, a) rs_syscall6((n), (long)(a), 0, 0, 0, 0, 0)
#define rs_sys2(n, a, b) rs_syscall6((n), (long)(a), (long)(b), 0, 0, 0, 0)
#define rs_sys3(n, a, b, c) rs_syscall6((n), (long)(a), (long)(b), (long)(c), 0, 0, 0)
#define rs_sys4(n, a, b, c, d) rs_syscall6((n), (long)(a), (long)(b), (long)(c), (long)(d), 0, 0)
#define rs_sys5(n, a, b, c, d, e) \
	rs_syscall6((n), (long)(a), (long)(b), (long)(c), (long)(d), (long)(e), 0)

/* Newer than some libc headers; the numbers are the same on every arch
 * that uses the generic table (x86_64 and aarch64 included). */
#ifndef SYS_open_tree
#define SYS_open_tree 428
#endif
#ifndef SYS_move_mount
#define SYS_move_mount 429
#endif
#ifndef SYS_fsopen
#define SYS_fsopen 430
#endif
#ifndef SYS_fsconfig
#define SYS_fsconfig 431
#endif
#ifndef SYS_fsmount
#define SYS_fsmount 432
#endif
#ifndef SYS_fspick
#define SYS_fspick 433
#endif
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_clone3
#define SYS_clone3 435
#endif
#ifndef SYS_close_range
#define SYS_close_range 436
#endif
#ifndef SYS_openat2
#define SYS_openat2 437
#endif
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438
#endif
#ifndef SYS_process_madvise
#define SYS_process_madvise 440
#endif
#ifndef SYS_mount_setattr
#define SYS_mount_setattr 442
#endif
#ifndef SYS_fchmodat2
#define SYS_fchmodat2 452
#endif
#ifndef SYS_open_tree_attr
#define SYS_open_tree_attr 467
#endif

/* Plain string helpers for such children (no libc, no instrumentation). */
static inline __attribute__((always_inline)) unsigned long rs_strlen(const char *s)
{
	unsigned long n = 0;
	while (s[n])
		n++;
	return n;
}

#endif
