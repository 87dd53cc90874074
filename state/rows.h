/*
 * rows: stored state read back as the user sees it, for every reader that
 * only looks (`ember state`, `ember diff`, the checkpoint API): aggregate
 * values decoded with the job spec, composite keys as `--key` takes them,
 * timer keys split into their times and key, per-operator key counts, and
 * the side-by-side walk of two versions of a column family.
 */
#ifndef EMBER_STATE_ROWS_H
#define EMBER_STATE_ROWS_H

#include "core/job/job.h"
#include "core/ops/accum.h"
#include "state/store.h"

/* Fills row (key fields, window bounds, then aggregates) from a stored
 * aggregate key and value; vals needs SCHEMA_MAX_FIELDS entries; text
 * results (topk) are written to txt, which the row borrows. */
EMBER_MUST_CHECK int rows_decode(const ember_job *job, const char *key, size_t klen,
                                 const char *val, size_t vlen, ember_value *vals,
                                 ember_record *row, acc_text *txt, ember_err *err);
/* A stored key (key fields joined by KEY_SEP) as the user writes it: fields
 * joined by ',' ("u0978,i0870", what --key takes). Returns the length. */
size_t rows_key_text(const char *k, size_t n, char *buf, size_t cap);
/* A stored row's values as text, comma-separated (dedupe keep=last, top). */
void rows_record_text(const ember_record *r, char *buf, size_t cap);
/* dedupe keep=last's value (expiry | the row, state/dedupe.h): the expiry
 * and the row as rows_record_text; -1 when the value is not one. */
EMBER_MUST_CHECK int rows_dedupe_last(const char *v, size_t vn, int64_t *expiry, char *buf,
                                      size_t cap);
/* "a,b" as the user writes it -> the stored composite key (malloc'd). */
char *rows_stored_key(const char *k);
/* A u64 of the "meta" column family (e.g. "state_keys", the exact key
 * count committed with each batch); *found = 0 when absent. */
uint64_t rows_meta_u64(store *st, const char *name, int *found);

/* One column family for a listing of the operators. Families other than
 * the aggregate are counted exactly up to ROWS_COUNT_EXACT_MAX entries;
 * beyond, RocksDB's estimate (exact = 0). The aggregate's count is the
 * exact one committed with the batch. */
#define ROWS_COUNT_EXACT_MAX 1000000
typedef struct rows_op_stat {
    const char *name; /* borrowed from the store */
    uint64_t keys, bytes;
    int exact;
} rows_op_stat;
/* Fills o for family cf (>= 1); a failed read is the error. */
EMBER_MUST_CHECK int rows_op_stats(store *st, int cf, rows_op_stat *o, ember_err *err);

/* The layouts of the timer families (see state/layout.h). */
typedef enum rows_timers {
    ROWS_NOT_TIMERS,
    ROWS_TIMERS_PANES,   /* tumbling, sliding: pane start | key (the pane index) */
    ROWS_TIMERS_SESSION, /* session: end | key | start */
    ROWS_TIMERS_EXPIRY,  /* ttl, dedupe_timers: expiry | key */
} rows_timers;
/* The layout of op's family in job's state. */
rows_timers rows_timers_of(const ember_job *job, const char *op);
/* A timer key split: t0 (pane start, session end or expiry), t1 (pane end
 * or session start; 0 for expiries) and the key it names (borrowed from k). */
typedef struct rows_timer {
    int64_t t0, t1;
    const char *key;
    size_t key_len;
} rows_timer;
/* 0, or -1 when k is too short for the layout (skipped by readers). */
int rows_timer_split(const ember_job *job, rows_timers layout, const char *k, size_t n,
                     rows_timer *t);

/* One side of a diff: key and value, or k == NULL for "absent". */
typedef struct rows_side {
    const char *k, *v;
    size_t kn, vn;
} rows_side;
/* Called for every key that differs: old == NULL added, new == NULL
 * removed, both: changed. Non-zero stops the walk. */
typedef int (*rows_diff_fn)(const rows_side *old, const rows_side *new_, void *ctx);
/* Walks x (old) and y (new) once, side by side, in key order. Returns 0 or
 * what fn returned; the caller checks both iterators' status after. */
int rows_diff(store_iter *x, store_iter *y, rows_diff_fn fn, void *ctx);

#endif
