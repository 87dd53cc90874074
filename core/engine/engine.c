/*
 * engine: the batch cycle and its scheduler, ember_job_run().
 *
 * Every micro-batch b runs, in this order, on the driver thread (workers
 * inside transform):
 *   1. plan      source.plan() decides each partition's input range, at most
 *                max-records, under backpressure at most what the job
 *                processes in one interval (core/rate.c, new batches only)
 *   2. WAL       PLAN b (and DATA b for sources that cannot replay) appended
 *                and fsynced before anything else happens to b
 *   3. transform read exactly the planned ranges; parse, filter, select, key,
 *                pre-aggregate (core/transform.c)
 *   4. state     fold into keyed state, one Put per distinct key
 *                (state/update.c)
 *   5. sink+commit  the sink's begin/write/commit, then ONE synced RocksDB
 *                WriteBatch with state delta + commit record + end offsets +
 *                sink marker (checkpoint/commit.c); then maybe a snapshot
 *
 * Invariants (checked by engine_invariants_ok in debug builds):
 *   I1. A batch's PLAN is durable before its input is read or any effect of
 *       it reaches the sink or the state.
 *   I2. The committed batch, the state and the end offsets on disk always
 *       belong to the same batch (one WriteBatch).
 *   I3. Batch ids are dense: batch b+1 is planned only after b committed, so
 *       at most one planned-but-uncommitted batch exists outside recovery.
 *   I4. Nothing inside steps 3-5 reads the wall clock except through the
 *       PLAN's batch time, so a replay produces the same bytes.
 */
#include "core/engine/engine.h"
#include "checkpoint/ckdir.h"
#include "checkpoint/snapshot.h"
#include "core/fault/failpoint.h"
#include "core/base/io.h"
#include "state/dedupe.h"
#include "state/table.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t stop_requested;

void ember_request_stop(void) { stop_requested = 1; }

uint64_t engine_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static double mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int fp_step(const char *name, ember_err *err)
{
    int rc = FAILPOINT(name);
    return rc ? ember_err_set(err, rc, "failpoint %s: %s", name, strerror(-rc)) : 0;
}

#ifndef NDEBUG
static int engine_invariants_ok(const engine *e, uint64_t batch)
{
    return batch == e->committed + 1 || batch <= e->committed + 1; /* I3 */
}
#endif

/* ------------------------------------------------------------ step 3: read */

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

static int read_input(engine *e, const src_range *r, size_t n, const char *pulled,
                      size_t pulled_bytes, ember_err *err)
{
    lines_clear(&e->lines);
    if (pulled)
        return split_pulled(&e->lines, pulled, pulled_bytes)
                   ? ember_err_set(err, -ENOMEM, "out of memory")
                   : 0;
    size_t nonempty = 0, only = 0;
    for (size_t i = 0; i < n; i++)
        if (r[i].to != r[i].from)
            nonempty++, only = i;
    if (nonempty == 1 && e->src.ops->read_block) { /* one block: no copy */
        const char *data;
        size_t bytes;
        int rc = e->src.ops->read_block(&e->src, &r[only], &data, &bytes, err);
        if (!rc && lines_index(&e->lines, data, bytes))
            rc = ember_err_set(err, -ENOMEM, "out of memory reading batch input");
        return rc;
    }
    for (size_t i = 0; i < n; i++) {
        if (r[i].to == r[i].from)
            continue;
        int rc = e->src.ops->read(&e->src, &r[i], push_line, &e->lines, err);
        if (rc == -ENOMEM)
            return ember_err_set(err, rc, "out of memory reading batch input");
        if (rc)
            return rc;
    }
    return 0;
}

