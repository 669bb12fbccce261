/* params: decoding request params with serde-like error texts.
 *
 * Each getter checks one member of a params object and, on failure, writes
 * the message a -32602 carries: "missing field `argv`", or serde's
 * "invalid type: string \"yes\", expected a boolean" followed by
 * " for `tty`" so the text names the field. Absent and null are the same
 * for optional members. Pure.
 */
#ifndef RINGEXEC_PARAMS_H
#define RINGEXEC_PARAMS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pd_err {
	char msg[400];
};

/* params must be an object; NULL/null -> "invalid type: null, expected struct NAME". */
int pd_object(const json_t *params, const char *struct_name, struct pd_err *e);
/* A string member. Optional and absent/null: *out = NULL. 0 or -1. With
 * len the string may hold NUL bytes (an id: use *len); without it the
 * caller takes a C string, so one with a NUL byte is refused
 * ("`cwd` must not contain a NUL byte"). */
int pd_string(const json_t *obj, const char *key, bool required, const char **out, size_t *len,
	      struct pd_err *e);
/* A bool member. Optional and absent/null: *out untouched. */
int pd_bool(const json_t *obj, const char *key, bool required, bool *out, struct pd_err *e);
/* A non-negative integer member (expected: "u64" or "usize"). Optional:
 * *present says whether it was there. */
int pd_u64(const json_t *obj, const char *key, const char *expected, bool *present, uint64_t *out,
	   struct pd_err *e);
/* An array of strings, none with a NUL byte. Optional and absent/null: *out = NULL. */
int pd_strings(const json_t *obj, const char *key, bool required, const json_t **out,
	       struct pd_err *e);
/* An object of string values, none with a NUL byte. Optional and absent/null: *out = NULL. */
int pd_string_map(const json_t *obj, const char *key, bool required, const json_t **out,
		  struct pd_err *e);
/* serde's description of an unexpected value: "null", "boolean `true`",
 * "integer `5`", "floating point `1.5`", "string \"x\"", "sequence", "map". */
void pd_describe(const json_t *v, char *out, size_t n);
/* Write "invalid type: <describe(v)>, expected <expected> for `<field>`". Returns -1. */
int pd_type_error(const json_t *v, const char *expected, const char *field, struct pd_err *e);
/* s[0..len) for an error text: each NUL byte shown as \u0000, cut to fit
 * out (n bytes with the terminator) on a UTF-8 boundary. Returns out. */
const char *pd_show(const char *s, size_t len, char *out, size_t n);
/* The decoder ran out of memory (e says "out of memory"): not the client's
 * fault, so the answer is -32603, not -32602. */
bool pd_err_nomem(const struct pd_err *e);
/* Write "`<field>` must not contain a NUL byte". Returns -1. */
int pd_nul_error(const char *field, struct pd_err *e);

#endif
