/*
 * job: the internal form of an ember_job, built by the public API in job.c
 * (the job-file loader is a client of that API). Every API call also appends
 * one canonical line to `text`, so a job built from C has a job file too:
 * that text is what DIR/JOB keeps and what the spec check compares.
 */
#ifndef EMBER_JOB_H
#define EMBER_JOB_H

#include "core/ops/expr.h"
#include "core/ops/schema.h"
#include "core/sink/sink.h"
#include "core/source/source.h"
#include "core/ops/window.h"
#include "core/ops/accum.h"

#include <signal.h>

#define JOB_MAX_STEPS 32
#define JOB_MAX_KEYS 8
#define JOB_TOP_MAX_K 1000 /* top K over records (state/topn.h) */
#define JOB_MAX_AGGS 32
#define JOB_MAX_SINKS 8   /* sinks of one stream node */
#define JOB_MAX_INPUTS 8  /* streams of one union */
#define JOB_MAX_NODES 32  /* nodes of a dataflow graph */
#define JOB_STREAM_NAME_MAX 64

typedef enum step_kind {
    STEP_FILTER, STEP_FILTER_FN, STEP_SELECT, STEP_MAP_FN, STEP_JOIN, STEP_DEDUPE,
    STEP_WATERMARK, STEP_TAP
} step_kind;

struct join_table;

typedef struct job_step {
    step_kind kind;
    expr *filter;
    select_list *select;
    ember_filter_fn filter_fn;
    ember_map_fn map_fn;
    void *user;
    char *table_path;         /* STEP_JOIN: the static side's file */
    char *table_key;          /* STEP_JOIN: its key column */
    schema table_fields;      /* STEP_JOIN: its columns */
    struct join_table *table; /* STEP_JOIN: opened by the engine for a run, else NULL */
    int join_key;             /* STEP_JOIN: record field matched against the table's key */
    int join_fields;          /* STEP_JOIN: columns appended */
    int join_keep;            /* STEP_JOIN: on-miss=keep (NULLs) rather than drop */
    int dedupe_fields[JOB_MAX_KEYS]; /* STEP_DEDUPE: the id's fields */
    int n_dedupe_fields;
    int dedupe_keep_last; /* STEP_DEDUPE: keep=last (an update of the id's row) */
    int64_t dedupe_ms;        /* STEP_DEDUPE: the horizon, in batch time */
    int wm_field;             /* STEP_WATERMARK: the event-time field */
    int tap;                  /* STEP_TAP: which tap (a sink in the steps, graph.c) */
    int width; /* fields in the record after this step */
} job_step;

typedef enum parse_on_error { ON_ERROR_FAIL, ON_ERROR_SKIP, ON_ERROR_DEAD_LETTER } on_error_mode;

/* Which part of the job a line configures; API calls must come in order. */
typedef enum job_stage {
    STAGE_NONE, STAGE_SOURCE, STAGE_PARSE, STAGE_STEPS, STAGE_KEY, STAGE_TTL, STAGE_WINDOW, STAGE_AGG,
    STAGE_HAVING, STAGE_TOP, STAGE_SINK
} job_stage;

/* One output of a stream: a sink plugin and its bound options. */
typedef struct job_sink {
    const sink_ops *ops;
    opt_set opts;
    int tap; /* -1: the node's rows; else the rows at STEP_TAP `tap` */
    schema tap_rows; /* a tap's rows: the record's schema at the tap */
} job_sink;

struct job_graph;
struct stream_join_spec;

struct ember_job {
    char name[128];
    job_stage stage;
    int64_t interval_ms;
    int64_t max_records;
    int backpressure;     /* batch backpressure=on: plans follow core/rate.c */
    int64_t min_rate;     /* records/s, floor of the backpressure bound */
    int64_t initial_rate; /* records/s before the first estimate; 0 = none */

    char *ckpt_dir;
    int64_t snapshot_every; /* batches; 0 = never */
    int64_t snapshot_keep;
    int64_t cache_bytes;
    int64_t wal_segment_bytes;
    int on_data_loss_skip;

    const source_ops *source;
    opt_set source_opts;

    int has_parse;
    int delim; /* ',' or '\t', | CSV_NO_QUOTES without quoting (core/ops/csv.h) */
    const struct parse_format *format; /* parse FORMAT; NULL without a parse step */
    schema input; /* schema made by parse */
    on_error_mode on_error;
    char *dead_letter_path;

