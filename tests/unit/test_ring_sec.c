/*
 * test_ring_sec.c - sealed ring datagrams (src/daemon/ring_sec.c): the key
 * file (table of accepted and refused texts, file permissions), seal and
 * open round trips in every suite, every byte of a sealed datagram
 * tampered with, an unknown key id and a wrong key, replays and the
 * window's edges (table), stale incarnations and new boots, two runs
 * sharing an incarnation replayed in turn, reflected
 * copies, key rotation with the windows kept, forged datagrams that
 * must change no state, known answers computed outside OpenSSL, and every
 * nonce of a long run checked against a one-shot reference seal.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "daemon/ring_link.h"
#include "daemon/ring_sec.h"
#include "proto/auth_hmac.h"
#include "proto/be.h"
#include "ring/ring_pkt.h"
#include "t.h"

#define A_ID 0x0a4d0001u
#define B_ID 0x0a4d0002u
#define C_ID 0x0a4d0003u

static const char KEY1[] =
	"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
static const char KEY2[] =
	"f0e1d2c3b4a5968778695a4b3c2d1e0ff0e1d2c3b4a5968778695a4b3c2d1e0f";

static const uint8_t SALT_A[RSEC_SALT_LEN] = { 1, 2, 3, 4, 5, 6, 7, 8 };
static const uint8_t SALT_B[RSEC_SALT_LEN] = { 9, 9, 9, 9, 9, 9, 9, 9 };
static const uint8_t SALT_C[RSEC_SALT_LEN] = { 7, 7, 7, 7, 7, 7, 7, 7 };

static const uint8_t suites[3] = { RSEC_SUITE_GMAC, RSEC_SUITE_AES_GCM,
				   RSEC_SUITE_CHACHA };

static void keys_of(const char *text, struct rsec_keys *k)
{
	char err[200];

	T_ASSERTF(rsec_keys_parse(text, strlen(text), k, err, sizeof(err)) == 0,
		  "%s", err);
}

static struct rsec *mk(const char *keytext, uint8_t suite, uint32_t id,
		       uint32_t inc, const uint8_t *salt)
{
	struct rsec_keys k;
	struct rsec *s;
	char err[200];

	keys_of(keytext, &k);
	T_ASSERTF(rsec_new(&k, suite, id, inc, salt, &s, err, sizeof(err)) == 0,
		  "%s", err);
	return s;
}

static char *line(const char *id, const char *key, const char *extra)
{
	static char buf[512];

	snprintf(buf, sizeof(buf), "%s %s%s\n", id, key, extra);
	return buf;
}

/* A ring-packet-like body of n bytes. */
static void body_of(uint8_t *b, size_t n, uint8_t seed)
{
	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)(seed + i * 13);
}

static int seal(struct rsec *s, const uint8_t *pkt, size_t n, uint8_t *out)
{
	int l = rsec_seal(s, pkt, n, out, n + RSEC_OVERHEAD);

	T_EQ(l, (int)(n + RSEC_OVERHEAD));
	return l;
}

static enum rsec_result open1(struct rsec *s, const uint8_t *in, size_t len,
			      const uint8_t *want, size_t want_len)
{
	static uint8_t scratch[4096];
	const uint8_t *b;
	size_t bl;
	uint32_t from;
	enum rsec_result r = rsec_open(s, in, len, scratch, sizeof(scratch), &b,
				       &bl, &from);

	if (r == RSEC_OK && want) {
		T_EQ(bl, want_len);
		T_MEMEQ(b, want, want_len);
		T_EQ(from, be_get32(in + 4));
	}
	return r;
}

/* ---- The key file ---------------------------------------------------- */

static void keys_table(void)
{
	static const struct {
		const char *text;
		int ok;
		const char *err; /* part of the message */
	} t[] = {
		{ "1 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n", 1, NULL },
		{ "# comment\n\n  7\t000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F  current # x\n", 1, NULL },
		{ "", 0, "no key" },
		{ "# only a comment\n", 0, "no key" },
		{ "0 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n", 0, "line 1: the key id" },
		{ "256 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n", 0, "1 to 255" },
		{ "x1 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n", 0, "1 to 255" },
		{ "1 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e\n", 0, "64 hexadecimal" },
		{ "1 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1g\n", 0, "64 hexadecimal" },
		{ "1 0000000000000000000000000000000000000000000000000000000000000000\n", 0, "all zeros" },
		{ "1\n", 0, "expected" },
		{ "1 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f now\n", 0, "may only be" },
		{ "1 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f current x\n", 0, "expected" },
		{ "1 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n"
		  "1 f0e1d2c3b4a5968778695a4b3c2d1e0ff0e1d2c3b4a5968778695a4b3c2d1e0f current\n", 0, "line 2: this key id is listed twice" },
		{ "1 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n"
		  "2 f0e1d2c3b4a5968778695a4b3c2d1e0ff0e1d2c3b4a5968778695a4b3c2d1e0f\n", 0, "none marked current" },
		{ "1 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f current\n"
		  "2 f0e1d2c3b4a5968778695a4b3c2d1e0ff0e1d2c3b4a5968778695a4b3c2d1e0f current\n", 0, "2 keys are marked current" },
	};
	char err[300];

	for (size_t i = 0; i < T_COUNT(t); i++) {
		struct rsec_keys k;
		int rc = rsec_keys_parse(t[i].text, strlen(t[i].text), &k, err,
					 sizeof(err));

		T_ASSERTF((rc == 0) == t[i].ok, "case %zu: rc %d (%s)", i, rc,
			  rc ? err : "");
		if (!t[i].ok)
			T_ASSERTF(strstr(err, t[i].err) != NULL,
				  "case %zu: \"%s\" lacks \"%s\"", i, err, t[i].err);
	}
}

