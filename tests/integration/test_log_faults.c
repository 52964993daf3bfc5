/*
 * test_log_faults.c - chorus-log end to end under the faults of the
 * review of issue 3, and the options the first tests left out: real
 * chorus-log processes, a real chorusd on loopback, the acknowledging
 * test subscriber of logsub.h. Each fault case prints chorus-log's
 * resent count and the subscriber's duplicate count.
 *
 *   kill -9 of chorus-log, again and again, on one pipe kept open, with
 *   one group and with two (one spool, both groups get every line)
 *   one group's writer away: the spool keeps its lines, it catches up;
 *   a stream of two groups adopted after a kill
 *   a machine crash (spool rolled back, another boot id)
 *   a late replica, a subscriber that lost its state, --acks 2
 *   a full file system (tmpfs), an unusable spool and the /tmp fallback,
 *   a segment missing from the spool
 *   a daemon that hangs (SIGSTOP) at the end of input
 *   -s forms and errors, two groups, default node name, long node name,
 *   periodic status lines, resend after an acknowledgement timeout, and
 *   the default 200 ms latency, measured
 */
#include <errno.h>
#include <sched.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "log/spool.h"
#include "logtest.h"
#include "t.h"

static char out1[160], out2[160];

static void outs(void)
{
	snprintf(out1, sizeof(out1), "%s/sub1.out", logtest_dir);
	snprintf(out2, sizeof(out2), "%s/sub2.out", logtest_dir);
}

static void report(const char *what, const struct clp *c, const struct logcheck *r)
{
	fprintf(stderr, "test_log_faults: %s: %ld lost, chorus-log resent %ld lines, "
		"subscriber dropped %ld duplicates\n", what, r->missing,
		file_num(c->err, "resent "), r->dups);
}

/* ---- kill -9 of chorus-log on a pipe kept open ---- */

/* Lines 0 .. count-1 for a pipe kept open: line(n, out) writes line n
 * (at most line_max bytes); writes are of 1 .. write_max bytes, cutting
 * lines anywhere (as large lines of concurrent Apache children are). */
struct feeder {
	int fd;
	long count;
	unsigned seed;
	size_t (*line)(long n, char *out);
	size_t line_max, write_max;
	int done;
	/* The last lines wait until hold_kills kills have landed (at most
	 * 30 s), so a fast machine cannot finish the input before the
	 * kills a test counts on. */
	int kills, hold_kills;
};

static size_t std_line(long n, char *out)
{
	return logtest_line(n, out, 512);
}

/* Writes the lines, pausing now and then, then closes. */
static void *feed(void *arg)
{
	struct feeder *f = arg;
	static char buf[1 << 20];
	size_t o = 0;

	for (long n = 0; n < f->count; n++) {
		o += f->line(n, buf + o);
		if (n + 1 == f->count) {
			int64_t until = t_now_ms() + 30000;

			while (__atomic_load_n(&f->kills, __ATOMIC_ACQUIRE) < f->hold_kills &&
			       t_now_ms() < until)
				usleep(1000);
		}
		if (o > sizeof(buf) - f->line_max || n + 1 == f->count) {
			for (size_t p = 0; p < o;) {
				size_t k = 1 + (size_t)(rand_r(&f->seed) % f->write_max);

				if (k > o - p)
					k = o - p;
				write_all(f->fd, buf + p, k);
				p += k;
				if (rand_r(&f->seed) % 10 == 0)
					usleep(500);
			}
			o = 0;
		}
	}
	__atomic_store_n(&f->done, 1, __ATOMIC_RELEASE);
	close(f->fd);
	return NULL;
}

/* A feeder of the standard lines (logtest_line()). */
static void std_feeder(struct feeder *f, int fd, long count, unsigned seed)
{
	memset(f, 0, sizeof(*f));
	f->fd = fd;
	f->count = count;
	f->seed = seed;
	f->line = std_line;
	f->line_max = 512;
	f->write_max = 9000;
}

/* How a run of kills goes: the feeder starts, and a chorus-log on the
 * pipe fd (daemon, extra options) is killed after min_ms + up to span_ms,
 * and started again at once on the same pipe (Apache takes about a
 * second), `kills` times or until the feeder is done; between(k) if not
 * NULL runs before restart k (from 1). Then waits for the feeder and
 * closes fd. Returns the kills. */
struct killrun {
	const char *daemon;
	const char *const *args;
	int fd, kills, until_done;
	long min_ms, span_ms;
	void (*between)(int k);
};

static int kill_loop(struct clp *c, const struct killrun *k, struct feeder *f,
		     unsigned *seed)
{
	pthread_t th;
	int n = 0;

	T_EQ(pthread_create(&th, NULL, feed, f), 0);

	for (; n < k->kills; n++) {
		long ms = k->min_ms + (long)(rand_r(seed) % (unsigned)k->span_ms);
		struct timespec ts = { ms / 1000, ms % 1000 * 1000000L };
		char tag[16];

		if (k->until_done && __atomic_load_n(&f->done, __ATOMIC_ACQUIRE))
			break;
		nanosleep(&ts, NULL);
		kill(c->pid, SIGKILL);
		waitpid(c->pid, NULL, 0);
		__atomic_store_n(&f->kills, n + 1, __ATOMIC_RELEASE);
		if (k->between)
			k->between(n + 1);
		snprintf(tag, sizeof(tag), "log%d", n + 1);
		clp_start_ex(c, tag, k->daemon, k->args, k->fd, NULL);
	}
	pthread_join(th, NULL);
	close(k->fd);
	return n;
}

/* A run of kills on a new pipe, fed by f (made by the caller but for its
 * descriptor); the first chorus-log is started here (log0). */
static int kill_run(struct clp *c, struct killrun *k, struct feeder *f,
		    const char *what, unsigned *seed)
{
	int fds[2];

	T_EQ(pipe2(fds, O_CLOEXEC), 0);
	f->fd = fds[1];
	k->fd = fds[0];
	fprintf(stderr, "test_log_faults: kill -9 %sseed %u\n", what, *seed);
	clp_start_ex(c, "log0", k->daemon, k->args, fds[0], NULL);
	return kill_loop(c, k, f, seed);
}

static void log_kill9_same_pipe(void)
{
	struct hd d;
	struct logsub sub;
	struct clp c;
	struct logcheck r;
	struct feeder f;
	int kills;
	unsigned seed = (unsigned)time(NULL);

	logtest_mkdir();
	outs();
	hd_start(&d, NULL);
	logsub_start(&sub, d.tcp_addr, "logs", out1, "sub1");
	std_feeder(&f, -1, 60000, seed);
	{
		struct killrun k = {
			.daemon = d.tcp_addr, .kills = 10, .min_ms = 30, .span_ms = 120,
		};

		kills = kill_run(&c, &k, &f, "", &seed);
	}
	T_EQ(clp_finish(&c, 30000), 0);
	T_ASSERTF(spool_left(c.err) == 0, "stderr %s", c.err);
	check_out_ex(out1, f.count, 0, &r);
	fprintf(stderr, "test_log_faults: chorus-log SIGKILL x%d on one pipe: %ld lines, %d "
		"stream(s)\n", kills, f.count, r.streams);
	report("chorus-log SIGKILL", &c, &r);
	logsub_stop(&sub, SIGKILL);
	hd_stop(&d);
	logtest_rmdir();
}

/* ---- several groups ---- */

/* The end of a test of groups logs and other: chorus-log c exits at the
 * end of its input with nothing left in the spool, and each subscriber
 * has every line 0 .. count-1 once (r[0]: logs, r[1]: other); then the
 * subscribers, the daemon and the test directory go. */
static void two_groups_end(struct clp *c, long count, const char *what, struct hd *d,
			   struct logsub *s1, struct logsub *s2, struct logcheck r[2])
{
	char tag[120];

