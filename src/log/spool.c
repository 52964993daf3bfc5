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
#include <time.h>
#include <unistd.h>

#include "proto/be.h"

/* State: two slots written alternately, each with a CRC, so a torn write
 * leaves the other. Slot layout (big-endian):
 *   0 magic, 4 version, 5 flags, 8 generation, 16 stream id, 24 acked,
 *   32 dropped, 40 cut, 48 next_seq, 56 boot id, 64 input device,
 *   72 input inode, 120 CRC-32 of bytes 0..119. */
#define STATE_SLOT 128
#define STATE_CRC_AT 120
#define STATE_MAGIC 0x434c5353u /* "CLSS" */
#define STATE_VERSION 2
#define ST_F_CLEAN 0x01u        /* closed cleanly: everything synced */
#define ST_F_HOLE 0x02u         /* next_seq is past the last segment by
				   lines the spool dropped (counted) */
#define SCAN_BLOCK (256 * 1024)
#define NAME_COMPONENT_MAX 200
#define INCOMPLETE_MARK " [chorus-log: line incomplete]\n"

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

static uint64_t fnv1a(const char *s, size_t n, uint64_t h)
{
	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

int spool_group_dir(const char *root, const char *group, const char *node,
		    char *out, size_t outlen)
{
	static const char hex[] = "0123456789ABCDEF";
	const char *parts[2] = { group, node };
	char comp[3 * 600];
	size_t o = 0;
	int n;

	if (strlen(group) > 255 || strlen(node) > 255)
		return -1;
	for (int k = 0; k < 2; k++) {
		for (const unsigned char *s = (const unsigned char *)parts[k]; *s; s++) {
			int plain = (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
				    (*s >= '0' && *s <= '9') || *s == '_' || *s == '-' ||
				    (*s == '.' && s != (const unsigned char *)parts[k]);

			if (plain) {
				comp[o++] = (char)*s;
			} else {
				comp[o++] = '%';
				comp[o++] = hex[*s >> 4];
				comp[o++] = hex[*s & 15];
			}
		}
		if (k == 0)
			comp[o++] = '@';
	}
	comp[o] = 0;
	if (o > NAME_COMPONENT_MAX) {
		/* A file name has at most 255 bytes: keep a readable start
		 * and make it unique with a hash of the names. */
		uint64_t h = fnv1a(group, strlen(group) + 1, 0xcbf29ce484222325ull);

		h = fnv1a(node, strlen(node), h);
		o = NAME_COMPONENT_MAX - 17;
		snprintf(comp + o, sizeof(comp) - o, "~%016" PRIx64, h);
	}
	n = snprintf(out, outlen, "%s/%s", root, comp);
	return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

/* fsync()s a directory. */
static int sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), ret = 0;

	if (fd < 0)
		return -errno;
	if (fsync(fd) != 0)
		ret = -errno;
	close(fd);
	return ret;
}

static void parent_of(const char *path, char *out, size_t len)
{
	char *slash;

	snprintf(out, len, "%s", path);
	slash = strrchr(out, '/');
	if (slash && slash != out)
		*slash = 0;
	else if (slash)
		slash[1] = 0;
}

/* mkdir -p; syncs the parent of each directory it makes. Returns 0 or
 * -1 (errno). */
static int mkdir_p(const char *path)
{
	char tmp[SPOOL_PATH_MAX], parent[SPOOL_PATH_MAX];
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
		if (mkdir(tmp, 0750) == 0) {
			parent_of(tmp, parent, sizeof(parent));
			sync_dir(parent);
		} else if (errno != EEXIST) {
			return -1;
		}
		tmp[i] = path[i];
	}
	return 0;
}

int spool_private_dir(const char *dir, uid_t uid, char *err, size_t errlen)
{
	struct stat st;

	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		errf(err, errlen, "%s: %s", dir, strerror(errno));
		return -1;
	}
	if (lstat(dir, &st) != 0) {
		errf(err, errlen, "%s: %s", dir, strerror(errno));
		return -1;
	}
	if (S_ISLNK(st.st_mode) || !S_ISDIR(st.st_mode)) {
		errf(err, errlen, "%s is not a directory (a symbolic link?)", dir);
		return -1;
	}
	if (st.st_uid != uid) {
		errf(err, errlen, "%s belongs to uid %u, not %u", dir,
		     (unsigned)st.st_uid, (unsigned)uid);
		return -1;
	}
	if (st.st_mode & 077) {
		errf(err, errlen, "%s has mode %03o, not private (0700)", dir,
		     (unsigned)(st.st_mode & 0777));
		return -1;
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
		return errno == ENOENT ? 0 : -1;
	while ((e = readdir(d))) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (unlink(path) != 0 && errno != ENOENT)
			ret = -1;
	}
	closedir(d);
	if (rmdir(dir) != 0 && errno != ENOENT)
		ret = -1;
	return ret;
}

/* Locks dir/lock without waiting. Returns the descriptor, or -1 if the
 * stream is held by another process or cannot be opened. */
static int lock_stream(const char *dir)
{
	char path[SPOOL_PATH_MAX + 8];
	struct stat a, b;
	int fd;

	snprintf(path, sizeof(path), "%s/lock", dir);
	fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -1;
	if (flock(fd, LOCK_EX | LOCK_NB) != 0)
		goto fail;
	/* Make sure ours is still the file of that name (not one of a
	 * stream renamed away meanwhile). */
	if (fstat(fd, &a) != 0 || stat(path, &b) != 0 || a.st_ino != b.st_ino ||
	    a.st_dev != b.st_dev)
		goto fail;
	return fd;
fail:
	close(fd);
	return -1;
}

/* ---- State ---- */

struct state_rec {
	uint8_t flags;
	uint64_t gen, acked, dropped, cut, next_seq, boot_id, input_dev, input_ino;
};

static void state_encode(const struct spool *sp, uint64_t gen, uint8_t *slot)
{
	memset(slot, 0, STATE_SLOT);
	be_put32(slot, STATE_MAGIC);
	slot[4] = STATE_VERSION;
	slot[5] = sp->flags;
	be_put64(slot + 8, gen);
	be_put64(slot + 16, sp->stream_id);
	be_put64(slot + 24, sp->acked);
	be_put64(slot + 32, sp->dropped);
	be_put64(slot + 40, sp->cut);
	be_put64(slot + 48, sp->next_seq);
	be_put64(slot + 56, sp->boot_id);
	be_put64(slot + 64, sp->input_dev);
	be_put64(slot + 72, sp->input_ino);
	be_put32(slot + STATE_CRC_AT, crc32_buf(slot, STATE_CRC_AT));
}

