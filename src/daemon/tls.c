/*
 * tls.c - TLS for chorusd's client connections, and the session I/O calls
 * that hide it (see tls.h).
 *
 * TLS 1.3 only (RFC 8446), through OpenSSL, on non-blocking sockets: every
 * OpenSSL call that reports SSL_ERROR_WANT_READ or SSL_ERROR_WANT_WRITE
 * returns to the event loop, which calls again when epoll reports the
 * socket ready. The server sends no session tickets, so after the
 * handshake every byte a client receives is application data (libchorus's
 * SP_poll relies on this).
 *
 * Writes: the session's output queue is gathered into the server's
 * scratch buffer and given to SSL_write. Bytes OpenSSL could not send at
 * once are copied to the connection's own pending buffer (OpenSSL needs
 * the same bytes again on the retry, which SSL_MODE_ACCEPT_MOVING_WRITE_
 * BUFFER lets come from another address) and count as taken; they go out
 * before anything new.
 */
#include "tls.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "proto/auth_hmac.h"
#include "sess.h"
#include "util/log.h"

#define TLS_SCRATCH (64 * 1024)

struct tls_server {
	SSL_CTX *ctx;
	struct tls_stats stats;
	uint8_t *scratch; /* TLS_SCRATCH bytes, for gathering writes */
};

struct tls_conn {
	SSL *ssl;
	int handshake_done;
	int failed;        /* a fatal error: no close_notify */
	uint8_t *pend;     /* taken bytes not yet accepted by OpenSSL */
	size_t pend_len, pend_off;
	struct tls_server *srv;
};

/* The oldest error in OpenSSL's queue as text, or `dflt`; clears it. */
static void ssl_err_text(char *buf, size_t len, const char *dflt)
{
	unsigned long e = ERR_get_error();

	if (e)
		ERR_error_string_n(e, buf, len);
	else
		snprintf(buf, len, "%s", dflt);
	ERR_clear_error();
}

/* Builds a context from the configured files. Returns it, or NULL with a
 * message in err. */
static SSL_CTX *ctx_load(const struct conf *c, char *err, size_t errlen)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	char e[256];

	ERR_clear_error();
	if (!ctx) {
		ssl_err_text(e, sizeof(e), "out of memory");
		snprintf(err, errlen, "TLS context: %s", e);
		return NULL;
	}
	if (!SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) ||
	    !SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION)) {
		ssl_err_text(e, sizeof(e), "TLS 1.3 unavailable");
		snprintf(err, errlen, "TLS context: %s", e);
		goto fail;
	}
	SSL_CTX_set_num_tickets(ctx, 0);
	/* A client that closes without close_notify has ended its session,
	 * as on the plain port (frames carry their lengths, so a cut frame
	 * is still seen as one). */
	SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
			      SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	if (SSL_CTX_use_certificate_chain_file(ctx, c->tls_cert_file) != 1) {
		ssl_err_text(e, sizeof(e), "unreadable");
		snprintf(err, errlen, "TlsCertificateFile %s: %s",
			 c->tls_cert_file, e);
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, c->tls_key_file,
					SSL_FILETYPE_PEM) != 1) {
		ssl_err_text(e, sizeof(e), "unreadable");
		snprintf(err, errlen, "TlsKeyFile %s: %s", c->tls_key_file, e);
		goto fail;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		ssl_err_text(e, sizeof(e), "mismatch");
		snprintf(err, errlen, "TlsKeyFile %s does not belong to the "
			 "certificate of %s: %s", c->tls_key_file,
			 c->tls_cert_file, e);
		goto fail;
	}
	if (c->tls_client_verify != CONF_TLS_VERIFY_NONE) {
		STACK_OF(X509_NAME) *names;
		int mode = SSL_VERIFY_PEER;

		if (SSL_CTX_load_verify_locations(ctx, c->tls_client_ca_file,
						  NULL) != 1 ||
		    !(names = SSL_load_client_CA_file(c->tls_client_ca_file))) {
			ssl_err_text(e, sizeof(e), "no certificate in it");
			snprintf(err, errlen, "TlsClientCAFile %s: %s",
				 c->tls_client_ca_file, e);
			goto fail;
		}
		SSL_CTX_set_client_CA_list(ctx, names);
		if (c->tls_client_verify == CONF_TLS_VERIFY_REQUIRED)
			mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
		SSL_CTX_set_verify(ctx, mode, NULL);
	}
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

struct tls_server *tls_server_new(const struct conf *c, char *err,
				  size_t errlen)
{
	struct tls_server *t = calloc(1, sizeof(*t));

	if (!t || !(t->scratch = malloc(TLS_SCRATCH))) {
		snprintf(err, errlen, "out of memory");
		free(t);
		return NULL;
	}
	t->ctx = ctx_load(c, err, errlen);
	if (!t->ctx) {
		free(t->scratch);
		free(t);
		return NULL;
	}
	return t;
}

