/* sandbox: the template cache, the start-up probe, waiting for a template
 * (and a spare PID namespace in it), and running a function inside one
 * (see sandbox.h).
 *
 * A template is found by its key (sandbox_key.c). It is BUILDING while its
 * build child runs (a fork that shares our fd table; its exit comes as a
 * WAITID completion on the ring, so the loop never waits for a build), then
 * READY. A spawn needs a READY template and a warm spare (spawn_sandbox.c);
 * sandbox_acquire() answers at once when both are there, else it queues the
 * waiter and starts what is missing; the spares' launchers write to one
 * eventfd when they are warm, and its completion serves the waiters. After
 * a spawn the next spare is made SANDBOX_REFILL_MS later. An idle timer
 * frees templates unused for SANDBOX_IDLE_MS; there are never more than
 * SANDBOX_MAX_TEMPLATES (the least recently used idle one goes first).
 */
#include "sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "loop.h"
#include "sandbox_int.h"
#include "seccomp.h"
#include "spawn.h"
#include "util.h"

/* sandbox_run's child runs ordinary (instrumented) code: a roomy stack. */
#define SANDBOX_RUN_STACK (1024 * 1024)
/* A template's next spare PID namespace is made this long after a spawn. */
#define SANDBOX_REFILL_MS 2

enum sandbox_state { SB_BUILDING, SB_READY };

struct sandbox {
	struct sandbox *next;
	struct sandbox_set *set;
	enum sandbox_state state;
	char *key;			/* malloc'd */
	size_t keylen;
	bool restrict_net;
	uint64_t last_used_ms;
	struct spawn_sandbox sp;	/* the namespace fds, what spawn enters */
	struct sb_job *job;		/* SB_BUILDING: the build child */
	struct loop_op build_op;	/* its WAITID */
	siginfo_t build_si;
	bool build_inflight;
	struct spawn_spare *spare;	/* a PID namespace for the next command */
	struct loop_timer refill;	/* makes the next spare */
	struct sandbox_waiter *waiters;	/* spawns waiting, in order */
	struct sandbox_waiter **waiters_tail;
	int inflight;			/* ops in flight (build_op) */
	bool dead;			/* unlinked; freed once inflight is 0 */
};

struct sandbox_set {
	struct loop *loop;
	struct sandbox *list;
	size_t count;
	struct loop_timer idle;
	bool available;
	char why[256];
	bool userns;			/* templates get a user namespace */
	bool root;			/* the server runs as uid 0 */
	bool hardened;			/* PR_SET_DUMPABLE 0 done */
	char **hide;			/* copy of the config's list */
	int efd;			/* launchers write here once warm */
	uint64_t efd_buf;
	struct loop_op efd_op;
	bool efd_inflight;
	struct loop_defer serve;	/* serves the waiters on the next turn */
};

static void sandbox_refill(struct loop_timer *t);
static void sandbox_serve(struct sandbox *sb);

/* ---- templates ---- */

static void sandbox_close_fds(struct spawn_sandbox *sp)
{
	int *fds[] = { &sp->userfd, &sp->mntfd, &sp->ipcfd, &sp->netfd };
	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		if (*fds[i] >= 0) {
			close(*fds[i]);
			*fds[i] = -1;
		}
}

static void sandbox_fail_waiters(struct sandbox *sb, int err)
{
	while (sb->waiters) {
		struct sandbox_waiter *w = sb->waiters;
		sb->waiters = w->next;
		if (!sb->waiters)
			sb->waiters_tail = &sb->waiters;
		w->sb = NULL;
		w->ready(w, NULL, err);
	}
}

static void sandbox_unlink(struct sandbox *sb)
{
	struct sandbox_set *set = sb->set;
	for (struct sandbox **pp = &set->list; *pp; pp = &(*pp)->next)
		if (*pp == sb) {
			*pp = sb->next;
			set->count--;
			return;
		}
}

/* Take sb out of the set and free it (once its build op is done). Waiters
 * get err. */
