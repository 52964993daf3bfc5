/*
 * t.c - test harness (see t.h).
 */
#include "t.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define T_EXIT_SKIP 77

void t_fail(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	fprintf(stdout, "%s:%d: ", file, line);
	va_start(ap, fmt);
	vfprintf(stdout, fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	fflush(stdout);
	_exit(1);
}

void t_skip(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfprintf(stdout, fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	fflush(stdout);
	_exit(T_EXIT_SKIP);
}

unsigned char *t_read_file(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	unsigned char *buf;
	long n;

	if (!fp)
		t_fail(__FILE__, __LINE__, "cannot open %s", path);
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	fseek(fp, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	if (!buf || fread(buf, 1, (size_t)n, fp) != (size_t)n)
		t_fail(__FILE__, __LINE__, "cannot read %s", path);
	fclose(fp);
	*len = (size_t)n;
	return buf;
}

const char *t_transcripts_dir(void)
{
	static const char *const dirs[] = {
		"../shared/spec/transcripts",
		"../../shared/spec/transcripts",
	};
	const char *env = getenv("CHORUS_TRANSCRIPTS");
	struct stat st;

	if (env && stat(env, &st) == 0)
		return env;
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
		if (stat(dirs[i], &st) == 0)
			return dirs[i];
	return NULL;
}

/* Runs one case in a child; returns 0 pass, 1 fail, 2 skip. The child's
 * output (the failure or skip reason) comes through a pipe. */
static int run_case(const char *prog, const struct t_case *c)
{
	int fds[2], status = 0, timeout = c->timeout_s ? c->timeout_s : 30;
	char why[2048];
	size_t got = 0;
	ssize_t r;
	pid_t pid;

	fflush(stdout);
	if (pipe(fds) != 0)
		return 1;
	pid = fork();
	if (pid == 0) {
		close(fds[0]);
		dup2(fds[1], 1);
		close(fds[1]);
		setpgid(0, 0);
		alarm((unsigned)timeout);
		c->fn();
		fflush(stdout);
		/* exit(), not _exit(): LeakSanitizer checks at exit. */
		exit(0);
	}
	close(fds[1]);
	/* Keep what fits and drain the rest, so the child never blocks. Stop
	 * when the child has exited and its process group is taken down:
	 * a grandchild that inherited the pipe must not hold the run. */
	for (int exited = 0, quiet_ms = 0;;) {
		struct pollfd p = { fds[0], POLLIN, 0 };
		char sink[4096];

		if (!exited && waitpid(pid, &status, WNOHANG) == pid) {
			exited = 1;
			kill(-pid, SIGKILL);
		}
		if (poll(&p, 1, 50) <= 0) {
			if (exited && (quiet_ms += 50) >= 1000)
				break;
			continue;
		}
		if (got < sizeof(why) - 1)
			r = read(fds[0], why + got, sizeof(why) - 1 - got);
		else
			r = read(fds[0], sink, sizeof(sink));
		if (r <= 0)
			break;
		if (got < sizeof(why) - 1)
			got += (size_t)r;
	}
	why[got] = 0;
	while (got > 0 && (why[got - 1] == '\n'))
		why[--got] = 0;
	close(fds[0]);
	if (waitpid(pid, &status, 0) < 0 && errno != ECHILD)
		status = 1;
	/* Take down anything the case left running in its process group. */
	kill(-pid, SIGKILL);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		printf("PASS %s.%s\n", prog, c->name);
		return 0;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == T_EXIT_SKIP) {
		printf("SKIP %s.%s: %s\n", prog, c->name, why);
		return 2;
	}
	if (WIFSIGNALED(status))
		printf("FAIL %s.%s: killed by signal %d%s %s\n", prog, c->name,
		       WTERMSIG(status),
		       WTERMSIG(status) == SIGALRM ? " (timeout)" : "", why);
	else
		printf("FAIL %s.%s: %s\n", prog, c->name, why[0] ? why : "failed");
	return 1;
}

int t_main(int argc, char **argv, const struct t_case *cases, size_t n)
{
	const char *prog = strrchr(argv[0], '/');
	int failed = 0, ran = 0;

	prog = prog ? prog + 1 : argv[0];
	signal(SIGPIPE, SIG_IGN);
	if (argc > 1 && strcmp(argv[1], "-l") == 0) {
		for (size_t i = 0; i < n; i++)
			printf("%s\n", cases[i].name);
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		int want = argc < 2;

		for (int a = 1; a < argc; a++)
			if (strcmp(argv[a], cases[i].name) == 0)
				want = 1;
		if (!want)
			continue;
		ran++;
		if (run_case(prog, &cases[i]) == 1)
			failed = 1;
	}
	if (ran == 0 && argc > 1) {
		fprintf(stderr, "%s: no such case\n", prog);
		return 2;
	}
	return failed;
}
