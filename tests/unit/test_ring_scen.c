/*
 * test_ring_scen.c - scripted scenarios of the ring on the simulator: the
 * classic hard cases of a membership protocol, each on the same harness
 * as the random seeds (so every checker of sim_check.c runs), each ending
 * with healing, liveness and the final checks.
 *
 *   token_lost_with_retransmissions_pending
 *   partition_during_commit_rotation
 *   three_way_merge
 *   restart_under_the_same_name
 *   asymmetric_link
 *   slow_but_alive_member
 *   crash_of_the_representative, loss_burst_then_quiet (two more)
 *   restart_of_the_representative_mid_install (ring seq across a restart)
 *   restart_without_saved_state (+ _legacy_ids: the checker catches the
 *   id collision that ids without the incarnation allowed)
 *   truncated_packets, very_late_packets, majority_crash,
 *   loss_burst_on_links (the fault generator's kinds, one by one)
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "ring/ring_log.h"
#include "ring/ring_pkt.h"
#include "sim/sim.h"
#include "t.h"

static struct sim *start(unsigned n, uint64_t seed)
{
	struct sim_opts o;

	sim_opts_plain(seed, n, &o);
	o.bursts_per_s = 30;
	o.burst_max = 10;
	o.delay_us = 200;
	o.jitter_us = 300;
	o.fault_ms = 0;
	/* CHORUS_SCEN_VERBOSE=1 prints the trace of a scenario. */
	if (getenv("CHORUS_SCEN_VERBOSE"))
		o.verbose = atoi(getenv("CHORUS_SCEN_VERBOSE"));
	return sim_new(&o);
}

static void run_to(struct sim *s, int64_t ms)
{
	T_ASSERTF(sim_run_until(s, ms) == 0, "%s", sim_error(s));
}

static void finish(struct sim *s)
{
	sim_set_filter(s, NULL, NULL);
	T_ASSERTF(sim_finish(s) == 0, "%s", sim_error(s));
	sim_free(s);
}

/* Waits (simulated) until the daemons of mask are one configuration. */
static void wait_converged(struct sim *s, unsigned mask, int64_t within_ms)
{
	int64_t end = sim_now_ms(s) + within_ms;

	while (!sim_converged(s, mask)) {
		T_ASSERTF(sim_now_ms(s) < end, "no configuration of %#x within %lld ms",
			  mask, (long long)within_ms);
		run_to(s, sim_now_ms(s) + 5);
	}
}

static uint64_t total_stat(struct sim *s, unsigned n, size_t offset)
{
	uint64_t sum = 0;

	for (unsigned i = 0; i < n; i++) {
		struct ring *r = sim_ring(s, i);

		if (r)
			sum += *(const uint64_t *)(const void *)
				((const char *)ring_get_stats(r) + offset);
	}
	return sum;
}

#define STAT(s, n, field) total_stat(s, n, offsetof(struct ring_stats, field))

/* ---- token lost while retransmissions are pending ---------------------- */

struct drop_plan {
	unsigned victim;     /* data to it is lost in the first window */
	int64_t data_from_ms, data_to_ms;
	int64_t token_from_ms, token_to_ms; /* every token is lost */
	unsigned lost_data, lost_tokens;
};

static int drop_filter(void *ctx, struct sim *s, unsigned from, unsigned to,
		       int type, const uint8_t *pkt, size_t len)
{
	struct drop_plan *p = ctx;
	int64_t now = sim_now_ms(s);

	(void)from; (void)pkt; (void)len;
	if (type == RING_PKT_DATA && to == p->victim && now >= p->data_from_ms &&
	    now < p->data_to_ms) {
		p->lost_data++;
		return 1;
	}
	if (type == RING_PKT_TOKEN && now >= p->token_from_ms && now < p->token_to_ms) {
		p->lost_tokens++;
		return 1;
	}
	return 0;
}