static void keys_current(void)
{
	struct rsec_keys k;
	char text[600], d[100];

	snprintf(text, sizeof(text), "3 %s\n9 %s current\n", KEY1, KEY2);
	keys_of(text, &k);
	T_EQ(k.n, 2);
	T_EQ(k.key[k.current].id, 9);
	T_EQ(k.key[0].k[31], 0x1f);
	T_EQ(k.key[1].k[0], 0xf0);
	rsec_keys_describe(&k, d, sizeof(d));
	T_STREQ(d, "3,9 (sending with 9)");
}

static void keys_file_mode(void)
{
	char path[] = "/tmp/chorus-keys-XXXXXX", err[400];
	struct rsec_keys k;
	int fd = mkstemp(path);
	const char *l = line("1", KEY1, "");

	T_ASSERT(fd >= 0);
	T_EQ(write(fd, l, strlen(l)), (long long)strlen(l));
	close(fd);
	T_ASSERT(chmod(path, 0600) == 0);
	T_ASSERTF(rsec_keys_load(path, AUTH_NO_UID, &k, err, sizeof(err)) == 0, "%s", err);
	T_EQ(k.key[0].id, 1);
	T_ASSERT(chmod(path, 0640) == 0);
	T_EQ(rsec_keys_load(path, AUTH_NO_UID, &k, err, sizeof(err)), -1);
	T_ASSERTF(strstr(err, "group or others") && strstr(err, "0640") &&
		  strstr(err, "chmod 600"), "%s", err);
	T_ASSERT(chmod(path, 0604) == 0);
	T_EQ(rsec_keys_load(path, AUTH_NO_UID, &k, err, sizeof(err)), -1);
	T_ASSERT(chmod(path, 0600) == 0);
	/* Owned by another user: refused, unless it is the daemon's. */
	if (geteuid() == 0) {
		T_EQ(chown(path, 4242, 4242), 0);
		T_EQ(rsec_keys_load(path, AUTH_NO_UID, &k, err, sizeof(err)), -1);
		T_ASSERTF(strstr(err, "belongs to uid 4242"), "%s", err);
		T_ASSERTF(rsec_keys_load(path, 4242, &k, err, sizeof(err)) == 0, "%s",
			  err);
		T_EQ(chown(path, 0, 0), 0);
	}
	fd = open(path, O_WRONLY | O_APPEND);
	T_ASSERT(fd >= 0);
	T_EQ(write(fd, "junk\n", 5), 5);
	close(fd);
	T_EQ(rsec_keys_load(path, AUTH_NO_UID, &k, err, sizeof(err)), -1);
	T_ASSERTF(strstr(err, "line 2"), "%s", err);
	unlink(path);
	T_EQ(rsec_keys_load(path, AUTH_NO_UID, &k, err, sizeof(err)), -1);
	T_ASSERTF(strstr(err, "cannot open"), "%s", err);
	T_EQ(rsec_keys_load("/tmp", AUTH_NO_UID, &k, err, sizeof(err)), -1);
	T_ASSERTF(strstr(err, "not a regular file"), "%s", err);
}

/* ---- Seal and open ------------------------------------------------------ */

static void round_trip(void)
{
	uint8_t pkt[1400], out[1400 + RSEC_OVERHEAD];

	for (int s = 0; s < 3; s++) {
		struct rsec *a = mk(line("1", KEY1, ""), suites[s], A_ID, 5, SALT_A);
		struct rsec *b = mk(line("1", KEY1, ""), suites[s], B_ID, 7, SALT_B);
		static const size_t sizes[] = { 0, 1, 28, 100, 1399, 1400 };

		for (size_t i = 0; i < T_COUNT(sizes); i++) {
			size_t n = sizes[i];
			int l;

			body_of(pkt, n, (uint8_t)i);
			l = seal(a, pkt, n, out);
			T_EQ(be_get16(out), RSEC_MAGIC);
			T_EQ(out[2], suites[s]);
			T_EQ(out[3], 1);
			T_EQ(be_get32(out + 4), A_ID);
			T_EQ(be_get32(out + 8), 5);
			T_MEMEQ(out + 12, SALT_A, RSEC_SALT_LEN);
			T_EQ(be_get64(out + 20), i);
			/* In clear when authenticated only, not otherwise. */
			if (n >= 16)
				T_EQ(memcmp(out + RSEC_HDR_LEN, pkt, n) == 0,
				     suites[s] == RSEC_SUITE_GMAC);
			T_EQ(open1(b, out, (size_t)l, pkt, n), RSEC_OK);
		}
		T_EQ(rsec_stats(a)->sealed, T_COUNT(sizes));
		T_EQ(rsec_stats(b)->opened, T_COUNT(sizes));
		T_EQ(rsec_stats(b)->new_boots, 1);
		/* No room, and no room for the overhead. */
		T_EQ(rsec_seal(a, pkt, 100, out, 100 + RSEC_OVERHEAD - 1), -1);
		T_EQ(rsec_seal(a, pkt, 0, out, RSEC_OVERHEAD - 1), -1);
		rsec_free(a);
		rsec_free(b);
	}
}

/* Every byte of a sealed datagram flipped (each bit pattern 0x01, 0x80,
 * 0xff), and every truncation: none opens, and the opener's state does not
 * move (the genuine datagram opens afterwards, then counts as a replay). */
