/*
 * logd_rotate.c - the compression worker of chorus-logd (logd_rotate.h).
 *
 * zstd (level 3) through libzstd's streaming API, gzip through zlib's
 * deflate with a gzip header (level 6): Debian's libraries, no codec of
 * our own. The worker runs at a lower priority and touches only its own
 * ".part" file; the main thread renames it into place.
 */
#include "log/logd_rotate.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#define ZQ_CHUNK (256 * 1024)

struct zq_job {
	char src[LOGD_PATH_MAX];
	char dst[LOGD_PATH_MAX + 32];
	uint64_t gen;
};

struct zq {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int evfd;
	int stop;
	int running;                  /* a job is in progress */
	struct zq_job jobs[ZQ_MAX];
	int head, njobs;
	struct zq_result done[ZQ_MAX];
	int ndone;
};

static int ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);

	return a >= b && strcmp(s + a - b, suffix) == 0;
}

static int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t w = write(fd, p, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return w < 0 ? -errno : -EIO;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

/* Streams in into out with zstd. */
static int run_zstd(int in, int out, char *ibuf, char *obuf, uint64_t *ib, uint64_t *ob)
{
	ZSTD_CCtx *cc = ZSTD_createCCtx();
	int ret = 0;

	if (!cc)
		return -ENOMEM;
	ZSTD_CCtx_setParameter(cc, ZSTD_c_compressionLevel, 3);
	ZSTD_CCtx_setParameter(cc, ZSTD_c_checksumFlag, 1);
	for (;;) {
		ssize_t n = read(in, ibuf, ZQ_CHUNK);
		ZSTD_EndDirective mode = n == 0 ? ZSTD_e_end : ZSTD_e_continue;
		ZSTD_inBuffer zi = { ibuf, n > 0 ? (size_t)n : 0, 0 };
		size_t left;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = -errno;
			break;
		}
		*ib += (uint64_t)n;
		do {
			ZSTD_outBuffer zo = { obuf, ZQ_CHUNK, 0 };

			left = ZSTD_compressStream2(cc, &zo, &zi, mode);
			if (ZSTD_isError(left)) {
				ret = -EIO;
				goto out;
			}
			if (zo.pos && (ret = write_all(out, obuf, zo.pos)) != 0)
				goto out;
			*ob += zo.pos;
		} while (mode == ZSTD_e_end ? left != 0 : zi.pos < zi.size);
		if (n == 0)
			break;
	}
out:
	ZSTD_freeCCtx(cc);
	return ret;
}

/* Streams in into out as gzip. */
static int run_gzip(int in, int out, char *ibuf, char *obuf, uint64_t *ib, uint64_t *ob)
{
	z_stream z;
	int ret = 0, zr = Z_OK;

	memset(&z, 0, sizeof(z));
	/* 15 + 16: a gzip header and trailer instead of zlib's. */
	if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return -ENOMEM;
	while (zr != Z_STREAM_END) {
		ssize_t n = read(in, ibuf, ZQ_CHUNK);
		int flush = n == 0 ? Z_FINISH : Z_NO_FLUSH;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = -errno;
			break;
		}
		*ib += (uint64_t)n;
		z.next_in = (Bytef *)ibuf;
		z.avail_in = (uInt)n;
		do {
			size_t have;

			z.next_out = (Bytef *)obuf;
			z.avail_out = ZQ_CHUNK;
			zr = deflate(&z, flush);
			if (zr == Z_STREAM_ERROR) {
				ret = -EIO;
				goto out;
			}
			have = ZQ_CHUNK - z.avail_out;
			if (have && (ret = write_all(out, obuf, have)) != 0)
				goto out;
			*ob += have;
		} while (z.avail_out == 0);
		if (n == 0 && zr != Z_STREAM_END) {
			ret = -EIO;
			break;
		}
	}
out:
	deflateEnd(&z);
	return ret;
}

int zq_compress_file(const char *src, const char *dst, enum logd_compress how,
		     uint64_t *in_bytes, uint64_t *out_bytes)
{
	char *ibuf = malloc(ZQ_CHUNK), *obuf = malloc(ZQ_CHUNK);
	int in = -1, out = -1, ret;

	*in_bytes = *out_bytes = 0;
	if (!ibuf || !obuf) {
		ret = -ENOMEM;
		goto done;
	}
	in = open(src, O_RDONLY | O_CLOEXEC);
	out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (in < 0 || out < 0) {
		ret = -errno;
		goto done;
	}
	if (how == LOGD_COMP_ZSTD)
		ret = run_zstd(in, out, ibuf, obuf, in_bytes, out_bytes);
	else if (how == LOGD_COMP_GZIP)
		ret = run_gzip(in, out, ibuf, obuf, in_bytes, out_bytes);
	else
		ret = -EINVAL;
	if (ret == 0 && fsync(out) != 0)
		ret = -errno;
done:
	if (in >= 0)
		close(in);
	if (out >= 0 && close(out) != 0 && ret == 0)
		ret = -errno;
	if (ret != 0 && out >= 0)
		unlink(dst);
	free(ibuf);
	free(obuf);
	return ret;
}

