/*
 * sim_check.c - the simulator's checkers: every property of issue 6, item
 * 6, over every delivery and configuration of every daemon incarnation
 * ("life").
 *
 * As events happen:
 *   - a delivered message exists, was sent by its origin, has its length,
 *     service and bytes (no invented or altered message);
 *   - no life delivers a message twice;
 *   - FIFO and causal order: a message is never delivered after one that
 *     it causally precedes (vector of per-stream counts, transitive);
 *   - every delivery names the configuration the life is in;
 *   - a configuration contains the life, members ascending; the same
 *     regular configuration id always has the same members;
 *   - a transitional configuration comes between two regular ones and is
 *     contained in both;
 *   - virtual synchrony: lives that go from regular configuration c to
 *     the same c' delivered the same set in c and the same set in the
 *     transitional configuration between (and had the same one).
 * At the end:
 *   - one total order of agreed and safe messages: the union of every
 *     life's delivery order has no cycle;
 *   - safe delivery: a safe message delivered in a regular configuration
 *     is delivered, in it or its transitional configuration, by every
 *     life that installed it and did not crash before leaving it;
 *   - a life that never crashed delivered all its own messages;
 *   - no holes (EVS): within a regular configuration and the transitional
 *     one after it, every life delivers a gap-free part of the
 *     configuration's order: if another life delivered m before m' there
 *     and this one delivered m' there, it delivered m too, unless it
 *     delivered m' in the transitional configuration and m's sender is
 *     not in that transitional configuration (a gap nobody of its group
 *     had);
 *   - the final configuration: every live daemon is in the same regular
 *     one and delivered the same set of messages in it (virtual synchrony
 *     for the last configuration too), and every message a live daemon
 *     submitted after installing it was delivered by every live daemon
 *     (liveness of delivery).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim_int.h"

#define MAX_STREAMS 512
#define KEY_LEN 12
#define KEY_MAGIC 0xc5

struct stream {
	unsigned node;
	uint32_t inc;
	uint32_t n, cap;
	uint32_t *msg; /* message ids by counter */
};

struct msgrec {
	uint32_t stream, counter;
	uint8_t service, orig_service, marker;
	uint16_t len;
	uint32_t vc_off, vc_n;
	uint32_t sent_nconf; /* the sender's number of configurations then */
};

struct creg {
	struct ring_conf_id id;
	unsigned n;
	uint32_t m[SIM_MAX_NODES];
	uint32_t installed; /* nodes that installed it, a bit each */
};

/* A configuration id in messages: representative/its incarnation.seq. */
#define ID_FMT "%08x/%u.%u"
#define ID_ARG(x) (x).rep, (x).rep_inc, (x).seq

struct lconf {
	uint8_t trans;
	uint32_t reg; /* regular: its creg index */
	uint32_t log_start;
	unsigned tn; /* transitional: its members */
	uint32_t tm[SIM_MAX_NODES];
};

struct life {
	unsigned node;
	uint32_t inc, id, stream;
	int alive;
	uint32_t *log;
	uint32_t n_log, cap_log;
	struct lconf *confs;
	uint32_t n_confs, cap_confs;
	uint32_t know[MAX_STREAMS];  /* causal past for what it sends */
	uint32_t dpast[MAX_STREAMS]; /* past of what it delivered */
	uint8_t *seen;
	uint32_t seen_cap;
	int has_reg, in_trans;
	uint32_t cur_reg;
	struct ring_conf_id trans_id;
	unsigned trans_n;
	uint32_t trans_m[SIM_MAX_NODES];
	uint64_t fp_reg, fp_trans;
	uint32_t n_reg, n_trans;
};

struct vsrec {
	uint32_t c, c2;
	uint64_t fp_reg, fp_trans, t_hash;
	uint32_t n_reg, n_trans;
	unsigned life;
};

struct chk {
	struct stream streams[MAX_STREAMS];
	unsigned n_streams;
	struct msgrec *msgs;
	uint32_t n_msgs, cap_msgs;
	uint32_t *vc;
	size_t n_vc, cap_vc;
	struct creg *cregs;
	uint32_t n_cregs, cap_cregs;
	struct life *lives;
	unsigned n_lives, cap_lives;
	struct vsrec *vs;
	uint32_t n_vs, cap_vs;
	uint32_t *markers;
	uint32_t n_markers, cap_markers;
};

static void *grow(void *p, uint32_t *cap, uint32_t need, size_t size)
{
	if (need <= *cap)
		return p;
	while (*cap < need)
		*cap = *cap ? *cap * 2 : 64;
	p = realloc(p, (size_t)*cap * size);
	if (!p)
		abort();
	return p;
}

