/*
 * job: the public API that builds a pipeline (include/ember.h). Each call
 * validates its options against the plugin's or step's option table, checks
 * that steps come in pipeline order, and records one canonical job-file line.
 */
#include "core/job/job.h"
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

static const opt_def batch_options[] = {
    {"interval", OPT_DURATION, "1s", NULL, "time between batch starts"},
    {"max-records", OPT_INT, "1000000", NULL, "most records one batch takes (a hard cap)"},
    {"backpressure", OPT_ENUM, "off", "on|off",
     "size each new batch to what the job processes in one interval (a PID rate estimator, "
     "as Spark's spark.streaming.backpressure.enabled, off by default as there)"},
    {"min-rate", OPT_INT, "100", NULL,
     "backpressure: the rate bound never drops below this, records/s"},
    {"initial-rate", OPT_INT, "0", NULL,
     "backpressure: records/s of the batches planned before the first estimate "
     "(0 = max-records)"},
    {0},
};

static const opt_def checkpoint_options[] = {
    {"dir", OPT_STR, "", NULL, "checkpoint directory (default ./ckpt/<job>)"},
    {"every", OPT_INT, "20", NULL, "snapshot every N batches (0 = never)"},
    {"keep", OPT_INT, "3", NULL, "snapshots to keep"},
    {"cache", OPT_SIZE, "256MB", NULL, "bound of the hot-key state cache"},
    {"wal-segment", OPT_SIZE, "64MB", NULL, "WAL segment size before rotation"},
    {"on-data-loss", OPT_ENUM, "fail", "fail|skip", "planned input gone at recovery"},
    {0},
};

static const opt_def parse_options[] = {
    {"fields", OPT_STR, NULL, NULL, "name[:int|:float|:string],... in column order"},
    {"on-error", OPT_ENUM, "fail", "fail|skip|dead-letter:", "bad record: stop, count, or "
                                                             "append to dead-letter:PATH"},
    {"quote", OPT_ENUM, "", "on|off",
     "a field starting with \" is quoted (\"a,b\", \"\" for a quote): default on for csv, "
     "off for tsv"},
    {0},
};

const opt_def *job_batch_options(void) { return batch_options; }
const opt_def *job_checkpoint_options(void) { return checkpoint_options; }
const opt_def *job_parse_options(void) { return parse_options; }

/* The name as the job line reads it back: up to a line break or a comment,
 * at most 127 bytes, no blanks at either end. */
static void job_set_name(ember_job *job, const char *name)
{
    char line[sizeof job->name];
    const char *p = name ? name : "";
    while (*p == ' ' || *p == '\t')
        p++;
    size_t n = strcspn(p, "\n");
    if (n >= sizeof job->name)
        n = sizeof job->name - 1;
    memcpy(line, p, n);
    line[n] = '\0';
    n = job_text_comment_at(line);
    p = line;
    while (n && (p[n - 1] == ' ' || p[n - 1] == '\t' || p[n - 1] == '\r'))
        n--;
    if (!n)
        p = "job", n = 3;
    memcpy(job->name, p, n);
    job->name[n] = '\0';
}

ember_job *ember_job_new(const char *name)
{
    ember_job *job = calloc(1, sizeof *job);
    if (!job)
        return NULL;
    job_set_name(job, name);
    job->interval_ms = 1000;
    job->max_records = 1000000;
    job->min_rate = 100;
    job->snapshot_every = 20;
    job->snapshot_keep = 3;
    job->cache_bytes = 256ll << 20;
    job->wal_segment_bytes = 64ll << 20;
    job->delim = ',';
    job->dedupe_step = -1;
    job_text_append(job, 0, "job       %s", job->name);
    return job;
}

static void free_steps(ember_job *job)
{
    for (int i = 0; i < job->n_steps; i++) {
        expr_free(job->steps[i].filter);
        select_free(job->steps[i].select);
        free(job->steps[i].table_path);
        free(job->steps[i].table_key);
    }
}

void ember_job_free(ember_job *job)
{
    if (!job)
        return;
    free_steps(job);
    opts_free(&job->source_opts);
    opts_free(&job->sink_opts);
    free(job->ckpt_dir);
    free(job->dead_letter_path);
    free(job->window.late_path);
    expr_free(job->having);
    free(job->text);
    free(job->layout);
    free(job);
}

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
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
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
static void layout_key(ember_job *job)
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
static void layout_aggregate(ember_job *job)
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

int job_state_type_change(const ember_job *old, const ember_job *now, char *msg, size_t cap)
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

static const char *stage_name(job_stage s)
{
    static const char *const names[] = {"job", "source", "parse", "filter/select", "key",
                                        "ttl", "window", "aggregate", "having", "top",
                                        "sink"};
    return names[s];
}

/* Steps must follow the pipeline order; `stage` is where this call belongs. */
static int enter_stage(ember_job *job, job_stage stage, int repeatable, ember_err *err)
{
    if (job->stage > stage || (job->stage == stage && !repeatable))
        return ember_err_set(err, -EMBER_EUSAGE, "'%s' cannot come after '%s'",
                             stage_name(stage), stage_name(job->stage));
    if (stage >= STAGE_PARSE && !job->source)
        return ember_err_set(err, -EMBER_EUSAGE, "'%s' needs a 'source' before it",
                             stage_name(stage));
    job->stage = stage;
    return 0;
}

