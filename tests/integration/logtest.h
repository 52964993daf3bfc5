/*
 * logtest.h - helpers shared by the log pipeline's integration tests:
 * the test subscriber (logsub.h); killing and restarting a chorusd of the
 * harness on the same port and configuration; starting chorus-log on a
 * pipe; writing numbered access-log lines; and checking a subscriber's
 * records line by line.
 *
 * Header-only, static functions: the Makefile links one fixed helper
 * (harness.c) into every integration test.
 */
#ifndef CHORUS_LOGTEST_H
#define CHORUS_LOGTEST_H

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "logsub.h"
#include "t.h"

/* Not every test uses every helper. */
#define LT_FN static __attribute__((unused))

/* The absolute path of the build directory ($CHORUS_BUILD, default
 * build/ under the current directory). */
LT_FN const char *logtest_build_dir(void)
{
	static char abs[512];
	const char *b = getenv("CHORUS_BUILD");

	if (!b)
		b = "build";
	if (b[0] != '/') {
		char cwd[400];

		if (!getcwd(cwd, sizeof(cwd)))
			t_fail(__FILE__, __LINE__, "getcwd");
		snprintf(abs, sizeof(abs), "%s/%s", cwd, b);
		return abs;
	}
	return b;
}

/* <build dir>/prog, in one of 4 rotating buffers. */
LT_FN const char *logtest_build_path(const char *prog)
{
	static char path[4][600];
	static int k;

	k = (k + 1) % 4;
	snprintf(path[k], sizeof(path[k]), "%s/%s", logtest_build_dir(), prog);
	return path[k];
}

/* Restarts a daemon that was killed, on the same port and config. */
LT_FN void hd_restart(struct hd *d)
{
	/* Before the fork and the chdir: a relative build directory is
	 * relative to where the test started. */
	const char *prog = logtest_build_path("chorusd");
	int64_t until;

	d->pid = fork();
	if (d->pid == 0) {
		int fd = open(d->log, O_WRONLY | O_CREAT | O_APPEND, 0644);

		for (int k = 3; k < 1024; k++)
			if (k != fd)
				close(k);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		if (chdir(d->dir) != 0)
			_exit(126);
		execl(prog, "chorusd", "-c", d->conf, "-n", "localhost", (char *)NULL);
		_exit(127);
	}
	until = t_now_ms() + 10000;
	while (t_now_ms() < until) {
		int fd = raw_tcp(d);

		if (fd >= 0) {
			close(fd);
			return;
		}
		T_ASSERTF(hd_alive(d), "chorusd did not restart (log %s)", d->log);
		usleep(5000);
	}
	t_fail(__FILE__, __LINE__, "chorusd did not restart");
}

LT_FN void hd_kill9(struct hd *d)
{
	int status;

	kill(d->pid, SIGKILL);
	waitpid(d->pid, &status, 0);
	d->pid = 0;
}

/* ---- chorus-log processes ---- */

/* A test directory (spool, outputs, stderr files). */
static char logtest_dir[64];

LT_FN void logtest_mkdir(void)
{
	snprintf(logtest_dir, sizeof(logtest_dir), "/tmp/chorus-logt-XXXXXX");
	T_ASSERT(mkdtemp(logtest_dir) != NULL);
}

LT_FN void logtest_rmdir(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", logtest_dir);
	T_EQ(system(cmd), 0);
}

/* A chorus-log process: its stdin pipe (write end, -1 if the test keeps
 * the pipe itself) and its stderr file. */
struct clp {
	pid_t pid;
	int in;
	char err[256];
};

/* execv() with an argument vector of constant strings. */
LT_FN void logtest_exec(const char **argv)
{
	char **a;

	memcpy(&a, &argv, sizeof(a));
	execv(a[0], a);
}

