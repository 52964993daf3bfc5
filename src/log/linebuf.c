/*
 * linebuf.c - line splitting with the overlong-line rule (see linebuf.h).
 */
#include "log/linebuf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int lb_init(struct linebuf *lb, size_t max_line)
{
	memset(lb, 0, sizeof(*lb));
	if (max_line < LB_MAX_LINE_MIN || max_line > LB_MAX_LINE_MAX) {
		errno = EINVAL;
		return -1;
	}
	lb->carry = malloc(max_line);
	if (!lb->carry)
		return -1;
	lb->max_line = max_line;
	return 0;
}

void lb_free(struct linebuf *lb)
{
	free(lb->carry);
	lb->carry = NULL;
}

size_t lb_out_max(const struct linebuf *lb, size_t len)
{
	/* The carry, all the input, and one marker plus '\n' for a cut
	 * line that ends in this chunk (each cut line replaces at least
	 * max_line - LB_MARKER_MAX bytes of input with the marker, so only
	 * the first can grow the output). */
	return lb->max_line + len + LB_MARKER_MAX + 1;
}

/* How many bytes of an overlong line are kept before the marker. */
static size_t keep_len(const struct linebuf *lb)
{
	return lb->max_line - LB_MARKER_MAX;
}

/* Writes the cut line: the kept prefix in the carry, the marker for a
 * line of total bytes, and '\n'. Returns the bytes written. */
static size_t emit_cut(struct linebuf *lb, char *out, uint64_t total)
{
	size_t n = lb->carry_len;
	int m;

	memcpy(out, lb->carry, n);
	m = snprintf(out + n, LB_MARKER_MAX + 1, " [chorus-log: line cut, %llu bytes]",
		     (unsigned long long)total);
	n += (size_t)m;
	out[n++] = '\n';
	lb->carry_len = 0;
	lb->cutting = 0;
	lb->cut_len = 0;
	lb->lines++;
	lb->cut++;
	return n;
}

/* Starts an overlong line whose first bytes are the carry plus
 * in[0..len): keeps the prefix in the carry. */
static void start_cut(struct linebuf *lb, const char *in, size_t len)
{
	size_t keep = keep_len(lb);

	lb->cut_len = lb->carry_len + len;
	if (lb->carry_len > keep)
		lb->carry_len = keep;
	if (lb->carry_len < keep) {
		size_t more = keep - lb->carry_len;

		if (more > len)
			more = len;
		memcpy(lb->carry + lb->carry_len, in, more);
		lb->carry_len += more;
	}
	lb->cutting = 1;
}

size_t lb_feed(struct linebuf *lb, const char *in, size_t len, char *out,
	       uint32_t *nlines, uint32_t *ncut)
{
	const char *p = in, *end = in + len, *span = in;
	size_t o = 0;
	uint32_t lines = 0, cut = 0;

	while (p < end) {
		const char *nl;

		if (lb->cutting) {
			nl = memchr(p, '\n', (size_t)(end - p));
			if (!nl) {
				lb->cut_len += (uint64_t)(end - p);
				span = p = end;
				break;
			}
			lb->cut_len += (uint64_t)(nl - p);
			o += emit_cut(lb, out + o, lb->cut_len);
			lines++;
			cut++;
			span = p = nl + 1;
			continue;
		}
		nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl) {
			size_t rest = (size_t)(end - p);

			/* Flush the complete lines before this one. */
			memcpy(out + o, span, (size_t)(p - span));
			o += (size_t)(p - span);
			if (lb->carry_len + rest <= lb->max_line) {
				memcpy(lb->carry + lb->carry_len, p, rest);
				lb->carry_len += rest;
			} else {
				start_cut(lb, p, rest);
			}
			span = p = end;
			break;
		}
		if (lb->carry_len + (size_t)(nl - p) <= lb->max_line) {
			if (lb->carry_len) {
				/* The first line of this chunk completes
				 * the carry: nothing is pending in span. */
				memcpy(out + o, lb->carry, lb->carry_len);
				o += lb->carry_len;
				lb->carry_len = 0;
			}
			lines++;
			lb->lines++;
			p = nl + 1;
			continue;
		}
		/* An overlong line that ends in this chunk. */
		memcpy(out + o, span, (size_t)(p - span));
		o += (size_t)(p - span);
		start_cut(lb, p, (size_t)(nl - p));
		o += emit_cut(lb, out + o, lb->cut_len);
		lines++;
		cut++;
		span = p = nl + 1;
	}
	memcpy(out + o, span, (size_t)(p - span));
	o += (size_t)(p - span);
	*nlines += lines;
	*ncut += cut;
	return o;
}

size_t lb_finish(struct linebuf *lb, char *out, uint32_t *nlines,
		 uint32_t *ncut)
{
	size_t n;

	if (lb->cutting) {
		n = emit_cut(lb, out, lb->cut_len);
		(*nlines)++;
		(*ncut)++;
		return n;
	}
	if (lb->carry_len == 0)
		return 0;
	n = lb->carry_len;
	memcpy(out, lb->carry, n);
	out[n++] = '\n';
	lb->carry_len = 0;
	lb->lines++;
	(*nlines)++;
	return n;
}
