/*
 * test_log.c - chorus-log end to end: real chorus-log processes fed
 * through a pipe, a real chorusd on loopback, and the acknowledging test
 * subscriber of logsub.h. Every case checks that each line written is
 * stored at least once, and exactly once after dropping duplicates by
 * stream id and sequence number, and prints the duplicate counts.
 *
 * Faults: chorusd killed with SIGKILL mid-load and restarted on the same
 * port; the subscriber killed and restarted; the daemon down at start and
 * a backlog sent by the next instance; SIGTERM before end of input; two
 * instances on one spool; spool overflow; overlong lines; --plain.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "logtest.h"
#include "t.h"

#define tdir logtest_dir
#define mktdir logtest_mkdir
#define rmtdir logtest_rmdir
#define build_path logtest_build_path
#define exec_argv logtest_exec

static char out_path[128];

static const char *outp(void)
{
	snprintf(out_path, sizeof(out_path), "%s/sub.out", tdir);
	return out_path;
}

/* Plain run: 20000 lines, everything acknowledged, nothing left. */
static void log_basic(void)
{
	struct hd d;
	struct logsub sub;
	struct clp c;
	long dups, miss;

	mktdir();
	hd_start(&d, NULL);
	logsub_start(&sub, d.tcp_addr, "logs", outp(), "sub1");
	clp_start(&c, "log", d.tcp_addr, NULL);
	write_lines(c.in, 0, 20000, NULL, 0);
	T_EQ(clp_finish(&c, 30000), 0);
	T_ASSERTF(file_has(c.err, ", 0 left in the spool"), "stderr %s", c.err);
	T_ASSERT(file_has(c.err, "read 20000 lines"));
	check_out(outp(), 20000, &dups, &miss, 0);
	T_EQ(dups, 0);
	logsub_stop(&sub, SIGKILL);
	hd_stop(&d);
	rmtdir();
}

static struct hd *fault_d;
static struct logsub *fault_sub;
static long fault_at;

static void kill_daemon_hook(long n)
{
	if (n == fault_at) {
		hd_kill9(fault_d);
		usleep(300000);
		hd_restart(fault_d);
	}
}

/* (a) chorusd killed with SIGKILL mid-load and restarted. */
static void log_daemon_kill(void)
{
	struct hd d;
	struct logsub sub;
	struct clp c;
	long dups, miss;

	mktdir();
	hd_start(&d, NULL);
	logsub_start(&sub, d.tcp_addr, "logs", outp(), "sub1");
	clp_start(&c, "log", d.tcp_addr, NULL);
	/* The kill must find a connection to lose. */
	T_ASSERT(wait_file_has(c.err, "connected to the daemon", 10000));
	fault_d = &d;
	fault_at = 20000;
	write_lines(c.in, 0, 50000, kill_daemon_hook, 1000);
	T_EQ(clp_finish(&c, 60000), 0);
	T_ASSERTF(file_has(c.err, ", 0 left in the spool"), "stderr %s", c.err);
	T_ASSERTF(file_has(c.err, "lost the daemon"), "stderr %s", c.err);
	check_out(outp(), 50000, &dups, &miss, 0);
	fprintf(stderr, "test_log: daemon SIGKILL: 50000 lines, 0 lost, chorus-log resent %ld "
		"lines, subscriber dropped %ld duplicates\n", file_num(c.err, "resent "), dups);
	logsub_stop(&sub, SIGKILL);
	hd_stop(&d);
	rmtdir();
}

static void kill_sub_hook(long n)
{
	if (n == fault_at) {
		logsub_stop(fault_sub, SIGKILL);
		usleep(200000);
		logsub_spawn(fault_sub, fault_d->tcp_addr, "logs", outp(), "sub1");
	}
}

/* (c) the subscriber killed and restarted mid-load. */
static void log_sub_restart(void)
{
	struct hd d;
	struct logsub sub;
	struct clp c;
	long dups, miss;

	mktdir();
	hd_start(&d, NULL);
	logsub_start(&sub, d.tcp_addr, "logs", outp(), "sub1");
	clp_start(&c, "log", d.tcp_addr, NULL);
	fault_d = &d;
	fault_sub = &sub;
	fault_at = 20000;
	write_lines(c.in, 0, 50000, kill_sub_hook, 1000);
	T_EQ(clp_finish(&c, 60000), 0);
	T_ASSERTF(file_has(c.err, ", 0 left in the spool"), "stderr %s", c.err);
	check_out(outp(), 50000, &dups, &miss, 0);
	fprintf(stderr, "test_log: subscriber SIGKILL: 50000 lines, 0 lost, chorus-log resent "
		"%ld lines, subscriber dropped %ld duplicates\n", file_num(c.err, "resent "), dups);
	T_EQ(dups, 0);
	logsub_stop(&sub, SIGKILL);
	hd_stop(&d);
	rmtdir();
}

