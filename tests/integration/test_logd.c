/*
 * test_logd.c - chorus-logd end to end with real processes: chorus-log
 * processes fed through pipes, a real chorusd on loopback, and real
 * chorus-logd writers (logtest.h). Every case checks the files the
 * writer made against the lines written: every line exactly once, in
 * the order of its stream.
 *
 * Faults: chorus-logd killed with SIGKILL at random moments under a
 * bounded load and restarted; SIGHUP after the file was moved away (as
 * logrotate does) under load; size rotation with gzip under load; chorusd
 * killed and restarted (the writer reconnects and rejoins); two writers
 * with chorus-log --acks 2 writing byte-identical files. Also plain
 * messages, quarantine of bad node names, Match, -n, SIGUSR1 and usage.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "logtest.h"
#include "proto/batch.h"
#include "sp.h"
#include "t.h"

/* logtest.h brings the test subscriber too; this test has the real
 * writer instead. */
static void keep_logsub(void) __attribute__((unused));
static void keep_logsub(void)
{
	struct logsub s;

	logsub_start(&s, "", "", "", "");
	logsub_spawn(&s, "", "", "", "");
	logsub_stop(&s, 0);
}

/* Starts chorus-log for group "logs" as node `node`, with its own spool
 * and extra options (NULL-ended); stderr to <dir>/<tag>.err. */
static void lclp_start(struct clp *c, const char *tag, const char *node,
		       const char *daemon, const char *const *extra)
{
	const char *argv[40];
	char spool[128];
	int n = 0;

	snprintf(spool, sizeof(spool), "%s/spool-%s", logtest_dir, node);
	argv[n++] = "-";
	argv[n++] = "-g";
	argv[n++] = "logs";
	argv[n++] = "-h";
	argv[n++] = node;
	argv[n++] = "-s";
	argv[n++] = daemon;
	argv[n++] = "-d";
	argv[n++] = spool;
	argv[n++] = "-t";
	argv[n++] = "20";
	argv[n++] = "--ack-timeout";
	argv[n++] = "300";
	argv[n++] = "-T";
	argv[n++] = "30000";
	argv[n++] = "-i";
	argv[n++] = "0";
	for (; extra && *extra && n < 39; extra++)
		argv[n++] = *extra;
	argv[n] = NULL;
	clp_start(c, tag, daemon, argv);
}

/* Checks the concatenation of the files (a shell glob or list, in order)
 * for lines 0..count-1: each exactly once and in order; `step` > 1
 * expects only lines n with n % 10 == 7 (the 404s, for Match). */
static void check_files(const char *files, long count, int only404)
{
	char cmd[1024];
	FILE *fp;
	char *line = NULL;
	size_t cap = 0;
	long want = only404 ? 7 : 0, got = 0;

	snprintf(cmd, sizeof(cmd), "cat %s", files);
	fp = popen(cmd, "r");
	T_ASSERT(fp != NULL);
	while (getline(&line, &cap, fp) > 0) {
		char *req = strstr(line, "GET /req/");
		long n;

		T_ASSERTF(req != NULL, "unexpected line: %s", line);
		T_ASSERTF(strncmp(line, "127.0.0.1 - - [01/Jan/2025", 26) == 0,
			  "line not as sent: %s", line);
		n = strtol(req + 9, NULL, 10);
		T_ASSERTF(n == want, "line %ld where %ld was expected (%ld lines in order "
			  "before it) in %s", n, want, got, files);
		want += only404 ? 10 : 1;
		got++;
	}
	free(line);
	pclose(fp);
	T_ASSERTF(want >= count, "%ld lines of %ld in %s", got, count, files);
}

static char logfile[256];

static const char *node_log(const char *node)
{
	snprintf(logfile, sizeof(logfile), "%s/logs/logs/%s.log", logtest_dir, node);
	return logfile;
}

/* 20000 lines: one file, each line once, in order; SIGUSR1 counts them;
 * SIGTERM ends the writer cleanly. */
static void logd_basic(void)
{
	struct hd d;
	struct logdp w;
	struct clp c;
	char st[64];

	logtest_mkdir();
	hd_start(&d, NULL);
	logdp_start(&w, d.tcp_addr, "logs", logtest_dir, "w1");
	lclp_start(&c, "log", "node1", d.tcp_addr, NULL);
	write_lines(c.in, 0, 20000, NULL, 0);
	T_EQ(clp_finish(&c, 30000), 0);
	T_ASSERTF(spool_left(c.err) == 0, "stderr %s", c.err);
	check_files(node_log("node1"), 20000, 0);
	kill(w.pid, SIGUSR1);
	snprintf(st, sizeof(st), "status logs: lines 20000, bytes ");
	T_ASSERTF(wait_file_has(w.err, st, 5000), "no status in %s", w.err);
	/* A batch whose acknowledgement came after chorus-log's timeout is
	 * sent again and dropped here: no more duplicates than resent lines. */
	T_ASSERT(file_has(w.err, ", filtered 0, quarantined 0"));
	T_ASSERTF(file_num(w.err, "duplicates dropped ") >= 0 &&
		  file_num(w.err, "duplicates dropped ") <= file_num(c.err, "resent "),
		  "duplicates dropped %ld, resent %ld", file_num(w.err, "duplicates dropped "),
		  file_num(c.err, "resent "));
	T_ASSERT(file_has(w.err, "fsync latency ms last"));
	logdp_stop(&w, SIGTERM);
	hd_stop(&d);
	logtest_rmdir();
}

/* Group commit: with Fsync = 60000ms the writer still commits (with an
 * fdatasync) as soon as a stream has CommitSize bytes waiting or the
 * input pauses, so 60000 lines (~12 MB, three times chorus-log's window
 * of 4 MiB, so it needs at least three acknowledgements) are written
 * and acknowledged long before the first interval ends. */
static void logd_group_commit(void)
{
	struct hd d;
	struct logdp w;
	struct clp c;
	long commits, fsyncs;

	logtest_mkdir();
	hd_start(&d, NULL);
	logdp_start_ex(&w, d.tcp_addr, "logs", logtest_dir, "w1", NULL,
		       "Fsync = 60000ms\nCommitSize = 256K", NULL);
	lclp_start(&c, "log", "node1", d.tcp_addr, NULL);
	write_lines(c.in, 0, 60000, NULL, 0);
	/* Within 30 s: half the interval. */
	T_EQ(clp_finish(&c, 30000), 0);
	T_ASSERTF(spool_left(c.err) == 0, "left in the spool: %ld (stderr %s)",
		  spool_left(c.err), c.err);
	check_files(node_log("node1"), 60000, 0);
	kill(w.pid, SIGUSR1);
	T_ASSERTF(wait_file_has(w.err, "status logs: lines 60000, bytes ", 5000),
		  "no status in %s", w.err);
	T_ASSERT(wait_file_has(w.err, "status: commits ", 5000));
	commits = file_num(w.err, "status: commits ");
	fsyncs = file_num(w.err, ", fsyncs ");
	/* Every commit with this policy fdatasyncs. */
	T_ASSERTF(commits >= 3 && fsyncs == commits, "commits %ld, fsyncs %ld", commits,
		  fsyncs);
	logdp_stop(&w, SIGTERM);
	hd_stop(&d);
	logtest_rmdir();
}

static struct logdp *fault_w;
static struct hd *fault_d;

