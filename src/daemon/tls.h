/*
 * tls.h - TLS for chorusd's client connections (OpenSSL, TLS 1.3 only),
 * and the session I/O calls that hide whether a session is plain or TLS.
 *
 * A daemon with TlsPort set listens on that port too; a connection
 * accepted there gets a struct tls_conn and first runs the TLS handshake,
 * without blocking, inside the session's handshake deadline. Then the
 * Spread handshake and the frames run inside TLS unchanged. A verified
 * client certificate names the session's principal (its subject CN, else
 * its first DNS or e-mail subject alternative name).
 *
 * Ownership: struct chd owns one struct tls_server (tls_server_new,
 * tls_server_free); a session owns its struct tls_conn (sio_tls_attach
 * creates it, sio_close frees it). The server's context is reference
 * counted by OpenSSL, so a reload replaces it while connections made
 * with the old one keep theirs.
 */
#ifndef CHORUS_TLS_H
#define CHORUS_TLS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "conf.h"

struct chd;
struct sess;
struct tls_server;
struct tls_conn;

/* Counters of the TLS listener, for the log and for tests. */
struct tls_stats {
	uint64_t handshakes, handshake_failures, verified_clients, reloads,
		reload_failures;
};

/* Loads the certificate, key and (when verifying clients) CA file named
 * in c. Returns the server, or NULL with a message in err. */
struct tls_server *tls_server_new(const struct conf *c, char *err,
				  size_t errlen);
/* Loads the files again; on success new connections use them, on
 * failure the old ones stay and err says why. Returns 0 or -1. */
int tls_server_reload(struct tls_server *t, const struct conf *c, char *err,
		      size_t errlen);
const struct tls_stats *tls_server_stats(const struct tls_server *t);
void tls_server_free(struct tls_server *t);

/* Makes s, just accepted on the TLS port, a TLS session. Returns 0, or
 * -1 (out of memory; the caller ends the session). */
int sio_tls_attach(struct tls_server *t, struct sess *s);
/* Whether s still runs its TLS handshake. */
int sio_tls_handshaking(const struct sess *s);
/* Advances the TLS handshake of s. Returns 1 when it is complete (the
 * principal is set if the client showed a verified certificate), 0 while
 * it waits for the socket (*want_write: for writing), -1 when it failed,
 * with the reason in err. */
int sio_tls_handshake(struct sess *s, int *want_write, char *err,
		      size_t errlen);

/* The channel binding of a TLS session for the HMAC method: the TLS
 * exporter value under AUTH_HMAC_EXPORTER_LABEL (out has
 * AUTH_HMAC_BINDING_LEN bytes). Returns 1 with out filled, 0 for a plain
 * session, -1 if OpenSSL failed. */
int sio_tls_binding(const struct sess *s, uint8_t *out);

/* Reads up to len bytes. Returns the count, 0 at the end of the stream,
 * or -1 with errno (EAGAIN: nothing now). */
ssize_t sio_read(struct sess *s, void *buf, size_t len);
/* Writes from iov[0..n). Returns the bytes taken, or -1 with errno
 * (EAGAIN: nothing taken now). A TLS session may keep taken bytes that
 * the socket did not accept: sio_pending_out() then says so, and they
 * go out first on the next call (n may be 0). */
ssize_t sio_writev(struct sess *s, const struct iovec *iov, int n);
int sio_pending_out(const struct sess *s);
/* Whether bytes were read from the socket but not returned yet, which
 * epoll cannot see. */
int sio_pending_in(const struct sess *s);
/* Ends the TLS layer of s (a close_notify when the link is healthy) and
 * frees it; the caller closes the socket. */
void sio_close(struct sess *s);

#endif /* CHORUS_TLS_H */
