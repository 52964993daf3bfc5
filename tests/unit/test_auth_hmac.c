/*
 * test_auth_hmac.c - unit tests of the HMAC authentication method
 * (src/proto/auth_hmac.c), of the library's answer to a challenge
 * (lib_hmac_respond in src/lib/sp_auth.c) and of the daemon's count of
 * sessions per address (iplimit in src/daemon/auth.c).
 *
 * The codec round-trips and refuses every prefix and corruption it
 * should; the MAC is checked against a value computed independently
 * with OpenSSL's one-shot HMAC over the documented transcript; key files
 * are a table of texts with the expected line and message; iplimit is
 * compared with a plain array over a seeded random walk.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "daemon/auth.h"
#include "lib/lib.h"
#include "proto/auth_hmac.h"
#include "t.h"

static void challenge(struct auth_hmac_challenge *c, const char *daemon,
		      const char *name)
{
	memset(c, 0, sizeof(*c));
	for (int i = 0; i < AUTH_HMAC_NONCE_LEN; i++)
		c->nonce[i] = (uint8_t)(i * 7 + 1);
	strcpy(c->daemon, daemon);
	strcpy(c->private_name, name);
}

static void codec_round_trip(void)
{
	struct auth_hmac_challenge c, c2;
	struct auth_hmac_response r, r2;
	uint8_t buf[AUTH_HMAC_RESPONSE_MAX + AUTH_HMAC_CHALLENGE_MAX];
	size_t n;

	challenge(&c, "abcdefghijklmnopqrs", "0123456789");
	n = auth_hmac_challenge_encode(buf, &c);
	T_EQ(n, (size_t)AUTH_HMAC_CHALLENGE_MAX);
	T_EQ(auth_hmac_challenge_parse(buf, n, &c2), (int)n);
	T_MEMEQ(&c, &c2, sizeof(c));
	/* Every prefix asks for more; trailing bytes are left alone. */
	for (size_t i = 0; i < n; i++)
		T_EQ(auth_hmac_challenge_parse(buf, i, &c2), AUTH_HMAC_MORE);
	T_EQ(auth_hmac_challenge_parse(buf, n + 1, &c2), (int)n);

	memset(&r, 0, sizeof(r));
	memset(r.principal, 'p', AUTH_PRINCIPAL_MAX);
	memset(r.mac, 0xa5, sizeof(r.mac));
	n = auth_hmac_response_encode(buf, &r);
	T_EQ(n, (size_t)AUTH_HMAC_RESPONSE_MAX);
	T_EQ(auth_hmac_response_parse(buf, n, &r2), (int)n);
	T_MEMEQ(&r, &r2, sizeof(r));
	for (size_t i = 0; i < n; i++)
		T_EQ(auth_hmac_response_parse(buf, i, &r2), AUTH_HMAC_MORE);
}

static void codec_refusals(void)
{
	struct auth_hmac_challenge c;
	struct auth_hmac_response r;
	uint8_t buf[256];
	size_t n;

	/* Encoders refuse what the decoders would. */
	challenge(&c, "", "x");
	T_EQ(auth_hmac_challenge_encode(buf, &c), 0u);
	challenge(&c, "d", "");
	T_EQ(auth_hmac_challenge_encode(buf, &c), 0u);
	memset(&r, 0, sizeof(r));
	strcpy(r.principal, "has space");
	T_EQ(auth_hmac_response_encode(buf, &r), 0u);
	r.principal[0] = 0;
	T_EQ(auth_hmac_response_encode(buf, &r), 0u);

	/* Decoders: bad version, zero or too long lengths, bad bytes. */
	challenge(&c, "d1", "me");
	n = auth_hmac_challenge_encode(buf, &c);
	buf[0] = 2;
	T_EQ(auth_hmac_challenge_parse(buf, n, &c), AUTH_HMAC_EMALFORMED);
	buf[0] = 1;
	buf[33] = 0;
	T_EQ(auth_hmac_challenge_parse(buf, n, &c), AUTH_HMAC_EMALFORMED);
	buf[33] = 20;
	T_EQ(auth_hmac_challenge_parse(buf, n, &c), AUTH_HMAC_EMALFORMED);
	buf[33] = 2;
	buf[34] = ' ';
	T_EQ(auth_hmac_challenge_parse(buf, n, &c), AUTH_HMAC_EMALFORMED);
	buf[34] = 'd';
	buf[36] = 11;
	T_EQ(auth_hmac_challenge_parse(buf, n, &c), AUTH_HMAC_EMALFORMED);

	memcpy(buf, "\x01\x02" "ab", 4);
	memset(buf + 4, 0, 32);
	T_EQ(auth_hmac_response_parse(buf, 36, &r), 36);
	buf[0] = 0;
	T_EQ(auth_hmac_response_parse(buf, 36, &r), AUTH_HMAC_EMALFORMED);
	buf[0] = 1;
	buf[1] = 0;
	T_EQ(auth_hmac_response_parse(buf, 36, &r), AUTH_HMAC_EMALFORMED);
	buf[1] = 65;
	T_EQ(auth_hmac_response_parse(buf, 36, &r), AUTH_HMAC_EMALFORMED);
	buf[1] = 2;
	buf[3] = '#';
	T_EQ(auth_hmac_response_parse(buf, 36, &r), AUTH_HMAC_EMALFORMED);
	buf[3] = 0x80;
	T_EQ(auth_hmac_response_parse(buf, 36, &r), AUTH_HMAC_EMALFORMED);
}

