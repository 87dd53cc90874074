/*
 * engine: the life of a job, ember_job_run(). The engine is the only place
 * that knows the order of things:
 *   open     recovery_open() finds the committed state and the planned
 *            batches (it returns data, never runs a batch); the engine opens
 *            the side outputs, the report, the source, the sink (which learns
 *            the last commit), the join tables, the transform, dedupe and the
 *            state updater
 *   replay   every planned-but-uncommitted batch, through cycle_run() with
 *            its PLAN's ranges, exactly as a new batch would run
 *   run      a new batch every interval (cycle_run), until stopped, idle or
 *            max_batches
 *   close    everything opened, in reverse
 */
#include "checkpoint/ckdir.h"
#include "checkpoint/snapshot.h"
#include "core/base/clock.h"
#include "core/base/log.h"
#include "core/engine/engine.h"
#include "core/fault/failpoint.h"
#include "recovery/recovery.h"
#include "state/layout.h"
#include "state/table.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------ open */

/* Takes over what recovery opened and found. */
static void adopt(engine *e, recovery *r)
{
    e->lock_fd = r->lock_fd;
    snprintf(e->checkpoint_id, sizeof e->checkpoint_id, "%s", r->checkpoint_id);
    e->st = r->st;
    e->wal = r->wal;
    e->last = r->last;
    e->committed = r->last.batch;
    e->records_total = r->last.records_total;
    e->state_keys = r->state_keys;
    e->drained = r->drained;
    e->op_cf = e->job->n_aggs ? store_cf_index(e->st, LAYOUT_CF_AGGREGATE) : -1;
    r->lock_fd = -1;
    r->st = NULL;
    r->wal = NULL;
    r->last = (commit_record){0};
}

static int open_side_outputs(engine *e, const recovery *r, ember_err *err)
{
    int rc = 0;
    if (e->job->on_error == ON_ERROR_DEAD_LETTER)
        rc = side_open(&e->dead, e->job->dead_letter_path, e->last.dead_letter_bytes, err);
    if (!rc && e->job->window.late_path)
        rc = side_open(&e->late, e->job->window.late_path, r->late_bytes, err);
    return rc;
}

static int open_source(engine *e, ember_err *err)
{
    source_env senv = {e->job->name, e->dir, &e->job->stop};
    e->src.ops = e->job->source;
    int rc = e->src.ops->open(&e->src, &e->job->source_opts, &senv, err);
    if (rc && e->src.impl) /* a failed open may leave what it made so far */
        e->src.ops->close(&e->src);
    e->src_open = !rc;
    return rc;
}

static int open_sink(engine *e, ember_err *err)
{
    sink_env kenv = {.job_name = e->job->name,
                     .checkpoint_dir = e->dir,
                     .rows = &e->job->output,
                     .n_key_fields = e->job->n_aggs ? e->job->n_keys : 0,
                     .stop = &e->job->stop,
                     .checkpoint_id = e->checkpoint_id,
                     .reset_output = e->opts.reset_output};
    e->snk.ops = e->job->sink;
    int rc = e->snk.ops->open(&e->snk, &e->job->sink_opts, &kenv, err);
    if (rc && e->snk.impl)
        e->snk.ops->close(&e->snk);
    e->snk_open = !rc;
    return rc ? rc : e->snk.ops->recover(&e->snk, e->committed, err);
}

/* Each join step's table, loaded into its column family "joinN". */
static int open_tables(engine *e, ember_err *err)
{
    e->tables_open = 1;
    for (int s = 0, j = 0; s < e->job->n_steps; s++) {
        job_step *st = &e->job->steps[s];
        char cf[LAYOUT_CF_NAME_MAX];
        if (st->kind != STEP_JOIN)
            continue;
        layout_join_cf(++j, cf, sizeof cf);
        if (!(st->table = table_new(st->table_path, st->table_key, &st->table_fields)))
            return ember_err_set(err, -ENOMEM, "out of memory");
        int rc = table_open(st->table, e->st, store_cf_index(e->st, cf), err);
        if (rc)
            return rc;
        em_log(EMBER_LOG_INFO, "recovery: join table %s: %zu rows", table_path(st->table),
               table_rows(st->table));
    }
    return 0;
}

static int open_operators(engine *e, ember_err *err)
{
    const ember_job *job = e->job;
    if (!(e->tf = transform_new(job, e->opts.threads)))
        return ember_err_set(err, -ENOMEM, "out of memory");
    if (job->dedupe_step >= 0) {
        e->dd = dedupe_new(e->st, store_cf_index(e->st, LAYOUT_CF_DEDUPE),
                           store_cf_index(e->st, LAYOUT_CF_DEDUPE_TIMERS),
                           job->steps[job->dedupe_step].dedupe_ms);
        if (!e->dd)
            return ember_err_set(err, -ENOMEM, "out of memory");
        transform_set_dedupe(e->tf, dedupe_decide, e->dd);
    }
    if (!job->n_aggs)
        return 0;
    e->upd = state_update_new(job, e->st, e->op_cf, store_cf_index(e->st, LAYOUT_CF_TIMERS),
                              (size_t)job->cache_bytes);
    if (!e->upd)
        return ember_err_set(err, -ENOMEM, "out of memory");
    return state_update_load(e->upd, err);
}

