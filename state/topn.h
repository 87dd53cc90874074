/*
 * topn: the state of `top K by COL [per FIELDS]` over a stream without a
 * window (Nexmark q19; Flink's ROW_NUMBER() OVER (PARTITION BY ... ORDER BY
 * COL DESC) <= K): the K rows with the largest COL of each group, kept in
 * the node's "top" column family and updated once per batch.
 *
 * Order: the larger COL first (ints compared as ints, a float against an
 * int as doubles), a NULL or NaN COL after every number, and between equal
 * values the older row (the earlier batch, then the earlier row of the
 * batch) first. A batch's rows of a group are merged with its stored rows;
 * when the K best differ from the stored ones, each stored row is handed on
 * with sign -1 (taken back) and each new one with sign +1, both with their
 * rank (1 = best), and the new K are written into the batch's WriteBatch:
 * a replayed batch decides exactly as its first run did.
 *
 * Value of a group (key = the group fields' key bytes joined by KEY_SEP):
 *   offset 0   u8   version, TOPN_VERSION (1)
 *   offset 1   u16  LE, n rows (<= K)
 *   then n times, best first: u64 LE seq (batch << 32 | row of the batch),
 *   the row (state/rowcodec.h)
 * No checksum here: RocksDB checksums its blocks and the WAL.
 */
#ifndef EMBER_TOPN_H
#define EMBER_TOPN_H

#include "core/base/arena.h"
#include "state/store.h"

#define TOPN_VERSION 1

typedef struct topn topn;

/* One row of the batch, in input order, with its group's key (borrowed for
 * the call). */
typedef struct topn_row {
    const char *key;
    uint32_t klen;
    uint64_t hash; /* preagg_hash of the key */
    const ember_record *rec;
} topn_row;

/* Receives each row handed on: borrowed until it returns; rank 1..K. */
typedef int (*topn_emit_fn)(void *ctx, const ember_record *row, int64_t rank, int sign);

/* k (1..65535) best rows by field col of rows `width` values wide. */
EMBER_MUST_CHECK topn *topn_new(store *st, int cf, int k, int col, uint32_t width);
void topn_free(topn *t);
/* The batch's rows into the state; emits what changed, group by group in
 * the order of their first row in the batch. */
EMBER_MUST_CHECK int topn_batch(topn *t, const topn_row *rows, size_t n, uint64_t batch,
                                store_batch *wb, topn_emit_fn emit, void *ctx, ember_err *err);

/* The rows of a stored group value, best first (at most cap), and their
 * seqs; rows and strings from mem. -1 when the bytes do not hold them. For
 * the operator and `ember state --op top`. */
EMBER_MUST_CHECK int topn_decode_value(const void *v, size_t len, arena *mem, size_t cap,
                                       const ember_record **rows, uint64_t *seqs, size_t *n);

#endif
