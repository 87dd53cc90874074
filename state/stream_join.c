/*
 * stream_join: one batch of a stream-stream join (semantics and layout in
 * stream_join.h). The order inside a batch:
 *   1. read META (cached): the watermark in force W, the next sequence;
 *   2. classify the new rows: late, unmatchable, their key, T and expiry;
 *   3. each new A row probes the stored B rows, then this batch's B rows;
 *      each new B row probes the stored A rows; a stored row of an outer
 *      side matched for the first time gets its flag set (a put in wb);
 *   4. new rows that can still match a later row are stored with a timer,
 *      the others (outer, unmatched) come out with NULLs now;
 *   5. due timers remove their rows; an outer row never matched comes out
 *      with NULLs;
 *   6. META with the new watermark and sequence.
 * All reads use one iterator created in step 3 (the committed state); what
 * this batch changed is known from the batch itself (new rows) and the
 * mark set (stored rows matched now), so the result does not depend on
 * whether wb was applied.
 */
#include "core/base/endian.h"
#include "core/ops/window.h"
#include "state/stream_join_private.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int64_t sat_add(int64_t a, int64_t b)
{
    if (b > 0 && a > INT64_MAX - b)
        return INT64_MAX;
    if (b < 0 && a < INT64_MIN - b)
        return INT64_MIN;
    return a + b;
}

stream_join *stream_join_new(const stream_join_spec *spec, store *st, int rows_cf, int timer_cf)
{
    stream_join *j = calloc(1, sizeof *j);
    if (!j)
        return NULL;
    j->spec = *spec;
    j->st = st;
    j->rows_cf = rows_cf;
    j->timer_cf = timer_cf;
    arena_init(&j->ar, 64 * 1024);
    return j;
}

void stream_join_free(stream_join *j)
{
    if (!j)
        return;
    arena_free(&j->ar);
    free(j->rows);
    free(j->by_key);
    free(j->marks);
    free(j->out);
    free(j);
}

size_t stream_join_rows(const stream_join *j)
{
    return j->n_out;
}

void stream_join_row(const stream_join *j, size_t i, ember_record *row)
{
    *row = j->out[i];
}

void stream_join_get_stats(const stream_join *j, stream_join_stats *batch, stream_join_stats *total)
{
    if (batch)
        *batch = j->stats;
    if (total)
        *total = j->total;
}

void stream_join_drop_cache(stream_join *j)
{
    j->meta_loaded = 0;
}

/* ------------------------------------------------------------ META */

static int load_meta(stream_join *j, ember_err *err)
{
    char *v = NULL;
    size_t n = 0;
    int rc = store_get(j->st, j->rows_cf, SJ_META_KEY, SJ_META_KEY_LEN, &v, &n, err);
    j->wm = WIN_NO_WATERMARK;
    j->next_seq = 0;
    j->scan_from = INT64_MIN;
    if (rc == -ENOENT)
        rc = 0;
    else if (!rc && (n != SJ_META_BYTES || (uint8_t)v[0] != SJ_META_VERSION))
        rc = ember_err_set(err, -EMBER_ECORRUPT,
                           "stream join %s, %s: its state record is %zu bytes of version %d "
                           "(expected %d bytes of version %d)",
                           j->spec.name[0], j->spec.name[1], n, n ? (uint8_t)v[0] : 0,
                           SJ_META_BYTES, SJ_META_VERSION);
    else if (!rc) {
        const uint8_t *p = (const uint8_t *)v + 1;
        j->wm = (int64_t)get_u64le(p);
        j->next_seq = get_u64le(p + 8);
        j->scan_from = (int64_t)get_u64le(p + 16);
    }
    free(v);
    j->meta_loaded = rc == 0;
    return rc;
}

static void put_meta(stream_join *j, uint64_t next_seq, int64_t scan_from)
{
    uint8_t v[SJ_META_BYTES];
    v[0] = SJ_META_VERSION;
    put_u64le(v + 1, (uint64_t)j->wm_new);
    put_u64le(v + 9, next_seq);
    put_u64le(v + 17, (uint64_t)scan_from);
    store_batch_put(j->wb, j->st, j->rows_cf, SJ_META_KEY, SJ_META_KEY_LEN, v, sizeof v);
    j->wm = j->wm_new;
    j->next_seq = next_seq;
    j->scan_from = scan_from;
}

/* ------------------------------------------------------------ new rows */

