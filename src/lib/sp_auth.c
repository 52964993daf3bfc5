/*
 * sp_auth.c - the client side of the HMAC authentication method
 * (proto/auth_hmac.h, docs/client-protocol.md 3.6): the key a process
 * authenticates with, chorus_set_auth_hmac(), the CHORUS_HMAC_KEY_FILE
 * environment variable, and the exchange after the method choice.
 *
 * The key lives in one process-wide slot under the global lock; a
 * handshake copies it and wipes its copy when done.
 */
#include "lib.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

/* The key of chorus_set_auth_hmac(), under the global lock. */
static struct auth_key lib_hmac_key;

/* Reads a key file that must hold exactly one principal. Returns 0, or
 * -1 with the reason in err. */
static int key_load(const char *path, struct auth_key *k, char *err,
		    size_t errlen)
{
	struct auth_keys keys;
	char *text = NULL, msg[256];
	size_t len = 0;

	if (!path || !*path) {
		snprintf(err, errlen, "no key file given");
		return -1;
	}
	if (auth_key_file_read(path, AUTH_NO_UID, &text, &len, err, errlen) != 0)
		return -1;
	if (auth_keys_parse(text, len, &keys, msg, sizeof(msg)) != 0) {
		auth_key_text_free(text, len);
		snprintf(err, errlen, "%s: %s", path, msg);
		return -1;
	}
	auth_key_text_free(text, len);
	if (keys.n != 1) {
		snprintf(err, errlen,
			 "%s: a client key file holds one \"principal secret\" line (found %d)",
			 path, keys.n);
		auth_keys_clear(&keys);
		return -1;
	}
	*k = keys.e[0];
	auth_keys_clear(&keys);
	return 0;
}

/* Public (chorus.h). */
int chorus_set_auth_hmac(const char *key_file, char *err, size_t errlen)
{
	struct auth_key k;
	char dummy[8];
	const char *names[1] = { AUTH_HMAC_NAME };
	int (*fns[1])(int, void *) = { lib_hmac_method };
	void *data[1] = { &lib_hmac_key };

	if (!err || errlen == 0) {
		err = dummy;
		errlen = sizeof(dummy);
	}
	err[0] = 0;
	if (key_load(key_file, &k, err, errlen) != 0)
		return REJECT_AUTH;
	lib_init();
	lib_lock();
	lib_hmac_key = k;
	lib_unlock();
	auth_key_clear(&k);
	if (!SP_set_auth_methods(1, names, fns, data)) {
		snprintf(err, errlen, "could not register the HMAC method");
		return SP_BUG;
	}
	return 0;
}

int lib_hmac_env_key(struct auth_key *k)
{
	const char *path = secure_getenv(CHORUS_HMAC_KEY_ENV);
	char err[8];

	if (!path || !*path)
		return 0;
	return key_load(path, k, err, sizeof(err)) == 0 ? 1 : -1;
}

void lib_hmac_copy_key(struct auth_key *k)
{
	lib_lock();
	*k = lib_hmac_key;
	lib_unlock();
}

int lib_hmac_exchange(int fd, const struct auth_key *k,
		      const char *private_name, const struct timespec *dl)
{
	uint8_t buf[AUTH_HMAC_CHALLENGE_MAX], out[AUTH_HMAC_RESPONSE_MAX];
	uint8_t binding[AUTH_HMAC_BINDING_LEN];
	struct lib_tls *t = lib_tls_of(fd);
	size_t have = 1 + AUTH_HMAC_NONCE_LEN + 1, n;
	int ok = 0;

	/* Over TLS the answer is bound to this TLS channel. */
	if (t && lib_tls_binding(t, binding) != 0)
		return 0;

	/* Version and nonce, then each name by its length byte: every read
	 * asks for bytes the daemon has certainly sent. */
	if (lib_io_read(fd, buf, have, dl) != 0)
		goto out;
	n = buf[have - 1];
	if (n == 0 || n > AUTH_HMAC_DAEMON_MAX)
		goto out;
	if (lib_io_read(fd, buf + have, n + 1, dl) != 0)
		goto out;
	have += n + 1;
	n = buf[have - 1];
	if (n == 0 || n > AUTH_HMAC_PRIVATE_MAX)
		goto out;
	if (lib_io_read(fd, buf + have, n, dl) != 0)
		goto out;
	have += n;
	if (lib_hmac_respond(buf, have, k, private_name,
			     secure_getenv(CHORUS_HMAC_DAEMON_ENV),
			     t ? binding : NULL, out, &n) != 0)
		goto out;
	ok = lib_io_write(fd, out, n) == 0;
out:
	OPENSSL_cleanse(out, sizeof(out));
	OPENSSL_cleanse(binding, sizeof(binding));
	return ok;
}

int lib_hmac_respond(const uint8_t *chal, size_t len, const struct auth_key *k,
		     const char *private_name, const char *daemon,
		     const uint8_t *binding, uint8_t *out, size_t *outlen)
{
	struct auth_hmac_challenge ch;
	struct auth_hmac_response r;
	int ret = -1;

	memset(&r, 0, sizeof(r));
	if (auth_hmac_challenge_parse(chal, len, &ch) != (int)len)
		goto out;
	/* The daemon names the private name it binds the answer to; when we
	 * asked for one, it must be ours. */
	if (private_name && *private_name &&
	    strncmp(private_name, ch.private_name, WIRE_MAX_PRIVATE) != 0)
		goto out;
	/* A client that knows which daemon it means refuses a challenge
	 * from another one (an impostor relaying to a daemon of its own
	 * choice). */
	if (daemon && *daemon && strcmp(daemon, ch.daemon) != 0)
		goto out;
	if (binding) {
		memcpy(ch.binding, binding, AUTH_HMAC_BINDING_LEN);
		ch.bound = 1;
	}
	memcpy(r.principal, k->principal, sizeof(r.principal));
	if (auth_hmac_compute(k->secret, k->secret_len, &ch, r.principal,
			      r.mac) != 0)
		goto out;
	*outlen = auth_hmac_response_encode(out, &r);
	ret = *outlen ? 0 : -1;
out:
	OPENSSL_cleanse(&ch, sizeof(ch));
	OPENSSL_cleanse(&r, sizeof(r));
	return ret;
}

/* The method function registered by chorus_set_auth_hmac(). The
 * handshake runs the exchange itself, with its deadline and the private
 * name (lib_handshake); called on its own, it runs without either. */
int lib_hmac_method(int fd, void *data)
{
	struct auth_key k;
	int ok;

	(void)data;
	lib_hmac_copy_key(&k);
	ok = lib_hmac_exchange(fd, &k, NULL, NULL);
	auth_key_clear(&k);
	return ok;
}
