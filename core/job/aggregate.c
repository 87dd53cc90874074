/*
 * aggregate: the `key` and `aggregate` steps: key fields, parsing `fn(field[, arg]) [as NAME], ...`,
 * the hidden aggregates windows and TTL need, the accumulator layout and the
 * output schema (keys, window bounds, aggregates by name).
 */
#include "core/job/job.h"
#include "core/job/job_private.h"
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
    if (!(job = job_node_for(job, 0, err)))
        return err->code;
    int rc = job_enter_stage(job, STAGE_KEY, 0, err);
    if (rc)
        return rc;
    job_ensure_schema(job);
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
    job_layout_key(job);
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

static int unknown_aggregate(const char *list, const char *start, size_t len, ember_err *err)
{
    const char *names[sizeof agg_names / sizeof agg_names[0]];
    char note[96];
    for (size_t i = 0; i < sizeof agg_names / sizeof agg_names[0]; i++)
        names[i] = agg_names[i].name;
    return ember_err_set_col(
        err, -EMBER_EUSAGE, (int)(start - list) + 1,
        "unknown aggregate '%.*s'%s (expected count, sum, min, max, avg, wavg, "
        "count_distinct or topk)",
        (int)len, start,
        em_suggest_note(em_suggest(start, len, names, sizeof names / sizeof names[0]), note,
                        sizeof note));
}

static int unknown_field(const ember_job *job, const char *list, const char *name, size_t len,
                         ember_err *err)
{
    char note[96];
    return ember_err_set_col(err, -EMBER_EUSAGE, (int)(name - list) + 1, "unknown field '%.*s'%s",
                             (int)len, name,
                             schema_suggest_note(&job->current, name, len, note, sizeof note));
}

