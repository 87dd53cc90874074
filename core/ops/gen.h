/*
 * gen: the deterministic generators behind `source generator` and `ember gen`.
 * Record `seq` of kind K with seed S is a pure function of (K, S, seq), so any
 * sequence range can be regenerated on its own (which makes the source
 * replayable). Event times advance 1 ms per record from GEN_EPOCH_MS with a
 * bounded jitter, so a few events arrive out of order (nexmark's are
 * monotone: see gen_nexmark.c).
 */
#ifndef EMBER_GEN_H
#define EMBER_GEN_H

#include "ember.h"
#include <stddef.h>
#include <stdint.h>

#define GEN_EPOCH_MS 1700000000000LL
/* Room for the longest line of any kind (nexmark auctions) and its NUL. */
#define GEN_LINE_MAX 1024

typedef enum gen_kind {
    GEN_SENSORS, GEN_ADS, GEN_TRANSACTIONS, GEN_POSTS, GEN_CLICKS, GEN_TRADES, GEN_NEXMARK,
    GEN_KIND_COUNT
} gen_kind;

/* -1 if unknown. */
int gen_kind_parse(const char *name);
const char *gen_kind_name(gen_kind k);
/* The parse spec of the kind's CSV, e.g. "sensor,ts:int,temp:float". */
const char *gen_fields(gen_kind k);
const char *gen_doc(gen_kind k);
/* Writes record seq as one CSV line (no newline) into buf (>= GEN_LINE_MAX);
 * returns its length. Thread-safe, no allocation. */
size_t gen_line(gen_kind k, uint64_t seed, uint64_t seq, char *buf);
/* The same with event time advancing events_per_s records per second of
 * event time instead of GEN_EVENTS_PER_S (1 ms per record); every field that
 * follows event time (trending minutes, trade prices) follows it. */
#define GEN_EVENTS_PER_S 1000u
size_t gen_line_at(gen_kind k, uint64_t seed, uint64_t seq, uint64_t events_per_s, char *buf);

#endif
