/*
 * test_frag.c - frames on the ring (src/daemon/frag.c): the network byte
 * order of a frame (golden bytes, round trip, refusals), the record
 * format (golden bytes), the cutting plan, pieces of every size up to the
 * largest client frame, frames packed into ring messages as a busy origin
 * sends them, interleaved origins, refused records (table), and the
 * configuration-change rules: stale tags, partial frames dropped at a new
 * regular configuration, a gap of a failed origin.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/frag.h"
#include "proto/be.h"
#include "t.h"

#define MP 1400 /* the ring's default max_payload */

/* A host-order client frame with ng groups and dl data bytes. */
static size_t mkframe(uint8_t *out, uint32_t type, int ng, int32_t dl,
		      uint8_t seed)
{
	struct wire_hdr h;
	size_t body = (size_t)ng * WIRE_NAME_LEN + (size_t)dl;

	memset(&h, 0, sizeof(h));
	h.type = type;
	snprintf(h.name, sizeof(h.name), "#alice#d1");
	h.num_groups = ng;
	h.hint = wire_hint_make(77);
	h.data_len = dl;
	wire_hdr_encode(&h, out);
	for (size_t i = 0; i < body; i++)
		out[WIRE_HDR_LEN + i] = (uint8_t)(seed + i * 7);
	return WIRE_HDR_LEN + body;
}

static void frame_net_golden(void)
{
	uint8_t f[256], n[256], back[256];
	size_t len = mkframe(f, 0x10, 1, 5, 1);

	T_EQ(frag_frame_to_net(f, len, n), 0);
	/* type 0x10 with no marker bits: big endian on the network. */
	T_EQ(n[0], 0); T_EQ(n[1], 0); T_EQ(n[2], 0); T_EQ(n[3], 0x10);
	T_MEMEQ(n + 4, "#alice#d1", 9);
	T_EQ(be_get32(n + 36), 1);
	T_MEMEQ(n + 40, f + 40, 4); /* the hint's bytes untouched */
	T_EQ(be_get32(n + 44), 5);
	T_MEMEQ(n + 48, f + 48, len - 48);
	T_EQ(frag_frame_from_net(n, len, back), 0);
	T_MEMEQ(back, f, len);
	/* In place both ways. */
	T_EQ(frag_frame_to_net(f, len, f), 0);
	T_MEMEQ(f, n, len);
	T_EQ(frag_frame_from_net(f, len, f), 0);
	T_MEMEQ(f, back, len);
}

static void frame_net_refusals(void)
{
	uint8_t f[256], n[256], out[256];
	size_t len = mkframe(f, 0x10, 2, 10, 1);

	T_EQ(frag_frame_to_net(f, len - 1, n), -1);  /* length disagrees */
	T_EQ(frag_frame_to_net(f, 20, n), -1);       /* shorter than a header */
	T_EQ(frag_frame_to_net(f, len, n), 0);
	T_EQ(frag_frame_from_net(n, len + 1, out), -1);
	n[3] |= 0x80; /* marker bits are never on the network */
	T_EQ(frag_frame_from_net(n, len, out), -1);
	n[3] &= 0x7f;
	be_put32(n + 36, 101); /* too many groups */
	T_EQ(frag_frame_from_net(n, len, out), -1);
	be_put32(n + 36, 2);
	be_put32(n + 44, 0xffffffffu); /* negative data length */
	T_EQ(frag_frame_from_net(n, len, out), -1);
}

/* Cuts a net-form frame as pump() does, into ring messages: the first
 * piece into `room` bytes left in msgs[0] (already holding used0 bytes),
 * the rest into new messages. Returns the number of messages touched. */
