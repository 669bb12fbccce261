/* http: the request head before a WebSocket upgrade, and our few responses.
 *
 * Owns HTTP/1.1 head syntax: the request line, header lines, token lists,
 * the upgrade checks and the Sec-WebSocket-Accept digest. Pure and
 * stateless (each call reparses buf from the start); must never read past
 * len, must survive any byte input, and must not depend on proto/.
 */
#include "http.h"

#include <nettle/base64.h>
#include <nettle/sha1.h>
#include <nettle/version.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define HTTP_WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

/* Which once-only headers were seen (a duplicate is a bad request). */
struct http_seen {
	bool ws_key;
	bool origin;
	bool authorization;
};

static inline bool http_is_ows(char c)
{
	return c == ' ' || c == '\t';
}

/* RFC 9110 tchar: the bytes of methods and header names. */
static bool http_is_tchar(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return true;
	return c && strchr("!#$%&'*+-.^_`|~", c);
}

/* Field-value bytes: visible ASCII, SP, HTAB and obs-text; no controls. */
static inline bool http_is_value_byte(unsigned char c)
{
	return c == '\t' || (c >= 0x20 && c != 0x7f);
}

static inline char http_lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* s[0..n) equals the lower-case word w, ignoring ASCII case. */
static bool http_word_is(const char *s, size_t n, const char *w)
{
	if (strlen(w) != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (http_lower(s[i]) != w[i])
			return false;
	return true;
}

/* The comma-separated list v[0..n) holds the token tok (any case). */
static bool http_has_token(const char *v, size_t n, const char *tok)
{
	size_t i = 0;
	while (i <= n) {
		size_t j = i;
		while (j < n && v[j] != ',')
			j++;
		size_t a = i, b = j;
		while (a < b && http_is_ows(v[a]))
			a++;
		while (b > a && http_is_ows(v[b - 1]))
			b--;
		if (http_word_is(v + a, b - a, tok))
			return true;
		i = j + 1;
	}
	return false;
}

/* Copy v[0..n) as a string; -1 when it does not fit. */
static int http_copy(char *dst, size_t cap, const char *v, size_t n)
{
	if (n >= cap)
		return -1;
	memcpy(dst, v, n);
	dst[n] = '\0';
	return 0;
}

/* A decimal version number; -1 for anything else (never 13 by accident). */
static int http_parse_version(const char *v, size_t n)
{
	if (n == 0 || n > 5)
		return -1;
	int x = 0;
	for (size_t i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			return -1;
		x = x * 10 + (v[i] - '0');
	}
	return x;
}

/* "METHOD SP target SP HTTP/1.x", the line without its terminator. */
static int http_parse_request_line(const char *p, size_t n, struct http_request *req)
{
	const char *end = p + n;
	const char *sp = memchr(p, ' ', n);
	if (!sp || sp == p || (size_t)(sp - p) >= sizeof(req->method))
		return -1;
	for (const char *c = p; c < sp; c++)
		if (!http_is_tchar((unsigned char)*c))
			return -1;
	memcpy(req->method, p, (size_t)(sp - p));
	req->method[sp - p] = '\0';

	const char *t = sp + 1;
	const char *sp2 = memchr(t, ' ', (size_t)(end - t));
	if (!sp2 || sp2 == t)
		return -1;
	const char *q = sp2;
	for (const char *c = t; c < sp2; c++) {
		unsigned char u = (unsigned char)*c;
		if (u <= 0x20 || u >= 0x7f)
			return -1;
		if (u == '?' && q == sp2)
			q = c;
	}
	if (http_copy(req->path, sizeof(req->path), t, (size_t)(q - t)))
		return -1;

	const char *v = sp2 + 1;
	if (end - v != 8 || memcmp(v, "HTTP/1.", 7) || v[7] < '0' || v[7] > '9')
		return -1;
	req->version_minor = v[7] - '0';
	return 0;
}

/* Record the headers we care about; the value is already trimmed. */
static int http_take_header(const char *name, size_t nlen, const char *v, size_t vlen,
			    struct http_request *req, struct http_seen *seen)
{
	if (http_word_is(name, nlen, "upgrade")) {
		req->upgrade_websocket |= http_has_token(v, vlen, "websocket");
	} else if (http_word_is(name, nlen, "connection")) {
		req->connection_upgrade |= http_has_token(v, vlen, "upgrade");
	} else if (http_word_is(name, nlen, "sec-websocket-key")) {
		if (seen->ws_key)
			return -1;
		seen->ws_key = true;
		return http_copy(req->ws_key, sizeof(req->ws_key), v, vlen);
	} else if (http_word_is(name, nlen, "sec-websocket-version")) {
		req->ws_version = http_parse_version(v, vlen);
	} else if (http_word_is(name, nlen, "origin")) {
		if (seen->origin)
			return -1;
		seen->origin = true;
		req->has_origin = true;
		if (vlen >= sizeof(req->origin))
			vlen = sizeof(req->origin) - 1;
		memcpy(req->origin, v, vlen);
		req->origin[vlen] = '\0';
	} else if (http_word_is(name, nlen, "authorization")) {
		if (seen->authorization)
			return -1;
		seen->authorization = true;
		return http_copy(req->authorization, sizeof(req->authorization), v, vlen);
	}
	return 0;
}

/* "name: value", the line without its terminator. A line starting with
 * whitespace (obs-fold) or with space before the colon is refused. */
static int http_parse_header(const char *p, size_t n, struct http_request *req,
			     struct http_seen *seen)
{
	const char *colon = memchr(p, ':', n);
	if (!colon || colon == p)
		return -1;
	for (const char *c = p; c < colon; c++)
		if (!http_is_tchar((unsigned char)*c))
			return -1;
	const char *v = colon + 1, *end = p + n;
	for (const char *c = v; c < end; c++)
		if (!http_is_value_byte((unsigned char)*c))
			return -1;
	while (v < end && http_is_ows(*v))
		v++;
	while (end > v && http_is_ows(end[-1]))
		end--;
	return http_take_header(p, (size_t)(colon - p), v, (size_t)(end - v), req, seen);
}

enum http_parse http_parse_request(const char *buf, size_t len, size_t max_head,
				   struct http_request *req)
{
	struct http_seen seen = { 0 };
	size_t lim = len < max_head ? len : max_head;
	size_t pos = 0;
	bool first = true;

	memset(req, 0, sizeof(*req));
	while (pos < lim) {
		const char *lf = memchr(buf + pos, '\n', lim - pos);
		if (!lf)
			break;
		size_t eol = (size_t)(lf - buf);
		size_t n = eol - pos;
		if (n && buf[eol - 1] == '\r')
			n--;
		if (first) {
			if (http_parse_request_line(buf + pos, n, req))
				return HTTP_BAD;
			first = false;
		} else if (n == 0) {
			req->head_len = eol + 1;
			return HTTP_DONE;
		} else if (http_parse_header(buf + pos, n, req, &seen)) {
			return HTTP_BAD;
		}
		pos = eol + 1;
	}
	return len >= max_head ? HTTP_TOO_LARGE : HTTP_INCOMPLETE;
}

static int http_b64_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* 16 bytes in canonical padded base64: 22 symbols (the last with its 4
 * unused bits zero) and "==". */
static bool http_key_ok(const char *key)
{
	if (strlen(key) != 24 || key[22] != '=' || key[23] != '=')
		return false;
	for (int i = 0; i < 22; i++)
		if (http_b64_value(key[i]) < 0)
			return false;
	return (http_b64_value(key[21]) & 15) == 0;
}

bool http_is_ws_upgrade(const struct http_request *req)
{
	return !strcmp(req->method, "GET") && req->version_minor >= 1 &&
	       req->upgrade_websocket && req->connection_upgrade &&
	       req->ws_version == 13 && http_key_ok(req->ws_key);
}

void http_ws_accept(const char *key, char out[29])
{
	static const char guid[] = HTTP_WS_GUID;
	struct sha1_ctx ctx;
	uint8_t digest[SHA1_DIGEST_SIZE];

	sha1_init(&ctx);
	sha1_update(&ctx, strlen(key), (const uint8_t *)key);
	sha1_update(&ctx, sizeof(guid) - 1, (const uint8_t *)guid);
#if NETTLE_VERSION_MAJOR > 3 || (NETTLE_VERSION_MAJOR == 3 && NETTLE_VERSION_MINOR >= 10)
	sha1_digest(&ctx, digest);
#else
	sha1_digest(&ctx, sizeof(digest), digest);
#endif
	base64_encode_raw(out, sizeof(digest), digest);
	out[28] = '\0';
}

static const char *http_reason(int status)
{
	switch (status) {
	case 101: return "Switching Protocols";
	case 200: return "OK";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 426: return "Upgrade Required";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	default: return "Unknown";
	}
}

/* Nothing we put in a header may end it early. */
static bool http_is_header_safe(const char *s)
{
	for (; *s; s++)
		if (!http_is_value_byte((unsigned char)*s))
			return false;
	return true;
}

static size_t http_finish(char *out, size_t cap, int n)
{
	if (n < 0 || (size_t)n >= cap) {
		if (cap)
			out[0] = '\0';
		return 0;
	}
	return (size_t)n;
}

size_t http_format_response(char *out, size_t cap, int status, const char *accept_key,
			    const char *body)
{
	if (accept_key) {
		if (!http_is_header_safe(accept_key))
			return http_finish(out, cap, -1);
		return http_finish(out, cap, snprintf(out, cap,
			"HTTP/1.1 101 Switching Protocols\r\n"
			"Upgrade: websocket\r\n"
			"Connection: Upgrade\r\n"
			"Sec-WebSocket-Accept: %s\r\n"
			"\r\n", accept_key));
	}
	if (!body)
		body = "";
	size_t blen = strlen(body);
	size_t n = http_format_head(out, cap, status, NULL, blen);
	if (!n || cap - n <= blen)
		return http_finish(out, cap, -1);
	memcpy(out + n, body, blen + 1);
	return n + blen;
}

size_t http_format_head(char *out, size_t cap, int status, const char *content_type,
			size_t body_len)
{
	if (status < 100 || status > 999 || (content_type && !http_is_header_safe(content_type)))
		return http_finish(out, cap, -1);
	return http_finish(out, cap, snprintf(out, cap,
		"HTTP/1.1 %d %s\r\n"
		"Content-Type: %s\r\n"
		"Content-Length: %zu\r\n"
		"%s"
		"Connection: close\r\n"
		"\r\n", status, http_reason(status), content_type ? content_type : "text/plain",
		body_len,
		status == 405 ? "Allow: GET\r\n" :
		status == 401 ? "WWW-Authenticate: Bearer\r\n" : ""));
}
