/*
 * spool_in.c - the writer's side of chorus-log's spool: input into the
 * last segment, by the plan of linebuf.c, from a source of intake.c.
 *
 * Every step looks first and consumes only what it stored (or what the
 * overlong-line rule drops), in one system call (spool.h, "Raw input").
 * Only the reader thread writes; it touches the last segment at and after
 * its whole lines, which nobody else reads, and does its I/O outside the
 * mutex (the sender never deletes the last segment). Under the mutex it
 * only updates the numbers, and drops old segments.
 *
 * A write that fails is retried after making room (the oldest segments,
 * counted); when there is none, the current line is lost: it is numbered
 * and counted, and the state records (ST_F_SKIP) that the rest of it, up
 * to its '\n', is to be skipped, before its stored start is removed and
 * before any of it is consumed, so that a kill never turns its rest into
 * a line, nor loses a line without counting it. Its '\n' is consumed
 * after the state says it may be pending (ST_F_SKIP_NL); a kill between
 * those two makes the next process consume a '\n' at the very start of
 * its input, so an empty line right after a lost one can be taken for
 * its end.
 */
#include "log/spool_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static ssize_t pwrite_all(int fd, const char *p, size_t len, uint64_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t w = pwrite(fd, p + done, len - done, (off_t)(off + done));

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		if (w == 0)
			return -EIO;
		done += (size_t)w;
	}
	return (ssize_t)done;
}

/* Starts a new segment at next_seq (after the hole, if one is open).
 * An empty last segment is reused or, before a hole, replaced. Returns
 * 0 or -errno. */
static int seg_new(struct spool *sp)
{
	char path[SPOOL_PATH_MAX + 32];
	struct spool_seg s;
	int r;

	if (sp->nsegs) {
		struct spool_seg *last = &sp->segs[sp->nsegs - 1];

		if (last->lines == 0 && sp->tail == 0 && last->bytes == 0) {
			if (last->first_seq == sp->next_seq && !sp->hole_open)
				return 0;
			spool_i_seg_delete(sp, sp->nsegs - 1);
		}
	}
	memset(&s, 0, sizeof(s));
	s.first_seq = sp->next_seq;
	s.after_hole = (uint8_t)sp->hole_open;
	s.verified = 1;
	spool_i_seg_path(sp, &s, path, sizeof(path));
	s.fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0640);
	if (s.fd < 0)
		return -errno;
	if ((r = spool_i_seg_push(sp, &s)) != 0) {
		close(s.fd);
		unlink(path);
		return r;
	}
	if (sp->nsegs > 1)
		sp->segs[sp->nsegs - 2].verified = 1;
	if (sp->hole_open) {
		sp->hole_open = 0;
		sp->state_dirty = 1;
	}
	/* The new name and the previous segment's data go to disk soon. */
	sp->dir_dirty = 1;
	sp->sync_due = 1;
	return 0;
}

/* Counts the lines of the oldest segment as dropped for each group that
 * had not acknowledged them, and how many of them this process had sent
 * it. */
static void count_oldest(struct spool *sp, uint64_t *dropped_now)
{
	const struct spool_seg *s = &sp->segs[0];

	*dropped_now += spool_i_lose(sp, s->first_seq, seg_end(s), 1);
	/* So that a kill before the delete does not leave them counted
	 * and readable. */
	if (seg_end(s) > sp->counted_to)
		sp->counted_to = seg_end(s);
}

/* Drops the oldest segment (never the one being written); its
 * unacknowledged lines are counted, on disk before the delete. */
static void drop_oldest(struct spool *sp, uint64_t *dropped_now)
{
	count_oldest(sp, dropped_now);
	spool_i_state_write(sp);
	spool_i_seg_delete(sp, 0);
}

/* Writes the state as if the current line were lost (numbered, counted,
 * its rest to be skipped), leaving the numbers in memory as they are. */
static void state_write_as_lost(struct spool *sp)
{
	uint64_t next = sp->next_seq, dropped[SPOOL_GROUPS_MAX];
	int hole = sp->hole_open;
	enum lb_mode mode = sp->lb.mode;

	for (unsigned g = 0; g < sp->ngroups; g++)
		dropped[g] = sp->grp[g].dropped;
	spool_i_lose(sp, next, next + 1, 0);
	sp->next_seq++;
	sp->hole_open = 1;
	sp->lb.mode = LB_SKIP;
	spool_i_state_write(sp);
	sp->next_seq = next;
	for (unsigned g = 0; g < sp->ngroups; g++)
		sp->grp[g].dropped = dropped[g];
	sp->hole_open = hole;
	sp->lb.mode = mode;
}

