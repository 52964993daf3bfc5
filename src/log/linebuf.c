/*
 * linebuf.c - the overlong-line rule as a plan of moves (see linebuf.h).
 */
#include "log/linebuf.h"

#include <stdio.h>
#include <string.h>

int lb_init(struct linebuf *lb, size_t max_line)
{
	memset(lb, 0, sizeof(*lb));
	if (max_line < LB_MAX_LINE_MIN || max_line > LB_MAX_LINE_MAX)
		return -1;
	lb->max_line = max_line;
	return 0;
}

size_t lb_keep(const struct linebuf *lb)
{
	return lb->max_line - LB_MARKER_MAX;
}

/* Is s (n bytes) a complete end of a marker: ", <digits> bytes]" or "]"? */
static int close_ok(const char *s, size_t n)
{
	size_t d = 0;

	if (n == 1)
		return s[0] == ']';
	if (n < 2 || s[0] != ',' || s[1] != ' ')
		return 0;
	while (2 + d < n && s[2 + d] >= '0' && s[2 + d] <= '9')
		d++;
	return d > 0 && d <= 20 && n - 2 - d == 7 && memcmp(s + 2 + d, " bytes]", 7) == 0;
}

uint64_t lb_resume(struct linebuf *lb, uint64_t tail_len, const char *from,
		   size_t flen, int skip, int skip_nl, int *rewrite_open)
{
	uint64_t keep = lb_keep(lb), open_end = keep + LB_CUT_OPEN_LEN;

	*rewrite_open = 0;
	lb->stored = tail_len;
	lb->total = 0;
	lb->total_known = 0;
	lb->mode = LB_LINE;
	if (skip) {
		/* A lost line: its stored start goes. */
		lb->mode = LB_SKIP;
		lb->stored = 0;
		return 0;
	}
	if (skip_nl && tail_len == 0)
		lb->mode = LB_SKIP_NL;
	if (tail_len <= keep || flen == 0)
		return tail_len;
	if (tail_len < open_end) {
		/* The marker's start, torn (or a line that happens to hold
		 * its first bytes there: then it is cut, visibly). */
		if (memcmp(from, LB_CUT_OPEN, flen) != 0)
			return tail_len;
		*rewrite_open = 1;
		lb->mode = LB_CUT;
		lb->stored = open_end;
		return open_end;
	}
	if (flen < LB_CUT_OPEN_LEN || memcmp(from, LB_CUT_OPEN, LB_CUT_OPEN_LEN) != 0)
		return tail_len;
	lb->stored = open_end;
	lb->mode = LB_CUT;
	if (tail_len == open_end)
		return open_end;
	if (tail_len - open_end <= flen - LB_CUT_OPEN_LEN &&
	    close_ok(from + LB_CUT_OPEN_LEN, (size_t)(tail_len - open_end))) {
		lb->mode = LB_CUT_DONE;
		lb->stored = tail_len;
		return tail_len;
	}
	/* The line's old bytes after the marker's start (killed between
	 * writing it and truncating), or a torn end of the marker. */
	return open_end;
}

static void take(struct lb_step *st, size_t n, uint32_t lines)
{
	st->kind = LB_TAKE;
	st->n = n;
	st->lines = lines;
}

/* The start of a line: whole lines, and the start of the last one up to
 * the keep length (or all of it once its '\n' is in sight within
 * max_line); an overlong line is taken up to keep, then opened. */
static void plan_line(struct linebuf *lb, const char *in, size_t len, int final,
		      uint64_t room, struct lb_step *st)
{
	uint64_t keep = lb_keep(lb), cur = lb->stored;
	size_t i = 0;
	uint32_t lines = 0;

	while (i < len) {
		const char *nl = memchr(in + i, '\n', len - i);
		size_t seg = (size_t)((nl ? nl : in + len) - (in + i));
		size_t k = cur < keep ? (size_t)(keep - cur) : 0;

		if (cur + seg > lb->max_line) {
			/* Overlong: its kept start, then the marker. */
			if (k > seg)
				k = seg;
			if (i + k > 0) {
				take(st, i + k, lines);
			} else {
				st->kind = LB_OPEN;
				st->at = keep;
				memcpy(st->text, LB_CUT_OPEN, LB_CUT_OPEN_LEN);
				st->tlen = LB_CUT_OPEN_LEN;
			}
			return;
		}
		if (!nl) {
			if (final)
				k = seg;
			else if (k > seg)
				k = seg;
			if (i + k > 0)
				take(st, i + k, lines);
			else
				st->kind = LB_WAIT;
			return;
		}
		i += seg + 1;
		lines++;
		cur = 0;
		if (i >= room)
			break;
	}
	take(st, i, lines);
}

