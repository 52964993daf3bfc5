/*
 * test_ring_pkt.c - unit tests of the ring's packet codecs
 * (src/ring/ring_pkt.c): a table of packets of every type that must come
 * back identical, golden bytes of a header, every prefix and every
 * one-byte extension of each packet refused, and a table of bad fields.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ring/ring_pkt.h"
#include "t.h"

static uint8_t buf[1 << 16], buf2[1 << 16];
static struct ring_token tok, tok2;
static struct ring_join join, join2;
static struct ring_commit com, com2;

static const struct ring_hdr hdr = {
	0, 0xdeadbeef, 0x0a000001, 7, { 0x0a000001, 3, 1048577 },
};

static void make_packets(void)
{
	memset(&tok, 0, sizeof(tok));
	tok.token_seq = 99;
	tok.seq = 1000;
	tok.aru = 990;
	tok.aru_id = 0x0a000002;
	tok.fcc = 17;
	tok.backlog = 3;
	tok.rotation = 5;
	tok.rec_left = 2;
	tok.flags = RING_TOKEN_INSTALLED;
	tok.rtr_n = 3;
	tok.rtr[0] = 991;
	tok.rtr[1] = 995;
	tok.rtr[2] = 1000;
	memset(&join, 0, sizeof(join));
	join.high_ring_seq = 1048580;
	join.epoch = 4;
	join.jseq = 9;
	join.n_proc = 3;
	join.n_fail = 1;
	for (unsigned i = 0; i < 3; i++) {
		join.proc[i].id = 0x0a000001 + i;
		join.proc[i].inc = 1 + i;
	}
	join.fail[0] = join.proc[2];
	memset(&com, 0, sizeof(com));
	com.n = 2;
	com.idx = 1;
	com.rotation = 1;
	for (unsigned i = 0; i < 2; i++) {
		com.e[i].proc = join.proc[i];
		com.e[i].old_ring = hdr.ring;
		com.e[i].old_aru = 10 + i;
		com.e[i].old_high = 20 + i;
		com.e[i].old_safe = 5;
		com.e[i].epoch = 3;
		com.e[i].flags = RING_COMMIT_FILLED;
	}
}

/* Encodes packet k (0..5) into buf; returns its length. */
static int encode(int k)
{
	static const uint8_t payload[5] = { 1, 2, 3, 4, 5 };
	struct ring_data d;

	memset(&d, 0, sizeof(d));
	d.seq = 12345678901ull;
	d.origin = 0x0a000003;
	d.service = RING_SAFE;
	d.len = 5;
	d.payload = payload;
	switch (k) {
	case 0:
		return ring_pkt_put_data(buf, sizeof(buf), &hdr, &d);
	case 1:
		d.flags = RING_DATA_RECOVERED;
		d.old_ring = hdr.ring;
		d.old_seq = 77;
		return ring_pkt_put_data(buf, sizeof(buf), &hdr, &d);
	case 2:
		return ring_pkt_put_token(buf, sizeof(buf), &hdr, &tok);
	case 3:
		return ring_pkt_put_join(buf, sizeof(buf), &hdr, &join);
	case 4:
		return ring_pkt_put_commit(buf, sizeof(buf), &hdr, &com);
	default:
		return ring_pkt_put_probe(buf, sizeof(buf), &hdr, 4);
	}
}

/* Decodes buf (len bytes) as packet k expects; re-encodes into buf2. */
static int decode(int k, size_t len, int *n2)
{
	struct ring_hdr h;
	struct ring_data d;
	uint32_t n;
	int rc;

	*n2 = -1;
	if ((rc = ring_pkt_get_hdr(buf, len, &h)) != 0)
		return rc;
	switch (k) {
	case 0:
	case 1:
		rc = ring_pkt_get_data(buf, len, &d);
		if (!rc)
			*n2 = ring_pkt_put_data(buf2, sizeof(buf2), &h, &d);
		return rc;
	case 2:
		rc = ring_pkt_get_token(buf, len, &tok2);
		if (!rc)
			*n2 = ring_pkt_put_token(buf2, sizeof(buf2), &h, &tok2);
		return rc;
	case 3:
		rc = ring_pkt_get_join(buf, len, &join2);
		if (!rc)
			*n2 = ring_pkt_put_join(buf2, sizeof(buf2), &h, &join2);
		return rc;
	case 4:
		rc = ring_pkt_get_commit(buf, len, &com2);
		if (!rc)
			*n2 = ring_pkt_put_commit(buf2, sizeof(buf2), &h, &com2);
		return rc;
	default:
		rc = ring_pkt_get_probe(buf, len, &n);
		if (!rc)
			*n2 = ring_pkt_put_probe(buf2, sizeof(buf2), &h, n);
		return rc;
	}
}

