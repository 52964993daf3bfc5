/*
 * test_conf.c - unit tests of the spread.conf parser and printer
 * (src/daemon/conf.c) and of the access_ip list (src/daemon/acl_ip.c).
 *
 * Tables of good configurations (each with a check of the parsed struct),
 * of bad ones (each with the expected line and a piece of the message),
 * and of access lists with probe addresses. Every good configuration also
 * goes through the print round trip; the default one is compared with a
 * golden printout.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/conf.h"
#include "t.h"

#define IP4(a, b, c, d) \
	(((uint32_t)(a) << 24) | ((uint32_t)(b) << 16) | ((uint32_t)(c) << 8) | (uint32_t)(d))

/* The structs are large; tests keep them out of the stack. */
static struct conf cf, cf2;

/* Parses text (len 0: strlen) and fails the test on error. */
static const struct conf *parse_ok(const char *text, size_t len)
{
	char err[256];

	if (conf_parse(text, len ? len : strlen(text), &cf, err, sizeof(err)) != 0)
		t_fail(__FILE__, __LINE__, "parse failed: %s", err);
	return &cf;
}

/* Prints c, parses the printout and checks that the struct comes back
 * identical apart from the hash. */
static void check_round_trip(const struct conf *c)
{
	static struct conf a;
	char err[256], *out = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&out, &len);

	T_ASSERT(fp != NULL);
	conf_print(c, fp);
	fclose(fp);
	a = *c;
	/* The printout goes to stderr, since the failure line must stay short. */
	if (conf_parse(out, len, &cf2, err, sizeof(err)) != 0) {
		fprintf(stderr, "--- printout:\n%s", out);
		t_fail(__FILE__, __LINE__, "printout does not parse: %s", err);
	}
	a.hash = cf2.hash = 0;
	if (memcmp(&a, &cf2, sizeof(a)) != 0) {
		fprintf(stderr, "--- printout:\n%s", out);
		t_fail(__FILE__, __LINE__, "round trip changed the struct");
	}
	free(out);
}

/* ---- Good configurations ------------------------------------------------ */

static void chk_default(const struct conf *c)
{
	T_EQ(c->n_segments, 1);
	T_EQ(c->segments[0].addr, IP4(127, 0, 0, 255));
	T_EQ(c->segments[0].port, 4803);
	T_EQ(c->segments[0].first_host, 0);
	T_EQ(c->segments[0].n_hosts, 1);
	T_EQ(c->n_hosts, 1);
	T_STREQ(c->hosts[0].name, "localhost");
	T_EQ(c->hosts[0].addr, IP4(127, 0, 0, 1));
	T_EQ(c->hosts[0].dns, 0);
	T_EQ(c->hosts[0].n_ifaces, 0);
	T_EQ(c->hosts[0].segment, 0);
	/* Every parameter at its default. */
	T_EQ(c->debug_flags, 0x6);
	T_EQ(c->event_priority, 2);
	T_STREQ(c->event_log_file, "");
	T_EQ(c->event_timestamp, 0);
	T_STREQ(c->event_timestamp_fmt, "[%a %d %b %Y %H:%M:%S]");
	T_EQ(c->event_precise_timestamp, 0);
	T_EQ(c->dangerous_monitor, 0);
	T_EQ(c->socket_port_reuse, CONF_AUTO);
	T_EQ(c->debug_initial_sequence, 0);
	T_STREQ(c->runtime_dir, "/var/run/spread");
	T_STREQ(c->daemon_user, "");
	T_STREQ(c->daemon_group, "");
	T_EQ(c->allowed_auth, CONF_AUTH_NULL);
	T_EQ(c->required_auth, 0);
	T_STREQ(c->access_control_policy, "PERMIT");
	T_EQ(c->max_session_messages, 1000);
	T_EQ(c->window, 160);
	T_EQ(c->personal_window, 20);
	T_EQ(c->accelerated_window, 15);
	T_EQ(c->accelerated_ring, -1);
	T_EQ(c->timeouts_set, 0);
	T_EQ(c->token_timeout_ms, 0);
	T_EQ(c->max_sessions, 16384);
	T_EQ(c->max_session_bytes, 64L * 1024 * 1024);
	T_STREQ(c->unix_socket_dir, "/tmp");
	T_EQ(c->n_notes, 0);
	T_EQ(conf_find_host(c, "localhost"), 0);
	T_EQ(conf_find_host(c, "other"), -1);
	T_EQ(conf_host_port(c, 0), 4803);
	T_EQ(conf_host_port(c, 1), 0);
	T_EQ(conf_host_port(c, -1), 0);
}

static void chk_multi(const struct conf *c)
{
	T_EQ(c->n_segments, 4);
	T_EQ(c->n_hosts, 5);
	T_EQ(c->segments[3].first_host, 5);
	T_EQ(c->segments[3].n_hosts, 0);
	T_EQ(c->segments[0].port, 4803);
	T_EQ(c->segments[1].addr, IP4(10, 0, 2, 255));
	T_EQ(c->segments[1].port, 5000);
	T_EQ(c->segments[1].first_host, 2);
	T_EQ(c->segments[1].n_hosts, 2);
	T_EQ(c->segments[2].addr, IP4(225, 0, 1, 1));
	T_EQ(c->segments[2].first_host, 4);
	T_EQ(c->segments[2].n_hosts, 1);
	T_EQ(conf_find_host(c, "b2"), 3);
	T_EQ(c->hosts[3].segment, 1);
	/* A port on a host entry is ignored: the segment's port rules. */
	T_EQ(c->hosts[3].addr, IP4(10, 0, 2, 2));
	T_EQ(conf_host_port(c, 3), 5000);
	T_EQ(conf_host_port(c, 0), 4803);
	T_EQ(conf_host_port(c, 4), 4803);
}

static void chk_ifaces(const struct conf *c)
{
	const struct conf_host *h = &c->hosts[0];

	T_EQ(c->n_hosts, 2);
	T_EQ(h->addr, IP4(192, 168, 1, 1));
	T_EQ(h->n_ifaces, 4);
	T_EQ(h->ifaces[0].addr, IP4(192, 168, 1, 1));
	T_EQ(h->ifaces[0].roles, CONF_ROLE_DAEMON);
	T_EQ(h->ifaces[1].addr, IP4(10, 0, 0, 1));
	T_EQ(h->ifaces[1].roles, CONF_ROLE_CLIENT | CONF_ROLE_MONITOR);
	T_EQ(h->ifaces[2].roles, CONF_ROLE_ALL);
	T_EQ(h->ifaces[3].roles, CONF_ROLE_ALL);
	/* Without an address the host's name is resolved later. */
	T_EQ(c->hosts[1].dns, 1);
	T_EQ(c->hosts[1].addr, 0);
	T_EQ(c->hosts[1].n_ifaces, 1);
	T_EQ(c->hosts[1].ifaces[0].roles, CONF_ROLE_DAEMON | CONF_ROLE_CLIENT);
}

static void chk_every_param(const struct conf *c)
{
	T_EQ(c->debug_flags, 0xffffffffu & ~0x1u & ~0x10000u);
	T_EQ(c->event_priority, 3);
	T_STREQ(c->event_log_file, "/var/log/spread-%h.log");
	T_EQ(c->event_timestamp, 1);
	T_STREQ(c->event_timestamp_fmt, "%H:%M:%S it's");
	T_EQ(c->event_precise_timestamp, 1);
	T_EQ(c->dangerous_monitor, 1);
	T_EQ(c->socket_port_reuse, CONF_ON);
	T_EQ(c->debug_initial_sequence, 1);
	T_STREQ(c->runtime_dir, "/var/lib/chorus");
	T_STREQ(c->daemon_user, "1000");
	T_STREQ(c->daemon_group, "a\"b");
	T_EQ(c->allowed_auth, CONF_AUTH_IP);
	T_EQ(c->required_auth, CONF_AUTH_IP | CONF_AUTH_NULL);
	T_STREQ(c->access_control_policy, "PERMIT");
	T_EQ(c->max_session_messages, 5000);
	T_EQ(c->window, 300);
	T_EQ(c->personal_window, 30);
	T_EQ(c->accelerated_window, 30);
	T_EQ(c->accelerated_ring, 0);
	T_EQ(c->timeouts_set, 1);
	T_EQ(c->token_timeout_ms, 1250);
	T_EQ(c->hurry_timeout_ms, 500);
	T_EQ(c->alive_timeout_ms, 250);
	T_EQ(c->join_timeout_ms, 251);
	T_EQ(c->rep_timeout_ms, 1252);
	T_EQ(c->seg_timeout_ms, 501);
	T_EQ(c->gather_timeout_ms, 1253);
	T_EQ(c->form_timeout_ms, 2500);
	T_EQ(c->lookup_timeout_ms, 60000);
	T_EQ(c->max_sessions, 1000000);
	T_EQ(c->max_session_bytes, 1L << 30);
	T_STREQ(c->unix_socket_dir, "");
	/* One note per unimplemented keyword, in a fixed order. */
	T_EQ(c->n_notes, 10);
	T_ASSERT(strncmp(c->notes[0], "DangerousMonitor", 16) == 0);
	T_ASSERT(strstr(c->notes[3], "TcpHop") != NULL);
	T_ASSERT(strstr(c->notes[4], "RouteMatrix") != NULL);
	T_ASSERT(strstr(c->notes[9], "timeouts") != NULL);
}

