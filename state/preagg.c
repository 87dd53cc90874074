/*
 * preagg: the per-worker pre-aggregation map of step 3 (see preagg.h). Every
 * record of a batch goes through preagg_upsert, so this is the hot loop.
 *
 * Layout:
 *   table    power-of-two array of {hash, entry index + 1}; 0 = empty slot.
 *            Linear probing compares the stored 64-bit hash first, so a probe
 *            touches the key bytes only on a (near certain) match.
 *   entries  dense array in insertion order; what the engine iterates.
 *   mem      core/arena chunks holding each entry's slots followed by its key
 *            bytes (one bump allocation per new key, none per record).
 * The table grows (doubles) before the load would pass 7/10; there is no
 * delete, so no tombstones.
 *
 * The home bucket comes from the hash's TOP bits: the engine picks a key's
 * worker shard from its low bits (hash % n_workers), so within one shard the
 * low bits are nearly constant and would pile every key onto a fraction of
 * the buckets.
 */
#include "state/preagg.h"

#include "core/base/arena.h"
#include "core/base/array.h"

#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#define PREAGG_INIT_CAP 1024u
#define PREAGG_ARENA_CHUNK (256u * 1024u)

typedef struct pa_bucket {
    uint64_t hash;
    uint32_t idx1; /* entry index + 1; 0 when the bucket is empty */
} pa_bucket;

struct preagg {
    pa_bucket *table;
    size_t mask;    /* capacity - 1 */
    unsigned shift; /* 64 - log2(capacity): home bucket = hash >> shift */
    preagg_entry *entries;
    size_t n;
    size_t entries_cap;
    size_t slot_bytes;
    arena mem;
};

uint64_t preagg_hash(const void *key, uint32_t klen)
{
    return XXH3_64bits(key, klen);
}

preagg *preagg_new(int n_slots)
{
    preagg *m = calloc(1, sizeof *m);

    if (!m || n_slots < 0)
        goto out_free;
    m->table = calloc(PREAGG_INIT_CAP, sizeof *m->table);
    if (!m->table)
        goto out_free;
    m->mask = PREAGG_INIT_CAP - 1;
    m->shift = 64 - (unsigned)__builtin_ctzll(PREAGG_INIT_CAP);
    m->slot_bytes = (size_t)n_slots * sizeof(acc_slot);
    arena_init(&m->mem, PREAGG_ARENA_CHUNK);
    return m;

out_free:
    free(m);
    return NULL;
}

void preagg_free(preagg *m)
{
    if (!m)
        return;
    arena_free(&m->mem);
    free(m->entries);
    free(m->table);
    free(m);
}

void preagg_reset(preagg *m)
{
    memset(m->table, 0, (m->mask + 1) * sizeof *m->table);
    m->n = 0;
    arena_reset(&m->mem);
}

/* Doubles the table; rehashing needs only the stored hashes. */
static int table_grow(preagg *m)
{
    size_t cap = (m->mask + 1) * 2;
    unsigned shift = m->shift - 1;
    pa_bucket *t = calloc(cap, sizeof *t);

    if (!t)
        return -1;
    for (size_t i = 0; i <= m->mask; i++) {
        pa_bucket b = m->table[i];
        if (!b.idx1)
            continue;
        size_t j = (size_t)(b.hash >> shift);
        while (t[j].idx1)
            j = (j + 1) & (cap - 1);
        t[j] = b;
    }
    free(m->table);
    m->table = t;
    m->mask = cap - 1;
    m->shift = shift;
    return 0;
}

static inline int entry_is(const preagg_entry *e, const void *key, uint32_t klen)
{
    return e->klen == klen && (klen == 0 || memcmp(e->key, key, klen) == 0);
}

/* The bucket holding key, or the empty bucket where it would go. */
static inline pa_bucket *probe(const preagg *m, const void *key, uint32_t klen, uint64_t hash)
{
    size_t i = (size_t)(hash >> m->shift);

    for (;;) {
        pa_bucket *b = &m->table[i];
        if (!b->idx1 || (b->hash == hash && entry_is(&m->entries[b->idx1 - 1], key, klen)))
            return b;
        i = (i + 1) & m->mask;
    }
}

/* Appends a zeroed entry for key and points bucket b at it. */
static acc_slot *entry_add(preagg *m, pa_bucket *b, const void *key, uint32_t klen,
                           uint64_t hash)
{
    if (em_array_reserve(&m->entries, &m->entries_cap, m->n + 1, sizeof *m->entries))
        return NULL;
    char *mem = arena_alloc(&m->mem, m->slot_bytes + klen);
    if (!mem)
        return NULL;
    memset(mem, 0, m->slot_bytes);
    if (klen)
        memcpy(mem + m->slot_bytes, key, klen);

    preagg_entry *e = &m->entries[m->n];
    e->key = mem + m->slot_bytes;
    e->klen = klen;
    e->hash = hash;
    e->slots = (acc_slot *)(void *)mem;
    b->hash = hash;
    b->idx1 = (uint32_t)++m->n;
    return e->slots;
}

acc_slot *preagg_upsert(preagg *m, const void *key, uint32_t klen, uint64_t hash, int *is_new)
{
    pa_bucket *b = probe(m, key, klen, hash);

    if (b->idx1) {
        *is_new = 0;
        return m->entries[b->idx1 - 1].slots;
    }
    if (m->n >= UINT32_MAX - 1) /* idx1 is 32 bits */
        return NULL;
    /* Grow before the insert would pass 7/10 load, then find the new bucket. */
    if ((m->n + 1) * 10 > (m->mask + 1) * 7) {
        if (table_grow(m) < 0)
            return NULL;
        b = probe(m, key, klen, hash);
    }
    *is_new = 1;
    return entry_add(m, b, key, klen, hash);
}

acc_slot *preagg_find(const preagg *m, const void *key, uint32_t klen, uint64_t hash)
{
    const pa_bucket *b = probe(m, key, klen, hash);

    return b->idx1 ? m->entries[b->idx1 - 1].slots : NULL;
}

size_t preagg_count(const preagg *m)
{
    return m->n;
}

preagg_entry *preagg_entry_at(preagg *m, size_t i)
{
    return i < m->n ? &m->entries[i] : NULL;
}
