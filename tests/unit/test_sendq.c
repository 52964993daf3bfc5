/*
 * test_sendq.c - the pure sending core (src/log/sendq.c): the size and
 * latency rules, the window, acknowledgements (one writer and N),
 * timeouts with doubling, gap reports and stale gap reports, reconnects,
 * plain mode, gap hold-off, base and EOF fields; and a seeded simulation
 * of a sender, a lossy daemon and several writers (late replica, lost
 * state, --acks 2), run to quiescence and checked exactly-once; and one
 * core per group over one spool stream of two groups.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log/sendq.h"
#include "log/spool.h"
#include "proto/batch.h"
#include "t.h"

static const struct sq_config base_cfg = {
	.batch_bytes = 1000, .latency_ms = 200, .window = 4,
	.ack_timeout_ms = 1000, .ack_timeout_max_ms = 8000, .acks_needed = 1,
	.gap_holdoff_ms = 100,
};

static struct spool_cursor at(uint64_t seq)
{
	struct spool_cursor c = { seq, 1, seq * 10 };

	return c;
}

/* Sends `count` lines from next_seq. */
static uint64_t send(struct sendq *sq, int64_t now, uint32_t count)
{
	uint64_t id = sq_next_id(sq);
	struct spool_cursor c = at(sq->next_seq);

	sq_sent(sq, now, id, sq->next_seq, count, &c);
	return id;
}

static void sendq_size_and_latency(void)
{
	struct sendq sq;

	sq_init(&sq, &base_cfg, 0, 1, 1000000);
	T_EQ(sq.next_seq, 1);
	/* Not connected: nothing goes. */
	sq_note_pending(&sq, 1000, 5);
	T_EQ(sq_may_send(&sq, 5000, 5, 5000), 0);
	sq_connected(&sq, 1000);
	uint64_t seq;
	struct spool_cursor hint;
	int ok;
	T_EQ(sq_take_rewind(&sq, &seq, &hint, &ok), 1);
	T_EQ(seq, 1);
	T_EQ(ok, 0);
	/* After a connect everything goes at once. */
	T_EQ(sq_may_send(&sq, 1000, 5, 50), 1);
	T_ASSERT(sq_deadline(&sq, 5) <= 1000);
	sq_note_pending(&sq, 1000, 0);
	T_EQ(sq.pending_since, -1);
	/* A few lines wait for the latency limit... */
	sq_note_pending(&sq, 2000, 3);
	T_EQ(sq_may_send(&sq, 2000, 3, 300), 0);
	T_EQ(sq_may_send(&sq, 2199, 3, 300), 0);
	T_EQ(sq_deadline(&sq, 3), 2200);
	T_EQ(sq_may_send(&sq, 2200, 3, 300), 1);
	/* ...a full batch goes at once. */
	T_EQ(sq_may_send(&sq, 2000, 30, 1000), 1);
	/* Later arrivals do not restart the clock. */
	sq_note_pending(&sq, 2100, 6);
	T_EQ(sq.pending_since, 2000);
	/* Flushing at end of input ignores the wait. */
	sq_flush(&sq);
	T_EQ(sq_may_send(&sq, 2001, 3, 300), 1);
	T_EQ(sq_deadline(&sq, 3), 0);
}

