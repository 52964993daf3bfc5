/*
 * net_udp.c - the ring's UDP transport (see net_udp.h).
 */
#include "net_udp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <linux/filter.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/log.h"

const char *const net_mode_names[3] = { "broadcast", "multicast", "unicast" };

static void set_sin(struct sockaddr_storage *ss, uint32_t addr, uint16_t port)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;

	memset(ss, 0, sizeof(*ss));
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(addr);
	sin->sin_port = htons(port);
}

/* Asks for `want` bytes of buffer; as root beyond the system limit. */
static int size_buffer(int fd, int opt, int force_opt, int want)
{
	int got = 0;
	socklen_t l = sizeof(got);

	if (setsockopt(fd, SOL_SOCKET, force_opt, &want, sizeof(want)) != 0)
		setsockopt(fd, SOL_SOCKET, opt, &want, sizeof(want));
	getsockopt(fd, SOL_SOCKET, opt, &got, &l);
	return got;
}

static int udp_socket(uint32_t addr, uint16_t port, int reuse, char *err,
		      size_t errlen)
{
	struct sockaddr_storage ss;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1;

	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	if (reuse)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	set_sin(&ss, addr, port);
	if (bind(fd, (struct sockaddr *)&ss, sizeof(struct sockaddr_in)) != 0) {
		struct in_addr a = { htonl(addr) };

		snprintf(err, errlen, "cannot bind UDP %s:%u: %s", inet_ntoa(a),
			 port, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* Drops, in the kernel, the datagrams on fd whose IPv4 source is `self`:
 * Linux loops every broadcast (and multicast with IP_MULTICAST_LOOP) back
 * to the sender, and a copy dropped here costs no wakeup, no queueing in
 * the receive buffer and no recvmmsg(). The source address is read from
 * the network header (SKF_NET_OFF), wherever the socket's data starts.
 * Returns 0, or -1 if the kernel refused the filter (the shell then drops
 * those datagrams itself, as before). */
static int drop_own(int fd, uint32_t self)
{
	struct sock_filter code[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, (uint32_t)SKF_NET_OFF + 12),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, self, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, 0),
		BPF_STMT(BPF_RET | BPF_K, 0xffffffffu),
	};
	struct sock_fprog prog = { sizeof(code) / sizeof(code[0]), code };

	return setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog));
}

/* Whether one of the addresses is an interface address of this machine
 * (another daemon of the segment shares the host). */
static int any_local(const uint32_t *addrs, unsigned n)
{
	struct ifaddrs *ifa, *i;
	int found = 0;

	if (n == 0)
		return 0;
	if (getifaddrs(&ifa) != 0)
		return 1; /* unknown: assume so */
	for (i = ifa; i && !found; i = i->ifa_next) {
		const struct sockaddr_in *sin;

		if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET)
			continue;
		sin = (const struct sockaddr_in *)i->ifa_addr;
		for (unsigned k = 0; k < n; k++)
			if (ntohl(sin->sin_addr.s_addr) == addrs[k])
				found = 1;
	}
	freeifaddrs(ifa);
	return found;
}

enum net_mode net_udp_auto_mode(uint32_t seg_addr)
{
	struct ifaddrs *ifa, *i;
	enum net_mode m = NET_UNICAST;

	if ((seg_addr >> 28) == 0xe)
		return NET_MULTICAST;
	if ((seg_addr >> 24) == 127 || getifaddrs(&ifa) != 0)
		return NET_UNICAST;
	for (i = ifa; i; i = i->ifa_next) {
		const struct sockaddr_in *b;

		if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET ||
		    !(i->ifa_flags & IFF_BROADCAST) || !i->ifa_broadaddr)
			continue;
		b = (const struct sockaddr_in *)i->ifa_broadaddr;
		if (ntohl(b->sin_addr.s_addr) == seg_addr)
			m = NET_BROADCAST;
	}
	freeifaddrs(ifa);
	return m;
}

