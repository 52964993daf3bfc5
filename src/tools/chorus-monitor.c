/*
 * chorus-monitor.c - shows the ring of a segment: per daemon its state,
 * configuration id and members, token rotations and retransmissions per
 * second, flow-control windows, sessions and queues; as a table or as
 * JSON, once or every N seconds.
 *
 * It asks each daemon with the status query of src/daemon/status.h: one
 * UDP datagram to the daemon's port, one reply. Daemons answer only
 * loopback addresses and interfaces with the monitor role, so run it on
 * a daemon's machine or from a monitor interface. Rates need two
 * samples: a single report takes them one second apart (-w), repeated
 * reports (-i) use the interval. -W waits until the daemons agree on a
 * configuration of a given size (for scripts and benchmarks).
 *
 * Ownership: everything lives in main()'s struct mon; nothing is freed
 * before exit but the socket.
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

#include "daemon/conf.h"
#include "daemon/status.h"
#include "ring/ring_log.h"

#define PROG "chorus-monitor"
#define MAX_TARGETS 128

static const char usage_text[] =
	"usage: " PROG " [-hj] [-c config] [-s address[:port]] [-i seconds] "
	"[-n count] [-t timeout_ms] [-w ms] [-W members]\n";

struct target {
	char label[32];         /* name from the configuration, or address */
	uint32_t addr;
	uint16_t port;
	int answered[2];        /* this sample and the previous one */
	struct status_info cur, prev;
	int64_t t_cur, t_prev;  /* when each sample's reply came */
};

