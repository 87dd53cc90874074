/*
 * publish: hands each committed batch's numbers to ember_run_opts.on_batch
 * (the status page, an embedder's metrics) as an ember_batch_info. Runs on
 * the batch cycle's thread after the progress line; costs nothing without
 * a callback. Every pointer in the info is borrowed until the call returns.
 */
#include "checkpoint/wal.h"
#include "core/base/log.h"
#include "core/engine/engine.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Bytes of every WAL segment now on disk (a few files: stat each). */
static uint64_t wal_bytes(const engine *e)
{
    char dir[4200], path[4400];
    char **names = NULL;
    size_t n = 0;
    uint64_t total = 0;
    ember_err ignored = {0};
    snprintf(dir, sizeof dir, "%s/wal", e->dir);
    if (wal_list_segments(dir, &names, &n, &ignored))
        return 0;
    for (size_t i = 0; i < n; i++) {
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        if (stat(path, &st) == 0)
            total += (uint64_t)st.st_size;
    }
    wal_free_list(names, n);
    return total;
}

/* The committed end of every partition, with the source's end where known. */
static ember_partition_info *partitions(engine *e, size_t *n)
{
    ember_partition_info *p = calloc(e->last.n_ends ? e->last.n_ends : 1, sizeof *p);
    *n = 0;
    if (!p)
        return NULL;
    for (size_t i = 0; i < e->last.n_ends; i++) {
        p[i].partition = e->last.ends[i].partition;
        p[i].committed = e->last.ends[i].to;
        p[i].has_end = e->src.ops->end_offset &&
                       e->src.ops->end_offset(&e->src, p[i].partition, &p[i].end) == 0;
    }
    *n = e->last.n_ends;
    return p;
}

static ember_range_info *plan_ranges(const batch_ctx *b)
{
    ember_range_info *r = calloc(b->n ? b->n : 1, sizeof *r);
    for (size_t i = 0; r && i < b->n; i++)
        r[i] = (ember_range_info){b->ranges[i].partition, b->ranges[i].from, b->ranges[i].to};
    return r;
}

static void fill_counts(const engine *e, const batch_ctx *b, ember_batch_info *in)
{
    const ember_job *job = e->job;
    in->job_name = job->name;
    in->job_text = job->text ? job->text : "";
    in->dir = e->dir;
    in->source_kind = e->src.ops->kind;
    in->sink_kind = e->snk.ops->kind;
    in->batch = b->batch;
    in->batch_time_ms = b->time_ms;
    in->replay = b->replay;
    in->records_in = b->ts.records_in;
    in->records_kept = b->ts.records_out;
    in->bad_records = b->ts.bad_records;
    in->late_records = b->ts.late_records;
    in->filtered_out = b->ts.filtered_out;
    in->duplicates = b->ts.duplicates;
    in->rows_out = b->rows_out;
    in->records_total = e->records_total;
    in->snapshot_every = (uint64_t)job->snapshot_every;
    in->interval_ms = (uint64_t)job->interval_ms;
}

static void fill_times(const engine *e, const batch_ctx *b, ember_batch_info *in)
{
    const batch_timing *t = &b->t;
    in->plan_ms = t->plan_ms;
    in->wal_ms = t->wal_ms;
    in->read_ms = t->read_ms;
    in->transform_ms = t->transform_ms;
    in->state_ms = t->state_ms;
    in->sink_ms = t->sink_ms;
    in->commit_ms = t->commit_ms;
    in->snapshot_ms = t->snapshot_ms;
    in->total_ms = t->total_ms;
    in->scheduling_delay_ms = b->sched_delay_ms;
    in->end_to_end_delay_ms = b->sched_delay_ms + t->total_ms;
    in->input_rate = b->pace.input_rate;
    in->last_recovery_ms = e->recovery_ms;
    in->replayed_batches = e->replayed;
    in->snapshots_taken = e->snapshots_taken;
    in->last_snapshot_batch = e->last_snapshot;
}

void publish_batch(engine *e, const batch_ctx *b, uint64_t keys, uint64_t bytes)
{
    if (!e->opts.on_batch)
        return;
    ember_batch_info in = {0};
    char problem[512];
    fill_counts(e, b, &in);
    fill_times(e, b, &in);
    in.state_keys = keys;
    in.state_bytes = bytes;
    in.wal_bytes = wal_bytes(e);
    em_log_last_problem(problem, sizeof problem);
    in.last_error = problem;
    ember_range_info *ranges = plan_ranges(b);
    ember_partition_info *parts = partitions(e, &in.n_partitions);
    in.ranges = ranges;
    in.n_ranges = ranges ? b->n : 0;
    in.partitions = parts;
    if (!parts)
        in.n_partitions = 0;
    in.n_sink_rows = recent_list(&e->recent, in.sink_rows, 64);
    e->opts.on_batch(&in, e->opts.on_batch_ctx);
    free(ranges);
    free(parts);
}
