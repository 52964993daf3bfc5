/*
 * test_frag.c - frames on the ring (src/daemon/frag.c): the network byte
 * order of a frame (golden bytes, round trip, refusals), pieces of every
 * size up to the largest client frame, interleaved origins, refused
 * pieces (table), and the configuration-change rules: stale tags,
 * partial frames dropped at a new regular configuration, a gap of a
 * failed origin.
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

/* Cuts a frame into pieces and feeds them, returns the frame assembled. */
static void roundtrip_size(size_t dl)
{
	static uint8_t f[FRAG_MAX_FRAME], n[FRAG_MAX_FRAME], p[MP];
	struct frag_rx rx;
	size_t len = mkframe(f, 0x20, 0, (int32_t)dl, (uint8_t)dl), flen = 0;
	unsigned count = frag_count(len, MP);
	const uint8_t *out = NULL;
	uint32_t fseq = 0;

	T_EQ(frag_frame_to_net(f, len, n), 0);
	frag_rx_init(&rx, MP);
	for (unsigned i = 0; i < count; i++) {
		size_t pl = frag_piece(p, n, len, MP, i, 42, 9);
		enum frag_result r;

		T_ASSERT(pl <= MP);
		r = frag_rx_input(&rx, 0x7f000001, 9, p, pl, &out, &flen, &fseq);
		T_EQ(r, i + 1 == count ? FRAG_DONE : FRAG_MORE);
	}
	T_EQ(flen, len);
	T_EQ(fseq, 42);
	T_MEMEQ(out, n, len);
	frag_rx_free(&rx);
}

static void pieces_every_size(void)
{
	size_t chunk = frag_chunk(MP);
	size_t sizes[] = { 0, 1, chunk - WIRE_HDR_LEN - 1, chunk - WIRE_HDR_LEN,
			   chunk - WIRE_HDR_LEN + 1, 2 * chunk, 10000,
			   WIRE_MAX_BODY - 1, WIRE_MAX_BODY };

	for (size_t i = 0; i < T_COUNT(sizes); i++)
		roundtrip_size(sizes[i]);
	T_EQ(frag_count(FRAG_MAX_FRAME, MP), 105);
}

/* Feeds piece i (if the frame has it) of origin's frame; 1 when that
 * completed the frame, which must then equal n. */