/* The daemon is down: lines stay in the spool; the next instance sends
 * them first. */
static void log_backlog_next_instance(void)
{
	static const char *const quick[] = { "-T", "100", NULL };
	struct hd d;
	struct logsub sub;
	struct clp c;
	long dups, miss;

	mktdir();
	hd_start(&d, NULL);
	hd_kill9(&d);
	clp_start(&c, "log1", d.tcp_addr, quick);
	write_lines(c.in, 0, 5000, NULL, 0);
	T_EQ(clp_finish(&c, 10000), 0);
	T_ASSERTF(file_has(c.err, ", 5000 left in the spool"), "stderr %s", c.err);
	T_ASSERT(file_has(c.err, "cannot connect"));
	hd_restart(&d);
	logsub_start(&sub, d.tcp_addr, "logs", outp(), "sub1");
	clp_start(&c, "log2", d.tcp_addr, NULL);
	write_lines(c.in, 5000, 6000, NULL, 0);
	T_EQ(clp_finish(&c, 30000), 0);
	T_ASSERTF(file_has(c.err, ", 0 left in the spool"), "stderr %s", c.err);
	check_out(outp(), 6000, &dups, &miss, 0);
	T_EQ(dups, 0);
	logsub_stop(&sub, SIGKILL);
	hd_stop(&d);
	rmtdir();
}

/* SIGTERM: reads on until end of input, loses nothing. */
static void log_sigterm_reads_on(void)
{
	struct hd d;
	struct logsub sub;
	struct clp c;
	long dups, miss;

	mktdir();
	hd_start(&d, NULL);
	logsub_start(&sub, d.tcp_addr, "logs", outp(), "sub1");
	clp_start(&c, "log", d.tcp_addr, NULL);
	write_lines(c.in, 0, 1000, NULL, 0);
	kill(c.pid, SIGTERM);
	T_ASSERT(wait_file_has(c.err, "reading on until end of input", 5000));
	write_lines(c.in, 1000, 3000, NULL, 0);
	usleep(100000);
	write_lines(c.in, 3000, 4000, NULL, 0);
	T_EQ(clp_finish(&c, 30000), 0);
	check_out(outp(), 4000, &dups, &miss, 0);
	T_EQ(dups, 0);
	logsub_stop(&sub, SIGKILL);
	hd_stop(&d);
	rmtdir();
}

/* Apache's double start: two instances on one spool at once each get a
 * stream of their own; a stream left with lines is adopted and drained
 * by the other, then removed. */
static void log_two_instances(void)
{
	static const char *const quick[] = { "-T", "100", NULL };
	struct hd d;
	struct logsub sub;
	struct clp a, b;
	long dups, miss;
	char cmd[256];
	int nstreams;
	FILE *fp;

	mktdir();
	hd_start(&d, NULL);
	logsub_start(&sub, d.tcp_addr, "logs", outp(), "sub1");
	clp_start(&a, "a", d.tcp_addr, NULL);
	clp_start(&b, "b", d.tcp_addr, NULL);
	write_lines(a.in, 0, 3000, NULL, 0);
	write_lines(b.in, 3000, 6000, NULL, 0);
	T_EQ(clp_finish(&a, 30000), 0);
	T_EQ(clp_finish(&b, 30000), 0);
	check_out(outp(), 6000, &dups, &miss, 0);
	T_EQ(dups, 0);
	/* While one instance runs (connected), another whose daemon is away
	 * leaves lines in a stream of its own and exits, as after a graceful
	 * restart: the running one adopts the stream, drains and removes it. */
	clp_start(&b, "b2", d.tcp_addr, NULL);
	write_lines(b.in, 7000, 8000, NULL, 0);
	clp_start(&a, "a2", "1@127.0.0.1", quick);
	write_lines(a.in, 6000, 7000, NULL, 0);
	T_EQ(clp_finish(&a, 10000), 0);
	T_ASSERTF(file_has(a.err, ", 1000 left in the spool"), "stderr %s", a.err);
	/* (b2 may first adopt and remove a drained stream of the first
	 * round that was free when it started.) */
	T_ASSERTF(wait_file_has(b.err, "with 1000 unacknowledged lines", 10000),
		  "stderr %s", b.err);
	T_ASSERT(wait_file_has(outp(), "GET /req/6999 ", 10000));
	T_EQ(clp_finish(&b, 30000), 0);
	check_out(outp(), 8000, &dups, &miss, 0);
	T_EQ(dups, 0);
	snprintf(cmd, sizeof(cmd), "ls -d %s/spool/logs@node1/s-* | wc -l", tdir);
	fp = popen(cmd, "r");
	T_ASSERT(fp && fscanf(fp, "%d", &nstreams) == 1);
	pclose(fp);
	T_ASSERTF(nstreams <= 2, "%d streams left", nstreams);
	logsub_stop(&sub, SIGKILL);
	hd_stop(&d);
	rmtdir();
}

