/*
 * gview.c - the group table across daemons (see gview.h).
 *
 * Implements the specification's sections 5.3-5.7 for a segment of
 * daemons: joins, leaves and disconnects in a stable group (J1, L1, D1)
 * and in a changed one (J2, L2, D2), the transitional signal and the
 * REG|NETWORK notification with vs sets after a configuration change
 * (N1, N2, N3), member order (5.4) and group ids (5.5). After each regular
 * configuration the daemons exchange the state of their own members; the
 * table every daemon computes from the same exchange messages is the
 * same. Spread 4.4's daemon does the same with "synced sets" and a
 * representative per set; chorusd has every daemon report its own
 * members, which needs no representative and makes a restarted exchange
 * (a configuration change during an exchange) start from facts that
 * cannot be stale. docs/client-protocol.md lists the differences.
 */
#include "gview.h"

#include <stdlib.h>
#include <string.h>

#include "proto/be.h"
#include "proto/gstate.h"

enum held_kind { HELD_JOIN, HELD_LEAVE, HELD_KILL, HELD_DATA };

struct gv_held {
	uint8_t kind;
	char group[WIRE_NAME_LEN];
	char member[WIRE_NAME_LEN];
	uint32_t daemon;
	void *msg;
};

/* A state message: received (kept until the exchange ends) or to send. */
struct gv_rx {
	struct gv_rx *next;
	size_t len;
	uint8_t body[];
};

/* One daemon's report of one group, while the table is merged. */
struct gv_rep {
	uint32_t daemon;
	int32_t gid[3];
	int32_t prev[2];
	uint8_t flags;
	unsigned n_daemons;
	const uint8_t *daemons; /* in the received body, big-endian */
	int next;               /* the group's next report, or -1 */
};

/* ---- the table ---- */

static uint32_t name_hash(const char *field)
{
	size_t len = wire_name_len(field);
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < len; i++)
		h = (h ^ (uint8_t)field[i]) * 16777619u;
	return h;
}

static int tab_init(struct gv_table *t, uint32_t n_buckets)
{
	t->n_buckets = n_buckets;
	t->n_groups = 0;
	t->buckets = calloc(n_buckets, sizeof(*t->buckets));
	return t->buckets ? 0 : -1;
}

static void group_free(struct gv_group *g)
{
	free(g->members);
	free(g);
}

static void tab_free(struct gv_table *t)
{
	for (uint32_t i = 0; t->buckets && i < t->n_buckets; i++) {
		struct gv_group *g = t->buckets[i], *next;

		for (; g; g = next) {
			next = g->next;
			group_free(g);
		}
	}
	free(t->buckets);
	t->buckets = NULL;
	t->n_groups = 0;
}

static struct gv_group *tab_find(const struct gv_table *t, const char *name)
{
	struct gv_group *g = t->buckets[name_hash(name) & (t->n_buckets - 1)];

	while (g && !wire_name_eq(g->name, name))
		g = g->next;
	return g;
}