#define K9_NODES 3
#define K9_LINES 45000
#define K9_CHUNK 1500
#define K9_LOG "\t\tRotateSize = 1M\n\t\tCompress = zstd"
/* Commits by the interval only (no group commit), so that the kills find
 * uncommitted lines in the files: with early commits the writer commits
 * whenever its input pauses, and most kills would land between commits
 * that left nothing to cut. logd_kill9_group runs the same with them. */
#define K9_GLOBAL "Fsync = 250ms\nCommitSize = 0"
#define K9_GLOBAL_GROUP "Fsync = 250ms\nCommitSize = 64K"

/* Node n's files in reading order (rotated .N by number, decompressed
 * if compressed, then the current one) into out. */
static void k9_gather(int node, const char *out)
{
	char cmd[2400], base[300];

	snprintf(base, sizeof(base), "%s/logs/logs/node%d.log", logtest_dir, node);
	/* A rotated file whose compression is still queued is there
	 * uncompressed. */
	snprintf(cmd, sizeof(cmd), "for i in $(ls %s.* 2>/dev/null | sed -n "
		 "'s/.*\\.log\\.\\([0-9]*\\)\\(\\.zst\\)\\{0,1\\}$/\\1/p' | sort -nu); do "
		 "if [ -e %s.$i.zst ]; then zstd -dcq %s.$i.zst; else cat %s.$i; fi; "
		 "done > %s && { [ ! -e %s ] || cat %s >> %s; }", base, base, base, base, out, base,
		 base, out);
	T_EQ(system(cmd), 0);
}

/* The number a shell command prints. */
static long shell_num(const char *cmd)
{
	FILE *fp = popen(cmd, "r");
	long n = -1;

	T_ASSERT(fp != NULL);
	T_EQ(fscanf(fp, "%ld", &n), 1);
	pclose(fp);
	return n;
}

/* The rotated files ("<node>.log.N") not compressed, and unfinished
 * compressions (".part"). */
static long k9_uncompressed(void)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "ls %s/logs/logs | grep -cE '\\.log\\.[0-9]+$|\\.part$'",
		 logtest_dir);
	return shell_num(cmd);
}

/* kill -9 of the writer at short random moments while three chorus-log
 * processes send, with size rotation, zstd compression and SIGHUPs before
 * some of the kills; each time restarted. Every line of every node
 * exactly once and in order, across the rotated files; and, if
 * want_cuts, the kills must have hit the writer at work: some recoveries
 * cut an unacknowledged tail. Bounded: 3 x 45000 lines. */
static void k9_run(const char *name, const char *global, int want_cuts)
{
	struct hd d;
	struct logdp w;
	struct clp c[K9_NODES];
	long kills = 0, hups = 0, cuts, renames, rezips;
	int64_t t0 = t_now_ms();
	unsigned seed = (unsigned)time(NULL);

	srand(seed);
	logtest_mkdir();
	hd_start(&d, NULL);
	logdp_start_ex(&w, d.tcp_addr, "logs", logtest_dir, "w1", NULL, global, K9_LOG);
	for (int i = 0; i < K9_NODES; i++) {
		char tag[16], node[16];

		snprintf(tag, sizeof(tag), "log%d", i);
		snprintf(node, sizeof(node), "node%d", i);
		lclp_start(&c[i], tag, node, d.tcp_addr, NULL);
	}
	/* Uncommitted bytes reach a file only when its 256 KiB buffer fills
	 * between two commits (or in the moment of a commit's fdatasync):
	 * commits every 250 ms, chunks of 1500 lines (300 KB) per node, and
	 * a kill at a random moment of the next 330 ms, while the writer
	 * takes them in. */
	for (long k = 0; k < K9_LINES; k += K9_CHUNK) {
		struct timespec nap = { 0, (long)(30 + rand() % 300) * 1000000L };

		for (int i = 0; i < K9_NODES; i++)
			write_lines(c[i].in, k, k + K9_CHUNK, NULL, 0);
		if (rand() % 5 == 0)
			continue;
		if (rand() % 3 == 0) {
			kill(w.pid, SIGHUP);
			hups++;
		}
		nanosleep(&nap, NULL);
		logdp_stop(&w, SIGKILL);
		kills++;
		logdp_start_ex(&w, d.tcp_addr, "logs", logtest_dir, "w1", NULL, global, K9_LOG);
	}
	for (int i = 0; i < K9_NODES; i++) {
		T_EQ(clp_finish(&c[i], 60000), 0);
		T_ASSERTF(spool_left(c[i].err) == 0, "stderr %s", c[i].err);
	}
	/* Every rotated file gets compressed, whatever moment the kills hit
	 * (the compression is queued in the record of the rename): wait for
	 * the last ones (bounded), then stop cleanly and look. */
	for (int64_t until = t_now_ms() + 30000;
	     k9_uncompressed() > 0 && t_now_ms() < until;)
		usleep(100000);
	logdp_stop(&w, SIGTERM);
	T_ASSERTF(k9_uncompressed() == 0, "%ld rotated files left uncompressed",
		  k9_uncompressed());
	for (int i = 0; i < K9_NODES; i++) {
		char all[200];

		snprintf(all, sizeof(all), "%s/all%d.log", logtest_dir, i);
		k9_gather(i, all);
		check_files(all, K9_LINES, 0);
	}
	cuts = logtest_count(w.err, "unacknowledged bytes");
	renames = logtest_count(w.err, "recovery: finished renaming");
	rezips = logtest_count(w.err, "recovery: compressing");
	fprintf(stderr, "test_logd: writer SIGKILL, %s (seed %u): %ld kills, %ld SIGHUPs, %d nodes x "
		"%d lines = %d lines checked, 0 lost, 0 duplicated; recoveries: %ld cut an "
		"unacknowledged tail, %ld finished a rename, %ld compressed again; %lld ms\n",
		name, seed, kills, hups, K9_NODES, K9_LINES, K9_NODES * K9_LINES, cuts, renames, rezips,
		(long long)(t_now_ms() - t0));
	T_ASSERTF(kills >= 8, "only %ld kills", kills);
	T_ASSERTF(!want_cuts || cuts >= 1, "no recovery cut a tail in %ld kills: the kills missed the writer "
		  "at work", kills);
	hd_stop(&d);
	logtest_rmdir();
}

static void logd_kill9(void)
{
	k9_run("commits by the interval", K9_GLOBAL, 1);
}

/* The same with group commit: the kills land between commits as the
 * writer's input pauses; every line still once. */
static void logd_kill9_group(void)
{
	k9_run("group commit", K9_GLOBAL_GROUP, 0);
}

static void hup_hook(long n)
{
	char a[300], b[320];

	if (n != 10000)
		return;
	/* What logrotate does: move the file, then SIGHUP. */
	snprintf(a, sizeof(a), "%s", node_log("node1"));
	snprintf(b, sizeof(b), "%s.moved", a);
	T_ASSERTF(wait_file_has(a, "GET /req/", 10000), "nothing in %s yet", a);
	T_EQ(rename(a, b), 0);
	kill(fault_w->pid, SIGHUP);
}

/* SIGHUP during load after the file was moved: the moved file and the
 * new one together hold every line once, in order. */
