/*
 * main_logd.c - chorus-logd, the central log writer (issue 4).
 *
 * It joins the configured groups on one or more daemons, takes the
 * batches of chorus-log (docs/log-batch.md) and the plain one-line
 * messages of older senders, writes the lines to files by the rules of
 * its configuration (logd_conf.c, spreadlogd's format), and acknowledges
 * each batch once its lines are committed under the fsync policy
 * (logd_store.c). The shell in the project's style: one poll loop that
 * reads the clock once per iteration, reads the mailboxes, feeds the
 * store, commits when the policy says so, then sends the
 * acknowledgements the commit made true; timers are named fields.
 *
 * Writing one batch has four steps, in this order, so that every commit
 * (which may happen while a file is opened or closed) sees whole batches
 * only: (1) judge it against the stream's high-water mark; (2) resolve
 * (open, rotate by time) every file its lines go to, pinning them; (3)
 * append the lines; (4) advance the high-water mark. Size rotation runs
 * after step 4. A failed write rolls the store back to its last commit
 * and leaves the batch unacknowledged, so chorus-log sends it again.
 *
 * See chorus-logd(8), chorus-logd.conf(5) and docs/logd.md.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "sp.h"
#include "chorus.h"
#include "log/logd.h"
#include "log/logd_rotate.h"
#include "log/logd_io.h"
#include "log/logd_store.h"
#include "proto/batch.h"
#include "util/log.h"
#include "util/privdrop.h"

#define DEFAULT_CONF "/etc/chorus-logd.conf"
#define MSG_MAX 144000            /* the largest Spread message */
#define ACKS_MAX 4096             /* acknowledgements waiting for a commit */
#define DRAIN_MAX 512             /* messages read per mailbox per round */
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 10000
#define CONNECT_TIMEOUT_S 3
#define WARN_EVERY 100            /* rate limit of repeated warnings */
#define IDLE_CLOSE_S 60           /* time files idle this long are closed */
#define IDLE_SCAN_MS 10000        /* how often to look for them */

static const char usage_text[] =
	"usage: chorus-logd [-nD] [-c config] [-u user[:group]]\n";

/* One daemon connection (a Spread block of the configuration). The
 * connect and the joins block (a daemon that accepts and never answers
 * holds them for the connect timeout), so they run in a thread of their
 * own, one attempt at a time, while the main loop goes on writing and
 * acknowledging for the other daemons. The thread owns the `try_*`
 * fields while `connecting` is set; it sets `try_done` and writes a byte
 * to the wake pipe when it is finished, and the main thread joins it. */
struct conn {
	const char *addr;
	mailbox mb;
	int connected;
	int ever_connected;
	int64_t next_try_ms;
	int64_t backoff_ms;
	int readable;              /* poll() saw input or a hang-up */
	uint64_t reconnects, failures;
	char pg[MAX_GROUP_NAME];
	/* The groups to join (set up once). */
	char groups[LOGD_MAX_RULES][LOGD_GROUP_MAX];
	int ngroups;
	/* An attempt in progress. */
	int connecting;
	pthread_t thread;
	int wake_fd;               /* the main loop's wake pipe */
	uint32_t try_rand;
	char try_name[MAX_PRIVATE_NAME + 1];
	int try_ret;               /* ACCEPT_SESSION or the error */
	int try_failed_group;      /* the join that failed, or -1 */
	mailbox try_mb;
	char try_pg[MAX_GROUP_NAME];
	char try_tls_err[200];     /* chorus_tls_error() of the attempt */
	int try_done;              /* atomic */
};

/* Counters of one Log rule; the status line sums them by group. */
struct rstat {
	uint64_t lines, bytes, plain_lines, plain_bytes, filtered, quarantined;
};

/* Counters per group (by its first rule). */
struct gstat {
	uint64_t batches, dup_lines, gaps, lost, unexplained, bad, write_errors;
	uint64_t plain_lost;        /* plain messages not written (write error) */
};

struct ack {
	int conn;
	char to[MAX_GROUP_NAME];
	uint64_t stream, batch_id;
	int gap;
};

/* A file one batch writes to, resolved in step 2. */
struct target {
	int rule;
	struct store_file *f;
	int quarantine;
};

struct logd {
	struct logd_conf conf;
	char conf_path[LOGD_PATH_MAX];
	const char *user_opt;              /* -u, which overrides User */
	struct store *store;
	struct zq *zq;
	struct logd_match match[LOGD_MAX_RULES];
	struct rstat rst[LOGD_MAX_RULES];
	struct gstat gst[LOGD_MAX_RULES];
	int group_rule[LOGD_MAX_RULES];    /* first rule of each rule's group */
	struct conn conns[LOGD_MAX_DAEMONS];
	struct ack acks[ACKS_MAX];
	int nacks;
	struct ack iacks[ACKS_MAX];        /* waiting for the commit under way */
	int niacks;
	uint64_t iack_id;                  /* its number (store_commit_id) */
	char writer_id[LOGD_ID_MAX + 1];
	int sync;                          /* the policy fsyncs */
	int64_t next_commit_ms;            /* interval policy: -1 when idle */
	int commit_now;                    /* a stream reached CommitSize */
	int64_t next_status_ms;
	int64_t next_idle_ms;              /* next look for idle time files */
	int write_failed;                  /* since the last good commit */
	uint64_t commit_errors, warnings;
	char *msg;
	char *line;                        /* one rewritten line */
	int wake[2];                       /* connection threads -> main loop */
	int terminating;
};

/* Milliseconds of the monotonic clock. */
static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Prints the synopsis and exits with status 2. */
static void usage(void)
{
	fputs(usage_text, stderr);
	exit(2);
}

/* ---- Connections ---- */

/* Closes a broken connection, logs why, and schedules the reconnect
 * after the current backoff. */
static void conn_lost(struct conn *c, const char *why, int code)
{
	if (!c->connected)
		return;
	log_warnx("lost the daemon %s (%s: %s); reconnecting", c->addr, why,
		  chorus_strerror(code));
	SP_disconnect(c->mb);
	c->connected = 0;
	c->next_try_ms = now_ms() + c->backoff_ms;
}

/* The connection thread: connects to c's daemon and joins its groups;
 * on any failure nothing stays connected. */
static void *conn_thread(void *arg)
{
	struct conn *c = arg;
	sp_time to = { CONNECT_TIMEOUT_S, 0 };
	char one = 1;
	int ret;

	c->try_failed_group = -1;
	ret = SP_connect_timeout(c->addr, c->try_name, 0, 0, &c->try_mb, c->try_pg, to);
	for (int i = 0; ret == ACCEPT_SESSION && i < c->ngroups; i++) {
		if (SP_join(c->try_mb, c->groups[i]) != 0) {
			c->try_failed_group = i;
			ret = ILLEGAL_GROUP;
			SP_disconnect(c->try_mb);
		}
	}
	c->try_ret = ret;
	snprintf(c->try_tls_err, sizeof(c->try_tls_err), "%s", chorus_tls_error());
	__atomic_store_n(&c->try_done, 1, __ATOMIC_RELEASE);
	if (write(c->wake_fd, &one, 1) < 0) {
		/* The pipe is full: the main loop is already awake. */
	}
	return NULL;
}

