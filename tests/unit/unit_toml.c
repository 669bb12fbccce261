/* unit_toml: proto/config/toml against the two environmentConfig/read examples of
 * the surface reference byte for byte, value decoding (strings, numbers,
 * dates, tables), whole-document round trips, the serialiser's string and
 * float forms, and malformed documents rejected with the right line.
 */
#include "config/toml.h"
#include "tap.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char toml_test_config[] =
	"model = \"gpt-5.5\"\n"
	"\n"
	"[mcp_servers.demo]\n"
	"command = \"echo\"\n"
	"args = [\"hi\"]\n"
	"\n"
	"[mcp_servers.demo.env]\n"
	"X = \"1\"\n";

static struct toml_doc *parse(const char *text)
{
	struct toml_error err;
	struct toml_doc *d = toml_parse(text, strlen(text), &err);
	if (!d)
		tap_diag("parse failed: line %d: %s", err.line, err.msg);
	return d;
}

/* Serialise (all or selected) and compare with want; diagnostics on mismatch. */
static int ser_is(struct toml_doc *d, bool selected, const char *want)
{
	size_t n;
	char *got = toml_serialize(d, selected, &n);
	int ok = got && n == strlen(want) && memcmp(got, want, n) == 0;
	if (!ok)
		tap_diag("got:\n%s\nwant:\n%s", got ? got : "(null)", want);
	free(got);
	return ok;
}

/* Select paths given as "a.b.c" strings (no quoting), NULL-terminated. */
static int select_paths(struct toml_doc *d, const char *const *paths)
{
	int present = 0;
	for (; *paths; paths++) {
		char tmp[256];
		const char *keys[16];
		size_t n = 0;
		snprintf(tmp, sizeof(tmp), "%s", *paths);
		for (char *save, *k = strtok_r(tmp, ".", &save); k && n < 16;
		     k = strtok_r(NULL, ".", &save))
			keys[n++] = k;
		present += toml_select(d, keys, n);
	}
	return present;
}

static void test_reference_examples(void)
{
	struct toml_doc *d = parse(toml_test_config);
	REQUIRE(d);
	CHECK(select_paths(d, (const char *[]){ "mcp_servers", NULL }) == 1);
	CHECK(ser_is(d, true,
		     "[mcp_servers.demo]\ncommand = \"echo\"\nargs = [\"hi\"]\n\n"
		     "[mcp_servers.demo.env]\nX = \"1\"\n"));
	toml_free(d);

	d = parse(toml_test_config);
	REQUIRE(d);
	CHECK(select_paths(d, (const char *[]){ "model", "mcp_servers.demo.command", NULL }) == 2);
	CHECK(ser_is(d, true, "model = \"gpt-5.5\"\n\n[mcp_servers.demo]\ncommand = \"echo\"\n"));
	toml_free(d);
}

/* The same data written with dotted keys and inline tables serialises the same. */
static void test_other_spellings(void)
{
	static const char *const texts[] = {
		"model = 'gpt-5.5'\nmcp_servers.demo = { command = \"echo\", args = [ \"hi\", ], env = { X = \"1\" } }\n",
		"model=\"gpt-5.5\"\n[mcp_servers]\ndemo.command=\"echo\"\ndemo.args=[\n  \"hi\" # c\n]\ndemo.env.X=\"1\"\n",
		"# c\n[mcp_servers.demo.env]\nX = \"1\"\n[mcp_servers.demo]\ncommand = \"echo\"\nargs = [\"hi\"]\n[mcp_servers]\n",
	};
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		struct toml_doc *d = parse(texts[i]);
		CHECKF(d, "text %zu", i);
		if (!d)
			continue;
		CHECK(select_paths(d, (const char *[]){ "mcp_servers", NULL }) == 1);
		CHECKF(ser_is(d, true,
			      "[mcp_servers.demo]\ncommand = \"echo\"\nargs = [\"hi\"]\n\n"
			      "[mcp_servers.demo.env]\nX = \"1\"\n"),
		       "text %zu", i);
		toml_free(d);
	}
}

static void test_select(void)
{
	struct toml_doc *d = parse(toml_test_config);
	REQUIRE(d);
	CHECK(select_paths(d, (const char *[]){ "nope", "model.x", "mcp_servers.other", NULL }) == 0);
	CHECK(ser_is(d, true, ""));
	/* a whole table and a path inside it */
	CHECK(select_paths(d, (const char *[]){ "mcp_servers.demo.env", "mcp_servers.demo.env.X",
						NULL }) == 2);
	CHECK(ser_is(d, true, "[mcp_servers.demo.env]\nX = \"1\"\n"));
	toml_free(d);

	d = parse("[a]\n[b]\nx = 1\n[b.c]\n");
	REQUIRE(d);
	CHECK(select_paths(d, (const char *[]){ "a", "b.c", NULL }) == 2);
	CHECK(ser_is(d, true, "[a]\n\n[b.c]\n"));
	toml_free(d);
}