static int transform_step(engine *e, uint64_t batch, const src_range *r, size_t n,
                          ember_err *err)
{
    uint64_t bad = 0;
    int rc = transform_batch(e->tf, &e->lines, &bad, err);
    if (rc == -EMBER_EBADRECORD && bad < e->lines.n) {
        char reason[sizeof err->msg];
        snprintf(reason, sizeof reason, "%s", err->msg);
        return ember_err_set(err, rc,
                             "bad record %" PRIu64 " of batch %" PRIu64
                             " (partition %u from offset %" PRIu64 "): %s: '%.*s' "
                             "(parse on-error=skip or dead-letter:PATH to go on)",
                             bad + 1, batch, n ? r[0].partition : 0, n ? r[0].from : 0, reason,
                             (int)(e->lines.len[bad] > 200 ? 200 : e->lines.len[bad]),
                             lines_at(&e->lines, bad));
    }
    return rc;
}

/* ------------------------------------------------------------ step 5: sink */

typedef struct ranked {
    size_t row;
    int64_t start, end;
    double value;
} ranked;

/* Same window together (earlier first), then the larger value, then the
 * row order (which is key order): a deterministic ranking. */
static int cmp_ranked(const void *a, const void *b)
{
    const ranked *x = a, *y = b;
    if (x->end != y->end)
        return x->end < y->end ? -1 : 1;
    if (x->start != y->start)
        return x->start < y->start ? -1 : 1;
    if (x->value != y->value)
        return x->value > y->value ? -1 : 1;
    return (x->row > y->row) - (x->row < y->row);
}

static double row_number(const ember_value *v)
{
    if (v->type == EMBER_INT)
        return (double)v->u.i;
    return v->type == EMBER_FLOAT ? v->u.f : -INFINITY; /* NULL ranks last */
}

/* `top K by COL`: the K best rows (after having) of each window. */
static int write_top_rows(engine *e, uint64_t *rows_out, ember_err *err)
{
    const ember_job *job = e->job;
    size_t n = state_update_rows(e->upd), m = 0;
    ranked *r = malloc((n ? n : 1) * sizeof *r);
    if (!r)
        return ember_err_set(err, -ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        ember_record row;
        state_update_row(e->upd, i, &row);
        if (job->having && !expr_is_true(job->having, &row))
            continue;
        r[m++] = (ranked){i, row.values[job->n_keys].u.i, row.values[job->n_keys + 1].u.i,
                          row_number(&row.values[job->top_col])};
    }
    if (m > 1)
        qsort(r, m, sizeof *r, cmp_ranked);
    int rc = 0, rank = 0;
    for (size_t i = 0; i < m && !rc; i++) {
        rank = i && r[i].start == r[i - 1].start && r[i].end == r[i - 1].end ? rank + 1 : 0;
        if (rank >= job->top_k)
            continue;
        ember_record row;
        state_update_row(e->upd, r[i].row, &row);
        rc = e->snk.ops->write(&e->snk, &row, err);
        ++*rows_out;
    }
    free(r);
    return rc;
}

static int write_rows(engine *e, uint64_t *rows_out, ember_err *err)
{
    int rc = 0;
    *rows_out = 0;
    if (e->job->top_k)
        return write_top_rows(e, rows_out, err);
    if (e->job->n_aggs) {
        for (size_t i = 0; i < state_update_rows(e->upd) && !rc; i++) {
            ember_record row;
            state_update_row(e->upd, i, &row);
            if (e->job->having && !expr_is_true(e->job->having, &row))
                continue;
            rc = e->snk.ops->write(&e->snk, &row, err);
            ++*rows_out;
        }
        return rc;
    }
    for (int w = 0; w < transform_workers(e->tf) && !rc; w++) {
        ember_record *rows;
        size_t n;
        transform_rows(e->tf, (size_t)w, &rows, &n);
        for (size_t i = 0; i < n && !rc; i++)
            rc = e->snk.ops->write(&e->snk, &rows[i], err);
        *rows_out += n;
    }
    return rc;
}

static int sink_step(engine *e, uint64_t batch, uint64_t batch_time_ms, uint64_t *rows,
                     ember_err *err)
{
    int rc = e->snk.ops->begin(&e->snk, batch, batch_time_ms, err);
    if (rc == 1)
        return 0; /* the sink already delivered this (replayed) batch */
    if (rc || (rc = write_rows(e, rows, err)) || (rc = fp_step("sink.before_commit", err)) ||
        (rc = e->snk.ops->commit(&e->snk, batch, err)))
        return rc;
    return fp_step("sink.after_commit", err);
}