static void chk_quoted_names(const struct conf *c)
{
	T_EQ(c->n_hosts, 6);
	T_STREQ(c->hosts[0].name, "C");
	T_STREQ(c->hosts[1].name, "INFO");
	T_STREQ(c->hosts[2].name, "yes");
	T_STREQ(c->hosts[3].name, "Window");
	T_STREQ(c->hosts[4].name, "123");
	T_STREQ(c->hosts[5].name, "1.2.3.4");
	T_EQ(c->hosts[5].dns, 1);
}

static void chk_lexical(const struct conf *c)
{
	T_EQ(c->n_hosts, 2);
	T_STREQ(c->hosts[1].name, "n2");
	T_EQ(c->max_session_messages, 77);
	T_EQ(c->window, 100);
	T_STREQ(c->event_log_file, "/tmp/a#b c");
	T_STREQ(c->daemon_user, "o'neil");
	T_EQ(c->n_notes, 1); /* Window (DaemonUser is no note) */
}

static void chk_flags(const struct conf *c)
{
	/* The last DebugFlags wins; '!' may touch its flag. */
	T_EQ(c->debug_flags, 0x4u | 0x100u);
}

static void chk_flags_empty(const struct conf *c)
{
	T_EQ(c->debug_flags, 0);
}

static void chk_flags_none(const struct conf *c)
{
	T_EQ(c->debug_flags, 0x2u);
}

static void chk_timestamp_bare(const struct conf *c)
{
	T_EQ(c->event_timestamp, 1);
	T_STREQ(c->event_timestamp_fmt, "[%a %d %b %Y %H:%M:%S]");
	T_EQ(c->event_precise_timestamp, 0);
}

static void chk_precise_alone(const struct conf *c)
{
	T_EQ(c->event_timestamp, 1);
	T_EQ(c->event_precise_timestamp, 1);
}

static void chk_auth_both(const struct conf *c)
{
	T_EQ(c->allowed_auth, CONF_AUTH_NULL | CONF_AUTH_IP);
	T_EQ(c->required_auth, 0);
}

static void chk_auth_ip_only(const struct conf *c)
{
	T_EQ(c->allowed_auth, CONF_AUTH_IP);
	T_EQ(c->required_auth, CONF_AUTH_IP);
}

static void chk_auth_accumulates(const struct conf *c)
{
	/* An empty list after the first still leaves NULL off; later lists
	 * add to what earlier ones allowed. */
	T_EQ(c->allowed_auth, CONF_AUTH_IP | CONF_AUTH_NULL);
}

static void chk_bools(const struct conf *c)
{
	T_EQ(c->dangerous_monitor, 0);
	T_EQ(c->socket_port_reuse, CONF_OFF);
	T_EQ(c->accelerated_ring, 1);
}

static void chk_sizes_min(const struct conf *c)
{
	T_EQ(c->max_session_bytes, 262144);
	T_EQ(c->max_sessions, 1);
}

static void chk_sizes_k(const struct conf *c)
{
	T_EQ(c->max_session_bytes, 300L * 1024);
	T_EQ(c->max_sessions, 123456);
}

static void chk_sizes_m(const struct conf *c)
{
	T_EQ(c->max_session_bytes, 3L * 1024 * 1024);
}

static void chk_sizes_raw(const struct conf *c)
{
	T_EQ(c->max_session_bytes, 12345678L);
	T_EQ(c->max_sessions, 1000000);
}

static void chk_security(const struct conf *c)
{
	const struct authz_rule *r = c->access_rules.r;
	char text[AUTHZ_FORMAT_MAX];

	T_EQ(c->allowed_auth, CONF_AUTH_NULL | CONF_AUTH_HMAC);
	T_STREQ(c->hmac_secrets_file, "/k");
	T_EQ(c->max_sessions_per_ip, 7);
	T_EQ(c->max_authenticating, 9);
	T_EQ(c->handshake_timeout_ms, 2500);
	T_EQ(c->access_rules.n, 3);
	T_EQ(r[0].allow, 1);
	T_EQ(r[0].actions, AUTHZ_SEND);
	T_EQ(r[0].who, AUTHZ_PRINCIPAL);
	T_STREQ(r[0].principal, "mirror-*");
	T_EQ(r[1].allow, 0);
	T_EQ(r[1].actions, AUTHZ_JOIN | AUTHZ_SEND);
	T_EQ(r[2].net, 0xc0a80000u);
	T_EQ(r[2].mask, 0xffff0000u);
	authz_rule_format(&r[2], text);
	T_STREQ(text, "allow join \"*\" ip 192.168.0.0/16");
}

static void chk_socket_dir(const struct conf *c)
{
	T_STREQ(c->unix_socket_dir, "/run/chorus");
}

static void chk_tls(const struct conf *c)
{
	T_EQ(c->tls_port, 4804);
	T_STREQ(c->tls_cert_file, "/etc/chorus/server.pem");
	T_STREQ(c->tls_key_file, "/etc/chorus/server.key");
	T_STREQ(c->tls_client_ca_file, "/etc/chorus/clients-ca.pem");
	T_EQ(c->tls_client_verify, CONF_TLS_VERIFY_REQUIRED);
}

static void chk_tls_optional(const struct conf *c)
{
	T_EQ(c->tls_port, 4804);
	T_STREQ(c->tls_client_ca_file, "");
	T_EQ(c->tls_client_verify, CONF_TLS_VERIFY_NONE);
}

static void chk_windows_equal(const struct conf *c)
{
	T_EQ(c->window, 20);
	T_EQ(c->personal_window, 20);
	T_EQ(c->accelerated_window, 0);
	T_EQ(c->n_notes, 3);
}

static void chk_last_wins(const struct conf *c)
{
	T_STREQ(c->event_log_file, "b");
	T_EQ(c->event_priority, 6);
	T_EQ(c->max_session_messages, 2);
	T_EQ(c->n_notes, 1);
	T_ASSERT(strstr(c->notes[0], "= Hop") != NULL);
}

static void chk_tight(const struct conf *c)
{
	T_EQ(c->n_hosts, 2);
	T_EQ(c->hosts[0].n_ifaces, 1);
	T_EQ(c->hosts[1].addr, IP4(127, 0, 0, 2));
}

static void chk_route(const struct conf *c)
{
	T_EQ(c->n_notes, 1);
	T_ASSERT(strstr(c->notes[0], "RouteMatrix") != NULL);
}

static void chk_transport(const struct conf *c)
{
	T_EQ(c->ring_transport, CONF_TRANSPORT_MULTICAST);
}

static void chk_transport_auto(const struct conf *c)
{
	T_EQ(c->ring_transport, CONF_TRANSPORT_AUTO);
}

static void chk_ring_key(const struct conf *c)
{
	T_STREQ(c->ring_key_file, "/etc/chorus/%h.keys");
	T_EQ(c->ring_encryption, CONF_RING_ENC_CHACHA);
}

static void chk_ring_key_yes(const struct conf *c)
{
	T_STREQ(c->ring_key_file, "/k");
	T_EQ(c->ring_encryption, CONF_RING_ENC_AES_GCM);
}

static void chk_ring_key_auth(const struct conf *c)
{
	T_STREQ(c->ring_key_file, "/k");
	T_EQ(c->ring_encryption, CONF_RING_ENC_NONE);
}

static void chk_any(const struct conf *c)
{
	T_ASSERT(c->n_hosts > 0);
}

#define SEG_LOCAL "Spread_Segment 127.0.0.255:4803 {\n\tlocalhost 127.0.0.1\n}\n"