/* Starts an attempt to connect c (in its thread). */
static void conn_start(struct conn *c, int64_t now)
{
	uint32_t r = 0;
	int err;

	if (getrandom(&r, sizeof(r), 0) != (ssize_t)sizeof(r))
		r = (uint32_t)now ^ (uint32_t)getpid();
	c->try_rand = r;
	snprintf(c->try_name, sizeof(c->try_name), "ld%08" PRIx32, r);
	c->try_done = 0;
	err = pthread_create(&c->thread, NULL, conn_thread, c);
	if (err != 0) {
		log_warnx("cannot start a connection thread for %s: %s", c->addr,
			  strerror(err));
		c->next_try_ms = now + c->backoff_ms;
		return;
	}
	c->connecting = 1;
}

/* Takes the result of c's finished attempt, if any. */
static void conn_finish(struct conn *c, int64_t now)
{
	int ret;

	if (!c->connecting || !__atomic_load_n(&c->try_done, __ATOMIC_ACQUIRE))
		return;
	pthread_join(c->thread, NULL);
	c->connecting = 0;
	ret = c->try_ret;
	if (ret != ACCEPT_SESSION) {
		c->failures++;
		if (c->failures % 10 == 1)
			log_warnx("cannot connect to the daemon %s%s%s: %s%s%s (retry in %"
				  PRId64 " ms)", c->addr,
				  c->try_failed_group >= 0 ? " or join " : "",
				  c->try_failed_group >= 0 ? c->groups[c->try_failed_group] : "",
				  chorus_strerror(ret), c->try_tls_err[0] ? ": " : "",
				  c->try_tls_err, c->backoff_ms);
		c->next_try_ms = now + c->backoff_ms;
		/* Exponential backoff with jitter. */
		c->backoff_ms = c->backoff_ms * 2 + (int64_t)(c->try_rand % 100);
		if (c->backoff_ms > BACKOFF_MAX_MS)
			c->backoff_ms = BACKOFF_MAX_MS;
		return;
	}
	c->mb = c->try_mb;
	memcpy(c->pg, c->try_pg, sizeof(c->pg));
	for (int i = 0; i < c->ngroups; i++)
		log_info("joined %s on %s", c->groups[i], c->addr);
	/* Read-ahead: large reads from the daemon, messages served from a
	 * buffer (SP_poll counts it; see drain and the poll timeout). */
	if (chorus_set_readahead(c->mb, 1) != 0)
		log_warnx("no read-ahead on %s", c->addr);
	if (c->ever_connected)
		c->reconnects++;
	c->ever_connected = 1;
	c->connected = 1;
	c->failures = 0;
	c->backoff_ms = BACKOFF_MIN_MS;
	log_info("connected to the daemon %s as %s", c->addr, c->pg);
}

/* At exit: ends c's attempt in progress without waiting for it. One that
 * has finished is joined (and its connection closed); one that has not
 * (a daemon that does not answer, a host-name lookup that hangs) is
 * detached: its thread touches only c, which is static, and the wake
 * pipe, and the process ends under it. Returns 1 if it was abandoned. */
static int conn_end_attempt(struct conn *c)
{
	if (!__atomic_load_n(&c->try_done, __ATOMIC_ACQUIRE)) {
		pthread_detach(c->thread);
		c->connecting = 0;
		log_info("terminating: not waiting for the connection to %s", c->addr);
		return 1;
	}
	pthread_join(c->thread, NULL);
	c->connecting = 0;
	if (c->try_ret == ACCEPT_SESSION)
		SP_disconnect(c->try_mb);
	return 0;
}

/* ---- Acknowledgements ---- */

/* Sends n acknowledgements with their streams' committed high-water
 * marks. Called right after a commit. */
static void send_ack_list(struct logd *d, const struct ack *list, int n_acks)
{
	uint8_t buf[BATCH_ACK_MAX_LEN];

	for (int i = 0; i < n_acks; i++) {
		const struct ack *a = &list[i];
		struct conn *c = &d->conns[a->conn];
		struct store_stream *st = store_stream(d->store, a->stream, 0);
		struct batch_ack ack;
		int n, ret;

		if (!c->connected)
			continue; /* the sender resends after its reconnect */
		if (!st)
			continue; /* evicted meanwhile: never acknowledge less */
		memset(&ack, 0, sizeof(ack));
		ack.flags = a->gap ? BATCH_ACK_F_GAP : 0;
		ack.stream_id = a->stream;
		/* What a commit holds, never more. */
		ack.acked = st->committed_hwm;
		ack.batch_id = a->batch_id;
		ack.writer = d->writer_id;
		ack.writer_len = strlen(d->writer_id);
		n = batch_ack_encode(&ack, buf, sizeof(buf));
		if (n <= 0)
			continue;
		ret = SP_multicast(c->mb, FIFO_MESS, a->to, BATCH_ACK_MESS_TYPE, n,
				   (const char *)buf);
		if (ret < 0)
			conn_lost(c, "send", ret);
	}
}

/* Sends the queued acknowledgements and empties the queue. */
static void send_acks(struct logd *d)
{
	send_ack_list(d, d->acks, d->nacks);
	d->nacks = 0;
}

/* A commit failed (ret): what it would have recorded is rolled back and
 * nothing waiting is acknowledged; the senders resend. */
static void commit_failed(struct logd *d, int ret)
{
	if (d->commit_errors++ % WARN_EVERY == 0)
		log_warnx("commit failed: %s; nothing acknowledged, rolled back "
			  "(the senders resend)", strerror(-ret));
	store_rollback(d->store);
	d->nacks = 0;
}

/* The acknowledgements of the commit under way, once it has ended
 * (waiting for it if wait): sent if it succeeded, else dropped (rolled
 * back: the senders resend). */
static void commit_collect(struct logd *d, int wait)
{
	int ret;

	if (!wait && store_commit_busy(d->store))
		return;
	ret = store_commit_end(d->store);
	if (ret != 0) {
		d->niacks = 0;
		commit_failed(d, ret);
		return;
	}
	if (d->niacks && store_commit_ok(d->store, d->iack_id))
		send_ack_list(d, d->iacks, d->niacks);
	d->niacks = 0;
}

/* Commits under the policy and sends the queued acknowledgements (those
 * of a commit under way first). With async the commit only begins
 * (store_commit_begin): the loop reads and writes on while the files and
 * the journal are synced, and the acknowledgements go out when it ends
 * (commit_collect); a commit still under way is waited for first. */
