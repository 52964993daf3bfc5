/*
 * sp_io.c - whole-buffer socket I/O for libchorus (spec sections 3.11 and
 * 6.5).
 *
 * Every read and write loops until all bytes have moved. EINTR is retried.
 * EAGAIN, which a socket the application made non-blocking returns, is
 * answered with poll() instead of the busy-wait of the original (defect
 * L10). Sends use MSG_NOSIGNAL, so a closed connection gives an error
 * instead of SIGPIPE and the library leaves the process's signal
 * dispositions alone (where MSG_NOSIGNAL is missing, sp_session.c ignores
 * SIGPIPE as Spread does).
 *
 * A descriptor with a TLS link (sp_tls.c) is read and written through it
 * instead; every call below checks first.
 */
#include "lib.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#ifdef MSG_NOSIGNAL
#define LIB_SEND_FLAGS MSG_NOSIGNAL
#else
#define LIB_SEND_FLAGS 0
#endif

/* See lib.h for this and the other I/O helpers. */
void lib_deadline(struct timespec *dl, long long ms)
{
	clock_gettime(CLOCK_MONOTONIC, dl);
	dl->tv_sec += (time_t)(ms / 1000);
	dl->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (dl->tv_nsec >= 1000000000L) {
		dl->tv_sec++;
		dl->tv_nsec -= 1000000000L;
	}
}

/* Rounds up, so that a deadline a few microseconds away still waits. */
int lib_ms_left(const struct timespec *dl)
{
	struct timespec now;
	long long ms;

	if (!dl)
		return -1;
	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (long long)(dl->tv_sec - now.tv_sec) * 1000 +
	     (dl->tv_nsec - now.tv_nsec + 999999) / 1000000;
	if (ms < 0)
		return 0;
	return ms > 1000000000 ? 1000000000 : (int)ms;
}

/* Polls again after EINTR; a deadline already past still gets one
 * look at the socket. */
int lib_io_wait(int fd, short events, const struct timespec *dl)
{
	struct pollfd p = { .fd = fd, .events = events };

	for (;;) {
		int ms = lib_ms_left(dl), r;

		if (ms == 0 && dl) {
			/* A last look without waiting: data that is already
			 * there is not late. */
			r = poll(&p, 1, 0);
			if (r > 0)
				return 0;
			errno = ETIMEDOUT;
			return -1;
		}
		r = poll(&p, 1, ms);
		if (r > 0)
			return 0;
		if (r < 0 && errno != EINTR)
			return -1;
	}
}

/* Zero-length elements count as done. */
int lib_iov_advance(struct iovec *iov, int n, size_t done)
{
	int i = 0;

	while (i < n && done >= iov[i].iov_len) {
		done -= iov[i].iov_len;
		iov[i].iov_len = 0;
		i++;
	}
	if (i < n && done) {
		iov[i].iov_base = (char *)iov[i].iov_base + done;
		iov[i].iov_len -= done;
	}
	return i;
}

/* One sendmsg() per round; a short write continues where it stopped. */
int lib_io_writev(int fd, struct iovec *iov, int n)
{
	struct lib_tls *t = lib_tls_of(fd);
	int i = lib_iov_advance(iov, n, 0);

	if (t)
		return lib_tls_writev(t, iov + i, n - i);
	while (i < n) {
		struct msghdr mh = { .msg_iov = iov + i,
				     .msg_iovlen = (size_t)(n - i) };
		ssize_t r = sendmsg(fd, &mh, LIB_SEND_FLAGS);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			if ((errno == EAGAIN || errno == EWOULDBLOCK) &&
			    lib_io_wait(fd, POLLOUT, NULL) == 0)
				continue;
			return -1;
		}
		i += lib_iov_advance(iov + i, n - i, (size_t)r);
	}
	return 0;
}

/* lib_io_writev() of one buffer. */
int lib_io_write(int fd, const void *buf, size_t len)
{
	struct iovec iov = { (void *)(uintptr_t)buf, len };

	return lib_io_writev(fd, &iov, 1);
}

/* EOF (a read of 0) is an error: a frame never ends early. */
int lib_io_readv(int fd, struct iovec *iov, int n,
		 const struct timespec *deadline)
{
	struct lib_tls *t = lib_tls_of(fd);
	int i = lib_iov_advance(iov, n, 0);

	while (i < n) {
		ssize_t r;

		if (t) {
			r = lib_tls_read(t, iov[i].iov_base, iov[i].iov_len,
					 deadline);
			if (r < 0)
				return -1;
			i += lib_iov_advance(iov + i, n - i, (size_t)r);
			continue;
		}
		if (deadline && lib_io_wait(fd, POLLIN, deadline) != 0)
			return -1;
		r = readv(fd, iov + i, n - i);
		if (r == 0)
			return -1;
		if (r < 0) {
			if (errno == EINTR)
				continue;
			if ((errno == EAGAIN || errno == EWOULDBLOCK) &&
			    lib_io_wait(fd, POLLIN, deadline) == 0)
				continue;
			return -1;
		}
		i += lib_iov_advance(iov + i, n - i, (size_t)r);
	}
	return 0;
}

/* lib_io_readv() of one buffer. */
int lib_io_read(int fd, void *buf, size_t len,
		const struct timespec *deadline)
{
	struct iovec iov = { buf, len };

	return lib_io_readv(fd, &iov, 1, deadline);
}

/* Used by read-ahead: takes whatever has arrived, at least one byte. */
ssize_t lib_io_read_some(int fd, struct iovec *iov, int n)
{
	struct lib_tls *t = lib_tls_of(fd);

	if (t)
		return lib_tls_read_some(t, iov, n);
	for (;;) {
		ssize_t r = readv(fd, iov, n);

		if (r > 0)
			return r;
		if (r == 0)
			return -1;
		if (errno == EINTR)
			continue;
		if ((errno == EAGAIN || errno == EWOULDBLOCK) &&
		    lib_io_wait(fd, POLLIN, NULL) == 0)
			continue;
		return -1;
	}
}
