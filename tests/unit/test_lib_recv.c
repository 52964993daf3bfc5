/*
 * test_lib_recv.c - libchorus: daemon-to-client frames (spec section 6;
 * checklist items 47 to 59; defects L6 to L10, R1, R2), scatter receives,
 * read-ahead, and receives from several threads.
 */
#include <fcntl.h>
#include <sys/ioctl.h>

#include "lib_fake.h"

#define MAXG 8
#define MAXD 150000

/* One receive call's outputs; the buffers start filled with 0xAA so that
 * a test can tell what was written. */
struct rx {
	service st;
	char sender[MAX_GROUP_NAME];
	int ng;
	char groups[MAXG][MAX_GROUP_NAME];
	int16 mt;
	int em;
	char data[MAXD];
};

static struct rx r;

static int rx(mailbox m, service in, int max_groups, int max_len)
{
	memset(&r, 0xAA, sizeof(r));
	r.st = in;
	return SP_receive(m, &r.st, r.sender, max_groups, &r.ng, r.groups,
			  &r.mt, &r.em, max_len, r.data);
}

static int untouched(const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		if (b[i] != 0xAA)
			return 0;
	return 1;
}

static uint8_t fb[MAXD + 4096];

/* Writes a data frame from sender "#bob#d" to the ng groups in names. */
static size_t send_data(struct fake *f, uint32_t type, int ng,
			const char *const *names, int16 mt, const void *data,
			int dl, int other_daemon, int other_sender)
{
	char g[MAXG][MAX_GROUP_NAME];
	size_t n;

	mknames(g, ng, names);
	n = mkframe(fb, type, "#bob#d", ng, g, mkhint(mt, other_sender), data,
		    dl, other_daemon);
	fake_write(f, fb, n);
	return n;
}

/* Writes a regular-membership frame for group g1: nm members, a body with
 * one set per entry of counts (names taken from sets in order). */
static size_t send_memb(struct fake *f, uint32_t type, int nm,
			const char *const *members, const int32_t gid[3],
			uint32_t nsets, uint32_t local, const uint32_t *counts,
			const char *const *sets, int nset_names, int other)
{
	char g[MAXG][MAX_GROUP_NAME], s[MAXG][MAX_GROUP_NAME];
	uint8_t body[1024];
	size_t bl, n;

	mknames(g, nm, members);
	mknames(s, nset_names, sets);
	bl = mkbody(body, gid, nsets, local, counts, s, other);
	n = mkframe(fb, type, "g1", nm, g, other ? 0 : WIRE_OWN_MARK, body,
		    (int)bl, other);
	fake_write(f, fb, n);
	return n;
}

static const char *const g1[] = { "g1" };
static const int32_t gid_a[3] = { 0x7f000001, 1795642419, 2 };

/* Item 47, with the exact frame of the spec's appendix A. */
static void recv_data(void)
{
	static const uint8_t appendix[] = {
		0x90, 0, 0, 0x80, '#', 'b', 'o', 'b', '#', 'l', 'o', 'c', 'a',
		'l', 'h', 'o', 's', 't', [36] = 1, [40] = 0x80, 0x34, 0x12,
		0x80, 5, [48] = 'g', '1', [80] = 'h', 'e', 'l', 'l', 'o',
	};
	struct fake f;
	mailbox m = fake_session(&f);

	if (WIRE_OWN_MARK != WIRE_MARK)
		t_skip("little-endian host only");
	fake_write(&f, appendix, sizeof(appendix));
	T_EQ(rx(m, 0, MAXG, MAXD), 5);
	T_EQ(r.st, AGREED_MESS);
	T_STREQ(r.sender, "#bob#localhost");
	T_EQ(r.ng, 1);
	T_STREQ(r.groups[0], "g1");
	T_ASSERT(untouched(r.groups[1], 32));
	T_EQ(r.mt, 0x1234);
	T_EQ(r.em, 0);
	T_MEMEQ(r.data, "hello", 5);
	T_ASSERT(untouched(r.data + 5, 10));
	T_EQ(SP_disconnect(m), 0);
	fake_close(&f);
}

/* Items 48 to 50: the type as sent (with SELF_DISCARD), several groups in
 * order, a unicast. */
static void recv_types_and_groups(void)
{
	static const char *const three[] = { "g1", "g2", "nogroup" };
	static const char *const self[] = { "#alice#localhost" };
	struct fake f;
	mailbox m = fake_session(&f);

	send_data(&f, AGREED_MESS | SELF_DISCARD, 1, g1, 0, "x", 1, 0, 0);
	T_EQ(rx(m, 0, MAXG, MAXD), 1);
	T_EQ(r.st, AGREED_MESS | SELF_DISCARD);
	send_data(&f, SAFE_MESS, 3, three, 0, "xyz", 3, 0, 0);
	T_EQ(rx(m, 0, MAXG, MAXD), 3);
	T_EQ(r.ng, 3);
	for (int i = 0; i < 3; i++)
		T_STREQ(r.groups[i], three[i]);
	send_data(&f, RELIABLE_MESS, 1, self, -7, "", 0, 0, 0);
	T_EQ(rx(m, 0, MAXG, MAXD), 0);
	T_EQ(r.st, RELIABLE_MESS);
	T_STREQ(r.groups[0], "#alice#localhost");
	T_EQ(r.mt, -7);
	T_EQ(SP_disconnect(m), 0);
	fake_close(&f);
}

/* Items 51, 52 and 59: default-mode short buffers keep the frame, and
 * SP_poll counts the saved header. */
