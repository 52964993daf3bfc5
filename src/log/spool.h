/*
 * spool.h - chorus-log's crash-safe spool (issue 3, items 2 to 4, 6).
 *
 * Every line chorus-log reads goes into the spool before it is sent, and
 * leaves it only when a writer has acknowledged it (or, when the spool is
 * full, when it is dropped as the oldest, and counted). The spool of one
 * group and node is a directory holding one or more streams:
 *
 *   <root>/<group>@<node>/            spool_group_dir()
 *       s-<stream id, 16 hex>/        one stream, locked by its owner
 *           lock                      flock(2): held while a process owns it
 *           state                     acked seq, drop counters (2 slots)
 *           <first seq, 20 digits>.seg   lines, each ending in '\n'
 *       .new-XXXXXX/                  a stream being created
 *
 * A stream's lines are numbered 1, 2, ... for the life of the stream;
 * line i of a segment has sequence number first_seq + i. Segments are
 * contiguous. The stream id is random, made when the stream is created,
 * and kept in the directory name, so it survives restarts: the next
 * process that opens the spool locks the same stream and continues its
 * numbering.
 *
 * Crash safety: a process killed at any point (even in the middle of a
 * write, which Linux may cut short on SIGKILL) leaves segments whose
 * complete lines are exactly the lines it had appended, in order; a torn
 * tail is cut back to the last '\n' by spool_open(). The state is written
 * to alternating checksummed slots, so a torn state write leaves the
 * previous one. Nothing here needs fsync for a process crash; spool_sync()
 * adds it for machine crashes.
 *
 * Two processes (Apache starts a piped logger twice, and on a graceful
 * restart the old one reads on while the new one starts): each locks a
 * stream of its own; the second creates a new stream when every existing
 * one is locked. Streams left behind by a process that exited are
 * adopted: spool_adopt() locks one read-only so that its backlog can be
 * sent and then removed with spool_remove().
 *
 * Thread safety: every function locks the spool's mutex, so one thread
 * may append while another reads and acknowledges.
 */
#ifndef CHORUS_SPOOL_H
#define CHORUS_SPOOL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define SPOOL_PATH_MAX 512

struct spool_seg {
	uint64_t first_seq;
	uint64_t lines;
	uint64_t bytes;
	int fd;
};

/* One stream, opened by spool_open() or spool_adopt(), released by
 * spool_close(). All fields are private to spool.c except where noted;
 * read them through the accessors. */
struct spool {
	pthread_mutex_t mu;
	char dir[SPOOL_PATH_MAX];
	int lock_fd;
	int state_fd;
	int readonly;          /* adopted: never appended to */
	uint64_t stream_id;
	uint64_t max_bytes;    /* drop the oldest lines above this */
	uint64_t seg_bytes;    /* start a new segment above this */
	struct spool_seg *segs;
	size_t nsegs, cap;
	uint64_t next_seq;     /* number of the next line appended */
	uint64_t acked;        /* highest sequence number acknowledged */
	uint64_t dropped;      /* lines dropped since the stream was made */
	uint64_t cut;          /* lines cut since the stream was made */
	uint64_t bytes;        /* bytes in all segments */
	uint64_t state_gen;
	int state_dirty;
};

/* Where a reader is: the next line's number and its place. */
struct spool_cursor {
	uint64_t seq;
	uint64_t seg_first;    /* first_seq of its segment */
	uint64_t off;          /* byte offset in that segment */
};

/* Writes into out (outlen bytes) the directory of a group and node under
 * root: "<root>/<group>@<node>", with every byte of group and node outside
 * [A-Za-z0-9._-] (and a leading '.') written as %XX. Returns 0, or -1 if
 * it does not fit. */
int spool_group_dir(const char *root, const char *group, const char *node,
		    char *out, size_t outlen);

/* Opens the writing stream of group directory gdir (created with its
 * parents if missing): the first existing stream it can lock, else a new
 * one. max_bytes bounds the stream (at least 1 MiB); segments are at
 * most max_bytes / 8 bytes. Recovers torn tails. Returns 0, or -1 with a
 * reason in err (errlen bytes). On failure nothing needs closing. */
int spool_open(struct spool *sp, const char *gdir, uint64_t max_bytes,
	       char *err, size_t errlen);

/* Locks a stream of gdir that no process holds and that is not `except`
 * (a stream id, 0 for none), and opens it read-only for draining.
 * Returns 1 if it adopted one, 0 if there is none, -1 with err on
 * failure. */
int spool_adopt(struct spool *sp, const char *gdir, uint64_t except,
		char *err, size_t errlen);

/* Releases the stream: saves the state, closes, unlocks. */
void spool_close(struct spool *sp);

/* Deletes an adopted stream that is fully acknowledged (or whose lines
 * are all to be given up) and closes it. Returns 0 or -1 (errno). */
int spool_remove(struct spool *sp);

/* Appends len bytes holding exactly `lines` complete lines (cut of them
 * cut by the overlong rule). When the stream is over its size it first
 * drops whole segments, oldest first, adding the unacknowledged lines
 * they held to *dropped_now (and to the stream's dropped total). If the
 * write fails (disk full after dropping what can be dropped, I/O error),
 * the lines are dropped and counted the same way and -errno returned;
 * the spool stays consistent. Returns 0 on success. */
int spool_append(struct spool *sp, const char *data, size_t len,
		 uint32_t lines, uint32_t cut, uint64_t *dropped_now);

/* Positions cur at line seq (clamped to the lines the spool holds: a
 * seq below spool_base() lands on the base). from, if not NULL, is a
 * cursor at or before seq in the same stream, where the scan may start.
 * Returns 0 or -errno. */
int spool_seek(struct spool *sp, struct spool_cursor *cur, uint64_t seq,
	       const struct spool_cursor *from);

/* Reads whole lines at cur into buf (cap bytes, at least one line's
 * worth), from one segment, and advances cur. If cur points below the
 * base (its lines were dropped) it first moves to the base. Returns the
 * bytes read (0 when cur is at the end), with the first line's number in
 * *first and the count in *lines; or -errno (-EMSGSIZE if a line does
 * not fit in cap). */
ssize_t spool_read(struct spool *sp, struct spool_cursor *cur, char *buf,
		   size_t cap, uint64_t *first, uint32_t *lines);

/* Counts what is waiting from cur to the end of the spool: lines and
 * bytes (from the base if cur is below it). */
void spool_pending(struct spool *sp, const struct spool_cursor *cur,
		   uint64_t *lines, uint64_t *bytes);

/* Records that every line up to `acked` is acknowledged, and deletes
 * segments that hold only such lines (never the segment being written).
 * Lower values than the current one are ignored. Returns 0 or -errno. */
int spool_ack(struct spool *sp, uint64_t acked);

/* Writes the state (acked, counters) if it changed. Returns 0 or -errno. */
int spool_save_state(struct spool *sp);

/* fdatasync()s the segment being written and the state. */
int spool_sync(struct spool *sp);

/* Snapshot of the numbers, under the lock. */
struct spool_stats {
	uint64_t stream_id;
	uint64_t base;         /* lowest line held (next_seq if none) */
	uint64_t next_seq;
	uint64_t acked;
	uint64_t dropped, cut;
	uint64_t bytes;        /* bytes held */
	uint64_t unacked;      /* lines held and not acknowledged */
};
void spool_stats(struct spool *sp, struct spool_stats *st);

#endif /* CHORUS_SPOOL_H */
