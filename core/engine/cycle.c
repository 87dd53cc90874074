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
 *                 (4 and 5 run node by node over the job's graph, node.c:
 *                 a node's rows are the input of the nodes after it)
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
#include "core/base/array.h"
#include "core/base/log.h"
#include "core/engine/engine.h"
#include "core/engine/task.h"
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
    for (int i = 0; i < e->n_nodes; i++) {
        const ember_job *job = e->nodes[i].job;
        for (int s = 0; s < job->n_steps; s++) {
            join_table *t = job->steps[s].table;
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

/* Input rate: what the plan took over the time since the previous plan (one
 * interval for the first), i.e. what arrived or was waiting. */
static void note_input(engine *e, batch_ctx *b, double plan_ms)
{
    double since_ms = e->last_plan_ms > 0 ? plan_ms - e->last_plan_ms
                                          : (double)e->job->interval_ms;
    e->last_plan_ms = plan_ms;
    b->pace.input_rate = (double)b->planned_records * 1e3 / (since_ms > 1 ? since_ms : 1);
}

/* One source's plan appended to e->plan, its partitions tagged with the
 * source's number (a job with one source: unchanged). */
static int plan_source(engine *e, node_rt *n, uint64_t budget, size_t *used, batch_ctx *b,
                       ember_err *err)
{
    src_range *r = NULL;
    size_t k = 0;
    src_pulled pulled = {0};
    int rc = n->src.ops->plan(&n->src, budget, &r, &k, &pulled, err);
    if (rc)
        return rc;
    if (em_array_reserve(&e->plan, &e->plan_cap, *used + k + 1, sizeof *e->plan))
        return ember_err_set(err, -ENOMEM, "out of memory");
    for (size_t i = 0; i < k; i++) {
        if (r[i].partition >> SRC_TAG_SHIFT)
            return ember_err_set(err, -ERANGE, "source %s: partition %u is past %u",
                                 n->src.ops->kind, r[i].partition, SRC_PARTITION_MASK);
        e->plan[(*used)++] = (src_range){r[i].partition | n->src_tag << SRC_TAG_SHIFT,
                                         r[i].from, r[i].to};
        if (!pulled.data)
            b->planned_records += r[i].to - r[i].from;
    }
    if (pulled.data) {
        b->pulled = pulled.data;
        b->pulled_bytes = pulled.bytes;
        b->planned_records += pulled.records;
    }
    return 0;
}

static int step_plan(engine *e, batch_ctx *b, ember_err *err)
{
    size_t used = 0;
    double t0 = em_mono_ms();
    int rc = refresh_tables(e, err);
    uint64_t budget = plan_budget(e, &b->pace);
    for (int i = 0; !rc && i < e->n_nodes; i++)
        if (e->nodes[i].job->source)
            rc = plan_source(e, &e->nodes[i], budget, &used, b, err);
    if (rc)
        return rc;
    b->ranges = e->plan;
    b->n = used;
    note_input(e, b, t0);
    b->idle = b->planned_records == 0;
    b->time_ms = em_wall_ms(); /* the batch time, durable in its PLAN */
    return 0;
}

/* ------------------------------------------------------------ 2. WAL */

static int source_durable(engine *e)
{
    for (int i = 0; i < e->n_nodes; i++) {
        node_rt *n = &e->nodes[i];
        if (n->job->source && n->src.ops->durable)
            n->src.ops->durable(&n->src); /* I1 holds: acknowledgements may go out */
    }
    return 0;
}

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
    if (!rc)
        source_durable(e);
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
static int read_one_block(node_rt *n, const src_range *r, ember_err *err)
{
    const char *data;
    size_t bytes;
    int rc = n->src.ops->read_block(&n->src, r, &data, &bytes, err);
    if (!rc && lines_index(&n->lines, data, bytes))
        rc = ember_err_set(err, -ENOMEM, "out of memory reading batch input");
    return rc;
}

/* The batch's ranges of node n's source, partitions untagged. */
static int node_ranges(node_rt *n, const batch_ctx *b, ember_err *err)
{
    n->n_ranges = 0;
    for (size_t i = 0; i < b->n; i++) {
        if (b->ranges[i].partition >> SRC_TAG_SHIFT != n->src_tag)
            continue;
        if (em_array_reserve(&n->ranges, &n->ranges_cap, n->n_ranges + 1, sizeof *n->ranges))
            return ember_err_set(err, -ENOMEM, "out of memory");
        n->ranges[n->n_ranges] = b->ranges[i];
        n->ranges[n->n_ranges++].partition &= SRC_PARTITION_MASK;
    }
    if (em_array_reserve(&n->range_first, &n->range_first_cap, n->n_ranges + 1,
                         sizeof *n->range_first))
        return ember_err_set(err, -ENOMEM, "out of memory");
    n->n_range_first = n->n_ranges;
    return 0;
}

static int read_source(node_rt *n, const batch_ctx *b, ember_err *err)
{
    size_t nonempty = 0, only = 0;
    lines_clear(&n->lines);
    int rc = node_ranges(n, b, err);
    if (rc)
        return rc;
    memset(n->range_first, 0, n->n_ranges * sizeof *n->range_first);
    if (b->pulled && !n->src.ops->replayable)
        return split_pulled(&n->lines, b->pulled, b->pulled_bytes)
                   ? ember_err_set(err, -ENOMEM, "out of memory")
                   : 0;
    for (size_t i = 0; i < n->n_ranges; i++)
        if (n->ranges[i].to != n->ranges[i].from)
            nonempty++, only = i;
    if (nonempty == 1 && n->src.ops->read_block)
        return read_one_block(n, &n->ranges[only], err);
    for (size_t i = 0; i < n->n_ranges; i++) {
        n->range_first[i] = n->lines.n;
        if (n->ranges[i].to == n->ranges[i].from)
            continue;
        rc = n->src.ops->read(&n->src, &n->ranges[i], push_line, &n->lines, err);
        if (rc == -ENOMEM)
            return ember_err_set(err, rc, "out of memory reading batch input");
        if (rc)
            return rc;
    }
    return 0;
}

static int step_read(engine *e, batch_ctx *b, ember_err *err)
{
    for (int i = 0; i < e->n_nodes; i++) {
        node_rt *n = &e->nodes[i];
        if (!n->job->source)
            continue;
        int rc = read_source(n, b, err);
        if (rc)
            return rc;
    }
    return 0;
}

/* ------------------------------------------------------------ 4. transform */

/* The range a line of the batch came from, and its index inside it (the
 * read step noted where each range's lines start). */
static const src_range *line_range(const node_rt *n, const batch_ctx *b, uint64_t line,
                                   uint64_t *idx)
{
    if ((b->pulled && !n->src.ops->replayable) || !n->n_ranges)
        return NULL;
    for (size_t i = n->n_ranges; i-- > 0;)
        if (line >= n->range_first[i] && n->ranges[i].to != n->ranges[i].from) {
            *idx = line - n->range_first[i];
            return &n->ranges[i];
        }
    return NULL;
}

/* "in.csv:2" (the source names the place) or "record 2 of batch 1". */
static void where_line(node_rt *n, const batch_ctx *b, uint64_t line, char *buf, size_t cap)
{
    uint64_t idx;
    const src_range *r = line_range(n, b, line, &idx);
    if (r && n->src.ops->locate && n->src.ops->locate(&n->src, r, idx, buf, cap) == 0)
        return;
    snprintf(buf, cap, "record %" PRIu64 " of batch %" PRIu64, line + 1, b->batch);
}

int cycle_bad_record(engine *e, node_rt *n, const batch_ctx *b, uint64_t bad, ember_err *err)
{
    char reason[sizeof err->msg], where[256];
    (void)e;
    snprintf(reason, sizeof reason, "%s", err->msg);
    where_line(n, b, bad, where, sizeof where);
    size_t len = n->lines.len[bad] > 200 ? 200 : n->lines.len[bad];
    return ember_err_set(err, -EMBER_EBADRECORD,
                         "%s: %s: '%.*s' (parse on-error=skip or dead-letter:PATH to go on)",
                         where, reason, (int)len, lines_at(&n->lines, bad));
}

/* The batch's counts over the nodes: records in are the sources'. */
static void sum_stats(engine *e, batch_ctx *b)
{
    transform_stats *t = &b->ts;
    memset(t, 0, sizeof *t);
    memset(&b->us, 0, sizeof b->us);
    b->key_delta = 0;
    for (int i = 0; i < e->n_nodes; i++) {
        const node_rt *n = &e->nodes[i];
        t->records_in += n->job->source ? n->ts.records_in : 0;
        t->bad_records += n->ts.bad_records;
        t->filtered_out += n->ts.filtered_out;
        t->records_out += n->ts.records_out;
        t->late_records += n->ts.late_records;
        t->duplicates += n->ts.duplicates;
        b->us.keys_changed += n->us.keys_changed;
        b->us.cache_hits += n->us.cache_hits;
        b->us.cache_misses += n->us.cache_misses;
        b->us.new_keys += n->us.new_keys;
        b->us.deleted_keys += n->us.deleted_keys;
        b->key_delta += n->key_delta;
    }
}

/* Steps 4 and 5 node by node in graph order (node.c): each node's
 * transform, then its state update, then its rows go on to the next. */
static int step_operators(engine *e, batch_ctx *b, ember_err *err)
{
    int rc = 0;
    for (int i = 0; i < e->n_nodes && !rc; i++)
        rc = node_run(e, &e->nodes[i], b, err);
    sum_stats(e, b);
    return rc ? rc : fp_step("transform.after", err);
}

/* ------------------------------------------------------------ 6. sink */

/* A sink between the steps: the records its tap copied, worker by worker
 * (input order). */
static int write_tap(node_rt *n, int k, uint64_t *rows_out, ember_err *err)
{
    int rc = 0, tap = n->job->sinks[k].tap;
    for (int w = 0; w < transform_workers(n->tf) && !rc; w++) {
        ember_record *rows;
        const uint8_t *idx;
        const int8_t *sign;
        size_t m;
        transform_tap_rows(n->tf, (size_t)w, &rows, &idx, &sign, &m);
        for (size_t i = 0; i < m && !rc; i++) {
            if (idx[i] != tap || sign[i] < 0)
                continue;
            rc = n->snk[k].ops->write(&n->snk[k], &rows[i], err);
            recent_add(&n->recent[k], &rows[i]);
            ++*rows_out;
        }
    }
    return rc;
}

static int write_rows(node_rt *n, int k, uint64_t *rows_out, ember_err *err)
{
    int rc = 0;
    if (n->job->sinks[k].tap >= 0)
        return write_tap(n, k, rows_out, err);
    for (size_t i = 0; i < n->out.n && !rc; i++) {
        if (n->out.sign[i] < 0)
            continue; /* a retraction is for the aggregates downstream */
        rc = n->snk[k].ops->write(&n->snk[k], &n->out.rows[i], err);
        recent_add(&n->recent[k], &n->out.rows[i]);
        ++*rows_out;
    }
    return rc;
}

static int deliver(node_rt *n, int k, batch_ctx *b, ember_err *err)
{
    sink *s = &n->snk[k];
    int rc = s->ops->begin(s, b->batch, b->time_ms, err);
    if (rc == 1)
        return 0; /* the sink already delivered this (replayed) batch */
    if (rc || (rc = write_rows(n, k, &b->rows_out, err)) ||
        (rc = fp_step("sink.before_commit", err)) || (rc = s->ops->commit(s, b->batch, err)))
        return rc;
    return fp_step("sink.after_commit", err);
}

static int step_sink(engine *e, batch_ctx *b, ember_err *err)
{
    int rc = 0;
    b->rows_out = 0;
    for (int i = 0; i < e->n_nodes && !rc; i++)
        for (int k = 0; k < e->nodes[i].job->n_sinks && !rc; k++)
            rc = deliver(&e->nodes[i], k, b, err);
    if (!rc && e->dead_tf)
        rc = side_write_batch(&e->dead, e->dead_tf, err);
    if (!rc && e->late_tf)
        rc = side_write_batch(&e->late, e->late_tf, err);
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

/* Each node's sink markers and watermarks; the first sink's marker is the
 * commit record's own ("sink/<kind>"). */
static void put_node_meta(engine *e, batch_ctx *b)
{
    for (int i = 0; i < e->n_nodes; i++) {
        node_rt *n = &e->nodes[i];
        for (int k = 0; k < n->job->n_sinks; k++)
            if (n->snk_meta[k][0])
                layout_put_u64(b->wb, e->st, n->snk_meta[k], b->batch);
        node_put_watermark(e, n, b->wb);
    }
}

/* After the commit: each source learns its committed ends (kafka: to the
 * consumer group, source.h), its partitions untagged. */
static void tell_sources(engine *e)
{
    src_range *local = malloc((e->last.n_ends + 1) * sizeof *local);
    for (int i = 0; local && i < e->n_nodes; i++) {
        node_rt *n = &e->nodes[i];
        size_t k = 0;
        if (!n->job->source || !n->src.ops->committed)
            continue;
        for (size_t j = 0; j < e->last.n_ends; j++)
            if (e->last.ends[j].partition >> SRC_TAG_SHIFT == n->src_tag) {
                local[k] = e->last.ends[j];
                local[k++].partition &= SRC_PARTITION_MASK;
            }
        n->src.ops->committed(&n->src, local, k);
    }
    if (!local) /* the group learns the offsets with the next commit */
        em_log(EMBER_LOG_WARN, "out of memory telling the sources their committed offsets");
    free(local);
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
    c->sink_kind[0] = '\0';
    if (!job_is_graph(e->job) && e->job->n_sinks)
        snprintf(c->sink_kind, sizeof c->sink_kind, "%s", e->job->sinks[0].ops->kind);
    c->sink_batch = b->batch;
    commit_put(b->wb, e->st, c);
    put_node_meta(e, b);
    layout_put_u64(b->wb, e->st, META_STATE_KEYS, e->state_keys + (uint64_t)b->key_delta);
    if (e->late.fd >= 0)
        layout_put_u64(b->wb, e->st, META_LATE_BYTES, e->late.bytes);
    if (b->drain)
        layout_put_u64(b->wb, e->st, META_DRAINED, b->batch);
    rc = fp_step("state.before_commit", err);
    if (!rc && e->job->task) /* the changelog and the marker first (task.c) */
        rc = task_commit(e, b, err);
    if (!rc)
        rc = store_write(e->st, b->wb, !e->replay_nosync, err);
    if (rc)
        return rc;
    e->committed = b->batch;
    e->records_total = c->records_total;
    e->state_keys += (uint64_t)b->key_delta;
    if (b->drain)
        e->drained = b->batch;
    tell_sources(e);
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
    if (!rc) /* steps 4 and 5, node by node: node_run times each part */
        rc = step_operators(e, b, err);
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
    else
        for (int i = 0; i < e->n_nodes; i++) { /* caches may be ahead of the disk */
            if (e->nodes[i].upd)
                state_update_drop_cache(e->nodes[i].upd);
            if (e->nodes[i].sj)
                stream_join_drop_cache(e->nodes[i].sj);
        }
    return rc;
}
