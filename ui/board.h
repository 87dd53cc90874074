/*
 * board: the status page's copy of the job's numbers. The engine publishes
 * each committed batch (board_publish, an ember_batch_fn) from the batch
 * cycle's thread; the HTTP server's thread reads copies (board_read_*). Both
 * hold the board's mutex only to memcpy fixed-size records, so a reader can
 * never hold a batch up for longer than a copy.
 */
#ifndef EMBER_UI_BOARD_H
#define EMBER_UI_BOARD_H

#include "ember.h"
#include <stddef.h>
#include <stdint.h>

#define UI_HISTORY    600 /* batches kept for /api/v1/batches and the charts */
#define UI_RANGES     16  /* plan ranges kept per batch (ranges_total counts all) */
#define UI_PARTS      256 /* partitions kept for /api/v1/sources */
#define UI_ROWS       64  /* each sink's newest rows */
#define UI_SINKS      8   /* sinks whose rows are kept (the job's first ones) */
#define UI_ROW_BYTES  256
#define UI_TEXT_BYTES 16384 /* the job text */
#define UI_BUCKETS    14    /* histogram bounds, seconds (board.c), +Inf beyond */
#define UI_OPS        32    /* operator families kept for /api/v1/operators */
#define UI_SOURCES    16    /* sources kept for /api/v1/sources */

typedef struct ui_operator {
    char stream[64], family[40];
    uint64_t keys, bytes, records_in, records_out;
} ui_operator;

typedef struct ui_source {
    char stream[64], kind[32];
    uint32_t source;
    uint64_t records_in;
} ui_source;

/* One batch, as the page and the API show it. */
typedef struct ui_batch {
    uint64_t batch, time_ms;
    int replay;
    uint64_t records_in, records_kept, bad, late, filtered, duplicates, rows_out;
    double plan_ms, wal_ms, read_ms, transform_ms, state_ms, sink_ms, commit_ms, snapshot_ms;
    double total_ms, sched_ms, e2e_ms, input_rate;
    uint64_t state_keys, state_bytes, wal_bytes;
    ember_range_info ranges[UI_RANGES];
    size_t n_ranges, ranges_total;
} ui_batch;

typedef struct ui_hist {
    uint64_t counts[UI_BUCKETS]; /* observations <= bound[i] (not cumulative) */
    uint64_t count;
    double sum_s;
} ui_hist;

/* Counters since this process started. */
typedef struct ui_totals {
    uint64_t batches, replayed, records_in, records_kept, bad, late, filtered, duplicates, rows_out;
    ui_hist processing, scheduling, e2e;
    double commit_ms_sum, replay_ms_sum;
} ui_totals;

/* The newest batch and what goes with it. */
typedef struct ui_latest {
    int have; /* 0 until the first batch */
    ui_batch last;
    ui_totals totals;
    char job_name[128], source_kind[32], sink_kind[32];
    char last_error[512];
    double last_recovery_ms, started_ms; /* started: epoch ms of the board */
    double last_snapshot_ms;             /* the newest snapshot this run took */
    uint64_t replayed_at_start, snapshots_taken, last_snapshot, snapshot_every, interval_ms;
    uint64_t records_total;
    ember_partition_info parts[UI_PARTS];
    size_t n_parts;
    ui_operator ops[UI_OPS];
    size_t n_ops;
    ui_source sources[UI_SOURCES];
    size_t n_sources;
} ui_latest;

/* One sink's newest rows. */
typedef struct ui_sink {
    char kind[32], stream[128];
    size_t n_rows;
    char rows[UI_ROWS][UI_ROW_BYTES];
} ui_sink;

typedef struct ui_board ui_board;

/* NULL when out of memory. */
ui_board *board_new(void);
void board_free(ui_board *b);

/* The ember_batch_fn: ctx is the board. Engine thread. */
void board_publish(const ember_batch_info *in, void *ctx);

/* Reads (server thread): copies under the mutex. */
void board_read_latest(ui_board *b, ui_latest *out);
/* The newest n batches, oldest first, into out[0..cap); returns how many. */
size_t board_read_batches(ui_board *b, ui_batch *out, size_t cap);
/* The sinks' newest rows (oldest first) as of batch *batch into
 * out[0..UI_SINKS); returns how many sinks. */
size_t board_read_sinks(ui_board *b, ui_sink *out, uint64_t *batch);
/* The job text and the checkpoint dir (both "" before the first batch). */
void board_read_job(ui_board *b, char *text, size_t text_cap, char *dir, size_t dir_cap);

/* Upper bounds of the histogram buckets, seconds. */
extern const double board_bounds_s[UI_BUCKETS];
/* Estimated recovery now: batches since the newest snapshot times the mean
 * replay time of one batch (measured replays, else the mean processing time). */
double board_recovery_estimate_s(const ui_latest *l);

#endif
