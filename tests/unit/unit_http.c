/* unit_http: transport/http request-head parsing and responses.
 *
 * Every prefix of a valid upgrade is incomplete and the whole is done, at
 * any chunking; the RFC 6455 accept sample; captured headers; each kind of
 * bad line; too-large heads; response formatting. Parser inputs live in
 * exact-size heap buffers so ASan catches any read past len.
 */
#include "http.h"
#include "tap.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define HTTP_TEST_MAX 8192

static const char http_sample[] =
	"GET /exec?token=abc&x=1 HTTP/1.1\r\n"
	"Host: 127.0.0.1:8080\r\n"
	"Upgrade: websocket\r\n"
	"Connection: keep-alive, Upgrade\r\n"
	"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
	"Sec-WebSocket-Version: 13\r\n"
	"Origin: http://example.com\r\n"
	"Authorization: Bearer s3cr3t\r\n"
	"\r\n";

/* Parse s[0..n) from an exact-size heap copy. */
static enum http_parse http_test_parse_n(const char *s, size_t n, size_t max_head,
					 struct http_request *req)
{
	char *copy = malloc(n ? n : 1);
	if (!copy)
		return HTTP_BAD;
	memcpy(copy, s, n);
	enum http_parse r = http_parse_request(copy, n, max_head, req);
	free(copy);
	return r;
}

static enum http_parse http_test_parse(const char *s, struct http_request *req)
{
	return http_test_parse_n(s, strlen(s), HTTP_TEST_MAX, req);
}

/* A whole request built from a request line and header lines. */
static enum http_parse http_test_lines(const char *line1, const char *headers,
				       struct http_request *req)
{
	char buf[4096];
	snprintf(buf, sizeof(buf), "%s\r\n%s\r\n", line1, headers);
	return http_test_parse(buf, req);
}

static void test_sample_upgrade(void)
{
	struct http_request req;
	REQUIRE(http_test_parse(http_sample, &req) == HTTP_DONE);
	CHECK(!strcmp(req.method, "GET"));
	CHECKF(!strcmp(req.path, "/exec"), "path \"%s\"", req.path);
	CHECK(req.version_minor == 1);
	CHECK(req.upgrade_websocket);
	CHECK(req.connection_upgrade);
	CHECK(!strcmp(req.ws_key, "dGhlIHNhbXBsZSBub25jZQ=="));
	CHECK(req.ws_version == 13);
	CHECK(req.has_origin && !strcmp(req.origin, "http://example.com"));
	CHECK(!strcmp(req.authorization, "Bearer s3cr3t"));
	CHECK(req.head_len == strlen(http_sample));
	CHECK(http_is_ws_upgrade(&req));
}

static void test_every_prefix_incomplete(void)
{
	struct http_request req;
	size_t n = strlen(http_sample);
	for (size_t i = 0; i < n; i++) {
		enum http_parse r = http_test_parse_n(http_sample, i, HTTP_TEST_MAX, &req);
		CHECKF(r == HTTP_INCOMPLETE, "prefix %zu -> %d", i, r);
	}
	CHECK(http_test_parse_n(http_sample, n, HTTP_TEST_MAX, &req) == HTTP_DONE);
}

/* Bytes arrive in random-size pieces; the caller reparses the growing
 * buffer each time, as the listener does. */
static void test_adversarial_chunking(void)
{
	uint64_t rng = 88172645463325252ull;
	size_t n = strlen(http_sample);
	for (int round = 0; round < 300; round++) {
		size_t have = 0;
		enum http_parse r = HTTP_INCOMPLETE;
		struct http_request req;
		while (have < n) {
			rng ^= rng << 13;
			rng ^= rng >> 7;
			rng ^= rng << 17;
			size_t step = 1 + (size_t)(rng % (round % 3 ? 7 : 64));
			have = have + step > n ? n : have + step;
			r = http_test_parse_n(http_sample, have, HTTP_TEST_MAX, &req);
			if (have < n)
				REQUIREF(r == HTTP_INCOMPLETE, "round %d at %zu -> %d", round, have, r);
		}
		REQUIRE(r == HTTP_DONE);
		CHECK(req.head_len == n && http_is_ws_upgrade(&req));
	}
}

