/*
 * pipeline: the API calls of the steps between parse and aggregate, and
 * after it: filter, select, map, join, dedupe, key, ttl, window, having, top.
 * Each checks its place in the pipeline, types its expressions against the
 * record schema at that point, and records its canonical line.
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

job_step *job_add_step(ember_job *job, step_kind kind, ember_err *err)
{
    if (job_enter_stage(job, STAGE_STEPS, 1, err))
        return NULL;
    if (job->n_steps == JOB_MAX_STEPS) {
        ember_err_set(err, -EMBER_EUSAGE, "more than %d filter/select steps", JOB_MAX_STEPS);
        return NULL;
    }
    job_ensure_schema(job);
    job_step *st = &job->steps[job->n_steps];
    memset(st, 0, sizeof *st);
    st->kind = kind;
    st->width = job->current.n;
    return st;
}

int ember_job_filter(ember_job *job, const char *text, ember_err *err)
{
    if (!(job = job_node_for(job, 0, err)))
        return err->code;
    job_step *st = job_add_step(job, STEP_FILTER, err);
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
    if (!(job = job_node_for(job, 0, err)))
        return err->code;
    job_step *st = job_add_step(job, STEP_FILTER_FN, err);
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
    if (!(job = job_node_for(job, 0, err)))
        return err->code;
    job_step *st = job_add_step(job, STEP_SELECT, err);
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
    if (!(job = job_node_for(job, 0, err)))
        return err->code;
    opt_set set = {0};
    schema fields = {0};
    char note[96];
    int rc = job_opts_storable(opts, n, err);
    if (rc)
        return rc;
    job_step *st = job_add_step(job, STEP_JOIN, err);
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

#define DEDUPE_FORM "expected 'FIELD[, FIELD...] [keep=first|last] within DURATION'"

static int is_field_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '.';
}

static const char *skip_blanks(const char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

/* "FIELD[, FIELD...]" at the start of text: the id's fields, in order. */
static int dedupe_fields(ember_job *job, job_step *st, const char *text, const char **end,
                         ember_err *err)
{
    char note[96];
    for (const char *p = skip_blanks(text);; p = skip_blanks(p + 1)) {
        const char *f = p;
        while (is_field_char(*p))
            p++;
        if (p == f)
            return ember_err_set_col(err, -EMBER_EUSAGE, (int)(f - text) + 1, DEDUPE_FORM);
        int idx = schema_find(&job->current, f, (size_t)(p - f));
        if (idx < 0)
            return ember_err_set_col(err, -EMBER_EUSAGE, (int)(f - text) + 1,
                                     "unknown field '%.*s'%s", (int)(p - f), f,
                                     schema_suggest_note(&job->current, f, (size_t)(p - f),
                                                         note, sizeof note));
        if (st->n_dedupe_fields == JOB_MAX_KEYS)
            return ember_err_set_col(err, -EMBER_EUSAGE, (int)(f - text) + 1,
                                     "more than %d dedupe fields", JOB_MAX_KEYS);
        st->dedupe_fields[st->n_dedupe_fields++] = idx;
        p = skip_blanks(p);
        if (*p != ',') {
            *end = p;
            return 0;
        }
    }
}

static int dedupe_horizon(job_step *st, const char *text, const char *word, size_t n,
                          ember_err *err)
{
    char horizon[32];
    snprintf(horizon, sizeof horizon, "%.*s", (int)(n < 31 ? n : 31), word);
    int rc = opts_parse_value(OPT_DURATION, horizon, &st->dedupe_ms);
    if (rc || st->dedupe_ms <= 0)
        return ember_err_set_col(err, -EMBER_EUSAGE, (int)(word - text) + 1,
                                 rc == -EDOM
                                     ? "'%s' needs a unit, like %sms, %ss or %sm"
                                     : "'%s' is not a positive duration like 10m%.0s%.0s%.0s",
                                 horizon, horizon, horizon, horizon);
    return 0;
}

/* After the fields: "within DURATION" and an optional "keep=first|last", in
 * either order. */
