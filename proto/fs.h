/* fs: the fs methods of the codex exec-server surface
 * (reference/codex-client-surface.md §3): metadata, whole-file read and
 * write, directories, remove, copy, canonicalize, walk, client-named
 * streaming handles, and fs/watchMissing with its fs/missingChanged
 * notification. Paths are file: URIs. Knows no sockets.
 */
#ifndef RINGEXEC_FS_H
#define RINGEXEC_FS_H

#include "proto_int.h"
/* fs.c still fills its own SQEs (file reads, inotify) until that work moves
 * behind the engine table (engine/fileio); nothing else in proto/ sees the loop. */
#include "loop.h"

/* The handler of an fs method (fs/...), or NULL. */
method_fn *fs_methods_find(const char *name);
/* Decode a file: URI into a malloc'd absolute, lexically normalised path
 * (the fs methods' rules). NULL on failure, with the JSON-RPC error code and
 * text in *code and msg ("invalid URI: relative URL without a base", ...). */
char *fs_uri_path(const char *uri, int *code, char *msg, size_t msglen);

#endif
