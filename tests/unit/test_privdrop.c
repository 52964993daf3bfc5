/*
 * test_privdrop.c - src/util/privdrop.c: user specs, look-ups, the
 * directory checks and, as root, the drop itself (each case runs in a
 * child process, so a drop never leaks into another case).
 */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "t.h"
#include "util/privdrop.h"

static const struct {
	const char *spec, *user, *group, *err; /* err: NULL if accepted */
} specs[] = {
	{ "www-data", "www-data", "", NULL },
	{ "logger:adm", "logger", "adm", NULL },
	{ "a:b", "a", "b", NULL },
	{ "", NULL, NULL, "no user name" },
	{ ":adm", NULL, NULL, "no user name" },
	{ "logger:", NULL, NULL, "no group name" },
	{ "a:b:c", NULL, NULL, "more than one ':'" },
	{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	  NULL, NULL, "user name too long" },
	{ "a:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	  NULL, NULL, "group name too long" },
};

static void spec_table(void)
{
	for (size_t i = 0; i < T_COUNT(specs); i++) {
		char user[PD_NAME_MAX], group[PD_NAME_MAX], err[256] = "";
		int r = pd_parse_spec(specs[i].spec, user, sizeof(user), group,
				      sizeof(group), err, sizeof(err));

		if (!specs[i].err) {
			T_ASSERTF(r == 0, "\"%s\": %s", specs[i].spec, err);
			T_STREQ(user, specs[i].user);
			T_STREQ(group, specs[i].group);
		} else {
			T_ASSERTF(r == -1, "\"%s\" accepted", specs[i].spec);
			T_ASSERTF(strstr(err, specs[i].err), "\"%s\": \"%s\"",
				  specs[i].spec, err);
		}
	}
}

/* An unprivileged user of this system (nobody or daemon), or NULL. */
static const char *plain_user(void)
{
	static const char *const names[] = { "nobody", "daemon" };

	for (size_t i = 0; i < T_COUNT(names); i++) {
		struct passwd *pw = getpwnam(names[i]);

		if (pw && pw->pw_uid != 0 && pw->pw_gid != 0)
			return names[i];
	}
	return NULL;
}

static void lookup_refusals(void)
{
	struct pd_ids ids;
	char err[256];

	T_EQ(pd_lookup("root", NULL, &ids, err, sizeof(err)), -1);
	T_ASSERTF(strstr(err, "is root (uid 0)"), "%s", err);
	T_EQ(pd_lookup("chorus-no-such-user", NULL, &ids, err, sizeof(err)), -1);
	T_ASSERTF(strstr(err, "user \"chorus-no-such-user\" does not exist"), "%s", err);
	T_EQ(pd_lookup("", NULL, &ids, err, sizeof(err)), -1);
}

static void lookup_user_and_group(void)
{
	const char *u = plain_user();
	struct passwd *pw;
	struct pd_ids ids;
	char err[256];

	if (!u)
		t_skip("no unprivileged user (nobody or daemon) in the user database");
	pw = getpwnam(u);
	T_ASSERT(pw);
	T_EQ(pd_lookup(u, "", &ids, err, sizeof(err)), 0);
	T_EQ(ids.uid, pw->pw_uid);
	T_EQ(ids.gid, pw->pw_gid);
	T_STREQ(ids.user, u);
	T_ASSERT(ids.group[0]);
	T_EQ(pd_lookup(u, "root", &ids, err, sizeof(err)), -1);
	T_ASSERTF(strstr(err, "gid 0"), "%s", err);
	T_EQ(pd_lookup(u, "chorus-no-such-group", &ids, err, sizeof(err)), -1);
	T_ASSERTF(strstr(err, "group \"chorus-no-such-group\" does not exist"), "%s", err);
}

/* The ids the directory checks run against: an unprivileged user as
 * root, else ourselves. */
static void test_ids(struct pd_ids *ids)
{
	memset(ids, 0, sizeof(*ids));
	if (geteuid() == 0) {
		const char *u = plain_user();
		char err[256];

		if (!u)
			t_skip("no unprivileged user (nobody or daemon) to check for");
		T_ASSERTF(pd_lookup(u, NULL, ids, err, sizeof(err)) == 0, "%s", err);
	} else {
		ids->uid = geteuid();
		ids->gid = getegid();
		snprintf(ids->user, sizeof(ids->user), "me");
		snprintf(ids->group, sizeof(ids->group), "mine");
	}
}

static char tmpl[64];

static const char *scratch(void)
{
	snprintf(tmpl, sizeof(tmpl), "/tmp/test_privdrop.XXXXXX");
	T_ASSERT(mkdtemp(tmpl));
	return tmpl;
}

static void cleanup(const char *dir)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	T_EQ(system(cmd), 0);
}

