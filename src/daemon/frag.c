/*
 * frag.c - client frames on the ring: network byte order, pieces and
 * reassembly (see frag.h for the rules and why they are safe across
 * configuration changes).
 */
#include "frag.h"

#include <stdlib.h>
#include <string.h>

#include "proto/be.h"

unsigned frag_plan(size_t total, size_t room, size_t max_payload,
		   size_t *first, unsigned *count)
{
	size_t f = 0;
	unsigned n;

	if (room > max_payload)
		room = max_payload;
	if (room >= FRAG_MIN_ROOM)
		f = total < room - FRAG_HDR_LEN ? total : room - FRAG_HDR_LEN;
	n = f == total ? 0 : frag_count(total - f, max_payload);
	*first = f;
	*count = n + (f ? 1u : 0u);
	return n;
}

size_t frag_record(uint8_t *out, const uint8_t *frame, size_t total,
		   size_t off, size_t n, unsigned idx, unsigned count,
		   uint32_t fseq, uint64_t tag)
{
	out[0] = FRAG_VERSION;
	out[1] = 0;
	be_put16(out + 2, (uint16_t)idx);
	be_put16(out + 4, (uint16_t)count);
	be_put16(out + 6, (uint16_t)n);
	be_put32(out + 8, fseq);
	be_put32(out + 12, (uint32_t)total);
	be_put64(out + 16, tag);
	memcpy(out + FRAG_HDR_LEN, frame + off, n);
	return FRAG_HDR_LEN + n;
}

int frag_hdr_decode(const uint8_t *p, size_t len, size_t max_payload,
		    struct frag_hdr *h)
{
	if (len < FRAG_HDR_LEN || max_payload <= FRAG_HDR_LEN ||
	    p[0] != FRAG_VERSION || p[1] != 0)
		return -1;
	h->idx = be_get16(p + 2);
	h->count = be_get16(p + 4);
	h->plen = be_get16(p + 6);
	h->fseq = be_get32(p + 8);
	h->total = be_get32(p + 12);
	h->tag = be_get64(p + 16);
	/* A frame has at most one piece more than when every piece starts a
	 * message (its first one in the room of a queued message). */
	if (h->total == 0 || h->total > FRAG_MAX_FRAME || h->plen == 0 ||
	    h->plen > h->total || h->count == 0 || h->idx >= h->count ||
	    h->count > frag_count(h->total, max_payload) + 1u)
		return -1;
	if ((size_t)h->plen + FRAG_HDR_LEN > len ||
	    (size_t)h->plen + FRAG_HDR_LEN > max_payload)
		return -1;
	return 0;
}

/* The body length a header announces, or -1 if out of range. */
static long body_len(int32_t ng, int32_t dl)
{
	if (ng < 0 || ng > WIRE_MAX_GROUPS || dl < 0 || dl > WIRE_MAX_BODY)
		return -1;
	return (long)ng * WIRE_NAME_LEN + dl;
}

int frag_frame_to_net(const uint8_t *frame, size_t len, uint8_t *out)
{
	struct wire_hdr h;

	if (len < WIRE_HDR_LEN || len > FRAG_MAX_FRAME)
		return -1;
	wire_hdr_decode(frame, &h);
	if (body_len(h.num_groups, h.data_len) != (long)(len - WIRE_HDR_LEN))
		return -1;
	/* The marker bits say "big endian" on the network, as a big-endian
	 * machine writes them. */
	be_put32(out, h.type & ~WIRE_MARK);
	memcpy(out + 4, h.name, WIRE_NAME_LEN);
	be_put32(out + 36, (uint32_t)h.num_groups);
	memcpy(out + 40, frame + 40, 4); /* the hint, as the client wrote it */
	be_put32(out + 44, (uint32_t)h.data_len);
	if (out != frame)
		memcpy(out + WIRE_HDR_LEN, frame + WIRE_HDR_LEN, len - WIRE_HDR_LEN);
	return 0;
}