int ember_job_batch(ember_job *job, const ember_opt *opts, size_t n, ember_err *err)
{
    opt_set set = {0};
    int rc = job_opts_storable(opts, n, err);
    if (rc || (rc = opts_bind(batch_options, opts, n, &set, err)))
        return rc;
    job->interval_ms = opts_int(&set, "interval");
    job->max_records = opts_int(&set, "max-records");
    job->backpressure = strcmp(opts_str(&set, "backpressure"), "on") == 0;
    job->min_rate = opts_int(&set, "min-rate");
    job->initial_rate = opts_int(&set, "initial-rate");
    opts_free(&set);
    if (job->max_records <= 0)
        return ember_err_set(err, -EMBER_EUSAGE, "max-records must be at least 1");
    job_text_append_opts(job, "batch     ", NULL, opts, n);
    return 0;
}

int ember_job_checkpoint(ember_job *job, const ember_opt *opts, size_t n, ember_err *err)
{
    opt_set set = {0};
    int rc = job_opts_storable(opts, n, err);
    if (rc || (rc = opts_bind(checkpoint_options, opts, n, &set, err)))
        return rc;
    free(job->ckpt_dir);
    job->ckpt_dir = opts_str(&set, "dir")[0] ? strdup(opts_str(&set, "dir")) : NULL;
    job->snapshot_every = opts_int(&set, "every");
    job->snapshot_keep = opts_int(&set, "keep");
    job->cache_bytes = opts_int(&set, "cache");
    job->wal_segment_bytes = opts_int(&set, "wal-segment");
    job->on_data_loss_skip = strcmp(opts_str(&set, "on-data-loss"), "skip") == 0;
    opts_free(&set);
    if (job->snapshot_keep < 1)
        return ember_err_set(err, -EMBER_EUSAGE, "keep must be at least 1");
    job_text_append_opts(job, "checkpoint", NULL, opts, n);
    return 0;
}

/* "unknown source 'fil'; did you mean 'file'? (expected generator, file,
 * ...)": names are the registry's kinds or a table's names. */
static int unknown_name(ember_err *err, const char *what, const char *word,
                        const char *const *names, size_t n)
{
    char list[256], note[96];
    em_names_join(names, n, list, sizeof list);
    return ember_err_set(err, -EMBER_EUSAGE, "unknown %s '%s'%s (expected %s)", what, word,
                         em_suggest_note(em_suggest(word, strlen(word), names, n), note,
                                         sizeof note),
                         list);
}

/* The kinds of a registry (kind is each entry's first member). */
static size_t registry_names(const void *const *registry, const char **names, size_t cap)
{
    size_t n = 0;
    for (; registry[n] && n < cap; n++)
        names[n] = *(const char *const *)registry[n];
    return n;
}

/* Whether a source option is part of the state layout: its definition says
 * (OPT_RESTARTABLE options may change across restarts). */
static int source_option_in_layout(const source_ops *src, const char *key)
{
    const opt_def *d = opts_find_def(src->options, key);
    return !d || !(d->flags & OPT_RESTARTABLE);
}

int ember_job_source(ember_job *job, const char *kind, const ember_opt *opts, size_t n,
                     ember_err *err)
{
    char layout[1024] = "";
    size_t used = 0;
    int rc = job_opts_storable(opts, n, err);
    if (rc || (rc = enter_stage(job, STAGE_SOURCE, 0, err)))
        return rc;
    job->source = source_find(kind);
    if (!job->source) {
        const char *names[64];
        size_t k = registry_names((const void *const *)source_registry, names, 64);
        return unknown_name(err, "source", kind, names, k);
    }
    rc = opts_bind(job->source->options, opts, n, &job->source_opts, err);
    if (rc) {
        job->source = NULL;
        return rc;
    }
    job_text_append_opts(job, "source    ", kind, opts, n);
    for (size_t i = 0; i < n && used < sizeof layout; i++)
        if (source_option_in_layout(job->source, opts[i].key))
            used += (size_t)snprintf(layout + used, sizeof layout - used, " %s=%s",
                                     opts[i].key, opts[i].value);
    job_layout_append(job, "source %s%s", kind, layout);
    return 0;
}

static int set_on_error(ember_job *job, const char *v)
{
    if (strcmp(v, "fail") == 0)
        job->on_error = ON_ERROR_FAIL;
    else if (strcmp(v, "skip") == 0)
        job->on_error = ON_ERROR_SKIP;
    else {
        job->on_error = ON_ERROR_DEAD_LETTER;
        job->dead_letter_path = strdup(v + strlen("dead-letter:"));
        if (!job->dead_letter_path)
            return -ENOMEM;
    }
    return 0;
}

