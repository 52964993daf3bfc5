/*
 * sp_recv.c - daemon-to-client frames (spec section 6): SP_receive,
 * SP_scat_receive, SP_poll and the read-ahead extension.
 *
 * One call reads one whole frame. By default nothing is read beyond it, so
 * select()/poll() on the mailbox keep telling whether a message is
 * pending; a frame costs two reads: the 48-byte header, then one readv()
 * of the names and data straight into the caller's buffers. With
 * read-ahead on (chorus_set_readahead), the first read of a call also
 * fills a 256 KiB per-mailbox buffer, and later frames are copied out of
 * it.
 *
 * Short buffers follow sections 6.3 and 6.4: without DROP_RECV the header
 * is saved and the call returns BUFFER_TOO_SHORT or GROUPS_TOO_SHORT;
 * with DROP_RECV the frame is consumed and truncated. Fixed defects of
 * the original (sections 6.5, 11.2 and 12): the saved header is cleared
 * whenever its frame is consumed (R1, L9) and counted by SP_poll (R2); a
 * negative count breaks the session (L6); skipped lengths are 64-bit
 * (L7); a malformed regular-membership body is consumed and refused with
 * ILLEGAL_MESSAGE (L8; also one without a vs set, a join, leave or
 * disconnect without the member, and a transitional body that is not
 * exactly a group id, so that SP_get_memb_info never reads past a body
 * SP_*receive returned); a transitional body's group id is swapped when
 * the daemon's byte order differs (12.1 item 8).
 */
#include "lib.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

/* Working iovecs of one frame: old_type, names, up to 100 data elements. */
#define RD_IOV (2 + MAX_CLIENT_SCATTER_ELEMENTS)
#define RD_BIG 65536
#define RD_BIG_AHEAD 4096

/* Total length of iov[0..n). */
static size_t iov_total(const struct iovec *iov, int n)
{
	size_t t = 0;

	for (int i = 0; i < n; i++)
		t += iov[i].iov_len;
	return t;
}

/* Copies buffered read-ahead bytes into iov[0..n) (modified). Returns the
 * index of the first element still to fill. */
static int ra_serve(struct lib_sess *s, struct iovec *iov, int n)
{
	int i = lib_iov_advance(iov, n, 0);

	while (i < n && s->ra_len) {
		size_t k = iov[i].iov_len < s->ra_len ? iov[i].iov_len
						       : s->ra_len;

		memcpy(iov[i].iov_base, s->ra_buf + s->ra_off, k);
		s->ra_off += k;
		s->ra_len -= k;
		i += lib_iov_advance(iov + i, n - i, k);
	}
	if (!s->ra_len)
		s->ra_off = 0;
	return i;
}

/* Reads exactly the bytes of iov[0..n) (modified, n < RD_IOV) from the
 * mailbox's stream: buffered bytes first, then the socket. With
 * read-ahead on, each socket read also takes whatever else has arrived,
 * up to the buffer's size; when RD_BIG bytes or more are wanted, only up
 * to RD_BIG_AHEAD bytes more (the next header, a few small messages), so
 * that large messages are read into the caller's memory, not copied out
 * of the buffer. Receive lock held. Returns 0 or -1. */
static int rd_readv(struct lib_sess *s, struct iovec *iov, int n)
{
	struct iovec v[RD_IOV + 1];
	int i = ra_serve(s, iov, n);

	if (i == n)
		return 0;
	if (!s->readahead)
		return lib_io_readv(s->fd, iov + i, n - i, NULL);
	while (i < n) {
		int m = n - i;
		size_t want = iov_total(iov + i, m);
		ssize_t r;

		memcpy(v, iov + i, (size_t)m * sizeof(*v));
		v[m].iov_base = s->ra_buf; /* empty here: ra_serve drained it */
		v[m].iov_len = want >= RD_BIG ? RD_BIG_AHEAD : LIB_RA_CAP;
		r = lib_io_read_some(s->fd, v, m + 1);
		if (r < 0)
			return -1;
		if ((size_t)r >= want) {
			s->ra_off = 0;
			s->ra_len = (size_t)r - want;
			return 0;
		}
		i += lib_iov_advance(iov + i, m, (size_t)r);
	}
	return 0;
}

