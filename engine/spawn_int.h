/* spawn_int: what spawn.c and spawn_sandbox.c share (engine-internal).
 *
 * The child stacks and limits set up by spawn_init, the context a child
 * reads, and the child function itself: a sandboxed command is the same
 * child, cloned by its sandbox's launcher instead of by the server.
 */
#ifndef RINGEXEC_SPAWN_INT_H
#define RINGEXEC_SPAWN_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "spawn.h"

/* Code that runs in a child: ASan and UBSan cannot follow a CLONE_VM child
 * on a private stack, and inlining would pull it into instrumented code. */
#define SPAWN_CHILD __attribute__((noinline, no_sanitize("address", "undefined")))

#define SPAWN_STACK_SIZE (256 * 1024)

/* The kernel's struct rlimit64, for prlimit64 (glibc's struct rlimit is
 * narrower on 32-bit ABIs). */
struct spawn_klimit {
	uint64_t cur;
	uint64_t max;
};

struct spawn_globals {
	void *map;			/* guard page + stack; NULL before spawn_init */
	size_t maplen;
	void *top;			/* initial stack pointer (stacks grow down) */
	void *map2;			/* the same again: a sandboxed command's, or a */
	void *top2;			/* sandbox entry child's second stack */
	size_t page;
	int self_pidfd;			/* our own pidfd: readable once we have exited */
	int proc_fd;			/* O_PATH of our /proc, for namespace files */
	struct spawn_klimit nofile;	/* RLIMIT_NOFILE for children */
	uint64_t reset_sigs;		/* bit sig-1: disposition the child resets */
};

extern struct spawn_globals spawn_g;

/* Shared by parent and child (CLONE_VM): on the parent's stack. */
struct spawn_ctx {
	const struct spawn_spec *spec;
	char *const *argv;		/* as the child sees it (arg0 applied) */
	char *const *envp;
	char *const *cands;		/* execve candidates in order, NULL-terminated */
	pid_t ppid;			/* the parent's pid, for the PDEATHSIG check */
	volatile int err;		/* child -> parent: 0 exec'd, -errno failed */
	int cmd_pidfd;			/* sandboxed: the launcher's CLONE_PIDFD result */
};

/* The child: from clone to execve (never returns). */
int spawn_child(void *arg);
/* A stack of size bytes above a PROT_NONE guard page (munmap size + page). */
void *spawn_map_stack(size_t size, size_t page);
/* In a child: true when the server is gone (its pidfd is readable). */
bool spawn_server_gone(void);

/* spawn_sandbox.c: the sandboxed spawn of ctx (spec->sandbox set), with
 * every signal already blocked. 0 or -errno; fills out. */
int spawn_start_sandboxed(struct spawn_ctx *ctx, struct spawn_result *out);

#endif