int frag_frame_from_net(const uint8_t *net, size_t len, uint8_t *out)
{
	struct wire_hdr h;
	uint8_t hint[4];

	if (len < WIRE_HDR_LEN || len > FRAG_MAX_FRAME)
		return -1;
	h.type = be_get32(net);
	memcpy(h.name, net + 4, WIRE_NAME_LEN);
	h.num_groups = (int32_t)be_get32(net + 36);
	memcpy(hint, net + 40, 4);
	memcpy(&h.hint, hint, 4);
	h.data_len = (int32_t)be_get32(net + 44);
	if ((h.type & WIRE_MARK) ||
	    body_len(h.num_groups, h.data_len) != (long)(len - WIRE_HDR_LEN))
		return -1;
	if (out != net)
		memcpy(out + WIRE_HDR_LEN, net + WIRE_HDR_LEN, len - WIRE_HDR_LEN);
	wire_hdr_encode(&h, out);
	return 0;
}

void frag_rx_init(struct frag_rx *rx, size_t max_payload)
{
	memset(rx, 0, sizeof(*rx));
	rx->max_payload = max_payload;
}

void frag_rx_free(struct frag_rx *rx)
{
	for (unsigned i = 0; i < rx->n_slots; i++) {
		free(rx->slots[i].buf);
		rx->slots[i].buf = NULL;
	}
	rx->n_slots = 0;
}

static struct frag_slot *slot_of(struct frag_rx *rx, uint32_t origin)
{
	for (unsigned i = 0; i < rx->n_slots; i++)
		if (rx->slots[i].origin == origin)
			return &rx->slots[i];
	if (rx->n_slots == FRAG_MAX_ORIGINS)
		return NULL;
	rx->slots[rx->n_slots].origin = origin;
	return &rx->slots[rx->n_slots++];
}

static void drop_partial(struct frag_rx *rx, struct frag_slot *s)
{
	if (s->partial)
		rx->stats.dropped_partials++;
	s->partial = 0;
	s->have = 0;
}

enum frag_result frag_rx_input(struct frag_rx *rx, uint32_t origin,
			       uint64_t cur_tag, const uint8_t *msg,
			       size_t len, size_t *used, const uint8_t **frame,
			       size_t *flen, uint32_t *fseq)
{
	struct frag_slot *s;
	struct frag_hdr h;
	const uint8_t *piece = msg + FRAG_HDR_LEN;
	size_t n;

	rx->stats.pieces++;
	if (frag_hdr_decode(msg, len, rx->max_payload, &h) != 0) {
		rx->stats.bad++;
		*used = len;
		return FRAG_BAD;
	}
	n = h.plen;
	*used = FRAG_HDR_LEN + n;
	if (h.tag != cur_tag) {
		rx->stats.stale++;
		return FRAG_STALE;
	}
	s = slot_of(rx, origin);
	if (!s) {
		rx->stats.bad++; /* more origins than a ring can have */
		return FRAG_BAD;
	}
	if (s->partial) {
		int last = h.idx + 1u == h.count;

		if (h.fseq == s->h.fseq && h.idx == s->next &&
		    h.total == s->h.total && h.count == s->h.count &&
		    n <= h.total - s->have &&
		    last == (s->have + n == h.total)) {
			memcpy(s->buf + s->have, piece, n);
			s->have += n;
			s->next++;
			if (!last)
				return FRAG_MORE;
			s->partial = 0;
			*frame = s->buf;
			*flen = s->have;
			*fseq = h.fseq;
			rx->stats.frames++;
			return FRAG_DONE;
		}
		/* A piece is missing (a gap of a failed origin, in a
		 * transitional configuration): the frame is lost. */
		drop_partial(rx, s);
	}
	if (h.idx != 0) {
		rx->stats.broken++;
		return FRAG_BROKEN;
	}
	if ((h.count == 1) != (n == h.total)) {
		rx->stats.bad++; /* pieces that cannot add up to the frame */
		return FRAG_BAD;
	}
	if (h.count == 1) {
		*frame = piece;
		*flen = n;
		*fseq = h.fseq;
		rx->stats.frames++;
		return FRAG_DONE;
	}
	if (!s->buf && !(s->buf = malloc(FRAG_MAX_FRAME))) {
		rx->stats.broken++;
		return FRAG_BROKEN;
	}
	memcpy(s->buf, piece, n);
	s->have = n;
	s->h = h;
	s->next = 1;
	s->partial = 1;
	return FRAG_MORE;
}

void frag_rx_new_conf(struct frag_rx *rx)
{
	for (unsigned i = 0; i < rx->n_slots; i++)
		drop_partial(rx, &rx->slots[i]);
}
