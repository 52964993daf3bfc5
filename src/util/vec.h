/*
 * vec.h - growing an array that doubles its capacity.
 */
#ifndef CHORUS_UTIL_VEC_H
#define CHORUS_UTIL_VEC_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Makes room for element n of an array of *cap elements of elem bytes,
 * whose pointer (of any object pointer type, e.g. struct x *) is at
 * arr_p: when n == *cap, the capacity doubles (first when it was 0).
 * Returns 0, or -1 (out of memory or past UINT32_MAX elements; the array
 * is then unchanged). The pointer is read and written with memcpy, so
 * the caller passes &its_pointer without a cast to void **. */
static inline int vec_room(void *arr_p, uint32_t *cap, uint32_t n, size_t elem,
			   uint32_t first)
{
	uint32_t ncap;
	void *old, *v;

	if (n < *cap)
		return 0;
	if (*cap > UINT32_MAX / 2)
		return -1;
	ncap = *cap ? *cap * 2 : first;
	memcpy(&old, arr_p, sizeof(old));
	v = realloc(old, (size_t)ncap * elem);
	if (!v)
		return -1;
	memcpy(arr_p, &v, sizeof(v));
	*cap = ncap;
	return 0;
}

#endif
