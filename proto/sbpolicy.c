/* sbpolicy: decode and resolve a sandbox policy (see sbpolicy.h).
 *
 * The wire shape (codex 0.169 and 0.171):
 *   {"cwd": URI?, "workspaceRoots": [URI]?, "permissions":
 *     {"type": "managed", "network": "restricted"|"enabled",
 *      "file_system": {"type": "restricted", "entries": [ENTRY], ...}
 *                   | {"type": "unrestricted"}}
 *   | {"type": "disabled"} | {"type": "external"}, ...}
 *   ENTRY = {"access": "read"|"write"|"deny"|"none", "path": PATH,
 *            "missing_path_behavior"?: "skip"}
 *   PATH  = {"type": "special", "value": {"kind": K, "subpath"?: REL}}
 *         | {"type": "path", "path": URI} | {"type": "glob_pattern", "pattern": G}
 */
#include "sbpolicy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "uri.h"

const char *const sbpolicy_minimal[] = {
	"/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/usr", "/etc", NULL,
};

static const char *const sbp_kinds[] = {
	[SBP_ROOT] = "root",
	[SBP_MINIMAL] = "minimal",
	[SBP_CWD] = "current_working_directory",
	[SBP_PROJECT_ROOTS] = "project_roots",
	[SBP_TMPDIR] = "tmpdir",
	[SBP_SLASH_TMP] = "slash_tmp",
	[SBP_UNKNOWN] = "unknown",
};

static int sbp_err(struct pd_err *e, const char *fmt, const char *a)
{
	snprintf(e->msg, sizeof(e->msg), fmt, a);
	return -1;
}

