/*
 * ring_link.h - the shell around ring_sec: where chorusd seals the ring
 * datagrams it sends and opens the ones it receives (docs/config.md,
 * RingKeyFile). It loads the key file (the name "%h" in its path stands
 * for the daemon's name), draws the boot salt, reloads the keys on
 * SIGHUP, and logs, at most every RLINK_LOG_MS per sender address, how
 * many datagrams failed and why ("N packets from ADDR failed
 * authentication; wrong key?").
 *
 * Without RingKeyFile nothing is sealed: the datagrams are the ring's,
 * byte for byte. Segmentation offload (net_udp.c) is unaffected: every
 * datagram is sealed on its own, before it is queued, so each segment of
 * a segmented send carries its own header and tag.
 *
 * Ownership: struct rlink is the caller's; rlink_setup() allocates, and
 * rlink_close() frees (safe on an instance never set up).
 */
#ifndef CHORUS_RING_LINK_H
#define CHORUS_RING_LINK_H

#include <stddef.h>
#include <stdint.h>

#include "conf.h"
#include "ring_sec.h"

#define RLINK_LOG_MS 10000
#define RLINK_LOG_SLOTS 8

struct rlink_fail {
	uint32_t addr;
	uint64_t forged;   /* failed authentication since the last log */
	uint64_t dropped;  /* replayed or stale since the last log */
	char why[112];     /* the latest failure, in words */
};

struct rlink {
	struct rsec *sec;  /* NULL: datagrams in clear */
	/* A sealed datagram out, and an opened one in: apart, since the core
	 * sends while it still reads the datagram it was given. */
	uint8_t *obuf, *ibuf;
	size_t cap;        /* of each */
	char key_path[CONF_PATH_MAX + 64];
	uid_t key_owner;   /* DaemonUser, who may own the key file (dpriv.h) */
	uint64_t unexpected; /* sealed datagrams while we are in clear */
	uint64_t mismatched; /* opened, but the packet names another sender */
	struct rlink_fail fail[RLINK_LOG_SLOTS];
	unsigned n_fail;
	uint64_t fail_others; /* failures from addresses beyond the slots */
	int64_t next_log_ms;
};

/* Sets up sealing as configured (nothing without RingKeyFile). pkt_max
 * is the largest ring packet. Returns 0, or -1 with a message in err
 * (unreadable or malformed key file, no randomness). */
int rlink_setup(struct rlink *l, const struct conf *c, const char *name,
		uint32_t my_id, uint32_t incarnation, size_t pkt_max,
		char *err, size_t errlen);
void rlink_close(struct rlink *l);

/* Seals a datagram to send: *pkt and *len then describe the sealed one
 * (valid until the next call). Returns 0, or -1 if it could not be sealed
 * (it must not be sent). Without sealing, changes nothing. */
int rlink_seal(struct rlink *l, const uint8_t **pkt, size_t *len);
/* Opens a received datagram from address `from`: returns 1 with *pkt and
 * *len the ring packet, or 0 when it is dropped (counted, logged). */
int rlink_open(struct rlink *l, int64_t now_ms, uint32_t from,
	       const uint8_t **pkt, size_t *len);
/* Writes the failures logged so far when their time has come. */
void rlink_tick(struct rlink *l, int64_t now_ms);
/* Reads the key file again; on error keeps the keys in use and logs. */
void rlink_reload(struct rlink *l);

/* Dropped datagrams: failed authentication (forged, wrong key, in clear
 * when sealed ones are expected or the other way round), replays, stale. */
void rlink_counters(const struct rlink *l, uint64_t *forged,
		    uint64_t *replayed, uint64_t *stale);

/* For `chorusd -t`: reads the key file of daemon `name` (NULL: not
 * known; then a path with %h is not checked, *checked says so). Returns
 * 0, or -1 with a message in err. */
int rlink_check_keys(const struct conf *c, const char *name, int *checked,
		     char *err, size_t errlen);

/* The suite configured (RSEC_SUITE_*), or 0 without RingKeyFile. */
uint8_t rlink_conf_suite(const struct conf *c);

#endif /* CHORUS_RING_LINK_H */
