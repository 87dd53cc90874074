/*
 * engine: the state of one running job, shared by the batch cycle
 * (core/engine.c) and the restart protocol (recovery/recover.c).
 */
#ifndef EMBER_ENGINE_H
#define EMBER_ENGINE_H

#include "checkpoint/commit.h"
#include "checkpoint/wal.h"
#include "checkpoint/waldata.h"
#include "core/job/job.h"
#include "core/engine/rate.h"
#include "core/engine/transform.h"
#include "state/update.h"

#include <stdio.h>

typedef struct batch_timing {
    double wal_ms, read_ms, transform_ms, state_ms, sink_ms, commit_ms, snapshot_ms, total_ms;
} batch_timing;

/* How a new batch was paced, for its report (all zero for a replay). */
typedef struct batch_pace {
    double input_rate;     /* records/s: planned records over the time since the last plan */
    double rate_bound;     /* records/s the plan was held to; 0 = none */
    uint64_t record_budget; /* most records the plan could take */
} batch_pace;

typedef struct engine {
    ember_job *job;
    ember_run_opts opts;
    char dir[4096];
    char checkpoint_id[33]; /* DIR/ID (checkpoint/ckdir.h), handed to the sink */
    int lock_fd;
    store *st;
    int op_cf;
    int timer_cf; /* window timers, -1 without a window */
    wal *wal;
    source src;
    sink snk;
    int src_open, snk_open;
    transform *tf;
    state_update *upd;
    struct dedupe *dd; /* the dedupe step's state, NULL without one */
    batch_lines lines;
    uint64_t job_hash;

    uint64_t committed;     /* last committed batch */
    uint64_t records_total; /* input records committed */
    uint64_t state_keys;    /* exact key count, meta "state_keys", committed with the batch */
    int64_t key_delta;      /* keys the running batch adds (minus closed windows) */
    commit_record last;     /* ends = committed end offset per partition */
    uint64_t dead_letter_bytes;
    int dead_fd;
    uint64_t late_bytes; /* committed length of late=file:PATH, meta "late_bytes" */
    int late_fd;
    uint64_t last_snapshot;

    FILE *progress;
    double sched_delay_ms; /* of the batch being run, for its report */
    batch_pace pace;       /* of the batch being run, for its report */
    double processing_ms;  /* of the batch engine_execute ran last */
    double last_plan_ms;   /* monotonic time of the last plan, idle ones too; 0 = none */
    rate_estimator rate;   /* batch backpressure=on: bounds the next plan */
    uint64_t replayed_batches, replayed_records;
    /* Recovery sets it for every replayed batch but the last: their commits
     * skip the fsync and keep the WAL (a power cut replays them again from
     * their PLANs); the last replayed commit syncs them all. */
    int replay_nosync;
    double wal_ms; /* the new batch's WAL step, for its report */
} engine;

/* Steps 3-5 for one batch whose PLAN (and DATA) is already durable in the
 * WAL; the same code runs a new batch and a replayed one. */
EMBER_MUST_CHECK int engine_execute(engine *e, uint64_t batch, uint64_t batch_time_ms,
                                    const src_range *ranges, size_t n, const char *pulled,
                                    size_t pulled_bytes, int replay, ember_err *err);
uint64_t engine_now_ms(void);

/* recovery/recover.c: the restart protocol (lock, spec check, open or
 * restore state, replay the WAL after the last commit). */
EMBER_MUST_CHECK int recover_start(engine *e, ember_err *err);

#endif
