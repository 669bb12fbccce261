/* sandbox_int: what sandbox.c shares with sandbox_key.c and
 * sandbox_build.c (engine-internal). */
#ifndef RINGEXEC_SANDBOX_INT_H
#define RINGEXEC_SANDBOX_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "sandbox.h"

struct spawn_sandbox;

/* sandbox_key.c: the rules in application order (depth, access, path),
 * repeats dropped; malloc'd. NULL on ENOMEM. */
struct sandbox_rule *sandbox_sorted(const struct sandbox_policy *p, size_t *n);
/* The key naming p's template (rules as sandbox_sorted gives them). */
char *sandbox_key(const struct sandbox_policy *p, const struct sandbox_rule *rules, size_t n,
		  size_t *len);

/* sandbox_build.c, the parent's side: a build under way. */
struct sb_job;

struct sb_job_spec {
	bool restrict_fs;
	bool restrict_net;
	bool userns;			/* make a user namespace */
	const struct sandbox_rule *rules;	/* sorted (sandbox_sorted) */
	size_t nrules;
	const char *const *hide;	/* NULL-terminated, or NULL */
};

/* Start the build child (a fork sharing our fd table; it runs on its own).
 * 0 with *out, or -errno with why. */
int sb_job_start(const struct sb_job_spec *spec, struct sb_job **out, char *why, size_t whylen);
/* The child's pidfd (the job owns it): wait for its exit on it. */
int sb_job_pidfd(const struct sb_job *j);
/* The child has exited (and is reaped, e.g. by a WAITID on the pidfd):
 * take the namespace fds into out (0), or the -errno of the step that
 * failed (why). Frees j. */
int sb_job_finish(struct sb_job *j, struct spawn_sandbox *out, char *why, size_t whylen);
/* Wait for the child (blocking), reap it, then sb_job_finish. */
int sb_job_wait(struct sb_job *j, struct spawn_sandbox *out, char *why, size_t whylen);
/* Kill and reap the child, close what it made, free j. NULL-safe. */
void sb_job_abort(struct sb_job *j);

#endif
