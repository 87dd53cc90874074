/*
 * array: the one growable-array helper. An array is a pointer to its items
 * and a capacity in items, kept by its owner next to the count:
 *
 *     if (em_array_reserve(&v->items, &v->cap, v->n + 1, sizeof *v->items))
 *         return -ENOMEM;
 *     v->items[v->n++] = item;
 *
 * Growth doubles the capacity, so n pushes copy O(n) items in all.
 */
#ifndef EMBER_ARRAY_H
#define EMBER_ARRAY_H

#include "ember.h"
#include <stddef.h>

/* The slow path of em_array_reserve (same contract). */
EMBER_MUST_CHECK int em_array_grow(void *items, size_t *cap, size_t need, size_t elem_bytes);

/* Makes room for `need` items of elem_bytes each. items is the address of
 * the array's pointer (a T ** for any object type T; the pointer may be
 * NULL with *cap 0), *cap its capacity in items. When need > *cap the
 * capacity doubles (from 16) until need fits and the new items are zeroed.
 * Returns 0, or -ENOMEM with the array and *cap unchanged. */
EMBER_MUST_CHECK static inline int em_array_reserve(void *items, size_t *cap, size_t need,
                                                    size_t elem_bytes)
{
    return need <= *cap ? 0 : em_array_grow(items, cap, need, elem_bytes);
}

/* em_array_reserve without the zeroing, for buffers that are written before
 * they are read (file bytes, line offsets, text): zeroing them would touch
 * every new page twice (perf: a third of the YSB job's page faults). */
EMBER_MUST_CHECK int em_buffer_grow(void *items, size_t *cap, size_t need, size_t elem_bytes);
EMBER_MUST_CHECK static inline int em_buffer_reserve(void *items, size_t *cap, size_t need,
                                                     size_t elem_bytes)
{
    return need <= *cap ? 0 : em_buffer_grow(items, cap, need, elem_bytes);
}

#endif