static void test_trailing_bytes_after_head(void)
{
	/* a WebSocket frame sent right behind the head is not part of it */
	char buf[1024];
	size_t n = strlen(http_sample);
	memcpy(buf, http_sample, n);
	memcpy(buf + n, "\x81\x85garbage", 9);
	struct http_request req;
	CHECK(http_test_parse_n(buf, n + 9, HTTP_TEST_MAX, &req) == HTTP_DONE);
	CHECK(req.head_len == n);
}

static void test_bare_lf(void)
{
	struct http_request req;
	const char *s = "GET /ws HTTP/1.1\nUpgrade: websocket\nConnection: upgrade\n"
			"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\nSec-WebSocket-Version: 13\n\n";
	REQUIRE(http_test_parse(s, &req) == HTTP_DONE);
	CHECK(req.head_len == strlen(s));
	CHECK(http_is_ws_upgrade(&req));
	CHECK(!req.has_origin && req.authorization[0] == '\0');
	/* mixed terminators */
	const char *m = "GET / HTTP/1.0\r\nHost: x\n\r\n";
	REQUIRE(http_test_parse(m, &req) == HTTP_DONE);
	CHECK(req.head_len == strlen(m) && req.version_minor == 0);
}

static void test_accept_rfc6455(void)
{
	/* RFC 6455 section 1.3's sample, then a second well-known pair */
	char out[29];
	memset(out, 'x', sizeof(out));
	http_ws_accept("dGhlIHNhbXBsZSBub25jZQ==", out);
	CHECK(out[28] == '\0' && strlen(out) == 28);
	CHECKF(!strcmp(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="), "got \"%.29s\"", out);
	http_ws_accept("x3JJHMbDL1EzLkh9GBhXDw==", out);
	CHECKF(!strcmp(out, "HSmrc0sMlYUkAGmm5OPpG2HaGWk="), "got \"%s\"", out);
}

static void test_case_and_lws(void)
{
	struct http_request req;
	REQUIRE(http_test_lines("GET /a/b HTTP/1.1",
		"uPgRaDe:\t  WebSocket \t\r\n"
		"CONNECTION:   Keep-Alive ,  UPGRADE  \r\n"
		"sec-websocket-key:    dGhlIHNhbXBsZSBub25jZQ==   \r\n"
		"SEC-WEBSOCKET-VERSION:13\r\n"
		"origin:  https://a.example  \r\n"
		"AUTHORIZATION:\tBasic  dXNlcjpwdw==\t\r\n", &req) == HTTP_DONE);
	CHECK(req.upgrade_websocket && req.connection_upgrade);
	CHECK(!strcmp(req.ws_key, "dGhlIHNhbXBsZSBub25jZQ=="));
	CHECK(req.ws_version == 13);
	CHECK(!strcmp(req.origin, "https://a.example"));
	CHECKF(!strcmp(req.authorization, "Basic  dXNlcjpwdw=="), "\"%s\"", req.authorization);
	CHECK(!strcmp(req.path, "/a/b"));
	CHECK(http_is_ws_upgrade(&req));
}

static void test_token_lists(void)
{
	struct http_request req;
	/* a token is a whole list element, not a substring */
	REQUIRE(http_test_lines("GET / HTTP/1.1",
		"Upgrade: websockets\r\nConnection: upgraded, notupgrade\r\n", &req) == HTTP_DONE);
	CHECK(!req.upgrade_websocket && !req.connection_upgrade);
	REQUIRE(http_test_lines("GET / HTTP/1.1",
		"Upgrade: h2c, ,websocket\r\nConnection: ,,upgrade,\r\n", &req) == HTTP_DONE);
	CHECK(req.upgrade_websocket && req.connection_upgrade);
	/* repeated headers combine */
	REQUIRE(http_test_lines("GET / HTTP/1.1",
		"Connection: keep-alive\r\nConnection: Upgrade\r\nUpgrade: foo\r\n"
		"Upgrade: websocket\r\n", &req) == HTTP_DONE);
	CHECK(req.upgrade_websocket && req.connection_upgrade);
	/* an empty value is no token */
	REQUIRE(http_test_lines("GET / HTTP/1.1", "Upgrade:\r\nConnection:   \r\n", &req) == HTTP_DONE);
	CHECK(!req.upgrade_websocket && !req.connection_upgrade);
}

static void test_path_and_query(void)
{
	struct http_request req;
	REQUIRE(http_test_lines("GET /readyz?verbose=1?x HTTP/1.1", "", &req) == HTTP_DONE);
	CHECK(!strcmp(req.path, "/readyz"));
	REQUIRE(http_test_lines("GET /? HTTP/1.1", "", &req) == HTTP_DONE);
	CHECK(!strcmp(req.path, "/"));
	REQUIRE(http_test_lines("GET ?only HTTP/1.1", "", &req) == HTTP_DONE);
	CHECK(!strcmp(req.path, ""));
	REQUIRE(http_test_lines("POST /livez HTTP/1.0", "", &req) == HTTP_DONE);
	CHECK(!strcmp(req.method, "POST") && !strcmp(req.path, "/livez"));
	CHECK(req.version_minor == 0);
	/* a path that fills path[] exactly, and one byte more */
	char line[1200];
	char path[1100];
	memset(path, 'p', sizeof(path));
	path[0] = '/';
	path[1023] = '\0';
	snprintf(line, sizeof(line), "GET %s?q HTTP/1.1", path);
	REQUIRE(http_test_lines(line, "", &req) == HTTP_DONE);
	CHECK(strlen(req.path) == 1023);
	path[1023] = 'p';
	path[1024] = '\0';
	snprintf(line, sizeof(line), "GET %s HTTP/1.1", path);
	CHECK(http_test_lines(line, "", &req) == HTTP_BAD);
	/* but a long query is fine */
	char q[1500];
	memset(q, 'q', sizeof(q));
	q[sizeof(q) - 1] = '\0';
	char line2[1700];
	snprintf(line2, sizeof(line2), "GET /x?%s HTTP/1.1", q);
	REQUIRE(http_test_lines(line2, "", &req) == HTTP_DONE);
	CHECK(!strcmp(req.path, "/x"));
}

static void test_bad_request_lines(void)
{
	static const char *const bad[] = {
		"",
		"GET",
		"GET /",
		"GET / ",
		"GET /  HTTP/1.1",
		"GET  / HTTP/1.1",
		" GET / HTTP/1.1",
		"GET / HTTP/1.1 ",
		"GET / HTTP/2.0",
		"GET / HTTP/1.",
		"GET / HTTP/1.11",
		"GET / http/1.1",
		"GET / HTTP/1.x",
		"GET /a\tb HTTP/1.1",
		"GET /\x7f HTTP/1.1",
		"GET /\xc3\xa9 HTTP/1.1",
		"G(T / HTTP/1.1",
		"GETGETGETGETGETGE / HTTP/1.1",
		"GET\t/ HTTP/1.1",
		"GET / HTTP/1.1\r",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct http_request req;
		enum http_parse r = http_test_lines(bad[i], "Host: x\r\n", &req);
		CHECKF(r == HTTP_BAD, "\"%s\" -> %d", bad[i], r);
	}
	/* 15-byte method fits, exactly */
	struct http_request req;
	REQUIRE(http_test_lines("GETGETGETGETGET / HTTP/1.1", "", &req) == HTTP_DONE);
	CHECK(!strcmp(req.method, "GETGETGETGETGET"));
	/* a NUL inside the request line */
	const char nul[] = "GET /\0x HTTP/1.1\r\n\r\n";
	CHECK(http_test_parse_n(nul, sizeof(nul) - 1, HTTP_TEST_MAX, &req) == HTTP_BAD);
}

static void test_bad_header_lines(void)
{
	static const char *const bad[] = {
		"NoColonHere\r\n",
		": empty-name\r\n",
		"Bad Name: x\r\n",
		"Name : x\r\n",
		" folded: x\r\n",
		"Host: x\r\n continued\r\n",
		"\tHost: x\r\n",
		"X-Ctl: a\001b\r\n",
		"X-Del: a\x7f\r\n",
		"X-CR: a\rb\r\n",
		"X-CRCR: ab\r\r\n",
		"X(y): 1\r\n",
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Key: eA==\r\n",
		"Origin: a\r\nOrigin: b\r\n",
		"Authorization: a\r\nauthorization: a\r\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct http_request req;
		enum http_parse r = http_test_lines("GET / HTTP/1.1", bad[i], &req);
		CHECKF(r == HTTP_BAD, "header %zu -> %d", i, r);
	}
	/* a NUL inside a header value */
	struct http_request req;
	const char nul[] = "GET / HTTP/1.1\r\nX: a\0b\r\n\r\n";
	CHECK(http_test_parse_n(nul, sizeof(nul) - 1, HTTP_TEST_MAX, &req) == HTTP_BAD);
	/* a bad line is refused as soon as it is complete, before the blank line */
	CHECK(http_test_parse("GET / HTTP/1.1\r\nbroken\r\n", &req) == HTTP_BAD);
	CHECK(http_test_parse("GET / HTTP/1.1\r\nbroken", &req) == HTTP_INCOMPLETE);
	/* obs-text in a value is allowed */
	REQUIRE(http_test_lines("GET / HTTP/1.1", "X-Name: caf\xc3\xa9\r\n", &req) == HTTP_DONE);
}

static void test_oversized_values(void)
{
	struct http_request req;
	char hdr[2048];
	char val[1024];
	/* Origin is truncated, not refused */
	memset(val, 'o', 400);
	val[400] = '\0';
	snprintf(hdr, sizeof(hdr), "Origin: %s\r\n", val);
	REQUIRE(http_test_lines("GET / HTTP/1.1", hdr, &req) == HTTP_DONE);
	CHECK(req.has_origin && strlen(req.origin) == sizeof(req.origin) - 1);
	/* a key or credentials that do not fit are refused, never cut */
	memset(val, 'k', 64);
	val[64] = '\0';
	snprintf(hdr, sizeof(hdr), "Sec-WebSocket-Key: %s\r\n", val);
	CHECK(http_test_lines("GET / HTTP/1.1", hdr, &req) == HTTP_BAD);
	val[63] = '\0';
	snprintf(hdr, sizeof(hdr), "Sec-WebSocket-Key: %s\r\n", val);
	REQUIRE(http_test_lines("GET / HTTP/1.1", hdr, &req) == HTTP_DONE);
	CHECK(strlen(req.ws_key) == 63);
	memset(val, 'a', 512);
	val[512] = '\0';
	snprintf(hdr, sizeof(hdr), "Authorization: %s\r\n", val);
	CHECK(http_test_lines("GET / HTTP/1.1", hdr, &req) == HTTP_BAD);
	val[511] = '\0';
	snprintf(hdr, sizeof(hdr), "Authorization: %s\r\n", val);
	REQUIRE(http_test_lines("GET / HTTP/1.1", hdr, &req) == HTTP_DONE);
	CHECK(strlen(req.authorization) == 511);
}

static void test_too_large(void)
{
	struct http_request req;
	size_t n = strlen(http_sample);
	/* exactly fits */
	CHECK(http_test_parse_n(http_sample, n, n, &req) == HTTP_DONE);
	/* one byte short of room for the blank line's LF */
	CHECK(http_test_parse_n(http_sample, n, n - 1, &req) == HTTP_TOO_LARGE);
	CHECK(http_test_parse_n(http_sample, n - 1, n - 1, &req) == HTTP_TOO_LARGE);
	CHECK(http_test_parse_n(http_sample, n - 2, n - 1, &req) == HTTP_INCOMPLETE);
	/* an endless header line */
	size_t big = 10000;
	char *s = malloc(big);
	REQUIRE(s);
	memcpy(s, "GET / HTTP/1.1\r\nX: ", 19);
	memset(s + 19, 'a', big - 19);
	CHECK(http_test_parse_n(s, big, 4096, &req) == HTTP_TOO_LARGE);
	CHECK(http_test_parse_n(s, 4095, 4096, &req) == HTTP_INCOMPLETE);
	CHECK(http_test_parse_n(s, 4096, 4096, &req) == HTTP_TOO_LARGE);
	/* endless valid header lines */
	for (size_t i = 16; i + 6 <= big; i += 6)
		memcpy(s + i, "A: b\r\n", 6);
	CHECK(http_test_parse_n(s, big, 4096, &req) == HTTP_TOO_LARGE);
	CHECK(http_test_parse_n(s, 2000, 4096, &req) == HTTP_INCOMPLETE);
	free(s);
	/* no room at all */
	CHECK(http_test_parse_n(http_sample, 0, 0, &req) == HTTP_TOO_LARGE);
}

static void test_is_ws_upgrade(void)
{
	static const struct {
		const char *line;
		const char *headers;
		bool want;
	} c[] = {
		{ "GET /ws HTTP/1.1", "Upgrade: websocket\r\nConnection: Upgrade\r\n"
		  "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA==\r\nSec-WebSocket-Version: 13\r\n", true },
		{ "POST /ws HTTP/1.1", "Upgrade: websocket\r\nConnection: Upgrade\r\n"
		  "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA==\r\nSec-WebSocket-Version: 13\r\n", false },
		{ "get /ws HTTP/1.1", "Upgrade: websocket\r\nConnection: Upgrade\r\n"
		  "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA==\r\nSec-WebSocket-Version: 13\r\n", false },
		{ "GET /ws HTTP/1.0", "Upgrade: websocket\r\nConnection: Upgrade\r\n"
		  "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA==\r\nSec-WebSocket-Version: 13\r\n", false },
		{ "GET /ws HTTP/1.1", "Connection: Upgrade\r\n"
		  "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA==\r\nSec-WebSocket-Version: 13\r\n", false },
		{ "GET /ws HTTP/1.1", "Upgrade: websocket\r\n"
		  "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA==\r\nSec-WebSocket-Version: 13\r\n", false },
		{ "GET /ws HTTP/1.1", "Upgrade: websocket\r\nConnection: Upgrade\r\n"
		  "Sec-WebSocket-Version: 13\r\n", false },
		{ "GET /ws HTTP/1.1", "Upgrade: websocket\r\nConnection: Upgrade\r\n"
		  "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA==\r\n", false },
		{ "GET /ws HTTP/1.1", "Upgrade: websocket\r\nConnection: Upgrade\r\n"
		  "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA==\r\nSec-WebSocket-Version: 8\r\n", false },
		{ "GET /ws HTTP/1.1", "Upgrade: websocket\r\nConnection: Upgrade\r\n"
		  "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA==\r\nSec-WebSocket-Version: 13x\r\n", false },
		{ "GET /ws HTTP/1.1", "Upgrade: websocket\r\nConnection: Upgrade\r\n"
		  "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA==\r\nSec-WebSocket-Version: 013\r\n", true },
		/* keys: 15 bytes, 17 bytes, bad symbol, non-canonical, no padding */
		{ "GET /ws HTTP/1.1", "Upgrade: websocket\r\nConnection: Upgrade\r\n"
		  "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAA\r\nSec-WebSocket-Version: 13\r\n", false },
		{ "GET /ws HTTP/1.1", "Upgrade: websocket\r\nConnection: Upgrade\r\n"
		  "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAAA=\r\nSec-WebSocket-Version: 13\r\n", false },
		{ "GET /ws HTTP/1.1", "Upgrade: websocket\r\nConnection: Upgrade\r\n"
		  "Sec-WebSocket-Key: AAAAAAAAAAA*AAAAAAAAAA==\r\nSec-WebSocket-Version: 13\r\n", false },
		{ "GET /ws HTTP/1.1", "Upgrade: websocket\r\nConnection: Upgrade\r\n"
		  "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAB==\r\nSec-WebSocket-Version: 13\r\n", false },
		{ "GET /ws HTTP/1.1", "Upgrade: websocket\r\nConnection: Upgrade\r\n"
		  "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAAAA\r\nSec-WebSocket-Version: 13\r\n", false },
		{ "GET /ws HTTP/1.1", "Upgrade: websocket\r\nConnection: Upgrade\r\n"
		  "Sec-WebSocket-Key: ////////////////////+w==\r\nSec-WebSocket-Version: 13\r\n", true },
	};
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		struct http_request req;
		REQUIREF(http_test_lines(c[i].line, c[i].headers, &req) == HTTP_DONE, "case %zu", i);
		CHECKF(http_is_ws_upgrade(&req) == c[i].want, "case %zu", i);
	}
}

