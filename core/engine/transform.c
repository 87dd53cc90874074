/*
 * transform: per-record work of a batch, on worker threads (see transform.h).
 * Thread rules: a worker touches only its own struct worker; the driver reads
 * results after pthread_join. Per-record memory comes from the worker arena,
 * reset at the start of each batch.
 */
#include "core/engine/transform_private.h"
#include "core/base/array.h"
#include "core/job/steps.h"
#include "core/ops/csv.h"
#include "core/ops/text.h"
#include "state/table.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- workers */

static int worker_init(worker *w, transform *t, int id)
{
    const ember_job *job = t->job;
    w->id = id;
    w->t = t;
    arena_init(&w->scratch, 256 * 1024);
    w->vals = calloc((size_t)job->n_steps + 1, sizeof *w->vals);
    if (!w->vals)
        return -ENOMEM;
    for (int s = 0; s <= job->n_steps; s++) {
        w->vals[s] = calloc((size_t)job->max_width + 1, sizeof **w->vals);
        if (!w->vals[s])
            return -ENOMEM;
    }
    if (!job->n_aggs)
        return 0;
    w->shards = calloc((size_t)t->n_workers, sizeof *w->shards);
    if (!w->shards)
        return -ENOMEM;
    for (int s = 0; s < t->n_workers; s++)
        if (!(w->shards[s] = preagg_new(job->acc.n_slots)))
            return -ENOMEM;
    return 0;
}

static void worker_free(worker *w, const ember_job *job)
{
    if (w->vals)
        for (int s = 0; s <= job->n_steps; s++)
            free(w->vals[s]);
    free(w->vals);
    if (w->shards)
        for (int s = 0; s < w->t->n_workers; s++)
            preagg_free(w->shards[s]);
    free(w->shards);
    free(w->out.rows);
    free(w->out_sign);
    free(w->tap.rows);
    free(w->tap_idx);
    free(w->tap_sign);
    text_free(&w->row_text);
    free(w->ids.v);
    text_free(&w->dead);
    text_free(&w->late);
    arena_free(&w->scratch);
}

transform *transform_new(const ember_job *job, int threads)
{
    transform *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->job = job;
    t->n_workers = threads < 1 ? 1 : threads;
    t->w = calloc((size_t)t->n_workers, sizeof *t->w);
    if (!t->w)
        goto fail;
    for (int i = 0; i < t->n_workers; i++)
        if (worker_init(&t->w[i], t, i))
            goto fail;
    return t;
fail:
    transform_free(t);
    return NULL;
}

void transform_free(transform *t)
{
    if (!t)
        return;
    for (int i = 0; t->w && i < t->n_workers; i++)
        if (t->w[i].t)
            worker_free(&t->w[i], t->job);
    free(t->w);
    free(t->drop_line);
    free(t->ids);
    free(t->prev_line);
    free(t);
}

/* ------------------------------------------------------------ per record */

int tf_key_append_value(char *key, size_t used, const ember_value *v)
{
    if (v->type == EMBER_STRING) {
        if (used + v->u.s.len > KEY_MAX)
            return -1;
        memcpy(key + used, v->u.s.ptr, v->u.s.len);
        return (int)(used + v->u.s.len);
    }
    return (int)(used + value_format(v, key + used, KEY_MAX - used));
}

/* Builds the key of rec into w->key; returns its length or -1 if too long. */
static int build_key(worker *w, const ember_record *rec)
{
    const ember_job *job = w->t->job;
    int used = 0;
    for (int i = 0; i < job->n_keys; i++) {
        if (i) {
            if (used + 1 >= KEY_MAX)
                return -1;
            w->key[used++] = KEY_SEP;
        }
        used = tf_key_append_value(w->key, (size_t)used, &rec->values[job->key_fields[i]]);
        if (used < 0)
            return -1;
    }
    return used;
}

/* Record i of the input as text: its line, or a row input's fields
 * comma-separated (for dead letters and late records). */
static const char *input_text(worker *w, size_t i, size_t *len)
{
    const transform *t = w->t;
    if (!t->rows_in) {
        *len = t->in->len[i];
        return lines_at(t->in, i);
    }
    const ember_record *r = &t->rows_in->rows[i];
    char buf[64];
    w->row_text.len = 0;
    for (uint32_t f = 0; f < r->n; f++) {
        const ember_value *v = &r->values[f];
        if (f && text_append(&w->row_text, ",", 1))
            break;
        if (v->type == EMBER_STRING) {
            if (text_append(&w->row_text, v->u.s.ptr, v->u.s.len))
                break;
        } else if (v->type != EMBER_NULL &&
                   text_append(&w->row_text, buf, value_format(v, buf, sizeof buf))) {
            break;
        }
    }
    *len = w->row_text.len;
    return w->row_text.data ? w->row_text.data : "";
}

