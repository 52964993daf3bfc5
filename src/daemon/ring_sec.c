/*
 * ring_sec.c - sealing of ring datagrams (see ring_sec.h): the key file,
 * the per-boot key derivation, seal and open with OpenSSL's EVP AEAD
 * interface, and a replay window per sender.
 */
#include "ring_sec.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/core_names.h>
#include <openssl/hmac.h>
#include <openssl/params.h>

#include "proto/auth_hmac.h"
#include "proto/be.h"

const char *const rsec_result_names[RSEC__COUNT] = {
	"ok", "malformed", "another suite", "unknown key id", "bad tag",
	"replayed", "stale",
};

#define WORDS (RSEC_WINDOW / 64)
/* The bitmap's last word may be partly in use: the window that is always
 * covered is one word shorter (RFC 6479). */
#define WINDOW_EFF (RSEC_WINDOW - 64)
#define LABEL "chorus ring key v1"

/* A cipher context keyed for one key id of one boot of a sender. */
struct slot {
	EVP_CIPHER_CTX *ctx;
	int valid;
	uint8_t key_id;
	uint64_t tick; /* last use */
};

struct peer {
	uint32_t id;
	uint32_t inc;
	uint8_t salt[RSEC_SALT_LEN];
	uint64_t top;  /* highest counter accepted of this boot */
	uint64_t tick; /* last authenticated datagram, for eviction */
	uint64_t bits[WORDS];
	struct slot slot[2];
};

struct rsec {
	struct rsec_keys keys;
	uint8_t suite;
	EVP_CIPHER *cipher;        /* fetched once (rsec_new) */
	int gcm;                   /* AES-GCM: nonces as invocation fields */
	uint32_t my_id, inc;
	uint8_t salt[RSEC_SALT_LEN];
	uint64_t counter;          /* the next datagram's */
	EVP_CIPHER_CTX *seal_ctx;  /* keyed for the current key */
	int seal_armed;            /* gcm: seal_ctx holds the nonce of counter */
	EVP_CIPHER_CTX *tmp;       /* for a key not yet cached */
	struct peer *peers;        /* RSEC_MAX_PEERS; n_peers in use */
	unsigned n_peers;
	uint64_t tick;
	struct rsec_stats st;
};

/* ---- The key file -------------------------------------------------- */

