/*
 * conf.h - spread.conf, as chorusd reads it, and the IP access list.
 *
 * The grammar is Spread 4's (docs/config.md, chorus.conf(5)); chorusd adds
 * a few keywords of its own, all optional. Parsing is a pure function from
 * text to a struct conf: no I/O except in conf_load()/acl_ip_load(), no
 * globals, and every error names its line.
 *
 * Ownership: struct conf and struct acl_ip are plain values with fixed
 * arrays; the caller owns them and nothing inside needs freeing.
 */
#ifndef CHORUS_CONF_H
#define CHORUS_CONF_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "authz.h"

#define CONF_MAX_SEGMENTS 20
#define CONF_MAX_HOSTS 128
#define CONF_MAX_IFACES 10
#define CONF_MAX_NAME 19 /* daemon name, characters */
#define CONF_MAX_NOTES 32
#define CONF_PATH_MAX 256

/* Interface roles; an interface listed without letters has all three. */
#define CONF_ROLE_MONITOR 0x1u
#define CONF_ROLE_CLIENT 0x2u
#define CONF_ROLE_DAEMON 0x4u
#define CONF_ROLE_ALL 0x7u

/* Authentication methods. */
#define CONF_AUTH_NULL 0x1u
#define CONF_AUTH_IP 0x2u
#define CONF_AUTH_HMAC 0x4u /* chorus: proof of a per-principal secret */

enum conf_tristate { CONF_OFF = 0, CONF_ON = 1, CONF_AUTO = 2 };

/* TlsClientVerify: whether TLS clients must show a certificate. */
enum conf_tls_verify { CONF_TLS_VERIFY_NONE = 0, CONF_TLS_VERIFY_OPTIONAL,
		       CONF_TLS_VERIFY_REQUIRED };
extern const char *const conf_tls_verify_names[3];

/* RingTransport: how "to every daemon" reaches them (net_udp.h). */
enum conf_transport {
	CONF_TRANSPORT_AUTO = 0, CONF_TRANSPORT_BROADCAST,
	CONF_TRANSPORT_MULTICAST, CONF_TRANSPORT_UNICAST
};
extern const char *const conf_transport_names[4];

/* RingEncryption: what seals ring datagrams when RingKeyFile is set
 * (ring_sec.h); none authenticates them only. */
enum conf_ring_enc {
	CONF_RING_ENC_NONE = 0, CONF_RING_ENC_AES_GCM, CONF_RING_ENC_CHACHA
};
extern const char *const conf_ring_enc_names[3];

struct conf_iface {
	uint32_t addr; /* IPv4, host byte order */
	unsigned roles;
};

struct conf_host {
	char name[CONF_MAX_NAME + 1];
	uint32_t addr; /* IPv4, host order; the address of the host entry */
	int dns;       /* 1: written without an address; conf_parse() leaves
			* addr 0 and conf_load() fills it in by DNS */
	int segment;   /* index into conf.segments */
	int n_ifaces;  /* 0: everything on addr */
	struct conf_iface ifaces[CONF_MAX_IFACES];
};

struct conf_segment {
	uint32_t addr; /* broadcast or multicast address, host order */
	uint16_t port; /* default 4803 */
	int first_host, n_hosts; /* hosts[first_host .. first_host+n_hosts) */
};

struct conf {
	struct conf_segment segments[CONF_MAX_SEGMENTS];
	int n_segments;
	struct conf_host hosts[CONF_MAX_HOSTS];
	int n_hosts;

	/* Logging. */
	uint32_t debug_flags;        /* default PRINT|EXIT (0x6) */
	int event_priority;          /* 1 pDEBUG .. 6 FATAL; default 2 INFO */
	char event_log_file[CONF_PATH_MAX]; /* "" = standard output/stderr */
	int event_timestamp;         /* 0 off, 1 on */
	char event_timestamp_fmt[64]; /* strftime format when on */
	int event_precise_timestamp;

