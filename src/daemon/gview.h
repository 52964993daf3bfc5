/*
 * gview.h - the group table of a segment of daemons, and the membership
 * notifications its changes produce (docs/client-protocol.md, "Groups
 * across daemons"; the specification's sections 5.3-5.7 and 7.3).
 *
 * A pure state machine: no sockets, no clock, no globals. Its inputs are
 * the events that come out of the ordering service in the agreed order
 * (joins, leaves, disconnects, data messages, group-state messages) and
 * the configuration changes; its outputs are calls of struct gv_out:
 * notifications for the local members, data releases, and state messages
 * to submit. Every daemon of a configuration that is fed the same inputs
 * holds the same table.
 *
 * States:
 *   START  no configuration yet: events are held.
 *   OP     a stable configuration: events apply at once (J1, L1, D1).
 *   TRANS  after a transitional configuration: groups with members on
 *          daemons that left are "changed"; their local members got a
 *          TRANSITION; events apply at once, and in a changed group they
 *          produce REG|NETWORK then TRANSITION (J2, L2, D2).
 *   EXCH   after a regular configuration: the daemons exchange the state
 *          of their own members (gstate.h); events are held, in order,
 *          and applied when the last state message of the configuration
 *          has been delivered, right after the REG|NETWORK notifications.
 *
 * Ownership: the caller owns struct gview (gview_init/gview_free); the
 * view owns its groups, their member arrays, the held events and copies
 * of the state messages received. Data messages are opaque pointers: the
 * view takes them in gview_data() and hands each back exactly once,
 * through out.data() or, at gview_free(), out.discard().
 */
#ifndef CHORUS_GVIEW_H
#define CHORUS_GVIEW_H

#include <stddef.h>
#include <stdint.h>

#include "order.h"
#include "proto/wire.h"

#define GV_MAX_DAEMONS ORD_MAX_DAEMONS
/* Events held during an exchange are not bounded here: the ring delivers
 * at most its window per token rotation and an exchange ends within a
 * few rotations, so the ring's flow control bounds them. */

enum gv_state { GV_START, GV_OP, GV_TRANS, GV_EXCH };

struct gv_member {
	char name[WIRE_NAME_LEN]; /* private group name, NUL-padded */
	uint32_t daemon;          /* the daemon it is connected to */
	void *local;              /* out.attach()'s answer, for own members */
	int fresh;                /* joined quietly: no view of the group yet */
};

struct gv_group {
	char name[WIRE_NAME_LEN];
	int32_t gid[3];
	struct gv_member *members; /* by daemon (configured order), then name */
	int n_members, cap_members;
	int changed;    /* a REG|NETWORK is due at the end of the exchange */
	int trans_sent; /* a TRANSITION was sent since the last regular view */
	int scratch;    /* used while the table is merged */
	struct gv_group *next;
};

/* The vs sets of a REG|NETWORK notification: `member[i]` lists the
 * group's members in set order; set k holds set_len[k] of them. */
struct gv_vs {
	int n_sets;
	const int *set_len;
	const struct gv_member *const *member;
	int local_set;  /* the set of this daemon's members, -1 if none */
	int joiner_set; /* J2: the joiner's own (last) set, else -1 */
	const char *joiner;
	int n_apart;    /* own members whose set is not local_set */
};

struct gv_out {
	void *ctx;
	/* A regular membership of g for its local members: cause is one of
	 * WIRE_BY_JOIN/LEAVE/DISCONNECT with `changed` the member, or
	 * WIRE_BY_NETWORK with vs non-NULL. */
	void (*memb)(void *ctx, const struct gv_group *g, uint32_t cause,
		     const char *changed, const struct gv_vs *vs);
	/* A transitional signal of g, with the id being ended. */
	void (*trans)(void *ctx, const struct gv_group *g, const int32_t old_gid[3]);
	/* The own member `member` left g: its self-leave (before removal). */
	void (*self_leave)(void *ctx, const struct gv_group *g,
			   const struct gv_member *member);
	/* The join of own member `member` to `group` was refused (full). */
	void (*reject)(void *ctx, const char *group, const char *member);
	/* The disconnect of own member `member` has been applied. */
	void (*gone)(void *ctx, const char *member);
	/* Returns the local handle of a new own member (may be NULL). */
	void *(*attach)(void *ctx, const char *member);
	/* A data message, in order: deliver it (takes the reference). */
	void (*data)(void *ctx, void *msg);
	/* Drops a held data message at gview_free(). */
	void (*discard)(void *ctx, void *msg);
	/* Submits a state message for the ordering service (copied).
	 * Returns 0, or -1 to be asked again by gview_flush(). */
	int (*submit)(void *ctx, const uint8_t *body, size_t len);
};