	T_EQ(clp_finish(c, 30000), 0);
	T_ASSERTF(spool_left(c->err) == 0, "stderr %s", c->err);
	for (int i = 0; i < 2; i++) {
		check_out_ex(i ? out2 : out1, count, 0, &r[i]);
		snprintf(tag, sizeof(tag), "%s, group %s", what, i ? "other" : "logs");
		report(tag, c, &r[i]);
	}
	logsub_stop(s1, SIGKILL);
	logsub_stop(s2, SIGKILL);
	hd_stop(d);
	logtest_rmdir();
}

/* kill -9 of chorus-log -g logs -g other, again and again, on one pipe
 * under load: both groups' subscribers get every line exactly once after
 * dropping duplicates by (stream, seq). The input is taken into one
 * spool for both groups, so a kill cannot lose a line for one of them. */
static void log_kill9_two_groups(void)
{
	static const char *const two[] = { "-g", "other", NULL };
	struct hd d;
	struct logsub s1, s2;
	struct clp c;
	struct logcheck r[2];
	struct feeder f;
	int kills;
	unsigned seed = (unsigned)time(NULL);

	logtest_mkdir();
	outs();
	hd_start(&d, NULL);
	logsub_start(&s1, d.tcp_addr, "logs", out1, "sub1");
	logsub_start(&s2, d.tcp_addr, "other", out2, "sub2");
	/* Large writes keep the reader busy, so that kills land while it
	 * takes input. */
	std_feeder(&f, -1, 400000, seed);
	f.write_max = 65536;
	f.hold_kills = 5;
	{
		struct killrun k = {
			.daemon = d.tcp_addr, .args = two, .kills = 60, .until_done = 1,
			.min_ms = 5, .span_ms = 25,
		};

		kills = kill_run(&c, &k, &f, "two groups ", &seed);
	}
	T_ASSERT(kills >= 5);
	two_groups_end(&c, f.count, "two groups, SIGKILL", &d, &s1, &s2, r);
	fprintf(stderr, "test_log_faults: chorus-log -g logs -g other SIGKILL x%d on one "
		"pipe: %ld lines, %d and %d stream(s)\n", kills, f.count, r[0].streams,
		r[1].streams);
}

/* The name of the first segment file of the one stream under gdir, or
 * "" if there is none. */
static void first_segment(const char *gdir, char *out, size_t len)
{
	char cmd[400];
	FILE *p;

	snprintf(cmd, sizeof(cmd), "ls %s/s-*/ 2>/dev/null | grep '[.]seg$' | sort | head -1",
		 gdir);
	out[0] = 0;
	p = popen(cmd, "r");
	T_ASSERT(p != NULL);
	if (!fgets(out, (int)len, p))
		out[0] = 0;
	out[strcspn(out, "\n")] = 0;
	pclose(p);
}

/* One group's writer is away: its lines stay in the spool while the
 * other group's are acknowledged, and the spool keeps the segments the
 * slow group still needs; when its writer comes, it catches up. */
static void log_slow_group(void)
{
	static const char *const two[] = { "-g", "other", "-m", "16M", NULL };
	struct hd d;
	struct logsub s1, s2;
	struct clp c;
	struct logcheck r[2];
	char gdir[200], seg[128];
	long spooled;

	logtest_mkdir();
	outs();
	hd_start(&d, NULL);
	logsub_start(&s1, d.tcp_addr, "logs", out1, "sub1");
	clp_start(&c, "log", d.tcp_addr, two);
	/* About 4 MB: 4 segments of 1 MB. */
	write_lines(c.in, 0, 20000, NULL, 0);
	T_ASSERTF(wait_line(out1, 19999, 20000), "group logs did not get its lines");
	snprintf(gdir, sizeof(gdir), "%s/spool/logs@node1", logtest_dir);
	/* Acknowledged by group logs, not by group other: still spooled,
	 * from the first line on. */
	usleep(300 * 1000);
	kill(c.pid, SIGUSR1);
	T_ASSERT(wait_file_has(c.err, "status:", 5000));
	spooled = file_num(c.err, "spooled ");
	T_ASSERTF(spooled == 20000, "spooled %ld, want 20000 (stderr %s)", spooled, c.err);
	first_segment(gdir, seg, sizeof(seg));
	T_ASSERTF(strcmp(seg, "00000000000000000001.seg") == 0, "first segment \"%s\"", seg);
	/* The slow group's writer comes: it catches up, the spool is
	 * trimmed. */
	logsub_start(&s2, d.tcp_addr, "other", out2, "sub2");
	T_ASSERTF(wait_line(out2, 19999, 20000), "group other did not catch up");
	write_lines(c.in, 20000, 21000, NULL, 0);
	two_groups_end(&c, 21000, "slow group", &d, &s1, &s2, r);
}

/* Two processes of groups logs and other run at once (Apache's double
 * start), so the second makes a stream of its own; the first is killed
 * while group other's writer is away, and the second adopts its stream
 * for both groups: when other's writer comes, both groups have every
 * line of both processes. */
static void log_two_groups_adopt(void)
{
	static const char *const two[] = { "-g", "other", NULL };
	struct hd d;
	struct logsub s1, s2;
	struct clp c, c1;
	struct logcheck r[2];

	logtest_mkdir();
	outs();
	hd_start(&d, NULL);
	logsub_start(&s1, d.tcp_addr, "logs", out1, "sub1");
	clp_start(&c1, "log1", d.tcp_addr, two);
	write_lines(c1.in, 0, 5000, NULL, 0);
	T_ASSERTF(wait_line(out1, 4999, 20000), "group logs did not get its lines");
	clp_start(&c, "log2", d.tcp_addr, two);
	write_lines(c.in, 5000, 5500, NULL, 0);
	T_ASSERTF(wait_line(out1, 5499, 20000), "group logs did not get the second's lines");
	kill(c1.pid, SIGKILL);
	waitpid(c1.pid, NULL, 0);
	close(c1.in);
	write_lines(c.in, 5500, 6000, NULL, 0);
	T_ASSERTF(wait_file_has(c.err, "adopted stream", 20000), "no adoption (%s)", c.err);
	logsub_start(&s2, d.tcp_addr, "other", out2, "sub2");
	T_ASSERTF(wait_file_has(c.err, "drained; removed", 30000), "not drained (%s)", c.err);
	two_groups_end(&c, 6000, "two groups, adopted", &d, &s1, &s2, r);
	T_EQ(r[0].streams, 2);
	T_EQ(r[1].streams, 2);
}

/* The group list changes between two runs: `-g logs -g other` exits
 * cleanly with other's writer away (its stream lives in logs@node1);
 * then `-g other` alone runs, and still sends that stream's lines to
 * other. Then a one-group run for logs leaves lines while logs's writer
 * is away, and an `-g other` run sends them to logs. Every line once in
 * each group, none left over. */
