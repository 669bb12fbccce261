/* sandbox: the template cache, the start-up probe, and running a function
 * inside a template (see sandbox.h).
 *
 * A template is found by its key: the policy's rules sorted (depth, then
 * access, then path) and printed one per line, plus the two flags. Building
 * one clones sandbox_build.c's child with the new namespaces; the fds it
 * leaves in our table keep them alive. An idle timer frees the templates
 * not used for SANDBOX_IDLE_MS; the set never holds more than
 * SANDBOX_MAX_TEMPLATES (the least recently used goes first).
 */
#include "sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "loop.h"
#include "sandbox_build.h"
#include "seccomp.h"
#include "spawn.h"

#define SANDBOX_BUILD_STACK (128 * 1024)
/* sandbox_run's child runs ordinary (instrumented) code: a roomy stack. */
#define SANDBOX_RUN_STACK (1024 * 1024)
/* A template's next spare PID namespace is made this long after a spawn. */
#define SANDBOX_REFILL_MS 2

struct sandbox {
	struct sandbox *next;
	struct sandbox_set *set;
	char *key;			/* malloc'd */
	size_t keylen;
	uint64_t last_used_ms;
	struct spawn_sandbox sp;	/* the namespace fds, what spawn enters */
	struct spawn_spare *spare;	/* a PID namespace ready for the next command */
	struct loop_timer refill;	/* makes the next spare */
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
};

/* ---- keys ---- */

static size_t sandbox_depth(const char *path)
{
	size_t d = 0;
	if (path[0] == '/' && path[1] == '\0')
		return 0;
	for (const char *p = path; *p; p++)
		d += *p == '/';
	return d;
}

static int sandbox_rule_cmp(const void *a, const void *b)
{
	const struct sandbox_rule *x = a, *y = b;
	size_t dx = sandbox_depth(x->path), dy = sandbox_depth(y->path);
	if (dx != dy)
		return dx < dy ? -1 : 1;
	if (x->access != y->access)
		return x->access < y->access ? -1 : 1;
	return strcmp(x->path, y->path);
}

/* The rules in application order, without repeats. Caller frees. */
static struct sandbox_rule *sandbox_sorted(const struct sandbox_policy *p, size_t *n)
{
	struct sandbox_rule *r = malloc((p->nrules ? p->nrules : 1) * sizeof(*r));
	if (!r)
		return NULL;
	if (p->nrules)
		memcpy(r, p->rules, p->nrules * sizeof(*r));
	qsort(r, p->nrules, sizeof(*r), sandbox_rule_cmp);
	size_t k = 0;
	for (size_t i = 0; i < p->nrules; i++)
		if (k == 0 || r[k - 1].access != r[i].access || strcmp(r[k - 1].path, r[i].path))
			r[k++] = r[i];
	*n = k;
	return r;
}

/* Is rule (normalized) path or one of its ancestors? Its length if so, else -1. */
static long sandbox_covers(const char *rule, const char *path)
{
	size_t n = strlen(rule);
	if (n == 1 && rule[0] == '/')
		return 0;
	if (strncmp(rule, path, n) != 0 || (path[n] != '\0' && path[n] != '/'))
		return -1;
	return (long)n;
}

enum sandbox_access sandbox_access_of(const struct sandbox_policy *p, const char *path)
{
	if (!p->restrict_fs)
		return SANDBOX_WRITE;
	long best = -1;
	enum sandbox_access access = 0;
	for (size_t i = 0; i < p->nrules; i++) {
		long n = sandbox_covers(p->rules[i].path, path);
		if (n < 0 || n < best)
			continue;
		if (n > best || p->rules[i].access > access)
			access = p->rules[i].access;
		best = n;
	}
	return access;
}

static char *sandbox_key(const struct sandbox_policy *p, const struct sandbox_rule *r,
			 size_t n, size_t *len)
{
	size_t cap = 8;
	for (size_t i = 0; i < n; i++)
		cap += strlen(r[i].path) + 4;
	char *key = malloc(cap);
	if (!key)
		return NULL;
	size_t off = (size_t)snprintf(key, cap, "%c%c\n", p->restrict_fs ? 'F' : 'f',
				      p->restrict_net ? 'N' : 'n');
	for (size_t i = 0; p->restrict_fs && i < n; i++)
		off += (size_t)snprintf(key + off, cap - off, "%d %s\n", (int)r[i].access, r[i].path);
	*len = off;
	return key;
}

/* ---- building ---- */

