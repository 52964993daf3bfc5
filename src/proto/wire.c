/*
 * wire.c - codec of the Spread-4 client protocol (see wire.h).
 *
 * Byte layouts follow docs/client-protocol.md sections 3 (handshake),
 * 4 (frames) and 5.2 (membership bodies). The validation of client frames
 * is a whitelist: it accepts exactly what a correct library sends and
 * nothing the original daemon mishandled.
 */
#include "wire.h"

#include <string.h>

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

static void put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

int wire_hdr_decode(const uint8_t *p, struct wire_hdr *h)
{
	uint32_t type = get32(p);
	int swap = (type & WIRE_MARK) != WIRE_OWN_MARK;
	uint32_t ng = get32(p + 36), dl = get32(p + 44);

	if (swap) {
		type = wire_swap32(type);
		ng = wire_swap32(ng);
		dl = wire_swap32(dl);
	}
	h->type = type;
	memcpy(h->name, p + 4, WIRE_NAME_LEN);
	h->num_groups = (int32_t)ng;
	h->hint = get32(p + 40);
	h->data_len = (int32_t)dl;
	return swap;
}

void wire_hdr_encode(const struct wire_hdr *h, uint8_t *p)
{
	put32(p, (h->type & ~WIRE_MARK) | WIRE_OWN_MARK);
	memcpy(p + 4, h->name, WIRE_NAME_LEN);
	put32(p + 36, (uint32_t)h->num_groups);
	put32(p + 40, h->hint);
	put32(p + 44, (uint32_t)h->data_len);
}

int16_t wire_hint_mess_type(uint32_t hint, int *mismatch)
{
	int swap = (hint & WIRE_MARK) != WIRE_OWN_MARK;

	if (mismatch)
		*mismatch = swap;
	if (swap)
		hint = wire_swap32(hint);
	hint &= ~WIRE_MARK;
	return (int16_t)((hint >> 8) & 0xffff);
}

uint32_t wire_hint_make(int16_t mess_type)
{
	return (((uint32_t)(uint16_t)mess_type << 8) & 0x00ffff00u) |
	       WIRE_OWN_MARK;
}

static const char *const wire_err_names[WIRE_E__COUNT] = {
	[WIRE_OK] = "ok",
	[WIRE_E_TYPE_BITS] = "type carries bits a client may not send",
	[WIRE_E_SERVICE] = "type is not exactly one service or control bit",
	[WIRE_E_SENDER] = "sender name is not the session's private group",
	[WIRE_E_NUM_GROUPS] = "group count out of range",
	[WIRE_E_HINT] = "hint carries bits outside the message type",
	[WIRE_E_DATA_LEN] = "data length out of range",
	[WIRE_E_TOO_LONG] = "data plus group names exceed the frame limit",
	[WIRE_E_GROUP_NAME] = "illegal group name in join or leave",
	[WIRE_E_KILL_NAME] = "disconnect names another session",
};

const char *wire_err_str(int err)
{
	if (err < 0 || err >= WIRE_E__COUNT)
		return "unknown error";
	return wire_err_names[err];
}

size_t wire_name_len(const char *field)
{
	const char *nul = memchr(field, 0, WIRE_NAME_LEN);

	return nul ? (size_t)(nul - field) : WIRE_NAME_LEN;
}

int wire_name_eq(const char *a, const char *b)
{
	size_t la = wire_name_len(a);

	return la == wire_name_len(b) && memcmp(a, b, la) == 0;
}

int wire_group_name_ok(const char *field)
{
	size_t len = wire_name_len(field);

	if (len == 0 || len >= WIRE_NAME_LEN)
		return 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)field[i];
		if (c < 0x24 || c > 0x7e)
			return 0;
	}
	return 1;
}

int wire_private_name_ok(const char *name, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];
		if (c < 0x24 || c > 0x7e)
			return 0;
	}
	return 1;
}

int wire_check_client_hdr(struct wire_hdr *h, const char *own,
			  enum wire_kind *kind)
{
	const uint32_t control = WIRE_JOIN | WIRE_LEAVE | WIRE_KILL;
	uint32_t t = h->type & ~(WIRE_MARK | WIRE_DROP_RECV);
	uint32_t svc = t & WIRE_SERVICES, ctl = t & control;
	char name[WIRE_NAME_LEN];

	if (t & ~(WIRE_SERVICES | WIRE_SELF_DISCARD | control))
		return WIRE_E_TYPE_BITS;
	if (svc) {
		if ((svc & (svc - 1)) || ctl)
			return WIRE_E_SERVICE;
		*kind = WIRE_K_DATA;
	} else {
		if (!ctl || (ctl & (ctl - 1)) || (t & WIRE_SELF_DISCARD))
			return WIRE_E_SERVICE;
		*kind = ctl == WIRE_JOIN ? WIRE_K_JOIN
			: ctl == WIRE_LEAVE ? WIRE_K_LEAVE
					    : WIRE_K_KILL;
	}
	/* The original forces the last byte to NUL before comparing. */
	memcpy(name, h->name, WIRE_NAME_LEN);
	name[WIRE_NAME_LEN - 1] = 0;
	if (memcmp(name, own, strnlen(own, WIRE_NAME_LEN - 1) + 1) != 0)
		return WIRE_E_SENDER;
	if (h->num_groups < 0 || h->num_groups > WIRE_MAX_GROUPS)
		return WIRE_E_NUM_GROUPS;
	if (*kind != WIRE_K_DATA && h->num_groups != 1)
		return WIRE_E_NUM_GROUPS;
	if (h->hint & ~(WIRE_MARK | 0x00ffff00u))
		return WIRE_E_HINT;
	if (h->data_len < 0 || h->data_len > WIRE_MAX_DATA)
		return WIRE_E_DATA_LEN;
	if (*kind != WIRE_K_DATA && h->data_len != 0)
		return WIRE_E_DATA_LEN;
	if ((int64_t)h->data_len + (int64_t)WIRE_NAME_LEN * h->num_groups >
	    WIRE_MAX_BODY)
		return WIRE_E_TOO_LONG;
	h->type = t | WIRE_OWN_MARK;
	return WIRE_OK;
}