static int state_write(struct spool *sp)
{
	uint8_t slot[STATE_SLOT];
	uint64_t gen = sp->state_gen + 1;
	ssize_t w;

	if (sp->state_fd < 0)
		return -EBADF;
	sp->flags = (uint8_t)((sp->flags & ~ST_F_HOLE) | (sp->hole_open ? ST_F_HOLE : 0));
	state_encode(sp, gen, slot);
	w = pwrite(sp->state_fd, slot, sizeof(slot), (off_t)((gen % 2) * STATE_SLOT));
	if (w != (ssize_t)sizeof(slot))
		return w < 0 ? -errno : -EIO;
	sp->state_gen = gen;
	sp->state_dirty = 0;
	return 0;
}

/* Reads the newest valid slot of the state file fd for stream id into
 * *r. Returns 0, or -1 if neither slot is valid. */
static int state_read(int fd, uint64_t id, struct state_rec *r)
{
	uint8_t buf[2 * STATE_SLOT];
	ssize_t n = pread(fd, buf, sizeof(buf), 0);
	int found = -1;

	for (int i = 0; n > 0 && i < 2; i++) {
		const uint8_t *s = buf + i * STATE_SLOT;
		uint64_t gen;

		if (n < (ssize_t)((i + 1) * STATE_SLOT))
			break;
		if (be_get32(s) != STATE_MAGIC || s[4] != STATE_VERSION ||
		    be_get32(s + STATE_CRC_AT) != crc32_buf(s, STATE_CRC_AT) ||
		    be_get64(s + 16) != id)
			continue;
		gen = be_get64(s + 8);
		if (found >= 0 && gen <= r->gen)
			continue;
		found = i;
		r->gen = gen;
		r->flags = s[5];
		r->acked = be_get64(s + 24);
		r->dropped = be_get64(s + 32);
		r->cut = be_get64(s + 40);
		r->next_seq = be_get64(s + 48);
		r->boot_id = be_get64(s + 56);
		r->input_dev = be_get64(s + 64);
		r->input_ino = be_get64(s + 72);
	}
	return found >= 0 ? 0 : -1;
}

/* ---- Segments ---- */

static void seg_path(const struct spool *sp, const struct spool_seg *s,
		     char *out, size_t len)
{
	snprintf(out, len, "%s/%020" PRIu64 "%s.seg", sp->dir, s->first_seq,
		 s->after_hole ? "h" : "");
}

/* Parses a segment file name; returns 1 and the numbers, or 0. */
static int seg_name(const char *name, uint64_t *first, int *after_hole)
{
	size_t len = strlen(name);
	char *end;

	if (len == 24 && strcmp(name + 20, ".seg") == 0)
		*after_hole = 0;
	else if (len == 25 && strcmp(name + 20, "h.seg") == 0)
		*after_hole = 1;
	else
		return 0;
	if (name[0] < '0' || name[0] > '9')
		return 0;
	errno = 0;
	*first = strtoull(name, &end, 10);
	return !errno && end == name + 20 && *first != 0;
}

/* Counts the whole lines of a segment from the start; *bytes gets the
 * offset after the last '\n', *size the file size. Returns 0 or -errno. */
static int seg_count(int fd, uint64_t *lines, uint64_t *bytes, uint64_t *size)
{
	char *buf = malloc(SCAN_BLOCK);
	uint64_t off = 0, end_ok = 0, n = 0;
	int ret = 0;

	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t r = pread(fd, buf, SCAN_BLOCK, (off_t)off);

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
			n++;
			end_ok = off + (uint64_t)(nl - buf) + 1;
			p = nl + 1;
		}
		off += (uint64_t)r;
	}
	*lines = n;
	*bytes = end_ok;
	*size = off;
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

static uint64_t seg_end(const struct spool_seg *s)
{
	return s->first_seq + s->lines;
}

/* Removes segment i (closing and unlinking it). */
static void seg_delete(struct spool *sp, size_t i)
{
	char path[SPOOL_PATH_MAX + 32];
	struct spool_seg *s = &sp->segs[i];

	seg_path(sp, s, path, sizeof(path));
	unlink(path);
	close(s->fd);
	sp->bytes -= s->bytes;
	if (i + 1 == sp->nsegs)
		sp->tail = 0;
	memmove(s, s + 1, (sp->nsegs - i - 1) * sizeof(*s));
	sp->nsegs--;
	sp->dir_dirty = 1;
	sp->sync_due = 1;
}

/* Unacknowledged lines held in segment i. */
static uint64_t seg_unacked(const struct spool *sp, size_t i)
{
	const struct spool_seg *s = &sp->segs[i];
	uint64_t end = seg_end(s);

	if (sp->acked + 1 >= end)
		return 0;
	return sp->acked + 1 > s->first_seq ? end - sp->acked - 1 : s->lines;
}

/* Loads the segments of sp->dir. Every segment but the last is taken as
 * holding the lines up to the next one's first (verified when read); the
 * last is counted, and what follows its last '\n' is the tail. */
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
		struct stat st;
		uint64_t first;
		int hole, r;

		if (!seg_name(e->d_name, &first, &hole))
			continue;
		memset(&s, 0, sizeof(s));
		s.first_seq = first;
		s.after_hole = (uint8_t)hole;
		snprintf(path, sizeof(path), "%s/%s", sp->dir, e->d_name);
		s.fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
		if (s.fd < 0 || fstat(s.fd, &st) != 0) {
			errf(err, errlen, "%s: %s", path, strerror(errno));
			if (s.fd >= 0)
				close(s.fd);
			goto out;
		}
		s.bytes = (uint64_t)st.st_size;
		if ((r = seg_push(sp, &s)) != 0) {
			errf(err, errlen, "%s: %s", path, strerror(-r));
			close(s.fd);
			goto out;
		}
	}
	if (sp->nsegs > 1)
		qsort(sp->segs, sp->nsegs, sizeof(*sp->segs), seg_cmp);
	/* Two names for one first line (a crash between making a segment
	 * and using it): keep the later-made one only if the other is
	 * empty; otherwise keep the plain one. */
	for (size_t i = 0; i + 1 < sp->nsegs; i++) {
		if (sp->segs[i].first_seq != sp->segs[i + 1].first_seq)
			continue;
		seg_delete(sp, sp->segs[i].bytes == 0 ? i : i + 1);
		i--;
	}
	for (size_t i = 0; i + 1 < sp->nsegs; i++)
		sp->segs[i].lines = sp->segs[i + 1].first_seq - sp->segs[i].first_seq;
	if (sp->nsegs) {
		struct spool_seg *last = &sp->segs[sp->nsegs - 1];
		uint64_t size = 0;
		int r = seg_count(last->fd, &last->lines, &last->bytes, &size);

		if (r != 0) {
			errf(err, errlen, "%s: segment: %s", sp->dir, strerror(-r));
			goto out;
		}
		last->verified = 1;
		sp->tail = size - last->bytes;
	}
	sp->bytes = 0;
	for (size_t i = 0; i < sp->nsegs; i++)
		sp->bytes += sp->segs[i].bytes;
	ret = 0;