static void round_trip(void)
{
	make_packets();
	for (int k = 0; k < 6; k++) {
		int n = encode(k), n2;

		T_ASSERTF(n > 0, "packet %d: encode %d", k, n);
		T_EQ(decode(k, (size_t)n, &n2), 0);
		T_EQ(n2, n);
		T_MEMEQ(buf, buf2, (size_t)n);
	}
	/* The decoded token equals the one encoded. */
	encode(2);
	{
		int n2;

		decode(2, RING_TOKEN_BASE_LEN + 3 * 8, &n2);
	}
	T_EQ(tok2.rtr_n, 3);
	T_EQ(tok2.rtr[2], 1000);
	T_EQ(tok2.aru, 990);
	T_EQ(tok2.token_seq, 99);
}

static void golden_header(void)
{
	static const uint8_t want[RING_HDR_LEN] = {
		0x52, 0x47, 0x01, 0x05, 0xde, 0xad, 0xbe, 0xef,
		0x0a, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x07,
		0x0a, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x03,
		0x00, 0x10, 0x00, 0x01,
	};
	int n;

	n = ring_pkt_put_probe(buf, sizeof(buf), &hdr, 4);
	T_EQ(n, RING_PROBE_LEN);
	T_MEMEQ(buf, want, sizeof(want));
	T_EQ(buf[28], 0);
	T_EQ(buf[31], 4);
}

/* No prefix of a packet decodes, nor the packet with a byte more. */
static void every_prefix_and_extension(void)
{
	make_packets();
	for (int k = 0; k < 6; k++) {
		int n = encode(k), n2;

		for (int len = 0; len < n; len++)
			T_ASSERTF(decode(k, (size_t)len, &n2) != 0,
				  "packet %d accepted at %d of %d bytes", k, len, n);
		buf[n] = 0;
		T_ASSERTF(decode(k, (size_t)n + 1, &n2) == RING_PKT_ELONG,
			  "packet %d accepted with a byte more", k);
	}
}

struct bad {
	const char *what;
	int packet; /* as in encode() */
	int offset; /* first byte to overwrite */
	uint8_t value;
	int expect;
	int count; /* bytes to overwrite; 0: one */
};

static const struct bad bads[] = {
	{ "magic", 0, 0, 0x00, RING_PKT_EMAGIC, 0 },
	{ "version 2", 0, 2, 0x02, RING_PKT_EVERSION, 0 },
	{ "type 0", 0, 3, 0x00, RING_PKT_ETYPE, 0 },
	{ "type 9", 0, 3, 0x09, RING_PKT_ETYPE, 0 },
	{ "data as token", 0, 3, RING_PKT_TOKEN, RING_PKT_ETYPE, 0 },
	{ "service 6", 0, 40, 0x06, RING_PKT_EFIELD, 0 },
	{ "unknown data flag", 0, 41, 0x80, RING_PKT_EFIELD, 0 },
	{ "payload length too big", 0, 42, 0x10, RING_PKT_ESHORT, 0 },
	{ "data seq 0", 0, 28, 0x00, RING_PKT_EFIELD, 8 },
	{ "token aru above seq", 2, 44, 0xff, RING_PKT_EFIELD, 0 },
	{ "token unknown flag", 2, 72, 0x80, RING_PKT_EFIELD, 0 },
	{ "token too many requests", 2, 74, 0xff, RING_PKT_EFIELD, 0 },
	{ "token request above seq", 2, 76, 0xff, RING_PKT_EFIELD, 0 },
	{ "join of no daemon", 3, 41, 0x00, RING_PKT_EFIELD, 0 },
	{ "join too many", 3, 40, 0x01, RING_PKT_EFIELD, 0 },
	{ "join seq 0", 3, 36, 0x00, RING_PKT_EFIELD, 4 },
	{ "commit idx beyond n", 4, 31, 0x05, RING_PKT_EFIELD, 0 },
	{ "commit rotation 3", 4, 32, 0x03, RING_PKT_EFIELD, 0 },
	{ "commit padding", 4, 33, 0x01, RING_PKT_EFIELD, 0 },
	{ "commit of 0", 4, 29, 0x00, RING_PKT_EFIELD, 0 },
	{ "commit safe above aru", 4, 36 + 36, 0xff, RING_PKT_EFIELD, 0 },
	{ "commit unknown flag", 4, 36 + 48, 0x80, RING_PKT_EFIELD, 0 },
};

