/* fuzz_uri: proto/uri's file: URI rules on any input.
 *
 * The input (cut at its first NUL, as a JSON string without one is) goes
 * through uri_to_path, uri_cwd_path and uri_file_path. Invariants: they
 * agree (the same path, or all fail; cwd's only extra is a plain absolute
 * path, which it takes as it is); a failure names its reason and a code
 * among -32602/-32600/-32603; a path is absolute, normalised (no "//", no
 * "." or ".." segment, no trailing '/' but for "/") and has no NUL; and
 * uri_to_path of the file: URI uri_from_path builds from it gives it back.
 * Every buffer has its exact size, so ASan sees any read past one.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonrpc.h"
#include "uri.h"

#define fz_check(cond) \
	do { \
		if (!(cond)) { \
			fprintf(stderr, "fuzz_uri: %s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
			abort(); \
		} \
	} while (0)

/* Absolute and normalised: "/" or "/seg/seg", no empty, "." or ".." segment. */
static void fz_check_normal(const char *p, size_t len)
{
	fz_check(len >= 1 && p[0] == '/');
	fz_check(len == 1 || p[len - 1] != '/');
	for (size_t i = 0; i < len;) {
		size_t j = i + 1;
		while (j < len && p[j] != '/')
			j++;
		size_t n = j - i - 1;		/* the segment after p[i] == '/' */
		fz_check(len == 1 || n > 0);
		fz_check(!(n == 1 && p[i + 1] == '.'));
		fz_check(!(n == 2 && p[i + 1] == '.' && p[i + 2] == '.'));
		i = j;
	}
}

/* A path uri_to_path gave: its properties and the round trip. */
static void fz_check_path(const char *p, size_t len_hint)
{
	size_t len = strlen(p);
	fz_check(len <= len_hint + 1);	/* decoding never grows it (plus the leading '/') */
	fz_check_normal(p, len);
	size_t ulen;
	char *u = uri_from_path(p, &ulen);
	fz_check(u && ulen == strlen(u) && strncmp(u, "file://", 7) == 0);
	int code;
	char msg[512];
	char *back = uri_to_path(u, &code, msg, sizeof(msg));
	fz_check(back && strcmp(back, p) == 0);
	free(back);
	free(u);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t n = strnlen((const char *)data, size);
	char *s = malloc(n + 1);
	fz_check(s);
	memcpy(s, data, n);
	s[n] = '\0';

	int code = 0;
	char msg[512] = "";
	char *p = uri_to_path(s, &code, msg, sizeof(msg));
	enum uri_error err;
	char *q = uri_file_path(s, &err);
	fz_check(!p == !q);
	if (p) {
		fz_check(err == URI_OK && strcmp(p, q) == 0);
		fz_check_path(p, n);
	} else {
		fz_check(err != URI_OK && msg[0]);
		fz_check(code == RPC_INVALID_PARAMS || code == RPC_INVALID_REQUEST ||
			 code == RPC_INTERNAL_ERROR);
		fz_check((code == RPC_INVALID_REQUEST) == (err == URI_REMOTE_HOST));
	}

	char cmsg[512] = "";
	char *c = uri_cwd_path(s, cmsg, sizeof(cmsg));
	if (p)
		fz_check(c && strcmp(c, p) == 0);
	else if (err == URI_RELATIVE && s[0] == '/')
		fz_check(c && strcmp(c, s) == 0);	/* a plain absolute path, as it is */
	else
		fz_check(!c && strncmp(cmsg, "cwd ", 4) == 0);
	free(c);
	free(p);
	free(q);
	free(s);
	return 0;
}