static void token_lost_with_retransmissions_pending(void)
{
	struct sim *s = start(4, 101);
	struct drop_plan p = { 2, 1000, 1100, 1090, 1600, 0, 0 };
	uint64_t requests, trans;

	run_to(s, 900);
	wait_converged(s, 0, 1000);
	for (unsigned i = 0; i < 4; i++)
		sim_submit(s, i, 40, RING_SAFE);
	sim_set_filter(s, drop_filter, &p);
	/* Daemon 2 misses data; then, with its requests on the token, the
	 * token is lost for longer than the token timeout. */
	run_to(s, 1090);
	requests = STAT(s, 4, retrans_out);
	run_to(s, 1600);
	T_ASSERT(p.lost_data > 0 && p.lost_tokens > 0);
	trans = STAT(s, 4, confs_trans);
	T_ASSERTF(trans >= 4, "no membership change after the token was lost");
	(void)requests;
	/* What daemon 2 still missed when the ring failed came through the
	 * new ring's recovery. */
	T_ASSERTF(STAT(s, 4, recovery_msgs_out) > 0, "no recovery messages");
	finish(s);
}

/* ---- a partition during the commit token's rotation --------------------- */

struct commit_cut {
	int armed, done;
	unsigned comp[SIM_MAX_NODES];
	unsigned seen;
};

static int cut_on_commit(void *ctx, struct sim *s, unsigned from, unsigned to,
			 int type, const uint8_t *pkt, size_t len)
{
	struct commit_cut *c = ctx;

	(void)from; (void)to; (void)len;
	/* At the second commit token of the round (the first member has
	 * forwarded it), cut the network in two. */
	if (c->armed && !c->done && type == RING_PKT_COMMIT && pkt[32] == 0 &&
	    ++c->seen == 2) {
		sim_partition(s, c->comp);
		c->done = 1;
	}
	return 0;
}

static void partition_during_commit_rotation(void)
{
	struct sim *s = start(5, 102);
	struct commit_cut c = { 0, 0, { 0, 0, 0, 1, 1 }, 0 };

	run_to(s, 900);
	wait_converged(s, 0, 1000);
	sim_set_filter(s, cut_on_commit, &c);
	c.armed = 1;
	/* A crash starts a membership change; its commit token is cut. */
	sim_crash(s, 4);
	run_to(s, 2500);
	T_ASSERTF(c.done, "no commit token seen");
	/* Each side installs a ring of its own and goes on working. */
	wait_converged(s, 0x07, 2000);
	wait_converged(s, 0x08, 2000);
	sim_restart(s, 4);
	run_to(s, sim_now_ms(s) + 500);
	finish(s);
}

/* ---- a three-way merge ---------------------------------------------------- */

static void three_way_merge(void)
{
	static const unsigned comp[6] = { 0, 0, 1, 1, 2, 2 };
	struct sim *s = start(6, 103);
	struct ring_status a, b, c;

	sim_partition(s, comp);
	run_to(s, 1500);
	wait_converged(s, 0x03, 1000);
	wait_converged(s, 0x0c, 1000);
	wait_converged(s, 0x30, 1000);
	ring_get_status(sim_ring(s, 0), &a);
	ring_get_status(sim_ring(s, 2), &b);
	ring_get_status(sim_ring(s, 4), &c);
	T_ASSERT(a.n_members == 2 && b.n_members == 2 && c.n_members == 2);
	T_ASSERT(a.conf.rep != b.conf.rep && b.conf.rep != c.conf.rep &&
		 a.conf.rep != c.conf.rep);
	for (unsigned i = 0; i < 6; i++)
		sim_submit(s, i, 30, -1);
	sim_heal(s);
	wait_converged(s, 0, 2000);
	ring_get_status(sim_ring(s, 0), &a);
	T_EQ(a.n_members, 6);
	finish(s);
}

/* ---- a restart under the same name ---------------------------------------- */

