/* offline: the status page over a checkpoint directory (see offline.h). */
#include "ui/offline.h"
#include "ui/assets.h"
#include "ui/dir_api.h"

#include <string.h>

#define DIR_PREFIX "/api/v1/dir/"

int ui_dir_route(const char *dir, const char *path, const ui_query *q, text_buf *out)
{
    text_buf query = {0};
    int status;
    if (ui_query_encode(q, &query))
        status = 500;
    else
        status = ui_dir_api(dir, path + strlen(DIR_PREFIX), query.data ? query.data : "", out);
    text_free(&query);
    return status;
}

static int reply(text_buf *out, int status, const char *body)
{
    return text_append(out, body, strlen(body)) ? 500 : status;
}

int ui_offline_route(void *ctx, const char *path, const ui_query *q, text_buf *out,
                     const char **content_type)
{
    const char *dir = ctx;
    if (!strncmp(path, DIR_PREFIX, strlen(DIR_PREFIX))) {
        *content_type = "application/json";
        return ui_dir_route(dir, path, q, out);
    }
    const ui_asset *a = ui_asset_find(path);
    int is_mode = !strcmp(path, "/api/v1/mode");
    if (!a && !is_mode)
        return reply(out, 404, "not found\n");
    if (q->n)
        return reply(out, 400, "this path takes no query arguments\n");
    if (is_mode) {
        *content_type = "application/json";
        return reply(out, 200, "{\"mode\":\"dir\"}");
    }
    *content_type = a->type;
    return text_append(out, (const char *)a->data, a->len) ? 500 : 200;
}