static int commit_as(struct logd *d, int async)
{
	int ret;

	d->commit_now = 0;
	commit_collect(d, 1);
	if (!store_uncommitted(d->store) && !d->nacks) {
		d->write_failed = 0;
		return 0;
	}
	ret = async ? store_commit_begin(d->store, d->sync) :
		      store_commit(d->store, d->sync);
	if (ret < 0) {
		commit_failed(d, ret);
		return ret;
	}
	d->write_failed = 0;
	if (ret == 0 && async) {
		memcpy(d->iacks, d->acks, (size_t)d->nacks * sizeof(d->acks[0]));
		d->niacks = d->nacks;
		d->nacks = 0;
		d->iack_id = store_commit_id(d->store);
		return 0;
	}
	send_acks(d);
	return 0;
}

static int commit(struct logd *d)
{
	return commit_as(d, 0);
}

/* ---- Files ---- */

/* The file-name ending of a compression method ("" for none). */
static const char *zip_ext(enum logd_compress c)
{
	return c == LOGD_COMP_ZSTD ? ".zst" : c == LOGD_COMP_GZIP ? ".gz" : "";
}

/* Hands the queued compression of src to the worker; if the worker's
 * queue is full the file stays uncompressed (logged, recorded). */
static void zip_start(struct logd *d, const char *src)
{
	int i = store_zip_find(d->store, src);
	char dst[LOGD_PATH_MAX + 32];

	if (i < 0)
		return;
	snprintf(dst, sizeof(dst), "%s%s", src, d->store->zips[i].suffix);
	if (zq_push(d->zq, src, dst, d->store->zips[i].gen) != 0) {
		log_warnx("%s stays uncompressed: the compression queue is full", src);
		store_zip_done(d->store, src, d->store->zips[i].gen, NULL, 0);
	}
}

/* Opens path for key (logged, rate-limited, on error). */
static struct store_file *open_file(struct logd *d, const char *path, const char *key)
{
	struct store_file *f;
	int ret = store_file_open(d->store, path, key, &f);

	if (ret != 0) {
		if (d->warnings++ % WARN_EVERY == 0)
			log_warnx("cannot open %s: %s; its lines stay with the senders",
				  path, strerror(-ret));
		return NULL;
	}
	return f;
}

/* Closes a time file for good ("by time"): commits and closes it if it
 * is open, and forgets it and queues its compression in one commit (see
 * store_tfile_close). Returns 0, or -1 if it is pinned or a commit failed
 * (it stays as it is). */
static int close_by_time(struct logd *d, struct store_tfile *tf)
{
	char path[LOGD_PATH_MAX], key[STORE_KEY_MAX];
	int zip, ret;

	snprintf(path, sizeof(path), "%s", tf->path);
	snprintf(key, sizeof(key), "%s", tf->key);
	ret = store_tfile_close(d->store, key, &zip);
	if (ret != 0) {
		if (ret != -EBUSY)
			commit_failed(d, ret);
		return -1;
	}
	log_info("rotated by time: closed %s", path);
	if (zip >= 0)
		zip_start(d, path);
	return 0;
}

/* Step 2 for a rule whose pattern has time fields: the file of key for a
 * batch of time t whose pattern gives path. The key's time file is
 * reopened as long as batches come from its period; a batch from a later
 * period closes it by time and starts the next; lines for a file closed
 * by time (an earlier period) go to "<path>.lateN", one at a time per
 * key. These decisions depend only on the batches, not on when a
 * compression finishes. */
static struct store_file *resolve_timed(struct logd *d, const struct logd_rule *r,
					const char *pat, const char *group,
					const char *node, const char *path,
					const char *key, time_t t)
{
	const char *ext = zip_ext(r->compress);
	struct store_tfile *tf = store_tfile_find(d->store, key);
	struct store_file *f;
	char late_key[STORE_KEY_MAX + 8], late[LOGD_PATH_MAX];
	int64_t now = (int64_t)time(NULL);
	size_t plen = strlen(path);

	if (tf && strcmp(tf->path, path) == 0) {
		tf->touched = now;
		f = store_find(d->store, path);
		return f ? f : open_file(d, path, key);
	}
	if (tf && (int64_t)t >= tf->end) {
		if (close_by_time(d, tf) != 0)
			return NULL;
		tf = NULL;
	}
	if (!tf) {
		int64_t end = logd_pattern_period_end(pat, group, node, (int64_t)t);

		/* A file that was closed for good takes no more lines; one
		 * that is there without a record (written before the record
		 * existed) is taken on if its period is not over. */
		if (!store_path_taken(d->store, path, ext) ||
		    (end > now && store_zip_find(d->store, path) < 0 &&
		     access(path, F_OK) == 0)) {
			if (store_tfile_set(d->store, key, path, ext, end < 0 ? INT64_MAX : end) != 0)
				return NULL;
			tf = store_tfile_find(d->store, key);
			tf->touched = now;
			f = store_find(d->store, path);
			return f ? f : open_file(d, path, key);
		}
	}
	/* Late lines: for a period before the key's file, or for a file
	 * closed for good. */
	if (strlen(key) + sizeof("|late") > STORE_KEY_MAX)
		return NULL; /* keys are at most "<rule>|<node of 64>" */
	snprintf(late_key, sizeof(late_key), "%s|late", key);
	tf = store_tfile_find(d->store, late_key);
	if (tf && strncmp(tf->path, path, plen) == 0 && strncmp(tf->path + plen, ".late", 5) == 0) {
		tf->touched = now;
		f = store_find(d->store, tf->path);
		return f ? f : open_file(d, tf->path, late_key);
	}
	if (tf && close_by_time(d, tf) != 0)
		return NULL;
	if (store_late_name(d->store, path, ext, late, sizeof(late)) != 0 ||
	    store_tfile_set(d->store, late_key, late, ext, 0) != 0)
		return NULL;
	store_tfile_find(d->store, late_key)->touched = now;
	log_info("late lines for %s go to %s", path, late);
	return open_file(d, late, late_key);
}

/* Closes for good the time files that lie idle past their period (the
 * node went quiet, a late file nobody writes to any more): by the
 * writer's clock, both the period's end and the last write at least
 * IDLE_CLOSE_S ago. Runs between batches. */
static void close_idle(struct logd *d)
{
	int64_t now = (int64_t)time(NULL);

	for (uint32_t i = 0; i < d->store->ntfiles; i++) {
		struct store_tfile *tf = &d->store->tfiles[i];

		if (tf->end > now - IDLE_CLOSE_S || tf->touched > now - IDLE_CLOSE_S)
			continue;
		if (close_by_time(d, tf) != 0)
			return;
		i--; /* the table moved its last entry here */
	}
}

/* Resolves the file of rule ri for a message from node (NULL: none
 * known) at time t; a node name that is not safe as a path component
 * sends it to the quarantine file. */
