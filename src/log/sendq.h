/*
 * sendq.h - the pure core of chorus-log's sending side for one stream:
 * when to send a batch (size and latency limits, window), what is in
 * flight, what the writers have acknowledged, and when to send again
 * (gap reports, acknowledgement timeouts, reconnects). The exchange it
 * implements is docs/log-batch.md, section "Acknowledgements".
 *
 * The core never touches a socket, the spool or the clock: the shell
 * (sender.c) passes the time in milliseconds and the spool's numbers in,
 * carries out the decisions (read a batch at the cursor, multicast it,
 * seek the cursor, trim the spool) and sleeps until sq_deadline().
 * Deadlines are fields of the state; every decision bumps a counter.
 */
#ifndef CHORUS_SENDQ_H
#define CHORUS_SENDQ_H

#include <stddef.h>
#include <stdint.h>

#include "log/spool.h"

#define SQ_WINDOW_MAX 256
#define SQ_WRITERS_MAX 16
#define SQ_WRITER_ID_MAX 255

struct sq_config {
	uint32_t batch_bytes;      /* send as soon as this much is waiting */
	int64_t latency_ms;        /* longest a line waits before it is sent */
	uint32_t window;           /* batches in flight at most (1..256) */
	int64_t ack_timeout_ms;    /* first resend after this long w/o ack */
	int64_t ack_timeout_max_ms;/* doubling stops here */
	unsigned acks_needed;      /* writers that must have a line (>= 1) */
	int plain;                 /* no acknowledgements: sent is done */
};

/* A batch in flight: where it starts in the spool, so a resend can seek
 * straight to it. */
struct sq_batch {
	uint64_t id;
	uint64_t first;
	uint32_t count;
	struct spool_cursor at;
	int64_t sent_ms;
};

struct sq_writer {
	char id[SQ_WRITER_ID_MAX + 1];
	uint64_t acked;
	int64_t last_ms;
};

struct sendq {
	struct sq_config cfg;
	/* What is done: lines up to acked are acknowledged by acks_needed
	 * writers (in plain mode: handed to the daemon). */
	uint64_t acked;
	/* The next line to send. */
	uint64_t next_seq;
	uint64_t next_batch_id;
	struct sq_batch inflight[SQ_WINDOW_MAX];
	size_t ninflight;
	struct sq_writer writers[SQ_WRITERS_MAX];
	size_t nwriters;
	/* Deadlines, -1 when unset. */
	int64_t pending_since;     /* oldest unsent line arrived */
	int64_t ack_deadline;      /* resend if no progress by then */
	int64_t ack_timeout_cur;
	/* A rewind asks the shell to seek its cursor to next_seq (from
	 * rewind_hint when valid). Gap reports for batches with ids below
	 * rewind_id predate the last rewind and are ignored. */
	int rewind;
	int rewind_hint_ok;
	struct spool_cursor rewind_hint;
	uint64_t rewind_id;
	int connected;
	int flushing;              /* end of input: ignore the latency wait */
	/* Counters. */
	uint64_t batches_sent, lines_sent, lines_resent;
	uint64_t acks, gap_acks, timeouts, rewinds;
};

/* Prepares sq for a stream whose lines up to acked are done. cfg is
 * copied; window is clamped to 1..SQ_WINDOW_MAX and acks_needed to
 * 1..SQ_WRITERS_MAX. */
void sq_init(struct sendq *sq, const struct sq_config *cfg, uint64_t acked);

/* The daemon connection came up (every unacknowledged line goes again,
 * from acked + 1) or went down (nothing is in flight any more). */
void sq_connected(struct sendq *sq, int64_t now);
void sq_disconnected(struct sendq *sq);

/* Tells the core how many lines are waiting to be sent (unsent, from the
 * cursor to the end of the spool) so it can start the latency clock. */
void sq_note_pending(struct sendq *sq, int64_t now, uint64_t unsent_lines);

/* 1 if the shell should read and send a batch now, given unsent bytes
 * waiting: connected, window open, and a full batch waiting, or the
 * oldest line waited latency_ms, or a rewind, or flushing. */
int sq_may_send(const struct sendq *sq, int64_t now, uint64_t unsent_lines,
		uint64_t unsent_bytes);

/* Records a batch that was handed to the daemon: its lines first ..
 * first + count - 1, read at cursor `at`. Returns its batch id (the
 * shell writes it into the batch header before sending, so it calls
 * sq_next_id() first and passes the same id here). */
uint64_t sq_next_id(const struct sendq *sq);
void sq_sent(struct sendq *sq, int64_t now, uint64_t id, uint64_t first,
	     uint32_t count, const struct spool_cursor *at);

/* An acknowledgement from writer `writer` (wlen bytes): it has every
 * line up to acked (the shell clamps this to the lines the spool ever
 * had, so a bogus value cannot skip lines); gap != 0 if it had to refuse batch batch_id because
 * lines before it were missing. Returns 1 if the stream's acked value
 * moved (the shell trims the spool to sq->acked), else 0. */
int sq_on_ack(struct sendq *sq, int64_t now, const char *writer, size_t wlen,
	      uint64_t acked, uint64_t batch_id, int gap);

/* The spool dropped lines below base: nothing below can be sent any
 * more. */
void sq_on_base(struct sendq *sq, uint64_t base);

/* Runs the timers: an acknowledgement timeout rewinds to acked + 1 and
 * doubles the timeout (up to its maximum). */
void sq_tick(struct sendq *sq, int64_t now);

/* The earliest time the core wants to run again (sq_may_send or
 * sq_tick), or -1 if it waits only for input. unsent_lines as for
 * sq_note_pending(). */
int64_t sq_deadline(const struct sendq *sq, uint64_t unsent_lines);

/* Takes the pending rewind: returns 1 and the line to seek to (with a
 * hint cursor at or before it in *hint, *hint_ok), or 0 if none. */
int sq_take_rewind(struct sendq *sq, uint64_t *seq,
		   struct spool_cursor *hint, int *hint_ok);

#endif /* CHORUS_SENDQ_H */
