/*
 * spool.c - chorus-log's crash-safe spool (see spool.h for the layout and
 * the guarantees).
 */
#include "log/spool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#define STATE_SLOT 64
#define STATE_MAGIC 0x434c5353u /* "CLSS" */
#define STATE_VERSION 1
#define SCAN_BLOCK (256 * 1024)
#define SPOOL_MIN_BYTES (1024 * 1024)

static void errf(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void errf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t get32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
	       ((uint32_t)p[2] << 8) | p[3];
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)(v >> 32));
	put32(p + 4, (uint32_t)v);
}

static uint64_t get64(const uint8_t *p)
{
	return ((uint64_t)get32(p) << 32) | get32(p + 4);
}

/* CRC-32 (IEEE), bitwise: the state is written a few times a second. */
static uint32_t crc32_buf(const uint8_t *p, size_t n)
{
	uint32_t c = 0xffffffffu;

	while (n--) {
		c ^= *p++;
		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1)));
	}
	return ~c;
}

int spool_group_dir(const char *root, const char *group, const char *node,
		    char *out, size_t outlen)
{
	static const char hex[] = "0123456789ABCDEF";
	const char *parts[2] = { group, node };
	size_t o;
	int n = snprintf(out, outlen, "%s/", root);

	if (n < 0 || (size_t)n >= outlen)
		return -1;
	o = (size_t)n;
	for (int k = 0; k < 2; k++) {
		for (const unsigned char *s = (const unsigned char *)parts[k]; *s; s++) {
			int plain = (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
				    (*s >= '0' && *s <= '9') || *s == '_' || *s == '-' ||
				    (*s == '.' && s != (const unsigned char *)parts[k]);

			if (o + 4 >= outlen)
				return -1;
			if (plain) {
				out[o++] = (char)*s;
			} else {
				out[o++] = '%';
				out[o++] = hex[*s >> 4];
				out[o++] = hex[*s & 15];
			}
		}
		if (k == 0)
			out[o++] = '@';
	}
	out[o] = 0;
	return 0;
}

/* mkdir -p; returns 0 or -1 (errno). */
static int mkdir_p(const char *path)
{
	char tmp[SPOOL_PATH_MAX];
	size_t len = strlen(path);

	if (len >= sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(tmp, path, len + 1);
	for (size_t i = 1; i <= len; i++) {
		if (tmp[i] != '/' && tmp[i] != 0)
			continue;
		tmp[i] = 0;
		if (mkdir(tmp, 0750) != 0 && errno != EEXIST)
			return -1;
		tmp[i] = path[i];
	}
	return 0;
}

/* Removes the regular files of a flat directory and the directory. */
static int remove_flat_dir(const char *dir)
{
	char path[SPOOL_PATH_MAX + 300];
	DIR *d = opendir(dir);
	struct dirent *e;
	int ret = 0;

	if (!d)
		return -1;
	while ((e = readdir(d))) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 ||
		    strcmp(e->d_name, "lock") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (unlink(path) != 0)
			ret = -1;
	}
	closedir(d);
	/* The lock goes last: until then other processes cannot lock a
	 * stream that is half removed. */
	snprintf(path, sizeof(path), "%s/lock", dir);
	if (unlink(path) != 0 && errno != ENOENT)
		ret = -1;
	if (rmdir(dir) != 0)
		ret = -1;
	return ret;
}

/* Locks dir/lock without waiting. Returns the descriptor, or -1 if the
 * stream is held by another process, is being removed, or cannot be
 * opened. */
static int lock_stream(const char *dir)
{
	char path[SPOOL_PATH_MAX + 8];
	struct stat a, b;
	int fd;

	snprintf(path, sizeof(path), "%s/lock", dir);
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (flock(fd, LOCK_EX | LOCK_NB) != 0)
		goto fail;
	/* A process removing the stream unlinks the lock before it lets go
	 * of it: make sure ours is still the file of that name. */
	if (fstat(fd, &a) != 0 || stat(path, &b) != 0 || a.st_ino != b.st_ino ||
	    a.st_dev != b.st_dev)
		goto fail;
	return fd;
fail:
	close(fd);
	return -1;
}

static int state_write(struct spool *sp)
{
	uint8_t slot[STATE_SLOT];
	uint64_t gen = sp->state_gen + 1;
	ssize_t w;

	memset(slot, 0, sizeof(slot));
	put32(slot, STATE_MAGIC);
	slot[4] = STATE_VERSION;
	put64(slot + 8, gen);
	put64(slot + 16, sp->stream_id);
	put64(slot + 24, sp->acked);
	put64(slot + 32, sp->dropped);
	put64(slot + 40, sp->cut);
	put64(slot + 48, sp->next_seq);
	put32(slot + 56, crc32_buf(slot, 56));
	w = pwrite(sp->state_fd, slot, sizeof(slot), (off_t)((gen % 2) * STATE_SLOT));
	if (w != (ssize_t)sizeof(slot))
		return w < 0 ? -errno : -EIO;
	sp->state_gen = gen;
	sp->state_dirty = 0;
	return 0;
}

/* Loads the newest valid slot; returns 0, or -1 if neither is valid (the
 * stream then starts from acked 0 and resends what it holds). */
static int state_load(struct spool *sp)
{
	uint8_t buf[2 * STATE_SLOT];
	ssize_t r = pread(sp->state_fd, buf, sizeof(buf), 0);
	int found = -1;

	for (int i = 0; r > 0 && i < 2; i++) {
		const uint8_t *s = buf + i * STATE_SLOT;
		uint64_t gen;

		if ((size_t)r < (size_t)(i + 1) * STATE_SLOT)
			break;
		if (get32(s) != STATE_MAGIC || s[4] != STATE_VERSION ||
		    get32(s + 56) != crc32_buf(s, 56) ||
		    get64(s + 16) != sp->stream_id)
			continue;
		gen = get64(s + 8);
		if (found >= 0 && gen <= sp->state_gen)
			continue;
		found = i;
		sp->state_gen = gen;
		sp->acked = get64(s + 24);
		sp->dropped = get64(s + 32);
		sp->cut = get64(s + 40);
		sp->next_seq = get64(s + 48);
	}
	return found >= 0 ? 0 : -1;
}

static void seg_path(const struct spool *sp, uint64_t first, char *out, size_t len)
{
	snprintf(out, len, "%s/%020" PRIu64 ".seg", sp->dir, first);
}

/* Counts the lines of a segment and cuts a torn tail back to its last
 * '\n'. Returns 0 or -errno. */
static int seg_scan(struct spool_seg *s)
{
	char *buf = malloc(SCAN_BLOCK);
	uint64_t off = 0, end_ok = 0, lines = 0;
	int ret = 0;

	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t r = pread(s->fd, buf, SCAN_BLOCK, (off_t)off);

		if (r < 0) {
			ret = -errno;
			goto out;
		}
		if (r == 0)
			break;
		for (char *p = buf, *e = buf + r; p < e;) {
			char *nl = memchr(p, '\n', (size_t)(e - p));

			if (!nl)
				break;
			lines++;
			end_ok = off + (uint64_t)(nl - buf) + 1;
			p = nl + 1;
		}
		off += (uint64_t)r;
	}
	if (off != end_ok && ftruncate(s->fd, (off_t)end_ok) != 0) {
		ret = -errno;
		goto out;
	}
	s->lines = lines;
	s->bytes = end_ok;
out:
	free(buf);
	return ret;
}

