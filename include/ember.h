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
 * code and fill the caller-owned ember_err. Strings passed in are copied
 * unless a comment says otherwise.
 */
#ifndef EMBER_H
#define EMBER_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define EMBER_MUST_CHECK __attribute__((warn_unused_result))

/* ---------------------------------------------------------------- errors */

/* Error codes beyond errno values (all returned negated). */
enum {
    EMBER_EUSAGE = 1000, /* bad flag, bad job file: exit code 2 */
    EMBER_ECORRUPT,      /* checksum mismatch, torn record */
    EMBER_ELOCKED,       /* checkpoint directory owned by another process */
    EMBER_EINCOMPAT,     /* job spec incompatible with stored state */
    EMBER_EDATALOSS,     /* planned input is no longer available */
    EMBER_EBADRECORD,    /* parse on-error=fail hit a bad record */
};

typedef struct ember_err {
    int code;      /* negative error code, 0 when no error */
    int col;       /* 1-based column inside the text that failed, 0 if none */
    char msg[512]; /* one line, names the place and the problem */
} ember_err;

/* Formats msg, stores code, returns code (negative) so callers can
 * `return ember_err_set(err, -EIO, "...")`. */
int ember_err_set(ember_err *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Same, with a column inside an expression or option string. */
int ember_err_set_col(ember_err *err, int code, int col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Prefixes the current message with "prefix: " (adds context on the way up). */
int ember_err_prefix(ember_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

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
/* Sets the log callback; NULL restores the default (each line to stderr).
 * `user` is borrowed and passed back unchanged. */
void ember_set_log(ember_log_fn fn, void *user);

/* ---------------------------------------------------------------- values */

typedef enum ember_type {
    EMBER_NULL = 0, /* empty field */
    EMBER_INT = 1,
    EMBER_FLOAT = 2,
    EMBER_STRING = 3,
    EMBER_BOOL = 4, /* only as an expression result */
} ember_type;

/* A string slice; borrowed, usually pointing into the input line. */
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

/* Custom filter: return 1 to keep, 0 to drop. Called from worker threads;
 * must be thread-safe and deterministic (replay must give the same result). */
typedef int (*ember_filter_fn)(const ember_record *rec, void *user);
/* Custom map: rewrites rec->values in place (same schema). Worker threads. */
typedef void (*ember_map_fn)(ember_record *rec, void *user);

EMBER_MUST_CHECK ember_job *ember_job_new(const char *name);
void ember_job_free(ember_job *job);

/* batch interval=.. max-records=.. [backpressure=on|off min-rate=.. initial-rate=..] */
EMBER_MUST_CHECK int ember_job_batch(ember_job *job, const ember_opt *opts, size_t n_opts,
                                     ember_err *err);
/* checkpoint dir=.. every=.. keep=.. cache=.. on-data-loss=fail|skip */
EMBER_MUST_CHECK int ember_job_checkpoint(ember_job *job, const ember_opt *opts,
                                          size_t n_opts, ember_err *err);
/* source KIND options... (generator, file, kafka, socket, stdin) */
EMBER_MUST_CHECK int ember_job_source(ember_job *job, const char *kind, const ember_opt *opts,
                                      size_t n_opts, ember_err *err);
/* parse csv|tsv fields=a,b:int,c:float [on-error=fail|skip|dead-letter:PATH] */
EMBER_MUST_CHECK int ember_job_parse(ember_job *job, const char *format,
                                     const ember_opt *opts, size_t n_opts, ember_err *err);
/* filter EXPR; err->col points into expr on a type or syntax error */
EMBER_MUST_CHECK int ember_job_filter(ember_job *job, const char *expr, ember_err *err);
EMBER_MUST_CHECK int ember_job_filter_fn(ember_job *job, ember_filter_fn fn, void *user,
                                         ember_err *err);
/* select EXPR [as NAME], ... : replaces the schema */
EMBER_MUST_CHECK int ember_job_select(ember_job *job, const char *list, ember_err *err);
EMBER_MUST_CHECK int ember_job_map_fn(ember_job *job, ember_map_fn fn, void *user,
                                      ember_err *err);
/* join table path=F.csv key=FIELD fields=A,B:int [on-miss=drop|keep]:
 * appends the table row's fields to every record (a stream-static join) */
EMBER_MUST_CHECK int ember_job_join(ember_job *job, const char *kind, const ember_opt *opts,
                                    size_t n_opts, ember_err *err);
/* dedupe FIELD within DURATION: drops a record whose FIELD value was seen
 * within DURATION of batch time (one dedupe step per job) */
EMBER_MUST_CHECK int ember_job_dedupe(ember_job *job, const char *spec, ember_err *err);
/* key FIELD[,FIELD...] */
EMBER_MUST_CHECK int ember_job_key(ember_job *job, const char *fields, ember_err *err);
/* ttl DURATION: a key not updated for DURATION of batch time is deleted
 * (between key and aggregate; not with a window) */
EMBER_MUST_CHECK int ember_job_ttl(ember_job *job, const char *duration, ember_err *err);
/* window tumbling SIZE | sliding SIZE every SLIDE | session GAP
 *        [on FIELD [watermark DELAY]] [emit=final|update] [late=drop|file:PATH]
 * (between key and aggregate; output rows gain window_start, window_end) */
EMBER_MUST_CHECK int ember_job_window(ember_job *job, const char *spec, ember_err *err);
/* aggregate count() sum(f) min(f) max(f) avg(f) wavg(x, w) count_distinct(f [, approx])
 * topk(f, K) */
EMBER_MUST_CHECK int ember_job_aggregate(ember_job *job, const char *list, ember_err *err);
/* having EXPR: keeps output rows (key, window, aggregates) where EXPR is true */
EMBER_MUST_CHECK int ember_job_having(ember_job *job, const char *expr, ember_err *err);
/* top K by COLUMN: of each window's rows emitted in a batch, only the K with
 * the largest COLUMN (ties: smaller key first); needs a window */
EMBER_MUST_CHECK int ember_job_top(ember_job *job, const char *spec, ember_err *err);
/* sink stdout | file dir=D */
EMBER_MUST_CHECK int ember_job_sink(ember_job *job, const char *kind, const ember_opt *opts,
                                    size_t n_opts, ember_err *err);

/* Loads a job file; errors read "FILE:LINE:COL: message". */
EMBER_MUST_CHECK int ember_job_load_file(const char *path, ember_job **out, ember_err *err);

typedef struct ember_run_opts {
    const char *dir;      /* overrides the job's checkpoint dir; NULL keeps it */
    uint64_t max_batches; /* 0 = unlimited */
    int until_idle;       /* stop when every source has no more input */
    int threads;          /* transform workers, 0 = 1 */
    int progress;         /* print one progress line per batch on stderr */
    int reset_output;     /* output of another checkpoint is moved aside (file) or a new
                             marker sequence starts (kafka) instead of refusing to start */
} ember_run_opts;

/* Runs the batch cycle (recovering first if the checkpoint exists) until
 * max_batches, idle, or ember_request_stop(). */
EMBER_MUST_CHECK int ember_job_run(ember_job *job, const ember_run_opts *opts, ember_err *err);

/* Async-signal-safe: the current batch finishes, then ember_job_run returns 0. */
void ember_request_stop(void);

#ifdef __cplusplus
}
#endif
#endif
