/*
 * ember.h: the public C API of ember, a fault-tolerant micro-batch stream
 * processor. A job is a linear pipeline:
 *
 *   source -> parse -> (filter | select | map)* -> key -> aggregate -> sink
 *
 * built either from a job file (ember_job_load_file, itself a client of this
 * API) or step by step from C. ember_job_run() drives the batch cycle
 * plan -> WAL -> transform -> state -> sink -> commit until stopped.
 *
 * Conventions: functions that can fail return 0 or a negative errno-style
 * code and fill the caller-owned ember_err (ember_strerror names a code).
 *
 * Ownership: every string and array passed in (names, expressions, option
 * keys and values) is copied before the call returns, unless its comment
 * says otherwise. A `void *user` given with a callback is borrowed: ember
 * never frees it and passes it back unchanged, so it must stay valid until
 * ember_job_free (for a log callback: until the next ember_set_log). Records,
 * values and strings handed to a callback are borrowed until it returns.
 * Every symbol the library exports begins with ember_ (EMBER_API below).
 */
#ifndef EMBER_H
#define EMBER_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define EMBER_MUST_CHECK __attribute__((warn_unused_result))
/* What libember.a exports; everything else in it is hidden (see Makefile). */
#define EMBER_API __attribute__((visibility("default")))

/* ---------------------------------------------------------------- version */

#define EMBER_VERSION_MAJOR 0
#define EMBER_VERSION_MINOR 3
#define EMBER_VERSION_PATCH 0
#define EMBER_VERSION       "0.3.0"
/* One number to compare in #if: 10000 * major + 100 * minor + patch. */
#define EMBER_VERSION_NUMBER                                                                       \
    (EMBER_VERSION_MAJOR * 10000 + EMBER_VERSION_MINOR * 100 + EMBER_VERSION_PATCH)

/* The version of the library linked in (a static string, EMBER_VERSION when
 * the header and the library match). */
EMBER_API const char *ember_version(void);

/* ---------------------------------------------------------------- errors */

/* Error codes beyond errno values (all returned negated). */
enum {
    EMBER_EUSAGE = 1000, /* bad flag, bad job file: exit code 2 */
    EMBER_ECORRUPT,      /* checksum mismatch, torn record */
    EMBER_ELOCKED,       /* checkpoint directory owned by another process */
    EMBER_EINCOMPAT,     /* job spec incompatible with stored state */
    EMBER_EDATALOSS,     /* planned input is no longer available */
    EMBER_EBADRECORD,    /* parse on-error=fail hit a bad record */
    EMBER_EFENCED,       /* scale-out: another instance owns the task now */
};

typedef struct ember_err {
    int code;      /* negative error code, 0 when no error */
    int col;       /* 1-based column inside the text that failed, 0 if none */
    char msg[512]; /* one line, names the place and the problem */
} ember_err;

/* Formats msg, stores code, returns code (negative) so callers can
 * `return ember_err_set(err, -EIO, "...")`. */