/* Event times beyond +-2^62 ms are rejected so window arithmetic cannot overflow. */
#define EVENT_TIME_LIMIT (INT64_C(1) << 62)

/* The record's time: its event-time field, or the batch time. */
static int record_time(worker *w, const ember_record *rec, int64_t *t)
{
    const window_spec *win = &w->t->job->window;
    if (win->time_field < 0) {
        *t = w->t->batch_time_ms;
        return 0;
    }
    const ember_value *v = &rec->values[win->time_field];
    if (v->type != EMBER_INT)
        return ember_err_set(&w->err, -EMBER_EBADRECORD, "event time '%s' is empty",
                             w->t->job->current.f[win->time_field].name);
    if (v->u.i <= -EVENT_TIME_LIMIT || v->u.i >= EVENT_TIME_LIMIT)
        return ember_err_set(&w->err, -EMBER_EBADRECORD, "event time %lld is out of range",
                             (long long)v->u.i);
    *t = v->u.i;
    return 0;
}

/* Windowed jobs: appends the pane (or session bucket) start to the key, or
 * returns 1 when the record is late. The time goes into the pseudo-field
 * past the record's fields, where sessions' hidden min/max read it. */
static int window_assign(worker *w, ember_record *rec, int *klen, size_t index)
{
    const window_spec *win = &w->t->job->window;
    int64_t t = 0;
    int rc = record_time(w, rec, &t);
    if (rc)
        return rc;
    if (window_is_late(win, t, w->t->watermark)) {
        size_t len;
        const char *line = win->late_path ? input_text(w, index, &len) : NULL;
        w->stats.late_records++;
        if (line && (text_append(&w->late, line, len) || text_append(&w->late, "\n", 1)))
            return ember_err_set(&w->err, -ENOMEM, "out of memory");
        return 1;
    }
    if (t > w->stats.max_event_time)
        w->stats.max_event_time = t;
    if (*klen + WIN_SUFFIX > KEY_MAX)
        return ember_err_set(&w->err, -EMBER_EBADRECORD, "key longer than %d bytes",
                             KEY_MAX - WIN_SUFFIX);
    window_put_time((uint8_t *)w->key + *klen, window_pane_start(win, t));
    *klen += WIN_SUFFIX;
    ember_value *slot = &rec->values[w->t->job->current.n];
    slot->type = EMBER_INT;
    slot->u.i = t;
    rec->n = (uint32_t)w->t->job->current.n + 1;
    return 0;
}

static int aggregate_record(worker *w, ember_record *rec, size_t index, int sign)
{
    int klen = build_key(w, rec);
    if (klen < 0)
        return ember_err_set(&w->err, -EMBER_EBADRECORD, "key longer than %d bytes", KEY_MAX);
    if (w->t->job->window.kind != WIN_NONE) {
        int rc = window_assign(w, rec, &klen, index);
        if (rc)
            return rc > 0 ? 0 : rc;
    } else if (w->t->job->ttl_ms) { /* the key's last update, a hidden max */
        ember_value *slot = &rec->values[w->t->job->current.n];
        slot->type = EMBER_INT;
        slot->u.i = w->t->batch_time_ms;
        rec->n = (uint32_t)w->t->job->current.n + 1;
    }
    uint64_t h = preagg_hash(w->key, (uint32_t)klen);
    preagg *m = w->shards[h % (uint64_t)w->t->n_workers];
    int is_new;
    acc_slot *slots = preagg_upsert(m, w->key, (uint32_t)klen, h, &is_new);
    if (!slots)
        return ember_err_set(&w->err, -ENOMEM, "out of memory in pre-aggregation");
    if (is_new)
        acc_init(&w->t->job->acc, slots);
    if (sign < 0) /* an updated row's previous value (graph.c: retractions) */
        acc_retract(&w->t->job->acc, slots, rec, &w->scratch);
    else
        acc_add(&w->t->job->acc, slots, rec, &w->scratch);
    return 0;
}

