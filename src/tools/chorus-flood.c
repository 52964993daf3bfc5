/*
 * chorus-flood.c - throughput test of chorusd, in the role of Spread's
 * spflooder: one process floods a group with numbered messages, receivers
 * check the numbering and everyone reports messages and bytes per second.
 *
 * Roles:
 *   default  send and receive in one process: join the group, send the
 *            messages and read them back;
 *   -wo      send only: join the group, wait for the receivers, send with
 *            SELF_DISCARD;
 *   -ro      receive only: join the group and check what arrives.
 *
 * Flow control. A daemon disconnects a session that has MaxSessionMessages
 * (1000 by default) frames queued for it (spec section 8.2), so a sender
 * must never run far ahead of its slowest receiver. Every message carries
 * the sender's acknowledgement step; every receiver other than the sender
 * itself sends the sender a small acknowledgement (to its private group,
 * mess_type FLOOD_ACK) after each `step` messages and after the last one.
 * The sender keeps
 *     sent - min(acknowledged by each receiver, read back by itself) < W
 * and, once the window is full, waits until it has drained to W - step.
 * The receivers are the members of the group other than the sender at the
 * moment it starts (it first waits for -r of them); later joiners are not
 * waited for. A receiver that leaves before it has everything fails the
 * sender, and a sender that leaves before it has sent everything fails
 * its receivers. A receive-only process stays until its senders have left
 * the group, so that its last acknowledgement is read before it goes.
 *
 * Message layout: a 24-byte ASCII header, then filler:
 *     "cfl1" seq(8 hex) total(8 hex) step(4 hex)
 * and an acknowledgement is "cfa1" count(8 hex). ASCII keeps the format
 * independent of byte order and lets chorus-user forge messages in tests.
 *
 * Checks: for ordered services (FIFO and above) each sender's messages
 * must arrive exactly in sequence; for RELIABLE and UNRELIABLE each must
 * arrive exactly once, in any order. Any loss, duplicate or reordering
 * ends the program with status 1.
 *
 * Receiving uses the library's read-ahead (chorus_set_readahead) unless
 * -N is given, and sending its send coalescing (chorus_set_send_buffer,
 * 64 KiB) unless -B 0 is given: both save system calls in the client, so
 * that the figures show the daemon's limits, not the client's. Every wait
 * for acknowledgements goes through SP_receive or SP_poll, which write
 * what coalescing holds.
 *
 * The send path allocates nothing and prints nothing; figures are printed
 * once at the end (format in chorus-flood(1)).
 *
 * Ownership: the one struct flood in main() owns every buffer (send,
 * receive, member list, the per-sender bitmaps); flood_free() releases
 * them and disconnects.
 */
#include <errno.h>
#include <stdarg.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sp.h"
#include "chorus.h"

#define PROG "chorus-flood"

#define EXIT_OK 0
#define EXIT_FAIL 1
#define EXIT_USAGE 2

/* Message types of the flood protocol ("FD" and "FA"). */
#define FLOOD_DATA 0x4644
#define FLOOD_ACK 0x4641
#define HDR_LEN 24
#define ACK_LEN 12

/* The largest message: the daemon refuses data + 32 * groups above
 * 144000 - 48 (spec section 4.6, check V6); one group here. */
#define FLOOD_MAX_BYTES (CHORUS_MAX_MESSAGE_BODY_LEN - 48 - MAX_GROUP_NAME)
/* Bytes the window may hold in flight, whatever -w says, so that a window
 * of large messages stays well below the daemon's per-session byte limit
 * (64 MiB by default in chorusd). */
#define FLOOD_MAX_INFLIGHT_BYTES (32L * 1024 * 1024)
/* Per-message cost counted against that budget: header and group. */
#define FLOOD_FRAME_OVERHEAD (48 + MAX_GROUP_NAME)
#define FLOOD_MAX_WINDOW 100000
#define FLOOD_MAX_PEERS 256
#define GROUPS_CAP_MAX 100000

