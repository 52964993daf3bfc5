/*
 * tab.c - bounded counting tables with lossy counting (see tab.h): open
 * addressing with linear probing over an array of entry indices, keys in
 * one growing byte store, and a prune that keeps the larger half when the
 * table is full.
 */
#include "stats/tab.h"

#include <stdlib.h>
#include <string.h>

uint64_t tab_hash(const char *s, size_t n)
{
	uint64_t h = 0x9E3779B97F4A7C15ULL ^ (n * 0xff51afd7ed558ccdULL);

	while (n >= 8) {
		uint64_t w;

		memcpy(&w, s, 8);
		h = (h ^ w) * 0xbf58476d1ce4e5b9ULL;
		h ^= h >> 29;
		s += 8;
		n -= 8;
	}
	if (n) {
		uint64_t w = 0;

		memcpy(&w, s, n);
		h = (h ^ w) * 0x94d049bb133111ebULL;
	}
	h ^= h >> 31;
	h *= 0xbf58476d1ce4e5b9ULL;
	h ^= h >> 32;
	return h;
}

void tab_init(struct tab *t, uint32_t cap)
{
	memset(t, 0, sizeof(*t));
	t->cap = cap < 2 ? 2 : cap;
}

void tab_free(struct tab *t)
{
	free(t->ent);
	free(t->slot);
	free(t->keys);
	t->ent = NULL;
	t->slot = NULL;
	t->keys = NULL;
	t->n = t->nalloc = t->nslot = 0;
	t->klen_used = t->kalloc = 0;
}

static int rehash(struct tab *t, uint32_t nslot)
{
	uint32_t *s = calloc(nslot, sizeof(*s));

	if (!s)
		return -1;
	for (uint32_t i = 0; i < t->n; i++) {
		uint32_t k = (uint32_t)t->ent[i].hash & (nslot - 1);

		while (s[k])
			k = (k + 1) & (nslot - 1);
		s[k] = i + 1;
	}
	free(t->slot);
	t->slot = s;
	t->nslot = nslot;
	return 0;
}

struct tab_ent *tab_find(const struct tab *t, uint64_t h, const char *key, size_t klen)
{
	if (!t->nslot)
		return NULL;
	if (klen > TAB_KEY_MAX)
		klen = TAB_KEY_MAX;
	for (uint32_t k = (uint32_t)h & (t->nslot - 1);; k = (k + 1) & (t->nslot - 1)) {
		uint32_t i = t->slot[k];

		if (!i)
			return NULL;
		struct tab_ent *e = &t->ent[i - 1];
		if (e->hash == h && e->klen == klen && memcmp(t->keys + e->koff, key, klen) == 0)
			return e;
	}
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Drops every entry whose req + err <= limit; compacts keys; rehashes. */
static int drop_upto(struct tab *t, uint64_t limit)
{
	char *nk = malloc(t->kalloc ? t->kalloc : 1);
	size_t used = 0;
	uint32_t m = 0;

	if (!nk)
		return -1;
	for (uint32_t i = 0; i < t->n; i++) {
		struct tab_ent e = t->ent[i];

		if (e.req + e.err <= limit)
			continue;
		memcpy(nk + used, t->keys + e.koff, e.klen);
		e.koff = (uint32_t)used;
		used += e.klen;
		t->ent[m++] = e;
	}
	free(t->keys);
	t->keys = nk;
	t->klen_used = used;
	t->n = m;
	if (limit > t->floor)
		t->floor = limit;
	return rehash(t, t->nslot ? t->nslot : 16);
}

int tab_prune(struct tab *t, uint32_t keep)
{
	if (t->n <= keep)
		return 0;
	uint64_t *v = malloc(t->n * sizeof(*v));

	if (!v)
		return -1;
	for (uint32_t i = 0; i < t->n; i++)
		v[i] = t->ent[i].req + t->ent[i].err;
	qsort(v, t->n, sizeof(*v), cmp_u64);
	/* Everything at or below the (n - keep)-th smallest count goes. */
	uint64_t limit = v[t->n - keep - 1];
	free(v);
	return drop_upto(t, limit);
}

static int grow(struct tab *t, size_t klen)
{
	if (t->n == t->nalloc) {
		uint32_t na = t->nalloc ? t->nalloc * 2 : 8;

		if (na > t->cap)
			na = t->cap;
		struct tab_ent *e = realloc(t->ent, na * sizeof(*e));
		if (!e)
			return -1;
		t->ent = e;
		t->nalloc = na;
	}
	if ((t->n + 1) * 2 > t->nslot && rehash(t, t->nslot ? t->nslot * 2 : 16) != 0)
		return -1;
	if (t->klen_used + klen > t->kalloc) {
		size_t ka = t->kalloc ? t->kalloc * 2 : 256;

		while (ka < t->klen_used + klen)
			ka *= 2;
		char *k = realloc(t->keys, ka);
		if (!k)
			return -1;
		t->keys = k;
		t->kalloc = ka;
	}
	return 0;
}

static struct tab_ent *insert(struct tab *t, uint64_t h, const char *key, size_t klen)
{
	char cut[TAB_KEY_MAX];

