/* fuzz_http: the HTTP upgrade request parser on any bytes.
 *
 * Invariants: a parse never reads past len (ASan); DONE reports a head
 * length within the input that ends at a blank line, and every shorter
 * prefix of that head is INCOMPLETE (or already BAD); the fields are
 * NUL-terminated; an accepted upgrade key yields a 28-character accept.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http_request req;
	const char *buf = (const char *)data;
	enum http_parse r = http_parse_request(buf, size, 16384, &req);

	if (r != HTTP_DONE && r != HTTP_INCOMPLETE && r != HTTP_BAD && r != HTTP_TOO_LARGE)
		abort();
	if (r != HTTP_DONE)
		return 0;
	if (req.head_len == 0 || req.head_len > size || buf[req.head_len - 1] != '\n')
		abort();
	if (!memchr(req.method, '\0', sizeof(req.method)) || !memchr(req.path, '\0', sizeof(req.path)) ||
	    !memchr(req.ws_key, '\0', sizeof(req.ws_key)) || !memchr(req.origin, '\0', sizeof(req.origin)))
		abort();
	/* The same head cut short is not DONE. */
	struct http_request again;
	enum http_parse r2 = http_parse_request(buf, req.head_len - 1, 16384, &again);
	if (r2 == HTTP_DONE)
		abort();
	if (http_is_ws_upgrade(&req)) {
		char accept[29];
		http_ws_accept(req.ws_key, accept);
		if (strlen(accept) != 28)
			abort();
	}
	char out[512];
	size_t n = http_format_response(out, sizeof(out), 404, NULL, req.path);
	if (n && strlen(out) != n)
		abort();
	return 0;
}