static void sandbox_drop(struct sandbox *sb, int err)
{
	if (sb->dead)
		return;
	sb->dead = true;
	sandbox_unlink(sb);
	loop_timer_cancel(sb->set->loop, &sb->refill);
	sandbox_fail_waiters(sb, err);
	spawn_spare_free(sb->spare);
	sb->spare = NULL;
	if (sb->job) {
		/* Its WAITID completes once it is killed (or the loop ends). */
		syscall(SYS_pidfd_send_signal, sb_job_pidfd(sb->job), SIGKILL, NULL, 0);
	}
	if (sb->inflight == 0) {
		sandbox_close_fds(&sb->sp);
		free(sb->key);
		free(sb);
	}
}

static void sandbox_spawn_defaults(struct sandbox_set *set, bool restrict_net,
				   struct spawn_sandbox *sp)
{
	sp->proc_ro = set->root;
	sp->filter = seccomp_child_filter(restrict_net);
	sp->init_filter = seccomp_init_filter();
	sp->ready_fd = set->efd;
}

static void sandbox_built(struct sandbox *sb)
{
	char why[256];
	int ret = sb_job_finish(sb->job, &sb->sp, why, sizeof(why));
	sb->job = NULL;
	if (sb->dead) {
		if (sb->inflight == 0) {
			sandbox_close_fds(&sb->sp);
			free(sb->key);
			free(sb);
		}
		return;
	}
	if (ret < 0) {
		log_warn("sandbox: cannot build a template: %s", why);
		sandbox_drop(sb, -EOPNOTSUPP);
		return;
	}
	sandbox_spawn_defaults(sb->set, sb->restrict_net, &sb->sp);
	sb->state = SB_READY;
	log_debug("sandbox: template ready, %zu alive", sb->set->count);
	sandbox_serve(sb);
}

static void sandbox_build_done(struct loop_op *op, int res, uint32_t flags)
{
	(void)flags;
	struct sandbox *sb = container_of(op, struct sandbox, build_op);
	sb->build_inflight = false;
	sb->inflight--;
	if (!sb->job) {
		/* Finished already (sandbox_finish_now). */
		if (sb->dead && sb->inflight == 0) {
			sandbox_close_fds(&sb->sp);
			free(sb->key);
			free(sb);
		}
		return;
	}
	if (res == -EINTR || res == -EAGAIN) {
		/* Again. */
		sb->build_op.cb = sandbox_build_done;
		struct io_uring_sqe *sqe = loop_sqe(sb->set->loop, &sb->build_op);
		io_uring_prep_poll_add(sqe, sb_job_pidfd(sb->job), POLLIN);
		sb->build_inflight = true;
		sb->inflight++;
		return;
	}
	if (!loop_has_waitid(sb->set->loop)) {
		/* POLL_ADD fired: the child is a zombie now; reap it. */
		siginfo_t si;
		waitid(P_PIDFD, (id_t)sb_job_pidfd(sb->job), &si, WEXITED | WNOHANG | __WALL);
	}
	sandbox_built(sb);
}

static void sandbox_build_arm(struct sandbox *sb)
{
	struct loop *lp = sb->set->loop;
	sb->build_op.cb = sandbox_build_done;
	struct io_uring_sqe *sqe = loop_sqe(lp, &sb->build_op);
	if (loop_has_waitid(lp)) {
		memset(&sb->build_si, 0, sizeof(sb->build_si));
		io_uring_prep_rw(RINGEXEC_OP_WAITID, sqe, sb_job_pidfd(sb->job), NULL, P_PIDFD, 0);
		sqe->file_index = WEXITED | __WALL;
		sqe->addr2 = (uint64_t)(uintptr_t)&sb->build_si;
	} else {
		io_uring_prep_poll_add(sqe, sb_job_pidfd(sb->job), POLLIN);
	}
	sb->build_inflight = true;
	sb->inflight++;
}

static struct sb_job_spec sandbox_job_spec(struct sandbox_set *set, const struct sandbox_policy *p,
					   const struct sandbox_rule *rules, size_t n)
{
	return (struct sb_job_spec){
		.restrict_fs = p->restrict_fs, .restrict_net = p->restrict_net,
		.userns = set->userns, .rules = rules, .nrules = n,
		.hide = (const char *const *)set->hide,
	};
}

