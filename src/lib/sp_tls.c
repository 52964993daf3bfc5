/*
 * sp_tls.c - TLS 1.3 links to a daemon's TLS port (a Chorus extension;
 * libchorus(3), section TLS).
 *
 * An address "tls:PORT@HOST" makes SP_connect run a TLS handshake on the
 * new socket before the Spread handshake, which then runs inside TLS
 * unchanged. The server's certificate must chain to the configured CA
 * file (or the system's CAs) and name HOST (a DNS name, or an IP address
 * in an IP subject alternative name). A client certificate and key are
 * shown when configured (chorus_set_tls, or the environment variables
 * CHORUS_TLS_CA, CHORUS_TLS_CERT and CHORUS_TLS_KEY).
 *
 * The mailbox stays its socket descriptor. A table indexed by descriptor
 * says which descriptors carry TLS; sp_io.c looks there first, so every
 * read and write of the library, the handshake included, goes through
 * TLS on such a mailbox. The table has two levels, pages allocated once
 * and never freed, so a lookup is two atomic loads and takes no lock.
 *
 * Threads: one thread may send while another receives, as on a plain
 * mailbox. OpenSSL allows one call at a time on a connection, so each
 * has a mutex that is held only inside OpenSSL calls, never while
 * waiting: the socket is made non-blocking and the library waits with
 * poll() between calls.
 */
#include "lib.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#define TLS_PAGE_BITS 10
#define TLS_PAGE (1 << TLS_PAGE_BITS)
#define TLS_PAGES (LIB_MAX_FD / TLS_PAGE)
#define TLS_GATHER 16384 /* one TLS record */
#ifdef MSG_NOSIGNAL
#define LIB_SEND_FLAGS MSG_NOSIGNAL
#else
#define LIB_SEND_FLAGS 0 /* sp_session.c ignores SIGPIPE instead */
#endif

struct lib_tls {
	SSL *ssl;
	int fd;
	pthread_mutex_t lock; /* around every OpenSSL call on ssl */
	uint8_t wbuf[TLS_GATHER]; /* small iovec elements, gathered; under
				   * the mailbox's send lock */
};

static struct lib_tls **tls_pages[TLS_PAGES];

/* Settings of chorus_set_tls and the context built from them, under
 * cfg_lock. */
static pthread_mutex_t cfg_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
	int set; /* chorus_set_tls was called */
	char ca[LIB_TLS_PATH_MAX], cert[LIB_TLS_PATH_MAX], key[LIB_TLS_PATH_MAX];
	SSL_CTX *ctx;
} cfg;

/* A socket BIO that sends with MSG_NOSIGNAL: OpenSSL's own writes with
 * write(), which would raise SIGPIPE in the application when a daemon
 * goes away (libchorus(3), Signals). Made once, never freed. */
static pthread_once_t bio_once = PTHREAD_ONCE_INIT;
static BIO_METHOD *bio_meth;

static int bio_fd(BIO *b)
{
	return (int)(intptr_t)BIO_get_data(b);
}

static int bio_write(BIO *b, const char *buf, int len)
{
	ssize_t r = send(bio_fd(b), buf, (size_t)len, LIB_SEND_FLAGS);

	BIO_clear_retry_flags(b);
	if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		BIO_set_retry_write(b);
	return (int)r;
}

static int bio_read(BIO *b, char *buf, int len)
{
	ssize_t r = recv(bio_fd(b), buf, (size_t)len, 0);

	BIO_clear_retry_flags(b);
	if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		BIO_set_retry_read(b);
	return (int)r;
}

static long bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	(void)b;
	(void)num;
	(void)ptr;
	return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

static int bio_create(BIO *b)
{
	BIO_set_init(b, 1);
	return 1;
}

static void bio_make(void)
{
	BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK |
				     BIO_TYPE_DESCRIPTOR, "chorus socket");

	if (m && BIO_meth_set_write(m, bio_write) && BIO_meth_set_read(m, bio_read) &&
	    BIO_meth_set_ctrl(m, bio_ctrl) && BIO_meth_set_create(m, bio_create))
		bio_meth = m;
	else
		BIO_meth_free(m);
}

