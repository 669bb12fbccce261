/* params: serde-like decoding of request members (see params.h). */
#include "params.h"

#include <stdio.h>
#include <string.h>

#include "jsonw.h"

void pd_describe(const json_t *v, char *out, size_t n)
{
	switch (json_typeof(v)) {
	case JSON_NULL:
		snprintf(out, n, "null");
		break;
	case JSON_TRUE:
	case JSON_FALSE:
		snprintf(out, n, "boolean `%s`", json_is_true(v) ? "true" : "false");
		break;
	case JSON_INTEGER:
		snprintf(out, n, "integer `%lld`", (long long)json_integer_value(v));
		break;
	case JSON_REAL:
		snprintf(out, n, "floating point `%g`", json_real_value(v));
		break;
	case JSON_STRING: {
		char shown[80];
		size_t len = json_string_length(v);
		pd_show(json_string_value(v), len > 64 ? 64 : len, shown, sizeof(shown));
		snprintf(out, n, "string \"%s\"", shown);
		break;
	}
	case JSON_ARRAY:
		snprintf(out, n, "sequence");
		break;
	case JSON_OBJECT:
		snprintf(out, n, "map");
		break;
	}
}

int pd_type_error(const json_t *v, const char *expected, const char *field, struct pd_err *e)
{
	char what[128];
	pd_describe(v, what, sizeof(what));
	snprintf(e->msg, sizeof(e->msg), "invalid type: %s, expected %s for `%s`", what, expected,
		 field);
	return -1;
}

const char *pd_show(const char *s, size_t len, char *out, size_t n)
{
	size_t o = 0;
	for (size_t i = 0; i < len && o + 1 < n; i++) {
		if (s[i] != '\0') {
			out[o++] = s[i];
		} else if (o + 7 <= n) {
			memcpy(out + o, "\\u0000", 6);
			o += 6;
		} else {
			break;
		}
	}
	out[jw_utf8_prefix(out, o)] = '\0';
	return out;
}

bool pd_err_nomem(const struct pd_err *e)
{
	return strcmp(e->msg, "out of memory") == 0;
}

int pd_nul_error(const char *field, struct pd_err *e)
{
	snprintf(e->msg, sizeof(e->msg), "`%s` must not contain a NUL byte", field);
	return -1;
}

static bool pd_has_nul(const json_t *s)
{
	return memchr(json_string_value(s), '\0', json_string_length(s)) != NULL;
}

static int pd_missing(const char *key, struct pd_err *e)
{
	snprintf(e->msg, sizeof(e->msg), "missing field `%s`", key);
	return -1;
}

int pd_object(const json_t *params, const char *struct_name, struct pd_err *e)
{
	if (json_is_object(params))
		return 0;
	char what[128] = "null";
	if (params)
		pd_describe(params, what, sizeof(what));
	snprintf(e->msg, sizeof(e->msg), "invalid type: %s, expected struct %s", what, struct_name);
	return -1;
}

/* The member, or NULL when absent/null; -1 when required and absent. */
static int pd_member(const json_t *obj, const char *key, bool required, const json_t **v,
		     struct pd_err *e)
{
	*v = json_object_get(obj, key);
	if (*v && json_is_null(*v) && !required)
		*v = NULL;
	if (!*v && required)
		return pd_missing(key, e);
	return 0;
}

int pd_string(const json_t *obj, const char *key, bool required, const char **out, size_t *len,
	      struct pd_err *e)
{
	const json_t *v;
	*out = NULL;
	if (len)
		*len = 0;
	if (pd_member(obj, key, required, &v, e) < 0)
		return -1;
	if (!v)
		return 0;
	if (!json_is_string(v))
		return pd_type_error(v, "a string", key, e);
	if (!len && pd_has_nul(v))
		return pd_nul_error(key, e);
	*out = json_string_value(v);
	if (len)
		*len = json_string_length(v);
	return 0;
}

int pd_bool(const json_t *obj, const char *key, bool required, bool *out, struct pd_err *e)
{
	const json_t *v;
	if (pd_member(obj, key, required, &v, e) < 0)
		return -1;
	if (!v)
		return 0;
	if (!json_is_boolean(v))
		return pd_type_error(v, "a boolean", key, e);
	*out = json_is_true(v);
	return 0;
}

int pd_u64(const json_t *obj, const char *key, const char *expected, bool *present, uint64_t *out,
	   struct pd_err *e)
{
	const json_t *v;
	*present = false;
	if (pd_member(obj, key, false, &v, e) < 0)
		return -1;
	if (!v)
		return 0;
	if (!json_is_integer(v))
		return pd_type_error(v, expected, key, e);
	json_int_t n = json_integer_value(v);
	if (n < 0) {
		snprintf(e->msg, sizeof(e->msg), "invalid value: integer `%lld`, expected %s for `%s`",
			 (long long)n, expected, key);
		return -1;
	}
	*out = (uint64_t)n;
	*present = true;
	return 0;
}

int pd_strings(const json_t *obj, const char *key, bool required, const json_t **out,
	       struct pd_err *e)
{
	const json_t *v;
	*out = NULL;
	if (pd_member(obj, key, required, &v, e) < 0)
		return -1;
	if (!v)
		return 0;
	if (!json_is_array(v))
		return pd_type_error(v, "a sequence", key, e);
	for (size_t i = 0; i < json_array_size(v); i++) {
		const json_t *item = json_array_get(v, i);
		if (!json_is_string(item) || pd_has_nul(item)) {
			char field[96];
			snprintf(field, sizeof(field), "%s[%zu]", key, i);
			return json_is_string(item) ? pd_nul_error(field, e)
						    : pd_type_error(item, "a string", field, e);
		}
	}
	*out = v;
	return 0;
}

int pd_string_map(const json_t *obj, const char *key, bool required, const json_t **out,
		  struct pd_err *e)
{
	const json_t *v;
	*out = NULL;
	if (pd_member(obj, key, required, &v, e) < 0)
		return -1;
	if (!v)
		return 0;
	if (!json_is_object(v))
		return pd_type_error(v, "a map", key, e);
	const char *k;
	json_t *item;
	json_object_foreach((json_t *)v, k, item) {
		if (!json_is_string(item) || pd_has_nul(item)) {
			char field[128];
			snprintf(field, sizeof(field), "%s.%.100s", key, k);
			field[jw_utf8_prefix(field, strlen(field))] = '\0';
			return json_is_string(item) ? pd_nul_error(field, e)
						    : pd_type_error(item, "a string", field, e);
		}
	}
	*out = v;
	return 0;
}
