/*
 * ring_memb.c - the membership algorithm of the ring: gather, commit,
 * recovery and installation, with Extended Virtual Synchrony.
 *
 * This follows the Totem membership protocol (Amir et al., TOCS 1995,
 * section 4) and the delivery rules of EVS (Moser et al., ICDCS 1994):
 *
 * Gather. A daemon that loses the token, hears a daemon outside its ring
 * or hears a join message broadcasts join messages naming the daemons it
 * believes alive (proc set) and those it has given up on (fail set). Sets
 * only grow: a join that adds to mine is merged and mine is sent again. A
 * daemon that lists me as failed goes into my fail set. Consensus is a
 * join from every daemon of proc - fail with exactly my sets; after
 * consensus_ms the silent ones are failed. At consensus the
 * representative (lowest id) creates the commit token.
 *
 * Commit. The commit token goes round the new ring twice. On the first
 * rotation every member writes what it has of its old ring (ring id, aru,
 * highest seq, what it knows to be stable) and stops sending joins; on
 * the second every member learns what all wrote and enters recovery; the
 * representative then creates the new ring's token.
 *
 * Recovery. The members that come from the same old ring (the
 * transitional configuration) rebroadcast on the new ring the old
 * messages some of them may miss: those above the lowest aru, each sent
 * by the first member that surely holds it (its aru covers it), or by
 * every member that holds it when nobody's aru does. Old messages count
 * only if held at the start of recovery or received through the new ring,
 * so at the end every member of a transitional configuration holds the
 * same set. Recovery ends when nothing is left to resend and every member
 * holds every message of the new ring (ring_core.c, rc_token_process).
 *
 * Installation. In the old regular configuration, deliver old messages in
 * order up to the first that nobody has (a gap) or the first safe message
 * that is not known to be stable in the old ring; announce the
 * transitional configuration; deliver the remaining old messages in it,
 * skipping the gaps; announce the new regular configuration.
 */
#include <string.h>

#include "ring_int.h"

static void check_consensus(struct ring *r);

int rm_in_commit(const struct ring *r, unsigned idx)
{
	for (unsigned i = 0; i < r->commit.n; i++)
		if (r->commit.e[i].proc.id == r->ids[idx])
			return 1;
	return 0;
}

static void send_join(struct ring *r)
{
	struct ring_join *j = &r->jout;
	struct ring_hdr h;
	int n;

	j->high_ring_seq = r->high_ring_seq;
	j->epoch = r->epoch;
	j->jseq = ++r->join_seq;
	j->n_proc = j->n_fail = 0;
	for (unsigned i = 0; i < r->n_ids; i++) {
		struct ring_proc p = { r->ids[i], r->known_inc[i] };

		if (set_has(&r->proc, i))
			j->proc[j->n_proc++] = p;
		if (set_has(&r->fail, i))
			j->fail[j->n_fail++] = p;
	}
	rc_hdr(r, &h, &r->old_rid);
	n = ring_pkt_put_join(r->pkt, r->pkt_cap, &h, j);
	RING_ASSERT(n > 0);
	r->st.joins_out++;
	rc_send(r, RING_BROADCAST, (size_t)n);
	rt_join_sent(r);
}

/* What I hold of my old ring, for the commit token. */
static void fill_entry(struct ring *r, struct ring_commit_entry *e)
{
	const struct ring_seqbuf *ob = rs_old(r);

	e->old_ring = r->old_rid;
	e->old_aru = ob->aru;
	e->old_high = ob->high;
	e->old_safe = r->old_safe < ob->aru ? r->old_safe : ob->aru;
	e->epoch = r->epoch;
	e->flags = RING_COMMIT_FILLED;
}

/* A new round of gather begins (see "Rounds" above rm_gather_enter):
 * nobody is failed, nobody has agreed yet, the timers start again. */
static void round_begin(struct ring *r, uint32_t round)
{
	r->epoch = round;
	if (round > r->max_round)
		r->max_round = round;
	memset(&r->fail, 0, sizeof(r->fail));
	memset(&r->consensus, 0, sizeof(r->consensus));
	set_add(&r->consensus, r->me);
	memset(&r->heard, 0, sizeof(r->heard));
	r->alone_ok = 0;
	rt_round_begin(r);
}

