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
#include "core/base/array.h"
#include "core/base/clock.h"
#include "core/base/log.h"
#include "core/engine/engine.h"
#include "core/engine/task.h"
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
    r->lock_fd = -1;
    r->st = NULL;
    r->wal = NULL;
    r->last = (commit_record){0};
}

static int make_nodes(engine *e, ember_err *err)
{
    uint32_t tag = 0;
    e->n_nodes = job_node_count(e->job);
    if (!(e->nodes = calloc((size_t)e->n_nodes, sizeof *e->nodes)))
        return ember_err_set(err, -ENOMEM, "out of memory");
    for (int i = 0; i < e->n_nodes; i++) {
        node_rt *n = &e->nodes[i];
        n->job = job_node_at(e->job, i);
        n->index = i;
        n->op_cf = -1;
        n->src_tag = n->job->source ? tag++ : 0;
        arena_init(&n->out_mem, 64 * 1024);
    }
    return 0;
}

static int open_side_outputs(engine *e, const recovery *r, ember_err *err)
{
    int rc = 0;
    for (int i = 0; i < e->n_nodes && !rc; i++) {
        const ember_job *job = e->nodes[i].job;
        if (job->on_error == ON_ERROR_DEAD_LETTER)
            rc = side_open(&e->dead, job->dead_letter_path, e->last.dead_letter_bytes, err);
        if (!rc && job->window.late_path)
            rc = side_open(&e->late, job->window.late_path, r->late_bytes, err);
    }
    return rc;
}

static int open_source(engine *e, node_rt *n, ember_err *err)
{
    source_env senv = {e->job->name, e->dir, &e->job->stop};
    n->src.ops = n->job->source;
    int rc = n->src.ops->open(&n->src, &n->job->source_opts, &senv, err);
    if (rc && n->src.impl) /* a failed open may leave what it made so far */
        n->src.ops->close(&n->src);
    n->src_open = !rc;
    return rc;
}

/* The id a sink tells its output apart by: "" for a job's only output
 * place (the marker of a linear job), else "NODE.SINK". */
static void sink_id(const engine *e, const node_rt *n, int k, char *buf, size_t cap)
{
    if (!job_is_graph(e->job) && k == 0)
        buf[0] = '\0';
    else
        snprintf(buf, cap, "%d.%d", n->index, k);
}

static int open_sink(engine *e, node_rt *n, int k, ember_err *err)
{
    char id[32];
    sink_id(e, n, k, id, sizeof id);
    sink_env kenv = {.job_name = e->job->name,
                     .checkpoint_dir = e->dir,
                     .rows = n->job->sinks[k].tap >= 0 ? &n->job->sinks[k].tap_rows
                                                       : job_node_output(n->job),
                     .n_key_fields = n->job->n_aggs && n->job->sinks[k].tap < 0 ? n->job->n_keys : 0,
                     .stop = &e->job->stop,
                     .checkpoint_id = e->checkpoint_id,
                     .reset_output = e->opts.reset_output,
                     .sink_id = id,
                     .task = e->job->task ? &e->job->task->kt : NULL};
    sink *s = &n->snk[k];
    s->ops = n->job->sinks[k].ops;
    if (id[0])
        snprintf(n->snk_meta[k], sizeof n->snk_meta[k], META_SINK_PREFIX "%s.%s", id,
                 s->ops->kind);
    int rc = s->ops->open(s, &n->job->sinks[k].opts, &kenv, err);
    if (rc && s->impl)
        s->ops->close(s);
    n->snk_open[k] = !rc;
    return rc ? rc : s->ops->recover(s, e->committed, err);
}

static int open_plugins(engine *e, ember_err *err)
{
    int rc = 0;
    for (int i = 0; i < e->n_nodes && !rc; i++) {
        node_rt *n = &e->nodes[i];
        if (n->job->source)
            rc = open_source(e, n, err);
        for (int k = 0; k < n->job->n_sinks && !rc; k++)
            rc = open_sink(e, n, k, err);
    }
    return rc;
}

/* Each join step's table, loaded into its column family "joinN" (N counts
 * the join steps over the whole job). */