static void sendq_window_and_ack(void)
{
	struct sendq sq;

	sq_init(&sq, &base_cfg, 100, 1, 1000000);
	sq_connected(&sq, 0);
	sq.rewind = 0;
	for (int i = 0; i < 4; i++) {
		T_EQ(sq_may_send(&sq, 0, 100, 5000), 1);
		T_EQ(send(&sq, 10 * i, 10), (uint64_t)i + 1);
	}
	T_EQ(sq.ninflight, 4);
	T_EQ(sq.next_seq, 141);
	T_EQ(sq_may_send(&sq, 50, 100, 5000), 0);
	T_EQ(sq.ack_deadline, 1000);
	T_EQ(sq_deadline(&sq, 100), 1000);
	/* An ack for the first two batches opens the window. */
	T_EQ(sq_on_ack(&sq, 60, "w", 1, 120, 2, 0), 1);
	T_EQ(sq.acked, 120);
	T_EQ(sq.ninflight, 2);
	/* Progress at 60 restarts the clock. */
	T_EQ(sq.ack_deadline, 1060);
	T_EQ(sq_may_send(&sq, 60, 100, 5000), 1);
	/* An old ack moves nothing. */
	T_EQ(sq_on_ack(&sq, 70, "w", 1, 110, 1, 0), 0);
	T_EQ(sq.acked, 120);
	/* All acknowledged: no deadline. */
	T_EQ(sq_on_ack(&sq, 80, "w", 1, 140, 4, 0), 1);
	T_EQ(sq.ninflight, 0);
	T_EQ(sq.ack_deadline, -1);
	T_EQ(sq_deadline(&sq, 0), -1);
}

static void sendq_timeout_doubling(void)
{
	struct sendq sq;
	uint64_t seq;
	struct spool_cursor hint;
	int ok;

	sq_init(&sq, &base_cfg, 0, 1, 1000000);
	sq_connected(&sq, 0);
	sq_take_rewind(&sq, &seq, &hint, &ok);
	send(&sq, 0, 10);
	send(&sq, 0, 10);
	sq_tick(&sq, 999);
	T_EQ(sq.timeouts, 0);
	sq_tick(&sq, 1000);
	T_EQ(sq.timeouts, 1);
	T_EQ(sq.ninflight, 0);
	T_EQ(sq_take_rewind(&sq, &seq, &hint, &ok), 1);
	T_EQ(seq, 1);
	T_EQ(ok, 1);
	T_EQ(hint.seq, 1);
	T_EQ(sq.ack_timeout_cur, 2000);
	for (int i = 0; i < 5; i++) {
		int64_t now = 10000 * (i + 1);

		send(&sq, now, 5);
		sq_tick(&sq, now + sq.ack_timeout_cur);
		sq_take_rewind(&sq, &seq, &hint, &ok);
	}
	T_EQ(sq.ack_timeout_cur, 8000);
	/* Progress resets the timeout. */
	send(&sq, 100000, 5);
	T_EQ(sq_on_ack(&sq, 100001, "w", 1, 3, 0, 0), 1);
	T_EQ(sq.ack_timeout_cur, 1000);
	T_EQ(sq.ack_deadline, 101001);
}

static void sendq_gap(void)
{
	struct sendq sq;
	uint64_t seq, id3;
	struct spool_cursor hint;
	int ok;

	sq_init(&sq, &base_cfg, 0, 1, 1000000);
	sq_connected(&sq, 0);
	sq_take_rewind(&sq, &seq, &hint, &ok);
	send(&sq, 0, 10);          /* 1..10, id 1 */
	send(&sq, 0, 10);          /* 11..20, id 2 */
	id3 = send(&sq, 0, 10);    /* 21..30, id 3 */
	/* The writer missed batch 1 and refuses batch 2: resend from 1. */
	T_EQ(sq_on_ack(&sq, 5, "w", 1, 0, 2, 1), 0);
	T_EQ(sq.gap_acks, 1);
	T_EQ(sq_take_rewind(&sq, &seq, &hint, &ok), 1);
	T_EQ(seq, 1);
	T_EQ(ok, 1);
	/* Its refusal of batch 3, sent before the rewind, is stale. */
	T_EQ(sq_on_ack(&sq, 6, "w", 1, 0, id3, 1), 0);
	T_EQ(sq.gap_acks, 1);
	T_EQ(sq_take_rewind(&sq, &seq, &hint, &ok), 0);
	/* A gap report for a batch sent after the rewind counts. */
	send(&sq, 7, 10);          /* 1..10 again, id 4 */
	send(&sq, 7, 10);          /* 11..20, id 5 */
	send(&sq, 7, 10);          /* 21..30, id 6 */
	T_EQ(sq_on_ack(&sq, 8, "w", 1, 10, 5, 1), 1);
	T_EQ(sq.gap_acks, 2);
	/* ...but within the hold-off of the last gap resend it waits. */
	T_EQ(sq.gaps_held, 1);
	T_EQ(sq_take_rewind(&sq, &seq, &hint, &ok), 0);
	T_EQ(sq_deadline(&sq, 0), 105);
	sq_tick(&sq, 104);
	T_EQ(sq_take_rewind(&sq, &seq, &hint, &ok), 0);
	sq_tick(&sq, 105);
	T_EQ(sq_take_rewind(&sq, &seq, &hint, &ok), 1);
	T_EQ(seq, 11);
	T_EQ(sq.gap_resends, 2);
}

