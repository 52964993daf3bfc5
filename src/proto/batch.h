/*
 * batch.h - codec of the log pipeline's messages: the batches chorus-log
 * sends to a group and the acknowledgements a writer (chorus-logd) sends
 * back to the sender's private group, plus the writer-side bookkeeping
 * that decides what part of a batch is new.
 *
 * The byte layouts and the exchange are specified in docs/log-batch.md.
 * Every integer is in network byte order. Everything here is pure: no
 * I/O, no allocation, no globals, no clock. Decoders take an explicit
 * length, never read past it, and return a negative BATCH_E_* code with
 * a description from batch_err_str().
 *
 * The codec lives in src/proto/ (not src/log/) because the fuzz build of
 * the Makefile links src/proto/ into every fuzz target, and because the
 * project layout puts all wire codecs there.
 */
#ifndef CHORUS_BATCH_H
#define CHORUS_BATCH_H

#include <stddef.h>
#include <stdint.h>

/* Spread message types (the 16-bit mess_type) of the two messages. A
 * message of any other type is a plain line of an old sender. */
#define BATCH_MESS_TYPE 0x4c42 /* "LB" */
#define BATCH_ACK_MESS_TYPE 0x4c41 /* "LA" */

#define BATCH_MAGIC 0x43484c42u /* "CHLB" */
#define BATCH_ACK_MAGIC 0x43484c41u /* "CHLA" */
#define BATCH_VERSION 1

/* Fixed part of a batch header, up to and including the node name's
 * length byte. */
#define BATCH_FIXED_LEN 73
/* The extension this code writes after the node name: held_below (8
 * bytes). A header whose extension bytes are fewer than this has none. */
#define BATCH_EXT_LEN 8
/* Fixed part of an acknowledgement, before the writer id. */
#define BATCH_ACK_FIXED_LEN 32
/* Longest node name and writer id. */
#define BATCH_NAME_MAX 255
/* Largest whole batch: the data a Spread client may send to one group. */
#define BATCH_MAX_LEN (144000 - 48 - 32)
#define BATCH_ACK_MAX_LEN (BATCH_ACK_FIXED_LEN + BATCH_NAME_MAX)

/* Batch flags. Version 1 defines none that a sender may set except
 * BATCH_F_EOF; BATCH_F_ZLIB is reserved for compressed payloads and a
 * version-1 decoder refuses it (BATCH_E_FLAGS). */
#define BATCH_F_EOF 0x01u  /* the sender reached end of input after this */
#define BATCH_F_ZLIB 0x02u /* reserved: payload deflated (not produced yet) */
#define BATCH_F_KNOWN BATCH_F_EOF

/* Acknowledgement flags. */
#define BATCH_ACK_F_GAP 0x01u /* a batch did not follow `acked`: resend */
#define BATCH_ACK_F_KNOWN BATCH_ACK_F_GAP

enum batch_err {
	BATCH_OK = 0,
	BATCH_E_SHORT = -1,     /* shorter than its fixed part */
	BATCH_E_MAGIC = -2,     /* not a batch or acknowledgement */
	BATCH_E_VERSION = -3,   /* a version this code does not speak */
	BATCH_E_FLAGS = -4,     /* unknown or unsupported flag bits */
	BATCH_E_HDR_LEN = -5,   /* header length inconsistent */
	BATCH_E_NAME = -6,      /* node name or writer id empty or bad */
	BATCH_E_SEQ = -7,       /* sequence numbers zero, overflowing, base
				   above first, or held_below not below base */
	BATCH_E_COUNT = -8,     /* no lines, or count differs from payload */
	BATCH_E_PAYLOAD = -9,   /* payload length wrong or not line-ended */
	BATCH_E_SPACE = -10,    /* encoder: output buffer too small */
	BATCH_E_STREAM = -11,   /* stream id zero */
	BATCH_E__MIN = -11
};

/* Describes a BATCH_E_* code (or BATCH_OK); never NULL. */
const char *batch_err_str(int err);

/* A decoded batch header. `node` points into the decoded message and is
 * not NUL-terminated; `payload` likewise points into it. */
struct batch_hdr {
	uint8_t version;
	uint8_t flags;
	uint64_t stream_id;   /* random, fixed for the life of a spool stream */
	uint64_t batch_id;    /* sender's counter, echoed by the ack */
	uint64_t first_seq;   /* sequence number of the first line, >= 1 */
	uint32_t count;       /* lines in the payload, >= 1 */
	uint64_t base_seq;    /* start of the run of lines without a hole that
				 the sender still holds and that ends at
				 first_seq - 1 (first_seq after a hole) */
	uint64_t dropped;     /* lines this stream dropped since its creation */
	uint64_t cut;         /* lines this stream cut since its creation */
	uint64_t time_ms;     /* sender's wall clock when it built the batch */
	/* Extension: the highest line below base_seq the sender still
	 * holds (0: none). has_held_below is 0 for a batch without the
	 * extension (an older sender); held_below is then 0. */
	int has_held_below;
	uint64_t held_below;
	size_t node_len;
	const char *node;
	size_t payload_len;
	const char *payload;  /* count lines, each ending in '\n' */
};