static int keys_fail(char *err, size_t errlen, int line, const char *msg)
{
	snprintf(err, errlen, "line %d: %s", line, msg);
	return -1;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Splits one line (no newline) into at most 4 words. */
static int words(const char *p, size_t len, const char *w[4], size_t wl[4])
{
	int n = 0;
	size_t i = 0;

	while (i < len) {
		size_t s;

		while (i < len && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r'))
			i++;
		if (i == len || p[i] == '#')
			break;
		s = i;
		while (i < len && p[i] != ' ' && p[i] != '\t' && p[i] != '\r')
			i++;
		if (n == 4)
			return 5;
		w[n] = p + s;
		wl[n++] = i - s;
	}
	return n;
}

static int parse_line(const char *p, size_t len, int line,
		      struct rsec_keys *keys, int *n_current, char *err,
		      size_t errlen)
{
	const char *w[4];
	size_t wl[4];
	int n = words(p, len, w, wl);
	struct rsec_key *k;
	unsigned id = 0, nonzero = 0;

	if (n == 0)
		return 0;
	if (n < 2 || n > 3)
		return keys_fail(err, errlen, line,
				 "expected \"ID HEXKEY [current]\"");
	for (size_t i = 0; i < wl[0]; i++) {
		if (w[0][i] < '0' || w[0][i] > '9' || wl[0] > 3)
			return keys_fail(err, errlen, line,
					 "the key id must be a number from 1 to 255");
		id = id * 10 + (unsigned)(w[0][i] - '0');
	}
	if (id < 1 || id > 255)
		return keys_fail(err, errlen, line,
				 "the key id must be a number from 1 to 255");
	if (wl[1] != 2 * RSEC_KEY_LEN)
		return keys_fail(err, errlen, line,
				 "the key must be 64 hexadecimal digits (32 bytes; "
				 "openssl rand -hex 32 makes one)");
	if (n == 3 && (wl[2] != 7 || memcmp(w[2], "current", 7) != 0))
		return keys_fail(err, errlen, line,
				 "the third word may only be \"current\"");
	for (int i = 0; i < keys->n; i++)
		if (keys->key[i].id == id)
			return keys_fail(err, errlen, line, "this key id is listed twice");
	if (keys->n == RSEC_MAX_KEYS)
		return keys_fail(err, errlen, line, "too many keys (at most 16)");
	k = &keys->key[keys->n];
	k->id = (uint8_t)id;
	for (int i = 0; i < RSEC_KEY_LEN; i++) {
		int hi = hexval(w[1][2 * i]), lo = hexval(w[1][2 * i + 1]);

		if (hi < 0 || lo < 0)
			return keys_fail(err, errlen, line,
					 "the key must be 64 hexadecimal digits");
		k->k[i] = (uint8_t)(hi << 4 | lo);
		nonzero |= k->k[i];
	}
	if (!nonzero)
		return keys_fail(err, errlen, line, "the key is all zeros");
	if (n == 3) {
		keys->current = keys->n;
		(*n_current)++;
	}
	keys->n++;
	return 0;
}

int rsec_keys_parse(const char *text, size_t len, struct rsec_keys *keys,
		    char *err, size_t errlen)
{
	int line = 1, n_current = 0;
	size_t i = 0;

	memset(keys, 0, sizeof(*keys));
	while (i < len) {
		size_t e = i;

		while (e < len && text[e] != '\n')
			e++;
		if (memchr(text + i, 0, e - i))
			return keys_fail(err, errlen, line, "a NUL byte");
		if (parse_line(text + i, e - i, line, keys, &n_current, err,
			       errlen) != 0)
			goto fail;
		i = e + 1;
		line++;
	}
	if (keys->n == 0) {
		snprintf(err, errlen, "no key in the file");
		goto fail;
	}
	if (n_current > 1) {
		snprintf(err, errlen, "%d keys are marked current; mark one",
			 n_current);
		goto fail;
	}
	if (n_current == 0 && keys->n > 1) {
		snprintf(err, errlen, "%d keys and none marked current; mark "
			 "the one to send with (\"ID HEXKEY current\")", keys->n);
		goto fail;
	}
	return 0;
fail:
	OPENSSL_cleanse(keys, sizeof(*keys));
	return -1;
}

int rsec_keys_load(const char *path, uid_t also, struct rsec_keys *keys,
		   char *err, size_t errlen)
{
	char buf[RSEC_KEYFILE_MAX + 1], perr[200];
	struct stat st;
	ssize_t n;
	size_t got = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc = -1;

	if (fd < 0) {
		snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s is not a regular file", path);
		goto out;
	}
	if (st.st_mode & 077) {
		snprintf(err, errlen, "%s may be read or written by group or "
			 "others (mode %04o): keys must be private; chmod 600 it",
			 path, (unsigned)(st.st_mode & 07777));
		goto out;
	}
	if (auth_key_owner_check(path, st.st_uid, geteuid(), also, err, errlen) != 0)
		goto out;
	while (got < sizeof(buf) &&
	       (n = read(fd, buf + got, sizeof(buf) - got)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(err, errlen, "cannot read %s: %s", path,
				 strerror(errno));
			goto out;
		}
		got += (size_t)n;
	}
	if (got > RSEC_KEYFILE_MAX) {
		snprintf(err, errlen, "%s is larger than %d bytes", path,
			 RSEC_KEYFILE_MAX);
		goto out;
	}
	if (rsec_keys_parse(buf, got, keys, perr, sizeof(perr)) != 0) {
		snprintf(err, errlen, "%s: %s", path, perr);
		goto out;
	}
	rc = 0;
out:
	OPENSSL_cleanse(buf, sizeof(buf));
	close(fd);
	return rc;
}

void rsec_keys_describe(const struct rsec_keys *keys, char *buf, size_t cap)
{
	size_t o = 0;

	if (cap)
		buf[0] = 0;
	for (int i = 0; i < keys->n && o < cap; i++)
		o += (size_t)snprintf(buf + o, cap - o, "%s%u", i ? "," : "",
				      keys->key[i].id);
	if (o < cap && keys->n)
		snprintf(buf + o, cap - o, " (sending with %u)",
			 keys->key[keys->current].id);
}

/* ---- Derived keys and cipher contexts -------------------------------- */

static const struct rsec_key *find_key(const struct rsec *s, uint8_t id)
{
	for (int i = 0; i < s->keys.n; i++)
		if (s->keys.key[i].id == id)
			return &s->keys.key[i];
	return NULL;
}

/* Keys ctx with the AEAD key of (file key, suite, sender boot); enc 1 to
 * seal, 0 to open. Returns 0 or -1. */
static int key_ctx(const struct rsec *s, EVP_CIPHER_CTX *ctx,
		   const struct rsec_key *key, uint32_t sender, uint32_t inc,
		   const uint8_t *salt, int enc)
{
	uint8_t msg[sizeof(LABEL) - 1 + 1 + 4 + 4 + RSEC_SALT_LEN];
	uint8_t dk[EVP_MAX_MD_SIZE];
	unsigned dlen = 0;
	size_t o = sizeof(LABEL) - 1;
	int ok;

	memcpy(msg, LABEL, o);
	msg[o++] = s->suite;
	be_put32(msg + o, sender);
	be_put32(msg + o + 4, inc);
	memcpy(msg + o + 8, salt, RSEC_SALT_LEN);
	ok = HMAC(EVP_sha256(), key->k, RSEC_KEY_LEN, msg, sizeof(msg), dk,
		  &dlen) != NULL && dlen == RSEC_KEY_LEN &&
	     EVP_CipherInit_ex2(ctx, s->cipher, dk, NULL, enc, NULL) == 1;
	OPENSSL_cleanse(dk, sizeof(dk));
	if (ok && s->gcm && !enc) {
		uint8_t iv[12];

		/* The whole nonce (length -1), zeros: the fixed field stays
		 * zero and each datagram sets the invocation field, its
		 * counter (aead_start). */
		memset(iv, 0, sizeof(iv));
		ok = EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IV_FIXED, -1,
					 iv) == 1;
	}
	return ok ? 0 : -1;
}

static void nonce(uint8_t iv[12], uint64_t counter)
{
	memset(iv, 0, 4);
	be_put64(iv + 4, counter);
}

/* AES-GCM sealing: gives the sealing context the nonce of s->counter and
 * has OpenSSL count on from it (the TLS invocation-field mechanism, see
 * aead_start). Returns 0 or -1. */
static int seal_arm(struct rsec *s)
{
	uint8_t iv[12], got[8];
	OSSL_PARAM p[2] = {
		OSSL_PARAM_octet_string(OSSL_CIPHER_PARAM_AEAD_TLS1_GET_IV_GEN,
					got, sizeof(got)),
		OSSL_PARAM_END,
	};

	s->seal_armed = 0;
	nonce(iv, s->counter);
	if (EVP_CIPHER_CTX_ctrl(s->seal_ctx, EVP_CTRL_GCM_SET_IV_FIXED, -1,
				iv) != 1 ||
	    EVP_CIPHER_CTX_get_params(s->seal_ctx, p) != 1 ||
	    be_get64(got) != s->counter)
		return -1;
	s->seal_armed = 1;
	return 0;
}

static void free_ctxs(struct rsec *s)
{
	EVP_CIPHER_CTX_free(s->seal_ctx);
	EVP_CIPHER_CTX_free(s->tmp);
	s->seal_ctx = s->tmp = NULL;
	for (unsigned i = 0; s->peers && i < RSEC_MAX_PEERS; i++) {
		EVP_CIPHER_CTX_free(s->peers[i].slot[0].ctx);
		EVP_CIPHER_CTX_free(s->peers[i].slot[1].ctx);
	}
}

int rsec_new(const struct rsec_keys *keys, uint8_t suite, uint32_t my_id,
	     uint32_t incarnation, const uint8_t salt[RSEC_SALT_LEN],
	     struct rsec **out, char *err, size_t errlen)
{
	struct rsec *s = calloc(1, sizeof(*s));
	int ok;

	*out = NULL;
	if (!s) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	/* Fetched once: a context keyed with a fetched cipher skips the
	 * implicit fetch OpenSSL 3 does for EVP_aes_256_gcm() and the like
	 * on every key set-up. */
	switch (suite) {
	case RSEC_SUITE_GMAC:
	case RSEC_SUITE_AES_GCM:
		s->cipher = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
		s->gcm = 1;
		break;
	case RSEC_SUITE_CHACHA:
		s->cipher = EVP_CIPHER_fetch(NULL, "ChaCha20-Poly1305", NULL);
		break;
	default: s->cipher = NULL; break;
	}
	s->suite = suite;
	s->my_id = my_id;
	s->inc = incarnation;
	memcpy(s->salt, salt, RSEC_SALT_LEN);
	s->peers = calloc(RSEC_MAX_PEERS, sizeof(*s->peers));
	s->seal_ctx = EVP_CIPHER_CTX_new();
	s->tmp = EVP_CIPHER_CTX_new();
	ok = s->peers && s->seal_ctx && s->tmp;
	for (unsigned i = 0; ok && i < RSEC_MAX_PEERS; i++) {
		s->peers[i].slot[0].ctx = EVP_CIPHER_CTX_new();
		s->peers[i].slot[1].ctx = EVP_CIPHER_CTX_new();
		ok = s->peers[i].slot[0].ctx && s->peers[i].slot[1].ctx;
	}
	if (!ok) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (!s->cipher) {
		snprintf(err, errlen, "unknown suite 0x%02x, or OpenSSL lacks "
			 "its cipher", suite);
		goto fail;
	}
	if (rsec_set_keys(s, keys, err, errlen) != 0)
		goto fail;
	*out = s;
	return 0;
fail:
	rsec_free(s);
	return -1;
}

void rsec_free(struct rsec *s)
{
	if (!s)
		return;
	free_ctxs(s);
	EVP_CIPHER_free(s->cipher);
	free(s->peers);
	OPENSSL_cleanse(&s->keys, sizeof(s->keys));
	free(s);
}

int rsec_set_keys(struct rsec *s, const struct rsec_keys *keys, char *err,
		  size_t errlen)
{
	if (keys->n < 1 || keys->n > RSEC_MAX_KEYS || keys->current < 0 ||
	    keys->current >= keys->n) {
		snprintf(err, errlen, "no current key");
		return -1;
	}
	/* The sealing context first, in the spare one: on failure nothing
	 * has changed. */
	if (key_ctx(s, s->tmp, &keys->key[keys->current], s->my_id, s->inc,
		    s->salt, 1) != 0) {
		snprintf(err, errlen, "cannot set up the cipher");
		return -1;
	}
	{
		EVP_CIPHER_CTX *t = s->seal_ctx;

		s->seal_ctx = s->tmp;
		s->tmp = t;
	}
	s->seal_armed = 0;
	s->keys = *keys;
	/* A key id may now stand for other bytes: every cached context goes. */
	for (unsigned i = 0; i < s->n_peers; i++)
		s->peers[i].slot[0].valid = s->peers[i].slot[1].valid = 0;
	return 0;
}

/* ---- Seal ------------------------------------------------------------ */

/* Gives ctx the nonce of the datagram whose header is hdr and, opening,
 * the tag expected. ChaCha20-Poly1305: an init call with the nonce (and
 * the tag as a parameter). AES-GCM, where OpenSSL 3 makes each init call
 * a round trip that asks the provider for the nonce length: the nonce is
 * a fixed field (4 zero bytes, set when the context is keyed) and an
 * invocation field, the counter, as TLS 1.2 uses it. Opening, the counter
 * and the tag go in as one parameter list; sealing, the context already
 * holds the nonce of s->counter (seal_arm, or the previous seal's
 * aead_finish) and OpenSSL counts the invocation field on by itself. The
 * nonce is always the header's counter: a seal checks that OpenSSL's
 * count agrees (seal_arm, aead_finish) and re-arms otherwise. Returns 1
 * or 0. */
static int aead_start(struct rsec *s, EVP_CIPHER_CTX *ctx, int enc,
		      const uint8_t *hdr, uint8_t *tag)
{
	uint8_t iv[12];
	OSSL_PARAM p[3];
	int n = 0;

	if (s->gcm && enc)
		return be_get64(hdr + 20) == s->counter &&
		       (s->seal_armed || seal_arm(s) == 0);
	if (s->gcm) {
		memcpy(iv, hdr + 20, 8);
		p[n++] = OSSL_PARAM_construct_octet_string(
			OSSL_CIPHER_PARAM_AEAD_TLS1_SET_IV_INV, iv, 8);
	} else {
		nonce(iv, be_get64(hdr + 20));
	}
	if (!enc)
		p[n++] = OSSL_PARAM_construct_octet_string(
			OSSL_CIPHER_PARAM_AEAD_TAG, tag, RSEC_TAG_LEN);
	p[n] = OSSL_PARAM_construct_end();
	if (s->gcm)
		return EVP_CIPHER_CTX_set_params(ctx, p) == 1;
	return EVP_CipherInit_ex2(ctx, NULL, NULL, iv, enc, n ? p : NULL) == 1;
}

/* Sealing: takes the tag from OpenSSL and, AES-GCM, arms the nonce of the
 * next datagram in the same parameter list (under OpenSSL 3 each such
 * list costs a pass over every parameter the provider knows). Returns 1
 * or 0. */
static int aead_finish(struct rsec *s, EVP_CIPHER_CTX *ctx, uint8_t *tag)
{
	uint8_t next[8];
	OSSL_PARAM p[3] = {
		OSSL_PARAM_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, tag,
					RSEC_TAG_LEN),
		OSSL_PARAM_octet_string(OSSL_CIPHER_PARAM_AEAD_TLS1_GET_IV_GEN,
					next, sizeof(next)),
		OSSL_PARAM_END,
	};

	if (!s->gcm) {
		p[1] = p[2];
		return EVP_CIPHER_CTX_get_params(ctx, p) == 1;
	}
	if (EVP_CIPHER_CTX_get_params(ctx, p) != 1)
		return 0;
	s->seal_armed = s->counter < UINT64_MAX &&
			be_get64(next) == s->counter + 1;
	return 1;
}