/* A flood of gap reports (a writer that keeps refusing) makes at most
 * one resend per hold-off. */
static void sendq_gap_rate_limit(void)
{
	struct sendq sq;
	uint64_t seq;
	struct spool_cursor hint;
	int ok;

	sq_init(&sq, &base_cfg, 0, 1, 1000000);
	sq_connected(&sq, 0);
	sq_take_rewind(&sq, &seq, &hint, &ok);
	for (int64_t now = 0; now < 1000; now++) {
		uint64_t id;

		sq_tick(&sq, now);
		sq_take_rewind(&sq, &seq, &hint, &ok);
		id = send(&sq, now, 10);
		sq_on_ack(&sq, now, "bad", 3, 0, id, 1);
	}
	T_ASSERTF(sq.gap_resends <= 11, "%llu resends in 1 s",
		  (unsigned long long)sq.gap_resends);
	T_ASSERT(sq.gap_resends >= 9);
}

/* Base and EOF fields; acks beyond the spool are clamped; a writer that
 * is behind the spool's base is resent from the base, one behind the
 * stream's acked value from its own position. */
static void sendq_base_and_eof(void)
{
	struct sq_config cfg = base_cfg;
	struct sendq sq;
	uint64_t seq, base, held;
	struct spool_cursor hint;
	uint8_t flags;
	int ok;

	sq_init(&sq, &cfg, 500, 401, 1001);
	T_EQ(sq.next_seq, 501);
	sq_batch_fields(&sq, 501, 10, 401, 0, &base, &held, &flags);
	T_EQ(base, 401);
	T_EQ(held, 0);
	T_EQ(flags, 0);
	/* After a hole (650..699), the run starts at first, and the lines
	 * below the hole that the spool holds are announced. */
	sq_batch_fields(&sq, 700, 10, 700, 649, &base, &held, &flags);
	T_EQ(base, 700);
	T_EQ(held, 649);
	/* Held lines below the spool's base are not: they cannot be sent. */
	sq_note_spool(&sq, 690, 1001);
	sq_batch_fields(&sq, 700, 10, 700, 649, &base, &held, &flags);
	T_EQ(held, 0);
	sq_note_spool(&sq, 401, 1001);
	sq_flush(&sq);
	sq_batch_fields(&sq, 991, 10, 401, 0, &base, &held, &flags);
	T_EQ(flags, BATCH_F_EOF);
	sq_batch_fields(&sq, 981, 10, 401, 0, &base, &held, &flags);
	T_EQ(flags, 0);
	sq_connected(&sq, 0);
	sq_take_rewind(&sq, &seq, &hint, &ok);
	T_EQ(seq, 501);
	send(&sq, 0, 100);
	T_EQ(sq_on_ack(&sq, 1, "a", 1, 600, 1, 0), 1);
	T_EQ(sq.acked, 600);
	/* A new writer (nothing stored) refuses: resend from the base. */
	send(&sq, 2, 100);
	T_EQ(sq_on_ack(&sq, 3, "new", 3, 0, 2, 1), 0);
	T_EQ(sq_take_rewind(&sq, &seq, &hint, &ok), 1);
	T_EQ(seq, 401);
	T_EQ(sq.pass_end, 701);
	/* The writer that is ahead acknowledges more: no skip ahead while
	 * the catch-up pass runs. */
	send(&sq, 400, 50);
	T_EQ(sq_on_ack(&sq, 401, "a", 1, 700, 2, 0), 1);
	T_EQ(sq_take_rewind(&sq, &seq, &hint, &ok), 0);
	T_EQ(sq.next_seq, 451);
	/* A bogus ack far beyond the spool is clamped. */
	T_EQ(sq_on_ack(&sq, 402, "a", 1, 99999, 3, 0), 1);
	T_EQ(sq.acked, 1000);
	T_EQ(sq.acks_clamped, 1);
	/* Everything held is done. */
	T_EQ(sq_done(&sq, 1000), 1);
	T_EQ(sq_done(&sq, 1001), 0);
	T_EQ(sq_done(&sq, 0), 1);
}

