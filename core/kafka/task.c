/*
 * kafka_task: a scale-out task's transactions, markers and changelog (see
 * task.h for the protocol, taskmark.h for the markers and their fold).
 */
#include "core/kafka/task.h"
#include "core/base/clock.h"
#include "core/base/log.h"
#include "core/kafka/props.h"

#include <errno.h>
#include <lz4.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TASK_TIMEOUT_MS 10000

static kafka_task *task_of(void *opaque)
{
    return (kafka_task *)((char *)opaque - offsetof(kafka_task, ep));
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    kafka_task *t = task_of(opaque);
    (void)rk;
    t->outstanding--;
    if (m->err) {
        if (!t->dr_failed)
            snprintf(t->dr_error, sizeof t->dr_error, "%s", rd_kafka_err2str(m->err));
        t->dr_failed = 1;
        return;
    }
    if (m->rkt && !strcmp(rd_kafka_topic_name(m->rkt), t->changelog) &&
        m->offset + 1 > t->changelog_next)
        t->changelog_next = m->offset + 1;
}

static int make_clients(kafka_task *t, ember_err *err)
{
    char errstr[512], txn_id[300], group[300];
    snprintf(txn_id, sizeof txn_id, "%s-task-%d", t->job, (int)t->task);
    snprintf(group, sizeof group, "ember-task.%s", t->job);
    const char *produce[] = {"transactional.id", txn_id, "enable.idempotence", "true",
                             "linger.ms", "5", "transaction.timeout.ms", "60000", NULL};
    const char *read[] = {"group.id", group, "enable.auto.commit", "false",
                          "auto.offset.reset", "earliest", "enable.partition.eof", "true",
                          "isolation.level", "read_committed", "fetch.wait.max.ms", "20", NULL};
    rd_kafka_conf_t *pc = kafka_conf_new(&t->ep, produce, NULL, KAFKA_ROLE_PRODUCER, err);
    rd_kafka_conf_t *rc = pc ? kafka_conf_new(&t->ep, read, NULL, KAFKA_ROLE_CONSUMER, err)
                             : NULL;
    if (!rc) {
        if (pc)
            rd_kafka_conf_destroy(pc);
        return err->code;
    }
    rd_kafka_conf_set_dr_msg_cb(pc, on_delivery);
    if (!(t->rk = rd_kafka_new(RD_KAFKA_PRODUCER, pc, errstr, sizeof errstr))) {
        rd_kafka_conf_destroy(pc);
        rd_kafka_conf_destroy(rc);
        return ember_err_set(err, -EINVAL, "task %d: producer: %s", (int)t->task, errstr);
    }
    if (!(t->reader = rd_kafka_new(RD_KAFKA_CONSUMER, rc, errstr, sizeof errstr))) {
        rd_kafka_conf_destroy(rc);
        return ember_err_set(err, -EINVAL, "task %d: reader: %s", (int)t->task, errstr);
    }
    return 0;
}

/* A transactional API error into err (takes it); 1 when the transaction
 * can be aborted and the task go on. */
static int txn_failed(kafka_task *t, const char *call, rd_kafka_error_t *e, ember_err *err)
{
    int abortable = !rd_kafka_error_is_fatal(e);
    rd_kafka_resp_err_t code = rd_kafka_error_code(e);
    /* Kafka fences a producer whose transactional.id a newer one took (the
     * task's new owner): the same as our own markers' verdict. */
    int fenced = code == RD_KAFKA_RESP_ERR__FENCED || code == RD_KAFKA_RESP_ERR_PRODUCER_FENCED ||
                 code == RD_KAFKA_RESP_ERR_INVALID_PRODUCER_EPOCH;
    ember_err_set(err, fenced ? -EMBER_EFENCED : -EIO, "task %d: %s: %s%s", (int)t->task, call,
                  rd_kafka_error_string(e), fenced ? " (fenced: another instance took the task)"
                                                   : "");
    rd_kafka_error_destroy(e);
    return abortable;
}