out:
	closedir(d);
	return ret;
}

/* Releases everything but the mutex. */
static void release_files(struct spool *sp)
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
	free(sp->obuf);
	sp->obuf = NULL;
	for (int i = 0; i < 2; i++) {
		if (sp->peek[i] >= 0)
			close(sp->peek[i]);
		sp->peek[i] = -1;
	}
}

static void release(struct spool *sp)
{
	release_files(sp);
	pthread_mutex_destroy(&sp->mu);
}

static void spool_init(struct spool *sp)
{
	memset(sp, 0, sizeof(*sp));
	pthread_mutex_init(&sp->mu, NULL);
	sp->lock_fd = -1;
	sp->state_fd = -1;
	sp->peek[0] = sp->peek[1] = -1;
}

static uint64_t stream_id_of(const char *dir)
{
	const char *base = strrchr(dir, '/');

	base = base ? base + 1 : dir;
	return strtoull(base + 2, NULL, 16);
}

/* Opens the state and segments of the locked stream in sp->dir and
 * works out the numbers. *state_ok tells whether the state was valid. */
static int open_locked(struct spool *sp, int *state_ok, char *err, size_t errlen)
{
	char path[SPOOL_PATH_MAX + 16];
	struct state_rec r;
	uint64_t end;

	sp->stream_id = stream_id_of(sp->dir);
	snprintf(path, sizeof(path), "%s/state", sp->dir);
	sp->state_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
	if (sp->state_fd < 0) {
		errf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	memset(&r, 0, sizeof(r));
	*state_ok = state_read(sp->state_fd, sp->stream_id, &r) == 0;
	if (*state_ok) {
		sp->state_gen = r.gen;
		sp->flags = r.flags;
		sp->acked = r.acked;
		sp->dropped = r.dropped;
		sp->cut = r.cut;
		sp->next_seq = r.next_seq;
		sp->boot_id = r.boot_id;
		sp->input_dev = r.input_dev;
		sp->input_ino = r.input_ino;
	} else {
		/* Resending from the start is safe: writers drop what they
		 * have. */
		sp->state_dirty = 1;
	}
	sp->dropped_open = sp->dropped;
	if (load_segments(sp, err, errlen) != 0)
		return -1;
	end = sp->nsegs ? seg_end(&sp->segs[sp->nsegs - 1]) : 1;
	if (sp->next_seq > end) {
		/* The state numbered lines past the last segment: a hole the
		 * spool made (a failed write, counted then), or segments lost
		 * (a crash, a hand): count those now. */
		if (!(sp->flags & ST_F_HOLE)) {
			sp->dropped += sp->next_seq - end;
			sp->state_dirty = 1;
		}
		sp->hole_open = 1;
	} else {
		sp->next_seq = end;
	}
	if (sp->acked >= sp->next_seq)
		sp->acked = sp->next_seq - 1;
	/* Segments holding only acknowledged lines (a kill between saving
	 * the state and deleting them) go now. */
	while (sp->nsegs > 1 && seg_end(&sp->segs[0]) <= sp->acked + 1)
		seg_delete(sp, 0);
	return 0;
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
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0640);
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
	sync_dir(gdir);
	sp->lock_fd = fd;
	return 0;
}

/* Removes what processes left while creating (.new-*) or removing
 * (.del-*) streams. A .new-* directory is removed when its lock is free,
 * or when it has no lock file and is older than a minute. */
static void clean_leftovers(const char *gdir)
{
	char path[SPOOL_PATH_MAX + 300];
	DIR *d = opendir(gdir);
	struct dirent *e;
	int removed = 0;

	if (!d)
		return;
	while ((e = readdir(d))) {
		int fd;

		snprintf(path, sizeof(path), "%s/%s", gdir, e->d_name);
		if (strncmp(e->d_name, ".del-", 5) == 0) {
			removed += remove_flat_dir(path) == 0;
		} else if (strncmp(e->d_name, ".new-", 5) == 0) {
			char lock[SPOOL_PATH_MAX + 310];
			struct stat st;

			fd = lock_stream(path);
			snprintf(lock, sizeof(lock), "%s/lock", path);
			if (fd >= 0) {
				removed += remove_flat_dir(path) == 0;
				close(fd);
			} else if (stat(lock, &st) != 0 && errno == ENOENT &&
				   stat(path, &st) == 0 && st.st_mtime < time(NULL) - 60) {
				removed += remove_flat_dir(path) == 0;
			}
		}
	}
	closedir(d);
	if (removed)
		sync_dir(gdir);
}

/* What spool_open() needs to know about a stream before it takes it. */
struct peek {
	int state_ok;
	struct state_rec st;
	int has_segs;
	int tail;              /* the last segment ends inside a line */
	time_t tail_mtime;
};

static void peek_stream(const char *dir, struct peek *pk)
{
	char path[SPOOL_PATH_MAX + 300], last[256] = "";
	DIR *d;
	struct dirent *e;
	uint64_t best = 0;
	int fd;

	memset(pk, 0, sizeof(*pk));
	snprintf(path, sizeof(path), "%s/state", dir);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd >= 0) {
		pk->state_ok = state_read(fd, stream_id_of(dir), &pk->st) == 0;
		close(fd);
	}
	d = opendir(dir);
	if (!d)
		return;
	while ((e = readdir(d))) {
		uint64_t first;
		int hole;

		if (seg_name(e->d_name, &first, &hole) && first >= best) {
			best = first;
			snprintf(last, sizeof(last), "%s", e->d_name);
		}
	}
	closedir(d);
	if (!last[0])
		return;
	pk->has_segs = 1;
	snprintf(path, sizeof(path), "%s/%s", dir, last);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd >= 0) {
		struct stat st;
		char c = '\n';

		if (fstat(fd, &st) == 0 && st.st_size > 0 &&
		    pread(fd, &c, 1, st.st_size - 1) == 1 && c != '\n') {
			pk->tail = 1;
			pk->tail_mtime = st.st_mtime;
		}
		close(fd);
	}
}

/* May a writer with options o continue this stream? 2: yes, it is the
 * stream of the same input; 1: yes; 0: no. A stream is never continued
 * when it may have lost lines that were numbered and sent (unclean, from
 * another boot, or no valid state to tell), nor when it ends inside a
 * line of another input. */
static int continuable(const struct peek *pk, const struct spool_opts *o)
{
	int same_input;

	if (!pk->state_ok)
		return pk->has_segs ? 0 : 1;
	if (!(pk->st.flags & ST_F_CLEAN) &&
	    (pk->st.boot_id != o->boot_id || o->boot_id == 0))
		return 0;
	same_input = (o->input_dev || o->input_ino) &&
		     pk->st.input_dev == o->input_dev && pk->st.input_ino == o->input_ino;
	if (same_input)
		return 2;
	return pk->tail ? 0 : 1;
}

