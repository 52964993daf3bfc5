/*
 * logtest.h - helpers shared by the log pipeline's integration tests:
 * the test subscriber (logsub.h), and killing and restarting a chorusd
 * of the harness on the same port and configuration.
 *
 * It also starts the real writer, chorus-logd, where a test wants it in
 * place of the test subscriber (logdp_*): its configuration, state and
 * files live in a directory of the test's choosing.
 *
 * Header-only, static functions: the Makefile links one fixed helper
 * (harness.c) into every integration test.
 */
#ifndef CHORUS_LOGTEST_H
#define CHORUS_LOGTEST_H

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

/* $CHORUS_BUILD/prog (default build/prog), in one of 4 rotating buffers. */
static const char *logtest_build_path(const char *prog)
{
	static char path[4][512];
	static int k;
	const char *b = getenv("CHORUS_BUILD");

	k = (k + 1) % 4;
	snprintf(path[k], sizeof(path[k]), "%s/%s", b ? b : "build", prog);
	return path[k];
}

/* Restarts a daemon that was killed, on the same port and config. */
static void hd_restart(struct hd *d)
{
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
		execl(logtest_build_path("chorusd"), "chorusd", "-c", d->conf, "-n", "localhost",
		      (char *)NULL);
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

static void hd_kill9(struct hd *d)
{
	int status;

	kill(d->pid, SIGKILL);
	waitpid(d->pid, &status, 0);
	d->pid = 0;
}

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
