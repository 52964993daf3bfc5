/*
 * sess.h - client sessions of chorusd: the handshake, frame input and the
 * bounded output queue of each connection.
 *
 * A session is created by accept() and lives until the disconnect event
 * that its end produced has come back out of the ordering service; only
 * then is its private name free again (docs/client-protocol.md 8.3).
 *
 * Life cycle: HELLO (connect request) -> AUTH (method choice) -> AUTHX
 * (a method's exchange, HMAC: auth.h; back to AUTH for the next method)
 * -> OPEN (frames; each join and send checked by access.h) -> CLOSED (socket gone, disconnect submitted, record kept)
 * -> freed at the end of the loop iteration that delivered the disconnect.
 * A session refused during the handshake never reaches OPEN and is freed
 * at the end of the iteration.
 *
 * Ownership: the daemon (struct chd) owns every session through its
 * session list; sessions own their buffers and one reference to each
 * queued message.
 */
#ifndef CHORUS_SESS_H
#define CHORUS_SESS_H

#include <stddef.h>
#include <stdint.h>

#include "msg.h"
#include "proto/auth_hmac.h"
#include "proto/wire.h"

struct chd;
struct tls_conn;

/* Longest principal name, terminator included. */
#define SESS_PRINCIPAL_MAX 128
#define SESS_BIG_FRAME 65536 /* frames this large are read header first */
_Static_assert(SESS_PRINCIPAL_MAX > AUTH_PRINCIPAL_MAX, "an HMAC principal fits");

/* SESS_AUTHX: a method's exchange (HMAC) is under way. */
enum sess_state { SESS_HELLO, SESS_AUTH, SESS_AUTHX, SESS_OPEN, SESS_CLOSED };

/* Why a session ended; logged, and counted per reason. */
enum sess_end {
	SESS_END_EOF,          /* the client closed the connection */
	SESS_END_READ_ERROR,
	SESS_END_DISCONNECT,   /* the client sent a disconnect frame */
	SESS_END_BAD_FRAME,    /* a frame failed validation */
	SESS_END_QUEUE_FULL,   /* too many messages or bytes queued */
	SESS_END_WRITE_ERROR,
	SESS_END_SHUTDOWN,
	SESS_END_NO_MEMORY,
	SESS_END_HANDSHAKE,    /* refused or timed out during the handshake */
	SESS_END__COUNT
};
extern const char *const sess_end_names[SESS_END__COUNT];

struct sess {
	int fd;
	enum sess_state state;
	uint64_t id;                   /* unique for the daemon's lifetime */
	char name[WIRE_MAX_PRIVATE + 1]; /* private name */
	char pg[WIRE_NAME_LEN];        /* private group "#name#daemon" */
	int membership;                /* wants membership notifications */
	uint32_t peer_addr;            /* IPv4 host order; 0 for Unix */
	int version;                   /* library version, WIRE_VERSION() */
	struct tls_conn *tls;          /* NULL: a plain connection (tls.h) */
	/* Who the client proved to be ("" if nobody), read by
	 * authorisation: the name of its verified TLS client certificate,
	 * replaced by the principal of an authentication method (HMAC) that
	 * the client then passes. */
	char principal[SESS_PRINCIPAL_MAX];
	unsigned auth_left;            /* methods still to run (CONF_AUTH_*) */
	unsigned auth_running;         /* the method whose exchange runs */
	uint8_t auth_nonce[AUTH_HMAC_NONCE_LEN];
	int ip_counted;                /* counted in the daemon's iplimit */

	/* Handshake bytes not yet parsed, and the deadline. */
	uint8_t hs[WIRE_AUTH_CHOICE_LEN + 16];
	size_t hs_len;
	int64_t deadline_ms;
	struct sess *hs_prev, *hs_next; /* daemon's handshake list */

	/* Bytes of an incomplete frame carried to the next read, in a
	 * message buffer of rest_cap bytes (rest->data), so that a data
	 * frame completed there becomes the message without a copy. */
	struct msg *rest;
	size_t rest_len, rest_cap;
	/* The last frame was large (SESS_BIG_FRAME): the next read takes
	 * just a header, and the body goes straight into its own buffer. */
	int big_frames;

	/* Output queue: a ring of messages; the first has out_off bytes
	 * written already. */
	struct msg **oq;
	uint32_t oq_head, oq_len, oq_cap;
	size_t oq_bytes;  /* bytes still to write */
	size_t out_off;
	int want_out;     /* EPOLLOUT is armed */
	int write_dead;   /* a write failed: output is dropped, input read on */
	int dirty;        /* on the daemon's flush list */
	struct sess *dirty_next;

	uint64_t mark;          /* dedupe stamp of the current delivery */
	int ended;              /* the end has been handled (see sess_end) */
	int retired;            /* on the daemon's free list */
	struct sess *name_next; /* daemon's name hash chain */
	struct sess *prev, *next; /* daemon's list of all sessions */
	struct sess *free_next;   /* daemon's list of sessions to free */
};

/* Takes an accepted socket. Returns the new session, or NULL (the socket
 * is then closed) if the daemon is at its limit. */
struct sess *sess_accept(struct chd *d, int fd, uint32_t peer_addr);

/* Handles readiness of the session's socket. */
void sess_on_io(struct chd *d, struct sess *s, uint32_t events);

/* Queues a message for the client (takes a reference). A full queue ends
 * the session. */
void sess_send(struct chd *d, struct sess *s, struct msg *m);

/* Writes queued output until the kernel refuses more. */
void sess_flush(struct chd *d, struct sess *s);

/* Ends a session: closes the socket, drops its output and, if it was
 * open, submits its disconnect to the ordering service. */
void sess_end(struct chd *d, struct sess *s, enum sess_end why,
	      const char *detail);

/* Handles the deadline of a session still in the handshake. */
void sess_handshake_expired(struct chd *d, struct sess *s);

/* Frees a session's memory. Only the daemon calls this, at the end of a
 * loop iteration, for a session that is on its free list. */
void sess_free(struct sess *s);

#endif /* CHORUS_SESS_H */
