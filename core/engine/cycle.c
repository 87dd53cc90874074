/*
 * cycle: one micro-batch, top to bottom. Every batch b runs, in this order,
 * on the driver thread (workers inside transform):
 *   1. plan       source.plan() decides each partition's input range, at most
 *                 max-records, under backpressure at most what the job
 *                 processes in one interval (rate.c); new batches only
 *   2. WAL        PLAN b (and DATA b for sources that cannot replay) appended
 *                 and fsynced before anything else happens to b; new only
 *   3. read       exactly the planned ranges (or the WAL's DATA)
 *   4. transform  parse, filter, select, dedupe, key, pre-aggregate
 *   5. state      fold into keyed state, one Put per distinct key
 *   6. sink       the sink's begin/write/commit, then the side outputs
 *   7. commit     ONE synced RocksDB WriteBatch: state delta + commit record
 *                 + end offsets + sink marker + counters
 *   8. snapshot   every `every` batches; WAL segments before the oldest kept
 *                 snapshot are deleted
 * A replayed batch (recovery found its PLAN but no commit) enters at step 3
 * with the PLAN's ranges and batch time, so it produces the same bytes. The
 * drain batch (--drain) plans no input and is marked DRAIN in the WAL; its
 * state step moves every watermark to the end, so every window is emitted.
 *
 * Invariants (asserted in debug and sanitizer builds):
 *   I1. A batch's PLAN is durable before its input is read or any effect of
 *       it reaches the sink or the state (a new batch reads only after its
 *       WAL step; a replayed one came from the WAL).
 *   I2. The committed batch, the state and the end offsets on disk always
 *       belong to the same batch (one WriteBatch, step 7).
 *   I3. Batch ids are dense: batch b is run only when b-1 is committed, so
 *       at most one planned-but-uncommitted batch exists outside recovery.
 *   I4. Nothing in steps 3-8 reads the wall clock; they read b->time_ms.
 */
#include "checkpoint/ckdir.h"
#include "checkpoint/snapshot.h"
#include "checkpoint/waldata.h"
#include "core/base/log.h"
#include "core/engine/engine.h"
#include "core/fault/failpoint.h"
#include "state/layout.h"
#include "state/table.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

typedef int (*step_fn)(engine *e, batch_ctx *b, ember_err *err);

static int fp_step(const char *name, ember_err *err)
{
    int rc = FAILPOINT(name);
    return rc ? ember_err_set(err, rc, "failpoint %s: %s", name, strerror(-rc)) : 0;
}

/* Runs one step and adds its duration to *ms. */
static int timed(engine *e, batch_ctx *b, step_fn step, double *ms, ember_err *err)
{
    double t0 = em_mono_ms();
    int rc = step(e, b, err);
    *ms += em_mono_ms() - t0;
    return rc;
}

#ifndef NDEBUG
static int wal_durable; /* I1: the running batch's PLAN is in the WAL */

static int cycle_invariants_ok(const engine *e, const batch_ctx *b)
{
    return b->batch == e->committed + 1 /* I3 */ && (b->replay || wal_durable) /* I1 */;
}
#endif

/* ------------------------------------------------------------ 1. plan */

/* Join tables changed on disk are swapped in between batches, each in one
 * synced WriteBatch before the next PLAN (so replays see what ran). */
static int refresh_tables(engine *e, ember_err *err)
{
    for (int s = 0; s < e->job->n_steps; s++) {
        join_table *t = e->job->steps[s].table;
        int reloaded = 0;
        if (!t)
            continue;
        int rc = table_refresh(t, &reloaded, err);
        if (rc)
            return rc;
        if (reloaded)
            em_log(EMBER_LOG_INFO, "join table %s reloaded: %zu rows", table_path(t),
                   table_rows(t));
    }
    return 0;
}

/* Records the next plan may take: max-records, or less under backpressure
 * (max-records and the source's own caps such as max-per-partition stay hard
 * caps: the source applies them inside this budget). */
static uint64_t plan_budget(engine *e, batch_pace *pace)
{
    uint64_t max = (uint64_t)e->job->max_records;
    pace->rate_bound = e->job->backpressure ? e->rate.bound : 0;
    pace->record_budget = e->job->backpressure ? rate_budget(&e->rate, max) : max;
    return pace->record_budget;
}

