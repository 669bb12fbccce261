/* unit_sbpolicy: proto/sbpolicy (decoding and resolving `sandbox`) and the
 * engine's sandbox_access_of (what a path gets under the rules).
 *
 * Every field, every error text, unknown members ignored, each special
 * kind with and without subpath, path URIs, globs, missing_path_behavior,
 * policyContext, and longest-path-wins.
 */
#include "sbpolicy.h"
#include "tap.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

/* codex's workspace-write policy for cwd /w (entries as codex sends them). */
#define ENTRY(access, kind) \
	"{\"access\":\"" access "\",\"path\":{\"type\":\"special\",\"value\":{\"kind\":\"" kind "\"}}}"
#define SUB(kind, sub) \
	"{\"access\":\"read\",\"path\":{\"type\":\"special\",\"value\":{\"kind\":\"" kind \
	"\",\"subpath\":\"" sub "\"}},\"missing_path_behavior\":\"skip\"}"
#define WORKSPACE_WRITE \
	"{\"cwd\":\"file:///w\",\"workspaceRoots\":[\"file:///w\"]," \
	"\"permissions\":{\"type\":\"managed\",\"network\":\"restricted\"," \
	"\"file_system\":{\"type\":\"restricted\",\"entries\":[" ENTRY("read", "root") "," \
	ENTRY("write", "project_roots") "," ENTRY("write", "slash_tmp") "," \
	ENTRY("write", "tmpdir") "," SUB("project_roots", ".git") "," \
	SUB("project_roots", ".codex") "]}},\"windowsSandboxLevel\":\"disabled\"," \
	"\"windowsSandboxProxySettingsMode\":\"reconcile\",\"useLegacyLandlock\":false}"

static json_t *ut_json(const char *text)
{
	json_error_t err;
	json_t *v = json_loads(text, JSON_DECODE_ANY, &err);
	if (!v)
		tap_diag("bad test JSON: %s: %s", err.text, text);
	return v;
}

/* Decode (and resolve when decoding worked); the error text or "" in msg. */
static int ut_decode(const char *text, const char *tmpdir, struct sbpolicy *sp, char *msg,
		     size_t n)
{
	json_t *v = ut_json(text);
	struct pd_err e = { .msg = "" };
	int r = sbpolicy_decode(v, sp, &e);
	if (r == 0 && sp->present)
		r = sbpolicy_resolve(sp, tmpdir, &e);
	snprintf(msg, n, "%s", r < 0 ? e.msg : "");
	json_decref(v);
	return r;
}

static enum sandbox_access ut_at(const struct sbpolicy *sp, const char *path)
{
	return sandbox_access_of(&sp->policy, path);
}

static void test_absent_and_null(void)
{
	struct sbpolicy sp;
	struct pd_err e;
	CHECK(sbpolicy_decode(NULL, &sp, &e) == 0 && !sp.present);
	json_t *null = json_null();
	CHECK(sbpolicy_decode(null, &sp, &e) == 0 && !sp.present && !sp.enforce);
	json_decref(null);
}

static void test_workspace_write(void)
{
	struct sbpolicy sp;
	char msg[512];
	REQUIREF(ut_decode(WORKSPACE_WRITE, "/var/tmpd", &sp, msg, sizeof(msg)) == 0, "%s", msg);
	CHECK(sp.present && sp.enforce && sp.restrict_fs && sp.restrict_net);
	CHECK(sp.policy.restrict_fs && sp.policy.restrict_net);
	CHECK(sp.nentries == 6 && sp.nrules == 6);
	CHECK(ut_at(&sp, "/etc/passwd") == SANDBOX_READ);
	CHECK(ut_at(&sp, "/") == SANDBOX_READ);
	CHECK(ut_at(&sp, "/w") == SANDBOX_WRITE && ut_at(&sp, "/w/src/a.c") == SANDBOX_WRITE);
	CHECK(ut_at(&sp, "/w/.git") == SANDBOX_READ && ut_at(&sp, "/w/.git/HEAD") == SANDBOX_READ);
	CHECK(ut_at(&sp, "/w/.codex/config.toml") == SANDBOX_READ);
	CHECK(ut_at(&sp, "/w/.github") == SANDBOX_WRITE);	/* a prefix is not a parent */
	CHECK(ut_at(&sp, "/tmp/x") == SANDBOX_WRITE && ut_at(&sp, "/var/tmpd/y") == SANDBOX_WRITE);
	CHECK(ut_at(&sp, "/var/tmp") == SANDBOX_READ);
	CHECK(sp.entries[4].skip_missing && !sp.entries[0].skip_missing);
	sbpolicy_free(&sp);
}

