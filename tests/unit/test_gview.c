/*
 * test_gview.c - the group view of a segment (src/daemon/gview.c) with 3
 * and 5 simulated daemons in one process.
 *
 * The simulator stands in for the ring: daemons form components; each
 * component delivers its queue of submitted events in one order to all
 * its members; a configuration change (partition, merge, crash, restart)
 * follows EVS: part of the old queue in the old regular configuration,
 * then per transitional group its own further part, then the regular
 * configuration, and events of senders still present carried over. From a
 * seed it draws joins, leaves, disconnects, data (multigroup, unicast,
 * SELF_DISCARD) and changes, also during exchanges. Every client is a
 * membership session whose notifications and data are logged.
 *
 * Checked: identical tables at every daemon of a settled component and at
 * the end; no member of a crashed daemon or a gone session; every REG with
 * a given group id lists the same members wherever it is seen; vs sets
 * cover the members and hold the receiver; members of one vs set came
 * from the same view and delivered the same messages in it; one total
 * order of data at every client; SELF_DISCARD and unicast recipients.
 * Failures print the seed.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/groups.h"
#include "daemon/gview.h"
#include "proto/gstate.h"
#include "t.h"

#define MAXD 5
#define MAXS 256
#define NGROUPS 4
#define MAXREC 4096

/* R_ASK_JOIN, R_ASK_LEAVE: the session sent a join or a leave (its own
 * timeline, as a client library sees it). */
enum rec_kind { R_REG, R_TRANS, R_SELF, R_DATA, R_REJECT, R_ASK_JOIN, R_ASK_LEAVE };

struct rec {
	uint8_t kind;
	uint32_t cause;
	int group;
	int32_t gid[3];
	int n_members;
	int members[64]; /* session indexes */
	int n_sets;
	int set_of[64];  /* set index of each member, in list order */
	int my_set;
	int data;        /* data id */
	int stamp;       /* the simulated event that produced it */
	/* R_REG: the frame the daemon sends (groups_memb_frame), its
	 * local_vs_offset apart and zeroed in the hash; whether it is a view
	 * of a transitional period (J2, L2, D2). */
	uint64_t frame_hash;
	uint32_t frame_len, frame_off;
	int in_trans;
};

struct ssess {
	char name[WIRE_NAME_LEN];
	int daemon; /* index */
	int alive, gone;
	struct rec *log;
	int n_log;
};

struct sdata {
	int refs;
	int id;
	int sender; /* session */
	int self_discard;
	int n_dest;
	int dest_group[3]; /* -1: unicast to dest_sess */
	int dest_sess[3];
};

enum qkind { Q_JOIN, Q_LEAVE, Q_KILL, Q_DATA, Q_STATE };

struct qmsg {
	uint8_t kind;
	int sender;  /* daemon index */
	int sess;
	int group;
	struct sdata *data;
	uint8_t *body;
	size_t len;
};

struct queue {
	struct qmsg *m;
	int head, len, cap;
};

struct sim;

struct sdaemon {
	struct sim *sim;
	int idx;
	int alive;
	int comp;
	struct gview gv;
	int32_t last_reg[2];
};

struct sim {
	uint64_t rng;
	int nd;
	struct sdaemon d[MAXD];
	struct queue q[MAXD]; /* one per component id (component = index of a member) */
	int comp_alive[MAXD];
	struct ssess s[MAXS];
	int ns;
	int next_data;
	uint32_t conf_seq;
	struct sdata *sent; /* by id: what each data message was */
	int n_changes, n_exch_cut;
	uint64_t seed;
	int stamp; /* the event being delivered (same at every daemon) */
};

static const char *gname[NGROUPS] = { "g0", "g1", "g2", "g3" };

static uint32_t rnd(struct sim *s, uint32_t n)
{
	s->rng ^= s->rng >> 12;
	s->rng ^= s->rng << 25;
	s->rng ^= s->rng >> 27;
	return (uint32_t)(((s->rng * 2685821657736338717ull) >> 32) % n);
}

static uint32_t did(int i)
{
	return (uint32_t)(0x0a000001 + i);
}

static int sess_by_name(struct sim *s, const char *name)
{
	for (int i = 0; i < s->ns; i++)
		if (strncmp(s->s[i].name, name, WIRE_NAME_LEN) == 0)
			return i;
	return -1;
}

static void qpush(struct queue *q, const struct qmsg *m)
{
	if (q->len == q->cap) {
		int ncap = q->cap ? q->cap * 2 : 64;
		struct qmsg *n = malloc((size_t)ncap * sizeof(*n));

		for (int i = 0; i < q->len; i++)
			n[i] = q->m[(q->head + i) % q->cap];
		free(q->m);
		q->m = n;
		q->head = 0;
		q->cap = ncap;
	}
	q->m[(q->head + q->len) % q->cap] = *m;
	q->len++;
}

static struct qmsg qpop(struct queue *q)
{
	struct qmsg m = q->m[q->head];

	q->head = (q->head + 1) % q->cap;
	q->len--;
	return m;
}

static void data_unref(struct sdata *p)
{
	if (--p->refs == 0)
		free(p);
}

static void qmsg_free(struct qmsg *m)
{
	if (m->kind == Q_DATA)
		data_unref(m->data);
	free(m->body);
}

static struct rec *log_add(struct ssess *x)
{
	T_ASSERTF(x->n_log < MAXREC, "log full");
	if (!x->log)
		x->log = calloc(MAXREC, sizeof(*x->log));
	memset(&x->log[x->n_log], 0, sizeof(struct rec));
	return &x->log[x->n_log++];
}

static struct rec *log_new(struct sim *s, struct ssess *x)
{
	struct rec *r = log_add(x);

	r->stamp = s->stamp;
	return r;
}

static int group_idx(const char *name)
{
	for (int i = 0; i < NGROUPS; i++)
		if (strcmp(name, gname[i]) == 0)
			return i;
	return -1;
}

/* ---- the view's outputs ---- */

/* The frame a daemon sends `receiver` for this membership: its length,
 * its local_vs_offset, and a hash of the rest, byte for byte. */
static void frame_note(struct rec *r, const struct gv_group *g, uint32_t cause,
		       const char *changed, const struct gv_vs *vs,
		       const struct gv_member *receiver)
{
	struct msg *m = groups_memb_frame(g, cause, changed, vs, receiver);
	size_t at = WIRE_HDR_LEN + (size_t)g->n_members * WIRE_NAME_LEN + 16;
	uint64_t h = 1469598103934665603ull;

	T_ASSERT(m != NULL && m->len >= at + 4);
	memcpy(&r->frame_off, m->data + at, 4);
	memset(m->data + at, 0, 4);
	for (uint32_t i = 0; i < m->len; i++)
		h = (h ^ m->data[i]) * 1099511628211ull;
	r->frame_hash = h;
	r->frame_len = m->len;
	msg_unref(m);
}

static void o_memb(void *ctx, const struct gv_group *g, uint32_t cause,
		   const char *changed, const struct gv_vs *vs)
{
	struct sdaemon *d = ctx;
	struct sim *s = d->sim;
	int set_of_member[2048];

	(void)changed;
	T_ASSERT(g->n_members <= 64);
	if (getenv("GV_TRACE")) {
		fprintf(stderr, "[%d] d%d REG %s cause %x id %d.%d.%d:", s->stamp, d->idx, g->name,
			cause, g->gid[0], g->gid[1], g->gid[2]);
		for (int i = 0; i < g->n_members; i++)
			fprintf(stderr, " %s", g->members[i].name);
		fprintf(stderr, "\n");
	}
	if (vs) {
		int k = 0, n = 0;

		for (int i = 0; i < g->n_members; i++)
			set_of_member[i] = -1;
		for (int set = 0; set < vs->n_sets; set++)
			for (int j = 0; j < vs->set_len[set]; j++, n++) {
				const struct gv_member *m = vs->member[n];

				set_of_member[m - g->members] = set;
				k++;
			}
		T_ASSERTF(k == g->n_members, "seed %" PRIu64 ": vs sets of %s hold %d of %d members",
			  s->seed, g->name, k, g->n_members);
	}
	for (int i = 0; i < g->n_members; i++) {
		struct ssess *x = g->members[i].local;
		struct rec *r;

		if (!x)
			continue;
		r = log_new(s, x);
		r->kind = R_REG;
		r->cause = cause;
		r->group = group_idx(g->name);
		memcpy(r->gid, g->gid, sizeof(r->gid));
		r->n_members = g->n_members;
		for (int k = 0; k < g->n_members; k++) {
			r->members[k] = sess_by_name(s, g->members[k].name);
			r->set_of[k] = vs ? set_of_member[k] : 0;
		}
		r->n_sets = vs ? vs->n_sets : 1;
		r->my_set = 0;
		if (vs)
			r->my_set = gview_vs_set_of(vs, &g->members[i]);
		r->in_trans = d->gv.state == GV_TRANS;
		frame_note(r, g, cause, changed, vs, &g->members[i]);
	}
}

