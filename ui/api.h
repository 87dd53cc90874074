/*
 * api: the JSON of /api/v1/... over a copy of the board (jansson). Each
 * function fills out with one JSON document and returns 0 or -ENOMEM.
 */
#ifndef EMBER_UI_API_H
#define EMBER_UI_API_H

#include "core/ops/text.h"
#include "ui/board.h"
#include <jansson.h>

EMBER_MUST_CHECK int api_status(ui_board *b, const char *operator_name, text_buf *out);
/* The newest n batches (1..UI_HISTORY), oldest first. */
EMBER_MUST_CHECK int api_batches(ui_board *b, size_t n, text_buf *out);
EMBER_MUST_CHECK int api_sources(ui_board *b, text_buf *out);
EMBER_MUST_CHECK int api_operators(ui_board *b, const char *operator_name, text_buf *out);
/* Snapshots and WAL segments as they are on disk in the job's directory. */
EMBER_MUST_CHECK int api_snapshots(ui_board *b, text_buf *out);
EMBER_MUST_CHECK int api_output(ui_board *b, text_buf *out);
/* Appends the JSON text of j to out and releases j (NULL j: -ENOMEM). */
EMBER_MUST_CHECK int api_dump(json_t *j, text_buf *out);

#endif