/*
 * Rounds. Totem's gather lets fail sets grow until the ring is installed;
 * daemons whose gathers began at different times then keep failing each
 * other with what they learned in earlier gathers, and form rings of one
 * round after round. Here a gather is made of rounds, numbered across the
 * segment like a Lamport clock (the epoch field of JOIN): entering the
 * gather state starts a round above every round heard of, and a daemon
 * that hears a join of a higher round moves to that round. A fail set
 * belongs to its round and starts empty; within a round the rules are
 * Totem's. A round ends at consensus or, consensus_ms after it began, with
 * the failure of those that did not agree (docs/ring-protocol.md,
 * deviations).
 */
void rm_gather_enter(struct ring *r, enum ring_reason why, int extra)
{
	enum ring_state from = r->state;

	if (from == RING_OPERATIONAL) {
		/* The ring becomes the old ring: its store is kept, its
		 * members are the first guess of who is alive. */
		r->old_delivered = r->delivered;
		r->old_safe = r->stable;
		r->cur = 1 - r->cur;
		rs_clear(r, rs_cur(r));
		memset(&r->proc, 0, sizeof(r->proc));
		for (unsigned i = 0; i < r->n_memb; i++)
			set_add(&r->proc, r->memb[i]);
	} else if (from == RING_RECOVERY) {
		/* The new ring's messages go; old ones received through it
		 * stay in the old store. */
		rs_clear(r, rs_cur(r));
	}
	rc_ring_reset(r);
	r->rid = r->old_rid;
	for (unsigned i = 0; i < r->n_memb; i++)
		r->pos[r->memb[i]] = -1;
	r->n_memb = 0;
	r->my_pos = 0;
	r->commit.n = 0;
	set_add(&r->proc, r->me);
	if (extra >= 0)
		set_add(&r->proc, (unsigned)extra);
	rc_set_state(r, RING_GATHER, why);
	rt_gather_enter(r);
	round_begin(r, (r->max_round > r->epoch ? r->max_round : r->epoch) + 1);
	send_join(r);
}

/* Reads a list of a join into a set. Returns -1 if a daemon is unknown.
 * An entry naming an earlier incarnation of me is left out and sets
 * *stale (the sender will learn mine from my packets); one naming a
 * newer incarnation of another daemon teaches me that one. An earlier
 * incarnation of another daemon counts as that daemon: if a daemon the
 * sender does not know to have restarted (it has not heard it since) is
 * in my sets too, we agree on it, or fail it, all the same; otherwise a
 * daemon that never mentions the restarted one could not teach the
 * sender, and the two would never agree. */
static int join_set(struct ring *r, const struct ring_proc *p, unsigned n,
		    struct ring_set *s, int *stale)
{
	memset(s, 0, sizeof(*s));
	for (unsigned i = 0; i < n; i++) {
		int k = rc_index(r, p[i].id);

		if (k < 0)
			return -1;
		if ((unsigned)k == r->me) {
			if (p[i].inc != r->cfg.incarnation) {
				*stale = 1;
				continue;
			}
		} else if (p[i].inc > r->known_inc[k]) {
			/* Another daemon saw a newer incarnation first. We
			 * are in gather (or about to be): no state change. */
			rc_new_incarnation(r, (unsigned)k, p[i].inc);
		}
		set_add(s, (unsigned)k);
	}
	return 0;
}

static void fail_add(struct ring *r, unsigned i, const char *what)
{
	if (set_has(&r->fail, i) || i == r->me)
		return;
	set_add(&r->fail, i);
	rc_event(r, RING_EV_FAILED, r->ids[i], r->epoch, 0, what);
}

/* My sets changed: everyone must agree again, and gets consensus_ms to
 * do it (Totem). Within a round the sets only grow, so this ends. */
