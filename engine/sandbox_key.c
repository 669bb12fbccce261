/* sandbox_key: a policy's rules in the order they are applied, the key
 * that names its template, and what a path gets under it (sandbox_int.h,
 * sandbox.h). Pure: no I/O.
 *
 * Rules are applied by depth (the number of components: a path's ancestors
 * come first, so the longer path wins), then access (read, write, deny: on
 * one path the stronger wins), then path, repeats dropped. The key is that
 * list printed one rule per line after the two flags, so policies that
 * differ only in order or repeats share a template.
 */
#include "sandbox_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

struct sandbox_rule *sandbox_sorted(const struct sandbox_policy *p, size_t *n)
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

char *sandbox_key(const struct sandbox_policy *p, const struct sandbox_rule *r, size_t n,
		  size_t *len)
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
