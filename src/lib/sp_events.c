/*
 * sp_events.c - the event library of <sp_events.h>, for programs written
 * against Spread's API (docs/client-protocol.md section 10.1).
 *
 * One loop per process, as the API has no handle: a table of watched
 * descriptors, each with a type (read, write, exception), a priority and
 * an active flag, and a list of timed calls ordered by due time.
 * E_handle_events() runs due timed calls, waits in poll() until the next
 * one is due, then serves the ready descriptors of the highest priority
 * that has any (lower priorities wait while a higher one is busy, as in
 * Spread), and repeats until E_exit_events().
 *
 * Callbacks may attach, detach, queue and dequeue freely: every entry is
 * looked up again before it is called.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "lib.h"

struct ev_fd {
	int fd, type, priority, active, code;
	void (*func)(int fd, int code, void *data);
	void *data;
};

struct ev_timer {
	sp_time due;
	void (*func)(int code, void *data);
	int code;
	void *data;
	struct ev_timer *next;
};

static struct {
	struct ev_fd fds[MAX_FD_EVENTS];
	int n_fds;
	struct ev_timer *timers; /* sorted by due time */
	int threshold;
	int exit;
} ev;

static sp_time norm(long sec, long usec)
{
	sp_time t;

	sec += usec / 1000000;
	usec %= 1000000;
	if (usec < 0) {
		usec += 1000000;
		sec--;
	}
	t.sec = sec;
	t.usec = usec;
	return t;
}

int E_init(void)
{
	struct ev_timer *t;

	while ((t = ev.timers)) {
		ev.timers = t->next;
		free(t);
	}
	memset(&ev, 0, sizeof(ev));
	ev.threshold = LOW_PRIORITY;
	return 0;
}

sp_time E_get_time(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return norm(tv.tv_sec, tv.tv_usec);
}

sp_time E_sub_time(sp_time t, sp_time delta_t)
{
	return norm(t.sec - delta_t.sec, t.usec - delta_t.usec);
}

sp_time E_add_time(sp_time t, sp_time delta_t)
{
	return norm(t.sec + delta_t.sec, t.usec + delta_t.usec);
}

int E_compare_time(sp_time t1, sp_time t2)
{
	if (t1.sec != t2.sec)
		return t1.sec > t2.sec ? 1 : -1;
	if (t1.usec != t2.usec)
		return t1.usec > t2.usec ? 1 : -1;
	return 0;
}

int E_dequeue(void (*func)(int code, void *data), int code, void *data)
{
	for (struct ev_timer **pp = &ev.timers; *pp; pp = &(*pp)->next) {
		struct ev_timer *t = *pp;

		if (t->func == func && t->code == code && t->data == data) {
			*pp = t->next;
			free(t);
			return 0;
		}
	}
	return -1;
}

int E_queue(void (*func)(int code, void *data), int code, void *data,
	    sp_time delta_time)
{
	struct ev_timer *t, **pp;

	if (!func)
		return -1;
	E_dequeue(func, code, data);
	t = malloc(sizeof(*t));
	if (!t)
		return -1;
	t->due = E_add_time(E_get_time(), delta_time);
	t->func = func;
	t->code = code;
	t->data = data;
	/* After every entry due at the same time: first queued, first run. */
	for (pp = &ev.timers; *pp && E_compare_time((*pp)->due, t->due) <= 0;
	     pp = &(*pp)->next)
		;
	t->next = *pp;
	*pp = t;
	return 0;
}

void E_delay(sp_time t)
{
	struct timespec ts, rem;

	if (t.sec < 0 || (t.sec == 0 && t.usec <= 0))
		return;
	ts.tv_sec = t.sec;
	ts.tv_nsec = t.usec * 1000;
	while (nanosleep(&ts, &rem) != 0 && errno == EINTR)
		ts = rem;
}

static struct ev_fd *find_fd(int fd, int type)
{
	for (int i = 0; i < ev.n_fds; i++)
		if (ev.fds[i].fd == fd && ev.fds[i].type == type)
			return &ev.fds[i];
	return NULL;
}

