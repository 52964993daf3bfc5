/*
 * test_daemon_raw.c - chorusd against raw sockets: the handshake
 * (conformance checklist items 11-20), frame validation and hostile input
 * (items 26-31, 65, spec section 11.1), limits (items 18, 60, 61, 64) and
 * the daemon's survival of everything a client can send.
 *
 * These tests speak bytes, not the library, so they can send what no
 * correct library would.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"
#include "proto/wire.h"
#include "t.h"

#define MARK WIRE_OWN_MARK
#define LIB_TYPE(t) ((uint32_t)(t) | MARK)

/* Opens a session named `name`; fails the test if refused. */
static int session(const struct hd *d, const char *name, int memb, char *pg)
{
	int fd = raw_tcp(d);
	int r;

	T_ASSERT(fd >= 0);
	r = raw_connect(fd, name, memb, pg);
	T_ASSERTF(r == 1, "connect %s: %d", name ? name : "(none)", r);
	return fd;
}

static void send_control(int fd, const char *pg, uint32_t type,
			 const char *group)
{
	uint8_t f[128];
	const char *g[1] = { group };

	raw_send(fd, f, raw_frame(f, LIB_TYPE(type), pg, 1, g, MARK, NULL, 0));
}

/* Reads frames until one whose type (marker cleared) is `type`. */
static ssize_t expect_type(int fd, uint8_t *buf, size_t cap, uint32_t type)
{
	for (int i = 0; i < 50; i++) {
		struct wire_hdr h;
		ssize_t n = raw_read_frame(fd, buf, cap, 5000);

		T_ASSERTF(n > 0, "no frame of type %#x", type);
		wire_hdr_decode(buf, &h);
		if ((h.type & ~WIRE_MARK) == type)
			return n;
	}
	t_fail(__FILE__, __LINE__, "type %#x never came", type);
}

/* 1 if nothing arrives on fd within ms. */
static int quiet(int fd, int ms)
{
	struct pollfd p = { fd, POLLIN, 0 };

	return poll(&p, 1, ms) == 0;
}

static void item_11_handshake_bytes(void)
{
	struct hd d;
	uint8_t b[64];
	uint8_t choice[90] = "NULL";
	int fd;

	hd_start(&d, NULL);
	fd = raw_tcp(&d);
	raw_send(fd, "\x04\x04\x00\x01\x05" "alice", 10);
	T_EQ(raw_recv(fd, b, 6, 2000), 6);
	T_MEMEQ(b, "\x05NULL ", 6);
	raw_send(fd, choice, 90);
	T_EQ(raw_recv(fd, b, 21, 2000), 21);
	T_MEMEQ(b, "\x01\x04\x04\x00\x10#alice#localhost", 21);
	close(fd);
	hd_stop(&d);
}

static int refused_code(const struct hd *d, const void *req, size_t len)
{
	uint8_t b;
	int fd = raw_tcp(d);

	raw_send(fd, req, len);
	T_EQ(raw_recv(fd, &b, 1, 2000), 1);
	T_ASSERT(raw_wait_closed(fd, 2000));
	close(fd);
	return (int8_t)b;
}

static void item_12_bad_private_names(void)
{
	struct hd d;

	hd_start(&d, NULL);
	T_EQ(refused_code(&d, "\x04\x04\x00\x01\x0b" "abcdefghijk", 16), -5);
	T_EQ(refused_code(&d, "\x04\x04\x00\x01\x03" "a b", 8), -5);
	T_EQ(refused_code(&d, "\x04\x04\x00\x01\x02" "a#", 7), -5);
	T_EQ(refused_code(&d, "\x04\x04\x00\x01\x02" "a\x7f", 7), -5);
	T_EQ(refused_code(&d, "\x04\x04\x00\x01\x02" "a\x01", 7), -5);
	T_EQ(refused_code(&d, "\x04\x04\x00\x01\x02" "a\xe9", 7), -5);
	hd_stop(&d);
}

static void item_13_duplicate_name(void)
{
	struct hd d;
	char pg[32];
	int fd;

	hd_start(&d, NULL);
	fd = session(&d, "dup", 1, pg);
	T_EQ(refused_code(&d, "\x04\x04\x00\x01\x03" "dup", 8), -6);
	close(fd);
	hd_stop(&d);
}

static void item_14_old_version(void)
{
	struct hd d;

	hd_start(&d, NULL);
	T_EQ(refused_code(&d, "\x03\x00\x00\x01\x01" "a", 6), -7);
	hd_stop(&d);
}

static void item_15_random_name(void)
{
	struct hd d;
	char pg[32];
	int fd, a, b, n = 0;

	hd_start(&d, NULL);
	fd = session(&d, NULL, 1, pg);
	T_EQ(sscanf(pg, "#r%d-%d#localhost%n", &a, &b, &n), 2);
	T_ASSERTF(n == (int)strlen(pg), "private group %s", pg);
	T_ASSERT(strchr(pg + 1, '#') - pg - 1 <= 9);
	close(fd);
	hd_stop(&d);
}

