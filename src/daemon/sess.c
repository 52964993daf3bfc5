/*
 * sess.c - client sessions of chorusd (see sess.h).
 *
 * Implements the daemon side of the Spread-4 handshake
 * (docs/client-protocol.md section 3) as a non-blocking state machine per
 * connection, with its own deadline and buffering of partial reads, so a
 * silent or slow client never delays another (the original's defect D5);
 * the framing and validation of client frames (section 4.6, hardened as
 * section 11.1 asks); and the bounded output queue of section 8.2, limited
 * in messages (MaxSessionMessages) and in bytes (MaxSessionBytes).
 *
 * Reading, parsing and acting are separate steps: sess_read() moves bytes
 * from the socket into the daemon's read buffer, parse_frames() cuts and
 * validates frames, and handle_frame() turns each into an event for the
 * ordering service.
 */
#include "sess.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "access.h"
#include "auth.h"
#include "daemon.h"
#include "groups.h"
#include "tls.h"
#include "util/log.h"

#define SESS_FLUSH_EARLY 64 /* queue length that triggers a write at once */
#define SESS_IOV_MAX 64

_Static_assert(sizeof(((struct sess *)0)->hs) >= AUTH_HMAC_RESPONSE_MAX,
	       "the handshake buffer holds an HMAC response");

const char *const sess_end_names[SESS_END__COUNT] = {
	[SESS_END_EOF] = "connection closed by client",
	[SESS_END_READ_ERROR] = "read error",
	[SESS_END_DISCONNECT] = "disconnect requested",
	[SESS_END_BAD_FRAME] = "malformed frame",
	[SESS_END_QUEUE_FULL] = "output queue full",
	[SESS_END_WRITE_ERROR] = "write error",
	[SESS_END_SHUTDOWN] = "daemon shutting down",
	[SESS_END_NO_MEMORY] = "out of memory",
	[SESS_END_HANDSHAKE] = "handshake failed",
};

/* Sends a short handshake reply in one write. A fresh socket always has
 * room for it; a short write means the peer is gone. (Over TLS, bytes
 * OpenSSL keeps go out when the socket is writable again.) */
static int hs_write(struct chd *d, struct sess *s, const void *buf,
		    size_t len)
{
	struct iovec iov = { (void *)(uintptr_t)buf, len };
	ssize_t w = sio_writev(s, &iov, 1);

	if (w == (ssize_t)len && sio_pending_out(s) && !s->want_out &&
	    chd_epoll_mod(d, s, 1) == 0)
		s->want_out = 1;
	return w == (ssize_t)len ? 0 : -1;
}

static void hs_refuse(struct chd *d, struct sess *s, int code,
		      const char *why)
{
	uint8_t b = (uint8_t)(int8_t)code;

	log_debug(DBG_SESSION, "refusing connection fd %d (%s): code %d",
		  s->fd, why, code);
	if (code)
		(void)hs_write(d, s, &b, 1);
	sess_end(d, s, SESS_END_HANDSHAKE, why);
}

/* Refuses a connection before it becomes a session: REJECT_QUOTA, then
 * close. */
static void refuse_fd(int fd)
{
	uint8_t b = (uint8_t)(int8_t)WIRE_REJECT_QUOTA;

	(void)send(fd, &b, 1, MSG_NOSIGNAL | MSG_DONTWAIT);
	close(fd);
}

/* The limits that protect the handshake: connections still
 * authenticating (MaxAuthenticating) and sessions per client address
 * (MaxSessionsPerIP; Unix-socket clients are not counted). Returns 0 if
 * the connection may go on; else it is refused and logged. */