EMBER_API int ember_err_set(ember_err *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Same, with a column inside an expression or option string. */
EMBER_API int ember_err_set_col(ember_err *err, int code, int col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Prefixes the current message with "prefix: " (adds context on the way up). */
EMBER_API int ember_err_prefix(ember_err *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* A short text for an error code: an EMBER_E* or an errno value, negated as
 * returned or not ("checksum mismatch or torn record", "No such file or
 * directory"); "success" for 0, "unknown error" for anything else. The
 * string is static: never NULL, never to be freed. Thread-safe. For what
 * went wrong where, read ember_err.msg. */
EMBER_API const char *ember_strerror(int code);

/* ---------------------------------------------------------------- log */

typedef enum ember_log_level {
    EMBER_LOG_ERROR = 0,
    EMBER_LOG_WARN = 1,
    EMBER_LOG_INFO = 2, /* recovery decisions, progress lines */
} ember_log_level;

/* Receives every line the library prints (no trailing newline; the line is
 * borrowed until the call returns). Called from the thread that logs, one
 * call at a time. */
typedef void (*ember_log_fn)(ember_log_level level, const char *line, void *user);
/* Sets the log callback for the whole process (every job); NULL restores
 * the default (each line to stderr). `user` is borrowed and passed back
 * unchanged: it must stay valid until the next ember_set_log. */
EMBER_API void ember_set_log(ember_log_fn fn, void *user);

/* ---------------------------------------------------------------- values */

typedef enum ember_type {
    EMBER_NULL = 0, /* empty field */
    EMBER_INT = 1,
    EMBER_FLOAT = 2,
    EMBER_STRING = 3,
    EMBER_BOOL = 4, /* only as an expression result */
} ember_type;

/* A string slice, not NUL-terminated; borrowed, usually pointing into the
 * input line (which lives until the batch ends). */
typedef struct ember_str {
    const char *ptr;
    uint32_t len;
} ember_str;

typedef struct ember_value {
    ember_type type;
    union {
        int64_t i; /* EMBER_INT, EMBER_BOOL */
        double f;  /* EMBER_FLOAT */
        ember_str s;
    } u;
} ember_value;

/* A parsed record: `n` values in the order of the current schema.
 * Borrowed by callbacks until they return. */
typedef struct ember_record {
    uint32_t n;
    ember_value *values;
} ember_record;

/* ---------------------------------------------------------------- jobs */

typedef struct ember_job ember_job;

/* key=value option of a source, sink or step. */
typedef struct ember_opt {
    const char *key;
    const char *value;
} ember_opt;

/* Custom filter: return 1 to keep, 0 to drop. Called from worker threads,
 * several at a time: must be thread-safe and deterministic (a replay after a
 * crash must give the same result). rec is borrowed until it returns. */
typedef int (*ember_filter_fn)(const ember_record *rec, void *user);
/* Custom map: rewrites rec->values in place, keeping rec->n and each field's
 * type (or EMBER_NULL). Worker threads, thread-safe and deterministic; a
 * record may pass twice (a job with dedupe runs the steps before it twice),
 * so an edit in place must give the same result when applied again.
 * Strings a map writes: either edit the bytes of a string in place, within
 * its len (the line buffer belongs to the batch; lower-casing is fine), or
 * point the value at bytes that stay valid and unchanged until the batch
 * ends, when the sink has written it: a substring of any field of the same
 * record, or memory the caller owns for the job's lifetime (static strings,
 * a table reached through user). Not a buffer reused for the next record,
 * not memory freed after the call. ember never frees what a map points to. */
typedef void (*ember_map_fn)(ember_record *rec, void *user);

/* A new, empty job, owned by the caller (free with ember_job_free); NULL when
 * out of memory. name is copied. */
EMBER_API EMBER_MUST_CHECK ember_job *ember_job_new(const char *name);
/* Frees the job and everything it copied; NULL is ignored. Not while
 * ember_job_run is running it. Borrowed `user` pointers are not touched. */
EMBER_API void ember_job_free(ember_job *job);

/* batch interval=.. max-records=.. [backpressure=on|off min-rate=.. initial-rate=..] */
EMBER_API EMBER_MUST_CHECK int ember_job_batch(ember_job *job, const ember_opt *opts, size_t n_opts,
                                               ember_err *err);
/* checkpoint dir=.. every=.. keep=.. cache=.. on-data-loss=fail|skip */
EMBER_API EMBER_MUST_CHECK int ember_job_checkpoint(ember_job *job, const ember_opt *opts,
                                                    size_t n_opts, ember_err *err);
/* source KIND options... (generator, file, kafka, socket, stdin) */
EMBER_API EMBER_MUST_CHECK int ember_job_source(ember_job *job, const char *kind,
                                                const ember_opt *opts, size_t n_opts,
                                                ember_err *err);
/* parse csv|tsv fields=a,b:int,c:float [on-error=fail|skip|dead-letter:PATH] */
EMBER_API EMBER_MUST_CHECK int ember_job_parse(ember_job *job, const char *format,
                                               const ember_opt *opts, size_t n_opts,
                                               ember_err *err);
/* filter EXPR; err->col points into expr on a type or syntax error */
EMBER_API EMBER_MUST_CHECK int ember_job_filter(ember_job *job, const char *expr, ember_err *err);
/* fn is called with `user` (borrowed until ember_job_free). */
EMBER_API EMBER_MUST_CHECK int ember_job_filter_fn(ember_job *job, ember_filter_fn fn, void *user,
                                                   ember_err *err);
/* select EXPR [as NAME], ... : replaces the schema */
EMBER_API EMBER_MUST_CHECK int ember_job_select(ember_job *job, const char *list, ember_err *err);
/* fn is called with `user` (borrowed until ember_job_free). */
EMBER_API EMBER_MUST_CHECK int ember_job_map_fn(ember_job *job, ember_map_fn fn, void *user,
                                                ember_err *err);
/* join table path=F.csv key=FIELD fields=A,B:int [on-miss=drop|keep]:
 * appends the table row's fields to every record (a stream-static join) */
EMBER_API EMBER_MUST_CHECK int ember_job_join(ember_job *job, const char *kind,
                                              const ember_opt *opts, size_t n_opts, ember_err *err);
/* dedupe FIELD[, FIELD...] [keep=first|last] within DURATION: drops a
 * record whose FIELDS' values were seen within DURATION of batch time (one
 * dedupe step per stream); keep=last passes each id's last record of a
 * batch and retracts the row it replaces downstream (README: dedupe) */
EMBER_API EMBER_MUST_CHECK int ember_job_dedupe(ember_job *job, const char *spec, ember_err *err);
/* key FIELD[,FIELD...] */
EMBER_API EMBER_MUST_CHECK int ember_job_key(ember_job *job, const char *fields, ember_err *err);
/* ttl DURATION: a key not updated for DURATION of batch time is deleted
 * (between key and aggregate; not with a window) */
EMBER_API EMBER_MUST_CHECK int ember_job_ttl(ember_job *job, const char *duration, ember_err *err);
/* window tumbling SIZE | sliding SIZE every SLIDE | session GAP
 *        [on FIELD [watermark DELAY]] [emit=final|update] [late=drop|file:PATH]
 * (between key and aggregate; output rows gain window_start, window_end) */
EMBER_API EMBER_MUST_CHECK int ember_job_window(ember_job *job, const char *spec, ember_err *err);
/* aggregate FN(...) [filter (where COND)] [as NAME], ...: count() sum(f) min(f)
 * max(f) avg(f) wavg(x, w) count_distinct(f [, approx]) topk(f, K); without a
 * key before it, one global group. A column is named NAME, or fn_field (count
 * for count()). With a filter, an aggregate folds only the records for which
 * COND (typed against the record) is true. */
EMBER_API EMBER_MUST_CHECK int ember_job_aggregate(ember_job *job, const char *list,
                                                   ember_err *err);

/* A user-defined aggregate. Its state is a blob of state_bytes that ember
 * keeps per key (per window pane, per session) exactly as it keeps a sum:
 * folded in worker threads, merged across threads, panes and sessions,
 * stored in RocksDB byte for byte, copied into snapshots and rebuilt by
 * replay after a crash. Hence the rules:
 *   - the state holds values, never pointers: another process reads it back;
 *   - init writes the identity of merge (merging a fresh state changes
 *     nothing); the blob is zeroed and 8-byte aligned before init;
 *   - merge is associative and commutative, and agrees with add: records
 *     are folded into partial states (per thread, per batch, per pane)
 *     that are merged in an order that depends on batch sizes and threads;
 *   - every callback is deterministic and writes only the state_bytes:
 *     same inputs, same bytes (no clock, no randomness). Float arithmetic
 *     is not associative: for output that is byte-identical whatever the
 *     batching (and after a crash), accumulate integers (examples/custom_agg.c
 *     keeps a geometric mean's logarithms in fixed point).
 * Every callback may run on any of ember's threads, several at a time on
 * different states: whatever they read through `user` must be thread-safe. */
#define EMBER_AGG_STATE_MAX 64 /* bytes of state per key, at most */
#define EMBER_AGG_MAX_ARGS  8  /* fields one aggregate reads, at most */

typedef struct ember_agg_fns {
    uint32_t state_bytes;   /* size of the state blob, 1..EMBER_AGG_STATE_MAX */
    ember_type result_type; /* EMBER_INT or EMBER_FLOAT */
    /* A fresh state. */
    void (*init)(void *state, void *user);
    /* Folds one record in. args holds the aggregate's fields in the order
     * they were named (a value is EMBER_NULL for an empty field); borrowed
     * until the call returns. */
    void (*add)(void *state, const ember_record *args, void *user);
    /* into := into combined with from. */
    void (*merge)(void *into, const void *from, void *user);
    /* The output value: out->type arrives as result_type; set out->u.i or
     * out->u.f, or set out->type = EMBER_NULL for none (any other type is
     * read as EMBER_NULL). */
    void (*result)(const void *state, ember_value *out, void *user);
} ember_agg_fns;

/* aggregate_fn NAME fields=F[,F...] state=BYTES type=int|float: one more
 * output column, named name, computed by fns over the listed fields ("" for
 * none). After key (and window), before or after ember_job_aggregate, any
 * number of times; columns follow the call order. All four callbacks are
 * required; *fns is copied, `user` is borrowed until ember_job_free.
 * The job's text (DIR/JOB) records the line above, part of the state
 * layout: a restart that changes the name, fields, state size or result
 * type is refused as incompatible. Such a line in a job file declares the
 * aggregate without its callbacks: `ember state` and the other inspection
 * tools read the job (the column shows empty), but running it fails; only
 * the program that defines the callbacks can run the job. */
EMBER_API EMBER_MUST_CHECK int ember_job_aggregate_fn(ember_job *job, const char *name,
                                                      const char *fields, const ember_agg_fns *fns,
                                                      void *user, ember_err *err);
/* having EXPR: keeps output rows (key, window, aggregates) where EXPR is true */
EMBER_API EMBER_MUST_CHECK int ember_job_having(ember_job *job, const char *expr, ember_err *err);
/* top K by COLUMN: after a windowed aggregate, of each window's rows emitted
 * in a batch only the K with the largest COLUMN (ties: smaller key first).
 * top K by FIELD [per FIELDS] in a stream without window or aggregate: the K
 * records with the largest FIELD of each group (FIELDS, else the key, else
 * all), kept in state; its rows gain a `rank` column (README: top K per
 * group over records) */
EMBER_API EMBER_MUST_CHECK int ember_job_top(ember_job *job, const char *spec, ember_err *err);
/* stream NAME [from A[, B ...]]: starts a named stream of the dataflow
 * graph. The calls after it build that stream: a `source` first, or none
 * with `from` (the rows of stream A as it is now, or the union of A, B, ...,
 * whose fields must be equal). */
EMBER_API EMBER_MUST_CHECK int ember_job_stream(ember_job *job, const char *spec, ember_err *err);
/* watermark FIELD DELAY [idle=D]: the stream's event time and watermark */
EMBER_API EMBER_MUST_CHECK int ember_job_watermark(ember_job *job, const char *spec,
                                                   ember_err *err);
/* sink stdout | file dir=D: any number; each receives the stream as it is at
 * this call, and calls after it go on transforming the stream (fan-out) */
EMBER_API EMBER_MUST_CHECK int ember_job_sink(ember_job *job, const char *kind,
                                              const ember_opt *opts, size_t n_opts, ember_err *err);

/* Loads a job file; errors read "FILE:LINE:COL: message". On success *out is
 * a new job owned by the caller (free it with ember_job_free); on failure
 * *out is left unchanged and nothing needs freeing. */
EMBER_API EMBER_MUST_CHECK int ember_job_load_file(const char *path, ember_job **out,
                                                   ember_err *err);

/* ---------------------------------------------------------------- batch reports */

/* One source partition after a batch: the committed end offset and, when the
 * source can tell (Kafka's cached high watermark, a file's size, a bounded
 * generator), the end of its input, so lag = end - committed. */
typedef struct ember_partition_info {
    uint32_t source; /* the source's number in the job (0 for the first or only one) */
    uint32_t partition;
    uint64_t committed;
    uint64_t end; /* valid when has_end */
    int has_end;
} ember_partition_info;

/* One planned input range of the batch, half-open [from, to). */
typedef struct ember_range_info {
    uint32_t source; /* as in ember_partition_info */
    uint32_t partition;
    uint64_t from, to;
} ember_range_info;

/* One stateful operator of the job's graph: a family of the state. */
typedef struct ember_operator_info {
    const char *stream; /* the stream it belongs to (the job's name if linear) */
    const char *family; /* its column family: "aggregate", "aggregate.2", "sjoin.3", ... */
    uint64_t keys;      /* RocksDB's estimate */
    uint64_t bytes;     /* on disk */
    uint64_t records_in, records_out; /* the node's, this batch */
} ember_operator_info;

/* One source of the job. */
typedef struct ember_source_info {
    const char *stream; /* the stream it feeds (the job's name if linear) */
    const char *kind;
    uint32_t source;    /* its number, as in ember_partition_info */
    uint64_t records_in; /* this batch */
} ember_source_info;

/* One sink and the newest rows it received. */
typedef struct ember_sink_info {
    const char *kind;        /* "file", "kafka", ... */
    const char *stream;      /* the stream whose rows it receives (the job's name if linear) */
    const char *const *rows; /* oldest first, as text (values comma-separated) */
    size_t n_rows;           /* at most 64 */
} ember_sink_info;

/* What a committed batch reports (ember_run_opts.on_batch). Every pointer is
 * borrowed until the callback returns: copy what you keep. */
typedef struct ember_batch_info {
    const char *job_name;
    const char *job_text;    /* the canonical job text, one step a line */
    const char *dir;         /* the checkpoint directory */
    const char *source_kind; /* the first source's kind: "kafka", "generator", ... */
    const char *sink_kind;   /* the first sink's */
    uint64_t batch;
    uint64_t batch_time_ms; /* the PLAN's batch time (epoch ms) */
    int replay;             /* re-executed from the WAL during recovery */
    uint64_t records_in, records_kept, bad_records, late_records, filtered_out, duplicates;
    uint64_t rows_out; /* rows handed to the sink */
    double plan_ms, wal_ms, read_ms, transform_ms, state_ms, sink_ms, commit_ms, snapshot_ms;
    double total_ms;            /* processing time: read to snapshot */
    double scheduling_delay_ms; /* how late the batch started against its due time */
    double end_to_end_delay_ms; /* scheduling delay + processing time (Spark's total delay) */
    double input_rate;          /* records/s planned over the time since the last plan */
    uint64_t state_keys, state_bytes, wal_bytes;
    uint64_t records_total; /* input records committed by the checkpoint, all runs */
    const ember_range_info *ranges; /* the batch's plan */
    size_t n_ranges;
    const ember_partition_info *partitions;
    size_t n_partitions;
    const char *last_error;      /* the newest warning or error line logged, "" if none */
    double last_recovery_ms;     /* the replay at this run's start; 0 when none */
    uint64_t replayed_batches;   /* batches that replay re-executed */
    uint64_t snapshots_taken;    /* by this run */
    uint64_t last_snapshot_batch; /* newest snapshot (this run or before); 0 = none */
    uint64_t snapshot_every;     /* `checkpoint every=`; 0 = no snapshots */
    uint64_t interval_ms;        /* `batch interval=` */
    const ember_sink_info *sinks; /* every sink of the job, in the job's order */
    size_t n_sinks;
    const ember_operator_info *operators; /* every operator family, in graph order */
    size_t n_operators;
    const ember_source_info *sources; /* every source, in the job's order */
    size_t n_sources;
} ember_batch_info;

/* Called on the thread that runs the job, once per batch after its commit
 * (and after its progress line), replayed batches included. Keep it short:
 * the next batch waits for it. */
typedef void (*ember_batch_fn)(const ember_batch_info *info, void *ctx);

typedef struct ember_run_opts {
    const char *dir;      /* overrides the job's checkpoint dir; NULL keeps it
                             (borrowed until ember_job_run returns) */
    uint64_t max_batches; /* 0 = unlimited */
    int until_idle;       /* stop when every source has no more input */
    int threads;          /* transform workers, 0 = 1 */
    int progress;         /* add per-step timings to each batch's log line */
    int drain;            /* when the run ends idle (until_idle) or by
                             ember_job_drain(): one last batch moves every
                             watermark to the end and emits every open window */
    int reset_output;     /* output of another checkpoint is moved aside (file) or a new
                             marker sequence starts (kafka) instead of refusing to start */
    int rebuild;          /* when the live state is damaged and no snapshot
                             verifies: an empty state, the sources re-read from
                             their first offsets (otherwise that is an error) */
    ember_batch_fn on_batch; /* NULL: no reports (the status page, embedders' metrics) */
    void *on_batch_ctx;      /* borrowed, passed back to on_batch */
} ember_run_opts;

/* Runs the batch cycle (recovering first if the checkpoint exists) until
 * max_batches, idle, or a stop (ember_job_stop, ember_request_stop). The job
 * stays the caller's; opts is read during the call. */
EMBER_API EMBER_MUST_CHECK int ember_job_run(ember_job *job, const ember_run_opts *opts,
                                             ember_err *err);

/* Async-signal-safe: asks ember_job_run(job) to return 0. Every wait ends
 * within a second (a source connecting, Kafka unreachable or not yet
 * acknowledging, a retry backoff, the time between batches); a batch that
 * was not waiting finishes and commits, one that was is left uncommitted
 * and replays on the next run, so nothing committed is lost. The run's last
 * line is "stopped after batch N, committed". A stop requested before
 * ember_job_run starts makes it return at once: run does not reset it (a
 * stopped job stays stopped). */
EMBER_API void ember_job_stop(ember_job *job);
/* Async-signal-safe: ember_job_stop() for every job running in the process
 * now (a job started later is not stopped). Kept for compatibility. */
EMBER_API void ember_request_stop(void);
/* Async-signal-safe: like ember_job_stop, and with opts.drain the run ends
 * with the drain batch (ember run: SIGTERM). */
EMBER_API void ember_job_drain(ember_job *job);

/* Scale-out: runs instance `id` of the job in job_path, whose first kafka
 * source names a group; the instances of a job share its partitions
 * (tasks) through that group, each task's state in opts->dir/tasks/N (or
 * the job's checkpoint dir) and mirrored to Kafka (README, "Scale-out").
 * Returns when ember_instance_stop() is called, or on an error. */
EMBER_API EMBER_MUST_CHECK int ember_instance_run(const char *job_path, const char *id,
                                                  const ember_run_opts *opts, ember_err *err);
/* Async-signal-safe: ends ember_instance_run (every task's job stops). */
EMBER_API void ember_instance_stop(void);

#ifdef __cplusplus
}
#endif
#endif
