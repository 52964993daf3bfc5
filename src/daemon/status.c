/*
 * status.c - the status query's codec (see status.h).
 */
#include "status.h"

#include <stddef.h>
#include <string.h>

#include "proto/be.h"

const char *const status_counter_names[ST__COUNT] = {
	"rotations", "tokens_in", "tokens_out", "token_retransmits",
	"retransmissions", "data_in", "data_out", "data_duplicates",
	"packets_in", "packets_out", "bytes_in", "bytes_out",
	"delivered", "regular_configurations", "submitted", "submit_full",
	"drops", "drops_other_configuration", "frames_resubmitted",
	"pieces_stale", "frames_lost", "session_messages_out", "input_pauses",
	"send_errors", "ring_forged", "ring_replayed", "ring_stale",
};

/* Fixed part after the 8-byte prefix: name 20, id 4, six bytes of flags,
 * conf 8, n 2; after the members ten u32, the queued messages, the ring's
 * sealing (suite, key id and two zero bytes), five u64 and the
 * counters. */
#define FIXED_A (STATUS_NAME_LEN + 4 + 6 + 8 + 2)
#define FIXED_B (4 * 10 + 8 + 8 * 5 + 8 * ST__COUNT)

/* The ten 32-bit fields after the members, in wire order; one list for
 * the encoder and the decoder. */
#define N_U32 10
static const size_t u32_off[N_U32] = {
	offsetof(struct status_info, window),
	offsetof(struct status_info, personal_window),
	offsetof(struct status_info, accel_window),
	offsetof(struct status_info, max_payload),
	offsetof(struct status_info, send_queue),
	offsetof(struct status_info, outq),
	offsetof(struct status_info, unpushed),
	offsetof(struct status_info, sessions),
	offsetof(struct status_info, handshaking),
	offsetof(struct status_info, groups),
};

size_t status_req_encode(uint8_t *out, uint32_t nonce)
{
	be_put16(out, STATUS_MAGIC);
	out[2] = STATUS_VERSION;
	out[3] = 1;
	be_put32(out + 4, nonce);
	return STATUS_REQ_LEN;
}

int status_is_status(const uint8_t *p, size_t len)
{
	return len >= 2 && be_get16(p) == STATUS_MAGIC;
}

int status_req_decode(const uint8_t *p, size_t len, uint32_t *nonce)
{
	if (len != STATUS_REQ_LEN || be_get16(p) != STATUS_MAGIC ||
	    p[2] != STATUS_VERSION || p[3] != 1)
		return -1;
	*nonce = be_get32(p + 4);
	return 0;
}

size_t status_reply_encode(uint8_t *out, uint32_t nonce,
			   const struct status_info *s)
{
	uint8_t *p = out;
	unsigned n = s->n_members > RING_MAX_MEMBERS ? RING_MAX_MEMBERS
						     : s->n_members;

	be_put16(p, STATUS_MAGIC);
	p[2] = STATUS_VERSION;
	p[3] = 2;
	be_put32(p + 4, nonce);
	p += 8;
	memset(p, 0, STATUS_NAME_LEN);
	memcpy(p, s->name, strnlen(s->name, STATUS_NAME_LEN));
	p += STATUS_NAME_LEN;
	be_put32(p, s->daemon_id);
	p[4] = s->ring;
	p[5] = s->state;
	p[6] = s->is_rep;
	p[7] = s->accelerated;
	p[8] = s->transport;
	p[9] = s->paused;
	be_put32(p + 10, s->conf_rep);
	be_put32(p + 14, s->conf_seq);
	be_put16(p + 18, (uint16_t)n);
	p += 20;
	for (unsigned i = 0; i < n; i++, p += 4)
		be_put32(p, s->members[i]);
	for (unsigned i = 0; i < N_U32; i++, p += 4) {
		uint32_t v;

		memcpy(&v, (const uint8_t *)s + u32_off[i], 4);
		be_put32(p, v);
	}
	be_put32(p, s->session_queued_msgs);
	p += 4;
	p[0] = s->ring_suite;
	p[1] = s->ring_key_id;
	p[2] = p[3] = 0;
	p += 4;
	be_put64(p, s->session_queued_bytes);
	be_put64(p + 8, s->my_aru);
	be_put64(p + 16, s->high_seq);
	be_put64(p + 24, s->stable);
	be_put64(p + 32, s->uptime_ms);
	p += 40;
	for (unsigned i = 0; i < ST__COUNT; i++, p += 8)
		be_put64(p, s->c[i]);
	return (size_t)(p - out);
}

int status_reply_decode(const uint8_t *b, size_t len, uint32_t *nonce,
			struct status_info *s)
{
	const uint8_t *p = b + 8;
	unsigned n;

	if (len < 8 + FIXED_A || be_get16(b) != STATUS_MAGIC ||
	    b[2] != STATUS_VERSION || b[3] != 2)
		return -1;
	memset(s, 0, sizeof(*s));
	*nonce = be_get32(b + 4);
	memcpy(s->name, p, STATUS_NAME_LEN);
	s->name[STATUS_NAME_LEN] = 0;
	p += STATUS_NAME_LEN;
	s->daemon_id = be_get32(p);
	s->ring = p[4];
	s->state = p[5];
	s->is_rep = p[6];
	s->accelerated = p[7];
	s->transport = p[8];
	s->paused = p[9];
	s->conf_rep = be_get32(p + 10);
	s->conf_seq = be_get32(p + 14);
	n = be_get16(p + 18);
	p += 20;
	if (n > RING_MAX_MEMBERS || s->state >= RING_STATE_N ||
	    len != 8 + FIXED_A + 4 * (size_t)n + FIXED_B)
		return -1;
	s->n_members = (uint16_t)n;
	for (unsigned i = 0; i < n; i++, p += 4)
		s->members[i] = be_get32(p);
	for (unsigned i = 0; i < N_U32; i++, p += 4) {
		uint32_t v = be_get32(p);

		memcpy((uint8_t *)s + u32_off[i], &v, 4);
	}
	s->session_queued_msgs = be_get32(p);
	s->ring_suite = p[4];
	s->ring_key_id = p[5];
	if (p[6] != 0 || p[7] != 0)
		return -1;
	p += 8;
	s->session_queued_bytes = be_get64(p);
	s->my_aru = be_get64(p + 8);
	s->high_seq = be_get64(p + 16);
	s->stable = be_get64(p + 24);
	s->uptime_ms = be_get64(p + 32);
	p += 40;
	for (unsigned i = 0; i < ST__COUNT; i++, p += 8)
		s->c[i] = be_get64(p);
	return 0;
}