int tls_server_reload(struct tls_server *t, const struct conf *c, char *err,
		      size_t errlen)
{
	SSL_CTX *ctx = ctx_load(c, err, errlen);

	if (!ctx) {
		t->stats.reload_failures++;
		return -1;
	}
	/* Open connections hold their own reference to the old context. */
	SSL_CTX_free(t->ctx);
	t->ctx = ctx;
	t->stats.reloads++;
	return 0;
}

const struct tls_stats *tls_server_stats(const struct tls_server *t)
{
	return &t->stats;
}

void tls_server_free(struct tls_server *t)
{
	if (!t)
		return;
	SSL_CTX_free(t->ctx);
	free(t->scratch);
	free(t);
}

int sio_tls_attach(struct tls_server *t, struct sess *s)
{
	struct tls_conn *c = calloc(1, sizeof(*c));

	if (!c)
		return -1;
	ERR_clear_error();
	c->ssl = SSL_new(t->ctx);
	if (!c->ssl || SSL_set_fd(c->ssl, s->fd) != 1) {
		SSL_free(c->ssl);
		free(c);
		ERR_clear_error();
		return -1;
	}
	c->srv = t;
	s->tls = c;
	return 0;
}

int sio_tls_binding(const struct sess *s, uint8_t *out)
{
	static const char label[] = AUTH_HMAC_EXPORTER_LABEL;

	if (!s->tls)
		return 0;
	if (!s->tls->handshake_done ||
	    SSL_export_keying_material(s->tls->ssl, out, AUTH_HMAC_BINDING_LEN,
				       label, sizeof(label) - 1, NULL, 0, 0) != 1)
		return -1;
	return 1;
}

int sio_tls_handshaking(const struct sess *s)
{
	return s->tls && !s->tls->handshake_done;
}

/* Whether every byte of a principal is printable ASCII other than a
 * blank, so that it can be logged and matched as it is. */
static int principal_ok(const unsigned char *p, int len)
{
	if (len <= 0 || len >= SESS_PRINCIPAL_MAX)
		return 0;
	for (int i = 0; i < len; i++)
		if (p[i] < 0x21 || p[i] > 0x7e)
			return 0;
	return 1;
}

/* The principal of a verified certificate: the subject's CN, else its
 * first DNS or e-mail alternative name. Returns 0, or -1 if none is
 * usable. */
static int cert_principal(X509 *x, char *out, size_t outlen)
{
	X509_NAME *subj = X509_get_subject_name(x);
	int i = subj ? X509_NAME_get_index_by_NID(subj, NID_commonName, -1) : -1;
	GENERAL_NAMES *sans;
	int ret = -1;

	if (i >= 0) {
		ASN1_STRING *d = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subj, i));
		unsigned char *u = NULL;
		int n = d ? ASN1_STRING_to_UTF8(&u, d) : -1;

		if (n > 0 && principal_ok(u, n) && (size_t)n < outlen) {
			memcpy(out, u, (size_t)n);
			out[n] = 0;
			ret = 0;
		}
		OPENSSL_free(u);
		if (ret == 0)
			return 0;
	}
	sans = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	for (int k = 0; sans && k < sk_GENERAL_NAME_num(sans) && ret; k++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(sans, k);
		const ASN1_IA5STRING *v = g->type == GEN_DNS ? g->d.dNSName :
					  g->type == GEN_EMAIL ? g->d.rfc822Name :
					  NULL;
		int n = v ? ASN1_STRING_length(v) : 0;

		if (v && principal_ok(ASN1_STRING_get0_data(v), n) &&
		    (size_t)n < outlen) {
			memcpy(out, ASN1_STRING_get0_data(v), (size_t)n);
			out[n] = 0;
			ret = 0;
		}
	}
	GENERAL_NAMES_free(sans);
	return ret;
}

int sio_tls_handshake(struct sess *s, int *want_write, char *err,
		      size_t errlen)
{
	struct tls_conn *c = s->tls;
	X509 *peer;
	int r, e;

	*want_write = 0;
	ERR_clear_error();
	r = SSL_accept(c->ssl);
	if (r != 1) {
		e = SSL_get_error(c->ssl, r);
		if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
			*want_write = e == SSL_ERROR_WANT_WRITE;
			return 0;
		}
		c->failed = 1;
		c->srv->stats.handshake_failures++;
		if (SSL_get_verify_result(c->ssl) != X509_V_OK) {
			snprintf(err, errlen, "client certificate refused: %s",
				 X509_verify_cert_error_string(
					 SSL_get_verify_result(c->ssl)));
			ERR_clear_error();
		} else if (e == SSL_ERROR_SYSCALL && !ERR_peek_error()) {
			snprintf(err, errlen, "%s", r == 0 || !errno ?
				 "connection closed during the TLS handshake" :
				 strerror(errno));
		} else {
			char t[200];

			ssl_err_text(t, sizeof(t), "TLS handshake failed");
			snprintf(err, errlen, "%s", t);
		}
		return -1;
	}
	c->handshake_done = 1;
	c->srv->stats.handshakes++;
	peer = SSL_get1_peer_certificate(c->ssl);
	if (peer && SSL_get_verify_result(c->ssl) == X509_V_OK) {
		if (cert_principal(peer, s->principal, sizeof(s->principal)) == 0) {
			c->srv->stats.verified_clients++;
		} else {
			s->principal[0] = 0;
			log_warnx("TLS client certificate verified but its "
				  "subject has no usable name (CN or DNS/e-mail "
				  "alternative name of printable characters): "
				  "no principal");
		}
	}
	X509_free(peer);
	log_debug(DBG_SECURITY, "TLS handshake done (fd %d, %s%s%s)", s->fd,
		  SSL_get_cipher_name(c->ssl), s->principal[0] ? ", principal " : "",
		  s->principal);
	return 1;
}