/* Runs the AEAD over a datagram: the header (and, authenticated only,
 * the body) as associated data, the body through the cipher otherwise.
 * Authenticated, the body must follow the header in memory (in == hdr +
 * RSEC_HDR_LEN): both go in as one run of associated data, the same bytes
 * in the same order as two calls would give. The tag goes to and from
 * OpenSSL as a parameter (aead_start, aead_finish): under OpenSSL 3 each
 * EVP_CIPHER_CTX_ctrl is translated into such a parameter list on every
 * call. Returns 1 (sealing: the tag written; opening: the tag matched) or
 * 0. */
static int aead(struct rsec *s, EVP_CIPHER_CTX *ctx, int enc,
		const uint8_t *hdr, const uint8_t *in, size_t len, uint8_t *out,
		uint8_t *tag)
{
	uint8_t none[16];
	int l, gmac = s->suite == RSEC_SUITE_GMAC;

	if (len > 0x7fffffff - RSEC_HDR_LEN || !aead_start(s, ctx, enc, hdr, tag))
		return 0;
	/* Sealing, the nonce is spent now: only a complete seal arms the
	 * next one (aead_finish). */
	if (enc)
		s->seal_armed = 0;
	if (gmac) {
		if (EVP_CipherUpdate(ctx, NULL, &l, hdr,
				     (int)(RSEC_HDR_LEN + len)) != 1)
			return 0;
	} else if (EVP_CipherUpdate(ctx, NULL, &l, hdr, RSEC_HDR_LEN) != 1 ||
		   (len && EVP_CipherUpdate(ctx, out, &l, in, (int)len) != 1)) {
		return 0;
	}
	/* GCM and ChaCha20-Poly1305 write nothing here. */
	if (EVP_CipherFinal_ex(ctx, gmac ? none : out + len, &l) != 1)
		return 0;
	return !enc || aead_finish(s, ctx, tag);
}