static void o_trans(void *ctx, const struct gv_group *g, const int32_t old[3])
{
	struct sim *s = ((struct sdaemon *)ctx)->sim;

	for (int i = 0; i < g->n_members; i++) {
		struct ssess *x = g->members[i].local;
		struct rec *r;

		if (!x)
			continue;
		r = log_new(s, x);
		r->kind = R_TRANS;
		r->group = group_idx(g->name);
		memcpy(r->gid, old, sizeof(r->gid));
	}
}

static void o_self_leave(void *ctx, const struct gv_group *g, const struct gv_member *m)
{
	struct ssess *x = m->local;

	if (x) {
		struct rec *r = log_new(((struct sdaemon *)ctx)->sim, x);

		r->kind = R_SELF;
		r->group = group_idx(g->name);
	}
}

static void o_reject(void *ctx, const char *group, const char *member)
{
	struct sdaemon *d = ctx;
	int k = sess_by_name(d->sim, member);
	struct rec *r = log_new(d->sim, &d->sim->s[k]);

	r->kind = R_REJECT;
	r->group = group_idx(group);
}

static void o_gone(void *ctx, const char *member)
{
	struct sdaemon *d = ctx;
	int k = sess_by_name(d->sim, member);

	T_ASSERT(k >= 0 && d->sim->s[k].daemon == d->idx);
	d->sim->s[k].gone = 1;
}

static void *o_attach(void *ctx, const char *member)
{
	struct sdaemon *d = ctx;
	int k = sess_by_name(d->sim, member);

	T_ASSERT(k >= 0 && d->sim->s[k].daemon == d->idx);
	return d->sim->s[k].gone ? NULL : &d->sim->s[k];
}

static void o_data(void *ctx, void *p)
{
	struct sdaemon *d = ctx;
	struct sim *s = d->sim;
	struct sdata *m = p;
	int got[MAXS] = { 0 };

	for (int i = 0; i < m->n_dest; i++) {
		if (m->dest_group[i] < 0) {
			int k = m->dest_sess[i];

			if (s->s[k].daemon == d->idx && !s->s[k].gone)
				got[k] = 1;
			if (getenv("GV_TRACE"))
				fprintf(stderr, "[%d] d%d data %d\n", s->stamp, d->idx, m->id);
			continue;
		}
		const struct gv_group *g = gview_find(&d->gv, gname[m->dest_group[i]]);

		for (int j = 0; g && j < g->n_members; j++)
			if (g->members[j].local)
				got[(struct ssess *)g->members[j].local - s->s] = 1;
	}
	if (m->self_discard && s->s[m->sender].daemon == d->idx)
		got[m->sender] = 0;
	for (int k = 0; k < s->ns; k++) {
		if (got[k]) {
			struct rec *r = log_new(s, &s->s[k]);

			r->kind = R_DATA;
			r->data = m->id;
		}
	}
	data_unref(m);
}

static void o_discard(void *ctx, void *p)
{
	(void)ctx;
	data_unref(p);
}

static int o_submit(void *ctx, const uint8_t *body, size_t len)
{
	struct sdaemon *d = ctx;
	struct qmsg m = { .kind = Q_STATE, .sender = d->idx, .len = len };

	T_EQ(gstate_check(body, len), GSTATE_OK);
	m.body = malloc(len);
	memcpy(m.body, body, len);
	qpush(&d->sim->q[d->comp], &m);
	return 0;
}

static const struct gv_out sim_out = {
	.memb = o_memb, .trans = o_trans, .self_leave = o_self_leave,
	.reject = o_reject, .gone = o_gone, .attach = o_attach,
	.data = o_data, .discard = o_discard, .submit = o_submit,
};

static void daemon_start(struct sim *s, int i)
{
	uint32_t order[MAXD];
	struct gv_out out = sim_out;
	struct sdaemon *d = &s->d[i];

	for (int k = 0; k < s->nd; k++)
		order[k] = did(k);
	out.ctx = d;
	d->sim = s;
	d->idx = i;
	d->alive = 1;
	T_EQ(gview_init(&d->gv, did(i), order, s->nd, 64, &out), 0);
}

/* ---- the simulated ring ---- */

static void make_conf(struct sim *s, struct ord_conf *c, const int *members, int n,
		      int transitional, uint32_t seq)
{
	memset(c, 0, sizeof(*c));
	c->transitional = transitional;
	c->memb_proc = did(members[0]);
	c->memb_time = seq;
	c->n_daemons = n;
	for (int i = 0; i < n; i++)
		c->daemons[i] = did(members[i]);
	(void)s;
}

static void deliver(struct sim *s, int i, const struct qmsg *m)
{
	struct sdaemon *d = &s->d[i];
	struct ssess *x = m->sess >= 0 ? &s->s[m->sess] : NULL;

	if (getenv("GV_TRACE"))
		fprintf(stderr, "[%d] d%d state %d: %s %d %s %s from d%d\n", s->stamp, i, d->gv.state,
			(const char *[]){ "join", "leave", "kill", "data", "state" }[m->kind],
			m->kind == Q_DATA ? m->data->id : 0, m->kind < Q_DATA ? x->name : "", m->kind < Q_KILL ? gname[m->group] : "",
			m->sender);

	switch (m->kind) {
	case Q_JOIN:
		gview_join(&d->gv, gname[m->group], x->name, did(m->sender));
		break;
	case Q_LEAVE:
		gview_leave(&d->gv, gname[m->group], x->name, did(m->sender));
		break;
	case Q_KILL:
		gview_disconnect(&d->gv, x->name, did(m->sender));
		break;
	case Q_DATA:
		m->data->refs++;
		gview_data(&d->gv, m->data);
		break;
	case Q_STATE:
		gview_state(&d->gv, m->body, m->len);
		break;
	}
}

static int comp_members(struct sim *s, int c, int *out)
{
	int n = 0;

	for (int i = 0; i < s->nd; i++)
		if (s->d[i].alive && s->d[i].comp == c)
			out[n++] = i;
	return n;
}

/* Delivers the next message of component c to all its members. */
static int deliver_one(struct sim *s, int c)
{
	int mem[MAXD], n = comp_members(s, c, mem);
	struct qmsg m;

	if (!s->q[c].len)
		return 0;
	m = qpop(&s->q[c]);
	s->stamp++;
	for (int k = 0; k < n; k++)
		deliver(s, mem[k], &m);
	qmsg_free(&m);
	return 1;
}

static void check_tables_equal(struct sim *s, int a, int b);

/* If component c is settled (queue empty, every member operational), its
 * members' tables agree. */
static void check_settled(struct sim *s, int c)
{
	int mem[MAXD], n = comp_members(s, c, mem);

	if (s->q[c].len)
		return;
	for (int k = 0; k < n; k++)
		if (s->d[mem[k]].gv.state != GV_OP)
			return;
	for (int k = 1; k < n; k++)
		check_tables_equal(s, mem[0], mem[k]);
}

/* Reshapes the daemons: newcomp[i] is the new component of live daemon
 * i (-1: crashed). EVS delivery of the old queues, then the new
 * configurations. */
