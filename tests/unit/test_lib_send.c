/*
 * test_lib_send.c - libchorus: client-to-daemon frames (spec sections 4.5
 * and 10.3; checklist items 21 to 25; defects L3 to L5), partial writes,
 * sends from several threads, and sends on broken or freed mailboxes.
 */
#include <fcntl.h>
#include <limits.h>

#include "lib_fake.h"

/* The 80-byte join frame of spec section 4.5. */
static const uint8_t join_g1[80] = {
	0x80, 0x00, 0x01, 0x80, '#', 'a', 'l', 'i', 'c', 'e', '#', 'l', 'o',
	'c', 'a', 'l', 'h', 'o', 's', 't', [36] = 0x01, [40] = 0x80,
	[43] = 0x80, [48] = 'g', '1',
};

/* Reads one frame from the library and returns its raw bytes' length. */
static size_t read_raw(struct fake *f, uint8_t *out, size_t cap)
{
	struct wire_hdr h;
	long n = fake_read_frame(f, &h, out, out + WIRE_HDR_LEN,
				 cap - WIRE_HDR_LEN);

	T_ASSERT(n >= 0);
	return WIRE_HDR_LEN + (size_t)n;
}

/* Sends a join of a legal name and checks that it is the next frame, which
 * proves that nothing was sent in between. */
static void expect_next_join(struct fake *f, mailbox m)
{
	uint8_t buf[256];

	T_EQ(SP_join(m, "marker"), 0);
	T_EQ(read_raw(f, buf, sizeof(buf)), 80);
	T_STREQ((char *)buf + 48, "marker");
}

/* Item 21. */
static void join_frame_bytes(void)
{
	struct fake f;
	mailbox m = fake_session(&f);
	uint8_t buf[256];

	T_EQ(SP_join(m, "g1"), 0);
	T_EQ(read_raw(&f, buf, sizeof(buf)), 80);
	T_MEMEQ(buf, join_g1, 80);
	T_EQ(SP_leave(m, "g1"), 0);
	T_EQ(read_raw(&f, buf, sizeof(buf)), 80);
	T_EQ(buf[2], 0x02);
	T_MEMEQ(buf + 3, join_g1 + 3, 77);
	T_EQ(SP_disconnect(m), 0);
	fake_close(&f);
}

/* Item 22, for join and leave alike. */
static void join_illegal_names(void)
{
	static const struct {
		const char *name;
		int ret;
	} cases[] = {
		{ "", ILLEGAL_GROUP },
		{ "abcdefghijabcdefghijabcdefghijab", ILLEGAL_GROUP }, /* 32 */
		{ "abcdefghijabcdefghijabcdefghijabcdefghij", ILLEGAL_GROUP },
		{ "a b", ILLEGAL_GROUP },
		{ "#x", ILLEGAL_GROUP },
		{ "#x#localhost", ILLEGAL_GROUP },
		{ "\x01" "ctl", ILLEGAL_GROUP },
		{ "a\x7f", ILLEGAL_GROUP },
		{ "caf\xc3\xa9", ILLEGAL_GROUP },
		{ "!", ILLEGAL_GROUP },
		{ "\"", ILLEGAL_GROUP },
		{ "abcdefghijabcdefghijabcdefghija", 0 }, /* 31 */
		{ "$", 0 },
		{ "~", 0 },
		{ "g1", 0 },
	};
	struct fake f;
	mailbox m = fake_session(&f);
	uint8_t buf[256];

	T_EQ(SP_join(m, NULL), ILLEGAL_GROUP);
	T_EQ(SP_leave(m, NULL), ILLEGAL_GROUP);
	for (size_t i = 0; i < T_COUNT(cases); i++) {
		for (int leave = 0; leave < 2; leave++) {
			int r = leave ? SP_leave(m, cases[i].name)
				      : SP_join(m, cases[i].name);

			T_ASSERTF(r == cases[i].ret, "case %zu: %d", i, r);
			if (r == 0) {
				T_EQ(read_raw(&f, buf, sizeof(buf)), 80);
				T_STREQ((char *)buf + 48, cases[i].name);
			}
		}
	}
	expect_next_join(&f, m);
	T_EQ(SP_disconnect(m), 0);
	fake_close(&f);
}

