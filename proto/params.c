/* params: serde-like decoding of request members (see params.h). */
#include "params.h"

#include <stdio.h>
#include <string.h>

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
	case JSON_STRING:
		snprintf(out, n, "string \"%.64s\"", json_string_value(v));
		break;
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
		if (!json_is_string(item)) {
			char field[96];
			snprintf(field, sizeof(field), "%s[%zu]", key, i);
			return pd_type_error(item, "a string", field, e);
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
		if (!json_is_string(item)) {
			char field[128];
			snprintf(field, sizeof(field), "%s.%.100s", key, k);
			return pd_type_error(item, "a string", field, e);
		}
	}
	*out = v;
	return 0;
}