static void test_read_only(void)
{
	struct sbpolicy sp;
	char msg[512];
	REQUIRE(ut_decode("{\"cwd\":\"file:///w\",\"permissions\":{\"type\":\"managed\","
			  "\"network\":\"restricted\",\"file_system\":{\"type\":\"restricted\","
			  "\"entries\":[" ENTRY("read", "root") "]}}}",
			  NULL, &sp, msg, sizeof(msg)) == 0);
	CHECK(ut_at(&sp, "/w/x") == SANDBOX_READ && ut_at(&sp, "/tmp") == SANDBOX_READ);
	sbpolicy_free(&sp);
}

static void test_profiles_without_confinement(void)
{
	struct sbpolicy sp;
	char msg[512];
	REQUIRE(ut_decode("{\"permissions\":{\"type\":\"disabled\"}}", NULL, &sp, msg,
			  sizeof(msg)) == 0);
	CHECK(sp.present && !sp.enforce);
	sbpolicy_free(&sp);
	REQUIRE(ut_decode("{\"permissions\":{\"type\":\"external\",\"anything\":1}}", NULL, &sp, msg,
			  sizeof(msg)) == 0);
	CHECK(sp.present && !sp.enforce);
	sbpolicy_free(&sp);
	REQUIRE(ut_decode("{\"permissions\":{\"type\":\"managed\",\"network\":\"enabled\","
			  "\"file_system\":{\"type\":\"unrestricted\"}}}",
			  NULL, &sp, msg, sizeof(msg)) == 0);
	CHECK(sp.present && !sp.enforce);
	sbpolicy_free(&sp);
	REQUIRE(ut_decode("{\"permissions\":{\"type\":\"managed\",\"network\":\"restricted\","
			  "\"file_system\":{\"type\":\"unrestricted\"}}}",
			  NULL, &sp, msg, sizeof(msg)) == 0);
	CHECK(sp.present && sp.enforce && !sp.restrict_fs && sp.restrict_net);
	CHECK(ut_at(&sp, "/etc") == SANDBOX_WRITE);
	sbpolicy_free(&sp);
}