static void log_group_list_change(void)
{
	static const char *const two[] = { "-g", "other", NULL };
	char spool[200], cmd[400];
	const char *only_other[] = {
		"-", "-g", "other", "-h", "node1", "-t", "20", "--ack-timeout", "300",
		"-T", "20000", "-s", NULL, "-d", spool, NULL,
	};
	struct hd d;
	struct logsub s1, s2;
	struct clp a, b;
	struct logcheck r1, r2;
	FILE *fp;
	int left = -1;

	logtest_mkdir();
	outs();
	snprintf(spool, sizeof(spool), "%s/spool", logtest_dir);
	hd_start(&d, NULL);
	only_other[12] = d.tcp_addr;
	/* Round 1: logs is up, other is not. */
	logsub_start(&s1, d.tcp_addr, "logs", out1, "sub1");
	clp_start(&a, "a", d.tcp_addr, two);
	write_lines(a.in, 0, 1000, NULL, 0);
	T_ASSERTF(wait_line(out1, 999, 20000), "group logs did not get its lines");
	T_EQ(clp_finish(&a, 30000), 0);
	T_ASSERTF(spool_left(a.err) == 1000, "stderr %s", a.err);
	/* Round 2: the new list has only other; its writer is up. A stream
	 * directory of another node name is left alone, and said so. */
	snprintf(cmd, sizeof(cmd), "mkdir -p %s/logs@node9/s-1", spool);
	T_EQ(system(cmd), 0);
	logsub_start(&s2, d.tcp_addr, "other", out2, "sub2");
	clp_start(&b, "b", NULL, only_other);
	write_lines(b.in, 1000, 1200, NULL, 0);
	T_ASSERTF(wait_line(out2, 999, 20000), "the old stream never reached other (%s)",
		  b.err);
	T_ASSERTF(wait_line(out2, 1199, 20000), "other did not get the new lines");
	T_ASSERTF(wait_file_has(b.err, "drained; removed", 20000), "not drained (%s)", b.err);
	T_EQ(clp_finish(&b, 30000), 0);
	T_ASSERTF(spool_left(b.err) == 0, "stderr %s", b.err);
	T_ASSERTF(file_has(b.err, "/logs@node9 is not one of node node1's group directories"),
		  "stderr %s", b.err);
	check_out_ex(out2, 1200, 0, &r2);
	T_EQ(r2.dups, 0);
	/* Round 3: logs alone, its writer away, leaves 300 lines; a run for
	 * other alone sends them to logs when its writer is back. */
	logsub_stop(&s1, SIGKILL);
	clp_start(&a, "a2", d.tcp_addr, NULL);
	write_lines(a.in, 1200, 1500, NULL, 0);
	T_EQ(clp_finish(&a, 30000), 0);
	T_ASSERTF(spool_left(a.err) == 300, "stderr %s", a.err);
	logsub_start(&s1, d.tcp_addr, "logs", out1, "sub1b");
	clp_start(&b, "b2", NULL, only_other);
	T_ASSERTF(wait_line(out1, 1499, 20000), "logs's leftovers were not sent (%s)", b.err);
	T_ASSERTF(wait_file_has(b.err, "drained; removed", 20000), "not drained (%s)", b.err);
	T_EQ(clp_finish(&b, 30000), 0);
	/* logs has lines 0..999 and 1200..1499: only b's 200 are not its. */
	check_out_ex(out1, 1500, 1, &r1);
	T_EQ(r1.dups, 0);
	T_EQ(r1.missing, 200);
	T_EQ(r1.first_present, 0);
	T_ASSERT(!file_has(out1, "GET /req/1000 ") && !file_has(out1, "GET /req/1199 "));
	/* Nothing is left in any stream directory. */
	snprintf(cmd, sizeof(cmd), "ls -d %s/spool/*@node1/s-* 2>/dev/null | wc -l", logtest_dir);
	fp = popen(cmd, "r");
	T_ASSERT(fp && fscanf(fp, "%d", &left) == 1);
	pclose(fp);
	T_ASSERTF(left <= 1, "%d streams left", left); /* b2's own, empty */
	logsub_stop(&s1, SIGKILL);
	logsub_stop(&s2, SIGKILL);
	hd_stop(&d);
	logtest_rmdir();
}

/* ---- kill -9 with overlong lines ---- */

/* Line n of the overlong tests: "L<n> " and filler; 2 % are 150 to
 * 400 KB (longer than any message), 8 % 800 to 3000 bytes, the rest 200.
 * Writes it into out (400 KB) and returns its length with its '\n'. */
static size_t ol_line(long n, char *out)
{
	unsigned h = (unsigned)n * 2654435761u >> 7;
	size_t len = h % 50 == 7 ? 150000 + h % 250000 : h % 50 < 5 ? 800 + h % 2200 : 200;
	int m = sprintf(out, "L%ld ", n);

	for (size_t i = (size_t)m; i < len; i++)
		out[i] = (char)('a' + (n + (long)i) % 26);
	out[len] = '\n';
	return len + 1;
}

/* Checks a subscriber's records against ol_line(0 .. count-1): each
 * line stored once, in order within its stream, whole if at most max
 * bytes, else its start (at least keep bytes) and the marker with its
 * length (or, cut across a restart, without); nothing joined. Without
 * `lost`, no line may be missing; with it (one stream), every line n
 * must come as sequence n + 1 (a line lost uncounted, or split in two,
 * would shift the numbers after it), and *lost is set to the number of
 * lines missing. Returns the number of lines cut. */
static long check_ol_ex(const char *path, long count, size_t max, size_t keep, long *lost)
{
	static char want[400001];
	FILE *fp = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0;
	ssize_t got;
	unsigned char *seen = calloc((size_t)count, 1);
	long cut = 0, missing = 0, last_n = -1;
	unsigned long long last_id = 0, last_seq = 0;

	T_ASSERTF(fp != NULL, "no subscriber output %s", path);
	while ((got = getline(&line, &cap, fp)) > 0) {
		unsigned long long id, seq;
		int off = 0;
		long n;
		size_t l, rl;
		char *rec, *mk;

		T_ASSERTF(sscanf(line, "%16llx %llu %n", &id, &seq, &off) == 2 && off > 0,
			  "bad record %.80s", line);
		rec = line + off;
		rl = (size_t)got - (size_t)off - 1;
		T_ASSERTF(rec[0] == 'L', "not a line: %.80s", rec);
		n = strtol(rec + 1, NULL, 10);
		T_ASSERTF(n >= 0 && n < count, "line number %ld", n);
		if (lost)
			T_ASSERTF(seq == (unsigned long long)n + 1,
				  "line %ld came as sequence %llu: lines before it were "
				  "lost without their numbers", n, seq);
		if (id == last_id && seq <= last_seq)
			continue; /* stored again under its number */
		if (id == last_id)
			T_ASSERTF(n > last_n, "line %ld after %ld", n, last_n);
		last_id = id;
		last_seq = seq;
		last_n = n;
		T_ASSERTF(!seen[n], "line %ld stored twice", n);
		seen[n] = 1;
		l = ol_line(n, want) - 1;
		mk = strstr(rec, " [chorus-log: line cut");
		if (l <= max) {
			T_ASSERTF(rl == l && memcmp(rec, want, l) == 0 && !mk,
				  "line %ld changed or joined (%zu, %zu bytes)", n, l, rl);
			continue;
		}
		T_ASSERTF(mk != NULL, "line %ld (%zu bytes) not cut (%zu)", n, l, rl);
		T_ASSERTF(rl <= max, "line %ld cut to %zu bytes", n, rl);
		T_ASSERTF((size_t)(mk - rec) >= keep && memcmp(rec, want, (size_t)(mk - rec)) == 0,
			  "line %ld: %zu bytes kept, or not its start", n, (size_t)(mk - rec));
		{
			char m1[80];
			int k = snprintf(m1, sizeof(m1), " [chorus-log: line cut, %zu bytes]", l);

			T_ASSERTF(strncmp(mk, m1, (size_t)k) == 0 && rec + rl == mk + k ?
				  1 : strcmp(mk, " [chorus-log: line cut]\n") == 0,
				  "line %ld: bad marker %.60s", n, mk);
		}
		cut++;
	}
	for (long n = 0; n < count; n++)
		missing += !seen[n];
	if (lost)
		*lost = missing;
	else
		T_ASSERTF(missing == 0, "%ld of %ld lines missing", missing, count);
	free(line);
	free(seen);
	fclose(fp);
	return cut;
}

static long check_ol(const char *path, long count, size_t max, size_t keep)
{
	return check_ol_ex(path, count, max, keep, NULL);
}

/* kill -9 of chorus-log again and again while lines over the limit (-l
 * 1024) and over any message size go through one pipe: no line missing,
 * none uncut, none joined. */