	/* Daemon. */
	int dangerous_monitor;
	enum conf_tristate socket_port_reuse; /* default auto */
	int debug_initial_sequence;
	char runtime_dir[CONF_PATH_MAX];   /* default /var/run/spread */
	char daemon_user[64];              /* "" (not given): no privilege drop */
	char daemon_group[64];             /* "": the user's login group */
	unsigned allowed_auth;             /* default CONF_AUTH_NULL */
	unsigned required_auth;            /* default 0 */
	char access_control_policy[32];    /* only "PERMIT" */
	int max_session_messages;          /* default 1000 */

	/* Ring (used by the ring; parsed and checked now). */
	int window, personal_window, accelerated_window; /* 160, 20, 15 */
	int accelerated_ring;              /* -1 auto, 0 no, 1 yes */
	int timeouts_set;                  /* all nine timeouts were given */
	int token_timeout_ms, hurry_timeout_ms, alive_timeout_ms,
		join_timeout_ms, rep_timeout_ms, seg_timeout_ms,
		gather_timeout_ms, form_timeout_ms, lookup_timeout_ms;

	/* Chorus extensions (not in Spread). */
	int max_sessions;                  /* default 16384 */
	long max_session_bytes;            /* default 64 MiB */
	char unix_socket_dir[CONF_PATH_MAX]; /* default /tmp; "" = no socket */
	enum conf_transport ring_transport; /* default auto */
	char ring_key_file[CONF_PATH_MAX];  /* "" = ring datagrams in clear */
	enum conf_ring_enc ring_encryption; /* default none */

	/* Chorus security extensions (docs/config.md "Security"). */
	char hmac_secrets_file[CONF_PATH_MAX]; /* "" = none */
	int max_sessions_per_ip;           /* default 1024; 0 = no limit */
	int max_authenticating;            /* default 256 */
	int handshake_timeout_ms;          /* default 1000, as Spread */
	struct authz_rules access_rules;   /* AccessRules { } */

	/* TLS for client connections (tls.h); tls_port 0: no TLS listener. */
	uint16_t tls_port;
	char tls_cert_file[CONF_PATH_MAX];  /* PEM certificate (chain) */
	char tls_key_file[CONF_PATH_MAX];   /* PEM private key */
	char tls_client_ca_file[CONF_PATH_MAX]; /* CAs of client certificates */
	enum conf_tls_verify tls_client_verify; /* default none */

	/* Keywords accepted but not implemented yet, one note each, for the
	 * daemon to log once ("LinkProtocol is parsed but has no effect"). */
	char notes[CONF_MAX_NOTES][96];
	int n_notes;

	/* Hash of the text, so daemons can tell identical configurations. */
	uint32_t hash;
};

/* Sets every field to its default; no segments, no hosts. */
void conf_defaults(struct conf *c);

/* Parses len bytes of spread.conf text into c (which it first resets with
 * conf_defaults). Returns 0, or -1 with a message "line N: ..." in err. */
int conf_parse(const char *text, size_t len, struct conf *c, char *err,
	       size_t errlen);

/* Reads and parses a file. Returns 0, or -1 with a message in err. */
int conf_load(const char *path, struct conf *c, char *err, size_t errlen);

/* Writes c as spread.conf text that conf_parse() reads back to an equal
 * struct (the print-config round trip of `chorusd -P`). */
void conf_print(const struct conf *c, FILE *fp);

/* Index of the host named `name`, or -1. */
int conf_find_host(const struct conf *c, const char *name);

/* The TCP port of the segment the host belongs to. */
uint16_t conf_host_port(const struct conf *c, int host);

/* Rules of spread.access_ip, used by the IP authentication method. */
#define ACL_IP_MAX_RULES 256

struct acl_ip {
	int n_rules;
	struct {
		uint32_t net, mask; /* host order; unix sockets are 0/32 */
	} rules[ACL_IP_MAX_RULES];
};

/* Parses access_ip text. Returns 0, or -1 with "line N: ..." in err. */
int acl_ip_parse(const char *text, size_t len, struct acl_ip *a, char *err,
		 size_t errlen);
int acl_ip_load(const char *path, struct acl_ip *a, char *err, size_t errlen);
/* 1 if addr (host order; 0 for a Unix-socket client) is allowed. */
int acl_ip_allows(const struct acl_ip *a, uint32_t addr);

#endif /* CHORUS_CONF_H */
