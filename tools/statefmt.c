/*
 * statefmt: turns stored state (key bytes + accumulator encoding) back into
 * rows using the job spec kept in DIR/JOB, and prints them as an aligned
 * table, TSV (header line, then one row per key) or JSON (an array of
 * objects, key fields and aggregates by name).
 */
#include "checkpoint/ckdir.h"
#include "core/base/utf8.h"
#include "tools/statefmt.h"
#include "core/base/array.h"
#include "core/base/endian.h"
#include "tools/ckread.h"
#include "core/ops/text.h"
#include "core/engine/transform.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

ember_job *statefmt_load_job(const char *cmd, const char *dir)
{
    char path[4200];
    struct stat st;
    ember_job *job = NULL;
    ember_err err = {0};
    if (stat(dir, &st) != 0) {
        fprintf(stderr, "ember %s: %s: %s\n", cmd, dir, strerror(errno));
        return NULL;
    }
    snprintf(path, sizeof path, "%s/JOB", dir);
    if (stat(path, &st) != 0) {
        fprintf(stderr, "ember %s: %s is not an ember checkpoint directory (no JOB file%s)\n",
                cmd, dir, errno == EACCES ? ": permission denied" : "");
        return NULL;
    }
    if (ckdir_load_job(dir, &job, &err)) { /* checked: a damaged JOB is named */
        fprintf(stderr, "ember %s: %s\n", cmd, err.msg);
        return NULL;
    }
    return job;
}

int statefmt_open(const char *cmd, const char *dir, uint64_t snapshot, store **st)
{
    char db[4300];
    struct stat sb;
    ember_err err = {0};
    if (snapshot)
        snprintf(db, sizeof db, "%s/snapshots/%020" PRIu64 "/db", dir, snapshot);
    else
        snprintf(db, sizeof db, "%s/db", dir);
    if (stat(db, &sb) != 0) {
        if (snapshot)
            fprintf(stderr, "ember %s: %s: no snapshot %" PRIu64 "\n", cmd, dir, snapshot);
        else
            fprintf(stderr, "ember %s: %s has no live state (db/ missing)\n", cmd, dir);
        return 1;
    }
    if (ck_open(dir, snapshot, st, &err)) { /* the live state is judged, not just opened */
        fprintf(stderr, "ember %s: %s\n", cmd, err.msg);
        return 1;
    }
    return 0;
}

void statefmt_json_string(FILE *out, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + n;
    fputc('"', out);
    while (p < end) {
        unsigned char c = *p;
        size_t len = c >= 0x80 ? em_utf8_len(p, end) : 1;
        if (c == '"' || c == '\\')
            fprintf(out, "\\%c", c);
        else if (c < 0x20 || c == 0x7f)
            fprintf(out, "\\u%04x", c);
        else if (!len) /* not UTF-8 (a damaged file, a binary key): JSON is UTF-8 text */
            fputs("\\ufffd", out);
        else
            fwrite(p, 1, len, out);
        p += len ? len : 1;
    }
    fputc('"', out);
}

void statefmt_header(FILE *out, const ember_job *job, state_format f)
{
    const schema *s = &job->output;
    if (f == FMT_JSON) {
        fputs("[", out);
        return;
    }
    for (int i = 0; i < s->n; i++)
        fprintf(out, f == FMT_TSV ? "%s%s" : "%s%-16s", i ? (f == FMT_TSV ? "\t" : " ") : "",
                s->f[i].name);
    fputc('\n', out);
}

static void json_value(FILE *out, const ember_value *v)
{
    char buf[64];
    if (v->type == EMBER_STRING)
        statefmt_json_string(out, v->u.s.ptr, v->u.s.len);
    else if (v->type == EMBER_NULL)
        fputs("null", out);
    else {
        value_format(v, buf, sizeof buf);
        fputs(buf, out);
    }
}

void statefmt_row(FILE *out, const ember_job *job, const ember_record *row, state_format f,
                  int first)
{
    char buf[4200];
    if (f == FMT_JSON) {
        fputs(first ? "\n  {" : ",\n  {", out);
        for (uint32_t i = 0; i < row->n; i++) {
            fprintf(out, "%s\"%s\": ", i ? ", " : "", job->output.f[i].name);
            json_value(out, &row->values[i]);
        }
        fputc('}', out);
        return;
    }
    for (uint32_t i = 0; i < row->n; i++) {
        value_format(&row->values[i], buf, sizeof buf);
        fprintf(out, f == FMT_TSV ? "%s%s" : "%s%-16s", i ? (f == FMT_TSV ? "\t" : " ") : "",
                buf);
    }
    fputc('\n', out);
}

void statefmt_footer(FILE *out, state_format f)
{
    if (f == FMT_JSON)
        fputs("\n]\n", out);
}