static void log_kill9_overlong(void)
{
	static const char *const args[] = { "-l", "1024", NULL };
	struct hd d;
	struct logsub sub;
	struct clp c;
	struct feeder f;
	int kills;
	unsigned seed = (unsigned)time(NULL);
	long cut;

	logtest_mkdir();
	outs();
	hd_start(&d, NULL);
	logsub_start(&sub, d.tcp_addr, "logs", out1, "sub1");
	std_feeder(&f, -1, 8000, seed);
	f.hold_kills = 5;
	f.line = ol_line;
	f.line_max = 400002;
	f.write_max = 70000;
	{
		struct killrun k = {
			.daemon = d.tcp_addr, .args = args, .kills = 40, .until_done = 1,
			.min_ms = 10, .span_ms = 60,
		};

		kills = kill_run(&c, &k, &f, "overlong ", &seed);
	}
	T_EQ(clp_finish(&c, 30000), 0);
	T_ASSERTF(spool_left(c.err) == 0, "stderr %s", c.err);
	cut = check_ol(out1, f.count, 1024, 1024 - 64);
	fprintf(stderr, "test_log_faults: chorus-log SIGKILL x%d, overlong lines: %ld lines, "
		"%ld cut, 0 lost, 0 uncut, 0 joined\n", kills, f.count, cut);
	T_ASSERT(kills >= 5);
	logsub_stop(&sub, SIGKILL);
	hd_stop(&d);
	logtest_rmdir();
}

/* ---- a machine crash ---- */

/* What the disk holds after a crash is an older state of the spool: a
 * copy taken while chorus-log ran (stopped for the copy) stands in for
 * it, and CHORUS_LOG_BOOT_ID for the new boot. Lines sent before the
 * crash must not be lost, and new lines must not be taken for them. */
static void log_crash_rollback(void)
{
	struct hd d;
	struct logsub sub;
	struct clp c;
	struct logcheck r;
	char cmd[600];

	logtest_mkdir();
	outs();
	hd_start(&d, NULL);
	logsub_start(&sub, d.tcp_addr, "logs", out1, "sub1");
	clp_start(&c, "log1", d.tcp_addr, NULL);
	write_lines(c.in, 0, 900, NULL, 0);
	T_EQ(clp_finish(&c, 10000), 0);
	clp_start(&c, "log2", d.tcp_addr, NULL);
	write_lines(c.in, 900, 950, NULL, 0);
	T_ASSERT(wait_line(out1, 949, 10000));
	kill(c.pid, SIGSTOP);
	snprintf(cmd, sizeof(cmd), "cp -a %s/spool %s/spool.crash", logtest_dir, logtest_dir);
	T_EQ(system(cmd), 0);
	kill(c.pid, SIGCONT);
	write_lines(c.in, 950, 1000, NULL, 0);
	T_EQ(clp_finish(&c, 10000), 0);
	T_ASSERT(wait_line(out1, 999, 10000));
	/* The crash: lines 950..999 and the state that numbered them are
	 * gone from the disk; the machine boots again. */
	snprintf(cmd, sizeof(cmd), "rm -rf %s/spool && mv %s/spool.crash %s/spool",
		 logtest_dir, logtest_dir, logtest_dir);
	T_EQ(system(cmd), 0);
	clp_start_ex(&c, "log3", d.tcp_addr, NULL, -1, "CHORUS_LOG_BOOT_ID=after-the-crash");
	write_lines(c.in, 1000, 1200, NULL, 0);
	T_EQ(clp_finish(&c, 20000), 0);
	check_out_ex(out1, 1200, 0, &r);
	T_ASSERT(r.streams >= 2);
	report("machine crash (rollback)", &c, &r);
	logsub_stop(&sub, SIGKILL);
	hd_stop(&d);
	logtest_rmdir();
}

/* ---- writers that are behind ---- */

/* A second subscriber joins after 20000 lines were stored by the first
 * (acks 1): it gets every line the spool still holds (all of them here:
 * one segment), then the new ones. */
static void log_late_replica(void)
{
	struct hd d;
	struct logsub s1, s2;
	struct clp c;
	struct logcheck r1, r2;

	logtest_mkdir();
	outs();
	hd_start(&d, NULL);
	logsub_start(&s1, d.tcp_addr, "logs", out1, "sub1");
	clp_start(&c, "log", d.tcp_addr, NULL);
	write_lines(c.in, 0, 20000, NULL, 0);
	T_ASSERT(wait_line(out1, 19999, 20000));
	logsub_start(&s2, d.tcp_addr, "logs", out2, "sub2");
	write_lines(c.in, 20000, 25000, NULL, 0);
	T_ASSERT(wait_line(out2, 24999, 20000));
	T_ASSERT(wait_line(out2, 0, 20000));
	T_EQ(clp_finish(&c, 20000), 0);
	check_out_ex(out1, 25000, 0, &r1);
	check_out_ex(out2, 25000, 0, &r2);
	report("late replica (first)", &c, &r1);
	report("late replica (second)", &c, &r2);
	T_ASSERT(file_num(c.err, "gaps ") != 0);
	logsub_stop(&s1, SIGKILL);
	logsub_stop(&s2, SIGKILL);
	hd_stop(&d);
	logtest_rmdir();
}

/* The only subscriber is killed and comes back with nothing (its file
 * gone): it catches up from what the spool holds and goes on. */
static void log_sub_lost_state(void)
{
	struct hd d;
	struct logsub s1;
	struct clp c;
	struct logcheck r;

	logtest_mkdir();
	outs();
	hd_start(&d, NULL);
	logsub_start(&s1, d.tcp_addr, "logs", out1, "sub1");
	clp_start(&c, "log", d.tcp_addr, NULL);
	write_lines(c.in, 0, 20000, NULL, 0);
	T_ASSERT(wait_line(out1, 19999, 20000));
	logsub_stop(&s1, SIGKILL);
	T_EQ(unlink(out1), 0);
	logsub_start(&s1, d.tcp_addr, "logs", out1, "sub1");
	write_lines(c.in, 20000, 25000, NULL, 0);
	T_ASSERT(wait_line(out1, 24999, 20000));
	T_ASSERT(wait_line(out1, 0, 20000));
	T_EQ(clp_finish(&c, 20000), 0);
	check_out_ex(out1, 25000, 0, &r);
	report("subscriber lost its state", &c, &r);
	logsub_stop(&s1, SIGKILL);
	hd_stop(&d);
	logtest_rmdir();
}

static struct hd *hook_d;
static struct logsub *hook_sub;

static void stop_sub2(long n)
{
	if (n == 5000)
		logsub_stop(hook_sub, SIGKILL);
}

/* --acks 2: a line leaves the spool only when both subscribers have it;
 * the second is down for half the load and gets everything after. */
static void log_acks2(void)
{
	static const char *const acks2[] = { "--acks", "2", NULL };
	struct hd d;
	struct logsub s1, s2;
	struct clp c;
	struct logcheck r1, r2;

	logtest_mkdir();
	outs();
	hd_start(&d, NULL);
	logsub_start(&s1, d.tcp_addr, "logs", out1, "sub1");
	logsub_start(&s2, d.tcp_addr, "logs", out2, "sub2");
	clp_start(&c, "log", d.tcp_addr, acks2);
	hook_d = &d;
	hook_sub = &s2;
	write_lines(c.in, 0, 10000, stop_sub2, 1000);
	T_ASSERT(wait_line(out1, 9999, 20000));
	/* Nothing leaves the spool while the second is away. */
	kill(c.pid, SIGUSR1);
	T_ASSERT(wait_file_has(c.err, "status:", 5000));
	T_ASSERT(file_num(c.err, "acknowledged ") <= 5000);
	logsub_start(&s2, d.tcp_addr, "logs", out2, "sub2");
	T_EQ(clp_finish(&c, 30000), 0);
	T_ASSERTF(spool_left(c.err) == 0, "stderr %s", c.err);
	check_out_ex(out1, 10000, 0, &r1);
	check_out_ex(out2, 10000, 0, &r2);
	report("--acks 2, second subscriber down", &c, &r2);
	logsub_stop(&s1, SIGKILL);
	logsub_stop(&s2, SIGKILL);
	hd_stop(&d);
	logtest_rmdir();
}