static int accept_limits(struct chd *d, int fd, uint32_t peer_addr)
{
	const struct conf *c = &d->conf;

	if (d->n_handshaking >= (unsigned)c->max_authenticating) {
		d->stats.refused_handshaking++;
		auth_log_refusal(d, "connection from %u.%u.%u.%u refused: %u "
				 "connections are still in the handshake "
				 "(MaxAuthenticating %d)",
				 peer_addr >> 24, (peer_addr >> 16) & 0xff,
				 (peer_addr >> 8) & 0xff, peer_addr & 0xff,
				 d->n_handshaking, c->max_authenticating);
		refuse_fd(fd);
		return -1;
	}
	if (peer_addr && c->max_sessions_per_ip > 0 &&
	    iplimit_count(&d->iplimit, peer_addr) >=
	    (uint32_t)c->max_sessions_per_ip) {
		d->stats.refused_per_ip++;
		auth_log_refusal(d, "connection from %u.%u.%u.%u refused: it has "
				 "%d sessions already (MaxSessionsPerIP)",
				 peer_addr >> 24, (peer_addr >> 16) & 0xff,
				 (peer_addr >> 8) & 0xff, peer_addr & 0xff,
				 c->max_sessions_per_ip);
		refuse_fd(fd);
		return -1;
	}
	return 0;
}

/* Puts s at the tail of the handshake list. Every deadline is set to
 * the clock of its moment plus HandshakeTimeout, so the list stays
 * sorted. */
static void hs_append(struct chd *d, struct sess *s)
{
	s->hs_prev = d->hs_tail;
	if (d->hs_tail)
		d->hs_tail->hs_next = s;
	else
		d->hs_head = s;
	d->hs_tail = s;
	d->n_handshaking++;
}

struct sess *sess_accept(struct chd *d, int fd, uint32_t peer_addr)
{
	struct epoll_event ev;
	struct sess *s;