/* Maps an OpenSSL failure to errno: EAGAIN when it waits for the socket,
 * else EIO (or the system call's own errno), marking the link failed. */
static void tls_errno(struct tls_conn *c, int r)
{
	int e = SSL_get_error(c->ssl, r), saved = errno;

	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
		errno = EAGAIN;
		return;
	}
	c->failed = 1;
	if (e == SSL_ERROR_SYSCALL && saved && !ERR_peek_error())
		errno = saved;
	else
		errno = EIO;
	ERR_clear_error();
}

ssize_t sio_read(struct sess *s, void *buf, size_t len)
{
	struct tls_conn *c = s->tls;
	size_t got = 0;

	if (!c)
		return recv(s->fd, buf, len, MSG_DONTWAIT);
	/* Several records at once: each SSL_read returns at most one. */
	while (got < len) {
		size_t n = 0;
		int r;

		ERR_clear_error();
		r = SSL_read_ex(c->ssl, (uint8_t *)buf + got, len - got, &n);
		if (r == 1) {
			got += n;
			continue;
		}
		if (got)
			break; /* the error, or the end, comes on the next call */
		if (SSL_get_error(c->ssl, r) == SSL_ERROR_ZERO_RETURN) {
			ERR_clear_error();
			return 0;
		}
		tls_errno(c, r);
		return -1;
	}
	return (ssize_t)got;
}

/* Hands buf to OpenSSL until all is sent or it waits for the socket.
 * Returns the bytes sent, or -1 on a fatal error (errno set). */
static ssize_t tls_send(struct tls_conn *c, const uint8_t *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		size_t n = 0;
		int r;

		ERR_clear_error();
		r = SSL_write_ex(c->ssl, buf + done, len - done, &n);
		if (r == 1) {
			done += n;
			continue;
		}
		tls_errno(c, r);
		if (errno == EAGAIN)
			break;
		return -1;
	}
	return (ssize_t)done;
}

ssize_t sio_writev(struct sess *s, const struct iovec *iov, int n)
{
	struct tls_conn *c = s->tls;
	size_t take = 0;
	ssize_t w;

	if (!c)
		return writev(s->fd, iov, n);
	if (c->pend_len) {
		w = tls_send(c, c->pend + c->pend_off, c->pend_len - c->pend_off);
		if (w < 0)
			return -1;
		c->pend_off += (size_t)w;
		if (c->pend_off < c->pend_len) {
			errno = EAGAIN;
			return -1;
		}
		free(c->pend);
		c->pend = NULL;
		c->pend_len = c->pend_off = 0;
	}
	for (int i = 0; i < n && take < TLS_SCRATCH; i++) {
		size_t k = iov[i].iov_len < TLS_SCRATCH - take ?
			   iov[i].iov_len : TLS_SCRATCH - take;

		memcpy(c->srv->scratch + take, iov[i].iov_base, k);
		take += k;
	}
	if (take == 0)
		return 0;
	w = tls_send(c, c->srv->scratch, take);
	if (w < 0)
		return -1;
	if ((size_t)w < take) {
		c->pend = malloc(take - (size_t)w);
		if (!c->pend) {
			c->failed = 1;
			errno = ENOMEM;
			return -1;
		}
		memcpy(c->pend, c->srv->scratch + w, take - (size_t)w);
		c->pend_len = take - (size_t)w;
		c->pend_off = 0;
	}
	return (ssize_t)take;
}

int sio_pending_out(const struct sess *s)
{
	return s->tls && s->tls->pend_len > 0;
}

int sio_pending_in(const struct sess *s)
{
	return s->tls && s->tls->handshake_done && !s->tls->failed &&
	       SSL_pending(s->tls->ssl) > 0;
}

void sio_close(struct sess *s)
{
	struct tls_conn *c = s->tls;

	if (!c)
		return;
	if (c->handshake_done && !c->failed) {
		ERR_clear_error();
		(void)SSL_shutdown(c->ssl); /* best effort, never waits */
	}
	ERR_clear_error();
	SSL_free(c->ssl);
	free(c->pend);
	free(c);
	s->tls = NULL;
}
