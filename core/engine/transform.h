/*
 * transform: step 3 of the batch cycle. Splits a batch's lines across worker
 * threads; each worker parses, runs filter/select/map steps, builds the key
 * and pre-aggregates into its own per-shard maps (shard = XXH3 % workers),
 * so no locks are taken. A second parallel phase merges shard s of every
 * worker into worker s's map. Stateless jobs (no aggregate) collect output
 * rows instead, in input order.
 */
#ifndef EMBER_TRANSFORM_H
#define EMBER_TRANSFORM_H

#include "core/job/job.h"
#include "state/dedupe.h"
#include "state/preagg.h"

/* A batch's input: lines (no newline) inside `data`, or, after lines_index,
 * inside a buffer the source owns (`borrowed`). */
typedef struct batch_lines {
    char *data;
    const char *borrowed;
    size_t bytes, cap;
    uint64_t *off;
    uint32_t *len;
    size_t n, n_cap;
} batch_lines;

EMBER_MUST_CHECK int lines_push(batch_lines *b, const char *line, size_t len);
/* Indexes the newline-terminated lines of buf[0, n) without copying them;
 * buf must outlive the batch. Only on a cleared batch_lines. */
EMBER_MUST_CHECK int lines_index(batch_lines *b, const char *buf, size_t n);
/* Line i's first byte. */
static inline const char *lines_at(const batch_lines *b, size_t i)
{
    return (b->borrowed ? b->borrowed : b->data) + b->off[i];
}
void lines_clear(batch_lines *b);
void lines_free(batch_lines *b);

/* Rows a graph node hands on (core/job/graph.c): to its sinks and as the
 * input of the nodes reading it. sign[i] = -1 retracts row i (the previous
 * value of an updated key, for a downstream aggregate), else +1. */
typedef struct row_batch {
    ember_record *rows;
    int8_t *sign;
    size_t n, cap, sign_cap;
} row_batch;

EMBER_MUST_CHECK int rows_push(row_batch *b, const ember_record *row, int sign);
void rows_clear(row_batch *b);
void rows_free(row_batch *b);

typedef struct transform_stats {
    uint64_t records_in;
    uint64_t bad_records;   /* skipped or dead-lettered */
    uint64_t filtered_out;
    uint64_t records_out;   /* records reaching key/aggregate or the sink */
    uint64_t late_records;  /* behind the watermark (windowed jobs) */
    uint64_t duplicates;    /* dropped by dedupe */
    int64_t max_event_time; /* WIN_NO_WATERMARK when no record had a time */
    int64_t wm_max;         /* largest time at the `watermark` step; WIN_NO_WATERMARK: none */
    uint64_t wm_rows;       /* records that passed the `watermark` step */
} transform_stats;

typedef struct transform transform;


EMBER_MUST_CHECK transform *transform_new(const ember_job *job, int threads);
void transform_free(transform *t);
/* Runs the batch. On parse on-error=fail, returns -EMBER_EBADRECORD with
 * *bad_index set to the failing line's index in `in`. */
EMBER_MUST_CHECK int transform_batch(transform *t, const batch_lines *in, uint64_t *bad_index,
                                     ember_err *err);
/* A node reading other nodes' rows (graph.c): runs the batch over them; the
 * rows stay the caller's until the next batch. */
EMBER_MUST_CHECK int transform_batch_rows(transform *t, const row_batch *in, uint64_t *bad_index,
                                          ember_err *err);
/* Stateless output: the sign of each row of transform_rows (NULL: all +1). */
const int8_t *transform_row_signs(transform *t, size_t i_worker);
/* The records at the job's STEP_TAP steps (sinks between the steps), in
 * input order: tap[i] says which tap row i is at, sign[i] its sign. */
void transform_tap_rows(transform *t, size_t i_worker, ember_record **rows, const uint8_t **tap,
                        const int8_t **sign, size_t *n);
/* Jobs with a dedupe step: who decides, called once per batch. */
void transform_set_dedupe(transform *t, dedupe_fn fn, void *ctx);
/* Windowed jobs: the batch's time (processing-time windows) and the
 * watermark in force for this batch (late records are dropped). */
void transform_set_clock(transform *t, int64_t batch_time_ms, int64_t watermark);
int64_t transform_batch_time(const transform *t);
int transform_shards(const transform *t);
int transform_workers(const transform *t);
/* Merged map of shard s (valid until the next batch). */
preagg *transform_shard(transform *t, int s);
/* Stateless output rows in input order (valid until the next batch). */
void transform_rows(transform *t, size_t i_worker, ember_record **rows, size_t *n);
/* Dead-letter lines ("reason\traw line\n") collected this batch. */
const char *transform_dead_letters(transform *t, size_t i_worker, size_t *bytes);
/* Late lines ("raw line\n") collected this batch when late=file:PATH. */
const char *transform_late_lines(transform *t, size_t i_worker, size_t *bytes);
void transform_get_stats(const transform *t, transform_stats *out);


#endif