static unsigned cut(uint8_t msgs[][MP], size_t *mlen, const uint8_t *n,
		    size_t len, size_t room, uint32_t fseq, uint64_t tag)
{
	size_t first, off, chunk = frag_chunk(MP);
	unsigned count, idx = 0, k = 0;
	unsigned fresh = frag_plan(len, room, MP, &first, &count);

	if (first) {
		mlen[0] += frag_record(msgs[0] + mlen[0], n, len, 0, first,
				       idx++, count, fseq, tag);
		T_ASSERT(mlen[0] <= MP);
	}
	for (off = first; off < len; off += chunk) {
		size_t c = len - off < chunk ? len - off : chunk;

		k++;
		mlen[k] = frag_record(msgs[k], n, len, off, c, idx++, count,
				      fseq, tag);
		T_ASSERT(mlen[k] <= MP);
	}
	T_EQ(k, fresh);
	T_EQ(idx, count);
	return k + 1;
}

/* Feeds every record of a ring message; returns how many frames came
 * out, checking each against the expected frames want[next...]. */
static unsigned feed_msg(struct frag_rx *rx, uint32_t origin, uint64_t tag,
			 const uint8_t *m, size_t len, const uint8_t **want,
			 const size_t *wlen, unsigned *next)
{
	size_t off = 0;
	unsigned done = 0;

	while (off < len) {
		const uint8_t *out;
		size_t flen, used;
		uint32_t fseq;
		enum frag_result r = frag_rx_input(rx, origin, tag, m + off,
						   len - off, &used, &out,
						   &flen, &fseq);

		T_ASSERT(r == FRAG_DONE || r == FRAG_MORE);
		T_ASSERT(used > FRAG_HDR_LEN && used <= len - off);
		off += used;
		if (r == FRAG_DONE) {
			T_EQ(fseq, *next);
			T_EQ(flen, wlen[*next]);
			T_MEMEQ(out, want[*next], flen);
			(*next)++;
			done++;
		}
	}
	return done;
}

static void record_golden(void)
{
	uint8_t f[64], n[64], p[MP];
	size_t len = mkframe(f, 0x10, 0, 8, 1);

	frag_frame_to_net(f, len, n);
	T_EQ(frag_record(p, n, len, 10, 20, 1, 3, 0x01020304, 0x1122334455667788ull),
	     FRAG_HDR_LEN + 20);
	T_EQ(p[0], 2); T_EQ(p[1], 0);
	T_EQ(be_get16(p + 2), 1); T_EQ(be_get16(p + 4), 3);
	T_EQ(be_get16(p + 6), 20);
	T_EQ(be_get32(p + 8), 0x01020304);
	T_EQ(be_get32(p + 12), len);
	T_ASSERT(be_get64(p + 16) == 0x1122334455667788ull);
	T_MEMEQ(p + FRAG_HDR_LEN, n + 10, 20);
}

static void plan_cases(void)
{
	size_t chunk = frag_chunk(MP), first;
	unsigned count;

	/* No room: every piece starts a message. */
	T_EQ(frag_plan(100, 0, MP, &first, &count), 1);
	T_EQ(first, 0); T_EQ(count, 1);
	T_EQ(frag_plan(chunk + 1, 0, MP, &first, &count), 2);
	T_EQ(count, 2);
	/* Room too small to be worth a record. */
	T_EQ(frag_plan(100, FRAG_MIN_ROOM - 1, MP, &first, &count), 1);
	T_EQ(first, 0);
	/* The frame fits the room whole: no new message. */
	T_EQ(frag_plan(100, 100 + FRAG_HDR_LEN, MP, &first, &count), 0);
	T_EQ(first, 100); T_EQ(count, 1);
	/* Part of it: the rest in new messages. */
	T_EQ(frag_plan(1430, 300, MP, &first, &count), 1);
	T_EQ(first, 300 - FRAG_HDR_LEN); T_EQ(count, 2);
	T_EQ(frag_plan(FRAG_MAX_FRAME, MP, MP, &first, &count),
	     frag_count(FRAG_MAX_FRAME - chunk, MP));
	T_EQ(first, chunk);
	T_ASSERT(count <= frag_count(FRAG_MAX_FRAME, MP) + 1);
	/* A room above max_payload is max_payload. */
	T_EQ(frag_plan(10, 5000, MP, &first, &count), 0);
	T_EQ(first, 10);
}