int ember_job_parse(ember_job *job, const char *format, const ember_opt *opts, size_t n,
                    ember_err *err)
{
    opt_set set = {0};
    int rc = job_opts_storable(opts, n, err);
    if (rc || (rc = enter_stage(job, STAGE_PARSE, 0, err)))
        return rc;
    const parse_format *pf = parse_format_find(format);
    if (!pf) {
        const char *names[16];
        size_t k = 0;
        for (; parse_formats[k].name && k < 16; k++)
            names[k] = parse_formats[k].name;
        return unknown_name(err, "format", format, names, k);
    }
    rc = opts_bind(parse_options, opts, n, &set, err);
    if (rc)
        return rc;
    job->format = pf;
    job->delim = pf->delim;
    /* TSV has no quoting unless asked for: a '"' in text is just a byte */
    const char *quote = opts_str(&set, "quote");
    if (quote[0] ? strcmp(quote, "off") == 0 : pf->delim == '\t')
        job->delim |= CSV_NO_QUOTES;
    rc = schema_parse(&job->input, opts_str(&set, "fields"), err);
    if (rc) {
        for (size_t i = 0; i < n; i++)
            if (strcmp(opts[i].key, "fields") == 0)
                err->col = -(int)(i + 1); /* loader: column inside option i's value */
        goto out;
    }
    rc = set_on_error(job, opts_str(&set, "on-error"));
    if (rc) {
        ember_err_set(err, rc, "out of memory");
        goto out;
    }
    job->has_parse = 1;
    job->current = job->input;
    job->max_width = job->input.n;
    job_text_append_opts(job, "parse     ", format, opts, n);
    job_layout_append(job, "parse %s fields=%s", format, opts_str(&set, "fields"));
out:
    opts_free(&set);
    return rc;
}

/* Records from a source with no parse step have one string field "line". */
static void ensure_schema(ember_job *job)
{
    if (job->has_parse || job->current.n > 0)
        return;
    job->current.n = 1;
    snprintf(job->current.f[0].name, sizeof job->current.f[0].name, "line");
    job->current.f[0].type = EMBER_STRING;
    job->input = job->current;
    job->max_width = 1;
}

static job_step *add_step(ember_job *job, step_kind kind, ember_err *err)
{
    if (enter_stage(job, STAGE_STEPS, 1, err))
        return NULL;
    if (job->n_steps == JOB_MAX_STEPS) {
        ember_err_set(err, -EMBER_EUSAGE, "more than %d filter/select steps", JOB_MAX_STEPS);
        return NULL;
    }
    ensure_schema(job);
    job_step *st = &job->steps[job->n_steps];
    memset(st, 0, sizeof *st);
    st->kind = kind;
    st->width = job->current.n;
    return st;
}

int ember_job_filter(ember_job *job, const char *text, ember_err *err)
{
    job_step *st = add_step(job, STEP_FILTER, err);
    if (!st)
        return err->code;
    int rc = expr_compile(text, &job->current, &st->filter, err);
    if (rc)
        return rc;
    if (expr_type(st->filter) != EMBER_BOOL) {
        ember_type t = expr_type(st->filter);
        expr_free(st->filter);
        st->filter = NULL;
        return ember_err_set_col(err, -EMBER_EUSAGE, 1,
                                 "filter must be a condition (a comparison, and/or/not), "
                                 "not a %s", ember_type_name(t));
    }
    job->n_steps++;
    job_text_append(job, 0, "filter    %s", text);
    return 0;
}

int ember_job_filter_fn(ember_job *job, ember_filter_fn fn, void *user, ember_err *err)
{
    job_step *st = add_step(job, STEP_FILTER_FN, err);
    if (!st)
        return err->code;
    st->filter_fn = fn;
    st->user = user;
    job->n_steps++;
    job_text_append(job, 0, "# filter: C callback");
    return 0;
}

int ember_job_select(ember_job *job, const char *text, ember_err *err)
{
    job_step *st = add_step(job, STEP_SELECT, err);
    if (!st)
        return err->code;
    int rc = select_compile(text, &job->current, &st->select, err);
    if (rc)
        return rc;
    job->current = st->select->out;
    st->width = job->current.n;
    if (job->current.n > job->max_width)
        job->max_width = job->current.n;
    job->n_steps++;
    job_text_append(job, 0, "select    %s", text);
    return 0;
}

static const opt_def join_options[] = {
    {"path", OPT_STR, NULL, NULL, "CSV file with a header line"},
    {"key", OPT_STR, NULL, NULL, "record field matched against the table column of that name"},
    {"fields", OPT_STR, NULL, NULL, "table columns appended, name[:int|:float|:string],..."},
    {"on-miss", OPT_ENUM, "drop", "drop|keep", "no row for the key: drop the record, or keep "
                                              "it with NULL fields"},
    {0},
};


/* The record schema after the join: the current fields, then the table's. */
static int join_schema(ember_job *job, job_step *st, const schema *fields, ember_err *err)
{
    for (int j = 0; j < fields->n; j++) {
        if (schema_find(&job->current, fields->f[j].name, strlen(fields->f[j].name)) >= 0)
            return ember_err_set(err, -EMBER_EUSAGE, "join field '%s' is already a field of "
                                 "the record", fields->f[j].name);
        if (job->current.n == SCHEMA_MAX_FIELDS)
            return ember_err_set(err, -EMBER_EUSAGE, "too many fields after the join");
        job->current.f[job->current.n++] = fields->f[j];
    }
    st->width = job->current.n;
    if (job->current.n > job->max_width)
        job->max_width = job->current.n;
    return 0;
}

