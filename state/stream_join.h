/*
 * stream_join: the state of a stream-stream join (`stream OUT join A, B on
 * ...`, spec in core/job/stream_join.h), over RocksDB. The graph layer
 * hands it, per batch, the new rows of both inputs and the watermark in
 * force after the batch; it returns the joined rows of the batch and puts
 * every state change into the batch's commit WriteBatch.
 *
 * Semantics. A new row of A (left) meets the stored rows of B and this
 * batch's rows of B; a new row of B meets the stored rows of A only, so
 * each pair comes out once. Interval form: lo <= B.ts - A.ts <= hi. Window
 * form: both event times in one tumbling window. TTL form: any stored row
 * still alive (stored at batch time T0, alive while the batch time is below
 * T0 + ttl: processing-time TTL, as Flink's state TTL). Rows are stored
 * when they can still match a later row and removed by timers when they
 * cannot; an unmatched row of an outer side (type=left|right|full) is
 * emitted with NULLs for the other side when its timer fires, i.e. once the
 * watermark has passed every row it could still match. A row with a NULL
 * key (or NULL event time) matches nothing: an outer side emits it at once.
 *
 * Lateness (interval and window forms): W is the watermark in force before
 * the batch. A row is late when it can no longer be joined completely: an
 * interval row when ts < W, a window row when its window ends at or before
 * W. Late rows are counted and dropped. The TTL form has no lateness.
 *
 * Expiry. A stored A row can match later B rows (B.ts >= W) until
 * A.ts + hi < W, a B row until B.ts - lo < W; a window row until W reaches
 * its window's end; a TTL row until the batch time reaches T0 + ttl. The
 * watermark WIN_DRAINED_EVENT_TIME (a drain) expires everything.
 *
 * Durable layout (rows_cf and timer_cf are the operator's own families):
 *   rows_cf   JKEY | u8 side (0 = A, 1 = B) | T | u64be seq  ->  ROW
 *             T is the event time (window_put_time: big-endian, sign bit
 *             flipped), the batch time of arrival for the TTL form; seq
 *             numbers stored rows in order (from META), so a replay makes
 *             the same keys.
 *   rows_cf   "\0"  ->  META: u8 version=1 | u64le watermark in force |
 *             u64le next seq | u64le timer scan start (timers before it
 *             are gone)
 *   timer_cf  u64 expiry (window_put_time) | row key  ->  ""
 *             a row is due when expiry < W (event forms) or expiry <= the
 *             batch time (TTL form)
 *   JKEY      per key field: u8 type (1 int, 2 float, 3 string) | int:
 *             window_put_time | float: u64be bits (-0 as 0) | string: u32be
 *             length | bytes. Self-delimiting, so JKEY | side is a prefix
 *             of exactly that key's rows of that side.
 *   ROW       u8 flags (bit 0: matched) | u64le arrival batch time |
 *             u16le n | n x (u8 type | int, float: u64le | string: u32le
 *             length | bytes | null: nothing)
 * Matching is a seek to JKEY | other side | lowest matching T and steps up
 * to the highest; expiry is a scan of timer_cf from its start to the due
 * bound. Neither ever reads more of the state than what it matches or
 * removes (stream_join_stats.reads counts the steps).
 */
#ifndef EMBER_STATE_STREAM_JOIN_H
#define EMBER_STATE_STREAM_JOIN_H

#include "core/job/stream_join.h"
#include "state/store.h"

typedef struct stream_join stream_join;

typedef struct stream_join_stats {
    uint64_t late;        /* rows behind the watermark on arrival, dropped */
    uint64_t unmatchable; /* rows with a NULL key or NULL event time */
    uint64_t pairs;       /* joined rows emitted */
    uint64_t unmatched;   /* outer rows emitted with NULLs */
    uint64_t stored;      /* rows written to the state */
    uint64_t expired;     /* rows removed by their timer */
    uint64_t reads;       /* iterator seeks and steps over rows_cf and timer_cf */
} stream_join_stats;

/* spec is copied; st is borrowed and must outlive the operator. NULL when
 * out of memory. */
EMBER_MUST_CHECK stream_join *stream_join_new(const stream_join_spec *spec, store *st, int rows_cf,
                                              int timer_cf);
void stream_join_free(stream_join *j);

/* One batch: left[0..nl) and right[0..nr) are the new rows of A and B in
 * input order (each with at least as many values as its schema);
 * watermark is the one in force after the batch (the min of both inputs',
 * WIN_NO_WATERMARK when none, WIN_DRAINED_EVENT_TIME at a drain; it never
 * moves back: a smaller one than before is taken as the old one). Every
 * state change goes into wb, which the caller commits (or drops, then calls
 * stream_join_drop_cache). Reads see the committed state only. */
EMBER_MUST_CHECK int stream_join_batch(stream_join *j, const ember_record *left, size_t nl,
                                       const ember_record *right, size_t nr, int64_t batch_time_ms,
                                       int64_t watermark, store_batch *wb, ember_err *err);
/* The output rows of the last batch (spec->out's fields), in a deterministic
 * order: the same input on the same committed state gives byte-identical
 * rows. Valid until the next batch; string values may point into the input
 * rows, which must live as long. */
size_t stream_join_rows(const stream_join *j);
void stream_join_row(const stream_join *j, size_t i, ember_record *row);
/* The counters of the last batch and of all batches since stream_join_new. */
void stream_join_get_stats(const stream_join *j, stream_join_stats *batch,
                           stream_join_stats *total);
/* After a failed commit: forget what was cached from the batch (the
 * watermark and sequence), read them from the store again. */
void stream_join_drop_cache(stream_join *j);

#endif
