/*
 * feed.c - one line into the aggregator (see feed.h).
 */
#include "stats/feed.h"

#include <string.h>

int feed_line(struct feed *f, const char *node, size_t node_len, const char *source,
	      uint64_t lineno, const char *line, size_t len)
{
	struct lf_rec r;
	int rc;

	f->agg->lines++;
	f->agg->bytes_read += len + 1;
	if (len && line[len - 1] == '\r')
		len--;
	if (f->node_token) {
		const char *sp = memchr(line, ' ', len);

		if (!sp || sp == line) {
			agg_malformed(f->agg, len ? LF_R_BAD_FIELD : LF_R_EMPTY, source, lineno, line,
				      len);
			return 0;
		}
		node = line;
		node_len = (size_t)(sp - line);
		len -= node_len + 1;
		line = sp + 1;
	}
	rc = lf_parse(f->fmt, line, len, &r);
	if (rc != LF_OK) {
		agg_malformed(f->agg, rc, source, lineno, line, len);
		return 0;
	}
	if (f->min_day || f->max_day) {
		int why = r.day > f->max_day ? LF_R_FUTURE : r.day < f->min_day ? LF_R_TOO_OLD : 0;

		if (why) {
			agg_malformed(f->agg, why, source, lineno, line, len);
			return 0;
		}
	}
	if (!flt_pass(f->flt, r.date, r.status, node, node_len, r.path, r.path_len)) {
		f->agg->filtered_out++;
		return 0;
	}
	return agg_add(f->agg, &r, node, node_len);
}
