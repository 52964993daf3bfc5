/*
 * input.c - access-log files and standard input (see input.h): a reader
 * over plain, gzip (zlib) and zstd (libzstd) data, a line splitter with a
 * bound on line length (longer lines are passed on whole up to
 * LF_LINE_MAX + 1 bytes, so the parser counts them as too long), and the
 * records of what was read.
 */
#include "stats/input.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "stats/logfmt.h"
#include "stats/tab.h"

void in_seen_free(struct in_seen *s)
{
	free(s->f);
	memset(s, 0, sizeof(*s));
}

int in_seen_add(struct in_seen *s, const struct in_file *f)
{
	if (s->n == s->alloc) {
		uint32_t na = s->alloc ? s->alloc * 2 : 64;
		struct in_file *nf = realloc(s->f, na * sizeof(*nf));

		if (!nf)
			return -1;
		s->f = nf;
		s->alloc = na;
	}
	s->f[s->n++] = *f;
	return 0;
}

const char *in_node_of_path(const char *path, char node[65])
{
	const char *base = strrchr(path, '/');

	if (!base || strncmp(base + 1, "access-", 7) != 0 || base == path)
		return NULL;
	const char *d = base;
	while (d > path && d[-1] != '/')
		d--;
	size_t n = (size_t)(base - d);
	if (n == 0 || n > 64 || d[0] == '.')
		return NULL;
	memcpy(node, d, n);
	node[n] = 0;
	return node;
}

enum { RD_PLAIN, RD_GZ, RD_ZSTD };

struct reader {
	int fd;
	int kind;
	z_stream z;
	ZSTD_DStream *zs;
	uint8_t *in;
	size_t in_len, in_pos;
	int in_eof;
	int z_end; /* a gzip member ended: maybe another follows */
};

#define RD_IN 65536

static ssize_t raw_read(struct reader *r)
{
	if (r->in_pos < r->in_len || r->in_eof)
		return (ssize_t)(r->in_len - r->in_pos);
	ssize_t n;
	do
		n = read(r->fd, r->in, RD_IN);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -1;
	if (n == 0)
		r->in_eof = 1;
	r->in_len = (size_t)n;
	r->in_pos = 0;
	return n;
}

static int rd_open(struct reader *r, int fd, char *err, size_t errlen)
{
	memset(r, 0, sizeof(*r));
	r->fd = fd;
	r->in = malloc(RD_IN);
	if (!r->in) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	/* Fill at least 4 bytes (or reach the end) to see the magic. */
	while (r->in_len < 4 && !r->in_eof) {
		ssize_t n = read(fd, r->in + r->in_len, RD_IN - r->in_len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(err, errlen, "read: %s", strerror(errno));
			return -1;
		}
		if (n == 0)
			r->in_eof = 1;
		r->in_len += (size_t)n;
	}
	if (r->in_len >= 2 && r->in[0] == 0x1f && r->in[1] == 0x8b) {
		r->kind = RD_GZ;
		if (inflateInit2(&r->z, 15 + 32) != Z_OK) {
			snprintf(err, errlen, "zlib: cannot start");
			return -1;
		}
	} else if (r->in_len >= 4 && r->in[0] == 0x28 && r->in[1] == 0xb5 && r->in[2] == 0x2f &&
		   r->in[3] == 0xfd) {
		r->kind = RD_ZSTD;
		r->zs = ZSTD_createDStream();
		if (!r->zs || ZSTD_isError(ZSTD_initDStream(r->zs))) {
			snprintf(err, errlen, "zstd: cannot start");
			return -1;
		}
	}
	return 0;
}

static void rd_close(struct reader *r)
{
	if (r->kind == RD_GZ)
		inflateEnd(&r->z);
	if (r->zs)
		ZSTD_freeDStream(r->zs);
	free(r->in);
	r->in = NULL;
}

