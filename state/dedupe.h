/*
 * dedupe: the state of `dedupe FIELD within HORIZON`. A record whose FIELD
 * value was seen within HORIZON of batch time is dropped; so is every later
 * copy inside one batch (the first in input order is kept).
 *
 * State: column family "dedupe" maps id -> expiry (batch time + horizon,
 * 8 bytes LE); "dedupe_timers" holds expiry | id so expired ids are deleted
 * from the due prefix, never by a scan: the state stays bounded by the ids
 * of one horizon. Every change goes into the batch's commit WriteBatch, so a
 * replayed batch decides exactly as the first run did.
 *
 * keep=last (Flink's deduplication on the last row): of each id only the
 * last record of a batch passes, and it replaces the row the id passed
 * before: that row comes back in prev, so the transform retracts it
 * downstream. The value is then expiry | the row (format above
 * dedupe_encode_row in dedupe.c); every passing row renews the expiry, and
 * an id without a row for one horizon is forgotten (its next row is new).
 */
#ifndef EMBER_DEDUPE_H
#define EMBER_DEDUPE_H

#include "state/preagg.h"
#include "state/store.h"

/* dedupe: the id of one record reaching the dedupe step, in input order. */
typedef struct dedupe_id {
    uint64_t line; /* index in the batch's lines */
    uint64_t hash; /* preagg_hash of the id */
    const char *id;
    uint32_t len;
    ember_record row;  /* keep=last: the record at the step (borrowed for the batch) */
    ember_record prev; /* keep=last, set by the decider: the row it replaces (n = 0: none) */
} dedupe_id;
/* Sets drop[i] = 1 for every ids[i] that is a duplicate (keep=last: fills
 * ids[i].prev of the ones that pass). */
typedef int (*dedupe_fn)(void *ctx, dedupe_id *ids, size_t n, uint8_t *drop, ember_err *err);

typedef struct dedupe dedupe;

EMBER_MUST_CHECK dedupe *dedupe_new(store *st, int cf, int timer_cf, int64_t horizon_ms,
                                    int keep_last);
void dedupe_free(dedupe *d);
/* Before the batch's transform: where its changes go and its time. */
void dedupe_begin(dedupe *d, store_batch *wb, int64_t batch_time_ms);
/* The transform's dedupe_fn (ctx = the dedupe); ids must stay valid until
 * dedupe_expire, and the prev rows it fills until the next dedupe_begin. */
EMBER_MUST_CHECK int dedupe_decide(void *ctx, dedupe_id *ids, size_t n, uint8_t *drop,
                                   ember_err *err);
/* After it: deletes ids whose horizon passed. */
EMBER_MUST_CHECK int dedupe_expire(dedupe *d, ember_err *err);

#endif
