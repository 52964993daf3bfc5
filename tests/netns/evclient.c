/*
 * evclient.c - the event-logging client of the namespace tests.
 *
 * One evclient runs next to each daemon. It connects (a membership
 * session), joins the test groups, sends numbered messages of several
 * service levels at a bounded rate, and writes one line per event to its
 * log: every send, every delivery, every regular membership, transitional
 * signal and self-leave, every session it opens and loses. The checker
 * (evcheck.py) reads the logs of all clients of a run and verifies the
 * promises of the service levels and of virtual synchrony across them.
 *
 * When its daemon goes away (SIGKILL and restart) the client logs the
 * loss, connects again with a new private name (user name PREFIX + "s" +
 * session number, so every session of a run has its own name), joins the
 * groups again and goes on. SIGTERM or SIGINT asks it to stop: it stops
 * sending, sends one SAFE "done" message in each group it is a member of
 * (and one more in every view that follows), and ends once it has
 * delivered a "done" sent in its current view of each group by every
 * member of that view, or when the drain time runs out. As no member sends
 * anything in a view after its "done", every client that ends in the same
 * view has then delivered the same messages in it. With -W it then stays
 * connected, logging nothing more, until a second SIGTERM: so no client
 * leaves a view before every client has drained in it.
 *
 * Message classes: each message belongs to one class, with its own
 * sequence number per (session, group, class), starting at 1:
 *   F  FIFO, CAUSAL, AGREED or SAFE: ordered, delivered to the sender too;
 *   D  AGREED with SELF_DISCARD: ordered, never delivered to the sender;
 *   R  RELIABLE: delivered, no order promised;
 *   U  UNRELIABLE: may be lost, no order promised.
 * Payload (ASCII, then filler that depends on the sequence number):
 *   "cev1 <private name> <group> <class> <seq> <done> <send time us> |"
 * <done> is 0, or in a "done" message a tag of the sender's current view
 * of the group (from its group id): a "done" counts only for a receiver
 * in that same view, so one sent in an earlier view and delivered after
 * a join does not end the drain of the new one.
 * A delivery whose payload does not parse, does not match the sender or
 * group of the frame, or whose filler is wrong is logged as BAD.
 *
 * Log lines (space-separated key=value after the keyword; t= is
 * CLOCK_REALTIME in microseconds; names never contain spaces):
 *   START  cli= daemon= pid= t=
 *   CONN   s=<private> n=<session number> t=      (session opened)
 *   CONNFAIL err= t=                              (first failure of a series)
 *   JOIN   s= g= t=  /  LEAVE s= g= t=           (requests)
 *   SEND   s= g= svc= c= n= len= done= t=
 *   SENDFAIL s= g= c= n= err= t=
 *   MSG    s= from= g= svc= c= n= len= done= t=
 *   REG    s= g= cause= gid= idx= members= vs= myvs= changed= t=
 *          (members: comma-separated; vs: sets separated by ';')
 *   TRANS  s= g= gid= t=
 *   FRAME  s= g= kind=REG|TRANS gid= off= bytes= t=
 *          (after each REG and TRANS: the frame as received, in hex:
 *          type, member count and body length as 32-bit host-order
 *          integers, the 32-byte group field, the 32-byte member fields
 *          and the body, padding included; a REG's local_vs_offset,
 *          which differs by receiver, is zeroed there and given in off=)
 *   SELFLEAVE s= g= t=
 *   REJECT s= g= svc= len= t=
 *   BAD    s= from= g= why= t=
 *   LOST   s= err= t=                             (session broken)
 *   END    s= clean=0|1 why= t=                   (last line)
 *
 * Ownership: one struct evc in main() owns every buffer; evc_free()
 * releases them. Every buffer has a fixed bound set at startup.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "chorus.h"
#include "sp.h"

#define EV_MAX_GROUPS 8
#define EV_MAX_MEMBERS 512
#define EV_MAX_BYTES 16000 /* largest payload the client sends */
#define EV_RECV_CAP (CHORUS_MAX_MESSAGE_BODY_LEN + 1024)
#define EV_PREFIX_MAX 6    /* user prefix, so "s<n>" fits in 10 */

enum ev_class { EV_F, EV_D, EV_R, EV_U, EV_NCLASS };
static const char ev_class_name[EV_NCLASS] = { 'F', 'D', 'R', 'U' };

