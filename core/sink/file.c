/*
 * sink_file: `sink file dir=D`. One file per batch, D/<batch 12 digits>.tsv,
 * a header line of column names then one row per line. Exactly-once by
 * idempotence: the file is written to a temp name, fsynced, renamed and the
 * directory fsynced (io_write_file_atomic), so a reader sees a whole batch or
 * nothing, and a replayed batch overwrites the same name with the same bytes.
 */
#include "core/base/io.h"
#include "core/sink/sink.h"
#include "core/ops/text.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const opt_def file_sink_options[] = {
    {"dir", OPT_STR, NULL, NULL, "directory of the batch files"},
    {"ext", OPT_STR, "tsv", NULL, "file name extension"},
    {0},
};

typedef struct file_sink {
    char *dir;
    char *ext;
    const schema *rows;
    text_buf buf;
} file_sink;

static int fsink_open(sink *s, const opt_set *opts, const sink_env *env, ember_err *err)
{
    file_sink *f = calloc(1, sizeof *f);
    if (!f)
        return ember_err_set(err, -ENOMEM, "out of memory");
    s->impl = f;
    f->dir = strdup(opts_str(opts, "dir"));
    f->ext = strdup(opts_str(opts, "ext"));
    f->rows = env->rows;
    if (!f->dir || !f->ext)
        return ember_err_set(err, -ENOMEM, "out of memory");
    return io_mkdir_p(f->dir, err);
}

static int fsink_recover(sink *s, uint64_t committed_batch, ember_err *err)
{
    return 0; /* idempotent overwrite needs no memory of past batches */
}

static int fsink_begin(sink *s, uint64_t batch, uint64_t batch_time_ms, ember_err *err)
{
    file_sink *f = s->impl;
    f->buf.len = 0;
    for (int i = 0; i < f->rows->n; i++) {
        const char *name = f->rows->f[i].name;
        if ((i && text_append(&f->buf, "\t", 1)) || text_append(&f->buf, name, strlen(name)))
            return ember_err_set(err, -ENOMEM, "out of memory");
    }
    if (text_append(&f->buf, "\n", 1))
        return ember_err_set(err, -ENOMEM, "out of memory");
    return 0;
}

static int fsink_write(sink *s, const ember_record *row, ember_err *err)
{
    file_sink *f = s->impl;
    if (text_append_row(&f->buf, row, '\t'))
        return ember_err_set(err, -ENOMEM, "out of memory");
    return 0;
}

static int fsink_commit(sink *s, uint64_t batch, ember_err *err)
{
    file_sink *f = s->impl;
    char path[4096];
    snprintf(path, sizeof path, "%s/%012llu.%s", f->dir, (unsigned long long)batch, f->ext);
    return io_write_file_atomic(path, f->buf.data, f->buf.len, err);
}

static void fsink_close(sink *s)
{
    file_sink *f = s->impl;
    if (!f)
        return;
    text_free(&f->buf);
    free(f->dir);
    free(f->ext);
    free(f);
    s->impl = NULL;
}

const sink_ops sink_file_ops = {
    .kind = "file",
    .doc = "one TSV file per batch, DIR/<batch>.tsv, atomic rename; exactly-once",
    .options = file_sink_options,
    .exactly_once = 1,
    .open = fsink_open,
    .recover = fsink_recover,
    .begin = fsink_begin,
    .write = fsink_write,
    .commit = fsink_commit,
    .close = fsink_close,
};
