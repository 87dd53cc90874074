/*
 * aggregate_fn: aggregates defined in C (ember_job_aggregate_fn, see
 * ember.h), as one more output column whose state blob core/ops/accum.c
 * keeps in slots like a sum's. Each records the job-file line
 *
 *   aggregate_fn NAME [fields=F,G] state=BYTES type=int|float
 *
 * in the job's text and in its state layout (so a restart that changes the
 * name, fields, size or type is refused). Loading that line back, as the
 * tools and the JOB check do, declares the aggregate without callbacks: its
 * place in the layout is known, its values are not, and run refuses it.
 */
#include "core/job/job.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static const opt_def aggregate_fn_options[] = {
    {"fields", OPT_STR, "", NULL, "the fields handed to the aggregate's add, in order"},
    {"state", OPT_INT, NULL, NULL, "bytes of state per key (1 to 64)"},
    {"type", OPT_ENUM, NULL, "int|float", "the result's type"},
    {0},
};

static size_t ident_len(const char *p)
{
    return strspn(p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_");
}

/* "a, b" into the fields' indexes, and "a,b" (canonical) into canon. */
static int parse_fields(const ember_job *job, agg_spec *a, const char *fields, char *canon,
                        size_t cap, ember_err *err)
{
    size_t used = 0;
    canon[0] = '\0';
    for (const char *p = fields ? fields : ""; *(p += strspn(p, " \t,"));) {
        size_t n = ident_len(p);
        if (n == 0)
            return ember_err_set(err, -EMBER_EUSAGE, "aggregate %s: bad field list '%s'", a->name,
                                 fields);
        if (a->n_args == EMBER_AGG_MAX_ARGS)
            return ember_err_set(err, -EMBER_EUSAGE, "aggregate %s: more than %d fields", a->name,
                                 EMBER_AGG_MAX_ARGS);
        int f = schema_find(&job->current, p, n);
        if (f < 0)
            return ember_err_set(err, -EMBER_EUSAGE, "aggregate %s: unknown field '%.*s'", a->name,
                                 (int)n, p);
        a->args[a->n_args++] = f;
        used += (size_t)snprintf(canon + used, cap - used, "%s%.*s", used ? "," : "", (int)n, p);
        p += n;
    }
    return 0;
}

/* An output column name: an identifier that no other column has. */
static int check_name(const ember_job *job, const char *name, ember_err *err)
{
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n >= sizeof job->aggs[0].name || ident_len(name) != n ||
        (name[0] >= '0' && name[0] <= '9'))
        return ember_err_set(err, -EMBER_EUSAGE,
                             "aggregate name '%s': expected a name like geo_mean (letters, "
                             "digits, _; at most %zu)",
                             name ? name : "", sizeof job->aggs[0].name - 1);
    for (int i = 0; i < job->n_keys; i++)
        if (!strcmp(job->current.f[job->key_fields[i]].name, name))
            return ember_err_set(err, -EMBER_EUSAGE, "aggregate name '%s' is a key field", name);
    for (int i = 0; i < job->n_aggs; i++)
        if (!strcmp(job->aggs[i].name, name))
            return ember_err_set(err, -EMBER_EUSAGE, "two aggregates named '%s'", name);
    return 0;
}

/* The one way in, from the API (with callbacks) or a job file (without). */
static int add_aggregate_fn(ember_job *job, const char *name, const char *fields,
                            const ember_agg_fns *fns, void *user, ember_err *err)
{
    char canon[512];
    agg_spec a = {.fn = AGG_USER, .field = -1, .user_fns = *fns, .user = user};
    int rc = job_begin_aggregate(job, "aggregate_fn", err);
    if (!rc)
        rc = check_name(job, name, err);
    if (rc)
        return rc;
    snprintf(a.name, sizeof a.name, "%s", name);
    if ((rc = parse_fields(job, &a, fields, canon, sizeof canon, err)) ||
        (rc = job_push_aggregate(job, &a, err)))
        return rc;
    job_text_append(job, 1, "aggregate_fn %s%s%s state=%u type=%s", name,
                    canon[0] ? " fields=" : "", canon, fns->state_bytes,
                    fns->result_type == EMBER_INT ? "int" : "float");
    return 0;
}

int ember_job_aggregate_fn(ember_job *job, const char *name, const char *fields,
                           const ember_agg_fns *fns, void *user, ember_err *err)
{
    if (!(job = job_node_for(job, 0, err)))
        return err->code;
    if (!fns || !fns->init || !fns->add || !fns->merge || !fns->result)
        return ember_err_set(err, -EINVAL,
                             "aggregate %s: init, add, merge and result are all required",
                             name ? name : "");
    return add_aggregate_fn(job, name, fields, fns, user, err);
}

int job_aggregate_fn_declare(ember_job *job, const char *name, const ember_opt *opts, size_t n,
                             ember_err *err)
{
    opt_set set = {0};
    int rc = opts_bind(aggregate_fn_options, opts, n, &set, err);
    if (rc)
        return rc;
    int64_t bytes = opts_int(&set, "state");
    ember_agg_fns decl = {
        .state_bytes = bytes >= 1 && bytes <= EMBER_AGG_STATE_MAX ? (uint32_t)bytes : 0,
        .result_type = strcmp(opts_str(&set, "type"), "int") ? EMBER_FLOAT : EMBER_INT,
    };
    if (!decl.state_bytes)
        rc = ember_err_set(err, -EMBER_EUSAGE, "state: 1 to %d bytes, not %lld",
                           EMBER_AGG_STATE_MAX, (long long)bytes);
    else
        rc = add_aggregate_fn(job, name, opts_str(&set, "fields"), &decl, NULL, err);
    opts_free(&set);
    return rc;
}

int job_aggregate_fns_defined(const ember_job *job, ember_err *err)
{
    for (int i = 0; i < job->n_aggs; i++)
        if (job->aggs[i].fn == AGG_USER && !job->aggs[i].user_fns.add)
            return ember_err_set(err, -EMBER_EUSAGE,
                                 "aggregate_fn %s is defined in C: only the program that "
                                 "passes its callbacks to ember_job_aggregate_fn can run this job",
                                 job->aggs[i].name);
    return 0;
}
