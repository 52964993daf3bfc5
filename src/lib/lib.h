/*
 * lib.h - internal interface between the modules of libchorus.
 *
 * libchorus is the client side of the Spread-4 client protocol
 * (docs/client-protocol.md sections 3 to 6 and 10). Its modules are:
 *
 *   sp_session.c  the mailbox table, per-mailbox locks, fork handlers
 *   sp_io.c       whole-buffer socket reads and writes (EINTR, EAGAIN,
 *                 deadlines, MSG_NOSIGNAL)
 *   sp_connect.c  address strings, the handshake, the auth registry
 *   sp_send.c     join, leave, the four multicasts, disconnect
 *   sp_recv.c     SP_receive, SP_scat_receive, SP_poll, read-ahead
 *   sp_memb.c     membership-body parsers and their scatter twins
 *   sp_error.c    SP_error and chorus_strerror
 *   sp_tls.c      TLS links ("tls:" addresses) under sp_io.c's calls
 *
 * Internal names start with lib_; public ones are SP_* (sp.h) and
 * chorus_* (chorus.h). The public headers are included with default
 * visibility so that the shared library, built with -fvisibility=hidden,
 * exports exactly the API.
 */
#ifndef CHORUS_LIB_H
#define CHORUS_LIB_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>

#pragma GCC visibility push(default)
#include "sp.h"
#include "chorus.h"
#pragma GCC visibility pop

#include "proto/auth_hmac.h"
#include "proto/wire.h"

/* Spread keeps these out of <sp.h>; so do we. */
#define SPREAD_MAJOR_VERSION 4
#define SPREAD_MINOR_VERSION 4
#define SPREAD_PATCH_VERSION 0
#define MAX_AUTH_NAME 30
#define MAX_AUTH_METHODS 3

/* Most mailboxes open at once in one process (Spread: 1024). */
#ifndef CHORUS_MAX_SESSIONS
#define CHORUS_MAX_SESSIONS CHORUS_SESSION_LIMIT
#endif
/* Mailboxes are indexed by descriptor; larger descriptors are refused. */
#define LIB_MAX_FD (1 << 20)

/* Largest data + 32 * groups a send accepts. The Spread-compatible default
 * is 144000; -DCHORUS_MAX_MESSAGE_BODY=143152 gives the limit that a real
 * 4.4 daemon can carry without aborting (spec section 4.7, question Q2). */
#ifndef CHORUS_MAX_MESSAGE_BODY
#define CHORUS_MAX_MESSAGE_BODY CHORUS_MAX_MESSAGE_BODY_LEN
#endif

/* Directory of the daemon's Unix socket, "<dir>/<port>". */
#ifndef CHORUS_UNIX_DIR
#define CHORUS_UNIX_DIR "/tmp"
#endif

/* Size of the per-mailbox read-ahead buffer (chorus_set_readahead). */
#define LIB_RA_CAP (256 * 1024)

/* One mailbox. Created by lib_sess_add(), which hands one reference to the
 * table; lib_sess_get() adds one for the caller. The last lib_sess_put()
 * after lib_sess_remove() closes the socket and frees the struct, so a
 * descriptor is never closed (and so never reused) while a thread of this
 * process still works on it. */
struct lib_sess {
	int fd;
	int refs;   /* under the global lock */
	int dead;   /* atomic: removed from the table */
	int broken; /* atomic: an I/O error desynchronised the stream */
	pthread_mutex_t send_lock;
	pthread_mutex_t recv_lock;
	char private_group[WIRE_NAME_LEN]; /* NUL-terminated, read-only */

	/* Send coalescing (chorus_set_send_buffer), under send_lock: frames
	 * not yet written, sbuf_len of sbuf_cap bytes. */
	uint8_t *sbuf;
	size_t sbuf_len, sbuf_cap;

	/* Receive state, under recv_lock. */
	int saved; /* saved_hdr holds a header whose body is unread */
	uint8_t saved_hdr[WIRE_HDR_LEN];
	int readahead;
	uint8_t *ra_buf; /* LIB_RA_CAP bytes, or NULL */
	size_t ra_off, ra_len;
	/* atomic: bytes the library holds (saved header + read-ahead),
	 * added to FIONREAD by SP_poll without taking recv_lock. */
	size_t held;
};

/* ---- sp_session.c ---- */

