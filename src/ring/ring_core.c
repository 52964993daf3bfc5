/*
 * ring_core.c - the ring instance: configuration, creation, packet input
 * and its first checks (version, configuration hash, sender, incarnation,
 * ring), submissions, status and counters.
 *
 * The core implements the Totem single-ring protocol (Amir et al., TOCS
 * 1995) with the delivery rules of Extended Virtual Synchrony (Moser et
 * al., ICDCS 1994) and, as an option, the accelerated ring (Babay and
 * Amir, ICDCS 2016); docs/ring-protocol.md describes it and lists the
 * deviations. This file takes packets apart and hands them on: data and
 * tokens to ring_token.c (ordering, retransmission, flow control,
 * delivery), joins and commit tokens to ring_memb.c (membership).
 * A packet of another ring starts a membership change in the operational
 * state (Totem: a foreign message) and is dropped otherwise.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ring_int.h"

void rc_assert_fail(const char *file, int line, const char *what)
{
	fprintf(stderr, "ring: assertion failed at %s:%d: %s\n", file, line, what);
	abort();
}

void ring_config_defaults(struct ring_config *c)
{
	memset(c, 0, sizeof(*c));
	c->token_timeout_ms = 1250;
	c->hurry_ms = 500;
	c->join_ms = 50;
	c->consensus_ms = 1500;
	c->merge_ms = 500;
	c->token_hold_ms = 10;
	c->window = 160;
	c->personal_window = 20;
	c->accel_window = 15;
	c->accelerated = 0;
	c->max_payload = 1400;
	c->store_slots = 1024;
	c->send_queue_max = 1024;
}

#define CHECK(cond, ...)                                  \
	do {                                              \
		if (!(cond)) {                            \
			snprintf(err, errlen, __VA_ARGS__); \
			return RING_EINVAL;               \
		}                                         \
	} while (0)

int ring_config_check(const struct ring_config *c, char *err, size_t errlen)
{
	int found = 0;

	CHECK(c->n_members >= 1 && c->n_members <= RING_MAX_MEMBERS,
	      "%u members; 1 to %d allowed", c->n_members, RING_MAX_MEMBERS);
	for (unsigned i = 0; i < c->n_members; i++) {
		CHECK(c->members[i] != 0 && c->members[i] != RING_BROADCAST,
		      "member id %08x is reserved", c->members[i]);
		for (unsigned j = 0; j < i; j++)
			CHECK(c->members[i] != c->members[j],
			      "member id %08x appears twice", c->members[i]);
		found |= c->members[i] == c->my_id;
	}
	CHECK(found, "my id %08x is not among the members", c->my_id);
	CHECK(c->token_timeout_ms > 0 && c->hurry_ms > 0 && c->join_ms > 0 &&
	      c->consensus_ms > 0 && c->merge_ms > 0, "a timeout is zero");
	CHECK(c->hurry_ms < c->token_timeout_ms,
	      "hurry (%u ms) must be shorter than the token timeout (%u ms)",
	      c->hurry_ms, c->token_timeout_ms);
	CHECK(c->token_hold_ms < c->hurry_ms,
	      "token hold (%u ms) must be shorter than hurry (%u ms)",
	      c->token_hold_ms, c->hurry_ms);
	CHECK(c->join_ms < c->consensus_ms,
	      "join (%u ms) must be shorter than consensus (%u ms)", c->join_ms,
	      c->consensus_ms);
	CHECK(c->window >= 1 && c->personal_window >= 1 &&
	      c->personal_window <= c->window,
	      "windows: need 1 <= personal window (%u) <= window (%u)",
	      c->personal_window, c->window);
	CHECK(c->accel_window <= c->personal_window,
	      "accelerated window (%u) above the personal window (%u)",
	      c->accel_window, c->personal_window);
	CHECK(c->store_slots >= 64 && c->store_slots <= (1u << 20) &&
	      !(c->store_slots & (c->store_slots - 1)),
	      "store slots (%u): a power of two from 64 to 2^20", c->store_slots);
	CHECK(c->store_slots >= 4 * c->window,
	      "store slots (%u) must be at least 4 windows (%u)", c->store_slots,
	      4 * c->window);
	CHECK(c->send_queue_max >= 1 && c->send_queue_max <= (1u << 20),
	      "send queue (%u): 1 to 2^20", c->send_queue_max);
	CHECK(c->max_payload >= 16 && c->max_payload <= RING_PAYLOAD_MAX_LIMIT,
	      "max payload (%u): 16 to %d", c->max_payload,
	      RING_PAYLOAD_MAX_LIMIT);
	return 0;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

int rc_index(const struct ring *r, uint32_t id)
{
	unsigned lo = 0, hi = r->n_ids;

	while (lo < hi) {
		unsigned mid = (lo + hi) / 2;

		if (r->ids[mid] == id)
			return (int)mid;
		if (r->ids[mid] < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

int ring_create(const struct ring_config *c, const struct ring_io *io,
		int64_t now, struct ring **out)
{
	char err[160];
	struct ring *r;
	int rc;

	*out = NULL;
	if (!io || !io->send || !io->deliver || !io->conf ||
	    ring_config_check(c, err, sizeof(err)) != 0)
		return RING_EINVAL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return RING_ENOMEM;
	r->cfg = *c;
	r->io = *io;
	r->now = now;
	r->n_ids = c->n_members;
	memcpy(r->ids, c->members, c->n_members * sizeof(uint32_t));
	qsort(r->ids, r->n_ids, sizeof(uint32_t), cmp_u32);
	r->me = (unsigned)rc_index(r, c->my_id);
	r->known_inc[r->me] = c->incarnation;
	r->high_ring_seq = c->ring_seq_base;
	for (unsigned i = 0; i < RING_MAX_MEMBERS; i++)
		r->pos[i] = -1;
	rc = rs_init(r);
	r->pkt_cap = ring_pkt_max_len(c->max_payload);
	r->pkt = malloc(r->pkt_cap);
	r->tok_pkt = malloc(r->pkt_cap);
	r->commit_pkt = malloc(r->pkt_cap);
	if (rc != 0 || !r->pkt || !r->tok_pkt || !r->commit_pkt) {
		ring_destroy(r);
		return RING_ENOMEM;
	}
	/* Until a ring is installed, a daemon is alone in a pseudo ring of
	 * sequence 0, which no other daemon shares. */
	r->old_rid.rep = c->my_id;
	r->old_rid.rep_inc = c->incarnation;
	r->old_rid.seq = 0;
	r->rid = r->old_rid;
	set_add(&r->old_set, r->me);
	r->state = RING_GATHER;
	rm_gather_enter(r, RING_WHY_START, -1);
	*out = r;
	return 0;
}

