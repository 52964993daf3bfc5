/*
 * sim.h - the deterministic simulator of the ring (src/ring/).
 *
 * N ring cores (1 to 9) run in one process over a simulated network and a
 * simulated clock. Everything random comes from one seed through one PRNG
 * (xoshiro256**, seeded by splitmix64), drawn in the order events happen,
 * so the same seed gives the same run, byte for byte: the trace hash
 * (every packet, delivery and configuration) proves it.
 *
 * The network: loss, duplication, delay with jitter (hence reordering),
 * partitions into any components, asymmetric links, slow daemons, and a
 * packet filter for scripted scenarios. The daemons: crashes and restarts
 * (a new incarnation), clock drift (each has its own rate and offset), and
 * a workload of bursts of every service level and size.
 *
 * Checkers (sim_check.c) watch every delivery and configuration as it
 * happens and check the whole history at the end: total order, no
 * duplicate, invented or altered message, FIFO, causal order,
 * self-delivery, identical configurations, virtual synchrony, safe
 * delivery, transitional configurations, and liveness.
 *
 * Ownership: sim_new() allocates everything; sim_free() frees it.
 */
#ifndef CHORUS_SIM_H
#define CHORUS_SIM_H

#include <stdint.h>
#include <stdio.h>

#include "ring/ring.h"

#define SIM_MAX_NODES 9

struct sim_opts {
	uint64_t seed;
	unsigned n;              /* daemons, 1..SIM_MAX_NODES */
	struct ring_config ring; /* timeouts, windows, sizes (ids set by sim) */

	/* Network during the fault phase. */
	uint32_t loss_ppm;   /* per packet, parts per million */
	uint32_t dup_ppm;
	uint32_t delay_us;   /* one way, minimum */
	uint32_t jitter_us;  /* uniform extra delay: reorders packets */
	int32_t drift_ppm;   /* clock rates within +-drift_ppm */

	uint32_t trunc_ppm;  /* a copy cut short (the core must drop it) */
	uint32_t late_ppm;   /* held back 2 to 20 token timeouts (stale) */

	/* Random faults (partitions, asymmetric links, crashes, restarts
	 * with or without saved state, crashes of more than half the
	 * daemons, loss bursts on links, slow daemons, loss changes), mean
	 * time between two, 0: none. */
	uint32_t fault_every_ms;
	unsigned max_crashed; /* single crashes: at most this many down */

	/* Workload: bursts per second per daemon, messages per burst. */
	uint32_t bursts_per_s;
	uint32_t burst_max;
	uint32_t size_max; /* largest message (<= ring.max_payload) */

	int64_t fault_ms;  /* length of the fault phase */
	int64_t bound_ms;  /* liveness: convergence within this after healing */
	int verbose;       /* 1: print the trace to stdout */
	/* Mutant check only: the checker sees configuration ids without
	 * the representative's incarnation (the ids of ring packet version
	 * 1 cores), to show it catches the collisions that allowed. */
	int legacy_conf_ids;
};

struct sim;

/* Fills o with the parameters a seed chooses (n, timeouts, windows,
 * network, faults, workload); the same seed always gives the same. */
void sim_opts_from_seed(uint64_t seed, struct sim_opts *o);
/* A quiet, perfect network of n daemons with no faults and no workload. */
void sim_opts_plain(uint64_t seed, unsigned n, struct sim_opts *o);

struct sim *sim_new(const struct sim_opts *o);
void sim_free(struct sim *s);

/* The whole run: fault phase, healing, liveness, final checks. Returns 0,
 * or -1 with sim_error() saying what failed. */
int sim_run(struct sim *s);

/* Runs events until simulated time t_ms (from the start). Returns 0, or
 * -1 once a checker has failed. */
int sim_run_until(struct sim *s, int64_t t_ms);
int64_t sim_now_ms(const struct sim *s);

/* Heals every fault, stops the workload, waits up to bound_ms for one
 * configuration of all live daemons, has each send a last message and
 * checks that all get all; then the end-of-run checks. Returns 0 or -1. */
int sim_finish(struct sim *s);

const char *sim_error(const struct sim *s);
uint64_t sim_trace_hash(const struct sim *s);

/* Scenario controls (take effect at the current simulated time). */
void sim_partition(struct sim *s, const unsigned *component); /* per node */
void sim_heal(struct sim *s);
void sim_block(struct sim *s, unsigned from, unsigned to, int blocked);
void sim_crash(struct sim *s, unsigned i);
void sim_restart(struct sim *s, unsigned i);
/* Restarts daemon i as from an empty disk: the shell lost the ring seq
 * it saved (ring_seq_base 1); the incarnation still grows. */
void sim_restart_lost(struct sim *s, unsigned i);
void sim_set_loss(struct sim *s, uint32_t loss_ppm);
void sim_set_slow(struct sim *s, unsigned i, uint32_t extra_us);
void sim_set_trunc(struct sim *s, uint32_t trunc_ppm);
/* A loss burst: the link from -> to (SIM_ALL: every daemon) loses every
 * packet for ms milliseconds. */
#define SIM_ALL 0xffu
void sim_link_burst(struct sim *s, unsigned from, unsigned to, uint32_t ms);
/* Hands daemon `to` a copy of a packet as if daemon `from` sent it now
 * (a very late packet, for scenarios). */
void sim_inject(struct sim *s, unsigned from, unsigned to, const uint8_t *pkt,
		size_t len);
/* Submits count messages from daemon i (service -1: random). */
void sim_submit(struct sim *s, unsigned i, unsigned count, int service);

/* A filter sees every packet as it is sent (type from ring_pkt.h) and
 * returns 1 to lose it. */
typedef int (*sim_filter_fn)(void *ctx, struct sim *s, unsigned from,
			     unsigned to, int type, const uint8_t *pkt,
			     size_t len);
void sim_set_filter(struct sim *s, sim_filter_fn f, void *ctx);

/* Daemon i's core (NULL while crashed) and its id. */
struct ring *sim_ring(struct sim *s, unsigned i);
uint32_t sim_id(const struct sim *s, unsigned i);

/* 1 if every live daemon is operational in one configuration whose
 * members are exactly the live daemons (and those of `among`, if not 0,
 * a bit mask of nodes, restricted to them). */
int sim_converged(struct sim *s, unsigned among);

struct sim_stats {
	uint64_t events, packets, packets_lost, deliveries, confs_regular;
	uint64_t confs_trans, submitted, crashes, faults;
	uint64_t truncated, late, lost_state, mass_crashes, link_bursts;
	int64_t converge_ms; /* after healing, until one configuration */
};
void sim_get_stats(const struct sim *s, struct sim_stats *st);

#endif /* CHORUS_SIM_H */