/* Reads and drops len bytes of the stream. Returns 0 or -1. */
static int rd_skip(struct lib_sess *s, uint64_t len)
{
	char junk[4096];

	while (len) {
		struct iovec v = { junk, len < sizeof(junk) ? (size_t)len
							    : sizeof(junk) };

		len -= v.iov_len;
		if (rd_readv(s, &v, 1) != 0)
			return -1;
	}
	return 0;
}

/* Appends to iov[n..] the first len bytes of the data elements
 * d[0..dn); returns the new count. */
static int add_data(struct iovec *iov, int n, const struct iovec *d,
		    int dn, size_t len)
{
	for (int i = 0; i < dn && len; i++) {
		size_t k = d[i].iov_len < len ? d[i].iov_len : len;

		iov[n].iov_base = d[i].iov_base;
		iov[n++].iov_len = k;
		len -= k;
	}
	return n;
}

/* Index of the session's own name among the ng member names, or -1. */
static int16 own_index(const char groups[][MAX_GROUP_NAME], int ng,
		       const char *own)
{
	for (int i = 0; i < ng && i <= INT16_MAX; i++)
		if (wire_name_eq(groups[i], own))
			return (int16)i;
	return -1;
}

/* Records what the library holds for SP_poll and drops an idle read-ahead
 * buffer once read-ahead was turned off. Receive lock held. */
static void held_update(struct lib_sess *s)
{
	if (!s->readahead && !s->ra_len && s->ra_buf) {
		free(s->ra_buf);
		s->ra_buf = NULL;
	}
	__atomic_store_n(&s->held, (s->saved ? WIRE_HDR_LEN : 0) + s->ra_len,
			 __ATOMIC_RELEASE);
}

/* What one receive call reports; copied to the caller's pointers at the
 * end, so that NULL output pointers are harmless. */
struct rcv_out {
	service st;
	int ng;
	int16 mt;
	int em;
};

/* Reads the next frame of the stream into the caller's buffers: at most
 * max_groups names into groups, at most cap data bytes over the elements
 * d[0..dn) (read-only here). The receive lock is held. Returns the data
 * length or a negative code; fills o and sender as section 6 says. */
static int rcv_frame(struct lib_sess *s, service st_in, char *sender,
		     int max_groups, char groups[][MAX_GROUP_NAME],
		     const struct iovec *d, int dn, size_t cap,
		     struct rcv_out *o)
{
	struct iovec iov[RD_IOV];
	uint8_t hdr[WIRE_HDR_LEN];
	struct wire_hdr h;
	uint32_t type, old_type = 0;
	int swap, is_reject, is_data, is_reg, is_gid, n = 0, ret;
	int64_t ng, dl, ng_fit, dl_fit;

	if (s->saved) {
		memcpy(hdr, s->saved_hdr, WIRE_HDR_LEN);
	} else {
		iov[0].iov_base = hdr;
		iov[0].iov_len = WIRE_HDR_LEN;
		if (rd_readv(s, iov, 1) != 0)
			goto broken;
	}
	swap = wire_hdr_decode(hdr, &h);
	if (h.num_groups < 0 || h.data_len < 0) {
		/* The stream cannot be resynchronised (L6). */
		s->saved = 0;
		lib_sess_break(s);
		return ILLEGAL_MESSAGE;
	}
	ng = h.num_groups;
	dl = h.data_len;
	type = h.type & ~WIRE_MARK;
	is_reject = (type & WIRE_REJECT) != 0;
	is_data = (type & WIRE_SERVICES) || is_reject;
	is_reg = !is_reject && (type & WIRE_REG_MEMB);
	/* Any other membership kind but a self-leave (in practice: a
	 * transitional message) carries just a 12-byte group id. */
	is_gid = !is_reject && !is_reg && (type & WIRE_MEMBERSHIP) &&
		 !Is_self_leave(type);
	if (sender)
		memcpy(sender, h.name, WIRE_NAME_LEN);

	if (!(st_in & DROP_RECV) && (ng > max_groups || dl > (int64_t)cap)) {
		/* Keep the frame for the next call (section 6.3). */
		memcpy(s->saved_hdr, hdr, WIRE_HDR_LEN);
		s->saved = 1;
		o->st = (service)type;
		o->mt = is_data ? wire_hint_mess_type(h.hint, NULL) : 0;
		o->ng = ng > max_groups ? (int)-ng : 0;
		o->em = dl > (int64_t)cap ? (int)-dl : 0;
		return ng > max_groups ? GROUPS_TOO_SHORT : BUFFER_TOO_SHORT;
	}

