/*
 * linebuf.c - the overlong-line rule as a streaming filter (see
 * linebuf.h).
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

void lb_resume(struct linebuf *lb, uint64_t stored)
{
	/* A stored start is at most max_line bytes: a longer line was cut
	 * back to keep_len() when it went over. Whether the killed process
	 * was skipping the rest of it is not known; if the line goes on
	 * past max_line it is cut again here, and its marker then counts
	 * only the bytes this process saw plus the stored start. */
	lb->stored = lb->total = stored;
	lb->cutting = 0;
}

size_t lb_out_max(size_t len)
{
	/* Output never exceeds input except by one marker and '\n' (each
	 * cut line replaces more input bytes than its marker adds, but the
	 * first one may be preceded by bytes that were stored earlier). */
	return len + LB_MARKER_MAX + 1;
}

static size_t keep_len(const struct linebuf *lb)
{
	return lb->max_line - LB_MARKER_MAX;
}

static size_t put_marker(char *out, uint64_t total)
{
	int m = snprintf(out, LB_MARKER_MAX + 1, " [chorus-log: line cut, %llu bytes]",
			 (unsigned long long)total);

	out[m] = '\n';
	return (size_t)m + 1;
}

size_t lb_feed(struct linebuf *lb, const char *in, size_t len, char *out,
	       uint64_t *retract, uint32_t *nlines, uint32_t *ncut)
{
	const char *p = in, *end = in + len;
	/* Bytes of the current line stored before this call, and where its
	 * bytes of this call begin in out. */
	uint64_t prior = lb->stored;
	size_t o = 0, lstart = 0;
	uint32_t lines = 0, cut = 0;

	*retract = 0;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = (size_t)((nl ? nl : end) - p);

		if (!lb->cutting && lb->total + n <= lb->max_line) {
			memcpy(out + o, p, n);
			o += n;
			lb->total += n;
		} else if (!lb->cutting) {
			/* The line goes over: keep its first keep_len() bytes,
			 * wherever they are (stored before, or in out). */
			uint64_t keep = keep_len(lb), have = prior + (o - lstart);

			if (have > keep) {
				uint64_t drop = have - keep;

				if (drop <= o - lstart) {
					o -= (size_t)drop;
				} else {
					*retract = prior - keep;
					prior = keep;
					o = lstart;
				}
			} else {
				memcpy(out + o, p, (size_t)(keep - have));
				o += (size_t)(keep - have);
			}
			lb->cutting = 1;
			lb->total += n;
		} else {
			lb->total += n;
		}
		if (!nl)
			break;
		if (lb->cutting) {
			o += put_marker(out + o, lb->total);
			cut++;
		} else {
			out[o++] = '\n';
		}
		lines++;
		lb->total = 0;
		lb->cutting = 0;
		prior = 0;
		lstart = o;
		p = nl + 1;
	}
	lb->stored = prior + (o - lstart);
	lb->lines += lines;
	lb->cut += cut;
	*nlines += lines;
	*ncut += cut;
	return o;
}

int lb_fits(const struct linebuf *lb, const char *in, size_t len)
{
	const char *p = in, *end = in + len;
	uint64_t cur = lb->total;

	if (lb->cutting)
		return 0;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));

		cur += (uint64_t)((nl ? nl : end) - p);
		if (cur > lb->max_line)
			return 0;
		if (!nl)
			break;
		cur = 0;
		p = nl + 1;
	}
	return 1;
}

void lb_advance(struct linebuf *lb, const char *in, size_t len,
		uint32_t *nlines)
{
	const char *p = in, *end = in + len, *last = NULL;
	uint32_t lines = 0;

	for (;;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));

		if (!nl)
			break;
		lines++;
		last = nl;
		p = nl + 1;
		if (p >= end)
			break;
	}
	if (last) {
		lb->stored = lb->total = (uint64_t)(end - last - 1);
	} else {
		lb->stored += len;
		lb->total += len;
	}
	lb->lines += lines;
	*nlines += lines;
}

size_t lb_finish(struct linebuf *lb, char *out, uint32_t *nlines,
		 uint32_t *ncut)
{
	size_t n;

	if (lb->cutting) {
		n = put_marker(out, lb->total);
		lb->cut++;
		(*ncut)++;
	} else if (lb->total > 0) {
		out[0] = '\n';
		n = 1;
	} else {
		return 0;
	}
	lb->lines++;
	(*nlines)++;
	lb->stored = lb->total = 0;
	lb->cutting = 0;
	return n;
}
