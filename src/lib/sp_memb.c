/*
 * sp_memb.c - membership bodies (spec sections 5.2 and 5.8): the parsers
 * SP_get_memb_info, SP_get_vs_sets_info and SP_get_vs_set_members, their
 * scatter twins, SP_equal_group_ids, and the checks SP_*receive runs on a
 * body before handing it out (defect L8).
 *
 * Both kinds of parser read the body through one "view" (a list of
 * iovecs), so a scatter twin gives byte-identical results however the
 * body is split across elements; the original's scatter parsers did not
 * (defect L11). A view of a bare pointer has no known length; the parsers
 * then clamp every offset to LIB_MEMB_MAX. A scatter view ends at the sum
 * of its element lengths. Reads past the end give ILLEGAL_MESSAGE.
 *
 * Deviations (section 12): SP_get_memb_info refuses services with
 * REJECT_MESS (ILLEGAL_MESSAGE) and zeroes gid for a self-leave, which has
 * no body.
 */
#include "lib.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* Largest body a parser reads from a pointer of unknown length; far above
 * any frame a daemon can send. */
#define LIB_MEMB_MAX ((size_t)1 << 24)

/* Copies len bytes at offset off of the view to dst. Returns 0, or -1
 * (nothing useful copied) if they are not all inside the view. */
static int view_get(const struct lib_view *v, size_t off, void *dst,
		    size_t len)
{
	char *out = dst;

	if (off > v->len || len > v->len - off)
		return -1;
	for (int i = 0; i < v->n && len; i++) {
		size_t el = v->iov[i].iov_len, k;

		if (off >= el) {
			off -= el;
			continue;
		}
		k = el - off < len ? el - off : len;
		memcpy(out, (const char *)v->iov[i].iov_base + off, k);
		out += k;
		len -= k;
		off = 0;
	}
	return len ? -1 : 0;
}

/* The opposite of view_get: writes len bytes from src at offset off. */
static int view_put(const struct lib_view *v, size_t off, const void *src,
		    size_t len)
{
	const char *in = src;

	if (off > v->len || len > v->len - off)
		return -1;
	for (int i = 0; i < v->n && len; i++) {
		size_t el = v->iov[i].iov_len, k;

		if (off >= el) {
			off -= el;
			continue;
		}
		k = el - off < len ? el - off : len;
		memcpy((char *)v->iov[i].iov_base + off, in, k);
		in += k;
		len -= k;
		off = 0;
	}
	return len ? -1 : 0;
}

/* Reads the 32-bit word at off (64-bit, so overflowed offsets fail). */
static int view_get32(const struct lib_view *v, uint64_t off, uint32_t *out)
{
	if (off > v->len)
		return -1;
	return view_get(v, (size_t)off, out, 4);
}

/* Swaps the 32-bit word at off in place if it lies inside the view. */
static void view_swap32(const struct lib_view *v, uint64_t off)
{
	uint32_t w;

	if (view_get32(v, off, &w) == 0) {
		w = wire_swap32(w);
		view_put(v, (size_t)off, &w, 4);
	}
}

/* See lib.h. A body in one piece is checked in place; one split over
 * scatter elements is copied, checked, and written back if swapped. Both
 * leave buf holding the body in host order for the last checks. */
int lib_memb_fix(const struct iovec *iov, int n, size_t len, int swap,
		 uint32_t type)
{
	struct lib_view v = { iov, n, len };
	uint8_t small[4096], *heap = NULL, *buf = small;
	uint32_t nsets, count;
	int ret = ILLEGAL_MESSAGE;

	if (len < WIRE_MEMB_FIXED)
		return ILLEGAL_MESSAGE;
	if (n > 0 && iov[0].iov_len >= len) {
		buf = iov[0].iov_base; /* in one piece: check it in place */
		if (wire_memb_body_fix(buf, len, swap) != 0)
			goto out;
	} else {
		/* Split over scatter elements: check a contiguous copy. */
		if (len > sizeof(small) && !(buf = heap = malloc(len))) {
			ret = SP_BUG;
			goto out;
		}
		if (view_get(&v, 0, buf, len) != 0 ||
		    wire_memb_body_fix(buf, len, swap) != 0)
			goto out;
		if (swap)
			view_put(&v, 0, buf, len);
	}
	/* Well formed; now what SP_get_memb_info reads must be there too:
	 * the set at local_vs_offset, and the joiner's (leaver's) name. */
	memcpy(&nsets, buf + 12, 4);
	if (nsets == 0)
		goto out;
	memcpy(&count, buf + WIRE_MEMB_FIXED, 4);
	if (count == 0 && !(type & WIRE_BY_NETWORK) &&
	    (type & (WIRE_BY_JOIN | WIRE_BY_LEAVE | WIRE_BY_DISCONNECT)))
		goto out;
	ret = 0;
out:
	free(heap);
	return ret;
}

