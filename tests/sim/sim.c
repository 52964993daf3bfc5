/*
 * sim.c - the simulator's network, clocks, daemons, faults and workload
 * (sim.h). One event heap ordered by (time, insertion number) drives
 * everything; one PRNG supplies every random choice in event order.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "ring/ring_log.h"
#include "ring/ring_pkt.h"
#include "sim_int.h"

/* ---- randomness ----------------------------------------------------------- */

static uint64_t splitmix(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static void rng_seed(uint64_t st[4], uint64_t seed)
{
	for (int i = 0; i < 4; i++)
		st[i] = splitmix(&seed);
}

static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static uint64_t xoshiro(uint64_t st[4])
{
	uint64_t r = rotl(st[1] * 5, 7) * 9, t = st[1] << 17;

	st[2] ^= st[0];
	st[3] ^= st[1];
	st[1] ^= st[2];
	st[0] ^= st[3];
	st[2] ^= t;
	st[3] = rotl(st[3], 45);
	return r;
}

uint64_t sim_rand(struct sim *s)
{
	return xoshiro(s->rng);
}

uint64_t sim_below(struct sim *s, uint64_t n)
{
	return n ? sim_rand(s) % n : 0;
}

static uint64_t opt_below(uint64_t st[4], uint64_t n)
{
	return n ? xoshiro(st) % n : 0;
}

/* ---- options -------------------------------------------------------------- */

static uint32_t pow2_at_least(uint32_t v)
{
	uint32_t p = 64;

	while (p < v)
		p <<= 1;
	return p;
}

void sim_opts_plain(uint64_t seed, unsigned n, struct sim_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->seed = seed;
	o->n = n;
	ring_config_defaults(&o->ring);
	o->ring.token_timeout_ms = 200;
	o->ring.hurry_ms = 50;
	o->ring.join_ms = 20;
	o->ring.consensus_ms = 300;
	o->ring.merge_ms = 100;
	o->ring.token_hold_ms = 5;
	o->ring.store_slots = 1024;
	o->ring.send_queue_max = 256;
	o->delay_us = 100;
	o->jitter_us = 0;
	o->size_max = 200;
	o->burst_max = 10;
	o->fault_ms = 1000;
	o->bound_ms = 5000;
}

void sim_opts_from_seed(uint64_t seed, struct sim_opts *o)
{
	static const uint32_t windows[] = { 8, 16, 40, 80, 160 };
	static const uint32_t payloads[] = { 64, 200, 1400 };
	static const unsigned sizes[] = { 1, 2, 2, 3, 3, 3, 3, 4, 4, 4, 5, 5, 5, 5,
					  6, 6, 7, 7, 8, 9 };
	struct ring_config *c = &o->ring;
	uint64_t st[4];
	uint32_t l;

	rng_seed(st, seed ^ 0x5eed0f0f5eed0f0full);
	memset(o, 0, sizeof(*o));
	o->seed = seed;
	o->n = sizes[opt_below(st, sizeof(sizes) / sizeof(sizes[0]))];
	ring_config_defaults(c);
	c->accelerated = (int)opt_below(st, 2);
	c->token_timeout_ms = 150 + (uint32_t)opt_below(st, 251);
	c->hurry_ms = c->token_timeout_ms / 5 + (uint32_t)opt_below(st, c->token_timeout_ms / 4);
	c->join_ms = 10 + (uint32_t)opt_below(st, 31);
	c->consensus_ms = c->token_timeout_ms * 6 / 5 + (uint32_t)opt_below(st, c->token_timeout_ms);
	c->merge_ms = 50 + (uint32_t)opt_below(st, 151);
	c->token_hold_ms = (uint32_t)opt_below(st, 6);
	c->window = windows[opt_below(st, 5)];
	c->personal_window = 1 + (uint32_t)opt_below(st, c->window < 24 ? c->window : 24);
	c->accel_window = (uint32_t)opt_below(st, c->personal_window + 1);
	c->store_slots = pow2_at_least(4 * c->window) << opt_below(st, 2);
	c->send_queue_max = 16 + (uint32_t)opt_below(st, 241);
	c->max_payload = payloads[opt_below(st, 3)];
	o->size_max = c->max_payload;

	l = (uint32_t)opt_below(st, 10);
	o->loss_ppm = l < 4 ? (uint32_t)opt_below(st, 20001) :
		      l < 8 ? (uint32_t)opt_below(st, 100001) :
			      (uint32_t)opt_below(st, 300001);
	o->dup_ppm = (uint32_t)opt_below(st, 50001);
	o->delay_us = 20 + (uint32_t)opt_below(st, 2000);
	o->jitter_us = (uint32_t)opt_below(st, 3001);
	o->drift_ppm = (int32_t)opt_below(st, 50001);
	o->fault_every_ms = opt_below(st, 10) < 3 ? 0 : 100 + (uint32_t)opt_below(st, 901);
	o->max_crashed = o->n / 2;
	o->bursts_per_s = 1 + (uint32_t)opt_below(st, 20);
	o->burst_max = 1 + (uint32_t)opt_below(st, 30);
	o->fault_ms = 1000 + (int64_t)opt_below(st, 3001);
	o->bound_ms = 0; /* sim_new computes it from the timeouts */
	/* Drawn last: the parameters above are those of earlier versions. */
	o->trunc_ppm = opt_below(st, 2) ? (uint32_t)opt_below(st, 20001) : 0;
	o->late_ppm = opt_below(st, 2) ? (uint32_t)opt_below(st, 5001) : 0;
}

/* The liveness bound (docs/ring-protocol.md, "Liveness"): after the last
 * fault heals, a configuration of every live daemon within this. */
static int64_t liveness_bound(const struct sim_opts *o)
{
	const struct ring_config *c = &o->ring;

	return 4 * (int64_t)c->token_timeout_ms + 6 * (int64_t)c->consensus_ms +
	       3 * (int64_t)c->merge_ms + 1000;
}

/* ---- events --------------------------------------------------------------- */

static int ev_before(const struct sim_ev *a, const struct sim_ev *b)
{
	return a->t < b->t || (a->t == b->t && a->seq < b->seq);
}

static void ev_push(struct sim *s, struct sim_ev e)
{
	size_t i;

	if (s->hn == s->hcap) {
		s->hcap = s->hcap ? s->hcap * 2 : 1024;
		s->heap = realloc(s->heap, s->hcap * sizeof(*s->heap));
		if (!s->heap)
			abort();
	}
	e.seq = s->evseq++;
	i = s->hn++;
	while (i > 0) {
		size_t p = (i - 1) / 2;

		if (!ev_before(&e, &s->heap[p]))
			break;
		s->heap[i] = s->heap[p];
		i = p;
	}
	s->heap[i] = e;
}

static struct sim_ev ev_pop(struct sim *s)
{
	struct sim_ev top = s->heap[0], last = s->heap[--s->hn];
	size_t i = 0;

	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= s->hn)
			break;
		if (c + 1 < s->hn && ev_before(&s->heap[c + 1], &s->heap[c]))
			c++;
		if (!ev_before(&s->heap[c], &last))
			break;
		s->heap[i] = s->heap[c];
		i = c;
	}
	if (s->hn)
		s->heap[i] = last;
	return top;
}

