/*
 * sink_stdout: `sink stdout [max-rows=N]`. A readable table per batch, for
 * humans. At-least-once: a batch replayed after a crash prints again.
 */
#include "core/sink/sink.h"
#include "core/ops/text.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const opt_def stdout_options[] = {
    {"max-rows", OPT_INT, "20", NULL, "rows shown per batch (the rest are counted)"},
    {0},
};

typedef struct stdout_sink {
    const schema *rows;
    int64_t max_rows;
    uint64_t batch, written;
    text_buf buf;
} stdout_sink;

static int ssink_open(sink *s, const opt_set *opts, const sink_env *env, ember_err *err)
{
    stdout_sink *o = calloc(1, sizeof *o);
    if (!o)
        return ember_err_set(err, -ENOMEM, "out of memory");
    o->rows = env->rows;
    o->max_rows = opts_int(opts, "max-rows");
    s->impl = o;
    return 0;
}

static int ssink_recover(sink *s, uint64_t committed_batch, ember_err *err) { return 0; }

static int ssink_begin(sink *s, uint64_t batch, uint64_t batch_time_ms, ember_err *err)
{
    stdout_sink *o = s->impl;
    o->batch = batch;
    o->written = 0;
    o->buf.len = 0;
    return 0;
}

/* For humans: floats rounded to 3 decimals (the file sink keeps them exact). */
static int append_cell(text_buf *b, const ember_value *v)
{
    char cell[64];
    if (v->type != EMBER_FLOAT) {
        ember_record one = {1, (ember_value *)v};
        int rc = text_append_row(b, &one, '\t');
        if (!rc)
            b->len--; /* drop the row's newline */
        return rc;
    }
    int n = snprintf(cell, sizeof cell, "%.3f", v->u.f);
    return text_append(b, cell, n > 0 ? (size_t)n : 0);
}

static int ssink_write(sink *s, const ember_record *row, ember_err *err)
{
    stdout_sink *o = s->impl;
    if (o->written++ >= (uint64_t)o->max_rows)
        return 0;
    for (uint32_t i = 0; i < row->n; i++)
        if ((i && text_append(&o->buf, "\t", 1)) || append_cell(&o->buf, &row->values[i]))
            return ember_err_set(err, -ENOMEM, "out of memory");
    if (text_append(&o->buf, "\n", 1))
        return ember_err_set(err, -ENOMEM, "out of memory");
    return 0;
}

static void print_table(const stdout_sink *o)
{
    printf("-------- batch %llu: %llu rows --------\n", (unsigned long long)o->batch,
           (unsigned long long)o->written);
    for (int i = 0; i < o->rows->n; i++)
        printf("%s%-14s", i ? " " : "", o->rows->f[i].name);
    putchar('\n');
    const char *p = o->buf.data, *end = p + o->buf.len;
    while (p && p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        int col = 0;
        for (const char *q = p; q < nl; col++) {
            const char *tab = memchr(q, '\t', (size_t)(nl - q));
            const char *cell_end = tab ? tab : nl;
            printf("%s%-14.*s", col ? " " : "", (int)(cell_end - q), q);
            q = tab ? tab + 1 : nl;
        }
        putchar('\n');
        p = nl + 1;
    }
    if (o->written > (uint64_t)o->max_rows)
        printf("... %llu more rows\n", (unsigned long long)(o->written - (uint64_t)o->max_rows));
}

static int ssink_commit(sink *s, uint64_t batch, ember_err *err)
{
    print_table(s->impl);
    if (fflush(stdout) != 0)
        return ember_err_set(err, -errno, "stdout: %s", strerror(errno));
    return 0;
}

static void ssink_close(sink *s)
{
    stdout_sink *o = s->impl;
    if (o)
        text_free(&o->buf);
    free(o);
    s->impl = NULL;
}

const sink_ops sink_stdout_ops = {
    .kind = "stdout",
    .doc = "a readable table per batch on stdout; at-least-once",
    .options = stdout_options,
    .exactly_once = 0,
    .open = ssink_open,
    .recover = ssink_recover,
    .begin = ssink_begin,
    .write = ssink_write,
    .commit = ssink_commit,
    .close = ssink_close,
};