/* Cuts a frame (with and without room in a queued message) and feeds the
 * pieces: the frame comes out whole. */
static void roundtrip_size(size_t dl, size_t room)
{
	static uint8_t f[FRAG_MAX_FRAME], n[FRAG_MAX_FRAME], msgs[110][MP];
	size_t mlen[110];
	struct frag_rx rx;
	size_t len = mkframe(f, 0x20, 0, (int32_t)dl, (uint8_t)dl);
	const uint8_t *want[1] = { n };
	unsigned k, next = 0, done = 0;

	T_EQ(frag_frame_to_net(f, len, n), 0);
	frag_rx_init(&rx, MP);
	/* msgs[0] already holds MP - room bytes: the record of an earlier
	 * frame of this origin from an older configuration (tag 1). */
	mlen[0] = 0;
	if (room < MP) {
		uint8_t g[MP], gn[MP];
		size_t gl = mkframe(g, 0x10, 0, (int32_t)(MP - room - FRAG_HDR_LEN -
							  WIRE_HDR_LEN), 3);

		frag_frame_to_net(g, gl, gn);
		mlen[0] = frag_record(msgs[0], gn, gl, 0, gl, 0, 1, 99, 1);
		T_EQ(mlen[0], MP - room);
	}
	k = cut(msgs, mlen, n, len, room, 0, 9);
	for (unsigned i = 0; i < k; i++) {
		size_t off = 0;

		/* The earlier frame's record carries tag 1: stale here. */
		if (i == 0 && mlen[0] && room < MP) {
			const uint8_t *out;
			size_t flen, used;
			uint32_t fseq;

			T_EQ(frag_rx_input(&rx, 7, 9, msgs[0], mlen[0], &used,
					   &out, &flen, &fseq), FRAG_STALE);
			off = used;
		}
		done += feed_msg(&rx, 7, 9, msgs[i] + off, mlen[i] - off, want,
				 &len, &next);
	}
	T_EQ(done, 1);
	T_EQ(rx.stats.stale, room < MP ? 1 : 0);
	frag_rx_free(&rx);
}

static void pieces_every_size(void)
{
	size_t chunk = frag_chunk(MP);
	size_t sizes[] = { 0, 1, chunk - WIRE_HDR_LEN - 1, chunk - WIRE_HDR_LEN,
			   chunk - WIRE_HDR_LEN + 1, 2 * chunk, 10000,
			   WIRE_MAX_BODY - 1, WIRE_MAX_BODY };
	size_t rooms[] = { MP, FRAG_MIN_ROOM, 700, 100 };

	for (size_t i = 0; i < T_COUNT(sizes); i++)
		for (size_t j = 0; j < T_COUNT(rooms); j++)
			roundtrip_size(sizes[i], rooms[j]);
	T_EQ(frag_count(FRAG_MAX_FRAME, MP), 105);
}

/* A busy origin: frames of mixed sizes packed into ring messages the way
 * pump() does (each frame's first piece fills what the last message left),
 * fed message by message: every frame comes out once, whole, in order,
 * and the 1350-byte frames of the benchmark take close to one message
 * each. */