struct ev_group {
	char name[MAX_GROUP_NAME];
	int member;     /* a regular membership arrived since the join, and
			 * no leave of mine is waiting for its self-leave */
	int joined;     /* a join was requested and no leave since */
	int leaving;    /* leaves requested whose self-leave has not come:
			 * a membership ordered before them (a join's, late
			 * when ordering is slow) must not start sends that
			 * would be delivered after the leave */
	uint64_t seq[EV_NCLASS]; /* last sequence number sent, per class */
	int n_members;
	char (*members)[MAX_GROUP_NAME]; /* current view, EV_MAX_MEMBERS */
	int n_done;
	char (*done)[MAX_GROUP_NAME];    /* members whose "done" arrived */
	int view_tag;   /* of the current view's group id; a "done" carries
			 * its sender's, and counts only in that view */
	int64_t churn_at_ms;             /* next leave or join; 0: none */
};

struct evc {
	/* Options. */
	const char *spread, *prefix;
	int cli;
	double rate;          /* messages per second, all groups together */
	int max_bytes;        /* payload sizes are drawn in [64, max_bytes] */
	int churn_ms;         /* >0: the last group is left and joined again */
	int drain_ms;
	int linger;           /* -W: stay connected after END until told */
	int64_t deadline_ms;  /* monotonic; the client ends by then */

	FILE *log;
	mailbox mbox;
	int connected, session_no;
	char priv[MAX_GROUP_NAME];
	struct ev_group groups[EV_MAX_GROUPS];
	int n_groups;
	uint64_t rng;
	int64_t next_send_ms;
	int draining;
	int64_t drain_end_ms;
	unsigned done_sent;   /* groups whose current view has our "done" */

	char *rbuf;                      /* EV_RECV_CAP */
	char (*rgroups)[MAX_GROUP_NAME]; /* EV_MAX_MEMBERS */
	char *sbuf;                      /* EV_MAX_BYTES */
};

static volatile sig_atomic_t stop_requested; /* counts SIGTERM, SIGINT */

static void on_stop(int sig)
{
	(void)sig;
	if (stop_requested < 2)
		stop_requested++;
}

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t real_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static uint64_t rng_next(struct evc *e)
{
	/* xorshift64*: deterministic from the seed (-S). */
	e->rng ^= e->rng >> 12;
	e->rng ^= e->rng << 25;
	e->rng ^= e->rng >> 27;
	return e->rng * 2685821657736338717ull;
}

/* Writes one log line: the keyword and fields given, then t=. */
__attribute__((format(printf, 2, 3)))
static void ev_log(struct evc *e, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfprintf(e->log, fmt, ap);
	va_end(ap);
	fprintf(e->log, " t=%" PRId64 "\n", real_us());
}

/* A group or member name as a printable token (at most 32 bytes, not
 * necessarily terminated; anything outside 0x21..0x7e becomes '?'). */
static const char *tok(const char *name, char out[MAX_GROUP_NAME + 1])
{
	size_t i;

	for (i = 0; i < MAX_GROUP_NAME && name[i]; i++)
		out[i] = name[i] > 0x20 && name[i] < 0x7f && name[i] != ',' &&
				 name[i] != ';' ? name[i] : '?';
	out[i] = 0;
	if (i == 0) {
		out[0] = '-';
		out[1] = 0;
	}
	return out;
}

static const char *svc_name(service st)
{
	if (Is_safe_mess(st))
		return "SAFE";
	if (Is_agreed_mess(st))
		return "AGREED";
	if (Is_causal_mess(st))
		return "CAUSAL";
	if (Is_fifo_mess(st))
		return "FIFO";
	if (Is_reliable_mess(st))
		return "RELIABLE";
	if (Is_unreliable_mess(st))
		return "UNRELIABLE";
	return "NONE";
}

static const char *cause_name(service st)
{
	if (Is_caused_join_mess(st))
		return "JOIN";
	if (Is_caused_leave_mess(st))
		return "LEAVE";
	if (Is_caused_disconnect_mess(st))
		return "DISCONNECT";
	if (Is_caused_network_mess(st))
		return "NETWORK";
	return "NONE";
}

static struct ev_group *find_group(struct evc *e, const char *name)
{
	for (int i = 0; i < e->n_groups; i++)
		if (strncmp(e->groups[i].name, name, MAX_GROUP_NAME) == 0)
			return &e->groups[i];
	return NULL;
}

