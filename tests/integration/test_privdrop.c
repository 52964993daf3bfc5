/*
 * test_privdrop.c - chorusd started as root with DaemonUser gives root
 * up after binding its sockets (src/daemon/dpriv.c): the kernel's view
 * of its ids, clients over TCP and the Unix socket, a restart, a ring
 * whose state file is rewritten after the drop, and the configurations
 * it refuses rather than running as root. Needs root and an
 * unprivileged user of the system (nobody or daemon); skips otherwise.
 */
#include <errno.h>
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
#include "sp.h"
#include "t.h"

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
	/* The daemons' directories are theirs. */
	hd_dir_uid = user_uid;
	hd_dir_gid = user_gid;
}

static int runs_as_user(pid_t pid)
{
	struct hd_user u = { user_name, user_uid, user_gid };

	return hd_runs_as(pid, &u);
}

/* The daemon listens a moment before it drops root: waits up to 5 s
 * for runs_as_user(). */
static int drops_soon(pid_t pid)
{
	int64_t until = t_now_ms() + 5000;

	while (!runs_as_user(pid)) {
		if (t_now_ms() > until)
			return 0;
		usleep(5000);
	}
	return 1;
}

/* Connects to addr, joins g, sends one message and receives it back:
 * the daemon works for this client. */
static void round_trip(const char *addr, const char *g)
{
	char pg[MAX_GROUP_NAME], sender[MAX_GROUP_NAME], groups[4][MAX_GROUP_NAME];
	char buf[256];
	service st;
	int16 mt;
	int ng, em, n;
	mailbox m;
	int rc = SP_connect(addr, NULL, 0, 1, &m, pg);

	T_ASSERTF(rc == ACCEPT_SESSION, "SP_connect %s: %d", addr, rc);
	T_EQ(SP_join(m, g), 0);
	T_ASSERT(SP_multicast(m, AGREED_MESS, g, 7, 5, "hello") == 5);
	for (;;) {
		struct pollfd p = { m, POLLIN, 0 };

		if (SP_poll(m) <= 0)
			T_ASSERTF(poll(&p, 1, 10000) == 1, "nothing from %s in 10 s", addr);
		st = 0;
		n = SP_receive(m, &st, sender, 4, &ng, groups, &mt, &em,
			       (int)sizeof(buf), buf);
		T_ASSERTF(n >= 0, "SP_receive: %d", n);
		if (Is_regular_mess(st))
			break;
	}
	T_EQ(n, 5);
	T_MEMEQ(buf, "hello", 5);
	T_EQ(mt, 7);
	T_STREQ(sender, pg);
	SP_disconnect(m);
}

/* Stops d with SIGTERM and keeps its directory for a restart; the
 * unprivileged daemon must exit cleanly and remove its socket. */
static void stop_for_restart(struct hd *d)
{
	int status = 0;

	hd_kill(d, SIGTERM);
	T_EQ(waitpid(d->pid, &status, 0), d->pid);
	d->pid = 0;
	T_ASSERTF(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		  "chorusd exit status %d (log %s)", status, d->log);
	T_ASSERTF(access(d->unix_path, F_OK) != 0, "socket %s left behind",
		  d->unix_path);
}

static void drop_then_serve_and_restart(void)
{
	char extra[128];
	struct stat st;
	struct hd d;

	need_root_and_user();
	snprintf(extra, sizeof(extra), "DaemonUser = %s\n", user_name);
	hd_start(&d, extra);
	T_ASSERTF(hd_wait_log(&d, "running as user", 5000), "log %s", d.log);
	T_ASSERTF(drops_soon(d.pid), "chorusd %d still has root ids", (int)d.pid);
	round_trip(d.tcp_addr, "pd-tcp");
	round_trip(d.unix_addr, "pd-unix");
	/* Every local user may connect: the socket is 0666. */
	T_EQ(lstat(d.unix_path, &st), 0);
	T_ASSERT(S_ISSOCK(st.st_mode));
	T_EQ(st.st_mode & 07777, 0666);
	T_ASSERT(!hd_log_has(&d, "running as root"));
	stop_for_restart(&d);
	/* A restart binds the same port and socket name again. */
	snprintf(d.name, sizeof(d.name), "localhost");
	hd_respawn(&d);
	T_ASSERTF(drops_soon(d.pid), "restarted chorusd %d has root ids",
		  (int)d.pid);
	round_trip(d.unix_addr, "pd-unix2");
	round_trip(d.tcp_addr, "pd-tcp2");
	hd_stop(&d);
}