	d->stats.accepted++;
	if (d->n_sessions >= (unsigned)d->max_sessions) {
		uint8_t b = (uint8_t)(int8_t)WIRE_REJECT_QUOTA;

		d->stats.refused_quota++;
		(void)send(fd, &b, 1, MSG_NOSIGNAL | MSG_DONTWAIT);
		close(fd);
		log_debug(DBG_SESSION, "session limit %d reached",
			  d->max_sessions);
		return NULL;
	}
	if (accept_limits(d, fd, peer_addr) != 0)
		return NULL;
	s = calloc(1, sizeof(*s));
	if (!s) {
		close(fd);
		return NULL;
	}
	s->fd = fd;
	s->state = SESS_HELLO;
	s->id = ++d->next_sess_id;
	s->peer_addr = peer_addr;
	s->deadline_ms = d->now_ms + d->conf.handshake_timeout_ms;
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.ptr = s;
	if (epoll_ctl(d->ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
		log_warn("epoll_ctl add");
		close(fd);
		free(s);
		return NULL;
	}
	/* Link into the list of sessions and the handshake list. */
	s->next = d->sessions;
	if (d->sessions)
		d->sessions->prev = s;
	d->sessions = s;
	d->n_sessions++;
	hs_append(d, s);
	if (peer_addr && iplimit_add(&d->iplimit, peer_addr))
		s->ip_counted = 1;
	return s;
}

/* Chooses a free random private name, r<R>-<fd> cut to 9 characters. */
static void random_name(struct chd *d, struct sess *s)
{
	char buf[32];

	do {
		snprintf(buf, sizeof(buf), "r%u-%d", chd_rand(d) % 9999, s->fd);
		buf[9] = 0;
	} while (chd_name_taken(d, buf));
	memcpy(s->name, buf, strlen(buf) + 1);
}

static unsigned auth_enabled(const struct chd *d)
{
	return d->conf.allowed_auth | d->conf.required_auth;
}

/* Refuses during authentication: counted, and the verdict -9. */
static void auth_refuse(struct chd *d, struct sess *s, const char *why)
{
	d->stats.auth_refused++;
	hs_refuse(d, s, WIRE_REJECT_AUTH, why);
}

/* Completes the handshake: reserves a name the client chose (only now
 * that authentication has passed, so that a client that cannot
 * authenticate cannot hold a name another one needs; of two that pass
 * with one name, the first wins), sends the accept record and opens the
 * session. */
static int hs_accept(struct chd *d, struct sess *s)
{
	uint8_t rec[40];
	size_t n;

	if (chd_find_session(d, s->name, strlen(s->name)) != s) {
		if (chd_name_taken(d, s->name)) {
			hs_refuse(d, s, WIRE_REJECT_NOT_UNIQUE, "name in use");
			return -1;
		}
		chd_name_add(d, s);
	}
	n = wire_accept_encode(rec, s->version >= WIRE_VERSION(3, 15, 0), s->pg);
	if (hs_write(d, s, rec, n) != 0) {
		sess_end(d, s, SESS_END_HANDSHAKE, "accept record not sent");
		return -1;
	}
	chd_hs_remove(d, s);
	s->state = SESS_OPEN;
	d->stats.opened++;
	log_debug(DBG_SESSION, "session %s open (fd %d, %s%s%s%s)", s->pg,
		  s->fd, s->membership ? "membership" : "no membership",
		  s->tls ? ", TLS" : "", s->principal[0] ? ", principal " : "",
		  s->principal);
	return 0;
}

/* Handles a complete connect request. Returns 0 to go on, -1 if the
 * session ended. */
static int hs_hello(struct chd *d, struct sess *s, const struct wire_connreq *r)
{
	char list[WIRE_AUTH_LIST_MAX + 2];
	_Static_assert(sizeof(list) >= 1 + sizeof("NULL IP " AUTH_HMAC_NAME " "),
		       "room for every method name");
	unsigned en = auth_enabled(d);
	size_t len = 0;

	s->version = WIRE_VERSION(r->major, r->minor, r->patch);
	s->membership = r->membership;
	if (r->name_len == 0) {
		/* Chosen here, so nobody can claim it first: reserved at
		 * once, which also keeps the random names of connections
		 * still authenticating apart. */
		random_name(d, s);
		chd_name_add(d, s);
	} else {
		/* A name in use by an open session is refused at once; the
		 * name itself is reserved by hs_accept. */
		if (chd_name_taken(d, r->name)) {
			hs_refuse(d, s, WIRE_REJECT_NOT_UNIQUE, "name in use");
			return -1;
		}
		memcpy(s->name, r->name, (size_t)r->name_len + 1);
	}
	snprintf(s->pg, sizeof(s->pg), "#%s#%s", s->name, d->name);

	if (s->version < WIRE_VERSION(3, 16, 0)) {
		/* Libraries before 3.16 have no method exchange, so they
		 * cannot do HMAC. */
		uint8_t none[1];
		size_t nl;
		int ok = (d->conf.required_auth & CONF_AUTH_HMAC) ? 0 :
			 (en & CONF_AUTH_IP) ?
			 auth_begin(d, s, CONF_AUTH_IP, none, &nl) == AUTH_PASS :
			 (en & CONF_AUTH_NULL) != 0;
		if (!ok) {
			auth_refuse(d, s, "authentication (library before 3.16)");
			return -1;
		}
		return hs_accept(d, s);
	}
	len = auth_method_list(en, list + 1);
	list[0] = (char)len;
	if (len == 0) {
		list[1] = (char)(int8_t)WIRE_REJECT_AUTH;
		(void)hs_write(d, s, list, 2);
		sess_end(d, s, SESS_END_HANDSHAKE, "no method enabled");
		return -1;
	}
	if (hs_write(d, s, list, len + 1) != 0) {
		sess_end(d, s, SESS_END_HANDSHAKE, "method list not sent");
		return -1;
	}
	s->state = SESS_AUTH;
	return 0;
}

/* Runs the methods left in s->auth_left in bit order, the order Spread
 * registers them in. Stops at a method with an exchange (state
 * SESS_AUTHX) until its reply is in. Returns 0, or -1 if the session
 * ended. */
static int hs_run_methods(struct chd *d, struct sess *s)
{
	while (s->auth_left) {
		unsigned m = s->auth_left & -s->auth_left;
		uint8_t out[AUTH_HMAC_CHALLENGE_MAX];
		size_t outlen = 0;

		s->auth_left &= ~m;
		switch (auth_begin(d, s, m, out, &outlen)) {
		case AUTH_PASS:
			continue;
		case AUTH_EXCHANGE:
			if (hs_write(d, s, out, outlen) != 0) {
				sess_end(d, s, SESS_END_HANDSHAKE,
					 "challenge not sent");
				return -1;
			}
			s->auth_running = m;
			s->state = SESS_AUTHX;
			return 0;
		default:
			auth_refuse(d, s, "authentication failed");
			return -1;
		}
	}
	return hs_accept(d, s);
}

/* Handles the reply of the method in progress, in s->hs. Returns 0 or
 * -1 as hs_hello; consumes the reply's bytes. */
static int hs_exchange(struct chd *d, struct sess *s)
{
	size_t used = 0;

	switch (auth_continue(d, s, s->hs, s->hs_len, &used)) {
	case AUTH_MORE:
		if (s->hs_len >= AUTH_HMAC_RESPONSE_MAX) {
			auth_refuse(d, s, "reply too long");
			return -1;
		}
		return 0;
	case AUTH_PASS:
		s->hs_len -= used;
		memmove(s->hs, s->hs + used, s->hs_len);
		s->auth_running = 0;
		s->state = SESS_AUTH;
		return hs_run_methods(d, s);
	default:
		auth_refuse(d, s, "authentication failed");
		return -1;
	}
}

/* Handles the 90-byte method choice. Returns 0 or -1 as hs_hello. */
static int hs_auth(struct chd *d, struct sess *s, const uint8_t *choice)
{
	char names[WIRE_AUTH_SLOTS][WIRE_AUTH_SLOT];
	unsigned en = auth_enabled(d), chosen = 0, plan;
	int n = wire_authchoice_parse(choice, names);

	if (n < 0) {
		auth_refuse(d, s, "malformed method choice");
		return -1;
	}
	for (int i = 0; i < n; i++) {
		unsigned m = auth_method_bit(names[i]);

		if (!m || !(en & m)) {
			auth_refuse(d, s, "method not allowed");
			return -1;
		}
		chosen |= m;
	}
	plan = chosen | d->conf.required_auth;
	if (!plan) {
		auth_refuse(d, s, "no method chosen");
		return -1;
	}
	/* A method with an exchange runs only if the client chose it: a
	 * client that did not is not waiting for a challenge. */
	if ((plan & CONF_AUTH_HMAC) && !(chosen & CONF_AUTH_HMAC)) {
		auth_log_refusal(d, "client %s refused: HMAC is required but the "
				 "client did not choose it", s->pg);
		auth_refuse(d, s, "required method HMAC not chosen");
		return -1;
	}
	s->auth_left = plan;
	return hs_run_methods(d, s);
}

static void parse_input(struct chd *d, struct sess *s, uint8_t *buf,
			size_t have, struct msg *whole);

/* Reads handshake bytes and advances the state machine. */
static void hs_read(struct chd *d, struct sess *s)
{
	ssize_t n = sio_read(s, s->hs + s->hs_len, sizeof(s->hs) - s->hs_len);
	size_t used;

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		sess_end(d, s, SESS_END_HANDSHAKE,
			 n == 0 ? "closed during handshake" : "read error");
		return;
	}
	s->hs_len += (size_t)n;
	if (s->state == SESS_HELLO) {
		struct wire_connreq r;
		int c = wire_connreq_parse(s->hs, s->hs_len, &r);

		if (c == 0)
			return;
		if (c < 0) {
			hs_refuse(d, s, c, "bad connect request");
			return;
		}
		s->hs_len -= (size_t)c;
		memmove(s->hs, s->hs + c, s->hs_len);
		if (hs_hello(d, s, &r) != 0 || s->state != SESS_AUTH)
			goto leftover;
	}
	if (s->state == SESS_AUTHX) {
		if (hs_exchange(d, s) != 0)
			return;
		goto leftover;
	}
	if (s->state != SESS_AUTH || s->hs_len < WIRE_AUTH_CHOICE_LEN)
		return;
	{
		/* The choice leaves the buffer before the methods run, so a
		 * method's reply starts at its front. */
		uint8_t choice[WIRE_AUTH_CHOICE_LEN];

		memcpy(choice, s->hs, WIRE_AUTH_CHOICE_LEN);
		s->hs_len -= WIRE_AUTH_CHOICE_LEN;
		memmove(s->hs, s->hs + WIRE_AUTH_CHOICE_LEN, s->hs_len);
		if (hs_auth(d, s, choice) != 0)
			return;
	}
	if (s->state == SESS_AUTHX && s->hs_len && hs_exchange(d, s) != 0)
		return;
leftover:
	/* A client may send its first frames right behind the handshake. */
	if (s->state == SESS_OPEN && s->hs_len) {
		used = s->hs_len;
		s->hs_len = 0;
		memcpy(d->rbuf, s->hs, used);
		parse_input(d, s, d->rbuf, used, NULL);
	}
}