static int seg_push(struct spool *sp, const struct spool_seg *s)
{
	if (sp->nsegs == sp->cap) {
		size_t cap = sp->cap ? sp->cap * 2 : 16;
		struct spool_seg *n = realloc(sp->segs, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		sp->segs = n;
		sp->cap = cap;
	}
	sp->segs[sp->nsegs++] = *s;
	return 0;
}

static int seg_cmp(const void *a, const void *b)
{
	const struct spool_seg *x = a, *y = b;

	return x->first_seq < y->first_seq ? -1 : x->first_seq > y->first_seq;
}

/* Removes segment i (closing and unlinking it). */
static void seg_delete(struct spool *sp, size_t i)
{
	char path[SPOOL_PATH_MAX + 32];

	seg_path(sp, sp->segs[i].first_seq, path, sizeof(path));
	unlink(path);
	close(sp->segs[i].fd);
	sp->bytes -= sp->segs[i].bytes;
	memmove(sp->segs + i, sp->segs + i + 1,
		(sp->nsegs - i - 1) * sizeof(*sp->segs));
	sp->nsegs--;
}

/* Unacknowledged lines of segment i. */
static uint64_t seg_unacked(const struct spool *sp, size_t i)
{
	const struct spool_seg *s = &sp->segs[i];
	uint64_t last = s->first_seq + s->lines - 1;

	if (s->lines == 0 || last <= sp->acked)
		return 0;
	return last - (sp->acked >= s->first_seq ? sp->acked : s->first_seq - 1);
}

/* Opens and checks every segment of sp->dir; sets next_seq. */
static int load_segments(struct spool *sp, char *err, size_t errlen)
{
	DIR *d = opendir(sp->dir);
	struct dirent *e;
	int ret = -1;

	if (!d) {
		errf(err, errlen, "%s: %s", sp->dir, strerror(errno));
		return -1;
	}
	while ((e = readdir(d))) {
		struct spool_seg s;
		char path[SPOOL_PATH_MAX + 300];
		char *end;
		int r;

		if (strlen(e->d_name) != 24 || strcmp(e->d_name + 20, ".seg") != 0)
			continue;
		memset(&s, 0, sizeof(s));
		errno = 0;
		s.first_seq = strtoull(e->d_name, &end, 10);
		if (errno || end != e->d_name + 20 || s.first_seq == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", sp->dir, e->d_name);
		s.fd = open(path, (sp->readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC);
		if (s.fd < 0) {
			errf(err, errlen, "%s: %s", path, strerror(errno));
			goto out;
		}
		/* A torn tail (the owner was killed in a write) is cut back
		 * to the last complete line. */
		if ((r = seg_scan(&s)) != 0 || (r = seg_push(sp, &s)) != 0) {
			errf(err, errlen, "%s: %s", path, strerror(-r));
			close(s.fd);
			goto out;
		}
		sp->bytes += s.bytes;
	}
	if (sp->nsegs > 1)
		qsort(sp->segs, sp->nsegs, sizeof(*sp->segs), seg_cmp);
	/* Segments are contiguous; a crash between cutting a torn tail and
	 * the next segment cannot happen (only the last is written), but be
	 * safe: an overlap is cut, a gap counts as dropped lines. */
	for (size_t i = 0; i + 1 < sp->nsegs; i++) {
		struct spool_seg *s = &sp->segs[i];
		uint64_t next = sp->segs[i + 1].first_seq;

		if (s->first_seq + s->lines > next) {
			s->lines = next - s->first_seq;
		} else if (s->first_seq + s->lines < next) {
			sp->dropped += next - s->first_seq - s->lines;
			sp->state_dirty = 1;
		}
	}
	if (sp->nsegs) {
		struct spool_seg *last = &sp->segs[sp->nsegs - 1];

		if (last->first_seq + last->lines > sp->next_seq)
			sp->next_seq = last->first_seq + last->lines;
	}
	if (sp->next_seq == 0)
		sp->next_seq = 1;
	if (sp->acked >= sp->next_seq)
		sp->acked = sp->next_seq - 1;
	/* Lines below the first segment that were never acknowledged were
	 * dropped (the count is in the state already). */
	while (sp->nsegs > 1 && seg_unacked(sp, 0) == 0)
		seg_delete(sp, 0);
	ret = 0;
out:
	closedir(d);
	return ret;
}

/* Opens the state file and segments of the locked stream in sp->dir. */
static int open_locked(struct spool *sp, char *err, size_t errlen)
{
	char path[SPOOL_PATH_MAX + 16];
	const char *base = strrchr(sp->dir, '/');

	base = base ? base + 1 : sp->dir;
	sp->stream_id = strtoull(base + 2, NULL, 16);
	snprintf(path, sizeof(path), "%s/state", sp->dir);
	sp->state_fd = open(path, (sp->readonly ? O_RDONLY : O_RDWR | O_CREAT) |
			    O_CLOEXEC, 0640);
	if (sp->state_fd < 0) {
		errf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (state_load(sp) != 0) {
		/* Resending from the start is safe: writers drop what they
		 * have. */
		sp->acked = 0;
		sp->next_seq = 1;
		sp->state_dirty = 1;
	}
	return load_segments(sp, err, errlen);
}

static void spool_init(struct spool *sp)
{
	memset(sp, 0, sizeof(*sp));
	pthread_mutex_init(&sp->mu, NULL);
	sp->lock_fd = -1;
	sp->state_fd = -1;
}

/* Closes everything; the mutex is destroyed. */
static void release(struct spool *sp)
{
	for (size_t i = 0; i < sp->nsegs; i++)
		close(sp->segs[i].fd);
	free(sp->segs);
	sp->segs = NULL;
	sp->nsegs = sp->cap = 0;
	if (sp->state_fd >= 0)
		close(sp->state_fd);
	if (sp->lock_fd >= 0)
		close(sp->lock_fd);
	sp->state_fd = sp->lock_fd = -1;
	pthread_mutex_destroy(&sp->mu);
}

/* Makes a new stream in gdir and locks it; sets sp->dir, sp->lock_fd. */
static int create_stream(struct spool *sp, const char *gdir, char *err,
			 size_t errlen)
{
	char tmp[SPOOL_PATH_MAX], path[SPOOL_PATH_MAX + 16];
	uint64_t id = 0;
	int fd;

	while (id == 0)
		if (getrandom(&id, sizeof(id), 0) != (ssize_t)sizeof(id)) {
			errf(err, errlen, "getrandom: %s", strerror(errno));
			return -1;
		}
	if (snprintf(tmp, sizeof(tmp), "%s/.new-XXXXXX", gdir) >= (int)sizeof(tmp) ||
	    !mkdtemp(tmp)) {
		errf(err, errlen, "%s: cannot make a stream: %s", gdir, strerror(errno));
		return -1;
	}
	snprintf(path, sizeof(path), "%s/lock", tmp);
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
	if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB) != 0) {
		errf(err, errlen, "%s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		remove_flat_dir(tmp);
		return -1;
	}
	snprintf(sp->dir, sizeof(sp->dir), "%s/s-%016" PRIx64, gdir, id);
	if (rename(tmp, sp->dir) != 0) {
		errf(err, errlen, "rename %s: %s", tmp, strerror(errno));
		close(fd);
		remove_flat_dir(tmp);
		return -1;
	}
	sp->lock_fd = fd;
	return 0;
}

/* Removes .new-* leftovers of processes that died while creating. */
static void clean_new(const char *gdir)
{
	char path[SPOOL_PATH_MAX + 300];
	DIR *d = opendir(gdir);
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d))) {
		int fd;

		if (strncmp(e->d_name, ".new-", 5) != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", gdir, e->d_name);
		fd = lock_stream(path);
		if (fd >= 0) {
			remove_flat_dir(path);
			close(fd);
		}
	}
	closedir(d);
}

/* Locks the first stream of gdir held by nobody, except `except`.
 * Returns 1 and sets sp->dir and sp->lock_fd, or 0. */
static int lock_any(struct spool *sp, const char *gdir, uint64_t except)
{
	char path[SPOOL_PATH_MAX + 300];
	DIR *d = opendir(gdir);
	struct dirent *e;
	int got = 0;

	if (!d)
		return 0;
	while (!got && (e = readdir(d))) {
		char *end;
		uint64_t id;
		int fd;

		if (strncmp(e->d_name, "s-", 2) != 0 || strlen(e->d_name) != 18)
			continue;
		id = strtoull(e->d_name + 2, &end, 16);
		if (*end || id == 0 || id == except)
			continue;
		snprintf(path, sizeof(path), "%s/%s", gdir, e->d_name);
		if (strlen(path) >= sizeof(sp->dir))
			continue;
		fd = lock_stream(path);
		if (fd < 0)
			continue;
		memcpy(sp->dir, path, strlen(path) + 1);
		sp->lock_fd = fd;
		got = 1;
	}
	closedir(d);
	return got;
}

int spool_open(struct spool *sp, const char *gdir, uint64_t max_bytes,
	       char *err, size_t errlen)
{
	spool_init(sp);
	if (max_bytes < SPOOL_MIN_BYTES)
		max_bytes = SPOOL_MIN_BYTES;
	sp->max_bytes = max_bytes;
	sp->seg_bytes = max_bytes / 8;
	if (mkdir_p(gdir) != 0) {
		errf(err, errlen, "%s: %s", gdir, strerror(errno));
		goto fail;
	}
	clean_new(gdir);
	if (!lock_any(sp, gdir, 0) && create_stream(sp, gdir, err, errlen) != 0)
		goto fail;
	if (open_locked(sp, err, errlen) != 0)
		goto fail;
	if (sp->state_dirty && state_write(sp) != 0) {
		errf(err, errlen, "%s/state: cannot write", sp->dir);
		goto fail;
	}
	return 0;
fail:
	release(sp);
	return -1;
}

int spool_adopt(struct spool *sp, const char *gdir, uint64_t except,
		char *err, size_t errlen)
{
	spool_init(sp);
	sp->readonly = 1;
	if (!lock_any(sp, gdir, except)) {
		release(sp);
		return 0;
	}
	/* Adopted streams are read-only except for their state, which
	 * records what was acknowledged. */
	sp->readonly = 0;
	if (open_locked(sp, err, errlen) != 0) {
		release(sp);
		return -1;
	}
	sp->readonly = 1;
	sp->max_bytes = UINT64_MAX;
	return 1;
}

void spool_close(struct spool *sp)
{
	pthread_mutex_lock(&sp->mu);
	if (sp->state_dirty && sp->state_fd >= 0)
		state_write(sp);
	pthread_mutex_unlock(&sp->mu);
	release(sp);
}

int spool_remove(struct spool *sp)
{
	int ret;

	pthread_mutex_lock(&sp->mu);
	for (size_t i = 0; i < sp->nsegs; i++)
		close(sp->segs[i].fd);
	sp->nsegs = 0;
	if (sp->state_fd >= 0)
		close(sp->state_fd);
	sp->state_fd = -1;
	ret = remove_flat_dir(sp->dir);
	pthread_mutex_unlock(&sp->mu);
	release(sp);
	return ret;
}

/* Starts a new segment at next_seq. */
static int seg_new(struct spool *sp)
{
	char path[SPOOL_PATH_MAX + 32];
	struct spool_seg s;
	int r;

	memset(&s, 0, sizeof(s));
	s.first_seq = sp->next_seq;
	seg_path(sp, s.first_seq, path, sizeof(path));
	s.fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (s.fd < 0)
		return -errno;
	if ((r = seg_push(sp, &s)) != 0) {
		close(s.fd);
		unlink(path);
		return r;
	}
	return 0;
}

/* Drops the oldest segment (never the one being written); adds its
 * unacknowledged lines to the counters. */
static void drop_oldest(struct spool *sp, uint64_t *dropped_now)
{
	uint64_t n = seg_unacked(sp, 0);

	sp->dropped += n;
	*dropped_now += n;
	seg_delete(sp, 0);
	sp->state_dirty = 1;
	/* A loss is rare and must never be forgotten: record it now. */
	state_write(sp);
}

static ssize_t pwrite_all(int fd, const char *p, size_t len, uint64_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t w = pwrite(fd, p + done, len - done, (off_t)(off + done));

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		if (w == 0)
			return -EIO;
		done += (size_t)w;
	}
	return (ssize_t)done;
}

