/*
 * test_ring.c - several chorusd on one segment over the ring: three
 * daemons on 127.0.0.1..3 in unicast mode form one ring (their status
 * replies name the same configuration of three); clients on different
 * daemons see the same order of agreed and safe messages of every size,
 * large ones cut into pieces; a message to a private group reaches only
 * the destination's daemon; SIGKILL of a daemon makes the other two
 * install a configuration of two within the token timeout plus one
 * second, and its restart merges the three again with a new id; a daemon
 * with a different configuration stays out and its peers say why. With
 * sealed ring datagrams (RingKeyFile): the same order everywhere, and a
 * daemon with another key stays out, with the reason in both logs.
 *
 * Group membership across daemons is not needed here: every client
 * joins at its own daemon, which delivers the ring's messages to its
 * local members.
 */
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon/status.h"
#include "harness.h"
#include "sp.h"
#include "t.h"

#define TOKEN_TIMEOUT_MS 1250 /* the ring's LAN default */

/* Waits until every daemon in `which` (indexes, -1 ends) reports the
 * same operational configuration of n members. Returns the ms it took,
 * or -1; *id gets the configuration's (rep, seq). */
static int64_t wait_conf(struct hd_ring *r, const int *which, unsigned n,
			 int ms, uint32_t id[2])
{
	int64_t t0 = t_now_ms(), until = t0 + ms;

	while (t_now_ms() < until) {
		struct status_info si;
		int ok = 1;
		uint32_t rep = 0, seq = 0;

		for (int k = 0; which[k] >= 0 && ok; k++) {
			if (!hd_status(&r->d[which[k]], &si, 200) ||
			    si.state != RING_OPERATIONAL || si.n_members != n) {
				ok = 0;
				break;
			}
			if (k == 0) {
				rep = si.conf_rep;
				seq = si.conf_seq;
			} else if (si.conf_rep != rep || si.conf_seq != seq) {
				ok = 0;
			}
		}
		if (ok) {
			if (id) {
				id[0] = rep;
				id[1] = seq;
			}
			return t_now_ms() - t0;
		}
		usleep(10000);
	}
	return -1;
}

static const int all3[] = { 0, 1, 2, -1 };

static void three_form_a_ring(void)
{
	struct hd_ring r;
	struct status_info si;
	uint32_t id[2];

	hd_ring_start(&r, 3, NULL);
	T_ASSERTF(wait_conf(&r, all3, 3, 15000, id) >= 0,
		  "no common configuration of 3 (logs %s %s %s)", r.d[0].log,
		  r.d[1].log, r.d[2].log);
	T_ASSERT(hd_status(&r.d[1], &si, 1000));
	T_EQ(si.ring, 1);
	T_EQ(si.transport, 2); /* unicast */
	T_EQ(si.members[0], 0x7f000001);
	T_EQ(si.members[1], 0x7f000002);
	T_EQ(si.members[2], 0x7f000003);
	T_EQ(id[0], 0x7f000001); /* the lowest id represents the ring */
	T_STREQ(si.name, "d2");
	for (int i = 0; i < 3; i++)
		T_ASSERT(hd_wait_log(&r.d[i], "regular configuration installed", 1000));
	hd_ring_stop(&r);
}

/* Connects a client with name `name` to daemon d. */
static mailbox conn(const struct hd *d, const char *name, char *pg)
{
	mailbox m;
	int rc = SP_connect(d->tcp_addr, name, 0, 1, &m, pg);

	T_ASSERTF(rc == ACCEPT_SESSION, "SP_connect %s to %s: %d", name,
		  d->tcp_addr, rc);
	return m;
}

struct got {
	service st;
	char sender[MAX_GROUP_NAME];
	int ng;
	char groups[4][MAX_GROUP_NAME];
	int16 mt;
	int em;
	int len;
	char data[150000];
};

/* Receives the next message within 10 s; fails the test otherwise. */
static struct got *recv_one(mailbox m)
{
	static struct got g;
	struct pollfd p = { m, POLLIN, 0 };

