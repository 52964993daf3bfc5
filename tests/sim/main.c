/*
 * main.c - ring-sim, the simulator's command line.
 *
 *   ring-sim run --seed N [-v|-vv]     one run; -v prints its trace
 *   ring-sim soak [--seeds N] [--from S] [--jobs J]
 *                                      N random seeds from S, J processes
 *   ring-sim show --seed N             the parameters a seed chooses
 *   ring-sim corpus --seed N --dir D   saves a few packets of each type
 *                                      (the fuzzer's seed corpus)
 *   ring-sim failover [--nodes N]      with the default (LAN) timeouts:
 *                                      time from a crash, from cutting
 *                                      one daemon off (to the
 *                                      configuration of each side), and
 *                                      from the end of a partition, to the
 *                                      new configuration at every daemon
 *
 * Every failure prints the seed, what failed, and the command that
 * replays it exactly. Exit status: 0 if every run passed.
 *
 * For studying convergence only (a run with either is not a check of the
 * documented bound): RING_SIM_BOUND_MS=N replaces every seed's liveness
 * bound (docs/ring-protocol.md, "Timeouts and the liveness bound");
 * RING_SIM_HIST=1 makes soak print "converge SEED MS" on stderr for every
 * seed.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sim.h"

static const char *prog = "ring-sim";

struct corpus {
	const char *dir;
	uint64_t seed;
	unsigned saved[16];
};

/* A filter that loses nothing and saves the first packets of each type. */
static int save_packet(void *ctx, struct sim *s, unsigned from, unsigned to,
		       int type, const uint8_t *pkt, size_t len)
{
	struct corpus *c = ctx;
	char path[512];
	FILE *fp;

	(void)s; (void)from; (void)to;
	unsigned k;

	if (type < 1 || type > 5)
		return 0;
	/* Four ordinary packets of each type and four of each rarer kind:
	 * tokens with requests, recovered data, joins with failures,
	 * commit tokens on their second and third rounds. */
	k = (unsigned)type;
	if ((type == 2 && len > 76) || (type == 1 && len > 41 && (pkt[41] & 1)) ||
	    (type == 3 && len > 43 && (pkt[42] | pkt[43])) ||
	    (type == 4 && len > 32 && pkt[32]))
		k += 8;
	if (c->saved[k] >= 4)
		return 0;
	snprintf(path, sizeof(path), "%s/%s-%llu-%u", c->dir,
		 type == 1 ? "data" : type == 2 ? "token" : type == 3 ? "join" :
		 type == 4 ? "commit" : "probe", (unsigned long long)c->seed * 100 + k,
		 c->saved[k]++);
	fp = fopen(path, "wb");
	if (fp) {
		fwrite(pkt, 1, len, fp);
		fclose(fp);
	}
	return 0;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: %s run --seed N [-v|-vv]\n"
		"       %s soak [--seeds N] [--from S] [--jobs J]\n"
		"       %s show --seed N\n"
		"       %s corpus --seed N --dir D\n"
		"       %s failover [--nodes N]\n"
		"environment (convergence studies, not checks): RING_SIM_BOUND_MS=N\n"
		"  replaces each seed's liveness bound; RING_SIM_HIST=1: soak prints\n"
		"  \"converge SEED MS\" for every seed on stderr\n",
		prog, prog, prog, prog, prog);
	exit(2);
}

static void show(const struct sim_opts *o)
{
	const struct ring_config *c = &o->ring;

	printf("seed %" PRIu64 ": %u daemons, %s ring, token %u ms, hurry %u, "
	       "join %u, consensus %u, merge %u, hold %u\n", o->seed, o->n,
	       c->accelerated ? "accelerated" : "classic", c->token_timeout_ms,
	       c->hurry_ms, c->join_ms, c->consensus_ms, c->merge_ms,
	       c->token_hold_ms);
	printf("  window %u, personal %u, accelerated %u, store %u, queue %u, "
	       "payload %u\n", c->window, c->personal_window, c->accel_window,
	       c->store_slots, c->send_queue_max, c->max_payload);
	printf("  loss %.2f%%, dup %.2f%%, delay %u us + %u jitter, drift %d ppm, "
	       "faults every %u ms, %lld ms of faults\n", o->loss_ppm / 1e4,
	       o->dup_ppm / 1e4, o->delay_us, o->jitter_us, o->drift_ppm,
	       o->fault_every_ms, (long long)o->fault_ms);
	printf("  truncated %.2f%%, late %.2f%%; workload %u bursts/s of up to %u "
	       "messages\n", o->trunc_ppm / 1e4, o->late_ppm / 1e4, o->bursts_per_s,
	       o->burst_max);
}