static void lose_line(struct spool *sp, int err, struct spool_io *io);

static void step_done(const struct spool *sp, const char *step)
{
	if (sp->o.step_hook)
		sp->o.step_hook(step);
}

/* What make_room() did. */
enum { ROOM_NONE, ROOM_MADE, ROOM_LINE_LOST };

/* The disk is full and only the segment being written is left: starts
 * a new one with the tail (the start of the current line), so that the
 * old one's lines (the oldest) can be dropped. A kill may stop it after
 * any step, so the state on disk first counts the current line as lost
 * (its rest to be skipped): until the tail is in the new segment and the
 * state says so, a restart loses that line counted instead of storing
 * its rest as a line of its own. Then the new segment gets the tail, the
 * old one is cut back to its whole lines, and the old one's lines are
 * counted and it goes, the state (now the line as stored) on disk
 * before the delete. When even the tail does not fit, the old segment
 * goes first. */
static int rotate_for_space(struct spool *sp, uint64_t *dropped_now,
			    struct spool_io *io)
{
	struct spool_seg *old = &sp->segs[sp->nsegs - 1];
	uint64_t tail = sp->tail, from = old->bytes;
	char *buf = NULL;
	int fd, r;

	if (old->lines == 0)
		return ROOM_NONE;
	if (tail) {
		buf = malloc(tail);
		if (!buf || pread(old->fd, buf, tail, (off_t)from) != (ssize_t)tail) {
			free(buf);
			return ROOM_NONE;
		}
		state_write_as_lost(sp);
		step_done(sp, "rotate:lost");
	}
	sp->tail = 0;
	if (seg_new(sp) != 0) {
		sp->tail = tail;
		free(buf);
		spool_i_state_write(sp);
		return ROOM_NONE;
	}
	step_done(sp, "rotate:new");
	fd = sp->segs[sp->nsegs - 1].fd;
	if (tail && pwrite_all(fd, buf, tail, 0) < 0) {
		r = ftruncate(fd, 0);
		(void)r;
		count_oldest(sp, dropped_now);
		state_write_as_lost(sp);
		spool_i_seg_delete(sp, 0);
		if (pwrite_all(fd, buf, tail, 0) < 0) {
			r = ftruncate(fd, 0);
			free(buf);
			lose_line(sp, -ENOSPC, io);
			return ROOM_LINE_LOST;
		}
		free(buf);
		sp->tail = tail;
		sp->segs[sp->nsegs - 1].dirty = 1;
		spool_i_state_write(sp);
		return ROOM_MADE;
	}
	free(buf);
	sp->tail = tail;
	if (tail) {
		step_done(sp, "rotate:tail");
		/* Only whole lines stay in the old one. */
		r = ftruncate(sp->segs[sp->nsegs - 2].fd, (off_t)from);
		(void)r;
		sp->segs[sp->nsegs - 1].dirty = 1;
		step_done(sp, "rotate:trimmed");
	}
	count_oldest(sp, dropped_now);
	spool_i_state_write(sp);
	step_done(sp, "rotate:counted");
	spool_i_seg_delete(sp, 0);
	return ROOM_MADE;
}

/* Makes room on a full disk: drops the oldest lines. */
static int make_room(struct spool *sp, struct spool_io *io)
{
	if (sp->nsegs > 1) {
		drop_oldest(sp, &io->dropped);
		return ROOM_MADE;
	}
	return sp->nsegs ? rotate_for_space(sp, &io->dropped, io) : ROOM_NONE;
}

/* Records that n bytes (c lines) were written at the end of the last
 * segment. */
static void took(struct spool *sp, const char *p, size_t n, uint32_t c)
{
	struct spool_seg *last = &sp->segs[sp->nsegs - 1];

	if (c) {
		const char *nl = memrchr(p, '\n', n);
		uint64_t whole = sp->tail + (uint64_t)(nl - p) + 1;

		last->bytes += whole;
		sp->bytes += whole;
		sp->tail = n - (size_t)(nl - p) - 1;
		last->lines += c;
		sp->next_seq += c;
	} else {
		sp->tail += n;
	}
	if (n)
		sp->skip_nl = 0;
	last->dirty = 1;
	sp->state_dirty = 1;
}

/* The current line cannot be stored: numbered, counted and recorded as
 * to be skipped (on disk) before its stored start goes. */
