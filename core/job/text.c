/*
 * text: the job's canonical text (DIR/JOB) and its state layout, one line
 * per API call. The text is a fixed point of the loader (quoted values,
 * comments), and the layout lines carry the types of the fields that reach
 * the state, so a change of them is found and named.
 */
#include "core/job/job.h"
#include "core/job/job_private.h"
#include "core/base/array.h"
#include "core/base/names.h"
#include "core/base/suggest.h"
#include "core/job/steps.h"
#include "core/ops/csv.h"
#include "core/ops/summary.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

/* ------------------------------------------------ canonical text, layout */

/* Appends line and a newline to *dst; on failure the job remembers it and
 * job_finish reports it (DIR/JOB must hold every line). */
static void str_append(ember_job *job, char **dst, const char *line)
{
    size_t old = *dst ? strlen(*dst) : 0, n = strlen(line);
    char *p = realloc(*dst, old + n + 2);
    if (!p) {
        job->text_lost = 1;
        return;
    }
    memcpy(p + old, line, n);
    p[old + n] = '\n';
    p[old + n + 1] = '\0';
    *dst = p;
}

static void append_vf(ember_job *job, int to_text, int to_layout, const char *fmt, va_list ap)
{
    char *line = NULL;
    job = job->root ? job->root : job; /* a graph's nodes write the job's text */
    if (vasprintf(&line, fmt, ap) < 0) {
        job->text_lost = 1;
        return;
    }
    if (to_text)
        str_append(job, &job->text, line);
    if (to_layout)
        str_append(job, &job->layout, line);
    free(line);
}

void job_text_append(ember_job *job, int layout_line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    append_vf(job, 1, layout_line, fmt, ap);
    va_end(ap);
}

void job_layout_append(ember_job *job, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    append_vf(job, 0, 1, fmt, ap);
    va_end(ap);
}

/* A growing string; a failed allocation only sets oom. */
typedef struct jbuf {
    char *p;
    size_t len, cap;
    int oom;
} jbuf;

