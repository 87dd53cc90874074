/*
 * kafka_upstream: `source kafka ... upstream=JOB`, the reading side of
 * scale-out's repartition topic (README, "Scale-out"). Its records were
 * written by the tasks of JOB (the first stage of a repartitioned job),
 * each in a transaction of its task, with headers ember.task, ember.batch,
 * ember.attempt; JOB's task markers (`JOB-tasks`, core/kafka/taskmark.h)
 * say which attempts counted. The source
 *   plans  a partition only up to its first record whose batch the markers
 *          have not decided yet (its task's newest counted batch is older):
 *          a counted batch stays counted, so every offset before that one
 *          is decided for good and a replayed range reads the same;
 *   reads  only the records of counted attempts (others: an aborted
 *          attempt's, a zombie's, which the embedded broker shows),
 *          folding the markers again when a record is newer than what it
 *          folded (a planned batch replayed by a new process).
 */
#include "core/source/kafka_source.h"
#include "core/kafka/taskmark.h"

struct kupstream {
    char markers[300];
    rd_kafka_t *reader; /* assign-only consumer: the markers, the plan's look-ahead */
    task_chain *chains; /* per upstream task (partition of the markers topic) */
    int64_t *folded;
    size_t n;
};

static int make_reader(kafka_source *s, kupstream *u, ember_err *err)
{
    char errstr[512], group[400];
    snprintf(group, sizeof group, "ember-upstream.%s", u->markers);
    const char *read[] = {"group.id", group, "enable.auto.commit", "false",
                          "auto.offset.reset", "earliest", "enable.partition.eof", "true",
                          "fetch.wait.max.ms", "20", NULL};
    rd_kafka_conf_t *c = kafka_conf_new(&s->ep, read, s->props, KAFKA_ROLE_CONSUMER, err);
    if (!c)
        return err->code;
    if (!(u->reader = rd_kafka_new(RD_KAFKA_CONSUMER, c, errstr, sizeof errstr))) {
        rd_kafka_conf_destroy(c);
        return ember_err_set(err, -EINVAL, "%s: %s", s->what, errstr);
    }
    return 0;
}

int ku_open(kafka_source *s, const char *job, ember_err *err)
{
    kupstream *u = calloc(1, sizeof *u);
    int32_t *ids = NULL;
    if (!u)
        return ember_err_set(err, -ENOMEM, "out of memory");
    s->up = u;
    snprintf(u->markers, sizeof u->markers, "%s-tasks", job);
    int rc = make_reader(s, u, err);
    if (!rc)
        rc = kafka_partitions(u->reader, &s->ep, u->markers, REQUEST_TIMEOUT_MS, &ids, &u->n,
                              err);
    free(ids);
    if (rc == -ENOENT)
        return ember_err_set(err, -ENOENT, "%s: upstream=%s: topic %s does not exist", s->what,
                             job, u->markers);
    if (!rc && (!(u->chains = calloc(u->n + 1, sizeof *u->chains)) ||
                !(u->folded = calloc(u->n + 1, sizeof *u->folded))))
        rc = ember_err_set(err, -ENOMEM, "out of memory");
    return rc;
}

void ku_close(kafka_source *s)
{
    kupstream *u = s->up;
    if (!u)
        return;
    for (size_t i = 0; u->chains && i < u->n; i++)
        task_chain_free(&u->chains[i]);
    if (u->reader) {
        rd_kafka_consumer_close(u->reader);
        rd_kafka_destroy(u->reader);
    }
    free(u->chains);
    free(u->folded);
    free(u);
    s->up = NULL;
}

typedef struct fold_ctx {
    kupstream *u;
    size_t task;
} fold_ctx;

static int on_marker(const rd_kafka_message_t *m, void *ctx)
{
    fold_ctx *f = ctx;
    taskmark mk;
    ember_err ignored = {0};
    f->u->folded[f->task] = m->offset + 1;
    if (taskmark_parse(m->payload ? m->payload : "", m->len, &mk, &ignored))
        return 0; /* not a marker: counts for nothing */
    return task_chain_apply(&f->u->chains[f->task], &mk);
}