/* Gives ssl a BIO on fd. Returns 0 or -1. */
static int bio_attach(SSL *ssl, int fd)
{
	BIO *b;

	pthread_once(&bio_once, bio_make);
	if (!bio_meth || !(b = BIO_new(bio_meth)))
		return -1;
	BIO_set_data(b, (void *)(intptr_t)fd);
	SSL_set_bio(ssl, b, b); /* ssl owns it now */
	return 0;
}

/* The reason of the last TLS failure of this thread, for
 * chorus_tls_error(). */
static __thread char tls_err[256];

static void set_err(const char *what)
{
	unsigned long e = ERR_get_error();
	char buf[160];

	if (e) {
		ERR_error_string_n(e, buf, sizeof(buf));
		snprintf(tls_err, sizeof(tls_err), "%s: %s", what, buf);
	} else {
		snprintf(tls_err, sizeof(tls_err), "%s", what);
	}
	ERR_clear_error();
}

const char *chorus_tls_error(void)
{
	return tls_err;
}

struct lib_tls *lib_tls_of(int fd)
{
	struct lib_tls **page;

	if (fd < 0 || fd >= LIB_MAX_FD)
		return NULL;
	page = __atomic_load_n(&tls_pages[fd >> TLS_PAGE_BITS], __ATOMIC_ACQUIRE);
	if (!page)
		return NULL;
	return __atomic_load_n(&page[fd & (TLS_PAGE - 1)], __ATOMIC_ACQUIRE);
}

/* Stores t (or NULL) for fd. Returns 0, or -1 when a page cannot be
 * allocated. */