static void item_16_auth_choice(void)
{
	struct hd d;
	uint8_t b[64], choice[90];
	int fd;

	hd_start(&d, NULL);
	/* A method that is not offered. */
	fd = raw_tcp(&d);
	raw_send(fd, "\x04\x04\x00\x01\x01" "a", 6);
	T_EQ(raw_recv(fd, b, 6, 2000), 6);
	memset(choice, 0, sizeof(choice));
	memcpy(choice, "IP", 2);
	raw_send(fd, choice, 90);
	T_EQ(raw_recv(fd, b, 1, 2000), 1);
	T_EQ(b[0], 0xf7);
	T_ASSERT(raw_wait_closed(fd, 2000));
	close(fd);
	/* A slot without NUL. */
	fd = raw_tcp(&d);
	raw_send(fd, "\x04\x04\x00\x01\x01" "a", 6);
	T_EQ(raw_recv(fd, b, 6, 2000), 6);
	memset(choice, 'N', sizeof(choice));
	raw_send(fd, choice, 90);
	T_EQ(raw_recv(fd, b, 1, 2000), 1);
	T_EQ(b[0], 0xf7);
	close(fd);
	/* Hardened: a choice split over two writes is accepted. */
	fd = raw_tcp(&d);
	raw_send(fd, "\x04\x04\x00\x01\x01" "a", 6);
	T_EQ(raw_recv(fd, b, 6, 2000), 6);
	memset(choice, 0, sizeof(choice));
	memcpy(choice, "NULL", 4);
	raw_send(fd, choice, 40);
	usleep(100000);
	raw_send(fd, choice + 40, 50);
	T_EQ(raw_recv(fd, b, 1, 2000), 1);
	T_EQ(b[0], 1);
	close(fd);
	/* Hardened: a connect request split byte by byte is accepted. */
	fd = raw_tcp(&d);
	for (int i = 0; i < 6; i++) {
		raw_send(fd, "\x04\x04\x00\x01\x01" "b" + i, 1);
		usleep(20000);
	}
	T_EQ(raw_recv(fd, b, 6, 2000), 6);
	T_MEMEQ(b, "\x05NULL ", 6);
	close(fd);
	hd_stop(&d);
}

static void item_17_silent_client(void)
{
	struct hd d;
	char pg[32];
	int silent, fd;
	int64_t t0;

	hd_start(&d, NULL);
	silent = raw_tcp(&d);
	t0 = t_now_ms();
	/* Others are served at once while the silent one waits. */
	fd = session(&d, "quick", 1, pg);
	T_ASSERT(t_now_ms() - t0 < 500);
	close(fd);
	T_ASSERT(raw_wait_closed(silent, 3000));
	T_ASSERT(t_now_ms() - t0 >= 900);
	close(silent);
	/* The same for a client that stops after part of the request. */
	silent = raw_tcp(&d);
	raw_send(silent, "\x04\x04", 2);
	T_ASSERT(raw_wait_closed(silent, 3000));
	close(silent);
	hd_stop(&d);
}

static void item_18_session_limit(void)
{
	struct hd d;
	char pg[32];
	int fds[3];
	uint8_t b;
	int fd;

	hd_start(&d, "MaxSessions = 3");
	for (int i = 0; i < 3; i++) {
		char name[16];

		snprintf(name, sizeof(name), "s%d", i);
		fds[i] = session(&d, name, 1, pg);
	}
	fd = raw_tcp(&d);
	T_EQ(raw_recv(fd, &b, 1, 2000), 1); /* before sending anything */
	T_EQ(b, 0xfd);
	T_ASSERT(raw_wait_closed(fd, 2000));
	close(fd);
	close(fds[0]);
	usleep(100000);
	fd = session(&d, "again", 1, pg);
	close(fd);
	close(fds[1]);
	close(fds[2]);
	hd_stop(&d);
}

/* Items 19 and 38: only membership sessions get notifications. */
static void item_19_membership_flag(void)
{
	static const uint8_t flags[] = { 0x01, 0x11, 0x00, 0x02 };
	struct hd d;

	hd_start(&d, NULL);
	for (size_t i = 0; i < sizeof(flags); i++) {
		uint8_t req[8] = { 4, 4, 0, flags[i], 2, 'm', (uint8_t)('0' + i) };
		uint8_t choice[90] = "NULL", b[256];
		char pg[32] = "";
		int fd = raw_tcp(&d);

		raw_send(fd, req, 7);
		T_EQ(raw_recv(fd, b, 6, 2000), 6);
		raw_send(fd, choice, 90);
		T_EQ(raw_recv(fd, b, 5, 2000), 5);
		T_EQ(raw_recv(fd, pg, b[4], 2000), b[4]);
		send_control(fd, pg, WIRE_JOIN, "flags");
		if (flags[i] & 1) {
			expect_type(fd, b, sizeof(b), WIRE_REG_MEMB | WIRE_BY_JOIN);
		} else {
			T_ASSERT(quiet(fd, 200));
		}
		send_control(fd, pg, WIRE_LEAVE, "flags");
		close(fd);
	}
	hd_stop(&d);
}