    job_step steps[JOB_MAX_STEPS];
    int n_steps;
    schema current; /* schema after the last step */
    int max_width;  /* widest record anywhere in the pipeline */

    int key_fields[JOB_MAX_KEYS];
    int n_keys;
    int dedupe_step; /* index of the dedupe step, -1 if none */
    int64_t ttl_ms;     /* idle keys expire after this much batch time; 0 = never */
    window_spec window; /* kind WIN_NONE without a window step */
    agg_spec aggs[JOB_MAX_AGGS + 2];
    int n_aggs; /* the aggregates the user asked for; hidden ones follow */
    int agg_list; /* the `aggregate` line was given (aggregate_fn lines may be more) */
    acc_layout acc;
    schema output; /* rows handed to the sink */
    expr *having;  /* filter on output rows, NULL if none */
    int top_k;     /* top K by top_col per window, 0 = all rows */
    int top_col;   /* output column ranked by top (top_rows: a field of current) */
    /* `top K by COL [per FIELDS]` without a window or aggregate: the K best
     * records of each group (state/topn.h); output = current + rank */
    int top_rows;
    int top_per[JOB_MAX_KEYS];
    int n_top_per;

    job_sink sinks[JOB_MAX_SINKS]; /* each receives the stream as it is here */
    int n_sinks;
    int n_taps; /* STEP_TAP steps: sinks between the steps, chained (graph.c) */

    /* The dataflow graph (core/job/graph.c). A job with no `stream` line
     * and no step after a sink is one node, the job itself (graph NULL).
     * Otherwise the root's graph lists the nodes: each an ember_job whose
     * input is a source or the rows of earlier nodes (inputs). */
    struct ember_job *root;  /* the node's job; NULL on the job itself */
    struct job_graph *graph; /* the root of a graph: its nodes */
    int node;                /* index among the graph's nodes */
    char stream[JOB_STREAM_NAME_MAX]; /* the stream the node belongs to; "" anonymous */
    int inputs[JOB_MAX_INPUTS]; /* upstream nodes, in union order */
    int n_inputs;               /* 0: the node reads a source */
    int updating_input;  /* the input updates rows: the aggregate retracts (count, sum, avg) */
    int retracts;        /* a downstream aggregate retracts: rows carry the previous value */
    /* `watermark FIELD DELAY [idle=D]` on this node (the declaring node),
     * or inherited from the inputs (wm_declared 0, wm_field by name) */
    int wm_declared;
    char wm_name[64];     /* the event-time field; "" = no declared watermark */
    int64_t wm_delay_ms;
    int64_t wm_idle_ms;   /* 0 = never idle */
    int wm_window;        /* the window reads the stream's watermark, not its own */
    /* `stream NAME join A, B ...`: the node's input rows are the join of
     * inputs[0] (A) and inputs[1] (B) (core/job/stream_join.h); NULL else */
    struct stream_join_spec *sjoin;

    char *text;      /* canonical job text, one line per API call */
    char *layout; /* the lines that decide the state layout */

    /* ember_job_stop() sets it (from a signal handler too); never reset.
     * Sources and sinks poll it through source_env/sink_env.stop. */
    volatile sig_atomic_t stop;
    /* ember_job_drain() sets it with stop: the run ends with the drain batch
     * (ember_run_opts.drain). */
    volatile sig_atomic_t drain;
    /* A scale-out task (ember run --instance): the engine's task_rt
     * (core/engine/task.h), set by the instance runner; NULL otherwise. */
    struct task_rt *task;
    int text_lost; /* a line of text or layout could not be allocated */
};

/* core/job/stop.c: ember_job_run registers the job it runs, so that
 * ember_request_stop() reaches it; unregister waits out a stop request
 * running on another thread, so the job may be freed after it. */
void em_job_running_add(ember_job *job);
void em_job_running_remove(ember_job *job);

/* Canonical text appended for each API call (to the layout too if
 * layout_line). The text is a fixed point of the loader: loading it gives
 * the same text and the same layout (tests/fuzz/fuzz_jobfile.c). */
