/*
 * auth.c - authentication methods of chorusd's handshake and the count of
 * sessions per client address (see auth.h).
 *
 * Methods (docs/client-protocol.md 3.6): NULL always passes; IP checks
 * the client's address against spread.access_ip; HMAC is chorusd's own
 * (proto/auth_hmac.h): the daemon sends a fresh 32-byte nonce with its
 * name and the session's private name, and the client must answer with a
 * principal of HmacSecretsFile and the HMAC-SHA-256 of that transcript
 * under the principal's secret.
 */
#include "auth.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "daemon.h"
#include "dpriv.h"
#include "tls.h"
#include "util/log.h"

static const struct {
	const char *name;
	unsigned bit;
} methods[] = {
	{ "NULL", CONF_AUTH_NULL },
	{ "IP", CONF_AUTH_IP },
	{ AUTH_HMAC_NAME, CONF_AUTH_HMAC },
};
#define N_METHODS (sizeof(methods) / sizeof(methods[0]))

unsigned auth_method_bit(const char *name)
{
	for (size_t i = 0; i < N_METHODS; i++)
		if (strcmp(name, methods[i].name) == 0)
			return methods[i].bit;
	return 0;
}

size_t auth_method_list(unsigned enabled, char *out)
{
	size_t len = 0;

	for (size_t i = 0; i < N_METHODS; i++) {
		size_t n = strlen(methods[i].name);

		if (!(enabled & methods[i].bit))
			continue;
		memcpy(out + len, methods[i].name, n);
		out[len + n] = ' ';
		len += n + 1;
	}
	return len;
}

/* The address table holds at most max_sessions entries; at least twice
 * that many slots keep the probes short. */
static int iplimit_init(struct iplimit *t, int max_sessions)
{
	uint32_t cap = 64;

	while (cap < 2u * (uint32_t)max_sessions && cap < (1u << 22))
		cap <<= 1;
	t->slot = calloc(cap, sizeof(*t->slot));
	t->cap = t->slot ? cap : 0;
	return t->slot ? 0 : -1;
}

/* Reads HmacSecretsFile into keys. Returns 0, or -1 with err. */
static int keys_load(const struct conf *c, struct auth_keys *keys, char *err,
		     size_t errlen)
{
	char *text = NULL, kerr[256];
	size_t len = 0;

	if (auth_key_file_read(c->hmac_secrets_file, dpriv_service_uid(c), &text,
			       &len, kerr, sizeof(kerr)) != 0) {
		snprintf(err, errlen, "HmacSecretsFile %s", kerr);
		return -1;
	}
	if (auth_keys_parse(text, len, keys, kerr, sizeof(kerr)) != 0) {
		auth_key_text_free(text, len);
		snprintf(err, errlen, "HmacSecretsFile %s: %s", c->hmac_secrets_file,
			 kerr);
		return -1;
	}
	auth_key_text_free(text, len);
	if (keys->n == 0) {
		auth_keys_clear(keys);
		snprintf(err, errlen, "HmacSecretsFile %s lists no principal",
			 c->hmac_secrets_file);
		return -1;
	}
	return 0;
}

int auth_check_conf(const struct conf *c, char *err, size_t errlen)
{
	struct auth_keys keys = { NULL, 0 };

	if (!((c->allowed_auth | c->required_auth) & CONF_AUTH_HMAC))
		return 0;
	if (keys_load(c, &keys, err, errlen) != 0)
		return -1;
	auth_keys_clear(&keys);
	return 0;
}

int auth_init(struct chd *d, char *err, size_t errlen)
{
	const struct conf *c = &d->conf;

	if (iplimit_init(&d->iplimit, d->max_sessions) != 0) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (!((c->allowed_auth | c->required_auth) & CONF_AUTH_HMAC))
		return 0;
	if (keys_load(c, &d->hmac_keys, err, errlen) != 0)
		return -1;
	log_info("HMAC authentication: %d principals from %s", d->hmac_keys.n,
		 c->hmac_secrets_file);
	return 0;
}

