/*
 * test_conformance.c - libchorus against a real chorusd: the items of the
 * conformance checklist (docs/client-protocol.md section 13) that need
 * both sides, one case per item (item_NN_...); a few cases beyond the
 * checklist follow.
 */
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "chorus.h"
#include "harness.h"
#include "sp.h"
#include "t.h"

#define MAXG 16

/* One received message, as SP_receive reports it. */
struct rx {
	service st;
	char sender[MAX_GROUP_NAME];
	int ng;
	char groups[MAXG][MAX_GROUP_NAME];
	int16 mt;
	int em;
	int ret;
	char data[200000];
};

static mailbox conn(const struct hd *d, const char *name, int memb, char *pg)
{
	mailbox m;
	int r = SP_connect(d->tcp_addr, name, 0, memb, &m, pg);

	T_ASSERTF(r == ACCEPT_SESSION, "SP_connect %s: %d", name, r);
	return m;
}

/* Receives one message within 5 s (fails the test otherwise). */
static struct rx *rx(mailbox m)
{
	static struct rx r;
	struct pollfd p = { m, POLLIN, 0 };

	if (SP_poll(m) <= 0)
		T_ASSERTF(poll(&p, 1, 5000) == 1, "nothing received");
	memset(&r, 0, sizeof(r));
	r.st = 0;
	r.ret = SP_receive(m, &r.st, r.sender, MAXG, &r.ng, r.groups, &r.mt,
			   &r.em, sizeof(r.data), r.data);
	return &r;
}

/* 1 if nothing arrives within ms. */
static int quiet(mailbox m, int ms)
{
	struct pollfd p = { m, POLLIN, 0 };

	return SP_poll(m) == 0 && poll(&p, 1, ms) == 0;
}

static void expect_join(mailbox m, const char *group, int n)
{
	struct rx *r = rx(m);

	T_ASSERTF(r->st == (REG_MEMB_MESS | CAUSED_BY_JOIN), "service %#x", r->st);
	T_STREQ(r->sender, group);
	T_EQ(r->ng, n);
}

/* Two sessions a and b on one daemon, both in group g1, their join
 * notifications consumed. */
struct pair {
	struct hd d;
	mailbox a, b;
	char pa[MAX_GROUP_NAME], pb[MAX_GROUP_NAME];
};

static void pair_up(struct pair *p, int b_membership)
{
	hd_start(&p->d, NULL);
	p->a = conn(&p->d, "a", 1, p->pa);
	p->b = conn(&p->d, "b", b_membership, p->pb);
	T_EQ(SP_join(p->a, "g1"), 0);
	expect_join(p->a, "g1", 1);
	T_EQ(SP_join(p->b, "g1"), 0);
	expect_join(p->a, "g1", 2);
	if (b_membership)
		expect_join(p->b, "g1", 2);
}

static void pair_down(struct pair *p)
{
	SP_disconnect(p->a);
	SP_disconnect(p->b);
	hd_stop(&p->d);
}

static void item_02_unix_port_form(void)
{
	struct hd d;
	char pg[MAX_GROUP_NAME], port[16];
	mailbox m;

	hd_unix_dir = "/tmp";
	hd_start(&d, NULL);
	hd_unix_dir = NULL;
	snprintf(port, sizeof(port), "%u", d.port);
	T_EQ(SP_connect(port, "unixer", 0, 1, &m, pg), ACCEPT_SESSION);
	T_STREQ(pg, "#unixer#localhost");
	T_EQ(SP_disconnect(m), 0);
	hd_stop(&d);
}

static void item_03_tcp_form(void)
{
	struct hd d;
	char pg[MAX_GROUP_NAME], addr[64];
	mailbox m;

	hd_start(&d, NULL);
	snprintf(addr, sizeof(addr), "%u@127.0.0.1", d.port);
	T_EQ(SP_connect(addr, "tcper", 0, 1, &m, pg), ACCEPT_SESSION);
	T_STREQ(pg, "#tcper#localhost");
	T_EQ(SP_disconnect(m), 0);
	snprintf(addr, sizeof(addr), "127.0.0.1:%u", d.port);
	T_EQ(SP_connect(addr, "bad", 0, 1, &m, pg), ILLEGAL_SPREAD);
	hd_stop(&d);
}