	if (SP_poll(m) <= 0)
		T_ASSERTF(poll(&p, 1, 10000) == 1, "nothing received in 10 s");
	memset(&g, 0, sizeof(g.sender));
	g.st = 0;
	g.len = SP_receive(m, &g.st, g.sender, 4, &g.ng, g.groups, &g.mt, &g.em,
			   sizeof(g.data), g.data);
	T_ASSERTF(g.len >= 0, "SP_receive: %d", g.len);
	return &g;
}

/* Receives until a data message; membership messages are skipped. */
static struct got *recv_data(mailbox m)
{
	for (;;) {
		struct got *g = recv_one(m);

		if (Is_regular_mess(g->st))
			return g;
	}
}

/* Joins g and waits for its own membership: the join went through the
 * ring, so everything sent afterwards is ordered after it. */
static void join_wait(mailbox m, const char *group)
{
	struct got *g;

	T_EQ(SP_join(m, group), 0);
	do
		g = recv_one(m);
	while (!Is_reg_memb_mess(g->st));
}

#define PER_CLIENT 60

/* The size of message i of a client: mostly small, some cut into pieces,
 * some of the largest size a client may send. */
static int msg_size(int i)
{
	static const int sizes[] = { 40, 1000, 1400, 3000, 40, 20000, 300,
				     143920 - 32, 40, 9000 };

	return sizes[i % 10];
}

static void fill(char *buf, int len, int client, int i)
{
	snprintf(buf, 32, "%d:%d:", client, i);
	for (int k = 24; k < len; k++)
		buf[k] = (char)(client * 31 + i * 7 + k);
}

/* Receives the next data message of a client and checks it: its sender's
 * next in FIFO order, the size and contents that sender wrote. Agreed
 * and safe messages are appended to order[] as sender * 1000 + index. */
static void take(mailbox m, int *next_from, int *order, int *n_order)
{
	static char buf[150000];
	struct got *g = recv_data(m);
	int s, k;

	T_ASSERT(sscanf(g->data, "%d:%d:", &s, &k) == 2);
	T_ASSERT(s >= 0 && s < 3);
	T_EQ(k, next_from[s]); /* FIFO per sender */
	T_EQ(g->len, msg_size(k + s));
	fill(buf, g->len, s, k);
	T_MEMEQ(g->data, buf, (size_t)g->len);
	next_from[s]++;
	if (!(g->st & FIFO_MESS))
		order[(*n_order)++] = s * 1000 + k;
}

/* The agreed-order run below on a ring configured with `extra`. */
static void agreed_order_with(const char *extra)
{
	static char buf[150000];
	struct hd_ring r;
	mailbox m[3];
	char pg[MAX_GROUP_NAME], name[8];
	/* order[c][k] = sender * 1000 + i of the k-th agreed or safe message
	 * client c received. */
	static int order[3][3 * PER_CLIENT];
	int n_order[3] = { 0, 0, 0 }, next_from[3][3];

	memset(next_from, 0, sizeof(next_from));
	hd_ring_start(&r, 3, extra);
	T_ASSERT(wait_conf(&r, all3, 3, 15000, NULL) >= 0);
	for (int c = 0; c < 3; c++) {
		snprintf(name, sizeof(name), "c%d", c);
		m[c] = conn(&r.d[c], name, pg);
		join_wait(m[c], "ring");
	}
	/* Interleaved senders, services cycling through FIFO, agreed and
	 * safe; every client reads as it goes so no queue fills. */
	for (int i = 0; i < PER_CLIENT; i++) {
		for (int c = 0; c < 3; c++) {
			int len = msg_size(i + c), rc;
			service st = i % 3 == 0 ? FIFO_MESS
				     : i % 3 == 1 ? AGREED_MESS : SAFE_MESS;

			fill(buf, len, c, i);
			rc = SP_multicast(m[c], st, "ring", (int16)i, len, buf);
			T_ASSERTF(rc == len, "SP_multicast: %d", rc);
		}
		if (i % 10 != 9)
			continue;
		for (int c = 0; c < 3; c++) {
			while (SP_poll(m[c]) > 0)
				take(m[c], next_from[c], order[c], &n_order[c]);
		}
	}
	for (int c = 0; c < 3; c++) {
		while (next_from[c][0] + next_from[c][1] + next_from[c][2] <
		       3 * PER_CLIENT) {
			take(m[c], next_from[c], order[c], &n_order[c]);
		}
	}
	/* The same agreed and safe sequence at every daemon. */
	T_EQ(n_order[0], 3 * (PER_CLIENT - PER_CLIENT / 3));
	for (int c = 1; c < 3; c++) {
		T_EQ(n_order[c], n_order[0]);
		for (int k = 0; k < n_order[0]; k++)
			T_ASSERTF(order[c][k] == order[0][k],
				  "client %d message %d: %d, client 0: %d", c, k,
				  order[c][k], order[0][k]);
	}
	for (int c = 0; c < 3; c++)
		SP_disconnect(m[c]);
	hd_ring_stop(&r);
}