static void test_format_101(void)
{
	char out[512];
	char acc[29];
	http_ws_accept("dGhlIHNhbXBsZSBub25jZQ==", acc);
	size_t n = http_format_response(out, sizeof(out), 101, acc, NULL);
	const char *want = "HTTP/1.1 101 Switching Protocols\r\n"
			   "Upgrade: websocket\r\n"
			   "Connection: Upgrade\r\n"
			   "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
			   "\r\n";
	CHECKF(n == strlen(want) && !strcmp(out, want), "got \"%s\"", out);
	/* exactly enough room, and one byte too little */
	CHECK(http_format_response(out, strlen(want) + 1, 101, acc, NULL) == strlen(want));
	CHECK(http_format_response(out, strlen(want), 101, acc, NULL) == 0);
	CHECK(out[0] == '\0');
	/* a key that would break the head is refused */
	CHECK(http_format_response(out, sizeof(out), 101, "abc\r\nX-Evil: 1", NULL) == 0);
}

static void test_format_plain(void)
{
	char out[512];
	size_t n = http_format_response(out, sizeof(out), 404, NULL, "not found\n");
	const char *want = "HTTP/1.1 404 Not Found\r\n"
			   "Content-Type: text/plain\r\n"
			   "Content-Length: 10\r\n"
			   "Connection: close\r\n"
			   "\r\n"
			   "not found\n";
	CHECKF(n == strlen(want) && !strcmp(out, want), "got \"%s\"", out);
	static const struct {
		int status;
		const char *reason;
	} r[] = {
		{ 200, "OK" }, { 400, "Bad Request" }, { 401, "Unauthorized" },
		{ 403, "Forbidden" }, { 404, "Not Found" }, { 405, "Method Not Allowed" },
		{ 503, "Service Unavailable" },
	};
	for (size_t i = 0; i < sizeof(r) / sizeof(r[0]); i++) {
		char line[64];
		n = http_format_response(out, sizeof(out), r[i].status, NULL, "ok");
		snprintf(line, sizeof(line), "HTTP/1.1 %d %s\r\n", r[i].status, r[i].reason);
		CHECKF(n > 0 && !strncmp(out, line, strlen(line)), "status %d: \"%s\"",
		       r[i].status, out);
		CHECK(strstr(out, "\r\nContent-Length: 2\r\n") != NULL);
		CHECK(n >= 6 && !strcmp(out + n - 6, "\r\n\r\nok"));
	}
	/* 405 names the allowed method */
	http_format_response(out, sizeof(out), 405, NULL, "");
	CHECK(strstr(out, "\r\nAllow: GET\r\n") != NULL);
	/* NULL body is empty */
	n = http_format_response(out, sizeof(out), 200, NULL, NULL);
	CHECK(n > 0 && strstr(out, "Content-Length: 0\r\n") && !strcmp(out + n - 4, "\r\n\r\n"));
	/* too small, zero capacity, nonsense status */
	CHECK(http_format_response(out, 10, 200, NULL, "body") == 0);
	CHECK(http_format_response(NULL, 0, 200, NULL, "body") == 0);
	CHECK(http_format_response(out, sizeof(out), 42, NULL, "x") == 0);
}

