/*
 * lib_fake.h - a scripted fake daemon for the libchorus unit tests.
 *
 * Included by each tests/unit/test_lib_*.c (the Makefile links every test
 * program from its own file and tests/t.c only, so the helpers are static
 * and marked unused). The daemon side is a listening socket (a Unix socket
 * in a fresh temporary directory, or loopback TCP on port 0) plus one
 * thread that accepts a connection and either
 *   - plays the daemon's half of the handshake and hands the connected
 *     socket to the test (fake_session), which then writes frames with
 *     fake_write() and reads what the library sent with fake_read_frame();
 *   - or writes a canned byte stream at once, shuts its sending side, and
 *     captures every byte the client sends until EOF (fake_blob_start /
 *     fake_blob_join).
 * Frames are built with mkframe() in either byte order, so a test can play
 * a daemon (and a sender) of the other endianness.
 */
#ifndef CHORUS_LIB_FAKE_H
#define CHORUS_LIB_FAKE_H

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "chorus.h"
#include "proto/wire.h"
#include "t.h"

#define FAKE_FN static __attribute__((unused))

/* The marker of a writer whose byte order is not ours. */
#define OTHER_MARK (WIRE_OWN_MARK ^ WIRE_MARK)

struct fake {
	char dir[64];
	char path[108]; /* Unix socket path, or "" for TCP */
	char addr[128]; /* what to pass to SP_connect */
	int lfd;        /* listening socket */
	int dfd;        /* daemon side of the accepted connection */
	pthread_t th;
	/* fake_session: the accept record to send */
	char pg[WIRE_NAME_LEN];
	uint8_t req[16]; /* the connect request received */
	size_t req_len;
	/* blob mode */
	const uint8_t *blob;
	size_t blob_len;
	uint8_t *cap; /* every byte the client sent, malloc'd */
	size_t cap_len;
};

FAKE_FN void fake_listen_unix(struct fake *f)
{
	struct sockaddr_un sun;

	memset(f, 0, sizeof(*f));
	f->dfd = -1;
	strcpy(f->dir, "/tmp/chorus-test.XXXXXX");
	T_ASSERT(mkdtemp(f->dir) != NULL);
	snprintf(f->path, sizeof(f->path), "%s/sock", f->dir);
	snprintf(f->addr, sizeof(f->addr), "%s", f->path);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	strcpy(sun.sun_path, f->path);
	f->lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	T_ASSERT(f->lfd >= 0);
	T_ASSERT(bind(f->lfd, (struct sockaddr *)&sun, sizeof(sun)) == 0);
	T_ASSERT(listen(f->lfd, 64) == 0);
}

FAKE_FN void fake_listen_tcp(struct fake *f)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int on = 1;

	memset(f, 0, sizeof(*f));
	f->dfd = -1;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	f->lfd = socket(AF_INET, SOCK_STREAM, 0);
	T_ASSERT(f->lfd >= 0);
	setsockopt(f->lfd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	T_ASSERT(bind(f->lfd, (struct sockaddr *)&sin, sizeof(sin)) == 0);
	T_ASSERT(listen(f->lfd, 64) == 0);
	T_ASSERT(getsockname(f->lfd, (struct sockaddr *)&sin, &len) == 0);
	snprintf(f->addr, sizeof(f->addr), "%u@127.0.0.1",
		 (unsigned)ntohs(sin.sin_port));
}

FAKE_FN void fake_close(struct fake *f)
{
	if (f->dfd >= 0)
		close(f->dfd);
	if (f->lfd >= 0)
		close(f->lfd);
	f->dfd = f->lfd = -1;
	if (f->path[0])
		unlink(f->path);
	if (f->dir[0])
		rmdir(f->dir);
	free(f->cap);
	f->cap = NULL;
}

/* Writes all len bytes to the client; returns 0 or -1. */
FAKE_FN int fake_write_fd(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len) {
		ssize_t r = send(fd, p, len, MSG_NOSIGNAL);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		p += r;
		len -= (size_t)r;
	}
	return 0;
}

FAKE_FN void fake_write(struct fake *f, const void *buf, size_t len)
{
	T_ASSERT(fake_write_fd(f->dfd, buf, len) == 0);
}