static void agreed_order_across_daemons(void)
{
	agreed_order_with(NULL);
}

/* Sealed ring datagrams (RingKeyFile, "%h" for each daemon's own file):
 * a key file per daemon in a fresh private directory; `bad` names a
 * daemon (1..3) given another key under the same id, or 0. Writes the
 * configuration lines into extra. */
static void sealed_keys(char *dir, char *extra, size_t cap, int bad)
{
	static const char good[] =
		"1 6a09e667f3bcc908bb67ae8584caa73b3c6ef372fe94f82ba54ff53a5f1d36f1\n";
	static const char other[] =
		"1 510e527fade682d19b05688c2b3e6c1f1f83d9abfb41bd6b5be0cd19137e2179\n";

	T_ASSERT(mkdtemp(dir) != NULL);
	for (int i = 1; i <= 3; i++) {
		char path[128];
		FILE *fp;

		snprintf(path, sizeof(path), "%s/d%d.keys", dir, i);
		fp = fopen(path, "w");
		T_ASSERT(fp != NULL);
		fputs(i == bad ? other : good, fp);
		fclose(fp);
		T_ASSERT(chmod(path, 0600) == 0);
	}
	snprintf(extra, cap, "RingKeyFile = %s/%%h.keys\nRingEncryption = yes\n",
		 dir);
}

static void sealed_keys_remove(const char *dir)
{
	char path[128];

	for (int i = 1; i <= 3; i++) {
		snprintf(path, sizeof(path), "%s/d%d.keys", dir, i);
		unlink(path);
	}
	rmdir(dir);
}

/* The same order everywhere, frames up to the largest cut into pieces of
 * the smaller sealed payload, with every ring datagram encrypted. */
static void sealed_agreed_order(void)
{
	char dir[] = "/tmp/chorus-keys-XXXXXX", extra[256];

	sealed_keys(dir, extra, sizeof(extra), 0);
	agreed_order_with(extra);
	sealed_keys_remove(dir);
}

/* A daemon with another key under the same id never joins; both sides
 * log why, and the others count its datagrams as forged. */
static void sealed_wrong_key_stays_out(void)
{
	static const int two[] = { 0, 1, -1 }, third[] = { 2, -1 };
	char dir[] = "/tmp/chorus-keys-XXXXXX", extra[256];
	struct hd_ring r;
	struct status_info si;

	sealed_keys(dir, extra, sizeof(extra), 3);
	hd_ring_start(&r, 3, extra);
	T_ASSERT(wait_conf(&r, two, 2, 15000, NULL) >= 0);
	T_ASSERT(hd_wait_log(&r.d[2], "failed authentication; wrong key?", 5000));
	T_ASSERT(hd_wait_log(&r.d[0], "packets from 127.0.0.3 failed "
			     "authentication; wrong key?", 5000));
	/* d3 forms a ring of its own and stays there. */
	T_ASSERT(wait_conf(&r, third, 1, 10000, NULL) >= 0);
	T_ASSERT(hd_status(&r.d[0], &si, 1000));
	T_EQ(si.ring_suite, 0x12);
	T_EQ(si.ring_key_id, 1);
	T_ASSERT(si.c[ST_RING_FORGED] > 0);
	T_EQ(si.c[ST_RING_REPLAYED], 0);
	T_ASSERT(wait_conf(&r, two, 2, 1000, NULL) >= 0);
	hd_ring_stop(&r);
	sealed_keys_remove(dir);
}

