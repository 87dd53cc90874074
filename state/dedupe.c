/*
 * dedupe: ids seen within a horizon (see dedupe.h).
 */
#include "state/dedupe.h"
#include "core/base/endian.h"
#include "core/ops/window.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define MULTIGET_CHUNK 1024

/* The batch's distinct ids: open addressing over the ids' hashes. */
typedef struct id_set {
    size_t *slot; /* index into ids + 1, 0 = empty */
    size_t cap;
} id_set;

struct dedupe {
    store *st;
    int cf, timer_cf;
    int64_t horizon_ms, batch_time;
    store_batch *wb;
    id_set seen; /* ids written this batch: expiry must not delete them */
    const dedupe_id *ids;
    ember_str keys[MULTIGET_CHUNK], vals[MULTIGET_CHUNK];
};

dedupe *dedupe_new(store *st, int cf, int timer_cf, int64_t horizon_ms)
{
    dedupe *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    d->st = st;
    d->cf = cf;
    d->timer_cf = timer_cf;
    d->horizon_ms = horizon_ms;
    return d;
}

void dedupe_free(dedupe *d)
{
    if (!d)
        return;
    free(d->seen.slot);
    free(d);
}

void dedupe_begin(dedupe *d, store_batch *wb, int64_t batch_time_ms)
{
    d->wb = wb;
    d->batch_time = batch_time_ms;
    d->ids = NULL;
    if (d->seen.slot)
        memset(d->seen.slot, 0, d->seen.cap * sizeof *d->seen.slot);
}

static int set_reserve(id_set *s, size_t n, ember_err *err)
{
    size_t cap = 64;
    while (cap < n * 2)
        cap *= 2;
    if (cap <= s->cap)
        return 0;
    size_t *p = calloc(cap, sizeof *p);
    if (!p)
        return ember_err_set(err, -ENOMEM, "out of memory in dedupe");
    free(s->slot);
    s->slot = p;
    s->cap = cap;
    return 0;
}

/* Index of the first id equal to ids[i] (inserting i when new). */
static size_t set_first(id_set *s, const dedupe_id *ids, size_t i)
{
    size_t h = ids[i].hash & (s->cap - 1);
    for (; s->slot[h]; h = (h + 1) & (s->cap - 1)) {
        const dedupe_id *o = &ids[s->slot[h] - 1];
        if (o->hash == ids[i].hash && o->len == ids[i].len && !memcmp(o->id, ids[i].id, o->len))
            return s->slot[h] - 1;
    }
    s->slot[h] = i + 1;
    return i;
}

static int set_contains(const id_set *s, const dedupe_id *ids, const char *id, uint32_t len,
                        uint64_t hash)
{
    if (!s->cap || !ids)
        return 0;
    for (size_t h = hash & (s->cap - 1); s->slot[h]; h = (h + 1) & (s->cap - 1)) {
        const dedupe_id *o = &ids[s->slot[h] - 1];
        if (o->hash == hash && o->len == len && !memcmp(o->id, id, len))
            return 1;
    }
    return 0;
}

static void timer(dedupe *d, const char *id, uint32_t len, int64_t expiry, int put)
{
    char key[8 + KEY_MAX];
    window_put_time((uint8_t *)key, expiry);
    memcpy(key + 8, id, len);
    if (put)
        store_batch_put(d->wb, d->st, d->timer_cf, key, 8 + len, "", 0);
    else
        store_batch_delete(d->wb, d->st, d->timer_cf, key, 8 + len);
}

/* For the distinct ids firsts[0..n): drop[] when still inside the horizon,
 * else remember them from now on. */
static int check_chunk(dedupe *d, const dedupe_id *ids, const size_t *firsts, size_t n,
                       uint8_t *drop, ember_err *err)
{
    ember_str *keys = d->keys, *vals = d->vals;
    for (size_t i = 0; i < n; i++)
        keys[i] = (ember_str){ids[firsts[i]].id, ids[firsts[i]].len};
    int rc = store_multiget(d->st, d->cf, keys, n, vals, err);
    if (rc)
        return rc;
    for (size_t i = 0; i < n; i++) {
        const dedupe_id *id = &ids[firsts[i]];
        const uint8_t *stored = (const uint8_t *)vals[i].ptr;
        int64_t expiry = stored && vals[i].len == 8 ? (int64_t)get_u64le(stored) : INT64_MIN;
        store_free_value(&vals[i]);
        if (expiry > d->batch_time) {
            drop[firsts[i]] = 1;
            continue;
        }
        if (expiry != INT64_MIN)
            timer(d, id->id, id->len, expiry, 0); /* expired: replaced below */
        uint8_t v[8];
        put_u64le(v, (uint64_t)(d->batch_time + d->horizon_ms));
        store_batch_put(d->wb, d->st, d->cf, id->id, id->len, v, 8);
        timer(d, id->id, id->len, d->batch_time + d->horizon_ms, 1);
    }
    return 0;
}

int dedupe_decide(void *ctx, const dedupe_id *ids, size_t n, uint8_t *drop, ember_err *err)
{
    dedupe *d = ctx;
    size_t firsts[MULTIGET_CHUNK], n_first = 0;
    int rc = set_reserve(&d->seen, n, err);
    if (rc)
        return rc;
    d->ids = ids;
    size_t *first_of = malloc((n ? n : 1) * sizeof *first_of);
    if (!first_of)
        return ember_err_set(err, -ENOMEM, "out of memory in dedupe");
    for (size_t i = 0; i < n && !rc; i++) {
        first_of[i] = set_first(&d->seen, ids, i);
        if (first_of[i] != i)
            continue;
        firsts[n_first++] = i;
        if (n_first == MULTIGET_CHUNK) {
            rc = check_chunk(d, ids, firsts, n_first, drop, err);
            n_first = 0;
        }
    }
    if (!rc && n_first)
        rc = check_chunk(d, ids, firsts, n_first, drop, err);
    for (size_t i = 0; i < n && !rc; i++)
        if (first_of[i] != i)
            drop[i] = 1; /* a later copy inside the batch */
    free(first_of);
    return rc;
}

int dedupe_expire(dedupe *d, ember_err *err)
{
    store_iter *it = store_iter_new(d->st, d->timer_cf, NULL, 0);
    if (!it)
        return ember_err_set(err, -ENOMEM, "cannot read dedupe timers");
    for (; store_iter_valid(it); store_iter_next(it)) {
        size_t n;
        const char *k = store_iter_key(it, &n);
        if (n < 8 || window_get_time((const uint8_t *)k) > d->batch_time)
            break;
        const char *id = k + 8;
        uint32_t len = (uint32_t)(n - 8);
        if (set_contains(&d->seen, d->ids, id, len, preagg_hash(id, len)))
            continue; /* seen again this batch: its entry was just renewed */
        store_batch_delete(d->wb, d->st, d->timer_cf, k, n);
        store_batch_delete(d->wb, d->st, d->cf, id, len);
    }
    int rc = store_iter_status(it, err);
    store_iter_free(it);
    return rc;
}
