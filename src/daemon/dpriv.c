/*
 * dpriv.c - chorusd's privilege drop (dpriv.h).
 *
 * Spread 4 drops to DaemonUser/DaemonGroup (defaults "spread") whenever
 * it starts as root. chorusd drops only when DaemonUser is given, so a
 * configuration without it keeps working as it did, with a warning that
 * the daemon runs as root; when it is given, a user or group that does
 * not exist stops the daemon instead of leaving it root.
 */
#include "dpriv.h"

#include <stdio.h>
#include <string.h>

#include "util/log.h"

uid_t dpriv_service_uid(const struct conf *c)
{
	char err[256];
	struct pd_ids ids;

	if (!c->daemon_user[0] ||
	    pd_lookup(c->daemon_user, c->daemon_group, &ids, err,
		      sizeof(err)) != 0)
		return (uid_t)-1;
	return ids.uid;
}

int dpriv_prepare(const struct conf *c, unsigned euid, struct dpriv *p,
		  char *err, size_t errlen)
{
	char why[512];
	int ring = 0;

	memset(p, 0, sizeof(*p));
	snprintf(p->user, sizeof(p->user), "%s", c->daemon_user);
	if (!c->daemon_user[0] && c->daemon_group[0]) {
		snprintf(err, errlen, "DaemonGroup \"%s\" is given without "
			 "DaemonUser: name the user to run as too", c->daemon_group);
		return -1;
	}
	if (euid != 0) {
		p->mode = c->daemon_user[0] ? DPRIV_NOT_ROOT : DPRIV_NONE;
		return 0;
	}
	if (!c->daemon_user[0]) {
		p->mode = DPRIV_STAY_ROOT;
		return 0;
	}
	p->mode = DPRIV_DROP;
	if (pd_lookup(c->daemon_user, c->daemon_group, &p->ids, why,
		      sizeof(why)) != 0) {
		snprintf(err, errlen, "DaemonUser/DaemonGroup: %s; chorusd does "
			 "not run as root instead", why);
		return -1;
	}
	if (c->unix_socket_dir[0] &&
	    pd_dir_prepare(c->unix_socket_dir, &p->ids, 0755, 1, why,
			   sizeof(why)) != 0) {
		snprintf(err, errlen, "UnixSocketDir: %s; the client socket must be in "
			 "a directory of %s's that nobody else but root can write, so "
			 "that %s can remove the socket when it stops (for example "
			 "UnixSocketDir = /run/chorus, which chorusd creates), or "
			 "UnixSocketDir = \"\" for none", why, p->ids.user, p->ids.user);
		return -1;
	}
	for (int i = 0; i < c->n_segments; i++)
		ring |= c->segments[i].n_hosts > 1;
	if (ring && pd_dir_prepare(c->runtime_dir, &p->ids, 0755, 1, why,
				   sizeof(why)) != 0) {
		snprintf(err, errlen, "RuntimeDir: %s; chorusd keeps the ring's "
			 "state file there as user %s", why, p->ids.user);
		return -1;
	}
	return 0;
}

int dpriv_apply(const struct dpriv *p, char *err, size_t errlen)
{
	switch (p->mode) {
	case DPRIV_NONE:
		return 0;
	case DPRIV_NOT_ROOT:
		log_info("DaemonUser %s: not started as root, so there is "
			 "nothing to drop", p->user);
		return 0;
	case DPRIV_STAY_ROOT:
		log_warnx("running as root: set DaemonUser (and DaemonGroup) in "
			  "spread.conf so that chorusd gives root up once its "
			  "sockets are bound");
		return 0;
	case DPRIV_DROP:
		if (pd_drop(&p->ids, err, errlen) != 0)
			return -1;
		log_info("running as user %s (uid %u), group %s (gid %u)",
			 p->ids.user, (unsigned)p->ids.uid, p->ids.group,
			 (unsigned)p->ids.gid);
		return 0;
	}
	snprintf(err, errlen, "unknown privilege mode %d", (int)p->mode);
	return -1;
}