/* See lib.h. */
void lib_memb_swap_prefix(const struct iovec *iov, int n, size_t have)
{
	struct lib_view v = { iov, n, have };
	uint32_t nsets = 0, count;
	uint64_t pos = WIRE_MEMB_FIXED;

	for (uint64_t off = 0; off < WIRE_MEMB_FIXED; off += 4)
		view_swap32(&v, off);
	if (view_get32(&v, 12, &nsets) != 0)
		return;
	/* Each set moves pos by at least 4, so this ends within have/4
	 * steps whatever the counts say. */
	for (uint32_t i = 0; i < nsets; i++) {
		view_swap32(&v, pos);
		if (view_get32(&v, pos, &count) != 0)
			return;
		pos += 4 + (uint64_t)count * WIRE_NAME_LEN;
	}
}

/* See lib.h. */
void lib_memb_swap_gid(const struct iovec *iov, int n, size_t have)
{
	struct lib_view v = { iov, n, have };

	for (uint64_t off = 0; off < 12; off += 4)
		view_swap32(&v, off);
}

/* ---- the parsers, over a view ---- */

static int memb_info_get(const struct lib_view *v, service service_type,
		     membership_info *memb_info)
{
	uint32_t t = (uint32_t)service_type, nsets, local, count;
	membership_info m;

	if (!(t & WIRE_MEMBERSHIP) || (t & WIRE_REJECT) || !memb_info)
		return ILLEGAL_MESSAGE;
	m = *memb_info; /* changed_member stays as it was unless set */
	memset(&m.my_vs_set, 0, sizeof(m.my_vs_set));
	m.num_vs_sets = 0;
	if (Is_self_leave(t)) {
		memset(&m.gid, 0, sizeof(m.gid));
		goto done;
	}
	if (view_get(v, 0, &m.gid, sizeof(m.gid)) != 0)
		return ILLEGAL_MESSAGE;
	if (!(t & WIRE_REG_MEMB))
		goto done;
	if ((t & WIRE_BY_NETWORK) ||
	    !(t & (WIRE_BY_JOIN | WIRE_BY_LEAVE | WIRE_BY_DISCONNECT)))
		memset(m.changed_member, 0, sizeof(m.changed_member));
	else if (view_get(v, WIRE_MEMB_FIXED + 4, m.changed_member,
			  WIRE_NAME_LEN) != 0)
		return ILLEGAL_MESSAGE;
	if (view_get32(v, 12, &nsets) != 0 || view_get32(v, 16, &local) != 0 ||
	    local > UINT_MAX - WIRE_MEMB_FIXED - 4 ||
	    view_get32(v, (uint64_t)WIRE_MEMB_FIXED + local, &count) != 0)
		return ILLEGAL_MESSAGE;
	m.num_vs_sets = nsets;
	m.my_vs_set.num_members = count;
	m.my_vs_set.members_offset = WIRE_MEMB_FIXED + 4 + local;
done:
	*memb_info = m;
	return 1;
}

/* SP_get_vs_sets_info over a view. */
static int vs_sets_get(const struct lib_view *v, vs_set_info *vs_sets,
			int num_vs_sets, unsigned int *my_vs_set_index)
{
	uint32_t nsets, local, count;
	uint64_t pos = WIRE_MEMB_FIXED;
	int64_t mine = -1;

	if (view_get32(v, 12, &nsets) != 0 || view_get32(v, 16, &local) != 0)
		return ILLEGAL_MESSAGE;
	if ((int64_t)num_vs_sets < (int64_t)nsets)
		return BUFFER_TOO_SHORT;
	if (nsets && !vs_sets)
		return ILLEGAL_MESSAGE;
	for (uint32_t i = 0; i < nsets; i++) {
		if (pos > UINT_MAX - 4 || view_get32(v, pos, &count) != 0)
			return ILLEGAL_MESSAGE;
		vs_sets[i].num_members = count;
		vs_sets[i].members_offset = (unsigned int)(pos + 4);
		if (pos - WIRE_MEMB_FIXED == local)
			mine = i;
		pos += 4 + (uint64_t)count * WIRE_NAME_LEN;
	}
	if (mine >= 0 && my_vs_set_index)
		*my_vs_set_index = (unsigned int)mine;
	return (int)nsets;
}

/* SP_get_vs_set_members over a view. */
static int vs_members_get(const struct lib_view *v, const vs_set_info *set,
			  char names[][MAX_GROUP_NAME], int n)
{
	if (!set)
		return ILLEGAL_MESSAGE;
	if ((int64_t)n < (int64_t)set->num_members)
		return BUFFER_TOO_SHORT;
	if (set->num_members && !names)
		return ILLEGAL_MESSAGE;
	if (view_get(v, set->members_offset, names,
		     (size_t)set->num_members * WIRE_NAME_LEN) != 0)
		return ILLEGAL_MESSAGE;
	return (int)set->num_members;
}