static int target_for(struct logd *d, int ri, const char *node, size_t node_len,
		      time_t t, struct target *tg)
{
	const struct logd_rule *r = &d->conf.rules[ri];
	char path[LOGD_PATH_MAX], key[STORE_KEY_MAX], nodez[LOGD_NODE_MAX + 1];
	struct tm tm;
	int per_node = logd_pattern_has_node(r->file), n;

	memset(tg, 0, sizeof(*tg));
	tg->rule = ri;
	if (!localtime_r(&t, &tm))
		memset(&tm, 0, sizeof(tm));
	if (per_node && (!node || !logd_node_ok_for(r->file, node, node_len)))
		tg->quarantine = 1;
	if (per_node && !tg->quarantine) {
		memcpy(nodez, node, node_len);
		nodez[node_len] = 0;
	}
	if (!tg->quarantine) {
		n = logd_pattern_expand(r->file, r->group, per_node ? nodez : NULL, &tm,
					path, sizeof(path));
		if (n < 0)
			tg->quarantine = 1;
		snprintf(key, sizeof(key), "%d|%s", ri, per_node && n >= 0 ? nodez : "");
	}
	if (tg->quarantine) {
		n = logd_pattern_expand(d->conf.quarantine, r->group, NULL, &tm, path,
					sizeof(path));
		if (n < 0) {
			if (d->warnings++ % WARN_EVERY == 0)
				log_warnx("quarantine file name of group %s does not expand",
					  r->group);
			return -1;
		}
		snprintf(key, sizeof(key), "q|%s", r->group);
	}
	{
		const char *pat = tg->quarantine ? d->conf.quarantine : r->file;

		if (logd_pattern_has_time(pat))
			tg->f = resolve_timed(d, r, pat, r->group,
					      per_node && !tg->quarantine ? nodez : NULL, path,
					      key, t);
		else
			tg->f = store_find(d->store, path);
		if (!tg->f && !logd_pattern_has_time(pat))
			tg->f = open_file(d, path, key);
	}
	if (!tg->f)
		return -1;
	tg->f->pinned = 1;
	return 0;
}

/* Appends one line (len bytes without '\n') for target tg, applying the
 * rule's filters and rewriting; node is written before a quarantined
 * line. Returns 0 or a negative errno. */
static int put_line(struct logd *d, struct target *tg, const char *line, size_t len,
		    time_t rw_time, const char *node, size_t node_len, int plain)
{
	const struct logd_rule *r = &d->conf.rules[tg->rule];
	struct rstat *rs = &d->rst[tg->rule];
	const char *out = line;
	size_t olen = len;
	int ret;

	if (!logd_match_line(&d->match[tg->rule], line, len)) {
		rs->filtered++;
		return 0;
	}
	if (r->rewrite != LOGD_RW_NONE) {
		long n = logd_rewrite_time(r->rewrite, r->rewrite_fmt, rw_time, line, len,
					   d->line, MSG_MAX);

		if (n >= 0) {
			out = d->line;
			olen = (size_t)n;
		}
	}
	if (tg->quarantine) {
		/* The node as it came, each byte outside printable ASCII as
		 * %XX, then a space: the line stays attributable. */
		char esc[4 * 256 + 2];
		size_t e = 0;

		for (size_t i = 0; i < node_len && i < 256; i++) {
			unsigned char ch = (unsigned char)node[i];

			if (ch > 0x20 && ch < 0x7f && ch != '%')
				esc[e++] = (char)ch;
			else
				e += (size_t)snprintf(esc + e, sizeof(esc) - e, "%%%02X", ch);
		}
		if (e == 0)
			esc[e++] = '-';
		esc[e++] = ' ';
		if ((ret = store_append(d->store, tg->f, esc, e)) != 0)
			return ret;
		rs->quarantined++;
	}
	ret = store_append(d->store, tg->f, out, olen);
	if (ret == 0)
		ret = store_append(d->store, tg->f, "\n", 1);
	if (ret != 0)
		return ret;
	if (plain) {
		rs->plain_lines++;
		rs->plain_bytes += olen + 1;
	} else {
		rs->lines++;
		rs->bytes += olen + 1;
	}
	return 0;
}

/* Lets the store evict the files of n targets again. */
static void unpin(struct target *tg, int n)
{
	for (int i = 0; i < n; i++)
		if (tg[i].f)
			tg[i].f->pinned = 0;
}

/* After a batch: rotates the files of its targets that grew past their
 * rule's size. */
static void rotate_by_size(struct logd *d, struct target *tg, int n)
{
	for (int i = 0; i < n; i++) {
		const struct logd_rule *r = &d->conf.rules[tg[i].rule];
		char path[LOGD_PATH_MAX], rotated[LOGD_PATH_MAX];
		struct store_file *f;
		int ret;

		if (!tg[i].f || tg[i].quarantine || !r->rotate_size)
			continue;
		snprintf(path, sizeof(path), "%s", tg[i].f->path);
		for (int k = i; k < n; k++)
			if (tg[k].f && strcmp(tg[k].f->path, path) == 0 && k != i)
				tg[k].f = NULL;
		f = store_find(d->store, path);
		tg[i].f = NULL;
		if (!f || f->size < r->rotate_size)
			continue;
		ret = store_rotate(d->store, f, zip_ext(r->compress), rotated, sizeof(rotated));
		if (ret != 0) {
			log_warnx("cannot rotate %s: %s", path, strerror(-ret));
			continue;
		}
		log_info("rotated by size: %s is now %s", path, rotated);
		if (r->compress != LOGD_COMP_NONE)
			zip_start(d, rotated);
	}
}

/* The rules that take a message to group g from connection ci. */
static int rule_applies(const struct logd *d, int ri, int ci, const char *g)
{
	return d->conf.rules[ri].daemon == ci && strcmp(d->conf.rules[ri].group, g) == 0;
}

/* Queues the acknowledgement of a batch, sent after the next commit; a
 * full queue commits (and sends) first. */
static void queue_ack(struct logd *d, int ci, const char *to, uint64_t stream,
		      uint64_t batch_id, int gap)
{
	struct ack *a;

	if (d->nacks == ACKS_MAX && commit(d) != 0)
		return;
	a = &d->acks[d->nacks++];
	a->conn = ci;
	snprintf(a->to, sizeof(a->to), "%s", to);
	a->stream = stream;
	a->batch_id = batch_id;
	a->gap = gap;
}

