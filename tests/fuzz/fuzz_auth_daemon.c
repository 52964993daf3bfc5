/*
 * fuzz_auth_daemon.c - libFuzzer target for the daemon side of the
 * authentication exchange: the handshake with NULL, IP and HMAC enabled,
 * HMAC's challenge and response, and then the access rules on the
 * frames of an opened session, all through chorusd's real session code
 * over a socketpair (as fuzz_session.c).
 *
 * Input: a flag byte, a cut byte, then the byte stream the client sends.
 * With flag bit 0 set, the harness sends the first `cut` bytes, answers
 * the challenge it reads with a correct response for principal mirror-1
 * (bit 1: with a wrong secret, bit 2: for an unknown principal), then
 * sends the rest, so the fuzzer also reaches the states after a
 * successful exchange; the random nonce makes a correct answer
 * impossible to find otherwise. Bit 3 makes the client a Unix-socket one.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "daemon/daemon.h"
#include "proto/auth_hmac.h"
#include "util/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t secret[16] = { 0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66,
	0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff };

static struct chd *daemon_once(void)
{
	static struct chd d;
	static int ready;
	static const char keys[] = "mirror-1 00112233445566778899aabbccddeeff\n"
				   "logger-1 ffeeddccbbaa99887766554433221100\n";
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	char text[1024], path[] = "/tmp/fuzz-auth-XXXXXX", err[256];
	struct conf c;
	int fd;

	if (ready)
		return &d;
	log_init("fuzz", 1);
	log_set_file(fopen("/dev/null", "w"));
	fd = mkstemp(path); /* mode 0600 */
	if (fd < 0 || write(fd, keys, sizeof(keys) - 1) != (ssize_t)sizeof(keys) - 1)
		abort();
	close(fd);
	snprintf(text, sizeof(text),
		 "Spread_Segment 127.0.0.255:4803 {\n localhost 127.0.0.1\n}\n"
		 "UnixSocketDir = \"\"\nMaxSessionMessages = 50\n"
		 "AllowedAuthMethods = \"NULL IP HMAC\"\nHmacSecretsFile = \"%s\"\n"
		 "AccessRules {\n allow send jigdo principal mirror-*\n"
		 " allow all jigdo principal logger-*\n deny all jigdo anyone\n"
		 " allow join \"l*\" ip 127.0.0.0/8\n deny join \"l*\" anyone\n"
		 " allow all \"*\" anyone\n}\n", path);
	if (conf_parse(text, strlen(text), &c, err, sizeof(err)) != 0)
		abort();
	fd = socket(AF_INET, SOCK_STREAM, 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) != 0)
		abort();
	close(fd);
	if (chd_init(&d, &c, "localhost", ntohs(sin.sin_port), err,
		     sizeof(err)) != 0)
		abort();
	unlink(path);
	ready = 1;
	return &d;
}

/* Collects what the daemon sent; once a whole challenge is in (after the
 * method list), writes the harness's answer if the flags ask for one. */
struct watch {
	uint8_t buf[512];
	size_t len;
	int answered;
};

static void drain(int fd, struct watch *w, uint8_t flags)
{
	struct auth_hmac_challenge ch;
	struct auth_hmac_response r;
	uint8_t sink[65536], out[AUTH_HMAC_RESPONSE_MAX];
	ssize_t n;

	while ((n = recv(fd, sink, sizeof(sink), MSG_DONTWAIT)) > 0) {
		size_t take = (size_t)n < sizeof(w->buf) - w->len ?
			      (size_t)n : sizeof(w->buf) - w->len;

		memcpy(w->buf + w->len, sink, take);
		w->len += take;
	}
	if (!(flags & 1) || w->answered || w->len < 1 ||
	    (int8_t)w->buf[0] <= 0 || w->len < 1u + w->buf[0])
		return;
	if (auth_hmac_challenge_parse(w->buf + 1 + w->buf[0], w->len - 1 - w->buf[0],
				      &ch) <= 0)
		return;
	w->answered = 1;
	memset(&r, 0, sizeof(r));
	strcpy(r.principal, flags & 4 ? "stranger" : "mirror-1");
	if (auth_hmac_compute(secret, sizeof(secret) - (flags & 2 ? 1 : 0), &ch,
			      r.principal, r.mac) != 0)
		abort();
	n = (ssize_t)auth_hmac_response_encode(out, &r);
	(void)!send(fd, out, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL);
}

/* Sends data in a few uneven pieces, as TCP might, letting the daemon
 * read after each. Returns 0, or -1 once the session has ended. */
static int feed(struct chd *d, struct sess *s, int fd, const uint8_t *data,
		size_t size, struct watch *w, uint8_t flags)
{
	for (size_t pos = 0, step = 1; pos < size; step = step * 3 + 1) {
		size_t n = size - pos < step ? size - pos : step;
		ssize_t wr = send(fd, data + pos, n, MSG_DONTWAIT | MSG_NOSIGNAL);

		if (wr <= 0)
			return -1;
		pos += (size_t)wr;
		for (int i = 0; i < 4 && !s->ended; i++) {
			sess_on_io(d, s, EPOLLIN);
			drain(fd, w, flags);
		}
		if (!s->ended)
			chd_settle(d);
		drain(fd, w, flags);
		if (s->ended)
			return -1;
	}
	/* Let an answer written after the last byte be read. */
	for (int i = 0; i < 4 && !s->ended; i++) {
		sess_on_io(d, s, EPOLLIN);
		drain(fd, w, flags);
	}
	return s->ended ? -1 : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct chd *d = daemon_once();
	struct watch w;
	struct sess *s;
	uint8_t flags;
	size_t cut;
	int sv[2], sz = 1 << 20;

	if (size < 2 || size > 256 * 1024)
		return 0;
	flags = data[0];
	/* With an answer from the harness, the first `cut` bytes go before
	 * it (the connect request and the choice), the rest after. */
	cut = flags & 1 ? data[1] : 0;
	data += 2;
	size -= 2;
	if (cut > size)
		cut = size;
	memset(&w, 0, sizeof(w));
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
		abort();
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	s = sess_accept(d, sv[1], flags & 8 ? 0 : 0x7f000001);
	if (!s)
		abort();
	if (feed(d, s, sv[0], data, cut, &w, flags) == 0)
		(void)feed(d, s, sv[0], data + cut, size - cut, &w, flags);
	close(sv[0]);
	for (int i = 0; i < 8 && !s->ended; i++)
		sess_on_io(d, s, EPOLLIN);
	if (!s->ended)
		sess_end(d, s, SESS_END_SHUTDOWN, NULL);
	chd_settle(d);
	chd_settle(d);
	return 0;
}