static void gather_changed(struct ring *r)
{
	memset(&r->consensus, 0, sizeof(r->consensus));
	set_add(&r->consensus, r->me);
	rt_consensus_restart(r);
	send_join(r);
	check_consensus(r);
}

/* A join, in the gather state. */
static void gather_join(struct ring *r, unsigned from, const struct ring_join *j)
{
	struct ring_set jp, jf, mp, mf;
	int stale = 0, changed = 0;

	if (join_set(r, j->proc, j->n_proc, &jp, &stale) != 0 ||
	    join_set(r, j->fail, j->n_fail, &jf, &stale) != 0) {
		rc_drop(r, RING_DROP_UNKNOWN, r->ids[from]);
		return;
	}
	set_add(&r->heard, from);
	if (j->epoch > r->epoch) {
		round_begin(r, j->epoch);
		changed = 1;
	}
	if (j->epoch < r->epoch) {
		/* It is a round behind and will come to mine when it hears
		 * me: only who is alive counts, not its failures. */
		mp = r->proc;
		mp.w[0] |= jp.w[0];
		mp.w[1] |= jp.w[1];
		if (!set_eq(&mp, &r->proc)) {
			r->proc = mp;
			changed = 1;
		}
		if (changed)
			gather_changed(r);
		return;
	}
	/* The same round: Totem's rules. */
	if (set_has(&r->fail, from)) {
		if (changed)
			gather_changed(r);
		return;
	}
	if (set_has(&jf, r->me)) {
		/* It has given up on me: I give up on it. */
		fail_add(r, from, "it failed me");
		changed = 1;
	} else if (!changed && !stale && set_eq(&jp, &r->proc) &&
		   set_eq(&jf, &r->fail)) {
		set_add(&r->consensus, from);
		check_consensus(r);
		return;
	}
	mp = r->proc;
	mp.w[0] |= jp.w[0];
	mp.w[1] |= jp.w[1];
	mf = r->fail;
	if (!set_has(&jf, r->me)) {
		mf.w[0] |= jf.w[0];
		mf.w[1] |= jf.w[1];
	}
	set_del(&mf, r->me);
	if (!set_eq(&mp, &r->proc) || !set_eq(&mf, &r->fail)) {
		for (unsigned i = 0; i < r->n_ids; i++)
			if (set_has(&mf, i) && !set_has(&r->fail, i))
				fail_add(r, i, "failed by another");
		r->proc = mp;
		changed = 1;
	}
	if (changed)
		gather_changed(r);
}

/* Is this join, from a member of the ring being formed, older than the
 * ring (a leftover of the round that formed it)? */
static int join_is_old(const struct ring *r, unsigned from,
		       const struct ring_join *j)
{
	for (unsigned i = 0; i < r->commit.n; i++) {
		const struct ring_commit_entry *e = &r->commit.e[i];

		if (e->proc.id != r->ids[from])
			continue;
		if (e->flags & RING_COMMIT_FILLED)
			return j->epoch <= e->epoch;
		return j->epoch <= r->commit_round;
	}
	return 0;
}

void rm_on_join(struct ring *r, unsigned from, const struct ring_hdr *h,
		const struct ring_join *j)
{
	(void)h;
	if (j->high_ring_seq > r->high_ring_seq)
		r->high_ring_seq = j->high_ring_seq;
	if (j->jseq <= r->join_jseq[from] || j->epoch < r->join_epoch[from]) {
		rc_drop(r, RING_DROP_STALE_RING, r->ids[from]);
		return;
	}
	r->join_jseq[from] = j->jseq;
	r->join_epoch[from] = j->epoch;
	switch (r->state) {
	case RING_OPERATIONAL:
		if (r->pos[from] >= 0) {
			/* A join of the round that formed this ring is late. */
			if (j->epoch <= r->memb_epoch[r->pos[from]]) {
				rc_drop(r, RING_DROP_STALE_RING, r->ids[from]);
				return;
			}
			if (j->epoch > r->max_round)
				r->max_round = j->epoch;
			rm_gather_enter(r, RING_WHY_JOIN, -1);
		} else {
			if (j->epoch > r->max_round)
				r->max_round = j->epoch;
			rm_gather_enter(r, RING_WHY_FOREIGN, (int)from);
		}
		break;
	case RING_GATHER:
		break;
	case RING_COMMIT:
	case RING_RECOVERY:
		/* Daemons outside the ring being formed wait for the next
		 * change; a member that went back to gather ends this one. */
		if (!rm_in_commit(r, from)) {
			rc_drop(r, RING_DROP_STATE, r->ids[from]);
			return;
		}
		if (join_is_old(r, from, j)) {
			rc_drop(r, RING_DROP_STALE_RING, r->ids[from]);
			return;
		}
		if (j->epoch > r->max_round)
			r->max_round = j->epoch;
		rm_gather_enter(r, RING_WHY_JOIN, -1);
		break;
	default:
		return;
	}
	gather_join(r, from, j);
}