/* Folds what the upstream tasks' markers gained since the last call. */
static int ku_refresh(kafka_source *s, ember_err *err)
{
    kupstream *u = s->up;
    for (size_t i = 0; i < u->n; i++) {
        int64_t lo = -1, hi = -1;
        rd_kafka_resp_err_t e = rd_kafka_query_watermark_offsets(u->reader, u->markers,
                                                                 (int32_t)i, &lo, &hi,
                                                                 REQUEST_TIMEOUT_MS);
        if (e)
            return ember_err_set(err, -ETIMEDOUT, "%s: end of %s: %s", s->what, u->markers,
                                 rd_kafka_err2str(e));
        fold_ctx f = {u, i};
        int rc = kafka_scan(u->reader, &s->ep, u->markers, (int32_t)i, u->folded[i], hi,
                            on_marker, &f, err);
        if (rc)
            return rc == -ENOMEM ? ember_err_set(err, rc, "out of memory") : rc;
    }
    return 0;
}

/* The record's (task, batch, attempt); 0 when it has no task header. */
static int origin(const rd_kafka_message_t *m, uint64_t *task, uint64_t *batch,
                  uint64_t *attempt)
{
    char v[40];
    kafka_header(m, "ember.task", v, sizeof v);
    if (!v[0])
        return 0;
    *task = strtoull(v, NULL, 10);
    kafka_header(m, "ember.batch", v, sizeof v);
    *batch = strtoull(v, NULL, 10);
    kafka_header(m, "ember.attempt", v, sizeof v);
    *attempt = strtoull(v, NULL, 16);
    return 1;
}

int ku_counts(kafka_source *s, const rd_kafka_message_t *m, ember_err *err)
{
    uint64_t task, batch, attempt;
    kupstream *u = s->up;
    if (!origin(m, &task, &batch, &attempt) || task >= u->n)
        return 0;
    int rc = batch > u->chains[task].head ? ku_refresh(s, err) : 0;
    if (rc)
        return rc;
    if (batch > u->chains[task].head)
        return ember_err_set(err, -EMBER_ECORRUPT, "%s partition %d offset %" PRId64 ": batch %"
                             PRIu64 " of upstream task %" PRIu64 " is planned but %s counts "
                             "only up to batch %" PRIu64 " (the markers topic lost records?)",
                             s->what, (int)m->partition, m->offset, batch, task, u->markers,
                             u->chains[task].head);
    return task_chain_attempt(&u->chains[task], batch) == attempt;
}

typedef struct look_ctx {
    kupstream *u;
    int64_t stop; /* first undecided offset */
} look_ctx;

static int on_look(const rd_kafka_message_t *m, void *ctx)
{
    look_ctx *l = ctx;
    uint64_t task, batch, attempt;
    if (!origin(m, &task, &batch, &attempt) || task >= l->u->n ||
        batch <= l->u->chains[task].head)
        return 0; /* decided: counted or not, for good */
    l->stop = m->offset;
    return 1;
}

/* *end lowered to partition p's first undecided offset in [from, *end);
 * the look-ahead reads at most `budget` records. */
int ku_decided_end(kafka_source *s, int32_t p, int64_t from, int64_t *end, uint64_t budget,
                   ember_err *err)
{
    int64_t to = *end;
    if (budget && to - from > (int64_t)budget)
        to = from + (int64_t)budget;
    if (to <= from)
        return 0;
    look_ctx l = {s->up, -1};
    int rc = ku_refresh(s, err);
    if (!rc)
        rc = kafka_scan(s->up->reader, &s->ep, s->topic, p, from, to, on_look, &l, err);
    if (!rc)
        *end = l.stop >= 0 ? l.stop : to;
    return rc;
}