int net_udp_open(struct net_udp *n, enum net_mode mode, uint32_t my_addr,
		 uint32_t seg_addr, uint16_t port, const uint32_t *peers,
		 unsigned n_peers, size_t pkt_max, char *err, size_t errlen)
{
	int one = 1;

	memset(n, 0, sizeof(*n));
	n->fd = n->bfd = -1;
	n->mode = mode;
	n->my_addr = my_addr;
	n->seg_addr = seg_addr;
	n->port = port;
	n->pkt_max = pkt_max;
	for (unsigned i = 0; i < n_peers && n->n_peers < NET_MAX_PEERS; i++)
		if (peers[i] != my_addr)
			n->peers[n->n_peers++] = peers[i];
	n->fd = udp_socket(my_addr, port, 0, err, errlen);
	if (n->fd < 0)
		goto fail;
	/* Segmentation offload for the ring only (a daemon alone answers
	 * monitors); GRO must hold on both sockets, since the buffers are
	 * sized by it. */
	n->gso = n->n_peers > 0;
	n->gro = n->gso && setsockopt(n->fd, SOL_UDP, UDP_GRO, &one,
				      sizeof(one)) == 0;
	n->islot = n->gro ? NET_GRO_BUF : pkt_max;
	n->obuf = malloc(NET_BATCH * pkt_max);
	n->ibuf = malloc(NET_BATCH * n->islot);
	n->pkts = malloc(NET_PKTS_MAX * sizeof(*n->pkts));
	if (!n->obuf || !n->ibuf || !n->pkts) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	n->rcvbuf = size_buffer(n->fd, SO_RCVBUF, SO_RCVBUFFORCE, NET_SOCKBUF);
	n->sndbuf = size_buffer(n->fd, SO_SNDBUF, SO_SNDBUFFORCE, NET_SOCKBUF);
	if (mode == NET_BROADCAST) {
		setsockopt(n->fd, SOL_SOCKET, SO_BROADCAST, &one, sizeof(one));
		n->bfd = udp_socket(seg_addr, port, 1, err, errlen);
	} else if (mode == NET_MULTICAST) {
		struct ip_mreq mr;
		struct in_addr ia = { htonl(my_addr) };
		unsigned char ttl = 1;
		/* Loopback only where another daemon of the segment shares
		 * this machine; our own copies are dropped by the filter. */
		unsigned char loop = (unsigned char)any_local(n->peers, n->n_peers);

		setsockopt(n->fd, IPPROTO_IP, IP_MULTICAST_IF, &ia, sizeof(ia));
		setsockopt(n->fd, IPPROTO_IP, IP_MULTICAST_TTL, &ttl, sizeof(ttl));
		setsockopt(n->fd, IPPROTO_IP, IP_MULTICAST_LOOP, &loop, sizeof(loop));
		n->mcast_loop = loop;
		n->bfd = udp_socket(seg_addr, port, 1, err, errlen);
		if (n->bfd >= 0) {
			mr.imr_multiaddr.s_addr = htonl(seg_addr);
			mr.imr_interface.s_addr = htonl(my_addr);
			if (setsockopt(n->bfd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mr,
				       sizeof(mr)) != 0) {
				snprintf(err, errlen, "cannot join multicast group: %s",
					 strerror(errno));
				goto fail;
			}
		}
	}
	if (mode != NET_UNICAST) {
		if (n->bfd < 0)
			goto fail;
		size_buffer(n->bfd, SO_RCVBUF, SO_RCVBUFFORCE, NET_SOCKBUF);
		if (n->gro && setsockopt(n->bfd, SOL_UDP, UDP_GRO, &one,
					 sizeof(one)) != 0) {
			/* Buffers of islot would truncate what the other
			 * socket coalesces: give up on both. */
			int zero = 0;

			setsockopt(n->fd, SOL_UDP, UDP_GRO, &zero, sizeof(zero));
			n->gro = 0;
			n->islot = pkt_max;
		}
		n->own_filtered = drop_own(n->bfd, my_addr) == 0;
		if (!n->own_filtered)
			log_warn("cannot filter our own datagrams in the kernel");
	}
	for (unsigned i = 0; i < NET_BATCH; i++) {
		n->iiov[i].iov_base = n->ibuf + i * n->islot;
		n->iiov[i].iov_len = n->islot;
		n->in[i].msg_hdr.msg_iov = &n->iiov[i];
		n->in[i].msg_hdr.msg_iovlen = 1;
		n->in[i].msg_hdr.msg_name = &n->iaddr[i];
		n->oiov[i].iov_base = n->obuf + i * pkt_max;
	}
	return 0;
fail:
	net_udp_close(n);
	return -1;
}

void net_udp_close(struct net_udp *n)
{
	if (n->fd >= 0)
		close(n->fd);
	if (n->bfd >= 0)
		close(n->bfd);
	n->fd = n->bfd = -1;
	free(n->obuf);
	free(n->ibuf);
	free(n->pkts);
	n->obuf = n->ibuf = NULL;
	n->pkts = NULL;
	n->n_out = 0;
}

static int same_dest(const struct net_udp *n, unsigned i, unsigned k)
{
	const struct sockaddr_in *a = (const struct sockaddr_in *)&n->oaddr[i];
	const struct sockaddr_in *b = (const struct sockaddr_in *)&n->oaddr[k];

	return a->sin_addr.s_addr == b->sin_addr.s_addr &&
	       a->sin_port == b->sin_port;
}