static void packed_stream(void)
{
	enum { NF = 300 };
	static uint8_t f[NF][3000], n[NF][3000], msgs[8][MP], queue[1000][MP];
	static size_t qlen[1000];
	const uint8_t *want[NF];
	size_t wlen[NF], mlen[8];
	struct frag_rx rx;
	unsigned nq = 0, next = 0, done = 0;

	for (unsigned i = 0; i < NF; i++) {
		int32_t dl = i % 10 == 9 ? (int32_t)(7 * i % 2900) : 1350;

		wlen[i] = mkframe(f[i], 0x10, i % 10 == 9 ? 0 : 1, dl,
				  (uint8_t)i);
		T_EQ(frag_frame_to_net(f[i], wlen[i], n[i]), 0);
		want[i] = n[i];
	}
	for (unsigned i = 0; i < NF; i++) {
		size_t room = nq ? MP - qlen[nq - 1] : 0;
		unsigned k;

		mlen[0] = nq ? qlen[nq - 1] : 0;
		if (nq)
			memcpy(msgs[0], queue[nq - 1], qlen[nq - 1]);
		k = cut(msgs, mlen, n[i], wlen[i], room, i, 5);
		if (nq) {
			memcpy(queue[nq - 1], msgs[0], mlen[0]);
			qlen[nq - 1] = mlen[0];
		} else if (mlen[0]) {
			T_ASSERT(0); /* no room means nothing in msgs[0] */
		}
		for (unsigned j = 1; j < k; j++) {
			T_ASSERT(nq < 1000);
			memcpy(queue[nq], msgs[j], mlen[j]);
			qlen[nq++] = mlen[j];
		}
	}
	frag_rx_init(&rx, MP);
	for (unsigned i = 0; i < nq; i++)
		done += feed_msg(&rx, 3, 5, queue[i], qlen[i], want, wlen, &next);
	T_EQ(done, NF);
	/* 270 frames of 1430 bytes and 30 of at most 2948: without packing
	 * 270 * 2 + 30 * 3 = 630 messages at most; packed about 360. */
	T_ASSERTF(nq < 400, "%u messages for %u frames", nq, NF);
	frag_rx_free(&rx);
}

/* Feeds piece i (if the frame has it; every piece its own message) of
 * origin's frame; 1 when that completed the frame, which must then
 * equal n. */
static int feed_piece(struct frag_rx *rx, uint32_t origin, const uint8_t *n,
		      size_t len, unsigned i)
{
	uint8_t p[MP];
	const uint8_t *out;
	size_t flen, pl, used, chunk = frag_chunk(MP), off = i * chunk;
	uint32_t fseq;
	unsigned count = frag_count(len, MP);

	if (i >= count)
		return 0;
	pl = frag_record(p, n, len, off, len - off < chunk ? len - off : chunk,
			 i, count, 1, 5);
	if (frag_rx_input(rx, origin, 5, p, pl, &used, &out, &flen, &fseq) !=
	    FRAG_DONE)
		return 0;
	T_EQ(used, pl);
	T_EQ(flen, len);
	T_MEMEQ(out, n, len);
	return 1;
}

/* Piece i of a frame cut with every piece starting a message. */
static size_t mkpiece(uint8_t *p, const uint8_t *n, size_t len, unsigned i,
		      uint32_t fseq, uint64_t tag)
{
	size_t chunk = frag_chunk(MP), off = i * chunk;

	return frag_record(p, n, len, off, len - off < chunk ? len - off : chunk,
			   i, frag_count(len, MP), fseq, tag);
}

static void interleaved_origins(void)
{
	static uint8_t a[20000], b[20000], na[20000], nb[20000];
	struct frag_rx rx;
	size_t la = mkframe(a, 0x10, 1, 9000, 3), lb = mkframe(b, 0x20, 3, 7000, 5);
	unsigned ca = frag_count(la, MP), cb = frag_count(lb, MP), done = 0;

	frag_rx_init(&rx, MP);
	frag_frame_to_net(a, la, na);
	frag_frame_to_net(b, lb, nb);
	for (unsigned i = 0; i < ca || i < cb; i++) {
		done += feed_piece(&rx, 1, na, la, i);
		done += feed_piece(&rx, 2, nb, lb, i);
	}
	T_EQ(done, 2);
	frag_rx_free(&rx);
}

/* Malformed records, each refused as FRAG_BAD (the rest of the message
 * skipped) without disturbing the frame being assembled; then records
 * whose pieces cannot add up to their frame. */
