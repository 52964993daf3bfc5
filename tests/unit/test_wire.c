/*
 * test_wire.c - unit tests of the client-protocol codec (src/proto/wire.c),
 * table-driven, with the byte dumps of docs/client-protocol.md and the
 * recorded transcripts where present.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/wire.h"
#include "t.h"

static const uint8_t join_frame[80] = {
	0x80, 0x00, 0x01, 0x80, '#', 'a', 'l', 'i', 'c', 'e', '#', 'l', 'o',
	'c', 'a', 'l', 'h', 'o', 's', 't', [36] = 0x01, [40] = 0x80,
	[43] = 0x80, [48] = 'g', '1',
};

static void hdr_decode_join(void)
{
	struct wire_hdr h;
	enum wire_kind k;

	T_EQ(wire_hdr_decode(join_frame, &h), 0);
	T_EQ(h.type, 0x80010080u);
	T_STREQ(h.name, "#alice#localhost");
	T_EQ(h.num_groups, 1);
	T_EQ(h.data_len, 0);
	T_EQ(wire_check_client_hdr(&h, "#alice#localhost", &k), WIRE_OK);
	T_EQ(k, WIRE_K_JOIN);
	T_EQ(wire_check_control_group(k, (const char *)join_frame + 48,
				      "#alice#localhost"), WIRE_OK);
}

static void hdr_roundtrip_and_swap(void)
{
	struct wire_hdr h = { 0 }, d;
	uint8_t buf[48], sw[48];

	h.type = 0x10;
	strcpy(h.name, "#bob#localhost");
	h.num_groups = 1;
	h.hint = wire_hint_make(0x1234);
	h.data_len = 5;
	wire_hdr_encode(&h, buf);
	/* The data frame of the spec's appendix A, header part. */
	T_EQ(buf[0], 0x90);
	T_EQ(buf[3], 0x80);
	T_EQ(buf[40], 0x80);
	T_EQ(buf[41], 0x34);
	T_EQ(buf[42], 0x12);
	T_EQ(buf[43], 0x80);
	T_EQ(wire_hdr_decode(buf, &d), 0);
	T_EQ(d.data_len, 5);
	/* The same header written by a machine of the other byte order. */
	memcpy(sw, buf, 48);
	for (int off = 0; off < 48; off += 4) {
		if (off >= 4 && off < 36)
			continue;
		for (int i = 0; i < 2; i++) {
			uint8_t t = sw[off + i];
			sw[off + i] = sw[off + 3 - i];
			sw[off + 3 - i] = t;
		}
	}
	sw[0] &= 0x7f; /* big-endian writers clear both marker bits */
	sw[3] &= 0x7f;
	sw[40 + 0] &= 0x7f;
	sw[40 + 3] &= 0x7f;
	T_EQ(wire_hdr_decode(sw, &d), 1);
	T_EQ(d.type, 0x10u);
	T_EQ(d.num_groups, 1);
	T_EQ(d.data_len, 5);
	{
		int mm;
		T_EQ(wire_hint_mess_type(d.hint, &mm), 0x1234);
		T_EQ(mm, 1);
		T_EQ(wire_hint_mess_type(wire_hint_make(-1), &mm), -1);
		T_EQ(mm, 0);
	}
}

struct hdr_case {
	const char *what;
	uint32_t type;
	const char *name;
	int32_t ngroups;
	uint32_t hint;
	int32_t dlen;
	int want;
};

