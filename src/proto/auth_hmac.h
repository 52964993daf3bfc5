/*
 * auth_hmac.h - the HMAC authentication method of the Spread handshake:
 * its wire codec, the MAC both sides compute and the key file format
 * (docs/client-protocol.md section 3.6 "HMAC", docs/config.md).
 *
 * HMAC proves that the client holds the secret of a principal without
 * sending the secret. It runs in the per-method slot of the handshake,
 * after the client's 90-byte method choice and before the daemon's
 * verdict byte:
 *
 *   D->C challenge  version 1, 32 random bytes, the daemon's name and the
 *                   private name the session will have (each 1 length
 *                   byte + bytes)
 *   C->D response   version 1, principal (1 length byte + 1..64 bytes),
 *                   32-byte HMAC-SHA-256(secret, transcript)
 *   D->C verdict    the ordinary accept record, or REJECT_AUTH (-9)
 *
 * The transcript is a fixed label, the nonce, the daemon's name, the
 * private name and the principal, each of the variable fields with its
 * length in front, so a response is good for one connection to one
 * daemon and one private name only. Over TLS both sides add the
 * channel's binding (a TLS exporter value under AUTH_HMAC_EXPORTER_LABEL,
 * RFC 9266 style), so an answer relayed from one TLS connection to
 * another is worthless: whoever terminates the client's TLS cannot use
 * its answer on a TLS connection of its own to the daemon.
 *
 * Everything here is pure (no I/O, no randomness: the nonce comes in),
 * except auth_key_file_read(), which reads a key file and refuses one
 * that others may read. Decoders never trust a length.
 *
 * Ownership: all structs are plain values; callers own them. Secrets are
 * cleared with auth_keys_clear() / auth_key_clear() when no longer used.
 */
#ifndef CHORUS_AUTH_HMAC_H
#define CHORUS_AUTH_HMAC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define AUTH_HMAC_NAME "HMAC"       /* the method's name in the list */
#define AUTH_HMAC_VERSION 1
#define AUTH_HMAC_NONCE_LEN 32
#define AUTH_HMAC_MAC_LEN 32
#define AUTH_PRINCIPAL_MAX 64       /* characters of a principal name */
#define AUTH_SECRET_MIN 16          /* bytes of a secret */
#define AUTH_SECRET_MAX 64
#define AUTH_HMAC_DAEMON_MAX 19     /* as WIRE_MAX_DAEMON */
#define AUTH_HMAC_PRIVATE_MAX 10    /* as WIRE_MAX_PRIVATE */
/* Largest challenge and response on the wire. */
#define AUTH_HMAC_CHALLENGE_MAX \
	(1 + AUTH_HMAC_NONCE_LEN + 1 + AUTH_HMAC_DAEMON_MAX + 1 + AUTH_HMAC_PRIVATE_MAX)
#define AUTH_HMAC_RESPONSE_MAX (1 + 1 + AUTH_PRINCIPAL_MAX + AUTH_HMAC_MAC_LEN)
#define AUTH_KEY_FILE_MAX (1024 * 1024) /* bytes of a key file */

/* Decoder results. */
#define AUTH_HMAC_MORE 0            /* the buffer holds a prefix: read on */
#define AUTH_HMAC_EMALFORMED (-1)   /* not a valid message */

#define AUTH_HMAC_BINDING_LEN 32 /* bytes of a TLS channel binding */
/* The label of the TLS exporter both sides derive the binding with. */
#define AUTH_HMAC_EXPORTER_LABEL "EXPORTER-chorus-auth-hmac-1"

struct auth_hmac_challenge {
	uint8_t nonce[AUTH_HMAC_NONCE_LEN];
	char daemon[AUTH_HMAC_DAEMON_MAX + 1];
	char private_name[AUTH_HMAC_PRIVATE_MAX + 1];
	/* Not on the wire: each side sets it from its own TLS channel
	 * (bound = 1), or leaves bound 0 on a plain connection. */
	uint8_t binding[AUTH_HMAC_BINDING_LEN];
	int bound;
};

struct auth_hmac_response {
	char principal[AUTH_PRINCIPAL_MAX + 1];
	uint8_t mac[AUTH_HMAC_MAC_LEN];
};