static int emit_row(worker *w, const ember_record *rec, int sign)
{
    row_vec *o = &w->out;
    if (em_array_reserve(&o->rows, &o->cap, o->n + 1, sizeof *o->rows) ||
        em_array_reserve(&w->out_sign, &w->out_sign_cap, o->n + 1, 1))
        return ember_err_set(&w->err, -ENOMEM, "out of memory");
    w->out_sign[o->n] = (int8_t)sign;
    ember_value *copy = arena_alloc(&w->scratch, rec->n * sizeof *copy);
    if (!copy)
        return ember_err_set(&w->err, -ENOMEM, "out of memory");
    memcpy(copy, rec->values, rec->n * sizeof *copy);
    o->rows[o->n++] = (ember_record){rec->n, copy};
    return 0;
}

/* A sink between the steps (graph.c's taps): a copy of the record. */
static int tap_record(worker *w, const ember_record *rec, int tap)
{
    row_vec *o = &w->tap;
    if (!w->tapping)
        return 0;
    if (em_array_reserve(&o->rows, &o->cap, o->n + 1, sizeof *o->rows) ||
        em_array_reserve(&w->tap_idx, &w->tap_idx_cap, o->n + 1, 1) ||
        em_array_reserve(&w->tap_sign, &w->tap_sign_cap, o->n + 1, 1))
        return ember_err_set(&w->err, -ENOMEM, "out of memory");
    ember_value *copy = arena_alloc(&w->scratch, (rec->n ? rec->n : 1) * sizeof *copy);
    if (!copy)
        return ember_err_set(&w->err, -ENOMEM, "out of memory");
    memcpy(copy, rec->values, rec->n * sizeof *copy);
    w->tap_idx[o->n] = (uint8_t)tap;
    w->tap_sign[o->n] = (int8_t)w->sign;
    o->rows[o->n++] = (ember_record){rec->n, copy};
    return 0;
}

/* Appends the table row's fields; 1 = no row and on-miss=drop. */
static int join_record(worker *w, const job_step *st, int s, ember_record *rec)
{
    const ember_value *kv = &rec->values[st->join_key];
    const ember_value *row = NULL;
    char buf[64];
    if (kv->type == EMBER_STRING)
        row = table_lookup(st->table, kv->u.s.ptr, kv->u.s.len);
    else if (kv->type != EMBER_NULL)
        row = table_lookup(st->table, buf, value_format(kv, buf, sizeof buf));
    if (!row && !st->join_keep)
        return 1;
    ember_record next = {rec->n + (uint32_t)st->join_fields, w->vals[s + 1]};
    memcpy(next.values, rec->values, rec->n * sizeof *rec->values);
    for (int j = 0; j < st->join_fields; j++)
        next.values[rec->n + (uint32_t)j] = row ? row[j] : (ember_value){.type = EMBER_NULL};
    *rec = next;
    return 0;
}

/* Runs steps [0, upto) on a parsed record; 1 = dropped by a filter,
 * -EMBER_EBADRECORD (w->err) for a record a step cannot take. */
int tf_run_steps(worker *w, ember_record *rec, int from, int upto)
{
    const ember_job *job = w->t->job;
    for (int s = from; s < upto; s++) {
        const job_step *st = &job->steps[s];
        switch (st->kind) {
        case STEP_FILTER:
            if (!expr_is_true(st->filter, rec, &w->scratch))
                return 1;
            break;
        case STEP_FILTER_FN:
            if (!st->filter_fn(rec, st->user))
                return 1;
            break;
        case STEP_MAP_FN:
            st->map_fn(rec, st->user);
            break;
        case STEP_JOIN:
            if (join_record(w, st, s, rec))
                return 1;
            break;
        case STEP_TAP: {
            int rc = tap_record(w, rec, st->tap);
            if (rc)
                return rc;
            break;
        }
        case STEP_WATERMARK: {
            const ember_value *v = &rec->values[st->wm_field];
            if (v->type != EMBER_INT)
                return ember_err_set(&w->err, -EMBER_EBADRECORD, "event time '%s' is empty",
                                     job->wm_name);
            if (v->u.i > w->stats.wm_max)
                w->stats.wm_max = v->u.i;
            w->stats.wm_rows++;
            break;
        }
        case STEP_DEDUPE: {
            int rc = tf_dedupe_step(w, s);
            if (rc)
                return rc;
            break;
        }
        case STEP_SELECT: {
            ember_record next = {(uint32_t)st->select->out.n, w->vals[s + 1]};
            select_eval(st->select, rec, &w->scratch, &next);
            *rec = next;
            break;
        }
        }
    }
    return 0;
}

