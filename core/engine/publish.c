/*
 * publish: hands each committed batch's numbers to ember_run_opts.on_batch
 * (the status page, an embedder's metrics) as an ember_batch_info. Runs on
 * the batch cycle's thread after the progress line; costs nothing without
 * a callback. Every pointer in the info is borrowed until the call returns.
 */
#include "checkpoint/wal.h"
#include "core/base/log.h"
#include "core/engine/engine.h"
#include "state/layout.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Bytes of every WAL segment now on disk (a few files: stat each). */
static uint64_t wal_bytes(const engine *e)
{
    char dir[4200], path[4400];
    char **names = NULL;
    size_t n = 0;
    uint64_t total = 0;
    ember_err ignored = {0};
    snprintf(dir, sizeof dir, "%s/wal", e->dir);
    if (wal_list_segments(dir, &names, &n, &ignored))
        return 0;
    for (size_t i = 0; i < n; i++) {
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        if (stat(path, &st) == 0)
            total += (uint64_t)st.st_size;
    }
    wal_free_list(names, n);
    return total;
}

#define PART_MASK ((1u << SRC_TAG_SHIFT) - 1)

/* The node that reads source number `tag`, NULL when none does. */
static node_rt *source_node(engine *e, uint32_t tag)
{
    for (int i = 0; i < e->n_nodes; i++)
        if (e->nodes[i].job->source && e->nodes[i].src_tag == tag)
            return &e->nodes[i];
    return NULL;
}

/* The committed end of every partition (tags split off), with the
 * source's end where it can tell. */
static ember_partition_info *partitions(engine *e, size_t *n)
{
    ember_partition_info *p = calloc(e->last.n_ends ? e->last.n_ends : 1, sizeof *p);
    *n = 0;
    if (!p)
        return NULL;
    for (size_t i = 0; i < e->last.n_ends; i++) {
        p[i].source = e->last.ends[i].partition >> SRC_TAG_SHIFT;
        p[i].partition = e->last.ends[i].partition & PART_MASK;
        p[i].committed = e->last.ends[i].to;
        node_rt *nd = source_node(e, p[i].source);
        p[i].has_end = nd && nd->src.ops->end_offset &&
                       nd->src.ops->end_offset(&nd->src, p[i].partition, &p[i].end) == 0;
    }
    *n = e->last.n_ends;
    return p;
}

static ember_range_info *plan_ranges(const batch_ctx *b)
{
    ember_range_info *r = calloc(b->n ? b->n : 1, sizeof *r);
    for (size_t i = 0; r && i < b->n; i++)
        r[i] = (ember_range_info){b->ranges[i].partition >> SRC_TAG_SHIFT,
                                  b->ranges[i].partition & PART_MASK, b->ranges[i].from,
                                  b->ranges[i].to};
    return r;
}

/* Every sink of every node, with its ring's rows; *rows holds the row
 * pointers (RECENT_ROWS per sink). NULL when out of memory. */
static ember_sink_info *sinks(engine *e, size_t *n, const char ***rows)
{
    size_t total = 0;
    for (int i = 0; i < e->n_nodes; i++)
        total += (size_t)e->nodes[i].job->n_sinks;
    ember_sink_info *s = calloc(total ? total : 1, sizeof *s);
    *rows = calloc(total ? total * RECENT_ROWS : 1, sizeof **rows);
    *n = 0;
    if (!s || !*rows) {
        free(s);
        free(*rows);
        *rows = NULL;
        return NULL;
    }
    for (int i = 0; i < e->n_nodes; i++) {
        node_rt *nd = &e->nodes[i];
        for (int k = 0; k < nd->job->n_sinks; k++, ++*n) {
            const char **r = *rows + *n * RECENT_ROWS;
            s[*n] = (ember_sink_info){nd->snk[k].ops->kind, nd->job->name, r,
                                      recent_list(&nd->recent[k], r, RECENT_ROWS)};
        }
    }
    return s;
}

/* The first source's and the first sink's kinds. */
static void kinds(const engine *e, ember_batch_info *in)
{
    in->source_kind = in->sink_kind = "";
    for (int i = e->n_nodes; i-- > 0;) {
        const node_rt *nd = &e->nodes[i];
        if (nd->job->source)
            in->source_kind = nd->src.ops->kind;
        if (nd->job->n_sinks)
            in->sink_kind = nd->snk[0].ops->kind;
    }
}

/* The families of a node worth showing: its aggregate, its join's rows,
 * its dedupe ids. */
static size_t node_families(const node_rt *nd, const char **base)
{
    size_t k = 0;
    if (nd->op_cf >= 0)
        base[k++] = LAYOUT_CF_AGGREGATE;
    if (nd->sj)
        base[k++] = LAYOUT_CF_STREAM_JOIN;
    if (nd->dd)
        base[k++] = LAYOUT_CF_DEDUPE;
    return k;
}

