/*
 * update_windows: the windowed half of the state step. Tumbling and sliding
 * windows keep panes (one per slide) and fire a window when the watermark
 * passes its end; sessions keep one value per open session and merge on
 * overlap. Timers in the "timers" family say what is due.
 */
#include "core/base/array.h"
#include "state/update_private.h"
#include "state/layout.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ windows */

static int win_push(win_vec *v, const win_ref *r, ember_err *err)
{
    if (em_array_reserve(&v->v, &v->cap, v->n + 1, sizeof *v->v))
        return ember_err_set(err, -ENOMEM, "out of memory in window state");
    v->v[v->n++] = *r;
    return 0;
}

/* By user key, then end, then start: the order of output rows. */
static int cmp_win_ref(const void *a, const void *b)
{
    const win_ref *x = a, *y = b;
    uint32_t n = x->uklen < y->uklen ? x->uklen : y->uklen;
    int c = memcmp(x->ukey, y->ukey, n);
    if (c || x->uklen != y->uklen)
        return c ? c : (x->uklen > y->uklen) - (x->uklen < y->uklen);
    if (x->end != y->end)
        return (x->end > y->end) - (x->end < y->end);
    return (x->start > y->start) - (x->start < y->start);
}

/* State key of a pane or session: user key | time. */
static uint32_t state_key(char *buf, const char *ukey, uint32_t uklen, int64_t t)
{
    memcpy(buf, ukey, uklen);
    window_put_time((uint8_t *)buf + uklen, t);
    return uklen + WIN_SUFFIX;
}

/* Timer key: end | user key | start. Timers sort by end, so the due ones are
 * a prefix of the column family and firing never scans the state. */
static uint32_t timer_key(char *buf, const win_ref *r)
{
    window_put_time((uint8_t *)buf, r->end);
    memcpy(buf + WIN_SUFFIX, r->ukey, r->uklen);
    window_put_time((uint8_t *)buf + WIN_SUFFIX + r->uklen, r->start);
    return r->uklen + 2 * WIN_SUFFIX;
}

static void put_timer(state_update *u, store_batch *wb, const win_ref *r)
{
    char key[KEY_MAX + 2 * WIN_SUFFIX];
    store_batch_put(wb, u->st, u->timer_cf, key, timer_key(key, r), "", 0);
}

static void delete_timer(state_update *u, store_batch *wb, const win_ref *r)
{
    char key[KEY_MAX + 2 * WIN_SUFFIX];
    store_batch_delete(wb, u->st, u->timer_cf, key, timer_key(key, r));
}

void upd_delete_state(state_update *u, store_batch *wb, const char *key, uint32_t klen)
{
    store_batch_delete(wb, u->st, u->cf, key, klen);
    cache_del(u->cache, key, klen, preagg_hash(key, klen));
    u->stats.deleted_keys++;
}

static acc_slot *scratch_slots(state_update *u)
{
    return arena_alloc(&u->scratch, (size_t)u->job->acc.n_slots * sizeof(acc_slot));
}

