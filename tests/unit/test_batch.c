/*
 * test_batch.c - the log batch codec (src/proto/batch.c): round trips,
 * a table of malformed messages each refused with its own code, the
 * acknowledgement codec, and the writer's judgement of batches (new,
 * overlapping, duplicate, gap, sender-side loss).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/batch.h"
#include "t.h"

/* Builds a batch of `count` lines "line <seq>\n" into out, with the
 * held_below extension `held`; returns its length. */
static size_t mk_held(uint8_t *out, size_t cap, uint64_t stream, uint64_t first,
		      uint32_t count, uint64_t base, uint64_t held, const char *node)
{
	struct batch_hdr h;
	size_t off;
	int n;

	memset(&h, 0, sizeof(h));
	h.stream_id = stream;
	h.batch_id = 7;
	h.first_seq = first;
	h.count = count;
	h.base_seq = base;
	h.dropped = 3;
	h.cut = 2;
	h.time_ms = 1700000000123ull;
	h.has_held_below = 1;
	h.held_below = held;
	h.node = node;
	h.node_len = strlen(node);
	off = batch_hdr_len(h.node_len);
	for (uint32_t i = 0; i < count; i++)
		off += (size_t)snprintf((char *)out + off, cap - off, "line %llu\n",
					(unsigned long long)(first + i));
	h.payload_len = off - batch_hdr_len(h.node_len);
	n = batch_hdr_encode(&h, out, cap);
	T_EQ(n, (int)batch_hdr_len(h.node_len));
	return off;
}

static size_t mk(uint8_t *out, size_t cap, uint64_t stream, uint64_t first,
		 uint32_t count, uint64_t base, const char *node)
{
	return mk_held(out, cap, stream, first, count, base, 0, node);
}

static void batch_roundtrip(void)
{
	uint8_t buf[4096];
	struct batch_hdr h;
	size_t len = mk_held(buf, sizeof(buf), 0x1122334455667788ull, 10, 3, 5, 3,
			     "node1");

	T_EQ(batch_decode(buf, len, &h), BATCH_OK);
	T_EQ(h.has_held_below, 1);
	T_EQ(h.held_below, 3);
	T_EQ(h.version, 1);
	T_EQ(h.stream_id, 0x1122334455667788ull);
	T_EQ(h.batch_id, 7);
	T_EQ(h.first_seq, 10);
	T_EQ(h.count, 3);
	T_EQ(h.base_seq, 5);
	T_EQ(h.dropped, 3);
	T_EQ(h.cut, 2);
	T_EQ(h.time_ms, 1700000000123ull);
	T_EQ(h.node_len, 5);
	T_MEMEQ(h.node, "node1", 5);
	T_EQ(h.payload_len, strlen("line 10\nline 11\nline 12\n"));
	T_MEMEQ(h.payload, "line 10\nline 11\nline 12\n", h.payload_len);
	/* Network byte order, as documented. */
	T_MEMEQ(buf, "CHLB\x01\x00\x00\x56", 8);
	/* held_below right after the node name. */
	T_MEMEQ(buf + 73 + 5, "\0\0\0\0\0\0\0\x03", 8);
	T_MEMEQ(buf + 8, "\x11\x22\x33\x44\x55\x66\x77\x88", 8);
	T_MEMEQ(buf + 24, "\0\0\0\0\0\0\0\x0a", 8);
}

/* Extension bytes between the node name and hdr_len are skipped. */
static void batch_extension(void)
{
	uint8_t buf[256], ext[256];
	struct batch_hdr h;
	size_t len = mk(buf, sizeof(buf), 1, 1, 1, 1, "n");
	size_t hl = batch_hdr_len(1);

	memcpy(ext, buf, hl);
	memset(ext + hl, 0xee, 4);
	memcpy(ext + hl + 4, buf + hl, len - hl);
	ext[6] = 0;
	ext[7] = (uint8_t)(hl + 4);
	T_EQ(batch_decode(ext, len + 4, &h), BATCH_OK);
	T_EQ(h.payload_len, len - hl);
	T_MEMEQ(h.payload, "line 1\n", 7);
	T_EQ(h.has_held_below, 1);
}

/* A batch of an older sender (no extension bytes, or fewer than the 8 of
 * held_below) decodes with has_held_below 0 and held_below 0. */
