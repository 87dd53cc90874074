/*
 * node: steps 4 and 5 of the batch cycle for one node of the job's graph
 * (core/job/graph.c): its input (lines of its source, or the rows of the
 * nodes before it), the transform, the state update, and the rows it hands
 * on to its sinks and to the nodes after it.
 *
 * Watermarks. A node with a `watermark` step keeps the largest event time
 * its step saw (committed in meta "watermark/N") and the batch time of its
 * last record there ("watermark_seen/N"). Its watermark is that time minus
 * the step's delay; any other node's is the least of its inputs', leaving
 * out inputs idle for the step's idle=D of batch time (all idle: the
 * greatest). A window that reads the stream's watermark is handed it as its
 * event-time high mark (its own delay is 0), so it fires and judges late
 * records exactly as a window over its own field does.
 */
#include "core/base/array.h"
#include "core/base/log.h"
#include "core/engine/engine.h"
#include "core/fault/failpoint.h"
#include "state/layout.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* ------------------------------------------------------------ output rows */

static int copy_row(arena *a, const ember_record *row, ember_record *out)
{
    ember_value *v = arena_alloc(a, (row->n ? row->n : 1) * sizeof *v);
    if (!v)
        return -ENOMEM;
    for (uint32_t i = 0; i < row->n; i++) {
        v[i] = row->values[i];
        if (v[i].type != EMBER_STRING || !v[i].u.s.len)
            continue;
        char *s = arena_strndup(a, v[i].u.s.ptr, v[i].u.s.len);
        if (!s)
            return -ENOMEM;
        v[i].u.s.ptr = s;
    }
    *out = (ember_record){row->n, v};
    return 0;
}

/* copy: the row is borrowed only until the next call (aggregate rows). */
int node_emit(node_rt *n, const ember_record *row, int sign, int copy)
{
    ember_record r = *row;
    if (copy && copy_row(&n->out_mem, row, &r))
        return -ENOMEM;
    return rows_push(&n->out, &r, sign);
}

static int passes_having(const ember_job *job, const ember_record *row, arena *scratch)
{
    arena_reset(scratch);
    return !job->having || expr_is_true(job->having, row, scratch);
}

/* An aggregate's rows: each changed key (windows: each emitted window)
 * after `having`; over a stream a downstream aggregate retracts, the
 * previous row of an updated key first, with sign -1. */
static int collect_aggregate(node_rt *n, ember_err *err)
{
    if (n->job->top_k)
        return rank_top(n, err);
    arena scratch; /* strings computed by `having` (functions), row by row */
    arena_init(&scratch, 4096);
    int rc = 0;
    for (size_t i = 0; i < state_update_rows(n->upd) && !rc; i++) {
        ember_record row;
        if (n->job->retracts && state_update_prev_row(n->upd, i, &row) &&
            passes_having(n->job, &row, &scratch))
            rc = node_emit(n, &row, -1, 1);
        state_update_row(n->upd, i, &row);
        if (!rc && passes_having(n->job, &row, &scratch))
            rc = node_emit(n, &row, 1, 1);
    }
    arena_free(&scratch);
    return rc ? ember_err_set(err, -ENOMEM, "out of memory") : 0;
}

/* Every worker's rows in input order, copied in bulk (the values stay in
 * the workers' arenas until the next batch). */
static int collect_stateless(node_rt *n, ember_err *err)
{
    size_t total = 0;
    for (int w = 0; w < transform_workers(n->tf); w++) {
        ember_record *rows;
        size_t k;
        transform_rows(n->tf, (size_t)w, &rows, &k);
        total += k;
    }
    row_batch *o = &n->out;
    if (em_array_reserve(&o->rows, &o->cap, total + 1, sizeof *o->rows) ||
        em_array_reserve(&o->sign, &o->sign_cap, total + 1, 1))
        return ember_err_set(err, -ENOMEM, "out of memory");
    for (int w = 0; w < transform_workers(n->tf); w++) {
        ember_record *rows;
        size_t k;
        transform_rows(n->tf, (size_t)w, &rows, &k);
        if (!k)
            continue;
        memcpy(o->rows + o->n, rows, k * sizeof *rows);
        memcpy(o->sign + o->n, transform_row_signs(n->tf, (size_t)w), k);
        o->n += k;
    }
    return 0;
}