static int dedupe_options(job_step *st, const char *text, const char *p, ember_err *err)
{
    int within = 0, keep = 0;
    for (p = skip_blanks(p); *p; p = skip_blanks(p)) {
        const char *w = p;
        while (*p && *p != ' ' && *p != '\t')
            p++;
        size_t n = (size_t)(p - w);
        if (n == 6 && !strncmp(w, "within", 6) && !within) {
            const char *d = skip_blanks(p);
            for (p = d; *p && *p != ' ' && *p != '\t'; p++)
                ;
            if (p == d)
                return ember_err_set_col(err, -EMBER_EUSAGE, (int)(d - text) + 1,
                                         "expected a duration after 'within'");
            int rc = dedupe_horizon(st, text, d, (size_t)(p - d), err);
            if (rc)
                return rc;
            within = 1;
        } else if (n > 5 && !strncmp(w, "keep=", 5) && !keep) {
            if ((n != 10 || strncmp(w + 5, "first", 5)) && (n != 9 || strncmp(w + 5, "last", 4)))
                return ember_err_set_col(err, -EMBER_EUSAGE, (int)(w - text) + 6,
                                         "keep= is first or last, not '%.*s'", (int)n - 5, w + 5);
            st->dedupe_keep_last = n == 9;
            keep = 1;
        } else {
            return ember_err_set_col(err, -EMBER_EUSAGE, (int)(w - text) + 1, DEDUPE_FORM);
        }
    }
    return within ? 0 : ember_err_set_col(err, -EMBER_EUSAGE, 1, DEDUPE_FORM);
}

int ember_job_dedupe(ember_job *job, const char *text, ember_err *err)
{
    if (!(job = job_node_for(job, 0, err)))
        return err->code;
    const char *rest = text;
    if (job->dedupe_step >= 0)
        return ember_err_set(err, -EMBER_EUSAGE, "a job can have one 'dedupe' step");
    job_step *st = job_add_step(job, STEP_DEDUPE, err);
    if (!st)
        return err->code;
    st->n_dedupe_fields = 0;
    int rc = dedupe_fields(job, st, text, &rest, err);
    if (!rc)
        rc = dedupe_options(st, text, rest, err);
    if (rc)
        return rc;
    job->dedupe_step = job->n_steps++;
    job_text_append(job, 0, "dedupe    %s", text);
    return 0;
}

int ember_job_map_fn(ember_job *job, ember_map_fn fn, void *user, ember_err *err)
{
    if (!(job = job_node_for(job, 0, err)))
        return err->code;
    job_step *st = job_add_step(job, STEP_MAP_FN, err);
    if (!st)
        return err->code;
    st->map_fn = fn;
    st->user = user;
    job->n_steps++;
    job_text_append(job, 0, "# map: C callback");
    return 0;
}