static void item_20_old_libraries(void)
{
	struct hd d;
	uint8_t b[32];
	int fd;

	hd_start(&d, NULL);
	/* 3.14: no patch byte either way, no method exchange. */
	fd = raw_tcp(&d);
	raw_send(fd, "\x03\x0e\x01\x01" "o", 5);
	T_EQ(raw_recv(fd, b, 4 + 12, 2000), 16);
	T_MEMEQ(b, "\x01\x04\x04\x0c#o#localhost", 16);
	close(fd);
	/* 3.15.2: patch byte both ways, still no method exchange. */
	fd = raw_tcp(&d);
	raw_send(fd, "\x03\x0f\x02\x01\x01" "p", 6);
	T_EQ(raw_recv(fd, b, 5 + 12, 2000), 17);
	T_MEMEQ(b, "\x01\x04\x04\x00\x0c#p#localhost", 17);
	close(fd);
	hd_stop(&d);
}

static const struct {
	int item;
	const char *what;
	uint32_t type, hint;
	int ngroups;
	int32_t dlen;
	int bad_sender;
} kill_cases[] = {
	{ 26, "two services", 0x12, MARK, 1, 3, 0 },
	{ 26, "service plus join", 0x10010, MARK, 1, 0, 0 },
	{ 26, "self discard alone", 0x40, MARK, 1, 3, 0 },
	{ 26, "wrong sender", 0x10, MARK, 1, 3, 1 },
	{ 26, "hint low bit", 0x10, MARK | 1, 1, 3, 0 },
	{ 26, "hint high bit", 0x10, MARK | 0x01000000, 1, 3, 0 },
	{ 26, "101 groups", 0x10, MARK, 101, 3, 0 },
	{ 26, "143953 bytes", 0x10, MARK, 1, 143921, 0 },
	{ 26, "negative length", 0x10, MARK, 1, -5, 0 },
	{ 28, "group-state bit", 0x80010, MARK, 1, 3, 0 },
	{ 28, "membership bits", 0x1110, MARK, 1, 3, 0 },
	{ 28, "reject bit", 0x400010, MARK, 1, 3, 0 },
	{ 28, "transition bit", 0x2010, MARK, 1, 3, 0 },
};

/* Each bad frame of checklist item `item` kills the sender; the peers of
 * its groups see a disconnect; nobody receives the bad frame. */
static void frame_kills(int item)
{
#define cases kill_cases
	static uint8_t f[160000], b[4096];
	struct hd d;
	char pgw[32], pgv[32], pgo[32];
	int watcher, other;

	hd_start(&d, NULL);
	watcher = session(&d, "watch", 1, pgw);
	other = session(&d, "other", 0, pgo);
	send_control(watcher, pgw, WIRE_JOIN, "kills");
	expect_type(watcher, b, sizeof(b), WIRE_REG_MEMB | WIRE_BY_JOIN);
	send_control(other, pgo, WIRE_JOIN, "kills");
	expect_type(watcher, b, sizeof(b), WIRE_REG_MEMB | WIRE_BY_JOIN);
	for (size_t i = 0; i < T_COUNT(cases); i++) {
		const char *groups[101];
		char name[16];
		int v;
		size_t n;
		struct wire_hdr h;

		if (cases[i].item != item)
			continue;
		for (int g = 0; g < 101; g++)
			groups[g] = "kills";
		snprintf(name, sizeof(name), "v%zu", i);
		v = session(&d, name, 1, pgv);
		send_control(v, pgv, WIRE_JOIN, "kills");
		expect_type(watcher, b, sizeof(b), WIRE_REG_MEMB | WIRE_BY_JOIN);
		n = raw_frame(f, cases[i].type | MARK,
			      cases[i].bad_sender ? "#nobody#localhost" : pgv,
			      cases[i].ngroups, groups, cases[i].hint, NULL, 0);
		memcpy(f + 44, &cases[i].dlen, 4);
		if (cases[i].dlen > 0) {
			memset(f + n, 'x', (size_t)cases[i].dlen);
			n += (size_t)cases[i].dlen;
		}
		raw_send(v, f, n);
		T_ASSERTF(raw_wait_closed(v, 3000), "%s: not killed", cases[i].what);
		close(v);
		expect_type(watcher, b, sizeof(b), WIRE_REG_MEMB | WIRE_BY_DISCONNECT);
		wire_hdr_decode(b, &h);
		T_ASSERTF(memcmp(b + WIRE_HDR_LEN + 2 * 32 + 24, pgv,
				 strlen(pgv)) == 0, "%s: vs set", cases[i].what);
		if (!quiet(other, 50)) { /* data never reached a member */
			struct wire_hdr oh;

			raw_read_frame(other, b, sizeof(b), 100);
			wire_hdr_decode(b, &oh);
			t_fail(__FILE__, __LINE__, "%s: other got type %#x",
			       cases[i].what, oh.type);
		}
	}
	T_ASSERT(hd_wait_log(&d, "malformed frame", 2000));
	close(watcher);
	close(other);
	hd_stop(&d);
#undef cases
}

