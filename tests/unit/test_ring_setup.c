/*
 * test_ring_setup.c - from spread.conf to the ring (src/daemon/
 * ring_setup.c) and the status query's codec (src/daemon/status.c): the
 * configuration hash ignores what daemons need not share (comments,
 * blank space, host and interface order, local settings) and changes
 * with what they must (a table of cases); the ring's members and
 * timeouts; the state file; status request and reply round trips and
 * refusals.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/ring_sec.h"
#include "daemon/ring_setup.h"
#include "daemon/status.h"
#include "t.h"

static const char base[] =
	"Spread_Segment 10.0.0.255:4803 {\n"
	"\ta 10.0.0.1\n\tb 10.0.0.2\n\tc 10.0.0.3 { D 10.0.0.3 C 192.168.1.3 }\n"
	"}\n";

static uint32_t hash_of(const char *text)
{
	struct conf c;
	char err[256];

	T_ASSERTF(conf_parse(text, strlen(text), &c, err, sizeof(err)) == 0,
		  "%s", err);
	return rset_conf_hash(&c, 0);
}

static void hash_ignores_form(void)
{
	static const char *const same[] = {
		"# a comment\n\n"
		"Spread_Segment   10.0.0.255:4803{\n"
		"  c 10.0.0.3 { C 192.168.1.3 D 10.0.0.3 }   # reordered\n"
		"  b 10.0.0.2\n  a 10.0.0.1\n}\n",
		"Spread_Segment 10.0.0.255:4803 {\n"
		"\ta 10.0.0.1\n\tb 10.0.0.2\n\tc 10.0.0.3 { D 10.0.0.3 C 192.168.1.3 }\n"
		"}\nUnixSocketDir = \"/run/x\"\nRuntimeDir = \"/var/lib/y\"\n"
		"EventPriority = WARNING\nMaxSessions = 10\n",
		"Spread_Segment 10.0.0.255:4803 {\n"
		"\ta 10.0.0.1\n\tb 10.0.0.2\n\tc 10.0.0.3 { D 10.0.0.3 C 192.168.1.3 }\n"
		"}\nWindow = 160\nRingTransport = auto\n",
	};
	uint32_t h = hash_of(base);

	for (size_t i = 0; i < T_COUNT(same); i++)
		T_ASSERTF(hash_of(same[i]) == h, "variant %zu", i);
}

static void hash_sees_what_matters(void)
{
	static const char *const differ[] = {
		/* another port */
		"Spread_Segment 10.0.0.255:4804 {\n\ta 10.0.0.1\n\tb 10.0.0.2\n"
		"\tc 10.0.0.3 { D 10.0.0.3 C 192.168.1.3 }\n}\n",
		/* a host fewer */
		"Spread_Segment 10.0.0.255:4803 {\n\ta 10.0.0.1\n"
		"\tc 10.0.0.3 { D 10.0.0.3 C 192.168.1.3 }\n}\n",
		/* a host renamed */
		"Spread_Segment 10.0.0.255:4803 {\n\ta 10.0.0.1\n\tbb 10.0.0.2\n"
		"\tc 10.0.0.3 { D 10.0.0.3 C 192.168.1.3 }\n}\n",
		/* an interface's role */
		"Spread_Segment 10.0.0.255:4803 {\n\ta 10.0.0.1\n\tb 10.0.0.2\n"
		"\tc 10.0.0.3 { D 10.0.0.3 M 192.168.1.3 }\n}\n",
	};
	static const char *const extra[] = {
		"Window = 100\n", "PersonalWindow = 18\n", "AcceleratedRing = yes\n",
		"AcceleratedWindow = 5\n", "RingTransport = unicast\n",
		"TokenTimeout = 1250\nHurryTimeout = 500\nAliveTimeout = 250\n"
		"JoinTimeout = 50\nRepTimeout = 625\nSegTimeout = 500\n"
		"GatherTimeout = 1500\nFormTimeout = 2500\nLookupTimeout = 500\n",
	};
	uint32_t h = hash_of(base);
	char buf[2048];

	for (size_t i = 0; i < T_COUNT(differ); i++)
		T_ASSERTF(hash_of(differ[i]) != h, "variant %zu", i);
	for (size_t i = 0; i < T_COUNT(extra); i++) {
		snprintf(buf, sizeof(buf), "%s%s", base, extra[i]);
		T_ASSERTF(hash_of(buf) != h, "extra %zu", i);
	}
}

