/*
 * graph: a job as a dataflow graph of named streams. `stream NAME` starts a
 * stream read from a source; `stream NAME from A, B` one that continues
 * stream A (a branch) or unions A and B. Inside a stream a `sink` takes the
 * stream as it is at that line and the steps after it go on (fan-out): the
 * stream's next node starts there and reads the rows of the one before.
 *
 * A sink before the aggregate is a tap inside its node (tap_sinks): the
 * records go on through the same pass.
 *
 * A node is an ember_job holding one linear pipeline (source or input rows,
 * parse, steps, key, window, aggregate, having, top, sinks); nodes are kept
 * in creation order, which is a topological order (inputs always come
 * first). A job with no `stream` line and no step after a sink stays one
 * node, the job itself, with the state layout of a linear job.
 */
#include "core/job/job.h"
#include "core/job/job_private.h"
#include "core/job/stream_join.h"
#include "core/base/names.h"
#include "core/base/suggest.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct graph_stream {
    char name[JOB_STREAM_NAME_MAX];
    int last; /* the node where the stream is now (its end) */
} graph_stream;

struct job_graph {
    ember_job *nodes[JOB_MAX_NODES];
    int n;
    ember_job *cur; /* the node API calls go to */
    graph_stream streams[JOB_MAX_NODES];
    int n_streams;
};

static ember_job *root_of(ember_job *job) { return job->root ? job->root : job; }

int job_node_count(const ember_job *job)
{
    const ember_job *root = job->root ? job->root : job;
    return root->graph ? root->graph->n : 1;
}

ember_job *job_node_at(const ember_job *job, int i)
{
    const ember_job *root = job->root ? job->root : job;
    return root->graph ? root->graph->nodes[i] : (ember_job *)root;
}

int job_is_graph(const ember_job *job) { return root_of((ember_job *)job)->graph != NULL; }

void job_graph_free(ember_job *root)
{
    if (!root->graph)
        return;
    for (int i = 0; i < root->graph->n; i++)
        if (root->graph->nodes[i] != root)
            ember_job_free(root->graph->nodes[i]);
    free(root->graph);
    root->graph = NULL;
}

static int make_graph(ember_job *root, ember_err *err)
{
    if (root->graph)
        return 0;
    if (!(root->graph = calloc(1, sizeof *root->graph)))
        return ember_err_set(err, -ENOMEM, "out of memory");
    if (root->stage == STAGE_NONE)
        return 0;
    /* the lines before the first `stream`: the anonymous stream, node 0 */
    root->graph->nodes[root->graph->n++] = root;
    root->graph->cur = root;
    root->graph->streams[root->graph->n_streams++] = (graph_stream){"", 0};
    return 0;
}

/* The schema of the rows a node hands on. */
const schema *job_node_output(const ember_job *node)
{
    return node->n_aggs || node->top_rows ? &node->output : &node->current;
}

/* Whether the node's rows update earlier ones (a running aggregate or an
 * emit=update window), directly or through stateless nodes after one. */
int job_node_updates(const ember_job *node)
{
    if (node->n_aggs)
        return node->window.kind == WIN_NONE || node->window.emit == EMIT_UPDATE;
    return node->updating_input || job_node_keeps_last(node) || node->top_rows;
}

/* Whether the node has `dedupe ... keep=last`: its rows replace earlier ones
 * (the replaced row comes again with sign -1 first). */
int job_node_keeps_last(const ember_job *node)
{
    return node->dedupe_step >= 0 && node->steps[node->dedupe_step].dedupe_keep_last;
}

static ember_job *node_new(ember_job *root, const char *stream, ember_err *err)
{
    struct job_graph *g = root->graph;
    if (g->n == JOB_MAX_NODES) {
        ember_err_set(err, -EMBER_EUSAGE, "more than %d nodes in the graph (streams and "
                      "steps after a sink)", JOB_MAX_NODES);
        return NULL;
    }
    ember_job *n = calloc(1, sizeof *n);
    if (!n) {
        ember_err_set(err, -ENOMEM, "out of memory");
        return NULL;
    }
    snprintf(n->name, sizeof n->name, "%s", root->name);
    snprintf(n->stream, sizeof n->stream, "%s", stream);
    n->root = root;
    n->node = g->n;
    n->delim = ',';
    n->dedupe_step = -1;
    g->nodes[g->n++] = n;
    g->cur = n;
    return n;
}