static void logd_sighup(void)
{
	struct hd d;
	struct logdp w;
	struct clp c;
	char files[600];

	logtest_mkdir();
	hd_start(&d, NULL);
	logdp_start(&w, d.tcp_addr, "logs", logtest_dir, "w1");
	fault_w = &w;
	lclp_start(&c, "log", "node1", d.tcp_addr, NULL);
	write_lines(c.in, 0, 30000, hup_hook, 1000);
	T_EQ(clp_finish(&c, 30000), 0);
	T_ASSERT(wait_file_has(w.err, "SIGHUP: reopening every file", 5000));
	snprintf(files, sizeof(files), "%s.moved %s", node_log("node1"), node_log("node1"));
	check_files(files, 30000, 0);
	logdp_stop(&w, SIGTERM);
	hd_stop(&d);
	logtest_rmdir();
}

/* Size rotation with gzip under load: the rotated files (decompressed,
 * in order) and the current one hold every line once, in order. */
static void logd_size_rotation(void)
{
	struct hd d;
	struct logdp w;
	struct clp c;
	char cmd[2048], all[300];
	int64_t until;
	long rotated;
	FILE *fp;

	logtest_mkdir();
	hd_start(&d, NULL);
	logdp_start_ex(&w, d.tcp_addr, "logs", logtest_dir, "w1", NULL, NULL,
		       "\t\tRotateSize = 256K\n\t\tCompress = gzip");
	lclp_start(&c, "log", "node1", d.tcp_addr, NULL);
	write_lines(c.in, 0, 30000, NULL, 0);
	T_EQ(clp_finish(&c, 30000), 0);
	/* Wait for the compressions to finish. */
	until = t_now_ms() + 20000;
	do {
		snprintf(cmd, sizeof(cmd), "ls %s.* 2>/dev/null | grep -vc '\\.gz$'",
			 node_log("node1"));
		fp = popen(cmd, "r");
		rotated = -1;
		if (fp && fscanf(fp, "%ld", &rotated) != 1)
			rotated = -1;
		if (fp)
			pclose(fp);
		if (rotated == 0)
			break;
		usleep(50000);
	} while (t_now_ms() < until);
	T_EQ(rotated, 0);
	snprintf(all, sizeof(all), "%s/all.log", logtest_dir);
	snprintf(cmd, sizeof(cmd), "for i in $(ls %s.*.gz | sed 's/.*\\.log\\.\\([0-9]*\\)\\.gz/\\1/' "
		 "| sort -n); do gzip -dc %s.$i.gz; done > %s && { [ ! -e %s ] || cat %s >> %s; }",
		 node_log("node1"), node_log("node1"), all, node_log("node1"), node_log("node1"),
		 all);
	T_EQ(system(cmd), 0);
	check_files(all, 30000, 0);
	snprintf(cmd, sizeof(cmd), "ls %s.*.gz | wc -l", node_log("node1"));
	fp = popen(cmd, "r");
	T_ASSERT(fp && fscanf(fp, "%ld", &rotated) == 1);
	pclose(fp);
	T_ASSERTF(rotated >= 10, "only %ld rotations", rotated);
	fprintf(stderr, "test_logd: size rotation: 30000 lines, %ld rotated files, each line "
		"once\n", rotated);
	logdp_stop(&w, SIGTERM);
	hd_stop(&d);
	logtest_rmdir();
}

static void slow_hook(long n)
{
	struct timespec nap = { 0, 250 * 1000000L };

	(void)n;
	nanosleep(&nap, NULL);
}

/* Rotation by time: a pattern with seconds makes a new file every
 * second under a load of a few seconds; each closed file is compressed in
 * the background; the files in name order hold every line once, in
 * order. */
static void logd_time_rotation(void)
{
	struct hd d;
	struct logdp w;
	struct clp c;
	char pat[200], cmd[1200], all[200];
	long plain = -1, zipped = 0;
	int64_t until;
	FILE *fp;

	logtest_mkdir();
	hd_start(&d, NULL);
	snprintf(pat, sizeof(pat), "%s/t/%%n-%%Y%%m%%d%%H%%M%%S.log", logtest_dir);
	logdp_start_ex(&w, d.tcp_addr, "logs", logtest_dir, "w1", pat, NULL, "\t\tCompress = gzip");
	lclp_start(&c, "log", "node1", d.tcp_addr, NULL);
	write_lines(c.in, 0, 12000, slow_hook, 1000);
	T_EQ(clp_finish(&c, 30000), 0);
	until = t_now_ms() + 20000;
	snprintf(cmd, sizeof(cmd), "ls %s/t | grep -vc '\\.gz$'", logtest_dir);
	do {
		fp = popen(cmd, "r");
		if (fp && fscanf(fp, "%ld", &plain) != 1)
			plain = -1;
		if (fp)
			pclose(fp);
		if (plain == 1)
			break;
		usleep(50000);
	} while (t_now_ms() < until);
	T_EQ(plain, 1);
	snprintf(all, sizeof(all), "%s/all.log", logtest_dir);
	snprintf(cmd, sizeof(cmd), "cd %s/t && for f in $(ls | sort); do case $f in "
		 "*.gz) gzip -dc $f;; *) cat $f;; esac; done > %s", logtest_dir, all);
	T_EQ(system(cmd), 0);
	check_files(all, 12000, 0);
	snprintf(cmd, sizeof(cmd), "ls %s/t | grep -c '\\.gz$'", logtest_dir);
	fp = popen(cmd, "r");
	T_ASSERT(fp && fscanf(fp, "%ld", &zipped) == 1);
	pclose(fp);
	T_ASSERTF(zipped >= 2, "only %ld files rotated by time", zipped);
	T_ASSERT(file_has(w.err, "rotated by time: closed"));
	logdp_stop(&w, SIGTERM);
	hd_stop(&d);
	logtest_rmdir();
}

/* The uncompressed files in dir t (name order) into out, one per line;
 * returns how many. */
static int plain_files(char *out, size_t cap)
{
	char cmd[300];
	FILE *fp;
	size_t o = 0;
	int n = 0;
	char line[400];

	snprintf(cmd, sizeof(cmd), "ls %s/t | grep -v '\\.gz$' | sort", logtest_dir);
	fp = popen(cmd, "r");
	T_ASSERT(fp != NULL);
	out[0] = 0;
	while (fgets(line, sizeof(line), fp)) {
		o += (size_t)snprintf(out + o, o < cap ? cap - o : 0, "%s", line);
		n++;
	}
	pclose(fp);
	return n;
}

/* Waits until no uncompressed file of dir t is named name (a line of
 * plain_files()); returns 1 if so. */
static int wait_compressed(const char *name, int ms)
{
	int64_t until = t_now_ms() + ms;
	char list[4096];

	do {
		plain_files(list, sizeof(list));
		if (!strstr(list, name))
			return 1;
		usleep(50000);
	} while (t_now_ms() < until);
	return 0;
}

/* Sends lines [from, to) through a new chorus-log and waits until every
 * one is acknowledged. */
static void send_all(struct hd *d, const char *tag, long from, long to)
{
	struct clp c;

	lclp_start(&c, tag, "node1", d->tcp_addr, NULL);
	write_lines(c.in, from, to, NULL, 0);
	T_EQ(clp_finish(&c, 30000), 0);
	T_ASSERTF(spool_left(c.err) == 0, "stderr %s", c.err);
}

