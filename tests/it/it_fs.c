/* it_fs: the fs methods, fs/watchMissing and process/start's envPolicy
 * against the real ringexecd.
 *
 * Covers the handshake gate of the filesystem family, file: URI rules,
 * each method's happy path and its error codes (-32004 for a missing path),
 * a multi-MiB fs/readFile round trip with fs/writeFile, the streaming
 * handles, fs/missingChanged when a watched path appears, and the child
 * environment that envPolicy inherit none/all/core + set + env gives.
 * Tree work runs in slices: a 100,000-entry fs/walk and fs/remove leave the
 * loop free (another client's requests are answered while they run), a
 * copy that takes many slices gives the same tree, one connection's fs
 * requests still take effect in the order sent, and a walk whose
 * connection goes is dropped with its fds.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "expect.h"
#include "procfs.h"
#include "rpc.h"
#include "server.h"
#include "tap.h"
#include "wsc.h"

#define T_MS 5000

static struct server srv;
static bool srv_started;
static char dir[256];		/* a fresh directory per run */
static char tree_dir[256];	/* the same for the big trees: on tmpfs where there is one */

static struct rpc *open_conn(void)
{
	return srv_started ? rpc_open(srv.url) : NULL;
}

/* "file://" + dir + "/" + rel, in a rotating buffer. */
static const char *uri(const char *rel)
{
	static char bufs[8][600];
	static int k;
	char *b = bufs[k++ % 8];
	snprintf(b, 600, "file://%s%s%s", dir, rel[0] ? "/" : "", rel);
	return b;
}

static const char *pth(const char *rel)
{
	static char bufs[8][600];
	static int k;
	char *b = bufs[k++ % 8];
	snprintf(b, 600, "%s/%s", dir, rel);
	return b;
}

/* uri() and pth() under tree_dir. */
static const char *turi(const char *rel)
{
	static char bufs[8][600];
	static int k;
	char *b = bufs[k++ % 8];
	snprintf(b, 600, "file://%s/%s", tree_dir, rel);
	return b;
}

static const char *tpth(const char *rel)
{
	static char bufs[8][600];
	static int k;
	char *b = bufs[k++ % 8];
	snprintf(b, 600, "%s/%s", tree_dir, rel);
	return b;
}

static json_t *call(struct rpc *r, const char *method, json_t *params)
{
	return rpc_call(r, method, params, T_MS);
}

/* a equals want (want is stolen). */
static bool eq(const json_t *a, json_t *want)
{
	bool r = a && json_equal(a, want);
	json_decref(want);
	return r;
}

static json_t *res(const json_t *resp)
{
	return json_object_get(resp, "result");
}