static void client_hdr_table(void)
{
	static const struct hdr_case cases[] = {
		{ "agreed", 0x80000090, "#a#d", 1, 0x80000080, 5, WIRE_OK },
		{ "drop_recv stripped", 0x81000090, "#a#d", 1, 0x80000080, 5, WIRE_OK },
		{ "self discard", 0x800000d0, "#a#d", 1, 0x80000080, 5, WIRE_OK },
		{ "zero groups", 0x80000090, "#a#d", 0, 0x80000080, 5, WIRE_OK },
		{ "two services", 0x80000092, "#a#d", 1, 0x80000080, 5, WIRE_E_SERVICE },
		{ "service+join", 0x80010090, "#a#d", 1, 0x80000080, 0, WIRE_E_SERVICE },
		{ "self discard alone", 0x800000c0, "#a#d", 1, 0x80000080, 0, WIRE_E_SERVICE },
		{ "nothing", 0x80000080, "#a#d", 1, 0x80000080, 0, WIRE_E_SERVICE },
		{ "join+leave", 0x80030080, "#a#d", 1, 0x80000080, 0, WIRE_E_SERVICE },
		{ "group state bit", 0x80080090, "#a#d", 1, 0x80000080, 0, WIRE_E_TYPE_BITS },
		{ "reg memb", 0x80001090, "#a#d", 1, 0x80000080, 0, WIRE_E_TYPE_BITS },
		{ "reject", 0x80400090, "#a#d", 1, 0x80000080, 0, WIRE_E_TYPE_BITS },
		{ "transition", 0x80002090, "#a#d", 1, 0x80000080, 0, WIRE_E_TYPE_BITS },
		{ "wrong sender", 0x80000090, "#b#d", 1, 0x80000080, 5, WIRE_E_SENDER },
		{ "101 groups", 0x80000090, "#a#d", 101, 0x80000080, 5, WIRE_E_NUM_GROUPS },
		{ "negative groups", 0x80000090, "#a#d", -1, 0x80000080, 5, WIRE_E_NUM_GROUPS },
		{ "join two groups", 0x80010080, "#a#d", 2, 0x80000080, 0, WIRE_E_NUM_GROUPS },
		{ "join no group", 0x80010080, "#a#d", 0, 0x80000080, 0, WIRE_E_NUM_GROUPS },
		{ "bad hint", 0x80000090, "#a#d", 1, 0x80000081, 5, WIRE_E_HINT },
		{ "bad hint high", 0x80000090, "#a#d", 1, 0x81000080, 5, WIRE_E_HINT },
		{ "negative len", 0x80000090, "#a#d", 1, 0x80000080, -1, WIRE_E_DATA_LEN },
		{ "len 144001", 0x80000090, "#a#d", 0, 0x80000080, 144001, WIRE_E_DATA_LEN },
		{ "join with data", 0x80010080, "#a#d", 1, 0x80000080, 3, WIRE_E_DATA_LEN },
		{ "143953 with 1 group", 0x80000090, "#a#d", 1, 0x80000080, 143921, WIRE_E_TOO_LONG },
		{ "143952 with 1 group", 0x80000090, "#a#d", 1, 0x80000080, 143920, WIRE_OK },
		{ "143952 alone", 0x80000090, "#a#d", 0, 0x80000080, 143952, WIRE_OK },
	};
	for (size_t i = 0; i < T_COUNT(cases); i++) {
		const struct hdr_case *c = &cases[i];
		struct wire_hdr h;
		enum wire_kind k;
		int got;

		memset(&h, 0, sizeof(h));
		h.type = c->type;
		memcpy(h.name, c->name, strlen(c->name));
		h.num_groups = c->ngroups;
		h.hint = c->hint;
		h.data_len = c->dlen;
		got = wire_check_client_hdr(&h, "#a#d", &k);
		T_ASSERTF(got == c->want, "case %s: got %s, want %s", c->what,
			  wire_err_str(got), wire_err_str(c->want));
		if (got == WIRE_OK)
			T_ASSERTF((h.type & 0x01000000) == 0, "%s", c->what);
	}
}

static void group_names(void)
{
	static const struct {
		const char *name;
		int ok;
	} cases[] = {
		{ "g1", 1 }, { "", 0 }, { "a b", 0 }, { "#x", 0 }, { "\x01" "ctl", 0 },
		{ "$~", 1 }, { "\x7f", 0 }, { "\xc3\xa9", 0 },
		{ "0123456789012345678901234567890", 1 },
	};
	char f[32];

	for (size_t i = 0; i < T_COUNT(cases); i++) {
		memset(f, 0, sizeof(f));
		memcpy(f, cases[i].name, strlen(cases[i].name));
		T_ASSERTF(wire_group_name_ok(f) == cases[i].ok, "name %s",
			  cases[i].name);
	}
	memset(f, 'a', sizeof(f)); /* 32 bytes, no NUL */
	T_EQ(wire_group_name_ok(f), 0);
	T_EQ(wire_name_len(f), 32);
	T_EQ(wire_check_control_group(WIRE_K_KILL, "#a#d", "#a#d"), WIRE_OK);
	T_EQ(wire_check_control_group(WIRE_K_KILL, "#b#d", "#a#d"), WIRE_E_KILL_NAME);
}

