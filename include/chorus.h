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

#ifdef __cplusplus
}
#endif

#endif /* CHORUS_H */
