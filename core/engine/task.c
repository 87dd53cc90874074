/*
 * task: a scale-out task's restore and commit inside the engine (see
 * task.h; the markers and their fold are core/kafka/taskmark.h).
 *
 * Restore, at open, before the claim:
 *   1. fold the task's markers: head = the newest counted batch;
 *   2. the local commit c (the runner removed a local state whose c is not
 *      counted, so c <= head and batch c is ours or was applied here);
 *   3. read the changelog from the local "task/changelog_next" (else from
 *      its start) and apply, in log order, the chunks of batch b only when
 *      c < b <= head and their attempt is the one counted for b; each
 *      batch is one WriteBatch (commit record, offsets and counters
 *      inside) plus the two task meta keys;
 *   4. every batch up to head applied, else the changelog lost some
 *      (retention, deleted topic): -EMBER_EDATALOSS;
 *   5. claim the task (epoch + 1, base = head): from now on a commit of
 *      the previous owner does not count (F1, F3); when the previous owner
 *      committed another batch before the claim landed, the claim does
 *      not count either: back to 1.
 */
#include "core/engine/task.h"
#include "core/base/log.h"
#include "core/engine/engine.h"
#include "state/layout.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

typedef struct restore_ctx {
    task_rt *rt;
    store *st;
    uint64_t local; /* newest batch in the local state */
    char *buf;      /* the chunks of the batch being gathered */
    size_t len, cap;
    uint64_t batch; /* it, 0 = none */
    uint32_t got;
    int rc;
    ember_err *err;
} restore_ctx;

static int gather(restore_ctx *c, uint64_t batch, uint32_t chunk, const void *data, size_t len)
{
    if (c->batch != batch || chunk == 0) {
        c->batch = batch;
        c->len = 0;
        c->got = 0;
    }
    if (chunk != c->got)
        return 0; /* a chunk of a gathering we already restarted */
    if (c->len + len > c->cap) {
        size_t cap = (c->len + len) * 2;
        char *p = realloc(c->buf, cap);
        if (!p)
            return ember_err_set(c->err, -ENOMEM, "out of memory");
        c->buf = p;
        c->cap = cap;
    }
    memcpy(c->buf + c->len, data, len);
    c->len += len;
    c->got++;
    return 0;
}

static int apply_batch(restore_ctx *c, uint64_t attempt, int64_t next_offset)
{
    char *raw = NULL;
    size_t raw_len = 0;
    int rc = kafka_task_unpack(c->buf, c->len, &raw, &raw_len, c->err);
    if (rc)
        return ember_err_prefix(c->err, "task %d: batch %" PRIu64, (int)c->rt->id, c->batch);
    store_batch *wb = store_batch_from(raw, raw_len);
    free(raw);
    if (!wb)
        return ember_err_set(c->err, -ENOMEM, "out of memory");
    layout_put_u64(wb, c->st, META_TASK_ATTEMPT, attempt);
    layout_put_u64(wb, c->st, META_TASK_CHANGELOG, (uint64_t)next_offset);
    rc = store_write(c->st, wb, 0, c->err);
    store_batch_free(wb);
    if (rc)
        return ember_err_prefix(c->err, "task %d: restoring batch %" PRIu64, (int)c->rt->id,
                                c->batch);
    c->local = c->batch;
    c->rt->restored_batches++;
    c->rt->restored_bytes += c->len;
    c->batch = 0;
    return 0;
}

static int on_record(void *ctx, uint64_t batch, uint64_t attempt, uint32_t chunk,
                     const void *data, size_t len, int64_t offset)
{
    restore_ctx *c = ctx;
    const task_chain *chain = &c->rt->kt.chain;
    if (batch <= c->local || batch > chain->head || attempt != task_chain_attempt(chain, batch))
        return 0; /* another attempt's, or already here */
    int rc = gather(c, batch, chunk, data, len);
    if (!rc && c->got == task_chain_chunks(chain, batch))
        rc = apply_batch(c, attempt, offset + 1);
    return rc;
}

static int local_u64(store *st, const char *key, uint64_t *v, ember_err *err)
{
    int rc = layout_get_u64(st, key, v, err);
    if (rc == -ENOENT)
        rc = 0, *err = (ember_err){0};
    return rc;
}