/* Time rotation across a restart and a SIGHUP: the file that was
 * current when the writer stopped (or was told to reopen) is compressed
 * once a batch of a later period comes, and every line is in the files
 * once, in order. */
static void logd_time_restart(void)
{
	struct hd d;
	struct logdp w;
	char pat[200], cmd[600], all[200], first[4096], second[4096];

	logtest_mkdir();
	hd_start(&d, NULL);
	snprintf(pat, sizeof(pat), "%s/t/%%n-%%Y%%m%%d%%H%%M%%S.log", logtest_dir);
	logdp_start_ex(&w, d.tcp_addr, "logs", logtest_dir, "w1", pat, NULL,
		       "\t\tCompress = gzip");
	send_all(&d, "log1", 0, 500);
	/* Wait for the compressions of the files closed during the run:
	 * only the current file stays. */
	{
		int64_t until = t_now_ms() + 10000;

		while (plain_files(first, sizeof(first)) != 1 && t_now_ms() < until)
			usleep(50000);
	}
	T_EQ(plain_files(first, sizeof(first)), 1);
	logdp_stop(&w, SIGTERM);
	usleep(1100000);
	logdp_start_ex(&w, d.tcp_addr, "logs", logtest_dir, "w1", pat, NULL,
		       "\t\tCompress = gzip");
	send_all(&d, "log2", 500, 1000);
	/* The file current at the stop is compressed after the restart. */
	T_ASSERTF(wait_compressed(first, 10000), "%s is still uncompressed after a restart",
		  first);
	{
		int64_t until = t_now_ms() + 10000;

		while (plain_files(second, sizeof(second)) != 1 && t_now_ms() < until)
			usleep(50000);
	}
	T_EQ(plain_files(second, sizeof(second)), 1);
	/* SIGHUP closes it; the next period's batch compresses it. */
	kill(w.pid, SIGHUP);
	T_ASSERT(wait_file_has(w.err, "SIGHUP: reopening every file", 5000));
	usleep(1100000);
	send_all(&d, "log3", 1000, 1500);
	T_ASSERTF(wait_compressed(second, 10000), "%s is still uncompressed after SIGHUP",
		  second);
	logdp_stop(&w, SIGTERM);
	snprintf(all, sizeof(all), "%s/all.log", logtest_dir);
	snprintf(cmd, sizeof(cmd), "cd %s/t && for f in $(ls | sort); do case $f in "
		 "*.gz) gzip -dc $f;; *) cat $f;; esac; done > %s", logtest_dir, all);
	T_EQ(system(cmd), 0);
	check_files(all, 1500, 0);
	hd_stop(&d);
	logtest_rmdir();
}

/* Every file under dir a and under dir b, by name, decompressed: the
 * same names (endings .gz and .zst aside) and the same bytes. Returns
 * the number of files compared, or fails. */
static long same_tree(const char *a, const char *b)
{
	char path[200], cmd[300];
	FILE *fp;
	long n = -1;

	snprintf(path, sizeof(path), "%s/same.sh", logtest_dir);
	fp = fopen(path, "w");
	T_ASSERT(fp != NULL);
	fprintf(fp,
		"names() { cd \"$1\" && find . -type f ! -name '*.part' | "
		"sed 's/\\.\\(gz\\|zst\\)$//' | sort; }\n"
		"un() { if [ -e \"$1.gz\" ]; then gzip -dc \"$1.gz\"; elif [ -e \"$1.zst\" ]; "
		"then zstd -dcq \"$1.zst\"; else cat \"$1\"; fi; }\n"
		"la=$(names %s) && lb=$(names %s) || exit 1\n"
		"[ \"$la\" = \"$lb\" ] || { echo \"file names differ\" >&2; diff <(echo \"$la\") "
		"<(echo \"$lb\") >&2; exit 1; }\n"
		"k=0\nfor f in $la; do\n"
		"  cmp -s <(cd %s && un $f) <(cd %s && un $f) || { echo \"$f differs\" >&2; exit 1; }\n"
		"  k=$((k+1))\ndone\necho $k\n", a, b, a, b);
	fclose(fp);
	snprintf(cmd, sizeof(cmd), "bash %s", path);
	fp = popen(cmd, "r");
	T_ASSERT(fp != NULL);
	if (fscanf(fp, "%ld", &n) != 1)
		n = -1;
	T_ASSERTF(pclose(fp) == 0 && n > 0, "%s and %s differ (see the test log)", a, b);
	return n;
}

/* Two writers on the group, chorus-log --acks 2, one of them killed
 * with SIGKILL four times: the same bytes per node. */
static void logd_replicas(void)
{
	static const char *const acks2[] = { "--acks", "2", NULL };
	struct hd d;
	struct logdp w1, w2;
	struct clp a, b;
	char dir2[128], f1[300], f2[300], cmd[1024];

	logtest_mkdir();
	snprintf(dir2, sizeof(dir2), "%s/second", logtest_dir);
	hd_start(&d, NULL);
	logdp_start(&w1, d.tcp_addr, "logs", logtest_dir, "w1");
	logdp_start(&w2, d.tcp_addr, "logs", dir2, "w2");
	lclp_start(&a, "loga", "node1", d.tcp_addr, acks2);
	lclp_start(&b, "logb", "node2", d.tcp_addr, acks2);
	/* The second replica is killed now and then and restarted: it gets
	 * the lines again in other batches, and still has per node (one
	 * stream each) the same bytes. */
	for (long k = 0; k < 20000; k += 1000) {
		write_lines(a.in, k, k + 1000, NULL, 0);
		write_lines(b.in, k, k + 1000, NULL, 0);
		if (k % 4000 == 2000) {
			usleep((useconds_t)(rand() % 200) * 1000);
			logdp_stop(&w2, SIGKILL);
			logdp_start(&w2, d.tcp_addr, "logs", dir2, "w2");
		}
	}
	T_EQ(clp_finish(&a, 30000), 0);
	T_EQ(clp_finish(&b, 30000), 0);
	T_ASSERTF(spool_left(a.err) == 0, "stderr %s", a.err);
	T_ASSERTF(spool_left(b.err) == 0, "stderr %s", b.err);
	for (int n = 1; n <= 2; n++) {
		char node[8];

		snprintf(node, sizeof(node), "node%d", n);
		snprintf(f1, sizeof(f1), "%s", node_log(node));
		snprintf(f2, sizeof(f2), "%s/logs/logs/%s.log", dir2, node);
		check_files(f1, 20000, 0);
		snprintf(cmd, sizeof(cmd), "cmp %s %s >&2", f1, f2);
		T_ASSERTF(system(cmd) == 0, "%s and %s differ", f1, f2);
	}
	/* With one writer left, --acks 2 keeps the lines in the spool even
	 * though that writer has them. */
	logdp_stop(&w2, SIGTERM);
	{
		static const char *const quick[] = { "--acks", "2", "-T", "1500", NULL };

		lclp_start(&a, "logc", "node1", d.tcp_addr, quick);
		write_lines(a.in, 20000, 21000, NULL, 0);
		T_EQ(clp_finish(&a, 30000), 0);
		T_ASSERTF(spool_left(a.err) == 1000, "stderr %s", a.err);
		T_ASSERT(file_has(node_log("node1"), "GET /req/20999 "));
	}
	logdp_stop(&w1, SIGTERM);
	hd_stop(&d);
	logtest_rmdir();
}