static void sandbox_evict_lru(struct sandbox_set *set)
{
	struct sandbox *lru = NULL;
	for (struct sandbox *sb = set->list; sb; sb = sb->next)
		if (sb->state == SB_READY && !sb->waiters &&
		    (!lru || sb->last_used_ms < lru->last_used_ms))
			lru = sb;
	if (lru)
		sandbox_drop(lru, -EOPNOTSUPP);
}

/* The template for policy: found, or made (its build under way). */
static int sandbox_lookup(struct sandbox_set *set, const struct sandbox_policy *policy,
			  struct sandbox **out)
{
	if (!set->available)
		return -EOPNOTSUPP;
	if (policy->nrules > SANDBOX_MAX_RULES)
		return -E2BIG;
	size_t n, keylen;
	struct sandbox_rule *rules = sandbox_sorted(policy, &n);
	char *key = rules ? sandbox_key(policy, rules, n, &keylen) : NULL;
	int ret = -ENOMEM;
	if (!key)
		goto out;
	uint64_t now = loop_now_ms(set->loop);
	for (struct sandbox *sb = set->list; sb; sb = sb->next)
		if (sb->keylen == keylen && memcmp(sb->key, key, keylen) == 0) {
			sb->last_used_ms = now;
			*out = sb;
			ret = 0;
			goto out;
		}

	struct sandbox *sb = calloc(1, sizeof(*sb));
	if (!sb)
		goto out;
	if (!set->hardened) {
		/* Every sandbox's init and launcher share our memory: nothing in
		 * a sandbox may open /proc/<them>/mem (or any of our /proc files). */
		prctl(PR_SET_DUMPABLE, 0);
		set->hardened = true;
	}
	sb->set = set;
	sb->sp = (struct spawn_sandbox){ .userfd = -1, .mntfd = -1, .ipcfd = -1, .netfd = -1 };
	sb->restrict_net = policy->restrict_net;
	sb->waiters_tail = &sb->waiters;
	loop_timer_init(&sb->refill, sandbox_refill);
	char why[256];
	struct sb_job_spec spec = sandbox_job_spec(set, policy, rules, n);
	ret = sb_job_start(&spec, &sb->job, why, sizeof(why));
	if (ret < 0) {
		log_warn("sandbox: cannot build a template: %s", why);
		free(sb);
		goto out;
	}
	if (set->count >= SANDBOX_MAX_TEMPLATES)
		sandbox_evict_lru(set);
	sb->state = SB_BUILDING;
	sb->key = key;
	key = NULL;
	sb->keylen = keylen;
	sb->last_used_ms = now;
	sb->next = set->list;
	set->list = sb;
	set->count++;
	sandbox_build_arm(sb);
	if (!loop_timer_armed(&set->idle))
		loop_timer_arm(set->loop, &set->idle, SANDBOX_IDLE_MS / 2);
	log_debug("sandbox: building a template (%zu rules, %s network), %zu alive", n,
		  policy->restrict_net ? "restricted" : "open", set->count);
	*out = sb;
	ret = 0;
out:
	free(key);
	free(rules);
	return ret;
}

/* A BUILDING template, built now: wait for its child here. We reap it;
 * the ring's wait on it then ends with ECHILD and finds the job gone. */
static int sandbox_finish_now(struct sandbox *sb)
{
	if (sb->state == SB_READY)
		return 0;
	struct sandbox_set *set = sb->set;
	char why[256];
	int ret = sb_job_wait(sb->job, &sb->sp, why, sizeof(why));
	sb->job = NULL;
	if (ret < 0) {
		log_warn("sandbox: cannot build a template: %s", why);
		sandbox_drop(sb, -EOPNOTSUPP);
		return ret;
	}
	sandbox_spawn_defaults(set, sb->restrict_net, &sb->sp);
	sb->state = SB_READY;
	return 0;
}

int sandbox_get(struct sandbox_set *set, const struct sandbox_policy *policy,
		struct sandbox **out)
{
	struct sandbox *sb;
	int ret = sandbox_lookup(set, policy, &sb);
	if (ret < 0)
		return ret;
	if ((ret = sandbox_finish_now(sb)) < 0)
		return ret;
	*out = sb;
	return 0;
}

/* ---- spares and waiters ---- */

/* Give the waiters what there is: a warm spare each, in order; make the
 * next spare when one is missing (the eventfd says when it is warm). */