static const char usage_text[] =
	"usage: " PROG " [-hNR] [-ro | -wo] [-s daemon] [-u name] [-g group]\n"
	"       [-m messages] [-b bytes] [-t service] [-w window] [-r receivers]\n"
	"       [-T seconds] [-B bytes]\n";

enum role { ROLE_BOTH, ROLE_SEND, ROLE_RECV };

/* A sender whose stream this process receives (itself included). */
struct src {
	char name[MAX_GROUP_NAME];
	int self;        /* our own messages, read back */
	int member;      /* seen in a membership of the group */
	uint32_t total;  /* from the first message */
	uint32_t step;
	uint32_t count;  /* messages received */
	uint64_t bytes;
	uint8_t *seen;   /* bitmap for unordered services, or NULL */
};

/* A receiver the sender waits for. */
struct rcv {
	char name[MAX_GROUP_NAME];
	uint32_t acked;
	int present;
};

struct flood {
	/* Options. */
	const char *daemon, *name, *group;
	enum role role;
	uint32_t total;      /* -m */
	long bytes;          /* -b */
	service st;          /* -t */
	long window;         /* -w */
	long nrecv;          /* -r */
	int readahead;       /* on unless -N */
	long sendbuf;        /* send coalescing buffer in bytes, -B; 0 off */
	int m_given, b_given, t_given;

	/* Session. */
	mailbox mbox;
	int connected;
	char pg[MAX_GROUP_NAME];

	/* Membership of the group. */
	int joined;      /* our own join was delivered */
	int members;     /* size of the last regular membership */
	char (*mlist)[MAX_GROUP_NAME]; /* its members */
	int mcap;

	/* Sending. */
	char *sbuf;
	uint32_t sent, step;
	long win;        /* effective window */
	int draining;
	struct rcv rcvs[FLOOD_MAX_PEERS];
	int n_rcvs;
	int started;

	/* Receiving. */
	char *rbuf;
	int rcap;
	char (*groups)[MAX_GROUP_NAME];
	int gcap;
	struct src srcs[FLOOD_MAX_PEERS];
	int n_srcs;
	int last_src;
	uint64_t rx_msgs, rx_bytes; /* from other senders */
	struct timespec rx_first, rx_last;
	int own; /* index of our own stream in srcs, or -1 */
};

static const struct {
	const char *name;
	service bit;
} services[] = {
	{ "unreliable", UNRELIABLE_MESS }, { "reliable", RELIABLE_MESS },
	{ "fifo", FIFO_MESS },             { "causal", CAUSAL_MESS },
	{ "agreed", AGREED_MESS },         { "safe", SAFE_MESS },
};

static const char *service_str(service st)
{
	for (size_t i = 0; i < sizeof(services) / sizeof(services[0]); i++)
		if (st & services[i].bit)
			return services[i].name;
	return "unknown";
}

/* ---- small helpers -------------------------------------------------- */