static void sendq_n_writers(void)
{
	struct sq_config cfg = base_cfg;
	struct sendq sq;
	uint64_t seq;
	struct spool_cursor hint;
	int ok;

	cfg.acks_needed = 2;
	sq_init(&sq, &cfg, 0, 1, 1000000);
	sq_connected(&sq, 0);
	sq_take_rewind(&sq, &seq, &hint, &ok);
	send(&sq, 0, 10);
	send(&sq, 0, 10);
	T_EQ(sq_on_ack(&sq, 1, "a", 1, 20, 2, 0), 0);
	T_EQ(sq.acked, 0);
	T_EQ(sq_on_ack(&sq, 2, "b", 1, 10, 1, 0), 1);
	T_EQ(sq.acked, 10);
	T_EQ(sq_on_ack(&sq, 3, "c", 1, 20, 2, 0), 1);
	T_EQ(sq.acked, 20);
	T_EQ(sq.nwriters, 3);
}

static void sendq_plain(void)
{
	struct sq_config cfg = base_cfg;
	struct sendq sq;

	cfg.plain = 1;
	sq_init(&sq, &cfg, 0, 1, 1000000);
	sq_connected(&sq, 0);
	sq.rewind = 0;
	send(&sq, 0, 10);
	T_EQ(sq.acked, 10);
	T_EQ(sq.ninflight, 0);
	T_EQ(sq.ack_deadline, -1);
}

/* A seeded simulation of one stream: a sender (the core, with a spool
 * that trims whole 100-line segments below what is done), a daemon that
 * delivers each batch to every writer in one order and acknowledgements
 * back in FIFO order, after random delays, and up to three writers, each
 * with its own high-water mark (batch_rx). Faults, all from the seed: the
 * sender's connection drops (everything in transit lost), a writer is
 * away for a while (batches meanwhile never reach it), a writer loses its
 * state (starts again from hwm 0, as a replaced writer does), and a
 * writer joins late (a new replica). Safety, checked at every store: a
 * writer stores each line at most once since it last lost its state, in
 * order, never skipping a line the sender still held (only lines below
 * the base it was told, counted as lost). Liveness: the stream is done
 * (acked by acks_needed writers) within a bound, and every writer that is
 * needed for that, or that joined while lines were flowing, has every
 * line from where it could start. */
#define SIM_LINES 20000
#define SIM_Q 8192
#define SIM_WRITERS 3

struct sim_msg {
	int is_ack, writer, gap;
	uint64_t first, id, acked, base;
	uint32_t count;
	int64_t at;
	uint64_t held;         /* held_below of a batch */
};

struct sim_writer {
	struct batch_rx rx;
	int present;           /* has joined */
	int away;              /* steps left away */
	uint64_t stored, lost;
};

