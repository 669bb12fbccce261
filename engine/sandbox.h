/* sandbox: confinement for sandboxed children (PROTOCOL §4a), prepared once
 * per distinct policy and entered by every spawn that uses it.
 *
 * A policy is a plain list of rules on absolute paths (what proto/ decodes
 * from the client's `sandbox` object) plus the network mode. The engine
 * turns it into a *template*: a user namespace (when the kernel lets us
 * have one), a mount namespace holding the policy's view of the file system
 * (the granted trees bound read-only or writable, denied paths masked, a
 * minimal /dev), an IPC namespace and, for a restricted network, an empty
 * network namespace. A sandboxed spawn setns()es into the template, takes a
 * private copy of its mounts and a PID namespace of its own, and the child
 * drops every capability, sets no_new_privs and loads a seccomp filter
 * before its execve (spawn.c). Templates are cached by policy and dropped
 * after SANDBOX_IDLE_MS without use.
 *
 * Must not: know JSON, run a sandboxed request unsandboxed (every failure
 * is an error), or leave a namespace, mount or fd behind.
 */
#ifndef RINGEXEC_SANDBOX_H
#define RINGEXEC_SANDBOX_H

#include <stdbool.h>
#include <stddef.h>

struct loop;
struct sandbox_set;
struct sandbox;

enum sandbox_access {
	SANDBOX_READ = 1,	/* visible, read-only */
	SANDBOX_WRITE = 2,	/* visible and writable */
	SANDBOX_DENY = 3,	/* inaccessible (masked) */
};

struct sandbox_rule {
	const char *path;		/* absolute and normalized: "/" or no trailing '/' */
	enum sandbox_access access;
};

struct sandbox_policy {
	bool restrict_fs;	/* false: the host's file system as the server sees it */
	bool restrict_net;	/* no socket but AF_UNIX; its own network namespace */
	/* restrict_fs: the rules; of two on nested paths the longer one wins,
	 * and on one path deny beats write beats read. Nothing outside them is
	 * visible but /dev (minimal), /proc (the child's own) and what they
	 * grant. Missing paths are ignored. */
	const struct sandbox_rule *rules;
	size_t nrules;
};

/* What a sandboxed process gets at path under policy: the access of the
 * rule on the longest path that is path or one of its ancestors (on one
 * path deny beats write beats read); 0 when no rule covers it (it is not
 * there). Without restrict_fs, SANDBOX_WRITE (the host decides). /dev and
 * /proc are the sandbox's own and not described here. Pure. */
enum sandbox_access sandbox_access_of(const struct sandbox_policy *policy, const char *path);

/* Templates kept this long after their last use. */
#define SANDBOX_IDLE_MS 60000
/* At most this many templates at once (the least recently used idle one
 * goes first). */
#define SANDBOX_MAX_TEMPLATES 32
/* At most this many rules in one policy (-E2BIG beyond). */
#define SANDBOX_MAX_RULES 256

struct sandbox_config {
	/* Paths no sandboxed child may see (the server's unix socket, its
	 * auth token file): masked in every template. NULL-terminated or NULL. */
	const char *const *hide;
};

/* Probe the kernel once (namespaces, mount API, seccomp, pidfds) by
 * building a throwaway template and confining a child in it. 0 when
 * sandboxing works; -errno otherwise, with the failed step in why. */
int sandbox_probe(const struct sandbox_config *cfg, char *why, size_t whylen);

/* The cache of templates. NULL-safe free. */
int sandbox_set_new(struct sandbox_set **out, struct loop *lp, const struct sandbox_config *cfg);
void sandbox_set_free(struct sandbox_set *set);
/* True when sandbox_probe succeeded for this set (at creation). */
bool sandbox_set_available(const struct sandbox_set *set, const char **why);
/* Templates alive now. */
size_t sandbox_set_count(const struct sandbox_set *set);

/* The template for policy, built now if there is none (blocks: about a
 * millisecond, once per policy; for the fs methods and tests). Borrowed:
 * valid until the next call into the set. 0, -EOPNOTSUPP when sandboxing
 * is unavailable or the build failed, -E2BIG, -ENOMEM. */
int sandbox_get(struct sandbox_set *set, const struct sandbox_policy *policy,
		struct sandbox **out);

/* A spawn waiting for its template to be built and a spare PID namespace
 * in it to be warm (embedded in its owner). */
struct sandbox_waiter {
	struct sandbox_waiter *next;	/* the set's */
	struct sandbox *sb;		/* set while waiting */
	/* Called on the loop once ready (err 0: spawn now, as after
	 * sandbox_acquire returned 0) or failed (-EOPNOTSUPP). */
	void (*ready)(struct sandbox_waiter *w, struct sandbox *sb, int err);
};

/* Like sandbox_get, but never waits for a build or a warm-up: 0 with *out
 * ready to spawn now; -EINPROGRESS: w->ready() comes later (never before
 * this returns); other -errno as sandbox_get. */
int sandbox_acquire(struct sandbox_set *set, const struct sandbox_policy *policy,
		    struct sandbox **out, struct sandbox_waiter *w);
/* Stop waiting (the owner goes away). No-op when not waiting. */
void sandbox_cancel(struct sandbox_waiter *w);

/* What spawn needs to enter a template (spawn.h's struct spawn_sandbox),
 * and the template's spare PID namespace (NULL while none is ready): pass
 * both in struct spawn_spec, then call sandbox_spawned(), which prepares
 * the next spare on the loop's next turn, after the reply has gone out. */
struct spawn_sandbox;
struct spawn_spare;
const struct spawn_sandbox *sandbox_spawn_info(const struct sandbox *sb);
struct spawn_spare **sandbox_spare(struct sandbox *sb);
void sandbox_spawned(struct sandbox *sb);

/* Run fn(arg) in a child that has entered sb's user and mount namespaces
 * with no capability (so it sees the file system as a sandboxed process
 * does: paths resolve inside the template, writes outside the writable
 * trees fail with EROFS, hidden paths are not there). The child shares
 * the caller's memory and fd table (CLONE_VM|CLONE_VFORK|CLONE_FILES) and
 * the caller waits for it: fn may allocate, open fds and write results
 * into arg, and prepare SQEs (the ring is flushed first, so it never
 * needs to submit), but must not submit. Returns fn's result, or -errno
 * when the child could not be made to run. */
int sandbox_run(struct sandbox_set *set, struct sandbox *sb, int (*fn)(void *arg), void *arg);

#endif
