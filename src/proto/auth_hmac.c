/*
 * auth_hmac.c - codec, MAC and key file of the HMAC authentication
 * method (see auth_hmac.h). HMAC-SHA-256 and the constant-time compare
 * come from OpenSSL's libcrypto.
 */
#include "auth_hmac.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

/* The label in front of every transcript; a new version of the method
 * changes it. */
static const char transcript_label[] = "chorus-auth-hmac-1";

int auth_principal_ok(const char *name, size_t len)
{
	if (len == 0 || len > AUTH_PRINCIPAL_MAX)
		return 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)name[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' ||
		      ch == '-' || ch == '@' || ch == '+' || ch == ':'))
			return 0;
	}
	return 1;
}

/* Appends a length byte and the string; returns the new offset. */
static size_t put_str(uint8_t *out, size_t off, const char *s, size_t len)
{
	out[off] = (uint8_t)len;
	memcpy(out + off + 1, s, len);
	return off + 1 + len;
}

size_t auth_hmac_challenge_encode(uint8_t *out,
				  const struct auth_hmac_challenge *c)
{
	size_t dl = strnlen(c->daemon, sizeof(c->daemon));
	size_t pl = strnlen(c->private_name, sizeof(c->private_name));
	size_t off;

	if (dl == 0 || dl > AUTH_HMAC_DAEMON_MAX || pl == 0 ||
	    pl > AUTH_HMAC_PRIVATE_MAX)
		return 0;
	out[0] = AUTH_HMAC_VERSION;
	memcpy(out + 1, c->nonce, AUTH_HMAC_NONCE_LEN);
	off = put_str(out, 1 + AUTH_HMAC_NONCE_LEN, c->daemon, dl);
	return put_str(out, off, c->private_name, pl);
}

/* Reads a length-prefixed string of 1..max bytes at buf[*off]; each byte
 * must be printable ASCII other than space. Returns 1 when read, 0 if
 * more bytes are needed, -1 if malformed. */
static int get_str(const uint8_t *buf, size_t len, size_t *off, char *dst,
		   size_t max)
{
	size_t n;

	if (*off >= len)
		return 0;
	n = buf[*off];
	if (n == 0 || n > max)
		return -1;
	if (len - *off - 1 < n)
		return 0;
	for (size_t i = 0; i < n; i++) {
		uint8_t ch = buf[*off + 1 + i];

		if (ch <= 0x20 || ch >= 0x7f)
			return -1;
		dst[i] = (char)ch;
	}
	dst[n] = 0;
	*off += 1 + n;
	return 1;
}

int auth_hmac_challenge_parse(const uint8_t *buf, size_t len,
			      struct auth_hmac_challenge *c)
{
	size_t off = 1 + AUTH_HMAC_NONCE_LEN;
	int r;

	memset(c, 0, sizeof(*c));
	if (len == 0)
		return AUTH_HMAC_MORE;
	if (buf[0] != AUTH_HMAC_VERSION)
		return AUTH_HMAC_EMALFORMED;
	if (len < off)
		return AUTH_HMAC_MORE;
	memcpy(c->nonce, buf + 1, AUTH_HMAC_NONCE_LEN);
	r = get_str(buf, len, &off, c->daemon, AUTH_HMAC_DAEMON_MAX);
	if (r <= 0)
		return r < 0 ? AUTH_HMAC_EMALFORMED : AUTH_HMAC_MORE;
	r = get_str(buf, len, &off, c->private_name, AUTH_HMAC_PRIVATE_MAX);
	if (r <= 0)
		return r < 0 ? AUTH_HMAC_EMALFORMED : AUTH_HMAC_MORE;
	return (int)off;
}

size_t auth_hmac_response_encode(uint8_t *out,
				 const struct auth_hmac_response *r)
{
	size_t pl = strnlen(r->principal, sizeof(r->principal));
	size_t off;

	if (!auth_principal_ok(r->principal, pl))
		return 0;
	out[0] = AUTH_HMAC_VERSION;
	off = put_str(out, 1, r->principal, pl);
	memcpy(out + off, r->mac, AUTH_HMAC_MAC_LEN);
	return off + AUTH_HMAC_MAC_LEN;
}

