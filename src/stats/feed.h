/*
 * feed.h - from raw lines to the aggregator: takes the node from the
 * line's first word when asked, parses the line by the log format,
 * applies the filters, and counts the line (or its failure). Pure.
 * Ownership: the caller owns every member; feed_line() borrows them.
 */
#ifndef CHORUS_STATS_FEED_H
#define CHORUS_STATS_FEED_H

#include <stddef.h>
#include <stdint.h>

#include "stats/agg.h"
#include "stats/filter.h"
#include "stats/logfmt.h"

struct feed {
	const struct lf_format *fmt;
	const struct flt *flt;
	struct agg *agg;
	int node_token; /* the first word of each line is its node */
	/* Lines dated after max_day are refused as future_time, before
	 * min_day as too_old (both 0: no bounds). The shell sets them from
	 * the day it runs (chorus-stats(1), --now, --max-age), so a bad
	 * clock cannot move the visitor window nor make days without end. */
	int32_t min_day, max_day;
};

/* Counts one line (without its newline) of node (ignored when
 * node_token). source and lineno name it in malformed examples. Returns
 * 0, or -1 when memory ran out. */
int feed_line(struct feed *f, const char *node, size_t node_len, const char *source,
	      uint64_t lineno, const char *line, size_t len);

#endif
