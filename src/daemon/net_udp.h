/*
 * net_udp.h - the ring's UDP transport: one socket bound to the daemon's
 * own address and the segment's port (unicasts, and every send), plus in
 * broadcast and multicast modes a socket bound to the segment address
 * that receives what is sent to all.
 *
 * Modes (docs/config.md, RingTransport):
 *   broadcast  "to every daemon" is one datagram to the segment address
 *   multicast  the same to a multicast group (TTL 1)
 *   unicast    "to every daemon" is one datagram to each other daemon
 *              listed in the segment (networks without broadcast, and
 *              several daemons on loopback addresses)
 *
 * Linux hands every broadcast back to its sender (and every multicast
 * while IP_MULTICAST_LOOP is on): a socket filter on the segment socket
 * drops the datagrams whose source is the daemon's own address before
 * they wake it, and multicast loopback is on only when another daemon of
 * the segment has an address of this machine.
 *
 * Sends are queued and written with sendmmsg() when the shell flushes
 * (once per loop iteration) or when the batch is full; receives read up
 * to NET_BATCH buffers per recvmmsg(). Socket buffers are sized for
 * bursts of a full window of the largest messages.
 *
 * Segmentation offload (Linux UDP_SEGMENT and UDP_GRO): a run of queued
 * datagrams to one address, all as long as the first but a shorter last,
 * leaves in one send that the kernel (or the network card) cuts into the
 * same datagrams; the wire sees exactly what plain sends would give. On
 * receipt the kernel may hand over several datagrams of one sender in
 * one buffer with their size, and net_udp_recv() cuts them apart again.
 * Where the kernel refuses a segmented send (no checksum offload on the
 * route's device: EIO; segments longer than the path's MTU: EINVAL) the
 * run goes out as plain datagrams, and segmentation is turned off for
 * good (EIO) or for runs of such lengths (EINVAL).
 *
 * Ownership: struct net_udp is the caller's; net_udp_open() allocates
 * its buffers and opens its sockets, net_udp_close() releases them (and
 * is safe on a closed or failed instance).
 */
#ifndef CHORUS_NET_UDP_H
#define CHORUS_NET_UDP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define NET_BATCH 64
#define NET_GSO_SEGS 64       /* datagrams per segmented send, at most */
#define NET_GSO_BYTES 65000   /* bytes per segmented send, at most */
#define NET_GRO_BUF 65536     /* receive buffer per recvmmsg() slot */
#define NET_PKTS_MAX (NET_BATCH * 64) /* datagrams per net_udp_recv() */
#define NET_MAX_PEERS 128
#define NET_SOCKBUF (4 * 1024 * 1024)

enum net_mode { NET_BROADCAST = 0, NET_MULTICAST, NET_UNICAST };
extern const char *const net_mode_names[3];

struct net_pkt {
	uint32_t from;     /* sender's IPv4 address, host order */
	uint16_t from_port;
	const uint8_t *data; /* borrowed until the next net_udp_recv() */
	size_t len;
};

struct net_stats {
	uint64_t pkts_out, pkts_in, bytes_out, bytes_in;
	uint64_t send_calls, recv_calls, send_errors, truncated;
	uint64_t gso_sends;    /* sends of several datagrams in one buffer */
	uint64_t gso_fallback; /* runs sent plain after a refused one */
	uint64_t gro_bufs;     /* receive buffers that held several */
	uint64_t gro_dropped;  /* datagrams beyond NET_PKTS_MAX, dropped */
};

struct net_udp {
	enum net_mode mode;
	int fd;  /* bound to my_addr:port */
	int bfd; /* bound to seg_addr:port (broadcast, multicast), or -1 */
	uint32_t my_addr, seg_addr;
	uint16_t port;
	uint32_t peers[NET_MAX_PEERS]; /* unicast: the other daemons */
	unsigned n_peers;
	size_t pkt_max;

	/* Send batch: n_out datagrams queued in oiov/oaddr; a flush gathers
	 * them into out[] (run[i] datagrams in out[i]). */
	unsigned n_out;
	uint8_t *obuf;
	struct mmsghdr out[NET_BATCH];
	unsigned run[NET_BATCH];
	union {
		char buf[CMSG_SPACE(sizeof(uint16_t))];
		struct cmsghdr align;
	} octl[NET_BATCH];
	struct iovec oiov[NET_BATCH];
	struct sockaddr_storage oaddr[NET_BATCH];
	int gso;              /* segmented sends allowed */
	size_t gso_seg_max;   /* longest segment the kernel took (0: any) */

	/* Receive batch: NET_BATCH buffers of islot bytes (NET_GRO_BUF with
	 * UDP_GRO, else pkt_max), cut into pkts. */
	uint8_t *ibuf;
	size_t islot;
	int gro;
	struct mmsghdr in[NET_BATCH];
	struct iovec iiov[NET_BATCH];
	struct sockaddr_storage iaddr[NET_BATCH];
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} ictl[NET_BATCH];
	struct net_pkt *pkts; /* NET_PKTS_MAX */

	struct net_stats stats;
	int rcvbuf, sndbuf; /* what the kernel granted */
	int own_filtered;   /* bfd drops our own datagrams in the kernel */
	int mcast_loop;     /* multicast: another daemon shares this host */
};

/* Opens the sockets. peers lists every daemon of the segment (my_addr
 * may be among them); pkt_max is the largest datagram. Segmentation
 * offload is used when there are peers. Returns 0, or -1 with a message
 * in err. */
int net_udp_open(struct net_udp *n, enum net_mode mode, uint32_t my_addr,
		 uint32_t seg_addr, uint16_t port, const uint32_t *peers,
		 unsigned n_peers, size_t pkt_max, char *err, size_t errlen);
void net_udp_close(struct net_udp *n);

/* Queues a datagram to daemon `to` (IPv4) or, for 0xffffffff, to every
 * daemon; copies pkt. */
void net_udp_send(struct net_udp *n, uint32_t to, const uint8_t *pkt,
		  size_t len);
/* Writes every queued datagram. */
void net_udp_flush(struct net_udp *n);
/* A datagram straight to an address and port (monitor replies). */
void net_udp_reply(struct net_udp *n, uint32_t to, uint16_t port,
		   const uint8_t *pkt, size_t len);

/* Reads up to NET_BATCH buffers from fd (n->fd or n->bfd) and points
 * *pkts at the datagrams they held (valid until the next call). Returns
 * how many datagrams (0 when nothing is waiting); *more is set when every
 * buffer was used (more may be waiting). */
unsigned net_udp_recv(struct net_udp *n, int fd, const struct net_pkt **pkts,
		      int *more);

/* The mode "auto" picks: multicast for a class D segment address,
 * unicast on loopback or when no local interface has the segment
 * address as its broadcast address, else broadcast. */
enum net_mode net_udp_auto_mode(uint32_t seg_addr);

#endif /* CHORUS_NET_UDP_H */
