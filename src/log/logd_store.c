/*
 * logd_store.c - chorus-logd's files, high-water marks and journal (see
 * logd_store.h for the design and docs/logd.md for the layout).
 *
 * The invariant every function keeps: the last intact journal record,
 * together with the records before it, names for every file that may
 * hold uncommitted bytes its committed length, and for every stream the
 * high-water mark of the lines those lengths hold. Acknowledgements are
 * sent only for what a record holds, so cutting the files back to the
 * record on recovery never removes an acknowledged line, and the
 * high-water marks make sure a line is never written twice.
 */
#include "log/logd_store.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log/logd_io.h"
#include "util/log.h"
#include "util/vec.h"

#define JOURNAL_HEADER "chorus-logd journal 1\n"

static int store_snapshot(struct store *s, char *err, size_t errlen);

static uint64_t fnv1a(const char *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)p[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

static int64_t mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* fsync()s the directory holding path (after a create or rename in it). */
static int sync_parent(const char *path)
{
	char dir[LOGD_PATH_MAX];
	const char *slash = strrchr(path, '/');
	int fd, ret = 0;

	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == path)
		snprintf(dir, sizeof(dir), "/");
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fsync(fd) != 0)
		ret = -errno;
	close(fd);
	return ret;
}

/* Creates the directories leading to path (like mkdir -p of its parent);
 * with sync, fsync()s the parent of every directory it makes, so that a
 * power loss cannot take a new directory and the lines under it. */
static int make_parents(const char *path, int sync)
{
	char tmp[LOGD_PATH_MAX];
	size_t n = strlen(path);

	if (n >= sizeof(tmp))
		return -ENAMETOOLONG;
	memcpy(tmp, path, n + 1);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(tmp, 0755) == 0) {
			int ret = sync ? sync_parent(tmp) : 0;

			if (ret != 0)
				return ret;
		} else if (errno != EEXIST) {
			return -errno;
		}
		*p = '/';
	}
	return 0;
}

static int exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

/* ---- The record being built ---- */

static int rec_add(struct store *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Appends one formatted entry to the record; 0 or -ENOMEM. */
static int rec_add(struct store *s, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		size_t room = s->rec_cap - s->rec_len;

		va_start(ap, fmt);
		n = vsnprintf(s->rec + s->rec_len, room, fmt, ap);
		va_end(ap);
		if (n < 0)
			return -EINVAL;
		if ((size_t)n < room) {
			s->rec_len += (size_t)n;
			return 0;
		}
		{
			size_t cap = s->rec_cap * 2 + (size_t)n;
			char *p = realloc(s->rec, cap);

			if (!p)
				return -ENOMEM;
			s->rec = p;
			s->rec_cap = cap;
		}
	}
}

/* Appends n bytes to a growing buffer; 0 or -ENOMEM. */
static int buf_add(char **buf, size_t *len, size_t *cap, const char *text, size_t n)
{
	if (*len + n > *cap) {
		size_t ncap = (*cap ? *cap * 2 : 4096) + n;
		char *p = realloc(*buf, ncap);

		if (!p)
			return -ENOMEM;
		*buf = p;
		*cap = ncap;
	}
	memcpy(*buf + *len, text, n);
	*len += n;
	return 0;
}