static void item_04_nothing_listening(void)
{
	struct hd d;
	char pg[MAX_GROUP_NAME], addr[64];
	mailbox m;

	hd_start(&d, NULL);
	hd_stop(&d);
	snprintf(addr, sizeof(addr), "%u@127.0.0.1", d.port);
	T_EQ(SP_connect(addr, "none", 0, 1, &m, pg), COULD_NOT_CONNECT);
	T_EQ(SP_connect(d.unix_addr, "none", 0, 1, &m, pg), COULD_NOT_CONNECT);
}

static void item_10_accept(void)
{
	struct hd d;
	char pg[MAX_GROUP_NAME];
	mailbox m;

	hd_start(&d, NULL);
	memset(pg, 'x', sizeof(pg));
	T_EQ(SP_connect(d.tcp_addr, "alice", 0, 1, &m, pg), ACCEPT_SESSION);
	T_STREQ(pg, "#alice#localhost");
	T_ASSERT(fcntl(m, F_GETFD) != -1); /* the mailbox is a descriptor */
	T_EQ(SP_disconnect(m), 0);
	hd_stop(&d);
}

static void item_32_first_join(void)
{
	struct hd d;
	char pa[32];
	mailbox a;
	struct rx *r;
	int32_t body[6];

	hd_start(&d, NULL);
	a = conn(&d, "a", 1, pa);
	T_EQ(SP_join(a, "g1"), 0);
	r = rx(a);
	T_EQ(r->st, REG_MEMB_MESS | CAUSED_BY_JOIN);
	T_STREQ(r->sender, "g1");
	T_EQ(r->ng, 1);
	T_STREQ(r->groups[0], "#a#localhost");
	T_EQ(r->ret, 56);
	T_EQ(r->mt, 0);
	memcpy(body, r->data, sizeof(body));
	T_EQ(body[0], 0x7f000001);
	T_EQ(body[2], 1); /* index */
	T_EQ(body[3], 1); /* one vs set */
	T_EQ(body[4], 0); /* at offset 0 */
	T_EQ(body[5], 1); /* holding one name */
	T_STREQ(r->data + 24, "#a#localhost");
	SP_disconnect(a);
	hd_stop(&d);
}

static void item_33_second_join(void)
{
	struct hd d;
	char pa[32], pb[32];
	mailbox a, b;
	int32_t first[3];

	hd_start(&d, NULL);
	a = conn(&d, "a", 1, pa);
	b = conn(&d, "b", 1, pb);
	SP_join(a, "g1");
	memcpy(first, rx(a)->data, 12);
	SP_join(b, "g1");
	for (int k = 0; k < 2; k++) {
		struct rx *r = rx(k ? b : a);
		int32_t gid[3];

		T_EQ(r->st, REG_MEMB_MESS | CAUSED_BY_JOIN);
		T_EQ(r->ng, 2);
		T_STREQ(r->groups[0], "#a#localhost");
		T_STREQ(r->groups[1], "#b#localhost");
		T_EQ(r->mt, k); /* each one's own index */
		memcpy(gid, r->data, 12);
		T_EQ(gid[0], first[0]);
		T_EQ(gid[1], first[1]);
		T_EQ(gid[2], 2);
		T_STREQ(r->data + 24, "#b#localhost"); /* vs set [b] */
	}
	SP_disconnect(a);
	SP_disconnect(b);
	hd_stop(&d);
}

static void item_34_join_twice(void)
{
	struct pair p;

	pair_up(&p, 1);
	T_EQ(SP_join(p.b, "g1"), 0);
	T_ASSERT(quiet(p.a, 200));
	T_ASSERT(quiet(p.b, 50));
	pair_down(&p);
}

static void item_35_leave(void)
{
	struct pair p;
	struct rx *r;

	pair_up(&p, 1);
	T_EQ(SP_leave(p.b, "g1"), 0);
	r = rx(p.b);
	T_EQ(r->st, CAUSED_BY_LEAVE);
	T_STREQ(r->sender, "g1");
	T_EQ(r->ng, 0);
	T_EQ(r->ret, 0);
	T_EQ(r->mt, -1);
	T_ASSERT(Is_self_leave(r->st));
	r = rx(p.a);
	T_EQ(r->st, REG_MEMB_MESS | CAUSED_BY_LEAVE);
	T_EQ(r->ng, 1);
	T_STREQ(r->groups[0], "#a#localhost");
	T_STREQ(r->data + 24, "#b#localhost"); /* vs set [b] */
	pair_down(&p);
}