static void *zq_main(void *arg)
{
	struct zq *q = arg;

	/* Compression is background work: below the writer's priority. */
	setpriority(PRIO_PROCESS, 0, 10);
	pthread_mutex_lock(&q->mu);
	for (;;) {
		struct zq_job job;
		struct zq_result r;
		uint64_t one = 1;

		while (!q->stop && q->njobs == 0)
			pthread_cond_wait(&q->cv, &q->mu);
		if (q->stop)
			break;
		job = q->jobs[q->head];
		q->head = (q->head + 1) % ZQ_MAX;
		q->njobs--;
		q->running = 1;
		pthread_mutex_unlock(&q->mu);

		memset(&r, 0, sizeof(r));
		snprintf(r.src, sizeof(r.src), "%s", job.src);
		snprintf(r.tmp, sizeof(r.tmp), "%s.part", job.dst);
		r.gen = job.gen;
		r.ok = zq_compress_file(job.src, r.tmp,
					ends_with(job.dst, ".zst") ? LOGD_COMP_ZSTD : LOGD_COMP_GZIP,
					&r.in_bytes, &r.out_bytes) == 0;

		pthread_mutex_lock(&q->mu);
		q->running = 0;
		if (q->ndone < ZQ_MAX)
			q->done[q->ndone++] = r;
		else
			unlink(r.tmp); /* cannot happen: jobs are bounded alike */
		if (write(q->evfd, &one, sizeof(one)) < 0 && errno != EAGAIN)
			break;
	}
	pthread_mutex_unlock(&q->mu);
	return NULL;
}

int zq_start(struct zq **out)
{
	struct zq *q = calloc(1, sizeof(*q));
	int err;

	if (!q)
		return -1;
	q->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (q->evfd < 0)
		goto fail;
	pthread_mutex_init(&q->mu, NULL);
	pthread_cond_init(&q->cv, NULL);
	err = pthread_create(&q->thread, NULL, zq_main, q);
	if (err) {
		errno = err;
		pthread_mutex_destroy(&q->mu);
		pthread_cond_destroy(&q->cv);
		goto fail;
	}
	*out = q;
	return 0;
fail:
	if (q->evfd >= 0)
		close(q->evfd);
	free(q);
	return -1;
}

int zq_fd(const struct zq *q)
{
	return q->evfd;
}

int zq_push(struct zq *q, const char *src, const char *dst, uint64_t gen)
{
	struct zq_job *j;
	int ret = -1;

	if (!ends_with(dst, ".zst") && !ends_with(dst, ".gz"))
		return -1;
	pthread_mutex_lock(&q->mu);
	if (q->njobs + q->ndone + q->running < ZQ_MAX) {
		j = &q->jobs[(q->head + q->njobs) % ZQ_MAX];
		snprintf(j->src, sizeof(j->src), "%s", src);
		snprintf(j->dst, sizeof(j->dst), "%s", dst);
		j->gen = gen;
		q->njobs++;
		pthread_cond_signal(&q->cv);
		ret = 0;
	}
	pthread_mutex_unlock(&q->mu);
	return ret;
}

int zq_collect(struct zq *q, struct zq_result *r)
{
	uint64_t v;
	int got = 0;

	if (read(q->evfd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		return 0;
	pthread_mutex_lock(&q->mu);
	if (q->ndone) {
		*r = q->done[0];
		memmove(&q->done[0], &q->done[1], (size_t)(q->ndone - 1) * sizeof(q->done[0]));
		q->ndone--;
		got = 1;
		if (q->ndone) {
			uint64_t one = 1;

			if (write(q->evfd, &one, sizeof(one)) < 0 && errno != EAGAIN)
				got = 1;
		}
	}
	pthread_mutex_unlock(&q->mu);
	return got;
}

int zq_busy(struct zq *q)
{
	int n;

	pthread_mutex_lock(&q->mu);
	n = q->njobs + q->running + q->ndone;
	pthread_mutex_unlock(&q->mu);
	return n;
}

void zq_stop(struct zq *q)
{
	if (!q)
		return;
	pthread_mutex_lock(&q->mu);
	q->stop = 1;
	pthread_cond_signal(&q->cv);
	pthread_mutex_unlock(&q->mu);
	pthread_join(q->thread, NULL);
	for (int i = 0; i < q->ndone; i++)
		unlink(q->done[i].tmp);
	close(q->evfd);
	pthread_mutex_destroy(&q->mu);
	pthread_cond_destroy(&q->cv);
	free(q);
}
