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

/* Strings are written as valid UTF-8 whatever they hold: well-formed
 * sequences as they are, any other byte as U+FFFD (found by fuzz_session:
 * a -32600 quoting jansson's "near '...'" cut an input's bad bytes in). */
static void test_writer_utf8(void)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
		{ "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"" },
		{ "a\x81" "b", "\"a\\ufffdb\"" },			/* stray continuation */
		{ "\xc3", "\"\\ufffd\"" },				/* cut short */
		{ "\xe2\x82", "\"\\ufffd\\ufffd\"" },
		{ "\xc0\xaf", "\"\\ufffd\\ufffd\"" },		/* overlong '/' */
		{ "\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\"" },	/* a surrogate */
		{ "\xf4\x90\x80\x80", "\"\\ufffd\\ufffd\\ufffd\\ufffd\"" },	/* > U+10FFFF */
		{ "\xff\"", "\"\\ufffd\\\"\"" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct buf b = { 0 };
		struct jw w;
		jw_init(&w, &b);
		jw_cstr(&w, cases[i].in);
		CHECKF(jw_ok(&w) && b.len == strlen(cases[i].want) &&
		       memcmp(b.data, cases[i].want, b.len) == 0, "case %zu: got %.*s", i, (int)b.len,
		       b.data);
		json_t *v = json_loadb(b.data, b.len, JSON_DECODE_ANY, NULL);
		CHECKF(json_is_string(v), "case %zu: jansson cannot read it back", i);
		json_decref(v);
		buf_free(&b);
	}
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

/* \u0000 anywhere in a string is decoded, with the length kept. */
static void test_nul_strings(void)
{
	struct rpc_msg m;
	const char *s = "{\"id\":\"a\\u0000b\",\"method\":\"x\\u0000y\","
			"\"params\":{\"processId\":\"p\\u0000\"}}";
	rpc_parse(s, strlen(s), &m);
	REQUIRE(m.kind == RPC_REQUEST);
	CHECK(m.id.is_str && m.id.len == 3 && memcmp(m.id.str, "a\0b", 3) == 0);
	CHECK(m.method_len == 3 && memcmp(m.method, "x\0y", 3) == 0);
	CHECK(!m.nul_key_found);
	struct pd_err e;
	const char *str;
	size_t len;
	CHECK(pd_string(m.params, "processId", true, &str, &len, &e) == 0 && len == 2);
	/* Without a length the caller wants a C string: refused, naming the field. */
	CHECK(pd_string(m.params, "processId", true, &str, NULL, &e) < 0);
	CHECKF(strcmp(e.msg, "`processId` must not contain a NUL byte") == 0, "%s", e.msg);

	/* The id goes back out exactly. */
	struct buf b = { 0 };
	rpc_write_error(&b, &m.id, -32601, "no");
	const char *want = "{\"error\":{\"code\":-32601,\"message\":\"no\"},\"id\":\"a\\u0000b\"}";
	CHECKF(b.len == strlen(want) && memcmp(b.data, want, b.len) == 0, "got %.*s", (int)b.len,
	       b.data);
	buf_free(&b);
	rpc_msg_free(&m);

	json_t *p = json_loads("{\"argv\":[\"a\",\"b\\u0000\"],\"env\":{\"K\":\"\\u0000\"}}",
			       JSON_ALLOW_NUL, NULL);
	REQUIRE(p);
	const json_t *arr;
	CHECK(pd_strings(p, "argv", true, &arr, &e) < 0);
	CHECKF(strcmp(e.msg, "`argv[1]` must not contain a NUL byte") == 0, "%s", e.msg);
	CHECK(pd_string_map(p, "env", true, &arr, &e) < 0);
	CHECKF(strcmp(e.msg, "`env.K` must not contain a NUL byte") == 0, "%s", e.msg);
	json_decref(p);
}

/* jansson cannot keep a NUL in an object key: the message is still decoded,
 * with the place of that key, so the request keeps its id. */
static void test_nul_keys(void)
{
	struct rpc_msg m;
	const char *s = "{\"id\":7,\"method\":\"process/start\",\"params\":{\"argv\":[\"[{,\"],"
			"\"env\":{\"A\":\"\\u0000\",\"B\\u0000C\":\"1\"}}}";
	rpc_parse(s, strlen(s), &m);
	REQUIRE(m.kind == RPC_REQUEST);
	CHECK(!m.id.is_str && m.id.num == 7);
	CHECK(m.nul_key_found);
	CHECKF(strcmp(m.nul_key_in, "params.env") == 0, "in `%s`", m.nul_key_in);
	rpc_msg_free(&m);

	s = "{\"id\":1,\"method\":\"x\",\"\\u0000\":[{\"a\":1}]}";
	rpc_parse(s, strlen(s), &m);
	CHECK(m.kind == RPC_REQUEST && m.nul_key_found && m.nul_key_in[0] == '\0');
	rpc_msg_free(&m);

	s = "{\"id\":1,\"method\":\"x\",\"params\":{\"l\":[{\"\\\\u0000\":1},{\"k\\u0000\":2}]}}";
	rpc_parse(s, strlen(s), &m);
	CHECK(m.kind == RPC_REQUEST && m.nul_key_found);
	CHECKF(strcmp(m.nul_key_in, "params.l[]") == 0, "in `%s`", m.nul_key_in);
	rpc_msg_free(&m);

	/* An escaped backslash before u0000 is no NUL; bad JSON stays bad. */
	s = "{\"id\":1,\"method\":\"x\",\"params\":{\"\\\\u0000\":1}}";
	rpc_parse(s, strlen(s), &m);
	CHECK(m.kind == RPC_REQUEST && !m.nul_key_found);
	rpc_msg_free(&m);
	s = "{\"id\":1,\"method\":\"x\",\"params\":{\"\\u0000\":1}";
	rpc_parse(s, strlen(s), &m);
	CHECK(m.kind == RPC_INVALID && !m.nul_key_found && m.reason[0]);
	rpc_msg_free(&m);
}

static void test_show(void)
{
	char out[16];
	CHECK(strcmp(pd_show("a\0b", 3, out, sizeof(out)), "a\\u0000b") == 0);
	/* Cut to fit, never inside \u0000 or a UTF-8 sequence. */
	CHECK(strcmp(pd_show("abcdefghijkl\0", 13, out, sizeof(out)), "abcdefghijkl") == 0);
	CHECK(strcmp(pd_show("abcdefghijklmn\xc3\xa9", 16, out, sizeof(out)), "abcdefghijklmn") == 0);
	CHECK(jw_utf8_prefix("ab\xe2\x82\xac", 5) == 5);
	CHECK(jw_utf8_prefix("ab\xe2\x82", 4) == 2);
	CHECK(jw_utf8_prefix("ab\xf0\x9f\x98", 5) == 2);
	CHECK(jw_utf8_prefix("ab", 2) == 2);
	CHECK(jw_utf8_prefix("", 0) == 0);
}

static const struct tap_case cases[] = {
	{ "classify", test_classify },
	{ "invalid", test_invalid },
	{ "ids", test_ids },
	{ "writer", test_writer },
	{ "writer_utf8", test_writer_utf8 },
	{ "params", test_params },
	{ "nul_strings", test_nul_strings },
	{ "nul_keys", test_nul_keys },
	{ "show", test_show },
	{ NULL, NULL },
};

int main(int argc, char **argv)
{
	return tap_main(argc, argv, cases);
}