/* Runs build program `prog` with args under a 60 s timeout, its
 * standard error with its output; returns the output (static) and the
 * exit status in *rc. */
static const char *run_prog(const char *prog, const char *args, int *rc)
{
	static char out[65536];
	char cmd[1024];
	const char *b = getenv("CHORUS_BUILD");
	size_t got;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "timeout 60 %s/%s %s 2>&1", b ? b : "build",
		 prog, args);
	p = popen(cmd, "r");
	T_ASSERT(p);
	got = fread(out, 1, sizeof(out) - 1, p);
	out[got] = 0;
	*rc = pclose(p);
	*rc = WIFEXITED(*rc) ? WEXITSTATUS(*rc) : -1;
	return out;
}

/* Makes a fresh key directory dir (sealed_keys) with a configuration of
 * two daemons d1 and d2 in it, RuntimeDir dir + runtime_sub; its path in
 * conf. */
static void sealed_conf(char *dir, const char *runtime_sub, char *conf,
			size_t cap)
{
	char extra[256];
	FILE *fp;

	sealed_keys(dir, extra, sizeof(extra), 0);
	snprintf(conf, cap, "%s/spread.conf", dir);
	fp = fopen(conf, "w");
	T_ASSERT(fp);
	fprintf(fp, "Spread_Segment 127.0.0.255:%u {\n\td1 127.0.0.1 { C 127.0.0.1 "
		"D 127.0.0.1 }\n\td2 127.0.0.2 { C 127.0.0.2 D 127.0.0.2 }\n}\n"
		"RingTransport = unicast\nUnixSocketDir = \"\"\nRuntimeDir = \"%s%s\"\n%s",
		hd_free_port(), dir, runtime_sub, extra);
	fclose(fp);
}

/* A key file others may read, or a malformed one, stops chorusd at start
 * and fails `chorusd -t`, each saying why; a good one passes -t. */
static void sealed_key_file_checked(void)
{
	char dir[] = "/tmp/chorus-keys-XXXXXX", conf[128], args[512], key[128];
	const char *out;
	FILE *fp;
	int rc;

	sealed_conf(dir, "", conf, sizeof(conf));
	snprintf(key, sizeof(key), "%s/d1.keys", dir);
	snprintf(args, sizeof(args), "-t -c %s -n d1", conf);
	out = run_prog("chorusd", args, &rc);
	T_ASSERTF(rc == 0 && strstr(out, "configuration OK"), "%d: %s", rc, out);
	snprintf(args, sizeof(args), "-t -c %s", conf);
	out = run_prog("chorusd", args, &rc);
	T_ASSERTF(rc == 0 && strstr(out, "RingKeyFile not checked"), "%d: %s", rc,
		  out);
	T_ASSERT(chmod(key, 0640) == 0);
	snprintf(args, sizeof(args), "-t -c %s -n d1", conf);
	out = run_prog("chorusd", args, &rc);
	T_ASSERTF(rc == 1 && strstr(out, "d1.keys may be read or written by group "
				    "or others (mode 0640)"), "%d: %s", rc, out);
	snprintf(args, sizeof(args), "-c %s -n d1", conf);
	out = run_prog("chorusd", args, &rc);
	T_ASSERTF(rc == 1 && strstr(out, "chmod 600"), "%d: %s", rc, out);
	T_ASSERT(chmod(key, 0600) == 0);
	fp = fopen(key, "a");
	T_ASSERT(fp);
	fputs("2 abc\n", fp);
	fclose(fp);
	out = run_prog("chorusd", args, &rc);
	T_ASSERTF(rc == 1 && strstr(out, "d1.keys: line 2: the key must be 64 "
				    "hexadecimal digits"), "%d: %s", rc, out);
	unlink(conf);
	sealed_keys_remove(dir);
}

