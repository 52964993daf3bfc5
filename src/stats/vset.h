/*
 * vset.h - exact sets of visitors and of client addresses.
 *
 * A visitor set holds one day's visitors: entries (client address, agent
 * id, node) of 12 bytes, kept whole (no hash decides membership). An IPv4
 * address is in the entry itself; any other address (IPv6, a name) is
 * numbered by the set in order of arrival and the entry holds its number.
 * The probe position depends on the address and agent only, so the
 * entries of one visitor on several nodes lie on one probe run: one
 * lookup tells whether the visitor is new to its node and whether it is
 * new to the day (GoAccess's definition of a visitor: address + date +
 * User-Agent). The day is not in the key: the aggregator keeps a set per
 * open day and frees it when the day closes.
 *
 * An address set holds distinct 16-byte client addresses (vs_addr()).
 *
 * Ownership: the caller owns the structs; vs_free()/hs_free() release
 * their tables.
 */
#ifndef CHORUS_STATS_VSET_H
#define CHORUS_STATS_VSET_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Nodes are numbered below this (agg_limits.nodes_max is smaller). */
#define VS_NODES_MAX 0xffffu

/* vs_ent.flags */
#define VS_USED 1u  /* the slot holds an entry */
#define VS_FIRST 2u /* the visitor's first entry of the day (any node) */
#define VS_LONG 4u  /* addr numbers one of the set's other addresses */

struct vs_ent {
	uint32_t addr; /* IPv4 address (network order), or a number (VS_LONG) */
	uint32_t ua;
	uint16_t node;
	uint16_t flags;
};

struct vset {
	struct vs_ent *slot;
	size_t n, nslot;
	uint8_t (*lng)[16]; /* the addresses other than IPv4, by number */
	uint32_t nlong, along;
	uint32_t *lslot;    /* number + 1 (0: free), by the address's hash */
	uint32_t nlslot;
};

/* vs_visit() result bits */
#define VS_NEW_NODE 1 /* first sighting of the visitor on this node */
#define VS_NEW_DAY 2  /* first sighting of the visitor on any node */

/* An IPv4 address as vs_addr() gives it (v4-mapped IPv6). */
static inline int vs_is_v4(const uint8_t ip[16])
{
	static const uint8_t pre[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	return memcmp(ip, pre, 12) == 0;
}

/* The home slot's hash of an entry's (addr, long, ua). */
static inline __attribute__((always_inline)) uint64_t vs_hash(uint32_t addr, unsigned lng,
							      uint32_t ua)
{
	uint64_t h = ((uint64_t)addr << 32 | ua) * 0x9E3779B97F4A7C15ULL;

	h ^= (uint64_t)lng * 0xc2b2ae3d27d4eb4fULL;
	h ^= h >> 32;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 29;
	return h;
}

/* Starts loading the home slot of an IPv4 visitor (ip, ua) into the
 * cache, so that a vs_visit() a little later finds it there. (Inlined
 * early: as a call of its own, the compiler would find it without effect
 * and drop it.) */
static inline __attribute__((always_inline)) void vs_prefetch(const struct vset *s,
							       const uint8_t ip[16], uint32_t ua)
{
	uint32_t v4;

	if (s->nslot && vs_is_v4(ip)) {
		memcpy(&v4, ip + 12, 4);
		__builtin_prefetch(&s->slot[vs_hash(v4, 0, ua) & (s->nslot - 1)]);
	}
}

void vs_init(struct vset *s);
void vs_free(struct vset *s);
/* Records visitor (ip, ua) on node (< VS_NODES_MAX). Returns the
 * VS_NEW_* bits that apply (0: seen before on this node), or -1 when
 * memory ran out (nothing recorded). */
int vs_visit(struct vset *s, const uint8_t ip[16], uint32_t ua, uint32_t node);
/* Calls fn for each entry with its full address (state file). */
void vs_each(const struct vset *s,
	     void (*fn)(const uint8_t ip[16], const struct vs_ent *e, void *arg), void *arg);

struct hset {
	uint8_t (*slot)[16]; /* all zero: free (the zero address is `zero`) */
	size_t n, nslot;
	int zero;            /* the all-zero address is in the set */
};

void hs_init(struct hset *s);
void hs_free(struct hset *s);
/* 1 if ip is in the set, else 0. */
int hs_has(const struct hset *s, const uint8_t ip[16]);
/* Inserts ip. Returns 1 if it was new, 0 if present, -1 when memory ran
 * out (not inserted). */
int hs_add(struct hset *s, const uint8_t ip[16]);
/* Calls fn for each address (state file). */
void hs_each(const struct hset *s, void (*fn)(const uint8_t ip[16], void *arg), void *arg);

/* Converts a client field to 16 bytes: IPv4 as v4-mapped IPv6, IPv6 as
 * is; any other name of at most 15 bytes exactly (0xfe + bytes); a longer
 * name by two independent 64-bit hashes (returns 1 then, else 0). */
int vs_addr(const char *s, size_t n, uint8_t out[16]);

#endif
