/*
 * summary: the two aggregates whose state is a summary of a field's values
 * rather than a number, kept inside the accumulator's fixed slot array (see
 * accum.h) so that they fold, merge, cache, encode and replay exactly like
 * sum or min: everything still goes through the batch's WriteBatch.
 *
 * count_distinct(f): an exact set, the sorted XXH3-64 hashes of the distinct
 *   values. Exact up to 64-bit hash collisions (about n^2 / 2^65: for the
 *   SET_MAX values a set can hold, below 1e-14). Merging is set union, so
 *   sliding-window panes and sessions merge correctly. Bounded: a set holds
 *   at most SET_MAX hashes; one more marks it overflowed, and the state
 *   step then fails the batch with a message naming the key.
 *   Slots: [n][hash 0]...[hash SET_MAX-1], n = -1 once overflowed.
 *
 * topk(f, K): a Space-Saving sketch (Metwally et al.) of
 *   m = max(TOPK_FACTOR * K, TOPK_MIN_COUNTERS) counters, 64 bytes each
 *   (K = 10: 2.5 KB). Exact while a key (or window) has at most m distinct
 *   values. Beyond, in one pass, a count is never too low and at most N / m
 *   too high (N records), and every value more frequent than N / m is kept.
 *   Merging adds counts, charging a value missing from a full sketch with
 *   that sketch's smallest count (at most its N_i / m), and keeps the m
 *   largest (Space-Saving merged as in Agarwal et al., "Mergeable
 *   summaries"): counts stay upper bounds, too high by about N / m in all
 *   (test_summary checks 2 N / m over a four-way merge).
 *   A value is identified by its XXH3-64 hash; its text is kept up to
 *   TOPK_TEXT_MAX bytes for the output (longer values print truncated).
 *   Slots: [n] then m counters of TOPK_COUNTER_SLOTS slots:
 *     [hash][count][u8 len | text, 47 bytes, zero padded]
 *
 * Unused slots are always zero, so equal summaries have equal slots and the
 * codec can drop them (accum.c writes only the used part).
 * Called from worker threads (add) and the driver (merge, result).
 */
#ifndef EMBER_SUMMARY_H
#define EMBER_SUMMARY_H

#include "core/ops/accum.h"

#include <stddef.h>

#define SET_MAX 256
#define SET_SLOTS (1 + SET_MAX)
#define TOPK_MAX_K 32
#define TOPK_FACTOR 4
#define TOPK_MIN_COUNTERS 32
#define TOPK_COUNTER_SLOTS 8
#define TOPK_TEXT_MAX 47

/* Counters and slots of a topk(f, k) summary. */
int topk_counters(int k);
int topk_slots(int k);

void set_add(acc_slot *s, const ember_value *v);
void set_merge(acc_slot *into, const acc_slot *from);
/* Number of distinct values; -1 when the set overflowed. */
int64_t set_count(const acc_slot *s);
/* Slots in use (header included), what the codec writes. */
int set_used_slots(const acc_slot *s);

void topk_add(acc_slot *s, int k, const ember_value *v);
void topk_merge(acc_slot *into, const acc_slot *from, int k);
int topk_used_slots(const acc_slot *s);
/* "a:5|b:3|c:1": the k largest counts, ties by text then hash ascending.
 * Writes at most cap bytes to buf; returns the length. */
size_t topk_format(const acc_slot *s, int k, char *buf, size_t cap);

/* The hash that identifies a value (NULL: returns 0, nothing to add). */
int summary_hash(const ember_value *v, uint64_t *h, char *text, size_t cap, size_t *text_len);

#endif