struct req_case {
	const char *what;
	const char *bytes;
	size_t len;
	int want; /* > 0: consumed; 0 need more; < 0 reject */
	int membership;
	const char *name;
};

static void connreq_table(void)
{
	static const struct req_case cases[] = {
		{ "alice", "\x04\x04\x00\x01\x05" "alice", 10, 10, 1, "alice" },
		{ "priority 1", "\x04\x04\x00\x11\x01" "a", 6, 6, 1, "a" },
		{ "no membership", "\x04\x04\x00\x02\x01" "a", 6, 6, 0, "a" },
		{ "negative flag", "\x04\x04\x00\x81\x01" "a", 6, 6, 0, "a" },
		{ "empty name", "\x04\x04\x00\x01\x00", 5, 5, 1, "" },
		{ "partial", "\x04\x04\x00\x01\x05" "ali", 8, 0, 0, NULL },
		{ "one byte", "\x04", 1, 0, 0, NULL },
		{ "3.0.0", "\x03\x00\x00\x01\x01" "a", 6, -7, 0, NULL },
		{ "3.14 no patch", "\x03\x0e\x01\x01" "a", 5, 5, 1, "a" },
		{ "name 11", "\x04\x04\x00\x01\x0b" "abcdefghijk", 16, -5, 0, NULL },
		{ "name negative", "\x04\x04\x00\x01\xff", 5, -5, 0, NULL },
		{ "space", "\x04\x04\x00\x01\x03" "a b", 8, -5, 0, NULL },
		{ "hash", "\x04\x04\x00\x01\x02" "a#", 7, -5, 0, NULL },
		{ "high byte", "\x04\x04\x00\x01\x02" "a\xe9", 7, -5, 0, NULL },
	};
	for (size_t i = 0; i < T_COUNT(cases); i++) {
		const struct req_case *c = &cases[i];
		struct wire_connreq r;
		int got = wire_connreq_parse((const uint8_t *)c->bytes, c->len, &r);

		T_ASSERTF(got == c->want, "case %s: got %d want %d", c->what,
			  got, c->want);
		if (got > 0) {
			T_ASSERTF(r.membership == c->membership, "%s", c->what);
			T_STREQ(r.name, c->name);
		}
	}
}

static void connreq_encode(void)
{
	uint8_t out[16];
	size_t n = wire_connreq_encode(out, "alice", 1, 0);

	T_EQ(n, 10);
	T_MEMEQ(out, "\x04\x04\x00\x01\x05" "alice", 10);
	n = wire_connreq_encode(out, "alice", 1, 1);
	T_EQ(out[3], 0x11);
	n = wire_connreq_encode(out, "cbcbcbcbcbcbcb", 1, 0);
	T_EQ(n, 15);
	T_EQ(out[4], 10);
	n = wire_connreq_encode(out, NULL, 0, 0);
	T_EQ(n, 5);
	T_EQ(out[4], 0);
}

static void authchoice(void)
{
	uint8_t c[90];
	char names[3][30];

	memset(c, 0, sizeof(c));
	memcpy(c, "NULL", 4);
	T_EQ(wire_authchoice_parse(c, names), 1);
	T_STREQ(names[0], "NULL");
	memcpy(c + 30, "NULL", 4); /* duplicate */
	memcpy(c + 60, "IP", 2);
	T_EQ(wire_authchoice_parse(c, names), 2);
	T_STREQ(names[1], "IP");
	memset(c + 30, 'x', 30); /* slot without NUL */
	T_EQ(wire_authchoice_parse(c, names), -1);
	memset(c, 0, sizeof(c));
	memcpy(c + 30, "IP", 2); /* text after an empty slot */
	T_EQ(wire_authchoice_parse(c, names), -1);
	memset(c, 0, sizeof(c));
	T_EQ(wire_authchoice_parse(c, names), 0);
}