void auth_reload(struct chd *d)
{
	const struct conf *c = &d->conf;
	struct auth_keys fresh = { NULL, 0 };
	char err[512];

	if (!((c->allowed_auth | c->required_auth) & CONF_AUTH_HMAC))
		return;
	if (keys_load(c, &fresh, err, sizeof(err)) != 0) {
		log_warnx("SIGHUP: %s; keeping the %d principals loaded before", err,
			  d->hmac_keys.n);
		return;
	}
	auth_keys_clear(&d->hmac_keys);
	d->hmac_keys = fresh;
	log_info("SIGHUP: HMAC authentication: %d principals from %s",
		 d->hmac_keys.n, c->hmac_secrets_file);
}

void auth_free(struct chd *d)
{
	auth_keys_clear(&d->hmac_keys);
	free(d->iplimit.slot);
	d->iplimit.slot = NULL;
	d->iplimit.cap = 0;
}

/* "1.2.3.4" or "unix", for log lines. */
static const char *peer_str(const struct sess *s, char buf[24])
{
	if (!s->peer_addr)
		return "unix";
	snprintf(buf, 24, "%u.%u.%u.%u", s->peer_addr >> 24,
		 (s->peer_addr >> 16) & 0xff, (s->peer_addr >> 8) & 0xff,
		 s->peer_addr & 0xff);
	return buf;
}

/* The challenge of session s (its nonce, the names and, over TLS, the
 * channel binding). Returns 0, or -1 if the binding failed (logged). */
static int challenge_of(const struct chd *d, const struct sess *s,
			struct auth_hmac_challenge *ch)
{
	char ps[24];
	int b;

	memset(ch, 0, sizeof(*ch));
	memcpy(ch->nonce, s->auth_nonce, AUTH_HMAC_NONCE_LEN);
	snprintf(ch->daemon, sizeof(ch->daemon), "%s", d->name);
	snprintf(ch->private_name, sizeof(ch->private_name), "%s", s->name);
	b = sio_tls_binding(s, ch->binding);
	if (b < 0) {
		log_warnx("HMAC authentication: no TLS channel binding from "
			  "OpenSSL; refusing %s", peer_str(s, ps));
		return -1;
	}
	ch->bound = b;
	return 0;
}

enum auth_result auth_begin(struct chd *d, struct sess *s, unsigned m,
			    uint8_t *out, size_t *outlen)
{
	struct auth_hmac_challenge ch;
	char ps[24];

	switch (m) {
	case CONF_AUTH_NULL:
		return AUTH_PASS;
	case CONF_AUTH_IP:
		if (d->have_acl && acl_ip_allows(&d->acl, s->peer_addr))
			return AUTH_PASS;
		auth_log_refusal(d, "client %s (%s) refused: IP authentication: "
				 "the address is not in the access list",
				 peer_str(s, ps), s->name);
		return AUTH_FAIL;
	case CONF_AUTH_HMAC:
		if (RAND_bytes(s->auth_nonce, AUTH_HMAC_NONCE_LEN) != 1) {
			log_warnx("HMAC authentication: no random bytes from "
				  "OpenSSL; refusing %s", peer_str(s, ps));
			return AUTH_FAIL;
		}
		if (challenge_of(d, s, &ch) != 0)
			return AUTH_FAIL;
		*outlen = auth_hmac_challenge_encode(out, &ch);
		return *outlen ? AUTH_EXCHANGE : AUTH_FAIL;
	default:
		return AUTH_FAIL;
	}
}

