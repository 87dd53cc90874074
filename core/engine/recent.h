/*
 * recent: the newest rows a sink received, as text (values comma-separated,
 * cut at RECENT_ROW_BYTES), for the status page's live results and
 * ember_batch_info.sink_rows. Off (and free) unless the run reports batches;
 * on, the sink's write path adds each row it hands the sink. Single-threaded:
 * the batch cycle's thread only.
 */
#ifndef EMBER_ENGINE_RECENT_H
#define EMBER_ENGINE_RECENT_H

#include "ember.h"
#include <stddef.h>

#define RECENT_ROWS      64
#define RECENT_ROW_BYTES 256

typedef struct recent_rows {
    char (*text)[RECENT_ROW_BYTES]; /* RECENT_ROWS slots; NULL = off */
    size_t next;                    /* slot the next row goes to */
    size_t n;                       /* slots filled */
} recent_rows;

/* Turns the ring on (malloc's its slots). */
EMBER_MUST_CHECK int recent_open(recent_rows *r, ember_err *err);
/* Keeps the row's text in the ring; nothing when the ring is off. */
void recent_add(recent_rows *r, const ember_record *row);
/* Points out[0..n) at the rows, oldest first (borrowed until the next add). */
size_t recent_list(const recent_rows *r, const char **out, size_t cap);
void recent_close(recent_rows *r);

#endif