static void write_file(const char *rel, const char *text)
{
	FILE *f = fopen(pth(rel), "w");
	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

/* ---- cases ---- */

static void test_gate(void)
{
	struct wsc *w;
	REQUIRE(srv_started && wsc_connect(&w, srv.url, NULL, T_MS) == 0);
	struct rpc *r = rpc_new(w);
	json_t *resp = call(r, "fs/getMetadata", json_pack("{s:s}", "path", uri("")));
	CHECK_ERR(resp, -32600, "client must call initialize before using filesystem methods");
	json_decref(resp);
	/* decode errors win over the gate */
	resp = call(r, "fs/getMetadata", json_pack("{}"));
	CHECK_ERR(resp, -32602, "missing field `path`");
	json_decref(resp);
	resp = call(r, "fs/unwatchMissing", json_pack("{}"));
	CHECK(err_code(resp) == -32601);
	json_decref(resp);
	rpc_free(r);
}

static void test_paths(void)
{
	struct rpc *r = open_conn();
	REQUIRE(r);
	json_t *resp = call(r, "fs/getMetadata", json_pack("{s:s}", "path", pth("x")));
	CHECK_ERR(resp, -32602, "invalid URI: relative URL without a base");
	json_decref(resp);
	resp = call(r, "fs/getMetadata", json_pack("{s:s}", "path", "http://x/y"));
	CHECK_ERR(resp, -32602, "unsupported path URI scheme `http`");
	json_decref(resp);
	resp = call(r, "fs/getMetadata", json_pack("{s:s}", "path", "file://host/tmp/x"));
	CHECK_ERR(resp, -32600, "'file://host/tmp/x' is invalid on 'linux'");
	json_decref(resp);
	resp = call(r, "fs/readFile", json_pack("{s:s, s:n}", "path", uri("missing.txt"), "sandbox"));
	CHECK_ERR(resp, -32004, "No such file or directory (os error 2)");
	json_decref(resp);
	write_file("p.txt", "pp");
	/* percent-escapes and .. */
	resp = call(r, "fs/readFile", json_pack("{s:s}", "path", uri("sub/../p%2Etxt")));
	CHECK_RESULT(resp, json_pack("{s:s}", "dataBase64", "cHA="));
	json_decref(resp);
	rpc_free(r);
}

static void test_metadata(void)
{
	struct rpc *r = open_conn();
	REQUIRE(r);
	write_file("m.txt", "hello world\n");
	unlink(pth("mlink"));
	CHECK(symlink("m.txt", pth("mlink")) == 0);
	json_t *resp = call(r, "fs/getMetadata", json_pack("{s:s}", "path", uri("m.txt")));
	json_t *m = res(resp);
	CHECKF(m && json_is_true(json_object_get(m, "isFile")) &&
	       json_is_false(json_object_get(m, "isDirectory")) &&
	       json_is_false(json_object_get(m, "isSymlink")) &&
	       json_integer_value(json_object_get(m, "size")) == 12 &&
	       json_integer_value(json_object_get(m, "createdAtMs")) == 0 &&
	       json_integer_value(json_object_get(m, "modifiedAtMs")) > 0, "%s", js(resp));
	json_decref(resp);
	resp = call(r, "fs/getMetadata", json_pack("{s:s}", "path", uri("mlink")));
	m = res(resp);
	CHECKF(m && json_is_true(json_object_get(m, "isFile")) &&
	       json_is_true(json_object_get(m, "isSymlink")) &&
	       json_integer_value(json_object_get(m, "size")) == 12, "%s", js(resp));
	json_decref(resp);
	resp = call(r, "fs/getMetadata", json_pack("{s:s, s:b}", "path", uri("mlink"), "followSymlinks", 0));
	CHECK_ERR(resp, -32600, "path contains a symbolic link");
	json_decref(resp);
	resp = call(r, "fs/getMetadata", json_pack("{s:s}", "path", uri("")));
	m = res(resp);
	CHECKF(m && json_is_true(json_object_get(m, "isDirectory")), "%s", js(resp));
	json_decref(resp);
	resp = call(r, "fs/getMetadata", json_pack("{s:s}", "path", uri("nope")));
	CHECK_ERR(resp, -32004, "No such file or directory (os error 2)");
	json_decref(resp);
	resp = call(r, "fs/readFile", json_pack("{s:s}", "path", uri("")));
	CHECK(err_code(resp) == -32600 && strstr(err_msg(resp), "is not a file"));
	json_decref(resp);
	resp = call(r, "fs/readFile", json_pack("{s:s}", "path", uri("m.txt/x")));
	CHECK_ERR(resp, -32603, "Not a directory (os error 20)");
	json_decref(resp);
	resp = call(r, "fs/readFile", json_pack("{s:s, s:b}", "path", uri("mlink"), "followSymlinks", 0));
	CHECK_ERR(resp, -32603, "Symbolic link loop (os error 40)");
	json_decref(resp);
	rpc_free(r);
}

static uint64_t fnv(const unsigned char *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ull;
	return h;
}

static void test_big_roundtrip(void)
{
	struct rpc *r = open_conn();
	REQUIRE(r);
	size_t n = 5u << 20 | 12345;
	unsigned char *data = malloc(n);
	REQUIRE(data);
	uint64_t x = 88172645463325252ull;
	for (size_t i = 0; i < n; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		data[i] = (unsigned char)x;
	}
	char *b64 = rpc_b64(data, n);
	json_t *resp = call(r, "fs/writeFile", json_pack("{s:s, s:s}", "path", uri("big.bin"),
							 "dataBase64", b64));
	CHECK_RESULT(resp, json_object());
	json_decref(resp);
	free(b64);
	struct stat st;
	CHECK(stat(pth("big.bin"), &st) == 0 && (size_t)st.st_size == n);
	resp = call(r, "fs/readFile", json_pack("{s:s}", "path", uri("big.bin")));
	const char *got = json_string_value(json_object_get(res(resp), "dataBase64"));
	size_t glen = 0;
	unsigned char *back = got ? rpc_unb64(got, &glen) : NULL;
	CHECKF(back && glen == n && fnv(back, glen) == fnv(data, n), "len %zu", glen);
	free(back);
	json_decref(resp);
	free(data);
	/* writeFile errors */
	resp = call(r, "fs/writeFile", json_pack("{s:s, s:s}", "path", uri("nodir/x"), "dataBase64", ""));
	CHECK(err_code(resp) == -32004);
	json_decref(resp);
	resp = call(r, "fs/writeFile", json_pack("{s:s, s:s}", "path", uri(""), "dataBase64", ""));
	CHECK_ERR(resp, -32603, "Is a directory (os error 21)");
	json_decref(resp);
	resp = call(r, "fs/writeFile", json_pack("{s:s, s:s}", "path", uri("w.txt"), "dataBase64", "!!!!"));
	CHECK_ERR(resp, -32600, "fs/writeFile requires valid base64 dataBase64: Invalid symbol 33, offset 0.");
	json_decref(resp);
	rpc_free(r);
}

static void test_directories(void)
{
	struct rpc *r = open_conn();
	REQUIRE(r);
	json_t *resp = call(r, "fs/createDirectory", json_pack("{s:s}", "path", uri("d/e/f")));
	CHECK_RESULT(resp, json_object());
	json_decref(resp);
	resp = call(r, "fs/createDirectory", json_pack("{s:s}", "path", uri("d/e/f")));
	CHECK_RESULT(resp, json_object());
	json_decref(resp);
	resp = call(r, "fs/createDirectory", json_pack("{s:s, s:b}", "path", uri("d/e/f"), "recursive", 0));
	CHECK_ERR(resp, -32603, "File exists (os error 17)");
	json_decref(resp);
	resp = call(r, "fs/createDirectory", json_pack("{s:s, s:b}", "path", uri("q/r"), "recursive", 0));
	CHECK(err_code(resp) == -32004);
	json_decref(resp);
	write_file("d/a.txt", "A");
	resp = call(r, "fs/readDirectory", json_pack("{s:s}", "path", uri("d")));
	json_t *ents = json_object_get(res(resp), "entries");
	bool saw_a = false, saw_e = false;
	size_t i;
	json_t *ent;
	json_array_foreach(ents, i, ent) {
		const char *fn = json_string_value(json_object_get(ent, "fileName"));
		if (fn && !strcmp(fn, "a.txt"))
			saw_a = json_is_true(json_object_get(ent, "isFile"));
		if (fn && !strcmp(fn, "e"))
			saw_e = json_is_true(json_object_get(ent, "isDirectory"));
	}
	CHECKF(json_array_size(ents) == 2 && saw_a && saw_e, "%s", js(resp));
	json_decref(resp);
	resp = call(r, "fs/readDirectory", json_pack("{s:s}", "path", uri("d/a.txt")));
	CHECK_ERR(resp, -32603, "Not a directory (os error 20)");
	json_decref(resp);
	resp = call(r, "fs/readDirectory", json_pack("{s:s}", "path", uri("zz")));
	CHECK(err_code(resp) == -32004);
	json_decref(resp);

	/* walk: breadth-first, sorted per level */
	resp = call(r, "fs/walk", json_pack("{s:s, s:{s:i, s:i, s:i, s:b}}", "path", uri("d"), "options",
					    "maxDepth", 5, "maxDirectories", 100, "maxEntries", 100,
					    "followDirectorySymlinks", 0));
	CHECK_RESULT(resp, json_pack("{s:[{s:s,s:s},{s:s,s:s},{s:s,s:s}], s:[], s:b}", "entries",
				     "path", uri("d/a.txt"), "kind", "file", "path", uri("d/e"), "kind",
				     "directory", "path", uri("d/e/f"), "kind", "directory", "errors",
				     "truncated", 0));
	json_decref(resp);
	resp = call(r, "fs/walk", json_pack("{s:s, s:{s:i, s:i, s:i, s:b}}", "path", uri("d"), "options",
					    "maxDepth", 0, "maxDirectories", 100, "maxEntries", 1,
					    "followDirectorySymlinks", 0));
	CHECK_RESULT(resp, json_pack("{s:[{s:s,s:s}], s:[], s:b}", "entries", "path", uri("d/a.txt"),
				     "kind", "file", "errors", "truncated", 1));
	json_decref(resp);
	resp = call(r, "fs/walk", json_pack("{s:s, s:{s:i, s:i, s:i, s:b}}", "path", uri("d"), "options",
					    "maxDepth", 0, "maxDirectories", 0, "maxEntries", 1,
					    "followDirectorySymlinks", 0));
	CHECK_ERR(resp, -32600, "filesystem walk limits must be greater than zero");
	json_decref(resp);
	resp = call(r, "fs/walk", json_pack("{s:s, s:{s:i, s:i, s:i, s:b}}", "path", uri("nowhere"),
					    "options", "maxDepth", 0, "maxDirectories", 1, "maxEntries", 1,
					    "followDirectorySymlinks", 0));
	CHECK(err_code(resp) == -32004);
	json_decref(resp);

	/* canonicalize */
	unlink(pth("dlink"));
	CHECK(symlink("d/a.txt", pth("dlink")) == 0);
	resp = call(r, "fs/canonicalize", json_pack("{s:s}", "path", uri("dlink")));
	char want[600];
	char *rd = realpath(pth("d/a.txt"), NULL);
	snprintf(want, sizeof(want), "file://%s", rd ? rd : "?");
	free(rd);
	CHECK_RESULT(resp, json_pack("{s:s}", "path", want));
	json_decref(resp);
	resp = call(r, "fs/canonicalize", json_pack("{s:s}", "path", uri("nope")));
	CHECK(err_code(resp) == -32004);
	json_decref(resp);

	/* copy */
	resp = call(r, "fs/copy", json_pack("{s:s, s:s}", "sourcePath", uri("d"), "destinationPath", uri("d2")));
	CHECK_ERR(resp, -32602, "missing field `recursive`");
	json_decref(resp);
	resp = call(r, "fs/copy", json_pack("{s:s, s:s, s:b}", "sourcePath", uri("d"), "destinationPath",
					    uri("d2"), "recursive", 0));
	CHECK_ERR(resp, -32600, "fs/copy requires recursive: true when sourcePath is a directory");
	json_decref(resp);
	resp = call(r, "fs/copy", json_pack("{s:s, s:s, s:b}", "sourcePath", uri("d"), "destinationPath",
					    uri("d/e/in"), "recursive", 1));
	CHECK_ERR(resp, -32600, "fs/copy cannot copy a directory to itself or one of its descendants");
	json_decref(resp);
	resp = call(r, "fs/copy", json_pack("{s:s, s:s, s:b}", "sourcePath", uri("d"), "destinationPath",
					    uri("d2"), "recursive", 1));
	CHECK_RESULT(resp, json_object());
	json_decref(resp);
	struct stat st;
	CHECK(stat(pth("d2/a.txt"), &st) == 0 && st.st_size == 1 && stat(pth("d2/e/f"), &st) == 0);
	resp = call(r, "fs/copy", json_pack("{s:s, s:s, s:b}", "sourcePath", uri("nope"), "destinationPath",
					    uri("x"), "recursive", 0));
	CHECK(err_code(resp) == -32004);
	json_decref(resp);
	resp = call(r, "fs/copy", json_pack("{s:s, s:s, s:b}", "sourcePath", uri("d/a.txt"),
					    "destinationPath", uri("d2/e"), "recursive", 0));
	CHECK_ERR(resp, -32603, "Is a directory (os error 21)");
	json_decref(resp);

	/* remove */
	resp = call(r, "fs/remove", json_pack("{s:s, s:b}", "path", uri("d2"), "recursive", 0));
	CHECK_ERR(resp, -32603, "Directory not empty (os error 39)");
	json_decref(resp);
	resp = call(r, "fs/remove", json_pack("{s:s}", "path", uri("d2")));
	CHECK_RESULT(resp, json_object());
	json_decref(resp);
	CHECK(lstat(pth("d2"), &st) < 0);
	resp = call(r, "fs/remove", json_pack("{s:s}", "path", uri("d2")));
	CHECK_RESULT(resp, json_object());
	json_decref(resp);
	resp = call(r, "fs/remove", json_pack("{s:s, s:b}", "path", uri("d2"), "force", 0));
	CHECK(err_code(resp) == -32004);
	json_decref(resp);
	rpc_free(r);
}

static void test_streaming(void)
{
	struct rpc *r = open_conn();
	REQUIRE(r);
	write_file("s.txt", "hello world\n");
	json_t *resp = call(r, "fs/open", json_pack("{s:s, s:s}", "handleId", "h4", "path", uri("s.txt")));
	CHECK_RESULT(resp, json_pack("{s:s}", "handleId", "h4"));
	json_decref(resp);
	resp = call(r, "fs/open", json_pack("{s:s, s:s}", "handleId", "h4", "path", uri("s.txt")));
	CHECK_ERR(resp, -32600, "file handle `h4` already exists");
	json_decref(resp);
	resp = call(r, "fs/readBlock", json_pack("{s:s, s:i, s:i}", "handleId", "h4", "offset", 6, "len", 100));
	CHECK_RESULT(resp, json_pack("{s:s, s:b}", "chunk", "d29ybGQK", "eof", 1));
	json_decref(resp);
	resp = call(r, "fs/readBlock", json_pack("{s:s, s:i, s:i}", "handleId", "h4", "offset", 0, "len", 5));
	CHECK_RESULT(resp, json_pack("{s:s, s:b}", "chunk", "aGVsbG8=", "eof", 0));
	json_decref(resp);
	resp = call(r, "fs/readBlock", json_pack("{s:s, s:i, s:i}", "handleId", "h4", "offset", 100, "len", 5));
	CHECK_RESULT(resp, json_pack("{s:s, s:b}", "chunk", "", "eof", 1));
	json_decref(resp);
	resp = call(r, "fs/readBlock", json_pack("{s:s, s:i, s:i}", "handleId", "h4", "offset", 0, "len", 0));
	CHECK_ERR(resp, -32600, "file read block length must be between 1 and 1048576");
	json_decref(resp);
	resp = call(r, "fs/readBlock", json_pack("{s:s, s:i, s:i}", "handleId", "nope", "offset", 0, "len", 1));
	CHECK_ERR(resp, -32004, "unknown file handle `nope`");
	json_decref(resp);
	resp = call(r, "fs/writeBlock", json_pack("{s:s, s:i, s:s}", "handleId", "h4", "offset", 0, "chunk", "eA=="));
	CHECK_ERR(resp, -32603, "Bad file descriptor (os error 9)");
	json_decref(resp);
	resp = call(r, "fs/open", json_pack("{s:s, s:s, s:s}", "handleId", "w1", "path", uri("o.txt"), "mode", "replace"));
	CHECK_RESULT(resp, json_pack("{s:s}", "handleId", "w1"));
	json_decref(resp);
	resp = call(r, "fs/writeBlock", json_pack("{s:s, s:i, s:s}", "handleId", "w1", "offset", 3, "chunk", "YWJj"));
	CHECK_RESULT(resp, json_object());
	json_decref(resp);
	resp = call(r, "fs/writeBlock", json_pack("{s:s, s:i, s:s}", "handleId", "w1", "offset", 0, "chunk", "!!!!"));
	CHECK_ERR(resp, -32602, "Invalid symbol 33, offset 0.");
	json_decref(resp);
	struct stat st;
	CHECK(stat(pth("o.txt"), &st) == 0 && st.st_size == 6);	/* visible before close */
	resp = call(r, "fs/readBlock", json_pack("{s:s, s:i, s:i}", "handleId", "w1", "offset", 0, "len", 1));
	CHECK_ERR(resp, -32603, "Bad file descriptor (os error 9)");
	json_decref(resp);
	resp = call(r, "fs/open", json_pack("{s:s, s:s, s:s}", "handleId", "x", "path", uri("o.txt"), "mode", "write"));
	CHECK_ERR(resp, -32602, "unknown variant `write`, expected `read` or `replace`");
	json_decref(resp);
	resp = call(r, "fs/open", json_pack("{s:s, s:s}", "handleId", "x", "path", uri("missing")));
	CHECK(err_code(resp) == -32004);
	json_decref(resp);
	resp = call(r, "fs/open", json_pack("{s:s, s:s}", "handleId", "x", "path", uri("")));
	CHECK(err_code(resp) == -32600 && strstr(err_msg(resp), "is not a file"));
	json_decref(resp);
	const char *ids[] = { "h4", "w1", "h4", "never" };
	for (size_t i = 0; i < 4; i++) {
		resp = call(r, "fs/close", json_pack("{s:s}", "handleId", ids[i]));
		CHECK_RESULT(resp, json_object());
		json_decref(resp);
	}
	resp = call(r, "fs/readBlock", json_pack("{s:s, s:i, s:i}", "handleId", "h4", "offset", 0, "len", 1));
	CHECK(err_code(resp) == -32004);
	json_decref(resp);
	rpc_free(r);
}

static void test_watch_missing(void)
{
	struct rpc *r = open_conn();
	REQUIRE(r);
	json_t *resp = call(r, "fs/watchMissing", json_pack("{s:s, s:[s], s:s}", "watchId", "s", "missing",
							    uri("w"), "present", uri("")));
	CHECK(err_code(resp) == -32602);
	json_decref(resp);
	resp = call(r, "fs/watchMissing", json_pack("{s:i, s:[s], s:s}", "watchId", 1, "missing",
						    uri("wm/.agents/skills"), "present", uri("")));
	CHECK_RESULT(resp, json_pack("{s:b}", "watching", 1));
	json_decref(resp);
	/* reused id, empty list, existing path, missing present: all false */
	resp = call(r, "fs/watchMissing", json_pack("{s:i, s:[s]}", "watchId", 1, "missing", uri("zz1")));
	CHECK_RESULT(resp, json_pack("{s:b}", "watching", 0));
	json_decref(resp);
	resp = call(r, "fs/watchMissing", json_pack("{s:i, s:[]}", "watchId", 2, "missing"));
	CHECK_RESULT(resp, json_pack("{s:b}", "watching", 0));
	json_decref(resp);
	resp = call(r, "fs/watchMissing", json_pack("{s:i, s:[s]}", "watchId", 3, "missing", uri("")));
	CHECK_RESULT(resp, json_pack("{s:b}", "watching", 0));
	json_decref(resp);
	resp = call(r, "fs/watchMissing", json_pack("{s:i, s:[s], s:s}", "watchId", 4, "missing", uri("zz"),
						    "present", uri("notthere")));
	CHECK_RESULT(resp, json_pack("{s:b}", "watching", 0));
	json_decref(resp);
	/* a direct missing child, watched on a second id */
	resp = call(r, "fs/watchMissing", json_pack("{s:i, s:[s]}", "watchId", 5, "missing", uri("direct")));
	CHECK_RESULT(resp, json_pack("{s:b}", "watching", 1));
	json_decref(resp);

	char cmd[800];
	snprintf(cmd, sizeof(cmd), "mkdir -p '%s'", pth("wm/.agents/skills"));
	CHECK(system(cmd) == 0);
	json_t *n = rpc_wait_notification(r, "fs/missingChanged", NULL, T_MS);
	CHECKF(n && eq(json_object_get(n, "params"), json_pack("{s:i}", "watchId", 1)), "%s", js(n));
	json_decref(n);
	write_file("direct", "x");
	n = rpc_wait_notification(r, "fs/missingChanged", NULL, T_MS);
	CHECKF(n && json_integer_value(json_object_get(json_object_get(n, "params"), "watchId")) == 5,
	       "%s", js(n));
	json_decref(n);
	rpc_free(r);
}

/* ---- tree work in slices ---- */

#define BIG_DIRS 100
#define BIG_FILES 1000		/* per directory: 100,000 files, 100,100 entries */

/* rel/dNN/fNNNN for nd directories of nf empty files each. */
static bool make_tree(const char *rel, int nd, int nf)
{
	if (mkdir(tpth(rel), 0755) < 0 && errno != EEXIST)
		return false;
	for (int d = 0; d < nd; d++) {
		char sub[64];
		snprintf(sub, sizeof(sub), "%s/d%02d", rel, d);
		if (mkdir(tpth(sub), 0755) < 0 && errno != EEXIST)
			return false;
		int dfd = open(tpth(sub), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd < 0)
			return false;
		for (int f = 0; f < nf; f++) {
			char name[16];
			snprintf(name, sizeof(name), "f%04d", f);
			int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
			if (fd < 0) {
				close(dfd);
				return false;
			}
			close(fd);
		}
		close(dfd);
	}
	return true;
}

/* process/list round trips on b until a's socket has data (the reply to
 * the long request a sent: nothing else is sent to a). Returns how many
 * were answered meanwhile, or -1 when one was not; the slowest and the
 * median round trip are printed (figures, not checked). */
static int cmp_i64(const void *x, const void *y)
{
	int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;
	return a < b ? -1 : a > b;
}

static int round_trips_while(struct rpc *a, struct rpc *b, const char *what)
{
	struct pollfd pfd = { .fd = wsc_fd(rpc_wsc(a)), .events = POLLIN };
	static int64_t rtt[100000];
	int n = 0;
	for (int64_t deadline = wsc_now_ms() + 60000; wsc_now_ms() < deadline && n < 100000;) {
		int64_t t0 = wsc_now_us();
		json_t *resp = call(b, "process/list", json_object());
		bool ok = res(resp) != NULL;
		json_decref(resp);
		if (!ok)
			return -1;
		rtt[n++] = wsc_now_us() - t0;
		if (poll(&pfd, 1, 0) > 0)
			break;
	}
	qsort(rtt, (size_t)n, sizeof(rtt[0]), cmp_i64);
	if (n > 0)
		tap_diag("%s: %d process/list round trips meanwhile, median %lld us, slowest %lld us",
			 what, n, (long long)rtt[n / 2], (long long)rtt[n - 1]);
	return n;
}

static const char *entry_path(const json_t *entries, size_t i)
{
	return json_string_value(json_object_get(json_array_get(entries, i), "path"));
}

/* While one connection walks (then removes) a 100,000-entry tree, another
 * is answered: many round trips complete before the long reply comes.
 * Done in one go (as before the slices) the first round trip would wait
 * for the whole walk and the count would be 1. */
static void test_walk_leaves_loop_free(void)
{
	struct rpc *a = open_conn(), *b = open_conn();
	REQUIRE(a && b);
	REQUIRE(make_tree("big", BIG_DIRS, BIG_FILES));
	int64_t wid = rpc_send(a, "fs/walk",
			       json_pack("{s:s, s:{s:i, s:i, s:i, s:b}}", "path", turi("big"), "options",
					 "maxDepth", 5, "maxDirectories", 1000, "maxEntries", 200000,
					 "followDirectorySymlinks", 0));
	REQUIRE(wid > 0);
	int n = round_trips_while(a, b, "walk of 100,100 entries");
	json_t *resp = rpc_wait_response(a, wid, 120000);
	json_t *entries = json_object_get(res(resp), "entries");
	CHECKF(n >= 5, "only %d round trips answered during the walk", n);
	CHECKF(json_array_size(entries) == BIG_DIRS + BIG_DIRS * BIG_FILES, "%zu entries",
	       json_array_size(entries));
	CHECK(json_is_false(json_object_get(res(resp), "truncated")));
	CHECK(json_array_size(json_object_get(res(resp), "errors")) == 0);
	/* Breadth-first, each directory sorted: the directories, then their files. */
	CHECK(str_is(json_object_get(json_array_get(entries, 0), "kind"), "directory"));
	CHECK(entry_path(entries, 0) && !strcmp(entry_path(entries, 0), turi("big/d00")));
	CHECK(entry_path(entries, 99) && !strcmp(entry_path(entries, 99), turi("big/d99")));
	CHECK(entry_path(entries, 100) && !strcmp(entry_path(entries, 100), turi("big/d00/f0000")));
	size_t last = json_array_size(entries) - 1;
	CHECK(entry_path(entries, last) && !strcmp(entry_path(entries, last), turi("big/d99/f0999")));
	CHECK(str_is(json_object_get(json_array_get(entries, last), "kind"), "file"));
	json_decref(resp);

	/* The same for its removal, which cleans up. */
	int64_t rid = rpc_send(a, "fs/remove", json_pack("{s:s}", "path", turi("big")));
	REQUIRE(rid > 0);
	n = round_trips_while(a, b, "remove of the same");
	resp = rpc_wait_response(a, rid, 120000);
	CHECK_RESULT(resp, json_object());
	json_decref(resp);
	CHECKF(n >= 5, "only %d round trips answered during the remove", n);
	struct stat st;
	CHECK(lstat(tpth("big"), &st) < 0 && errno == ENOENT);
	rpc_free(a);
	rpc_free(b);
}

static bool same_file(const char *x, const char *y)
{
	FILE *a = fopen(x, "rb"), *b = fopen(y, "rb");
	bool same = a && b;
	while (same) {
		int ca = fgetc(a), cb = fgetc(b);
		same = ca == cb;
		if (ca == EOF)
			break;
	}
	if (a)
		fclose(a);
	if (b)
		fclose(b);
	return same;
}

/* A copy of many entries and a file of many slices is the same tree. */
static void test_copy_in_slices(void)
{
	struct rpc *r = open_conn();
	REQUIRE(r);
	REQUIRE(make_tree("cs", 3, 700));
	FILE *f = fopen(tpth("cs/d01/big.bin"), "wb");
	REQUIRE(f);
	uint64_t x = 88172645463325252ull;
	for (size_t i = 0; i < (9u << 20) + 77; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		fputc((int)(x & 0xff), f);
	}
	fclose(f);
	CHECK(symlink("d00/f0001", tpth("cs/link")) == 0);
	json_t *resp = call(r, "fs/copy", json_pack("{s:s, s:s, s:b}", "sourcePath", turi("cs"),
						    "destinationPath", turi("cs2"), "recursive", 1));
	CHECK_RESULT(resp, json_object());
	json_decref(resp);
	int missing = 0;
	for (int d = 0; d < 3; d++)
		for (int i = 0; i < 700; i++) {
			char rel[64];
			struct stat st;
			snprintf(rel, sizeof(rel), "cs2/d%02d/f%04d", d, i);
			missing += stat(tpth(rel), &st) != 0 || !S_ISREG(st.st_mode);
		}
	CHECKF(missing == 0, "%d files missing from the copy", missing);
	CHECK(same_file(tpth("cs/d01/big.bin"), tpth("cs2/d01/big.bin")));
	char target[64] = "";
	CHECK(readlink(tpth("cs2/link"), target, sizeof(target) - 1) > 0 && !strcmp(target, "d00/f0001"));
	resp = call(r, "fs/readDirectory", json_pack("{s:s}", "path", turi("cs2/d02")));
	CHECKF(json_array_size(json_object_get(res(resp), "entries")) == 700, "%s", js(resp));
	json_decref(resp);
	const char *trees[] = { "cs", "cs2" };
	for (size_t i = 0; i < 2; i++) {
		resp = call(r, "fs/remove", json_pack("{s:s}", "path", turi(trees[i])));
		CHECK_RESULT(resp, json_object());
		json_decref(resp);
	}
	rpc_free(r);
}

/* One connection's fs requests take effect in the order sent: a getMetadata
 * and a writeFile pipelined behind a many-slice remove see the tree gone;
 * a process request sent between them is answered before the remove is
 * done (it does not wait behind fs work). */
static void test_fs_requests_keep_their_order(void)
{
	struct rpc *r = open_conn();
	REQUIRE(r);
	REQUIRE(make_tree("ord", 20, 500));
	int64_t ids[4];
	ids[0] = rpc_send(r, "fs/remove", json_pack("{s:s}", "path", turi("ord")));
	ids[1] = rpc_send(r, "process/list", json_object());
	ids[2] = rpc_send(r, "fs/getMetadata", json_pack("{s:s}", "path", turi("ord")));
	ids[3] = rpc_send(r, "fs/writeFile", json_pack("{s:s, s:s}", "path", turi("ord/d00/x"),
						       "dataBase64", "eA=="));
	json_t *got[4] = { NULL };
	int order[4], n = 0;
	for (int64_t deadline = wsc_now_ms() + 60000; n < 4 && wsc_now_ms() < deadline;) {
		json_t *m = rpc_next(r, 1000);
		json_t *id = json_object_get(m, "id");
		for (int i = 0; id && i < 4; i++)
			if (json_integer_value(id) == ids[i] && !got[i]) {
				got[i] = json_incref(m);
				order[n++] = i;
			}
		json_decref(m);
	}
	REQUIREF(n == 4, "%d of 4 replies", n);
	CHECK_RESULT(got[0], json_object());
	CHECK(res(got[1]) != NULL);
	CHECK_ERR(got[2], -32004, "No such file or directory (os error 2)");
	CHECK(err_code(got[3]) == -32004);
	int pos[4];
	for (int i = 0; i < 4; i++)
		pos[order[i]] = i;
	CHECKF(pos[1] < pos[0] && pos[0] < pos[2] && pos[2] < pos[3],
	       "replies in the order %d %d %d %d", order[0], order[1], order[2], order[3]);
	for (int i = 0; i < 4; i++)
		json_decref(got[i]);
	rpc_free(r);
}

/* A walk whose connection goes is dropped: its directory fds close, and
 * the server goes on answering. */
static void test_walk_dropped_with_connection(void)
{
	struct rpc *idle = open_conn();
	REQUIRE(idle);
	REQUIRE(make_tree("dw", 20, 1000));
	json_t *resp = call(idle, "process/list", json_object());
	json_decref(resp);
	int base = count_fds(srv.pid);
	struct rpc *a = open_conn();
	REQUIRE(a);
	int64_t wid = rpc_send(a, "fs/walk",
			       json_pack("{s:s, s:{s:i, s:i, s:i, s:b}}", "path", turi("dw"), "options",
					 "maxDepth", 5, "maxDirectories", 1000, "maxEntries", 200000,
					 "followDirectorySymlinks", 0));
	CHECK(wid > 0);
	rpc_free(a);
	int now = -1;
	for (int64_t deadline = wsc_now_ms() + 5000; wsc_now_ms() < deadline;) {
		if ((now = count_fds(srv.pid)) == base)
			break;
		poll(NULL, 0, 10);
	}
	CHECKF(now == base, "server fds: %d before, %d after", base, now);
	resp = call(idle, "process/list", json_object());
	CHECK(res(resp) != NULL);
	json_decref(resp);
	resp = call(idle, "fs/remove", json_pack("{s:s}", "path", turi("dw")));
	CHECK_RESULT(resp, json_object());
	json_decref(resp);
	rpc_free(idle);
}

/* The child's env output as an object NAME -> VALUE. */
static json_t *child_env(struct rpc *r, const char *pid, json_t *policy, json_t *env)
{
	json_t *p = json_pack("{s:s, s:[s], s:s, s:o, s:b, s:o, s:{s:s,s:s}}", "processId", pid, "argv",
			      "/usr/bin/env", "cwd", "/", "env", env, "tty", 0, "envPolicy",
			      policy ? policy : json_null(), "metadata", "threadId", "t", "toolCallId", "c");
	json_t *resp = call(r, "process/start", p);
	bool ok = res(resp) != NULL;
	if (!ok)
		tap_diag("start: %s", js(resp));
	json_decref(resp);
	if (!ok)
		return NULL;
	char *out = NULL;
	size_t len = 0;
	int code;
	if (rpc_collect(r, pid, &out, &len, &code, T_MS) < 0)
		return NULL;
	json_t *o = json_object();
	for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
		char *eq = strchr(line, '=');
		if (eq) {
			*eq = '\0';
			json_object_set_new(o, line, json_string(eq + 1));
		}
	}
	free(out);
	return o;
}

