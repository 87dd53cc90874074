/*
 * dedupe: ids seen within a horizon (see dedupe.h).
 */
#include "state/dedupe.h"
#include "core/base/arena.h"
#include "core/base/endian.h"
#include "core/ops/window.h"
#include "state/rowcodec.h"

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
    int keep_last;
    arena mem;    /* keep=last: the previous rows decoded this batch */
    uint8_t *buf; /* keep=last: one encoded value */
    size_t buf_cap;
    store_batch *wb;
    id_set seen; /* ids written this batch: expiry must not delete them */
    const dedupe_id *ids;
    ember_str keys[MULTIGET_CHUNK], vals[MULTIGET_CHUNK];
};

dedupe *dedupe_new(store *st, int cf, int timer_cf, int64_t horizon_ms, int keep_last)
{
    dedupe *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    d->st = st;
    d->cf = cf;
    d->timer_cf = timer_cf;
    d->horizon_ms = horizon_ms;
    d->keep_last = keep_last;
    arena_init(&d->mem, 64 * 1024);
    return d;
}

void dedupe_free(dedupe *d)
{
    if (!d)
        return;
    free(d->seen.slot);
    free(d->buf);
    arena_free(&d->mem);
    free(d);
}

void dedupe_begin(dedupe *d, store_batch *wb, int64_t batch_time_ms)
{
    arena_reset(&d->mem);
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

/* keep=last value: u64 expiry (LE, as for keep=first), then the row in
 * the format of state/rowcodec.h. */
static int dedupe_encode_row(dedupe *d, int64_t expiry, const ember_record *r, size_t *len,
                             ember_err *err)
{
    size_t need = 8 + rowcodec_bytes(r);
    if (need > d->buf_cap) {
        uint8_t *p = realloc(d->buf, need);
        if (!p)
            return ember_err_set(err, -ENOMEM, "out of memory in dedupe");
        d->buf = p;
        d->buf_cap = need;
    }
    put_u64le(d->buf, (uint64_t)expiry);
    *len = (size_t)(rowcodec_put(d->buf + 8, r) - d->buf);
    return 0;
}

/* The row of a keep=last value into d->mem; -1 when the bytes do not hold one. */
static int dedupe_decode_row(dedupe *d, const uint8_t *p, size_t len, ember_record *out)
{
    const uint8_t *end = p + len;
    p += 8;
    return len < 8 || rowcodec_get(&p, end, &d->mem, out) || p != end ? -1 : 0;
}

/* keep=last, for the passing ids pass[0..n): the row each replaces (if its
 * id is inside the horizon), then the new row and a renewed expiry. */
static int replace_chunk(dedupe *d, dedupe_id *ids, const size_t *pass, size_t n, ember_err *err)
{
    ember_str *keys = d->keys, *vals = d->vals;
    for (size_t i = 0; i < n; i++)
        keys[i] = (ember_str){ids[pass[i]].id, ids[pass[i]].len};
    int rc = store_multiget(d->st, d->cf, keys, n, vals, err);
    for (size_t i = 0; i < n; i++) {
        dedupe_id *id = &ids[pass[i]];
        const uint8_t *stored = (const uint8_t *)vals[i].ptr;
        int64_t expiry = stored && vals[i].len >= 8 ? (int64_t)get_u64le(stored) : INT64_MIN;
        id->prev = (ember_record){0, NULL};
        /* 8 bytes: an id kept by keep=first, without a row to take back */
        if (!rc && expiry > d->batch_time && vals[i].len != 8 &&
            dedupe_decode_row(d, stored, vals[i].len, &id->prev))
            rc = ember_err_set(err, -EMBER_ECORRUPT, "dedupe: the stored row of id '%.*s' is "
                               "damaged (%u bytes)", (int)(id->len < 64 ? id->len : 64), id->id,
                               (unsigned)vals[i].len);
        store_free_value(&vals[i]);
        size_t len = 0;
        if (!rc && expiry != INT64_MIN)
            timer(d, id->id, id->len, expiry, 0);
        if (!rc && !(rc = dedupe_encode_row(d, d->batch_time + d->horizon_ms, &id->row, &len,
                                            err))) {
            store_batch_put(d->wb, d->st, d->cf, id->id, id->len, (const char *)d->buf, len);
            timer(d, id->id, id->len, d->batch_time + d->horizon_ms, 1);
        }
    }
    return rc;
}

static int decide_chunk(dedupe *d, dedupe_id *ids, const size_t *chunk, size_t n,
                        uint8_t *drop, ember_err *err)
{
    return d->keep_last ? replace_chunk(d, ids, chunk, n, err)
                        : check_chunk(d, ids, chunk, n, drop, err);
}

/* Each distinct id decides once, in the order of its first copy: the first
 * copy (keep=first) or the last (keep=last) is the one that may pass, every
 * other copy in the batch is dropped. */
int dedupe_decide(void *ctx, dedupe_id *ids, size_t n, uint8_t *drop, ember_err *err)
{
    dedupe *d = ctx;
    size_t chunk[MULTIGET_CHUNK], k = 0;
    int rc = set_reserve(&d->seen, n, err);
    if (rc)
        return rc;
    d->ids = ids;
    size_t *first_of = malloc(2 * (n ? n : 1) * sizeof *first_of);
    if (!first_of)
        return ember_err_set(err, -ENOMEM, "out of memory in dedupe");
    size_t *kept = first_of + (n ? n : 1); /* by first copy: the copy that may pass */
    for (size_t i = 0; i < n; i++) {
        first_of[i] = set_first(&d->seen, ids, i);
        if (first_of[i] == i || d->keep_last)
            kept[first_of[i]] = i; /* input order: the last copy wins with keep=last */
    }
    for (size_t i = 0; i < n && !rc; i++) {
        if (first_of[i] != i)
            continue;
        chunk[k++] = kept[i];
        if (k == MULTIGET_CHUNK) {
            rc = decide_chunk(d, ids, chunk, k, drop, err);
            k = 0;
        }
    }
    if (!rc && k)
        rc = decide_chunk(d, ids, chunk, k, drop, err);
    for (size_t i = 0; i < n && !rc; i++)
        if (kept[first_of[i]] != i)
            drop[i] = 1; /* another copy inside the batch decides */
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