int ember_job_join(ember_job *job, const char *kind, const ember_opt *opts, size_t n,
                   ember_err *err)
{
    opt_set set = {0};
    schema fields;
    char note[96];
    int rc = job_opts_storable(opts, n, err);
    if (rc)
        return rc;
    job_step *st = add_step(job, STEP_JOIN, err);
    if (!st)
        return err->code;
    if (strcmp(kind, "table") != 0)
        return ember_err_set(err, -EMBER_EUSAGE, "unknown join '%s'%s (expected table)", kind,
                             em_suggest_note(em_suggest(kind, strlen(kind),
                                                        (const char *const[]){"table"}, 1),
                                             note, sizeof note));
    if ((rc = opts_bind(join_options, opts, n, &set, err)))
        return rc;
    const char *key = opts_str(&set, "key");
    st->join_key = schema_find(&job->current, key, strlen(key));
    if (st->join_key < 0)
        rc = ember_err_set(err, -EMBER_EUSAGE, "join key '%s' is not a field of the record%s", key,
                           schema_suggest_note(&job->current, key, strlen(key), note, sizeof note));
    else if (job->current.f[st->join_key].type == EMBER_FLOAT)
        rc = ember_err_set(err, -EMBER_EUSAGE, "join key '%s' is a float; join on a string or "
                           "an int", key);
    else if (!(rc = schema_parse(&fields, opts_str(&set, "fields"), err)))
        rc = join_schema(job, st, &fields, err);
    if (!rc) {
        st->table_path = strdup(opts_str(&set, "path"));
        st->table_key = strdup(key);
        st->table_fields = fields;
        if (!st->table_path || !st->table_key)
            rc = ember_err_set(err, -ENOMEM, "out of memory");
    }
    if (!rc) {
        st->join_fields = fields.n;
        st->join_keep = strcmp(opts_str(&set, "on-miss"), "keep") == 0;
        job->n_steps++;
        job_text_append_opts(job, "join      table", NULL, opts, n);
    }
    opts_free(&set);
    return rc;
}

int ember_job_dedupe(ember_job *job, const char *text, ember_err *err)
{
    char field[64], within[16], horizon[32];
    int used = 0, rc;
    if (job->dedupe_step >= 0)
        return ember_err_set(err, -EMBER_EUSAGE, "a job can have one 'dedupe' step");
    job_step *st = add_step(job, STEP_DEDUPE, err);
    if (!st)
        return err->code;
    if (sscanf(text, " %63[A-Za-z0-9_] %15s %31s %n", field, within, horizon, &used) != 3 ||
        strcmp(within, "within") != 0 || text[used])
        return ember_err_set_col(err, -EMBER_EUSAGE, 1, "expected 'FIELD within DURATION'");
    char note[96];
    st->dedupe_field = schema_find(&job->current, field, strlen(field));
    if (st->dedupe_field < 0)
        return ember_err_set_col(err, -EMBER_EUSAGE, 1, "unknown field '%s'%s", field,
                                 schema_suggest_note(&job->current, field, strlen(field), note,
                                            sizeof note));
    rc = opts_parse_value(OPT_DURATION, horizon, &st->dedupe_ms);
    if (rc || st->dedupe_ms <= 0)
        return ember_err_set_col(err, -EMBER_EUSAGE, (int)(strstr(text, horizon) - text) + 1,
                                 rc == -EDOM
                                     ? "'%s' needs a unit, like %sms, %ss or %sm"
                                     : "'%s' is not a positive duration like 10m%.0s%.0s%.0s",
                                 horizon, horizon, horizon, horizon);
    job->dedupe_step = job->n_steps++;
    job_text_append(job, 0, "dedupe    %s", text);
    return 0;
}

int ember_job_map_fn(ember_job *job, ember_map_fn fn, void *user, ember_err *err)
{
    job_step *st = add_step(job, STEP_MAP_FN, err);
    if (!st)
        return err->code;
    st->map_fn = fn;
    st->user = user;
    job->n_steps++;
    job_text_append(job, 0, "# map: C callback");
    return 0;
}

/* '.' for nested fields (a.b) */
static int is_ident(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '.';
}

static const char *skip_sep(const char *p)
{
    while (*p == ' ' || *p == '\t' || *p == ',')
        p++;
    return p;
}

static int add_key_field(ember_job *job, const char *name, size_t len, int col, ember_err *err)
{
    int idx = schema_find(&job->current, name, len);
    char note[96];
    if (idx < 0)
        return ember_err_set_col(err, -EMBER_EUSAGE, col, "unknown field '%.*s' in key%s",
                                 (int)len, name,
                                 schema_suggest_note(&job->current, name, len, note, sizeof note));
    if (job->n_keys == JOB_MAX_KEYS)
        return ember_err_set_col(err, -EMBER_EUSAGE, col, "more than %d key fields",
                                 JOB_MAX_KEYS);
    job->key_fields[job->n_keys++] = idx;
    return 0;
}

int ember_job_key(ember_job *job, const char *fields, ember_err *err)
{
    int rc = enter_stage(job, STAGE_KEY, 0, err);
    if (rc)
        return rc;
    ensure_schema(job);
    for (const char *p = skip_sep(fields); *p; p = skip_sep(p)) {
        const char *start = p;
        while (is_ident(*p))
            p++;
        if (p == start)
            return ember_err_set_col(err, -EMBER_EUSAGE, (int)(p - fields) + 1,
                                     "expected a field name");
        rc = add_key_field(job, start, (size_t)(p - start), (int)(start - fields) + 1, err);
        if (rc)
            return rc;
    }
    if (job->n_keys == 0)
        return ember_err_set_col(err, -EMBER_EUSAGE, 1, "expected at least one key field");
    job_text_append(job, 0, "key       %s", fields);
    layout_key(job);
    return 0;
}