/* Starts chorus-log -g logs -h node1 -s daemon -d <dir>/spool -t 20
 * --ack-timeout 300 -T 20000 plus extra (NULL-ended; "-" removes the
 * default options: then extra is the whole option list). Its stdin is
 * `in` if >= 0 (the test keeps the pipe, as Apache does), else a new
 * pipe whose write end goes to c->in. stderr goes to <dir>/<tag>.err
 * (appended). env, if not NULL, is one "NAME=value" to add. */
LT_FN void clp_start_ex(struct clp *c, const char *tag, const char *daemon,
			 const char *const *extra, int in, const char *env)
{
	const char *argv[48];
	char spool[128];
	int n = 0, fds[2] = { -1, -1 };

	snprintf(spool, sizeof(spool), "%s/spool", logtest_dir);
	snprintf(c->err, sizeof(c->err), "%s/%s.err", logtest_dir, tag);
	argv[n++] = logtest_build_path("chorus-log");
	if (extra && extra[0] && strcmp(extra[0], "-") == 0) {
		extra++;
	} else {
		static const char *const defaults[] = {
			"-g", "logs", "-h", "node1", "-t", "20", "--ack-timeout", "300",
			"-T", "20000", NULL,
		};

		for (int k = 0; defaults[k]; k++)
			argv[n++] = defaults[k];
		argv[n++] = "-s";
		argv[n++] = daemon;
		argv[n++] = "-d";
		argv[n++] = spool;
	}
	for (; extra && *extra && n < 46; extra++)
		argv[n++] = *extra;
	argv[n] = NULL;
	/* Close-on-exec, so that no other process we start holds the pipe
	 * open and hides the end of input from chorus-log. */
	if (in < 0)
		T_EQ(pipe2(fds, O_CLOEXEC), 0);
	c->pid = fork();
	if (c->pid == 0) {
		int fd = open(c->err, O_WRONLY | O_CREAT | O_APPEND, 0644);

		dup2(in >= 0 ? in : fds[0], 0);
		if (fds[0] >= 0) {
			close(fds[0]);
			close(fds[1]);
		}
		/* Nothing of ours may hold the test's stdout open: the
		 * harness reads it until end of file. */
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		if (env)
			putenv((char *)(uintptr_t)env);
		logtest_exec(argv);
		_exit(127);
	}
	if (fds[0] >= 0)
		close(fds[0]);
	c->in = fds[1];
}

LT_FN void clp_start(struct clp *c, const char *tag, const char *daemon,
		      const char *const *extra)
{
	clp_start_ex(c, tag, daemon, extra, -1, NULL);
}

/* Closes stdin (if ours) and waits up to ms for the exit; returns the
 * status. */
LT_FN int clp_finish(struct clp *c, int ms)
{
	int64_t until = t_now_ms() + ms;
	int status = 0;
	pid_t r;

	if (c->in >= 0)
		close(c->in);
	c->in = -1;
	while ((r = waitpid(c->pid, &status, WNOHANG)) == 0 && t_now_ms() < until)
		usleep(5000);
	if (r == 0) {
		kill(c->pid, SIGKILL);
		waitpid(c->pid, &status, 0);
		t_fail(__FILE__, __LINE__, "chorus-log did not exit (stderr %s)", c->err);
	}
	c->pid = 0;
	return status;
}

LT_FN int file_has(const char *path, const char *needle)
{
	FILE *fp = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0;
	int found = 0;

	if (!fp)
		return 0;
	while (!found && getline(&line, &cap, fp) > 0)
		found = strstr(line, needle) != NULL;
	free(line);
	fclose(fp);
	return found;
}

/* The lines chorus-log left in its spool, from the last "end of input"
 * line of its log at path ("acknowledged A, N left in the spool"), parsed
 * whole; -1 without one. */