static int fact_add(struct store *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Appends the entry of a step already done on disk (a rename, the end
 * of a compression) to the record. It is also kept in s->owed until a
 * record holding it is written: a failed commit cannot undo the step, so
 * its entry goes into the next record. 0 or a negative errno. */
static int fact_add(struct store *s, const char *fmt, ...)
{
	char entry[LOGD_PATH_MAX + 64];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(entry, sizeof(entry), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(entry))
		return -ENAMETOOLONG;
	if (buf_add(&s->owed, &s->owed_len, &s->owed_cap, entry, (size_t)n) != 0)
		return -ENOMEM;
	if (buf_add(&s->rec, &s->rec_len, &s->rec_cap, entry, (size_t)n) != 0) {
		s->owed_len -= (size_t)n;
		return -ENOMEM;
	}
	return 0;
}

/* ---- Undoing the table changes of a failed record ---- */

enum { STORE_U_TFILE, STORE_U_ZIP_ADD, STORE_U_ZIP_DEL };

static int tfile_put(struct store *s, const char *key, const char *path,
		     const char *ext, int64_t end);
static void tfile_remove(struct store *s, const char *key);

/* Remembers how to undo a table change whose entry goes into the record
 * next; 0 or -ENOMEM. */
static int undo_push(struct store *s, const struct store_undo *u)
{
	if (vec_room(&s->undo, &s->undo_cap, s->nundo, sizeof(*s->undo), 16))
		return -ENOMEM;
	s->undo[s->nundo] = *u;
	s->undo[s->nundo].at = s->rec_len;
	s->nundo++;
	return 0;
}

/* Undoes the last table change and drops its entry from the record. */
static void undo_last(struct store *s)
{
	const struct store_undo *u = &s->undo[--s->nundo];

	switch (u->op) {
	case STORE_U_TFILE:
		if (!u->had) {
			tfile_remove(s, u->tf.key);
		} else if (tfile_put(s, u->tf.key, u->tf.path, u->tf.ext, u->tf.end) == 0) {
			/* The slot it had is free again: no allocation. */
			store_tfile_find(s, u->tf.key)->touched = u->tf.touched;
		}
		break;
	case STORE_U_ZIP_ADD:
		for (int i = 0; i < s->nzips; i++)
			if (s->zips[i].gen == u->z.gen && strcmp(s->zips[i].src, u->z.src) == 0) {
				s->zips[i] = s->zips[--s->nzips];
				break;
			}
		break;
	case STORE_U_ZIP_DEL:
		if (s->nzips < STORE_ZIPS_MAX)
			s->zips[s->nzips++] = u->z;
		break;
	}
	if (u->at < s->rec_len)
		s->rec_len = u->at;
}

/* A record was not written: the tables go back to what the journal
 * holds, and the record starts anew with the entries of done steps. */
static void record_failed(struct store *s)
{
	while (s->nundo)
		undo_last(s);
	s->rec_len = 0;
	if (s->owed_len && buf_add(&s->rec, &s->rec_len, &s->rec_cap, s->owed,
				   s->owed_len) != 0)
		log_warnx("journal: out of memory (entries of finished steps lost)");
}

/* A record was written: nothing is owed or to be undone any more. */
static void record_done(struct store *s)
{
	s->nundo = 0;
	s->owed_len = 0;
}

/* Closes the record with its checksum and appends it to the journal;
 * fdatasync()s it if sync. On failure the journal is cut back to where
 * the record began, so a later record is not hidden behind a torn one. */
static int rec_write(struct store *s, int sync)
{
	uint64_t h;
	int ret;

	if (s->rec_len == 0)
		return 0;
	h = fnv1a(s->rec, s->rec_len);
	ret = rec_add(s, "C %016" PRIx64 "\n", h);
	if (ret == 0)
		ret = lio_pwrite_all(s->jfd, s->rec, s->rec_len, s->jsize);
	if (ret == 0 && sync && fdatasync(s->jfd) != 0)
		ret = -errno;
	if (ret != 0) {
		if (ftruncate(s->jfd, (off_t)s->jsize) != 0)
			log_warn("journal: cannot cut a failed record");
		s->rec_len = 0;
		return ret;
	}
	s->jsize += s->rec_len;
	s->st.journal_bytes += s->rec_len;
	s->rec_len = 0;
	return 0;
}

/* ---- Streams: open addressing on the id, never deleted except by
 * eviction (which rebuilds the table). ---- */

static uint32_t stream_slot(const struct store *s, uint64_t id)
{
	uint64_t h = id * 0x9e3779b97f4a7c15ull;

	return (uint32_t)(h >> 32) & (s->streams_cap - 1);
}

/* Evicts the least recently used stream. The caller has committed, so
 * nothing is dirty. Rebuilds the table without it. */
static int stream_evict(struct store *s)
{
	struct store_stream *old = s->streams;
	uint32_t victim = UINT32_MAX, cap = s->streams_cap;

	for (uint32_t i = 0; i < cap; i++)
		if (old[i].rx.stream_id &&
		    (victim == UINT32_MAX || old[i].last_use < old[victim].last_use))
			victim = i;
	s->streams = calloc(cap, sizeof(*s->streams));
	if (!s->streams) {
		s->streams = old;
		return -ENOMEM;
	}
	s->nstreams = 0;
	for (uint32_t i = 0; i < cap; i++) {
		uint32_t k;

		if (!old[i].rx.stream_id || i == victim)
			continue;
		for (k = stream_slot(s, old[i].rx.stream_id); s->streams[k].rx.stream_id;
		     k = (k + 1) & (cap - 1))
			;
		s->streams[k] = old[i];
		s->nstreams++;
	}
	log_warnx("stream table full (%d streams): forgot stream %016" PRIx64
		  " (high-water mark %" PRIu64 "), the least recently used",
		  STORE_STREAMS_MAX, old[victim].rx.stream_id, old[victim].committed_hwm);
	free(old);
	s->st.streams_evicted++;
	return 0;
}

struct store_stream *store_stream(struct store *s, uint64_t id, int create)
{
	uint32_t k;

	if (id == 0)
		return NULL;
	for (k = stream_slot(s, id); s->streams[k].rx.stream_id;
	     k = (k + 1) & (s->streams_cap - 1)) {
		if (s->streams[k].rx.stream_id == id) {
			s->streams[k].last_use = ++s->clock;
			return &s->streams[k];
		}
	}
	if (!create)
		return NULL;
	if (s->nstreams >= STORE_STREAMS_MAX) {
		if (store_commit(s, s->cfg.fsync != LOGD_FSYNC_NEVER) != 0 ||
		    stream_evict(s) != 0)
			return NULL;
		for (k = stream_slot(s, id); s->streams[k].rx.stream_id;
		     k = (k + 1) & (s->streams_cap - 1))
			;
	}
	memset(&s->streams[k], 0, sizeof(s->streams[k]));
	s->streams[k].rx.stream_id = id;
	s->streams[k].last_use = ++s->clock;
	s->nstreams++;
	return &s->streams[k];
}

void store_stream_touch(struct store *s, struct store_stream *st)
{
	if (st->dirty)
		return;
	st->dirty = 1;
	s->dirty_idx[s->ndirty++] = (uint32_t)(st - s->streams);
}

void store_rollback(struct store *s)
{
	/* What the thread has queued goes in (or fails) first; then every
	 * file is cut back, whatever of it was written. */
	store_commit_end(s);
	lio_reset(s->io);
	s->io_warned = 0;
	for (uint32_t i = 0; i < s->nfiles; i++) {
		struct store_file *f = s->files[i];

		/* What was queued may have reached the file: cut. */
		f->size -= f->buffered;
		f->buffered = 0;
		if (f->size != f->committed) {
			if (ftruncate(f->fd, (off_t)f->committed) != 0)
				log_warn("%s: cannot cut back to %" PRIu64 " bytes", f->path,
					 f->committed);
			f->size = f->committed;
		}
	}
	for (uint32_t i = 0; i < s->ndirty; i++) {
		struct store_stream *st = &s->streams[s->dirty_idx[i]];

		st->rx.hwm = st->committed_hwm;
		st->pending_bytes = 0;
		st->dirty = 0;
	}
	s->ndirty = 0;
}

/* ---- Files ---- */

struct store_file *store_find(struct store *s, const char *path)
{
	for (uint32_t i = 0; i < s->nfiles; i++)
		if (strcmp(s->files[i]->path, path) == 0) {
			s->files[i]->last_use = ++s->clock;
			return s->files[i];
		}
	return NULL;
}

struct store_file *store_find_key(struct store *s, const char *key)
{
	for (uint32_t i = 0; i < s->nfiles; i++)
		if (strcmp(s->files[i]->key, key) == 0)
			return s->files[i];
	return NULL;
}

/* A write of the thread failed: said once per failure, with the file's
 * name. Returns the error; the caller rolls back. */
static int io_failed(struct store *s)
{
	const char *path = "a log file";
	int fd = -1, ret = lio_drain(s->io, &fd);

	for (uint32_t i = 0; i < s->nfiles; i++)
		if (s->files[i]->fd == fd)
			path = s->files[i]->path;
	if (!s->io_warned)
		log_warnx("writing %s: %s", path, strerror(-ret));
	s->io_warned = 1;
	return ret;
}

/* Queues what f's buffer holds to the write thread; f takes a fresh
 * buffer. */
static int file_flush(struct store *s, struct store_file *f)
{
	char *next;
	int ret;

	if (!f->buffered)
		return 0;
	next = lio_get(s->io);
	if (!next)
		return -ENOMEM;
	/* The buffer goes to the thread, or back to the pool on an error:
	 * either way it is no longer f's. */
	ret = lio_write(s->io, f->fd, f->buf, f->buffered, f->size - f->buffered);
	f->buf = next;
	f->buffered = 0;
	if (ret != 0)
		return io_failed(s);
	f->dirty = 1;
	return 0;
}

static void file_free(struct store *s, struct store_file *f)
{
	for (uint32_t i = 0; i < s->nfiles; i++) {
		if (s->files[i] == f) {
			s->files[i] = s->files[--s->nfiles];
			break;
		}
	}
	/* The thread may still hold writes to its descriptor. */
	lio_drain(s->io, NULL);
	if (f->fd >= 0)
		close(f->fd);
	lio_put(s->io, f->buf);
	free(f);
}

int store_append(struct store *s, struct store_file *f, const char *data, size_t len)
{
	int ret;

	if (lio_failed(s->io) != 0)
		return io_failed(s);
	f->last_use = ++s->clock;
	while (len) {
		size_t n = STORE_BUF - f->buffered;

		if (n > len)
			n = len;
		memcpy(f->buf + f->buffered, data, n);
		f->buffered += n;
		f->size += n;
		data += n;
		len -= n;
		if (f->buffered == STORE_BUF && (ret = file_flush(s, f)) != 0)
			return ret;
	}
	return 0;
}

int store_uncommitted(const struct store *s)
{
	for (uint32_t i = 0; i < s->nfiles; i++)
		if (s->files[i]->size != s->files[i]->committed)
			return 1;
	return s->ndirty != 0 || s->rec_len != 0;
}

static int commit_record(struct store *s, int sync);

/* Queues every buffer. */
static int flush_all(struct store *s)
{
	int ret;

	for (uint32_t i = 0; i < s->nfiles; i++)
		if ((ret = file_flush(s, s->files[i])) != 0)
			return ret;
	return 0;
}

static void fsync_stat(struct store *s, uint64_t us)
{
	s->st.fsyncs++;
	s->st.fsync_us_last = us;
	s->st.fsync_us_total += us;
	if (us > s->st.fsync_us_max)
		s->st.fsync_us_max = us;
}

int store_commit_begin(struct store *s, int sync)
{
	struct store_async *a = &s->ac;
	int ret;

	if ((ret = store_commit_end(s)) != 0)
		return ret;
	/* Changes of the tables ride only on a whole commit (their undo
	 * is for a record that failed while its step waits). */
	if (s->nundo || s->owed_len || s->rec_len)
		return (ret = store_commit(s, sync)) != 0 ? ret : 1;
	if (lio_failed(s->io) != 0)
		return io_failed(s);
	if ((ret = flush_all(s)) != 0)
		return ret;
	a->nfds = 0;
	a->nstreams = 0;
	for (uint32_t i = 0; i < s->nfiles; i++) {
		struct store_file *f = s->files[i];

		f->committing = f->size;
		if (f->dirty && sync)
			a->fds[a->nfds++] = f->fd;
		f->dirty = 0;
		if (f->size != f->committed &&
		    (ret = rec_add(s, "F %" PRIu64 " %s\n", f->size, f->path)) != 0)
			goto fail;
	}
	for (uint32_t i = 0; i < s->ndirty; i++) {
		struct store_stream *st = &s->streams[s->dirty_idx[i]];

		st->pending_bytes = 0;
		st->dirty = 0;
		if (st->rx.hwm == st->committed_hwm)
			continue;
		if ((ret = rec_add(s, "S %016" PRIx64 " %" PRIu64 " %" PRIu64 "\n",
				   st->rx.stream_id, st->rx.hwm, st->rx.lost)) != 0)
			goto fail;
		a->streams[a->nstreams].id = st->rx.stream_id;
		a->streams[a->nstreams++].hwm = st->rx.hwm;
	}
	s->ndirty = 0;
	if (s->rec_len == 0 && a->nfds == 0)
		return 1;
	if (s->rec_len && (ret = rec_add(s, "C %016" PRIx64 "\n",
					 fnv1a(s->rec, s->rec_len))) != 0)
		goto fail;
	/* The record goes to the sync thread; the store builds the next
	 * one in the other buffer. */
	{
		char *r = a->rec;
		size_t cap = a->rec_cap;

		a->rec = s->rec;
		a->rec_cap = s->rec_cap;
		s->rec = r;
		s->rec_cap = cap;
	}
	a->job = (struct lio_sync){
		.fds = a->fds, .nfds = a->nfds, .sync = sync, .jfd = s->jfd,
		.joff = s->jsize, .rec = a->rec, .rec_len = s->rec_len,
	};
	s->rec_len = 0;
	a->sync = sync;
	if ((ret = lio_sync_start(s->io, &a->job)) != 0)
		return ret; /* cannot happen: none is running */
	a->busy = 1;
	a->id++;
	return 0;
fail:
	/* Out of memory: as a failed commit (the caller rolls back). */
	s->rec_len = 0;
	return ret;
}

int store_commit_busy(struct store *s)
{
	return s->ac.busy && lio_sync_busy(s->io);
}

int store_commit_end(struct store *s)
{
	struct store_async *a = &s->ac;
	struct lio_sync *j = &a->job;

	if (!a->busy)
		return 0;
	lio_sync_wait(s->io);
	a->busy = 0;
	if (j->cut_failed)
		log_warnx("journal: cannot cut a failed record");
	if (j->err != 0) {
		/* Its streams go back on the list of changed ones, so that
		 * the rollback takes their marks back too. */
		for (uint32_t i = 0; i < a->nstreams; i++) {
			struct store_stream *st = store_stream(s, a->streams[i].id, 0);

			if (st)
				store_stream_touch(s, st);
		}
		return j->err; /* sticky in the thread until the rollback */
	}
	if (j->rec_len) {
		s->jsize += j->rec_len;
		s->st.journal_bytes += j->rec_len;
		if (a->sync)
			fsync_stat(s, j->us);
		s->st.commits++;
	}
	for (uint32_t i = 0; i < s->nfiles; i++)
		s->files[i]->committed = s->files[i]->committing;
	for (uint32_t i = 0; i < a->nstreams; i++) {
		struct store_stream *st = store_stream(s, a->streams[i].id, 0);

		/* Evicted meanwhile: its entry is gone with its marks. */
		if (st && a->streams[i].hwm > st->committed_hwm)
			st->committed_hwm = a->streams[i].hwm;
	}
	a->ok_id = a->id;
	if (s->jsize > STORE_JOURNAL_MAX) {
		char err[256];

		if (store_snapshot(s, err, sizeof(err)) != 0)
			log_warnx("journal: %s", err);
	}
	return 0;
}

uint64_t store_commit_id(const struct store *s)
{
	return s->ac.id;
}

int store_commit_ok(const struct store *s, uint64_t id)
{
	return s->ac.ok_id >= id && !s->ac.busy;
}

int store_wake_fd(const struct store *s)
{
	return lio_fd(s->io);
}

/* A commit that fails leaves nothing of its record behind: entries added
 * for it (a file opened, a rename or compression intended) must not turn
 * up in a later record, after the caller has undone what they named; the
 * table changes they described are undone here. Only the entries of
 * steps already done on disk stay, for the next record. */
int store_commit(struct store *s, int sync)
{
	int ret = commit_record(s, sync);

	if (ret != 0)
		record_failed(s);
	return ret;
}

static int commit_record(struct store *s, int sync)
{
	int64_t t0;
	int ret;

	if ((ret = store_commit_end(s)) != 0)
		return ret;
	if ((ret = flush_all(s)) != 0)
		return ret;
	if (lio_drain(s->io, NULL) != 0)
		return io_failed(s);
	t0 = mono_us();
	if (sync) {
		for (uint32_t i = 0; i < s->nfiles; i++) {
			struct store_file *f = s->files[i];

			if (!f->dirty)
				continue;
			if (fdatasync(f->fd) != 0)
				return -errno;
			f->dirty = 0;
		}
	}
	for (uint32_t i = 0; i < s->nfiles; i++) {
		struct store_file *f = s->files[i];

		if (f->size != f->committed &&
		    (ret = rec_add(s, "F %" PRIu64 " %s\n", f->size, f->path)) != 0)
			return ret;
	}
	for (uint32_t i = 0; i < s->ndirty; i++) {
		struct store_stream *st = &s->streams[s->dirty_idx[i]];

		if (st->rx.hwm != st->committed_hwm &&
		    (ret = rec_add(s, "S %016" PRIx64 " %" PRIu64 " %" PRIu64 "\n",
				   st->rx.stream_id, st->rx.hwm, st->rx.lost)) != 0)
			return ret;
	}
	if (s->rec_len == 0) {
		for (uint32_t i = 0; i < s->ndirty; i++) {
			s->streams[s->dirty_idx[i]].pending_bytes = 0;
			s->streams[s->dirty_idx[i]].dirty = 0;
		}
		s->ndirty = 0;
		record_done(s);
		return 0;
	}
	ret = rec_write(s, sync);
	if (ret != 0)
		return ret;
	record_done(s);
	if (sync)
		fsync_stat(s, (uint64_t)(mono_us() - t0));
	s->st.commits++;
	for (uint32_t i = 0; i < s->nfiles; i++)
		s->files[i]->committed = s->files[i]->size;
	for (uint32_t i = 0; i < s->ndirty; i++) {
		struct store_stream *st = &s->streams[s->dirty_idx[i]];

		st->committed_hwm = st->rx.hwm;
		st->pending_bytes = 0;
		st->dirty = 0;
	}
	s->ndirty = 0;
	if (s->jsize > STORE_JOURNAL_MAX) {
		char err[256];

		if (store_snapshot(s, err, sizeof(err)) != 0)
			log_warnx("journal: %s", err);
	}
	return 0;
}

/* Closes the least recently used eighth of the open files, never one
 * that is pinned (in use by the batch being written). */
static int evict_files(struct store *s)
{
	uint32_t n = s->cfg.max_open / 8;
	int ret = store_commit(s, s->cfg.fsync != LOGD_FSYNC_NEVER);

	if (ret != 0)
		return ret;
	if (n == 0)
		n = 1;
	while (n--) {
		struct store_file *lru = NULL;

		for (uint32_t i = 0; i < s->nfiles; i++)
			if (!s->files[i]->pinned &&
			    (!lru || s->files[i]->last_use < lru->last_use))
				lru = s->files[i];
		if (!lru)
			break;
		file_free(s, lru);
	}
	return 0;
}

/* Abandons the queued compression i (its file is written again):
 * undone if the record fails. 0 or -ENOMEM. */
static int zip_abandon(struct store *s, int i)
{
	struct store_undo u;

	memset(&u, 0, sizeof(u));
	u.op = STORE_U_ZIP_DEL;
	u.z = s->zips[i];
	if (undo_push(s, &u) != 0)
		return -ENOMEM;
	if (rec_add(s, "z %s\n", s->zips[i].src) != 0) {
		s->nundo--;
		return -ENOMEM;
	}
	s->zips[i] = s->zips[--s->nzips];
	return 0;
}

/* Forgets the queued compression i, which the worker has finished with
 * (done or failed): a step done, recorded even if the commit fails. */
static void zip_forget(struct store *s, int i)
{
	if (fact_add(s, "z %s\n", s->zips[i].src) != 0)
		log_warnx("journal: out of memory (end of the compression of %s)",
			  s->zips[i].src);
	s->zips[i] = s->zips[--s->nzips];
}

/* Queues the compression of the closed file path into path + ext (".N"
 * is added before ext if that exists) in the table and the record, undone
 * if the record fails. Returns its index, -ENOSPC if the queue is full
 * (logged), or -ENOMEM. */
static int zip_add(struct store *s, const char *path, const char *ext)
{
	char dst[LOGD_PATH_MAX + 32];
	struct store_undo u;
	struct store_zip *z;

	if (s->nzips >= STORE_ZIPS_MAX) {
		log_warnx("%s stays uncompressed: %d compressions already queued", path,
			  STORE_ZIPS_MAX);
		return -ENOSPC;
	}
	z = &s->zips[s->nzips];
	snprintf(z->suffix, sizeof(z->suffix), "%s", ext);
	for (int n = 1; n < 1000; n++) {
		snprintf(dst, sizeof(dst), "%s%s", path, z->suffix);
		if (!exists(dst))
			break;
		snprintf(z->suffix, sizeof(z->suffix), ".%d%s", n, ext);
	}
	snprintf(z->src, sizeof(z->src), "%s", path);
	z->gen = ++s->zip_gen;
	memset(&u, 0, sizeof(u));
	u.op = STORE_U_ZIP_ADD;
	u.z = *z;
	if (undo_push(s, &u) != 0)
		return -ENOMEM;
	s->nzips++;
	if (rec_add(s, "Z %s %s\n", z->suffix, z->src) != 0) {
		undo_last(s);
		return -ENOMEM;
	}
	return s->nzips - 1;
}

int store_zip_find(const struct store *s, const char *src)
{
	for (int i = 0; i < s->nzips; i++)
		if (strcmp(s->zips[i].src, src) == 0)
			return i;
	return -1;
}

int store_file_open(struct store *s, const char *path, const char *key,
		    struct store_file **out)
{
	struct store_file *f;
	struct stat st;
	int ret, z;

	if (s->nfiles >= s->cfg.max_open && (ret = evict_files(s)) != 0)
		return ret;
	if (s->nfiles >= s->cfg.max_open + STORE_PIN_MAX)
		return -EMFILE;
	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->fd = -1;
	snprintf(f->path, sizeof(f->path), "%s", path);
	snprintf(f->key, sizeof(f->key), "%s", key);
	f->buf = lio_get(s->io);
	if (!f->buf) {
		ret = -ENOMEM;
		goto fail;
	}
	ret = make_parents(path, s->cfg.fsync != LOGD_FSYNC_NEVER);
	if (ret != 0)
		goto fail;
	/* Written at the offsets the store keeps (pwrite, in order). */
	f->fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (f->fd < 0 || fstat(f->fd, &st) != 0) {
		ret = -errno;
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		ret = -EINVAL;
		goto fail;
	}
	f->size = f->committed = (uint64_t)st.st_size;
	/* Late lines for a file whose compression was queued: the file
	 * lives on and is compressed when it is rotated again. */
	if ((z = store_zip_find(s, path)) >= 0 && (ret = zip_abandon(s, z)) != 0)
		goto fail;
	/* Name the file in the journal before the first byte goes in. */
	ret = rec_add(s, "F %" PRIu64 " %s\n", f->size, f->path);
	if (ret != 0 && z >= 0)
		undo_last(s);
	if (ret == 0)
		ret = store_commit(s, s->cfg.fsync != LOGD_FSYNC_NEVER);
	if (ret == 0 && st.st_size == 0 && s->cfg.fsync != LOGD_FSYNC_NEVER)
		ret = sync_parent(path);
	if (ret != 0)
		goto fail;
	f->last_use = ++s->clock;
	s->files[s->nfiles++] = f;
	*out = f;
	return 0;
fail:
	if (f->fd >= 0)
		close(f->fd);
	lio_put(s->io, f->buf);
	free(f);
	return ret;
}

int store_close_file(struct store *s, struct store_file *f, int sync)
{
	int ret = store_commit(s, sync);

	if (ret != 0)
		return ret;
	file_free(s, f);
	return 0;
}

int store_close_all(struct store *s, int sync)
{
	int ret = store_commit(s, sync);

	if (ret != 0)
		return ret;
	while (s->nfiles)
		file_free(s, s->files[0]);
	return 0;
}

int store_zip_queue(struct store *s, const char *path, const char *ext)
{
	int i = zip_add(s, path, ext);

	/* A failed commit undoes the queueing: not recorded, not queued. */
	if (i < 0 || store_commit(s, s->cfg.fsync != LOGD_FSYNC_NEVER) != 0)
		return -1;
	return i;
}

int store_zip_done(struct store *s, const char *src, uint64_t gen, const char *tmp,
		   int ok)
{
	char dst[LOGD_PATH_MAX + 32];
	int i = store_zip_find(s, src), ret;

	if (i >= 0 && s->zips[i].gen != gen)
		i = -1; /* an older compression of a file queued again */
	if (i < 0 || !ok) {
		/* Abandoned (the file was reopened) or failed: the source
		 * stays as it is. */
		if (tmp)
			unlink(tmp);
		if (i >= 0) {
			log_warnx("%s: compression failed; the file stays uncompressed", src);
			zip_forget(s, i);
			return store_commit(s, s->cfg.fsync != LOGD_FSYNC_NEVER);
		}
		return 0;
	}
	snprintf(dst, sizeof(dst), "%s%s", src, s->zips[i].suffix);
	if (rename(tmp, dst) != 0) {
		ret = -errno;
		unlink(tmp);
		zip_forget(s, i);
		store_commit(s, s->cfg.fsync != LOGD_FSYNC_NEVER);
		return ret;
	}
	sync_parent(dst);
	if (unlink(src) != 0)
		log_warn("%s: compressed, but cannot remove the original", src);
	zip_forget(s, i);
	return store_commit(s, s->cfg.fsync != LOGD_FSYNC_NEVER);
}

/* 1 if "<path><sep><n>" is taken: the file, its compressed form, or a
 * compression queued for it. */
static int number_used(struct store *s, const char *path, const char *sep, int n,
		       const char *zip_ext)
{
	char name[LOGD_PATH_MAX + 48], zname[LOGD_PATH_MAX + 64];

	snprintf(name, sizeof(name), "%s%s%d", path, sep, n);
	snprintf(zname, sizeof(zname), "%s%s", name, zip_ext);
	return exists(name) || exists(zname) || store_zip_find(s, name) >= 0;
}

/* The number after the highest of the run "<path><sep>1", "<path><sep>2",
 * ... that is taken (1 if none): found by doubling and halving, so a
 * file rotated n times costs O(log n) lookups, not n. Numbers are used
 * in order, so the run has no holes unless someone removed files from
 * its middle. -1 past 2^20. */
static int first_free(struct store *s, const char *path, const char *sep,
		      const char *zip_ext)
{
	int lo = 1, hi = 2;

	if (!number_used(s, path, sep, 1, zip_ext))
		return 1;
	while (number_used(s, path, sep, hi, zip_ext)) {
		lo = hi;
		if (hi >= (1 << 20))
			return -1;
		hi *= 2;
	}
	/* lo taken, hi free. */
	while (hi - lo > 1) {
		int mid = lo + (hi - lo) / 2;

		if (number_used(s, path, sep, mid, zip_ext))
			lo = mid;
		else
			hi = mid;
	}
	return hi;
}

static int next_number(struct store *s, const char *path, const char *zip_ext)
{
	return first_free(s, path, ".", zip_ext);
}

int store_late_name(struct store *s, const char *path, const char *ext, char *out,
		    size_t cap)
{
	int n = first_free(s, path, ".late", ext), len;

	if (n < 0)
		return -EEXIST;
	len = snprintf(out, cap, "%s.late%d", path, n);
	if (len < 0 || (size_t)len >= cap || (size_t)len >= LOGD_PATH_MAX)
		return -ENAMETOOLONG;
	return 0;
}

int store_path_taken(const struct store *s, const char *path, const char *ext)
{
	char z[LOGD_PATH_MAX + 16];

	snprintf(z, sizeof(z), "%s%s", path, ext);
	return exists(path) || (ext[0] && exists(z)) || store_zip_find(s, path) >= 0;
}

struct store_tfile *store_tfile_find(struct store *s, const char *key)
{
	for (uint32_t i = 0; i < s->ntfiles; i++)
		if (strcmp(s->tfiles[i].key, key) == 0)
			return &s->tfiles[i];
	return NULL;
}

/* Sets key's time file in the table only (replay and store_tfile_set). */
static int tfile_put(struct store *s, const char *key, const char *path,
		     const char *ext, int64_t end)
{
	struct store_tfile *t = store_tfile_find(s, key);

	if (!t) {
		if (s->ntfiles >= STORE_TFILES_MAX)
			return -ENOSPC;
		if (vec_room(&s->tfiles, &s->tfiles_cap, s->ntfiles,
			     sizeof(*s->tfiles), 64))
			return -ENOMEM;
		t = &s->tfiles[s->ntfiles++];
		memset(t, 0, sizeof(*t));
		snprintf(t->key, sizeof(t->key), "%s", key);
	}
	snprintf(t->path, sizeof(t->path), "%s", path);
	snprintf(t->ext, sizeof(t->ext), "%s", ext);
	t->end = end;
	return 0;
}

static void tfile_remove(struct store *s, const char *key)
{
	struct store_tfile *t = store_tfile_find(s, key);

	if (t)
		*t = s->tfiles[--s->ntfiles];
}

/* Makes the coming change of key's time file undoable; 0 or -ENOMEM. */
static int undo_tfile(struct store *s, const char *key)
{
	struct store_tfile *t = store_tfile_find(s, key);
	struct store_undo u;

	memset(&u, 0, sizeof(u));
	u.op = STORE_U_TFILE;
	u.had = t != NULL;
	if (t)
		u.tf = *t;
	else
		snprintf(u.tf.key, sizeof(u.tf.key), "%s", key);
	return undo_push(s, &u);
}

int store_tfile_set(struct store *s, const char *key, const char *path,
		    const char *ext, int64_t end)
{
	int ret = undo_tfile(s, key);

	if (ret != 0)
		return ret;
	ret = tfile_put(s, key, path, ext, end);
	if (ret == 0)
		ret = rec_add(s, "T %" PRId64 " %s %s %s\n", end, ext[0] ? ext : "-", key,
			      path);
	if (ret != 0)
		undo_last(s);
	return ret;
}

int store_tfile_close(struct store *s, const char *key, int *zip)
{
	int sync = s->cfg.fsync != LOGD_FSYNC_NEVER, ret, z = -1;
	struct store_tfile *t = store_tfile_find(s, key);
	char path[LOGD_PATH_MAX], ext[8];
	struct store_file *f;

	*zip = -1;
	if (!t)
		return 0;
	snprintf(path, sizeof(path), "%s", t->path);
	snprintf(ext, sizeof(ext), "%s", t->ext);
	f = store_find(s, path);
	if (f && f->pinned)
		return -EBUSY;
	if (f && (ret = store_close_file(s, f, sync)) != 0)
		return ret;
	if ((ret = undo_tfile(s, key)) != 0)
		return ret;
	tfile_remove(s, key);
	if (rec_add(s, "t %s\n", key) != 0) {
		undo_last(s);
		return -ENOMEM;
	}
	/* Its compression in the same record, so that no crash leaves it
	 * closed and never compressed. A file moved away (logrotate) and
	 * not written since is not there. */
	if (ext[0] && exists(path) && (z = zip_add(s, path, ext)) == -ENOMEM) {
		undo_last(s);
		return -ENOMEM;
	}
	ret = store_commit(s, sync);
	if (ret != 0)
		return ret;
	*zip = z >= 0 ? z : -1;
	return 0;
}

int store_rotate(struct store *s, struct store_file *f, const char *zip_ext,
		 char *rotated, size_t cap)
{
	int sync = s->cfg.fsync != LOGD_FSYNC_NEVER, ret, n;
	char to[LOGD_PATH_MAX + 32];
	char path[LOGD_PATH_MAX];

	ret = store_commit(s, sync);
	if (ret != 0)
		return ret;
	n = next_number(s, f->path, zip_ext);
	if (n < 0)
		return -EEXIST;
	snprintf(to, sizeof(to), "%s.%d", f->path, n);
	if (strlen(to) >= LOGD_PATH_MAX)
		return -ENAMETOOLONG;
	/* Intent first, so that recovery can finish the rename; with it, in
	 * the same record, the compression of the rotated file, which
	 * recovery settles after the renames. A full queue leaves the file
	 * uncompressed (logged). */
	if (zip_ext[0] && (ret = zip_add(s, to, zip_ext)) == -ENOMEM)
		return ret;
	if ((ret = rec_add(s, "R .%d %s\n", n, f->path)) != 0) {
		record_failed(s);
		return ret;
	}
	if ((ret = store_commit(s, sync)) != 0)
		return ret;
	snprintf(path, sizeof(path), "%s", f->path);
	file_free(s, f);
	if (rename(path, to) != 0) {
		int z = store_zip_find(s, to);

		ret = -errno;
		log_warn("rotation: rename %s", path);
		if (fact_add(s, "r %s\n", path) != 0)
			log_warnx("journal: out of memory (rename of %s)", path);
		if (z >= 0)
			zip_forget(s, z);
		store_commit(s, sync);
		return ret;
	}
	if (sync)
		sync_parent(path);
	/* Done: if this commit fails, the entry goes with the next one. */
	if (fact_add(s, "r %s\n", path) != 0)
		log_warnx("journal: out of memory (rename of %s)", path);
	else if (store_commit(s, sync) != 0)
		log_warnx("journal: the end of the rename of %s is recorded later", path);
	snprintf(rotated, cap, "%s", to);
	return 0;
}

/* ---- Recovery ---- */

struct rfile {
	char *path;
	uint64_t len;
	int used;
};

struct rtable {
	struct rfile *v;
	size_t cap, n;
};

static struct rfile *rt_get(struct rtable *t, const char *path, int create)
{
	size_t k;

	if (t->n * 2 >= t->cap) {
		struct rtable nt = { calloc(t->cap ? t->cap * 2 : 64, sizeof(struct rfile)),
				     t->cap ? t->cap * 2 : 64, 0 };

		if (!nt.v)
			return NULL;
		for (size_t i = 0; i < t->cap; i++) {
			if (!t->v[i].path)
				continue;
			for (k = fnv1a(t->v[i].path, strlen(t->v[i].path)) & (nt.cap - 1);
			     nt.v[k].path; k = (k + 1) & (nt.cap - 1))
				;
			nt.v[k] = t->v[i];
			nt.n++;
		}
		free(t->v);
		*t = nt;
	}
	for (k = fnv1a(path, strlen(path)) & (t->cap - 1); t->v[k].path;
	     k = (k + 1) & (t->cap - 1))
		if (strcmp(t->v[k].path, path) == 0)
			return &t->v[k];
	if (!create)
		return NULL;
	t->v[k].path = strdup(path);
	if (!t->v[k].path)
		return NULL;
	t->n++;
	return &t->v[k];
}

static void rt_free(struct rtable *t)
{
	for (size_t i = 0; i < t->cap; i++)
		free(t->v[i].path);
	free(t->v);
}

/* Pending renames found in the journal. */
struct rename_intent {
	char path[LOGD_PATH_MAX];
	char suffix[16];
};

/* Applies one entry (a line without its '\n', NUL-terminated). */
static int apply_entry(struct store *s, struct rtable *files,
		       struct rename_intent *ren, int *nren, char *line)
{
	char *rest;

	switch (line[0]) {
	case 'F': {
		unsigned long long len = strtoull(line + 2, &rest, 10);
		struct rfile *f;

		if (*rest != ' ' || !(f = rt_get(files, rest + 1, 1)))
			return -1;
		f->len = len;
		f->used = 1;
		return 0;
	}
	case 'S': {
		unsigned long long id, hwm, lost;
		struct store_stream *st;

		if (sscanf(line + 2, "%16llx %llu %llu", &id, &hwm, &lost) != 3 || id == 0)
			return -1;
		st = store_stream(s, id, 1);
		if (!st)
			return -1;
		st->rx.hwm = st->committed_hwm = hwm;
		st->rx.lost = lost;
		return 0;
	}
	case 'R': case 'Z': {
		char *sp = strchr(line + 2, ' ');

		if (!sp || (size_t)(sp - (line + 2)) >= 16 || !sp[1])
			return -1;
		*sp = 0;
		if (line[0] == 'R') {
			if (*nren >= 64)
				return -1;
			snprintf(ren[*nren].path, sizeof(ren[0].path), "%s", sp + 1);
			snprintf(ren[*nren].suffix, sizeof(ren[0].suffix), "%s", line + 2);
			(*nren)++;
		} else {
			if (s->nzips >= STORE_ZIPS_MAX)
				return 0;
			snprintf(s->zips[s->nzips].src, sizeof(s->zips[0].src), "%s", sp + 1);
			snprintf(s->zips[s->nzips].suffix, sizeof(s->zips[0].suffix), "%s",
				 line + 2);
			s->zips[s->nzips].gen = ++s->zip_gen;
			s->nzips++;
		}
		return 0;
	}
	case 'r': {
		struct rfile *f = rt_get(files, line + 2, 0);

		for (int i = 0; i < *nren; i++)
			if (strcmp(ren[i].path, line + 2) == 0)
				ren[i--] = ren[--*nren];
		if (f)
			f->used = 0;
		return 0;
	}
	case 'z': {
		int i = store_zip_find(s, line + 2);

		if (i >= 0)
			s->zips[i] = s->zips[--s->nzips];
		return 0;
	}
	case 'T': {
		long long end;
		char ext[8], key[STORE_KEY_MAX];
		int off = 0;

		if (sscanf(line + 2, "%lld %7s %95s %n", &end, ext, key, &off) != 3 || !off ||
		    !line[2 + off])
			return -1;
		return tfile_put(s, key, line + 2 + off, strcmp(ext, "-") ? ext : "",
				 (int64_t)end) == 0 ? 0 : -1;
	}
	case 't':
		tfile_remove(s, line + 2);
		return 0;
	}
	return -1;
}

/* Replays the journal text (len bytes); returns the length of its intact
 * part (header and whole records), or -1 if it is not a journal. */
static long replay(struct store *s, char *text, size_t len, struct rtable *files,
		   struct rename_intent *ren, int *nren)
{
	size_t hl = strlen(JOURNAL_HEADER), good, pos;

	if (len < hl || memcmp(text, JOURNAL_HEADER, hl) != 0)
		return len == 0 ? 0 : -1;
	good = pos = hl;
	while (pos < len) {
		size_t rec = pos;
		int closed = 0;

		/* Find the record's C line and check its sum first. */
		while (pos < len) {
			char *nl = memchr(text + pos, '\n', len - pos);

			if (!nl)
				break;
			if (text[pos] == 'C' && nl - (text + pos) == 18) {
				char hex[17];
				uint64_t want;

				memcpy(hex, text + pos + 2, 16);
				hex[16] = 0;
				want = strtoull(hex, NULL, 16);
				if (fnv1a(text + rec, pos - rec) == want)
					closed = 1;
				pos = (size_t)(nl - text) + 1;
				break;
			}
			pos = (size_t)(nl - text) + 1;
		}
		if (!closed)
			break;
		/* Apply the entries of the record. */
		for (size_t p = rec; p < pos;) {
			char *nl = memchr(text + p, '\n', pos - p);

			*nl = 0;
			if (text[p] != 'C' && apply_entry(s, files, ren, nren, text + p) != 0)
				log_warnx("journal: ignored a bad entry: %.80s", text + p);
			p = (size_t)(nl - text) + 1;
		}
		good = pos;
	}
	return (long)good;
}

/* Writes the journal anew as one snapshot record: the open files, every
 * stream, the pending compressions. Used at start and when it grows. */
static int store_snapshot(struct store *s, char *err, size_t errlen)
{
	char path[LOGD_PATH_MAX + 16], tmp[LOGD_PATH_MAX + 16];
	int fd, ret;
	uint64_t h;

	snprintf(path, sizeof(path), "%s/journal", s->dir);
	snprintf(tmp, sizeof(tmp), "%s/journal.new", s->dir);
	s->rec_len = 0;
	ret = rec_add(s, "%s", JOURNAL_HEADER);
	for (uint32_t i = 0; ret == 0 && i < s->nfiles; i++)
		ret = rec_add(s, "F %" PRIu64 " %s\n", s->files[i]->committed,
			      s->files[i]->path);
	for (uint32_t i = 0; ret == 0 && i < s->streams_cap; i++) {
		struct store_stream *st = &s->streams[i];

		if (st->rx.stream_id)
			ret = rec_add(s, "S %016" PRIx64 " %" PRIu64 " %" PRIu64 "\n",
				      st->rx.stream_id, st->committed_hwm, st->rx.lost);
	}
	for (int i = 0; ret == 0 && i < s->nzips; i++)
		ret = rec_add(s, "Z %s %s\n", s->zips[i].suffix, s->zips[i].src);
	for (uint32_t i = 0; ret == 0 && i < s->ntfiles; i++) {
		const struct store_tfile *t = &s->tfiles[i];

		ret = rec_add(s, "T %" PRId64 " %s %s %s\n", t->end, t->ext[0] ? t->ext : "-",
			      t->key, t->path);
	}
	if (ret != 0) {
		snprintf(err, errlen, "snapshot: out of memory");
		s->rec_len = 0;
		return -1;
	}
	{
		size_t hl = strlen(JOURNAL_HEADER);

		h = fnv1a(s->rec + hl, s->rec_len - hl);
		ret = rec_add(s, "C %016" PRIx64 "\n", h);
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (ret != 0 || fd < 0 || lio_pwrite_all(fd, s->rec, s->rec_len, 0) != 0 ||
	    fdatasync(fd) != 0 || rename(tmp, path) != 0) {
		snprintf(err, errlen, "writing %s: %s", tmp, strerror(errno));
		if (fd >= 0)
			close(fd);
		s->rec_len = 0;
		return -1;
	}
	sync_parent(path);
	if (s->jfd >= 0)
		close(s->jfd);
	/* The open descriptor is the renamed file; reopen for appends. */
	close(fd);
	s->jfd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
	if (s->jfd < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		s->rec_len = 0;
		return -1;
	}
	s->jsize = s->rec_len;
	s->rec_len = 0;
	s->st.compactions++;
	return 0;
}

/* Cuts path back to len bytes; with sync, durably (before the snapshot
 * drops the length from the journal). 0 or a negative errno. */
static int cut_file(const char *path, uint64_t len, int sync)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW), ret = 0;

	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)len) != 0 || (sync && fdatasync(fd) != 0))
		ret = -errno;
	close(fd);
	return ret;
}

