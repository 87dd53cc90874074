/* array: the growth step of em_array_reserve (see array.h). */
#include "core/base/array.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define ARRAY_MIN_ITEMS 16

static int grow(void *items, size_t *cap, size_t need, size_t elem_bytes, int zero)
{
    size_t ncap = *cap ? *cap : ARRAY_MIN_ITEMS;
    size_t bytes;
    void *old, *p;

    if (need <= *cap)
        return 0;
    while (ncap < need) {
        if (ncap > SIZE_MAX / 2)
            return -ENOMEM;
        ncap *= 2;
    }
    if (elem_bytes && ncap > SIZE_MAX / elem_bytes)
        return -ENOMEM;
    bytes = ncap * elem_bytes;
    /* items points at a T *; copying its bytes reads it without naming T */
    memcpy(&old, items, sizeof old);
    p = realloc(old, bytes ? bytes : 1); /* realloc(p, 0) would free p */
    if (!p)
        return -ENOMEM;
    if (zero)
        memset((char *)p + *cap * elem_bytes, 0, (ncap - *cap) * elem_bytes);
    memcpy(items, &p, sizeof p);
    *cap = ncap;
    return 0;
}

int em_array_grow(void *items, size_t *cap, size_t need, size_t elem_bytes)
{
    return grow(items, cap, need, elem_bytes, 1);
}

int em_buffer_grow(void *items, size_t *cap, size_t need, size_t elem_bytes)
{
    return grow(items, cap, need, elem_bytes, 0);
}
