/*
 * sp_session.c - the mailbox table of libchorus (spec sections 3.9, 6.7
 * and 10.4).
 *
 * A mailbox is the socket descriptor of its connection, so the table is
 * an array indexed by descriptor, grown on demand. One global lock guards
 * the table, the reference counts and (in sp_connect.c) the
 * authentication registry; each session has its own send and receive
 * locks. Deviation from Spread: up to CHORUS_MAX_SESSIONS (16384) mailboxes
 * instead of 1024; beyond that SP_connect returns REJECT_QUOTA.
 *
 * Fork: the handlers hold the global lock across fork() and, in the child,
 * re-create every lock and forget references held by the parent's other
 * threads, so that the child can at least SP_kill() its copies.
 */
#include "lib.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static pthread_mutex_t lib_global = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t lib_once = PTHREAD_ONCE_INIT;

static struct {
	struct lib_sess **tab; /* indexed by descriptor; owns one reference */
	size_t len;
	int count;
	int limit;
} lib_tab = { NULL, 0, 0, CHORUS_MAX_SESSIONS };

/* Holds the table still across fork(). */
static void lib_fork_prepare(void)
{
	pthread_mutex_lock(&lib_global);
}

static void lib_fork_parent(void)
{
	pthread_mutex_unlock(&lib_global);
}

/* In the child only the forking thread exists: every other thread's lock
 * and reference is gone with it. */
static void lib_fork_child(void)
{
	pthread_mutex_init(&lib_global, NULL);
	for (size_t i = 0; i < lib_tab.len; i++) {
		struct lib_sess *s = lib_tab.tab[i];

		if (!s)
			continue;
		pthread_mutex_init(&s->send_lock, NULL);
		pthread_mutex_init(&s->recv_lock, NULL);
		s->refs = 1;
	}
}

/* One-time set-up, run by lib_init(). */
static void lib_setup(void)
{
	pthread_atfork(lib_fork_prepare, lib_fork_parent, lib_fork_child);
#ifndef MSG_NOSIGNAL
	/* Without MSG_NOSIGNAL, a send on a closed connection would kill the
	 * process; do what Spread does and ignore SIGPIPE. */
	signal(SIGPIPE, SIG_IGN);
#endif
}

/* See lib.h for these. */
void lib_init(void)
{
	pthread_once(&lib_once, lib_setup);
}

void lib_lock(void)
{
	pthread_mutex_lock(&lib_global);
}

void lib_unlock(void)
{
	pthread_mutex_unlock(&lib_global);
}

/* Closes (unless the descriptor was taken over by a new session) and
 * frees s, which no table slot or thread references any more. */
static void sess_free(struct lib_sess *s)
{
	if (s->fd >= 0) {
		lib_tls_close(s->fd);
		close(s->fd);
	}
	pthread_mutex_destroy(&s->send_lock);
	pthread_mutex_destroy(&s->recv_lock);
	free(s->ra_buf);
	free(s->sbuf);
	free(s);
}

/* Grows the table so that index fd exists. Global lock held. Returns 0 or
 * -1 when memory runs out. */
static int tab_grow(int fd)
{
	size_t len = lib_tab.len ? lib_tab.len : 64;
	struct lib_sess **tab;

	while (len <= (size_t)fd)
		len *= 2;
	tab = realloc(lib_tab.tab, len * sizeof(*tab));
	if (!tab)
		return -1;
	memset(tab + lib_tab.len, 0, (len - lib_tab.len) * sizeof(*tab));
	lib_tab.tab = tab;
	lib_tab.len = len;
	return 0;
}

/* Removes slot fd from the table. Global lock held. Returns the session
 * if its last reference went with the slot (the caller frees it after
 * unlocking), else NULL. */
static struct lib_sess *tab_take(int fd)
{
	struct lib_sess *s = lib_tab.tab[fd];

	lib_tab.tab[fd] = NULL;
	lib_tab.count--;
	__atomic_store_n(&s->dead, 1, __ATOMIC_RELEASE);
	return --s->refs == 0 ? s : NULL;
}

/* See lib.h. */
int lib_sess_add(int fd, const char *pg)
{
	struct lib_sess *s, *stale = NULL;
	int ret = 0;

	lib_init();
	if (fd < 0 || fd >= LIB_MAX_FD)
		return REJECT_QUOTA;
	s = calloc(1, sizeof(*s));
	if (!s)
		return SP_BUG;
	s->fd = fd;
	s->refs = 1;
	pthread_mutex_init(&s->send_lock, NULL);
	pthread_mutex_init(&s->recv_lock, NULL);
	strncpy(s->private_group, pg, WIRE_NAME_LEN - 1);
	lib_lock();
	if ((size_t)fd < lib_tab.len && lib_tab.tab[fd]) {
		/* The application closed this descriptor behind our back and
		 * the kernel gave the number to the new connection: forget the
		 * old entry without closing what is now someone else's. */
		lib_tab.tab[fd]->fd = -1;
		stale = tab_take(fd);
	}
	if (lib_tab.count >= lib_tab.limit) {
		ret = REJECT_QUOTA;
		goto out;
	}
	if ((size_t)fd >= lib_tab.len && tab_grow(fd) != 0) {
		ret = SP_BUG;
		goto out;
	}
	lib_tab.tab[fd] = s;
	lib_tab.count++;
	s = NULL;
out:
	lib_unlock();
	if (stale)
		sess_free(stale);
	if (s) {
		s->fd = -1; /* the caller still owns and closes fd */
		sess_free(s);
	}
	return ret;
}

/* See lib.h. */
struct lib_sess *lib_sess_get(mailbox m)
{
	struct lib_sess *s = NULL;

	lib_init();
	lib_lock();
	if (m >= 0 && (size_t)m < lib_tab.len && lib_tab.tab[m]) {
		s = lib_tab.tab[m];
		s->refs++;
	}
	lib_unlock();
	return s;
}

/* See lib.h. */
void lib_sess_put(struct lib_sess *s)
{
	int last;

	lib_lock();
	last = --s->refs == 0;
	lib_unlock();
	if (last)
		sess_free(s);
}

/* See lib.h. */
int lib_sess_remove(mailbox m)
{
	struct lib_sess *s = NULL;
	int ret = ILLEGAL_SESSION;

	lib_init();
	lib_lock();
	if (m >= 0 && (size_t)m < lib_tab.len && lib_tab.tab[m]) {
		s = tab_take(m);
		ret = 0;
	}
	lib_unlock();
	if (s)
		sess_free(s);
	return ret;
}

/* Marks s broken; every later send or receive gives
 * NET_ERROR_ON_SESSION. */
void lib_sess_break(struct lib_sess *s)
{
	__atomic_store_n(&s->broken, 1, __ATOMIC_RELEASE);
}

int lib_sess_broken(struct lib_sess *s)
{
	return __atomic_load_n(&s->broken, __ATOMIC_ACQUIRE);
}

/* 1 once s left the table (SP_disconnect, SP_kill). */
int lib_sess_dead(struct lib_sess *s)
{
	return __atomic_load_n(&s->dead, __ATOMIC_ACQUIRE);
}

/* See lib.h. */
int lib_sess_set_limit(int limit)
{
	int old;

	lib_lock();
	old = lib_tab.limit;
	lib_tab.limit = limit;
	lib_unlock();
	return old;
}

/* Takes the mailbox out of the table and closes its socket without telling
 * the daemon (for a child after fork). A thread of this process still
 * inside a call on the mailbox keeps the socket open until it returns. */
void SP_kill(mailbox mbox)
{
	lib_sess_remove(mbox);
}
