/*
 * transform_private: the workers and the transform's struct, shared by
 * transform.c (the pass over the records) and transform_dedupe.c (the
 * dedupe pass before it and keep=last's retractions). Nothing else includes
 * this header.
 */
#ifndef EMBER_TRANSFORM_PRIVATE_H
#define EMBER_TRANSFORM_PRIVATE_H

#include "core/base/arena.h"
#include "core/engine/transform.h"
#include "core/ops/text.h"

typedef struct row_vec {
    ember_record *rows;
    size_t n, cap;
} row_vec;

typedef struct worker {
    int id;
    transform *t;
    size_t first, last; /* line slice [first, last) */
    preagg **shards;    /* one map per shard */
    ember_value **vals; /* per step: the record after it */
    arena scratch;
    row_vec out;
    int8_t *out_sign; /* per out row */
    size_t out_sign_cap;
    row_vec tap;      /* copies of records at STEP_TAP steps, in input order */
    uint8_t *tap_idx; /* per tap row: which tap; its sign in tap_sign */
    int8_t *tap_sign;
    size_t tap_idx_cap, tap_sign_cap;
    int tapping;       /* the main pass (not the dedupe pass): taps record */
    int sign;          /* the sign of the record being processed */
    text_buf row_text; /* a row input's record as text (dead letters, late) */
    text_buf dead;
    text_buf late;
    transform_stats stats;
    char key[KEY_MAX];
    int rc;
    uint64_t bad_index;
    ember_err err;
    uint64_t line; /* the line being processed */
    struct {
        dedupe_id *v;
        size_t n, cap;
    } ids; /* dedupe: ids of this worker's slice, in order */
} worker;

struct transform {
    const ember_job *job;
    int n_workers;
    worker *w;
    const batch_lines *in;    /* lines to parse, or */
    const row_batch *rows_in; /* rows of earlier nodes */
    size_t n_in;
    int64_t batch_time_ms, watermark;
    dedupe_fn dedupe;
    void *dedupe_ctx;
    uint8_t *drop_line; /* dedupe: per line of the batch */
    size_t drop_cap;
    dedupe_id *ids; /* dedupe: every worker's ids in input order, kept for the batch */
    size_t ids_cap;
    const ember_record **prev_line; /* dedupe keep=last: per line, the row it replaces */
    size_t prev_cap;
};

/* The key bytes of a value: a string's bytes, else its text; -1 past KEY_MAX. */
int tf_key_append_value(char *key, size_t used, const ember_value *v);
/* Record index of the batch into rec (the worker's first values buffer). */
EMBER_MUST_CHECK int tf_parse_record(worker *w, size_t index, ember_record *rec);
/* Steps [from, upto) on rec: 0 kept, 1 dropped, < 0 an error in w->err. */
EMBER_MUST_CHECK int tf_run_steps(worker *w, ember_record *rec, int from, int upto);
/* A record past the steps: the node's row, or folded into its aggregate
 * with sign (-1: taken back). */
EMBER_MUST_CHECK int tf_finish_record(worker *w, ember_record *rec, size_t index, int sign);
void tf_run_parallel(transform *t, void *(*fn)(void *));

/* transform_dedupe.c: the dedupe pass (before the workers' main pass), and
 * the dedupe step inside it: 1 when the record is dropped, else 0 after
 * retracting the row a keep=last record replaces. */
EMBER_MUST_CHECK int tf_decide_duplicates(transform *t, size_t n_in, ember_err *err);
EMBER_MUST_CHECK int tf_dedupe_step(worker *w, int step);

#endif