/* A node reading the rows of `inputs` (their schemas are equal). */
static void node_read_rows(ember_job *n, const int *inputs, int k)
{
    const struct job_graph *g = n->root->graph;
    const ember_job *first = g->nodes[inputs[0]];
    n->n_inputs = k;
    for (int i = 0; i < k; i++) {
        n->inputs[i] = inputs[i];
        n->updating_input |= job_node_updates(g->nodes[inputs[i]]);
    }
    n->input = *job_node_output(first);
    n->current = n->input;
    n->max_width = n->input.n;
    n->stage = STAGE_PARSE; /* steps may follow, no source or parse */
    /* the watermark field is inherited when every input has the same one */
    snprintf(n->wm_name, sizeof n->wm_name, "%s", first->wm_name);
    for (int i = 1; i < k; i++)
        if (strcmp(g->nodes[inputs[i]]->wm_name, first->wm_name) != 0)
            n->wm_name[0] = '\0';
    if (schema_find(&n->current, n->wm_name, strlen(n->wm_name)) < 0)
        n->wm_name[0] = '\0';
}

/* After a sink, a step that is not a sink starts the stream's next node. */
static ember_job *split_after_sink(ember_job *root, ember_job *cur, ember_err *err)
{
    if (make_graph(root, err))
        return NULL;
    struct job_graph *g = root->graph;
    ember_job *n = node_new(root, cur->stream, err);
    if (!n)
        return NULL;
    node_read_rows(n, &cur->node, 1);
    for (int s = 0; s < g->n_streams; s++)
        if (g->streams[s].last == cur->node && !strcmp(g->streams[s].name, cur->stream))
            g->streams[s].last = n->node;
    job_layout_append(root, "branch");
    return n;
}

/* A sink before any aggregate, with steps after it, stays in its node as a
 * tap (operator chaining, as Flink chains operators): the steps go on in the
 * same pass over the records and the sink gets a copy of each record at the
 * tap. The state layout is that of the job without the sink. */
static ember_job *tap_sinks(ember_job *cur, ember_err *err)
{
    cur->stage = STAGE_STEPS;
    job_step *st = job_add_step(cur, STEP_TAP, err);
    if (!st)
        return NULL;
    st->tap = cur->n_taps;
    for (int k = 0; k < cur->n_sinks; k++)
        if (cur->sinks[k].tap < 0) {
            cur->sinks[k].tap = cur->n_taps;
            cur->sinks[k].tap_rows = cur->current;
        }
    cur->n_taps++;
    cur->n_steps++;
    return cur;
}

ember_job *job_node_for(ember_job *job, int is_sink, ember_err *err)
{
    ember_job *root = root_of(job);
    ember_job *cur = root->graph ? root->graph->cur : root;
    if (!cur) {
        ember_err_set(err, -EMBER_EUSAGE, "a step before the stream's 'source'");
        return NULL;
    }
    if (!is_sink && cur->stage == STAGE_SINK)
        return cur->n_aggs || cur->top_rows ? split_after_sink(root, cur, err)
                                            : tap_sinks(cur, err);
    return cur;
}

/* ------------------------------------------------------------ stream */

static int find_stream(const struct job_graph *g, const char *name, size_t n)
{
    for (int s = 0; s < g->n_streams; s++)
        if (strlen(g->streams[s].name) == n && memcmp(g->streams[s].name, name, n) == 0)
            return s;
    return -1;
}

