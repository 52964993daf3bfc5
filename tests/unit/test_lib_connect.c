/*
 * test_lib_connect.c - libchorus: opening mailboxes (spec sections 2.3 and
 * 3; checklist items 1 to 10), the auth registry, timeouts, the session
 * limit and the error texts.
 */
#include <fcntl.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>

#include "lib/lib.h"
#include "lib_fake.h"

/* The daemon's default reply: "NULL " list, then the accept record. */
static const uint8_t reply_alice[] = {
	5, 'N', 'U', 'L', 'L', ' ', 1, 4, 4, 0, 16, '#', 'a', 'l', 'i', 'c',
	'e', '#', 'l', 'o', 'c', 'a', 'l', 'h', 'o', 's', 't',
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Item 1. */
static void version_values(void)
{
	int a = -1, b = -1, c = -1;

	T_EQ(SP_version(&a, &b, &c), 1);
	T_EQ(a, 4);
	T_EQ(b, 4);
	T_EQ(c, 0);
	T_EQ(SP_version(NULL, &b, &c), 0);
	T_EQ(SP_version(&a, NULL, &c), 0);
	T_EQ(SP_version(&a, &b, NULL), 0);
}

/* Items 2 and 3 (parsing), plus the documented "/path" extension. */
static void addr_parse_table(void)
{
	static const struct {
		const char *in;
		int ret, family;
		const char *path;
		unsigned port;
	} cases[] = {
		{ NULL, 0, AF_UNIX, "/tmp/4803", 0 },
		{ "", 0, AF_UNIX, "/tmp/4803", 0 },
		{ "4803", 0, AF_UNIX, "/tmp/4803", 0 },
		{ "4900", 0, AF_UNIX, "/tmp/4900", 0 },
		{ "65535", 0, AF_UNIX, "/tmp/65535", 0 },
		{ "4803@127.0.0.1", 0, AF_INET, NULL, 4803 },
		{ "4804 \t@127.0.0.1", 0, AF_INET, NULL, 4804 },
		{ "4803@localhost", 0, AF_INET, NULL, 4803 },
		{ "/run/chorus/4803", 0, AF_UNIX, "/run/chorus/4803", 0 },
		{ "127.0.0.1:4803", ILLEGAL_SPREAD, 0, NULL, 0 },
		{ "localhost", ILLEGAL_SPREAD, 0, NULL, 0 },
		{ "@localhost", ILLEGAL_SPREAD, 0, NULL, 0 },
		{ "4803@", ILLEGAL_SPREAD, 0, NULL, 0 },
		{ "4803x", ILLEGAL_SPREAD, 0, NULL, 0 },
		{ "4803 ", ILLEGAL_SPREAD, 0, NULL, 0 },
		{ "65536", ILLEGAL_SPREAD, 0, NULL, 0 },
		{ "-1", ILLEGAL_SPREAD, 0, NULL, 0 },
		{ "+4803", ILLEGAL_SPREAD, 0, NULL, 0 },
		{ " 4803", ILLEGAL_SPREAD, 0, NULL, 0 },
		{ "4803@no-such-host.invalid", ILLEGAL_SPREAD, 0, NULL, 0 },
		{ "4803@aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		  "aaaaaaaaaaaa", ILLEGAL_SPREAD, 0, NULL, 0 },
		{ "/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
		  ILLEGAL_SPREAD, 0, NULL, 0 },
	};

	for (size_t i = 0; i < T_COUNT(cases); i++) {
		struct sockaddr_storage ss;
		socklen_t len = 0;
		int r = lib_addr_parse(cases[i].in, &ss, &len);

		T_ASSERTF(r == cases[i].ret, "case %zu (%s): %d", i,
			  cases[i].in ? cases[i].in : "NULL", r);
		if (r != 0)
			continue;
		T_EQ(ss.ss_family, cases[i].family);
		if (cases[i].family == AF_UNIX) {
			T_STREQ(((struct sockaddr_un *)&ss)->sun_path,
				cases[i].path);
		} else {
			struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

			T_EQ(ntohs(sin->sin_port), cases[i].port);
			T_EQ(ntohl(sin->sin_addr.s_addr), 0x7f000001);
		}
	}
}

/* Item 2 live: "<port>" reaches /tmp/<port>. */
static void connect_unix_port_form(void)
{
	struct sockaddr_un sun;
	struct fake f;
	char port[16], pg[MAX_GROUP_NAME];
	mailbox m;
	struct stat st;
	unsigned p = 20000 + (unsigned)getpid() % 40000;

	memset(&f, 0, sizeof(f));
	f.dfd = -1;
	for (;; p++) {
		snprintf(f.path, sizeof(f.path), "/tmp/%u", p);
		if (stat(f.path, &st) != 0)
			break;
	}
	snprintf(port, sizeof(port), "%u", p);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	strcpy(sun.sun_path, f.path);
	f.lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	T_ASSERT(bind(f.lfd, (struct sockaddr *)&sun, sizeof(sun)) == 0);
	T_ASSERT(listen(f.lfd, 5) == 0);
	strcpy(f.pg, "#alice#localhost");
	T_ASSERT(pthread_create(&f.th, NULL, fake_session_thread, &f) == 0);
	T_EQ(SP_connect(port, "alice", 0, 1, &m, pg), ACCEPT_SESSION);
	pthread_join(f.th, NULL);
	T_STREQ(pg, "#alice#localhost");
	T_EQ(SP_disconnect(m), 0);
	fake_close(&f);
}

/* Item 3: TCP, with TCP_NODELAY and SO_KEEPALIVE; "host:port" is -1. */
static void connect_tcp(void)
{
	struct fake f;
	mailbox m = fake_session_ex(&f, "alice", "#alice#localhost", 1, 1);
	int v = 0;
	socklen_t len = sizeof(v);
	char other[64], pg[MAX_GROUP_NAME];
	unsigned port = 0;
	mailbox m2 = -7;

	T_ASSERT(getsockopt(m, IPPROTO_TCP, TCP_NODELAY, &v, &len) == 0);
	T_ASSERT(v != 0);
	T_ASSERT(getsockopt(m, SOL_SOCKET, SO_KEEPALIVE, &v, &len) == 0);
	T_ASSERT(v != 0);
	sscanf(f.addr, "%u@", &port);
	snprintf(other, sizeof(other), "127.0.0.1:%u", port);
	T_EQ(SP_connect(other, "bob", 0, 1, &m2, pg), ILLEGAL_SPREAD);
	T_EQ(m2, -7);
	T_EQ(SP_disconnect(m), 0);
	fake_close(&f);
}

/* Item 4. */
static void connect_refused(void)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	char addr[64], pg[MAX_GROUP_NAME];
	mailbox m;
	int s = socket(AF_INET, SOCK_STREAM, 0);

	T_EQ(SP_connect("/tmp/chorus-test-no-such-dir/sock", "a", 0, 1, &m,
			pg), COULD_NOT_CONNECT);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	T_ASSERT(bind(s, (struct sockaddr *)&sin, sizeof(sin)) == 0);
	T_ASSERT(getsockname(s, (struct sockaddr *)&sin, &len) == 0);
	close(s); /* nothing listens on that port now */
	snprintf(addr, sizeof(addr), "%u@127.0.0.1",
		 (unsigned)ntohs(sin.sin_port));
	T_EQ(SP_connect(addr, "a", 0, 1, &m, pg), COULD_NOT_CONNECT);
}

/* TLS addresses and settings that are refused before any byte of TLS,
 * and a TLS attempt on a port that never answers. */
static void tls_refusals(void)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	char addr[64], pg[MAX_GROUP_NAME];
	sp_time to = { 0, 300000 };
	mailbox m = -1;
	int s = socket(AF_INET, SOCK_STREAM, 0);

	unsetenv("CHORUS_TLS_CA");
	unsetenv("CHORUS_TLS_CERT");
	unsetenv("CHORUS_TLS_KEY");
	T_STREQ(chorus_tls_error(), "");
	T_EQ(SP_connect("tls:4803", "a", 0, 1, &m, pg), ILLEGAL_SPREAD);
	T_EQ(SP_connect("tls:@localhost", "a", 0, 1, &m, pg), ILLEGAL_SPREAD);
	T_EQ(SP_connect("tls:/tmp/4803", "a", 0, 1, &m, pg), ILLEGAL_SPREAD);
	T_EQ(SP_connect("tls:4803x@localhost", "a", 0, 1, &m, pg), ILLEGAL_SPREAD);
	T_EQ(m, -1);
	T_EQ(chorus_set_tls(NULL, "/etc/c.pem", NULL), ILLEGAL_SPREAD);
	T_ASSERTF(strstr(chorus_tls_error(), "needs its key") != NULL, "%s",
		  chorus_tls_error());
	T_EQ(chorus_set_tls("/chorus-test-no-such/ca.pem", NULL, NULL), ILLEGAL_SPREAD);
	T_ASSERTF(strstr(chorus_tls_error(), "/chorus-test-no-such/ca.pem") != NULL,
		  "%s", chorus_tls_error());
	/* A listener that never accepts: the kernel completes the TCP
	 * handshake, the TLS one never comes. */
	T_EQ(chorus_set_tls(NULL, NULL, NULL), 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	T_ASSERT(bind(s, (struct sockaddr *)&sin, sizeof(sin)) == 0);
	T_ASSERT(listen(s, 4) == 0);
	T_ASSERT(getsockname(s, (struct sockaddr *)&sin, &len) == 0);
	snprintf(addr, sizeof(addr), "tls:%u@127.0.0.1", (unsigned)ntohs(sin.sin_port));
	T_EQ(SP_connect_timeout(addr, "a", 0, 1, &m, pg, to), COULD_NOT_CONNECT);
	T_ASSERTF(strstr(chorus_tls_error(), "TLS handshake: timed out") != NULL, "%s",
		  chorus_tls_error());
	T_EQ(m, -1);
	close(s);
}

/* Connects through a blob daemon and returns what the client sent. */
static int blob_connect(struct fake *f, const void *reply, size_t len,
			const char *name, int prio, int memb, mailbox *m)
{
	char pg[MAX_GROUP_NAME];
	int r;

	fake_listen_unix(f);
	fake_blob_start(f, reply, len);
	r = SP_connect(f->addr, name, prio, memb, m, pg);
	if (r == ACCEPT_SESSION)
		SP_kill(*m);
	fake_blob_join(f);
	return r;
}

/* Item 5: the request bytes, membership and priority in the flag byte. */
static void connect_request_bytes(void)
{
	static const uint8_t want[] = { 4, 4, 0, 1, 5, 'a', 'l', 'i', 'c',
					'e' };
	static const struct {
		int memb, prio;
		uint8_t flag;
	} cases[] = {
		{ 1, 0, 0x01 }, { 1, 1, 0x11 }, { 0, 0, 0x00 },
		{ 0, 1, 0x10 }, { 1, 5, 0x11 }, { 1, -3, 0x01 },
		{ 7, 0, 0x01 },
	};

	for (size_t i = 0; i < T_COUNT(cases); i++) {
		struct fake f;
		mailbox m;

		T_EQ(blob_connect(&f, reply_alice, sizeof(reply_alice), "alice",
				  cases[i].prio, cases[i].memb, &m),
		     ACCEPT_SESSION);
		T_EQ(f.cap_len, 10 + WIRE_AUTH_CHOICE_LEN);
		T_EQ(f.cap[3], cases[i].flag);
		if (i == 0)
			T_MEMEQ(f.cap, want, sizeof(want));
		fake_close(&f);
	}
}

/* Item 6: long names are cut to 10 bytes; NULL and "" send none. */
static void connect_name_truncated(void)
{
	static const struct {
		const char *name;
		const char *sent;
	} cases[] = {
		{ "cbcbcbcbcbcbcb", "cbcbcbcbcb" },
		{ "abcdefghij", "abcdefghij" },
		{ "abcdefghijk", "abcdefghij" },
		{ NULL, "" },
		{ "", "" },
	};

	for (size_t i = 0; i < T_COUNT(cases); i++) {
		struct fake f;
		size_t n = strlen(cases[i].sent);
		mailbox m;

		T_EQ(blob_connect(&f, reply_alice, sizeof(reply_alice),
				  cases[i].name, 0, 1, &m), ACCEPT_SESSION);
		T_EQ(f.cap[4], n);
		T_MEMEQ(f.cap + 5, cases[i].sent, n);
		T_EQ(f.cap_len, 5 + n + WIRE_AUTH_CHOICE_LEN);
		fake_close(&f);
	}
}

/* Item 7: the choice is "NULL" and 86 zeros, then (SP_disconnect) the
 * 80-byte kill frame. */
static void connect_auth_choice(void)
{
	uint8_t want[WIRE_AUTH_CHOICE_LEN] = { 'N', 'U', 'L', 'L' };
	char pg[MAX_GROUP_NAME];
	struct fake f;
	struct wire_hdr h;
	mailbox m;

	fake_listen_unix(&f);
	fake_blob_start(&f, reply_alice, sizeof(reply_alice));
	T_EQ(SP_connect(f.addr, "alice", 0, 1, &m, pg), ACCEPT_SESSION);
	T_EQ(SP_disconnect(m), 0);
	fake_blob_join(&f);
	T_EQ(f.cap_len, 10 + 90 + 80);
	T_MEMEQ(f.cap + 10, want, sizeof(want));
	T_EQ(wire_hdr_decode(f.cap + 100, &h), 0);
	T_EQ(h.type, 0x80040080u);
	T_STREQ(h.name, "#alice#localhost");
	T_EQ(h.num_groups, 1);
	T_EQ(h.data_len, 0);
	T_STREQ((char *)f.cap + 148, "#alice#localhost");
	fake_close(&f);
}

static int auth_calls[4];
static int auth_fds[4];

static int auth_rec(int fd, void *data)
{
	int k = (int)(intptr_t)data;

	auth_calls[k & 3]++;
	auth_fds[k & 3] = fd;
	return k < 4; /* data 4 and above means "fail" */
}

/* Item 8: a registered method missing from the list: -9, no choice. */
static void connect_auth_missing(void)
{
	struct fake f;
	mailbox m;

	T_EQ(SP_set_auth_method("IP", auth_rec, (void *)1), 1);
	T_EQ(blob_connect(&f, reply_alice, sizeof(reply_alice), "alice", 0, 1,
			  &m), REJECT_AUTH);
	T_EQ(f.cap_len, 10);
	T_EQ(auth_calls[1], 0);
	fake_close(&f);
}

/* Several methods: slots in order, functions called with the socket. */
static void connect_auth_methods(void)
{
	static const uint8_t reply[] = { 8, 'N', 'U', 'L', 'L', ' ', 'I', 'P',
					 ' ', 1, 4, 4, 0, 6, '#', 'a', '#',
					 'l', 'h', 'x' };
	const char *names[2] = { "NULL", "IP" };
	int (*fns[2])(int, void *) = { auth_rec, auth_rec };
	void *data[2] = { (void *)0, (void *)1 };
	uint8_t want[WIRE_AUTH_CHOICE_LEN] = { 'N', 'U', 'L', 'L', [30] = 'I',
					       'P' };
	char pg[MAX_GROUP_NAME];
	struct fake f;
	mailbox m;

	T_EQ(SP_set_auth_methods(2, names, fns, data), 1);
	fake_listen_unix(&f);
	fake_blob_start(&f, reply, sizeof(reply));
	T_EQ(SP_connect(f.addr, "a", 0, 1, &m, pg), ACCEPT_SESSION);
	T_EQ(auth_calls[0], 1);
	T_EQ(auth_calls[1], 1);
	T_EQ(auth_fds[1], m);
	T_STREQ(pg, "#a#lhx");
	SP_kill(m);
	fake_blob_join(&f);
	T_EQ(f.cap_len, 6 + 90);
	T_MEMEQ(f.cap + 6, want, sizeof(want));
	fake_close(&f);

	/* A method that fails: -9 after the choice went out. */
	data[1] = (void *)5;
	T_EQ(SP_set_auth_methods(2, names, fns, data), 1);
	T_EQ(blob_connect(&f, reply, sizeof(reply), "a", 0, 1, &m),
	     REJECT_AUTH);
	T_EQ(f.cap_len, 6 + 90);
	fake_close(&f);

	/* No method at all: an all-zero choice. */
	T_EQ(SP_set_auth_methods(0, NULL, NULL, NULL), 1);
	T_EQ(blob_connect(&f, reply, sizeof(reply), "a", 0, 1, &m),
	     ACCEPT_SESSION);
	memset(want, 0, sizeof(want));
	T_MEMEQ(f.cap + 6, want, sizeof(want));
	fake_close(&f);
}

static void auth_registry_args(void)
{
	const char *names[4] = { "A", "B", "C", "D" };
	int (*fns[4])(int, void *) = { auth_rec, auth_rec, auth_rec, auth_rec };
	const char *bad[1] = { "abcdefghijabcdefghijabcdefghij" }; /* 30 */
	const char *nul[1] = { NULL };
	int (*nofn[1])(int, void *) = { NULL };

	T_EQ(SP_set_auth_method("abcdefghijabcdefghijabcdefghi", auth_rec,
				NULL), 1);
	T_EQ(SP_set_auth_method(bad[0], auth_rec, NULL), 0);
	T_EQ(SP_set_auth_method("NULL", NULL, NULL), 0);
	T_EQ(SP_set_auth_method(NULL, auth_rec, NULL), 0);
	T_EQ(SP_set_auth_methods(4, names, fns, NULL), 0);
	T_EQ(SP_set_auth_methods(-1, names, fns, NULL), 0);
	T_EQ(SP_set_auth_methods(3, names, fns, NULL), 1);
	T_EQ(SP_set_auth_methods(1, bad, fns, NULL), 0);
	T_EQ(SP_set_auth_methods(1, nul, fns, NULL), 0);
	T_EQ(SP_set_auth_methods(1, names, nofn, NULL), 0);
	T_EQ(SP_set_auth_methods(1, NULL, fns, NULL), 0);
}

/* Item 9: a negative first byte is the result; no choice is sent. */
static void connect_reject_byte(void)
{
	static const struct {
		uint8_t b;
		int ret;
	} cases[] = {
		{ 0xFA, REJECT_NOT_UNIQUE }, { 0xFD, REJECT_QUOTA },
		{ 0xFB, REJECT_ILLEGAL_NAME }, { 0xF9, REJECT_VERSION },
		{ 0xF7, REJECT_AUTH },
	};

	for (size_t i = 0; i < T_COUNT(cases); i++) {
		struct fake f;
		mailbox m;

		T_EQ(blob_connect(&f, &cases[i].b, 1, "alice", 0, 1, &m),
		     cases[i].ret);
		T_EQ(f.cap_len, 10);
		fake_close(&f);
	}
}

/* Daemon replies that end the handshake with an error (L1, L2 bounds). */
static void connect_handshake_errors(void)
{
#define NULL_LIST 5, 'N', 'U', 'L', 'L', ' '
	static const uint8_t eof[] = { 0 };
	static const uint8_t long_list[] = { 91 };
	static const uint8_t empty_list[] = { 0 };
	static const uint8_t verdict_f7[] = { NULL_LIST, 0xF7 };
	static const uint8_t verdict_0[] = { NULL_LIST, 0 };
	static const uint8_t old_daemon[] = { NULL_LIST, 1, 3, 0, 9, 6, '#',
					      'a', '#', 'l', 'h', 'x' };
	static const uint8_t v37[] = { NULL_LIST, 1, 3, 7, 0, 6, '#',
				       'a', '#', 'l', 'h', 'x' };
	static const uint8_t p3[] = { NULL_LIST, 1, 4, 4, 0, 3, '#', 'a', '#' };
	static const uint8_t p32[] = { NULL_LIST, 1, 4, 4, 0, 32 };
	static const uint8_t pneg[] = { NULL_LIST, 1, 4, 4, 0, 0xFF };
	static const uint8_t pshort[] = { NULL_LIST, 1, 4, 4, 0, 16, '#', 'a' };
	static const uint8_t no_ver[] = { NULL_LIST, 1, 4 };
	static const struct {
		const uint8_t *reply;
		size_t len;
		int prio, ret;
	} cases[] = {
		{ eof, 0, 0, CONNECTION_CLOSED },
		{ long_list, sizeof(long_list), 0, CONNECTION_CLOSED },
		{ empty_list, sizeof(empty_list), 0, REJECT_AUTH },
		{ verdict_f7, sizeof(verdict_f7), 0, REJECT_AUTH },
		{ verdict_0, sizeof(verdict_0), 0, CONNECTION_CLOSED },
		{ old_daemon, sizeof(old_daemon), 0, REJECT_VERSION },
		{ v37, sizeof(v37), 1, REJECT_VERSION },
		{ v37, sizeof(v37), 0, ACCEPT_SESSION },
		{ p3, sizeof(p3), 0, CONNECTION_CLOSED },
		{ p32, sizeof(p32), 0, CONNECTION_CLOSED },
		{ pneg, sizeof(pneg), 0, CONNECTION_CLOSED },
		{ pshort, sizeof(pshort), 0, CONNECTION_CLOSED },
		{ no_ver, sizeof(no_ver), 0, CONNECTION_CLOSED },
		{ reply_alice, sizeof(reply_alice), 0, ACCEPT_SESSION },
	};
#undef NULL_LIST

	for (size_t i = 0; i < T_COUNT(cases); i++) {
		struct fake f;
		mailbox m;
		int r = blob_connect(&f, cases[i].reply, cases[i].len, "alice",
				     cases[i].prio, 1, &m);

		T_ASSERTF(r == cases[i].ret, "case %zu: %d", i, r);
		fake_close(&f);
	}
}

/* A daemon that dribbles its reply a few bytes at a time (L1, L2). */
static void *dribble_thread(void *arg)
{
	struct fake *f = arg;
	uint8_t req[15], choice[90];

	f->dfd = accept(f->lfd, NULL, NULL);
	fake_read_fd(f->dfd, req, 10);
	for (size_t i = 0; i < sizeof(reply_alice); i += 4) {
		size_t n = sizeof(reply_alice) - i < 4 ? sizeof(reply_alice) - i
						       : 4;

		if (i == 8)
			fake_read_fd(f->dfd, choice, sizeof(choice));
		fake_write_fd(f->dfd, reply_alice + i, n);
		usleep(20000);
	}
	return NULL;
}

/* Item 10: the accept record gives the name; the mailbox is the socket. */
static void connect_accept_record(void)
{
	char pg[MAX_GROUP_NAME];
	struct fake f;
	struct stat st;
	mailbox m;
	int type = 0;
	socklen_t len = sizeof(type);

	memset(pg, 'x', sizeof(pg));
	fake_listen_unix(&f);
	T_ASSERT(pthread_create(&f.th, NULL, dribble_thread, &f) == 0);
	T_EQ(SP_connect(f.addr, "alice", 0, 1, &m, pg), ACCEPT_SESSION);
	pthread_join(f.th, NULL);
	T_STREQ(pg, "#alice#localhost");
	T_ASSERT(fstat(m, &st) == 0 && S_ISSOCK(st.st_mode));
	T_ASSERT(getsockopt(m, SOL_SOCKET, SO_TYPE, &type, &len) == 0);
	T_EQ(type, SOCK_STREAM);
	T_EQ(SP_poll(m), 0);
	T_EQ(SP_disconnect(m), 0);
	T_ASSERT(fcntl(m, F_GETFD) < 0); /* closed */
	fake_close(&f);
}

/* A daemon that never answers: the deadline covers the handshake reads. */
static void connect_timeout_read(void)
{
	sp_time t = { 0, 200000 };
	char pg[MAX_GROUP_NAME];
	struct fake f;
	mailbox m;
	double t0;

	fake_listen_unix(&f); /* listens, never accepts */
	t0 = now_s();
	T_EQ(SP_connect_timeout(f.addr, "alice", 0, 1, &m, pg, t),
	     CONNECTION_CLOSED);
	T_ASSERT(now_s() - t0 >= 0.15 && now_s() - t0 < 5);
	fake_close(&f);
}

/* A listener whose backlog is full: connect() itself times out. */
static void connect_timeout_connect(void)
{
	struct sockaddr_un sun;
	sp_time t = { 0, 200000 };
	char pg[MAX_GROUP_NAME];
	struct fake f;
	int fill[16], nfill = 0;
	mailbox m;
	double t0;

	fake_listen_unix(&f);
	close(f.lfd);
	unlink(f.path);
	f.lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	strcpy(sun.sun_path, f.path);
	T_ASSERT(bind(f.lfd, (struct sockaddr *)&sun, sizeof(sun)) == 0);
	T_ASSERT(listen(f.lfd, 0) == 0);
	while (nfill < 16) {
		int s = socket(AF_UNIX, SOCK_STREAM, 0);

		fcntl(s, F_SETFL, O_NONBLOCK);
		fill[nfill++] = s;
		if (connect(s, (struct sockaddr *)&sun, sizeof(sun)) != 0)
			break;
	}
	T_ASSERT(nfill < 16);
	t0 = now_s();
	T_EQ(SP_connect_timeout(f.addr, "alice", 0, 1, &m, pg, t),
	     COULD_NOT_CONNECT);
	T_ASSERT(now_s() - t0 >= 0.15 && now_s() - t0 < 5);
	for (int i = 0; i < nfill; i++)
		close(fill[i]);
	fake_close(&f);
}

/* A generous timeout does not disturb a normal handshake. */
static void connect_timeout_ok(void)
{
	sp_time t = { 5, 0 };
	char pg[MAX_GROUP_NAME];
	struct fake f;
	mailbox m;

	fake_listen_tcp(&f);
	fake_blob_start(&f, reply_alice, sizeof(reply_alice));
	T_EQ(SP_connect_timeout(f.addr, "alice", 0, 1, &m, pg, t),
	     ACCEPT_SESSION);
	T_EQ(SP_disconnect(m), 0);
	fake_blob_join(&f);
	T_EQ(f.cap_len, 180);
	fake_close(&f);
}

/* A NULL mailbox pointer is refused; a NULL private_group is allowed. */
static void connect_null_args(void)
{
	struct fake f;
	mailbox m;

	T_EQ(SP_connect("/tmp/chorus-test-none/sock", "a", 0, 1, NULL, NULL),
	     ILLEGAL_SESSION);
	fake_listen_unix(&f);
	fake_blob_start(&f, reply_alice, sizeof(reply_alice));
	T_EQ(SP_connect(f.addr, "alice", 0, 1, &m, NULL), ACCEPT_SESSION);
	T_EQ(SP_disconnect(m), 0);
	fake_blob_join(&f);
	T_EQ(f.cap_len, 10 + 90 + 80);
	fake_close(&f);
}

/* Beyond the session limit: REJECT_QUOTA, and the daemon sees a close. */
static void session_limit(void)
{
	struct fake f[3];
	mailbox m[3];

	lib_sess_set_limit(2);
	m[0] = fake_session(&f[0]);
	m[1] = fake_session(&f[1]);
	T_EQ(blob_connect(&f[2], reply_alice, sizeof(reply_alice), "c", 0, 1,
			  &m[2]), REJECT_QUOTA);
	T_EQ(f[2].cap_len, 6 + 90); /* and then EOF */
	fake_close(&f[2]);
	T_EQ(SP_disconnect(m[0]), 0);
	T_EQ(blob_connect(&f[2], reply_alice, sizeof(reply_alice), "c", 0, 1,
			  &m[2]), ACCEPT_SESSION);
	T_EQ(SP_disconnect(m[1]), 0);
	for (int i = 0; i < 3; i++)
		fake_close(&f[i]);
}

#define MANY 1100

static int many_fds[MANY];

static void *many_thread(void *arg)
{
	struct fake *f = arg;

	for (int i = 0; i < MANY; i++) {
		f->dfd = accept(f->lfd, NULL, NULL);
		snprintf(f->pg, sizeof(f->pg), "#u%d#d", i);
		if (f->dfd < 0 || fake_handshake(f) != 0)
			return NULL;
		many_fds[i] = f->dfd;
	}
	f->dfd = -1;
	return NULL;
}

/* More than Spread's 1024 mailboxes at once. */
static void session_many(void)
{
	static mailbox m[MANY];
	char pg[MAX_GROUP_NAME], want[MAX_GROUP_NAME];
	struct fake f;
	struct rlimit rl;

	/* Both ends of every connection live in this process. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 2 * MANY + 64) {
		rl.rlim_cur = rl.rlim_max;
		if (rl.rlim_cur < 2 * MANY + 64 ||
		    setrlimit(RLIMIT_NOFILE, &rl) != 0)
			t_skip("needs %d descriptors", 2 * MANY + 64);
	}
	fake_listen_unix(&f);
	T_ASSERT(pthread_create(&f.th, NULL, many_thread, &f) == 0);
	for (int i = 0; i < MANY; i++) {
		T_EQ(SP_connect(f.addr, "u", 0, 1, &m[i], pg), ACCEPT_SESSION);
		snprintf(want, sizeof(want), "#u%d#d", i);
		T_STREQ(pg, want);
	}
	pthread_join(f.th, NULL);
	for (int i = 0; i < MANY; i++) {
		T_EQ(SP_poll(m[i]), 0);
		T_EQ(SP_disconnect(m[i]), 0);
		close(many_fds[i]);
	}
	fake_close(&f);
}

/* SP_kill after fork in the child leaves the parent's connection alone. */
static void kill_after_fork(void)
{
	struct fake f;
	mailbox m = fake_session(&f);
	char out[128];
	int status;
	pid_t pid = fork();

	if (pid == 0) {
		SP_kill(m);
		_exit(SP_poll(m) == ILLEGAL_SESSION ? 0 : 1);
	}
	T_ASSERT(waitpid(pid, &status, 0) == pid);
	T_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	T_EQ(SP_multicast(m, AGREED_MESS, "g", 1, 2, "hi"), 2);
	T_EQ(fake_read_fd(f.dfd, out, 48 + 32 + 2), 0);
	T_EQ(SP_disconnect(m), 0);
	fake_close(&f);
}

/* The descriptions of section 10.3 and SP_error's one stdout line. */
static void error_strings(void)
{
	static const int codes[] = { -1, -2, -3, -4, -5, -6, -7, -8, -9, -11,
				     -12, -13, -14, -15, -16, -17, -18, -19 };
	const char *unknown = chorus_strerror(-10);
	char buf[256];
	int fds[2], saved;
	ssize_t n;

	for (size_t i = 0; i < T_COUNT(codes); i++) {
		const char *s = chorus_strerror(codes[i]);

		T_ASSERT(s && *s && s != unknown);
		for (size_t j = 0; j < i; j++)
			T_ASSERT(strcmp(s, chorus_strerror(codes[j])) != 0);
	}
	T_STREQ(chorus_strerror(-8), "the daemon closed the connection");
	T_STREQ(chorus_strerror(-100), unknown);
	T_STREQ(chorus_strerror(12345), unknown);

	T_ASSERT(pipe(fds) == 0);
	fflush(stdout);
	saved = dup(1);
	dup2(fds[1], 1);
	SP_error(CONNECTION_CLOSED);
	SP_error(-10);
	fflush(stdout);
	dup2(saved, 1);
	close(fds[1]);
	n = read(fds[0], buf, sizeof(buf) - 1);
	T_ASSERT(n > 0);
	buf[n] = 0;
	{
		char want[256];

		snprintf(want, sizeof(want),
			 "SP_error: (-8) the daemon closed the connection\n"
			 "SP_error: (-10) %s\n", unknown);
		T_STREQ(buf, want);
	}
}

int main(int argc, char **argv)
{
	static const struct t_case cases[] = {
		T_CASE(version_values),
		T_CASE(addr_parse_table),
		T_CASE(connect_unix_port_form),
		T_CASE(connect_tcp),
		T_CASE(connect_refused),
		T_CASE(tls_refusals),
		T_CASE(connect_request_bytes),
		T_CASE(connect_name_truncated),
		T_CASE(connect_auth_choice),
		T_CASE(connect_auth_missing),
		T_CASE(connect_auth_methods),
		T_CASE(auth_registry_args),
		T_CASE(connect_reject_byte),
		T_CASE(connect_handshake_errors),
		T_CASE(connect_accept_record),
		T_CASE(connect_timeout_read),
		T_CASE(connect_timeout_connect),
		T_CASE(connect_timeout_ok),
		T_CASE(connect_null_args),
		T_CASE(session_limit),
		T_CASE_TIMEOUT(session_many, 120),
		T_CASE(kill_after_fork),
		T_CASE(error_strings),
	};

	return t_main(argc, argv, cases, T_COUNT(cases));
}