static int tls_store(int fd, struct lib_tls *t)
{
	struct lib_tls ***slot = &tls_pages[fd >> TLS_PAGE_BITS];
	struct lib_tls **page = __atomic_load_n(slot, __ATOMIC_ACQUIRE);

	if (!page) {
		struct lib_tls **fresh = calloc(TLS_PAGE, sizeof(*fresh));

		if (!fresh)
			return -1;
		if (!__atomic_compare_exchange_n(slot, &page, fresh, 0,
						 __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
			free(fresh); /* another thread was first */
		else
			page = fresh;
	}
	__atomic_store_n(&page[fd & (TLS_PAGE - 1)], t, __ATOMIC_RELEASE);
	return 0;
}

static SSL_CTX *ctx_build(void);

/* Copies an optional path, taking the environment variable when it is
 * NULL. Returns 0, or -1 if too long. */
static int pick_path(char *dst, const char *v, const char *env)
{
	if (!v)
		v = secure_getenv(env);
	if (!v)
		v = "";
	if (strlen(v) >= LIB_TLS_PATH_MAX)
		return -1;
	strcpy(dst, v);
	return 0;
}

int chorus_set_tls(const char *ca_file, const char *cert_file,
		   const char *key_file)
{
	char ca[LIB_TLS_PATH_MAX], cert[LIB_TLS_PATH_MAX], key[LIB_TLS_PATH_MAX];

	if (pick_path(ca, ca_file, "CHORUS_TLS_CA") ||
	    pick_path(cert, cert_file, "CHORUS_TLS_CERT") ||
	    pick_path(key, key_file, "CHORUS_TLS_KEY")) {
		snprintf(tls_err, sizeof(tls_err), "a TLS file path is too long");
		return ILLEGAL_SPREAD;
	}
	if (!cert[0] != !key[0]) {
		snprintf(tls_err, sizeof(tls_err), "a client certificate needs "
			 "its key, and a key its certificate");
		return ILLEGAL_SPREAD;
	}
	pthread_mutex_lock(&cfg_lock);
	cfg.set = 1;
	memcpy(cfg.ca, ca, sizeof(ca));
	memcpy(cfg.cert, cert, sizeof(cert));
	memcpy(cfg.key, key, sizeof(key));
	SSL_CTX_free(cfg.ctx); /* connections keep their own reference */
	/* The files are read now, while the caller may still be privileged
	 * (a program that drops privileges later keeps them). */
	tls_err[0] = 0;
	cfg.ctx = ctx_build();
	pthread_mutex_unlock(&cfg_lock);
	return cfg.ctx ? 0 : ILLEGAL_SPREAD;
}

/* Builds the client context from the settings. cfg_lock held. Returns
 * it, or NULL with the reason in tls_err. */
static SSL_CTX *ctx_build(void)
{
	SSL_CTX *ctx;

	if (!cfg.set && (pick_path(cfg.ca, NULL, "CHORUS_TLS_CA") ||
			 pick_path(cfg.cert, NULL, "CHORUS_TLS_CERT") ||
			 pick_path(cfg.key, NULL, "CHORUS_TLS_KEY"))) {
		snprintf(tls_err, sizeof(tls_err), "a CHORUS_TLS_* path is too long");
		return NULL;
	}
	ERR_clear_error();
	ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx) {
		set_err("TLS context");
		return NULL;
	}
	if (!SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) ||
	    !SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION)) {
		set_err("TLS 1.3 unavailable");
		goto fail;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	if (cfg.ca[0] ? SSL_CTX_load_verify_locations(ctx, cfg.ca, NULL) != 1
		      : SSL_CTX_set_default_verify_paths(ctx) != 1) {
		char w[LIB_TLS_PATH_MAX + 32];

		snprintf(w, sizeof(w), "CA file %s", cfg.ca[0] ? cfg.ca : "(system)");
		set_err(w);
		goto fail;
	}
	if (cfg.cert[0] &&
	    (SSL_CTX_use_certificate_chain_file(ctx, cfg.cert) != 1 ||
	     SSL_CTX_use_PrivateKey_file(ctx, cfg.key, SSL_FILETYPE_PEM) != 1 ||
	     SSL_CTX_check_private_key(ctx) != 1)) {
		char w[2 * LIB_TLS_PATH_MAX + 40];

		snprintf(w, sizeof(w), "client certificate %s, key %s", cfg.cert,
			 cfg.key);
		set_err(w);
		goto fail;
	}
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

/* Waits for what OpenSSL asked for after a call that returned r. Returns
 * 0 to call again, -1 on a fatal error (reason in tls_err) or when the
 * deadline passed. The connection's lock is not held. */
static int tls_wait(struct lib_tls *t, int e, const struct timespec *dl,
		    const char *what)
{
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
		if (lib_io_wait(t->fd, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT,
				dl) == 0)
			return 0;
		snprintf(tls_err, sizeof(tls_err), "%s: timed out", what);
		return -1;
	}
	if (e == SSL_ERROR_ZERO_RETURN)
		snprintf(tls_err, sizeof(tls_err), "%s: closed by the daemon", what);
	else if (e == SSL_ERROR_SYSCALL && !ERR_peek_error())
		snprintf(tls_err, sizeof(tls_err), "%s: %s", what,
			 errno ? strerror(errno) : "connection closed");
	else
		set_err(what);
	ERR_clear_error();
	return -1;
}

/* Whether tls_err is a refusal of our certificate by the daemon (an
 * alert that names a certificate problem). */
int lib_tls_auth_refused(void)
{
	static const char *const alerts[] = {
		"alert bad certificate", "alert unknown ca",
		"alert certificate expired", "alert certificate required",
		"alert certificate unknown", "alert certificate revoked",
		"alert unsupported certificate", "alert access denied",
	};

	for (size_t i = 0; i < sizeof(alerts) / sizeof(alerts[0]); i++)
		if (strstr(tls_err, alerts[i]))
			return 1;
	return 0;
}

/* Frees t after taking it out of the table. */
static void tls_free(struct lib_tls *t)
{
	tls_store(t->fd, NULL);
	SSL_free(t->ssl);
	pthread_mutex_destroy(&t->lock);
	free(t);
}