/* The filler byte at position i of a message with sequence number seq. */
static char filler(uint64_t seq, size_t i)
{
	return (char)('a' + (seq * 7 + i) % 26);
}

/* ---- sending -------------------------------------------------------- */

/* Sends one message of class cls (with service st) to g. */
static int send_one(struct evc *e, struct ev_group *g, enum ev_class cls,
		    service st, int done)
{
	char gname[MAX_GROUP_NAME + 1], pname[MAX_GROUP_NAME + 1];
	uint64_t seq = g->seq[cls] + 1;
	int head, len, r;

	tok(g->name, gname);
	tok(e->priv, pname);
	head = snprintf(e->sbuf, EV_MAX_BYTES,
			"cev1 %s %s %c %" PRIu64 " %d %" PRId64 " |", pname,
			gname, ev_class_name[cls], seq, done, real_us());
	if (head < 0 || head >= EV_MAX_BYTES)
		return -1;
	len = 64 + (int)(rng_next(e) % (uint64_t)(e->max_bytes - 63));
	if (len < head)
		len = head;
	for (int i = head; i < len; i++)
		e->sbuf[i] = filler(seq, (size_t)i);
	g->seq[cls] = seq;
	ev_log(e, "SEND s=%s g=%s svc=%s c=%c n=%" PRIu64 " len=%d done=%d",
	       pname, gname, svc_name(st), ev_class_name[cls], seq, len, done);
	r = SP_multicast(e->mbox, st, g->name, 0, len, e->sbuf);
	if (r < 0) {
		ev_log(e, "SENDFAIL s=%s g=%s c=%c n=%" PRIu64 " err=%d", pname,
		       gname, ev_class_name[cls], seq, r);
		return r;
	}
	return 0;
}

/* One message of the load: a group it is a member of, a service level
 * drawn from a fixed mix. */
static int send_load(struct evc *e)
{
	struct ev_group *cand[EV_MAX_GROUPS];
	int n = 0;
	unsigned pick;
	enum ev_class cls;
	service st;

	for (int i = 0; i < e->n_groups; i++)
		if (e->groups[i].member)
			cand[n++] = &e->groups[i];
	if (n == 0)
		return 0;
	pick = (unsigned)(rng_next(e) % 100);
	if (pick < 40) {
		cls = EV_F, st = AGREED_MESS;
	} else if (pick < 65) {
		cls = EV_F, st = SAFE_MESS;
	} else if (pick < 75) {
		cls = EV_F, st = FIFO_MESS;
	} else if (pick < 80) {
		cls = EV_F, st = CAUSAL_MESS;
	} else if (pick < 90) {
		cls = EV_R, st = RELIABLE_MESS;
	} else if (pick < 95) {
		cls = EV_U, st = UNRELIABLE_MESS;
	} else {
		cls = EV_D, st = AGREED_MESS | SELF_DISCARD;
	}
	return send_one(e, cand[rng_next(e) % (uint64_t)n], cls, st, 0);
}

/* ---- receiving ------------------------------------------------------ */