static const struct {
    const char *name;
    agg_fn fn;
} agg_names[] = {
    {"count", AGG_COUNT}, {"sum", AGG_SUM},   {"min", AGG_MIN},
    {"max", AGG_MAX},     {"avg", AGG_AVG},   {"wavg", AGG_WAVG},
    {"count_distinct", AGG_SET}, {"topk", AGG_TOPK},
};

static int agg_lookup(const char *name, size_t len, agg_fn *fn)
{
    for (size_t i = 0; i < sizeof agg_names / sizeof agg_names[0]; i++)
        if (strlen(agg_names[i].name) == len && strncasecmp(agg_names[i].name, name, len) == 0)
            return (*fn = agg_names[i].fn), 0;
    return -1;
}

/* The second argument, if the function takes one: wavg's weight (checked
 * by the caller), count_distinct's "approx" (HyperLogLog instead of an
 * exact set), topk's K. end: the closing parenthesis. */
static int agg_second_arg(agg_spec *a, const char *list, const char *start, const char *field,
                          const char *arg, size_t alen, const char *end, ember_err *err)
{
    int fn_len = (int)(field - 1 - start);
    if (a->fn == AGG_WAVG && !alen)
        return ember_err_set_col(err, -EMBER_EUSAGE, (int)(end - list) + 1,
                                 "wavg needs a weight: wavg(x, w)");
    if (a->fn == AGG_TOPK && !alen)
        return ember_err_set_col(err, -EMBER_EUSAGE, (int)(end - list) + 1,
                                 "topk needs a count: topk(f, K)");
    if (arg && a->fn != AGG_WAVG && a->fn != AGG_SET && a->fn != AGG_TOPK)
        return ember_err_set_col(err, -EMBER_EUSAGE, (int)(arg - list) + 1,
                                 "%.*s() takes one field", fn_len, start);
    if (a->fn == AGG_SET && arg) {
        if (alen != 6 || strncmp(arg, "approx", 6) != 0)
            return ember_err_set_col(err, -EMBER_EUSAGE, (int)(arg - list) + 1,
                                     "expected 'approx' as count_distinct's second argument");
        a->fn = AGG_HLL;
    }
    if (a->fn == AGG_TOPK) {
        int k = 0;
        for (size_t i = 0; i < alen && k <= TOPK_MAX_K; i++)
            k = arg[i] >= '0' && arg[i] <= '9' ? k * 10 + (arg[i] - '0') : TOPK_MAX_K + 1;
        if (k < 1 || k > TOPK_MAX_K)
            return ember_err_set_col(err, -EMBER_EUSAGE, (int)(arg - list) + 1,
                                     "topk's K must be a number from 1 to %d, not '%.*s'",
                                     TOPK_MAX_K, (int)alen, arg);
        a->k = k;
    }
    return 0;
}

/* One "fn(field)" starting at *pp; advances *pp past it. */
static int parse_one_agg(ember_job *job, const char *list, const char **pp, ember_err *err)
{
    const char *p = *pp, *start = p;
    int rc;
    agg_spec *a = &job->aggs[job->n_aggs];
    char note[96];
    while (is_ident(*p))
        p++;
    if (agg_lookup(start, (size_t)(p - start), &a->fn)) {
        const char *names[sizeof agg_names / sizeof agg_names[0]];
        for (size_t i = 0; i < sizeof agg_names / sizeof agg_names[0]; i++)
            names[i] = agg_names[i].name;
        return ember_err_set_col(
            err, -EMBER_EUSAGE, (int)(start - list) + 1,
            "unknown aggregate '%.*s'%s (expected count, sum, min, max, avg, wavg, "
            "count_distinct or topk)",
            (int)(p - start), start,
            em_suggest_note(em_suggest(start, (size_t)(p - start), names,
                                       sizeof names / sizeof names[0]),
                            note, sizeof note));
    }
    if (*p != '(')
        return ember_err_set_col(err, -EMBER_EUSAGE, (int)(p - list) + 1, "expected '('");
    const char *field = ++p;
    while (is_ident(*p))
        p++;
    size_t flen = (size_t)(p - field);
    const char *arg = NULL;
    size_t alen = 0;
    if (*p == ',') { /* wavg(x, w), count_distinct(f, approx), topk(f, K) */
        while (*++p == ' ')
            ;
        arg = p;
        while (is_ident(*p))
            p++;
        alen = (size_t)(p - arg);
    }
    if (*p != ')')
        return ember_err_set_col(err, -EMBER_EUSAGE, (int)(p - list) + 1, "expected ')'");
    *pp = p + 1;
    rc = agg_second_arg(a, list, start, field, arg, alen, p, err);
    if (rc)
        return rc;
    if (a->fn == AGG_WAVG) {
        a->field2 = schema_find(&job->current, arg, alen);
        if (a->field2 < 0)
            return ember_err_set_col(err, -EMBER_EUSAGE, (int)(arg - list) + 1,
                                     "unknown field '%.*s'%s", (int)alen, arg,
                                     schema_suggest_note(&job->current, arg, alen, note,
                                                         sizeof note));
        a->in_type2 = job->current.f[a->field2].type;
    }
    if (a->fn == AGG_COUNT) {
        if (flen)
            return ember_err_set_col(err, -EMBER_EUSAGE, (int)(field - list) + 1,
                                     "count() takes no field");
        a->field = -1;
        a->in_type = EMBER_NULL;
        snprintf(a->name, sizeof a->name, "count");
        return 0;
    }
    if (!flen)
        return ember_err_set_col(err, -EMBER_EUSAGE, (int)(field - list) + 1,
                                 "expected a field name");
    a->field = schema_find(&job->current, field, flen);
    if (a->field < 0)
        return ember_err_set_col(err, -EMBER_EUSAGE, (int)(field - list) + 1,
                                 "unknown field '%.*s'%s", (int)flen, field,
                                 schema_suggest_note(&job->current, field, flen, note,
                                                     sizeof note));
    a->in_type = job->current.f[a->field].type;
    int any_type = a->fn == AGG_HLL || a->fn == AGG_SET || a->fn == AGG_TOPK;
    if (!any_type && a->in_type != EMBER_INT && a->in_type != EMBER_FLOAT)
        return ember_err_set_col(err, -EMBER_EUSAGE, (int)(field - list) + 1,
                                 "%.*s() needs a number, '%.*s' is a %s", (int)(field - 1 - start),
                                 start, (int)flen, field, ember_type_name(a->in_type));
    snprintf(a->name, sizeof a->name, "%.*s_%.*s", (int)(field - 1 - start), start, (int)flen,
             field);
    return 0;
}