static json_t *policy(const char *inherit, bool ide, json_t *excl, json_t *incl, json_t *set)
{
	return json_pack("{s:s, s:b, s:o, s:o, s:o}", "inherit", inherit, "ignoreDefaultExcludes", ide,
			 "exclude", excl, "includeOnly", incl, "set", set);
}

static void test_env_policy(void)
{
	struct rpc *r = open_conn();
	REQUIRE(r);
	json_t *e = child_env(r, "e1", NULL, json_pack("{s:s}", "EXPLICIT", "1"));
	CHECKF(eq(e, json_pack("{s:s}", "EXPLICIT", "1")), "%s", js(e));
	json_decref(e);
	e = child_env(r, "e2", policy("none", false, json_array(), json_array(), json_pack("{s:s}", "A", "1")),
		      json_pack("{s:s}", "B", "2"));
	CHECKF(eq(e, json_pack("{s:s, s:s}", "A", "1", "B", "2")), "%s", js(e));
	json_decref(e);
	e = child_env(r, "e3", policy("core", false, json_array(), json_array(), json_object()), json_object());
	CHECKF(e && json_object_get(e, "PATH") && !json_object_get(e, "ZED") &&
	       !json_object_get(e, "FS_TEST_TERMISH"), "%s", js(e));
	json_decref(e);
	e = child_env(r, "e4", policy("all", false, json_pack("[s]", "zed"), json_array(),
				      json_pack("{s:s}", "SETVAR", "s")),
		      json_pack("{s:s}", "OVER", "o"));
	CHECKF(e && json_object_get(e, "PATH") && json_object_get(e, "FS_TEST_TERMISH") &&
	       !json_object_get(e, "ZED") && str_is(json_object_get(e, "Zed2"), "z3") &&
	       !json_object_get(e, "FS_TEST_API_KEY") && str_is(json_object_get(e, "SETVAR"), "s") &&
	       str_is(json_object_get(e, "OVER"), "o") &&
	       !json_object_get(e, "CODEX_EXEC_SERVER_EXIT_ON_STDIN_CLOSE"), "%s", js(e));
	json_decref(e);
	e = child_env(r, "e5", policy("all", true, json_array(), json_pack("[s]", "FS_TEST_*"),
				      json_pack("{s:s}", "ZED", "setval")),
		      json_pack("{s:s}", "FS_TEST_TERMISH", "envval"));
	CHECKF(eq(e, json_pack("{s:s, s:s}", "FS_TEST_API_KEY", "k", "FS_TEST_TERMISH",
					    "envval")), "%s", js(e));
	json_decref(e);
	json_t *resp = call(r, "process/start",
			    json_pack("{s:s, s:[s], s:s, s:{}, s:b, s:{s:s}}", "processId", "e6", "argv",
				      "/usr/bin/env", "cwd", "/", "env", "tty", 0, "envPolicy", "inherit", "bogus"));
	CHECK(err_code(resp) == -32602);
	json_decref(resp);
	rpc_free(r);
}