struct sim_spec {
	const char *name;
	int nwriters;
	unsigned acks_needed;
	int late;              /* writer 1 joins after this many lines (0: at once) */
	int lose_state;        /* writer 0 loses its state after this many (0: never) */
	uint64_t hole;         /* lines hole .. hole + SIM_HOLE - 1 are numbered
				  but never stored (0: none) */
	int away_at;           /* writer 1 goes away for away_len steps after
				  this many lines (0: never) */
	int away_len;
};

#define SIM_HOLE 100

/* 1 if line seq of run sp is in its hole. */
static int in_hole(const struct sim_spec *sp, uint64_t seq)
{
	return sp->hole && seq >= sp->hole && seq < sp->hole + SIM_HOLE;
}

static uint64_t sim_gap_resends, sim_timeouts, sim_rewinds, sim_lost;

static void sim_run(const struct sim_spec *sp, unsigned seed)
{
	static struct sim_msg q[SIM_Q];
	struct sq_config cfg = base_cfg;
	struct sim_writer w[SIM_WRITERS];
	struct sendq sq;
	size_t nq = 0;
	uint64_t spooled = 0, base = 1;
	int64_t now = 0;
	unsigned s = seed;
	int step, lost_state = 0, went_away = 0;
	unsigned complete = 0;
	char wid[SIM_WRITERS][2] = { "a", "b", "c" };

	cfg.window = 1 + (uint32_t)(rand_r(&s) % 16);
	cfg.acks_needed = sp->acks_needed;
	sq_init(&sq, &cfg, 0, 1, 1);
	memset(w, 0, sizeof(w));
	for (int i = 0; i < sp->nwriters; i++) {
		w[i].present = !(i == 1 && sp->late);
	}
	sq_connected(&sq, now);
	for (step = 0; step < 3000000; step++) {
		uint64_t seq, unsent;
		struct spool_cursor hint;
		int ok, done;

		now += rand_r(&s) % 20;
		if (spooled < SIM_LINES)
			spooled += rand_r(&s) % 50;
		if (spooled > SIM_LINES)
			spooled = SIM_LINES;
		/* The spool trims whole segments of 100 below what is done,
		 * never the one being written. */
		while (base + 100 <= sq.acked + 1 && base + 100 <= spooled)
			base += 100;
		sq_note_spool(&sq, base, spooled + 1);
		if (sp->late && !w[1].present && spooled >= (uint64_t)sp->late)
			w[1].present = 1;
		if (sp->away_at && !went_away && spooled >= (uint64_t)sp->away_at) {
			went_away = 1;
			w[1].away = sp->away_len;
		}
		if (sp->lose_state && !lost_state && spooled >= (uint64_t)sp->lose_state) {
			lost_state = 1;
			memset(&w[0].rx, 0, sizeof(w[0].rx));
			w[0].stored = w[0].lost = 0;
		}
		switch (rand_r(&s) % 300) {
		case 0: /* the sender's connection drops */
			nq = 0;
			sq_disconnected(&sq);
			sq_connected(&sq, now);
			break;
		case 1: /* a writer goes away for a while */
			w[rand_r(&s) % sp->nwriters].away = 1 + rand_r(&s) % 200;
			break;
		}
		for (int i = 0; i < sp->nwriters; i++)
			if (w[i].away)
				w[i].away--;
		sq_tick(&sq, now);
		if (sq_take_rewind(&sq, &seq, &hint, &ok) && seq < base)
			t_fail(__FILE__, __LINE__, "seed %u: rewind below the base", seed);
		unsent = spooled >= sq.next_seq ? spooled - sq.next_seq + 1 : 0;
		sq_note_pending(&sq, now, unsent);
		while (sq_may_send(&sq, now, unsent, unsent * 100) && nq < SIM_Q) {
			uint32_t n = unsent > 10 ? 10 : (uint32_t)unsent;
			uint64_t id = sq_next_id(&sq), b, held, first = sq.next_seq;
			uint64_t run = base, below = 0;
			struct spool_cursor c;
			uint8_t flags;

			T_ASSERT(sq.next_seq >= base);
			/* The spool's read skips the hole and stops before it;
			 * the run after the hole starts at its end. */
			if (in_hole(sp, first))
				first = sp->hole + SIM_HOLE;
			if (first > spooled) {
				sq_stalled(&sq, now);
				break;
			}
			if (first + n - 1 > spooled)
				n = (uint32_t)(spooled - first + 1);
			if (sp->hole && first < sp->hole && first + n > sp->hole)
				n = (uint32_t)(sp->hole - first);
			if (sp->hole && first >= sp->hole + SIM_HOLE && base < sp->hole + SIM_HOLE) {
				run = sp->hole + SIM_HOLE;
				below = sp->hole > base ? sp->hole - 1 : 0;
			}
			c = at(first);
			sq_batch_fields(&sq, first, n, run, below, &b, &held, &flags);
			q[nq++] = (struct sim_msg){ .first = first, .id = id, .base = b,
						    .count = n, .writer = -1,
						    .at = now + rand_r(&s) % 30, .held = held };
			sq_sent(&sq, now, id, first, n, &c);
			unsent = spooled >= sq.next_seq ? spooled - sq.next_seq + 1 : 0;
			sq_note_pending(&sq, now, unsent);
		}
		/* Deliver what is due, in order. */
		while (nq && q[0].at <= now) {
			struct sim_msg m = q[0];

			memmove(q, q + 1, --nq * sizeof(*q));
			if (m.is_ack) {
				sq_on_ack(&sq, now, wid[m.writer], 1, m.acked, m.id, m.gap);
				continue;
			}
			for (int i = 0; i < sp->nwriters; i++) {
				struct sim_writer *x = &w[i];
				struct batch_hdr h;
				uint32_t skip;
				uint64_t lost, before = x->rx.hwm;
				int v;

				if (!x->present || x->away)
					continue;
				memset(&h, 0, sizeof(h));
				h.first_seq = m.first;
				h.base_seq = m.base;
				h.count = m.count;
				h.has_held_below = 1;
				h.held_below = m.held;
				v = batch_rx_judge(&x->rx, &h, &skip, &lost);
				if (v == BATCH_V_STORE) {
					/* Lost lines are only ever below the
					 * base: lines the sender no longer had
					 * (trimmed, or in the hole). */
					T_ASSERTF(lost == 0 || m.base == before + 1 + lost,
						  "seed %u (%s): lost %llu", seed, sp->name,
						  (unsigned long long)lost);
					for (uint64_t l = before + 1; lost && l < m.base; l++)
						T_ASSERTF(l < base || in_hole(sp, l),
							  "seed %u (%s): writer %d skipped line "
							  "%llu, which the sender holds", seed,
							  sp->name, i, (unsigned long long)l);
					x->lost += lost;
					x->stored += m.count - skip;
					batch_rx_commit(&x->rx, &h, lost);
					T_EQ(x->rx.hwm, m.first + m.count - 1);
				}
				if (nq < SIM_Q)
					q[nq++] = (struct sim_msg){ 1, i, v == BATCH_V_GAP, 0, m.id,
						x->rx.hwm, 0, 0, now + rand_r(&s) % 30, 0 };
			}
		}
		done = sq.acked == SIM_LINES && spooled == SIM_LINES;
		if (done)
			break;
	}
	sim_gap_resends += sq.gap_resends;
	sim_timeouts += sq.timeouts;
	sim_rewinds += sq.rewinds;
	for (int i = 0; i < sp->nwriters; i++)
		sim_lost += w[i].lost;
	T_ASSERTF(sq.acked == SIM_LINES, "seed %u (%s): acked %llu after %d steps", seed,
		  sp->name, (unsigned long long)sq.acked, step);
	for (int i = 0; i < sp->nwriters; i++) {
		struct sim_writer *x = &w[i];

		if (!x->present)
			continue;
		/* Exactly once since it started (or lost its state): every
		 * line up to its hwm stored once or, if the sender no longer
		 * had it (acknowledged by others and trimmed before this
		 * writer came, or while it was away with acks 1), counted as
		 * lost. */
		T_ASSERTF(x->stored + x->lost == x->rx.hwm,
			  "seed %u (%s): writer %d stored %llu and lost %llu of 1..%llu",
			  seed, sp->name, i, (unsigned long long)x->stored,
			  (unsigned long long)x->lost, (unsigned long long)x->rx.hwm);
		complete += x->rx.hwm == SIM_LINES;
	}
	/* At least acks_needed writers have everything. (With fewer acks
	 * than writers, one that missed the last batches catches up when
	 * the next batch shows it the gap.) */
	T_ASSERTF(complete >= sp->acks_needed, "seed %u (%s): %u writers complete", seed,
		  sp->name, complete);
	if (sp->late) {
		/* The late replica got something, from no later than the
		 * base when it joined. */
		T_ASSERTF(w[1].stored > 0, "seed %u: late replica stored nothing", seed);
	}
}

