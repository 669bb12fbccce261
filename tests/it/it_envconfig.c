/* it_envconfig: environmentConfig/read against the real ringexecd.
 *
 * The server runs with HOME and CODEX_HOME in a fresh directory. Covers the
 * gate, the -32602 cases, the answer without a config.toml, the two
 * reference examples byte for byte, absent paths, a broken config.toml
 * (-32603 naming file and line), the $HOME/.codex default and the capability.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "expect.h"
#include "rpc.h"
#include "server.h"
#include "tap.h"
#include "wsc.h"

#define T_MS 5000

static struct server srv;
static bool srv_started;
static char dir[256];		/* a fresh directory per run */
static char home[300];		/* dir/home */
static char codex_home[300];	/* dir/codex */
static char hostname[256];

static json_t *call(struct rpc *r, json_t *params)
{
	return rpc_call(r, "environmentConfig/read", params, T_MS);
}

static json_t *params(const char *cwd, json_t *config_paths, json_t *req_paths)
{
	return json_pack("{s:s, s:o, s:o}", "cwd", cwd, "configPaths", config_paths,
			 "requirementsPaths", req_paths);
}

static const char *file_uri(const char *path)
{
	static char bufs[4][600];
	static int k;
	char *b = bufs[k++ % 4];
	snprintf(b, 600, "file://%s", path);
	return b;
}

