/*
 * cache: hot keys' accumulators kept between batches (see cache.h), so step 4
 * reads RocksDB only for keys not seen lately. Single-threaded (driver).
 *
 * Each entry is one malloc'd node: header, n_slots slots, then the key bytes.
 * Nodes hang in a chained hash table (bucket count a power of two, doubled
 * when entries outnumber buckets) and in a circular list walked by the CLOCK
 * hand. A hit sets the node's reference bit; eviction advances the hand,
 * clearing set bits, and frees the first node whose bit is clear. New nodes
 * go in just behind the hand, so they get a full turn to be referenced.
 * Buckets are picked by the hash's top bits, like preagg's, because the
 * engine's sharding uses the low ones.
 *
 * The byte bound counts, per entry, the node header, its slots, its key and
 * two bucket pointers (the table's share: it doubles when entries reach the
 * bucket count, so it holds at most two pointers per entry while it grows;
 * it never shrinks, which cache_clear leaves uncounted).
 */
#include "state/cache.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define CACHE_INIT_BUCKETS 64u

typedef struct cache_node cache_node;
struct cache_node {
    cache_node *chain;      /* next in the bucket */
    cache_node *prev, *next; /* CLOCK ring */
    uint64_t hash;
    uint32_t klen;
    uint8_t ref;
    acc_slot slots[]; /* n_slots, then klen key bytes */
};

struct cache {
    cache_node **buckets;
    size_t mask;    /* bucket count - 1 */
    unsigned shift; /* 64 - log2(bucket count) */
    cache_node *hand;
    size_t n_entries;
    size_t bytes;
    size_t max_bytes;
    size_t slot_bytes;
};

static size_t node_cost(const cache *c, uint32_t klen)
{
    return sizeof(cache_node) + c->slot_bytes + klen + 2 * sizeof(cache_node *);
}

static char *node_key(const cache *c, cache_node *n)
{
    return (char *)n->slots + c->slot_bytes;
}

cache *cache_new(int n_slots, size_t max_bytes)
{
    cache *c = calloc(1, sizeof *c);

    if (!c || n_slots < 0)
        goto out_free;
    c->buckets = calloc(CACHE_INIT_BUCKETS, sizeof *c->buckets);
    if (!c->buckets)
        goto out_free;
    c->mask = CACHE_INIT_BUCKETS - 1;
    c->shift = 64 - (unsigned)__builtin_ctzll(CACHE_INIT_BUCKETS);
    c->max_bytes = max_bytes;
    c->slot_bytes = (size_t)n_slots * sizeof(acc_slot);
    return c;

out_free:
    free(c);
    return NULL;
}

void cache_free(cache *c)
{
    if (!c)
        return;
    cache_clear(c);
    free(c->buckets);
    free(c);
}

void cache_clear(cache *c)
{
    for (size_t i = 0; i <= c->mask; i++) {
        cache_node *n = c->buckets[i];
        while (n) {
            cache_node *next = n->chain;
            free(n);
            n = next;
        }
        c->buckets[i] = NULL;
    }
    c->hand = NULL;
    c->n_entries = 0;
    c->bytes = 0;
}

static cache_node **bucket_of(const cache *c, uint64_t hash)
{
    return &c->buckets[hash >> c->shift];
}

static cache_node *lookup(const cache *c, const void *key, uint32_t klen, uint64_t hash)
{
    for (cache_node *n = *bucket_of(c, hash); n; n = n->chain) {
        if (n->hash == hash && n->klen == klen &&
            (klen == 0 || memcmp(node_key(c, n), key, klen) == 0))
            return n;
    }
    return NULL;
}

acc_slot *cache_get(cache *c, const void *key, uint32_t klen, uint64_t hash)
{
    cache_node *n = lookup(c, key, klen, hash);

    if (!n)
        return NULL;
    n->ref = 1;
    return n->slots;
}

static void bucket_unlink(cache *c, cache_node *n)
{
    cache_node **p = bucket_of(c, n->hash);

    while (*p != n)
        p = &(*p)->chain;
    *p = n->chain;
}

static void ring_unlink(cache *c, cache_node *n)
{
    if (n->next == n) {
        c->hand = NULL;
        return;
    }
    n->prev->next = n->next;
    n->next->prev = n->prev;
    if (c->hand == n)
        c->hand = n->next;
}

/* Behind the hand: the last node the hand reaches. */
static void ring_insert(cache *c, cache_node *n)
{
    if (!c->hand) {
        n->prev = n->next = n;
        c->hand = n;
        return;
    }
    n->next = c->hand;
    n->prev = c->hand->prev;
    n->prev->next = n;
    c->hand->prev = n;
}

/* One CLOCK step to a victim; terminates within two turns of the ring. */
static void evict_one(cache *c)
{
    cache_node *n = c->hand;

    while (n->ref) {
        n->ref = 0;
        n = c->hand = n->next;
    }
    ring_unlink(c, n);
    bucket_unlink(c, n);
    c->bytes -= node_cost(c, n->klen);
    c->n_entries--;
    free(n);
}

/* Doubles the bucket array. Failure is harmless (chains just get longer),
 * so the caller need not check it. */
static void buckets_grow(cache *c)
{
    size_t nb = (c->mask + 1) * 2;
    unsigned shift = c->shift - 1;
    cache_node **b = calloc(nb, sizeof *b);

    if (!b)
        return;
    for (size_t i = 0; i <= c->mask; i++) {
        cache_node *n = c->buckets[i];
        while (n) {
            cache_node *next = n->chain;
            n->chain = b[n->hash >> shift];
            b[n->hash >> shift] = n;
            n = next;
        }
    }
    free(c->buckets);
    c->buckets = b;
    c->mask = nb - 1;
    c->shift = shift;
}

static cache_node *node_new(cache *c, const void *key, uint32_t klen, uint64_t hash,
                            const acc_slot *slots)
{
    cache_node *n = malloc(sizeof *n + c->slot_bytes + klen);

    if (!n)
        return NULL;
    n->chain = NULL;
    n->hash = hash;
    n->klen = klen;
    n->ref = 0;
    if (c->slot_bytes)
        memcpy(n->slots, slots, c->slot_bytes);
    if (klen)
        memcpy(node_key(c, n), key, klen);
    return n;
}

int cache_put(cache *c, const void *key, uint32_t klen, uint64_t hash, const acc_slot *slots)
{
    cache_node *n = lookup(c, key, klen, hash);
    size_t cost = node_cost(c, klen);

    if (n) {
        if (c->slot_bytes)
            memcpy(n->slots, slots, c->slot_bytes);
        n->ref = 1;
        return 0;
    }
    if (cost > c->max_bytes)
        return 0; /* could never fit; the key is absent, so nothing goes stale */
    while (c->bytes + cost > c->max_bytes)
        evict_one(c);
    n = node_new(c, key, klen, hash, slots);
    if (!n)
        return -ENOMEM;
    if (c->n_entries >= c->mask + 1)
        buckets_grow(c);
    n->chain = *bucket_of(c, hash);
    *bucket_of(c, hash) = n;
    ring_insert(c, n);
    c->n_entries++;
    c->bytes += cost;
    return 0;
}

void cache_del(cache *c, const void *key, uint32_t klen, uint64_t hash)
{
    cache_node *n = lookup(c, key, klen, hash);

    if (!n)
        return;
    ring_unlink(c, n);
    bucket_unlink(c, n);
    c->bytes -= node_cost(c, n->klen);
    c->n_entries--;
    free(n);
}

size_t cache_bytes(const cache *c)
{
    return c->bytes;
}

size_t cache_entries(const cache *c)
{
    return c->n_entries;
}