static void tamper_every_byte(void)
{
	uint8_t pkt[200], out[200 + RSEC_OVERHEAD], bad[sizeof(out)];
	static const uint8_t flips[] = { 0x01, 0x80, 0xff };

	body_of(pkt, sizeof(pkt), 3);
	for (int s = 0; s < 3; s++) {
		struct rsec *a = mk(line("1", KEY1, ""), suites[s], A_ID, 5, SALT_A);
		struct rsec *b = mk(line("1", KEY1, ""), suites[s], B_ID, 7, SALT_B);
		int l = seal(a, pkt, sizeof(pkt), out);
		uint64_t fails = 0;

		for (int i = 0; i < l; i++)
			for (size_t f = 0; f < sizeof(flips); f++) {
				memcpy(bad, out, (size_t)l);
				bad[i] ^= flips[f];
				T_ASSERTF(open1(b, bad, (size_t)l, NULL, 0) != RSEC_OK,
					  "suite %02x: byte %d ^ %02x opened",
					  suites[s], i, flips[f]);
				fails++;
			}
		for (int n = 0; n < l; n++) {
			T_ASSERT(open1(b, out, (size_t)n, NULL, 0) != RSEC_OK);
			fails++;
		}
		T_EQ(rsec_stats(b)->opened, 0);
		T_EQ(rsec_stats(b)->new_boots, 0);
		{
			uint64_t sum = 0;

			for (int r = 1; r < RSEC__COUNT; r++)
				sum += rsec_stats(b)->failed[r];
			T_EQ(sum, fails);
		}
		T_EQ(open1(b, out, (size_t)l, pkt, sizeof(pkt)), RSEC_OK);
		T_EQ(open1(b, out, (size_t)l, NULL, 0), RSEC_REPLAYED);
		rsec_free(a);
		rsec_free(b);
	}
}

static void wrong_key(void)
{
	uint8_t pkt[64], out[64 + RSEC_OVERHEAD];
	struct rsec *a = mk(line("1", KEY1, ""), RSEC_SUITE_AES_GCM, A_ID, 5, SALT_A);
	struct rsec *other_id = mk(line("2", KEY1, ""), RSEC_SUITE_AES_GCM, B_ID, 1, SALT_B);
	struct rsec *other_key = mk(line("1", KEY2, ""), RSEC_SUITE_AES_GCM, B_ID, 1, SALT_B);
	struct rsec *other_suite = mk(line("1", KEY1, ""), RSEC_SUITE_CHACHA, B_ID, 1, SALT_B);
	int l;

	body_of(pkt, sizeof(pkt), 1);
	l = seal(a, pkt, sizeof(pkt), out);
	T_EQ(open1(other_id, out, (size_t)l, NULL, 0), RSEC_KEY_ID);
	T_EQ(open1(other_key, out, (size_t)l, NULL, 0), RSEC_TAG);
	T_EQ(open1(other_suite, out, (size_t)l, NULL, 0), RSEC_SUITE);
	/* A plaintext ring packet ("RG") is not sealed at all. */
	memcpy(out, "RG", 2);
	T_EQ(open1(other_key, out, (size_t)l, NULL, 0), RSEC_MALFORMED);
	T_EQ(rsec_stats(other_key)->failed[RSEC_TAG], 1);
	T_EQ(rsec_stats(other_key)->failed[RSEC_MALFORMED], 1);
	rsec_free(a);
	rsec_free(other_id);
	rsec_free(other_key);
	rsec_free(other_suite);
}

/* The window: sealed datagrams 0..N-1 of one sender delivered in a
 * scripted order. */
static void replay_window(void)
{
	enum { N = RSEC_WINDOW * 2 + 200 };
	static uint8_t dg[N][16 + RSEC_OVERHEAD];
	static const struct {
		uint64_t c;
		enum rsec_result want;
	} t[] = {
		{ 10, RSEC_OK }, { 10, RSEC_REPLAYED }, { 3, RSEC_OK },
		{ 3, RSEC_REPLAYED }, { 0, RSEC_OK }, { 11, RSEC_OK },
		{ 64, RSEC_OK }, { 12, RSEC_OK }, { 63, RSEC_OK },
		{ 64, RSEC_REPLAYED },
		/* Jump: everything more than the window behind is stale. */
		{ RSEC_WINDOW + 100, RSEC_OK },
		{ 100 + 65, RSEC_OK },          /* just inside (window - 64) */
		{ 100 + 64, RSEC_STALE },
		{ 12, RSEC_STALE },
		{ RSEC_WINDOW + 99, RSEC_OK },
		{ RSEC_WINDOW + 99, RSEC_REPLAYED },
		/* A jump of more than the whole bitmap clears it. */
		{ 2 * RSEC_WINDOW + 199, RSEC_OK },
		{ RSEC_WINDOW + 264, RSEC_OK },  /* the oldest still inside */
		{ RSEC_WINDOW + 263, RSEC_STALE },
		{ RSEC_WINDOW + 100, RSEC_STALE },
		{ 2 * RSEC_WINDOW + 198, RSEC_OK },
		{ 2 * RSEC_WINDOW + 199, RSEC_REPLAYED },
	};
	struct rsec *a = mk(line("1", KEY1, ""), RSEC_SUITE_GMAC, A_ID, 5, SALT_A);
	struct rsec *b = mk(line("1", KEY1, ""), RSEC_SUITE_GMAC, B_ID, 7, SALT_B);
	uint8_t pkt[16];

	for (int i = 0; i < N; i++) {
		body_of(pkt, sizeof(pkt), (uint8_t)i);
		seal(a, pkt, sizeof(pkt), dg[i]);
	}
	for (size_t i = 0; i < T_COUNT(t); i++) {
		enum rsec_result r = open1(b, dg[t[i].c], sizeof(dg[0]), NULL, 0);

		T_ASSERTF(r == t[i].want, "step %zu (counter %llu): %s, expected %s",
			  i, (unsigned long long)t[i].c, rsec_result_names[r],
			  rsec_result_names[t[i].want]);
	}
	rsec_free(a);
	rsec_free(b);
}

/* A restart gives a new boot (higher incarnation, new salt): accepted;
 * the old boot's datagrams are then stale, replays and all. */