static void restart_under_the_same_name(void)
{
	struct sim *s = start(4, 104);
	struct ring_status st;
	uint64_t before;

	run_to(s, 900);
	wait_converged(s, 0, 1000);
	for (unsigned i = 0; i < 4; i++)
		sim_submit(s, i, 20, RING_AGREED);
	run_to(s, 1000);
	before = STAT(s, 4, confs_regular);
	/* Back well within the token timeout: the others learn of the new
	 * incarnation from its first join, not from token loss. */
	sim_crash(s, 1);
	run_to(s, 1010);
	sim_restart(s, 1);
	wait_converged(s, 0, 2000);
	ring_get_status(sim_ring(s, 0), &st);
	T_EQ(st.n_members, 4);
	T_ASSERT(STAT(s, 4, confs_regular) > before);
	/* Someone noticed the new incarnation as such. */
	T_ASSERT(ring_get_stats(sim_ring(s, 0))->transitions[RING_WHY_RESTART] +
		 ring_get_stats(sim_ring(s, 2))->transitions[RING_WHY_RESTART] +
		 ring_get_stats(sim_ring(s, 3))->transitions[RING_WHY_RESTART] > 0);
	finish(s);
}

/* ---- an asymmetric link ----------------------------------------------------- */

static void asymmetric_link(void)
{
	struct sim *s = start(4, 105);
	uint64_t delivered;

	run_to(s, 900);
	wait_converged(s, 0, 1000);
	/* 2 no longer hears 1; 1 still hears 2. */
	sim_block(s, 1, 2, 1);
	run_to(s, 2000);
	delivered = STAT(s, 4, delivered);
	for (unsigned i = 0; i < 4; i++)
		sim_submit(s, i, 30, RING_AGREED);
	run_to(s, 4000);
	/* The segment keeps working in whatever rings it forms. */
	T_ASSERTF(STAT(s, 4, delivered) > delivered + 60, "no progress with an "
		  "asymmetric link");
	sim_block(s, 1, 2, 0);
	finish(s);
}

/* ---- a member that is slow but alive ---------------------------------------- */

static void slow_but_alive_member(void)
{
	struct sim *s = start(4, 106);
	uint64_t confs, delivered;

	run_to(s, 900);
	wait_converged(s, 0, 1000);
	confs = STAT(s, 4, confs_regular);
	delivered = STAT(s, 4, delivered);
	/* Every packet to and from 3 takes 30 ms more (token timeout 200):
	 * slower rotations, but 3 stays a member. */
	sim_set_slow(s, 3, 30000);
	for (unsigned i = 0; i < 4; i++)
		sim_submit(s, i, 50, -1);
	run_to(s, 4000);
	T_ASSERTF(STAT(s, 4, confs_regular) == confs, "a slow member was "
		  "excluded (%" PRIu64 " configurations more)",
		  STAT(s, 4, confs_regular) - confs);
	T_ASSERT(STAT(s, 4, delivered) >= delivered + 4 * 200);
	sim_set_slow(s, 3, 0);
	finish(s);
}

/* ---- more: the representative crashes; a loss burst ------------------------- */

static void crash_of_the_representative(void)
{
	struct sim *s = start(5, 107);
	struct ring_status st;
	unsigned rep = 0;

	run_to(s, 900);
	wait_converged(s, 0, 1000);
	for (unsigned i = 0; i < 5; i++) {
		ring_get_status(sim_ring(s, i), &st);
		if (st.is_rep)
			rep = i;
	}
	for (unsigned i = 0; i < 5; i++)
		sim_submit(s, i, 30, RING_SAFE);
	run_to(s, 950);
	sim_crash(s, rep);
	/* Failover: token timeout, silence of the old member, commit,
	 * recovery. */
	wait_converged(s, 0, 200 + 4 * 20 + 400);
	finish(s);
}

static void loss_burst_then_quiet(void)
{
	struct sim *s = start(5, 108);

	run_to(s, 900);
	sim_set_loss(s, 400000);
	for (unsigned i = 0; i < 5; i++)
		sim_submit(s, i, 100, -1);
	run_to(s, 2500);
	sim_set_loss(s, 0);
	finish(s);
}

/* ---- the representative's ring seq across a restart (review finding 2) ---- */