/* A 1 MiB spool with the daemon away: the oldest lines go, loudly and
 * counted; the rest arrive, and the writer learns how many were lost. */
static void log_overflow(void)
{
	static const char *const small[] = { "-m", "1M", "-T", "100", NULL };
	struct hd d;
	struct logsub sub;
	struct clp c;
	long miss, dropped = -1;
	char *line = NULL;
	size_t cap = 0;
	FILE *fp;

	mktdir();
	hd_start(&d, NULL);
	hd_kill9(&d);
	clp_start(&c, "log1", d.tcp_addr, small);
	write_lines(c.in, 0, 20000, NULL, 0);
	T_EQ(clp_finish(&c, 10000), 0);
	T_ASSERTF(file_has(c.err, "LOST"), "stderr %s", c.err);
	fp = fopen(c.err, "r");
	while (fp && getline(&line, &cap, fp) > 0) {
		char *p = strstr(line, "dropped ");

		if (strstr(line, "end of input") && p)
			dropped = strtol(p + 8, NULL, 10);
	}
	free(line);
	if (fp)
		fclose(fp);
	T_ASSERT(dropped > 10000);
	hd_restart(&d);
	logsub_start(&sub, d.tcp_addr, "logs", outp(), "sub1");
	clp_start(&c, "log2", d.tcp_addr, NULL);
	T_EQ(clp_finish(&c, 30000), 0);
	{
		struct logcheck r;

		check_out_ex(outp(), 20000, 1, &r);
		/* Exactly the oldest lines are missing. */
		T_EQ(r.missing, dropped);
		T_EQ(r.missing_above, 0);
		T_EQ(r.first_present, dropped);
		miss = r.missing;
	}
	T_EQ(miss, dropped);
	fprintf(stderr, "test_log: overflow: %ld of 20000 lines dropped and reported\n", dropped);
	logsub_stop(&sub, SIGKILL);
	hd_stop(&d);
	rmtdir();
}

/* A 3 MB line arrives cut, with the marker, counted; its neighbours
 * intact. */
static void log_overlong(void)
{
	struct hd d;
	struct logsub sub;
	struct clp c;
	size_t big = 3 * 1024 * 1024;
	char *line = malloc(big + 1);

	mktdir();
	hd_start(&d, NULL);
	logsub_start(&sub, d.tcp_addr, "logs", outp(), "sub1");
	clp_start(&c, "log", d.tcp_addr, NULL);
	write_lines(c.in, 0, 10, NULL, 0);
	memset(line, 'x', big);
	memcpy(line, "GET /huge", 9);
	line[big] = '\n';
	for (size_t o = 0; o < big + 1;) {
		ssize_t w = write(c.in, line + o, big + 1 - o);

		T_ASSERT(w > 0);
		o += (size_t)w;
	}
	write_lines(c.in, 10, 20, NULL, 0);
	T_EQ(clp_finish(&c, 30000), 0);
	T_ASSERT(file_has(c.err, "cut 1"));
	T_ASSERT(file_has(outp(), "GET /req/19 "));
	T_ASSERT(file_has(outp(), "xxx [chorus-log: line cut, 3145728 bytes]"));
	{
		struct stat st;

		T_EQ(stat(outp(), &st), 0);
		T_ASSERT(st.st_size < 100000);
	}
	free(line);
	logsub_stop(&sub, SIGKILL);
	hd_stop(&d);
	rmtdir();
}

