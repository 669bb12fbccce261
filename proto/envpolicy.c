/* envpolicy: builds a child environment from the server's own, per envPolicy.
 * Order (established against the reference): inherit, default excludes and
 * exclude (inherited names only), set, includeOnly (inherited and set), env
 * (never filtered), then the always-dropped names from every source. Pure.
 */
#include "envpolicy.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const envpolicy_core[] = {
	"HOME", "LANG", "LC_ALL", "LC_CTYPE", "LOGNAME", "PATH", "SHELL", "TEMP", "TMP", "TMPDIR",
	"USER",
};

static const char *const envpolicy_default_excludes[] = { "*KEY*", "*SECRET*", "*TOKEN*" };

static const char *const envpolicy_dropped[] = {
	"CODEX_EXEC_SERVER_EXIT_ON_STDIN_CLOSE", "CODEX_EXEC_SERVER_NOISE_AUTH_TOKEN",
};

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

static int envpolicy_patterns(const json_t *pol, const char *key, const json_t **out,
			      struct pd_err *e)
{
	const json_t *v = json_object_get(pol, key);
	if (!v) {
		snprintf(e->msg, sizeof(e->msg), "missing field `%s`", key);
		return -1;
	}
	if (!json_is_array(v))
		return pd_type_error(v, "a sequence", key, e);
	size_t i;
	const json_t *s;
	json_array_foreach(v, i, s) {
		if (!json_is_string(s))
			return pd_type_error(s, "a string", key, e);
		if (strlen(json_string_value(s)) != json_string_length(s)) {
			char field[64];
			snprintf(field, sizeof(field), "envPolicy.%s[%zu]", key, i);
			return pd_nul_error(field, e);
		}
	}
	*out = v;
	return 0;
}

int envpolicy_decode(const json_t *params, bool *present, struct envpolicy *p, struct pd_err *e)
{
	memset(p, 0, sizeof(*p));
	*present = false;
	const json_t *pol = json_object_get(params, "envPolicy");
	if (!pol || json_is_null(pol))
		return 0;
	if (!json_is_object(pol))
		return pd_type_error(pol, "struct ExecEnvPolicy", "envPolicy", e);
	const char *inherit;
	if (pd_string(pol, "inherit", true, &inherit, NULL, e) < 0)
		return -1;
	if (strcmp(inherit, "all") == 0)
		p->inherit = ENVPOLICY_ALL;
	else if (strcmp(inherit, "core") == 0)
		p->inherit = ENVPOLICY_CORE;
	else if (strcmp(inherit, "none") == 0)
		p->inherit = ENVPOLICY_NONE;
	else {
		snprintf(e->msg, sizeof(e->msg),
			 "unknown variant `%.200s`, expected one of `core`, `all`, `none`", inherit);
		return -1;
	}
	if (pd_bool(pol, "ignoreDefaultExcludes", true, &p->ignore_default_excludes, e) < 0 ||
	    envpolicy_patterns(pol, "exclude", &p->exclude, e) < 0 ||
	    envpolicy_patterns(pol, "includeOnly", &p->include_only, e) < 0 ||
	    pd_string_map(pol, "set", true, &p->set, e) < 0)
		return -1;
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)p->set, k, v) {
		if (!k[0] || strchr(k, '=')) {
			snprintf(e->msg, sizeof(e->msg),
				 "envPolicy.set key `%.100s` must be non-empty and must not contain '='", k);
			return -1;
		}
	}
	*present = true;
	return 0;
}

/* Iterative glob with one backtrack point: O(len(pat) * len(name)) worst case. */
static bool envpolicy_glob_n(const char *pat, const char *name, size_t nlen)
{
	const char *star = NULL;
	size_t n = 0, star_n = 0;
	while (n < nlen) {
		if (*pat == '*') {
			star = pat++;
			star_n = n;
		} else if (*pat && (*pat == '?' ||
				    tolower((unsigned char)*pat) == tolower((unsigned char)name[n]))) {
			pat++;
			n++;
		} else if (star) {
			pat = star + 1;
			n = ++star_n;
		} else {
			return false;
		}
	}
	while (*pat == '*')
		pat++;
	return *pat == '\0';
}

bool envpolicy_glob(const char *pat, const char *name)
{
	return envpolicy_glob_n(pat, name, strlen(name));
}

static bool envpolicy_any(const json_t *pats, const char *name, size_t nlen)
{
	size_t i;
	const json_t *s;
	json_array_foreach(pats, i, s) {
		if (envpolicy_glob_n(json_string_value(s), name, nlen))
			return true;
	}
	return false;
}