static void lose_line(struct spool *sp, int err, struct spool_io *io)
{
	io->dropped += spool_i_lose(sp, sp->next_seq, sp->next_seq + 1, 0);
	sp->next_seq++;
	sp->hole_open = 1;
	sp->skip_nl = 0;
	lb_lose(&sp->lb);
	spool_i_state_write(sp);
	if (sp->tail && sp->nsegs) {
		struct spool_seg *last = &sp->segs[sp->nsegs - 1];

		if (ftruncate(last->fd, (off_t)last->bytes) == 0)
			sp->tail = 0;
	}
	sp->tail = 0;
	if (!io->err)
		io->err = err;
}

/* The last segment, ready to be written (a new one after a hole or when
 * the last is full between lines). 0 or -errno. */
static int ready_seg(struct spool *sp)
{
	if (!sp->nsegs || sp->hole_open ||
	    (sp->tail == 0 && sp->segs[sp->nsegs - 1].bytes >= sp->seg_bytes))
		return seg_new(sp);
	return 0;
}

static uint64_t seg_room(const struct spool *sp)
{
	const struct spool_seg *last;
	uint64_t size;

	if (!sp->nsegs || sp->hole_open)
		return sp->seg_bytes;
	last = &sp->segs[sp->nsegs - 1];
	size = last->bytes + sp->tail;
	if (sp->tail == 0 && size >= sp->seg_bytes)
		return sp->seg_bytes;
	return size < sp->seg_bytes ? sp->seg_bytes - size : 0;
}

/* Writes text into the tail at offset `at` of it; with `cut`, truncates
 * the file after it. Retries after making room. Called and returns with
 * sp->mu held; 0, or -errno after losing the line. */
static int write_tail(struct spool *sp, const char *text, size_t n, uint64_t at,
		      int cut, struct spool_io *io)
{
	for (;;) {
		uint64_t base;
		ssize_t w;
		int fd, r = ready_seg(sp);

		if (r != 0) {
			lose_line(sp, r, io);
			return r;
		}
		fd = sp->segs[sp->nsegs - 1].fd;
		base = sp->segs[sp->nsegs - 1].bytes;
		pthread_mutex_unlock(&sp->mu);
		w = pwrite_all(fd, text, n, base + at);
		if (w >= 0 && cut && ftruncate(fd, (off_t)(base + at + n)) != 0)
			w = -errno;
		pthread_mutex_lock(&sp->mu);
		if (w >= 0) {
			sp->segs[sp->nsegs - 1].dirty = 1;
			sp->state_dirty = 1;
			return 0;
		}
		/* Nothing torn stays: the tail as it was. */
		r = ftruncate(fd, (off_t)(base + sp->tail));
		(void)r;
		if (w == -ENOSPC || w == -EDQUOT) {
			int room = make_room(sp, io);

			if (room == ROOM_MADE)
				continue;
			if (room == ROOM_LINE_LOST)
				return (int)w;
		}
		lose_line(sp, (int)w, io);
		return (int)w;
	}
}

/* Carries out one step on the bytes in sight (in, from the source's
 * front). Called and returns with sp->mu held. Returns the input bytes
 * consumed (0 for a write of a marker), or -1 to stop for now. */
static ssize_t do_step(struct spool *sp, struct intake *src, const struct lb_step *st,
		       const char *in, struct spool_io *io)
{
	uint32_t lines = 0, cut = 0;
	ssize_t w;

	switch (st->kind) {
	case LB_TAKE:
		for (;;) {
			int fd, r = ready_seg(sp);
			uint64_t off;

			if (r != 0) {
				lose_line(sp, r, io);
				return 0;
			}
			fd = sp->segs[sp->nsegs - 1].fd;
			off = sp->segs[sp->nsegs - 1].bytes + sp->tail;
			pthread_mutex_unlock(&sp->mu);
			w = in_move(src, fd, (off_t)off, st->n);
			pthread_mutex_lock(&sp->mu);
			if (w > 0)
				break;
			if (w == -EAGAIN)
				return -1;
			if (w == -ENOSPC || w == -EDQUOT) {
				int room = make_room(sp, io);

				if (room == ROOM_MADE)
					continue;
				if (room == ROOM_LINE_LOST)
					return 0;
			}
			lose_line(sp, (int)w, io);
			return 0;
		}
		lb_done(&sp->lb, st, in, (size_t)w, &lines, &cut);
		took(sp, in, (size_t)w, lines);
		sp->cut += cut;
		io->lines += lines;
		io->cut += cut;
		while (sp->bytes + sp->tail > sp->o.max_bytes && sp->nsegs > 1)
			drop_oldest(sp, &io->dropped);
		return w;
	case LB_DROP:
		pthread_mutex_unlock(&sp->mu);
		w = in_drop(src, st->n);
		pthread_mutex_lock(&sp->mu);
		if (w <= 0)
			return -1;
		lb_done(&sp->lb, st, in, (size_t)w, &lines, &cut);
		return w;
	case LB_OPEN:
		if (write_tail(sp, st->text, st->tlen, st->at, 1, io) == 0) {
			lb_done(&sp->lb, st, in, 0, &lines, &cut);
			sp->tail = sp->lb.stored;
		}
		return 0;
	case LB_CLOSE:
		if (write_tail(sp, st->text, st->tlen, sp->tail, 0, io) == 0) {
			lb_done(&sp->lb, st, in, 0, &lines, &cut);
			sp->tail = sp->lb.stored;
		}
		return 0;
	case LB_END_LOST:
		/* On disk first: the '\n' may still be pending. */
		lb_done(&sp->lb, st, in, 1, &lines, &cut);
		sp->skip_nl = 1;
		spool_i_state_write(sp);
		pthread_mutex_unlock(&sp->mu);
		w = in_drop(src, 1);
		pthread_mutex_lock(&sp->mu);
		return w <= 0 ? -1 : w;
	case LB_WAIT:
		break;
	}
	return -1;
}

