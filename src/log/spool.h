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
 *           groups                    only in a stream of several groups
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
 * Raw input. The bytes are stored as they come, partial lines included,
 * by the plan of linebuf.h (the overlong-line rule), from a source of
 * intake.h: spool_take() looks at what waits in the pipe and then moves
 * exactly the bytes the rule keeps into the spool with splice(2), or
 * consumes the bytes it drops, each in one system call, so a process
 * killed at any point loses nothing it read and stores nothing twice:
 * the last segment may end in the start of a line, the "tail" (which
 * also records a cut under way, linebuf.h), which the next process
 * reading the same pipe continues. A write that fails for good loses the
 * current line, numbered and counted before any of it is consumed
 * (spool_in.c). A stream records the identity (device, inode) of the input it reads, and
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
 * Several groups. A process that sends to several groups (chorus-log -g a
 * -g b) takes its input once, into one stream in the directory of its
 * first group, and sends that stream to every group. The stream's
 * groups are fixed when it is made and written, in order, in its
 * `groups` file (a stream without one is a stream of one group: the
 * group of its directory, the layout of a single group). Each group has
 * its own acknowledged line and loss counters, kept in the state (a
 * larger slot, version 3, with a record per group), and its own stream
 * id on the wire, spool_stream_id_for(); line numbers, base, holes and
 * the cut counter are the stream's. A segment goes only once every group
 * has acknowledged all its lines; a full spool drops the oldest segment
 * for all groups, each counting the lines it had not acknowledged. A
 * stream is continued only by a process with the same groups in the
 * same order; any other process adopts it and sends it to its groups.
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

#include "log/intake.h"
#include "log/linebuf.h"

#define SPOOL_PATH_MAX 1024
/* Longest chunk spool_append() and spool_take() take at once. */
#define SPOOL_CHUNK_MAX (1024 * 1024)
#define SPOOL_MIN_BYTES (1024 * 1024)
/* Groups of one stream, and the longest group name it records. */
#define SPOOL_GROUPS_MAX 16
#define SPOOL_GROUP_NAME_MAX 255

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
	/* The groups the stream is for, in order (names of 1 to
	 * SPOOL_GROUP_NAME_MAX bytes in 0x21..0x7e, no two alike), copied
	 * at open. ngroups 0 or 1: a stream of one group, the layout of a
	 * single group (groups[0], if given, is only its name). */
	const char *const *groups;
	unsigned ngroups;
	/* For tests (NULL otherwise): called with the name of each step of
	 * a rotation for space as it is done ("rotate:lost", "rotate:new",
	 * "rotate:tail", "rotate:trimmed", "rotate:counted"), so that a test
	 * can end the process there as a kill would. */
	void (*step_hook)(const char *step);
};

/* What the stream keeps for each of its groups. */
struct spool_grp {
	uint64_t stream_id;    /* on the wire: spool_stream_id_for() */
	uint64_t acked;        /* highest line acknowledged for the group */
	uint64_t dropped;      /* lines the group lost since the stream was made */
	uint64_t dropped_open; /* ... as recorded when it was opened */
	uint64_t dropped_sent; /* dropped lines that this process had sent */
	uint64_t sent_high;    /* highest line this process sent */
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
	uint64_t counted_to;   /* lines below it were counted as dropped
				  (their segments may still be on disk) */
	uint64_t acked;        /* acknowledged by every group: the lowest
				  grp[].acked */
	unsigned ngroups;      /* 1 .. SPOOL_GROUPS_MAX */
	int groups_file;       /* the stream has a groups file */
	char groups[SPOOL_GROUPS_MAX][SPOOL_GROUP_NAME_MAX + 1];
	struct spool_grp grp[SPOOL_GROUPS_MAX];
	uint64_t cut;          /* lines cut since the stream was made */
	uint64_t bytes;        /* bytes of whole lines in all segments */
	uint64_t tail;         /* bytes of the unfinished last line */
	struct linebuf lb;     /* the overlong-line rule, where the tail is */
	struct intake mem;     /* spool_append()'s source (holds back at most
				  LB_MARKER_MAX bytes of an unfinished line) */
	int skip_nl;           /* a lost line ended: ST_F_SKIP_NL */
	int hole_open;         /* lines were numbered past the last segment */
	uint64_t cut_read_high; /* highest line spool_read_cut() counted */
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

/* The inverse of spool_group_dir() for one directory name (the last
 * component, without the root): 1 and the group in group (glen bytes)
 * if name is exactly the directory spool_group_dir() makes for that group
 * and node; 0 for any other name (another node's, or one shortened in
 * its group part, which cannot be read back). */
int spool_dir_group(const char *name, const char *node, char *group, size_t glen);

/* Makes sure dir is a private directory of user uid: creates it (mode
 * 0700) if missing; otherwise it must be a directory, not a symbolic
 * link, owned by uid, with no permissions for group or others. Returns 0,
 * or -1 with the reason in err. For spools under a shared directory such
 * as /tmp. */
int spool_private_dir(const char *dir, uid_t uid, char *err, size_t errlen);

/* The stream id under which group `group` gets the lines of a stream of
 * several groups whose own id is id: the first 8 bytes, big-endian, of
 * HMAC-SHA-256 with the 8 big-endian bytes of id as key over the group
 * name; 1 if that is 0. (A stream of one group sends under its own id.) */
uint64_t spool_stream_id_for(uint64_t id, const char *group);

/* Opens the writing stream of group directory gdir (created with its
 * parents if missing) for the groups of o: the free stream of the same
 * input and groups if there is one, else a free stream of the same
 * groups that can be continued, else a new one. Marks it unclean on
 * disk. Returns 0, or -1 with a reason in err (errlen bytes). On failure
 * nothing needs closing. */
int spool_open(struct spool *sp, const char *gdir, const struct spool_opts *o,
	       char *err, size_t errlen);

/* Locks a stream of gdir that no process holds, that is not `except` (a
 * stream id, 0 for none), and whose unfinished last line (if any) has not
 * moved for grace_s seconds, and opens it for draining; its unfinished
 * line is ended with " [chorus-log: line incomplete]" and counted as cut.
 * group is the group of gdir: the group of a stream without a groups
 * file (or one whose groups file cannot be read). Returns 1 if it
 * adopted one, 0 if there is none, -1 with err on failure. */
int spool_adopt(struct spool *sp, const char *gdir, const char *group,
		uint64_t except, int64_t grace_s, size_t max_line, char *err,
		size_t errlen);

/* The groups of the stream: how many, and the name of group g (< the
 * count; "" for a stream of one group opened without its name). */
unsigned spool_ngroups(const struct spool *sp);
const char *spool_group_name(const struct spool *sp, unsigned g);

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
	uint64_t dropped;      /* lines dropped (oldest, or not writable),
				  once for each group that had not
				  acknowledged them */
	int err;               /* 0, or -errno of a write that failed */
};

