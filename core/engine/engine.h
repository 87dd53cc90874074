/*
 * engine: the state of one running job, private to core/engine/. The engine
 * owns the job's lifecycle (engine.c: recover, open every plugin, replay,
 * run, close) and the batch cycle (cycle.c); reporting (report.c), ranked
 * output (rank.c) and side outputs (side.c) are its helpers.
 */
#ifndef EMBER_ENGINE_H
#define EMBER_ENGINE_H

#include "checkpoint/commit.h"
#include "core/base/clock.h"
#include "checkpoint/wal.h"
#include "core/engine/rate.h"
#include "core/engine/recent.h"
#include "core/engine/transform.h"
#include "core/job/job.h"
#include "state/dedupe.h"
#include "state/stream_join.h"
#include "state/topn.h"
#include "state/update.h"

#include <stdio.h>

/* Milliseconds spent in each step of one batch. */
typedef struct batch_timing {
    double plan_ms, wal_ms, read_ms, transform_ms, state_ms, sink_ms, commit_ms, snapshot_ms,
        total_ms;
} batch_timing;

/* How a new batch was paced, for its report (all zero for a replay). */
typedef struct batch_pace {
    double input_rate;      /* records/s: planned records over the time since the last plan */
    double rate_bound;      /* records/s the plan was held to; 0 = none */
    uint64_t record_budget; /* most records the plan could take */
} batch_pace;

/* One batch on its way through the cycle: its plan, its changes, its report. */
typedef struct batch_ctx {
    uint64_t batch;
    uint64_t time_ms;        /* the PLAN's batch time: the only clock steps 3-5 read */
    const src_range *ranges; /* borrowed: the source's (new) or recovery's (replay) */
    size_t n;
    const char *pulled; /* records of a source that cannot re-read, or NULL */
    size_t pulled_bytes;
    uint64_t planned_records;
    int replay; /* re-executing a PLAN found in the WAL: no plan, no WAL step */
    int drain;  /* the drain batch: no input, every watermark moves to the end */
    int idle;   /* the plan found no input: nothing else runs */
    store_batch *wb; /* the batch's state changes, committed in one write */
    int64_t key_delta; /* keys the batch adds to "aggregate" (minus closed windows) */

    /* the report */
    uint64_t rows_out;
    transform_stats ts;
    update_stats us;
    batch_timing t;
    batch_pace pace;
    double sched_delay_ms;
} batch_ctx;

/* An append-only file beside the state (dead letters, late records): the
 * batch's lines are appended and fsynced before the commit that records the
 * file's new length, and a restart cuts it back to the committed length, so a
 * replayed batch never duplicates lines. */
typedef struct side_output {
    const char *what; /* "dead letters", "late records" */
    int fd;           /* -1: the job has none */
    uint64_t bytes;   /* length once the running batch commits */
    const char *(*lines)(transform *t, size_t worker, size_t *bytes);
} side_output;

/* One node of the job's graph at run time (core/job/graph.c; a job that is
 * not a graph is one node). Nodes run in order: a node's inputs first. */
typedef struct node_rt {
    ember_job *job;
    int index;

    /* a node that reads a source; src_tag is its number among the sources,
     * kept in the top byte of a planned range's partition (PLAN, offsets) */
    source src;
    int src_open;
    uint32_t src_tag;
    src_range *ranges; /* this batch's ranges of the source, partitions untagged */
    size_t n_ranges, ranges_cap;
    batch_lines lines;
    uint64_t *range_first; /* per range, the batch's first line from it */
    size_t n_range_first, range_first_cap;

    /* its sinks, each with the meta key of its marker and the ring of its
     * newest rows (off without ember_run_opts.on_batch) */
    sink snk[JOB_MAX_SINKS];
    recent_rows recent[JOB_MAX_SINKS];
    int snk_open[JOB_MAX_SINKS];
    char snk_meta[JOB_MAX_SINKS][96];

    /* its operators */
    transform *tf;
    state_update *upd;
    dedupe *dd; /* the dedupe step's state, NULL without one */
    topn *tk;   /* `top K by F per G` over records: its state, NULL without one */
    int op_cf;  /* its "aggregate" family, -1 without an aggregate */
    stream_join *sj; /* a join node's operator, NULL for other nodes */

    /* the batch */
    row_batch in;   /* a union's input: every input's rows, in input order */
    row_batch out;  /* the rows it hands on (sinks skip sign -1 rows) */
    arena out_mem;  /* copies of aggregate rows in out */
    transform_stats ts;
    update_stats us;
    int64_t key_delta;

    /* a node with a `watermark` step: committed high mark and last data */
    int64_t wm_max, wm_seen;
    char wm_key[48], wm_seen_key[48];
} node_rt;


