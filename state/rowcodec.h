/*
 * rowcodec: one record as bytes, for operators that keep whole rows in
 * RocksDB (dedupe keep=last, top K per group). Format, little-endian:
 *   u16  n, the record's values
 *   then n values: u8 type (ember_type), then INT and BOOL: i64; FLOAT:
 *   the IEEE-754 bits as u64; STRING: u32 length and the bytes; NULL:
 *   nothing.
 * No checksum here: RocksDB checksums its blocks and the WAL.
 */
#ifndef EMBER_ROWCODEC_H
#define EMBER_ROWCODEC_H

#include "core/base/arena.h"
#include "ember.h"

#include <stddef.h>
#include <stdint.h>

/* Bytes rowcodec_put writes for r. */
size_t rowcodec_bytes(const ember_record *r);
/* Writes r at p (rowcodec_bytes(r) bytes); returns the end. */
uint8_t *rowcodec_put(uint8_t *p, const ember_record *r);
/* Reads a record at *p (advanced past it) into out, its values and strings
 * allocated from mem; -1 when [*p, end) does not hold one. */
EMBER_MUST_CHECK int rowcodec_get(const uint8_t **p, const uint8_t *end, arena *mem,
                                  ember_record *out);

#endif
