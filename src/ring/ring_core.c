/*
 * ring_core.c - the ring instance: packet input, the token, delivery.
 *
 * This is the operational part of the Totem single-ring protocol (Amir et
 * al., TOCS 1995, section 3): a token circulates among the members in
 * ring order (ids ascending); its holder answers the retransmission
 * requests the token carries, broadcasts new messages numbered from the
 * token's seq, adds its own requests, lowers or raises the token's aru
 * (all-received-up-to), and passes the token on. Flow control follows
 * Totem: the token counts the packets broadcast in the last rotation
 * (fcc), bounded by the window; each visit is bounded by the personal
 * window. The accelerated ring (Babay and Amir, ICDCS 2016) passes the
 * token on before the last accel_window of a visit's messages and then
 * asks for retransmissions only up to the seq of its previous token.
 *
 * Delivery: every message is delivered in sequence order, as soon as all
 * earlier ones are here; a safe message waits until it is stable, that is
 * until the aru the token carried at two consecutive visits of this
 * daemon was at least its seq (Spread computes the same from its last
 * two tokens). Reliable, FIFO and causal messages are delivered in the
 * same total order, which satisfies them (docs/ring-protocol.md).
 *
 * The membership algorithm (gather, commit, recovery, installation) is in
 * ring_memb.c; this file hands it join and commit packets, token loss and
 * foreign packets.
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

static void send_raw(struct ring *r, uint32_t to, const uint8_t *p, size_t len)
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

/* ---- messages ---------------------------------------------------------- */

void rc_deliver(struct ring *r, const struct ring_msg *m, const uint8_t *data,
		struct ring_conf_id conf, int transitional)
{
	struct ring_delivery d;

	d.origin = m->origin;
	d.service = (enum ring_service)m->service;
	d.conf = conf;
	d.transitional = transitional;
	d.data = data;
	d.len = m->len;
	r->st.delivered++;
	if (transitional)
		r->st.delivered_trans++;
	r->io.deliver(r->io.ctx, &d);
}

/* Delivers, in order, what the operational ring allows, then releases
 * what is both delivered and stable. */
void rc_deliver_ready(struct ring *r)
{
	struct ring_seqbuf *b = rs_cur(r);
	uint64_t rel;

	while (r->delivered < b->aru) {
		uint64_t s = r->delivered + 1;
		int32_t slot = rs_get(b, s);
		const struct ring_msg *m;

		RING_ASSERT(slot >= 0);
		m = &r->msgs[slot];
		if (!(m->flags & RING_DATA_RECOVERED)) {
			if (m->service == RING_SAFE && s > r->stable)
				break;
			rc_deliver(r, m, rs_bytes(r, slot), r->conf_id, 0);
		}
		r->delivered = s;
	}
	rel = r->delivered < r->stable ? r->delivered : r->stable;
	if (rel >= b->base)
		rs_release_to(r, b, rel);
}

/* Broadcasts the message in slot s of the current ring. */
static void broadcast_msg(struct ring *r, int32_t s, int retrans)
{
	const struct ring_msg *m = &r->msgs[s];
	struct ring_hdr h;
	struct ring_data d;
	int n;

	rc_hdr(r, &h, &r->rid);
	d.seq = m->seq;
	d.origin = m->origin;
	d.service = m->service;
	d.flags = m->flags;
	d.len = m->len;
	d.old_ring = m->old_ring;
	d.old_seq = m->old_seq;
	d.payload = rs_bytes(r, s);
	n = ring_pkt_put_data(r->pkt, r->pkt_cap, &h, &d);
	RING_ASSERT(n > 0);
	if (retrans)
		r->st.retrans_out++;
	else
		r->st.data_out++;
	if (m->flags & RING_DATA_RECOVERED)
		r->st.recovery_msgs_out++;
	rc_send(r, RING_BROADCAST, (size_t)n);
}