/* Runs the one-time set-up (fork handlers, SIGPIPE fallback, default
 * auth registry). Every public entry point that touches global state
 * calls it first. */
void lib_init(void);
void lib_lock(void);
void lib_unlock(void);

/* Registers the connected socket fd under the private group name pg.
 * Returns 0, REJECT_QUOTA at the session limit, or SP_BUG when memory
 * runs out. The caller keeps ownership of fd on failure. */
int lib_sess_add(int fd, const char *pg);
/* Returns the session of mailbox m with a new reference, or NULL. */
struct lib_sess *lib_sess_get(mailbox m);
/* Drops a reference from lib_sess_get(); s may be freed. */
void lib_sess_put(struct lib_sess *s);
/* Takes mailbox m out of the table and drops the table's reference.
 * Returns 0 or ILLEGAL_SESSION. */
int lib_sess_remove(mailbox m);
void lib_sess_break(struct lib_sess *s);
int lib_sess_broken(struct lib_sess *s);
int lib_sess_dead(struct lib_sess *s);
/* Test hook: sets the session limit; returns the old one. */
int lib_sess_set_limit(int limit);

/* ---- sp_send.c ---- */

/* Writes the frames held by send coalescing, if any. Takes the send lock.
 * Returns 0, or CONNECTION_CLOSED (the session is then broken). */
int lib_send_flush(struct lib_sess *s);

/* ---- sp_io.c ---- */

/* Absolute CLOCK_MONOTONIC deadline `ms` milliseconds from now. */
void lib_deadline(struct timespec *dl, long long ms);
/* Milliseconds left until dl (0 when past), or -1 when dl is NULL. */
int lib_ms_left(const struct timespec *dl);
/* Waits until fd is ready for events (POLLIN, POLLOUT) or the deadline
 * (NULL: none) passes. Returns 0 when ready, -1 on timeout or error. */
int lib_io_wait(int fd, short events, const struct timespec *dl);
/* Sends every byte of iov[0..n), which it modifies. Returns 0, or -1 with
 * errno set. Never raises SIGPIPE. */
int lib_io_writev(int fd, struct iovec *iov, int n);
int lib_io_write(int fd, const void *buf, size_t len);
/* Reads exactly the bytes of iov[0..n), which it modifies, waiting with
 * poll() when the socket is non-blocking or a deadline is given (NULL:
 * none). Returns 0, or -1 on EOF, error or timeout. */
int lib_io_readv(int fd, struct iovec *iov, int n,
		 const struct timespec *deadline);
int lib_io_read(int fd, void *buf, size_t len,
		const struct timespec *deadline);
/* One readv() into iov[0..n), waiting until at least one byte arrives.
 * Returns the byte count, or -1 on EOF or error. */
ssize_t lib_io_read_some(int fd, struct iovec *iov, int n);
/* Moves the start of iov[0..n) forward by done bytes; returns the index
 * of the first element that still has bytes. */
int lib_iov_advance(struct iovec *iov, int n, size_t done);

/* ---- sp_connect.c ---- */

/* Turns a daemon address string (spec section 2.3, plus "/path") into a
 * socket address. Returns 0 or ILLEGAL_SPREAD. */
int lib_addr_parse(const char *spec, struct sockaddr_storage *ss,
		   socklen_t *len);
/* Runs the client side of the handshake on the connected socket fd.
 * On ACCEPT_SESSION, pg holds the NUL-terminated private group name.
 * Returns ACCEPT_SESSION or a negative code. Does not close fd. */
int lib_handshake(int fd, const char *private_name, int priority,
		  int membership, char pg[WIRE_NAME_LEN],
		  const struct timespec *deadline);

/* ---- sp_auth.c ---- */

/* The HMAC method's function, as chorus_set_auth_hmac() registers it;
 * lib_handshake() recognises it and runs lib_hmac_exchange() instead,
 * with its deadline and private name. Returns 1 or 0 (SP auth style). */
int lib_hmac_method(int fd, void *data);
/* The key of CHORUS_HMAC_KEY_FILE: 0 if the variable is unset or empty,
 * 1 with *k filled, -1 if the file cannot be used. */
int lib_hmac_env_key(struct auth_key *k);
/* Copies the key of chorus_set_auth_hmac() (zeroes if none was set). */
void lib_hmac_copy_key(struct auth_key *k);
/* Reads the daemon's challenge from fd and answers it with key k; the
 * daemon's verdict follows. Returns 1 if the answer went out, else 0. */