static void stale_incarnation(void)
{
	uint8_t pkt[32], old[3][32 + RSEC_OVERHEAD], nw[32 + RSEC_OVERHEAD],
		same[32 + RSEC_OVERHEAD];
	struct rsec *a1 = mk(line("1", KEY1, ""), RSEC_SUITE_AES_GCM, A_ID, 5, SALT_A);
	struct rsec *a2 = mk(line("1", KEY1, ""), RSEC_SUITE_AES_GCM, A_ID, 6, SALT_C);
	struct rsec *a3 = mk(line("1", KEY1, ""), RSEC_SUITE_AES_GCM, A_ID, 6, SALT_B);
	struct rsec *b = mk(line("1", KEY1, ""), RSEC_SUITE_AES_GCM, B_ID, 7, SALT_B);

	body_of(pkt, sizeof(pkt), 9);
	for (int i = 0; i < 3; i++)
		seal(a1, pkt, sizeof(pkt), old[i]);
	seal(a2, pkt, sizeof(pkt), nw);
	/* Same counter 0, same plaintext, another boot: another key. */
	T_ASSERT(memcmp(nw + RSEC_HDR_LEN, old[0] + RSEC_HDR_LEN, 32 + 16) != 0);
	T_EQ(open1(b, old[0], sizeof(nw), pkt, sizeof(pkt)), RSEC_OK);
	T_EQ(open1(b, nw, sizeof(nw), pkt, sizeof(pkt)), RSEC_OK);
	T_EQ(rsec_stats(b)->new_boots, 2);
	T_EQ(open1(b, old[1], sizeof(nw), NULL, 0), RSEC_STALE);
	T_EQ(open1(b, old[0], sizeof(nw), NULL, 0), RSEC_STALE);
	T_EQ(open1(b, nw, sizeof(nw), NULL, 0), RSEC_REPLAYED);
	/* The same incarnation with another salt (a second run that shared
	 * the incarnation) does not replace the boot known: stale. */
	seal(a3, pkt, sizeof(pkt), same);
	T_EQ(open1(b, same, sizeof(same), NULL, 0), RSEC_STALE);
	T_EQ(rsec_stats(b)->new_boots, 2);
	T_EQ(rsec_stats(b)->failed[RSEC_STALE], 3);
	rsec_free(a1);
	rsec_free(a2);
	rsec_free(a3);
	rsec_free(b);
}

/* Two runs of a sender under one incarnation, one datagram of each
 * replayed in turn: whichever run the receiver heard first keeps its
 * place, and no replay is accepted, in any order and however often. */
static void shared_incarnation_replays(void)
{
	uint8_t pkt[32], d1[32 + RSEC_OVERHEAD], d2[32 + RSEC_OVERHEAD];
	struct rsec *r1 = mk(line("1", KEY1, ""), RSEC_SUITE_GMAC, A_ID, 1000, SALT_A);
	struct rsec *r2 = mk(line("1", KEY1, ""), RSEC_SUITE_GMAC, A_ID, 1000, SALT_C);
	int accepted = 0;

	body_of(pkt, sizeof(pkt), 3);
	seal(r1, pkt, sizeof(pkt), d1);
	seal(r2, pkt, sizeof(pkt), d2);
	for (int order = 0; order < 2; order++) {
		struct rsec *b = mk(line("1", KEY1, ""), RSEC_SUITE_GMAC, B_ID, 7,
				    SALT_B);
		const uint8_t *first = order ? d2 : d1, *second = order ? d1 : d2;

		T_EQ(open1(b, first, sizeof(d1), pkt, sizeof(pkt)), RSEC_OK);
		for (int i = 0; i < 1000; i++) {
			accepted += open1(b, second, sizeof(d1), NULL, 0) == RSEC_OK;
			accepted += open1(b, first, sizeof(d1), NULL, 0) == RSEC_OK;
		}
		T_EQ(rsec_stats(b)->failed[RSEC_STALE], 1000);
		T_EQ(rsec_stats(b)->failed[RSEC_REPLAYED], 1000);
		rsec_free(b);
	}
	T_EQ(accepted, 0);
	rsec_free(r1);
	rsec_free(r2);
}

static void reflected(void)
{
	uint8_t pkt[32], out[32 + RSEC_OVERHEAD];
	struct rsec *a = mk(line("1", KEY1, ""), RSEC_SUITE_GMAC, A_ID, 5, SALT_A);
	int l;

	body_of(pkt, sizeof(pkt), 1);
	l = seal(a, pkt, sizeof(pkt), out);
	T_EQ(open1(a, out, (size_t)l, NULL, 0), RSEC_REPLAYED);
	rsec_free(a);
}

/* Rotation as docs/config.md describes it, with two daemons: add key 2
 * everywhere, make it current everywhere, remove key 1. Nothing fails to
 * open at any step, and the windows survive the reloads. */