int statefmt_parse_format(const char *text, state_format *f)
{
    if (!text)
        return -1;
    if (!strcmp(text, "table"))
        *f = FMT_TABLE;
    else if (!strcmp(text, "tsv"))
        *f = FMT_TSV;
    else if (!strcmp(text, "json"))
        *f = FMT_JSON;
    else
        return -1;
    return 0;
}

cell_kind statefmt_cell(const ember_job *job, const ember_record *row, int i, state_format f,
                        char *buf, size_t cap)
{
    const ember_value *v = &row->values[i];
    int is_bound = job->window.kind != WIN_NONE && (i == job->n_keys || i == job->n_keys + 1);
    if (f == FMT_TABLE && is_bound && v->type == EMBER_INT) {
        text_iso8601_ms(v->u.i, buf, cap);
        return CELL_STR;
    }
    value_format(v, buf, cap);
    return v->type == EMBER_STRING ? CELL_STR : v->type == EMBER_NULL ? CELL_NULL : CELL_NUM;
}

/* ---------------------------------------------------------------- emitter */

void emit_begin(emitter *e, FILE *out, state_format f, const char *const *names, int n, int lazy)
{
    memset(e, 0, sizeof *e);
    e->out = out;
    e->fmt = f;
    e->n = n > SCHEMA_MAX_FIELDS ? SCHEMA_MAX_FIELDS : n;
    e->lazy = lazy;
    for (int i = 0; i < e->n; i++) {
        e->names[i] = names[i];
        e->width[i] = (int)strlen(names[i]);
    }
}

static void print_cells(emitter *e, char *const *cells)
{
    for (int i = 0; i < e->n; i++) {
        if (i + 1 < e->n)
            fprintf(e->out, "%-*s  ", e->width[i], cells[i]);
        else
            fprintf(e->out, "%s\n", cells[i]);
    }
}

/* Header and held rows out; from now on rows print as they come. */
static void flush_table(emitter *e)
{
    char *cells[SCHEMA_MAX_FIELDS];
    print_cells(e, (char *const *)e->names);
    const char *p = e->held;
    for (size_t r = 0; r < e->held_rows; r++) {
        for (int i = 0; i < e->n; i++) {
            cells[i] = (char *)p;
            p += strlen(p) + 1;
        }
        print_cells(e, cells);
    }
    free(e->held);
    e->held = NULL;
    e->held_len = e->held_cap = e->held_rows = 0;
    e->started = 2;
}

static void start(emitter *e)
{
    if (e->started)
        return;
    e->started = 1;
    if (e->fmt == FMT_JSON)
        fputs("[", e->out);
    else if (e->fmt == FMT_TSV)
        for (int i = 0; i < e->n; i++)
            fprintf(e->out, "%s%s", e->names[i], i + 1 < e->n ? "\t" : "\n");
}

/* Keeps a table row for measuring; prints at once when memory is short. */
static void hold(emitter *e, char *const *cells)
{
    size_t need = 0;
    for (int i = 0; i < e->n; i++)
        need += strlen(cells[i]) + 1;
    if (em_array_reserve(&e->held, &e->held_cap, e->held_len + need, 1)) {
        flush_table(e);
        print_cells(e, cells);
        return;
    }
    for (int i = 0; i < e->n; i++) {
        size_t k = strlen(cells[i]) + 1;
        memcpy(e->held + e->held_len, cells[i], k);
        e->held_len += k;
    }
    if (++e->held_rows == EMIT_MEASURE_ROWS)
        flush_table(e);
}

void emit_row(emitter *e, char *const *cells, const cell_kind *kinds)
{
    start(e);
    if (e->fmt == FMT_JSON) {
        fputs(e->rows ? ",\n  {" : "\n  {", e->out);
        for (int i = 0; i < e->n; i++) {
            fprintf(e->out, "%s\"%s\": ", i ? ", " : "", e->names[i]);
            if (kinds[i] == CELL_STR)
                statefmt_json_string(e->out, cells[i], strlen(cells[i]));
            else
                fputs(kinds[i] == CELL_NULL ? "null" : cells[i], e->out);
        }
        fputc('}', e->out);
    } else if (e->fmt == FMT_TSV) {
        for (int i = 0; i < e->n; i++)
            fprintf(e->out, "%s%s", cells[i], i + 1 < e->n ? "\t" : "\n");
    } else {
        for (int i = 0; i < e->n; i++) {
            int w = (int)strlen(cells[i]);
            if (e->started == 1 && w > e->width[i])
                e->width[i] = w;
        }
        if (e->started == 1)
            hold(e, cells);
        else
            print_cells(e, cells);
    }
    e->rows++;
}

void emit_end(emitter *e)
{
    if (!e->rows && e->lazy)
        return;
    start(e);
    if (e->fmt == FMT_JSON)
        fputs(e->rows ? "\n]\n" : "]\n", e->out);
    else if (e->fmt == FMT_TABLE && e->started == 1)
        flush_table(e);
    free(e->held);
    e->held = NULL;
}
