/*
 * ring_log.h - the ring's log events, state-change reasons and drop
 * reasons, with their string tables.
 *
 * Every state change of the core records why it happened (enum
 * ring_reason), bumps ring_stats.transitions[reason] and reports a
 * RING_EV_STATE event with the old state, the new state and the reason.
 * Every dropped packet bumps ring_stats.drops[reason]; the first drops of
 * a kind (and then one in RING_DROP_LOG_EVERY) are reported as events, so
 * a flood of bad packets cannot flood the log.
 */
#ifndef CHORUS_RING_LOG_H
#define CHORUS_RING_LOG_H

#include <stddef.h>
#include <stdint.h>

#include "ring.h"

enum ring_reason {
	RING_WHY_START = 0,        /* the instance was created */
	RING_WHY_TOKEN_LOSS,       /* no token within token_timeout_ms */
	RING_WHY_FOREIGN,          /* a packet from a daemon outside my ring */
	RING_WHY_JOIN,             /* a join message that differs from my view */
	RING_WHY_MEMBER_LEFT,      /* a member of my ring moved to another ring */
	RING_WHY_RESTART,          /* a member came back as a new incarnation */
	RING_WHY_CONSENSUS_TIMEOUT, /* gather: members failed to agree in time */
	RING_WHY_COMMIT,           /* commit token accepted or created */
	RING_WHY_COMMIT_TIMEOUT,   /* commit token lost */
	RING_WHY_RECOVERY,         /* commit token's second rotation */
	RING_WHY_INSTALL,          /* recovery complete: new ring installed */
	RING_WHY_N
};

enum ring_drop {
	RING_DROP_MALFORMED = 0, /* the decoder refused it */
	RING_DROP_VERSION,       /* unknown magic or version */
	RING_DROP_CONF_HASH,     /* a daemon with another configuration */
	RING_DROP_UNKNOWN,       /* sender or member not in the configuration */
	RING_DROP_SPOOFED,       /* sender field differs from the address */
	RING_DROP_SELF,          /* my own broadcast came back */
	RING_DROP_STALE_INC,     /* from an earlier incarnation */
	RING_DROP_STALE_RING,    /* from a ring this daemon has left */
	RING_DROP_FOREIGN,       /* for a ring I am not in (after noting it) */
	RING_DROP_DUP,           /* duplicate message or token */
	RING_DROP_NO_ROOM,       /* beyond the message store's window */
	RING_DROP_STATE,         /* not expected in the current state */
	RING_DROP_N
};

enum ring_event_type {
	RING_EV_STATE = 0, /* from, to, why */
	RING_EV_DROP,      /* drop, peer */
	RING_EV_CONF,      /* peer=rep, a=seq | rep_inc << 32, b=members,
			      what=kind */
	RING_EV_FAILED,    /* gather: peer added to the fail set */
	RING_EV_INFO,      /* a=, b= as described by `what` */
	RING_EV_N
};

struct ring_event {
	enum ring_event_type type;
	enum ring_state from, to;
	enum ring_reason why;
	enum ring_drop drop;
	uint32_t peer;  /* the daemon concerned, or 0 */
	uint64_t a, b;  /* event-specific numbers */
	const char *what; /* a constant string, or NULL */
};

/* Report every drop of a kind up to this count, then one in this many. */
#define RING_DROP_LOG_FIRST 10
#define RING_DROP_LOG_EVERY 1000

const char *ring_state_name(enum ring_state s);
const char *ring_reason_name(enum ring_reason r);
const char *ring_drop_name(enum ring_drop d);
const char *ring_service_name(enum ring_service s);

/* Formats e as one line (no newline) into buf; returns buf. */
char *ring_event_format(const struct ring_event *e, char *buf, size_t len);

#endif /* CHORUS_RING_LOG_H */