static void key_rotation_in(uint8_t suite)
{
	char k1[300], k12[600], k12c[600], k2[300], err[200];
	struct rsec_keys ks;
	uint8_t pkt[40], out[40 + RSEC_OVERHEAD], first[40 + RSEC_OVERHEAD],
		late[40 + RSEC_OVERHEAD];
	struct rsec *a, *b;
	int l;

	snprintf(k1, sizeof(k1), "1 %s\n", KEY1);
	snprintf(k12, sizeof(k12), "1 %s current\n2 %s\n", KEY1, KEY2);
	snprintf(k12c, sizeof(k12c), "1 %s\n2 %s current\n", KEY1, KEY2);
	snprintf(k2, sizeof(k2), "2 %s\n", KEY2);
	a = mk(k1, suite, A_ID, 5, SALT_A);
	b = mk(k1, suite, B_ID, 7, SALT_B);
	body_of(pkt, sizeof(pkt), 4);
	seal(a, pkt, sizeof(pkt), first);
	T_EQ(open1(b, first, sizeof(first), pkt, sizeof(pkt)), RSEC_OK);

	/* Step 1: both learn key 2; both still send with 1. */
	keys_of(k12, &ks);
	T_EQ(rsec_set_keys(a, &ks, err, sizeof(err)), 0);
	T_EQ(rsec_set_keys(b, &ks, err, sizeof(err)), 0);
	l = seal(a, pkt, sizeof(pkt), out);
	T_EQ(out[3], 1);
	T_EQ(open1(b, out, (size_t)l, pkt, sizeof(pkt)), RSEC_OK);
	/* Step 2: a switches first; b (not yet switched) opens key 2. */
	keys_of(k12c, &ks);
	T_EQ(rsec_set_keys(a, &ks, err, sizeof(err)), 0);
	T_EQ(rsec_current_key_id(a), 2);
	l = seal(a, pkt, sizeof(pkt), out);
	T_EQ(out[3], 2);
	T_EQ(open1(b, out, (size_t)l, pkt, sizeof(pkt)), RSEC_OK);
	l = seal(b, pkt, sizeof(pkt), out);
	T_EQ(out[3], 1);
	T_EQ(open1(a, out, (size_t)l, pkt, sizeof(pkt)), RSEC_OK);
	T_EQ(rsec_set_keys(b, &ks, err, sizeof(err)), 0);
	/* Step 3: key 1 goes; a datagram still under key 1 is refused. */
	seal(b, pkt, sizeof(pkt), late);
	T_EQ(late[3], 2);
	keys_of(k2, &ks);
	T_EQ(rsec_set_keys(a, &ks, err, sizeof(err)), 0);
	T_EQ(open1(a, late, sizeof(late), pkt, sizeof(pkt)), RSEC_OK);
	T_EQ(rsec_set_keys(b, &ks, err, sizeof(err)), 0);
	T_EQ(open1(b, first, sizeof(first), NULL, 0), RSEC_KEY_ID);
	/* The window survived: a's datagram of step 1, replayed under a key
	 * b still had, would have been a replay; under key 2 now too. */
	l = seal(a, pkt, sizeof(pkt), out);
	T_EQ(open1(b, out, (size_t)l, pkt, sizeof(pkt)), RSEC_OK);
	T_EQ(open1(b, out, (size_t)l, NULL, 0), RSEC_REPLAYED);
	T_EQ(rsec_stats(b)->new_boots, 1);
	T_EQ(rsec_stats(b)->failed[RSEC_TAG], 0);
	rsec_free(a);
	rsec_free(b);
}

/* In every suite: sealing contexts are handed over to opening when keys
 * change (and back), so each suite's set-up is exercised both ways. */
static void key_rotation(void)
{
	for (int s = 0; s < 3; s++)
		key_rotation_in(suites[s]);
}

/* ---- Known answers and nonces ----------------------------------------- */

/* Datagrams computed outside OpenSSL (Python's cryptography package:
 * HMAC-SHA-256 for the derived key, then AESGCM or ChaCha20Poly1305 with
 * the nonce 0^32 || counter), for KEY1 (id 1), sender A_ID, incarnation
 * 5, SALT_A and the 24-byte body body_of(.., 0x33). */
static const struct {
	uint8_t suite;
	uint64_t counter;
	const char *hex;
} kat[] = {
	{ RSEC_SUITE_GMAC, 0, "525311010a4d0001000000050102030405060708000000000000000033404d5a6774818e9ba8b5c2cfdce9f603101d2a3744515efb4034fb75c88b2f60decc186087e97e" },
	{ RSEC_SUITE_GMAC, 1, "525311010a4d0001000000050102030405060708000000000000000133404d5a6774818e9ba8b5c2cfdce9f603101d2a3744515eb675bcb8e7fd68731bed82e6205e14a6" },
	{ RSEC_SUITE_GMAC, 300, "525311010a4d0001000000050102030405060708000000000000012c33404d5a6774818e9ba8b5c2cfdce9f603101d2a3744515e8e39b71a761c4d357a51fb088c0584a7" },
	{ RSEC_SUITE_AES_GCM, 0, "525312010a4d00010000000501020304050607080000000000000000e0378e367811db3aac05bad979261bfc2e3031498fa2376095331a010423f119d9538066ba3f0d0c" },
	{ RSEC_SUITE_AES_GCM, 1, "525312010a4d0001000000050102030405060708000000000000000187a96e5eabde035e1c52594b62a7579f2cb4568cb0e2de6a7e5dd919865e99700d5d048568a89734" },
	{ RSEC_SUITE_AES_GCM, 300, "525312010a4d0001000000050102030405060708000000000000012c569c850f26cb38388bdb14e295b69bbe332949598b39fd6a55cab19e1f085604d4e0af622c3f93cb" },
	{ RSEC_SUITE_CHACHA, 0, "525313010a4d00010000000501020304050607080000000000000000ee82431d46b5e043d5d58e28c3b4fd10b4912e8f6ddd5fb71b59a329ee68ffa7559aace35bb2e3db" },
	{ RSEC_SUITE_CHACHA, 1, "525313010a4d0001000000050102030405060708000000000000000176fea6c19cd32ec49f6335ad8d5d7e9165fde5f12e0723e5aaa7acf6f06b30130f1ac309f4ca00dd" },
	{ RSEC_SUITE_CHACHA, 300, "525313010a4d0001000000050102030405060708000000000000012cc53d59a62b7c92a727c88757ad9762f8ab974b90ab24431393307d1373a5649177ced04e61993e98" },
};

