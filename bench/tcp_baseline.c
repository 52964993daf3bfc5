/*
 * tcp_baseline.c - the ceiling for chorus-flood: raw loopback TCP between
 * two processes, one send() per message as libchorus does, the receiver
 * reading in large chunks; and the same through a relay process that
 * forwards bytes as a daemon would (read large, write all), with no
 * parsing at all.
 *
 * usage: tcp_baseline [-r] -b bytes -m messages
 * prints: tcp direct|relay: N messages of B bytes in S s: X msg/s, Y MB/s
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CHUNK (256 * 1024)

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int listener(unsigned *port)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0 ||
	    listen(fd, 4) != 0 || getsockname(fd, (struct sockaddr *)&sin, &len) != 0) {
		perror("listen");
		exit(1);
	}
	*port = ntohs(sin.sin_port);
	return fd;
}

static int dial(unsigned port)
{
	struct sockaddr_in sin;
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0) {
		perror("connect");
		exit(1);
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

static int accept_one(int lfd)
{
	int fd = accept(lfd, NULL, NULL), one = 1;

	if (fd < 0) {
		perror("accept");
		exit(1);
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

/* Reads until `total` bytes arrived; returns 0. */
static void drain(int fd, unsigned long long total)
{
	char *buf = malloc(CHUNK);

	while (total) {
		ssize_t r = read(fd, buf, CHUNK);

		if (r <= 0) {
			perror("read");
			exit(1);
		}
		total -= (unsigned long long)r;
	}
	free(buf);
}

static void relay(int in, int out)
{
	char *buf = malloc(CHUNK);

	for (;;) {
		ssize_t r = read(in, buf, CHUNK), w = 0;

		if (r <= 0)
			break;
		while (w < r) {
			ssize_t k = write(out, buf + w, (size_t)(r - w));

			if (k <= 0)
				exit(1);
			w += k;
		}
	}
	free(buf);
	exit(0);
}

int main(int argc, char **argv)
{
	unsigned long bytes = 1000, count = 100000;
	int use_relay = 0, ch, sync_pipe[2];
	unsigned rport, lport;
	int rl, ll, snd;
	pid_t recv_pid, relay_pid = 0;
	double t0, t1;
	char *msg, c;

	while ((ch = getopt(argc, argv, "b:m:r")) != -1) {
		switch (ch) {
		case 'b': bytes = strtoul(optarg, NULL, 10); break;
		case 'm': count = strtoul(optarg, NULL, 10); break;
		case 'r': use_relay = 1; break;
		default:
			fprintf(stderr, "usage: tcp_baseline [-r] -b bytes -m messages\n");
			return 1;
		}
	}
	if (bytes == 0 || count == 0 || pipe(sync_pipe) != 0)
		return 1;
	rl = listener(&rport);
	recv_pid = fork();
	if (recv_pid == 0) {
		int fd = accept_one(rl);

		drain(fd, (unsigned long long)bytes * count);
		(void)write(sync_pipe[1], "x", 1);
		_exit(0);
	}
	if (use_relay) {
		ll = listener(&lport);
		relay_pid = fork();
		if (relay_pid == 0) {
			int out = dial(rport), in = accept_one(ll);

			relay(in, out);
		}
		snd = dial(lport);
	} else {
		snd = dial(rport);
	}
	msg = calloc(1, bytes);
	t0 = now_s();
	for (unsigned long i = 0; i < count; i++) {
		size_t off = 0;

		while (off < bytes) {
			ssize_t w = send(snd, msg + off, bytes - off, MSG_NOSIGNAL);

			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0) {
				perror("send");
				return 1;
			}
			off += (size_t)w;
		}
	}
	if (read(sync_pipe[0], &c, 1) != 1)
		return 1;
	t1 = now_s();
	close(snd);
	waitpid(recv_pid, NULL, 0);
	if (relay_pid)
		waitpid(relay_pid, NULL, 0);
	printf("tcp %s: %lu messages of %lu bytes in %.3f s: %.0f msg/s, %.1f MB/s\n",
	       use_relay ? "relay" : "direct", count, bytes, t1 - t0,
	       (double)count / (t1 - t0), (double)count * bytes / (t1 - t0) / 1e6);
	free(msg);
	return 0;
}
