/*
 * source_stdin: `source stdin`. Newline-delimited records from standard input.
 * Not replayable: each batch's records are written lz4-compressed into the
 * WAL (DATA) before processing, so a crash replays them from the WAL. Lines
 * still in the pipe, not yet taken into a batch, are lost with the process
 * (as with any receiver without an acknowledging upstream).
 */
#include "core/source/linepull.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

static const opt_def stdin_options[] = {{0}};

static int stdin_open(source *src, const opt_set *opts, const source_env *env, ember_err *err)
{
    linepull *p = malloc(sizeof *p);
    if (!p)
        return ember_err_set(err, -ENOMEM, "out of memory");
    linepull_init(p, STDIN_FILENO);
    src->impl = p;
    return 0;
}

static int stdin_restore(source *src, const src_range *ends, size_t n, ember_err *err)
{
    linepull *p = src->impl;
    for (size_t i = 0; i < n; i++)
        if (ends[i].partition == 0)
            p->next_seq = ends[i].to;
    return 0;
}

static int stdin_plan(source *src, uint64_t budget, src_range **ranges, size_t *n,
                      src_pulled *pulled, ember_err *err)
{
    linepull *p = src->impl;
    int rc = linepull_fill(p, 20, "stdin", err);
    if (!rc)
        linepull_take(p, budget, ranges, n, pulled);
    return rc;
}

static int stdin_available(source *src, const src_range *r, ember_err *err) { return 0; }

static int stdin_exhausted(source *src) { return linepull_exhausted(src->impl); }

static void stdin_close(source *src)
{
    linepull_free(src->impl);
    free(src->impl);
    src->impl = NULL;
}

const source_ops source_stdin_ops = {
    .kind = "stdin",
    .doc = "newline-delimited records from standard input; replayed from the WAL",
    .options = stdin_options,
    .replayable = 0,
    .open = stdin_open,
    .restore = stdin_restore,
    .plan = stdin_plan,
    .read = NULL,
    .available = stdin_available,
    .exhausted = stdin_exhausted,
    .close = stdin_close,
};