static uint64_t planned_records(const src_range *r, size_t n, const src_pulled *pulled)
{
    uint64_t total = pulled->data ? pulled->records : 0;
    for (size_t i = 0; i < n && !pulled->data; i++)
        total += r[i].to - r[i].from;
    return total;
}

/* Input rate: what the plan took over the time since the previous plan (one
 * interval for the first), i.e. what arrived or was waiting. */
static void note_input(engine *e, batch_ctx *b, double plan_ms)
{
    double since_ms = e->last_plan_ms > 0 ? plan_ms - e->last_plan_ms
                                          : (double)e->job->interval_ms;
    e->last_plan_ms = plan_ms;
    b->pace.input_rate = (double)b->planned_records * 1e3 / (since_ms > 1 ? since_ms : 1);
}

static int step_plan(engine *e, batch_ctx *b, ember_err *err)
{
    src_range *r = NULL;
    size_t n = 0;
    src_pulled pulled = {0};
    double t0 = em_mono_ms();
    int rc = refresh_tables(e, err);
    if (!rc)
        rc = e->src.ops->plan(&e->src, plan_budget(e, &b->pace), &r, &n, &pulled, err);
    if (rc)
        return rc;
    b->ranges = r;
    b->n = n;
    b->pulled = pulled.data;
    b->pulled_bytes = pulled.bytes;
    b->planned_records = planned_records(r, n, &pulled);
    note_input(e, b, t0);
    b->idle = b->planned_records == 0;
    b->time_ms = em_wall_ms(); /* the batch time, durable in its PLAN */
    return 0;
}

/* ------------------------------------------------------------ 2. WAL */

static int step_wal(engine *e, batch_ctx *b, ember_err *err)
{
    size_t bytes = plan_encoded_bytes(b->n);
    uint8_t *buf = malloc(bytes);
    if (!buf)
        return ember_err_set(err, -ENOMEM, "out of memory");
    plan_encode(b->time_ms, b->ranges, b->n, buf);
    int rc = wal_maybe_rotate(e->wal, b->batch, err);
    if (!rc)
        rc = wal_append(e->wal, WAL_PLAN, b->batch, buf, (uint32_t)bytes, err);
    free(buf);
    if (!rc && b->drain)
        rc = wal_append(e->wal, WAL_DRAIN, b->batch, NULL, 0, err);
    if (!rc && b->pulled) {
        char *enc = NULL;
        size_t enc_n = 0;
        rc = waldata_encode(b->pulled, b->pulled_bytes, &enc, &enc_n, err);
        if (!rc)
            rc = wal_append(e->wal, WAL_DATA, b->batch, enc, (uint32_t)enc_n, err);
        free(enc);
    }
    if (!rc)
        rc = wal_sync(e->wal, err); /* failpoint wal.after_append fires inside */
    if (!rc && e->src.ops->durable)
        e->src.ops->durable(&e->src); /* I1 holds: acknowledgements may go out */
#ifndef NDEBUG
    wal_durable = !rc;
#endif
    return rc;
}

/* ------------------------------------------------------------ 3. read */

static int push_line(const char *line, size_t len, void *ctx)
{
    return lines_push(ctx, line, len);
}

static int split_pulled(batch_lines *lines, const char *data, size_t n)
{
    const char *p = data, *end = data + n;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
        if (lines_push(lines, p, len))
            return -ENOMEM;
        p += len + 1;
    }
    return 0;
}

/* One non-empty range and a source that can lend its bytes: no copy. */
static int read_one_block(engine *e, const src_range *r, ember_err *err)
{
    const char *data;
    size_t bytes;
    int rc = e->src.ops->read_block(&e->src, r, &data, &bytes, err);
    if (!rc && lines_index(&e->lines, data, bytes))
        rc = ember_err_set(err, -ENOMEM, "out of memory reading batch input");
    return rc;
}