static void bad_pieces(void)
{
	static uint8_t f[8000], n[8000];
	uint8_t p[MP], q[MP];
	struct frag_rx rx;
	size_t len = mkframe(f, 0x10, 0, 5000, 1), pl, ql;
	const uint8_t *out;
	size_t flen, used;
	uint32_t fseq;
	struct {
		const char *what;
		size_t off;
		uint8_t val;
		int shorten;
	} cases[] = {
		{ "version", 0, 1, 0 },
		{ "flags", 1, 1, 0 },
		{ "index beyond count", 3, 9, 0 },
		{ "more pieces than the frame can have", 5, 7, 0 },
		{ "piece beyond the message", 6, 0x10, 0 },
		{ "total zero", 0, 0, -1 },
		{ "piece length zero", 0, 0, -2 },
		{ "piece longer than the frame", 0, 0, -3 },
		{ "short piece", 0, FRAG_VERSION, 1 },
	};

	frag_rx_init(&rx, MP);
	frag_frame_to_net(f, len, n);
	pl = mkpiece(p, n, len, 0, 3, 1);
	T_EQ(frag_rx_input(&rx, 1, 1, p, pl, &used, &out, &flen, &fseq), FRAG_MORE);
	ql = mkpiece(q, n, len, 1, 3, 1);
	for (size_t i = 0; i < T_COUNT(cases); i++) {
		uint8_t b[MP];
		size_t bl = ql;

		memcpy(b, q, ql);
		if (cases[i].shorten == -1)
			memset(b + 12, 0, 4);
		else if (cases[i].shorten == -2)
			memset(b + 6, 0, 2);
		else if (cases[i].shorten == -3)
			be_put32(b + 12, 100);
		else
			b[cases[i].off] = cases[i].val;
		if (cases[i].shorten > 0)
			bl--;
		T_ASSERTF(frag_rx_input(&rx, 1, 1, b, bl, &used, &out, &flen, &fseq) == FRAG_BAD,
			  "case %s", cases[i].what);
	}
	T_EQ(frag_rx_input(&rx, 1, 1, p, 10, &used, &out, &flen, &fseq), FRAG_BAD);
	for (unsigned i = 1; i < frag_count(len, MP); i++) {
		pl = mkpiece(p, n, len, i, 3, 1);
		T_EQ(frag_rx_input(&rx, 1, 1, p, pl, &used, &out, &flen, &fseq),
		     i + 1 == frag_count(len, MP) ? FRAG_DONE : FRAG_MORE);
	}
	T_MEMEQ(out, n, len);
	T_EQ(rx.stats.bad, T_COUNT(cases) + 1);
	/* A one-piece frame whose piece is not the whole frame. */
	pl = frag_record(p, n, len, 0, 100, 0, 1, 4, 1);
	T_EQ(frag_rx_input(&rx, 1, 1, p, pl, &used, &out, &flen, &fseq), FRAG_BAD);
	T_EQ(used, pl);
	/* A last piece that leaves the frame short: the frame is lost. */
	pl = frag_record(p, n, len, 0, 1000, 0, 2, 5, 1);
	T_EQ(frag_rx_input(&rx, 1, 1, p, pl, &used, &out, &flen, &fseq), FRAG_MORE);
	pl = frag_record(p, n, len, 1000, 1000, 1, 2, 5, 1);
	T_EQ(frag_rx_input(&rx, 1, 1, p, pl, &used, &out, &flen, &fseq),
	     FRAG_BROKEN);
	/* A piece that would complete the frame before its last index. */
	for (unsigned i = 0; i < 4; i++) {
		size_t off = i * frag_chunk(MP);
		size_t k = i < 3 ? frag_chunk(MP) : len - off;

		pl = frag_record(p, n, len, off, k, i, 5, 6, 1);
		T_EQ(frag_rx_input(&rx, 1, 1, p, pl, &used, &out, &flen, &fseq),
		     i < 3 ? FRAG_MORE : FRAG_BROKEN);
	}
	T_EQ(rx.stats.dropped_partials, 2);
	frag_rx_free(&rx);
}

/* A frame cut by a configuration change: its first pieces in the old
 * configuration, its tail (old tag) in the new one. The tail is stale,
 * the partial is gone, and the origin's copy with the new tag is
 * assembled whole. */
