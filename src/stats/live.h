/*
 * live.h - live mode of chorus-stats: joins the log group on a daemon
 * (libchorus) and counts the lines of chorus-log's batches (and plain
 * lines of older senders, whose first word is the node) as they come,
 * calling a flush callback every interval so the reports are rewritten.
 *
 * Batches sent again (a writer asked for them) are counted once: each
 * stream is judged with the writer bookkeeping of src/proto/batch.c,
 * starting from the position the state file kept, or else from the first
 * batch seen (chorus-stats never acknowledges:
 * it is a reader, not a writer, and must not let a sender delete lines).
 */
#ifndef CHORUS_STATS_LIVE_H
#define CHORUS_STATS_LIVE_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "stats/feed.h"

#define LIVE_STREAMS 4096

struct batch_rx;

/* Where each sender's stream stands (the highest line counted): kept in
 * the state file with the counts they produced, so a restarted
 * chorus-stats does not count a batch sent again a second time.
 * Ownership: the caller allocates rx with LIVE_STREAMS entries and frees
 * it. */
struct live_streams {
	struct batch_rx *rx;
	uint32_t n;
};

struct live_opts {
	const char *daemon;    /* "port" or "port@host" */
	const char *group;
	unsigned interval_s;
	struct feed *feed;
	struct live_streams *streams; /* caller-owned (possibly from the state) */
	volatile sig_atomic_t *stop; /* set by a signal handler: flush, return */
	const char *ready_file;      /* created once joined (tests), or NULL */
};

/* Runs until *stop. flush(arg) is called every interval_s seconds and
 * once before returning; a non-zero return from it is reported but does
 * not stop the run. Returns 0, or -1 with a message in err. */
int live_run(const struct live_opts *o, int (*flush)(void *arg), void *arg, char *err,
	     size_t errlen);

#endif