void rm_join_timer(struct ring *r)
{
	if (r->state == RING_GATHER)
		send_join(r);
}

static void commit_forward(struct ring *r)
{
	struct ring_hdr h;
	int n;

	rc_hdr(r, &h, &r->commit_rid);
	n = ring_pkt_put_commit(r->commit_pkt, r->pkt_cap, &h, &r->commit);
	RING_ASSERT(n > 0);
	r->commit_len = (size_t)n;
	r->commit_to = r->commit.e[r->commit.idx].proc.id;
	r->st.commits_out++;
	r->st.pkts_out++;
	r->st.bytes_out += r->commit_len;
	r->io.send(r->io.ctx, r->commit_to, r->commit_pkt, r->commit_len);
	rt_commit_sent(r);
}

void rm_commit_resend(struct ring *r)
{
	if (!r->commit_len ||
	    !(r->state == RING_COMMIT ||
	      (r->state == RING_RECOVERY && !r->token_started)))
		return;
	r->st.pkts_out++;
	r->st.bytes_out += r->commit_len;
	r->io.send(r->io.ctx, r->commit_to, r->commit_pkt, r->commit_len);
	rt_commit_sent(r);
}

/* The commit token has been round once: everyone wrote its share. Enter
 * the new ring in recovery and work out what to resend. */
static void recovery_enter(struct ring *r)
{
	const struct ring_commit *k = &r->commit;
	const struct ring_seqbuf *ob = rs_old(r);
	uint64_t low = UINT64_MAX, high = 0, safe = 0;

	for (unsigned i = 0; i < RING_MAX_MEMBERS; i++)
		r->pos[i] = -1;
	r->rid = r->commit_rid;
	r->n_memb = k->n;
	r->n_group = 0;
	for (unsigned i = 0; i < k->n; i++) {
		const struct ring_commit_entry *e = &k->e[i];
		int idx = rc_index(r, e->proc.id);

		RING_ASSERT(idx >= 0);
		r->memb[i] = (uint8_t)idx;
		r->memb_inc[i] = e->proc.inc;
		r->memb_epoch[i] = e->epoch;
		r->pos[idx] = (int16_t)i;
		if ((unsigned)idx == r->me)
			r->my_pos = i;
		if (rid_eq(&e->old_ring, &r->old_rid)) {
			r->group_ids[r->n_group++] = e->proc.id;
			if (e->old_aru < low)
				low = e->old_aru;
			if (e->old_high > high)
				high = e->old_high;
			if (e->old_safe > safe)
				safe = e->old_safe;
		}
	}
	RING_ASSERT(r->n_group >= 1 && low <= high);
	/* Stability known to any member holds for all: every member of the
	 * old ring had those messages. */
	if (safe > low)
		safe = low;
	if (safe > r->old_safe)
		r->old_safe = safe;
	r->rec_low = low;
	r->rec_high = high;
	r->rec_n = r->rec_next = 0;
	/* The queue holds store_slots entries, and never needs more: a
	 * member releases a message only once it is stable (every member's
	 * aru covers it), so every member's store begins at most one above
	 * every aru, low included, and ends store_slots later. */
	RING_ASSERT(high - low <= r->cfg.store_slots);
	for (uint64_t s = low + 1; s <= high; s++) {
		int mine = rs_get(ob, s) >= 0;

		for (unsigned i = 0; i < r->my_pos && mine; i++) {
			const struct ring_commit_entry *e = &k->e[i];

			if (rid_eq(&e->old_ring, &r->old_rid) && e->old_aru >= s)
				mine = 0;
		}
		if (mine) {
			RING_ASSERT(r->rec_n < r->cfg.store_slots);
			r->rec_queue[r->rec_n++] = s;
		}
	}
	rs_clear(r, rs_cur(r));
	rc_ring_reset(r);
	rc_set_state(r, RING_RECOVERY, RING_WHY_RECOVERY);
	rt_recovery_enter(r);
}