/* A session's first and last event time ride in two hidden aggregates,
 * min and max of the record's time, which transform puts in the pseudo-field
 * just past the record's fields; a TTL job keeps its keys' last update (the
 * batch time) the same way. Returns how many hidden aggregates. */
static int add_hidden_aggs(ember_job *job)
{
    if (job->ttl_ms) {
        agg_spec *a = &job->aggs[job->n_aggs];
        *a = (agg_spec){.fn = AGG_MAX, .field = job->current.n, .in_type = EMBER_INT};
        snprintf(a->name, sizeof a->name, "last_update");
        return 1;
    }
    if (job->window.kind != WIN_SESSION)
        return 0;
    for (int i = 0; i < 2; i++) {
        agg_spec *a = &job->aggs[job->n_aggs + i];
        *a = (agg_spec){.fn = i ? AGG_MAX : AGG_MIN, .field = job->current.n,
                        .in_type = EMBER_INT};
        snprintf(a->name, sizeof a->name, "%s", i ? "session_last" : "session_first");
    }
    return 2;
}

int ember_job_ttl(ember_job *job, const char *duration, ember_err *err)
{
    int rc = enter_stage(job, STAGE_TTL, 0, err);
    if (rc)
        return rc;
    if (job->n_keys == 0)
        return ember_err_set(err, -EMBER_EUSAGE, "'ttl' needs a 'key' before it");
    rc = opts_parse_value(OPT_DURATION, duration, &job->ttl_ms);
    if (rc || job->ttl_ms <= 0)
        return ember_err_set_col(err, -EMBER_EUSAGE, 1,
                                 rc == -EDOM ? "'%s' needs a unit, like %sms, %ss or %sm"
                                             : "'%s' is not a positive duration like 30s, 10m or "
                                               "1h%.0s%.0s%.0s",
                                 duration, duration, duration, duration);
    /* DIR/JOB keeps the text as given (a bare number no longer loads); the
     * layout line stays in milliseconds, as checkpoints hash it */
    job_text_append(job, 0, "ttl       %s", duration);
    job_layout_append(job, "ttl       %lld", (long long)job->ttl_ms);
    return 0;
}

int ember_job_window(ember_job *job, const char *spec, ember_err *err)
{
    int rc = enter_stage(job, STAGE_WINDOW, 0, err);
    if (rc)
        return rc;
    if (job->ttl_ms)
        return ember_err_set(err, -EMBER_EUSAGE,
                             "'ttl' and 'window' exclude each other (closed windows are "
                             "deleted by the watermark)");
    if ((rc = window_parse(spec, &job->current, &job->window, err)))
        return rc;
    if (job->current.n >= job->max_width)
        job->max_width = job->current.n + 1; /* room for the time pseudo-field */
    job_text_append(job, 0, "window    %s", spec);
    char line[512];
    window_layout_text(&job->window, &job->current, line, sizeof line);
    job_layout_append(job, "%s", line);
    return 0;
}

int ember_job_having(ember_job *job, const char *text, ember_err *err)
{
    int rc = enter_stage(job, STAGE_HAVING, 0, err);
    if (rc)
        return rc;
    if (!job->n_aggs)
        return ember_err_set(err, -EMBER_EUSAGE, "'having' needs an 'aggregate' before it");
    if ((rc = expr_compile(text, &job->output, &job->having, err)))
        return rc;
    if (expr_type(job->having) != EMBER_BOOL) {
        expr_free(job->having);
        job->having = NULL;
        return ember_err_set_col(err, -EMBER_EUSAGE, 1, "'having' needs a true/false expression");
    }
    job_text_append(job, 0, "having    %s", text);
    return 0;
}