static int open_tables(engine *e, ember_err *err)
{
    e->tables_open = 1;
    for (int i = 0, j = 0; i < e->n_nodes; i++) {
        ember_job *job = e->nodes[i].job;
        for (int s = 0; s < job->n_steps; s++) {
            job_step *st = &job->steps[s];
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
    }
    return 0;
}

static int node_cf(engine *e, const node_rt *n, const char *base)
{
    char name[LAYOUT_CF_NAME_MAX];
    layout_node_cf(n->job, base, name, sizeof name);
    return store_cf_index(e->st, name);
}

static int open_node_operators(engine *e, node_rt *n, ember_err *err)
{
    const ember_job *job = n->job;
    if (!(n->tf = transform_new(job, e->opts.threads)))
        return ember_err_set(err, -ENOMEM, "out of memory");
    if (job->on_error == ON_ERROR_DEAD_LETTER)
        e->dead_tf = n->tf;
    if (job->window.late_path)
        e->late_tf = n->tf;
    if (job->dedupe_step >= 0) {
        n->dd = dedupe_new(e->st, node_cf(e, n, LAYOUT_CF_DEDUPE),
                           node_cf(e, n, LAYOUT_CF_DEDUPE_TIMERS),
                           job->steps[job->dedupe_step].dedupe_ms,
                           job->steps[job->dedupe_step].dedupe_keep_last);
        if (!n->dd)
            return ember_err_set(err, -ENOMEM, "out of memory");
        transform_set_dedupe(n->tf, dedupe_decide, n->dd);
    }
    if (job->sjoin &&
        !(n->sj = stream_join_new(job->sjoin, e->st, node_cf(e, n, LAYOUT_CF_STREAM_JOIN),
                                  node_cf(e, n, LAYOUT_CF_STREAM_JOIN_TIMERS))))
        return ember_err_set(err, -ENOMEM, "out of memory");
    if (job->top_rows &&
        !(n->tk = topn_new(e->st, node_cf(e, n, LAYOUT_CF_TOP), job->top_k, job->top_col,
                           (uint32_t)job->current.n)))
        return ember_err_set(err, -ENOMEM, "out of memory");
    int rc = node_load_watermark(e, n, err);
    if (rc || !job->n_aggs)
        return rc;
    n->op_cf = node_cf(e, n, LAYOUT_CF_AGGREGATE);
    int timers = job->window.kind != WIN_NONE || job->ttl_ms ? node_cf(e, n, LAYOUT_CF_TIMERS) : -1;
    n->upd = state_update_new(job, e->st, n->op_cf, timers, (size_t)job->cache_bytes);
    if (!n->upd)
        return ember_err_set(err, -ENOMEM, "out of memory");
    return state_update_load(n->upd, err);
}

static int open_operators(engine *e, ember_err *err)
{
    for (int i = 0; i < e->n_nodes; i++) {
        int rc = open_node_operators(e, &e->nodes[i], err);
        if (rc)
            return rc;
    }
    return 0;
}

static int engine_open(engine *e, recovery *r, ember_err *err)
{
    e->job_hash = job_layout_hash(e->job);
    int rc = make_nodes(e, err);
    if (!rc)
        rc = recovery_open(e->dir, e->job, e->job_hash, e->opts.reset_output,
                           e->opts.rebuild, r, err);
    if (rc)
        return rc;
    if (e->job->task && (rc = task_restore(e, r, err))) { /* catch up from the changelog */
        store_close(r->st);
        wal_close(r->wal);
        ckdir_unlock(r->lock_fd);
        commit_free(&r->last);
        recovery_free_pending(r);
        *r = (recovery){.lock_fd = -1};
        return rc;
    }
    adopt(e, r);
    if ((rc = open_side_outputs(e, r, err)) || (rc = report_open(e, err)) ||
        (rc = open_plugins(e, err)) || (rc = open_tables(e, err)))
        return rc;
    e->last_snapshot = snap_newest(e->dir);
    for (int i = 0; e->opts.on_batch && i < e->n_nodes && !rc; i++)
        for (int k = 0; k < e->nodes[i].job->n_sinks && !rc; k++)
            rc = recent_open(&e->nodes[i].recent[k], err);
    if (rc)
        return rc;
    return open_operators(e, err);
}

static void node_close(engine *e, node_rt *n)
{
    for (int k = 0; k < n->job->n_sinks; k++) {
        if (n->snk_open[k])
            n->snk[k].ops->close(&n->snk[k]);
        recent_close(&n->recent[k]);
    }
    if (n->src_open)
        n->src.ops->close(&n->src);
    for (int s = 0; e->tables_open && s < n->job->n_steps; s++) {
        table_free(n->job->steps[s].table);
        n->job->steps[s].table = NULL;
    }
    state_update_free(n->upd);
    stream_join_free(n->sj);
    dedupe_free(n->dd);
    topn_free(n->tk);
    transform_free(n->tf);
    lines_free(&n->lines);
    rows_free(&n->in);
    rows_free(&n->out);
    arena_free(&n->out_mem);
    free(n->ranges);
    free(n->range_first);
}

static void engine_close(engine *e)
{
    for (int i = e->n_nodes; i-- > 0;)
        node_close(e, &e->nodes[i]);
    free(e->nodes);
    free(e->plan);
    if (e->wal)
        wal_close(e->wal);
    if (e->st)
        store_close(e->st);
    if (e->progress)
        fclose(e->progress);
    side_close(&e->dead);
    side_close(&e->late);
    commit_free(&e->last);
    ckdir_unlock(e->lock_fd);
}

/* The node reading source number `tag`. */
static node_rt *source_node(engine *e, uint32_t tag)
{
    for (int i = 0; i < e->n_nodes; i++)
        if (e->nodes[i].job->source && e->nodes[i].src_tag == tag)
            return &e->nodes[i];
    return NULL;
}

/* ------------------------------------------------------------ replay */

/* The input of a replayed batch must still exist; on-data-loss=skip empties
 * a range that is gone (counted in *skipped). */
static int check_available(engine *e, planned_batch *p, uint64_t *skipped, ember_err *err)
{
    for (size_t i = 0; i < p->n; i++) {
        ember_err aerr = {0};
        src_range r = p->ranges[i];
        node_rt *n = source_node(e, r.partition >> SRC_TAG_SHIFT);
        if (!n)
            return ember_err_set(err, -EMBER_ECORRUPT, "batch %" PRIu64 " plans partition %u "
                                 "of a source the job does not have", p->batch, r.partition);
        r.partition &= SRC_PARTITION_MASK;
        if (!n->src.ops->replayable) {
            if (!p->data && r.from != r.to)
                return ember_err_set(err, -EMBER_EDATALOSS,
                                     "WAL has no DATA for batch %" PRIu64 " of a source that "
                                     "cannot replay", p->batch);
            continue;
        }
        if (r.from == r.to || !n->src.ops->available(&n->src, &r, &aerr))
            continue;
        if (!e->job->on_data_loss_skip) {
            *err = aerr;
            return ember_err_prefix(err, "batch %" PRIu64 " cannot be replayed (the job may "
                                    "say `checkpoint on-data-loss=skip`)", p->batch);
        }
        em_log(EMBER_LOG_WARN, "recovery: on-data-loss=skip: %s", aerr.msg);
        *skipped += r.to - r.from;
        p->ranges[i].from = p->ranges[i].to;
    }
    return 0;
}

/* Every source back at its committed ends (partitions untagged). */
static int restore_sources(engine *e, ember_err *err)
{
    for (int i = 0; i < e->n_nodes; i++) {
        node_rt *n = &e->nodes[i];
        src_range *local;
        size_t k = 0;
        if (!n->job->source)
            continue;
        if (!(local = malloc((e->last.n_ends + 1) * sizeof *local)))
            return ember_err_set(err, -ENOMEM, "out of memory");
        for (size_t j = 0; j < e->last.n_ends; j++)
            if (e->last.ends[j].partition >> SRC_TAG_SHIFT == n->src_tag) {
                local[k] = e->last.ends[j];
                local[k++].partition &= SRC_PARTITION_MASK;
            }
        int rc = n->src.ops->restore(&n->src, local, k, err);
        free(local);
        if (rc)
            return rc;
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
    int rc = restore_sources(e, err);
    for (size_t i = 0; !rc && i < r->n_pending; i++)
        rc = replay_one(e, &r->pending[i], i + 1 == r->n_pending, &records, &skipped, err);
    if (skipped)
        em_log(EMBER_LOG_WARN, "recovery: %" PRIu64 " planned records skipped "
               "(on-data-loss=skip)", skipped);
    if (!rc)
        rc = restore_sources(e, err);
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
    for (int i = 0; i < e->n_nodes; i++) {
        node_rt *n = &e->nodes[i];
        if (n->job->source && n->src.ops->exhausted && !n->src.ops->exhausted(&n->src))
            return 0;
    }
    return 1;
}

/* Whether some node holds rows back until a watermark passes (windows;
 * joins: their outer rows). */
static int has_watermark_windows(const engine *e)
{
    for (int i = 0; i < e->n_nodes; i++)
        if ((e->nodes[i].job->window.kind != WIN_NONE && e->nodes[i].job->n_aggs) ||
            e->nodes[i].sj)
            return 1;
    return 0;
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
    if (!has_watermark_windows(e))
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
    engine e = {.job = job, .lock_fd = -1};
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
