/*
 * logtest.h - helpers shared by the log pipeline's integration tests:
 * the test subscriber (logsub.h), and killing and restarting a chorusd
 * of the harness on the same port and configuration.
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

#endif /* CHORUS_LOGTEST_H */
