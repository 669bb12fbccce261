/* unit_envpolicy: proto/envpolicy, the pure child-environment builder of
 * process/start's envPolicy: each inherit mode, the default excludes,
 * exclude/includeOnly glob patterns, set, the env overlay and its order,
 * the always-dropped names, and the decoder's -32602 texts.
 */
#include "envpolicy.h"
#include "tap.h"

#include <stdlib.h>
#include <string.h>

static char *server_env[] = {
	"PATH=/usr/bin:/bin", "HOME=/home/u", "TERM=xterm", "ZED=z1", "zed=z2", "Zed2=z3",
	"FOO_KEY=k", "foo_key=k2", "MY_SECRET=s", "A_TOKEN=t", "KEYBOARD=kb", "TOKENIZER=tz",
	"X_PASSWORD=p", "LANG=C.UTF-8", "CODEX_EXEC_SERVER_EXIT_ON_STDIN_CLOSE=1",
	"CODEX_EXEC_SERVER_NOISE_AUTH_TOKEN=n", "OPENAI_API_KEY=o", NULL,
};

/* The value of name in envp, or NULL. */
static const char *get(char **envp, const char *name)
{
	size_t n = strlen(name);
	for (char **p = envp; *p; p++)
		if (strncmp(*p, name, n) == 0 && (*p)[n] == '=')
			return *p + n + 1;
	return NULL;
}

static size_t count(char **envp)
{
	size_t n = 0;
	while (envp[n])
		n++;
	return n;
}

/* Build from a JSON policy text (NULL: no policy) and env text. */
static char **build(const char *policy, const char *env, size_t *n)
{
	json_t *params = policy ? json_loads(policy, 0, NULL) : json_null();
	json_t *e = env ? json_loads(env, 0, NULL) : NULL;
	json_t *wrap = json_object();
	json_object_set(wrap, "envPolicy", params);
	struct envpolicy p;
	bool present = false;
	struct pd_err err;
	char **out = NULL;
	if (envpolicy_decode(wrap, &present, &p, &err) == 0)
		out = envpolicy_build(policy ? &p : NULL, server_env, e, n);
	json_decref(wrap);
	json_decref(params);
	json_decref(e);
	return out;
}

#define POL(inherit, ide, excl, incl, set) \
	"{\"inherit\":\"" inherit "\",\"ignoreDefaultExcludes\":" ide ",\"exclude\":" excl \
	",\"includeOnly\":" incl ",\"set\":" set "}"

static void test_no_policy(void)
{
	size_t n;
	char **e = build(NULL, "{\"EXPLICIT\":\"1\",\"CODEX_EXEC_SERVER_EXIT_ON_STDIN_CLOSE\":\"1\"}", &n);
	REQUIRE(e);
	CHECK(n == 1 && count(e) == 1);
	CHECK(get(e, "EXPLICIT") && strcmp(get(e, "EXPLICIT"), "1") == 0);
	envpolicy_free(e);
}

static void test_inherit_none(void)
{
	size_t n;
	char **e = build(POL("none", "false", "[]", "[]", "{\"A\":\"1\"}"), "{\"B\":\"2\"}", &n);
	REQUIRE(e);
	CHECK(n == 2);
	CHECK(get(e, "A") && get(e, "B"));
	envpolicy_free(e);
}

static void test_inherit_core(void)
{
	size_t n;
	char **e = build(POL("core", "true", "[]", "[]", "{}"), "{}", &n);
	REQUIRE(e);
	CHECK(get(e, "PATH") && get(e, "HOME") && get(e, "LANG"));
	CHECK(!get(e, "TERM") && !get(e, "ZED"));
	CHECK(n == 3);
	envpolicy_free(e);
	e = build(POL("core", "false", "[]", "[\"PATH\"]", "{}"), "{}", &n);
	REQUIRE(e);
	CHECK(n == 1 && get(e, "PATH"));
	envpolicy_free(e);
}

static void test_inherit_all_default_excludes(void)
{
	size_t n;
	char **e = build(POL("all", "false", "[]", "[]", "{}"), "{}", &n);
	REQUIRE(e);
	CHECK(get(e, "PATH") && get(e, "TERM") && get(e, "ZED") && get(e, "X_PASSWORD"));
	CHECK(!get(e, "FOO_KEY") && !get(e, "foo_key") && !get(e, "MY_SECRET") &&
	      !get(e, "A_TOKEN") && !get(e, "KEYBOARD") && !get(e, "TOKENIZER") &&
	      !get(e, "OPENAI_API_KEY"));
	CHECK(!get(e, "CODEX_EXEC_SERVER_EXIT_ON_STDIN_CLOSE") &&
	      !get(e, "CODEX_EXEC_SERVER_NOISE_AUTH_TOKEN"));
	envpolicy_free(e);
	e = build(POL("all", "true", "[]", "[]", "{}"), "{}", &n);
	REQUIRE(e);
	CHECK(get(e, "FOO_KEY") && get(e, "OPENAI_API_KEY") && get(e, "TOKENIZER"));
	CHECK(!get(e, "CODEX_EXEC_SERVER_EXIT_ON_STDIN_CLOSE") &&
	      !get(e, "CODEX_EXEC_SERVER_NOISE_AUTH_TOKEN"));
	CHECK(n == 15);
	envpolicy_free(e);
}

