/*
 * sp_connect.c - opening a mailbox: daemon address strings (spec section
 * 2.3), the connection handshake (section 3) and the process-wide
 * authentication registry (sections 3.5, 3.6 and 10.3).
 *
 * Hardened against a faulty daemon (section 11.2): the auth list and the
 * private group name are read until complete (L1, L2), and the name length
 * must be 4..31. A verdict that is neither 1 nor negative is a protocol
 * error (CONNECTION_CLOSED).
 *
 * Extensions: an address starting with '/' names the daemon's Unix socket
 * by its path; "tls:port@host" connects to a daemon's TLS port
 * (sp_tls.c) and runs the handshake inside TLS. "host:port" stays refused
 * (ILLEGAL_SPREAD), as in Spread.
 */
#include "lib.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/param.h>
#include <sys/un.h>
#include <unistd.h>

#ifndef MAXHOSTNAMELEN
#define MAXHOSTNAMELEN 64
#endif
/* Spread refuses address strings of this length or more. */
#define LIB_ADDR_MAX (MAXHOSTNAMELEN + 7)

struct lib_auth {
	char name[MAX_AUTH_NAME];
	int (*fn)(int, void *);
	void *data;
};

/* The NULL method: no exchange, always succeeds. */
static int auth_null(int fd, void *data)
{
	(void)fd;
	(void)data;
	return 1;
}

/* The registry, under the global lock. Default: the NULL method, or the
 * HMAC key of CHORUS_HMAC_KEY_FILE (chorus.h) until the program sets
 * methods itself (`set`). */
static struct {
	int n;
	int set;
	struct lib_auth m[MAX_AUTH_METHODS];
} lib_auth = { 1, 0, { { "NULL", auth_null, NULL } } };

/* Stores 4, 4, 0. Returns 1, or 0 (nothing stored) if a pointer is NULL. */
int SP_version(int *major_version, int *minor_version, int *patch_version)
{
	if (!major_version || !minor_version || !patch_version)
		return 0;
	*major_version = SPREAD_MAJOR_VERSION;
	*minor_version = SPREAD_MINOR_VERSION;
	*patch_version = SPREAD_PATCH_VERSION;
	return 1;
}

/* Replaces the registry with one method. Returns 1, or 0 (registry
 * unchanged) if auth_name is NULL or 30 characters or longer, or
 * authenticate is NULL. auth_data is passed to authenticate as is. */
int SP_set_auth_method(const char *auth_name, int (*authenticate)(int, void *),
		       void *auth_data)
{
	const char *names[1] = { auth_name };
	int (*fns[1])(int, void *) = { authenticate };
	void *data[1] = { auth_data };

	return SP_set_auth_methods(1, names, fns, data);
}

/* Replaces the registry with num_methods (0..3) methods, all or nothing.
 * auth_data may be NULL (no data for any method). Returns 1 or 0. */
int SP_set_auth_methods(int num_methods, const char *auth_name[],
			int (*authenticate[])(int, void *), void *auth_data[])
{
	struct lib_auth m[MAX_AUTH_METHODS];

	if (num_methods < 0 || num_methods > MAX_AUTH_METHODS)
		return 0;
	if (num_methods > 0 && (!auth_name || !authenticate))
		return 0;
	memset(m, 0, sizeof(m));
	for (int i = 0; i < num_methods; i++) {
		if (!auth_name[i] || !authenticate[i] ||
		    strnlen(auth_name[i], MAX_AUTH_NAME) >= MAX_AUTH_NAME)
			return 0;
		strcpy(m[i].name, auth_name[i]);
		m[i].fn = authenticate[i];
		m[i].data = auth_data ? auth_data[i] : NULL;
	}
	lib_init();
	lib_lock();
	lib_auth.n = num_methods;
	lib_auth.set = 1;
	memcpy(lib_auth.m, m, sizeof(m));
	lib_unlock();
	return 1;
}