static void write_config(const char *text)
{
	char path[400];
	snprintf(path, sizeof(path), "%s/config.toml", codex_home);
	FILE *f = fopen(path, "w");
	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

static void remove_config(void)
{
	char path[400];
	snprintf(path, sizeof(path), "%s/config.toml", codex_home);
	unlink(path);
}

static json_t *no_layers(void)
{
	return json_pack("{s:[], s:i}", "layers", "cloudInsertionIndex", 0);
}

/* The whole expected result with this config member. */
static json_t *want_result(const char *home_dir, const char *codex_dir, json_t *config)
{
	return json_pack("{s:s, s:s, s:s, s:o, s:o}", "userHomeDir", file_uri(home_dir),
			 "codexHomeDir", file_uri(codex_dir), "hostname", hostname, "config", config,
			 "requirements", no_layers());
}

static json_t *user_layer(const char *toml)
{
	char source[500];
	snprintf(source, sizeof(source), "user (%s/config.toml)", codex_home);
	return json_pack("{s:[{s:s, s:s, s:s}], s:i}", "layers", "source", source, "baseDir",
			 file_uri(codex_home), "toml", toml, "cloudInsertionIndex", 0);
}

/* ---- cases ---- */

static void test_gate(void)
{
	struct wsc *w;
	REQUIRE(srv_started && wsc_connect(&w, srv.url, NULL, T_MS) == 0);
	struct rpc *r = rpc_new(w);
	json_t *resp = call(r, params(file_uri(dir), json_pack("[[s]]", "model"), json_array()));
	CHECK_ERR(resp, -32600, "client must call initialize before using environment config methods");
	json_decref(resp);
	/* decode errors win over the gate */
	resp = call(r, json_pack("{s:[], s:[]}", "configPaths", "requirementsPaths"));
	CHECK_ERR(resp, -32602, "missing field `cwd`");
	json_decref(resp);
	resp = call(r, params(dir, json_array(), json_array()));
	CHECK_ERR(resp, -32602, "invalid URI: relative URL without a base");
	json_decref(resp);
	rpc_free(r);
}

static void test_invalid_params(void)
{
	struct rpc *r = srv_started ? rpc_open(srv.url) : NULL;
	REQUIRE(r);
	json_t *resp = call(r, params(dir, json_pack("[[s]]", "model"), json_array()));
	CHECK_ERR(resp, -32602, "invalid URI: relative URL without a base");
	json_decref(resp);
	resp = call(r, params(file_uri(dir), json_array(), json_array()));
	CHECK_ERR(resp, -32602, "at least one config or requirements path is required");
	json_decref(resp);
	resp = call(r, params(file_uri(dir), json_pack("[[s], []]", "model"), json_array()));
	CHECK_ERR(resp, -32602, "TOML paths must contain at least one key segment");
	json_decref(resp);
	resp = call(r, params(file_uri(dir), json_array(), json_pack("[[]]")));
	CHECK_ERR(resp, -32602, "TOML paths must contain at least one key segment");
	json_decref(resp);
	resp = call(r, json_pack("{s:s, s:[]}", "cwd", file_uri(dir), "configPaths"));
	CHECK_ERR(resp, -32602, "missing field `requirementsPaths`");
	json_decref(resp);
	resp = call(r, params(file_uri(dir), json_pack("[[i]]", 1), json_array()));
	CHECK(err_code(resp) == -32602);
	json_decref(resp);
	resp = call(r, params(file_uri(dir), json_string("model"), json_array()));
	CHECK(err_code(resp) == -32602);
	json_decref(resp);
	rpc_close(r, 1000, T_MS);
}

static void test_no_config(void)
{
	struct rpc *r = srv_started ? rpc_open(srv.url) : NULL;
	REQUIRE(r);
	remove_config();
	json_t *resp = call(r, params(file_uri(dir), json_pack("[[s]]", "mcp_servers"),
				      json_pack("[[s]]", "allowed_sandbox_modes")));
	CHECK_RESULT(resp, want_result(home, codex_home, no_layers()));
	json_decref(resp);
	rpc_close(r, 1000, T_MS);
}

static void test_reference_examples(void)
{
	struct rpc *r = srv_started ? rpc_open(srv.url) : NULL;
	REQUIRE(r);
	write_config("model = \"gpt-5.5\"\n\n[mcp_servers.demo]\ncommand = \"echo\"\n"
		     "args = [\"hi\"]\n\n[mcp_servers.demo.env]\nX = \"1\"\n");
	json_t *resp = call(r, params(file_uri(dir), json_pack("[[s]]", "mcp_servers"),
				      json_array()));
	CHECK_RESULT(resp, want_result(home, codex_home,
				       user_layer("[mcp_servers.demo]\ncommand = \"echo\"\nargs = [\"hi\"]\n\n"
						  "[mcp_servers.demo.env]\nX = \"1\"\n")));
	json_decref(resp);
	resp = call(r, params(file_uri(dir),
			      json_pack("[[s], [s,s,s]]", "model", "mcp_servers", "demo", "command"),
			      json_pack("[[s]]", "allowed_approval_policies")));
	CHECK_RESULT(resp, want_result(home, codex_home,
				       user_layer("model = \"gpt-5.5\"\n\n[mcp_servers.demo]\ncommand = \"echo\"\n")));
	json_decref(resp);
	/* nothing requested is there: no layer */
	resp = call(r, params(file_uri(dir), json_pack("[[s], [s,s]]", "profiles", "model", "x"),
			      json_array()));
	CHECK_RESULT(resp, want_result(home, codex_home, no_layers()));
	json_decref(resp);
	/* requirements only: the config file is not consulted */
	resp = call(r, params(file_uri(dir), json_array(), json_pack("[[s]]", "model")));
	CHECK_RESULT(resp, want_result(home, codex_home, no_layers()));
	json_decref(resp);
	remove_config();
	rpc_close(r, 1000, T_MS);
}

static void test_broken_config(void)
{
	struct rpc *r = srv_started ? rpc_open(srv.url) : NULL;
	REQUIRE(r);
	write_config("model = \"gpt-5.5\"\nmodel_provider = openai\n");
	json_t *resp = call(r, params(file_uri(dir), json_pack("[[s]]", "model"), json_array()));
	char want[600];
	snprintf(want, sizeof(want),
		 "failed to parse %s/config.toml: line 2: invalid value `openai` (strings need quotes)",
		 codex_home);
	CHECK_ERR(resp, -32603, want);
	json_decref(resp);
	/* the connection is still fine */
	remove_config();
	resp = call(r, params(file_uri(dir), json_pack("[[s]]", "model"), json_array()));
	CHECK_RESULT(resp, want_result(home, codex_home, no_layers()));
	json_decref(resp);
	rpc_close(r, 1000, T_MS);
}

static void test_capability(void)
{
	struct wsc *w;
	REQUIRE(srv_started && wsc_connect(&w, srv.url, NULL, T_MS) == 0);
	struct rpc *r = rpc_new(w);
	json_t *res = rpc_result(r, "initialize", json_pack("{s:s}", "clientName", "it"), T_MS);
	json_t *flag = json_object_get(
		json_object_get(json_object_get(res, "environmentInfo"), "capabilities"),
		"environmentConfigRead");
	CHECKF(json_is_true(flag), "got %s", js(res));
	json_decref(res);
	rpc_free(r);
}

/* Without CODEX_HOME the directory is $HOME/.codex. */
static void test_default_codex_home(void)
{
	struct server s2;
	unsetenv("CODEX_HOME");
	int started = server_start(&s2, (const char *[]){ "--session-ttl", "0", NULL });
	setenv("CODEX_HOME", codex_home, 1);
	REQUIRE(started == 0);
	struct rpc *r = rpc_open(s2.url);
	if (r) {
		json_t *resp = call(r, params(file_uri(dir), json_pack("[[s]]", "model"),
					      json_array()));
		char dot[400];
		snprintf(dot, sizeof(dot), "%s/.codex", home);
		CHECK_RESULT(resp, want_result(home, dot, no_layers()));
		json_decref(resp);
		rpc_close(r, 1000, T_MS);
	}
	CHECK(r);
	server_stop(&s2);
}

static const struct tap_case cases[] = {
	{ "gate", test_gate },
	{ "invalid_params", test_invalid_params },
	{ "no_config", test_no_config },
	{ "reference_examples", test_reference_examples },
	{ "broken_config", test_broken_config },
	{ "capability", test_capability },
	{ "default_codex_home", test_default_codex_home },
	{ NULL, NULL },
};

int main(int argc, char **argv)
{
	int rc;
	char tmpl[] = "/tmp/it_envconfig.XXXXXX";
	if (!mkdtemp(tmpl))
		return 1;
	snprintf(dir, sizeof(dir), "%s", tmpl);
	snprintf(home, sizeof(home), "%s/home", dir);
	snprintf(codex_home, sizeof(codex_home), "%s/codex", dir);
	if (mkdir(home, 0700) < 0 || mkdir(codex_home, 0700) < 0)
		return 1;
	if (gethostname(hostname, sizeof(hostname)) < 0)
		return 1;
	hostname[sizeof(hostname) - 1] = '\0';
	setenv("HOME", home, 1);
	setenv("CODEX_HOME", codex_home, 1);
	srv_started = server_start(&srv, (const char *[]){ "--session-ttl", "0", NULL }) == 0;
	rc = tap_main(argc, argv, cases);
	if (srv.pid > 0)
		server_stop(&srv);
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		rc = rc ? rc : 1;
	return rc;
}