static void item_36_leave_not_member(void)
{
	struct pair p;

	pair_up(&p, 1);
	SP_leave(p.b, "g1");
	rx(p.b);
	rx(p.a);
	T_EQ(SP_leave(p.b, "g1"), 0);
	T_EQ(SP_leave(p.b, "never"), 0);
	T_ASSERT(quiet(p.b, 200));
	T_ASSERT(quiet(p.a, 50));
	pair_down(&p);
}

static void item_37_disconnect(void)
{
	struct pair p;
	struct rx *r;
	membership_info mi;

	pair_up(&p, 1);
	T_EQ(SP_disconnect(p.b), 0);
	r = rx(p.a);
	T_EQ(r->st, REG_MEMB_MESS | CAUSED_BY_DISCONNECT);
	T_EQ(r->ng, 1);
	T_EQ(SP_get_memb_info(r->data, r->st, &mi), 1);
	T_STREQ(mi.changed_member, "#b#localhost");
	/* The same when the socket just closes. */
	p.b = conn(&p.d, "b", 1, p.pb);
	SP_join(p.b, "g1");
	expect_join(p.a, "g1", 2);
	expect_join(p.b, "g1", 2);
	SP_kill(p.b);
	r = rx(p.a);
	T_EQ(r->st, REG_MEMB_MESS | CAUSED_BY_DISCONNECT);
	SP_disconnect(p.a);
	hd_stop(&p.d);
}

static void item_38_no_membership_flag(void)
{
	struct pair p;
	struct rx *r;

	pair_up(&p, 0);
	T_EQ(SP_multicast(p.a, AGREED_MESS, "g1", 7, 3, "abc"), 3);
	r = rx(p.b); /* the data, and no notification before it */
	T_EQ(r->st, AGREED_MESS);
	T_EQ(r->ret, 3);
	SP_leave(p.b, "g1");
	T_EQ(rx(p.a)->st, AGREED_MESS);
	T_EQ(rx(p.a)->st, REG_MEMB_MESS | CAUSED_BY_LEAVE);
	T_ASSERT(quiet(p.b, 200)); /* no self-leave either */
	pair_down(&p);
}

static void item_42_memb_info(void)
{
	struct pair p;
	struct rx *r;
	membership_info mi;

	pair_up(&p, 1);
	SP_multicast(p.a, AGREED_MESS, "g1", 0, 1, "x");
	r = rx(p.a);
	T_EQ(SP_get_memb_info(r->data, r->st, &mi), ILLEGAL_MESSAGE); /* data */
	SP_leave(p.b, "g1");
	r = rx(p.a);
	T_EQ(SP_get_memb_info(r->data, r->st, &mi), 1);
	T_STREQ(mi.changed_member, "#b#localhost");
	T_EQ(mi.num_vs_sets, 1);
	T_EQ(mi.my_vs_set.num_members, 1);
	T_EQ(mi.my_vs_set.members_offset, 24);
	T_EQ(mi.gid.id[2], 3);
	pair_down(&p);
}

static void item_43_vs_sets_info(void)
{
	struct pair p;
	struct rx *r;
	vs_set_info sets[4];
	unsigned int my = 99;

	pair_up(&p, 1);
	SP_leave(p.b, "g1");
	r = rx(p.a);
	T_EQ(SP_get_vs_sets_info(r->data, sets, 0, &my), BUFFER_TOO_SHORT);
	T_EQ(SP_get_vs_sets_info(r->data, sets, 4, &my), 1);
	T_EQ(my, 0);
	T_EQ(sets[0].num_members, 1);
	T_EQ(sets[0].members_offset, 24);
	pair_down(&p);
}

static void item_44_vs_set_members(void)
{
	struct pair p;
	struct rx *r;
	vs_set_info sets[4];
	unsigned int my;
	char names[4][MAX_GROUP_NAME];

	pair_up(&p, 1);
	SP_leave(p.b, "g1");
	r = rx(p.a);
	T_EQ(SP_get_vs_sets_info(r->data, sets, 4, &my), 1);
	T_EQ(SP_get_vs_set_members(r->data, &sets[0], names, 0), BUFFER_TOO_SHORT);
	T_EQ(SP_get_vs_set_members(r->data, &sets[0], names, 4), 1);
	T_STREQ(names[0], "#b#localhost");
	pair_down(&p);
}