/* See lib.h. Uses only the IPv4 resolver, and the first address. */
int lib_addr_parse(const char *spec, struct sockaddr_storage *ss,
		   socklen_t *len)
{
	struct sockaddr_un *sun = (struct sockaddr_un *)ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct addrinfo hints, *res = NULL;
	unsigned long port = 0;
	const char *p;
	int n;

	memset(ss, 0, sizeof(*ss));
	if (!spec || !*spec)
		spec = "4803";
	if (spec[0] == '/') {
		size_t plen = strlen(spec);

		if (plen >= sizeof(sun->sun_path))
			return ILLEGAL_SPREAD;
		sun->sun_family = AF_UNIX;
		memcpy(sun->sun_path, spec, plen + 1);
		*len = (socklen_t)sizeof(*sun);
		return 0;
	}
	if (strlen(spec) >= LIB_ADDR_MAX)
		return ILLEGAL_SPREAD;
	for (p = spec; *p >= '0' && *p <= '9'; p++) {
		port = port * 10 + (unsigned long)(*p - '0');
		if (port > 65535) /* Spread wraps silently; we refuse */
			return ILLEGAL_SPREAD;
	}
	if (p == spec)
		return ILLEGAL_SPREAD;
	if (*p == 0) {
		sun->sun_family = AF_UNIX;
		n = snprintf(sun->sun_path, sizeof(sun->sun_path), "%s/%lu",
			     CHORUS_UNIX_DIR, port);
		if (n < 0 || (size_t)n >= sizeof(sun->sun_path))
			return ILLEGAL_SPREAD;
		*len = (socklen_t)sizeof(*sun);
		return 0;
	}
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' ||
	       *p == '\f' || *p == '\v')
		p++;
	if (*p++ != '@' || *p == 0)
		return ILLEGAL_SPREAD;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_INET;
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(p, NULL, &hints, &res) != 0 || !res)
		return ILLEGAL_SPREAD;
	memcpy(sin, res->ai_addr, sizeof(*sin));
	sin->sin_port = htons((uint16_t)port);
	*len = (socklen_t)sizeof(*sin);
	freeaddrinfo(res);
	return 0;
}

/* Connects fd to sa, giving up at the deadline (NULL: none). Returns 0 or
 * -1. */
static int sock_connect(int fd, const struct sockaddr *sa, socklen_t len,
			const struct timespec *dl)
{
	int flags = -1, ret = -1, err = 0;
	socklen_t elen = sizeof(err);

	if (dl) {
		flags = fcntl(fd, F_GETFL);
		if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
			flags = -1;
			goto out;
		}
	}
	for (;;) {
		if (connect(fd, sa, len) == 0) {
			ret = 0;
			goto out;
		}
		if (errno == EAGAIN && sa->sa_family == AF_UNIX && dl) {
			/* The listener's backlog is full; a non-blocking Unix
			 * connect does not queue, so try again shortly. */
			struct timespec nap = { 0, 5 * 1000000L };
			int left = lib_ms_left(dl);

			if (left == 0)
				goto out;
			if (left < 5)
				nap.tv_nsec = left * 1000000L;
			nanosleep(&nap, NULL);
			continue;
		}
		if (errno != EINPROGRESS && errno != EINTR)
			goto out;
		/* In progress (or interrupted, which does not stop it). */
		if (lib_io_wait(fd, POLLOUT, dl) != 0)
			goto out;
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) == 0 &&
		    err == 0)
			ret = 0;
		goto out;
	}
out:
	if (flags >= 0)
		fcntl(fd, F_SETFL, flags);
	return ret;
}

/* 1 if name is one of the space-separated tokens of list. */
static int list_has(const char *list, const char *name)
{
	size_t n = strlen(name);

	while (*list) {
		size_t t = strcspn(list, " ");

		if (t == n && memcmp(list, name, n) == 0)
			return 1;
		list += t;
		while (*list == ' ')
			list++;
	}
	return 0;
}

/* See lib.h. The request and the choice each go out in one send(),
 * as the daemon requires; every read honours the deadline. */
int lib_handshake(int fd, const char *private_name, int priority,
		  int membership, char pg[WIRE_NAME_LEN],
		  const struct timespec *deadline)
{
	uint8_t req[5 + WIRE_MAX_PRIVATE], choice[WIRE_AUTH_CHOICE_LEN];
	uint8_t ver[3];
	char list[WIRE_AUTH_LIST_MAX + 1];
	struct lib_auth m[MAX_AUTH_METHODS];
	struct auth_key key;
	int8_t b;
	int n, set, env = 0, ret = CONNECTION_CLOSED;

	memset(&key, 0, sizeof(key));

	n = (int)wire_connreq_encode(req, private_name, membership, priority);
	if (lib_io_write(fd, req, (size_t)n) != 0)
		goto out;
	if (lib_io_read(fd, &b, 1, deadline) != 0)
		goto out;
	if (b < 0) {
		ret = b; /* the daemon's reject code */
		goto out;
	}
	if (b > WIRE_AUTH_LIST_MAX)
		goto out;
	if (lib_io_read(fd, list, (size_t)b, deadline) != 0)
		goto out;
	list[b] = 0;

	lib_lock();
	n = lib_auth.n;
	set = lib_auth.set;
	memcpy(m, lib_auth.m, sizeof(m));
	lib_unlock();
	if (!set && (env = lib_hmac_env_key(&key)) != 0) {
		if (env < 0) {
			ret = REJECT_AUTH;
			goto out;
		}
		n = 1;
		memset(m, 0, sizeof(m));
		memcpy(m[0].name, AUTH_HMAC_NAME, sizeof(AUTH_HMAC_NAME));
		m[0].fn = lib_hmac_method;
	}
	memset(choice, 0, sizeof(choice));
	for (int i = 0; i < n; i++) {
		if (!list_has(list, m[i].name)) {
			ret = REJECT_AUTH;
			goto out;
		}
		memcpy(choice + i * WIRE_AUTH_SLOT, m[i].name,
		       strlen(m[i].name));
	}
	if (lib_io_write(fd, choice, sizeof(choice)) != 0)
		goto out;
	for (int i = 0; i < n; i++) {
		int ok;

		if (m[i].fn == lib_hmac_method) {
			if (!env)
				lib_hmac_copy_key(&key);
			ok = lib_hmac_exchange(fd, &key, private_name, deadline);
		} else {
			ok = m[i].fn(fd, m[i].data);
		}
		if (!ok) {
			ret = REJECT_AUTH;
			goto out;
		}
	}

	if (lib_io_read(fd, &b, 1, deadline) != 0)
		goto out;
	if (b != ACCEPT_SESSION) {
		ret = b < 0 ? b : CONNECTION_CLOSED;
		goto out;
	}
	if (lib_io_read(fd, ver, sizeof(ver), deadline) != 0)
		goto out;
	n = WIRE_VERSION(ver[0], ver[1], ver[2]);
	if (n < WIRE_VERSION(3, 1, 0) ||
	    (n < WIRE_VERSION(3, 8, 0) && priority > 0)) {
		ret = REJECT_VERSION;
		goto out;
	}
	if (lib_io_read(fd, &b, 1, deadline) != 0)
		goto out;
	if (b < 4 || b > WIRE_NAME_LEN - 1)
		goto out;
	if (lib_io_read(fd, pg, (size_t)b, deadline) != 0)
		goto out;
	pg[b] = 0;
	ret = ACCEPT_SESSION;
out:
	auth_key_clear(&key);
	return ret;
}

