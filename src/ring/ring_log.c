/*
 * ring_log.c - string tables of the ring's states, reasons, drops and
 * services, and the one-line formatter of its log events (ring_log.h).
 */
#include <stdio.h>

#include "ring_log.h"

static const char *const state_names[RING_STATE_N] = {
	[RING_OPERATIONAL] = "operational",
	[RING_GATHER] = "gather",
	[RING_COMMIT] = "commit",
	[RING_RECOVERY] = "recovery",
};

static const char *const reason_names[RING_WHY_N] = {
	[RING_WHY_START] = "start",
	[RING_WHY_TOKEN_LOSS] = "token loss",
	[RING_WHY_FOREIGN] = "foreign packet",
	[RING_WHY_JOIN] = "join message",
	[RING_WHY_MEMBER_LEFT] = "member moved to another ring",
	[RING_WHY_RESTART] = "member restarted",
	[RING_WHY_CONSENSUS_TIMEOUT] = "consensus timeout",
	[RING_WHY_COMMIT] = "commit token",
	[RING_WHY_COMMIT_TIMEOUT] = "commit token lost",
	[RING_WHY_RECOVERY] = "commit token second rotation",
	[RING_WHY_INSTALL] = "recovery complete",
};

static const char *const drop_names[RING_DROP_N] = {
	[RING_DROP_MALFORMED] = "malformed",
	[RING_DROP_VERSION] = "bad magic or version",
	[RING_DROP_CONF_HASH] = "different configuration",
	[RING_DROP_UNKNOWN] = "unknown daemon",
	[RING_DROP_SPOOFED] = "sender differs from address",
	[RING_DROP_SELF] = "own packet",
	[RING_DROP_STALE_INC] = "earlier incarnation",
	[RING_DROP_STALE_RING] = "stale ring",
	[RING_DROP_FOREIGN] = "foreign ring",
	[RING_DROP_DUP] = "duplicate",
	[RING_DROP_NO_ROOM] = "beyond the store",
	[RING_DROP_STATE] = "unexpected in this state",
};

static const char *const service_names[] = {
	[RING_UNRELIABLE] = "unreliable", [RING_RELIABLE] = "reliable",
	[RING_FIFO] = "fifo",             [RING_CAUSAL] = "causal",
	[RING_AGREED] = "agreed",         [RING_SAFE] = "safe",
};

const char *ring_state_name(enum ring_state s)
{
	return (unsigned)s < RING_STATE_N ? state_names[s] : "?";
}

const char *ring_reason_name(enum ring_reason r)
{
	return (unsigned)r < RING_WHY_N ? reason_names[r] : "?";
}

const char *ring_drop_name(enum ring_drop d)
{
	return (unsigned)d < RING_DROP_N ? drop_names[d] : "?";
}

const char *ring_service_name(enum ring_service s)
{
	return (unsigned)s <= RING_SAFE ? service_names[s] : "?";
}

char *ring_event_format(const struct ring_event *e, char *buf, size_t len)
{
	unsigned p = e->peer;

	switch (e->type) {
	case RING_EV_STATE:
		snprintf(buf, len, "state %s -> %s: %s", ring_state_name(e->from),
			 ring_state_name(e->to), ring_reason_name(e->why));
		break;
	case RING_EV_DROP:
		snprintf(buf, len, "dropped packet from %u.%u.%u.%u: %s (%llu so far)",
			 p >> 24, (p >> 16) & 255, (p >> 8) & 255, p & 255,
			 ring_drop_name(e->drop), (unsigned long long)e->a);
		break;
	case RING_EV_CONF:
		snprintf(buf, len, "%s configuration %08x/%u.%u installed, %llu members",
			 e->what ? e->what : "regular", p, (unsigned)(e->a >> 32),
			 (unsigned)e->a, (unsigned long long)e->b);
		break;
	case RING_EV_FAILED:
		snprintf(buf, len, "gather: %u.%u.%u.%u added to the fail set (%s)",
			 p >> 24, (p >> 16) & 255, (p >> 8) & 255, p & 255,
			 e->what ? e->what : "silent");
		break;
	default:
		snprintf(buf, len, "%s (%llu, %llu)", e->what ? e->what : "event",
			 (unsigned long long)e->a, (unsigned long long)e->b);
		break;
	}
	return buf;
}