void sess_handshake_expired(struct chd *d, struct sess *s)
{
	if (s->state == SESS_AUTH || s->state == SESS_AUTHX)
		auth_refuse(d, s, s->state == SESS_AUTH ? "method choice timed out" :
			    "authentication reply timed out");
	else
		sess_end(d, s, SESS_END_HANDSHAKE, "connect request timed out");
}

/* Builds the event for a join or leave: the client's frame with a
 * clean sender and group field. */
static struct msg *control_msg(const struct sess *s, uint32_t type,
			       const char *group)
{
	struct wire_hdr h;
	struct msg *m = msg_new(WIRE_HDR_LEN + WIRE_NAME_LEN);
	size_t glen = wire_name_len(group);

	if (!m)
		return NULL;
	memset(&h, 0, sizeof(h));
	h.type = type;
	memcpy(h.name, s->pg, sizeof(h.name));
	h.num_groups = 1;
	h.hint = WIRE_OWN_MARK;
	wire_hdr_encode(&h, m->data);
	memset(m->data + WIRE_HDR_LEN, 0, WIRE_NAME_LEN);
	memcpy(m->data + WIRE_HDR_LEN, group, glen);
	return m;
}

/* Acts on one validated frame whose body is complete in buf. If whole is
 * not NULL it is a message buffer holding exactly this frame (body ==
 * whole->data + WIRE_HDR_LEN): a data frame then becomes the message in
 * place, with a reference of its own (the caller keeps its reference).
 * Returns 0, or -1 if the session ended. */