int spool_append(struct spool *sp, const char *data, size_t len,
		 uint32_t lines, uint32_t cut, uint64_t *dropped_now)
{
	struct spool_seg *last;
	ssize_t w;
	int ret = 0, rc;

	pthread_mutex_lock(&sp->mu);
	if (sp->readonly) {
		ret = -EBADF;
		goto drop;
	}
	if (sp->nsegs == 0 ||
	    (sp->segs[sp->nsegs - 1].bytes && sp->segs[sp->nsegs - 1].bytes +
	     len > sp->seg_bytes)) {
		if ((ret = seg_new(sp)) != 0)
			goto drop;
	}
	while (sp->bytes + len > sp->max_bytes && sp->nsegs > 1)
		drop_oldest(sp, dropped_now);
	for (;;) {
		last = &sp->segs[sp->nsegs - 1];
		w = pwrite_all(last->fd, data, len, last->bytes);
		if (w >= 0)
			break;
		/* Take back a partial write so the segment stays whole; if
		 * that fails too, the next write overwrites it at the same
		 * offset. */
		rc = ftruncate(last->fd, (off_t)last->bytes);
		(void)rc;
		if (w == -ENOSPC && sp->nsegs > 1) {
			drop_oldest(sp, dropped_now);
			continue;
		}
		ret = (int)w;
		goto drop;
	}
	last->bytes += len;
	last->lines += lines;
	sp->bytes += len;
	sp->next_seq += lines;
	sp->cut += cut;
	sp->state_dirty = 1;
	goto out;
drop:
	sp->dropped += lines;
	*dropped_now += lines;
	sp->state_dirty = 1;
out:
	pthread_mutex_unlock(&sp->mu);
	return ret;
}

