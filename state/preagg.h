/*
 * preagg: the per-batch, per-worker pre-aggregation map (step 3 of the batch
 * cycle). Open addressing with linear probing over XXH3 hashes; keys are
 * copied into a chunked arena owned by the map, so a batch's keys cost no
 * malloc per record. Not thread-safe: one map per worker shard, no locks.
 * Entries keep insertion order in a dense array (preagg_entry_at), which is
 * what the engine iterates; it sorts them by key for deterministic output.
 */
#ifndef EMBER_PREAGG_H
#define EMBER_PREAGG_H

#include "core/ops/accum.h"
#include <stddef.h>
#include <stdint.h>

typedef struct preagg preagg;

typedef struct preagg_entry {
    const char *key; /* owned by the map, valid until reset/free */
    uint32_t klen;
    uint64_t hash;
    acc_slot *slots; /* n_slots, owned by the map */
} preagg_entry;

uint64_t preagg_hash(const void *key, uint32_t klen); /* XXH3_64bits */

EMBER_MUST_CHECK preagg *preagg_new(int n_slots);
void preagg_free(preagg *m);
/* Drops every entry but keeps the memory for the next batch. */
void preagg_reset(preagg *m);
/* Finds or inserts key; a new entry's slots are zeroed and *is_new set.
 * Returns NULL only on allocation failure. */
acc_slot *preagg_upsert(preagg *m, const void *key, uint32_t klen, uint64_t hash, int *is_new);
/* NULL if absent. */
acc_slot *preagg_find(const preagg *m, const void *key, uint32_t klen, uint64_t hash);
size_t preagg_count(const preagg *m);
preagg_entry *preagg_entry_at(preagg *m, size_t i);

/* The state key of a record: key fields' text joined by KEY_SEP. */
#define KEY_SEP '\x1f'
#define KEY_MAX 4096

#endif