/* The MAC is HMAC-SHA-256 over label, nonce and the length-prefixed
 * names (docs/client-protocol.md 3.6), computed here by hand. */
static void mac_matches_transcript(void)
{
	static const uint8_t secret[20] = "0123456789abcdefghij";
	struct auth_hmac_challenge c;
	uint8_t t[256], want[32], got[32];
	unsigned int wl = 0;
	size_t n = 0;

	challenge(&c, "d1", "me");
	memcpy(t, "chorus-auth-hmac-1", 19); /* with its NUL */
	n = 19;
	memcpy(t + n, c.nonce, 32);
	n += 32;
	memcpy(t + n, "\x02" "d1" "\x02" "me" "\x08" "mirror-1", 15);
	n += 15;
	T_ASSERT(HMAC(EVP_sha256(), secret, sizeof(secret), t, n, want, &wl) != NULL);
	T_EQ(auth_hmac_compute(secret, sizeof(secret), &c, "mirror-1", got), 0);
	T_MEMEQ(got, want, 32);
	/* Each part of the transcript changes the MAC. */
	c.private_name[0] = 'M';
	T_EQ(auth_hmac_compute(secret, sizeof(secret), &c, "mirror-1", got), 0);
	T_ASSERT(memcmp(got, want, 32) != 0);
	challenge(&c, "d2", "me");
	T_EQ(auth_hmac_compute(secret, sizeof(secret), &c, "mirror-1", got), 0);
	T_ASSERT(memcmp(got, want, 32) != 0);
	challenge(&c, "d1", "me");
	T_EQ(auth_hmac_compute(secret, sizeof(secret), &c, "mirror-2", got), 0);
	T_ASSERT(memcmp(got, want, 32) != 0);
	c.nonce[31] ^= 1;
	T_EQ(auth_hmac_compute(secret, sizeof(secret), &c, "mirror-1", got), 0);
	T_ASSERT(memcmp(got, want, 32) != 0);
}

static const char keys_text[] =
	"# comment\n"
	"   \n"
	"mirror-1 00112233445566778899aabbccddeeff\n"
	"\tlogger.a@example:2  FFEEDDCCBBAA99887766554433221100ffeeddccbbaa99887766554433221100\r\n";

/* Over TLS the transcript ends with the channel binding (its length,
 * then 32 bytes); without one it ends with the principal, as above. */