/* The shell saves high_ring_seq only at configuration changes (ring.h);
 * the simulator does the same. The (rep, seq) part of an id, which
 * clients that know no incarnation see, stays unique only if no daemon
 * installs a ring (rep, X) that the representative has not installed
 * (and so saved) first. Here the representative forms a ring whose commit is lost (a
 * ring seq it never saves), forms the next one, and is cut off and
 * crashed the moment anyone installs it; it restarts alone from what was
 * saved. It must have installed first, and its new ring must not reuse
 * the id (the checker rejects the same id with other members). */
struct rep_plan {
	unsigned rep;
	int drop_commits, isolate_rep;
	unsigned commits_dropped;
};

static int rep_filter(void *ctx, struct sim *s, unsigned from, unsigned to,
		      int type, const uint8_t *pkt, size_t len)
{
	struct rep_plan *p = ctx;

	(void)pkt; (void)len; (void)s;
	if (p->drop_commits && type == RING_PKT_COMMIT) {
		p->commits_dropped++;
		return 1;
	}
	return p->isolate_rep && (to == p->rep || from == p->rep);
}

static void restart_of_the_representative_mid_install(void)
{
	struct sim *s = start(3, 109);
	struct rep_plan p = { 0, 0, 0, 0 };
	struct ring_status st, so;
	unsigned crashed, other;
	uint32_t seq0, formed;
	static const unsigned alone[3] = { 0, 1, 1 };
	unsigned comp[3];

	run_to(s, 900);
	wait_converged(s, 0, 1000);
	for (unsigned i = 0; i < 3; i++) {
		ring_get_status(sim_ring(s, i), &st);
		if (st.is_rep)
			p.rep = i;
	}
	ring_get_status(sim_ring(s, p.rep), &st);
	seq0 = st.conf.seq;
	crashed = (p.rep + 1) % 3;
	other = (p.rep + 2) % 3;
	sim_set_filter(s, rep_filter, &p);
	p.drop_commits = 1;
	sim_crash(s, crashed);
	/* The first commit round is lost: the representative gives it up
	 * and forms another ring. */
	do {
		run_to(s, sim_now_ms(s) + 1);
		ring_get_status(sim_ring(s, p.rep), &st);
		T_ASSERTF(sim_now_ms(s) < 10000, "no second commit round");
	} while (st.high_ring_seq < seq0 + 2);
	T_ASSERT(p.commits_dropped > 0);
	formed = seq0 + 1;
	p.drop_commits = 0;
	/* Until anyone installs the next ring. */
	for (;;) {
		run_to(s, sim_now_ms(s) + 1);
		ring_get_status(sim_ring(s, other), &so);
		ring_get_status(sim_ring(s, p.rep), &st);
		if (st.conf.seq != seq0 || so.conf.seq != seq0)
			break;
	}
	p.isolate_rep = 1;
	T_ASSERTF(st.conf.seq != seq0, "daemon %u installed %08x.%u before its "
		  "representative", other, so.conf.rep, so.conf.seq);
	T_ASSERTF(st.conf.seq > formed, "ring seq %u reused (%u lost before)",
		  st.conf.seq, formed);
	sim_crash(s, p.rep);
	for (unsigned i = 0; i < 3; i++)
		comp[i] = alone[(i + 3 - p.rep) % 3];
	sim_partition(s, comp);
	p.isolate_rep = 0;
	sim_restart(s, p.rep);
	run_to(s, sim_now_ms(s) + 1500);
	ring_get_status(sim_ring(s, p.rep), &so);
	T_ASSERTF(so.conf.seq > st.conf.seq && so.n_members == 1,
		  "the restarted representative is in %08x.%u of %u",
		  so.conf.rep, so.conf.seq, so.n_members);
	sim_restart(s, crashed);
	sim_heal(s);
	finish(s);
}

/* ---- the representative restarts with nothing saved ------------------------ */

/* A shell that lost its disk restarts its daemon with ring_seq_base 1:
 * the daemon's rings count from the start again. Here the representative
 * of a ring (rep, X) of three crashes, the other two form their own
 * ring, and the representative comes back from an empty disk, hearing
 * the others (foreign packets make it gather) but never heard: it forms
 * rings of one, (rep, 2), (rep, 3) and so on, up to (rep, X) with other
 * members. Its incarnation is in the id, so the ids differ; the
 * checkers see the full ids (members and id agree for every
 * installation, no daemon installs an id twice, ring seqs grow). With
 * ids of (rep, seq) only (legacy_conf_ids: the checker sees what cores
 * before the incarnation was added reported) the same run fails: the
 * checker catches the collision. */
