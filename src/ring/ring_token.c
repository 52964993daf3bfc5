/*
 * ring_token.c - the operational part of the ring: the token, ordering,
 * retransmission, flow control and delivery (Totem, TOCS 1995, section 3;
 * the accelerated ring, ICDCS 2016).
 *
 * A token circulates among the members in ring order (ids ascending); its
 * holder answers the retransmission requests the token carries,
 * broadcasts new messages numbered from the token's seq, adds its own
 * requests, lowers or raises the token's aru (all-received-up-to), and
 * passes the token on. Flow control follows Totem: the token counts the
 * packets broadcast in the last rotation (fcc), bounded by the window;
 * each visit is bounded by the personal window, or by the daemon's share
 * of the window by backlog where that is more. The accelerated ring
 * passes the token on before the last accel_window of a visit's messages.
 *
 * Delivery: every message is delivered in sequence order, as soon as all
 * earlier ones are here; a safe message waits until it is stable, that is
 * until the aru the token carried at two consecutive visits of this
 * daemon was at least its seq (docs/ring-protocol.md has the proof).
 * During recovery the same token carries the old rings' messages
 * (ring_memb.c decides which) and tells when recovery is over.
 */
#include <stddef.h>
#include <string.h>

#include "ring_int.h"

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

/*
 * The most new messages one visit may send in the operational state: the
 * personal window, or this daemon's share of the window by backlog if
 * that is more. others: the messages the other members said they had
 * waiting (the token's backlog without my share of the last rotation).
 * Totem and Corosync take the backlog share as a further limit under the
 * personal window; here it may lift the visit above it, so that a daemon
 * that is the only one with messages waiting (one sender) fills the
 * window every rotation instead of a personal window. A share above the
 * personal window leaves room in the window for what the others have
 * waiting, up to a personal window each, so that a daemon with a few
 * messages is not held back a rotation behind a busy one (the window,
 * through fcc, bounds the rotation either way; docs/ring-protocol.md,
 * deviations).
 */
static uint32_t personal_allowance(const struct ring *r, uint32_t others)
{
	uint64_t mine = r->sq_len, share, reserve;

	if (mine == 0)
		return r->cfg.personal_window;
	share = (uint64_t)r->cfg.window * mine / (mine + others);
	reserve = (uint64_t)(r->n_memb - 1) * r->cfg.personal_window;
	if (reserve > others)
		reserve = others;
	if (share + reserve > r->cfg.window)
		share = reserve < r->cfg.window ? r->cfg.window - reserve : 0;
	return share > r->cfg.personal_window ? (uint32_t)share :
						 r->cfg.personal_window;
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
	rc_send_raw(r, r->ids[r->memb[(r->my_pos + 1) % r->n_memb]], r->tok_pkt,
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
	rc_send_raw(r, r->ids[r->memb[(r->my_pos + 1) % r->n_memb]], r->tok_pkt,
		 r->tok_len);
	rt_token_passed(r);
}

void rc_token_resend(struct ring *r)
{
	if (r->token_held || !r->tok_len || r->n_memb < 2)
		return;
	r->st.token_retransmits++;
	rc_send_raw(r, r->ids[r->memb[(r->my_pos + 1) % r->n_memb]], r->tok_pkt,
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
	 * visit, and the store: no seq beyond half a store past stability.
	 * In recovery only the window counts: nobody sends new messages,
	 * the old ones to resend may fill the store, and the personal
	 * window (fairness between senders) would make recovery take one
	 * rotation per personal window of them (docs, deviations). */
	allowed = r->cfg.window > t->fcc + n_retrans ?
		  r->cfg.window - t->fcc - n_retrans : 0;
	if (r->state == RING_OPERATIONAL) {
		uint32_t personal = personal_allowance(r, t->backlog);

		if (allowed > personal)
			allowed = personal;
	}
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

