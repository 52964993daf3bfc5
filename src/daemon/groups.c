/*
 * groups.c - the group events of chorusd and the frames they produce
 * (see groups.h).
 *
 * The table and every decision about who is in which group and what each
 * member is told live in the pure view of the segment (gview.c). This file
 * maps frames to the view's inputs (a member's daemon comes from its
 * private name "#user#daemon") and the view's outputs to frames for local
 * sessions: regular memberships with their vs sets (5.2, 5.3), the
 * transitional signal and the self-leave (5.7), join rejects (defect D9)
 * and data to its local recipients (7.2: one copy per session,
 * SELF_DISCARD on the sender's daemon only, a private name delivered only
 * by its own daemon).
 */
#include "groups.h"

#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "sess.h"
#include "util/log.h"

/* The daemon id of a private group name field "#user#daemon"; 0 if the
 * daemon is not in the configuration. */
static uint32_t member_daemon(const struct chd *d, const char *field)
{
	size_t len = wire_name_len(field);
	const char *h2;
	char name[WIRE_NAME_LEN + 1];
	int host;

	if (len < 3 || field[0] != '#')
		return 0;
	h2 = memchr(field + 1, '#', len - 1);
	if (!h2)
		return 0;
	memcpy(name, h2 + 1, (size_t)(field + len - h2 - 1));
	name[field + len - h2 - 1] = 0;
	if (strcmp(name, d->name) == 0)
		return d->daemon_id;
	host = conf_find_host(&d->conf, name);
	return host < 0 ? 0 : d->conf.hosts[host].addr;
}

/* ---- frames for local sessions ---- */

static void hdr_put(struct msg *m, uint32_t type, const char *group,
		    int32_t num_groups, int32_t data_len)
{
	struct wire_hdr h;

	memset(&h, 0, sizeof(h));
	h.type = type;
	memcpy(h.name, group, wire_name_len(group));
	h.num_groups = num_groups;
	h.hint = WIRE_OWN_MARK;
	h.data_len = data_len;
	wire_hdr_encode(&h, m->data);
}

static void put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

/* A regular membership of g: the members, then the body of 5.2 with the
 * given sets (for a join, leave or disconnect: one set of `changed`). */
static struct msg *memb_msg(const struct gv_group *g, uint32_t cause,
			    const char *changed, const struct gv_vs *vs,
			    uint32_t local_off)
{
	uint32_t sets = 0, body, len;
	struct msg *m;
	uint8_t *p;

	if (vs) {
		for (int k = 0; k < vs->n_sets; k++)
			sets += 4 + (uint32_t)vs->set_len[k] * WIRE_NAME_LEN;
	} else {
		sets = 4 + WIRE_NAME_LEN;
	}
	body = WIRE_MEMB_FIXED + sets;
	len = WIRE_HDR_LEN + (uint32_t)g->n_members * WIRE_NAME_LEN + body;
	if (len > WIRE_MAX_FRAME) {
		log_warnx("membership of group %.32s (%d members) is too large "
			  "for a frame", g->name, g->n_members);
		return NULL;
	}
	if (!(m = msg_new(len)))
		return NULL;
	hdr_put(m, WIRE_REG_MEMB | cause, g->name, g->n_members, (int32_t)body);
	p = m->data + WIRE_HDR_LEN;
	for (int i = 0; i < g->n_members; i++, p += WIRE_NAME_LEN)
		memcpy(p, g->members[i].name, WIRE_NAME_LEN);
	memcpy(p, g->gid, 12);
	p += 12;
	if (!vs) {
		put32(p, 1);
		put32(p + 4, 0);
		put32(p + 8, 1);
		memcpy(p + 12, changed, WIRE_NAME_LEN);
		return m;
	}
	put32(p, (uint32_t)vs->n_sets);
	put32(p + 4, local_off);
	p += 8;
	for (int k = 0, i = 0; k < vs->n_sets; k++) {
		put32(p, (uint32_t)vs->set_len[k]);
		p += 4;
		for (int j = 0; j < vs->set_len[k]; j++, p += WIRE_NAME_LEN)
			memcpy(p, vs->member[i++]->name, WIRE_NAME_LEN);
	}
	return m;
}

/* Byte offset of set k from the first set (local_vs_offset). */
static uint32_t set_offset(const struct gv_vs *vs, int k)
{
	uint32_t off = 0;

	for (int i = 0; i < k; i++)
		off += 4 + (uint32_t)vs->set_len[i] * WIRE_NAME_LEN;
	return off;
}