static void recv_short_default(void)
{
	char data[100];
	struct fake f;
	mailbox m = fake_session(&f);
	size_t len;

	for (int i = 0; i < 100; i++)
		data[i] = (char)i;
	T_EQ(SP_poll(m), 0);
	len = send_data(&f, AGREED_MESS, 1, g1, 77, data, 100, 0, 0);
	T_EQ(SP_poll(m), (int)len);

	T_EQ(rx(m, 0, MAXG, 10), BUFFER_TOO_SHORT);
	T_EQ(r.em, -100);
	T_EQ(r.ng, 0);
	T_EQ(r.st, AGREED_MESS);
	T_STREQ(r.sender, "#bob#d");
	T_EQ(r.mt, 77);
	T_ASSERT(untouched(r.groups, sizeof(r.groups)));
	T_ASSERT(untouched(r.data, 200));
	T_EQ(SP_poll(m), (int)len); /* R2: 48 saved + the rest */

	T_EQ(rx(m, 0, 0, 10), GROUPS_TOO_SHORT);
	T_EQ(r.ng, -1);
	T_EQ(r.em, -100);
	T_EQ(rx(m, 0, 0, 100), GROUPS_TOO_SHORT);
	T_EQ(r.ng, -1);
	T_EQ(r.em, 0);
	T_EQ(SP_poll(m), (int)len);

	T_EQ(rx(m, 0, 1, 100), 100);
	T_EQ(r.ng, 1);
	T_MEMEQ(r.data, data, 100);
	T_EQ(r.em, 0);
	T_EQ(SP_poll(m), 0);
	T_EQ(SP_disconnect(m), 0);
	fake_close(&f);
}

/* Item 53: a membership frame with too few group slots. */
static void recv_short_memb(void)
{
	static const char *const mem[] = { "#a#d", "#alice#localhost" };
	static const uint32_t one = 1;
	struct fake f;
	mailbox m = fake_session(&f);

	send_memb(&f, REG_MEMB_MESS | CAUSED_BY_JOIN, 2, mem, gid_a, 1, 0, &one,
		  mem + 1, 1, 0);
	T_EQ(rx(m, 0, 1, MAXD), GROUPS_TOO_SHORT);
	T_EQ(r.ng, -2);
	T_EQ(r.mt, 0);
	T_EQ(r.em, 0);
	T_EQ(r.st, REG_MEMB_MESS | CAUSED_BY_JOIN);
	T_STREQ(r.sender, "g1");
	T_EQ(rx(m, 0, 2, 10), BUFFER_TOO_SHORT);
	T_EQ(r.mt, 0);
	T_EQ(r.em, -56);
	T_EQ(rx(m, 0, 2, MAXD), 56);
	T_EQ(r.mt, 1);
	T_EQ(r.em, 0);
	T_EQ(SP_disconnect(m), 0);
	fake_close(&f);
}

/* Items 54 and 55, and R1: DROP_RECV consumes and truncates. */
static void recv_drop(void)
{
	static const char *const three[] = { "g1", "g2", "g3" };
	static const char *const mem[] = { "#a#d", "#alice#localhost" };
	static const uint32_t one = 1;
	char data[100];
	struct fake f;
	mailbox m = fake_session(&f);

	for (int i = 0; i < 100; i++)
		data[i] = (char)(i + 1);
	/* Both too small: -15, -N, the flag, partial names and data. */
	send_data(&f, AGREED_MESS, 3, three, 5, data, 100, 0, 1);
	T_EQ(rx(m, DROP_RECV, 1, 10), BUFFER_TOO_SHORT);
	T_EQ(r.ng, -3);
	T_EQ(r.em, 1);
	T_EQ(r.mt, 5);
	T_EQ(r.st, AGREED_MESS);
	T_STREQ(r.groups[0], "g1");
	T_ASSERT(untouched(r.groups[1], 32));
	T_MEMEQ(r.data, data, 10);
	T_ASSERT(untouched(r.data + 10, 10));
	/* Only the names too small: success, -N. */
	send_data(&f, AGREED_MESS, 3, three, 5, data, 100, 0, 0);
	T_EQ(rx(m, DROP_RECV, 2, 100), 100);
	T_EQ(r.ng, -3);
	T_EQ(r.em, 0);
	T_MEMEQ(r.data, data, 100);
	/* A truncated membership frame keeps mess_type -1. */
	send_memb(&f, REG_MEMB_MESS | CAUSED_BY_JOIN, 2, mem, gid_a, 1, 0, &one,
		  mem + 1, 1, 0);
	T_EQ(rx(m, DROP_RECV, 1, MAXD), 56);
	T_EQ(r.ng, -2);
	T_EQ(r.mt, -1);
	/* R1: a default-mode TOO_SHORT, then a truncating DROP_RECV, then the
	 * next message must come out intact. */
	send_data(&f, AGREED_MESS, 1, g1, 1, data, 100, 0, 0);
	send_data(&f, FIFO_MESS, 1, g1, 2, "hello", 5, 0, 0);
	T_EQ(rx(m, 0, MAXG, 10), BUFFER_TOO_SHORT);
	T_EQ(rx(m, DROP_RECV, MAXG, 10), BUFFER_TOO_SHORT);
	T_EQ(r.mt, 1);
	T_EQ(SP_poll(m), 48 + 32 + 5);
	T_EQ(rx(m, 0, MAXG, MAXD), 5);
	T_EQ(r.st, FIFO_MESS);
	T_EQ(r.mt, 2);
	T_MEMEQ(r.data, "hello", 5);
	T_EQ(SP_poll(m), 0);
	T_EQ(SP_disconnect(m), 0);
	fake_close(&f);
}