int lib_hmac_exchange(int fd, const struct auth_key *k,
		      const char *private_name, const struct timespec *dl);
/* The pure part: answers the complete challenge chal[0..len) into out
 * (AUTH_HMAC_RESPONSE_MAX bytes), with the TLS channel binding in the
 * transcript when binding is not NULL (AUTH_HMAC_BINDING_LEN bytes).
 * Refuses a malformed challenge, one bound to another private name than
 * the one asked for (if any) and one from another daemon than the one
 * expected (daemon; NULL or "": any). Returns 0 or -1. */
int lib_hmac_respond(const uint8_t *chal, size_t len, const struct auth_key *k,
		     const char *private_name, const char *daemon,
		     const uint8_t *binding, uint8_t *out, size_t *outlen);

/* ---- sp_tls.c ---- */

#define LIB_TLS_PATH_MAX 4096
struct lib_tls;

/* The TLS link of descriptor fd, or NULL for a plain one. Lock-free. */
struct lib_tls *lib_tls_of(int fd);
/* Runs the TLS handshake on the connected socket fd (made non-blocking)
 * and checks that the daemon's certificate names host. Returns 0, or
 * COULD_NOT_CONNECT, REJECT_AUTH (a certificate was refused) or SP_BUG,
 * with the reason for chorus_tls_error(); then fd is plain again. */
int lib_tls_start(int fd, const char *host, const struct timespec *dl);
/* Frees the TLS link of fd, if any, without a close_notify; the caller
 * closes fd. */
void lib_tls_close(int fd);
/* Forgets, without freeing, a TLS link left on descriptor fd by a
 * mailbox whose socket the application closed behind the library's back
 * (a thread may still hold it); fd is a new socket now. */
void lib_tls_forget(int fd);
/* Whether the last TLS failure of this thread was the daemon refusing
 * our certificate. */
int lib_tls_auth_refused(void);
/* Writes every byte of iov[0..n). Returns 0, or -1 (errno EIO). */
int lib_tls_writev(struct lib_tls *t, const struct iovec *iov, int n);
/* Reads at least one byte, at most len, waiting until the deadline
 * (NULL: none). Returns the count, or -1 on the end, an error or the
 * deadline. */
ssize_t lib_tls_read(struct lib_tls *t, void *buf, size_t len,
		     const struct timespec *dl);
/* Reads what has arrived, at least one byte, into iov[0..n) in order:
 * the elements after the first are filled only from bytes OpenSSL
 * already holds. Returns the count, or -1 as lib_tls_read. */
ssize_t lib_tls_read_some(struct lib_tls *t, const struct iovec *iov, int n);
/* The channel binding of the HMAC method (the TLS exporter value under
 * AUTH_HMAC_EXPORTER_LABEL, AUTH_HMAC_BINDING_LEN bytes). Returns 0 or
 * -1. */
int lib_tls_binding(struct lib_tls *t, uint8_t *out);
/* Decrypted bytes OpenSSL holds for the reader. */
size_t lib_tls_pending(struct lib_tls *t);

/* ---- sp_memb.c ---- */

/* A read-only or writable byte string made of iovecs; len is the number
 * of addressable bytes (the sum of the elements, or a clamp for a bare
 * pointer of unknown length). */
struct lib_view {
	const struct iovec *iov;
	int n;
	size_t len;
};

/* Validates a received regular-membership body of len bytes spread over
 * iov[0..n) (defect L8) and, if swap, converts its integers to host
 * order. Beyond wire_memb_body_fix(), it requires what SP_get_memb_info()
 * reads for a message of type `type`: at least one vs set, and for a
 * join, leave or disconnect a first set with a member in it. Returns 0,
 * ILLEGAL_MESSAGE if malformed, SP_BUG if memory ran out. */
int lib_memb_fix(const struct iovec *iov, int n, size_t len, int swap,
		 uint32_t type);
/* Byte-swaps, in place, the integers of a membership body of which only
 * the first `have` bytes were received; stops at the first incomplete
 * integer. */
void lib_memb_swap_prefix(const struct iovec *iov, int n, size_t have);
/* Byte-swaps the complete 32-bit words among the first `have` (at most
 * 12) bytes: the group id that is the whole body of a transitional
 * message. */
void lib_memb_swap_gid(const struct iovec *iov, int n, size_t have);

#endif /* CHORUS_LIB_H */