int rsec_seal(struct rsec *s, const uint8_t *pkt, size_t len, uint8_t *out,
	      size_t cap)
{
	uint8_t *body = out + RSEC_HDR_LEN;

	if (cap < RSEC_OVERHEAD || len > cap - RSEC_OVERHEAD ||
	    s->counter == UINT64_MAX)
		return -1;
	be_put16(out, RSEC_MAGIC);
	out[2] = s->suite;
	out[3] = s->keys.key[s->keys.current].id;
	be_put32(out + 4, s->my_id);
	be_put32(out + 8, s->inc);
	memcpy(out + 12, s->salt, RSEC_SALT_LEN);
	be_put64(out + 20, s->counter);
	if (s->suite == RSEC_SUITE_GMAC)
		memmove(body, pkt, len);
	if (!aead(s, s->seal_ctx, 1, out, s->suite == RSEC_SUITE_GMAC ? body : pkt,
		  len, body, body + len))
		return -1;
	s->counter++;
	s->st.sealed++;
	return (int)(len + RSEC_OVERHEAD);
}

/* ---- Open ------------------------------------------------------------ */

static struct peer *find_peer(struct rsec *s, uint32_t id)
{
	for (unsigned i = 0; i < s->n_peers; i++)
		if (s->peers[i].id == id)
			return &s->peers[i];
	return NULL;
}

