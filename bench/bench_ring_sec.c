/*
 * bench_ring_sec.c - the CPU cost of sealing and opening ring datagrams
 * (src/daemon/ring_sec.c) in one process: per suite and datagram size,
 * nanoseconds per seal and per open and the bytes per second one core
 * could seal, next to a plain memcpy of the same datagram (what the
 * clear ring's send path does anyway). Seals and opens are timed in runs
 * of BATCH datagrams (the clock is read once a run, not once a
 * datagram), and each figure is the median of PASSES passes: the machine
 * is shared, and one pass that another process interrupted would
 * otherwise move it. Figures only.
 *
 * usage: bench_ring_sec [count]   (default 200000 datagrams per pass)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon/ring_sec.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static struct rsec *mk(uint8_t suite, uint32_t id)
{
	struct rsec_keys k;
	struct rsec *s;
	uint8_t salt[RSEC_SALT_LEN] = { 1, 2, 3, 4, 5, 6, 7, (uint8_t)id };
	char err[200];

	memset(&k, 0, sizeof(k));
	k.n = 1;
	k.key[0].id = 1;
	for (int i = 0; i < RSEC_KEY_LEN; i++)
		k.key[0].k[i] = (uint8_t)(i * 7 + 1);
	if (rsec_new(&k, suite, id, 1, salt, &s, err, sizeof(err)) != 0) {
		fprintf(stderr, "bench_ring_sec: %s\n", err);
		exit(1);
	}
	return s;
}

#define BATCH 16
#define PASSES 5

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return v[n / 2];
}

/* One pass of n datagrams of `size` bytes sealed by a and opened by b:
 * the seconds spent sealing and opening; *bad counts failed opens. */
static void pass(struct rsec *a, struct rsec *b, size_t size, long n,
		 double *seal_s, double *open_s, long *bad)
{
	static uint8_t pkt[2048], dg[BATCH][2048 + RSEC_OVERHEAD],
		scratch[2048];
	int len[BATCH];

	*seal_s = *open_s = 0;
	for (long i = 0; i < n; i += BATCH) {
		int k = n - i < BATCH ? (int)(n - i) : BATCH;
		double t0, t1, t2;

		t0 = now_s();
		for (int j = 0; j < k; j++) {
			pkt[0] = (uint8_t)(i + j);
			len[j] = rsec_seal(a, pkt, size, dg[j], sizeof(dg[j]));
		}
		t1 = now_s();
		for (int j = 0; j < k; j++) {
			const uint8_t *body;
			size_t bl;
			uint32_t from;

			*bad += len[j] < 0 ||
				rsec_open(b, dg[j], (size_t)len[j], scratch,
					  sizeof(scratch), &body, &bl,
					  &from) != RSEC_OK;
		}
		t2 = now_s();
		*seal_s += t1 - t0;
		*open_s += t2 - t1;
	}
}

int main(int argc, char **argv)
{
	static const uint8_t suites[3] = { RSEC_SUITE_GMAC, RSEC_SUITE_AES_GCM,
					   RSEC_SUITE_CHACHA };
	static const size_t sizes[3] = { 100, 600, 1400 };
	static uint8_t pkt[2048], dg[2048 + RSEC_OVERHEAD];
	long n = argc > 1 ? atol(argv[1]) : 200000;

	if (n < 1000)
		n = 1000;
	printf("ring datagram sealing, one core, %ld datagrams per pass, "
	       "median of %d passes\n", n, PASSES);
	printf("%-34s %6s %9s %9s %10s\n", "suite", "bytes", "seal ns", "open ns",
	       "seal MB/s");
	for (size_t z = 0; z < 3; z++) {
		double t0 = now_s(), t1;
		volatile uint8_t sink = 0;

		for (long i = 0; i < n; i++) {
			pkt[0] = (uint8_t)i;
			memcpy(dg, pkt, sizeof(pkt) < sizes[z] ? sizeof(pkt) : sizes[z]);
			sink ^= dg[i % sizes[z]];
		}
		t1 = now_s();
		printf("%-34s %6zu %9.0f %9s %10.0f\n", "clear (memcpy)", sizes[z],
		       (t1 - t0) / (double)n * 1e9, "-",
		       (double)sizes[z] * (double)n / (t1 - t0) / 1e6);
		(void)sink;
	}
	for (int s = 0; s < 3; s++) {
		for (size_t z = 0; z < 3; z++) {
			struct rsec *a = mk(suites[s], 1), *b = mk(suites[s], 2);
			double seal_v[PASSES], open_v[PASSES], seal_s, open_s;
			long bad = 0;

			for (int p = 0; p < PASSES; p++)
				pass(a, b, sizes[z], n, &seal_v[p], &open_v[p], &bad);
			seal_s = median(seal_v, PASSES);
			open_s = median(open_v, PASSES);
			printf("%-34s %6zu %9.0f %9.0f %10.0f%s\n",
			       rsec_suite_name(suites[s]), sizes[z],
			       seal_s / (double)n * 1e9, open_s / (double)n * 1e9,
			       (double)sizes[z] * (double)n / seal_s / 1e6,
			       bad ? " (some did not open!)" : "");
			rsec_free(a);
			rsec_free(b);
		}
	}
	return 0;
}