static int handle_bad_record(worker *w, size_t index)
{
    const ember_job *job = w->t->job;
    size_t len;
    const char *line = input_text(w, index, &len);
    if (job->on_error == ON_ERROR_FAIL) {
        w->bad_index = index;
        return w->err.code ? w->err.code : -EMBER_EBADRECORD;
    }
    w->stats.bad_records++;
    if (job->on_error == ON_ERROR_DEAD_LETTER &&
        (text_append(&w->dead, w->err.msg, strlen(w->err.msg)) ||
         text_append(&w->dead, "\t", 1) || text_append(&w->dead, line, len) ||
         text_append(&w->dead, "\n", 1)))
        return ember_err_set(&w->err, -ENOMEM, "out of memory");
    return 0;
}

int tf_parse_record(worker *w, size_t index, ember_record *rec)
{
    const ember_job *job = w->t->job;
    rec->values = w->vals[0];
    if (w->t->rows_in) { /* a copy: map steps edit the record in place */
        const ember_record *r = &w->t->rows_in->rows[index];
        memcpy(rec->values, r->values, r->n * sizeof *r->values);
        rec->n = r->n;
        return 0;
    }
    const char *line = lines_at(w->t->in, index);
    size_t len = w->t->in->len[index];
    if (!job->has_parse) {
        rec->n = 1;
        rec->values[0].type = EMBER_STRING;
        rec->values[0].u.s = (ember_str){line, (uint32_t)len};
        return 0;
    }
    rec->n = (uint32_t)job->input.n;
    return job->format->parse(job->delim, line, len, &job->input, rec->values, &w->scratch,
                              &w->err);
}

static int process_line(worker *w, size_t index)
{
    const transform *t = w->t;
    ember_record rec;
    int sign = t->rows_in ? t->rows_in->sign[index] : 1;
    w->sign = sign;
    w->stats.records_in++;
    w->line = index;
    if (tf_parse_record(w, index, &rec))
        return handle_bad_record(w, index);
    int rc = tf_run_steps(w, &rec, 0, t->job->n_steps);
    if (rc < 0)
        return rc == -EMBER_EBADRECORD ? handle_bad_record(w, index) : rc;
    if (rc) {
        w->stats.filtered_out++;
        return 0;
    }
    w->stats.records_out++;
    return tf_finish_record(w, &rec, index, sign);
}

int tf_finish_record(worker *w, ember_record *rec, size_t index, int sign)
{
    if (!w->t->job->n_aggs)
        return emit_row(w, rec, sign);
    int rc = aggregate_record(w, rec, index, sign);
    return rc == -EMBER_EBADRECORD ? handle_bad_record(w, index) : rc;
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    w->tapping = 1;
    for (size_t i = w->first; i < w->last && !w->rc; i++)
        w->rc = process_line(w, i);
    return NULL;
}

/* Phase 2: worker s folds shard s of every other worker into its own. */
static void *merge_main(void *arg)
{
    worker *w = arg;
    transform *t = w->t;
    preagg *into = w->shards[w->id];
    for (int o = 0; o < t->n_workers && !w->rc; o++) {
        if (o == w->id)
            continue;
        preagg *from = t->w[o].shards[w->id];
        for (size_t i = 0; i < preagg_count(from); i++) {
            preagg_entry *e = preagg_entry_at(from, i);
            int is_new;
            acc_slot *s = preagg_upsert(into, e->key, e->klen, e->hash, &is_new);
            if (!s) {
                w->rc = ember_err_set(&w->err, -ENOMEM, "out of memory merging shards");
                break;
            }
            if (is_new)
                acc_init(&t->job->acc, s);
            acc_merge(&t->job->acc, s, e->slots);
        }
    }
    return NULL;
}

void tf_run_parallel(transform *t, void *(*fn)(void *))
{
    pthread_t tid[256];
    int started = 0;
    if (t->n_workers == 1) {
        fn(&t->w[0]);
        return;
    }
    for (int i = 1; i < t->n_workers && i < 256; i++, started++)
        if (pthread_create(&tid[i], NULL, fn, &t->w[i]) != 0) {
            t->w[i].rc = ember_err_set(&t->w[i].err, -EAGAIN, "cannot start worker thread");
            break;
        }
    fn(&t->w[0]);
    for (int i = 1; i <= started; i++)
        pthread_join(tid[i], NULL);
}

static void reset_workers(transform *t)
{
    size_t n = t->n_in, per = (n + (size_t)t->n_workers - 1) / (size_t)t->n_workers;
    for (int i = 0; i < t->n_workers; i++) {
        worker *w = &t->w[i];
        w->first = per * (size_t)i < n ? per * (size_t)i : n;
        w->last = w->first + per < n ? w->first + per : n;
        w->rc = 0;
        w->err = (ember_err){0};
        w->out.n = 0;
        w->tap.n = 0;
        w->dead.len = 0;
        w->late.len = 0;
        memset(&w->stats, 0, sizeof w->stats);
        w->stats.max_event_time = WIN_NO_WATERMARK;
        w->stats.wm_max = WIN_NO_WATERMARK;
        arena_reset(&w->scratch);
        for (int s = 0; w->shards && s < t->n_workers; s++)
            preagg_reset(w->shards[s]);
    }
}