/* Without DaemonUser, a daemon started as root says that it runs as
 * root (and keeps working as before). */
static void no_user_warns(void)
{
	struct hd d;

	if (geteuid() != 0)
		t_skip("not root");
	hd_start(&d, NULL);
	T_ASSERT(hd_wait_log(&d, "running as root: set DaemonUser", 5000));
	round_trip(d.tcp_addr, "pd-root");
	hd_stop(&d);
}

static void ring_after_drop(void)
{
	char base[64], run[96], extra[256], state[160];
	struct hd_ring r;
	struct stat st;
	FILE *fp;
	unsigned inc1 = 0, inc2 = 0, seq;

	need_root_and_user();
	snprintf(base, sizeof(base), "/tmp/test_privdrop.XXXXXX");
	T_ASSERT(mkdtemp(base));
	T_EQ(chmod(base, 0755), 0);
	/* chorusd creates RuntimeDir for its user; both daemons keep their
	 * state files there (the names differ). */
	snprintf(run, sizeof(run), "%s/run", base);
	snprintf(extra, sizeof(extra), "DaemonUser = %s\nRuntimeDir = \"%s\"\n",
		 user_name, run);
	hd_ring_start(&r, 2, extra);
	for (int i = 0; i < 2; i++) {
		T_ASSERTF(hd_wait_log(&r.d[i], "regular configuration installed", 15000),
			  "no ring (log %s)", r.d[i].log);
		T_ASSERT(drops_soon(r.d[i].pid));
	}
	T_EQ(lstat(run, &st), 0);
	T_EQ(st.st_uid, user_uid);
	T_EQ(st.st_mode & 07777, 0755);
	round_trip(r.d[1].tcp_addr, "pd-ring");
	/* The state file was rewritten by the unprivileged daemon. */
	snprintf(state, sizeof(state), "%s/chorusd-d1.state", run);
	T_EQ(stat(state, &st), 0);
	T_EQ(st.st_uid, user_uid);
	T_ASSERT(!hd_log_has(&r.d[0], "cannot write"));
	fp = fopen(state, "r");
	T_ASSERT(fp && fscanf(fp, "incarnation %u ring_seq %u", &inc1, &seq) == 2);
	fclose(fp);
	/* Restart d1: it reads the file and starts a later incarnation. */
	stop_for_restart(&r.d[0]);
	hd_respawn(&r.d[0]);
	T_ASSERT(drops_soon(r.d[0].pid));
	fp = fopen(state, "r");
	T_ASSERT(fp && fscanf(fp, "incarnation %u ring_seq %u", &inc2, &seq) == 2);
	fclose(fp);
	T_ASSERTF(inc2 > inc1, "incarnation %u after %u", inc2, inc1);
	round_trip(r.d[0].unix_addr, "pd-ring2");
	hd_ring_stop(&r);
	snprintf(extra, sizeof(extra), "rm -rf '%s'", base);
	T_EQ(system(extra), 0);
}

/* Runs chorusd as localhost of a segment of `hosts` (NULL: itself
 * alone) with the lines `extra`; it must exit at once with an error that
 * contains `want`. */
static void refused_on(const char *dir, const char *hosts, const char *extra,
		       const char *want)
{
	char conf[160], cmd[512], out[4096];
	const char *b = getenv("CHORUS_BUILD");
	size_t n;
	FILE *fp;
	int rc;

	snprintf(conf, sizeof(conf), "%s/spread.conf", dir);
	fp = fopen(conf, "w");
	T_ASSERT(fp);
	fprintf(fp, "Spread_Segment 127.0.0.255:%u {\n\tlocalhost 127.0.0.1\n%s}\n%s\n",
		hd_free_port(), hosts ? hosts : "", extra);
	fclose(fp);
	snprintf(cmd, sizeof(cmd), "timeout 10 %s/chorusd -c %s -n localhost 2>&1",
		 b ? b : "build", conf);
	fp = popen(cmd, "r");
	T_ASSERT(fp);
	n = fread(out, 1, sizeof(out) - 1, fp);
	out[n] = 0;
	rc = pclose(fp);
	T_ASSERTF(rc != 0 && WEXITSTATUS(rc) != 124, "chorusd ran with:\n%s", extra);
	T_ASSERTF(strstr(out, want), "\"%s\" not in: %s", want, out);
}

static void refused(const char *dir, const char *extra, const char *want)
{
	refused_on(dir, NULL, extra, want);
}