static void item_47_data_fields(void)
{
	static const service levels[] = { UNRELIABLE_MESS, RELIABLE_MESS,
					  FIFO_MESS, CAUSAL_MESS, AGREED_MESS,
					  SAFE_MESS };
	struct pair p;

	pair_up(&p, 1);
	for (size_t i = 0; i < T_COUNT(levels); i++) {
		T_EQ(SP_multicast(p.a, levels[i], "g1", (int16)(0x100 + i), 5, "hello"), 5);
		for (int k = 0; k < 2; k++) {
			struct rx *r = rx(k ? p.b : p.a);

			T_EQ(r->st, levels[i]);
			T_STREQ(r->sender, "#a#localhost");
			T_EQ(r->ng, 1);
			T_STREQ(r->groups[0], "g1");
			T_EQ(r->mt, 0x100 + (int)i);
			T_EQ(r->em, 0);
			T_EQ(r->ret, 5);
			T_MEMEQ(r->data, "hello", 5);
		}
	}
	pair_down(&p);
}

static void item_48_self_discard(void)
{
	struct pair p;
	struct rx *r;

	pair_up(&p, 1);
	T_EQ(SP_multicast(p.a, AGREED_MESS | SELF_DISCARD, "g1", 1, 2, "sd"), 2);
	r = rx(p.b);
	T_EQ(r->st, AGREED_MESS | SELF_DISCARD);
	T_ASSERT(quiet(p.a, 200));
	T_EQ(SP_multicast(p.a, AGREED_MESS, "g1", 1, 2, "me"), 2);
	T_EQ(rx(p.a)->ret, 2); /* without the flag the sender gets it */
	pair_down(&p);
}

static void item_49_multigroup_once(void)
{
	struct pair p;
	struct rx *r;
	char groups[3][MAX_GROUP_NAME] = { "g1", "g2", "nogroup" };

	pair_up(&p, 1);
	SP_join(p.b, "g2");
	expect_join(p.b, "g2", 1);
	T_EQ(SP_multigroup_multicast(p.a, SAFE_MESS, 3, (const char(*)[32])groups, 2, 4, "mult"), 4);
	r = rx(p.b);
	T_EQ(r->ng, 3);
	T_STREQ(r->groups[0], "g1");
	T_STREQ(r->groups[1], "g2");
	T_STREQ(r->groups[2], "nogroup");
	T_EQ(rx(p.a)->ret, 4);
	T_ASSERT(quiet(p.b, 200)); /* once */
	pair_down(&p);
}

static void item_50_unicast(void)
{
	struct pair p;
	struct rx *r;

	pair_up(&p, 1);
	T_EQ(SP_multicast(p.a, RELIABLE_MESS, "#b#localhost", 3, 2, "hi"), 2);
	r = rx(p.b);
	T_EQ(r->st, RELIABLE_MESS);
	T_EQ(r->ng, 1);
	T_STREQ(r->groups[0], "#b#localhost");
	T_ASSERT(quiet(p.a, 200));
	/* To nobody: a missing private name, another daemon's name. */
	T_EQ(SP_multicast(p.a, AGREED_MESS, "#zz#localhost", 0, 1, "x"), 1);
	T_EQ(SP_multicast(p.a, AGREED_MESS, "#b#otherhost", 0, 1, "x"), 1);
	T_EQ(SP_multicast(p.a, AGREED_MESS, "empty", 0, 1, "x"), 1);
	T_ASSERT(quiet(p.a, 200));
	T_ASSERT(quiet(p.b, 50));
	pair_down(&p);
}

/* One member, one 100-byte message to it. */
static void solo_100(struct hd *d, mailbox *a)
{
	static char big[128];
	char pa[32];

	memset(big, 'B', sizeof(big));
	hd_start(d, NULL);
	*a = conn(d, "a", 1, pa);
	SP_join(*a, "g1");
	expect_join(*a, "g1", 1);
	SP_multicast(*a, AGREED_MESS, "g1", 9, 100, big);
}

static void item_51_short_data(void)
{
	struct hd d;
	mailbox a;
	char sender[32], groups[4][32], buf[256];
	service st = 0;
	int ng, em, r;
	int16 mt;

	solo_100(&d, &a);
	r = SP_receive(a, &st, sender, 4, &ng, groups, &mt, &em, 10, buf);
	T_EQ(r, BUFFER_TOO_SHORT);
	T_EQ(em, -100);
	T_EQ(ng, 0);
	T_EQ(st, AGREED_MESS);
	T_STREQ(sender, "#a#localhost");
	T_EQ(mt, 9);
	st = 0;
	r = SP_receive(a, &st, sender, 4, &ng, groups, &mt, &em, sizeof(buf), buf);
	T_EQ(r, 100);
	T_EQ(buf[99], 'B');
	SP_disconnect(a);
	hd_stop(&d);
}