/* Takes what waits in the source src into the spool by the overlong-line
 * rule: looks at it (in_peek()) and consumes only what it stored or what
 * the rule drops. `final`: no more input will follow what waits (the
 * writers of a pipe are gone). When the stream is over its size it
 * drops whole segments, oldest first (the unacknowledged lines they held
 * are counted); if the disk is full it drops the oldest lines it can,
 * down to the segment being written; if a write still fails, the current
 * line is lost: numbered and counted as dropped, so that writers see the
 * hole. Returns the input bytes consumed, which *taken points to (in the
 * source's buffer, valid until its next look), 0 at the end of input,
 * -EAGAIN if nothing could be taken now, or another -errno. Results in
 * *io. */
ssize_t spool_take(struct spool *sp, struct intake *src, int final,
		   const char **taken, struct spool_io *io);

/* spool_take() from memory: len bytes of raw input (any boundaries; at
 * most SPOOL_CHUNK_MAX). At most LB_MARKER_MAX bytes of an unfinished
 * line that might still fit are held back in memory until more input or
 * spool_finish(). Returns 0 or the error of *io. */
int spool_append(struct spool *sp, const char *data, size_t len,
		 struct spool_io *io);

/* End of input: ends an unfinished last line with '\n' (the end of the
 * marker first if it is being cut). */
int spool_finish(struct spool *sp, struct spool_io *io);

/* Lines up to seq were sent to group g by this process (for the count of
 * dropped lines that a writer may have, spool_group_stats().dropped_sent). */
void spool_note_sent(struct spool *sp, unsigned g, uint64_t seq);

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

/* For a line at cur longer than cap (spool_read() said -EMSGSIZE): reads
 * it cut to cap bytes, its first cap - LB_MARKER_MAX bytes and the marker
 * " [chorus-log: line cut, N bytes]\n", counted as cut (once), and moves
 * cur past it: a stored line too long to send never stops a stream.
 * Returns the bytes, with *first and *lines (1), or -errno (-EMSGSIZE if
 * the line at cur is not such a line). */
ssize_t spool_read_cut(struct spool *sp, struct spool_cursor *cur, char *buf,
		       size_t cap, uint64_t *first, uint32_t *lines);

/* Counts the whole lines held from cur to the end, and their bytes. */
void spool_pending(struct spool *sp, const struct spool_cursor *cur,
		   uint64_t *lines, uint64_t *bytes);

/* The first line of the run of lines held without a hole that ends at
 * seq (seq itself if it is the first after a hole). */
uint64_t spool_run_base(struct spool *sp, uint64_t seq);

/* The highest line held below run_base (below a hole), or 0 if none. */
uint64_t spool_held_below(struct spool *sp, uint64_t run_base);

/* Records that every line up to `acked` is acknowledged for group g
 * (saving that first if segments can go), then deletes segments that
 * hold only lines that every group has acknowledged (never the last).
 * Lower values than the group's current one are ignored. Returns 0, or
 * -EINVAL if there is no group g. */
int spool_ack(struct spool *sp, unsigned g, uint64_t acked);

/* Writes the state (acked, counters) if it changed. Returns 0 or -errno. */
int spool_save_state(struct spool *sp);

/* fdatasync()s the segments written since the last call and the state,
 * and fsync()s the stream directory after files came or went. 1 from
 * spool_sync_due() when a segment changed and that should be soon. */
int spool_sync(struct spool *sp);
int spool_sync_due(struct spool *sp);

/* Snapshot of the numbers, under the lock. spool_group_stats() gives
 * them as group g sees its stream; spool_stats() gives those of the
 * whole stream: its own id, acked by every group, the losses of all
 * groups added up, unacked the lines some group has not acknowledged.
 * For a stream of one group the two are the same. */
struct spool_stats {
	uint64_t stream_id;
	uint64_t base;         /* lowest line held (next_seq if none) */
	uint64_t next_seq;
	uint64_t last_held;    /* highest whole line held, 0 if none */
	uint64_t acked;
	uint64_t dropped, dropped_open, cut;
	uint64_t dropped_sent; /* of dropped: lines this process had sent
				  (a writer may have them) */
	uint64_t bytes;        /* bytes held */
	uint64_t unacked;      /* lines held and not acknowledged */
	uint64_t tail;         /* bytes of an unfinished last line */
};
void spool_stats(struct spool *sp, struct spool_stats *st);
void spool_group_stats(struct spool *sp, unsigned g, struct spool_stats *st);

#endif /* CHORUS_SPOOL_H */