static int unknown_stream(const struct job_graph *g, const char *name, size_t n, int col,
                          ember_err *err)
{
    const char *names[JOB_MAX_NODES];
    char list[512], note[96];
    size_t k = 0;
    for (int s = 0; s < g->n_streams; s++)
        if (g->streams[s].name[0])
            names[k++] = g->streams[s].name;
    if (!k)
        return ember_err_set_col(err, -EMBER_EUSAGE, col,
                                 "unknown stream '%.*s' (no stream is defined before this line)",
                                 (int)n, name);
    em_names_join(names, k, list, sizeof list);
    return ember_err_set_col(err, -EMBER_EUSAGE, col, "unknown stream '%.*s'%s (streams so far: %s)",
                             (int)n, name,
                             em_suggest_note(em_suggest(name, n, names, k), note, sizeof note),
                             list);
}

/* The union's inputs must agree field by field: names and types. */
static int check_union(const struct job_graph *g, const char *name, const int *in, int k,
                       ember_err *err)
{
    const ember_job *a = g->nodes[in[0]];
    const schema *sa = job_node_output(a);
    for (int i = 1; i < k; i++) {
        const ember_job *b = g->nodes[in[i]];
        const schema *sb = job_node_output(b);
        for (int f = 0; f < sa->n || f < sb->n; f++) {
            if (f < sa->n && f < sb->n && !strcmp(sa->f[f].name, sb->f[f].name) &&
                sa->f[f].type == sb->f[f].type)
                continue;
            char fa[96] = "no field", fb[96] = "no field";
            if (f < sa->n)
                snprintf(fa, sizeof fa, "'%s' %s", sa->f[f].name, ember_type_name(sa->f[f].type));
            if (f < sb->n)
                snprintf(fb, sizeof fb, "'%s' %s", sb->f[f].name, ember_type_name(sb->f[f].type));
            return ember_err_set(err, -EMBER_EUSAGE,
                                 "stream '%s': the union of '%s' and '%s' needs the same fields: "
                                 "field %d is %s in '%s' but %s in '%s'",
                                 name, a->stream, b->stream, f + 1, fa, a->stream, fb, b->stream);
        }
    }
    return 0;
}

/* "A, B, C" after `from`: the streams' current nodes into in[]. */
static int parse_from(const struct job_graph *g, const char *text, const char *p, int *in, int *k,
                      ember_err *err)
{
    *k = 0;
    for (;;) {
        while (*p == ' ' || *p == '\t')
            p++;
        const char *w = p;
        while (isalnum((unsigned char)*p) || *p == '_')
            p++;
        int col = (int)(w - text) + 1;
        if (p == w)
            return ember_err_set_col(err, -EMBER_EUSAGE, col, "expected a stream name");
        int s = find_stream(g, w, (size_t)(p - w));
        if (s < 0)
            return unknown_stream(g, w, (size_t)(p - w), col, err);
        if (*k == JOB_MAX_INPUTS)
            return ember_err_set_col(err, -EMBER_EUSAGE, col, "a union of more than %d streams",
                                     JOB_MAX_INPUTS);
        in[(*k)++] = g->streams[s].last;
        while (*p == ' ' || *p == '\t')
            p++;
        if (!*p)
            return 0;
        if (*p != ',')
            return ember_err_set_col(err, -EMBER_EUSAGE, (int)(p - text) + 1,
                                     "expected ',' between stream names");
        p++;
    }
}

static int stream_name(const char *text, const char **end, char *name, ember_err *err)
{
    const char *p = text;
    while (*p == ' ' || *p == '\t')
        p++;
    const char *w = p;
    if (!isalpha((unsigned char)*p) && *p != '_')
        return ember_err_set_col(err, -EMBER_EUSAGE, (int)(p - text) + 1,
                                 "expected a stream name (a letter or '_', then letters, "
                                 "digits or '_')");
    while (isalnum((unsigned char)*p) || *p == '_')
        p++;
    if ((size_t)(p - w) >= JOB_STREAM_NAME_MAX)
        return ember_err_set_col(err, -EMBER_EUSAGE, 1, "stream name longer than %d bytes",
                                 JOB_STREAM_NAME_MAX - 1);
    memcpy(name, w, (size_t)(p - w));
    name[p - w] = '\0';
    *end = p;
    return 0;
}