/* ------------------------------------------------------------ watermarks */

static int mark_idle(const node_rt *n, int64_t batch_time)
{
    const ember_job *j = n->job;
    if (!j->wm_idle_ms)
        return 0;
    return n->wm_seen == WIN_NO_WATERMARK || batch_time - n->wm_seen >= j->wm_idle_ms;
}

/* The node's watermark with this batch's data, and whether it is idle. */
static int64_t node_mark(const engine *e, const node_rt *n, int64_t batch_time, int *idle)
{
    const ember_job *j = n->job;
    if (j->wm_declared) {
        *idle = mark_idle(n, batch_time);
        if (n->wm_max == WIN_NO_WATERMARK)
            return WIN_NO_WATERMARK;
        return n->wm_max - j->wm_delay_ms;
    }
    int64_t least = INT64_MAX, most = WIN_NO_WATERMARK;
    int active = 0;
    *idle = j->n_inputs > 0;
    for (int k = 0; k < j->n_inputs; k++) {
        int in_idle;
        int64_t m = node_mark(e, &e->nodes[j->inputs[k]], batch_time, &in_idle);
        most = m > most ? m : most;
        if (in_idle)
            continue;
        active = 1;
        *idle = 0;
        least = m < least ? m : least;
    }
    if (!j->n_inputs)
        return WIN_NO_WATERMARK;
    return active ? least : most;
}

/* After the node's transform: the `watermark` step's new high mark. */
static void note_watermark(node_rt *n, const batch_ctx *b)
{
    if (!n->job->wm_declared || !n->ts.wm_rows)
        return;
    if (n->ts.wm_max > n->wm_max)
        n->wm_max = n->ts.wm_max;
    n->wm_seen = (int64_t)b->time_ms;
}

int node_load_watermark(engine *e, node_rt *n, ember_err *err)
{
    uint64_t v;
    n->wm_max = n->wm_seen = WIN_NO_WATERMARK;
    if (!n->job->wm_declared)
        return 0;
    layout_node_meta(n->job, META_WATERMARK, n->wm_key, sizeof n->wm_key);
    layout_node_meta(n->job, META_WATERMARK_SEEN, n->wm_seen_key, sizeof n->wm_seen_key);
    int rc = layout_get_u64(e->st, n->wm_key, &v, err);
    if (!rc)
        n->wm_max = (int64_t)v;
    if (rc == -ENOENT || !rc)
        rc = layout_get_u64(e->st, n->wm_seen_key, &v, err);
    if (!rc)
        n->wm_seen = (int64_t)v;
    if (rc == -ENOENT) {
        *err = (ember_err){0};
        rc = 0;
    }
    return rc;
}

void node_put_watermark(engine *e, const node_rt *n, store_batch *wb)
{
    if (!n->job->wm_declared || n->wm_max == WIN_NO_WATERMARK)
        return;
    layout_put_u64(wb, e->st, n->wm_key, (uint64_t)n->wm_max);
    layout_put_u64(wb, e->st, n->wm_seen_key, (uint64_t)n->wm_seen);
}

/* ------------------------------------------------------------ one node */

/* A join node's input: the join (state/stream_join.c) of its two inputs'
 * new rows under the watermark of both. */
static const row_batch *join_input(engine *e, node_rt *n, batch_ctx *b, ember_err *err)
{
    const row_batch *a = &e->nodes[n->job->inputs[0]].out, *c = &e->nodes[n->job->inputs[1]].out;
    int idle;
    int64_t wm = b->drain ? WIN_DRAINED_EVENT_TIME : node_mark(e, n, (int64_t)b->time_ms, &idle);
    double t0 = em_mono_ms();
    int rc = stream_join_batch(n->sj, a->rows, a->n, c->rows, c->n, (int64_t)b->time_ms, wm, b->wb,
                               err);
    b->t.state_ms += em_mono_ms() - t0;
    if (rc) {
        ember_err_prefix(err, "stream '%s'", job_node_label(n->job));
        return NULL;
    }
    rows_clear(&n->in);
    for (size_t i = 0; i < stream_join_rows(n->sj); i++) {
        ember_record row;
        stream_join_row(n->sj, i, &row);
        if (rows_push(&n->in, &row, 1)) {
            ember_err_set(err, -ENOMEM, "out of memory");
            return NULL;
        }
    }
    return &n->in;
}

