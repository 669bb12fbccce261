/* sbpolicy: the `sandbox` member of process/start and of the fs methods
 * (PROTOCOL §4a), decoded into the engine's struct sandbox_policy.
 *
 * Two steps, because the check order puts decoding before the gate while
 * `tmpdir` needs the child's environment: sbpolicy_decode() checks the
 * shape (serde-like -32602 texts naming the field; unknown members are
 * ignored, the windows fields too) and keeps the entries as they came;
 * sbpolicy_resolve() turns them into absolute rules: `root` is "/",
 * `minimal` the system directories, `current_working_directory` the cwd,
 * `project_roots` each workspace root (or the cwd), `tmpdir` TMPDIR,
 * `slash_tmp` "/tmp", `unknown` nothing, each plus its `subpath`; `path` a
 * file: URI. Pure: no I/O; knows nothing of how the engine confines.
 */
#ifndef RINGEXEC_SBPOLICY_H
#define RINGEXEC_SBPOLICY_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "params.h"
#include "sandbox.h"

enum sbp_kind {
	SBP_ROOT,
	SBP_MINIMAL,
	SBP_CWD,
	SBP_PROJECT_ROOTS,
	SBP_TMPDIR,
	SBP_SLASH_TMP,
	SBP_UNKNOWN,
	SBP_PATH,
	SBP_GLOB,
};

struct sbp_entry {
	enum sbp_kind kind;
	enum sandbox_access access;
	bool skip_missing;		/* missing_path_behavior: "skip" */
	char *arg;			/* subpath (special kinds, or NULL), the decoded
					   path (SBP_PATH), the pattern (SBP_GLOB); owned */
};

struct sbpolicy {
	bool present;			/* a sandbox object came: sandboxType "linuxSeccomp" */
	bool enforce;			/* and there is something to confine: false for
					   `disabled`/`external`, or an unrestricted file
					   system with the network enabled */
	bool restrict_fs, restrict_net;
	char *cwd;			/* decoded `cwd`, or NULL */
	char **roots;			/* decoded `workspaceRoots` */
	size_t nroots;
	struct sbp_entry *entries;
	size_t nentries;
	/* sbpolicy_resolve: */
	struct sandbox_rule *rules;	/* paths owned by rule_paths */
	size_t nrules;
	char **rule_paths;
	struct sandbox_policy policy;	/* what proc_spec.sandbox points at */
};

/* The directories `minimal` grants (besides /dev and /proc, which every
 * sandbox has). NULL-terminated. */
extern const char *const sbpolicy_minimal[];

/* Decode v (NULL or null: out->present false). 0, or -1 with the -32602
 * text in e (out is freed then). */
int sbpolicy_decode(const json_t *v, struct sbpolicy *out, struct pd_err *e);

enum {
	SBP_RESOLVE_INVALID = -1,	/* -32602, text in e */
	SBP_RESOLVE_UNENFORCEABLE = -2,	/* -32603 "sandbox intent cannot be enforced ..." */
	SBP_RESOLVE_NOMEM = -3,
};

/* Rules from the entries; tmpdir is TMPDIR of the child's environment (or
 * of the server's, for fs methods), NULL when unset. 0, or one of the
 * SBP_RESOLVE_ codes: entries needing a cwd without one give -1 with
 * "file system sandbox context with dynamic permissions requires cwd". A
 * glob that widens access (or denies) cannot be enforced with mounts: -2. */
int sbpolicy_resolve(struct sbpolicy *sp, const char *tmpdir, struct pd_err *e);

void sbpolicy_free(struct sbpolicy *sp);

#endif