/* The aggregate's field (none for count()), its type and column name. */
static int agg_field(ember_job *job, agg_spec *a, const char *list, const char *start,
                     const char *field, size_t flen, ember_err *err)
{
    if (a->fn == AGG_COUNT && !flen) { /* count(): rows; count(f): non-NULL values */
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
        return unknown_field(job, list, field, flen, err);
    a->in_type = job->current.f[a->field].type;
    int any_type = a->fn == AGG_HLL || a->fn == AGG_SET || a->fn == AGG_TOPK || a->fn == AGG_COUNT;
    if (!any_type && a->in_type != EMBER_INT && a->in_type != EMBER_FLOAT)
        return ember_err_set_col(err, -EMBER_EUSAGE, (int)(field - list) + 1,
                                 "%.*s() needs a number, '%.*s' is a %s", (int)(field - 1 - start),
                                 start, (int)flen, field, ember_type_name(a->in_type));
    snprintf(a->name, sizeof a->name, "%.*s_%.*s", (int)(field - 1 - start), start, (int)flen,
             field);
    return 0;
}

/* One "fn(field[, arg])" starting at *pp; advances *pp past it. */
static int parse_one_agg(ember_job *job, const char *list, const char **pp, ember_err *err)
{
    const char *p = *pp, *start = p, *arg = NULL;
    agg_spec *a = &job->aggs[job->n_aggs];
    size_t alen = 0;
    while (is_ident(*p))
        p++;
    if (agg_lookup(start, (size_t)(p - start), &a->fn))
        return unknown_aggregate(list, start, (size_t)(p - start), err);
    if (*p != '(')
        return ember_err_set_col(err, -EMBER_EUSAGE, (int)(p - list) + 1, "expected '('");
    const char *field = ++p;
    while (is_ident(*p))
        p++;
    size_t flen = (size_t)(p - field);
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
    int rc = agg_second_arg(a, list, start, field, arg, alen, p, err);
    if (rc)
        return rc;
    if (a->fn == AGG_WAVG) {
        a->field2 = schema_find(&job->current, arg, alen);
        if (a->field2 < 0)
            return unknown_field(job, list, arg, alen, err);
        a->in_type2 = job->current.f[a->field2].type;
    }
    return agg_field(job, a, list, start, field, flen, err);
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

/* The ')' that closes the parenthesis open before p ('(' and ')' inside
 * quoted strings do not count), or NULL. */
static const char *closing_paren(const char *p)
{
    int depth = 1;
    for (char quote = 0; *p; p++) {
        if (quote)
            quote = *p == quote ? 0 : quote;
        else if (*p == '"' || *p == '\'')
            quote = *p;
        else if (*p == '(')
            depth++;
        else if (*p == ')' && --depth == 0)
            return p;
    }
    return NULL;
}

static int is_word(const char *p, const char *word)
{
    size_t n = strlen(word);
    return strncasecmp(p, word, n) == 0 && !is_ident(p[n]);
}

/* COND of "filter (where COND)", compiled against the record at the
 * aggregate; it must be a condition. cond: its text, len bytes. */
static int compile_filter(ember_job *job, agg_spec *a, const char *list, const char *cond,
                          size_t len, ember_err *err)
{
    while (len && (cond[len - 1] == ' ' || cond[len - 1] == '\t'))
        len--;
    if (!(a->filter_text = strndup(cond, len)))
        return ember_err_set(err, -ENOMEM, "out of memory");
    int rc = expr_compile(a->filter_text, &job->current, &a->filter, err);
    if (rc) {
        if (err->col > 0)
            err->col += (int)(cond - list);
        return rc;
    }
    if (expr_type(a->filter) != EMBER_BOOL)
        return ember_err_set_col(err, -EMBER_EUSAGE, (int)(cond - list) + 1,
                                 "the filter of %s must be a condition (a comparison, "
                                 "and/or/not), not a %s", a->name,
                                 ember_type_name(expr_type(a->filter)));
    return 0;
}

/* An optional "filter (where COND)" after an aggregate (SQL's FILTER
 * clause): only records for which COND is true are folded into it. */
static int parse_filter(ember_job *job, const char *list, const char **pp, ember_err *err)
{
    const char *p = *pp;
    while (*p == ' ' || *p == '\t')
        p++;
    if (!is_word(p, "filter"))
        return 0;
    for (p += 6; *p == ' ' || *p == '\t'; p++)
        ;
    if (*p != '(')
        return ember_err_set_col(err, -EMBER_EUSAGE, (int)(p - list) + 1,
                                 "expected '(where CONDITION)' after 'filter'");
    for (p++; *p == ' ' || *p == '\t'; p++)
        ;
    if (!is_word(p, "where"))
        return ember_err_set_col(err, -EMBER_EUSAGE, (int)(p - list) + 1,
                                 "expected 'where' after 'filter ('");
    const char *cond = p + 5, *end = closing_paren(cond);
    while (*cond == ' ' || *cond == '\t')
        cond++;
    if (!end)
        return ember_err_set_col(err, -EMBER_EUSAGE, (int)(p - list) + 1,
                                 "'filter (where ...' has no closing ')'");
    if (end == cond)
        return ember_err_set_col(err, -EMBER_EUSAGE, (int)(end - list) + 1,
                                 "expected a condition after 'where'");
    *pp = end + 1;
    return compile_filter(job, &job->aggs[job->n_aggs], list, cond, (size_t)(end - cond), err);
}

void job_free_aggregate(agg_spec *a)
{
    expr_free(a->filter);
    free(a->filter_text);
    a->filter = NULL;
    a->filter_text = NULL;
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
    if (!(job = job_node_for(job, 0, err)))
        return err->code;
    /* once, but after aggregate_fn lines (which share the stage) */
    int rc = job_enter_stage(job, STAGE_AGG, job->stage == STAGE_AGG && !job->agg_list, err);
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
            rc = parse_filter(job, list, &p, err);
        if (!rc)
            rc = parse_alias(job, list, &p, err);
        if (rc) {
            job_free_aggregate(&job->aggs[job->n_aggs]);
            return rc;
        }
        job->n_aggs++;
    }
    if (job->n_aggs == before)
        return ember_err_set_col(err, -EMBER_EUSAGE, 1, "expected an aggregate like count()");
    if ((rc = layout_aggs(job, err)))
        return rc;
    job->agg_list = 1;
    job_text_append(job, 0, "aggregate %s", list);
    job_layout_aggregate(job);
    return 0;
}

/* For aggregate_fn lines (aggregate_fn.c): pipeline order and a key. */
int job_begin_aggregate(ember_job *job, const char *what, ember_err *err)
{
    int rc = job_enter_stage(job, STAGE_AGG, 1, err);
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

