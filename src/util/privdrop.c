/*
 * privdrop.c - looking up the unprivileged user, preparing its
 * directories and dropping root (privdrop.h).
 *
 * The order of the drop is the one every careful daemon uses (OpenBSD's
 * privsep daemons, OpenSSH): supplementary groups first and the group
 * next, while the process may still change them, and the user last;
 * setresgid/setresuid set the real, effective and saved ids together, so
 * no saved id is left to switch back to. pd_verify() then tries to get
 * root back and fails the drop if it could.
 */
#include "util/privdrop.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int errf(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int errf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

int pd_parse_spec(const char *spec, char *user, size_t ulen, char *group,
		  size_t glen, char *err, size_t errlen)
{
	const char *colon = strchr(spec, ':');
	size_t un = colon ? (size_t)(colon - spec) : strlen(spec);

	if (un == 0)
		return errf(err, errlen, "\"%s\": no user name (forms: user, user:group)",
			    spec);
	if (un >= ulen || un >= PD_NAME_MAX)
		return errf(err, errlen, "\"%s\": user name too long", spec);
	memcpy(user, spec, un);
	user[un] = 0;
	if (!colon) {
		group[0] = 0;
		return 0;
	}
	if (!colon[1])
		return errf(err, errlen, "\"%s\": no group name after ':'", spec);
	if (strchr(colon + 1, ':'))
		return errf(err, errlen, "\"%s\": more than one ':'", spec);
	if (strlen(colon + 1) >= glen || strlen(colon + 1) >= PD_NAME_MAX)
		return errf(err, errlen, "\"%s\": group name too long", spec);
	snprintf(group, glen, "%s", colon + 1);
	return 0;
}

int pd_lookup(const char *user, const char *group, struct pd_ids *ids,
	      char *err, size_t errlen)
{
	struct passwd pw, *pwp = NULL;
	struct group gr, *grp = NULL;
	char buf[16384];
	int e;

	memset(ids, 0, sizeof(*ids));
	if (!user || !*user)
		return errf(err, errlen, "no user name");
	if (strlen(user) >= sizeof(ids->user))
		return errf(err, errlen, "user name \"%s\" too long", user);
	e = getpwnam_r(user, &pw, buf, sizeof(buf), &pwp);
	if (!pwp && e)
		return errf(err, errlen, "user \"%s\" cannot be looked up: %s", user,
			    strerror(e));
	if (!pwp)
		return errf(err, errlen, "user \"%s\" does not exist", user);
	if (pw.pw_uid == 0)
		return errf(err, errlen, "user \"%s\" is root (uid 0): that gives "
			    "nothing up; name an unprivileged user", user);
	ids->uid = pw.pw_uid;
	ids->gid = pw.pw_gid;
	snprintf(ids->user, sizeof(ids->user), "%s", user);
	if (group && *group) {
		if (strlen(group) >= sizeof(ids->group))
			return errf(err, errlen, "group name \"%s\" too long", group);
		e = getgrnam_r(group, &gr, buf, sizeof(buf), &grp);
		if (!grp && e)
			return errf(err, errlen, "group \"%s\" cannot be looked up: %s",
				    group, strerror(e));
		if (!grp)
			return errf(err, errlen, "group \"%s\" does not exist", group);
		ids->gid = gr.gr_gid;
		snprintf(ids->group, sizeof(ids->group), "%s", group);
	} else {
		e = getgrgid_r(ids->gid, &gr, buf, sizeof(buf), &grp);
		if (grp)
			snprintf(ids->group, sizeof(ids->group), "%s", gr.gr_name);
		else
			snprintf(ids->group, sizeof(ids->group), "%u",
				 (unsigned)ids->gid);
	}
	if (ids->gid == 0)
		return errf(err, errlen, "group of user \"%s\" is root (gid 0): "
			    "name an unprivileged group", user);
	return 0;
}

/* Who may write a directory with this status, as far as the mode bits
 * tell: 0 if only root and ids may, else -1 with the reason. A directory
 * writable by all is allowed when sticky_ok and it has the sticky bit. */
static int writers_ok(const char *dir, const struct stat *st,
		      const struct pd_ids *ids, int sticky_ok, char *err,
		      size_t errlen)
{
	int sticky = sticky_ok && (st->st_mode & S_ISVTX);

	if (st->st_uid != 0 && st->st_uid != ids->uid)
		return errf(err, errlen, "%s belongs to uid %u, neither root nor "
			    "%s (uid %u)", dir, (unsigned)st->st_uid, ids->user,
			    (unsigned)ids->uid);
	if ((st->st_mode & S_IWOTH) && !sticky)
		return errf(err, errlen, "%s is writable by every user (mode %04o)",
			    dir, (unsigned)(st->st_mode & 07777));
	if ((st->st_mode & S_IWGRP) && st->st_gid != 0 && st->st_gid != ids->gid &&
	    !sticky)
		return errf(err, errlen, "%s is writable by group %u (mode %04o), "
			    "neither root nor %s", dir, (unsigned)st->st_gid,
			    (unsigned)(st->st_mode & 07777), ids->group);
	return 0;
}

