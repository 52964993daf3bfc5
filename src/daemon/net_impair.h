/*
 * net_impair.h - a test-only impairment of the ring's receive path: each
 * datagram read from the ring's sockets is dropped with probability
 * loss_pct, or held for a random 0..jitter_ms milliseconds (so datagrams
 * are delayed and reordered), drawn from a seeded generator.
 *
 * It stands in for tc netem where the kernel has none (the network-
 * namespace tests, docs/netns-tests.md). It is off unless chorusd was
 * started with CHORUS_TEST_IMPAIR naming a control file, which only the
 * tests set; the file's contents switch it on and off while the daemon
 * runs (net_impair_reload):
 *
 *   loss=PCT jitter=MS seed=N     (any of them; an empty or absent file:
 *                                  off, held datagrams still come out)
 *
 * The ring's core never sees it: the daemon's shell passes datagrams
 * through it between the socket and the core, and releases the due ones
 * before the core runs.
 *
 * Ownership: struct net_impair is the caller's (zeroed, or net_impair_free
 * after use); it owns the copies of the datagrams it holds.
 */
#ifndef CHORUS_NET_IMPAIR_H
#define CHORUS_NET_IMPAIR_H

#include <stddef.h>
#include <stdint.h>

#define NET_IMPAIR_MAX_HELD 16384   /* datagrams held at most */
#define NET_IMPAIR_JITTER_MAX 10000 /* ms */
#define NET_IMPAIR_RELOAD_MS 200    /* how often the control file is read */

struct net_impair_params {
	int on;
	unsigned loss_pct;  /* 0..100 */
	unsigned jitter_ms; /* 0..NET_IMPAIR_JITTER_MAX */
	uint64_t seed;
};

struct net_impair_held;

struct net_impair_stats {
	uint64_t in, dropped, delayed, released, overflow;
};

struct net_impair {
	struct net_impair_params p;
	uint64_t rng;
	uint64_t next_seq;             /* ties of equal due times: FIFO */
	struct net_impair_held **heap; /* min-heap by (due, seq) */
	unsigned n_held;
	int64_t reload_ms;             /* next read of the control file */
	char text[128];                /* its last contents */
	struct net_impair_stats stats;
};

/* Parses the control file's text into p (p->on set when not blank).
 * Returns 0, or -1 with a message in err. */
int net_impair_parse(const char *text, struct net_impair_params *p, char *err,
		     size_t errlen);
/* Applies parameters; `mix` (the daemon's id) is folded into the seed so
 * that daemons given one seed draw differently. */
void net_impair_set(struct net_impair *im, const struct net_impair_params *p,
		    uint64_t mix);
/* Re-reads the control file at `path` if NET_IMPAIR_RELOAD_MS have passed
 * and applies what changed (the counters restart when it is switched
 * on). Returns 1 if the parameters changed, 0 if
 * not, -1 if the file is bad (err says why; the impairment is then off). */
int net_impair_reload(struct net_impair *im, const char *path, int64_t now_ms,
		      uint64_t mix, char *err, size_t errlen);
/* A datagram from `from`: 0 if the impairment is off (the caller handles
 * it now), 1 if it was dropped or is held (copied). */
int net_impair_take(struct net_impair *im, int64_t now_ms, uint32_t from,
		    const uint8_t *data, size_t len);
/* Hands every held datagram due at now_ms to fn, in due order. */
void net_impair_release(struct net_impair *im, int64_t now_ms,
			void (*fn)(void *ctx, uint32_t from, const uint8_t *data,
				   size_t len),
			void *ctx);
/* The earliest due time of a held datagram, or -1. */
int64_t net_impair_next_ms(const struct net_impair *im);
/* Frees the held datagrams (unreleased ones are lost, as on exit). */
void net_impair_free(struct net_impair *im);

#endif /* CHORUS_NET_IMPAIR_H */