/* ---- the disk ---- */

/* Mounts a 1 MiB tmpfs on <test dir>/full (its path into mnt), in a
 * mount namespace of the case's own, so that the mount goes with it even
 * if the case fails half-way; skips without root. */
static void small_tmpfs(char *mnt, size_t len)
{
	if (getuid() != 0)
		t_skip("mounting a small tmpfs needs root");
	snprintf(mnt, len, "%s/full", logtest_dir);
	T_EQ(mkdir(mnt, 0700), 0);
	if (unshare(CLONE_NEWNS) == 0)
		mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL);
	if (mount("chorus-test", mnt, "tmpfs", 0, "size=1m") != 0)
		t_skip("cannot mount a tmpfs: %s", strerror(errno));
}

/* A 1 MiB file system under a spool allowed 64 MiB, the daemon away:
 * the disk fills; the oldest lines go, counted, never the newest. */
static void log_disk_full(void)
{
	static const char *const big[] = { "-m", "64M", "-T", "100", "-d", NULL, NULL };
	const char *args[8];
	struct hd d;
	struct logsub s1;
	struct clp c;
	struct logcheck r;
	char mnt[160];
	long dropped;

	logtest_mkdir();
	outs();
	small_tmpfs(mnt, sizeof(mnt));
	memcpy(args, big, sizeof(big));
	args[5] = mnt;
	hd_start(&d, NULL);
	hd_kill9(&d);
	clp_start(&c, "log1", d.tcp_addr, args);
	write_lines(c.in, 0, 20000, NULL, 0);
	T_EQ(clp_finish(&c, 20000), 0);
	T_ASSERTF(file_has(c.err, "LOST"), "stderr %s", c.err);
	dropped = file_num(c.err, "dropped ");
	T_ASSERT(dropped > 10000);
	hd_restart(&d);
	logsub_start(&s1, d.tcp_addr, "logs", out1, "sub1");
	clp_start(&c, "log2", d.tcp_addr, args);
	T_EQ(clp_finish(&c, 20000), 0);
	T_ASSERTF(spool_left(c.err) == 0, "stderr %s", c.err);
	check_out_ex(out1, 20000, 1, &r);
	/* The missing lines are exactly the oldest. */
	T_EQ(r.missing, dropped);
	T_EQ(r.missing_above, 0);
	T_EQ(r.first_present, dropped);
	fprintf(stderr, "test_log_faults: disk full (1 MiB tmpfs): %ld of 20000 oldest lines "
		"dropped and reported\n", dropped);
	logsub_stop(&s1, SIGKILL);
	hd_stop(&d);
	T_EQ(umount(mnt), 0);
	logtest_rmdir();
}

/* The spool root cannot be used: the fallback under $TMPDIR is taken,
 * loudly, if it is a private directory of ours, and refused otherwise. */
static void log_spool_fallback(void)
{
	static const char *const bad_root[] = { "-d", "/proc/chorus-log-nowhere", NULL };
	struct hd d;
	struct logsub s1;
	struct clp c;
	struct logcheck r;
	char env[200], tmp[160], fb[200];
	int status;

	logtest_mkdir();
	outs();
	hd_start(&d, NULL);
	logsub_start(&s1, d.tcp_addr, "logs", out1, "sub1");
	snprintf(tmp, sizeof(tmp), "%s/tmp", logtest_dir);
	T_EQ(mkdir(tmp, 0755), 0);
	snprintf(env, sizeof(env), "TMPDIR=%s", tmp);
	snprintf(fb, sizeof(fb), "%s/chorus-log-%u", tmp, (unsigned)getuid());
	clp_start_ex(&c, "log1", d.tcp_addr, bad_root, -1, env);
	write_lines(c.in, 0, 1000, NULL, 0);
	T_EQ(clp_finish(&c, 20000), 0);
	T_ASSERTF(file_has(c.err, "SPOOLING UNDER"), "stderr %s", c.err);
	check_out_ex(out1, 1000, 0, &r);
	{
		struct stat st;

		T_EQ(lstat(fb, &st), 0);
		T_EQ(st.st_mode & 0777, 0700);
	}
	/* Not private: refused, exit status 1. */
	T_EQ(chmod(fb, 0755), 0);
	clp_start_ex(&c, "log2", d.tcp_addr, bad_root, -1, env);
	status = clp_finish(&c, 10000);
	T_ASSERTF(WIFEXITED(status) && WEXITSTATUS(status) == 1, "status %d", status);
	T_ASSERT(file_has(c.err, "not private"));
	/* A symbolic link: refused. */
	{
		char cmd[1000];

		snprintf(cmd, sizeof(cmd), "rm -rf %s && mkdir -m 700 %s/elsewhere && "
			 "ln -s %s/elsewhere %s", fb, logtest_dir, logtest_dir, fb);
		T_EQ(system(cmd), 0);
	}
	clp_start_ex(&c, "log3", d.tcp_addr, bad_root, -1, env);
	status = clp_finish(&c, 10000);
	T_ASSERTF(WIFEXITED(status) && WEXITSTATUS(status) == 1, "status %d", status);
	T_ASSERT(file_has(c.err, "not a directory"));
	logsub_stop(&s1, SIGKILL);
	hd_stop(&d);
	logtest_rmdir();
}

/* A middle segment of the spool is gone (a crash, a hand): the lines
 * around it are sent under their own numbers (none mislabelled), the
 * hole is reported, and nothing spins. */
static void log_missing_segment(void)
{
	static const char *const small[] = { "-m", "1M", "-T", "0", NULL };
	struct hd d;
	struct logsub s1;
	struct clp c;
	struct logcheck r;
	struct rusage ru;
	char cmd[600], *line = NULL;
	size_t cap = 0;
	long records = 0;
	int status;
	FILE *fp;

	logtest_mkdir();
	outs();
	hd_start(&d, NULL);
	clp_start(&c, "log1", "1@127.0.0.1", small);
	write_lines(c.in, 0, 3000, NULL, 0);
	T_EQ(clp_finish(&c, 10000), 0);
	snprintf(cmd, sizeof(cmd), "rm $(ls %s/spool/logs@node1/s-*/*.seg | sed -n 2p)",
		 logtest_dir);
	T_EQ(system(cmd), 0);
	logsub_start(&s1, d.tcp_addr, "logs", out1, "sub1");
	clp_start(&c, "log2", d.tcp_addr, NULL);
	close(c.in);
	T_EQ(wait4(c.pid, &status, 0, &ru), c.pid);
	T_EQ(status, 0);
	fprintf(stderr, "test_log_faults: missing segment: chorus-log used %ld.%03ld s of CPU\n",
		(long)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec),
		(long)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1000 % 1000);
	T_ASSERT(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec < 2);
	T_ASSERTF(file_has(c.err, "LOST"), "stderr %s", c.err);
	T_ASSERTF(spool_left(c.err) == 0, "stderr %s", c.err);
	check_out_ex(out1, 3000, 1, &r);
	T_ASSERT(r.missing > 0 && r.missing < 3000);
	/* Line n was number n + 1 of the stream: the record must say so. */
	fp = fopen(out1, "r");
	T_ASSERT(fp != NULL);
	while (getline(&line, &cap, fp) > 0) {
		unsigned long long id, seq;
		long n = strtol(strstr(line, "GET /req/") + 9, NULL, 10);

		T_EQ(sscanf(line, "%16llx %llu", &id, &seq), 2);
		T_ASSERTF(seq == (unsigned long long)n + 1, "line %ld sent as %llu", n, seq);
		records++;
	}
	free(line);
	fclose(fp);
	T_EQ(records, 3000 - r.missing);
	logsub_stop(&s1, SIGKILL);
	hd_stop(&d);
	logtest_rmdir();
}

/* ---- a daemon that hangs ---- */