int ember_job_ttl(ember_job *job, const char *duration, ember_err *err)
{
    if (!(job = job_node_for(job, 0, err)))
        return err->code;
    int rc = job_enter_stage(job, STAGE_TTL, 0, err);
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
    if (!(job = job_node_for(job, 0, err)))
        return err->code;
    int rc = job_enter_stage(job, STAGE_WINDOW, 0, err);
    if (rc)
        return rc;
    if (job->ttl_ms)
        return ember_err_set(err, -EMBER_EUSAGE,
                             "'ttl' and 'window' exclude each other (closed windows are "
                             "deleted by the watermark)");
    if ((rc = window_parse(spec, &job->current, &job->window, err)))
        return rc;
    if (job->window.time_field < 0 && job->wm_name[0]) {
        /* no `on FIELD`: the stream's watermark (its own or its inputs') */
        job->window.time_field = schema_find(&job->current, job->wm_name, strlen(job->wm_name));
        if (job->window.time_field < 0)
            return ember_err_set_col(err, -EMBER_EUSAGE, 1,
                                     "the stream's watermark field '%s' is not a field here "
                                     "(a select dropped it?)", job->wm_name);
        job->window.delay_ms = 0; /* the engine hands the window the stream's watermark */
        job->wm_window = 1;
    }
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
    if (!(job = job_node_for(job, 0, err)))
        return err->code;
    int rc = job_enter_stage(job, STAGE_HAVING, 0, err);
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

/* "per F1, F2" of `top`: the group fields (default: the key's, if any). */
static int top_per_fields(ember_job *job, const char *text, const char *p, ember_err *err)
{
    char note[96];
    job->n_top_per = 0;
    if (!*p) {
        memcpy(job->top_per, job->key_fields, sizeof job->top_per);
        job->n_top_per = job->n_keys;
        return 0;
    }
    if (strncmp(p, "per", 3) != 0 || (p[3] != ' ' && p[3] != '\t'))
        return ember_err_set_col(err, -EMBER_EUSAGE, (int)(p - text) + 1,
                                 "expected 'per FIELD[, FIELD...]' or the end of the line");
    for (p = skip_blanks(p + 3);; p = skip_blanks(p + 1)) {
        const char *f = p;
        while (is_field_char(*p))
            p++;
        int idx = schema_find(&job->current, f, (size_t)(p - f));
        if (p == f || idx < 0)
            return ember_err_set_col(err, -EMBER_EUSAGE, (int)(f - text) + 1,
                                     p == f ? "expected a field name" : "unknown field '%.*s'%s",
                                     (int)(p - f), f,
                                     schema_suggest_note(&job->current, f, (size_t)(p - f), note,
                                                         sizeof note));
        if (job->n_top_per == JOB_MAX_KEYS)
            return ember_err_set_col(err, -EMBER_EUSAGE, (int)(f - text) + 1,
                                     "more than %d 'per' fields", JOB_MAX_KEYS);
        job->top_per[job->n_top_per++] = idx;
        if (*(p = skip_blanks(p)) != ',')
            return *p ? ember_err_set_col(err, -EMBER_EUSAGE, (int)(p - text) + 1,
                                          "expected ',' or the end of the line")
                      : 0;
    }
}

/* The output of a top over records: its fields, then rank (1 = best). */
static int top_rows_schema(ember_job *job, ember_err *err)
{
    if (schema_find(&job->current, "rank", 4) >= 0)
        return ember_err_set(err, -EMBER_EUSAGE, "'top' adds a column 'rank', and the record "
                             "has a field of that name already (rename it with select)");
    if (job->current.n == SCHEMA_MAX_FIELDS)
        return ember_err_set(err, -EMBER_EUSAGE, "too many fields for top's rank column");
    job->output = job->current;
    schema_field *f = &job->output.f[job->output.n++];
    snprintf(f->name, sizeof f->name, "rank");
    f->type = EMBER_INT;
    return 0;
}

/* `top K by FIELD [per FIELDS]` over a stream's records (no window, no
 * aggregate): the K records with the largest FIELD of each group. */
static int top_records(ember_job *job, const char *text, int k, const char *col,
                       const char *rest, ember_err *err)
{
    char note[96];
    job->top_col = schema_find(&job->current, col, strlen(col));
    if (job->top_col < 0)
        return ember_err_set_col(err, -EMBER_EUSAGE, (int)(strstr(text, col) - text) + 1,
                                 "unknown field '%s'%s", col,
                                 schema_suggest_note(&job->current, col, strlen(col), note,
                                                     sizeof note));
    ember_type t = job->current.f[job->top_col].type;
    if (t != EMBER_INT && t != EMBER_FLOAT)
        return ember_err_set_col(err, -EMBER_EUSAGE, (int)(strstr(text, col) - text) + 1,
                                 "'top' ranks by a number, '%s' is a %s", col, ember_type_name(t));
    if (k > JOB_TOP_MAX_K)
        return ember_err_set_col(err, -EMBER_EUSAGE, 1, "top's K is at most %d over records, "
                                 "not %d", JOB_TOP_MAX_K, k);
    int rc = top_per_fields(job, text, rest, err);
    if (!rc)
        rc = top_rows_schema(job, err);
    if (rc)
        return rc;
    job->top_k = k;
    job->top_rows = 1;
    job_text_append(job, 0, "top       %s", text);
    job_layout_top(job);
    return 0;
}

int ember_job_top(ember_job *job, const char *text, ember_err *err)
{
    if (!(job = job_node_for(job, 0, err)))
        return err->code;
    char col[64];
    int k = 0, used = 0;
    int rc = job_enter_stage(job, STAGE_TOP, 0, err);
    if (rc)
        return rc;
    if (sscanf(text, " %d by %63[A-Za-z0-9_.] %n", &k, col, &used) != 2 || k < 1)
        return ember_err_set_col(err, -EMBER_EUSAGE, 1,
                                 "expected 'K by COLUMN [per FIELD, ...]' (K >= 1)");
    if (job->window.kind == WIN_NONE && !job->n_aggs)
        return top_records(job, text, k, col, text + used, err);
    if (job->window.kind == WIN_NONE)
        return ember_err_set(err, -EMBER_EUSAGE, "'top' ranks the rows of each window: after "
                             "an aggregate it needs a 'window' before it (without an aggregate "
                             "it ranks the records of each group)");
    if (text[used])
        return ember_err_set_col(err, -EMBER_EUSAGE, used + 1,
                                 "'per' ranks records; over a window's rows 'top' ranks each "
                                 "window's rows: expected 'K by COLUMN'");
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

