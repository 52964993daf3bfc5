/*
 * ring_inject.c - an attacker on the ring's network, for the tests of
 * sealed ring datagrams (tests/netns/test_ring_sec.sh).
 *
 *   ring_inject capture -a ADDR -p PORT -o FILE [-t SECONDS] [-m MIN]
 *                       [-s SENDER]
 *       binds ADDR:PORT (SO_REUSEADDR, as the daemons' segment socket
 *       does, so a broadcast reaches both) and writes the first sealed
 *       datagram ("RS") of at least MIN bytes (from daemon SENDER, an
 *       IPv4 address, if given) it hears to FILE; exits 1 if none came
 *       within SECONDS (default 10).
 *   ring_inject replay -a ADDR -p PORT -f FILE [-n COUNT]
 *       sends the datagram of FILE COUNT times (default 1) to ADDR:PORT.
 *   ring_inject junk -a ADDR -p PORT -f FILE [-n COUNT] [-S SEED]
 *       sends COUNT forgeries in turn: random bytes; the datagram of FILE
 *       with one byte changed; its header (sender, boot, key id) with a
 *       new counter and a random body and tag.
 *
 * Prints one line of what it did. Bounded: at most 100000 datagrams, one
 * capture of at most 60 s. Sends are paced (every 64 datagrams, 1 ms) so
 * that the receivers' socket buffers keep them all.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAXDG 65536

static void usage(void)
{
	fprintf(stderr, "usage: ring_inject capture|replay|junk -a addr -p port "
		"[-o file] [-f file] [-n count] [-t seconds] [-m min] [-s sender] "
		"[-S seed]\n");
	exit(2);
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int sock(void)
{
	int one = 1, fd = socket(AF_INET, SOCK_DGRAM, 0);

	if (fd < 0) {
		perror("socket");
		exit(1);
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_BROADCAST, &one, sizeof(one));
	return fd;
}

static int capture(struct sockaddr_in *sin, const char *out, int secs,
		   size_t min, const uint8_t *sender)
{
	static uint8_t buf[MAXDG];
	int fd = sock();
	int64_t until = now_ms() + secs * 1000;
	FILE *fp;

	if (bind(fd, (struct sockaddr *)sin, sizeof(*sin)) != 0) {
		perror("bind");
		return 1;
	}
	while (now_ms() < until) {
		struct pollfd p = { fd, POLLIN, 0 };
		ssize_t n;

		if (poll(&p, 1, (int)(until - now_ms())) != 1)
			continue;
		n = recv(fd, buf, sizeof(buf), 0);
		if (n < (ssize_t)min || n < 8 || buf[0] != 'R' || buf[1] != 'S' ||
		    (sender && memcmp(buf + 4, sender, 4) != 0))
			continue;
		fp = fopen(out, "wb");
		if (!fp || fwrite(buf, 1, (size_t)n, fp) != (size_t)n ||
		    fclose(fp) != 0) {
			perror(out);
			return 1;
		}
		printf("captured %zd bytes\n", n);
		return 0;
	}
	printf("nothing sealed heard in %d s\n", secs);
	return 1;
}

static size_t load(const char *path, uint8_t *buf)
{
	FILE *fp = fopen(path, "rb");
	size_t n;

	if (!fp) {
		perror(path);
		exit(1);
	}
	n = fread(buf, 1, MAXDG, fp);
	fclose(fp);
	if (n < 44) {
		fprintf(stderr, "%s: %zu bytes, too short\n", path, n);
		exit(1);
	}
	return n;
}

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

int main(int argc, char **argv)
{
	static uint8_t dg[MAXDG], f[MAXDG];
	const char *cmd, *out = NULL, *in = NULL;
	struct sockaddr_in sin;
	long count = 1, secs = 10, min = 0;
	uint64_t seed = 1;
	struct in_addr from;
	int ch, fd, sent = 0, have_from = 0;
	size_t n;

	if (argc < 2)
		usage();
	cmd = argv[1];
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	optind = 2;
	while ((ch = getopt(argc, argv, "a:f:m:n:o:p:s:S:t:")) != -1) {
		switch (ch) {
		case 'a':
			if (inet_pton(AF_INET, optarg, &sin.sin_addr) != 1)
				usage();
			break;
		case 'f': in = optarg; break;
		case 'm': min = atol(optarg); break;
		case 'n': count = atol(optarg); break;
		case 'o': out = optarg; break;
		case 'p': sin.sin_port = htons((uint16_t)atoi(optarg)); break;
		case 's':
			if (inet_pton(AF_INET, optarg, &from) != 1)
				usage();
			have_from = 1;
			break;
		case 'S': seed = strtoull(optarg, NULL, 0) | 1; break;
		case 't': secs = atol(optarg); break;
		default: usage();
		}
	}
	if (count < 1 || count > 100000 || secs < 1 || secs > 60 || !sin.sin_port)
		usage();
	if (strcmp(cmd, "capture") == 0 && out)
		return capture(&sin, out, (int)secs, (size_t)min,
			       have_from ? (const uint8_t *)&from.s_addr : NULL);
	if (!in || (strcmp(cmd, "replay") != 0 && strcmp(cmd, "junk") != 0))
		usage();
	n = load(in, dg);
	fd = sock();
	for (long i = 0; i < count; i++) {
		const uint8_t *p = dg;
		size_t len = n;

		if (cmd[0] == 'j') {
			memcpy(f, dg, n);
			switch (i % 3) {
			case 0: /* random bytes, random length */
				len = 1 + rnd(&seed) % 1500;
				for (size_t k = 0; k < len; k++)
					f[k] = (uint8_t)rnd(&seed);
				break;
			case 1: /* one byte changed */
				f[rnd(&seed) % n] ^= (uint8_t)(1 + rnd(&seed) % 255);
				break;
			default: /* a real header, a fresh counter, junk after */
				for (int k = 0; k < 8; k++)
					f[20 + k] = (uint8_t)rnd(&seed);
				for (size_t k = 28; k < n; k++)
					f[k] = (uint8_t)rnd(&seed);
				break;
			}
			p = f;
		}
		if (sendto(fd, p, len, 0, (struct sockaddr *)&sin, sizeof(sin)) ==
		    (ssize_t)len)
			sent++;
		if (i % 64 == 63)
			usleep(1000);
	}
	printf("%s: sent %d of %ld datagrams\n", cmd, sent, count);
	return sent == count ? 0 : 1;
}
