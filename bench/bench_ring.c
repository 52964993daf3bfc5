/*
 * bench_ring.c - microbenchmark of the ring core (src/ring/) in one
 * process over a perfect network: no loss, no delay, packets handed over
 * in the order sent. Every daemon keeps its send queue full of agreed
 * messages; the figures are what the core itself costs.
 *
 * For 3 and 5 daemons, 100 and 1350-byte messages, classic and
 * accelerated ring, it prints:
 *   - deliveries per second, all daemons together, on one CPU: since the
 *     daemons share that CPU, this is also the rate one daemon would
 *     sustain on a CPU of its own (the core's cost per delivery);
 *   - packets sent per message ordered (broadcasts count once, as on a
 *     LAN; tokens included);
 *   - token rotations per second.
 *
 * A second table runs the same over a modeled LAN, in simulated time:
 * each daemon has a 1 Gb/s link out and in (a packet occupies the
 * sender's link, then the receiver's, for its length), 20 us of latency,
 * and processing costs nothing. There the accelerated ring shows what it
 * is for: the next daemon starts sending while the last one's messages
 * are still on the wire.
 *
 * usage: bench_ring [messages per run, default 2000000]
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ring/ring.h"

#define MAX_N 5
#define QCAP 8192
#define PKT_MAX 1600

struct pkt {
	uint8_t from;
	uint32_t to;
	uint16_t len;
	uint8_t data[PKT_MAX];
};

struct net {
	struct ring *r[MAX_N];
	uint32_t ids[MAX_N];
	unsigned n;
	struct pkt *q;
	unsigned head, len;
	uint64_t packets, deliveries, bytes;
	int64_t now;
};

struct node {
	struct net *net;
	unsigned i;
};

static void on_send(void *ctx, uint32_t to, const uint8_t *p, size_t len)
{
	struct node *nd = ctx;
	struct net *w = nd->net;
	struct pkt *k;

	if (w->len == QCAP || len > PKT_MAX) {
		fprintf(stderr, "bench: network queue full\n");
		exit(1);
	}
	k = &w->q[(w->head + w->len++) % QCAP];
	k->from = (uint8_t)nd->i;
	k->to = to;
	k->len = (uint16_t)len;
	memcpy(k->data, p, len);
	w->packets++;
}

static void on_deliver(void *ctx, const struct ring_delivery *d)
{
	struct node *nd = ctx;

	nd->net->deliveries++;
	nd->net->bytes += d->len;
}

static void on_conf(void *ctx, const struct ring_conf *c)
{
	(void)ctx;
	(void)c;
}

static double secs(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Hands every queued packet over, then lets time pass by one ms when the
 * network is quiet. */
static void pump(struct net *w)
{
	while (w->len) {
		struct pkt *k = &w->q[w->head];

		w->head = (w->head + 1) % QCAP;
		w->len--;
		for (unsigned j = 0; j < w->n; j++) {
			if (j == k->from || (k->to != RING_BROADCAST && k->to != w->ids[j]))
				continue;
			ring_input_packet(w->r[j], w->now, w->ids[k->from], k->data, k->len);
		}
	}
}

static void run(unsigned n, unsigned size, int accelerated, uint64_t messages)
{
	static uint8_t payload[1400];
	struct node nodes[MAX_N];
	struct ring_io io;
	struct ring_config c;
	struct net w;
	uint64_t sent = 0, p0, d0, rot0 = 0, rot1 = 0;
	double t0, t1;

	memset(&w, 0, sizeof(w));
	w.n = n;
	w.q = malloc(QCAP * sizeof(*w.q));
	if (!w.q)
		exit(1);
	for (unsigned i = 0; i < n; i++)
		w.ids[i] = 0x0a000001 + i;
	for (unsigned i = 0; i < n; i++) {
		nodes[i].net = &w;
		nodes[i].i = i;
		ring_config_defaults(&c);
		c.my_id = w.ids[i];
		c.incarnation = 1;
		c.n_members = n;
		memcpy(c.members, w.ids, n * sizeof(uint32_t));
		c.accelerated = accelerated;
		c.send_queue_max = 256;
		io.ctx = &nodes[i];
		io.send = on_send;
		io.deliver = on_deliver;
		io.conf = on_conf;
		io.event = NULL;
		if (ring_create(&c, &io, 0, &w.r[i]) != 0)
			exit(1);
	}
	/* Form the ring. */
	for (int k = 0; k < 5000; k++) {
		struct ring_status st;

		pump(&w);
		w.now++;
		for (unsigned i = 0; i < n; i++)
			ring_input_tick(w.r[i], w.now);
		ring_get_status(w.r[0], &st);
		if (st.state == RING_OPERATIONAL && st.n_members == n)
			break;
	}
	memset(payload, 'x', sizeof(payload));
	p0 = w.packets;
	d0 = w.deliveries;
	for (unsigned i = 0; i < n; i++)
		rot0 += ring_get_stats(w.r[i])->rotations;
	t0 = secs();
	while (w.deliveries - d0 < messages * n) {
		for (unsigned i = 0; i < n; i++)
			while (ring_submit(w.r[i], w.now, payload, size, RING_AGREED) == 0)
				sent++;
		pump(&w);
		/* Quiet (everything waits for the token somewhere): time. */
		for (unsigned i = 0; i < n; i++) {
			int64_t d = ring_next_deadline(w.r[i]);

			if (d >= 0 && d <= w.now)
				ring_input_tick(w.r[i], w.now);
		}
		if (!w.len)
			w.now++;
	}
	t1 = secs();
	for (unsigned i = 0; i < n; i++)
		rot1 += ring_get_stats(w.r[i])->rotations;
	{
		double dt = t1 - t0, deliv = (double)(w.deliveries - d0);
		double msgs = deliv / n;

		printf("%u daemons %4u bytes %-11s  %10.0f deliveries/s  "
		       "%5.2f packets/message  %8.0f rotations/s  %6.1f MB/s\n",
		       n, size, accelerated ? "accelerated" : "classic", deliv / dt,
		       (double)(w.packets - p0) / msgs, (double)(rot1 - rot0) / dt,
		       (double)size * deliv / dt / 1e6);
	}
	for (unsigned i = 0; i < n; i++)
		ring_destroy(w.r[i]);
	free(w.q);
	(void)sent;
}

