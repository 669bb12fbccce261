/* uri: file: URIs to absolute paths and back, the one set of rules for
 * every path a client sends as a URI (the fs methods, sandbox policies,
 * process/start's cwd, environmentConfig/read's cwd) and every path the
 * server answers with.
 *
 * "file:///p", "file://localhost/p", "file:/p" and "file:p" (the scheme and
 * "localhost" in any case) name /p; the path is percent-decoded, its query
 * and fragment dropped, and "." and ".." segments and repeated '/' removed
 * as URL resolution does. Pure: no I/O, no allocation but the result.
 * Must not: look at the file system (symlinks are the kernel's business).
 */
#ifndef RINGEXEC_URI_H
#define RINGEXEC_URI_H

#include <stddef.h>

/* The value of one hex digit (a char, or an int such as a peeked byte or
 * -1 for the end of input), or -1. The project's one hex decoder. */
int uri_hexval(int ch);

/* Remove "." and ".." segments and repeated '/' of an absolute path in
 * place: the result starts with '/', and ends with one only when it is "/". */
void uri_normalize(char *p);

/* Why a URI is not a local file path. */
enum uri_error {
	URI_OK,
	URI_RELATIVE,		/* no scheme: "relative URL without a base" */
	URI_SCHEME,		/* another scheme than file: */
	URI_REMOTE_HOST,	/* file://host/... with a host but localhost */
	URI_NUL,		/* a NUL byte, percent-encoded or not */
	URI_NOMEM,
};

/* Decode a file: URI into a malloc'd absolute, normalised path, or NULL
 * with the reason in *err. */
char *uri_file_path(const char *uri, enum uri_error *err);

/* uri_file_path with the fs methods' answer on failure: the JSON-RPC code
 * in *code and the text in msg. -32602 "invalid URI: relative URL without
 * a base", "unsupported path URI scheme `http`", "invalid URI: path
 * contains a NUL byte"; -32600 "'file://h/x' is invalid on 'linux'";
 * -32603 "out of memory". */
char *uri_to_path(const char *uri, int *code, char *msg, size_t msglen);

/* process/start's cwd: a file: URI (uri_file_path's rules), or else a
 * plain absolute path, taken as it is (no decoding, no normalising: the
 * kernel resolves it). NULL on failure with the text in msg: "cwd `X` is
 * not an absolute path" (relative, another scheme, a NUL), "cwd URI `X` is
 * not valid on this exec-server host: only local file URIs are supported"
 * (a remote host), or "out of memory". */
char *uri_cwd_path(const char *cwd, char *msg, size_t msglen);

/* path as a file: URI: "file://" and every byte but [A-Za-z0-9/._~-]
 * percent-encoded (upper-case hex). malloc'd with its length in *len, or
 * NULL on ENOMEM. uri_file_path() gives a normalised path back. */
char *uri_from_path(const char *path, size_t *len);

#endif
