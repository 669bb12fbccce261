/* uri: file: URIs to absolute paths and back (see uri.h).
 *
 * Owns the URI rules and their error texts; pure. Must not: do I/O, or
 * know which method asked (each caller picks its texts through the
 * wrapper made for it).
 */
#include "uri.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "jsonrpc.h"

int uri_hexval(int ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

void uri_normalize(char *p)
{
	char *out = p;			/* p[0] == '/' */
	const char *in = p;
	size_t o = 0;
	while (*in) {
		while (*in == '/')
			in++;
		const char *seg = in;
		while (*in && *in != '/')
			in++;
		size_t n = (size_t)(in - seg);
		if (n == 0)
			break;
		if (n == 1 && seg[0] == '.')
			continue;
		if (n == 2 && seg[0] == '.' && seg[1] == '.') {
			while (o > 0 && out[o - 1] != '/')
				o--;
			if (o > 0)
				o--;
			continue;
		}
		out[o++] = '/';
		memmove(out + o, seg, n);
		o += n;
	}
	if (o == 0)
		out[o++] = '/';
	out[o] = '\0';
}

static bool uri_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* The length of uri's scheme (RFC 3986: ALPHA *( ALPHA / DIGIT / "+" /
 * "-" / "." ) followed by ':'), or 0 when it has none. */
static size_t uri_scheme_len(const char *uri)
{
	if (!uri_alpha(uri[0]))
		return 0;
	size_t n = 1;
	while (uri_alpha(uri[n]) || (uri[n] >= '0' && uri[n] <= '9') || uri[n] == '+' ||
	       uri[n] == '-' || uri[n] == '.')
		n++;
	return uri[n] == ':' ? n : 0;
}

/* The percent-decoded p[0..n) after a '/', normalised; NULL with *err. */
static char *uri_decode_path(const char *p, size_t n, enum uri_error *err)
{
	char *out = malloc(n + 2);
	if (!out) {
		*err = URI_NOMEM;
		return NULL;
	}
	size_t o = 0;
	out[o++] = '/';
	for (size_t i = 0; i < n; i++) {
		int hi, lo;
		char ch = p[i];
		if (ch == '%' && i + 2 < n && (hi = uri_hexval(p[i + 1])) >= 0 &&
		    (lo = uri_hexval(p[i + 2])) >= 0) {
			ch = (char)(hi * 16 + lo);
			i += 2;
		}
		if (ch == '\0') {
			free(out);
			*err = URI_NUL;
			return NULL;
		}
		out[o++] = ch;
	}
	out[o] = '\0';
	uri_normalize(out);
	*err = URI_OK;
	return out;
}

char *uri_file_path(const char *uri, enum uri_error *err)
{
	size_t slen = uri_scheme_len(uri);
	if (!slen) {
		*err = URI_RELATIVE;
		return NULL;
	}
	if (slen != 4 || strncasecmp(uri, "file", 4) != 0) {
		*err = URI_SCHEME;
		return NULL;
	}
	const char *p = uri + slen + 1;
	if (p[0] == '/' && p[1] == '/') {
		const char *host = p + 2;
		const char *end = host + strcspn(host, "/?#");
		size_t hlen = (size_t)(end - host);
		if (hlen && !(hlen == 9 && strncasecmp(host, "localhost", 9) == 0)) {
			*err = URI_REMOTE_HOST;
			return NULL;
		}
		p = end;
	}
	return uri_decode_path(p, strcspn(p, "?#"), err);
}

char *uri_to_path(const char *uri, int *code, char *msg, size_t msglen)
{
	enum uri_error err;
	char *path = uri_file_path(uri, &err);
	if (path)
		return path;
	*code = RPC_INVALID_PARAMS;
	switch (err) {
	case URI_RELATIVE:
	case URI_OK:
		snprintf(msg, msglen, "invalid URI: relative URL without a base");
		break;
	case URI_SCHEME: {
		char scheme[65];
		size_t slen = uri_scheme_len(uri);
		size_t k = slen > 64 ? 64 : slen;
		for (size_t i = 0; i < k; i++)
			scheme[i] = (uri[i] >= 'A' && uri[i] <= 'Z') ? (char)(uri[i] - 'A' + 'a') : uri[i];
		scheme[k] = '\0';
		snprintf(msg, msglen, "unsupported path URI scheme `%s`", scheme);
		break;
	}
	case URI_REMOTE_HOST:
		*code = RPC_INVALID_REQUEST;
		snprintf(msg, msglen, "'%.300s' is invalid on 'linux'", uri);
		break;
	case URI_NUL:
		snprintf(msg, msglen, "invalid URI: path contains a NUL byte");
		break;
	case URI_NOMEM:
		*code = RPC_INTERNAL_ERROR;
		snprintf(msg, msglen, "out of memory");
		break;
	}
	return NULL;
}

char *uri_cwd_path(const char *cwd, char *msg, size_t msglen)
{
	enum uri_error err = URI_RELATIVE;
	char *path = NULL;
	if (uri_scheme_len(cwd))
		path = uri_file_path(cwd, &err);
	else if (cwd[0] == '/' && !(path = strdup(cwd)))
		err = URI_NOMEM;
	if (path)
		return path;
	if (err == URI_NOMEM)
		snprintf(msg, msglen, "out of memory");
	else if (err == URI_REMOTE_HOST)
		snprintf(msg, msglen,
			 "cwd URI `%.200s` is not valid on this exec-server host: only local file URIs are supported",
			 cwd);
	else
		snprintf(msg, msglen, "cwd `%.200s` is not an absolute path", cwd);
	return NULL;
}

char *uri_from_path(const char *path, size_t *len)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = strlen(path);
	char *uri = malloc(7 + 3 * n + 1);
	if (!uri)
		return NULL;
	memcpy(uri, "file://", 7);
	size_t o = 7;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)path[i];
		if (uri_alpha((char)c) || (c >= '0' && c <= '9') || strchr("/-._~", c)) {
			uri[o++] = (char)c;
		} else {
			uri[o++] = '%';
			uri[o++] = hex[c >> 4];
			uri[o++] = hex[c & 15];
		}
	}
	uri[o] = '\0';
	*len = o;
	return uri;
}