/* Sealed, a daemon that cannot write its state file (so that a second
 * run within the same second could share its incarnation) refuses to
 * start and says why; unsealed, it runs on the wall clock. */
static void sealed_needs_state_file(void)
{
	char dir[] = "/tmp/chorus-keys-XXXXXX", conf[128], args[512];
	const char *out;
	int rc;

	sealed_conf(dir, "/missing", conf, sizeof(conf));
	snprintf(args, sizeof(args), "-c %s -n d1", conf);
	out = run_prog("chorusd", args, &rc);
	T_ASSERTF(rc == 1 && strstr(out, "cannot write the state file") &&
		  strstr(out, "with RingKeyFile the incarnation must grow"),
		  "%d: %s", rc, out);
	unlink(conf);
	sealed_keys_remove(dir);
}

/* A sender far faster than the ring: its daemon stops reading it while
 * the ring's send queue is full (counted as input pauses) and never ends
 * its session; every message arrives, in order, at a receiver on another
 * daemon. */
#define FLOOD_N 200
#define FLOOD_LEN 100000
static void back_pressure_pauses_not_drops(void)
{
	static char buf[FLOOD_LEN];
	struct hd_ring r;
	struct status_info si;
	char pg[MAX_GROUP_NAME];
	mailbox rcv;
	pid_t child;
	int status;

	hd_ring_start(&r, 3, NULL);
	T_ASSERT(wait_conf(&r, all3, 3, 15000, NULL) >= 0);
	rcv = conn(&r.d[1], "rcv", pg);
	join_wait(rcv, "flood");
	child = fork();
	T_ASSERT(child >= 0);
	if (child == 0) {
		mailbox snd;

		if (SP_connect(r.d[0].tcp_addr, "snd", 0, 0, &snd, pg) != ACCEPT_SESSION)
			_exit(3);
		for (int i = 0; i < FLOOD_N; i++) {
			fill(buf, FLOOD_LEN, 0, i);
			if (SP_multicast(snd, AGREED_MESS, "flood", 0, FLOOD_LEN, buf) !=
			    FLOOD_LEN)
				_exit(4);
		}
		SP_disconnect(snd);
		_exit(0);
	}
	for (int i = 0; i < FLOOD_N; i++) {
		struct got *g = recv_data(rcv);
		int s, k;

		T_ASSERT(sscanf(g->data, "%d:%d:", &s, &k) == 2);
		T_EQ(k, i);
		T_EQ(g->len, FLOOD_LEN);
		fill(buf, FLOOD_LEN, 0, i);
		T_MEMEQ(g->data, buf, FLOOD_LEN);
	}
	T_EQ(waitpid(child, &status, 0), child);
	T_ASSERTF(WIFEXITED(status) && WEXITSTATUS(status) == 0, "sender: %d", status);
	T_ASSERT(hd_status(&r.d[0], &si, 1000));
	fprintf(stderr, "# back-pressure: %llu input pauses at the sender's daemon\n",
		(unsigned long long)si.c[ST_PAUSES]);
	T_ASSERT(si.c[ST_PAUSES] > 0);
	T_ASSERT(!hd_log_has(&r.d[0], "ordering service full"));
	SP_disconnect(rcv);
	hd_ring_stop(&r);
}

/* "#b#d2" is the private group of b at d2; a b at d3 ("#b#d3") must not
 * get what is sent to the first. */
