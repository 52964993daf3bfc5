/*
 * netns_lat.c - throughput and latency of messages between two clients of
 * different daemons (bench/netns_throughput.sh runs them in namespaces).
 *
 *   netns_lat recv -s daemon -g group [-T seconds] [-N]
 *   netns_lat send -s daemon -g group [-n messages] [-b bytes] [-t service]
 *                  [-w window] [-r msgs/s] [-T seconds] [-N]
 *
 * The receiver joins the group and says "hello" (a small AGREED message to
 * the group, with SELF_DISCARD) every 200 ms until data arrives; the
 * sender joins the group, waits for a hello, then sends `messages` data
 * messages of `bytes` with SELF_DISCARD. Each carries its number, the
 * total and the sender's CLOCK_MONOTONIC time (both processes run on one
 * machine, so the receiver's clock is the same clock). The receiver
 * acknowledges every `window`/4 messages and the last one (AGREED, to the
 * group, SELF_DISCARD); the sender keeps at most `window` messages
 * unacknowledged (a daemon disconnects a session with too many queued
 * frames), and with -r also paces itself to that rate.
 *
 * Like chorus-flood, the receiver reads with the library's read-ahead and
 * the unpaced sender writes with its send coalescing (chorus.h): a burst
 * of up to LAT_BURST messages leaves in one write, and the sender looks
 * for acknowledgements once a burst (a message's latency counts its wait
 * in the burst). -N turns both off: one write per message and a look for
 * input after each, one read per message.
 *
 * The receiver prints one line:
 *   "lat recv: N msgs of B bytes in S s: X msg/s, Y MB/s; latency us
 *    p50 A p90 B p99 C max D; cpu U s"
 * (S from the first message to the last; U the CPU seconds, user and
 * system, the process used), and the sender "lat send: ... cpu U s"; the
 * receiver fails on a missing, repeated or out-of-order number.
 * Everything is bounded by -T.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "chorus.h"
#include "sp.h"

#define LAT_MAGIC 0x74616c63u /* "clat" */
#define LAT_HELLO 0x6f6c6568u /* "helo" */
#define LAT_ACK 0x6b636163u   /* "cack" */
#define LAT_MAX_BYTES 100000
#define LAT_MAX_MSGS 10000000u
#define LAT_BURST 32

struct lat_head {
	uint32_t magic, seq, total, pad;
	uint64_t sent_ns;
};

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* CPU seconds (user + system) this process has used. */
static double cpu_s(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) != 0)
		return 0;
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Waits up to ms for input on the mailbox: 1 input, 0 none, <0 error. */
static int wait_in(mailbox mb, int ms)
{
	struct pollfd p = { mb, POLLIN, 0 };
	int r = SP_poll(mb);

	if (r != 0)
		return r > 0 ? 1 : r;
	r = poll(&p, 1, ms);
	return r < 0 ? (errno == EINTR ? 0 : -1) : r > 0;
}

/* Receives one event into buf; returns its length (data) or <0, and in
 * *st the service type. */
static int recv_one(mailbox mb, char *buf, int cap, service *st)
{
	char sender[MAX_GROUP_NAME], groups[8][MAX_GROUP_NAME];
	int ng, en;
	int16 mt;

	*st = DROP_RECV;
	return SP_receive(mb, st, sender, 8, &ng, groups, &mt, &en, cap, buf);
}

static int send_small(mailbox mb, const char *group, uint32_t magic,
		      uint32_t value)
{
	struct lat_head h = { magic, value, 0, 0, mono_ns() };

	return SP_multicast(mb, AGREED_MESS | SELF_DISCARD, group, 0,
			    (int)sizeof(h), (const char *)&h);
}