/* range_first[i]: the batch's first line from range i. */
static int note_range_start(engine *e, size_t i, ember_err *err)
{
    if (i >= e->range_first_cap) {
        size_t cap = e->range_first_cap ? e->range_first_cap * 2 : 64;
        while (cap <= i)
            cap *= 2;
        uint64_t *p = realloc(e->range_first, cap * sizeof *p);
        if (!p)
            return ember_err_set(err, -ENOMEM, "out of memory");
        e->range_first = p;
        e->range_first_cap = cap;
    }
    e->range_first[i] = e->lines.n;
    e->n_range_first = i + 1;
    return 0;
}

static int step_read(engine *e, batch_ctx *b, ember_err *err)
{
    size_t nonempty = 0, only = 0;
    lines_clear(&e->lines);
    e->n_range_first = 0;
    for (size_t i = 0; i < b->n; i++)
        if (note_range_start(e, i, err))
            return err->code;
    if (b->pulled)
        return split_pulled(&e->lines, b->pulled, b->pulled_bytes)
                   ? ember_err_set(err, -ENOMEM, "out of memory")
                   : 0;
    for (size_t i = 0; i < b->n; i++)
        if (b->ranges[i].to != b->ranges[i].from)
            nonempty++, only = i;
    if (nonempty == 1 && e->src.ops->read_block)
        return read_one_block(e, &b->ranges[only], err);
    for (size_t i = 0; i < b->n; i++) {
        e->range_first[i] = e->lines.n;
        if (b->ranges[i].to == b->ranges[i].from)
            continue;
        int rc = e->src.ops->read(&e->src, &b->ranges[i], push_line, &e->lines, err);
        if (rc == -ENOMEM)
            return ember_err_set(err, rc, "out of memory reading batch input");
        if (rc)
            return rc;
    }
    return 0;
}

/* ------------------------------------------------------------ 4. transform */

/* The range a line of the batch came from, and its index inside it (the
 * read step noted where each range's lines start). */
static const src_range *line_range(engine *e, const batch_ctx *b, uint64_t line, uint64_t *idx)
{
    if (b->pulled || !b->n || e->n_range_first < b->n)
        return NULL;
    for (size_t i = b->n; i-- > 0;)
        if (line >= e->range_first[i] && b->ranges[i].to != b->ranges[i].from) {
            *idx = line - e->range_first[i];
            return &b->ranges[i];
        }
    return NULL;
}

/* "in.csv:2" (the source names the place) or "record 2 of batch 1". */
static void where_line(engine *e, const batch_ctx *b, uint64_t line, char *buf, size_t cap)
{
    uint64_t idx;
    const src_range *r = line_range(e, b, line, &idx);
    if (r && e->src.ops->locate && e->src.ops->locate(&e->src, r, idx, buf, cap) == 0)
        return;
    snprintf(buf, cap, "record %" PRIu64 " of batch %" PRIu64, line + 1, b->batch);
}

static int bad_record(engine *e, const batch_ctx *b, uint64_t bad, ember_err *err)
{
    char reason[sizeof err->msg], where[256];
    snprintf(reason, sizeof reason, "%s", err->msg);
    where_line(e, b, bad, where, sizeof where);
    size_t len = e->lines.len[bad] > 200 ? 200 : e->lines.len[bad];
    return ember_err_set(err, -EMBER_EBADRECORD,
                         "%s: %s: '%.*s' (parse on-error=skip or dead-letter:PATH to go on)",
                         where, reason, (int)len, lines_at(&e->lines, bad));
}

static int step_transform(engine *e, batch_ctx *b, ember_err *err)
{
    uint64_t bad = 0;
    if (e->dd)
        dedupe_begin(e->dd, b->wb, (int64_t)b->time_ms);
    if (e->job->window.kind != WIN_NONE || e->job->ttl_ms)
        transform_set_clock(e->tf, (int64_t)b->time_ms, state_update_watermark(e->upd));
    int rc = transform_batch(e->tf, &e->lines, &bad, err);
    if (rc == -EMBER_EBADRECORD && bad < e->lines.n)
        rc = bad_record(e, b, bad, err);
    if (!rc && e->dd)
        rc = dedupe_expire(e->dd, err);
    transform_get_stats(e->tf, &b->ts);
    return rc ? rc : fp_step("transform.after", err);
}