static void batch_old_sender(void)
{
	uint8_t buf[256], old[256];
	struct batch_hdr h;
	size_t len = mk_held(buf, sizeof(buf), 1, 20, 1, 20, 0, "n");
	size_t hl = batch_hdr_len(1), fixed = hl - BATCH_EXT_LEN;

	for (size_t ext = 0; ext < BATCH_EXT_LEN; ext += 3) {
		memcpy(old, buf, fixed);
		memset(old + fixed, 0x77, ext);
		memcpy(old + fixed + ext, buf + hl, len - hl);
		old[6] = 0;
		old[7] = (uint8_t)(fixed + ext);
		T_EQ(batch_decode(old, fixed + ext + len - hl, &h), BATCH_OK);
		T_EQ(h.has_held_below, 0);
		T_EQ(h.held_below, 0);
		T_EQ(h.first_seq, 20);
		T_MEMEQ(h.payload, "line 20\n", 8);
	}
}

/* Every malformation gets its own code, never a crash. */
static void batch_bad_table(void)
{
	static const struct {
		const char *what;
		size_t off;     /* byte to change */
		int val;        /* new value; -1: truncate to off bytes; -2:
				   last byte not '\n'; -3: one byte short;
				   -4: 8 bytes 0xff at off */
		int err;
	} cases[] = {
		{ "empty", 0, -1, BATCH_E_SHORT },
		{ "72 bytes", 72, -1, BATCH_E_SHORT },
		{ "magic", 0, 'X', BATCH_E_MAGIC },
		{ "version 0", 4, 0, BATCH_E_VERSION },
		{ "version 2", 4, 2, BATCH_E_VERSION },
		{ "zlib flag", 5, BATCH_F_ZLIB, BATCH_E_FLAGS },
		{ "high flag", 5, 0x80, BATCH_E_FLAGS },
		{ "hdr_len small", 7, 10, BATCH_E_HDR_LEN },
		{ "hdr_len large", 6, 0x7f, BATCH_E_HDR_LEN },
		{ "node len 0", 72, 0, BATCH_E_NAME },
		{ "node len long", 72, 200, BATCH_E_HDR_LEN },
		{ "node space", 73, ' ', BATCH_E_NAME },
		{ "node control", 74, '\n', BATCH_E_NAME },
		{ "stream 0", 8 + 7, 0, BATCH_E_STREAM },
		{ "first 0", 24 + 7, 0, BATCH_E_SEQ },
		{ "first overflow", 24, -4, BATCH_E_SEQ },
		{ "base 0", 40 + 7, 0, BATCH_E_SEQ },
		{ "base above first", 40 + 7, 11, BATCH_E_SEQ },
		{ "held_below at base", 78 + 7, 5, BATCH_E_SEQ },
		{ "held_below above base", 78, 0x01, BATCH_E_SEQ },
		{ "count 0", 32 + 3, 0, BATCH_E_COUNT },
		{ "count 2", 32 + 3, 2, BATCH_E_COUNT },
		{ "count 4", 32 + 3, 4, BATCH_E_COUNT },
		{ "count huge", 32, 0xff, BATCH_E_COUNT },
		{ "payload_len short", 36 + 3, 5, BATCH_E_PAYLOAD },
		{ "payload_len long", 36 + 2, 1, BATCH_E_PAYLOAD },
		{ "no final newline", 0, -2, BATCH_E_PAYLOAD },
		{ "truncated payload", 0, -3, BATCH_E_PAYLOAD },
	};

	for (size_t i = 0; i < T_COUNT(cases); i++) {
		uint8_t buf[512];
		struct batch_hdr h;
		size_t len = mk(buf, sizeof(buf), 1, 10, 3, 5, "node1");
		int err;

		if (cases[i].val == -1)
			len = cases[i].off;
		else if (cases[i].val == -2)
			buf[len - 1] = 'x';
		else if (cases[i].val == -3)
			len--;
		else if (cases[i].val == -4)
			memset(buf + cases[i].off, 0xff, 8);
		else
			buf[cases[i].off] = (uint8_t)cases[i].val;
		/* Where a change breaks two rules, the first check wins and
		 * the table names that one. */
		err = batch_decode(buf, len, &h);
		T_ASSERTF(err == cases[i].err, "%s: got %d (%s), expected %d",
			  cases[i].what, err, batch_err_str(err), cases[i].err);
		T_ASSERT(strlen(batch_err_str(err)) > 0);
	}
	T_STREQ(batch_err_str(5), "unknown batch error");
	T_STREQ(batch_err_str(-100), "unknown batch error");
}