static void sendq_simulation(void)
{
	static const struct sim_spec specs[] = {
		{ "one writer", 1, 1, 0, 0, 0, 0, 0 },
		{ "two writers, acks 1", 2, 1, 0, 0, 0, 0, 0 },
		{ "late replica, acks 1", 2, 1, 8000, 0, 0, 0, 0 },
		{ "late replica, acks 2", 2, 2, 8000, 0, 0, 0, 0 },
		{ "lost state", 1, 1, 0, 9000, 0, 0, 0 },
		{ "acks 2 of 3, lost state", 3, 2, 0, 7000, 0, 0, 0 },
		/* A hole (lines numbered but not stored, as on a failing
		 * disk) and a replica that is away while the lines before it
		 * go out, and comes back in the middle of a resend pass. */
		{ "hole, writer behind, acks 2", 2, 2, 0, 0, 9001, 8700, 250 },
		{ "hole, writer behind, acks 1", 2, 1, 0, 0, 9001, 8700, 250 },
		{ "hole, late replica, acks 1", 2, 1, 8000, 0, 9001, 0, 0 },
	};
	unsigned seed = (unsigned)time(NULL);

	printf("seed %u\n", seed);
	for (size_t k = 0; k < T_COUNT(specs); k++) {
		sim_gap_resends = sim_timeouts = sim_rewinds = sim_lost = 0;
		for (int run = 0; run < 25; run++)
			sim_run(&specs[k], seed + (unsigned)(k * 100 + (size_t)run));
		/* To stderr, kept in test-log.txt: what the faults made the
		 * core do. */
		fprintf(stderr, "test_sendq: simulation \"%s\": 25 runs, %llu gap resends, "
			"%llu timeouts, %llu rewinds, %llu lines lost to writers\n", specs[k].name,
			(unsigned long long)sim_gap_resends, (unsigned long long)sim_timeouts,
			(unsigned long long)sim_rewinds, (unsigned long long)sim_lost);
	}
}

