/*
 * offline: the routes of `ember ui DIR`, the status page over a checkpoint
 * directory whether its job runs or not: the page and its assets,
 * /api/v1/mode and /api/v1/dir/<route> (ui/dir_api.h). Read-only. The
 * running job's page (live.h) serves /api/v1/dir/ over its own directory
 * through ui_dir_route too.
 */
#ifndef EMBER_UI_OFFLINE_H
#define EMBER_UI_OFFLINE_H

#include "ui/server.h"

/* /api/v1/dir/<route>?<query> over dir: the status ui_dir_api returns. */
int ui_dir_route(const char *dir, const char *path, const ui_query *q, text_buf *out);

/* ctx: the checkpoint directory (a string that outlives the server). */
int ui_offline_route(void *ctx, const char *path, const ui_query *q, text_buf *out,
                     const char **content_type);

#endif
