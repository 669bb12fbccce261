/* unit_uri: proto/uri, the file: URI rules every path a client sends
 * follows (fs methods, sandbox policies, process/start's cwd,
 * environmentConfig/read), and the URIs the server answers with.
 *
 * Each rule with its result: the scheme in any case, the three authority
 * forms, percent-decoding (and what is not an escape), query and fragment,
 * "." / ".." / "//" normalisation; each failure with its code and exact
 * text, through uri_to_path (the fs texts) and uri_cwd_path (cwd's);
 * uri_from_path's encoding and its round trip; uri_hexval.
 */
#include "uri.h"
#include "tap.h"

#include <stdlib.h>
#include <string.h>

#include "jsonrpc.h"

/* uri_to_path(uri) is want. */
static int path_is(const char *uri, const char *want)
{
	int code = 0;
	char msg[512] = "";
	char *p = uri_to_path(uri, &code, msg, sizeof(msg));
	int ok = p && strcmp(p, want) == 0;
	if (!ok)
		tap_diag("%s -> %s (%s), want %s", uri, p ? p : "NULL", msg, want);
	free(p);
	return ok;
}

/* uri_to_path(uri) fails with want_code and want_msg. */
static int fails(const char *uri, int want_code, const char *want_msg)
{
	int code = 0;
	char msg[512] = "";
	char *p = uri_to_path(uri, &code, msg, sizeof(msg));
	int ok = !p && code == want_code && strcmp(msg, want_msg) == 0;
	if (!ok)
		tap_diag("%s -> %s, %d \"%s\"", uri, p ? p : "NULL", code, msg);
	free(p);
	return ok;
}

static int cwd_is(const char *cwd, const char *want)
{
	char msg[512] = "";
	char *p = uri_cwd_path(cwd, msg, sizeof(msg));
	int ok = p && strcmp(p, want) == 0;
	if (!ok)
		tap_diag("cwd %s -> %s (%s), want %s", cwd, p ? p : "NULL", msg, want);
	free(p);
	return ok;
}

static int cwd_fails(const char *cwd, const char *want_msg)
{
	char msg[512] = "";
	char *p = uri_cwd_path(cwd, msg, sizeof(msg));
	int ok = !p && strcmp(msg, want_msg) == 0;
	if (!ok)
		tap_diag("cwd %s -> %s, \"%s\"", cwd, p ? p : "NULL", msg);
	free(p);
	return ok;
}

static void test_authority_forms(void)
{
	CHECK(path_is("file:///tmp/x", "/tmp/x"));
	CHECK(path_is("file://localhost/tmp/x", "/tmp/x"));
	CHECK(path_is("file://LocalHost/tmp/x", "/tmp/x"));
	CHECK(path_is("file:/tmp/x", "/tmp/x"));
	CHECK(path_is("file:tmp/x", "/tmp/x"));
	CHECK(path_is("file://", "/"));
	CHECK(path_is("file://localhost", "/"));
	CHECK(path_is("file:", "/"));
	CHECK(path_is("file:///", "/"));
}

static void test_scheme_case(void)
{
	CHECK(path_is("FILE:///tmp", "/tmp"));
	CHECK(path_is("File:///tmp", "/tmp"));
	CHECK(path_is("fIlE:/tmp", "/tmp"));
}

static void test_percent(void)
{
	CHECK(path_is("file:///t%6Dp", "/tmp"));
	CHECK(path_is("file:///t%6dp", "/tmp"));
	CHECK(path_is("file:///a%20b", "/a b"));
	CHECK(path_is("file:///a%2Fb", "/a/b"));	/* decoded before normalising */
	CHECK(path_is("file:///%C3%A9", "/\xc3\xa9"));
	CHECK(path_is("file:///%ff", "/\xff"));
	/* Not an escape: kept as it is. */
	CHECK(path_is("file:///a%zzb", "/a%zzb"));
	CHECK(path_is("file:///a%4", "/a%4"));
	CHECK(path_is("file:///a%", "/a%"));
	CHECK(path_is("file:///a%4?x", "/a%4"));	/* the escape stops at the query */
	CHECK(path_is("file:///%2e%2E/etc", "/etc"));
}

static void test_query_fragment(void)
{
	CHECK(path_is("file:///tmp/x?y=1", "/tmp/x"));
	CHECK(path_is("file:///tmp/x#frag", "/tmp/x"));
	CHECK(path_is("file:///tmp/x?a#b", "/tmp/x"));
	CHECK(path_is("file://localhost?x", "/"));
	CHECK(path_is("file:///a%3Fb", "/a?b"));
}

static void test_normalise(void)
{
	CHECK(path_is("file:///a/./b", "/a/b"));
	CHECK(path_is("file:///a/../b", "/b"));
	CHECK(path_is("file:///../../a", "/a"));
	CHECK(path_is("file:///a//b///c/", "/a/b/c"));
	CHECK(path_is("file:///a/b/..", "/a"));
	CHECK(path_is("file:///a/b/.", "/a/b"));
	CHECK(path_is("file:///..", "/"));
	CHECK(path_is("file:///a/...", "/a/..."));
	CHECK(path_is("file:///a/.b/..c", "/a/.b/..c"));
	char p[] = "/x/../../y/./z//";
	uri_normalize(p);
	CHECK(strcmp(p, "/y/z") == 0);
	char root[] = "///";
	uri_normalize(root);
	CHECK(strcmp(root, "/") == 0);
}