static int engine_open(engine *e, recovery *r, ember_err *err)
{
    e->job_hash = job_layout_hash(e->job);
    int rc = recovery_open(e->dir, e->job, e->job_hash, e->opts.reset_output,
                           e->opts.rebuild, r, err);
    if (rc)
        return rc;
    adopt(e, r);
    if ((rc = open_side_outputs(e, r, err)) || (rc = report_open(e, err)) ||
        (rc = open_source(e, err)) || (rc = open_sink(e, err)) || (rc = open_tables(e, err)))
        return rc;
    e->last_snapshot = snap_newest(e->dir);
    if (e->opts.on_batch && (rc = recent_open(&e->recent, err)))
        return rc;
    return open_operators(e, err);
}

static void engine_close(engine *e)
{
    if (e->snk_open)
        e->snk.ops->close(&e->snk);
    if (e->src_open)
        e->src.ops->close(&e->src);
    for (int s = 0; e->tables_open && s < e->job->n_steps; s++) {
        table_free(e->job->steps[s].table);
        e->job->steps[s].table = NULL;
    }
    state_update_free(e->upd);
    dedupe_free(e->dd);
    transform_free(e->tf);
    lines_free(&e->lines);
    free(e->range_first);
    if (e->wal)
        wal_close(e->wal);
    if (e->st)
        store_close(e->st);
    if (e->progress)
        fclose(e->progress);
    side_close(&e->dead);
    side_close(&e->late);
    recent_close(&e->recent);
    commit_free(&e->last);
    ckdir_unlock(e->lock_fd);
}

/* ------------------------------------------------------------ replay */

/* The input of a replayed batch must still exist; on-data-loss=skip empties
 * a range that is gone (counted in *skipped). */
static int check_available(engine *e, planned_batch *p, uint64_t *skipped, ember_err *err)
{
    if (!e->src.ops->replayable)
        return p->data || p->n == 0
                   ? 0
                   : ember_err_set(err, -EMBER_EDATALOSS,
                                   "WAL has no DATA for batch %" PRIu64 " of a source that "
                                   "cannot replay", p->batch);
    for (size_t i = 0; i < p->n; i++) {
        ember_err aerr = {0};
        if (p->ranges[i].from == p->ranges[i].to ||
            !e->src.ops->available(&e->src, &p->ranges[i], &aerr))
            continue;
        if (!e->job->on_data_loss_skip) {
            *err = aerr;
            return ember_err_prefix(err, "batch %" PRIu64 " cannot be replayed (the job may "
                                    "say `checkpoint on-data-loss=skip`)", p->batch);
        }
        em_log(EMBER_LOG_WARN, "recovery: on-data-loss=skip: %s", aerr.msg);
        *skipped += p->ranges[i].to - p->ranges[i].from;
        p->ranges[i].from = p->ranges[i].to;
    }
    return 0;
}

static int replay_one(engine *e, planned_batch *p, int last, uint64_t *records,
                      uint64_t *skipped, ember_err *err)
{
    batch_ctx b = {.replay = 1, .batch = p->batch, .time_ms = p->time_ms, .ranges = p->ranges, .n = p->n,
                   .pulled = p->data, .pulled_bytes = p->data_bytes, .drain = p->drain};
    int rc = check_available(e, p, skipped, err);
    e->replay_nosync = !last; /* one fsync for the whole replay */
    if (!rc)
        rc = cycle_run(e, &b, err);
    e->replay_nosync = 0;
    if (!rc)
        *records += b.ts.records_in;
    if (!rc && (rc = FAILPOINT("recovery.mid_replay")))
        rc = ember_err_set(err, rc, "failpoint recovery.mid_replay");
    return rc;
}

/* Re-executes every planned batch, then positions the source after them. */
static int engine_replay(engine *e, recovery *r, ember_err *err)
{
    double t0 = em_mono_ms();
    uint64_t records = 0, skipped = 0;
    int rc = e->src.ops->restore(&e->src, e->last.ends, e->last.n_ends, err);
    for (size_t i = 0; !rc && i < r->n_pending; i++)
        rc = replay_one(e, &r->pending[i], i + 1 == r->n_pending, &records, &skipped, err);
    if (skipped)
        em_log(EMBER_LOG_WARN, "recovery: %" PRIu64 " planned records skipped "
               "(on-data-loss=skip)", skipped);
    if (!rc)
        rc = e->src.ops->restore(&e->src, e->last.ends, e->last.n_ends, err);
    e->recovery_ms = r->n_pending ? em_mono_ms() - t0 : 0;
    e->replayed = r->n_pending;
    if (!rc && r->n_pending)
        em_log(EMBER_LOG_INFO, "recovery: replayed %zu batch%s (%" PRIu64 " records) in %.0f ms",
               r->n_pending, r->n_pending == 1 ? "" : "es", records, em_mono_ms() - t0);
    recovery_free_pending(r);
    return rc;
}