static void batch_encode_errors(void)
{
	struct batch_hdr h;
	uint8_t buf[96];
	char longname[300];

	memset(&h, 0, sizeof(h));
	h.node = "n";
	h.node_len = 1;
	T_EQ(batch_hdr_encode(&h, buf, 81), BATCH_E_SPACE);
	T_EQ(batch_hdr_encode(&h, buf, 82), 82);
	h.node = "a b";
	h.node_len = 3;
	T_EQ(batch_hdr_encode(&h, buf, sizeof(buf)), BATCH_E_NAME);
	memset(longname, 'a', sizeof(longname));
	h.node = longname;
	h.node_len = 256;
	T_EQ(batch_hdr_encode(&h, buf, sizeof(buf)), BATCH_E_NAME);
	h.node_len = 0;
	T_EQ(batch_hdr_encode(&h, buf, sizeof(buf)), BATCH_E_NAME);
}

static void ack_roundtrip(void)
{
	struct batch_ack a, b;
	uint8_t buf[BATCH_ACK_MAX_LEN];
	int n;

	memset(&a, 0, sizeof(a));
	a.flags = BATCH_ACK_F_GAP;
	a.stream_id = 0xfedcba9876543210ull;
	a.acked = 123456789012ull;
	a.batch_id = 42;
	a.writer = "logd@central";
	a.writer_len = strlen(a.writer);
	n = batch_ack_encode(&a, buf, sizeof(buf));
	T_EQ(n, 32 + 12);
	T_MEMEQ(buf, "CHLA\x01\x01\x0c\x00", 8);
	T_EQ(batch_ack_decode(buf, (size_t)n, &b), BATCH_OK);
	T_EQ(b.flags, BATCH_ACK_F_GAP);
	T_EQ(b.stream_id, a.stream_id);
	T_EQ(b.acked, a.acked);
	T_EQ(b.batch_id, 42);
	T_EQ(b.writer_len, 12);
	T_MEMEQ(b.writer, "logd@central", 12);
	/* Trailing extension bytes are ignored. */
	buf[n] = 0;
	T_EQ(batch_ack_decode(buf, (size_t)n + 1, &b), BATCH_OK);
	/* Malformations. */
	T_EQ(batch_ack_decode(buf, 31, &b), BATCH_E_SHORT);
	T_EQ(batch_ack_decode(buf, (size_t)n - 1, &b), BATCH_E_HDR_LEN);
	buf[5] = 2;
	T_EQ(batch_ack_decode(buf, (size_t)n, &b), BATCH_E_FLAGS);
	buf[5] = 0;
	buf[4] = 9;
	T_EQ(batch_ack_decode(buf, (size_t)n, &b), BATCH_E_VERSION);
	buf[4] = 1;
	buf[6] = 0;
	T_EQ(batch_ack_decode(buf, (size_t)n, &b), BATCH_E_NAME);
	buf[6] = 12;
	buf[0] = 'X';
	T_EQ(batch_ack_decode(buf, (size_t)n, &b), BATCH_E_MAGIC);
	buf[0] = 'C';
	memset(buf + 8, 0, 8);
	T_EQ(batch_ack_decode(buf, (size_t)n, &b), BATCH_E_STREAM);
	T_EQ(batch_ack_encode(&a, buf, 40), BATCH_E_SPACE);
	a.stream_id = 0;
	T_EQ(batch_ack_encode(&a, buf, sizeof(buf)), BATCH_E_STREAM);
	a.stream_id = 1;
	a.flags = 4;
	T_EQ(batch_ack_encode(&a, buf, sizeof(buf)), BATCH_E_FLAGS);
}

