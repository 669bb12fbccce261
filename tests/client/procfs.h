/* procfs: what the integration tests read about a server from /proc: its
 * fds, its children, whether a pid is gone. Polls with deadlines only. */
#ifndef RINGEXEC_PROCFS_H
#define RINGEXEC_PROCFS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Entries of /proc/<pid>/fd, or -1. */
int count_fds(pid_t pid);
/* Print what pid's fds point at as TAP diagnostics (at most 60). */
void dump_fds(pid_t pid);
/* The content of /proc/<pid>/task/<pid>/children, trailing blanks cut
 * ("" when none). */
void children_of(pid_t pid, char *buf, size_t size);
/* pid no longer exists (reaped), polled every 10 ms until timeout_ms. */
bool pid_gone_within(pid_t pid, int timeout_ms);

#endif