/* ------------------------------------------------------------ run */

/* Sleeps until `until_ms` (monotonic) or a stop request. */
static void wait_until(const engine *e, double until_ms)
{
    while (!e->job->stop) {
        double left = until_ms - em_mono_ms();
        if (left <= 0)
            return;
        struct timespec ts = {0, (long)((left > 50 ? 50 : left) * 1e6)};
        nanosleep(&ts, NULL);
    }
}

/* Runs one new batch; *idle = 1 when the source had nothing. */
static int run_new_batch(engine *e, double sched_delay_ms, int *idle, ember_err *err)
{
    batch_ctx b = {.sched_delay_ms = sched_delay_ms};
    double t0 = em_mono_ms();
    int rc = cycle_run(e, &b, err);
    *idle = b.idle;
    if (!rc && !b.idle && e->job->backpressure)
        rate_update(&e->rate, t0, b.planned_records, b.t.total_ms, b.sched_delay_ms);
    return rc;
}

static int source_exhausted(engine *e)
{
    return !e->src.ops->exhausted || e->src.ops->exhausted(&e->src);
}

/* Batches start every interval; one that overran its interval is followed
 * at once. The scheduling delay of a batch is how late it started against
 * its due time (one interval after the previous start), so an overrun shows
 * as the next batch's delay, as in Spark. */
static int run_loop(engine *e, int *ended_idle, ember_err *err)
{
    uint64_t done = 0;
    double next = em_mono_ms(), due = next;
    rate_init(&e->rate, (double)e->job->interval_ms, (double)e->job->min_rate,
              (double)e->job->initial_rate);
    while (!e->job->stop && (!e->opts.max_batches || done < e->opts.max_batches)) {
        wait_until(e, next);
        if (e->job->stop)
            break;
        int idle = 0;
        int rc = run_new_batch(e, em_mono_ms() - due, &idle, err);
        if (rc)
            return rc;
        if (idle && e->opts.until_idle && source_exhausted(e)) {
            *ended_idle = 1;
            break;
        }
        done += !idle;
        next += (double)e->job->interval_ms;
        due = next;
        if (next < em_mono_ms()) /* overran its interval: the next starts at once */
            next = em_mono_ms();
    }
    return 0;
}

/* --drain: one last batch that emits every open window and session, when
 * the run ends idle (--until-idle) or by ember_request_drain (SIGTERM). */
static int maybe_drain(engine *e, int ended_idle, ember_err *err)
{
    if (!e->opts.drain || !(ended_idle || e->job->drain))
        return 0;
    if (e->job->window.kind == WIN_NONE || !e->job->n_aggs)
        return 0; /* nothing is held back by a watermark */
    if (e->drained) {
        em_log(EMBER_LOG_INFO, "drain: already drained at batch %" PRIu64, e->drained);
        return 0;
    }
    batch_ctx b = {.drain = 1};
    int rc = cycle_run(e, &b, err);
    if (!rc)
        em_log(EMBER_LOG_INFO, "drain: batch %" PRIu64 " emitted every open window", b.batch);
    return rc;
}

int ember_job_run(ember_job *job, const ember_run_opts *opts, ember_err *err)
{
    engine e = {.job = job, .lock_fd = -1, .op_cf = -1};
    recovery r = {.lock_fd = -1};
    int ended_idle = 0;
    side_init(&e.dead, "dead letters", transform_dead_letters);
    side_init(&e.late, "late records", transform_late_lines);
    if (job->stop) {
        em_log(EMBER_LOG_INFO, "stopped before the run started, nothing done");
        return 0;
    }
    int rc = job_finish(job, err);
    if (!rc)
        rc = job_check_paths(job, err); /* before the checkpoint dir is made */
    if (rc)
        return rc;
    if (opts)
        e.opts = *opts;
    snprintf(e.dir, sizeof e.dir, "%s", e.opts.dir ? e.opts.dir : job->ckpt_dir);
    em_job_running_add(job);
    rc = engine_open(&e, &r, err);
    if (!rc)
        rc = engine_replay(&e, &r, err);
    if (!rc)
        rc = run_loop(&e, &ended_idle, err);
    if (!rc)
        rc = maybe_drain(&e, ended_idle, err);
    recovery_free_pending(&r);
    engine_close(&e);
    em_job_running_remove(job);
    if (rc == -ECANCELED && job->stop) { /* a wait ended by the stop: not a failure */
        *err = (ember_err){0};
        rc = 0;
    }
    if (!rc && job->stop && e.committed)
        em_log(EMBER_LOG_INFO, "stopped after batch %" PRIu64 ", committed", e.committed);
    else if (!rc && job->stop)
        em_log(EMBER_LOG_INFO, "stopped before the first batch, nothing committed");
    return rc;
}