/* A chorus-log batch to group g. */
static void on_batch(struct logd *d, int ci, const char *sender, const char *g,
		     const uint8_t *msg, size_t len)
{
	struct target tg[LOGD_MAX_RULES];
	struct store_stream *st;
	struct batch_hdr h;
	struct gstat *gs;
	enum batch_verdict v;
	uint32_t skip;
	uint64_t lost;
	time_t now = time(NULL), bt;
	int err, nt = 0, ri0 = -1;

	for (int i = 0; i < d->conf.nrules && ri0 < 0; i++)
		if (rule_applies(d, i, ci, g))
			ri0 = d->group_rule[i];
	if (ri0 < 0)
		return;
	gs = &d->gst[ri0];
	err = batch_decode(msg, len, &h);
	if (err != BATCH_OK) {
		if (gs->bad++ % WARN_EVERY == 0)
			log_warnx("group %s: ignored a bad batch from %s: %s", g, sender,
				  batch_err_str(err));
		return;
	}
	st = store_stream(d->store, h.stream_id, 1);
	if (!st)
		return;
	/* (1) Judge. */
	v = batch_rx_judge(&st->rx, &h, &skip, &lost);
	gs->batches++;
	if (v != BATCH_V_STORE) {
		if (v == BATCH_V_DUP)
			gs->dup_lines += h.count;
		else
			gs->gaps++;
		queue_ack(d, ci, sender, h.stream_id, h.batch_id, v == BATCH_V_GAP);
		return;
	}
	gs->dup_lines += skip;
	if (d->write_failed)
		return; /* until a commit succeeds, store nothing new */
	bt = (time_t)(h.time_ms / 1000);
	/* (2) Resolve every target before writing anything. */
	for (int i = 0; i < d->conf.nrules; i++) {
		if (!rule_applies(d, i, ci, g))
			continue;
		if (target_for(d, i, h.node, h.node_len, bt, &tg[nt]) != 0) {
			unpin(tg, nt);
			return;
		}
		nt++;
	}
	/* The target lookups may have committed (opening a file); the
	 * stream's entry may have moved with an eviction. */
	st = store_stream(d->store, h.stream_id, 1);
	if (!st) {
		unpin(tg, nt);
		return;
	}
	/* (3) Write lines skip..count-1. */
	{
		const char *p = h.payload, *end = h.payload + h.payload_len;

		for (uint32_t k = 0; k < skip; k++)
			p = (const char *)memchr(p, '\n', (size_t)(end - p)) + 1;
		for (int t = 0; t < nt; t++) {
			const struct logd_rule *r = &d->conf.rules[tg[t].rule];
			time_t rw = r->clock == LOGD_CLOCK_SENDER ? bt : now;
			int ret = 0;

			if (!tg[t].quarantine && r->nmatch == 0 && r->rewrite == LOGD_RW_NONE) {
				/* The common case: the lines as they came, at once. */
				ret = store_append(d->store, tg[t].f, p, (size_t)(end - p));
				if (ret == 0) {
					d->rst[tg[t].rule].lines += h.count - skip;
					d->rst[tg[t].rule].bytes += (uint64_t)(end - p);
				}
			} else {
				for (const char *q = p; q < end && ret == 0;) {
					const char *nl = memchr(q, '\n', (size_t)(end - q));

					ret = put_line(d, &tg[t], q, (size_t)(nl - q), rw, h.node,
						       h.node_len, 0);
					q = nl + 1;
				}
			}
			if (ret != 0) {
				gs->write_errors++;
				if (gs->write_errors % WARN_EVERY == 1)
					log_warnx("writing %s: %s; rolled back to the last "
						  "commit, the senders resend", tg[t].f->path,
						  strerror(-ret));
				unpin(tg, nt);
				store_rollback(d->store);
				d->write_failed = 1;
				return;
			}
		}
	}
	/* (4) The lines are in: advance the high-water mark. */
	if (lost) {
		uint64_t unexplained = batch_rx_unexplained(&st->rx, &h, lost);

		gs->lost += lost;
		log_warnx("LOST %" PRIu64 " lines of stream %016" PRIx64 " (node %.*s): "
			  "dropped by the sender before this writer had them", lost,
			  h.stream_id, (int)h.node_len, h.node);
		if (unexplained) {
			/* Lines skipped beyond what the sender reports dropped:
			 * acknowledged by other writers (fewer --acks than
			 * writers), or lost by a sender that breaks the rules. */
			gs->unexplained += unexplained;
			log_warnx("inconsistency: %" PRIu64 " of the %" PRIu64 " lines lost of "
				  "stream %016" PRIx64 " (node %.*s) are not counted as dropped "
				  "by the sender (its dropped count grew by %" PRIu64 "): "
				  "deleted after other writers acknowledged them, or lost "
				  "unreported", unexplained, lost, h.stream_id, (int)h.node_len,
				  h.node, lost - unexplained);
		}
	}
	batch_rx_commit(&st->rx, &h, lost);
	store_stream_touch(d->store, st);
	/* Its sender keeps a few MiB unacknowledged at most: acknowledge
	 * well before that, so that it never waits for the interval. */
	st->pending_bytes += h.payload_len;
	if (d->conf.commit_size && st->pending_bytes >= d->conf.commit_size)
		d->commit_now = 1;
	unpin(tg, nt);
	queue_ack(d, ci, sender, h.stream_id, h.batch_id, 0);
	rotate_by_size(d, tg, nt);
}

/* A plain message of an old sender: "node line" (chorus-log --plain,
 * mod_log_spread's vhost form) or just a line. Written, not deduplicated,
 * counted apart. */
static void on_plain(struct logd *d, int ci, const char *g, const char *msg, size_t len)
{
	time_t now = time(NULL);

	if (len && msg[len - 1] == '\n')
		len--;
	if (len == 0)
		return;
	for (int i = 0; i < d->conf.nrules; i++) {
		const char *node = NULL, *line = msg;
		size_t node_len = 0, line_len = len;
		struct target tg;
		int ret;

		if (!rule_applies(d, i, ci, g))
			continue;
		if (d->write_failed) {
			/* Not written, and never sent again: counted. */
			d->gst[d->group_rule[i]].plain_lost++;
			continue;
		}
		if (logd_pattern_has_node(d->conf.rules[i].file)) {
			/* spreadlogd's VhostDir: the first token names the file
			 * and is not written. */
			const char *sp = memchr(msg, ' ', len);

			node = msg;
			node_len = sp ? (size_t)(sp - msg) : len;
			if (sp) {
				line = sp + 1;
				line_len = len - node_len - 1;
			}
		}
		if (target_for(d, i, node, node_len, now, &tg) != 0) {
			d->gst[d->group_rule[i]].plain_lost++;
			continue;
		}
		ret = put_line(d, &tg, line, line_len, now, node, node_len, 1);
		tg.f->pinned = 0;
		if (ret != 0) {
			d->gst[d->group_rule[i]].write_errors++;
			d->gst[d->group_rule[i]].plain_lost++;
			log_warnx("writing %s: %s (plain message lost)", tg.f->path,
				  strerror(-ret));
			store_rollback(d->store);
			d->write_failed = 1;
		}
	}
}

/* Reads what waits on connection ci, until nothing is left, DRAIN_MAX
 * messages were read or a commit is due (d->commit_now). Returns 1 if it
 * stopped because nothing was left (or the connection is gone), else 0. */