static int init_txn(kafka_task *t, ember_err *err)
{
    double give_up = em_mono_ms() + TASK_TIMEOUT_MS * 3;
    while (!t->inited) {
        rd_kafka_error_t *e = rd_kafka_init_transactions(t->rk, 1000);
        if (!e) {
            t->inited = 1;
            break;
        }
        int code = rd_kafka_error_code(e);
        if ((code != RD_KAFKA_RESP_ERR__TIMED_OUT && !rd_kafka_error_is_retriable(e)) ||
            em_mono_ms() >= give_up || kafka_stopping(&t->ep)) {
            txn_failed(t, "init_transactions", e, err);
            return err->code;
        }
        rd_kafka_error_destroy(e);
    }
    return 0;
}

int kafka_task_open(kafka_task *t, const char *brokers, const char *job, const char *owner,
                    int32_t task, rd_kafka_t *group, const volatile sig_atomic_t *stop,
                    ember_err *err)
{
    *t = (kafka_task){.task = task, .group = group, .changelog_next = -1};
    snprintf(t->job, sizeof t->job, "%s", job);
    snprintf(t->owner, sizeof t->owner, "%s", owner);
    snprintf(t->markers, sizeof t->markers, "%s-tasks", job);
    snprintf(t->changelog, sizeof t->changelog, "%s-state-changelog", job);
    char what[64];
    snprintf(what, sizeof what, "task %d", (int)task);
    int rc = kafka_endpoint_open(&t->ep, brokers, what, stop, err);
    if (!rc)
        rc = make_clients(t, err);
    return rc ? rc : init_txn(t, err);
}

