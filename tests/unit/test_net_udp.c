/*
 * test_net_udp.c - the ring's UDP transport (src/daemon/net_udp.c) over
 * loopback, two instances on 127.0.0.1 and 127.0.0.2 in unicast mode:
 * runs of equal datagrams leave in segmented sends and arrive as the
 * same datagrams, in order, with their lengths and bytes (whether the
 * kernel coalesced them or not); a shorter datagram ends a run; "to
 * every daemon" reaches each peer; a datagram too long for the instance
 * is not sent; datagrams "to every daemon" are grouped by address into
 * runs, and a datagram queued last still leaves last to its address.
 */
#include <arpa/inet.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/net_udp.h"
#include "t.h"

#define A_ADDR 0x7f000001u
#define B_ADDR 0x7f000002u
#define C_ADDR 0x7f000003u
#define PKT_MAX 1500

/* Opens instances on the given addresses, all on one free port. */
static void open_all(struct net_udp *n, const uint32_t *addrs, unsigned k)
{
	char err[256];

	for (int tries = 0; tries < 50; tries++) {
		uint16_t port = (uint16_t)(20000 + (getpid() * 7 + tries * 131) % 40000);
		unsigned ok = 0;

		for (; ok < k; ok++)
			if (net_udp_open(&n[ok], NET_UNICAST, addrs[ok], 0x7f0000ffu,
					 port, addrs, k, PKT_MAX, err,
					 sizeof(err)) != 0)
				break;
		if (ok == k)
			return;
		while (ok > 0)
			net_udp_close(&n[--ok]);
	}
	t_skip("no free UDP port on 127.0.0.1-3: %s", err);
}

static void fill(uint8_t *p, size_t len, unsigned tag)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(tag * 31 + i);
}

/* Receives on n until `want` datagrams came (or 2 s passed); checks each
 * against its expected length and tag. */
static void expect(struct net_udp *n, const size_t *lens, unsigned want,
		   uint32_t from)
{
	unsigned got = 0;
	uint8_t exp[PKT_MAX];

	for (int waits = 0; got < want && waits < 200; waits++) {
		struct pollfd pfd = { n->fd, POLLIN, 0 };
		const struct net_pkt *pk;
		int more;
		unsigned k;

		if (poll(&pfd, 1, 10) <= 0)
			continue;
		k = net_udp_recv(n, n->fd, &pk, &more);
		for (unsigned i = 0; i < k; i++, got++) {
			T_ASSERTF(got < want, "more datagrams than sent");
			T_EQ(pk[i].from, from);
			T_EQ(pk[i].len, lens[got]);
			fill(exp, lens[got], got);
			T_ASSERTF(memcmp(pk[i].data, exp, lens[got]) == 0,
				  "datagram %u differs", got);
		}
	}
	T_EQ(got, want);
}

static void segmented_runs(void)
{
	uint32_t addrs[2] = { A_ADDR, B_ADDR };
	struct net_udp n[2];
	size_t lens[40];
	uint8_t buf[PKT_MAX];
	unsigned k = 0;

	open_all(n, addrs, 2);
	/* 20 of 1400, one of 300 (ends the run), 3 of 700, one of 1400,
	 * then 15 of 1000 with a longer one in the middle. */
	for (unsigned i = 0; i < 20; i++)
		lens[k++] = 1400;
	lens[k++] = 300;
	for (unsigned i = 0; i < 3; i++)
		lens[k++] = 700;
	lens[k++] = 1400;
	for (unsigned i = 0; i < 15; i++)
		lens[k++] = i == 7 ? 1200 : 1000;
	for (unsigned i = 0; i < k; i++) {
		fill(buf, lens[i], i);
		net_udp_send(&n[0], B_ADDR, buf, lens[i]);
	}
	net_udp_flush(&n[0]);
	T_EQ(n[0].n_out, 0);
	T_EQ(n[0].stats.pkts_out, k);
	T_EQ(n[0].stats.send_errors, 0);
	/* Where the kernel takes segmented sends, runs went as one send. */
	if (n[0].gso)
		T_ASSERTF(n[0].stats.gso_sends >= 3, "%llu segmented sends",
			  (unsigned long long)n[0].stats.gso_sends);
	expect(&n[1], lens, k, A_ADDR);
	T_EQ(n[1].stats.pkts_in, k);
	T_EQ(n[1].stats.truncated, 0);
	/* Loopback keeps a segmented send whole up to a socket with
	 * UDP_GRO: the receiver cut coalesced buffers apart. */
	if (n[0].gso && n[1].gro)
		T_ASSERTF(n[1].stats.gro_bufs >= 3, "%llu coalesced buffers",
			  (unsigned long long)n[1].stats.gro_bufs);
	net_udp_close(&n[0]);
	net_udp_close(&n[1]);
}

static void to_every_daemon(void)
{
	uint32_t addrs[3] = { A_ADDR, B_ADDR, C_ADDR };
	struct net_udp n[3];
	size_t lens[100];
	uint8_t buf[PKT_MAX];

	open_all(n, addrs, 3);
	T_EQ(n[0].n_peers, 2);
	/* More than a batch: the queue flushes itself on the way. */
	for (unsigned i = 0; i < 100; i++) {
		lens[i] = 1200;
		fill(buf, lens[i], i);
		net_udp_send(&n[0], 0xffffffffu, buf, lens[i]);
	}
	net_udp_flush(&n[0]);
	T_EQ(n[0].stats.pkts_out, 200);
	/* Queued alternately to B and C, they left in runs per address. */
	if (n[0].gso)
		T_ASSERTF(n[0].stats.gso_sends >= 4, "%llu segmented sends",
			  (unsigned long long)n[0].stats.gso_sends);
	expect(&n[1], lens, 100, A_ADDR);
	expect(&n[2], lens, 100, A_ADDR);
	/* A datagram to B queued last (a token) leaves after the ones to
	 * every daemon queued before it. */
	for (unsigned i = 0; i < 5; i++) {
		fill(buf, lens[i], i);
		net_udp_send(&n[0], 0xffffffffu, buf, lens[i]);
	}
	lens[5] = 300;
	fill(buf, lens[5], 5);
	net_udp_send(&n[0], B_ADDR, buf, lens[5]);
	T_EQ(n[0].oiov[n[0].n_out - 1].iov_len, 300);
	net_udp_flush(&n[0]);
	expect(&n[1], lens, 6, A_ADDR);
	expect(&n[2], lens, 5, A_ADDR);
	/* Too long for the instance: not sent at all. */
	net_udp_send(&n[0], B_ADDR, buf, PKT_MAX + 1);
	T_EQ(n[0].n_out, 0);
	for (unsigned i = 0; i < 3; i++)
		net_udp_close(&n[i]);
}

int main(int argc, char **argv)
{
	static const struct t_case cases[] = {
		T_CASE(segmented_runs),
		T_CASE(to_every_daemon),
	};

	return t_main(argc, argv, cases, T_COUNT(cases));
}