/* T, expiry and lateness of an event-time row; 0 when unmatchable. */
static int place_event_row(stream_join *j, sj_row *r, int *late)
{
    const stream_join_spec *s = &j->spec;
    const ember_value *ts = &r->rec->values[s->time_field[r->side]];
    if (ts->type != EMBER_INT || ts->u.i > SJ_TIME_LIMIT || ts->u.i < -SJ_TIME_LIMIT)
        return 0; /* no time to place it by (or beyond the drain's end of time) */
    r->t = ts->u.i;
    r->has_t = 1;
    if (s->form == SJ_WINDOW) {
        int64_t end = sj_window_start(j, r->t) + s->size_ms;
        *late = j->wm_prev != WIN_NO_WATERMARK && end <= j->wm_prev;
        r->expiry = end - 1;
    } else {
        *late = r->t < j->wm_prev;
        r->expiry = r->side == 0 ? sat_add(r->t, s->hi_ms) : sat_add(r->t, -s->lo_ms);
    }
    return 1;
}

static int prepare_row(stream_join *j, sj_row *r, const ember_record *rec, int side, ember_err *err)
{
    const stream_join_spec *s = &j->spec;
    *r = (sj_row){.rec = rec, .side = side};
    if (rec->n < (uint32_t)s->in[side].n)
        return ember_err_set(err, -EINVAL,
                             "stream join %s, %s: a row of %s has %u values, its "
                             "schema %d fields",
                             s->name[0], s->name[1], s->name[side], rec->n, s->in[side].n);
    int late = 0, rc = sj_encode_jkey(j, r, err);
    if (rc)
        return rc;
    int placed = 1;
    if (s->form == SJ_TTL) {
        r->t = j->batch_time;
        r->has_t = 1;
        r->expiry = sat_add(j->batch_time, s->ttl_ms);
    } else {
        placed = place_event_row(j, r, &late);
    }
    r->usable = r->jkey && placed && !late;
    if (late)
        j->stats.late++;
    else if (!r->usable)
        j->stats.unmatchable++;
    r->late = late;
    return 0;
}

static int cmp_by_key(const void *a, const void *b, void *ctx)
{
    const sj_row *rows = ctx, *x = &rows[*(const size_t *)a], *y = &rows[*(const size_t *)b];
    uint32_t n = x->jlen < y->jlen ? x->jlen : y->jlen;
    int c = memcmp(x->jkey, y->jkey, n);
    if (c || x->jlen != y->jlen)
        return c ? c : (x->jlen > y->jlen) - (x->jlen < y->jlen);
    return (x > y) - (x < y);
}

static int prepare(stream_join *j, const ember_record *left, size_t nl, const ember_record *right,
                   size_t nr, ember_err *err)
{
    size_t n = nl + nr;
    if (n > j->rows_cap) {
        free(j->rows);
        free(j->by_key);
        j->rows = malloc(n * sizeof *j->rows);
        j->by_key = malloc(n * sizeof *j->by_key);
        j->rows_cap = j->rows && j->by_key ? n : 0;
        if (!j->rows_cap)
            return ember_err_set(err, -ENOMEM, "out of memory for a join batch of %zu rows", n);
    }
    int rc = 0;
    j->n_by_key = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        rc = prepare_row(j, &j->rows[i], i < nl ? &left[i] : &right[i - nl], i >= nl, err);
        if (!rc && i >= nl && j->rows[i].usable)
            j->by_key[j->n_by_key++] = i;
    }
    if (!rc && j->n_by_key > 1)
        qsort_r(j->by_key, j->n_by_key, sizeof *j->by_key, cmp_by_key, j->rows);
    return rc;
}

/* ------------------------------------------------------------ matching */

/* The T range of the other side's rows that r matches. */
static void match_range(const stream_join *j, const sj_row *r, int64_t *lo, int64_t *hi)
{
    const stream_join_spec *s = &j->spec;
    if (s->form == SJ_TTL) {
        *lo = sat_add(sat_add(j->batch_time, -s->ttl_ms), 1);
        *hi = INT64_MAX;
    } else if (s->form == SJ_WINDOW) {
        *lo = sj_window_start(j, r->t);
        *hi = *lo + s->size_ms - 1;
    } else if (r->side == 0) {
        *lo = sat_add(r->t, s->lo_ms);
        *hi = sat_add(r->t, s->hi_ms);
    } else {
        *lo = sat_add(r->t, -s->hi_ms);
        *hi = sat_add(r->t, -s->lo_ms);
    }
}

