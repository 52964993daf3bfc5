/*
 * test_order_ring.c - the ordering service over the ring (src/daemon/
 * order_ring.c) with three instances in one process on an in-memory
 * network and a simulated clock: frames of every size delivered in one
 * order everywhere and back to their origin; every service level and
 * the join/leave events mapped; back-pressure (congested while frames
 * wait for room, and released); a busy origin packing frames into ring
 * messages; and a configuration change in the middle
 * of a large frame: the pieces of the old configuration are refused, the
 * origin sends the frame again, and the daemons that move together
 * deliver the same frames, each once, in the same order.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/order_ring.h"
#include "t.h"

#define N 3
#define MAXQ 20000
#define MAXD 4096

struct pkt {
	uint32_t from, to;
	size_t len;
	uint8_t *data;
};

struct node {
	struct ord *o;
	uint32_t id;
	int idx;
	/* Delivered data frames: "origin:index" keys, in order. */
	int n_del;
	int del[MAXD];
	int n_regular;
	struct ord_conf last;
	int saw_trans;
};

static struct node nodes[N];
static struct pkt q[MAXQ];
static unsigned q_len;
static int64_t now;
static int cut; /* this node's packets are dropped both ways; -1 none */

static void net_send(void *ctx, uint32_t to, const uint8_t *pkt, size_t len)
{
	struct node *n = ctx;

	for (int k = 0; k < N; k++) {
		uint32_t dst = nodes[k].id;

		if (dst == n->id || (to != RING_BROADCAST && to != dst))
			continue;
		if (cut == n->idx || cut == k)
			continue;
		T_ASSERT(q_len < MAXQ);
		q[q_len].from = n->id;
		q[q_len].to = dst;
		q[q_len].len = len;
		q[q_len].data = malloc(len);
		memcpy(q[q_len].data, pkt, len);
		q_len++;
	}
}

static void on_deliver(void *ctx, struct msg *m)
{
	struct node *n = ctx;
	struct wire_hdr h;
	int origin, index;

	wire_hdr_decode(m->data, &h);
	T_EQ(m->len, WIRE_HDR_LEN + (size_t)h.data_len + 32u * (size_t)h.num_groups);
	if (!(h.type & WIRE_SERVICES))
		return; /* a join */
	T_ASSERT(sscanf((const char *)m->data + WIRE_HDR_LEN + 32, "%d:%d", &origin,
			&index) == 2);
	/* The body after the key is a pattern of the key. */
	for (int32_t k = 16; k < h.data_len; k++)
		T_EQ(m->data[WIRE_HDR_LEN + 32 + (size_t)k],
		     (uint8_t)(origin * 7 + index + k));
	T_ASSERT(n->n_del < MAXD);
	n->del[n->n_del++] = origin * 1000 + index;
}

static void on_conf(void *ctx, const struct ord_conf *c)
{
	struct node *n = ctx;

	if (c->transitional) {
		n->saw_trans = 1;
		return;
	}
	n->n_regular++;
	n->last = *c;
}

/* A frame from node `origin`, number `index`, of dl data bytes. */
static struct msg *frame(int origin, int index, int32_t dl, uint32_t service)
{
	struct msg *m = msg_new((uint32_t)(WIRE_HDR_LEN + 32 + dl));
	struct wire_hdr h;

	memset(&h, 0, sizeof(h));
	h.type = service;
	snprintf(h.name, sizeof(h.name), "#u%d#d%d", origin, origin);
	h.num_groups = 1;
	h.hint = wire_hint_make(1);
	h.data_len = dl;
	wire_hdr_encode(&h, m->data);
	memset(m->data + WIRE_HDR_LEN, 0, 32);
	memcpy(m->data + WIRE_HDR_LEN, "grp", 3);
	memset(m->data + WIRE_HDR_LEN + 32, 0, 16 < dl ? 16 : (size_t)dl);
	snprintf((char *)m->data + WIRE_HDR_LEN + 32, 16, "%u:%u",
		 (unsigned)origin % 10u, (unsigned)index % 100000u);
	for (int32_t k = 16; k < dl; k++)
		m->data[WIRE_HDR_LEN + 32 + (size_t)k] = (uint8_t)(origin * 7 + index + k);
	return m;
}

/* The ring's window for start() (0: the default). A daemon alone with a
 * backlog sends the whole window in one visit. */
static uint32_t start_window;