struct chk *chk_new(struct sim *s)
{
	struct chk *c = calloc(1, sizeof(*c));

	(void)s;
	if (!c)
		abort();
	return c;
}

void chk_free(struct chk *c)
{
	if (!c)
		return;
	for (unsigned i = 0; i < c->n_streams; i++)
		free(c->streams[i].msg);
	for (unsigned i = 0; i < c->n_lives; i++) {
		free(c->lives[i].log);
		free(c->lives[i].confs);
		free(c->lives[i].seen);
	}
	free(c->lives);
	free(c->msgs);
	free(c->vc);
	free(c->cregs);
	free(c->vs);
	free(c->markers);
	free(c);
}

unsigned chk_life_begin(struct sim *s, unsigned node, uint32_t inc)
{
	struct chk *c = s->chk;
	struct life *l;

	c->lives = grow(c->lives, &c->cap_lives, c->n_lives + 1, sizeof(*c->lives));
	l = &c->lives[c->n_lives];
	memset(l, 0, sizeof(*l));
	l->node = node;
	l->inc = inc;
	l->id = sim_id(s, node);
	l->alive = 1;
	if (c->n_streams == MAX_STREAMS) {
		sim_fail(s, "checker: more than %d daemon incarnations", MAX_STREAMS);
		l->stream = 0;
	} else {
		l->stream = c->n_streams++;
		memset(&c->streams[l->stream], 0, sizeof(c->streams[0]));
		c->streams[l->stream].node = node;
		c->streams[l->stream].inc = inc;
	}
	return c->n_lives++;
}

void chk_life_end(struct sim *s, unsigned life)
{
	s->chk->lives[life].alive = 0;
}

/* ---- message bytes ------------------------------------------------------------ */

