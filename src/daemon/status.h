/*
 * status.h - the status query of chorus-monitor: a request datagram to a
 * daemon's UDP port (the segment's port, where the ring listens) and the
 * reply the daemon sends back. The daemon answers only requests from a
 * loopback address or from an address of a configured interface with the
 * monitor role (docs/config.md); everything else is dropped.
 *
 * Both are big endian. Request (8 bytes): magic "CM" (0x434d), version 1,
 * type 1, a 32-bit nonce the reply repeats. Reply: magic, version, type 2,
 * nonce, then struct status_info's fields in their order (status.c).
 * Ring packets start with "RG" (sealed ones "RS"), so one socket serves
 * both.
 *
 * Pure codec: no I/O, no globals.
 */
#ifndef CHORUS_STATUS_H
#define CHORUS_STATUS_H

#include <stddef.h>
#include <stdint.h>

#include "ring/ring.h"

#define STATUS_MAGIC 0x434d
#define STATUS_VERSION 1
#define STATUS_REQ_LEN 8
#define STATUS_NAME_LEN 20
#define STATUS_REPLY_MAX 2048

/* Counters shown per daemon, in wire order (status.c lists their names). */
enum status_counter {
	ST_ROTATIONS, ST_TOKENS_IN, ST_TOKENS_OUT, ST_TOKEN_RETRANSMITS,
	ST_RETRANS_OUT, ST_DATA_IN, ST_DATA_OUT, ST_DATA_DUP,
	ST_PKTS_IN, ST_PKTS_OUT, ST_BYTES_IN, ST_BYTES_OUT,
	ST_DELIVERED, ST_CONFS_REGULAR, ST_SUBMITTED, ST_SUBMIT_FULL,
	ST_DROPS, ST_DROPS_CONF_HASH, ST_RESUBMITTED, ST_PIECES_STALE,
	ST_FRAMES_LOST, ST_SESSION_MSGS_OUT, ST_PAUSES, ST_NET_SEND_ERRORS,
	ST_RING_FORGED, ST_RING_REPLAYED, ST_RING_STALE, /* ring_link.h */
	ST__COUNT
};
extern const char *const status_counter_names[ST__COUNT];

struct status_info {
	char name[STATUS_NAME_LEN + 1];
	uint32_t daemon_id;
	uint8_t ring;         /* 1: on the ring; 0: a segment of one daemon */
	uint8_t state;        /* enum ring_state */
	uint8_t is_rep;
	uint8_t accelerated;
	uint8_t transport;    /* enum net_mode; 255 without a ring */
	uint8_t paused;       /* client input stopped (back-pressure) */
	uint8_t ring_suite;   /* RSEC_SUITE_* sealing ring datagrams, 0: clear */
	uint8_t ring_key_id;  /* the key that seals them */
	uint32_t conf_rep, conf_seq; /* last regular configuration */
	uint16_t n_members;
	uint32_t members[RING_MAX_MEMBERS];
	uint32_t window, personal_window, accel_window, max_payload;
	uint32_t send_queue;  /* ring: pieces waiting for the token */
	uint32_t outq;        /* frames not yet delivered back */
	uint32_t unpushed;    /* frames waiting for room in the ring */
	uint32_t sessions, handshaking, groups;
	uint32_t session_queued_msgs;
	uint64_t session_queued_bytes;
	uint64_t my_aru, high_seq, stable;
	uint64_t uptime_ms;
	uint64_t c[ST__COUNT];
};

/* The request with nonce; returns STATUS_REQ_LEN. */
size_t status_req_encode(uint8_t *out, uint32_t nonce);
/* 1 if p starts like a status packet (request or reply). */
int status_is_status(const uint8_t *p, size_t len);
/* Decodes a request; returns 0 and the nonce, or -1. */
int status_req_decode(const uint8_t *p, size_t len, uint32_t *nonce);
/* Encodes a reply into out (STATUS_REPLY_MAX bytes); returns its length. */
size_t status_reply_encode(uint8_t *out, uint32_t nonce,
			   const struct status_info *s);
/* Decodes a reply; returns 0, or -1 if malformed. */
int status_reply_decode(const uint8_t *p, size_t len, uint32_t *nonce,
			struct status_info *s);

#endif /* CHORUS_STATUS_H */