static void push_simple(struct sim *s, int64_t t, int type, unsigned node)
{
	struct sim_ev e;

	memset(&e, 0, sizeof(e));
	e.t = t;
	e.type = (uint8_t)type;
	e.node = (uint8_t)node;
	ev_push(s, e);
}

/* ---- trace, log, failure ---------------------------------------------------- */

void sim_trace(struct sim *s, uint64_t a, uint64_t b)
{
	uint64_t h = s->trace ^ (a * 0x9e3779b97f4a7c15ull);

	h = (h ^ (h >> 29)) * 0xbf58476d1ce4e5b9ull;
	h ^= b * 0x94d049bb133111ebull;
	s->trace = h ^ (h >> 32);
}

void sim_log(struct sim *s, const char *fmt, ...)
{
	va_list ap;

	if (!s->o.verbose)
		return;
	printf("%10.3f ", (double)s->now / 1000.0);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

void sim_fail(struct sim *s, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (s->failed)
		return;
	s->failed = 1;
	n = snprintf(s->err, sizeof(s->err), "t=%.3f ms: ", (double)s->now / 1000.0);
	va_start(ap, fmt);
	vsnprintf(s->err + n, sizeof(s->err) - (size_t)n, fmt, ap);
	va_end(ap);
	sim_log(s, "FAIL %s", s->err);
}

const char *sim_error(const struct sim *s)
{
	return s->err;
}

uint64_t sim_trace_hash(const struct sim *s)
{
	return s->trace;
}

/* ---- clocks ------------------------------------------------------------------ */

static int64_t local_us(const struct sim_node *n, int64_t t)
{
	return n->offset_us + t + t * n->drift_ppm / 1000000;
}

static int64_t local_ms(const struct sim_node *n)
{
	return local_us(n, n->s->now) / 1000;
}

/* The first global time at which node n's clock reads ms. */
static int64_t global_for_local(const struct sim_node *n, int64_t ms)
{
	int64_t want = ms * 1000 - n->offset_us, t;

	if (want <= 0)
		return 0;
	t = want * 1000000 / (1000000 + n->drift_ppm);
	while (t > 0 && local_us(n, t - 1) >= ms * 1000)
		t--;
	while (local_us(n, t) < ms * 1000)
		t++;
	return t;
}

/* ---- daemons ------------------------------------------------------------------- */

static void io_send(void *ctx, uint32_t to, const uint8_t *pkt, size_t len);
static void io_deliver(void *ctx, const struct ring_delivery *d);
static void io_conf(void *ctx, const struct ring_conf *c);
static void io_event(void *ctx, const struct ring_event *e);

static void schedule_wake(struct sim_node *n)
{
	struct sim *s = n->s;
	int64_t d, t;
	struct sim_ev e;

	if (!n->r)
		return;
	d = ring_next_deadline(n->r);
	if (d < 0)
		return;
	t = global_for_local(n, d);
	if (t < s->now)
		t = s->now;
	if (n->wake_at >= 0 && n->wake_at <= t)
		return;
	n->wake_at = t;
	memset(&e, 0, sizeof(e));
	e.t = t;
	e.type = EV_WAKE;
	e.node = (uint8_t)n->i;
	e.gen = ++n->wake_gen;
	ev_push(s, e);
}

static int random_service(struct sim *s)
{
	static const int svc[] = { RING_UNRELIABLE, RING_RELIABLE, RING_FIFO,
				   RING_CAUSAL, RING_AGREED, RING_AGREED,
				   RING_SAFE, RING_SAFE };

	return svc[sim_below(s, 8)];
}

static size_t random_size(struct sim *s)
{
	uint32_t max = s->o.size_max < s->o.ring.max_payload ? s->o.size_max :
			s->o.ring.max_payload;
	uint64_t k = sim_below(s, 10);

	if (max < 12)
		max = 12;
	if (k < 6)
		return 12 + sim_below(s, (max < 100 ? max : 100) - 11);
	if (k < 9)
		return 12 + sim_below(s, max - 11);
	return max;
}

/* Submits what the workload wants while the queue takes it. */
static void feed(struct sim_node *n, int marker)
{
	struct sim *s = n->s;

	while (n->r && n->want > 0) {
		int svc = n->want_service >= 0 ? n->want_service : random_service(s);
		size_t len = random_size(s);
		int rc;

		chk_next_msg(s, n->life, svc, len, s->msgbuf);
		rc = ring_submit(n->r, local_ms(n), s->msgbuf, len,
				 (enum ring_service)svc);
		if (rc == RING_EAGAIN)
			break;
		if (rc != 0) {
			sim_fail(s, "node %u: ring_submit returned %d", n->i, rc);
			return;
		}
		chk_sent(s, n->life, svc, len, marker);
		s->st.submitted++;
		n->want--;
	}
}

static void after_input(struct sim_node *n)
{
	feed(n, 0);
	schedule_wake(n);
}

static void node_start(struct sim *s, unsigned i)
{
	struct sim_node *n = &s->nodes[i];
	struct ring_config c = s->o.ring;
	struct ring_io io = { n, io_send, io_deliver, io_conf, io_event };
	int rc;

	n->inc++;
	c.my_id = n->id;
	c.incarnation = n->inc;
	c.ring_seq_base = n->saved_ring_seq + 1;
	c.n_members = s->o.n;
	for (unsigned k = 0; k < s->o.n; k++)
		c.members[k] = s->nodes[k].id;
	n->life = chk_life_begin(s, i, n->inc);
	n->wake_at = -1;
	n->wake_gen++;
	n->want = 0;
	rc = ring_create(&c, &io, local_ms(n), &n->r);
	if (rc != 0) {
		char err[200];

		ring_config_check(&c, err, sizeof(err));
		sim_fail(s, "node %u: ring_create: %d (%s)", i, rc, err);
		return;
	}
	sim_log(s, "node %u (%08x) starts, incarnation %u", i, n->id, n->inc);
	sim_trace(s, 0x5747, ((uint64_t)i << 32) | n->inc);
	after_input(n);
}

void sim_crash(struct sim *s, unsigned i)
{
	struct sim_node *n = &s->nodes[i];

	if (!n->r)
		return;
	sim_log(s, "node %u crashes", i);
	sim_trace(s, 0xc4a5, i);
	/* Nothing is saved now: the shell saved the ring seq at the last
	 * configuration change only (io_conf; ring.h, ring_seq_base). */
	ring_destroy(n->r);
	n->r = NULL;
	n->wake_at = -1;
	n->wake_gen++;
	n->want = 0;
	chk_life_end(s, n->life);
	s->st.crashes++;
}

void sim_restart(struct sim *s, unsigned i)
{
	if (s->nodes[i].r)
		return;
	node_start(s, i);
}

/* The disk is lost with the crash: nothing saved survives. */
static void lose_state(struct sim *s, unsigned i)
{
	s->nodes[i].saved_ring_seq = 0;
	s->st.lost_state++;
	sim_trace(s, 0x105e, i);
	sim_log(s, "node %u lost its saved state", i);
}

void sim_restart_lost(struct sim *s, unsigned i)
{
	if (s->nodes[i].r)
		return;
	lose_state(s, i);
	node_start(s, i);
}

/* ---- network -------------------------------------------------------------------- */

static int link_up(struct sim *s, unsigned from, unsigned to)
{
	return s->comp[from] == s->comp[to] && !s->blocked[from][to];
}

static struct sim_pkt *pkt_new(const uint8_t *data, size_t len)
{
	struct sim_pkt *p = malloc(sizeof(*p) + len);

	if (!p)
		abort();
	p->refs = 1;
	p->len = (uint32_t)len;
	if (len)
		memcpy(p->data, data, len);
	return p;
}

/* Queues packet p for daemon `to`, extra_us later than usual. */
static void pkt_push(struct sim *s, unsigned from, unsigned to,
		     struct sim_pkt *p, int64_t extra_us, int late)
{
	struct sim_ev e;

	memset(&e, 0, sizeof(e));
	e.t = s->now + s->o.delay_us + (int64_t)sim_below(s, s->o.jitter_us + 1) +
	      s->nodes[from].slow_us + s->nodes[to].slow_us + extra_us;
	e.type = EV_PKT;
	e.node = (uint8_t)to;
	e.from = (uint8_t)from;
	e.late = (uint8_t)late;
	e.p = p;
	p->refs++;
	ev_push(s, e);
}

static void send_to(struct sim *s, unsigned from, unsigned to,
		    struct sim_pkt *p, int type)
{
	unsigned copies = 1;

	if (!s->nodes[to].r || !link_up(s, from, to) ||
	    s->now < s->burst_until[from][to] ||
	    (s->filter && s->filter(s->fctx, s, from, to, type, p->data, p->len)) ||
	    sim_below(s, 1000000) < s->loss_ppm) {
		s->st.packets_lost++;
		return;
	}
	if (sim_below(s, 1000000) < s->dup_ppm)
		copies = 2;
	for (unsigned c = 0; c < copies; c++) {
		/* The draws only where the fault is on: runs without it
		 * draw what they always drew. */
		if (s->trunc_ppm && sim_below(s, 1000000) < s->trunc_ppm) {
			/* A copy cut short anywhere, header included. */
			struct sim_pkt *t = pkt_new(p->data, (size_t)sim_below(s, p->len));

			s->st.truncated++;
			pkt_push(s, from, to, t, 0, 0);
			if (--t->refs == 0)
				free(t);
			continue;
		}
		if (s->late_ppm && sim_below(s, 1000000) < s->late_ppm) {
			/* Held back 2 to 20 token timeouts: by then the ring
			 * has turned many times, and often changed. */
			s->st.late++;
			pkt_push(s, from, to, p, 1000 * (int64_t)s->o.ring.token_timeout_ms *
				 (int64_t)(2 + sim_below(s, 19)), 1);
			continue;
		}
		pkt_push(s, from, to, p, 0, 0);
	}
}

void sim_inject(struct sim *s, unsigned from, unsigned to, const uint8_t *pkt,
		size_t len)
{
	struct sim_pkt *p = pkt_new(pkt, len);

	sim_trace(s, 0x1a7e, ((uint64_t)from << 32) | to);
	sim_log(s, "late %s from node %u to node %u, %zu bytes",
		ring_pkt_type_name(len > 3 ? pkt[3] : 0), from, to, len);
	s->st.late++;
	if (s->nodes[to].r)
		pkt_push(s, from, to, p, 0, 0);
	if (--p->refs == 0)
		free(p);
}

static void io_send(void *ctx, uint32_t to, const uint8_t *pkt, size_t len)
{
	struct sim_node *n = ctx;
	struct sim *s = n->s;
	struct sim_pkt *p = pkt_new(pkt, len);
	int type = len > 3 ? pkt[3] : 0;

	s->st.packets++;
	{
		uint64_t w = 0;

		if (len >= 36)
			memcpy(&w, pkt + 28, 8);
		sim_trace(s, ((uint64_t)n->i << 40) | ((uint64_t)type << 32) | to,
			  len ^ w);
	}
	if (s->o.verbose > 1) {
		static struct ring_token t;
		struct ring_data d;
		char what[96] = "";

		if (type == RING_PKT_TOKEN && ring_pkt_get_token(pkt, len, &t) == 0)
			snprintf(what, sizeof(what), " (visit %llu seq %llu aru %llu by %08x, "
				 "fcc %u, %u requests%s)", (unsigned long long)t.token_seq,
				 (unsigned long long)t.seq, (unsigned long long)t.aru,
				 t.aru_id, t.fcc, t.rtr_n,
				 t.flags & RING_TOKEN_INSTALLED ? ", installed" : "");
		else if (type == RING_PKT_DATA && ring_pkt_get_data(pkt, len, &d) == 0)
			snprintf(what, sizeof(what), " (seq %llu%s)", (unsigned long long)d.seq,
				 d.flags & RING_DATA_RECOVERED ? ", recovered" : "");
		sim_log(s, "node %u sends %s to %08x, %zu bytes%s", n->i,
			ring_pkt_type_name(type), to, len, what);
	}
	for (unsigned j = 0; j < s->o.n; j++) {
		if (j == n->i || (to != RING_BROADCAST && s->nodes[j].id != to))
			continue;
		send_to(s, n->i, j, p, type);
	}
	if (--p->refs == 0)
		free(p);
}

static void io_deliver(void *ctx, const struct ring_delivery *d)
{
	struct sim_node *n = ctx;
	struct ring_delivery dd = *d;
	uint32_t w = (uint32_t)d->len;

	if (d->len >= 8)
		memcpy(&w, d->data + 4, 4);
	n->s->st.deliveries++;
	sim_trace(n->s, ((uint64_t)n->i << 48) | ((uint64_t)d->conf.rep_inc << 32) |
		  d->conf.seq, ((uint64_t)d->origin << 32) | w);
	if (n->s->o.legacy_conf_ids)
		dd.conf.rep_inc = 0;
	chk_deliver(n->s, n->life, &dd);
}

static void io_conf(void *ctx, const struct ring_conf *c)
{
	struct sim_node *n = ctx;
	struct sim *s = n->s;
	struct ring_conf cc = *c;

	if (c->transitional)
		s->st.confs_trans++;
	else
		s->st.confs_regular++;
	sim_trace(s, ((uint64_t)n->i << 48) | ((uint64_t)c->transitional << 40) |
		  ((uint64_t)c->id.rep_inc << 16) | c->n_members,
		  ((uint64_t)c->id.rep << 32) | c->id.seq);
	if (s->o.verbose) {
		char buf[SIM_MAX_NODES * 12 + 8];
		size_t k = 0;

		for (unsigned m = 0; m < c->n_members && k + 12 < sizeof(buf); m++)
			k += (size_t)snprintf(buf + k, sizeof(buf) - k, " %08x",
					      c->members[m]);
		buf[k] = 0;
		sim_log(s, "node %u: %s configuration %08x/%u.%u:%s", n->i,
			c->transitional ? "transitional" : "regular", c->id.rep,
			c->id.rep_inc, c->id.seq, buf);
	}
	/* What the documented shell persists: ring_status.high_ring_seq,
	 * at each configuration change (ring.h, ring_seq_base). */
	if (n->r && !c->transitional) {
		struct ring_status st;

		ring_get_status(n->r, &st);
		if (st.high_ring_seq > n->saved_ring_seq)
			n->saved_ring_seq = st.high_ring_seq;
	}
	if (s->o.legacy_conf_ids)
		cc.id.rep_inc = 0;
	chk_conf(s, n->life, &cc);
}

static void io_event(void *ctx, const struct ring_event *e)
{
	struct sim_node *n = ctx;
	char buf[200];

	if (n->s->o.verbose && (e->type != RING_EV_DROP || n->s->o.verbose > 1))
		sim_log(n->s, "node %u: %s", n->i, ring_event_format(e, buf, sizeof(buf)));
}

/* ---- faults and workload ----------------------------------------------------------- */

void sim_partition(struct sim *s, const unsigned *component)
{
	for (unsigned i = 0; i < s->o.n; i++) {
		s->comp[i] = component[i];
		sim_trace(s, 0x9a47, ((uint64_t)i << 32) | component[i]);
	}
	s->st.faults++;
	if (s->o.verbose) {
		char buf[64];
		size_t k = 0;

		for (unsigned i = 0; i < s->o.n; i++)
			k += (size_t)snprintf(buf + k, sizeof(buf) - k, "%u", component[i]);
		sim_log(s, "partition %s", buf);
	}
}

void sim_heal(struct sim *s)
{
	memset(s->comp, 0, sizeof(s->comp));
	memset(s->blocked, 0, sizeof(s->blocked));
	memset(s->burst_until, 0, sizeof(s->burst_until));
	sim_trace(s, 0x4ea1, 0);
	sim_log(s, "network healed");
}

void sim_block(struct sim *s, unsigned from, unsigned to, int blocked)
{
	s->blocked[from][to] = (uint8_t)blocked;
	sim_trace(s, 0xb10c, ((uint64_t)from << 32) | to);
	sim_log(s, "link %u -> %u %s", from, to, blocked ? "blocked" : "open");
}

void sim_set_loss(struct sim *s, uint32_t loss_ppm)
{
	s->loss_ppm = loss_ppm;
	sim_trace(s, 0x1055, loss_ppm);
	sim_log(s, "loss %u ppm", loss_ppm);
}

void sim_set_slow(struct sim *s, unsigned i, uint32_t extra_us)
{
	s->nodes[i].slow_us = extra_us;
	sim_trace(s, 0x5104, ((uint64_t)i << 32) | extra_us);
	sim_log(s, "node %u slow by %u us", i, extra_us);
}

void sim_set_trunc(struct sim *s, uint32_t trunc_ppm)
{
	s->trunc_ppm = trunc_ppm;
	sim_trace(s, 0x7a7c, trunc_ppm);
	sim_log(s, "truncation %u ppm", trunc_ppm);
}

void sim_link_burst(struct sim *s, unsigned from, unsigned to, uint32_t ms)
{
	for (unsigned a = 0; a < s->o.n; a++)
		for (unsigned b = 0; b < s->o.n; b++)
			if ((from == SIM_ALL || from == a) && (to == SIM_ALL || to == b))
				s->burst_until[a][b] = s->now + 1000 * (int64_t)ms;
	s->st.link_bursts++;
	sim_trace(s, 0xb425, ((uint64_t)from << 40) | ((uint64_t)to << 32) | ms);
	sim_log(s, "loss burst on %d -> %d for %u ms", from == SIM_ALL ? -1 : (int)from,
		to == SIM_ALL ? -1 : (int)to, ms);
}

void sim_set_filter(struct sim *s, sim_filter_fn f, void *ctx)
{
	s->filter = f;
	s->fctx = ctx;
}

void sim_submit(struct sim *s, unsigned i, unsigned count, int service)
{
	struct sim_node *n = &s->nodes[i];

	if (!n->r)
		return;
	n->want += count;
	n->want_service = service;
	after_input(n);
}

/* A crash: the daemon comes back (eight times in ten) after a while,
 * and one time in four its saved state is lost with it. */
static void crash_for_a_while(struct sim *s, unsigned i)
{
	sim_crash(s, i);
	if (sim_below(s, 4) == 0)
		lose_state(s, i);
	if (sim_below(s, 10) < 8)
		push_simple(s, s->now + 1000 * (int64_t)(s->o.ring.token_timeout_ms / 10 +
			    sim_below(s, 3 * s->o.ring.token_timeout_ms)), EV_RESTART, i);
}

static void random_fault(struct sim *s)
{
	uint64_t k = sim_below(s, 100);
	unsigned n = s->o.n, crashed = 0;

	for (unsigned i = 0; i < n; i++)
		crashed += !s->nodes[i].r;
	if (k < 4 && crashed == 0) {
		/* More than half of the daemons at once, up to all. */
		unsigned want = n / 2 + 1 + (unsigned)sim_below(s, n - n / 2);

		s->st.mass_crashes++;
		sim_log(s, "%u of %u daemons crash at once", want, n);
		while (want > 0) {
			unsigned i = (unsigned)sim_below(s, n);

			if (!s->nodes[i].r)
				continue;
			crash_for_a_while(s, i);
			want--;
		}
	} else if (k < 12) {
		/* A correlated loss burst: one link, or every link into or
		 * out of a daemon, loses everything for a while. */
		unsigned a = (unsigned)sim_below(s, n), b = (unsigned)sim_below(s, n);
		uint32_t ms = s->o.ring.token_timeout_ms / 4 +
			      (uint32_t)sim_below(s, 4 * s->o.ring.token_timeout_ms);
		uint64_t how = sim_below(s, 3);

		sim_link_burst(s, how == 1 ? SIM_ALL : a, how == 2 ? SIM_ALL : b, ms);
	} else if (k < 33 && n > 1) {
		unsigned comp[SIM_MAX_NODES], parts = 2 + (unsigned)sim_below(s, n < 4 ? n - 1 : 3);

		for (unsigned i = 0; i < n; i++)
			comp[i] = (unsigned)sim_below(s, parts);
		sim_partition(s, comp);
	} else if (k < 49) {
		sim_heal(s);
	} else if (k < 57 && n > 1) {
		unsigned a = (unsigned)sim_below(s, n), b = (unsigned)sim_below(s, n - 1);

		sim_block(s, a, b >= a ? b + 1 : b, 1);
	} else if (k < 63) {
		memset(s->blocked, 0, sizeof(s->blocked));
		sim_log(s, "asymmetric links open");
	} else if (k < 76 && crashed < s->o.max_crashed) {
		unsigned i = (unsigned)sim_below(s, n);

		if (s->nodes[i].r)
			crash_for_a_while(s, i);
	} else if (k < 86) {
		sim_set_loss(s, (uint32_t)sim_below(s, s->o.loss_ppm + 1));
	} else if (k < 92) {
		unsigned i = (unsigned)sim_below(s, n);

		sim_set_slow(s, i, (uint32_t)sim_below(s, 800 * s->o.ring.token_timeout_ms));
	} else {
		for (unsigned i = 0; i < n; i++)
			if (s->nodes[i].slow_us)
				sim_set_slow(s, i, 0);
	}
	s->st.faults++;
}

static int64_t exp_delay_us(struct sim *s, uint32_t mean_ms)
{
	/* A geometric approximation of an exponential: mean mean_ms. */
	uint64_t u = sim_below(s, 1000000) + 1;
	int64_t d = 0;

	while (u < 1000000 / 3 && d < 4) {
		u *= 3;
		d++;
	}
	return (int64_t)mean_ms * 1000 * (d + 1) / 2 + (int64_t)sim_below(s, mean_ms * 500 + 1);
}

/* ---- the run ------------------------------------------------------------------------ */

struct sim *sim_new(const struct sim_opts *o)
{
	struct sim *s = calloc(1, sizeof(*s));

	if (!s)
		abort();
	s->o = *o;
	if (s->o.n < 1)
		s->o.n = 1;
	if (s->o.n > SIM_MAX_NODES)
		s->o.n = SIM_MAX_NODES;
	if (!s->o.bound_ms)
		s->o.bound_ms = liveness_bound(&s->o);
	if (getenv("RING_SIM_BOUND_MS"))
		s->o.bound_ms = atoll(getenv("RING_SIM_BOUND_MS"));
	rng_seed(s->rng, o->seed);
	s->loss_ppm = o->loss_ppm;
	s->dup_ppm = o->dup_ppm;
	s->trunc_ppm = o->trunc_ppm;
	s->late_ppm = o->late_ppm;
	s->chk = chk_new(s);
	s->workload_on = o->bursts_per_s > 0;
	s->faults_on = o->fault_every_ms > 0;
	s->st.converge_ms = -1;
	/* Ids: distinct, in an order unrelated to the node numbers. */
	for (unsigned i = 0; i < s->o.n; i++) {
		uint32_t id;
		int dup;

		do {
			id = 0x0a000000u | (uint32_t)(1 + sim_below(s, 0xfffffe));
			dup = 0;
			for (unsigned k = 0; k < i; k++)
				dup |= s->nodes[k].id == id;
		} while (dup);
		s->nodes[i].s = s;
		s->nodes[i].i = i;
		s->nodes[i].id = id;
		s->nodes[i].want_service = -1;
		s->nodes[i].drift_ppm = o->drift_ppm ?
			(int32_t)sim_below(s, 2 * (uint64_t)o->drift_ppm + 1) - o->drift_ppm : 0;
		s->nodes[i].offset_us = (int64_t)sim_below(s, 1000000000ull);
	}
	for (unsigned i = 0; i < s->o.n; i++) {
		/* Daemons start within a token timeout of each other. */
		push_simple(s, (int64_t)sim_below(s, 1000 * (uint64_t)o->ring.token_timeout_ms + 1),
			    EV_RESTART, i);
		if (s->workload_on)
			push_simple(s, exp_delay_us(s, 1000 / o->bursts_per_s), EV_BURST, i);
	}
	if (s->faults_on)
		push_simple(s, exp_delay_us(s, o->fault_every_ms), EV_FAULT, 0);
	return s;
}

void sim_free(struct sim *s)
{
	if (!s)
		return;
	for (unsigned i = 0; i < s->o.n; i++)
		ring_destroy(s->nodes[i].r);
	while (s->hn) {
		struct sim_ev e = ev_pop(s);

		if (e.p && --e.p->refs == 0)
			free(e.p);
	}
	free(s->heap);
	chk_free(s->chk);
	free(s);
}

static void handle(struct sim *s, struct sim_ev *e)
{
	struct sim_node *n = &s->nodes[e->node];

	switch (e->type) {
	case EV_PKT:
		/* Healing ends every fault: packets the network held back
		 * are gone. */
		if (n->r && !(e->late && s->heal_us)) {
			ring_input_packet(n->r, local_ms(n), s->nodes[e->from].id,
					  e->p->data, e->p->len);
			after_input(n);
		}
		if (--e->p->refs == 0)
			free(e->p);
		break;
	case EV_WAKE:
		if (n->r && e->gen == n->wake_gen) {
			n->wake_at = -1;
			ring_input_tick(n->r, local_ms(n));
			after_input(n);
		}
		break;
	case EV_BURST:
		if (!s->workload_on)
			break;
		if (n->r) {
			n->want += 1 + (unsigned)sim_below(s, s->o.burst_max);
			n->want_service = -1;
			after_input(n);
		}
		push_simple(s, s->now + exp_delay_us(s, 1000 / s->o.bursts_per_s),
			    EV_BURST, e->node);
		break;
	case EV_FAULT:
		if (!s->faults_on)
			break;
		random_fault(s);
		push_simple(s, s->now + exp_delay_us(s, s->o.fault_every_ms), EV_FAULT, 0);
		break;
	case EV_RESTART:
		if (!s->heal_us)
			sim_restart(s, e->node);
		break;
	}
}

int sim_run_until(struct sim *s, int64_t t_ms)
{
	int64_t end = t_ms * 1000;

	while (!s->failed && s->hn && s->heap[0].t <= end) {
		struct sim_ev e = ev_pop(s);

		s->now = e.t;
		s->st.events++;
		handle(s, &e);
	}
	if (!s->failed && s->now < end)
		s->now = end;
	return s->failed ? -1 : 0;
}

int64_t sim_now_ms(const struct sim *s)
{
	return s->now / 1000;
}

struct ring *sim_ring(struct sim *s, unsigned i)
{
	return s->nodes[i].r;
}

uint32_t sim_id(const struct sim *s, unsigned i)
{
	return s->nodes[i].id;
}

int sim_converged(struct sim *s, unsigned among)
{
	struct ring_status st0, st;
	unsigned live = 0, first = SIM_MAX_NODES;

	for (unsigned i = 0; i < s->o.n; i++) {
		if (s->nodes[i].r && (!among || (among >> i & 1))) {
			live |= 1u << i;
			if (first == SIM_MAX_NODES)
				first = i;
		}
	}
	if (!live)
		return 1;
	ring_get_status(s->nodes[first].r, &st0);
	for (unsigned i = 0; i < s->o.n; i++) {
		unsigned found = 0;

		if (!(live >> i & 1))
			continue;
		ring_get_status(s->nodes[i].r, &st);
		if (st.state != RING_OPERATIONAL || !ring_conf_id_eq(&st.conf, &st0.conf))
			return 0;
		for (unsigned m = 0; m < st.n_members; m++)
			for (unsigned k = 0; k < s->o.n; k++)
				if (s->nodes[k].id == st.members[m])
					found |= 1u << k;
		if (found != live)
			return 0;
	}
	return 1;
}

/* One line of every live daemon's state, for failure messages. */
static void status_dump(struct sim *s, char *why, size_t cap)
{
	size_t k = 0;

	why[0] = 0;
	for (unsigned i = 0; i < s->o.n && k + 160 < cap; i++) {
		struct ring_status st;

		if (!s->nodes[i].r)
			continue;
		ring_get_status(s->nodes[i].r, &st);
		k += (size_t)snprintf(why + k, cap - k,
				      " [%u: %s %08x/%u.%u n=%u q=%u aru=%llu high=%llu "
				      "stable=%llu dlv=%llu]", i, ring_state_name(st.state),
				      st.conf.rep, st.conf.rep_inc, st.conf.seq, st.n_members,
				      st.send_queue,
				      (unsigned long long)st.my_aru,
				      (unsigned long long)st.high_seq,
				      (unsigned long long)st.stable,
				      (unsigned long long)st.delivered);
	}
}

int sim_finish(struct sim *s)
{
	int64_t t, start, bound, total = 0;
	unsigned live = 0;

	if (s->failed)
		return -1;
	/* The last fault heals: partitions, asymmetric links, loss, slow
	 * daemons; the workload stops; every crashed daemon comes back or,
	 * one time in three, stays down for good. */
	s->faults_on = 0;
	s->workload_on = 0;
	s->heal_us = s->now ? s->now : 1;
	sim_heal(s);
	sim_set_loss(s, 0);
	sim_set_trunc(s, 0);
	s->late_ppm = 0;
	for (unsigned i = 0; i < s->o.n; i++) {
		s->nodes[i].want = 0; /* what the workload still wanted to send */
		if (s->nodes[i].slow_us)
			sim_set_slow(s, i, 0);
		if (!s->nodes[i].r && sim_below(s, 3) != 0)
			sim_restart(s, i);
		if (s->nodes[i].r)
			live++;
	}
	if (!live)
		sim_restart(s, 0);
	start = sim_now_ms(s);
	bound = start + s->o.bound_ms;
	for (t = start; t <= bound; t += 5) {
		if (sim_run_until(s, t) != 0)
			return -1;
		if (sim_converged(s, 0))
			break;
	}
	if (t > bound) {
		char why[1200];

		status_dump(s, why, sizeof(why));
		sim_fail(s, "liveness: no single configuration of the live daemons "
			 "within %lld ms of healing:%s", (long long)s->o.bound_ms, why);
		return -1;
	}
	s->st.converge_ms = t - start;
	sim_log(s, "converged %lld ms after healing", (long long)(t - start));
	/* Everyone sends one last message; all must get all, and every
	 * daemon its own. The bound adds the time to drain the longest send
	 * queue at a personal window per rotation. */
	bound = 0;
	for (unsigned i = 0; i < s->o.n; i++) {
		struct sim_node *n = &s->nodes[i];
		int64_t q;

		if (!n->r)
			continue;
		q = ring_send_queue_len(n->r);
		total += q;
		if (q / s->o.ring.personal_window > bound)
			bound = q / s->o.ring.personal_window;
		n->want = 1;
		n->want_service = RING_AGREED;
		feed(n, 1);
		schedule_wake(n);
	}
	/* Rotations to send it all at the window and each queue at the
	 * personal window, twice over, each of n hops of the largest delay,
	 * on top of the bound. */
	if (total / s->o.ring.window > bound)
		bound = total / s->o.ring.window;
	bound = 2 * (bound + 2) *
		(s->o.n * (int64_t)(s->o.delay_us + s->o.jitter_us + 100) / 1000 +
		 s->o.ring.token_hold_ms + 1);
	bound += sim_now_ms(s) + s->o.bound_ms;
	for (t = sim_now_ms(s); t <= bound; t += 5) {
		if (sim_run_until(s, t) != 0)
			return -1;
		if (chk_settled(s))
			break;
	}
	if (t > bound) {
		char why[1200], what[200];

		status_dump(s, why, sizeof(why));
		chk_unsettled(s, what, sizeof(what));
		sim_fail(s, "liveness: the last messages were not all delivered "
			 "within %lld ms of convergence (%s):%s",
			 (long long)(bound - s->st.converge_ms - s->heal_us / 1000),
			 what, why);
		return -1;
	}
	/* A little more time, so stray packets of the end are handled too. */
	if (sim_run_until(s, sim_now_ms(s) + 2 * s->o.ring.token_timeout_ms) != 0)
		return -1;
	return chk_final(s);
}

int sim_run(struct sim *s)
{
	if (sim_run_until(s, s->o.fault_ms) != 0)
		return -1;
	return sim_finish(s);
}

void sim_get_stats(const struct sim *s, struct sim_stats *st)
{
	*st = s->st;
}