/* Up to cap uncompressed bytes into out; 0 at the end, -1 on error. */
static ssize_t rd_read(struct reader *r, uint8_t *out, size_t cap, char *err, size_t errlen)
{
	/* Plain data goes straight into out once the first bytes (read to
	 * see the magic) are used up. */
	if (r->kind == RD_PLAIN && r->in_pos == r->in_len && !r->in_eof) {
		ssize_t n;

		do
			n = read(r->fd, out, cap);
		while (n < 0 && errno == EINTR);
		if (n < 0) {
			snprintf(err, errlen, "read: %s", strerror(errno));
			return -1;
		}
		if (n == 0)
			r->in_eof = 1;
		return n;
	}
	for (;;) {
		ssize_t avail = raw_read(r);

		if (avail < 0) {
			snprintf(err, errlen, "read: %s", strerror(errno));
			return -1;
		}
		if (r->kind == RD_PLAIN) {
			size_t n = (size_t)avail < cap ? (size_t)avail : cap;

			memcpy(out, r->in + r->in_pos, n);
			r->in_pos += n;
			return (ssize_t)n;
		}
		if (avail == 0) {
			if (r->kind == RD_GZ && !r->z_end && r->z.total_in) {
				snprintf(err, errlen, "gzip data ends early (truncated file)");
				return -1;
			}
			return 0;
		}
		if (r->kind == RD_GZ) {
			if (r->z_end) {
				inflateReset(&r->z);
				r->z_end = 0;
			}
			r->z.next_in = r->in + r->in_pos;
			r->z.avail_in = (uInt)avail;
			r->z.next_out = out;
			r->z.avail_out = (uInt)cap;
			int rc = inflate(&r->z, Z_NO_FLUSH);
			r->in_pos = r->in_len - r->z.avail_in;
			if (rc == Z_STREAM_END)
				r->z_end = 1;
			else if (rc != Z_OK && rc != Z_BUF_ERROR) {
				snprintf(err, errlen, "gzip data is corrupt (%s)",
					 r->z.msg ? r->z.msg : "inflate failed");
				return -1;
			}
			size_t n = cap - r->z.avail_out;
			if (n)
				return (ssize_t)n;
		} else {
			ZSTD_inBuffer ib = { r->in, r->in_len, r->in_pos };
			ZSTD_outBuffer ob = { out, cap, 0 };
			size_t rc = ZSTD_decompressStream(r->zs, &ob, &ib);

			r->in_pos = ib.pos;
			if (ZSTD_isError(rc)) {
				snprintf(err, errlen, "zstd data is corrupt (%s)",
					 ZSTD_getErrorName(rc));
				return -1;
			}
			if (ob.pos)
				return (ssize_t)ob.pos;
		}
	}
}

#define BUF_CAP (1u << 20)

/* Reads into buf (cap bytes) until it holds want bytes or the data ends.
 * Returns the bytes read, or -1 with a message in err. */