int E_attach_fd(int fd, int fd_type,
		void (*func)(int fd, int code, void *data), int code,
		void *data, int priority)
{
	struct ev_fd *e;

	if (fd < 0 || fd_type < 0 || fd_type >= NUM_FDTYPES || !func ||
	    priority < 0 || priority >= NUM_PRIORITY)
		return -1;
	e = find_fd(fd, fd_type);
	if (!e) {
		if (ev.n_fds >= MAX_FD_EVENTS)
			return -1;
		e = &ev.fds[ev.n_fds++];
	}
	e->fd = fd;
	e->type = fd_type;
	e->func = func;
	e->code = code;
	e->data = data;
	e->priority = priority;
	e->active = 1;
	return 0;
}

int E_detach_fd(int fd, int fd_type)
{
	struct ev_fd *e = find_fd(fd, fd_type);

	if (!e)
		return -1;
	*e = ev.fds[--ev.n_fds];
	return 0;
}

int E_set_active_threshold(int priority)
{
	if (priority >= 0 && priority < NUM_PRIORITY)
		ev.threshold = priority;
	return ev.threshold;
}

int E_activate_fd(int fd, int fd_type)
{
	struct ev_fd *e = find_fd(fd, fd_type);

	if (!e)
		return -1;
	e->active = 1;
	return 0;
}

int E_deactivate_fd(int fd, int fd_type)
{
	struct ev_fd *e = find_fd(fd, fd_type);

	if (!e)
		return -1;
	e->active = 0;
	return 0;
}

int E_num_active(int priority)
{
	int n = 0;

	if (priority < 0 || priority >= NUM_PRIORITY)
		return -1;
	for (int i = 0; i < ev.n_fds; i++)
		n += ev.fds[i].priority == priority && ev.fds[i].active;
	return n;
}

void E_exit_events(void)
{
	ev.exit = 1;
}

/* Runs every timed call that is due; returns the poll() timeout in ms
 * until the next one (-1: none). */
static int run_timers(void)
{
	sp_time now = E_get_time(), left;
	long ms;

	while (ev.timers && !ev.exit && E_compare_time(ev.timers->due, now) <= 0) {
		struct ev_timer *t = ev.timers;
		void (*func)(int, void *) = t->func;
		int code = t->code;
		void *data = t->data;

		ev.timers = t->next;
		free(t);
		func(code, data);
		now = E_get_time();
	}
	if (!ev.timers)
		return -1;
	left = E_sub_time(ev.timers->due, now);
	ms = left.sec * 1000 + (left.usec + 999) / 1000;
	return ms < 0 ? 0 : ms > 60000 ? 60000 : (int)ms;
}

static short poll_events(int type)
{
	return type == READ_FD ? POLLIN : type == WRITE_FD ? POLLOUT : POLLPRI;
}

void E_handle_events(void)
{
	static struct pollfd pfd[MAX_FD_EVENTS];
	static struct ev_fd snap[MAX_FD_EVENTS];

	ev.exit = 0;
	while (!ev.exit) {
		int timeout = run_timers(), n = 0, best = -1;

		if (ev.exit)
			break;
		for (int i = 0; i < ev.n_fds; i++) {
			if (!ev.fds[i].active || ev.fds[i].priority < ev.threshold)
				continue;
			snap[n] = ev.fds[i];
			pfd[n].fd = ev.fds[i].fd;
			pfd[n].events = poll_events(ev.fds[i].type);
			pfd[n].revents = 0;
			n++;
		}
		if (n == 0 && timeout < 0)
			break; /* nothing can ever happen */
		if (poll(pfd, (nfds_t)n, timeout) <= 0)
			continue;
		/* The highest priority with a ready descriptor is served. */
		for (int i = 0; i < n; i++)
			if (pfd[i].revents && snap[i].priority > best)
				best = snap[i].priority;
		for (int i = 0; i < n && !ev.exit; i++) {
			struct ev_fd *e;

			if (!pfd[i].revents || snap[i].priority != best)
				continue;
			/* A callback may have detached or changed it. */
			e = find_fd(snap[i].fd, snap[i].type);
			if (!e || !e->active || e->func != snap[i].func)
				continue;
			e->func(e->fd, e->code, e->data);
		}
	}
}
