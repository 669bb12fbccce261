/* envconfig: environmentConfig/read (reference/codex-client-surface.md §4):
 * the user's CODEX_HOME/config.toml cut down to the requested TOML key
 * paths, plus the home directories and the hostname. Reads one small file
 * synchronously; knows no sockets.
 */
#ifndef RINGEXEC_ENVCONFIG_H
#define RINGEXEC_ENVCONFIG_H

#include "proto_int.h"

#define ENVCONFIG_MAX_FILE (1024 * 1024)	/* a bigger config.toml is refused */

/* The environmentConfig/read handler. */
void envconfig_read(struct conn *c, const struct rpc_id *id, const json_t *params);

#endif