/* Checks the directory real (an absolute path without symbolic links;
 * modified in place) when self, and every directory above it, with
 * writers_ok (sticky allowed). dir names what the chain leads to in a
 * refusal. Returns 0 or -1. */
static int chain_ok(char *real, int self, const char *dir,
		    const struct pd_ids *ids, char *err, size_t errlen)
{
	struct stat st;

	for (;;) {
		char *slash = strrchr(real, '/');

		if (self) {
			if (stat(real, &st) != 0)
				return errf(err, errlen, "%s: %s", real, strerror(errno));
			if (writers_ok(real, &st, ids, 1, err, errlen) != 0) {
				size_t n = strlen(err);

				snprintf(err + n, errlen > n ? errlen - n : 0,
					 "; it is a parent of %s", dir);
				return -1;
			}
		}
		self = 1;
		if (!slash || (slash == real && real[1] == 0))
			return 0;
		if (slash == real)
			slash[1] = 0;
		else
			*slash = 0;
	}
}

int pd_dir_check(const char *dir, const struct pd_ids *ids, int need_write,
		 char *err, size_t errlen)
{
	char real[PATH_MAX];
	struct stat st;

	if (lstat(dir, &st) != 0)
		return errf(err, errlen, "%s: %s", dir, strerror(errno));
	if (S_ISLNK(st.st_mode))
		return errf(err, errlen, "%s is a symbolic link; give the "
			    "directory itself", dir);
	if (!S_ISDIR(st.st_mode))
		return errf(err, errlen, "%s is not a directory", dir);
	if (writers_ok(dir, &st, ids, 0, err, errlen) != 0)
		return -1;
	if (need_write &&
	    !(st.st_uid == ids->uid && (st.st_mode & S_IWUSR) && (st.st_mode & S_IXUSR)) &&
	    !(st.st_gid == ids->gid && (st.st_mode & S_IWGRP) && (st.st_mode & S_IXGRP)))
		return errf(err, errlen, "%s is not writable by %s (owner uid %u, "
			    "group %u, mode %04o): chown %s:%s %s", dir, ids->user,
			    (unsigned)st.st_uid, (unsigned)st.st_gid,
			    (unsigned)(st.st_mode & 07777), ids->user, ids->group, dir);
	/* The directories above: whoever can write one of them can rename
	 * dir away and put another in its place. */
	if (!realpath(dir, real))
		return errf(err, errlen, "%s: %s", dir, strerror(errno));
	return chain_ok(real, 0, dir, ids, err, errlen);
}

/* Splits dir into its parent (resolved, into parent) and last name
 * (into base). Returns 0 or -1. */
static int split_dir(const char *dir, char *parent, char *base, size_t blen,
		     char *err, size_t errlen)
{
	char tmp[PATH_MAX];
	size_t n = strlen(dir);
	char *slash;

	while (n > 1 && dir[n - 1] == '/')
		n--;
	if (n == 0 || n >= sizeof(tmp))
		return errf(err, errlen, "\"%s\": not a usable directory name", dir);
	memcpy(tmp, dir, n);
	tmp[n] = 0;
	slash = strrchr(tmp, '/');
	if (snprintf(base, blen, "%s", slash ? slash + 1 : tmp) >= (int)blen ||
	    !strcmp(base, ".") || !strcmp(base, "..") || !base[0])
		return errf(err, errlen, "\"%s\": not a usable directory name", dir);
	if (!slash)
		snprintf(tmp, sizeof(tmp), ".");
	else if (slash == tmp)
		tmp[1] = 0;
	else
		*slash = 0;
	if (!realpath(tmp, parent))
		return errf(err, errlen, "cannot create %s: %s: %s", dir, tmp,
			    strerror(errno));
	return 0;
}

/* Creates base in the directory pfd and gives it to ids with mode, all
 * through descriptors: whoever can write the parent may swap the new
 * directory for a symbolic link or another directory at any moment, and
 * must not get root to change the mode or owner of what it points to.
 * The directory is made under a temporary name and renamed into place
 * (never over an existing one) once it is ready, so that another process
 * preparing the same directory never sees it half made. Returns 0, 1
 * when base exists already, or -1. */
