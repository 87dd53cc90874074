/*
 * metrics: /metrics in the Prometheus text exposition format 0.0.4, from a
 * copy of the board: counters since this process started, histograms of
 * processing time, scheduling delay and end-to-end delay, gauges of the
 * newest batch, state, WAL, lag and recovery.
 */
#ifndef EMBER_UI_METRICS_H
#define EMBER_UI_METRICS_H

#include "core/ops/text.h"
#include "ui/board.h"

/* operator: the name of the job's stateful step ("aggregate", ...). */
EMBER_MUST_CHECK int metrics_format(const ui_latest *l, const char *operator_name, text_buf *out);

#endif