/* serde's "unknown variant `x`, expected ..." for a tagged member. */
static int sbp_variant(const json_t *obj, const char *key, const char *const *names, size_t n,
		       const char *expected, int *out, struct pd_err *e)
{
	const char *s;
	if (pd_string(obj, key, true, &s, NULL, e) < 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (names[i] && strcmp(s, names[i]) == 0) {
			*out = (int)i;
			return 0;
		}
	snprintf(e->msg, sizeof(e->msg), "unknown variant `%.100s`, expected %s", s, expected);
	return -1;
}

static int sbp_object(const json_t *obj, const char *key, const char *what, const json_t **out,
		      struct pd_err *e)
{
	const json_t *v = json_object_get(obj, key);
	if (!v)
		return sbp_err(e, "missing field `%s`", key);
	if (!json_is_object(v))
		return pd_type_error(v, what, key, e);
	*out = v;
	return 0;
}

static char *sbp_uri(const char *uri, struct pd_err *e)
{
	int code;	/* every failure of a policy's URI is -32602 */
	return uri_to_path(uri, &code, e->msg, sizeof(e->msg));
}

static int sbp_decode_path(const json_t *path, struct sbp_entry *en, struct pd_err *e)
{
	static const char *const types[] = { "special", "path", "glob_pattern" };
	int type;
	if (sbp_variant(path, "type", types, 3, "one of `special`, `path`, `glob_pattern`",
			&type, e) < 0)
		return -1;
	const char *s;
	if (type == 0) {
		const json_t *value = NULL;
		int kind;
		if (sbp_object(path, "value", "struct SpecialPath", &value, e) < 0 ||
		    sbp_variant(value, "kind", sbp_kinds, sizeof(sbp_kinds) / sizeof(sbp_kinds[0]),
				"one of `root`, `minimal`, `current_working_directory`, "
				"`project_roots`, `tmpdir`, `slash_tmp`, `unknown`",
				&kind, e) < 0 ||
		    pd_string(value, "subpath", false, &s, NULL, e) < 0)
			return -1;
		en->kind = (enum sbp_kind)kind;
		if (s && !(en->arg = strdup(s)))
			return sbp_err(e, "%s", "out of memory");
		return 0;
	}
	if (type == 1) {
		if (pd_string(path, "path", true, &s, NULL, e) < 0)
			return -1;
		en->kind = SBP_PATH;
		en->arg = sbp_uri(s, e);
		return en->arg ? 0 : -1;
	}
	if (pd_string(path, "pattern", true, &s, NULL, e) < 0)
		return -1;
	en->kind = SBP_GLOB;
	if (!(en->arg = strdup(s)))
		return sbp_err(e, "%s", "out of memory");
	return 0;
}

static int sbp_decode_entry(const json_t *v, struct sbp_entry *en, struct pd_err *e)
{
	static const char *const access[] = { "read", "write", "deny", "none" };
	static const enum sandbox_access map[] = { SANDBOX_READ, SANDBOX_WRITE, SANDBOX_DENY,
						   SANDBOX_DENY };
	if (!json_is_object(v))
		return pd_type_error(v, "struct FileSystemSandboxEntry", "entries", e);
	int a;
	const json_t *path = NULL;
	const char *missing;
	if (sbp_variant(v, "access", access, 4, "one of `read`, `write`, `deny`, `none`", &a, e) < 0 ||
	    sbp_object(v, "path", "internally tagged enum FileSystemPath", &path, e) < 0 ||
	    pd_string(v, "missing_path_behavior", false, &missing, NULL, e) < 0)
		return -1;
	en->access = map[a];
	en->skip_missing = missing && strcmp(missing, "skip") == 0;
	return sbp_decode_path(path, en, e);
}

static int sbp_decode_fs(const json_t *fs, struct sbpolicy *sp, struct pd_err *e)
{
	static const char *const types[] = { "restricted", "unrestricted" };
	int type;
	if (sbp_variant(fs, "type", types, 2, "`restricted` or `unrestricted`", &type, e) < 0)
		return -1;
	sp->restrict_fs = type == 0;
	if (!sp->restrict_fs)
		return 0;
	const json_t *entries = json_object_get(fs, "entries");
	bool has_depth;
	uint64_t depth;
	if (!entries)
		return sbp_err(e, "missing field `%s`", "entries");
	if (!json_is_array(entries))
		return pd_type_error(entries, "a sequence", "entries", e);
	if (pd_u64(fs, "glob_scan_max_depth", "usize", &has_depth, &depth, e) < 0)
		return -1;
	size_t n = json_array_size(entries);
	if (n > SANDBOX_MAX_RULES)
		return sbp_err(e, "%s", "file_system entries: too many (at most 256)");
	sp->entries = calloc(n ? n : 1, sizeof(*sp->entries));
	if (!sp->entries)
		return sbp_err(e, "%s", "out of memory");
	for (size_t i = 0; i < n; i++) {
		if (sbp_decode_entry(json_array_get(entries, i), &sp->entries[i], e) < 0)
			return -1;
		sp->nentries = i + 1;
	}
	return 0;
}

static int sbp_decode_permissions(const json_t *perm, struct sbpolicy *sp, struct pd_err *e)
{
	static const char *const types[] = { "managed", "disabled", "external" };
	static const char *const nets[] = { "restricted", "enabled" };
	int type, net;
	if (sbp_variant(perm, "type", types, 3, "one of `managed`, `disabled`, `external`", &type,
			e) < 0)
		return -1;
	if (type != 0)
		return 0;	/* disabled/external: nothing is confined */
	const json_t *fs = NULL;
	if (sbp_variant(perm, "network", nets, 2, "`restricted` or `enabled`", &net, e) < 0 ||
	    sbp_object(perm, "file_system", "internally tagged enum FileSystemSandboxPolicy", &fs,
		       e) < 0 ||
	    sbp_decode_fs(fs, sp, e) < 0)
		return -1;
	sp->restrict_net = net == 0;
	sp->enforce = sp->restrict_fs || sp->restrict_net;
	return 0;
}

static int sbp_decode_roots(const json_t *v, struct sbpolicy *sp, struct pd_err *e)
{
	const json_t *roots;
	if (pd_strings(v, "workspaceRoots", false, &roots, e) < 0)
		return -1;
	size_t n = roots ? json_array_size(roots) : 0;
	sp->roots = calloc(n ? n : 1, sizeof(*sp->roots));
	if (!sp->roots)
		return sbp_err(e, "%s", "out of memory");
	for (size_t i = 0; i < n; i++) {
		if (!(sp->roots[i] = sbp_uri(json_string_value(json_array_get(roots, i)), e)))
			return -1;
		sp->nroots = i + 1;
	}
	return 0;
}

int sbpolicy_decode(const json_t *v, struct sbpolicy *out, struct pd_err *e)
{
	memset(out, 0, sizeof(*out));
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_object(v))
		return pd_type_error(v, "struct WireFileSystemSandboxContext", "sandbox", e);
	out->present = true;
	const char *cwd = NULL;
	const json_t *perm = NULL;
	/* codex's fs calls may carry cwd and workspaceRoots in policyContext. */
	const json_t *ctx = json_object_get(v, "policyContext");
	bool in_ctx = json_is_object(ctx);
	const json_t *cwd_from = in_ctx && !json_object_get(v, "cwd") ? ctx : v;
	const json_t *roots_from = in_ctx && !json_object_get(v, "workspaceRoots") ? ctx : v;
	if (sbp_object(v, "permissions", "internally tagged enum PermissionProfile", &perm, e) < 0 ||
	    pd_string(cwd_from, "cwd", false, &cwd, NULL, e) < 0 ||
	    (cwd && !(out->cwd = sbp_uri(cwd, e))) ||
	    sbp_decode_roots(roots_from, out, e) < 0 ||
	    sbp_decode_permissions(perm, out, e) < 0) {
		sbpolicy_free(out);
		return -1;
	}
	return 0;
}

/* ---- resolve ---- */