/* Item 56: a sender of the other byte order. */
static void recv_other_sender(void)
{
	struct fake f;
	mailbox m = fake_session(&f);

	send_data(&f, AGREED_MESS, 1, g1, 0x1234, "abcd", 4, 0, 1);
	T_EQ(rx(m, 0, MAXG, MAXD), 4);
	T_EQ(r.em, 1);
	T_EQ(r.mt, 0x1234);
	T_MEMEQ(r.data, "abcd", 4);
	send_data(&f, AGREED_MESS, 1, g1, -2, "abcd", 4, 1, 1);
	T_EQ(rx(m, 0, MAXG, MAXD), 4);
	T_EQ(r.em, 1);
	T_EQ(r.mt, -2);
	T_EQ(SP_disconnect(m), 0);
	fake_close(&f);
}

/* Item 57: a daemon of the other byte order, every frame kind. */
static void recv_other_daemon(void)
{
	static const char *const mem[] = { "#x#d", "#alice#localhost" };
	static const uint32_t one = 1, two[2] = { 1, 1 };
	struct fake f;
	mailbox m = fake_session(&f);
	membership_info mi;
	vs_set_info sets[4];
	unsigned int my = 99;
	uint8_t body[12], pre[4];
	uint32_t w;
	size_t n;

	send_data(&f, SAFE_MESS, 1, g1, 0x55, "data!", 5, 1, 0);
	T_EQ(rx(m, 0, MAXG, MAXD), 5);
	T_EQ(r.st, SAFE_MESS);
	T_EQ(r.ng, 1);
	T_EQ(r.mt, 0x55);
	T_EQ(r.em, 0);

	send_memb(&f, REG_MEMB_MESS | CAUSED_BY_JOIN, 2, mem, gid_a, 1, 0, &one,
		  mem, 1, 1);
	T_EQ(rx(m, 0, MAXG, MAXD), 56);
	T_EQ(r.st, REG_MEMB_MESS | CAUSED_BY_JOIN);
	T_EQ(r.mt, 1);
	T_EQ(r.em, 0);
	T_EQ(SP_get_memb_info(r.data, r.st, &mi), 1);
	T_EQ(mi.gid.id[0], gid_a[0]);
	T_EQ(mi.gid.id[1], gid_a[1]);
	T_EQ(mi.gid.id[2], gid_a[2]);
	T_STREQ(mi.changed_member, "#x#d");
	T_EQ(mi.num_vs_sets, 1);
	T_EQ(mi.my_vs_set.num_members, 1);
	T_EQ(mi.my_vs_set.members_offset, 24);

	/* A merge, two sets, ours second. */
	send_memb(&f, REG_MEMB_MESS | CAUSED_BY_NETWORK, 2, mem, gid_a, 2, 36,
		  two, mem, 2, 1);
	T_EQ(rx(m, 0, MAXG, MAXD), 20 + 36 + 36);
	T_EQ(SP_get_vs_sets_info(r.data, sets, 4, &my), 2);
	T_EQ(my, 1);
	T_EQ(sets[1].num_members, 1);
	T_EQ(sets[1].members_offset, 60);

	/* Transitional: the id is swapped too (section 12.1, item 8). */
	for (int i = 0; i < 3; i++)
		put32x(body + 4 * i, (uint32_t)gid_a[i], 1);
	n = mkframe(fb, TRANSITION_MESS, "g1", 0, NULL, 0, body, 12, 1);
	fake_write(&f, fb, n);
	T_EQ(rx(m, 0, MAXG, MAXD), 12);
	T_EQ(r.st, TRANSITION_MESS);
	T_EQ(r.mt, -1);
	T_EQ(SP_get_memb_info(r.data, r.st, &mi), 1);
	T_EQ(mi.gid.id[1], gid_a[1]);
	T_EQ(mi.gid.id[2], gid_a[2]);

	/* Self-leave. */
	n = mkframe(fb, CAUSED_BY_LEAVE, "g1", 0, NULL, 0, NULL, 0, 1);
	fake_write(&f, fb, n);
	T_EQ(rx(m, 0, MAXG, MAXD), 0);
	T_EQ(r.st, CAUSED_BY_LEAVE);
	T_EQ(r.mt, -1);
	T_ASSERT(Is_self_leave(r.st));

	/* Reject: old_type in the daemon's order. */
	put32x(pre, AGREED_MESS | OTHER_MARK, 1);
	{
		char g[2][MAX_GROUP_NAME] = { "g1", "#alice#localhost" };

		n = mkframe_pre(fb, REJECT_MESS, "#alice#localhost", 2, g,
				mkhint(3, 0), "abc", 3, 1, pre, 4);
	}
	fake_write(&f, fb, n);
	T_EQ(rx(m, 0, MAXG, MAXD), 3);
	T_EQ(r.st, AGREED_MESS | REJECT_MESS);
	T_EQ(r.ng, 2);
	T_EQ(r.mt, 3);

	/* A truncated membership body is swapped as far as it arrived. */
	send_memb(&f, REG_MEMB_MESS | CAUSED_BY_JOIN, 2, mem, gid_a, 1, 0, &one,
		  mem, 1, 1);
	T_EQ(rx(m, DROP_RECV, MAXG, 30), BUFFER_TOO_SHORT);
	memcpy(&w, r.data + 8, 4);
	T_EQ(w, 2);
	memcpy(&w, r.data + 12, 4);
	T_EQ(w, 1);
	memcpy(&w, r.data + 20, 4);
	T_EQ(w, 1);
	T_EQ(SP_disconnect(m), 0);
	fake_close(&f);
}