/* Cuts the files named by the journal back to their committed lengths,
 * finishes interrupted renames and settles the compressions. Returns 0,
 * or -1 with a message in err if a file cannot be cut. */
static int recover_files(struct store *s, struct rtable *files,
			 struct rename_intent *ren, int nren, char *err, size_t errlen)
{
	int ret;

	for (size_t i = 0; i < files->cap; i++) {
		struct rfile *f = &files->v[i];
		struct stat st;

		if (!f->path || !f->used)
			continue;
		if (lstat(f->path, &st) != 0 || !S_ISREG(st.st_mode)) {
			/* Moved away by logrotate, or rotated by us. */
			s->st.files_missing++;
			continue;
		}
		if ((uint64_t)st.st_size > f->len) {
			log_info("recovery: %s: cut %" PRIu64 " unacknowledged bytes "
				 "(%" PRIu64 " kept)", f->path, (uint64_t)st.st_size - f->len,
				 f->len);
			ret = cut_file(f->path, f->len, s->cfg.fsync != LOGD_FSYNC_NEVER);
			if (ret != 0) {
				/* The snapshot would forget the length: stop here
				 * rather than let the tail count as written. */
				snprintf(err, errlen, "recovery: cannot cut %s back to %" PRIu64
					 " bytes: %s", f->path, f->len, strerror(-ret));
				return -1;
			}
			s->st.truncated_bytes += (uint64_t)st.st_size - f->len;
		} else if ((uint64_t)st.st_size < f->len) {
			log_warnx("recovery: %s is shorter (%" PRIu64 " bytes) than "
				  "recorded (%" PRIu64 "): changed by someone else?",
				  f->path, (uint64_t)st.st_size, f->len);
		}
	}
	for (int i = 0; i < nren; i++) {
		char to[LOGD_PATH_MAX + 32];

		snprintf(to, sizeof(to), "%.511s%.15s", ren[i].path, ren[i].suffix);
		if (!exists(to) && exists(ren[i].path)) {
			if (rename(ren[i].path, to) == 0) {
				log_info("recovery: finished renaming %s to %s", ren[i].path, to);
				sync_parent(to);
			} else {
				log_warn("recovery: rename %s", ren[i].path);
			}
		}
	}
	for (int i = 0; i < s->nzips; i++) {
		char dst[LOGD_PATH_MAX + 32];
		struct store_zip *z = &s->zips[i];

		snprintf(dst, sizeof(dst), "%s%s", z->src, z->suffix);
		if (!exists(z->src)) {
			char part[LOGD_PATH_MAX + 40];

			/* Abandoned: its unfinished copy goes too. */
			snprintf(part, sizeof(part), "%s.part", dst);
			unlink(part);
			s->zips[i--] = s->zips[--s->nzips];
		} else if (exists(dst)) {
			/* Compressed and renamed into place; only the removal
			 * of the original was left to do. */
			unlink(z->src);
			s->zips[i--] = s->zips[--s->nzips];
		}
	}
	return 0;
}