static int sbp_add(struct sbpolicy *sp, const char *base, const char *sub,
		   enum sandbox_access access)
{
	size_t bl = strlen(base), sl = sub ? strlen(sub) : 0;
	char *p = malloc(bl + sl + 3);
	if (!p)
		return SBP_RESOLVE_NOMEM;
	memcpy(p, base, bl);
	p[bl] = '/';
	if (sl)
		memcpy(p + bl + 1, sub, sl);
	p[bl + 1 + sl] = '\0';
	if (p[0] != '/') {
		free(p);
		return 0;	/* not an absolute path (an odd TMPDIR): nothing */
	}
	uri_normalize(p);
	sp->rule_paths[sp->nrules] = p;
	sp->rules[sp->nrules].path = p;
	sp->rules[sp->nrules].access = access;
	sp->nrules++;
	return 0;
}

static bool sbp_needs_cwd(const struct sbp_entry *en)
{
	return en->kind == SBP_CWD || en->kind == SBP_PROJECT_ROOTS ||
	       (en->kind == SBP_GLOB && en->arg[0] != '/');
}

/* How many rules an entry becomes (at most). */
static size_t sbp_fanout(const struct sbpolicy *sp, const struct sbp_entry *en)
{
	if (en->kind == SBP_MINIMAL)
		return sizeof(sbpolicy_minimal) / sizeof(sbpolicy_minimal[0]);
	if (en->kind == SBP_PROJECT_ROOTS)
		return sp->nroots ? sp->nroots : 1;
	return 1;
}

static bool sbp_root_readable(const struct sbpolicy *sp)
{
	for (size_t i = 0; i < sp->nentries; i++)
		if (sp->entries[i].kind == SBP_ROOT && !sp->entries[i].arg &&
		    sp->entries[i].access != SANDBOX_DENY)
			return true;
	return false;
}

int sbpolicy_resolve(struct sbpolicy *sp, const char *tmpdir, struct pd_err *e)
{
	size_t cap = 0;
	for (size_t i = 0; i < sp->nentries; i++)
		cap += sbp_fanout(sp, &sp->entries[i]);
	sp->rules = calloc(cap ? cap : 1, sizeof(*sp->rules));
	sp->rule_paths = calloc(cap ? cap : 1, sizeof(*sp->rule_paths));
	if (!sp->rules || !sp->rule_paths)
		return SBP_RESOLVE_NOMEM;
	for (size_t i = 0; i < sp->nentries; i++) {
		const struct sbp_entry *en = &sp->entries[i];
		int r = 0;
		if (sbp_needs_cwd(en) && !sp->cwd) {
			snprintf(e->msg, sizeof(e->msg),
				 "file system sandbox context with dynamic permissions requires cwd");
			return SBP_RESOLVE_INVALID;
		}
		switch (en->kind) {
		case SBP_ROOT:
			r = sbp_add(sp, "/", en->arg, en->access);
			break;
		case SBP_MINIMAL:
			for (const char *const *m = sbpolicy_minimal; *m && r == 0; m++)
				r = sbp_add(sp, *m, NULL, en->access);
			break;
		case SBP_CWD:
			r = sbp_add(sp, sp->cwd, en->arg, en->access);
			break;
		case SBP_PROJECT_ROOTS:
			if (!sp->nroots)
				r = sbp_add(sp, sp->cwd, en->arg, en->access);
			for (size_t k = 0; k < sp->nroots && r == 0; k++)
				r = sbp_add(sp, sp->roots[k], en->arg, en->access);
			break;
		case SBP_TMPDIR:
			if (tmpdir && tmpdir[0] == '/')
				r = sbp_add(sp, tmpdir, en->arg, en->access);
			break;
		case SBP_SLASH_TMP:
			r = sbp_add(sp, "/tmp", en->arg, en->access);
			break;
		case SBP_UNKNOWN:
			break;
		case SBP_PATH:
			r = sbp_add(sp, en->arg, NULL, en->access);
			break;
		case SBP_GLOB:
			/* Mounts cannot follow a pattern: a glob is fine only
			 * when it grants no more than "/" already does. */
			if (en->access != SANDBOX_READ || !sbp_root_readable(sp))
				return SBP_RESOLVE_UNENFORCEABLE;
			break;
		}
		if (r < 0)
			return r;
	}
	sp->policy.restrict_fs = sp->restrict_fs;
	sp->policy.restrict_net = sp->restrict_net;
	sp->policy.rules = sp->rules;
	sp->policy.nrules = sp->restrict_fs ? sp->nrules : 0;
	return 0;
}

void sbpolicy_free(struct sbpolicy *sp)
{
	free(sp->cwd);
	for (size_t i = 0; i < sp->nroots; i++)
		free(sp->roots[i]);
	free(sp->roots);
	for (size_t i = 0; i < sp->nentries; i++)
		free(sp->entries[i].arg);
	free(sp->entries);
	for (size_t i = 0; sp->rule_paths && i < sp->nrules; i++)
		free(sp->rule_paths[i]);
	free(sp->rule_paths);
	free(sp->rules);
	memset(sp, 0, sizeof(*sp));
}
