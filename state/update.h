/*
 * update: step 4 of the batch cycle. Folds a batch's pre-aggregated keys into
 * keyed state: previous value from the cache, else one RocksDB MultiGet for
 * all misses; combine; encode; one Put per distinct key into the batch's
 * WriteBatch (committed in step 5). Also produces the batch's output rows,
 * one per changed key, sorted by key so output is deterministic.
 */
#ifndef EMBER_UPDATE_H
#define EMBER_UPDATE_H

#include "core/job/job.h"
#include "state/preagg.h"
#include "state/store.h"

typedef struct state_update state_update;

typedef struct update_stats {
    uint64_t keys_changed;
    uint64_t cache_hits;
    uint64_t cache_misses;
    uint64_t new_keys;
    uint64_t deleted_keys; /* closed windows */
} update_stats;

/* cf: the operator's column family in st; timer_cf: its window timers (-1
 * without a window). Driver thread only. */
EMBER_MUST_CHECK state_update *state_update_new(const ember_job *job, store *st, int cf,
                                                int timer_cf, size_t cache_bytes);
/* Reads the committed event-time high mark (windowed jobs). */
EMBER_MUST_CHECK int state_update_load(state_update *u, ember_err *err);
/* The watermark in force for the next batch (WIN_NO_WATERMARK before any
 * event); transform drops records behind it. */
int64_t state_update_watermark(const state_update *u);
void state_update_free(state_update *u);
/* One batch's pre-aggregated input, as the transform's workers left it. */
typedef struct update_input {
    preagg *const *shards; /* borrowed until the call returns */
    int n_shards;
    int64_t batch_time_ms;  /* the PLAN's batch time (TTL clock) */
    int64_t max_event_time; /* WIN_NO_WATERMARK when no record had a time;
                               WIN_DRAINED_EVENT_TIME in the drain batch */
} update_input;

EMBER_MUST_CHECK int state_update_batch(state_update *u, const update_input *in, store_batch *wb,
                                        ember_err *err);
size_t state_update_rows(const state_update *u);
/* Row i of the output (borrowed until the next call). */
void state_update_row(state_update *u, size_t i, ember_record *row);
/* A job whose rows a downstream aggregate retracts (job->retracts): row i's
 * value before this batch; 0 when the key is new (nothing to retract). The
 * row is borrowed as state_update_row's is. */
int state_update_prev_row(state_update *u, size_t i, ember_record *row);
void state_update_get_stats(const state_update *u, update_stats *out);
/* Forgets cached values (after a failed commit the cache may be ahead of disk). */
void state_update_drop_cache(state_update *u);

#endif
