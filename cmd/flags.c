/* flags: the table-driven long-option parser and its --help renderer
 * (see flags.h). Pure: writes only the targets the table names and the
 * caller's err buffer.
 */
#include "flags.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define HELP_COLUMN 25	/* where each flag's help starts in --help */

/* The flag `--arg` names (up to '=' if any): exact, else a unique prefix.
 * NULL with err set when none or several match. */
static const struct flag *flag_find(const struct flag *table, size_t n, const char *arg,
				    size_t len, char *err, size_t errlen)
{
	const struct flag *prefix = NULL;
	size_t nprefix = 0;
	for (size_t i = 0; i < n; i++) {
		if (strncmp(table[i].name, arg, len) != 0)
			continue;
		if (table[i].name[len] == '\0')
			return &table[i];
		prefix = &table[i];
		nprefix++;
	}
	if (nprefix == 1)
		return prefix;
	snprintf(err, errlen, "%s option `--%.*s` (see --help)", nprefix ? "ambiguous" : "unknown",
		 (int)len, arg);
	return NULL;
}

static int parse_decimal(const struct flag *f, const char *s, uint64_t *out, char *err,
			 size_t errlen)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s || *end || s[0] < '0' || s[0] > '9') {
		snprintf(err, errlen, "invalid value `%s` for --%s", s, f->name);
		return -1;
	}
	if (v < f->min || v > f->max) {
		snprintf(err, errlen, "--%s must be between %llu and %llu, not %s", f->name,
			 (unsigned long long)f->min, (unsigned long long)f->max, s);
		return -1;
	}
	*out = v;
	return 0;
}

static int choice_error(const struct flag *f, const char *val, char *err, size_t errlen)
{
	int n = snprintf(err, errlen, "--%s must be one of ", f->name);
	for (int i = 0; f->choices[i] && n >= 0 && (size_t)n < errlen; i++)
		n += snprintf(err + n, errlen - (size_t)n, "%s%s", i ? ", " : "", f->choices[i]);
	if (n >= 0 && (size_t)n < errlen)
		snprintf(err + n, errlen - (size_t)n, "; not `%s`", val);
	return -1;
}

static int flag_take(const struct flag *f, const char *val, char *err, size_t errlen)
{
	uint64_t v;
	switch (f->kind) {
	case FLAG_SWITCH:
		*(bool *)f->target = true;
		return 0;
	case FLAG_STRING:
		*(const char **)f->target = val;
		return 0;
	case FLAG_U64:
		return parse_decimal(f, val, f->target, err, errlen);
	case FLAG_STRINGS:
	case FLAG_U32S:
		if (*f->count == f->cap) {
			snprintf(err, errlen, "too many --%s (at most %zu)", f->name, f->cap);
			return -1;
		}
		if (f->kind == FLAG_STRINGS) {
			((const char **)f->target)[(*f->count)++] = val;
			return 0;
		}
		if (parse_decimal(f, val, &v, err, errlen) < 0)
			return -1;
		((uint32_t *)f->target)[(*f->count)++] = (uint32_t)v;
		return 0;
	case FLAG_CHOICE:
		for (int i = 0; f->choices[i]; i++)
			if (strcmp(f->choices[i], val) == 0) {
				*(int *)f->target = i;
				return 0;
			}
		return choice_error(f, val, err, errlen);
	}
	snprintf(err, errlen, "--%s: bad flag table", f->name);
	return -1;
}

int flags_parse(const struct flag *table, size_t n, int argc, char **argv, char *err,
		size_t errlen)
{
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i];
		if (strcmp(arg, "--") == 0) {
			if (i + 1 < argc) {
				snprintf(err, errlen, "unexpected argument `%s`", argv[i + 1]);
				return -1;
			}
			return 0;
		}
		if (strncmp(arg, "--", 2) != 0 || arg[2] == '\0') {
			snprintf(err, errlen, "unexpected argument `%s`", arg);
			return -1;
		}
		arg += 2;
		const char *eq = strchr(arg, '=');
		size_t len = eq ? (size_t)(eq - arg) : strlen(arg);
		const struct flag *f = flag_find(table, n, arg, len, err, errlen);
		if (!f)
			return -1;
		const char *val = eq ? eq + 1 : NULL;
		if (f->kind == FLAG_SWITCH && val) {
			snprintf(err, errlen, "--%s takes no value", f->name);
			return -1;
		}
		if (f->kind != FLAG_SWITCH && !val) {
			if (i + 1 == argc) {
				snprintf(err, errlen, "--%s needs a value (%s)", f->name, f->value);
				return -1;
			}
			val = argv[++i];
		}
		if (flag_take(f, val, err, errlen) < 0)
			return -1;
	}
	return 0;
}

void flags_usage(FILE *out, const struct flag *table, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct flag *f = &table[i];
		int w = fprintf(out, "  --%s%s%s", f->name, f->value ? " " : "",
				f->value ? f->value : "");
		fprintf(out, "%*s", w < HELP_COLUMN ? HELP_COLUMN - w : 1, "");
		for (const char *line = f->help; *line;) {
			const char *nl = strchr(line, '\n');
			size_t len = nl ? (size_t)(nl - line) : strlen(line);
			fprintf(out, "%.*s\n", (int)len, line);
			if (!nl)
				break;
			line = nl + 1;
			fprintf(out, "%*s", HELP_COLUMN, "");
		}
	}
}
