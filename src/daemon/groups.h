/*
 * groups.h - chorusd's side of the group table: it feeds the events that
 * come out of the ordering service to the view of the segment's groups
 * (gview.h) and turns the view's outputs into frames for local sessions
 * (docs/client-protocol.md section 5, and "Groups across daemons").
 *
 * Every function here runs when an event comes out of the ordering
 * service (or the service reports a configuration), so every daemon
 * applies the same changes in the same order.
 *
 * Ownership: the daemon owns its view (struct chd's `gv`); the view owns
 * its groups. A group's local member points to its session; a session is
 * retired only once the view has applied its disconnect, so the pointer
 * stays valid while the member exists.
 */
#ifndef CHORUS_GROUPS_H
#define CHORUS_GROUPS_H

#include <stdint.h>

#include "gview.h"
#include "msg.h"
#include "order.h"
#include "proto/wire.h"

/* The type of a group-state exchange frame (Spread's daemon-internal
 * bit; the session layer never accepts it from a client). */
#define GROUPS_STATE_TYPE 0x00080000u

struct chd;
struct sess;

int groups_init(struct chd *d, int max_members);
void groups_free(struct chd *d);

/* Applies a join, leave or disconnect frame (daemon order) as delivered;
 * the frame's name field is the sender's private group "#user#daemon",
 * of this daemon or of another. */
void groups_event(struct chd *d, const struct msg *m);
/* A disconnect of a local session that could not go through the ordering
 * service (out of memory): applied here alone. */
void groups_disconnect(struct chd *d, struct sess *s);
/* Delivers a data message to its local recipients, now or, during a
 * group-state exchange, once it ends. */
void groups_deliver_data(struct chd *d, struct msg *m);
/* A group-state exchange frame as delivered. */
void groups_state(struct chd *d, const struct msg *m);
/* A configuration from the ordering service. */
void groups_conf(struct chd *d, const struct ord_conf *c);
/* Submits state messages the ordering service could not take before. */
void groups_flush(struct chd *d);

/* The frames of the view's notifications (pure; the caller owns the
 * result, NULL out of memory or if too large): a regular membership of g
 * as `receiver` (an own member, or NULL for one of local_set) gets it,
 * and a transitional signal. */
struct msg *groups_memb_frame(const struct gv_group *g, uint32_t cause,
			      const char *changed, const struct gv_vs *vs,
			      const struct gv_member *receiver);
struct msg *groups_trans_frame(const struct gv_group *g, const int32_t old_gid[3]);

#endif /* CHORUS_GROUPS_H */
