/*
 * access.h - authorisation of client frames in chorusd: the join and
 * send checks of the access rules (authz.h) and the reject frames that
 * report a refusal (docs/client-protocol.md 4.10).
 *
 * A refused join or data frame never reaches the ordering service, so no
 * other client, on this daemon or another, sees anything of it. The
 * sender gets a reject frame at once; the daemon logs the session, its
 * principal and address, the group and the deciding rule.
 */
#ifndef CHORUS_ACCESS_H
#define CHORUS_ACCESS_H

#include <stddef.h>
#include <stdint.h>

#include "proto/wire.h"

struct chd;
struct sess;

/* Checks a validated join (kind WIRE_K_JOIN) or data frame of s; leaves
 * and disconnects are always allowed. body holds the frame's blen bytes
 * (group names, then data). Returns 1 if the frame may go on, 0 if it
 * was refused (the reject is queued to s). */
int access_check_frame(struct chd *d, struct sess *s, const struct wire_hdr *h,
		       enum wire_kind kind, const uint8_t *body, size_t blen);

/* Builds the reject frame of 4.10 for a refused frame: old_type (a join
 * rewritten to CAUSED_BY_JOIN), the original groups, the sender's private
 * group, the original data. The caller owns the result; NULL when out of
 * memory. */
struct msg *access_reject_frame(const struct wire_hdr *h, enum wire_kind kind,
				const uint8_t *body, size_t blen, const char *pg);

#endif /* CHORUS_ACCESS_H */