static const char rich_conf[] =
	"# A configuration with every keyword.\n"
	"Spread_Segment 192.168.1.255:4900 {\n"
	"\talpha 192.168.1.1\n"
	"\t\"C\" 192.168.1.2 {\n"
	"\t\tD 192.168.1.2\n"
	"\t\tC M 10.0.0.2\n"
	"\t\t10.0.1.2\n"
	"\t}\n"
	"\tgamma\n"
	"\tdelta { D 192.168.1.4 }\n"
	"}\n"
	"Spread_Segment 225.1.2.3 { epsilon 10.9.9.9 }\n"
	"DebugFlags = { ALL !DEBUG !MEMORY }\n"
	"EventPriority = WARNING\n"
	"EventLogFile = /var/log/spread-%h.log\n"
	"EventTimeStamp = \"%H:%M:%S it's\"\n"
	"EventPreciseTimeStamp\n"
	"DangerousMonitor = YES\n"
	"SocketPortReuse = On\n"
	"DebugInitialSequence\n"
	"RuntimeDir = /var/lib/chorus\n"
	"DaemonUser = 1000\n"
	"DaemonGroup = 'a\"b'\n"
	"AllowedAuthMethods = \"IP\"\n"
	"RequiredAuthMethods = \"IP NULL\"\n"
	"AccessControlPolicy = PERMIT\n"
	"MaxSessionMessages = 5000\n"
	"LinkProtocol = TcpHop\n"
	"RouteMatrix {\n  0 1\n  1 0\n}\n"
	"Window = 300\n"
	"PersonalWindow = 30\n"
	"AcceleratedWindow = 30\n"
	"AcceleratedRing = no\n"
	"TokenTimeout = 1250\n"
	"HurryTimeout = 500\n"
	"AliveTimeout = 250\n"
	"JoinTimeout = 251\n"
	"RepTimeout = 1252\n"
	"SegTimeout = 501\n"
	"GatherTimeout = 1253\n"
	"FormTimeout = 2500\n"
	"LookupTimeout = 60000\n"
	"MaxSessions = 1000000\n"
	"MaxSessionBytes = 1G\n"
	"UnixSocketDir = \"\"\n"
	"RingKeyFile = \"/etc/chorus/ring keys\"\n"
	"RingEncryption = yes\n";

struct good_case {
	const char *name;
	const char *text;
	void (*check)(const struct conf *c);
};

static const struct good_case good_cases[] = {
	{ "default", "Spread_Segment 127.0.0.255:4803 { localhost 127.0.0.1 }",
	  chk_default },
	{ "default_multiline", SEG_LOCAL, chk_default },
	{ "default_no_port", "Spread_Segment 127.0.0.255 {\n localhost 127.0.0.1\n}",
	  chk_default },
	{ "multi_segment",
	  "Spread_Segment 10.0.1.255 {\n a1 10.0.1.1\n a2 10.0.1.2\n}\n"
	  "Spread_Segment 10.0.2.255:5000 {\n b1 10.0.2.1\n b2 10.0.2.2:7777\n}\n"
	  "Spread_Segment 225.0.1.1 {\n c1 10.0.3.1\n}\n"
	  "Spread_Segment 10.0.4.255 {\n}\n",
	  chk_multi },
	{ "interfaces",
	  "Spread_Segment 192.168.1.255 {\n"
	  "  h1 192.168.1.1 {\n    D 192.168.1.1\n    C M 10.0.0.1\n"
	  "    M C D 10.0.0.2\n    10.0.0.3:99\n  }\n"
	  "  h2 {\n D C 192.168.1.2\n  }\n}\n",
	  chk_ifaces },
	{ "every_parameter", rich_conf, chk_every_param },
	{ "quoted_reserved_names",
	  "Spread_Segment 10.1.1.255 {\n \"C\" 10.1.1.1\n 'INFO' 10.1.1.2\n"
	  " \"yes\" 10.1.1.3\n \"Window\" 10.1.1.4\n \"123\" 10.1.1.5\n"
	  " \"1.2.3.4\"\n}\n",
	  chk_quoted_names },
	{ "lexical_details",
	  "# comment line\r\n"
	  "Spread_Segment 127.0.0.255 { # comment after a brace\r\n"
	  "\tn1 127.0.0.1 n2 127.0.0.3   }\r\n"
	  "MaxSessionMessages = 77   \t# blanks after a number\n"
	  "\tWindow\t=\t100\n"
	  "EventLogFile = \"/tmp/a#b c\"\n"
	  "DaemonUser = \"o'neil\"", /* no final newline */
	  chk_lexical },
	{ "debug_flags_last_wins",
	  SEG_LOCAL "DebugFlags = { ALL }\n"
	  "DebugFlags = { PRINT EXIT !EXIT ! DEBUG CONFIGURATION !DEBUG }\n",
	  chk_flags },
	{ "debug_flags_empty", SEG_LOCAL "DebugFlags = { }\n", chk_flags_empty },
	{ "debug_flags_none", SEG_LOCAL "DebugFlags = {NONE EXIT}\n", chk_flags_none },
	{ "timestamp_bare", SEG_LOCAL "EventTimeStamp\n", chk_timestamp_bare },
	{ "timestamp_reset", SEG_LOCAL "EventTimeStamp = \"%T\"\nEventTimeStamp\n",
	  chk_timestamp_bare },
	{ "precise_alone", SEG_LOCAL "EventPreciseTimeStamp\n", chk_precise_alone },
	{ "auth_null_ip", SEG_LOCAL "AllowedAuthMethods = \"NULL IP\"\n", chk_auth_both },
	{ "auth_ip_only",
	  SEG_LOCAL "RequiredAuthMethods = \"IP\"\nAllowedAuthMethods = IP\n",
	  chk_auth_ip_only },
	{ "auth_accumulates",
	  SEG_LOCAL "AllowedAuthMethods = \"IP\"\nAllowedAuthMethods = \"\"\n"
	  "AllowedAuthMethods = \"  NULL\t\"\n",
	  chk_auth_accumulates },
	{ "bools_any_case",
	  SEG_LOCAL "DangerousMonitor = fAlSe\nSocketPortReuse = OFF\nAcceleratedRing = True\n",
	  chk_bools },
	{ "sizes_min", SEG_LOCAL "MaxSessionBytes = 256k\nMaxSessions = 1\n",
	  chk_sizes_min },
	{ "sizes_k", SEG_LOCAL "MaxSessionBytes = 300K\nMaxSessions = 123456\n",
	  chk_sizes_k },
	{ "sizes_m", SEG_LOCAL "MaxSessionBytes = 3m\n", chk_sizes_m },
	{ "sizes_raw", SEG_LOCAL "MaxSessionBytes = 12345678\nMaxSessions = 1000000\n",
	  chk_sizes_raw },
	{ "socket_dir", SEG_LOCAL "UnixSocketDir = /run/chorus\n", chk_socket_dir },
	{ "tls", SEG_LOCAL "TlsPort = 4804\nTlsCertificateFile = /etc/chorus/server.pem\n"
	  "TlsKeyFile = \"/etc/chorus/server.key\"\n"
	  "TlsClientCAFile = /etc/chorus/clients-ca.pem\nTlsClientVerify = required\n",
	  chk_tls },
	{ "tls_no_clients", SEG_LOCAL "TlsClientVerify = none\nTlsPort = 4804\n"
	  "TlsCertificateFile = s.pem\nTlsKeyFile = s.key\n", chk_tls_optional },
	{ "windows_equal",
	  SEG_LOCAL "Window = 20\nPersonalWindow = 20\nAcceleratedWindow = 0\n",
	  chk_windows_equal },
	{ "last_wins",
	  SEG_LOCAL "EventLogFile = a\nEventLogFile = b\nEventPriority = INFO\n"
	  "EventPriority = FATAL\nMaxSessionMessages = 1\nMaxSessionMessages = 2\n"
	  "LinkProtocol = TcpHop\nLinkProtocol = Hop\n",
	  chk_last_wins },
	{ "tight_braces",
	  "Spread_Segment 127.0.0.255{x 127.0.0.1{D 127.0.0.1}y 127.0.0.2}",
	  chk_tight },
	{ "route_matrix", SEG_LOCAL "RouteMatrix {\n}\nRouteMatrix { 0 1 2\n 3 4 5 }\n",
	  chk_route },
	{ "name_19_chars", "Spread_Segment 127.0.0.255 { abcdefghijklmnopqrs 127.0.0.1 }",
	  chk_any },
	{ "bang_inside_word", SEG_LOCAL "DaemonUser = a!b\n", chk_any },
	{ "loopback_segments_together",
	  "Spread_Segment 127.0.0.255 { a 127.0.0.1 }\n"
	  "Spread_Segment 127.0.1.255 { b 127.0.1.1 }\n",
	  chk_any },
	{ "equals_inside_value", SEG_LOCAL "EventLogFile = /tmp/x=y\n", chk_any },
	{ "port_65533", "Spread_Segment 10.0.0.255:65533 { a 10.0.0.1 }", chk_any },
	{ "ring_transport", SEG_LOCAL "RingTransport = unicast\nRingTransport = multicast\n",
	  chk_transport },
	{ "ring_transport_auto", SEG_LOCAL "RingTransport = AUTO\n", chk_transport_auto },
	{ "ring_key", SEG_LOCAL "RingKeyFile = /etc/chorus/%h.keys\n"
	  "RingEncryption = chacha20-poly1305\n", chk_ring_key },
	{ "ring_key_yes", SEG_LOCAL "RingKeyFile = \"/k\"\nRingEncryption = yes\n",
	  chk_ring_key_yes },
	{ "ring_key_auth", SEG_LOCAL "RingEncryption = aes-256-gcm\nRingKeyFile = /k\n"
	  "RingEncryption = no\n", chk_ring_key_auth },
	{ "ring_key_none", SEG_LOCAL "RingKeyFile = /k\nRingEncryption = none\n",
	  chk_ring_key_auth },
	{ "security", SEG_LOCAL "AllowedAuthMethods = \"HMAC NULL\"\n"
	  "HmacSecretsFile = \"/k\"\nMaxSessionsPerIP = 7\nMaxAuthenticating = 9\n"
	  "HandshakeTimeout = 2500\n"
	  "AccessRules { allow send jigdo principal \"mirror-*\" }\n"
	  "AccessRules {\n deny all jigdo anyone\n allow join \"*\" ip 192.168.7.9/16\n}\n",
	  chk_security },
	{ "security_every_keyword", SEG_LOCAL
	"AllowedAuthMethods = \"NULL IP HMAC\"\n"
	"RequiredAuthMethods = HMAC\n"
	"HmacSecretsFile = /etc/chorus/hmac_secrets\n"
	"MaxSessionsPerIP = 0\n"
	"MaxAuthenticating = 100000\n"
	"HandshakeTimeout = 600000\n"
	"AccessRules {\n"
	"\tallow send jigdo principal mirror-*\n"
	"\tallow all jigdo principal 'logger-[0-9]*'\n"
	"\tdeny all \"#*\" ip 10.1.2.3\n"
	"\tallow join \"*\" ip 10.0.0.0/8 allow join x unix\n"
	"\tdeny send \"?\" anyone\n"
	"}\n",
	  chk_any },
};

