/*
 * groups.c - the group table and membership notifications (see groups.h).
 *
 * Implements docs/client-protocol.md sections 5.2-5.7 for a stable
 * configuration: joins, leaves and disconnects (rows J1, J3, L1, L3, D1,
 * E1), the member order of 5.4, the group ids of 5.5, and the recipient
 * rules of 7.2 (open groups, one copy per session, SELF_DISCARD, unicast
 * to private groups). A join beyond CHD_GROUP_MAX_MEMBERS is refused with
 * a reject frame instead of overflowing a notification (defect D9).
 */
#include "groups.h"

#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "sess.h"
#include "util/log.h"

static uint32_t name_hash(const char *field)
{
	size_t len = wire_name_len(field);
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < len; i++)
		h = (h ^ (uint8_t)field[i]) * 16777619u;
	return h;
}

int groups_init(struct group_table *t, int max_members)
{
	memset(t, 0, sizeof(*t));
	t->n_buckets = 1024;
	t->buckets = calloc(t->n_buckets, sizeof(*t->buckets));
	t->max_members = max_members;
	return t->buckets ? 0 : -1;
}

void groups_free(struct group_table *t)
{
	for (uint32_t i = 0; i < t->n_buckets && t->buckets; i++) {
		struct group *g = t->buckets[i], *next;

		for (; g; g = next) {
			next = g->next;
			free(g->members);
			free(g);
		}
	}
	free(t->buckets);
	t->buckets = NULL;
}

struct group *groups_find(const struct group_table *t, const char *name)
{
	struct group *g = t->buckets[name_hash(name) & (t->n_buckets - 1)];

	while (g && !wire_name_eq(g->name, name))
		g = g->next;
	return g;
}

/* Doubles the bucket array when the table is dense; failure is harmless
 * (chains just get longer). */
static void table_grow(struct group_table *t)
{
	uint32_t nb = t->n_buckets * 2;
	struct group **b = calloc(nb, sizeof(*b));

	if (!b)
		return;
	for (uint32_t i = 0; i < t->n_buckets; i++) {
		struct group *g = t->buckets[i], *next;

		for (; g; g = next) {
			uint32_t k = name_hash(g->name) & (nb - 1);

			next = g->next;
			g->next = b[k];
			b[k] = g;
		}
	}
	free(t->buckets);
	t->buckets = b;
	t->n_buckets = nb;
}

static struct group *group_create(struct chd *d, const char *name)
{
	struct group_table *t = &d->groups;
	struct group *g = calloc(1, sizeof(*g));
	uint32_t k;

	if (!g)
		return NULL;
	memcpy(g->name, name, wire_name_len(name));
	g->gid[0] = d->memb_id[0];
	g->gid[1] = d->memb_id[1];
	g->gid[2] = 0;
	if (t->n_groups >= t->n_buckets)
		table_grow(t);
	k = name_hash(name) & (t->n_buckets - 1);
	g->next = t->buckets[k];
	t->buckets[k] = g;
	t->n_groups++;
	log_debug(DBG_GROUPS, "group %.32s created", g->name);
	return g;
}

static void group_destroy(struct chd *d, struct group *g)
{
	struct group_table *t = &d->groups;
	struct group **pp = &t->buckets[name_hash(g->name) & (t->n_buckets - 1)];

	while (*pp != g)
		pp = &(*pp)->next;
	*pp = g->next;
	t->n_groups--;
	log_debug(DBG_GROUPS, "group %.32s destroyed", g->name);
	free(g->members);
	free(g);
}

static int member_cmp(const struct member *a, uint32_t daemon,
		      const char *name)
{
	if (a->daemon != daemon)
		return a->daemon < daemon ? -1 : 1;
	return strncmp(a->name, name, WIRE_NAME_LEN);
}