/* Stores a received message in b. Returns 1 if it was new. */
int rc_store_data(struct ring *r, struct ring_seqbuf *b,
		  const struct ring_data *d, uint32_t from)
{
	struct ring_msg *m;
	int32_t s;

	if (d->len > r->cfg.max_payload) {
		rc_drop(r, RING_DROP_MALFORMED, from);
		return 0;
	}
	if (!rs_room(b, d->seq) || rs_get(b, d->seq) >= 0) {
		if (d->seq < b->base || rs_get(b, d->seq) >= 0) {
			r->st.data_dup++;
			rc_drop(r, RING_DROP_DUP, from);
		} else {
			rc_drop(r, RING_DROP_NO_ROOM, from);
		}
		return 0;
	}
	s = rs_slot_alloc(r);
	if (s < 0) {
		rc_drop(r, RING_DROP_NO_ROOM, from);
		return 0;
	}
	m = &r->msgs[s];
	m->seq = d->seq;
	m->origin = d->origin;
	m->service = d->service;
	m->flags = d->flags;
	m->len = d->len;
	m->old_ring = d->old_ring;
	m->old_seq = d->old_seq;
	if (d->len)
		memcpy(rs_bytes(r, s), d->payload, d->len);
	RING_ASSERT(rs_put(b, d->seq, s) == 0);
	r->st.data_in++;
	return 1;
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
	m->service = service == RING_UNRELIABLE ? RING_RELIABLE : (uint8_t)service;
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

/* ---- the token ---------------------------------------------------------- */

static void token_copy(struct ring_token *dst, const struct ring_token *src)
{
	size_t head = offsetof(struct ring_token, rtr);

	memcpy(dst, src, head);
	memcpy(dst->rtr, src->rtr, src->rtr_n * sizeof(src->rtr[0]));
}

/* Broadcasts what the token asks for and I hold; returns how many. */
static unsigned answer_rtr(struct ring *r, struct ring_token *t)
{
	struct ring_seqbuf *b = rs_cur(r);
	unsigned n = 0, keep = 0;

	for (unsigned i = 0; i < t->rtr_n; i++) {
		uint64_t s = t->rtr[i];
		int32_t slot = rs_get(b, s);

		if (slot >= 0 && n < r->cfg.window) {
			broadcast_msg(r, slot, 1);
			n++;
			continue;
		}
		/* Released messages are held by every member: the request
		 * is stale. */
		if (s < b->base)
			continue;
		t->rtr[keep++] = s;
	}
	t->rtr_n = (uint16_t)keep;
	return n;
}

/* Adds my missing messages up to max to the token's requests. */
static void add_rtr(struct ring *r, struct ring_token *t, uint64_t max)
{
	struct ring_seqbuf *b = rs_cur(r);

	for (uint64_t s = b->aru + 1; s <= max && t->rtr_n < RING_RTR_MAX; s++) {
		unsigned i;

		if (!rs_room(b, s))
			break;
		if (rs_get(b, s) >= 0)
			continue;
		for (i = 0; i < t->rtr_n && t->rtr[i] != s; i++)
			;
		if (i == t->rtr_n)
			t->rtr[t->rtr_n++] = s;
	}
}

/* Takes the next message to send on this visit into a slot: a submitted
 * one (operational) or a copy of an old ring's message (recovery). */
static int32_t next_outgoing(struct ring *r)
{
	if (r->state == RING_OPERATIONAL)
		return rs_sendq_pop(r);
	while (r->rec_next < r->rec_n) {
		uint64_t os = r->rec_queue[r->rec_next++];
		int32_t from = rs_get(rs_old(r), os), s;
		struct ring_msg *m;

		if (from < 0)
			continue; /* cannot happen: recovery keeps the old store */
		s = rs_slot_alloc(r);
		RING_ASSERT(s >= 0);
		m = &r->msgs[s];
		*m = r->msgs[from];
		m->flags = RING_DATA_RECOVERED;
		m->old_ring = r->old_rid;
		m->old_seq = os;
		memcpy(rs_bytes(r, s), rs_bytes(r, from), m->len);
		return s;
	}
	return -1;
}

static uint32_t sat_sub(uint32_t a, uint32_t b)
{
	return a > b ? a - b : 0;
}

/* Passes r->tok (encoded in tok_pkt) to the next member, or holds it. */
static void pass_token(struct ring *r, int idle)
{
	struct ring_hdr h;
	int n;

	rc_hdr(r, &h, &r->rid);
	n = ring_pkt_put_token(r->tok_pkt, r->pkt_cap, &h, &r->tok);
	RING_ASSERT(n > 0);
	r->tok_len = (size_t)n;
	if (r->n_memb == 1) {
		/* Alone, an idle token waits for a submission; otherwise it
		 * comes back at once. */
		r->token_held = 1;
		r->token_to_self = 1;
		if (idle)
			rt_token_parked(r);
		else
			rt_token_held(r, 0);
		return;
	}
	if (idle && r->cfg.token_hold_ms > 0) {
		r->token_held = 1;
		r->st.token_holds++;
		rt_token_held(r, r->cfg.token_hold_ms);
		return;
	}
	r->st.tokens_out++;
	send_raw(r, r->ids[r->memb[(r->my_pos + 1) % r->n_memb]], r->tok_pkt,
		 r->tok_len);
	rt_token_passed(r);
}

void rc_token_release(struct ring *r)
{
	if (!r->token_held)
		return;
	r->token_held = 0;
	if (r->token_to_self) {
		r->token_to_self = 0;
		token_copy(&r->tin, &r->tok);
		rc_token_process(r, &r->tin, 0);
		return;
	}
	r->st.tokens_out++;
	send_raw(r, r->ids[r->memb[(r->my_pos + 1) % r->n_memb]], r->tok_pkt,
		 r->tok_len);
	rt_token_passed(r);
}

void rc_token_resend(struct ring *r)
{
	if (r->token_held || !r->tok_len || r->n_memb < 2)
		return;
	r->st.token_retransmits++;
	send_raw(r, r->ids[r->memb[(r->my_pos + 1) % r->n_memb]], r->tok_pkt,
		 r->tok_len);
	rt_token_passed(r);
}

/* Releases the recovery messages of the new ring that every member
 * holds: they are never delivered as such. */
static void release_recovered(struct ring *r)
{
	struct ring_seqbuf *b = rs_cur(r);

	while (b->base <= r->stable) {
		int32_t s = rs_get(b, b->base);

		if (s < 0 || !(r->msgs[s].flags & RING_DATA_RECOVERED))
			break;
		rs_release_to(r, b, b->base);
	}
	if (r->delivered < b->base - 1)
		r->delivered = b->base - 1;
}

/*
 * One visit of the token t (a private copy: it is changed and passed on).
 * created: the representative has just made the new ring's first token.
 */
void rc_token_process(struct ring *r, struct ring_token *t, int created)
{
	struct ring_seqbuf *b = rs_cur(r);
	uint64_t recv_seq = t->seq, recv_aru = t->aru, first_new, max_seq, rtr_max;
	uint32_t recv_rec_left = t->rec_left, allowed, n_new = 0, pre, avail, mine;
	unsigned n_retrans;
	int idle;

	if (!created)
		r->st.tokens_in++;
	rt_token_received(r);
	r->token_started = 1;
	r->last_token_seq = t->token_seq;
	if (r->my_pos == 0 && !created) {
		t->rotation++;
		r->st.rotations++;
	}

	/* Stability: the aru of two consecutive visits. */
	if (r->have_prev_aru) {
		uint64_t s = r->prev_aru < recv_aru ? r->prev_aru : recv_aru;

		if (s > b->aru) /* only a faulty peer could cause this */
			s = b->aru;
		if (s > r->stable)
			r->stable = s;
	}
	r->prev_aru = recv_aru;
	r->have_prev_aru = 1;

	/* Recovery ends when nothing is left to resend and every member holds
	 * every message of the new ring; the first member to see it installs
	 * and marks the token so the others install at their next visit. */
	if (r->state == RING_RECOVERY &&
	    ((t->flags & RING_TOKEN_INSTALLED) ||
	     (r->prev_rec_ok && r->stable >= recv_seq))) {
		t->flags |= RING_TOKEN_INSTALLED;
		rm_install(r);
		b = rs_cur(r);
	}

	t->fcc = sat_sub(t->fcc, r->last_sent);
	t->backlog = sat_sub(t->backlog, r->last_backlog);
	t->rec_left = sat_sub(t->rec_left, r->last_rec_left);

	n_retrans = answer_rtr(r, t);

	/* Flow control: the window per rotation, the personal window per
	 * visit, and the store: no seq beyond half a store past stability. */
	allowed = r->cfg.window > t->fcc + n_retrans ?
		  r->cfg.window - t->fcc - n_retrans : 0;
	if (allowed > r->cfg.personal_window)
		allowed = r->cfg.personal_window;
	max_seq = r->stable + (b->mask + 1) / 2;
	if (max_seq > b->base + b->mask)
		max_seq = b->base + b->mask;
	if (max_seq <= t->seq)
		allowed = 0;
	else if (allowed > max_seq - t->seq)
		allowed = (uint32_t)(max_seq - t->seq);
	avail = r->state == RING_OPERATIONAL ? r->sq_len : r->rec_n - r->rec_next;
	if (allowed > avail)
		allowed = avail;
	pre = allowed;
	if (r->cfg.accelerated && r->state == RING_OPERATIONAL)
		pre = allowed > r->cfg.accel_window ? allowed - r->cfg.accel_window : 0;
	first_new = t->seq + 1;
	for (uint32_t i = 0; i < allowed; i++) {
		int32_t s = next_outgoing(r);

		if (s < 0)
			break;
		r->msgs[s].seq = ++t->seq;
		RING_ASSERT(rs_put(b, t->seq, s) == 0);
		n_new++;
		if (i < pre)
			broadcast_msg(r, s, 0);
	}

	t->fcc += n_retrans + n_new;
	r->last_sent = n_retrans + n_new;
	mine = r->state == RING_OPERATIONAL ? r->sq_len : r->rec_n - r->rec_next;
	t->backlog += mine;
	r->last_backlog = mine;
	if (r->state == RING_RECOVERY) {
		t->rec_left += mine;
		r->last_rec_left = mine;
	} else {
		r->last_rec_left = 0;
	}

	/* My requests: only for messages older than a rotation (at most the
	 * seq of the token I passed on last time). The accelerated ring needs
	 * this, as the token overtakes the messages sent after it [Accel];
	 * we do it in both variants, so that messages merely delayed by
	 * jitter are not sent twice (docs/ring-protocol.md, deviations). */
	rtr_max = r->sent_seq;
	add_rtr(r, t, rtr_max);

	/* Totem's aru rule, as Spread has it: lower the aru to mine if I miss
	 * messages, raise it if I set it last or if everyone had everything. */
	if (t->aru > b->aru || t->aru_id == r->cfg.my_id || t->aru == recv_seq) {
		t->aru = b->aru;
		t->aru_id = r->cfg.my_id;
	}
	t->token_seq++;

	if (r->state == RING_RECOVERY)
		r->prev_rec_ok = t->rotation >= 1 && recv_rec_left == 0 &&
				 r->rec_next == r->rec_n;

	idle = r->my_pos == 0 && r->state == RING_OPERATIONAL && n_new == 0 &&
	       n_retrans == 0 && t->rtr_n == 0 && recv_seq == r->last_seq_at_rep &&
	       t->aru == t->seq && t->backlog == 0 && r->delivered == t->seq;
	if (r->my_pos == 0)
		r->last_seq_at_rep = t->seq;
	r->sent_seq = t->seq;
	if (t != &r->tok)
		token_copy(&r->tok, t);
	pass_token(r, idle);

	/* Accelerated: the rest of this visit's messages follow the token. */
	for (uint64_t s = first_new + pre; s <= r->sent_seq; s++)
		broadcast_msg(r, rs_get(b, s), 0);

	if (r->state == RING_OPERATIONAL)
		rc_deliver_ready(r);
	else
		release_recovered(r);
}

/* ---- input ---------------------------------------------------------------- */

/* Notes the sender's incarnation. Returns 0 to go on, -1 to drop. */
static int note_sender(struct ring *r, unsigned from, uint32_t inc)
{
	if (inc < r->known_inc[from]) {
		rc_drop(r, RING_DROP_STALE_INC, r->ids[from]);
		return -1;
	}
	if (inc > r->known_inc[from]) {
		int seen = r->known_inc[from] != 0;

		r->known_inc[from] = inc;
		r->seen_ring[from] = 0;
		r->join_epoch[from] = 0;
		r->join_jseq[from] = 0;
		/* A member came back as a new incarnation: the old one has
		 * failed, whatever the ring still thinks. */
		if (seen && ((r->state == RING_OPERATIONAL && r->pos[from] >= 0) ||
			     (r->state == RING_RECOVERY && r->pos[from] >= 0) ||
			     (r->state == RING_COMMIT && rm_in_commit(r, from))))
			rm_gather_enter(r, RING_WHY_RESTART, -1);
	}
	return 0;
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
