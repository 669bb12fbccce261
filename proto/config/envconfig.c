/* envconfig: environmentConfig/read. Decodes cwd and the two lists of TOML
 * key paths, passes the "environment config" gate, then answers with the
 * home directories, the hostname and one "user" config layer holding only
 * the requested subtrees of CODEX_HOME/config.toml. Requirements layers are
 * always empty: the surface reference does not say where that file lives.
 * Must not: parse TOML itself (toml.c does), read a project's own
 * .codex/config.toml (its trust is not known here), or take paths by
 * other rules than uri.h's.
 */
#include "envconfig.h"

#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "envinfo.h"
#include "params.h"
#include "toml.h"
#include "uri.h"

/* A params member that must be an array of arrays of strings. */
static int envconfig_paths(const json_t *params, const char *key, const json_t **out,
			   struct pd_err *e)
{
	const json_t *v = json_object_get(params, key);
	if (!v) {
		snprintf(e->msg, sizeof(e->msg), "missing field `%s`", key);
		return -1;
	}
	if (!json_is_array(v))
		return pd_type_error(v, "a sequence", key, e);
	size_t i, j;
	const json_t *p, *seg;
	json_array_foreach(v, i, p) {
		if (!json_is_array(p))
			return pd_type_error(p, "a sequence", key, e);
		json_array_foreach(p, j, seg)
			if (!json_is_string(seg))
				return pd_type_error(seg, "a string", key, e);
	}
	*out = v;
	return 0;
}

static bool envconfig_has_empty_path(const json_t *paths)
{
	size_t i;
	const json_t *p;
	json_array_foreach(paths, i, p)
		if (json_array_size(p) == 0)
			return true;
	return false;
}

static char *envconfig_home(void)
{
	const char *home = getenv("HOME");
	if (!home || !home[0]) {
		struct passwd *pw = getpwuid(getuid());
		home = pw && pw->pw_dir && pw->pw_dir[0] ? pw->pw_dir : "/";
	}
	return strdup(home);
}

/* $CODEX_HOME (resolved when it exists), else $HOME/.codex. */
static char *envconfig_codex_home(const char *home)
{
	const char *env = getenv("CODEX_HOME");
	if (env && env[0]) {
		char *real = realpath(env, NULL);
		return real ? real : strdup(env);
	}
	char *out = NULL;
	if (asprintf(&out, "%s%s.codex", home, strcmp(home, "/") == 0 ? "" : "/") < 0)
		return NULL;
	return out;
}

/* Select every present path of paths in doc. Returns whether any was present. */
static bool envconfig_select(struct toml_doc *doc, const json_t *paths)
{
	bool any = false;
	size_t i, j;
	const json_t *p, *seg;
	json_array_foreach(paths, i, p) {
		size_t n = json_array_size(p);
		const char **keys = calloc(n, sizeof(*keys));
		if (!keys)
			continue;
		bool ok = true;
		json_array_foreach(p, j, seg) {
			keys[j] = json_string_value(seg);
			/* A key with a NUL byte cannot name anything we stored by C string. */
			if (strlen(keys[j]) != json_string_length(seg))
				ok = false;
		}
		if (ok && toml_select(doc, keys, n))
			any = true;
		free(keys);
	}
	return any;
}

static void envconfig_no_layers(struct jw *w)
{
	jw_obj_open(w);
	jw_key(w, "layers");
	jw_arr_open(w);
	jw_arr_close(w);
	jw_key(w, "cloudInsertionIndex");
	jw_u64(w, 0);
	jw_obj_close(w);
}

/* The requested subtrees of config_file as TOML text (*out NULL when
 * none is there). 0, or -1 answered. */
static int envconfig_user_layer(struct conn *c, const struct rpc_id *id, const char *config_file,
				const json_t *config_paths, char **out, size_t *len)
{
	struct toml_doc *doc = NULL;
	struct toml_error te;
	int ret = toml_read_file(config_file, ENVCONFIG_MAX_FILE, &doc, &te);
	if (ret == -EINVAL && te.line > 0) {
		conn_reply_error(c, id, RPC_INTERNAL_ERROR, "failed to parse %s: line %d: %s",
				 config_file, te.line, te.msg);
		return -1;
	}
	if (ret < 0 && ret != -ENOENT && ret != -ENOTDIR) {
		conn_reply_error(c, id, RPC_INTERNAL_ERROR, "failed to read %s: %s", config_file,
				 te.msg);
		return -1;
	}
	ret = 0;
	if (doc && envconfig_select(doc, config_paths) && !(*out = toml_serialize(doc, true, len))) {
		conn_reply_error(c, id, RPC_INTERNAL_ERROR, "out of memory");
		ret = -1;
	}
	toml_free(doc);
	return ret;
}