/* Items 23 and 25: the return value, the size limit, the frame of the
 * spec's appendix A and its hint bytes. */
static void multicast_len_and_limit(void)
{
	static const uint8_t want[] = {
		0x90, 0x00, 0x00, 0x80, '#', 'a', 'l', 'i', 'c', 'e', '#', 'l',
		'o', 'c', 'a', 'l', 'h', 'o', 's', 't', [36] = 1, [40] = 0x80,
		0x34, 0x12, 0x80, 5, [48] = 'g', '1', [80] = 'h', 'e', 'l',
		'l', 'o',
	};
	static char big[150000];
	static char groups[100][MAX_GROUP_NAME];
	struct fake f;
	mailbox m = fake_session(&f);
	static uint8_t buf[200000];

	T_EQ(SP_multicast(m, AGREED_MESS, "g1", 0x1234, 5, "hello"), 5);
	T_EQ(read_raw(&f, buf, sizeof(buf)), sizeof(want));
	T_MEMEQ(buf, want, sizeof(want));

	/* len + 32 x groups: 144000 passes, 144001 does not. */
	T_EQ(SP_multicast(m, RELIABLE_MESS, "g1", 0, 144001 - 32, big),
	     MESSAGE_TOO_LONG);
	T_EQ(SP_multicast(m, RELIABLE_MESS, "g1", 0, 144000 - 32, big),
	     144000 - 32);
	T_EQ(read_raw(&f, buf, sizeof(buf)), 48 + 144000);
	for (int i = 0; i < 100; i++)
		snprintf(groups[i], MAX_GROUP_NAME, "g%d", i);
	T_EQ(SP_multigroup_multicast(m, SAFE_MESS, 100, groups, 0,
				     144001 - 3200, big), MESSAGE_TOO_LONG);
	T_EQ(SP_multigroup_multicast(m, SAFE_MESS, 100, groups, 0,
				     144000 - 3200, big), 144000 - 3200);
	T_EQ(read_raw(&f, buf, sizeof(buf)), 48 + 144000);
	expect_next_join(&f, m);
	T_EQ(SP_disconnect(m), 0);
	fake_close(&f);
}

/* Item 25 and the int16 round trip of section 4.4. */
static void multicast_hint_bytes(void)
{
	static const struct {
		int16 mt;
		uint8_t hint[4];
	} cases[] = {
		{ 0x1234, { 0x80, 0x34, 0x12, 0x80 } },
		{ 0, { 0x80, 0, 0, 0x80 } },
		{ -1, { 0x80, 0xff, 0xff, 0x80 } },
		{ (int16)0x8000, { 0x80, 0x00, 0x80, 0x80 } },
	};
	struct fake f;
	mailbox m = fake_session(&f);
	uint8_t buf[256];

	if (WIRE_OWN_MARK != WIRE_MARK)
		t_skip("little-endian host only");
	for (size_t i = 0; i < T_COUNT(cases); i++) {
		T_EQ(SP_multicast(m, FIFO_MESS, "g", cases[i].mt, 0, NULL), 0);
		T_EQ(read_raw(&f, buf, sizeof(buf)), 80);
		T_MEMEQ(buf + 40, cases[i].hint, 4);
	}
	T_EQ(SP_disconnect(m), 0);
	fake_close(&f);
}