/* A stored row of an outer side matched for the first time remembers it. */
static int mark_stored(stream_join *j, const sj_stored *s, const char *k, size_t kl, const char *v,
                       size_t vl, ember_err *err)
{
    if (!stream_join_outer(&j->spec, s->side) || (s->flags & SJ_FLAG_MATCHED) ||
        sj_marked(j, k, (uint32_t)kl))
        return 0;
    char *copy = arena_alloc(&j->ar, vl);
    if (!copy)
        return ember_err_set(err, -ENOMEM, "out of memory for a matched join row");
    memcpy(copy, v, vl);
    copy[0] = (char)((uint8_t)copy[0] | SJ_FLAG_MATCHED);
    store_batch_put(j->wb, j->st, j->rows_cf, k, kl, copy, vl);
    return sj_mark(j, k, (uint32_t)kl, err);
}

static int pair_stored(stream_join *j, sj_row *r, const char *k, size_t kl, const char *v,
                       size_t vl, ember_err *err)
{
    sj_stored s;
    int rc = sj_decode_row(j, k, kl, v, vl, &s, err);
    if (rc)
        return rc;
    const ember_value *mine = r->rec->values;
    rc = r->side == 0 ? sj_emit(j, mine, s.values, &r->t, err)
                      : sj_emit(j, s.values, mine, &r->t, err);
    r->matched = 1;
    return rc ? rc : mark_stored(j, &s, k, kl, v, vl, err);
}

/* r against the stored rows of the other side: one seek, then steps over
 * exactly its key's rows inside the time range. */
static int probe_stored(stream_join *j, sj_row *r, ember_err *err)
{
    int64_t lo, hi;
    uint32_t sklen;
    match_range(j, r, &lo, &hi);
    char *seek = sj_row_key(j, r->jkey, r->jlen, !r->side, lo, 0, &sklen);
    if (!seek)
        return ember_err_set(err, -ENOMEM, "out of memory for a join probe");
    size_t plen = r->jlen + 1;
    int rc = 0;
    store_iter_seek(j->it, seek, sklen);
    j->stats.reads++;
    for (; !rc && store_iter_valid(j->it); store_iter_next(j->it), j->stats.reads++) {
        size_t kl, vl;
        const char *k = store_iter_key(j->it, &kl);
        if (kl != sklen || memcmp(k, seek, plen) || window_get_time((const uint8_t *)k + plen) > hi)
            break;
        const char *v = store_iter_value(j->it, &vl);
        rc = pair_stored(j, r, k, kl, v, vl, err);
    }
    return rc ? rc : store_iter_status(j->it, err);
}

static int batch_pair_ok(const stream_join *j, const sj_row *a, const sj_row *b)
{
    const stream_join_spec *s = &j->spec;
    if (s->form == SJ_TTL)
        return 1;
    if (s->form == SJ_WINDOW)
        return sj_window_start(j, a->t) == sj_window_start(j, b->t);
    return b->t - a->t >= s->lo_ms && b->t - a->t <= s->hi_ms;
}

/* A row r of A against this batch's B rows with its key, in input order. */
static int probe_batch(stream_join *j, sj_row *r, ember_err *err)
{
    size_t lo = 0, hi = j->n_by_key;
    while (lo < hi) { /* the first B row whose key is >= r's */
        size_t mid = (lo + hi) / 2;
        const sj_row *m = &j->rows[j->by_key[mid]];
        uint32_t n = m->jlen < r->jlen ? m->jlen : r->jlen;
        int c = memcmp(m->jkey, r->jkey, n);
        if (c < 0 || (c == 0 && m->jlen < r->jlen))
            lo = mid + 1;
        else
            hi = mid;
    }
    int rc = 0;
    for (size_t i = lo; i < j->n_by_key && !rc; i++) {
        sj_row *b = &j->rows[j->by_key[i]];
        if (b->jlen != r->jlen || memcmp(b->jkey, r->jkey, r->jlen))
            break;
        if (!batch_pair_ok(j, r, b))
            continue;
        rc = sj_emit(j, r->rec->values, b->rec->values, &r->t, err);
        r->matched = b->matched = 1;
    }
    return rc;
}