/* The representative creates the new ring's first token. */
static void originate_token(struct ring *r)
{
	struct ring_token *t = &r->tin;

	memset(t, 0, offsetof(struct ring_token, rtr));
	t->token_seq = 1;
	rt_commit_done(r);
	rc_token_process(r, t, 1);
}

static void form_commit(struct ring *r)
{
	struct ring_commit *k = &r->commit;
	uint32_t seq = r->high_ring_seq > r->cfg.ring_seq_base ?
		       r->high_ring_seq : r->cfg.ring_seq_base;

	seq++;
	r->high_ring_seq = seq;
	r->commit_rid.rep = r->cfg.my_id;
	r->commit_rid.rep_inc = r->cfg.incarnation;
	r->commit_rid.seq = seq;
	k->n = 0;
	for (unsigned i = 0; i < r->n_ids; i++) {
		if (!set_has(&r->proc, i) || set_has(&r->fail, i))
			continue;
		memset(&k->e[k->n], 0, sizeof(k->e[0]));
		k->e[k->n].proc.id = r->ids[i];
		k->e[k->n].proc.inc = r->known_inc[i];
		k->n++;
	}
	RING_ASSERT(k->n >= 1 && k->e[0].proc.id == r->cfg.my_id);
	fill_entry(r, &k->e[0]);
	k->rotation = 0;
	k->idx = k->n > 1 ? 1 : 0;
	r->commit_round = r->epoch;
	rc_set_state(r, RING_COMMIT, RING_WHY_COMMIT);
	rt_commit_enter(r);
	if (k->n == 1) {
		/* A ring of one: both rotations are here. */
		k->rotation = 2;
		recovery_enter(r);
		originate_token(r);
		return;
	}
	commit_forward(r);
}

static void check_consensus(struct ring *r)
{
	struct ring_set m = set_minus(&r->proc, &r->fail);
	struct ring_set me = { { 0, 0 } };
	unsigned lowest;

	if (r->state != RING_GATHER || !set_sub(&m, &r->consensus))
		return;
	set_add(&me, r->me);
	/* Alone: only after waiting a consensus period for others, or once
	 * every other member of my last ring has been silent (a cut link):
	 * daemons that start together find each other first, and a daemon
	 * cut off from its ring tells its clients as soon as the others do. */
	if (set_eq(&m, &me) && !r->alone_ok)
		return;
	for (lowest = 0; lowest < r->n_ids && !set_has(&m, lowest); lowest++)
		;
	if (lowest == r->me)
		form_commit(r);
}

void rm_consensus_timeout(struct ring *r)
{
	struct ring_set m = set_minus(&r->proc, &r->fail);

	if (r->state != RING_GATHER)
		return;
	for (unsigned i = 0; i < r->n_ids; i++)
		if (i != r->me && set_has(&m, i) && !set_has(&r->consensus, i))
			fail_add(r, i, "no consensus");
	/* Also when all agreed but no commit token came: ask again, and a
	 * representative that is gone will be failed next time. */
	r->alone_ok = 1;
	gather_changed(r);
}

/* Fails the members of my last ring that sent no join this round. If
 * that leaves me alone, I form a ring of one at once: every daemon I know
 * to be alive was in my ring and is silent, so nobody is left to wait for
 * (a daemon that comes later is heard as a foreign ring and merged). */
