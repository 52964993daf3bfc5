/*
 * logd_rotate.h - background compression of rotated log files (zstd with
 * libzstd, gzip with zlib), so that writing never waits for it.
 *
 * One worker thread takes jobs from a bounded queue: it reads the source
 * file, writes the compressed copy to "<dst>.part", fsync()s it and
 * reports back. It never renames or removes anything: the main thread,
 * which owns the file names and the journal, finishes a job with
 * store_zip_done() when it collects the result (zq_collect), so a file
 * that was reopened in the meantime is never removed.
 *
 * Ownership: zq_start() creates the queue and its thread; zq_stop()
 * stops the thread (a job in progress is finished first) and frees it.
 */
#ifndef CHORUS_LOGD_ROTATE_H
#define CHORUS_LOGD_ROTATE_H

#include <stddef.h>
#include <stdint.h>

#include "log/logd.h"

#define ZQ_MAX 1024

struct zq;

struct zq_result {
	char src[LOGD_PATH_MAX];
	char tmp[LOGD_PATH_MAX + 48];
	uint64_t gen;
	int ok;
	uint64_t in_bytes, out_bytes;
};

/* Starts the worker. Returns 0 and *out, or -1 (errno). */
int zq_start(struct zq **out);

/* The descriptor that becomes readable when results wait (an eventfd). */
int zq_fd(const struct zq *q);

/* Queues the compression of src into dst (its ".part" first), with the
 * method of dst's ending (".zst" or ".gz"). Returns 0, or -1 if the queue
 * is full or the method unknown. */
int zq_push(struct zq *q, const char *src, const char *dst, uint64_t gen);

/* Takes one finished job; returns 1 and *r, or 0 if none. */
int zq_collect(struct zq *q, struct zq_result *r);

/* Jobs queued or running. */
int zq_busy(struct zq *q);

/* Stops the worker and frees q; queued jobs that did not start are
 * dropped (the journal still lists them, and the next start redoes
 * them). NULL is ignored. */
void zq_stop(struct zq *q);

/* Compresses src into dst (created or truncated, fsync'd) with how; the
 * work of a job. Counts the bytes read and written. Returns 0 or a
 * negative errno (dst is then removed). */
int zq_compress_file(const char *src, const char *dst, enum logd_compress how,
		     uint64_t *in_bytes, uint64_t *out_bytes);

#endif /* CHORUS_LOGD_ROTATE_H */