static void good_configs(void)
{
	for (size_t i = 0; i < T_COUNT(good_cases); i++) {
		const struct good_case *g = &good_cases[i];

		printf("case %s\n", g->name);
		g->check(parse_ok(g->text, 0));
	}
}

static void good_configs_round_trip(void)
{
	for (size_t i = 0; i < T_COUNT(good_cases); i++) {
		printf("case %s\n", good_cases[i].name);
		check_round_trip(parse_ok(good_cases[i].text, 0));
	}
}

/* ---- Errors ------------------------------------------------------------- */

struct bad_case {
	const char *text;
	size_t len; /* 0: strlen(text) */
	int line;
	const char *msg;
};

#define L SEG_LOCAL /* three lines */

static const struct bad_case bad_cases[] = {
	/* Lexical errors. */
	{ L "Foo = 1\n", 0, 4, "unknown keyword 'Foo'" },
	{ L "window = 5\n", 0, 4, "case-sensitive: Window" },
	{ L "Window=5\n", 0, 4, "put spaces around '='" },
	{ L "Window =5\n", 0, 4, "put spaces around '='" },
	{ L "\n\x01\n", 0, 5, "control character 0x01" },
	{ L "EventLogFile = a\0b\n", sizeof(L "EventLogFile = a\0b\n") - 1, 4,
	  "control character 0x00" },
	{ L "EventLogFile = \"a\x7f\"\n", 0, 4, "control character 0x7f in a quoted" },
	{ L "EventLogFile = \"abc\nDaemonUser = x\n", 0, 4, "unterminated string" },
	{ L "EventLogFile = 'abc", 0, 4, "closing ' is missing" },
	{ L "EventLogFile = \"abc\"def\n", 0, 4, "right after the closing \"" },
	{ "Spread_Segment 127.0.0.256 { a 127.0.0.1 }", 0, 1,
	  "invalid IP address '127.0.0.256': 256 is not in 0..255" },
	{ "Spread_Segment 127.0.0.255:70000 { a 127.0.0.1 }", 0, 1,
	  "port 70000 is not in 0..65535" },
	/* Segments and hosts. */
	{ "Spread_Segment 127.0.0.255:0 { a 127.0.0.1 }", 0, 1, "must be 1..65533" },
	{ "Spread_Segment 127.0.0.255:65534 { a 127.0.0.1 }", 0, 1, "must be 1..65533" },
	{ "Spread_Segment {\n a 127.0.0.1 }", 0, 1, "expected the segment address" },
	{ "Spread_Segment 127.0.0 { a 127.0.0.1 }", 0, 1,
	  "expected the segment address (a.b.c.d or a.b.c.d:port) after Spread_Segment, found '127.0.0'" },
	{ "Spread_Segment 127.0.0.255\n\n a 127.0.0.1 }", 0, 3, "expected '{' after the segment" },
	{ "Spread_Segment 127.0.0.255 {\n a 127.0.0.1\n", 0, 3,
	  "missing '}' to close the Spread_Segment of line 1" },
	{ "Spread_Segment 127.0.0.255 {\n C 127.0.0.1\n}", 0, 2, "must be quoted" },
	{ "Spread_Segment 127.0.0.255 {\n 127.0.0.1\n}", 0, 2,
	  "expected a host name or '}', found '127.0.0.1'" },
	{ "Spread_Segment 127.0.0.255 {\n abcdefghijklmnopqrst 127.0.0.1\n}", 0, 2,
	  "too long (20 characters, at most 19)" },
	{ "Spread_Segment 127.0.0.255 {\n \"a b\" 127.0.0.1\n}", 0, 2,
	  "cannot appear in a private group name" },
	{ "Spread_Segment 127.0.0.255 {\n \"a#b\" 127.0.0.1\n}", 0, 2,
	  "cannot appear in a private group name" },
	{ "Spread_Segment 127.0.0.255 {\n \"caf\xc3\xa9\" 127.0.0.1\n}", 0, 2,
	  "cannot appear in a private group name" },
	{ "Spread_Segment 127.0.0.255 {\n \"\" 127.0.0.1\n}", 0, 2, "empty host name" },
	{ "Spread_Segment 127.0.0.255 {\n a!b 127.0.0.1\n}", 0, 2,
	  "host name 'a!b' contains a character" },
	{ "Spread_Segment 127.0.0.255 {\n a 127.0.0.1\n}\n"
	  "Spread_Segment 127.0.1.255 {\n a 127.0.1.1\n}", 0, 5, "host name 'a' is used twice" },
	{ "Spread_Segment 127.0.0.255 {\n a 127.0.0.1\n b 127.0.0.1\n}", 0, 3,
	  "host b has the same address as host a" },
	{ "Spread_Segment 127.0.0.255 {\n a 0.0.0.0\n}", 0, 2, "0.0.0.0 is not a host address" },
	{ "Spread_Segment 127.0.0.255 {\n a 127.0.0.1 {\n }\n}", 0, 3,
	  "host a has an empty interface block" },
	{ "Spread_Segment 127.0.0.255 {\n a 127.0.0.1 {\n  C D\n }\n}", 0, 4,
	  "expected an interface address" },
	{ "Spread_Segment 127.0.0.255 {\n a 127.0.0.1 {\n  X 127.0.0.1\n }\n}", 0, 3,
	  "expected an interface address (roles M, C, D, then a.b.c.d) in host a, found 'X'" },
	{ "Spread_Segment 127.0.0.255 {\n a 127.0.0.1 {\n  D 127.0.0.1\n", 0, 4,
	  "missing '}' to close the interface block of host a (opened on line 2)" },
	{ "Spread_Segment 10.0.0.255 { a 10.0.0.1 }\n"
	  "Spread_Segment 127.0.0.255 { b 127.0.0.1 }\n", 0, 2,
	  "loopback (127.x.x.x) segment cannot be mixed" },
	{ "Spread_Segment 127.0.0.255 { a 127.0.0.1 }\n"
	  "Spread_Segment 10.0.0.255 { b 10.0.0.1 }\n", 0, 2, "cannot be mixed" },
	{ "Spread_Segment 10.0.0.255 { a 10.0.0.1 }\n"
	  "Spread_Segment 10.0.0.255:4803 { b 10.0.0.2 }\n", 0, 2,
	  "segment 10.0.0.255:4803 is listed twice" },
	{ "", 0, 1, "no daemon is configured" },
	{ "# only a comment\nWindow = 100\n", 0, 2, "no daemon is configured" },
	{ "Spread_Segment 10.0.0.255 { }\n", 0, 1, "no daemon is configured" },
	/* Statements. */
	{ L "}\n", 0, 4, "expected a keyword, found '}'" },
	{ L "!PRINT\n", 0, 4, "expected a keyword, found '!'" },
	{ L "INFO\n", 0, 4, "expected a keyword, found 'INFO'" },
	{ L "Window 100\n", 0, 4, "expected '=' after Window, found '100'" },
	{ L "Window =\n", 0, 5, "expected a number of 1 to 6 digits after Window =, found the end of the file" },
	{ L "DebugFlags = PRINT\n", 0, 4, "expected '{' after DebugFlags =" },
	{ L "DebugFlags = { PRINT LOUD }\n", 0, 4, "unknown debug flag 'LOUD'" },
	{ L "DebugFlags = { PRINT !! EXIT }\n", 0, 4, "unknown debug flag '!'" },
	{ L "DebugFlags = { PRINT\n", 0, 5, "missing '}' to close the DebugFlags of line 4" },
	{ L "EventPriority = info\n", 0, 4, "expected a priority" },
	{ L "EventPriority = \"INFO\"\n", 0, 4, "expected a priority" },
	{ L "EventLogFile = INFO\n", 0, 4, "a reserved word; quote it" },
	{ L "EventLogFile = {\n", 0, 4, "expected a string after EventLogFile =" },
	{ L "EventTimeStamp = \"\"\n", 0, 4, "EventTimeStamp must not be empty" },
	{ L "RuntimeDir = ''\n", 0, 4, "RuntimeDir must not be empty" },
	{ L "DangerousMonitor = on\n", 0, 4, "expected true, yes, false or no" },
	{ L "AcceleratedRing = maybe\n", 0, 4, "expected true, yes, false or no" },
	{ L "SocketPortReuse = yes\n", 0, 4, "expected on, off or auto" },
	{ L "AllowedAuthMethods = \"NULL KERBEROS\"\n", 0, 4,
	  "unknown authentication method 'KERBEROS' (chorusd knows NULL, IP and HMAC)" },
	{ L "AllowedAuthMethods = \"NULL HMAC\"\n", 0, 4,
	  "the HMAC authentication method needs HmacSecretsFile" },
	{ L "HmacSecretsFile = /etc/k\n", 0, 4,
	  "HmacSecretsFile is set but HMAC is not in AllowedAuthMethods" },
	{ L "HmacSecretsFile = \"\"\n", 0, 4, "HmacSecretsFile must not be empty" },
	{ L "MaxSessionsPerIP = -1\n", 0, 4, "expected a number" },
	{ L "MaxSessionsPerIP = 1000001\n", 0, 4, "out of range (0..1000000)" },
	{ L "MaxAuthenticating = 0\n", 0, 4, "MaxAuthenticating = 0 is out of range (1..100000)" },
	{ L "HandshakeTimeout = 99\n", 0, 4, "HandshakeTimeout = 99 is out of range (100..600000)" },
	{ L "AccessRules allow\n", 0, 4, "expected '{' after AccessRules" },
	{ L "AccessRules {\n allow join g anyone\n", 0, 6,
	  "missing '}' to close the AccessRules of line 4" },
	{ L "AccessRules {\n permit join g anyone\n}\n", 0, 5,
	  "an access rule starts with allow or deny, not 'permit'" },
	{ L "AccessRules {\n allow read g anyone\n}\n", 0, 5,
	  "expected join, send or all after allow, found 'read'" },
	{ L "AccessRules {\n allow join g everyone\n}\n", 0, 5,
	  "expected principal, ip, unix or anyone after the group, found 'everyone'" },
	{ L "AccessRules {\n allow join g ip 10.0.0.0/33\n}\n", 0, 5,
	  "bad address '10.0.0.0/33' after ip" },
	{ L "AccessRules {\n allow join g ip 10.0.0.256\n}\n", 0, 5,
	  "invalid IP address '10.0.0.256'" },
	{ L "AccessRules {\n allow join 'a\"b' anyone\n}\n", 0, 5, "bad group pattern" },
	{ L "AccessRules {\n allow join g principal\n}\n", 0, 6,
	  "unexpected '}' in an access rule" },
	{ L "AccessRules {\n allow join C anyone\n}\n", 0, 5,
	  "unexpected 'C' in an access rule (a reserved word; quote it" },
	{ L "AllowedAuthMethods = \"null\"\n", 0, 4, "unknown authentication method 'null'" },
	{ L "RequiredAuthMethods = \"PWORD\"\n", 0, 4,
	  "the PWORD authentication method is not supported" },
	{ L "AllowedAuthMethods = 12\n", 0, 4, "expected a quoted list of methods" },
	{ L "RequiredAuthMethods = \"IP\"\n\nAllowedAuthMethods = \"\"\n", 0, 6,
	  "no authentication method is allowed" },
	{ L "RequiredAuthMethods = \"IP\"\n", 0, 4,
	  "no authentication method is allowed, so every client would be refused" },
	{ L "AccessControlPolicy = DENY\n", 0, 4, "unknown access control policy 'DENY'" },
	{ L "AccessControlPolicy = permit\n", 0, 4, "chorusd has only PERMIT" },
	{ L "MaxSessionMessages = 0\n", 0, 4, "MaxSessionMessages = 0 is out of range (1..999999)" },
	{ L "MaxSessionMessages = 1000000\n", 0, 4, "expected a number of 1 to 6 digits" },
	{ L "MaxSessionMessages = -5\n", 0, 4, "expected a number" },
	{ L "LinkProtocol = Udp\n", 0, 4, "expected Hop or TcpHop" },
	{ L "RouteMatrix 1 2\n", 0, 4, "expected '{' after RouteMatrix" },
	{ L "RouteMatrix {\n 1 x\n}\n", 0, 5, "RouteMatrix holds only link costs" },
	{ L "RouteMatrix {\n 1 2\n", 0, 6, "missing '}' to close the RouteMatrix of line 4" },
	{ L "Window = 0\n", 0, 4, "Window = 0 is out of range" },
	{ L "PersonalWindow = 0\n", 0, 4, "out of range" },
	{ L "Window = 10\nMaxSessions = 5\n", 0, 4, "PersonalWindow (20) must not exceed Window (10)" },
	{ L "PersonalWindow = 200\n", 0, 4, "PersonalWindow (200) must not exceed Window (160)" },
	{ L "PersonalWindow = 10\n", 0, 4,
	  "AcceleratedWindow (15) must not exceed PersonalWindow (10)" },
	{ L "Window = 50\nAcceleratedWindow = 30\n", 0, 5,
	  "AcceleratedWindow (30) must not exceed PersonalWindow (20)" },
	{ L "TokenTimeout = 1000\nHurryTimeout = 100\n", 0, 4,
	  "missing: AliveTimeout, JoinTimeout, RepTimeout, SegTimeout, GatherTimeout, FormTimeout, LookupTimeout" },
	{ L "TokenTimeout = 1\nHurryTimeout = 1\nAliveTimeout = 1\nJoinTimeout = 1\n"
	  "RepTimeout = 1\nSegTimeout = 1\nGatherTimeout = 1\nFormTimeout = 1\n",
	  0, 4, "must be given together or not at all; missing: LookupTimeout" },
	{ L "LookupTimeout = 0\n", 0, 4, "LookupTimeout = 0 is out of range" },
	{ L "MaxSessions = 0\n", 0, 4, "MaxSessions = 0 is out of range (1..1000000)" },
	{ L "MaxSessions = 1000001\n", 0, 4, "out of range" },
	{ L "MaxSessions = 99999999999999999999999\n", 0, 4, "out of range" },
	{ L "MaxSessions = 10K\n", 0, 4, "expected a number after MaxSessions =" },
	{ L "MaxSessions = lots\n", 0, 4, "expected a number" },
	{ L "MaxSessionBytes = 1K\n", 0, 4, "MaxSessionBytes = 1K is out of range" },
	{ L "MaxSessionBytes = 262143\n", 0, 4, "out of range" },
	{ L "MaxSessionBytes = 1025G\n", 0, 4, "out of range" },
	{ L "MaxSessionBytes = 12X\n", 0, 4, "(with an optional K, M or G)" },
	{ L "MaxSessionBytes = 12KB\n", 0, 4, "expected a number" },
	{ L "MaxSessionBytes = K\n", 0, 4, "expected a number" },
	{ L "UnixSocketDir = run/chorus\n", 0, 4, "must be an absolute path" },
	{ L "RingTransport = tcp\n", 0, 4, "expected auto, broadcast, multicast or unicast" },
	{ L "TlsPort = 4804\nTlsKeyFile = k\n", 0, 5,
	  "TlsPort needs TlsCertificateFile and TlsKeyFile" },
	{ L "TlsPort = 65536\n", 0, 4, "TlsPort = 65536 is out of range" },
	{ L "TlsClientVerify = always\n", 0, 4, "expected none, optional or required" },
	{ L "TlsClientVerify = optional\n", 0, 4,
	  "TlsClientVerify = optional needs TlsClientCAFile" },
	{ L "RingTransport = Unicast\n", 0, 4, "expected auto, broadcast, multicast or unicast" },
	{ L "RingKeyFile = keys\n", 0, 4, "RingKeyFile must be an absolute path" },
	{ L "RingEncryption = aes\n", 0, 4, "expected no, yes, aes-256-gcm or chacha20-poly1305" },
	{ L "RingEncryption = yes\n", 0, 4, "RingEncryption needs a RingKeyFile" },
	{ L "UnixSocketDir = /aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n", 0, 4,
	  "too long for a socket path" },
	{ L "DaemonUser = aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n",
	  0, 4, "DaemonUser value is too long (at most 63 characters)" },
};