static void mac_with_channel_binding(void)
{
	static const uint8_t secret[20] = "0123456789abcdefghij";
	struct auth_hmac_challenge c;
	uint8_t t[256], want[32], got[32], plain[32];
	unsigned int wl = 0;
	size_t n = 0;

	challenge(&c, "d1", "me");
	T_EQ(auth_hmac_compute(secret, sizeof(secret), &c, "mirror-1", plain), 0);
	for (int i = 0; i < AUTH_HMAC_BINDING_LEN; i++)
		c.binding[i] = (uint8_t)(0xa0 + i);
	/* The binding counts only when bound. */
	T_EQ(auth_hmac_compute(secret, sizeof(secret), &c, "mirror-1", got), 0);
	T_MEMEQ(got, plain, 32);
	c.bound = 1;
	memcpy(t, "chorus-auth-hmac-1", 19);
	n = 19;
	memcpy(t + n, c.nonce, 32);
	n += 32;
	memcpy(t + n, "\x02" "d1" "\x02" "me" "\x08" "mirror-1" "\x20", 16);
	n += 16;
	memcpy(t + n, c.binding, 32);
	n += 32;
	T_ASSERT(HMAC(EVP_sha256(), secret, sizeof(secret), t, n, want, &wl) != NULL);
	T_EQ(auth_hmac_compute(secret, sizeof(secret), &c, "mirror-1", got), 0);
	T_MEMEQ(got, want, 32);
	T_ASSERT(memcmp(got, plain, 32) != 0);
	/* Another channel, another MAC. */
	c.binding[31] ^= 1;
	T_EQ(auth_hmac_compute(secret, sizeof(secret), &c, "mirror-1", got), 0);
	T_ASSERT(memcmp(got, want, 32) != 0);
}

/* The library's answer carries its channel's binding: it verifies
 * against the same binding only, neither against another channel's nor
 * without one; and a client pinned to a daemon refuses another's. */
static void respond_bound_and_pinned(void)
{
	struct auth_keys keys;
	struct auth_hmac_challenge c;
	struct auth_hmac_response r;
	uint8_t out[AUTH_HMAC_RESPONSE_MAX], cb[AUTH_HMAC_CHALLENGE_MAX];
	uint8_t mine[AUTH_HMAC_BINDING_LEN], other[AUTH_HMAC_BINDING_LEN];
	char err[128];
	size_t n = 0, cn;

	T_EQ(auth_keys_parse(keys_text, sizeof(keys_text) - 1, &keys, err, sizeof(err)), 0);
	memset(mine, 0x5a, sizeof(mine));
	memcpy(other, mine, sizeof(other));
	other[0] ^= 0x80;
	challenge(&c, "d1", "me");
	cn = auth_hmac_challenge_encode(cb, &c);
	T_EQ(lib_hmac_respond(cb, cn, &keys.e[0], "me", NULL, mine, out, &n), 0);
	T_EQ(auth_hmac_response_parse(out, n, &r), (int)n);
	T_EQ(auth_hmac_verify(&keys, &c, &r), AUTH_HMAC_BAD_MAC);
	c.bound = 1;
	memcpy(c.binding, other, sizeof(other));
	T_EQ(auth_hmac_verify(&keys, &c, &r), AUTH_HMAC_BAD_MAC);
	memcpy(c.binding, mine, sizeof(mine));
	T_EQ(auth_hmac_verify(&keys, &c, &r), 0);
	/* An unbound answer does not pass where the daemon binds. */
	T_EQ(lib_hmac_respond(cb, cn, &keys.e[0], "me", NULL, NULL, out, &n), 0);
	T_EQ(auth_hmac_response_parse(out, n, &r), (int)n);
	T_EQ(auth_hmac_verify(&keys, &c, &r), AUTH_HMAC_BAD_MAC);
	/* Pinned to daemon d1: d1's challenge is answered, d2's is not. */
	T_EQ(lib_hmac_respond(cb, cn, &keys.e[0], "me", "d1", NULL, out, &n), 0);
	T_EQ(lib_hmac_respond(cb, cn, &keys.e[0], "me", "d2", NULL, out, &n), -1);
	T_EQ(lib_hmac_respond(cb, cn, &keys.e[0], "me", "", NULL, out, &n), 0);
	auth_keys_clear(&keys);
}

