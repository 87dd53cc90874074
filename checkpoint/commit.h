/*
 * commit: the commit record, step 5 of the batch cycle. It rides in the same
 * RocksDB WriteBatch as the batch's state changes (written with sync), so
 * state, committed batch, source offsets and sink marker change together or
 * not at all. Its keys in the "meta" column family ("commit",
 * "offset/<partition>", "sink/<kind>") are specified in state/layout.h.
 */
#ifndef EMBER_COMMIT_H
#define EMBER_COMMIT_H

#include "core/source/source.h"
#include "state/store.h"

typedef struct commit_record {
    uint64_t batch;
    uint64_t batch_time_ms;
    uint64_t job_hash;
    uint64_t dead_letter_bytes; /* committed length of the dead-letter file */
    uint64_t records_total;     /* input records committed so far */
    src_range *ends;            /* to = committed end offset per partition */
    size_t n_ends;
    char sink_kind[32];
    uint64_t sink_batch;
} commit_record;

/* Adds the commit record, offsets and sink marker to wb. */
void commit_put(store_batch *wb, store *s, const commit_record *c);
/* Reads it back; -ENOENT when nothing was committed yet. c->ends malloc'd. */
EMBER_MUST_CHECK int commit_read(store *s, commit_record *c, ember_err *err);
void commit_free(commit_record *c);

#endif