/* Connects to the daemon named by spread_name and registers the mailbox.
 * On ACCEPT_SESSION sets *mbox (the socket) and copies the NUL-terminated
 * private group name into private_group (32 bytes; may be NULL). A zero
 * time_out waits without limit; otherwise it bounds connect() and every
 * handshake read together. Returns ACCEPT_SESSION or a negative code; on
 * failure the socket is closed and *mbox is unchanged. */
int SP_connect_timeout(const char *spread_name, const char *private_name,
		       int priority, int group_membership, mailbox *mbox,
		       char *private_group, sp_time time_out)
{
	struct sockaddr_storage ss;
	struct timespec dl, *dlp = NULL;
	char pg[WIRE_NAME_LEN];
	const char *tls_host = NULL;
	socklen_t len;
	int fd = -1, ret, on = 1;

	lib_init();
	if (!mbox)
		return ILLEGAL_SESSION;
	if (spread_name && strncmp(spread_name, "tls:", 4) == 0) {
		/* TLS needs a host, to check the daemon's certificate. */
		spread_name += 4;
		tls_host = strchr(spread_name, '@');
		if (!tls_host || spread_name[0] < '0' || spread_name[0] > '9')
			return ILLEGAL_SPREAD;
		tls_host++;
		while (*tls_host == ' ' || *tls_host == '\t')
			tls_host++;
	}
	ret = lib_addr_parse(spread_name, &ss, &len);
	if (ret < 0)
		goto out;
	if (time_out.sec != 0 || time_out.usec != 0) {
		lib_deadline(&dl, (long long)time_out.sec * 1000 +
					  (time_out.usec + 999) / 1000);
		dlp = &dl;
	}
	ret = COULD_NOT_CONNECT;
	fd = socket(ss.ss_family, SOCK_STREAM, 0);
	if (fd < 0)
		goto out;
	lib_tls_forget(fd);
	if (sock_connect(fd, (struct sockaddr *)&ss, len, dlp) != 0)
		goto out;
	if (ss.ss_family == AF_INET) {
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
		setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on));
	}
	if (tls_host) {
		ret = lib_tls_start(fd, tls_host, dlp);
		if (ret != 0)
			goto out;
	}
	ret = lib_handshake(fd, private_name, priority, group_membership, pg,
			    dlp);
	/* TLS 1.3: a daemon that refuses our certificate says so after the
	 * handshake, in an alert that the first read meets. */
	if (tls_host && ret == CONNECTION_CLOSED && lib_tls_auth_refused())
		ret = REJECT_AUTH;
	if (ret != ACCEPT_SESSION)
		goto out;
	ret = lib_sess_add(fd, pg);
	if (ret < 0)
		goto out;
	*mbox = fd;
	fd = -1;
	if (private_group)
		memcpy(private_group, pg, strlen(pg) + 1);
	ret = ACCEPT_SESSION;
out:
	if (fd >= 0) {
		lib_tls_close(fd);
		close(fd);
	}
	return ret;
}

/* SP_connect_timeout without a time limit. */
int SP_connect(const char *spread_name, const char *private_name,
	       int priority, int group_membership, mailbox *mbox,
	       char *private_group)
{
	sp_time none = { 0, 0 };

	return SP_connect_timeout(spread_name, private_name, priority,
				  group_membership, mbox, private_group, none);
}