/* Two writers without faults, with time rotation (a file a second), size
 * rotation and gzip: the same files, by name and content. */
static void logd_replicas_rotation(void)
{
	static const char *const acks2[] = { "--acks", "2", NULL };
	static const char opts[] = "\t\tRotateSize = 16K\n\t\tCompress = gzip";
	struct hd d;
	struct logdp w1, w2;
	struct clp a, b;
	char dir2[128], p1[200], p2[200], t1[160], t2[160];
	long files;

	logtest_mkdir();
	snprintf(dir2, sizeof(dir2), "%s/second", logtest_dir);
	snprintf(t1, sizeof(t1), "%s/r", logtest_dir);
	snprintf(t2, sizeof(t2), "%s/r", dir2);
	snprintf(p1, sizeof(p1), "%s/%%n/%%H%%M%%S.log", t1);
	snprintf(p2, sizeof(p2), "%s/%%n/%%H%%M%%S.log", t2);
	hd_start(&d, NULL);
	logdp_start_ex(&w1, d.tcp_addr, "logs", logtest_dir, "w1", p1, NULL, opts);
	logdp_start_ex(&w2, d.tcp_addr, "logs", dir2, "w2", p2, NULL, opts);
	lclp_start(&a, "loga", "node1", d.tcp_addr, acks2);
	lclp_start(&b, "logb", "node2", d.tcp_addr, acks2);
	for (long k = 0; k < 6000; k += 500) {
		write_lines(a.in, k, k + 500, NULL, 0);
		write_lines(b.in, k, k + 500, NULL, 0);
		usleep(300000);
	}
	T_EQ(clp_finish(&a, 30000), 0);
	T_EQ(clp_finish(&b, 30000), 0);
	/* Stopping commits and leaves queued compressions queued: the same
	 * names either way (compared without the .gz). */
	logdp_stop(&w1, SIGTERM);
	logdp_stop(&w2, SIGTERM);
	files = same_tree(t1, t2);
	fprintf(stderr, "test_logd: replicas with rotation: %ld files, the same in both\n",
		files);
	T_ASSERTF(files >= 6, "only %ld files", files);
	hd_stop(&d);
	logtest_rmdir();
}

static void daemon_kill_hook(long n)
{
	if (n != 15000)
		return;
	hd_kill9(fault_d);
	usleep(300000);
	hd_restart(fault_d);
}

/* chorusd killed and restarted under load: the writer logs the loss,
 * reconnects with backoff, rejoins, and every line arrives once. */
static void logd_reconnect(void)
{
	struct hd d;
	struct logdp w;
	struct clp c;

	logtest_mkdir();
	hd_start(&d, NULL);
	logdp_start_ex(&w, d.tcp_addr, "logs", logtest_dir, "w1", NULL, "StatusInterval = 1", NULL);
	fault_d = &d;
	lclp_start(&c, "log", "node1", d.tcp_addr, NULL);
	write_lines(c.in, 0, 30000, daemon_kill_hook, 1000);
	T_EQ(clp_finish(&c, 60000), 0);
	T_ASSERTF(spool_left(c.err) == 0, "stderr %s", c.err);
	check_files(node_log("node1"), 30000, 0);
	T_ASSERT(file_has(w.err, "lost the daemon"));
	T_EQ(logtest_count(w.err, "connected to the daemon"), 2);
	T_EQ(logtest_count(w.err, "joined logs on"), 2);
	/* The periodic status line, without SIGUSR1. */
	T_ASSERT(wait_file_has(w.err, "status: commits ", 3000));
	logdp_stop(&w, SIGTERM);
	hd_stop(&d);
	logtest_rmdir();
}

/* Plain messages (chorus-log --plain, as for spreadlogd) are written per
 * node like batches, and counted apart; a node name that is not a safe
 * file name goes to the quarantine file, whole and counted; Match keeps
 * only the matching lines. */
static void logd_plain_quarantine_match(void)
{
	static const char *const plain[] = { "--plain", NULL };
	struct hd d;
	struct logdp w, w2;
	struct clp c;
	char q[300], dir2[128], f[300];

	logtest_mkdir();
	snprintf(dir2, sizeof(dir2), "%s/match", logtest_dir);
	hd_start(&d, NULL);
	logdp_start(&w, d.tcp_addr, "logs", logtest_dir, "w1");
	logdp_start_ex(&w2, d.tcp_addr, "logs", dir2, "w2", NULL, NULL,
		       "\t\tMatch = '\" 404 '");
	lclp_start(&c, "log", "node3", d.tcp_addr, plain);
	write_lines(c.in, 0, 2000, NULL, 0);
	T_EQ(clp_finish(&c, 30000), 0);
	lclp_start(&c, "log2", ".hidden", d.tcp_addr, NULL);
	write_lines(c.in, 0, 100, NULL, 0);
	T_EQ(clp_finish(&c, 30000), 0);
	T_ASSERT(wait_file_has(node_log("node3"), "GET /req/1999 ", 10000));
	check_files(node_log("node3"), 2000, 0);
	snprintf(f, sizeof(f), "%s/logs/logs/node3.log", dir2);
	T_ASSERT(wait_file_has(f, "GET /req/1997 ", 10000));
	check_files(f, 2000, 1);
	snprintf(q, sizeof(q), "%s/quarantine-logs.log", logtest_dir);
	T_ASSERT(wait_file_has(q, ".hidden 127.0.0.1 - - [01/Jan/2025:00:00:00 +0000] "
			       "\"GET /req/99 ", 10000));
	T_EQ(logtest_count(q, ".hidden 127.0.0.1"), 100);
	kill(w.pid, SIGUSR1);
	T_ASSERTF(wait_file_has(w.err, "plain lines 2000, plain bytes ", 5000), "%s", w.err);
	T_ASSERT(file_has(w.err, "status logs: lines 100, "));
	T_ASSERT(file_has(w.err, "quarantined 100"));
	kill(w2.pid, SIGUSR1);
	T_ASSERTF(wait_file_has(w2.err, "filtered 1890", 5000), "%s", w2.err);
	logdp_stop(&w, SIGTERM);
	logdp_stop(&w2, SIGTERM);
	hd_stop(&d);
	logtest_rmdir();
}

/* -n prints the configuration in canonical form; printing that again
 * gives the same text; a bad file is an error with its line. */
static void logd_check_config(void)
{
	char conf[128], conf2[128], cmd[600];

	logtest_mkdir();
	snprintf(conf, sizeof(conf), "%s/a.conf", logtest_dir);
	snprintf(conf2, sizeof(conf2), "%s/b.conf", logtest_dir);
	snprintf(cmd, sizeof(cmd), "%s -n -c etc/chorus-logd.conf > %s 2>%s/err",
		 logtest_build_path("chorus-logd"), conf, logtest_dir);
	T_EQ(system(cmd), 0);
	snprintf(cmd, sizeof(cmd), "%s -n -c %s > %s && cmp %s %s",
		 logtest_build_path("chorus-logd"), conf, conf2, conf, conf2);
	T_EQ(system(cmd), 0);
	T_ASSERT(file_has(conf, "Fsync = 100ms"));
	snprintf(cmd, sizeof(cmd), "printf 'Spread {\\n Log { Group = g }\\n}\\n' > %s; "
		 "%s -n -c %s 2> %s/err2", conf, logtest_build_path("chorus-logd"), conf, logtest_dir);
	T_EQ(WEXITSTATUS(system(cmd)), 1);
	snprintf(conf2, sizeof(conf2), "%s/err2", logtest_dir);
	T_ASSERT(file_has(conf2, "line 2: Log block for g without File or VhostDir"));
	snprintf(cmd, sizeof(cmd), "%s -x 2>/dev/null", logtest_build_path("chorus-logd"));
	T_EQ(WEXITSTATUS(system(cmd)), 2);
	logtest_rmdir();
}