/* Size of the header (with the held_below extension) for a node name of
 * node_len bytes. */
size_t batch_hdr_len(size_t node_len);

/* Writes the header of h (node, node_len, the numbers and the held_below
 * extension, whatever has_held_below says; payload_len is taken from h
 * and not checked against anything) into out, which has cap bytes. The caller puts the payload right after it. Returns the header
 * length, or BATCH_E_SPACE / BATCH_E_NAME. */
int batch_hdr_encode(const struct batch_hdr *h, uint8_t *out, size_t cap);

/* Decodes and checks a whole batch of len bytes at msg: header, counts,
 * and that the payload holds exactly `count` lines each ending in '\n'.
 * Fills h (pointers into msg). Returns BATCH_OK or a BATCH_E_* code. */
int batch_decode(const uint8_t *msg, size_t len, struct batch_hdr *h);

/* A decoded acknowledgement. `writer` points into the message. */
struct batch_ack {
	uint8_t version;
	uint8_t flags;
	uint64_t stream_id;
	uint64_t acked;       /* highest sequence number stored contiguously */
	uint64_t batch_id;    /* batch this answers (0: none in particular) */
	size_t writer_len;
	const char *writer;   /* writer identity, 1..255 bytes */
};

/* Encodes a into out (cap bytes); returns its length or BATCH_E_*. */
int batch_ack_encode(const struct batch_ack *a, uint8_t *out, size_t cap);
/* Decodes an acknowledgement; returns BATCH_OK or BATCH_E_*. */
int batch_ack_decode(const uint8_t *msg, size_t len, struct batch_ack *a);

/* ---- Writer-side bookkeeping (one per stream id) ---- */

/* What a writer knows about one stream. Zero-initialised plus stream_id
 * for a stream it has never seen. */
struct batch_rx {
	uint64_t stream_id;
	uint64_t hwm;         /* highest sequence number stored contiguously */
	uint64_t lost;        /* lines the sender dropped before we had them */
	uint64_t dup_lines;   /* lines received again and ignored */
	uint64_t gaps;        /* batches refused because they left a gap */
	uint64_t dropped;     /* the sender's last reported dropped total */
	uint64_t cut;         /* the sender's last reported cut total */
	uint64_t lost_seen;   /* lines lost on a stream already stored from */
	uint64_t unexplained; /* of those, lines beyond the sender's `dropped`
				 (see batch_rx_unexplained) */
};

enum batch_verdict {
	BATCH_V_STORE,  /* store lines [skip, count) of the batch, then commit */
	BATCH_V_DUP,    /* all lines already stored: just acknowledge */
	BATCH_V_GAP     /* lines before it are missing: ack with the GAP flag */
};

/* Decides what to do with batch h for stream state rx (same stream id).
 * On BATCH_V_STORE sets *skip to the number of leading lines already
 * stored and *lost to lines the sender dropped that this writer never had
 * (the gap between hwm and base_seq, which it must count and log). A
 * batch past a hole is taken only if the sender holds nothing between
 * hwm and base_seq (held_below <= hwm); else it is a gap. Does not
 * change rx except the dup/gap counters; call batch_rx_commit() once the
 * lines are stored. */
enum batch_verdict batch_rx_judge(struct batch_rx *rx, const struct batch_hdr *h,
				  uint32_t *skip, uint64_t *lost);

/* Of `lost` lines skipped for batch h, how many the sender's `dropped`
 * counter does not account for: on a stream this writer has stored lines
 * of before (0 otherwise), the lines it counted lost since then beyond
 * `dropped`, less those already reported. Lines acknowledged by other
 * writers and deleted (fewer --acks than writers) are such lines; so are
 * lines lost by a sender that breaks the rules. The shell logs them;
 * batch_rx_commit() adds them to rx->unexplained. */
uint64_t batch_rx_unexplained(const struct batch_rx *rx, const struct batch_hdr *h,
			      uint64_t lost);

/* Records that batch h was stored as judged (lost as returned). */
void batch_rx_commit(struct batch_rx *rx, const struct batch_hdr *h,
		     uint64_t lost);

#endif /* CHORUS_BATCH_H */