/* Checks a data payload against the frame it came in; logs MSG or BAD. */
static void on_data(struct evc *e, service st, const char *sender,
		    int ngroups, int len)
{
	char from[MAX_GROUP_NAME + 1], pname[MAX_GROUP_NAME + 1];
	char gname[MAX_GROUP_NAME + 1], list[EV_MAX_GROUPS * (MAX_GROUP_NAME + 1) + 8];
	char p_from[64], p_group[64], p_cls;
	uint64_t seq;
	int done, off = 0, head = 0;
	int64_t sent_us;
	const char *why = NULL;
	struct ev_group *g;

	tok(sender, from);
	tok(e->priv, pname);
	list[0] = 0;
	for (int i = 0; i < ngroups && i < EV_MAX_GROUPS; i++) {
		tok(e->rgroups[i], gname);
		off += snprintf(list + off, sizeof(list) - (size_t)off, "%s%s",
				i ? "," : "", gname);
	}
	if (ngroups < 1 || ngroups > EV_MAX_GROUPS)
		why = "group-count";
	else if (len >= EV_RECV_CAP)
		why = "too-long";
	if (!why) {
		e->rbuf[len] = 0;
		if (sscanf(e->rbuf, "cev1 %63s %63s %c %" SCNu64 " %d %" SCNd64 " |%n",
			   p_from, p_group, &p_cls, &seq, &done, &sent_us,
			   &head) != 6 || head == 0)
			why = "payload";
		else if (strcmp(p_from, from) != 0)
			why = "sender-mismatch";
		else if (ngroups != 1 || strcmp(p_group, list) != 0)
			why = "group-mismatch";
		else if (!strchr("FDRU", p_cls))
			why = "class";
	}
	if (!why)
		for (int i = head; i < len; i++)
			if (e->rbuf[i] != filler(seq, (size_t)i)) {
				why = "filler";
				break;
			}
	if (why) {
		ev_log(e, "BAD s=%s from=%s g=%s why=%s len=%d", pname, from,
		       list[0] ? list : "-", why, len);
		return;
	}
	ev_log(e, "MSG s=%s from=%s g=%s svc=%s%s c=%c n=%" PRIu64
	       " len=%d done=%d", pname, from, list, svc_name(st),
	       Is_self_discard(st) ? "+SD" : "", p_cls, seq, len, done);
	if (done && (g = find_group(e, e->rgroups[0])) != NULL && done == g->view_tag) {
		for (int i = 0; i < g->n_done; i++)
			if (strncmp(g->done[i], sender, MAX_GROUP_NAME) == 0)
				return;
		if (g->n_done < EV_MAX_MEMBERS)
			memcpy(g->done[g->n_done++], sender, MAX_GROUP_NAME);
	}
}

/* Logs a regular membership with its vs sets and keeps the view. */
static void on_reg_memb(struct evc *e, service st, const char *group,
			int ngroups, int16 idx)
{
	char gname[MAX_GROUP_NAME + 1], pname[MAX_GROUP_NAME + 1];
	char nm[MAX_GROUP_NAME + 1], gid[48];
	membership_info info;
	vs_set_info sets[EV_MAX_MEMBERS];
	unsigned int my_set = 0;
	int n_sets, r;
	struct ev_group *g = find_group(e, group);

	tok(group, gname);
	tok(e->priv, pname);
	r = SP_get_memb_info(e->rbuf, st, &info);
	n_sets = r < 0 ? r : SP_get_vs_sets_info(e->rbuf, sets, EV_MAX_MEMBERS,
						 &my_set);
	if (n_sets < 0 || ngroups < 0 || ngroups > EV_MAX_MEMBERS) {
		ev_log(e, "BAD s=%s from=%s g=%s why=membership-body err=%d",
		       pname, gname, gname, n_sets);
		return;
	}
	snprintf(gid, sizeof(gid), "%u.%u.%u", (unsigned)info.gid.id[0],
		 (unsigned)info.gid.id[1], (unsigned)info.gid.id[2]);
	fprintf(e->log, "REG s=%s g=%s cause=%s gid=%s idx=%d members=", pname,
		gname, cause_name(st), gid, idx);
	for (int i = 0; i < ngroups; i++)
		fprintf(e->log, "%s%s", i ? "," : "", tok(e->rgroups[i], nm));
	fprintf(e->log, " vs=");
	for (int s = 0; s < n_sets; s++) {
		char names[EV_MAX_MEMBERS][MAX_GROUP_NAME];
		int k = (int)sets[s].num_members;

		if (k > EV_MAX_MEMBERS ||
		    SP_get_vs_set_members(e->rbuf, &sets[s], names, k) < 0) {
			fprintf(e->log, "%s?", s ? ";" : "");
			continue;
		}
		fputs(s ? ";" : "", e->log);
		for (int i = 0; i < k; i++)
			fprintf(e->log, "%s%s", i ? "," : "", tok(names[i], nm));
	}
	fprintf(e->log, " myvs=%u changed=%s", my_set,
		tok(info.changed_member, nm));
	ev_log(e, "%s", "");
	if (!g)
		return;
	/* Only a "done" sent in this view counts; each member sends one in
	 * every view while it drains. */
	g->n_done = 0;
	e->done_sent &= ~(1u << (g - e->groups));
	{
		uint32_t h = 2166136261u;

		for (int i = 0; i < 3; i++)
			h = (h ^ (uint32_t)info.gid.id[i]) * 16777619u;
		g->view_tag = (int)(h >> 1) | 1; /* positive, never 0 */
	}
	g->member = g->joined && !g->leaving;
	g->n_members = ngroups;
	memcpy(g->members, e->rgroups, (size_t)ngroups * MAX_GROUP_NAME);
}