LT_FN long spool_left(const char *path)
{
	FILE *fp = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0;
	long left = -1;

	if (!fp)
		return -1;
	while (getline(&line, &cap, fp) > 0) {
		const char *p = strstr(line, "end of input: ");
		long acked, n;
		int end = 0;

		if (p && (p = strstr(p, ", acknowledged ")) &&
		    sscanf(p, ", acknowledged %ld, %ld left in the spool,%n", &acked, &n,
			   &end) == 2 && end > 0)
			left = n;
	}
	free(line);
	fclose(fp);
	return left;
}

LT_FN int wait_file_has(const char *path, const char *needle, int ms)
{
	int64_t until = t_now_ms() + ms;

	do {
		if (file_has(path, needle))
			return 1;
		usleep(5000);
	} while (t_now_ms() < until);
	return 0;
}

/* The number after `key` on the last line of path that has it, or -1. */
LT_FN long file_num(const char *path, const char *key)
{
	FILE *fp = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0;
	long v = -1;

	if (!fp)
		return -1;
	while (getline(&line, &cap, fp) > 0) {
		char *p = strstr(line, key);

		if (p)
			v = strtol(p + strlen(key), NULL, 10);
	}
	free(line);
	fclose(fp);
	return v;
}

/* ---- Lines ---- */

/* Line n of the tests, about 200 bytes, a combined log line whose
 * request path and last field are n; its status is 404 when n % 10 == 7
 * (for Match filters), else 200. Returns its length. */
LT_FN size_t logtest_line(long n, char *out, size_t cap)
{
	return (size_t)snprintf(out, cap,
		"127.0.0.1 - - [01/Jan/2025:00:00:00 +0000] \"GET /req/%ld HTTP/1.1\" %d "
		"1234 \"http://example.org/ref\" \"Mozilla/5.0 (X11; Linux x86_64) chorus-test\" %ld\n",
		n, n % 10 == 7 ? 404 : 200, n);
}

LT_FN void write_all(int fd, const char *p, size_t o)
{
	while (o) {
		ssize_t w = write(fd, p, o);

		if (w < 0 && errno == EINTR)
			continue;
		T_ASSERTF(w > 0, "write to chorus-log: %s", strerror(errno));
		p += w;
		o -= (size_t)w;
	}
}

/* Writes lines n in [from, to) to fd in writes of whole lines (as Apache
 * does), optionally paced: after every `every` lines, calls hook(n) if
 * not NULL. */
LT_FN void write_lines(int fd, long from, long to, void (*hook)(long), long every)
{
	char buf[256 * 64];
	size_t o = 0;

	for (long n = from; n < to; n++) {
		o += logtest_line(n, buf + o, sizeof(buf) - o);
		if (o > sizeof(buf) - 256 || n + 1 == to) {
			write_all(fd, buf, o);
			o = 0;
		}
		if (hook && every && (n + 1 - from) % every == 0)
			hook(n + 1);
	}
}

/* What check_out found. */
struct logcheck {
	long records;          /* records in the file */
	long dups;             /* (stream, seq) stored again: same line */
	long missing;          /* lines never stored */
	long first_present;    /* lowest line stored (-1: none) */
	long missing_above;    /* missing lines above first_present */
	int streams;
};

/* Reads a subscriber's file and checks every record: each is exactly
 * line n of the tests (nothing cut, torn or joined); a (stream, seq)
 * stored again carries the same line; a stream's sequence numbers follow
 * the input order; no line is stored under two numbers. Lines [0, count)
 * that were never stored are counted; unless missing_ok, there must be
 * none. */
LT_FN void check_out_ex(const char *path, long count, int missing_ok,
			 struct logcheck *r)
{
	FILE *fp = fopen(path, "r");
	char *line = NULL, want[512];
	size_t cap = 0;
	unsigned char *seen = calloc((size_t)count, 1);
	struct { unsigned long long id, last_seq; long last_n; long *byseq; size_t nseq; } st[16];
	int nst = 0;

