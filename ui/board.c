/* board: the published numbers behind the status page (see board.h). */
#include "ui/board.h"
#include "core/base/clock.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const double board_bounds_s[UI_BUCKETS] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                           0.25,  0.5,    1,     2.5,  5,     10,   30};

struct ui_board {
    pthread_mutex_t lock;
    ui_latest latest;
    ui_batch history[UI_HISTORY];
    size_t next, n; /* ring: slot of the next batch, slots filled */
    ui_sink sinks[UI_SINKS];
    size_t n_sinks;
    ui_sink stage[UI_SINKS]; /* filled outside the lock (engine thread only) */
    char job_text[UI_TEXT_BYTES];
    char dir[4096];
};

ui_board *board_new(void)
{
    ui_board *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    pthread_mutex_init(&b->lock, NULL);
    b->latest.started_ms = (double)em_wall_ms();
    return b;
}

void board_free(ui_board *b)
{
    if (!b)
        return;
    pthread_mutex_destroy(&b->lock);
    free(b);
}

static void hist_add(ui_hist *h, double ms)
{
    double s = ms / 1e3;
    size_t i = 0;
    while (i < UI_BUCKETS && s > board_bounds_s[i])
        i++;
    if (i < UI_BUCKETS)
        h->counts[i]++;
    h->count++;
    h->sum_s += s;
}

static void batch_from(const ember_batch_info *in, ui_batch *o)
{
    *o = (ui_batch){.batch = in->batch,
                    .time_ms = in->batch_time_ms,
                    .replay = in->replay,
                    .records_in = in->records_in,
                    .records_kept = in->records_kept,
                    .bad = in->bad_records,
                    .late = in->late_records,
                    .filtered = in->filtered_out,
                    .duplicates = in->duplicates,
                    .rows_out = in->rows_out,
                    .plan_ms = in->plan_ms,
                    .wal_ms = in->wal_ms,
                    .read_ms = in->read_ms,
                    .transform_ms = in->transform_ms,
                    .state_ms = in->state_ms,
                    .sink_ms = in->sink_ms,
                    .commit_ms = in->commit_ms,
                    .snapshot_ms = in->snapshot_ms,
                    .total_ms = in->total_ms,
                    .sched_ms = in->scheduling_delay_ms,
                    .e2e_ms = in->end_to_end_delay_ms,
                    .input_rate = in->input_rate,
                    .state_keys = in->state_keys,
                    .state_bytes = in->state_bytes,
                    .wal_bytes = in->wal_bytes,
                    .ranges_total = in->n_ranges};
    o->n_ranges = in->n_ranges < UI_RANGES ? in->n_ranges : UI_RANGES;
    memcpy(o->ranges, in->ranges, o->n_ranges * sizeof *o->ranges);
}

static void totals_add(ui_totals *t, const ui_batch *b)
{
    t->batches++;
    t->replayed += b->replay ? 1 : 0;
    t->records_in += b->records_in;
    t->records_kept += b->records_kept;
    t->bad += b->bad;
    t->late += b->late;
    t->filtered += b->filtered;
    t->duplicates += b->duplicates;
    t->rows_out += b->rows_out;
    t->commit_ms_sum += b->commit_ms;
    if (b->replay)
        t->replay_ms_sum += b->total_ms;
    hist_add(&t->processing, b->total_ms);
    hist_add(&t->scheduling, b->sched_ms);
    hist_add(&t->e2e, b->e2e_ms);
}

/* Everything of the info that is not the batch row itself. */
static void latest_from(const ember_batch_info *in, ui_latest *l)
{
    if (in->snapshots_taken > l->snapshots_taken)
        l->last_snapshot_ms = in->snapshot_ms;
    l->have = 1;
    snprintf(l->job_name, sizeof l->job_name, "%s", in->job_name);
    snprintf(l->source_kind, sizeof l->source_kind, "%s", in->source_kind);
    snprintf(l->sink_kind, sizeof l->sink_kind, "%s", in->sink_kind);
    snprintf(l->last_error, sizeof l->last_error, "%s", in->last_error);
    l->last_recovery_ms = in->last_recovery_ms;
    l->replayed_at_start = in->replayed_batches;
    l->snapshots_taken = in->snapshots_taken;
    l->last_snapshot = in->last_snapshot_batch;
    l->snapshot_every = in->snapshot_every;
    l->interval_ms = in->interval_ms;
    l->records_total = in->records_total;
    l->n_parts = in->n_partitions < UI_PARTS ? in->n_partitions : UI_PARTS;
    if (l->n_parts)
        memcpy(l->parts, in->partitions, l->n_parts * sizeof *l->parts);
    l->n_ops = in->n_operators < UI_OPS ? in->n_operators : UI_OPS;
    for (size_t i = 0; i < l->n_ops; i++) {
        const ember_operator_info *o = &in->operators[i];
        ui_operator *u = &l->ops[i];
        snprintf(u->stream, sizeof u->stream, "%s", o->stream);
        snprintf(u->family, sizeof u->family, "%s", o->family);
        u->keys = o->keys;
        u->bytes = o->bytes;
        u->records_in = o->records_in;
        u->records_out = o->records_out;
    }
    l->n_sources = in->n_sources < UI_SOURCES ? in->n_sources : UI_SOURCES;
    for (size_t i = 0; i < l->n_sources; i++) {
        const ember_source_info *o = &in->sources[i];
        ui_source *u = &l->sources[i];
        snprintf(u->stream, sizeof u->stream, "%s", o->stream);
        snprintf(u->kind, sizeof u->kind, "%s", o->kind);
        u->source = o->source;
        u->records_in = o->records_in;
    }
}

