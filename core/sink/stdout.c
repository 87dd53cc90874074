/*
 * sink_stdout: `sink stdout [max-rows=N]`. A readable table per batch, for
 * humans: values as the file sink writes them (floats the shortest text that
 * reads back exactly), except window bounds, shown as ISO-8601 UTC; columns
 * as wide as their widest cell in the batch. At-least-once: a batch
 * replayed after a crash prints again.
 *
 * With format=csv|tsv|json (core/ops/rowfmt.h) it prints every row in that
 * format instead, for programs: a header line once before the first row
 * (csv, tsv), no table, no batch lines, no max-rows.
 */
#include "core/sink/sink.h"
#include "core/ops/rowfmt.h"
#include "core/ops/text.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const opt_def stdout_options[] = {
    {"max-rows", OPT_INT, "20", NULL, "rows shown per batch (the rest are counted)"},
    {"format", OPT_ENUM, "", ROWFMT_NAMES,
     "print every row as csv, tsv or json instead of the table (default: the table)"},
    {0},
};

typedef struct stdout_sink {
    const schema *rows;
    int window_col; /* column of window_start (window_end follows), -1 if none */
    int64_t max_rows;
    rowfmt format;      /* ROWFMT_PLAIN: the table */
    int header_done;    /* the csv/tsv header line is out */
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
    o->format = (rowfmt)rowfmt_from_name(opts_str(opts, "format"));
    /* an aggregating job's rows: key fields, [window_start, window_end,] aggregates */
    int k = env->n_key_fields;
    o->window_col = k > 0 && k + 1 < env->rows->n &&
                            !strcmp(env->rows->f[k].name, "window_start") &&
                            !strcmp(env->rows->f[k + 1].name, "window_end")
                        ? k
                        : -1;
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

/* A cell as the file sink writes it; window bounds as ISO-8601 UTC. */
static int append_cell(text_buf *b, const ember_value *v, int is_time)
{
    char cell[64];
    if (is_time && v->type == EMBER_INT) {
        size_t n = text_iso8601_ms(v->u.i, cell, sizeof cell);
        return text_append(b, cell, n);
    }
    ember_record one = {1, (ember_value *)v};
    int rc = text_append_row(b, &one, '\t');
    if (!rc)
        b->len--; /* drop the row's newline */
    return rc;
}

static int ssink_write(sink *s, const ember_record *row, ember_err *err)
{
    stdout_sink *o = s->impl;
    if (o->format != ROWFMT_PLAIN) {
        int rc = o->header_done ? 0 : rowfmt_append_header(&o->buf, o->format, o->rows);
        o->header_done = 1;
        if (rc || rowfmt_append_row(&o->buf, o->format, o->rows, row))
            return ember_err_set(err, -ENOMEM, "out of memory");
        return 0;
    }
    if (o->written++ >= (uint64_t)o->max_rows)
        return 0;
    for (uint32_t i = 0; i < row->n; i++) {
        int is_time =
            o->window_col >= 0 && ((int)i == o->window_col || (int)i == o->window_col + 1);
        if ((i && text_append(&o->buf, "\t", 1)) || append_cell(&o->buf, &row->values[i], is_time))
            return ember_err_set(err, -ENOMEM, "out of memory");
    }
    if (text_append(&o->buf, "\n", 1))
        return ember_err_set(err, -ENOMEM, "out of memory");
    return 0;
}

/* Column widths: the widest of the header and the batch's cells (>= 8). */
static void column_widths(const stdout_sink *o, int *w)
{
    for (int i = 0; i < o->rows->n; i++) {
        int n = (int)strlen(o->rows->f[i].name);
        w[i] = n > 8 ? n : 8;
    }
    const char *p = o->buf.data, *end = p + o->buf.len;
    while (p && p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        int col = 0;
        for (const char *q = p; q < nl && col < o->rows->n; col++) {
            const char *tab = memchr(q, '\t', (size_t)(nl - q));
            const char *cell_end = tab ? tab : nl;
            if ((int)(cell_end - q) > w[col])
                w[col] = (int)(cell_end - q);
            q = tab ? tab + 1 : nl;
        }
        p = nl + 1;
    }
}

static void print_table(const stdout_sink *o)
{
    int w[SCHEMA_MAX_FIELDS];
    column_widths(o, w);
    printf("-------- batch %llu: %llu rows --------\n", (unsigned long long)o->batch,
           (unsigned long long)o->written);
    for (int i = 0; i < o->rows->n; i++)
        printf("%s%-*s", i ? "  " : "", i + 1 < o->rows->n ? w[i] : 0, o->rows->f[i].name);
    putchar('\n');
    const char *p = o->buf.data, *end = p + o->buf.len;
    while (p && p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        int col = 0;
        for (const char *q = p; q < nl; col++) {
            const char *tab = memchr(q, '\t', (size_t)(nl - q));
            const char *cell_end = tab ? tab : nl;
            int width = col + 1 < o->rows->n ? w[col < SCHEMA_MAX_FIELDS ? col : 0] : 0;
            printf("%s%-*.*s", col ? "  " : "", width, (int)(cell_end - q), q);
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
    stdout_sink *o = s->impl;
    if (o->format == ROWFMT_PLAIN)
        print_table(o);
    else if (o->buf.len && fwrite(o->buf.data, 1, o->buf.len, stdout) != o->buf.len)
        return ember_err_set(err, -EIO, "stdout: a short write");
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
    .doc = "a readable table per batch on stdout, or every row in format=; at-least-once",
    .options = stdout_options,
    .exactly_once = 0,
    .open = ssink_open,
    .recover = ssink_recover,
    .begin = ssink_begin,
    .write = ssink_write,
    .commit = ssink_commit,
    .close = ssink_close,
};