static void item_52_short_names_and_data(void)
{
	struct hd d;
	mailbox a;
	char sender[32], groups[4][32], buf[256];
	service st = 0;
	int ng, em, r;
	int16 mt;

	solo_100(&d, &a);
	r = SP_receive(a, &st, sender, 0, &ng, groups, &mt, &em, 10, buf);
	T_EQ(r, GROUPS_TOO_SHORT);
	T_EQ(ng, -1);
	T_EQ(em, -100);
	st = 0;
	T_EQ(SP_receive(a, &st, sender, 4, &ng, groups, &mt, &em, sizeof(buf), buf), 100);
	SP_disconnect(a);
	hd_stop(&d);
}

static void item_53_short_membership(void)
{
	struct pair p;
	char sender[32], groups[4][32], buf[256];
	service st = 0;
	int ng, em, r;
	int16 mt;

	pair_up(&p, 1);
	SP_leave(p.b, "g1");
	SP_join(p.b, "g1"); /* a sees [a, b] again */
	T_EQ(rx(p.a)->st, REG_MEMB_MESS | CAUSED_BY_LEAVE);
	r = SP_receive(p.a, &st, sender, 1, &ng, groups, &mt, &em, sizeof(buf), buf);
	T_EQ(r, GROUPS_TOO_SHORT);
	T_EQ(ng, -2);
	T_EQ(mt, 0);
	st = 0;
	SP_receive(p.a, &st, sender, 4, &ng, groups, &mt, &em, sizeof(buf), buf);
	T_EQ(st, REG_MEMB_MESS | CAUSED_BY_JOIN);
	pair_down(&p);
}

static void item_54_drop_recv_both_short(void)
{
	struct hd d;
	mailbox a;
	char sender[32], groups[4][32], buf[256];
	service st = 0;
	int ng, em, r;
	int16 mt;

	solo_100(&d, &a);
	/* First a default-mode short call, then DROP_RECV: the original
	 * desynchronised here. */
	T_EQ(SP_receive(a, &st, sender, 4, &ng, groups, &mt, &em, 10, buf), BUFFER_TOO_SHORT);
	SP_multicast(a, AGREED_MESS, "g1", 2, 3, "abc");
	st = DROP_RECV;
	r = SP_receive(a, &st, sender, 0, &ng, groups, &mt, &em, 10, buf);
	T_EQ(r, BUFFER_TOO_SHORT);
	T_EQ(ng, -1);
	T_ASSERT(em == 0 || em == 1);
	T_MEMEQ(buf, "BBBBBBBBBB", 10);
	st = 0;
	r = SP_receive(a, &st, sender, 4, &ng, groups, &mt, &em, sizeof(buf), buf);
	T_EQ(r, 3);
	T_EQ(mt, 2);
	T_MEMEQ(buf, "abc", 3);
	SP_disconnect(a);
	hd_stop(&d);
}

static void item_55_drop_recv_names_short(void)
{
	struct hd d;
	mailbox a;
	char sender[32], groups[4][32], buf[256];
	service st = DROP_RECV;
	int ng, em;
	int16 mt;

	solo_100(&d, &a);
	T_EQ(SP_receive(a, &st, sender, 0, &ng, groups, &mt, &em, sizeof(buf), buf), 100);
	T_EQ(ng, -1);
	SP_disconnect(a);
	hd_stop(&d);
}

/* Order: every member sees the same sequence of messages from several
 * senders, interleaved with membership changes. */