/* How many queued datagrams from i on can leave in one segmented send:
 * same address, the length of the first (a shorter one ends the run),
 * within the kernel's bounds. */
static unsigned gso_run(const struct net_udp *n, unsigned i)
{
	size_t seg = n->oiov[i].iov_len, total = seg;
	unsigned k = i + 1;

	if (!n->gso || (n->gso_seg_max && seg > n->gso_seg_max))
		return 1;
	while (k < n->n_out && k - i < NET_GSO_SEGS && same_dest(n, i, k) &&
	       n->oiov[k].iov_len <= seg &&
	       total + n->oiov[k].iov_len <= NET_GSO_BYTES) {
		total += n->oiov[k].iov_len;
		if (n->oiov[k++].iov_len < seg)
			break;
	}
	return k - i;
}

/* Fills out[] from queued datagram `from` on; returns how many entries. */
static unsigned gather(struct net_udp *n, unsigned from, int plain_first)
{
	unsigned m = 0;

	for (unsigned i = from; i < n->n_out; m++) {
		struct msghdr *h = &n->out[m].msg_hdr;
		unsigned len = m == 0 && plain_first ? 1 : gso_run(n, i);

		memset(h, 0, sizeof(*h));
		h->msg_name = &n->oaddr[i];
		h->msg_namelen = sizeof(struct sockaddr_in);
		h->msg_iov = &n->oiov[i];
		h->msg_iovlen = len;
		if (len > 1) {
			struct cmsghdr *c = &n->octl[m].align;
			uint16_t seg = (uint16_t)n->oiov[i].iov_len;

			h->msg_control = n->octl[m].buf;
			h->msg_controllen = sizeof(n->octl[m].buf);
			c->cmsg_level = SOL_UDP;
			c->cmsg_type = UDP_SEGMENT;
			c->cmsg_len = CMSG_LEN(sizeof(seg));
			memcpy(CMSG_DATA(c), &seg, sizeof(seg));
		}
		n->run[m] = len;
		i += len;
	}
	return m;
}

/*
 * Unicast mode sends "to every daemon" as one datagram to each, so the
 * queue alternates between addresses and holds no run for segmentation
 * offload. This reorders the queue by address, keeping each address's
 * datagrams in their order: only the order towards one daemon can be
 * seen (datagrams to different daemons race anyway). The addresses go in
 * the order they first appear, except that the last datagram's address
 * goes last, so that a token, which is flushed as the last datagram of
 * the queue, still leaves after everything queued before it.
 */
static void group_by_dest(struct net_udp *n)
{
	struct iovec iov[NET_BATCH];
	struct sockaddr_storage addr[NET_BATCH];
	unsigned char taken[NET_BATCH] = { 0 };
	unsigned k = 0, last = n->n_out - 1;

	for (int pass = 0; pass < 2; pass++) {
		for (unsigned i = 0; i < n->n_out; i++) {
			if (taken[i] || (pass == 0 && same_dest(n, i, last)))
				continue;
			for (unsigned j = i; j < n->n_out; j++) {
				if (taken[j] || !same_dest(n, i, j))
					continue;
				iov[k] = n->oiov[j];
				addr[k++] = n->oaddr[j];
				taken[j] = 1;
			}
		}
	}
	memcpy(n->oiov, iov, k * sizeof(iov[0]));
	memcpy(n->oaddr, addr, k * sizeof(addr[0]));
}

void net_udp_flush(struct net_udp *n)
{
	unsigned done = 0; /* queued datagrams handled */
	int plain = 0;     /* the next one goes alone (after a refusal) */

	if (n->mode == NET_UNICAST && n->gso && n->n_out > 2)
		group_by_dest(n);

	while (done < n->n_out) {
		unsigned m = gather(n, done, plain);
		int r = sendmmsg(n->fd, n->out, m, 0);

		n->stats.send_calls++;
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && n->run[0] > 1 && (errno == EIO || errno == EINVAL)) {
			/* A segmented send refused: its datagrams go plain. */
			size_t seg = n->oiov[done].iov_len;

			if (errno == EIO)
				n->gso = 0;
			else if (seg > 1)
				n->gso_seg_max = seg - 1;
			log_debug(DBG_NETWORK, "segmented send of %u datagrams "
				  "of %zu bytes refused: %s", n->run[0], seg,
				  strerror(errno));
			n->stats.gso_fallback++;
			plain = 1;
			continue;
		}
		if (r < 0) {
			/* A full buffer or an unreachable peer: the ring
			 * retransmits; drop these datagrams and go on. */
			n->stats.send_errors += n->run[0];
			log_debug(DBG_NETWORK, "sendmmsg: %s", strerror(errno));
			r = 1;
		} else {
			for (int i = 0; i < r; i++) {
				n->stats.pkts_out += n->run[i];
				n->stats.bytes_out += n->out[i].msg_len;
				n->stats.gso_sends += n->run[i] > 1;
			}
		}
		for (int i = 0; i < r; i++)
			done += n->run[i];
		plain = 0;
	}
	n->n_out = 0;
}

