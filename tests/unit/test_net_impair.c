/*
 * test_net_impair.c - the test-only receive impairment
 * (src/daemon/net_impair.c): settings, drop rate, delays within the
 * jitter, reordering, the same draws from the same seed, the bound on
 * held datagrams, and the control file switching it on and off.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/net_impair.h"
#include "t.h"

#define N_PKTS 20000

struct got {
	int n;
	uint32_t seq[N_PKTS]; /* the datagrams' numbers, in release order */
	int64_t at[N_PKTS];   /* when released */
	int64_t now;
};

static void on_release(void *ctx, uint32_t from, const uint8_t *data, size_t len)
{
	struct got *g = ctx;
	uint32_t seq;

	T_EQ(from, 0x0a4d0002u);
	T_EQ(len, 64u);
	memcpy(&seq, data, 4);
	T_ASSERT(g->n < N_PKTS);
	g->seq[g->n] = seq;
	g->at[g->n++] = g->now;
}

/* Feeds N_PKTS datagrams, one per 0.1 ms (ten per ms), releasing as the
 * clock goes, then drains. sent_at[i] is datagram i's arrival. */
static void feed(struct net_impair *im, struct got *g, int64_t *sent_at)
{
	uint8_t pkt[64] = { 0 };

	memset(g, 0, sizeof(*g));
	for (uint32_t i = 0; i < N_PKTS; i++) {
		g->now = 1000 + i / 10;
		net_impair_release(im, g->now, on_release, g);
		memcpy(pkt, &i, 4);
		sent_at[i] = g->now;
		T_EQ(net_impair_take(im, g->now, 0x0a4d0002u, pkt, sizeof(pkt)), 1);
	}
	while (net_impair_next_ms(im) >= 0) {
		g->now = net_impair_next_ms(im);
		net_impair_release(im, g->now, on_release, g);
	}
}

static void parse_settings(void)
{
	struct net_impair_params p;
	char err[256];

	T_EQ(net_impair_parse("loss=5 jitter=10 seed=42\n", &p, err, sizeof(err)), 0);
	T_ASSERT(p.on);
	T_EQ(p.loss_pct, 5u);
	T_EQ(p.jitter_ms, 10u);
	T_EQ(p.seed, 42u);
	T_EQ(net_impair_parse("  \n", &p, err, sizeof(err)), 0);
	T_ASSERT(!p.on);
	T_EQ(net_impair_parse("loss=101", &p, err, sizeof(err)), -1);
	T_ASSERT(strstr(err, "loss=101") != NULL);
	T_EQ(net_impair_parse("jitter=-1", &p, err, sizeof(err)), -1);
	T_EQ(net_impair_parse("jitter=10x", &p, err, sizeof(err)), -1);
	T_EQ(net_impair_parse("delay=3", &p, err, sizeof(err)), -1);
	T_EQ(net_impair_parse("loss", &p, err, sizeof(err)), -1);
	T_ASSERT(strstr(err, "NAME=VALUE") != NULL);
}

static void off_passes_through(void)
{
	struct net_impair im;
	uint8_t pkt[4] = { 1, 2, 3, 4 };

	memset(&im, 0, sizeof(im));
	T_EQ(net_impair_take(&im, 5, 1, pkt, sizeof(pkt)), 0);
	T_EQ(net_impair_next_ms(&im), -1);
	T_EQ(im.stats.in, 0u);
	net_impair_free(&im);
}

/* 5% loss and 0..10 ms: about 5% dropped, every other datagram comes
 * out once, within 10 ms of its arrival, and some overtake others. */
static void loss_and_jitter(void)
{
	static struct got g;
	static int64_t sent_at[N_PKTS];
	static uint8_t seen[N_PKTS];
	struct net_impair im;
	struct net_impair_params p = { .on = 1, .loss_pct = 5, .jitter_ms = 10, .seed = 7 };
	int reordered = 0, late_max = 0;

	memset(&im, 0, sizeof(im));
	net_impair_set(&im, &p, 0x0a4d0001u);
	feed(&im, &g, sent_at);
	T_EQ(im.stats.in, (uint64_t)N_PKTS);
	T_EQ(im.stats.dropped + im.stats.released, (uint64_t)N_PKTS);
	T_EQ((uint64_t)g.n, im.stats.released);
	printf("dropped %llu of %d (%.2f%%)\n", (unsigned long long)im.stats.dropped, N_PKTS,
	       100.0 * (double)im.stats.dropped / N_PKTS);
	/* 5% of 20000 is 1000, standard deviation about 31. */
	T_ASSERT(im.stats.dropped > 850 && im.stats.dropped < 1150);
	for (int i = 0; i < g.n; i++) {
		int64_t late = g.at[i] - sent_at[g.seq[i]];

		T_ASSERT(!seen[g.seq[i]]);
		seen[g.seq[i]] = 1;
		T_ASSERT(late >= 0 && late <= 10);
		if (late > late_max)
			late_max = (int)late;
		if (i > 0 && g.seq[i] < g.seq[i - 1])
			reordered++;
	}
	printf("reordered %d, longest delay %d ms\n", reordered, late_max);
	T_ASSERT(late_max == 10);
	T_ASSERT(reordered > g.n / 10);
	net_impair_free(&im);
}