/* The writer's decisions, as a table over one stream state. */
static void rx_judge_table(void)
{
	static const struct {
		uint64_t hwm, first, base, held;
		uint32_t count;
		int verdict;
		uint32_t skip;
		uint64_t lost, hwm_after;
	} cases[] = {
		/* first batch of a new stream */
		{ 0, 1, 1, 0, 10, BATCH_V_STORE, 0, 0, 10 },
		/* the next batch */
		{ 10, 11, 1, 0, 5, BATCH_V_STORE, 0, 0, 15 },
		/* a resend that overlaps */
		{ 10, 8, 1, 0, 5, BATCH_V_STORE, 3, 0, 12 },
		/* a pure duplicate */
		{ 10, 1, 1, 0, 10, BATCH_V_DUP, 0, 0, 10 },
		{ 10, 10, 1, 0, 1, BATCH_V_DUP, 0, 0, 10 },
		/* a gap the sender can fill */
		{ 10, 12, 1, 0, 5, BATCH_V_GAP, 0, 0, 10 },
		{ 10, 20, 11, 0, 5, BATCH_V_GAP, 0, 0, 10 },
		/* the sender dropped 11..19: lost, then stored */
		{ 10, 20, 20, 0, 5, BATCH_V_STORE, 0, 9, 24 },
		/* a writer that joins a stream whose start is acknowledged */
		{ 0, 5001, 5001, 0, 2, BATCH_V_STORE, 0, 5000, 5002 },
		/* dropped lines but the batch does not start at base: gap */
		{ 10, 25, 20, 0, 5, BATCH_V_GAP, 0, 0, 10 },
		/* a post-hole batch while behind, lines 11..20 held below the
		 * hole 21..30: gap, the sender must send 11..20 first */
		{ 10, 31, 31, 20, 10, BATCH_V_GAP, 0, 0, 10 },
		{ 0, 31, 31, 20, 10, BATCH_V_GAP, 0, 0, 0 },
		{ 15, 31, 31, 20, 10, BATCH_V_GAP, 0, 0, 15 },
		/* ... and once the writer has everything below the hole, the
		 * hole is lost and the batch stored */
		{ 20, 31, 31, 20, 10, BATCH_V_STORE, 0, 10, 40 },
		{ 25, 31, 31, 20, 10, BATCH_V_STORE, 0, 5, 40 },
	};

	for (size_t i = 0; i < T_COUNT(cases); i++) {
		struct batch_rx rx;
		struct batch_hdr h;
		uint32_t skip;
		uint64_t lost;
		int v;

		memset(&rx, 0, sizeof(rx));
		memset(&h, 0, sizeof(h));
		rx.stream_id = h.stream_id = 9;
		rx.hwm = cases[i].hwm;
		h.first_seq = cases[i].first;
		h.base_seq = cases[i].base;
		h.held_below = cases[i].held;
		h.has_held_below = 1;
		h.count = cases[i].count;
		h.dropped = 4;
		v = batch_rx_judge(&rx, &h, &skip, &lost);
		T_ASSERTF(v == cases[i].verdict, "case %zu: verdict %d", i, v);
		T_ASSERTF(skip == cases[i].skip, "case %zu: skip %u", i, skip);
		T_ASSERTF(lost == cases[i].lost, "case %zu: lost %llu", i,
			  (unsigned long long)lost);
		if (v == BATCH_V_STORE)
			batch_rx_commit(&rx, &h, lost);
		T_ASSERTF(rx.hwm == cases[i].hwm_after, "case %zu: hwm %llu", i,
			  (unsigned long long)rx.hwm);
		if (v == BATCH_V_STORE) {
			T_EQ(rx.lost, cases[i].lost);
			T_EQ(rx.dropped, 4);
		}
	}
}

/* The safety net: lines skipped by rule 3 beyond the growth of the
 * sender's dropped counter, on a stream seen before. */
static void rx_unexplained(void)
{
	struct batch_rx rx;
	struct batch_hdr h;

	memset(&rx, 0, sizeof(rx));
	memset(&h, 0, sizeof(h));
	rx.hwm = 10;
	h.first_seq = h.base_seq = 31;
	h.count = 10;
	h.dropped = 10;
	/* 20 skipped, dropped grew by 10. */
	T_EQ(batch_rx_unexplained(&rx, &h, 20), 10);
	T_EQ(batch_rx_unexplained(&rx, &h, 10), 0);
	batch_rx_commit(&rx, &h, 20);
	T_EQ(rx.unexplained, 10);
	T_EQ(rx.dropped, 10);
	T_EQ(rx.lost, 20);
	T_EQ(rx.lost_seen, 20);
	/* Reported once: a later loss counted as dropped adds nothing. */
	rx.hwm = 40;
	h.first_seq = h.base_seq = 46;
	h.dropped = 15;
	T_EQ(batch_rx_unexplained(&rx, &h, 5), 0);
	T_EQ(batch_rx_unexplained(&rx, &h, 6), 1);
	/* Drops reported by batches before the loss count too (a resend of
	 * lines before a hole carries the new total). */
	memset(&rx, 0, sizeof(rx));
	rx.hwm = 20;
	rx.dropped = 10;
	h.first_seq = h.base_seq = 31;
	h.dropped = 10;
	T_EQ(batch_rx_unexplained(&rx, &h, 10), 0);
	/* A stream never stored before: its skipped lines include every
	 * line acknowledged and deleted before this writer came. */
	rx.hwm = 0;
	rx.dropped = 0;
	T_EQ(batch_rx_unexplained(&rx, &h, 30), 0);
}

static const struct t_case cases[] = {
	T_CASE(batch_roundtrip),
	T_CASE(batch_extension),
	T_CASE(batch_old_sender),
	T_CASE(batch_bad_table),
	T_CASE(batch_encode_errors),
	T_CASE(ack_roundtrip),
	T_CASE(rx_judge_table),
	T_CASE(rx_unexplained),
};

int main(int argc, char **argv)
{
	return t_main(argc, argv, cases, T_COUNT(cases));
}