struct mon {
	struct target t[MAX_TARGETS];
	int n;
	int fd;
	int json;
	int timeout_ms;
	uint32_t nonce;
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void ip_str(uint32_t a, char *buf, size_t len)
{
	snprintf(buf, len, "%u.%u.%u.%u", a >> 24, (a >> 16) & 255,
		 (a >> 8) & 255, a & 255);
}

static int add_target(struct mon *m, const char *label, uint32_t addr,
		      uint16_t port)
{
	struct target *t;

	if (m->n == MAX_TARGETS) {
		fprintf(stderr, PROG ": more than %d daemons\n", MAX_TARGETS);
		return -1;
	}
	t = &m->t[m->n++];
	memset(t, 0, sizeof(*t));
	snprintf(t->label, sizeof(t->label), "%s", label);
	t->addr = addr;
	t->port = port;
	return 0;
}

/* "a.b.c.d" or "a.b.c.d:port". */
static int parse_addr(const char *s, uint32_t *addr, uint16_t *port)
{
	char host[64], *colon;
	struct in_addr ia;

	snprintf(host, sizeof(host), "%s", s);
	colon = strchr(host, ':');
	if (colon) {
		char *end;
		unsigned long p;

		*colon = 0;
		errno = 0;
		p = strtoul(colon + 1, &end, 10);
		if (errno || *end || p == 0 || p > 65535)
			return -1;
		*port = (uint16_t)p;
	}
	if (inet_pton(AF_INET, host, &ia) != 1)
		return -1;
	*addr = ntohl(ia.s_addr);
	return 0;
}

/* Asks every target once; waits up to the timeout for the replies. */
static void sample(struct mon *m)
{
	uint8_t req[STATUS_REQ_LEN], buf[STATUS_REPLY_MAX];
	uint32_t base = m->nonce;
	int64_t until;
	int left = m->n;

	m->nonce += (uint32_t)m->n;
	for (int i = 0; i < m->n; i++) {
		struct target *t = &m->t[i];
		struct sockaddr_in sin;

		t->prev = t->cur;
		t->t_prev = t->t_cur;
		t->answered[1] = t->answered[0];
		t->answered[0] = 0;
		memset(&sin, 0, sizeof(sin));
		sin.sin_family = AF_INET;
		sin.sin_port = htons(t->port);
		sin.sin_addr.s_addr = htonl(t->addr);
		status_req_encode(req, base + (uint32_t)i);
		if (sendto(m->fd, req, sizeof(req), 0, (struct sockaddr *)&sin,
			   sizeof(sin)) < 0)
			left--;
	}
	until = now_ms() + m->timeout_ms;
	while (left > 0 && now_ms() < until) {
		struct pollfd p = { m->fd, POLLIN, 0 };
		struct status_info si;
		uint32_t nonce;
		ssize_t n;

		if (poll(&p, 1, (int)(until - now_ms())) != 1)
			break;
		n = recv(m->fd, buf, sizeof(buf), 0);
		if (n <= 0 || status_reply_decode(buf, (size_t)n, &nonce, &si) != 0)
			continue;
		nonce -= base;
		if (nonce >= (uint32_t)m->n || m->t[nonce].answered[0])
			continue;
		m->t[nonce].cur = si;
		m->t[nonce].t_cur = now_ms();
		m->t[nonce].answered[0] = 1;
		left--;
	}
}

/* Per-second rate of counter c between the two samples, or -1. */
static double rate(const struct target *t, enum status_counter c)
{
	double dt;

	if (!t->answered[0] || !t->answered[1] || t->cur.uptime_ms <= t->prev.uptime_ms ||
	    t->cur.c[c] < t->prev.c[c])
		return -1;
	dt = (double)(t->cur.uptime_ms - t->prev.uptime_ms) / 1000.0;
	return (double)(t->cur.c[c] - t->prev.c[c]) / dt;
}

static const char *transport_name(unsigned t)
{
	static const char *const names[] = { "broadcast", "multicast", "unicast" };

	return t < 3 ? names[t] : "none";
}

/* How the daemon's ring datagrams travel (ring_sec.h suites). */
static const char *sec_mode(unsigned suite)
{
	return suite == 0 ? "clear" : suite == 0x11 ? "authenticated"
				    : "encrypted";
}

static const char *sec_cipher(unsigned suite)
{
	return suite == 0x11 ? "aes-256-gmac" : suite == 0x12 ? "aes-256-gcm"
	       : suite == 0x13 ? "chacha20-poly1305" : "none";
}

static void print_table(const struct mon *m)
{
	char a[20], c[32];

	printf("%-10s %-15s %-11s %-20s %4s %3s %7s %9s %7s %-11s %5s %5s %5s %5s %6s %6s %9s %s\n",
	       "DAEMON", "ADDRESS", "STATE", "CONFIGURATION", "MEMB", "REP",
	       "ROT/S", "RETRANS/S", "TOKRTX", "WINDOWS", "SENDQ", "OUTQ",
	       "WAIT", "SESS", "GROUPS", "QMSGS", "QBYTES", "PAUSED");
	for (int i = 0; i < m->n; i++) {
		const struct target *t = &m->t[i];
		const struct status_info *s = &t->cur;
		double rot = rate(t, ST_ROTATIONS), rtx = rate(t, ST_RETRANS_OUT);
		char w[24], r1[16], r2[16];

		ip_str(t->addr, a, sizeof(a));
		if (!t->answered[0]) {
			printf("%-10s %-15s (no answer)\n", t->label, a);
			continue;
		}
		snprintf(c, sizeof(c), "%08x.%u", s->conf_rep, s->conf_seq);
		if (s->ring)
			snprintf(w, sizeof(w), "%u/%u/%u", s->window,
				 s->personal_window, s->accel_window);
		else
			snprintf(w, sizeof(w), "-");
		snprintf(r1, sizeof(r1), rot < 0 ? "-" : "%.1f", rot);
		snprintf(r2, sizeof(r2), rtx < 0 ? "-" : "%.1f", rtx);
		printf("%-10s %-15s %-11s %-20s %4u %3s %7s %9s %7llu %-11s %5u %5u %5u %5u %6u %6u %9llu %s\n",
		       s->name, a, s->ring ? ring_state_name(s->state) : "alone",
		       c, s->n_members, s->is_rep ? "*" : "", r1, r2,
		       (unsigned long long)s->c[ST_TOKEN_RETRANSMITS], w,
		       s->send_queue, s->outq, s->unpushed, s->sessions, s->groups,
		       s->session_queued_msgs,
		       (unsigned long long)s->session_queued_bytes,
		       s->paused ? "yes" : "no");
	}
	/* The members of each distinct configuration, once. */
	for (int i = 0; i < m->n; i++) {
		const struct status_info *s = &m->t[i].cur;
		int seen = 0;

		if (!m->t[i].answered[0])
			continue;
		for (int k = 0; k < i && !seen; k++)
			seen = m->t[k].answered[0] && m->t[k].cur.conf_rep == s->conf_rep &&
			       m->t[k].cur.conf_seq == s->conf_seq;
		if (seen)
			continue;
		printf("configuration %08x.%u (%s):", s->conf_rep, s->conf_seq,
		       transport_name(s->transport));
		for (unsigned k = 0; k < s->n_members; k++) {
			ip_str(s->members[k], a, sizeof(a));
			printf(" %s", a);
		}
		printf("\n");
	}
	/* Sealing, and what it dropped, where there is any. */
	for (int i = 0; i < m->n; i++) {
		const struct status_info *s = &m->t[i].cur;

		if (!m->t[i].answered[0] || (!s->ring_suite && !s->c[ST_RING_FORGED]))
			continue;
		printf("ring datagrams of %s: %s (%s), key %u; dropped %llu forged, "
		       "%llu replayed, %llu stale\n", s->name,
		       sec_mode(s->ring_suite), sec_cipher(s->ring_suite),
		       s->ring_key_id, (unsigned long long)s->c[ST_RING_FORGED],
		       (unsigned long long)s->c[ST_RING_REPLAYED],
		       (unsigned long long)s->c[ST_RING_STALE]);
	}
	fflush(stdout);
}

/* 1 if every target answered the last sample with the same operational
 * configuration of `members` daemons. */
static int together(const struct mon *m, unsigned members)
{
	for (int i = 0; i < m->n; i++) {
		const struct status_info *s = &m->t[i].cur;

		if (!m->t[i].answered[0] || !s->ring ||
		    s->state != RING_OPERATIONAL || s->n_members != members ||
		    s->conf_rep != m->t[0].cur.conf_rep ||
		    s->conf_seq != m->t[0].cur.conf_seq)
			return 0;
	}
	return 1;
}

/* -W: polls every 10 ms until together() or WAIT_LIMIT_MS; prints the
 * time it took. Returns the exit status. */
#define WAIT_LIMIT_MS 60000
static int wait_members(struct mon *m, unsigned members)
{
	int64_t t0 = now_ms();

	for (;;) {
		sample(m);
		if (together(m, members)) {
			printf("together after %lld ms: configuration %08x.%u of %u\n",
			       (long long)(now_ms() - t0), m->t[0].cur.conf_rep,
			       m->t[0].cur.conf_seq, members);
			return 0;
		}
		if (now_ms() - t0 > WAIT_LIMIT_MS) {
			printf("not together after %d ms\n", WAIT_LIMIT_MS);
			return 1;
		}
		usleep(10000);
	}
}

static void json_rate(const char *name, double r, int comma)
{
	if (r < 0)
		printf("\"%s\":null%s", name, comma ? "," : "");
	else
		printf("\"%s\":%.3f%s", name, r, comma ? "," : "");
}

static void print_json(const struct mon *m)
{
	char a[20];

	printf("{\"daemons\":[");
	for (int i = 0; i < m->n; i++) {
		const struct target *t = &m->t[i];
		const struct status_info *s = &t->cur;

		ip_str(t->addr, a, sizeof(a));
		printf("%s{\"label\":\"%s\",\"address\":\"%s\",\"port\":%u,\"answered\":%s",
		       i ? "," : "", t->label, a, t->port,
		       t->answered[0] ? "true" : "false");
		if (!t->answered[0]) {
			printf("}");
			continue;
		}
		printf(",\"name\":\"%s\",\"ring\":%s,\"state\":\"%s\","
		       "\"transport\":\"%s\",\"accelerated\":%s,\"is_representative\":%s,"
		       "\"configuration\":{\"rep\":%u,\"seq\":%u,\"id\":\"%08x.%u\"},"
		       "\"members\":[",
		       s->name, s->ring ? "true" : "false",
		       s->ring ? ring_state_name(s->state) : "alone",
		       transport_name(s->transport),
		       s->accelerated ? "true" : "false",
		       s->is_rep ? "true" : "false", s->conf_rep, s->conf_seq,
		       s->conf_rep, s->conf_seq);
		for (unsigned k = 0; k < s->n_members; k++) {
			ip_str(s->members[k], a, sizeof(a));
			printf("%s\"%s\"", k ? "," : "", a);
		}
		printf("],\"rates\":{");
		json_rate("rotations_per_s", rate(t, ST_ROTATIONS), 1);
		json_rate("retransmissions_per_s", rate(t, ST_RETRANS_OUT), 1);
		json_rate("token_retransmits_per_s", rate(t, ST_TOKEN_RETRANSMITS), 1);
		json_rate("delivered_per_s", rate(t, ST_DELIVERED), 1);
		json_rate("packets_in_per_s", rate(t, ST_PKTS_IN), 1);
		json_rate("packets_out_per_s", rate(t, ST_PKTS_OUT), 0);
		printf("},\"ring_security\":{\"mode\":\"%s\",\"cipher\":\"%s\","
		       "\"key_id\":%u},\"flow_control\":{\"window\":%u,\"personal_window\":%u,"
		       "\"accel_window\":%u,\"max_payload\":%u},"
		       "\"queues\":{\"ring_send_queue\":%u,\"outq\":%u,"
		       "\"waiting_for_room\":%u,\"sessions\":%u,\"handshaking\":%u,"
		       "\"groups\":%u,\"session_queued_messages\":%u,"
		       "\"session_queued_bytes\":%llu,\"input_paused\":%s},"
		       "\"order\":{\"my_aru\":%llu,\"high_seq\":%llu,\"stable\":%llu},"
		       "\"uptime_ms\":%llu,\"counters\":{",
		       sec_mode(s->ring_suite), sec_cipher(s->ring_suite),
		       s->ring_key_id, s->window, s->personal_window, s->accel_window,
		       s->max_payload, s->send_queue, s->outq, s->unpushed,
		       s->sessions, s->handshaking, s->groups,
		       s->session_queued_msgs,
		       (unsigned long long)s->session_queued_bytes,
		       s->paused ? "true" : "false",
		       (unsigned long long)s->my_aru, (unsigned long long)s->high_seq,
		       (unsigned long long)s->stable,
		       (unsigned long long)s->uptime_ms);
		for (int k = 0; k < ST__COUNT; k++)
			printf("%s\"%s\":%llu", k ? "," : "", status_counter_names[k],
			       (unsigned long long)s->c[k]);
		printf("}}");
	}
	printf("]}\n");
	fflush(stdout);
}

static int add_from_conf(struct mon *m, const char *path)
{
	static struct conf c;
	char err[512];

	if (conf_load(path, &c, err, sizeof(err)) != 0) {
		fprintf(stderr, PROG ": %s: %s\n", path, err);
		return -1;
	}
	for (int i = 0; i < c.n_hosts; i++)
		if (add_target(m, c.hosts[i].name, c.hosts[i].addr,
			       conf_host_port(&c, i)) != 0)
			return -1;
	return 0;
}

static long num_arg(const char *s, long lo, long hi)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < lo || v > hi) {
		fprintf(stderr, PROG ": bad number '%s' (%ld..%ld)\n", s, lo, hi);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	static struct mon m;
	long interval = 0, count = 0, wait_ms = 1000, members = 0;
	int ch, all;

	m.timeout_ms = 500;
	m.nonce = (uint32_t)now_ms() ^ ((uint32_t)getpid() << 16);
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--json") == 0)
			argv[i] = (char *)(uintptr_t)"-j";
	while ((ch = getopt(argc, argv, "c:hi:jn:s:t:w:W:")) != -1) {
		switch (ch) {
		case 'c':
			if (add_from_conf(&m, optarg) != 0)
				return 2;
			break;
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		case 'i': interval = num_arg(optarg, 1, 86400); break;
		case 'j': m.json = 1; break;
		case 'n': count = num_arg(optarg, 1, 1000000000); break;
		case 's': {
			uint32_t addr;
			uint16_t port = 4803;

			if (parse_addr(optarg, &addr, &port) != 0) {
				fprintf(stderr, PROG ": bad address '%s'\n", optarg);
				return 2;
			}
			if (add_target(&m, optarg, addr, port) != 0)
				return 2;
			break;
		}
		case 't': m.timeout_ms = (int)num_arg(optarg, 1, 60000); break;
		case 'w': wait_ms = num_arg(optarg, 0, 60000); break;
		case 'W': members = num_arg(optarg, 1, RING_MAX_MEMBERS); break;
		default:
			fputs(usage_text, stderr);
			return 2;
		}
	}
	if (optind != argc) {
		fputs(usage_text, stderr);
		return 2;
	}
	if (m.n == 0 && add_from_conf(&m, access("spread.conf", R_OK) == 0
					      ? "spread.conf"
					      : "/etc/chorus/spread.conf") != 0)
		return 2;
	m.fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (m.fd < 0) {
		perror(PROG ": socket");
		return 1;
	}
	if (members) {
		int rc = wait_members(&m, (unsigned)members);

		close(m.fd);
		return rc;
	}
	sample(&m);
	for (long k = 0;; k++) {
		if (interval == 0 && wait_ms > 0) {
			usleep((useconds_t)wait_ms * 1000);
			sample(&m);
		} else if (interval) {
			sleep((unsigned)interval);
			sample(&m);
		}
		if (m.json)
			print_json(&m);
		else
			print_table(&m);
		if (interval == 0 || (count && k + 1 >= count))
			break;
		if (!m.json)
			printf("\n");
	}
	close(m.fd);
	all = 1;
	for (int i = 0; i < m.n; i++)
		all = all && m.t[i].answered[0];
	return all ? 0 : 1;
}