static void test_errors(void)
{
	CHECK(fails("/tmp/x", RPC_INVALID_PARAMS, "invalid URI: relative URL without a base"));
	CHECK(fails("tmp/x", RPC_INVALID_PARAMS, "invalid URI: relative URL without a base"));
	CHECK(fails("", RPC_INVALID_PARAMS, "invalid URI: relative URL without a base"));
	CHECK(fails("1file:///x", RPC_INVALID_PARAMS, "invalid URI: relative URL without a base"));
	CHECK(fails("http://x/y", RPC_INVALID_PARAMS, "unsupported path URI scheme `http`"));
	CHECK(fails("HTTPS://x/y", RPC_INVALID_PARAMS, "unsupported path URI scheme `https`"));
	CHECK(fails("c:/x", RPC_INVALID_PARAMS, "unsupported path URI scheme `c`"));
	CHECK(fails("files:///x", RPC_INVALID_PARAMS, "unsupported path URI scheme `files`"));
	CHECK(fails("a+b.c-d:x", RPC_INVALID_PARAMS, "unsupported path URI scheme `a+b.c-d`"));
	char longs[200];
	memset(longs, 'q', 100);
	strcpy(longs + 100, ":x");
	char want[200];
	snprintf(want, sizeof(want), "unsupported path URI scheme `%.64s`", longs);
	CHECK(fails(longs, RPC_INVALID_PARAMS, want));	/* the scheme shown is cut at 64 */
	CHECK(fails("file://host/tmp/x", RPC_INVALID_REQUEST, "'file://host/tmp/x' is invalid on 'linux'"));
	CHECK(fails("file://localhost.x/a", RPC_INVALID_REQUEST,
		    "'file://localhost.x/a' is invalid on 'linux'"));
	CHECK(fails("file:///a%00b", RPC_INVALID_PARAMS, "invalid URI: path contains a NUL byte"));
	enum uri_error err;
	CHECK(!uri_file_path("file://h/", &err) && err == URI_REMOTE_HOST);
	CHECK(!uri_file_path("x:y", &err) && err == URI_SCHEME);
	CHECK(!uri_file_path("y", &err) && err == URI_RELATIVE);
	CHECK(!uri_file_path("file:/%00", &err) && err == URI_NUL);
}

static void test_cwd(void)
{
	/* A plain absolute path is taken as it is. */
	CHECK(cwd_is("/tmp", "/tmp"));
	CHECK(cwd_is("/tmp/../x//", "/tmp/../x//"));
	CHECK(cwd_is("/a%20b", "/a%20b"));
	CHECK(cwd_is("/a:b", "/a:b"));
	/* A file: URI, by the same rules as the fs methods. */
	CHECK(cwd_is("file:///tmp", "/tmp"));
	CHECK(cwd_is("FILE:///tmp", "/tmp"));
	CHECK(cwd_is("file:///t%6Dp", "/tmp"));
	CHECK(cwd_is("file://localhost/tmp", "/tmp"));
	CHECK(cwd_is("file://LOCALHOST/tmp", "/tmp"));
	CHECK(cwd_is("file:///tmp/./a/..?q#f", "/tmp"));
	/* cwd's own texts. */
	CHECK(cwd_fails("rel/dir", "cwd `rel/dir` is not an absolute path"));
	CHECK(cwd_fails("", "cwd `` is not an absolute path"));
	CHECK(cwd_fails("http://x/y", "cwd `http://x/y` is not an absolute path"));
	CHECK(cwd_fails("file:///a%00b", "cwd `file:///a%00b` is not an absolute path"));
	CHECK(cwd_fails("file://host/tmp",
			"cwd URI `file://host/tmp` is not valid on this exec-server host: only local file URIs are supported"));
}

static void test_from_path(void)
{
	size_t len;
	char *u = uri_from_path("/a b/%/é~-._", &len);
	REQUIRE(u);
	CHECKF(strcmp(u, "file:///a%20b/%25/%C3%A9~-._") == 0 && len == strlen(u), "%s", u);
	free(u);
	const char *paths[] = { "/", "/tmp", "/a?b#c", "/x%y", "/\x01\x7f\xff", "/a:b;c=d" };
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		u = uri_from_path(paths[i], &len);
		CHECK(u && path_is(u, paths[i]));
		free(u);
	}
}

static void test_hexval(void)
{
	const char *digits = "0123456789abcdef";
	for (int i = 0; i < 16; i++) {
		CHECK(uri_hexval(digits[i]) == i);
		CHECK(uri_hexval(digits[i] >= 'a' ? digits[i] - 'a' + 'A' : digits[i]) == i);
	}
	CHECK(uri_hexval('g') == -1 && uri_hexval('G') == -1 && uri_hexval('/') == -1);
	CHECK(uri_hexval(-1) == -1 && uri_hexval('\0') == -1 && uri_hexval((char)0xe9) == -1);
}

static const struct tap_case cases[] = {
	{ "authority_forms", test_authority_forms },
	{ "scheme_case", test_scheme_case },
	{ "percent", test_percent },
	{ "query_fragment", test_query_fragment },
	{ "normalise", test_normalise },
	{ "errors", test_errors },
	{ "cwd", test_cwd },
	{ "from_path", test_from_path },
	{ "hexval", test_hexval },
	{ NULL, NULL },
};

int main(int argc, char **argv)
{
	return tap_main(argc, argv, cases);
}