/* chorusd stopped (SIGSTOP) while chorus-log sends: after end of input
 * chorus-log still exits by its flush deadline (-T 2000, plus at most a
 * second), everything unacknowledged stays in the spool, and the next
 * instance sends it when the daemon is back. */
static void log_daemon_hangs(void)
{
	static const char *const quick[] = { "-T", "2000", NULL };
	struct hd d;
	struct logsub s1;
	struct clp c;
	struct logcheck r;
	int64_t t0, took;

	logtest_mkdir();
	outs();
	hd_start(&d, NULL);
	clp_start(&c, "log1", d.tcp_addr, quick);
	write_lines(c.in, 0, 100, NULL, 0);
	T_ASSERT(wait_file_has(c.err, "connected to the daemon", 10000));
	kill(d.pid, SIGSTOP);
	write_lines(c.in, 100, 100000, NULL, 0);
	t0 = t_now_ms();
	T_EQ(clp_finish(&c, 15000), 0);
	took = t_now_ms() - t0;
	fprintf(stderr, "test_log_faults: daemon stopped: chorus-log exited %lld ms after "
		"end of input (-T 2000)\n", (long long)took);
	/* The deadline is -T plus a second; a chorus-log held by the daemon
	 * would never exit. The rest of the bound is room for a loaded
	 * machine, not a tolerance of the deadline (which the message
	 * "takes no data" proves was the way out). */
	T_ASSERTF(took < 2000 + 1000 + 4000, "took %lld ms", (long long)took);
	T_ASSERTF(file_has(c.err, "takes no data"), "stderr %s", c.err);
	kill(d.pid, SIGCONT);
	logsub_start(&s1, d.tcp_addr, "logs", out1, "sub1");
	clp_start(&c, "log2", d.tcp_addr, NULL);
	T_EQ(clp_finish(&c, 30000), 0);
	T_ASSERTF(spool_left(c.err) == 0, "stderr %s", c.err);
	check_out_ex(out1, 100000, 0, &r);
	report("daemon stopped at end of input", &c, &r);
	logsub_stop(&s1, SIGKILL);
	hd_stop(&d);
	logtest_rmdir();
}

/* Feeds numbered lines into fd until *stop, paced; *count is how many. */
struct pacer {
	int fd;
	long count;
	int stop;
};

static void *pace(void *arg)
{
	struct pacer *p = arg;

	while (!__atomic_load_n(&p->stop, __ATOMIC_ACQUIRE)) {
		write_lines(p->fd, p->count, p->count + 500, NULL, 0);
		p->count += 500;
		usleep(5000);
	}
	return NULL;
}

/* chorusd stopped (SIGSTOP) while chorus-log sends, mid-run: the status
 * lines (-i 1) and the spool syncs (-y 100, counted in the status line)
 * go on while the send blocks; after SIGCONT everything arrives. */
static void log_daemon_stopped_midrun(void)
{
	static const char *const args[] = { "-i", "1", "-y", "100", NULL };
	struct hd d;
	struct logsub s1;
	struct clp c;
	struct logcheck r;
	struct pacer p;
	pthread_t th;
	long status0, syncs0, status1, syncs1;

	logtest_mkdir();
	outs();
	hd_start(&d, NULL);
	logsub_start(&s1, d.tcp_addr, "logs", out1, "sub1");
	clp_start(&c, "log", d.tcp_addr, args);
	T_ASSERT(wait_file_has(c.err, "connected to the daemon", 10000));
	memset(&p, 0, sizeof(p));
	p.fd = c.in;
	T_EQ(pthread_create(&th, NULL, pace, &p), 0);
	usleep(1500000);
	kill(d.pid, SIGSTOP);
	usleep(1000000);
	status0 = logtest_count(c.err, "status:");
	syncs0 = file_num(c.err, "syncs ");
	usleep(3500000);
	status1 = logtest_count(c.err, "status:");
	syncs1 = file_num(c.err, "syncs ");
	fprintf(stderr, "test_log_faults: daemon stopped mid-run for 3.5 s: %ld status lines, "
		"%ld syncs\n", status1 - status0, syncs1 - syncs0);
	T_ASSERTF(status1 - status0 >= 2, "status lines %ld -> %ld", status0, status1);
	T_ASSERTF(syncs0 >= 0 && syncs1 - syncs0 >= 5, "syncs %ld -> %ld", syncs0, syncs1);
	kill(d.pid, SIGCONT);
	__atomic_store_n(&p.stop, 1, __ATOMIC_RELEASE);
	pthread_join(th, NULL);
	T_EQ(clp_finish(&c, 60000), 0);
	T_ASSERTF(spool_left(c.err) == 0, "stderr %s", c.err);
	check_out_ex(out1, p.count, 0, &r);
	report("daemon stopped mid-run", &c, &r);
	logsub_stop(&s1, SIGKILL);
	hd_stop(&d);
	logtest_rmdir();
}

/* The dropped count a stream's state records (read by adopting it). */
static uint64_t stream_dropped(const char *gdir)
{
	struct spool sp;
	struct spool_stats st;
	char err[256];

	T_ASSERTF(spool_adopt(&sp, gdir, "logs", 0, 0, 65536, err, sizeof(err)) == 1, "%s", err);
	spool_stats(&sp, &st);
	spool_close(&sp);
	return st.dropped;
}

/* Fills the file system of path with the file path (the last write is
 * short: to the last byte). */
static void fill_disk(const char *path)
{
	char cmd[300];

	snprintf(cmd, sizeof(cmd), "cat /dev/zero > %s 2>/dev/null", path);
	T_ASSERT(system(cmd) != -1);
}

/* The disk of log_kill9_disk_full: room again for every other process,
 * so that the rest of a line lost by the one before must not be stored
 * as a line. */
static char blocker[200];

static void room_or_not(int k)
{
	if (k % 2)
		T_EQ(unlink(blocker), 0);
	else
		fill_disk(blocker);
}

/* kill -9 of chorus-log again and again while the disk is full, so that
 * lines are lost (numbered, counted, their rest skipped), then room
 * again, with lines over the limit (-l 1024) and over any message size
 * among them, so that kills land while the spool starts a new segment to
 * make room and while lines are cut: every line stored is whole or cut
 * with its marker (no rest of a lost line taken for a line), every line
 * comes under its own number (none lost without one), and exactly the
 * lines counted as dropped are missing. */
static void log_kill9_disk_full(void)
{
	struct hd d;
	struct logsub s1;
	struct clp c;
	struct feeder f;
	char mnt[160], gdir[220], state[300];
	const char *args[7] = { "-d", NULL, "-T", "100", "-l", "1024", NULL };
	int fds[2], kills;
	unsigned seed = (unsigned)time(NULL);
	uint64_t dropped;
	long missing = -1, cut;

	logtest_mkdir();
	outs();
	small_tmpfs(mnt, sizeof(mnt));
	args[1] = mnt;
	snprintf(gdir, sizeof(gdir), "%s/logs@node1", mnt);
	T_EQ(pipe2(fds, O_CLOEXEC), 0);
	/* The daemon is away: nothing is acknowledged, so every line missing
	 * at the end was dropped. */
	clp_start_ex(&c, "log0", "1@127.0.0.1", args, fds[0], NULL);
	snprintf(state, sizeof(state), "ls %s/s-*/state >/dev/null 2>&1", gdir);
	for (int i = 0; i < 500 && system(state) != 0; i++)
		usleep(10000);
	/* Then the disk is full. */
	snprintf(blocker, sizeof(blocker), "%s/blocker", mnt);
	fill_disk(blocker);
	std_feeder(&f, fds[1], 12000, seed);
	f.line = ol_line;
	f.line_max = 400002;
	f.write_max = 70000;
	fprintf(stderr, "test_log_faults: kill -9 disk full seed %u\n", seed);
	{
		const struct killrun k = {
			.daemon = "1@127.0.0.1", .args = args, .fd = fds[0],
			.kills = 36, .min_ms = 10, .span_ms = 50,
			.between = room_or_not,
		};

		kills = kill_loop(&c, &k, &f, &seed);
	}
	T_EQ(clp_finish(&c, 20000), 0);
	unlink(blocker);
	dropped = stream_dropped(gdir);
	hd_start(&d, NULL);
	logsub_start(&s1, d.tcp_addr, "logs", out1, "sub1");
	{
		const char *a2[] = { "-d", mnt, "-l", "1024", NULL };

		clp_start(&c, "last", d.tcp_addr, a2);
	}
	T_EQ(clp_finish(&c, 30000), 0);
	T_ASSERTF(spool_left(c.err) == 0, "stderr %s", c.err);
	cut = check_ol_ex(out1, f.count, 1024, 1024 - 64, &missing);
	fprintf(stderr, "test_log_faults: kill -9 x%d with the disk full: %ld of %ld lines "
		"lost, %llu counted as dropped, %ld cut\n", kills, missing, f.count,
		(unsigned long long)dropped, cut);
	T_ASSERT(dropped > 0);
	T_EQ((uint64_t)missing, dropped);
	logsub_stop(&s1, SIGKILL);
	hd_stop(&d);
	T_EQ(umount(mnt), 0);
	logtest_rmdir();
}