void rm_silence_timeout(struct ring *r)
{
	struct ring_set m = set_minus(&r->proc, &r->fail);
	struct ring_set me = { { 0, 0 } };
	int changed = 0;

	if (r->state != RING_GATHER)
		return;
	for (unsigned i = 0; i < r->n_ids; i++) {
		if (i == r->me || !set_has(&m, i) || !set_has(&r->old_set, i) ||
		    set_has(&r->heard, i))
			continue;
		fail_add(r, i, "silent member");
		set_del(&m, i);
		changed = 1;
	}
	set_add(&me, r->me);
	if (changed && set_eq(&m, &me))
		r->alone_ok = 1;
	if (changed)
		gather_changed(r);
}

/* Checks the commit token's list: ids ascending and known, incarnations
 * the ones I know, me at idx, the sender just before me, and the
 * representative first. Returns 0 if all holds. */
static int commit_valid(struct ring *r, unsigned from, const struct ring_hdr *h,
			const struct ring_commit *k)
{
	unsigned prev = (k->idx + k->n - 1) % k->n;

	for (unsigned i = 0; i < k->n; i++) {
		int idx = rc_index(r, k->e[i].proc.id);

		if (idx < 0 || (i && k->e[i].proc.id <= k->e[i - 1].proc.id) ||
		    k->e[i].proc.inc != r->known_inc[idx])
			return -1;
	}
	if (k->e[k->idx].proc.id != r->cfg.my_id ||
	    k->e[prev].proc.id != r->ids[from] ||
	    k->e[0].proc.id != h->ring.rep || k->e[0].proc.inc != h->ring.rep_inc)
		return -1;
	return 0;
}

/* Moves the commit token on to the next member. */
static void commit_advance(struct ring *r)
{
	struct ring_commit *k = &r->commit;

	k->idx = (uint16_t)((k->idx + 1) % k->n);
	if (k->idx == 0)
		k->rotation++;
	commit_forward(r);
}

static void commit_copy(struct ring_commit *dst, const struct ring_commit *src)
{
	dst->n = src->n;
	dst->idx = src->idx;
	dst->rotation = src->rotation;
	memcpy(dst->e, src->e, src->n * sizeof(src->e[0]));
}

void rm_on_commit(struct ring *r, unsigned from, const struct ring_hdr *h,
		  const struct ring_commit *k)
{
	if (commit_valid(r, from, h, k) != 0) {
		rc_drop(r, RING_DROP_STATE, r->ids[from]);
		return;
	}
	switch (r->state) {
	case RING_GATHER: {
		struct ring_set m = set_minus(&r->proc, &r->fail), km;

		memset(&km, 0, sizeof(km));
		for (unsigned i = 0; i < k->n; i++)
			set_add(&km, (unsigned)rc_index(r, k->e[i].proc.id));
		if (k->rotation != 0 || !set_eq(&km, &m) ||
		    h->ring.seq <= r->old_rid.seq) {
			rc_drop(r, RING_DROP_STATE, r->ids[from]);
			return;
		}
		if (h->ring.seq > r->high_ring_seq)
			r->high_ring_seq = h->ring.seq;
		commit_copy(&r->commit, k);
		r->commit_rid = h->ring;
		fill_entry(r, &r->commit.e[k->idx]);
		r->commit_round = r->epoch;
		rc_set_state(r, RING_COMMIT, RING_WHY_COMMIT);
		rt_commit_enter(r);
		commit_advance(r);
		return;
	}
	case RING_COMMIT:
		if (!rid_eq(&h->ring, &r->commit_rid) || k->rotation != 1) {
			rc_drop(r, k->rotation == 0 ? RING_DROP_DUP : RING_DROP_STATE,
				r->ids[from]);
			return;
		}
		for (unsigned i = 0; i < k->n; i++) {
			if (!(k->e[i].flags & RING_COMMIT_FILLED)) {
				rc_drop(r, RING_DROP_MALFORMED, r->ids[from]);
				return;
			}
		}
		/* My entry must be what I wrote on the first rotation. */
		if (!rid_eq(&k->e[k->idx].old_ring, &r->old_rid) ||
		    k->e[k->idx].epoch != r->commit.e[k->idx].epoch) {
			rc_drop(r, RING_DROP_MALFORMED, r->ids[from]);
			return;
		}
		commit_copy(&r->commit, k);
		recovery_enter(r);
		commit_advance(r);
		return;
	case RING_RECOVERY:
		if (rid_eq(&h->ring, &r->rid) && k->rotation == 2 &&
		    r->my_pos == 0 && !r->token_started) {
			originate_token(r);
			return;
		}
		rc_drop(r, RING_DROP_DUP, r->ids[from]);
		return;
	default:
		rc_drop(r, RING_DROP_STATE, r->ids[from]);
		return;
	}
}