void ring_destroy(struct ring *r)
{
	if (!r)
		return;
	rs_free(r);
	free(r->pkt);
	free(r->tok_pkt);
	free(r->commit_pkt);
	free(r);
}

void rc_event(struct ring *r, enum ring_event_type type, uint32_t peer,
	      uint64_t a, uint64_t b, const char *what)
{
	struct ring_event e;

	if (!r->io.event)
		return;
	memset(&e, 0, sizeof(e));
	e.type = type;
	e.from = e.to = r->state;
	e.peer = peer;
	e.a = a;
	e.b = b;
	e.what = what;
	r->io.event(r->io.ctx, &e);
}

void rc_drop(struct ring *r, enum ring_drop why, uint32_t peer)
{
	uint64_t n = ++r->st.drops[why];

	if (r->io.event && (n <= RING_DROP_LOG_FIRST || n % RING_DROP_LOG_EVERY == 0)) {
		struct ring_event e;

		memset(&e, 0, sizeof(e));
		e.type = RING_EV_DROP;
		e.from = e.to = r->state;
		e.drop = why;
		e.peer = peer;
		e.a = n;
		r->io.event(r->io.ctx, &e);
	}
}

void rc_set_state(struct ring *r, enum ring_state to, enum ring_reason why)
{
	enum ring_state from = r->state;

	r->state = to;
	r->st.transitions[why]++;
	if (r->io.event) {
		struct ring_event e;

		memset(&e, 0, sizeof(e));
		e.type = RING_EV_STATE;
		e.from = from;
		e.to = to;
		e.why = why;
		r->io.event(r->io.ctx, &e);
	}
}

void rc_hdr(const struct ring *r, struct ring_hdr *h, const struct ring_rid *rid)
{
	h->conf_hash = r->cfg.conf_hash;
	h->sender = r->cfg.my_id;
	h->sender_inc = r->cfg.incarnation;
	h->ring = *rid;
}

