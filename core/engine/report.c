/*
 * report: what the engine says about each batch: one progress line on the
 * log and one JSON object in DIR/progress.jsonl (rotated at 8 MB). Written
 * after the batch committed, so a kill between the commit and the report
 * leaves a committed batch without its line.
 */
#include "core/base/log.h"
#include "core/engine/engine.h"

#include <errno.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

int report_open(engine *e, ember_err *err)
{
    char path[4200], old[4300];
    struct stat st;
    snprintf(path, sizeof path, "%s/progress.jsonl", e->dir);
    if (stat(path, &st) == 0 && st.st_size > (8 << 20)) {
        snprintf(old, sizeof old, "%s.1", path);
        if (rename(path, old) != 0)
            return ember_err_set(err, -errno, "%s: %s", path, strerror(errno));
    }
    e->progress = fopen(path, "a");
    if (!e->progress)
        return ember_err_set(err, -errno, "%s: %s", path, strerror(errno));
    return 0;
}

/* The pacing fields: null where a replay or a job without backpressure has
 * no value. */
static void json_pace(engine *e, const batch_ctx *b)
{
    fprintf(e->progress, ",\"input_rate\":%.1f,\"backpressure\":%s", b->pace.input_rate,
            e->job->backpressure ? "true" : "false");
    if (b->pace.rate_bound > 0)
        fprintf(e->progress, ",\"rate_bound\":%.1f", b->pace.rate_bound);
    else
        fprintf(e->progress, ",\"rate_bound\":null");
    if (b->pace.record_budget)
        fprintf(e->progress, ",\"record_budget\":%" PRIu64, b->pace.record_budget);
    else
        fprintf(e->progress, ",\"record_budget\":null");
}

static void json_counts(engine *e, const batch_ctx *b, uint64_t keys, uint64_t bytes)
{
    const transform_stats *ts = &b->ts;
    fprintf(e->progress,
            "{\"batch\":%" PRIu64 ",\"batch_time_ms\":%" PRIu64 ",\"replay\":%s,"
            "\"records_in\":%" PRIu64 ",\"records_kept\":%" PRIu64 ",\"bad_records\":%" PRIu64
            ",\"filtered_out\":%" PRIu64 ",\"late_records\":%" PRIu64
            ",\"duplicates\":%" PRIu64 ",\"rows\":%" PRIu64 ",\"state_keys\":%" PRIu64
            ",\"state_bytes\":%" PRIu64 ",\"keys_changed\":%" PRIu64
            ",\"keys_deleted\":%" PRIu64 ",\"cache_hits\":%" PRIu64,
            b->batch, b->time_ms, b->replay ? "true" : "false", ts->records_in,
            ts->records_out, ts->bad_records, ts->filtered_out, ts->late_records,
            ts->duplicates, b->rows_out, keys, bytes, b->us.keys_changed, b->us.deleted_keys,
            b->us.cache_hits);
}

static void json_times(engine *e, const batch_ctx *b)
{
    const batch_timing *t = &b->t;
    double secs = t->total_ms > 0 ? t->total_ms / 1e3 : 1e-3;
    fprintf(e->progress,
            ",\"wal_ms\":%.3f,\"read_ms\":%.3f,\"transform_ms\":%.3f,\"state_ms\":%.3f,"
            "\"sink_ms\":%.3f,\"commit_ms\":%.3f,\"snapshot_ms\":%.3f,\"processing_ms\":%.3f,"
            "\"scheduling_delay_ms\":%.3f,\"processing_rate\":%.1f",
            t->wal_ms, t->read_ms, t->transform_ms, t->state_ms, t->sink_ms, t->commit_ms,
            t->snapshot_ms, t->total_ms, b->sched_delay_ms, (double)b->ts.records_in / secs);
}

static void progress_json(engine *e, const batch_ctx *b, uint64_t keys, uint64_t bytes)
{
    if (!e->progress)
        return;
    json_counts(e, b, keys, bytes);
    json_times(e, b);
    json_pace(e, b);
    fprintf(e->progress, ",\"offsets\":{");
    for (size_t i = 0; i < e->last.n_ends; i++)
        fprintf(e->progress, "%s\"%u\":%" PRIu64, i ? "," : "", e->last.ends[i].partition,
                e->last.ends[i].to);
    fprintf(e->progress, "}}\n");
    fflush(e->progress);
}

/* Appends printf-style text to line (at most cap bytes in all). */
static void add(char *line, size_t cap, size_t *len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void add(char *line, size_t cap, size_t *len, const char *fmt, ...)
{
    va_list ap;
    if (*len >= cap)
        return;
    va_start(ap, fmt);
    int n = vsnprintf(line + *len, cap - *len, fmt, ap);
    va_end(ap);
    if (n > 0)
        *len = *len + (size_t)n < cap ? *len + (size_t)n : cap;
}

static void progress_line(engine *e, const batch_ctx *b, uint64_t keys, uint64_t bytes)
{
    char line[1024];
    size_t n = 0;
    const batch_timing *t = &b->t;
    add(line, sizeof line, &n, "batch %" PRIu64 "%s: in %" PRIu64 " rows %" PRIu64 " bad %" PRIu64,
        b->batch, b->replay ? " (replay)" : "", b->ts.records_in, b->rows_out,
        b->ts.bad_records);
    int windows = 0, ttl = 0, dedupe = 0;
    for (int i = 0; i < e->n_nodes; i++) {
        windows |= e->nodes[i].job->window.kind != WIN_NONE;
        ttl |= e->nodes[i].job->ttl_ms != 0;
        dedupe |= e->nodes[i].dd != NULL;
    }
    if (windows)
        add(line, sizeof line, &n, " late %" PRIu64, b->ts.late_records);
    if (ttl)
        add(line, sizeof line, &n, " expired %" PRIu64, b->us.deleted_keys);
    if (dedupe)
        add(line, sizeof line, &n, " duplicates %" PRIu64, b->ts.duplicates);
    add(line, sizeof line, &n, " | %.1f ms, delay %.0f ms", t->total_ms, b->sched_delay_ms);
    if (b->pace.rate_bound > 0)
        add(line, sizeof line, &n, ", bound %.0f rec/s", b->pace.rate_bound);
    if (bytes < 1048576) /* the real size on disk: "41 KB", not "0.0 MB" */
        add(line, sizeof line, &n, " | keys %" PRIu64 ", state %.0f KB", keys,
            (double)bytes / 1024.0);
    else
        add(line, sizeof line, &n, " | keys %" PRIu64 ", state %.1f MB", keys,
            (double)bytes / 1048576.0);
    if (e->opts.progress)
        add(line, sizeof line, &n,
            " | wal %.1f read %.1f transform %.1f state %.1f sink %.1f commit %.1f "
            "snapshot %.1f ms | input %.0f rec/s, processed %.0f rec/s",
            t->wal_ms, t->read_ms, t->transform_ms, t->state_ms, t->sink_ms, t->commit_ms,
            t->snapshot_ms, b->pace.input_rate,
            t->total_ms > 0 ? (double)b->ts.records_in * 1e3 / t->total_ms : 0.0);
    em_log(EMBER_LOG_INFO, "%s", line);
}

void report_batch(engine *e, const batch_ctx *b)
{
    uint64_t bytes = store_disk_bytes(e->st); /* DIR/db on disk */
    uint64_t keys = e->state_keys;            /* exact, unlike RocksDB's estimate */
    progress_line(e, b, keys, bytes);
    progress_json(e, b, keys, bytes);
    publish_batch(e, b, keys, bytes);
}