/* The changed key equal to key, if it changed in this batch. */
static changed_key *find_changed(state_update *u, const char *key, uint32_t klen)
{
    size_t lo = 0, hi = u->n_keys;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = upd_cmp_win_bytes(u->keys[mid].key, u->keys[mid].klen, key, klen);
        if (!c)
            return &u->keys[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* The value of a state key after this batch's fold: 1 found, 0 absent. */
static int current_value(state_update *u, const char *key, uint32_t klen, acc_slot *out,
                         ember_err *err)
{
    size_t bytes = (size_t)u->job->acc.n_slots * sizeof *out;
    changed_key *k = find_changed(u, key, klen);
    acc_slot *hit = k ? k->merged : cache_get(u->cache, key, klen, preagg_hash(key, klen));
    if (hit) {
        memcpy(out, hit, bytes);
        return 1;
    }
    char *v = NULL;
    size_t n = 0;
    int rc = store_get(u->st, u->cf, key, klen, &v, &n, err);
    if (rc == -ENOENT) {
        *err = (ember_err){0};
        return 0;
    }
    if (!rc)
        rc = acc_decode(&u->job->acc, v, n, out, err);
    free(v);
    return rc ? rc : 1;
}

/* An iterator over timers from `from` on. Timers before it were deleted by
 * earlier batches; seeking past their tombstones keeps firing from
 * rescanning them every batch. */
store_iter *upd_timers_from(state_update *u, int64_t from)
{
    uint8_t k[WIN_SUFFIX];
    store_iter *it = store_iter_new(u->st, u->timer_cf, NULL, 0);
    if (it && from != WIN_NO_WATERMARK) {
        window_put_time(k, from);
        store_iter_seek(it, k, sizeof k);
    }
    return it;
}

/* Every timer due at the new watermark, from committed state, in order. */
static int due_timers(state_update *u, win_vec *due, ember_err *err)
{
    store_iter *it = upd_timers_from(u, u->wm_old == WIN_NO_WATERMARK ? u->wm_old : u->wm_old + 1);
    if (!it)
        return ember_err_set(err, -ENOMEM, "cannot read window timers");
    int rc = 0;
    for (; !rc && store_iter_valid(it); store_iter_next(it)) {
        size_t n;
        const char *k = store_iter_key(it, &n);
        if (n < 2 * WIN_SUFFIX) {
            rc = ember_err_set(err, -EMBER_ECORRUPT, "window timer of %zu bytes", n);
            break;
        }
        win_ref r = {.end = window_get_time((const uint8_t *)k), .fire = 1};
        if (r.end > u->wm_new)
            break;
        r.uklen = (uint32_t)(n - 2 * WIN_SUFFIX);
        r.start = window_get_time((const uint8_t *)k + n - WIN_SUFFIX);
        r.ukey = arena_strndup(&u->scratch, k + WIN_SUFFIX, r.uklen);
        rc = r.ukey ? win_push(due, &r, err) : ember_err_set(err, -ENOMEM, "out of memory");
    }
    if (!rc)
        rc = store_iter_status(it, err);
    store_iter_free(it);
    return rc;
}

/* ---- tumbling and sliding: panes */

/* Registers the windows holding a changed pane: timers for a new pane's
 * windows, candidates for the ones that fire or are emitted now. */
/* The pane index (timers CF of tumbling and sliding windows): pane start |
 * user key, one entry per pane holding data. The windows due at a new
 * watermark are those of the panes starting in (old - SIZE, new - SLIDE],
 * a range of the index; an entry is deleted with its pane, when the last
 * window holding the pane fires. Two writes per pane, none per window. */
static void pane_index(state_update *u, store_batch *wb, const char *ukey, uint32_t uklen,
                       int64_t pane, int put)
{
    char key[KEY_MAX + 2 * WIN_SUFFIX];
    window_put_time((uint8_t *)key, pane);
    memcpy(key + WIN_SUFFIX, ukey, uklen);
    if (put)
        store_batch_put(wb, u->st, u->timer_cf, key, WIN_SUFFIX + uklen, "", 0);
    else
        store_batch_delete(wb, u->st, u->timer_cf, key, WIN_SUFFIX + uklen);
}

static int pane_windows(state_update *u, const changed_key *k, store_batch *wb, ember_err *err)
{
    const window_spec *w = &u->job->window;
    uint32_t uklen = k->klen - WIN_SUFFIX;
    int64_t pane = window_get_time((const uint8_t *)k->key + uklen);
    if (k->is_new)
        pane_index(u, wb, k->key, uklen, pane, 1); /* deleted again if it closes now */
    for (int64_t end = pane + w->slide_ms; end <= pane + w->size_ms; end += w->slide_ms) {
        if (end <= u->wm_old)
            continue; /* closed before this batch */
        win_ref r = {k->key, uklen, end - w->size_ms, end, end <= u->wm_new,
                     w->emit == EMIT_UPDATE, NULL};
        if (r.fire || r.update) {
            int rc = win_push(&u->cand, &r, err);
            if (rc)
                return rc;
        }
    }
    return 0;
}

static int cmp_pane_ref(const pane_ref *x, const char *ukey, uint32_t uklen, int64_t start)
{
    uint32_t n = x->uklen < uklen ? x->uklen : uklen;
    int c = memcmp(x->ukey, ukey, n);
    if (c || x->uklen != uklen)
        return c ? c : (x->uklen > uklen) - (x->uklen < uklen);
    return (x->start > start) - (x->start < start);
}

static pane_ref *find_pane(const state_update *u, const char *ukey, uint32_t uklen, int64_t t)
{
    size_t lo = 0, hi = u->n_panes;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = cmp_pane_ref(&u->panes[mid], ukey, uklen, t);
        if (!c)
            return &u->panes[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

static int push_pane(state_update *u, const win_ref *r, int64_t t, ember_err *err)
{
    if (em_array_reserve(&u->panes, &u->cap_panes, u->n_panes + 1, sizeof *u->panes))
        return ember_err_set(err, -ENOMEM, "out of memory in window state");
    u->panes[u->n_panes++] = (pane_ref){r->ukey, r->uklen, t, NULL};
    return 0;
}

/* Values of panes [from, to) not changed or cached: one MultiGet. */
static int fetch_panes(state_update *u, const size_t *idx, size_t n, ember_err *err)
{
    static __thread ember_str keys[MULTIGET_CHUNK], vals[MULTIGET_CHUNK];
    for (size_t i = 0; i < n; i++) {
        pane_ref *p = &u->panes[idx[i]];
        char *k = arena_alloc(&u->scratch, p->uklen + WIN_SUFFIX);
        if (!k)
            return ember_err_set(err, -ENOMEM, "out of memory");
        keys[i] = (ember_str){k, state_key(k, p->ukey, p->uklen, p->start)};
    }
    int rc = store_multiget(u->st, u->cf, keys, n, vals, err);
    if (rc)
        return rc;
    for (size_t i = 0; i < n; i++) {
        pane_ref *p = &u->panes[idx[i]];
        if (vals[i].ptr && !rc) {
            p->value = scratch_slots(u);
            rc = p->value ? acc_decode(&u->job->acc, vals[i].ptr, vals[i].len, p->value, err)
                          : ember_err_set(err, -ENOMEM, "out of memory");
        }
        store_free_value(&vals[i]);
    }
    return rc;
}

/* Every pane the windows wins[0..n) read: this batch's value, the cache's,
 * else one MultiGet per chunk for the rest. */
static int cmp_panes(const void *a, const void *b)
{
    const pane_ref *y = b;
    return cmp_pane_ref(a, y->ukey, y->uklen, y->start);
}

/* Values of the panes listed by due_panes and the batch's changed panes
 * (every pane holding data that a window of this batch reads). */
static int load_panes(state_update *u, ember_err *err)
{
    for (size_t i = 0; i < u->n_keys; i++) {
        const changed_key *k = &u->keys[i];
        win_ref r = {.ukey = k->key, .uklen = k->klen - WIN_SUFFIX};
        int rc = push_pane(u, &r, window_get_time((const uint8_t *)k->key + r.uklen), err);
        if (rc)
            return rc;
    }
    if (u->n_panes > 1)
        qsort(u->panes, u->n_panes, sizeof *u->panes, cmp_panes);
    size_t n = 0;
    for (size_t i = 0; i < u->n_panes; i++)
        if (!n || cmp_panes(&u->panes[n - 1], &u->panes[i]) != 0)
            u->panes[n++] = u->panes[i];
    u->n_panes = n;
    size_t miss[MULTIGET_CHUNK], n_miss = 0;
    char key[KEY_MAX + WIN_SUFFIX];
    for (size_t i = 0; i < u->n_panes; i++) {
        pane_ref *p = &u->panes[i];
        uint32_t klen = state_key(key, p->ukey, p->uklen, p->start);
        changed_key *k = find_changed(u, key, klen);
        acc_slot *hit = k ? k->merged : cache_get(u->cache, key, klen, preagg_hash(key, klen));
        if (hit) {
            if (!(p->value = scratch_slots(u)))
                return ember_err_set(err, -ENOMEM, "out of memory");
            memcpy(p->value, hit, (size_t)u->job->acc.n_slots * sizeof *hit);
            continue;
        }
        miss[n_miss++] = i;
        if (n_miss == MULTIGET_CHUNK) {
            int rc = fetch_panes(u, miss, n_miss, err);
            if (rc)
                return rc;
            n_miss = 0;
        }
    }
    return n_miss ? fetch_panes(u, miss, n_miss, err) : 0;
}

/* The window's value before this batch (job->retracts, emit=update): its
 * panes as committed, a pane changed by the batch at its value before the
 * fold. NULL when no pane held anything (nothing was emitted yet). */
static acc_slot *pane_prev(state_update *u, const win_ref *r)
{
    const window_spec *w = &u->job->window;
    acc_slot *value = scratch_slots(u);
    char key[KEY_MAX + WIN_SUFFIX];
    int found = 0;
    if (!value)
        return NULL;
    acc_init(&u->job->acc, value);
    for (int64_t t = r->start; t < r->end; t += w->slide_ms) {
        changed_key *k = find_changed(u, key, state_key(key, r->ukey, r->uklen, t));
        const acc_slot *before = NULL;
        if (k && !k->is_new)
            before = u->prev + (size_t)(k - u->keys) * (size_t)u->job->acc.n_slots;
        else if (!k) {
            pane_ref *p = find_pane(u, r->ukey, r->uklen, t);
            before = p ? p->value : NULL;
        }
        if (before) {
            acc_merge(&u->job->acc, value, before);
            found = 1;
        }
    }
    return found ? value : NULL;
}

/* A window's value is the merge of its panes; firing deletes its timer and
 * its oldest pane, which no later window holds. */
static int pane_fire(state_update *u, win_ref *r, store_batch *wb, ember_err *err)
{
    const window_spec *w = &u->job->window;
    acc_slot *value = scratch_slots(u);
    if (!value)
        return ember_err_set(err, -ENOMEM, "out of memory");
    acc_init(&u->job->acc, value);
    char key[KEY_MAX + WIN_SUFFIX];
    int found = 0, oldest_found = 0;
    for (int64_t t = r->start; t < r->end; t += w->slide_ms) {
        pane_ref *p = find_pane(u, r->ukey, r->uklen, t);
        if (p && p->value) {
            acc_merge(&u->job->acc, value, p->value);
            found = 1;
            oldest_found |= t == r->start;
        }
    }
    if (found && ((r->fire && w->emit == EMIT_FINAL) || r->update)) {
        r->value = value;
        r->prev = r->update && u->job->retracts ? pane_prev(u, r) : NULL;
        int rc = upd_check_bounds(u, value, r->ukey, r->uklen + WIN_SUFFIX, err);
        if (!rc)
            rc = win_push(&u->out, r, err);
        if (rc)
            return rc;
    }
    if (r->fire && oldest_found) {
        pane_index(u, wb, r->ukey, r->uklen, r->start, 0);
        upd_delete_state(u, wb, key, state_key(key, r->ukey, r->uklen, r->start));
    }
    return 0;
}

/* Windows due at the new watermark from the committed pane index; also
 * lists every indexed pane a window of this batch may read (panes starting
 * before `hi`) so that only panes holding data are looked up. */
static int due_panes(state_update *u, int64_t hi, ember_err *err)
{
    const window_spec *w = &u->job->window;
    int64_t from = u->wm_old == WIN_NO_WATERMARK ? WIN_NO_WATERMARK : u->wm_old - w->size_ms + 1;
    store_iter *it = upd_timers_from(u, from);
    if (!it)
        return ember_err_set(err, -ENOMEM, "cannot read the pane index");
    int rc = 0;
    for (; !rc && store_iter_valid(it); store_iter_next(it)) {
        size_t n;
        const char *k = store_iter_key(it, &n);
        if (n < WIN_SUFFIX) {
            rc = ember_err_set(err, -EMBER_ECORRUPT, "pane index entry of %zu bytes", n);
            break;
        }
        int64_t pane = window_get_time((const uint8_t *)k);
        if (pane >= hi)
            break;
        win_ref r = {.uklen = (uint32_t)(n - WIN_SUFFIX), .fire = 1};
        if (!(r.ukey = arena_strndup(&u->scratch, k + WIN_SUFFIX, r.uklen)) ||
            push_pane(u, &r, pane, err)) {
            rc = ember_err_set(err, -ENOMEM, "out of memory");
            break;
        }
        for (int64_t end = pane + w->slide_ms; end <= pane + w->size_ms && !rc;
             end += w->slide_ms) {
            if (end <= u->wm_old || end > u->wm_new)
                continue;
            r.start = end - w->size_ms;
            r.end = end;
            rc = win_push(&u->cand, &r, err);
        }
    }
    if (!rc)
        rc = store_iter_status(it, err);
    store_iter_free(it);
    return rc;
}

static int panes_batch(state_update *u, store_batch *wb, ember_err *err)
{
    const window_spec *w = &u->job->window;
    int rc = upd_fold_changed(u, wb, err);
    for (size_t i = 0; i < u->n_keys && !rc; i++)
        rc = pane_windows(u, &u->keys[i], wb, err);
    int64_t hi = u->wm_new == WIN_NO_WATERMARK ? WIN_NO_WATERMARK : u->wm_new - w->slide_ms + 1;
    for (size_t i = 0; i < u->cand.n; i++) /* emit=update reads windows not yet due */
        if (u->cand.v[i].end > hi)
            hi = u->cand.v[i].end;
    u->n_panes = 0;
    if (!rc)
        rc = due_panes(u, hi, err);
    if (rc)
        return rc;
    if (u->cand.n > 1)
        qsort(u->cand.v, u->cand.n, sizeof *u->cand.v, cmp_win_ref);
    size_t n = 0; /* merge duplicates in place */
    for (size_t i = 0; i < u->cand.n; i++) {
        if (n && cmp_win_ref(&u->cand.v[n - 1], &u->cand.v[i]) == 0) {
            u->cand.v[n - 1].fire |= u->cand.v[i].fire;
            u->cand.v[n - 1].update |= u->cand.v[i].update;
        } else {
            u->cand.v[n++] = u->cand.v[i];
        }
    }
    u->cand.n = n;
    rc = load_panes(u, err);
    for (size_t i = 0; i < n && !rc; i++)
        rc = pane_fire(u, &u->cand.v[i], wb, err);
    return rc;
}

/* ---- sessions */

typedef struct sess {
    int64_t first, last, stored_start;
    acc_slot *slots;
    int existing;
} sess;

static int64_t sess_first(const state_update *u, const acc_slot *s)
{
    return s[u->job->aggs[u->job->n_aggs].slot].i;
}

static int64_t sess_last(const state_update *u, const acc_slot *s)
{
    return s[u->job->aggs[u->job->n_aggs + 1].slot].i;
}

static int cmp_sess(const void *a, const void *b)
{
    const sess *x = a, *y = b;
    if (x->first != y->first)
        return (x->first > y->first) - (x->first < y->first);
    return y->existing - x->existing;
}

typedef struct sess_list {
    sess *v;
    size_t n, cap;
} sess_list;

static int sess_push(sess_list *l, const sess *s, ember_err *err)
{
    if (em_array_reserve(&l->v, &l->cap, l->n + 1, sizeof *l->v))
        return ember_err_set(err, -ENOMEM, "out of memory in session windows");
    l->v[l->n++] = *s;
    return 0;
}

/* The key's open sessions, from committed state. */
static int load_sessions(state_update *u, const char *ukey, uint32_t uklen, sess_list *l,
                         ember_err *err)
{
    store_iter *it = store_iter_new(u->st, u->cf, ukey, uklen);
    if (!it)
        return ember_err_set(err, -ENOMEM, "cannot read session state");
    int rc = 0;
    for (; !rc && store_iter_valid(it); store_iter_next(it)) {
        size_t kn, vn;
        const char *k = store_iter_key(it, &kn);
        const char *v = store_iter_value(it, &vn);
        if (kn != uklen + WIN_SUFFIX)
            continue; /* another key that starts with this one */
        sess s = {.existing = 1, .slots = scratch_slots(u)};
        if (!s.slots)
            rc = ember_err_set(err, -ENOMEM, "out of memory");
        else if (!(rc = acc_decode(&u->job->acc, v, vn, s.slots, err))) {
            s.stored_start = window_get_time((const uint8_t *)k + uklen);
            s.first = sess_first(u, s.slots);
            s.last = sess_last(u, s.slots);
            rc = sess_push(l, &s, err);
        }
    }
    if (!rc)
        rc = store_iter_status(it, err);
    store_iter_free(it);
    return rc;
}

/* Writes one merged session made of members [from, to) of l. */
static int session_write(state_update *u, const char *ukey, uint32_t uklen, const sess_list *l,
                         size_t from, size_t to, store_batch *wb, ember_err *err)
{
    const window_spec *w = &u->job->window;
    size_t existing = 0;
    for (size_t i = from; i < to; i++)
        existing += (size_t)l->v[i].existing;
    if (existing == to - from)
        return 0; /* no new records: unchanged */
    acc_slot *acc = scratch_slots(u);
    if (!acc)
        return ember_err_set(err, -ENOMEM, "out of memory");
    acc_init(&u->job->acc, acc);
    for (size_t i = from; i < to; i++)
        acc_merge(&u->job->acc, acc, l->v[i].slots);
    int rc = upd_check_bounds(u, acc, ukey, uklen + WIN_SUFFIX, err);
    if (rc)
        return rc;
    win_ref r = {ukey, uklen, sess_first(u, acc), sess_last(u, acc) + w->size_ms, 0,
                 w->emit == EMIT_UPDATE, acc};
    r.fire = r.end <= u->wm_new;
    char key[KEY_MAX + WIN_SUFFIX];
    int reused = 0;
    for (size_t i = from; i < to && !rc; i++) {
        const sess *m = &l->v[i];
        if (!m->existing)
            continue;
        win_ref old = {ukey, uklen, m->stored_start, m->last + w->size_ms, 0, 0, NULL};
        delete_timer(u, wb, &old);
        rc = win_push(&u->dead_timers, &old, err);
        if (m->stored_start == r.start && !r.fire)
            reused = 1; /* overwritten below */
        else
            upd_delete_state(u, wb, key, state_key(key, ukey, uklen, m->stored_start));
    }
    if (rc)
        return rc;
    if (!r.fire) {
        uint32_t klen = state_key(key, ukey, uklen, r.start);
        size_t n = acc_encode(&u->job->acc, acc, u->enc);
        store_batch_put(wb, u->st, u->cf, key, klen, u->enc, n);
        put_timer(u, wb, &r);
        u->stats.new_keys += !reused;
    }
    u->stats.keys_changed++;
    return (r.fire && w->emit == EMIT_FINAL) || r.update ? win_push(&u->out, &r, err) : 0;
}

/* Merges a key's new buckets [from, to) of u->keys with its open sessions. */
static int session_key(state_update *u, size_t from, size_t to, sess_list *l, store_batch *wb,
                       ember_err *err)
{
    const char *ukey = u->keys[from].key;
    uint32_t uklen = u->keys[from].klen - WIN_SUFFIX;
    l->n = 0;
    int rc = load_sessions(u, ukey, uklen, l, err);
    for (size_t i = from; i < to && !rc; i++) {
        sess s = {.slots = (acc_slot *)u->keys[i].delta};
        s.first = sess_first(u, s.slots);
        s.last = sess_last(u, s.slots);
        rc = sess_push(l, &s, err);
    }
    if (rc)
        return rc;
    qsort(l->v, l->n, sizeof *l->v, cmp_sess);
    size_t start = 0;
    int64_t last = l->v[0].last;
    for (size_t i = 1; i <= l->n && !rc; i++) {
        if (i < l->n && l->v[i].first < last + u->job->window.size_ms) {
            if (l->v[i].last > last)
                last = l->v[i].last;
            continue;
        }
        rc = session_write(u, ukey, uklen, l, start, i, wb, err);
        if (i < l->n) {
            start = i;
            last = l->v[i].last;
        }
    }
    return rc;
}

static int is_dead_timer(const state_update *u, const win_ref *r)
{
    for (size_t i = 0; i < u->dead_timers.n; i++)
        if (cmp_win_ref(r, &u->dead_timers.v[i]) == 0)
            return 1;
    return 0;
}

/* A session whose timer came due without new records: emit and forget it. */
static int session_due(state_update *u, win_ref *r, store_batch *wb, ember_err *err)
{
    if (is_dead_timer(u, r))
        return 0; /* merged into a session written this batch */
    char key[KEY_MAX + WIN_SUFFIX];
    uint32_t klen = state_key(key, r->ukey, r->uklen, r->start);
    acc_slot *value = scratch_slots(u);
    if (!value)
        return ember_err_set(err, -ENOMEM, "out of memory");
    int rc = current_value(u, key, klen, value, err);
    if (rc < 0)
        return rc;
    delete_timer(u, wb, r);
    if (rc == 0)
        return 0;
    upd_delete_state(u, wb, key, klen);
    if (u->job->window.emit != EMIT_FINAL)
        return 0;
    r->value = value;
    return win_push(&u->out, r, err);
}

static int sessions_batch(state_update *u, store_batch *wb, ember_err *err)
{
    sess_list l = {0};
    int rc = 0;
    for (size_t i = 0, j; i < u->n_keys && !rc; i = j) {
        uint32_t uklen = u->keys[i].klen - WIN_SUFFIX;
        for (j = i + 1; j < u->n_keys && u->keys[j].klen == u->keys[i].klen &&
                        memcmp(u->keys[j].key, u->keys[i].key, uklen) == 0;
             j++)
            ;
        rc = session_key(u, i, j, &l, wb, err);
    }
    free(l.v);
    if (!rc)
        rc = due_timers(u, &u->cand, err);
    for (size_t i = 0; i < u->cand.n && !rc; i++)
        rc = session_due(u, &u->cand.v[i], wb, err);
    return rc;
}

static void put_event_time(state_update *u, store_batch *wb, int64_t t)
{
    layout_put_u64(wb, u->st, u->et_key, (uint64_t)t);
}

int state_update_load(state_update *u, ember_err *err)
{
    uint64_t t = 0;
    if (!is_windowed(u))
        return 0;
    int rc = layout_get_u64(u->st, u->et_key, &t, err);
    if (rc == -ENOENT) {
        *err = (ember_err){0};
        return 0;
    }
    if (!rc)
        u->max_event_time = (int64_t)t;
    return rc;
}

int64_t state_update_watermark(const state_update *u)
{
    return window_watermark(&u->job->window, u->max_event_time);
}

/* Step 4 of a windowed job: fold panes or sessions, then fire what the new
 * watermark closes. */
int upd_window_batch(state_update *u, int64_t batch_max, store_batch *wb, ember_err *err)
{
    const window_spec *w = &u->job->window;
    int64_t max = batch_max > u->max_event_time ? batch_max : u->max_event_time;
    u->wm_old = window_watermark(w, u->max_event_time);
    u->wm_new = window_watermark(w, max);
    u->cand.n = u->out.n = u->dead_timers.n = 0;
    arena_reset(&u->scratch);
    int rc = w->kind == WIN_SESSION ? sessions_batch(u, wb, err) : panes_batch(u, wb, err);
    if (rc)
        return rc;
    if (u->out.n > 1)
        qsort(u->out.v, u->out.n, sizeof *u->out.v, cmp_win_ref);
    put_event_time(u, wb, max);
    u->max_event_time = max;
    return 0;
}

