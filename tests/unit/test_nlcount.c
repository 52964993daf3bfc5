/*
 * test_nlcount.c - nl_count (util/nlcount.h) against a byte-by-byte count:
 * every length up to a few vector steps at every alignment, lanes that
 * reach the 255 limit, and random buffers.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "t.h"
#include "util/nlcount.h"

static size_t naive(const char *p, size_t n)
{
	size_t c = 0;

	for (size_t i = 0; i < n; i++)
		c += p[i] == '\n';
	return c;
}

static void nl_small_aligned(void)
{
	static char buf[256 + 64];

	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (char)(i % 7 == 0 ? '\n' : i % 5 == 0 ? '\r' : 'a' + i % 26);
	for (size_t off = 0; off < 16; off++)
		for (size_t n = 0; n + off <= 256; n++)
			T_EQ(nl_count(buf + off, n), naive(buf + off, n));
}

static void nl_all_newlines(void)
{
	/* Every byte a newline: each lane reaches 255 in a long run. */
	size_t n = 16 * 255 * 3 + 77;
	char *buf = malloc(n);

	T_ASSERT(buf != NULL);
	memset(buf, '\n', n);
	T_EQ(nl_count(buf, n), n);
	T_EQ(nl_count(buf + 1, n - 1), n - 1);
	memset(buf, 0, n);
	T_EQ(nl_count(buf, n), 0);
	/* Bytes that differ from '\n' by the sign bit or one bit only. */
	memset(buf, '\n' | 0x80, n);
	T_EQ(nl_count(buf, n), 0);
	memset(buf, '\n' ^ 1, n);
	T_EQ(nl_count(buf, n), 0);
	free(buf);
}

static void nl_random(void)
{
	size_t cap = 1 << 20;
	char *buf = malloc(cap);
	uint32_t x = 12345;

	T_ASSERT(buf != NULL);
	for (int round = 0; round < 50; round++) {
		size_t n, off;

		for (size_t i = 0; i < cap; i++) {
			x = x * 1103515245u + 12345u;
			buf[i] = (char)(x >> 24);
			if ((x >> 8) % (unsigned)(round + 2) == 0)
				buf[i] = '\n';
		}
		x = x * 1103515245u + 12345u;
		off = x % 64;
		n = (x >> 6) % (cap - off);
		T_EQ(nl_count(buf + off, n), naive(buf + off, n));
	}
	free(buf);
}

static const struct t_case cases[] = {
	T_CASE(nl_small_aligned),
	T_CASE(nl_all_newlines),
	T_CASE(nl_random),
};

int main(int argc, char **argv)
{
	return t_main(argc, argv, cases, T_COUNT(cases));
}