static int match_all(stream_join *j, size_t nl, size_t nr, ember_err *err)
{
    int rc = 0;
    for (size_t i = 0; i < nl && !rc; i++)
        if (j->rows[i].usable && !(rc = probe_stored(j, &j->rows[i], err)))
            rc = probe_batch(j, &j->rows[i], err);
    for (size_t i = nl; i < nl + nr && !rc; i++)
        if (j->rows[i].usable)
            rc = probe_stored(j, &j->rows[i], err);
    return rc;
}

/* ------------------------------------------------------------ storing */

static int emit_alone(stream_join *j, const sj_row *r, ember_err *err)
{
    if (r->matched || !stream_join_outer(&j->spec, r->side))
        return 0;
    const ember_value *v = r->rec->values;
    const int64_t *t = r->has_t ? &r->t : NULL;
    return r->side == 0 ? sj_emit(j, v, NULL, t, err) : sj_emit(j, NULL, v, t, err);
}

/* 1 when a timer at expiry is due at the end of this batch. */
static int is_due(const stream_join *j, int64_t expiry)
{
    if (j->drain)
        return 1;
    if (j->spec.form == SJ_TTL)
        return expiry <= j->batch_time;
    return j->wm_new != WIN_NO_WATERMARK && expiry < j->wm_new;
}

static int store_row(stream_join *j, const sj_row *r, uint64_t seq, ember_err *err)
{
    uint32_t kl, vl;
    char *k = sj_row_key(j, r->jkey, r->jlen, r->side, r->t, seq, &kl);
    char *v = sj_encode_row(j, r, &vl);
    uint8_t *timer = arena_alloc(&j->ar, (size_t)kl + SJ_TIME_BYTES);
    if (!k || !v || !timer)
        return ember_err_set(err, -ENOMEM, "out of memory for a stored join row");
    window_put_time(timer, r->expiry);
    memcpy(timer + SJ_TIME_BYTES, k, kl);
    store_batch_put(j->wb, j->st, j->rows_cf, k, kl, v, vl);
    store_batch_put(j->wb, j->st, j->timer_cf, timer, kl + SJ_TIME_BYTES, "", 0);
    if (r->expiry < j->min_new_expiry)
        j->min_new_expiry = r->expiry;
    j->stats.stored++;
    return 0;
}

static int store_new(stream_join *j, size_t n, uint64_t *seq, ember_err *err)
{
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        const sj_row *r = &j->rows[i];
        if (r->late)
            continue; /* dropped, never emitted with NULLs */
        if (!r->usable || is_due(j, r->expiry))
            rc = emit_alone(j, r, err); /* can never match a later row */
        else
            rc = store_row(j, r, (*seq)++, err);
    }
    return rc;
}

/* ------------------------------------------------------------ expiry */

/* Emits the row under a due timer if it is an outer row never matched. */
static int emit_expired(stream_join *j, const char *rk, size_t rkl, int side, ember_err *err)
{
    if (!stream_join_outer(&j->spec, side) || sj_marked(j, rk, (uint32_t)rkl))
        return 0;
    store_iter_seek(j->it, rk, rkl);
    j->stats.reads++;
    size_t kl, vl;
    const char *k = store_iter_valid(j->it) ? store_iter_key(j->it, &kl) : NULL;
    if (!k || kl != rkl || memcmp(k, rk, rkl)) {
        int rc = store_iter_status(j->it, err);
        if (rc)
            return rc;
        char text[128];
        store_key_text(rk, rkl, text, sizeof text);
        return ember_err_set(err, -EMBER_ECORRUPT,
                             "stream join %s, %s: a timer names row '%s', "
                             "which the state does not hold",
                             j->spec.name[0], j->spec.name[1], text);
    }
    sj_stored s;
    const char *v = store_iter_value(j->it, &vl);
    int rc = sj_decode_row(j, k, kl, v, vl, &s, err);
    if (rc || (s.flags & SJ_FLAG_MATCHED))
        return rc;
    return side == 0 ? sj_emit(j, s.values, NULL, &s.t, err)
                     : sj_emit(j, NULL, s.values, &s.t, err);
}

static int expire_one(stream_join *j, const char *k, size_t n, ember_err *err)
{
    if (n < SJ_TIME_BYTES + SJ_ROW_SUFFIX + 1) {
        char text[128];
        store_key_text(k, n, text, sizeof text);
        return ember_err_set(err, -EMBER_ECORRUPT, "stream join %s, %s: timer '%s' is too short",
                             j->spec.name[0], j->spec.name[1], text);
    }
    const char *rk = k + SJ_TIME_BYTES;
    size_t rkl = n - SJ_TIME_BYTES;
    int side = (uint8_t)rk[rkl - SJ_ROW_SUFFIX] != 0;
    int rc = emit_expired(j, rk, rkl, side, err);
    if (rc)
        return rc;
    store_batch_delete(j->wb, j->st, j->rows_cf, rk, rkl);
    store_batch_delete(j->wb, j->st, j->timer_cf, k, n);
    j->stats.expired++;
    return 0;
}