static long rd_fill(struct reader *rd, uint8_t *buf, size_t cap, size_t want, const char *path,
		    char *err, size_t errlen)
{
	size_t len = 0;
	char e2[200];

	while (len < want) {
		ssize_t n = rd_read(rd, buf + len, cap - len, e2, sizeof(e2));

		if (n < 0) {
			snprintf(err, errlen, "%s: %s", path, e2);
			return -1;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	return (long)len;
}

/* Starts reading fd (opened from path; -1: open failed, errno says why).
 * Returns 0, or -1 with a message in err; rd is set either way (the
 * caller closes it when rd->in is set). */
static int rd_start(struct reader *rd, int fd, const char *path, char *err, size_t errlen)
{
	char e2[200];

	memset(rd, 0, sizeof(*rd));
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (rd_open(rd, fd, e2, sizeof(e2)) != 0) {
		snprintf(err, errlen, "%s: %s", path, e2);
		return -1;
	}
	return 0;
}

long in_peek_file(const char *path, uint8_t *buf, size_t cap, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct reader rd;
	long ret = -1;

	if (rd_start(&rd, fd, path, err, errlen) == 0)
		ret = rd_fill(&rd, buf, cap, cap, path, err, errlen);
	if (rd.in)
		rd_close(&rd);
	if (fd >= 0)
		close(fd);
	return ret;
}

int in_read_path(const char *path, const struct in_opts *o, char *err, size_t errlen)
{
	int stdin_ = strcmp(path, "-") == 0;
	int fd = stdin_ ? 0 : open(path, O_RDONLY | O_CLOEXEC);
	char node_buf[65];
	const char *node = stdin_ ? NULL : in_node_of_path(path, node_buf);
	struct reader rd;
	uint8_t *buf = NULL;
	int ret = -1;
	size_t len = 0;
	uint64_t pos = 0, lineno = 0, skip = 0;
	struct in_file *rec = NULL;
	const char *source = stdin_ ? "stdin" : path;
	char e2[200];

	if (!node)
		node = o->node;
	if (rd_start(&rd, fd, path, err, errlen) != 0) {
		if (fd < 0)
			return -1;
		goto out;
	}
	buf = malloc(BUF_CAP + 1);
	if (!buf) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	/* The first bytes tell which file this is. */
	long got = rd_fill(&rd, buf, BUF_CAP, IN_IDENT_MAX, path, err, errlen);
	if (got < 0)
		goto out;
	len = (size_t)got;
	if (o->seen && !stdin_ && len > 0) {
		uint32_t il = len < IN_IDENT_MAX ? (uint32_t)len : IN_IDENT_MAX;

		for (uint32_t i = 0; i < o->seen->n && !rec; i++) {
			struct in_file *f = &o->seen->f[i];

			if (f->ident_len <= len && strcmp(f->node, node) == 0 &&
			    tab_hash((const char *)buf, f->ident_len) == f->ident_hash)
				rec = f;
		}
		if (!rec) {
			struct in_file nf;

			memset(&nf, 0, sizeof(nf));
			snprintf(nf.node, sizeof(nf.node), "%s", node);
			nf.ident_len = il;
			nf.ident_hash = tab_hash((const char *)buf, il);
			if (in_seen_add(o->seen, &nf) != 0) {
				snprintf(err, errlen, "out of memory");
				goto out;
			}
			rec = &o->seen->f[o->seen->n - 1];
		}
		snprintf(rec->path, sizeof(rec->path), "%s", path);
		skip = rec->consumed;
		lineno = rec->lines;
	}
	int plain_partial = o->seen && !stdin_ && rd.kind == RD_PLAIN;
	int any = 0;
	size_t start = 0;
	for (;;) {
		/* Skip what an earlier run read. */
		if (skip) {
			size_t s = len - start < skip ? len - start : (size_t)skip;

			start += s;
			pos += s;
			skip -= s;
		}
		/* Whole lines of buf[start, len). */
		while (!skip && start < len) {
			uint8_t *nl = memchr(buf + start, '\n', len - start);

			if (!nl)
				break;
			size_t ll = (size_t)(nl - (buf + start));
			lineno++;
			any = 1;
			int rc = o->fn(o->arg, node, strlen(node), source, lineno,
				       (const char *)buf + start, ll);
			if (rc < 0) {
				snprintf(err, errlen, "%s: out of memory", path);
				goto out;
			}
			start += ll + 1;
			pos += ll + 1;
		}
		/* A line longer than the parser takes: pass its head on (it is
		 * counted as too long) and drop the rest up to its end. */
		if (!skip && len - start > LF_LINE_MAX) {
			lineno++;
			any = 1;
			if (o->fn(o->arg, node, strlen(node), source, lineno,
				  (const char *)buf + start, LF_LINE_MAX + 1) < 0) {
				snprintf(err, errlen, "%s: out of memory", path);
				goto out;
			}
			for (;;) {
				uint8_t *nl = memchr(buf + start, '\n', len - start);

				if (nl) {
					pos += (size_t)(nl - (buf + start)) + 1;
					start = (size_t)(nl - buf) + 1;
					break;
				}
				pos += len - start;
				start = len = 0;
				ssize_t n = rd_read(&rd, buf, BUF_CAP, e2, sizeof(e2));
				if (n < 0) {
					snprintf(err, errlen, "%s: %s", path, e2);
					goto out;
				}
				if (n == 0)
					break;
				len = (size_t)n;
				if (o->bytes_in)
					*o->bytes_in += (uint64_t)n;
			}
			continue;
		}
		memmove(buf, buf + start, len - start);
		len -= start;
		start = 0;
		ssize_t n = rd_read(&rd, buf + len, BUF_CAP - len, e2, sizeof(e2));
		if (n < 0) {
			snprintf(err, errlen, "%s: %s", path, e2);
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (o->bytes_in)
			*o->bytes_in += (uint64_t)n;
	}
	if (skip) {
		/* Shorter than what was read before: not the same data. */
		snprintf(err, errlen, "%s: shorter than when it was last read (%llu bytes "
				      "missing); was it truncated or replaced?",
			 path, (unsigned long long)skip);
		goto out;
	}
	if (len > 0 && !plain_partial) {
		lineno++;
		any = 1;
		if (o->fn(o->arg, node, strlen(node), source, lineno, (const char *)buf, len) < 0) {
			snprintf(err, errlen, "%s: out of memory", path);
			goto out;
		}
		pos += len;
	}
	if (rec) {
		rec->consumed = pos;
		rec->lines = lineno;
	}
	ret = any ? 0 : 1;
out:
	free(buf);
	if (rd.in)
		rd_close(&rd);
	if (!stdin_)
		close(fd);
	return ret;
}