/* Item 24 and the hardened service rules of section 10.3. */
static void multicast_service_table(void)
{
	static const struct {
		service st;
		int ret;
		uint32_t sent; /* type on the wire, marker cleared */
	} cases[] = {
		{ 0, ILLEGAL_SERVICE, 0 },
		{ REG_MEMB_MESS, ILLEGAL_SERVICE, 0 },
		{ REJECT_MESS | AGREED_MESS, ILLEGAL_SERVICE, 0 },
		{ AGREED_MESS | RELIABLE_MESS, ILLEGAL_SERVICE, 0 },
		{ SAFE_MESS | UNRELIABLE_MESS, ILLEGAL_SERVICE, 0 },
		{ SELF_DISCARD, ILLEGAL_SERVICE, 0 },
		{ AGREED_MESS | 0x80, ILLEGAL_SERVICE, 0 },
		{ AGREED_MESS | (int)0x80000000u, ILLEGAL_SERVICE, 0 },
		{ AGREED_MESS | 0x00080000, ILLEGAL_SERVICE, 0 },
		{ AGREED_MESS | 0x00010000, ILLEGAL_SERVICE, 0 },
		{ AGREED_MESS | CAUSED_BY_JOIN, ILLEGAL_SERVICE, 0 },
		{ UNRELIABLE_MESS, 2, 0x01 },
		{ RELIABLE_MESS, 2, 0x02 },
		{ FIFO_MESS, 2, 0x04 },
		{ CAUSAL_MESS, 2, 0x08 },
		{ AGREED_MESS, 2, 0x10 },
		{ SAFE_MESS, 2, 0x20 },
		{ AGREED_MESS | SELF_DISCARD, 2, 0x50 },
		{ AGREED_MESS | DROP_RECV, 2, 0x10 },
	};
	struct fake f;
	mailbox m = fake_session(&f);
	uint8_t buf[256];

	for (size_t i = 0; i < T_COUNT(cases); i++) {
		int r = SP_multicast(m, cases[i].st, "g", 0, 2, "hi");
		struct wire_hdr h;

		T_ASSERTF(r == cases[i].ret, "case %zu: %d", i, r);
		if (r < 0)
			continue;
		T_EQ(read_raw(&f, buf, sizeof(buf)), 48 + 32 + 2);
		wire_hdr_decode(buf, &h);
		T_EQ(h.type & ~WIRE_MARK, cases[i].sent);
	}
	expect_next_join(&f, m);
	T_EQ(SP_disconnect(m), 0);
	fake_close(&f);
}