static void reconfigure(struct sim *s, const int *newcomp)
{
	struct queue oldq[MAXD];
	int oldcomp[MAXD], bcast[MAXD];
	int changed_comp[MAXD] = { 0 };
	uint32_t seq = ++s->conf_seq;

	for (int i = 0; i < s->nd; i++) {
		oldcomp[i] = s->d[i].alive ? s->d[i].comp : -1;
		if (s->d[i].alive && newcomp[i] != oldcomp[i])
			changed_comp[oldcomp[i]] = 1;
	}
	/* Components that keep the same members but gain some also change. */
	for (int i = 0; i < s->nd; i++)
		if (newcomp[i] >= 0 && (oldcomp[i] < 0 || newcomp[i] != oldcomp[i]))
			for (int k = 0; k < s->nd; k++)
				if (oldcomp[k] >= 0 && newcomp[k] == newcomp[i])
					changed_comp[oldcomp[k]] = 1;
	for (int c = 0; c < s->nd; c++) {
		if (!changed_comp[c])
			continue;
		/* Part of the queue in the old regular configuration. */
		int keep = s->q[c].len ? (int)rnd(s, (uint32_t)s->q[c].len + 1) : 0;

		while (keep-- > 0)
			deliver_one(s, c);
		if (rnd(s, 3) == 0 && s->q[c].len)
			s->n_exch_cut++;
	}
	memcpy(oldq, s->q, sizeof(oldq));
	/* What was broadcast in the old rings; the rest is still in the
	 * senders' queues and goes to their new rings. */
	for (int c = 0; c < s->nd; c++)
		bcast[c] = oldq[c].len ? (int)rnd(s, (uint32_t)oldq[c].len + 1) : 0;
	memset(s->q, 0, sizeof(s->q));
	/* Apply the new components. */
	for (int i = 0; i < s->nd; i++) {
		if (oldcomp[i] >= 0 && newcomp[i] < 0) {
			/* Crash: its sessions are gone with it. */
			gview_free(&s->d[i].gv);
			s->d[i].alive = 0;
			for (int k = 0; k < s->ns; k++)
				if (s->s[k].daemon == i)
					s->s[k].alive = 0, s->s[k].gone = 1;
		}
	}
	for (int i = 0; i < s->nd; i++)
		if (newcomp[i] >= 0)
			s->d[i].comp = newcomp[i];
	/* Transitional configurations and their deliveries, per old
	 * component and new component. */
	for (int oc = 0; oc < s->nd; oc++) {
		if (!changed_comp[oc])
			continue;
		for (int nc = 0; nc < s->nd; nc++) {
			int t[MAXD], n = 0, part;
			struct ord_conf tc;

			for (int i = 0; i < s->nd; i++)
				if (oldcomp[i] == oc && newcomp[i] == nc)
					t[n++] = i;
			if (!n)
				continue;
			make_conf(s, &tc, t, n, 1, seq);
			/* The transitional id is the new configuration's. */
			{
				int mem[MAXD], nm = 0;

				for (int i = 0; i < s->nd; i++)
					if (newcomp[i] == nc)
						mem[nm++] = i;
				tc.memb_proc = did(mem[0]);
			}
			s->stamp++;
			if (getenv("GV_TRACE"))
				fprintf(stderr, "[%d] trans conf from comp %d to %d, %d daemons\n",
					s->stamp, oc, nc, n);
			for (int k = 0; k < n; k++)
				gview_conf(&s->d[t[k]].gv, &tc);
			/* EVS: everything broadcast by a member of the
			 * transitional group, and a prefix of the rest. */
			part = (int)rnd(s, (uint32_t)bcast[oc] + 1);
			for (int j = 0; j < bcast[oc]; j++) {
				const struct qmsg *m = &oldq[oc].m[(oldq[oc].head + j) % oldq[oc].cap];

				if (j >= part && newcomp[m->sender] != nc)
					continue;
				s->stamp++;
				for (int k = 0; k < n; k++)
					deliver(s, t[k], m);
			}
		}
	}
	/* Regular configurations, then events of senders still present
	 * (client events only: state messages of a cut exchange are
	 * stale) go to the new queue in their old order. */
	for (int nc = 0; nc < s->nd; nc++) {
		int mem[MAXD], n = 0, any = 0;
		struct ord_conf rc;

		for (int i = 0; i < s->nd; i++)
			if (newcomp[i] == nc)
				mem[n++] = i;
		if (!n)
			continue;
		for (int k = 0; k < n; k++)
			any |= oldcomp[mem[k]] < 0 || changed_comp[oldcomp[mem[k]]];
		if (!any) {
			s->q[nc] = oldq[oldcomp[mem[0]]];
			memset(&oldq[oldcomp[mem[0]]], 0, sizeof(oldq[0]));
			continue;
		}
		make_conf(s, &rc, mem, n, 0, seq);
		for (int oc = 0; oc < s->nd; oc++) {
			struct queue *q = &oldq[oc];

			if (!changed_comp[oc])
				continue;
			for (int j = 0; j < q->len; j++) {
				struct qmsg *m = &q->m[(q->head + j) % q->cap];

				if (m->kind != Q_STATE && newcomp[m->sender] == nc &&
				    oldcomp[m->sender] == oc && j >= bcast[oc]) {
					struct qmsg c = *m;

					if (c.kind == Q_DATA)
						c.data->refs++;
					c.body = NULL;
					qpush(&s->q[nc], &c);
				}
			}
		}
		s->stamp++;
		if (getenv("GV_TRACE"))
			fprintf(stderr, "[%d] reg conf %d.%u, comp %d, %d daemons\n", s->stamp,
				rc.memb_proc, rc.memb_time, nc, n);
		for (int k = 0; k < n; k++) {
			if (!s->d[mem[k]].alive)
				daemon_start(s, mem[k]);
			gview_conf(&s->d[mem[k]].gv, &rc);
		}
	}
	for (int c = 0; c < s->nd; c++) {
		while (oldq[c].len) {
			struct qmsg m = qpop(&oldq[c]);

			qmsg_free(&m);
		}
		free(oldq[c].m);
	}
	s->n_changes++;
}

/* ---- client actions ---- */

static int new_session(struct sim *s, int daemon)
{
	struct ssess *x;

	if (s->ns >= MAXS)
		return -1;
	x = &s->s[s->ns];
	memset(x, 0, sizeof(*x));
	snprintf(x->name, sizeof(x->name), "#u%d#n%d", s->ns, daemon);
	x->daemon = daemon;
	x->alive = 1;
	return s->ns++;
}

static int pick_session(struct sim *s, int daemon)
{
	int c[MAXS], n = 0;

	for (int k = 0; k < s->ns; k++)
		if (s->s[k].alive && s->s[k].daemon == daemon)
			c[n++] = k;
	if (n < 3 && rnd(s, 2) == 0)
		return new_session(s, daemon);
	return n ? c[rnd(s, (uint32_t)n)] : new_session(s, daemon);
}

/* Records in session k's own log that it sent a join or a leave. */
static void log_ask(struct sim *s, int k, int kind, int group)
{
	struct rec *r = log_new(s, &s->s[k]);

	r->kind = kind == Q_JOIN ? R_ASK_JOIN : R_ASK_LEAVE;
	r->group = group;
}

static void client_action(struct sim *s)
{
	int live[MAXD], n = 0, i, k, r;
	struct qmsg m;

	for (int j = 0; j < s->nd; j++)
		if (s->d[j].alive)
			live[n++] = j;
	i = live[rnd(s, (uint32_t)n)];
	k = pick_session(s, i);
	if (k < 0)
		return;
	memset(&m, 0, sizeof(m));
	m.sender = i;
	m.sess = k;
	r = (int)rnd(s, 20);
	if (r < 10) {
		m.kind = r < 7 ? Q_JOIN : Q_LEAVE;
		m.group = (int)rnd(s, NGROUPS);
		log_ask(s, k, m.kind, m.group);
	} else if (r < 11) {
		m.kind = Q_KILL;
		s->s[k].alive = 0; /* it acts no more */
	} else {
		struct sdata *p = calloc(1, sizeof(*p));

		p->refs = 1;
		p->id = ++s->next_data;
		p->sender = k;
		p->self_discard = rnd(s, 4) == 0;
		p->n_dest = 1 + (int)rnd(s, 3);
		for (int j = 0; j < p->n_dest; j++) {
			p->dest_group[j] = (int)rnd(s, NGROUPS + 1) - 1;
			p->dest_sess[j] = (int)rnd(s, (uint32_t)s->ns);
		}
		m.kind = Q_DATA;
		m.data = p;
		s->sent = realloc(s->sent, ((size_t)p->id + 1) * sizeof(*s->sent));
		s->sent[p->id] = *p;
	}
	qpush(&s->q[s->d[i].comp], &m);
}