static void sandbox_close_fds(struct spawn_sandbox *sp)
{
	int *fds[] = { &sp->userfd, &sp->mntfd, &sp->ipcfd, &sp->netfd };
	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		if (*fds[i] >= 0) {
			close(*fds[i]);
			*fds[i] = -1;
		}
}

static void sandbox_free(struct sandbox *sb)
{
	loop_timer_cancel(sb->set->loop, &sb->refill);
	spawn_spare_free(sb->spare);
	sandbox_close_fds(&sb->sp);
	free(sb->key);
	free(sb);
}

/* Run the build child to completion (we wait: CLONE_VFORK). It is a fork
 * (no CLONE_VM) that shares our fd table (CLONE_FILES): the namespace fds
 * it opens are ours. Once per template, so the copy of our page tables is
 * affordable. */
static int sandbox_build(struct sandbox_set *set, const struct sandbox_policy *p,
			 const struct sandbox_rule *rules, size_t n, struct spawn_sandbox *out,
			 char *why, size_t whylen)
{
	/* The child has its own copy of our memory (it must be dumpable to
	 * write its id maps, and our memory is not: see sandbox_get), so what
	 * it reports back goes through a shared page. */
	struct sb_build *b = mmap(NULL, sizeof(*b), PROT_READ | PROT_WRITE,
				  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	struct sb_build_rule *br = calloc(n ? n : 1, sizeof(*br));
	void *stack = mmap(NULL, SANDBOX_BUILD_STACK, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	int ret = -ENOMEM;
	if (b == MAP_FAILED)
		b = NULL;
	if (!b || !br || stack == MAP_FAILED)
		goto out;
	for (size_t i = 0; i < n; i++) {
		br[i].path = rules[i].path;
		br[i].access = (unsigned char)rules[i].access;
	}
	b->restrict_fs = p->restrict_fs;
	b->userns = set->userns;
	b->netns = p->restrict_net;
	b->rules = br;
	b->nrules = p->restrict_fs ? n : 0;
	b->hide = (const char *const *)set->hide;
	b->userfd = b->mntfd = b->ipcfd = b->netfd = -1;
	b->err = -ECHILD;	/* stays so if the child dies on its way */
	uid_t uid = geteuid();
	gid_t gid = getegid();
	snprintf(b->uid_map, sizeof(b->uid_map), "%u %u 1\n", (unsigned)uid, (unsigned)uid);
	snprintf(b->gid_map, sizeof(b->gid_map), "%u %u 1\n", (unsigned)gid, (unsigned)gid);

	int flags = CLONE_VFORK | CLONE_FILES | CLONE_NEWNS | CLONE_NEWIPC;
	if (b->userns)
		flags |= CLONE_NEWUSER;
	if (b->netns)
		flags |= CLONE_NEWNET;
	/* Every signal blocked, as for a spawn: the child runs none of our
	 * handlers. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pid_t pid = clone(sb_build_main, (char *)stack + SANDBOX_BUILD_STACK, flags, b);
	int clone_errno = errno;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (pid < 0) {
		ret = -clone_errno;
		snprintf(why, whylen, "clone(%s): %s", b->userns ? "user, mount namespaces" :
			 "mount namespace", strerror(clone_errno));
		goto out;
	}
	siginfo_t si;
	while (waitid(P_PID, (id_t)pid, &si, WEXITED | __WALL) < 0 && errno == EINTR)
		;
	ret = b->err;
	out->userfd = b->userfd;
	out->mntfd = b->mntfd;
	out->ipcfd = b->ipcfd;
	out->netfd = b->netfd;
	if (ret < 0) {
		/* The child closed what it opened, but the namespace fds. */
		for (size_t i = 0; i < b->nfds; i++)
			close(b->fds[i]);
		sandbox_close_fds(out);
		snprintf(why, whylen, "%s%s%s: %s", b->step ? b->step : "build",
			 b->step_path ? " " : "", b->step_path ? b->step_path : "",
			 strerror(-ret));
	}
out:
	if (stack != MAP_FAILED)
		munmap(stack, SANDBOX_BUILD_STACK);
	free(br);
	if (b)
		munmap(b, sizeof(*b));
	return ret;
}

static void sandbox_spawn_defaults(struct sandbox_set *set, const struct sandbox_policy *p,
				   struct spawn_sandbox *sp)
{
	sp->proc_ro = set->root;
	sp->filter = seccomp_child_filter(p->restrict_net);
	sp->init_filter = seccomp_init_filter();
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
	struct spawn_sandbox sp = { -1, -1, -1, -1, false, NULL, NULL };
	int ret = sandbox_build(set, &p, rules, 2, &sp, why, whylen);
	if (ret < 0)
		return ret;
	sandbox_spawn_defaults(set, &p, &sp);

	static const char *const argv[] = { "/", NULL };
	static const char *const envp[] = { NULL };
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	struct spawn_spec spec = {
		.argv = argv, .envp = envp, .cwd = "/tmp", .stdin_fd = null,
		.stdout_fd = null, .stderr_fd = null, .sandbox = &sp, .probe = true,
	};
	struct spawn_result r;
	ret = null < 0 ? -errno : spawn_start(&spec, &r);
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

static void sandbox_idle(struct loop_timer *t);
static void sandbox_refill(struct loop_timer *t);

int sandbox_set_new(struct sandbox_set **out, struct loop *lp, const struct sandbox_config *cfg)
{
	struct sandbox_set *set = calloc(1, sizeof(*set));
	if (!set)
		return -ENOMEM;
	set->loop = lp;
	set->root = geteuid() == 0;
	loop_timer_init(&set->idle, sandbox_idle);
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
	while (set->list) {
		struct sandbox *sb = set->list;
		set->list = sb->next;
		sandbox_free(sb);
	}
	for (size_t i = 0; set->hide && set->hide[i]; i++)
		free(set->hide[i]);
	free(set->hide);
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

static void sandbox_unlink(struct sandbox_set *set, struct sandbox *sb)
{
	for (struct sandbox **pp = &set->list; *pp; pp = &(*pp)->next)
		if (*pp == sb) {
			*pp = sb->next;
			set->count--;
			return;
		}
}

static void sandbox_idle(struct loop_timer *t)
{
	struct sandbox_set *set = (struct sandbox_set *)((char *)t - offsetof(struct sandbox_set, idle));
	uint64_t now = loop_now_ms(set->loop);
	for (struct sandbox *sb = set->list, *next; sb; sb = next) {
		next = sb->next;
		if (now - sb->last_used_ms >= SANDBOX_IDLE_MS) {
			sandbox_unlink(set, sb);
			sandbox_free(sb);
		}
	}
	if (set->list)
		loop_timer_arm(set->loop, &set->idle, SANDBOX_IDLE_MS / 2);
}

static void sandbox_evict_lru(struct sandbox_set *set)
{
	struct sandbox *lru = NULL;
	for (struct sandbox *sb = set->list; sb; sb = sb->next)
		if (!lru || sb->last_used_ms < lru->last_used_ms)
			lru = sb;
	if (lru) {
		sandbox_unlink(set, lru);
		sandbox_free(lru);
	}
}

int sandbox_get(struct sandbox_set *set, const struct sandbox_policy *policy,
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
	sb->set = set;
	loop_timer_init(&sb->refill, sandbox_refill);
	if (!set->hardened) {
		/* Every sandbox's init shares our memory: nothing in a sandbox
		 * may open /proc/<init>/mem (or any of our /proc files). */
		prctl(PR_SET_DUMPABLE, 0);
		set->hardened = true;
	}
	char why[256];
	ret = sandbox_build(set, policy, rules, n, &sb->sp, why, sizeof(why));
	if (ret < 0) {
		log_warn("sandbox: cannot build a template: %s", why);
		free(sb);
		goto out;
	}
	sandbox_spawn_defaults(set, policy, &sb->sp);
	if (set->count >= SANDBOX_MAX_TEMPLATES)
		sandbox_evict_lru(set);
	sb->key = key;
	key = NULL;
	sb->keylen = keylen;
	sb->last_used_ms = now;
	sb->next = set->list;
	set->list = sb;
	set->count++;
	if (!loop_timer_armed(&set->idle))
		loop_timer_arm(set->loop, &set->idle, SANDBOX_IDLE_MS / 2);
	log_debug("sandbox: new template (%zu rules, %s network), %zu alive", n,
		  policy->restrict_net ? "restricted" : "open", set->count);
	*out = sb;
	ret = 0;
out:
	free(key);
	free(rules);
	return ret;
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
	struct sandbox *sb = (struct sandbox *)((char *)t - offsetof(struct sandbox, refill));
	if (!sb->spare && spawn_spare_new(&sb->sp, &sb->spare) < 0)
		sb->spare = NULL;	/* the next spawn makes its own (and says why) */
}

/* The next spare is made a little later, not at once: a short command
 * is then usually done before it, so the two do not share the CPUs. */
void sandbox_spawned(struct sandbox *sb)
{
	if (!sb->spare && !loop_timer_armed(&sb->refill))
		loop_timer_arm(sb->set->loop, &sb->refill, SANDBOX_REFILL_MS);
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
