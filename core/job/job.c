/*
 * job: the public API that builds a pipeline (include/ember.h). Each call
 * validates its options against the plugin's or step's option table, checks
 * that steps come in pipeline order, and records one canonical job-file line.
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
    job_graph_free(job);
    free(job->sjoin);
    free_steps(job);
    opts_free(&job->source_opts);
    for (int i = 0; i < job->n_sinks; i++)
        opts_free(&job->sinks[i].opts);
    free(job->ckpt_dir);
    free(job->dead_letter_path);
    free(job->window.late_path);
    expr_free(job->having);
    for (int i = 0; i < job->n_aggs; i++)
        job_free_aggregate(&job->aggs[i]);
    free(job->text);
    free(job->layout);
    free(job);
}

static const char *stage_name(job_stage s)
{
    static const char *const names[] = {"job", "source", "parse", "filter/select", "key",
                                        "ttl", "window", "aggregate", "having", "top",
                                        "sink"};
    return names[s];
}

/* Steps must follow the pipeline order; `stage` is where this call belongs. */
int job_enter_stage(ember_job *job, job_stage stage, int repeatable, ember_err *err)
{
    if (job->stage > stage || (job->stage == stage && !repeatable))
        return ember_err_set(err, -EMBER_EUSAGE, "'%s' cannot come after '%s'",
                             stage_name(stage), stage_name(job->stage));
    if (stage >= STAGE_PARSE && !job->source && !job->n_inputs)
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
    for (; n < cap && registry[n]; n++)
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
    if (!(job = job_node_for(job, 0, err)))
        return err->code;
    if (job->n_inputs)
        return ember_err_set(err, -EMBER_EUSAGE, "stream '%s' reads the rows of another "
                             "stream ('from'): it has no 'source'", job->stream);
    int rc = job_opts_storable(opts, n, err);
    if (rc || (rc = job_enter_stage(job, STAGE_SOURCE, 0, err)))
        return rc;
    job->source = source_find(kind);
    if (!job->source) {
        const char *names[64];
        size_t k = registry_names((const void *const *)source_registry, names, 64);
        return unknown_name(err, "source", kind, names, k);
    }
    rc = opts_bind(job->source->options, opts, n, &job->source_opts, err);
    if (!rc && job->source->check && (rc = job->source->check(&job->source_opts, err)))
        opts_free(&job->source_opts);
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
    if (!(job = job_node_for(job, 0, err)))
        return err->code;
    if (job->n_inputs)
        return ember_err_set(err, -EMBER_EUSAGE, "stream '%s' reads the rows of another "
                             "stream ('from'): they are parsed already", job->stream);
    int rc = job_opts_storable(opts, n, err);
    if (rc || (rc = job_enter_stage(job, STAGE_PARSE, 0, err)))
        return rc;
    const parse_format *pf = parse_format_find(format);
    if (!pf) {
        const char *names[16];
        size_t k = 0;
        for (; k < 16 && parse_formats[k].name; k++)
            names[k] = parse_formats[k].name;
        return unknown_name(err, "format", format, names, k);
    }
    rc = opts_bind(parse_options, opts, n, &set, err);
    if (rc)
        return rc;
    job->format = pf;
    job->delim = (unsigned char)pf->delim;
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
void job_ensure_schema(ember_job *job)
{
    if (job->has_parse || job->n_inputs || job->current.n > 0)
        return;
    job->current.n = 1;
    snprintf(job->current.f[0].name, sizeof job->current.f[0].name, "line");
    job->current.f[0].type = EMBER_STRING;
    job->input = job->current;
    job->max_width = 1;
}

int ember_job_sink(ember_job *job, const char *kind, const ember_opt *opts, size_t n,
                   ember_err *err)
{
    if (!(job = job_node_for(job, 1, err)))
        return err->code;
    int rc = job_opts_storable(opts, n, err);
    if (rc || (rc = job_enter_stage(job, STAGE_SINK, 1, err)))
        return rc;
    if (job->n_sinks == JOB_MAX_SINKS)
        return ember_err_set(err, -EMBER_EUSAGE, "more than %d sinks in one place of a stream",
                             JOB_MAX_SINKS);
    job_sink *s = &job->sinks[job->n_sinks];
    s->tap = -1;
    s->ops = sink_find(kind);
    if (!s->ops) {
        const char *names[64];
        size_t k = registry_names((const void *const *)sink_registry, names, 64);
        return unknown_name(err, "sink", kind, names, k);
    }
    rc = opts_bind(s->ops->options, opts, n, &s->opts, err);
    if (!rc && s->ops->check && (rc = s->ops->check(&s->opts, err)))
        opts_free(&s->opts);
    if (rc) {
        s->ops = NULL;
        return rc;
    }
    job->n_sinks++;
    job_text_append_opts(job, "sink      ", kind, opts, n);
    return 0;
}

int job_finish(ember_job *job, ember_err *err)
{
    int rc = job_complete(job, err);
    return rc ? rc : job_aggregate_fns_defined(job, err);
}

static int same_sink(const job_sink *a, const job_sink *b)
{
    if (a->ops != b->ops || a->opts.n != b->opts.n || a->opts.n_prefixed != b->opts.n_prefixed)
        return 0;
    for (size_t i = 0; i < a->opts.n; i++)
        if (strcmp(a->opts.values[i] ? a->opts.values[i] : "",
                   b->opts.values[i] ? b->opts.values[i] : "") != 0)
            return 0;
    return 1;
}

/* Two sinks with the same options would write over each other. */
static int check_sinks_differ(const ember_job *job, ember_err *err)
{
    const job_sink *all[JOB_MAX_NODES * JOB_MAX_SINKS];
    int n = 0;
    for (int i = 0; i < job_node_count(job); i++) {
        const ember_job *node = job_node_at(job, i);
        for (int k = 0; k < node->n_sinks; k++)
            all[n++] = &node->sinks[k];
    }
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++)
            if (all[i]->ops->exactly_once && same_sink(all[i], all[j]))
                return ember_err_set(err, -EMBER_EUSAGE,
                                     "two 'sink %s' lines with the same options would write "
                                     "over each other's output", all[i]->ops->kind);
    return 0;
}