static void random_change(struct sim *s)
{
	int newcomp[MAXD], live[MAXD], n = 0, dead[MAXD], nd = 0;
	uint32_t what = rnd(s, 4);

	for (int i = 0; i < s->nd; i++) {
		newcomp[i] = s->d[i].alive ? s->d[i].comp : -1;
		if (s->d[i].alive)
			live[n++] = i;
		else
			dead[nd++] = i;
	}
	if (what == 0 && n > 1) {
		/* Partition one component in two. */
		int c = s->d[live[rnd(s, (uint32_t)n)]].comp, mem[MAXD];
		int m = comp_members(s, c, mem);

		if (m < 2)
			return;
		int split = 1 + (int)rnd(s, (uint32_t)m - 1);
		for (int k = split; k < m; k++)
			newcomp[mem[k]] = mem[split];
		for (int k = 0; k < split; k++)
			newcomp[mem[k]] = mem[0];
	} else if (what == 1) {
		/* Merge two components. */
		int a = s->d[live[rnd(s, (uint32_t)n)]].comp;
		int b = s->d[live[rnd(s, (uint32_t)n)]].comp;
		int lo = a < b ? a : b;

		if (a == b)
			return;
		for (int i = 0; i < s->nd; i++)
			if (newcomp[i] == a || newcomp[i] == b)
				newcomp[i] = lo;
	} else if (what == 2 && n > 1) {
		newcomp[live[rnd(s, (uint32_t)n)]] = -1;
	} else if (nd > 0) {
		/* Restart a crashed daemon: alone, then merged later. */
		int i = dead[rnd(s, (uint32_t)nd)];

		newcomp[i] = i;
	} else {
		return;
	}
	/* Component ids: the smallest member index. */
	for (int i = 0; i < s->nd; i++) {
		int lo = i;

		if (newcomp[i] < 0)
			continue;
		for (int k = 0; k < s->nd; k++)
			if (newcomp[k] == newcomp[i] && k < lo)
				lo = k;
		newcomp[i] = lo;
	}
	for (int i = 0; i < s->nd; i++)
		if (newcomp[i] >= 0)
			for (int k = 0; k < s->nd; k++)
				if (newcomp[k] >= 0 && newcomp[k] == newcomp[i] && k < newcomp[i])
					newcomp[i] = k;
	/* Normalise: members of one group of newcomp share its lowest index. */
	{
		int map[MAXD];

		for (int i = 0; i < s->nd; i++)
			map[i] = -1;
		for (int i = 0; i < s->nd; i++) {
			if (newcomp[i] < 0)
				continue;
			if (map[newcomp[i]] < 0)
				map[newcomp[i]] = i;
		}
		for (int i = 0; i < s->nd; i++)
			if (newcomp[i] >= 0)
				newcomp[i] = map[newcomp[i]];
	}
	reconfigure(s, newcomp);
}

/* ---- checks ---- */

static void check_tables_equal(struct sim *s, int a, int b)
{
	const struct gview *va = &s->d[a].gv, *vb = &s->d[b].gv;

	T_ASSERTF(va->tab.n_groups == vb->tab.n_groups,
		  "seed %" PRIu64 ": daemon %d has %u groups, daemon %d %u",
		  s->seed, a, va->tab.n_groups, b, vb->tab.n_groups);
	for (int gi = 0; gi < NGROUPS; gi++) {
		const struct gv_group *ga = gview_find(va, gname[gi]);
		const struct gv_group *gb = gview_find(vb, gname[gi]);

		T_ASSERTF(!ga == !gb, "seed %" PRIu64 ": %s at one daemon only", s->seed, gname[gi]);
		if (!ga)
			continue;
		T_ASSERTF(memcmp(ga->gid, gb->gid, 12) == 0,
			  "seed %" PRIu64 ": %s ids differ: %d.%d.%d at %d, %d.%d.%d at %d",
			  s->seed, gname[gi], ga->gid[0], ga->gid[1], ga->gid[2], a,
			  gb->gid[0], gb->gid[1], gb->gid[2], b);
		T_ASSERTF(ga->n_members == gb->n_members, "seed %" PRIu64 ": %s sizes differ",
			  s->seed, gname[gi]);
		for (int k = 0; k < ga->n_members; k++) {
			T_ASSERT(strncmp(ga->members[k].name, gb->members[k].name, 32) == 0);
			T_ASSERT(ga->members[k].daemon == gb->members[k].daemon);
		}
	}
}

/* After healing: every member is a session of a live daemon that has not
 * disconnected, attached at its daemon. */
static void check_no_ghosts(struct sim *s)
{
	for (int i = 0; i < s->nd; i++) {
		if (!s->d[i].alive)
			continue;
		for (int gi = 0; gi < NGROUPS; gi++) {
			const struct gv_group *g = gview_find(&s->d[i].gv, gname[gi]);

			for (int k = 0; g && k < g->n_members; k++) {
				int x = sess_by_name(s, g->members[k].name);

				T_ASSERTF(x >= 0 && !s->s[x].gone &&
					  did(s->s[x].daemon) == g->members[k].daemon,
					  "seed %" PRIu64 ": ghost member %s of %s at daemon %d",
					  s->seed, g->members[k].name, gname[gi], i);
				T_ASSERT((g->members[k].daemon == did(i)) ==
					 (g->members[k].local != NULL));
			}
		}
	}
}

struct view_seen {
	int group, stamp;
	uint32_t cause;
	int32_t gid[3];
	int n;
	int members[64];
	uint64_t frame_hash;
	uint32_t frame_len;
};

/* Frames compared across daemons by check_logs, and those of views of
 * transitional periods among them (they must occur in the runs). */
static int n_frames_compared, n_trans_frames_compared;

/* The local_vs_offset a receiver must get: where its own set starts (0
 * for a membership caused by a member: one set, of that member). */
static uint32_t own_offset(const struct rec *r)
{
	uint32_t off = 0;
	int cnt[64] = { 0 };

	if (r->cause != WIRE_BY_NETWORK)
		return 0;
	for (int m = 0; m < r->n_members; m++)
		if (r->set_of[m] >= 0 && r->set_of[m] < 64)
			cnt[r->set_of[m]]++;
	for (int k = 0; k < r->my_set && k < 64; k++)
		off += 4 + (uint32_t)cnt[k] * WIRE_NAME_LEN;
	return off;
}

/* Every REG: the receiver is listed and its vs set holds it; the same
 * event produces, at every daemon, the same group id and members. */
static void check_logs(struct sim *s)
{
	static struct view_seen seen[16384];
	int n_seen = 0;

	for (int k = 0; k < s->ns; k++) {
		struct ssess *x = &s->s[k];

		for (int j = 0; j < x->n_log; j++) {
			const struct rec *r = &x->log[j];
			int found = 0, in = 0, v;

			if (r->kind != R_REG)
				continue;
			/* One event may produce several views of a group (the
			 * exchange's, then the held events'): told apart by id
			 * and cause (a group destroyed and created again in
			 * one event reuses (conf, 1), as Spread's does). */
			for (int m = 0; m < r->n_members; m++)
				if (r->members[m] == k) {
					in = 1;
					T_ASSERTF(r->cause == WIRE_BY_NETWORK ? r->set_of[m] == r->my_set : 1,
						  "seed %" PRIu64 ": %s's vs set offset is not its own set",
						  s->seed, x->name);
				}
			T_ASSERTF(in, "seed %" PRIu64 ": %s got a view of %s without itself",
				  s->seed, x->name, gname[r->group]);
			T_ASSERTF(r->frame_off == own_offset(r),
				  "seed %" PRIu64 ": %s's local_vs_offset is %u, its set "
				  "starts at %u", s->seed, x->name, r->frame_off, own_offset(r));
			if (r->cause == WIRE_BY_JOIN && r->n_members == 1)
				continue; /* a creation: the joiner's alone */
			for (v = 0; v < n_seen; v++)
				if (seen[v].group == r->group && seen[v].stamp == r->stamp &&
				    seen[v].cause == r->cause && memcmp(seen[v].gid, r->gid, 12) == 0) {
					found = 1;
					break;
				}
			if (!found) {
				T_ASSERT(n_seen < 16384);
				seen[n_seen].group = r->group;
				seen[n_seen].stamp = r->stamp;
				seen[n_seen].cause = r->cause;
				memcpy(seen[n_seen].gid, r->gid, 12);
				seen[n_seen].n = r->n_members;
				memcpy(seen[n_seen].members, r->members, sizeof(r->members));
				seen[n_seen].frame_hash = r->frame_hash;
				seen[n_seen].frame_len = r->frame_len;
				n_seen++;
				continue;
			}
			/* The same frame, byte for byte, at every daemon (the
			 * receiver's local_vs_offset apart). */
			T_ASSERTF(seen[v].frame_len == r->frame_len &&
				  seen[v].frame_hash == r->frame_hash,
				  "seed %" PRIu64 ": event %d gives %s different frames at "
				  "different daemons (%u / %u bytes)", s->seed, r->stamp,
				  gname[r->group], seen[v].frame_len, r->frame_len);
			n_frames_compared++;
			n_trans_frames_compared += r->in_trans && r->cause == WIRE_BY_NETWORK;
			T_ASSERTF(memcmp(seen[v].gid, r->gid, 12) == 0 && seen[v].n == r->n_members &&
				  memcmp(seen[v].members, r->members,
					 (size_t)r->n_members * sizeof(int)) == 0,
				  "seed %" PRIu64 ": event %d gives %s different views at different "
				  "daemons (%d.%d.%d, %d members / %d.%d.%d, %d members)",
				  s->seed, r->stamp, gname[r->group], seen[v].gid[0], seen[v].gid[1],
				  seen[v].gid[2], seen[v].n, r->gid[0], r->gid[1], r->gid[2],
				  r->n_members);
		}
	}
}

