/*
 * spool.c - chorus-log's crash-safe spool (see spool.h for the layout and
 * the guarantees).
 */
#include "log/spool_int.h"

#include <ctype.h>
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

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "proto/be.h"

/* State: two slots written alternately, each with a CRC, so a torn write
 * leaves the other. Slot layout (big-endian) of a stream of one group,
 * version 2, 128-byte slots:
 *   0 magic, 4 version, 5 flags, 8 generation, 16 stream id, 24 acked,
 *   32 dropped, 40 cut, 48 next_seq, 56 boot id, 64 input device,
 *   72 input inode, 80 counted-to (the lines below it were counted as
 *   dropped; 0 from versions before it), 120 CRC-32 of bytes 0..119.
 * Of a stream of several groups (it has a groups file), version 3,
 * 512-byte slots: the same fields up to byte 79 (acked: the lowest of
 * the groups', dropped: their sum), at 6 the number of groups n, at
 * 128 + 16 g for each group g < n its acked and its dropped, and at 508
 * the CRC-32 of bytes 0..507. */
#define STATE_SLOT 128
#define STATE_CRC_AT 120
#define STATE_SLOT3 512
#define STATE_CRC3_AT 508
#define STATE_GROUPS_AT 128
#define STATE_MAGIC 0x434c5353u /* "CLSS" */
#define STATE_VERSION 2
#define STATE_VERSION3 3
/* The groups file: this line, then one group name a line. */
#define GROUPS_MAGIC "chorus-log groups 1\n"
#define GROUPS_FILE_MAX (sizeof(GROUPS_MAGIC) + SPOOL_GROUPS_MAX * (SPOOL_GROUP_NAME_MAX + 1))
#define SCAN_BLOCK (256 * 1024)
#define NAME_COMPONENT_MAX 200

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
	uint64_t gen, cut, next_seq, boot_id, input_dev, input_ino, counted_to;
	unsigned ngroups;
	uint64_t acked[SPOOL_GROUPS_MAX], dropped[SPOOL_GROUPS_MAX];
};

/* Encodes the state into slot (STATE_SLOT3 bytes); returns its size. */
static size_t state_encode(const struct spool *sp, uint64_t gen, uint8_t *slot)
{
	size_t size = sp->groups_file ? STATE_SLOT3 : STATE_SLOT;
	size_t crc_at = sp->groups_file ? STATE_CRC3_AT : STATE_CRC_AT;
	uint64_t dropped = 0;

	memset(slot, 0, size);
	for (unsigned g = 0; g < sp->ngroups; g++) {
		dropped += sp->grp[g].dropped;
		if (sp->groups_file) {
			be_put64(slot + STATE_GROUPS_AT + 16 * g, sp->grp[g].acked);
			be_put64(slot + STATE_GROUPS_AT + 16 * g + 8, sp->grp[g].dropped);
		}
	}
	be_put32(slot, STATE_MAGIC);
	slot[4] = sp->groups_file ? STATE_VERSION3 : STATE_VERSION;
	slot[5] = sp->flags;
	if (sp->groups_file)
		slot[6] = (uint8_t)sp->ngroups;
	be_put64(slot + 8, gen);
	be_put64(slot + 16, sp->stream_id);
	be_put64(slot + 24, sp->acked);
	be_put64(slot + 32, dropped);
	be_put64(slot + 40, sp->cut);
	be_put64(slot + 48, sp->next_seq);
	be_put64(slot + 56, sp->boot_id);
	be_put64(slot + 64, sp->input_dev);
	be_put64(slot + 72, sp->input_ino);
	be_put64(slot + 80, sp->counted_to);
	be_put32(slot + crc_at, crc32_buf(slot, crc_at));
	return size;
}

static int state_write(struct spool *sp)
{
	uint8_t slot[STATE_SLOT3];
	uint64_t gen = sp->state_gen + 1;
	size_t size;
	ssize_t w;

	if (sp->state_fd < 0)
		return -EBADF;
	sp->flags = (uint8_t)((sp->flags & ~(ST_F_HOLE | ST_F_SKIP | ST_F_SKIP_NL)) |
			      (sp->hole_open ? ST_F_HOLE : 0) |
			      (sp->writable && sp->lb.mode == LB_SKIP ? ST_F_SKIP : 0) |
			      (sp->writable && sp->skip_nl ? ST_F_SKIP_NL : 0));
	size = state_encode(sp, gen, slot);
	w = pwrite(sp->state_fd, slot, size, (off_t)((gen % 2) * size));
	if (w != (ssize_t)size)
		return w < 0 ? -errno : -EIO;
	sp->state_gen = gen;
	sp->state_dirty = 0;
	return 0;
}

