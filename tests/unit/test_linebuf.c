/*
 * test_linebuf.c - line splitting and the overlong-line rule
 * (src/log/linebuf.c): a table of inputs fed whole and byte by byte,
 * random inputs cut into random chunks (and the filter restarted from
 * what is stored, as after a kill) compared with a reference split,
 * lb_fits()/lb_advance() against lb_feed(), and taking back a stored
 * start that turns out overlong.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log/linebuf.h"
#include "t.h"

/* Feeds `in` in chunks of `step` bytes (0: whole) into a "spool" (the
 * output, from which lb_feed() may take back bytes), and finishes; every
 * `restart` chunks (0: never) the filter is replaced by a new one that
 * resumes from what is stored, as a restarted chorus-log does. Returns
 * the output (caller frees) and its line and cut counts. */
static char *split_ex(const char *in, size_t len, size_t max, size_t step,
		      int restart, size_t *olen, uint32_t *lines, uint32_t *cut)
{
	struct linebuf lb;
	char *out;
	size_t o = 0, line_start = 0;
	int chunks = 0;

	T_EQ(lb_init(&lb, max), 0);
	out = malloc(len + lb_out_max(len) + 1);
	*lines = *cut = 0;
	for (size_t i = 0; i < len;) {
		size_t n = step && len - i > step ? step : len - i;
		uint64_t retract = 0;
		size_t w;

		/* (Not inside a line being cut: after such a restart the
		 * marker counts only the bytes the new filter saw.) */
		if (restart && ++chunks % restart == 0 && !lb.cutting) {
			T_EQ(lb_init(&lb, max), 0);
			lb_resume(&lb, o - line_start);
		}
		w = lb_feed(&lb, in + i, n, out + o + 0, &retract, lines, cut);
		if (retract) {
			T_ASSERT(retract <= o - line_start);
			memmove(out + o - retract, out + o, w);
			o -= (size_t)retract;
		}
		o += w;
		{
			char *nl = memrchr(out, '\n', o);

			line_start = nl ? (size_t)(nl - out) + 1 : 0;
		}
		T_EQ(lb.stored, o - line_start);
		i += n;
	}
	o += lb_finish(&lb, out + o, lines, cut);
	out[o] = 0;
	*olen = o;
	return out;
}

static char *split(const char *in, size_t len, size_t max, size_t step,
		   size_t *olen, uint32_t *lines, uint32_t *cut)
{
	return split_ex(in, len, max, step, 0, olen, lines, cut);
}

static void linebuf_table(void)
{
	static const struct {
		const char *in, *out;
		uint32_t lines, cut;
	} cases[] = {
		{ "", "", 0, 0 },
		{ "a\n", "a\n", 1, 0 },
		{ "a\nbb\n\nccc\n", "a\nbb\n\nccc\n", 4, 0 },
		{ "no newline", "no newline\n", 1, 0 },
		{ "a\nrest", "a\nrest\n", 2, 0 },
	};

	for (size_t i = 0; i < T_COUNT(cases); i++)
		for (size_t step = 0; step < 4; step++) {
			uint32_t lines, cut;
			size_t olen;
			char *out = split(cases[i].in, strlen(cases[i].in), 256,
					  step, &olen, &lines, &cut);

			T_STREQ(out, cases[i].out);
			T_EQ(lines, cases[i].lines);
			T_EQ(cut, cases[i].cut);
			free(out);
		}
}

/* A 3 MB line between two short ones, in chunks of every size class:
 * one line cut to max_line bytes with the marker, never split. */
static void linebuf_overlong(void)
{
	static const size_t steps[] = { 0, 1, 7, 4096, 65536 };
	size_t big = 3 * 1024 * 1024, len = big + 20;
	char *in = malloc(len);

	memcpy(in, "first\n", 6);
	memset(in + 6, 'x', big);
	memcpy(in + 6 + big, "\nlast\n", 6);
	len = 6 + big + 6;
	for (size_t s = 0; s < T_COUNT(steps); s++) {
		uint32_t lines, cut;
		size_t olen;
		char *out = split(in, steps[s] == 1 ? 300000 + 12 : len, 1024,
				  steps[s], &olen, &lines, &cut);
		char *l2 = out + 6, *nl = strchr(l2, '\n');
		char marker[80];

		if (steps[s] == 1) {
			/* Byte by byte over a shorter line: 300000 x and
			 * the first 6 bytes of "\nlast\n"... keep it simple:
			 * the line is cut at EOF. */
			snprintf(marker, sizeof(marker),
				 " [chorus-log: line cut, %d bytes]\n", 300006);
			T_EQ(lines, 2);
		} else {
			snprintf(marker, sizeof(marker),
				 " [chorus-log: line cut, %zu bytes]\n", big);
			T_EQ(lines, 3);
			T_STREQ(nl + 1, "last\n");
		}
		T_EQ(cut, 1);
		T_ASSERT(strncmp(out, "first\n", 6) == 0);
		T_ASSERT(nl != NULL);
		T_ASSERT((size_t)(nl - l2) <= 1024);
		T_EQ((size_t)(nl - l2), 1024 - LB_MARKER_MAX + strlen(marker) - 1);
		T_ASSERT(strncmp(nl - (strlen(marker) - 1), marker,
				 strlen(marker) - 1) == 0);
		for (char *c = l2; c < nl - (strlen(marker) - 1); c++)
			T_ASSERT(*c == 'x');
		free(out);
	}
	free(in);
}