static void send_members(struct chd *d, const struct gv_group *g, struct msg *m)
{
	for (int i = 0; i < g->n_members; i++) {
		struct sess *s = g->members[i].local;

		if (s && s->membership)
			sess_send(d, s, m);
	}
}

struct msg *groups_memb_frame(const struct gv_group *g, uint32_t cause,
			      const char *changed, const struct gv_vs *vs,
			      const struct gv_member *receiver)
{
	int set = vs ? vs->local_set : 0;

	if (vs && receiver && vs->n_apart) {
		int own = gview_vs_set_of(vs, receiver);

		if (own >= 0)
			set = own;
	}
	return memb_msg(g, cause, changed, vs, vs && set > 0 ? set_offset(vs, set) : 0);
}

struct msg *groups_trans_frame(const struct gv_group *g, const int32_t old_gid[3])
{
	struct msg *m = msg_new(WIRE_HDR_LEN + 12);

	if (!m)
		return NULL;
	hdr_put(m, WIRE_TRANSITION, g->name, 0, 12);
	memcpy(m->data + WIRE_HDR_LEN, old_gid, 12);
	return m;
}

static void out_memb(void *ctx, const struct gv_group *g, uint32_t cause,
		     const char *changed, const struct gv_vs *vs)
{
	struct chd *d = ctx;
	struct msg *m = groups_memb_frame(g, cause, changed, vs, NULL);

	if (!m) {
		log_warnx("no notification for group %.32s", g->name);
		return;
	}
	for (int i = 0; i < g->n_members; i++) {
		const struct gv_member *mb = &g->members[i];
		struct sess *s = mb->local;
		int set;

		if (!s || !s->membership)
			continue;
		/* A joiner (J2) or a member without a view yet has its own
		 * set: its copy points there. */
		set = vs && vs->n_apart ? gview_vs_set_of(vs, mb) : -1;
		if (set >= 0 && set != vs->local_set) {
			struct msg *own = groups_memb_frame(g, cause, changed, vs, mb);

			if (own) {
				sess_send(d, s, own);
				msg_unref(own);
			}
			continue;
		}
		sess_send(d, s, m);
	}
	msg_unref(m);
}

static void out_trans(void *ctx, const struct gv_group *g, const int32_t old_gid[3])
{
	struct chd *d = ctx;
	struct msg *m = groups_trans_frame(g, old_gid);

	if (!m)
		return;
	send_members(d, g, m);
	msg_unref(m);
}

static void out_self_leave(void *ctx, const struct gv_group *g,
			   const struct gv_member *member)
{
	struct chd *d = ctx;
	struct sess *s = member->local;
	struct msg *m;

	if (!s || !s->membership || !(m = msg_new(WIRE_HDR_LEN)))
		return;
	hdr_put(m, WIRE_BY_LEAVE, g->name, 0, 0);
	sess_send(d, s, m);
	msg_unref(m);
}

/* Tells the sender its join was refused (docs/client-protocol.md 4.10). */
static void out_reject(void *ctx, const char *group, const char *member)
{
	struct chd *d = ctx;
	struct sess *s = chd_session_by_pg(d, member);
	uint32_t len = WIRE_HDR_LEN + 4 + 2 * WIRE_NAME_LEN;
	uint32_t old = WIRE_BY_JOIN | WIRE_OWN_MARK;
	struct msg *m;

	log_info("join of %.32s to %.32s refused: the group is full", member, group);
	if (!s || !(m = msg_new(len)))
		return;
	hdr_put(m, WIRE_REJECT, s->pg, 2, 0);
	memcpy(m->data + WIRE_HDR_LEN, &old, 4);
	memset(m->data + WIRE_HDR_LEN + 4, 0, 2 * WIRE_NAME_LEN);
	memcpy(m->data + WIRE_HDR_LEN + 4, group, wire_name_len(group));
	memcpy(m->data + WIRE_HDR_LEN + 4 + WIRE_NAME_LEN, s->pg, strlen(s->pg));
	d->stats.rejects++;
	sess_send(d, s, m);
	msg_unref(m);
}

static void out_gone(void *ctx, const char *member)
{
	struct chd *d = ctx;
	struct sess *s = chd_session_by_pg(d, member);

	if (s)
		chd_retire(d, s);
}

static void *out_attach(void *ctx, const char *member)
{
	return chd_session_by_pg(ctx, member);
}

static void deliver_to(struct chd *d, struct sess *s, struct msg *m,
		       const struct sess *skip)
{
	if (s == skip || s->mark == d->mark)
		return;
	s->mark = d->mark;
	sess_send(d, s, m);
}

