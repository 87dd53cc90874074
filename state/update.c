/*
 * update: the state step (see update.h). One RocksDB read (batched in
 * MultiGet) and one Put per distinct key per batch, never per record.
 */
#include "state/update.h"
#include "state/cache.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define MULTIGET_CHUNK 1024

typedef struct changed_key {
    const char *key;
    uint32_t klen;
    uint64_t hash;
    const acc_slot *delta;
    acc_slot *merged; /* into u->slots */
} changed_key;

struct state_update {
    const ember_job *job;
    store *st;
    int cf;
    cache *cache;
    changed_key *keys;
    size_t n_keys, cap_keys;
    acc_slot *slots;
    uint8_t *enc;
    ember_value row_vals[SCHEMA_MAX_FIELDS];
    update_stats stats;
};

state_update *state_update_new(const ember_job *job, store *st, int cf, size_t cache_bytes)
{
    state_update *u = calloc(1, sizeof *u);
    if (!u)
        return NULL;
    u->job = job;
    u->st = st;
    u->cf = cf;
    u->cache = cache_new(job->acc.n_slots, cache_bytes);
    u->enc = malloc(acc_encoded_bytes(&job->acc));
    if (!u->cache || !u->enc) {
        state_update_free(u);
        return NULL;
    }
    return u;
}

void state_update_free(state_update *u)
{
    if (!u)
        return;
    cache_free(u->cache);
    free(u->keys);
    free(u->slots);
    free(u->enc);
    free(u);
}

void state_update_drop_cache(state_update *u) { cache_clear(u->cache); }

static int reserve_keys(state_update *u, size_t n, ember_err *err)
{
    if (n <= u->cap_keys)
        return 0;
    size_t cap = u->cap_keys ? u->cap_keys : 1024;
    while (cap < n)
        cap *= 2;
    changed_key *k = realloc(u->keys, cap * sizeof *k);
    if (!k)
        return ember_err_set(err, -ENOMEM, "out of memory in state update");
    u->keys = k;
    acc_slot *s = realloc(u->slots, cap * (size_t)u->job->acc.n_slots * sizeof *s);
    if (!s)
        return ember_err_set(err, -ENOMEM, "out of memory in state update");
    u->slots = s;
    u->cap_keys = cap;
    return 0;
}

static int cmp_keys(const void *a, const void *b)
{
    const changed_key *x = a, *y = b;
    uint32_t n = x->klen < y->klen ? x->klen : y->klen;
    int c = memcmp(x->key, y->key, n);
    return c ? c : (x->klen > y->klen) - (x->klen < y->klen);
}

/* Gathers every shard's entries, sorted by key (deterministic order). */
static int gather_keys(state_update *u, transform *t, ember_err *err)
{
    size_t total = 0;
    for (int s = 0; s < transform_shards(t); s++)
        total += preagg_count(transform_shard(t, s));
    int rc = reserve_keys(u, total, err);
    if (rc)
        return rc;
    u->n_keys = 0;
    for (int s = 0; s < transform_shards(t); s++) {
        preagg *m = transform_shard(t, s);
        for (size_t i = 0; i < preagg_count(m); i++) {
            preagg_entry *e = preagg_entry_at(m, i);
            u->keys[u->n_keys++] = (changed_key){e->key, e->klen, e->hash, e->slots, NULL};
        }
    }
    if (u->n_keys > 1)
        qsort(u->keys, u->n_keys, sizeof *u->keys, cmp_keys);
    for (size_t i = 0; i < u->n_keys; i++)
        u->keys[i].merged = u->slots + i * (size_t)u->job->acc.n_slots;
    return 0;
}