/* The first failing worker in input order decides the error. */
static int collect_error(transform *t, uint64_t *bad_index, ember_err *err)
{
    for (int i = 0; i < t->n_workers; i++) {
        if (!t->w[i].rc)
            continue;
        *err = t->w[i].err;
        err->code = t->w[i].rc;
        *bad_index = t->w[i].bad_index;
        return t->w[i].rc;
    }
    return 0;
}

static int run_batch(transform *t, uint64_t *bad_index, ember_err *err)
{
    reset_workers(t);
    if (t->job->dedupe_step >= 0) {
        int rc = t->dedupe ? tf_decide_duplicates(t, t->n_in, err)
                           : ember_err_set(err, -EINVAL, "dedupe step without its state");
        if (rc)
            return rc;
    }
    tf_run_parallel(t, worker_main);
    int rc = collect_error(t, bad_index, err);
    if (rc || !t->job->n_aggs || t->n_workers == 1)
        return rc;
    tf_run_parallel(t, merge_main);
    return collect_error(t, bad_index, err);
}

int transform_batch(transform *t, const batch_lines *in, uint64_t *bad_index, ember_err *err)
{
    t->in = in;
    t->rows_in = NULL;
    t->n_in = in->n;
    return run_batch(t, bad_index, err);
}

int transform_batch_rows(transform *t, const row_batch *in, uint64_t *bad_index, ember_err *err)
{
    t->in = NULL;
    t->rows_in = in;
    t->n_in = in->n;
    return run_batch(t, bad_index, err);
}

const int8_t *transform_row_signs(transform *t, size_t i_worker) { return t->w[i_worker].out_sign; }

void transform_tap_rows(transform *t, size_t i_worker, ember_record **rows, const uint8_t **tap,
                        const int8_t **sign, size_t *n)
{
    worker *w = &t->w[i_worker];
    *rows = w->tap.rows;
    *tap = w->tap_idx;
    *sign = w->tap_sign;
    *n = w->tap.n;
}

int transform_workers(const transform *t) { return t->n_workers; }

int64_t transform_batch_time(const transform *t) { return t->batch_time_ms; }

int transform_shards(const transform *t) { return t->job->n_aggs ? t->n_workers : 0; }

preagg *transform_shard(transform *t, int s) { return t->w[s].shards[s]; }

void transform_rows(transform *t, size_t i_worker, ember_record **rows, size_t *n)
{
    *rows = t->w[i_worker].out.rows;
    *n = t->w[i_worker].out.n;
}

const char *transform_dead_letters(transform *t, size_t i_worker, size_t *bytes)
{
    *bytes = t->w[i_worker].dead.len;
    return t->w[i_worker].dead.data;
}

void transform_set_dedupe(transform *t, dedupe_fn fn, void *ctx)
{
    t->dedupe = fn;
    t->dedupe_ctx = ctx;
}

void transform_set_clock(transform *t, int64_t batch_time_ms, int64_t watermark)
{
    t->batch_time_ms = batch_time_ms;
    t->watermark = watermark;
}

const char *transform_late_lines(transform *t, size_t i_worker, size_t *bytes)
{
    *bytes = t->w[i_worker].late.len;
    return t->w[i_worker].late.data;
}

void transform_get_stats(const transform *t, transform_stats *out)
{
    memset(out, 0, sizeof *out);
    out->max_event_time = WIN_NO_WATERMARK;
    out->wm_max = WIN_NO_WATERMARK;
    for (int i = 0; i < t->n_workers; i++) {
        out->records_in += t->w[i].stats.records_in;
        out->bad_records += t->w[i].stats.bad_records;
        out->filtered_out += t->w[i].stats.filtered_out;
        out->records_out += t->w[i].stats.records_out;
        out->late_records += t->w[i].stats.late_records;
        out->duplicates += t->w[i].stats.duplicates;
        if (t->w[i].stats.max_event_time > out->max_event_time)
            out->max_event_time = t->w[i].stats.max_event_time;
        if (t->w[i].stats.wm_max > out->wm_max)
            out->wm_max = t->w[i].stats.wm_max;
        out->wm_rows += t->w[i].stats.wm_rows;
    }
}