/* The same seed and daemon give the same draws; another daemon others. */
static void seeded(void)
{
	static struct got a, b, c;
	static int64_t sent_at[N_PKTS];
	struct net_impair im;
	struct net_impair_params p = { .on = 1, .loss_pct = 5, .jitter_ms = 10, .seed = 99 };

	memset(&im, 0, sizeof(im));
	net_impair_set(&im, &p, 1);
	feed(&im, &a, sent_at);
	net_impair_set(&im, &p, 1);
	feed(&im, &b, sent_at);
	net_impair_set(&im, &p, 2);
	feed(&im, &c, sent_at);
	T_EQ(a.n, b.n);
	T_MEMEQ(a.seq, b.seq, (size_t)a.n * sizeof(a.seq[0]));
	T_ASSERT(a.n != c.n || memcmp(a.seq, c.seq, (size_t)a.n * sizeof(a.seq[0])) != 0);
	net_impair_free(&im);
}

/* Past NET_IMPAIR_MAX_HELD held datagrams, more are dropped and counted. */
static void bounded(void)
{
	struct net_impair im;
	struct net_impair_params p = { .on = 1, .jitter_ms = 10000, .seed = 1 };
	uint8_t pkt[8] = { 0 };

	memset(&im, 0, sizeof(im));
	net_impair_set(&im, &p, 1);
	for (int i = 0; i < NET_IMPAIR_MAX_HELD + 10; i++)
		T_EQ(net_impair_take(&im, 0, 1, pkt, sizeof(pkt)), 1);
	T_EQ(im.n_held, (unsigned)NET_IMPAIR_MAX_HELD);
	T_EQ(im.stats.overflow, 10u);
	net_impair_free(&im);
	T_EQ(im.n_held, 0u);
}

/* The control file turns it on and off; a bad one turns it off. */
static void control_file(void)
{
	char path[] = "/tmp/test_net_impair.XXXXXX", err[256];
	struct net_impair im;
	uint8_t pkt[4] = { 0 };
	int fd = mkstemp(path);
	FILE *f;

	T_ASSERT(fd >= 0);
	close(fd);
	memset(&im, 0, sizeof(im));
	T_EQ(net_impair_reload(&im, path, 0, 1, err, sizeof(err)), 0); /* empty: off */
	T_EQ(net_impair_take(&im, 0, 1, pkt, sizeof(pkt)), 0);
	f = fopen(path, "w");
	fputs("loss=0 jitter=3 seed=5\n", f);
	fclose(f);
	T_EQ(net_impair_reload(&im, path, 100, 1, err, sizeof(err)), 0); /* too soon */
	T_EQ(net_impair_reload(&im, path, NET_IMPAIR_RELOAD_MS, 1, err, sizeof(err)), 1);
	T_ASSERT(im.p.on);
	T_EQ(im.p.jitter_ms, 3u);
	T_EQ(net_impair_take(&im, 300, 1, pkt, sizeof(pkt)), 1);
	T_ASSERT(net_impair_next_ms(&im) >= 300 && net_impair_next_ms(&im) <= 303);
	T_EQ(unlink(path), 0); /* gone: off; what is held still comes out */
	T_EQ(net_impair_reload(&im, path, 2 * NET_IMPAIR_RELOAD_MS, 1, err, sizeof(err)), 1);
	T_ASSERT(!im.p.on);
	T_EQ(net_impair_take(&im, 400, 1, pkt, sizeof(pkt)), 0);
	T_EQ(im.n_held, 1u);
	f = fopen(path, "w");
	fputs("loss=200\n", f);
	fclose(f);
	T_EQ(net_impair_reload(&im, path, 3 * NET_IMPAIR_RELOAD_MS, 1, err, sizeof(err)), -1);
	T_ASSERT(strstr(err, "loss=200") != NULL);
	T_ASSERT(!im.p.on);
	unlink(path);
	net_impair_free(&im);
}

static const struct t_case cases[] = {
	T_CASE(parse_settings),
	T_CASE(off_passes_through),
	T_CASE(loss_and_jitter),
	T_CASE(seeded),
	T_CASE(bounded),
	T_CASE(control_file),
};

int main(int argc, char **argv)
{
	return t_main(argc, argv, cases, T_COUNT(cases));
}