/* Dead letters are appended and fsynced before the commit that records the
 * file's new length; recovery truncates the file back to the committed
 * length, so a replayed batch never duplicates them. */
static int dead_letter_step(engine *e, ember_err *err)
{
    if (e->dead_fd < 0)
        return 0;
    int rc = 0, wrote = 0;
    for (int w = 0; w < transform_workers(e->tf) && !rc; w++) {
        size_t n;
        const char *d = transform_dead_letters(e->tf, (size_t)w, &n);
        if (n) {
            rc = io_write_all(e->dead_fd, d, n, err);
            e->dead_letter_bytes += n;
            wrote = 1;
        }
    }
    return rc || !wrote ? rc : io_fsync(e->dead_fd, err);
}

/* Late records (late=file:PATH) follow the dead letters' protocol: fsynced
 * before the commit that records the file's length ("late_bytes"). */
static int late_step(engine *e, ember_err *err)
{
    if (e->late_fd < 0)
        return 0;
    int rc = 0, wrote = 0;
    for (int w = 0; w < transform_workers(e->tf) && !rc; w++) {
        size_t n;
        const char *d = transform_late_lines(e->tf, (size_t)w, &n);
        if (n) {
            rc = io_write_all(e->late_fd, d, n, err);
            e->late_bytes += n;
            wrote = 1;
        }
    }
    return rc || !wrote ? rc : io_fsync(e->late_fd, err);
}

static void put_u64_meta(engine *e, store_batch *wb, const char *name, uint64_t v)
{
    uint8_t b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(v >> (8 * i));
    store_batch_put(wb, e->st, STORE_META, name, strlen(name), b, sizeof b);
}

/* ------------------------------------------------------------ commit */

static int merge_ends(engine *e, const src_range *r, size_t n, ember_err *err)
{
    for (size_t i = 0; i < n; i++) {
        size_t j = 0;
        while (j < e->last.n_ends && e->last.ends[j].partition != r[i].partition)
            j++;
        if (j == e->last.n_ends) {
            src_range *p = realloc(e->last.ends, (j + 1) * sizeof *p);
            if (!p)
                return ember_err_set(err, -ENOMEM, "out of memory");
            e->last.ends = p;
            e->last.n_ends++;
        }
        e->last.ends[j] = (src_range){r[i].partition, r[i].to, r[i].to};
    }
    return 0;
}

static int commit_step(engine *e, uint64_t batch, uint64_t batch_time_ms, store_batch *wb,
                       uint64_t records_in, ember_err *err)
{
    commit_record *c = &e->last;
    c->batch = batch;
    c->batch_time_ms = batch_time_ms;
    c->job_hash = e->job_hash;
    c->dead_letter_bytes = e->dead_letter_bytes;
    c->records_total = e->records_total + records_in;
    snprintf(c->sink_kind, sizeof c->sink_kind, "%s", e->job->sink->kind);
    c->sink_batch = batch;
    commit_put(wb, e->st, c);
    put_u64_meta(e, wb, "state_keys", e->state_keys + (uint64_t)e->key_delta);
    if (e->late_fd >= 0)
        put_u64_meta(e, wb, "late_bytes", e->late_bytes);
    int rc = fp_step("state.before_commit", err);
    if (!rc)
        rc = store_write(e->st, wb, !e->replay_nosync, err);
    if (rc)
        return rc;
    e->committed = batch;
    e->records_total = c->records_total;
    e->state_keys += (uint64_t)e->key_delta;
    if (e->src.ops->committed) /* kafka: to the consumer group (source.h) */
        e->src.ops->committed(&e->src, c->ends, c->n_ends);
    return fp_step("state.after_commit", err);
}