/* The rows of a node's inputs: the one input's own, or a union's in input
 * order (the same order in a replay: byte-identical output). */
static const row_batch *node_input(engine *e, node_rt *n, batch_ctx *b, ember_err *err)
{
    const ember_job *j = n->job;
    if (n->sj)
        return join_input(e, n, b, err);
    if (j->n_inputs == 1)
        return &e->nodes[j->inputs[0]].out;
    rows_clear(&n->in);
    for (int k = 0; k < j->n_inputs; k++) {
        const row_batch *o = &e->nodes[j->inputs[k]].out;
        for (size_t i = 0; i < o->n; i++)
            if (rows_push(&n->in, &o->rows[i], o->sign[i])) {
                ember_err_set(err, -ENOMEM, "out of memory");
                return NULL;
            }
    }
    return &n->in;
}

static int node_transform(engine *e, node_rt *n, batch_ctx *b, ember_err *err)
{
    uint64_t bad = 0;
    int rc;
    if (n->dd)
        dedupe_begin(n->dd, b->wb, (int64_t)b->time_ms);
    if (n->job->window.kind != WIN_NONE || n->job->ttl_ms)
        transform_set_clock(n->tf, (int64_t)b->time_ms, state_update_watermark(n->upd));
    if (n->job->n_inputs) {
        const row_batch *in = node_input(e, n, b, err);
        rc = in ? transform_batch_rows(n->tf, in, &bad, err) : err->code;
        if (rc == -EMBER_EBADRECORD)
            ember_err_prefix(err, "stream '%s', row %" PRIu64 " of batch %" PRIu64,
                             job_node_label(n->job), bad + 1, b->batch);
    } else {
        rc = transform_batch(n->tf, &n->lines, &bad, err);
        if (rc == -EMBER_EBADRECORD && bad < n->lines.n)
            rc = cycle_bad_record(e, n, b, bad, err);
    }
    if (!rc && n->dd)
        rc = dedupe_expire(n->dd, err);
    transform_get_stats(n->tf, &n->ts);
    if (n->sj) {
        stream_join_stats js;
        stream_join_get_stats(n->sj, &js, NULL);
        n->ts.late_records += js.late;
    }
    note_watermark(n, b);
    return rc;
}

static int node_state(engine *e, node_rt *n, batch_ctx *b, ember_err *err)
{
    preagg *shards[64];
    int k = transform_shards(n->tf), idle;
    if (k > (int)(sizeof shards / sizeof *shards))
        return ember_err_set(err, -EINVAL, "%d transform shards, at most 64", k);
    for (int s = 0; s < k; s++)
        shards[s] = transform_shard(n->tf, s);
    int64_t high = n->ts.max_event_time;
    if (n->job->wm_window)
        high = node_mark(e, n, (int64_t)b->time_ms, &idle);
    update_input in = {shards, k, (int64_t)b->time_ms, b->drain ? WIN_DRAINED_EVENT_TIME : high};
    int rc = state_update_batch(n->upd, &in, b->wb, err);
    state_update_get_stats(n->upd, &n->us);
    n->key_delta = (int64_t)n->us.new_keys - (int64_t)n->us.deleted_keys;
    return rc;
}

/* Transform, state, output rows of one node; the durations add to the
 * batch's transform and state steps. */
int node_run(engine *e, node_rt *n, batch_ctx *b, ember_err *err)
{
    double t0 = em_mono_ms();
    rows_clear(&n->out);
    arena_reset(&n->out_mem);
    n->key_delta = 0;
    memset(&n->us, 0, sizeof n->us);
    int rc = node_transform(e, n, b, err);
    double t1 = em_mono_ms();
    b->t.transform_ms += t1 - t0;
    if (rc)
        return rc;
    if (!n->job->n_aggs && !n->tk)
        return collect_stateless(n, err);
    if (!n->job->n_aggs) {
        rc = collect_stateless(n, err);
        if (!rc)
            rc = rank_records(n, b, err);
        b->t.state_ms += em_mono_ms() - t1;
        return rc;
    }
    rc = node_state(e, n, b, err);
    if (!rc)
        rc = collect_aggregate(n, err);
    b->t.state_ms += em_mono_ms() - t1;
    return rc;
}
