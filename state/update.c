/*
 * update: the state step (see update.h). One RocksDB read (batched in
 * MultiGet) and one Put per distinct key per batch, never per record. This
 * file keeps the keys, TTL and output rows; windows are update_windows.c.
 */
#include "core/base/array.h"
#include "state/update_private.h"
#include "state/layout.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

state_update *state_update_new(const ember_job *job, store *st, int cf, int timer_cf,
                               size_t cache_bytes)
{
    state_update *u = calloc(1, sizeof *u);
    if (!u)
        return NULL;
    u->job = job;
    u->st = st;
    u->cf = cf;
    u->timer_cf = timer_cf;
    u->max_event_time = WIN_NO_WATERMARK;
    u->ttl_done = WIN_NO_WATERMARK;
    layout_node_meta(job, META_EVENT_TIME_MAX, u->et_key, sizeof u->et_key);
    arena_init(&u->scratch, 64 * 1024);
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
    free(u->prev);
    free(u->enc);
    free(u->cand.v);
    free(u->out.v);
    free(u->dead_timers.v);
    free(u->panes);
    arena_free(&u->scratch);
    free(u);
}

void state_update_drop_cache(state_update *u) { cache_clear(u->cache); }

static int reserve_keys(state_update *u, size_t n, ember_err *err)
{
    /* keys and slots (n_slots per key) share the capacity cap_keys */
    size_t keys_cap = u->cap_keys, slots_cap = u->cap_keys;

    if (em_array_reserve(&u->keys, &keys_cap, n, sizeof *u->keys) ||
        em_array_reserve(&u->slots, &slots_cap, n, (size_t)u->job->acc.n_slots * sizeof *u->slots))
        return ember_err_set(err, -ENOMEM, "out of memory in state update");
    u->cap_keys = slots_cap;
    return 0;
}

static int cmp_keys(const void *a, const void *b)
{
    const changed_key *x = a, *y = b;
    uint32_t n = x->klen < y->klen ? x->klen : y->klen;
    int c = memcmp(x->key, y->key, n);
    return c ? c : (x->klen > y->klen) - (x->klen < y->klen);
}

/* Windowed keys end in an 8-byte time: order by user key, then time. */
int upd_cmp_win_bytes(const char *a, uint32_t alen, const char *b, uint32_t blen)
{
    uint32_t ua = alen - WIN_SUFFIX, ub = blen - WIN_SUFFIX, n = ua < ub ? ua : ub;
    int c = memcmp(a, b, n);
    if (c || ua != ub)
        return c ? c : (ua > ub) - (ua < ub);
    return memcmp(a + ua, b + ub, WIN_SUFFIX);
}

static int cmp_win_keys(const void *a, const void *b)
{
    const changed_key *x = a, *y = b;
    return upd_cmp_win_bytes(x->key, x->klen, y->key, y->klen);
}