static void refuses_instead_of_root(void)
{
	char dir[64], lines[512], sub[128];

	need_root_and_user();
	snprintf(dir, sizeof(dir), "/tmp/test_privdrop.XXXXXX");
	T_ASSERT(mkdtemp(dir));
	T_EQ(chmod(dir, 0755), 0);
	/* (UnixSocketDir is the user's: only the point of each case is
	 * wrong.) */
	snprintf(sub, sizeof(sub), "%s/sock", dir);
	T_EQ(mkdir(sub, 0755), 0);
	T_EQ(chown(sub, user_uid, user_gid), 0);
	snprintf(lines, sizeof(lines), "UnixSocketDir = \"%s\"\n"
		 "DaemonUser = chorus-no-such-user", sub);
	refused(dir, lines, "user \"chorus-no-such-user\" does not exist; "
		"chorusd does not run as root instead");
	snprintf(lines, sizeof(lines), "UnixSocketDir = \"%s\"\n"
		 "DaemonUser = %s\nDaemonGroup = chorus-no-such-group", sub, user_name);
	refused(dir, lines, "group \"chorus-no-such-group\" does not exist");
	snprintf(lines, sizeof(lines), "DaemonGroup = %s", user_name);
	refused(dir, lines, "without DaemonUser");
	refused(dir, "DaemonUser = root", "is root (uid 0)");
	/* A socket directory others can write (here /tmp itself), and one
	 * of root's the user cannot remove its socket from. */
	snprintf(lines, sizeof(lines), "DaemonUser = %s\nUnixSocketDir = /tmp", user_name);
	refused(dir, lines, "/tmp is writable by every user");
	snprintf(lines, sizeof(lines), "DaemonUser = %s\nUnixSocketDir = \"%s\"",
		 user_name, dir);
	refused(dir, lines, "is not writable by");
	/* A RuntimeDir the user cannot write, on a ring. */
	snprintf(lines, sizeof(lines),
		 "UnixSocketDir = \"%s/sock\"\nRuntimeDir = \"%s\"\nDaemonUser = %s",
		 dir, dir, user_name);
	refused_on(dir, "\tpeer 127.0.0.9\n", lines, "is not writable by");
	snprintf(lines, sizeof(lines), "rm -rf '%s'", dir);
	T_EQ(system(lines), 0);
}

/* EventLogFile is opened as root, before the drop: a symbolic link in
 * its place is refused (the file it points to stays untouched), and a
 * new log is created private to owner and group (mode 0640). */
static void event_log_no_symlink(void)
{
	char dir[64], lines[256], log[128], victim[128], cmd[512];
	const char *b = getenv("CHORUS_BUILD");
	struct stat st;
	FILE *fp;

	if (geteuid() != 0)
		t_skip("not root: the event log is root's concern");
	snprintf(dir, sizeof(dir), "/tmp/test_privdrop.XXXXXX");
	T_ASSERT(mkdtemp(dir));
	snprintf(log, sizeof(log), "%s/events.log", dir);
	snprintf(victim, sizeof(victim), "%s/victim", dir);
	fp = fopen(victim, "w");
	T_ASSERT(fp);
	fclose(fp);
	T_EQ(symlink(victim, log), 0);
	snprintf(lines, sizeof(lines), "UnixSocketDir = \"%s\"\nEventLogFile = \"%s\"",
		 dir, log);
	refused(dir, lines, "a symbolic link");
	T_EQ(stat(victim, &st), 0);
	T_EQ(st.st_size, 0);
	T_EQ(unlink(log), 0);
	/* A regular file: created 0640 whatever the umask, and written. */
	snprintf(cmd, sizeof(cmd), "umask 0; timeout 2 %s/chorusd -c %s/spread.conf "
		 "-n localhost >/dev/null 2>&1", b ? b : "build", dir);
	T_EQ(WEXITSTATUS(system(cmd)), 124);
	T_EQ(lstat(log, &st), 0);
	T_ASSERT(S_ISREG(st.st_mode));
	T_EQ(st.st_mode & 07777, 0640);
	T_ASSERT(st.st_size > 0);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	T_EQ(system(cmd), 0);
}

int main(int argc, char **argv)
{
	static const struct t_case cases[] = {
		T_CASE_TIMEOUT(drop_then_serve_and_restart, 60),
		T_CASE(no_user_warns),
		T_CASE_TIMEOUT(ring_after_drop, 90),
		T_CASE_TIMEOUT(refuses_instead_of_root, 60),
		T_CASE_TIMEOUT(event_log_no_symlink, 30),
	};

	return t_main(argc, argv, cases, T_COUNT(cases));
}
