/*
 * order.h - the ordering and membership service of chorusd.
 *
 * Every client event (a multicast, a join, a leave, a disconnect) enters
 * this service and comes back out through the deliver callback, in the
 * one order that every daemon of the configuration agrees on. Sessions and
 * groups never see whether that order came from a single daemon or from
 * the ring; only this interface is swapped.
 *
 * The single-daemon implementation (order_local.c) delivers events in the
 * order they were submitted, at the next call of run(). The ring
 * (src/ring/) implements the same operations over the network.
 *
 * Ownership: submit() takes one reference to the message. The message
 * passed to deliver() is borrowed for the duration of the call; the
 * callee takes a reference if it keeps it.
 */
#ifndef CHORUS_ORDER_H
#define CHORUS_ORDER_H

#include <stdint.h>

#include "msg.h"

#define ORD_MAX_DAEMONS 128

/* A configuration: which daemons deliver together, and its id. */
struct ord_conf {
	uint32_t memb_proc; /* id of the configuration: representative's */
	uint32_t memb_time; /* IPv4 address and a time stamp             */
	int transitional;   /* 1: transitional, 0: regular               */
	int n_daemons;
	uint32_t daemons[ORD_MAX_DAEMONS]; /* daemon ids, in ring order */
};

struct ord_cb {
	void *ctx;
	void (*deliver)(void *ctx, struct msg *m);
	void (*conf_change)(void *ctx, const struct ord_conf *conf);
};

struct ord;

struct ord_ops {
	/* Submits a frame (daemon byte order). Returns 0, or -1 if the
	 * service cannot take more now (the caller keeps the event). */
	int (*submit)(struct ord *o, struct msg *m);
	/* Delivers what is ready and handles expired deadlines. */
	void (*run)(struct ord *o, int64_t now_ms);
	/* Earliest deadline in ms, or -1 for none. */
	int64_t (*next_deadline)(const struct ord *o);
	/* Number of submitted events not yet delivered. */
	unsigned (*pending)(const struct ord *o);
	void (*destroy)(struct ord *o);
	/* Optional (NULL: never): 1 while the service cannot take events as
	 * fast as they come (the ring's send queue is full, or no ring is
	 * installed). The daemon stops reading client sessions until it
	 * returns 0; events submitted meanwhile are still accepted. */
	int (*congested)(const struct ord *o);
};

struct ord {
	const struct ord_ops *ops;
	struct ord_cb cb;
};

/* The single-daemon service; conf_change() is called once, from the first
 * run(), with a regular configuration of this daemon alone. */
struct ord *ord_local_new(const struct ord_cb *cb, uint32_t daemon_id,
			  uint32_t memb_time);

/* The ring's service (order_ring.c, order_ring.h): every daemon of the
 * segment over the network. */

#endif /* CHORUS_ORDER_H */