int auth_hmac_response_parse(const uint8_t *buf, size_t len,
			     struct auth_hmac_response *r)
{
	size_t off = 1;
	int g;

	memset(r, 0, sizeof(*r));
	if (len == 0)
		return AUTH_HMAC_MORE;
	if (buf[0] != AUTH_HMAC_VERSION)
		return AUTH_HMAC_EMALFORMED;
	g = get_str(buf, len, &off, r->principal, AUTH_PRINCIPAL_MAX);
	if (g <= 0)
		return g < 0 ? AUTH_HMAC_EMALFORMED : AUTH_HMAC_MORE;
	if (!auth_principal_ok(r->principal, off - 2))
		return AUTH_HMAC_EMALFORMED;
	if (len - off < AUTH_HMAC_MAC_LEN)
		return AUTH_HMAC_MORE;
	memcpy(r->mac, buf + off, AUTH_HMAC_MAC_LEN);
	return (int)(off + AUTH_HMAC_MAC_LEN);
}

int auth_hmac_compute(const uint8_t *secret, size_t secret_len,
		      const struct auth_hmac_challenge *c,
		      const char *principal, uint8_t mac[AUTH_HMAC_MAC_LEN])
{
	uint8_t t[sizeof(transcript_label) + AUTH_HMAC_NONCE_LEN + 4 +
		  AUTH_HMAC_DAEMON_MAX + AUTH_HMAC_PRIVATE_MAX + AUTH_PRINCIPAL_MAX +
		  AUTH_HMAC_BINDING_LEN];
	size_t off = sizeof(transcript_label); /* the label and its NUL */
	size_t dl = strnlen(c->daemon, sizeof(c->daemon));
	size_t pl = strnlen(c->private_name, sizeof(c->private_name));
	size_t ul = strnlen(principal, AUTH_PRINCIPAL_MAX + 1);
	unsigned int mac_len = 0;

	if (dl > AUTH_HMAC_DAEMON_MAX || pl > AUTH_HMAC_PRIVATE_MAX ||
	    ul > AUTH_PRINCIPAL_MAX)
		return -1;
	memcpy(t, transcript_label, sizeof(transcript_label));
	memcpy(t + off, c->nonce, AUTH_HMAC_NONCE_LEN);
	off += AUTH_HMAC_NONCE_LEN;
	off = put_str(t, off, c->daemon, dl);
	off = put_str(t, off, c->private_name, pl);
	off = put_str(t, off, principal, ul);
	/* Over TLS, the channel's binding with its length in front; a
	 * plain connection's transcript ends with the principal. */
	if (c->bound) {
		t[off++] = AUTH_HMAC_BINDING_LEN;
		memcpy(t + off, c->binding, AUTH_HMAC_BINDING_LEN);
		off += AUTH_HMAC_BINDING_LEN;
	}
	if (!HMAC(EVP_sha256(), secret, (int)secret_len, t, off, mac, &mac_len) ||
	    mac_len != AUTH_HMAC_MAC_LEN)
		return -1;
	return 0;
}

const struct auth_key *auth_keys_find(const struct auth_keys *keys,
				      const char *principal)
{
	for (int i = 0; i < keys->n; i++)
		if (strcmp(keys->e[i].principal, principal) == 0)
			return &keys->e[i];
	return NULL;
}