int lib_tls_start(int fd, const char *host, const struct timespec *dl)
{
	struct in6_addr a6;
	struct lib_tls *t;
	SSL_CTX *ctx;
	int flags, is_ip;

	tls_err[0] = 0;
	pthread_mutex_lock(&cfg_lock);
	if (!cfg.ctx)
		cfg.ctx = ctx_build();
	ctx = cfg.ctx;
	if (ctx)
		SSL_CTX_up_ref(ctx);
	pthread_mutex_unlock(&cfg_lock);
	if (!ctx)
		return COULD_NOT_CONNECT;
	t = calloc(1, sizeof(*t));
	if (!t) {
		SSL_CTX_free(ctx);
		return SP_BUG;
	}
	t->fd = fd;
	pthread_mutex_init(&t->lock, NULL);
	ERR_clear_error();
	t->ssl = SSL_new(ctx);
	SSL_CTX_free(ctx); /* the connection holds its own reference */
	is_ip = inet_pton(AF_INET, host, &a6) == 1 ||
		inet_pton(AF_INET6, host, &a6) == 1;
	if (!t->ssl || bio_attach(t->ssl, fd) != 0 ||
	    (is_ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(t->ssl), host) != 1
		   : (SSL_set1_host(t->ssl, host) != 1 ||
		      SSL_set_tlsext_host_name(t->ssl, host) != 1))) {
		set_err("TLS set-up");
		SSL_free(t->ssl);
		pthread_mutex_destroy(&t->lock);
		free(t);
		return SP_BUG;
	}
	flags = fcntl(fd, F_GETFL);
	if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0 ||
	    tls_store(fd, t) != 0) {
		snprintf(tls_err, sizeof(tls_err), "TLS set-up: %s", strerror(errno));
		SSL_free(t->ssl);
		pthread_mutex_destroy(&t->lock);
		free(t);
		return SP_BUG;
	}
	for (;;) {
		int r, e;

		ERR_clear_error();
		r = SSL_connect(t->ssl);
		if (r == 1)
			return 0;
		e = SSL_get_error(t->ssl, r);
		if (SSL_get_verify_result(t->ssl) != X509_V_OK) {
			snprintf(tls_err, sizeof(tls_err),
				 "daemon certificate refused: %s",
				 X509_verify_cert_error_string(
					 SSL_get_verify_result(t->ssl)));
			ERR_clear_error();
			tls_free(t);
			return REJECT_AUTH;
		}
		if (tls_wait(t, e, dl, "TLS handshake") != 0) {
			int refused = lib_tls_auth_refused();

			tls_free(t);
			return refused ? REJECT_AUTH : COULD_NOT_CONNECT;
		}
	}
}

void lib_tls_forget(int fd)
{
	if (lib_tls_of(fd))
		tls_store(fd, NULL);
}

/* No close_notify: SP_disconnect has already said goodbye in a Spread
 * frame, and SP_kill in a child that inherited the mailbox must not
 * disturb the parent's link (libchorus(3)). Spread frames carry their
 * lengths, so a cut stream is seen as such. */
void lib_tls_close(int fd)
{
	struct lib_tls *t = lib_tls_of(fd);

	if (t)
		tls_free(t);
}

/* Writes len bytes of buf whole (OpenSSL keeps its place across
 * retries of the same buffer). Returns 0 or -1. */
static int tls_write_all(struct lib_tls *t, const uint8_t *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		size_t n = 0;
		int r, e = 0;

		pthread_mutex_lock(&t->lock);
		ERR_clear_error();
		r = SSL_write_ex(t->ssl, buf + done, len - done, &n);
		if (r != 1)
			e = SSL_get_error(t->ssl, r);
		pthread_mutex_unlock(&t->lock);
		if (r == 1)
			done += n;
		else if (tls_wait(t, e, NULL, "TLS write") != 0)
			goto refused;
	}
	return 0;
