/*
 * ring_timer.c - every deadline of the ring, and the hooks that set and
 * clear them, named after the protocol events that cause them (the style
 * of WireGuard's timers.c). Deadlines are fields of struct ring_timers,
 * in ms on the shell's clock; 0 means unset. rt_run() handles the ones
 * that are due, in a fixed order, so a run is deterministic.
 *
 *   token_loss         token_timeout_ms after the last token (Totem's
 *                      token loss timeout): the ring has failed.
 *   token_retransmit   hurry_ms after passing the token on, until a sign
 *                      that the next member has it: send it again.
 *   token_release      a held token goes on: the representative holds an
 *                      idle token token_hold_ms; a ring of one passes the
 *                      token to itself through this deadline, and parks
 *                      an idle one (no deadline) until a submission.
 *   probe              representative, every merge_ms: a merge probe, so
 *                      that rings that can hear each other merge.
 *   join               gather, every join_ms: broadcast my join message.
 *   consensus          gather, consensus_ms after the round began or my
 *                      sets last changed: fail whoever has not agreed.
 *   silence            gather, 4 join_ms after the round began: fail the members
 *                      of my old ring that sent no join at all (a member
 *                      that lost the token as I did joins at once; one
 *                      that does not has crashed or is cut off).
 *   commit_loss        token_timeout_ms in the commit state.
 *   commit_retransmit  hurry_ms after sending the commit token, until it
 *                      has moved on.
 */
#include "ring_int.h"

static void arm(struct ring *r, int64_t *t, uint32_t ms)
{
	*t = r->now + (int64_t)ms;
	if (*t == 0)
		*t = 1;
}

int64_t rt_next(const struct ring *r)
{
	const int64_t *t = &r->t.token_loss;
	int64_t best = -1;

	for (unsigned i = 0; i < sizeof(r->t) / sizeof(*t); i++)
		if (t[i] && (best < 0 || t[i] < best))
			best = t[i];
	return best;
}

static int due(struct ring *r, int64_t *t)
{
	if (*t && *t <= r->now) {
		*t = 0;
		return 1;
	}
	return 0;
}

void rt_run(struct ring *r)
{
	/* A handler may change the state and every timer; each check below
	 * reads the field afresh. The token comes first: a held token that
	 * is due must go before the ring is declared lost. */
	if (due(r, &r->t.token_release))
		rc_token_release(r);
	if (due(r, &r->t.token_retransmit))
		rc_token_resend(r);
	if (due(r, &r->t.token_loss))
		rm_gather_enter(r, RING_WHY_TOKEN_LOSS, -1);
	if (due(r, &r->t.probe))
		rc_send_probe(r);
	if (due(r, &r->t.commit_retransmit))
		rm_commit_resend(r);
	if (due(r, &r->t.commit_loss))
		rm_gather_enter(r, RING_WHY_COMMIT_TIMEOUT, -1);
	if (due(r, &r->t.silence))
		rm_silence_timeout(r);
	if (due(r, &r->t.consensus))
		rm_consensus_timeout(r);
	if (due(r, &r->t.join))
		rm_join_timer(r);
}

/* A new token visit: the ring is alive; my last token has moved on. */
void rt_token_received(struct ring *r)
{
	arm(r, &r->t.token_loss, r->cfg.token_timeout_ms);
	r->t.token_retransmit = 0;
	r->t.token_release = 0;
	r->t.commit_retransmit = 0;
}

void rt_token_passed(struct ring *r)
{
	arm(r, &r->t.token_retransmit, r->cfg.hurry_ms);
	r->t.token_release = 0;
}

void rt_token_held(struct ring *r, uint32_t hold_ms)
{
	arm(r, &r->t.token_release, hold_ms);
	r->t.token_retransmit = 0;
}

/* A ring of one with nothing to do: no deadline until a submission. */
void rt_token_parked(struct ring *r)
{
	r->t.token_release = 0;
	r->t.token_retransmit = 0;
	r->t.token_loss = 0;
}

void rt_token_release_now(struct ring *r)
{
	if (r->token_held)
		r->t.token_release = r->now ? r->now : 1;
}

/* The next member has shown that it got my token. */
void rt_token_evidence(struct ring *r)
{
	r->t.token_retransmit = 0;
}

void rt_operational_enter(struct ring *r)
{
	r->t.join = r->t.consensus = r->t.silence = 0;
	r->t.commit_loss = r->t.commit_retransmit = 0;
	if (r->my_pos == 0)
		arm(r, &r->t.probe, r->cfg.merge_ms);
	else
		r->t.probe = 0;
}

void rt_gather_enter(struct ring *r)
{
	r->t.token_loss = r->t.token_retransmit = r->t.token_release = 0;
	r->t.probe = 0;
	r->t.commit_loss = r->t.commit_retransmit = 0;
}

/* A gather round begins: consensus and silence count from now. */
void rt_round_begin(struct ring *r)
{
	arm(r, &r->t.consensus, r->cfg.consensus_ms);
	arm(r, &r->t.silence, 4 * r->cfg.join_ms);
}

void rt_join_sent(struct ring *r)
{
	arm(r, &r->t.join, r->cfg.join_ms);
}

void rt_consensus_restart(struct ring *r)
{
	arm(r, &r->t.consensus, r->cfg.consensus_ms);
}

void rt_commit_enter(struct ring *r)
{
	r->t.join = r->t.consensus = r->t.silence = 0;
	arm(r, &r->t.commit_loss, r->cfg.token_timeout_ms);
}

void rt_commit_sent(struct ring *r)
{
	arm(r, &r->t.commit_retransmit, r->cfg.hurry_ms);
}

void rt_commit_done(struct ring *r)
{
	r->t.commit_retransmit = 0;
}

void rt_recovery_enter(struct ring *r)
{
	r->t.commit_loss = 0;
	r->t.token_retransmit = r->t.token_release = 0;
	arm(r, &r->t.token_loss, r->cfg.token_timeout_ms);
}

void rt_probe_sent(struct ring *r)
{
	arm(r, &r->t.probe, r->cfg.merge_ms);
}
