/* unit_jsonrpc: the envelope codec, the JSON writer and the serde-like
 * params decoding: classification of every message shape, id types echoed
 * as they came, exact error texts, escaping and base64 in the writer.
 */
#include <string.h>

#include "jsonrpc.h"
#include "jsonw.h"
#include "params.h"
#include "tap.h"

static enum rpc_kind parse_kind(const char *s)
{
	struct rpc_msg m;
	rpc_parse(s, strlen(s), &m);
	enum rpc_kind k = m.kind;
	rpc_msg_free(&m);
	return k;
}

static void test_classify(void)
{
	CHECK(parse_kind("{\"id\":1,\"method\":\"initialize\",\"params\":{}}") == RPC_REQUEST);
	CHECK(parse_kind("{\"id\":\"a\",\"method\":\"x\"}") == RPC_REQUEST);
	CHECK(parse_kind("{\"method\":\"initialized\"}") == RPC_NOTIFICATION);
	CHECK(parse_kind("{\"id\":1,\"result\":{}}") == RPC_RESPONSE);
	CHECK(parse_kind("{\"id\":1,\"error\":{\"code\":1}}") == RPC_RESPONSE);
	CHECK(parse_kind("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"x\"}") == RPC_REQUEST);
}

static void test_invalid(void)
{
	const char *bad[] = {
		"not-json", "", "[1,2]", "[{\"id\":1,\"method\":\"x\"}]", "42", "\"s\"", "null",
		"{\"foo\":1}", "{\"id\":1}", "{\"id\":1.5,\"method\":\"x\"}",
		"{\"id\":null,\"method\":\"x\"}", "{\"id\":true,\"method\":\"x\"}",
		"{\"method\":5}", "{\"id\":99999999999999999999,\"method\":\"x\"}",
		"{\"id\":1,\"method\":\"x\",\"params\":{\"a\":1e999}}", "{\"id\":1,\"method\":\"x\"",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct rpc_msg m;
		rpc_parse(bad[i], strlen(bad[i]), &m);
		CHECKF(m.kind == RPC_INVALID, "input %s", bad[i]);
		CHECKF(m.reason[0] != '\0', "input %s", bad[i]);
		rpc_msg_free(&m);
	}
	struct rpc_msg m;
	rpc_parse("{\"foo\":1}", 9, &m);
	CHECK(strcmp(m.reason, "data did not match any variant of untagged enum JSONRPCMessage") == 0);
	rpc_msg_free(&m);
}

static void test_ids(void)
{
	struct rpc_msg m;
	const char *s = "{\"id\":-9223372036854775808,\"method\":\"x\",\"params\":null}";
	rpc_parse(s, strlen(s), &m);
	REQUIRE(m.kind == RPC_REQUEST);
	CHECK(!m.id.is_str && m.id.num == INT64_MIN);
	CHECK(m.params == NULL);

	struct buf b = { 0 };
	struct jw w;
	jw_init(&w, &b);
	rpc_result_begin(&w, &m.id);
	jw_obj_open(&w);
	jw_obj_close(&w);
	rpc_result_end(&w);
	CHECK(jw_ok(&w));
	CHECK(b.len == strlen("{\"id\":-9223372036854775808,\"result\":{}}"));
	CHECK(memcmp(b.data, "{\"id\":-9223372036854775808,\"result\":{}}", b.len) == 0);
	rpc_msg_free(&m);

	s = "{\"id\":\"req-\\\"7\\\"\",\"method\":\"x\"}";
	rpc_parse(s, strlen(s), &m);
	REQUIRE(m.kind == RPC_REQUEST);
	CHECK(m.id.is_str && strcmp(m.id.str, "req-\"7\"") == 0);
	struct rpc_id copy;
	REQUIRE(rpc_id_copy(&copy, &m.id) == 0);
	rpc_msg_free(&m);
	buf_reset(&b);
	rpc_write_error(&b, &copy, -32601, "no");
	const char *want = "{\"error\":{\"code\":-32601,\"message\":\"no\"},\"id\":\"req-\\\"7\\\"\"}";
	CHECKF(b.len == strlen(want) && memcmp(b.data, want, b.len) == 0, "got %.*s", (int)b.len, b.data);
	rpc_id_free(&copy);

	buf_reset(&b);
	rpc_write_error(&b, NULL, -32600, "bad");
	want = "{\"error\":{\"code\":-32600,\"message\":\"bad\"},\"id\":-1}";
	CHECK(b.len == strlen(want) && memcmp(b.data, want, b.len) == 0);
	buf_free(&b);
}