	memset(r, 0, sizeof(*r));
	r->first_present = -1;
	T_ASSERTF(fp != NULL, "no subscriber output %s", path);
	while (getline(&line, &cap, fp) > 0) {
		unsigned long long id, seq;
		char *req = strstr(line, "GET /req/"), *rec;
		long n;
		int i, off = 0;

		r->records++;
		T_ASSERTF(sscanf(line, "%16llx %llu %n", &id, &seq, &off) == 2 && off > 0,
			  "bad record %s", line);
		T_ASSERTF(req != NULL, "unexpected line %s", line);
		n = strtol(req + 9, NULL, 10);
		T_ASSERTF(n >= 0 && n < count, "line number %ld out of range", n);
		rec = line + off;
		logtest_line(n, want, sizeof(want));
		T_ASSERTF(strcmp(rec, want) == 0, "stream %llx seq %llu is not line %ld: %s",
			  id, seq, n, rec);
		for (i = 0; i < nst && st[i].id != id; i++)
			;
		if (i == nst) {
			T_ASSERT(nst < 16);
			memset(&st[nst], 0, sizeof(st[nst]));
			st[nst].id = id;
			st[nst].last_n = -1;
			nst++;
		}
		if (seq >= st[i].nseq) {
			size_t ns = (size_t)seq * 2 + 1024;

			st[i].byseq = realloc(st[i].byseq, ns * sizeof(long));
			T_ASSERT(st[i].byseq != NULL);
			for (size_t k = st[i].nseq; k < ns; k++)
				st[i].byseq[k] = -1;
			st[i].nseq = ns;
		}
		if (st[i].byseq[seq] >= 0) {
			/* Stored again (a writer that lost its state): it must
			 * be the same line. */
			T_ASSERTF(st[i].byseq[seq] == n, "stream %llx seq %llu: line %ld, "
				  "then line %ld", id, seq, st[i].byseq[seq], n);
			r->dups++;
			continue;
		}
		st[i].byseq[seq] = n;
		if (seq > st[i].last_seq) {
			T_ASSERTF(n > st[i].last_n, "stream %llx: line %ld after %ld", id, n,
				  st[i].last_n);
			st[i].last_seq = seq;
			st[i].last_n = n;
		}
		if (seen[n])
			t_fail(__FILE__, __LINE__, "line %ld stored under two sequence numbers", n);
		seen[n] = 1;
	}
	for (long n = 0; n < count; n++) {
		if (seen[n] && r->first_present < 0)
			r->first_present = n;
		if (!seen[n]) {
			r->missing++;
			if (r->first_present >= 0)
				r->missing_above++;
		}
	}
	for (int i = 0; i < nst; i++)
		free(st[i].byseq);
	r->streams = nst;
	free(line);
	free(seen);
	fclose(fp);
	T_ASSERTF(missing_ok || r->missing == 0, "%ld of %ld lines missing (%s)", r->missing,
		  count, path);
}

LT_FN void check_out(const char *path, long count, long *dups, long *missing,
		      int missing_ok)
{
	struct logcheck r;

	check_out_ex(path, count, missing_ok, &r);
	*dups = r.dups;
	*missing = r.missing;
}

/* Waits until path has a record of line n (a subscriber's output). */
LT_FN int wait_line(const char *path, long n, int ms)
{
	char needle[64];

	snprintf(needle, sizeof(needle), "GET /req/%ld ", n);
	return wait_file_has(path, needle, ms);
}

/* ---- chorus-logd processes ---- */

/* Lines of the file at path that contain needle (0 if it is absent). */
__attribute__((unused)) static long logtest_count(const char *path, const char *needle)
{
	FILE *fp = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0;
	long n = 0;

	if (!fp)
		return 0;
	while (getline(&line, &cap, fp) > 0)
		n += strstr(line, needle) != NULL;
	free(line);
	fclose(fp);
	return n;
}

