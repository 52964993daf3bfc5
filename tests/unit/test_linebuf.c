/*
 * test_linebuf.c - line splitting and the overlong-line rule
 * (src/log/linebuf.c): a table of inputs fed whole and byte by byte, and
 * random inputs cut into random chunks compared with a reference split.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log/linebuf.h"
#include "t.h"

/* Feeds `in` in chunks of `step` bytes (0: whole) and then finishes;
 * returns the output (caller frees) and its line and cut counts. */
static char *split(const char *in, size_t len, size_t max, size_t step,
		   size_t *olen, uint32_t *lines, uint32_t *cut)
{
	struct linebuf lb;
	char *out;
	size_t o = 0;

	T_EQ(lb_init(&lb, max), 0);
	out = malloc(len + lb_out_max(&lb, len) + 1);
	*lines = *cut = 0;
	for (size_t i = 0; i < len;) {
		size_t n = step && len - i > step ? step : len - i;

		o += lb_feed(&lb, in + i, n, out + o, lines, cut);
		i += n;
	}
	o += lb_finish(&lb, out + o, lines, cut);
	out[o] = 0;
	T_EQ(lb.lines, *lines);
	T_EQ(lb.cut, *cut);
	lb_free(&lb);
	*olen = o;
	return out;
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
		out = split(in, len, max, 1 + (size_t)(rand_r(&seed) % 5000),
			    &olen, &lines, &cut);
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
	T_CASE(linebuf_random),
};

int main(int argc, char **argv)
{
	return t_main(argc, argv, cases, T_COUNT(cases));
}