/* Each malformed object and the text it gets. */
static void test_error_texts(void)
{
	static const struct {
		const char *json;
		const char *msg;
	} cases[] = {
		{ "\"yes\"", "invalid type: string \"yes\", expected struct WireFileSystemSandboxContext for `sandbox`" },
		{ "{}", "missing field `permissions`" },
		{ "{\"permissions\":5}", "invalid type: integer `5`, expected internally tagged enum PermissionProfile for `permissions`" },
		{ "{\"permissions\":{}}", "missing field `type`" },
		{ "{\"permissions\":{\"type\":\"bogus\"}}", "unknown variant `bogus`, expected one of `managed`, `disabled`, `external`" },
		{ "{\"permissions\":{\"type\":\"managed\"}}", "missing field `network`" },
		{ "{\"permissions\":{\"type\":\"managed\",\"network\":\"open\"}}", "unknown variant `open`, expected `restricted` or `enabled`" },
		{ "{\"permissions\":{\"type\":\"managed\",\"network\":\"restricted\"}}", "missing field `file_system`" },
		{ "{\"permissions\":{\"type\":\"managed\",\"network\":\"restricted\",\"file_system\":{\"type\":\"x\"}}}", "unknown variant `x`, expected `restricted` or `unrestricted`" },
		{ "{\"permissions\":{\"type\":\"managed\",\"network\":\"restricted\",\"file_system\":{\"type\":\"restricted\"}}}", "missing field `entries`" },
		{ "{\"permissions\":{\"type\":\"managed\",\"network\":\"restricted\",\"file_system\":{\"type\":\"restricted\",\"entries\":{}}}}", "invalid type: map, expected a sequence for `entries`" },
		{ "{\"permissions\":{\"type\":\"managed\",\"network\":\"restricted\",\"file_system\":{\"type\":\"restricted\",\"entries\":[{\"access\":\"all\"}]}}}", "unknown variant `all`, expected one of `read`, `write`, `deny`, `none`" },
		{ "{\"permissions\":{\"type\":\"managed\",\"network\":\"restricted\",\"file_system\":{\"type\":\"restricted\",\"entries\":[{\"access\":\"read\"}]}}}", "missing field `path`" },
		{ "{\"permissions\":{\"type\":\"managed\",\"network\":\"restricted\",\"file_system\":{\"type\":\"restricted\",\"entries\":[{\"access\":\"read\",\"path\":{\"type\":\"dir\"}}]}}}", "unknown variant `dir`, expected one of `special`, `path`, `glob_pattern`" },
		{ "{\"permissions\":{\"type\":\"managed\",\"network\":\"restricted\",\"file_system\":{\"type\":\"restricted\",\"entries\":[{\"access\":\"read\",\"path\":{\"type\":\"special\"}}]}}}", "missing field `value`" },
		{ "{\"permissions\":{\"type\":\"managed\",\"network\":\"restricted\",\"file_system\":{\"type\":\"restricted\",\"entries\":[{\"access\":\"read\",\"path\":{\"type\":\"special\",\"value\":{\"kind\":\"nonsense\"}}}]}}}", "unknown variant `nonsense`, expected one of `root`, `minimal`, `current_working_directory`, `project_roots`, `tmpdir`, `slash_tmp`, `unknown`" },
		{ "{\"permissions\":{\"type\":\"managed\",\"network\":\"restricted\",\"file_system\":{\"type\":\"restricted\",\"entries\":[{\"access\":\"read\",\"path\":{\"type\":\"special\",\"value\":{\"kind\":\"root\",\"subpath\":7}}}]}}}", "invalid type: integer `7`, expected a string for `subpath`" },
		{ "{\"permissions\":{\"type\":\"managed\",\"network\":\"restricted\",\"file_system\":{\"type\":\"restricted\",\"entries\":[{\"access\":\"write\",\"path\":{\"type\":\"path\",\"path\":\"relative/x\"}}]}}}", "invalid URI: relative URL without a base" },
		{ "{\"permissions\":{\"type\":\"managed\",\"network\":\"restricted\",\"file_system\":{\"type\":\"restricted\",\"entries\":[{\"access\":\"write\",\"path\":{\"type\":\"path\"}}]}}}", "missing field `path`" },
		{ "{\"permissions\":{\"type\":\"managed\",\"network\":\"restricted\",\"file_system\":{\"type\":\"restricted\",\"entries\":[{\"access\":\"read\",\"path\":{\"type\":\"glob_pattern\"}}]}}}", "missing field `pattern`" },
		{ "{\"cwd\":\"w\",\"permissions\":{\"type\":\"disabled\"}}", "invalid URI: relative URL without a base" },
		{ "{\"workspaceRoots\":\"file:///w\",\"permissions\":{\"type\":\"disabled\"}}", "invalid type: string \"file:///w\", expected a sequence for `workspaceRoots`" },
		{ "{\"permissions\":{\"type\":\"managed\",\"network\":\"restricted\",\"file_system\":{\"type\":\"restricted\",\"entries\":[" ENTRY("write", "project_roots") "]}}}", "file system sandbox context with dynamic permissions requires cwd" },
		{ "{\"permissions\":{\"type\":\"managed\",\"network\":\"restricted\",\"file_system\":{\"type\":\"restricted\",\"entries\":[{\"access\":\"read\",\"path\":{\"type\":\"glob_pattern\",\"pattern\":\"**/*.md\"}}]}}}", "file system sandbox context with dynamic permissions requires cwd" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sbpolicy sp;
		char msg[512];
		int r = ut_decode(cases[i].json, NULL, &sp, msg, sizeof(msg));
		CHECKF(r == -1 && strcmp(msg, cases[i].msg) == 0, "%s: got %d \"%s\"", cases[i].json, r,
		       msg);
		sbpolicy_free(&sp);
	}
}

static void test_kinds_and_paths(void)
{
	struct sbpolicy sp;
	char msg[512];
	REQUIREF(ut_decode("{\"cwd\":\"file:///c/d\",\"workspaceRoots\":[\"file:///r1\",\"FILE://localhost/r%202\"],"
			   "\"extra\":true,\"permissions\":{\"type\":\"managed\",\"network\":\"enabled\","
			   "\"file_system\":{\"type\":\"restricted\",\"glob_scan_max_depth\":3,\"entries\":["
			   ENTRY("read", "minimal") "," ENTRY("write", "current_working_directory") ","
			   SUB("project_roots", "sub/../s") "," ENTRY("deny", "unknown") ","
			   "{\"access\":\"none\",\"path\":{\"type\":\"path\",\"path\":\"file:///c/d/secret%2Etxt\"},\"new\":1},"
			   "{\"access\":\"write\",\"path\":{\"type\":\"special\",\"value\":{\"kind\":\"slash_tmp\",\"subpath\":\"x\"}}}"
			   "]}}}",
			   "relative", &sp, msg, sizeof(msg)) == 0, "%s", msg);
	CHECK(sp.enforce && sp.restrict_fs && !sp.restrict_net);
	CHECK(ut_at(&sp, "/usr/bin/sh") == SANDBOX_READ && ut_at(&sp, "/etc/hosts") == SANDBOX_READ);
	CHECK(ut_at(&sp, "/home") == 0 && ut_at(&sp, "/") == 0);
	CHECK(ut_at(&sp, "/c/d/f") == SANDBOX_WRITE && ut_at(&sp, "/c") == 0);
	CHECK(ut_at(&sp, "/r1/s") == SANDBOX_READ && ut_at(&sp, "/r 2/s/x") == SANDBOX_READ);
	CHECK(ut_at(&sp, "/r1") == 0);
	CHECK(ut_at(&sp, "/c/d/secret.txt") == SANDBOX_DENY);
	CHECK(ut_at(&sp, "/tmp/x/y") == SANDBOX_WRITE && ut_at(&sp, "/tmp") == 0);
	sbpolicy_free(&sp);

	/* project_roots without workspaceRoots is the cwd; TMPDIR when set. */
	REQUIRE(ut_decode("{\"cwd\":\"file:///c\",\"permissions\":{\"type\":\"managed\",\"network\":\"restricted\","
			  "\"file_system\":{\"type\":\"restricted\",\"entries\":[" ENTRY("write", "project_roots") ","
			  ENTRY("write", "tmpdir") "]}}}",
			  "/t/../tt", &sp, msg, sizeof(msg)) == 0);
	CHECK(ut_at(&sp, "/c/x") == SANDBOX_WRITE && ut_at(&sp, "/tt/y") == SANDBOX_WRITE);
	CHECK(sp.nrules == 2);
	sbpolicy_free(&sp);
	REQUIRE(ut_decode("{\"cwd\":\"file:///c\",\"permissions\":{\"type\":\"managed\",\"network\":\"restricted\","
			  "\"file_system\":{\"type\":\"restricted\",\"entries\":[" ENTRY("write", "tmpdir") "]}}}",
			  NULL, &sp, msg, sizeof(msg)) == 0);
	CHECK(sp.nrules == 0);
	sbpolicy_free(&sp);
}

static void test_globs(void)
{
	struct sbpolicy sp;
	char msg[512];
	/* Reading what "/" already lets be read is fine... */
	CHECK(ut_decode("{\"cwd\":\"file:///c\",\"permissions\":{\"type\":\"managed\",\"network\":\"restricted\","
			"\"file_system\":{\"type\":\"restricted\",\"entries\":[" ENTRY("read", "root") ","
			"{\"access\":\"read\",\"path\":{\"type\":\"glob_pattern\",\"pattern\":\"**/*.md\"}}]}}}",
			NULL, &sp, msg, sizeof(msg)) == 0);
	sbpolicy_free(&sp);
	/* ...a pattern that denies or grants writes cannot be a mount. */
	CHECK(ut_decode("{\"permissions\":{\"type\":\"managed\",\"network\":\"restricted\","
			"\"file_system\":{\"type\":\"restricted\",\"entries\":[" ENTRY("read", "root") ","
			"{\"access\":\"deny\",\"path\":{\"type\":\"glob_pattern\",\"pattern\":\"/w/**/.env\"}}]}}}",
			NULL, &sp, msg, sizeof(msg)) == SBP_RESOLVE_UNENFORCEABLE);
	sbpolicy_free(&sp);
}

static void test_policy_context(void)
{
	struct sbpolicy sp;
	char msg[512];
	REQUIREF(ut_decode("{\"policyContext\":{\"cwd\":\"file:///pc\",\"workspaceRoots\":[\"file:///pr\"]},"
			   "\"userHomeDir\":\"file:///root\",\"permissions\":{\"type\":\"managed\",\"network\":\"restricted\","
			   "\"file_system\":{\"type\":\"restricted\",\"entries\":[" ENTRY("write", "project_roots") ","
			   ENTRY("read", "current_working_directory") "]}}}",
			   NULL, &sp, msg, sizeof(msg)) == 0, "%s", msg);
	CHECK(ut_at(&sp, "/pr/a") == SANDBOX_WRITE && ut_at(&sp, "/pc/a") == SANDBOX_READ);
	sbpolicy_free(&sp);
}

static void test_longest_path_wins(void)
{
	static const struct sandbox_rule rules[] = {
		{ "/a", SANDBOX_WRITE }, { "/a/b", SANDBOX_READ }, { "/a/b/c", SANDBOX_WRITE },
		{ "/a/b/c/d", SANDBOX_DENY }, { "/x", SANDBOX_READ }, { "/x", SANDBOX_WRITE },
		{ "/y", SANDBOX_DENY }, { "/y", SANDBOX_WRITE }, { "/", SANDBOX_READ },
	};
	struct sandbox_policy p = { .restrict_fs = true, .rules = rules,
				    .nrules = sizeof(rules) / sizeof(rules[0]) };
	CHECK(sandbox_access_of(&p, "/a/file") == SANDBOX_WRITE);
	CHECK(sandbox_access_of(&p, "/a/b") == SANDBOX_READ);
	CHECK(sandbox_access_of(&p, "/a/b/file") == SANDBOX_READ);
	CHECK(sandbox_access_of(&p, "/a/b/c/file") == SANDBOX_WRITE);
	CHECK(sandbox_access_of(&p, "/a/b/c/d/e") == SANDBOX_DENY);
	CHECK(sandbox_access_of(&p, "/a/bc") == SANDBOX_WRITE);
	CHECK(sandbox_access_of(&p, "/x/1") == SANDBOX_WRITE);	/* write beats read */
	CHECK(sandbox_access_of(&p, "/y/1") == SANDBOX_DENY);	/* deny beats write */
	CHECK(sandbox_access_of(&p, "/etc") == SANDBOX_READ);
	p.nrules = 8;	/* without "/" */
	CHECK(sandbox_access_of(&p, "/etc") == 0);
}

int main(int argc, char **argv)
{
	static const struct tap_case cases[] = {
		{ "absent and null: no sandbox", test_absent_and_null },
		{ "codex workspace-write resolves to its rules", test_workspace_write },
		{ "codex read-only: / read only", test_read_only },
		{ "disabled, external, unrestricted+enabled: nothing to confine", test_profiles_without_confinement },
		{ "every error text names its field", test_error_texts },
		{ "each kind, subpaths, URIs, unknown members ignored", test_kinds_and_paths },
		{ "globs: read under / only", test_globs },
		{ "cwd and workspaceRoots from policyContext", test_policy_context },
		{ "longest path wins; deny > write > read", test_longest_path_wins },
		{ NULL, NULL },
	};
	return tap_main(argc, argv, cases);
}