int store_open(struct store **out, const struct store_cfg *cfg, char *err,
	       size_t errlen)
{
	struct store *s = calloc(1, sizeof(*s));
	struct rtable files = { NULL, 0, 0 };
	struct rename_intent ren[64];
	char path[LOGD_PATH_MAX + 16], *text = NULL;
	int nren = 0, fd = -1;
	struct stat st;
	long good;

	if (!s) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	s->cfg = *cfg;
	s->lock_fd = s->jfd = -1;
	if (s->cfg.max_open < 4)
		s->cfg.max_open = 4;
	snprintf(s->dir, sizeof(s->dir), "%s", cfg->state_dir);
	/* Pinned files may take the count past max_open (see evict_files). */
	s->files = calloc(s->cfg.max_open + STORE_PIN_MAX, sizeof(*s->files));
	s->streams_cap = 2 * STORE_STREAMS_MAX;
	s->streams = calloc(s->streams_cap, sizeof(*s->streams));
	s->dirty_idx = calloc(s->streams_cap, sizeof(*s->dirty_idx));
	s->rec_cap = 65536;
	s->rec = malloc(s->rec_cap);
	if (!s->files || !s->streams || !s->dirty_idx || !s->rec) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	/* A buffer for every file that may be open, and STORE_INFLIGHT
	 * more for the writes under way. */
	s->ac.fds = calloc(s->cfg.max_open + STORE_PIN_MAX, sizeof(*s->ac.fds));
	s->ac.streams = calloc(s->streams_cap, sizeof(*s->ac.streams));
	s->ac.rec_cap = 65536;
	s->ac.rec = malloc(s->ac.rec_cap);
	if (!s->ac.fds || !s->ac.streams || !s->ac.rec) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (lio_open(&s->io, STORE_BUF,
		     s->cfg.max_open + STORE_PIN_MAX + STORE_INFLIGHT) != 0) {
		snprintf(err, errlen, "cannot start the write thread");
		goto fail;
	}
	snprintf(path, sizeof(path), "%s/lock", s->dir);
	if (make_parents(path, 0) != 0 ||
	    (mkdir(s->dir, 0755) != 0 && errno != EEXIST)) {
		snprintf(err, errlen, "state directory %s: %s", s->dir, strerror(errno));
		goto fail;
	}
	s->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (s->lock_fd < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto fail;
	}
	if (flock(s->lock_fd, LOCK_EX | LOCK_NB) != 0) {
		snprintf(err, errlen, "state directory %s is in use by another chorus-logd",
			 s->dir);
		goto fail;
	}
	snprintf(path, sizeof(path), "%s/journal", s->dir);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		size_t got = 0;

		if (fstat(fd, &st) != 0 || !(text = malloc((size_t)st.st_size + 1))) {
			snprintf(err, errlen, "%s: cannot read", path);
			goto fail;
		}
		while (got < (size_t)st.st_size) {
			ssize_t r = read(fd, text + got, (size_t)st.st_size - got);

			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0)
				break;
			got += (size_t)r;
		}
		good = replay(s, text, got, &files, ren, &nren);
		if (good < 0) {
			snprintf(err, errlen, "%s is not a chorus-logd journal", path);
			goto fail;
		}
		if ((size_t)good < got)
			log_info("recovery: journal: dropped a torn record (%zu bytes)",
				 got - (size_t)good);
		close(fd);
		fd = -1;
		if (recover_files(s, &files, ren, nren, err, errlen) != 0)
			goto fail;
	} else if (errno != ENOENT) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto fail;
	}
	if (store_snapshot(s, err, errlen) != 0)
		goto fail;
	s->st.compactions = 0;
	rt_free(&files);
	free(text);
	*out = s;
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	rt_free(&files);
	free(text);
	store_close(s);
	return -1;
}

void store_close(struct store *s)
{
	if (!s)
		return;
	if (s->jfd >= 0 && store_commit(s, s->cfg.fsync != LOGD_FSYNC_NEVER) != 0)
		log_warnx("closing the store: the last commit failed");
	while (s->files && s->nfiles)
		file_free(s, s->files[0]);
	if (s->jfd >= 0)
		close(s->jfd);
	if (s->lock_fd >= 0)
		close(s->lock_fd);
	lio_close(s->io);
	free(s->ac.fds);
	free(s->ac.streams);
	free(s->ac.rec);
	free(s->files);
	free(s->streams);
	free(s->dirty_idx);
	free(s->rec);
	free(s->owed);
	free(s->undo);
	free(s->tfiles);
	free(s);
}