static int do_recv(mailbox mb, const char *group, double seconds, int plain)
{
	static char buf[LAT_MAX_BYTES + 64];
	uint64_t *lat = NULL, first = 0, last = 0, deadline, next_hello = 0;
	uint32_t expect = 1, total = 0, step = 1;
	unsigned long long bytes = 0;
	int r;

	deadline = mono_ns() + (uint64_t)(seconds * 1e9);
	if (!plain && (r = chorus_set_readahead(mb, 1)) != 0)
		goto fail;
	if ((r = SP_join(mb, group)) < 0)
		goto fail;
	for (;;) {
		uint64_t now = mono_ns();
		service st;

		if (now > deadline) {
			fprintf(stderr, "netns_lat recv: time is up after %u of %u "
				"messages\n", expect - 1, total);
			free(lat);
			return 1;
		}
		if (!total && now >= next_hello) {
			if ((r = send_small(mb, group, LAT_HELLO, 0)) < 0)
				goto fail;
			next_hello = now + 200000000u;
		}
		r = wait_in(mb, 50);
		if (r < 0)
			goto fail;
		if (r == 0)
			continue;
		r = recv_one(mb, buf, (int)sizeof(buf), &st);
		if (r < 0)
			goto fail;
		if (!Is_regular_mess(st) || r < (int)sizeof(struct lat_head))
			continue;
		{
			struct lat_head h;

			memcpy(&h, buf, sizeof(h));
			now = mono_ns();
			if (h.magic != LAT_MAGIC)
				continue;
			if (!total) {
				if (h.total == 0 || h.total > LAT_MAX_MSGS)
					goto bad;
				total = h.total;
				step = h.pad ? h.pad : 1;
				lat = calloc(total, sizeof(*lat));
				if (!lat) {
					fprintf(stderr, "netns_lat recv: out of memory\n");
					return 1;
				}
				first = now;
			}
			if (h.seq != expect || h.total != total) {
				fprintf(stderr, "netns_lat recv: message %u where %u was "
					"due\n", h.seq, expect);
				free(lat);
				return 1;
			}
			lat[expect - 1] = now - h.sent_ns;
			bytes += (unsigned long long)r;
			last = now;
			if (expect % step == 0 || expect == total)
				if ((r = send_small(mb, group, LAT_ACK, expect)) < 0)
					goto fail;
			if (expect++ == total)
				break;
		}
	}
	qsort(lat, total, sizeof(*lat), cmp_u64);
	{
		double s = total > 1 ? (double)(last - first) / 1e9 : 0;

		printf("lat recv: %u msgs of %llu bytes in %.3f s: %.0f msg/s, "
		       "%.1f MB/s; latency us p50 %.0f p90 %.0f p99 %.0f max %.0f; "
		       "cpu %.2f s\n",
		       total, bytes / total, s, s > 0 ? total / s : 0,
		       s > 0 ? (double)bytes / s / 1e6 : 0,
		       lat[total / 2] / 1e3, lat[(uint64_t)total * 9 / 10] / 1e3,
		       lat[(uint64_t)total * 99 / 100] / 1e3, lat[total - 1] / 1e3,
		       cpu_s());
	}
	free(lat);
	return 0;
bad:
	fprintf(stderr, "netns_lat recv: bad first message\n");
	free(lat);
	return 1;
fail:
	fprintf(stderr, "netns_lat recv: %s\n", chorus_strerror(r));
	free(lat);
	return 1;
}

