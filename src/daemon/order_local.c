/*
 * order_local.c - the ordering service of a segment of one daemon.
 *
 * With one daemon the agreed total order is simply the order in which the
 * daemon accepted the events, so every service level (reliable through
 * safe) is met by delivering in submission order: everything submitted is
 * "stable" at once because the configuration has one member.
 */
#include <stdlib.h>

#include "order.h"

#define LOCAL_QUEUE_MAX 65536

struct ord_local {
	struct ord base;
	struct msg **q; /* ring buffer of pending events */
	unsigned head, len, cap;
	int started;
	struct ord_conf conf;
};

static int local_submit(struct ord *o, struct msg *m)
{
	struct ord_local *l = (struct ord_local *)o;

	if (l->len == l->cap) {
		unsigned ncap = l->cap ? l->cap * 2 : 256;
		struct msg **nq;

		if (ncap > LOCAL_QUEUE_MAX)
			return -1;
		nq = malloc(ncap * sizeof(*nq));
		if (!nq)
			return -1;
		for (unsigned i = 0; i < l->len; i++)
			nq[i] = l->q[(l->head + i) % l->cap];
		free(l->q);
		l->q = nq;
		l->head = 0;
		l->cap = ncap;
	}
	l->q[(l->head + l->len) % l->cap] = m;
	l->len++;
	return 0;
}

static void local_run(struct ord *o, int64_t now_ms)
{
	struct ord_local *l = (struct ord_local *)o;
	unsigned n;

	(void)now_ms;
	if (!l->started) {
		l->started = 1;
		o->cb.conf_change(o->cb.ctx, &l->conf);
	}
	/* Deliver only what was pending on entry: events submitted by the
	 * deliveries themselves wait for the next round, as on a ring. */
	for (n = l->len; n > 0; n--) {
		struct msg *m = l->q[l->head];

		l->head = (l->head + 1) % l->cap;
		l->len--;
		o->cb.deliver(o->cb.ctx, m);
		msg_unref(m);
	}
}

static int64_t local_next_deadline(const struct ord *o)
{
	const struct ord_local *l = (const struct ord_local *)o;

	return (l->len || !l->started) ? 0 : -1;
}

static unsigned local_pending(const struct ord *o)
{
	return ((const struct ord_local *)o)->len;
}

static void local_destroy(struct ord *o)
{
	struct ord_local *l = (struct ord_local *)o;

	if (!l)
		return;
	while (l->len) {
		msg_unref(l->q[l->head]);
		l->head = (l->head + 1) % l->cap;
		l->len--;
	}
	free(l->q);
	free(l);
}

static const struct ord_ops local_ops = {
	.submit = local_submit,
	.run = local_run,
	.next_deadline = local_next_deadline,
	.pending = local_pending,
	.destroy = local_destroy,
};

struct ord *ord_local_new(const struct ord_cb *cb, uint32_t daemon_id,
			  uint32_t memb_time)
{
	struct ord_local *l = calloc(1, sizeof(*l));

	if (!l)
		return NULL;
	l->base.ops = &local_ops;
	l->base.cb = *cb;
	l->conf.memb_proc = daemon_id;
	l->conf.memb_time = memb_time;
	l->conf.n_daemons = 1;
	l->conf.daemons[0] = daemon_id;
	return &l->base;
}