/* L3 to L5: counts and lengths are checked before anything is built. */
static void multicast_arg_checks(void)
{
	static char groups[2][MAX_GROUP_NAME] = { "a", "b" };
	static scatter sc;
	struct fake f;
	mailbox m = fake_session(&f);

	T_EQ(SP_multigroup_multicast(m, AGREED_MESS, -1, groups, 0, 1, "x"),
	     ILLEGAL_MESSAGE);
	T_EQ(SP_multigroup_multicast(m, AGREED_MESS, 101, groups, 0, 1, "x"),
	     ILLEGAL_MESSAGE);
	T_EQ(SP_multigroup_multicast(m, AGREED_MESS, 400, groups, 0, 1, "x"),
	     ILLEGAL_MESSAGE);
	T_EQ(SP_multigroup_multicast(m, AGREED_MESS, INT_MIN, groups, 0, 1,
				     "x"), ILLEGAL_MESSAGE);
	T_EQ(SP_multigroup_multicast(m, AGREED_MESS, 2, NULL, 0, 1, "x"),
	     ILLEGAL_GROUP);
	T_EQ(SP_multicast(m, AGREED_MESS, "g", 0, -1, "x"), ILLEGAL_MESSAGE);
	T_EQ(SP_multicast(m, AGREED_MESS, "g", 0, INT_MIN, "x"),
	     ILLEGAL_MESSAGE);
	T_EQ(SP_multicast(m, AGREED_MESS, "g", 0, 3, NULL), ILLEGAL_MESSAGE);
	T_EQ(SP_multicast(m, AGREED_MESS, NULL, 0, 1, "x"), ILLEGAL_GROUP);
	T_EQ(SP_scat_multicast(m, AGREED_MESS, "g", 0, NULL), ILLEGAL_MESSAGE);
	T_EQ(SP_multigroup_scat_multicast(m, AGREED_MESS, 1, groups, 0, NULL),
	     ILLEGAL_MESSAGE);
	sc.num_elements = 101;
	T_EQ(SP_scat_multicast(m, AGREED_MESS, "g", 0, &sc), ILLEGAL_MESSAGE);
	sc.num_elements = (size_t)-1;
	T_EQ(SP_scat_multicast(m, AGREED_MESS, "g", 0, &sc), ILLEGAL_MESSAGE);
	sc.num_elements = 2;
	sc.elements[0].buf = "abc";
	sc.elements[0].len = 3;
	sc.elements[1].buf = "abc";
	sc.elements[1].len = (size_t)INT_MAX + 1;
	T_EQ(SP_scat_multicast(m, AGREED_MESS, "g", 0, &sc), ILLEGAL_MESSAGE);
	sc.elements[1].len = (size_t)-3; /* "negative" */
	T_EQ(SP_scat_multicast(m, AGREED_MESS, "g", 0, &sc), ILLEGAL_MESSAGE);
	sc.elements[1].buf = NULL;
	sc.elements[1].len = 1;
	T_EQ(SP_scat_multicast(m, AGREED_MESS, "g", 0, &sc), ILLEGAL_MESSAGE);
	sc.elements[1].buf = malloc(144000);
	sc.elements[1].len = 144000 - 32 - 3 + 1;
	T_EQ(SP_scat_multicast(m, AGREED_MESS, "g", 0, &sc),
	     MESSAGE_TOO_LONG);
	free(sc.elements[1].buf);
	/* And the bad service wins over everything else. */
	T_EQ(SP_multigroup_multicast(m, 0, -1, groups, 0, -1, NULL),
	     ILLEGAL_SERVICE);
	expect_next_join(&f, m);
	T_EQ(SP_disconnect(m), 0);
	fake_close(&f);
}

/* The other three calls: scatter data is concatenated, multigroup names
 * are sent as raw 32-byte fields, single names are cut at 31 bytes. */
static void multicast_forms(void)
{
	char groups[3][MAX_GROUP_NAME];
	static scatter sc;
	struct fake f;
	mailbox m = fake_session(&f);
	uint8_t buf[1024];
	char want[MAX_GROUP_NAME] = { 0 };

	memset(groups, 0, sizeof(groups));
	strcpy(groups[0], "a");
	groups[0][20] = 'Z'; /* stale byte after the NUL, sent as is */
	strcpy(groups[1], "#b#d");
	strcpy(groups[2], "nogroup");
	sc.num_elements = 4;
	sc.elements[0].buf = "ab";
	sc.elements[0].len = 2;
	sc.elements[1].buf = NULL;
	sc.elements[1].len = 0;
	sc.elements[2].buf = "cde";
	sc.elements[2].len = 3;
	sc.elements[3].buf = "f";
	sc.elements[3].len = 1;

	T_EQ(SP_multigroup_scat_multicast(m, SAFE_MESS, 3, groups, 7, &sc), 6);
	T_EQ(read_raw(&f, buf, sizeof(buf)), 48 + 96 + 6);
	T_MEMEQ(buf + 48, groups, 96);
	T_MEMEQ(buf + 144, "abcdef", 6);

	T_EQ(SP_scat_multicast(m, SAFE_MESS, "g", 7, &sc), 6);
	T_EQ(read_raw(&f, buf, sizeof(buf)), 48 + 32 + 6);
	T_MEMEQ(buf + 80, "abcdef", 6);

	T_EQ(SP_multigroup_multicast(m, FIFO_MESS, 0, NULL, 0, 4, "none"), 4);
	T_EQ(read_raw(&f, buf, sizeof(buf)), 48 + 4);
	T_EQ(buf[36], 0);

	T_EQ(SP_multicast(m, FIFO_MESS,
			  "abcdefghijabcdefghijabcdefghijabcdefghij", 0, 0, ""),
	     0);
	T_EQ(read_raw(&f, buf, sizeof(buf)), 80);
	memcpy(want, "abcdefghijabcdefghijabcdefghija", 31);
	T_MEMEQ(buf + 48, want, 32);
	T_EQ(SP_disconnect(m), 0);
	fake_close(&f);
}