static uint64_t base_locked(const struct spool *sp)
{
	return sp->nsegs ? sp->segs[0].first_seq : sp->next_seq;
}

/* Index of the segment whose first line is `first`, or -1. */
static long seg_find(const struct spool *sp, uint64_t first)
{
	for (size_t i = sp->nsegs; i-- > 0;)
		if (sp->segs[i].first_seq == first)
			return (long)i;
	return -1;
}

static int seek_locked(struct spool *sp, struct spool_cursor *cur,
		       uint64_t seq, const struct spool_cursor *from)
{
	struct spool_seg *s = NULL;
	uint64_t at, off;
	char *buf;
	int ret = 0;

	if (seq < base_locked(sp))
		seq = base_locked(sp);
	if (seq > sp->next_seq)
		seq = sp->next_seq;
	if (sp->nsegs == 0) {
		cur->seq = cur->seg_first = seq;
		cur->off = 0;
		return 0;
	}
	for (size_t i = 0; i < sp->nsegs; i++) {
		s = &sp->segs[i];
		if (seq < s->first_seq + s->lines)
			break;
	}
	/* seq == next_seq lands at the end of the last segment. */
	at = s->first_seq;
	off = 0;
	if (seq == s->first_seq + s->lines) {
		at = seq;
		off = s->bytes;
	} else if (from && from->seg_first == s->first_seq && from->seq <= seq &&
		   from->seq >= s->first_seq) {
		at = from->seq;
		off = from->off;
	}
	if (at == seq)
		goto done;
	buf = malloc(SCAN_BLOCK);
	if (!buf)
		return -ENOMEM;
	while (at < seq) {
		ssize_t r = pread(s->fd, buf, SCAN_BLOCK, (off_t)off);
		char *p = buf, *e;

		if (r <= 0) {
			ret = r < 0 ? -errno : -EIO;
			break;
		}
		e = buf + r;
		while (at < seq && p < e) {
			char *nl = memchr(p, '\n', (size_t)(e - p));

			if (!nl)
				break;
			at++;
			p = nl + 1;
		}
		off += (uint64_t)(p - buf);
		if (p == buf) {
			ret = -EIO;
			break;
		}
	}
	free(buf);
	if (ret)
		return ret;
done:
	cur->seq = seq;
	cur->seg_first = s->first_seq;
	cur->off = off;
	return 0;
}