static void register_stream(struct job_graph *g, const char *name, int node)
{
    g->streams[g->n_streams] = (graph_stream){"", node};
    snprintf(g->streams[g->n_streams++].name, JOB_STREAM_NAME_MAX, "%s", name);
}

/* A join input: the stream's rows as they are now, and its event time. */
static sj_input join_input(const struct job_graph *g, int node)
{
    const ember_job *n = g->nodes[node];
    const schema *s = job_node_output(n);
    return (sj_input){n->stream, s, n->wm_name[0] ? schema_find(s, n->wm_name, strlen(n->wm_name))
                                                  : -1};
}

/* The watermark field of the join's rows: A's (as "A.ts" when B has one of
 * that name too). */
static void join_watermark_name(ember_job *n, const struct job_graph *g)
{
    const ember_job *a = g->nodes[n->inputs[0]];
    char qualified[JOB_STREAM_NAME_MAX + 70];
    n->wm_name[0] = '\0';
    if (!a->wm_name[0])
        return;
    snprintf(qualified, sizeof qualified, "%s.%s", a->stream, a->wm_name);
    if (schema_find(&n->current, qualified, strlen(qualified)) >= 0)
        snprintf(n->wm_name, sizeof n->wm_name, "%.63s", qualified);
    else if (schema_find(&n->current, a->wm_name, strlen(a->wm_name)) >= 0)
        snprintf(n->wm_name, sizeof n->wm_name, "%s", a->wm_name);
}

/* `stream NAME join A, B <on ...>`: a node whose input is the join of the
 * two streams' rows (state/stream_join.c); the steps after it run on the
 * joined rows. */
static int stream_join_node(ember_job *root, const char *name, const char *text, const char *p,
                            ember_err *err)
{
    struct job_graph *g = root->graph;
    int in[JOB_MAX_INPUTS], k = 0;
    const char *on = strstr(p, " on ");
    if (!on)
        return ember_err_set_col(err, -EMBER_EUSAGE, (int)(p - text) + 1,
                                 "expected 'join A, B on A.x = B.y ...'");
    char names[512];
    snprintf(names, sizeof names, "%.*s", (int)(on - p), p);
    int rc = parse_from(g, names, names, in, &k, err);
    if (!rc && k != 2)
        rc = ember_err_set_col(err, -EMBER_EUSAGE, (int)(p - text) + 1,
                               "a join takes two streams, not %d", k);
    for (int i = 0; !rc && i < 2; i++)
        if (job_node_updates(g->nodes[in[i]]))
            rc = ember_err_set(err, -EMBER_EUSAGE,
                               "stream '%s': a join over '%s', whose rows update (a running "
                               "aggregate): join its emit=final windows instead",
                               name, g->nodes[in[i]]->stream);
    if (rc) {
        if (err->col > 0)
            err->col += (int)(p - text);
        return rc;
    }
    stream_join_spec *spec = calloc(1, sizeof *spec);
    sj_input a = join_input(g, in[0]), b = join_input(g, in[1]);
    if (!spec)
        return ember_err_set(err, -ENOMEM, "out of memory");
    if ((rc = stream_join_parse(on + 1, &a, &b, spec, err))) {
        if (err->col > 0)
            err->col += (int)(on + 1 - text);
        free(spec);
        return rc;
    }
    ember_job *n = node_new(root, name, err);
    if (!n) {
        free(spec);
        return err->code;
    }
    n->sjoin = spec;
    n->n_inputs = 2;
    n->inputs[0] = in[0];
    n->inputs[1] = in[1];
    n->input = n->current = spec->out;
    n->max_width = spec->out.n;
    n->stage = STAGE_PARSE;
    join_watermark_name(n, g);
    register_stream(g, name, n->node);
    job_text_append(root, 1, "stream    %s", text + strspn(text, " \t"));
    return 0;
}