static void bad_fields(void)
{
	make_packets();
	for (size_t i = 0; i < T_COUNT(bads); i++) {
		const struct bad *b = &bads[i];
		int n = encode(b->packet), n2, rc;

		memset(buf + b->offset, b->value, b->count ? (size_t)b->count : 1);
		rc = decode(b->packet, (size_t)n, &n2);
		if (b->expect)
			T_ASSERTF(rc == b->expect, "%s: %d, expected %d", b->what, rc,
				  b->expect);
		else
			T_ASSERTF(rc != 0, "%s accepted", b->what);
	}
}

static void encoders_refuse(void)
{
	struct ring_data d;

	make_packets();
	memset(&d, 0, sizeof(d));
	d.seq = 1;
	d.service = 9;
	T_EQ(ring_pkt_put_data(buf, sizeof(buf), &hdr, &d), RING_PKT_EFIELD);
	d.service = RING_AGREED;
	T_EQ(ring_pkt_put_data(buf, 20, &hdr, &d), RING_PKT_ESPACE);
	tok.rtr_n = RING_RTR_MAX + 1;
	T_EQ(ring_pkt_put_token(buf, sizeof(buf), &hdr, &tok), RING_PKT_EFIELD);
	tok.rtr_n = 1;
	tok.rtr[0] = tok.seq + 1;
	T_EQ(ring_pkt_put_token(buf, sizeof(buf), &hdr, &tok), RING_PKT_EFIELD);
	com.idx = 2;
	T_EQ(ring_pkt_put_commit(buf, sizeof(buf), &hdr, &com), RING_PKT_EFIELD);
	join.n_proc = RING_MAX_MEMBERS + 1;
	T_EQ(ring_pkt_put_join(buf, sizeof(buf), &hdr, &join), RING_PKT_EFIELD);
}

static void largest_packets_fit(void)
{
	size_t max = ring_pkt_max_len(1400);
	int n;

	make_packets();
	join.n_proc = join.n_fail = RING_MAX_MEMBERS;
	n = ring_pkt_put_join(buf, sizeof(buf), &hdr, &join);
	T_ASSERT(n > 0 && (size_t)n <= max);
	com.n = RING_MAX_MEMBERS;
	com.idx = 0;
	n = ring_pkt_put_commit(buf, sizeof(buf), &hdr, &com);
	T_ASSERT(n > 0 && (size_t)n <= max);
	tok.rtr_n = RING_RTR_MAX;
	for (unsigned i = 0; i < RING_RTR_MAX; i++)
		tok.rtr[i] = tok.seq;
	n = ring_pkt_put_token(buf, sizeof(buf), &hdr, &tok);
	T_ASSERT(n > 0 && (size_t)n <= max && n < 1400);
}

static void random_bytes(void)
{
	uint64_t x = 88172645463325252ull;

	for (int round = 0; round < 200000; round++) {
		int n2, len = (int)(x % 300);

		for (int i = 0; i < len; i++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			buf[i] = (uint8_t)x;
		}
		/* Often a valid header, so the bodies are reached. */
		if (len >= 4 && (round & 1)) {
			buf[0] = 0x52;
			buf[1] = 0x47;
			buf[2] = 1;
			buf[3] = (uint8_t)(1 + round % 5);
		}
		for (int k = 0; k < 6; k++)
			if (decode(k, (size_t)len, &n2) == 0)
				T_ASSERT(n2 == len && memcmp(buf, buf2, (size_t)len) == 0);
		x ^= (uint64_t)round;
	}
}

static const struct t_case cases[] = {
	T_CASE(round_trip),
	T_CASE(golden_header),
	T_CASE(every_prefix_and_extension),
	T_CASE(bad_fields),
	T_CASE(encoders_refuse),
	T_CASE(largest_packets_fit),
	T_CASE(random_bytes),
};

int main(int argc, char **argv)
{
	return t_main(argc, argv, cases, T_COUNT(cases));
}