static void agreed_order(void)
{
	enum { SENDERS = 3, EACH = 300 };
	struct hd d;
	char pg[32], pr[32];
	mailbox rcv[2], snd[SENDERS];
	static int seq[2][SENDERS * EACH + 8];
	int n[2] = { 0, 0 };

	hd_start(&d, NULL);
	for (int k = 0; k < 2; k++) {
		char name[8];

		snprintf(name, sizeof(name), "r%d", k);
		rcv[k] = conn(&d, name, 1, pr);
		SP_join(rcv[k], "ord");
	}
	expect_join(rcv[0], "ord", 1);
	expect_join(rcv[0], "ord", 2);
	expect_join(rcv[1], "ord", 2);
	for (int s = 0; s < SENDERS; s++) {
		char name[8];

		snprintf(name, sizeof(name), "s%d", s);
		snd[s] = conn(&d, name, 0, pg);
	}
	for (int i = 0; i < EACH; i++)
		for (int s = 0; s < SENDERS; s++) {
			int v = s * EACH + i;

			T_EQ(SP_multicast(snd[s], AGREED_MESS, "ord", 0, sizeof(v),
					  (const char *)&v), (int)sizeof(v));
		}
	for (int k = 0; k < 2; k++) {
		int last[SENDERS];

		for (int s = 0; s < SENDERS; s++)
			last[s] = -1;
		while (n[k] < SENDERS * EACH) {
			struct rx *r = rx(rcv[k]);
			int v;

			T_EQ(r->ret, 4);
			memcpy(&v, r->data, 4);
			/* FIFO per sender. */
			T_ASSERT(v / EACH < SENDERS && v % EACH == last[v / EACH] + 1);
			last[v / EACH] = v % EACH;
			seq[k][n[k]++] = v;
		}
	}
	T_MEMEQ(seq[0], seq[1], sizeof(int) * SENDERS * EACH);
	for (int s = 0; s < SENDERS; s++)
		SP_disconnect(snd[s]);
	SP_disconnect(rcv[0]);
	SP_disconnect(rcv[1]);
	hd_stop(&d);
}

/* Items 23, 24, 22 and 30 through the library against the daemon; 58
 * once the daemon is gone. */
static void item_58_limits_and_broken_session(void)
{
	static char big[150000];
	struct hd d;
	char pa[32], pb[32];
	mailbox a, b;
	struct rx *r;

	hd_start(&d, NULL);
	a = conn(&d, "a", 1, pa);
	b = conn(&d, "b", 0, pb);
	SP_join(b, "g1");
	T_EQ(SP_multicast(a, AGREED_MESS, "g1", 0, 144001 - 32, big), MESSAGE_TOO_LONG);
	T_EQ(SP_multicast(a, 0, "g1", 0, 1, big), ILLEGAL_SERVICE);
	T_EQ(SP_multicast(a, REG_MEMB_MESS, "g1", 0, 1, big), ILLEGAL_SERVICE);
	T_EQ(SP_multicast(a, AGREED_MESS | RELIABLE_MESS, "g1", 0, 1, big), ILLEGAL_SERVICE);
	T_EQ(SP_multicast(a, AGREED_MESS | REJECT_MESS, "g1", 0, 1, big), ILLEGAL_SERVICE);
	T_EQ(SP_join(a, "a b"), ILLEGAL_GROUP);
	T_EQ(SP_join(a, "#x"), ILLEGAL_GROUP);
	T_EQ(SP_join(a, ""), ILLEGAL_GROUP);
	for (int i = 0; i < 143900 - 32; i++)
		big[i] = (char)(i * 13);
	T_EQ(SP_multicast(a, SAFE_MESS, "g1", 0, 143900 - 32, big), 143900 - 32);
	r = rx(b);
	T_EQ(r->ret, 143900 - 32);
	T_MEMEQ(r->data, big, 143900 - 32);
	/* The daemon goes away: the sessions break. */
	hd_stop(&d);
	r = rx(a);
	T_EQ(r->ret, CONNECTION_CLOSED);
	T_EQ(SP_multicast(a, AGREED_MESS, "g1", 0, 1, "x"), NET_ERROR_ON_SESSION);
	T_EQ(SP_join(a, "g1"), NET_ERROR_ON_SESSION);
	T_EQ(SP_leave(a, "g1"), NET_ERROR_ON_SESSION);
	r = rx(a);
	T_EQ(r->ret, NET_ERROR_ON_SESSION);
	T_EQ(SP_disconnect(a), 0);
	T_EQ(SP_disconnect(a), ILLEGAL_SESSION);
	T_EQ(SP_join(a, "g1"), ILLEGAL_SESSION);
	SP_disconnect(b);
}