#undef L

static void bad_configs(void)
{
	char err[512], want[32];

	for (size_t i = 0; i < T_COUNT(bad_cases); i++) {
		const struct bad_case *b = &bad_cases[i];
		size_t len = b->len ? b->len : strlen(b->text);

		memset(err, 'x', sizeof(err));
		if (conf_parse(b->text, len, &cf, err, sizeof(err)) != -1)
			t_fail(__FILE__, __LINE__, "case %zu parsed, expected \"%s\"", i, b->msg);
		snprintf(want, sizeof(want), "line %d: ", b->line);
		if (strncmp(err, want, strlen(want)) != 0 || !strstr(err, b->msg))
			t_fail(__FILE__, __LINE__, "case %zu: got \"%s\", expected \"%s...%s\"",
			       i, err, want, b->msg);
	}
}

/* Limits: the largest accepted counts parse, one more fails. */
static void limits(void)
{
	static char text[64 * 1024];
	char err[256];
	size_t n;

	/* 20 segments of one host; then 21. */
	size_t n20 = 0;

	n = 0;
	for (int s = 0; s < 21; s++) {
		if (s == 20)
			n20 = n;
		n += (size_t)snprintf(text + n, sizeof(text) - n,
				      "Spread_Segment 10.%d.0.255 { h%d 10.%d.0.1 }\n", s, s, s);
	}
	T_EQ(conf_parse(text, n20, &cf, err, sizeof(err)), 0);
	T_EQ(cf.n_segments, 20);
	T_EQ(conf_parse(text, n, &cf, err, sizeof(err)), -1);
	T_ASSERT(strstr(err, "line 21: too many segments (at most 20)") == err);

	/* 128 hosts over two segments; then 129. */
	n = (size_t)snprintf(text, sizeof(text), "Spread_Segment 10.0.0.255 {\n");
	for (int h = 0; h < 100; h++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, " h%d 10.0.0.%d\n", h, h + 1);
	n += (size_t)snprintf(text + n, sizeof(text) - n, "}\nSpread_Segment 10.0.1.255 {\n");
	for (int h = 100; h < 128; h++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, " h%d 10.0.1.%d\n", h, h);
	T_EQ(conf_parse(text, n, &cf, err, sizeof(err)), -1); /* unclosed */
	T_ASSERT(strstr(err, "missing '}'") != NULL);
	snprintf(text + n, sizeof(text) - n, "}\n");
	T_EQ(conf_parse(text, strlen(text), &cf, err, sizeof(err)), 0);
	T_EQ(cf.n_hosts, 128);
	T_EQ(cf.segments[1].first_host, 100);
	T_EQ(cf.segments[1].n_hosts, 28);
	check_round_trip(&cf);
	snprintf(text + n, sizeof(text) - n, " extra 10.0.1.200\n}\n");
	T_EQ(conf_parse(text, strlen(text), &cf, err, sizeof(err)), -1);
	T_ASSERT(strstr(err, "line 132: too many hosts (at most 128)") == err);

	/* 10 interfaces; then 11. */
	n = (size_t)snprintf(text, sizeof(text), "Spread_Segment 10.0.0.255 {\n a 10.0.0.1 {\n");
	for (int i = 0; i < 10; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "  D 10.1.0.%d\n", i);
	snprintf(text + n, sizeof(text) - n, " }\n}\n");
	T_EQ(conf_parse(text, strlen(text), &cf, err, sizeof(err)), 0);
	T_EQ(cf.hosts[0].n_ifaces, 10);
	check_round_trip(&cf);
	snprintf(text + n, sizeof(text) - n, "  C 10.1.0.99\n }\n}\n");
	T_EQ(conf_parse(text, strlen(text), &cf, err, sizeof(err)), -1);
	T_ASSERT(strstr(err, "line 13: host a has more than 10 interfaces") == err);

	/* Words and strings of 511 bytes are read; 512 are refused. */
	n = (size_t)snprintf(text, sizeof(text), SEG_LOCAL "EventLogFile = ");
	memset(text + n, 'a', 512);
	text[n + 512] = 0;
	T_EQ(conf_parse(text, strlen(text), &cf, err, sizeof(err)), -1);
	T_ASSERT(strstr(err, "line 4: word too long (at most 511") == err);
	text[n + 511] = 0;
	T_EQ(conf_parse(text, strlen(text), &cf, err, sizeof(err)), -1);
	T_ASSERT(strstr(err, "EventLogFile value is too long (at most 255") != NULL);
	text[n] = '"';
	memset(text + n + 1, 'a', 512);
	strcpy(text + n + 513, "\"\n");
	T_EQ(conf_parse(text, strlen(text), &cf, err, sizeof(err)), -1);
	T_ASSERT(strstr(err, "line 4: string too long") == err);
	strcpy(text + n + 256, "\"\n"); /* 255 characters: just fits */
	T_EQ(conf_parse(text, strlen(text), &cf, err, sizeof(err)), 0);
	T_EQ(strlen(cf.event_log_file), 255);
	check_round_trip(&cf);
}