/* Logs a membership frame as received (FRAME, above), for evcheck.py's
 * byte-for-byte comparison of what clients of different daemons get for
 * the same membership event. */
static void log_frame(struct evc *e, service st, const char *group, int ngroups,
		      int len, const char *kind)
{
	char gname[MAX_GROUP_NAME + 1], pname[MAX_GROUP_NAME + 1];
	uint32_t fixed[3] = { (uint32_t)st, (uint32_t)ngroups, (uint32_t)len };
	int32_t gid[3] = { 0, 0, 0 };
	long off = -1;
	int reg = strcmp(kind, "REG") == 0;

	if (ngroups < 0 || ngroups > EV_MAX_MEMBERS || len < 12 || len >= EV_RECV_CAP)
		return;
	memcpy(gid, e->rbuf, 12);
	if (reg && len >= 20) {
		uint32_t o;

		memcpy(&o, e->rbuf + 16, 4);
		off = (long)o;
	}
	fprintf(e->log, "FRAME s=%s g=%s kind=%s gid=%u.%u.%u off=%ld bytes=",
		tok(e->priv, pname), tok(group, gname), kind, (unsigned)gid[0],
		(unsigned)gid[1], (unsigned)gid[2], off);
	for (size_t i = 0; i < sizeof(fixed); i++)
		fprintf(e->log, "%02x", ((const uint8_t *)fixed)[i]);
	for (int i = 0; i < MAX_GROUP_NAME; i++)
		fprintf(e->log, "%02x", (uint8_t)group[i]);
	for (int k = 0; k < ngroups; k++)
		for (int i = 0; i < MAX_GROUP_NAME; i++)
			fprintf(e->log, "%02x", (uint8_t)e->rgroups[k][i]);
	for (int i = 0; i < len; i++)
		fprintf(e->log, "%02x", reg && i >= 16 && i < 20 ? 0 : (uint8_t)e->rbuf[i]);
	ev_log(e, "%s", "");
}

/* Receives and handles one event. Returns 0, or a negative code when the
 * session is broken. */
static int receive_one(struct evc *e)
{
	char sender[MAX_GROUP_NAME], gname[MAX_GROUP_NAME + 1];
	char pname[MAX_GROUP_NAME + 1];
	service st = DROP_RECV;
	int ngroups = 0, endian = 0, r;
	int16 mtype = 0;
	struct ev_group *g;

	memset(sender, 0, sizeof(sender));
	r = SP_receive(e->mbox, &st, sender, EV_MAX_MEMBERS, &ngroups,
		       e->rgroups, &mtype, &endian, EV_RECV_CAP - 1, e->rbuf);
	tok(e->priv, pname);
	if (r == GROUPS_TOO_SHORT || r == BUFFER_TOO_SHORT) {
		/* DROP_RECV: the library dropped the frame; the session is
		 * still good. */
		ev_log(e, "BAD s=%s from=%s g=- why=too-short err=%d", pname,
		       tok(sender, gname), r);
		return 0;
	}
	if (r < 0)
		return r;
	tok(sender, gname);
	if (Is_reject_mess(st)) {
		ev_log(e, "REJECT s=%s g=%s svc=0x%x len=%d", pname, gname,
		       (unsigned)st, r);
	} else if (Is_regular_mess(st)) {
		on_data(e, st, sender, ngroups, r);
	} else if (Is_reg_memb_mess(st)) {
		on_reg_memb(e, st, sender, ngroups, mtype);
		log_frame(e, st, sender, ngroups, r, "REG");
	} else if (Is_transition_mess(st)) {
		membership_info info;

		memset(&info, 0, sizeof(info));
		if (SP_get_memb_info(e->rbuf, st, &info) < 0)
			ev_log(e, "BAD s=%s from=%s g=%s why=transitional-body",
			       pname, gname, gname);
		else
			ev_log(e, "TRANS s=%s g=%s gid=%u.%u.%u", pname, gname,
			       (unsigned)info.gid.id[0], (unsigned)info.gid.id[1],
			       (unsigned)info.gid.id[2]);
		log_frame(e, st, sender, ngroups, r, "TRANS");
	} else if (Is_self_leave(st)) {
		ev_log(e, "SELFLEAVE s=%s g=%s", pname, gname);
		if ((g = find_group(e, sender)) != NULL) {
			g->member = 0;
			g->n_members = 0;
			if (g->leaving > 0)
				g->leaving--;
		}
	} else {
		ev_log(e, "BAD s=%s from=%s g=- why=service-0x%x", pname, gname,
		       (unsigned)st);
	}
	return 0;
}