/* Membership index, self-leave and transitional outputs (section 6.1). */
static void recv_memb_outputs(void)
{
	static const char *const mem3[] = { "#a#d", "#alice#localhost", "#c#d" };
	static const char *const mem2[] = { "#a#d", "#c#d" };
	static const uint32_t one = 1;
	struct fake f;
	mailbox m = fake_session(&f);
	uint8_t body[12];
	size_t n;

	send_memb(&f, REG_MEMB_MESS | CAUSED_BY_JOIN, 3, mem3, gid_a, 1, 0, &one,
		  mem3 + 2, 1, 0);
	T_EQ(rx(m, 0, MAXG, MAXD), 56);
	T_EQ(r.mt, 1);
	T_EQ(r.ng, 3);
	send_memb(&f, REG_MEMB_MESS | CAUSED_BY_LEAVE, 2, mem2, gid_a, 1, 0, &one,
		  mem3 + 1, 1, 0);
	T_EQ(rx(m, 0, MAXG, MAXD), 56);
	T_EQ(r.mt, -1);
	T_EQ(r.st, REG_MEMB_MESS | CAUSED_BY_LEAVE);

	/* A member field with stale bytes after the NUL still matches. */
	{
		char g[2][MAX_GROUP_NAME] = { "#a#d", "#alice#localhost" };
		uint8_t b[64];
		char s[1][MAX_GROUP_NAME] = { "#a#d" };
		size_t bl = mkbody(b, gid_a, 1, 0, &one, s, 0);

		g[1][25] = 'Q';
		n = mkframe(fb, REG_MEMB_MESS | CAUSED_BY_DISCONNECT, "g1", 2, g,
			    WIRE_OWN_MARK, b, (int)bl, 0);
		fake_write(&f, fb, n);
		T_EQ(rx(m, 0, MAXG, MAXD), 56);
		T_EQ(r.mt, 1);
	}

	n = mkframe(fb, CAUSED_BY_LEAVE, "g1", 0, NULL, WIRE_OWN_MARK, NULL, 0,
		    0);
	fake_write(&f, fb, n);
	T_EQ(rx(m, 0, MAXG, MAXD), 0);
	T_EQ(r.st, CAUSED_BY_LEAVE);
	T_EQ(r.mt, -1);
	T_EQ(r.em, 0);
	T_EQ(r.ng, 0);
	T_STREQ(r.sender, "g1");

	memcpy(body, gid_a, 12);
	n = mkframe(fb, TRANSITION_MESS, "g1", 0, NULL, WIRE_OWN_MARK, body, 12,
		    0);
	fake_write(&f, fb, n);
	T_EQ(rx(m, 0, MAXG, 11), BUFFER_TOO_SHORT);
	T_EQ(r.mt, 0);
	T_EQ(r.em, -12);
	T_EQ(rx(m, 0, MAXG, MAXD), 12);
	T_EQ(r.st, TRANSITION_MESS);
	T_EQ(r.mt, -1);
	T_MEMEQ(r.data, gid_a, 12);
	T_EQ(SP_disconnect(m), 0);
	fake_close(&f);
}

/* Reject frames (section 4.10). */
static void recv_reject(void)
{
	char g[2][MAX_GROUP_NAME] = { "g1", "#alice#localhost" };
	struct fake f;
	mailbox m = fake_session(&f);
	membership_info mi;
	uint32_t old;
	size_t n;

	old = AGREED_MESS | WIRE_OWN_MARK;
	n = mkframe_pre(fb, REJECT_MESS, "#alice#localhost", 2, g, mkhint(9, 0),
			"abc", 3, 0, &old, 4);
	fake_write(&f, fb, n);
	T_EQ(rx(m, 0, 1, MAXD), GROUPS_TOO_SHORT);
	T_EQ(r.st, REJECT_MESS);
	T_EQ(r.mt, 9);
	T_EQ(rx(m, 0, MAXG, MAXD), 3);
	T_EQ(r.st, AGREED_MESS | REJECT_MESS);
	T_EQ(r.ng, 2);
	T_STREQ(r.groups[1], "#alice#localhost");
	T_EQ(r.mt, 9);
	T_MEMEQ(r.data, "abc", 3);

	old = CAUSED_BY_JOIN | WIRE_OWN_MARK;
	n = mkframe_pre(fb, REJECT_MESS, "#alice#localhost", 2, g,
			WIRE_OWN_MARK, NULL, 0, 0, &old, 4);
	fake_write(&f, fb, n);
	T_EQ(rx(m, 0, MAXG, MAXD), 0);
	T_EQ(r.st, CAUSED_BY_JOIN | REJECT_MESS);
	T_EQ(SP_get_memb_info(r.data, r.st, &mi), ILLEGAL_MESSAGE);

	old = AGREED_MESS | SELF_DISCARD | WIRE_OWN_MARK;
	n = mkframe_pre(fb, REJECT_MESS | SELF_DISCARD, "#alice#localhost", 2,
			g, mkhint(1, 0), "z", 1, 0, &old, 4);
	fake_write(&f, fb, n);
	T_EQ(rx(m, DROP_RECV, 1, MAXD), 1);
	T_EQ(r.st, AGREED_MESS | SELF_DISCARD | REJECT_MESS);
	T_EQ(r.ng, -2);
	T_EQ(r.data[0], 'z');
	T_EQ(SP_disconnect(m), 0);
	fake_close(&f);
}

/* L8: malformed membership bodies are consumed and refused; the session
 * goes on. Each case edits a good body (one set holding one name, 56
 * bytes): the number of sets, the local offset, the set's count and the
 * data length. Beyond the layout, a body must hold what SP_get_memb_info
 * reads: a vs set, and for a join, leave or disconnect the member. */