ssize_t spool_take(struct spool *sp, struct intake *src, int final,
		   const char **taken, struct spool_io *io)
{
	const char *data = NULL;
	ssize_t m;
	size_t pos = 0;
	int wait = 0;

	memset(io, 0, sizeof(*io));
	m = in_peek(src, &data, src->want_more);
	if (m <= 0)
		return m;
	src->want_more = 0;
	*taken = data;
	final = final || src->eof;
	pthread_mutex_lock(&sp->mu);
	if (!sp->writable) {
		pthread_mutex_unlock(&sp->mu);
		return -EBADF;
	}
	while (pos < (size_t)m) {
		struct lb_step st;
		ssize_t r;

		lb_plan(&sp->lb, data + pos, (size_t)m - pos, final, seg_room(sp), &st);
		if (st.kind == LB_WAIT) {
			wait = 1;
			break;
		}
		r = do_step(sp, src, &st, data + pos, io);
		if (r < 0)
			break;
		pos += (size_t)r;
	}
	pthread_mutex_unlock(&sp->mu);
	if (wait)
		src->want_more = 1;
	return pos ? (ssize_t)pos : -EAGAIN;
}

int spool_append(struct spool *sp, const char *data, size_t len,
		 struct spool_io *io)
{
	struct spool_io one;
	const char *taken;

	memset(io, 0, sizeof(*io));
	if (len > SPOOL_CHUNK_MAX)
		return -EINVAL;
	if (!sp->writable) {
		io->err = -EBADF;
		return io->err;
	}
	while (len > 0 || sp->mem.len > sp->mem.off) {
		size_t k = in_feed(&sp->mem, data, len);
		ssize_t r;

		data += k;
		len -= k;
		r = spool_take(sp, &sp->mem, 0, &taken, &one);
		io->lines += one.lines;
		io->cut += one.cut;
		io->dropped += one.dropped;
		if (one.err && !io->err)
			io->err = one.err;
		if (r <= 0 && (len == 0 || r != -EAGAIN))
			break;
	}
	return io->err;
}

int spool_finish(struct spool *sp, struct spool_io *io)
{
	char out[LB_CUT_END_MAX + 2];
	struct spool_io one;
	const char *taken;
	uint32_t lines = 0, cut = 0;
	size_t n;

	memset(io, 0, sizeof(*io));
	/* What a memory source holds back is the end of the input now. */
	while (sp->writable && sp->mem.len > sp->mem.off &&
	       spool_take(sp, &sp->mem, 1, &taken, &one) > 0) {
		io->lines += one.lines;
		io->cut += one.cut;
		io->dropped += one.dropped;
	}
	pthread_mutex_lock(&sp->mu);
	if (sp->writable) {
		int skipping = sp->lb.mode == LB_SKIP;

		n = lb_finish(&sp->lb, out, &lines, &cut);
		if (n && write_tail(sp, out, n, sp->tail, 0, io) == 0) {
			took(sp, out, n, 1);
			sp->cut += cut;
			io->cut += cut;
			io->lines += lines;
		}
		if (skipping || sp->skip_nl) {
			sp->skip_nl = 0;
			sp->state_dirty = 1;
		}
	}
	pthread_mutex_unlock(&sp->mu);
	return io->err;
}

void spool_note_sent(struct spool *sp, unsigned g, uint64_t seq)
{
	pthread_mutex_lock(&sp->mu);
	if (g < sp->ngroups && seq > sp->grp[g].sent_high)
		sp->grp[g].sent_high = seq;
	pthread_mutex_unlock(&sp->mu);
}

