/* fuzz_jsonrpc: the JSON-RPC envelope and params decoding on any bytes.
 *
 * Invariants, not just survival: every input is classified; a request has a
 * method and an id of a valid type; an id written back into an error reply
 * parses to the same id; params decoding either succeeds or leaves a
 * non-empty error text; a decoded processId/argv/env has the types asked for.
 * Valid JSON with the shape of a request is a request, \u0000 or not (the
 * method and id keep their whole length), so it is always answered by id.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jsonrpc.h"
#include "params.h"

static void check_params(const json_t *params)
{
	struct pd_err e;
	const char *s;
	size_t len;
	bool b = false, present;
	uint64_t u;
	const json_t *arr, *map;

	memset(&e, 0, sizeof(e));
	if (pd_object(params, "ExecParams", &e) < 0) {
		if (!e.msg[0])
			abort();
		return;
	}
	if (pd_string(params, "processId", false, &s, &len, &e) == 0 && s && strlen(s) > len)
		abort();
	if (pd_strings(params, "argv", false, &arr, &e) == 0 && arr) {
		for (size_t i = 0; i < json_array_size(arr); i++)
			if (!json_is_string(json_array_get(arr, i)))
				abort();
	}
	if (pd_string_map(params, "env", false, &map, &e) == 0 && map) {
		const char *k;
		json_t *v;
		json_object_foreach((json_t *)map, k, v)
			if (!json_is_string(v))
				abort();
	}
	e.msg[0] = '\0';
	if (pd_bool(params, "tty", true, &b, &e) < 0 && !e.msg[0])
		abort();
	e.msg[0] = '\0';
	if (pd_u64(params, "afterSeq", "u64", &present, &u, &e) < 0 && !e.msg[0])
		abort();
}

/* What jansson alone says: a request shape (an object with a string method
 * and a string or integer id); then its method's length in *method_len. */
static bool looks_like_request(const uint8_t *data, size_t size, size_t *method_len)
{
	json_t *v = json_loadb((const char *)data, size, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
	json_t *method = json_object_get(v, "method"), *id = json_object_get(v, "id");
	bool req = json_is_object(v) && json_is_string(method) &&
		   (json_is_string(id) || json_is_integer(id));
	if (req)
		*method_len = json_string_length(method);
	json_decref(v);
	return req;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rpc_msg m;
	size_t method_len = 0;
	rpc_parse((const char *)data, size, &m);
	if (looks_like_request(data, size, &method_len) &&
	    (m.kind != RPC_REQUEST || m.method_len != method_len))
		abort();
	if (m.nul_key_found && memchr(m.nul_key_in, '\0', sizeof(m.nul_key_in)) == NULL)
		abort();
	switch (m.kind) {
	case RPC_INVALID:
		if (!m.reason[0])
			abort();
		break;
	case RPC_NOTIFICATION:
		if (!m.method)
			abort();
		break;
	case RPC_RESPONSE:
		break;
	case RPC_REQUEST: {
		if (!m.method || (m.id.is_str && !m.id.str))
			abort();
		check_params(m.params);
		/* The id we echo parses back to the same id. */
		struct buf b = { 0 };
		rpc_write_error(&b, &m.id, -32601, m.method);
		struct rpc_msg back;
		rpc_parse(b.data, b.len, &back);
		if (back.kind != RPC_RESPONSE)
			abort();
		json_t *id = json_object_get(back.root, "id");
		if (m.id.is_str) {
			if (!json_is_string(id) || json_string_length(id) != m.id.len ||
			    memcmp(json_string_value(id), m.id.str, m.id.len) != 0)
				abort();
		} else if (!json_is_integer(id) || json_integer_value(id) != m.id.num) {
			abort();
		}
		rpc_msg_free(&back);
		buf_free(&b);
		break;
	}
	default:
		abort();
	}
	rpc_msg_free(&m);
	return 0;
}
