/* denied: does a sandboxed process's output say that the sandbox stopped
 * it? The `sandboxDenied` rule of PROTOCOL §4a.
 *
 * A streaming, case-insensitive search for the phrases the reference looks
 * for ("operation not permitted", "permission denied", "read-only file
 * system", "seccomp", "sandbox", "landlock", "failed to write file") over
 * every output chunk of the process, across chunk boundaries; it stops
 * looking once one is found. Pure.
 */
#ifndef RINGEXEC_DENIED_H
#define RINGEXEC_DENIED_H

#include <stdbool.h>
#include <stddef.h>

#define DENIED_TAIL 24	/* > the longest phrase */

struct denied {
	bool hit;			/* a phrase was seen */
	unsigned char tail[DENIED_TAIL];	/* the last bytes seen, for phrases split
						   between chunks */
	size_t tail_len;
};

static inline void denied_init(struct denied *d)
{
	d->hit = false;
	d->tail_len = 0;
}

/* Feed one chunk of output. */
void denied_feed(struct denied *d, const void *data, size_t len);

/* The rule: sandboxed, exited non-zero, and a phrase seen or exit code 159
 * (SIGSYS). Exit codes 2, 126 and 127 never count by themselves. */
static inline bool denied_verdict(const struct denied *d, bool sandboxed, int exit_code)
{
	return sandboxed && exit_code != 0 && (d->hit || exit_code == 159);
}

#endif
