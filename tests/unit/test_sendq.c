/*
 * test_sendq.c - the pure sending core (src/log/sendq.c): the size and
 * latency rules, the window, acknowledgements (one writer and N),
 * timeouts with doubling, gap reports and stale gap reports, reconnects,
 * plain mode; and a seeded simulation of a sender, a lossy connection and
 * a writer that restarts, run to quiescence and checked exactly-once.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log/sendq.h"
#include "proto/batch.h"
#include "t.h"

static const struct sq_config base_cfg = {
	.batch_bytes = 1000, .latency_ms = 200, .window = 4,
	.ack_timeout_ms = 1000, .ack_timeout_max_ms = 8000, .acks_needed = 1,
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

	sq_init(&sq, &base_cfg, 0);
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
	sq.flushing = 1;
	T_EQ(sq_may_send(&sq, 2001, 3, 300), 1);
	T_EQ(sq_deadline(&sq, 3), 0);
}

static void sendq_window_and_ack(void)
{
	struct sendq sq;

	sq_init(&sq, &base_cfg, 100);
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

	sq_init(&sq, &base_cfg, 0);
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

	sq_init(&sq, &base_cfg, 0);
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
	T_EQ(sq_on_ack(&sq, 8, "w", 1, 10, 5, 1), 1);
	T_EQ(sq.gap_acks, 2);
	T_EQ(sq_take_rewind(&sq, &seq, &hint, &ok), 1);
	T_EQ(seq, 11);
	T_EQ(hint.seq, 11);
}

static void sendq_n_writers(void)
{
	struct sq_config cfg = base_cfg;
	struct sendq sq;
	uint64_t seq;
	struct spool_cursor hint;
	int ok;

	cfg.acks_needed = 2;
	sq_init(&sq, &cfg, 0);
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
	sq_init(&sq, &cfg, 0);
	sq_connected(&sq, 0);
	sq.rewind = 0;
	send(&sq, 0, 10);
	T_EQ(sq.acked, 10);
	T_EQ(sq.ninflight, 0);
	T_EQ(sq.ack_deadline, -1);
}

/* A simulated writer on a connection that the sender loses now and then
 * (everything in transit is lost), that restarts (keeping what it
 * stored, as chorus-logd does), and that is sometimes away so batches
 * sent meanwhile never reach it. The sender must get every line stored
 * exactly once, in order, with a bounded number of steps. */
#define SIM_LINES 20000
#define SIM_Q 4096

struct sim_msg {
	int is_ack;
	uint64_t first, id, acked;
	uint32_t count;
	int gap;
	int64_t at;
};

static void sendq_simulation(void)
{
	unsigned seed = (unsigned)time(NULL);
	static struct sim_msg q[SIM_Q];

	printf("seed %u\n", seed);
	for (int run = 0; run < 20; run++, seed++) {
		struct sq_config cfg = base_cfg;
		struct sendq sq;
		struct batch_rx rx;
		size_t nq = 0;
		uint64_t spooled = 0, stored_lines = 0;
		int64_t now = 0;
		int writer_away = 0;
		unsigned s = seed;

		cfg.window = 1 + (uint32_t)(rand_r(&s) % 16);
		sq_init(&sq, &cfg, 0);
		memset(&rx, 0, sizeof(rx));
		sq_connected(&sq, now);
		for (int step = 0; step < 2000000; step++) {
			uint64_t seq;
			struct spool_cursor hint;
			int ok;
			uint64_t unsent;

			now += rand_r(&s) % 20;
			if (spooled < SIM_LINES)
				spooled += rand_r(&s) % 50;
			if (spooled > SIM_LINES)
				spooled = SIM_LINES;
			/* Faults. */
			switch (rand_r(&s) % 2000) {
			case 0: /* the sender's connection drops */
				nq = 0;
				sq_disconnected(&sq);
				sq_connected(&sq, now);
				break;
			case 1: /* the writer goes away for a while */
				writer_away = 1 + rand_r(&s) % 200;
				break;
			}
			if (writer_away)
				writer_away--;
			sq_take_rewind(&sq, &seq, &hint, &ok);
			unsent = spooled >= sq.next_seq ? spooled - sq.next_seq + 1 : 0;
			sq_note_pending(&sq, now, unsent);
			while (sq_may_send(&sq, now, unsent, unsent * 100) && nq < SIM_Q) {
				uint32_t n = unsent > 10 ? 10 : (uint32_t)unsent;
				uint64_t id = sq_next_id(&sq);
				struct spool_cursor c = at(sq.next_seq);

				q[nq++] = (struct sim_msg){ 0, sq.next_seq, id, 0, n, 0,
							    now + rand_r(&s) % 30 };
				sq_sent(&sq, now, id, sq.next_seq, n, &c);
				unsent -= n;
				sq_note_pending(&sq, now, unsent);
			}
			/* Deliver what is due, in order (a FIFO connection). */
			while (nq && q[0].at <= now) {
				struct sim_msg m = q[0];

				memmove(q, q + 1, --nq * sizeof(*q));
				if (m.is_ack) {
					sq_on_ack(&sq, now, "w", 1, m.acked, m.id, m.gap);
				} else if (!writer_away) {
					struct batch_hdr h;
					uint32_t skip;
					uint64_t lost;
					int v;

					memset(&h, 0, sizeof(h));
					h.first_seq = m.first;
					h.base_seq = 1;
					h.count = m.count;
					v = batch_rx_judge(&rx, &h, &skip, &lost);
					T_EQ(lost, 0);
					if (v == BATCH_V_STORE) {
						stored_lines += m.count - skip;
						batch_rx_commit(&rx, &h, lost);
					}
					if (nq < SIM_Q)
						q[nq++] = (struct sim_msg){ 1, 0, m.id, rx.hwm, 0,
							v == BATCH_V_GAP, now + rand_r(&s) % 30 };
				}
			}
			sq_tick(&sq, now);
			if (sq.acked == SIM_LINES && spooled == SIM_LINES)
				break;
		}
		T_ASSERTF(sq.acked == SIM_LINES, "seed %u: acked %llu", seed,
			  (unsigned long long)sq.acked);
		T_EQ(rx.hwm, SIM_LINES);
		T_EQ(stored_lines, SIM_LINES);
	}
}

static const struct t_case cases[] = {
	T_CASE(sendq_size_and_latency),
	T_CASE(sendq_window_and_ack),
	T_CASE(sendq_timeout_doubling),
	T_CASE(sendq_gap),
	T_CASE(sendq_n_writers),
	T_CASE(sendq_plain),
	T_CASE_TIMEOUT(sendq_simulation, 60),
};

int main(int argc, char **argv)
{
	return t_main(argc, argv, cases, T_COUNT(cases));
}
