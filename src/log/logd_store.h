/*
 * logd_store.h - chorus-logd's durable store: the log files it appends
 * to, the per-stream high-water marks, and the journal that ties the two
 * together so that a writer killed at any point recovers to a state where
 * its files hold every acknowledged line exactly once and no torn line.
 *
 * The design (docs/logd.md has the long form):
 *
 *   - Lines are appended to the files through per-file buffers, which
 *     a write thread (logd_io.h) writes out while the loop goes on;
 *     nothing is acknowledged yet.
 *   - store_commit() writes the buffers out, fdatasync()s the files that
 *     changed (unless the policy is "never"), then appends one record to
 *     the journal: the new committed length of every file written and the
 *     high-water mark of every stream that moved, closed by a checksum
 *     line; then fdatasync()s the journal. Only after this does the shell
 *     send the acknowledgements of the batches it has taken.
 *   - On start, store_open() replays the journal up to its last intact
 *     record and cuts every file it names back to its committed length.
 *     Lines written after that record are gone, and so are the high-water
 *     marks that covered them; they were never acknowledged, so chorus-log
 *     sends them again and they are written once.
 *   - A file is named in the journal (with its length at that moment)
 *     before the first byte is written to it, so a file created after the
 *     last record is cut back to what it had, too.
 *   - Renames (size rotation) are written to the journal before they are
 *     done and redone on recovery; compressions of rotated files are
 *     recorded when queued and when finished, and redone when needed.
 *     The compression of a file is queued in the same record as the step
 *     that ends the file's life (the rename's intent, the close by time),
 *     so no crash can leave a finished file without its compression.
 *   - A failed commit leaves the tables in memory as the journal has
 *     them: the time-file and compression changes its record carried are
 *     undone, and the entries that record what was already done on disk
 *     (a rename, a finished compression) go into the next record.
 *
 * Journal: <state_dir>/journal, text, one entry a line (see docs/logd.md):
 *   F <length> <path>          committed length of a file
 *   S <stream id, 16 hex> <hwm> <lost>
 *   R <suffix> <path>          path is renamed to path+suffix (intent)
 *   r <path>                   that rename is done
 *   Z <suffix> <path>          path is to be compressed into path+suffix
 *   z <path>                   that compression is done or abandoned
 *   T <end> <ext|-> <key> <path>   path is key's time file (store_tfile)
 *   t <key>                    key's time file was closed by time
 *   C <FNV-1a 64 of the record's bytes, 16 hex>
 * It is rewritten as a snapshot (journal.new, fsync, rename) at start
 * and whenever it grows past STORE_JOURNAL_MAX.
 *
 * Ownership: store_open() creates the store, store_close() frees it and
 * every struct store_file; a struct store_file belongs to the store and
 * is valid until store_close_file(), store_rotate() or store_close().
 * Only the main thread calls these functions; the write thread only
 * writes the buffers it is given, and every function that syncs, records,
 * cuts or closes waits for it first.
 */
#ifndef CHORUS_LOGD_STORE_H
#define CHORUS_LOGD_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "log/logd.h"
#include "log/logd_io.h"
#include "proto/batch.h"

#define STORE_STREAMS_MAX 65536
#define STORE_ZIPS_MAX 1024
#define STORE_BUF 262144            /* write buffer of one file */
#define STORE_INFLIGHT 32           /* buffers being written at most */
#define STORE_JOURNAL_MAX (16u << 20)
#define STORE_KEY_MAX 96
#define STORE_PIN_MAX (LOGD_MAX_RULES * 2 + 2) /* files one batch may pin */

struct store_cfg {
	const char *state_dir;
	enum logd_fsync fsync;
	uint32_t max_open;          /* open files at most (>= 4) */
};

/* An open log file. */
struct store_file {
	char path[LOGD_PATH_MAX];
	char key[STORE_KEY_MAX];    /* the shell's: which rule and node */
	int fd;
	uint64_t size;              /* bytes written, buffered included */
	uint64_t committed;         /* length in the journal */
	uint64_t committing;        /* length in the record being synced */
	char *buf;                  /* from the write thread's pool */
	size_t buffered;            /* in buf, not yet queued */
	uint64_t last_use;
	int dirty;                  /* written since the last fdatasync */
	int pinned;                 /* the shell's: not to be evicted now */
};

/* A stream's entry: the batch_rx bookkeeping plus what was committed. */
struct store_stream {
	struct batch_rx rx;
	uint64_t committed_hwm;
	uint64_t last_use;
	uint64_t pending_bytes;     /* the shell's: stored since the last commit */
	int dirty;
};

/* A compression waiting or running: src into src + suffix. */
struct store_zip {
	char src[LOGD_PATH_MAX];
	char suffix[16];
	uint64_t gen;               /* tells a requeued compression apart */
};