refused:
	/* A daemon that refused our certificate sent an alert and closed;
	 * the write may meet the reset first. The alert, still readable,
	 * says why. */
	pthread_mutex_lock(&t->lock);
	{
		uint8_t b;
		size_t n = 0;

		ERR_clear_error();
		if (SSL_read_ex(t->ssl, &b, 1, &n) != 1 && ERR_peek_error())
			set_err("TLS");
		ERR_clear_error();
	}
	pthread_mutex_unlock(&t->lock);
	return -1;
}

int lib_tls_writev(struct lib_tls *t, const struct iovec *iov, int n)
{
	size_t have = 0;

	for (int i = 0; i < n; i++) {
		const uint8_t *p = iov[i].iov_base;
		size_t len = iov[i].iov_len;

		if (have + len <= TLS_GATHER) {
			memcpy(t->wbuf + have, p, len);
			have += len;
			continue;
		}
		if (have && tls_write_all(t, t->wbuf, have) != 0)
			goto fail;
		have = 0;
		if (len <= TLS_GATHER) {
			memcpy(t->wbuf, p, len);
			have = len;
		} else if (tls_write_all(t, p, len) != 0) {
			goto fail;
		}
	}
	if (have && tls_write_all(t, t->wbuf, have) != 0)
		goto fail;
	return 0;
fail:
	errno = EIO;
	return -1;
}

ssize_t lib_tls_read(struct lib_tls *t, void *buf, size_t len,
		     const struct timespec *dl)
{
	for (;;) {
		size_t n = 0;
		int r, e = 0;

		pthread_mutex_lock(&t->lock);
		ERR_clear_error();
		r = SSL_read_ex(t->ssl, buf, len, &n);
		if (r != 1)
			e = SSL_get_error(t->ssl, r);
		pthread_mutex_unlock(&t->lock);
		if (r == 1)
			return (ssize_t)n;
		if (tls_wait(t, e, dl, "TLS read") != 0)
			return -1;
	}
}

ssize_t lib_tls_read_some(struct lib_tls *t, const struct iovec *iov, int n)
{
	for (;;) {
		size_t got = 0;
		int i = 0, r = 1, e = 0;

		pthread_mutex_lock(&t->lock);
		/* The first element from the socket; more only while OpenSSL
		 * holds decrypted bytes, so that no read waits. */
		while (i < n && r == 1 && (got == 0 || SSL_pending(t->ssl) > 0)) {
			size_t k = 0;

			if (iov[i].iov_len == 0) {
				i++;
				continue;
			}
			ERR_clear_error();
			r = SSL_read_ex(t->ssl, iov[i].iov_base, iov[i].iov_len, &k);
			if (r != 1) {
				if (!got)
					e = SSL_get_error(t->ssl, r);
				ERR_clear_error();
				break;
			}
			got += k;
			if (k == iov[i].iov_len)
				i++;
			else
				break; /* the element is not full: nothing pending */
		}
		pthread_mutex_unlock(&t->lock);
		if (got)
			return (ssize_t)got;
		if (i == n)
			return 0;
		if (tls_wait(t, e, NULL, "TLS read") != 0)
			return -1;
	}
}

int lib_tls_binding(struct lib_tls *t, uint8_t *out)
{
	static const char label[] = AUTH_HMAC_EXPORTER_LABEL;
	int r;

	pthread_mutex_lock(&t->lock);
	r = SSL_export_keying_material(t->ssl, out, AUTH_HMAC_BINDING_LEN, label,
				       sizeof(label) - 1, NULL, 0, 0);
	pthread_mutex_unlock(&t->lock);
	return r == 1 ? 0 : -1;
}

size_t lib_tls_pending(struct lib_tls *t)
{
	int n;

	pthread_mutex_lock(&t->lock);
	n = SSL_pending(t->ssl);
	pthread_mutex_unlock(&t->lock);
	return n > 0 ? (size_t)n : 0;
}
