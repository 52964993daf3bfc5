/*
 * order_ring.h - the ordering service of chorusd over the ring core
 * (src/ring/): client frames in one total order among the daemons of the
 * segment, with Extended Virtual Synchrony.
 *
 * The service owns a ring instance and the frames its daemon submitted
 * until they come back in the agreed order. It never touches a socket:
 * the shell passes received datagrams to ord_ring_input() and sends what
 * the service hands to shell.send (net_udp.c in chorusd, an in-memory
 * network in the unit tests). Time comes in through run() and
 * ord_ring_input().
 *
 * Ownership: ord_ring_new() returns a service that ops->destroy() frees
 * with the ring and every frame it holds.
 */
#ifndef CHORUS_ORDER_RING_H
#define CHORUS_ORDER_RING_H

#include <stddef.h>
#include <stdint.h>

#include "frag.h"
#include "order.h"
#include "ring/ring.h"

struct ord_ring_shell {
	void *ctx;
	/* A packet to daemon `to` or to every daemon (RING_BROADCAST);
	 * borrowed for the call. */
	void (*send)(void *ctx, uint32_t to, const uint8_t *pkt, size_t len);
	/* Optional: a regular configuration was installed; high_ring_seq is
	 * what the shell saves for the next start (ring.h, ring_seq_base). */
	void (*regular)(void *ctx, uint32_t high_ring_seq);
};

/* What chorus-monitor shows of the service. */
struct ord_ring_info {
	struct ring_status status;
	struct ring_stats stats;
	unsigned outq;      /* frames submitted, not yet delivered back */
	unsigned unpushed;  /* of those, not yet in the ring's send queue */
	uint64_t resubmitted; /* frames sent again after a configuration change */
	struct frag_stats frag;
	uint32_t window, personal_window, accel_window, max_payload;
	int accelerated;
};

/* Creates the service at time now. rc is the ring's configuration
 * (my_id, incarnation, ring_seq_base, conf_hash and members filled in).
 * Returns NULL with a message in err. */
struct ord *ord_ring_new(const struct ord_cb *cb, const struct ring_config *rc,
			 const struct ord_ring_shell *shell, int64_t now,
			 char *err, size_t errlen);

/* A datagram from the daemon with address `from` (IPv4, host order). */
void ord_ring_input(struct ord *o, int64_t now, uint32_t from,
		    const uint8_t *pkt, size_t len);

void ord_ring_info(const struct ord *o, struct ord_ring_info *info);

/* The ring service a client frame (daemon order) asks for: its service
 * bits, or AGREED for joins, leaves and disconnects. */
enum ring_service ord_ring_service_of(const uint8_t *frame);

#endif /* CHORUS_ORDER_RING_H */