static int snapshot_step(engine *e, uint64_t batch, uint64_t batch_time_ms, ember_err *err)
{
    uint64_t oldest = 0;
    const ember_job *job = e->job;
    if (job->snapshot_every == 0) /* not while the commit may not be durable */
        return e->replay_nosync ? 0 : wal_delete_before(e->wal, batch + 1, err);
    if (batch % (uint64_t)job->snapshot_every != 0)
        return 0;
    int rc = snap_create(e->dir, e->st, batch, batch_time_ms, e->last.ends, e->last.n_ends,
                         e->job_hash, err);
    if (!rc)
        rc = snap_prune(e->dir, (size_t)job->snapshot_keep, &oldest, err);
    /* Replay after a restore starts at oldest+1: its PLAN must survive. */
    if (!rc && oldest)
        rc = wal_delete_before(e->wal, oldest + 1, err);
    if (!rc)
        e->last_snapshot = batch;
    return rc;
}

/* ------------------------------------------------------------ progress */

typedef struct batch_report {
    uint64_t batch, time_ms, rows;
    transform_stats ts;
    update_stats us;
    batch_timing t;
    double sched_delay_ms;
    batch_pace pace;
    int replay, snapshot;
} batch_report;

/* The pacing fields of progress.jsonl: null where a replay or a job
 * without backpressure has no value. */
static void progress_json_pace(engine *e, const batch_report *r)
{
    fprintf(e->progress, ",\"input_rate\":%.1f,\"backpressure\":%s", r->pace.input_rate,
            e->job->backpressure ? "true" : "false");
    if (r->pace.rate_bound > 0)
        fprintf(e->progress, ",\"rate_bound\":%.1f", r->pace.rate_bound);
    else
        fprintf(e->progress, ",\"rate_bound\":null");
    if (r->pace.record_budget)
        fprintf(e->progress, ",\"record_budget\":%" PRIu64, r->pace.record_budget);
    else
        fprintf(e->progress, ",\"record_budget\":null");
}

static void progress_json(engine *e, const batch_report *r, uint64_t keys, uint64_t bytes)
{
    if (!e->progress)
        return;
    double secs = r->t.total_ms > 0 ? r->t.total_ms / 1e3 : 1e-3;
    fprintf(e->progress,
            "{\"batch\":%" PRIu64 ",\"batch_time_ms\":%" PRIu64 ",\"replay\":%s,"
            "\"records_in\":%" PRIu64 ",\"records_out\":%" PRIu64 ",\"bad_records\":%" PRIu64
            ",\"filtered_out\":%" PRIu64 ",\"late_records\":%" PRIu64 ",\"duplicates\":%" PRIu64 ",\"rows\":%" PRIu64 ",\"state_keys\":%" PRIu64
            ",\"state_bytes\":%" PRIu64 ",\"keys_changed\":%" PRIu64 ",\"keys_deleted\":%" PRIu64 ",\"cache_hits\":%" PRIu64
            ",\"wal_ms\":%.3f,\"read_ms\":%.3f,\"transform_ms\":%.3f,\"state_ms\":%.3f,"
            "\"sink_ms\":%.3f,\"commit_ms\":%.3f,\"snapshot_ms\":%.3f,\"processing_ms\":%.3f,"
            "\"scheduling_delay_ms\":%.3f,\"processing_rate\":%.1f",
            r->batch, r->time_ms, r->replay ? "true" : "false", r->ts.records_in,
            r->ts.records_out, r->ts.bad_records, r->ts.filtered_out, r->ts.late_records, r->ts.duplicates, r->rows,
            keys, bytes,
            r->us.keys_changed, r->us.deleted_keys, r->us.cache_hits, r->t.wal_ms, r->t.read_ms, r->t.transform_ms,
            r->t.state_ms, r->t.sink_ms, r->t.commit_ms, r->t.snapshot_ms, r->t.total_ms,
            r->sched_delay_ms, (double)r->ts.records_in / secs);
    progress_json_pace(e, r);
    fprintf(e->progress, ",\"offsets\":{");
    for (size_t i = 0; i < e->last.n_ends; i++)
        fprintf(e->progress, "%s\"%u\":%" PRIu64, i ? "," : "", e->last.ends[i].partition,
                e->last.ends[i].to);
    fprintf(e->progress, "}}\n");
    fflush(e->progress);
}