/* One seed; prints a failure. Returns 0 if it passed. */
static int run_seed(uint64_t seed, int verbose, struct sim_stats *st)
{
	struct sim_opts o;
	struct sim *s;
	int rc;

	sim_opts_from_seed(seed, &o);
	o.verbose = verbose;
	if (verbose)
		show(&o);
	s = sim_new(&o);
	rc = sim_run(s);
	sim_get_stats(s, st);
	if (rc != 0)
		printf("FAIL seed %" PRIu64 ": %s\nreplay: %s run --seed %" PRIu64
		       " -v\n", seed, sim_error(s), prog, seed);
	else if (verbose)
		printf("PASS seed %" PRIu64 ": trace %016" PRIx64 ", %" PRIu64
		       " events, %" PRIu64 " deliveries, converged in %lld ms\n",
		       seed, sim_trace_hash(s), st->events, st->deliveries,
		       (long long)st->converge_ms);
	fflush(stdout);
	sim_free(s);
	return rc;
}

/* Waits until one configuration of mask; returns the ms it took, or -1. */
static int64_t until_converged(struct sim *s, unsigned mask, int64_t within)
{
	int64_t t0 = sim_now_ms(s);

	while (!sim_converged(s, mask)) {
		if (sim_now_ms(s) - t0 > within || sim_run_until(s, sim_now_ms(s) + 1))
			return -1;
	}
	return sim_now_ms(s) - t0;
}

/* Time until the daemons of mask and those of the rest each form one
 * configuration of their own; -1 if not within the given time. */
static int64_t until_split(struct sim *s, unsigned mask, unsigned all,
			   int64_t within)
{
	int64_t t0 = sim_now_ms(s);

	while (!sim_converged(s, mask) || !sim_converged(s, all & ~mask)) {
		if (sim_now_ms(s) - t0 > within || sim_run_until(s, sim_now_ms(s) + 1))
			return -1;
	}
	return sim_now_ms(s) - t0;
}

static int failover(unsigned n, uint64_t seed)
{
	struct sim_opts o;
	struct sim *s;
	unsigned all = (1u << n) - 1, last = 1u << (n - 1), comp[SIM_MAX_NODES];
	int64_t crash_ms, merge_ms, restart_ms, cut_ms, rejoin_ms;

	sim_opts_plain(seed, n, &o);
	ring_config_defaults(&o.ring);
	o.delay_us = 100;
	o.jitter_us = 50;
	o.bursts_per_s = 20;
	o.fault_ms = 0;
	s = sim_new(&o);
	sim_run_until(s, 5000);
	if (until_converged(s, 0, 10000) < 0)
		return 1;
	sim_crash(s, n - 1);
	crash_ms = until_converged(s, all & ~(1u << (n - 1)), 20000);
	sim_run_until(s, sim_now_ms(s) + 2000);
	sim_restart(s, n - 1);
	restart_ms = until_converged(s, 0, 20000);
	sim_run_until(s, sim_now_ms(s) + 2000);
	for (unsigned i = 0; i < n; i++)
		comp[i] = i == n - 1;
	sim_partition(s, comp);
	cut_ms = until_split(s, last, all, 20000);
	sim_run_until(s, sim_now_ms(s) + 2000);
	sim_heal(s);
	rejoin_ms = until_converged(s, 0, 20000);
	sim_run_until(s, sim_now_ms(s) + 2000);
	for (unsigned i = 0; i < n; i++)
		comp[i] = i < n / 2;
	sim_partition(s, comp);
	sim_run_until(s, sim_now_ms(s) + 5000);
	sim_heal(s);
	merge_ms = until_converged(s, 0, 20000);
	printf("%u daemons, LAN defaults (token %u ms, consensus %u, join %u, "
	       "merge %u): crash -> new configuration %lld ms; restart -> "
	       "joined %lld ms; one daemon cut off -> a configuration on each "
	       "side %lld ms, healed -> merged %lld ms; partition healed -> "
	       "merged %lld ms\n", n,
	       o.ring.token_timeout_ms, o.ring.consensus_ms, o.ring.join_ms,
	       o.ring.merge_ms, (long long)crash_ms, (long long)restart_ms,
	       (long long)cut_ms, (long long)rejoin_ms, (long long)merge_ms);
	if (sim_finish(s) != 0) {
		printf("FAIL: %s\n", sim_error(s));
		return 1;
	}
	sim_free(s);
	return crash_ms < 0 || merge_ms < 0 || restart_ms < 0 || cut_ms < 0 ||
	       rejoin_ms < 0;
}

