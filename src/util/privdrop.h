/*
 * privdrop.h - giving up root for good: chorusd, chorus-log and
 * chorus-logd start as root (to bind ports, to be started by Apache, to
 * read their configuration), do what needs root, then run as an
 * unprivileged user. This module looks the user up, prepares the
 * directories the process will write after the drop, drops the
 * supplementary groups, the group and the user in that order, and checks
 * that root cannot be regained. See docs/security.md.
 *
 * Ownership: struct pd_ids is a plain value; nothing inside needs
 * freeing. Every function reports failure as -1 with a sentence in err.
 */
#ifndef CHORUS_PRIVDROP_H
#define CHORUS_PRIVDROP_H

#include <stddef.h>
#include <sys/types.h>

#define PD_NAME_MAX 64 /* user and group names, with the NUL */

struct pd_ids {
	char user[PD_NAME_MAX];
	char group[PD_NAME_MAX];
	uid_t uid;
	gid_t gid;
};

/* Splits "user" or "user:group" into its names (group "" when not
 * given). Returns 0, or -1 if a name is empty or too long. */
int pd_parse_spec(const char *spec, char *user, size_t ulen, char *group,
		  size_t glen, char *err, size_t errlen);

/* Looks up user and group ("" or NULL: the user's login group) in the
 * system's databases. Refuses a user or group that does not exist, and
 * the user root (uid 0) or the group root (gid 0), which would give
 * nothing up. Returns 0 with *ids filled in, or -1. */
int pd_lookup(const char *user, const char *group, struct pd_ids *ids,
	      char *err, size_t errlen);

/* Makes dir ready for a process running as ids: the directories above
 * it are checked first (as in pd_dir_check), then dir is created when
 * missing (one level, mode `mode`, owner ids->uid:ids->gid; only root can
 * do that) and changed through descriptors only, so that whoever can
 * write the parent cannot make root change the owner or mode of anything
 * else by swapping the new directory for a symbolic link; then it is
 * checked by pd_dir_check(..., need_write). */
int pd_dir_prepare(const char *dir, const struct pd_ids *ids, mode_t mode,
		   int need_write, char *err, size_t errlen);

/* Checks that nobody but root and ids can write dir or swap it for
 * another: dir is a directory (not a symbolic link) owned by root or
 * ids->uid, writable neither by others nor by a group other than root's
 * and ids->gid, and so is every directory above it, except that one
 * writable by all is allowed above dir when it has the sticky bit (as
 * /tmp has). With need_write, ids must also be able to create files in
 * dir. Returns 0 or -1 with the reason. */
int pd_dir_check(const char *dir, const struct pd_ids *ids, int need_write,
		 char *err, size_t errlen);

/* Drops root: supplementary groups (ids->user's from the group
 * database, plus ids->gid), then the real, effective and saved group
 * ids, then the user ids; then pd_verify(). The process must run as
 * root. Returns 0, or -1 (the caller must exit: the process may be
 * half-dropped). */
int pd_drop(const struct pd_ids *ids, char *err, size_t errlen);

/* Checks that the process runs as ids (real, effective and saved ids),
 * has no group 0 among its groups and cannot become root again
 * (setuid(0) and setgid(0) fail). Returns 0 or -1. */
int pd_verify(const struct pd_ids *ids, char *err, size_t errlen);

#endif /* CHORUS_PRIVDROP_H */