/* One principal and its secret. */
struct auth_key {
	char principal[AUTH_PRINCIPAL_MAX + 1];
	uint8_t secret[AUTH_SECRET_MAX];
	size_t secret_len;
};

/* A key file's entries. Created by auth_keys_parse(); freed with
 * auth_keys_clear(), which also wipes the secrets. */
struct auth_keys {
	struct auth_key *e;
	int n;
};

/* 1 if name (len bytes) is a valid principal: 1..64 characters of
 * A-Z a-z 0-9 . _ - @ + : */
int auth_principal_ok(const char *name, size_t len);

/* Encodes a challenge into out (AUTH_HMAC_CHALLENGE_MAX bytes); returns
 * its length, or 0 if a name is empty or too long. */
size_t auth_hmac_challenge_encode(uint8_t *out,
				  const struct auth_hmac_challenge *c);
/* Decodes a challenge from buf[0..len). Returns the bytes it used,
 * AUTH_HMAC_MORE, or AUTH_HMAC_EMALFORMED. */
int auth_hmac_challenge_parse(const uint8_t *buf, size_t len,
			      struct auth_hmac_challenge *c);

/* Encodes a response (AUTH_HMAC_RESPONSE_MAX bytes); 0 if the principal
 * is not valid. */
size_t auth_hmac_response_encode(uint8_t *out,
				 const struct auth_hmac_response *r);
/* Decodes a response, as auth_hmac_challenge_parse. */
int auth_hmac_response_parse(const uint8_t *buf, size_t len,
			     struct auth_hmac_response *r);

/* Computes the MAC of the transcript of challenge c (with its channel
 * binding when c->bound) and principal with the secret. Returns 0, or -1 if the crypto library failed. */
int auth_hmac_compute(const uint8_t *secret, size_t secret_len,
		      const struct auth_hmac_challenge *c,
		      const char *principal, uint8_t mac[AUTH_HMAC_MAC_LEN]);

/* Checks a response against the keys: 0 if the principal is known and
 * the MAC is right (compared in constant time); -1 if the principal is
 * unknown, -2 if the MAC is wrong, -3 if the crypto library failed. An
 * unknown principal costs the same work as a known one. */
#define AUTH_HMAC_UNKNOWN (-1)
#define AUTH_HMAC_BAD_MAC (-2)
#define AUTH_HMAC_FAILED (-3)
int auth_hmac_verify(const struct auth_keys *keys,
		     const struct auth_hmac_challenge *c,
		     const struct auth_hmac_response *r);

/* Parses key file text: one "principal secret" per line, the secret in
 * hex (32..128 digits: 16..64 bytes); blank lines and lines starting
 * with '#' are ignored. Principals must be unique. Returns 0, or -1 with
 * "line N: ..." in err (the keys are then empty). */
int auth_keys_parse(const char *text, size_t len, struct auth_keys *keys,
		    char *err, size_t errlen);
/* Wipes and frees the entries; keys is then empty. */
void auth_keys_clear(struct auth_keys *keys);
/* The entry of a principal, or NULL. */
const struct auth_key *auth_keys_find(const struct auth_keys *keys,
				      const char *principal);
/* Wipes one key. */
void auth_key_clear(struct auth_key *k);

/* Whether a key file owned by `owner` may be trusted by a process whose
 * effective user is euid: the owner is root, euid, or `also` (the user
 * a daemon runs as after giving root up; AUTH_NO_UID: none). A file of
 * any other user is that user's to change. Returns 0, or -1 with the
 * reason (naming path) in err. */
#define AUTH_NO_UID ((uid_t)-1)
int auth_key_owner_check(const char *path, uid_t owner, uid_t euid, uid_t also,
			 char *err, size_t errlen);

/* Reads a key file into a fresh buffer (the caller wipes and frees it
 * with auth_key_text_free). Refuses anything but a regular file, a file
 * that its group or others may read, write or execute, one whose owner
 * auth_key_owner_check refuses (with `also`), and a file over
 * AUTH_KEY_FILE_MAX bytes. Returns 0, or -1 with the reason in err. */
int auth_key_file_read(const char *path, uid_t also, char **text, size_t *len,
		       char *err, size_t errlen);
void auth_key_text_free(char *text, size_t len);

#endif /* CHORUS_AUTH_HMAC_H */
