/* expect: predicates over JSON-RPC replies for the integration tests (see expect.h). */
#include "expect.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wsc.h"

const char *js(const json_t *j)
{
	static char bufs[4][4096];
	static unsigned k;
	char *b = bufs[k++ & 3], *s;

	if (!j)
		return "(nothing)";
	s = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
	snprintf(b, sizeof(bufs[0]), "%s", s ? s : "(undumpable)");
	free(s);
	return b;
}

int left_ms(int64_t deadline)
{
	int64_t left = deadline - wsc_now_ms();

	return left > 0 ? (int)left : 0;
}

int err_code(const json_t *resp)
{
	json_t *c = json_object_get(json_object_get(resp, "error"), "code");

	return json_is_integer(c) ? (int)json_integer_value(c) : INT_MIN;
}

const char *err_msg(const json_t *resp)
{
	return json_string_value(json_object_get(json_object_get(resp, "error"), "message"));
}

bool is_err(const json_t *resp, int code, const char *msg)
{
	const char *m = err_msg(resp);

	return err_code(resp) == code && m && (!msg || strcmp(m, msg) == 0);
}

bool result_eq(const json_t *resp, json_t *want)
{
	bool eq = want && json_equal(json_object_get(resp, "result"), want);

	json_decref(want);
	return eq;
}

bool str_is(const json_t *j, const char *s)
{
	return json_is_string(j) && strcmp(json_string_value(j), s) == 0;
}