static void private_message_only_at_destination(void)
{
	struct hd_ring r;
	mailbox a, b2, b3;
	char pg[MAX_GROUP_NAME], pg_b2[MAX_GROUP_NAME], pg_b3[MAX_GROUP_NAME];
	struct got *g;
	struct pollfd p;

	hd_ring_start(&r, 3, NULL);
	T_ASSERT(wait_conf(&r, all3, 3, 15000, NULL) >= 0);
	a = conn(&r.d[0], "a", pg);
	b2 = conn(&r.d[1], "b", pg_b2);
	b3 = conn(&r.d[2], "b", pg_b3);
	T_STREQ(pg_b2, "#b#d2");
	T_STREQ(pg_b3, "#b#d3");
	T_EQ(SP_multicast(a, AGREED_MESS, pg_b2, 5, 6, "hello"), 6);
	T_EQ(SP_multicast(a, AGREED_MESS, pg_b3, 6, 7, "hello3"), 7);
	g = recv_data(b2);
	T_STREQ(g->data, "hello");
	T_STREQ(g->sender, pg);
	T_EQ(g->mt, 5);
	g = recv_data(b3);
	T_STREQ(g->data, "hello3");
	/* Nothing more at either. */
	p.fd = b2;
	p.events = POLLIN;
	T_EQ(poll(&p, 1, 300), 0);
	p.fd = b3;
	T_EQ(poll(&p, 1, 0), 0);
	SP_disconnect(a);
	SP_disconnect(b2);
	SP_disconnect(b3);
	hd_ring_stop(&r);
}

static void sigkill_failover_then_merge(void)
{
	static const int two[] = { 0, 1, -1 };
	struct hd_ring r;
	uint32_t id3[2], id2[2], idm[2];
	int64_t t_fail_ms, t_merge_ms;

	hd_ring_start(&r, 3, NULL);
	T_ASSERT(wait_conf(&r, all3, 3, 15000, id3) >= 0);
	hd_kill(&r.d[2], SIGKILL);
	t_fail_ms = wait_conf(&r, two, 2, 10000, id2);
	T_ASSERTF(t_fail_ms >= 0, "no configuration of two after SIGKILL");
	fprintf(stderr, "# failover: %lld ms from SIGKILL to the configuration of two\n",
	       (long long)t_fail_ms);
	T_ASSERTF(t_fail_ms <= TOKEN_TIMEOUT_MS + 1000,
		  "failover took %lld ms", (long long)t_fail_ms);
	T_ASSERT(id2[1] > id3[1]);
	hd_respawn(&r.d[2]);
	t_merge_ms = wait_conf(&r, all3, 3, 15000, idm);
	T_ASSERTF(t_merge_ms >= 0, "no merge after the restart");
	fprintf(stderr, "# merge: %lld ms from the restart's listening to the configuration of three\n",
	       (long long)t_merge_ms);
	T_ASSERT(idm[1] > id2[1]);
	hd_ring_stop(&r);
}

static void different_configuration_stays_out(void)
{
	static const int two[] = { 0, 1, -1 };
	struct hd_ring r;
	struct status_info si;
	FILE *fp;

	hd_ring_start(&r, 3, NULL);
	T_ASSERT(wait_conf(&r, all3, 3, 15000, NULL) >= 0);
	hd_kill(&r.d[2], SIGKILL);
	fp = fopen(r.d[2].conf, "a");
	T_ASSERT(fp);
	fputs("Window = 100\n", fp);
	fclose(fp);
	hd_respawn(&r.d[2]);
	T_ASSERT(wait_conf(&r, two, 2, 10000, NULL) >= 0);
	T_ASSERT(hd_wait_log(&r.d[0], "has a different configuration", 5000) ||
		 hd_wait_log(&r.d[1], "has a different configuration", 1000));
	T_ASSERT(hd_wait_log(&r.d[2], "has a different configuration", 5000));
	/* d3 forms a ring of its own and stays there. */
	usleep(500000);
	T_ASSERT(hd_status(&r.d[2], &si, 1000));
	T_EQ(si.n_members, 1);
	T_ASSERT(si.c[ST_DROPS_CONF_HASH] > 0);
	T_ASSERT(wait_conf(&r, two, 2, 1000, NULL) >= 0);
	hd_ring_stop(&r);
}

