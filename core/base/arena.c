/* arena: per-batch bump allocator (see arena.h). */
#include "core/base/arena.h"

#include <stdlib.h>
#include <string.h>

struct arena_chunk {
    arena_chunk *next;
    size_t cap;
    size_t used;
    char data[];
};

void arena_init(arena *a, size_t chunk_bytes)
{
    a->head = NULL;
    a->spare = NULL;
    a->chunk_bytes = chunk_bytes ? chunk_bytes : 64 * 1024;
}

static arena_chunk *chunk_new(size_t cap)
{
    arena_chunk *c = malloc(sizeof *c + cap);
    if (!c)
        return NULL;
    c->next = NULL;
    c->cap = cap;
    c->used = 0;
    return c;
}

void *arena_alloc(arena *a, size_t n)
{
    size_t need = (n + 7) & ~(size_t)7;
    arena_chunk *c = a->head;

    if (!c || c->cap - c->used < need) {
        size_t cap = need > a->chunk_bytes ? need : a->chunk_bytes;
        arena_chunk *fresh = a->spare;
        if (fresh && fresh->cap >= need) {
            a->spare = fresh->next; /* a used chunk: no page faults, no zeroing */
            fresh->used = 0;
        } else if (!(fresh = chunk_new(cap))) {
            return NULL;
        }
        fresh->next = c;
        a->head = c = fresh;
    }
    void *p = c->data + c->used;
    c->used += need;
    return p;
}

char *arena_strndup(arena *a, const char *s, size_t n)
{
    char *p = arena_alloc(a, n + 1);
    if (p) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

/* Keeps the oldest chunk (the list's tail) as the head and the others as
 * spares of the regular size for the next batch (larger one-off chunks are
 * freed), so a steady batch size allocates nothing. */
void arena_reset(arena *a)
{
    arena_chunk *c = a->head;
    while (c && c->next) {
        arena_chunk *next = c->next;
        if (c->cap == a->chunk_bytes) {
            c->next = a->spare;
            a->spare = c;
        } else {
            free(c);
        }
        c = next;
    }
    a->head = c;
    if (c)
        c->used = 0;
}

void arena_free(arena *a)
{
    for (arena_chunk *c = a->spare; c;) {
        arena_chunk *next = c->next;
        free(c);
        c = next;
    }
    a->spare = NULL;
    arena_chunk *c = a->head;
    while (c) {
        arena_chunk *next = c->next;
        free(c);
        c = next;
    }
    a->head = NULL;
}