static void test_patterns(void)
{
	size_t n;
	char **e = build(POL("all", "true", "[\"zed\"]", "[]", "{}"), "{}", &n);
	REQUIRE(e);
	CHECK(!get(e, "ZED") && !get(e, "zed") && get(e, "Zed2"));
	envpolicy_free(e);
	e = build(POL("all", "true", "[]", "[\"PATH\",\"z*\"]", "{}"), "{}", &n);
	REQUIRE(e);
	CHECK(n == 4 && get(e, "PATH") && get(e, "ZED") && get(e, "zed") && get(e, "Zed2"));
	envpolicy_free(e);
	e = build(POL("all", "true", "[\"ZED\"]", "[\"ZED\"]", "{}"), "{}", &n);
	REQUIRE(e);
	CHECK(n == 0);
	envpolicy_free(e);
	CHECK(envpolicy_glob("?ED", "ZED"));
	CHECK(envpolicy_glob("*ED", "zed"));
	CHECK(envpolicy_glob("**", "ANY"));
	CHECK(envpolicy_glob("*KEY*", "keyboard"));
	CHECK(!envpolicy_glob("ZE", "ZED"));
	CHECK(!envpolicy_glob("[Z]ED", "ZED"));
	CHECK(!envpolicy_glob("Z.*", "ZED"));
	CHECK(!envpolicy_glob("Z\\ED", "ZED"));
	CHECK(envpolicy_glob("a*b*c", "aXXbYYc") && !envpolicy_glob("a*b*c", "aXXbYY"));
}

static void test_set_and_overlay(void)
{
	size_t n;
	char **e = build(POL("all", "true", "[\"ZED\"]", "[]", "{\"ZED\":\"setval\"}"), "{}", &n);
	REQUIRE(e);
	CHECK(get(e, "ZED") && strcmp(get(e, "ZED"), "setval") == 0);
	envpolicy_free(e);
	/* set survives the default excludes */
	e = build(POL("none", "false", "[]", "[]", "{\"MY_TOKEN\":\"x\"}"), "{}", &n);
	REQUIRE(e);
	CHECK(n == 1 && get(e, "MY_TOKEN"));
	envpolicy_free(e);
	/* includeOnly filters set */
	e = build(POL("all", "true", "[]", "[\"ZED\"]", "{\"NEWVAR\":\"n\"}"), "{}", &n);
	REQUIRE(e);
	CHECK(!get(e, "NEWVAR") && get(e, "ZED") && get(e, "zed") && n == 2);
	envpolicy_free(e);
	/* env beats set, exclude and includeOnly */
	e = build(POL("all", "true", "[\"ZED\"]", "[\"PATH\"]", "{\"ZED\":\"setval\"}"),
		  "{\"ZED\":\"envval\",\"PATH\":\"/p\"}", &n);
	REQUIRE(e);
	CHECK(n == 2);
	CHECK(get(e, "ZED") && strcmp(get(e, "ZED"), "envval") == 0);
	CHECK(get(e, "PATH") && strcmp(get(e, "PATH"), "/p") == 0);
	envpolicy_free(e);
	/* always dropped from set and env too */
	e = build(POL("none", "true", "[]", "[]", "{\"CODEX_EXEC_SERVER_NOISE_AUTH_TOKEN\":\"1\"}"),
		  "{\"CODEX_EXEC_SERVER_EXIT_ON_STDIN_CLOSE\":\"1\"}", &n);
	REQUIRE(e);
	CHECK(n == 0);
	envpolicy_free(e);
}

static const char *decode_err(const char *policy_json)
{
	static struct pd_err err;
	json_t *params = json_loads(policy_json, 0, NULL);
	struct envpolicy p;
	bool present;
	int r = envpolicy_decode(params, &present, &p, &err);
	json_decref(params);
	return r < 0 ? err.msg : NULL;
}

static void test_decode(void)
{
	json_t *params = json_loads("{\"envPolicy\":null}", 0, NULL);
	struct envpolicy p;
	bool present = true;
	struct pd_err err;
	CHECK(envpolicy_decode(params, &present, &p, &err) == 0 && !present);
	json_decref(params);
	const char *m = decode_err("{\"envPolicy\":{\"inherit\":\"bogus\",\"ignoreDefaultExcludes\":true,"
				   "\"exclude\":[],\"includeOnly\":[],\"set\":{}}}");
	CHECKF(m && strcmp(m, "unknown variant `bogus`, expected one of `core`, `all`, `none`") == 0,
	       "%s", m ? m : "(ok)");
	m = decode_err("{\"envPolicy\":{\"inherit\":\"all\",\"ignoreDefaultExcludes\":true,"
		       "\"exclude\":\"ZED\",\"includeOnly\":[],\"set\":{}}}");
	CHECKF(m && strstr(m, "invalid type: string \"ZED\", expected a sequence"), "%s", m ? m : "(ok)");
	m = decode_err("{\"envPolicy\":{\"inherit\":\"all\",\"exclude\":[],\"includeOnly\":[],\"set\":{}}}");
	CHECKF(m && strstr(m, "missing field `ignoreDefaultExcludes`"), "%s", m ? m : "(ok)");
	m = decode_err("{\"envPolicy\":{\"inherit\":\"all\",\"ignoreDefaultExcludes\":true,"
		       "\"exclude\":[],\"includeOnly\":[]}}");
	CHECKF(m && strstr(m, "missing field `set`"), "%s", m ? m : "(ok)");
}

static const struct tap_case cases[] = {
	{ "no_policy", test_no_policy },
	{ "inherit_none", test_inherit_none },
	{ "inherit_core", test_inherit_core },
	{ "inherit_all_default_excludes", test_inherit_all_default_excludes },
	{ "patterns", test_patterns },
	{ "set_and_overlay", test_set_and_overlay },
	{ "decode", test_decode },
	{ NULL, NULL },
};

int main(int argc, char **argv)
{
	return tap_main(argc, argv, cases);
}
