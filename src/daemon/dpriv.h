/*
 * dpriv.h - chorusd's privilege drop: DaemonUser and DaemonGroup of
 * spread.conf. Started as root with DaemonUser set, chorusd looks the
 * user up and prepares the directories it uses (UnixSocketDir,
 * RuntimeDir) before it binds anything, then binds its sockets and opens
 * its event log as root, then runs as that user (src/util/privdrop.c
 * does the work). See docs/security.md and chorusd(8).
 *
 * Ownership: struct dpriv is a plain value owned by the caller.
 */
#ifndef CHORUS_DPRIV_H
#define CHORUS_DPRIV_H

#include <stddef.h>

#include "conf.h"
#include "util/privdrop.h"

enum dpriv_mode {
	DPRIV_NONE,      /* not root, no DaemonUser: nothing to do */
	DPRIV_DROP,      /* root with DaemonUser: drop after binding */
	DPRIV_STAY_ROOT, /* root without DaemonUser: runs on as root */
	DPRIV_NOT_ROOT   /* DaemonUser given, but started without root */
};

struct dpriv {
	enum dpriv_mode mode;
	struct pd_ids ids;
	char user[CONF_PATH_MAX];  /* DaemonUser as configured */
};

/* Decides what to do for configuration c in a process whose effective
 * user id is euid. With DPRIV_DROP, looks the user and group up and
 * prepares the directories: UnixSocketDir (created mode 0755 for the
 * user when missing; writable by the user, who removes the socket when
 * it stops, and by nobody else but root) and, when a segment has several
 * daemons, RuntimeDir (the same: the user rewrites the ring's state file
 * there). Returns 0, or -1
 * with the reason (chorusd must then not start). */
int dpriv_prepare(const struct conf *c, unsigned euid, struct dpriv *p,
		  char *err, size_t errlen);

/* The user id DaemonUser names, or AUTH_NO_UID ((uid_t)-1) when none is
 * given or it does not exist: a key file read as root before the drop
 * may belong to that user, who reads it again after the drop. */
uid_t dpriv_service_uid(const struct conf *c);

/* Carries out the decision once the sockets are bound and the event log
 * is open: drops root (DPRIV_DROP) and logs what it did or why it did
 * not. Returns 0, or -1 with the reason (chorusd must exit). */
int dpriv_apply(const struct dpriv *p, char *err, size_t errlen);

#endif /* CHORUS_DPRIV_H */