static void dir_checks(void)
{
	struct pd_ids ids;
	const char *top;
	char err[512], a[128], b[128], f[128], l[128];
	int fd;

	test_ids(&ids);
	top = scratch();
	/* Ours (root's or the user's), 0700: safe; writable only when the
	 * checked user owns it. */
	T_ASSERTF(pd_dir_check(top, &ids, 0, err, sizeof(err)) == 0, "%s", err);
	if (geteuid() == 0) {
		T_EQ(pd_dir_check(top, &ids, 1, err, sizeof(err)), -1);
		T_ASSERTF(strstr(err, "is not writable by"), "%s", err);
		T_EQ(chown(top, ids.uid, ids.gid), 0);
	}
	T_ASSERTF(pd_dir_check(top, &ids, 1, err, sizeof(err)) == 0, "%s", err);
	/* Writable by all, without and with the sticky bit. */
	T_EQ(chmod(top, 0777), 0);
	T_EQ(pd_dir_check(top, &ids, 0, err, sizeof(err)), -1);
	T_ASSERTF(strstr(err, "writable by every user"), "%s", err);
	T_EQ(chmod(top, 01777), 0);
	T_EQ(pd_dir_check(top, &ids, 0, err, sizeof(err)), -1);
	/* ... which a directory below may have above it only when sticky. */
	snprintf(a, sizeof(a), "%s/a", top);
	T_EQ(mkdir(a, 0755), 0);
	T_ASSERTF(pd_dir_check(a, &ids, 0, err, sizeof(err)) == 0, "%s", err);
	T_EQ(chmod(top, 0777), 0);
	T_EQ(pd_dir_check(a, &ids, 0, err, sizeof(err)), -1);
	T_ASSERTF(strstr(err, "is a parent of"), "%s", err);
	T_EQ(chmod(top, 0755), 0);
	/* Not a directory; a symbolic link to one. */
	snprintf(f, sizeof(f), "%s/f", top);
	fd = open(f, O_CREAT | O_WRONLY, 0600);
	T_ASSERT(fd >= 0);
	close(fd);
	T_EQ(pd_dir_check(f, &ids, 0, err, sizeof(err)), -1);
	T_ASSERTF(strstr(err, "is not a directory"), "%s", err);
	snprintf(l, sizeof(l), "%s/l", top);
	T_EQ(symlink(a, l), 0);
	T_EQ(pd_dir_check(l, &ids, 0, err, sizeof(err)), -1);
	T_ASSERTF(strstr(err, "symbolic link"), "%s", err);
	snprintf(b, sizeof(b), "%s/missing", top);
	T_EQ(pd_dir_check(b, &ids, 0, err, sizeof(err)), -1);
	T_ASSERTF(strstr(err, "No such file"), "%s", err);
	cleanup(top);
}

static void dir_group_and_owner(void)
{
	struct pd_ids ids;
	const char *top;
	char err[512];

	if (geteuid() != 0)
		t_skip("not root: cannot give a directory to other owners");
	test_ids(&ids);
	top = scratch();
	/* Writable by the user's group: fine, and enough to write in. */
	T_EQ(chown(top, 0, ids.gid), 0);
	T_EQ(chmod(top, 0770), 0);
	T_ASSERTF(pd_dir_check(top, &ids, 1, err, sizeof(err)) == 0, "%s", err);
	/* Writable by another group. */
	T_EQ(chown(top, 0, ids.gid + 1), 0);
	T_EQ(pd_dir_check(top, &ids, 0, err, sizeof(err)), -1);
	T_ASSERTF(strstr(err, "writable by group"), "%s", err);
	/* Owned by a third user. */
	T_EQ(chown(top, ids.uid + 1, 0), 0);
	T_EQ(chmod(top, 0755), 0);
	T_EQ(pd_dir_check(top, &ids, 0, err, sizeof(err)), -1);
	T_ASSERTF(strstr(err, "neither root nor"), "%s", err);
	cleanup(top);
}

static void dir_prepare_creates(void)
{
	struct pd_ids ids;
	struct stat st;
	const char *top;
	char err[512], d[128];

	test_ids(&ids);
	top = scratch();
	T_EQ(chmod(top, 0755), 0);
	snprintf(d, sizeof(d), "%s/run", top);
	umask(077);
	T_ASSERTF(pd_dir_prepare(d, &ids, 0750, 1, err, sizeof(err)) == 0, "%s", err);
	T_EQ(lstat(d, &st), 0);
	T_EQ(st.st_uid, ids.uid);
	T_EQ(st.st_gid, ids.gid);
	T_EQ(st.st_mode & 07777, 0750);
	/* A second time it is there already. */
	T_ASSERTF(pd_dir_prepare(d, &ids, 0750, 1, err, sizeof(err)) == 0, "%s", err);
	/* One level only: a missing parent is an error. */
	snprintf(d, sizeof(d), "%s/no/run", top);
	T_EQ(pd_dir_prepare(d, &ids, 0750, 1, err, sizeof(err)), -1);
	T_ASSERTF(strstr(err, "cannot create"), "%s", err);
	cleanup(top);
}

/* The service user owns the parent and keeps swapping the directory
 * being created for a symbolic link to a root file: root must never
 * change that file's owner or mode (bounded in tries and time). */