static void recv_malformed_memb(void)
{
	static const struct {
		uint32_t type;
		uint32_t nsets, local, count;
		int dl;
		int ok;
	} cases[] = {
		{ CAUSED_BY_JOIN, 1, 0, 1, 56, 1 },
		{ CAUSED_BY_NETWORK, 1, 0, 0, 24, 1 }, /* one empty set */
		{ CAUSED_BY_JOIN, 1, 0, 0, 24, 0 },    /* joiner missing */
		{ CAUSED_BY_LEAVE, 1, 0, 0, 24, 0 },
		{ CAUSED_BY_DISCONNECT, 1, 0, 0, 24, 0 },
		{ CAUSED_BY_NETWORK, 0, 0, 1, 20, 0 }, /* no sets at all */
		{ CAUSED_BY_JOIN, 0, 0, 1, 20, 0 },
		{ 0, 0, 0, 1, 20, 0 },
		{ CAUSED_BY_JOIN, 1, 0, 1, 60, 0 },    /* trailing bytes */
		{ CAUSED_BY_JOIN, 1, 0, 1, 55, 0 },    /* set cut short */
		{ CAUSED_BY_JOIN, 1, 0, 1, 20, 0 },    /* the set is missing */
		{ CAUSED_BY_JOIN, 2, 0, 1, 56, 0 },    /* second set missing */
		{ CAUSED_BY_JOIN, 1, 4, 1, 56, 0 },    /* offset inside a set */
		{ CAUSED_BY_JOIN, 1, 36, 1, 56, 0 },   /* offset past the sets */
		{ CAUSED_BY_JOIN, 1, 0, 0x8000001, 56, 0 }, /* count too big */
		{ CAUSED_BY_JOIN, 1, 0, 0xffffffff, 56, 0 },
		{ CAUSED_BY_JOIN, 0xffffffff, 0, 1, 56, 0 },
		{ CAUSED_BY_JOIN, 0, 0, 1, 19, 0 },    /* shorter than 20 */
		{ CAUSED_BY_JOIN, 0, 0, 1, 0, 0 },
	};
	static const uint32_t one = 1;
	char g[1][MAX_GROUP_NAME] = { "#alice#localhost" };
	struct fake f;
	mailbox m = fake_session(&f);

	for (size_t i = 0; i < T_COUNT(cases); i++) {
		uint8_t body[64];
		uint32_t type = REG_MEMB_MESS | cases[i].type;
		int want = cases[i].ok ? cases[i].dl : ILLEGAL_MESSAGE;

		mkbody(body, gid_a, 1, 0, &one, g, 0);
		put32x(body + 12, cases[i].nsets, 0);
		put32x(body + 16, cases[i].local, 0);
		put32x(body + 20, cases[i].count, 0);
		fake_write(&f, fb,
			   mkframe(fb, type, "g1", 1, g, WIRE_OWN_MARK, body,
				   cases[i].dl, 0));
		send_data(&f, AGREED_MESS, 1, g1, 0, "next", 4, 0, 0);
		T_ASSERTF(rx(m, 0, MAXG, MAXD) == want, "case %zu", i);
		T_EQ(r.st, (service)type);
		T_EQ(rx(m, 0, MAXG, MAXD), 4);
		T_MEMEQ(r.data, "next", 4);
	}
	T_EQ(SP_disconnect(m), 0);
	fake_close(&f);
}

/* A transitional message (or any membership kind other than regular and
 * self-leave) must carry exactly a 12-byte group id. */
static void recv_malformed_transitional(void)
{
	static const struct {
		uint32_t type;
		int dl, ok;
	} cases[] = {
		{ TRANSITION_MESS, 12, 1 }, { TRANSITION_MESS, 0, 0 },
		{ TRANSITION_MESS, 11, 0 }, { TRANSITION_MESS, 13, 0 },
		{ CAUSED_BY_JOIN, 12, 1 },  { CAUSED_BY_NETWORK, 4, 0 },
		{ CAUSED_BY_LEAVE, 0, 1 },  { CAUSED_BY_LEAVE, 5, 1 },
	};
	struct fake f;
	mailbox m = fake_session(&f);
	uint8_t body[16] = { 0 };

	for (size_t i = 0; i < T_COUNT(cases); i++) {
		int want = cases[i].ok ? cases[i].dl : ILLEGAL_MESSAGE;

		fake_write(&f, fb,
			   mkframe(fb, cases[i].type, "g1", 0, NULL,
				   WIRE_OWN_MARK, body, cases[i].dl, 0));
		send_data(&f, AGREED_MESS, 1, g1, 0, "next", 4, 0, 0);
		T_ASSERTF(rx(m, 0, MAXG, MAXD) == want, "case %zu", i);
		T_EQ(rx(m, 0, MAXG, MAXD), 4);
	}
	T_EQ(SP_disconnect(m), 0);
	fake_close(&f);
}

/* L6: negative counts break the session. */
static void recv_negative_counts(void)
{
	static const struct {
		int ng, dl;
	} cases[] = { { -1, 0 }, { 0, -5 }, { (int)0x80000000u, 1 } };

	for (size_t i = 0; i < T_COUNT(cases); i++) {
		struct fake f;
		mailbox m = fake_session(&f);

		fake_write(&f, fb,
			   mkframe(fb, AGREED_MESS, "#b#d", 0, NULL,
				   WIRE_OWN_MARK, NULL, 0, 0));
		memcpy(fb + 36, &cases[i].ng, 4);
		memcpy(fb + 44, &cases[i].dl, 4);
		fake_write(&f, fb, 48);
		T_EQ(rx(m, 0, MAXG, MAXD), 0);
		T_EQ(rx(m, 0, MAXG, MAXD), ILLEGAL_MESSAGE);
		T_EQ(rx(m, 0, MAXG, MAXD), NET_ERROR_ON_SESSION);
		T_EQ(SP_disconnect(m), 0);
		fake_close(&f);
	}
}

/* L7: DROP_RECV with the largest counts a header can carry computes the
 * bytes to skip without overflow; the stream then ends (EOF) and the
 * session breaks cleanly. */