void rc_send(struct ring *r, uint32_t to, size_t len)
{
	r->st.pkts_out++;
	r->st.bytes_out += len;
	r->io.send(r->io.ctx, to, r->pkt, len);
}

void rc_send_raw(struct ring *r, uint32_t to, const uint8_t *p, size_t len)
{
	r->st.pkts_out++;
	r->st.bytes_out += len;
	r->io.send(r->io.ctx, to, p, len);
}

/* Forgets the token state of the current ring (a new ring begins). */
void rc_ring_reset(struct ring *r)
{
	r->token_held = r->token_to_self = 0;
	r->tok_len = 0;
	r->last_token_seq = 0;
	r->sent_seq = 0;
	r->prev_aru = 0;
	r->have_prev_aru = 0;
	r->stable = 0;
	r->delivered = 0;
	r->last_sent = r->last_backlog = r->last_rec_left = 0;
	r->last_seq_at_rep = 0;
	r->prev_rec_ok = 0;
	r->token_started = 0;
}

static uint8_t service_of(enum ring_service service)
{
	return service == RING_UNRELIABLE ? RING_RELIABLE : (uint8_t)service;
}

int ring_submit(struct ring *r, int64_t now, const void *data, size_t len,
		enum ring_service service)
{
	struct ring_msg *m;
	int32_t s;

	if (now > r->now)
		r->now = now;
	if (len > r->cfg.max_payload || (unsigned)service > RING_SAFE ||
	    (len && !data))
		return RING_EINVAL;
	if (r->sq_len == r->sq_cap) {
		r->st.submit_full++;
		return RING_EAGAIN;
	}
	s = rs_slot_alloc(r);
	RING_ASSERT(s >= 0);
	m = &r->msgs[s];
	memset(m, 0, sizeof(*m));
	m->origin = r->cfg.my_id;
	m->service = service_of(service);
	m->len = (uint16_t)len;
	if (len)
		memcpy(rs_bytes(r, s), data, len);
	RING_ASSERT(rs_sendq_push(r, s) == 0);
	r->st.submitted++;
	/* An idle token held here goes on at once. */
	if (r->state == RING_OPERATIONAL)
		rt_token_release_now(r);
	return 0;
}

/* The message submitted last, if it has not been sent yet. */
static struct ring_msg *sendq_tail(const struct ring *r, int32_t *slot)
{
	if (r->sq_len == 0)
		return NULL;
	*slot = r->sendq[(r->sq_head + r->sq_len - 1) % r->sq_cap];
	return &r->msgs[*slot];
}

size_t ring_append_room(const struct ring *r, enum ring_service service)
{
	int32_t s;
	const struct ring_msg *m = sendq_tail(r, &s);

	if (!m || (unsigned)service > RING_SAFE || m->service != service_of(service))
		return 0;
	return r->cfg.max_payload - m->len;
}

int ring_append(struct ring *r, const void *data, size_t len,
		enum ring_service service)
{
	int32_t s;
	struct ring_msg *m;

	if (len == 0)
		return 0;
	if (!data || ring_append_room(r, service) < len)
		return RING_EINVAL;
	m = sendq_tail(r, &s);
	memcpy(rs_bytes(r, s) + m->len, data, len);
	m->len = (uint16_t)(m->len + len);
	r->st.appended++;
	return 0;
}

/* ---- input ---------------------------------------------------------------- */

/* Notes the sender's incarnation. Returns 0 to go on, -1 to drop. */
static int note_sender(struct ring *r, unsigned from, uint32_t inc)
{
	if (inc < r->known_inc[from]) {
		rc_drop(r, RING_DROP_STALE_INC, r->ids[from]);
		return -1;
	}
	if (inc > r->known_inc[from] && rc_new_incarnation(r, from, inc))
		rm_gather_enter(r, RING_WHY_RESTART, -1);
	return 0;
}

/* Daemon i has a newer incarnation, heard from it or from another's join:
 * forget what the old one said. Returns 1 if the old one was a member of
 * the ring I am in or forming (it has failed, whatever the ring thinks). */