static void progress_line(engine *e, const batch_report *r, uint64_t keys, uint64_t bytes)
{
    fprintf(stderr,
            "batch %" PRIu64 "%s: in %" PRIu64 " out %" PRIu64 " bad %" PRIu64, r->batch,
            r->replay ? " (replay)" : "", r->ts.records_in, r->rows, r->ts.bad_records);
    if (e->job->window.kind != WIN_NONE)
        fprintf(stderr, " late %" PRIu64, r->ts.late_records);
    if (e->job->ttl_ms)
        fprintf(stderr, " expired %" PRIu64, r->us.deleted_keys);
    if (e->dd)
        fprintf(stderr, " duplicates %" PRIu64, r->ts.duplicates);
    fprintf(stderr, " | %.1f ms, delay %.0f ms", r->t.total_ms, r->sched_delay_ms);
    if (r->pace.rate_bound > 0)
        fprintf(stderr, ", bound %.0f rec/s", r->pace.rate_bound);
    fprintf(stderr, " | keys %" PRIu64 ", state %.1f MB", keys, (double)bytes / 1048576.0);
    if (e->opts.progress)
        fprintf(stderr,
                " | wal %.1f read %.1f transform %.1f state %.1f sink %.1f commit %.1f "
                "snapshot %.1f ms | input %.0f rec/s, processed %.0f rec/s",
                r->t.wal_ms, r->t.read_ms, r->t.transform_ms, r->t.state_ms, r->t.sink_ms,
                r->t.commit_ms, r->t.snapshot_ms, r->pace.input_rate,
                r->t.total_ms > 0 ? (double)r->ts.records_in * 1e3 / r->t.total_ms : 0.0);
    fputc('\n', stderr);
}

static void report_batch(engine *e, batch_report *r)
{
    uint64_t keys = 0, bytes = 0;
    if (e->op_cf > 0)
        store_stats(e->st, e->op_cf, &keys, &bytes);
    keys = e->state_keys; /* exact, unlike RocksDB's estimate */
    progress_line(e, r, keys, bytes);
    progress_json(e, r, keys, bytes);
}

/* ------------------------------------------------------------ one batch */

static int state_step(engine *e, store_batch *wb, batch_report *rep, ember_err *err)
{
    e->key_delta = 0;
    if (!e->job->n_aggs)
        return 0;
    int rc = state_update_batch(e->upd, e->tf, wb, err);
    state_update_get_stats(e->upd, &rep->us);
    e->key_delta = (int64_t)rep->us.new_keys - (int64_t)rep->us.deleted_keys;
    return rc;
}

int engine_execute(engine *e, uint64_t batch, uint64_t batch_time_ms, const src_range *r,
                   size_t n, const char *pulled, size_t pulled_bytes, int replay,
                   ember_err *err)
{
    batch_report rep = {.batch = batch, .time_ms = batch_time_ms, .replay = replay,
                        .sched_delay_ms = replay ? 0 : e->sched_delay_ms};
    if (!replay) {
        rep.pace = e->pace;
        rep.t.wal_ms = e->wal_ms;
    }
    double t0 = mono_ms(), t;
    store_batch *wb = store_batch_new();
    int rc = wb ? 0 : ember_err_set(err, -ENOMEM, "out of memory");
    assert(engine_invariants_ok(e, batch));

    if (!rc && !(rc = read_input(e, r, n, pulled, pulled_bytes, err)))
        rep.t.read_ms = mono_ms() - t0;
    t = mono_ms();
    if (e->dd)
        dedupe_begin(e->dd, wb, (int64_t)batch_time_ms);
    if (e->job->window.kind != WIN_NONE || e->job->ttl_ms)
        transform_set_clock(e->tf, (int64_t)batch_time_ms, state_update_watermark(e->upd));
    if (!rc && !(rc = transform_step(e, batch, r, n, err)) && e->dd)
        rc = dedupe_expire(e->dd, err);
    if (!rc)
        rc = fp_step("transform.after", err);
    transform_get_stats(e->tf, &rep.ts);
    rep.t.transform_ms = mono_ms() - t;
    t = mono_ms();
    if (!rc)
        rc = state_step(e, wb, &rep, err);
    rep.t.state_ms = mono_ms() - t;
    t = mono_ms();
    if (!rc && !(rc = sink_step(e, batch, batch_time_ms, &rep.rows, err)) &&
        !(rc = dead_letter_step(e, err)))
        rc = late_step(e, err);
    rep.t.sink_ms = mono_ms() - t;
    t = mono_ms();
    if (!rc && !(rc = merge_ends(e, r, n, err)))
        rc = commit_step(e, batch, batch_time_ms, wb, rep.ts.records_in, err);
    rep.t.commit_ms = mono_ms() - t;
    t = mono_ms();
    if (!rc)
        rc = snapshot_step(e, batch, batch_time_ms, err);
    rep.t.snapshot_ms = mono_ms() - t;
    rep.t.total_ms = mono_ms() - t0;
    e->processing_ms = rep.t.total_ms;
    store_batch_free(wb);
    if (!rc)
        report_batch(e, &rep);
    else if (e->upd)
        state_update_drop_cache(e->upd);
    return rc;
}