/* ---- views of the caller's body ---- */

/* A bare pointer: one element, clamped length (none if p is NULL). */
static void view_ptr(struct lib_view *v, struct iovec *one, const char *p)
{
	one->iov_base = (void *)(uintptr_t)p;
	one->iov_len = p ? LIB_MEMB_MAX : 0;
	v->iov = one;
	v->n = 1;
	v->len = one->iov_len;
}

/* A scatter. Returns 0, or -1 if it has more than 100 elements or an
 * element with a NULL buffer and a non-zero length. */
static int view_scat(struct lib_view *v, struct iovec *iov,
		     const scatter *sc)
{
	v->iov = iov;
	v->n = 0;
	v->len = 0;
	if (!sc || sc->num_elements > MAX_CLIENT_SCATTER_ELEMENTS)
		return -1;
	for (size_t i = 0; i < sc->num_elements; i++) {
		const scat_element *e = &sc->elements[i];

		if (!e->buf && e->len)
			return -1;
		if (e->len > LIB_MEMB_MAX - v->len)
			return -1;
		iov[v->n].iov_base = e->buf;
		iov[v->n++].iov_len = e->len;
		v->len += e->len;
	}
	return 0;
}

/* Fills memb_info from a membership body. Returns 1, or ILLEGAL_MESSAGE
 * for a service without membership bits or with REJECT_MESS. */
int SP_get_memb_info(const char *memb_mess, const service service_type,
		     membership_info *memb_info)
{
	struct lib_view v;
	struct iovec one;

	view_ptr(&v, &one, memb_mess);
	return memb_info_get(&v, service_type, memb_info);
}

/* Fills vs_sets[0..count) from a regular-membership body and sets
 * *my_vs_set_index to the receiver's own set. Returns the number of sets,
 * BUFFER_TOO_SHORT (nothing written) if num_vs_sets is smaller, or
 * ILLEGAL_MESSAGE. */
int SP_get_vs_sets_info(const char *memb_mess, vs_set_info *vs_sets,
			int num_vs_sets, unsigned int *my_vs_set_index)
{
	struct lib_view v;
	struct iovec one;

	view_ptr(&v, &one, memb_mess);
	return vs_sets_get(&v, vs_sets, num_vs_sets, my_vs_set_index);
}

/* Copies the names of one vs set (32 bytes each) to member_names.
 * Returns their number, BUFFER_TOO_SHORT if member_names_count is
 * smaller, or ILLEGAL_MESSAGE. */
int SP_get_vs_set_members(const char *memb_mess, const vs_set_info *vs_set,
			  char member_names[][MAX_GROUP_NAME],
			  int member_names_count)
{
	struct lib_view v;
	struct iovec one;

	view_ptr(&v, &one, memb_mess);
	return vs_members_get(&v, vs_set, member_names, member_names_count);
}

/* The scatter twins: as above, over the scatter's elements in order,
 * and ILLEGAL_MESSAGE for a malformed scatter or a read past its end. */
int SP_scat_get_memb_info(const scatter *memb_mess, const service service_type,
			  membership_info *memb_info)
{
	struct iovec iov[MAX_CLIENT_SCATTER_ELEMENTS];
	struct lib_view v;

	if (view_scat(&v, iov, memb_mess) != 0)
		return ILLEGAL_MESSAGE;
	return memb_info_get(&v, service_type, memb_info);
}

int SP_scat_get_vs_sets_info(const scatter *memb_mess, vs_set_info *vs_sets,
			     int num_vs_sets, unsigned int *my_vs_set_index)
{
	struct iovec iov[MAX_CLIENT_SCATTER_ELEMENTS];
	struct lib_view v;

	if (view_scat(&v, iov, memb_mess) != 0)
		return ILLEGAL_MESSAGE;
	return vs_sets_get(&v, vs_sets, num_vs_sets, my_vs_set_index);
}

int SP_scat_get_vs_set_members(const scatter *memb_mess,
			       const vs_set_info *vs_set,
			       char member_names[][MAX_GROUP_NAME],
			       int member_names_count)
{
	struct iovec iov[MAX_CLIENT_SCATTER_ELEMENTS];
	struct lib_view v;

	if (view_scat(&v, iov, memb_mess) != 0)
		return ILLEGAL_MESSAGE;
	return vs_members_get(&v, vs_set, member_names, member_names_count);
}

/* 1 if the three words of g1 and g2 are equal, else 0. */
int SP_equal_group_ids(group_id g1, group_id g2)
{
	return g1.id[0] == g2.id[0] && g1.id[1] == g2.id[1] && g1.id[2] == g2.id[2];
}