/* A spool that holds a whole line longer than any message (written by
 * hand, or by another version): it is sent cut with its marker, and the
 * lines after it follow (the stream never stalls). */
static void log_long_stored_line(void)
{
	static char big[400002];
	static const char *const quick[] = { "-T", "0", NULL };
	struct hd d;
	struct logsub s1;
	struct clp c;
	char cmd[400], seg[300];
	size_t l;
	FILE *fp;
	int fd;

	long nb = 0;

	/* The first line of ol_line() over 150 KB. */
	while (ol_line(nb, big) < 150000)
		nb++;
	logtest_mkdir();
	outs();
	clp_start(&c, "log1", "1@127.0.0.1", quick);
	for (long n = 0; n < nb; n++) {
		l = ol_line(n, big);
		write_all(c.in, big, l);
	}
	T_EQ(clp_finish(&c, 10000), 0);
	/* Line nb: into the segment, by hand. */
	snprintf(cmd, sizeof(cmd), "ls %s/spool/logs@node1/s-*/*.seg | tail -1", logtest_dir);
	fp = popen(cmd, "r");
	T_ASSERT(fp && fgets(seg, sizeof(seg), fp));
	pclose(fp);
	seg[strcspn(seg, "\n")] = 0;
	fd = open(seg, O_WRONLY | O_APPEND);
	T_ASSERT(fd >= 0);
	l = ol_line(nb, big);
	write_all(fd, big, l);
	close(fd);
	hd_start(&d, NULL);
	logsub_start(&s1, d.tcp_addr, "logs", out1, "sub1");
	clp_start(&c, "log2", d.tcp_addr, NULL);
	for (long n = nb + 1; n < nb + 13; n++) {
		l = ol_line(n, big);
		write_all(c.in, big, l);
	}
	T_EQ(clp_finish(&c, 20000), 0);
	T_ASSERTF(spool_left(c.err) == 0, "stderr %s", c.err);
	T_ASSERTF(file_has(c.err, "longer than a message"), "stderr %s", c.err);
	T_ASSERT(check_ol(out1, nb + 13, 65536, 65536 - 64) >= 1);
	logsub_stop(&s1, SIGKILL);
	hd_stop(&d);
	logtest_rmdir();
}

/* ---- options ---- */

/* Bad -s: exit status 2 and a clear message; a host name that does not
 * resolve is another message, and chorus-log runs on (spooling). */