/* ------------------------------------------------------------ steps 1-2 */

static uint64_t planned_records(const src_range *r, size_t n, const src_pulled *pulled)
{
    uint64_t total = pulled->data ? pulled->records : 0;
    for (size_t i = 0; i < n && !pulled->data; i++)
        total += r[i].to - r[i].from;
    return total;
}

static int wal_plan_step(engine *e, uint64_t batch, uint64_t time_ms, const src_range *r,
                         size_t n, const src_pulled *pulled, ember_err *err)
{
    size_t bytes = plan_encoded_bytes(n);
    uint8_t *buf = malloc(bytes);
    if (!buf)
        return ember_err_set(err, -ENOMEM, "out of memory");
    plan_encode(time_ms, r, n, buf);
    int rc = wal_append(e->wal, WAL_PLAN, batch, buf, (uint32_t)bytes, err);
    free(buf);
    if (!rc && pulled->data) {
        char *enc = NULL;
        size_t enc_n = 0;
        rc = waldata_encode(pulled->data, pulled->bytes, &enc, &enc_n, err);
        if (!rc)
            rc = wal_append(e->wal, WAL_DATA, batch, enc, (uint32_t)enc_n, err);
        free(enc);
    }
    if (!rc)
        rc = wal_sync(e->wal, err); /* failpoint wal.after_append fires inside */
    return rc;
}

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
            fprintf(stderr, "join table %s reloaded: %zu rows\n", table_path(t), table_rows(t));
    }
    return 0;
}

/* Records the next plan may take: max-records, or less under backpressure
 * (max-records and the source's own caps such as max-per-partition stay hard
 * caps: the source applies them inside this budget). */
static uint64_t plan_budget(engine *e)
{
    uint64_t max = (uint64_t)e->job->max_records;
    e->pace.rate_bound = e->job->backpressure ? e->rate.bound : 0;
    e->pace.record_budget = e->job->backpressure ? rate_budget(&e->rate, max) : max;
    return e->pace.record_budget;
}

/* Input rate: what the plan took over the time since the previous plan (one
 * interval for the first), i.e. what arrived or was waiting. */
static void note_input(engine *e, double plan_ms, uint64_t records)
{
    double since_ms = e->last_plan_ms > 0 ? plan_ms - e->last_plan_ms
                                          : (double)e->job->interval_ms;
    e->last_plan_ms = plan_ms;
    e->pace.input_rate = (double)records * 1e3 / (since_ms > 1 ? since_ms : 1);
}