static bool envpolicy_is_dropped(const char *name, size_t nlen)
{
	for (size_t i = 0; i < N_OF(envpolicy_dropped); i++)
		if (strlen(envpolicy_dropped[i]) == nlen && memcmp(envpolicy_dropped[i], name, nlen) == 0)
			return true;
	return false;
}

static bool envpolicy_is_core(const char *name, size_t nlen)
{
	for (size_t i = 0; i < N_OF(envpolicy_core); i++)
		if (strlen(envpolicy_core[i]) == nlen && memcmp(envpolicy_core[i], name, nlen) == 0)
			return true;
	return false;
}

static bool envpolicy_default_excluded(const char *name, size_t nlen)
{
	for (size_t i = 0; i < N_OF(envpolicy_default_excludes); i++)
		if (envpolicy_glob_n(envpolicy_default_excludes[i], name, nlen))
			return true;
	return false;
}

/* A key as a NUL-terminated lookup into a jansson object. */
static bool envpolicy_in_obj(const json_t *obj, const char *name, size_t nlen)
{
	return obj && json_object_getn(obj, name, nlen) != NULL;
}

struct envlist {
	char **v;
	size_t n, cap;
	bool failed;
};

static void envlist_push(struct envlist *l, char *kv)
{
	if (!kv) {
		l->failed = true;
		return;
	}
	if (l->n + 2 > l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		char **v = realloc(l->v, cap * sizeof(*v));
		if (!v) {
			free(kv);
			l->failed = true;
			return;
		}
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = kv;
}

static char *envpolicy_kv(const char *k, const char *v)
{
	size_t len = strlen(k) + 1 + strlen(v) + 1;
	char *kv = malloc(len);
	if (kv)
		snprintf(kv, len, "%s=%s", k, v);
	return kv;
}

static void envlist_push_obj(struct envlist *l, const json_t *obj, const struct envpolicy *p)
{
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)obj, k, v) {
		size_t klen = strlen(k);
		if (envpolicy_is_dropped(k, klen))
			continue;
		if (p && json_array_size(p->include_only) && !envpolicy_any(p->include_only, k, klen))
			continue;
		envlist_push(l, envpolicy_kv(k, json_string_value(v)));
	}
}

char **envpolicy_build(const struct envpolicy *p, char *const *server_env, const json_t *env,
		       size_t *count)
{
	struct envlist l = { 0 };
	if (p && p->inherit != ENVPOLICY_NONE && server_env) {
		for (size_t i = 0; server_env[i]; i++) {
			const char *kv = server_env[i];
			const char *eq = strchr(kv, '=');
			if (!eq || eq == kv)
				continue;
			size_t nlen = (size_t)(eq - kv);
			if (p->inherit == ENVPOLICY_CORE && !envpolicy_is_core(kv, nlen))
				continue;
			if (envpolicy_is_dropped(kv, nlen))
				continue;
			if (!p->ignore_default_excludes && envpolicy_default_excluded(kv, nlen))
				continue;
			if (envpolicy_any(p->exclude, kv, nlen))
				continue;
			if (json_array_size(p->include_only) && !envpolicy_any(p->include_only, kv, nlen))
				continue;
			/* set and env replace an inherited value; a name seen twice keeps the first */
			if (envpolicy_in_obj(p->set, kv, nlen) || envpolicy_in_obj(env, kv, nlen))
				continue;
			bool dup = false;
			for (size_t j = 0; j < l.n && !dup; j++)
				dup = strncmp(l.v[j], kv, nlen + 1) == 0;
			if (!dup)
				envlist_push(&l, strdup(kv));
		}
	}
	if (p && p->set) {
		/* set entries that env replaces are skipped; includeOnly filters set too */
		const char *k;
		json_t *v;
		json_object_foreach((json_t *)p->set, k, v) {
			size_t klen = strlen(k);
			if (envpolicy_in_obj(env, k, klen) || envpolicy_is_dropped(k, klen))
				continue;
			if (json_array_size(p->include_only) && !envpolicy_any(p->include_only, k, klen))
				continue;
			envlist_push(&l, envpolicy_kv(k, json_string_value(v)));
		}
	}
	if (env)
		envlist_push_obj(&l, env, NULL);
	if (!l.failed && !l.v && !(l.v = calloc(1, sizeof(char *))))
		l.failed = true;
	if (l.failed || !l.v) {
		for (size_t i = 0; i < l.n; i++)
			free(l.v[i]);
		free(l.v);
		return NULL;
	}
	l.v[l.n] = NULL;
	*count = l.n;
	return l.v;
}

void envpolicy_free(char **envp)
{
	if (!envp)
		return;
	for (char **p = envp; *p; p++)
		free(*p);
	free(envp);
}