static int mute_filter(void *ctx, struct sim *s, unsigned from, unsigned to,
		       int type, const uint8_t *pkt, size_t len)
{
	const unsigned *mute = ctx;

	(void)s; (void)to; (void)type; (void)pkt; (void)len;
	return from == *mute;
}

static struct sim *unsaved_restart(int legacy, struct ring_conf_id *old_id,
				   struct ring_status *st, unsigned *rep)
{
	struct sim_opts o;
	struct sim *s;
	static unsigned mute;
	int64_t end;

	sim_opts_plain(115, 3, &o);
	o.bursts_per_s = 30;
	o.delay_us = 200;
	o.jitter_us = 300;
	o.legacy_conf_ids = legacy;
	if (getenv("CHORUS_SCEN_VERBOSE"))
		o.verbose = atoi(getenv("CHORUS_SCEN_VERBOSE"));
	s = sim_new(&o);
	run_to(s, 900);
	wait_converged(s, 0, 1000);
	for (unsigned i = 0; i < 3; i++) {
		ring_get_status(sim_ring(s, i), st);
		if (st->is_rep)
			*rep = i;
	}
	ring_get_status(sim_ring(s, *rep), st);
	*old_id = st->conf;
	T_ASSERT(st->n_members == 3 && old_id->rep == sim_id(s, *rep));
	sim_crash(s, *rep);
	wait_converged(s, 0, 2000);
	mute = *rep;
	sim_set_filter(s, mute_filter, &mute);
	sim_restart_lost(s, *rep);
	end = sim_now_ms(s) + 20000;
	do {
		if (sim_run_until(s, sim_now_ms(s) + 1) != 0)
			return s;
		ring_get_status(sim_ring(s, *rep), st);
		T_ASSERTF(sim_now_ms(s) < end, "the restarted daemon is at ring "
			  "seq %u, not %u", st->conf.seq, old_id->seq);
	} while (st->conf.seq < old_id->seq || st->state != RING_OPERATIONAL);
	return s;
}

static void restart_without_saved_state(void)
{
	struct ring_conf_id old_id;
	struct ring_status st;
	unsigned rep;
	struct sim *s = unsaved_restart(0, &old_id, &st, &rep);

	T_ASSERTF(sim_run_until(s, sim_now_ms(s)) == 0, "%s", sim_error(s));
	/* (rep, seq) is used again, by a configuration of other members;
	 * the incarnation tells the two apart. */
	T_ASSERT(st.conf.rep == old_id.rep && st.conf.seq == old_id.seq);
	T_ASSERT(st.n_members == 1 && st.conf.rep_inc > old_id.rep_inc);
	T_ASSERT(!ring_conf_id_eq(&st.conf, &old_id));
	finish(s);
}

static void restart_without_saved_state_legacy_ids(void)
{
	struct ring_conf_id old_id;
	struct ring_status st;
	unsigned rep;
	struct sim *s = unsaved_restart(1, &old_id, &st, &rep);

	T_ASSERTF(sim_run_until(s, sim_now_ms(s)) != 0,
		  "the checker missed the reuse of %08x.%u", old_id.rep, old_id.seq);
	T_ASSERTF(strstr(sim_error(s), "with other members than elsewhere") != NULL,
		  "%s", sim_error(s));
	sim_free(s);
}

/* ---- truncated packets, very late packets ------------------------------- */