static size_t unhex(const char *h, uint8_t *out, size_t cap)
{
	size_t n = strlen(h) / 2;
	unsigned v;

	T_ASSERT(n <= cap);
	for (size_t i = 0; i < n; i++) {
		T_ASSERT(sscanf(h + 2 * i, "%2x", &v) == 1);
		out[i] = (uint8_t)v;
	}
	return n;
}

static void known_answers(void)
{
	uint8_t pkt[24], out[24 + RSEC_OVERHEAD], want[24 + RSEC_OVERHEAD];
	int checked = 0;

	body_of(pkt, sizeof(pkt), 0x33);
	for (int s = 0; s < 3; s++) {
		struct rsec *a = mk(line("1", KEY1, ""), suites[s], A_ID, 5, SALT_A);
		struct rsec *b = mk(line("1", KEY1, ""), suites[s], B_ID, 7, SALT_B);

		for (uint64_t c = 0; c <= 300; c++) {
			seal(a, pkt, sizeof(pkt), out);
			T_EQ(be_get64(out + 20), c);
			for (size_t i = 0; i < T_COUNT(kat); i++) {
				if (kat[i].suite != suites[s] || kat[i].counter != c)
					continue;
				T_EQ(unhex(kat[i].hex, want, sizeof(want)),
				     sizeof(want));
				T_ASSERTF(memcmp(out, want, sizeof(want)) == 0,
					  "suite 0x%02x counter %llu differs",
					  suites[s], (unsigned long long)c);
				T_EQ(open1(b, want, sizeof(want), pkt, sizeof(pkt)),
				     RSEC_OK);
				checked++;
			}
		}
		rsec_free(a);
		rsec_free(b);
	}
	T_EQ(checked, (int)T_COUNT(kat));
}

/* The datagram rsec_seal must make of a header and a body, computed the
 * plain way: the derived key, then one AEAD run with the whole nonce
 * given to the init call. Returns the sealed length. */
static size_t ref_seal(const char *keyhex, const uint8_t *hdr,
		       const uint8_t *body, size_t n, uint8_t *out)
{
	static const char label[] = "chorus ring key v1";
	uint8_t key[RSEC_KEY_LEN], msg[sizeof(label) - 1 + 17], dk[32], iv[12];
	unsigned dl = 0;
	int l, gmac = hdr[2] == RSEC_SUITE_GMAC;
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();

	T_EQ(unhex(keyhex, key, sizeof(key)), sizeof(key));
	memcpy(msg, label, sizeof(label) - 1);
	msg[sizeof(label) - 1] = hdr[2];
	memcpy(msg + sizeof(label), hdr + 4, 16); /* sender, inc, salt */
	T_ASSERT(HMAC(EVP_sha256(), key, sizeof(key), msg, sizeof(msg), dk,
		      &dl) != NULL && dl == sizeof(dk));
	memset(iv, 0, 4);
	memcpy(iv + 4, hdr + 20, 8);
	memcpy(out, hdr, RSEC_HDR_LEN);
	memcpy(out + RSEC_HDR_LEN, body, n);
	T_ASSERT(ctx != NULL);
	T_EQ(EVP_EncryptInit_ex2(ctx, hdr[2] == RSEC_SUITE_CHACHA
					    ? EVP_chacha20_poly1305()
					    : EVP_aes_256_gcm(),
				 dk, iv, NULL), 1);
	if (gmac) {
		T_EQ(EVP_EncryptUpdate(ctx, NULL, &l, out, (int)(RSEC_HDR_LEN + n)),
		     1);
	} else {
		T_EQ(EVP_EncryptUpdate(ctx, NULL, &l, out, RSEC_HDR_LEN), 1);
		if (n)
			T_EQ(EVP_EncryptUpdate(ctx, out + RSEC_HDR_LEN, &l, body,
					       (int)n), 1);
	}
	T_EQ(EVP_EncryptFinal_ex(ctx, out + RSEC_HDR_LEN + n, &l), 1);
	T_EQ(EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, RSEC_TAG_LEN,
				 out + RSEC_HDR_LEN + n), 1);
	EVP_CIPHER_CTX_free(ctx);
	return n + RSEC_OVERHEAD;
}

/* Every datagram of a long run, across a key rotation, in every suite:
 * its counter one more than the last one's (never reset by the new key),
 * the bytes exactly those of the reference seal with that counter as the
 * nonce, and each opens, in order and out of order. */
static void nonce_sequence(void)
{
	enum { N = 600, ROTATE = 250 };
	char k12[600], k12c[600], err[200];
	struct rsec_keys ks;
	static uint8_t dg[N][200 + RSEC_OVERHEAD];
	static size_t dl[N];
	uint8_t pkt[200], ref[200 + RSEC_OVERHEAD];

	snprintf(k12, sizeof(k12), "1 %s current\n2 %s\n", KEY1, KEY2);
	snprintf(k12c, sizeof(k12c), "1 %s\n2 %s current\n", KEY1, KEY2);
	for (int s = 0; s < 3; s++) {
		struct rsec *a = mk(k12, suites[s], A_ID, 5, SALT_A);
		struct rsec *b = mk(k12, suites[s], B_ID, 7, SALT_B);

		for (int i = 0; i < N; i++) {
			size_t n = (size_t)(i * 7) % sizeof(pkt);

			if (i == ROTATE) {
				keys_of(k12c, &ks);
				T_EQ(rsec_set_keys(a, &ks, err, sizeof(err)), 0);
			}
			body_of(pkt, n, (uint8_t)i);
			dl[i] = (size_t)seal(a, pkt, n, dg[i]);
			T_EQ(be_get64(dg[i] + 20), (uint64_t)i);
			T_EQ(dg[i][3], i < ROTATE ? 1 : 2);
			T_EQ(ref_seal(i < ROTATE ? KEY1 : KEY2, dg[i], pkt, n, ref),
			     dl[i]);
			T_ASSERTF(memcmp(dg[i], ref, dl[i]) == 0,
				  "suite 0x%02x datagram %d differs from the "
				  "reference", suites[s], i);
		}
		/* Backwards (all within the window), then a replay. */
		for (int i = N - 1; i >= 0; i--) {
			size_t n = (size_t)(i * 7) % sizeof(pkt);

			body_of(pkt, n, (uint8_t)i);
			T_EQ(open1(b, dg[i], dl[i], pkt, n), RSEC_OK);
		}
		T_EQ(open1(b, dg[N / 2], dl[N / 2], NULL, 0), RSEC_REPLAYED);
		T_EQ(rsec_stats(b)->opened, N);
		rsec_free(a);
		rsec_free(b);
	}
}

