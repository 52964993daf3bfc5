/*
 * frag.h - client frames on the ring: their network byte order, their
 * cutting into pieces that fit a ring message, and reassembly.
 *
 * A client frame (msg.h: a 48-byte header in the daemon's byte order,
 * then group names and data) crosses the network in a fixed byte order:
 * the header's integers big endian, the hint's four bytes as the client
 * wrote them (their own marker tells their order), the body unchanged.
 * That form is cut into pieces of at most max_payload bytes, each with a
 * 24-byte piece header, and submitted to the ring back to back.
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
#define FRAG_VERSION 1
/* The largest frame: a client frame of the largest body. */
#define FRAG_MAX_FRAME (WIRE_HDR_LEN + WIRE_MAX_BODY)
#define FRAG_MAX_ORIGINS 128

/* Piece header, big endian:
 *   0 u8  version (1)       1 u8  flags (0)
 *   2 u16 index (from 0)    4 u16 count (1..)   6 u16 zero
 *   8 u32 frame sequence number of the origin
 *  12 u32 frame length (bytes of the whole frame)
 *  16 u64 tag of the origin's regular configuration
 * Every piece but the last carries exactly max_payload - 24 bytes. */
struct frag_hdr {
	uint16_t idx, count;
	uint32_t fseq;
	uint32_t total;
	uint64_t tag;
};

/* Bytes of frame data in a full piece, for a ring max_payload. */
static inline size_t frag_chunk(size_t max_payload)
{
	return max_payload - FRAG_HDR_LEN;
}

/* Pieces needed for a frame of total bytes. */
static inline unsigned frag_count(size_t total, size_t max_payload)
{
	size_t c = frag_chunk(max_payload);

	return (unsigned)((total + c - 1) / c);
}

/* Writes piece idx of the frame (net form, total bytes) into out (room
 * for max_payload bytes); returns the piece's length. */
size_t frag_piece(uint8_t *out, const uint8_t *frame, size_t total,
		  size_t max_payload, unsigned idx, uint32_t fseq, uint64_t tag);

/* Decodes and checks a piece header against the piece length and
 * max_payload. Returns 0, or -1 for a malformed piece. */
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

/* A piece delivered by the ring from `origin`, while the receiver's last
 * regular configuration has tag cur_tag. On FRAG_DONE, *frame and *flen are
 * the whole frame (network form), borrowed until the next call, and
 * *fseq its origin's frame number. Out of memory for a reassembly buffer
 * returns FRAG_BROKEN (counted), as a lost piece would. */
enum frag_result frag_rx_input(struct frag_rx *rx, uint32_t origin,
			       uint64_t cur_tag, const uint8_t *piece,
			       size_t len, const uint8_t **frame, size_t *flen,
			       uint32_t *fseq);

/* A regular configuration was installed: incomplete frames are dropped. */
void frag_rx_new_conf(struct frag_rx *rx);

#endif /* CHORUS_FRAG_H */