static void recv_huge_counts_drop(void)
{
	static const int32_t big = 0x7fffffff;
	struct fake f;
	mailbox m = fake_session(&f);
	size_t n = mkframe(fb, AGREED_MESS, "#b#d", 0, NULL, WIRE_OWN_MARK,
			   NULL, 0, 0);

	memcpy(fb + 36, &big, 4);
	memcpy(fb + 44, &big, 4);
	memset(fb + n, 'x', 1000);
	fake_write(&f, fb, n + 1000);
	shutdown(f.dfd, SHUT_WR);
	T_EQ(rx(m, 0, MAXG, MAXD), GROUPS_TOO_SHORT);
	T_EQ(r.ng, -big);
	T_EQ(r.em, -big);
	T_EQ(rx(m, DROP_RECV, MAXG, MAXD), CONNECTION_CLOSED);
	T_EQ(rx(m, DROP_RECV, MAXG, MAXD), NET_ERROR_ON_SESSION);
	T_EQ(SP_disconnect(m), 0);
	fake_close(&f);
}

/* Item 58: after CONNECTION_CLOSED every call but SP_poll and
 * SP_disconnect returns -18; after SP_disconnect everything is -11. */
static void recv_broken_session(void)
{
	struct fake f;
	mailbox m = fake_session(&f);

	/* Half a frame, then the daemon goes away. */
	send_data(&f, AGREED_MESS, 1, g1, 0, "hello", 5, 0, 0);
	fake_write(&f, fb, 60);
	close(f.dfd);
	f.dfd = -1;
	T_EQ(rx(m, 0, MAXG, MAXD), 5);
	T_EQ(rx(m, 0, MAXG, MAXD), CONNECTION_CLOSED);
	T_EQ(rx(m, 0, MAXG, MAXD), NET_ERROR_ON_SESSION);
	T_EQ(SP_multicast(m, AGREED_MESS, "g1", 0, 1, "x"),
	     NET_ERROR_ON_SESSION);
	T_EQ(SP_join(m, "g1"), NET_ERROR_ON_SESSION);
	T_EQ(SP_leave(m, "g1"), NET_ERROR_ON_SESSION);
	T_EQ(SP_poll(m), 0);
	T_EQ(SP_disconnect(m), 0);
	T_EQ(SP_disconnect(m), ILLEGAL_SESSION);
	T_EQ(rx(m, 0, MAXG, MAXD), ILLEGAL_SESSION);
	T_EQ(SP_poll(m), ILLEGAL_SESSION);
	T_EQ(SP_multicast(m, AGREED_MESS, "g1", 0, 1, "x"), ILLEGAL_SESSION);
	T_EQ(chorus_set_readahead(m, 1), ILLEGAL_SESSION);
	fake_close(&f);
}

static void *late_writer(void *arg)
{
	struct fake *f = arg;
	size_t n;
	static const char g[1][MAX_GROUP_NAME] = { "g1" };

	usleep(100000);
	n = mkframe(fb, AGREED_MESS, "#b#d", 1, g, WIRE_OWN_MARK, "late", 4, 0);
	for (size_t i = 0; i < n; i++) { /* one byte at a time */
		fake_write_fd(f->dfd, fb + i, 1);
		if (i % 16 == 0)
			usleep(1000);
	}
	return NULL;
}

/* L10: a non-blocking mailbox waits in poll() instead of failing. */
static void recv_nonblocking(void)
{
	struct fake f;
	mailbox m = fake_session(&f);
	pthread_t th;

	fcntl(m, F_SETFL, fcntl(m, F_GETFL) | O_NONBLOCK);
	pthread_create(&th, NULL, late_writer, &f);
	T_EQ(rx(m, 0, MAXG, MAXD), 4);
	T_MEMEQ(r.data, "late", 4);
	pthread_join(th, NULL);
	T_EQ(SP_disconnect(m), 0);
	fake_close(&f);
}

static scatter sc;
static char el[4][128];

static void scat_setup(const size_t *lens, int n)
{
	memset(&sc, 0, sizeof(sc));
	memset(el, 0xAA, sizeof(el));
	sc.num_elements = (size_t)n;
	for (int i = 0; i < n; i++) {
		sc.elements[i].buf = lens[i] ? el[i] : NULL;
		sc.elements[i].len = lens[i];
	}
}

static int srx(mailbox m, service in, int max_groups)
{
	memset(&r, 0xAA, sizeof(r));
	r.st = in;
	return SP_scat_receive(m, &r.st, r.sender, max_groups, &r.ng, r.groups,
			       &r.mt, &r.em, &sc);
}

/* SP_scat_receive: data over the elements in order, short buffers, bad
 * scatters refused without consuming. */
static void recv_scatter(void)
{
	static const size_t lens[4] = { 3, 0, 4, 64 };
	static const size_t small[2] = { 3, 4 };
	struct fake f;
	mailbox m = fake_session(&f);

	send_data(&f, AGREED_MESS, 1, g1, 4, "hello world", 11, 0, 0);
	sc.num_elements = 101;
	T_EQ(srx(m, 0, MAXG), ILLEGAL_MESSAGE);
	T_EQ(SP_scat_receive(m, &r.st, r.sender, MAXG, &r.ng, r.groups, &r.mt,
			     &r.em, NULL), ILLEGAL_MESSAGE);
	scat_setup(lens, 4);
	sc.elements[1].len = 5; /* NULL buffer with a length */
	T_EQ(srx(m, 0, MAXG), ILLEGAL_MESSAGE);
	scat_setup(small, 2);
	T_EQ(srx(m, 0, MAXG), BUFFER_TOO_SHORT);
	T_EQ(r.em, -11);
	T_ASSERT(untouched(el, sizeof(el)));
	scat_setup(lens, 4);
	T_EQ(srx(m, 0, MAXG), 11);
	T_MEMEQ(el[0], "hel", 3);
	T_MEMEQ(el[2], "lo w", 4);
	T_MEMEQ(el[3], "orld", 4);
	T_ASSERT(untouched(el[3] + 4, 124));

	send_data(&f, AGREED_MESS, 1, g1, 4, "hello world", 11, 0, 0);
	scat_setup(small, 2);
	T_EQ(srx(m, DROP_RECV, MAXG), BUFFER_TOO_SHORT);
	T_MEMEQ(el[0], "hel", 3);
	T_MEMEQ(el[1], "lo w", 4);
	T_EQ(SP_poll(m), 0);
	T_EQ(SP_disconnect(m), 0);
	fake_close(&f);
}

