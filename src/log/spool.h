/*
 * spool.h - chorus-log's crash-safe spool (issue 3, items 2 to 4, 6, 7).
 *
 * Every byte chorus-log reads goes into the spool at once, before it is
 * split into lines or sent, and lines leave it only when writers have
 * acknowledged them (or, when the spool is full, when they are dropped as
 * the oldest, and counted). The spool of one group and node is a
 * directory holding one or more streams:
 *
 *   <root>/<group>@<node>/            spool_group_dir()
 *       s-<stream id, 16 hex>/        one stream, locked by its owner
 *           lock                      flock(2): held while a process owns it
 *           state                     acked seq, counters, flags (2 slots)
 *           <first seq, 20 digits>.seg    lines, each ending in '\n'
 *           <first seq, 20 digits>h.seg   the same, after a hole the spool
 *                                         made itself (already counted)
 *       .new-XXXXXX/                  a stream being created
 *       .del-<stream id>/             a stream being removed
 *
 * Numbering. A stream's lines are numbered 1, 2, ... for the life of the
 * stream; line i of a segment has sequence number first_seq + i. The
 * stream id is random, made when the stream is created and kept in its
 * directory name, so it survives restarts: the next process that opens
 * the spool continues the stream and its numbering. Segments are
 * contiguous except across holes: lines that were numbered but could not
 * be stored (a failed write), counted as dropped when they happen, and
 * lines found missing when reading (a segment lost to a machine crash or
 * removed by hand), counted when found. Only the last segment is ever
 * written; segments change only between lines.
 *
 * Raw input. The bytes are stored as they come, partial lines included
 * (the overlong-line rule of linebuf.h is applied on the way in), so a
 * process killed at any point loses nothing it read: the last segment
 * may end in the start of a line, the "tail", which the next process
 * reading the same pipe completes. spool_splice() moves bytes from a pipe
 * into the spool without their passing through the process at all. A
 * stream records the identity (device, inode) of the input it reads, and
 * spool_open() prefers the stream of its own input; a stream whose tail
 * belongs to another input is not continued (and is adopted only once
 * the tail has not moved for a grace period; the adopter ends the line
 * with a visible "line incomplete" marker).
 *
 * Machine crashes. A stream opened for writing records the boot id and
 * is marked unclean, on disk (fdatasync), before anything is appended; a
 * clean close syncs everything and marks it clean. A stream found
 * unclean from another boot may have lost its last lines and the state
 * that numbered them, so it is never appended to again (its numbers
 * might be reused): the process makes a new stream, and the old one is
 * adopted, drained and removed like any left-over stream. New segment
 * files, the previous segment at a segment change, and directories after
 * creating, renaming and removing are synced by spool_sync().
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

#include "log/linebuf.h"

#define SPOOL_PATH_MAX 1024
/* Longest chunk spool_append() and spool_splice() take at once. */
#define SPOOL_CHUNK_MAX (1024 * 1024)
#define SPOOL_MIN_BYTES (1024 * 1024)

struct spool_seg {
	uint64_t first_seq;
	uint64_t lines;        /* lines held (unverified: at most this many) */
	uint64_t bytes;        /* bytes of whole lines (unverified: file size) */
	int fd;
	uint8_t verified;      /* lines and bytes counted, not inferred */
	uint8_t after_hole;    /* the hole before it was made (and counted) here */
	uint8_t dirty;         /* written since the last fdatasync */
};

/* How a stream is opened. */
struct spool_opts {
	uint64_t max_bytes;    /* drop the oldest lines above this (>= 1 MiB) */
	size_t max_line;       /* the overlong-line rule (linebuf.h) */
	uint64_t boot_id;      /* this boot (0: unknown) */
	uint64_t input_dev;    /* identity of standard input (0, 0: unknown) */
	uint64_t input_ino;
};

/* One stream, opened by spool_open() or spool_adopt(), released by
 * spool_close() or spool_remove(). The fields are private to spool.c;
 * read them through spool_stats(). */