static void sandbox_serve(struct sandbox *sb)
{
	while (sb->waiters && sb->state == SB_READY && !sb->dead) {
		if (!sb->spare) {
			if (spawn_spare_new(&sb->sp, &sb->spare) < 0) {
				sandbox_fail_waiters(sb, -EOPNOTSUPP);
				return;
			}
		}
		int r = spawn_spare_ready(sb->spare);
		if (r == 0)
			return;		/* warming: the eventfd calls again */
		if (r < 0) {
			spawn_spare_free(sb->spare);
			sb->spare = NULL;
			if (spawn_spare_new(&sb->sp, &sb->spare) < 0 ||
			    spawn_spare_ready(sb->spare) < 0) {
				sandbox_fail_waiters(sb, -EOPNOTSUPP);
				return;
			}
			continue;
		}
		struct sandbox_waiter *w = sb->waiters;
		sb->waiters = w->next;
		if (!sb->waiters)
			sb->waiters_tail = &sb->waiters;
		w->sb = NULL;
		sb->last_used_ms = loop_now_ms(sb->set->loop);
		w->ready(w, sb, 0);	/* it spawns, taking the spare, and calls sandbox_spawned */
	}
}

static void sandbox_efd_arm(struct sandbox_set *set);

static void sandbox_serve_all(struct sandbox_set *set)
{
	for (struct sandbox *sb = set->list, *next; sb; sb = next) {
		next = sb->next;
		if (sb->waiters)
			sandbox_serve(sb);
	}
}

static void sandbox_serve_deferred(struct loop_defer *d)
{
	sandbox_serve_all(container_of(d, struct sandbox_set, serve));
}

static void sandbox_efd_done(struct loop_op *op, int res, uint32_t flags)
{
	(void)flags;
	struct sandbox_set *set = container_of(op, struct sandbox_set, efd_op);
	set->efd_inflight = false;
	if (res == -ECANCELED)
		return;
	sandbox_serve_all(set);
	sandbox_efd_arm(set);
}

static void sandbox_efd_arm(struct sandbox_set *set)
{
	if (set->efd_inflight || set->efd < 0)
		return;
	set->efd_op.cb = sandbox_efd_done;
	struct io_uring_sqe *sqe = loop_sqe(set->loop, &set->efd_op);
	io_uring_prep_read(sqe, set->efd, &set->efd_buf, sizeof(set->efd_buf), 0);
	set->efd_inflight = true;
}

int sandbox_acquire(struct sandbox_set *set, const struct sandbox_policy *policy,
		    struct sandbox **out, struct sandbox_waiter *w)
{
	struct sandbox *sb;
	int ret = sandbox_lookup(set, policy, &sb);
	if (ret < 0)
		return ret;
	if (sb->state == SB_READY && !sb->waiters && sb->spare &&
	    spawn_spare_ready(sb->spare) > 0) {
		*out = sb;
		return 0;
	}
	w->sb = sb;
	w->next = NULL;
	*sb->waiters_tail = w;
	sb->waiters_tail = &w->next;
	sandbox_efd_arm(set);
	/* Served from the loop (never before we return): once the template is
	 * built, a spare's launcher says it is warm, or on the next turn. */
	loop_defer(set->loop, &set->serve);
	return -EINPROGRESS;
}

void sandbox_cancel(struct sandbox_waiter *w)
{
	struct sandbox *sb = w->sb;
	if (!sb)
		return;
	for (struct sandbox_waiter **pp = &sb->waiters; *pp; pp = &(*pp)->next)
		if (*pp == w) {
			*pp = w->next;
			if (!*pp)
				sb->waiters_tail = pp;
			break;
		}
	w->sb = NULL;
}

const struct spawn_sandbox *sandbox_spawn_info(const struct sandbox *sb)
{
	return &sb->sp;
}

struct spawn_spare **sandbox_spare(struct sandbox *sb)
{
	return &sb->spare;
}

static void sandbox_refill(struct loop_timer *t)
{
	struct sandbox *sb = container_of(t, struct sandbox, refill);
	if (!sb->spare && sb->state == SB_READY && spawn_spare_new(&sb->sp, &sb->spare) < 0)
		sb->spare = NULL;	/* the next spawn makes its own (and says why) */
}

