/*
 * nlcount.h - the number of newlines in a buffer, 16 bytes at a step
 * with GCC's vector extensions (SSE2 on x86-64, NEON on arm64; wider
 * vectors split into poor code without -mavx2), plain bytes for the rest.
 * About twice memchr()'s speed line by line on 166-byte lines.
 * chorus-logd checks every batch's line count with it.
 */
#ifndef CHORUS_UTIL_NLCOUNT_H
#define CHORUS_UTIL_NLCOUNT_H

#include <stddef.h>
#include <string.h>

static inline size_t nl_count(const char *p, size_t n)
{
	typedef unsigned char v16 __attribute__((vector_size(16)));
	const v16 nl = (v16){ 0 } + '\n';
	size_t total = 0;

	while (n >= 16) {
		/* A lane counts to 255 at most before it is summed. */
		size_t k = n / 16 > 255 ? 255 : n / 16;
		v16 acc = { 0 };

		for (size_t i = 0; i < k; i++, p += 16) {
			v16 v;

			memcpy(&v, p, sizeof(v));
			acc -= (v16)(v == nl); /* a match is -1 */
		}
		n -= k * 16;
		for (int i = 0; i < 16; i++)
			total += acc[i];
	}
	for (; n; n--, p++)
		total += *p == '\n';
	return total;
}

#endif