/* The disconnect frame names the session itself; then the socket closes. */
static void disconnect_frame(void)
{
	struct fake f;
	mailbox m = fake_session(&f);
	uint8_t buf[256], want[32] = "#alice#localhost";
	struct wire_hdr h;

	T_EQ(SP_disconnect(m), 0);
	T_EQ(fake_read_frame(&f, &h, NULL, buf, sizeof(buf)), 32);
	T_EQ(h.type, 0x80040080u);
	T_EQ(h.num_groups, 1);
	T_MEMEQ(buf, want, 32);
	T_EQ(recv(f.dfd, buf, 1, 0), 0); /* EOF */
	T_EQ(SP_disconnect(m), ILLEGAL_SESSION);
	fake_close(&f);
}

struct slow_reader {
	struct fake *f;
	size_t want, got;
	int ok;
};

static void *slow_reader_thread(void *arg)
{
	struct slow_reader *r = arg;
	static uint8_t buf[200000];
	struct wire_hdr h;
	long n;

	usleep(100000); /* let the sender fill the socket first */
	n = fake_read_frame(r->f, &h, NULL, buf, sizeof(buf));
	r->got = n < 0 ? 0 : (size_t)n;
	r->ok = n == (long)r->want;
	for (size_t i = 32; r->ok && i < r->got; i++)
		r->ok = buf[i] == (uint8_t)(i * 7);
	return NULL;
}

/* A non-blocking mailbox with a small socket buffer: the frame goes out
 * in pieces, with poll() on EAGAIN (L10 for sends). */
