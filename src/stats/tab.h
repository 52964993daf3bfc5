/*
 * tab.h - bounded counting tables: string key -> requests, bytes, ok.
 *
 * A table holds at most `cap` keys. Keys are compared in full (a hash
 * only finds the slot), so two keys are never merged. When a table is
 * full, the keys with the smallest counts are dropped (lossy counting):
 * the table's `floor` is raised to the largest count dropped, and a key
 * that comes back starts with err = floor. So every kept key's true count
 * lies in [req, req + err] and err <= floor; floor is 0 while nothing was
 * ever dropped (the counts are exact).
 *
 * Ownership: tab_init() allocates, tab_free() releases; the caller owns
 * the struct. Entry pointers and indices are valid until the next
 * tab_add() or tab_prune() (which may move or drop entries).
 */
#ifndef CHORUS_STATS_TAB_H
#define CHORUS_STATS_TAB_H

#include <stddef.h>
#include <stdint.h>

struct tab_ent {
	uint64_t hash;
	uint64_t req;
	uint64_t bytes;
	uint64_t ok;
	uint64_t err;
	uint32_t koff;  /* key offset in the table's key store */
	uint32_t klen;
};

struct tab {
	struct tab_ent *ent;
	uint32_t n;       /* entries in use */
	uint32_t nalloc;  /* entries allocated */
	uint32_t cap;     /* most entries kept */
	uint32_t *slot;   /* entry index + 1; 0 is empty */
	uint32_t nslot;   /* power of two, >= 2 * n */
	char *keys;
	size_t klen_used, kalloc;
	uint64_t floor;     /* largest count ever dropped (max error) */
	uint64_t distinct;  /* keys inserted (counts a dropped key again) */
	uint64_t req, bytes; /* totals of everything added */
};

/* Longest key kept; longer keys are cut and end in "...". */
#define TAB_KEY_MAX 1024

uint64_t tab_hash(const char *s, size_t n);

/* An empty table of at most cap keys (cap >= 2). No allocation yet. */
void tab_init(struct tab *t, uint32_t cap);
void tab_free(struct tab *t);

/* Adds req, bytes and ok to key (of hash h, from tab_hash()). Returns
 * 0, or -1 when memory ran out (nothing was added). */
int tab_add(struct tab *t, uint64_t h, const char *key, size_t klen, uint64_t req,
	    uint64_t bytes, uint64_t ok);

/* Adds a whole entry with its own error (merging, loading state). */
int tab_add_ent(struct tab *t, const char *key, size_t klen, uint64_t req, uint64_t bytes,
		uint64_t ok, uint64_t err);

/* The entry of key, or NULL. */
struct tab_ent *tab_find(const struct tab *t, uint64_t h, const char *key, size_t klen);

static inline const char *tab_key(const struct tab *t, const struct tab_ent *e)
{
	return t->keys + e->koff;
}

/* Keeps only the `keep` largest entries (raising floor). Returns 0 or -1
 * (memory). */
int tab_prune(struct tab *t, uint32_t keep);

/* Fills idx with the indices of the (at most) n largest entries, by req
 * descending then key ascending; returns how many. idx has room for n. */
uint32_t tab_top(const struct tab *t, uint32_t n, uint32_t *idx);

#endif