struct totals {
	uint64_t runs, failed, events, deliveries, confs;
	uint64_t crashes, lost_state, mass_crashes, link_bursts, truncated, late;
	int64_t max_converge;
};

static void totals_add(struct totals *a, const struct totals *t)
{
	a->runs += t->runs;
	a->failed += t->failed;
	a->events += t->events;
	a->deliveries += t->deliveries;
	a->confs += t->confs;
	a->crashes += t->crashes;
	a->lost_state += t->lost_state;
	a->mass_crashes += t->mass_crashes;
	a->link_bursts += t->link_bursts;
	a->truncated += t->truncated;
	a->late += t->late;
	if (t->max_converge > a->max_converge)
		a->max_converge = t->max_converge;
}

static void soak_worker(uint64_t from, uint64_t n, unsigned job, unsigned jobs,
			int fd)
{
	struct totals t;

	memset(&t, 0, sizeof(t));
	if (getenv("RING_SIM_HIST"))
		setvbuf(stderr, NULL, _IOLBF, 0);
	for (uint64_t i = job; i < n; i += jobs) {
		struct sim_stats st;
		struct totals one;

		memset(&one, 0, sizeof(one));
		one.failed = run_seed(from + i, 0, &st) != 0;
		one.runs = 1;
		one.events = st.events;
		one.deliveries = st.deliveries;
		one.confs = st.confs_regular;
		one.crashes = st.crashes;
		one.lost_state = st.lost_state;
		one.mass_crashes = st.mass_crashes;
		one.link_bursts = st.link_bursts;
		one.truncated = st.truncated;
		one.late = st.late;
		one.max_converge = st.converge_ms;
		totals_add(&t, &one);
		if (getenv("RING_SIM_HIST"))
			fprintf(stderr, "converge %" PRIu64 " %lld\n", from + i,
				(long long)st.converge_ms);
	}
	if (write(fd, &t, sizeof(t)) != (ssize_t)sizeof(t))
		exit(3);
}

static int soak(uint64_t from, uint64_t n, unsigned jobs)
{
	struct totals all;
	int fds[2];

	memset(&all, 0, sizeof(all));
	if (pipe(fds) != 0)
		return 2;
	for (unsigned j = 0; j < jobs; j++) {
		pid_t p = fork();

		if (p == 0) {
			close(fds[0]);
			soak_worker(from, n, j, jobs, fds[1]);
			_exit(0);
		}
	}
	close(fds[1]);
	for (unsigned j = 0; j < jobs; j++) {
		struct totals t;

		if (read(fds[0], &t, sizeof(t)) != (ssize_t)sizeof(t)) {
			fprintf(stderr, "%s: a worker died\n", prog);
			all.failed++;
			continue;
		}
		totals_add(&all, &t);
	}
	while (wait(NULL) > 0)
		;
	printf("%" PRIu64 " seeds from %" PRIu64 ": %" PRIu64 " failed; %" PRIu64
	       " events, %" PRIu64 " deliveries, %" PRIu64 " regular configurations, "
	       "slowest convergence %lld ms\n", all.runs, from, all.failed,
	       all.events, all.deliveries, all.confs, (long long)all.max_converge);
	printf("faults: %" PRIu64 " crashes (%" PRIu64 " losing saved state), %" PRIu64
	       " crashes of more than half, %" PRIu64 " loss bursts on links, %" PRIu64
	       " truncated and %" PRIu64 " late packets\n", all.crashes, all.lost_state,
	       all.mass_crashes, all.link_bursts, all.truncated, all.late);
	return all.failed || all.runs != n ? 1 : 0;
}