/* Forged datagrams with a plausible header (our suite, a key id we know,
 * a sender we do not know yet or one we do, any counter) open nothing and
 * take no peer slot; the sender's genuine datagrams open afterwards. */
static void forged_no_state(void)
{
	uint8_t pkt[100], out[100 + RSEC_OVERHEAD], f[100 + RSEC_OVERHEAD];
	struct rsec *a = mk(line("1", KEY1, ""), RSEC_SUITE_AES_GCM, A_ID, 5, SALT_A);
	struct rsec *c = mk(line("1", KEY1, ""), RSEC_SUITE_AES_GCM, C_ID, 5, SALT_A);
	struct rsec *b = mk(line("1", KEY1, ""), RSEC_SUITE_AES_GCM, B_ID, 7, SALT_B);
	uint32_t x = 12345;
	int l;

	body_of(pkt, sizeof(pkt), 2);
	l = seal(a, pkt, sizeof(pkt), out);
	T_EQ(open1(b, out, (size_t)l, pkt, sizeof(pkt)), RSEC_OK);
	for (int i = 0; i < 2000; i++) {
		for (size_t k = 0; k < sizeof(f); k++) {
			x = x * 1103515245u + 12345u;
			f[k] = (uint8_t)(x >> 16);
		}
		memcpy(f, out, 4);
		be_put32(f + 4, i % 2 ? A_ID : C_ID);
		if (i % 4 == 1) /* A's boot: a fresh counter, a bad tag */
			memcpy(f + 8, out + 8, 12);
		T_EQ(open1(b, f, sizeof(f), NULL, 0), RSEC_TAG);
	}
	T_EQ(rsec_stats(b)->new_boots, 1);
	l = seal(c, pkt, sizeof(pkt), out);
	T_EQ(open1(b, out, (size_t)l, pkt, sizeof(pkt)), RSEC_OK);
	l = seal(a, pkt, sizeof(pkt), out);
	T_EQ(open1(b, out, (size_t)l, pkt, sizeof(pkt)), RSEC_OK);
	T_EQ(rsec_stats(b)->new_boots, 2);
	rsec_free(a);
	rsec_free(b);
	rsec_free(c);
}

/* More senders than RSEC_MAX_PEERS: the least recently heard is
 * forgotten; its datagram then opens as a new boot (the documented limit
 * of a bounded table), while a sender still remembered sees a replay. */
static void many_senders(void)
{
	uint8_t pkt[8], out[8 + RSEC_OVERHEAD], first[8 + RSEC_OVERHEAD],
		second[8 + RSEC_OVERHEAD];
	struct rsec *b = mk(line("1", KEY1, ""), RSEC_SUITE_GMAC, B_ID, 7, SALT_B);

	body_of(pkt, sizeof(pkt), 0);
	for (uint32_t i = 0; i <= RSEC_MAX_PEERS; i++) {
		struct rsec *a = mk(line("1", KEY1, ""), RSEC_SUITE_GMAC,
				    0x0b000000u + i, 1, SALT_A);

		seal(a, pkt, sizeof(pkt), out);
		T_EQ(open1(b, out, sizeof(out), pkt, sizeof(pkt)), RSEC_OK);
		if (i == 0)
			memcpy(first, out, sizeof(out));
		if (i == 1)
			memcpy(second, out, sizeof(out));
		rsec_free(a);
	}
	T_EQ(rsec_stats(b)->new_boots, RSEC_MAX_PEERS + 1);
	T_EQ(open1(b, second, sizeof(second), NULL, 0), RSEC_REPLAYED);
	T_EQ(open1(b, first, sizeof(first), pkt, sizeof(pkt)), RSEC_OK);
	T_EQ(rsec_stats(b)->new_boots, RSEC_MAX_PEERS + 2);
	rsec_free(b);
}

/* ---- The daemon's hook (ring_link.c) ------------------------------------ */

static void conf_of(const char *extra, struct conf *c)
{
	char text[1024], err[256];

	snprintf(text, sizeof(text),
		 "Spread_Segment 10.77.0.255 {\n\ta 10.77.0.1\n\tb 10.77.0.2\n}\n%s",
		 extra);
	T_ASSERTF(conf_parse(text, strlen(text), c, err, sizeof(err)) == 0, "%s",
		  err);
}

/* No RingKeyFile: the datagram passes untouched both ways (the same
 * pointer, the same length); a sealed one is dropped and counted. */