static int drain(struct logd *d, int ci)
{
	struct conn *c = &d->conns[ci];

	for (int n = 0; c->connected; n++) {
		char sender[MAX_GROUP_NAME], groups[LOGD_MAX_RULES][MAX_GROUP_NAME];
		service st = DROP_RECV;
		int16 mtype = 0;
		int ng = 0, endian = 0, ret;

		/* A commit is due: it begins now, unless one is under way,
		 * whose end the loop waits for reading on. */
		if (n == DRAIN_MAX || (d->commit_now && !store_commit_busy(d->store)))
			return 0;
		/* A closed connection has nothing to poll (SP_poll is 0): when
		 * poll() said readable, receive once anyway to see the end. */
		ret = SP_poll(c->mb);
		if (ret < 0) {
			conn_lost(c, "poll", ret);
			return 1;
		}
		if (ret == 0 && !c->readable)
			return 1;
		c->readable = 0;
		ret = SP_receive(c->mb, &st, sender, LOGD_MAX_RULES, &ng, groups, &mtype,
				 &endian, MSG_MAX, d->msg);
		if (ret < 0) {
			conn_lost(c, "receive", ret);
			return 1;
		}
		if (!Is_regular_mess(st)) {
			if (Is_reg_memb_mess(st) || Is_transition_mess(st))
				log_debug(DBG_MEMBERSHIP, "membership of %s changed", sender);
			continue;
		}
		if (ng < 0)
			ng = LOGD_MAX_RULES;
		for (int k = 0; k < ng && k < LOGD_MAX_RULES; k++) {
			groups[k][MAX_GROUP_NAME - 1] = 0;
			if (mtype == BATCH_MESS_TYPE)
				on_batch(d, ci, sender, groups[k], (const uint8_t *)d->msg,
					 (size_t)ret);
			else if (mtype != BATCH_ACK_MESS_TYPE)
				on_plain(d, ci, groups[k], d->msg, (size_t)ret);
		}
	}
	return 1;
}

/* ---- Status ---- */

/* Logs the status lines: one per group, one for the store. */
static void status(struct logd *d)
{
	struct store_stats *ss = &d->store->st;
	struct lio_stats ls;
	uint64_t reconnects = 0;

	for (int i = 0; i < d->conf.nrules; i++) {
		struct rstat sum;
		struct gstat *g = &d->gst[i];

		if (d->group_rule[i] != i)
			continue;
		memset(&sum, 0, sizeof(sum));
		for (int k = 0; k < d->conf.nrules; k++) {
			if (d->group_rule[k] != i)
				continue;
			sum.lines += d->rst[k].lines;
			sum.bytes += d->rst[k].bytes;
			sum.plain_lines += d->rst[k].plain_lines;
			sum.plain_bytes += d->rst[k].plain_bytes;
			sum.filtered += d->rst[k].filtered;
			sum.quarantined += d->rst[k].quarantined;
		}
		log_info("status %s: lines %" PRIu64 ", bytes %" PRIu64 ", plain lines %"
			 PRIu64 ", plain bytes %" PRIu64 ", batches %" PRIu64
			 ", duplicates dropped %" PRIu64 ", filtered %" PRIu64
			 ", quarantined %" PRIu64 ", gaps %" PRIu64 ", lost %" PRIu64
			 " (unexplained %" PRIu64 "), bad %" PRIu64 ", write errors %" PRIu64
			 ", plain lost %" PRIu64, d->conf.rules[i].group,
			 sum.lines, sum.bytes, sum.plain_lines, sum.plain_bytes, g->batches,
			 g->dup_lines, sum.filtered, sum.quarantined, g->gaps, g->lost,
			 g->unexplained, g->bad, g->write_errors, g->plain_lost);
	}
	for (int i = 0; i < d->conf.ndaemons; i++)
		reconnects += d->conns[i].reconnects;
	log_info("status: commits %" PRIu64 ", fsyncs %" PRIu64 ", fsync latency ms "
		 "last %.1f avg %.1f max %.1f, streams %" PRIu32 ", open files %" PRIu32
		 ", compressions waiting %d, reconnects %" PRIu64 ", commit errors %" PRIu64,
		 ss->commits, ss->fsyncs, ss->fsync_us_last / 1000.0,
		 ss->fsyncs ? ss->fsync_us_total / 1000.0 / (double)ss->fsyncs : 0.0,
		 ss->fsync_us_max / 1000.0, d->store->nstreams, d->store->nfiles,
		 d->store->nzips, reconnects, d->commit_errors);
	lio_stats(d->store->io, &ls);
	log_info("status: write thread: writes %" PRIu64 ", MB %.1f, buffers %u; "
		 "the loop waited ms for a buffer %.1f (%" PRIu64 " times), for "
		 "writes %.1f, for a commit %.1f",
		 ls.writes, ls.bytes / 1e6, ls.bufs, ls.get_wait_us / 1000.0, ls.waits,
		 ls.drain_wait_us / 1000.0, ls.sync_wait_us / 1000.0);
}

/* ---- Setup ---- */

/* Reads the command line into d->conf_path and *check (-n); exits
 * with status 2 on a bad one. */