static void verify_answers(void)
{
	struct auth_keys keys;
	struct auth_hmac_challenge c;
	struct auth_hmac_response r;
	uint8_t out[AUTH_HMAC_RESPONSE_MAX], cb[AUTH_HMAC_CHALLENGE_MAX];
	struct auth_key k;
	char err[128];
	size_t n, cn;

	T_EQ(auth_keys_parse(keys_text, sizeof(keys_text) - 1, &keys, err, sizeof(err)), 0);
	T_EQ(keys.n, 2);
	T_EQ(keys.e[1].secret_len, 32u);
	T_EQ(keys.e[1].secret[0], 0xff);
	T_STREQ(keys.e[1].principal, "logger.a@example:2");
	challenge(&c, "d1", "me");

	/* The library's answer, through the codec, verifies. */
	k = keys.e[1];
	n = 0;
	cn = auth_hmac_challenge_encode(cb, &c);
	T_EQ(lib_hmac_respond(cb, cn, &k, "me", NULL, NULL, out, &n), 0);
	T_ASSERT(n > 0);
	T_EQ(auth_hmac_response_parse(out, n, &r), (int)n);
	T_EQ(auth_hmac_verify(&keys, &c, &r), 0);
	/* One bit off: wrong secret. */
	r.mac[5] ^= 0x10;
	T_EQ(auth_hmac_verify(&keys, &c, &r), AUTH_HMAC_BAD_MAC);
	r.mac[5] ^= 0x10;
	/* Another principal's name with this MAC: wrong secret. */
	strcpy(r.principal, "mirror-1");
	T_EQ(auth_hmac_verify(&keys, &c, &r), AUTH_HMAC_BAD_MAC);
	strcpy(r.principal, "nobody");
	T_EQ(auth_hmac_verify(&keys, &c, &r), AUTH_HMAC_UNKNOWN);
	/* The library refuses a challenge bound to a name it did not ask
	 * for, and a malformed one; it accepts any name if it asked none. */
	T_EQ(lib_hmac_respond(cb, cn, &k, "you", NULL, NULL, out, &n), -1);
	T_EQ(lib_hmac_respond(cb, cn, &k, "", NULL, NULL, out, &n), 0);
	T_EQ(lib_hmac_respond(cb, cn, &k, NULL, NULL, NULL, out, &n), 0);
	T_EQ(lib_hmac_respond(cb, cn - 1, &k, NULL, NULL, NULL, out, &n), -1);
	cb[0] = 9;
	T_EQ(lib_hmac_respond(cb, cn, &k, NULL, NULL, NULL, out, &n), -1);
	auth_keys_clear(&keys);
	T_EQ(keys.n, 0);
	T_ASSERT(keys.e == NULL);
}

static void key_file_errors(void)
{
	static const struct {
		const char *text, *msg;
	} cases[] = {
		{ "a 00112233445566778899aabbccddee\n", "line 1: the secret must be 16 to 64 bytes written as 32 to 128 hex digits (found 30 digits)" },
		{ "a 00112233445566778899aabbccddeef\n", "found 31 digits" },
		{ "a 0011223344556677889900112233445566778899001122334455667788990011223344556677889900112233445566778899001122334455667788990011223344\n", "found 130 digits" },
		{ "\n\na 0011223344556677889900112233445g\n", "line 3: the secret is not hexadecimal" },
		{ "a\n", "line 1: no secret after the principal" },
		{ "a 00112233445566778899aabbccddeeff x\n", "expected \"principal secret\" and nothing after it" },
		{ "a#b 00112233445566778899aabbccddeeff\n", "bad principal name" },
		{ "a 00112233445566778899aabbccddeeff\na 00112233445566778899aabbccddeeff\n", "line 2: principal 'a' is listed twice" },
		{ "a 00112233445566778899aabbccddeeff\x01\n", "line 1: control character 0x01" },
	};

	for (size_t i = 0; i < T_COUNT(cases); i++) {
		struct auth_keys keys;
		char err[200];

		T_EQ(auth_keys_parse(cases[i].text, strlen(cases[i].text), &keys, err,
				     sizeof(err)), -1);
		T_ASSERTF(strstr(err, cases[i].msg) != NULL, "case %zu: got \"%s\"", i, err);
		T_EQ(keys.n, 0);
	}
}

/* Only the owner may have any access to a key file, and the owner is
 * root, the reader or the one user named. */