/* The error buffer may be NULL or tiny; the parse result is unchanged. */
static void error_buffer_sizes(void)
{
	char small[8];

	T_EQ(conf_parse("Foo", 3, &cf, NULL, 0), -1);
	T_EQ(conf_parse("Foo", 3, &cf, small, 1), -1);
	T_EQ(small[0], 0);
	T_EQ(conf_parse("Foo", 3, &cf, small, sizeof(small)), -1);
	T_STREQ(small, "line 1:");
	T_EQ(conf_parse(NULL, 0, &cf, small, sizeof(small)), -1);
	T_EQ(acl_ip_parse("x", 1, &(struct acl_ip){ 0 }, NULL, 0), -1);
}

/* Every prefix of the rich configuration parses or fails with a line
 * number; none reads past its end (the sanitizer build checks that). */
static void every_prefix(void)
{
	size_t n = strlen(rich_conf);
	char err[256];

	for (size_t k = 0; k <= n; k++) {
		char *copy = malloc(k ? k : 1);

		memcpy(copy, rich_conf, k);
		if (conf_parse(copy, k, &cf, err, sizeof(err)) != 0)
			T_ASSERTF(strncmp(err, "line ", 5) == 0, "prefix %zu: %s", k, err);
		else
			check_round_trip(&cf);
		free(copy);
	}
}

/* Pseudo-random byte soup built from config fragments: never a crash,
 * always "line N:" on failure, the round trip on success. */
static void random_inputs(void)
{
	static const char *const frag[] = {
		"Spread_Segment ", "127.0.0.255", "10.0.0.1:4803", " { ", " } ", "\n",
		"\"", "'", "#", "=", " = ", "!", "C ", "D ", "M ", "host", "Window",
		"PersonalWindow", "123", "1234567", "DebugFlags", "ALL", "PRINT",
		"EventTimeStamp", "\xff", "\t", "\r", "RouteMatrix", "yes", "auto",
		"MaxSessionBytes", "64M", "AllowedAuthMethods", "\"IP NULL\"", "\0",
	};
	uint32_t seed = 12345;
	char buf[400], err[256];

	for (int iter = 0; iter < 20000; iter++) {
		size_t n = 0;

		while (n < 300) {
			const char *f;
			size_t fl;

			seed = seed * 1103515245u + 12345u;
			f = frag[(seed >> 16) % T_COUNT(frag)];
			fl = f[0] ? strlen(f) : 1;
			memcpy(buf + n, f, fl);
			n += fl;
			if ((seed >> 8) % 13 == 0)
				break;
		}
		if (conf_parse(buf, n, &cf, err, sizeof(err)) != 0)
			T_ASSERTF(strncmp(err, "line ", 5) == 0, "iter %d: %s", iter, err);
		else
			check_round_trip(&cf);
	}
}

/* ---- Printing ----------------------------------------------------------- */

static const char golden_default[] =
	"# spread.conf as chorusd reads it (hash of the source text: 0x%08x)\n"
	"\n"
	"Spread_Segment 127.0.0.255:4803 {\n"
	"\tlocalhost 127.0.0.1\n"
	"}\n"
	"\n"
	"# Logging\n"
	"DebugFlags = { EXIT PRINT }\n"
	"EventPriority = INFO\n"
	"# EventLogFile: not set; events go to standard output\n"
	"# EventTimeStamp: off\n"
	"\n"
	"# Daemon\n"
	"SocketPortReuse = auto\n"
	"AllowedAuthMethods = \"NULL\"\n"
	"RequiredAuthMethods = \"\"\n"
	"AccessControlPolicy = PERMIT\n"
	"MaxSessionMessages = 1000\n"
	"# DangerousMonitor = false\n"
	"# RuntimeDir = \"/var/run/spread\"\n"
	"# DaemonUser: not set; chorusd keeps the user it starts as\n"
	"# DaemonGroup: not set; the login group of DaemonUser\n"
	"\n"
	"# Ring (used by a segment of several daemons)\n"
	"# Window = 160\n"
	"# PersonalWindow = 20\n"
	"# AcceleratedWindow = 15\n"
	"# AcceleratedRing: chosen automatically\n"
	"# TokenTimeout .. LookupTimeout: not set; the ring's defaults apply\n"
	"\n"
	"# Chorus extensions\n"
	"MaxSessions = 16384\n"
	"MaxSessionBytes = 64M\n"
	"UnixSocketDir = \"/tmp\"\n"
	"RingTransport = auto\n"
	"# RingKeyFile: not set; ring datagrams travel in clear\n"
	"RingEncryption = none\n"
	"\n"
	"# Security\n"
	"MaxSessionsPerIP = 1024\n"
	"MaxAuthenticating = 1024\n"
	"HandshakeTimeout = 1000\n"
	"# AccessRules: none; every client may join and send to every group\n"
	"# TlsPort = 0\n"
	"# TlsCertificateFile: not set\n"
	"# TlsKeyFile: not set\n"
	"# TlsClientCAFile: not set\n"
	"TlsClientVerify = none\n";