static const struct tap_case cases[] = {
	{ "gate", test_gate },
	{ "paths", test_paths },
	{ "metadata", test_metadata },
	{ "big_roundtrip", test_big_roundtrip },
	{ "directories", test_directories },
	{ "streaming", test_streaming },
	{ "watch_missing", test_watch_missing },
	{ "walk_leaves_loop_free", test_walk_leaves_loop_free },
	{ "copy_in_slices", test_copy_in_slices },
	{ "fs_requests_keep_their_order", test_fs_requests_keep_their_order },
	{ "walk_dropped_with_connection", test_walk_dropped_with_connection },
	{ "env_policy", test_env_policy },
	{ NULL, NULL },
};

int main(int argc, char **argv)
{
	int rc;
	char tmpl[] = "/tmp/it_fs.XXXXXX";
	if (!mkdtemp(tmpl))
		return 1;
	snprintf(dir, sizeof(dir), "%s", tmpl);
	/* 100,000 files are made in well under a second on tmpfs, in a minute
	 * on some disks. */
	char shm_tmpl[] = "/dev/shm/it_fs.XXXXXX";
	snprintf(tree_dir, sizeof(tree_dir), "%s", mkdtemp(shm_tmpl) ? shm_tmpl : tmpl);
	setenv("ZED", "z1", 1);
	setenv("Zed2", "z3", 1);
	setenv("FS_TEST_TERMISH", "t", 1);
	setenv("FS_TEST_API_KEY", "k", 1);
	setenv("CODEX_EXEC_SERVER_EXIT_ON_STDIN_CLOSE", "1", 1);
	srv_started = server_start(&srv, (const char *[]){ "--session-ttl", "0", NULL }) == 0;
	rc = tap_main(argc, argv, cases);
	if (srv.pid > 0)
		server_stop(&srv);
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s' '%s'", dir, tree_dir);
	if (system(cmd) != 0)
		rc = rc ? rc : 1;
	return rc;
}