static void parse_args(int argc, char **argv, struct logd *d, int *check)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check", no_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'H' },
		{ "user", required_argument, NULL, 'u' },
		{ NULL, 0, NULL, 0 },
	};
	char user[PD_NAME_MAX], group[PD_NAME_MAX], err[256];
	int ch;

	snprintf(d->conf_path, sizeof(d->conf_path), "%s", DEFAULT_CONF);
	while ((ch = getopt_long(argc, argv, "c:nDu:", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			if (strlen(optarg) >= sizeof(d->conf_path)) {
				fprintf(stderr, "chorus-logd: -c: path too long\n");
				exit(2);
			}
			snprintf(d->conf_path, sizeof(d->conf_path), "%s", optarg);
			break;
		case 'n': *check = 1; break;
		case 'D': break; /* spreadlogd's "do not daemonize": we never do */
		case 'u':
			if (strlen(optarg) >= sizeof(d->conf.user) ||
			    pd_parse_spec(optarg, user, sizeof(user), group,
					  sizeof(group), err, sizeof(err)) != 0) {
				fprintf(stderr, "chorus-logd: -u: %s\n",
					strlen(optarg) >= sizeof(d->conf.user) ?
					"too long" : err);
				exit(2);
			}
			d->user_opt = optarg;
			break;
		case 'H':
			fputs(usage_text, stdout);
			exit(0);
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
}

/* The directory where files of `pattern` are made: the part before the
 * first conversion, up to its last '/', or its deepest ancestor that
 * exists (the store creates the rest). "" if none. */
static void pattern_base(const char *pattern, char *out, size_t cap)
{
	const char *pct = strchr(pattern, '%');
	size_t n = pct ? (size_t)(pct - pattern) : strlen(pattern);
	char *slash;

	snprintf(out, cap, "%.*s", (int)n, pattern);
	for (;;) {
		slash = strrchr(out, '/');
		if (!slash) {
			out[0] = 0;
			return;
		}
		slash[slash == out ? 1 : 0] = 0;
		if (access(out, F_OK) == 0 || slash == out)
			return;
	}
}

/* User (or -u): as root, looks the user up, makes a missing StateDir
 * theirs, and gives root up for good before the store is opened, the
 * threads start or a daemon is reached; the configuration is all that
 * was read as root. Then checks, as the user, that every directory where
 * log files are made can be written, so that a wrong owner stops the
 * start instead of failing on the first line. A user that does not
 * exist stops chorus-logd rather than letting it run as root. */
static void drop_root(struct logd *d)
{
	char user[PD_NAME_MAX], group[PD_NAME_MAX], err[1024], base[LOGD_PATH_MAX];
	const char *spec = d->user_opt ? d->user_opt : d->conf.user;
	struct pd_ids ids;

	if (!spec[0])
		return;
	if (geteuid() != 0) {
		log_info("user %s: not started as root; running on as uid %u", spec,
			 (unsigned)getuid());
		return;
	}
	if (pd_parse_spec(spec, user, sizeof(user), group, sizeof(group), err,
			  sizeof(err)) != 0 ||
	    pd_lookup(user, group, &ids, err, sizeof(err)) != 0)
		fatalx("user %s: %s; chorus-logd does not run as root instead",
		       spec, err);
	if (pd_dir_prepare(d->conf.state_dir, &ids, 0750, 1, err, sizeof(err)) != 0)
		fatalx("StateDir: %s", err);
	if (pd_drop(&ids, err, sizeof(err)) != 0)
		fatalx("user %s: %s", spec, err);
	log_info("running as user %s (uid %u), group %s (gid %u)", ids.user,
		 (unsigned)ids.uid, ids.group, (unsigned)ids.gid);
	for (int i = -1; i < d->conf.nrules; i++) {
		const char *pat = i < 0 ? d->conf.quarantine : d->conf.rules[i].file;

		pattern_base(pat, base, sizeof(base));
		if (base[0] && access(base, W_OK | X_OK) != 0)
			fatalx("user %s cannot make files in %s (for %s): %s; give "
			       "the directory to %s:%s", ids.user, base, pat,
			       strerror(errno), ids.user, ids.group);
	}
}

/* The writer id: configured, or "<host name>:<hash of the state dir>",
 * stable across restarts and different for two writers on one host. */
static void make_writer_id(struct logd *d)
{
	char host[HOST_NAME_MAX + 1] = "";
	uint64_t h = 0xcbf29ce484222325ull;
	size_t n;

	if (d->conf.writer_id[0]) {
		snprintf(d->writer_id, sizeof(d->writer_id), "%s", d->conf.writer_id);
		return;
	}
	if (gethostname(host, sizeof(host)) != 0 || !host[0])
		snprintf(host, sizeof(host), "logd");
	for (const char *p = d->conf.state_dir; *p; p++) {
		h ^= (unsigned char)*p;
		h *= 0x100000001b3ull;
	}
	snprintf(d->writer_id, sizeof(d->writer_id), "%.200s:%08" PRIx32, host,
		 (uint32_t)(h ^ (h >> 32)));
	n = strlen(d->writer_id);
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)d->writer_id[i] <= 0x20 ||
		    (unsigned char)d->writer_id[i] >= 0x7f)
			d->writer_id[i] = '_';
}

/* Compiles the filters, opens (and recovers) the store, starts the
 * compression worker with what the last run left queued, and prepares
 * the connections. Exits on failure: this runs only at startup. */
static void setup(struct logd *d)
{
	struct store_cfg sc;
	char err[512];

	for (int i = 0; i < d->conf.nrules; i++) {
		d->group_rule[i] = i;
		for (int k = 0; k < i; k++)
			if (d->conf.rules[k].daemon == d->conf.rules[i].daemon &&
			    strcmp(d->conf.rules[k].group, d->conf.rules[i].group) == 0) {
				d->group_rule[i] = d->group_rule[k];
				break;
			}
		if (logd_match_init(&d->match[i], &d->conf.rules[i], err, sizeof(err)) != 0)
			fatalx("%s", err);
	}
	sc.state_dir = d->conf.state_dir;
	sc.fsync = d->conf.fsync;
	sc.max_open = d->conf.max_open;
	if (store_open(&d->store, &sc, err, sizeof(err)) != 0)
		fatalx("%s", err);
	if (zq_start(&d->zq) != 0)
		fatal("cannot start the compression thread");
	/* Compressions the previous run left queued. */
	for (int i = 0; i < d->store->nzips; i++) {
		char dst[LOGD_PATH_MAX + 32];

		snprintf(dst, sizeof(dst), "%s%s", d->store->zips[i].src,
			 d->store->zips[i].suffix);
		if (zq_push(d->zq, d->store->zips[i].src, dst, d->store->zips[i].gen) == 0)
			log_info("recovery: compressing %s again", d->store->zips[i].src);
	}
	d->sync = d->conf.fsync != LOGD_FSYNC_NEVER;
	d->msg = malloc(MSG_MAX + 1);
	d->line = malloc(MSG_MAX + 2);
	if (!d->msg || !d->line)
		fatal("out of memory");
	if (pipe2(d->wake, O_CLOEXEC | O_NONBLOCK) != 0)
		fatal("pipe");
	for (int i = 0; i < d->conf.ndaemons; i++) {
		struct conn *c = &d->conns[i];

		c->addr = d->conf.daemons[i].addr;
		c->backoff_ms = BACKOFF_MIN_MS;
		c->wake_fd = d->wake[1];
		for (int k = 0; k < d->conf.nrules; k++)
			if (d->conf.rules[k].daemon == i && d->group_rule[k] == k)
				memcpy(c->groups[c->ngroups++], d->conf.rules[k].group,
				       sizeof(c->groups[0])); /* both LOGD_GROUP_MAX */
	}
	d->next_commit_ms = -1;
	make_writer_id(d);
}

/* Acts on the signals waiting in the signalfd. */
static void on_signal(struct logd *d, int sfd)
{
	struct signalfd_siginfo si;

	while (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGUSR1:
			status(d);
			break;
		case SIGHUP:
			log_info("SIGHUP: reopening every file");
			if (commit(d) != 0 || store_close_all(d->store, d->sync) != 0)
				log_warnx("SIGHUP: a commit failed; files stay open");
			break;
		default:
			d->terminating = 1;
			break;
		}
	}
}

/* Loads the TLS files when a daemon address asks for TLS or a Tls*
 * setting is given. Returns 0, or -1 after saying why. */