static void print_golden_default(void)
{
	char *out = NULL, want[4096];
	size_t len = 0;
	FILE *fp = open_memstream(&out, &len);

	parse_ok(SEG_LOCAL, 0);
	conf_print(&cf, fp);
	fclose(fp);
	snprintf(want, sizeof(want), golden_default, cf.hash);
	T_STREQ(out, want);
	free(out);
}

/* The rich printout names every setting, with reserved host names quoted
 * and strings in the quotes that keep them intact. */
static void print_rich(void)
{
	static const char *const lines[] = {
		"Spread_Segment 192.168.1.255:4900 {\n",
		"\t\"C\" 192.168.1.2 {\n\t\tD 192.168.1.2\n\t\tM C 10.0.0.2\n\t\t10.0.1.2\n\t}\n",
		"\tgamma\n",
		"Spread_Segment 225.1.2.3:4803 {\n",
		"DebugFlags = { ALL !DEBUG !MEMORY }\n",
		"EventTimeStamp = \"%H:%M:%S it's\"\n",
		"DaemonGroup = 'a\"b'\n",
		"RequiredAuthMethods = \"NULL IP\"\n",
		"LinkProtocol = TcpHop\n",
		"RouteMatrix { }\n",
		"AcceleratedRing = no\n",
		"LookupTimeout = 60000\n",
		"MaxSessionBytes = 1G\n",
		"UnixSocketDir = \"\"\n",
		"RingKeyFile = \"/etc/chorus/ring keys\"\n",
		"RingEncryption = aes-256-gcm\n",
	};
	char *out = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&out, &len);

	parse_ok(rich_conf, 0);
	conf_print(&cf, fp);
	fclose(fp);
	for (size_t i = 0; i < T_COUNT(lines); i++)
		T_ASSERTF(strstr(out, lines[i]) != NULL, "missing \"%s\" in:\n%s", lines[i], out);
	free(out);
	check_round_trip(&cf);
}

/* A string holding both kinds of quote can only be a bare word, and
 * prints bare; odd flag masks print as names that rebuild them. */
static void print_odd_values(void)
{
	parse_ok(SEG_LOCAL "DaemonUser = a\"b'c\nEventTimeStamp = x'\"y\n"
		 "DebugFlags = { ALL !ALL PRINT }\nMaxSessionBytes = 262145\n", 0);
	T_STREQ(cf.daemon_user, "a\"b'c");
	T_EQ(cf.debug_flags, 0x4);
	check_round_trip(&cf);
	parse_ok(SEG_LOCAL "DebugFlags = { ALL !DEBUG !EXIT !PRINT !DATA_LINK !NETWORK "
		 "!PROTOCOL !SESSION !CONFIGURATION !MEMBERSHIP !FLOW_CONTROL !STATUS "
		 "!EVENTS !GROUPS !MEMORY !SKIPLIST !ACM !SECURITY }\n", 0);
	T_EQ(cf.debug_flags, ~0x00e13ff7u);
	check_round_trip(&cf);
}

static void hash_of_text(void)
{
	uint32_t h1, h2;

	h1 = parse_ok(SEG_LOCAL, 0)->hash;
	h2 = parse_ok(SEG_LOCAL "# a comment\n", 0)->hash;
	T_ASSERT(h1 != h2);
	T_EQ(parse_ok(SEG_LOCAL, 0)->hash, h1);
	/* FNV-1a of "Spread_Segment 127.0.0.255 { a 127.0.0.1 }". */
	{
		const char *t = "Spread_Segment 127.0.0.255 { a 127.0.0.1 }";
		uint32_t h = 2166136261u;

		for (const char *p = t; *p; p++)
			h = (h ^ (unsigned char)*p) * 16777619u;
		T_EQ(parse_ok(t, 0)->hash, h);
	}
}

/* ---- conf_load ---------------------------------------------------------- */

/* Writes text to a fresh temporary file; returns its path (static). */
static const char *temp_file(const char *text)
{
	static char path[64];
	int fd;

	snprintf(path, sizeof(path), "/tmp/test_conf.XXXXXX");
	fd = mkstemp(path);
	T_ASSERT(fd >= 0);
	T_EQ(write(fd, text, strlen(text)), (long long)strlen(text));
	close(fd);
	return path;
}

static void load_file(void)
{
	char err[512];
	const char *p = temp_file(SEG_LOCAL "Window = 200\n");

	T_EQ(conf_load(p, &cf, err, sizeof(err)), 0);
	T_EQ(cf.window, 200);
	unlink(p);
	T_EQ(conf_load(p, &cf, err, sizeof(err)), -1);
	T_ASSERT(strstr(err, p) == err);
	T_ASSERT(strstr(err, "No such file") != NULL);
	p = temp_file(SEG_LOCAL "\nBogus = 1\n");
	T_EQ(conf_load(p, &cf, err, sizeof(err)), -1);
	T_ASSERT(strstr(err, ": line 5: unknown keyword 'Bogus'") != NULL);
	unlink(p);
}

/* Files grow the read buffer past its first size; more than 1 MiB is
 * refused, by both loaders. */
static void load_big_files(void)
{
	static struct acl_ip a;
	size_t big = 1024 * 1024 + 1;
	char *text = malloc(big + 1), err[512];
	const char *p;

	memset(text, '#', big);
	memcpy(text, SEG_LOCAL, strlen(SEG_LOCAL));
	text[20000] = 0; /* a file of about 20 KB, mostly one comment */
	p = temp_file(text);
	T_EQ(conf_load(p, &cf, err, sizeof(err)), 0);
	T_EQ(cf.n_hosts, 1);
	unlink(p);
	text[20000] = '#';
	text[big] = 0;
	p = temp_file(text);
	T_EQ(conf_load(p, &cf, err, sizeof(err)), -1);
	T_ASSERTF(strstr(err, "too large") != NULL, "%s", err);
	T_EQ(acl_ip_load(p, &a, err, sizeof(err)), -1);
	T_ASSERTF(strstr(err, "file too large") != NULL, "%s", err);
	unlink(p);
	text[big - 1] = 0; /* exactly 1 MiB is still read */
	p = temp_file(text);
	T_EQ(conf_load(p, &cf, err, sizeof(err)), 0);
	unlink(p);
	free(text);
}

static void load_resolves_names(void)
{
	char err[512], *out = NULL;
	size_t len = 0;
	const char *p = temp_file("Spread_Segment 127.0.0.255 {\n localhost\n}\n");
	FILE *fp;

	parse_ok("Spread_Segment 127.0.0.255 {\n localhost\n}\n", 0);
	T_EQ(cf.hosts[0].addr, 0);
	T_EQ(conf_load(p, &cf, err, sizeof(err)), 0);
	unlink(p);
	T_EQ(cf.hosts[0].dns, 1);
	T_EQ(cf.hosts[0].addr, IP4(127, 0, 0, 1));
	fp = open_memstream(&out, &len);
	conf_print(&cf, fp);
	fclose(fp);
	T_ASSERT(strstr(out, "\tlocalhost # resolved to 127.0.0.1\n") != NULL);
	free(out);

	p = temp_file("Spread_Segment 127.0.0.255 {\n x 127.0.0.1\n localhost\n}\n");
	T_EQ(conf_load(p, &cf, err, sizeof(err)), -1);
	unlink(p);
	T_ASSERT(strstr(err, "host localhost resolves to the address of host x") != NULL);
}

static void load_unresolvable(void)
{
	char err[512];
	const char *p = temp_file("Spread_Segment 10.0.0.255 {\n nohost.invalid\n}\n");

	T_EQ(conf_load(p, &cf, err, sizeof(err)), -1);
	unlink(p);
	T_ASSERTF(strstr(err, "host nohost.invalid has no address in the file and its name does not resolve") != NULL,
		  "%s", err);
}

/* ---- acl_ip ------------------------------------------------------------- */

struct probe {
	uint32_t addr;
	int allowed;
};

struct acl_case {
	const char *name;
	const char *text;
	int n_rules;         /* -1: an error is expected */
	int err_line;
	const char *err_msg;
	struct probe probes[6];
	int n_probes;
};