/* A head for a body sent after it (GET /metrics), with its content type. */
static void test_format_head(void)
{
	char out[256];
	const char *ct = "text/plain; version=0.0.4; charset=utf-8";
	size_t n = http_format_head(out, sizeof(out), 200, ct, 12345);
	const char *want = "HTTP/1.1 200 OK\r\n"
			   "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
			   "Content-Length: 12345\r\n"
			   "Connection: close\r\n"
			   "\r\n";
	CHECKF(n == strlen(want) && !strcmp(out, want), "got \"%s\"", out);
	/* exactly fitting, one byte short */
	CHECK(http_format_head(out, strlen(want) + 1, 200, ct, 12345) == strlen(want));
	CHECK(http_format_head(out, strlen(want), 200, ct, 12345) == 0 && out[0] == '\0');
	/* no content type: text/plain; 401 asks for a bearer token */
	n = http_format_head(out, sizeof(out), 401, NULL, 0);
	CHECK(n > 0 && strstr(out, "\r\nContent-Type: text/plain\r\n") &&
	      strstr(out, "\r\nWWW-Authenticate: Bearer\r\n"));
	/* a content type that would end the header early, a nonsense status */
	CHECK(http_format_head(out, sizeof(out), 200, "text/plain\r\nX-Evil: 1", 0) == 0);
	CHECK(http_format_head(out, sizeof(out), 1000, ct, 0) == 0);
}

