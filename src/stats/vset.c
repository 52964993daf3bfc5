/*
 * vset.c - exact visitor sets (see vset.h): open addressing with linear
 * probing over whole keys, grown at 70 % load.
 */
#include "stats/vset.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "stats/tab.h"

void vs_init(struct vset *s)
{
	memset(s, 0, sizeof(*s));
}

void vs_free(struct vset *s)
{
	free(s->slot);
	memset(s, 0, sizeof(*s));
}

static inline uint64_t key_hash(const struct vs_key *k)
{
	uint64_t a, b;

	memcpy(&a, k->ip, 8);
	memcpy(&b, k->ip + 8, 8);
	uint64_t h = (a * 0x9E3779B97F4A7C15ULL) ^ (b * 0xc2b2ae3d27d4eb4fULL);
	h ^= ((uint64_t)(uint32_t)k->day << 32 | k->ua) * 0x165667b19e3779f9ULL;
	h ^= (uint64_t)k->node * 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 29;
	return h;
}

static void place(struct vs_key *slot, size_t nslot, const struct vs_key *k)
{
	size_t i = key_hash(k) & (nslot - 1);

	while (slot[i].day != VS_EMPTY)
		i = (i + 1) & (nslot - 1);
	slot[i] = *k;
}

static struct vs_key *empty_slots(size_t nslot)
{
	struct vs_key *ns = malloc(nslot * sizeof(*ns));

	if (ns)
		for (size_t i = 0; i < nslot; i++)
			ns[i].day = VS_EMPTY;
	return ns;
}

/* Moves the keys with day >= min_day into a table of nslot slots. */
static int rebuild(struct vset *s, size_t nslot, int32_t min_day)
{
	struct vs_key *ns = empty_slots(nslot);
	size_t n = 0;

	if (!ns)
		return -1;
	for (size_t i = 0; i < s->nslot; i++)
		if (s->slot[i].day != VS_EMPTY && s->slot[i].day >= min_day) {
			place(ns, nslot, &s->slot[i]);
			n++;
		}
	free(s->slot);
	s->slot = ns;
	s->nslot = nslot;
	s->n = n;
	return 0;
}

int vs_insert(struct vset *s, const struct vs_key *k)
{
	if ((s->n + 1) * 10 > s->nslot * 7 &&
	    rebuild(s, s->nslot ? s->nslot * 2 : 1024, VS_EMPTY + 1) != 0)
		return -1;
	size_t i = key_hash(k) & (s->nslot - 1);
	while (s->slot[i].day != VS_EMPTY) {
		if (memcmp(&s->slot[i], k, sizeof(*k)) == 0)
			return 0;
		i = (i + 1) & (s->nslot - 1);
	}
	s->slot[i] = *k;
	s->n++;
	return 1;
}

int vs_drop_before(struct vset *s, int32_t day)
{
	size_t keep = 0;

	for (size_t i = 0; i < s->nslot; i++)
		if (s->slot[i].day != VS_EMPTY && s->slot[i].day >= day)
			keep++;
	if (keep == s->n)
		return 0;
	size_t nslot = 1024;
	while (keep * 10 > nslot * 5)
		nslot *= 2;
	return rebuild(s, nslot, day);
}

void vs_each(const struct vset *s, void (*fn)(const struct vs_key *k, void *arg), void *arg)
{
	for (size_t i = 0; i < s->nslot; i++)
		if (s->slot[i].day != VS_EMPTY)
			fn(&s->slot[i], arg);
}

static int addr4(const char *s, size_t n, uint8_t out[16])
{
	unsigned part = 0, val = 0, digits = 0;

	memset(out, 0, 10);
	out[10] = out[11] = 0xff;
	for (size_t i = 0; i <= n; i++) {
		if (i == n || s[i] == '.') {
			if (!digits || val > 255 || part > 3)
				return -1;
			out[12 + part++] = (uint8_t)val;
			val = digits = 0;
			continue;
		}
		if (s[i] < '0' || s[i] > '9' || ++digits > 3)
			return -1;
		val = val * 10 + (unsigned)(s[i] - '0');
	}
	return part == 4 ? 0 : -1;
}

int vs_addr(const char *s, size_t n, uint8_t out[16])
{
	if (addr4(s, n, out) == 0)
		return 0;
	if (n < 46 && memchr(s, ':', n)) {
		char buf[46];

		memcpy(buf, s, n);
		buf[n] = 0;
		if (inet_pton(AF_INET6, buf, out) == 1)
			return 0;
	}
	memset(out, 0, 16);
	if (n <= 15) {
		out[0] = 0xfe;
		memcpy(out + 1, s, n);
		return 0;
	}
	uint64_t a = tab_hash(s, n), b = a ^ 0x5bd1e9955bd1e995ULL;
	for (size_t i = 0; i < n; i++)
		b = (b ^ (uint8_t)s[i]) * 0x100000001b3ULL;
	out[0] = 0xfd;
	memcpy(out + 1, &a, 8);
	memcpy(out + 9, &b, 7);
	return 1;
}
