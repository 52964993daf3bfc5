/*
 * spool_int.h - what spool.c (layout, state, reading) and spool_in.c (the
 * writer's side: input into the last segment) share. Not for other
 * modules.
 */
#ifndef CHORUS_SPOOL_INT_H
#define CHORUS_SPOOL_INT_H

#include "log/spool.h"

/* State flags (see spool.c for the layout). */
#define ST_F_CLEAN 0x01u        /* closed cleanly: everything synced */
#define ST_F_HOLE 0x02u         /* next_seq is past the last segment by
				   lines the spool dropped (counted) */
#define ST_F_SKIP 0x04u         /* the input up to and including its next
				   '\n' is a lost line (counted) */
#define ST_F_SKIP_NL 0x08u      /* a lost line ended: a '\n' at the very
				   start of the input is its own */

#define INCOMPLETE_MARK " [chorus-log: line incomplete]\n"

static inline uint64_t seg_end(const struct spool_seg *s)
{
	return s->first_seq + s->lines;
}

/* In spool.c; the caller holds sp->mu. */
int spool_i_state_write(struct spool *sp);
void spool_i_seg_path(const struct spool *sp, const struct spool_seg *s,
		      char *out, size_t len);
int spool_i_seg_push(struct spool *sp, const struct spool_seg *s);
void spool_i_seg_delete(struct spool *sp, size_t i);
/* Lines first .. end - 1 are gone: counts, for each group, those it had
 * not acknowledged as dropped (with `sent`, also those of them this
 * process had sent it); returns the sum over the groups. */
uint64_t spool_i_lose(struct spool *sp, uint64_t first, uint64_t end, int sent);

/* In spool_in.c. After the stream is locked and loaded: prepares the
 * writer (the overlong-line rule, continued from the tail; a tail torn
 * by a kill repaired). same_input: the stream was written from this
 * process's input. Returns 0 or -1 with err. */
int spool_i_writer_open(struct spool *sp, int same_input, char *err, size_t errlen);
void spool_i_writer_close(struct spool *sp);

/* For an adopted stream whose writer is gone: ends its unfinished last
 * line visibly (a cut under way is completed, anything else gets the
 * "line incomplete" marker). */
void spool_i_end_tail(struct spool *sp, size_t max_line);

#endif /* CHORUS_SPOOL_INT_H */
