/*
 * chorus.h - extensions of libchorus that Spread does not have.
 *
 * Programs that must stay portable to Spread include only <sp.h>. The
 * calls here are described in libchorus(3), SP_receive(3), SP_poll(3) and
 * SP_error(3).
 */
#ifndef CHORUS_H
#define CHORUS_H

#include "sp.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Most mailboxes one process may hold open at once (Spread allows 1024). */
#define CHORUS_SESSION_LIMIT 16384

/* Data plus 32 bytes per destination group may not exceed this in one
 * message (the limit of Spread's library). */
#define CHORUS_MAX_MESSAGE_BODY_LEN (100 * (1472 - 32))

/* Turns read-ahead on (on != 0) or off for a mailbox. With read-ahead the
 * library reads the socket in large chunks and serves whole messages from
 * a per-mailbox buffer, which saves system calls under load. Then
 * select()/poll() on the mailbox no longer tell whether a message is
 * pending: check SP_poll() first, which counts the buffered bytes.
 * Returns 0, ILLEGAL_SESSION, or SP_BUG if the buffer cannot be
 * allocated. Waits for a receive in progress on the mailbox. */
int chorus_set_readahead(mailbox mbox, int on);

/* The description SP_error() prints for code, as a constant string;
 * never NULL and never printed. */
const char *chorus_strerror(int code);

/* Send coalescing, for programs that send many messages in a row: with a
 * buffer of `bytes` (0 turns it off; at most CHORUS_MAX_SEND_BUFFER), the
 * multicast, join and leave calls of this mailbox copy their frame into
 * the buffer and return; the buffer is written when the next frame does
 * not fit, on chorus_flush(), and before every SP_receive, SP_scat_receive,
 * SP_poll and SP_disconnect on the mailbox. Frames larger than the buffer
 * are written at once, in order. A message sits in the buffer until one
 * of these happens: call chorus_flush() before waiting for anything else.
 * A write error found while flushing is returned by the call that
 * flushed. Returns 0 or ILLEGAL_SESSION, ILLEGAL_MESSAGE, SP_BUG,
 * CONNECTION_CLOSED. */
#define CHORUS_MAX_SEND_BUFFER (4 * 1024 * 1024)
int chorus_set_send_buffer(mailbox mbox, size_t bytes);
/* Writes what send coalescing holds. Returns 0 or a negative code. */
int chorus_flush(mailbox mbox);

/* Authenticates every later connection of the process with the HMAC
 * method (SP_set_auth_method(3), chorus_set_auth_hmac(3)): key_file
 * holds one line "principal hex-secret" and must not be accessible to
 * group or others. Replaces the method registry with HMAC alone. Returns
 * 0, or REJECT_AUTH with the reason in err (errlen bytes; err may be
 * NULL) if the file cannot be used. */
int chorus_set_auth_hmac(const char *key_file, char *err, size_t errlen);
/* When this environment variable is set and the program did not choose
 * methods itself, SP_connect authenticates with the HMAC key in the file
 * it names (read at each connect); a file that cannot be used makes
 * SP_connect return REJECT_AUTH. */
#define CHORUS_HMAC_KEY_ENV "CHORUS_HMAC_KEY_FILE"
/* When this environment variable is set (to a daemon name, as in
 * spread.conf), the HMAC method answers only a challenge from the daemon
 * of that name; a challenge from another makes SP_connect return
 * REJECT_AUTH. */
#define CHORUS_HMAC_DAEMON_ENV "CHORUS_HMAC_DAEMON"

/* TLS 1.3 links (libchorus(3), section TLS). A daemon address
 * "tls:PORT@HOST" makes SP_connect and SP_connect_timeout connect to the
 * daemon's TLS port: the daemon's certificate must chain to the CA file
 * and name HOST, or the call returns REJECT_AUTH; other TLS failures give
 * COULD_NOT_CONNECT. chorus_set_tls sets, for the whole process, the CA
 * file (NULL: $CHORUS_TLS_CA, else the system's CAs) and the client
 * certificate and key to show (NULL: $CHORUS_TLS_CERT and
 * $CHORUS_TLS_KEY, else none). Without a call, the environment variables
 * apply. The files are read at once (a program may drop privileges
 * afterwards) and used by connections made afterwards. Returns 0, or
 * ILLEGAL_SPREAD if a path is too long, only one of certificate and key
 * is given, or a file cannot be used (chorus_tls_error() says why). */
int chorus_set_tls(const char *ca_file, const char *cert_file,
		   const char *key_file);
/* Why the last TLS connection attempt of the calling thread failed, as
 * text ("" if it did not); never NULL. */
const char *chorus_tls_error(void);

#ifdef __cplusplus
}
#endif

#endif /* CHORUS_H */
