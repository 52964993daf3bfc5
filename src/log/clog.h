/*
 * clog.h - what the parts of chorus-log share: its configuration, its
 * counters, and the sender thread's interface (sender.c).
 *
 * chorus-log has three threads. The main thread (main_log.c) only moves
 * standard input into the spool (spool_in.c, by the overlong-line rule of
 * linebuf.c): one stream for all its groups, in the directory of the
 * first, so that Apache is never held up by the network or the daemon
 * and a kill never loses a line for any group. The sender thread
 * (sender.c) owns the daemon connection: it reads batches from the
 * spool, multicasts them to each group under the group's stream id,
 * takes acknowledgements, trims the spool once every group has a
 * segment and reconnects; its decisions come from the pure core in
 * sendq.c, one instance per group and stream. A third thread, the sender's keeper,
 * saves and syncs the spools and writes the status lines, so that none
 * of these waits for the daemon.
 */
#ifndef CHORUS_CLOG_H
#define CHORUS_CLOG_H

#include <stddef.h>
#include <stdint.h>

#include "log/spool.h"

#define CLOG_MAX_GROUPS SPOOL_GROUPS_MAX
#define CLOG_NODE_MAX 255

struct clog_config {
	const char *groups[CLOG_MAX_GROUPS];
	int ngroups;
	char node[CLOG_NODE_MAX + 1];
	const char *daemon;        /* Spread form: "4803", "4803@host" */
	const char *spool_root;
	uint64_t spool_max;        /* bytes of this process's stream */
	size_t max_line;           /* without '\n' */
	uint32_t batch_bytes;
	int64_t latency_ms;
	uint32_t window;
	unsigned acks;
	int64_t ack_timeout_ms;
	int64_t gap_holdoff_ms;    /* at most one resend per gap report per this */
	int64_t flush_ms;          /* at end of input: longest wait for acks */
	int64_t status_ms;         /* periodic status line, 0: none */
	int64_t sync_ms;           /* fdatasync of the spool, 0: never */
	int plain;                 /* one message per line, no acks */
	const char *user;          /* -u "user[:group]" to run as, or NULL */
};

/* Counters of the whole process, written with __atomic builtins by the
 * thread that owns each and read by anyone. */
struct clog_stats {
	uint64_t lines_read, bytes_read, lines_cut, lines_dropped;
	uint64_t lines_sent, batches_sent, lines_acked, lines_resent;
	uint64_t reconnects, connect_failures, gaps, timeouts, rejects;
	uint64_t syncs;            /* spool fdatasync rounds (-y) */
};

#define CLOG_ADD(field, n) __atomic_add_fetch(&(field), (n), __ATOMIC_RELAXED)
#define CLOG_GET(field) __atomic_load_n(&(field), __ATOMIC_RELAXED)

struct sender;

/* Starts the sender thread for the own spool stream `own`, made for the
 * groups of cfg in their order (the caller keeps ownership of it and must
 * not close it before sender_join()). adopt_dirs[g] is the spool
 * directory of group g of cfg, where streams that exited processes left
 * are looked for first ("" for none; copied); then in every other group
 * directory of cfg's node under spool_root (NULL or "" for none;
 * copied). cfg and st must outlive the
 * sender. Returns 0 and *out, or -1 (errno) if the thread cannot start. */
int sender_start(struct sender **out, const struct clog_config *cfg,
		 struct spool *own, const char *spool_root,
		 const char *const *adopt_dirs, struct clog_stats *st);

/* Tells the sender that bytes of lines were appended. Cheap: it wakes
 * the sender thread only when that is waiting for the first line or a
 * batch's worth has come in. Called by the reader thread only. */
void sender_appended(struct sender *s, size_t bytes);

/* End of input: the sender sends everything, waits for the
 * acknowledgements up to cfg->flush_ms, then stops. */
void sender_eof(struct sender *s);

/* Waits for the sender thread to stop, at most ms milliseconds (-1:
 * as long as it takes), and frees it. Returns 0, or -1 if it is still
 * running (a daemon that does not take data can block it in a send):
 * then nothing is freed, and the caller may still exit, since the spool
 * is consistent at every point. */
int sender_join(struct sender *s, int64_t ms);

/* Writes a one-line status report (no newline) into buf. */
void sender_status(struct sender *s, char *buf, size_t len);

#endif /* CHORUS_CLOG_H */
