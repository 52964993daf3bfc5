/*
 * filter.h - the command-line filters of chorus-stats: a date range, node
 * names, status codes or classes, path prefixes. A line passes when it
 * passes every filter given; within one filter, any listed value passes.
 * Pure; fixed-size, owned by the caller.
 */
#ifndef CHORUS_STATS_FILTER_H
#define CHORUS_STATS_FILTER_H

#include <stddef.h>
#include <stdint.h>

#define FLT_MAX 16
#define FLT_STR_MAX 128

struct flt {
	int32_t from, to; /* yyyymmdd; 0 when not given */
	int nnode, nstatus, nprefix;
	char node[FLT_MAX][FLT_STR_MAX];
	char status[FLT_MAX][8];    /* as given: "404" or "4xx" */
	char prefix[FLT_MAX][FLT_STR_MAX];
};

/* Parses YYYY-MM-DD into yyyymmdd; returns 0 or -1. */
int flt_parse_date(const char *s, int32_t *out);
/* Adds a value; returns 0 or -1 with a message in err. what is "node",
 * "status" or "path-prefix". */
int flt_add(struct flt *f, const char *what, const char *val, char *err, size_t errlen);
int flt_pass(const struct flt *f, int32_t date, int status, const char *node, size_t node_len,
	     const char *path, size_t path_len);

#endif