/* A file of a time pattern that is still its key's file: the current
 * file of a rule and node, or the file their late lines go to (key with
 * "|late"). It is closed "by time" (and compressed) when a batch of the
 * key comes from a later period, or when it lies idle past its period;
 * until then it may be closed (SIGHUP, eviction, restart) and reopened.
 * A file closed by time is never written again: late lines go to a
 * "<name>.lateN" file. Recorded in the journal (T, t). */
struct store_tfile {
	char key[STORE_KEY_MAX];
	char path[LOGD_PATH_MAX];
	char ext[8];                /* compression ending, "" for none */
	int64_t end;                /* end of its period (s, sender's clock) */
	int64_t touched;            /* last written (s, writer's clock; not kept) */
};

#define STORE_TFILES_MAX 65536

/* How to undo a change of the time-file or compression tables whose
 * entry is in the record being built (see store_commit). */
struct store_undo {
	int op;                     /* STORE_U_* (logd_store.c) */
	int had;                    /* the time file existed before */
	size_t at;                  /* where its entry begins in the record */
	struct store_tfile tf;      /* the time file before the change */
	struct store_zip z;         /* the compression added or removed */
};

struct store_stats {
	uint64_t commits, fsyncs, journal_bytes, compactions;
	uint64_t fsync_us_last, fsync_us_max, fsync_us_total;
	uint64_t streams_evicted, truncated_bytes, files_missing;
};

/* A commit whose syncs and record run in the write thread's second
 * thread (store_commit_begin) while the loop goes on. */
struct store_async {
	int busy, sync;
	uint64_t id, ok_id;             /* last begun; last that succeeded */
	struct lio_sync job;
	int *fds;                       /* files to sync */
	unsigned nfds;
	struct { uint64_t id, hwm; } *streams; /* marks the record holds */
	uint32_t nstreams;
	char *rec;                      /* the record, owned here */
	size_t rec_cap;
};

struct store {
	struct store_cfg cfg;
	char dir[LOGD_PATH_MAX];
	int lock_fd, jfd;
	uint64_t jsize;
	uint64_t clock;                 /* use counter for LRU */
	struct store_file **files;
	uint32_t nfiles;
	struct store_stream *streams;   /* open addressing by stream id */
	uint32_t streams_cap, nstreams;
	uint32_t *dirty_idx;            /* streams touched since the commit */
	uint32_t ndirty;
	struct store_zip zips[STORE_ZIPS_MAX];
	int nzips;
	struct store_tfile *tfiles;
	uint32_t ntfiles, tfiles_cap;
	uint64_t zip_gen;
	char *rec;                      /* the journal record being built */
	size_t rec_len, rec_cap;
	char *owed;                     /* entries of done steps not yet in a */
	size_t owed_len, owed_cap;      /* written record (also in rec) */
	struct store_undo *undo;        /* table changes of rec, in order */
	uint32_t nundo, undo_cap;
	struct store_stats st;
	struct lio *io;                 /* the write thread (logd_io.h) */
	struct store_async ac;
	int io_warned;                  /* its failure was logged */
};

/* Opens the state directory (created if missing, locked against a second
 * writer), replays the journal, cuts the files it names back to their
 * committed lengths, redoes interrupted renames, and rewrites the journal
 * as a snapshot. Pending compressions are left in s->zips for the shell
 * to start. Returns 0 and *out, or -1 with a message in err. */
int store_open(struct store **out, const struct store_cfg *cfg, char *err,
	       size_t errlen);

/* Commits, closes every file and frees the store. NULL is ignored. */
void store_close(struct store *s);

/* The stream entry of id (created with hwm 0 if create and new; when the
 * table is full the least recently used entry is evicted and counted).
 * NULL if absent and !create. The pointer is valid until the next call
 * that may create a stream. */
struct store_stream *store_stream(struct store *s, uint64_t id, int create);

/* Marks a stream's bookkeeping as changed, so the next commit records it. */
void store_stream_touch(struct store *s, struct store_stream *st);

/* The open file for path, or NULL if it is not open. */
struct store_file *store_find(struct store *s, const char *path);

/* The open file with this key, or NULL. */
struct store_file *store_find_key(struct store *s, const char *key);

/* Opens path for appending (creating it and its directories), records
 * its current length in the journal before anything is written, and
 * tags it with key. A compression queued for this path is abandoned. If
 * max_open files are open, the least recently used are closed first.
 * Returns 0 and *out, or a negative errno. */
int store_file_open(struct store *s, const char *path, const char *key,
		    struct store_file **out);

/* Appends len bytes (whole lines) to f's buffer, queueing it to the
 * write thread whenever it is full. Returns 0 or a negative errno: a
 * write of this or another file failed (now or since the last commit,
 * and logged); the caller rolls back to the last commit, which cuts
 * whatever did get written. */
