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
	n->obuf = malloc(NET_BATCH * pkt_max);
	n->ibuf = malloc(NET_BATCH * pkt_max);
	if (!n->obuf || !n->ibuf) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	n->fd = udp_socket(my_addr, port, 0, err, errlen);
	if (n->fd < 0)
		goto fail;
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
		n->own_filtered = drop_own(n->bfd, my_addr) == 0;
		if (!n->own_filtered)
			log_warn("cannot filter our own datagrams in the kernel");
	}
	for (unsigned i = 0; i < NET_BATCH; i++) {
		n->iiov[i].iov_base = n->ibuf + i * pkt_max;
		n->iiov[i].iov_len = pkt_max;
		n->in[i].msg_hdr.msg_iov = &n->iiov[i];
		n->in[i].msg_hdr.msg_iovlen = 1;
		n->in[i].msg_hdr.msg_name = &n->iaddr[i];
		n->oiov[i].iov_base = n->obuf + i * pkt_max;
		n->out[i].msg_hdr.msg_iov = &n->oiov[i];
		n->out[i].msg_hdr.msg_iovlen = 1;
		n->out[i].msg_hdr.msg_name = &n->oaddr[i];
		n->out[i].msg_hdr.msg_namelen = sizeof(struct sockaddr_in);
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
	n->obuf = n->ibuf = NULL;
	n->n_out = 0;
}

void net_udp_flush(struct net_udp *n)
{
	unsigned done = 0;

	while (done < n->n_out) {
		int r = sendmmsg(n->fd, n->out + done, n->n_out - done, 0);

		n->stats.send_calls++;
		if (r < 0) {
			if (errno == EINTR)
				continue;
			/* A full buffer or an unreachable peer: the ring
			 * retransmits; drop this datagram and go on. */
			n->stats.send_errors++;
			log_debug(DBG_NETWORK, "sendmmsg: %s", strerror(errno));
			done++;
			continue;
		}
		for (int i = 0; i < r; i++) {
			n->stats.pkts_out++;
			n->stats.bytes_out += n->out[done + (unsigned)i].msg_len;
		}
		done += (unsigned)r;
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

unsigned net_udp_recv(struct net_udp *n, int fd, struct net_pkt *pkts)
{
	unsigned k = 0;
	int r;

	for (unsigned i = 0; i < NET_BATCH; i++) {
		n->in[i].msg_hdr.msg_namelen = sizeof(n->iaddr[i]);
		n->in[i].msg_hdr.msg_flags = 0;
	}
	do {
		r = recvmmsg(fd, n->in, NET_BATCH, MSG_DONTWAIT, NULL);
	} while (r < 0 && errno == EINTR);
	n->stats.recv_calls++;
	if (r <= 0)
		return 0;
	for (int i = 0; i < r; i++) {
		const struct sockaddr_in *sin =
			(const struct sockaddr_in *)&n->iaddr[i];

		if (n->in[i].msg_hdr.msg_flags & MSG_TRUNC) {
			n->stats.truncated++;
			continue;
		}
		if (sin->sin_family != AF_INET)
			continue;
		pkts[k].from = ntohl(sin->sin_addr.s_addr);
		pkts[k].from_port = ntohs(sin->sin_port);
		pkts[k].data = n->iiov[i].iov_base;
		pkts[k].len = n->in[i].msg_len;
		n->stats.pkts_in++;
		n->stats.bytes_in += n->in[i].msg_len;
		k++;
	}
	return k;
}