static void conf_change_mid_frame(void)
{
	static uint8_t f[8000], n[8000];
	uint8_t p[MP];
	struct frag_rx rx;
	size_t len = mkframe(f, 0x20, 0, 6000, 1), pl;
	unsigned count = frag_count(len, MP);
	const uint8_t *out;
	size_t flen, used;
	uint32_t fseq;

	frag_rx_init(&rx, MP);
	frag_frame_to_net(f, len, n);
	for (unsigned i = 0; i < 2; i++) {
		pl = mkpiece(p, n, len, i, 8, 100);
		T_EQ(frag_rx_input(&rx, 4, 100, p, pl, &used, &out, &flen, &fseq), FRAG_MORE);
	}
	frag_rx_new_conf(&rx);
	T_EQ(rx.stats.dropped_partials, 1);
	for (unsigned i = 2; i < count; i++) {
		pl = mkpiece(p, n, len, i, 8, 100);
		T_EQ(frag_rx_input(&rx, 4, 200, p, pl, &used, &out, &flen, &fseq), FRAG_STALE);
	}
	/* An old single-piece frame queued behind it: stale as well. */
	{
		uint8_t g[100], gn[100];
		size_t gl = mkframe(g, 0x10, 0, 3, 1);

		frag_frame_to_net(g, gl, gn);
		pl = mkpiece(p, gn, gl, 0, 9, 100);
		T_EQ(frag_rx_input(&rx, 4, 200, p, pl, &used, &out, &flen, &fseq), FRAG_STALE);
	}
	for (unsigned i = 0; i < count; i++) {
		pl = mkpiece(p, n, len, i, 8, 200);
		T_EQ(frag_rx_input(&rx, 4, 200, p, pl, &used, &out, &flen, &fseq),
		     i + 1 == count ? FRAG_DONE : FRAG_MORE);
	}
	T_EQ(fseq, 8);
	T_MEMEQ(out, n, len);
	T_EQ(rx.stats.stale, count - 2 + 1);
	frag_rx_free(&rx);
}

/* A failed origin's frame with a gap (a transitional configuration skips
 * a piece nobody has): the frame is dropped, its later pieces refused,
 * and the origin's next frame is accepted. */
static void gap_drops_frame(void)
{
	static uint8_t f[8000], n[8000];
	uint8_t p[MP], g[100], gn[100];
	struct frag_rx rx;
	size_t len = mkframe(f, 0x10, 0, 6000, 1), pl, gl;
	unsigned count = frag_count(len, MP);
	const uint8_t *out;
	size_t flen, used;
	uint32_t fseq;

	frag_rx_init(&rx, MP);
	frag_frame_to_net(f, len, n);
	pl = mkpiece(p, n, len, 0, 1, 7);
	T_EQ(frag_rx_input(&rx, 4, 7, p, pl, &used, &out, &flen, &fseq), FRAG_MORE);
	for (unsigned i = 2; i < count; i++) {
		pl = mkpiece(p, n, len, i, 1, 7);
		T_EQ(frag_rx_input(&rx, 4, 7, p, pl, &used, &out, &flen, &fseq), FRAG_BROKEN);
	}
	gl = mkframe(g, 0x10, 0, 3, 1);
	frag_frame_to_net(g, gl, gn);
	pl = mkpiece(p, gn, gl, 0, 2, 7);
	T_EQ(frag_rx_input(&rx, 4, 7, p, pl, &used, &out, &flen, &fseq), FRAG_DONE);
	T_EQ(fseq, 2);
	T_EQ(flen, gl);
	T_EQ(rx.stats.dropped_partials, 1);
	frag_rx_free(&rx);
}

int main(int argc, char **argv)
{
	static const struct t_case cases[] = {
		T_CASE(frame_net_golden),
		T_CASE(frame_net_refusals),
		T_CASE(record_golden),
		T_CASE(plan_cases),
		T_CASE(pieces_every_size),
		T_CASE(packed_stream),
		T_CASE(interleaved_origins),
		T_CASE(bad_pieces),
		T_CASE(conf_change_mid_frame),
		T_CASE(gap_drops_frame),
	};

	return t_main(argc, argv, cases, T_COUNT(cases));
}