/* The first UI_SINKS sinks' rows into stage; returns how many sinks. */
static size_t stage_sinks(const ember_batch_info *in, ui_sink *stage)
{
    size_t n = in->n_sinks < UI_SINKS ? in->n_sinks : UI_SINKS;
    for (size_t s = 0; s < n; s++) {
        const ember_sink_info *si = &in->sinks[s];
        ui_sink *o = &stage[s];
        snprintf(o->kind, sizeof o->kind, "%s", si->kind);
        snprintf(o->stream, sizeof o->stream, "%s", si->stream);
        o->n_rows = si->n_rows < UI_ROWS ? si->n_rows : UI_ROWS;
        for (size_t i = 0; i < o->n_rows; i++)
            snprintf(o->rows[i], UI_ROW_BYTES, "%s", si->rows[i]);
    }
    return n;
}

void board_publish(const ember_batch_info *in, void *ctx)
{
    ui_board *b = ctx;
    ui_batch row;
    batch_from(in, &row);
    size_t n_sinks = stage_sinks(in, b->stage);
    pthread_mutex_lock(&b->lock);
    if (!b->latest.have) { /* the same for the whole run */
        snprintf(b->job_text, sizeof b->job_text, "%s", in->job_text);
        snprintf(b->dir, sizeof b->dir, "%s", in->dir);
    }
    latest_from(in, &b->latest);
    b->latest.last = row;
    totals_add(&b->latest.totals, &row);
    b->history[b->next] = row;
    b->next = (b->next + 1) % UI_HISTORY;
    if (b->n < UI_HISTORY)
        b->n++;
    b->n_sinks = n_sinks;
    memcpy(b->sinks, b->stage, n_sinks * sizeof *b->sinks);
    pthread_mutex_unlock(&b->lock);
}

void board_read_latest(ui_board *b, ui_latest *out)
{
    pthread_mutex_lock(&b->lock);
    *out = b->latest;
    pthread_mutex_unlock(&b->lock);
}

size_t board_read_batches(ui_board *b, ui_batch *out, size_t cap)
{
    pthread_mutex_lock(&b->lock);
    size_t n = b->n < cap ? b->n : cap;
    size_t first = (b->next + UI_HISTORY - n) % UI_HISTORY;
    for (size_t i = 0; i < n; i++)
        out[i] = b->history[(first + i) % UI_HISTORY];
    pthread_mutex_unlock(&b->lock);
    return n;
}

size_t board_read_sinks(ui_board *b, ui_sink *out, uint64_t *batch)
{
    pthread_mutex_lock(&b->lock);
    *batch = b->latest.last.batch;
    size_t n = b->n_sinks;
    memcpy(out, b->sinks, n * sizeof *out);
    pthread_mutex_unlock(&b->lock);
    return n;
}

void board_read_job(ui_board *b, char *text, size_t text_cap, char *dir, size_t dir_cap)
{
    pthread_mutex_lock(&b->lock);
    snprintf(text, text_cap, "%s", b->job_text);
    snprintf(dir, dir_cap, "%s", b->dir);
    pthread_mutex_unlock(&b->lock);
}

double board_recovery_estimate_s(const ui_latest *l)
{
    const ui_totals *t = &l->totals;
    double per_batch_ms = 0;
    if (t->replayed)
        per_batch_ms = t->replay_ms_sum / (double)t->replayed;
    else if (t->batches)
        per_batch_ms = t->processing.sum_s * 1e3 / (double)t->batches;
    uint64_t behind = l->last.batch > l->last_snapshot ? l->last.batch - l->last_snapshot : 0;
    return (double)behind * per_batch_ms / 1e3;
}