typedef struct engine {
    ember_job *job;
    ember_run_opts opts;
    char dir[4096];
    char checkpoint_id[33]; /* DIR/ID (checkpoint/ckdir.h), handed to the sink */
    uint64_t job_hash;

    /* handles from recovery */
    int lock_fd;
    store *st;
    wal *wal;
    int tables_open; /* join tables were created for this run */

    /* the graph's nodes, in order (one for a job that is not a graph) */
    node_rt *nodes;
    int n_nodes;
    src_range *plan; /* a new batch's ranges over every source, tagged */
    size_t plan_cap;
    side_output dead, late;
    transform *dead_tf, *late_tf; /* the nodes' transforms that fill them */
    FILE *progress;

    /* what is committed (I2: all of it belongs to batch `committed`) */
    uint64_t committed;
    uint64_t records_total; /* input records committed */
    uint64_t state_keys;    /* exact key count, meta "state_keys" */
    uint64_t drained;       /* the drain batch, meta "drained"; 0 = not drained */
    commit_record last;     /* ends = committed end offset per partition */

    /* scheduling */
    double last_plan_ms; /* monotonic time of the last plan, idle ones too; 0 = none */
    rate_estimator rate; /* batch backpressure=on: bounds the next plan */
    /* Set for every replayed batch but the last: their commits skip the
     * fsync and keep the WAL (a power cut replays them again from their
     * PLANs); the last replayed commit syncs them all. */
    int replay_nosync;

    /* for ember_run_opts.on_batch (report.c) */
    double recovery_ms;       /* this run's replay */
    uint64_t replayed;        /* batches it re-executed */
    uint64_t snapshots_taken; /* by this run */
    uint64_t last_snapshot;   /* newest snapshot's batch, 0 = none */
} engine;

/* cycle.c: runs one batch, new (b->replay = 0: plan and WAL first) or
 * replayed, through every step of the cycle; on success reports it. */
EMBER_MUST_CHECK int cycle_run(engine *e, batch_ctx *b, ember_err *err);

/* node.c: steps 4 and 5 for one node; its output rows; its watermark's
 * committed high mark (load at open, put in each commit). */
EMBER_MUST_CHECK int node_run(engine *e, node_rt *n, batch_ctx *b, ember_err *err);
EMBER_MUST_CHECK int node_emit(node_rt *n, const ember_record *row, int sign, int copy);
EMBER_MUST_CHECK int node_load_watermark(engine *e, node_rt *n, ember_err *err);
void node_put_watermark(engine *e, const node_rt *n, store_batch *wb);
/* cycle.c: a bad record of a source node, named by its place. */
EMBER_MUST_CHECK int cycle_bad_record(engine *e, node_rt *n, const batch_ctx *b, uint64_t bad,
                                      ember_err *err);
/* rank.c: `top K by COL`: the K best rows of each window into the node's
 * output. */
EMBER_MUST_CHECK int rank_top(node_rt *n, ember_err *err);
/* rank.c: `top K by F [per G]` over records: the node's rows through its
 * topn state; the changes of the K best per group become the output. */
EMBER_MUST_CHECK int rank_records(node_rt *n, const batch_ctx *b, ember_err *err);

/* side.c */
void side_init(side_output *s, const char *what,
               const char *(*lines)(transform *, size_t, size_t *));
EMBER_MUST_CHECK int side_open(side_output *s, const char *path, uint64_t committed_bytes,
                               ember_err *err);
EMBER_MUST_CHECK int side_write_batch(side_output *s, transform *t, ember_err *err);
void side_close(side_output *s);

/* report.c: the progress line and progress.jsonl. */
EMBER_MUST_CHECK int report_open(engine *e, ember_err *err);
/* Also hands the batch to opts.on_batch, when set. */
void report_batch(engine *e, const batch_ctx *b);
/* publish.c: the batch as an ember_batch_info to opts.on_batch (if set). */
void publish_batch(engine *e, const batch_ctx *b, uint64_t keys, uint64_t bytes);


#endif
