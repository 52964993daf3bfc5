/*
 * harness.h - starts real chorusd processes on loopback for integration
 * tests, and speaks the raw protocol for tests that must send what no
 * library would.
 *
 * Each daemon gets a fresh temporary directory (its spread.conf, its Unix
 * socket, its log) and a free TCP port. hd_stop() sends SIGTERM, waits,
 * and fails the test if the daemon had died or did not exit cleanly, so
 * every test also checks that the daemon survived what it did.
 */
#ifndef CHORUS_HARNESS_H
#define CHORUS_HARNESS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct hd {
	pid_t pid;
	unsigned port;
	char dir[128];
	char conf[192];
	char log[192];
	char unix_path[192];
	char tcp_addr[64];  /* "port@127.0.0.1", for SP_connect */
	char unix_addr[192]; /* the socket path, for SP_connect */
	uint32_t addr;       /* its TCP address, host order; 0: 127.0.0.1 */
	char name[24];       /* its -n name (several daemons), or "" */
};

/* Several daemons on one segment (hd_ring_start): daemon i is d<i+1> on
 * 127.0.0.<i+1>, all on one port, the ring in unicast mode. */
#define HD_RING_MAX 5
struct hd_ring {
	int n;
	unsigned port;
	struct hd d[HD_RING_MAX];
};

/* Directory for the daemon's Unix socket; NULL (the default) is the
 * daemon's temporary directory. */
extern const char *hd_unix_dir;
/* Owner of the daemons' temporary directories, for daemons that drop
 * root (DaemonUser) and must remove their socket and write their state
 * file there; 0 (the default) leaves them to the test's user. */
/* An unprivileged user for the privilege tests. */
struct hd_user {
	const char *name;
	uid_t uid;
	gid_t gid;
};

/* Skips the case (t_skip, saying why) unless we are root and the system
 * has an unprivileged user, nobody or daemon; else fills u. */
void hd_need_root_and_user(struct hd_user *u);
/* 1 if /proc says pid runs with real, effective, saved and file-system
 * ids all equal to u's, and with no supplementary group 0. */
int hd_runs_as(pid_t pid, const struct hd_user *u);

extern uid_t hd_dir_uid;
extern gid_t hd_dir_gid;

/* Starts chorusd with a one-host configuration plus `extra` lines
 * (may be NULL) and waits until it accepts connections. */
void hd_start(struct hd *d, const char *extra);
/* Like hd_start with extra command-line arguments (NULL-terminated, may
 * be NULL) and, if access_ip is not NULL, a spread.access_ip file with
 * that text in the daemon's working directory. */
void hd_start_ex(struct hd *d, const char *extra, const char *const *args,
		 const char *access_ip);
/* Stops it with SIGTERM; fails the test unless it exits with status 0. */
void hd_stop(struct hd *d);
/* 1 if the daemon process is still running. */
int hd_alive(const struct hd *d);
/* 1 if the daemon's log contains `needle`. */
int hd_log_has(const struct hd *d, const char *needle);
/* Waits up to ms for the log to contain `needle`; 1 if it did. */
int hd_wait_log(const struct hd *d, const char *needle, int ms);

/* Starts n daemons (2..HD_RING_MAX) with `extra` configuration lines and
 * waits until each accepts connections (not until they form a ring). */
void hd_ring_start(struct hd_ring *r, int n, const char *extra);
/* Stops every daemon still running (hd_stop) and removes the files. */
void hd_ring_stop(struct hd_ring *r);
/* Sends sig; for SIGKILL also reaps the process (then it is not running). */
void hd_kill(struct hd *d, int sig);
/* Starts a stopped daemon of a ring again, appending to its log. */
void hd_respawn(struct hd *d);

/* Asks the daemon for its status (status.h) on its UDP port; 1 and *si
 * if it answered within ms. */
struct status_info;
int hd_status(const struct hd *d, struct status_info *si, int ms);

/* A connected socket to the daemon's TCP port or Unix socket. */
int raw_tcp(const struct hd *d);
int raw_unix(const struct hd *d);
/* Sends all bytes; fails the test on error. */
void raw_send(int fd, const void *buf, size_t len);
/* Reads exactly len bytes within ms; returns len, or what it got before
 * EOF (0..len-1), or -1 on timeout. */
ssize_t raw_recv(int fd, void *buf, size_t len, int ms);
/* Waits up to ms for EOF (or a reset); 1 if the connection closed. */
int raw_wait_closed(int fd, int ms);
/* Does the whole handshake for `name` (NULL for none); returns 1 and the
 * private group in pg (32 bytes), or the daemon's negative code, or 0 if
 * the connection closed without a code. */
int raw_connect(int fd, const char *name, int membership, char *pg);
/* Builds a client frame in this machine's order; returns its length.
 * `groups` holds ngroups names (each up to 31 chars). */
size_t raw_frame(uint8_t *out, uint32_t type, const char *sender,
		 int ngroups, const char *const *groups, uint32_t hint,
		 const void *data, int32_t dlen);
/* Reads one daemon frame (header, groups, data) into buf (cap bytes);
 * returns its total length or -1. */
ssize_t raw_read_frame(int fd, uint8_t *buf, size_t cap, int ms);

/* The absolute path of the chorusd under test ($CHORUS_BUILD or build). */
const char *hd_daemon_path(void);

/* A TCP port on 127.0.0.1 that was free a moment ago. */
unsigned hd_free_port(void);

/* Milliseconds of CLOCK_MONOTONIC. */
int64_t t_now_ms(void);

#endif
