/*
 * daemon.h - one chorusd instance: its configuration, listeners, sessions,
 * group table and ordering service, driven by one epoll loop.
 *
 * All state of a daemon is in struct chd, so a test can run several in
 * one process. The loop reads the clock once per iteration, reads the
 * sockets, feeds the ordering service, delivers what it releases, writes
 * the queued output and sleeps until the earliest deadline.
 */
#ifndef CHORUS_DAEMON_H
#define CHORUS_DAEMON_H

#include <signal.h>
#include <stdint.h>

#include "auth.h"
#include "conf.h"
#include "groups.h"
#include "net_impair.h"
#include "net_udp.h"
#include "order.h"
#include "ring_link.h"
#include "ring_setup.h"
#include "sess.h"
#include "tls.h"

#define CHD_MAX_LISTENERS 16
#define CHD_GROUP_MAX_MEMBERS 2048 /* keeps notifications within a frame */
#define CHD_READ_CHUNK (256 * 1024)

struct chd_listener {
	int fd;
	int is_unix;
	int is_tls;   /* the TLS port: sessions start with a TLS handshake */
};

/* Counters, for the log and for tests. */
struct chd_stats {
	uint64_t accepted, refused_quota, opened;
	uint64_t ended[SESS_END__COUNT];
	uint64_t frames_in, msgs_out, bytes_out;
	uint64_t rejects;
	uint64_t input_pauses;    /* client input stopped for back-pressure */
	uint64_t status_queries, status_refused;
	uint64_t refused_per_ip;      /* MaxSessionsPerIP */
	uint64_t refused_handshaking; /* MaxAuthenticating */
	uint64_t auth_refused;        /* a method failed or was not allowed */
	uint64_t access_refused;      /* joins and sends the rules refused */
};

struct chd {
	struct conf conf;
	struct acl_ip acl;
	int have_acl;
	struct auth_keys hmac_keys;  /* HmacSecretsFile (auth.c) */
	struct iplimit iplimit;      /* sessions per client address */
	int64_t refusal_log_ms;      /* auth_log_refusal's rate limit */
	unsigned refusal_log_n, refusal_log_skipped;
	int host;                   /* index of this daemon in conf.hosts */
	char name[WIRE_MAX_DAEMON + 1];
	uint32_t daemon_id;         /* IPv4 address, host order */
	uint16_t port;
	char unix_path[CONF_PATH_MAX + 8];
	int max_sessions;

	int ep;                     /* epoll descriptor */
	int spare_fd;               /* given up when out of descriptors */
	struct chd_listener listeners[CHD_MAX_LISTENERS];
	int n_listeners;
	int64_t now_ms;             /* the clock, read once per iteration */
	volatile sig_atomic_t stop;
	volatile sig_atomic_t reload; /* SIGHUP: ring keys, TLS files again */
	struct tls_server *tls;     /* NULL when TlsPort is not set */

	struct sess *sessions;      /* every session, newest first */
	unsigned n_sessions, n_handshaking;
	struct sess **names;        /* private-name hash table */
	uint32_t n_name_buckets;
	struct sess *hs_head, *hs_tail; /* handshaking, by deadline */
	struct sess *dirty;         /* sessions with output to flush */
	struct sess *to_free;       /* freed at the end of the iteration */
	uint64_t next_sess_id;
	uint64_t mark;              /* delivery stamp generator */
	uint64_t rng;               /* for random private names */

	struct gview gv;            /* the segment's groups (groups.c) */
	struct ord *ord;
	int conf_known;             /* a configuration was installed */
	int32_t memb_id[2];         /* current configuration id */

	/* The ring (a segment of several daemons) and the UDP socket, which
	 * also answers chorus-monitor (status.h). */
	int on_ring;
	int have_net;
	struct net_udp net;
	struct rlink link;          /* sealing of ring datagrams */
	/* Test-only loss and jitter on ring input (net_impair.h), active
	 * when CHORUS_TEST_IMPAIR names a control file. */
	const char *impair_path;
	struct net_impair impair;
	char state_path[CONF_PATH_MAX + 64]; /* "" when not writable */
	struct rset_state state;
	int paused;                 /* client input stopped (back-pressure) */
	int64_t start_ms;

	uint8_t *rbuf;              /* shared read buffer */
	size_t rbuf_cap;

	struct chd_stats stats;
};

/* Sets up a daemon from a parsed configuration; `name` is the daemon's
 * name (NULL: find it from the machine's addresses), port_override 0 for
 * the configured one. Returns 0, or -1 with a message in err. */
int chd_init(struct chd *d, const struct conf *c, const char *name,
	     uint16_t port_override, char *err, size_t errlen);
/* Runs the loop until chd_request_stop() or a signal. SIGINT, SIGTERM
 * and SIGHUP, if the caller has them blocked, are taken only while the
 * loop waits (epoll_pwait), so none is left pending until a deadline. */
void chd_run(struct chd *d);
void chd_request_stop(struct chd *d);
/* Asks the loop to reload what can be reloaded (SIGHUP): the ring's key
 * file and the TLS certificate, key and CA files. */
void chd_request_reload(struct chd *d);
/* The second half of a loop iteration, after the sockets were handled:
 * expire handshakes, let the ordering service deliver, write queued
 * output, free retired sessions. Tests and fuzzers call it directly. */
void chd_settle(struct chd *d);
/* Closes every session and listener and frees everything. */
void chd_shutdown(struct chd *d);

/* Called by sessions. */
int chd_name_taken(const struct chd *d, const char *name);
void chd_name_add(struct chd *d, struct sess *s);
struct sess *chd_find_session(const struct chd *d, const char *name,
			      size_t len);
/* The local session that a private group name field "#p#d" names. */
struct sess *chd_session_by_pg(const struct chd *d, const char *field);
void chd_submit(struct chd *d, struct sess *s, struct msg *m);
void chd_mark_dirty(struct chd *d, struct sess *s);
void chd_hs_remove(struct chd *d, struct sess *s);
void chd_retire(struct chd *d, struct sess *s);
int chd_epoll_mod(struct chd *d, struct sess *s, int want_out);
uint32_t chd_rand(struct chd *d);

#endif /* CHORUS_DAEMON_H */