static int node_complete(ember_job *job, ember_err *err)
{
    if (!job->source && !job->n_inputs)
        return ember_err_set(err, -EMBER_EUSAGE, "job '%s' has no 'source'", job->name);
    job_ensure_schema(job);
    if (job->n_keys && !job->n_aggs && !job->top_rows)
        return ember_err_set(err, -EMBER_EUSAGE, "'key' needs an 'aggregate' or a 'top' after it");
    if (!job->n_aggs && !job->top_rows)
        job->output = job->current;
    if (!job->n_sinks && !job->root && !job->graph) {
        job->sinks[0].ops = sink_find("stdout");
        job->sinks[0].tap = -1;
        if (opts_bind(job->sinks[0].ops->options, NULL, 0, &job->sinks[0].opts, err))
            return err->code;
        job->n_sinks = 1;
    }
    return 0;
}

int job_complete(ember_job *job, ember_err *err)
{
    if (job->text_lost)
        return ember_err_set(err, -ENOMEM, "out of memory recording the job's text");
    for (int i = 0; i < job_node_count(job); i++) {
        ember_job *node = job_node_at(job, i);
        int rc = node_complete(node, err);
        if (rc)
            return node->stream[0] ? ember_err_prefix(err, "stream '%s'", node->stream) : rc;
    }
    int rc = job_graph_complete(job, err);
    if (!rc)
        rc = check_sinks_differ(job, err);
    if (rc)
        return rc;
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

static int node_check_paths(const ember_job *job, ember_err *err)
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


int job_check_paths(const ember_job *job, ember_err *err)
{
    for (int i = 0; i < job_node_count(job); i++) {
        int rc = node_check_paths(job_node_at(job, i), err);
        if (rc)
            return rc;
    }
    return 0;
}