/* Locks the first stream of gdir held by nobody and accepted by `want`
 * (for pass `pass`). Returns 1 and sets sp->dir and sp->lock_fd, or 0. */
static int lock_any(struct spool *sp, const char *gdir, uint64_t except,
		    int (*want)(const struct peek *, const void *, int), const void *arg,
		    int pass)
{
	char path[SPOOL_PATH_MAX + 300];
	DIR *d = opendir(gdir);
	struct dirent *e;
	int got = 0;

	if (!d)
		return 0;
	while (!got && (e = readdir(d))) {
		struct peek pk;
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
		peek_stream(path, &pk);
		if (!want(&pk, arg, pass)) {
			close(fd);
			continue;
		}
		memcpy(sp->dir, path, strlen(path) + 1);
		sp->lock_fd = fd;
		got = 1;
	}
	closedir(d);
	return got;
}

static int want_writer(const struct peek *pk, const void *arg, int pass)
{
	int c = continuable(pk, arg);

	return pass == 0 ? c == 2 : c >= 1;
}

int spool_open(struct spool *sp, const char *gdir, const struct spool_opts *o,
	       char *err, size_t errlen)
{
	int state_ok;

	spool_init(sp);
	sp->o = *o;
	if (sp->o.max_bytes < SPOOL_MIN_BYTES)
		sp->o.max_bytes = SPOOL_MIN_BYTES;
	/* Small segments, so that a full spool or disk drops little at a
	 * time and the oldest first. */
	sp->seg_bytes = sp->o.max_bytes / 16;
	if (sp->seg_bytes > 8 * 1024 * 1024)
		sp->seg_bytes = 8 * 1024 * 1024;
	sp->writable = 1;
	if (lb_init(&sp->lb, o->max_line) != 0) {
		errf(err, errlen, "bad maximum line length %zu", o->max_line);
		goto fail;
	}
	sp->obuf = malloc(lb_out_max(SPOOL_CHUNK_MAX));
	if (!sp->obuf) {
		errf(err, errlen, "out of memory");
		goto fail;
	}
	if (mkdir_p(gdir) != 0) {
		errf(err, errlen, "%s: %s", gdir, strerror(errno));
		goto fail;
	}
	clean_leftovers(gdir);
	if (!lock_any(sp, gdir, 0, want_writer, o, 0) &&
	    !lock_any(sp, gdir, 0, want_writer, o, 1) &&
	    create_stream(sp, gdir, err, errlen) != 0)
		goto fail;
	if (open_locked(sp, &state_ok, err, errlen) != 0)
		goto fail;
	lb_resume(&sp->lb, sp->tail);
	/* Before anything is appended: on disk, this boot writes it and has
	 * not closed it cleanly. */
	sp->flags &= (uint8_t)~ST_F_CLEAN;
	sp->boot_id = o->boot_id;
	sp->input_dev = o->input_dev;
	sp->input_ino = o->input_ino;
	if (state_write(sp) != 0 || fdatasync(sp->state_fd) != 0) {
		errf(err, errlen, "%s/state: cannot write: %s", sp->dir, strerror(errno));
		goto fail;
	}
	sync_dir(sp->dir);
	return 0;
fail:
	release(sp);
	return -1;
}

static int want_adopt(const struct peek *pk, const void *arg, int pass)
{
	int64_t grace_s = *(const int64_t *)arg;

	(void)pass;
	return !pk->tail || pk->tail_mtime + grace_s <= time(NULL);
}

int spool_adopt(struct spool *sp, const char *gdir, uint64_t except,
		int64_t grace_s, size_t max_line, char *err, size_t errlen)
{
	int state_ok;

	spool_init(sp);
	if (!lock_any(sp, gdir, except, want_adopt, &grace_s, 0)) {
		release(sp);
		return 0;
	}
	if (open_locked(sp, &state_ok, err, errlen) != 0) {
		release(sp);
		return -1;
	}
	sp->o.max_bytes = UINT64_MAX;
	sp->o.max_line = max_line;
	if (sp->tail && sp->nsegs && !sp->hole_open) {
		/* The writer is gone for good: end its last line, visibly. */
		struct spool_seg *last = &sp->segs[sp->nsegs - 1];
		uint64_t keep = sp->tail, at;
		size_t mlen = strlen(INCOMPLETE_MARK);

		if (max_line > LB_MARKER_MAX && keep > max_line - LB_MARKER_MAX)
			keep = max_line - LB_MARKER_MAX;
		at = last->bytes + keep;
		if (ftruncate(last->fd, (off_t)at) == 0 &&
		    pwrite(last->fd, INCOMPLETE_MARK, mlen, (off_t)at) == (ssize_t)mlen) {
			last->bytes = at + mlen;
			last->lines++;
			last->dirty = 1;
			sp->bytes += keep + mlen;
			sp->tail = 0;
			sp->next_seq = seg_end(last);
			sp->cut++;
			sp->state_dirty = 1;
			sp->sync_due = 1;
		}
	}
	if (sp->state_dirty)
		state_write(sp);
	return 1;
}

/* Syncs what is dirty, under the lock (for close and shutdown). */
static void sync_all_locked(struct spool *sp)
{
	for (size_t i = 0; i < sp->nsegs; i++)
		if (sp->segs[i].dirty) {
			fdatasync(sp->segs[i].fd);
			sp->segs[i].dirty = 0;
		}
	if (sp->dir_dirty) {
		sync_dir(sp->dir);
		sp->dir_dirty = 0;
	}
}

static void shutdown_locked(struct spool *sp)
{
	if (sp->state_fd < 0)
		return;
	sync_all_locked(sp);
	if (sp->writable)
		sp->flags |= ST_F_CLEAN;
	if (sp->writable || sp->state_dirty) {
		state_write(sp);
		fdatasync(sp->state_fd);
	}
}

void spool_shutdown(struct spool *sp)
{
	pthread_mutex_lock(&sp->mu);
	shutdown_locked(sp);
	pthread_mutex_unlock(&sp->mu);
}

void spool_close(struct spool *sp)
{
	pthread_mutex_lock(&sp->mu);
	shutdown_locked(sp);
	pthread_mutex_unlock(&sp->mu);
	release(sp);
}

int spool_remove(struct spool *sp)
{
	char gdir[SPOOL_PATH_MAX], del[SPOOL_PATH_MAX + 32];
	int ret = 0;

	pthread_mutex_lock(&sp->mu);
	parent_of(sp->dir, gdir, sizeof(gdir));
	snprintf(del, sizeof(del), "%s/.del-%016" PRIx64, gdir, sp->stream_id);
	/* Out of sight first: a kill from here on leaves a .del- directory
	 * that the next spool_open() removes, never a half-removed stream. */
	if (rename(sp->dir, del) != 0) {
		ret = -1;
	} else {
		sync_dir(gdir);
		release_files(sp);
		ret = remove_flat_dir(del);
		sync_dir(gdir);
	}
	pthread_mutex_unlock(&sp->mu);
	release(sp);
	return ret;
}

