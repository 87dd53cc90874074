/*
 * stream_join_private: the operator's struct and its row codec, shared by
 * state/stream_join.c (the batch) and state/stream_join_rows.c (keys,
 * values, output rows). Formats are specified in state/stream_join.h.
 */
#ifndef EMBER_STATE_STREAM_JOIN_PRIVATE_H
#define EMBER_STATE_STREAM_JOIN_PRIVATE_H

#include "core/base/arena.h"
#include "state/stream_join.h"

#define SJ_TIME_BYTES   8
#define SJ_SEQ_BYTES    8
#define SJ_ROW_SUFFIX   (1 + SJ_TIME_BYTES + SJ_SEQ_BYTES) /* side | T | seq */
#define SJ_META_KEY     "\0"
#define SJ_META_KEY_LEN 1
#define SJ_META_VERSION 1
#define SJ_META_BYTES   25
#define SJ_FLAG_MATCHED 1u
/* Event times beyond +-2^62 ms (WIN_DRAINED_EVENT_TIME) match nothing. */
#define SJ_TIME_LIMIT (INT64_C(1) << 62)

/* One new row of the batch. */
typedef struct sj_row {
    const ember_record *rec;
    int side;   /* 0 = A, 1 = B */
    int late;   /* behind the watermark on arrival: dropped */
    int usable; /* neither late nor unmatchable */
    int matched;
    int has_t;      /* t is known (a NULL event time is not) */
    int64_t t;      /* T of its key: event time, or batch time (ttl) */
    int64_t expiry; /* its timer */
    char *jkey;     /* arena */
    uint32_t jlen;
} sj_row;

/* A stored row decoded (values and strings in the arena). */
typedef struct sj_stored {
    int side;
    int64_t t;
    unsigned flags;
    ember_value *values;
} sj_stored;

/* A stored row matched during this batch (its new value is in wb). */
typedef struct sj_mark_entry {
    uint64_t hash;
    const char *key; /* arena */
    uint32_t len;
} sj_mark_entry;

struct stream_join {
    stream_join_spec spec;
    store *st;
    int rows_cf, timer_cf;

    int meta_loaded; /* the fields below hold the committed META */
    int64_t wm;      /* watermark in force */
    uint64_t next_seq;
    int64_t scan_from; /* timers before it are gone */

    /* the batch */
    arena ar;
    store_batch *wb;
    int64_t batch_time, wm_prev, wm_new;
    int drain;
    int64_t min_new_expiry; /* earliest timer of the rows stored now */
    store_iter *it;         /* rows_cf, one snapshot for the batch */
    sj_row *rows;           /* nl + nr */
    size_t rows_cap;
    size_t *by_key; /* the batch's B rows sorted by (key, input order) */
    size_t by_key_cap, n_by_key;
    sj_mark_entry *marks;
    size_t marks_cap, n_marks;
    ember_record *out;
    size_t n_out, out_cap;
    stream_join_stats stats, total;
};

/* stream_join_rows.c */
/* The row's JKEY into the arena; 0 with *jkey NULL when a key value is NULL. */
EMBER_MUST_CHECK int sj_encode_jkey(stream_join *j, sj_row *r, ember_err *err);
/* JKEY | side | T | seq, in the arena. NULL when out of memory. */
char *sj_row_key(stream_join *j, const char *jkey, uint32_t jlen, int side, int64_t t, uint64_t seq,
                 uint32_t *len);
/* ROW of a new row (flags from r->matched), in the arena. */
char *sj_encode_row(stream_join *j, const sj_row *r, uint32_t *len);
/* Decodes a stored row (key and value as read). */
EMBER_MUST_CHECK int sj_decode_row(stream_join *j, const char *k, size_t klen, const char *v,
                                   size_t vlen, sj_stored *out, ember_err *err);
/* Appends an output row: a (A's values or NULL) and b (B's or NULL); *t is
 * the event time that places the window (window form; NULL: no time, the
 * window fields are NULL). */
EMBER_MUST_CHECK int sj_emit(stream_join *j, const ember_value *a, const ember_value *b,
                             const int64_t *t, ember_err *err);
/* Start of the tumbling window holding t. */
int64_t sj_window_start(const stream_join *j, int64_t t);
/* The mark set: 1 when key was matched this batch. */
int sj_marked(const stream_join *j, const char *key, uint32_t len);
EMBER_MUST_CHECK int sj_mark(stream_join *j, const char *key, uint32_t len, ember_err *err);

#endif