static void start(void)
{
	for (int i = 0; i < N; i++) {
		struct ring_config rc;
		struct ord_cb cb = { &nodes[i], on_deliver, on_conf };
		struct ord_ring_shell sh = { &nodes[i], net_send, NULL };
		char err[256];

		memset(&nodes[i], 0, sizeof(nodes[i]));
		nodes[i].id = 0x0a000001u + (uint32_t)i;
		nodes[i].idx = i;
		ring_config_defaults(&rc);
		rc.my_id = nodes[i].id;
		rc.incarnation = 1;
		rc.ring_seq_base = 100;
		rc.conf_hash = 0x1234;
		if (start_window) {
			rc.window = start_window;
			rc.personal_window = start_window < rc.personal_window ?
					     start_window : rc.personal_window;
			rc.accel_window = 0;
		}
		rc.n_members = N;
		for (int k = 0; k < N; k++)
			rc.members[k] = 0x0a000001u + (uint32_t)k;
		nodes[i].o = ord_ring_new(&cb, &rc, &sh, now, err, sizeof(err));
		T_ASSERTF(nodes[i].o, "%s", err);
	}
}

/* One millisecond: every queued packet arrives, then every node ticks. */
static void step(void)
{
	unsigned n = q_len;
	static struct pkt batch[MAXQ];

	memcpy(batch, q, n * sizeof(q[0]));
	q_len = 0;
	for (unsigned i = 0; i < n; i++) {
		for (int k = 0; k < N; k++)
			if (nodes[k].id == batch[i].to && cut != k)
				ord_ring_input(nodes[k].o, now, batch[i].from,
					       batch[i].data, batch[i].len);
		free(batch[i].data);
	}
	now++;
	for (int k = 0; k < N; k++)
		nodes[k].o->ops->run(nodes[k].o, now);
}

/* Runs until every node in mask has a regular configuration of `members`
 * daemons, nothing pending, and as many deliveries as node 0; returns the
 * steps taken or -1. */
static int settle(unsigned mask, int members, int max_ms)
{
	for (int t = 0; t < max_ms; t++) {
		int ok = 1;

		for (int k = 0; k < N; k++)
			if ((mask >> k) & 1)
				ok = ok && nodes[k].n_regular &&
				     nodes[k].last.n_daemons == members &&
				     nodes[k].o->ops->pending(nodes[k].o) == 0 &&
				     nodes[k].n_del == nodes[0].n_del;
		if (ok)
			return t;
		step();
	}
	return -1;
}

static void stop(void)
{
	for (int k = 0; k < N; k++)
		nodes[k].o->ops->destroy(nodes[k].o);
	for (unsigned i = 0; i < q_len; i++)
		free(q[i].data);
	q_len = 0;
}

static void same_order_every_size(void)
{
	static const int32_t sizes[] = { 16, 17, 1300, 1400, 5000, 143000, 40 };
	static const uint32_t services[] = { 0x01, 0x02, 0x04, 0x08, 0x10, 0x20 };
	int sent = 0;

	cut = -1;
	start();
	T_ASSERT(settle(7, 3, 20000) >= 0);
	for (int i = 0; i < 30; i++)
		for (int k = 0; k < N; k++) {
			struct msg *m = frame(k, i, sizes[(i + k) % 7],
					      services[(i + k) % 6]);

			T_EQ(nodes[k].o->ops->submit(nodes[k].o, m), 0);
			sent++;
		}
	T_ASSERT(settle(7, 3, 60000) >= 0);
	for (int k = 0; k < N; k++) {
		int next[N] = { 0, 0, 0 };

		T_EQ(nodes[k].n_del, sent);
		T_MEMEQ(nodes[k].del, nodes[0].del, (size_t)sent * sizeof(int));
		for (int i = 0; i < sent; i++) {
			int o = nodes[k].del[i] / 1000;

			T_EQ(nodes[k].del[i] % 1000, next[o]++); /* FIFO */
		}
	}
	stop();
}

static void services_mapped(void)
{
	uint8_t b[WIRE_HDR_LEN];
	struct wire_hdr h;
	static const struct {
		uint32_t type;
		enum ring_service want;
	} cases[] = {
		{ 0x01, RING_UNRELIABLE }, { 0x02, RING_RELIABLE },
		{ 0x04, RING_FIFO }, { 0x08, RING_CAUSAL }, { 0x10, RING_AGREED },
		{ 0x20, RING_SAFE }, { 0x20 | WIRE_SELF_DISCARD, RING_SAFE },
		{ WIRE_JOIN, RING_AGREED }, { WIRE_LEAVE, RING_AGREED },
		{ WIRE_KILL, RING_AGREED },
	};

	for (size_t i = 0; i < T_COUNT(cases); i++) {
		memset(&h, 0, sizeof(h));
		h.type = cases[i].type;
		wire_hdr_encode(&h, b);
		T_EQ(ord_ring_service_of(b), cases[i].want);
	}
}

