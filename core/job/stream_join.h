/*
 * stream_join: the spec of a stream-stream join and its parser, the text
 * after `join A, B` of the job-file line
 *
 *   stream OUT join A, B on A.x = B.y [and A.u = B.v ...] COND [type=inner|left|right|full]
 *
 * where COND (exactly one) is
 *   within D                                   |A.ts - B.ts| <= D
 *   and B.ts between A.ts - D1 and A.ts + D2   A.ts - D1 <= B.ts <= A.ts + D2
 *                                              (bounds in either order, either
 *                                              sign, either side as subject)
 *   window tumbling SIZE                       both event times in one window
 *   ttl D                                      no time condition; a stored row
 *                                              expires D of batch time after
 *                                              it arrived
 * A.ts and B.ts are the streams' event-time fields (their `watermark`); the
 * interval and window forms need one on both sides. The operator over this
 * spec is state/stream_join.c; the graph layer feeds it both streams' rows.
 *
 * Output schema: every field of A, then every field of B, then (window form)
 * window_start and window_end. A name present on both sides becomes `A.x`
 * and `B.x`; other fields keep their names.
 */
#ifndef EMBER_JOB_STREAM_JOIN_H
#define EMBER_JOB_STREAM_JOIN_H

#include "core/ops/schema.h"
#include "ember.h"

#include <stdint.h>

#define SJ_MAX_KEYS 8
/* The longest duration a join takes (2^61 ms, 73 million years): event
 * times are within +-2^62 ms, so time arithmetic on them never overflows. */
#define SJ_MAX_DURATION_MS (INT64_C(1) << 61)

typedef enum sj_form { SJ_INTERVAL, SJ_WINDOW, SJ_TTL } sj_form;
/* Which sides keep their unmatched rows (with NULLs for the other side). */
typedef enum sj_type { SJ_INNER = 0, SJ_LEFT = 1, SJ_RIGHT = 2, SJ_FULL = 3 } sj_type;

/* One input of the join, as the graph layer knows it. */
typedef struct sj_input {
    const char *name; /* the stream's name (A or B) */
    const schema *fields;
    int time_field; /* event-time field (its `watermark`), -1 when none */
} sj_input;

typedef struct stream_join_spec {
    char name[2][SCHEMA_NAME_MAX]; /* [0] = left (A), [1] = right (B) */
    schema in[2];
    int time_field[2]; /* -1 when the stream declared no watermark */
    int n_keys;
    int key[2][SJ_MAX_KEYS]; /* key[0][i] of A equals key[1][i] of B */
    sj_form form;
    sj_type type;
    int64_t lo_ms, hi_ms; /* SJ_INTERVAL: lo <= B.ts - A.ts <= hi */
    int64_t size_ms;      /* SJ_WINDOW: the tumbling window */
    int64_t ttl_ms;       /* SJ_TTL: batch time a stored row lives */
    schema out;
} stream_join_spec;

/* Parses text (what follows `join A, B`) against both inputs. err->col is
 * the 1-based column in text of the word at fault. */
EMBER_MUST_CHECK int stream_join_parse(const char *text, const sj_input *left,
                                       const sj_input *right, stream_join_spec *out,
                                       ember_err *err);
/* 1 when unmatched rows of side (0 = A, 1 = B) are emitted. */
int stream_join_outer(const stream_join_spec *s, int side);
/* The part of the spec that decides the state layout, canonical text (for
 * the job's layout lines: changing it on existing state is refused). */
void stream_join_layout_text(const stream_join_spec *s, char *buf, size_t cap);

#endif
