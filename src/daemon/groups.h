/*
 * groups.h - the group table of chorusd and the membership notifications
 * it produces (docs/client-protocol.md section 5).
 *
 * Every function here runs when an event comes out of the ordering
 * service, so every daemon applies the same changes in the same order.
 *
 * Ownership: the daemon owns the table; the table owns its groups; a
 * group owns its member array. A group is destroyed when its last member
 * goes. Sessions point to their groups; a group points to its local
 * members' sessions.
 */
#ifndef CHORUS_GROUPS_H
#define CHORUS_GROUPS_H

#include <stdint.h>

#include "msg.h"
#include "proto/wire.h"

struct chd;
struct sess;

/* A member of a group; members are ordered by daemon, then by name. */
struct member {
	char name[WIRE_NAME_LEN]; /* private group name, NUL-padded */
	uint32_t daemon;          /* position of its daemon */
	struct sess *sess;        /* the local session, or NULL */
};

struct group {
	char name[WIRE_NAME_LEN];
	int32_t gid[3]; /* membership id (proc, time) and index */
	struct member *members;
	int n_members, cap_members;
	struct group *next; /* hash chain */
};

struct group_table {
	struct group **buckets;
	uint32_t n_buckets; /* a power of two */
	uint32_t n_groups;
	int max_members;
};

int groups_init(struct group_table *t, int max_members);
void groups_free(struct group_table *t);
struct group *groups_find(const struct group_table *t, const char *name);

/* Applies a join, leave or disconnect event as delivered; `m` is the
 * frame in daemon order. */
void groups_join(struct chd *d, struct sess *s, const struct msg *m);
void groups_leave(struct chd *d, struct sess *s, const char *group);
void groups_disconnect(struct chd *d, struct sess *s);

/* Delivers a data message to its local recipients. */
void groups_deliver_data(struct chd *d, struct msg *m);

#endif /* CHORUS_GROUPS_H */