static void key_file_modes(void)
{
	char dir[] = "/tmp/chorus-keyt-XXXXXX", path[64], err[256], *text;
	size_t len;
	FILE *fp;

	T_ASSERT(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/k", dir);
	fp = fopen(path, "w");
	T_ASSERT(fp != NULL);
	fputs(keys_text, fp);
	fclose(fp);
	for (mode_t m = 0; m <= 0777; m += 0001) {
		int r;

		if ((m & 0700) != 0600 && m != 0400)
			continue; /* owner must read it: the others below */
		T_EQ(chmod(path, m), 0);
		r = auth_key_file_read(path, AUTH_NO_UID, &text, &len, err, sizeof(err));
		if (m & 077) {
			T_EQ(r, -1);
			T_ASSERTF(strstr(err, "group or others have access") != NULL, "%s", err);
		} else {
			T_EQ(r, 0);
			T_EQ(len, sizeof(keys_text) - 1);
			T_MEMEQ(text, keys_text, len);
			auth_key_text_free(text, len);
		}
	}
	/* Owned by another user: refused, unless it is the one named. */
	T_EQ(auth_key_owner_check("k", 0, 1000, AUTH_NO_UID, err, sizeof(err)), 0);
	T_EQ(auth_key_owner_check("k", 1000, 1000, AUTH_NO_UID, err, sizeof(err)), 0);
	T_EQ(auth_key_owner_check("k", 4242, 0, 4242, err, sizeof(err)), 0);
	T_EQ(auth_key_owner_check("k", 4242, 0, AUTH_NO_UID, err, sizeof(err)), -1);
	T_ASSERTF(strstr(err, "k belongs to uid 4242: a key file must belong to root "
			 "or to the user that reads it (uid 0)"), "%s", err);
	T_EQ(auth_key_owner_check("k", 4242, 1000, 77, err, sizeof(err)), -1);
	if (geteuid() == 0) {
		T_EQ(chmod(path, 0600), 0);
		T_EQ(chown(path, 4242, 4242), 0);
		T_EQ(auth_key_file_read(path, AUTH_NO_UID, &text, &len, err, sizeof(err)),
		     -1);
		T_ASSERTF(strstr(err, "belongs to uid 4242"), "%s", err);
		T_EQ(auth_key_file_read(path, 4242, &text, &len, err, sizeof(err)), 0);
		auth_key_text_free(text, len);
	}
	T_EQ(auth_key_file_read(dir, AUTH_NO_UID, &text, &len, err, sizeof(err)), -1);
	T_ASSERTF(strstr(err, "not a regular file") != NULL, "%s", err);
	unlink(path);
	T_EQ(auth_key_file_read(path, AUTH_NO_UID, &text, &len, err, sizeof(err)), -1);
	T_ASSERT(strstr(err, "No such file") != NULL);
	rmdir(dir);
}

/* iplimit against a plain array, over a seeded walk of adds and deletes
 * on few addresses that collide often in a small table. */
static void iplimit_walk(void)
{
	static uint32_t count[64];
	struct iplimit t;
	uint64_t x = 0x9e3779b97f4a7c15u;

	t.cap = 128;
	t.slot = calloc(t.cap, sizeof(*t.slot));
	T_ASSERT(t.slot != NULL);
	for (int step = 0; step < 200000; step++) {
		uint32_t a, i;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		i = (uint32_t)(x % 64);
		a = i * 128 + 1; /* every address hashes near the others */
		if ((x >> 32) % 3 && count[i] < 1000) {
			T_EQ(iplimit_add(&t, a), ++count[i]);
		} else if (count[i]) {
			iplimit_del(&t, a);
			count[i]--;
		}
		if (step % 97 == 0)
			for (uint32_t j = 0; j < 64; j++)
				T_EQ(iplimit_count(&t, j * 128 + 1), count[j]);
	}
	/* Address 0 (Unix socket) is never counted. */
	T_EQ(iplimit_add(&t, 0), 0u);
	T_EQ(iplimit_count(&t, 0), 0u);
	free(t.slot);
}

int main(int argc, char **argv)
{
	static const struct t_case cases[] = {
		T_CASE(codec_round_trip),
		T_CASE(codec_refusals),
		T_CASE(mac_matches_transcript),
		T_CASE(mac_with_channel_binding),
		T_CASE(respond_bound_and_pinned),
		T_CASE(verify_answers),
		T_CASE(key_file_errors),
		T_CASE(key_file_modes),
		T_CASE(iplimit_walk),
	};
	return t_main(argc, argv, cases, T_COUNT(cases));
}
