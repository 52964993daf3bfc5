/*
 * gstate.c - codec of the group-state exchange messages (see gstate.h).
 */
#include "gstate.h"

#include <string.h>

#include "be.h"
#include "wire.h"

static const char *const gstate_err_names[GSTATE_E__COUNT] = {
	[GSTATE_OK] = "ok",
	[GSTATE_E_SHORT] = "message too short",
	[GSTATE_E_MAGIC] = "bad magic",
	[GSTATE_E_VERSION] = "unknown version",
	[GSTATE_E_RESERVED] = "reserved bits set",
	[GSTATE_E_GROUP] = "bad group name",
	[GSTATE_E_DAEMONS] = "too many daemons",
	[GSTATE_E_MEMBERS] = "bad member list",
	[GSTATE_E_TRAILING] = "bytes after the last entry",
};

const char *gstate_err_str(int err)
{
	if (err < 0)
		err = -err;
	return err < GSTATE_E__COUNT ? gstate_err_names[err] : "unknown error";
}

/* 1 if the 32-byte field is NUL-terminated and zero after its NUL. */
static int padded(const char *f)
{
	size_t n = wire_name_len(f);

	if (n >= GSTATE_NAME_LEN)
		return 0;
	for (size_t i = n; i < GSTATE_NAME_LEN; i++)
		if (f[i])
			return 0;
	return 1;
}

int gstate_open(const uint8_t *buf, size_t len, struct gstate_hdr *h,
		struct gstate_iter *it)
{
	if (len < GSTATE_HDR_LEN)
		return GSTATE_E_SHORT;
	if (be_get32(buf) != GSTATE_MAGIC)
		return GSTATE_E_MAGIC;
	if (buf[4] != GSTATE_VERSION)
		return GSTATE_E_VERSION;
	if ((buf[5] & ~GSTATE_F_LAST) || be_get16(buf + 6))
		return GSTATE_E_RESERVED;
	h->flags = buf[5];
	h->sender = be_get32(buf + 8);
	h->conf[0] = (int32_t)be_get32(buf + 12);
	h->conf[1] = (int32_t)be_get32(buf + 16);
	h->prev[0] = (int32_t)be_get32(buf + 20);
	h->prev[1] = (int32_t)be_get32(buf + 24);
	h->seq = be_get32(buf + 28);
	h->n_groups = be_get32(buf + 32);
	it->p = buf + GSTATE_HDR_LEN;
	it->end = buf + len;
	it->left = h->n_groups;
	return GSTATE_OK;
}

int gstate_next(struct gstate_iter *it, struct gstate_group *g)
{
	size_t room = (size_t)(it->end - it->p);
	const uint8_t *p = it->p;
	uint32_t n_own;

	if (it->left == 0)
		return p == it->end ? 0 : -GSTATE_E_TRAILING;
	if (room < GSTATE_ENTRY_LEN(0, 0))
		return -GSTATE_E_SHORT;
	g->name = (const char *)p;
	if (!padded(g->name) || !wire_group_name_ok(g->name))
		return -GSTATE_E_GROUP;
	for (int i = 0; i < 3; i++)
		g->gid[i] = (int32_t)be_get32(p + 32 + 4 * i);
	g->flags = p[44];
	if ((g->flags & ~(GSTATE_G_CHANGED | GSTATE_G_FRESH)) || p[45])
		return -GSTATE_E_RESERVED;
	g->n_daemons = be_get16(p + 46);
	if (g->n_daemons > GSTATE_MAX_DAEMONS)
		return -GSTATE_E_DAEMONS;
	if (room < GSTATE_ENTRY_LEN(g->n_daemons, 0))
		return -GSTATE_E_SHORT;
	g->daemons = p + 48;
	n_own = be_get32(p + 48 + 4 * (size_t)g->n_daemons);
	if (n_own == 0)
		return -GSTATE_E_MEMBERS;
	if (n_own > (room - GSTATE_ENTRY_LEN(g->n_daemons, 0)) / GSTATE_NAME_LEN)
		return -GSTATE_E_SHORT;
	g->n_own = n_own;
	g->own = (const char *)p + GSTATE_ENTRY_LEN(g->n_daemons, 0);
	for (unsigned i = 0; i < g->n_own; i++) {
		const char *f = g->own + (size_t)i * GSTATE_NAME_LEN;

		if (!padded(f) || f[0] != '#' || wire_name_len(f) < 2)
			return -GSTATE_E_MEMBERS;
		if (i > 0 && strncmp(f - GSTATE_NAME_LEN, f, GSTATE_NAME_LEN) >= 0)
			return -GSTATE_E_MEMBERS;
	}
	it->p = p + GSTATE_ENTRY_LEN(g->n_daemons, g->n_own);
	it->left--;
	return 1;
}

int gstate_check(const uint8_t *buf, size_t len)
{
	struct gstate_hdr h;
	struct gstate_iter it;
	struct gstate_group g;
	int r = gstate_open(buf, len, &h, &it);

	if (r != GSTATE_OK)
		return r;
	while ((r = gstate_next(&it, &g)) > 0)
		;
	return -r;
}

uint32_t gstate_daemon(const struct gstate_group *g, unsigned n)
{
	return be_get32(g->daemons + 4 * (size_t)n);
}

void gstate_put_hdr(uint8_t *buf, const struct gstate_hdr *h)
{
	be_put32(buf, GSTATE_MAGIC);
	buf[4] = GSTATE_VERSION;
	buf[5] = h->flags;
	be_put16(buf + 6, 0);
	be_put32(buf + 8, h->sender);
	be_put32(buf + 12, (uint32_t)h->conf[0]);
	be_put32(buf + 16, (uint32_t)h->conf[1]);
	be_put32(buf + 20, (uint32_t)h->prev[0]);
	be_put32(buf + 24, (uint32_t)h->prev[1]);
	be_put32(buf + 28, h->seq);
	be_put32(buf + 32, h->n_groups);
}

void gstate_set_count(uint8_t *buf, uint32_t n_groups)
{
	be_put32(buf + 32, n_groups);
}

void gstate_set_last(uint8_t *buf)
{
	buf[5] |= GSTATE_F_LAST;
}

size_t gstate_put_entry(uint8_t *p, const char *name, const int32_t gid[3],
			uint8_t flags, const uint32_t *daemons,
			unsigned n_daemons, unsigned n_own)
{
	size_t off;

	gstate_put_name(p, name);
	for (int i = 0; i < 3; i++)
		be_put32(p + 32 + 4 * i, (uint32_t)gid[i]);
	p[44] = flags;
	p[45] = 0;
	be_put16(p + 46, (uint16_t)n_daemons);
	for (unsigned i = 0; i < n_daemons; i++)
		be_put32(p + 48 + 4 * (size_t)i, daemons[i]);
	off = 48 + 4 * (size_t)n_daemons;
	be_put32(p + off, n_own);
	return off + 4;
}

void gstate_put_name(uint8_t *p, const char *field)
{
	memset(p, 0, GSTATE_NAME_LEN);
	memcpy(p, field, wire_name_len(field));
}