/* A membership body of the other byte order, split over two elements at
 * every point: fixed and parsed like a contiguous one (L8, L11). */
static void recv_scatter_memb(void)
{
	static const char *const mem[] = { "#alice#localhost", "#b#d" };
	static const uint32_t counts[2] = { 1, 1 };
	struct fake f;
	mailbox m = fake_session(&f);
	membership_info mi, want;
	vs_set_info sets[2], wsets[2];
	unsigned int my = 9, wmy = 8;
	char names[2][MAX_GROUP_NAME];
	int dl = 20 + 36 + 36;

	send_memb(&f, REG_MEMB_MESS | CAUSED_BY_NETWORK, 2, mem, gid_a, 2, 0,
		  counts, mem, 2, 1);
	T_EQ(rx(m, 0, MAXG, MAXD), dl);
	T_EQ(SP_get_memb_info(r.data, r.st, &want), 1);
	T_EQ(SP_get_vs_sets_info(r.data, wsets, 2, &wmy), 2);
	T_EQ(wmy, 0);
	for (size_t cut = 1; cut < (size_t)dl; cut++) {
		size_t lens[2] = { cut, 128 };

		send_memb(&f, REG_MEMB_MESS | CAUSED_BY_NETWORK, 2, mem, gid_a, 2,
			  0, counts, mem, 2, 1);
		scat_setup(lens, 2);
		T_EQ(srx(m, 0, MAXG), dl);
		T_EQ(r.mt, 0);
		memset(&mi, 0, sizeof(mi));
		T_EQ(SP_scat_get_memb_info(&sc, r.st, &mi), 1);
		T_MEMEQ(&mi, &want, sizeof(mi));
		T_EQ(SP_scat_get_vs_sets_info(&sc, sets, 2, &my), 2);
		T_MEMEQ(sets, wsets, sizeof(sets));
		T_EQ(my, 0);
		T_EQ(SP_scat_get_vs_set_members(&sc, &sets[1], names, 2), 1);
		T_STREQ(names[0], "#b#d");
	}
	T_EQ(SP_disconnect(m), 0);
	fake_close(&f);
}

/* Read-ahead: frames served from the buffer, SP_poll counting it, short
 * buffers and DROP_RECV on top, and turning it off again. */
static void recv_readahead(void)
{
	static char big[140000];
	struct fake f;
	mailbox m = fake_session(&f);
	size_t lens[20], total = 0;

	T_EQ(chorus_set_readahead(m, 1), 0);
	for (int i = 0; i < 20; i++) {
		char d[64];

		snprintf(d, sizeof(d), "message %d", i);
		lens[i] = send_data(&f, AGREED_MESS, 1, g1, (int16)i, d,
				    (int)strlen(d), 0, 0);
		total += lens[i];
	}
	T_EQ(SP_poll(m), (int)total);
	T_EQ(rx(m, 0, MAXG, MAXD), 9);
	T_MEMEQ(r.data, "message 0", 9);
	total -= lens[0];
	T_EQ(SP_poll(m), (int)total);
	/* The socket itself is drained: select() would see nothing. */
	{
		int k = -1;

		T_ASSERT(ioctl(m, FIONREAD, &k) == 0);
		T_EQ(k, 0);
	}
	T_EQ(rx(m, 0, MAXG, 3), BUFFER_TOO_SHORT);
	T_EQ(SP_poll(m), (int)total);
	T_EQ(rx(m, DROP_RECV, 0, 3), BUFFER_TOO_SHORT);
	T_EQ(r.ng, -1);
	T_MEMEQ(r.data, "mes", 3);
	total -= lens[1];
	T_EQ(SP_poll(m), (int)total);
	for (int i = 2; i < 10; i++) {
		T_EQ(rx(m, 0, MAXG, MAXD), 9);
		T_EQ(r.mt, i);
	}
	T_EQ(chorus_set_readahead(m, 0), 0);
	for (int i = 10; i < 20; i++) {
		T_EQ(rx(m, 0, MAXG, MAXD), i < 10 ? 9 : 10);
		T_EQ(r.mt, i);
	}
	T_EQ(SP_poll(m), 0);
	/* Big frames between small ones, read-ahead on again. */
	T_EQ(chorus_set_readahead(m, 1), 0);
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (char)(i % 251);
	send_data(&f, SAFE_MESS, 1, g1, 1, "a", 1, 0, 0);
	send_data(&f, SAFE_MESS, 1, g1, 2, big, (int)sizeof(big), 0, 0);
	send_data(&f, SAFE_MESS, 1, g1, 3, "b", 1, 0, 0);
	T_EQ(rx(m, 0, MAXG, MAXD), 1);
	T_EQ(rx(m, 0, MAXG, MAXD), (int)sizeof(big));
	T_MEMEQ(r.data, big, sizeof(big));
	T_EQ(rx(m, 0, MAXG, MAXD), 1);
	T_EQ(r.mt, 3);
	T_EQ(SP_poll(m), 0);
	/* Big frames back to back (read into the caller's buffer, with a
	 * short read-ahead), then small ones taken from the buffer. */
	{
		size_t small = 0;

		/* Both fit in the socket's buffer: 2 x 80000 bytes. */
		send_data(&f, SAFE_MESS, 1, g1, 4, big, 80000, 0, 0);
		send_data(&f, SAFE_MESS, 1, g1, 5, big + 1, 79999, 0, 0);
		for (int i = 6; i < 10; i++)
			small += send_data(&f, SAFE_MESS, 1, g1, (int16)i, "c", 1, 0, 0);
		T_EQ(rx(m, 0, MAXG, MAXD), 80000);
		T_EQ(r.mt, 4);
		T_MEMEQ(r.data, big, 80000);
		T_EQ(rx(m, 0, MAXG, MAXD), 79999);
		T_EQ(r.mt, 5);
		T_MEMEQ(r.data, big + 1, 79999);
		T_EQ(SP_poll(m), (int)small);
		for (int i = 6; i < 10; i++) {
			T_EQ(rx(m, 0, MAXG, MAXD), 1);
			T_EQ(r.mt, i);
		}
		T_EQ(SP_poll(m), 0);
	}
	T_EQ(SP_disconnect(m), 0);
	fake_close(&f);
}