/* A leaver never comes back by itself: in a session's own timeline, once
 * it got its self-leave of a group, no view of that group lists it again
 * unless it sent a join after the leave that self-leave answered. Leaves
 * are applied in the order they were sent and each gives at most one
 * self-leave, so the n-th self-leave answers the n-th leave sent or a
 * later one: a join sent after the n-th leave is needed. */
static void check_no_return(const struct sim *s)
{
	for (int k = 0; k < s->ns; k++) {
		const struct ssess *x = &s->s[k];

		for (int gi = 0; gi < NGROUPS; gi++) {
			int n_self = 0, left = 0, bound = -1, self_at = -1;

			for (int j = 0; j < x->n_log; j++) {
				const struct rec *r = &x->log[j];

				if (r->group != gi)
					continue;
				if (r->kind == R_SELF) {
					int n = 0;

					n_self++;
					bound = -1;
					for (int q = 0; q < j && bound < 0; q++)
						if (x->log[q].kind == R_ASK_LEAVE && x->log[q].group == gi &&
						    ++n == n_self)
							bound = q;
					T_ASSERTF(bound >= 0, "seed %" PRIu64 ": %s got %d self-leaves "
						  "of %s but sent fewer leaves", s->seed, x->name,
						  n_self, gname[gi]);
					left = 1;
					self_at = j;
				} else if (r->kind == R_REG && left) {
					int joined = 0;

					for (int q = bound + 1; q < j && !joined; q++)
						joined = x->log[q].kind == R_ASK_JOIN &&
							 x->log[q].group == gi;
					T_ASSERTF(joined, "seed %" PRIu64 ": %s left %s (self-leave at "
						  "event %d) and is listed again in %d.%d.%d (event %d) "
						  "without a new join", s->seed, x->name, gname[gi],
						  x->log[self_at].stamp, r->gid[0], r->gid[1], r->gid[2],
						  r->stamp);
					left = 0;
				}
			}
		}
	}
}

/* The data ids session k delivered in the view of group gi that ends at
 * log index `end` (exclusive), starting after its previous REG of gi, and
 * that view's id; returns the index of that REG or -1. */
static int prev_view(const struct ssess *x, int gi, int end)
{
	for (int j = end - 1; j >= 0; j--)
		if (x->log[j].group == gi && (x->log[j].kind == R_REG || x->log[j].kind == R_SELF))
			return x->log[j].kind == R_REG ? j : -1;
	return -1;
}

/* 1 if data `id` was sent to group gi, and not with SELF_DISCARD by
 * one of the two sessions compared (which would legitimately miss it). */
static int data_to(const struct sim *s, int id, int gi, int a, int b)
{
	const struct sdata *p = &s->sent[id];

	if (p->self_discard && (p->sender == a || p->sender == b))
		return 0;
	for (int i = 0; i < p->n_dest; i++)
		if (p->dest_group[i] == gi)
			return 1;
	return 0;
}

/* Virtual synchrony: two sessions in one vs set of a REG|NETWORK came
 * from the same view and delivered the same data since it began. */
static void check_vs(struct sim *s)
{
	for (int a = 0; a < s->ns; a++) {
		const struct ssess *x = &s->s[a];

		for (int j = 0; j < x->n_log; j++) {
			const struct rec *r = &x->log[j];

			if (r->kind != R_REG || r->cause != WIRE_BY_NETWORK)
				continue;
			for (int m = 0; m < r->n_members; m++) {
				int b = r->members[m], jb = -1;
				const struct ssess *y;

				if (b <= a || b < 0 || r->set_of[m] != r->my_set)
					continue;
				y = &s->s[b];
				for (int q = 0; q < y->n_log; q++)
					if (y->log[q].kind == R_REG && y->log[q].group == r->group &&
					    memcmp(y->log[q].gid, r->gid, 12) == 0) {
						jb = q;
						break;
					}
				if (jb < 0)
					continue; /* not attached at its daemon */
				int pa = prev_view(x, r->group, j), pb = prev_view(y, r->group, jb);

				T_ASSERTF((pa < 0) == (pb < 0) &&
					  (pa < 0 || memcmp(x->log[pa].gid, y->log[pb].gid, 12) == 0),
					  "seed %" PRIu64 ": %s and %s share a vs set of %s (%d.%d.%d) "
					  "but came from different views", s->seed, x->name, y->name,
					  gname[r->group], r->gid[0], r->gid[1], r->gid[2]);
				if (pa < 0)
					continue;
				/* Same data, in the same order, between the views. */
				int ia = pa + 1, ib = pb + 1;

				for (;;) {
					while (ia < j && (x->log[ia].kind != R_DATA ||
							  !data_to(s, x->log[ia].data, r->group, a, b)))
						ia++;
					while (ib < jb && (y->log[ib].kind != R_DATA ||
							   !data_to(s, y->log[ib].data, r->group, a, b)))
						ib++;
					T_ASSERTF((ia >= j) == (ib >= jb) &&
						  (ia >= j || x->log[ia].data == y->log[ib].data),
						  "seed %" PRIu64 ": %s and %s moved together to view "
						  "%d.%d.%d of %s but delivered different data before it",
						  s->seed, x->name, y->name, r->gid[0], r->gid[1],
						  r->gid[2], gname[r->group]);
					if (ia >= j)
						break;
					ia++;
					ib++;
				}
			}
		}
	}
}

/* One total order: the data two sessions both delivered come in the same
 * relative order. */
static void check_total_order(struct sim *s)
{
	int *pos = calloc((size_t)s->next_data + 1, sizeof(int));

	for (int a = 0; a < s->ns; a++) {
		const struct ssess *x = &s->s[a];

		memset(pos, 0, ((size_t)s->next_data + 1) * sizeof(int));
		for (int j = 0; j < x->n_log; j++)
			if (x->log[j].kind == R_DATA) {
				T_ASSERTF(!pos[x->log[j].data], "seed %" PRIu64 ": %s got data %d twice",
					  s->seed, x->name, x->log[j].data);
				pos[x->log[j].data] = j + 1;
			}
		for (int b = a + 1; b < s->ns; b++) {
			const struct ssess *y = &s->s[b];
			int last = 0;

			for (int j = 0; j < y->n_log; j++) {
				int p;

				if (y->log[j].kind != R_DATA || !(p = pos[y->log[j].data]))
					continue;
				T_ASSERTF(p > last, "seed %" PRIu64 ": %s and %s deliver data in "
					  "different orders", s->seed, x->name, y->name);
				last = p;
			}
		}
	}
	free(pos);
}

static void sim_free(struct sim *s)
{
	for (int i = 0; i < s->nd; i++)
		if (s->d[i].alive)
			gview_free(&s->d[i].gv);
	for (int c = 0; c < MAXD; c++) {
		while (s->q[c].len) {
			struct qmsg m = qpop(&s->q[c]);

			qmsg_free(&m);
		}
		free(s->q[c].m);
	}
	for (int k = 0; k < s->ns; k++)
		free(s->s[k].log);
	free(s->sent);
}

static void heal(struct sim *s)
{
	int newcomp[MAXD];

	for (int i = 0; i < s->nd; i++)
		newcomp[i] = 0;
	/* Crashed daemons restart: everyone ends in one configuration. */
	for (int i = 0; i < s->nd; i++)
		if (!s->d[i].alive)
			newcomp[i] = 0;
	reconfigure(s, newcomp);
	while (deliver_one(s, 0))
		;
}

/* `change_pct`: the share of steps that change the configuration (the
 * rest: client actions and deliveries). */