int spool_seek(struct spool *sp, struct spool_cursor *cur, uint64_t seq,
	       const struct spool_cursor *from)
{
	int ret;

	pthread_mutex_lock(&sp->mu);
	ret = seek_locked(sp, cur, seq, from);
	pthread_mutex_unlock(&sp->mu);
	return ret;
}

ssize_t spool_read(struct spool *sp, struct spool_cursor *cur, char *buf,
		   size_t cap, uint64_t *first, uint32_t *lines)
{
	struct spool_seg *s;
	ssize_t ret = 0, r;
	uint64_t avail;
	uint32_t n = 0;
	long i;
	char *end;

	*lines = 0;
	pthread_mutex_lock(&sp->mu);
	i = seg_find(sp, cur->seg_first);
	if (cur->seq < base_locked(sp) || i < 0 || cur->seq > sp->next_seq) {
		ret = seek_locked(sp, cur, cur->seq, NULL);
		if (ret)
			goto out;
		i = seg_find(sp, cur->seg_first);
	}
	if (i < 0 || cur->seq >= sp->next_seq)
		goto out;
	s = &sp->segs[i];
	if (cur->off >= s->bytes) {
		/* At the end of a segment: move on to the next one. */
		if ((size_t)i + 1 >= sp->nsegs)
			goto out;
		s = &sp->segs[i + 1];
		cur->seg_first = s->first_seq;
		cur->off = 0;
	}
	avail = s->bytes - cur->off;
	if (avail > cap)
		avail = cap;
	r = pread(s->fd, buf, avail, (off_t)cur->off);
	if (r < 0) {
		ret = -errno;
		goto out;
	}
	if ((uint64_t)r < avail) {
		ret = -EIO;
		goto out;
	}
	end = memrchr(buf, '\n', (size_t)r);
	if (!end) {
		ret = -EMSGSIZE;
		goto out;
	}
	r = end - buf + 1;
	for (char *p = buf; p < buf + r; p++) {
		p = memchr(p, '\n', (size_t)(buf + r - p));
		n++;
	}
	*first = cur->seq;
	*lines = n;
	cur->seq += n;
	cur->off += (uint64_t)r;
	ret = r;
out:
	pthread_mutex_unlock(&sp->mu);
	return ret;
}

