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

int ember_job_dedupe(ember_job *job, const char *text, ember_err *err)
{
    if (!(job = job_node_for(job, 0, err)))
        return err->code;
    char field[64], within[16], horizon[32];
    int used = 0, rc;
    if (job->dedupe_step >= 0)
        return ember_err_set(err, -EMBER_EUSAGE, "a job can have one 'dedupe' step");
    job_step *st = job_add_step(job, STEP_DEDUPE, err);
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

int ember_job_top(ember_job *job, const char *text, ember_err *err)
{
    if (!(job = job_node_for(job, 0, err)))
        return err->code;
    char col[64];
    int k = 0, used = 0;
    int rc = job_enter_stage(job, STAGE_TOP, 0, err);
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

