/*
 * ssi_array: the one grow-by-doubling of a heap array, for the engine and
 * every library above it (the daemon's, the generator's). Header only and
 * pure (realloc is all it calls), so the engine may use it.
 *
 *   SSI_GROW(array, &cap, need, first)
 *
 * makes room for at least need elements in array, an lvalue pointer with
 * room for cap (a size_t) of them: the capacity doubles, from first when it
 * is 0, until need fits, and array and cap are updated. Returns 0, or -ENOMEM
 * (also when the size would overflow) with array and cap as they were.
 * Elements past the old capacity are uninitialised, as realloc leaves them.
 */
#ifndef SSI_ARRAY_H
#define SSI_ARRAY_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/*
 * array_at is the address of the array's pointer, whatever its type: the
 * pointer is read and written with memcpy, not through a void ** lvalue.
 */
static inline int ssi_grow(void *array_at, size_t *cap, size_t need, size_t elem, size_t first)
{
	size_t n = *cap ? *cap : (first ? first : 1);
	void *p, *grown;

	if (need <= *cap)
		return 0;
	while (n < need) {
		if (n > SIZE_MAX / 2)
			return -ENOMEM;
		n *= 2;
	}
	if (n > SIZE_MAX / elem)
		return -ENOMEM;
	memcpy(&p, array_at, sizeof(p));
	grown = realloc(p, n * elem);
	if (!grown)
		return -ENOMEM;
	memcpy(array_at, &grown, sizeof(grown));
	*cap = n;
	return 0;
}

#define SSI_GROW(array, cap, need, first)                                                          \
	ssi_grow(&(array), (cap), (need), sizeof(*(array)), (first))

#endif
