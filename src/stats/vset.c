/*
 * vset.c - exact visitor and address sets (see vset.h): open addressing
 * with linear probing over whole keys, doubled at 75 % load.
 */
#include "stats/vset.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "stats/tab.h"

static inline uint64_t ip_hash(const uint8_t ip[16])
{
	uint64_t a, b;

	memcpy(&a, ip, 8);
	memcpy(&b, ip + 8, 8);
	a = (a * 0x9E3779B97F4A7C15ULL) ^ (b * 0xc2b2ae3d27d4eb4fULL);
	a ^= a >> 32;
	a *= 0xc4ceb9fe1a85ec53ULL;
	a ^= a >> 29;
	return a;
}

void vs_init(struct vset *s)
{
	memset(s, 0, sizeof(*s));
}

void vs_free(struct vset *s)
{
	free(s->slot);
	free(s->lng);
	free(s->lslot);
	memset(s, 0, sizeof(*s));
}

static inline uint64_t ent_hash(const struct vs_ent *e)
{
	return vs_hash(e->addr, e->flags & VS_LONG, e->ua);
}

/* Doubles the table (or makes the first one). Linear probing without
 * removal keeps every entry between its home slot and the next free one,
 * so the entries of one (address, agent) stay on one probe run. */
static int vs_grow(struct vset *s)
{
	size_t nslot = s->nslot ? s->nslot * 2 : 1024;
	struct vs_ent *ns = calloc(nslot, sizeof(*ns));

	if (!ns)
		return -1;
	for (size_t i = 0; i < s->nslot; i++) {
		const struct vs_ent *e = &s->slot[i];

		if (!(e->flags & VS_USED))
			continue;
		size_t k = ent_hash(e) & (nslot - 1);
		while (ns[k].flags & VS_USED)
			k = (k + 1) & (nslot - 1);
		ns[k] = *e;
	}
	free(s->slot);
	s->slot = ns;
	s->nslot = nslot;
	return 0;
}

/* The number of a long address (numbered now when new), or -1 when
 * memory ran out. */
static int64_t long_id(struct vset *s, const uint8_t ip[16])
{
	if ((s->nlong + 1) * 4 > s->nlslot * 3) {
		uint32_t n = s->nlslot ? s->nlslot * 2 : 256;
		uint32_t *ns = calloc(n, sizeof(*ns));

		if (!ns)
			return -1;
		for (uint32_t i = 0; i < s->nlong; i++) {
			uint32_t k = (uint32_t)ip_hash(s->lng[i]) & (n - 1);

			while (ns[k])
				k = (k + 1) & (n - 1);
			ns[k] = i + 1;
		}
		free(s->lslot);
		s->lslot = ns;
		s->nlslot = n;
	}
	uint32_t k = (uint32_t)ip_hash(ip) & (s->nlslot - 1);
	for (; s->lslot[k]; k = (k + 1) & (s->nlslot - 1))
		if (memcmp(s->lng[s->lslot[k] - 1], ip, 16) == 0)
			return s->lslot[k] - 1;
	if (s->nlong == UINT32_MAX - 1)
		return -1;
	if (s->nlong == s->along) {
		uint32_t na = s->along ? s->along * 2 : 64;
		uint8_t (*nl)[16] = realloc(s->lng, (size_t)na * sizeof(*nl));

		if (!nl)
			return -1;
		s->lng = nl;
		s->along = na;
	}
	memcpy(s->lng[s->nlong], ip, 16);
	s->lslot[k] = ++s->nlong;
	return s->nlong - 1;
}

int vs_visit(struct vset *s, const uint8_t ip[16], uint32_t ua, uint32_t node)
{
	uint32_t addr;
	uint16_t lng = 0;

	if (vs_is_v4(ip)) {
		memcpy(&addr, ip + 12, 4);
	} else {
		int64_t id = long_id(s, ip);

		if (id < 0)
			return -1;
		addr = (uint32_t)id;
		lng = VS_LONG;
	}
	if ((s->n + 1) * 4 > s->nslot * 3 && vs_grow(s) != 0)
		return -1;
	size_t m = s->nslot - 1, i = vs_hash(addr, lng, ua) & m;
	int seen = 0;

	for (;; i = (i + 1) & m) {
		const struct vs_ent *e = &s->slot[i];

		if (!(e->flags & VS_USED))
			break;
		if (e->addr == addr && e->ua == ua && (e->flags & VS_LONG) == lng) {
			if (e->node == node)
				return 0;
			seen = 1;
		}
	}
	struct vs_ent *e = &s->slot[i];
	e->addr = addr;
	e->ua = ua;
	e->node = (uint16_t)node;
	e->flags = (uint16_t)(VS_USED | lng | (seen ? 0 : VS_FIRST));
	s->n++;
	return VS_NEW_NODE | (seen ? 0 : VS_NEW_DAY);
}