/* Exactly max_line bytes is kept whole; one more is cut. */
static void linebuf_boundary(void)
{
	char in[600];
	uint32_t lines, cut;
	size_t olen;
	char *out;

	memset(in, 'y', 256);
	in[256] = '\n';
	out = split(in, 257, 256, 0, &olen, &lines, &cut);
	T_EQ(olen, 257);
	T_EQ(cut, 0);
	free(out);
	memset(in, 'y', 257);
	in[257] = '\n';
	out = split(in, 258, 256, 10, &olen, &lines, &cut);
	T_EQ(cut, 1);
	T_EQ(lines, 1);
	T_ASSERT(strstr(out, "line cut, 257 bytes]\n") != NULL);
	T_ASSERT(olen <= 257);
	free(out);
	T_EQ(lb_init(&(struct linebuf){ 0 }, 100), -1);
}

/* lb_fits() says yes exactly when the output would be the input, and
 * lb_advance() then leaves the same state as lb_feed(). */
static void linebuf_fits(void)
{
	static const struct { const char *stored, *in; int fits; } cases[] = {
		{ "", "abc\nde", 1 },
		{ "", "", 1 },
		{ "xx", "yy\n", 1 },
		{ "", "a\n" /* 300 y follow */, 0 },
		{ "", "\n\n\n", 1 },
	};
	char big[400];

	for (size_t i = 0; i < T_COUNT(cases); i++) {
		struct linebuf a, b;
		char in[600], out[1200];
		size_t len = strlen(cases[i].in);
		uint32_t la = 0, lb2 = 0, ca = 0;
		uint64_t retract;

		memcpy(in, cases[i].in, len);
		if (i == 3) {
			memset(in + len, 'y', 300);
			len += 300;
		}
		T_EQ(lb_init(&a, 256), 0);
		lb_resume(&a, strlen(cases[i].stored));
		b = a;
		T_EQ(lb_fits(&a, in, len), cases[i].fits);
		if (!cases[i].fits)
			continue;
		T_EQ(lb_feed(&a, in, len, out, &retract, &la, &ca), len);
		T_MEMEQ(out, in, len);
		lb_advance(&b, in, len, &lb2);
		T_EQ(la, lb2);
		T_EQ(a.stored, b.stored);
		T_EQ(a.total, b.total);
		T_EQ(a.lines, b.lines);
	}
	/* A stored start that a new chunk pushes over max_line: not as is. */
	{
		struct linebuf a;

		T_EQ(lb_init(&a, 256), 0);
		lb_resume(&a, 250);
		memset(big, 'z', 10);
		T_EQ(lb_fits(&a, big, 10), 0);
	}
}

/* A line whose start is stored turns out overlong: the filter takes back
 * the stored bytes beyond what a cut line keeps. */
static void linebuf_retract(void)
{
	struct linebuf lb;
	char out[1200], in[600];
	uint64_t retract;
	uint32_t lines = 0, cut = 0;
	size_t n;

	T_EQ(lb_init(&lb, 256), 0);
	lb_resume(&lb, 250);
	memset(in, 'q', 100);
	in[100] = '\n';
	n = lb_feed(&lb, in, 101, out, &retract, &lines, &cut);
	T_EQ(retract, 250 - (256 - LB_MARKER_MAX));
	out[n] = 0;
	T_STREQ(out, " [chorus-log: line cut, 350 bytes]\n");
	T_EQ(lines, 1);
	T_EQ(cut, 1);
	T_EQ(lb.stored, 0);
}

/* Random lines (some overlong) in random chunks against a reference. */
static void linebuf_random(void)
{
	unsigned seed = 12345;

	for (int round = 0; round < 200; round++) {
		size_t max = 256 + (size_t)(rand_r(&seed) % 300), len = 0, rl = 0;
		char *in = malloc(200000), *ref = malloc(400000), *out;
		uint32_t lines, cut, rlines = 0, rcut = 0;
		size_t olen;

		while (len < 150000) {
			size_t n = (size_t)(rand_r(&seed) % 5 == 0 ?
					    rand_r(&seed) % 3000 : rand_r(&seed) % 200);

			for (size_t i = 0; i < n; i++)
				in[len + i] = (char)('a' + rand_r(&seed) % 26);
			in[len + n] = '\n';
			if (n <= max) {
				memcpy(ref + rl, in + len, n + 1);
				rl += n + 1;
			} else {
				memcpy(ref + rl, in + len, max - LB_MARKER_MAX);
				rl += max - LB_MARKER_MAX;
				rl += (size_t)sprintf(ref + rl,
					" [chorus-log: line cut, %zu bytes]\n", n);
				rcut++;
			}
			rlines++;
			len += n + 1;
		}
		out = split_ex(in, len, max, 1 + (size_t)(rand_r(&seed) % 5000),
			       round % 2 ? 1 + rand_r(&seed) % 4 : 0, &olen, &lines, &cut);
		T_EQ(olen, rl);
		T_ASSERT(memcmp(out, ref, rl) == 0);
		T_EQ(lines, rlines);
		T_EQ(cut, rcut);
		free(out);
		free(in);
		free(ref);
	}
}

static const struct t_case cases[] = {
	T_CASE(linebuf_table),
	T_CASE(linebuf_overlong),
	T_CASE(linebuf_boundary),
	T_CASE(linebuf_fits),
	T_CASE(linebuf_retract),
	T_CASE(linebuf_random),
};

int main(int argc, char **argv)
{
	return t_main(argc, argv, cases, T_COUNT(cases));
}