/* ------------------------------------------------------------ 5. state */

static int step_state(engine *e, batch_ctx *b, ember_err *err)
{
    preagg *shards[64];
    int n = transform_shards(e->tf);
    if (!e->job->n_aggs)
        return 0;
    if (n > (int)(sizeof shards / sizeof *shards))
        return ember_err_set(err, -EINVAL, "%d transform shards, at most 64", n);
    for (int s = 0; s < n; s++)
        shards[s] = transform_shard(e->tf, s);
    update_input in = {shards, n, (int64_t)b->time_ms,
                       b->drain ? WIN_DRAINED_EVENT_TIME : b->ts.max_event_time};
    int rc = state_update_batch(e->upd, &in, b->wb, err);
    state_update_get_stats(e->upd, &b->us);
    b->key_delta = (int64_t)b->us.new_keys - (int64_t)b->us.deleted_keys;
    return rc;
}

/* ------------------------------------------------------------ 6. sink */

static int write_rows(engine *e, uint64_t *rows_out, ember_err *err)
{
    int rc = 0;
    *rows_out = 0;
    if (e->job->top_k)
        return rank_write_top(e, rows_out, err);
    if (e->job->n_aggs) {
        arena scratch; /* strings computed by `having` (functions), row by row */
        arena_init(&scratch, 4096);
        for (size_t i = 0; i < state_update_rows(e->upd) && !rc; i++) {
            ember_record row;
            state_update_row(e->upd, i, &row);
            arena_reset(&scratch);
            if (e->job->having && !expr_is_true(e->job->having, &row, &scratch))
                continue;
            rc = e->snk.ops->write(&e->snk, &row, err);
            recent_add(&e->recent, &row);
            ++*rows_out;
        }
        arena_free(&scratch);
        return rc;
    }
    for (int w = 0; w < transform_workers(e->tf) && !rc; w++) {
        ember_record *rows;
        size_t n;
        transform_rows(e->tf, (size_t)w, &rows, &n);
        for (size_t i = 0; i < n && !rc; i++) {
            rc = e->snk.ops->write(&e->snk, &rows[i], err);
            recent_add(&e->recent, &rows[i]);
        }
        *rows_out += n;
    }
    return rc;
}

static int deliver(engine *e, batch_ctx *b, ember_err *err)
{
    int rc = e->snk.ops->begin(&e->snk, b->batch, b->time_ms, err);
    if (rc == 1)
        return 0; /* the sink already delivered this (replayed) batch */
    if (rc || (rc = write_rows(e, &b->rows_out, err)) ||
        (rc = fp_step("sink.before_commit", err)) ||
        (rc = e->snk.ops->commit(&e->snk, b->batch, err)))
        return rc;
    return fp_step("sink.after_commit", err);
}

static int step_sink(engine *e, batch_ctx *b, ember_err *err)
{
    int rc = deliver(e, b, err);
    if (!rc)
        rc = side_write_batch(&e->dead, e->tf, err);
    if (!rc)
        rc = side_write_batch(&e->late, e->tf, err);
    return rc;
}

/* ------------------------------------------------------------ 7. commit */

/* The batch's end offsets replace the committed ones, partition by partition. */
static int merge_ends(engine *e, const batch_ctx *b, ember_err *err)
{
    for (size_t i = 0; i < b->n; i++) {
        size_t j = 0;
        while (j < e->last.n_ends && e->last.ends[j].partition != b->ranges[i].partition)
            j++;
        if (j == e->last.n_ends) {
            src_range *p = realloc(e->last.ends, (j + 1) * sizeof *p);
            if (!p)
                return ember_err_set(err, -ENOMEM, "out of memory");
            e->last.ends = p;
            e->last.n_ends++;
        }
        e->last.ends[j] = (src_range){b->ranges[i].partition, b->ranges[i].to, b->ranges[i].to};
    }
    return 0;
}