static int apply_changelog(task_rt *rt, recovery *r, ember_err *err)
{
    uint64_t from = 0;
    int64_t end = 0;
    restore_ctx c = {.rt = rt, .st = r->st, .local = r->last.batch, .err = err};
    int rc = r->last.batch ? local_u64(r->st, META_TASK_CHANGELOG, &from, err) : 0;
    rt->restore_from = from;
    rt->restore_batches = rt->kt.chain.head - c.local;
    if (!rc)
        rc = kafka_task_read_log(&rt->kt, (int64_t)from, on_record, &c, &end, err);
    free(c.buf);
    if (!rc && c.local != rt->kt.chain.head)
        rc = ember_err_set(err, -EMBER_EDATALOSS, "task %d: the changelog %s holds batches up "
                           "to %" PRIu64 " of the %" PRIu64 " its markers count (from offset %"
                           PRIu64 " to %" PRId64 "): was it deleted or cut by retention?",
                           (int)rt->id, rt->kt.changelog, c.local, rt->kt.chain.head, from, end);
    if (!rc && rt->restored_batches) {
        store_batch *sync = store_batch_new();
        rc = sync ? store_write(r->st, sync, 1, err) : ember_err_set(err, -ENOMEM, "oom");
        store_batch_free(sync);
    }
    return rc;
}

/* Steps 1-4: the local state up to the counted head. */
static int catch_up(task_rt *rt, recovery *r, ember_err *err)
{
    double t0 = em_mono_ms();
    uint64_t before = rt->restored_batches;
    int rc = kafka_task_fold(&rt->kt, err);
    if (!rc && r->last.batch > rt->kt.chain.head)
        rc = ember_err_set(err, -EMBER_ECORRUPT, "task %d: the local state is at batch %" PRIu64
                           " but the task's markers count only %" PRIu64, (int)rt->id,
                           r->last.batch, rt->kt.chain.head);
    if (rc || r->last.batch == rt->kt.chain.head)
        return rc;
    rc = apply_changelog(rt, r, err);
    if (!rc)
        rc = recovery_reread(r, err);
    if (!rc)
        em_log(EMBER_LOG_INFO, "task %d: restored batches %" PRIu64 "..%" PRIu64 " (%" PRIu64
               " bytes in all) from %s in %.0f ms", (int)rt->id,
               r->last.batch - (rt->restored_batches - before) + 1, r->last.batch,
               rt->restored_bytes, rt->kt.changelog, em_mono_ms() - t0);
    return rc;
}

int task_restore(struct engine *e, recovery *r, ember_err *err)
{
    task_rt *rt = e->job->task;
    double t0 = em_mono_ms();
    rt->phase = TASK_RESTORING;
    int rc = -EAGAIN;
    /* Step 5; a claim the previous owner overtook (F3) catches up again. */
    for (int tries = 0; rc == -EAGAIN && tries < 50; tries++) {
        *err = (ember_err){0};
        rc = catch_up(rt, r, err);
        if (!rc)
            rc = kafka_task_claim(&rt->kt, err);
    }
    rt->restore_ms = em_mono_ms() - t0;
    rt->committed = r->last.batch;
    for (size_t j = 0; j < r->last.n_ends; j++)
        if (r->last.ends[j].partition == (uint32_t)rt->id)
            rt->offset = (int64_t)r->last.ends[j].to;
    rt->phase = rc ? TASK_ENDED : TASK_RUNNING;
    return rc;
}

/* The input end offsets of the batch, per Kafka topic. */
static rd_kafka_topic_partition_list_t *batch_offsets(engine *e)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(8);
    for (int i = 0; i < e->n_nodes; i++) {
        node_rt *n = &e->nodes[i];
        if (!n->job->source || strcmp(n->job->source->kind, "kafka"))
            continue;
        const char *topic = opts_str(&n->job->source_opts, "topic");
        for (size_t j = 0; j < e->last.n_ends; j++)
            if (e->last.ends[j].partition >> SRC_TAG_SHIFT == n->src_tag)
                rd_kafka_topic_partition_list_add(
                    l, topic, (int32_t)(e->last.ends[j].partition & ((1u << SRC_TAG_SHIFT) - 1)))
                    ->offset = (int64_t)e->last.ends[j].to;
    }
    return l;
}

int task_commit(struct engine *e, struct batch_ctx *b, ember_err *err)
{
    task_rt *rt = e->job->task;
    size_t len = 0;
    const char *delta = store_batch_data(b->wb, &len);
    rd_kafka_topic_partition_list_t *offsets = batch_offsets(e);
    int rc = kafka_task_commit(&rt->kt, b->batch, delta, len, offsets, err);
    rd_kafka_topic_partition_list_destroy(offsets);
    if (rc == -EMBER_EFENCED)
        rt->fenced = 1;
    if (rc)
        return rc;
    layout_put_u64(b->wb, e->st, META_TASK_ATTEMPT, rt->kt.attempt);
    layout_put_u64(b->wb, e->st, META_TASK_CHANGELOG, (uint64_t)rt->kt.changelog_next);
    rt->committed = b->batch;
    for (size_t j = 0; j < e->last.n_ends; j++)
        if (e->last.ends[j].partition == (uint32_t)rt->id)
            rt->offset = (int64_t)e->last.ends[j].to;
    return 0;
}