static void test_values(void)
{
	struct toml_doc *d = parse(
		"s1 = \"tab\\there \\u00e9\\U0001F600 \\\"q\\\" \\\\\"\n"
		"s2 = 'C:\\path\\n'\n"
		"s3 = \"\"\"\nline1\nline2 \\\n     joined\"\"\"\n"
		"s4 = '''\n'one' \"two\"'''\n"
		"s5 = \"\"\"x\"\"\"\"\"\n"
		"i1 = +1_000\ni2 = -9223372036854775808\ni3 = 0xdead_BEEF\ni4 = 0o17\ni5 = 0b101\ni6 = 0\n"
		"f1 = 3.14\nf2 = -1e3\nf3 = 6.02e+23\nf4 = -inf\nf5 = nan\nf6 = 1_0.5e-2\n"
		"b1 = true\nb2 = false\n"
		"d1 = 1979-05-27T07:32:00Z\nd2 = 1979-05-27 07:32:00.999000-07:00\nd3 = 1979-05-27\nd4 = 07:32:00\n"
		"\"quoted key\" = 1\n'lit.key' = 2\n");
	REQUIRE(d);
	struct toml_node *r = toml_root(d), *n;
	REQUIRE((n = toml_get(r, "s1", 2)) && n->kind == TOML_STRING);
	CHECK(strcmp(n->str, "tab\there \xc3\xa9\xf0\x9f\x98\x80 \"q\" \\") == 0);
	CHECK((n = toml_get(r, "s2", 2)) && strcmp(n->str, "C:\\path\\n") == 0);
	CHECK((n = toml_get(r, "s3", 2)) && strcmp(n->str, "line1\nline2 joined") == 0);
	CHECK((n = toml_get(r, "s4", 2)) && strcmp(n->str, "'one' \"two\"") == 0);
	CHECK((n = toml_get(r, "s5", 2)) && strcmp(n->str, "x\"\"") == 0);
	CHECK((n = toml_get(r, "i1", 2)) && n->kind == TOML_INTEGER && n->i == 1000);
	CHECK((n = toml_get(r, "i2", 2)) && n->i == INT64_MIN);
	CHECK((n = toml_get(r, "i3", 2)) && n->i == 0xdeadbeef);
	CHECK((n = toml_get(r, "i4", 2)) && n->i == 15);
	CHECK((n = toml_get(r, "i5", 2)) && n->i == 5);
	CHECK((n = toml_get(r, "i6", 2)) && n->i == 0);
	CHECK((n = toml_get(r, "f1", 2)) && n->kind == TOML_FLOAT && n->f == 3.14);
	CHECK((n = toml_get(r, "f2", 2)) && n->f == -1000.0);
	CHECK((n = toml_get(r, "f3", 2)) && n->f == 6.02e23);
	CHECK((n = toml_get(r, "f4", 2)) && isinf(n->f) && n->f < 0);
	CHECK((n = toml_get(r, "f5", 2)) && isnan(n->f));
	CHECK((n = toml_get(r, "f6", 2)) && n->f == 10.5e-2);
	CHECK((n = toml_get(r, "b1", 2)) && n->kind == TOML_BOOL && n->b);
	CHECK((n = toml_get(r, "b2", 2)) && n->kind == TOML_BOOL && !n->b);
	CHECK((n = toml_get(r, "d1", 2)) && n->kind == TOML_DATETIME &&
	      strcmp(n->str, "1979-05-27T07:32:00Z") == 0);
	CHECK((n = toml_get(r, "d2", 2)) && strcmp(n->str, "1979-05-27T07:32:00.999-07:00") == 0);
	CHECK((n = toml_get(r, "d3", 2)) && strcmp(n->str, "1979-05-27") == 0);
	CHECK((n = toml_get(r, "d4", 2)) && strcmp(n->str, "07:32:00") == 0);
	CHECK((n = toml_get(r, "quoted key", 10)) && n->i == 1);
	CHECK((n = toml_get(r, "lit.key", 7)) && n->i == 2);
	toml_free(d);
}

/* Whole-document serialisation: the reference writer's forms, and a second
 * parse + serialise gives the same text. */