/* A chorus-logd process of a test. */
struct logdp {
	pid_t pid;
	char dir[200];     /* its files: conf, state/, logs/, <name>.err */
	char conf[256];
	char err[256];
	char name[32];
};

/* Starts chorus-logd as writer `name` on daemon (Spread form) for group,
 * with its configuration written into dir (created if missing): state in
 * dir/state-<name>, lines in dir/logs/<group>/<node>.log (or `file`, a
 * pattern, if not NULL), quarantine in dir/quarantine-<group>.log.
 * `global` and `log` are extra configuration lines for the top level and
 * the Log block (may be NULL). Waits until it has joined the group. */
__attribute__((unused)) static void logdp_start_ex(struct logdp *l, const char *daemon, const char *group,
			   const char *dir, const char *name, const char *file,
			   const char *global, const char *log)
{
	char needle[64];
	long before;
	FILE *fp;
	int64_t until;

	memset(l, 0, sizeof(*l));
	snprintf(l->dir, sizeof(l->dir), "%s", dir);
	snprintf(l->name, sizeof(l->name), "%s", name);
	snprintf(l->conf, sizeof(l->conf), "%s/%s.conf", dir, name);
	snprintf(l->err, sizeof(l->err), "%s/%s.err", dir, name);
	mkdir(dir, 0755);
	fp = fopen(l->conf, "w");
	T_ASSERTF(fp != NULL, "cannot write %s", l->conf);
	fprintf(fp, "WriterId = %s\nStateDir = %s/state-%s\nFsync = 50ms\n"
		"StatusInterval = 0\nQuarantine = %s/quarantine-%%g.log\n%s\n"
		"Spread {\n\tPort = %s\n\tLog {\n\t\tGroup = %s\n\t\tFile = ",
		name, dir, name, dir, global ? global : "", daemon, group);
	if (file)
		fprintf(fp, "\"%s\"\n", file);
	else
		fprintf(fp, "\"%s/logs/%%g/%%n.log\"\n", dir);
	fprintf(fp, "%s\n\t}\n}\n", log ? log : "");
	fclose(fp);
	/* Keep the log of earlier runs: tests look for lines in it. */
	snprintf(needle, sizeof(needle), "joined %s on", group);
	before = logtest_count(l->err, needle);
	l->pid = fork();
	if (l->pid == 0) {
		int fd = open(l->err, O_WRONLY | O_CREAT | O_APPEND, 0644);

		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		close_range(3, ~0u, 0);
		execl(logtest_build_path("chorus-logd"), "chorus-logd", "-c", l->conf,
		      (char *)NULL);
		_exit(127);
	}
	until = t_now_ms() + 15000;
	for (;;) {
		int status;

		if (logtest_count(l->err, needle) > before)
			break;
		if (waitpid(l->pid, &status, WNOHANG) == l->pid) {
			l->pid = 0;
			t_fail(__FILE__, __LINE__, "chorus-logd exited at start (%s)", l->err);
		}
		if (t_now_ms() > until)
			t_fail(__FILE__, __LINE__, "chorus-logd did not join %s (%s)", group,
			       l->err);
		usleep(10000);
	}
}

__attribute__((unused)) static void logdp_start(struct logdp *l, const char *daemon, const char *group,
			const char *dir, const char *name)
{
	logdp_start_ex(l, daemon, group, dir, name, NULL, NULL, NULL);
}

/* Sends sig; waits for the exit. SIGTERM must end it with status 0. */
__attribute__((unused)) static void logdp_stop(struct logdp *l, int sig)
{
	int status = 0;

	if (l->pid <= 0)
		return;
	kill(l->pid, sig);
	waitpid(l->pid, &status, 0);
	l->pid = 0;
	if (sig == SIGTERM)
		T_ASSERTF(WIFEXITED(status) && WEXITSTATUS(status) == 0,
			  "chorus-logd exit status %d (%s)", status, l->err);
}

#endif /* CHORUS_LOGTEST_H */