static void item_26_invalid_frames_kill(void)
{
	frame_kills(26);
}

static void item_28_forbidden_type_bits(void)
{
	frame_kills(28);
}

/* Item 29: joins and leaves with bad group fields kill the session. */
static void item_29_bad_join_leave(void)
{
	struct hd d;
	char pg[32];
	uint8_t f[256];
	int fd;

	hd_start(&d, NULL);
	for (int i = 0; i < 5; i++) {
		char name[16];
		size_t n;

		snprintf(name, sizeof(name), "c%d", i);
		fd = session(&d, name, 1, pg);
		switch (i) {
		case 0: /* no group at all */
			n = raw_frame(f, LIB_TYPE(WIRE_JOIN), pg, 0, NULL, MARK, NULL, 0);
			break;
		case 1: { /* 32 bytes, no NUL */
			const char *g[1] = { "" };

			n = raw_frame(f, LIB_TYPE(WIRE_JOIN), pg, 1, g, MARK, NULL, 0);
			memset(f + 48, 'a', 32);
			break;
		}
		case 2: {
			const char *g[1] = { "a b" };

			n = raw_frame(f, LIB_TYPE(WIRE_JOIN), pg, 1, g, MARK, NULL, 0);
			break;
		}
		case 3: {
			const char *g[1] = { "#x#localhost" };

			n = raw_frame(f, LIB_TYPE(WIRE_LEAVE), pg, 1, g, MARK, NULL, 0);
			break;
		}
		default: {
			const char *g[2] = { "g1", "g2" };

			n = raw_frame(f, LIB_TYPE(WIRE_JOIN), pg, 2, g, MARK, NULL, 0);
			break;
		}
		}
		raw_send(fd, f, n);
		T_ASSERTF(raw_wait_closed(fd, 3000), "case %d", i);
		close(fd);
	}
	hd_stop(&d);
}

/* Item 27: a multicast to no group is accepted and goes nowhere. */
static void item_27_zero_groups(void)
{
	struct hd d;
	char pg[32];
	uint8_t f[256], b[256];
	int fd;

	hd_start(&d, NULL);
	fd = session(&d, "z", 1, pg);
	send_control(fd, pg, WIRE_JOIN, "zg");
	expect_type(fd, b, sizeof(b), WIRE_REG_MEMB | WIRE_BY_JOIN);
	raw_send(fd, f, raw_frame(f, LIB_TYPE(0x10), pg, 0, NULL, MARK, "abc", 3));
	T_ASSERT(quiet(fd, 200));
	/* Still up: a message to the group comes back. */
	{
		const char *g[1] = { "zg" };

		raw_send(fd, f, raw_frame(f, LIB_TYPE(0x10), pg, 1, g, MARK, "ok", 2));
	}
	expect_type(fd, b, sizeof(b), 0x10);
	close(fd);
	hd_stop(&d);
}

/* Two sessions: a (membership) and b (no membership), both in "big". */
static void big_pair(struct hd *d, int *a, int *bb, char *pga, char *pgb)
{
	static uint8_t b[4096];

	hd_start(d, NULL);
	*a = session(d, "a", 1, pga);
	*bb = session(d, "b", 0, pgb);
	send_control(*bb, pgb, WIRE_JOIN, "big");
	send_control(*a, pga, WIRE_JOIN, "big");
	expect_type(*a, b, sizeof(b), WIRE_REG_MEMB | WIRE_BY_JOIN);
}

/* Item 30: data + groups of 143900 bytes goes through intact. */
static void item_30_largest_frames(void)
{
	static uint8_t f[150000], b[150000];
	struct hd d;
	char pga[32], pgb[32];
	const char *g[1] = { "big" };
	int a, bb;
	size_t n;

	big_pair(&d, &a, &bb, pga, pgb);
	for (int32_t dl = 143900 - 32; dl <= 143952 - 32; dl += 143952 - 143900) {
		n = raw_frame(f, LIB_TYPE(0x20), pga, 1, g, MARK, NULL, 0);
		for (int i = 0; i < dl; i++)
			f[n + (size_t)i] = (uint8_t)(i * 7);
		memcpy(f + 44, &dl, 4);
		raw_send(a, f, n + (size_t)dl);
		T_EQ(raw_read_frame(bb, b, sizeof(b), 5000), 48 + 32 + dl);
		T_MEMEQ(b + 48 + 32, f + n, (size_t)dl);
	}
	close(a);
	close(bb);
	hd_stop(&d);
}

/* Item 31: a sender of the other byte order: receivers get the header in
 * the daemon's order and the hint exactly as the sender wrote it. */
