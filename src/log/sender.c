/*
 * sender.c - chorus-log's sender thread: the daemon connection, batches
 * out, acknowledgements in, resends, reconnects with backoff, adoption of
 * left-over streams; and its keeper thread: periodic state saves, fsync
 * and status lines of the own streams, and a watchdog on sends, so that
 * a daemon that stops taking data (a send that blocks) holds up none of
 * these: after SEND_TIMEOUT_MS the keeper shuts the connection down,
 * which ends the send with an error, and the sender reconnects.
 *
 * It is the shell around the pure core of sendq.c, in the style of the
 * project's event loops: each iteration reads the clock once, connects
 * if due, lets each stream's core decide what to send and carries it
 * out, reads every pending acknowledgement, and sleeps in poll() until
 * the earliest deadline, an acknowledgement, or a wake-up from the
 * reader (an eventfd). The batch format and the exchange are
 * docs/log-batch.md.
 */
#include "log/clog.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "chorus.h"
#include "log/sendq.h"
#include "proto/batch.h"
#include "util/log.h"

#define SENDER_MAX_ADOPTED 8
/* The own stream and the adopted ones, each sent to up to
 * SPOOL_GROUPS_MAX groups. */
#define SENDER_MAX_STREAMS (SPOOL_GROUPS_MAX * (1 + SENDER_MAX_ADOPTED))
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 10000
#define CONNECT_TIMEOUT_S 3
#define ADOPT_EVERY_MS 1000
#define SAVE_EVERY_MS 200
#define KEEPER_TICK_MS 50
#define SEND_TIMEOUT_MS 10000
/* "lines pending but none readable": at most once per this. */
#define STALL_LOG_EVERY_MS 10000
/* An unfinished line of an exited process is left this long for the
 * next process on its pipe before another process ends it. */
#define ADOPT_GRACE_S 10
/* Acknowledgements are small; anything else on the mailbox is skipped. */
#define RBUF_LEN (BATCH_ACK_MAX_LEN + 1024)

/* One stream being sent: a spool stream, the own one or an adopted one,
 * as one of its groups gets it; a spool of several groups has an entry
 * for each (its group 0's first, the others right after it), each with
 * its own core, cursor and acknowledgements. The own spool is owned by
 * main; adopted ones by the sender, through their group 0's entry. */
struct stream {
	struct spool *sp;
	int adopted;
	unsigned g;                /* its group in the spool */
	const char *group;         /* that group's name (in *sp) */
	uint64_t id;               /* the stream id that group gets */
	struct sendq sq;
	struct spool_cursor cur;
	uint64_t lost_reported;    /* dropped total already logged */
	uint64_t lost_sent_reported; /* ... of which this process had sent */
	uint64_t high_sent;        /* highest line ever sent, for resends */
	int64_t stall_logged_ms;   /* last "none readable" warning */
	uint64_t stalls;           /* ... and how many since */
};

