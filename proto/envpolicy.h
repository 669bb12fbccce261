/* envpolicy: the child environment of process/start when `envPolicy` is given
 * (reference/codex-client-surface.md §2.2): inherit all/core/none from the
 * server's environment, default excludes (*KEY*, *SECRET*, *TOKEN*), exclude
 * patterns, set, includeOnly patterns, then `env` on top; the always-dropped
 * names go from every source. Pure: takes the server environment as an
 * argument, allocates the result, does no I/O.
 */
#ifndef RINGEXEC_ENVPOLICY_H
#define RINGEXEC_ENVPOLICY_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "params.h"

enum envpolicy_inherit { ENVPOLICY_ALL, ENVPOLICY_CORE, ENVPOLICY_NONE };

struct envpolicy {
	enum envpolicy_inherit inherit;
	bool ignore_default_excludes;
	const json_t *exclude;		/* array of pattern strings (borrowed) */
	const json_t *include_only;	/* array of pattern strings (borrowed) */
	const json_t *set;		/* object of strings (borrowed) */
};

/* Decode params' `envPolicy` member. *present false when absent or null.
 * 0, or -1 with the -32602 text in e. */
int envpolicy_decode(const json_t *params, bool *present, struct envpolicy *p, struct pd_err *e);

/* Glob over the whole name, case-insensitive: `*` any run, `?` one char. */
bool envpolicy_glob(const char *pat, const char *name);

/* The child's environment: policy (NULL: start empty) over server_env
 * ("K=V" strings, NULL-terminated), then env (object of strings, may be
 * NULL) on top. Returns a malloc'd NULL-terminated array of malloc'd "K=V"
 * strings and its length in *count, or NULL on ENOMEM. */
char **envpolicy_build(const struct envpolicy *p, char *const *server_env, const json_t *env,
		       size_t *count);
void envpolicy_free(char **envp);

#endif
