/*
 * accum: the per-key accumulator of the aggregate step: a fixed array of
 * 8-byte slots laid out from the aggregate list. Slot 0 always counts the
 * records folded in (so min/max know whether they are set); count() reuses
 * it, sum/min/max take one slot, avg takes two (sum as double, count),
 * wavg(x, w) two (sum of x*w and sum of w, doubles: a VWAP is wavg(price,
 * qty)), count_distinct(f, approx) HLL_SLOTS (HyperLogLog registers),
 * count_distinct(f) SET_SLOTS (an exact set) and topk(f, K) topk_slots(K)
 * (a Space-Saving sketch); see summary.h for those two. An aggregate
 * defined in C (ember_job_aggregate_fn) keeps its state blob in
 * ceil(state_bytes / 8) slots that only its callbacks interpret: it folds,
 * merges, caches, encodes and replays like a sum.
 *
 * Encoding in RocksDB (value of a key in the operator's column family): see
 * the comment above acc_encode. Integer slots are int64, float slots are
 * IEEE-754 doubles.
 */
#ifndef EMBER_ACCUM_H
#define EMBER_ACCUM_H

#include "ember.h"
#include "core/ops/expr.h"
#include <stddef.h>
#include <stdint.h>

typedef union acc_slot {
    int64_t i;
    double f;
} acc_slot;

typedef enum agg_fn {
    AGG_COUNT,
    AGG_SUM,
    AGG_MIN,
    AGG_MAX,
    AGG_AVG,
    AGG_WAVG,
    AGG_HLL,  /* count_distinct(f, approx) */
    AGG_SET,  /* count_distinct(f): exact */
    AGG_TOPK, /* topk(f, K) */
    AGG_USER, /* ember_job_aggregate_fn: the caller's callbacks */
} agg_fn;

/* HyperLogLog of count_distinct(f, approx): 2^HLL_BITS one-byte registers,
 * 8 per slot; standard error about 1.04 / sqrt(256) = 6.5%. */
#define HLL_BITS 8
#define HLL_REGISTERS (1 << HLL_BITS)
#define HLL_SLOTS (HLL_REGISTERS / 8)

typedef struct agg_spec {
    agg_fn fn;
    int field;          /* index in the record schema; -1 for count() */
    ember_type in_type; /* EMBER_INT or EMBER_FLOAT (NULL for count; any for HLL) */
    int field2;         /* wavg: the weight field */
    ember_type in_type2;
    int k;              /* topk: how many values to report (1..TOPK_MAX_K) */
    int slot;           /* first slot, filled by acc_layout_init */
    /* `FN(...) filter (where COND)`: a record for which COND is not true is
     * not folded into this aggregate (SQL's FILTER clause). NULL without a
     * clause. Both owned by the job (ember_job_free frees them). A filtered
     * count() has a slot of its own instead of reusing slot 0. */
    expr *filter;
    char *filter_text;
    char name[64];      /* output column name, e.g. "avg_temp" or "count" */
    /* AGG_USER: the callbacks (all NULL when a job file only declares the
     * aggregate: it then stays empty), their borrowed user pointer, and the
     * record fields handed to add, in order */
    ember_agg_fns user_fns;
    void *user;
    int n_args;
    int args[EMBER_AGG_MAX_ARGS];
} agg_spec;

/* 16 KB per key in memory at most; a layout with count_distinct(f) or topk
 * needs more than the 255 slots that version 1 of the codec can count. */
#define ACC_MAX_SLOTS 2048
#define ACC_CODEC_VERSION 1
#define ACC_CODEC_VERSION_SUMMARY 2

/* Text results (topk) of one output row: acc_result writes into buf and
 * points the value at it. Reset used to 0 before each row. */
#define ACC_TEXT_BYTES 16384
typedef struct acc_text {
    size_t used;
    char buf[ACC_TEXT_BYTES];
} acc_text;

typedef struct acc_layout {
    agg_spec *aggs; /* borrowed */
    int n_aggs;
    int n_slots;
} acc_layout;

/* Assigns slots; fails if there are more than ACC_MAX_SLOTS, or on an
 * aggregate its function cannot take (a string sum, a state of 0 bytes). */
EMBER_MUST_CHECK int acc_layout_init(acc_layout *l, agg_spec *aggs, int n_aggs, ember_err *err);
void acc_init(const acc_layout *l, acc_slot *s);
/* Folds one record in; a NULL (empty) field is skipped by sum/min/max/avg,
 * an aggregate whose filter is not true for the record skips it. scratch
 * takes the strings a filter computes (may be NULL when no aggregate has a
 * filter). @locality any thread; the layout is only read. */
void acc_add(const acc_layout *l, acc_slot *s, const ember_record *rec, arena *scratch);
/* Takes one record back out (count, count(f), sum, avg: the aggregates a
 * job over an updating stream may have; others are left unchanged); the
 * filters decide as in acc_add, so a record is taken out of what took it. */
void acc_retract(const acc_layout *l, acc_slot *s, const ember_record *rec, arena *scratch);
/* into += from (associative and commutative, so shards merge in any order). */
void acc_merge(const acc_layout *l, acc_slot *into, const acc_slot *from);
/* The value of aggregate i (avg of nothing is NULL). A text result (topk)
 * is written into txt and borrowed from it; NULL without txt. */
void acc_result(const acc_layout *l, const acc_slot *s, int i, ember_value *out, acc_text *txt);
/* Fails (-EOVERFLOW) when an exact count_distinct went past its bound. */
EMBER_MUST_CHECK int acc_check(const acc_layout *l, const acc_slot *s, ember_err *err);
/* Result type of aggregate i (count: INT, avg: FLOAT, C: as declared,
 * others: input type). */
ember_type acc_result_type(const agg_spec *a);

/* The largest encoding: out of acc_encode needs this many bytes. */
size_t acc_encoded_bytes(const acc_layout *l);
/* Returns the length written (<= acc_encoded_bytes). */
size_t acc_encode(const acc_layout *l, const acc_slot *s, uint8_t *out);
/* Rejects a wrong version, slot count or length with -EMBER_ECORRUPT. */
EMBER_MUST_CHECK int acc_decode(const acc_layout *l, const void *buf, size_t len, acc_slot *s,
                                ember_err *err);

#endif