static void send_partial_writes(void)
{
	struct slow_reader r = { 0 };
	static char data[140000];
	struct fake f;
	mailbox m = fake_session(&f);
	pthread_t th;
	int small = 4096;

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (char)((i + 32) * 7);
	setsockopt(m, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	setsockopt(f.dfd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	fcntl(m, F_SETFL, fcntl(m, F_GETFL) | O_NONBLOCK);
	r.f = &f;
	r.want = 32 + sizeof(data);
	pthread_create(&th, NULL, slow_reader_thread, &r);
	T_EQ(SP_multicast(m, AGREED_MESS, "g", 1, (int)sizeof(data), data),
	     (int)sizeof(data));
	pthread_join(th, NULL);
	T_ASSERT(r.ok);
	T_EQ(SP_disconnect(m), 0);
	fake_close(&f);
}

#define NTHREADS 4
#define NMSGS 300

struct sender {
	mailbox m;
	int id;
	int fails;
};

/* Message k of thread id: length and bytes derived from (id, k). */
static int msg_len(int id, int k)
{
	return 1 + (id * 7919 + k * 104729) % 30000;
}

static void *sender_thread(void *arg)
{
	struct sender *s = arg;
	static __thread char buf[32000];

	for (int k = 0; k < NMSGS; k++) {
		int len = msg_len(s->id, k);

		for (int i = 0; i < len; i++)
			buf[i] = (char)(s->id * 31 + k + i);
		if (SP_multicast(s->m, AGREED_MESS, "g", (int16)(s->id * 1000 + k),
				 len, buf) != len)
			s->fails++;
	}
	return NULL;
}

/* Several threads multicast on one mailbox: the daemon sees whole frames,
 * each thread's in order. */
static void send_threads_no_interleave(void)
{
	struct sender s[NTHREADS];
	pthread_t th[NTHREADS];
	int next[NTHREADS] = { 0 };
	static uint8_t body[64000];
	struct fake f;
	mailbox m = fake_session(&f);

	for (int i = 0; i < NTHREADS; i++) {
		s[i].m = m;
		s[i].id = i;
		s[i].fails = 0;
		pthread_create(&th[i], NULL, sender_thread, &s[i]);
	}
	for (int n = 0; n < NTHREADS * NMSGS; n++) {
		struct wire_hdr h;
		int mt, id, k;
		long len = fake_read_frame(&f, &h, NULL, body, sizeof(body));

		T_ASSERT(len > 32);
		mt = wire_hint_mess_type(h.hint, NULL);
		id = mt / 1000;
		k = mt % 1000;
		T_ASSERT(id >= 0 && id < NTHREADS);
		T_EQ(k, next[id]);
		next[id]++;
		T_EQ(h.data_len, msg_len(id, k));
		for (int i = 0; i < h.data_len; i++)
			T_ASSERT(body[32 + i] == (uint8_t)(id * 31 + k + i));
	}
	for (int i = 0; i < NTHREADS; i++) {
		pthread_join(th[i], NULL);
		T_EQ(s[i].fails, 0);
	}
	T_EQ(SP_disconnect(m), 0);
	fake_close(&f);
}

/* Sends on a mailbox whose daemon went away: CONNECTION_CLOSED once, then
 * NET_ERROR_ON_SESSION (item 58, send side); freed mailboxes give -11. */
static void send_broken_and_freed(void)
{
	struct fake f;
	mailbox m = fake_session(&f);
	int r = 0, n = 0;

	close(f.dfd);
	f.dfd = -1;
	while (n++ < 1000 &&
	       (r = SP_multicast(m, AGREED_MESS, "g", 0, 1000,
				 (const char[1000]){ 0 })) == 1000)
		;
	T_EQ(r, CONNECTION_CLOSED);
	T_EQ(SP_multicast(m, AGREED_MESS, "g", 0, 1, "x"), NET_ERROR_ON_SESSION);
	T_EQ(SP_join(m, "g"), NET_ERROR_ON_SESSION);
	T_EQ(SP_leave(m, "g"), NET_ERROR_ON_SESSION);
	T_EQ(SP_disconnect(m), 0);
	T_EQ(SP_disconnect(m), ILLEGAL_SESSION);
	T_EQ(SP_multicast(m, AGREED_MESS, "g", 0, 1, "x"), ILLEGAL_SESSION);
	T_EQ(SP_join(m, "g"), ILLEGAL_SESSION);
	T_EQ(SP_leave(m, "g"), ILLEGAL_SESSION);
	T_EQ(SP_multicast(-1, AGREED_MESS, "g", 0, 1, "x"), ILLEGAL_SESSION);
	T_EQ(SP_multicast(1 << 24, AGREED_MESS, "g", 0, 1, "x"),
	     ILLEGAL_SESSION);
	T_EQ(SP_join(0, "g"), ILLEGAL_SESSION); /* stdin is not a mailbox */
	SP_kill(m);   /* harmless on a freed mailbox */
	SP_kill(-5);
	fake_close(&f);
}

int main(int argc, char **argv)
{
	static const struct t_case cases[] = {
		T_CASE(join_frame_bytes),
		T_CASE(join_illegal_names),
		T_CASE(multicast_len_and_limit),
		T_CASE(multicast_hint_bytes),
		T_CASE(multicast_service_table),
		T_CASE(multicast_arg_checks),
		T_CASE(multicast_forms),
		T_CASE(disconnect_frame),
		T_CASE(send_partial_writes),
		T_CASE(send_threads_no_interleave),
		T_CASE(send_broken_and_freed),
	};

	return t_main(argc, argv, cases, T_COUNT(cases));
}