/* ---- the modeled LAN ---------------------------------------------------- */

#define LINK_NS_PER_BYTE 8   /* 1 Gb/s */
#define LATENCY_NS 20000
#define EV_MAX 65536

struct mev {
	int64_t t;
	uint64_t seq;
	unsigned pkt, to;
};

struct mnet {
	struct ring *r[MAX_N];
	uint32_t ids[MAX_N];
	unsigned n;
	int64_t now_ns;
	int64_t out_free[MAX_N], in_free[MAX_N];
	struct mev *heap;
	unsigned hn;
	uint64_t seq;
	struct pkt *pk; /* packet pool, one per in-flight copy */
	unsigned *free_pk, n_free;
	uint64_t deliveries;
};

struct mnode {
	struct mnet *net;
	unsigned i;
};

static void mpush(struct mnet *w, struct mev e)
{
	unsigned i = w->hn++;

	e.seq = w->seq++;
	while (i > 0) {
		unsigned p = (i - 1) / 2;

		if (w->heap[p].t < e.t || (w->heap[p].t == e.t && w->heap[p].seq < e.seq))
			break;
		w->heap[i] = w->heap[p];
		i = p;
	}
	w->heap[i] = e;
}

static struct mev mpop(struct mnet *w)
{
	struct mev top = w->heap[0], last = w->heap[--w->hn];
	unsigned i = 0;

	for (;;) {
		unsigned c = 2 * i + 1;

		if (c >= w->hn)
			break;
		if (c + 1 < w->hn && (w->heap[c + 1].t < w->heap[c].t ||
		    (w->heap[c + 1].t == w->heap[c].t && w->heap[c + 1].seq < w->heap[c].seq)))
			c++;
		if (last.t < w->heap[c].t || (last.t == w->heap[c].t && last.seq < w->heap[c].seq))
			break;
		w->heap[i] = w->heap[c];
		i = c;
	}
	if (w->hn)
		w->heap[i] = last;
	return top;
}

static void m_send(void *ctx, uint32_t to, const uint8_t *p, size_t len)
{
	struct mnode *nd = ctx;
	struct mnet *w = nd->net;
	int64_t wire = (int64_t)(len + 42) * LINK_NS_PER_BYTE, out;

	/* The sender's link carries it once (a broadcast too). */
	out = (w->out_free[nd->i] > w->now_ns ? w->out_free[nd->i] : w->now_ns) + wire;
	w->out_free[nd->i] = out;
	for (unsigned j = 0; j < w->n; j++) {
		int64_t in;
		unsigned k;

		if (j == nd->i || (to != RING_BROADCAST && to != w->ids[j]))
			continue;
		if (!w->n_free || w->hn == EV_MAX) {
			fprintf(stderr, "bench: modeled network full\n");
			exit(1);
		}
		k = w->free_pk[--w->n_free];
		w->pk[k].from = (uint8_t)nd->i;
		w->pk[k].len = (uint16_t)len;
		memcpy(w->pk[k].data, p, len);
		in = (w->in_free[j] > out + LATENCY_NS ? w->in_free[j] : out + LATENCY_NS) + wire;
		w->in_free[j] = in;
		mpush(w, (struct mev){ in, 0, k, j });
	}
}

