/*
 * logd_io.c - chorus-logd's write thread (see logd_io.h).
 */
#include "log/logd_io.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define LIO_RUN_MAX 16 /* writes joined into one call at most */

struct lio_job {
	int fd;
	char *buf;
	size_t len;
	uint64_t off;
};

struct lio {
	pthread_t thread, syncer;
	pthread_mutex_t mu;
	pthread_cond_t work;        /* the thread waits for jobs */
	pthread_cond_t done;        /* the caller waits for the thread */
	pthread_cond_t swork;       /* the syncer waits for a job or writes */
	size_t buf_size;
	unsigned max_bufs, nbufs;
	char **free;                /* nfree buffers ready for lio_get */
	unsigned nfree;
	char **all;                 /* every buffer allocated, to free them */
	struct lio_job *q;          /* ring of max_bufs jobs */
	unsigned head, njobs, busy; /* busy: the thread holds a job */
	int err, err_fd, stop;
	uint64_t queued, written;   /* writes queued and done, ever */
	struct lio_sync *sjob;      /* the commit's step, queued or running */
	uint64_t sticket;           /* it waits for this many writes */
	int sbusy;                  /* sjob not finished */
	int evfd;                   /* readable when an sjob finished */
	struct lio_stats st;
};

int lio_pwrite_all(int fd, const char *p, size_t len, uint64_t off)
{
	while (len) {
		ssize_t w = pwrite(fd, p, len, (off_t)off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		if (w == 0)
			return -EIO;
		p += w;
		off += (uint64_t)w;
		len -= (size_t)w;
	}
	return 0;
}

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* Waits on done (mu held), counting the caller's time. */
static void wait_done(struct lio *io, uint64_t *us)
{
	uint64_t t0 = now_us();

	pthread_cond_wait(&io->done, &io->mu);
	*us += now_us() - t0;
}

/* pwritev() of all of iov[0..n) at off, again after EINTR and short
 * writes (iov is consumed). Returns 0 or a negative errno. */
static int pwritev_all(int fd, struct iovec *iov, int n, uint64_t off)
{
	while (n > 0) {
		ssize_t w = pwritev(fd, iov, n, (off_t)off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		if (w == 0)
			return -EIO;
		off += (uint64_t)w;
		while (n > 0 && (size_t)w >= iov->iov_len) {
			w -= (ssize_t)iov->iov_len;
			iov++;
			n--;
		}
		if (n > 0) {
			iov->iov_base = (char *)iov->iov_base + w;
			iov->iov_len -= (size_t)w;
		}
	}
	return 0;
}

/* Writes a run of jobs that continue one another in one file. */
static int write_run(const struct lio_job *job, int n)
{
	struct iovec iov[LIO_RUN_MAX];
	size_t len = 0;
	int ret;

	for (int i = 0; i < n; i++) {
		iov[i].iov_base = job[i].buf;
		iov[i].iov_len = job[i].len;
		len += job[i].len;
	}
	ret = pwritev_all(job->fd, iov, n, job->off);
	/* Start the writeback now, without waiting for it: the next
	 * fdatasync() then has little left to do. */
	if (ret == 0)
		sync_file_range(job->fd, (off64_t)job->off, (off64_t)len,
				SYNC_FILE_RANGE_WRITE);
	return ret;
}

static void *lio_main(void *arg)
{
	struct lio *io = arg;

	pthread_mutex_lock(&io->mu);
	for (;;) {
		struct lio_job run[LIO_RUN_MAX];
		int n = 0, skip, ret = 0;

		while (!io->stop && io->njobs == 0)
			pthread_cond_wait(&io->work, &io->mu);
		if (io->njobs == 0)
			break; /* stopped, nothing left */
		/* Queued writes that continue one another in the same file go
		 * out in one call. */
		do {
			run[n++] = io->q[io->head];
			io->head = (io->head + 1) % io->max_bufs;
			io->njobs--;
		} while (n < LIO_RUN_MAX && io->njobs &&
			 io->q[io->head].fd == run[0].fd &&
			 io->q[io->head].off == run[n - 1].off + run[n - 1].len);
		io->busy = n;
		skip = io->err != 0;
		pthread_mutex_unlock(&io->mu);

		if (!skip)
			ret = write_run(run, n);

		pthread_mutex_lock(&io->mu);
		if (ret != 0 && io->err == 0) {
			io->err = ret;
			io->err_fd = run[0].fd;
		}
		for (int i = 0; i < n; i++) {
			if (!skip && ret == 0)
				io->st.bytes += run[i].len;
			io->free[io->nfree++] = run[i].buf;
		}
		if (!skip && ret == 0)
			io->st.writes++;
		io->busy = 0;
		io->written += (uint64_t)n;
		pthread_cond_broadcast(&io->done);
		if (io->sbusy)
			pthread_cond_signal(&io->swork);
	}
	pthread_mutex_unlock(&io->mu);
	return NULL;
}

static int fsync_ok(int fd)
{
	return fdatasync(fd) == 0 ? 0 : -errno;
}

/* The sync thread: a commit's files synced after the writes queued
 * before it are done (later writes go on meanwhile), then its record
 * appended to the journal and synced. */
static void *lio_syncer(void *arg)
{
	struct lio *io = arg;

	pthread_mutex_lock(&io->mu);
	for (;;) {
		struct lio_sync *j;
		uint64_t t0, one = 1;
		int ret;

		while (!io->stop && !(io->sjob && io->written >= io->sticket))
			pthread_cond_wait(&io->swork, &io->mu);
		if (!io->sjob)
			break; /* stopped */
		j = io->sjob;
		ret = io->err; /* a write it depends on failed */
		pthread_mutex_unlock(&io->mu);

		t0 = now_us();
		for (unsigned i = 0; ret == 0 && j->sync && i < j->nfds; i++)
			ret = fsync_ok(j->fds[i]);
		if (ret == 0 && j->rec_len) {
			ret = lio_pwrite_all(j->jfd, j->rec, j->rec_len, j->joff);
			if (ret == 0 && j->sync)
				ret = fsync_ok(j->jfd);
			/* Never a torn record left for the next one to follow. */
			if (ret != 0 && ftruncate(j->jfd, (off_t)j->joff) != 0)
				j->cut_failed = 1;
		}
		j->us = now_us() - t0;
		j->err = ret;

		pthread_mutex_lock(&io->mu);
		/* A failed sync may have lost written pages: nothing more is
		 * written or recorded until the store rolls back. */
		if (ret != 0 && io->err == 0) {
			io->err = ret;
			io->err_fd = -1;
		}
		io->sjob = NULL;
		io->sbusy = 0;
		pthread_cond_broadcast(&io->done);
		if (write(io->evfd, &one, sizeof(one)) < 0) {
			/* The counter is far from full: cannot happen. */
		}
	}
	pthread_mutex_unlock(&io->mu);
	return NULL;
}

int lio_open(struct lio **out, size_t buf_size, unsigned max_bufs)
{
	struct lio *io;
	sigset_t all, old;
	int err;

	if (buf_size == 0 || buf_size % 4096 || max_bufs < 2)
		return -EINVAL;
	io = calloc(1, sizeof(*io));
	if (!io)
		return -ENOMEM;
	io->evfd = -1;
	io->buf_size = buf_size;
	io->max_bufs = max_bufs;
	io->free = calloc(max_bufs, sizeof(*io->free));
	io->all = calloc(max_bufs, sizeof(*io->all));
	io->q = calloc(max_bufs, sizeof(*io->q));
	if (!io->free || !io->all || !io->q) {
		err = ENOMEM;
		goto fail;
	}
	io->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (io->evfd < 0) {
		err = errno;
		goto fail;
	}
	pthread_mutex_init(&io->mu, NULL);
	pthread_cond_init(&io->work, NULL);
	pthread_cond_init(&io->done, NULL);
	pthread_cond_init(&io->swork, NULL);
	/* Signals are the main loop's: the threads run with all blocked. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = pthread_create(&io->thread, NULL, lio_main, io);
	if (!err) {
		err = pthread_create(&io->syncer, NULL, lio_syncer, io);
		if (err) {
			pthread_mutex_lock(&io->mu);
			io->stop = 1;
			pthread_cond_signal(&io->work);
			pthread_mutex_unlock(&io->mu);
			pthread_join(io->thread, NULL);
		}
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err) {
		pthread_mutex_destroy(&io->mu);
		pthread_cond_destroy(&io->work);
		pthread_cond_destroy(&io->done);
		pthread_cond_destroy(&io->swork);
		goto fail;
	}
	*out = io;
	return 0;
fail:
	if (io->evfd >= 0)
		close(io->evfd);
	free(io->free);
	free(io->all);
	free(io->q);
	free(io);
	return -err;
}

void lio_close(struct lio *io)
{
	if (!io)
		return;
	lio_sync_wait(io);
	pthread_mutex_lock(&io->mu);
	io->stop = 1;
	pthread_cond_signal(&io->work);
	pthread_cond_signal(&io->swork);
	pthread_mutex_unlock(&io->mu);
	pthread_join(io->thread, NULL);
	pthread_join(io->syncer, NULL);
	for (unsigned i = 0; i < io->nbufs; i++)
		free(io->all[i]);
	close(io->evfd);
	pthread_mutex_destroy(&io->mu);
	pthread_cond_destroy(&io->work);
	pthread_cond_destroy(&io->done);
	pthread_cond_destroy(&io->swork);
	free(io->free);
	free(io->all);
	free(io->q);
	free(io);
}

char *lio_get(struct lio *io)
{
	char *b = NULL;

	pthread_mutex_lock(&io->mu);
	while (io->nfree == 0) {
		void *p;

		if (io->nbufs < io->max_bufs) {
			if (posix_memalign(&p, 4096, io->buf_size) != 0)
				break;
			io->all[io->nbufs++] = p;
			io->free[io->nfree++] = p;
			break;
		}
		if (io->njobs == 0 && !io->busy)
			break; /* every buffer is in the caller's hands */
		io->st.waits++;
		wait_done(io, &io->st.get_wait_us);
	}
	if (io->nfree)
		b = io->free[--io->nfree];
	pthread_mutex_unlock(&io->mu);
	return b;
}

void lio_put(struct lio *io, char *buf)
{
	if (!buf)
		return;
	pthread_mutex_lock(&io->mu);
	io->free[io->nfree++] = buf;
	pthread_mutex_unlock(&io->mu);
}

int lio_write(struct lio *io, int fd, char *buf, size_t len, uint64_t off)
{
	int ret;

	pthread_mutex_lock(&io->mu);
	ret = io->err;
	if (ret != 0) {
		io->free[io->nfree++] = buf;
	} else {
		/* Never full: a job holds a buffer, and there are max_bufs. */
		io->q[(io->head + io->njobs) % io->max_bufs] = (struct lio_job){
			.fd = fd, .buf = buf, .len = len, .off = off,
		};
		io->njobs++;
		io->queued++;
		pthread_cond_signal(&io->work);
	}
	pthread_mutex_unlock(&io->mu);
	return ret;
}

int lio_drain(struct lio *io, int *fd)
{
	int ret;

	pthread_mutex_lock(&io->mu);
	while (io->njobs || io->busy || io->sbusy)
		wait_done(io, &io->st.drain_wait_us);
	ret = io->err;
	if (fd)
		*fd = io->err_fd;
	pthread_mutex_unlock(&io->mu);
	return ret;
}

/* *v, read under the lock. */
static int locked_read(struct lio *io, const int *v)
{
	int ret;

	pthread_mutex_lock(&io->mu);
	ret = *v;
	pthread_mutex_unlock(&io->mu);
	return ret;
}

int lio_failed(struct lio *io)
{
	return locked_read(io, &io->err);
}

void lio_reset(struct lio *io)
{
	lio_drain(io, NULL);
	pthread_mutex_lock(&io->mu);
	io->err = 0;
	io->err_fd = -1;
	pthread_mutex_unlock(&io->mu);
}

int lio_sync_start(struct lio *io, struct lio_sync *job)
{
	pthread_mutex_lock(&io->mu);
	if (io->sbusy) {
		pthread_mutex_unlock(&io->mu);
		return -EBUSY;
	}
	job->err = 0;
	job->us = 0;
	job->cut_failed = 0;
	io->sjob = job;
	io->sticket = io->queued;
	io->sbusy = 1;
	pthread_cond_signal(&io->swork);
	pthread_mutex_unlock(&io->mu);
	return 0;
}

int lio_sync_busy(struct lio *io)
{
	return locked_read(io, &io->sbusy);
}

void lio_sync_wait(struct lio *io)
{
	uint64_t n;

	pthread_mutex_lock(&io->mu);
	while (io->sbusy)
		wait_done(io, &io->st.sync_wait_us);
	pthread_mutex_unlock(&io->mu);
	/* The wake-up of this job is no longer news. */
	while (read(io->evfd, &n, sizeof(n)) > 0)
		;
}

int lio_fd(const struct lio *io)
{
	return io->evfd;
}

void lio_stats(struct lio *io, struct lio_stats *out)
{
	pthread_mutex_lock(&io->mu);
	*out = io->st;
	out->bufs = io->nbufs;
	pthread_mutex_unlock(&io->mu);
}