static void out_data(void *ctx, void *p)
{
	struct chd *d = ctx;
	struct msg *m = p;
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
		const struct gv_group *g;

		if (f[0] == '#') {
			/* Only the destination's daemon finds the session. */
			struct sess *s = chd_session_by_pg(d, f);

			if (s)
				deliver_to(d, s, m, skip);
			continue;
		}
		if (!(g = gview_find(&d->gv, f)))
			continue;
		for (int k = 0; k < g->n_members; k++)
			if (g->members[k].local)
				deliver_to(d, g->members[k].local, m, skip);
	}
	msg_unref(m);
}

static void out_discard(void *ctx, void *p)
{
	(void)ctx;
	msg_unref(p);
}

static int out_submit(void *ctx, const uint8_t *body, size_t len)
{
	struct chd *d = ctx;
	struct msg *m = msg_new(WIRE_HDR_LEN + (uint32_t)len);

	if (!m)
		return -1;
	hdr_put(m, GROUPS_STATE_TYPE, d->name, 0, (int32_t)len);
	memcpy(m->data + WIRE_HDR_LEN, body, len);
	if (d->ord->ops->submit(d->ord, m) != 0) {
		msg_unref(m);
		return -1;
	}
	return 0;
}

/* ---- inputs ---- */

int groups_init(struct chd *d, int max_members)
{
	uint32_t order[GV_MAX_DAEMONS];
	int n = 0;
	struct gv_out out = {
		.ctx = d,
		.memb = out_memb,
		.trans = out_trans,
		.self_leave = out_self_leave,
		.reject = out_reject,
		.gone = out_gone,
		.attach = out_attach,
		.data = out_data,
		.discard = out_discard,
		.submit = out_submit,
	};

	for (int i = 0; i < d->conf.n_hosts && n < GV_MAX_DAEMONS; i++)
		order[n++] = d->conf.hosts[i].addr;
	return gview_init(&d->gv, d->daemon_id, order, n, max_members, &out);
}

void groups_free(struct chd *d)
{
	gview_free(&d->gv);
}

void groups_event(struct chd *d, const struct msg *m)
{
	struct wire_hdr h;
	uint32_t t, daemon;
	const char *group = (const char *)m->data + WIRE_HDR_LEN;

	wire_hdr_decode(m->data, &h);
	t = h.type & ~WIRE_MARK;
	daemon = member_daemon(d, h.name);
	if (!daemon) {
		log_warnx("group event from %.32s of an unknown daemon", h.name);
		return;
	}
	if (t & WIRE_JOIN)
		gview_join(&d->gv, group, h.name, daemon);
	else if (t & WIRE_LEAVE)
		gview_leave(&d->gv, group, h.name, daemon);
	else if (t & WIRE_KILL)
		gview_disconnect(&d->gv, h.name, daemon);
}

void groups_disconnect(struct chd *d, struct sess *s)
{
	char field[WIRE_NAME_LEN];

	memset(field, 0, sizeof(field));
	memcpy(field, s->pg, strlen(s->pg));
	gview_disconnect(&d->gv, field, d->daemon_id);
}

void groups_deliver_data(struct chd *d, struct msg *m)
{
	gview_data(&d->gv, msg_ref(m));
}

void groups_state(struct chd *d, const struct msg *m)
{
	struct wire_hdr h;

	wire_hdr_decode(m->data, &h);
	if (h.data_len < 0 || (uint32_t)h.data_len > m->len - WIRE_HDR_LEN) {
		log_warnx("group-state frame with a bad length dropped");
		return;
	}
	gview_state(&d->gv, m->data + WIRE_HDR_LEN, (size_t)h.data_len);
}

void groups_conf(struct chd *d, const struct ord_conf *c)
{
	uint64_t restarted = d->gv.stats.restarted;
	uint64_t dropped = d->gv.stats.dropped_remote;

	gview_conf(&d->gv, c);
	if (d->gv.stats.restarted != restarted)
		log_info("groups: state exchange cut short by a configuration change "
			 "(%llu held events of other daemons dropped: they report their "
			 "members in the next one)",
			 (unsigned long long)(d->gv.stats.dropped_remote - dropped));
	log_debug(DBG_GROUPS, "groups: %u groups, state %d after %s configuration",
		  d->gv.tab.n_groups, (int)d->gv.state,
		  c->transitional ? "transitional" : "regular");
}

void groups_flush(struct chd *d)
{
	gview_flush(&d->gv);
}
