/* peer: which user runs the other end of an accepted socket.
 *
 * Owns the one NETLINK_SOCK_DIAG socket and the exact-match inet_diag
 * request: the peer's socket is found by its 4-tuple as it sees it (its own
 * address is the source), and the answer is believed only when it names
 * that socket (source port and address) and the socket is still open (a
 * closed one is reported with uid 0, which would read as root). The kernel
 * queues its answer before sendto() returns, so the recv never waits. Must
 * not decide who may connect, nor know HTTP.
 */
#include "peer.h"

#include <errno.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static int peer_nl = -1;	/* the sock_diag socket */
static uint32_t peer_seq;	/* the last request's sequence number */

union peer_sa {
	struct sockaddr sa;
	struct sockaddr_in in4;
	struct sockaddr_in6 in6;
	struct sockaddr_un un;
	struct sockaddr_storage ss;
};

int peer_open(void)
{
	if (peer_nl >= 0)
		return 0;
	int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (fd < 0)
		return -errno;
	peer_nl = fd;
	return 0;
}

void peer_close(void)
{
	if (peer_nl >= 0)
		close(peer_nl);
	peer_nl = -1;
}

static void peer_v4(struct inet_diag_req_v2 *r, const struct sockaddr_in *peer,
		    const struct sockaddr_in *local)
{
	r->sdiag_family = AF_INET;
	r->id.idiag_sport = peer->sin_port;
	r->id.idiag_dport = local->sin_port;
	memcpy(r->id.idiag_src, &peer->sin_addr, 4);
	memcpy(r->id.idiag_dst, &local->sin_addr, 4);
}

/* The request for the peer's socket: from its side, it is the source. An
 * IPv4 peer of a dual-stack IPv6 socket is looked up as the IPv4 it is. */
static void peer_request(struct inet_diag_req_v2 *r, const union peer_sa *peer,
			 const union peer_sa *local)
{
	memset(r, 0, sizeof(*r));
	r->sdiag_protocol = IPPROTO_TCP;
	r->idiag_states = ~0u;
	r->id.idiag_cookie[0] = INET_DIAG_NOCOOKIE;
	r->id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;
	if (peer->sa.sa_family == AF_INET) {
		peer_v4(r, &peer->in4, &local->in4);
		return;
	}
	const struct in6_addr *pa = &peer->in6.sin6_addr, *la = &local->in6.sin6_addr;
	if (IN6_IS_ADDR_V4MAPPED(pa) && IN6_IS_ADDR_V4MAPPED(la)) {
		struct sockaddr_in p4 = { .sin_family = AF_INET, .sin_port = peer->in6.sin6_port };
		struct sockaddr_in l4 = { .sin_family = AF_INET, .sin_port = local->in6.sin6_port };
		memcpy(&p4.sin_addr, pa->s6_addr + 12, 4);
		memcpy(&l4.sin_addr, la->s6_addr + 12, 4);
		peer_v4(r, &p4, &l4);
		return;
	}
	r->sdiag_family = AF_INET6;
	r->id.idiag_sport = peer->in6.sin6_port;
	r->id.idiag_dport = local->in6.sin6_port;
	memcpy(r->id.idiag_src, pa, 16);
	memcpy(r->id.idiag_dst, la, 16);
}

/* The answer names the socket we asked for: its local port and address are
 * the peer's (an IPv6 socket speaking IPv4 reports the mapped form). */
static bool peer_is_asked(const struct inet_diag_req_v2 *r, const struct inet_diag_msg *m)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	if (m->id.idiag_sport != r->id.idiag_sport || m->id.idiag_dport != r->id.idiag_dport)
		return false;
	if (r->sdiag_family == AF_INET6)
		return !memcmp(m->id.idiag_src, r->id.idiag_src, 16);
	if (m->idiag_family == AF_INET)
		return m->id.idiag_src[0] == r->id.idiag_src[0];
	return !memcmp(m->id.idiag_src, mapped, 12) && m->id.idiag_src[3] == r->id.idiag_src[0];
}