/* ---- Appending ---- */

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

/* Starts a new segment at next_seq (after the hole, if one is open).
 * An empty last segment is reused or, before a hole, replaced. Returns
 * 0 or -errno. */
static int seg_new(struct spool *sp)
{
	char path[SPOOL_PATH_MAX + 32];
	struct spool_seg s;
	int r;

	if (sp->nsegs) {
		struct spool_seg *last = &sp->segs[sp->nsegs - 1];

		if (last->lines == 0 && sp->tail == 0 && last->bytes == 0) {
			if (last->first_seq == sp->next_seq && !sp->hole_open)
				return 0;
			seg_delete(sp, sp->nsegs - 1);
		}
	}
	memset(&s, 0, sizeof(s));
	s.first_seq = sp->next_seq;
	s.after_hole = (uint8_t)sp->hole_open;
	s.verified = 1;
	seg_path(sp, &s, path, sizeof(path));
	s.fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0640);
	if (s.fd < 0)
		return -errno;
	if ((r = seg_push(sp, &s)) != 0) {
		close(s.fd);
		unlink(path);
		return r;
	}
	if (sp->nsegs > 1)
		sp->segs[sp->nsegs - 2].verified = 1;
	if (sp->hole_open) {
		sp->hole_open = 0;
		sp->state_dirty = 1;
	}
	/* The new name and the previous segment's data go to disk soon. */
	sp->dir_dirty = 1;
	sp->sync_due = 1;
	return 0;
}

/* Drops the oldest segment (never the one being written); adds its
 * unacknowledged lines to the counters, on disk before the delete. */
static void drop_oldest(struct spool *sp, uint64_t *dropped_now)
{
	uint64_t n = seg_unacked(sp, 0);

	sp->dropped += n;
	*dropped_now += n;
	state_write(sp);
	seg_delete(sp, 0);
}

/* The disk is full and only the segment being written is left: starts
 * a new one with the tail, so that the old one's lines (the oldest) can
 * be dropped. Returns 0 or -errno. */
static int rotate_for_space(struct spool *sp, uint64_t *dropped_now)
{
	struct spool_seg *old = &sp->segs[sp->nsegs - 1];
	uint64_t tail = sp->tail, from = old->bytes;
	char *buf = NULL;
	int r;

	if (old->lines == 0)
		return -ENOSPC;
	if (tail) {
		buf = malloc(tail);
		if (!buf || pread(old->fd, buf, tail, (off_t)from) != (ssize_t)tail) {
			free(buf);
			return -ENOSPC;
		}
	}
	sp->tail = 0;
	if ((r = seg_new(sp)) != 0) {
		sp->tail = tail;
		free(buf);
		return r;
	}
	if (tail && pwrite_all(sp->segs[sp->nsegs - 1].fd, buf, tail, 0) < 0) {
		/* Undo: the old segment keeps its tail. */
		seg_delete(sp, sp->nsegs - 1);
		sp->tail = tail;
		free(buf);
		return -ENOSPC;
	}
	free(buf);
	sp->tail = tail;
	drop_oldest(sp, dropped_now);
	return 0;
}

static uint32_t count_nl(const char *p, size_t n)
{
	uint32_t c = 0;

	for (const char *e = p + n; (p = memchr(p, '\n', (size_t)(e - p))); p++)
		c++;
	return c;
}

/* Records that n bytes (c lines) were written at the end of the last
 * segment. */
static void took(struct spool *sp, const char *p, size_t n, uint32_t c)
{
	struct spool_seg *last = &sp->segs[sp->nsegs - 1];

	if (c) {
		const char *nl = memrchr(p, '\n', n);
		uint64_t whole = sp->tail + (uint64_t)(nl - p) + 1;

		last->bytes += whole;
		sp->bytes += whole;
		sp->tail = n - (size_t)(nl - p) - 1;
		last->lines += c;
		sp->next_seq += c;
	} else {
		sp->tail += n;
	}
	last->dirty = 1;
	sp->state_dirty = 1;
}

/* A write failed for good: the current line and the lines of out (from
 * p) are lost. They get their numbers and are counted, so writers see
 * the hole; the rest of an unfinished line is skipped as it comes. */
static void lose(struct spool *sp, const char *p, size_t n, struct spool_io *io)
{
	uint32_t c = count_nl(p, n);

	if (sp->tail && sp->nsegs) {
		struct spool_seg *last = &sp->segs[sp->nsegs - 1];

		if (ftruncate(last->fd, (off_t)last->bytes) == 0)
			sp->tail = 0;
	}
	sp->next_seq += c;
	sp->dropped += c;
	io->dropped += c;
	sp->losing = n == 0 || p[n - 1] != '\n';
	if (sp->losing)
		lb_resume(&sp->lb, 0);
	if (c || sp->losing)
		sp->hole_open = 1;
	state_write(sp);
}

/* How much of n bytes at q goes into the last segment: all of it, or, if
 * that fills the segment, up to the first '\n' from where it is full, so
 * that segments change only between lines. */
static size_t seg_piece(const struct spool *sp, const char *q, size_t n)
{
	const struct spool_seg *last = &sp->segs[sp->nsegs - 1];
	uint64_t size = last->bytes + sp->tail;
	size_t room = size < sp->seg_bytes ? (size_t)(sp->seg_bytes - size) : 0;
	const char *nl;

	if (n <= room)
		return n;
	room = room ? room - 1 : 0;
	nl = memchr(q + room, '\n', n - room);
	return nl ? (size_t)(nl - q) + 1 : n;
}

/* The bytes of the first half of the lines of p (up to and including
 * the ceil(k/2)-th '\n' of k), if that leaves something; else 0. */
static size_t half_lines(const char *p, size_t n)
{
	uint32_t k = count_nl(p, n), want = (k + 1) / 2, seen = 0;

	for (const char *e = p + n, *q = p; (q = memchr(q, '\n', (size_t)(e - q))); q++)
		if (++seen == want)
			return q + 1 < e ? (size_t)(q + 1 - p) : 0;
	return 0;
}

/* Writes filter output: segments change only after a '\n'. */
static void write_out(struct spool *sp, const char *out, size_t len,
		      struct spool_io *io)
{
	const char *q = out, *end = out + len;

