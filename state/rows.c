/*
 * rows: stored state as the user sees it (see rows.h). Only reads; every
 * function works on a store opened read-only.
 */
#include "state/rows.h"
#include "core/base/endian.h"
#include "core/ops/window.h"
#include "state/layout.h"
#include "state/preagg.h"
#include "state/rowcodec.h"
#include "core/ops/text.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int rows_decode(const ember_job *job, const char *key, size_t klen, const char *val, size_t vlen,
                ember_value *vals, ember_record *row, acc_text *txt, ember_err *err)
{
    acc_slot slots[ACC_MAX_SLOTS];
    int n = 0;
    const char *p = key, *end = key + klen;
    int rc = acc_decode(&job->acc, val, vlen, slots, err);
    if (rc)
        return ember_err_prefix(err, "value of key '%.*s'", (int)klen, key);
    const window_spec *w = &job->window;
    int64_t w_start = 0, w_end = 0;
    if (w->kind != WIN_NONE) {
        if (klen < WIN_SUFFIX)
            return ember_err_set(err, -EMBER_ECORRUPT, "window key of %zu bytes", klen);
        end -= WIN_SUFFIX;
        w_start = window_get_time((const uint8_t *)end);
        /* A pane (sliding: SLIDE long) or a session [first, last + gap). */
        w_end = w->kind == WIN_SESSION ? slots[job->aggs[job->n_aggs + 1].slot].i + w->size_ms
                                       : w_start + w->slide_ms;
    }
    while (n < job->n_keys) {
        const char *sep = n + 1 < job->n_keys ? memchr(p, KEY_SEP, (size_t)(end - p)) : NULL;
        const char *stop = sep ? sep : end;
        vals[n].type = EMBER_STRING;
        vals[n++].u.s = (ember_str){p, (uint32_t)(stop - p)};
        p = sep ? sep + 1 : end;
    }
    if (w->kind != WIN_NONE) {
        vals[n].type = vals[n + 1].type = EMBER_INT;
        vals[n++].u.i = w_start;
        vals[n++].u.i = w_end;
    }
    /* acc_result may need the slot array after return: copy values now. */
    txt->used = 0;
    for (int a = 0; a < job->n_aggs; a++)
        acc_result(&job->acc, slots, a, &vals[n++], txt);
    row->n = (uint32_t)n;
    row->values = vals;
    return 0;
}

size_t rows_key_text(const char *k, size_t n, char *buf, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < n && o + 1 < cap; i++)
        buf[o++] = k[i] == KEY_SEP ? ',' : k[i];
    if (cap)
        buf[o] = '\0';
    return o;
}

uint64_t rows_meta_u64(store *st, const char *name, int *found)
{
    char *v = NULL;
    size_t n = 0;
    uint64_t x = 0;
    ember_err err = {0};
    *found = store_get(st, STORE_META, name, strlen(name), &v, &n, &err) == 0 && n == 8;
    if (*found)
        x = get_u64le((const uint8_t *)v);
    free(v);
    return x;
}

char *rows_stored_key(const char *k)
{
    char *s = strdup(k);
    for (char *p = s; p && *p; p++)
        if (*p == ',')
            *p = KEY_SEP;
    return s;
}

/* Entries of a family: exact up to ROWS_COUNT_EXACT_MAX, else RocksDB's
 * estimate with o->exact = 0. */
static int count_entries(store *st, int cf, rows_op_stat *o, ember_err *err)
{
    uint64_t n = 0, est = 0, bytes = 0;
    store_iter *it = store_iter_new(st, cf, NULL, 0);
    for (; it && store_iter_valid(it) && n <= ROWS_COUNT_EXACT_MAX; store_iter_next(it))
        n++;
    int rc = store_iter_status(it, err);
    store_iter_free(it);
    if (rc)
        return rc;
    o->exact = n <= ROWS_COUNT_EXACT_MAX;
    o->keys = n;
    if (!o->exact) {
        store_stats(st, cf, &est, &bytes);
        o->keys = est > n ? est : n;
    }
    return 0;
}

