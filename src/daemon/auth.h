/*
 * auth.h - the authentication methods of chorusd's handshake (NULL, IP
 * and HMAC; docs/client-protocol.md 3.4-3.6) and the per-address session
 * count that MaxSessionsPerIP limits.
 *
 * sess.c owns the handshake and its socket I/O; this module decides: it
 * names the methods, runs NULL and IP at once, and for HMAC produces the
 * challenge (with a nonce from OpenSSL's RAND_bytes) and checks the
 * response. A method that proves a principal stores it in the session
 * (s->principal), where authorisation (access.c) reads it.
 *
 * Ownership: the daemon owns its key table (loaded by auth_init, wiped
 * and freed by auth_free) and its address table.
 */
#ifndef CHORUS_AUTH_H
#define CHORUS_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include "proto/auth_hmac.h"

struct chd;
struct sess;
struct conf;

/* Results of auth_begin / auth_continue. */
enum auth_result {
	AUTH_FAIL = 0,     /* refuse the client (the reason is logged) */
	AUTH_PASS = 1,     /* this method is satisfied */
	AUTH_EXCHANGE = 2, /* send `out`, then feed the reply to auth_continue */
	AUTH_MORE = 3,     /* auth_continue: the reply is not complete yet */
};

/* Counts of sessions per client address (TCP only), for
 * MaxSessionsPerIP. Open addressing with linear probing. */
struct iplimit {
	struct { uint32_t addr; uint32_t n; } *slot; /* addr 0: free */
	uint32_t cap; /* a power of two, at least twice the entries */
};

/* Loads what the configured methods need (the HMAC key file) and sizes
 * the address table. Returns 0, or -1 with a message in err. */
int auth_init(struct chd *d, char *err, size_t errlen);

/* For chorusd -t: reads and checks HmacSecretsFile (its owner and mode,
 * its lines) when HMAC is allowed, as auth_init would, and forgets it.
 * Returns 0, or -1 with err. */
int auth_check_conf(const struct conf *c, char *err, size_t errlen);
/* SIGHUP: reads HmacSecretsFile again. A file that fails its checks is
 * logged and the principals loaded before are kept; an exchange under
 * way is verified against the table in use when its answer comes. */
void auth_reload(struct chd *d);
void auth_free(struct chd *d);

/* The bit of a method name (CONF_AUTH_*), 0 if unknown. */
unsigned auth_method_bit(const char *name);
/* Writes the handshake's method list ("NULL IP HMAC ", each name
 * followed by one space) for the enabled set; returns its length. out
 * holds at least 16 bytes. */
size_t auth_method_list(unsigned enabled, char *out);

/* Starts method m (one CONF_AUTH_* bit) for s. For AUTH_EXCHANGE, out
 * (AUTH_HMAC_CHALLENGE_MAX bytes) gets *outlen bytes to send. */
enum auth_result auth_begin(struct chd *d, struct sess *s, unsigned m,
			    uint8_t *out, size_t *outlen);
/* Feeds the client's reply for the method in progress; on AUTH_PASS or
 * AUTH_FAIL, *used is the number of bytes the reply took. */
enum auth_result auth_continue(struct chd *d, struct sess *s,
			       const uint8_t *in, size_t len, size_t *used);

/* Logs a refusal at most AUTH_LOG_PER_SEC times a second; the lines left
 * out are counted and reported with the next one logged. */
#define AUTH_LOG_PER_SEC 20
void auth_log_refusal(struct chd *d, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Address counts. iplimit_add returns the new count (0: no memory);
 * address 0 (Unix socket) is never counted. */
uint32_t iplimit_count(const struct iplimit *t, uint32_t addr);
uint32_t iplimit_add(struct iplimit *t, uint32_t addr);
void iplimit_del(struct iplimit *t, uint32_t addr);

#endif /* CHORUS_AUTH_H */