/* Reads exactly len bytes; returns 0, or -1 on EOF or error. */
FAKE_FN int fake_read_fd(int fd, void *buf, size_t len)
{
	uint8_t *p = buf;

	while (len) {
		ssize_t r = recv(fd, p, len, 0);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		p += r;
		len -= (size_t)r;
	}
	return 0;
}

/* The daemon's half of a default handshake ("NULL " list, accept record
 * for f->pg). Returns 0 or -1. */
FAKE_FN int fake_handshake(struct fake *f)
{
	static const uint8_t list[] = { 5, 'N', 'U', 'L', 'L', ' ' };
	uint8_t choice[WIRE_AUTH_CHOICE_LEN], rec[40];
	size_t n;

	if (fake_read_fd(f->dfd, f->req, 5) != 0 || f->req[4] > 10 ||
	    fake_read_fd(f->dfd, f->req + 5, f->req[4]) != 0)
		return -1;
	f->req_len = 5 + f->req[4];
	if (fake_write_fd(f->dfd, list, sizeof(list)) != 0 ||
	    fake_read_fd(f->dfd, choice, sizeof(choice)) != 0)
		return -1;
	n = wire_accept_encode(rec, 1, f->pg);
	return fake_write_fd(f->dfd, rec, n);
}

FAKE_FN void *fake_session_thread(void *arg)
{
	struct fake *f = arg;

	f->dfd = accept(f->lfd, NULL, NULL);
	if (f->dfd >= 0 && fake_handshake(f) != 0) {
		close(f->dfd);
		f->dfd = -1;
	}
	return NULL;
}

/* Opens a mailbox on a fresh fake daemon (Unix socket unless tcp) that
 * names the session pg. */
FAKE_FN mailbox fake_session_ex(struct fake *f, const char *name,
				const char *pg, int membership, int tcp)
{
	char got[MAX_GROUP_NAME];
	mailbox m = -1;

	if (tcp)
		fake_listen_tcp(f);
	else
		fake_listen_unix(f);
	snprintf(f->pg, sizeof(f->pg), "%s", pg);
	T_ASSERT(pthread_create(&f->th, NULL, fake_session_thread, f) == 0);
	T_EQ(SP_connect(f->addr, name, 0, membership, &m, got),
	     ACCEPT_SESSION);
	pthread_join(f->th, NULL);
	T_ASSERT(f->dfd >= 0);
	T_STREQ(got, pg);
	return m;
}

FAKE_FN mailbox fake_session(struct fake *f)
{
	return fake_session_ex(f, "alice", "#alice#localhost", 1, 0);
}