	s->saved = 0; /* from here on the frame is consumed (R1) */
	ng_fit = ng < max_groups ? ng : max_groups;
	dl_fit = dl < (int64_t)cap ? dl : (int64_t)cap;
	if (is_reject) {
		iov[n].iov_base = &old_type;
		iov[n++].iov_len = 4;
	}
	if (ng_fit) {
		iov[n].iov_base = groups;
		iov[n++].iov_len = (size_t)ng_fit * WIRE_NAME_LEN;
	}
	if (ng_fit == ng) /* the common case: one read for all of it */
		n = add_data(iov, n, d, dn, (size_t)dl_fit);
	if (rd_readv(s, iov, n) != 0)
		goto broken;
	if (ng_fit < ng) {
		n = add_data(iov, 0, d, dn, (size_t)dl_fit);
		if (rd_skip(s, (uint64_t)(ng - ng_fit) * WIRE_NAME_LEN) != 0 ||
		    rd_readv(s, iov, n) != 0)
			goto broken;
	}
	if (dl_fit < dl && rd_skip(s, (uint64_t)(dl - dl_fit)) != 0)
		goto broken;

	if (is_reject) {
		if (swap)
			old_type = wire_swap32(old_type);
		o->st = (service)((old_type | WIRE_REJECT) & ~WIRE_MARK);
	} else {
		o->st = (service)type;
	}
	o->ng = ng_fit == ng ? (int)ng : (int)-ng;
	if (is_data) {
		o->mt = wire_hint_mess_type(h.hint, &o->em);
	} else {
		o->mt = -1;
		o->em = 0;
	}
	ret = dl_fit < dl ? BUFFER_TOO_SHORT : (int)dl;
	if (is_reg) {
		if (ng_fit == ng)
			o->mt = own_index(groups, (int)ng, s->private_group);
		if (dl_fit == dl) {
			int r = lib_memb_fix(d, dn, (size_t)dl, swap, type);

			if (r < 0)
				ret = r;
		} else if (swap) {
			lib_memb_swap_prefix(d, dn, (size_t)dl_fit);
		}
	} else if (is_gid) {
		if (dl != 12)
			ret = ILLEGAL_MESSAGE;
		else if (swap)
			lib_memb_swap_gid(d, dn, (size_t)dl_fit);
	}
	return ret;
broken:
	s->saved = 0;
	lib_sess_break(s);
	return CONNECTION_CLOSED;
}

/* Looks the mailbox up, takes its receive lock and reads one frame.
 * Returns the data length or a negative code. */
static int receive(mailbox mbox, service *service_type, char *sender,
		   int max_groups, int *num_groups,
		   char groups[][MAX_GROUP_NAME], int16 *mess_type,
		   int *endian_mismatch, const struct iovec *d, int dn,
		   size_t cap)
{
	struct rcv_out o = { 0, 0, 0, 0 };
	struct lib_sess *s = lib_sess_get(mbox);
	int ret;

	if (!s)
		return ILLEGAL_SESSION;
	if (lib_sess_broken(s)) {
		ret = NET_ERROR_ON_SESSION;
		goto out;
	}
	if (!groups || max_groups < 0)
		max_groups = 0;
	/* What the application sent must go out before it waits for an
	 * answer. */
	if (lib_send_flush(s) != 0) {
		ret = CONNECTION_CLOSED;
		goto out;
	}
	pthread_mutex_lock(&s->recv_lock);
	if (lib_sess_dead(s))
		ret = ILLEGAL_SESSION;
	else if (lib_sess_broken(s))
		ret = NET_ERROR_ON_SESSION;
	else
		ret = rcv_frame(s, service_type ? *service_type : 0, sender,
				max_groups, groups, d, dn, cap, &o);
	held_update(s);
	pthread_mutex_unlock(&s->recv_lock);
	if (ret >= 0 || ret == BUFFER_TOO_SHORT || ret == GROUPS_TOO_SHORT ||
	    ret == ILLEGAL_MESSAGE) {
		if (service_type)
			*service_type = o.st;
		if (num_groups)
			*num_groups = o.ng;
		if (mess_type)
			*mess_type = o.mt;
		if (endian_mismatch)
			*endian_mismatch = o.em;
	}
out:
	lib_sess_put(s);
	return ret;
}

