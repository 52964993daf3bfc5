/*
 * batch.c - codec of log batches and acknowledgements, and the writer's
 * per-stream bookkeeping (see batch.h and docs/log-batch.md).
 */
#include "batch.h"

#include <string.h>

#include "proto/be.h"
#include "util/nlcount.h"

static const char *const batch_err_names[] = {
	"ok",
	"message shorter than its fixed header",
	"bad magic: not a log batch or acknowledgement",
	"unsupported version",
	"unknown or unsupported flags",
	"header length inconsistent with the message",
	"node name or writer id empty, too long or with bad bytes",
	"bad sequence numbers (zero, overflowing, base above first, or held_below not below base)",
	"line count zero or different from the lines in the payload",
	"payload length wrong or last line not newline-terminated",
	"output buffer too small",
	"stream id is zero",
};

const char *batch_err_str(int err)
{
	if (err > 0 || err < BATCH_E__MIN)
		return "unknown batch error";
	return batch_err_names[-err];
}

/* A node name or writer id: 1..255 printable bytes, no space (the plain
 * form separates the node name from the line with a space). */
static int name_ok(const char *s, size_t len)
{
	if (len == 0 || len > BATCH_NAME_MAX)
		return 0;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
			return 0;
	return 1;
}

size_t batch_hdr_len(size_t node_len)
{
	return BATCH_FIXED_LEN + node_len + BATCH_EXT_LEN;
}

int batch_hdr_encode(const struct batch_hdr *h, uint8_t *out, size_t cap)
{
	size_t len = batch_hdr_len(h->node_len);

	if (!name_ok(h->node, h->node_len))
		return BATCH_E_NAME;
	if (cap < len)
		return BATCH_E_SPACE;
	be_put32(out, BATCH_MAGIC);
	out[4] = BATCH_VERSION;
	out[5] = h->flags;
	be_put16(out + 6, (uint16_t)len);
	be_put64(out + 8, h->stream_id);
	be_put64(out + 16, h->batch_id);
	be_put64(out + 24, h->first_seq);
	be_put32(out + 32, h->count);
	be_put32(out + 36, (uint32_t)h->payload_len);
	be_put64(out + 40, h->base_seq);
	be_put64(out + 48, h->dropped);
	be_put64(out + 56, h->cut);
	be_put64(out + 64, h->time_ms);
	out[72] = (uint8_t)h->node_len;
	memcpy(out + 73, h->node, h->node_len);
	be_put64(out + 73 + h->node_len, h->has_held_below ? h->held_below : 0);
	return (int)len;
}

int batch_decode(const uint8_t *msg, size_t len, struct batch_hdr *h)
{
	size_t hdr_len;

	memset(h, 0, sizeof(*h));
	if (len < BATCH_FIXED_LEN)
		return BATCH_E_SHORT;
	if (be_get32(msg) != BATCH_MAGIC)
		return BATCH_E_MAGIC;
	h->version = msg[4];
	if (h->version != BATCH_VERSION)
		return BATCH_E_VERSION;
	h->flags = msg[5];
	if (h->flags & ~BATCH_F_KNOWN)
		return BATCH_E_FLAGS;
	hdr_len = be_get16(msg + 6);
	h->node_len = msg[72];
	/* Bytes between the node name and hdr_len are extensions of
	 * version 1: held_below if there are at least 8, then bytes this
	 * decoder skips. */
	if (hdr_len < BATCH_FIXED_LEN + h->node_len || hdr_len > len)
		return BATCH_E_HDR_LEN;
	h->node = (const char *)msg + 73;
	if (!name_ok(h->node, h->node_len))
		return BATCH_E_NAME;
	h->stream_id = be_get64(msg + 8);
	h->batch_id = be_get64(msg + 16);
	h->first_seq = be_get64(msg + 24);
	h->count = be_get32(msg + 32);
	h->payload_len = be_get32(msg + 36);
	h->base_seq = be_get64(msg + 40);
	h->dropped = be_get64(msg + 48);
	h->cut = be_get64(msg + 56);
	h->time_ms = be_get64(msg + 64);
	if (h->stream_id == 0)
		return BATCH_E_STREAM;
	if (hdr_len >= BATCH_FIXED_LEN + h->node_len + BATCH_EXT_LEN) {
		h->has_held_below = 1;
		h->held_below = be_get64(msg + 73 + h->node_len);
	}
	if (h->first_seq == 0 || h->base_seq == 0 || h->base_seq > h->first_seq ||
	    h->first_seq > UINT64_MAX - h->count || h->held_below >= h->base_seq)
		return BATCH_E_SEQ;
	if (h->count == 0)
		return BATCH_E_COUNT;
	if (h->payload_len != len - hdr_len || h->payload_len == 0 ||
	    msg[len - 1] != '\n')
		return BATCH_E_PAYLOAD;
	h->payload = (const char *)msg + hdr_len;
	/* The last byte is a newline: as many newlines as lines. */
	if (nl_count(h->payload, h->payload_len) != h->count)
		return BATCH_E_COUNT;
	return BATCH_OK;
}