/* Reads the bytes of the tail from lb_keep() on (those that say whether
 * a cut was under way) into buf; returns how many. */
static size_t tail_from_keep(struct spool *sp, char *buf, size_t cap)
{
	struct spool_seg *last;
	uint64_t keep = lb_keep(&sp->lb);
	size_t want;
	ssize_t r;

	if (!sp->nsegs || sp->tail <= keep)
		return 0;
	last = &sp->segs[sp->nsegs - 1];
	want = sp->tail - keep < cap ? (size_t)(sp->tail - keep) : cap;
	r = pread(last->fd, buf, want, (off_t)(last->bytes + keep));
	return r > 0 ? (size_t)r : 0;
}

/* Continues the rule from the tail; repairs a tail torn by a kill. */
static void resume_tail(struct spool *sp, int skip, int skip_nl)
{
	char from[LB_CUT_OPEN_LEN + LB_CUT_END_MAX];
	size_t flen = tail_from_keep(sp, from, sizeof(from));
	uint64_t keep = lb_keep(&sp->lb), len;
	int rewrite = 0;

	len = lb_resume(&sp->lb, sp->tail, from, flen, skip, skip_nl, &rewrite);
	if (!sp->nsegs)
		return;
	if (rewrite) {
		struct spool_seg *last = &sp->segs[sp->nsegs - 1];

		if (pwrite_all(last->fd, LB_CUT_OPEN, LB_CUT_OPEN_LEN, last->bytes + keep) < 0) {
			/* Cannot repair it: the line is lost (counted). */
			lose_line(sp, -EIO, &(struct spool_io){ 0 });
			return;
		}
	}
	if (len < sp->tail) {
		struct spool_seg *last = &sp->segs[sp->nsegs - 1];
		/* If this fails, what is beyond is overwritten or, after a
		 * kill, found again and dealt with the same way. */
		int r = ftruncate(last->fd, (off_t)(last->bytes + len));

		(void)r;
	}
	sp->tail = len;
}

int spool_i_writer_open(struct spool *sp, int same_input, char *err, size_t errlen)
{
	int skip = 0, skip_nl = 0;

	if (lb_init(&sp->lb, sp->o.max_line) != 0) {
		snprintf(err, errlen, "bad maximum line length %zu", sp->o.max_line);
		return -1;
	}
	if (in_open_mem(&sp->mem, SPOOL_CHUNK_MAX + LB_MARKER_MAX + 1) != 0) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	/* What the state says about the input is about that input only. */
	if (same_input) {
		skip = (sp->flags & ST_F_SKIP) != 0;
		skip_nl = (sp->flags & ST_F_SKIP_NL) != 0;
	}
	sp->flags &= (uint8_t)~(ST_F_SKIP | ST_F_SKIP_NL);
	resume_tail(sp, skip, skip_nl);
	sp->skip_nl = sp->lb.mode == LB_SKIP_NL;
	return 0;
}

void spool_i_writer_close(struct spool *sp)
{
	in_close(&sp->mem);
}

void spool_i_end_tail(struct spool *sp, size_t max_line)
{
	struct spool_seg *last;
	char text[LB_CUT_END_MAX + 2];
	uint32_t lines = 0, cut = 0;
	size_t n;

	if (!sp->tail || !sp->nsegs || sp->hole_open)
		return;
	last = &sp->segs[sp->nsegs - 1];
	if (lb_init(&sp->lb, max_line) != 0)
		return;
	resume_tail(sp, (sp->flags & ST_F_SKIP) != 0, 0);
	if (sp->lb.mode == LB_CUT || sp->lb.mode == LB_CUT_DONE) {
		n = lb_finish(&sp->lb, text, &lines, &cut);
	} else if (sp->lb.mode == LB_SKIP || sp->tail == 0) {
		return;
	} else {
		/* The writer is gone for good: end its last line, visibly. */
		uint64_t keep = sp->tail;

		if (keep > lb_keep(&sp->lb))
			keep = lb_keep(&sp->lb);
		if (ftruncate(last->fd, (off_t)(last->bytes + keep)) != 0)
			return;
		sp->tail = keep;
		n = strlen(INCOMPLETE_MARK);
		memcpy(text, INCOMPLETE_MARK, n);
		cut = 1;
	}
	if (pwrite_all(last->fd, text, n, last->bytes + sp->tail) != (ssize_t)n)
		return;
	took(sp, text, n, 1);
	sp->cut += cut;
	sp->sync_due = 1;
}