/* A join beyond the group cap gets a reject (not a crash). */
static void group_member_cap(void)
{
	enum { CAP = 2048 };
	static mailbox ms[CAP + 1];
	struct hd d;
	char pg[32];
	struct rx *r;

	hd_start(&d, NULL);
	for (int i = 0; i <= CAP; i++) {
		char name[16];

		snprintf(name, sizeof(name), "c%d", i);
		T_EQ(SP_connect(d.unix_addr, name, 0, i == CAP, &ms[i], pg), ACCEPT_SESSION);
		T_EQ(SP_join(ms[i], "crowd"), 0);
	}
	r = rx(ms[CAP]);
	T_EQ(r->st, REJECT_MESS | CAUSED_BY_JOIN);
	T_EQ(r->ng, 2);
	T_STREQ(r->groups[0], "crowd");
	T_STREQ(r->groups[1], pg);
	for (int i = 0; i <= CAP; i++)
		SP_disconnect(ms[i]);
	hd_stop(&d);
}

/* Items 62 and 63: the command line and the port. */
static int run_daemon(const char *conf, const char *name, int wait_ms)
{
	char path[512];
	const char *b = getenv("CHORUS_BUILD");
	pid_t pid;
	int status;
	int64_t until = t_now_ms() + wait_ms;

	snprintf(path, sizeof(path), "%s/chorusd", b ? b : "build");
	pid = fork();
	if (pid == 0) {
		int fd = open("/dev/null", O_WRONLY);

		dup2(fd, 2);
		dup2(fd, 1);
		if (name)
			execl(path, path, "-c", conf, "-n", name, (char *)NULL);
		else
			execl(path, path, "-t", "-c", conf, (char *)NULL);
		_exit(127);
	}
	while (waitpid(pid, &status, WNOHANG) == 0) {
		if (t_now_ms() > until) {
			kill(pid, SIGTERM);
			waitpid(pid, &status, 0);
			return -1; /* still running */
		}
		usleep(5000);
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

static void item_62_command_line(void)
{
	char dir[] = "/tmp/chorus-cl-XXXXXX", conf[128];
	FILE *fp;

	T_ASSERT(mkdtemp(dir));
	snprintf(conf, sizeof(conf), "%s/spread.conf", dir);
	fp = fopen(conf, "w");
	fprintf(fp, "Spread_Segment 127.0.0.255:4907 {\n localhost 127.0.0.1\n}\n"
		"UnixSocketDir = \"%s\"\n", dir);
	fclose(fp);
	T_EQ(run_daemon(conf, "notthere", 3000), 1);
	T_EQ(run_daemon(conf, NULL, 3000), 0);
	fp = fopen(conf, "w");
	fprintf(fp, "Spread_Segment 127.0.0.255:4907 {\n abcdefghijklmnopqrstu 127.0.0.1\n}\n");
	fclose(fp);
	T_EQ(run_daemon(conf, NULL, 3000), 1);
	unlink(conf);
	rmdir(dir);
}

static void item_63_segment_port(void)
{
	struct hd d;
	char pg[32], addr[64];
	mailbox m;

	/* The harness writes the port into Spread_Segment; both the TCP
	 * port and the socket name follow it. */
	hd_start(&d, NULL);
	snprintf(addr, sizeof(addr), "%u@127.0.0.1", d.port);
	T_EQ(SP_connect(addr, "p", 0, 0, &m, pg), ACCEPT_SESSION);
	SP_disconnect(m);
	T_ASSERT(strstr(d.unix_path, "/") != NULL);
	snprintf(addr, sizeof(addr), "%u", d.port);
	T_ASSERT(strcmp(strrchr(d.unix_path, '/') + 1, addr) == 0);
	T_EQ(SP_connect(d.unix_addr, "u", 0, 0, &m, pg), ACCEPT_SESSION);
	SP_disconnect(m);
	hd_stop(&d);
}

/* chorus_set_send_buffer: frames wait in the buffer until a flush, a
 * receive, a poll or a disconnect; order is kept, also around a frame
 * larger than the buffer, and a frame of 64 KiB or more, which is not
 * copied, goes out at once behind the held ones. */
static void send_coalescing(void)
{
	static char big[5000], large[70000];
	struct pair p;
	struct rx *r;
	char msg[16];

	pair_up(&p, 1);
	T_EQ(chorus_set_send_buffer(p.a, 4096), 0);
	T_EQ(chorus_set_send_buffer(p.a, CHORUS_MAX_SEND_BUFFER + 1), ILLEGAL_MESSAGE);
	for (int i = 0; i < 10; i++) {
		snprintf(msg, sizeof(msg), "m%d", i);
		T_EQ(SP_multicast(p.a, AGREED_MESS | SELF_DISCARD, "g1", (int16)i,
				  (int)strlen(msg), msg), (int)strlen(msg));
	}
	T_ASSERT(quiet(p.b, 300)); /* held */
	T_EQ(chorus_flush(p.a), 0);
	for (int i = 0; i < 10; i++) {
		r = rx(p.b);
		T_EQ(r->mt, i);
	}
	/* Held frames go out before a frame larger than the buffer. */
	T_EQ(SP_multicast(p.a, AGREED_MESS | SELF_DISCARD, "g1", 1, 2, "s1"), 2);
	T_EQ(SP_multicast(p.a, AGREED_MESS | SELF_DISCARD, "g1", 2, sizeof(big), big),
	     (int)sizeof(big));
	T_EQ(rx(p.b)->mt, 1);
	T_EQ(rx(p.b)->mt, 2);
	/* A receive on the mailbox flushes: a leave, then its own notice. */
	T_EQ(SP_multicast(p.a, AGREED_MESS | SELF_DISCARD, "g1", 3, 2, "s3"), 2);
	T_EQ(SP_leave(p.a, "g1"), 0);
	T_ASSERT(quiet(p.b, 200));
	r = rx(p.a); /* flushes, then waits for the self-leave */
	T_EQ(r->st, CAUSED_BY_LEAVE);
	T_EQ(rx(p.b)->mt, 3);
	T_EQ(rx(p.b)->st, REG_MEMB_MESS | CAUSED_BY_LEAVE);
	/* Disconnect flushes too. */
	T_EQ(SP_multicast(p.a, AGREED_MESS, "g1", 4, 2, "s4"), 2);
	T_EQ(SP_disconnect(p.a), 0);
	T_EQ(rx(p.b)->mt, 4);
	T_EQ(chorus_flush(p.a), ILLEGAL_SESSION);
	/* Turning it off writes what is held. */
	p.a = conn(&p.d, "a", 1, p.pa);
	T_EQ(chorus_set_send_buffer(p.a, 1024), 0);
	T_EQ(SP_multicast(p.a, AGREED_MESS, "g1", 5, 2, "s5"), 2);
	T_EQ(chorus_set_send_buffer(p.a, 0), 0);
	T_EQ(rx(p.b)->mt, 5);
	T_EQ(chorus_set_send_buffer(p.a, 1 << 20), 0);
	for (size_t i = 0; i < sizeof(large); i++)
		large[i] = (char)(i % 241);
	T_EQ(SP_multicast(p.a, AGREED_MESS, "g1", 6, 2, "s6"), 2);
	T_ASSERT(quiet(p.b, 200)); /* held */
	T_EQ(SP_multicast(p.a, AGREED_MESS, "g1", 7, sizeof(large), large),
	     (int)sizeof(large));
	r = rx(p.b);
	T_EQ(r->mt, 6);
	T_EQ(r->ret, 2);
	T_MEMEQ(r->data, "s6", 2);
	r = rx(p.b);
	T_EQ(r->mt, 7);
	T_EQ(r->ret, (int)sizeof(large));
	T_MEMEQ(r->data, large, sizeof(large));
	pair_down(&p);
}

int main(int argc, char **argv)
{
	static const struct t_case cases[] = {
		T_CASE(item_02_unix_port_form),
		T_CASE(item_03_tcp_form),
		T_CASE(item_04_nothing_listening),
		T_CASE(item_10_accept),
		T_CASE(item_32_first_join),
		T_CASE(item_33_second_join),
		T_CASE(item_34_join_twice),
		T_CASE(item_35_leave),
		T_CASE(item_36_leave_not_member),
		T_CASE(item_37_disconnect),
		T_CASE(item_38_no_membership_flag),
		T_CASE(item_42_memb_info),
		T_CASE(item_43_vs_sets_info),
		T_CASE(item_44_vs_set_members),
		T_CASE(item_47_data_fields),
		T_CASE(item_48_self_discard),
		T_CASE(item_49_multigroup_once),
		T_CASE(item_50_unicast),
		T_CASE(item_51_short_data),
		T_CASE(item_52_short_names_and_data),
		T_CASE(item_53_short_membership),
		T_CASE(item_54_drop_recv_both_short),
		T_CASE(item_55_drop_recv_names_short),
		T_CASE(item_58_limits_and_broken_session),
		T_CASE(item_62_command_line),
		T_CASE(item_63_segment_port),
		T_CASE(agreed_order),
		T_CASE(send_coalescing),
		T_CASE_TIMEOUT(group_member_cap, 120),
	};
	return t_main(argc, argv, cases, T_COUNT(cases));
}
