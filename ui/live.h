/*
 * live: the status page of a running job (`ember run --ui`): the page, its
 * assets, /metrics and /api/v1/... over a board the engine publishes into.
 */
#ifndef EMBER_UI_LIVE_H
#define EMBER_UI_LIVE_H

#include "ui/board.h"
#include "ui/server.h"

typedef struct ui_live ui_live;

/* Starts the server on listen ("[ADDR:]PORT") over a new board; set
 * opts->on_batch = board_publish and opts->on_batch_ctx = ui_live_board(). */
EMBER_MUST_CHECK int ui_live_start(const char *listen, ui_live **out, ember_err *err);
ui_board *ui_live_board(ui_live *l);
void ui_live_stop(ui_live *l);

/* The routes (a ui_route_fn; ctx is the ui_live). */
int ui_live_route(void *ctx, const char *path, const ui_query *q, text_buf *out,
                  const char **content_type);

#endif