static void run(uint64_t seed, int nd, int steps, uint32_t change_pct)
{
	struct sim *s = calloc(1, sizeof(*s));
	int start[MAXD];

	s->seed = seed;
	s->rng = seed * 0x9e3779b97f4a7c15ull + 1;
	s->nd = nd;
	for (int i = 0; i < nd; i++) {
		s->d[i].comp = -1;
		start[i] = 0;
	}
	/* The first configuration: every daemon together. */
	for (int i = 0; i < nd; i++)
		daemon_start(s, i), s->d[i].alive = 0;
	for (int i = 0; i < nd; i++)
		gview_free(&s->d[i].gv);
	reconfigure(s, start);
	for (int step = 0; step < steps; step++) {
		uint32_t r = rnd(s, 100);

		if (r < 40) {
			client_action(s);
		} else if (r < 100 - change_pct) {
			int c = s->d[rnd(s, (uint32_t)nd)].comp;

			if (s->d[c].alive || c >= 0)
				deliver_one(s, c);
			check_settled(s, c);
		} else {
			random_change(s);
		}
	}
	heal(s);
	for (int i = 1; i < nd; i++)
		check_tables_equal(s, 0, i);
	for (int i = 0; i < nd; i++)
		T_EQ(s->d[i].gv.state, GV_OP);
	check_no_ghosts(s);
	check_logs(s);
	check_no_return(s);
	check_vs(s);
	check_total_order(s);
	sim_free(s);
	free(s);
}

static uint64_t seeds(uint64_t dflt)
{
	const char *e = getenv("CHORUS_GVIEW_SEEDS");

	return e ? strtoull(e, NULL, 0) : dflt;
}

/* The frames of J2, L2 and D2 (views of a transitional period) were
 * among those compared across daemons. */
static void frames_seen(void)
{
	printf("%d membership frames compared across daemons, %d of transitional "
	       "periods (J2, L2, D2)\n", n_frames_compared, n_trans_frames_compared);
	T_ASSERT(n_trans_frames_compared > 0);
}

static void random_3_daemons(void)
{
	uint64_t n = seeds(300);

	for (uint64_t seed = 1; seed <= n; seed++)
		run(seed, 3, 400, 6);
	frames_seen();
}

static void random_5_daemons(void)
{
	uint64_t n = seeds(300);

	for (uint64_t seed = 1; seed <= n; seed++)
		run(seed + 1000000, 5, 600, 6);
	frames_seen();
}


/* Configuration changes in one step of five: most exchanges are cut
 * short, often more than once, with joins and leaves held in them. */
static void random_restarts(void)
{
	uint64_t n = seeds(300);

	for (uint64_t seed = 1; seed <= n; seed++) {
		run(seed + 2000000, 3, 300, 20);
		run(seed + 3000000, 5, 400, 20);
	}
}

/* ---- scripted races: a join or a leave held by an exchange that a
 * second configuration change cuts short ---- */

/* Every daemon starts and forms one configuration; the exchange ends. */
static void sc_setup(struct sim *s, int nd)
{
	memset(s, 0, sizeof(*s));
	s->nd = nd;
	for (int i = 0; i < nd; i++)
		daemon_start(s, i);
	T_ASSERT(new_session(s, 0) == 0); /* the leaver, on d0 */
	for (int i = 1; i < nd; i++)
		T_ASSERT(new_session(s, i) == i); /* one witness per daemon */
}

/* A configuration of the daemons in mem[] at each of them. A regular one
 * starts an exchange: its state messages go to the queue of component
 * mem[0], emptied first (what a cut exchange left there is stale). */
static void sc_conf(struct sim *s, const int *mem, int n, int transitional, uint32_t seq,
		    int proc)
{
	struct ord_conf c;

	make_conf(s, &c, mem, n, transitional, seq);
	c.memb_proc = did(proc);
	s->stamp++;
	if (!transitional) {
		struct queue *q = &s->q[mem[0]];

		while (q->len) {
			struct qmsg m = qpop(q);

			qmsg_free(&m);
		}
		for (int k = 0; k < n; k++)
			s->d[mem[k]].comp = mem[0];
	}
	for (int k = 0; k < n; k++)
		gview_conf(&s->d[mem[k]].gv, &c);
}

/* The race of a join followed at once by a leave of the same session. */
#define SC_BOTH 16

/* Session k's join or leave of g0 (SC_BOTH: a join, then a leave),
 * delivered at the daemons in to[]. */
static void sc_event(struct sim *s, const int *to, int n, int kind, int k)
{
	struct qmsg m = { .kind = (uint8_t)kind, .sender = s->s[k].daemon, .sess = k };

	if (kind == SC_BOTH) {
		sc_event(s, to, n, Q_JOIN, k);
		sc_event(s, to, n, Q_LEAVE, k);
		return;
	}
	s->stamp++;
	for (int i = 0; i < n; i++)
		deliver(s, to[i], &m);
}

/* Delivers up to `count` state messages of component c (-1: all). */
static void sc_states(struct sim *s, int c, int count)
{
	while (count-- != 0 && deliver_one(s, c))
		;
}

static int sc_member(const struct sim *s, int d, int k)
{
	const struct gv_group *g = gview_find(&s->d[d].gv, gname[0]);

	return g && gview_has_member(g, s->s[k].name, did(s->s[k].daemon));
}

/* Where the leave (or join) lands relative to the two changes. */
enum sc_when {
	SC_EXCH_FIRST,   /* held in the first exchange, before any state */
	SC_EXCH_MID,     /* held in the first exchange, after some state */
	SC_TRANS,        /* in the transitional configuration that cuts it */
	SC_CARRIED,      /* not sent in time: delivered in the second
			  * configuration's exchange */
	SC_CARRIED_LATE, /* ... after that exchange ended */
	SC_N_WHEN
};

/* nd daemons form one configuration; session 0 (on d0) joins g0 with a
 * witness on every other daemon. Then d(nd-1) is partitioned away: d0 ..
 * d(nd-2) start an exchange and the leave of session 0 (`kind` Q_LEAVE;
 * with Q_JOIN a new session on d0 joins instead) races a second change
 * (`merge`: d(nd-1) comes back; else two regular configurations in a
 * row, as after a ring restarted during recovery) that cuts that
 * exchange short. Checked: every daemon ends with the same table, the
 * leaver is in no table and got one self-leave, no view after it lists
 * it (check_no_return), and the joiner is everywhere exactly once. */
static void race_case(int nd, int kind, enum sc_when when, int merge)
{
	struct sim *s = calloc(1, sizeof(*s));
	int all[MAXD], part[MAXD], last = nd - 1, np = nd - 1, k;

	sc_setup(s, nd);
	s->seed = (uint64_t)(nd * 1000 + kind * 100 + (int)when * 10 + merge);
	for (int i = 0; i < nd; i++)
		all[i] = part[i] = i;
	sc_conf(s, all, nd, 0, 1, 0);
	sc_states(s, 0, -1);
	for (int i = 0; i < nd; i++) {
		log_ask(s, i, Q_JOIN, 0);
		sc_event(s, all, nd, Q_JOIN, i);
	}
	for (int i = 0; i < nd; i++)
		T_EQ(s->d[i].gv.state, GV_OP);
	k = kind == Q_LEAVE ? 0 : new_session(s, 0);
	T_ASSERT(k >= 0);
	if (kind == SC_BOTH) {
		log_ask(s, k, Q_JOIN, 0);
		log_ask(s, k, Q_LEAVE, 0);
	} else {
		log_ask(s, k, kind, 0);
	}

	/* First change: d(nd-1) leaves; the others exchange. */
	sc_conf(s, part, np, 1, 2, 0);
	sc_conf(s, &all[last], 1, 1, 2, last);
	sc_conf(s, part, np, 0, 2, 0);
	sc_conf(s, &all[last], 1, 0, 2, last);
	for (int i = 0; i < np; i++)
		T_EQ(s->d[i].gv.state, GV_EXCH);
	if (when == SC_EXCH_FIRST)
		sc_event(s, part, np, kind, k);
	if (when == SC_EXCH_MID) {
		sc_states(s, 0, np - 1);
		sc_event(s, part, np, kind, k);
	} else {
		sc_states(s, 0, np - 1);
	}
	for (int i = 0; i < np; i++)
		T_EQ(s->d[i].gv.state, GV_EXCH); /* one state message missing */

	/* Second change, before the exchange ends. */
	if (merge) {
		sc_conf(s, part, np, 1, 3, 0);
		sc_conf(s, &all[last], 1, 1, 3, 0);
		if (when == SC_TRANS)
			sc_event(s, part, np, kind, k);
		sc_conf(s, all, nd, 0, 3, 0);
	} else {
		if (when == SC_TRANS) {
			/* A transitional configuration of the same daemons,
			 * then the regular one. */
			sc_conf(s, part, np, 1, 3, 0);
			sc_event(s, part, np, kind, k);
		}
		sc_conf(s, part, np, 0, 3, 0);
	}
	{
		int *mem = merge ? all : part, n = merge ? nd : np;

		if (when == SC_CARRIED)
			sc_event(s, mem, n, kind, k);
		sc_states(s, 0, -1);
		for (int i = 0; i < n; i++)
			T_EQ(s->d[mem[i]].gv.state, GV_OP);
		if (when == SC_CARRIED_LATE)
			sc_event(s, mem, n, kind, k);
		if (!merge) {
			/* Heal: d(nd-1) comes back. */
			sc_conf(s, part, np, 1, 4, 0);
			sc_conf(s, &all[last], 1, 1, 4, 0);
			sc_conf(s, all, nd, 0, 4, 0);
			sc_states(s, 0, -1);
		}
	}
	for (int i = 0; i < nd; i++)
		T_EQ(s->d[i].gv.state, GV_OP);
	for (int i = 1; i < nd; i++)
		check_tables_equal(s, 0, i);
	for (int i = 0; i < nd; i++)
		T_ASSERTF(sc_member(s, i, k) == (kind == Q_JOIN),
			  "case %" PRIu64 ": %s is %sa member at d%d", s->seed, s->s[k].name,
			  kind == Q_JOIN ? "not " : "", i);
	for (int w = 1; w < nd; w++)
		T_ASSERT(sc_member(s, 0, w));
	if (kind != Q_JOIN) {
		int n_self = 0;

		for (int j = 0; j < s->s[k].n_log; j++)
			n_self += s->s[k].log[j].kind == R_SELF;
		T_ASSERTF(n_self == 1, "case %" PRIu64 ": %d self-leaves", s->seed, n_self);
	} else {
		int in = 0;

		/* The joiner's last view lists it. */
		for (int j = 0; j < s->s[k].n_log; j++)
			if (s->s[k].log[j].kind == R_REG)
				in = 1;
		T_ASSERTF(in, "case %" PRIu64 ": the joiner got no view", s->seed);
	}
	check_no_ghosts(s);
	check_logs(s);
	check_no_return(s);
	check_vs(s);
	sim_free(s);
	free(s);
}