/* ---- sessions ------------------------------------------------------- */

static void session_lost(struct evc *e, int err)
{
	char pname[MAX_GROUP_NAME + 1];

	ev_log(e, "LOST s=%s err=%d", tok(e->priv, pname), err);
	SP_disconnect(e->mbox);
	e->connected = 0;
	for (int i = 0; i < e->n_groups; i++) {
		struct ev_group *g = &e->groups[i];

		g->member = g->joined = g->leaving = 0;
		g->n_members = g->n_done = 0;
		memset(g->seq, 0, sizeof(g->seq));
	}
}

static int do_join(struct evc *e, struct ev_group *g)
{
	char pname[MAX_GROUP_NAME + 1], gname[MAX_GROUP_NAME + 1];

	ev_log(e, "JOIN s=%s g=%s", tok(e->priv, pname), tok(g->name, gname));
	g->joined = 1;
	return SP_join(e->mbox, g->name);
}

static int do_leave(struct evc *e, struct ev_group *g)
{
	char pname[MAX_GROUP_NAME + 1], gname[MAX_GROUP_NAME + 1];

	ev_log(e, "LEAVE s=%s g=%s", tok(e->priv, pname), tok(g->name, gname));
	g->joined = 0;
	g->member = 0; /* no new sends; deliveries go on until the self-leave */
	g->leaving++;
	return SP_leave(e->mbox, g->name);
}

/* Tries once to open a session and join every group. */
static int try_connect(struct evc *e, int *failing)
{
	char user[MAX_PRIVATE_NAME + 1], pname[MAX_GROUP_NAME + 1];
	sp_time to = { 1, 0 };
	int r;

	snprintf(user, sizeof(user), "%ss%d", e->prefix, e->session_no);
	memset(e->priv, 0, sizeof(e->priv));
	r = SP_connect_timeout(e->spread, user, 0, 1, &e->mbox, e->priv, to);
	if (r != ACCEPT_SESSION) {
		if (!*failing)
			ev_log(e, "CONNFAIL err=%d", r);
		*failing = 1;
		return -1;
	}
	*failing = 0;
	e->connected = 1;
	ev_log(e, "CONN s=%s n=%d", tok(e->priv, pname), e->session_no);
	e->session_no++;
	for (int i = 0; i < e->n_groups; i++) {
		r = do_join(e, &e->groups[i]);
		if (r < 0) {
			session_lost(e, r);
			return -1;
		}
		if (e->churn_ms > 0 && i == e->n_groups - 1)
			e->groups[i].churn_at_ms = mono_ms() + e->churn_ms;
	}
	return 0;
}

/* 1 once every group this session is in has a "done" from each member of
 * the current view. */
static int drained(const struct evc *e)
{
	for (int i = 0; i < e->n_groups; i++) {
		const struct ev_group *g = &e->groups[i];

		if (!g->joined)
			continue;
		if (!g->member)
			return 0;
		for (int m = 0; m < g->n_members; m++) {
			int seen = 0;

			for (int k = 0; k < g->n_done && !seen; k++)
				seen = strncmp(g->done[k], g->members[m],
					       MAX_GROUP_NAME) == 0;
			if (!seen)
				return 0;
		}
	}
	return 1;
}

static void start_drain(struct evc *e)
{
	e->draining = 1;
	e->drain_end_ms = mono_ms() + e->drain_ms;
	for (int i = 0; i < e->n_groups; i++) {
		struct ev_group *g = &e->groups[i];

		/* A pending churn join is carried out so that every client
		 * ends in every group. */
		if (!g->joined && do_join(e, g) < 0)
			return;
		g->churn_at_ms = 0;
	}
}

/* Sends the "done" of each group that has its view and not yet sent it. */
static int send_dones(struct evc *e)
{
	for (int i = 0; i < e->n_groups; i++) {
		struct ev_group *g = &e->groups[i];
		int r;

		if (!g->member || (e->done_sent & (1u << i)))
			continue;
		r = send_one(e, g, EV_F, SAFE_MESS, g->view_tag);
		if (r < 0)
			return r;
		e->done_sent |= 1u << i;
	}
	return 0;
}

