/*
 * test_log_privdrop.c - chorus-log -u and chorus-logd's User, started
 * as root as Apache and init start them: each runs as the user before it
 * touches the network, the spool and the state directory are created
 * for that user, lines go through, SIGHUP reopens the moved file as the
 * user, a restart works; and a user that does not exist, or a log
 * directory the user cannot write, stops them instead of leaving them
 * root. Needs root and an unprivileged user (nobody or daemon); skips
 * otherwise.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "logtest.h"
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

static const char *user_name;
static uid_t user_uid;
static gid_t user_gid;

/* Skips the case unless we are root and have an unprivileged user. */
static void need_root_and_user(void)
{
	struct hd_user u;

	hd_need_root_and_user(&u);
	user_name = u.name;
	user_uid = u.uid;
	user_gid = u.gid;
}

static int runs_as_user(pid_t pid)
{
	struct hd_user u = { user_name, user_uid, user_gid };

	return hd_runs_as(pid, &u);
}

/* The line number (1-based) of the first line of path holding needle,
 * or 0. */
static int line_of(const char *path, const char *needle)
{
	char line[1024];
	int n = 0;
	FILE *fp = fopen(path, "r");

	if (!fp)
		return 0;
	while (fgets(line, sizeof(line), fp)) {
		n++;
		if (strstr(line, needle)) {
			fclose(fp);
			return n;
		}
	}
	fclose(fp);
	return 0;
}

static void owned_by_user(const char *path)
{
	struct stat st;

	T_ASSERTF(lstat(path, &st) == 0, "%s: %s", path, strerror(errno));
	T_ASSERTF(st.st_uid == user_uid, "%s belongs to uid %u", path,
		  (unsigned)st.st_uid);
}

/* Counts the request lines of the files (a shell list). */
static long lines_in(const char *files)
{
	char cmd[1024], buf[64] = "";
	FILE *fp;

	snprintf(cmd, sizeof(cmd), "cat %s 2>/dev/null | grep -c 'GET /req/'", files);
	fp = popen(cmd, "r");
	T_ASSERT(fp);
	if (!fgets(buf, sizeof(buf), fp))
		buf[0] = 0;
	pclose(fp);
	return strtol(buf, NULL, 10);
}

static void log_and_logd_as_user(void)
{
	const char *opts[] = { "-u", NULL, NULL };
	char global[64], spool[128], state[128], file[300], moved[320], both[700];
	struct logdp w;
	struct clp c;
	struct hd d;

	need_root_and_user();
	logtest_mkdir();
	/* The test directory is the user's, as /var/log/chorus would be. */
	T_EQ(chown(logtest_dir, user_uid, user_gid), 0);
	T_EQ(chmod(logtest_dir, 0755), 0);
	hd_start(&d, NULL);
	snprintf(global, sizeof(global), "User = %s", user_name);
	logdp_start_ex(&w, d.tcp_addr, "logs", logtest_dir, "w1", NULL, global, NULL);
	T_ASSERT(runs_as_user(w.pid));
	T_ASSERT(file_has(w.err, "running as user"));
	snprintf(state, sizeof(state), "%s/state-w1", logtest_dir);
	owned_by_user(state);
	opts[1] = user_name;
	clp_start(&c, "log", d.tcp_addr, opts);
	write_lines(c.in, 0, 2000, NULL, 0);
	snprintf(file, sizeof(file), "%s/logs/logs/node1.log", logtest_dir);
	T_ASSERTF(wait_file_has(file, "GET /req/1999 ", 20000), "lines missing in %s",
		  file);
	/* chorus-log: the user's from before its first connection on. */
	T_ASSERT(runs_as_user(c.pid));
	T_ASSERTF(line_of(c.err, "running as user") > 0 &&
		  line_of(c.err, "running as user") < line_of(c.err, "connected to the daemon"),
		  "not dropped before connecting (%s)", c.err);
	snprintf(spool, sizeof(spool), "%s/spool", logtest_dir);
	owned_by_user(spool);
	{
		struct stat st;

		T_EQ(stat(spool, &st), 0);
		T_EQ(st.st_mode & 07777, 0750);
	}
	owned_by_user(file);
	/* What logrotate does: move the file, SIGHUP; the writer, no longer
	 * root, makes the new file. */
	snprintf(moved, sizeof(moved), "%s.moved", file);
	T_EQ(rename(file, moved), 0);
	kill(w.pid, SIGHUP);
	T_ASSERT(wait_file_has(w.err, "SIGHUP: reopening every file", 5000));
	write_lines(c.in, 2000, 3000, NULL, 0);
	T_EQ(clp_finish(&c, 30000), 0);
	T_ASSERTF(file_has(c.err, "0 left in the spool"), "stderr %s", c.err);
	T_ASSERTF(wait_file_has(file, "GET /req/2999 ", 20000), "no new %s", file);
	owned_by_user(file);
	snprintf(both, sizeof(both), "%s %s", moved, file);
	T_EQ(lines_in(both), 3000);
	/* A restart as the user, on the state it left. */
	logdp_stop(&w, SIGTERM);
	logdp_start_ex(&w, d.tcp_addr, "logs", logtest_dir, "w1", NULL, global, NULL);
	T_ASSERT(runs_as_user(w.pid));
	opts[1] = user_name;
	clp_start(&c, "log2", d.tcp_addr, opts);
	write_lines(c.in, 3000, 3100, NULL, 0);
	T_EQ(clp_finish(&c, 30000), 0);
	T_ASSERTF(wait_file_has(file, "GET /req/3099 ", 20000), "no lines after restart");
	T_EQ(lines_in(both), 3100);
	logdp_stop(&w, SIGTERM);
	hd_stop(&d);
	logtest_rmdir();
}