/* Index of the member, or -(insertion point) - 1. */
static int member_find(const struct group *g, uint32_t daemon,
		       const char *name)
{
	int lo = 0, hi = g->n_members;

	while (lo < hi) {
		int mid = (lo + hi) / 2, c = member_cmp(&g->members[mid], daemon, name);

		if (c == 0)
			return mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -lo - 1;
}

static int sess_add_group(struct sess *s, struct group *g)
{
	if (s->n_groups == s->cap_groups) {
		int ncap = s->cap_groups ? s->cap_groups * 2 : 4;
		struct group **n = realloc(s->groups, (size_t)ncap * sizeof(*n));

		if (!n)
			return -1;
		s->groups = n;
		s->cap_groups = ncap;
	}
	s->groups[s->n_groups++] = g;
	return 0;
}

static void sess_remove_group(struct sess *s, const struct group *g)
{
	for (int i = 0; i < s->n_groups; i++) {
		if (s->groups[i] == g) {
			s->groups[i] = s->groups[--s->n_groups];
			return;
		}
	}
}

/* Builds a regular membership frame of g with one vs set holding
 * `changed` (a 32-byte name field). */
static struct msg *memb_msg(const struct group *g, uint32_t cause,
			    const char *changed)
{
	uint32_t body = WIRE_MEMB_FIXED + 4 + WIRE_NAME_LEN;
	uint32_t len = WIRE_HDR_LEN + (uint32_t)g->n_members * WIRE_NAME_LEN + body;
	struct msg *m = msg_new(len);
	struct wire_hdr h;
	uint8_t *p;
	uint32_t v;

	if (!m)
		return NULL;
	memset(&h, 0, sizeof(h));
	h.type = WIRE_REG_MEMB | cause;
	memcpy(h.name, g->name, WIRE_NAME_LEN);
	h.num_groups = g->n_members;
	h.hint = WIRE_OWN_MARK;
	h.data_len = (int32_t)body;
	wire_hdr_encode(&h, m->data);
	p = m->data + WIRE_HDR_LEN;
	for (int i = 0; i < g->n_members; i++, p += WIRE_NAME_LEN)
		memcpy(p, g->members[i].name, WIRE_NAME_LEN);
	memcpy(p, g->gid, 12);
	v = 1;
	memcpy(p + 12, &v, 4);
	v = 0;
	memcpy(p + 16, &v, 4);
	v = 1;
	memcpy(p + 20, &v, 4);
	memcpy(p + 24, changed, WIRE_NAME_LEN);
	return m;
}

/* Sends m to every local member that asked for membership notices. */
static void notify_local(struct chd *d, const struct group *g, struct msg *m)
{
	for (int i = 0; i < g->n_members; i++) {
		struct sess *s = g->members[i].sess;

		if (s && s->membership)
			sess_send(d, s, m);
	}
}

static void notify_change(struct chd *d, struct group *g, uint32_t cause,
			  const char *changed)
{
	struct msg *m;

	g->gid[2]++;
	m = memb_msg(g, cause, changed);
	if (!m) {
		log_warnx("no memory for a notification of group %.32s", g->name);
		return;
	}
	notify_local(d, g, m);
	msg_unref(m);
}

/* A frame of the given type addressed to one group with no data (the
 * self-leave). */
static void send_self_leave(struct chd *d, struct sess *s, const char *group)
{
	struct msg *m = msg_new(WIRE_HDR_LEN);
	struct wire_hdr h;

	if (!m)
		return;
	memset(&h, 0, sizeof(h));
	h.type = WIRE_BY_LEAVE;
	memcpy(h.name, group, wire_name_len(group));
	h.hint = WIRE_OWN_MARK;
	wire_hdr_encode(&h, m->data);
	sess_send(d, s, m);
	msg_unref(m);
}

/* Tells the sender its join was refused (docs/client-protocol.md 4.10). */
static void send_join_reject(struct chd *d, struct sess *s, const char *group)
{
	uint32_t len = WIRE_HDR_LEN + 4 + 2 * WIRE_NAME_LEN;
	struct msg *m = msg_new(len);
	struct wire_hdr h;
	uint32_t old = WIRE_BY_JOIN | WIRE_OWN_MARK;

	if (!m)
		return;
	memset(&h, 0, sizeof(h));
	h.type = WIRE_REJECT;
	memcpy(h.name, s->pg, sizeof(h.name));
	h.num_groups = 2;
	h.hint = WIRE_OWN_MARK;
	wire_hdr_encode(&h, m->data);
	memcpy(m->data + WIRE_HDR_LEN, &old, 4);
	memset(m->data + WIRE_HDR_LEN + 4, 0, 2 * WIRE_NAME_LEN);
	memcpy(m->data + WIRE_HDR_LEN + 4, group, wire_name_len(group));
	memcpy(m->data + WIRE_HDR_LEN + 4 + WIRE_NAME_LEN, s->pg, strlen(s->pg));
	d->stats.rejects++;
	sess_send(d, s, m);
	msg_unref(m);
}

void groups_join(struct chd *d, struct sess *s, const struct msg *m)
{
	const char *name = (const char *)m->data + WIRE_HDR_LEN;
	struct group *g = groups_find(&d->groups, name);
	struct member *mem;
	int at;

	if (!g && !(g = group_create(d, name)))
		goto nomem;
	at = member_find(g, 0, s->pg);
	if (at >= 0)
		return; /* already a member: nothing for anyone */
	if (g->n_members >= d->groups.max_members) {
		log_info("join of %s to %.32s refused: group has %d members",
			 s->pg, g->name, g->n_members);
		send_join_reject(d, s, name);
		return;
	}
	at = -at - 1;
	if (g->n_members == g->cap_members) {
		int ncap = g->cap_members ? g->cap_members * 2 : 4;
		struct member *n = realloc(g->members, (size_t)ncap * sizeof(*n));

		if (!n)
			goto nomem;
		g->members = n;
		g->cap_members = ncap;
	}
	if (sess_add_group(s, g) != 0)
		goto nomem;
	memmove(&g->members[at + 1], &g->members[at],
		(size_t)(g->n_members - at) * sizeof(*g->members));
	mem = &g->members[at];
	memset(mem, 0, sizeof(*mem));
	memcpy(mem->name, s->pg, strlen(s->pg));
	mem->daemon = 0;
	mem->sess = s;
	g->n_members++;
	log_debug(DBG_GROUPS, "%s joined %.32s (%d members)", s->pg, g->name,
		  g->n_members);
	notify_change(d, g, WIRE_BY_JOIN, mem->name);
	return;
nomem:
	log_warnx("no memory for the join of %s", s->pg);
	if (g && g->n_members == 0)
		group_destroy(d, g);
}

/* Removes s from g and tells the others; destroys g when it empties. */
static void group_remove(struct chd *d, struct group *g, struct sess *s,
			 uint32_t cause)
{
	char changed[WIRE_NAME_LEN];
	int at = member_find(g, 0, s->pg);

	if (at < 0)
		return;
	memcpy(changed, g->members[at].name, WIRE_NAME_LEN);
	memmove(&g->members[at], &g->members[at + 1],
		(size_t)(g->n_members - at - 1) * sizeof(*g->members));
	g->n_members--;
	log_debug(DBG_GROUPS, "%s left %.32s (%s, %d members)", s->pg, g->name,
		  cause == WIRE_BY_LEAVE ? "leave" : "disconnect", g->n_members);
	if (g->n_members == 0) {
		group_destroy(d, g);
		return;
	}
	notify_change(d, g, cause, changed);
}

void groups_leave(struct chd *d, struct sess *s, const char *name)
{
	struct group *g = groups_find(&d->groups, name);

	if (!g || member_find(g, 0, s->pg) < 0)
		return;
	if (s->membership)
		send_self_leave(d, s, g->name);
	sess_remove_group(s, g);
	group_remove(d, g, s, WIRE_BY_LEAVE);
}

void groups_disconnect(struct chd *d, struct sess *s)
{
	for (int i = 0; i < s->n_groups; i++)
		group_remove(d, s->groups[i], s, WIRE_BY_DISCONNECT);
	s->n_groups = 0;
}

static void deliver_to(struct chd *d, struct sess *s, struct msg *m,
		       const struct sess *skip)
{
	if (s == skip || s->mark == d->mark)
		return;
	s->mark = d->mark;
	sess_send(d, s, m);
}

void groups_deliver_data(struct chd *d, struct msg *m)
{
	struct wire_hdr h;
	const struct sess *skip = NULL;
	const char *names;

	wire_hdr_decode(m->data, &h);
	if (h.type & WIRE_SELF_DISCARD)
		skip = chd_session_by_pg(d, h.name);
	d->mark++;
	names = (const char *)m->data + WIRE_HDR_LEN;
	for (int i = 0; i < h.num_groups; i++) {
		const char *f = names + (size_t)i * WIRE_NAME_LEN;
		struct group *g;

		if (f[0] == '#') {
			struct sess *s = chd_session_by_pg(d, f);

			if (s)
				deliver_to(d, s, m, skip);
			continue;
		}
		g = groups_find(&d->groups, f);
		if (!g)
			continue;
		for (int k = 0; k < g->n_members; k++)
			if (g->members[k].sess)
				deliver_to(d, g->members[k].sess, m, skip);
	}
}
