/*
 * sp_send.c - client-to-daemon frames (spec sections 4.5 and 10.3): join,
 * leave, disconnect and the four multicast calls.
 *
 * A frame is the 48-byte header and the group names, built in one buffer,
 * followed by the data; all of it goes out with one sendmsg() (looping on
 * partial writes) under the mailbox's send lock, so concurrent senders
 * never interleave frames.
 *
 * Hardened (sections 10.3 and 11.2, L3 to L5): a multicast service must
 * have exactly one bit of REGULAR_MESS and nothing outside REGULAR_MESS,
 * SELF_DISCARD and DROP_RECV (ILLEGAL_SERVICE; DROP_RECV is not sent);
 * the group count must be 0..100, the length non-negative and a scatter at
 * most 100 elements of at most INT_MAX bytes (ILLEGAL_MESSAGE). All checks
 * happen before anything is built or sent.
 *
 * Send coalescing (chorus_set_send_buffer(), an extension): frames are
 * copied into a per-mailbox buffer and written when it fills, on
 * chorus_flush(), and before any receive, poll or disconnect on the
 * mailbox, so one system call carries many messages. A frame with
 * LIB_SEND_COPY_MAX bytes of data or more is not copied: it goes out at
 * once, behind the held frames, in the same call, from the caller's
 * memory.
 */
#include "lib.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* Frames with this much data or more bypass the send buffer. */
#define LIB_SEND_COPY_MAX 65536

/* The type to send for a multicast service, or 0 if the service is
 * refused. */
static uint32_t send_type(service st)
{
	uint32_t t = (uint32_t)st, svc = t & WIRE_SERVICES;

	if (t & ~(WIRE_SERVICES | WIRE_SELF_DISCARD | WIRE_DROP_RECV))
		return 0;
	if (svc == 0 || (svc & (svc - 1)))
		return 0;
	return t & (WIRE_SERVICES | WIRE_SELF_DISCARD);
}

/* Writes the held frames; the caller holds the send lock. Returns 0, or
 * -1 after breaking the session. */
static int flush_locked(struct lib_sess *s)
{
	size_t len = s->sbuf_len;

	__atomic_store_n(&s->sbuf_len, 0, __ATOMIC_RELAXED);
	if (lib_io_write(s->fd, s->sbuf, len) != 0) {
		lib_sess_break(s);
		return -1;
	}
	return 0;
}

/* Builds and sends one frame. The names come from `one` (a C string, at
 * most 31 characters are copied) or, if one is NULL, from ng raw 32-byte
 * fields at groups. iov[0] is set here; iov[1..n) are the data, data_len
 * bytes in all. Returns data_len, ILLEGAL_SESSION, NET_ERROR_ON_SESSION or
 * CONNECTION_CLOSED (the session is then broken). */
static int send_frame(mailbox mbox, uint32_t type, int ng, const char *one,
		      const char *groups, int16 mess_type, struct iovec *iov,
		      int n, int data_len)
{
	uint8_t buf[WIRE_HDR_LEN + WIRE_MAX_GROUPS * WIRE_NAME_LEN];
	size_t blen = WIRE_HDR_LEN + (size_t)ng * WIRE_NAME_LEN;
	struct lib_sess *s = lib_sess_get(mbox);
	struct wire_hdr h;
	int ret;

	if (!s)
		return ILLEGAL_SESSION;
	memset(&h, 0, sizeof(h));
	memset(buf, 0, blen);
	h.type = type;
	memcpy(h.name, s->private_group, WIRE_NAME_LEN);
	h.num_groups = ng;
	h.hint = wire_hint_make(mess_type);
	h.data_len = data_len;
	wire_hdr_encode(&h, buf);
	if (one)
		strncpy((char *)buf + WIRE_HDR_LEN, one, WIRE_NAME_LEN - 1);
	else if (ng > 0)
		memcpy(buf + WIRE_HDR_LEN, groups, (size_t)ng * WIRE_NAME_LEN);
	iov[0].iov_base = buf;
	iov[0].iov_len = blen;

	pthread_mutex_lock(&s->send_lock);
	if (lib_sess_dead(s)) {
		ret = ILLEGAL_SESSION;
	} else if (lib_sess_broken(s)) {
		ret = NET_ERROR_ON_SESSION;
	} else if (s->sbuf && blen + (size_t)data_len <= s->sbuf_cap &&
		   data_len < LIB_SEND_COPY_MAX) {
		ret = data_len;
		if (s->sbuf_len + blen + (size_t)data_len > s->sbuf_cap &&
		    flush_locked(s) != 0)
			ret = CONNECTION_CLOSED;
		for (int i = 0; ret >= 0 && i < n; i++) {
			memcpy(s->sbuf + s->sbuf_len, iov[i].iov_base, iov[i].iov_len);
			/* Read without the lock by lib_send_flush(). */
			__atomic_store_n(&s->sbuf_len, s->sbuf_len + iov[i].iov_len,
					 __ATOMIC_RELAXED);
		}
	} else {
		/* The held frames first, in the same call. */
		struct iovec all[2 + MAX_CLIENT_SCATTER_ELEMENTS];
		int k = 0;

		if (s->sbuf_len) {
			all[k].iov_base = s->sbuf;
			all[k++].iov_len = s->sbuf_len;
			__atomic_store_n(&s->sbuf_len, 0, __ATOMIC_RELAXED);
		}
		memcpy(all + k, iov, (size_t)n * sizeof(*iov));
		if (lib_io_writev(s->fd, all, n + k) != 0) {
			lib_sess_break(s);
			ret = CONNECTION_CLOSED;
		} else {
			ret = data_len;
		}
	}
	pthread_mutex_unlock(&s->send_lock);
	lib_sess_put(s);
	return ret;
}

