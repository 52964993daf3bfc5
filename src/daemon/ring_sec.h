/*
 * ring_sec.h - sealing of ring datagrams: every datagram between daemons
 * authenticated with a key from a shared key file, and, when configured,
 * encrypted (docs/ring-protocol.md, "Sealed datagrams"; docs/config.md,
 * RingKeyFile).
 *
 * A sealed datagram is a 28-byte header, the body and a 16-byte tag:
 *
 *   0  magic "RS" (0x5253)      2  suite (RSEC_SUITE_*)   3  key id
 *   4  sender id                8  sender incarnation    12  boot salt (8)
 *  20  counter (8)             28  body: the ring packet, in clear
 *                                  (authenticated only) or encrypted
 *  28+n tag (16)
 *
 * Keys. The key file holds up to RSEC_MAX_KEYS keys of 32 bytes, each
 * with an id (1..255); one is current. Datagrams are sealed with the
 * current key; any key of the file opens them, so keys rotate without
 * downtime (docs/config.md has the procedure). The AEAD key of a datagram
 * is derived per sender boot: HMAC-SHA-256(file key, label, suite,
 * sender, incarnation, boot salt). The salt is 8 random bytes the caller
 * draws at start, the incarnation the ring's (it grows across restarts).
 * Under a derived key the nonce is the counter, which starts at 0 and
 * never goes back within a boot: a nonce never repeats under one key,
 * across restarts included (a repeat would need the same incarnation and
 * the same 64 random bits).
 *
 * Suites. Encrypted: AES-256-GCM or ChaCha20-Poly1305 over the body, with
 * the header as associated data. Authenticated only: AES-256-GCM with an
 * empty plaintext and header + body as associated data (GMAC). GMAC rather
 * than a truncated HMAC-SHA-256: with AES-NI and carry-less multiply it
 * costs a fraction of SHA-256 per byte, the tag is the same 16 bytes, and
 * both modes share one code path and one nonce discipline.
 *
 * Replay. Per sender the opener keeps the sender's boot (incarnation and
 * salt) and a window of RSEC_WINDOW counters (a bitmap behind the highest
 * one accepted, as in RFC 6479). A datagram of an older incarnation, or
 * older than the window, is stale; one whose counter was seen is a
 * replay; a datagram that claims to come from the opener itself is a
 * replay too (a reflected copy: our own copies never reach the opener).
 * A newer boot of a sender replaces the old one once a datagram of it
 * authenticates. Nothing a datagram says changes any state unless its tag
 * is good.
 *
 * Pure: no sockets, no clock, no randomness of its own (the salt is
 * passed in); rsec_keys_load() is the only function that touches a file.
 * OpenSSL's EVP interface does the cryptography.
 *
 * Ownership: rsec_new() allocates a struct rsec (with its cipher
 * contexts), rsec_free() releases it. Key rings are plain values.
 */
#ifndef CHORUS_RING_SEC_H
#define CHORUS_RING_SEC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define RSEC_MAGIC 0x5253u /* "RS" */
#define RSEC_HDR_LEN 28
#define RSEC_TAG_LEN 16
#define RSEC_OVERHEAD (RSEC_HDR_LEN + RSEC_TAG_LEN)
#define RSEC_KEY_LEN 32
#define RSEC_SALT_LEN 8
#define RSEC_MAX_KEYS 16
#define RSEC_MAX_PEERS 128  /* senders remembered (the ring's maximum) */
#define RSEC_WINDOW 8192    /* counters per replay window, a power of 2 */
#define RSEC_KEYFILE_MAX 8192

/* Suites: version 1 in the high nibble. */
#define RSEC_SUITE_GMAC 0x11     /* authenticated only, AES-256-GCM */
#define RSEC_SUITE_AES_GCM 0x12  /* encrypted, AES-256-GCM */
#define RSEC_SUITE_CHACHA 0x13   /* encrypted, ChaCha20-Poly1305 */

