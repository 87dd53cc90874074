/*
 * window: the `window` step's spec and its time arithmetic, shared by the
 * workers (which assign records to panes and drop late ones) and the state
 * step (which fires windows, state/update.c).
 *
 *   window tumbling SIZE             [on FIELD [watermark DELAY]] [emit=final|update] [late=drop|file:PATH]
 *   window sliding SIZE every SLIDE  [...same...]
 *   window session GAP               [...same...]
 *
 * Time is event time (an int field, epoch milliseconds) with `on FIELD`, else
 * processing time: the batch time of the PLAN, so a replay sees the same.
 *
 * Panes. State is kept per (key, pane), never per window. A tumbling window is
 * one pane; a sliding window of SIZE every SLIDE is SIZE/SLIDE panes of SLIDE,
 * so each record updates one pane and a window's value is the merge of its
 * panes when it is read (incremental, nothing is recomputed from the input).
 * A session's state is one entry per open session keyed by its start; records
 * are pre-aggregated per (key, GAP-long bucket), which is exact because two
 * events in one bucket are less than GAP apart and so in one session.
 *
 * Watermark. W = (max event time seen in committed batches) - DELAY, kept in
 * the commit's WriteBatch. A batch drops a record as late when every window
 * it belongs to ends at or before the watermark in force when the batch
 * started; after folding the batch, W advances and every window whose end is
 * <= W fires (emit=final: emitted once, then its state is deleted).
 */
#ifndef EMBER_WINDOW_H
#define EMBER_WINDOW_H

#include "ember.h"
#include "core/ops/schema.h"
#include <stdint.h>

typedef enum win_kind { WIN_NONE, WIN_TUMBLING, WIN_SLIDING, WIN_SESSION } win_kind;
typedef enum win_emit { EMIT_FINAL, EMIT_UPDATE } win_emit;

#define WIN_NO_WATERMARK INT64_MIN

typedef struct window_spec {
    win_kind kind;
    int64_t size_ms;  /* window length (session: the gap) */
    int64_t slide_ms; /* sliding: the step; tumbling: = size; session: = gap */
    int time_field;   /* event-time field, -1 for processing time */
    int64_t delay_ms; /* watermark delay */
    win_emit emit;
    char *late_path; /* late=file:PATH, NULL to drop */
} window_spec;

/* Suffix appended to the key of a windowed state entry: pane or session start. */
#define WIN_SUFFIX 8

/* Parses the text after `window` against the record schema. err->col points
 * into text. The caller frees spec->late_path. */
EMBER_MUST_CHECK int window_parse(const char *text, const schema *in, window_spec *spec,
                                  ember_err *err);
/* The part of the spec that decides the state layout (kind, sizes, time). */
void window_layout_text(const window_spec *w, const schema *in, char *buf, size_t cap);

/* Start of the pane holding t (floor division, also for negative t). */
int64_t window_pane_start(const window_spec *w, int64_t t);
/* 1 when every window holding t ends at or before the watermark. */
int window_is_late(const window_spec *w, int64_t t, int64_t watermark);
/* watermark from the largest event time seen (saturating). */
/* The event time a drain batch moves every watermark to: past every window
 * an accepted record can open (event times are within +-2^62 ms). */
#define WIN_DRAINED_EVENT_TIME (INT64_C(1) << 62)

int64_t window_watermark(const window_spec *w, int64_t max_event_time);

/* Big-endian, sign-flipped, so byte order is numeric order. */
void window_put_time(uint8_t *out, int64_t t);
int64_t window_get_time(const uint8_t *in);

#endif