/* Prints "chorus-flood: <msg>" on stderr. */
static void warnx_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void warnx_(const char *fmt, ...)
{
	va_list ap;

	fputs(PROG ": ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static double elapsed(const struct timespec *a, const struct timespec *b)
{
	return (double)(b->tv_sec - a->tv_sec) +
	       (double)(b->tv_nsec - a->tv_nsec) / 1e9;
}

/* Writes v as `digits` lower-case hex digits. */
static void put_hex(char *p, uint32_t v, int digits)
{
	static const char hex[] = "0123456789abcdef";

	for (int i = digits - 1; i >= 0; i--, v >>= 4)
		p[i] = hex[v & 0xf];
}

/* Reads `digits` hex digits; returns 0 and *v, or -1. */
static int get_hex(const char *p, int digits, uint32_t *v)
{
	uint32_t r = 0;

	for (int i = 0; i < digits; i++) {
		char c = p[i];
		uint32_t d;

		if (c >= '0' && c <= '9')
			d = (uint32_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			d = (uint32_t)(c - 'a' + 10);
		else
			return -1;
		r = r << 4 | d;
	}
	*v = r;
	return 0;
}

static int name_eq(const char *a, const char *b)
{
	return strncmp(a, b, MAX_GROUP_NAME) == 0;
}

/* Prints the closing line: "<verb> N messages of B bytes in S s: R msg/s,
 * M MB/s" (MB = 10^6 bytes). */
static void report(const char *verb, uint64_t msgs, uint64_t bytes, double s)
{
	double t = s > 1e-6 ? s : 1e-6;

	printf(PROG ": %s %llu messages of %llu bytes in %.3f s: %.0f msg/s, "
	       "%.1f MB/s\n", verb, (unsigned long long)msgs,
	       (unsigned long long)(msgs ? bytes / msgs : 0), s,
	       (double)msgs / t, (double)bytes / t / 1e6);
	fflush(stdout);
}

/* ---- the timeout ---------------------------------------------------- */

static char alarm_msg[96];
static size_t alarm_len;

static void on_alarm(int sig)
{
	ssize_t r;

	(void)sig;
	r = write(2, alarm_msg, alarm_len);
	(void)r;
	_exit(EXIT_FAIL);
}

/* ---- receiving ------------------------------------------------------ */

/* Receives one message into f's buffers, growing the groups array when a
 * membership has more members than it holds. Returns the data length or
 * a negative code. */
static int flood_receive(struct flood *f, service *st, char *sender,
			 int *ng, int16 *mt)
{
	for (;;) {
		int em = 0, r;

		*st = 0;
		r = SP_receive(f->mbox, st, sender, f->gcap, ng, f->groups, mt,
			       &em, f->rcap, f->rbuf);
		if (r == GROUPS_TOO_SHORT && *ng < 0 && -*ng > f->gcap &&
		    -*ng <= GROUPS_CAP_MAX) {
			void *n = realloc(f->groups, (size_t)-*ng * MAX_GROUP_NAME);

			if (!n)
				return SP_BUG;
			f->groups = n;
			f->gcap = -*ng;
			continue;
		}
		return r;
	}
}

/* 1 if name is in the last regular membership of the group. */
static int is_member(const struct flood *f, const char *name)
{
	for (int k = 0; k < f->members; k++)
		if (name_eq(f->mlist[k], name))
			return 1;
	return 0;
}

static struct src *src_find(struct flood *f, const char *name)
{
	if (f->last_src >= 0 && name_eq(f->srcs[f->last_src].name, name))
		return &f->srcs[f->last_src];
	for (int i = 0; i < f->n_srcs; i++)
		if (name_eq(f->srcs[i].name, name)) {
			f->last_src = i;
			return &f->srcs[i];
		}
	return NULL;
}

/* Sends an acknowledgement of `count` messages to sender `to`. */
static int send_ack(struct flood *f, const char *to, uint32_t count)
{
	char ack[ACK_LEN];
	char dest[MAX_GROUP_NAME];
	int r;

	memcpy(ack, "cfa1", 4);
	put_hex(ack + 4, count, 8);
	memcpy(dest, to, MAX_GROUP_NAME);
	dest[MAX_GROUP_NAME - 1] = '\0';
	r = SP_multicast(f->mbox, AGREED_MESS, dest, FLOOD_ACK, ACK_LEN, ack);
	if (r < 0) {
		warnx_("sending an acknowledgement to %s: %s (%d)", dest,
		       chorus_strerror(r), r);
		return -1;
	}
	return 0;
}

/* Checks and counts one data message of len bytes from `sender`.
 * Returns 0, or -1 after reporting what is wrong. */
static int on_data(struct flood *f, service st, const char *sender, int len)
{
	const char *d = f->rbuf;
	uint32_t seq, total, step;
	struct src *s;
	char who[MAX_GROUP_NAME + 1];

	memcpy(who, sender, MAX_GROUP_NAME);
	who[MAX_GROUP_NAME] = '\0';
	if (len < HDR_LEN || memcmp(d, "cfl1", 4) != 0 ||
	    get_hex(d + 4, 8, &seq) || get_hex(d + 12, 8, &total) ||
	    get_hex(d + 20, 4, &step) || total == 0 || step == 0) {
		warnx_("malformed flood message of %d bytes from %s", len, who);
		return -1;
	}
	s = src_find(f, sender);
	if (!s) {
		int ordered = (st & (FIFO_MESS | CAUSAL_MESS | AGREED_MESS |
				     SAFE_MESS)) != 0;

		if (f->n_srcs == FLOOD_MAX_PEERS) {
			warnx_("more than %d senders", FLOOD_MAX_PEERS);
			return -1;
		}
		s = &f->srcs[f->n_srcs];
		memset(s, 0, sizeof(*s));
		memcpy(s->name, sender, MAX_GROUP_NAME);
		s->self = name_eq(sender, f->pg);
		s->member = is_member(f, sender);
		s->total = total;
		s->step = step;
		if (!ordered && !(s->seen = calloc(total / 8 + 1, 1))) {
			warnx_("out of memory");
			return -1;
		}
		f->last_src = f->n_srcs++;
		if (s->self)
			f->own = f->last_src;
		if (!s->self) {
			if (f->role == ROLE_RECV && f->m_given && total != f->total) {
				warnx_("%s sends %u messages, not %u (-m)", who, total,
				       f->total);
				return -1;
			}
			if (f->role == ROLE_RECV && f->b_given && len != f->bytes) {
				warnx_("%s sends messages of %d bytes, not %ld (-b)",
				       who, len, f->bytes);
				return -1;
			}
			if (f->role == ROLE_RECV && f->t_given &&
			    (st & ~SELF_DISCARD) != f->st) {
				warnx_("%s sends %s messages, not %s (-t)", who,
				       service_str(st), service_str(f->st));
				return -1;
			}
		}
	}
	if (total != s->total || s->count >= s->total || seq >= s->total) {
		warnx_("from %s: message %u of %u after %u of %u had arrived",
		       who, seq, total, s->count, s->total);
		return -1;
	}
	if (!s->seen) {
		if (seq != s->count) {
			if (seq > s->count)
				warnx_("from %s: expected message %u, got %u: %u lost",
				       who, s->count, seq, seq - s->count);
			else
				warnx_("from %s: expected message %u, got %u: "
				       "duplicated or out of order", who, s->count, seq);
			return -1;
		}
	} else {
		if (s->seen[seq / 8] & (1u << (seq % 8))) {
			warnx_("from %s: message %u arrived twice", who, seq);
			return -1;
		}
		s->seen[seq / 8] |= (uint8_t)(1u << (seq % 8));
	}
	s->count++;
	s->bytes += (uint64_t)len;
	if (s->self)
		return 0;
	if (f->rx_msgs == 0)
		clock_gettime(CLOCK_MONOTONIC, &f->rx_first);
	f->rx_msgs++;
	f->rx_bytes += (uint64_t)len;
	if (s->count == s->total)
		clock_gettime(CLOCK_MONOTONIC, &f->rx_last);
	if (s->count % s->step == 0 || s->count == s->total)
		return send_ack(f, s->name, s->count);
	return 0;
}

/* Records an acknowledgement from receiver `sender`. */
static int on_ack(struct flood *f, const char *sender, int len)
{
	uint32_t count;

	if (len != ACK_LEN || memcmp(f->rbuf, "cfa1", 4) != 0 ||
	    get_hex(f->rbuf + 4, 8, &count)) {
		warnx_("malformed acknowledgement of %d bytes", len);
		return -1;
	}
	for (int i = 0; i < f->n_rcvs; i++)
		if (name_eq(f->rcvs[i].name, sender)) {
			if (count > f->rcvs[i].acked)
				f->rcvs[i].acked = count;
			break;
		}
	return 0; /* from a receiver we do not wait for: ignored */
}

/* Handles a regular membership of our group: tracks its size and fails
 * if a receiver or a sender left before it was done. */
static int on_membership(struct flood *f, int ng, int16 my_index)
{
	if (ng > f->mcap) {
		void *n = realloc(f->mlist, (size_t)ng * MAX_GROUP_NAME);

		if (!n) {
			warnx_("out of memory");
			return -1;
		}
		f->mlist = n;
		f->mcap = ng;
	}
	if (ng > 0)
		memcpy(f->mlist, f->groups, (size_t)ng * MAX_GROUP_NAME);
	f->members = ng;
	if (my_index >= 0)
		f->joined = 1;
	for (int i = 0; i < f->n_srcs; i++) {
		struct src *s = &f->srcs[i];
		int here = is_member(f, s->name);

		if (here)
			s->member = 1;
		else if (s->member && !s->self && s->count < s->total) {
			warnx_("sender %.32s left after %u of %u messages", s->name,
			       s->count, s->total);
			return -1;
		}
	}
	if (!f->started) {
		/* Until the sending starts, everyone else in the group is a
		 * receiver to wait for. */
		f->n_rcvs = 0;
		for (int k = 0; k < ng; k++) {
			struct rcv *r;

			if (name_eq(f->groups[k], f->pg))
				continue;
			if (f->n_rcvs == FLOOD_MAX_PEERS) {
				warnx_("more than %d receivers", FLOOD_MAX_PEERS);
				return -1;
			}
			r = &f->rcvs[f->n_rcvs++];
			memcpy(r->name, f->groups[k], MAX_GROUP_NAME);
			r->acked = 0;
			r->present = 1;
		}
		return 0;
	}
	for (int i = 0; i < f->n_rcvs; i++) {
		struct rcv *r = &f->rcvs[i];
		int here = is_member(f, r->name);

		if (!here && r->present && r->acked < f->total) {
			warnx_("receiver %.32s left after acknowledging %u of %u "
			       "messages", r->name, r->acked, f->total);
			return -1;
		}
		r->present = here;
	}
	return 0;
}

/* Receives and handles one message, blocking. Returns 0 or -1. */
static int step_receive(struct flood *f)
{
	char sender[MAX_GROUP_NAME];
	service st;
	int16 mt;
	int ng, r;

	r = flood_receive(f, &st, sender, &ng, &mt);
	if (r < 0) {
		warnx_("receiving: %s (%d)", chorus_strerror(r), r);
		return -1;
	}
	if (Is_regular_mess(st)) {
		if (mt == FLOOD_DATA)
			return on_data(f, st, sender, r);
		if (mt == FLOOD_ACK)
			return on_ack(f, sender, r);
		return 0; /* someone else's traffic */
	}
	if (Is_reg_memb_mess(st) && name_eq(sender, f->group))
		return on_membership(f, ng, mt);
	return 0;
}

/* Handles whatever has already arrived, without blocking. */
static int drain_pending(struct flood *f)
{
	while (SP_poll(f->mbox) > 0)
		if (step_receive(f) != 0)
			return -1;
	return 0;
}

/* ---- sending -------------------------------------------------------- */

/* Messages sent but not yet known to have arrived everywhere: at every
 * receiver we wait for, and back here when we read our own stream. */
static uint32_t inflight(const struct flood *f)
{
	uint32_t low = f->sent;

	if (f->role == ROLE_BOTH) {
		uint32_t own = f->own >= 0 ? f->srcs[f->own].count : 0;

		if (own < low)
			low = own;
	}
	for (int i = 0; i < f->n_rcvs; i++)
		if (f->rcvs[i].acked < low)
			low = f->rcvs[i].acked;
	return f->sent - low;
}

/* 1 when every message was sent and every receiver (and we ourselves,
 * when reading back) has all of them. */
static int send_done(const struct flood *f)
{
	if (f->sent < f->total)
		return 0;
	return inflight(f) == 0;
}

/* 1 when every other sender whose messages we saw has finished; in the
 * receive-only role at least one must have been seen. */
static int recv_done(const struct flood *f)
{
	int others = 0;

	for (int i = 0; i < f->n_srcs; i++) {
		if (f->srcs[i].self)
			continue;
		others++;
		if (f->srcs[i].count < f->srcs[i].total)
			return 0;
	}
	return f->role != ROLE_RECV || others > 0;
}

/* 1 while a sender we received from is still a member of the group. */
static int senders_present(const struct flood *f)
{
	for (int i = 0; i < f->n_srcs; i++)
		if (!f->srcs[i].self && f->srcs[i].member &&
		    is_member(f, f->srcs[i].name))
			return 1;
	return 0;
}

/* Waits for our own join and for -r other members (on_membership keeps
 * the list of receivers until the sending starts). */
static int wait_receivers(struct flood *f)
{
	while (!f->joined || f->members - 1 < f->nrecv)
		if (step_receive(f) != 0)
			return -1;
	return 0;
}

/* The sending loop. Returns 0 or -1. */
static int run_send(struct flood *f)
{
	char dest[MAX_GROUP_NAME];
	service st = f->st | (f->role == ROLE_SEND ? SELF_DISCARD : 0);
	int len = (int)f->bytes;

	memset(dest, 0, sizeof(dest));
	memcpy(dest, f->group, strlen(f->group));
	while (f->sent < f->total) {
		uint32_t fl = inflight(f);
		int r;

		if (fl >= (uint32_t)f->win)
			f->draining = 1;
		else if (f->draining && fl + f->step <= (uint32_t)f->win)
			f->draining = 0;
		if (f->draining) {
			if (step_receive(f) != 0)
				return -1;
			continue;
		}
		put_hex(f->sbuf + 4, f->sent, 8);
		r = SP_multicast(f->mbox, st, dest, FLOOD_DATA, len, f->sbuf);
		if (r != len) {
			warnx_("sending message %u: %s (%d)", f->sent,
			       chorus_strerror(r), r);
			return -1;
		}
		f->sent++;
		if (f->sent % f->step == 0 && drain_pending(f) != 0)
			return -1;
	}
	while (!send_done(f))
		if (step_receive(f) != 0)
			return -1;
	return 0;
}

/* ---- options -------------------------------------------------------- */

static void usage(FILE *fp)
{
	fputs(usage_text, fp);
}

static int bad_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int bad_usage(const char *fmt, ...)
{
	va_list ap;

	fputs(PROG ": ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	usage(stderr);
	return EXIT_USAGE;
}

/* Parses a whole decimal number in [lo, hi]. Returns 0 or -1. */
static int parse_num(const char *s, long long lo, long long hi, long long *out)
{
	char *end;
	long long v;

	if (!s || !*s)
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || *end || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

/* Parses the command line into f. Returns -1 to go on, or an exit status
 * (after -h, or after reporting a bad option). */
static int parse_args(struct flood *f, int argc, char **argv, long *timeout_s)
{
	int r_given = 0, w_given = 0, role_given = 0, ra_given = 0;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v;
		long long n;

		if (strcmp(a, "-h") == 0) {
			usage(stdout);
			return EXIT_OK;
		}
		if (strcmp(a, "-R") == 0 || strcmp(a, "-N") == 0) {
			int on = a[1] == 'R';

			if (ra_given && f->readahead != on)
				return bad_usage("-N and -R exclude each other");
			f->readahead = on;
			ra_given = 1;
			continue;
		}
		if (strcmp(a, "-ro") == 0 || strcmp(a, "-wo") == 0) {
			enum role r = a[1] == 'r' ? ROLE_RECV : ROLE_SEND;

			if (role_given && f->role != r)
				return bad_usage("-ro and -wo exclude each other");
			f->role = r;
			role_given = 1;
			continue;
		}
		if (strlen(a) != 2 || a[0] != '-' || !strchr("sugmbtwrTB", a[1]))
			return bad_usage("unknown option '%s'", a);
		if (i + 1 == argc)
			return bad_usage("option %s needs a value", a);
		v = argv[++i];
		switch (a[1]) {
		case 's':
			f->daemon = v;
			break;
		case 'u':
			if (!*v || strlen(v) > MAX_PRIVATE_NAME)
				return bad_usage("-u: a private name has 1 to %d "
						 "characters", MAX_PRIVATE_NAME);
			f->name = v;
			break;
		case 'B':
			if (parse_num(v, 0, CHORUS_MAX_SEND_BUFFER, &n) != 0)
				return bad_usage("-B: bytes must be 0 to %d",
						 CHORUS_MAX_SEND_BUFFER);
			f->sendbuf = (long)n;
			break;
		case 'g':
			if (!*v || strlen(v) >= MAX_GROUP_NAME || v[0] == '#')
				return bad_usage("-g: a group name has 1 to %d "
						 "characters and does not start "
						 "with '#'", MAX_GROUP_NAME - 1);
			f->group = v;
			break;
		case 'm':
			if (parse_num(v, 1, UINT32_MAX, &n) != 0)
				return bad_usage("-m: messages must be 1 to %u",
						 UINT32_MAX);
			f->total = (uint32_t)n;
			f->m_given = 1;
			break;
		case 'b':
			if (parse_num(v, HDR_LEN, FLOOD_MAX_BYTES, &n) != 0)
				return bad_usage("-b: bytes must be %d to %d", HDR_LEN,
						 FLOOD_MAX_BYTES);
			f->bytes = (long)n;
			f->b_given = 1;
			break;
		case 't':
			f->st = 0;
			for (size_t k = 0; k < sizeof(services) / sizeof(services[0]); k++)
				if (strcasecmp(v, services[k].name) == 0)
					f->st = services[k].bit;
			if (!f->st)
				return bad_usage("-t: service must be unreliable, "
						 "reliable, fifo, causal, agreed "
						 "or safe");
			f->t_given = 1;
			break;
		case 'w':
			if (parse_num(v, 1, FLOOD_MAX_WINDOW, &n) != 0)
				return bad_usage("-w: window must be 1 to %d",
						 FLOOD_MAX_WINDOW);
			f->window = (long)n;
			w_given = 1;
			break;
		case 'r':
			if (parse_num(v, 0, FLOOD_MAX_PEERS - 1, &n) != 0)
				return bad_usage("-r: receivers must be 0 to %d",
						 FLOOD_MAX_PEERS - 1);
			f->nrecv = (long)n;
			r_given = 1;
			break;
		case 'T':
			if (parse_num(v, 0, 86400, &n) != 0)
				return bad_usage("-T: seconds must be 0 to 86400");
			*timeout_s = (long)n;
			break;
		}
	}
	if (f->role == ROLE_RECV && (r_given || w_given))
		return bad_usage("-r and -w are for senders, not with -ro");
	if (f->role == ROLE_SEND && !r_given)
		f->nrecv = 1;
	return -1;
}

/* ---- main ----------------------------------------------------------- */

static void flood_free(struct flood *f)
{
	if (f->connected)
		SP_disconnect(f->mbox);
	f->connected = 0;
	for (int i = 0; i < f->n_srcs; i++)
		free(f->srcs[i].seen);
	f->n_srcs = 0;
	free(f->sbuf);
	free(f->rbuf);
	free(f->groups);
	free(f->mlist);
	f->sbuf = f->rbuf = NULL;
	f->groups = NULL;
	f->mlist = NULL;
}

/* Connects, joins and runs the role. Returns the exit status. */
static int run(struct flood *f)
{
	struct timespec t0, t1;
	int r;

	r = SP_connect(f->daemon, f->name, 0, 1, &f->mbox, f->pg);
	if (r != ACCEPT_SESSION) {
		warnx_("cannot connect to '%s': %s (%d)", f->daemon,
		       chorus_strerror(r), r);
		return EXIT_FAIL;
	}
	f->connected = 1;
	if (f->readahead && f->role != ROLE_SEND &&
	    (r = chorus_set_readahead(f->mbox, 1)) != 0) {
		warnx_("read-ahead: %s (%d)", chorus_strerror(r), r);
		return EXIT_FAIL;
	}
	if (f->sendbuf && f->role != ROLE_RECV &&
	    (r = chorus_set_send_buffer(f->mbox, (size_t)f->sendbuf)) != 0) {
		warnx_("send buffer: %s (%d)", chorus_strerror(r), r);
		return EXIT_FAIL;
	}
	if (f->role != ROLE_SEND || f->nrecv > 0) {
		r = SP_join(f->mbox, f->group);
		if (r < 0) {
			warnx_("joining %s: %s (%d)", f->group, chorus_strerror(r), r);
			return EXIT_FAIL;
		}
	}
	if (f->role == ROLE_RECV) {
		while (!recv_done(f))
			if (step_receive(f) != 0)
				return EXIT_FAIL;
		/* Stay until the senders have left: a sender leaves only once
		 * it has every final acknowledgement, so ours cannot be lost
		 * with a connection we close too early. */
		while (senders_present(f))
			if (step_receive(f) != 0)
				return EXIT_FAIL;
		report("received", f->rx_msgs, f->rx_bytes,
		       elapsed(&f->rx_first, &f->rx_last));
		return EXIT_OK;
	}

	if (f->role == ROLE_BOTH || f->nrecv > 0) {
		if (wait_receivers(f) != 0)
			return EXIT_FAIL;
	}
	f->started = 1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (run_send(f) != 0)
		return EXIT_FAIL;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	report(f->role == ROLE_BOTH ? "sent and received" : "sent",
	       (uint64_t)f->total, (uint64_t)f->total * (uint64_t)f->bytes,
	       elapsed(&t0, &t1));
	if (f->role == ROLE_BOTH) {
		while (!recv_done(f))
			if (step_receive(f) != 0)
				return EXIT_FAIL;
		if (f->rx_msgs)
			report("received", f->rx_msgs, f->rx_bytes,
			       elapsed(&f->rx_first, &f->rx_last));
	}
	return EXIT_OK;
}

int main(int argc, char **argv)
{
	struct flood f;
	long timeout_s = 0;
	int r;

	memset(&f, 0, sizeof(f));
	f.daemon = "4803";
	f.name = NULL; /* the daemon picks a unique name */
	f.group = "flooder";
	f.role = ROLE_BOTH;
	f.total = 10000;
	f.bytes = 1000;
	f.st = AGREED_MESS;
	f.window = 500;
	f.readahead = 1; /* measured faster in every receiving role */
	f.sendbuf = 65536; /* likewise for sending: one write, many messages */
	f.last_src = -1;
	f.own = -1;
	r = parse_args(&f, argc, argv, &timeout_s);
	if (r >= 0)
		return r;

	/* The window: -w messages, and at most FLOOD_MAX_INFLIGHT_BYTES. */
	f.win = FLOOD_MAX_INFLIGHT_BYTES / (f.bytes + FLOOD_FRAME_OVERHEAD);
	if (f.win > f.window)
		f.win = f.window;
	if (f.win < 1)
		f.win = 1;
	f.step = f.win / 4 > 0 ? (uint32_t)(f.win / 4) : 1;

	f.gcap = 16;
	f.rcap = CHORUS_MAX_MESSAGE_BODY_LEN;
	f.groups = malloc((size_t)f.gcap * MAX_GROUP_NAME);
	f.rbuf = malloc((size_t)f.rcap);
	f.sbuf = malloc((size_t)f.bytes);
	if (!f.groups || !f.rbuf || !f.sbuf) {
		warnx_("out of memory");
		flood_free(&f);
		return EXIT_FAIL;
	}
	memcpy(f.sbuf, "cfl1", 4);
	put_hex(f.sbuf + 12, f.total, 8);
	put_hex(f.sbuf + 20, f.step, 4);
	for (long i = HDR_LEN; i < f.bytes; i++)
		f.sbuf[i] = (char)('a' + i % 26);

	if (timeout_s > 0) {
		int n = snprintf(alarm_msg, sizeof(alarm_msg),
				 PROG ": timed out after %ld s\n", timeout_s);

		alarm_len = n > 0 ? (size_t)n : 0;
		signal(SIGALRM, on_alarm);
		alarm((unsigned)timeout_s);
	}
	r = run(&f);
	flood_free(&f);
	return r;
}
