/*
 * state.h - the state file of incremental runs: every count of the
 * aggregator (including the open days' visitor sets and the exact agent
 * ids they refer to) and what was read of each input file.
 *
 * Format (version 1, little-endian): "CHSTATE1", u32 version, the options
 * fingerprint (u32 length + bytes), the body, and a CRC-32 (zlib) of all
 * bytes before it. It is written to FILE.tmp, synced, and renamed over
 * FILE, so a crash leaves the old state or the new one, never a mix. A
 * state made with other options (format, filters, release patterns,
 * limits) is refused: its counts would not mean the same thing.
 */
#ifndef CHORUS_STATS_STATE_H
#define CHORUS_STATS_STATE_H

#include <stddef.h>

#include "stats/agg.h"
#include "stats/input.h"
#include "stats/live.h"

/* Version 2 adds the reasons future_time and too_old, and the live
 * streams' positions after the files read; version 1 states counted 4xx
 * responses as visitors (see --4xx-to-unique-count) and are refused. */
#define STATE_VERSION 2

void state_fingerprint(char *buf, size_t cap, const struct lf_format *fmt, const char *format,
		       const struct flt *flt, const struct rl_set *rel,
		       const struct agg_limits *lim, int node_token);

/* Loads path into a (initialised here), seen and, when not NULL, ls (the
 * live streams' positions; else they are skipped). A missing file gives
 * an empty aggregator. Returns 0, or -1 with a message in err (a is then
 * not initialised). */
int state_load(const char *path, const char *fp, struct agg *a, struct in_seen *seen,
	       struct live_streams *ls, const struct agg_limits *lim, const struct rl_set *rel,
	       unsigned have, char *err, size_t errlen);

/* Saves atomically (seen and ls may be NULL: none). Returns 0, or -1 with
 * a message in err. */
int state_save(const char *path, const char *fp, const struct agg *a,
	       const struct in_seen *seen, const struct live_streams *ls, char *err,
	       size_t errlen);

#endif