int store_append(struct store *s, struct store_file *f, const char *data, size_t len);

/* Writes out every buffer; fdatasync()s changed files and the journal
 * if sync; appends the record of every changed file and stream. Returns
 * 0 or a negative errno (nothing may be acknowledged then; the time-file
 * and compression tables are back to what the journal holds). */
int store_commit(struct store *s, int sync);

/* A commit in two halves, so that the loop reads and writes on while
 * the files and the journal are synced (by the write thread's second
 * thread; logd_io.h). Begin queues every buffer, takes the record of
 * every changed file and stream (their lengths and marks now), and
 * starts the syncs and the record's write; it first ends a commit still
 * under way. Returns 0 when started, 1 when it is already done (nothing
 * to record, or done at once because table changes wait in the record),
 * or a negative errno (roll back). Lines appended after it belong to the
 * next commit. */
int store_commit_begin(struct store *s, int sync);

/* 1 while a begun commit is still under way (it then finishes by itself;
 * store_wake_fd becomes readable). */
int store_commit_busy(struct store *s);

/* Waits for a begun commit and applies it: the recorded lengths and marks
 * become the committed ones. Returns 0 (also when none was begun) or a
 * negative errno: nothing of it may be acknowledged, the caller rolls
 * back. Every other function that commits, cuts or closes ends it first. */
int store_commit_end(struct store *s);

/* The number of the last commit begun, and whether commit id succeeded
 * (ended, by store_commit_end or by any function that ends it). */
uint64_t store_commit_id(const struct store *s);
int store_commit_ok(const struct store *s, uint64_t id);

/* Readable when a begun commit has finished (poll it; the store empties it). */
int store_wake_fd(const struct store *s);

/* Undoes everything since the last commit (a write failed): cuts the
 * files back to their committed lengths and the streams' high-water marks
 * to their committed values. Nothing since the commit was acknowledged. */
void store_rollback(struct store *s);

/* 1 if a commit would record something. */
int store_uncommitted(const struct store *s);

/* Commits and closes f. */
int store_close_file(struct store *s, struct store_file *f, int sync);

/* Commits and closes every file (SIGHUP: the next write reopens them by
 * name, so a file that logrotate moved away is created anew). */
int store_close_all(struct store *s, int sync);

/* Size rotation: commits, then renames f's file to the first free
 * "<path>.N" (N >= 1, also free of "<path>.N<zip_ext>"), durably, and
 * closes f. If zip_ext is not empty (".zst", ".gz") it also queues the
 * compression of the rotated file (see store_zip_*), in the record of the
 * rename's intent. The rotated name goes to rotated. Returns 0 or a
 * negative errno (then f is still open and nothing was renamed, or the
 * rename failed and f is closed). */
int store_rotate(struct store *s, struct store_file *f, const char *zip_ext,
		 char *rotated, size_t cap);

/* Queues the compression of a closed file into path + ext (".N" is added
 * before ext if that exists). Returns the index in s->zips, or -1. */
int store_zip_queue(struct store *s, const char *path, const char *ext);

/* A compression of src (queued as generation gen) finished: the compressed copy is tmp
 * (already fsync'd); unless the source was reopened (the zip is then
 * gone from the list) it is renamed into place, the source removed and
 * the end recorded. ok=0: the compression failed; the source stays.
 * Returns 0, or a negative errno. */
int store_zip_done(struct store *s, const char *src, uint64_t gen, const char *tmp,
		   int ok);

/* Index of the pending zip of src, or -1. */
int store_zip_find(const struct store *s, const char *src);

/* The time file of key, or NULL. Valid until the next store_tfile_*. */
struct store_tfile *store_tfile_find(struct store *s, const char *key);

/* Makes path key's time file (replacing any), recorded by the next
 * commit. Returns 0, or -ENOSPC / -ENOMEM. */
int store_tfile_set(struct store *s, const char *key, const char *path,
		    const char *ext, int64_t end);

/* Closes key's time file for good (by time): commits and closes it if it
 * is open, then records in one commit that it is closed (t) and, if it
 * has a compression ending and the file is there, its compression (Z).
 * *zip is the index of that compression in s->zips, or -1. Returns 0,
 * -EBUSY if the file is pinned, or a negative errno of the commit (the
 * time file then stays as it was). */
int store_tfile_close(struct store *s, const char *key, int *zip);

/* 1 if path was ever written and closed for good: the file, its
 * compressed form path+ext, or a compression queued for it exists. */
int store_path_taken(const struct store *s, const char *path, const char *ext);

/* The first free "<path>.lateN" (N >= 1, also free of the compressed
 * form) into out; 0, or -ENAMETOOLONG / -EEXIST. */
int store_late_name(struct store *s, const char *path, const char *ext, char *out,
		    size_t cap);

#endif /* CHORUS_LOGD_STORE_H */