static int do_send(mailbox mb, const char *group, uint32_t count, int bytes,
		   service svc, uint32_t window, double rate, double seconds,
		   int plain)
{
	static char buf[LAT_MAX_BYTES], rbuf[4096];
	uint64_t deadline = mono_ns() + (uint64_t)(seconds * 1e9), start;
	uint32_t sent = 0, acked = 0, step = window / 4 ? window / 4 : 1;
	int ready = 0, r;

	memset(buf, 's', sizeof(buf));
	/* Coalescing only where nothing paces the sends: a paced message
	 * leaves at once. */
	if (!plain && rate <= 0 &&
	    (r = chorus_set_send_buffer(mb, (size_t)LAT_BURST * ((size_t)bytes + 128))) != 0)
		goto fail;
	if ((r = SP_join(mb, group)) < 0)
		goto fail;
	start = 0;
	while (acked < count) {
		uint64_t now = mono_ns();
		int room = ready && sent < count && sent - acked < window;
		service st;

		if (now > deadline) {
			fprintf(stderr, "netns_lat send: time is up: %u sent, %u "
				"acknowledged\n", sent, acked);
			return 1;
		}
		if (room && rate > 0 &&
		    now < start + (uint64_t)((double)sent * 1e9 / rate))
			room = 0;
		if (room) {
			struct lat_head h = { LAT_MAGIC, sent + 1, count, step, now };

			memcpy(buf, &h, sizeof(h));
			if ((r = SP_multicast(mb, svc | SELF_DISCARD, group, 0, bytes,
					      buf)) < 0)
				goto fail;
			sent++;
			/* The burst goes on while there is room; SP_poll()
			 * writes what coalescing holds. */
			if (!plain && rate <= 0 && sent % LAT_BURST != 0 &&
			    sent < count && sent - acked < window)
				continue;
			if (SP_poll(mb) <= 0)
				continue;
		}
		r = wait_in(mb, room ? 0 : (rate > 0 ? 1 : 50));
		if (r < 0)
			goto fail;
		while (r > 0) {
			r = recv_one(mb, rbuf, (int)sizeof(rbuf), &st);
			if (r < 0)
				goto fail;
			if (Is_regular_mess(st) && r >= (int)sizeof(struct lat_head)) {
				struct lat_head h;

				memcpy(&h, rbuf, sizeof(h));
				if (h.magic == LAT_HELLO && !ready) {
					ready = 1;
					start = mono_ns();
				} else if (h.magic == LAT_ACK && h.seq > acked &&
					   h.seq <= sent) {
					acked = h.seq;
				}
			}
			r = SP_poll(mb) > 0;
		}
	}
	printf("lat send: %u msgs of %d bytes acknowledged; cpu %.2f s\n",
	       count, bytes, cpu_s());
	return 0;
fail:
	fprintf(stderr, "netns_lat send: %s\n", chorus_strerror(r));
	return 1;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: netns_lat recv -s daemon -g group [-T seconds] [-N]\n"
		"       netns_lat send -s daemon -g group [-n msgs] [-b bytes] "
		"[-t agreed|safe|fifo|reliable] [-w window] [-r msgs/s] [-T s] [-N]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *daemon = NULL, *group = "lat", *svc_name = "agreed";
	unsigned long count = 100000, window = 400;
	double rate = 0, seconds = 120;
	int bytes = 1350, ch, is_recv, r, plain = 0;
	char priv[MAX_GROUP_NAME], user[MAX_PRIVATE_NAME + 1];
	service svc;
	mailbox mb;
	sp_time to = { 5, 0 };

	if (argc < 2)
		usage();
	if (strcmp(argv[1], "recv") == 0)
		is_recv = 1;
	else if (strcmp(argv[1], "send") == 0)
		is_recv = 0;
	else
		usage();
	optind = 2;
	while ((ch = getopt(argc, argv, "b:g:n:Nr:s:t:T:w:")) != -1) {
		switch (ch) {
		case 'b': bytes = atoi(optarg); break;
		case 'g': group = optarg; break;
		case 'n': count = strtoul(optarg, NULL, 10); break;
		case 'N': plain = 1; break;
		case 'r': rate = atof(optarg); break;
		case 's': daemon = optarg; break;
		case 't': svc_name = optarg; break;
		case 'T': seconds = atof(optarg); break;
		case 'w': window = strtoul(optarg, NULL, 10); break;
		default: usage();
		}
	}
	if (strcmp(svc_name, "agreed") == 0)
		svc = AGREED_MESS;
	else if (strcmp(svc_name, "safe") == 0)
		svc = SAFE_MESS;
	else if (strcmp(svc_name, "fifo") == 0)
		svc = FIFO_MESS;
	else if (strcmp(svc_name, "reliable") == 0)
		svc = RELIABLE_MESS;
	else
		usage();
	if (!daemon || bytes < (int)sizeof(struct lat_head) || bytes > LAT_MAX_BYTES ||
	    count < 1 || count > LAT_MAX_MSGS || window < 1 || window > 900 ||
	    rate < 0 || seconds <= 0 || seconds > 3600) {
		fprintf(stderr, "netns_lat: need -s daemon; -b %d..%d, -n 1..%u, "
			"-w 1..900, -T 0..3600\n", (int)sizeof(struct lat_head),
			LAT_MAX_BYTES, LAT_MAX_MSGS);
		return 2;
	}
	/* A name of this process (the previous run's session may still be
	 * known to the daemon); the daemon may still be starting: try for up
	 * to 10 s. */
	snprintf(user, sizeof(user), "%s%d", is_recv ? "r" : "s",
		 (int)(getpid() % 100000000));
	for (int tries = 0;; tries++) {
		r = SP_connect_timeout(daemon, user, 0, 0, &mb, priv, to);
		if (r == ACCEPT_SESSION || r != COULD_NOT_CONNECT || tries == 100)
			break;
		usleep(100 * 1000);
	}
	if (r != ACCEPT_SESSION) {
		fprintf(stderr, "netns_lat: connect %s: %s\n", daemon,
			chorus_strerror(r));
		return 1;
	}
	r = is_recv ? do_recv(mb, group, seconds, plain)
		    : do_send(mb, group, (uint32_t)count, bytes, svc,
			      (uint32_t)window, rate, seconds, plain);
	SP_disconnect(mb);
	return r;
}