static void back_pressure(void)
{
	int sent = 0;

	cut = -1;
	start();
	/* Before any ring: accepted, waiting, congested. */
	T_EQ(nodes[0].o->ops->submit(nodes[0].o, frame(0, sent++, 100, 0x10)), 0);
	T_ASSERT(nodes[0].o->ops->congested(nodes[0].o));
	T_ASSERT(settle(7, 3, 20000) >= 0);
	T_ASSERT(!nodes[0].o->ops->congested(nodes[0].o));
	/* More than the ring's send queue holds (1024 pieces). */
	while (!nodes[0].o->ops->congested(nodes[0].o)) {
		T_ASSERT(sent < 900);
		T_EQ(nodes[0].o->ops->submit(nodes[0].o, frame(0, sent++, 20000, 0x10)), 0);
	}
	T_ASSERT(settle(7, 3, 60000) >= 0);
	T_ASSERT(!nodes[0].o->ops->congested(nodes[0].o));
	for (int k = 0; k < N; k++)
		T_EQ(nodes[k].n_del, sent);
	stop();
}

/* A busy origin packs: 200 frames of the benchmark's size (1350 data
 * bytes, one group) submitted at once take about one ring message each,
 * not two; a frame of another service starts a message of its own. All
 * arrive in order everywhere. */
static void busy_origin_packs(void)
{
	struct ord_ring_info a, b;
	int sent = 0;

	cut = -1;
	start();
	T_ASSERT(settle(7, 3, 20000) >= 0);
	ord_ring_info(nodes[0].o, &a);
	for (int i = 0; i < 200; i++) {
		uint32_t svc = i % 50 == 49 ? 0x20 : 0x10;

		T_EQ(nodes[0].o->ops->submit(nodes[0].o,
					     frame(0, sent++, 1350, svc)), 0);
	}
	T_ASSERT(settle(7, 3, 60000) >= 0);
	ord_ring_info(nodes[0].o, &b);
	for (int k = 0; k < N; k++) {
		T_EQ(nodes[k].n_del, sent);
		for (int i = 0; i < sent; i++)
			T_EQ(nodes[k].del[i], i);
	}
	T_ASSERTF(b.stats.data_out - a.stats.data_out < 220,
		  "%llu ring messages for %d frames",
		  (unsigned long long)(b.stats.data_out - a.stats.data_out), sent);
	T_ASSERT(b.stats.appended > a.stats.appended);
	stop();
}

static void conf_change_mid_frame(void)
{
	struct ord_ring_info info;
	uint64_t before;
	int sent = 0;

	cut = -1;
	/* A visit carries fewer pieces than a large frame has (104). */
	start_window = 40;
	start();
	T_ASSERT(settle(7, 3, 20000) >= 0);
	/* Two large frames of node 0 and a small one behind them. */
	T_EQ(nodes[0].o->ops->submit(nodes[0].o, frame(0, sent++, 140000, 0x20)), 0);
	T_EQ(nodes[0].o->ops->submit(nodes[0].o, frame(0, sent++, 140000, 0x10)), 0);
	T_EQ(nodes[0].o->ops->submit(nodes[0].o, frame(0, sent++, 10, 0x04)), 0);
	/* Run until node 1 holds part of the first frame. */
	ord_ring_info(nodes[1].o, &info);
	before = info.stats.delivered;
	for (int t = 0; t < 5000; t++) {
		ord_ring_info(nodes[1].o, &info);
		if (info.stats.delivered >= before + 10)
			break;
		step();
	}
	T_ASSERT(info.stats.delivered >= before + 10);
	T_EQ(nodes[1].n_del, 0);
	/* Node 2 goes away: 0 and 1 move on together. */
	cut = 2;
	T_ASSERT(settle(3, 2, 60000) >= 0);
	ord_ring_info(nodes[0].o, &info);
	T_ASSERT(info.resubmitted >= 1);
	T_ASSERT(info.frag.stale > 0);
	for (int k = 0; k < 2; k++) {
		T_EQ(nodes[k].n_del, 3);
		for (int i = 0; i < 3; i++)
			T_EQ(nodes[k].del[i], i);
	}
	T_ASSERT(nodes[0].saw_trans && nodes[1].saw_trans);
	stop();
}

int main(int argc, char **argv)
{
	static const struct t_case cases[] = {
		T_CASE(same_order_every_size),
		T_CASE(services_mapped),
		T_CASE(back_pressure),
		T_CASE(busy_origin_packs),
		T_CASE(conf_change_mid_frame),
	};

	return t_main(argc, argv, cases, T_COUNT(cases));
}