/* The usage text is the synopsis of chorus-logd(8), word for word. */
static void logd_usage_matches_man(void)
{
	char cmd[1024], a[1024] = "", b[1024] = "";
	FILE *fp;

	if (system("command -v man >/dev/null 2>&1") != 0)
		t_skip("man is not installed");
	snprintf(cmd, sizeof(cmd), "%s --help | sed 's/^usage: //' | tr -s ' \n' '  '",
		 logtest_build_path("chorus-logd"));
	fp = popen(cmd, "r");
	T_ASSERT(fp && fgets(a, sizeof(a), fp));
	pclose(fp);
	fp = popen("MANWIDTH=200 man -l man/chorus-logd.8 2>/dev/null | "
		   "sed -n '/^SYNOPSIS/,/^DESCRIPTION/p' | sed '1d;$d' | "
		   "tr -s ' \n' '  '", "r");
	T_ASSERT(fp && fgets(b, sizeof(b), fp));
	pclose(fp);
	T_STREQ(a[0] == ' ' ? a + 1 : a, b[0] == ' ' ? b + 1 : b);
}

/* ---- Crafted batches of a sender with a hole ---- */

struct crafted {
	mailbox mb;
	uint64_t batch_id;
	uint64_t time_ms;      /* of the batches; 0: now */
};

/* Sends lines first..first+n-1 ("hole line <seq>") of stream `stream` to
 * group logs; held < 0: without the held_below extension (an older
 * sender). */
static void crafted_send(struct crafted *cs, uint64_t stream, uint64_t first, uint32_t n,
			 uint64_t base, long long held, uint64_t dropped)
{
	static uint8_t buf[65536];
	struct batch_hdr h;
	size_t p = 0;
	int hl;

	memset(&h, 0, sizeof(h));
	h.stream_id = stream;
	h.batch_id = ++cs->batch_id;
	h.first_seq = first;
	h.count = n;
	h.base_seq = base;
	h.dropped = dropped;
	h.has_held_below = held >= 0;
	h.held_below = held >= 0 ? (uint64_t)held : 0;
	h.time_ms = cs->time_ms ? cs->time_ms : (uint64_t)time(NULL) * 1000;
	h.node = "hnode";
	h.node_len = 5;
	hl = (int)batch_hdr_len(h.node_len);
	for (uint32_t i = 0; i < n; i++)
		p += (size_t)snprintf((char *)buf + hl + p, sizeof(buf) - (size_t)hl - p,
				      "hole line %llu\n", (unsigned long long)(first + i));
	h.payload_len = p;
	if (held < 0) {
		/* The old layout: no extension bytes. */
		T_EQ(batch_hdr_encode(&h, buf, sizeof(buf)), hl);
		memmove(buf + hl - BATCH_EXT_LEN, buf + hl, p);
		hl -= BATCH_EXT_LEN;
		buf[6] = (uint8_t)(hl >> 8);
		buf[7] = (uint8_t)hl;
	} else {
		T_EQ(batch_hdr_encode(&h, buf, sizeof(buf)), hl);
	}
	T_ASSERT(SP_multicast(cs->mb, AGREED_MESS, "logs", BATCH_MESS_TYPE, hl + (int)p,
			      (const char *)buf) > 0);
}

/* Waits for the acknowledgement of the last batch sent; returns its
 * acked value, *gap its flag. */
static uint64_t crafted_ack(struct crafted *cs, int *gap)
{
	int64_t until = t_now_ms() + 10000;

	while (t_now_ms() < until) {
		char sender[MAX_GROUP_NAME], groups[4][MAX_GROUP_NAME], msg[2048];
		service st = 0;
		int16 mt = 0;
		int ng = 0, en = 0, r;
		struct batch_ack a;

		if (SP_poll(cs->mb) <= 0) {
			usleep(5000);
			continue;
		}
		r = SP_receive(cs->mb, &st, sender, 4, &ng, groups, &mt, &en, sizeof(msg), msg);
		T_ASSERT(r >= 0);
		if (!Is_regular_mess(st) || mt != BATCH_ACK_MESS_TYPE ||
		    batch_ack_decode((const uint8_t *)msg, (size_t)r, &a) != BATCH_OK ||
		    a.batch_id != cs->batch_id)
			continue;
		*gap = a.flags & BATCH_ACK_F_GAP;
		return a.acked;
	}
	t_fail(__FILE__, __LINE__, "no acknowledgement of batch %llu",
	       (unsigned long long)cs->batch_id);
	return 0;
}

/* The file's lines "hole line N", as a string of the numbers. */
static void hole_lines(const char *path, char *out, size_t cap)
{
	FILE *fp = fopen(path, "r");
	char line[128];
	size_t o = 0;

	out[0] = 0;
	T_ASSERTF(fp != NULL, "no %s", path);
	while (fgets(line, sizeof(line), fp) && o + 16 < cap)
		if (strncmp(line, "hole line ", 10) == 0)
			o += (size_t)snprintf(out + o, cap - o, "%ld ", strtol(line + 10, NULL, 10));
	fclose(fp);
}

/* A sender with a hole (21..30, lost to a failed write, dropped = 10)
 * and a writer that missed batch 11..20, which the sender still holds:
 * the first batch after the hole (base = first = 31, held_below = 20)
 * must get a GAP, not be stored past 11..20; once 11..20 came again, the
 * hole is lost and the batch stored. A batch without the extension (an
 * older sender) is judged as before, and the writer logs the lines it
 * skipped beyond the growth of the sender's dropped count. */