static ember_operator_info *operators(engine *e, size_t *n, char (**names)[LAYOUT_CF_NAME_MAX])
{
    size_t cap = (size_t)e->n_nodes * 3 + 1;
    ember_operator_info *o = calloc(cap, sizeof *o);
    *names = calloc(cap, sizeof **names);
    *n = 0;
    if (!o || !*names)
        return o;
    for (int i = 0; i < e->n_nodes; i++) {
        const node_rt *nd = &e->nodes[i];
        const char *base[3];
        size_t k = node_families(nd, base);
        for (size_t f = 0; f < k; f++) {
            layout_node_cf(nd->job, base[f], (*names)[*n], LAYOUT_CF_NAME_MAX);
            ember_operator_info *op = &o[*n];
            op->stream = nd->job->stream[0] ? nd->job->stream : e->job->name;
            op->family = (*names)[*n];
            store_stats(e->st, store_cf_index(e->st, op->family), &op->keys, &op->bytes);
            op->records_in = nd->ts.records_in;
            op->records_out = nd->out.n;
            ++*n;
        }
    }
    return o;
}

static ember_source_info *sources(const engine *e, size_t *n)
{
    ember_source_info *s = calloc((size_t)e->n_nodes + 1, sizeof *s);
    *n = 0;
    for (int i = 0; s && i < e->n_nodes; i++) {
        const node_rt *nd = &e->nodes[i];
        if (nd->job->source)
            s[(*n)++] = (ember_source_info){nd->job->stream[0] ? nd->job->stream : e->job->name,
                                            nd->src.ops->kind, nd->src_tag, nd->ts.records_in};
    }
    return s;
}

static void fill_counts(const engine *e, const batch_ctx *b, ember_batch_info *in)
{
    const ember_job *job = e->job;
    in->job_name = job->name;
    in->job_text = job->text ? job->text : "";
    in->dir = e->dir;
    kinds(e, in);
    in->batch = b->batch;
    in->batch_time_ms = b->time_ms;
    in->replay = b->replay;
    in->records_in = b->ts.records_in;
    in->records_kept = b->ts.records_out;
    in->bad_records = b->ts.bad_records;
    in->late_records = b->ts.late_records;
    in->filtered_out = b->ts.filtered_out;
    in->duplicates = b->ts.duplicates;
    in->rows_out = b->rows_out;
    in->records_total = e->records_total;
    in->snapshot_every = (uint64_t)job->snapshot_every;
    in->interval_ms = (uint64_t)job->interval_ms;
}

static void fill_times(const engine *e, const batch_ctx *b, ember_batch_info *in)
{
    const batch_timing *t = &b->t;
    in->plan_ms = t->plan_ms;
    in->wal_ms = t->wal_ms;
    in->read_ms = t->read_ms;
    in->transform_ms = t->transform_ms;
    in->state_ms = t->state_ms;
    in->sink_ms = t->sink_ms;
    in->commit_ms = t->commit_ms;
    in->snapshot_ms = t->snapshot_ms;
    in->total_ms = t->total_ms;
    in->scheduling_delay_ms = b->sched_delay_ms;
    in->end_to_end_delay_ms = b->sched_delay_ms + t->total_ms;
    in->input_rate = b->pace.input_rate;
    in->last_recovery_ms = e->recovery_ms;
    in->replayed_batches = e->replayed;
    in->snapshots_taken = e->snapshots_taken;
    in->last_snapshot_batch = e->last_snapshot;
}

void publish_batch(engine *e, const batch_ctx *b, uint64_t keys, uint64_t bytes)
{
    if (!e->opts.on_batch)
        return;
    ember_batch_info in = {0};
    char problem[512];
    fill_counts(e, b, &in);
    fill_times(e, b, &in);
    in.state_keys = keys;
    in.state_bytes = bytes;
    in.wal_bytes = wal_bytes(e);
    em_log_last_problem(problem, sizeof problem);
    in.last_error = problem;
    ember_range_info *ranges = plan_ranges(b);
    ember_partition_info *parts = partitions(e, &in.n_partitions);
    in.ranges = ranges;
    in.n_ranges = ranges ? b->n : 0;
    in.partitions = parts;
    if (!parts)
        in.n_partitions = 0;
    const char **rows = NULL;
    ember_sink_info *snks = sinks(e, &in.n_sinks, &rows);
    in.sinks = snks;
    char(*names)[LAYOUT_CF_NAME_MAX] = NULL;
    ember_operator_info *ops = operators(e, &in.n_operators, &names);
    ember_source_info *srcs = sources(e, &in.n_sources);
    in.operators = ops;
    in.sources = srcs;
    if (!ops)
        in.n_operators = 0;
    if (!srcs)
        in.n_sources = 0;
    e->opts.on_batch(&in, e->opts.on_batch_ctx);
    free(ops);
    free(names);
    free(srcs);
    free(ranges);
    free(parts);
    free(snks);
    free(rows);
}
