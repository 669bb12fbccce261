/* fs: the fs methods of the codex exec-server surface
 * (reference/codex-client-surface.md §3): metadata, whole-file read and
 * write, directories, remove, copy, canonicalize, walk, client-named
 * streaming handles, and fs/watchMissing with its fs/missingChanged
 * notification. Paths are file: URIs (uri.h).
 *
 * What this family keeps hangs off its owner: a session's handles and
 * watches are freed with the session, a connection's pending reads and
 * tree jobs are cancelled with the connection.
 * Must not: know sockets, or be reached but through these calls.
 */
#ifndef RINGEXEC_FS_H
#define RINGEXEC_FS_H

#include "proto_int.h"

/* The handler of an fs method (fs/...), or NULL. */
method_fn *fs_methods_find(const char *name);
/* session_free: close the session's handles, drop its watches. */
void fs_session_free(struct session *s);
/* conn_on_closed: cancel the connection's pending reads and jobs. */
void fs_conn_closed(struct conn *c);
/* An fs request of c waits behind its running job: stop reading c until
 * it has run (conn_check_recv). */
bool fs_conn_waiting(const struct conn *c);

#endif
