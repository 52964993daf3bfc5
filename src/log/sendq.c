/*
 * sendq.c - pure sending core of one chorus-log stream (see sendq.h and
 * docs/log-batch.md).
 */
#include "log/sendq.h"

#include <assert.h>
#include <string.h>

#include "proto/batch.h"

void sq_init(struct sendq *sq, const struct sq_config *cfg, uint64_t acked,
	     uint64_t base, uint64_t end)
{
	memset(sq, 0, sizeof(*sq));
	sq->cfg = *cfg;
	if (sq->cfg.window < 1)
		sq->cfg.window = 1;
	if (sq->cfg.window > SQ_WINDOW_MAX)
		sq->cfg.window = SQ_WINDOW_MAX;
	if (sq->cfg.acks_needed < 1)
		sq->cfg.acks_needed = 1;
	if (sq->cfg.acks_needed > SQ_WRITERS_MAX)
		sq->cfg.acks_needed = SQ_WRITERS_MAX;
	if (sq->cfg.ack_timeout_max_ms < sq->cfg.ack_timeout_ms)
		sq->cfg.ack_timeout_max_ms = sq->cfg.ack_timeout_ms;
	sq->acked = acked;
	sq->next_seq = acked + 1;
	sq->next_batch_id = 1;
	sq->pending_since = -1;
	sq->ack_deadline = -1;
	sq->gap_next_ms = -1;
	sq->stall_until = -1;
	sq->ack_timeout_cur = sq->cfg.ack_timeout_ms;
	sq_note_spool(sq, base ? base : 1, end ? end : 1);
}

void sq_note_spool(struct sendq *sq, uint64_t base, uint64_t end)
{
	if (base < 1)
		base = 1;
	sq->base = base;
	sq->end = end > base ? end : base;
	/* Nothing below base can be sent any more. */
	if (sq->next_seq < base)
		sq->next_seq = base;
}

/* While lines sent are not done, the stream must make progress (its
 * acked value move) within the timeout. Answers alone are not progress:
 * with --acks 2 one writer may answer everything while the other hears
 * nothing. */
static void set_ack_deadline(struct sendq *sq)
{
	sq->ack_deadline = !sq->cfg.plain && sq->connected && sq->acked < sq->high_sent ?
		sq->progress_ms + sq->ack_timeout_cur : -1;
}

/* Sends again from seq (at least base): forgets what is in flight and
 * asks the shell to move its cursor. A gap resend (catchup) marks the
 * pass that must run to the end before the sender may skip forward. */
static void rewind_to(struct sendq *sq, uint64_t seq, int catchup)
{
	int hint_ok = 0;

	if (seq < sq->base)
		seq = sq->base;
	if (catchup && sq->next_seq > sq->pass_end)
		sq->pass_end = sq->next_seq;
	for (size_t i = 0; i < sq->ninflight; i++)
		if (sq->inflight[i].first <= seq) {
			sq->rewind_hint = sq->inflight[i].at;
			hint_ok = 1;
		}
	sq->rewind_hint_ok = hint_ok;
	sq->next_seq = seq;
	sq->ninflight = 0;
	sq->rewind = 1;
	sq->rewind_id = sq->next_batch_id;
	sq->rewinds++;
	/* What goes again goes at once, not after the latency wait. */
	sq->pending_since = 0;
}

void sq_connected(struct sendq *sq, int64_t now)
{
	sq->connected = 1;
	rewind_to(sq, sq->acked + 1, 0);
	sq->ack_timeout_cur = sq->cfg.ack_timeout_ms;
	sq->progress_ms = now;
	set_ack_deadline(sq);
}

void sq_disconnected(struct sendq *sq)
{
	sq->connected = 0;
	sq->ninflight = 0;
	sq->ack_deadline = -1;
}

void sq_flush(struct sendq *sq)
{
	sq->flushing = 1;
}

void sq_note_pending(struct sendq *sq, int64_t now, uint64_t unsent_lines)
{
	if (unsent_lines == 0)
		sq->pending_since = -1;
	else if (sq->pending_since < 0)
		sq->pending_since = now;
}

int sq_may_send(const struct sendq *sq, int64_t now, uint64_t unsent_lines,
		uint64_t unsent_bytes)
{
	if (!sq->connected || sq->rewind || unsent_lines == 0 ||
	    sq->ninflight >= sq->cfg.window)
		return 0;
	if (sq->stall_until >= 0 && now < sq->stall_until)
		return 0;
	if (sq->flushing || unsent_bytes >= sq->cfg.batch_bytes)
		return 1;
	return sq->pending_since >= 0 && now - sq->pending_since >= sq->cfg.latency_ms;
}