int wire_check_control_group(enum wire_kind kind, const char *group,
			     const char *own)
{
	if (kind == WIRE_K_KILL) {
		/* The library names its own private group; accept that or an
		 * empty field, nothing else. */
		if (group[0] == 0)
			return WIRE_OK;
		return wire_name_eq(group, own) &&
			       strlen(own) < WIRE_NAME_LEN
			       ? WIRE_OK
			       : WIRE_E_KILL_NAME;
	}
	return wire_group_name_ok(group) ? WIRE_OK : WIRE_E_GROUP_NAME;
}

int wire_connreq_parse(const uint8_t *buf, size_t len,
		       struct wire_connreq *req)
{
	size_t pos = 2;
	int version;
	int8_t flags, n;

	if (len < 2)
		return 0;
	memset(req, 0, sizeof(*req));
	req->major = buf[0];
	req->minor = buf[1];
	if (WIRE_VERSION(req->major, req->minor, 0) > WIRE_VERSION(3, 14, 0)) {
		if (len < 3)
			return 0;
		req->patch = buf[2];
		req->has_patch = 1;
		pos = 3;
	}
	if (len < pos + 2)
		return 0;
	flags = (int8_t)buf[pos];
	n = (int8_t)buf[pos + 1];
	pos += 2;
	version = WIRE_VERSION(req->major, req->minor, req->patch);
	if (version < WIRE_VERSION(3, 1, 0))
		return WIRE_REJECT_VERSION;
	if (n < 0 || n > WIRE_MAX_PRIVATE)
		return WIRE_REJECT_ILLEGAL_NAME;
	req->membership = (flags % 2) == 1;
	req->priority = flags / 16;
	if (len < pos + (size_t)n)
		return 0;
	if (!wire_private_name_ok((const char *)buf + pos, (size_t)n))
		return WIRE_REJECT_ILLEGAL_NAME;
	memcpy(req->name, buf + pos, (size_t)n);
	req->name[n] = 0;
	req->name_len = n;
	return (int)(pos + (size_t)n);
}

size_t wire_connreq_encode(uint8_t *out, const char *name, int membership,
			   int priority)
{
	size_t n = name ? strnlen(name, WIRE_MAX_PRIVATE) : 0;

	if (priority < 0)
		priority = 0;
	if (priority > 1)
		priority = 1;
	out[0] = 4;
	out[1] = 4;
	out[2] = 0;
	out[3] = (uint8_t)((membership ? 1 : 0) + 16 * priority);
	out[4] = (uint8_t)n;
	if (n)
		memcpy(out + 5, name, n);
	return 5 + n;
}

int wire_authchoice_parse(const uint8_t *choice,
			  char names[WIRE_AUTH_SLOTS][WIRE_AUTH_SLOT])
{
	int count = 0, ended = 0;

	for (int s = 0; s < WIRE_AUTH_SLOTS; s++) {
		const uint8_t *slot = choice + s * WIRE_AUTH_SLOT;
		const uint8_t *nul = memchr(slot, 0, WIRE_AUTH_SLOT);
		int dup = 0;

		if (slot[0] == 0) {
			ended = 1;
			continue;
		}
		if (ended || !nul)
			return -1;
		for (int i = 0; i < count; i++)
			if (strcmp(names[i], (const char *)slot) == 0)
				dup = 1;
		if (!dup)
			memcpy(names[count++], slot, (size_t)(nul - slot) + 1);
	}
	return count;
}

size_t wire_accept_encode(uint8_t *out, int with_patch, const char *pg)
{
	size_t n = strnlen(pg, WIRE_NAME_LEN - 1), pos = 0;

	out[pos++] = 1;
	out[pos++] = 4;
	out[pos++] = 4;
	if (with_patch)
		out[pos++] = 0;
	out[pos++] = (uint8_t)n;
	memcpy(out + pos, pg, n);
	return pos + n;
}

int wire_memb_body_fix(uint8_t *body, size_t len, int swap)
{
	uint32_t nsets, local, off;
	size_t pos;
	int local_ok = 0;

	if (len < WIRE_MEMB_FIXED)
		return -1;
	nsets = get32(body + 12);
	local = get32(body + 16);
	if (swap) {
		nsets = wire_swap32(nsets);
		local = wire_swap32(local);
	}
	pos = WIRE_MEMB_FIXED;
	for (uint32_t i = 0; i < nsets; i++) {
		uint32_t count;

		if (len - pos < 4)
			return -1;
		off = (uint32_t)(pos - WIRE_MEMB_FIXED);
		if (off == local)
			local_ok = 1;
		count = get32(body + pos);
		if (swap)
			count = wire_swap32(count);
		if (count > (len - pos - 4) / WIRE_NAME_LEN)
			return -1;
		pos += 4 + (size_t)count * WIRE_NAME_LEN;
	}
	if (pos != len || (nsets > 0 && !local_ok))
		return -1;
	if (swap) {
		for (size_t i = 0; i < WIRE_MEMB_FIXED; i += 4)
			put32(body + i, wire_swap32(get32(body + i)));
		pos = WIRE_MEMB_FIXED;
		for (uint32_t i = 0; i < nsets; i++) {
			uint32_t count = wire_swap32(get32(body + pos));
			put32(body + pos, count);
			pos += 4 + (size_t)count * WIRE_NAME_LEN;
		}
	}
	return 0;
}