static void dir_prepare_race(void)
{
	struct pd_ids ids;
	struct stat st;
	const char *top;
	char err[512], par[80], d[96], moved[96], victim[96];
	time_t end;
	pid_t racer;
	int fd, tries = 0;

	if (geteuid() != 0)
		t_skip("not root: the race needs root's chown to be dangerous");
	test_ids(&ids);
	top = scratch();
	T_EQ(chmod(top, 0755), 0);
	snprintf(par, sizeof(par), "%s/par", top);
	snprintf(d, sizeof(d), "%s/d", par);
	snprintf(moved, sizeof(moved), "%s/x", par);
	snprintf(victim, sizeof(victim), "%s/victim", top);
	T_EQ(mkdir(par, 0755), 0);
	T_EQ(chown(par, ids.uid, ids.gid), 0);
	fd = open(victim, O_CREAT | O_WRONLY, 0600);
	T_ASSERT(fd >= 0);
	close(fd);
	T_EQ(chmod(victim, 0600), 0);
	racer = fork();
	T_ASSERT(racer >= 0);
	if (racer == 0) {
		if (setgid(ids.gid) != 0 || setuid(ids.uid) != 0)
			_exit(1);
		for (;;)
			if (rename(d, moved) == 0) {
				if (symlink(victim, d) != 0 && errno != EEXIST)
					_exit(1);
				if (rmdir(moved) != 0)
					unlink(moved);
			}
	}
	end = time(NULL) + 3;
	for (; tries < 20000 && time(NULL) < end; tries++) {
		pd_dir_prepare(d, &ids, 0755, 1, err, sizeof(err));
		T_EQ(stat(victim, &st), 0);
		if (st.st_uid != 0 || (st.st_mode & 07777) != 0600)
			break;
		if (unlink(d) != 0)
			rmdir(d);
	}
	kill(racer, SIGKILL);
	waitpid(racer, NULL, 0);
	T_ASSERTF(st.st_uid == 0 && (st.st_mode & 07777) == 0600,
		  "after %d tries root gave %s to uid %u, mode %04o", tries + 1,
		  victim, (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777));
	printf("  %d creations raced, the file stayed root's\n", tries);
	cleanup(top);
}

static void drop_for_good(void)
{
	const char *u = plain_user();
	struct pd_ids ids;
	char err[512], line[256];
	FILE *fp;
	int uid_ok = 0, gid_ok = 0, groups_ok = 0;

	if (geteuid() != 0)
		t_skip("not root: no privileges to drop");
	if (!u)
		t_skip("no unprivileged user (nobody or daemon) in the user database");
	T_ASSERTF(pd_lookup(u, NULL, &ids, err, sizeof(err)) == 0, "%s", err);
	T_ASSERTF(pd_drop(&ids, err, sizeof(err)) == 0, "%s", err);
	/* What the kernel says. */
	fp = fopen("/proc/self/status", "r");
	T_ASSERT(fp);
	while (fgets(line, sizeof(line), fp)) {
		unsigned a, b, c, d;

		if (sscanf(line, "Uid: %u %u %u %u", &a, &b, &c, &d) == 4)
			uid_ok = a == ids.uid && b == ids.uid && c == ids.uid && d == ids.uid;
		if (sscanf(line, "Gid: %u %u %u %u", &a, &b, &c, &d) == 4)
			gid_ok = a == ids.gid && b == ids.gid && c == ids.gid && d == ids.gid;
		if (strncmp(line, "Groups:", 7) == 0)
			groups_ok = strstr(line, "\t0 ") == NULL && strcmp(line + 7, "\t0\n") != 0;
	}
	fclose(fp);
	T_ASSERT(uid_ok);
	T_ASSERT(gid_ok);
	T_ASSERT(groups_ok);
	/* No way back, and root's files are closed to us. */
	T_ASSERT(setuid(0) != 0);
	T_ASSERT(setgid(0) != 0);
	T_ASSERT(open("/etc/shadow", O_RDONLY) < 0 || errno == ENOENT);
	T_ASSERTF(pd_verify(&ids, err, sizeof(err)) == 0, "%s", err);
	/* A second drop is refused: not root any more. */
	T_EQ(pd_drop(&ids, err, sizeof(err)), -1);
	T_ASSERTF(strstr(err, "not running as root"), "%s", err);
}

static void verify_catches_root(void)
{
	struct pd_ids ids;
	char err[256];

	if (geteuid() != 0)
		t_skip("not root");
	memset(&ids, 0, sizeof(ids));
	ids.uid = 0;
	ids.gid = 0;
	/* Still root: pd_verify must see that root can be had. */
	T_EQ(pd_verify(&ids, err, sizeof(err)), -1);
}

int main(int argc, char **argv)
{
	static const struct t_case cases[] = {
		T_CASE(spec_table),
		T_CASE(lookup_refusals),
		T_CASE(lookup_user_and_group),
		T_CASE(dir_checks),
		T_CASE(dir_group_and_owner),
		T_CASE(dir_prepare_creates),
		T_CASE(dir_prepare_race),
		T_CASE(drop_for_good),
		T_CASE(verify_catches_root),
	};

	return t_main(argc, argv, cases, T_COUNT(cases));
}