/* SIGUSR1 prints the status line. */
static void log_status_signal(void)
{
	struct hd d;
	struct clp c;

	mktdir();
	hd_start(&d, NULL);
	clp_start(&c, "log", d.tcp_addr, NULL);
	write_lines(c.in, 0, 100, NULL, 0);
	T_ASSERT(wait_file_has(c.err, "connected to the daemon", 5000));
	kill(c.pid, SIGUSR1);
	T_ASSERT(wait_file_has(c.err, "status: read 100 lines", 5000));
	T_ASSERT(file_has(c.err, "reconnects 0"));
	kill(c.pid, SIGKILL);
	waitpid(c.pid, NULL, 0);
	hd_stop(&d);
	rmtdir();
}

/* --plain: one message per line, "node line", no acknowledgements. */
static void log_plain(void)
{
	static const char *const plain[] = { "--plain", NULL };
	struct hd d;
	struct logsub sub;
	struct clp c;

	mktdir();
	hd_start(&d, NULL);
	logsub_start(&sub, d.tcp_addr, "logs", outp(), "sub1");
	clp_start(&c, "log", d.tcp_addr, plain);
	write_lines(c.in, 0, 500, NULL, 0);
	T_EQ(clp_finish(&c, 30000), 0);
	T_ASSERT(wait_file_has(outp(), "plain - node1 127.0.0.1 - - [01/Jan/2025:00:00:00 +0000] \"GET /req/499 ", 5000));
	T_ASSERT(file_has(outp(), "plain - node1 127.0.0.1 - - [01/Jan/2025:00:00:00 +0000] \"GET /req/0 "));
	T_ASSERT(file_has(c.err, ", 0 left in the spool"));
	logsub_stop(&sub, SIGKILL);
	hd_stop(&d);
	rmtdir();
}

/* Bad command lines: usage and exit status 2. */
static void log_usage(void)
{
	static const char *const bad[][4] = {
		{ NULL },
		{ "-g", "has space", NULL },
		{ "-g", "x", "-l", "10" },
		{ "-g", "x", "-h", "a b" },
		{ "-g", "x", "-w", "0" },
		{ "-g", "x", "extra", NULL },
	};

	for (size_t i = 0; i < T_COUNT(bad); i++) {
		const char *argv[8] = { build_path("chorus-log") };
		int n = 1, status;
		pid_t pid;

		for (int k = 0; k < 4 && bad[i][k]; k++)
			argv[n++] = bad[i][k];
		argv[n] = NULL;
		pid = fork();
		if (pid == 0) {
			int fd = open("/dev/null", O_WRONLY);

			dup2(fd, 2);
			exec_argv(argv);
			_exit(127);
		}
		waitpid(pid, &status, 0);
		T_ASSERTF(WIFEXITED(status) && WEXITSTATUS(status) == 2, "case %zu: %d",
			  i, status);
	}
}

/* The usage text is the synopsis of chorus-log(1), word for word. */
static void log_usage_matches_man(void)
{
	char cmd[1024], a[1024] = "", b[1024] = "";
	FILE *fp;

	if (system("command -v man >/dev/null 2>&1") != 0)
		t_skip("man is not installed");
	snprintf(cmd, sizeof(cmd), "%s --help | sed 's/^usage: //' | tr -s ' \n' '  '",
		 build_path("chorus-log"));
	fp = popen(cmd, "r");
	T_ASSERT(fp && fgets(a, sizeof(a), fp));
	pclose(fp);
	fp = popen("MANWIDTH=200 man -l man/chorus-log.1 2>/dev/null | "
		   "sed -n '/^SYNOPSIS/,/^DESCRIPTION/p' | sed '1d;$d' | "
		   "tr -s ' \n' '  '", "r");
	T_ASSERT(fp && fgets(b, sizeof(b), fp));
	pclose(fp);
	/* Trim the leading space of the indented synopsis. */
	T_STREQ(a[0] == ' ' ? a + 1 : a, b[0] == ' ' ? b + 1 : b);
}

static const struct t_case cases[] = {
	T_CASE(log_usage_matches_man),
	T_CASE(log_usage),
	T_CASE(log_basic),
	T_CASE_TIMEOUT(log_daemon_kill, 90),
	T_CASE_TIMEOUT(log_sub_restart, 90),
	T_CASE(log_backlog_next_instance),
	T_CASE(log_sigterm_reads_on),
	T_CASE_TIMEOUT(log_two_instances, 90),
	T_CASE(log_overflow),
	T_CASE(log_overlong),
	T_CASE(log_status_signal),
	T_CASE(log_plain),
};

int main(int argc, char **argv)
{
	return t_main(argc, argv, cases, T_COUNT(cases));
}