void vs_each(const struct vset *s,
	     void (*fn)(const uint8_t ip[16], const struct vs_ent *e, void *arg), void *arg)
{
	uint8_t ip[16] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	for (size_t i = 0; i < s->nslot; i++) {
		const struct vs_ent *e = &s->slot[i];

		if (!(e->flags & VS_USED))
			continue;
		if (e->flags & VS_LONG) {
			fn(s->lng[e->addr], e, arg);
		} else {
			memcpy(ip + 12, &e->addr, 4);
			fn(ip, e, arg);
		}
	}
}

static const uint8_t zero16[16];

void hs_init(struct hset *s)
{
	memset(s, 0, sizeof(*s));
}

void hs_free(struct hset *s)
{
	free(s->slot);
	memset(s, 0, sizeof(*s));
}

static int hs_grow(struct hset *s)
{
	size_t nslot = s->nslot ? s->nslot * 2 : 1024;
	uint8_t (*ns)[16] = calloc(nslot, sizeof(*ns));

	if (!ns)
		return -1;
	for (size_t i = 0; i < s->nslot; i++) {
		if (memcmp(s->slot[i], zero16, 16) == 0)
			continue;
		size_t k = ip_hash(s->slot[i]) & (nslot - 1);
		while (memcmp(ns[k], zero16, 16) != 0)
			k = (k + 1) & (nslot - 1);
		memcpy(ns[k], s->slot[i], 16);
	}
	free(s->slot);
	s->slot = ns;
	s->nslot = nslot;
	return 0;
}

/* The slot of ip, or of the free slot where it would go. */
static size_t hs_pos(const struct hset *s, const uint8_t ip[16])
{
	size_t m = s->nslot - 1, i = ip_hash(ip) & m;

	while (memcmp(s->slot[i], ip, 16) != 0 && memcmp(s->slot[i], zero16, 16) != 0)
		i = (i + 1) & m;
	return i;
}

int hs_has(const struct hset *s, const uint8_t ip[16])
{
	if (memcmp(ip, zero16, 16) == 0)
		return s->zero;
	return s->nslot && memcmp(s->slot[hs_pos(s, ip)], ip, 16) == 0;
}

int hs_add(struct hset *s, const uint8_t ip[16])
{
	if (memcmp(ip, zero16, 16) == 0) {
		if (s->zero)
			return 0;
		s->zero = 1;
		s->n++;
		return 1;
	}
	if (s->nslot) {
		size_t i = hs_pos(s, ip);

		if (memcmp(s->slot[i], ip, 16) == 0)
			return 0;
	}
	if ((s->n + 1) * 4 > s->nslot * 3 && hs_grow(s) != 0)
		return -1;
	memcpy(s->slot[hs_pos(s, ip)], ip, 16);
	s->n++;
	return 1;
}

void hs_each(const struct hset *s, void (*fn)(const uint8_t ip[16], void *arg), void *arg)
{
	if (s->zero)
		fn(zero16, arg);
	for (size_t i = 0; i < s->nslot; i++)
		if (memcmp(s->slot[i], zero16, 16) != 0)
			fn(s->slot[i], arg);
}

static inline int digit(char c)
{
	return c >= '0' && c <= '9';
}

/* A dotted quad (1 to 3 digits per part, each at most 255). */
static int addr4(const char *s, size_t n, uint8_t out[16])
{
	const char *e = s + n;
	uint8_t b[4];

	for (int k = 0; k < 4; k++) {
		if (s == e || !digit(*s))
			return -1;
		unsigned v = (unsigned)(*s++ - '0');
		for (int i = 0; i < 2 && s < e && digit(*s); i++)
			v = v * 10 + (unsigned)(*s++ - '0');
		if (v > 255)
			return -1;
		b[k] = (uint8_t)v;
		if (k < 3) {
			if (s == e || *s != '.')
				return -1;
			s++;
		}
	}
	if (s != e)
		return -1;
	memset(out, 0, 10);
	out[10] = out[11] = 0xff;
	memcpy(out + 12, b, 4);
	return 0;
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
