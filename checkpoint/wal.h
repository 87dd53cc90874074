/*
 * wal: the write-ahead log in DIR/wal/. Step 2 of the batch cycle appends
 * PLAN b (and, for sources that cannot be replayed, DATA b) and fsyncs before
 * batch b is processed; recovery reads every record after the committed batch.
 *
 * Segments: DIR/wal/<first-batch, 20 digits>.wal, rotated when a segment
 * passes segment_bytes (a rotation only happens between batches, so one
 * batch's records never span segments... unless a single batch is larger).
 * Record framing (little-endian):
 *   u32 payload_len | u8 type | u64 batch | u64 xxh64(type,batch,len,payload) | payload
 * header is WAL_HEADER_BYTES. The checksum seed is 0x656d626572 ("ember").
 */
#ifndef EMBER_WAL_H
#define EMBER_WAL_H

#include "ember.h"
#include <stdint.h>
#include <stdio.h>

#define WAL_HEADER_BYTES 21
#define WAL_MAX_PAYLOAD (256u << 20)

enum wal_type {
    WAL_PLAN = 1, /* payload: plan_encode() of the batch's ranges */
    WAL_DATA = 2, /* payload: lz4 block of newline-separated records */
    WAL_DRAIN = 3, /* no payload: batch b (planned just before) is the drain batch */
};

static inline int wal_type_known(unsigned t) { return t >= WAL_PLAN && t <= WAL_DRAIN; }

typedef struct wal wal;

/* One record as read back; payload is borrowed until the visitor returns. */
typedef struct wal_record {
    uint8_t type;
    uint64_t batch;
    const void *payload;
    uint32_t len;
    const char *segment; /* file name (basename) */
    uint64_t offset;     /* byte offset of the header in the segment */
} wal_record;

/* What a scan found wrong; a torn tail is normal after a crash. */
typedef struct wal_damage {
    int torn_tail;          /* last segment ends inside a record */
    int corrupt;            /* a record failed its checksum or framing */
    char segment[64];
    uint64_t offset;        /* where the bad bytes start */
    char reason[128];
} wal_damage;

/* Opens DIR/wal for appending (creates it). A torn or corrupt tail of the
 * last segment is truncated (and reported in *damage if non-NULL); damage
 * in an older segment is an error (-EMBER_ECORRUPT). */
EMBER_MUST_CHECK int wal_open(const char *wal_dir, uint64_t segment_bytes, wal **out,
                              wal_damage *damage, ember_err *err);
void wal_close(wal *w);

/* Appends one record (buffered in the fd, not durable until wal_sync). */
EMBER_MUST_CHECK int wal_append(wal *w, uint8_t type, uint64_t batch, const void *payload,
                                uint32_t len, ember_err *err);
/* fsync the active segment (and the directory after a rotation). */
EMBER_MUST_CHECK int wal_sync(wal *w, ember_err *err);
/* Starts a new segment if the active one is past segment_bytes; call
 * between batches with the next batch id. */
EMBER_MUST_CHECK int wal_maybe_rotate(wal *w, uint64_t next_batch, ember_err *err);
/* Deletes whole segments whose every record has batch < keep_from
 * (failpoint wal.delete_segment between unlinks). */
EMBER_MUST_CHECK int wal_delete_before(wal *w, uint64_t keep_from, ember_err *err);

typedef int (*wal_visit_fn)(const wal_record *rec, void *ctx);

/* Read-only scan of every valid record with batch >= from_batch, in order.
 * Stops at the first bad record and describes it in *damage (never passes it
 * to fn). Returns 0, a negative error, or the non-zero value fn returned. */
EMBER_MUST_CHECK int wal_scan(const char *wal_dir, uint64_t from_batch, wal_visit_fn fn,
                              void *ctx, wal_damage *damage, ember_err *err);

/* Lists segment file names in order (malloc'd array of malloc'd strings). */
EMBER_MUST_CHECK int wal_list_segments(const char *wal_dir, char ***names, size_t *n,
                                       ember_err *err);
void wal_free_list(char **names, size_t n);

#endif