struct sender {
	const struct clog_config *cfg;
	struct clog_stats *st;
	pthread_t thread;
	int evfd;
	int eof;                   /* set by sender_eof (atomic) */
	int idle;                  /* waiting for lines: wake on append */
	uint64_t unwoken_bytes;    /* appended since the last wake-up */
	struct stream streams[SENDER_MAX_STREAMS];
	int nstreams;
	int nown;                  /* streams[0, nown): the own spool's */
	/* Where streams left by other processes are looked for: the
	 * directory of each group of the process (sender_start()). */
	char adopt_dirs[CLOG_MAX_GROUPS][SPOOL_PATH_MAX];
	char spool_root[SPOOL_PATH_MAX];   /* other group directories: "" none */
	int root_scanned;                  /* foreign directories reported */
	mailbox mb;
	int connected;
	int ever_connected;
	char private_group[MAX_GROUP_NAME];
	int64_t next_connect_ms;
	int64_t backoff_ms;
	int64_t next_adopt_ms, next_save_ms, next_sync_ms;
	int64_t flush_deadline_ms;
	/* The keeper thread (own streams only: streams[0, nown)). */
	pthread_t keeper;
	int keeper_started;
	int stop;                  /* atomic: the keeper ends */
	pthread_mutex_t send_mu;   /* sending, send_since_ms, the mailbox */
	int sending;
	int64_t send_since_ms;
	uint8_t *buf;              /* one batch */
	size_t payload_max;
	char *rbuf;                /* one received message */
	uint64_t last_connect_err_logged;
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static struct sq_config sq_cfg(const struct clog_config *cfg)
{
	struct sq_config c;

	memset(&c, 0, sizeof(c));
	c.batch_bytes = cfg->batch_bytes;
	c.latency_ms = cfg->latency_ms;
	c.window = cfg->window;
	c.ack_timeout_ms = cfg->ack_timeout_ms;
	c.ack_timeout_max_ms = cfg->ack_timeout_ms * 16;
	c.gap_holdoff_ms = cfg->gap_holdoff_ms;
	c.acks_needed = cfg->acks;
	c.plain = cfg->plain;
	return c;
}

static void stream_init(struct sender *s, struct stream *t, struct spool *sp,
			unsigned g, int adopted)
{
	struct spool_stats ss;
	struct sq_config c = sq_cfg(s->cfg);

	memset(t, 0, sizeof(*t));
	spool_group_stats(sp, g, &ss);
	t->sp = sp;
	t->g = g;
	t->group = spool_group_name(sp, g);
	t->id = ss.stream_id;
	t->adopted = adopted;
	/* Losses found when the spool was opened are reported too. */
	t->lost_reported = ss.dropped_open;
	sq_init(&t->sq, &c, ss.acked, ss.base, ss.next_seq);
	spool_seek(sp, &t->cur, ss.acked + 1, NULL);
	if (__atomic_load_n(&s->eof, __ATOMIC_ACQUIRE))
		sq_flush(&t->sq);
	if (s->connected)
		sq_connected(&t->sq, now_ms());
}

/* A send is under way (for the keeper's watchdog). */
static void send_begin(struct sender *s)
{
	pthread_mutex_lock(&s->send_mu);
	s->sending = 1;
	s->send_since_ms = now_ms();
	pthread_mutex_unlock(&s->send_mu);
}

static void send_end(struct sender *s)
{
	pthread_mutex_lock(&s->send_mu);
	s->sending = 0;
	pthread_mutex_unlock(&s->send_mu);
}

static void disconnect(struct sender *s, const char *why, int code)
{
	if (!s->connected)
		return;
	log_warnx("lost the daemon %s (%s: %s); spooling, reconnecting",
		  s->cfg->daemon, why, chorus_strerror(code));
	/* A disconnect sends too: under the watchdog. */
	send_begin(s);
	SP_disconnect(s->mb);
	send_end(s);
	__atomic_store_n(&s->connected, 0, __ATOMIC_RELAXED);
	for (int i = 0; i < s->nstreams; i++)
		sq_disconnected(&s->streams[i].sq);
	s->next_connect_ms = now_ms() + s->backoff_ms;
}

static void try_connect(struct sender *s, int64_t now)
{
	char name[MAX_PRIVATE_NAME + 1];
	sp_time to = { CONNECT_TIMEOUT_S, 0 };
	uint32_t r = 0;
	int ret;

	if (getrandom(&r, sizeof(r), 0) != (ssize_t)sizeof(r))
		r = (uint32_t)now ^ (uint32_t)getpid();
	snprintf(name, sizeof(name), "cl%08" PRIx32, r);
	ret = SP_connect_timeout(s->cfg->daemon, name, 0, 0, &s->mb,
				 s->private_group, to);
	if (ret != ACCEPT_SESSION) {
		CLOG_ADD(s->st->connect_failures, 1);
		/* Log the first failure and then every tenth. The address was
		 * checked at startup, so ILLEGAL_SPREAD now means that its
		 * host name does not resolve. */
		if (s->last_connect_err_logged++ % 10 == 0)
			log_warnx("cannot connect to the daemon %s: %s%s%s (retry in %"
				  PRId64 " ms, lines stay in the spool)", s->cfg->daemon,
				  ret == ILLEGAL_SPREAD ? "cannot resolve its host name" :
				  chorus_strerror(ret), chorus_tls_error()[0] ? ": " : "",
				  chorus_tls_error(), s->backoff_ms);
		s->next_connect_ms = now_ms() + s->backoff_ms;
		/* Exponential backoff with jitter, so that many nodes do not
		 * reconnect in step. */
		s->backoff_ms = s->backoff_ms * 2 + (int64_t)(r % 100);
		if (s->backoff_ms > BACKOFF_MAX_MS)
			s->backoff_ms = BACKOFF_MAX_MS;
		return;
	}
	__atomic_store_n(&s->connected, 1, __ATOMIC_RELAXED);
	s->backoff_ms = BACKOFF_MIN_MS;
	s->last_connect_err_logged = 0;
	if (s->ever_connected)
		CLOG_ADD(s->st->reconnects, 1);
	log_info("connected to the daemon %s as %s", s->cfg->daemon,
		 s->private_group);
	s->ever_connected = 1;
	for (int i = 0; i < s->nstreams; i++)
		sq_connected(&s->streams[i].sq, now);
	s->next_adopt_ms = now;
}

/* Multicasts one batch (or, in plain mode, its lines one by one) read at
 * the stream's cursor. Returns 1 if something was sent, 0 if there was
 * nothing to read, -1 if the connection broke. */
static int send_one(struct sender *s, struct stream *t, int64_t now)
{
	const char *group = t->group;
	size_t hlen = batch_hdr_len(strlen(s->cfg->node));
	size_t cap = s->cfg->batch_bytes;
	struct spool_stats ss;
	struct spool_cursor at;
	struct batch_hdr h;
	uint64_t first, id, base, held;
	uint32_t count;
	uint8_t flags;
	ssize_t n;
	int ret;

	if (cap < s->cfg->max_line + 1)
		cap = s->cfg->max_line + 1;
	if (cap > s->payload_max)
		cap = s->payload_max;
	n = spool_read(t->sp, &t->cur, (char *)s->buf + hlen, cap, &first, &count);
	if (n == -EMSGSIZE)
		n = spool_read(t->sp, &t->cur, (char *)s->buf + hlen, s->payload_max,
			       &first, &count);
	if (n == -EMSGSIZE) {
		/* A stored line longer than a message (written by hand, or by
		 * an older version): sent cut, never a stall. */
		size_t room = s->payload_max - (s->cfg->plain ? strlen(s->cfg->node) + 1 : 0);

		/* Cut by the rule of -l, like every other line. */
		if (room > s->cfg->max_line + 1)
			room = s->cfg->max_line + 1;

		n = spool_read_cut(t->sp, &t->cur, (char *)s->buf + hlen, room, &first,
				   &count);
		if (n > 0)
			log_warnx("spool %s: line %" PRIu64 " is longer than a message: "
				  "sent cut", t->sp->dir, first);
	}
	if (n <= 0) {
		if (n < 0)
			log_warnx("spool %s: read: %s", t->sp->dir, strerror((int)-n));
		return 0;
	}
	at = t->cur;
	at.seq = first;
	at.off -= (uint64_t)n;
	spool_group_stats(t->sp, t->g, &ss);
	sq_note_spool(&t->sq, ss.base, ss.next_seq);
	id = sq_next_id(&t->sq);
	if (s->cfg->plain) {
		/* The original form: node name, a space, the line. */
		char *p = (char *)s->buf + hlen, *end = p + n;
		size_t nl = strlen(s->cfg->node);

		while (p < end) {
			char *e = (char *)memchr(p, '\n', (size_t)(end - p)) + 1;
			char *m = p - nl - 1;

			/* The bytes before the line are free: the header
			 * space or the previous line, already sent. */
			memcpy(m, s->cfg->node, nl);
			m[nl] = ' ';
			send_begin(s);
			ret = SP_multicast(s->mb, AGREED_MESS, group, 0,
					   (int)(e - m), m);
			send_end(s);
			if (ret < 0) {
				disconnect(s, "send", ret);
				return -1;
			}
			p = e;
		}
	} else {
		uint64_t run = spool_run_base(t->sp, first);

		sq_batch_fields(&t->sq, first, count, run, spool_held_below(t->sp, run),
				&base, &held, &flags);
		memset(&h, 0, sizeof(h));
		h.has_held_below = 1;
		h.held_below = held;
		h.stream_id = ss.stream_id;
		h.batch_id = id;
		h.first_seq = first;
		h.count = count;
		h.base_seq = base;
		h.flags = flags;
		h.dropped = ss.dropped;
		h.cut = ss.cut;
		h.time_ms = wall_ms();
		h.node = s->cfg->node;
		h.node_len = strlen(s->cfg->node);
		h.payload_len = (size_t)n;
		if (batch_hdr_encode(&h, s->buf, hlen) != (int)hlen)
			fatalx("batch header encoding failed");
		send_begin(s);
		ret = SP_multicast(s->mb, AGREED_MESS, group, BATCH_MESS_TYPE,
				   (int)(hlen + (size_t)n), (const char *)s->buf);
		send_end(s);
		if (ret < 0) {
			disconnect(s, "send", ret);
			return -1;
		}
	}
	if (first <= t->high_sent) {
		uint64_t last = first + count - 1;

		CLOG_ADD(s->st->lines_resent,
			 (last < t->high_sent ? last : t->high_sent) - first + 1);
	}
	if (first + count - 1 > t->high_sent) {
		t->high_sent = first + count - 1;
		spool_note_sent(t->sp, t->g, t->high_sent);
	}
	sq_sent(&t->sq, now, id, first, count, &at);
	CLOG_ADD(s->st->lines_sent, count);
	CLOG_ADD(s->st->batches_sent, 1);
	if (s->cfg->plain) {
		spool_ack(t->sp, t->g, t->sq.acked);
		CLOG_ADD(s->st->lines_acked, count);
	}
	return 1;
}

/* Logs loudly any lines the spool of t dropped since the last report. */
static void report_loss(struct stream *t)
{
	struct spool_stats ss;

	spool_group_stats(t->sp, t->g, &ss);
	if (ss.dropped > t->lost_reported) {
		log_warnx("LOST %" PRIu64 " lines of stream %016" PRIx64 " to group %s"
			  " (spool full or not writable, or segments missing; %" PRIu64
			  " in all; %" PRIu64 " of these had been sent, without an "
			  "acknowledgement yet: a writer may have them)",
			  ss.dropped - t->lost_reported, ss.stream_id, t->group, ss.dropped,
			  ss.dropped_sent - t->lost_sent_reported);
		t->lost_reported = ss.dropped;
		t->lost_sent_reported = ss.dropped_sent;
	}
}

/* Lets the core of t decide, and sends while it says so. */
static void run_stream(struct sender *s, struct stream *t, int64_t now)
{
	uint64_t lines, bytes, seq, timeouts = t->sq.timeouts;
	struct spool_stats ss;
	struct spool_cursor hint;
	int hint_ok;

	spool_group_stats(t->sp, t->g, &ss);
	sq_note_spool(&t->sq, ss.base, ss.next_seq);
	sq_tick(&t->sq, now);
	if (t->sq.timeouts != timeouts)
		CLOG_ADD(s->st->timeouts, t->sq.timeouts - timeouts);
	if (sq_take_rewind(&t->sq, &seq, &hint, &hint_ok))
		spool_seek(t->sp, &t->cur, seq, hint_ok ? &hint : NULL);
	for (;;) {
		int r;

		spool_pending(t->sp, &t->cur, &lines, &bytes);
		sq_note_pending(&t->sq, now, lines);
		if (!sq_may_send(&t->sq, now, lines, bytes))
			break;
		r = send_one(s, t, now);
		if (r == 0) {
			/* Lines pending but nothing read: never spin, and
			 * say so at most every STALL_LOG_EVERY_MS. */
			sq_stalled(&t->sq, now);
			t->stalls++;
			if (!t->stall_logged_ms || now - t->stall_logged_ms >= STALL_LOG_EVERY_MS) {
				log_warnx("spool %s: %" PRIu64 " lines pending but none "
					  "readable at line %" PRIu64 " (%" PRIu64 " times)",
					  t->sp->dir, lines, t->cur.seq, t->stalls);
				t->stall_logged_ms = now;
				t->stalls = 0;
			}
		}
		if (r <= 0)
			break;
	}
	report_loss(t);
}

/* Handles one acknowledgement. */
static void on_ack(struct sender *s, const uint8_t *msg, int len, int64_t now)
{
	struct batch_ack a;
	int err = batch_ack_decode(msg, (size_t)len, &a);

	if (err != BATCH_OK) {
		log_warnx("ignored a bad acknowledgement: %s", batch_err_str(err));
		return;
	}
	for (int i = 0; i < s->nstreams; i++) {
		struct stream *t = &s->streams[i];
		struct spool_stats ss;
		uint64_t before = t->sq.acked;

		if (t->id != a.stream_id)
			continue;
		spool_group_stats(t->sp, t->g, &ss);
		sq_note_spool(&t->sq, ss.base, ss.next_seq);
		if (a.flags & BATCH_ACK_F_GAP)
			CLOG_ADD(s->st->gaps, 1);
		if (sq_on_ack(&t->sq, now, a.writer, a.writer_len, a.acked, a.batch_id,
			      a.flags & BATCH_ACK_F_GAP)) {
			spool_ack(t->sp, t->g, t->sq.acked);
			CLOG_ADD(s->st->lines_acked, t->sq.acked - before);
		}
		return;
	}
}

/* Reads every message that is waiting. */
static void receive_all(struct sender *s, int64_t now)
{
	char *msg = s->rbuf;

	while (s->connected && SP_poll(s->mb) > 0) {
		char sender[MAX_GROUP_NAME], groups[8][MAX_GROUP_NAME];
		service st = DROP_RECV;
		int16 mtype = 0;
		int ng = 0, endian = 0;
		int ret = SP_receive(s->mb, &st, sender, 8, &ng, groups, &mtype,
				     &endian, RBUF_LEN, msg);

		if (ret < 0 && ret != BUFFER_TOO_SHORT && ret != GROUPS_TOO_SHORT) {
			disconnect(s, "receive", ret);
			return;
		}
		if (Is_reject_mess(st)) {
			CLOG_ADD(s->st->rejects, 1);
			log_warnx("the daemon rejected a message to %s", groups[0]);
			continue;
		}
		if (ret >= 0 && Is_regular_mess(st) && mtype == BATCH_ACK_MESS_TYPE)
			on_ack(s, (const uint8_t *)msg, ret, now);
	}
}

/* 1 while the sender can take on one more adopted stream. */
static int adopt_room(const struct sender *s, int adopted)
{
	return adopted < SENDER_MAX_ADOPTED &&
	       s->nstreams + SPOOL_GROUPS_MAX <= SENDER_MAX_STREAMS;
}

/* Takes on one stream left in gdir by a process that exited, if there is
 * one: it is sent to the groups it was made for (its own list, or group,
 * the group of its directory). Returns 1 if one was adopted. */
static int adopt_in(struct sender *s, const char *gdir, const char *group, uint64_t own)
{
	char err[SPOOL_PATH_MAX + 256], names[200];
	struct spool *sp = malloc(sizeof(*sp));
	struct spool_stats ss;
	size_t o = 0;
	int r;

	if (!sp)
		return 0;
	r = spool_adopt(sp, gdir, group, own, ADOPT_GRACE_S, s->cfg->max_line, err,
			sizeof(err));
	if (r <= 0) {
		if (r < 0)
			log_warnx("cannot adopt a stream in %s: %s", gdir, err);
		free(sp);
		return 0;
	}
	spool_stats(sp, &ss);
	names[0] = 0;
	for (unsigned k = 0; k < spool_ngroups(sp) && o < sizeof(names); k++) {
		int w = snprintf(names + o, sizeof(names) - o, "%s%s", k ? " " : "",
				 spool_group_name(sp, k));

		o += w > 0 ? (size_t)w : 0;
	}
	log_info("adopted stream %016" PRIx64 " of %s for group(s) %s with %" PRIu64
		 " unacknowledged lines", ss.stream_id, gdir, names, ss.unacked);
	for (unsigned k = 0; k < spool_ngroups(sp); k++)
		stream_init(s, &s->streams[s->nstreams++], sp, k, 1);
	return 1;
}

/* 1 if the directory has a stream in it (an entry not starting with
 * '.'), as far as can be seen. */
static int dir_has_stream(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int found = 0;

	if (!d)
		return 0;
	while (!found && (e = readdir(d)))
		found = e->d_name[0] != '.';
	closedir(d);
	return found;
}

/* Looks for streams left by processes that exited: first in the
 * directory of each group of the process, then in every other group
 * directory of this node under the spool root, so that a stream is sent
 * after a change of the group list too (a stream of several groups lives
 * in the directory of its first group, which the new list may not have).
 * The first pass also says, once, which directories no process of this
 * node name will ever send. */
static void adopt(struct sender *s)
{
	uint64_t own = s->streams[0].sp->stream_id;
	char path[SPOOL_PATH_MAX], group[SPOOL_GROUP_NAME_MAX + 1];
	int adopted = 0;
	struct dirent *e;
	DIR *d;

	for (int i = s->nown; i < s->nstreams; i++)
		adopted += s->streams[i].g == 0;
	for (int g = 0; g < s->cfg->ngroups && adopt_room(s, adopted); g++)
		while (s->adopt_dirs[g][0] && adopt_room(s, adopted) &&
		       adopt_in(s, s->adopt_dirs[g], s->cfg->groups[g], own))
			adopted++;
	if (!s->spool_root[0] || !adopt_room(s, adopted) || !(d = opendir(s->spool_root)))
		return;
	while ((e = readdir(d)) && adopt_room(s, adopted)) {
		int ours = 0, n;

		if (e->d_name[0] == '.' || !strchr(e->d_name, '@'))
			continue;
		n = snprintf(path, sizeof(path), "%s/%s", s->spool_root, e->d_name);
		if (n < 0 || (size_t)n >= sizeof(path))
			continue;
		for (int g = 0; g < s->cfg->ngroups; g++)
			ours |= strcmp(path, s->adopt_dirs[g]) == 0;
		if (ours)
			continue;
		if (!spool_dir_group(e->d_name, s->cfg->node, group, sizeof(group))) {
			if (!s->root_scanned && dir_has_stream(path))
				log_warnx("the spool directory %s is not one of node %s's "
					  "group directories: its streams are sent only by a "
					  "chorus-log with its node name (-h) and group (-g)",
					  path, s->cfg->node);
			continue;
		}
		while (adopt_room(s, adopted) && adopt_in(s, path, group, own))
			adopted++;
	}
	closedir(d);
	s->root_scanned = 1;
}

/* 1 when every group of spool sp has everything it holds. */
static int spool_done(struct sender *s, struct spool *sp)
{
	struct spool_stats ss;

	spool_stats(sp, &ss);
	for (int i = 0; i < s->nstreams; i++)
		if (s->streams[i].sp == sp && !sq_done(&s->streams[i].sq, ss.last_held))
			return 0;
	return 1;
}

/* Removes adopted streams that are done for all their groups. */
static void retire(struct sender *s)
{
	for (int i = s->nown; i < s->nstreams; i++) {
		struct spool *sp = s->streams[i].sp;
		int keep = s->nown;

		if (s->streams[i].g != 0 || !spool_done(s, sp))
			continue;
		log_info("stream %016" PRIx64 " drained; removed", sp->stream_id);
		if (spool_remove(sp) != 0)
			log_warn("removing the stream %016" PRIx64, sp->stream_id);
		/* Its entries go, the order of the others stays. */
		for (int j = s->nown; j < s->nstreams; j++)
			if (s->streams[j].sp != sp)
				s->streams[keep++] = s->streams[j];
		s->nstreams = keep;
		free(sp);
		i = s->nown - 1;
	}
}

static int all_done(struct sender *s)
{
	for (int i = 0; i < s->nstreams; i++)
		if (s->streams[i].g == 0 && !spool_done(s, s->streams[i].sp))
			return 0;
	return 1;
}

void sender_status(struct sender *s, char *buf, size_t len)
{
	struct clog_stats *st = s->st;
	uint64_t spooled = 0, bytes = 0;

	/* The own spool, once (its entry of group 0): the lines some group
	 * has not acknowledged. */
	{
		struct spool_stats ss;

		spool_stats(s->streams[0].sp, &ss);
		spooled += ss.unacked;
		bytes += ss.bytes;
	}
	snprintf(buf, len,
		 "status: read %" PRIu64 " lines (%" PRIu64 " bytes), sent %" PRIu64
		 ", acknowledged %" PRIu64 ", spooled %" PRIu64 " (%" PRIu64
		 " bytes), dropped %" PRIu64 ", cut %" PRIu64 ", resent %" PRIu64
		 ", reconnects %" PRIu64 ", connect failures %" PRIu64 ", gaps %" PRIu64
		 ", timeouts %" PRIu64 ", rejects %" PRIu64 ", syncs %" PRIu64 ", %s",
		 CLOG_GET(st->lines_read), CLOG_GET(st->bytes_read),
		 CLOG_GET(st->lines_sent), CLOG_GET(st->lines_acked), spooled, bytes,
		 CLOG_GET(st->lines_dropped), CLOG_GET(st->lines_cut),
		 CLOG_GET(st->lines_resent), CLOG_GET(st->reconnects),
		 CLOG_GET(st->connect_failures), CLOG_GET(st->gaps),
		 CLOG_GET(st->timeouts), CLOG_GET(st->rejects), CLOG_GET(st->syncs),
		 __atomic_load_n(&s->connected, __ATOMIC_RELAXED) ? "connected" :
								  "disconnected");
}

/* Syncs stream t when due (a segment changed, or every sync_ms). */
static void sync_stream(struct sender *s, struct stream *t, int due)
{
	if (s->cfg->sync_ms <= 0 || !(due || spool_sync_due(t->sp)))
		return;
	if (spool_sync(t->sp) != 0)
		log_warn("spool %s: fdatasync", t->sp->dir);
	CLOG_ADD(s->st->syncs, 1);
}

/* The sender thread's share: adopted streams, adoption and retirement. */
static void housekeeping(struct sender *s, int64_t now)
{
	int save = now >= s->next_save_ms, sync = now >= s->next_sync_ms;

	for (int i = s->nown; i < s->nstreams; i++) {
		if (s->streams[i].g != 0)
			continue; /* the spool of the entry of its group 0 */
		if (save && spool_save_state(s->streams[i].sp) != 0)
			log_warn("spool %s: saving the state", s->streams[i].sp->dir);
		sync_stream(s, &s->streams[i], sync);
	}
	if (save)
		s->next_save_ms = now + SAVE_EVERY_MS;
	if (sync && s->cfg->sync_ms > 0)
		s->next_sync_ms = now + s->cfg->sync_ms;
	if (s->connected && now >= s->next_adopt_ms &&
	    !__atomic_load_n(&s->eof, __ATOMIC_ACQUIRE)) {
		adopt(s);
		s->next_adopt_ms = now + ADOPT_EVERY_MS;
	}
	retire(s);
}

/* The keeper thread: the own streams' state saves and syncs, the status
 * lines, and the watchdog on sends; never held up by the daemon. */
static void *keeper_main(void *arg)
{
	struct sender *s = arg;
	int64_t next_save = 0, next_sync = 0, next_status = 0;

	if (s->cfg->status_ms > 0)
		next_status = now_ms() + s->cfg->status_ms;
	while (!__atomic_load_n(&s->stop, __ATOMIC_ACQUIRE)) {
		struct timespec tick = { 0, KEEPER_TICK_MS * 1000000L };
		int64_t now = now_ms();
		int sync = s->cfg->sync_ms > 0 && now >= next_sync;

		/* The own spool is that of streams[0] (all own entries
		 * share it). */
		if (now >= next_save) {
			if (spool_save_state(s->streams[0].sp) != 0)
				log_warn("spool %s: saving the state", s->streams[0].sp->dir);
			next_save = now + SAVE_EVERY_MS;
		}
		sync_stream(s, &s->streams[0], sync);
		if (sync)
			next_sync = now + s->cfg->sync_ms;
		if (s->cfg->status_ms > 0 && now >= next_status) {
			char line[600];

			sender_status(s, line, sizeof(line));
			log_info("%s", line);
			next_status = now + s->cfg->status_ms;
		}
		pthread_mutex_lock(&s->send_mu);
		if (s->sending && now - s->send_since_ms > SEND_TIMEOUT_MS) {
			/* The blocked send fails, the sender reconnects. */
			log_warnx("the daemon %s has taken no data for %d s; "
				  "disconnecting", s->cfg->daemon, SEND_TIMEOUT_MS / 1000);
			shutdown(s->mb, SHUT_RDWR);
			s->send_since_ms = now;
		}
		pthread_mutex_unlock(&s->send_mu);
		nanosleep(&tick, NULL);
	}
	return NULL;
}

static void *sender_main(void *arg)
{
	struct sender *s = arg;

	for (;;) {
		int64_t now = now_ms(), deadline = -1, wait;
		struct pollfd pfd[2];
		int eof = __atomic_load_n(&s->eof, __ATOMIC_ACQUIRE), n = 0;

		if (eof && s->flush_deadline_ms < 0) {
			s->flush_deadline_ms = now + s->cfg->flush_ms;
			for (int i = 0; i < s->nstreams; i++)
				sq_flush(&s->streams[i].sq);
		}
		if (!s->connected && now >= s->next_connect_ms)
			try_connect(s, now);
		if (s->connected)
			receive_all(s, now);
		for (int i = 0; i < s->nstreams; i++)
			run_stream(s, &s->streams[i], now);
		if (s->connected)
			receive_all(s, now);
		housekeeping(s, now);
		if (eof && (all_done(s) || now >= s->flush_deadline_ms))
			break;
		/* Sleep until the earliest deadline. */
		for (int i = 0; i < s->nstreams; i++) {
			uint64_t lines, bytes;
			int64_t d;

			spool_pending(s->streams[i].sp, &s->streams[i].cur, &lines, &bytes);
			d = sq_deadline(&s->streams[i].sq, lines);
			if (d >= 0 && (deadline < 0 || d < deadline))
				deadline = d;
		}
		/* With nothing waiting to be sent, the next line starts the
		 * latency clock: ask the reader for a wake-up. */
		{
			int idle = s->connected;

			for (int i = 0; idle && i < s->nstreams; i++) {
				uint64_t lines, bytes;

				spool_pending(s->streams[i].sp, &s->streams[i].cur,
					      &lines, &bytes);
				idle = lines == 0;
			}
			__atomic_store_n(&s->idle, idle, __ATOMIC_RELEASE);
		}
		if (!s->connected && (deadline < 0 || s->next_connect_ms < deadline))
			deadline = s->next_connect_ms;
		if (deadline < 0 || s->next_save_ms < deadline)
			deadline = s->next_save_ms;
		if (eof && s->flush_deadline_ms < deadline)
			deadline = s->flush_deadline_ms;
		wait = deadline - now_ms();
		if (wait < 0)
			wait = 0;
		if (wait > 1000)
			wait = 1000;
		pfd[n].fd = s->evfd;
		pfd[n++].events = POLLIN;
		if (s->connected) {
			pfd[n].fd = s->mb;
			pfd[n++].events = POLLIN;
		}
		if (poll(pfd, (nfds_t)n, (int)wait) > 0 && (pfd[0].revents & POLLIN)) {
			uint64_t v;

			if (read(s->evfd, &v, sizeof(v)) < 0 && errno != EAGAIN)
				log_warn("eventfd");
		}
	}
	/* Save what was acknowledged; adopted streams are closed here, own
	 * ones by main. */
	for (int i = 0; i < s->nstreams; i++)
		if (s->streams[i].g == 0)
			spool_save_state(s->streams[i].sp);
	if (s->connected) {
		send_begin(s);
		SP_disconnect(s->mb);
		send_end(s);
	}
	s->connected = 0;
	return NULL;
}

int sender_start(struct sender **out, const struct clog_config *cfg,
		 struct spool *own, const char *spool_root,
		 const char *const *adopt_dirs, struct clog_stats *st)
{
	struct sender *s = calloc(1, sizeof(*s));
	int err;

	if (!s)
		return -1;
	s->cfg = cfg;
	s->st = st;
	s->buf = malloc(BATCH_MAX_LEN);
	s->rbuf = malloc(RBUF_LEN);
	s->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (!s->buf || !s->rbuf || s->evfd < 0)
		goto fail;
	s->payload_max = BATCH_MAX_LEN - batch_hdr_len(strlen(cfg->node));
	s->backoff_ms = BACKOFF_MIN_MS;
	s->flush_deadline_ms = -1;
	if (spool_root && strlen(spool_root) < sizeof(s->spool_root))
		snprintf(s->spool_root, sizeof(s->spool_root), "%s", spool_root);
	for (int g = 0; g < cfg->ngroups; g++)
		snprintf(s->adopt_dirs[g], sizeof(s->adopt_dirs[g]), "%s", adopt_dirs[g]);
	for (unsigned g = 0; g < spool_ngroups(own); g++)
		stream_init(s, &s->streams[g], own, g, 0);
	s->nstreams = s->nown = (int)spool_ngroups(own);
	pthread_mutex_init(&s->send_mu, NULL);
	err = pthread_create(&s->keeper, NULL, keeper_main, s);
	if (err) {
		errno = err;
		goto fail;
	}
	s->keeper_started = 1;
	err = pthread_create(&s->thread, NULL, sender_main, s);
	if (err) {
		errno = err;
		goto fail;
	}
	*out = s;
	return 0;
fail:
	if (s->keeper_started) {
		__atomic_store_n(&s->stop, 1, __ATOMIC_RELEASE);
		pthread_join(s->keeper, NULL);
	}
	if (s->evfd >= 0)
		close(s->evfd);
	free(s->buf);
	free(s->rbuf);
	free(s);
	return -1;
}

static void wake(struct sender *s)
{
	uint64_t one = 1;

	if (write(s->evfd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_warn("eventfd");
}

void sender_appended(struct sender *s, size_t bytes)
{
	/* A wake-up costs two context switches: only when the sender waits
	 * for the first line, or a full batch has come in since the last
	 * one. Otherwise its own deadline brings it round. */
	s->unwoken_bytes += bytes;
	if (__atomic_exchange_n(&s->idle, 0, __ATOMIC_ACQ_REL) ||
	    s->unwoken_bytes >= s->cfg->batch_bytes) {
		s->unwoken_bytes = 0;
		wake(s);
	}
}

void sender_eof(struct sender *s)
{
	__atomic_store_n(&s->eof, 1, __ATOMIC_RELEASE);
	wake(s);
}

int sender_join(struct sender *s, int64_t ms)
{
	if (ms < 0) {
		pthread_join(s->thread, NULL);
	} else {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += (time_t)(ms / 1000);
		ts.tv_nsec += (long)(ms % 1000) * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		if (pthread_timedjoin_np(s->thread, NULL, &ts) != 0)
			return -1;
	}
	__atomic_store_n(&s->stop, 1, __ATOMIC_RELEASE);
	pthread_join(s->keeper, NULL);
	pthread_mutex_destroy(&s->send_mu);
	for (int i = s->nown; i < s->nstreams; i++) {
		if (s->streams[i].g != 0)
			continue;
		spool_close(s->streams[i].sp);
		free(s->streams[i].sp);
	}
	close(s->evfd);
	free(s->buf);
	free(s->rbuf);
	free(s);
	return 0;
}