/* The next spare is made a little later, not at once: a short command is
 * then usually done before it, so the two do not share the CPUs. Waiters
 * queued meanwhile get theirs at once. */
void sandbox_spawned(struct sandbox *sb)
{
	if (sb->waiters)
		sandbox_serve(sb);
	else if (!sb->spare && !loop_timer_armed(&sb->refill))
		loop_timer_arm(sb->set->loop, &sb->refill, SANDBOX_REFILL_MS);
}

/* ---- the probe ---- */

/* A throwaway template like codex's workspace-write one, and a child
 * confined in it that exits 0 where it would exec. */
static int sandbox_try(struct sandbox_set *set, char *why, size_t whylen)
{
	static const struct sandbox_rule rules[] = {
		{ "/", SANDBOX_READ }, { "/tmp", SANDBOX_WRITE },
	};
	const struct sandbox_policy p = {
		.restrict_fs = true, .restrict_net = true, .rules = rules, .nrules = 2,
	};
	struct spawn_sandbox sp = { .userfd = -1, .mntfd = -1, .ipcfd = -1, .netfd = -1 };
	struct sb_job_spec spec = sandbox_job_spec(set, &p, rules, 2);
	struct sb_job *job;
	int ret = sb_job_start(&spec, &job, why, whylen);
	if (ret < 0 || (ret = sb_job_wait(job, &sp, why, whylen)) < 0)
		return ret;
	sandbox_spawn_defaults(set, true, &sp);
	sp.ready_fd = -1;

	static const char *const argv[] = { "/", NULL };
	static const char *const envp[] = { NULL };
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	struct spawn_spec sspec = {
		.argv = argv, .envp = envp, .cwd = "/tmp", .stdin_fd = null,
		.stdout_fd = null, .stderr_fd = null, .sandbox = &sp, .probe = true,
	};
	struct spawn_result r;
	ret = null < 0 ? -errno : spawn_start(&sspec, &r);
	if (null >= 0)
		close(null);
	if (ret < 0) {
		snprintf(why, whylen, "a confined child failed: %s", strerror(-ret));
	} else {
		spawn_reap_pidfd(r.pidfd);
		/* The init and the launcher stay until killed (as proc.c does
		 * once the command is reaped). */
		syscall(SYS_pidfd_send_signal, r.launcher_pidfd, SIGKILL, NULL, 0);
		syscall(SYS_pidfd_send_signal, r.init_pidfd, SIGKILL, NULL, 0);
		spawn_reap_pidfd(r.launcher_pidfd);
		spawn_reap_pidfd(r.init_pidfd);
		spawn_init_mem_free(r.init_mem);
	}
	sandbox_close_fds(&sp);
	return ret;
}

int sandbox_probe(const struct sandbox_config *cfg, char *why, size_t whylen)
{
	struct sandbox_set set = { .userns = true, .root = geteuid() == 0 };
	(void)cfg;
	int ret = seccomp_build();
	if (ret < 0) {
		snprintf(why, whylen, "seccomp filter: %s", strerror(-ret));
		return ret;
	}
	ret = sandbox_try(&set, why, whylen);
	if (ret < 0 && set.root) {
		/* Root can do without a user namespace. */
		char why2[256];
		set.userns = false;
		if (sandbox_try(&set, why2, sizeof(why2)) == 0)
			return 1;
	}
	return ret;
}

/* ---- the set ---- */

static void sandbox_idle(struct loop_timer *t)
{
	struct sandbox_set *set = container_of(t, struct sandbox_set, idle);
	uint64_t now = loop_now_ms(set->loop);
	for (struct sandbox *sb = set->list, *next; sb; sb = next) {
		next = sb->next;
		if (sb->state == SB_READY && !sb->waiters &&
		    now - sb->last_used_ms >= SANDBOX_IDLE_MS)
			sandbox_drop(sb, -EOPNOTSUPP);
	}
	if (set->list)
		loop_timer_arm(set->loop, &set->idle, SANDBOX_IDLE_MS / 2);
}