int ember_job_stream(ember_job *job, const char *text, ember_err *err)
{
    ember_job *root = root_of(job);
    char name[JOB_STREAM_NAME_MAX];
    const char *p = text;
    int in[JOB_MAX_INPUTS], k = 0;
    int rc = stream_name(text, &p, name, err);
    if (rc || (rc = make_graph(root, err)))
        return rc;
    struct job_graph *g = root->graph;
    if (find_stream(g, name, strlen(name)) >= 0)
        return ember_err_set_col(err, -EMBER_EUSAGE, 1, "stream '%s' is defined twice", name);
    while (*p == ' ' || *p == '\t')
        p++;
    if (strncmp(p, "join", 4) == 0 && (p[4] == ' ' || p[4] == '\t'))
        return stream_join_node(root, name, text, p + 4, err);
    if (*p) {
        if (strncmp(p, "from", 4) != 0 || (p[4] != ' ' && p[4] != '\t'))
            return ember_err_set_col(err, -EMBER_EUSAGE, (int)(p - text) + 1,
                                     "expected 'from STREAM[, STREAM ...]', 'join A, B on ...' "
                                     "or the end of the line after the stream name");
        if ((rc = parse_from(g, text, p + 4, in, &k, err)) ||
            (rc = check_union(g, name, in, k, err)))
            return rc;
    }
    if (g->n_streams == JOB_MAX_NODES)
        return ember_err_set(err, -EMBER_EUSAGE, "more than %d streams", JOB_MAX_NODES);
    ember_job *n = node_new(root, name, err);
    if (!n)
        return err->code;
    if (k)
        node_read_rows(n, in, k);
    register_stream(g, name, n->node);
    char line[JOB_STREAM_NAME_MAX * (JOB_MAX_INPUTS + 1) + 16];
    size_t used = (size_t)snprintf(line, sizeof line, "%s", name);
    for (int i = 0; i < k; i++)
        used += (size_t)snprintf(line + used, sizeof line - used, "%s%s", i ? ", " : " from ",
                                 g->nodes[in[i]]->stream);
    job_text_append(root, 1, "stream    %s", line);
    return 0;
}

/* ------------------------------------------------------------ watermark */

int ember_job_watermark(ember_job *job, const char *text, ember_err *err)
{
    char field[64], delay[32], idle[48] = "";
    int used = 0;
    if (!(job = job_node_for(job, 0, err)))
        return err->code;
    if (job->wm_declared)
        return ember_err_set(err, -EMBER_EUSAGE, "a stream declares one 'watermark'");
    job_step *st = job_add_step(job, STEP_WATERMARK, err);
    if (!st)
        return err->code;
    int n = sscanf(text, " %63[A-Za-z0-9_.] %31s %n", field, delay, &used);
    if (n == 2 && text[used] && sscanf(text + used, "%47s %n", idle, &n) == 1) {
        used += n;
        n = 3;
    }
    if (n < 2 || (n == 3 && strncmp(idle, "idle=", 5) != 0) || text[used])
        return ember_err_set_col(err, -EMBER_EUSAGE, 1,
                                 "expected 'FIELD DELAY [idle=DURATION]', like 'ts 5s idle=1m'");
    char note[96];
    st->wm_field = schema_find(&job->current, field, strlen(field));
    if (st->wm_field < 0)
        return ember_err_set_col(err, -EMBER_EUSAGE, 1, "unknown field '%s'%s", field,
                                 schema_suggest_note(&job->current, field, strlen(field), note,
                                                     sizeof note));
    if (job->current.f[st->wm_field].type != EMBER_INT)
        return ember_err_set_col(err, -EMBER_EUSAGE, 1,
                                 "watermark field '%s' is a %s: event time is an int of epoch "
                                 "milliseconds", field,
                                 ember_type_name(job->current.f[st->wm_field].type));
    if (opts_parse_value(OPT_DURATION, delay, &job->wm_delay_ms) || job->wm_delay_ms < 0)
        return ember_err_set_col(err, -EMBER_EUSAGE, (int)(strstr(text, delay) - text) + 1,
                                 "'%s' is not a duration like 5s or 500ms", delay);
    if (n == 3 && (opts_parse_value(OPT_DURATION, idle + 5, &job->wm_idle_ms) ||
                   job->wm_idle_ms <= 0))
        return ember_err_set_col(err, -EMBER_EUSAGE, (int)(strstr(text, idle) - text) + 1,
                                 "'%s' is not a positive duration like idle=30s", idle + 5);
    job->wm_declared = 1;
    snprintf(job->wm_name, sizeof job->wm_name, "%s", field);
    job->n_steps++;
    job_text_append(job, 0, "watermark %s", text);
    job_layout_append(job, "watermark %s", field);
    return 0;
}