	while (q < end) {
		struct spool_seg *last;
		size_t piece = (size_t)(end - q);
		ssize_t w;
		int r;

		if (!sp->nsegs || sp->hole_open ||
		    (sp->tail == 0 && sp->segs[sp->nsegs - 1].bytes >= sp->seg_bytes)) {
			if ((r = seg_new(sp)) != 0) {
				io->err = r;
				lose(sp, q, (size_t)(end - q), io);
				return;
			}
		}
		last = &sp->segs[sp->nsegs - 1];
		piece = seg_piece(sp, q, piece);
		while (sp->bytes + sp->tail + piece > sp->o.max_bytes && sp->nsegs > 1)
			drop_oldest(sp, &io->dropped);
		last = &sp->segs[sp->nsegs - 1];
		w = pwrite_all(last->fd, q, piece, last->bytes + sp->tail);
		if (w < 0) {
			/* Take back a partial write so the segment stays as
			 * counted. */
			r = ftruncate(last->fd, (off_t)(last->bytes + sp->tail));
			(void)r;
			if (w == -ENOSPC && sp->nsegs > 1) {
				drop_oldest(sp, &io->dropped);
				continue;
			}
			if (w == -ENOSPC && rotate_for_space(sp, &io->dropped) == 0)
				continue;
			if (w == -ENOSPC) {
				/* Nothing older is left: the oldest lines of
				 * this very output go, half at a time. */
				size_t half = half_lines(q, (size_t)(end - q));

				if (half) {
					lose(sp, q, half, io);
					q += half;
					continue;
				}
			}
			io->err = (int)w;
			lose(sp, q, (size_t)(end - q), io);
			return;
		}
		took(sp, q, piece, count_nl(q, piece));
		q += piece;
	}
}

/* Skips input while a lost line goes on; returns the bytes consumed. */
static size_t skip_lost(struct spool *sp, const char *p, size_t len,
			struct spool_io *io)
{
	const char *nl = memchr(p, '\n', len);

	if (!nl)
		return len;
	sp->losing = 0;
	sp->next_seq++;
	sp->dropped++;
	io->dropped++;
	sp->hole_open = 1;
	sp->state_dirty = 1;
	return (size_t)(nl - p) + 1;
}

static void append_locked(struct spool *sp, const char *data, size_t len,
			  struct spool_io *io)
{
	uint64_t retract = 0;
	uint32_t lines = 0, cut = 0;
	size_t o;

	if (sp->losing) {
		size_t k = skip_lost(sp, data, len, io);

		data += k;
		len -= k;
		if (len == 0)
			return;
	}
	o = lb_feed(&sp->lb, data, len, sp->obuf, &retract, &lines, &cut);
	if (retract && sp->nsegs) {
		struct spool_seg *last = &sp->segs[sp->nsegs - 1];

		if (ftruncate(last->fd, (off_t)(last->bytes + sp->tail - retract)) == 0)
			sp->tail -= retract;
	}
	sp->cut += cut;
	io->cut += cut;
	write_out(sp, sp->obuf, o, io);
	io->lines += lines;
}

int spool_append(struct spool *sp, const char *data, size_t len,
		 struct spool_io *io)
{
	memset(io, 0, sizeof(*io));
	if (len > SPOOL_CHUNK_MAX)
		return -EINVAL;
	pthread_mutex_lock(&sp->mu);
	if (!sp->writable)
		io->err = -EBADF;
	else
		append_locked(sp, data, len, io);
	pthread_mutex_unlock(&sp->mu);
	return io->err;
}

/* Copies (tee) up to cap bytes waiting in the pipe fd into buf without
 * taking them, and returns the offset of the first '\n' at or after
 * `from`; -1 if there is none, -2 if the pipe cannot be looked at. */
static ssize_t peek_newline(struct spool *sp, int fd, char *buf, size_t cap,
			    size_t from)
{
	ssize_t m, r;
	char *nl;

	if (sp->peek[0] < 0) {
		if (pipe2(sp->peek, O_CLOEXEC | O_NONBLOCK) != 0)
			return -2;
		fcntl(sp->peek[1], F_SETPIPE_SZ, SPOOL_CHUNK_MAX);
	}
	m = tee(fd, sp->peek[1], cap, SPLICE_F_NONBLOCK);
	if (m < 0)
		return errno == EAGAIN ? -1 : -2;
	r = read(sp->peek[0], buf, (size_t)m);
	if (r != m)
		return -2;
	if ((size_t)m <= from)
		return -1;
	nl = memchr(buf + from, '\n', (size_t)m - from);
	return nl ? nl - buf : -1;
}

ssize_t spool_splice(struct spool *sp, int fd, char *buf, size_t cap,
		     struct spool_io *io)
{
	struct spool_seg *last;
	loff_t off, start;
	ssize_t n, r;
	int wfd;