static void item_31_foreign_byte_order(void)
{
	static uint8_t f[4096], b[4096];
	struct hd d;
	char pga[32], pgb[32];
	const char *g[1] = { "big" };
	struct wire_hdr h;
	uint32_t t = __builtin_bswap32(0x10u), ng = __builtin_bswap32(1u),
		 dl = __builtin_bswap32(5u), hint = 0x00123400u;
	int a, bb;
	size_t n;

	big_pair(&d, &a, &bb, pga, pgb);
	n = raw_frame(f, LIB_TYPE(0x10), pga, 1, g, MARK, "hello", 5);
	memcpy(f, &t, 4);
	memcpy(f + 36, &ng, 4);
	memcpy(f + 40, &hint, 4);
	memcpy(f + 44, &dl, 4);
	raw_send(a, f, n);
	T_EQ(raw_read_frame(bb, b, sizeof(b), 5000), 48 + 32 + 5);
	T_EQ(wire_hdr_decode(b, &h), 0);
	T_EQ(h.type, 0x10u | MARK);
	T_EQ(h.data_len, 5);
	T_MEMEQ(b + 40, "\x00\x34\x12\x00", 4);
	T_MEMEQ(b + 48 + 32, "hello", 5);
	close(a);
	close(bb);
	hd_stop(&d);
}

/* Hostile input: random bytes at every stage, truncated headers, huge
 * lengths; the daemon must survive and keep serving. */
static void item_65_hostile_bytes(void)
{
	static uint8_t junk[70000];
	struct hd d;
	char pg[32];
	uint32_t seed = 12345;
	int keeper;
	uint8_t b[256];

	hd_start(&d, NULL);
	keeper = session(&d, "keeper", 1, pg);
	send_control(keeper, pg, WIRE_JOIN, "keep");
	expect_type(keeper, b, sizeof(b), WIRE_REG_MEMB | WIRE_BY_JOIN);
	for (int round = 0; round < 60; round++) {
		size_t len = 1 + (size_t)(round * 997) % sizeof(junk);
		char vpg[32], name[8];
		int fd;

		for (size_t i = 0; i < len; i++) {
			seed = seed * 1103515245u + 12345u;
			junk[i] = (uint8_t)(seed >> 16);
		}
		fd = raw_tcp(&d);
		T_ASSERT(fd >= 0);
		switch (round % 3) {
		case 0: /* before the connect request */
			break;
		case 1: /* after the method list */
			raw_send(fd, "\x04\x04\x00\x01\x01" "j", 6);
			raw_recv(fd, b, 6, 2000);
			break;
		default: /* as frames of an open session */
			close(fd);
			snprintf(name, sizeof(name), "j%d", round);
			fd = session(&d, name, 1, vpg);
			/* Half the time, a plausible header first. */
			if (round % 2) {
				uint8_t f[48];

				raw_frame(f, LIB_TYPE(0x10), vpg, 1, NULL, MARK, NULL, 0);
				memcpy(junk, f, 48);
			}
			break;
		}
		(void)send(fd, junk, len, MSG_NOSIGNAL);
		close(fd);
	}
	/* Truncated header, then hang up. */
	{
		char tpg[32];
		int fd = session(&d, "trunc", 1, tpg);

		raw_send(fd, "\x90\x00\x00\x80#tr", 8);
		close(fd);
	}
	/* A header promising 143920 bytes that never come: the session just
	 * waits; closing it is an ordinary disconnect. */
	{
		char tpg[32];
		uint8_t f[48];
		int fd = session(&d, "promise", 1, tpg);

		raw_frame(f, LIB_TYPE(0x10), tpg, 1, NULL, MARK, NULL, 143920);
		raw_send(fd, f, 48);
		raw_send(fd, "g1", 2);
		usleep(50000);
		close(fd);
	}
	/* The keeper still gets its own messages. */
	{
		const char *g[1] = { "keep" };
		uint8_t f[128];

		raw_send(keeper, f, raw_frame(f, LIB_TYPE(0x10), pg, 1, g, MARK, "alive", 5));
		expect_type(keeper, b, sizeof(b), 0x10);
		T_MEMEQ(b + 48 + 32, "alive", 5);
	}
	close(keeper);
	hd_stop(&d);
}

/* A large frame that arrives a few bytes at a time is assembled in
 * place and delivered intact. */
static void trickled_frame(void)
{
	static uint8_t f[40000], b[40000];
	struct hd d;
	char pg[32];
	const char *g[1] = { "trickle" };
	size_t n;
	int fd;

	hd_start(&d, NULL);
	fd = session(&d, "tr", 1, pg);
	send_control(fd, pg, WIRE_JOIN, "trickle");
	expect_type(fd, b, sizeof(b), WIRE_REG_MEMB | WIRE_BY_JOIN);
	n = raw_frame(f, LIB_TYPE(0x10), pg, 1, g, MARK, NULL, 0);
	for (int i = 0; i < 30000; i++)
		f[n + (size_t)i] = (uint8_t)(i % 251);
	memcpy(f + 44, &(int32_t){ 30000 }, 4);
	n += 30000;
	for (size_t pos = 0; pos < n; pos += 7) {
		raw_send(fd, f + pos, n - pos < 7 ? n - pos : 7);
		if (pos % 7000 == 0)
			usleep(1000);
	}
	T_EQ(raw_read_frame(fd, b, sizeof(b), 5000), (ssize_t)n);
	T_MEMEQ(b + 48 + 32, f + 48 + 32, 30000);
	close(fd);
	hd_stop(&d);
}