static void test_writer(void)
{
	struct buf b = { 0 };
	struct jw w;
	jw_init(&w, &b);
	rpc_notification_begin(&w, "process/output");
	jw_obj_open(&w);
	jw_key(&w, "processId");
	jw_cstr(&w, "a\"b\\c\n\x01");
	jw_key(&w, "seq");
	jw_u64(&w, 9223372036854775807ull);
	jw_key(&w, "chunk");
	jw_b64(&w, "hi", 2);
	jw_key(&w, "list");
	jw_arr_open(&w);
	jw_bool(&w, true);
	jw_null(&w);
	jw_i64(&w, -3);
	jw_arr_close(&w);
	jw_obj_close(&w);
	rpc_notification_end(&w);
	REQUIRE(jw_ok(&w));
	const char *want = "{\"method\":\"process/output\",\"params\":{\"processId\":\"a\\\"b\\\\c\\n\\u0001\","
			   "\"seq\":9223372036854775807,\"chunk\":\"aGk=\",\"list\":[true,null,-3]}}";
	CHECKF(b.len == strlen(want) && memcmp(b.data, want, b.len) == 0, "got %.*s", (int)b.len, b.data);
	/* What we write, jansson reads back. */
	json_error_t err;
	json_t *v = json_loadb(b.data, b.len, 0, &err);
	CHECK(v != NULL);
	json_decref(v);
	buf_free(&b);
}

static json_t *obj(const char *s)
{
	json_error_t err;
	return json_loads(s, 0, &err);
}

static void test_params(void)
{
	struct pd_err e;
	const char *str;
	size_t len;
	bool bval = false;

	CHECK(pd_object(NULL, "ExecParams", &e) < 0);
	CHECK(strcmp(e.msg, "invalid type: null, expected struct ExecParams") == 0);

	json_t *p = obj("{\"tty\":\"yes\",\"n\":-1,\"f\":1.5,\"a\":[\"x\",2],\"m\":{\"K\":1},\"z\":null}");
	REQUIRE(p);
	CHECK(pd_bool(p, "tty", true, &bval, &e) < 0);
	CHECKF(strcmp(e.msg, "invalid type: string \"yes\", expected a boolean for `tty`") == 0, "%s", e.msg);
	CHECK(pd_string(p, "missing", true, &str, &len, &e) < 0);
	CHECK(strcmp(e.msg, "missing field `missing`") == 0);
	CHECK(pd_string(p, "missing", false, &str, &len, &e) == 0 && str == NULL);
	CHECK(pd_string(p, "z", false, &str, &len, &e) == 0 && str == NULL);
	bool present;
	uint64_t u;
	CHECK(pd_u64(p, "n", "u64", &present, &u, &e) < 0);
	CHECKF(strcmp(e.msg, "invalid value: integer `-1`, expected u64 for `n`") == 0, "%s", e.msg);
	CHECK(pd_u64(p, "f", "usize", &present, &u, &e) < 0);
	CHECKF(strcmp(e.msg, "invalid type: floating point `1.5`, expected usize for `f`") == 0, "%s", e.msg);
	const json_t *arr;
	CHECK(pd_strings(p, "a", true, &arr, &e) < 0);
	CHECKF(strcmp(e.msg, "invalid type: integer `2`, expected a string for `a[1]`") == 0, "%s", e.msg);
	CHECK(pd_string_map(p, "m", true, &arr, &e) < 0);
	CHECKF(strcmp(e.msg, "invalid type: integer `1`, expected a string for `m.K`") == 0, "%s", e.msg);
	CHECK(pd_strings(p, "m", true, &arr, &e) < 0);
	CHECKF(strcmp(e.msg, "invalid type: map, expected a sequence for `m`") == 0, "%s", e.msg);
	json_decref(p);
}

static const struct tap_case cases[] = {
	{ "classify", test_classify },
	{ "invalid", test_invalid },
	{ "ids", test_ids },
	{ "writer", test_writer },
	{ "params", test_params },
	{ NULL, NULL },
};

int main(int argc, char **argv)
{
	return tap_main(argc, argv, cases);
}