static int handle_frame(struct chd *d, struct sess *s, struct wire_hdr *h,
			enum wire_kind kind, const uint8_t *body, size_t blen,
			struct msg *whole)
{
	struct msg *m;
	int err;

	d->stats.frames_in++;
	s->big_frames = blen >= SESS_BIG_FRAME;
	if (kind != WIRE_K_DATA) {
		err = wire_check_control_group(kind, (const char *)body, s->pg);
		if (err != WIRE_OK) {
			sess_end(d, s, SESS_END_BAD_FRAME, wire_err_str(err));
			return -1;
		}
		if (kind == WIRE_K_JOIN &&
		    !access_check_frame(d, s, h, kind, body, blen))
			return s->state == SESS_OPEN ? 0 : -1;
		if (kind == WIRE_K_KILL) {
			sess_end(d, s, SESS_END_DISCONNECT, NULL);
			return -1;
		}
		m = control_msg(s, kind == WIRE_K_JOIN ? WIRE_JOIN : WIRE_LEAVE,
				(const char *)body);
	} else {
		if (!access_check_frame(d, s, h, kind, body, blen))
			return s->state == SESS_OPEN ? 0 : -1;
		if (whole) {
			assert(body == whole->data + WIRE_HDR_LEN &&
			       whole->len == WIRE_HDR_LEN + blen);
			m = msg_ref(whole);
		} else {
			m = msg_new((uint32_t)(WIRE_HDR_LEN + blen));
		}
		if (m) {
			memset(h->name, 0, sizeof(h->name));
			memcpy(h->name, s->pg, strlen(s->pg));
			/* The header in the daemon's order, over the client's
			 * (already decoded into h) when in place. */
			wire_hdr_encode(h, m->data);
			if (!whole)
				memcpy(m->data + WIRE_HDR_LEN, body, blen);
		}
	}
	if (!m) {
		sess_end(d, s, SESS_END_NO_MEMORY, NULL);
		return -1;
	}
	chd_submit(d, s, m);
	return s->state == SESS_OPEN ? 0 : -1;
}