void kafka_task_close(kafka_task *t)
{
    if (t->rk) {
        kafka_task_abort(t);
        rd_kafka_purge(t->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        rd_kafka_destroy(t->rk);
    }
    if (t->reader) {
        rd_kafka_consumer_close(t->reader);
        rd_kafka_destroy(t->reader);
    }
    kafka_endpoint_close(&t->ep);
    task_chain_free(&t->chain);
    t->rk = t->reader = NULL;
}

/* ------------------------------------------------------------ reading */

static int end_offset(kafka_task *t, const char *topic, int64_t *end, ember_err *err)
{
    int64_t lo = -1;
    rd_kafka_resp_err_t e =
        rd_kafka_query_watermark_offsets(t->reader, topic, t->task, &lo, end, TASK_TIMEOUT_MS);
    return e ? ember_err_set(err, -ETIMEDOUT, "task %d: end of %s: %s", (int)t->task, topic,
                             rd_kafka_err2str(e))
             : 0;
}

static int on_marker(const rd_kafka_message_t *m, void *ctx)
{
    kafka_task *t = ctx;
    taskmark mk;
    ember_err ignored = {0};
    t->markers_read = m->offset + 1;
    if (taskmark_parse(m->payload ? m->payload : "", m->len, &mk, &ignored)) {
        em_log(EMBER_LOG_WARN, "%s partition %d offset %" PRId64 ": %s; ignored", t->markers,
               (int)t->task, m->offset, ignored.msg);
        return 0;
    }
    return task_chain_apply(&t->chain, &mk);
}

int kafka_task_fold(kafka_task *t, ember_err *err)
{
    int64_t end = 0;
    int rc = end_offset(t, t->markers, &end, err);
    if (rc || end <= t->markers_read)
        return rc;
    rc = kafka_scan(t->reader, &t->ep, t->markers, t->task, t->markers_read, end, on_marker, t,
                    err);
    return rc == -ENOMEM ? ember_err_set(err, rc, "out of memory") : rc;
}

typedef struct log_read {
    kafka_task_log_fn fn;
    void *ctx;
} log_read;

static uint64_t header_u64(const rd_kafka_message_t *m, const char *name, int base)
{
    char v[40];
    kafka_header(m, name, v, sizeof v);
    return strtoull(v, NULL, base);
}

static int on_log(const rd_kafka_message_t *m, void *ctx)
{
    log_read *lr = ctx;
    return lr->fn(lr->ctx, header_u64(m, "ember.batch", 10), header_u64(m, "ember.attempt", 16),
                  (uint32_t)header_u64(m, "ember.chunk", 10), m->payload, m->len, m->offset);
}

int kafka_task_read_log(kafka_task *t, int64_t from, kafka_task_log_fn fn, void *ctx,
                        int64_t *end, ember_err *err)
{
    int64_t lo = 0, hi = 0;
    rd_kafka_resp_err_t e =
        rd_kafka_query_watermark_offsets(t->reader, t->changelog, t->task, &lo, &hi,
                                         TASK_TIMEOUT_MS);
    if (e)
        return ember_err_set(err, -ETIMEDOUT, "task %d: offsets of %s: %s", (int)t->task,
                             t->changelog, rd_kafka_err2str(e));
    *end = hi;
    if (from < lo)
        from = lo;
    log_read lr = {fn, ctx};
    return kafka_scan(t->reader, &t->ep, t->changelog, t->task, from, hi, on_log, &lr, err);
}

int kafka_task_partitions(kafka_task *t, const char *topic, int32_t *n, ember_err *err)
{
    int32_t *ids = NULL;
    size_t k = 0;
    int rc = kafka_partitions(t->rk, &t->ep, topic, TASK_TIMEOUT_MS, &ids, &k, err);
    free(ids);
    *n = (int32_t)k;
    return rc;
}

/* ------------------------------------------------------------ writing */

static uint64_t new_attempt(void)
{
    uint64_t a = 0;
    FILE *f = fopen("/dev/urandom", "rb");
    if (f) {
        if (fread(&a, sizeof a, 1, f) != 1)
            a = 0;
        fclose(f);
    }
    a ^= (uint64_t)(em_mono_ms() * 1000.0) * 0x9e3779b97f4a7c15ull;
    return a ? a : 1;
}

static int begin(kafka_task *t, ember_err *err)
{
    if (t->in_txn)
        return 0;
    rd_kafka_error_t *e = rd_kafka_begin_transaction(t->rk);
    if (e) {
        txn_failed(t, "begin_transaction", e, err);
        return err->code;
    }
    t->in_txn = 1;
    t->dr_failed = 0;
    t->outstanding = 0;
    t->attempt = new_attempt();
    return 0;
}

static int produce(kafka_task *t, const char *topic, int32_t partition, const void *key,
                   size_t klen, const void *val, size_t vlen, const char *batch,
                   const char *chunk, ember_err *err)
{
    char task[16], attempt[20];
    snprintf(task, sizeof task, "%d", (int)t->task);
    snprintf(attempt, sizeof attempt, "%016" PRIx64, t->attempt);
    for (;;) {
        rd_kafka_resp_err_t e = rd_kafka_producev(
            t->rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(partition),
            RD_KAFKA_V_KEY(key, klen), RD_KAFKA_V_VALUE((void *)val, vlen),
            RD_KAFKA_V_HEADER("ember.job", t->job, -1), RD_KAFKA_V_HEADER("ember.task", task, -1),
            RD_KAFKA_V_HEADER("ember.batch", batch, -1),
            RD_KAFKA_V_HEADER("ember.attempt", attempt, -1),
            RD_KAFKA_V_HEADER("ember.chunk", chunk ? chunk : "0", -1),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
        if (!e) {
            t->outstanding++;
            return 0;
        }
        if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL)
            return ember_err_set(err, -EIO, "task %d: produce to %s: %s", (int)t->task, topic,
                                 rd_kafka_err2str(e));
        if (kafka_stopping(&t->ep))
            return kafka_stopped(&t->ep, topic, "producing", err);
        rd_kafka_poll(t->rk, 10);
    }
}

int kafka_task_produce(kafka_task *t, const char *topic, int32_t partition, const void *key,
                       size_t klen, const void *val, size_t vlen, uint64_t batch,
                       ember_err *err)
{
    char b[24];
    snprintf(b, sizeof b, "%" PRIu64, batch);
    int rc = begin(t, err);
    if (partition < 0)
        partition = RD_KAFKA_PARTITION_UA;
    return rc ? rc : produce(t, topic, partition, key, klen, val, vlen, b, NULL, err);
}

/* Every record of the running transaction acknowledged (or failed). */
static int await_deliveries(kafka_task *t, ember_err *err)
{
    double give_up = em_mono_ms() + 60000;
    while (t->outstanding > 0) {
        rd_kafka_poll(t->rk, 20);
        if (kafka_stopping(&t->ep))
            return kafka_stopped(&t->ep, "task", "waiting for deliveries", err);
        if (em_mono_ms() >= give_up)
            return ember_err_set(err, -ETIMEDOUT, "task %d: %" PRId64 " records not "
                                 "acknowledged within 60 s", (int)t->task, t->outstanding);
    }
    return t->dr_failed ? ember_err_set(err, -EIO, "task %d: delivery failed: %s",
                                        (int)t->task, t->dr_error)
                        : 0;
}

static int produce_chunks(kafka_task *t, uint64_t batch, const char *delta, size_t len,
                          uint32_t *chunks, ember_err *err);

/* The changelog's form of a delta (see task.h): u32 LE length of the
 * WriteBatch | its lz4 block. malloc'd into *out. */
static int pack(const void *delta, size_t len, char **out, size_t *out_len, ember_err *err)
{
    if (len > (size_t)LZ4_MAX_INPUT_SIZE)
        return ember_err_set(err, -E2BIG, "changelog: a batch's state delta of %zu bytes is "
                             "over lz4's %d", len, LZ4_MAX_INPUT_SIZE);
    int bound = LZ4_compressBound((int)len);
    char *buf = malloc((size_t)bound + 4);
    if (!buf)
        return ember_err_set(err, -ENOMEM, "out of memory");
    for (int i = 0; i < 4; i++)
        buf[i] = (char)(len >> (8 * i));
    int n = LZ4_compress_default(delta, buf + 4, (int)len, bound);
    if (n <= 0 && len) {
        free(buf);
        return ember_err_set(err, -EIO, "changelog: lz4 compression failed");
    }
    *out = buf;
    *out_len = (size_t)n + 4;
    return 0;
}

int kafka_task_unpack(const char *blob, size_t len, char **out, size_t *out_len, ember_err *err)
{
    uint32_t raw = 0;
    if (len < 4)
        return ember_err_set(err, -EMBER_ECORRUPT, "changelog: a delta of %zu bytes", len);
    for (int i = 0; i < 4; i++)
        raw |= (uint32_t)(unsigned char)blob[i] << (8 * i);
    char *buf = malloc(raw + 1);
    if (!buf)
        return ember_err_set(err, -ENOMEM, "out of memory");
    int n = LZ4_decompress_safe(blob + 4, buf, (int)(len - 4), (int)raw);
    if (n < 0 || (uint32_t)n != raw) {
        free(buf);
        return ember_err_set(err, -EMBER_ECORRUPT, "changelog: a delta does not decompress "
                             "(%zu bytes, %u expected)", len, raw);
    }
    *out = buf;
    *out_len = raw;
    return 0;
}

static int produce_delta(kafka_task *t, uint64_t batch, const void *raw, size_t raw_len,
                         uint32_t *chunks, ember_err *err)
{
    char *delta = NULL;
    size_t len = 0;
    int rc = pack(raw, raw_len, &delta, &len, err);
    if (!rc)
        rc = produce_chunks(t, batch, delta, len, chunks, err);
    free(delta);
    return rc;
}

static int produce_chunks(kafka_task *t, uint64_t batch, const char *delta, size_t len,
                          uint32_t *chunks, ember_err *err)
{
    char b[24], c[16], key[24];
    snprintf(b, sizeof b, "%" PRIu64, batch);
    snprintf(key, sizeof key, "task-%d", (int)t->task);
    *chunks = 0;
    for (size_t at = 0; at < len || *chunks == 0; at += KAFKA_TASK_CHUNK_BYTES) {
        size_t n = len - at < KAFKA_TASK_CHUNK_BYTES ? len - at : KAFKA_TASK_CHUNK_BYTES;
        snprintf(c, sizeof c, "%u", *chunks);
        int rc = produce(t, t->changelog, t->task, key, strlen(key), delta + at, n, b, c, err);
        if (rc)
            return rc;
        ++*chunks;
        if (len == 0)
            break;
    }
    return 0;
}

static int send_offsets(kafka_task *t, const rd_kafka_topic_partition_list_t *offsets,
                        ember_err *err)
{
    if (!t->group || !offsets || offsets->cnt == 0)
        return 0;
    rd_kafka_consumer_group_metadata_t *md = rd_kafka_consumer_group_metadata(t->group);
    if (!md)
        return ember_err_set(err, -EIO, "task %d: no consumer group metadata", (int)t->task);
    rd_kafka_error_t *e = rd_kafka_send_offsets_to_transaction(t->rk, offsets, md,
                                                               TASK_TIMEOUT_MS);
    rd_kafka_consumer_group_metadata_destroy(md);
    if (e) {
        txn_failed(t, "send_offsets_to_transaction", e, err);
        return err->code;
    }
    return 0;
}

static int fenced(kafka_task *t, uint64_t batch, ember_err *err)
{
    return ember_err_set(err, -EMBER_EFENCED, "task %d: batch %" PRIu64 " refused: the task "
                         "was claimed by %s at epoch %" PRIu64 " (ours %" PRIu64 "); giving it "
                         "up without writing", (int)t->task, batch, t->chain.owner,
                         t->chain.epoch, t->epoch);
}

static int owned(const kafka_task *t)
{
    return t->chain.epoch == t->epoch && !strcmp(t->chain.owner, t->owner);
}

static int produce_marker(kafka_task *t, const taskmark *m, ember_err *err)
{
    char v[400], key[24], b[24];
    size_t n = taskmark_format(m, v, sizeof v);
    snprintf(key, sizeof key, "task-%d", (int)t->task);
    snprintf(b, sizeof b, "%" PRIu64, m->batch);
    return produce(t, t->markers, t->task, key, strlen(key), v, n, b, NULL, err);
}

static int commit_txn(kafka_task *t, ember_err *err)
{
    rd_kafka_error_t *e = rd_kafka_commit_transaction(t->rk, TASK_TIMEOUT_MS * 3);
    if (e) {
        txn_failed(t, "commit_transaction", e, err);
        return err->code;
    }
    t->in_txn = 0;
    return 0;
}

int kafka_task_commit(kafka_task *t, uint64_t batch, const void *delta, size_t len,
                      const rd_kafka_topic_partition_list_t *offsets, ember_err *err)
{
    uint32_t chunks = 0;
    int rc = begin(t, err);
    if (!rc)
        rc = produce_delta(t, batch, delta, len, &chunks, err);
    if (!rc)
        rc = send_offsets(t, offsets, err);
    if (!rc)
        rc = await_deliveries(t, err);
    if (!rc)
        rc = kafka_task_fold(t, err);
    if (!rc && !owned(t))
        rc = fenced(t, batch, err);
    taskmark m = {.kind = TASKMARK_COMMIT, .epoch = t->epoch, .batch = batch,
                  .attempt = t->attempt, .chunks = chunks};
    snprintf(m.owner, sizeof m.owner, "%s", t->owner);
    if (!rc)
        rc = produce_marker(t, &m, err);
    if (!rc)
        rc = await_deliveries(t, err);
    if (!rc)
        rc = commit_txn(t, err);
    if (rc)
        kafka_task_abort(t);
    return rc;
}

void kafka_task_abort(kafka_task *t)
{
    if (!t->in_txn)
        return;
    rd_kafka_error_t *e = rd_kafka_abort_transaction(t->rk, TASK_TIMEOUT_MS);
    if (e) {
        em_log(EMBER_LOG_WARN, "task %d: abort_transaction: %s", (int)t->task,
               rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
    }
    t->in_txn = 0;
    t->attempt = 0;
}

int kafka_task_claim(kafka_task *t, ember_err *err)
{
    int rc = kafka_task_fold(t, err);
    if (rc)
        return rc;
    taskmark m = {.kind = TASKMARK_CLAIM, .epoch = t->chain.epoch + 1, .base = t->chain.head};
    snprintf(m.owner, sizeof m.owner, "%s", t->owner);
    t->epoch = m.epoch;
    if (!(rc = begin(t, err)) && !(rc = produce_marker(t, &m, err)) &&
        !(rc = await_deliveries(t, err)))
        rc = commit_txn(t, err);
    if (rc) {
        kafka_task_abort(t);
        return rc;
    }
    t->attempt = 0;
    if ((rc = kafka_task_fold(t, err)))
        return rc;
    if (!owned(t) && t->chain.epoch < t->epoch)
        return ember_err_set(err, -EAGAIN, "task %d: batch %" PRIu64 " was committed after the "
                             "restore read the log", (int)t->task, t->chain.head);
    if (!owned(t))
        return ember_err_set(err, -EMBER_EFENCED, "task %d: claimed by %s at epoch %" PRIu64
                             " first", (int)t->task, t->chain.owner, t->chain.epoch);
    em_log(EMBER_LOG_INFO, "task %d: claimed at epoch %" PRIu64 " (restored to batch %" PRIu64
           ")", (int)t->task, t->epoch, t->chain.head);
    return 0;
}