static void race_leave_3_daemons(void)
{
	for (int w = 0; w < SC_N_WHEN; w++)
		for (int merge = 0; merge < 2; merge++)
			race_case(3, Q_LEAVE, (enum sc_when)w, merge);
}

static void race_leave_5_daemons(void)
{
	for (int w = 0; w < SC_N_WHEN; w++)
		for (int merge = 0; merge < 2; merge++)
			race_case(5, Q_LEAVE, (enum sc_when)w, merge);
}

static void race_join(void)
{
	for (int nd = 3; nd <= 5; nd += 2)
		for (int w = 0; w < SC_N_WHEN; w++)
			for (int merge = 0; merge < 2; merge++)
				race_case(nd, Q_JOIN, (enum sc_when)w, merge);
}

/* A join and a leave of a new session, both cut short: whether or not it
 * saw a view, the session gets the self-leave that answers its leave. */
static void race_join_leave(void)
{
	for (int nd = 3; nd <= 5; nd += 2)
		for (int w = 0; w < SC_N_WHEN; w++)
			for (int merge = 0; merge < 2; merge++)
				race_case(nd, SC_BOTH, (enum sc_when)w, merge);
}

/* ---- golden frames of the specification's examples ---- */

#define N1 0x0A630001u /* 10.99.0.1 */
#define N2 0x0A630002u
#define T0 0x6B074C12u
#define T1 0x6B074C30u
#define T2 0x6B074C4Du

struct gframe {
	char to[WIRE_NAME_LEN];
	struct msg *m;
};

struct gd {
	struct gview v;
	uint32_t id;
	struct gframe f[32];
	int n;
	uint8_t *out[4];
	size_t out_len[4];
	int n_out;
};

static void gd_add(struct gd *d, const char *to, struct msg *m)
{
	T_ASSERT(m && d->n < 32);
	memset(d->f[d->n].to, 0, WIRE_NAME_LEN);
	memcpy(d->f[d->n].to, to, strlen(to));
	d->f[d->n++].m = m;
}

static void gd_memb(void *ctx, const struct gv_group *g, uint32_t cause,
		    const char *changed, const struct gv_vs *vs)
{
	for (int i = 0; i < g->n_members; i++)
		if (g->members[i].local)
			gd_add(ctx, g->members[i].name,
			       groups_memb_frame(g, cause, changed, vs, &g->members[i]));
}

static void gd_trans(void *ctx, const struct gv_group *g, const int32_t old[3])
{
	for (int i = 0; i < g->n_members; i++)
		if (g->members[i].local)
			gd_add(ctx, g->members[i].name, groups_trans_frame(g, old));
}

static void *gd_attach(void *ctx, const char *member)
{
	(void)member;
	return ctx;
}

static int gd_submit(void *ctx, const uint8_t *body, size_t len)
{
	struct gd *d = ctx;

	T_ASSERT(d->n_out < 4);
	d->out[d->n_out] = malloc(len);
	memcpy(d->out[d->n_out], body, len);
	d->out_len[d->n_out++] = len;
	return 0;
}

static void gd_init(struct gd *d, uint32_t id)
{
	static const uint32_t order[2] = { N1, N2 };
	struct gv_out out = { .ctx = d, .memb = gd_memb, .trans = gd_trans,
			      .attach = gd_attach, .submit = gd_submit };

	memset(d, 0, sizeof(*d));
	d->id = id;
	T_EQ(gview_init(&d->v, id, order, 2, 64, &out), 0);
}

static void gd_clear(struct gd *d)
{
	for (int i = 0; i < d->n; i++)
		msg_unref(d->f[i].m);
	d->n = 0;
}

static void gd_conf(struct gd *d, int transitional, uint32_t proc, uint32_t time,
		    int n, const uint32_t *ids)
{
	struct ord_conf c;

	memset(&c, 0, sizeof(c));
	c.transitional = transitional;
	c.memb_proc = proc;
	c.memb_time = time;
	c.n_daemons = n;
	memcpy(c.daemons, ids, (size_t)n * sizeof(*ids));
	gview_conf(&d->v, &c);
}

/* Delivers every state message the daemons submitted, in order, to all. */
static void gd_exchange(struct gd **ds, int n)
{
	for (int i = 0; i < n; i++) {
		for (int k = 0; k < ds[i]->n_out; k++) {
			for (int j = 0; j < n; j++)
				gview_state(&ds[j]->v, ds[i]->out[k], ds[i]->out_len[k]);
			free(ds[i]->out[k]);
		}
		ds[i]->n_out = 0;
	}
}

static void field(char *f, const char *s)
{
	memset(f, 0, WIRE_NAME_LEN);
	memcpy(f, s, strlen(s));
}

static void gd_join(struct gd **ds, int n, const char *group, const char *who, uint32_t daemon)
{
	char g[WIRE_NAME_LEN], m[WIRE_NAME_LEN];

	field(g, group);
	field(m, who);
	for (int i = 0; i < n; i++)
		gview_join(&ds[i]->v, g, m, daemon);
}

static const struct msg *gd_frame(const struct gd *d, const char *to, int nth)
{
	for (int i = 0; i < d->n; i++)
		if (strcmp(d->f[i].to, to) == 0 && nth-- == 0)
			return d->f[i].m;
	return NULL;
}

static void put_le32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

/* The expected REG|NETWORK frame: header, members, then the body. */
static size_t expect_reg(uint8_t *p, const char *group, const char *const *members,
			 int n, const uint32_t gid[3], const int *sets, int n_sets,
			 uint32_t offset)
{
	size_t len = WIRE_HDR_LEN;
	uint32_t body = 20;
	struct wire_hdr h;

	for (int k = 0; k < n_sets; k++)
		body += 4 + 32 * (uint32_t)sets[k];
	memset(&h, 0, sizeof(h));
	h.type = WIRE_REG_MEMB | WIRE_BY_NETWORK;
	memcpy(h.name, group, strlen(group));
	h.num_groups = n;
	h.hint = WIRE_OWN_MARK;
	h.data_len = (int32_t)body;
	wire_hdr_encode(&h, p);
	for (int i = 0; i < n; i++, len += 32)
		field((char *)p + len, members[i]);
	for (int i = 0; i < 3; i++, len += 4)
		put_le32(p + len, gid[i]);
	put_le32(p + len, (uint32_t)n_sets);
	put_le32(p + len + 4, offset);
	len += 8;
	for (int k = 0, i = 0; k < n_sets; k++) {
		put_le32(p + len, (uint32_t)sets[k]);
		len += 4;
		for (int j = 0; j < sets[k]; j++, len += 32)
			field((char *)p + len, members[i++]);
	}
	return len;
}