static void accept_record(void)
{
	uint8_t out[40];
	size_t n = wire_accept_encode(out, 1, "#alice#localhost");

	T_EQ(n, 21);
	T_MEMEQ(out, "\x01\x04\x04\x00\x10#alice#localhost", 21);
	n = wire_accept_encode(out, 0, "#a#b");
	T_EQ(n, 8);
	T_MEMEQ(out, "\x01\x04\x04\x04#a#b", 8);
}

static void memb_body(void)
{
	/* The spec's merge example: two sets, local offset 68. */
	uint8_t b[20 + 4 + 64 + 4 + 32], sw[sizeof(b)];
	uint32_t v;

	memset(b, 0, sizeof(b));
	v = 0x0a630001; memcpy(b, &v, 4);
	v = 2; memcpy(b + 12, &v, 4);
	v = 68; memcpy(b + 16, &v, 4);
	v = 2; memcpy(b + 20, &v, 4);
	memcpy(b + 24, "#ua#n1", 6);
	memcpy(b + 56, "#uc#n1", 6);
	v = 1; memcpy(b + 88, &v, 4);
	memcpy(b + 92, "#ub#n2", 6);
	T_EQ(wire_memb_body_fix(b, sizeof(b), 0), 0);
	T_EQ(wire_memb_body_fix(b, sizeof(b) - 1, 0), -1);
	T_EQ(wire_memb_body_fix(b, 19, 0), -1);
	v = 60; memcpy(b + 16, &v, 4); /* offset inside a set */
	T_EQ(wire_memb_body_fix(b, sizeof(b), 0), -1);
	v = 68; memcpy(b + 16, &v, 4);
	v = 0x40000000; memcpy(b + 20, &v, 4); /* huge count */
	T_EQ(wire_memb_body_fix(b, sizeof(b), 0), -1);
	v = 2; memcpy(b + 20, &v, 4);
	/* Swapped copy: integers byte-reversed, fixed back in place. */
	memcpy(sw, b, sizeof(b));
	for (int off = 0; off < 24; off += 4) {
		memcpy(&v, sw + off, 4); v = __builtin_bswap32(v); memcpy(sw + off, &v, 4);
	}
	memcpy(&v, sw + 88, 4); v = __builtin_bswap32(v); memcpy(sw + 88, &v, 4);
	T_EQ(wire_memb_body_fix(sw, sizeof(sw), 1), 0);
	T_MEMEQ(sw, b, sizeof(b));
}

/* The join frames in the recorded client-to-daemon streams decode and pass
 * the daemon's checks. */
static void transcript_frames(void)
{
	const char *dir = t_transcripts_dir();
	static const char *const names[] = { "session_tcp", "session_unix",
					     "two_session", "two_observer" };
	char path[512];

	if (!dir)
		t_skip("transcripts not found (set CHORUS_TRANSCRIPTS)");
	for (size_t i = 0; i < T_COUNT(names); i++) {
		size_t len, pos;
		uint8_t *b;
		struct wire_connreq r;
		char own[32];
		int frames = 0, n;

		snprintf(path, sizeof(path), "%s/%s.c2d.bin", dir, names[i]);
		b = t_read_file(path, &len);
		n = wire_connreq_parse(b, len, &r);
		T_ASSERT(n > 0);
		pos = (size_t)n + 90; /* the auth choice follows */
		snprintf(own, sizeof(own), "#%s#localhost", r.name);
		while (pos + 48 <= len) {
			struct wire_hdr h;
			enum wire_kind k;

			wire_hdr_decode(b + pos, &h);
			T_ASSERTF(wire_check_client_hdr(&h, own, &k) == WIRE_OK,
				  "%s frame %d", names[i], frames);
			pos += 48 + 32 * (size_t)h.num_groups + (size_t)h.data_len;
			frames++;
		}
		T_EQ(pos, len);
		T_ASSERT(frames >= 2);
		free(b);
	}
}

int main(int argc, char **argv)
{
	static const struct t_case cases[] = {
		T_CASE(hdr_decode_join), T_CASE(hdr_roundtrip_and_swap),
		T_CASE(client_hdr_table), T_CASE(group_names),
		T_CASE(connreq_table), T_CASE(connreq_encode),
		T_CASE(authchoice), T_CASE(accept_record),
		T_CASE(memb_body), T_CASE(transcript_frames),
	};
	return t_main(argc, argv, cases, T_COUNT(cases));
}