int rows_op_stats(store *st, int cf, rows_op_stat *o, ember_err *err)
{
    int found = 0;
    uint64_t keys = 0;
    memset(o, 0, sizeof *o);
    o->name = store_cf_name(st, (size_t)cf);
    store_stats(st, cf, &keys, &o->bytes);
    /* the aggregate's exact count is committed with every batch */
    if (!strcmp(o->name, LAYOUT_CF_AGGREGATE))
        o->keys = rows_meta_u64(st, META_STATE_KEYS, &found);
    o->exact = found;
    return found ? 0 : count_entries(st, cf, o, err);
}

rows_timers rows_timers_of(const ember_job *job, const char *op)
{
    if (!strcmp(op, LAYOUT_CF_DEDUPE_TIMERS))
        return ROWS_TIMERS_EXPIRY;
    if (strcmp(op, LAYOUT_CF_TIMERS) != 0)
        return ROWS_NOT_TIMERS;
    if (job->ttl_ms)
        return ROWS_TIMERS_EXPIRY;
    if (job->window.kind == WIN_SESSION)
        return ROWS_TIMERS_SESSION;
    return job->window.kind != WIN_NONE ? ROWS_TIMERS_PANES : ROWS_NOT_TIMERS;
}

int rows_timer_split(const ember_job *job, rows_timers layout, const char *k, size_t n,
                     rows_timer *t)
{
    size_t suffix = layout == ROWS_TIMERS_SESSION ? WIN_SUFFIX : 0;
    if (n < WIN_SUFFIX + suffix)
        return -1;
    t->t0 = window_get_time((const uint8_t *)k);
    t->key = k + WIN_SUFFIX;
    t->key_len = n - WIN_SUFFIX - suffix;
    t->t1 = layout == ROWS_TIMERS_PANES     ? t->t0 + job->window.slide_ms
            : layout == ROWS_TIMERS_SESSION ? window_get_time((const uint8_t *)k + n - WIN_SUFFIX)
                                            : 0;
    return 0;
}

static void step(store_iter *it, rows_side *s, int first)
{
    if (!first)
        store_iter_next(it);
    s->k = store_iter_valid(it) ? store_iter_key(it, &s->kn) : NULL;
    if (s->k)
        s->v = store_iter_value(it, &s->vn);
}

static int key_cmp(const rows_side *x, const rows_side *y)
{
    if (!x->k || !y->k)
        return !x->k ? 1 : -1;
    size_t n = x->kn < y->kn ? x->kn : y->kn;
    int c = memcmp(x->k, y->k, n);
    return c ? c : (x->kn > y->kn) - (x->kn < y->kn);
}

int rows_diff(store_iter *xi, store_iter *yi, rows_diff_fn fn, void *ctx)
{
    rows_side x, y;
    int rc = 0;
    step(xi, &x, 1);
    step(yi, &y, 1);
    while (!rc && (x.k || y.k)) {
        int c = key_cmp(&x, &y);
        if (c < 0) {
            rc = fn(&x, NULL, ctx);
            step(xi, &x, 0);
        } else if (c > 0) {
            rc = fn(NULL, &y, ctx);
            step(yi, &y, 0);
        } else {
            if (x.vn != y.vn || (x.vn && memcmp(x.v, y.v, x.vn) != 0))
                rc = fn(&x, &y, ctx);
            step(xi, &x, 0);
            step(yi, &y, 0);
        }
    }
    return rc;
}

void rows_record_text(const ember_record *r, char *buf, size_t cap)
{
    size_t used = 0;
    buf[0] = '\0';
    for (uint32_t i = 0; i < r->n && used + 1 < cap; i++) {
        if (i)
            buf[used++] = ',';
        used += value_format(&r->values[i], buf + used, cap - used);
        if (used >= cap)
            used = cap - 1;
        buf[used] = '\0';
    }
}

int rows_dedupe_last(const char *v, size_t vn, int64_t *expiry, char *buf, size_t cap)
{
    arena mem;
    ember_record r;
    if (vn <= 8)
        return -1;
    const uint8_t *p = (const uint8_t *)v + 8, *end = (const uint8_t *)v + vn;
    arena_init(&mem, 4096);
    int rc = rowcodec_get(&p, end, &mem, &r) || p != end ? -1 : 0;
    if (!rc)
        rows_record_text(&r, buf, cap);
    *expiry = (int64_t)get_u64le((const uint8_t *)v);
    arena_free(&mem);
    return rc;
}
