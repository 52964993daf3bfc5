/*
 * fuzz_ring_sec.c - libFuzzer target for the open path of sealed ring
 * datagrams (src/daemon/ring_sec.c) and for the key file parser.
 *
 * Every input is opened as a datagram by a daemon of each suite (it must
 * never open: nobody without the key can make a tag), and parsed as a key
 * file. Then the input is sealed as a ring packet by a sender that shares
 * the key, with the input's first byte choosing how to disturb it on the
 * way (a flipped byte at a position the input chooses, a cut, or none):
 * the undisturbed datagram must open to the same bytes, exactly once,
 * and a disturbed one must not open. The openers live across inputs, so
 * their windows and sender tables see long histories; they are rebuilt
 * every 4096 inputs.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/ring_sec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAXPKT 4096

static const uint8_t suites[3] = { RSEC_SUITE_GMAC, RSEC_SUITE_AES_GCM,
				   RSEC_SUITE_CHACHA };

static struct rsec *mk(uint8_t suite, uint32_t id, uint8_t salt_byte)
{
	struct rsec_keys k;
	struct rsec *s;
	uint8_t salt[RSEC_SALT_LEN];
	char err[200];

	memset(&k, 0, sizeof(k));
	k.n = 2;
	k.current = 1;
	k.key[0].id = 1;
	k.key[1].id = 2;
	for (int i = 0; i < RSEC_KEY_LEN; i++) {
		k.key[0].k[i] = (uint8_t)(i + 1);
		k.key[1].k[i] = (uint8_t)(0xa0 ^ i);
	}
	memset(salt, salt_byte, sizeof(salt));
	if (rsec_new(&k, suite, id, 7, salt, &s, err, sizeof(err)) != 0)
		abort();
	return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct rsec *open_[3], *seal_[3];
	static unsigned runs;
	static uint8_t scratch[MAXPKT + RSEC_OVERHEAD], dg[MAXPKT + RSEC_OVERHEAD];
	struct rsec_keys keys;
	char err[200];

	if (!open_[0] || ++runs % 4096 == 0)
		for (int i = 0; i < 3; i++) {
			rsec_free(open_[i]);
			rsec_free(seal_[i]);
			open_[i] = mk(suites[i], 0x0a000002, 1);
			seal_[i] = mk(suites[i], 0x0a000001, (uint8_t)(runs >> 12));
		}
	rsec_keys_parse((const char *)data, size, &keys, err, sizeof(err));
	for (int i = 0; i < 3; i++) {
		const uint8_t *b;
		size_t bl;
		uint32_t from;
		int n;

		if (rsec_open(open_[i], data, size, scratch, sizeof(scratch), &b,
			      &bl, &from) == RSEC_OK)
			abort();
		if (size == 0 || size > MAXPKT)
			continue;
		n = rsec_seal(seal_[i], data, size, dg, sizeof(dg));
		if (n != (int)(size + RSEC_OVERHEAD))
			abort();
		switch (data[0] % 3) {
		case 0:
			if (rsec_open(open_[i], dg, (size_t)n, scratch,
				      sizeof(scratch), &b, &bl, &from) != RSEC_OK ||
			    bl != size || memcmp(b, data, size) != 0 ||
			    from != 0x0a000001)
				abort();
			if (rsec_open(open_[i], dg, (size_t)n, scratch,
				      sizeof(scratch), &b, &bl, &from) !=
			    RSEC_REPLAYED)
				abort();
			break;
		case 1:
			dg[(size_t)data[size - 1] * 7 % (size_t)n] ^=
				(uint8_t)(data[size / 2] | 1);
			if (rsec_open(open_[i], dg, (size_t)n, scratch,
				      sizeof(scratch), &b, &bl, &from) == RSEC_OK)
				abort();
			break;
		default:
			if (rsec_open(open_[i], dg, (size_t)n - 1 - data[size - 1] %
				      (size_t)n, scratch, sizeof(scratch), &b, &bl,
				      &from) == RSEC_OK)
				abort();
			break;
		}
	}
	return 0;
}