/* Reads the newest valid slot of the state file fd for stream id into
 * *r: of version 2 (a stream of one group) or, with `several`, of
 * version 3. Returns 0, or -1 if neither slot is valid. */
static int state_read(int fd, uint64_t id, int several, struct state_rec *r)
{
	_Static_assert(STATE_GROUPS_AT + 16 * SPOOL_GROUPS_MAX <= STATE_CRC3_AT,
		      "the groups' records fit in a slot");
	size_t size = several ? STATE_SLOT3 : STATE_SLOT;
	size_t crc_at = several ? STATE_CRC3_AT : STATE_CRC_AT;
	uint8_t buf[2 * STATE_SLOT3];
	ssize_t n = pread(fd, buf, 2 * size, 0);
	int found = -1;

	for (int i = 0; n > 0 && i < 2; i++) {
		const uint8_t *s = buf + (size_t)i * size;
		uint64_t gen;
		unsigned ng = several ? s[6] : 1;

		if (n < (ssize_t)((size_t)(i + 1) * size))
			break;
		if (be_get32(s) != STATE_MAGIC ||
		    s[4] != (several ? STATE_VERSION3 : STATE_VERSION) ||
		    be_get32(s + crc_at) != crc32_buf(s, crc_at) ||
		    be_get64(s + 16) != id || ng < 1 || ng > SPOOL_GROUPS_MAX)
			continue;
		gen = be_get64(s + 8);
		if (found >= 0 && gen <= r->gen)
			continue;
		found = i;
		r->gen = gen;
		r->flags = s[5];
		r->cut = be_get64(s + 40);
		r->next_seq = be_get64(s + 48);
		r->boot_id = be_get64(s + 56);
		r->input_dev = be_get64(s + 64);
		r->input_ino = be_get64(s + 72);
		r->counted_to = be_get64(s + 80);
		r->ngroups = ng;
		if (!several) {
			r->acked[0] = be_get64(s + 24);
			r->dropped[0] = be_get64(s + 32);
		}
		for (unsigned g = 0; several && g < ng; g++) {
			r->acked[g] = be_get64(s + STATE_GROUPS_AT + 16 * g);
			r->dropped[g] = be_get64(s + STATE_GROUPS_AT + 16 * g + 8);
		}
	}
	return found >= 0 ? 0 : -1;
}

/* ---- Groups ---- */

/* The groups of a stream, as its groups file names them. */
struct grouplist {
	unsigned n;
	char name[SPOOL_GROUPS_MAX][SPOOL_GROUP_NAME_MAX + 1];
};

static int group_name_ok(const char *g)
{
	size_t n = strlen(g);

	if (n == 0 || n > SPOOL_GROUP_NAME_MAX)
		return 0;
	for (; *g; g++)
		if ((unsigned char)*g < 0x21 || (unsigned char)*g > 0x7e)
			return 0;
	return 1;
}

/* Checks a list of groups for a stream: 1 to SPOOL_GROUPS_MAX good names,
 * no two alike. Returns 0 or -1. */
static int groups_ok(const char *const *groups, unsigned n)
{
	if (n > SPOOL_GROUPS_MAX)
		return -1;
	for (unsigned g = 0; g < n; g++) {
		if (!group_name_ok(groups[g]))
			return -1;
		for (unsigned h = 0; h < g; h++)
			if (strcmp(groups[g], groups[h]) == 0)
				return -1;
	}
	return 0;
}

/* Reads the groups file of the stream in dir. Returns 1 and *gl, 0 if
 * there is none (a stream of one group), -1 if it cannot be read or is
 * not a list of 2 to SPOOL_GROUPS_MAX good names. */
static int groups_read(const char *dir, struct grouplist *gl)
{
	char path[SPOOL_PATH_MAX + 16], *buf, *p, *end;
	const char *names[SPOOL_GROUPS_MAX];
	ssize_t n;
	int fd, ret = -1;

	snprintf(path, sizeof(path), "%s/groups", dir);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	buf = malloc(GROUPS_FILE_MAX + 1);
	n = buf ? pread(fd, buf, GROUPS_FILE_MAX + 1, 0) : -1;
	close(fd);
	if (n <= 0 || (size_t)n > GROUPS_FILE_MAX || buf[n - 1] != '\n' ||
	    memcmp(buf, GROUPS_MAGIC, strlen(GROUPS_MAGIC)) != 0)
		goto out;
	memset(gl, 0, sizeof(*gl));
	end = buf + n;
	for (p = buf + strlen(GROUPS_MAGIC); p < end; gl->n++) {
		char *nl = memchr(p, '\n', (size_t)(end - p));

		if (gl->n == SPOOL_GROUPS_MAX || (size_t)(nl - p) > SPOOL_GROUP_NAME_MAX)
			goto out;
		memcpy(gl->name[gl->n], p, (size_t)(nl - p));
		names[gl->n] = gl->name[gl->n];
		p = nl + 1;
	}
	if (gl->n >= 2 && groups_ok(names, gl->n) == 0)
		ret = 1;
out:
	free(buf);
	return ret;
}

