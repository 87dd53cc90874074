/*
 * cache: a bounded cache of hot keys' accumulators in front of RocksDB, so the
 * state update (step 4) can skip MultiGet for keys seen in recent batches.
 * Bounded in bytes (checkpoint ... cache=256MB); evicts with the CLOCK
 * algorithm. Every change also goes into the batch's WriteBatch, so eviction
 * never loses anything and the cache may be dropped at any time.
 * Single-threaded: the driver thread owns it.
 */
#ifndef EMBER_CACHE_H
#define EMBER_CACHE_H

#include "core/ops/accum.h"
#include <stddef.h>
#include <stdint.h>

typedef struct cache cache;

EMBER_MUST_CHECK cache *cache_new(int n_slots, size_t max_bytes);
void cache_free(cache *c);
/* Returns the cached slots (valid until the next cache_put) or NULL. */
acc_slot *cache_get(cache *c, const void *key, uint32_t klen, uint64_t hash);
/* Inserts or overwrites; may evict others. Returns -ENOMEM on failure. */
EMBER_MUST_CHECK int cache_put(cache *c, const void *key, uint32_t klen, uint64_t hash,
                               const acc_slot *slots);
/* Forgets one key (a closed window whose state was deleted). */
void cache_del(cache *c, const void *key, uint32_t klen, uint64_t hash);
void cache_clear(cache *c);
size_t cache_bytes(const cache *c);
size_t cache_entries(const cache *c);

#endif
