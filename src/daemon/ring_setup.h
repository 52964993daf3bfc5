/*
 * ring_setup.h - from spread.conf to the ring: the ring's configuration,
 * the configuration hash that keeps daemons with different settings
 * apart, the transport mode, and the small state file that keeps
 * incarnations and configuration ids growing across restarts.
 *
 * The hash is taken over a canonical text (rset_canonical) built from the
 * parsed configuration, not over the file: comments, blank space, the
 * order of host entries and interfaces, and settings that only concern
 * one daemon (logging, Unix socket directory, session limits, runtime
 * directory) do not change it; the segments with their hosts, the ring's
 * timeouts, windows, payload size and the transport do.
 *
 * Pure except rset_state_load/save, which read and write the state file.
 */
#ifndef CHORUS_RING_SETUP_H
#define CHORUS_RING_SETUP_H

#include <stddef.h>
#include <stdint.h>

#include "conf.h"
#include "net_udp.h"
#include "ring/ring.h"

/* Fills rc for the daemon of host index `host`: the members are the
 * hosts of its segment; my_id, incarnation and ring_seq_base are left
 * for the caller; conf_hash is set. Returns 0, or -1 with err. */
int rset_ring_config(const struct conf *c, int host, struct ring_config *rc,
		     char *err, size_t errlen);

/* The canonical text of what all daemons of the segment must agree on;
 * returns its length (truncated to cap - 1, always terminated). */
size_t rset_canonical(const struct conf *c, int segment, char *buf,
		      size_t cap);
uint32_t rset_conf_hash(const struct conf *c, int segment);

/* The transport: the configured one, or what auto picks. */
enum net_mode rset_transport(const struct conf *c, int host);

/* What survives a restart (docs/ring-protocol.md, "The shell"). */
struct rset_state {
	uint32_t incarnation;
	uint32_t high_ring_seq;
};

/* The state file's path: <dir>/chorusd-<name>.state. */
void rset_state_path(const char *dir, const char *name, char *out,
		     size_t cap);
/* Reads the file; a missing file gives zeros and returns 0, an unreadable
 * or malformed one returns -1 (and zeros). */
int rset_state_load(const char *path, struct rset_state *st);
/* Writes it (a temporary file renamed into place). Returns 0 or -1. */
int rset_state_save(const char *path, const struct rset_state *st);
/* The next start's numbers: above the saved ones and above the wall
 * clock's seconds (`now_s`), so that they grow even without the file. */
void rset_state_next(const struct rset_state *saved, uint32_t now_s,
		     uint32_t *incarnation, uint32_t *ring_seq_base);

#endif /* CHORUS_RING_SETUP_H */