/* Doubles the bucket array; failure is harmless (longer chains). */
static void tab_grow(struct gv_table *t)
{
	uint32_t nb = t->n_buckets * 2;
	struct gv_group **b = calloc(nb, sizeof(*b));

	if (!b)
		return;
	for (uint32_t i = 0; i < t->n_buckets; i++) {
		struct gv_group *g = t->buckets[i], *next;

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

static struct gv_group *tab_create(struct gv_table *t, const char *name,
				   const int32_t gid[3])
{
	struct gv_group *g = calloc(1, sizeof(*g));
	uint32_t k;

	if (!g)
		return NULL;
	memcpy(g->name, name, wire_name_len(name));
	memcpy(g->gid, gid, sizeof(g->gid));
	if (t->n_groups >= t->n_buckets)
		tab_grow(t);
	k = name_hash(name) & (t->n_buckets - 1);
	g->next = t->buckets[k];
	t->buckets[k] = g;
	t->n_groups++;
	return g;
}

static void tab_remove(struct gv_table *t, struct gv_group *g)
{
	struct gv_group **pp = &t->buckets[name_hash(g->name) & (t->n_buckets - 1)];

	while (*pp != g)
		pp = &(*pp)->next;
	*pp = g->next;
	t->n_groups--;
	group_free(g);
}

static int name_cmp(const void *a, const void *b)
{
	const struct gv_group *ga = *(const struct gv_group *const *)a;
	const struct gv_group *gb = *(const struct gv_group *const *)b;

	return strncmp(ga->name, gb->name, WIRE_NAME_LEN);
}

/* The groups of t for which keep(g) holds, sorted by name (the order in
 * which one client sees notifications of several groups). The caller
 * frees the array; NULL with *n 0 if there are none or no memory. */
static struct gv_group **tab_sorted(const struct gv_table *t, int (*keep)(const struct gv_group *g, const void *arg),
				    const void *arg, size_t *n)
{
	struct gv_group **a = NULL;
	size_t k = 0;

	*n = 0;
	if (t->n_groups == 0 || !(a = malloc(t->n_groups * sizeof(*a))))
		return NULL;
	for (uint32_t i = 0; i < t->n_buckets; i++)
		for (struct gv_group *g = t->buckets[i]; g; g = g->next)
			if (!keep || keep(g, arg))
				a[k++] = g;
	qsort(a, k, sizeof(*a), name_cmp);
	*n = k;
	return a;
}

struct gv_group *gview_find(const struct gview *v, const char *name)
{
	return tab_find(&v->tab, name);
}

void gview_each(const struct gview *v, void (*fn)(void *arg, const struct gv_group *g),
		void *arg)
{
	for (uint32_t i = 0; i < v->tab.n_buckets; i++)
		for (struct gv_group *g = v->tab.buckets[i]; g; g = g->next)
			fn(arg, g);
}

/* ---- members: by daemon (configured order, others after by id), then
 * by name ---- */

static int rank(const struct gview *v, uint32_t daemon)
{
	for (int i = 0; i < v->n_order; i++)
		if (v->order[i] == daemon)
			return i;
	return v->n_order;
}

static int daemon_cmp(const struct gview *v, uint32_t a, uint32_t b)
{
	int ra, rb;

	if (a == b)
		return 0;
	ra = rank(v, a);
	rb = rank(v, b);
	if (ra != rb)
		return ra < rb ? -1 : 1;
	return a < b ? -1 : 1;
}

/* Index of the member, or -(insertion point) - 1. */
static int member_find(const struct gview *v, const struct gv_group *g,
		       const char *name, uint32_t daemon)
{
	int lo = 0, hi = g->n_members;

	while (lo < hi) {
		int mid = (lo + hi) / 2;
		const struct gv_member *m = &g->members[mid];
		int c = daemon_cmp(v, m->daemon, daemon);

		if (c == 0)
			c = strncmp(m->name, name, WIRE_NAME_LEN);
		if (c == 0)
			return mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -lo - 1;
}

int gview_has_member(const struct gv_group *g, const char *member, uint32_t daemon)
{
	for (int i = 0; i < g->n_members; i++)
		if (g->members[i].daemon == daemon &&
		    strncmp(g->members[i].name, member, WIRE_NAME_LEN) == 0)
			return 1;
	return 0;
}

/* Inserts at index `at` (from member_find); 0 or -1 out of memory. */
static int member_insert(struct gv_group *g, int at, const char *name,
			 uint32_t daemon)
{
	struct gv_member *m;

	if (g->n_members == g->cap_members) {
		int ncap = g->cap_members ? g->cap_members * 2 : 4;
		struct gv_member *n = realloc(g->members, (size_t)ncap * sizeof(*n));

		if (!n)
			return -1;
		g->members = n;
		g->cap_members = ncap;
	}
	memmove(&g->members[at + 1], &g->members[at],
		(size_t)(g->n_members - at) * sizeof(*g->members));
	m = &g->members[at];
	memset(m, 0, sizeof(*m));
	memcpy(m->name, name, wire_name_len(name));
	m->daemon = daemon;
	g->n_members++;
	return 0;
}

static void member_remove(struct gv_group *g, int at)
{
	memmove(&g->members[at], &g->members[at + 1],
		(size_t)(g->n_members - at - 1) * sizeof(*g->members));
	g->n_members--;
}

static int in_conf(const struct ord_conf *c, uint32_t daemon)
{
	for (int i = 0; i < c->n_daemons; i++)
		if (c->daemons[i] == daemon)
			return i;
	return -1;
}

/* ---- vs sets ---- */

static int vs_reserve(struct gview *v, int n)
{
	if (n <= v->vs_cap)
		return 0;
	const struct gv_member **m = realloc(v->vs_member, (size_t)n * sizeof(*m));

	if (!m)
		return -1;
	v->vs_member = m;
	int *l = realloc(v->vs_len, (size_t)(n + 1) * sizeof(*l));

	if (!l)
		return -1;
	v->vs_len = l;
	v->vs_cap = n;
	return 0;
}

/* The vs sets of a changed group during a transitional configuration
 * (J2, L2, D2): the members at daemons of the transitional configuration,
 * then each departed daemon's members as a set of its own, then the
 * joiner (if any) alone. Returns 0, or -1 out of memory. */
static int vs_trans(struct gview *v, const struct gv_group *g,
		    const char *joiner, uint32_t joiner_daemon, struct gv_vs *vs)
{
	int n = 0, k = 0;

	if (vs_reserve(v, g->n_members + 1) != 0)
		return -1;
	memset(vs, 0, sizeof(*vs));
	vs->local_set = vs->joiner_set = -1;
	v->vs_len[0] = 0;
	for (int i = 0; i < g->n_members; i++) {
		const struct gv_member *m = &g->members[i];

		if (joiner && m->daemon == joiner_daemon &&
		    strncmp(m->name, joiner, WIRE_NAME_LEN) == 0)
			continue;
		if (in_conf(&v->trans, m->daemon) < 0)
			continue;
		v->vs_member[n++] = m;
		v->vs_len[0]++;
		if (m->daemon == v->self)
			vs->local_set = 0;
	}
	if (v->vs_len[0] > 0)
		k = 1;
	for (int i = 0; i < g->n_members; i++) {
		const struct gv_member *m = &g->members[i];

		if (in_conf(&v->trans, m->daemon) >= 0)
			continue;
		if (joiner && m->daemon == joiner_daemon &&
		    strncmp(m->name, joiner, WIRE_NAME_LEN) == 0)
			continue;
		if (i == 0 || n == 0 || v->vs_member[n - 1]->daemon != m->daemon ||
		    in_conf(&v->trans, v->vs_member[n - 1]->daemon) >= 0)
			v->vs_len[k++] = 0;
		v->vs_member[n++] = m;
		v->vs_len[k - 1]++;
	}
	if (joiner) {
		int at = member_find(v, g, joiner, joiner_daemon);

		if (at >= 0) {
			v->vs_member[n++] = &g->members[at];
			v->vs_len[k] = 1;
			vs->joiner_set = k++;
			vs->joiner = g->members[at].name;
			vs->n_apart += joiner_daemon == v->self;
		}
	}
	vs->n_sets = k;
	vs->set_len = v->vs_len;
	vs->member = v->vs_member;
	return 0;
}

/* ---- notifications of events ---- */

static void notify_event(struct gview *v, struct gv_group *g, uint32_t cause,
			 const char *changed, const char *joiner, uint32_t jd)
{
	struct gv_vs vs;

	if (v->state == GV_TRANS && g->changed) {
		if (vs_trans(v, g, joiner, jd, &vs) == 0 && v->out.memb)
			v->out.memb(v->out.ctx, g, WIRE_BY_NETWORK, NULL, &vs);
		if (v->out.trans)
			v->out.trans(v->out.ctx, g, g->gid);
		g->trans_sent = 1;
		return;
	}
	if (v->out.memb)
		v->out.memb(v->out.ctx, g, cause, changed, NULL);
}

/* `quiet`: the table is not known to match the other daemons' (an
 * exchange was cut short): the change is recorded for the next exchange
 * (the group becomes changed) without notifications, and a new own member
 * stays unattached (no data, no notices) until that exchange ends with
 * its REG|NETWORK. */
static void apply_join(struct gview *v, const char *group, const char *member,
		       uint32_t daemon, int quiet)
{
	struct gv_group *g = tab_find(&v->tab, group);
	int32_t gid[3] = { v->cur[0], v->cur[1], 0 };
	int at;

	int created = 0, revived = 0;

	if (!g) {
		if (!(g = tab_create(&v->tab, group, gid)))
			return;
		created = 1;
	} else if (g->n_members == 0) {
		/* Emptied in this configuration: the new view goes on from
		 * the old one's index, so no id is shown twice. */
		revived = 1;
		if (g->gid[0] != v->cur[0] || g->gid[1] != v->cur[1])
			memcpy(g->gid, gid, sizeof(g->gid));
	}
	at = member_find(v, g, member, daemon);
	if (at >= 0)
		return; /* J3: already a member, nothing for anyone */
	if (g->n_members >= v->max_members || member_insert(g, -at - 1, member, daemon) != 0) {
		if (daemon == v->self && v->out.reject)
			v->out.reject(v->out.ctx, group, member);
		if (created)
			tab_remove(&v->tab, g);
		return;
	}
	if (revived)
		v->n_empty--;
	at = -at - 1;
	if (quiet) {
		/* The id stays the one the members last saw: it tells
		 * where they come from in the next exchange. */
		g->changed = 1;
		g->members[at].fresh = 1;
		return;
	}
	g->gid[2]++;
	if (daemon == v->self && v->out.attach)
		g->members[at].local = v->out.attach(v->out.ctx, g->members[at].name);
	/* A join from a daemon that left, delivered in the transitional
	 * configuration, changes the group as a departure does. */
	if (v->state == GV_TRANS && in_conf(&v->trans, daemon) < 0)
		g->changed = 1;
	notify_event(v, g, WIRE_BY_JOIN, g->members[at].name, g->members[at].name, daemon);
}

/* Removes member `at` of g with the given cause. */
static void remove_member(struct gview *v, struct gv_group *g, int at, uint32_t cause,
			  int quiet)
{
	char name[WIRE_NAME_LEN];

	memcpy(name, g->members[at].name, WIRE_NAME_LEN);
	member_remove(g, at);
	if (g->n_members == 0) {
		/* E1: nobody is left to tell. The group stays, empty, until
		 * the next configuration change, so that a new first join
		 * does not show its id again. */
		g->changed = g->trans_sent = 0;
		v->n_empty++;
		return;
	}
	if (quiet) {
		g->changed = 1;
		return;
	}
	g->gid[2]++;
	notify_event(v, g, cause, name, NULL, 0);
}

static void apply_leave(struct gview *v, const char *group, const char *member,
			uint32_t daemon, int quiet)
{
	struct gv_group *g = tab_find(&v->tab, group);
	int at;

	if (!g || (at = member_find(v, g, member, daemon)) < 0)
		return; /* L3 */
	if (daemon == v->self && v->out.self_leave) {
		struct gv_member *m = &g->members[at];

		/* A member that joined quietly (an exchange was cut short)
		 * has no handle yet: its leave is answered all the same, or
		 * its session would wait for that self-leave for ever. */
		if (!m->local && v->out.attach)
			m->local = v->out.attach(v->out.ctx, m->name);
		v->out.self_leave(v->out.ctx, g, m);
	}
	remove_member(v, g, at, WIRE_BY_LEAVE, quiet);
}

struct has_arg {
	const struct gview *v;
	const char *member;
	uint32_t daemon;
};

static int has_member(const struct gv_group *g, const void *arg)
{
	const struct has_arg *a = arg;

	return member_find(a->v, g, a->member, a->daemon) >= 0;
}

static void apply_disconnect(struct gview *v, const char *member, uint32_t daemon,
			     int quiet)
{
	struct has_arg a = { v, member, daemon };
	size_t n;
	struct gv_group **gs = tab_sorted(&v->tab, has_member, &a, &n);

	for (size_t i = 0; i < n; i++)
		remove_member(v, gs[i], member_find(v, gs[i], member, daemon),
			      WIRE_BY_DISCONNECT, quiet);
	free(gs);
	if (daemon == v->self && v->out.gone)
		v->out.gone(v->out.ctx, member);
}

/* ---- held events ---- */

static int hold(struct gview *v, uint8_t kind, const char *group,
		const char *member, uint32_t daemon, void *msg)
{
	struct gv_held *h;

	if (v->held_len == v->held_cap) {
		unsigned ncap = v->held_cap ? v->held_cap * 2 : 64;
		struct gv_held *n = malloc(ncap * sizeof(*n));

		if (!n)
			return -1;
		for (unsigned i = 0; i < v->held_len; i++)
			n[i] = v->held[(v->held_head + i) % v->held_cap];
		free(v->held);
		v->held = n;
		v->held_head = 0;
		v->held_cap = ncap;
	}
	h = &v->held[(v->held_head + v->held_len) % v->held_cap];
	memset(h, 0, sizeof(*h));
	h->kind = kind;
	if (group)
		memcpy(h->group, group, wire_name_len(group));
	if (member)
		memcpy(h->member, member, wire_name_len(member));
	h->daemon = daemon;
	h->msg = msg;
	v->held_len++;
	v->stats.held++;
	if (v->held_len > v->stats.held_max)
		v->stats.held_max = v->held_len;
	return 0;
}

static int holding(const struct gview *v)
{
	return v->state == GV_START || v->state == GV_EXCH;
}

/* After a cut exchange, until the next one ends, the table may differ
 * from the other daemons': changes are applied quietly. */
static int quiet(const struct gview *v)
{
	return !v->synced;
}

/* Applies the held events in order. `fold`: an exchange was cut short
 * by a configuration change; only this daemon's own sessions' events
 * apply, quietly (their groups become changed: the next exchange tells
 * everyone), the others' are dropped (their daemons report their own
 * members in the next exchange). Data is delivered in either case. */
static void release(struct gview *v, int fold)
{
	while (v->held_len) {
		struct gv_held h = v->held[v->held_head];

		v->held_head = (v->held_head + 1) % v->held_cap;
		v->held_len--;
		if (h.kind == HELD_DATA) {
			v->out.data(v->out.ctx, h.msg);
			continue;
		}
		if (fold && h.daemon != v->self) {
			v->stats.dropped_remote++;
			continue;
		}
		if (h.kind == HELD_JOIN)
			apply_join(v, h.group, h.member, h.daemon, fold);
		else if (h.kind == HELD_LEAVE)
			apply_leave(v, h.group, h.member, h.daemon, fold);
		else
			apply_disconnect(v, h.member, h.daemon, fold);
	}
}

void gview_join(struct gview *v, const char *group, const char *member,
		uint32_t daemon)
{
	if (holding(v) && hold(v, HELD_JOIN, group, member, daemon, NULL) == 0)
		return;
	apply_join(v, group, member, daemon, quiet(v));
}

void gview_leave(struct gview *v, const char *group, const char *member,
		 uint32_t daemon)
{
	if (holding(v) && hold(v, HELD_LEAVE, group, member, daemon, NULL) == 0)
		return;
	apply_leave(v, group, member, daemon, quiet(v));
}

void gview_disconnect(struct gview *v, const char *member, uint32_t daemon)
{
	if (holding(v) && hold(v, HELD_KILL, NULL, member, daemon, NULL) == 0)
		return;
	apply_disconnect(v, member, daemon, quiet(v));
}

void gview_data(struct gview *v, void *msg)
{
	if (holding(v) && hold(v, HELD_DATA, NULL, NULL, 0, msg) == 0)
		return;
	v->out.data(v->out.ctx, msg);
}

/* ---- the exchange ---- */

static void rx_free_list(struct gv_rx **head)
{
	while (*head) {
		struct gv_rx *r = *head;

		*head = r->next;
		free(r);
	}
}

static void exchange_reset(struct gview *v)
{
	rx_free_list(&v->rx);
	rx_free_list(&v->outbox);
	v->outbox_tail = &v->outbox;
	memset(v->rx_seq, 0, sizeof(v->rx_seq));
	memset(v->rx_done, 0, sizeof(v->rx_done));
	v->n_done = 0;
}

static struct gv_rx *rx_new(const uint8_t *body, size_t len)
{
	struct gv_rx *r = malloc(sizeof(*r) + len);

	if (r) {
		r->next = NULL;
		r->len = len;
		if (body)
			memcpy(r->body, body, len);
	}
	return r;
}

/* Closes the message being built and queues it in the outbox. */
static void outbox_push(struct gview *v, struct gv_rx *m, size_t len,
			uint32_t count, int last)
{
	gstate_set_count(m->body, count);
	if (last)
		gstate_set_last(m->body);
	m->len = len;
	*v->outbox_tail = m;
	v->outbox_tail = &m->next;
}

/* Builds this daemon's state messages into the outbox: one entry per
 * group with own members (own members are contiguous and name-ordered),
 * split so that each body stays within GSTATE_MAX_BODY; a group with
 * more own members than fit goes in several entries. Returns 0, or -1
 * out of memory. */
static int build_state(struct gview *v)
{
	struct gstate_hdr h = { 0 };
	struct gv_rx *cur = NULL;
	size_t n = 0, len = 0;
	uint32_t count = 0, daemons[GSTATE_MAX_DAEMONS];
	struct gv_group **gs = tab_sorted(&v->tab, NULL, NULL, &n);

	if (v->tab.n_groups && !gs)
		return -1;
	h.sender = v->self;
	h.conf[0] = (int32_t)v->conf.memb_proc;
	h.conf[1] = (int32_t)v->conf.memb_time;
	memcpy(h.prev, v->prev, sizeof(h.prev));
	for (size_t i = 0; i <= 2 * n; i++) {
		const struct gv_group *g = i < 2 * n ? gs[i / 2] : NULL;
		int fresh = (int)(i % 2), n_own = 0, next = 0;
		unsigned nd = 0;

		/* Each group in two entries at most: the members that had a
		 * view of it, then the fresh ones. */
		for (int k = 0; g && k < g->n_members; k++) {
			const struct gv_member *m = &g->members[k];

			if ((k == 0 || g->members[k - 1].daemon != m->daemon) &&
			    nd < GSTATE_MAX_DAEMONS)
				daemons[nd++] = m->daemon;
			if (m->daemon == v->self && m->fresh == fresh)
				n_own++;
		}
		if (g && n_own == 0)
			continue;
		do {
			size_t room, fit;

			if (!cur) {
				if (!(cur = rx_new(NULL, GSTATE_MAX_BODY))) {
					free(gs);
					return -1;
				}
				gstate_put_hdr(cur->body, &h);
				h.seq++;
				len = GSTATE_HDR_LEN;
				count = 0;
			}
			if (!g)
				break;
			room = GSTATE_MAX_BODY - len;
			fit = room < GSTATE_ENTRY_LEN(nd, 1) ? 0 :
			      (room - GSTATE_ENTRY_LEN(nd, 0)) / GSTATE_NAME_LEN;
			if (fit == 0) {
				outbox_push(v, cur, len, count, 0);
				cur = NULL;
				continue;
			}
			if (fit > (size_t)n_own)
				fit = (size_t)n_own;
			len += gstate_put_entry(cur->body + len, g->name, g->gid,
						(uint8_t)((g->changed ? GSTATE_G_CHANGED : 0) |
							  (fresh ? GSTATE_G_FRESH : 0)),
						daemons, nd, (unsigned)fit);
			for (size_t j = 0; j < fit; next++) {
				const struct gv_member *m = &g->members[next];

				if (m->daemon != v->self || m->fresh != fresh)
					continue;
				gstate_put_name(cur->body + len, m->name);
				len += GSTATE_NAME_LEN;
				j++;
			}
			count++;
			n_own -= (int)fit;
		} while (n_own > 0);
	}
	outbox_push(v, cur, len, count, 1);
	free(gs);
	return 0;
}

void gview_flush(struct gview *v)
{
	while (v->outbox) {
		struct gv_rx *m = v->outbox;

		if (!v->out.submit || v->out.submit(v->out.ctx, m->body, m->len) != 0)
			return;
		v->outbox = m->next;
		if (!v->outbox)
			v->outbox_tail = &v->outbox;
		free(m);
	}
}

/* The label of a report: the group id its daemon had, then the regular
 * configuration it came from. Members whose daemons share a label moved
 * together from the same view of the group (one vs set). */
static int label_cmp(const struct gv_rep *a, const struct gv_rep *b)
{
	for (int i = 0; i < 3; i++)
		if (a->gid[i] != b->gid[i])
			return a->gid[i] < b->gid[i] ? -1 : 1;
	for (int i = 0; i < 2; i++)
		if (a->prev[i] != b->prev[i])
			return a->prev[i] < b->prev[i] ? -1 : 1;
	return 0;
}

static const struct gv_rep *rep_of(const struct gv_rep *reps, const struct gv_group *g,
				   uint32_t daemon)
{
	for (int r = g->scratch; r >= 0; r = reps[r].next)
		if (reps[r].daemon == daemon)
			return &reps[r];
	return NULL;
}

/* The vs sets after an exchange: the runs of members of each daemon,
 * grouped by label, sets ordered by label, daemons within a set in
 * member order. Returns 0, or -1 out of memory. */
static int vs_net(struct gview *v, const struct gv_group *g, const struct gv_rep *reps,
		  struct gv_vs *vs)
{
	int start[GV_MAX_DAEMONS], run[GV_MAX_DAEMONS];
	const struct gv_rep *lab[GV_MAX_DAEMONS];
	int nr = 0, n = 0, k = 0;

	if (vs_reserve(v, g->n_members + 1) != 0)
		return -1;
	memset(vs, 0, sizeof(*vs));
	vs->local_set = vs->joiner_set = -1;
	/* Runs of the members with a view, per daemon; a daemon with
	 * only fresh members has no run. */
	for (int i = 0; i < g->n_members && nr < GV_MAX_DAEMONS; i++) {
		if (g->members[i].fresh)
			continue;
		if (nr == 0 || g->members[start[nr - 1]].daemon != g->members[i].daemon)
			start[nr++] = i;
	}
	/* Insertion sort by label, stable: runs stay in member order. */
	for (int i = 0; i < nr; i++) {
		const struct gv_rep *l = rep_of(reps, g, g->members[start[i]].daemon);
		int j = i;

		while (j > 0 && label_cmp(lab[j - 1], l) > 0) {
			lab[j] = lab[j - 1];
			run[j] = run[j - 1];
			j--;
		}
		lab[j] = l;
		run[j] = i;
	}
	for (int i = 0; i < nr; i++) {
		uint32_t dm = g->members[start[run[i]]].daemon;

		if (i == 0 || label_cmp(lab[i - 1], lab[i]) != 0)
			v->vs_len[k++] = 0;
		for (int m = start[run[i]]; m < g->n_members && g->members[m].daemon == dm; m++) {
			if (g->members[m].fresh)
				continue;
			v->vs_member[n++] = &g->members[m];
			v->vs_len[k - 1]++;
		}
		if (dm == v->self)
			vs->local_set = k - 1;
	}
	/* Members that joined without a view come alone, at the end
	 * (as the joiner of J2). */
	for (int i = 0; i < g->n_members; i++) {
		if (!g->members[i].fresh)
			continue;
		v->vs_member[n++] = &g->members[i];
		v->vs_len[k++] = 1;
		vs->n_apart += g->members[i].daemon == v->self;
	}
	vs->n_sets = k;
	vs->set_len = v->vs_len;
	vs->member = v->vs_member;
	return 0;
}

int gview_vs_set_of(const struct gv_vs *vs, const struct gv_member *m)
{
	for (int k = 0, i = 0; k < vs->n_sets; k++)
		for (int j = 0; j < vs->set_len[k]; j++, i++)
			if (vs->member[i] == m)
				return k;
	return -1;
}

static int set_has(const uint8_t *daemons, unsigned n, uint32_t id)
{
	for (unsigned i = 0; i < n; i++)
		if (be_get32(daemons + 4 * (size_t)i) == id)
			return 1;
	return 0;
}

/* 1 if the daemons a report names are exactly those holding members. */
static int same_daemons(const struct gv_group *g, const struct gv_rep *r)
{
	for (int i = 0; i < g->n_members; i++)
		if (!set_has(r->daemons, r->n_daemons, g->members[i].daemon))
			return 0;
	for (unsigned i = 0; i < r->n_daemons; i++) {
		uint32_t id = be_get32(r->daemons + 4 * (size_t)i);
		int found = 0;

		for (int m = 0; m < g->n_members && !found; m++)
			found = g->members[m].daemon == id;
		if (!found)
			return 0;
	}
	return 1;
}

static int is_changed(const struct gv_group *g, const void *arg)
{
	(void)arg;
	return g->changed;
}

static void oom(void)
{
	/* The table would differ from the other daemons'; a daemon that
	 * cannot stay consistent must not go on serving. */
	abort();
}

/* Every daemon of the configuration has sent its state: builds the new
 * table from the messages alone (so every daemon builds the same),
 * decides for each group whether it changed and its id, notifies the
 * local members of the changed groups, then applies what was held. */
static void complete(struct gview *v)
{
	struct gv_table nt;
	struct gv_rep *reps = NULL;
	size_t n_reps = 0, cap_reps = 0, n;
	struct gv_group **gs;

	if (tab_init(&nt, v->tab.n_buckets) != 0)
		oom();
	for (struct gv_rx *r = v->rx; r; r = r->next) {
		struct gstate_hdr h;
		struct gstate_iter it;
		struct gstate_group e;
		int idx;

		if (gstate_open(r->body, r->len, &h, &it) != GSTATE_OK)
			continue;
		idx = in_conf(&v->conf, h.sender);
		while (gstate_next(&it, &e) > 0) {
			struct gv_group *g = tab_find(&nt, e.name);

			if (!g) {
				if (!(g = tab_create(&nt, e.name, e.gid)))
					oom();
				g->scratch = -1;
			}
			if (e.flags & GSTATE_G_FRESH)
				g->changed = 1; /* members without a view: a new view */
			else if (!rep_of(reps, g, h.sender)) {
				struct gv_rep *p;

				if (n_reps == cap_reps) {
					cap_reps = cap_reps ? cap_reps * 2 : 64;
					p = realloc(reps, cap_reps * sizeof(*reps));
					if (!p)
						oom();
					reps = p;
				}
				p = &reps[n_reps];
				p->daemon = h.sender;
				memcpy(p->gid, e.gid, sizeof(p->gid));
				memcpy(p->prev, v->rx_prev[idx], sizeof(p->prev));
				p->flags = e.flags;
				p->n_daemons = e.n_daemons;
				p->daemons = e.daemons;
				p->next = g->scratch;
				g->scratch = (int)n_reps++;
			}
			for (unsigned i = 0; i < e.n_own; i++) {
				const char *name = e.own + (size_t)i * GSTATE_NAME_LEN;
				int at = member_find(v, g, name, h.sender);

				if (at < 0) {
					at = -at - 1;
					if (member_insert(g, at, name, h.sender) != 0)
						oom();
					g->members[at].fresh = !!(e.flags & GSTATE_G_FRESH);
				}
			}
		}
	}
	/* A group keeps its id only if every daemon reporting members had
	 * the same view of it, untouched by the configuration change, and
	 * that view had members at exactly the daemons that have them now
	 * (N3); otherwise it is a new view (N1, N2) with id (conf, 1). */
	for (uint32_t b = 0; b < nt.n_buckets; b++) {
		for (struct gv_group *g = nt.buckets[b]; g; g = g->next) {
			const struct gv_rep *r0 = g->scratch >= 0 ? &reps[g->scratch] : NULL;
			int changed = g->changed || !r0;

			for (int r = g->scratch; r >= 0 && !changed; r = reps[r].next)
				changed = (reps[r].flags & GSTATE_G_CHANGED) ||
					  label_cmp(&reps[r], r0) != 0 ||
					  !same_daemons(g, &reps[r]);
			if (changed) {
				/* (conf, 1), or past any index a view of the
				 * transitional period gave under the same id. */
				g->gid[0] = (int32_t)v->conf.memb_proc;
				g->gid[1] = (int32_t)v->conf.memb_time;
				g->gid[2] = 1;
				for (int r = g->scratch; r >= 0; r = reps[r].next)
					if (reps[r].gid[0] == g->gid[0] && reps[r].gid[1] == g->gid[1] &&
					    reps[r].gid[2] >= g->gid[2])
						g->gid[2] = reps[r].gid[2] + 1;
			} else {
				memcpy(g->gid, r0->gid, sizeof(g->gid));
			}
			g->changed = changed;
			for (int i = 0; i < g->n_members; i++)
				if (g->members[i].daemon == v->self && v->out.attach)
					g->members[i].local = v->out.attach(v->out.ctx,
									    g->members[i].name);
		}
	}
	tab_free(&v->tab);
	v->tab = nt;
	v->n_empty = 0;
	gs = tab_sorted(&v->tab, is_changed, NULL, &n);
	for (size_t i = 0; i < n; i++) {
		struct gv_vs vs;

		if (vs_net(v, gs[i], reps, &vs) != 0)
			oom();
		if (v->out.memb)
			v->out.memb(v->out.ctx, gs[i], WIRE_BY_NETWORK, NULL, &vs);
		gs[i]->changed = 0;
		for (int k = 0; k < gs[i]->n_members; k++)
			gs[i]->members[k].fresh = 0;
	}
	free(gs);
	free(reps);
	v->stats.completed++;
	exchange_reset(v);
	v->state = GV_OP;
	v->synced = 1;
	release(v, 0);
}

void gview_state(struct gview *v, const uint8_t *body, size_t len)
{
	struct gstate_hdr h;
	struct gstate_iter it;
	struct gv_rx *r;
	int idx, bad;

	v->stats.state_in++;
	if (gstate_open(body, len, &h, &it) != GSTATE_OK) {
		v->stats.state_bad++;
		return;
	}
	if (v->state != GV_EXCH || h.conf[0] != (int32_t)v->conf.memb_proc ||
	    h.conf[1] != (int32_t)v->conf.memb_time) {
		v->stats.state_stale++;
		return;
	}
	idx = in_conf(&v->conf, h.sender);
	if (idx < 0 || v->rx_done[idx]) {
		v->stats.state_bad++;
		return;
	}
	/* A malformed message, or one out of sequence, ends its sender's
	 * series: every daemon sees it at the same place and decides the
	 * same, and the exchange still ends. */
	bad = gstate_check(body, len) != GSTATE_OK || h.seq != v->rx_seq[idx];
	if (bad) {
		v->stats.state_bad++;
	} else {
		if (!(r = rx_new(body, len)))
			oom();
		/* Kept in delivery order. */
		struct gv_rx **pp = &v->rx;

		while (*pp)
			pp = &(*pp)->next;
		*pp = r;
		v->rx_seq[idx]++;
		memcpy(v->rx_prev[idx], h.prev, sizeof(h.prev));
	}
	if (bad || (h.flags & GSTATE_F_LAST)) {
		v->rx_done[idx] = 1;
		if (++v->n_done == v->conf.n_daemons)
			complete(v);
	}
}

/* Drops the groups emptied in the configuration that ends. */
static void purge_empty(struct gview *v)
{
	for (uint32_t b = 0; v->n_empty && b < v->tab.n_buckets; b++) {
		struct gv_group *g = v->tab.buckets[b], *next;

		for (; g; g = next) {
			next = g->next;
			if (g->n_members == 0) {
				tab_remove(&v->tab, g);
				v->n_empty--;
			}
		}
	}
}

static void trans_conf(struct gview *v, const struct ord_conf *c)
{
	size_t n;
	struct gv_group **gs;

	if (v->state == GV_EXCH || v->state == GV_START) {
		/* Cut short: fold what was held (see release()). */
		if (v->state == GV_EXCH)
			v->stats.restarted++;
		exchange_reset(v);
		v->trans = *c;
		v->state = GV_TRANS;
		v->synced = 0;
		release(v, 1);
	}
	purge_empty(v);
	v->trans = *c;
	v->state = GV_TRANS;
	/* The ring gives a transitional configuration the id of the next
	 * regular one. Views of the transitional period (a changed group,
	 * J2, L2, a group created) need an id of their own, different for
	 * each transitional group: the sides of a split may get new rings
	 * of the same time, and several transitional groups may enter one
	 * regular configuration. They take (a hash of the old and the new
	 * representative, new time). */
	{
		uint32_t h = 2166136261u;

		h = (h ^ v->conf.memb_proc) * 16777619u;
		h = (h ^ c->memb_proc) * 16777619u;
		v->cur[0] = (int32_t)h;
	}
	v->cur[1] = (int32_t)c->memb_time;
	gs = tab_sorted(&v->tab, NULL, NULL, &n);
	for (size_t i = 0; i < n; i++) {
		struct gv_group *g = gs[i];
		int lost = 0;

		for (int k = 0; k < g->n_members && !lost; k++)
			lost = in_conf(c, g->members[k].daemon) < 0;
		if (!lost)
			continue; /* N3 */
		if (!g->trans_sent) {
			if (v->out.trans)
				v->out.trans(v->out.ctx, g, g->gid);
			g->trans_sent = 1;
		}
		/* After a cut exchange the id stays the one the members
		 * last saw (it labels their vs set in the next exchange). */
		if (!g->changed && v->synced) {
			/* Index 0: never shown (the signal carries the old
			 * id); a view of the transitional period shows 1. */
			g->changed = 1;
			g->gid[0] = v->cur[0];
			g->gid[1] = v->cur[1];
			g->gid[2] = 0;
		}
		g->changed = 1;
	}
	free(gs);
}

static void reg_conf(struct gview *v, const struct ord_conf *c)
{
	if (v->state == GV_EXCH) {
		/* Two regular configurations in a row: the first exchange
		 * is cut short as by a transitional configuration. */
		v->stats.restarted++;
		exchange_reset(v);
		v->trans = *c;
		v->state = GV_TRANS;
		v->synced = 0;
		release(v, 1);
	}
	purge_empty(v);
	if (v->state == GV_START) {
		v->prev[0] = v->prev[1] = 0;
	} else {
		v->prev[0] = (int32_t)v->conf.memb_proc;
		v->prev[1] = (int32_t)v->conf.memb_time;
	}
	v->conf = *c;
	v->cur[0] = (int32_t)c->memb_proc;
	v->cur[1] = (int32_t)c->memb_time;
	exchange_reset(v);
	v->state = GV_EXCH;
	v->stats.exchanges++;
	if (build_state(v) != 0)
		oom();
	if (c->n_daemons == 1 && c->daemons[0] == v->self) {
		/* Alone: nobody to wait for. */
		struct gv_rx *m = v->outbox;

		v->stats.single++;
		v->outbox = NULL;
		v->outbox_tail = &v->outbox;
		while (m) {
			struct gv_rx *next = m->next;

			gview_state(v, m->body, m->len);
			free(m);
			m = next;
		}
		return;
	}
	gview_flush(v);
}

void gview_conf(struct gview *v, const struct ord_conf *c)
{
	if (c->transitional)
		trans_conf(v, c);
	else
		reg_conf(v, c);
}

int gview_init(struct gview *v, uint32_t self, const uint32_t *order,
	       int n_order, int max_members, const struct gv_out *out)
{
	memset(v, 0, sizeof(*v));
	v->self = self;
	if (n_order > GV_MAX_DAEMONS)
		n_order = GV_MAX_DAEMONS;
	memcpy(v->order, order, (size_t)n_order * sizeof(*order));
	v->n_order = n_order;
	v->max_members = max_members;
	v->out = *out;
	v->state = GV_START;
	v->outbox_tail = &v->outbox;
	return tab_init(&v->tab, 1024);
}

void gview_free(struct gview *v)
{
	while (v->held_len) {
		struct gv_held *h = &v->held[v->held_head];

		if (h->kind == HELD_DATA && v->out.discard)
			v->out.discard(v->out.ctx, h->msg);
		v->held_head = (v->held_head + 1) % v->held_cap;
		v->held_len--;
	}
	free(v->held);
	v->held = NULL;
	exchange_reset(v);
	tab_free(&v->tab);
	free(v->vs_member);
	free(v->vs_len);
	v->vs_member = NULL;
	v->vs_len = NULL;
}