static void logd_hole_behind(void)
{
	struct hd d;
	struct logdp w;
	struct crafted cs;
	char pg[MAX_GROUP_NAME], got[2048], path[300];
	int gap = 0;

	logtest_mkdir();
	hd_start(&d, NULL);
	logdp_start(&w, d.tcp_addr, "logs", logtest_dir, "w1");
	memset(&cs, 0, sizeof(cs));
	T_EQ(SP_connect(d.tcp_addr, "crafted", 0, 0, &cs.mb, pg), ACCEPT_SESSION);
	crafted_send(&cs, 0x1234, 1, 10, 1, 0, 0);
	T_EQ(crafted_ack(&cs, &gap), 10);
	T_EQ(gap, 0);
	cs.batch_id++; /* 11..20: the writer never got it */
	crafted_send(&cs, 0x1234, 31, 10, 31, 20, 10);
	T_EQ(crafted_ack(&cs, &gap), 10);
	T_ASSERTF(gap, "a batch past the hole was not refused while 11..20 are held");
	crafted_send(&cs, 0x1234, 11, 10, 1, 0, 10);
	T_EQ(crafted_ack(&cs, &gap), 20);
	T_EQ(gap, 0);
	crafted_send(&cs, 0x1234, 31, 10, 31, 20, 10);
	T_EQ(crafted_ack(&cs, &gap), 40);
	T_EQ(gap, 0);
	snprintf(path, sizeof(path), "%s/logs/logs/hnode.log", logtest_dir);
	hole_lines(path, got, sizeof(got));
	T_STREQ(got, "1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 31 32 33 34 35 36 "
		"37 38 39 40 ");
	T_ASSERT(wait_file_has(w.err, "LOST 10 lines of stream 0000000000001234", 3000));
	T_EQ(logtest_count(w.err, "inconsistency"), 0);
	/* An older sender's batch (no held_below) past its hole, while the
	 * writer is behind: taken as before, and the lines skipped beyond
	 * the dropped count are reported. */
	crafted_send(&cs, 0x5678, 1, 10, 1, -1, 0);
	T_EQ(crafted_ack(&cs, &gap), 10);
	crafted_send(&cs, 0x5678, 31, 10, 31, -1, 10);
	T_EQ(crafted_ack(&cs, &gap), 40);
	T_ASSERT(wait_file_has(w.err, "inconsistency: 10 of the 20 lines lost of stream "
			       "0000000000005678", 3000));
	kill(w.pid, SIGUSR1);
	T_ASSERT(wait_file_has(w.err, "lost 30 (unexplained 10)", 3000));
	SP_disconnect(cs.mb);
	logdp_stop(&w, SIGTERM);
	hd_stop(&d);
	logtest_rmdir();
}

/* The "LOST <n>" counts of a log summed. */
static long sum_lost(const char *log)
{
	char cmd[600];

	snprintf(cmd, sizeof(cmd), "grep -o 'LOST [0-9]*' %s | awk '{s += $2} END {print s + 0}'",
		 log);
	return shell_num(cmd);
}

/* The lines of path: each of 0..count-1 at most once and in order; the
 * number missing. */
static long lines_with_hole(const char *path, long count)
{
	FILE *fp = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0;
	long last = -1, got = 0;

	T_ASSERTF(fp != NULL, "no %s", path);
	while (getline(&line, &cap, fp) > 0) {
		char *req = strstr(line, "GET /req/");
		long n;

		T_ASSERTF(req != NULL, "unexpected line: %s", line);
		n = strtol(req + 9, NULL, 10);
		T_ASSERTF(n > last && n < count, "line %ld after %ld in %s", n, last, path);
		last = n;
		got++;
	}
	free(line);
	fclose(fp);
	return count - got;
}

#define HOLE_LINES 6000

/* A real chorus-log with a hole in its spool (a middle segment removed
 * by hand) meets a writer that is behind: with --acks 2, w1 has every
 * line, w2 has none and joins while the spool is being sent again. w2
 * must end with every line the spool still held, each once and in order
 * (a batch past the hole may not be stored before the held lines below
 * it), and report the hole as the sender does: the lines missing from
 * its file, its LOST count and the sender's dropped count agree, and
 * nothing is "unexplained". */
static void logd_real_hole_behind(void)
{
	static const char *const phase1[] = { "--acks", "2", "-m", "1M", "-T", "0", NULL };
	static const char *const phase2[] = { "--acks", "2", "-m", "1M", NULL };
	struct hd d;
	struct logdp w1, w2;
	struct clp c;
	char dir2[128], f2[300], cmd[600];
	long missing, w2_lost, sent_lost;

	logtest_mkdir();
	snprintf(dir2, sizeof(dir2), "%s/second", logtest_dir);
	hd_start(&d, NULL);
	logdp_start(&w1, d.tcp_addr, "logs", logtest_dir, "w1");
	lclp_start(&c, "log1", "node1", d.tcp_addr, phase1);
	write_lines(c.in, 0, HOLE_LINES, NULL, 0);
	T_ASSERT(wait_file_has(node_log("node1"), "GET /req/5999 ", 20000));
	T_EQ(clp_finish(&c, 30000), 0);
	T_ASSERTF(spool_left(c.err) == 6000, "stderr %s", c.err);
	/* The hole: the second of the spool's segments (at least three). */
	snprintf(cmd, sizeof(cmd), "test $(ls %s/spool-node1/logs@node1/s-*/*.seg | wc -l) -ge 3 "
		 "&& rm $(ls %s/spool-node1/logs@node1/s-*/*.seg | sed -n 2p)", logtest_dir,
		 logtest_dir);
	T_EQ(system(cmd), 0);
	lclp_start(&c, "log2", "node1", d.tcp_addr, phase2);
	usleep(100000);
	logdp_start(&w2, d.tcp_addr, "logs", dir2, "w2");
	T_EQ(clp_finish(&c, 60000), 0);
	T_ASSERTF(spool_left(c.err) == 0, "stderr %s", c.err);
	check_files(node_log("node1"), HOLE_LINES, 0);
	snprintf(f2, sizeof(f2), "%s/logs/logs/node1.log", dir2);
	missing = lines_with_hole(f2, HOLE_LINES);
	sent_lost = sum_lost(c.err);
	kill(w2.pid, SIGUSR1);
	T_ASSERT(wait_file_has(w2.err, "status logs:", 5000));
	w2_lost = sum_lost(w2.err);
	fprintf(stderr, "test_logd: real hole, writer behind: %ld lines missing in the late "
		"writer's file, LOST %ld by it, %ld by the sender; gaps: %s\n", missing, w2_lost,
		sent_lost, file_has(w2.err, ", gaps 0,") ? "none" : "yes");
	T_ASSERTF(missing > 0 && missing < HOLE_LINES, "%ld lines missing", missing);
	T_EQ(sent_lost, missing);
	T_EQ(w2_lost, missing);
	T_EQ(logtest_count(w2.err, "inconsistency"), 0);
	T_ASSERT(file_has(w2.err, "(unexplained 0)"));
	logdp_stop(&w2, SIGTERM);
	logdp_stop(&w1, SIGTERM);
	hd_stop(&d);
	logtest_rmdir();
}

/* A second daemon that accepts connections and never answers (a hung
 * chorusd, or a firewall that lets the SYN through): the writer keeps
 * trying it, and meanwhile lines keep flowing through the healthy daemon
 * with a latency far below the connect timeout (3 s), which a connect in
 * the main loop would add to every line sent during an attempt. */
