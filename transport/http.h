/* http: the HTTP/1.1 request head that precedes a WebSocket upgrade.
 *
 * Parses one request head out of a byte buffer (pure, incremental: call it
 * again with more bytes), and builds the few responses the listener sends
 * (101 with Sec-WebSocket-Accept, 200/400/403/404/...). No sockets here.
 */
#ifndef RINGEXEC_HTTP_H
#define RINGEXEC_HTTP_H

#include <stdbool.h>
#include <stddef.h>

enum http_parse {
	HTTP_INCOMPLETE = 0,	/* no blank line yet and still under max_head */
	HTTP_DONE = 1,		/* a whole head; req filled, req->head_len set */
	HTTP_BAD = -1,		/* malformed request line or header */
	HTTP_TOO_LARGE = -2,	/* no end of head within max_head bytes */
};

struct http_request {
	char method[16];		/* "GET" */
	char path[1024];		/* request target up to '?' (the query is dropped) */
	int version_minor;		/* 1 for HTTP/1.1, 0 for HTTP/1.0 */
	bool upgrade_websocket;		/* Upgrade: has token "websocket" (any case) */
	bool connection_upgrade;	/* Connection: has token "upgrade" (any case) */
	char ws_key[64];		/* Sec-WebSocket-Key, trimmed; "" if absent */
	int ws_version;			/* Sec-WebSocket-Version, 0 if absent */
	bool has_origin;		/* an Origin header was present */
	char origin[256];		/* its value (truncated) */
	char authorization[512];	/* Authorization value, "" if absent */
	size_t head_len;		/* bytes of the head including the blank line */
};

/* Parse the head at buf[0..len). Headers are matched case-insensitively;
 * lines end in CRLF (a bare LF is accepted). */
enum http_parse http_parse_request(const char *buf, size_t len, size_t max_head,
				   struct http_request *req);

/* True when req is a valid WebSocket upgrade: GET, HTTP/1.1, upgrade and
 * connection tokens, version 13, a key that is 16 bytes in base64. */
bool http_is_ws_upgrade(const struct http_request *req);

/* Sec-WebSocket-Accept for a key: base64(SHA-1(key + GUID)), 28 chars + NUL. */
void http_ws_accept(const char *key, char out[29]);

/* Format a whole response into out (NUL-terminated); returns its length,
 * or 0 if it does not fit. 101 when accept_key != NULL (Upgrade headers),
 * otherwise a plain response with Content-Length, text/plain body and
 * "Connection: close" (and "Allow: GET" for 405, "WWW-Authenticate: Bearer"
 * for 401). */
size_t http_format_response(char *out, size_t cap, int status, const char *accept_key,
			    const char *body);
/* The head alone of such a plain response, for a body of body_len bytes
 * sent after it, with content_type (NULL: text/plain). Its length, or 0 if
 * it does not fit or content_type could end the header early. */
size_t http_format_head(char *out, size_t cap, int status, const char *content_type,
			size_t body_len);

#endif
