/*
 * sim_int.h - the simulator's internals, shared by sim.c (network, clock,
 * daemons, faults, workload) and sim_check.c (the checkers).
 */
#ifndef CHORUS_SIM_INT_H
#define CHORUS_SIM_INT_H

#include "sim.h"

struct sim_pkt {
	uint32_t refs;
	uint32_t len;
	uint8_t data[];
};

enum { EV_PKT, EV_WAKE, EV_BURST, EV_FAULT, EV_RESTART };

struct sim_ev {
	int64_t t; /* us */
	uint64_t seq;
	uint8_t type, node, from, late;
	uint32_t gen;
	struct sim_pkt *p;
};

struct sim_node {
	struct sim *s;
	unsigned i;
	uint32_t id;
	struct ring *r; /* NULL while down */
	uint32_t inc;
	int32_t drift_ppm;
	int64_t offset_us;
	int64_t wake_at; /* us, -1: none */
	uint32_t wake_gen;
	uint32_t slow_us;
	unsigned want;   /* messages to submit when the queue has room */
	int want_service; /* -1: random */
	unsigned life;   /* checker's record of this incarnation */
	uint32_t saved_ring_seq; /* what a shell keeps across a restart */
};

struct chk;

struct sim {
	struct sim_opts o;
	uint64_t rng[4];
	int64_t now; /* us */
	struct sim_ev *heap;
	size_t hn, hcap;
	uint64_t evseq;
	struct sim_node nodes[SIM_MAX_NODES];
	unsigned comp[SIM_MAX_NODES];
	uint8_t blocked[SIM_MAX_NODES][SIM_MAX_NODES];
	int64_t burst_until[SIM_MAX_NODES][SIM_MAX_NODES]; /* us */
	uint32_t loss_ppm, dup_ppm, trunc_ppm, late_ppm;
	sim_filter_fn filter;
	void *fctx;
	int workload_on, faults_on;
	uint64_t trace;
	int failed;
	char err[2048];
	struct chk *chk;
	struct sim_stats st;
	int64_t heal_us;
	uint8_t msgbuf[RING_PAYLOAD_MAX_LIMIT];
};

uint64_t sim_rand(struct sim *s);
/* Uniform in [0, n). */
uint64_t sim_below(struct sim *s, uint64_t n);
void sim_fail(struct sim *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void sim_trace(struct sim *s, uint64_t a, uint64_t b);
void sim_log(struct sim *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* sim_check.c */
struct chk *chk_new(struct sim *s);
void chk_free(struct chk *c);
unsigned chk_life_begin(struct sim *s, unsigned node, uint32_t inc);
void chk_life_end(struct sim *s, unsigned life);
/* Writes the next message of a life into buf (len bytes, len >= 12) and
 * returns its number; chk_sent() records it once the core took it. */
uint32_t chk_next_msg(struct sim *s, unsigned life, int service, size_t len,
		      uint8_t *buf);
void chk_sent(struct sim *s, unsigned life, int service, size_t len, int marker);
void chk_deliver(struct sim *s, unsigned life, const struct ring_delivery *d);
void chk_conf(struct sim *s, unsigned life, const struct ring_conf *c);
/* 1 when every live daemon delivered every marker and its own messages. */
int chk_settled(struct sim *s);
int chk_unsettled(struct sim *s, char *why, size_t cap);
/* The end-of-run checks; 0 or -1 (sim_fail called). */
int chk_final(struct sim *s);

#endif /* CHORUS_SIM_INT_H */