/* An old message arrived through the new ring. */
void rm_recovered_data(struct ring *r, const struct ring_data *d)
{
	struct ring_data old = *d;

	if (!rid_eq(&d->old_ring, &r->old_rid) || d->old_seq <= r->rec_low ||
	    d->old_seq > r->rec_high || rs_get(rs_old(r), d->old_seq) >= 0)
		return;
	old.seq = d->old_seq;
	old.flags = 0;
	memset(&old.old_ring, 0, sizeof(old.old_ring));
	old.old_seq = 0;
	rc_store_data(r, rs_old(r), &old, d->origin);
}

static void emit_conf(struct ring *r, int transitional, struct ring_conf_id id,
		      const uint32_t *ids, unsigned n)
{
	struct ring_conf c;

	c.transitional = transitional;
	c.id = id;
	c.n_members = n;
	c.members = ids;
	if (transitional)
		r->st.confs_trans++;
	else
		r->st.confs_regular++;
	rc_event(r, RING_EV_CONF, id.rep, id.seq | (uint64_t)id.rep_inc << 32, n,
		 transitional ? "transitional" : "regular");
	r->io.conf(r->io.ctx, &c);
}

/* Recovery is complete: EVS delivery of the old ring's messages, the
 * transitional configuration, then the new regular one. */
void rm_install(struct ring *r)
{
	struct ring_seqbuf *ob = rs_old(r);
	struct ring_conf_id tid = { .rep = r->rid.rep, .seq = r->rid.seq,
				    .rep_inc = r->rid.rep_inc };

	if (r->installed_any) {
		uint64_t s = r->old_delivered + 1;

		for (; s <= r->rec_high; s++) {
			int32_t sl = rs_get(ob, s);
			const struct ring_msg *m;

			if (sl < 0)
				break; /* a gap: nobody here has it */
			m = &r->msgs[sl];
			if (m->flags & RING_DATA_RECOVERED)
				continue;
			if (m->service == RING_SAFE && s > r->old_safe)
				break;
			rc_deliver(r, m, rs_bytes(r, sl), r->conf_id, 0);
		}
		emit_conf(r, 1, tid, r->group_ids, r->n_group);
		for (; s <= r->rec_high; s++) {
			int32_t sl = rs_get(ob, s);
			const struct ring_msg *m;

			if (sl < 0)
				continue;
			m = &r->msgs[sl];
			if (m->flags & RING_DATA_RECOVERED)
				continue;
			rc_deliver(r, m, rs_bytes(r, sl), tid, 1);
		}
	}
	rs_clear(r, ob);
	r->conf_id = tid;
	r->old_rid = r->rid;
	r->installed_any = 1;
	r->n_old = r->n_memb;
	memset(&r->old_set, 0, sizeof(r->old_set));
	for (unsigned i = 0; i < r->n_memb; i++) {
		r->old_ids[i] = r->ids[r->memb[i]];
		set_add(&r->old_set, r->memb[i]);
	}
	memset(&r->proc, 0, sizeof(r->proc));
	memset(&r->fail, 0, sizeof(r->fail));
	r->rec_n = r->rec_next = 0;
	rc_set_state(r, RING_OPERATIONAL, RING_WHY_INSTALL);
	rt_operational_enter(r);
	emit_conf(r, 0, r->conf_id, r->old_ids, r->n_old);
}
