/* uri: file: URIs to absolute paths, the one set of rules for every path a
 * client sends as a URI (the fs methods, sandbox policies).
 *
 * "file:///p", "file://localhost/p", "file:/p" (any case for the scheme),
 * percent-decoded, query and fragment dropped, "." and ".." removed as URL
 * resolution does. Pure: no I/O, no allocation but the result.
 */
#ifndef RINGEXEC_URI_H
#define RINGEXEC_URI_H

#include <stddef.h>

/* The value of one hex digit, or -1. */
int uri_hexval(char ch);
/* Remove "." and ".." segments and repeated '/' of an absolute path in place. */
void uri_normalize(char *p);
/* Decode a file: URI into a malloc'd absolute path. On failure NULL, with a
 * JSON-RPC error code in *code and the text in msg: -32602 for a relative
 * URL ("invalid URI: relative URL without a base"), another scheme, or a
 * NUL; -32600 for a remote host ("'URI' is invalid on 'linux'"); -32603 out
 * of memory. */
char *uri_to_path(const char *uri, int *code, char *msg, size_t msglen);

#endif