enum auth_result auth_continue(struct chd *d, struct sess *s,
			       const uint8_t *in, size_t len, size_t *used)
{
	struct auth_hmac_challenge ch;
	struct auth_hmac_response r;
	int n = auth_hmac_response_parse(in, len, &r), v;
	char ps[24];

	*used = 0;
	if (n == AUTH_HMAC_MORE)
		return AUTH_MORE;
	if (n < 0) {
		auth_log_refusal(d, "client %s (%s) refused: HMAC authentication: "
				 "malformed response", peer_str(s, ps), s->name);
		return AUTH_FAIL;
	}
	*used = (size_t)n;
	v = challenge_of(d, s, &ch) != 0 ? AUTH_HMAC_FAILED :
	    auth_hmac_verify(&d->hmac_keys, &ch, &r);
	/* A nonce answers one response only. */
	OPENSSL_cleanse(s->auth_nonce, sizeof(s->auth_nonce));
	if (v == 0) {
		snprintf(s->principal, sizeof(s->principal), "%s", r.principal);
		log_debug(DBG_SESSION, "client %s (%s) authenticated as principal %s",
			  peer_str(s, ps), s->name, s->principal);
		return AUTH_PASS;
	}
	auth_log_refusal(d, "client %s (%s) refused: HMAC authentication: %s '%s'",
			 peer_str(s, ps), s->name,
			 v == AUTH_HMAC_UNKNOWN ? "unknown principal" :
			 v == AUTH_HMAC_BAD_MAC ? "wrong secret for principal" :
			 "crypto library failure for principal", r.principal);
	return AUTH_FAIL;
}

void auth_log_refusal(struct chd *d, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	if (d->now_ms - d->refusal_log_ms >= 1000) {
		if (d->refusal_log_skipped)
			log_warnx("%u more refusals in the last second were not logged",
				  d->refusal_log_skipped);
		d->refusal_log_ms = d->now_ms;
		d->refusal_log_n = 0;
		d->refusal_log_skipped = 0;
	}
	if (d->refusal_log_n >= AUTH_LOG_PER_SEC) {
		d->refusal_log_skipped++;
		return;
	}
	d->refusal_log_n++;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	log_warnx("%s", line);
}

/* ---- Sessions per address ------------------------------------------- */

static uint32_t slot_of(const struct iplimit *t, uint32_t addr)
{
	return (addr * 2654435761u) & (t->cap - 1);
}

uint32_t iplimit_count(const struct iplimit *t, uint32_t addr)
{
	if (!addr || !t->cap)
		return 0;
	for (uint32_t i = slot_of(t, addr);; i = (i + 1) & (t->cap - 1)) {
		if (t->slot[i].addr == addr)
			return t->slot[i].n;
		if (!t->slot[i].addr)
			return 0;
	}
}

uint32_t iplimit_add(struct iplimit *t, uint32_t addr)
{
	if (!addr || !t->cap)
		return 0;
	for (uint32_t i = slot_of(t, addr), k = 0; k < t->cap;
	     i = (i + 1) & (t->cap - 1), k++) {
		if (t->slot[i].addr == addr)
			return ++t->slot[i].n;
		if (!t->slot[i].addr) {
			t->slot[i].addr = addr;
			t->slot[i].n = 1;
			return 1;
		}
	}
	return 0;
}

void iplimit_del(struct iplimit *t, uint32_t addr)
{
	uint32_t i, j;

	if (!addr || !t->cap)
		return;
	for (i = slot_of(t, addr); t->slot[i].addr != addr;
	     i = (i + 1) & (t->cap - 1))
		if (!t->slot[i].addr)
			return;
	if (--t->slot[i].n)
		return;
	/* Backward-shift deletion keeps every probe sequence unbroken. */
	for (j = (i + 1) & (t->cap - 1); t->slot[j].addr;
	     j = (j + 1) & (t->cap - 1)) {
		uint32_t home = slot_of(t, t->slot[j].addr);

		/* Move j into the hole at i unless its home lies in (i, j]. */
		if (((j - home) & (t->cap - 1)) >= ((j - i) & (t->cap - 1))) {
			t->slot[i] = t->slot[j];
			i = j;
		}
	}
	t->slot[i].addr = 0;
	t->slot[i].n = 0;
}
