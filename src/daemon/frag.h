/*
 * frag.h - client frames on the ring: their network byte order, their
 * cutting into pieces that fit a ring message, and reassembly.
 *
 * A client frame (msg.h: a 48-byte header in the daemon's byte order,
 * then group names and data) crosses the network in a fixed byte order:
 * the header's integers big endian, the hint's four bytes as the client
 * wrote them (their own marker tells their order), the body unchanged.
 * That form is cut into pieces, each written as a *record*: a 24-byte
 * piece header and the piece's bytes. A ring message carries one or more
 * records back to back: a frame's first piece may fill the room left in
 * the message queued last (ring_append(), when it has the same service),
 * its other pieces start messages of their own, each full but the last,
 * whose room the next frame may fill in turn. So a busy origin sends
 * about (frame + 48 bytes) / max_payload messages per frame instead of
 * rounding each frame up to whole messages; an idle one sends each frame
 * at once, alone.
 *
 * Why the pieces of one frame stay together: the ring puts every message,
 * whatever its service, into one total order in which each origin's
 * messages keep the order it submitted them in, and the shell submits all
 * pieces of a frame at once. So between a frame's first and last piece
 * other origins' pieces may come, never another frame of the same origin;
 * one reassembly slot per origin suffices, for every service level.
 *
 * Configuration changes (docs/ring-protocol.md, "The shell"): every piece
 * carries the tag of the regular configuration its origin was in when it
 * submitted it. A receiver accepts a piece only if that tag is the tag of
 * its own last regular configuration (deliveries in the transitional
 * configuration that follows count as the old one), and at each regular
 * configuration forgets incomplete frames. Daemons that move together see
 * the same pieces in the same order, so they make the same decisions. An
 * origin resubmits, with the new tag, every frame it had not yet seen
 * complete when a regular configuration is installed; its old copies are
 * refused everywhere, so nothing is lost, duplicated or reordered.
 *
 * Pure: no I/O, no clock, no globals. Ownership: struct frag_rx is the
 * caller's; frag_rx_init() allocates nothing, reassembly buffers are
 * allocated on demand (at most one frame per origin) and freed by
 * frag_rx_free().
 */
#ifndef CHORUS_FRAG_H
#define CHORUS_FRAG_H

#include <stddef.h>
#include <stdint.h>

#include "proto/wire.h"

#define FRAG_HDR_LEN 24
#define FRAG_VERSION 2
/* The largest frame: a client frame of the largest body. */
#define FRAG_MAX_FRAME (WIRE_HDR_LEN + WIRE_MAX_BODY)
#define FRAG_MAX_ORIGINS 128

/* Piece header, big endian:
 *   0 u8  version (2)       1 u8  flags (0)
 *   2 u16 index (from 0)    4 u16 count (1..)
 *   6 u16 piece length: bytes of the frame after this header (1..)
 *   8 u32 frame sequence number of the origin
 *  12 u32 frame length (bytes of the whole frame)
 *  16 u64 tag of the origin's regular configuration
 * The pieces of a frame, in index order, are the frame's bytes; a record
 * (header and piece) never exceeds max_payload. */
struct frag_hdr {
	uint16_t idx, count, plen;
	uint32_t fseq;
	uint32_t total;
	uint64_t tag;
};

/* Bytes of frame data in a full piece, for a ring max_payload. */
static inline size_t frag_chunk(size_t max_payload)
{
	return max_payload - FRAG_HDR_LEN;
}

/* Messages a frame of total bytes needs at most (every piece starting a
 * message of its own). */
static inline unsigned frag_count(size_t total, size_t max_payload)
{
	size_t c = frag_chunk(max_payload);

	return (unsigned)((total + c - 1) / c);
}

/* Room (bytes) below which a queued message is not worth a record: the
 * piece would carry fewer bytes than its header. */
#define FRAG_MIN_ROOM (2 * FRAG_HDR_LEN)

/* How a frame of total bytes is cut when `room` bytes are left in the
 * message queued last (0 if none can take a record). Sets *first to the
 * frame bytes of the piece that goes into that room (0: none) and
 * *count to the number of pieces; returns the number of new messages
 * the frame needs (0 if it fits the room whole). */
unsigned frag_plan(size_t total, size_t room, size_t max_payload,
		   size_t *first, unsigned *count);

/* Writes the record of piece idx of count: frame bytes [off, off + n) of
 * the frame (net form, total bytes), into out; returns its length,
 * FRAG_HDR_LEN + n. */
size_t frag_record(uint8_t *out, const uint8_t *frame, size_t total,
		   size_t off, size_t n, unsigned idx, unsigned count,
		   uint32_t fseq, uint64_t tag);

/* Decodes and checks the piece header of the record at the start of p
 * (len bytes left in the ring message) against max_payload. Returns 0
 * (the record is FRAG_HDR_LEN + h->plen bytes), or -1 if malformed. */
int frag_hdr_decode(const uint8_t *p, size_t len, size_t max_payload,
		    struct frag_hdr *h);

/* Host-order frame (len bytes) to network form in out (len bytes).
 * Returns 0, or -1 if the header's lengths disagree with len. */
int frag_frame_to_net(const uint8_t *frame, size_t len, uint8_t *out);
/* Network form to host order. Returns 0, or -1 for a bad frame. */
int frag_frame_from_net(const uint8_t *net, size_t len, uint8_t *out);

enum frag_result {
	FRAG_MORE = 0,  /* piece kept; the frame is not complete yet */
	FRAG_DONE,      /* a whole frame (network form) in *frame */
	FRAG_STALE,     /* refused: another configuration's tag */
	FRAG_BROKEN,    /* refused: not the next piece of its origin */
	FRAG_BAD,       /* refused: malformed */
};

struct frag_slot {
	uint32_t origin;
	int partial;          /* a frame is being assembled */
	struct frag_hdr h;    /* its first piece's header */
	uint16_t next;        /* index of the piece expected next */
	size_t have;          /* bytes assembled */
	uint8_t *buf;         /* FRAG_MAX_FRAME bytes, allocated on demand */
};

struct frag_stats {
	uint64_t pieces, frames, stale, broken, bad, dropped_partials;
};

struct frag_rx {
	size_t max_payload;
	unsigned n_slots;
	struct frag_slot slots[FRAG_MAX_ORIGINS];
	struct frag_stats stats;
};

void frag_rx_init(struct frag_rx *rx, size_t max_payload);
void frag_rx_free(struct frag_rx *rx);

/* The record at the start of msg (len bytes left of a ring message
 * delivered from `origin`), while the receiver's last regular
 * configuration has tag cur_tag. Sets *used to the record's length (the
 * next record follows), or to len for FRAG_BAD (the rest of the message
 * cannot be trusted). On FRAG_DONE, *frame and *flen are the whole frame
 * (network form), borrowed until the next call, and *fseq its origin's
 * frame number. Out of memory for a reassembly buffer returns
 * FRAG_BROKEN (counted), as a lost piece would. */
enum frag_result frag_rx_input(struct frag_rx *rx, uint32_t origin,
			       uint64_t cur_tag, const uint8_t *msg,
			       size_t len, size_t *used, const uint8_t **frame,
			       size_t *flen, uint32_t *fseq);

/* A regular configuration was installed: incomplete frames are dropped. */
void frag_rx_new_conf(struct frag_rx *rx);

#endif /* CHORUS_FRAG_H */
