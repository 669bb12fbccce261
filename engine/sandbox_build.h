/* sandbox_build: the child that makes a sandbox template's namespaces and
 * mounts (engine-internal; sandbox.c drives it).
 *
 * sandbox.c prepares a struct sb_build (sorted rules, the id maps, what to
 * hide) in a MAP_SHARED page and clones sb_build_main with CLONE_FILES
 * (not CLONE_VM) and new user (when asked), mount, IPC and (restricted
 * network) network namespaces. The child writes its own id maps, opens the
 * namespace fds into the shared fd table, builds the view and exits; the
 * namespaces live on in those fds. rawsys.h only; every other fd it opened
 * is closed again.
 */
#ifndef RINGEXEC_SANDBOX_BUILD_H
#define RINGEXEC_SANDBOX_BUILD_H

#include <stdbool.h>
#include <stddef.h>

#define SB_BUILD_MAX_FDS 512

struct sb_build_rule {
	const char *path;	/* absolute, normalized */
	unsigned char access;	/* enum sandbox_access */
};

struct sb_build {
	/* In (prepared by the parent). */
	bool restrict_fs;
	bool userns;			/* a user namespace is being made */
	bool netns;			/* and a network namespace */
	char uid_map[64], gid_map[64];	/* "inside outside 1" */
	const struct sb_build_rule *rules;	/* restrict_fs: by depth, then access */
	size_t nrules;
	const char *const *hide;	/* NULL-terminated, or NULL */

	/* Out. */
	int userfd, mntfd, ipcfd, netfd;	/* -1 unless made */
	int err;			/* 0, or the -errno of the failed step */
	const char *step;		/* what failed (a static string) */
	const char *step_path;		/* on which path, or NULL */

	/* The child's own: fds it opened, closed before it exits. */
	int fds[SB_BUILD_MAX_FDS];
	size_t nfds;
	char pathbuf[4096];
};

/* The child's function (clone() it; see above). Always exits. */
int sb_build_main(void *arg);

#endif