FAKE_FN void *fake_blob_thread(void *arg)
{
	struct fake *f = arg;
	size_t cap = 4096;
	ssize_t r;

	f->cap = malloc(cap);
	f->dfd = accept(f->lfd, NULL, NULL);
	if (f->dfd < 0 || !f->cap)
		return NULL;
	if (f->blob_len)
		fake_write_fd(f->dfd, f->blob, f->blob_len);
	/* Nothing more will come: a client waiting for more sees EOF. */
	shutdown(f->dfd, SHUT_WR);
	for (;;) {
		if (f->cap_len == cap) {
			uint8_t *n = realloc(f->cap, cap * 2);

			if (!n)
				break;
			f->cap = n;
			cap *= 2;
		}
		r = recv(f->dfd, f->cap + f->cap_len, cap - f->cap_len, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		f->cap_len += (size_t)r;
	}
	return NULL;
}

/* Starts a daemon on f's listener that sends blob at once and records what
 * the client sends until it closes. */
FAKE_FN void fake_blob_start(struct fake *f, const void *blob, size_t len)
{
	f->blob = blob;
	f->blob_len = len;
	T_ASSERT(pthread_create(&f->th, NULL, fake_blob_thread, f) == 0);
}

/* Waits for the client to close; f->cap / f->cap_len hold its bytes. */
FAKE_FN void fake_blob_join(struct fake *f)
{
	pthread_join(f->th, NULL);
}

/* Reads one client frame: the header into *h, names and data into body
 * (cap bytes). Returns the body length, or -1. */
FAKE_FN long fake_read_frame(struct fake *f, struct wire_hdr *h,
			     uint8_t *hdr_bytes, uint8_t *body, size_t cap)
{
	uint8_t hdr[WIRE_HDR_LEN];
	size_t len;

	if (fake_read_fd(f->dfd, hdr, sizeof(hdr)) != 0)
		return -1;
	if (hdr_bytes)
		memcpy(hdr_bytes, hdr, sizeof(hdr));
	wire_hdr_decode(hdr, h);
	if (h->num_groups < 0 || h->data_len < 0)
		return -1;
	len = (size_t)h->num_groups * WIRE_NAME_LEN + (size_t)h->data_len;
	if (len > cap || fake_read_fd(f->dfd, body, len) != 0)
		return -1;
	return (long)len;
}

/* ---- frames as a daemon writes them ---- */

/* Writes v at p in our byte order, or in the other one. */
FAKE_FN void put32x(uint8_t *p, uint32_t v, int other)
{
	if (other)
		v = wire_swap32(v);
	memcpy(p, &v, 4);
}

/* The hint a sender of our (other = 0) or the other byte order writes
 * for mess_type, as the 32-bit word we read back. */
FAKE_FN uint32_t mkhint(int16_t mess_type, int other)
{
	uint32_t v = ((uint32_t)(uint16_t)mess_type << 8) & 0x00ffff00u;

	if (!other)
		return v | WIRE_OWN_MARK;
	return wire_swap32(v | OTHER_MARK);
}

/* Builds a daemon-to-client frame at out: header (type gets the writer's
 * marker), then pre (e.g. a reject's old_type, prelen bytes), ng names
 * (32 bytes each, from groups) and dl data bytes. other: the daemon's byte
 * order is not ours. Returns the frame length. */
FAKE_FN size_t mkframe_pre(uint8_t *out, uint32_t type, const char *name,
			   int ng, const void *groups, uint32_t hint,
			   const void *data, int dl, int other,
			   const void *pre, size_t prelen)
{
	size_t pos = WIRE_HDR_LEN;

	memset(out, 0, WIRE_HDR_LEN);
	put32x(out, (type & ~WIRE_MARK) | (other ? OTHER_MARK : WIRE_OWN_MARK),
	       other);
	strncpy((char *)out + 4, name, WIRE_NAME_LEN);
	put32x(out + 36, (uint32_t)ng, other);
	memcpy(out + 40, &hint, 4);
	put32x(out + 44, (uint32_t)dl, other);
	if (prelen) {
		memcpy(out + pos, pre, prelen);
		pos += prelen;
	}
	if (ng > 0) {
		memcpy(out + pos, groups, (size_t)ng * WIRE_NAME_LEN);
		pos += (size_t)ng * WIRE_NAME_LEN;
	}
	if (dl > 0) {
		memcpy(out + pos, data, (size_t)dl);
		pos += (size_t)dl;
	}
	return pos;
}

FAKE_FN size_t mkframe(uint8_t *out, uint32_t type, const char *name, int ng,
		       const void *groups, uint32_t hint, const void *data,
		       int dl, int other)
{
	return mkframe_pre(out, type, name, ng, groups, hint, data, dl, other,
			   NULL, 0);
}

/* Builds a regular-membership body: gid, then nsets sets with the given
 * counts, names taken in order from names (32 bytes each); local is the
 * byte offset of the receiver's set. Returns its length. */
FAKE_FN size_t mkbody(uint8_t *out, const int32_t gid[3], uint32_t nsets,
		      uint32_t local, const uint32_t *counts,
		      const void *names, int other)
{
	const uint8_t *nm = names;
	size_t pos = WIRE_MEMB_FIXED;

	for (int i = 0; i < 3; i++)
		put32x(out + 4 * i, (uint32_t)gid[i], other);
	put32x(out + 12, nsets, other);
	put32x(out + 16, local, other);
	for (uint32_t i = 0; i < nsets; i++) {
		put32x(out + pos, counts[i], other);
		pos += 4;
		memcpy(out + pos, nm, (size_t)counts[i] * WIRE_NAME_LEN);
		nm += (size_t)counts[i] * WIRE_NAME_LEN;
		pos += (size_t)counts[i] * WIRE_NAME_LEN;
	}
	return pos;
}

/* Fills n 32-byte name fields from a list of C strings. */
FAKE_FN void mknames(char (*out)[MAX_GROUP_NAME], int n, const char *const *s)
{
	memset(out, 0, (size_t)n * MAX_GROUP_NAME);
	for (int i = 0; i < n; i++)
		strncpy(out[i], s[i], MAX_GROUP_NAME - 1);
}

#endif /* CHORUS_LIB_FAKE_H */