static void truncated_packets(void)
{
	struct sim *s = start(4, 116);
	uint64_t drops, delivered;

	run_to(s, 900);
	wait_converged(s, 0, 1000);
	drops = STAT(s, 4, drops[RING_DROP_MALFORMED]) +
		STAT(s, 4, drops[RING_DROP_VERSION]);
	delivered = STAT(s, 4, delivered);
	/* One packet in ten arrives cut short (anywhere, header too) while
	 * everyone sends: to the ring, a loss it recovers from. */
	sim_set_trunc(s, 100000);
	for (unsigned i = 0; i < 4; i++)
		sim_submit(s, i, 100, -1);
	run_to(s, 2500);
	sim_set_trunc(s, 0);
	T_ASSERTF(STAT(s, 4, drops[RING_DROP_MALFORMED]) +
		  STAT(s, 4, drops[RING_DROP_VERSION]) > drops + 100,
		  "truncated packets were not dropped as malformed");
	/* The token is resent where it was cut (hurry); nothing is lost. */
	T_ASSERTF(STAT(s, 4, delivered) >= delivered + 4 * 400, "%" PRIu64 " delivered",
		  STAT(s, 4, delivered) - delivered);
	finish(s);
}

/* Copies of the packets of one ring and of the change to the next, handed
 * back after the ring has changed again and turned many times: every one
 * is dropped (stale ring, earlier incarnation, stale join, unexpected
 * commit token) and none starts a membership change. */
struct capture {
	int on;
	unsigned n;
	unsigned from[200];
	size_t len[200];
	uint8_t pkt[200][1500];
	unsigned types;
};

static int capture_filter(void *ctx, struct sim *s, unsigned from, unsigned to,
			  int type, const uint8_t *pkt, size_t len)
{
	struct capture *c = ctx;

	(void)s; (void)to;
	if (c->on && c->n < 200 && len <= sizeof(c->pkt[0]) &&
	    (c->n < 100 || !(c->types >> type & 1))) {
		c->from[c->n] = from;
		c->len[c->n] = len;
		memcpy(c->pkt[c->n++], pkt, len);
		c->types |= 1u << type;
	}
	return 0;
}

static void very_late_packets(void)
{
	struct sim *s = start(4, 117);
	static struct capture cap;
	uint64_t confs, drops, rotations;

	run_to(s, 900);
	wait_converged(s, 0, 1000);
	for (unsigned i = 0; i < 4; i++)
		sim_submit(s, i, 50, -1);
	memset(&cap, 0, sizeof(cap));
	cap.on = 1;
	sim_set_filter(s, capture_filter, &cap);
	run_to(s, 1000);
	/* The next ring: daemon 3 crashes (joins, commit tokens, recovery). */
	sim_crash(s, 3);
	wait_converged(s, 0, 2000);
	run_to(s, sim_now_ms(s) + 100);
	cap.on = 0;
	T_ASSERTF(cap.types == 0x3e, "captured packet types %#x", cap.types);
	/* And the one after: daemon 3 comes back, a new incarnation. */
	sim_restart(s, 3);
	wait_converged(s, 0, 2000);
	rotations = STAT(s, 4, rotations);
	for (unsigned i = 0; i < 4; i++)
		sim_submit(s, i, 50, -1);
	run_to(s, sim_now_ms(s) + 20 * 200);
	T_ASSERTF(STAT(s, 4, rotations) > rotations + 20, "the ring turned %" PRIu64
		  " times", STAT(s, 4, rotations) - rotations);
	confs = STAT(s, 4, confs_regular);
	drops = 0;
	for (unsigned k = 0; k < RING_DROP_N; k++)
		drops += STAT(s, 4, drops[k]);
	for (unsigned k = 0; k < cap.n; k++)
		for (unsigned to = 0; to < 4; to++)
			if (to != cap.from[k])
				sim_inject(s, cap.from[k], to, cap.pkt[k], cap.len[k]);
	run_to(s, sim_now_ms(s) + 500);
	T_ASSERTF(STAT(s, 4, confs_regular) == confs, "late packets started %" PRIu64
		  " configurations", STAT(s, 4, confs_regular) - confs);
	for (unsigned k = 0; k < RING_DROP_N; k++)
		drops -= STAT(s, 4, drops[k]);
	T_ASSERTF(-drops >= 3 * (uint64_t)cap.n, "%" PRIu64 " of %u late packets "
		  "dropped", -drops, 3 * cap.n);
	finish(s);
}