/* ---- One core per group over one spool ---- */

static const char *const gnames[] = { "a", "b" };

static void open_ab(struct spool *sp, const char *gdir)
{
	struct spool_opts o;
	char err[256];

	memset(&o, 0, sizeof(o));
	o.max_bytes = 4 << 20;
	o.max_line = 4096;
	o.boot_id = 1;
	o.groups = gnames;
	o.ngroups = 2;
	T_ASSERTF(spool_open(sp, gdir, &o, err, sizeof(err)) == 0, "%s", err);
}

/* The core of group g, as the sender starts it from the spool. */
static void core_of(struct sendq *sq, struct spool *sp, unsigned g)
{
	struct spool_stats ss;

	spool_group_stats(sp, g, &ss);
	sq_init(sq, &base_cfg, ss.acked, ss.base, ss.next_seq);
}

/* Lines 1 .. n of ~100 bytes, so that they fill several segments. */
static void fill(struct spool *sp, uint64_t n)
{
	static char buf[1 << 16];
	struct spool_io io;
	size_t o = 0;

	for (uint64_t s = 1; s <= n; s++) {
		o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%llu %090d\n",
				      (unsigned long long)s, 0);
		if (o > sizeof(buf) - 200 || s == n) {
			T_EQ(spool_append(sp, buf, o, &io), 0);
			o = 0;
		}
	}
}