static void test_round_trip(void)
{
	static const char text[] =
		"top = 1\n"
		"hex = 0xff\n"
		"fl = [1.0, 1.5, 6.02e23, 1e-7, -0.0, inf, -nan, 0.1]\n"
		"st = [\"a\\tb\", \"back\\\\slash\", \"it's \\\\\", \"l1\\nl2\", \"ctl\\u0001\"]\n"
		"mixed = [1, \"two\", { three = 3, four = { five = 5 } }, []]\n"
		"when = 2024-02-29t10:00:00z\n"
		"\"a b\" = { c = true }\n"
		"empty = {}\n"
		"points = [{ x = 1 }, { x = 2, sub = { y = 3 } }]\n"
		"[server]\n"
		"name = \"s\"\n"
		"[[server.rule]]\n"
		"id = 1\n"
		"[[server.rule]]\n"
		"id = 2\n"
		"[server.rule.meta]\n"
		"k = \"v\"\n"
		"[other.deep]\n";
	static const char want[] =
		"top = 1\n"
		"hex = 255\n"
		"fl = [1.0, 1.5, 602000000000000000000000.0, 0.0000001, -0.0, inf, -nan, 0.1]\n"
		"st = [\"a\\tb\", 'back\\slash', '''it's \\''', \"\"\"\nl1\nl2\"\"\", \"ctl\\u0001\"]\n"
		"mixed = [1, \"two\", { three = 3, four = { five = 5 } }, []]\n"
		"when = 2024-02-29T10:00:00Z\n"
		"\n"
		"[\"a b\"]\n"
		"c = true\n"
		"\n"
		"[empty]\n"
		"\n"
		"[[points]]\n"
		"x = 1\n"
		"\n"
		"[[points]]\n"
		"x = 2\n"
		"\n"
		"[points.sub]\n"
		"y = 3\n"
		"\n"
		"[server]\n"
		"name = \"s\"\n"
		"\n"
		"[[server.rule]]\n"
		"id = 1\n"
		"\n"
		"[[server.rule]]\n"
		"id = 2\n"
		"\n"
		"[server.rule.meta]\n"
		"k = \"v\"\n"
		"\n"
		"[other.deep]\n";
	struct toml_doc *d = parse(text);
	REQUIRE(d);
	CHECK(ser_is(d, false, want));
	toml_free(d);
	d = parse(want);
	REQUIRE(d);
	CHECK(ser_is(d, false, want));
	toml_free(d);

	/* Only tables: no leading blank line; nothing at all: empty text. */
	d = parse("[a.b]\nx = 1\n");
	REQUIRE(d);
	CHECK(ser_is(d, false, "[a.b]\nx = 1\n"));
	toml_free(d);
	d = parse("# only a comment\n\n");
	REQUIRE(d);
	CHECK(ser_is(d, false, ""));
	toml_free(d);
}

/* A table big enough to use the key index. */
static void test_large_table(void)
{
	size_t cap = 2000 * 24, o = 0;
	char *text = malloc(cap);
	REQUIRE(text);
	for (int i = 0; i < 2000; i++)
		o += (size_t)snprintf(text + o, cap - o, "k%d = %d\n", i, i);
	struct toml_error err;
	struct toml_doc *d = toml_parse(text, o, &err);
	REQUIRE(d);
	int bad = 0;
	for (int i = 0; i < 2000; i++) {
		char k[16];
		int n = snprintf(k, sizeof(k), "k%d", i);
		struct toml_node *v = toml_get(toml_root(d), k, (size_t)n);
		bad += !v || v->i != i;
	}
	CHECK(bad == 0);
	CHECK(!toml_get(toml_root(d), "k2000", 5));
	toml_free(d);
	o += (size_t)snprintf(text + o, cap - o, "k1234 = 0\n");
	d = toml_parse(text, o, &err);
	CHECK(!d && err.line == 2001 && strstr(err.msg, "duplicate key `k1234`"));
	toml_free(d);
	free(text);
}