/* The one "user" layer, from codex_home's config.toml. */
static void envconfig_write_layer(struct jw *w, const char *source, const char *codex_home,
				  const char *toml_text, size_t toml_len)
{
	jw_obj_open(w);
	jw_key(w, "layers");
	jw_arr_open(w);
	jw_obj_open(w);
	jw_key(w, "source");
	jw_cstr(w, source);
	jw_key(w, "baseDir");
	envinfo_write_file_uri(w, codex_home);
	jw_key(w, "toml");
	jw_str(w, toml_text, toml_len);
	jw_obj_close(w);
	jw_arr_close(w);
	jw_key(w, "cloudInsertionIndex");
	jw_u64(w, 0);
	jw_obj_close(w);
}

/* Past the checks: read the config and answer. */
static void envconfig_answer(struct conn *c, const struct rpc_id *id, const json_t *config_paths)
{
	char *home = envconfig_home();
	char *codex_home = home ? envconfig_codex_home(home) : NULL;
	char *config_file = NULL, *toml_text = NULL, *source = NULL;
	size_t toml_len = 0;
	if (!codex_home || asprintf(&config_file, "%s/config.toml", codex_home) < 0) {
		config_file = NULL;
		conn_reply_error(c, id, RPC_INTERNAL_ERROR, "out of memory");
		goto out;
	}
	if (json_array_size(config_paths) > 0 &&
	    envconfig_user_layer(c, id, config_file, config_paths, &toml_text, &toml_len) < 0)
		goto out;
	if (toml_text && asprintf(&source, "user (%s)", config_file) < 0) {
		source = NULL;
		conn_reply_error(c, id, RPC_INTERNAL_ERROR, "out of memory");
		goto out;
	}
	char hostname[HOST_NAME_MAX + 1];
	if (gethostname(hostname, sizeof(hostname)) < 0)
		hostname[0] = '\0';
	hostname[HOST_NAME_MAX] = '\0';

	struct jw w = conn_result_begin(c, id);
	jw_obj_open(&w);
	jw_key(&w, "userHomeDir");
	envinfo_write_file_uri(&w, home);
	jw_key(&w, "codexHomeDir");
	envinfo_write_file_uri(&w, codex_home);
	jw_key(&w, "hostname");
	jw_cstr(&w, hostname);
	jw_key(&w, "config");
	if (toml_text)
		envconfig_write_layer(&w, source, codex_home, toml_text, toml_len);
	else
		envconfig_no_layers(&w);
	jw_key(&w, "requirements");
	envconfig_no_layers(&w);
	jw_obj_close(&w);
	conn_result_end(c, id, &w);
out:
	free(source);
	free(toml_text);
	free(config_file);
	free(codex_home);
	free(home);
}

void envconfig_read(struct conn *c, const struct rpc_id *id, const json_t *params)
{
	struct pd_err e;
	const char *cwd_uri;
	const json_t *config_paths, *req_paths;
	if (pd_object(params, "EnvironmentConfigReadParams", &e) < 0 ||
	    pd_string(params, "cwd", true, &cwd_uri, NULL, &e) < 0 ||
	    envconfig_paths(params, "configPaths", &config_paths, &e) < 0 ||
	    envconfig_paths(params, "requirementsPaths", &req_paths, &e) < 0)
		return conn_reply_error(c, id, pd_err_nomem(&e) ? RPC_INTERNAL_ERROR
							       : RPC_INVALID_PARAMS, "%s", e.msg);
	int code;
	char msg[512];
	/* cwd is checked (the fs methods' URI rules) but not used: a project
	 * .codex/config.toml is not read (the reference leaves out an untrusted
	 * one, and trust is not known here). */
	char *cwd = uri_to_path(cwd_uri, &code, msg, sizeof(msg));
	if (!cwd)
		return conn_reply_error(c, id, code, "%s", msg);
	free(cwd);
	if (!conn_gate(c, id, "environment config"))
		return;
	if (json_array_size(config_paths) == 0 && json_array_size(req_paths) == 0)
		return conn_reply_error(c, id, RPC_INVALID_PARAMS,
					"at least one config or requirements path is required");
	if (envconfig_has_empty_path(config_paths) || envconfig_has_empty_path(req_paths))
		return conn_reply_error(c, id, RPC_INVALID_PARAMS,
					"TOML paths must contain at least one key segment");
	envconfig_answer(c, id, config_paths);
}