struct spool {
	pthread_mutex_t mu;
	char dir[SPOOL_PATH_MAX];
	int lock_fd;
	int state_fd;
	int writable;          /* opened by spool_open(): appended to */
	struct spool_opts o;
	uint64_t stream_id;
	uint64_t seg_bytes;    /* start a new segment above this */
	struct spool_seg *segs;
	size_t nsegs, cap;
	uint64_t next_seq;     /* number of the next line to complete */
	uint64_t acked;        /* highest sequence number acknowledged */
	uint64_t dropped;      /* lines dropped since the stream was made */
	uint64_t dropped_open; /* ... as recorded when it was opened */
	uint64_t cut;          /* lines cut since the stream was made */
	uint64_t bytes;        /* bytes of whole lines in all segments */
	uint64_t tail;         /* bytes of the unfinished last line */
	struct linebuf lb;
	char *obuf;            /* filter output, lb_out_max(SPOOL_CHUNK_MAX) */
	int losing;            /* a write failed inside the current line */
	int hole_open;         /* lines were numbered past the last segment */
	int no_splice;
	int peek[2];           /* a pipe to look at input without taking it */
	/* What the state records about the writer (kept as found for an
	 * adopted stream). */
	uint8_t flags;
	uint64_t boot_id, input_dev, input_ino;
	int dir_dirty, sync_due;
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
 * [A-Za-z0-9._-] (and a leading '.') written as %XX; a name that would
 * make the last component longer than 200 bytes is shortened and ends in
 * '~' and a hash of the whole. Returns 0, or -1 if it does not fit. */
int spool_group_dir(const char *root, const char *group, const char *node,
		    char *out, size_t outlen);

/* Makes sure dir is a private directory of user uid: creates it (mode
 * 0700) if missing; otherwise it must be a directory, not a symbolic
 * link, owned by uid, with no permissions for group or others. Returns 0,
 * or -1 with the reason in err. For spools under a shared directory such
 * as /tmp. */
int spool_private_dir(const char *dir, uid_t uid, char *err, size_t errlen);

/* Opens the writing stream of group directory gdir (created with its
 * parents if missing): the free stream of the same input if there is
 * one, else a free stream that can be continued, else a new one. Marks
 * it unclean on disk. Returns 0, or -1 with a reason in err (errlen
 * bytes). On failure nothing needs closing. */
int spool_open(struct spool *sp, const char *gdir, const struct spool_opts *o,
	       char *err, size_t errlen);

/* Locks a stream of gdir that no process holds, that is not `except` (a
 * stream id, 0 for none), and whose unfinished last line (if any) has not
 * moved for grace_s seconds, and opens it for draining; its unfinished
 * line is ended with " [chorus-log: line incomplete]" and counted as cut.
 * Returns 1 if it adopted one, 0 if there is none, -1 with err on
 * failure. */
int spool_adopt(struct spool *sp, const char *gdir, uint64_t except,
		int64_t grace_s, size_t max_line, char *err, size_t errlen);

/* Releases the stream: a writable one is synced and marked clean. */
void spool_close(struct spool *sp);

/* Syncs and marks clean like spool_close(), but leaves the stream open:
 * for a process that must exit while another thread may still use it. */
void spool_shutdown(struct spool *sp);

/* Deletes an adopted stream (renamed out of the way first, so a kill
 * leaves no half-removed stream) and closes it. Returns 0 or -1. */
int spool_remove(struct spool *sp);

/* What an append did. */
struct spool_io {
	uint32_t lines;        /* lines completed */
	uint32_t cut;          /* of which cut */
	uint64_t dropped;      /* lines dropped (oldest, or not writable) */
	int err;               /* 0, or -errno of a write that failed */
};

/* Appends len bytes of raw input (any boundaries; at most
 * SPOOL_CHUNK_MAX) through the overlong-line filter. When the stream is
 * over its size it first drops whole segments, oldest first (the
 * unacknowledged lines they held are counted); if the disk is full it
 * drops the oldest lines it can, down to the segment being written. If a
 * write still fails, the lines it held are numbered and counted as
 * dropped, so that writers see the hole. Results in *io. Returns 0 or
 * the error of *io. */
int spool_append(struct spool *sp, const char *data, size_t len,
		 struct spool_io *io);

/* Moves up to cap bytes (at most SPOOL_CHUNK_MAX) from the pipe fd
 * straight into the spool with splice(2), so that they are never only
 * in this process's memory, and copies them into buf (for the spools of
 * other groups). Returns the bytes moved, 0 at end of input, -EAGAIN if
 * nothing is waiting, or -ENOTSUP if the caller must read() and
 * spool_append() this chunk instead (fd is not a pipe, the file system
 * cannot splice, a line is being cut or lost, a segment change is due
 * inside a line, or a write failed). */
ssize_t spool_splice(struct spool *sp, int fd, char *buf, size_t cap,
		     struct spool_io *io);

/* End of input: ends an unfinished last line with '\n' (the marker if
 * it is overlong). */
int spool_finish(struct spool *sp, struct spool_io *io);

/* Positions cur at line seq (clamped to the lines the spool holds: a seq
 * below the base or in a hole lands on the next line held). from, if not
 * NULL, is a cursor at or before seq, where the scan may start. Returns
 * 0 or -errno. */
int spool_seek(struct spool *sp, struct spool_cursor *cur, uint64_t seq,
	       const struct spool_cursor *from);

/* Reads whole lines at cur into buf (cap bytes, at least max_line + 1),
 * from one segment, and advances cur. A cursor below the base or in a
 * hole first moves to the next line held. Returns the bytes read (0 when
 * cur is at the end), with the first line's number in *first and the
 * count in *lines; or -errno (-EMSGSIZE if a line does not fit in cap).
 * Reading finds segments shorter than their neighbours imply (lines
 * lost): it counts them as dropped and moves on. */
ssize_t spool_read(struct spool *sp, struct spool_cursor *cur, char *buf,
		   size_t cap, uint64_t *first, uint32_t *lines);

/* Counts the whole lines held from cur to the end, and their bytes. */
void spool_pending(struct spool *sp, const struct spool_cursor *cur,
		   uint64_t *lines, uint64_t *bytes);

/* The first line of the run of lines held without a hole that ends at
 * seq (seq itself if it is the first after a hole). */
uint64_t spool_run_base(struct spool *sp, uint64_t seq);

/* The highest line held below run_base (below a hole), or 0 if none. */
uint64_t spool_held_below(struct spool *sp, uint64_t run_base);

/* Records that every line up to `acked` is acknowledged (saving that
 * first), then deletes segments that hold only such lines (never the
 * last). Lower values than the current one are ignored. Returns 0. */
int spool_ack(struct spool *sp, uint64_t acked);

/* Writes the state (acked, counters) if it changed. Returns 0 or -errno. */
int spool_save_state(struct spool *sp);

/* fdatasync()s the segments written since the last call and the state,
 * and fsync()s the stream directory after files came or went. 1 from
 * spool_sync_due() when a segment changed and that should be soon. */
int spool_sync(struct spool *sp);
int spool_sync_due(struct spool *sp);

/* Snapshot of the numbers, under the lock. */
struct spool_stats {
	uint64_t stream_id;
	uint64_t base;         /* lowest line held (next_seq if none) */
	uint64_t next_seq;
	uint64_t last_held;    /* highest whole line held, 0 if none */
	uint64_t acked;
	uint64_t dropped, dropped_open, cut;
	uint64_t bytes;        /* bytes held */
	uint64_t unacked;      /* lines held and not acknowledged */
	uint64_t tail;         /* bytes of an unfinished last line */
};
void spool_stats(struct spool *sp, struct spool_stats *st);

#endif /* CHORUS_SPOOL_H */
