/* layout: column families and meta keys of the state db (see layout.h). */
#include "state/layout.h"
#include "core/base/endian.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void add_cf(layout_cfs *out, const char *name)
{
    snprintf(out->names[out->n], sizeof out->names[out->n], "%s", name);
    out->ptrs[out->n] = out->names[out->n];
    out->n++;
}

void layout_join_cf(int n, char *buf, size_t cap)
{
    snprintf(buf, cap, LAYOUT_CF_JOIN_PREFIX "%d", n);
}

void layout_node_cf(const ember_job *node, const char *base, char *buf, size_t cap)
{
    if (job_is_graph(node))
        snprintf(buf, cap, "%s.%d", base, node->node);
    else
        snprintf(buf, cap, "%s", base);
}

void layout_node_meta(const ember_job *node, const char *base, char *buf, size_t cap)
{
    if (job_is_graph(node))
        snprintf(buf, cap, "%s/%d", base, node->node);
    else
        snprintf(buf, cap, "%s", base);
}

const ember_job *layout_cf_node(const ember_job *job, const char *cf, char *base, size_t cap)
{
    const char *dot = strrchr(cf, '.');
    char *end;
    snprintf(base, cap, "%s", cf);
    if (!job_is_graph(job) || !dot || !dot[1])
        return job;
    long n = strtol(dot + 1, &end, 10);
    if (*end || n < 0 || n >= job_node_count(job))
        return NULL;
    snprintf(base, cap, "%.*s", (int)(dot - cf), cf);
    return job_node_at(job, (int)n);
}

static void add_node_cf(layout_cfs *out, const ember_job *node, const char *base)
{
    char name[LAYOUT_CF_NAME_MAX];
    layout_node_cf(node, base, name, sizeof name);
    add_cf(out, name);
}

static void node_cfs(const ember_job *job, layout_cfs *out, int *joins)
{
    char name[LAYOUT_CF_NAME_MAX];
    if (job->sjoin) {
        add_node_cf(out, job, LAYOUT_CF_STREAM_JOIN);
        add_node_cf(out, job, LAYOUT_CF_STREAM_JOIN_TIMERS);
    }
    if (job->n_aggs)
        add_node_cf(out, job, LAYOUT_CF_AGGREGATE);
    if (job->n_aggs && (job->window.kind != WIN_NONE || job->ttl_ms))
        add_node_cf(out, job, LAYOUT_CF_TIMERS);
    if (job->dedupe_step >= 0) {
        add_node_cf(out, job, LAYOUT_CF_DEDUPE);
        add_node_cf(out, job, LAYOUT_CF_DEDUPE_TIMERS);
    }
    if (job->top_rows)
        add_node_cf(out, job, LAYOUT_CF_TOP);
    for (int s = 0; s < job->n_steps; s++)
        if (job->steps[s].kind == STEP_JOIN) {
            layout_join_cf(++*joins, name, sizeof name);
            add_cf(out, name);
        }
}

void layout_job_cfs(const ember_job *job, layout_cfs *out)
{
    int joins = 0;
    out->n = 0;
    for (int i = 0; i < job_node_count(job); i++)
        node_cfs(job_node_at(job, i), out, &joins);
}

void layout_put_u64(store_batch *wb, store *st, const char *key, uint64_t v)
{
    uint8_t b[8];
    put_u64le(b, v);
    store_batch_put(wb, st, STORE_META, key, strlen(key), b, sizeof b);
}

int layout_get_u64(store *st, const char *key, uint64_t *v, ember_err *err)
{
    char *val = NULL;
    size_t n = 0;
    *v = 0;
    int rc = store_get(st, STORE_META, key, strlen(key), &val, &n, err);
    if (!rc && n != 8)
        rc = ember_err_set(err, -EMBER_ECORRUPT, "meta \"%s\" has %zu bytes, not 8", key, n);
    if (!rc)
        *v = get_u64le((const uint8_t *)val);
    free(val);
    return rc;
}