/* A data frame in the foreign byte order that arrives in pieces is
 * completed in its own buffer and becomes the message there: the header
 * the receiver gets is rewritten in the daemon's order (type, length,
 * sender), the body is untouched. */
static void trickled_foreign_frame(void)
{
	static uint8_t f[40000], b[40000];
	struct hd d;
	char pg[32];
	const char *g[1] = { "trickle" };
	struct wire_hdr h;
	uint32_t t = __builtin_bswap32(0x10u), ng = __builtin_bswap32(1u),
		 dl = __builtin_bswap32(30000u);
	size_t n;
	int fd;

	hd_start(&d, NULL);
	fd = session(&d, "tf", 1, pg);
	send_control(fd, pg, WIRE_JOIN, "trickle");
	expect_type(fd, b, sizeof(b), WIRE_REG_MEMB | WIRE_BY_JOIN);
	n = raw_frame(f, LIB_TYPE(0x10), pg, 1, g, MARK, NULL, 0);
	for (int i = 0; i < 30000; i++)
		f[n + (size_t)i] = (uint8_t)(i % 253);
	memcpy(f, &t, 4);
	memcpy(f + 36, &ng, 4);
	memcpy(f + 44, &dl, 4);
	n += 30000;
	for (size_t pos = 0; pos < n; pos += 4000) {
		raw_send(fd, f + pos, n - pos < 4000 ? n - pos : 4000);
		usleep(2000);
	}
	T_EQ(raw_read_frame(fd, b, sizeof(b), 5000), (ssize_t)n);
	T_EQ(wire_hdr_decode(b, &h), 0);
	T_EQ(h.type, 0x10u | MARK);
	T_EQ(h.num_groups, 1);
	T_EQ(h.data_len, 30000);
	T_STREQ(h.name, pg);
	T_MEMEQ(b + 48, "trickle", 8);
	T_MEMEQ(b + 48 + 32, f + 48 + 32, 30000);
	close(fd);
	hd_stop(&d);
}

/* Many connections at once, all served; then 10,000 sessions open
 * together (the daemon's bound is far above Spread's 997). */
static void many_connections(void)
{
	enum { N = 1000 };
	static int fds[N];
	struct hd d;
	uint8_t req[16], b[64], choice[90] = "NULL";

	hd_start(&d, NULL);
	for (int i = 0; i < N; i++) {
		fds[i] = raw_tcp(&d);
		T_ASSERT(fds[i] >= 0);
	}
	for (int i = 0; i < N; i++) {
		char name[16];
		size_t n;

		snprintf(name, sizeof(name), "m%d", i);
		n = wire_connreq_encode(req, name, 1, 0);
		raw_send(fds[i], req, n);
	}
	for (int i = 0; i < N; i++) {
		T_EQ(raw_recv(fds[i], b, 6, 5000), 6);
		raw_send(fds[i], choice, 90);
	}
	for (int i = 0; i < N; i++) {
		T_EQ(raw_recv(fds[i], b, 5, 5000), 5);
		T_EQ(b[0], 1);
	}
	for (int i = 0; i < N; i++)
		close(fds[i]);
	hd_stop(&d);
}

static void ten_thousand_sessions(void)
{
	enum { N = 10000 };
	static int fds[N];
	struct rlimit rl;
	struct hd d;
	uint8_t b[256], choice[90] = "NULL";
	char pg[32];
	int probe;

	getrlimit(RLIMIT_NOFILE, &rl);
	if (rl.rlim_cur < N + 100) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
		getrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur < N + 100)
		t_skip("descriptor limit %lu is below %d", (unsigned long)rl.rlim_cur,
		       N + 100);
	hd_start(&d, NULL);
	for (int base = 0; base < N; base += 500) {
		for (int i = base; i < base + 500; i++) {
			uint8_t req[16];
			char name[16];

			fds[i] = raw_unix(&d);
			T_ASSERTF(fds[i] >= 0, "connection %d", i);
			snprintf(name, sizeof(name), "t%d", i);
			raw_send(fds[i], req, wire_connreq_encode(req, name, 0, 0));
		}
		for (int i = base; i < base + 500; i++) {
			T_EQ(raw_recv(fds[i], b, 6, 10000), 6);
			raw_send(fds[i], choice, 90);
		}
		for (int i = base; i < base + 500; i++) {
			T_EQ(raw_recv(fds[i], b, 5, 10000), 5);
			T_ASSERTF(b[0] == 1, "session %d refused (%d)", i, (int8_t)b[0]);
			raw_recv(fds[i], b, b[4], 10000);
		}
	}
	/* All open at once, and the daemon still serves a new client. */
	probe = session(&d, "probe", 1, pg);
	send_control(probe, pg, WIRE_JOIN, "p");
	expect_type(probe, b, sizeof(b), WIRE_REG_MEMB | WIRE_BY_JOIN);
	close(probe);
	for (int i = 0; i < N; i++)
		close(fds[i]);
	hd_stop(&d);
}