/* Runs cmd (a shell command); returns its exit status and the output. */
static int run(const char *cmd, char *out, size_t cap)
{
	FILE *fp = popen(cmd, "r");
	size_t n;
	int rc;

	T_ASSERT(fp);
	n = fread(out, 1, cap - 1, fp);
	out[n] = 0;
	rc = pclose(fp);
	return WIFEXITED(rc) ? WEXITSTATUS(rc) : 128;
}

static void refusals(void)
{
	char cmd[1024], out[4096], conf[160], logs[160];
	FILE *fp;

	need_root_and_user();
	logtest_mkdir();
	T_EQ(chmod(logtest_dir, 0755), 0);
	/* chorus-log: no such user; a malformed -u. */
	snprintf(cmd, sizeof(cmd), "timeout 10 %s -g logs -h n -d %s/spool "
		 "-u chorus-no-such-user < /dev/null 2>&1",
		 logtest_build_path("chorus-log"), logtest_dir);
	T_ASSERT(run(cmd, out, sizeof(out)) == 1);
	T_ASSERTF(strstr(out, "user \"chorus-no-such-user\" does not exist; "
			 "chorus-log does not run as root instead"), "%s", out);
	T_ASSERT(access(logtest_dir, F_OK) == 0);
	/* chorus-log as root without -u: it runs, and says it is root. */
	snprintf(cmd, sizeof(cmd), "timeout 10 %s -g logs -h n -d %s/rootspool "
		 "-s 1@127.0.0.1 < /dev/null 2>&1", logtest_build_path("chorus-log"),
		 logtest_dir);
	T_EQ(run(cmd, out, sizeof(out)), 0);
	T_ASSERTF(strstr(out, "running as root: give -u USER"), "%s", out);
	snprintf(cmd, sizeof(cmd), "timeout 10 %s -g logs -u a:b:c < /dev/null 2>&1",
		 logtest_build_path("chorus-log"));
	T_EQ(run(cmd, out, sizeof(out)), 2);
	T_ASSERTF(strstr(out, "-u: \"a:b:c\": more than one ':'"), "%s", out);
	/* chorus-logd: no such user (User, then -u); a log directory of
	 * root's. */
	snprintf(conf, sizeof(conf), "%s/w.conf", logtest_dir);
	snprintf(logs, sizeof(logs), "%s/rootlogs", logtest_dir);
	T_EQ(mkdir(logs, 0755), 0);
	fp = fopen(conf, "w");
	T_ASSERT(fp);
	fprintf(fp, "User = chorus-no-such-user\nStateDir = %s/state\n"
		"Quarantine = %s/q-%%g.log\nSpread { Port = 1@127.0.0.1 Log { Group = g "
		"File = %s/%%g.log } }\n", logtest_dir, logtest_dir, logs);
	fclose(fp);
	snprintf(cmd, sizeof(cmd), "timeout 10 %s -c %s 2>&1",
		 logtest_build_path("chorus-logd"), conf);
	T_EQ(run(cmd, out, sizeof(out)), 1);
	T_ASSERTF(strstr(out, "does not exist; chorus-logd does not run as root "
			 "instead"), "%s", out);
	snprintf(cmd, sizeof(cmd), "timeout 10 %s -c %s -u %s 2>&1",
		 logtest_build_path("chorus-logd"), conf, user_name);
	T_EQ(run(cmd, out, sizeof(out)), 1);
	T_ASSERTF(strstr(out, "cannot make files in"), "%s", out);
	T_ASSERTF(strstr(out, logtest_dir), "%s", out);
	owned_by_user(strcat(strcpy(cmd, logtest_dir), "/state"));
	logtest_rmdir();
}

/* A spool root that is not the user's: chorus-log says why and spools,
 * as the user, in its private fallback directory instead of stalling
 * Apache. */
static void spool_not_theirs(void)
{
	/* No writer acknowledges: -T 0 ends it at end of input. */
	const char *opts[] = { "-T", "0", "-u", NULL, NULL };
	char env[128], alt[160], spool[128];
	struct clp c;
	struct hd d;

	need_root_and_user();
	logtest_mkdir();
	T_EQ(chown(logtest_dir, user_uid, user_gid), 0);
	T_EQ(chmod(logtest_dir, 0755), 0);
	snprintf(spool, sizeof(spool), "%s/spool", logtest_dir);
	T_EQ(mkdir(spool, 0755), 0); /* root's */
	snprintf(env, sizeof(env), "TMPDIR=%s", logtest_dir);
	hd_start(&d, NULL);
	opts[3] = user_name;
	clp_start_ex(&c, "log", d.tcp_addr, opts, -1, env);
	write_lines(c.in, 0, 10, NULL, 0);
	T_EQ(clp_finish(&c, 30000), 0);
	T_ASSERTF(file_has(c.err, "the spool root cannot be used"), "%s", c.err);
	T_ASSERTF(file_has(c.err, "SPOOLING UNDER"), "%s", c.err);
	snprintf(alt, sizeof(alt), "%s/chorus-log-%u", logtest_dir, (unsigned)user_uid);
	owned_by_user(alt);
	hd_stop(&d);
	logtest_rmdir();
}

int main(int argc, char **argv)
{
	static const struct t_case cases[] = {
		T_CASE_TIMEOUT(log_and_logd_as_user, 120),
		T_CASE_TIMEOUT(refusals, 60),
		T_CASE_TIMEOUT(spool_not_theirs, 60),
	};

	return t_main(argc, argv, cases, T_COUNT(cases));
}
