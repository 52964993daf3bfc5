/*
 * report.h - the outputs of chorus-stats built from an aggregator: the
 * JSON document of docs/stats-json.md, CSV files, and a plain-text
 * summary for a terminal. Each writes to a FILE the caller opened and
 * owns, and returns 0 or -1 (a write error, errno set).
 */
#ifndef CHORUS_STATS_REPORT_H
#define CHORUS_STATS_REPORT_H

#include <stdio.h>

#include "stats/agg.h"
#include "stats/filter.h"

struct rep_meta {
	const char *title;
	const char *generated;  /* "YYYY-MM-DDTHH:MM:SSZ" */
	const struct flt *flt;
	uint64_t files;         /* files read in this run */
	int state;              /* a state file was used */
};

#define REP_SCHEMA_VERSION 1
#define REP_GENERATOR "chorus-stats 1.0"

int rep_json(FILE *out, const struct agg *a, const struct rep_meta *m);
/* One CSV file per table into dir: days.csv, nodes.csv, node_days.csv,
 * statuses.csv, hours.csv and <table>.csv. Returns 0 or -1 (errno). */
int rep_csv(const char *dir, const struct agg *a);
int rep_text(FILE *out, const struct agg *a, const struct rep_meta *m);

/* Writes s (n bytes) as a JSON string: escaped, invalid UTF-8 replaced. */
void rep_json_str(FILE *out, const char *s, size_t n);

#endif
