/*
 * fuzz_session.c - libFuzzer target for chorusd's client input: the input
 * is the byte stream a client sends, from the first byte of the
 * handshake on, fed through the daemon's real session code (handshake
 * state machine, frame cutting and validation, groups, delivery) over a
 * socketpair. Any crash, leak or sanitizer report is a finding.
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
#include "util/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct chd *daemon_once(void)
{
	static struct chd d;
	static int ready;
	static const char text[] =
		"Spread_Segment 127.0.0.255:4803 {\n localhost 127.0.0.1\n}\n"
		"UnixSocketDir = \"\"\nMaxSessionMessages = 50\n";
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	struct conf c;
	char err[256];
	int fd;

	if (ready)
		return &d;
	log_init("fuzz", 1);
	log_set_file(fopen("/dev/null", "w"));
	if (conf_parse(text, sizeof(text) - 1, &c, err, sizeof(err)) != 0)
		abort();
	/* A free port for the listener the daemon insists on opening. */
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
	ready = 1;
	return &d;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct chd *d = daemon_once();
	uint8_t sink[65536];
	struct sess *s;
	int sv[2], sz = 1 << 20;

	if (size > 512 * 1024)
		return 0;
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
		abort();
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	s = sess_accept(d, sv[1], 0x7f000001);
	if (!s)
		abort();
	/* Feed the input in a few uneven pieces, as TCP might. */
	for (size_t pos = 0, step = 1; pos < size; step = step * 3 + 1) {
		size_t n = size - pos < step ? size - pos : step;
		ssize_t w = send(sv[0], data + pos, n, MSG_DONTWAIT | MSG_NOSIGNAL);

		if (w <= 0)
			break;
		pos += (size_t)w;
		for (int i = 0; i < 4 && !s->ended; i++)
			sess_on_io(d, s, EPOLLIN);
		if (!s->ended)
			chd_settle(d);
		while (recv(sv[0], sink, sizeof(sink), MSG_DONTWAIT) > 0)
			;
		if (s->ended)
			break;
	}
	close(sv[0]);
	for (int i = 0; i < 8 && !s->ended; i++)
		sess_on_io(d, s, EPOLLIN);
	if (!s->ended)
		sess_end(d, s, SESS_END_SHUTDOWN, NULL);
	chd_settle(d);
	chd_settle(d);
	return 0;
}