/* Random bytes and random mutations of the sample: never a crash, never a
 * read past len (ASan), and results that make sense. */
static void test_garbage(void)
{
	uint64_t rng = 0xdeadbeefcafef00dull;
	size_t n = strlen(http_sample);
	for (int iter = 0; iter < 20000; iter++) {
		char buf[512];
		size_t len;
		rng ^= rng << 13;
		rng ^= rng >> 7;
		rng ^= rng << 17;
		if (iter % 2) {
			len = rng % sizeof(buf);
			for (size_t i = 0; i < len; i++) {
				rng ^= rng << 13;
				rng ^= rng >> 7;
				rng ^= rng << 17;
				buf[i] = (char)(rng >> 24);
			}
		} else {
			len = n;
			memcpy(buf, http_sample, n);
			buf[rng % n] = (char)(rng >> 32);
			buf[(rng >> 16) % n] = (char)(rng >> 40);
		}
		struct http_request req;
		enum http_parse r = http_test_parse_n(buf, len, 300, &req);
		REQUIRE(r == HTTP_INCOMPLETE || r == HTTP_DONE || r == HTTP_BAD ||
			r == HTTP_TOO_LARGE);
		if (r == HTTP_DONE) {
			REQUIRE(req.head_len <= len && req.head_len <= 300);
			REQUIRE(buf[req.head_len - 1] == '\n');
			REQUIRE(memchr(req.method, 0, sizeof(req.method)));
			REQUIRE(memchr(req.path, 0, sizeof(req.path)));
			REQUIRE(memchr(req.ws_key, 0, sizeof(req.ws_key)));
			REQUIRE(memchr(req.origin, 0, sizeof(req.origin)));
			REQUIRE(memchr(req.authorization, 0, sizeof(req.authorization)));
			(void)http_is_ws_upgrade(&req);
		}
	}
}

static const struct tap_case cases[] = {
	{ "sample_upgrade", test_sample_upgrade },
	{ "every_prefix_incomplete", test_every_prefix_incomplete },
	{ "adversarial_chunking", test_adversarial_chunking },
	{ "trailing_bytes_after_head", test_trailing_bytes_after_head },
	{ "bare_lf", test_bare_lf },
	{ "accept_rfc6455", test_accept_rfc6455 },
	{ "case_and_lws", test_case_and_lws },
	{ "token_lists", test_token_lists },
	{ "path_and_query", test_path_and_query },
	{ "bad_request_lines", test_bad_request_lines },
	{ "bad_header_lines", test_bad_header_lines },
	{ "oversized_values", test_oversized_values },
	{ "too_large", test_too_large },
	{ "is_ws_upgrade", test_is_ws_upgrade },
	{ "format_101", test_format_101 },
	{ "format_plain", test_format_plain },
	{ "format_head", test_format_head },
	{ "garbage", test_garbage },
	{ NULL, NULL },
};

int main(int argc, char **argv)
{
	return tap_main(argc, argv, cases);
}