/* A peer entry for a sender not yet known: a free one, else the one
 * heard from least recently. */
static struct peer *new_peer(struct rsec *s, uint32_t id)
{
	struct peer *p;

	if (s->n_peers < RSEC_MAX_PEERS) {
		p = &s->peers[s->n_peers++];
	} else {
		p = &s->peers[0];
		for (unsigned i = 1; i < RSEC_MAX_PEERS; i++)
			if (s->peers[i].tick < p->tick)
				p = &s->peers[i];
	}
	p->id = id;
	return p;
}

static int bit_seen(const struct peer *p, uint64_t c)
{
	return (p->bits[(c / 64) % WORDS] >> (c % 64)) & 1;
}

/* Records counter c of the peer's boot (already checked fresh). */
static void window_mark(struct peer *p, uint64_t c)
{
	uint64_t top_w = p->top / 64, c_w = c / 64;

	if (c_w > top_w && c_w - top_w >= WORDS) {
		memset(p->bits, 0, sizeof(p->bits));
	} else {
		for (uint64_t w = top_w + 1; w <= c_w; w++)
			p->bits[w % WORDS] = 0;
	}
	if (c > p->top)
		p->top = c;
	p->bits[c_w % WORDS] |= 1ull << (c % 64);
}

static enum rsec_result fail_open(struct rsec *s, enum rsec_result r)
{
	s->st.failed[r]++;
	return r;
}