static void logd_dead_daemon(void)
{
	struct hd d;
	struct logdp w;
	struct clp c;
	struct sockaddr_in sa;
	socklen_t slen = sizeof(sa);
	char global[512], needle[64];
	static const char *const quick[] = { "-t", "5", NULL };
	int64_t worst = 0, total = 0;
	int lfd;

	logtest_mkdir();
	/* The listener: a full backlog of accepted connections nobody reads. */
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	T_ASSERT(lfd >= 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	T_EQ(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	T_EQ(listen(lfd, 64), 0);
	T_EQ(getsockname(lfd, (struct sockaddr *)&sa, &slen), 0);
	snprintf(global, sizeof(global), "Spread {\n\tPort = %u@127.0.0.1\n\tLog {\n"
		 "\t\tGroup = other\n\t\tFile = \"%s/other.log\"\n\t}\n}\n",
		 ntohs(sa.sin_port), logtest_dir);
	hd_start(&d, NULL);
	logdp_start_ex(&w, d.tcp_addr, "logs", logtest_dir, "w1", NULL, global, NULL);
	lclp_start(&c, "log", "node1", d.tcp_addr, quick);
	/* 40 lines 100 ms apart: more than one connect attempt long. */
	for (long n = 0; n < 40; n++) {
		int64_t t0 = t_now_ms(), lat;

		write_lines(c.in, n, n + 1, NULL, 0);
		snprintf(needle, sizeof(needle), "GET /req/%ld ", n);
		T_ASSERTF(wait_file_has(node_log("node1"), needle, 10000), "line %ld never came",
			  n);
		lat = t_now_ms() - t0;
		total += lat;
		if (lat > worst)
			worst = lat;
		usleep(100000);
	}
	T_EQ(clp_finish(&c, 30000), 0);
	check_files(node_log("node1"), 40, 0);
	T_ASSERTF(file_has(w.err, "cannot connect to the daemon"), "no attempt failed (%s)",
		  w.err);
	fprintf(stderr, "test_logd: one daemon hung: 40 lines through the other, latency "
		"avg %lld ms, max %lld ms\n", (long long)(total / 40), (long long)worst);
	/* Held up by the hung daemon, a line would wait out a connect attempt
	 * (3 s); the bound leaves a loaded machine the rest. */
	T_ASSERTF(worst < 2500, "a line took %lld ms: the hung daemon held up the writer",
		  (long long)worst);
	/* SIGTERM right after an attempt connected to the hung daemon: the
	 * writer ends at once, not when the attempt times out (3 s). */
	{
		struct pollfd pf = { lfd, POLLIN, 0 };
		int64_t t0;
		int fd;

		T_EQ(fcntl(lfd, F_SETFL, O_NONBLOCK), 0);
		while ((fd = accept(lfd, NULL, NULL)) >= 0)
			close(fd); /* earlier attempts */
		T_ASSERTF(poll(&pf, 1, 15000) == 1, "no new connect attempt in 15 s");
		fd = accept(lfd, NULL, NULL);
		T_ASSERT(fd >= 0);
		t0 = t_now_ms();
		logdp_stop(&w, SIGTERM);
		fprintf(stderr, "test_logd: SIGTERM during a connect attempt: exit in %lld ms\n",
			(long long)(t_now_ms() - t0));
		T_ASSERTF(t_now_ms() - t0 < 2500, "SIGTERM waited %lld ms for the connect attempt",
			  (long long)(t_now_ms() - t0));
		T_ASSERTF(file_has(w.err, "not waiting for the connection"), "%s", w.err);
		close(fd);
	}
	close(lfd);
	hd_stop(&d);
	logtest_rmdir();
}

/* Two streams of one node on both sides of midnight (Apache's double
 * start), with a day pattern and gzip: the first batch of the new day
 * closes the old day's file for good, once; the old stream's later
 * batches go to "<old day>.late1" while the new day's file stays open:
 * no closing and reopening in turn, and no dependence on whether the
 * compression has finished. */
static void logd_late_lines(void)
{
	struct hd d;
	struct logdp w;
	struct crafted cs;
	char pg[MAX_GROUP_NAME], pat[200], d1[300], d2[300], late[320], zipped[320];
	char got[2048], day[16];
	time_t t1 = 1700000000, t2 = t1 + 86400;
	struct tm tm;
	int gap = 0;

	logtest_mkdir();
	snprintf(pat, sizeof(pat), "%s/late/%%n-%%Y%%m%%d.log", logtest_dir);
	localtime_r(&t1, &tm);
	strftime(day, sizeof(day), "%Y%m%d", &tm);
	snprintf(d1, sizeof(d1), "%s/late/hnode-%s.log", logtest_dir, day);
	localtime_r(&t2, &tm);
	strftime(day, sizeof(day), "%Y%m%d", &tm);
	snprintf(d2, sizeof(d2), "%s/late/hnode-%s.log", logtest_dir, day);
	snprintf(late, sizeof(late), "%s.late1", d1);
	snprintf(zipped, sizeof(zipped), "%s.gz", d1);
	hd_start(&d, NULL);
	logdp_start_ex(&w, d.tcp_addr, "logs", logtest_dir, "w1", pat, NULL,
		       "\t\tCompress = gzip");
	memset(&cs, 0, sizeof(cs));
	T_EQ(SP_connect(d.tcp_addr, "crafted", 0, 0, &cs.mb, pg), ACCEPT_SESSION);
	for (int k = 0; k < 6; k++) {
		/* Old stream (day 1), new stream (day 2), in turn. */
		cs.time_ms = (uint64_t)t1 * 1000 + 500 + (uint64_t)k;
		crafted_send(&cs, 0xaaaa, (uint64_t)k * 10 + 1, 10, 1, 0, 0);
		T_EQ(crafted_ack(&cs, &gap), (uint64_t)k * 10 + 10);
		cs.time_ms = (uint64_t)t2 * 1000 + (uint64_t)k;
		crafted_send(&cs, 0xbbbb, (uint64_t)k * 10 + 1, 10, 1, 0, 0);
		T_EQ(crafted_ack(&cs, &gap), (uint64_t)k * 10 + 10);
	}
	SP_disconnect(cs.mb);
	T_ASSERTF(wait_file_has(w.err, "compressed ", 10000), "no compression (%s)", w.err);
	logdp_stop(&w, SIGTERM);
	/* Day 1's first batch, then day 2's file; the rest of the old stream
	 * in the late file. */
	T_ASSERT(access(zipped, F_OK) == 0);
	T_ASSERT(access(d1, F_OK) != 0);
	hole_lines(d2, got, sizeof(got));
	T_EQ(strlen(got) > 0, 1);
	T_ASSERT(file_has(d2, "hole line 60"));
	hole_lines(late, got, sizeof(got));
	T_STREQ(got, "11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32 33 "
		"34 35 36 37 38 39 40 41 42 43 44 45 46 47 48 49 50 51 52 53 54 55 56 57 58 59 "
		"60 ");
	T_EQ(logtest_count(w.err, "rotated by time: closed"), 1);
	T_EQ(logtest_count(w.err, "late lines for"), 1);
	hd_stop(&d);
	logtest_rmdir();
}

static const struct t_case cases[] = {
	T_CASE(logd_check_config),
	T_CASE(logd_usage_matches_man),
	T_CASE(logd_basic),
	T_CASE_TIMEOUT(logd_group_commit, 60),
	T_CASE_TIMEOUT(logd_hole_behind, 60),
	T_CASE_TIMEOUT(logd_real_hole_behind, 90),
	T_CASE_TIMEOUT(logd_dead_daemon, 60),
	T_CASE_TIMEOUT(logd_late_lines, 60),
	T_CASE_TIMEOUT(logd_kill9, 120),
	T_CASE_TIMEOUT(logd_kill9_group, 120),
	T_CASE_TIMEOUT(logd_sighup, 60),
	T_CASE_TIMEOUT(logd_size_rotation, 60),
	T_CASE_TIMEOUT(logd_time_rotation, 60),
	T_CASE_TIMEOUT(logd_time_restart, 60),
	T_CASE_TIMEOUT(logd_replicas, 60),
	T_CASE_TIMEOUT(logd_replicas_rotation, 60),
	T_CASE_TIMEOUT(logd_reconnect, 90),
	T_CASE_TIMEOUT(logd_plain_quarantine_match, 60),
};

int main(int argc, char **argv)
{
	return t_main(argc, argv, cases, T_COUNT(cases));
}