/* Writes the groups file of o into the directory dir of a stream being
 * made, synced. Returns 0 or -1 (errno). */
static int groups_write(const char *dir, const struct spool_opts *o)
{
	char path[SPOOL_PATH_MAX + 16], *buf = malloc(GROUPS_FILE_MAX);
	size_t len = strlen(GROUPS_MAGIC);
	int fd, ret = -1;

	if (!buf)
		return -1;
	memcpy(buf, GROUPS_MAGIC, len);
	for (unsigned g = 0; g < o->ngroups; g++) {
		size_t k = strlen(o->groups[g]);

		memcpy(buf + len, o->groups[g], k);
		len += k;
		buf[len++] = '\n';
	}
	snprintf(path, sizeof(path), "%s/groups", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0640);
	if (fd >= 0) {
		if (write(fd, buf, len) == (ssize_t)len && fdatasync(fd) == 0)
			ret = 0;
		close(fd);
	}
	free(buf);
	return ret;
}

/* Do the groups of a stream (gl_ret from groups_read()) match those a
 * writer asks for? */
static int groups_match(int gl_ret, const struct grouplist *gl, const struct spool_opts *o)
{
	if (o->ngroups <= 1)
		return gl_ret == 0;
	if (gl_ret != 1 || gl->n != o->ngroups)
		return 0;
	for (unsigned g = 0; g < gl->n; g++)
		if (strcmp(gl->name[g], o->groups[g]) != 0)
			return 0;
	return 1;
}

uint64_t spool_stream_id_for(uint64_t id, const char *group)
{
	uint8_t key[8], mac[EVP_MAX_MD_SIZE];
	unsigned len = 0;
	uint64_t v;

	be_put64(key, id);
	if (!HMAC(EVP_sha256(), key, sizeof(key), (const unsigned char *)group,
		  strlen(group), mac, &len) || len < 8)
		abort(); /* SHA-256 is always there: a broken library */
	v = be_get64(mac);
	return v ? v : 1;
}

unsigned spool_ngroups(const struct spool *sp)
{
	return sp->ngroups;
}