void job_text_append(ember_job *job, int layout_line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* A line of the layout only. */
void job_layout_append(ember_job *job, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The line step + arg + " key=value"..., each value written so that the
 * loader reads it back unchanged (quoted when it is empty, starts with '"' or
 * holds a blank or '#'). */
void job_text_append_opts(ember_job *job, const char *step, const char *arg, const ember_opt *opts,
                          size_t n);
/* -EMBER_EUSAGE (err->col = 1 + the option's index) for a value no job file
 * can hold (a line break; a '"' in a value that needs quotes). */
EMBER_MUST_CHECK int job_opts_storable(const ember_opt *opts, size_t n, ember_err *err);
/* XXH64 of job->layout: the "job spec hash" of checkpoints. The layout holds
 * the type of every field that reaches the state (key and aggregated fields,
 * as they are after select and join). */
uint64_t job_layout_hash(const ember_job *job);
/* 1 if a field that reaches the state in both jobs has another type in
 * `now` than in `old`; msg then names it and both types. */
int job_state_type_change(const ember_job *old, const ember_job *now, char *msg, size_t cap);
/* Where a line of expressions (or the job line) has its "# comment": the
 * first '#' outside a "..." or '...' string, else strlen(s) (jobfile.c). */
size_t job_text_comment_at(const char *s);
/* The loader on text in memory (jobfile.c); path is for messages. */
EMBER_MUST_CHECK int job_load_text(const char *path, const char *text, size_t n, ember_job **out,
                                   ember_err *err);
/* Option tables of the `batch` and `checkpoint` lines (for --help). */
const opt_def *job_batch_options(void);
const opt_def *job_checkpoint_options(void);
/* Fills the defaults of unset parts and checks the job is complete. */
EMBER_MUST_CHECK int job_complete(ember_job *job, ember_err *err);
/* job_complete, and checks the job can run: every aggregate_fn has its
 * callbacks (a job file only declares them). */
EMBER_MUST_CHECK int job_finish(ember_job *job, ember_err *err);
/* Before a run creates anything: the files the job reads exist (source
 * file, join tables) and the directories of the files it appends to
 * (dead letters, late records) do. A relative path is relative to the
 * current directory, and the message says so:
 * "source file in.csv (relative to /home/me): No such file or directory". */
EMBER_MUST_CHECK int job_check_paths(const ember_job *job, ember_err *err);
/* What an aggregate line starts with: pipeline order, a key before it. */
EMBER_MUST_CHECK int job_begin_aggregate(ember_job *job, const char *what, ember_err *err);
/* Appends a copy of *a to the aggregates and lays them out again (the job
 * is unchanged on failure). */
EMBER_MUST_CHECK int job_push_aggregate(ember_job *job, const agg_spec *a, ember_err *err);

/* graph.c: the nodes of a job (the job itself when it is not a graph), in
 * an order where every node comes after its inputs. */
int job_node_count(const ember_job *job);
ember_job *job_node_at(const ember_job *job, int i);
int job_is_graph(const ember_job *job);
/* The node the pipeline's API calls act on; a step that is not a sink after
 * a sink starts the stream's next node (fan-out). NULL and err on failure. */
ember_job *job_node_for(ember_job *job, int is_sink, ember_err *err);
/* The schema of the rows a node hands to its sinks and to later nodes. */
const schema *job_node_output(const ember_job *node);
/* The node's rows update earlier ones (running aggregate, emit=update). */
int job_node_updates(const ember_job *node);
/* Whether the node has `dedupe ... keep=last` (its rows replace earlier ones). */
int job_node_keeps_last(const ember_job *node);
/* "views", or "(the first stream)" for the anonymous one: for messages. */
const char *job_node_label(const ember_job *node);
/* The job's source that cannot re-read its input (one at most), or NULL;
 * its first source. */
const source_ops *job_unreplayable_source(const ember_job *job);
const source_ops *job_first_source(const ember_job *job);
/* Checks the graph once every line is loaded (job_complete calls it). */
EMBER_MUST_CHECK int job_graph_complete(ember_job *root, ember_err *err);
void job_graph_free(ember_job *root);

/* aggregate_fn.c: an `aggregate_fn NAME fields=.. state=.. type=..` line of
 * a job file, the C aggregate's place in the state layout without its
 * callbacks; and the check that every C aggregate has them. */
EMBER_MUST_CHECK int job_aggregate_fn_declare(ember_job *job, const char *name,
                                              const ember_opt *opts, size_t n, ember_err *err);
EMBER_MUST_CHECK int job_aggregate_fns_defined(const ember_job *job, ember_err *err);

#endif