static void end(struct evc *e, int clean, const char *why)
{
	char pname[MAX_GROUP_NAME + 1];

	ev_log(e, "END s=%s clean=%d why=%s", e->connected ? tok(e->priv, pname) : "-",
	       clean, why);
	if (e->connected)
		SP_disconnect(e->mbox);
	e->connected = 0;
}

/* Logs the clean end, then, with -W, keeps the session (reading and
 * dropping what arrives, logging nothing) until a second stop request or
 * the deadline: a client that has drained does not change the views of
 * those still draining by leaving them. */
static void linger(struct evc *e)
{
	char pname[MAX_GROUP_NAME + 1];

	ev_log(e, "END s=%s clean=1 why=drained", tok(e->priv, pname));
	fflush(e->log);
	while (e->linger && stop_requested < 2 && mono_ms() < e->deadline_ms) {
		struct pollfd p = { e->mbox, POLLIN, 0 };
		char sender[MAX_GROUP_NAME];
		service st = DROP_RECV;
		int ng, en, r;
		int16 mt;

		if (SP_poll(e->mbox) <= 0 && poll(&p, 1, 50) <= 0)
			continue;
		r = SP_receive(e->mbox, &st, sender, EV_MAX_MEMBERS, &ng,
			       e->rgroups, &mt, &en, EV_RECV_CAP - 1, e->rbuf);
		if (r < 0 && r != GROUPS_TOO_SHORT && r != BUFFER_TOO_SHORT)
			break;
	}
	SP_disconnect(e->mbox);
	e->connected = 0;
}

/* Leaves the churning group, or joins it again, when its time has come. */
static int churn(struct evc *e, int64_t now)
{
	for (int i = 0; i < e->n_groups; i++) {
		struct ev_group *g = &e->groups[i];
		int r;

		if (!g->churn_at_ms || now < g->churn_at_ms)
			continue;
		if (g->joined) {
			r = do_leave(e, g);
			g->churn_at_ms = now + e->churn_ms / 2;
		} else {
			r = do_join(e, g);
			g->churn_at_ms = now + e->churn_ms;
		}
		if (r < 0)
			return r;
	}
	return 0;
}

static int run(struct evc *e)
{
	int failing = 0, r;
	int64_t interval_ms = e->rate > 0 ? (int64_t)(1000.0 / e->rate) : 0;

	if (interval_ms < 1 && e->rate > 0)
		interval_ms = 1;
	for (;;) {
		int64_t now = mono_ms(), wait_ms;
		struct pollfd p;

		if (now >= e->deadline_ms) {
			end(e, 0, "deadline");
			return 1;
		}
		if (!e->connected) {
			if (stop_requested) {
				end(e, 0, "no-session");
				return 1;
			}
			if (try_connect(e, &failing) != 0) {
				usleep(100 * 1000);
				continue;
			}
			e->done_sent = 0;
			e->next_send_ms = now + interval_ms;
			if (e->draining)
				start_drain(e);
		}
		if (stop_requested && !e->draining)
			start_drain(e);
		if (e->draining) {
			r = send_dones(e);
			if (r < 0) {
				session_lost(e, r);
				continue;
			}
			if (drained(e)) {
				linger(e);
				return 0;
			}
			if (now >= e->drain_end_ms) {
				end(e, 0, "drain-timeout");
				return 1;
			}
		} else {
			if (interval_ms && now >= e->next_send_ms) {
				e->next_send_ms += interval_ms;
				if (e->next_send_ms < now)
					e->next_send_ms = now + interval_ms;
				r = send_load(e);
				if (r < 0) {
					session_lost(e, r);
					continue;
				}
			}
			r = churn(e, now);
			if (r < 0) {
				session_lost(e, r);
				continue;
			}
		}
		wait_ms = e->draining ? 20 : interval_ms ? e->next_send_ms - now : 50;
		if (wait_ms < 0)
			wait_ms = 0;
		if (wait_ms > 50)
			wait_ms = 50;
		p.fd = e->mbox;
		p.events = POLLIN;
		p.revents = 0;
		if (SP_poll(e->mbox) <= 0 && poll(&p, 1, (int)wait_ms) <= 0)
			continue;
		/* A bounded batch, so sending keeps its rate under load. */
		for (int k = 0; k < 64; k++) {
			r = receive_one(e);
			if (r < 0) {
				session_lost(e, r);
				break;
			}
			if (SP_poll(e->mbox) <= 0)
				break;
		}
	}
}

