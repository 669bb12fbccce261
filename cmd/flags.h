/* flags: long command-line options read from one table, each row naming
 * the flag, where its value goes, the range it must lie in and its help.
 * The same table renders the option list of --help, so the two cannot
 * drift apart.
 *
 * Accepts `--name value`, `--name=value`, a unique prefix of a name, and
 * `--` before arguments; refuses positional arguments. Knows nothing of
 * what the flags mean: the caller turns the parsed values into its
 * configuration afterwards.
 */
#ifndef RINGEXEC_FLAGS_H
#define RINGEXEC_FLAGS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum flag_kind {
	FLAG_SWITCH,	/* bool *target set; takes no value */
	FLAG_STRING,	/* const char **target: the argument itself */
	FLAG_U64,	/* uint64_t *target, decimal, in [min, max] */
	FLAG_STRINGS,	/* repeatable: const char *target[cap], *count of them */
	FLAG_U32S,	/* repeatable: uint32_t target[cap] in [min, max], *count */
	FLAG_CHOICE,	/* int *target: the index of the value in choices */
};

struct flag {
	const char *name;		/* "listen" for --listen */
	const char *value;		/* the value's name in --help; NULL for a switch */
	enum flag_kind kind;
	void *target;
	uint64_t min, max;		/* FLAG_U64, FLAG_U32S */
	size_t *count;			/* repeatable: how many were given */
	size_t cap;			/* repeatable: at most this many */
	const char *const *choices;	/* FLAG_CHOICE: NULL-terminated */
	const char *help;		/* lines separated by '\n' */
};

/* Parse argv[1..argc) against the n flags of table. 0, or -1 with a
 * one-line reason (no program name, no newline) in err. */
int flags_parse(const struct flag *table, size_t n, int argc, char **argv, char *err,
		size_t errlen);

/* The option list for --help: one entry per flag, its help aligned in a
 * column, continuation lines indented to it. */
void flags_usage(FILE *out, const struct flag *table, size_t n);

#endif