/* Due timers are a prefix of timer_cf from scan_from on (every timer
 * before it was removed by an earlier batch), so the scan reads the due
 * timers and one more. */
static int expire(stream_join *j, ember_err *err)
{
    if (!j->drain && j->spec.form != SJ_TTL && j->wm_new == WIN_NO_WATERMARK)
        return 0;
    uint8_t from[SJ_TIME_BYTES];
    window_put_time(from, j->scan_from);
    store_iter *it = store_iter_new_at(j->st, j->timer_cf, from, sizeof from);
    if (!it)
        return ember_err_set(err, -ENOMEM, "stream join %s, %s: cannot read its timers",
                             j->spec.name[0], j->spec.name[1]);
    int rc = 0;
    for (j->stats.reads++; !rc && store_iter_valid(it); store_iter_next(it), j->stats.reads++) {
        size_t n;
        const char *k = store_iter_key(it, &n);
        if (n < SJ_TIME_BYTES || !is_due(j, window_get_time((const uint8_t *)k)))
            break;
        rc = expire_one(j, k, n, err);
    }
    if (!rc)
        rc = store_iter_status(it, err);
    store_iter_free(it);
    return rc;
}

/* Where the next batch's timer scan starts: nothing before it is left.
 * Rows stored now have timers at or after the due bound, unless the batch
 * time went back (a clock step): then the earliest of them. */
static int64_t next_scan_from(const stream_join *j)
{
    int64_t from = j->spec.form == SJ_TTL ? sat_add(j->batch_time, 1) : j->wm_new;
    from = from > j->scan_from ? from : j->scan_from;
    return from < j->min_new_expiry ? from : j->min_new_expiry;
}

/* ------------------------------------------------------------ the batch */

static void stats_add(stream_join_stats *t, const stream_join_stats *b)
{
    t->late += b->late;
    t->unmatchable += b->unmatchable;
    t->pairs += b->pairs;
    t->unmatched += b->unmatched;
    t->stored += b->stored;
    t->expired += b->expired;
    t->reads += b->reads;
}

static int begin(stream_join *j, int64_t batch_time_ms, int64_t watermark, store_batch *wb,
                 ember_err *err)
{
    arena_reset(&j->ar);
    j->n_out = 0;
    memset(&j->stats, 0, sizeof j->stats);
    if (j->n_marks)
        memset(j->marks, 0, j->marks_cap * sizeof *j->marks);
    j->n_marks = 0;
    j->wb = wb;
    j->batch_time = batch_time_ms;
    j->min_new_expiry = INT64_MAX;
    int rc = j->meta_loaded ? 0 : load_meta(j, err);
    if (rc)
        return rc;
    j->wm_prev = j->wm;
    j->wm_new = watermark > j->wm ? watermark : j->wm;
    j->drain = watermark >= WIN_DRAINED_EVENT_TIME;
    j->it = store_iter_new_at(j->st, j->rows_cf, SJ_META_KEY, SJ_META_KEY_LEN);
    if (!j->it)
        return ember_err_set(err, -ENOMEM, "stream join %s, %s: cannot read its rows",
                             j->spec.name[0], j->spec.name[1]);
    return 0;
}

int stream_join_batch(stream_join *j, const ember_record *left, size_t nl,
                      const ember_record *right, size_t nr, int64_t batch_time_ms,
                      int64_t watermark, store_batch *wb, ember_err *err)
{
    uint64_t seq;
    int rc = begin(j, batch_time_ms, watermark, wb, err);
    if (rc)
        goto out;
    seq = j->next_seq;
    if ((rc = prepare(j, left, nl, right, nr, err)) || (rc = match_all(j, nl, nr, err)) ||
        (rc = store_new(j, nl + nr, &seq, err)) || (rc = expire(j, err)))
        goto out;
    put_meta(j, seq, next_scan_from(j));
out:
    store_iter_free(j->it);
    j->it = NULL;
    if (rc)
        j->n_out = 0;
    stats_add(&j->total, &j->stats);
    return rc;
}