void spool_pending(struct spool *sp, const struct spool_cursor *cur,
		   uint64_t *lines, uint64_t *bytes)
{
	uint64_t base, b = 0;
	size_t i = 0;

	pthread_mutex_lock(&sp->mu);
	base = base_locked(sp);
	if (cur->seq < base || seg_find(sp, cur->seg_first) < 0) {
		*lines = sp->next_seq - base;
		b = sp->bytes;
	} else {
		*lines = cur->seq < sp->next_seq ? sp->next_seq - cur->seq : 0;
		i = (size_t)seg_find(sp, cur->seg_first);
		b = sp->segs[i].bytes > cur->off ? sp->segs[i].bytes - cur->off : 0;
		for (i++; i < sp->nsegs; i++)
			b += sp->segs[i].bytes;
	}
	*bytes = b;
	pthread_mutex_unlock(&sp->mu);
}

int spool_ack(struct spool *sp, uint64_t acked)
{
	pthread_mutex_lock(&sp->mu);
	if (acked >= sp->next_seq)
		acked = sp->next_seq - 1;
	if (acked > sp->acked) {
		sp->acked = acked;
		sp->state_dirty = 1;
		while (sp->nsegs > 1 && seg_unacked(sp, 0) == 0)
			seg_delete(sp, 0);
	}
	pthread_mutex_unlock(&sp->mu);
	return 0;
}

