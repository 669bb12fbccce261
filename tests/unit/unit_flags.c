/* unit_flags: cmd/flags, the table-driven option parser.
 *
 * Every kind takes its value in both spellings and lands in its target;
 * numbers outside their range, non-numbers, a missing value, a value given
 * to a switch, a repeatable flag past its cap, an unknown or ambiguous
 * name and a positional argument are each refused with a reason naming
 * the flag; a unique prefix is accepted; --help lists every flag with its
 * help in one column.
 */
#include "flags.h"
#include "tap.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct opts {
	const char *url;
	uint64_t ttl, size;
	const char *names[2];
	size_t nnames;
	uint32_t uids[2];
	size_t nuids;
	int level;
	bool quiet;
};

static const char *const levels[] = { "low", "high", NULL };

static size_t table_of(struct opts *o, struct flag *t)
{
	const struct flag table[] = {
		{ "listen", "URL", FLAG_STRING, &o->url, .help = "where\nand how" },
		{ "ttl", "S", FLAG_U64, &o->ttl, .min = 0, .max = 100, .help = "seconds" },
		{ "size", "BYTES", FLAG_U64, &o->size, .min = 1, .max = UINT64_MAX, .help = "b" },
		{ "name", "N", FLAG_STRINGS, o->names, .count = &o->nnames, .cap = 2, .help = "n" },
		{ "uid", "UID", FLAG_U32S, o->uids, .min = 0, .max = 65535, .count = &o->nuids,
		  .cap = 2, .help = "u" },
		{ "level", "L", FLAG_CHOICE, &o->level, .choices = levels, .help = "l" },
		{ "quiet", NULL, FLAG_SWITCH, &o->quiet, .help = "q" },
		{ "a-very-long-flag-name", "VALUE", FLAG_STRING, &o->url, .help = "long" },
	};
	memcpy(t, table, sizeof(table));
	return sizeof(table) / sizeof(table[0]);
}

/* Parse a NULL-terminated argument list (argv[0] is added); 0 or -1. */
static int parse(struct opts *o, char *err, const char *const *args)
{
	struct flag t[16];
	char *argv[32] = { "prog" };
	int argc = 1;
	while (*args)
		argv[argc++] = (char *)*args++;
	memset(o, 0, sizeof(*o));
	err[0] = '\0';
	return flags_parse(t, table_of(o, t), argc, argv, err, 256);
}

#define ARGS(...) ((const char *const[]){ __VA_ARGS__, NULL })

static void every_kind(void)
{
	struct opts o;
	char err[256];
	REQUIRE(parse(&o, err, ARGS("--listen", "ws://x", "--ttl=100", "--size", "18446744073709551615",
				    "--name", "a", "--name=b", "--uid", "0", "--uid=65535",
				    "--level", "high", "--quiet")) == 0);
	CHECK(!strcmp(o.url, "ws://x") && o.ttl == 100 && o.size == UINT64_MAX);
	CHECK(o.nnames == 2 && !strcmp(o.names[0], "a") && !strcmp(o.names[1], "b"));
	CHECK(o.nuids == 2 && o.uids[0] == 0 && o.uids[1] == 65535);
	CHECK(o.level == 1 && o.quiet);
	REQUIRE(parse(&o, err, ARGS("--listen=", "--")) == 0);
	CHECK(o.url && o.url[0] == '\0');
	REQUIRE(parse(&o, err, ARGS("--lis", "p", "--qu")) == 0);	/* unique prefixes */
	CHECK(!strcmp(o.url, "p") && o.quiet);
	REQUIRE(parse(&o, err, (const char *const[]){ NULL }) == 0);
	CHECK(o.url == NULL && !o.quiet && o.nnames == 0);
}

static void refusals(void)
{
	static const struct {
		const char *args[5];
		const char *reason;
	} bad[] = {
		{ { "--ttl", "101" }, "--ttl must be between 0 and 100, not 101" },
		{ { "--size", "0" }, "--size must be between 1 and 18446744073709551615, not 0" },
		{ { "--size", "18446744073709551616" }, "invalid value `18446744073709551616` for --size" },
		{ { "--ttl", "-1" }, "invalid value `-1` for --ttl" },
		{ { "--ttl", "+1" }, "invalid value `+1` for --ttl" },
		{ { "--ttl", " 1" }, "invalid value ` 1` for --ttl" },
		{ { "--ttl", "1s" }, "invalid value `1s` for --ttl" },
		{ { "--ttl=" }, "invalid value `` for --ttl" },
		{ { "--uid", "65536" }, "--uid must be between 0 and 65535, not 65536" },
		{ { "--ttl" }, "--ttl needs a value (S)" },
		{ { "--quiet=1" }, "--quiet takes no value" },
		{ { "--name", "a", "--name", "b" }, NULL },	/* fine: at the cap */
		{ { "--level", "mid" }, "--level must be one of low, high; not `mid`" },
		{ { "--nope" }, "unknown option `--nope` (see --help)" },
		{ { "--l", "x" }, "ambiguous option `--l` (see --help)" },
		{ { "--" , "x" }, "unexpected argument `x`" },
		{ { "x" }, "unexpected argument `x`" },
		{ { "-q" }, "unexpected argument `-q`" },
		{ { "--" "" }, NULL },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct opts o;
		char err[256];
		int ret = parse(&o, err, bad[i].args);
		if (!bad[i].reason) {
			CHECKF(ret == 0, "case %zu refused: %s", i, err);
			continue;
		}
		CHECKF(ret == -1 && !strcmp(err, bad[i].reason), "case %zu: %d \"%s\"", i, ret, err);
	}
	struct opts o;
	char err[256];
	CHECK(parse(&o, err, ARGS("--name", "a", "--name", "b", "--name", "c")) == -1);
	CHECKF(!strcmp(err, "too many --name (at most 2)"), "%s", err);
	CHECK(o.nnames == 2);	/* the third went nowhere */
	CHECK(parse(&o, err, ARGS("--uid", "1", "--uid", "2", "--uid", "3")) == -1 && o.nuids == 2);
}

static void usage_lists_every_flag(void)
{
	struct opts o;
	struct flag t[16];
	size_t n = table_of(&o, t);
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	REQUIRE(f);
	flags_usage(f, t, n);
	fclose(f);
	static const char want[] =
		"  --listen URL           where\n"
		"                         and how\n"
		"  --ttl S                seconds\n"
		"  --size BYTES           b\n"
		"  --name N               n\n"
		"  --uid UID              u\n"
		"  --level L              l\n"
		"  --quiet                q\n"
		"  --a-very-long-flag-name VALUE long\n";
	CHECKF(!strcmp(text, want), "got:\n%s", text);
	free(text);
}

static const struct tap_case cases[] = {
	{ "every kind of flag, both spellings, prefixes", every_kind },
	{ "bad values, names and arguments are refused by name", refusals },
	{ "--help lists every flag, help in one column", usage_lists_every_flag },
	{ NULL, NULL },
};

int main(int argc, char **argv)
{
	return tap_main(argc, argv, cases);
}
