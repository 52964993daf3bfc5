/*
 * vset.h - exact sets of visitors: (client address, day, agent id, node)
 * keys of 28 bytes, kept whole (no hash decides membership). Used for
 * unique visitors (GoAccess's definition: address + date + User-Agent)
 * overall and per node, and for distinct client addresses.
 *
 * Ownership: the caller owns the struct; vs_free() releases the table.
 */
#ifndef CHORUS_STATS_VSET_H
#define CHORUS_STATS_VSET_H

#include <stddef.h>
#include <stdint.h>

#define VS_NODE_ALL 0xffffffffu

struct vs_key {
	uint8_t ip[16];
	int32_t day;
	uint32_t ua;
	uint32_t node;
};

/* A slot whose day is VS_EMPTY is free (no log date is that early). */
#define VS_EMPTY INT32_MIN

struct vset {
	struct vs_key *slot;
	size_t n, nslot;
};

void vs_init(struct vset *s);
void vs_free(struct vset *s);
/* Inserts k. Returns 1 if it was new, 0 if present, -1 when memory ran
 * out (not inserted). */
int vs_insert(struct vset *s, const struct vs_key *k);
/* Removes every key whose day is below `day`. Returns 0 or -1. */
int vs_drop_before(struct vset *s, int32_t day);
/* Calls fn for each key (state file). */
void vs_each(const struct vset *s, void (*fn)(const struct vs_key *k, void *arg), void *arg);

/* Converts a client field to 16 bytes: IPv4 as v4-mapped IPv6, IPv6 as
 * is; any other name of at most 15 bytes exactly (0xfe + bytes); a longer
 * name by two independent 64-bit hashes (returns 1 then, else 0). */
int vs_addr(const char *s, size_t n, uint8_t out[16]);

#endif