void lb_plan(struct linebuf *lb, const char *in, size_t len, int final,
	     uint64_t room, struct lb_step *st)
{
	const char *nl;

	memset(st, 0, sizeof(*st));
	if (lb->mode == LB_SKIP_NL) {
		lb->mode = LB_LINE;
		if (in[0] == '\n') {
			st->kind = LB_DROP;
			st->n = 1;
			return;
		}
	}
	if (lb->mode == LB_LINE) {
		plan_line(lb, in, len, final, room, st);
		return;
	}
	nl = memchr(in, '\n', len);
	st->kind = LB_DROP;
	st->n = nl ? (size_t)(nl - in) : len;
	if (st->n > 0)
		return;
	/* The line's '\n' is next. */
	switch (lb->mode) {
	case LB_CUT:
		st->kind = LB_CLOSE;
		if (lb->total_known)
			st->tlen = (size_t)snprintf(st->text, sizeof(st->text), ", %llu bytes]",
						    (unsigned long long)lb->total);
		else
			st->tlen = (size_t)snprintf(st->text, sizeof(st->text), "]");
		break;
	case LB_CUT_DONE:
		take(st, 1, 1);
		break;
	default:
		st->kind = LB_END_LOST;
		st->n = 1;
		break;
	}
}

void lb_done(struct linebuf *lb, const struct lb_step *st, const char *in,
	     size_t n, uint32_t *lines, uint32_t *cut)
{
	switch (st->kind) {
	case LB_TAKE:
		if (lb->mode == LB_CUT_DONE) {
			if (n == 1) {
				lb->mode = LB_LINE;
				lb->stored = 0;
				(*lines)++;
				(*cut)++;
			}
			return;
		}
		for (const char *p = in, *e = in + n; p < e;) {
			const char *nl = memchr(p, '\n', (size_t)(e - p));

			if (!nl) {
				lb->stored += (uint64_t)(e - p);
				break;
			}
			(*lines)++;
			lb->stored = 0;
			p = nl + 1;
		}
		break;
	case LB_DROP:
		if (lb->mode == LB_CUT)
			lb->total += n;
		break;
	case LB_OPEN:
		lb->total = lb->stored;
		lb->total_known = 1;
		lb->stored = lb_keep(lb) + LB_CUT_OPEN_LEN;
		lb->mode = LB_CUT;
		break;
	case LB_CLOSE:
		lb->stored += st->tlen;
		lb->mode = LB_CUT_DONE;
		break;
	case LB_END_LOST:
		lb->mode = LB_LINE;
		lb->stored = 0;
		break;
	case LB_WAIT:
		break;
	}
}

void lb_lose(struct linebuf *lb)
{
	lb->mode = LB_SKIP;
	lb->stored = 0;
	lb->total = 0;
	lb->total_known = 0;
}

size_t lb_finish(struct linebuf *lb, char *out, uint32_t *lines, uint32_t *cut)
{
	size_t n = 0;

	switch (lb->mode) {
	case LB_LINE:
		if (lb->stored == 0)
			return 0;
		out[n++] = '\n';
		break;
	case LB_CUT:
		if (lb->total_known)
			n = (size_t)snprintf(out, LB_CUT_END_MAX, ", %llu bytes]",
					     (unsigned long long)lb->total);
		else
			n = (size_t)snprintf(out, LB_CUT_END_MAX, "]");
		out[n++] = '\n';
		(*cut)++;
		break;
	case LB_CUT_DONE:
		out[n++] = '\n';
		(*cut)++;
		break;
	default:
		lb->mode = LB_LINE;
		lb->stored = 0;
		return 0;
	}
	(*lines)++;
	lb->mode = LB_LINE;
	lb->stored = 0;
	return n;
}