static int step_commit(engine *e, batch_ctx *b, ember_err *err)
{
    commit_record *c = &e->last;
    int rc = merge_ends(e, b, err);
    if (rc)
        return rc;
    c->batch = b->batch;
    c->batch_time_ms = b->time_ms;
    c->job_hash = e->job_hash;
    c->dead_letter_bytes = e->dead.fd >= 0 ? e->dead.bytes : c->dead_letter_bytes;
    c->records_total = e->records_total + b->ts.records_in;
    snprintf(c->sink_kind, sizeof c->sink_kind, "%s", e->job->sink->kind);
    c->sink_batch = b->batch;
    commit_put(b->wb, e->st, c);
    layout_put_u64(b->wb, e->st, META_STATE_KEYS, e->state_keys + (uint64_t)b->key_delta);
    if (e->late.fd >= 0)
        layout_put_u64(b->wb, e->st, META_LATE_BYTES, e->late.bytes);
    if (b->drain)
        layout_put_u64(b->wb, e->st, META_DRAINED, b->batch);
    rc = fp_step("state.before_commit", err);
    if (!rc)
        rc = store_write(e->st, b->wb, !e->replay_nosync, err);
    if (rc)
        return rc;
    e->committed = b->batch;
    e->records_total = c->records_total;
    e->state_keys += (uint64_t)b->key_delta;
    if (b->drain)
        e->drained = b->batch;
    if (e->src.ops->committed) /* kafka: to the consumer group (source.h) */
        e->src.ops->committed(&e->src, c->ends, c->n_ends);
    return fp_step("state.after_commit", err);
}

/* ------------------------------------------------------------ 8. snapshot */

static int step_snapshot(engine *e, batch_ctx *b, ember_err *err)
{
    uint64_t oldest = 0;
    const ember_job *job = e->job;
    if (job->snapshot_every == 0) /* not while the commit may not be durable */
        return e->replay_nosync ? 0 : wal_delete_before(e->wal, b->batch + 1, err);
    if (b->batch % (uint64_t)job->snapshot_every != 0)
        return 0;
    int rc = snap_create(e->dir, e->st, b->batch, b->time_ms, e->last.ends, e->last.n_ends,
                         e->job_hash, err);
    if (!rc) {
        e->snapshots_taken++;
        e->last_snapshot = b->batch;
    }
    if (!rc)
        rc = snap_prune(e->dir, (size_t)job->snapshot_keep, &oldest, err);
    /* Replay after a restore starts at oldest+1: its PLAN must survive. */
    if (!rc && oldest)
        rc = wal_delete_before(e->wal, oldest + 1, err);
    return rc;
}

/* ------------------------------------------------------------ the cycle */

int cycle_run(engine *e, batch_ctx *b, ember_err *err)
{
    int rc = 0;
    if (!b->replay)
        b->batch = e->committed + 1;
    if (!b->replay && !b->drain)
        rc = timed(e, b, step_plan, &b->t.plan_ms, err);
    if (b->drain && !b->replay)
        b->time_ms = em_wall_ms();
    if (!rc && !b->replay && !b->idle)
        rc = timed(e, b, step_wal, &b->t.wal_ms, err);
    if (rc || b->idle)
        return rc;
    b->sched_delay_ms += b->t.plan_ms; /* waiting for the plan delays the batch */
    double t0 = em_mono_ms();       /* processing time: steps 3-8 */
    assert(cycle_invariants_ok(e, b));
    if (!(b->wb = store_batch_new()))
        return ember_err_set(err, -ENOMEM, "out of memory");
    rc = timed(e, b, step_read, &b->t.read_ms, err);
    if (!rc)
        rc = timed(e, b, step_transform, &b->t.transform_ms, err);
    if (!rc)
        rc = timed(e, b, step_state, &b->t.state_ms, err);
    if (!rc)
        rc = timed(e, b, step_sink, &b->t.sink_ms, err);
    if (!rc)
        rc = timed(e, b, step_commit, &b->t.commit_ms, err);
    if (!rc)
        rc = timed(e, b, step_snapshot, &b->t.snapshot_ms, err);
    store_batch_free(b->wb);
    b->wb = NULL;
#ifndef NDEBUG
    wal_durable = 0;
#endif
    b->t.total_ms = em_mono_ms() - t0;
    if (!rc)
        report_batch(e, b);
    else if (e->upd)
        state_update_drop_cache(e->upd);
    return rc;
}
