/* spawn: start one child without fork().
 *
 * clone(CLONE_VM|CLONE_VFORK|CLONE_PIDFD) on a private stack: the parent gets
 * a pidfd atomically and resumes once the child has exec'd or failed. The
 * child has no exit signal (no SIGCHLD: wait for it with __WALL); an exec
 * or chdir failure comes back as -errno through memory the two share. The
 * child: new session, the given fds as 0/1/2 (the tty one as controlling
 * terminal), signal dispositions and mask reset, close_range(3..), PDEATHSIG
 * SIGKILL, RLIMIT_NOFILE restored, then execve with a PATH search over the
 * request's own environment. Blocking only for the spawn itself.
 * Sandboxed (spec->sandbox): see struct spawn_sandbox.
 */
#ifndef RINGEXEC_SPAWN_H
#define RINGEXEC_SPAWN_H

#include <stdbool.h>
#include <sys/resource.h>
#include <sys/types.h>

struct sock_fprog;

/* What a sandboxed spawn enters (a template from sandbox.c). Each command
 * gets a PID namespace of its own, with its own /proc in a private copy of
 * the template's mounts: a *spare* holds one ready, its init (pid 1, a
 * small reaper that lives as long as the command) and its launcher (which
 * has entered that PID namespace, dropped every capability, set
 * no_new_privs and loaded the filter, and waits). A spawn hands the
 * launcher the command; the launcher clones it as pid 2 (our child, by
 * CLONE_PARENT), and the command inherits all of that and only execs. */
struct spawn_sandbox {
	int userfd;			/* user namespace, or -1 (root without one) */
	int mntfd;			/* mount namespace */
	int netfd;			/* network namespace, or -1: the server's */
	int ipcfd;			/* IPC namespace */
	bool proc_ro;			/* bind /proc/sys and friends read-only
					   (the child is uid 0 on the host) */
	const struct sock_fprog *filter;	/* seccomp filter for the child */
	const struct sock_fprog *init_filter;	/* and for its init */
	int ready_fd;			/* an eventfd a spare's launcher writes 1 to once
					   the spare is warm, or -1 */
};

struct spawn_spare;

struct spawn_spec {
	const char *const *argv;	/* NULL-terminated, argv[0] = program to run */
	const char *arg0;		/* argv[0] the child sees; NULL: argv[0] */
	const char *const *envp;	/* NULL-terminated: the complete environment */
	const char *cwd;		/* directory to chdir to in the child; NULL: keep */
	int stdin_fd;			/* becomes fd 0 in the child */
	int stdout_fd;			/* becomes fd 1 */
	int stderr_fd;			/* becomes fd 2 */
	bool ctty;			/* make stdin_fd the controlling terminal */
	const struct spawn_sandbox *sandbox;	/* NULL: not sandboxed */
	/* Sandboxed: a spare made for this sandbox, taken (set to NULL) by
	 * spawn_start; NULL or *spare NULL: one is made on the spot. */
	struct spawn_spare **spare;
	bool probe;			/* sandboxed: exit 0 instead of execve (a test of
					   the confinement); argv[0] is then not run */
};

struct spawn_result {
	pid_t pid;	/* the child's pid (also its pgid and sid) */
	int pidfd;	/* O_CLOEXEC pidfd of the child */
	/* Sandboxed: the init of the child's PID namespace, also our child
	 * (it exits, killing what is left there, once the child has exited),
	 * and the launcher that cloned the child (it exits at once). Reap both
	 * through their pidfds, then spawn_init_mem_free(init_mem). -1, 0 and
	 * NULL when not sandboxed. */
	int init_pidfd;
	pid_t init_pid;
	int launcher_pidfd;
	pid_t launcher_pid;
	void *init_mem;
};

/* Once at start-up: remember the RLIMIT_NOFILE to give children (call it
 * before raising the server's own), map the child stack, and note which
 * signal dispositions children must reset (spawn_note_signals). 0 or -errno. */
int spawn_init(const struct rlimit *child_nofile);
/* spawn_init() has succeeded. */
bool spawn_ready(void);
/* Take note of the signals the process ignores or catches now: children
 * reset exactly those (and glibc's internal 32 and 33) to SIG_DFL. Call it
 * again after changing a disposition to SIG_IGN or a handler. */
void spawn_note_signals(void);

/* Start the child. 0 on success (the child has exec'd), or -errno: the
 * errno of the chdir or exec that failed in the child (then the child is
 * already reaped), or of clone itself. */
int spawn_start(const struct spawn_spec *spec, struct spawn_result *out);

/* Wait for the (exited or exiting) child behind pidfd, reap it, close pidfd.
 * Blocks: for children known to be on their way out. */
void spawn_reap_pidfd(int pidfd);

/* The init's and launcher's stacks, once both are reaped. NULL-safe. */
void spawn_init_mem_free(void *mem);

/* A spare for sb, ready shortly (it warms up on its own, concurrently):
 * blocks only for one clone of a child that enters the template. 0 or
 * -errno. */
int spawn_spare_new(const struct spawn_sandbox *sb, struct spawn_spare **out);
/* 1 when sp is warm (a spawn from it does not wait), 0 while it warms up,
 * -1 when it failed (free it). Never blocks. */
int spawn_spare_ready(const struct spawn_spare *sp);
/* Kill and reap an unused spare. NULL-safe. */
void spawn_spare_free(struct spawn_spare *sp);

/* Open a PTY pair: master O_RDWR|O_NOCTTY|O_CLOEXEC|O_NONBLOCK, slave via
 * TIOCGPTPEER (O_RDWR|O_NOCTTY|O_CLOEXEC), window size rows x cols set.
 * 0 or -errno (nothing left open on failure). */
int spawn_open_pty(int *master, int *slave, unsigned short rows, unsigned short cols);

/* Resolve a bare program name the way spawn_start does: PATH of envp, or
 * /usr/local/bin:/usr/bin:/bin when envp has none. Exposed for tests. */
int spawn_resolve(const char *prog, const char *const *envp, char *out, size_t outlen);

#endif