	memset(io, 0, sizeof(*io));
	if (cap > SPOOL_CHUNK_MAX)
		cap = SPOOL_CHUNK_MAX;
	pthread_mutex_lock(&sp->mu);
	if (!sp->writable || sp->no_splice || sp->losing || sp->lb.cutting ||
	    sp->hole_open)
		goto use_read;
	if (!sp->nsegs ||
	    (sp->tail == 0 && sp->segs[sp->nsegs - 1].bytes >= sp->seg_bytes)) {
		if (seg_new(sp) != 0)
			goto use_read;
	}
	last = &sp->segs[sp->nsegs - 1];
	{
		uint64_t size = last->bytes + sp->tail;
		size_t room = size < sp->seg_bytes ? (size_t)(sp->seg_bytes - size) : 0;

		if (room < cap) {
			/* This chunk fills the segment: take it only up to the
			 * end of a line, found by looking at the pipe's data
			 * without consuming it. */
			ssize_t k = peek_newline(sp, fd, buf, cap, room ? room - 1 : 0);

			if (k == -2)
				goto use_read;
			if (k >= 0)
				cap = (size_t)k + 1;
		}
	}
	wfd = last->fd;
	start = off = (loff_t)(last->bytes + sp->tail);
	/* The reader is the only appender and the last segment is never
	 * deleted under it: splice outside the lock, so a slow disk does
	 * not hold up the sender. */
	pthread_mutex_unlock(&sp->mu);
	n = splice(fd, NULL, wfd, &off, cap, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
	if (n < 0) {
		int e = errno;

		if (e == EAGAIN)
			return -EAGAIN;
		pthread_mutex_lock(&sp->mu);
		if (e == EINVAL || e == ENOSYS || e == EBADF || e == ESPIPE)
			sp->no_splice = 1;
		goto use_read;
	}
	if (n == 0)
		return 0;
	r = pread(wfd, buf, (size_t)n, start);
	pthread_mutex_lock(&sp->mu);
	if (r != n) {
		/* Cannot happen short of an I/O error: the bytes are in the
		 * page cache. They cannot be counted: take them back. */
		r = ftruncate(wfd, start);
		(void)r;
		io->err = -EIO;
		pthread_mutex_unlock(&sp->mu);
		return n;
	}
	if (lb_fits(&sp->lb, buf, (size_t)n)) {
		uint32_t lines = 0;

		lb_advance(&sp->lb, buf, (size_t)n, &lines);
		took(sp, buf, (size_t)n, lines);
		io->lines = lines;
		while (sp->bytes + sp->tail > sp->o.max_bytes && sp->nsegs > 1)
			drop_oldest(sp, &io->dropped);
	} else {
		/* A line to cut: the bytes are in buf; put them through the
		 * filter instead. */
		r = ftruncate(wfd, start);
		(void)r;
		append_locked(sp, buf, (size_t)n, io);
	}
	pthread_mutex_unlock(&sp->mu);
	return n;
use_read:
	pthread_mutex_unlock(&sp->mu);
	return -ENOTSUP;
}

int spool_finish(struct spool *sp, struct spool_io *io)
{
	char out[LB_MARKER_MAX + 2];
	uint32_t lines = 0, cut = 0;
	size_t n;

	memset(io, 0, sizeof(*io));
	pthread_mutex_lock(&sp->mu);
	if (sp->losing) {
		sp->losing = 0;
		sp->next_seq++;
		sp->dropped++;
		io->dropped++;
		sp->hole_open = 1;
		sp->state_dirty = 1;
	} else if (sp->writable) {
		n = lb_finish(&sp->lb, out, &lines, &cut);
		sp->cut += cut;
		io->cut = cut;
		if (n)
			write_out(sp, out, n, io);
		io->lines = lines;
	}
	pthread_mutex_unlock(&sp->mu);
	return io->err;
}

/* ---- Reading ---- */

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

/* Segment i turned out to hold only `lines` whole lines, ending at byte
 * `bytes`: the lines its successor implied are missing. Counts them as
 * dropped unless the spool made that hole itself. */
static void seg_short(struct spool *sp, size_t i, uint64_t lines, uint64_t bytes)
{
	struct spool_seg *s = &sp->segs[i];
	uint64_t missing = s->lines - lines;

	sp->bytes -= s->bytes - bytes;
	s->lines = lines;
	s->bytes = bytes;
	s->verified = 1;
	if (missing && i + 1 < sp->nsegs && !sp->segs[i + 1].after_hole) {
		struct spool_seg *next = &sp->segs[i + 1];
		char from[SPOOL_PATH_MAX + 32], to[SPOOL_PATH_MAX + 32];
		uint64_t lo = s->first_seq + lines;

		/* Acknowledged lines are not lost. */
		if (sp->acked + 1 > lo)
			missing = sp->acked + 1 >= lo + missing ? 0 : lo + missing - sp->acked - 1;
		sp->dropped += missing;
		state_write(sp);
		/* Counted once: the next segment's name now says so. */
		seg_path(sp, next, from, sizeof(from));
		next->after_hole = 1;
		seg_path(sp, next, to, sizeof(to));
		if (rename(from, to) != 0)
			next->after_hole = 0;
		sp->dir_dirty = 1;
	}
}

/* Index of the first segment that holds seq or follows it. */
static size_t seg_at(const struct spool *sp, uint64_t seq)
{
	size_t i = 0;

	while (i < sp->nsegs && seq >= seg_end(&sp->segs[i]))
		i++;
	return i;
}

static int seek_locked(struct spool *sp, struct spool_cursor *cur,
		       uint64_t seq, const struct spool_cursor *from)
{
	struct spool_seg *s;
	uint64_t at, off;
	size_t i;
	char *buf;
	int ret = 0;

again:
	if (seq < base_locked(sp))
		seq = base_locked(sp);
	i = seg_at(sp, seq);
	if (i == sp->nsegs) {
		/* At the end (or past a hole at the end). */
		if (sp->nsegs && seg_end(&sp->segs[sp->nsegs - 1]) == sp->next_seq) {
			s = &sp->segs[sp->nsegs - 1];
			cur->seq = sp->next_seq;
			cur->seg_first = s->first_seq;
			cur->off = s->bytes;
		} else {
			cur->seq = cur->seg_first = sp->next_seq;
			cur->off = 0;
		}
		return 0;
	}
	s = &sp->segs[i];
	if (seq < s->first_seq)
		seq = s->first_seq; /* in a hole: the next line held */
	at = s->first_seq;
	off = 0;
	if (from && from->seg_first == s->first_seq && from->seq <= seq &&
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
		uint64_t limit = s->verified ? s->bytes : UINT64_MAX;
		size_t want = SCAN_BLOCK;
		ssize_t r;
		char *p = buf, *e;

		if (limit - off < want)
			want = (size_t)(limit - off);
		r = want ? pread(s->fd, buf, want, (off_t)off) : 0;
		if (r < 0) {
			ret = -errno;
			break;
		}
		if (r == 0) {
			/* Fewer lines than implied: lines missing. */
			seg_short(sp, i, at - s->first_seq, off);
			free(buf);
			from = NULL;
			goto again;
		}
		e = buf + r;
		while (at < seq && p < e) {
			char *nl = memchr(p, '\n', (size_t)(e - p));

			if (!nl)
				break;
			at++;
			p = nl + 1;
		}
		if (p == buf && r < (ssize_t)want) {
			/* Only a torn line before the end of the file. */
			seg_short(sp, i, at - s->first_seq, off);
			free(buf);
			from = NULL;
			goto again;
		}
		if (p == buf) {
			ret = -EMSGSIZE;
			break;
		}
		off += (uint64_t)(p - buf);
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

/* Is cur a valid place in the spool? */
static long cursor_seg(const struct spool *sp, const struct spool_cursor *cur)
{
	long i = seg_find(sp, cur->seg_first);

	if (i < 0 || cur->seq < sp->segs[i].first_seq || cur->seq > seg_end(&sp->segs[i]))
		return -1;
	return i;
}

ssize_t spool_read(struct spool *sp, struct spool_cursor *cur, char *buf,
		   size_t cap, uint64_t *first, uint32_t *lines)
{
	struct spool_seg *s;
	ssize_t ret = 0, r;
	uint64_t avail, room;
	uint32_t n = 0;
	long i;
	char *p, *e, *end_ok = NULL;

	*lines = 0;
	pthread_mutex_lock(&sp->mu);
again:
	i = cursor_seg(sp, cur);
	if (i < 0) {
		ret = seek_locked(sp, cur, cur->seq, NULL);
		if (ret)
			goto out;
		i = cursor_seg(sp, cur);
		if (i < 0)
			goto out; /* at the end past a hole */
	}
	s = &sp->segs[i];
	if (cur->seq >= seg_end(s)) {
		/* At the end of a segment: on to the next (across a hole). */
		if ((size_t)i + 1 >= sp->nsegs)
			goto out;
		s = &sp->segs[i + 1];
		cur->seq = s->first_seq;
		cur->seg_first = s->first_seq;
		cur->off = 0;
	}
	avail = s->bytes > cur->off ? s->bytes - cur->off : 0;
	if (avail > cap)
		avail = cap;
	r = avail ? pread(s->fd, buf, avail, (off_t)cur->off) : 0;
	if (r < 0) {
		ret = -errno;
		goto out;
	}
	room = seg_end(s) - cur->seq;
	for (p = buf, e = buf + r; n < room && p < e; p++) {
		p = memchr(p, '\n', (size_t)(e - p));
		if (!p)
			break;
		n++;
		end_ok = p + 1;
	}
	if (n == 0) {
		if ((uint64_t)r == avail && cur->off + (uint64_t)r >= s->bytes &&
		    !(s == &sp->segs[sp->nsegs - 1] && s->verified)) {
			/* The end of a segment that implied more lines. */
			seg_short(sp, (size_t)(s - sp->segs), cur->seq - s->first_seq, cur->off);
			goto again;
		}
		ret = r == 0 ? 0 : -EMSGSIZE;
		goto out;
	}
	if (!s->verified && n < room && (uint64_t)r == avail &&
	    cur->off + (uint64_t)r >= s->bytes) {
		/* Whole file read and still short: mark what it holds. */
		uint64_t got = cur->seq + n - s->first_seq;

		seg_short(sp, (size_t)(s - sp->segs), got, cur->off + (uint64_t)(end_ok - buf));
	}
	*first = cur->seq;
	*lines = n;
	cur->seq += n;
	cur->off += (uint64_t)(end_ok - buf);
	ret = end_ok - buf;
out:
	pthread_mutex_unlock(&sp->mu);
	return ret;
}

void spool_pending(struct spool *sp, const struct spool_cursor *cur,
		   uint64_t *lines, uint64_t *bytes)
{
	uint64_t l = 0, b = 0;
	long i;

	pthread_mutex_lock(&sp->mu);
	i = cursor_seg(sp, cur);
	if (i < 0) {
		/* Not placed yet: everything from the next line held. */
		for (size_t k = seg_at(sp, cur->seq); k < sp->nsegs; k++) {
			const struct spool_seg *s = &sp->segs[k];
			uint64_t from = cur->seq > s->first_seq ? cur->seq : s->first_seq;

			l += seg_end(s) - from;
			b += s->bytes;
		}
	} else {
		const struct spool_seg *s = &sp->segs[i];

		l = seg_end(s) - cur->seq;
		b = s->bytes > cur->off ? s->bytes - cur->off : 0;
		for (size_t k = (size_t)i + 1; k < sp->nsegs; k++) {
			l += sp->segs[k].lines;
			b += sp->segs[k].bytes;
		}
	}
	*lines = l;
	*bytes = b;
	pthread_mutex_unlock(&sp->mu);
}

uint64_t spool_run_base(struct spool *sp, uint64_t seq)
{
	size_t i;
	uint64_t base;

	pthread_mutex_lock(&sp->mu);
	i = seg_at(sp, seq);
	if (i == sp->nsegs || seq < sp->segs[i].first_seq) {
		base = seq;
	} else {
		while (i > 0 && seg_end(&sp->segs[i - 1]) == sp->segs[i].first_seq)
			i--;
		base = sp->segs[i].first_seq;
	}
	pthread_mutex_unlock(&sp->mu);
	return base;
}

uint64_t spool_held_below(struct spool *sp, uint64_t run_base)
{
	uint64_t held = 0;

	pthread_mutex_lock(&sp->mu);
	for (size_t i = 0; i < sp->nsegs && sp->segs[i].first_seq < run_base; i++) {
		uint64_t end = seg_end(&sp->segs[i]);

		if (sp->segs[i].lines && end <= run_base)
			held = end - 1;
	}
	pthread_mutex_unlock(&sp->mu);
	return held;
}

int spool_ack(struct spool *sp, uint64_t acked)
{
	pthread_mutex_lock(&sp->mu);
	if (acked >= sp->next_seq)
		acked = sp->next_seq - 1;
	if (acked > sp->acked) {
		sp->acked = acked;
		sp->state_dirty = 1;
		if (sp->nsegs > 1 && seg_end(&sp->segs[0]) <= acked + 1) {
			/* On disk before the lines go, so that a kill in
			 * between does not make them look dropped. */
			state_write(sp);
			while (sp->nsegs > 1 && seg_end(&sp->segs[0]) <= acked + 1)
				seg_delete(sp, 0);
		}
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

int spool_sync_due(struct spool *sp)
{
	int due;

	pthread_mutex_lock(&sp->mu);
	due = sp->sync_due;
	pthread_mutex_unlock(&sp->mu);
	return due;
}

int spool_sync(struct spool *sp)
{
	int fds[64], nfd = 0, ret = 0, dir;
	char path[SPOOL_PATH_MAX];

	pthread_mutex_lock(&sp->mu);
	for (size_t i = 0; i < sp->nsegs && nfd < 63; i++)
		if (sp->segs[i].dirty) {
			int fd = dup(sp->segs[i].fd);

			if (fd >= 0) {
				fds[nfd++] = fd;
				sp->segs[i].dirty = 0;
			}
		}
	if (sp->state_fd >= 0 && nfd < 64) {
		int fd = dup(sp->state_fd);

		if (fd >= 0)
			fds[nfd++] = fd;
	}
	dir = sp->dir_dirty;
	sp->dir_dirty = 0;
	sp->sync_due = 0;
	memcpy(path, sp->dir, sizeof(path));
	pthread_mutex_unlock(&sp->mu);
	/* Outside the lock: a slow disk must not hold up appends. */
	for (int i = 0; i < nfd; i++) {
		if (fdatasync(fds[i]) != 0)
			ret = -errno;
		close(fds[i]);
	}
	if (dir && sync_dir(path) != 0)
		ret = -EIO;
	return ret;
}

void spool_stats(struct spool *sp, struct spool_stats *st)
{
	uint64_t unacked = 0;

	pthread_mutex_lock(&sp->mu);
	for (size_t i = 0; i < sp->nsegs; i++)
		unacked += seg_unacked(sp, i);
	st->stream_id = sp->stream_id;
	st->base = base_locked(sp);
	st->next_seq = sp->next_seq;
	st->last_held = 0;
	for (size_t i = sp->nsegs; i-- > 0;)
		if (sp->segs[i].lines) {
			st->last_held = seg_end(&sp->segs[i]) - 1;
			break;
		}
	st->acked = sp->acked;
	st->dropped = sp->dropped;
	st->dropped_open = sp->dropped_open;
	st->cut = sp->cut;
	st->bytes = sp->bytes + sp->tail;
	st->unacked = unacked;
	st->tail = sp->tail;
	pthread_mutex_unlock(&sp->mu);
}