static int feed_piece(struct frag_rx *rx, uint32_t origin, const uint8_t *n,
		      size_t len, unsigned i)
{
	uint8_t p[MP];
	const uint8_t *out;
	size_t flen, pl;
	uint32_t fseq;

	if (i >= frag_count(len, MP))
		return 0;
	pl = frag_piece(p, n, len, MP, i, 1, 5);
	if (frag_rx_input(rx, origin, 5, p, pl, &out, &flen, &fseq) != FRAG_DONE)
		return 0;
	T_EQ(flen, len);
	T_MEMEQ(out, n, len);
	return 1;
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

/* Malformed pieces, each refused as FRAG_BAD without disturbing the
 * frame being assembled. */
static void bad_pieces(void)
{
	static uint8_t f[8000], n[8000];
	uint8_t p[MP], q[MP];
	struct frag_rx rx;
	size_t len = mkframe(f, 0x10, 0, 5000, 1), pl, ql;
	const uint8_t *out;
	size_t flen;
	uint32_t fseq;
	struct {
		const char *what;
		size_t off;
		uint8_t val;
		int shorten;
	} cases[] = {
		{ "version", 0, 2, 0 },
		{ "flags", 1, 1, 0 },
		{ "index beyond count", 3, 9, 0 },
		{ "count disagrees with length", 5, 7, 0 },
		{ "padding", 7, 1, 0 },
		{ "total zero", 12, 0, -1 },
		{ "short piece", 0, FRAG_VERSION, 1 },
	};

	frag_rx_init(&rx, MP);
	frag_frame_to_net(f, len, n);
	pl = frag_piece(p, n, len, MP, 0, 3, 1);
	T_EQ(frag_rx_input(&rx, 1, 1, p, pl, &out, &flen, &fseq), FRAG_MORE);
	ql = frag_piece(q, n, len, MP, 1, 3, 1);
	for (size_t i = 0; i < T_COUNT(cases); i++) {
		uint8_t b[MP];
		size_t bl = ql;

		memcpy(b, q, ql);
		if (cases[i].shorten < 0)
			memset(b + 12, 0, 4);
		else
			b[cases[i].off] = cases[i].val;
		if (cases[i].shorten > 0)
			bl--;
		T_ASSERTF(frag_rx_input(&rx, 1, 1, b, bl, &out, &flen, &fseq) == FRAG_BAD,
			  "case %s", cases[i].what);
	}
	T_EQ(frag_rx_input(&rx, 1, 1, p, 10, &out, &flen, &fseq), FRAG_BAD);
	for (unsigned i = 1; i < frag_count(len, MP); i++) {
		pl = frag_piece(p, n, len, MP, i, 3, 1);
		T_EQ(frag_rx_input(&rx, 1, 1, p, pl, &out, &flen, &fseq),
		     i + 1 == frag_count(len, MP) ? FRAG_DONE : FRAG_MORE);
	}
	T_MEMEQ(out, n, len);
	T_EQ(rx.stats.bad, T_COUNT(cases) + 1);
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
	size_t flen;
	uint32_t fseq;

	frag_rx_init(&rx, MP);
	frag_frame_to_net(f, len, n);
	for (unsigned i = 0; i < 2; i++) {
		pl = frag_piece(p, n, len, MP, i, 8, 100);
		T_EQ(frag_rx_input(&rx, 4, 100, p, pl, &out, &flen, &fseq), FRAG_MORE);
	}
	frag_rx_new_conf(&rx);
	T_EQ(rx.stats.dropped_partials, 1);
	for (unsigned i = 2; i < count; i++) {
		pl = frag_piece(p, n, len, MP, i, 8, 100);
		T_EQ(frag_rx_input(&rx, 4, 200, p, pl, &out, &flen, &fseq), FRAG_STALE);
	}
	/* An old single-piece frame queued behind it: stale as well. */
	{
		uint8_t g[100], gn[100];
		size_t gl = mkframe(g, 0x10, 0, 3, 1);

		frag_frame_to_net(g, gl, gn);
		pl = frag_piece(p, gn, gl, MP, 0, 9, 100);
		T_EQ(frag_rx_input(&rx, 4, 200, p, pl, &out, &flen, &fseq), FRAG_STALE);
	}
	for (unsigned i = 0; i < count; i++) {
		pl = frag_piece(p, n, len, MP, i, 8, 200);
		T_EQ(frag_rx_input(&rx, 4, 200, p, pl, &out, &flen, &fseq),
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
	size_t flen;
	uint32_t fseq;

	frag_rx_init(&rx, MP);
	frag_frame_to_net(f, len, n);
	pl = frag_piece(p, n, len, MP, 0, 1, 7);
	T_EQ(frag_rx_input(&rx, 4, 7, p, pl, &out, &flen, &fseq), FRAG_MORE);
	for (unsigned i = 2; i < count; i++) {
		pl = frag_piece(p, n, len, MP, i, 1, 7);
		T_EQ(frag_rx_input(&rx, 4, 7, p, pl, &out, &flen, &fseq), FRAG_BROKEN);
	}
	gl = mkframe(g, 0x10, 0, 3, 1);
	frag_frame_to_net(g, gl, gn);
	pl = frag_piece(p, gn, gl, MP, 0, 2, 7);
	T_EQ(frag_rx_input(&rx, 4, 7, p, pl, &out, &flen, &fseq), FRAG_DONE);
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
		T_CASE(pieces_every_size),
		T_CASE(interleaved_origins),
		T_CASE(bad_pieces),
		T_CASE(conf_change_mid_frame),
		T_CASE(gap_drops_frame),
	};

	return t_main(argc, argv, cases, T_COUNT(cases));
}