int rc_new_incarnation(struct ring *r, unsigned i, uint32_t inc)
{
	int seen = r->known_inc[i] != 0;

	r->known_inc[i] = inc;
	r->seen_ring[i] = 0;
	r->join_epoch[i] = 0;
	r->join_jseq[i] = 0;
	return seen && ((r->state == RING_OPERATIONAL && r->pos[i] >= 0) ||
			(r->state == RING_RECOVERY && r->pos[i] >= 0) ||
			(r->state == RING_COMMIT && rm_in_commit(r, i)));
}

/* A packet of a ring I am not in. In the operational state it means a
 * member moved on or another ring can be merged with (Totem: a foreign
 * message starts a membership change); otherwise it is dropped. */
static void foreign(struct ring *r, unsigned from, const struct ring_hdr *h)
{
	if (r->state != RING_OPERATIONAL) {
		rc_drop(r, RING_DROP_FOREIGN, r->ids[from]);
		return;
	}
	if (h->ring.seq < r->seen_ring[from] ||
	    (r->pos[from] >= 0 && h->ring.seq <= r->rid.seq)) {
		rc_drop(r, RING_DROP_STALE_RING, r->ids[from]);
		return;
	}
	r->seen_ring[from] = h->ring.seq;
	rc_drop(r, RING_DROP_FOREIGN, r->ids[from]);
	if (r->pos[from] >= 0)
		rm_gather_enter(r, RING_WHY_MEMBER_LEFT, -1);
	else
		rm_gather_enter(r, RING_WHY_FOREIGN, (int)from);
}

static void on_data(struct ring *r, unsigned from, const struct ring_hdr *h,
		    const uint8_t *pkt, size_t len)
{
	struct ring_data d;

	if (ring_pkt_get_data(pkt, len, &d) != 0 || rc_index(r, d.origin) < 0) {
		rc_drop(r, RING_DROP_MALFORMED, r->ids[from]);
		return;
	}
	if ((r->state == RING_OPERATIONAL || r->state == RING_RECOVERY) &&
	    rid_eq(&h->ring, &r->rid)) {
		if (r->pos[from] < 0) {
			rc_drop(r, RING_DROP_UNKNOWN, r->ids[from]);
			return;
		}
		if (r->sent_seq && d.seq > r->sent_seq)
			rt_token_evidence(r);
		if (!rc_store_data(r, rs_cur(r), &d, r->ids[from]))
			return;
		if (r->state == RING_RECOVERY) {
			if (d.flags & RING_DATA_RECOVERED) {
				r->st.recovery_msgs_in++;
				rm_recovered_data(r, &d);
			}
		} else {
			rc_deliver_ready(r);
		}
		return;
	}
	/* A late message of the ring I left is still part of what I report
	 * in the commit token; once recovery has begun, old messages count
	 * only if they come through the new ring (ring_memb.c). */
	if ((r->state == RING_GATHER || r->state == RING_COMMIT) &&
	    rid_eq(&h->ring, &r->old_rid)) {
		rc_store_data(r, rs_old(r), &d, r->ids[from]);
		return;
	}
	if (r->state == RING_OPERATIONAL || !rid_eq(&h->ring, &r->old_rid))
		foreign(r, from, h);
	else
		rc_drop(r, RING_DROP_STATE, r->ids[from]);
}

static void on_token(struct ring *r, unsigned from, const struct ring_hdr *h,
		     const uint8_t *pkt, size_t len)
{
	if (ring_pkt_get_token(pkt, len, &r->tin) != 0) {
		rc_drop(r, RING_DROP_MALFORMED, r->ids[from]);
		return;
	}
	if ((r->state == RING_OPERATIONAL || r->state == RING_RECOVERY) &&
	    rid_eq(&h->ring, &r->rid)) {
		if (r->pos[from] < 0) {
			rc_drop(r, RING_DROP_UNKNOWN, r->ids[from]);
			return;
		}
		/* Every message I hold was numbered before this token: a
		 * token below them is not one of this ring's. */
		if (r->tin.seq < rs_cur(r)->high) {
			rc_drop(r, RING_DROP_MALFORMED, r->ids[from]);
			return;
		}
		if (r->tin.token_seq <= r->last_token_seq) {
			r->st.token_dups++;
			rc_drop(r, RING_DROP_DUP, r->ids[from]);
			return;
		}
		rc_token_process(r, &r->tin, 0);
		return;
	}
	foreign(r, from, h);
}