#define RTHREADS 4
#define RMSGS 3000

struct receiver {
	mailbox m;
	int got;
	int bad;
	char *seen; /* RMSGS flags, shared; each set once */
};

static pthread_mutex_t seen_lock = PTHREAD_MUTEX_INITIALIZER;

static void *receiver_thread(void *arg)
{
	struct receiver *rc = arg;
	static __thread char data[4096];
	char sender[MAX_GROUP_NAME], groups[2][MAX_GROUP_NAME];
	service st;
	int ng, em;
	int16 mt;

	for (;;) {
		int n, seq;

		st = 0;
		n = SP_receive(rc->m, &st, sender, 2, &ng, groups, &mt, &em,
			       sizeof(data), data);
		if (n < 4) {
			rc->bad++;
			return NULL;
		}
		memcpy(&seq, data, 4);
		if (seq < 0)
			return NULL; /* stop */
		for (int i = 4; i < n; i++)
			if (data[i] != (char)(seq + i))
				rc->bad++;
		if (n != 4 + seq % 2000 || mt != (int16)seq)
			rc->bad++;
		pthread_mutex_lock(&seen_lock);
		if (rc->seen[seq]++)
			rc->bad++;
		pthread_mutex_unlock(&seen_lock);
		rc->got++;
	}
}

/* Concurrent receives on one mailbox each get whole, distinct messages. */
static void recv_threads(void)
{
	static char seen[RMSGS];
	static char d[4096];
	struct receiver rc[RTHREADS];
	pthread_t th[RTHREADS];
	struct fake f;
	mailbox m = fake_session(&f);
	int total = 0;

	for (int i = 0; i < RTHREADS; i++) {
		rc[i] = (struct receiver){ m, 0, 0, seen };
		pthread_create(&th[i], NULL, receiver_thread, &rc[i]);
	}
	for (int seq = 0; seq < RMSGS + RTHREADS; seq++) {
		int s = seq < RMSGS ? seq : -1, len = s < 0 ? 4 : 4 + s % 2000;

		memcpy(d, &s, 4);
		for (int i = 4; i < len; i++)
			d[i] = (char)(s + i);
		send_data(&f, AGREED_MESS, 1, g1, (int16)s, d, len, 0, 0);
	}
	for (int i = 0; i < RTHREADS; i++) {
		pthread_join(th[i], NULL);
		T_EQ(rc[i].bad, 0);
		total += rc[i].got;
	}
	T_EQ(total, RMSGS);
	for (int i = 0; i < RMSGS; i++)
		T_EQ(seen[i], 1);
	T_EQ(SP_disconnect(m), 0);
	fake_close(&f);
}

/* NULL output pointers and NULL buffers do not crash the library. */
static void recv_null_outputs(void)
{
	struct fake f;
	mailbox m = fake_session(&f);

	send_data(&f, AGREED_MESS, 0, NULL, 0, NULL, 0, 0, 0);
	T_EQ(SP_receive(m, NULL, NULL, 0, NULL, NULL, NULL, NULL, 0, NULL), 0);
	send_data(&f, AGREED_MESS, 1, g1, 0, "hello", 5, 0, 0);
	T_EQ(SP_receive(m, NULL, NULL, 5, NULL, NULL, NULL, NULL, 99, NULL),
	     GROUPS_TOO_SHORT);
	T_EQ(rx(m, 0, MAXG, MAXD), 5);
	T_EQ(r.ng, 1);
	T_EQ(SP_disconnect(m), 0);
	fake_close(&f);
}

int main(int argc, char **argv)
{
	static const struct t_case cases[] = {
		T_CASE(recv_data),
		T_CASE(recv_types_and_groups),
		T_CASE(recv_short_default),
		T_CASE(recv_short_memb),
		T_CASE(recv_drop),
		T_CASE(recv_other_sender),
		T_CASE(recv_other_daemon),
		T_CASE(recv_memb_outputs),
		T_CASE(recv_reject),
		T_CASE(recv_malformed_memb),
		T_CASE(recv_malformed_transitional),
		T_CASE(recv_negative_counts),
		T_CASE(recv_huge_counts_drop),
		T_CASE(recv_broken_session),
		T_CASE(recv_nonblocking),
		T_CASE(recv_scatter),
		T_CASE(recv_scatter_memb),
		T_CASE(recv_readahead),
		T_CASE(recv_threads),
		T_CASE(recv_null_outputs),
	};

	return t_main(argc, argv, cases, T_COUNT(cases));
}