/* What a datagram that did not open was (rsec_open's result). */
enum rsec_result {
	RSEC_OK = 0,
	RSEC_MALFORMED,  /* too short, not sealed, or another version */
	RSEC_SUITE,      /* sealed with another suite than ours */
	RSEC_KEY_ID,     /* a key id not in our file */
	RSEC_TAG,        /* the tag does not match: forged or wrong key */
	RSEC_REPLAYED,   /* a counter already seen, or our own datagram */
	RSEC_STALE,      /* an older boot, or behind the window */
	RSEC__COUNT
};
extern const char *const rsec_result_names[RSEC__COUNT];

struct rsec_key {
	uint8_t id;
	uint8_t k[RSEC_KEY_LEN];
};

struct rsec_keys {
	int n;
	int current; /* index into key[] of the key that seals */
	struct rsec_key key[RSEC_MAX_KEYS];
};

/* Counters (status, logs, tests). forged = malformed + suite + key id +
 * tag. */
struct rsec_stats {
	uint64_t sealed, opened;
	uint64_t failed[RSEC__COUNT];
	uint64_t new_boots; /* senders seen (again) with a new boot */
};

struct rsec;

/* Parses key file text: one key a line, "ID HEX [current]" (ID 1..255,
 * HEX 64 hex digits), '#' comments and blank lines. With one key it is
 * current; with several exactly one must say so. Returns 0, or -1 with
 * "line N: ..." in err. */
int rsec_keys_parse(const char *text, size_t len, struct rsec_keys *keys,
		    char *err, size_t errlen);
/* Reads and parses a key file. Refuses a file that is not a regular file,
 * that group or others may read or write, that belongs to another user
 * than root, the process's and `also` (auth_key_owner_check), or that is
 * malformed. Returns 0, or -1 with a message in err. */
int rsec_keys_load(const char *path, uid_t also, struct rsec_keys *keys,
		   char *err, size_t errlen);
/* Writes "1,2 (current 2)" style text for logs. */
void rsec_keys_describe(const struct rsec_keys *keys, char *buf, size_t cap);

/* A sealer/opener for daemon my_id: suite RSEC_SUITE_*, its incarnation
 * and boot salt (random, drawn by the caller). Returns 0 and *out, or -1
 * with a message in err. */
int rsec_new(const struct rsec_keys *keys, uint8_t suite, uint32_t my_id,
	     uint32_t incarnation, const uint8_t salt[RSEC_SALT_LEN],
	     struct rsec **out, char *err, size_t errlen);
void rsec_free(struct rsec *s);
/* Replaces the keys (a reloaded file). Senders' windows are kept. */
int rsec_set_keys(struct rsec *s, const struct rsec_keys *keys, char *err,
		  size_t errlen);

/* Seals len bytes of pkt into out (cap >= len + RSEC_OVERHEAD). Returns
 * the sealed length, or -1 (no room, or the cipher failed). */
int rsec_seal(struct rsec *s, const uint8_t *pkt, size_t len, uint8_t *out,
	      size_t cap);
/* Opens a datagram. On RSEC_OK, *body and *body_len are the ring packet:
 * inside `in` (authenticated only) or in scratch (encrypted; scratch_cap
 * >= len), *sender the authenticated sender. Any other result leaves
 * every state as it was, apart from the counters. */
enum rsec_result rsec_open(struct rsec *s, const uint8_t *in, size_t len,
			   uint8_t *scratch, size_t scratch_cap,
			   const uint8_t **body, size_t *body_len,
			   uint32_t *sender);

const struct rsec_stats *rsec_stats(const struct rsec *s);
uint8_t rsec_suite(const struct rsec *s);
uint8_t rsec_current_key_id(const struct rsec *s);
/* 1 if the datagram starts like a sealed one (the magic). */
int rsec_is_sealed(const uint8_t *p, size_t len);
/* The key id and sender of a sealed datagram (for logs); -1 if short. */
int rsec_peek(const uint8_t *p, size_t len, uint8_t *key_id,
	      uint32_t *sender);
const char *rsec_suite_name(uint8_t suite);

#endif /* CHORUS_RING_SEC_H */