int sandbox_set_new(struct sandbox_set **out, struct loop *lp, const struct sandbox_config *cfg)
{
	struct sandbox_set *set = calloc(1, sizeof(*set));
	if (!set)
		return -ENOMEM;
	set->loop = lp;
	set->root = geteuid() == 0;
	set->efd = -1;
	loop_timer_init(&set->idle, sandbox_idle);
	set->serve.fn = sandbox_serve_deferred;
	size_t nh = 0;
	while (cfg && cfg->hide && cfg->hide[nh])
		nh++;
	set->hide = calloc(nh + 1, sizeof(*set->hide));
	if (!set->hide) {
		free(set);
		return -ENOMEM;
	}
	for (size_t i = 0; i < nh; i++)
		if (!(set->hide[i] = strdup(cfg->hide[i]))) {
			sandbox_set_free(set);
			return -ENOMEM;
		}
	set->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (set->efd < 0) {
		int ret = -errno;
		sandbox_set_free(set);
		return ret;
	}
	int ret = sandbox_probe(cfg, set->why, sizeof(set->why));
	set->available = ret >= 0;
	set->userns = ret == 0;
	*out = set;
	return 0;
}

void sandbox_set_free(struct sandbox_set *set)
{
	if (!set)
		return;
	loop_timer_cancel(set->loop, &set->idle);
	loop_defer_cancel(set->loop, &set->serve);
	while (set->list) {
		struct sandbox *sb = set->list;
		if (sb->job) {
			/* The loop is over: nobody else reaps the build child. */
			sb_job_abort(sb->job);
			sb->job = NULL;
			sb->inflight = 0;
		}
		sb->inflight = 0;
		sandbox_drop(sb, -ECANCELED);
	}
	for (size_t i = 0; set->hide && set->hide[i]; i++)
		free(set->hide[i]);
	free(set->hide);
	if (set->efd >= 0)
		close(set->efd);
	free(set);
}

bool sandbox_set_available(const struct sandbox_set *set, const char **why)
{
	if (why)
		*why = set->available ? (set->userns ? "in a user namespace"
						      : "without a user namespace (root)")
				      : set->why;
	return set->available;
}

size_t sandbox_set_count(const struct sandbox_set *set)
{
	return set->count;
}

/* ---- running a function inside ---- */

struct sandbox_run_ctx {
	const struct spawn_sandbox *sp;
	int (*fn)(void *arg);
	void *arg;
	int ret;
};

/* Not instrumented: it runs on a stack the sanitizers do not know, and
 * leaves with a raw exit (no noreturn hook). fn itself may be. */
static __attribute__((no_sanitize("address", "undefined"))) int sandbox_run_child(void *arg)
{
	struct sandbox_run_ctx *r = arg;
	if ((r->sp->userfd >= 0 && syscall(SYS_setns, r->sp->userfd, CLONE_NEWUSER) < 0) ||
	    syscall(SYS_setns, r->sp->mntfd, CLONE_NEWNS) < 0) {
		r->ret = -errno;
		syscall(SYS_exit, 0);
	}
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[2] = { { 0, 0, 0 }, { 0, 0, 0 } };
	if (syscall(SYS_capset, &hdr, data) < 0) {
		r->ret = -errno;
		syscall(SYS_exit, 0);
	}
	r->ret = r->fn(r->arg);
	syscall(SYS_exit, 0);
	return 0;
}

int sandbox_run(struct sandbox_set *set, struct sandbox *sb, int (*fn)(void *arg), void *arg)
{
	loop_flush(set->loop);
	static void *stack;	/* this module's, reused: the call waits for the child */
	if (!stack) {
		void *m = mmap(NULL, SANDBOX_RUN_STACK, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
		if (m == MAP_FAILED)
			return -errno;
		stack = m;
	}
	struct sandbox_run_ctx r = { .sp = &sb->sp, .fn = fn, .arg = arg, .ret = -ECHILD };
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pid_t pid = clone(sandbox_run_child, (char *)stack + SANDBOX_RUN_STACK,
			  CLONE_VM | CLONE_VFORK | CLONE_FILES, &r);
	int clone_errno = errno;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (pid < 0)
		return -clone_errno;
	siginfo_t si;
	while (waitid(P_PID, (id_t)pid, &si, WEXITED | __WALL) < 0 && errno == EINTR)
		;
	return r.ret;
}