/* One netlink answer to request seq: 1 with *res set when it was ours. */
static int peer_answer(const struct inet_diag_req_v2 *r, const struct nlmsghdr *h,
		       struct peer_id *id, int *res)
{
	if (h->nlmsg_seq != peer_seq)
		return 0;	/* a stale answer to an earlier request */
	if (h->nlmsg_type == NLMSG_ERROR && h->nlmsg_len >= NLMSG_LENGTH(sizeof(struct nlmsgerr))) {
		const struct nlmsgerr *e = NLMSG_DATA(h);
		*res = e->error < 0 ? e->error : -EPROTO;
		return 1;
	}
	if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY ||
	    h->nlmsg_len < NLMSG_LENGTH(sizeof(struct inet_diag_msg))) {
		*res = -EPROTO;
		return 1;
	}
	const struct inet_diag_msg *m = NLMSG_DATA(h);
	if (!peer_is_asked(r, m))
		*res = -EPROTO;
	else if (m->idiag_inode == 0)
		*res = -ENOTCONN;	/* time-wait or orphaned: its uid reads 0 */
	else {
		id->uid = m->idiag_uid;
		id->inode = m->idiag_inode;
		*res = 0;
	}
	return 1;
}

static int peer_query(const struct inet_diag_req_v2 *r, struct peer_id *id)
{
	struct {
		struct nlmsghdr nlh;
		struct inet_diag_req_v2 req;
	} msg = {
		.nlh = {
			.nlmsg_len = sizeof(msg),
			.nlmsg_type = SOCK_DIAG_BY_FAMILY,
			.nlmsg_flags = NLM_F_REQUEST,
			.nlmsg_seq = ++peer_seq,
		},
		.req = *r,
	};
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	union {
		struct nlmsghdr h;
		char b[8192];
	} in;
	int ret = peer_open();
	if (ret < 0)
		return ret;
	while (sendto(peer_nl, &msg, sizeof(msg), 0, (struct sockaddr *)&kernel, sizeof(kernel)) < 0)
		if (errno != EINTR)
			return -errno;
	for (;;) {
		ssize_t n = recv(peer_nl, in.b, sizeof(in.b), MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;	/* -EAGAIN: the kernel sent no answer */
		size_t off = 0;
		while ((size_t)n - off >= sizeof(struct nlmsghdr)) {
			const struct nlmsghdr *h = (const struct nlmsghdr *)(in.b + off);
			if (h->nlmsg_len < sizeof(*h) || h->nlmsg_len > (size_t)n - off)
				break;
			if (peer_answer(r, h, id, &ret))
				return ret;
			off += NLMSG_ALIGN(h->nlmsg_len);
		}
	}
}

int peer_uid(int fd, uint32_t *uid)
{
	struct peer_id id;
	int ret = peer_identify(fd, &id);
	if (ret == 0)
		*uid = id.uid;
	return ret;
}

int peer_identify(int fd, struct peer_id *id)
{
	union peer_sa local, remote;
	socklen_t llen = sizeof(local), rlen = sizeof(remote);
	struct inet_diag_req_v2 req;

	if (getsockname(fd, &local.sa, &llen) < 0)
		return -errno;
	if (local.sa.sa_family == AF_UNIX) {
		struct ucred cred;
		socklen_t clen = sizeof(cred);
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) < 0)
			return -errno;
		id->uid = cred.uid;
		id->pid = cred.pid;
		id->inode = 0;
		return 0;
	}
	if (local.sa.sa_family != AF_INET && local.sa.sa_family != AF_INET6)
		return -EAFNOSUPPORT;
	if (getpeername(fd, &remote.sa, &rlen) < 0)
		return -errno;
	if (remote.sa.sa_family != local.sa.sa_family)
		return -EAFNOSUPPORT;
	peer_request(&req, &remote, &local);
	id->pid = 0;
	return peer_query(&req, id);
}
