/*
 * sendq.h - the pure core of chorus-log's sending side for one stream:
 * when to send a batch (size and latency limits, window), what is in
 * flight, what each writer has acknowledged, when to send again (gap
 * reports from a writer that is behind, acknowledgement timeouts,
 * reconnects), the base and EOF fields of each batch, and when the
 * stream is done. The exchange it implements is docs/log-batch.md,
 * section "The sender's rules".
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
/* After a read that found nothing although lines were pending (which a
 * consistent spool never does), the core waits this long before trying
 * again, rather than spinning. */
#define SQ_STALL_MS 100

struct sq_config {
	uint32_t batch_bytes;      /* send as soon as this much is waiting */
	int64_t latency_ms;        /* longest a line waits before it is sent */
	uint32_t window;           /* batches in flight at most (1..256) */
	int64_t ack_timeout_ms;    /* first resend after this long w/o answer */
	int64_t ack_timeout_max_ms;/* doubling stops here */
	int64_t gap_holdoff_ms;    /* at most one resend per gap report per this */
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

/* A writer, told apart by its id; created by its first acknowledgement. */
struct sq_writer {
	char id[SQ_WRITER_ID_MAX + 1];
	uint64_t acked;            /* its high-water mark for this stream */
	int64_t last_ms;
};

struct sendq {
	struct sq_config cfg;
	/* What the spool holds: lines base .. end - 1 (some may be in
	 * holes), set by sq_note_spool(). */
	uint64_t base, end;
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
	/* A resend started by a gap report runs until next_seq reaches
	 * pass_end; meanwhile acknowledgements from writers that are ahead
	 * do not make the sender skip forward. */
	uint64_t pass_end;
	uint64_t high_sent;        /* highest line sent */
	/* Deadlines (ms), -1 when unset. */
	int64_t pending_since;     /* oldest unsent line arrived */
	int64_t ack_deadline;      /* resend from acked + 1 if acked has not
				      moved by then (lines outstanding) */
	int64_t progress_ms;       /* acked last moved, or lines went out */
	int64_t gap_next_ms;       /* no gap resend before this */
	int64_t stall_until;       /* no read before this */
	int64_t ack_timeout_cur;
	uint64_t gap_pending;      /* a gap resend from here waits, or 0 */
	/* A rewind asks the shell to seek its cursor to next_seq (from
	 * rewind_hint when valid). Gap reports for batches with ids below
	 * rewind_id predate the last rewind and are ignored. */
	int rewind;
	int rewind_hint_ok;
	struct spool_cursor rewind_hint;
	uint64_t rewind_id;
	int connected;
	int flushing;              /* end of input: no latency wait, EOF flag */
	/* Counters. */
	uint64_t batches_sent, lines_sent, lines_resent;
	uint64_t acks, gap_acks, gap_resends, gaps_held, timeouts, rewinds;
	uint64_t stalls, acks_clamped;
};

/* Prepares sq for a stream whose lines up to acked are done and whose
 * spool holds lines base .. end - 1. cfg is copied; window is clamped to
 * 1..SQ_WINDOW_MAX, acks_needed to 1..SQ_WRITERS_MAX. */
void sq_init(struct sendq *sq, const struct sq_config *cfg, uint64_t acked,
	     uint64_t base, uint64_t end);

/* The spool now holds lines base .. end - 1 (lines below base are gone:
 * acknowledged and trimmed, or dropped). */
void sq_note_spool(struct sendq *sq, uint64_t base, uint64_t end);

/* The daemon connection came up (every unacknowledged line goes again,
 * from acked + 1) or went down (nothing is in flight any more). */
void sq_connected(struct sendq *sq, int64_t now);
void sq_disconnected(struct sendq *sq);

/* End of input: lines go without the latency wait, and the batch with
 * the last line carries the EOF flag. */
void sq_flush(struct sendq *sq);

/* Tells the core how many lines are waiting to be sent (unsent, from the
 * cursor to the end of the spool) so it can start the latency clock. */
void sq_note_pending(struct sendq *sq, int64_t now, uint64_t unsent_lines);

/* 1 if the shell should read and send a batch now, given unsent lines
 * and bytes waiting: connected, window open, and a full batch waiting,
 * or the oldest line waited latency_ms, or a rewind, or flushing. */
int sq_may_send(const struct sendq *sq, int64_t now, uint64_t unsent_lines,
		uint64_t unsent_bytes);

/* A read at the cursor found nothing although lines were pending: wait
 * SQ_STALL_MS before the next try. */
void sq_stalled(struct sendq *sq, int64_t now);

/* The header fields of a batch of count lines from first, read where the
 * spool's run without holes begins at run_base and whose highest line
 * held below that run (below a hole) is spool_held (0: none): *base (the
 * start of the run the sender can still send up to first, so a writer
 * that is behind knows what it can never get), *held_below (the highest
 * line below *base the sender can still send, 0 if none: a writer behind
 * it must not skip to base) and *flags (BATCH_F_EOF when this batch ends
 * the input). */
void sq_batch_fields(const struct sendq *sq, uint64_t first, uint32_t count,
		     uint64_t run_base, uint64_t spool_held, uint64_t *base,
		     uint64_t *held_below, uint8_t *flags);

/* Records a batch that was handed to the daemon: its lines first ..
 * first + count - 1, read at cursor `at`, with batch id `id` (the shell
 * writes sq_next_id() into the header before sending). */
uint64_t sq_next_id(const struct sendq *sq);
void sq_sent(struct sendq *sq, int64_t now, uint64_t id, uint64_t first,
	     uint32_t count, const struct spool_cursor *at);

/* An acknowledgement from writer `writer` (wlen bytes): it has every
 * line up to acked (clamped to the lines the spool ever had, so a bogus
 * value cannot skip lines), in answer to batch batch_id; gap != 0 if it
 * had to refuse that batch because lines before it were missing: the
 * sender then sends again from that writer's position (at most once per
 * gap_holdoff_ms). Returns 1 if the stream's acked value moved (the
 * shell trims the spool to sq->acked), else 0. */
int sq_on_ack(struct sendq *sq, int64_t now, const char *writer, size_t wlen,
	      uint64_t acked, uint64_t batch_id, int gap);

/* Runs the timers: an acknowledgement timeout rewinds to acked + 1 and
 * doubles the timeout (up to its maximum); a held gap resend starts. */
void sq_tick(struct sendq *sq, int64_t now);

/* The earliest time the core wants to run again (sq_may_send or
 * sq_tick), or -1 if it waits only for input. unsent_lines as for
 * sq_note_pending(). */
int64_t sq_deadline(const struct sendq *sq, uint64_t unsent_lines);

/* Takes the pending rewind: returns 1 and the line to seek to (with a
 * hint cursor at or before it in *hint, *hint_ok), or 0 if none. */
int sq_take_rewind(struct sendq *sq, uint64_t *seq,
		   struct spool_cursor *hint, int *hint_ok);

/* 1 when every line the spool holds up to last_held (0: none) is done:
 * the stream may end (at end of input) or be removed (adopted). */
int sq_done(const struct sendq *sq, uint64_t last_held);

#endif /* CHORUS_SENDQ_H */