	if (klen > TAB_KEY_MAX) {
		memcpy(cut, key, TAB_KEY_MAX - 3);
		memcpy(cut + TAB_KEY_MAX - 3, "...", 3);
		key = cut;
		klen = TAB_KEY_MAX;
		h = tab_hash(key, klen);
	}
	struct tab_ent *e = tab_find(t, h, key, klen);
	if (e)
		return e;
	if (t->n >= t->cap && tab_prune(t, t->cap / 2) != 0)
		return NULL;
	if (grow(t, klen) != 0)
		return NULL;
	e = &t->ent[t->n];
	memset(e, 0, sizeof(*e));
	e->hash = h;
	e->err = t->floor;
	e->koff = (uint32_t)t->klen_used;
	e->klen = (uint32_t)klen;
	memcpy(t->keys + t->klen_used, key, klen);
	t->klen_used += klen;
	uint32_t k = (uint32_t)h & (t->nslot - 1);
	while (t->slot[k])
		k = (k + 1) & (t->nslot - 1);
	t->slot[k] = ++t->n;
	t->distinct++;
	return e;
}

int tab_add(struct tab *t, uint64_t h, const char *key, size_t klen, uint64_t req,
	    uint64_t bytes, uint64_t ok)
{
	struct tab_ent *e = klen <= TAB_KEY_MAX ? tab_find(t, h, key, klen) : NULL;

	if (!e && !(e = insert(t, h, key, klen)))
		return -1;
	e->req += req;
	e->bytes += bytes;
	e->ok += ok;
	t->req += req;
	t->bytes += bytes;
	return 0;
}

int tab_add_ent(struct tab *t, const char *key, size_t klen, uint64_t req, uint64_t bytes,
		uint64_t ok, uint64_t err)
{
	uint64_t h = tab_hash(key, klen);
	struct tab_ent *e = tab_find(t, h, key, klen);
	int fresh = !e;

	if (!e && !(e = insert(t, h, key, klen)))
		return -1;
	e->req += req;
	e->bytes += bytes;
	e->ok += ok;
	if (fresh)
		e->err = err;
	else if (err > e->err)
		e->err = err;
	t->req += req;
	t->bytes += bytes;
	return 0;
}

static int cmp_ent(const void *a, const void *b, void *arg)
{
	const struct tab *sort_tab = arg;
	const struct tab_ent *x = &sort_tab->ent[*(const uint32_t *)a];
	const struct tab_ent *y = &sort_tab->ent[*(const uint32_t *)b];

	if (x->req != y->req)
		return x->req > y->req ? -1 : 1;
	size_t n = x->klen < y->klen ? x->klen : y->klen;
	int c = memcmp(sort_tab->keys + x->koff, sort_tab->keys + y->koff, n);
	if (c)
		return c;
	return x->klen < y->klen ? -1 : x->klen > y->klen;
}

uint32_t tab_top(const struct tab *t, uint32_t n, uint32_t *idx)
{
	if (t->n == 0 || n == 0)
		return 0;
	uint32_t *all = malloc(t->n * sizeof(*all));
	if (!all)
		return 0;
	for (uint32_t i = 0; i < t->n; i++)
		all[i] = i;
	qsort_r(all, t->n, sizeof(*all), cmp_ent, (void *)(uintptr_t)t);
	if (n > t->n)
		n = t->n;
	memcpy(idx, all, n * sizeof(*idx));
	free(all);
	return n;
}