int main(int argc, char **argv)
{
	uint64_t seed = 1, seeds = 1000, from = 1;
	long jobs = sysconf(_SC_NPROCESSORS_ONLN);
	int verbose = 0, have_seed = 0;
	long nodes = 0;
	const char *dir = NULL;
	const char *cmd;

	if (argc < 2)
		usage();
	setvbuf(stdout, NULL, _IOLBF, 0);
	cmd = argv[1];
	for (int i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--seed") && i + 1 < argc) {
			seed = strtoull(argv[++i], NULL, 0);
			have_seed = 1;
		} else if (!strcmp(argv[i], "--seeds") && i + 1 < argc) {
			seeds = strtoull(argv[++i], NULL, 0);
		} else if (!strcmp(argv[i], "--from") && i + 1 < argc) {
			from = strtoull(argv[++i], NULL, 0);
		} else if (!strcmp(argv[i], "--jobs") && i + 1 < argc) {
			jobs = strtol(argv[++i], NULL, 0);
		} else if (!strcmp(argv[i], "--dir") && i + 1 < argc) {
			dir = argv[++i];
		} else if (!strcmp(argv[i], "--nodes") && i + 1 < argc) {
			nodes = strtol(argv[++i], NULL, 0);
		} else if (!strcmp(argv[i], "-v")) {
			verbose = 1;
		} else if (!strcmp(argv[i], "-vv")) {
			verbose = 2;
		} else {
			usage();
		}
	}
	if (jobs < 1)
		jobs = 1;
	if (!strcmp(cmd, "run")) {
		struct sim_stats st;

		if (!have_seed)
			usage();
		return run_seed(seed, verbose ? verbose : 1, &st) ? 1 : 0;
	}
	if (!strcmp(cmd, "show")) {
		struct sim_opts o;

		sim_opts_from_seed(seed, &o);
		show(&o);
		return 0;
	}
	if (!strcmp(cmd, "plain")) {
		/* A perfect network, no faults, a little traffic. */
		struct sim_opts o;
		struct sim *s;
		int rc;

		sim_opts_plain(seed, (unsigned)(nodes ? nodes : 3), &o);
		o.verbose = verbose;
		o.bursts_per_s = 5;
		s = sim_new(&o);
		rc = sim_run(s);
		{
			struct sim_stats st;

			sim_get_stats(s, &st);
			printf("%s: %s %" PRIu64 " events, %" PRIu64 " packets, %" PRIu64
			       " submitted, %" PRIu64 " deliveries\n", rc ? "FAIL" : "PASS",
			       rc ? sim_error(s) : "", st.events, st.packets, st.submitted,
			       st.deliveries);
		}
		sim_free(s);
		return rc ? 1 : 0;
	}
	if (!strcmp(cmd, "corpus") && dir) {
		struct corpus c;
		struct sim_opts o;
		struct sim *s;

		memset(&c, 0, sizeof(c));
		c.dir = dir;
		c.seed = seed;
		/* Lossy, with faults: tokens carry requests, joins fail sets,
		 * recovery resends old messages. */
		sim_opts_plain(seed, 4, &o);
		o.bursts_per_s = 20;
		o.loss_ppm = 100000;
		o.fault_every_ms = 150;
		o.max_crashed = 1;
		s = sim_new(&o);
		sim_set_filter(s, save_packet, &c);
		sim_run_until(s, 400 + (int64_t)(seed % 7) * 300);
		sim_free(s);
		return 0;
	}
	if (!strcmp(cmd, "failover"))
		return failover((unsigned)(nodes ? nodes : 5), seed);
	if (!strcmp(cmd, "soak"))
		return soak(from, seeds, (unsigned)jobs);
	usage();
	return 2;
}