const char *spool_group_name(const struct spool *sp, unsigned g)
{
	return g < sp->ngroups ? sp->groups[g] : "";
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

/* Takes segment i out of the spool; its file (path, *fd) is for the
 * caller to unlink and close. */
static void seg_detach(struct spool *sp, size_t i, char *path, size_t len, int *fd)
{
	struct spool_seg *s = &sp->segs[i];

	seg_path(sp, s, path, len);
	*fd = s->fd;
	sp->bytes -= s->bytes;
	if (i + 1 == sp->nsegs)
		sp->tail = 0;
	memmove(s, s + 1, (sp->nsegs - i - 1) * sizeof(*s));
	sp->nsegs--;
	sp->dir_dirty = 1;
	sp->sync_due = 1;
}

/* Removes segment i (closing and unlinking it). */
static void seg_delete(struct spool *sp, size_t i)
{
	char path[SPOOL_PATH_MAX + 32];
	int fd;

	seg_detach(sp, i, path, sizeof(path), &fd);
	unlink(path);
	close(fd);
}

/* Lines held in segment s above acked. */
static uint64_t seg_unacked(const struct spool_seg *s, uint64_t acked)
{
	uint64_t end = seg_end(s);

	if (acked + 1 >= end)
		return 0;
	return acked + 1 > s->first_seq ? end - acked - 1 : s->lines;
}

/* The lowest acked value of the groups: what every group has. */
static void acked_update(struct spool *sp)
{
	uint64_t low = sp->grp[0].acked;

	for (unsigned g = 1; g < sp->ngroups; g++)
		if (sp->grp[g].acked < low)
			low = sp->grp[g].acked;
	sp->acked = low;
}

/* For spool_in.c (spool_int.h). */
int spool_i_state_write(struct spool *sp)
{
	return state_write(sp);
}

void spool_i_seg_path(const struct spool *sp, const struct spool_seg *s,
		      char *out, size_t len)
{
	seg_path(sp, s, out, len);
}

int spool_i_seg_push(struct spool *sp, const struct spool_seg *s)
{
	return seg_push(sp, s);
}

void spool_i_seg_delete(struct spool *sp, size_t i)
{
	seg_delete(sp, i);
}

uint64_t spool_i_lose(struct spool *sp, uint64_t first, uint64_t end, int sent)
{
	uint64_t total = 0;

	for (unsigned g = 0; g < sp->ngroups; g++) {
		struct spool_grp *gr = &sp->grp[g];
		uint64_t from = gr->acked + 1 > first ? gr->acked + 1 : first;

		if (from >= end)
			continue;
		gr->dropped += end - from;
		total += end - from;
		if (sent && gr->sent_high >= from)
			gr->dropped_sent += (gr->sent_high < end ? gr->sent_high + 1 : end) - from;
	}
	return total;
}

/* Loads the segments of sp->dir. Every segment but the last is taken as
 * holding the lines up to the next one's first (verified when read), but
 * one before a segment named after a hole is counted (the hole's lines
 * were counted as dropped when it was made); the last is counted, and
 * what follows its last '\n' is the tail. */
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
	for (size_t i = 0; i + 1 < sp->nsegs; i++) {
		struct spool_seg *s = &sp->segs[i];
		uint64_t lines, bytes, size;
		int r;

		s->lines = sp->segs[i + 1].first_seq - s->first_seq;
		if (!sp->segs[i + 1].after_hole)
			continue;
		/* Before a hole the spool made (its lines counted then), the
		 * next name implies the hole's lines too: count what it
		 * holds, so that dropping it never counts them again. */
		if ((r = seg_count(s->fd, &lines, &bytes, &size)) != 0) {
			errf(err, errlen, "%s: segment: %s", sp->dir, strerror(-r));
			goto out;
		}
		if (lines <= s->lines) {
			s->lines = lines;
			s->bytes = bytes;
			s->verified = 1;
		}
	}
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
	spool_i_writer_close(sp);
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
	sp->ngroups = 1;
	sp->lock_fd = -1;
	sp->state_fd = -1;
	sp->mem.peek[0] = sp->mem.peek[1] = -1;
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
	struct grouplist gl;
	uint64_t end;

	sp->stream_id = stream_id_of(sp->dir);
	/* The groups: those of its groups file, or else the one group the
	 * caller named (a stream of one group; also a stream whose groups
	 * file is damaged, which then goes at least to that group). */
	if (groups_read(sp->dir, &gl) == 1) {
		sp->groups_file = 1;
		sp->ngroups = gl.n;
		memcpy(sp->groups, gl.name, sizeof(gl.name));
	} else {
		sp->groups_file = 0;
		sp->ngroups = 1;
	}
	for (unsigned g = 0; g < sp->ngroups; g++)
		sp->grp[g].stream_id = sp->groups_file ?
			spool_stream_id_for(sp->stream_id, sp->groups[g]) : sp->stream_id;
	snprintf(path, sizeof(path), "%s/state", sp->dir);
	sp->state_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
	if (sp->state_fd < 0) {
		errf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	memset(&r, 0, sizeof(r));
	*state_ok = state_read(sp->state_fd, sp->stream_id, sp->groups_file, &r) == 0 &&
		    r.ngroups == sp->ngroups;
	if (*state_ok) {
		sp->state_gen = r.gen;
		sp->flags = r.flags;
		for (unsigned g = 0; g < sp->ngroups; g++) {
			sp->grp[g].acked = r.acked[g];
			sp->grp[g].dropped = r.dropped[g];
		}
		sp->cut = r.cut;
		sp->next_seq = r.next_seq;
		sp->boot_id = r.boot_id;
		sp->input_dev = r.input_dev;
		sp->input_ino = r.input_ino;
		sp->counted_to = r.counted_to;
	} else {
		/* Resending from the start is safe: writers drop what they
		 * have. */
		sp->state_dirty = 1;
	}
	for (unsigned g = 0; g < sp->ngroups; g++)
		sp->grp[g].dropped_open = sp->grp[g].dropped;
	if (load_segments(sp, err, errlen) != 0)
		return -1;
	end = sp->nsegs ? seg_end(&sp->segs[sp->nsegs - 1]) : 1;
	if (sp->next_seq > end) {
		/* The state numbered lines past the last segment: a hole the
		 * spool made (a failed write, counted then), or segments lost
		 * (a crash, a hand): count those now, for each group that had
		 * not acknowledged them. */
		if (!(sp->flags & ST_F_HOLE)) {
			spool_i_lose(sp, end, sp->next_seq, 0);
			sp->state_dirty = 1;
		}
		sp->hole_open = 1;
	} else {
		sp->next_seq = end;
	}
	for (unsigned g = 0; g < sp->ngroups; g++)
		if (sp->grp[g].acked >= sp->next_seq)
			sp->grp[g].acked = sp->next_seq - 1;
	acked_update(sp);
	/* Segments holding only acknowledged lines, or lines already
	 * counted as dropped (a kill between saving the state and deleting
	 * them), go now. */
	while (sp->nsegs > 1 && (seg_end(&sp->segs[0]) <= sp->acked + 1 ||
				 seg_end(&sp->segs[0]) <= sp->counted_to))
		seg_delete(sp, 0);
	return 0;
}

/* Makes a new stream in gdir and locks it; sets sp->dir, sp->lock_fd. */
static int create_stream(struct spool *sp, const char *gdir, char *err,
			 size_t errlen)
{
	char tmp[SPOOL_PATH_MAX], path[SPOOL_PATH_MAX + 16], lock[SPOOL_PATH_MAX + 16];
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
	/* The lock file gets its name only once it is locked: another
	 * process cleaning up (clean_leftovers()) must never find it free
	 * and remove the new stream under us. */
	snprintf(path, sizeof(path), "%s/lock.new", tmp);
	snprintf(lock, sizeof(lock), "%s/lock", tmp);
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0640);
	if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB) != 0 || rename(path, lock) != 0) {
		errf(err, errlen, "%s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		remove_flat_dir(tmp);
		return -1;
	}
	/* The groups of a stream of several are fixed with its name: in
	 * place, and on disk, before it is. */
	if (sp->o.ngroups > 1 && (groups_write(tmp, &sp->o) != 0 || sync_dir(tmp) != 0)) {
		errf(err, errlen, "%s/groups: %s", tmp, strerror(errno));
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
	int groups;            /* groups_read(): 1, 0 (none) or -1 */
	struct grouplist gl;
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
	pk->groups = groups_read(dir, &pk->gl);
	snprintf(path, sizeof(path), "%s/state", dir);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd >= 0) {
		pk->state_ok = state_read(fd, stream_id_of(dir), pk->groups == 1, &pk->st) == 0;
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
 * when it is for other groups, when it may have lost lines that were
 * numbered and sent (unclean, from another boot, or no valid state to
 * tell), nor when it ends inside a line of another input. */
static int continuable(const struct peek *pk, const struct spool_opts *o)
{
	int same_input;

	if (!groups_match(pk->groups, &pk->gl, o))
		return 0;
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

int spool_dir_group(const char *name, const char *node, char *group, size_t glen)
{
	char again[SPOOL_PATH_MAX];
	size_t o = 0;
	const char *p = name;

	if (glen == 0)
		return 0;
	for (; *p && *p != '@'; p++) {
		int c = (unsigned char)*p;

		if (c == '%') {
			int hi, lo;

			if (!isxdigit((unsigned char)p[1]) || !isxdigit((unsigned char)p[2]))
				return 0;
			hi = isdigit((unsigned char)p[1]) ? p[1] - '0' : (p[1] | 0x20) - 'a' + 10;
			lo = isdigit((unsigned char)p[2]) ? p[2] - '0' : (p[2] | 0x20) - 'a' + 10;
			c = hi << 4 | lo;
			p += 2;
		}
		if (c == 0 || o + 1 >= glen)
			return 0;
		group[o++] = (char)c;
	}
	group[o] = 0;
	if (*p != '@' || o == 0)
		return 0;
	/* Only the exact name spool_group_dir() makes for this group and
	 * node: a shortened name cannot be read back, and a name of another
	 * node is not ours to send. */
	if (spool_group_dir("", group, node, again, sizeof(again)) != 0 ||
	    strcmp(again + 1, name) != 0)
		return 0;
	return 1;
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
	if (o->ngroups > 1 && groups_ok(o->groups, o->ngroups) != 0) {
		errf(err, errlen, "bad groups for a stream (at most %d, names of 1 to %d "
		     "printable bytes, no two alike)", SPOOL_GROUPS_MAX, SPOOL_GROUP_NAME_MAX);
		goto fail;
	}
	if (o->ngroups >= 1 && o->groups && strlen(o->groups[0]) <= SPOOL_GROUP_NAME_MAX)
		snprintf(sp->groups[0], sizeof(sp->groups[0]), "%s", o->groups[0]);
	if (sp->o.max_bytes < SPOOL_MIN_BYTES)
		sp->o.max_bytes = SPOOL_MIN_BYTES;
	/* Small segments, so that a full spool or disk drops little at a
	 * time and the oldest first. */
	sp->seg_bytes = sp->o.max_bytes / 16;
	if (sp->seg_bytes > 8 * 1024 * 1024)
		sp->seg_bytes = 8 * 1024 * 1024;
	sp->writable = 1;
	if (o->max_line < LB_MAX_LINE_MIN || o->max_line > LB_MAX_LINE_MAX) {
		errf(err, errlen, "bad maximum line length %zu", o->max_line);
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
	if (spool_i_writer_open(sp, (o->input_dev || o->input_ino) &&
				sp->input_dev == o->input_dev &&
				sp->input_ino == o->input_ino, err, errlen) != 0)
		goto fail;
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
	/* The names are copied; the caller's list is not kept. */
	sp->o.groups = NULL;
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

int spool_adopt(struct spool *sp, const char *gdir, const char *group,
		uint64_t except, int64_t grace_s, size_t max_line, char *err,
		size_t errlen)
{
	int state_ok;

	spool_init(sp);
	snprintf(sp->groups[0], sizeof(sp->groups[0]), "%s", group);
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
	spool_i_end_tail(sp, max_line);
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

		/* Acknowledged lines are not lost (for each group). */
		spool_i_lose(sp, lo, lo + missing, 0);
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

/* What a scan of a segment found. */
enum { SCAN_OK, SCAN_SHORT };

/* Counts lines in segment file fd from line *at at byte *off until line
 * seq, reading below limit only; without the spool's lock (segments are
 * immutable where read). Returns SCAN_OK with *at == seq and *off where
 * it starts, SCAN_SHORT if the file ends first (*at, *off: after the
 * last whole line), or -errno. */
static int seg_scan(int fd, uint64_t limit, uint64_t seq, uint64_t *at, uint64_t *off)
{
	char *buf = malloc(SCAN_BLOCK);
	uint64_t pos = *off, line = *off, n = *at;
	int ret = SCAN_OK;

	if (!buf)
		return -ENOMEM;
	while (n < seq) {
		size_t want = limit - pos < SCAN_BLOCK ? (size_t)(limit - pos) : SCAN_BLOCK;
		ssize_t r = want ? pread(fd, buf, want, (off_t)pos) : 0;

		if (r < 0) {
			ret = -errno;
			break;
		}
		if (r == 0) {
			ret = SCAN_SHORT;
			break;
		}
		for (char *p = buf, *e = buf + r; n < seq && p < e;) {
			char *nl = memchr(p, '\n', (size_t)(e - p));

			if (!nl)
				break;
			n++;
			p = nl + 1;
			line = pos + (uint64_t)(p - buf);
		}
		pos += (uint64_t)r;
	}
	free(buf);
	*at = n;
	*off = line;
	return ret;
}

/* Places cur at line seq (see spool_seek()); takes the lock itself and
 * scans without it. */
static int seek_to(struct spool *sp, struct spool_cursor *cur, uint64_t seq,
		   const struct spool_cursor *from)
{
	for (;;) {
		struct spool_seg *s;
		uint64_t at, off, first, limit;
		size_t i;
		long k;
		int fd, r;

		pthread_mutex_lock(&sp->mu);
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
			pthread_mutex_unlock(&sp->mu);
			return 0;
		}
		s = &sp->segs[i];
		if (seq < s->first_seq)
			seq = s->first_seq; /* in a hole: the next line held */
		first = at = s->first_seq;
		off = 0;
		if (from && from->seg_first == s->first_seq && from->seq <= seq &&
		    from->seq >= s->first_seq) {
			at = from->seq;
			off = from->off;
		}
		if (at == seq) {
			cur->seq = seq;
			cur->seg_first = first;
			cur->off = off;
			pthread_mutex_unlock(&sp->mu);
			return 0;
		}
		limit = s->verified ? s->bytes : UINT64_MAX;
		fd = dup(s->fd);
		pthread_mutex_unlock(&sp->mu);
		if (fd < 0)
			return -errno;
		r = seg_scan(fd, limit, seq, &at, &off);
		close(fd);
		if (r < 0)
			return r;
		pthread_mutex_lock(&sp->mu);
		k = seg_find(sp, first);
		if (k >= 0 && r == SCAN_SHORT)
			seg_short(sp, (size_t)k, at - first, off); /* lines missing */
		if (k >= 0 && r == SCAN_OK) {
			cur->seq = seq;
			cur->seg_first = first;
			cur->off = off;
			pthread_mutex_unlock(&sp->mu);
			return 0;
		}
		/* The segment changed meanwhile: again. */
		pthread_mutex_unlock(&sp->mu);
		from = NULL;
	}
}

int spool_seek(struct spool *sp, struct spool_cursor *cur, uint64_t seq,
	       const struct spool_cursor *from)
{
	return seek_to(sp, cur, seq, from);
}

/* Is cur a valid place in the spool? */
static long cursor_seg(const struct spool *sp, const struct spool_cursor *cur)
{
	long i = seg_find(sp, cur->seg_first);

	if (i < 0 || cur->seq < sp->segs[i].first_seq || cur->seq > seg_end(&sp->segs[i]))
		return -1;
	return i;
}

/* Where the next read at cur goes, taken under the lock. */
struct read_at {
	int fd;                /* a dup of the segment's, or -1 */
	uint64_t first_seq, bytes, avail;
	int last_verified;     /* the last segment, counted */
};

/* Places cur on a readable segment (the next one at a segment's end) and
 * fills *ra. Called with the lock held; returns 1, 0 at the end, or
 * -errno (the lock is dropped and taken again to seek). */
static int read_locate(struct spool *sp, struct spool_cursor *cur, uint64_t cap,
		       struct read_at *ra)
{
	struct spool_seg *s;
	long i = cursor_seg(sp, cur);

	if (i < 0) {
		int ret;

		pthread_mutex_unlock(&sp->mu);
		ret = seek_to(sp, cur, cur->seq, NULL);
		pthread_mutex_lock(&sp->mu);
		if (ret)
			return ret;
		i = cursor_seg(sp, cur);
		if (i < 0)
			return 0; /* at the end past a hole */
	}
	s = &sp->segs[i];
	if (cur->seq >= seg_end(s)) {
		/* At the end of a segment: on to the next (across a hole). */
		if ((size_t)i + 1 >= sp->nsegs)
			return 0;
		s = &sp->segs[i + 1];
		cur->seq = s->first_seq;
		cur->seg_first = s->first_seq;
		cur->off = 0;
	}
	ra->first_seq = s->first_seq;
	ra->bytes = s->bytes;
	ra->last_verified = s == &sp->segs[sp->nsegs - 1] && s->verified;
	ra->avail = s->bytes > cur->off ? s->bytes - cur->off : 0;
	if (ra->avail > cap)
		ra->avail = cap;
	ra->fd = ra->avail ? dup(s->fd) : -1;
	if (ra->avail && ra->fd < 0)
		return -errno;
	return 1;
}

ssize_t spool_read(struct spool *sp, struct spool_cursor *cur, char *buf,
		   size_t cap, uint64_t *first, uint32_t *lines)
{
	struct spool_seg *s;
	struct read_at ra;
	ssize_t ret, r;
	uint64_t room;
	uint32_t n;
	long i;
	char *p, *e, *end_ok;

	*lines = 0;
	pthread_mutex_lock(&sp->mu);
again:
	ret = read_locate(sp, cur, cap, &ra);
	if (ret <= 0)
		goto out;
	/* Whole lines below `bytes` never change: read them unlocked. */
	pthread_mutex_unlock(&sp->mu);
	r = ra.avail ? pread(ra.fd, buf, ra.avail, (off_t)cur->off) : 0;
	if (ra.fd >= 0)
		close(ra.fd);
	pthread_mutex_lock(&sp->mu);
	if (r < 0) {
		ret = -errno;
		goto out;
	}
	i = seg_find(sp, ra.first_seq);
	if (i < 0 || cur->seg_first != ra.first_seq)
		goto again; /* dropped meanwhile */
	s = &sp->segs[i];
	room = seg_end(s) - cur->seq;
	n = 0;
	end_ok = NULL;
	for (p = buf, e = buf + r; n < room && p < e; p++) {
		p = memchr(p, '\n', (size_t)(e - p));
		if (!p)
			break;
		n++;
		end_ok = p + 1;
	}
	if (n == 0) {
		if ((uint64_t)r == ra.avail && cur->off + (uint64_t)r >= ra.bytes &&
		    !ra.last_verified) {
			/* The end of a segment that implied more lines. */
			seg_short(sp, (size_t)i, cur->seq - s->first_seq, cur->off);
			goto again;
		}
		ret = r == 0 ? 0 : -EMSGSIZE;
		goto out;
	}
	if (!s->verified && n < room && (uint64_t)r == ra.avail &&
	    cur->off + (uint64_t)r >= ra.bytes) {
		/* Whole file read and still short: mark what it holds. */
		uint64_t got = cur->seq + n - s->first_seq;

		seg_short(sp, (size_t)i, got, cur->off + (uint64_t)(end_ok - buf));
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

ssize_t spool_read_cut(struct spool *sp, struct spool_cursor *cur, char *buf,
		       size_t cap, uint64_t *first, uint32_t *lines)
{
	char mark[LB_MARKER_MAX + 1];
	struct read_at ra;
	uint64_t len = 0, at, off;
	size_t keep;
	ssize_t ret;
	int m;

	*lines = 0;
	if (cap < 2 * LB_MARKER_MAX)
		return -EINVAL;
	keep = cap - LB_MARKER_MAX;
	pthread_mutex_lock(&sp->mu);
	ret = read_locate(sp, cur, UINT64_MAX, &ra);
	if (ret <= 0)
		goto out;
	pthread_mutex_unlock(&sp->mu);
	/* The line's length: up to its '\n', below `bytes`. */
	at = cur->seq;
	off = cur->off;
	ret = seg_scan(ra.fd, ra.bytes, cur->seq + 1, &at, &off);
	if (ret == SCAN_OK) {
		len = off - cur->off - 1;
		ret = pread(ra.fd, buf, keep, (off_t)cur->off);
		if (ret >= 0 && (size_t)ret != keep)
			ret = -EIO;
	}
	close(ra.fd);
	pthread_mutex_lock(&sp->mu);
	if (ret == SCAN_SHORT || len < keep) {
		ret = -EMSGSIZE; /* not a whole line longer than cap */
		goto out;
	}
	if (ret < 0)
		goto out;
	if (seg_find(sp, ra.first_seq) < 0 || cur->seg_first != ra.first_seq) {
		ret = -EAGAIN;
		goto out;
	}
	m = snprintf(mark, sizeof(mark), " [chorus-log: line cut, %llu bytes]\n",
		     (unsigned long long)len);
	memcpy(buf + keep, mark, (size_t)m);
	*first = cur->seq;
	*lines = 1;
	/* Counted once, however often it is read. */
	if (cur->seq > sp->cut_read_high) {
		sp->cut_read_high = cur->seq;
		sp->cut++;
		sp->state_dirty = 1;
	}
	cur->seq++;
	cur->off = off;
	ret = (ssize_t)(keep + (size_t)m);
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

int spool_ack(struct spool *sp, unsigned g, uint64_t acked)
{
	char paths[8][SPOOL_PATH_MAX + 32];
	int fds[8], n = 0;

	if (g >= sp->ngroups)
		return -EINVAL;
again:
	pthread_mutex_lock(&sp->mu);
	if (acked >= sp->next_seq)
		acked = sp->next_seq - 1;
	if (acked > sp->grp[g].acked) {
		uint64_t before = sp->acked;

		sp->grp[g].acked = acked;
		sp->state_dirty = 1;
		acked_update(sp);
		if (sp->acked > before && sp->nsegs > 1 &&
		    seg_end(&sp->segs[0]) <= sp->acked + 1) {
			/* On disk before the lines go, so that a kill in
			 * between does not make them look dropped. */
			state_write(sp);
		}
	}
	/* The files go outside the lock (8 at a time). */
	while (n < 8 && sp->nsegs > 1 && seg_end(&sp->segs[0]) <= sp->acked + 1) {
		seg_detach(sp, 0, paths[n], sizeof(paths[n]), &fds[n]);
		n++;
	}
	pthread_mutex_unlock(&sp->mu);
	for (int k = 0; k < n; k++) {
		unlink(paths[k]);
		close(fds[k]);
	}
	if (n == 8) {
		n = 0;
		goto again;
	}
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

/* The numbers of the stream (g < 0) or of group g, under the lock. */
static void stats_locked(struct spool *sp, int g, struct spool_stats *st)
{
	uint64_t acked = g < 0 ? sp->acked : sp->grp[g].acked, unacked = 0;

	for (size_t i = 0; i < sp->nsegs; i++)
		unacked += seg_unacked(&sp->segs[i], acked);
	st->stream_id = g < 0 ? sp->stream_id : sp->grp[g].stream_id;
	st->base = base_locked(sp);
	st->next_seq = sp->next_seq;
	st->last_held = 0;
	for (size_t i = sp->nsegs; i-- > 0;)
		if (sp->segs[i].lines) {
			st->last_held = seg_end(&sp->segs[i]) - 1;
			break;
		}
	st->acked = acked;
	st->dropped = st->dropped_open = st->dropped_sent = 0;
	for (unsigned k = 0; k < sp->ngroups; k++) {
		if (g >= 0 && (unsigned)g != k)
			continue;
		st->dropped += sp->grp[k].dropped;
		st->dropped_open += sp->grp[k].dropped_open;
		st->dropped_sent += sp->grp[k].dropped_sent;
	}
	st->cut = sp->cut;
	st->bytes = sp->bytes + sp->tail;
	st->unacked = unacked;
	st->tail = sp->tail;
}

void spool_stats(struct spool *sp, struct spool_stats *st)
{
	pthread_mutex_lock(&sp->mu);
	stats_locked(sp, -1, st);
	pthread_mutex_unlock(&sp->mu);
}

void spool_group_stats(struct spool *sp, unsigned g, struct spool_stats *st)
{
	pthread_mutex_lock(&sp->mu);
	stats_locked(sp, g < sp->ngroups ? (int)g : 0, st);
	pthread_mutex_unlock(&sp->mu);
}
