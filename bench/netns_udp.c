/*
 * netns_udp.c - raw UDP goodput between two network namespaces, the
 * ceiling that bench/netns_throughput.sh sets chorusd's figures against.
 *
 *   netns_udp sink  -a addr -p port [-t seconds]
 *       receives datagrams on addr:port, 64 per recvmmsg() (as chorusd
 *       reads), until 1 s passes without one (after the first) or the
 *       time is up; prints
 *       "udp sink: N datagrams, B bytes in S s: X dgram/s, Y MB/s"
 *       (S from the first datagram to the last: the goodput).
 *   netns_udp blast -a addr -p port [-b bytes] [-t seconds] [-n count] [-g]
 *       sends datagrams of `bytes` (default 1350) to addr:port as fast as
 *       the socket takes them, batched with sendmmsg, for `seconds`
 *       (default 3) or `count` datagrams; prints what it sent. -g: each
 *       send of the batch is a run of datagrams of `bytes` in one buffer
 *       with UDP segmentation offload (UDP_SEGMENT, at most 64 segments
 *       and 65,000 bytes a run, as chorusd sends its runs); the receiver
 *       still gets datagrams of `bytes`.
 *
 * Both are bounded in time; the addresses are those of the namespaces the
 * benchmark creates.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define UDP_MAX 65507
#define UDP_BATCH 32
#define UDP_RECV_BATCH 64
#define UDP_BUF (8 * 1024 * 1024)
#define GSO_MAX_BYTES 65000
#define GSO_MAX_SEGS 64

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int parse_addr(const char *a, unsigned port, struct sockaddr_in *sin)
{
	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	sin->sin_port = htons((uint16_t)port);
	return inet_pton(AF_INET, a, &sin->sin_addr) == 1 ? 0 : -1;
}

static int sink(const struct sockaddr_in *sin, double seconds)
{
	static char buf[UDP_RECV_BATCH][UDP_MAX];
	struct mmsghdr msgs[UDP_RECV_BATCH];
	struct iovec iov[UDP_RECV_BATCH];
	int fd = socket(AF_INET, SOCK_DGRAM, 0), sz = UDP_BUF;
	struct timeval tv = { 0, 100 * 1000 };
	unsigned long long n = 0, bytes = 0;
	double start = now_s(), first = 0, last = 0;

	if (fd < 0 || bind(fd, (const struct sockaddr *)sin, sizeof(*sin)) != 0) {
		perror("netns_udp sink: bind");
		return 1;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz));
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	memset(msgs, 0, sizeof(msgs));
	for (int i = 0; i < UDP_RECV_BATCH; i++) {
		iov[i].iov_base = buf[i];
		iov[i].iov_len = UDP_MAX;
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
	}
	printf("udp sink: ready\n");
	fflush(stdout);
	for (;;) {
		int r = recvmmsg(fd, msgs, UDP_RECV_BATCH, MSG_WAITFORONE, NULL);
		double t = now_s();

		if (r > 0) {
			if (!n)
				first = t;
			last = t;
			n += (unsigned)r;
			for (int i = 0; i < r; i++)
				bytes += msgs[i].msg_len;
		} else if (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK &&
			   errno != EINTR) {
			perror("netns_udp sink: recvmmsg");
			break;
		}
		if (t - start > seconds || (n && t - last > 1.0))
			break;
	}
	close(fd);
	{
		double s = n > 1 ? last - first : 0;

		printf("udp sink: %llu datagrams, %llu bytes in %.3f s: %.0f dgram/s, "
		       "%.1f MB/s\n", n, bytes, s, s > 0 ? (double)n / s : 0,
		       s > 0 ? (double)bytes / s / 1e6 : 0);
	}
	return n ? 0 : 1;
}

static int blast(const struct sockaddr_in *sin, int bytes, double seconds,
		 unsigned long long count, int gso)
{
	static char buf[UDP_MAX];
	struct mmsghdr msgs[UDP_BATCH];
	struct iovec iov[UDP_BATCH];
	union {
		char buf[CMSG_SPACE(sizeof(uint16_t))];
		struct cmsghdr align;
	} ctl[UDP_BATCH];
	int fd = socket(AF_INET, SOCK_DGRAM, 0), sz = UDP_BUF;
	unsigned long long n = 0;
	unsigned segs = 1;
	double start = now_s(), t = start;

	if (fd < 0 || connect(fd, (const struct sockaddr *)sin, sizeof(*sin)) != 0) {
		perror("netns_udp blast: connect");
		return 1;
	}
	setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof(sz));
	if (gso) {
		segs = GSO_MAX_BYTES / (unsigned)bytes;
		if (segs > GSO_MAX_SEGS)
			segs = GSO_MAX_SEGS;
		if (segs < 1)
			segs = 1;
	}
	memset(buf, 'u', sizeof(buf));
	memset(msgs, 0, sizeof(msgs));
	memset(ctl, 0, sizeof(ctl));
	for (int i = 0; i < UDP_BATCH; i++) {
		iov[i].iov_base = buf;
		iov[i].iov_len = (size_t)bytes * segs;
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
		if (segs > 1) {
			struct cmsghdr *c = &ctl[i].align;
			uint16_t seg = (uint16_t)bytes;

			msgs[i].msg_hdr.msg_control = ctl[i].buf;
			msgs[i].msg_hdr.msg_controllen = sizeof(ctl[i].buf);
			c->cmsg_level = SOL_UDP;
			c->cmsg_type = UDP_SEGMENT;
			c->cmsg_len = CMSG_LEN(sizeof(seg));
			memcpy(CMSG_DATA(c), &seg, sizeof(seg));
		}
	}
	while ((!count || n < count) && t - start < seconds) {
		unsigned want = UDP_BATCH;
		int r;

		if (count && (count - n + segs - 1) / segs < want)
			want = (unsigned)((count - n + segs - 1) / segs);
		r = sendmmsg(fd, msgs, want, 0);
		if (r < 0 && errno != ENOBUFS && errno != EAGAIN && errno != EINTR &&
		    errno != ECONNREFUSED) {
			perror("netns_udp blast: sendmmsg");
			return 1;
		}
		if (r > 0)
			n += (unsigned)r * segs;
		t = now_s();
	}
	close(fd);
	printf("udp blast: %llu datagrams of %d bytes (%u a send) in %.3f s: "
	       "%.1f MB/s offered\n", n, bytes, segs, t - start,
	       t > start ? (double)n * bytes / (t - start) / 1e6 : 0);
	return 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: netns_udp sink -a addr -p port [-t seconds]\n"
		"       netns_udp blast -a addr -p port [-b bytes] [-t seconds] "
		"[-n count] [-g]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *addr = NULL;
	unsigned long port = 0;
	unsigned long long count = 0;
	double seconds = 3;
	int bytes = 1350, ch, is_sink, gso = 0;
	struct sockaddr_in sin;

	if (argc < 2)
		usage();
	if (strcmp(argv[1], "sink") == 0)
		is_sink = 1;
	else if (strcmp(argv[1], "blast") == 0)
		is_sink = 0;
	else
		usage();
	optind = 2;
	while ((ch = getopt(argc, argv, "a:b:gn:p:t:")) != -1) {
		switch (ch) {
		case 'a': addr = optarg; break;
		case 'b': bytes = atoi(optarg); break;
		case 'g': gso = 1; break;
		case 'n': count = strtoull(optarg, NULL, 10); break;
		case 'p': port = strtoul(optarg, NULL, 10); break;
		case 't': seconds = atof(optarg); break;
		default: usage();
		}
	}
	if (!addr || port == 0 || port > 65535 || bytes < 1 || bytes > UDP_MAX ||
	    seconds <= 0 || seconds > 600 || parse_addr(addr, (unsigned)port, &sin)) {
		fprintf(stderr, "netns_udp: need -a IPv4 address, -p port 1..65535, "
			"-b 1..%d, -t 0..600\n", UDP_MAX);
		return 2;
	}
	return is_sink ? sink(&sin, seconds) : blast(&sin, bytes, seconds, count, gso);
}
