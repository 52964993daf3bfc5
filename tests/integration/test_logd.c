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
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "logtest.h"
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
	T_ASSERTF(file_has(c.err, "0 left in the spool"), "stderr %s", c.err);
	check_files(node_log("node1"), 20000, 0);
	kill(w.pid, SIGUSR1);
	snprintf(st, sizeof(st), "status logs: lines 20000, bytes ");
	T_ASSERTF(wait_file_has(w.err, st, 5000), "no status in %s", w.err);
	T_ASSERT(file_has(w.err, "duplicates dropped 0, filtered 0, quarantined 0"));
	T_ASSERT(file_has(w.err, "fsync latency ms last"));
	logdp_stop(&w, SIGTERM);
	hd_stop(&d);
	logtest_rmdir();
}

static struct logdp *fault_w;
static struct hd *fault_d;
static long kills;

static void kill_writer_hook(long n)
{
	/* A kill at a random moment: after a random pause of up to 30 ms
	 * every 4000 lines, while chorus-log keeps sending. */
	struct timespec nap = { 0, (long)(rand() % 30) * 1000000L };

	(void)n;
	nanosleep(&nap, NULL);
	logdp_stop(fault_w, SIGKILL);
	kills++;
	logdp_start(fault_w, fault_d->tcp_addr, "logs", logtest_dir, "w1");
}

/* kill -9 of the writer at random moments under a bounded load, each
 * time restarted: every line exactly once, in order. */
static void logd_kill9(void)
{
	struct hd d;
	struct logdp w;
	struct clp c;
	long cuts;

	srand((unsigned)time(NULL));
	logtest_mkdir();
	hd_start(&d, NULL);
	logdp_start(&w, d.tcp_addr, "logs", logtest_dir, "w1");
	fault_w = &w;
	fault_d = &d;
	kills = 0;
	lclp_start(&c, "log", "node1", d.tcp_addr, NULL);
	write_lines(c.in, 0, 60000, kill_writer_hook, 4000);
	T_EQ(clp_finish(&c, 60000), 0);
	T_ASSERTF(file_has(c.err, "0 left in the spool"), "stderr %s", c.err);
	check_files(node_log("node1"), 60000, 0);
	cuts = logtest_count(w.err, "unacknowledged bytes");
	fprintf(stderr, "test_logd: writer SIGKILL: %ld kills, 60000 lines, each once and "
		"in order; %ld recoveries cut an unacknowledged tail\n", kills, cuts);
	logdp_stop(&w, SIGTERM);
	hd_stop(&d);
	logtest_rmdir();
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

/* Two writers on the group, chorus-log --acks 2: identical files. */
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
	for (long k = 0; k < 20000; k += 1000) {
		write_lines(a.in, k, k + 1000, NULL, 0);
		write_lines(b.in, k, k + 1000, NULL, 0);
	}
	T_EQ(clp_finish(&a, 30000), 0);
	T_EQ(clp_finish(&b, 30000), 0);
	T_ASSERTF(file_has(a.err, "0 left in the spool"), "stderr %s", a.err);
	T_ASSERTF(file_has(b.err, "0 left in the spool"), "stderr %s", b.err);
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
		T_ASSERTF(file_has(a.err, "1000 left in the spool"), "stderr %s", a.err);
		T_ASSERT(file_has(node_log("node1"), "GET /req/20999 "));
	}
	logdp_stop(&w1, SIGTERM);
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
	T_ASSERTF(file_has(c.err, "0 left in the spool"), "stderr %s", c.err);
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

static const struct t_case cases[] = {
	T_CASE(logd_check_config),
	T_CASE(logd_usage_matches_man),
	T_CASE(logd_basic),
	T_CASE_TIMEOUT(logd_kill9, 120),
	T_CASE_TIMEOUT(logd_sighup, 60),
	T_CASE_TIMEOUT(logd_size_rotation, 60),
	T_CASE_TIMEOUT(logd_time_rotation, 60),
	T_CASE_TIMEOUT(logd_replicas, 60),
	T_CASE_TIMEOUT(logd_reconnect, 90),
	T_CASE_TIMEOUT(logd_plain_quarantine_match, 60),
};

int main(int argc, char **argv)
{
	return t_main(argc, argv, cases, T_COUNT(cases));
}