int batch_ack_encode(const struct batch_ack *a, uint8_t *out, size_t cap)
{
	size_t len = BATCH_ACK_FIXED_LEN + a->writer_len;

	if (!name_ok(a->writer, a->writer_len))
		return BATCH_E_NAME;
	if (a->flags & ~BATCH_ACK_F_KNOWN)
		return BATCH_E_FLAGS;
	if (a->stream_id == 0)
		return BATCH_E_STREAM;
	if (cap < len)
		return BATCH_E_SPACE;
	be_put32(out, BATCH_ACK_MAGIC);
	out[4] = BATCH_VERSION;
	out[5] = a->flags;
	out[6] = (uint8_t)a->writer_len;
	out[7] = 0;
	be_put64(out + 8, a->stream_id);
	be_put64(out + 16, a->acked);
	be_put64(out + 24, a->batch_id);
	memcpy(out + 32, a->writer, a->writer_len);
	return (int)len;
}

int batch_ack_decode(const uint8_t *msg, size_t len, struct batch_ack *a)
{
	memset(a, 0, sizeof(*a));
	if (len < BATCH_ACK_FIXED_LEN)
		return BATCH_E_SHORT;
	if (be_get32(msg) != BATCH_ACK_MAGIC)
		return BATCH_E_MAGIC;
	a->version = msg[4];
	if (a->version != BATCH_VERSION)
		return BATCH_E_VERSION;
	a->flags = msg[5];
	if (a->flags & ~BATCH_ACK_F_KNOWN)
		return BATCH_E_FLAGS;
	a->writer_len = msg[6];
	/* Bytes after the writer id are extensions of version 1. */
	if (len < BATCH_ACK_FIXED_LEN + a->writer_len)
		return BATCH_E_HDR_LEN;
	a->writer = (const char *)msg + 32;
	if (!name_ok(a->writer, a->writer_len))
		return BATCH_E_NAME;
	a->stream_id = be_get64(msg + 8);
	a->acked = be_get64(msg + 16);
	a->batch_id = be_get64(msg + 24);
	if (a->stream_id == 0)
		return BATCH_E_STREAM;
	return BATCH_OK;
}

enum batch_verdict batch_rx_judge(struct batch_rx *rx, const struct batch_hdr *h,
				  uint32_t *skip, uint64_t *lost)
{
	uint64_t next = rx->hwm + 1;
	uint64_t last = h->first_seq + h->count - 1;

	*skip = 0;
	*lost = 0;
	if (last <= rx->hwm) {
		rx->dup_lines += h->count;
		return BATCH_V_DUP;
	}
	if (h->first_seq <= next) {
		*skip = (uint32_t)(next - h->first_seq);
		rx->dup_lines += *skip;
		return BATCH_V_STORE;
	}
	/* The batch starts past what we hold. Lines between hwm and
	 * base_seq are gone for good at the sender if it holds none of them
	 * (held_below <= hwm: it may hold lines below a hole that this
	 * writer already has); any others are missing and must be sent
	 * again before this batch can be stored. */
	if (h->base_seq > next && h->first_seq == h->base_seq &&
	    h->held_below <= rx->hwm) {
		*lost = h->base_seq - next;
		return BATCH_V_STORE;
	}
	rx->gaps++;
	return BATCH_V_GAP;
}

uint64_t batch_rx_unexplained(const struct batch_rx *rx, const struct batch_hdr *h,
			      uint64_t lost)
{
	uint64_t budget = h->dropped > rx->dropped ? h->dropped : rx->dropped;
	uint64_t total = rx->lost_seen + lost, over;

	if (rx->hwm == 0 || total <= budget)
		return 0;
	over = total - budget;
	return over > rx->unexplained ? over - rx->unexplained : 0;
}

void batch_rx_commit(struct batch_rx *rx, const struct batch_hdr *h,
		     uint64_t lost)
{
	uint64_t last = h->first_seq + h->count - 1;

	rx->unexplained += batch_rx_unexplained(rx, h, lost);
	if (rx->hwm)
		rx->lost_seen += lost;
	if (last > rx->hwm)
		rx->hwm = last;
	rx->lost += lost;
	if (h->dropped > rx->dropped)
		rx->dropped = h->dropped;
	if (h->cut > rx->cut)
		rx->cut = h->cut;
}