/* Item 60 and the byte bound: a member that never reads is cut off once
 * its queue is full; the sender and the others go on. */
static void item_60_slow_receiver(void)
{
	static uint8_t f[12000], b[16000];
	struct hd d;
	char pgs[32], pgw[32], pgl[32];
	const char *g[1] = { "slow" };
	int sender, watcher, lazy, killed = 0;
	size_t n;

	hd_start(&d, "MaxSessionMessages = 100");
	lazy = session(&d, "lazy", 1, pgl);
	{
		int sz = 4096;

		setsockopt(lazy, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	}
	watcher = session(&d, "watch", 1, pgw);
	sender = session(&d, "send", 0, pgs);
	send_control(lazy, pgl, WIRE_JOIN, "slow");
	send_control(watcher, pgw, WIRE_JOIN, "slow");
	expect_type(watcher, b, sizeof(b), WIRE_REG_MEMB | WIRE_BY_JOIN);
	n = raw_frame(f, LIB_TYPE(0x02), pgs, 1, g, MARK, NULL, 0);
	memset(f + n, 'q', 10000);
	memcpy(f + 44, &(int32_t){ 10000 }, 4);
	n += 10000;
	for (int i = 0; i < 3000 && !killed; i++) {
		ssize_t got;
		struct wire_hdr h;

		raw_send(sender, f, n);
		/* The watcher reads everything, and sees the disconnect. */
		for (;;) {
			got = raw_read_frame(watcher, b, sizeof(b), 5000);
			T_ASSERT(got > 0);
			wire_hdr_decode(b, &h);
			if ((h.type & ~WIRE_MARK) == 0x02)
				break;
			if ((h.type & ~WIRE_MARK) == (WIRE_REG_MEMB | WIRE_BY_DISCONNECT)) {
				killed = i + 1;
				break;
			}
		}
	}
	T_ASSERTF(killed > 0, "the lazy member was never cut off");
	T_ASSERT(hd_wait_log(&d, "output queue full", 2000));
	close(lazy);
	close(sender);
	close(watcher);
	hd_stop(&d);
}

static void session_byte_limit(void)
{
	static uint8_t f[70000], b[256];
	struct hd d;
	char pgs[32], pgl[32];
	const char *g[1] = { "bytes" };
	int sender, lazy;
	size_t n;

	hd_start(&d, "MaxSessionBytes = 1048576");
	lazy = session(&d, "lazy", 1, pgl);
	sender = session(&d, "send", 1, pgs);
	send_control(lazy, pgl, WIRE_JOIN, "bytes");
	expect_type(lazy, b, sizeof(b), WIRE_REG_MEMB | WIRE_BY_JOIN);
	send_control(sender, pgs, WIRE_JOIN, "bytes");
	expect_type(sender, b, sizeof(b), WIRE_REG_MEMB | WIRE_BY_JOIN);
	n = raw_frame(f, LIB_TYPE(0x02 | 0x40), pgs, 1, g, MARK, NULL, 0);
	memcpy(f + 44, &(int32_t){ 65536 }, 4);
	n += 65536;
	/* 200 messages of 64 KiB is 12.5 MiB: far beyond 1 MiB plus socket
	 * buffers, far below 1000 messages. */
	for (int i = 0; i < 200; i++)
		raw_send(sender, f, n);
	expect_type(sender, b, sizeof(b), WIRE_REG_MEMB | WIRE_BY_DISCONNECT);
	T_ASSERT(hd_wait_log(&d, "output queue full", 2000));
	close(lazy);
	close(sender);
	hd_stop(&d);
}

/* A client that stops reading and then sends its last message and hangs
 * up: the message is still delivered (a write error alone does not end a
 * session; the daemon reads on until EOF). */
static void last_words(void)
{
	static uint8_t f[30000], b[30000];
	struct hd d;
	char pga[32], pgb[32];
	const char *g[1] = { "rg" };
	int a, lost = 0;

	hd_start(&d, NULL);
	a = session(&d, "a", 1, pga);
	send_control(a, pga, WIRE_JOIN, "rg");
	expect_type(a, b, sizeof(b), WIRE_REG_MEMB | WIRE_BY_JOIN);
	for (int round = 0; round < 10; round++) {
		int bfd = session(&d, "b", 0, pgb), sz = 4096, seen_last = 0;
		size_t n;

		setsockopt(bfd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
		send_control(bfd, pgb, WIRE_JOIN, "rg");
		expect_type(a, b, sizeof(b), WIRE_REG_MEMB | WIRE_BY_JOIN);
		n = raw_frame(f, LIB_TYPE(0x02 | 0x40), pga, 1, g, MARK, NULL, 0);
		memcpy(f + 44, &(int32_t){ 20000 }, 4);
		for (int i = 0; i < 60; i++)
			raw_send(a, f, n + 20000);
		n = raw_frame(f, LIB_TYPE(0x10), pgb, 1, g, MARK, "last", 4);
		raw_send(bfd, f, n);
		{
			const char *me[1] = { pgb };

			n = raw_frame(f, LIB_TYPE(WIRE_KILL), pgb, 1, me, MARK, NULL, 0);
			raw_send(bfd, f, n);
		}
		close(bfd);
		for (;;) {
			struct wire_hdr h;
			ssize_t got = raw_read_frame(a, b, sizeof(b), 5000);

			T_ASSERT(got > 0);
			wire_hdr_decode(b, &h);
			if ((h.type & ~WIRE_MARK) == 0x10 && h.data_len == 4)
				seen_last = 1;
			if ((h.type & ~WIRE_MARK) == (WIRE_REG_MEMB | WIRE_BY_DISCONNECT))
				break;
		}
		lost += !seen_last;
	}
	T_EQ(lost, 0);
	close(a);
	hd_stop(&d);
}

/* Item 61: the name is free again once the disconnect is processed. */
static void item_61_reconnect_same_name(void)
{
	struct hd d;
	char pg[32];
	uint8_t f[128];
	const char *g[1] = { "#again#localhost" };

	hd_start(&d, NULL);
	for (int i = 0; i < 20; i++) {
		int fd = session(&d, "again", 1, pg), r = 0;

		raw_send(fd, f, raw_frame(f, LIB_TYPE(WIRE_KILL), pg, 1, g, MARK, NULL, 0));
		T_ASSERT(raw_wait_closed(fd, 2000));
		close(fd);
		/* Retry -6 with a short back-off, as clients should. */
		for (int t = 0; t < 50; t++) {
			int fd2 = raw_tcp(&d);

			r = raw_connect(fd2, "again", 1, pg);
			close(fd2);
			if (r == 1)
				break;
			T_EQ(r, -6);
			usleep(2000);
		}
		T_EQ(r, 1);
	}
	hd_stop(&d);
}

/* Item 64: IP authentication with an access list. */
static int connect_with_method(int fd, const char *method, uint8_t *list)
{
	uint8_t b, choice[90];

	raw_send(fd, "\x04\x04\x00\x01\x02" "ip", 7);
	T_EQ(raw_recv(fd, &b, 1, 2000), 1);
	T_ASSERT((int8_t)b > 0);
	T_EQ(raw_recv(fd, list, b, 2000), b);
	list[b] = 0;
	memset(choice, 0, sizeof(choice));
	memcpy(choice, method, strlen(method));
	raw_send(fd, choice, 90);
	T_EQ(raw_recv(fd, &b, 1, 2000), 1);
	return (int8_t)b;
}

static void item_64_ip_authentication(void)
{
	struct hd d;
	uint8_t list[128];
	int fd;

	hd_start_ex(&d, "AllowedAuthMethods = \"IP\"", NULL,
		    "# Unix-socket clients only\nunix\n");
	fd = raw_unix(&d);
	T_EQ(connect_with_method(fd, "IP", list), 1);
	T_STREQ((char *)list, "IP ");
	close(fd);
	fd = raw_tcp(&d);
	T_EQ(connect_with_method(fd, "IP", list), -9);
	close(fd);
	fd = raw_unix(&d);
	T_EQ(connect_with_method(fd, "NULL", list), -9);
	close(fd);
	hd_stop(&d);
	/* With "local", loopback TCP clients get in too. */
	hd_start_ex(&d, "AllowedAuthMethods = \"IP\"", NULL, "local\n");
	fd = raw_tcp(&d);
	T_EQ(connect_with_method(fd, "IP", list), 1);
	close(fd);
	hd_stop(&d);
}

int main(int argc, char **argv)
{
	static const struct t_case cases[] = {
		T_CASE(item_11_handshake_bytes),
		T_CASE(item_12_bad_private_names),
		T_CASE(item_13_duplicate_name),
		T_CASE(item_14_old_version),
		T_CASE(item_15_random_name),
		T_CASE(item_16_auth_choice),
		T_CASE(item_17_silent_client),
		T_CASE(item_18_session_limit),
		T_CASE(item_19_membership_flag),
		T_CASE(item_20_old_libraries),
		T_CASE(item_26_invalid_frames_kill),
		T_CASE(item_27_zero_groups),
		T_CASE(item_28_forbidden_type_bits),
		T_CASE(item_29_bad_join_leave),
		T_CASE(item_30_largest_frames),
		T_CASE(item_31_foreign_byte_order),
		T_CASE_TIMEOUT(item_60_slow_receiver, 60),
		T_CASE(item_61_reconnect_same_name),
		T_CASE(item_64_ip_authentication),
		T_CASE_TIMEOUT(item_65_hostile_bytes, 60),
		T_CASE(trickled_frame),
		T_CASE(trickled_foreign_frame),
		T_CASE_TIMEOUT(many_connections, 60),
		T_CASE_TIMEOUT(ten_thousand_sessions, 120),
		T_CASE(session_byte_limit),
		T_CASE(last_words),
	};
	return t_main(argc, argv, cases, T_COUNT(cases));
}