void sq_stalled(struct sendq *sq, int64_t now)
{
	sq->stalls++;
	sq->stall_until = now + SQ_STALL_MS;
}

void sq_batch_fields(const struct sendq *sq, uint64_t first, uint32_t count,
		     uint64_t run_base, uint64_t spool_held, uint64_t *base,
		     uint64_t *held_below, uint8_t *flags)
{
	*base = run_base < sq->base ? sq->base : run_base;
	if (*base > first)
		*base = first;
	/* Lines below a hole that the spool still holds can be sent again:
	 * a writer whose high-water mark is below them must ask for them
	 * (GAP) rather than count them lost. */
	*held_below = spool_held >= sq->base && spool_held < *base ? spool_held : 0;
	*flags = 0;
	if (sq->flushing && first + count >= sq->end)
		*flags |= BATCH_F_EOF;
}

uint64_t sq_next_id(const struct sendq *sq)
{
	return sq->next_batch_id;
}

void sq_sent(struct sendq *sq, int64_t now, uint64_t id, uint64_t first,
	     uint32_t count, const struct spool_cursor *at)
{
	uint64_t last = first + count - 1;

	sq->next_batch_id = id + 1;
	sq->batches_sent++;
	sq->lines_sent += count;
	sq->next_seq = first + count;
	sq->stall_until = -1;
	if (sq->cfg.plain) {
		if (last > sq->acked)
			sq->acked = last;
		return;
	}
	assert(sq->ninflight < SQ_WINDOW_MAX);
	sq->inflight[sq->ninflight].id = id;
	sq->inflight[sq->ninflight].first = first;
	sq->inflight[sq->ninflight].count = count;
	sq->inflight[sq->ninflight].at = *at;
	sq->inflight[sq->ninflight].sent_ms = now;
	sq->ninflight++;
	/* The clock starts when lines are outstanding again. */
	if (sq->acked >= sq->high_sent)
		sq->progress_ms = now;
	if (last > sq->high_sent)
		sq->high_sent = last;
	set_ack_deadline(sq);
}

static struct sq_writer *writer_slot(struct sendq *sq, int64_t now,
				     const char *id, size_t len)
{
	struct sq_writer *w;
	size_t oldest = 0;

	if (len > SQ_WRITER_ID_MAX)
		len = SQ_WRITER_ID_MAX;
	for (size_t i = 0; i < sq->nwriters; i++) {
		w = &sq->writers[i];
		if (strlen(w->id) == len && memcmp(w->id, id, len) == 0)
			return w;
		if (w->last_ms < sq->writers[oldest].last_ms)
			oldest = i;
	}
	/* A new writer; when the table is full it replaces the one heard
	 * from least recently. */
	w = sq->nwriters < SQ_WRITERS_MAX ? &sq->writers[sq->nwriters++] :
					    &sq->writers[oldest];
	memset(w, 0, sizeof(*w));
	memcpy(w->id, id, len);
	w->last_ms = now;
	return w;
}

/* The acked value of the acks_needed-th most advanced writer, or 0. */
static uint64_t nth_acked(const struct sendq *sq)
{
	unsigned n = sq->cfg.acks_needed;
	uint64_t best = 0;

	if (sq->nwriters < n)
		return 0;
	/* Few writers: count, for each, how many are at least as far. */
	for (size_t i = 0; i < sq->nwriters; i++) {
		unsigned ahead = 0;

		for (size_t j = 0; j < sq->nwriters; j++)
			ahead += sq->writers[j].acked >= sq->writers[i].acked;
		if (ahead >= n && sq->writers[i].acked > best)
			best = sq->writers[i].acked;
	}
	return best;
}

/* Forgets batches in flight that are answered (for the window): those
 * up to batch_id (every writer sees batches in the order they were sent,
 * so an answer to one means the earlier ones reached it too), and those
 * whose lines are all done. Returns 1 if any went. */
static int prune(struct sendq *sq, uint64_t batch_id)
{
	size_t keep = 0, before = sq->ninflight;

	for (size_t i = 0; i < sq->ninflight; i++) {
		const struct sq_batch *b = &sq->inflight[i];

		if (b->id <= batch_id || b->first + b->count - 1 <= sq->acked)
			continue;
		sq->inflight[keep++] = *b;
	}
	sq->ninflight = keep;
	return keep != before;
}