static void link_in_clear(void)
{
	static struct conf c;
	struct rlink l;
	uint8_t pkt[100], sealed[100 + RSEC_OVERHEAD];
	const uint8_t *p = pkt;
	size_t len = sizeof(pkt);
	uint64_t f, r, st;
	char err[256];
	struct rsec *a = mk(line("1", KEY1, ""), RSEC_SUITE_GMAC, A_ID, 5, SALT_A);

	conf_of("", &c);
	T_EQ(rlink_conf_suite(&c), 0);
	T_ASSERTF(rlink_setup(&l, &c, "a", A_ID, 1, 1500, err, sizeof(err)) == 0,
		  "%s", err);
	T_ASSERT(l.sec == NULL);
	body_of(pkt, sizeof(pkt), 1);
	memcpy(pkt, "RG", 2);
	T_EQ(rlink_seal(&l, &p, &len), 0);
	T_ASSERT(p == pkt && len == sizeof(pkt));
	T_EQ(rlink_open(&l, 0, B_ID, &p, &len), 1);
	T_ASSERT(p == pkt && len == sizeof(pkt));
	seal(a, pkt, sizeof(pkt), sealed);
	p = sealed;
	len = sizeof(sealed);
	T_EQ(rlink_open(&l, 0, B_ID, &p, &len), 0);
	rlink_counters(&l, &f, &r, &st);
	T_EQ(f, 1);
	T_EQ(r + st, 0);
	rlink_close(&l);
	rsec_free(a);
}

/* With RingKeyFile ("%h" for the name): two daemons' hooks seal and open;
 * a reload from a broken file keeps the keys in use. */
static void link_sealed(void)
{
	static struct conf c;
	char dir[] = "/tmp/chorus-link-XXXXXX", path[128], extra[256], err[256];
	struct rlink la, lb;
	uint8_t pkt[300];
	const uint8_t *p;
	size_t len;
	uint64_t f, r, st;
	FILE *fp;

	T_ASSERT(mkdtemp(dir) != NULL);
	for (int i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/%c.keys", dir, "ab"[i]);
		fp = fopen(path, "w");
		T_ASSERT(fp != NULL);
		fputs(line("4", KEY2, ""), fp);
		fclose(fp);
		T_ASSERT(chmod(path, 0600) == 0);
	}
	snprintf(extra, sizeof(extra), "RingKeyFile = %s/%%h.keys\n"
		 "RingEncryption = chacha20-poly1305\n", dir);
	conf_of(extra, &c);
	T_EQ(rlink_conf_suite(&c), RSEC_SUITE_CHACHA);
	T_ASSERTF(rlink_setup(&la, &c, "a", A_ID, 3, 1500, err, sizeof(err)) == 0,
		  "%s", err);
	T_ASSERTF(rlink_setup(&lb, &c, "b", B_ID, 3, 1500, err, sizeof(err)) == 0,
		  "%s", err);
	body_of(pkt, sizeof(pkt), 5);
	for (int round = 0; round < 2; round++) {
		p = pkt;
		len = sizeof(pkt);
		T_EQ(rlink_seal(&la, &p, &len), 0);
		T_EQ(len, sizeof(pkt) + RSEC_OVERHEAD);
		T_EQ(p[3], 4);
		T_EQ(rlink_open(&lb, 0, A_ID, &p, &len), 1);
		T_EQ(len, sizeof(pkt));
		T_MEMEQ(p, pkt, sizeof(pkt));
		/* Broken file: reload keeps key 4 (the second round opens). */
		snprintf(path, sizeof(path), "%s/b.keys", dir);
		T_ASSERT(chmod(path, 0644) == 0);
		rlink_reload(&lb);
	}
	/* A plaintext ring packet is refused by a sealed daemon. */
	memcpy(pkt, "RG", 2);
	p = pkt;
	len = sizeof(pkt);
	T_EQ(rlink_open(&lb, 0, A_ID, &p, &len), 0);
	rlink_counters(&lb, &f, &r, &st);
	T_EQ(f, 1);
	/* A ring packet must name the sender and boot of its seal (A_ID,
	 * 3): one that names another id or boot is dropped as forged. */
	{
		struct ring_hdr h;
		const struct { uint32_t id, inc; int ok; } t[] = {
			{ A_ID, 3, 1 }, { B_ID, 3, 0 }, { A_ID, 4, 0 }, { A_ID, 3, 1 },
		};

		memset(&h, 0, sizeof(h));
		h.type = RING_PKT_PROBE;
		for (size_t i = 0; i < T_COUNT(t); i++) {
			h.sender = t[i].id;
			h.sender_inc = t[i].inc;
			ring_pkt_put_hdr(pkt, &h);
			p = pkt;
			len = sizeof(pkt);
			T_EQ(rlink_seal(&la, &p, &len), 0);
			T_EQ(rlink_open(&lb, 0, A_ID, &p, &len), t[i].ok);
		}
		rlink_counters(&lb, &f, &r, &st);
		T_EQ(f, 3);
		T_EQ(r + st, 0);
		T_EQ(lb.mismatched, 2);
	}
	rlink_close(&la);
	rlink_close(&lb);
	/* A missing key file stops the daemon at start, with the path. */
	snprintf(path, sizeof(path), "%s/a.keys", dir);
	unlink(path);
	T_EQ(rlink_setup(&la, &c, "a", A_ID, 3, 1500, err, sizeof(err)), -1);
	T_ASSERTF(strstr(err, "RingKeyFile") && strstr(err, "a.keys"), "%s", err);
	snprintf(path, sizeof(path), "%s/b.keys", dir);
	unlink(path);
	rmdir(dir);
}

int main(int argc, char **argv)
{
	static const struct t_case cases[] = {
		T_CASE(keys_table),
		T_CASE(keys_current),
		T_CASE(keys_file_mode),
		T_CASE(round_trip),
		T_CASE(tamper_every_byte),
		T_CASE(wrong_key),
		T_CASE(replay_window),
		T_CASE(stale_incarnation),
		T_CASE(shared_incarnation_replays),
		T_CASE(reflected),
		T_CASE(key_rotation),
		T_CASE(known_answers),
		T_CASE(nonce_sequence),
		T_CASE(forged_no_state),
		T_CASE(many_senders),
		T_CASE(link_in_clear),
		T_CASE(link_sealed),
	};

	return t_main(argc, argv, cases, T_COUNT(cases));
}