static void evc_free(struct evc *e)
{
	for (int i = 0; i < e->n_groups; i++) {
		free(e->groups[i].members);
		free(e->groups[i].done);
	}
	free(e->rbuf);
	free(e->rgroups);
	free(e->sbuf);
	if (e->log && e->log != stdout)
		fclose(e->log);
}

static void usage(void)
{
	fprintf(stderr,
		"usage: evclient -s daemon -u prefix -o log [-g g1,g2] [-i index]\n"
		"                [-r msgs/s] [-b max_bytes] [-L churn_ms] [-D drain_ms]\n"
		"                [-T seconds] [-S seed] [-W]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static struct evc e;
	const char *groups = "g1", *logpath = NULL;
	double seconds = 60;
	unsigned long long seed = 1;
	struct sigaction sa;
	char buf[256], *save = NULL;
	int ch, rc;

	e.rate = 50;
	e.max_bytes = 1200;
	e.drain_ms = 10000;
	while ((ch = getopt(argc, argv, "b:D:g:i:L:o:r:s:S:T:u:W")) != -1) {
		switch (ch) {
		case 'b': e.max_bytes = atoi(optarg); break;
		case 'D': e.drain_ms = atoi(optarg); break;
		case 'W': e.linger = 1; break;
		case 'g': groups = optarg; break;
		case 'i': e.cli = atoi(optarg); break;
		case 'L': e.churn_ms = atoi(optarg); break;
		case 'o': logpath = optarg; break;
		case 'r': e.rate = atof(optarg); break;
		case 's': e.spread = optarg; break;
		case 'S': seed = strtoull(optarg, NULL, 0); break;
		case 'T': seconds = atof(optarg); break;
		case 'u': e.prefix = optarg; break;
		default: usage();
		}
	}
	if (optind != argc || !e.spread || !e.prefix || !logpath)
		usage();
	if (strlen(e.prefix) < 1 || strlen(e.prefix) > EV_PREFIX_MAX) {
		fprintf(stderr, "evclient: prefix must have 1 to %d characters\n",
			EV_PREFIX_MAX);
		return 2;
	}
	if (e.max_bytes < 64 || e.max_bytes > EV_MAX_BYTES || e.rate < 0 ||
	    e.rate > 10000 || e.drain_ms < 0 || e.churn_ms < 0 || seconds <= 0) {
		fprintf(stderr, "evclient: -b must be in 64..%d, -r in 0..10000, "
			"-D, -L >= 0, -T > 0\n", EV_MAX_BYTES);
		return 2;
	}
	snprintf(buf, sizeof(buf), "%s", groups);
	for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		struct ev_group *g;

		if (e.n_groups == EV_MAX_GROUPS || strlen(t) >= MAX_GROUP_NAME) {
			fprintf(stderr, "evclient: at most %d groups of at most %d "
				"characters\n", EV_MAX_GROUPS, MAX_GROUP_NAME - 1);
			return 2;
		}
		g = &e.groups[e.n_groups++];
		snprintf(g->name, sizeof(g->name), "%s", t);
		g->members = calloc(EV_MAX_MEMBERS, MAX_GROUP_NAME);
		g->done = calloc(EV_MAX_MEMBERS, MAX_GROUP_NAME);
		if (!g->members || !g->done) {
			fprintf(stderr, "evclient: out of memory\n");
			return 2;
		}
	}
	e.rbuf = malloc(EV_RECV_CAP);
	e.rgroups = calloc(EV_MAX_MEMBERS, MAX_GROUP_NAME);
	e.sbuf = malloc(EV_MAX_BYTES);
	e.log = strcmp(logpath, "-") == 0 ? stdout : fopen(logpath, "w");
	if (!e.rbuf || !e.rgroups || !e.sbuf || !e.log) {
		fprintf(stderr, "evclient: %s: %s\n", logpath, strerror(errno));
		evc_free(&e);
		return 2;
	}
	setvbuf(e.log, NULL, _IOLBF, 0);
	e.rng = seed * 0x9E3779B97F4A7C15ull + (unsigned)e.cli + 1;
	e.deadline_ms = mono_ms() + (int64_t)(seconds * 1000);

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	ev_log(&e, "START cli=%d daemon=%s pid=%d", e.cli, e.spread, (int)getpid());
	rc = run(&e);
	evc_free(&e);
	return rc;
}