/* ---- more than half of the daemons crash at once; loss bursts on links --- */

static void majority_crash(void)
{
	struct sim *s = start(5, 118);
	struct ring_status st;
	unsigned rep = 0, down[3], k = 0;

	run_to(s, 900);
	wait_converged(s, 0, 1000);
	for (unsigned i = 0; i < 5; i++) {
		ring_get_status(sim_ring(s, i), &st);
		if (st.is_rep)
			rep = i;
		sim_submit(s, i, 40, RING_SAFE);
	}
	run_to(s, 920);
	/* Three of five, the representative among them, in the middle of
	 * the traffic; the two left form a ring of two. */
	down[k++] = rep;
	for (unsigned i = 0; k < 3; i++)
		if (i != rep)
			down[k++] = i;
	for (k = 0; k < 3; k++)
		sim_crash(s, down[k]);
	wait_converged(s, 0, 2000);
	sim_restart(s, down[0]);
	sim_restart_lost(s, down[1]);
	run_to(s, sim_now_ms(s) + 50);
	sim_restart(s, down[2]);
	wait_converged(s, 0, 3000);
	/* Then all five at once, back within a token timeout, two with
	 * nothing saved. */
	for (unsigned i = 0; i < 5; i++)
		sim_submit(s, i, 20, -1);
	run_to(s, sim_now_ms(s) + 30);
	for (unsigned i = 0; i < 5; i++)
		sim_crash(s, i);
	run_to(s, sim_now_ms(s) + 100);
	for (unsigned i = 0; i < 5; i++) {
		if (i < 2)
			sim_restart_lost(s, i);
		else
			sim_restart(s, i);
		run_to(s, sim_now_ms(s) + 40);
	}
	wait_converged(s, 0, 3000);
	finish(s);
}

static void loss_burst_on_links(void)
{
	struct sim *s = start(4, 119);
	struct ring_status st;
	unsigned victim = 0;
	uint64_t confs;

	run_to(s, 900);
	wait_converged(s, 0, 1000);
	for (unsigned i = 0; i < 4; i++) {
		ring_get_status(sim_ring(s, i), &st);
		if (!st.is_rep)
			victim = i;
		sim_submit(s, i, 60, -1);
	}
	/* One link loses everything for half a token timeout: the token is
	 * resent (hurry) and the ring holds. */
	confs = STAT(s, 4, confs_regular);
	sim_link_burst(s, (victim + 1) % 4, victim, 100);
	run_to(s, sim_now_ms(s) + 400);
	/* Every packet into one daemon for two token timeouts: the token is
	 * lost there, the ring changes, and all come back together. */
	sim_link_burst(s, SIM_ALL, victim, 400);
	for (unsigned i = 0; i < 4; i++)
		sim_submit(s, i, 60, RING_SAFE);
	run_to(s, sim_now_ms(s) + 400);
	wait_converged(s, 0, 3000);
	T_ASSERTF(STAT(s, 4, confs_regular) > confs, "no membership change");
	/* Everything out of one daemon for a token timeout and a half. */
	sim_link_burst(s, victim, SIM_ALL, 300);
	run_to(s, sim_now_ms(s) + 300);
	wait_converged(s, 0, 3000);
	finish(s);
}

static const struct t_case cases[] = {
	T_CASE(token_lost_with_retransmissions_pending),
	T_CASE(partition_during_commit_rotation),
	T_CASE(three_way_merge),
	T_CASE(restart_under_the_same_name),
	T_CASE(asymmetric_link),
	T_CASE(slow_but_alive_member),
	T_CASE(crash_of_the_representative),
	T_CASE(loss_burst_then_quiet),
	T_CASE(restart_of_the_representative_mid_install),
	T_CASE(restart_without_saved_state),
	T_CASE(restart_without_saved_state_legacy_ids),
	T_CASE(truncated_packets),
	T_CASE(very_late_packets),
	T_CASE(majority_crash),
	T_CASE(loss_burst_on_links),
};

int main(int argc, char **argv)
{
	return t_main(argc, argv, cases, T_COUNT(cases));
}