/* Rows of an aggregating job: the key fields, [window_start, window_end,]
 * then one column per aggregate. */
static void build_output_schema(ember_job *job)
{
    schema *o = &job->output;
    o->n = 0;
    for (int i = 0; i < job->n_keys; i++, o->n++) {
        o->f[o->n] = job->current.f[job->key_fields[i]];
        o->f[o->n].type = EMBER_STRING;
    }
    if (job->window.kind != WIN_NONE) {
        static const char *const cols[] = {"window_start", "window_end"};
        for (int i = 0; i < 2; i++, o->n++) {
            snprintf(o->f[o->n].name, sizeof o->f[o->n].name, "%s", cols[i]);
            o->f[o->n].type = EMBER_INT;
        }
    }
    for (int i = 0; i < job->n_aggs; i++, o->n++) {
        snprintf(o->f[o->n].name, sizeof o->f[o->n].name, "%s", job->aggs[i].name);
        o->f[o->n].type = acc_result_type(&job->aggs[i]);
    }
}

/* An optional "as NAME" after an aggregate: its output column's name. */
static int parse_alias(ember_job *job, const char *list, const char **pp, ember_err *err)
{
    const char *p = *pp;
    while (*p == ' ' || *p == '\t')
        p++;
    if (strncmp(p, "as", 2) != 0 || (p[2] != ' ' && p[2] != '\t'))
        return 0;
    p += 2;
    while (*p == ' ' || *p == '\t')
        p++;
    const char *name = p;
    while (is_ident(*p))
        p++;
    size_t n = (size_t)(p - name);
    if (!n || (*name >= '0' && *name <= '9'))
        return ember_err_set_col(err, -EMBER_EUSAGE, (int)(name - list) + 1,
                                 "expected a column name after 'as'");
    if (n >= sizeof job->aggs[0].name)
        return ember_err_set_col(err, -EMBER_EUSAGE, (int)(name - list) + 1,
                                 "column name longer than %zu bytes",
                                 sizeof job->aggs[0].name - 1);
    snprintf(job->aggs[job->n_aggs].name, sizeof job->aggs[0].name, "%.*s", (int)n, name);
    *pp = p;
    return 0;
}

/* Lays the aggregates out again (hidden ones after the user's) and the
 * output schema with them; after each aggregate or aggregate_fn line. */
static int layout_aggs(ember_job *job, ember_err *err)
{
    if (job->n_keys + job->n_aggs + 2 > SCHEMA_MAX_FIELDS)
        return ember_err_set(err, -EMBER_EUSAGE, "too many output columns");
    int rc = acc_layout_init(&job->acc, job->aggs, job->n_aggs + add_hidden_aggs(job), err);
    if (!rc)
        build_output_schema(job);
    return rc;
}

int ember_job_aggregate(ember_job *job, const char *list, ember_err *err)
{
    /* once, but after aggregate_fn lines (which share the stage) */
    int rc = enter_stage(job, STAGE_AGG, job->stage == STAGE_AGG && !job->agg_list, err);
    if (rc)
        return rc;
    /* without a key: one global group (the empty key) */
    int before = job->n_aggs;
    for (const char *p = skip_sep(list); *p; p = skip_sep(p)) {
        if (job->n_aggs == JOB_MAX_AGGS)
            return ember_err_set_col(err, -EMBER_EUSAGE, (int)(p - list) + 1,
                                     "more than %d aggregates", JOB_MAX_AGGS);
        job->aggs[job->n_aggs] = (agg_spec){0}; /* may hold a hidden one */
        rc = parse_one_agg(job, list, &p, err);
        if (!rc)
            rc = parse_alias(job, list, &p, err);
        if (rc)
            return rc;
        job->n_aggs++;
    }
    if (job->n_aggs == before)
        return ember_err_set_col(err, -EMBER_EUSAGE, 1, "expected an aggregate like count()");
    if ((rc = layout_aggs(job, err)))
        return rc;
    job->agg_list = 1;
    job_text_append(job, 0, "aggregate %s", list);
    layout_aggregate(job);
    return 0;
}

/* For aggregate_fn lines (aggregate_fn.c): pipeline order and a key. */
int job_begin_aggregate(ember_job *job, const char *what, ember_err *err)
{
    int rc = enter_stage(job, STAGE_AGG, 1, err);
    if (!rc && job->n_keys == 0)
        rc = ember_err_set(err, -EMBER_EUSAGE, "'%s' needs a 'key' before it", what);
    return rc;
}

int job_push_aggregate(ember_job *job, const agg_spec *a, ember_err *err)
{
    if (job->n_aggs == JOB_MAX_AGGS)
        return ember_err_set(err, -EMBER_EUSAGE, "more than %d aggregates", JOB_MAX_AGGS);
    job->aggs[job->n_aggs++] = *a;
    int rc = layout_aggs(job, err);
    if (rc) {
        ember_err ignored;
        job->n_aggs--;
        (void)layout_aggs(job, &ignored); /* back to the layout before */
    }
    return rc;
}

