/*
 * intake.c - chorus-log's input, looked at before it is taken (see
 * intake.h).
 */
#include "log/intake.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int in_open(struct intake *in, int fd, size_t cap)
{
	struct stat st;

	memset(in, 0, sizeof(*in));
	in->fd = fd;
	in->peek[0] = in->peek[1] = -1;
	in->cap = cap;
	in->kind = fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode) ? IN_PIPE : IN_READ;
	if (in->kind == IN_PIPE) {
		if (pipe2(in->peek, O_CLOEXEC | O_NONBLOCK) != 0)
			return -errno;
		/* A smaller scratch pipe only makes the looks shorter. */
		fcntl(in->peek[1], F_SETPIPE_SZ, (int)cap);
	}
	in->buf = malloc(cap);
	if (!in->buf) {
		in_close(in);
		return -ENOMEM;
	}
	return 0;
}

int in_open_mem(struct intake *in, size_t cap)
{
	memset(in, 0, sizeof(*in));
	in->kind = IN_MEM;
	in->fd = -1;
	in->peek[0] = in->peek[1] = -1;
	in->cap = cap;
	in->buf = malloc(cap);
	return in->buf ? 0 : -ENOMEM;
}

void in_close(struct intake *in)
{
	for (int i = 0; i < 2; i++)
		if (in->peek[i] >= 0)
			close(in->peek[i]);
	in->peek[0] = in->peek[1] = -1;
	free(in->buf);
	in->buf = NULL;
}

/* Moves the unconsumed bytes to the front of the buffer. */
static void compact(struct intake *in)
{
	if (in->off && in->len > in->off)
		memmove(in->buf, in->buf + in->off, in->len - in->off);
	in->len -= in->off;
	in->off = 0;
}

size_t in_feed(struct intake *in, const char *data, size_t len)
{
	compact(in);
	if (len > in->cap - in->len)
		len = in->cap - in->len;
	memcpy(in->buf + in->len, data, len);
	in->len += len;
	return len;
}

/* Empties the scratch pipe (a copy that was not read in full). */
static void drain_peek(struct intake *in)
{
	char tmp[4096];

	while (read(in->peek[0], tmp, sizeof(tmp)) > 0)
		;
}

static ssize_t peek_pipe(struct intake *in, const char **data)
{
	ssize_t m;
	size_t got = 0;

	in->off = in->len = 0;
	m = tee(in->fd, in->peek[1], in->cap, SPLICE_F_NONBLOCK);
	if (m < 0)
		return errno == EAGAIN ? -EAGAIN : -errno;
	if (m == 0) {
		in->eof = 1;
		return 0;
	}
	while (got < (size_t)m) {
		ssize_t r = read(in->peek[0], in->buf + got, (size_t)m - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			/* Leftovers would corrupt the next look. */
			drain_peek(in);
			return -EIO;
		}
		got += (size_t)r;
	}
	in->len = got;
	*data = in->buf;
	return (ssize_t)got;
}

ssize_t in_peek(struct intake *in, const char **data, int more)
{
	if (in->kind == IN_PIPE)
		return peek_pipe(in, data);
	if (in->kind == IN_READ && !in->eof && (in->off == in->len || more) &&
	    (compact(in), in->len < in->cap)) {
		ssize_t r = read(in->fd, in->buf + in->len, in->cap - in->len);

		if (r < 0 && (errno == EINTR || errno == EAGAIN)) {
			if (in->len == in->off)
				return -EAGAIN;
		} else if (r < 0) {
			return -errno;
		} else if (r == 0) {
			in->eof = 1;
		} else {
			in->len += (size_t)r;
		}
	}
	*data = in->buf + in->off;
	return (ssize_t)(in->len - in->off);
}

ssize_t in_drop(struct intake *in, size_t n)
{
	static int devnull = -2;
	char tmp[65536];
	size_t done = 0;

	if (in->kind != IN_PIPE) {
		in->off += n;
		return (ssize_t)n;
	}
	if (devnull == -2)
		devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
	while (n > 0) {
		ssize_t r = -1;

		if (devnull >= 0)
			r = splice(in->fd, NULL, devnull, NULL, n, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && errno == EAGAIN)
			break;
		if (r < 0)
			r = read(in->fd, tmp, n < sizeof(tmp) ? n : sizeof(tmp));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			if (done)
				break;
			return r < 0 ? -errno : -EIO;
		}
		n -= (size_t)r;
		done += (size_t)r;
		in->off += (size_t)r;
	}
	return done ? (ssize_t)done : -EAGAIN;
}

static ssize_t pwrite_some(int fd, const char *p, size_t n, off_t off)
{
	ssize_t w;

	do
		w = pwrite(fd, p, n, off);
	while (w < 0 && errno == EINTR);
	if (w < 0)
		return -errno;
	return w == 0 && n ? -EIO : w;
}

ssize_t in_move(struct intake *in, int ofd, off_t off, size_t n)
{
	ssize_t w;

	if (in->kind == IN_PIPE && !in->no_splice) {
		loff_t o = off;

		do
			w = splice(in->fd, NULL, ofd, &o, n, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
		while (w < 0 && errno == EINTR);
		if (w > 0) {
			in->off += (size_t)w;
			return w;
		}
		if (w == 0)
			return -EIO;
		if (errno != EINVAL && errno != ENOSYS && errno != EBADF &&
		    errno != ESPIPE && errno != EOPNOTSUPP)
			return -errno;
		in->no_splice = 1;
	}
	/* Write the copy, then consume it: never only in memory. */
	w = pwrite_some(ofd, in->buf + in->off, n, off);
	if (w > 0 && in->kind == IN_PIPE) {
		ssize_t r = in_drop(in, (size_t)w);

		/* Stored and not consumed (cannot happen: the bytes were
		 * looked at): they would come again. */
		return r < 0 ? r : w;
	}
	if (w > 0)
		in->off += (size_t)w;
	return w;
}