int lib_send_flush(struct lib_sess *s)
{
	int ret = 0;

	if (!__atomic_load_n(&s->sbuf_len, __ATOMIC_RELAXED))
		return 0;
	pthread_mutex_lock(&s->send_lock);
	if (s->sbuf_len && !lib_sess_broken(s) && flush_locked(s) != 0)
		ret = CONNECTION_CLOSED;
	pthread_mutex_unlock(&s->send_lock);
	return ret;
}

/* See chorus.h. */
int chorus_flush(mailbox mbox)
{
	struct lib_sess *s = lib_sess_get(mbox);
	int ret;

	if (!s)
		return ILLEGAL_SESSION;
	ret = lib_sess_broken(s) ? NET_ERROR_ON_SESSION : lib_send_flush(s);
	lib_sess_put(s);
	return ret;
}

/* See chorus.h. Turning coalescing off (or resizing) writes what is held
 * first. */
int chorus_set_send_buffer(mailbox mbox, size_t bytes)
{
	struct lib_sess *s = lib_sess_get(mbox);
	uint8_t *nb = NULL;
	int ret = 0;

	if (!s)
		return ILLEGAL_SESSION;
	if (bytes > CHORUS_MAX_SEND_BUFFER) {
		lib_sess_put(s);
		return ILLEGAL_MESSAGE;
	}
	if (bytes && !(nb = malloc(bytes))) {
		lib_sess_put(s);
		return SP_BUG;
	}
	pthread_mutex_lock(&s->send_lock);
	if (lib_sess_dead(s)) {
		ret = ILLEGAL_SESSION;
	} else if (s->sbuf_len && flush_locked(s) != 0) {
		ret = CONNECTION_CLOSED;
	} else {
		free(s->sbuf);
		s->sbuf = nb;
		s->sbuf_cap = bytes;
		nb = NULL;
	}
	pthread_mutex_unlock(&s->send_lock);
	free(nb);
	lib_sess_put(s);
	return ret;
}

/* The common part of the four multicasts: the data is either the scatter
 * scat or len bytes at mess. Returns the data length or a negative code. */
static int multicast(mailbox mbox, service st, int ng, const char *one,
		     const char groups[][MAX_GROUP_NAME], int16 mess_type,
		     const scatter *scat, int len, const char *mess)
{
	struct iovec iov[1 + MAX_CLIENT_SCATTER_ELEMENTS];
	uint32_t type = send_type(st);
	uint64_t total = 0;
	int n = 1;

	if (!type)
		return ILLEGAL_SERVICE;
	if (ng < 0 || ng > WIRE_MAX_GROUPS)
		return ILLEGAL_MESSAGE;
	if (scat) {
		if (scat->num_elements > MAX_CLIENT_SCATTER_ELEMENTS)
			return ILLEGAL_MESSAGE;
		for (size_t i = 0; i < scat->num_elements; i++) {
			const scat_element *e = &scat->elements[i];

			if (e->len > INT_MAX || (!e->buf && e->len))
				return ILLEGAL_MESSAGE;
			total += e->len;
			if (e->len) {
				iov[n].iov_base = e->buf;
				iov[n++].iov_len = e->len;
			}
		}
	} else {
		if (len < 0 || (!mess && len > 0))
			return ILLEGAL_MESSAGE;
		total = (uint64_t)len;
		if (len) {
			iov[n].iov_base = (void *)(uintptr_t)mess;
			iov[n++].iov_len = (size_t)len;
		}
	}
	if (!one && ng > 0 && !groups)
		return ILLEGAL_GROUP;
	if (total + (uint64_t)ng * WIRE_NAME_LEN > CHORUS_MAX_MESSAGE_BODY)
		return MESSAGE_TOO_LONG;
	return send_frame(mbox, type, ng, one, (const char *)groups,
			  mess_type, iov, n, (int)total);
}