/* ------------------------------------------------------------ checks */

static int node_is_consumed(const struct job_graph *g, int node)
{
    for (int i = node + 1; i < g->n; i++)
        for (int k = 0; k < g->nodes[i]->n_inputs; k++)
            if (g->nodes[i]->inputs[k] == node)
                return 1;
    return 0;
}

static const char *stream_label(const ember_job *n)
{
    return n->stream[0] ? n->stream : "(the first stream)";
}

/* An aggregate over updated rows retracts the previous row of a key before
 * adding the new one: only count, sum and avg can take a row back. */
static int check_retracting(const ember_job *n, ember_err *err)
{
    if (job_node_keeps_last(n) && (n->window.kind != WIN_NONE || n->ttl_ms || n->top_k))
        return ember_err_set(err, -EMBER_EUSAGE,
                             "stream '%s': a %s after 'dedupe ... keep=last': a replaced row "
                             "is taken back, which only a running count, sum or avg can do "
                             "(use keep=first, or no %s)",
                             stream_label(n), n->window.kind != WIN_NONE ? "window"
                                              : n->ttl_ms             ? "ttl"
                                                                      : "top",
                             n->window.kind != WIN_NONE ? "window" : n->ttl_ms ? "ttl" : "top");
    if (n->window.kind != WIN_NONE || n->ttl_ms || n->top_k)
        return ember_err_set(err, -EMBER_EUSAGE,
                             "stream '%s': a %s over an updating stream (the rows of a running "
                             "aggregate change as keys update): aggregate it with emit=final "
                             "windows upstream first",
                             stream_label(n), n->window.kind != WIN_NONE ? "window"
                                              : n->ttl_ms             ? "ttl"
                                                                      : "top");
    for (int a = 0; a < n->n_aggs; a++) {
        agg_fn f = n->aggs[a].fn;
        if (f == AGG_COUNT || f == AGG_SUM || f == AGG_AVG)
            continue;
        return ember_err_set(err, -EMBER_EUSAGE,
                             "stream '%s': '%s' over an updating stream: an updated row is "
                             "retracted before the new one is added, and only count, sum and avg "
                             "can take a value back (window the upstream aggregate with "
                             "emit=final to aggregate its final rows)",
                             stream_label(n), n->aggs[a].name);
    }
    return 0;
}

/* Marks the aggregate nodes whose rows a retracting aggregate reads: their
 * rows carry the previous value of each updated key. */
static int mark_retracts(struct job_graph *g, int node, ember_err *err)
{
    ember_job *n = g->nodes[node];
    if (n->n_aggs) {
        if (n->window.kind == WIN_SESSION || n->ttl_ms || n->top_k)
            return ember_err_set(err, -EMBER_EUSAGE,
                                 "stream '%s': its %s rows update and cannot be retracted "
                                 "downstream; aggregate them after an emit=final window",
                                 stream_label(n), n->window.kind == WIN_SESSION ? "session"
                                                  : n->ttl_ms                   ? "ttl"
                                                                                : "top");
        n->retracts = 1;
        return 0;
    }
    for (int k = 0; k < n->n_inputs; k++) {
        int rc = mark_retracts(g, n->inputs[k], err);
        if (rc)
            return rc;
    }
    return 0;
}

