/* uri: file: URIs to absolute paths (see uri.h). */
#include "uri.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "jsonrpc.h"

int uri_hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* Remove "." and ".." segments of an absolute path in place (URL rules). */
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

/* Decode a file: URI into a malloc'd absolute path. On failure NULL, with the
 * error code and text in *code and msg. */
char *uri_to_path(const char *uri, int *code, char *msg, size_t msglen)
{
	const char *p = uri;
	if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')))
		goto relative;
	while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
	       *p == '+' || *p == '-' || *p == '.')
		p++;
	if (*p != ':')
		goto relative;
	size_t slen = (size_t)(p - uri);
	if (slen != 4 || strncasecmp(uri, "file", 4) != 0) {
		char scheme[65];
		size_t k = slen > 64 ? 64 : slen;
		for (size_t i = 0; i < k; i++)
			scheme[i] = (uri[i] >= 'A' && uri[i] <= 'Z') ? (char)(uri[i] - 'A' + 'a') : uri[i];
		scheme[k] = '\0';
		*code = RPC_INVALID_PARAMS;
		snprintf(msg, msglen, "unsupported path URI scheme `%s`", scheme);
		return NULL;
	}
	p++;
	if (p[0] == '/' && p[1] == '/') {
		const char *host = p + 2;
		const char *end = host + strcspn(host, "/?#");
		size_t hlen = (size_t)(end - host);
		if (hlen && !(hlen == 9 && strncasecmp(host, "localhost", 9) == 0)) {
			*code = RPC_INVALID_REQUEST;
			snprintf(msg, msglen, "'%.300s' is invalid on 'linux'", uri);
			return NULL;
		}
		p = end;
	}
	size_t n = strcspn(p, "?#");
	char *out = malloc(n + 2);
	if (!out) {
		*code = RPC_INTERNAL_ERROR;
		snprintf(msg, msglen, "out of memory");
		return NULL;
	}
	size_t o = 0;
	out[o++] = '/';
	for (size_t i = 0; i < n; i++) {
		int hi, lo;
		char ch = p[i];
		if (ch == '%' && i + 2 < n + 1 && (hi = uri_hexval(p[i + 1])) >= 0 &&
		    (lo = uri_hexval(p[i + 2])) >= 0) {
			ch = (char)(hi * 16 + lo);
			i += 2;
		}
		if (ch == '\0') {
			free(out);
			*code = RPC_INVALID_PARAMS;
			snprintf(msg, msglen, "invalid URI: path contains a NUL byte");
			return NULL;
		}
		out[o++] = ch;
	}
	out[o] = '\0';
	uri_normalize(out);
	return out;
relative:
	*code = RPC_INVALID_PARAMS;
	snprintf(msg, msglen, "invalid URI: relative URL without a base");
	return NULL;
}