enum rsec_result rsec_open(struct rsec *s, const uint8_t *in, size_t len,
			   uint8_t *scratch, size_t scratch_cap,
			   const uint8_t **body, size_t *body_len,
			   uint32_t *sender)
{
	const struct rsec_key *key;
	struct peer *p;
	struct slot *sl = NULL;
	EVP_CIPHER_CTX *ctx;
	uint32_t id, inc;
	uint64_t c;
	size_t n;
	int same_boot, gmac = s->suite == RSEC_SUITE_GMAC;
	uint8_t tag[RSEC_TAG_LEN];

	if (len < RSEC_OVERHEAD || be_get16(in) != RSEC_MAGIC ||
	    (in[2] >> 4) != 1)
		return fail_open(s, RSEC_MALFORMED);
	if (in[2] != s->suite)
		return fail_open(s, RSEC_SUITE);
	key = find_key(s, in[3]);
	if (!key)
		return fail_open(s, RSEC_KEY_ID);
	n = len - RSEC_OVERHEAD;
	if (!gmac && scratch_cap < n)
		return fail_open(s, RSEC_MALFORMED);
	id = be_get32(in + 4);
	inc = be_get32(in + 8);
	c = be_get64(in + 20);
	if (id == s->my_id)
		return fail_open(s, RSEC_REPLAYED);
	p = find_peer(s, id);
	same_boot = p && p->inc == inc && memcmp(p->salt, in + 12,
						    RSEC_SALT_LEN) == 0;
	/* Cheap checks first: nothing below trusts the header yet. A boot
	 * replaces the one known only with a higher incarnation: another
	 * salt under the same incarnation (two runs that shared it) is
	 * stale too, or datagrams of the two runs could be replayed in
	 * turn, each clearing the other's window. */
	if (p && !same_boot && inc <= p->inc)
		return fail_open(s, RSEC_STALE);
	if (same_boot && c <= p->top) {
		if (p->top - c >= WINDOW_EFF)
			return fail_open(s, RSEC_STALE);
		if (bit_seen(p, c))
			return fail_open(s, RSEC_REPLAYED);
	}
	if (same_boot)
		for (int i = 0; i < 2 && !sl; i++)
			if (p->slot[i].valid && p->slot[i].key_id == in[3])
				sl = &p->slot[i];
	if (sl) {
		ctx = sl->ctx;
	} else {
		ctx = s->tmp;
		if (key_ctx(s, ctx, key, id, inc, in + 12, 0) != 0)
			return fail_open(s, RSEC_TAG);
	}
	memcpy(tag, in + RSEC_HDR_LEN + n, RSEC_TAG_LEN);
	if (!aead(s, ctx, 0, in, in + RSEC_HDR_LEN, n, gmac ? NULL : scratch,
		  tag))
		return fail_open(s, RSEC_TAG);

	/* Authentic: now the header may change state. */
	s->tick++;
	if (!p || !same_boot) {
		if (!p)
			p = new_peer(s, id);
		p->inc = inc;
		memcpy(p->salt, in + 12, RSEC_SALT_LEN);
		p->top = c;
		memset(p->bits, 0, sizeof(p->bits));
		p->slot[0].valid = p->slot[1].valid = 0;
		s->st.new_boots++;
	}
	if (!sl) {
		/* Keep the new context: it replaces the older slot. */
		struct slot *v = !p->slot[0].valid ? &p->slot[0]
				 : !p->slot[1].valid ? &p->slot[1]
				 : p->slot[0].tick <= p->slot[1].tick ? &p->slot[0]
								    : &p->slot[1];

		s->tmp = v->ctx;
		v->ctx = ctx;
		v->valid = 1;
		v->key_id = in[3];
		sl = v;
	}
	sl->tick = s->tick;
	p->tick = s->tick;
	window_mark(p, c);
	s->st.opened++;
	*sender = id;
	*body = gmac ? in + RSEC_HDR_LEN : scratch;
	*body_len = n;
	return RSEC_OK;
}

/* ---- Small accessors -------------------------------------------------- */

const struct rsec_stats *rsec_stats(const struct rsec *s)
{
	return &s->st;
}

uint8_t rsec_suite(const struct rsec *s)
{
	return s->suite;
}

uint8_t rsec_current_key_id(const struct rsec *s)
{
	return s->keys.key[s->keys.current].id;
}

int rsec_is_sealed(const uint8_t *p, size_t len)
{
	return len >= 2 && be_get16(p) == RSEC_MAGIC;
}

int rsec_peek(const uint8_t *p, size_t len, uint8_t *key_id,
	      uint32_t *sender)
{
	if (len < RSEC_HDR_LEN || !rsec_is_sealed(p, len))
		return -1;
	*key_id = p[3];
	*sender = be_get32(p + 4);
	return 0;
}

const char *rsec_suite_name(uint8_t suite)
{
	switch (suite) {
	case RSEC_SUITE_GMAC: return "authenticated (AES-256-GMAC)";
	case RSEC_SUITE_AES_GCM: return "encrypted (AES-256-GCM)";
	case RSEC_SUITE_CHACHA: return "encrypted (ChaCha20-Poly1305)";
	default: return "plaintext";
	}
}