/* Reads the previous values of keys[idx[0..n)] from RocksDB into merged. */
static int fetch_missing(state_update *u, const size_t *idx, size_t n, ember_err *err)
{
    static __thread ember_str keys[MULTIGET_CHUNK], vals[MULTIGET_CHUNK];
    for (size_t i = 0; i < n; i++)
        keys[i] = (ember_str){u->keys[idx[i]].key, u->keys[idx[i]].klen};
    int rc = store_multiget(u->st, u->cf, keys, n, vals, err);
    if (rc)
        return rc;
    for (size_t i = 0; i < n; i++) {
        changed_key *k = &u->keys[idx[i]];
        if (!vals[i].ptr) {
            acc_init(&u->job->acc, k->merged);
            u->stats.new_keys++;
        } else if (!rc) {
            rc = acc_decode(&u->job->acc, vals[i].ptr, vals[i].len, k->merged, err);
            if (rc)
                ember_err_prefix(err, "state of key '%.*s'", (int)k->klen, k->key);
        }
        store_free_value(&vals[i]);
    }
    return rc;
}

/* merged = previous value (cache, else MultiGet, else empty). */
static int load_previous(state_update *u, ember_err *err)
{
    size_t miss[MULTIGET_CHUNK], n_miss = 0;
    int rc = 0;
    for (size_t i = 0; i < u->n_keys && !rc; i++) {
        changed_key *k = &u->keys[i];
        acc_slot *hit = cache_get(u->cache, k->key, k->klen, k->hash);
        if (hit) {
            memcpy(k->merged, hit, (size_t)u->job->acc.n_slots * sizeof *hit);
            u->stats.cache_hits++;
            continue;
        }
        u->stats.cache_misses++;
        miss[n_miss++] = i;
        if (n_miss == MULTIGET_CHUNK) {
            rc = fetch_missing(u, miss, n_miss, err);
            n_miss = 0;
        }
    }
    if (!rc && n_miss)
        rc = fetch_missing(u, miss, n_miss, err);
    return rc;
}

int state_update_batch(state_update *u, transform *t, store_batch *wb, ember_err *err)
{
    const acc_layout *l = &u->job->acc;
    memset(&u->stats, 0, sizeof u->stats);
    int rc = gather_keys(u, t, err);
    if (rc || (rc = load_previous(u, err)))
        return rc;
    for (size_t i = 0; i < u->n_keys; i++) {
        changed_key *k = &u->keys[i];
        acc_merge(l, k->merged, k->delta);
        acc_encode(l, k->merged, u->enc);
        store_batch_put(wb, u->st, u->cf, k->key, k->klen, u->enc, acc_encoded_bytes(l));
        if (cache_put(u->cache, k->key, k->klen, k->hash, k->merged))
            return ember_err_set(err, -ENOMEM, "out of memory in state cache");
    }
    u->stats.keys_changed = u->n_keys;
    return 0;
}

size_t state_update_rows(const state_update *u) { return u->n_keys; }

/* Splits the stored key back into its fields (KEY_SEP separated). */
static int split_key(const char *key, uint32_t klen, ember_value *out, int max)
{
    int n = 0;
    const char *p = key, *end = key + klen;
    while (n < max) {
        const char *sep = memchr(p, KEY_SEP, (size_t)(end - p));
        const char *stop = sep ? sep : end;
        out[n].type = EMBER_STRING;
        out[n++].u.s = (ember_str){p, (uint32_t)(stop - p)};
        if (!sep)
            break;
        p = sep + 1;
    }
    return n;
}

void state_update_row(state_update *u, size_t i, ember_record *row)
{
    const ember_job *job = u->job;
    const changed_key *k = &u->keys[i];
    int n = split_key(k->key, k->klen, u->row_vals, job->n_keys);
    while (n < job->n_keys) /* a key value that contained KEY_SEP: pad */
        u->row_vals[n++] = (ember_value){.type = EMBER_NULL};
    for (int a = 0; a < job->n_aggs; a++)
        acc_result(&job->acc, k->merged, a, &u->row_vals[n++]);
    row->n = (uint32_t)n;
    row->values = u->row_vals;
}

void state_update_get_stats(const state_update *u, update_stats *out) { *out = u->stats; }