static void m_deliver(void *ctx, const struct ring_delivery *d)
{
	struct mnode *nd = ctx;

	(void)d;
	nd->net->deliveries++;
}

static void run_modeled(unsigned n, unsigned size, int accelerated, double sim_s)
{
	static uint8_t payload[1400];
	struct mnode nodes[MAX_N];
	struct ring_config c;
	struct ring_io io;
	struct mnet w;
	int64_t start = 0, end;
	uint64_t d0 = 0, msgs_out = 0;

	memset(&w, 0, sizeof(w));
	w.n = n;
	w.heap = malloc(EV_MAX * sizeof(*w.heap));
	w.pk = malloc(EV_MAX * sizeof(*w.pk));
	w.free_pk = malloc(EV_MAX * sizeof(*w.free_pk));
	if (!w.heap || !w.pk || !w.free_pk)
		exit(1);
	for (unsigned k = 0; k < EV_MAX; k++)
		w.free_pk[w.n_free++] = EV_MAX - 1 - k;
	for (unsigned i = 0; i < n; i++)
		w.ids[i] = 0x0a000001 + i;
	for (unsigned i = 0; i < n; i++) {
		nodes[i].net = &w;
		nodes[i].i = i;
		ring_config_defaults(&c);
		c.my_id = w.ids[i];
		c.incarnation = 1;
		c.n_members = n;
		memcpy(c.members, w.ids, n * sizeof(uint32_t));
		c.accelerated = accelerated;
		c.send_queue_max = 256;
		io.ctx = &nodes[i];
		io.send = m_send;
		io.deliver = m_deliver;
		io.conf = on_conf;
		io.event = NULL;
		if (ring_create(&c, &io, 0, &w.r[i]) != 0)
			exit(1);
	}
	memset(payload, 'y', sizeof(payload));
	end = (int64_t)(sim_s * 1e9) + 3000000000ll;
	while (w.now_ns < end) {
		struct ring_status st;
		int64_t next = w.now_ns + 1000000; /* at most 1 ms without ticks */

		ring_get_status(w.r[0], &st);
		if (!start && st.state == RING_OPERATIONAL && st.n_members == n) {
			start = w.now_ns;
			end = start + (int64_t)(sim_s * 1e9);
			d0 = w.deliveries;
		}
		for (unsigned i = 0; start && i < n; i++)
			while (ring_submit(w.r[i], w.now_ns / 1000000, payload, size,
					   RING_AGREED) == 0)
				msgs_out++;
		for (unsigned i = 0; i < n; i++) {
			int64_t d = ring_next_deadline(w.r[i]);

			if (d >= 0 && d * 1000000 <= w.now_ns)
				ring_input_tick(w.r[i], w.now_ns / 1000000);
			else if (d >= 0 && d * 1000000 < next)
				next = d * 1000000;
		}
		if (w.hn && w.heap[0].t <= next) {
			struct mev e = mpop(&w);
			struct pkt *k = &w.pk[e.pkt];

			w.now_ns = e.t;
			ring_input_packet(w.r[e.to], w.now_ns / 1000000, w.ids[k->from],
					  k->data, k->len);
			w.free_pk[w.n_free++] = e.pkt;
		} else {
			w.now_ns = next;
		}
	}
	{
		double msgs = (double)(w.deliveries - d0) / n;

		printf("%u daemons %4u bytes %-11s  %10.0f messages/s  %7.1f Mb/s "
		       "of payload\n", n, size, accelerated ? "accelerated" : "classic",
		       msgs / sim_s, msgs * size * 8 / sim_s / 1e6);
	}
	for (unsigned i = 0; i < n; i++)
		ring_destroy(w.r[i]);
	free(w.heap);
	free(w.pk);
	free(w.free_pk);
	(void)msgs_out;
}

int main(int argc, char **argv)
{
	uint64_t messages = argc > 1 ? strtoull(argv[1], NULL, 0) : 2000000;
	static const unsigned ns[] = { 3, 5 }, sizes[] = { 100, 1350 };

	printf("ring core, one CPU, perfect network, agreed messages, "
	       "window 160, personal window 20\n");
	for (int a = 0; a < 2; a++)
		for (unsigned k = 0; k < 2; k++)
			for (unsigned s = 0; s < 2; s++)
				run(ns[k], sizes[s], a, messages / ns[k]);
	printf("\nmodeled LAN, simulated time: 1 Gb/s links in and out of every "
	       "daemon, 20 us latency, free processing\n");
	for (unsigned k = 0; k < 2; k++)
		for (unsigned s = 0; s < 2; s++)
			for (int a = 0; a < 2; a++)
				run_modeled(ns[k], sizes[s], a, 1.0);
	return 0;
}
