/*
 * ring_pkt.h - the ring's packet formats, version 1: encoders and
 * bounds-checked decoders.
 *
 * Five packet types (docs/ring-protocol.md, "Packets", has the byte
 * layouts): DATA, a message broadcast on a ring (or an old ring's message
 * carried again during recovery); TOKEN, the regular token of Totem
 * ("orf token"), unicast to the next member; JOIN, broadcast in the gather
 * state; COMMIT, the commit token of Totem, unicast around the new ring;
 * PROBE, the representative's periodic merge probe. All integers are big
 * endian. Every packet starts with the same 28-byte header naming the
 * version, the sender (id and incarnation) and the sender's ring.
 *
 * Pure functions: no allocation, no globals. A decoder takes an explicit
 * length, never reads past it, checks every count against its limit and
 * the exact total length, and returns 0 or a negative RING_PKT_E* code.
 * Decoded pointers (payloads) point into the caller's buffer.
 */
#ifndef CHORUS_RING_PKT_H
#define CHORUS_RING_PKT_H

#include <stddef.h>
#include <stdint.h>

#include "ring.h"

#define RING_PKT_MAGIC 0x5247u /* "RG" */
#define RING_PKT_VERSION 1
#define RING_HDR_LEN 28

enum ring_pkt_type {
	RING_PKT_DATA = 1,
	RING_PKT_TOKEN = 2,
	RING_PKT_JOIN = 3,
	RING_PKT_COMMIT = 4,
	RING_PKT_PROBE = 5,
};

/* Decoder errors. */
#define RING_PKT_ESHORT (-1)   /* shorter than its fields say */
#define RING_PKT_ELONG (-2)    /* bytes after the last field */
#define RING_PKT_EMAGIC (-3)   /* not a ring packet */
#define RING_PKT_EVERSION (-4) /* a version we do not speak */
#define RING_PKT_ETYPE (-5)    /* unknown type, or not the one expected */
#define RING_PKT_EFIELD (-6)   /* a field out of its range */
#define RING_PKT_ESPACE (-7)   /* encoder: the buffer is too small */

/* Largest retransmission list a token carries (a token stays under
 * 1400 bytes). */
#define RING_RTR_MAX 160

/* A ring id: the representative (id and incarnation) and the ring's
 * sequence number. The pseudo ring of a daemon that never installed one
 * is (my id, my incarnation, 0). */
struct ring_rid {
	uint32_t rep, rep_inc, seq;
};

/* A daemon incarnation: its id and its incarnation number. */
struct ring_proc {
	uint32_t id, inc;
};

struct ring_hdr {
	uint8_t type;
	uint32_t conf_hash;
	uint32_t sender, sender_inc;
	struct ring_rid ring; /* sender's ring (COMMIT: the new ring) */
};

#define RING_DATA_RECOVERED 0x01 /* carries an old ring's message */
#define RING_DATA_BASE_LEN (RING_HDR_LEN + 16)
#define RING_DATA_REC_LEN 20

struct ring_data {
	uint64_t seq;
	uint32_t origin;
	uint8_t service; /* enum ring_service */
	uint8_t flags;
	uint16_t len;
	struct ring_rid old_ring; /* RECOVERED only */
	uint64_t old_seq;         /* RECOVERED only */
	const uint8_t *payload;
};

#define RING_TOKEN_INSTALLED 0x0001 /* recovery done: install the ring */
#define RING_TOKEN_BASE_LEN (RING_HDR_LEN + 48)

struct ring_token {
	uint64_t token_seq; /* one more at every visit: duplicates show */
	uint64_t seq;       /* highest sequence number assigned */
	uint64_t aru;       /* all-received-up-to (Totem) */
	uint32_t aru_id;    /* the member that last set aru, 0: none */
	uint32_t fcc;       /* packets broadcast in the last rotation */
	uint32_t backlog;   /* messages waiting to be sent, ring total */
	uint32_t rotation;  /* rotations completed (the representative counts) */
	uint32_t rec_left;  /* recovery: old messages still to rebroadcast */
	uint16_t flags;
	uint16_t rtr_n;
	uint64_t rtr[RING_RTR_MAX]; /* sequence numbers to retransmit */
};

#define RING_JOIN_BASE_LEN (RING_HDR_LEN + 16)

struct ring_join {
	uint32_t high_ring_seq; /* largest ring seq the sender knows */
	uint32_t epoch;         /* the sender's gather round */
	uint32_t jseq;          /* the sender's join count: newer joins win */
	uint16_t n_proc, n_fail;
	struct ring_proc proc[RING_MAX_MEMBERS];
	struct ring_proc fail[RING_MAX_MEMBERS];
};

#define RING_COMMIT_BASE_LEN (RING_HDR_LEN + 8)
#define RING_COMMIT_ENTRY_LEN 52
#define RING_COMMIT_FILLED 0x1

struct ring_commit_entry {
	struct ring_proc proc;
	struct ring_rid old_ring; /* the last ring the member installed */
	uint64_t old_aru, old_high, old_safe;
	uint32_t epoch;
	uint32_t flags;
};

struct ring_commit {
	uint16_t n;
	uint16_t idx;     /* the member that handles it next */
	uint8_t rotation; /* 0, 1 or 2 */
	struct ring_commit_entry e[RING_MAX_MEMBERS];
};

#define RING_PROBE_LEN (RING_HDR_LEN + 4)

/* The largest packet of any type for a payload limit. */
size_t ring_pkt_max_len(uint32_t max_payload);

/* Header: writes RING_HDR_LEN bytes; reads and checks magic, version and
 * type (not the type's body). */
void ring_pkt_put_hdr(uint8_t *b, const struct ring_hdr *h);
int ring_pkt_get_hdr(const uint8_t *b, size_t len, struct ring_hdr *h);

/* Each encoder writes the whole packet (header included) into b of cap
 * bytes and returns its length, or RING_PKT_ESPACE / RING_PKT_EFIELD. */
int ring_pkt_put_data(uint8_t *b, size_t cap, const struct ring_hdr *h,
		      const struct ring_data *d);
int ring_pkt_put_token(uint8_t *b, size_t cap, const struct ring_hdr *h,
		       const struct ring_token *t);
int ring_pkt_put_join(uint8_t *b, size_t cap, const struct ring_hdr *h,
		      const struct ring_join *j);
int ring_pkt_put_commit(uint8_t *b, size_t cap, const struct ring_hdr *h,
			const struct ring_commit *c);
int ring_pkt_put_probe(uint8_t *b, size_t cap, const struct ring_hdr *h,
		       uint32_t n_members);

/* Each decoder checks the header again (type included) and the body. */
int ring_pkt_get_data(const uint8_t *b, size_t len, struct ring_data *d);
int ring_pkt_get_token(const uint8_t *b, size_t len, struct ring_token *t);
int ring_pkt_get_join(const uint8_t *b, size_t len, struct ring_join *j);
int ring_pkt_get_commit(const uint8_t *b, size_t len, struct ring_commit *c);
int ring_pkt_get_probe(const uint8_t *b, size_t len, uint32_t *n_members);

const char *ring_pkt_type_name(int type);

#endif /* CHORUS_RING_PKT_H */