int auth_hmac_verify(const struct auth_keys *keys,
		     const struct auth_hmac_challenge *c,
		     const struct auth_hmac_response *r)
{
	static const uint8_t dummy[AUTH_SECRET_MIN];
	const struct auth_key *k = auth_keys_find(keys, r->principal);
	uint8_t want[AUTH_HMAC_MAC_LEN];
	int ok;

	/* An unknown principal gets a MAC with a dummy key, so the time
	 * taken does not tell which principals exist. */
	if (auth_hmac_compute(k ? k->secret : dummy,
			      k ? k->secret_len : sizeof(dummy), c,
			      r->principal, want) != 0)
		return AUTH_HMAC_FAILED;
	ok = CRYPTO_memcmp(want, r->mac, sizeof(want)) == 0;
	OPENSSL_cleanse(want, sizeof(want));
	if (!k)
		return AUTH_HMAC_UNKNOWN;
	return ok ? 0 : AUTH_HMAC_BAD_MAC;
}

/* ---- Key files ---------------------------------------------------------- */

static int key_fail(char *err, size_t errlen, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int key_fail(char *err, size_t errlen, int line, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!err || errlen == 0)
		return -1;
	n = line > 0 ? snprintf(err, errlen, "line %d: ", line) : 0;
	if (n >= 0 && (size_t)n < errlen) {
		va_start(ap, fmt);
		vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return -1;
}

static int hex_val(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* Parses one non-comment line into k. Returns 0 or -1 with err set. */
static int parse_key_line(const char *s, size_t len, int line,
			  struct auth_key *k, char *err, size_t errlen)
{
	size_t i = 0, p0, p1, h0, h1;

	while (i < len && (s[i] == ' ' || s[i] == '\t'))
		i++;
	p0 = i;
	while (i < len && s[i] != ' ' && s[i] != '\t')
		i++;
	p1 = i;
	while (i < len && (s[i] == ' ' || s[i] == '\t'))
		i++;
	h0 = i;
	while (i < len && s[i] != ' ' && s[i] != '\t')
		i++;
	h1 = i;
	while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r'))
		i++;
	if (h1 > h0 && s[h1 - 1] == '\r')
		h1--;
	if (i != len)
		return key_fail(err, errlen, line,
				"expected \"principal secret\" and nothing after it");
	if (h0 == h1)
		return key_fail(err, errlen, line,
				"no secret after the principal (expected \"principal hex-secret\")");
	if (!auth_principal_ok(s + p0, p1 - p0))
		return key_fail(err, errlen, line,
				"bad principal name: 1..%d characters of A-Z a-z 0-9 . _ - @ + :",
				AUTH_PRINCIPAL_MAX);
	if ((h1 - h0) % 2 || (h1 - h0) / 2 < AUTH_SECRET_MIN ||
	    (h1 - h0) / 2 > AUTH_SECRET_MAX)
		return key_fail(err, errlen, line,
				"the secret must be %d to %d bytes written as %d to %d hex digits (found %zu digits)",
				AUTH_SECRET_MIN, AUTH_SECRET_MAX, 2 * AUTH_SECRET_MIN,
				2 * AUTH_SECRET_MAX, h1 - h0);
	memset(k, 0, sizeof(*k));
	memcpy(k->principal, s + p0, p1 - p0);
	for (size_t j = h0; j < h1; j += 2) {
		int hi = hex_val(s[j]), lo = hex_val(s[j + 1]);

		if (hi < 0 || lo < 0) {
			auth_key_clear(k);
			return key_fail(err, errlen, line,
					"the secret is not hexadecimal");
		}
		k->secret[k->secret_len++] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

int auth_keys_parse(const char *text, size_t len, struct auth_keys *keys,
		    char *err, size_t errlen)
{
	struct auth_key k;
	size_t pos = 0;
	int line = 0, cap = 0;

	keys->e = NULL;
	keys->n = 0;
	while (pos < len) {
		const char *s = text + pos, *nl = memchr(s, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - s) : len - pos, i = 0;

		pos += n + (nl ? 1 : 0);
		line++;
		while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r'))
			i++;
		if (i == n || s[i] == '#')
			continue;
		for (size_t j = 0; j < n; j++)
			if ((unsigned char)s[j] < 0x20 && s[j] != '\t' && s[j] != '\r') {
				key_fail(err, errlen, line, "control character 0x%02x",
					 (unsigned char)s[j]);
				goto fail;
			}
		if (parse_key_line(s, n, line, &k, err, errlen) != 0)
			goto fail;
		if (auth_keys_find(keys, k.principal)) {
			key_fail(err, errlen, line, "principal '%s' is listed twice",
				 k.principal);
			auth_key_clear(&k);
			goto fail;
		}
		if (keys->n == cap) {
			int ncap = cap ? cap * 2 : 8;
			struct auth_key *ne = calloc((size_t)ncap, sizeof(*ne));

			if (!ne) {
				key_fail(err, errlen, line, "out of memory");
				auth_key_clear(&k);
				goto fail;
			}
			if (keys->n)
				memcpy(ne, keys->e, (size_t)keys->n * sizeof(*ne));
			OPENSSL_cleanse(keys->e, (size_t)cap * sizeof(*ne));
			free(keys->e);
			keys->e = ne;
			cap = ncap;
		}
		keys->e[keys->n++] = k;
		auth_key_clear(&k);
	}
	return 0;
fail:
	auth_keys_clear(keys);
	return -1;
}

void auth_key_clear(struct auth_key *k)
{
	OPENSSL_cleanse(k, sizeof(*k));
}

void auth_keys_clear(struct auth_keys *keys)
{
	if (keys->e)
		OPENSSL_cleanse(keys->e, (size_t)keys->n * sizeof(*keys->e));
	free(keys->e);
	keys->e = NULL;
	keys->n = 0;
}

void auth_key_text_free(char *text, size_t len)
{
	if (!text)
		return;
	OPENSSL_cleanse(text, len);
	free(text);
}

int auth_key_owner_check(const char *path, uid_t owner, uid_t euid, uid_t also,
			 char *err, size_t errlen)
{
	if (owner == 0 || owner == euid || (also != AUTH_NO_UID && owner == also))
		return 0;
	snprintf(err, errlen, "%s belongs to uid %u: a key file must belong to "
		 "root or to the user that reads it (uid %u%s)", path,
		 (unsigned)owner, (unsigned)euid,
		 also != AUTH_NO_UID && also != euid ? " or the daemon's user" : "");
	return -1;
}

int auth_key_file_read(const char *path, uid_t also, char **text, size_t *len,
		       char *err, size_t errlen)
{
	struct stat st;
	char *buf = NULL;
	size_t n = 0;
	int fd, saved;

	*text = NULL;
	*len = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return key_fail(err, errlen, 0, "%s: %s", path, strerror(errno));
	if (fstat(fd, &st) != 0) {
		saved = errno;
		close(fd);
		return key_fail(err, errlen, 0, "%s: %s", path, strerror(saved));
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return key_fail(err, errlen, 0, "%s: not a regular file", path);
	}
	if (st.st_mode & 077) {
		close(fd);
		return key_fail(err, errlen, 0,
				"%s: the file holds secrets but its group or others have access (mode %04o); make it 0600 or 0400",
				path, (unsigned)(st.st_mode & 07777));
	}
	if (auth_key_owner_check(path, st.st_uid, geteuid(), also, err,
				 errlen) != 0) {
		close(fd);
		return -1;
	}
	if (st.st_size > AUTH_KEY_FILE_MAX) {
		close(fd);
		return key_fail(err, errlen, 0, "%s: larger than %d bytes", path,
				AUTH_KEY_FILE_MAX);
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		close(fd);
		return key_fail(err, errlen, 0, "%s: out of memory", path);
	}
	while (n < (size_t)st.st_size + 1) {
		ssize_t r = read(fd, buf + n, (size_t)st.st_size + 1 - n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			saved = errno;
			close(fd);
			auth_key_text_free(buf, (size_t)st.st_size + 1);
			return key_fail(err, errlen, 0, "%s: %s", path,
					strerror(saved));
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	if (n > (size_t)st.st_size) {
		auth_key_text_free(buf, (size_t)st.st_size + 1);
		return key_fail(err, errlen, 0, "%s: the file grew while being read",
				path);
	}
	*text = buf;
	*len = n;
	return 0;
}