/* Runs chorus-monitor with args; returns its output (static) and exit
 * status in *rc. */
static const char *monitor(const char *args, int *rc)
{
	return run_prog("chorus-monitor", args, rc);
}

static int count_of(const char *hay, const char *needle)
{
	int n = 0;

	for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

static void monitor_table_and_json(void)
{
	struct hd_ring r;
	char args[512];
	const char *out;
	int rc;

	hd_ring_start(&r, 3, NULL);
	T_ASSERT(wait_conf(&r, all3, 3, 15000, NULL) >= 0);
	snprintf(args, sizeof(args), "-c %s -w 300", r.d[0].conf);
	out = monitor(args, &rc);
	T_EQ(rc, 0);
	T_ASSERTF(count_of(out, "operational") == 3, "%s", out);
	T_ASSERTF(strstr(out, "(unicast): 127.0.0.1 127.0.0.2 127.0.0.3\n"), "%s", out);
	snprintf(args, sizeof(args), "-j -c %s -w 300", r.d[1].conf);
	out = monitor(args, &rc);
	T_EQ(rc, 0);
	T_EQ(count_of(out, "\"answered\":true"), 3);
	T_EQ(count_of(out, "\"members\":[\"127.0.0.1\",\"127.0.0.2\",\"127.0.0.3\"]"), 3);
	T_EQ(count_of(out, "\"is_representative\":true"), 1);
	/* Two samples: every rate is known. */
	T_EQ(count_of(out, "_per_s\":null"), 0);
	/* -W: waits until the daemons agree on a configuration of 3. */
	snprintf(args, sizeof(args), "-W 3 -s 127.0.0.1:%u -s 127.0.0.3:%u",
		 r.port, r.port);
	out = monitor(args, &rc);
	T_EQ(rc, 0);
	T_ASSERTF(strncmp(out, "together after ", 15) == 0, "%s", out);
	/* One daemon gone: it is reported, and the status says so. */
	hd_kill(&r.d[2], SIGKILL);
	snprintf(args, sizeof(args), "-j -c %s -w 0 -t 300", r.d[0].conf);
	out = monitor(args, &rc);
	T_EQ(rc, 1);
	T_EQ(count_of(out, "\"answered\":false"), 1);
	/* Repeated reports: -i 1 -n 2 gives two JSON lines. */
	snprintf(args, sizeof(args), "-j -s 127.0.0.1:%u -i 1 -n 2", r.port);
	out = monitor(args, &rc);
	T_EQ(rc, 0);
	T_EQ(count_of(out, "\n"), 2);
	out = monitor("-x", &rc);
	T_EQ(rc, 2);
	hd_ring_stop(&r);
}

int main(int argc, char **argv)
{
	static const struct t_case cases[] = {
		T_CASE_TIMEOUT(three_form_a_ring, 60),
		T_CASE_TIMEOUT(agreed_order_across_daemons, 120),
		T_CASE_TIMEOUT(private_message_only_at_destination, 60),
		T_CASE_TIMEOUT(back_pressure_pauses_not_drops, 120),
		T_CASE_TIMEOUT(sigkill_failover_then_merge, 90),
		T_CASE_TIMEOUT(different_configuration_stays_out, 90),
		T_CASE_TIMEOUT(monitor_table_and_json, 60),
		T_CASE_TIMEOUT(sealed_agreed_order, 120),
		T_CASE_TIMEOUT(sealed_wrong_key_stays_out, 60),
		T_CASE_TIMEOUT(sealed_key_file_checked, 60),
		T_CASE_TIMEOUT(sealed_needs_state_file, 60),
	};

	return t_main(argc, argv, cases, T_COUNT(cases));
}
