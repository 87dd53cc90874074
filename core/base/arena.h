/*
 * arena: per-batch bump allocator. Everything a batch allocates per record
 * (unescaped CSV strings, computed values, keys) comes from here and is freed
 * in one go when the batch ends: no malloc per record.
 */
#ifndef EMBER_ARENA_H
#define EMBER_ARENA_H

#include <stddef.h>

typedef struct arena_chunk arena_chunk;
typedef struct arena {
    arena_chunk *head;
    arena_chunk *spare; /* chunks of earlier batches, reused before malloc */
    size_t chunk_bytes;
} arena;

void arena_init(arena *a, size_t chunk_bytes);
/* 8-byte aligned; NULL only when malloc fails. */
void *arena_alloc(arena *a, size_t n);
char *arena_strndup(arena *a, const char *s, size_t n);
/* Keeps the first chunk for reuse, frees the rest. */
void arena_reset(arena *a);
void arena_free(arena *a);

#endif