/* Two groups of one stream: each core has its own writers and its own
 * acknowledged line; the spool keeps what the slower one lacks, and a
 * restart starts each core where its group was. */
static void sendq_groups_one_spool(void)
{
	char dir[64], gdir[128], cmd[128];
	struct spool sp;
	struct spool_stats all;
	struct sendq qa, qb;
	uint64_t seq;
	struct spool_cursor hint;
	int ok;

	snprintf(dir, sizeof(dir), "/tmp/chorus-sendq-XXXXXX");
	T_ASSERT(mkdtemp(dir) != NULL);
	snprintf(gdir, sizeof(gdir), "%s/a@n", dir);
	open_ab(&sp, gdir);
	fill(&sp, 40000);
	core_of(&qa, &sp, 0);
	core_of(&qb, &sp, 1);
	sq_connected(&qa, 0);
	sq_connected(&qb, 0);
	for (uint64_t first = 1; first <= 40000; first += 10000) {
		struct spool_cursor c = at(first);

		sq_sent(&qa, 1, sq_next_id(&qa), first, 10000, &c);
		sq_sent(&qb, 1, sq_next_id(&qb), first, 10000, &c);
	}
	/* Group a's writer has everything; its acknowledgement names its
	 * stream, so only its core moves. */
	T_EQ(sq_on_ack(&qa, 2, "wa", 2, 40000, 4, 0), 1);
	T_EQ(spool_ack(&sp, 0, qa.acked), 0);
	T_EQ(qb.acked, 0);
	spool_stats(&sp, &all);
	T_EQ(all.base, 1);
	T_EQ(all.acked, 0);
	/* Group b's writer has the first 15000: the spool goes up to there. */
	T_EQ(sq_on_ack(&qb, 3, "wb", 2, 15000, 2, 0), 1);
	T_EQ(spool_ack(&sp, 1, qb.acked), 0);
	spool_stats(&sp, &all);
	T_EQ(all.acked, 15000);
	T_ASSERT(all.base > 1 && all.base <= 15001);
	/* Group a's core is done, b's is not. */
	T_EQ(sq_done(&qa, all.last_held), 1);
	T_EQ(sq_done(&qb, all.last_held), 0);
	T_EQ(spool_save_state(&sp), 0);
	spool_close(&sp);
	/* A restart: each core from its group's line. */
	open_ab(&sp, gdir);
	core_of(&qa, &sp, 0);
	core_of(&qb, &sp, 1);
	T_EQ(qa.acked, 40000);
	T_EQ(qb.acked, 15000);
	sq_connected(&qa, 10);
	sq_connected(&qb, 10);
	T_EQ(sq_take_rewind(&qa, &seq, &hint, &ok), 1);
	T_EQ(seq, 40001);
	T_EQ(sq_take_rewind(&qb, &seq, &hint, &ok), 1);
	T_EQ(seq, 15001);
	spool_close(&sp);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	T_EQ(system(cmd), 0);
}

static const struct t_case cases[] = {
	T_CASE(sendq_size_and_latency),
	T_CASE(sendq_window_and_ack),
	T_CASE(sendq_timeout_doubling),
	T_CASE(sendq_gap),
	T_CASE(sendq_gap_rate_limit),
	T_CASE(sendq_base_and_eof),
	T_CASE(sendq_n_writers),
	T_CASE(sendq_plain),
	T_CASE(sendq_groups_one_spool),
	T_CASE_TIMEOUT(sendq_simulation, 60),
};

int main(int argc, char **argv)
{
	return t_main(argc, argv, cases, T_COUNT(cases));
}