static int check_node(struct job_graph *g, ember_job *n, ember_err *err)
{
    if (!n->source && !n->n_inputs)
        return ember_err_set(err, -EMBER_EUSAGE, "stream '%s' has no 'source'",
                             stream_label(n));
    if (!n->n_sinks && !node_is_consumed(g, n->node))
        return ember_err_set(err, -EMBER_EUSAGE,
                             "stream '%s' goes nowhere: give it a 'sink' or read it with "
                             "'stream NAME from %s'",
                             stream_label(n), n->stream[0] ? n->stream : "...");
    if (n->updating_input && job_node_keeps_last(n))
        return ember_err_set(err, -EMBER_EUSAGE,
                             "stream '%s': 'dedupe ... keep=last' over an updating stream (its "
                             "rows change as keys update): dedupe the stream before it is "
                             "aggregated", stream_label(n));
    if (job_node_keeps_last(n) && n->n_aggs)
        return check_retracting(n, err);
    if ((n->updating_input || job_node_keeps_last(n)) && n->top_rows)
        return ember_err_set(err, -EMBER_EUSAGE,
                             "stream '%s': 'top' over an updating stream (%s): rank the "
                             "records before they are aggregated or deduped with keep=last",
                             stream_label(n), job_node_keeps_last(n)
                                                  ? "dedupe keep=last replaces rows"
                                                  : "its rows change as keys update");
    if (n->updating_input && n->n_aggs) {
        int rc = check_retracting(n, err);
        for (int k = 0; !rc && k < n->n_inputs; k++)
            rc = mark_retracts(g, n->inputs[k], err);
        return rc;
    }
    return 0;
}

/* One dead-letter file and one late file per job: the commit record keeps
 * one length of each. One source that cannot re-read (its records are kept
 * in the WAL). */
static int check_job_wide(const struct job_graph *g, ember_err *err)
{
    int dead = 0, late = 0, pulled = 0;
    for (int i = 0; i < g->n; i++) {
        const ember_job *n = g->nodes[i];
        dead += n->on_error == ON_ERROR_DEAD_LETTER;
        late += n->window.late_path != NULL;
        pulled += n->source && !n->source->replayable;
    }
    if (dead > 1)
        return ember_err_set(err, -EMBER_EUSAGE, "%d streams give on-error=dead-letter: a job "
                             "has one dead-letter file", dead);
    if (late > 1)
        return ember_err_set(err, -EMBER_EUSAGE, "%d windows give late=file: a job has one "
                             "late file", late);
    if (pulled > 1)
        return ember_err_set(err, -EMBER_EUSAGE, "%d sources cannot re-read their input "
                             "(socket, stdin, http): a job may have one", pulled);
    return 0;
}

/* A job without a graph: what check_node asks of a node's own steps. */
static int check_node_alone(ember_job *n, ember_err *err)
{
    if (job_node_keeps_last(n) && n->top_rows)
        return ember_err_set(err, -EMBER_EUSAGE, "'top' after 'dedupe ... keep=last' (which "
                             "replaces rows): rank in a stream before the dedupe");
    return job_node_keeps_last(n) && n->n_aggs ? check_retracting(n, err) : 0;
}

int job_graph_complete(ember_job *root, ember_err *err)
{
    struct job_graph *g = root->graph;
    if (!g) /* one linear stream */
        return check_node_alone(root, err);
    if (!g->n)
        return ember_err_set(err, -EMBER_EUSAGE, "job '%s' has no 'source'", root->name);
    for (int i = 0; i < g->n; i++) {
        int rc = check_node(g, g->nodes[i], err);
        if (rc)
            return rc;
    }
    return check_job_wide(g, err);
}

const char *job_node_label(const ember_job *n) { return stream_label(n); }

const source_ops *job_unreplayable_source(const ember_job *job)
{
    for (int i = 0; i < job_node_count(job); i++) {
        const source_ops *src = job_node_at(job, i)->source;
        if (src && !src->replayable)
            return src;
    }
    return NULL;
}

const source_ops *job_first_source(const ember_job *job)
{
    for (int i = 0; i < job_node_count(job); i++)
        if (job_node_at(job, i)->source)
            return job_node_at(job, i)->source;
    return NULL;
}