static void on_probe(struct ring *r, unsigned from, const struct ring_hdr *h,
		     const uint8_t *pkt, size_t len)
{
	uint32_t n;

	if (ring_pkt_get_probe(pkt, len, &n) != 0) {
		rc_drop(r, RING_DROP_MALFORMED, r->ids[from]);
		return;
	}
	if (rid_eq(&h->ring, &r->rid))
		return;
	foreign(r, from, h);
}

void rc_send_probe(struct ring *r)
{
	struct ring_hdr h;
	int n;

	if (r->state != RING_OPERATIONAL || r->my_pos != 0)
		return;
	rc_hdr(r, &h, &r->rid);
	n = ring_pkt_put_probe(r->pkt, r->pkt_cap, &h, r->n_memb);
	RING_ASSERT(n > 0);
	r->st.probes_out++;
	rc_send(r, RING_BROADCAST, (size_t)n);
	rt_probe_sent(r);
}

void ring_input_packet(struct ring *r, int64_t now, uint32_t from,
		       const uint8_t *pkt, size_t len)
{
	struct ring_hdr h;
	int idx, rc;

	if (now > r->now)
		r->now = now;
	r->st.pkts_in++;
	r->st.bytes_in += len;
	rc = ring_pkt_get_hdr(pkt, len, &h);
	if (rc != 0) {
		rc_drop(r, rc == RING_PKT_EMAGIC || rc == RING_PKT_EVERSION ?
			RING_DROP_VERSION : RING_DROP_MALFORMED, from);
		return;
	}
	if (h.conf_hash != r->cfg.conf_hash) {
		rc_drop(r, RING_DROP_CONF_HASH, from);
		return;
	}
	if (from && from != h.sender) {
		rc_drop(r, RING_DROP_SPOOFED, from);
		return;
	}
	idx = rc_index(r, h.sender);
	if (idx < 0) {
		rc_drop(r, RING_DROP_UNKNOWN, h.sender);
		return;
	}
	if ((unsigned)idx == r->me) {
		rc_drop(r, RING_DROP_SELF, h.sender);
		return;
	}
	if (note_sender(r, (unsigned)idx, h.sender_inc) != 0)
		return;
	switch (h.type) {
	case RING_PKT_DATA:
		on_data(r, (unsigned)idx, &h, pkt, len);
		break;
	case RING_PKT_TOKEN:
		on_token(r, (unsigned)idx, &h, pkt, len);
		break;
	case RING_PKT_JOIN:
		if (ring_pkt_get_join(pkt, len, &r->jin) != 0) {
			rc_drop(r, RING_DROP_MALFORMED, h.sender);
			break;
		}
		r->st.joins_in++;
		rm_on_join(r, (unsigned)idx, &h, &r->jin);
		break;
	case RING_PKT_COMMIT:
		if (ring_pkt_get_commit(pkt, len, &r->kin) != 0) {
			rc_drop(r, RING_DROP_MALFORMED, h.sender);
			break;
		}
		r->st.commits_in++;
		rm_on_commit(r, (unsigned)idx, &h, &r->kin);
		break;
	case RING_PKT_PROBE:
		on_probe(r, (unsigned)idx, &h, pkt, len);
		break;
	}
}

void ring_input_tick(struct ring *r, int64_t now)
{
	if (now > r->now)
		r->now = now;
	rt_run(r);
}

int64_t ring_next_deadline(const struct ring *r)
{
	return rt_next(r);
}

unsigned ring_send_queue_len(const struct ring *r)
{
	return r->sq_len;
}

unsigned ring_send_queue_room(const struct ring *r)
{
	return r->sq_cap - r->sq_len;
}

void ring_get_status(const struct ring *r, struct ring_status *s)
{
	const struct ring_seqbuf *b = &r->store[r->cur];

	memset(s, 0, sizeof(*s));
	s->state = r->state;
	s->conf = r->conf_id;
	s->n_members = r->n_old;
	memcpy(s->members, r->old_ids, r->n_old * sizeof(uint32_t));
	s->my_aru = b->aru;
	s->high_seq = b->high;
	s->delivered = r->delivered;
	s->stable = r->stable;
	s->send_queue = r->sq_len;
	s->is_rep = r->state == RING_OPERATIONAL && r->my_pos == 0;
	s->high_ring_seq = r->high_ring_seq;
}

const struct ring_stats *ring_get_stats(const struct ring *r)
{
	return &r->st;
}