/* A gap resend from `from` now, or later if one was made recently. */
static void gap_resend(struct sendq *sq, int64_t now, uint64_t from)
{
	if (from < sq->base)
		from = sq->base;
	if (from >= sq->next_seq)
		return;
	if (sq->gap_next_ms >= 0 && now < sq->gap_next_ms) {
		if (sq->gap_pending == 0 || from < sq->gap_pending)
			sq->gap_pending = from;
		sq->gaps_held++;
		return;
	}
	sq->gap_resends++;
	sq->gap_pending = 0;
	sq->gap_next_ms = now + sq->cfg.gap_holdoff_ms;
	rewind_to(sq, from, 1);
}

int sq_on_ack(struct sendq *sq, int64_t now, const char *writer, size_t wlen,
	      uint64_t acked, uint64_t batch_id, int gap)
{
	struct sq_writer *w;
	uint64_t eff;
	int moved = 0;

	sq->acks++;
	if (acked >= sq->end) {
		acked = sq->end - 1;
		sq->acks_clamped++;
	}
	w = writer_slot(sq, now, writer, wlen);
	w->last_ms = now;
	if (acked > w->acked)
		w->acked = acked;
	eff = nth_acked(sq);
	if (eff > sq->acked) {
		sq->acked = eff;
		moved = 1;
	}
	if (gap && batch_id >= sq->rewind_id && !sq->cfg.plain) {
		/* From where this writer is now: a writer that lost its state
		 * reports less than it did before. */
		sq->gap_acks++;
		gap_resend(sq, now, acked + 1);
	}
	if (!sq->cfg.plain)
		prune(sq, batch_id);
	if (moved) {
		sq->ack_timeout_cur = sq->cfg.ack_timeout_ms;
		sq->progress_ms = now;
	}
	set_ack_deadline(sq);
	/* Writers may have lines this process never sent (another process
	 * of the same stream sent them before a restart): skip ahead, unless
	 * a resend is catching up a writer that is behind. */
	if (moved && sq->next_seq < eff + 1 && sq->next_seq >= sq->pass_end)
		rewind_to(sq, eff + 1, 0);
	return moved;
}

void sq_tick(struct sendq *sq, int64_t now)
{
	if (sq->gap_pending && sq->gap_next_ms >= 0 && now >= sq->gap_next_ms) {
		uint64_t from = sq->gap_pending;

		sq->gap_pending = 0;
		gap_resend(sq, now, from);
	}
	if (sq->ack_deadline < 0 || now < sq->ack_deadline)
		return;
	sq->timeouts++;
	rewind_to(sq, sq->acked + 1, 0);
	sq->ack_timeout_cur *= 2;
	if (sq->ack_timeout_cur > sq->cfg.ack_timeout_max_ms)
		sq->ack_timeout_cur = sq->cfg.ack_timeout_max_ms;
	sq->progress_ms = now;
	set_ack_deadline(sq);
}

static void earliest(int64_t *d, int64_t t)
{
	if (t >= 0 && (*d < 0 || t < *d))
		*d = t;
}

int64_t sq_deadline(const struct sendq *sq, uint64_t unsent_lines)
{
	int64_t d = -1;

	if (sq->connected && unsent_lines && sq->ninflight < sq->cfg.window &&
	    sq->pending_since >= 0) {
		int64_t t = sq->flushing ? 0 : sq->pending_since + sq->cfg.latency_ms;

		if (sq->stall_until > t)
			t = sq->stall_until;
		d = t;
	}
	if (sq->rewind)
		d = 0;
	earliest(&d, sq->ack_deadline);
	if (sq->gap_pending)
		earliest(&d, sq->gap_next_ms);
	return d;
}

int sq_take_rewind(struct sendq *sq, uint64_t *seq,
		   struct spool_cursor *hint, int *hint_ok)
{
	if (!sq->rewind)
		return 0;
	sq->rewind = 0;
	*seq = sq->next_seq;
	*hint = sq->rewind_hint;
	*hint_ok = sq->rewind_hint_ok;
	return 1;
}

int sq_done(const struct sendq *sq, uint64_t last_held)
{
	return last_held == 0 || sq->acked >= last_held;
}