static void ring_config_from_conf(void)
{
	static const char text[] =
		"Spread_Segment 10.0.0.255:4803 {\n\tb 10.0.0.2\n\ta 10.0.0.1\n}\n"
		"Spread_Segment 10.0.1.255:4803 {\n\tz 10.0.1.9\n}\n"
		"TokenTimeout = 2000\nHurryTimeout = 400\nAliveTimeout = 250\n"
		"JoinTimeout = 60\nRepTimeout = 625\nSegTimeout = 500\n"
		"GatherTimeout = 2500\nFormTimeout = 2500\nLookupTimeout = 700\n"
		"Window = 100\nPersonalWindow = 10\nAcceleratedWindow = 5\n"
		"AcceleratedRing = yes\n";
	struct ring_config rc;
	struct conf c;
	char err[256];

	T_ASSERTF(conf_parse(text, sizeof(text) - 1, &c, err, sizeof(err)) == 0,
		  "%s", err);
	T_ASSERTF(rset_ring_config(&c, 0, &rc, err, sizeof(err)) == 0, "%s", err);
	T_EQ(rc.my_id, 0x0a000002);
	T_EQ(rc.n_members, 2); /* its own segment only */
	T_EQ(rc.token_timeout_ms, 2000);
	T_EQ(rc.hurry_ms, 400);
	T_EQ(rc.join_ms, 60);
	T_EQ(rc.consensus_ms, 2500);
	T_EQ(rc.merge_ms, 700);
	T_EQ(rc.window, 100);
	T_EQ(rc.personal_window, 10);
	T_EQ(rc.accelerated, 1);
	T_EQ(rc.conf_hash, rset_conf_hash(&c, 0));
	T_ASSERT(rc.conf_hash != rset_conf_hash(&c, 1));
	c.ring_transport = CONF_TRANSPORT_MULTICAST;
	T_EQ(rset_transport(&c, 0), NET_MULTICAST);
	c.ring_transport = CONF_TRANSPORT_UNICAST;
	T_EQ(rset_transport(&c, 0), NET_UNICAST);
	T_EQ(net_udp_auto_mode(0xe0000101), NET_MULTICAST);
	T_EQ(net_udp_auto_mode(0x7f0000ff), NET_UNICAST); /* loopback */
	/* A hurry timeout not below the token timeout is refused, with why. */
	c.hurry_timeout_ms = 3000;
	T_EQ(rset_ring_config(&c, 0, &rc, err, sizeof(err)), -1);
	T_ASSERTF(strstr(err, "hurry") != NULL, "%s", err);
}

/* Without RingKeyFile the canonical text, hence the hash in every ring
 * packet's header, is what it always was (golden); with it, the payload
 * shrinks by the sealing overhead and the suite is part of the text, so
 * daemons that seal differently never share a ring. */
static void sealing_in_canonical(void)
{
	static const char golden[] =
		"segment 10.0.0.255:4803 transport auto\n"
		"host 10.0.0.1 a\n"
		"host 10.0.0.2 b\n"
		"host 10.0.0.3 c if 10.0.0.3/4 if 192.168.1.3/2\n"
		"token 1250 hurry 500 join 50 consensus 1500 merge 500 hold 10\n"
		"window 160 personal 20 accel_window 15 accelerated 0\n"
		"payload 1400 store 1024 send_queue 1024\n";
	static const char *const modes[] = {
		"RingKeyFile = /k\n",
		"RingKeyFile = /k\nRingEncryption = yes\n",
		"RingKeyFile = /k\nRingEncryption = chacha20-poly1305\n",
	};
	static const char *const names[] = {
		"sealed authenticated (AES-256-GMAC)\n",
		"sealed encrypted (AES-256-GCM)\n",
		"sealed encrypted (ChaCha20-Poly1305)\n",
	};
	struct ring_config rc;
	struct conf c;
	char err[256], buf[4096], text[1024];
	uint32_t h[4];

	T_ASSERT(conf_parse(base, strlen(base), &c, err, sizeof(err)) == 0);
	rset_canonical(&c, 0, buf, sizeof(buf));
	T_STREQ(buf, golden);
	T_EQ(rset_conf_hash(&c, 0), 0xffc73de0u);
	T_ASSERTF(rset_ring_config(&c, 0, &rc, err, sizeof(err)) == 0, "%s", err);
	T_EQ(rc.max_payload, 1400);
	h[0] = rset_conf_hash(&c, 0);
	for (int i = 0; i < 3; i++) {
		snprintf(text, sizeof(text), "%s%s", base, modes[i]);
		T_ASSERTF(conf_parse(text, strlen(text), &c, err, sizeof(err)) == 0,
			  "%s", err);
		rset_canonical(&c, 0, buf, sizeof(buf));
		T_ASSERTF(strstr(buf, "payload 1356 ") && strstr(buf, names[i]),
			  "%s", buf);
		T_ASSERTF(rset_ring_config(&c, 0, &rc, err, sizeof(err)) == 0,
			  "%s", err);
		T_EQ(rc.max_payload, 1400 - RSEC_OVERHEAD);
		h[i + 1] = rset_conf_hash(&c, 0);
		for (int k = 0; k <= i; k++)
			T_ASSERT(h[i + 1] != h[k]);
	}
}