static int logd_tls_setup(const struct logd_conf *c)
{
	int want = c->tls_ca[0] || c->tls_cert[0] || c->tls_key[0];

	for (int i = 0; i < c->ndaemons; i++)
		want |= strncmp(c->daemons[i].addr, "tls:", 4) == 0;
	if (!want)
		return 0;
	if (chorus_set_tls(c->tls_ca[0] ? c->tls_ca : NULL,
			   c->tls_cert[0] ? c->tls_cert : NULL,
			   c->tls_key[0] ? c->tls_key : NULL) != 0) {
		fprintf(stderr, "chorus-logd: TLS: %s\n", chorus_tls_error());
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static struct logd d;
	char err[512], warnbuf[4096];
	sigset_t sigs;
	int check = 0, sfd, abandoned = 0;

	parse_args(argc, argv, &d, &check);
	log_init("chorus-logd", 1);
	if (logd_conf_load(d.conf_path, &d.conf, err, sizeof(err), warnbuf,
			   sizeof(warnbuf)) != 0) {
		fprintf(stderr, "chorus-logd: %s\n", err);
		return 1;
	}
	if (warnbuf[0]) {
		for (char *p = warnbuf, *nl; *p; p = nl + 1) {
			nl = strchr(p, '\n');
			if (!nl)
				break;
			*nl = 0;
			log_warnx("%s: %s", d.conf_path, p);
		}
	}
	if (check) {
		logd_conf_print(&d.conf, stdout);
		return fflush(stdout) == 0 ? 0 : 1;
	}
	if (logd_tls_setup(&d.conf) != 0)
		return 1;
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGUSR1);
	sigaddset(&sigs, SIGHUP);
	/* Blocked before the compression thread starts, which inherits it. */
	if (sigprocmask(SIG_BLOCK, &sigs, NULL) != 0 ||
	    (sfd = signalfd(-1, &sigs, SFD_CLOEXEC | SFD_NONBLOCK)) < 0)
		fatal("signalfd");
	drop_root(&d);
	setup(&d);
	log_info("writer %s started: %d groups, fsync %s, state in %s", d.writer_id,
		 d.conf.nrules, d.conf.fsync == LOGD_FSYNC_NEVER ? "never" :
		 d.conf.fsync == LOGD_FSYNC_BATCH ? "every batch" : "by interval",
		 d.conf.state_dir);
	d.next_status_ms = d.conf.status_s ? now_ms() + d.conf.status_s * 1000 : -1;
	while (!d.terminating) {
		struct pollfd pfd[LOGD_MAX_DAEMONS + 4];
		int map[LOGD_MAX_DAEMONS + 4], n = 0;
		int64_t now = now_ms(), deadline = -1, wait;
		int idle = 1;

		for (int i = 0; i < d.conf.ndaemons; i++) {
			struct conn *c = &d.conns[i];

			conn_finish(c, now);
			if (!c->connected && !c->connecting && now >= c->next_try_ms)
				conn_start(c, now);
		}
		for (int i = 0; i < d.conf.ndaemons; i++)
			idle &= drain(&d, i);
		/* The policy decides when what was written is committed and
		 * acknowledged: "never" and "batch" after every round of reads
		 * (a round ends early when a stream reaches CommitSize); an
		 * interval when the oldest line waiting has waited it, and,
		 * with CommitSize, also as soon as a stream reaches CommitSize
		 * or the input pauses (group commit: the senders wait for
		 * acknowledgements no longer than the writes take). */
		/* A commit runs beside the loop (commit_as); the next one
		 * begins after it has ended. */
		commit_collect(&d, 0);
		if (store_commit_busy(d.store)) {
			/* its end wakes poll() */
		} else if (d.conf.fsync != LOGD_FSYNC_INTERVAL) {
			commit_as(&d, 1);
		} else if (store_uncommitted(d.store) || d.nacks) {
			if (d.next_commit_ms < 0)
				d.next_commit_ms = now + d.conf.fsync_ms;
			if (now >= d.next_commit_ms || d.commit_now ||
			    (idle && d.conf.commit_size)) {
				commit_as(&d, 1);
				d.next_commit_ms = -1;
			}
		}
		{
			struct zq_result r;

			while (zq_collect(d.zq, &r)) {
				if (store_zip_done(d.store, r.src, r.gen, r.tmp, r.ok) == 0 && r.ok)
					log_info("compressed %s (%" PRIu64 " to %" PRIu64 " bytes)",
						 r.src, r.in_bytes, r.out_bytes);
			}
		}
		if (now >= d.next_idle_ms) {
			close_idle(&d);
			d.next_idle_ms = now + IDLE_SCAN_MS;
		}
		if (d.next_status_ms >= 0 && now >= d.next_status_ms) {
			status(&d);
			d.next_status_ms = now + d.conf.status_s * 1000;
		}
		/* Sleep until the earliest deadline or input. */
		for (int i = 0; i < d.conf.ndaemons; i++) {
			if (d.conns[i].connected) {
				pfd[n].fd = d.conns[i].mb;
				pfd[n].events = POLLIN;
				map[n++] = i;
			} else if (!d.conns[i].connecting &&
				   (deadline < 0 || d.conns[i].next_try_ms < deadline)) {
				deadline = d.conns[i].next_try_ms;
			}
		}
		pfd[n].fd = d.wake[0];
		pfd[n].events = POLLIN;
		map[n++] = -3;
		pfd[n].fd = sfd;
		pfd[n].events = POLLIN;
		map[n++] = -1;
		pfd[n].fd = zq_fd(d.zq);
		pfd[n].events = POLLIN;
		map[n++] = -2;
		pfd[n].fd = store_wake_fd(d.store);
		pfd[n].events = POLLIN;
		map[n++] = -4;
		if (d.next_commit_ms >= 0 && (deadline < 0 || d.next_commit_ms < deadline))
			deadline = d.next_commit_ms;
		if (d.next_status_ms >= 0 && (deadline < 0 || d.next_status_ms < deadline))
			deadline = d.next_status_ms;
		if (deadline < 0 || d.next_idle_ms < deadline)
			deadline = d.next_idle_ms;
		/* A failed commit is retried every second. */
		if (d.write_failed && (deadline < 0 || now + 1000 < deadline))
			deadline = now + 1000;
		/* Messages already in a read-ahead buffer do not wake poll(). */
		for (int i = 0; i < d.conf.ndaemons; i++)
			if (d.conns[i].connected && SP_poll(d.conns[i].mb) > 0)
				deadline = now;
		wait = deadline < 0 ? 1000 : deadline - now_ms();
		if (wait < 0)
			wait = 0;
		if (wait > 1000)
			wait = 1000;
		if (poll(pfd, (nfds_t)n, (int)wait) < 0 && errno != EINTR)
			fatal("poll");
		for (int i = 0; i < n; i++) {
			if (map[i] == -1 && (pfd[i].revents & POLLIN)) {
				on_signal(&d, sfd);
			} else if (map[i] == -3 && (pfd[i].revents & POLLIN)) {
				char buf[64];

				while (read(d.wake[0], buf, sizeof(buf)) > 0)
					;
			} else if (map[i] >= 0 && pfd[i].revents) {
				d.conns[map[i]].readable = 1;
			}
		}
		if (d.write_failed && commit(&d) == 0)
			log_info("writing again after an error");
	}
	log_info("terminating: committing and closing");
	commit(&d);
	status(&d);
	zq_stop(d.zq);
	store_close(d.store);
	for (int i = 0; i < d.conf.ndaemons; i++) {
		struct conn *c = &d.conns[i];

		if (c->connecting)
			abandoned += conn_end_attempt(c);
		if (c->connected)
			SP_disconnect(c->mb);
	}
	/* An abandoned attempt's thread still writes its end to the wake
	 * pipe: it stays open until the process is gone. */
	if (!abandoned) {
		close(d.wake[0]);
		close(d.wake[1]);
	}
	for (int i = 0; i < d.conf.nrules; i++)
		logd_match_free(&d.match[i]);
	free(d.msg);
	free(d.line);
	close(sfd);
	return 0;
}