/* Cuts frames out of buf[0..have), validates and handles them, and keeps
 * an incomplete last frame for the next read. whole: see handle_frame
 * (buf is then whole->data, one whole frame). */
static void parse_input(struct chd *d, struct sess *s, uint8_t *buf,
			size_t have, struct msg *whole)
{
	size_t pos = 0;

	while (have - pos >= WIRE_HDR_LEN) {
		struct wire_hdr h;
		enum wire_kind kind;
		size_t blen;
		int err;

		wire_hdr_decode(buf + pos, &h);
		err = wire_check_client_hdr(&h, s->pg, &kind);
		if (err != WIRE_OK) {
			sess_end(d, s, SESS_END_BAD_FRAME, wire_err_str(err));
			return;
		}
		blen = (size_t)h.num_groups * WIRE_NAME_LEN + (size_t)h.data_len;
		if (have - pos - WIRE_HDR_LEN < blen)
			break;
		if (handle_frame(d, s, &h, kind, buf + pos + WIRE_HDR_LEN,
				 blen, whole) != 0)
			return;
		pos += WIRE_HDR_LEN + blen;
	}
	if (pos < have) {
		size_t left = have - pos, cap = left;

		/* With the header in hand, the frame's size is known (and
		 * valid): make room for all of it, so the rest can be read in
		 * place however slowly it comes. */
		if (left >= WIRE_HDR_LEN) {
			struct wire_hdr h;

			wire_hdr_decode(buf + pos, &h);
			cap = WIRE_HDR_LEN + (size_t)h.num_groups * WIRE_NAME_LEN +
			      (size_t)h.data_len;
		}
		s->rest = msg_new((uint32_t)cap);
		if (!s->rest) {
			sess_end(d, s, SESS_END_NO_MEMORY, NULL);
			return;
		}
		memcpy(s->rest->data, buf + pos, left);
		s->rest_len = left;
		s->rest_cap = cap;
	}
}

/* Reads what the socket has. A partial frame whose header has arrived is
 * completed in its own buffer; shorter leftovers are copied in front of a
 * fresh read into the daemon's shared buffer. */
static void sess_read(struct chd *d, struct sess *s)
{
	int in_place = s->rest_len >= WIRE_HDR_LEN;
	size_t have = s->rest_len;
	struct msg *whole;
	ssize_t n;

	if (in_place) {
		n = sio_read(s, s->rest->data + have, s->rest_cap - have);
	} else {
		size_t want = d->rbuf_cap - have;

		/* After a large frame, most likely another: its header
		 * alone, so that parse_input gives the frame its buffer and
		 * the body is read into it, not copied out of rbuf. */
		if (s->big_frames)
			want = WIRE_HDR_LEN - have;
		if (have)
			memcpy(d->rbuf, s->rest->data, have);
		n = sio_read(s, d->rbuf + have, want);
	}
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		sess_end(d, s, n == 0 ? SESS_END_EOF : SESS_END_READ_ERROR,
			 n == 0 ? NULL : strerror(errno));
		return;
	}
	have += (size_t)n;
	if (in_place) {
		if (have < s->rest_cap) {
			s->rest_len = have;
			return;
		}
		whole = s->rest; /* one whole frame */
		s->rest = NULL;
		s->rest_len = s->rest_cap = 0;
		parse_input(d, s, whole->data, have, whole);
		msg_unref(whole);
		return;
	}
	msg_unref(s->rest);
	s->rest = NULL;
	s->rest_len = s->rest_cap = 0;
	parse_input(d, s, d->rbuf, have, NULL);
}

/* Runs the TLS handshake of a session accepted on the TLS port. Returns
 * 1 when the Spread handshake may go on, else 0 (waiting, or ended). */