static void state_file(void)
{
	char dir[] = "/tmp/chorus-state-XXXXXX", path[256];
	struct rset_state st = { 7, 1000 }, back;
	uint32_t inc, base_seq;
	FILE *fp;

	T_ASSERT(mkdtemp(dir));
	rset_state_path(dir, "d1", path, sizeof(path));
	T_EQ(rset_state_load(path, &back), 0); /* missing: zeros */
	T_EQ(back.incarnation, 0);
	T_EQ(rset_state_save(path, &st), 0);
	T_EQ(rset_state_load(path, &back), 0);
	T_EQ(back.incarnation, 7);
	T_EQ(back.high_ring_seq, 1000);
	/* Above both the saved numbers and the clock. */
	rset_state_next(&back, 5, &inc, &base_seq);
	T_EQ(inc, 8);
	T_EQ(base_seq, 1001);
	rset_state_next(&back, 5000, &inc, &base_seq);
	T_EQ(inc, 5000);
	T_EQ(base_seq, 5000);
	fp = fopen(path, "w");
	fputs("garbage\n", fp);
	fclose(fp);
	T_EQ(rset_state_load(path, &back), -1);
	T_EQ(back.high_ring_seq, 0);
	unlink(path);
	rmdir(dir);
}

static void status_roundtrip(void)
{
	struct status_info s, d;
	uint8_t buf[STATUS_REPLY_MAX], req[STATUS_REQ_LEN];
	uint32_t nonce;
	size_t len;

	memset(&s, 0, sizeof(s));
	snprintf(s.name, sizeof(s.name), "daemon-one");
	s.daemon_id = 0x7f000002;
	s.ring = 1;
	s.state = RING_RECOVERY;
	s.is_rep = 1;
	s.transport = 2;
	s.paused = 1;
	s.conf_rep = 0x7f000001;
	s.conf_seq = 123456;
	s.n_members = RING_MAX_MEMBERS;
	for (unsigned i = 0; i < RING_MAX_MEMBERS; i++)
		s.members[i] = 0x0a000000 + i;
	s.window = 160;
	s.personal_window = 20;
	s.accel_window = 15;
	s.max_payload = 1400;
	s.send_queue = 5;
	s.outq = 6;
	s.unpushed = 7;
	s.sessions = 8;
	s.handshaking = 9;
	s.groups = 10;
	s.session_queued_msgs = 11;
	s.session_queued_bytes = 1ull << 40;
	s.my_aru = 12;
	s.high_seq = 13;
	s.stable = 14;
	s.uptime_ms = 15;
	s.ring_suite = RSEC_SUITE_AES_GCM;
	s.ring_key_id = 200;
	for (int i = 0; i < ST__COUNT; i++)
		s.c[i] = 1000 + (uint64_t)i;
	len = status_reply_encode(buf, 99, &s);
	T_ASSERT(len <= STATUS_REPLY_MAX);
	T_EQ(status_reply_decode(buf, len, &nonce, &d), 0);
	T_EQ(nonce, 99);
	T_MEMEQ(&d, &s, sizeof(s));
	T_EQ(status_reply_decode(buf, len - 1, &nonce, &d), -1);
	buf[len - 8 * ST__COUNT - 40 - 1] = 1; /* the zero bytes after the key id */
	T_EQ(status_reply_decode(buf, len, &nonce, &d), -1);
	buf[len - 8 * ST__COUNT - 40 - 1] = 0;
	buf[8 + STATUS_NAME_LEN + 4 + 1] = RING_STATE_N; /* state */
	T_EQ(status_reply_decode(buf, len, &nonce, &d), -1);
	T_EQ(status_req_encode(req, 42), STATUS_REQ_LEN);
	T_ASSERT(status_is_status(req, sizeof(req)));
	T_EQ(status_req_decode(req, sizeof(req), &nonce), 0);
	T_EQ(nonce, 42);
	T_EQ(status_req_decode(req, sizeof(req) - 1, &nonce), -1);
	req[3] = 2;
	T_EQ(status_req_decode(req, sizeof(req), &nonce), -1);
	T_EQ(status_is_status((const uint8_t *)"RG", 2), 0);
}

int main(int argc, char **argv)
{
	static const struct t_case cases[] = {
		T_CASE(hash_ignores_form),
		T_CASE(hash_sees_what_matters),
		T_CASE(ring_config_from_conf),
		T_CASE(sealing_in_canonical),
		T_CASE(state_file),
		T_CASE(status_roundtrip),
	};

	return t_main(argc, argv, cases, T_COUNT(cases));
}