static const struct acl_case acl_cases[] = {
	{ "empty", "", 0, 0, NULL,
	  { { 0, 0 }, { IP4(127, 0, 0, 1), 0 } }, 2 },
	{ "comments_only", "# nothing\n   # indented\n\n", 0, 0, NULL,
	  { { 0, 0 } }, 1 },
	{ "unix", "unix\n", 1, 0, NULL,
	  { { 0, 1 }, { IP4(127, 0, 0, 1), 0 }, { IP4(10, 0, 0, 1), 0 } }, 3 },
	{ "local", "local\n", 1, 0, NULL,
	  { { IP4(127, 0, 0, 1), 1 }, { IP4(127, 255, 255, 255), 1 },
	    { IP4(128, 0, 0, 1), 0 }, { 0, 0 } }, 4 },
	{ "blank_lines_do_not_cut", "unix\n\n\n192.168.1.0/24\n\t\n10.0.0.7\n", 3, 0, NULL,
	  { { 0, 1 }, { IP4(192, 168, 1, 200), 1 }, { IP4(192, 168, 2, 1), 0 },
	    { IP4(10, 0, 0, 7), 1 }, { IP4(10, 0, 0, 8), 0 } }, 5 },
	{ "prefix_0", "0.0.0.0/0\n", 1, 0, NULL,
	  { { 0, 1 }, { IP4(255, 255, 255, 255), 1 }, { IP4(1, 2, 3, 4), 1 } }, 3 },
	{ "prefix_0_host_bits", "10.1.2.3/0\n", 1, 0, NULL,
	  { { IP4(200, 0, 0, 1), 1 } }, 1 },
	{ "prefix_32", "10.0.0.1/32\n", 1, 0, NULL,
	  { { IP4(10, 0, 0, 1), 1 }, { IP4(10, 0, 0, 0), 0 }, { IP4(10, 0, 0, 2), 0 } }, 3 },
	{ "host_bits_dropped", "10.1.2.3/8\n", 1, 0, NULL,
	  { { IP4(10, 200, 0, 1), 1 }, { IP4(11, 0, 0, 0), 0 } }, 2 },
	{ "prefix_31", "10.0.0.4/31\n", 1, 0, NULL,
	  { { IP4(10, 0, 0, 4), 1 }, { IP4(10, 0, 0, 5), 1 }, { IP4(10, 0, 0, 6), 0 } }, 3 },
	{ "trailing_comment_crlf_blanks", "  local   # loopback\r\n\t172.16.0.0/12\t\r\n", 2, 0, NULL,
	  { { IP4(172, 31, 255, 255), 1 }, { IP4(172, 32, 0, 0), 0 } }, 2 },
	{ "no_final_newline", "unix\n1.2.3.4", 2, 0, NULL,
	  { { IP4(1, 2, 3, 4), 1 } }, 1 },
	{ "three_dots_missing", "unix\n10.0.0\n", -1, 2, "malformed rule '10.0.0'", { { 0, 0 } }, 0 },
	{ "prefix_33", "\n\n10.0.0.0/33\n", -1, 3, "prefix 0..32", { { 0, 0 } }, 0 },
	{ "octet_256", "256.0.0.1\n", -1, 1, "malformed rule '256.0.0.1'", { { 0, 0 } }, 0 },
	{ "unix_prefix_only", "unixsocket\n", -1, 1, "malformed rule 'unixsocket'", { { 0, 0 } }, 0 },
	{ "localhost_word", "# x\nlocalhost\n", -1, 2, "malformed rule 'localhost'", { { 0, 0 } }, 0 },
	{ "space_before_prefix", "10.0.0.0 /8\n", -1, 1, "malformed", { { 0, 0 } }, 0 },
	{ "empty_prefix", "10.0.0.0/\n", -1, 1, "malformed", { { 0, 0 } }, 0 },
	{ "five_octets", "1.2.3.4.5\n", -1, 1, "malformed", { { 0, 0 } }, 0 },
	{ "leading_zeros_too_long", "0010.0.0.1\n", -1, 1, "malformed", { { 0, 0 } }, 0 },
	{ "two_rules_one_line", "unix local\n", -1, 1, "malformed rule 'unix local'", { { 0, 0 } }, 0 },
	{ "negative_prefix", "10.0.0.0/-1\n", -1, 1, "malformed", { { 0, 0 } }, 0 },
};

static void acl_table(void)
{
	static struct acl_ip a;
	char err[256];

	for (size_t i = 0; i < T_COUNT(acl_cases); i++) {
		const struct acl_case *k = &acl_cases[i];
		int rc = acl_ip_parse(k->text, strlen(k->text), &a, err, sizeof(err));

		printf("case %s\n", k->name);
		if (k->n_rules < 0) {
			char want[32];

			T_EQ(rc, -1);
			snprintf(want, sizeof(want), "line %d: ", k->err_line);
			T_ASSERTF(strncmp(err, want, strlen(want)) == 0 &&
				  strstr(err, k->err_msg) != NULL, "got \"%s\"", err);
			continue;
		}
		T_ASSERTF(rc == 0, "%s", err);
		T_EQ(a.n_rules, k->n_rules);
		for (int p = 0; p < k->n_probes; p++)
			T_ASSERTF(acl_ip_allows(&a, k->probes[p].addr) == k->probes[p].allowed,
				  "probe 0x%08x", k->probes[p].addr);
	}
}

static void acl_nul_and_limits(void)
{
	static struct acl_ip a;
	static char text[256 * 16 + 32];
	char err[256];
	size_t n = 0;

	T_EQ(acl_ip_parse("unix\n1.2.3.4\0\n", 14, &a, err, sizeof(err)), -1);
	T_ASSERT(strstr(err, "line 2: malformed rule '1.2.3.4?'") == err);
	for (int i = 0; i < ACL_IP_MAX_RULES; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "10.0.%d.%d\n", i / 256, i % 256);
	T_EQ(acl_ip_parse(text, n, &a, err, sizeof(err)), 0);
	T_EQ(a.n_rules, ACL_IP_MAX_RULES);
	n += (size_t)snprintf(text + n, sizeof(text) - n, "\n# one more\n11.0.0.1\n");
	T_EQ(acl_ip_parse(text, n, &a, err, sizeof(err)), -1);
	T_ASSERT(strstr(err, "line 259: too many rules (at most 256)") == err);
}

static void acl_load_file(void)
{
	static struct acl_ip a;
	char err[512];
	const char *p = temp_file("unix\n\n10.0.0.0/8\n");

	T_EQ(acl_ip_load(p, &a, err, sizeof(err)), 0);
	T_EQ(a.n_rules, 2);
	T_EQ(acl_ip_allows(&a, IP4(10, 9, 8, 7)), 1);
	unlink(p);
	T_EQ(acl_ip_load(p, &a, err, sizeof(err)), -1);
	T_ASSERT(strstr(err, "No such file") != NULL);
	T_EQ(a.n_rules, 0);
	p = temp_file("unix\nbogus\n");
	T_EQ(acl_ip_load(p, &a, err, sizeof(err)), -1);
	T_ASSERT(strstr(err, ": line 2: malformed rule 'bogus'") != NULL);
	unlink(p);
}

/* The shipped sample (etc/spread.conf) is the default single daemon. */
static void sample_config(void)
{
	static const char *const paths[] = {
		"etc/spread.conf", "../etc/spread.conf", "../../etc/spread.conf",
	};
	static struct conf def;
	unsigned char *text = NULL;
	size_t len = 0;

	for (size_t i = 0; i < T_COUNT(paths) && !text; i++)
		if (access(paths[i], R_OK) == 0)
			text = t_read_file(paths[i], &len);
	if (!text)
		t_skip("etc/spread.conf not found; run from the top of the tree");
	parse_ok((const char *)text, len);
	check_round_trip(&cf);
	def = cf;
	parse_ok(SEG_LOCAL, 0);
	def.hash = cf.hash = 0;
	T_MEMEQ(&def, &cf, sizeof(def));
	free(text);
}

static const struct t_case cases[] = {
	T_CASE(good_configs),
	T_CASE(good_configs_round_trip),
	T_CASE(bad_configs),
	T_CASE(limits),
	T_CASE(error_buffer_sizes),
	T_CASE(every_prefix),
	T_CASE_TIMEOUT(random_inputs, 120),
	T_CASE(print_golden_default),
	T_CASE(print_rich),
	T_CASE(print_odd_values),
	T_CASE(hash_of_text),
	T_CASE(sample_config),
	T_CASE(load_file),
	T_CASE(load_big_files),
	T_CASE(load_resolves_names),
	T_CASE_TIMEOUT(load_unresolvable, 60),
	T_CASE(acl_table),
	T_CASE(acl_nul_and_limits),
	T_CASE(acl_load_file),
};

int main(int argc, char **argv)
{
	return t_main(argc, argv, cases, T_COUNT(cases));
}