static void queue_one(struct net_udp *n, uint32_t addr, const uint8_t *pkt,
		      size_t len)
{
	if (n->n_out == NET_BATCH)
		net_udp_flush(n);
	memcpy(n->oiov[n->n_out].iov_base, pkt, len);
	n->oiov[n->n_out].iov_len = len;
	set_sin(&n->oaddr[n->n_out], addr, n->port);
	n->n_out++;
}

void net_udp_send(struct net_udp *n, uint32_t to, const uint8_t *pkt,
		  size_t len)
{
	if (n->fd < 0 || len > n->pkt_max)
		return;
	if (to != 0xffffffffu) {
		queue_one(n, to, pkt, len);
		return;
	}
	if (n->mode != NET_UNICAST) {
		queue_one(n, n->seg_addr, pkt, len);
		return;
	}
	for (unsigned i = 0; i < n->n_peers; i++)
		queue_one(n, n->peers[i], pkt, len);
}

void net_udp_reply(struct net_udp *n, uint32_t to, uint16_t port,
		   const uint8_t *pkt, size_t len)
{
	struct sockaddr_storage ss;

	set_sin(&ss, to, port);
	if (sendto(n->fd, pkt, len, 0, (struct sockaddr *)&ss,
		   sizeof(struct sockaddr_in)) < 0)
		log_debug(DBG_NETWORK, "status reply: %s", strerror(errno));
}

/* The segment size the kernel gave with a coalesced buffer, or 0. */
static size_t gro_size(struct msghdr *h)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(h); c; c = CMSG_NXTHDR(h, c)) {
		int v;

		if (c->cmsg_level != SOL_UDP || c->cmsg_type != UDP_GRO ||
		    c->cmsg_len < CMSG_LEN(sizeof(v)))
			continue;
		memcpy(&v, CMSG_DATA(c), sizeof(v));
		return v > 0 ? (size_t)v : 0;
	}
	return 0;
}

unsigned net_udp_recv(struct net_udp *n, int fd, const struct net_pkt **pkts,
		      int *more)
{
	unsigned k = 0;
	int r;

	*pkts = n->pkts;
	*more = 0;
	for (unsigned i = 0; i < NET_BATCH; i++) {
		struct msghdr *h = &n->in[i].msg_hdr;

		h->msg_namelen = sizeof(n->iaddr[i]);
		h->msg_flags = 0;
		h->msg_control = n->gro ? n->ictl[i].buf : NULL;
		h->msg_controllen = n->gro ? sizeof(n->ictl[i].buf) : 0;
	}
	do {
		r = recvmmsg(fd, n->in, NET_BATCH, MSG_DONTWAIT, NULL);
	} while (r < 0 && errno == EINTR);
	n->stats.recv_calls++;
	if (r <= 0)
		return 0;
	*more = r == NET_BATCH;
	for (int i = 0; i < r; i++) {
		const struct sockaddr_in *sin =
			(const struct sockaddr_in *)&n->iaddr[i];
		const uint8_t *p = n->iiov[i].iov_base;
		size_t left = n->in[i].msg_len;
		size_t seg = n->gro ? gro_size(&n->in[i].msg_hdr) : 0;

		if (n->in[i].msg_hdr.msg_flags & MSG_TRUNC) {
			n->stats.truncated++;
			continue;
		}
		if (sin->sin_family != AF_INET)
			continue;
		if (seg == 0 || seg > left)
			seg = left;
		if (seg < left)
			n->stats.gro_bufs++;
		/* One datagram per seg bytes, a shorter last one. */
		do {
			size_t len = left < seg ? left : seg;

			if (k == NET_PKTS_MAX) {
				n->stats.gro_dropped++;
			} else {
				n->pkts[k].from = ntohl(sin->sin_addr.s_addr);
				n->pkts[k].from_port = ntohs(sin->sin_port);
				n->pkts[k].data = p;
				n->pkts[k].len = len;
				n->stats.pkts_in++;
				n->stats.bytes_in += len;
				k++;
			}
			p += len;
			left -= len;
		} while (left > 0);
	}
	return k;
}