static void jbuf_add(jbuf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (em_array_reserve(&b->p, &b->cap, b->len + n + 1, 1)) {
        b->oom = 1;
        return;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void jbuf_str(jbuf *b, const char *s)
{
    jbuf_add(b, s, strlen(s));
}

/* Ends b as one line of the text (to_text) and/or of the layout. */
static void jbuf_emit(ember_job *job, jbuf *b, int to_text, int to_layout)
{
    job = job->root ? job->root : job;
    if (b->oom || !b->p)
        job->text_lost = 1;
    else {
        if (to_text)
            str_append(job, &job->text, b->p);
        if (to_layout)
            str_append(job, &job->layout, b->p);
    }
    free(b->p);
    *b = (jbuf){0};
}

/* How the loader reads a value back (jobfile.c): bare up to a blank or a
 * '#', or "quoted" up to the next '"'. */
static int value_needs_quotes(const char *v)
{
    return !*v || *v == '"' || strpbrk(v, " \t\r#") != NULL;
}

/* A value the job file can hold: no line break, and no '"' in one that
 * needs quotes. Only the C API can pass others; the loader never makes one. */
int job_opts_storable(const ember_opt *opts, size_t n, ember_err *err)
{
    for (size_t i = 0; i < n; i++) {
        const char *v = opts[i].value ? opts[i].value : "";
        if (strchr(v, '\n'))
            return ember_err_set_col(err, -EMBER_EUSAGE, (int)i + 1,
                                     "option '%s': a value cannot hold a line break", opts[i].key);
        if (value_needs_quotes(v) && strchr(v, '"'))
            return ember_err_set_col(err, -EMBER_EUSAGE, (int)i + 1,
                                     "option '%s': a value with a '\"' cannot also start with "
                                     "one or hold blanks or '#' (a job file could not hold it)",
                                     opts[i].key);
    }
    return 0;
}

/* " k=v k=\"v w\"": the options as the loader reads them back. */
static void jbuf_opts(jbuf *b, const ember_opt *opts, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const char *v = opts[i].value ? opts[i].value : "";
        int q = value_needs_quotes(v);
        jbuf_str(b, " ");
        jbuf_str(b, opts[i].key);
        jbuf_str(b, q ? "=\"" : "=");
        jbuf_str(b, v);
        if (q)
            jbuf_str(b, "\"");
    }
}

void job_text_append_opts(ember_job *job, const char *step, const char *arg, const ember_opt *opts,
                          size_t n)
{
    jbuf b = {0};
    jbuf_str(&b, step);
    jbuf_str(&b, arg ? arg : "");
    jbuf_opts(&b, opts, n);
    jbuf_emit(job, &b, 1, 0);
}

uint64_t job_layout_hash(const ember_job *job)
{
    const char *l = job->layout ? job->layout : "";
    return XXH64(l, strlen(l), 0);
}

/* "name:type" of a record field that reaches the state. */
static void jbuf_field(jbuf *b, const schema *s, int idx)
{
    jbuf_str(b, s->f[idx].name);
    jbuf_str(b, ":");
    jbuf_str(b, ember_type_name(s->f[idx].type));
}

/* The layout's key line: the key fields with their types (the state key is
 * made of their values). */
void job_layout_key(ember_job *job)
{
    jbuf b = {0};
    jbuf_str(&b, "key ");
    for (int i = 0; i < job->n_keys; i++) {
        if (i)
            jbuf_str(&b, ",");
        jbuf_field(&b, &job->current, job->key_fields[i]);
    }
    jbuf_emit(job, &b, 0, 1);
}

static const char *agg_fn_text(agg_fn fn)
{
    switch (fn) {
    case AGG_COUNT:
        return "count";
    case AGG_SUM:
        return "sum";
    case AGG_MIN:
        return "min";
    case AGG_MAX:
        return "max";
    case AGG_AVG:
        return "avg";
    case AGG_WAVG:
        return "wavg";
    case AGG_TOPK:
        return "topk";
    default:
        return "count_distinct";
    }
}

/* The layout's aggregate line, from the parsed aggregates (not the text, so
 * blanks and case do not count) with the type of every field they fold:
 * "aggregate count() sum(ts:int) wavg(price:float, qty:int) topk(tag:string, 5)". */
void job_layout_aggregate(ember_job *job)
{
    jbuf b = {0};
    char k[16];
    jbuf_str(&b, "aggregate");
    for (int i = 0; i < job->n_aggs; i++) {
        const agg_spec *a = &job->aggs[i];
        jbuf_str(&b, " ");
        jbuf_str(&b, agg_fn_text(a->fn));
        jbuf_str(&b, "(");
        if (a->field >= 0)
            jbuf_field(&b, &job->current, a->field);
        if (a->fn == AGG_WAVG) {
            jbuf_str(&b, ", ");
            jbuf_field(&b, &job->current, a->field2);
        } else if (a->fn == AGG_HLL) {
            jbuf_str(&b, ", approx");
        } else if (a->fn == AGG_TOPK) {
            snprintf(k, sizeof k, ", %d", a->k);
            jbuf_str(&b, k);
        }
        jbuf_str(&b, ")");
        if (a->filter_text) { /* only then: unfiltered layouts stay as they were */
            jbuf_str(&b, " filter (where ");
            jbuf_str(&b, a->filter_text);
            jbuf_str(&b, ")");
        }
    }
    jbuf_emit(job, &b, 0, 1);
}

/* The layout's top line (over records): K, the ranked field, the group
 * fields and every field of the rows kept, with their types (the stored
 * rows are of that shape). */
void job_layout_top(ember_job *job)
{
    jbuf b = {0};
    char k[32];
    snprintf(k, sizeof k, "top %d by ", job->top_k);
    jbuf_str(&b, k);
    jbuf_field(&b, &job->current, job->top_col);
    jbuf_str(&b, " per");
    for (int i = 0; i < job->n_top_per; i++) {
        jbuf_str(&b, i ? "," : " ");
        jbuf_field(&b, &job->current, job->top_per[i]);
    }
    jbuf_str(&b, " rows");
    for (int i = 0; i < job->current.n; i++) {
        jbuf_str(&b, i ? "," : " ");
        jbuf_field(&b, &job->current, i);
    }
    jbuf_emit(job, &b, 0, 1);
}

/* The fields that reach the state: the key's, and those the aggregates fold
 * (after every select and join; a window's time field is an int). */
typedef struct state_field {
    const char *name;
    ember_type type;
    const char *use; /* "the key" or the aggregate's column name */
} state_field;

static int state_fields(const ember_job *job, state_field *out, int cap)
{
    int n = 0;
    for (int i = 0; i < job->n_keys && n < cap; i++)
        out[n++] = (state_field){job->current.f[job->key_fields[i]].name,
                                 job->current.f[job->key_fields[i]].type, "the key"};
    for (int i = 0; i < job->n_aggs && n < cap; i++) {
        const agg_spec *a = &job->aggs[i];
        if (a->field >= 0 && a->field < job->current.n)
            out[n++] = (state_field){job->current.f[a->field].name, a->in_type, a->name};
        if (a->fn == AGG_WAVG && n < cap)
            out[n++] = (state_field){job->current.f[a->field2].name, a->in_type2, a->name};
    }
    return n;
}

static int node_type_change(const ember_job *old, const ember_job *now, char *msg, size_t cap)
{
    state_field a[JOB_MAX_KEYS + 2 * JOB_MAX_AGGS], b[JOB_MAX_KEYS + 2 * JOB_MAX_AGGS];
    int na = state_fields(old, a, (int)(sizeof a / sizeof a[0]));
    int nb = state_fields(now, b, (int)(sizeof b / sizeof b[0]));
    for (int j = 0; j < nb; j++)
        for (int i = 0; i < na; i++)
            if (strcmp(a[i].name, b[j].name) == 0 && a[i].type != b[j].type) {
                snprintf(msg, cap, "field '%s' was %s and is now %s (in %s)", b[j].name,
                         ember_type_name(a[i].type), ember_type_name(b[j].type), b[j].use);
                return 1;
            }
    return 0;
}


/* Node by node where both jobs have the node. */
int job_state_type_change(const ember_job *old, const ember_job *now, char *msg, size_t cap)
{
    int n = job_node_count(old) < job_node_count(now) ? job_node_count(old) : job_node_count(now);
    for (int i = 0; i < n; i++)
        if (node_type_change(job_node_at(old, i), job_node_at(now, i), msg, cap))
            return 1;
    return 0;
}
