/*
 * logd_io.h - chorus-logd's write thread. The store (logd_store.c) fills
 * one buffer per log file in the main loop and queues the full ones
 * here; a single thread writes them, in the order they were queued, and
 * starts the kernel's writeback of each. The copy into the page cache,
 * the largest cost of writing, so runs beside the loop that reads and
 * checks the next batches. The store waits for the queue to empty
 * (lio_drain) before it syncs, records, cuts or closes anything, so the
 * journal's rules (logd_store.h) hold as before: a length is recorded
 * only after every byte below it was written and synced.
 *
 * Buffers come from a pool of page-aligned blocks of one size; at most
 * max_bufs exist, and lio_get waits for a write to finish when all are
 * in use. After a failed write the thread writes nothing more (its
 * buffers go back to the pool) until lio_reset: the store then rolls
 * back to its last commit, which cuts what was written since.
 *
 * Ownership: a buffer passed to lio_write belongs to the thread until it
 * is written and then returns to the pool; lio_put returns one unused.
 * Only one thread (the store's) calls these functions.
 */
#ifndef CHORUS_LOGD_IO_H
#define CHORUS_LOGD_IO_H

#include <stddef.h>
#include <stdint.h>

struct lio;

/* Starts the thread. Returns 0 and *out, or a negative errno. */
int lio_open(struct lio **out, size_t buf_size, unsigned max_bufs);

/* Waits for the queue, stops the thread and frees every buffer (those
 * still held by the caller too: none may be used after). NULL is
 * ignored. */
void lio_close(struct lio *io);

/* A free buffer of buf_size bytes, waiting for a write to finish if all
 * are in use. NULL when none can be had (out of memory, or all in the
 * caller's hands). */
char *lio_get(struct lio *io);

/* Gives back a buffer from lio_get that was not queued. */
void lio_put(struct lio *io, char *buf);

/* Queues len bytes of buf to be written to fd (which stays open until
 * the queue is drained) at offset off. Writes to one file are done in
 * the order they were queued; runs that continue one another go out in
 * one call. Returns 0, or the error of an earlier failed write (buf is
 * then back in the pool and nothing is queued). */
int lio_write(struct lio *io, int fd, char *buf, size_t len, uint64_t off);

/* Waits until every queued write and the sync job are done. Returns 0,
 * or the negative errno of the first write or sync job that failed since
 * lio_reset (*fd, if not NULL, is set to the write's descriptor, -1 for
 * the sync job). */
int lio_drain(struct lio *io, int *fd);

/* The error of a failed write, without waiting (0 if none so far). */
int lio_failed(struct lio *io);

/* Drains the queue and forgets a failure: writing resumes. */
void lio_reset(struct lio *io);

/* A commit's durable step (lio_sync_start), run by a second thread once
 * every write queued before it is done, while later writes go on: each
 * of fds fdatasync()ed (if sync), then rec_len bytes of rec written to
 * jfd at joff (and jfd fdatasync()ed, if sync); a record that fails is
 * cut off the journal again. The job belongs to the caller, who must not
 * touch it, nor close the descriptors, until it is finished. */
struct lio_sync {
	const int *fds;
	unsigned nfds;
	int sync;
	int jfd;
	uint64_t joff;
	const char *rec;
	size_t rec_len;
	/* Results: */
	int err;                        /* 0 or a negative errno */
	int cut_failed;                 /* a failed record stayed in the journal */
	uint64_t us;                    /* how long the step took */
};

/* Queues job (one at a time: -EBUSY while one is unfinished). A failure
 * (of the job or of a write before it) is the job's err and makes every
 * later write and lio_drain fail until lio_reset. */
int lio_sync_start(struct lio *io, struct lio_sync *job);

/* 1 while the job is unfinished. */
int lio_sync_busy(struct lio *io);

/* Waits until it is finished. */
void lio_sync_wait(struct lio *io);

/* A descriptor (eventfd) that becomes readable when a job finishes; the
 * caller reads it empty. */
int lio_fd(const struct lio *io);

struct lio_stats {
	uint64_t writes, bytes, waits;  /* writes: calls; waits: lio_get
					 * found none free */
	uint64_t get_wait_us;           /* the caller's waits in lio_get */
	uint64_t drain_wait_us;         /* and in lio_drain */
	uint64_t sync_wait_us;          /* and in lio_sync_wait */
	unsigned bufs;                  /* buffers allocated */
};

void lio_stats(struct lio *io, struct lio_stats *out);

/* pwrite() of all len bytes at off, again after EINTR and short writes
 * (on an O_APPEND descriptor the bytes go to its end). Returns 0 or a
 * negative errno. */
int lio_pwrite_all(int fd, const char *p, size_t len, uint64_t off);

#endif