struct gv_held;
struct gv_rx;
struct gv_rep;

/* A hash table of groups by name. */
struct gv_table {
	struct gv_group **buckets;
	uint32_t n_buckets; /* a power of two */
	uint32_t n_groups;
};

struct gv_stats {
	uint64_t exchanges, completed, restarted, single;
	uint64_t state_in, state_bad, state_stale;
	uint64_t held, held_max, dropped_remote;
};

struct gview {
	uint32_t self;
	uint32_t order[GV_MAX_DAEMONS]; /* configured daemons, in order */
	int n_order;
	int max_members;
	struct gv_out out;

	enum gv_state state;
	int synced;      /* the table matches the other daemons' (an
			  * exchange ended and none was cut since) */
	int32_t cur[2];  /* id of the last configuration installed */
	int32_t prev[2]; /* the regular configuration before `conf` */
	struct ord_conf conf;  /* the last regular configuration */
	struct ord_conf trans; /* the last transitional configuration */

	struct gv_table tab;
	uint32_t n_empty; /* groups emptied in this configuration (kept) */

	struct gv_held *held; /* ring buffer of held events */
	unsigned held_head, held_len, held_cap;

	/* The exchange of `conf`: per daemon of conf, the next seq expected
	 * and whether its series is complete; the bodies received; the
	 * bodies still to submit. */
	uint32_t rx_seq[GV_MAX_DAEMONS];
	uint8_t rx_done[GV_MAX_DAEMONS];
	int32_t rx_prev[GV_MAX_DAEMONS][2];
	int n_done;
	struct gv_rx *rx;
	struct gv_rx *outbox, **outbox_tail;

	/* Scratch for vs sets. */
	const struct gv_member **vs_member;
	int *vs_len;
	int vs_cap;

	struct gv_stats stats;
};

/* Sets up an empty view for daemon `self`; `order` lists the configured
 * daemons (member order of the specification's 5.4). Returns 0, or -1
 * out of memory. */
int gview_init(struct gview *v, uint32_t self, const uint32_t *order,
	       int n_order, int max_members, const struct gv_out *out);
/* Frees everything; held data goes to out.discard(). */
void gview_free(struct gview *v);

/* A group, or NULL; a group emptied in the current configuration is
 * kept (with no members) until the next configuration change. */
struct gv_group *gview_find(const struct gview *v, const char *name);
/* Calls fn for every group (in no particular order). */
void gview_each(const struct gview *v, void (*fn)(void *arg, const struct gv_group *g),
		void *arg);

/* Events in the agreed order. `member` is a private group name field
 * (32 bytes, NUL-padded) of a session of daemon `daemon`. */
void gview_join(struct gview *v, const char *group, const char *member,
		uint32_t daemon);
void gview_leave(struct gview *v, const char *group, const char *member,
		 uint32_t daemon);
void gview_disconnect(struct gview *v, const char *member, uint32_t daemon);
/* A data message: handed back through out.data() now or, during an
 * exchange, once it ends. Takes one reference. */
void gview_data(struct gview *v, void *msg);
/* A group-state message (the body of the frame). */
void gview_state(struct gview *v, const uint8_t *body, size_t len);
/* A configuration change. */
void gview_conf(struct gview *v, const struct ord_conf *c);
/* Submits state messages that out.submit() refused earlier. */
void gview_flush(struct gview *v);

/* The set of vs that lists member m (its local_vs_offset points there):
 * local_set for most, their own set for a joiner (J2) and for members
 * that joined without a view. -1 if m is not listed. */
int gview_vs_set_of(const struct gv_vs *vs, const struct gv_member *m);

/* 1 if the member field names a member of g. */
int gview_has_member(const struct gv_group *g, const char *member, uint32_t daemon);

#endif /* CHORUS_GVIEW_H */