/* Receives one message into mess (max_mess_len bytes) and groups
 * (max_groups names). The caller owns every buffer; sender must hold 32
 * bytes. *service_type is an input too: 0, or DROP_RECV to truncate.
 * Returns the data length, or a negative code (section 6). */
int SP_receive(mailbox mbox, service *service_type,
	       char sender[MAX_GROUP_NAME], int max_groups, int *num_groups,
	       char groups[][MAX_GROUP_NAME], int16 *mess_type,
	       int *endian_mismatch, int max_mess_len, char *mess)
{
	struct iovec d = { mess, mess && max_mess_len > 0
					 ? (size_t)max_mess_len : 0 };

	return receive(mbox, service_type, sender, max_groups, num_groups,
		       groups, mess_type, endian_mismatch, &d, 1, d.iov_len);
}

/* As SP_receive, with the data spread over the scatter's elements in
 * order. A scatter of more than 100 elements, or an element with a NULL
 * buffer and a non-zero length, gives ILLEGAL_MESSAGE and reads
 * nothing. */
int SP_scat_receive(mailbox mbox, service *service_type,
		    char sender[MAX_GROUP_NAME], int max_groups,
		    int *num_groups, char groups[][MAX_GROUP_NAME],
		    int16 *mess_type, int *endian_mismatch,
		    scatter *scat_mess)
{
	struct iovec d[MAX_CLIENT_SCATTER_ELEMENTS];
	size_t cap = 0;
	int dn = 0;

	if (!scat_mess || scat_mess->num_elements > MAX_CLIENT_SCATTER_ELEMENTS)
		return ILLEGAL_MESSAGE;
	for (size_t i = 0; i < scat_mess->num_elements; i++) {
		scat_element *e = &scat_mess->elements[i];

		if (!e->buf && e->len)
			return ILLEGAL_MESSAGE;
		if (!e->len)
			continue;
		d[dn].iov_base = e->buf;
		d[dn++].iov_len = e->len;
		cap = e->len >= (size_t)INT_MAX - cap ? (size_t)INT_MAX
						      : cap + e->len;
	}
	return receive(mbox, service_type, sender, max_groups, num_groups,
		       groups, mess_type, endian_mismatch, d, dn, cap);
}

/* Bytes waiting for the mailbox: what the kernel holds plus what the
 * library holds (a saved header, read-ahead data). A positive value does
 * not mean a whole message is there. Returns the count or
 * ILLEGAL_SESSION. Never blocks and ignores the broken flag. */
int SP_poll(mailbox mbox)
{
	struct lib_sess *s = lib_sess_get(mbox);
	size_t held;
	int n = 0, ret;

	if (!s)
		return ILLEGAL_SESSION;
	(void)lib_send_flush(s);
	if (ioctl(s->fd, FIONREAD, &n) < 0) {
		ret = ILLEGAL_SESSION;
	} else {
		struct lib_tls *t = lib_tls_of(s->fd);

		held = __atomic_load_n(&s->held, __ATOMIC_ACQUIRE);
		if (t) /* decrypted bytes in OpenSSL's buffer */
			held += lib_tls_pending(t);
		ret = held > (size_t)(INT_MAX - n) ? INT_MAX : n + (int)held;
	}
	lib_sess_put(s);
	return ret;
}

/* See chorus.h. The buffer is allocated when read-ahead is first turned
 * on and freed once it is off and empty. */
int chorus_set_readahead(mailbox mbox, int on)
{
	struct lib_sess *s = lib_sess_get(mbox);
	int ret = 0;

	if (!s)
		return ILLEGAL_SESSION;
	pthread_mutex_lock(&s->recv_lock);
	if (lib_sess_dead(s)) {
		ret = ILLEGAL_SESSION;
	} else if (on && !s->ra_buf && !(s->ra_buf = malloc(LIB_RA_CAP))) {
		ret = SP_BUG;
	} else {
		s->readahead = on != 0;
		held_update(s);
	}
	pthread_mutex_unlock(&s->recv_lock);
	lib_sess_put(s);
	return ret;
}
