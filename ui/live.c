/* live: the routes of a running job's status page (see live.h). */
#include "ui/live.h"
#include "ui/api.h"
#include "ui/assets.h"
#include "ui/metrics.h"
#include "ui/offline.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct ui_live {
    ui_board *board;
    ui_server *server;
};

static const char *const NO_ARGS[] = {NULL};
static const char *const BATCH_ARGS[] = {"n", NULL};

/* The name of the job's stateful step: the first line of its text that
 * starts with one ("state" when none is named). */
static const char *operator_name(ui_live *l)
{
    static const char *const kinds[] = {"aggregate", "dedupe", "join", NULL};
    const char *found = "state"; /* a static string: requests run on several threads */
    char *text = malloc(UI_TEXT_BYTES), dir[8];
    if (!text)
        return found;
    board_read_job(l->board, text, UI_TEXT_BYTES, dir, sizeof dir);
    const char *line = text;
    while (line && !strcmp(found, "state")) {
        for (int k = 0; kinds[k]; k++)
            if (!strncmp(line, kinds[k], strlen(kinds[k])))
                found = kinds[k];
        line = strchr(line, '\n');
        line = line ? line + 1 : NULL;
    }
    free(text);
    return found;
}

/* ?n=N: 1..UI_HISTORY, default 100; 0 on a bad value. */
static size_t batches_arg(const ui_query *q)
{
    const char *v = ui_query_get(q, "n");
    if (!v)
        return 100;
    size_t n = 0, digits = 0;
    for (; *v >= '0' && *v <= '9' && digits < 4; v++, digits++)
        n = n * 10 + (size_t)(*v - '0');
    return *v || !digits || n < 1 || n > UI_HISTORY ? 0 : n;
}

static int bad(text_buf *out, int status, const char *msg)
{
    return text_append(out, msg, strlen(msg)) ? 500 : status;
}

/* /api/v1/dir/...: the checkpoint API over the job's directory, once the
 * first batch has said which directory that is. */
static int dir_route(ui_live *l, const char *path, const ui_query *q, text_buf *out)
{
    char text[1], dir[4096];
    board_read_job(l->board, text, sizeof text, dir, sizeof dir);
    if (!dir[0])
        return bad(out, 503, "{\"error\":\"no batch committed yet\"}");
    return ui_dir_route(dir, path, q, out);
}

static int api_route(ui_live *l, const char *path, const ui_query *q, text_buf *out)
{
    if (!strncmp(path, "/api/v1/dir/", 12))
        return dir_route(l, path, q, out);
    if (!strcmp(path, "/api/v1/batches")) {
        size_t n = batches_arg(q);
        if (ui_query_only(q, BATCH_ARGS) || !n)
            return bad(out, 400, "{\"error\":\"expected ?n=N with N from 1 to 600\"}");
        return api_batches(l->board, n, out) ? 500 : 200;
    }
    if (ui_query_only(q, NO_ARGS))
        return bad(out, 400, "{\"error\":\"this route takes no query arguments\"}");
    int rc;
    if (!strcmp(path, "/api/v1/status"))
        rc = api_status(l->board, operator_name(l), out);
    else if (!strcmp(path, "/api/v1/sources"))
        rc = api_sources(l->board, out);
    else if (!strcmp(path, "/api/v1/operators"))
        rc = api_operators(l->board, operator_name(l), out);
    else if (!strcmp(path, "/api/v1/snapshots"))
        rc = api_snapshots(l->board, out);
    else if (!strcmp(path, "/api/v1/output"))
        rc = api_output(l->board, out);
    else if (!strcmp(path, "/api/v1/mode"))
        rc = text_append(out, "{\"mode\":\"live\"}", 15);
    else
        return bad(out, 404, "{\"error\":\"no such route\"}");
    return rc ? 500 : 200;
}

int ui_live_route(void *ctx, const char *path, const ui_query *q, text_buf *out,
                  const char **content_type)
{
    ui_live *l = ctx;
    if (!strncmp(path, "/api/", 5)) {
        *content_type = "application/json";
        return api_route(l, path, q, out);
    }
    const ui_asset *a = ui_asset_find(path);
    int is_metrics = !strcmp(path, "/metrics");
    if (!a && !is_metrics)
        return bad(out, 404, "not found\n");
    if (ui_query_only(q, NO_ARGS))
        return bad(out, 400, "this path takes no query arguments\n");
    if (a) {
        *content_type = a->type;
        return text_append(out, (const char *)a->data, a->len) ? 500 : 200;
    }
    ui_latest *lt = malloc(sizeof *lt);
    int rc = -ENOMEM;
    if (lt) {
        board_read_latest(l->board, lt);
        rc = metrics_format(lt, operator_name(l), out);
    }
    free(lt);
    *content_type = "text/plain; version=0.0.4; charset=utf-8";
    return rc ? 500 : 200;
}

int ui_live_start(const char *listen, ui_live **out, ember_err *err)
{
    ui_live *l = calloc(1, sizeof *l);
    if (!l || !(l->board = board_new())) {
        free(l);
        return ember_err_set(err, -ENOMEM, "ui: out of memory");
    }
    int rc = ui_server_start(listen, ui_live_route, l, &l->server, err);
    if (rc) {
        board_free(l->board);
        free(l);
        return rc;
    }
    *out = l;
    return 0;
}

ui_board *ui_live_board(ui_live *l)
{
    return l->board;
}

void ui_live_stop(ui_live *l)
{
    if (!l)
        return;
    ui_server_stop(l->server);
    board_free(l->board);
    free(l);
}
