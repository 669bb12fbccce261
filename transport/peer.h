/* peer: which user runs the other end of an accepted socket.
 *
 * A unix peer's uid is SO_PEERCRED (its credentials at connect()). A TCP
 * peer's is looked up in the kernel's socket table with one sock_diag
 * netlink request for the exact 4-tuple seen from the peer's side: it
 * answers with the owner of the peer's socket when that socket is open on
 * this host, in our network namespace. One netlink socket serves every
 * lookup. Knows nothing of HTTP or of who may connect.
 */
#ifndef RINGEXEC_PEER_H
#define RINGEXEC_PEER_H

#include <stdint.h>
#include <sys/types.h>

/* Who is at the other end. */
struct peer_id {
	uint32_t uid;
	pid_t pid;		/* a unix peer's pid (at connect()), else 0 */
	uint64_t inode;		/* a TCP peer's socket inode, else 0 */
};

/* Open the NETLINK_SOCK_DIAG socket now (O_CLOEXEC), so that the first
 * lookup does not add an fd later. 0 or -errno; peer_uid() opens it on
 * first use otherwise. */
int peer_open(void);
void peer_close(void);

/* The uid of fd's peer into *uid: 0, or
 *   -ENOENT    no open socket on this host has that 4-tuple (the peer is
 *              on another host, or in another network namespace);
 *   -ENOTCONN  the peer has closed its socket (the kernel no longer knows
 *              whose it was);
 *   -EAFNOSUPPORT  neither unix nor TCP over IPv4/IPv6;
 *   other -errno   the lookup itself failed.
 * Costs getsockname + getpeername + one sendto/recv pair on TCP (the
 * kernel answers within sendto; nothing waits), one getsockopt on unix. */
int peer_uid(int fd, uint32_t *uid);
/* The same, with the unix peer's pid or the TCP peer's socket inode. */
int peer_identify(int fd, struct peer_id *id);

#endif