static void log_daemon_address(void)
{
	static const char *const bad[] = { "abc", "4803@", "@host", "99999", "4803x",
					   "4803@host extra-long-name-"
					   "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx" };
	struct clp c;
	int status;

	logtest_mkdir();
	for (size_t i = 0; i < T_COUNT(bad); i++) {
		const char *args[] = { "-", "-g", "logs", "-h", "n", "-d", "/nonexistent",
				       "-s", bad[i], NULL };
		char tag[16];

		snprintf(tag, sizeof(tag), "bad%zu", i);
		clp_start(&c, tag, NULL, args);
		status = clp_finish(&c, 5000);
		T_ASSERTF(WIFEXITED(status) && WEXITSTATUS(status) == 2, "-s %s: status %d",
			  bad[i], status);
		T_ASSERTF(file_has(c.err, "bad daemon address"), "-s %s: %s", bad[i], c.err);
	}
	{
		static const char *const unres[] = { "-T", "100", "-s",
						     "4803@no-such-host.invalid", NULL };

		clp_start(&c, "unresolved", "4803", unres);
		write_lines(c.in, 0, 10, NULL, 0);
		status = clp_finish(&c, 10000);
		T_ASSERTF(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %d", status);
		T_ASSERT(file_has(c.err, "cannot resolve the host name"));
		T_ASSERT(!file_has(c.err, "bad daemon address"));
		T_ASSERT(spool_left(c.err) == 10);
	}
	logtest_rmdir();
}

/* The Unix socket forms: "PORT" (the socket /tmp/PORT, as Spread) and
 * "/path". */
static void log_unix_socket(void)
{
	struct hd d;
	struct logsub s1;
	struct clp c;
	struct logcheck r;
	char port[16];

	logtest_mkdir();
	outs();
	hd_unix_dir = "/tmp";
	hd_start(&d, NULL);
	snprintf(port, sizeof(port), "%u", d.port);
	logsub_start(&s1, d.tcp_addr, "logs", out1, "sub1");
	clp_start(&c, "log1", port, NULL);
	write_lines(c.in, 0, 1000, NULL, 0);
	T_EQ(clp_finish(&c, 20000), 0);
	clp_start(&c, "log2", d.unix_addr, NULL);
	write_lines(c.in, 1000, 2000, NULL, 0);
	T_EQ(clp_finish(&c, 20000), 0);
	T_ASSERTF(spool_left(c.err) == 0, "stderr %s", c.err);
	check_out_ex(out1, 2000, 0, &r);
	logsub_stop(&s1, SIGKILL);
	hd_stop(&d);
	logtest_rmdir();
}

/* -g twice: every line to both groups, each with its own spool. */
/* The stream id of the first record of a subscriber's file, or 0. */
static unsigned long long first_id(const char *path)
{
	FILE *fp = fopen(path, "r");
	unsigned long long id = 0;

	if (fp) {
		if (fscanf(fp, "%16llx", &id) != 1)
			id = 0;
		fclose(fp);
	}
	return id;
}

static void log_two_groups(void)
{
	static const char *const two[] = { "-g", "other", NULL };
	struct hd d;
	struct logsub s1, s2;
	struct clp c;
	struct logcheck r;
	char path[200];
	struct stat st;

	logtest_mkdir();
	outs();
	hd_start(&d, NULL);
	logsub_start(&s1, d.tcp_addr, "logs", out1, "sub1");
	logsub_start(&s2, d.tcp_addr, "other", out2, "sub2");
	clp_start(&c, "log", d.tcp_addr, two);
	write_lines(c.in, 0, 20000, NULL, 0);
	T_EQ(clp_finish(&c, 30000), 0);
	check_out_ex(out1, 20000, 0, &r);
	check_out_ex(out2, 20000, 0, &r);
	/* One spool for both, in the first group's directory, whose stream
	 * names its groups; each group gets it under a stream id of its
	 * own. */
	snprintf(path, sizeof(path), "%s/spool/other@node1", logtest_dir);
	T_ASSERT(stat(path, &st) != 0 && errno == ENOENT);
	{
		char cmd[300];

		snprintf(cmd, sizeof(cmd), "printf 'chorus-log groups 1\\nlogs\\nother\\n' | "
			 "cmp -s - %s/spool/logs@node1/s-*/groups", logtest_dir);
		T_EQ(system(cmd), 0);
	}
	T_ASSERT(first_id(out1) != 0 && first_id(out2) != 0 && first_id(out1) != first_id(out2));
	logsub_stop(&s1, SIGKILL);
	logsub_stop(&s2, SIGKILL);
	hd_stop(&d);
	logtest_rmdir();
}

/* Without -h the node name is the host name; -h takes 255 characters. */
static void log_node_names(void)
{
	struct hd d;
	struct logsub s1;
	struct clp c;
	struct logcheck r;
	char host[256] = "", path[700], spool[160], node[256];
	struct stat st;

	logtest_mkdir();
	outs();
	T_EQ(gethostname(host, sizeof(host)), 0);
	hd_start(&d, NULL);
	logsub_start(&s1, d.tcp_addr, "logs", out1, "sub1");
	snprintf(spool, sizeof(spool), "%s/spool", logtest_dir);
	{
		const char *args[] = { "-", "-g", "logs", "-s", d.tcp_addr, "-d", spool,
				       "-t", "20", NULL };

		clp_start(&c, "log1", NULL, args);
	}
	write_lines(c.in, 0, 500, NULL, 0);
	T_EQ(clp_finish(&c, 20000), 0);
	snprintf(path, sizeof(path), "%s/logs@%s", spool, host);
	T_ASSERTF(stat(path, &st) == 0, "no spool %s", path);
	/* A long node name (the review's 200 '~'): a spool, no error. */
	memset(node, '~', 200);
	node[200] = 0;
	{
		const char *args[] = { "-", "-g", "logs", "-h", node, "-s", d.tcp_addr,
				       "-d", spool, "-t", "20", NULL };

		clp_start(&c, "log2", NULL, args);
	}
	write_lines(c.in, 500, 1000, NULL, 0);
	T_EQ(clp_finish(&c, 20000), 0);
	T_ASSERTF(spool_left(c.err) == 0, "stderr %s", c.err);
	check_out_ex(out1, 1000, 0, &r);
	logsub_stop(&s1, SIGKILL);
	hd_stop(&d);
	logtest_rmdir();
}

/* -i 1: a status line every second, without a signal. */
static void log_status_interval(void)
{
	static const char *const every[] = { "-i", "1", "-T", "100", NULL };
	struct hd d;
	struct clp c;

	logtest_mkdir();
	hd_start(&d, NULL);
	clp_start(&c, "log", d.tcp_addr, every);
	write_lines(c.in, 0, 100, NULL, 0);
	T_ASSERT(wait_file_has(c.err, "status: read 100 lines", 5000));
	T_ASSERT(file_has(c.err, "reconnects 0"));
	T_ASSERT(file_has(c.err, "bytes)"));
	T_EQ(clp_finish(&c, 20000), 0);
	hd_stop(&d);
	logtest_rmdir();
}

/* The subscriber stops answering (SIGSTOP): after --ack-timeout (300 ms
 * here) chorus-log sends again; when it answers, everything is there,
 * once. */
static void log_ack_timeout_resend(void)
{
	struct hd d;
	struct logsub s1;
	struct clp c;
	struct logcheck r;
	int64_t until;
	long timeouts = 0;

	logtest_mkdir();
	outs();
	hd_start(&d, NULL);
	logsub_start(&s1, d.tcp_addr, "logs", out1, "sub1");
	clp_start(&c, "log", d.tcp_addr, NULL);
	T_ASSERT(wait_file_has(c.err, "connected to the daemon", 10000));
	kill(s1.pid, SIGSTOP);
	write_lines(c.in, 0, 2000, NULL, 0);
	until = t_now_ms() + 10000;
	while (timeouts < 2 && t_now_ms() < until) {
		kill(c.pid, SIGUSR1);
		usleep(200000);
		timeouts = file_num(c.err, "timeouts ");
	}
	T_ASSERTF(timeouts >= 2, "timeouts %ld", timeouts);
	kill(s1.pid, SIGCONT);
	T_EQ(clp_finish(&c, 30000), 0);
	T_ASSERT(file_num(c.err, "resent ") > 0);
	check_out_ex(out1, 2000, 0, &r);
	report("acknowledgement timeout", &c, &r);
	logsub_stop(&s1, SIGKILL);
	hd_stop(&d);
	logtest_rmdir();
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/* The default latency bound (200 ms): a line on a quiet server reaches
 * the subscriber within it (plus scheduling slack), measured. */
static void log_default_latency(void)
{
	struct hd d;
	struct logsub s1;
	struct clp c;
	char spool[160];
	int64_t dt[8];

	logtest_mkdir();
	outs();
	hd_start(&d, NULL);
	logsub_start(&s1, d.tcp_addr, "logs", out1, "sub1");
	snprintf(spool, sizeof(spool), "%s/spool", logtest_dir);
	{
		const char *args[] = { "-", "-g", "logs", "-h", "node1", "-s", d.tcp_addr,
				       "-d", spool, NULL };

		clp_start(&c, "log", NULL, args);
	}
	T_ASSERT(wait_file_has(c.err, "connected to the daemon", 10000));
	for (long n = 0; n < 8; n++) {
		int64_t t0 = t_now_ms();

		write_lines(c.in, n, n + 1, NULL, 0);
		T_ASSERT(wait_line(out1, n, 5000));
		dt[n] = t_now_ms() - t0;
	}
	qsort(dt, 8, sizeof(*dt), cmp_i64);
	fprintf(stderr, "test_log_faults: default latency: a line stored %lld..%lld ms "
		"after it was written, median %lld (bound 200 ms)\n", (long long)dt[0],
		(long long)dt[7], (long long)dt[4]);
	/* It waits for the bound (batching): load only ever delays a line,
	 * so no line comes early. And it delivers within a fraction of a
	 * second (the issue's words): a bound not kept delays every line,
	 * while the machine stalling (another process, the sanitizers)
	 * delays only some, so the median is held to it, not the worst. */
	T_ASSERTF(dt[0] >= 150, "best %lld ms", (long long)dt[0]);
	T_ASSERTF(dt[4] < 1000, "median %lld ms (best %lld, worst %lld)", (long long)dt[4],
		  (long long)dt[0], (long long)dt[7]);
	T_EQ(clp_finish(&c, 20000), 0);
	logsub_stop(&s1, SIGKILL);
	hd_stop(&d);
	logtest_rmdir();
}

static const struct t_case cases[] = {
	T_CASE_TIMEOUT(log_kill9_same_pipe, 90),
	T_CASE_TIMEOUT(log_kill9_two_groups, 120),
	T_CASE_TIMEOUT(log_slow_group, 90),
	T_CASE_TIMEOUT(log_two_groups_adopt, 90),
	T_CASE_TIMEOUT(log_group_list_change, 120),
	T_CASE_TIMEOUT(log_kill9_overlong, 120),
	T_CASE_TIMEOUT(log_crash_rollback, 60),
	T_CASE_TIMEOUT(log_late_replica, 90),
	T_CASE_TIMEOUT(log_sub_lost_state, 90),
	T_CASE_TIMEOUT(log_acks2, 90),
	T_CASE_TIMEOUT(log_disk_full, 60),
	T_CASE_TIMEOUT(log_spool_fallback, 60),
	T_CASE_TIMEOUT(log_missing_segment, 60),
	T_CASE_TIMEOUT(log_daemon_hangs, 90),
	T_CASE_TIMEOUT(log_daemon_stopped_midrun, 90),
	T_CASE_TIMEOUT(log_kill9_disk_full, 90),
	T_CASE_TIMEOUT(log_long_stored_line, 60),
	T_CASE(log_daemon_address),
	T_CASE(log_unix_socket),
	T_CASE(log_two_groups),
	T_CASE(log_node_names),
	T_CASE(log_status_interval),
	T_CASE(log_ack_timeout_resend),
	T_CASE(log_default_latency),
};

int main(int argc, char **argv)
{
	return t_main(argc, argv, cases, T_COUNT(cases));
}
