/* jsonw: a streaming JSON writer into a struct buf.
 *
 * Emits compact JSON (no spaces) with commas placed for the caller, strings
 * escaped, and byte payloads base64-encoded straight into the buffer, so a
 * notification costs one pass over its data. An allocation failure is
 * sticky: check jw_ok() once at the end. Pure: no I/O.
 */
#ifndef RINGEXEC_JSONW_H
#define RINGEXEC_JSONW_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define JW_MAX_DEPTH 16

struct jw {
	struct buf *b;			/* output, appended to */
	int depth;			/* open containers */
	bool need_comma[JW_MAX_DEPTH];	/* per depth: a value was written */
	bool after_key;			/* next value follows a key: no comma */
	bool failed;			/* an allocation failed or depth overflowed */
};

void jw_init(struct jw *w, struct buf *b);
static inline bool jw_ok(const struct jw *w) { return !w->failed; }

void jw_obj_open(struct jw *w);
void jw_obj_close(struct jw *w);
void jw_arr_open(struct jw *w);
void jw_arr_close(struct jw *w);
void jw_key(struct jw *w, const char *key);
void jw_str(struct jw *w, const char *s, size_t n);
void jw_cstr(struct jw *w, const char *s);
void jw_i64(struct jw *w, int64_t v);
void jw_u64(struct jw *w, uint64_t v);
void jw_bool(struct jw *w, bool v);
void jw_null(struct jw *w);
/* A JSON string holding the base64 of n bytes. */
void jw_b64(struct jw *w, const void *data, size_t n);
/* A jansson value, dumped compactly. */
void jw_json(struct jw *w, const json_t *v);
/* The longest prefix of s[0..n) that ends on a whole UTF-8 sequence, for
 * texts cut to fit a buffer (a cut sequence is not valid in a text frame). */
size_t jw_utf8_prefix(const char *s, size_t n);

#endif