int spool_save_state(struct spool *sp)
{
	int ret = 0;

	pthread_mutex_lock(&sp->mu);
	if (sp->state_dirty)
		ret = state_write(sp);
	pthread_mutex_unlock(&sp->mu);
	return ret;
}

int spool_sync(struct spool *sp)
{
	int fd = -1, sfd = -1, ret = 0;

	pthread_mutex_lock(&sp->mu);
	if (sp->nsegs)
		fd = dup(sp->segs[sp->nsegs - 1].fd);
	if (sp->state_fd >= 0)
		sfd = dup(sp->state_fd);
	pthread_mutex_unlock(&sp->mu);
	/* Outside the lock: a slow disk must not hold up appends. */
	if (fd >= 0 && fdatasync(fd) != 0)
		ret = -errno;
	if (sfd >= 0 && fdatasync(sfd) != 0)
		ret = -errno;
	if (fd >= 0)
		close(fd);
	if (sfd >= 0)
		close(sfd);
	return ret;
}

void spool_stats(struct spool *sp, struct spool_stats *st)
{
	uint64_t base;

	pthread_mutex_lock(&sp->mu);
	base = base_locked(sp);
	st->stream_id = sp->stream_id;
	st->base = base;
	st->next_seq = sp->next_seq;
	st->acked = sp->acked;
	st->dropped = sp->dropped;
	st->cut = sp->cut;
	st->bytes = sp->bytes;
	st->unacked = sp->next_seq - 1 - (sp->acked >= base ? sp->acked : base - 1);
	pthread_mutex_unlock(&sp->mu);
}