int ember_job_top(ember_job *job, const char *text, ember_err *err)
{
    char col[64];
    int k = 0, used = 0;
    int rc = enter_stage(job, STAGE_TOP, 0, err);
    if (rc)
        return rc;
    if (job->window.kind == WIN_NONE)
        return ember_err_set(err, -EMBER_EUSAGE, "'top' ranks the rows of each window: it "
                             "needs a 'window' before it");
    if (sscanf(text, " %d by %63[A-Za-z0-9_] %n", &k, col, &used) != 2 || text[used] || k < 1)
        return ember_err_set_col(err, -EMBER_EUSAGE, 1, "expected 'K by COLUMN' (K >= 1)");
    job->top_col = schema_find(&job->output, col, strlen(col));
    if (job->top_col < job->n_keys + 2) {
        char note[96];
        return ember_err_set_col(err, -EMBER_EUSAGE, (int)(strstr(text, col) - text) + 1,
                                 "'%s' is not an aggregate column of the output%s", col,
                                 schema_suggest_note(&job->output, col, strlen(col), note,
                                                     sizeof note));
    }
    job->top_k = k;
    job_text_append(job, 0, "top       %s", text);
    return 0;
}

int ember_job_sink(ember_job *job, const char *kind, const ember_opt *opts, size_t n,
                   ember_err *err)
{
    int rc = job_opts_storable(opts, n, err);
    if (rc || (rc = enter_stage(job, STAGE_SINK, 0, err)))
        return rc;
    job->sink = sink_find(kind);
    if (!job->sink) {
        const char *names[64];
        size_t k = registry_names((const void *const *)sink_registry, names, 64);
        return unknown_name(err, "sink", kind, names, k);
    }
    rc = opts_bind(job->sink->options, opts, n, &job->sink_opts, err);
    if (rc) {
        job->sink = NULL;
        return rc;
    }
    job_text_append_opts(job, "sink      ", kind, opts, n);
    return 0;
}

int job_finish(ember_job *job, ember_err *err)
{
    int rc = job_complete(job, err);
    return rc ? rc : job_aggregate_fns_defined(job, err);
}

int job_complete(ember_job *job, ember_err *err)
{
    if (job->text_lost)
        return ember_err_set(err, -ENOMEM, "out of memory recording the job's text");
    if (!job->source)
        return ember_err_set(err, -EMBER_EUSAGE, "job '%s' has no 'source'", job->name);
    ensure_schema(job);
    if (job->n_keys && !job->n_aggs)
        return ember_err_set(err, -EMBER_EUSAGE, "'key' needs an 'aggregate' after it");
    if (!job->n_aggs)
        job->output = job->current;
    if (!job->sink) {
        job->sink = sink_find("stdout");
        if (opts_bind(job->sink->options, NULL, 0, &job->sink_opts, err))
            return err->code;
    }
    if (!job->ckpt_dir) {
        char dir[512];
        snprintf(dir, sizeof dir, "ckpt/%s", job->name);
        job->ckpt_dir = strdup(dir);
        if (!job->ckpt_dir)
            return ember_err_set(err, -ENOMEM, "out of memory");
    }
    return 0;
}

/* "in.csv (relative to /home/me)", or the path itself when absolute. */
static void describe_path(const char *path, char *buf, size_t cap)
{
    char cwd[4096];
    if (path[0] == '/' || !getcwd(cwd, sizeof cwd))
        snprintf(buf, cap, "%s", path);
    else
        snprintf(buf, cap, "%s (relative to %s)", path, cwd);
}

static int check_readable(const char *what, const char *path, ember_err *err)
{
    char where[4400];
    struct stat sb;
    int e = access(path, R_OK) == 0 ? 0 : errno;
    if (!e && stat(path, &sb) == 0 && S_ISDIR(sb.st_mode))
        e = EISDIR;
    if (!e)
        return 0;
    describe_path(path, where, sizeof where);
    return ember_err_set(err, -e, "%s %s: %s", what, where, strerror(e));
}

/* A file the job appends to is created, its directory is not. */
static int check_parent(const char *what, const char *path, ember_err *err)
{
    char dir[4096], where[4400];
    struct stat sb;
    const char *slash = strrchr(path, '/');
    if (!slash)
        return 0; /* the current directory */
    snprintf(dir, sizeof dir, "%.*s", slash == path ? 1 : (int)(slash - path), path);
    int e = stat(dir, &sb) != 0 ? errno : S_ISDIR(sb.st_mode) ? 0 : ENOTDIR;
    if (!e)
        return 0;
    describe_path(path, where, sizeof where);
    return ember_err_set(err, -e, "%s %s: directory %s: %s", what, where, dir, strerror(e));
}

int job_check_paths(const ember_job *job, ember_err *err)
{
    int rc = 0;
    if (job->source && strcmp(job->source->kind, "file") == 0)
        rc = check_readable("source file", opts_str(&job->source_opts, "path"), err);
    for (int i = 0; !rc && i < job->n_steps; i++)
        if (job->steps[i].table_path)
            rc = check_readable("join table", job->steps[i].table_path, err);
    if (!rc && job->dead_letter_path)
        rc = check_parent("dead-letter file", job->dead_letter_path, err);
    if (!rc && job->window.late_path)
        rc = check_parent("late file", job->window.late_path, err);
    return rc;
}