/* Runs one new batch; *idle = 1 when the source had nothing. */
static int run_new_batch(engine *e, double sched_delay_ms, int *idle, ember_err *err)
{
    src_range *r = NULL;
    size_t n = 0;
    src_pulled pulled = {0};
    uint64_t batch = e->committed + 1;
    double t0 = mono_ms();
    int rc = refresh_tables(e, err);
    if (rc)
        return rc;
    rc = e->src.ops->plan(&e->src, plan_budget(e), &r, &n, &pulled, err);
    if (rc)
        return rc;
    uint64_t records = planned_records(r, n, &pulled);
    note_input(e, t0, records);
    *idle = records == 0;
    if (*idle)
        return 0;
    uint64_t time_ms = engine_now_ms();
    double t_wal = mono_ms();
    rc = wal_maybe_rotate(e->wal, batch, err);
    if (!rc)
        rc = wal_plan_step(e, batch, time_ms, r, n, &pulled, err);
    if (rc)
        return rc;
    e->wal_ms = mono_ms() - t_wal; /* the PLAN (and DATA) append and its fsync */
    e->sched_delay_ms = sched_delay_ms + (t_wal - t0);
    rc = engine_execute(e, batch, time_ms, r, n, pulled.data, pulled.bytes, 0, err);
    if (!rc && e->job->backpressure)
        rate_update(&e->rate, t0, records, e->processing_ms, e->sched_delay_ms);
    return rc;
}

/* Sleeps until `until_ms` (monotonic) or a stop request. */
static void wait_until(double until_ms)
{
    while (!stop_requested) {
        double left = until_ms - mono_ms();
        if (left <= 0)
            return;
        struct timespec ts = {0, (long)((left > 50 ? 50 : left) * 1e6)};
        nanosleep(&ts, NULL);
    }
}

/* Batches start every interval; one that overran its interval is followed
 * at once. The scheduling delay of a batch is how late it started against
 * its due time (`due`: one interval after the previous start), so an
 * overrun shows as the next batch's delay, as in Spark. */
static int run_loop(engine *e, ember_err *err)
{
    uint64_t done = 0;
    double next = mono_ms(), due = next;
    rate_init(&e->rate, (double)e->job->interval_ms, (double)e->job->min_rate,
              (double)e->job->initial_rate);
    while (!stop_requested && (!e->opts.max_batches || done < e->opts.max_batches)) {
        wait_until(next);
        if (stop_requested)
            break;
        int idle = 0;
        double delay = mono_ms() - due;
        int rc = run_new_batch(e, delay, &idle, err);
        if (rc)
            return rc;
        if (idle && e->opts.until_idle &&
            (!e->src.ops->exhausted || e->src.ops->exhausted(&e->src)))
            break;
        done += !idle;
        next += (double)e->job->interval_ms;
        due = next;
        if (next < mono_ms()) /* overran its interval: the next batch starts at once */
            next = mono_ms();
    }
    return 0;
}

static void engine_close(engine *e)
{
    if (e->snk_open)
        e->snk.ops->close(&e->snk);
    if (e->src_open)
        e->src.ops->close(&e->src);
    state_update_free(e->upd);
    dedupe_free(e->dd);
    transform_free(e->tf);
    lines_free(&e->lines);
    if (e->wal)
        wal_close(e->wal);
    if (e->st)
        store_close(e->st);
    if (e->progress)
        fclose(e->progress);
    if (e->dead_fd >= 0)
        close(e->dead_fd);
    if (e->late_fd >= 0)
        close(e->late_fd);
    commit_free(&e->last);
    ckdir_unlock(e->lock_fd);
}

int ember_job_run(ember_job *job, const ember_run_opts *opts, ember_err *err)
{
    engine e = {.job = job, .lock_fd = -1, .dead_fd = -1, .late_fd = -1, .timer_cf = -1};
    int rc = job_finish(job, err);
    if (rc)
        return rc;
    if (opts)
        e.opts = *opts;
    snprintf(e.dir, sizeof e.dir, "%s", e.opts.dir ? e.opts.dir : job->ckpt_dir);
    stop_requested = 0;
    rc = recover_start(&e, err);
    if (!rc)
        rc = run_loop(&e, err);
    engine_close(&e);
    return rc;
}
