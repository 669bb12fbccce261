/* envinfo: the environmentInfo object (initialize, environment/info): the
 * host's shell, cwd, home and temp dirs as file URIs, the platform, and the
 * capabilities this server really implements. */
#ifndef RINGEXEC_ENVINFO_H
#define RINGEXEC_ENVINFO_H

#include "jsonw.h"

/* Write the environmentInfo object as the next value of w. */
void envinfo_write(struct jw *w);
/* Write path as a file: URI string value (percent-encoded). */
void envinfo_write_file_uri(struct jw *w, const char *path);

#endif
