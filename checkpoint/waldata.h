/*
 * waldata: encode and decode the payload of a WAL DATA record.
 *
 *   offset 0  u64 raw_bytes, little-endian: length of the records below
 *   offset 8  one LZ4 block (LZ4_compress_default) of raw_bytes bytes of
 *             newline-terminated records, in the order the source gave them
 *
 * The frame around it (length, type, batch, xxh64) is checkpoint/wal.c's.
 */
#ifndef EMBER_CHECKPOINT_WALDATA_H
#define EMBER_CHECKPOINT_WALDATA_H

#include "ember.h"
#include <stddef.h>

/* *out is malloc'd (the caller frees it). */
EMBER_MUST_CHECK int waldata_encode(const char *raw, size_t n, char **out, size_t *out_n,
                                    ember_err *err);
/* *raw is malloc'd, NUL-terminated after raw_n bytes (the caller frees it);
 * -EMBER_ECORRUPT when the payload is short, too large or does not inflate. */
EMBER_MUST_CHECK int waldata_decode(const void *buf, size_t n, char **raw, size_t *raw_n,
                                    ember_err *err);

#endif