static void expect_frame(const struct msg *m, const uint8_t *want, size_t len)
{
	T_ASSERT(m != NULL);
	T_EQ(m->len, len);
	if (memcmp(m->data, want, len) != 0) {
		for (size_t i = 0; i < len; i++)
			if (m->data[i] != want[i])
				fprintf(stderr, "byte %zu: %02x, expected %02x\n", i,
					m->data[i], want[i]);
	}
	T_MEMEQ(m->data, want, len);
}

/* Two daemons with ua, uc on n1 and ub on n2 in "net" (index 3), then a
 * partition (5.6 N1, 5.7): the transitional signal of the spec's
 * observed bytes, then REG|NETWORK per side with one set and (new, 1). */
static void setup_three(struct gd *a, struct gd *b)
{
	const uint32_t both[2] = { N1, N2 };
	struct gd *ds[2] = { a, b };

	gd_init(a, N1);
	gd_init(b, N2);
	gd_conf(a, 0, N1, T0, 2, both);
	gd_conf(b, 0, N1, T0, 2, both);
	gd_exchange(ds, 2);
	T_EQ(a->v.state, GV_OP);
	gd_join(ds, 2, "net", "#ua#n1", N1);
	gd_join(ds, 2, "net", "#ub#n2", N2);
	gd_join(ds, 2, "net", "#uc#n1", N1);
	gd_clear(a);
	gd_clear(b);
}

static void golden_partition(void)
{
	static const uint8_t trans[] = {
		0x80, 0x20, 0x00, 0x80, 'n', 'e', 't', 0, 0, 0, 0, 0, 0, 0, 0, 0,
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
		0x00, 0x00, 0x00, 0x00, 0x80, 0x00, 0x00, 0x80, 0x0c, 0x00, 0x00, 0x00,
		0x01, 0x00, 0x63, 0x0a, 0x12, 0x4c, 0x07, 0x6b, 0x03, 0x00, 0x00, 0x00,
	};
	static const char *const left[] = { "#ua#n1", "#uc#n1" }, *const right[] = { "#ub#n2" };
	const uint32_t gl[3] = { N1, T1, 1 }, gr[3] = { N2, T1, 1 };
	const uint32_t n1[1] = { N1 }, n2[1] = { N2 };
	uint8_t want[1024];
	size_t len;
	struct gd a, b;
	int sets2[1] = { 2 }, sets1[1] = { 1 };

	if (WIRE_OWN_MARK != 0x80000080u)
		t_skip("the observed bytes are of a little-endian daemon");
	setup_three(&a, &b);
	gd_conf(&a, 1, N1, T1, 1, n1);
	gd_conf(&b, 1, N2, T1, 1, n2);
	for (int i = 0; i < 2; i++) {
		const char *to = i ? "#uc#n1" : "#ua#n1";

		expect_frame(gd_frame(&a, to, 0), trans, sizeof(trans));
	}
	expect_frame(gd_frame(&b, "#ub#n2", 0), trans, sizeof(trans));
	gd_conf(&a, 0, N1, T1, 1, n1); /* alone: no exchange to wait for */
	gd_conf(&b, 0, N2, T1, 1, n2);
	len = expect_reg(want, "net", left, 2, gl, sets2, 1, 0);
	expect_frame(gd_frame(&a, "#ua#n1", 1), want, len);
	expect_frame(gd_frame(&a, "#uc#n1", 1), want, len);
	len = expect_reg(want, "net", right, 1, gr, sets1, 1, 0);
	expect_frame(gd_frame(&b, "#ub#n2", 1), want, len);
	T_EQ(a.n, 4);
	T_EQ(b.n, 2);
	gd_clear(&a);
	gd_clear(&b);
	gview_free(&a.v);
	gview_free(&b.v);
}

/* Then the two sides merge (5.3's observed merge, N2): REG|NETWORK only,
 * two sets in the order of their previous ids, each side's offset at
 * its own set (0x44 at n2), id (new, 1). */
static void golden_merge(void)
{
	static const char *const all[] = { "#ua#n1", "#uc#n1", "#ub#n2" };
	const uint32_t both[2] = { N1, N2 }, n1[1] = { N1 }, n2[1] = { N2 };
	const uint32_t gid[3] = { N1, T2, 1 };
	int sets[2] = { 2, 1 };
	uint8_t want[1024];
	size_t len;
	struct gd a, b;
	struct gd *ds[2] = { &a, &b };

	setup_three(&a, &b);
	gd_conf(&a, 1, N1, T1, 1, n1);
	gd_conf(&b, 1, N2, T1, 1, n2);
	gd_conf(&a, 0, N1, T1, 1, n1);
	gd_conf(&b, 0, N2, T1, 1, n2);
	gd_clear(&a);
	gd_clear(&b);
	gd_conf(&a, 1, N1, T2, 1, n1);
	gd_conf(&b, 1, N1, T2, 1, n2);
	T_EQ(a.n + b.n, 0); /* nothing left: no transitional signal */
	gd_conf(&a, 0, N1, T2, 2, both);
	gd_conf(&b, 0, N1, T2, 2, both);
	T_EQ(a.n + b.n, 0); /* held until the exchange ends */
	gd_exchange(ds, 2);
	len = expect_reg(want, "net", all, 3, gid, sets, 2, 0);
	T_EQ(len, WIRE_HDR_LEN + 3 * 32 + 124);
	expect_frame(gd_frame(&a, "#ua#n1", 0), want, len);
	expect_frame(gd_frame(&a, "#uc#n1", 0), want, len);
	len = expect_reg(want, "net", all, 3, gid, sets, 2, 0x44);
	expect_frame(gd_frame(&b, "#ub#n2", 0), want, len);
	T_EQ(a.n, 2);
	T_EQ(b.n, 1);
	/* Identical tables. */
	T_MEMEQ(gview_find(&a.v, "net")->gid, gview_find(&b.v, "net")->gid, 12);
	gd_clear(&a);
	gd_clear(&b);
	gview_free(&a.v);
	gview_free(&b.v);
}

/* A configuration change that does not touch a group's daemons (N3):
 * nothing for it, and its id stays. */
static void golden_untouched(void)
{
	const uint32_t both[2] = { N1, N2 }, n1[1] = { N1 }, n2[1] = { N2 };
	struct gd a, b;
	struct gd *ds[2] = { &a, &b };
	int32_t before[3];

	gd_init(&a, N1);
	gd_init(&b, N2);
	gd_conf(&a, 0, N1, T0, 2, both);
	gd_conf(&b, 0, N1, T0, 2, both);
	gd_exchange(ds, 2);
	gd_join(ds, 2, "solo", "#ua#n1", N1);
	memcpy(before, gview_find(&a.v, "solo")->gid, 12);
	gd_clear(&a);
	gd_clear(&b);
	gd_conf(&a, 1, N1, T1, 1, n1);
	gd_conf(&a, 0, N1, T1, 1, n1);
	gd_conf(&b, 1, N2, T1, 1, n2);
	gd_conf(&b, 0, N2, T1, 1, n2);
	T_EQ(a.n, 0);
	T_MEMEQ(gview_find(&a.v, "solo")->gid, before, 12);
	T_ASSERT(gview_find(&b.v, "solo") == NULL);
	gd_conf(&a, 1, N1, T2, 1, n1);
	gd_conf(&b, 1, N1, T2, 1, n2);
	gd_conf(&a, 0, N1, T2, 2, both);
	gd_conf(&b, 0, N1, T2, 2, both);
	gd_exchange(ds, 2);
	T_EQ(a.n, 0);
	T_MEMEQ(gview_find(&a.v, "solo")->gid, before, 12);
	T_MEMEQ(gview_find(&b.v, "solo")->gid, before, 12);
	gview_free(&a.v);
	gview_free(&b.v);
}

static const struct t_case cases[] = {
	T_CASE(golden_partition),
	T_CASE(golden_merge),
	T_CASE(golden_untouched),
	T_CASE(race_leave_3_daemons),
	T_CASE(race_leave_5_daemons),
	T_CASE(race_join),
	T_CASE(race_join_leave),
	T_CASE_TIMEOUT(random_3_daemons, 300),
	T_CASE_TIMEOUT(random_5_daemons, 300),
	T_CASE_TIMEOUT(random_restarts, 300),
};

int main(int argc, char **argv)
{
	return t_main(argc, argv, cases, T_COUNT(cases));
}