/* Gathers every shard's entries, sorted by key (deterministic order). */
static int gather_keys(state_update *u, const update_input *in, ember_err *err)
{
    size_t total = 0;
    for (int s = 0; s < in->n_shards; s++)
        total += preagg_count(in->shards[s]);
    int rc = reserve_keys(u, total, err);
    if (rc)
        return rc;
    u->n_keys = 0;
    for (int s = 0; s < in->n_shards; s++) {
        preagg *m = in->shards[s];
        for (size_t i = 0; i < preagg_count(m); i++) {
            preagg_entry *e = preagg_entry_at(m, i);
            u->keys[u->n_keys++] = (changed_key){e->key, e->klen, e->hash, e->slots, NULL, 0};
        }
    }
    if (u->n_keys > 1)
        qsort(u->keys, u->n_keys, sizeof *u->keys, is_windowed(u) ? cmp_win_keys : cmp_keys);
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
        k->is_new = !vals[i].ptr;
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
        k->is_new = 0;
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

static void ttl_timer(state_update *u, store_batch *wb, const changed_key *k, int put);

/* An exact count_distinct past its bound fails the batch, naming the key
 * (windowed keys: without their time suffix). Replay fails the same way. */
int upd_check_bounds(state_update *u, const acc_slot *v, const char *key, uint32_t klen,
                        ember_err *err)
{
    int rc = acc_check(&u->job->acc, v, err);
    if (rc && is_windowed(u) && klen >= WIN_SUFFIX)
        klen -= WIN_SUFFIX;
    return rc ? ember_err_prefix(err, "key '%.*s'", (int)klen, key) : 0;
}

/* Folds every changed key's delta into its previous value and writes it. */
int upd_fold_changed(state_update *u, store_batch *wb, ember_err *err)
{
    const acc_layout *l = &u->job->acc;
    int rc = load_previous(u, err);
    if (!rc && u->job->retracts &&
        em_array_reserve(&u->prev, &u->prev_cap, u->n_keys, (size_t)l->n_slots * sizeof *u->prev))
        rc = ember_err_set(err, -ENOMEM, "out of memory");
    if (rc)
        return rc;
    for (size_t i = 0; i < u->n_keys; i++) {
        changed_key *k = &u->keys[i];
        if (u->job->retracts)
            memcpy(u->prev + i * (size_t)l->n_slots, k->merged, (size_t)l->n_slots * sizeof *u->prev);
        if (u->job->ttl_ms && !k->is_new)
            ttl_timer(u, wb, k, 0);
        acc_merge(l, k->merged, k->delta);
        if ((rc = upd_check_bounds(u, k->merged, k->key, k->klen, err)))
            return rc;
        if (u->job->ttl_ms)
            ttl_timer(u, wb, k, 1);
        size_t n = acc_encode(l, k->merged, u->enc);
        store_batch_put(wb, u->st, u->cf, k->key, k->klen, u->enc, n);
        if (cache_put(u->cache, k->key, k->klen, k->hash, k->merged))
            return ember_err_set(err, -ENOMEM, "out of memory in state cache");
    }
    u->stats.keys_changed = u->n_keys;
    return 0;
}

/* ------------------------------------------------------------ TTL */

/* A TTL key's timer: expiry (last update + ttl) | key, in the timers CF.
 * put = 0 deletes the timer of k's previous value (k->merged before the
 * fold), put = 1 writes the one of its new value. */
static void ttl_timer(state_update *u, store_batch *wb, const changed_key *k, int put)
{
    char key[WIN_SUFFIX + KEY_MAX];
    int64_t last = k->merged[u->job->aggs[u->job->n_aggs].slot].i;
    window_put_time((uint8_t *)key, last + u->job->ttl_ms);
    memcpy(key + WIN_SUFFIX, k->key, k->klen);
    if (put)
        store_batch_put(wb, u->st, u->timer_cf, key, WIN_SUFFIX + k->klen, "", 0);
    else
        store_batch_delete(wb, u->st, u->timer_cf, key, WIN_SUFFIX + k->klen);
}

static int is_changed_key(const state_update *u, const char *key, uint32_t klen)
{
    changed_key probe = {.key = key, .klen = klen};
    if (!u->n_keys)
        return 0; /* u->keys is still NULL before the first non-empty batch */
    return bsearch(&probe, u->keys, u->n_keys, sizeof *u->keys, cmp_keys) != NULL;
}

/* Deletes every key idle since batch time - ttl: the due prefix of the
 * timers CF, never a scan of the state. Keys updated in this batch just got
 * a new timer and stay. */
static int expire_idle(state_update *u, int64_t batch_time, store_batch *wb, ember_err *err)
{
    store_iter *it = upd_timers_from(u, u->ttl_done);
    if (!it)
        return ember_err_set(err, -ENOMEM, "cannot read TTL timers");
    for (; store_iter_valid(it); store_iter_next(it)) {
        size_t n;
        const char *k = store_iter_key(it, &n);
        if (n < WIN_SUFFIX || window_get_time((const uint8_t *)k) > batch_time)
            break;
        const char *key = k + WIN_SUFFIX;
        uint32_t klen = (uint32_t)(n - WIN_SUFFIX);
        if (is_changed_key(u, key, klen))
            continue;
        store_batch_delete(wb, u->st, u->timer_cf, k, n);
        upd_delete_state(u, wb, key, klen);
    }
    int rc = store_iter_status(it, err);
    store_iter_free(it);
    if (rc)
        return rc;
    /* Everything due up to batch_time is gone once this batch commits; a
     * failed commit ends the run, so the next process starts from scratch. */
    u->ttl_done = batch_time + 1;
    return 0;
}

int state_update_batch(state_update *u, const update_input *in, store_batch *wb, ember_err *err)
{
    memset(&u->stats, 0, sizeof u->stats);
    int rc = gather_keys(u, in, err);
    if (!rc && !is_windowed(u) && !(rc = upd_fold_changed(u, wb, err)) && u->job->ttl_ms)
        rc = expire_idle(u, in->batch_time_ms, wb, err);
    if (rc || !is_windowed(u))
        return rc;
    return upd_window_batch(u, in->max_event_time, wb, err);
}

size_t state_update_rows(const state_update *u)
{
    return is_windowed(u) ? u->out.n : u->n_keys;
}

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

static void fill_row(state_update *u, const char *key, uint32_t klen, const win_ref *w,
                     const acc_slot *value, ember_record *row)
{
    const ember_job *job = u->job;
    int n = split_key(key, klen, u->row_vals, job->n_keys);
    while (n < job->n_keys) /* a key value that contained KEY_SEP: pad */
        u->row_vals[n++] = (ember_value){.type = EMBER_NULL};
    if (w) {
        u->row_vals[n].type = u->row_vals[n + 1].type = EMBER_INT;
        u->row_vals[n++].u.i = w->start;
        u->row_vals[n++].u.i = w->end;
    }
    u->row_text.used = 0;
    for (int a = 0; a < job->n_aggs; a++)
        acc_result(&job->acc, value, a, &u->row_vals[n++], &u->row_text);
    row->n = (uint32_t)n;
    row->values = u->row_vals;
}

void state_update_row(state_update *u, size_t i, ember_record *row)
{
    if (is_windowed(u))
        fill_row(u, u->out.v[i].ukey, u->out.v[i].uklen, &u->out.v[i], u->out.v[i].value, row);
    else
        fill_row(u, u->keys[i].key, u->keys[i].klen, NULL, u->keys[i].merged, row);
}

int state_update_prev_row(state_update *u, size_t i, ember_record *row)
{
    if (!u->job->retracts)
        return 0;
    if (is_windowed(u)) { /* emit=update windows (update_windows.c: pane_prev) */
        const win_ref *w = &u->out.v[i];
        if (!w->prev)
            return 0;
        fill_row(u, w->ukey, w->uklen, w, w->prev, row);
        return 1;
    }
    const changed_key *k = &u->keys[i];
    if (k->is_new)
        return 0;
    fill_row(u, k->key, k->klen, NULL, u->prev + i * (size_t)u->job->acc.n_slots, row);
    return 1;
}

void state_update_get_stats(const state_update *u, update_stats *out) { *out = u->stats; }