static int tls_step(struct chd *d, struct sess *s)
{
	char err[256];
	int want_write, r = sio_tls_handshake(s, &want_write, err, sizeof(err));

	if (r < 0) {
		log_warnx("TLS handshake with %u.%u.%u.%u (fd %d) failed: %s",
			  s->peer_addr >> 24, (s->peer_addr >> 16) & 0xff,
			  (s->peer_addr >> 8) & 0xff, s->peer_addr & 0xff,
			  s->fd, err);
		sess_end(d, s, SESS_END_HANDSHAKE, "TLS handshake failed");
		return 0;
	}
	if (want_write != s->want_out && chd_epoll_mod(d, s, want_write) == 0)
		s->want_out = want_write;
	if (r == 1) {
		/* The Spread handshake gets its own deadline, as on the plain
		 * port. */
		chd_hs_remove(d, s);
		s->deadline_ms = d->now_ms + d->conf.handshake_timeout_ms;
		hs_append(d, s);
	}
	return r;
}

void sess_on_io(struct chd *d, struct sess *s, uint32_t events)
{
	if (s->ended)
		return;
	if (sio_tls_handshaking(s) && !tls_step(d, s))
		return;
	if (events & EPOLLOUT)
		sess_flush(d, s);
	if (s->ended || !(events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		return;
	/* Back-pressure: a session that opened (or was registered) while
	 * the ordering service is congested stops being read now. */
	if (s->state == SESS_OPEN && d->paused &&
	    !(events & (EPOLLHUP | EPOLLERR))) {
		chd_epoll_mod(d, s, s->want_out);
		return;
	}
	if (s->state == SESS_OPEN)
		sess_read(d, s);
	else
		hs_read(d, s);
	/* TLS may hold decrypted bytes that epoll cannot see: read them
	 * now (at most a record, so a bounded number of rounds). */
	for (int i = 0; i < 64 && !s->ended && sio_pending_in(s); i++) {
		if (s->state == SESS_OPEN)
			sess_read(d, s);
		else if (s->hs_len < sizeof(s->hs))
			hs_read(d, s);
		else
			break;
	}
}

/* Drops the first `w` bytes of the output queue. */
static void oq_consume(struct sess *s, size_t w)
{
	s->oq_bytes -= w;
	while (w > 0) {
		struct msg *m = s->oq[s->oq_head];
		size_t left = m->len - s->out_off;

		if (w < left) {
			s->out_off += w;
			return;
		}
		w -= left;
		msg_unref(m);
		s->oq_head = (s->oq_head + 1) % s->oq_cap;
		s->oq_len--;
		s->out_off = 0;
	}
}

static void oq_clear(struct sess *s)
{
	while (s->oq_len) {
		msg_unref(s->oq[s->oq_head]);
		s->oq_head = (s->oq_head + 1) % s->oq_cap;
		s->oq_len--;
	}
	s->oq_bytes = 0;
	s->out_off = 0;
}

static int oq_grow(struct sess *s)
{
	uint32_t ncap = s->oq_cap ? s->oq_cap * 2 : 16;
	struct msg **nq = malloc(ncap * sizeof(*nq));

	if (!nq)
		return -1;
	for (uint32_t i = 0; i < s->oq_len; i++)
		nq[i] = s->oq[(s->oq_head + i) % s->oq_cap];
	free(s->oq);
	s->oq = nq;
	s->oq_head = 0;
	s->oq_cap = ncap;
	return 0;
}

void sess_send(struct chd *d, struct sess *s, struct msg *m)
{
	if (s->state != SESS_OPEN || s->ended || s->write_dead)
		return;
	if (s->oq_len >= (uint32_t)d->conf.max_session_messages ||
	    s->oq_bytes + m->len > (size_t)d->conf.max_session_bytes) {
		char why[96];

		snprintf(why, sizeof(why), "%u messages, %zu bytes queued",
			 s->oq_len, s->oq_bytes);
		sess_end(d, s, SESS_END_QUEUE_FULL, why);
		return;
	}
	if (s->oq_len == s->oq_cap && oq_grow(s) != 0) {
		sess_end(d, s, SESS_END_NO_MEMORY, NULL);
		return;
	}
	s->oq[(s->oq_head + s->oq_len) % s->oq_cap] = msg_ref(m);
	s->oq_len++;
	s->oq_bytes += m->len;
	d->stats.msgs_out++;
	if (!s->dirty)
		chd_mark_dirty(d, s);
	if (s->oq_len >= SESS_FLUSH_EARLY && !s->want_out)
		sess_flush(d, s);
}

void sess_flush(struct chd *d, struct sess *s)
{
	while ((s->oq_len || sio_pending_out(s)) && !s->ended && !s->write_dead) {
		struct iovec iov[SESS_IOV_MAX];
		uint32_t n = s->oq_len < SESS_IOV_MAX ? s->oq_len : SESS_IOV_MAX;
		size_t want = 0;
		ssize_t w;

		for (uint32_t i = 0; i < n; i++) {
			struct msg *m = s->oq[(s->oq_head + i) % s->oq_cap];
			size_t off = i == 0 ? s->out_off : 0;

			iov[i].iov_base = m->data + off;
			iov[i].iov_len = m->len - off;
			want += m->len - off;
		}
		w = sio_writev(s, iov, (int)n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno != EAGAIN) {
			/* The client stopped reading (it may be closing). Its
			 * last frames may still be in our receive buffer, so
			 * keep reading until EOF; just stop writing. */
			log_debug(DBG_SESSION, "session %s: write error: %s; "
				  "dropping its output", s->pg, strerror(errno));
			s->write_dead = 1;
			oq_clear(s);
			if (s->want_out && chd_epoll_mod(d, s, 0) == 0)
				s->want_out = 0;
			return;
		}
		if (w > 0) {
			d->stats.bytes_out += (uint64_t)w;
			oq_consume(s, (size_t)w);
		}
		if (w < 0 || (size_t)w < want) {
			if (!s->want_out && chd_epoll_mod(d, s, 1) == 0)
				s->want_out = 1;
			return;
		}
	}
	if (s->want_out && !s->ended && chd_epoll_mod(d, s, 0) == 0)
		s->want_out = 0;
}

void sess_end(struct chd *d, struct sess *s, enum sess_end why,
	      const char *detail)
{
	enum sess_state was = s->state;

	if (s->ended)
		return;
	s->ended = 1;
	d->stats.ended[why]++;
	if (why == SESS_END_BAD_FRAME || why == SESS_END_QUEUE_FULL ||
	    why == SESS_END_NO_MEMORY || why == SESS_END_WRITE_ERROR ||
	    why == SESS_END_READ_ERROR)
		log_warnx("session %s ended: %s%s%s",
			  s->pg[0] ? s->pg : "(handshake)", sess_end_names[why],
			  detail ? ": " : "", detail ? detail : "");
	else
		log_debug(DBG_SESSION, "session %s ended: %s%s%s",
			  s->pg[0] ? s->pg : "(handshake)", sess_end_names[why],
			  detail ? ": " : "", detail ? detail : "");
	if (s->ip_counted) {
		iplimit_del(&d->iplimit, s->peer_addr);
		s->ip_counted = 0;
	}
	if (s->fd >= 0) {
		epoll_ctl(d->ep, EPOLL_CTL_DEL, s->fd, NULL);
		sio_close(s);
		close(s->fd);
		s->fd = -1;
	}
	oq_clear(s);
	msg_unref(s->rest);
	s->rest = NULL;
	s->rest_len = s->rest_cap = 0;
	s->state = SESS_CLOSED;
	if (was != SESS_OPEN) {
		chd_hs_remove(d, s);
		chd_retire(d, s);
		return;
	}
	/* The record, and so the name, stays until the disconnect comes back
	 * out of the ordering service. */
	{
		struct msg *m = control_msg(s, WIRE_KILL, s->pg);

		if (m) {
			chd_submit(d, s, m);
		} else {
			/* The view retires the session once it has
			 * applied the disconnect. */
			groups_disconnect(d, s);
		}
	}
}

void sess_free(struct sess *s)
{
	if (!s)
		return;
	oq_clear(s);
	sio_close(s);
	free(s->oq);
	msg_unref(s->rest);
	free(s);
}