static uint64_t mix(uint64_t x)
{
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static uint64_t msg_hash(unsigned node, uint32_t inc, uint32_t counter,
			 size_t len, int service)
{
	return mix(((uint64_t)node << 56) ^ ((uint64_t)inc << 40) ^
		   ((uint64_t)counter << 8) ^ ((uint64_t)len << 20) ^
		   (uint64_t)service);
}

static void msg_bytes(uint8_t *buf, unsigned node, uint32_t inc,
		      uint32_t counter, size_t len, int service)
{
	uint64_t h = msg_hash(node, inc, counter, len, service), x = h;

	buf[0] = KEY_MAGIC;
	buf[1] = (uint8_t)node;
	buf[2] = (uint8_t)(inc >> 8);
	buf[3] = (uint8_t)inc;
	memcpy(buf + 4, &counter, 4);
	memcpy(buf + 8, &h, 4);
	for (size_t k = KEY_LEN; k < len; k++) {
		if ((k & 7) == 0)
			x = mix(x + k);
		buf[k] = (uint8_t)(x >> ((k & 7) * 8));
	}
}

uint32_t chk_next_msg(struct sim *s, unsigned life, int service, size_t len,
		      uint8_t *buf)
{
	struct chk *c = s->chk;
	struct life *l = &c->lives[life];
	struct stream *st = &c->streams[l->stream];

	msg_bytes(buf, l->node, l->inc, st->n, len, service);
	return st->n;
}

void chk_sent(struct sim *s, unsigned life, int service, size_t len, int marker)
{
	struct chk *c = s->chk;
	struct life *l = &c->lives[life];
	struct stream *st = &c->streams[l->stream];
	struct msgrec *m;
	uint32_t id = c->n_msgs;

	c->msgs = grow(c->msgs, &c->cap_msgs, c->n_msgs + 1, sizeof(*c->msgs));
	st->msg = grow(st->msg, &st->cap, st->n + 1, sizeof(*st->msg));
	if (c->n_vc + c->n_streams > c->cap_vc) {
		c->cap_vc = (c->n_vc + c->n_streams) * 2 + 1024;
		c->vc = realloc(c->vc, c->cap_vc * sizeof(*c->vc));
		if (!c->vc)
			abort();
	}
	m = &c->msgs[c->n_msgs++];
	m->stream = l->stream;
	m->counter = st->n;
	m->service = (uint8_t)(service == RING_UNRELIABLE ? RING_RELIABLE : service);
	m->orig_service = (uint8_t)service;
	m->marker = (uint8_t)marker;
	m->len = (uint16_t)len;
	m->vc_off = (uint32_t)c->n_vc;
	m->vc_n = c->n_streams;
	m->sent_nconf = l->has_reg && !l->in_trans ? l->n_confs : UINT32_MAX;
	l->know[l->stream] = st->n;
	memcpy(c->vc + c->n_vc, l->know, c->n_streams * sizeof(uint32_t));
	c->n_vc += c->n_streams;
	l->know[l->stream] = st->n + 1;
	st->msg[st->n++] = id;
	if (marker) {
		c->markers = grow(c->markers, &c->cap_markers, c->n_markers + 1,
				  sizeof(*c->markers));
		c->markers[c->n_markers++] = id;
	}
}

/* ---- deliveries ---------------------------------------------------------------- */

static int seen(const struct life *l, uint32_t id)
{
	return id / 8 < l->seen_cap && (l->seen[id / 8] >> (id % 8) & 1);
}

static void mark_seen(struct life *l, uint32_t id)
{
	uint32_t old = l->seen_cap;

	l->seen = grow(l->seen, &l->seen_cap, id / 8 + 1, 1);
	memset(l->seen + old, 0, l->seen_cap - old);
	l->seen[id / 8] |= (uint8_t)(1u << (id % 8));
}

static uint64_t fp_of(uint32_t id)
{
	return mix((uint64_t)id + 0x1234567);
}

void chk_deliver(struct sim *s, unsigned life, const struct ring_delivery *d)
{
	struct chk *c = s->chk;
	struct life *l = &c->lives[life];
	unsigned node;
	uint32_t inc, counter, id, si = MAX_STREAMS;
	const struct msgrec *m;
	const uint32_t *vc;

	if (s->failed)
		return;
	if (d->len < KEY_LEN || d->data[0] != KEY_MAGIC) {
		sim_fail(s, "node %u: delivered a message nobody sent (%zu bytes)",
			 l->node, d->len);
		return;
	}
	node = d->data[1];
	inc = (uint32_t)d->data[2] << 8 | d->data[3];
	memcpy(&counter, d->data + 4, 4);
	for (unsigned k = 0; k < c->n_streams; k++)
		if (c->streams[k].node == node && c->streams[k].inc == inc)
			si = k;
	if (si == MAX_STREAMS || counter >= c->streams[si].n) {
		sim_fail(s, "node %u: delivered a message nobody sent (%u.%u #%u)",
			 l->node, node, inc, counter);
		return;
	}
	id = c->streams[si].msg[counter];
	m = &c->msgs[id];
	msg_bytes(s->msgbuf, node, inc, counter, m->len, m->orig_service);
	if (d->len != m->len || d->service != m->service ||
	    d->origin != sim_id(s, node) ||
	    memcmp(s->msgbuf, d->data, m->len) != 0) {
		sim_fail(s, "node %u: message %u.%u #%u altered (len %zu/%u, "
			 "service %d/%d, origin %08x)", l->node, node, inc, counter,
			 d->len, m->len, d->service, m->service, d->origin);
		return;
	}
	if (seen(l, id)) {
		sim_fail(s, "node %u: message %u.%u #%u delivered twice", l->node,
			 node, inc, counter);
		return;
	}
	mark_seen(l, id);
	if (counter < l->dpast[si]) {
		sim_fail(s, "node %u: %s: message %u.%u #%u delivered after one "
			 "that follows it (past count %u)", l->node,
			 counter + 1 == l->dpast[si] ? "order" : "FIFO/causal order",
			 node, inc, counter, l->dpast[si]);
		return;
	}
	vc = c->vc + m->vc_off;
	for (uint32_t k = 0; k < m->vc_n; k++) {
		if (vc[k] > l->dpast[k])
			l->dpast[k] = vc[k];
		if (vc[k] > l->know[k])
			l->know[k] = vc[k];
	}
	if (counter + 1 > l->dpast[si])
		l->dpast[si] = counter + 1;
	if (counter + 1 > l->know[si])
		l->know[si] = counter + 1;
	/* The configuration it names must be the one we are in. */
	if (!l->has_reg) {
		sim_fail(s, "node %u: delivery before any configuration", l->node);
		return;
	}
	if (d->transitional) {
		if (!l->in_trans || !ring_conf_id_eq(&d->conf, &l->trans_id)) {
			sim_fail(s, "node %u: delivery in transitional configuration "
				 ID_FMT " that is not the current one", l->node,
				 ID_ARG(d->conf));
			return;
		}
		l->fp_trans += fp_of(id);
		l->n_trans++;
	} else {
		const struct creg *r = &c->cregs[l->cur_reg];

		if (l->in_trans || !ring_conf_id_eq(&d->conf, &r->id)) {
			sim_fail(s, "node %u: delivery in regular configuration "
				 ID_FMT " that is not the current one", l->node,
				 ID_ARG(d->conf));
			return;
		}
		l->fp_reg += fp_of(id);
		l->n_reg++;
	}
	l->log = grow(l->log, &l->cap_log, l->n_log + 1, sizeof(*l->log));
	l->log[l->n_log++] = id;
}

/* ---- configurations ------------------------------------------------------------ */

static int members_ok(struct sim *s, const struct life *l,
		      const struct ring_conf *c)
{
	int self = 0;

	if (c->n_members < 1 || c->n_members > s->o.n) {
		sim_fail(s, "node %u: configuration of %u members", l->node,
			 c->n_members);
		return 0;
	}
	for (unsigned i = 0; i < c->n_members; i++) {
		if (i && c->members[i] <= c->members[i - 1]) {
			sim_fail(s, "node %u: configuration members not ascending",
				 l->node);
			return 0;
		}
		self |= c->members[i] == l->id;
	}
	if (!self) {
		sim_fail(s, "node %u: configuration " ID_FMT " without itself", l->node,
			 ID_ARG(c->id));
		return 0;
	}
	return 1;
}

static int subset(const uint32_t *a, unsigned na, const uint32_t *b, unsigned nb)
{
	for (unsigned i = 0; i < na; i++) {
		unsigned k;

		for (k = 0; k < nb && b[k] != a[i]; k++)
			;
		if (k == nb)
			return 0;
	}
	return 1;
}

static uint32_t creg_find(struct chk *c, const struct ring_conf_id *id)
{
	for (uint32_t i = c->n_cregs; i-- > 0;)
		if (ring_conf_id_eq(&c->cregs[i].id, id))
			return i;
	return UINT32_MAX;
}

/* A regular configuration's id names who formed it: the representative
 * is its lowest member, and rep_inc an incarnation of that daemon that
 * has run (checked unless ids come without incarnations). Each daemon
 * installs a given id once at most, whatever its incarnation (ids are
 * never reused), and every life installs ring seqs in increasing order. */
static int id_ok(struct sim *s, const struct life *l, const struct ring_conf *cf)
{
	struct chk *c = s->chk;
	uint32_t idx = creg_find(c, &cf->id);
	int found = 0;

	if (cf->id.rep != cf->members[0]) {
		sim_fail(s, "node %u: regular configuration " ID_FMT " whose "
			 "representative is not its lowest member %08x", l->node,
			 ID_ARG(cf->id), cf->members[0]);
		return 0;
	}
	for (unsigned i = 0; i < c->n_lives && !s->o.legacy_conf_ids && !found; i++)
		found = c->lives[i].id == cf->id.rep && c->lives[i].inc == cf->id.rep_inc;
	if (!found && !s->o.legacy_conf_ids) {
		sim_fail(s, "node %u: regular configuration " ID_FMT " names an "
			 "incarnation of its representative that never ran", l->node,
			 ID_ARG(cf->id));
		return 0;
	}
	if (idx != UINT32_MAX && (c->cregs[idx].installed >> l->node & 1)) {
		sim_fail(s, "node %u: regular configuration " ID_FMT " installed "
			 "again (a configuration id reused)", l->node, ID_ARG(cf->id));
		return 0;
	}
	if (l->has_reg && cf->id.seq <= c->cregs[l->cur_reg].id.seq) {
		sim_fail(s, "node %u: regular configuration " ID_FMT " after "
			 ID_FMT " (ring seqs must grow)", l->node, ID_ARG(cf->id),
			 ID_ARG(c->cregs[l->cur_reg].id));
		return 0;
	}
	return 1;
}

static void push_lconf(struct life *l, int trans, uint32_t reg)
{
	struct lconf *lc;

	l->confs = grow(l->confs, &l->cap_confs, l->n_confs + 1, sizeof(*l->confs));
	lc = &l->confs[l->n_confs++];
	lc->trans = (uint8_t)trans;
	lc->reg = reg;
	lc->log_start = l->n_log;
	lc->tn = 0;
}

static void vs_record(struct sim *s, struct life *l, uint32_t c2)
{
	struct chk *c = s->chk;
	uint64_t th = 0;

	for (unsigned i = 0; i < l->trans_n; i++)
		th = mix(th + l->trans_m[i]);
	for (uint32_t i = 0; i < c->n_vs; i++) {
		const struct vsrec *v = &c->vs[i];

		if (v->c != l->cur_reg || v->c2 != c2)
			continue;
		if (v->fp_reg != l->fp_reg || v->n_reg != l->n_reg) {
			sim_fail(s, "virtual synchrony: nodes %u and %u went from "
				 ID_FMT " to " ID_FMT " but delivered different sets "
				 "in the first (%u and %u messages)",
				 c->lives[v->life].node, l->node,
				 ID_ARG(c->cregs[v->c].id), ID_ARG(c->cregs[c2].id),
				 v->n_reg, l->n_reg);
			return;
		}
		if (v->t_hash != th) {
			sim_fail(s, "virtual synchrony: nodes %u and %u went from "
				 ID_FMT " to " ID_FMT " with different transitional "
				 "configurations", c->lives[v->life].node, l->node,
				 ID_ARG(c->cregs[v->c].id), ID_ARG(c->cregs[c2].id));
			return;
		}
		if (v->fp_trans != l->fp_trans || v->n_trans != l->n_trans) {
			sim_fail(s, "virtual synchrony: nodes %u and %u delivered "
				 "different sets (%u and %u) in the transitional "
				 "configuration between " ID_FMT " and " ID_FMT,
				 c->lives[v->life].node, l->node, v->n_trans, l->n_trans,
				 ID_ARG(c->cregs[v->c].id), ID_ARG(c->cregs[c2].id));
			return;
		}
		return;
	}
	c->vs = grow(c->vs, &c->cap_vs, c->n_vs + 1, sizeof(*c->vs));
	c->vs[c->n_vs].c = l->cur_reg;
	c->vs[c->n_vs].c2 = c2;
	c->vs[c->n_vs].fp_reg = l->fp_reg;
	c->vs[c->n_vs].fp_trans = l->fp_trans;
	c->vs[c->n_vs].n_reg = l->n_reg;
	c->vs[c->n_vs].n_trans = l->n_trans;
	c->vs[c->n_vs].t_hash = th;
	c->vs[c->n_vs].life = (unsigned)(l - c->lives);
	c->n_vs++;
}

void chk_conf(struct sim *s, unsigned life, const struct ring_conf *cf)
{
	struct chk *c = s->chk;
	struct life *l = &c->lives[life];
	uint32_t idx;

	if (s->failed || !members_ok(s, l, cf))
		return;
	if (cf->transitional) {
		const struct creg *r;

		if (!l->has_reg || l->in_trans) {
			sim_fail(s, "node %u: transitional configuration %s", l->node,
				 l->in_trans ? "twice in a row" : "before any regular one");
			return;
		}
		r = &c->cregs[l->cur_reg];
		if (!subset(cf->members, cf->n_members, r->m, r->n)) {
			sim_fail(s, "node %u: transitional configuration " ID_FMT " not "
				 "contained in the old regular one " ID_FMT, l->node,
				 ID_ARG(cf->id), ID_ARG(r->id));
			return;
		}
		l->in_trans = 1;
		l->trans_id = cf->id;
		l->trans_n = cf->n_members;
		memcpy(l->trans_m, cf->members, cf->n_members * sizeof(uint32_t));
		push_lconf(l, 1, l->cur_reg);
		l->confs[l->n_confs - 1].tn = cf->n_members;
		memcpy(l->confs[l->n_confs - 1].tm, cf->members,
		       cf->n_members * sizeof(uint32_t));
		return;
	}
	idx = creg_find(c, &cf->id);
	if (idx == UINT32_MAX) {
		struct creg *r;

		c->cregs = grow(c->cregs, &c->cap_cregs, c->n_cregs + 1, sizeof(*c->cregs));
		idx = c->n_cregs++;
		r = &c->cregs[idx];
		r->id = cf->id;
		r->installed = 0;
		r->n = cf->n_members;
		memcpy(r->m, cf->members, cf->n_members * sizeof(uint32_t));
	} else {
		const struct creg *r = &c->cregs[idx];

		if (r->n != cf->n_members ||
		    memcmp(r->m, cf->members, r->n * sizeof(uint32_t)) != 0) {
			sim_fail(s, "node %u: regular configuration " ID_FMT " with other "
				 "members than elsewhere", l->node, ID_ARG(cf->id));
			return;
		}
	}
	if (!id_ok(s, l, cf))
		return;
	c->cregs[idx].installed |= 1u << l->node;
	if (l->has_reg) {
		if (!l->in_trans) {
			sim_fail(s, "node %u: regular configuration " ID_FMT " without a "
				 "transitional one before it", l->node, ID_ARG(cf->id));
			return;
		}
		if (!subset(l->trans_m, l->trans_n, cf->members, cf->n_members) ||
		    !ring_conf_id_eq(&l->trans_id, &cf->id)) {
			sim_fail(s, "node %u: transitional configuration " ID_FMT " not "
				 "contained in the new regular one " ID_FMT, l->node,
				 ID_ARG(l->trans_id), ID_ARG(cf->id));
			return;
		}
		vs_record(s, l, idx);
	}
	l->has_reg = 1;
	l->in_trans = 0;
	l->cur_reg = idx;
	l->fp_reg = l->fp_trans = 0;
	l->n_reg = l->n_trans = 0;
	push_lconf(l, 0, idx);
}

/* ---- the end ------------------------------------------------------------------- */

int chk_settled(struct sim *s)
{
	return chk_unsettled(s, NULL, 0) == 0;
}

/* What is still missing, for the failure message: 1 and a description,
 * or 0 when every live daemon has every marker and its own messages. */
int chk_unsettled(struct sim *s, char *why, size_t cap)
{
	struct chk *c = s->chk;

	for (unsigned i = 0; i < c->n_lives; i++) {
		struct life *l = &c->lives[i];
		const struct stream *st = &c->streams[l->stream];

		if (!l->alive)
			continue;
		for (uint32_t k = 0; k < c->n_markers; k++) {
			const struct msgrec *m = &c->msgs[c->markers[k]];
			unsigned sl;

			if (seen(l, c->markers[k]))
				continue;
			/* Markers of daemons that have crashed since do not count. */
			for (sl = 0; sl < c->n_lives; sl++)
				if (c->lives[sl].stream == m->stream)
					break;
			if (sl < c->n_lives && c->lives[sl].alive) {
				if (why)
					snprintf(why, cap, "node %u lacks the last message "
						 "of node %u", l->node, c->streams[m->stream].node);
				return 1;
			}
		}
		for (uint32_t k = 0; k < st->n; k++) {
			if (!seen(l, st->msg[k])) {
				const struct msgrec *m = &c->msgs[st->msg[k]];

				if (why)
					snprintf(why, cap, "node %u lacks its own message "
						 "#%u (service %d%s)", l->node, k, m->service,
						 m->marker ? ", the last one" : "");
				return 1;
			}
		}
	}
	return 0;
}

static int check_total_order(struct sim *s)
{
	struct chk *c = s->chk;
	uint32_t n = c->n_msgs, *indeg = calloc(n + 1, sizeof(uint32_t));
	uint32_t *first = malloc((n + 1) * sizeof(uint32_t));
	uint32_t *next, *to, n_edges = 0, *queue, qh = 0, qt = 0, done = 0;
	uint32_t total = 0;

	if (!indeg || !first)
		abort();
	for (unsigned i = 0; i < c->n_lives; i++)
		total += c->lives[i].n_log;
	next = malloc((total + 1) * sizeof(uint32_t));
	to = malloc((total + 1) * sizeof(uint32_t));
	queue = malloc((n + 1) * sizeof(uint32_t));
	if (!next || !to || !queue)
		abort();
	memset(first, 0xff, (n + 1) * sizeof(uint32_t));
	/* Edges between consecutive agreed or safe deliveries of each life. */
	for (unsigned i = 0; i < c->n_lives; i++) {
		const struct life *l = &c->lives[i];
		uint32_t prev = UINT32_MAX;

		for (uint32_t k = 0; k < l->n_log; k++) {
			uint32_t id = l->log[k];

			if (c->msgs[id].service < RING_AGREED)
				continue;
			if (prev != UINT32_MAX) {
				to[n_edges] = id;
				next[n_edges] = first[prev];
				first[prev] = n_edges++;
				indeg[id]++;
			}
			prev = id;
		}
	}
	for (uint32_t i = 0; i < n; i++)
		if (!indeg[i])
			queue[qt++] = i;
	while (qh < qt) {
		uint32_t v = queue[qh++];

		done++;
		for (uint32_t e = first[v]; e != UINT32_MAX; e = next[e])
			if (--indeg[to[e]] == 0)
				queue[qt++] = to[e];
	}
	free(indeg);
	free(first);
	free(next);
	free(to);
	free(queue);
	if (done != n) {
		sim_fail(s, "total order: the agreed/safe delivery orders of the "
			 "daemons contradict each other (%u messages in a cycle)",
			 n - done);
		return -1;
	}
	return 0;
}

static int check_self_delivery(struct sim *s)
{
	struct chk *c = s->chk;

	for (unsigned i = 0; i < c->n_lives; i++) {
		const struct life *l = &c->lives[i];
		const struct stream *st = &c->streams[l->stream];

		if (!l->alive)
			continue;
		for (uint32_t k = 0; k < st->n; k++) {
			if (!seen(l, st->msg[k])) {
				sim_fail(s, "self delivery: node %u never delivered its "
					 "own message #%u", l->node, k);
				return -1;
			}
		}
	}
	return 0;
}

/* Safe delivery, per regular configuration. */
static int check_safe(struct sim *s)
{
	struct chk *c = s->chk;
	uint8_t *mark = calloc(c->n_msgs / 8 + 1, 1);
	uint32_t *safe = malloc((c->n_msgs + 1) * sizeof(uint32_t));
	int rc = 0;

	if (!mark || !safe)
		abort();
	for (uint32_t reg = 0; reg < c->n_cregs && !rc; reg++) {
		uint32_t n_safe = 0;

		/* Safe messages delivered in reg by anyone (regular part). */
		for (unsigned i = 0; i < c->n_lives; i++) {
			const struct life *l = &c->lives[i];

			for (uint32_t j = 0; j < l->n_confs; j++) {
				uint32_t end;

				if (l->confs[j].trans || l->confs[j].reg != reg)
					continue;
				end = j + 1 < l->n_confs ? l->confs[j + 1].log_start : l->n_log;
				for (uint32_t k = l->confs[j].log_start; k < end; k++) {
					uint32_t id = l->log[k];

					if (c->msgs[id].service == RING_SAFE &&
					    !(mark[id / 8] >> (id % 8) & 1)) {
						mark[id / 8] |= (uint8_t)(1u << (id % 8));
						safe[n_safe++] = id;
					}
				}
			}
		}
		for (uint32_t k = 0; k < n_safe; k++)
			mark[safe[k] / 8] = 0;
		if (!n_safe)
			continue;
		/* Every life that installed reg and did not crash in it. */
		for (unsigned i = 0; i < c->n_lives && !rc; i++) {
			const struct life *l = &c->lives[i];

			for (uint32_t j = 0; j < l->n_confs && !rc; j++) {
				uint32_t end, k2;

				if (l->confs[j].trans || l->confs[j].reg != reg)
					continue;
				/* Its part: the regular configuration and the
				 * transitional one after it. */
				for (k2 = j + 1; k2 < l->n_confs && l->confs[k2].trans; k2++)
					;
				if (k2 == l->n_confs && !l->alive)
					break; /* crashed before leaving it */
				end = k2 < l->n_confs ? l->confs[k2].log_start : l->n_log;
				for (uint32_t k = l->confs[j].log_start; k < end; k++)
					mark[l->log[k] / 8] |= (uint8_t)(1u << (l->log[k] % 8));
				for (uint32_t k = 0; k < n_safe && !rc; k++) {
					if (!(mark[safe[k] / 8] >> (safe[k] % 8) & 1)) {
						const struct msgrec *m = &c->msgs[safe[k]];

						sim_fail(s, "safe delivery: message %u.%u #%u "
							 "delivered in " ID_FMT " but not by node %u",
							 c->streams[m->stream].node,
							 c->streams[m->stream].inc, m->counter,
							 ID_ARG(c->cregs[reg].id), l->node);
						rc = -1;
					}
				}
				for (uint32_t k = l->confs[j].log_start; k < end; k++)
					mark[l->log[k] / 8] = 0;
			}
		}
	}
	free(mark);
	free(safe);
	return rc;
}

/* The end of a life's part of the regular configuration at confs[j]: the
 * index of the next regular configuration, or n_confs. */
static uint32_t part_end(const struct life *l, uint32_t j)
{
	uint32_t k2;

	for (k2 = j + 1; k2 < l->n_confs && l->confs[k2].trans; k2++)
		;
	return k2;
}

static uint32_t conf_log_end(const struct life *l, uint32_t k)
{
	return k < l->n_confs ? l->confs[k].log_start : l->n_log;
}

static int in_members(uint32_t id, const uint32_t *m, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (m[i] == id)
			return 1;
	return 0;
}

/* No holes (EVS), per regular configuration. */
static int check_holes(struct sim *s)
{
	struct chk *c = s->chk;
	uint8_t *mark = calloc(c->n_msgs + 1, 1); /* 1: regular, 2: transitional */
	int rc = 0;

	if (!mark)
		abort();
	for (uint32_t reg = 0; reg < c->n_cregs && !rc; reg++) {
		for (unsigned i = 0; i < c->n_lives && !rc; i++) {
			const struct life *l = &c->lives[i];

			for (uint32_t j = 0; j < l->n_confs && !rc; j++) {
				uint32_t k2, tstart, end;
				const uint32_t *tm = NULL;
				unsigned tn = 0;

				if (l->confs[j].trans || l->confs[j].reg != reg)
					continue;
				k2 = part_end(l, j);
				tstart = conf_log_end(l, j + 1);
				end = conf_log_end(l, k2);
				if (j + 1 < l->n_confs && l->confs[j + 1].trans) {
					tm = l->confs[j + 1].tm;
					tn = l->confs[j + 1].tn;
				}
				for (uint32_t k = l->confs[j].log_start; k < end; k++)
					mark[l->log[k]] = k < tstart ? 1 : 2;
				/* Against every other life's part of reg. */
				for (unsigned i2 = 0; i2 < c->n_lives && !rc; i2++) {
					const struct life *o = &c->lives[i2];

					if (i2 == i)
						continue;
					for (uint32_t j2 = 0; j2 < o->n_confs && !rc; j2++) {
						uint32_t e2, miss = UINT32_MAX;

						if (o->confs[j2].trans || o->confs[j2].reg != reg)
							continue;
						e2 = conf_log_end(o, part_end(o, j2));
						for (uint32_t k = o->confs[j2].log_start; k < e2; k++) {
							uint32_t id = o->log[k];
							const struct msgrec *m;

							if (!mark[id]) {
								if (miss == UINT32_MAX)
									miss = id;
								continue;
							}
							if (miss == UINT32_MAX)
								continue;
							/* l delivered id but not miss, before it
							 * in o's order. */
							m = &c->msgs[miss];
							if (mark[id] == 2 && tm &&
							    !in_members(sim_id(s, c->streams[m->stream].node),
									tm, tn)) {
								/* a gap of its group: every
								 * later missing one is checked
								 * on its own */
								miss = UINT32_MAX;
								for (uint32_t q = o->confs[j2].log_start;
								     q < k; q++) {
									uint32_t id2 = o->log[q];
									const struct msgrec *m2 = &c->msgs[id2];

									if (!mark[id2] &&
									    in_members(sim_id(s, c->streams[m2->stream].node),
										       tm, tn)) {
										miss = id2;
										m = m2;
										break;
									}
								}
								if (miss == UINT32_MAX)
									continue;
							}
							sim_fail(s, "no holes: node %u delivered %u.%u "
								 "#%u in %s " ID_FMT " but not %u.%u #%u, "
								 "which node %u delivered before it there",
								 l->node, c->streams[c->msgs[id].stream].node,
								 c->streams[c->msgs[id].stream].inc,
								 c->msgs[id].counter,
								 mark[id] == 2 ? "the transitional "
								 "configuration after" : "regular "
								 "configuration", ID_ARG(c->cregs[reg].id),
								 c->streams[m->stream].node,
								 c->streams[m->stream].inc, m->counter,
								 o->node);
							rc = -1;
							break;
						}
					}
				}
				for (uint32_t k = l->confs[j].log_start; k < end; k++)
					mark[l->log[k]] = 0;
			}
		}
	}
	free(mark);
	return rc;
}

/* The final configuration, after convergence. */
static int check_final_conf(struct sim *s)
{
	struct chk *c = s->chk;
	const struct life *first = NULL;

	for (unsigned i = 0; i < c->n_lives; i++) {
		const struct life *l = &c->lives[i];

		if (!l->alive)
			continue;
		if (!l->has_reg || l->in_trans) {
			sim_fail(s, "final configuration: node %u is not in a "
				 "regular configuration", l->node);
			return -1;
		}
		if (!first) {
			first = l;
			continue;
		}
		if (l->cur_reg != first->cur_reg) {
			sim_fail(s, "final configuration: nodes %u and %u end in "
				 ID_FMT " and " ID_FMT, first->node, l->node,
				 ID_ARG(c->cregs[first->cur_reg].id),
				 ID_ARG(c->cregs[l->cur_reg].id));
			return -1;
		}
		if (l->fp_reg != first->fp_reg || l->n_reg != first->n_reg) {
			sim_fail(s, "virtual synchrony: nodes %u and %u delivered "
				 "different sets (%u and %u messages) in the final "
				 "configuration " ID_FMT, first->node, l->node,
				 first->n_reg, l->n_reg, ID_ARG(c->cregs[l->cur_reg].id));
			return -1;
		}
	}
	/* Liveness of delivery: what a live daemon submitted in the final
	 * configuration reached every live daemon. */
	for (unsigned i = 0; i < c->n_lives; i++) {
		const struct life *l = &c->lives[i];
		const struct stream *st = &c->streams[l->stream];

		if (!l->alive)
			continue;
		for (uint32_t k = 0; k < st->n; k++) {
			const struct msgrec *m = &c->msgs[st->msg[k]];

			if (m->sent_nconf != l->n_confs)
				continue;
			for (unsigned i2 = 0; i2 < c->n_lives; i2++) {
				const struct life *o = &c->lives[i2];

				if (o->alive && !seen(o, st->msg[k])) {
					sim_fail(s, "liveness: node %u never delivered "
						 "message %u.%u #%u, submitted in the final "
						 "configuration " ID_FMT, o->node, l->node,
						 l->inc, k, ID_ARG(c->cregs[l->cur_reg].id));
					return -1;
				}
			}
		}
	}
	return 0;
}

int chk_final(struct sim *s)
{
	if (s->failed)
		return -1;
	if (check_total_order(s) || check_self_delivery(s) || check_safe(s) ||
	    check_holes(s) || check_final_conf(s))
		return -1;
	return 0;
}