static int create_at(int pfd, const char *base, const char *dir,
		     const struct pd_ids *ids, mode_t mode, char *err,
		     size_t errlen)
{
	char tmp[NAME_MAX + 1];
	struct stat st;
	int fd, e;

	if (snprintf(tmp, sizeof(tmp), ".%s.%ld", base, (long)getpid()) >=
	    (int)sizeof(tmp))
		return errf(err, errlen, "cannot create %s: name too long", dir);
	if (fstatat(pfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0)
		return 1;
	if (mkdirat(pfd, tmp, 0700) != 0)
		return errf(err, errlen, "cannot create %s: %s", dir, strerror(errno));
	fd = openat(pfd, tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errf(err, errlen, "%s changed while it was being created "
			    "(%s): someone else can write its parent", dir,
			    strerror(errno));
	if (fstat(fd, &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != geteuid()) {
		close(fd);
		return errf(err, errlen, "%s changed while it was being created: "
			    "someone else can write its parent", dir);
	}
	if (fchown(fd, ids->uid, ids->gid) != 0 || fchmod(fd, mode) != 0) {
		e = errno;
		close(fd);
		unlinkat(pfd, tmp, AT_REMOVEDIR);
		return errf(err, errlen, "%s: cannot give it to %s:%s: %s", dir,
			    ids->user, ids->group, strerror(e));
	}
	close(fd);
	if (renameat2(pfd, tmp, pfd, base, RENAME_NOREPLACE) != 0) {
		e = errno;
		unlinkat(pfd, tmp, AT_REMOVEDIR);
		if (e == EEXIST)
			return 1; /* made by another process meanwhile */
		return errf(err, errlen, "cannot create %s: %s", dir, strerror(e));
	}
	return 0;
}

int pd_dir_prepare(const char *dir, const struct pd_ids *ids, mode_t mode,
		   int need_write, char *err, size_t errlen)
{
	char parent[PATH_MAX], chain[PATH_MAX], base[NAME_MAX + 1];
	int pfd, r;

	if (split_dir(dir, parent, base, sizeof(base), err, errlen) != 0)
		return -1;
	/* The directories above first: nothing is created under a parent
	 * that someone other than root and ids could rearrange. */
	memcpy(chain, parent, sizeof(chain));
	if (chain_ok(chain, 1, dir, ids, err, errlen) != 0)
		return -1;
	pfd = open(parent, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (pfd < 0)
		return errf(err, errlen, "%s: %s", parent, strerror(errno));
	r = create_at(pfd, base, dir, ids, mode, err, errlen);
	close(pfd);
	if (r < 0)
		return -1;
	return pd_dir_check(dir, ids, need_write, err, errlen);
}

int pd_verify(const struct pd_ids *ids, char *err, size_t errlen)
{
	uid_t ru, eu, su;
	gid_t rg, eg, sg, groups[NGROUPS_MAX];
	int n;

	if (getresuid(&ru, &eu, &su) != 0 || getresgid(&rg, &eg, &sg) != 0)
		return errf(err, errlen, "getresuid: %s", strerror(errno));
	if (ru != ids->uid || eu != ids->uid || su != ids->uid)
		return errf(err, errlen, "user ids are %u/%u/%u, not %u", (unsigned)ru,
			    (unsigned)eu, (unsigned)su, (unsigned)ids->uid);
	if (rg != ids->gid || eg != ids->gid || sg != ids->gid)
		return errf(err, errlen, "group ids are %u/%u/%u, not %u", (unsigned)rg,
			    (unsigned)eg, (unsigned)sg, (unsigned)ids->gid);
	n = getgroups(NGROUPS_MAX, groups);
	if (n < 0)
		return errf(err, errlen, "getgroups: %s", strerror(errno));
	for (int i = 0; i < n; i++)
		if (groups[i] == 0)
			return errf(err, errlen, "group root is still a "
				    "supplementary group");
	if (setuid(0) == 0 || seteuid(0) == 0)
		return errf(err, errlen, "root could be regained after the drop");
	if (setgid(0) == 0 || setegid(0) == 0)
		return errf(err, errlen, "group root could be regained after the drop");
	return 0;
}

int pd_drop(const struct pd_ids *ids, char *err, size_t errlen)
{
	if (geteuid() != 0)
		return errf(err, errlen, "cannot change to user %s: not running "
			    "as root", ids->user);
	if (initgroups(ids->user, ids->gid) != 0)
		return errf(err, errlen, "initgroups(%s): %s", ids->user,
			    strerror(errno));
	if (setresgid(ids->gid, ids->gid, ids->gid) != 0)
		return errf(err, errlen, "setresgid(%u): %s", (unsigned)ids->gid,
			    strerror(errno));
	if (setresuid(ids->uid, ids->uid, ids->uid) != 0)
		return errf(err, errlen, "setresuid(%u): %s", (unsigned)ids->uid,
			    strerror(errno));
	return pd_verify(ids, err, errlen);
}
