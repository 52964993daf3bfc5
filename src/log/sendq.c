/*
 * sendq.c - pure sending core of one chorus-log stream (see sendq.h and
 * docs/log-batch.md).
 */
#include "log/sendq.h"

#include <assert.h>
#include <string.h>

void sq_init(struct sendq *sq, const struct sq_config *cfg, uint64_t acked)
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
	sq->ack_timeout_cur = sq->cfg.ack_timeout_ms;
}

/* Sends again from seq (at least acked + 1): forgets what is in flight
 * and asks the shell to move its cursor. */
static void rewind_to(struct sendq *sq, uint64_t seq)
{
	int hint_ok = 0;

	if (seq < sq->acked + 1)
		seq = sq->acked + 1;
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
	sq->ack_deadline = -1;
	sq->rewinds++;
	/* What goes again goes at once, not after the latency wait. */
	sq->pending_since = 0;
}

void sq_connected(struct sendq *sq, int64_t now)
{
	(void)now;
	sq->connected = 1;
	rewind_to(sq, sq->acked + 1);
	sq->ack_timeout_cur = sq->cfg.ack_timeout_ms;
}

void sq_disconnected(struct sendq *sq)
{
	sq->connected = 0;
	sq->ninflight = 0;
	sq->ack_deadline = -1;
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
	if (sq->flushing || unsent_bytes >= sq->cfg.batch_bytes)
		return 1;
	return sq->pending_since >= 0 && now - sq->pending_since >= sq->cfg.latency_ms;
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
	if (sq->ack_deadline < 0)
		sq->ack_deadline = now + sq->ack_timeout_cur;
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

int sq_on_ack(struct sendq *sq, int64_t now, const char *writer, size_t wlen,
	      uint64_t acked, uint64_t batch_id, int gap)
{
	struct sq_writer *w;
	uint64_t eff;
	int moved = 0;

	sq->acks++;
	w = writer_slot(sq, now, writer, wlen);
	w->last_ms = now;
	if (acked > w->acked)
		w->acked = acked;
	eff = nth_acked(sq);
	if (eff > sq->acked) {
		size_t keep = 0;

		sq->acked = eff;
		moved = 1;
		for (size_t i = 0; i < sq->ninflight; i++)
			if (sq->inflight[i].first + sq->inflight[i].count - 1 > eff)
				sq->inflight[keep++] = sq->inflight[i];
		sq->ninflight = keep;
		sq->ack_timeout_cur = sq->cfg.ack_timeout_ms;
		sq->ack_deadline = sq->ninflight ? now + sq->ack_timeout_cur : -1;
		/* A writer may have lines this process never sent (another
		 * process of the same stream sent them): skip ahead. */
		if (sq->next_seq < eff + 1)
			rewind_to(sq, eff + 1);
	}
	if (gap && batch_id >= sq->rewind_id && !sq->cfg.plain) {
		uint64_t from = w->acked + 1;

		sq->gap_acks++;
		if (from < sq->next_seq)
			rewind_to(sq, from);
	}
	return moved;
}

void sq_on_base(struct sendq *sq, uint64_t base)
{
	if (base > sq->next_seq)
		sq->next_seq = base;
}

void sq_tick(struct sendq *sq, int64_t now)
{
	if (sq->ack_deadline < 0 || now < sq->ack_deadline || sq->ninflight == 0)
		return;
	sq->timeouts++;
	rewind_to(sq, sq->acked + 1);
	sq->ack_timeout_cur *= 2;
	if (sq->ack_timeout_cur > sq->cfg.ack_timeout_max_ms)
		sq->ack_timeout_cur = sq->cfg.ack_timeout_max_ms;
}

int64_t sq_deadline(const struct sendq *sq, uint64_t unsent_lines)
{
	int64_t d = -1;

	if (sq->connected && unsent_lines && sq->ninflight < sq->cfg.window &&
	    sq->pending_since >= 0)
		d = sq->flushing ? 0 : sq->pending_since + sq->cfg.latency_ms;
	if (sq->rewind)
		d = 0;
	if (sq->ack_deadline >= 0 && (d < 0 || sq->ack_deadline < d))
		d = sq->ack_deadline;
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