static void test_malformed(void)
{
	static const struct {
		const char *text;
		int line;
		const char *msg;	/* a part of the message */
	} cases[] = {
		{ "a = 1\nb = \n", 2, "expected a value" },
		{ "a = 1\na = 2\n", 2, "duplicate key `a`" },
		{ "x = 1\n[t]\n[t]\n", 3, "table `t` is already defined" },
		{ "a.b = 1\n[a.b]\n", 2, "already defined" },
		{ "[a]\nb.c = 1\n[a.b]\n", 3, "already defined" },
		{ "a = { b = 1 }\na.c = 2\n", 2, "cannot add keys" },
		{ "a = { b = 1 }\n[a.c]\n", 2, "is not a table" },
		{ "a = [1]\n[[a]]\n", 2, "not an array of tables" },
		{ "\n\nname = bare\n", 3, "strings need quotes" },
		{ "s = \"open\n", 1, "newline in a single-line string" },
		{ "s = \"\"\"\nnever closed\n", 1, "unterminated string" },
		{ "s = \"bad \\q\"\n", 1, "invalid escape" },
		{ "s = \"\\uD800\"\n", 1, "not a Unicode scalar value" },
		{ "n = 01\n", 1, "leading zeros" },
		{ "n = 1__0\n", 1, "invalid number" },
		{ "n = 9223372036854775808\n", 1, "does not fit in 64 bits" },
		{ "n = 1.\n", 1, "invalid number" },
		{ "n = .5\n", 1, "invalid value `.5`" },
		{ "n = +0x10\n", 1, "invalid" },
		{ "a = 1 b = 2\n", 1, "expected a newline after a value" },
		{ "[t] x = 1\n", 1, "expected a newline after a table header" },
		{ "[t\n", 1, "to close a table header" },
		{ "a = [1, 2\nb = 3\n", 2, "expected `,` or `]`" },
		{ "a = { b = 1, }\n", 1, "trailing comma in an inline table" },
		{ "a = { b = 1,\n c = 2 }\n", 1, "expected a key" },
		{ "d = 2023-02-30\n", 1, "out of range" },
		{ "t = 25:00:00\n", 1, "out of range" },
		{ "ok = 1\n# bad \x01 comment\n", 2, "control character" },
		{ "ok = 1\nbad = \"\xff\"\n", 2, "invalid UTF-8" },
		{ "a = 1\r\nb = 2\rc = 3\n", 2, "expected a newline" },
		{ "= 1\n", 1, "expected a key" },
		{ "\"\"\"k\"\"\" = 1\n", 1, "multi-line string cannot be a key" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct toml_error err;
		struct toml_doc *d = toml_parse(cases[i].text, strlen(cases[i].text), &err);
		CHECKF(!d && err.line == cases[i].line && strstr(err.msg, cases[i].msg),
		       "case %zu: %s -> %s (line %d: %s)", i, cases[i].text, d ? "parsed" : "error",
		       err.line, err.msg);
		toml_free(d);
	}
}

static void test_depth_limit(void)
{
	char text[1024];
	size_t o = 0;
	o += (size_t)snprintf(text, sizeof(text), "a = ");
	for (int i = 0; i < 100; i++)
		text[o++] = '[';
	text[o] = '\0';
	struct toml_error err;
	struct toml_doc *d = toml_parse(text, o, &err);
	CHECK(!d && err.line == 1 && strstr(err.msg, "nested deeper"));
	toml_free(d);
	o = 0;
	text[o++] = '[';
	for (int i = 0; i < 100; i++)
		o += (size_t)snprintf(text + o, sizeof(text) - o, "%sk", i ? "." : "");
	o += (size_t)snprintf(text + o, sizeof(text) - o, "]\n");
	d = toml_parse(text, o, &err);
	CHECK(!d && err.line == 1);
	toml_free(d);
}

static void test_read_file(void)
{
	char dir[] = "/tmp/unit_toml.XXXXXX";
	REQUIRE(mkdtemp(dir));
	char path[300];
	snprintf(path, sizeof(path), "%s/config.toml", dir);
	struct toml_doc *d = NULL;
	struct toml_error err;
	CHECK(toml_read_file(path, 1024, &d, &err) == -ENOENT && !d);

	FILE *f = fopen(path, "w");
	REQUIRE(f);
	fputs(toml_test_config, f);
	fclose(f);
	CHECK(toml_read_file(path, 1024, &d, &err) == 0 && d);
	toml_free(d);
	d = NULL;
	CHECK(toml_read_file(path, 16, &d, &err) == -EFBIG && !d);

	f = fopen(path, "w");
	REQUIRE(f);
	fputs("a = 1\n\n[t]\nb = what\n", f);
	fclose(f);
	CHECK(toml_read_file(path, 1024, &d, &err) == -EINVAL && !d && err.line == 4);
	CHECK(toml_read_file(dir, 1024, &d, &err) < 0 && !d);
	unlink(path);
	rmdir(dir);
}

static const struct tap_case cases[] = {
	{ "reference_examples", test_reference_examples },
	{ "other_spellings", test_other_spellings },
	{ "select", test_select },
	{ "values", test_values },
	{ "round_trip", test_round_trip },
	{ "large_table", test_large_table },
	{ "malformed", test_malformed },
	{ "depth_limit", test_depth_limit },
	{ "read_file", test_read_file },
	{ NULL, NULL },
};

int main(int argc, char **argv)
{
	return tap_main(argc, argv, cases);
}
