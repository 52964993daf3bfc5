/*
 * test_ring_sim.c - the ring (src/ring/) under the deterministic simulator
 * (tests/sim/): random seeds, each a run with faults, healing, liveness
 * and every checker of sim_check.c; the same seed gives the same trace.
 *
 * make check runs SIM_SEEDS seeds in chunks of SIM_CHUNK (10,000 as
 * built, 2,000 under the sanitizers, which are about five times slower);
 * CHORUS_SIM_SEEDS=N overrides. `make sim-soak SEEDS=N` runs any number.
 * A failure names the seed and the command that replays it.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/sim.h"
#include "t.h"

#if defined(__SANITIZE_ADDRESS__)
#define SIM_SEEDS 2000
#else
#define SIM_SEEDS 10000
#endif
#define SIM_CHUNKS 10

static uint64_t seeds_total(void)
{
	const char *e = getenv("CHORUS_SIM_SEEDS");

	return e ? strtoull(e, NULL, 0) : SIM_SEEDS;
}

static void run_seed(uint64_t seed)
{
	struct sim_opts o;
	struct sim *s;
	int rc;

	sim_opts_from_seed(seed, &o);
	s = sim_new(&o);
	rc = sim_run(s);
	if (rc != 0) {
		static char err[2200];

		snprintf(err, sizeof(err), "%s", sim_error(s));
		sim_free(s);
		t_fail(__FILE__, __LINE__, "seed %" PRIu64 ": %s; replay: "
		       "build/ring-sim run --seed %" PRIu64 " -v", seed, err, seed);
	}
	sim_free(s);
}

/* Chunk k of the seeds 1..total. */
static void chunk(unsigned k)
{
	uint64_t total = seeds_total(), per = (total + SIM_CHUNKS - 1) / SIM_CHUNKS;

	for (uint64_t seed = 1 + k * per; seed <= total && seed <= (k + 1) * per; seed++)
		run_seed(seed);
}

#define CHUNK(k) static void seeds_##k(void) { chunk(k); }
CHUNK(0) CHUNK(1) CHUNK(2) CHUNK(3) CHUNK(4)
CHUNK(5) CHUNK(6) CHUNK(7) CHUNK(8) CHUNK(9)

static uint64_t trace_of(uint64_t seed)
{
	struct sim_opts o;
	struct sim *s;
	uint64_t h;

	sim_opts_from_seed(seed, &o);
	s = sim_new(&o);
	T_ASSERTF(sim_run(s) == 0, "seed %" PRIu64 ": %s", seed, sim_error(s));
	h = sim_trace_hash(s);
	sim_free(s);
	return h;
}

/* The same seed gives the same trace; other seeds give others. */
static void same_seed_same_trace(void)
{
	static const uint64_t seeds[] = { 1, 42, 1673, 35999, 123456789 };
	uint64_t h[T_COUNT(seeds)];

	for (size_t i = 0; i < T_COUNT(seeds); i++) {
		h[i] = trace_of(seeds[i]);
		T_ASSERTF(trace_of(seeds[i]) == h[i], "seed %" PRIu64 " ran differently",
			  seeds[i]);
		for (size_t k = 0; k < i; k++)
			T_ASSERT(h[k] != h[i]);
	}
}

/* A perfect network: one configuration, every message everywhere. */
static void perfect_network(void)
{
	for (unsigned n = 1; n <= SIM_MAX_NODES; n++) {
		struct sim_opts o;
		struct sim_stats st;
		struct sim *s;

		sim_opts_plain(n, n, &o);
		o.bursts_per_s = 20;
		o.burst_max = 20;
		o.fault_ms = 2000;
		s = sim_new(&o);
		T_ASSERTF(sim_run(s) == 0, "%u daemons: %s", n, sim_error(s));
		sim_get_stats(s, &st);
		/* Daemons start up to a token timeout apart: each arrival
		 * makes one more configuration at most, nothing else does. */
		T_ASSERTF(st.confs_regular <= n * (n + 1) / 2, "%u daemons: %" PRIu64
			  " regular configurations", n, st.confs_regular);
		T_ASSERT(st.deliveries >= st.submitted);
		sim_free(s);
	}
}

/* Seeds that once failed, each for a bug since fixed (outside the range
 * the chunks run, or inside it only as built, not under the sanitizers). */
static void regressions(void)
{
	static const uint64_t seeds[] = {
		148060,  /* two daemons waited forever on a third's restart */
		1136304, /* an incarnation learned from a join: joins dropped */
		1086341, /* the same */
		35999, 245, 1712, 772, 1323, 392, 717, 112, /* gather livelocks */
		7504, /* recovery of 340 messages at a personal window of 1 */
	};

	for (size_t i = 0; i < T_COUNT(seeds); i++)
		run_seed(seeds[i]);
}

static const struct t_case cases[] = {
	T_CASE_TIMEOUT(regressions, 120),
	T_CASE(perfect_network),
	T_CASE_TIMEOUT(same_seed_same_trace, 60),
	T_CASE_TIMEOUT(seeds_0, 300), T_CASE_TIMEOUT(seeds_1, 300),
	T_CASE_TIMEOUT(seeds_2, 300), T_CASE_TIMEOUT(seeds_3, 300),
	T_CASE_TIMEOUT(seeds_4, 300), T_CASE_TIMEOUT(seeds_5, 300),
	T_CASE_TIMEOUT(seeds_6, 300), T_CASE_TIMEOUT(seeds_7, 300),
	T_CASE_TIMEOUT(seeds_8, 300), T_CASE_TIMEOUT(seeds_9, 300),
};

int main(int argc, char **argv)
{
	return t_main(argc, argv, cases, T_COUNT(cases));
}