/* Sends mess_len bytes at mess to one group (or private group); at most
 * 31 characters of the name are used. Returns mess_len or a negative
 * code. */
int SP_multicast(mailbox mbox, service service_type, const char *group,
		 int16 mess_type, int mess_len, const char *mess)
{
	if (!group)
		return ILLEGAL_GROUP;
	return multicast(mbox, service_type, 1, group, NULL, mess_type, NULL,
			 mess_len, mess);
}

/* As SP_multicast, with the data gathered from the scatter's elements. */
int SP_scat_multicast(mailbox mbox, service service_type, const char *group,
		      int16 mess_type, const scatter *scat_mess)
{
	if (!group)
		return ILLEGAL_GROUP;
	if (!scat_mess)
		return ILLEGAL_MESSAGE;
	return multicast(mbox, service_type, 1, group, NULL, mess_type,
			 scat_mess, 0, NULL);
}

/* Sends to num_groups (0..100) destinations, each a 32-byte field sent as
 * it is. Returns mess_len or a negative code. */
int SP_multigroup_multicast(mailbox mbox, service service_type,
			    int num_groups, const char groups[][MAX_GROUP_NAME],
			    int16 mess_type, int mess_len, const char *mess)
{
	return multicast(mbox, service_type, num_groups, NULL, groups,
			 mess_type, NULL, mess_len, mess);
}

/* As SP_multigroup_multicast, with scatter data. */
int SP_multigroup_scat_multicast(mailbox mbox, service service_type,
				 int num_groups,
				 const char groups[][MAX_GROUP_NAME],
				 int16 mess_type, const scatter *scat_mess)
{
	if (!scat_mess)
		return ILLEGAL_MESSAGE;
	return multicast(mbox, service_type, num_groups, NULL, groups,
			 mess_type, scat_mess, 0, NULL);
}

/* Sends a join, leave or disconnect frame naming group. Returns 0 or a
 * negative code. */
static int control(mailbox mbox, uint32_t type, const char *group)
{
	char field[WIRE_NAME_LEN] = { 0 };
	struct iovec iov[1];
	size_t n;

	if (!group)
		return ILLEGAL_GROUP;
	n = strnlen(group, WIRE_NAME_LEN);
	if (n >= WIRE_NAME_LEN)
		return ILLEGAL_GROUP;
	memcpy(field, group, n);
	if (type != WIRE_KILL && !wire_group_name_ok(field))
		return ILLEGAL_GROUP;
	return send_frame(mbox, type, 1, NULL, field, 0, iov, 1, 0);
}

/* Joins group: 1..31 bytes, each in 0x24..0x7e, else ILLEGAL_GROUP and
 * nothing is sent. The result shows up as a membership message. */
int SP_join(mailbox mbox, const char *group)
{
	return control(mbox, WIRE_JOIN, group);
}

/* Leaves group; same rules and returns as SP_join. */
int SP_leave(mailbox mbox, const char *group)
{
	return control(mbox, WIRE_LEAVE, group);
}

/* Tells the daemon (errors ignored), then frees the mailbox and closes the
 * socket. Returns 0 or ILLEGAL_SESSION. */
int SP_disconnect(mailbox mbox)
{
	struct lib_sess *s = lib_sess_get(mbox);
	char pg[WIRE_NAME_LEN];

	if (!s)
		return ILLEGAL_SESSION;
	memcpy(pg, s->private_group, WIRE_NAME_LEN);
	(void)control(mbox, WIRE_KILL, pg);
	(void)lib_send_flush(s);
	lib_sess_put(s);
	return lib_sess_remove(mbox);
}
