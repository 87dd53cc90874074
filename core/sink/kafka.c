/*
 * sink_kafka: `sink kafka brokers=B topic=T [markers=M] [transactional-id=X]`,
 * exactly-once output into Kafka through a transactional producer.
 *
 * Records: one per output row; key = the row's key fields, value = the whole
 * row, both in the row format (format=csv|tsv|json, core/ops/rowfmt.h; json
 * keys are objects of the key fields; without format= tab-separated as
 * before, value_format's text, nothing escaped), partition =
 * murmur2(key) mod partitions (Kafka's default, so output is partitioned by
 * key); headers ember.job = job name, ember.batch = batch id.
 *
 * Protocol for batch b (commit step):
 *   1. begin a transaction;
 *   2. produce b's rows, except the first present[p] of each partition p
 *      (rows of b an interrupted attempt already left in the topic);
 *   3. wait for every delivery report (so a marker never precedes a row);
 *   4. produce the marker (key = job name, value "batch=b ends=p:o,...") to
 *      the control topic M (default T.ember-markers; may be compacted);
 *   5. commit the transaction.
 * recover() first calls init_transactions (on Kafka this fences a previous
 * instance and aborts its open transaction), then reads the newest marker of
 * this job with isolation.level=read_committed: batches up to it are skipped
 * by begin(); for the next batch it counts, per partition after the marker's
 * end offsets, the records of that batch already there. A real broker hides
 * aborted records from read_committed readers, so that count is 0; a broker
 * without transaction isolation (librdkafka's mock, `ember broker`) shows
 * them, and skipping them keeps the topic exactly-once there too. Rows of a
 * batch are deterministic (same rows, same order on replay), so what a
 * broken attempt left is a prefix of each partition's rows.
 *
 * Output identity: every marker and every row names the checkpoint that
 * wrote it (marker field ckpt=ID, row header ember.checkpoint; ID is
 * DIR/ID, see checkpoint/ckdir.h). Marker value:
 *   batch=B ckpt=ID [start] [over=ID2] ends=P:O,...
 * `start` opens this id's marker sequence (its first marker, or the one
 * --reset-output writes), `over` names the checkpoint whose sequence ours
 * took over. At start the newest marker of the job must be ours (or one
 * of the sequence we took over): markers of another checkpoint after our
 * newest one mean the topic holds another checkpoint's batches (an old
 * run's, with a deleted or another --dir, whose batch numbers would
 * suppress ours), and the job refuses to start unless --reset-output
 * (then a `start` marker at the topic's current end opens our sequence).
 * While running, before each commit, the marker partition is read from
 * where it was last checked up to our own new marker: a marker of this job
 * from another checkpoint there is a second copy writing the same topic.
 * Kafka fences a second producer with the same transactional.id; the
 * embedded broker does not, so ember stops on its own markers' evidence.
 *
 * Failures: an abortable transaction error (a delivery timed out while the
 * cluster was down...) aborts, recounts what is present and tries the batch
 * again with backoff, for as long as it takes; a fatal one (fenced by
 * another instance with the same transactional.id) stops the job with a
 * message.
 *
 * Oversized rows: a row whose record is over the producer's
 * message.max.bytes (check_size, counted before producing so a replay
 * skips the same rows) stops the job, or with on-oversize=dead-letter:PATH
 * is appended to PATH instead of produced (core/sink/dead_letter.h: the
 * length is sealed before the transaction commits, cut back at recover).
 * A record the broker refuses as too large (its limit below the
 * producer's) is set aside the same way and the batch tried again.
 *
 * kafka.NAME=VALUE options (core/kafka/props.h) reach the producer
 * (producer and general properties) and the reader (consumer and general
 * ones); the properties the protocol above depends on are refused.
 */
#include "core/sink/kafka_sink.h"
#include "core/kafka/client.h"
#include "core/base/clock.h"
#include "core/base/log.h"
#include "core/kafka/mock.h"
#include "core/kafka/props.h"
#include "core/sink/dead_letter.h"
#include "core/sink/sink.h"
#include "core/ops/text.h"
#include "core/base/array.h"

#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REQUEST_TIMEOUT_MS 5000
#define TXN_TIMEOUT_MS 60000 /* transaction.timeout.ms: records not acknowledged by then fail */
#define EMBEDDED_PARTITIONS 4
#define CKPT_ID_LEN 32
#define MAX_RIVALS 8

static const opt_def kafka_sink_options[] = {
    {"brokers", OPT_STR, NULL, NULL,
     "bootstrap servers HOST:PORT[,HOST:PORT...], or `embedded` (an in-process broker)"},
    {"topic", OPT_STR, NULL, NULL,
     "output topic: one record per row, key = key fields, value = row (in format=)"},
    {"format", OPT_ENUM, "", ROWFMT_NAMES,
     "key and value format: csv, tsv (PostgreSQL text COPY), json (an object); default: "
     "tab-separated values unescaped, as before format= existed"},
    {"markers", OPT_STR, "", NULL, "control topic of batch markers (default TOPIC.ember-markers)"},
    {"transactional-id", OPT_STR, "", NULL, "producer transactional.id (default ember-JOB)"},
    {"partition-by", OPT_STR, "", NULL,
     "fields F1,F2 that make the record key and so the partition (default: the row's key)"},
    {"timeout", OPT_DURATION, "30s", NULL,
     "how long to wait for the cluster at start before giving up (0 = forever)"},
    {"on-oversize", OPT_ENUM, "fail", "fail|dead-letter:",
     "a row whose record is over the size limit (kafka.message.max.bytes): stop the job, or "
     "append it to dead-letter:PATH (once, across restarts)"},
    KAFKA_PROPS_OPTION,
    {0},
};

/* What ember sets itself on the sink's clients (see make_clients). */
static const kafka_protected kafka_sink_protected[] = {
    {"metadata.broker.list", "use brokers="},
    {"transactional.id", "use transactional-id="},
    {"enable.idempotence", "transactions need it"},
    {"request.required.acks", "transactions need acks=all"},
    {"isolation.level", "the marker reader reads only committed records (read_committed)"},
    {"enable.auto.commit", "the marker reader commits no offsets"},
    {"group.id", "the marker reader's group is ember-sink.JOB"},
    {"auto.offset.reset", "the marker reader must see a range gone from the log"},
    {"enable.partition.eof", "the marker reader needs to see where a range ends"},
    {0},
};

/* ------------------------------------------------------------ clients */

/* A row's message carries its index + 1 as opaque, the marker's NULL; the
 * client's opaque is the endpoint, the sink's first member. */
static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    if (!opaque)
        return;
    kafka_sink *s = (kafka_sink *)((char *)opaque - offsetof(kafka_sink, ep));
    uintptr_t row = (uintptr_t)m->_private;
    if (m->err == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE && row && row <= s->n_rows)
        s->rows[row - 1].refused = 1;
    if (m->err) {
        if (!s->dr_failed++) {
            s->dr_err = m->err;
            snprintf(s->dr_error, sizeof s->dr_error, "%s", rd_kafka_err2str(m->err));
        }
        return;
    }
    if (m->partition >= 0 && m->partition < s->n_parts &&
        m->offset + 1 > s->dr_ends[m->partition] && m->rkt &&
        strcmp(rd_kafka_topic_name(m->rkt), s->topic) == 0)
        s->dr_ends[m->partition] = m->offset + 1;
    else if (m->rkt && strcmp(rd_kafka_topic_name(m->rkt), s->markers) == 0) {
        s->marker_part = m->partition;
        s->marker_off = m->offset;
    }
}

static int make_clients(kafka_sink *s, ember_err *err)
{
    char errstr[512], group[300];
    const char *produce[] = {"transactional.id", s->txn_id, "enable.idempotence", "true",
                             "linger.ms", "5", "transaction.timeout.ms", "60000", NULL};
    snprintf(group, sizeof group, "ember-sink.%s", s->job);
    const char *read[] = {"group.id", group, "enable.auto.commit", "false",
                          "auto.offset.reset", "error", "enable.partition.eof", "true",
                          "isolation.level", "read_committed", "fetch.wait.max.ms", "20",
                          NULL};
    rd_kafka_conf_t *pc = kafka_conf_new(&s->ep, produce, s->props, KAFKA_ROLE_PRODUCER, err);
    rd_kafka_conf_t *rc = pc ? kafka_conf_new(&s->ep, read, s->props, KAFKA_ROLE_CONSUMER, err)
                             : NULL;
    if (!rc) {
        if (pc)
            rd_kafka_conf_destroy(pc);
        return err->code;
    }
    size_t len = sizeof errstr;
    if (rd_kafka_conf_get(pc, "message.max.bytes", errstr, &len) == RD_KAFKA_CONF_OK)
        s->max_record = strtoll(errstr, NULL, 10);
    rd_kafka_conf_set_dr_msg_cb(pc, on_delivery);
    if (!(s->rk = rd_kafka_new(RD_KAFKA_PRODUCER, pc, errstr, sizeof errstr))) {
        rd_kafka_conf_destroy(pc);
        rd_kafka_conf_destroy(rc);
        return ember_err_set(err, -EINVAL, "%s: %s", s->what, errstr);
    }
    if (!(s->reader = rd_kafka_new(RD_KAFKA_CONSUMER, rc, errstr, sizeof errstr))) {
        rd_kafka_conf_destroy(rc);
        return ember_err_set(err, -EINVAL, "%s: %s", s->what, errstr);
    }
    return 0;
}

/* The output topic's partition count; naming the topic in a producer's
 * metadata request lets a broker that allows it create the topic. */
static int output_partitions(kafka_sink *s, ember_err *err)
{
    double give_up = em_mono_ms() + (double)s->timeout_ms;
    kafka_backoff b = {0};
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(s->rk, s->topic, NULL);
    if (!rkt)
        return ember_err_set(err, -EINVAL, "%s: %s", s->what,
                             rd_kafka_err2str(rd_kafka_last_error()));
    int rc;
    for (;;) {
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_resp_err_t e = 0;
        rc = kafka_metadata(s->rk, &s->ep, rkt, REQUEST_TIMEOUT_MS, &md, err);
        if (!rc && md->topic_cnt == 1 && !md->topics[0].err && md->topics[0].partition_cnt > 0)
            s->n_parts = md->topics[0].partition_cnt;
        else if (!rc)
            e = md->topic_cnt == 1 && md->topics[0].err ? md->topics[0].err
                                                         : RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE;
        if (md)
            rd_kafka_metadata_destroy(md);
        rd_kafka_poll(s->rk, 0);
        if (s->n_parts > 0)
            return rd_kafka_topic_destroy(rkt), 0;
        if (e == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART)
            rc = ember_err_set(err, -ENOENT, "%s: topic '%s' does not exist at %s and the "
                               "cluster does not create topics", s->what, s->topic, s->ep.shown);
        else if (e)
            rc = ember_err_set(err, -ETIMEDOUT, "topic '%s' at %s: %s", s->topic, s->ep.shown,
                               rd_kafka_err2str(e));
        if (rc == -ENOENT || rc == -ECANCELED)
            break;
        if (s->timeout_ms && em_mono_ms() >= give_up) {
            ember_err_prefix(err, "%s: gave up after %lld ms", s->what, (long long)s->timeout_ms);
            break;
        }
        if ((rc = kafka_backoff_wait(&b, &s->ep, s->what, err->msg, err)))
            break;
    }
    rd_kafka_topic_destroy(rkt);
    return rc;
}

static int alloc_parts(kafka_sink *s, ember_err *err)
{
    size_t n = (size_t)s->n_parts;
    s->ends = malloc(n * sizeof *s->ends);
    s->dr_ends = malloc(n * sizeof *s->dr_ends);
    s->present = calloc(n, sizeof *s->present);
    s->seen = calloc(n, sizeof *s->seen);
    if (!s->ends || !s->dr_ends || !s->present || !s->seen)
        return ember_err_set(err, -ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++)
        s->ends[i] = s->dr_ends[i] = -1;
    return 0;
}

static char *dup_or_default(const char *v, const char *fmt, const char *arg)
{
    char buf[512];
    if (*v)
        return strdup(v);
    snprintf(buf, sizeof buf, fmt, arg);
    return strdup(buf);
}

static int ksink_check(const opt_set *opts, ember_err *err)
{
    return kafka_props_check(opts, "sink kafka", KAFKA_ROLE_PRODUCER | KAFKA_ROLE_CONSUMER,
                             kafka_sink_protected, err);
}

/* on-oversize=dead-letter:PATH; its committed length is kept in
 * CHECKPOINT/sink-kafka.TOPIC.dead-letter-length (core/sink/dead_letter.h). */
static int open_dead_letter(kafka_sink *s, const char *on_oversize, const sink_env *env,
                            ember_err *err)
{
    char name[300];
    if (strncmp(on_oversize, "dead-letter:", 12))
        return 0;
    s->dead_on = 1;
    snprintf(name, sizeof name, "sink-kafka.%s", s->topic);
    int rc = sink_dead_letter_open(&s->dead, on_oversize + 12, env->checkpoint_dir, name, err);
    return rc ? ember_err_prefix(err, "%s: on-oversize", s->what) : 0;
}

static int ksink_open(sink *snk, const opt_set *opts, const sink_env *env, ember_err *err)
{
    kafka_sink *s = calloc(1, sizeof *s);
    if (!s)
        return ember_err_set(err, -ENOMEM, "out of memory");
    snk->impl = s;
    s->topic = strdup(opts_str(opts, "topic"));
    s->job = strdup(env->job_name);
    s->markers = dup_or_default(opts_str(opts, "markers"), "%s.ember-markers", s->topic);
    char job_id[300]; /* a job's second sink has its own transactional id */
    snprintf(job_id, sizeof job_id, "%s%s%s", env->job_name,
             env->sink_id && env->sink_id[0] ? "-" : "", env->sink_id ? env->sink_id : "");
    s->txn_id = dup_or_default(opts_str(opts, "transactional-id"), "ember-%s", job_id);
    if (!s->topic || !s->job || !s->markers || !s->txn_id)
        return ember_err_set(err, -ENOMEM, "out of memory");
    snprintf(s->what, sizeof s->what, "sink kafka topic %s", s->topic);
    s->n_keys = env->n_key_fields;
    s->schema = env->rows;
    s->format = (rowfmt)rowfmt_from_name(opts_str(opts, "format"));
    s->timeout_ms = opts_int(opts, "timeout");
    s->reset = env->reset_output;
    s->ckpt_dir = strdup(env->checkpoint_dir);
    if (!s->ckpt_dir)
        return ember_err_set(err, -ENOMEM, "out of memory");
    s->marker_part = -1;
    snprintf(s->id, sizeof s->id, "%s", env->checkpoint_id ? env->checkpoint_id : "");
    if (strlen(s->id) != CKPT_ID_LEN)
        return ember_err_set(err, -EINVAL, "%s: no checkpoint id", s->what);
    s->props = opts;
    s->header_bytes = 3 * HEADER_FRAMING + strlen("ember.job") + strlen(s->job) +
                      strlen("ember.batch") + strlen("ember.checkpoint") + CKPT_ID_LEN;
    int rc = ks_partition_by(s, opts_str(opts, "partition-by"), env->rows, err);
    if (!rc)
        rc = open_dead_letter(s, opts_str(opts, "on-oversize"), env, err);
    if (!rc)
        rc = kafka_endpoint_open(&s->ep, opts_str(opts, "brokers"), s->what, env->stop, err);
    if (!rc && s->ep.embedded && !(rc = kafka_mock_embedded_topic(s->topic, EMBEDDED_PARTITIONS,
                                                                   err)))
        rc = kafka_mock_embedded_topic(s->markers, 1, err);
    if (!rc && env->task) {
        s->task = env->task;
        rc = kafka_task_partitions(s->task, s->topic, &s->n_parts, err);
        return rc ? rc : alloc_parts(s, err);
    }
    if (!rc)
        rc = make_clients(s, err);
    if (!rc)
        rc = output_partitions(s, err);
    return rc ? rc : alloc_parts(s, err);
}

/* Classifies a transactional API error: 1 = abort and try the batch again,
 * 2 = call again, <0 = stop (fatal, with a message). Takes the error. */
int ks_txn_error(kafka_sink *s, const char *call, rd_kafka_error_t *e, ember_err *err)
{
    int rc = rd_kafka_error_is_fatal(e)        ? 0
             : rd_kafka_error_txn_requires_abort(e) ? 1
             : rd_kafka_error_is_retriable(e)  ? 2
                                               : 0;
    if (rc == 0) {
        rd_kafka_resp_err_t code = rd_kafka_error_code(e);
        ember_err_set(err, -EIO, "%s: %s: %s%s", s->what, call, rd_kafka_error_string(e),
                      code == RD_KAFKA_RESP_ERR__FENCED || code == RD_KAFKA_RESP_ERR_PRODUCER_FENCED
                          ? " (another process uses transactional.id; is the job running twice?)"
                          : "");
        rc = err->code;
    } else {
        snprintf(err->msg, sizeof err->msg, "%s: %s", call, rd_kafka_error_string(e));
    }
    rd_kafka_error_destroy(e);
    return rc;
}

typedef rd_kafka_error_t *(*txn_call_fn)(rd_kafka_t *rk, int timeout_ms);

/* A transactional call given REQUEST_TIMEOUT_MS in slices, so that a stop is
 * seen (librdkafka resumes a call that timed out when it is made again).
 * NULL when done; the error otherwise; *stopped = 1 (NULL) on a stop. */
static rd_kafka_error_t *txn_sliced(kafka_sink *s, txn_call_fn call, int *stopped)
{
    double give_up = em_mono_ms() + REQUEST_TIMEOUT_MS;
    *stopped = 0;
    for (;;) {
        rd_kafka_error_t *e = call(s->rk, kafka_slice_ms(give_up));
        if (!e || rd_kafka_error_code(e) != RD_KAFKA_RESP_ERR__TIMED_OUT ||
            em_mono_ms() >= give_up)
            return e;
        rd_kafka_error_destroy(e);
        if (kafka_stopping(&s->ep)) {
            *stopped = 1;
            return NULL;
        }
    }
}

/* init_transactions, retried while the cluster is unreachable (up to the
 * timeout at start). */
static int init_txn(kafka_sink *s, ember_err *err)
{
    double give_up = em_mono_ms() + (double)s->timeout_ms;
    kafka_backoff b = {0};
    for (;;) {
        int stopped;
        rd_kafka_error_t *e = txn_sliced(s, rd_kafka_init_transactions, &stopped);
        if (stopped)
            return kafka_stopped(&s->ep, s->what, "initializing transactions", err);
        if (!e)
            return 0;
        int rc = ks_txn_error(s, "init_transactions", e, err);
        if (rc < 0)
            return rc;
        if (s->timeout_ms && em_mono_ms() >= give_up) {
            char why[sizeof err->msg];
            snprintf(why, sizeof why, "%s", err->msg);
            return ember_err_set(err, -EHOSTUNREACH, "%s: cannot reach Kafka at %s: %s",
                                 s->what, s->ep.shown, why);
        }
        if ((rc = kafka_backoff_wait(&b, &s->ep, s->what, err->msg, err)))
            return rc;
    }
}

static int ksink_recover(sink *snk, uint64_t committed_batch, ember_err *err)
{
    kafka_sink *s = snk->impl;
    double give_up = em_mono_ms() + (double)s->timeout_ms;
    kafka_backoff b = {0};
    if (s->task)
        return 0; /* the task's markers say what counted (core/kafka/taskmark.h) */
    int rc = init_txn(s, err);
    while (!rc) {
        rc = ks_read_newest_marker(s, committed_batch, err);
        if (!rc)
            rc = ks_count_present(s, s->delivered + 1, err);
        if (rc != -ETIMEDOUT || (s->timeout_ms && em_mono_ms() >= give_up))
            break;
        rc = kafka_backoff_wait(&b, &s->ep, s->what, err->msg, err);
    }
    /* The newest batch the output holds or the engine committed (its sink
     * commit came first): its set-aside rows stay, later ones go. */
    if (!rc && s->dead_on &&
        (rc = sink_dead_letter_recover(&s->dead, s->delivered > committed_batch ? s->delivered
                                                                                : committed_batch,
                                       err)))
        ember_err_prefix(err, "%s: on-oversize", s->what);
    if (rc)
        return rc;
    char interrupted[200] = "", ours[16];
    ks_short_id(s->id, ours, sizeof ours);
    if (ks_present_total(s))
        snprintf(interrupted, sizeof interrupted, "; %" PRIu64 " records of batch %" PRIu64
                 " from an interrupted attempt are there and will not be sent again",
                 ks_present_total(s), s->delivered + 1);
    em_log(EMBER_LOG_INFO, "recovery: sink kafka: topic %s holds batches up to %" PRIu64
           " of checkpoint %s (marker in %s)%s", s->topic, s->delivered, ours, s->markers,
           interrupted);
    if (s->delivered < committed_batch)
        em_log(EMBER_LOG_WARN, "recovery: sink kafka: batches %" PRIu64 "..%" PRIu64 " are "
               "committed but not in topic %s (%s)", s->delivered + 1, committed_batch, s->topic,
               s->ep.embedded ? "brokers=embedded keeps topics in memory and forgot them when "
                                "the previous run exited; `ember broker` keeps them across runs"
                              : "was the topic or its markers deleted?");
    return 0;
}

/* ------------------------------------------------------------ batches */

static int ksink_begin(sink *snk, uint64_t batch, uint64_t batch_time_ms, ember_err *err)
{
    kafka_sink *s = snk->impl;
    /* A batch that begins again leaves no lines of its earlier attempt. */
    if (s->dead_on && sink_dead_letter_rewind(&s->dead, err))
        return err->code;
    if (batch <= s->delivered)
        return 1; /* its marker is committed: the topic has it already */
    s->batch = batch;
    if (batch != s->present_batch)
        memset(s->present, 0, (size_t)s->n_parts * sizeof *s->present);
    s->present_batch = batch;
    s->buf.len = 0;
    s->n_rows = 0;
    return 0;
}

/* 0 when the row's record fits the size limit; 1 when it does not and went
 * to the dead-letter file (its bytes are dropped from buf); <0 (stop) when
 * it does not and there is no dead-letter file. */
static int check_size(kafka_sink *s, const out_row *r, ember_err *err)
{
    char b[24];
    size_t n = (size_t)snprintf(b, sizeof b, "%" PRIu64, s->batch);
    size_t bytes = RECORD_FRAMING + s->header_bytes + n + r->key_len + r->val_len;
    if (s->max_record <= 0 || bytes <= (size_t)s->max_record)
        return 0;
    if (!s->dead_on)
        return ember_err_set(err, -EMSGSIZE, "%s: batch %s: a row's record is %zu bytes, over "
                             "the size limit of %lld (kafka.message.max.bytes): '%.40s...'; "
                             "on-oversize=dead-letter:PATH sets such rows aside", s->what, b,
                             bytes, (long long)s->max_record, s->buf.data + r->val_off);
    int rc = sink_dead_letter_append(&s->dead, s->buf.data + r->val_off, r->val_len, err);
    if (rc)
        return ember_err_prefix(err, "%s: on-oversize", s->what);
    if (s->dead.rows == 1 || s->dead.rows % 1000 == 0)
        em_log(EMBER_LOG_WARN, "%s: batch %s: a row's record is %zu bytes, over the size limit "
               "of %lld: set aside in %s (%" PRIu64 " so far)", s->what, b, bytes,
               (long long)s->max_record, s->dead.path, s->dead.rows);
    s->buf.len = r->key_off;
    return 1;
}

static int ksink_write(sink *snk, const ember_record *row, ember_err *err)
{
    kafka_sink *s = snk->impl;
    if (em_array_reserve(&s->rows, &s->cap_rows, s->n_rows + 1, sizeof *s->rows))
        return ember_err_set(err, -ENOMEM, "out of memory");
    out_row *r = &s->rows[s->n_rows];
    r->refused = 0;
    uint32_t n_keys = s->n_keys > 0 && (uint32_t)s->n_keys <= row->n ? (uint32_t)s->n_keys : 0;
    r->key_off = s->buf.len;
    if (s->n_pby ? ks_append_key(s, row)
                 : n_keys && rowfmt_append_fields(&s->buf, s->format, s->schema, row, n_keys))
        return ember_err_set(err, -ENOMEM, "out of memory");
    n_keys = s->n_pby ? (uint32_t)s->n_pby : n_keys;
    r->key_len = s->buf.len - r->key_off;
    r->val_off = s->buf.len;
    if (rowfmt_append_fields(&s->buf, s->format, s->schema, row, row->n))
        return ember_err_set(err, -ENOMEM, "out of memory");
    r->val_len = s->buf.len - r->val_off;
    int over = check_size(s, r, err);
    if (over)
        return over < 0 ? over : 0;
    /* Kafka's default (Java) partitioner, so consumers can rely on key -> partition. */
    r->partition = n_keys ? rd_kafka_msg_partitioner_murmur2(NULL, s->buf.data + r->key_off,
                                                             r->key_len, s->n_parts, NULL, NULL)
                          : (int32_t)(s->n_rows % (size_t)s->n_parts);
    s->n_rows++;
    return 0;
}

/* 0 ok, 1 abort and retry, <0 stop. */
static int produce_row(kafka_sink *s, size_t i, const char *batch, ember_err *err)
{
    const out_row *r = &s->rows[i];
    for (;;) {
        rd_kafka_resp_err_t e = rd_kafka_producev(
            s->rk, RD_KAFKA_V_TOPIC(s->topic), RD_KAFKA_V_PARTITION(r->partition),
            RD_KAFKA_V_KEY(r->key_len ? s->buf.data + r->key_off : NULL, r->key_len),
            RD_KAFKA_V_VALUE(s->buf.data + r->val_off, r->val_len),
            RD_KAFKA_V_HEADER("ember.job", s->job, -1), RD_KAFKA_V_HEADER("ember.batch", batch, -1),
            RD_KAFKA_V_HEADER("ember.checkpoint", s->id, -1),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_OPAQUE((void *)(uintptr_t)(i + 1)),
            RD_KAFKA_V_END);
        if (!e)
            return 0;
        if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            if (kafka_stopping(&s->ep))
                return kafka_stopped(&s->ep, s->what, "producing", err);
            rd_kafka_poll(s->rk, 10); /* wait for deliveries to make room */
            continue;
        }
        if (e == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE)
            return ember_err_set(err, -EMSGSIZE, "%s: a row of batch %s is %zu bytes, over the "
                                 "record size limit (message.max.bytes): '%.60s...'", s->what,
                                 batch, r->val_len + r->key_len, s->buf.data + r->val_off);
        snprintf(err->msg, sizeof err->msg, "produce: %s", rd_kafka_err2str(e));
        return 1;
    }
}

int ks_produce_marker(kafka_sink *s, const char *batch, ember_err *err)
{
    char v[2200];
    size_t n = (size_t)snprintf(v, sizeof v, "batch=%s ckpt=%s%s%s%s ends=", batch, s->id,
                                s->starts ? " start" : "", s->over[0] ? " over=" : "", s->over);
    for (int32_t p = 0; p < s->n_parts && n < sizeof v - 48; p++)
        if (s->dr_ends[p] >= 0)
            n += (size_t)snprintf(v + n, sizeof v - n, "%s%d:%" PRId64,
                                  v[n - 1] == '=' ? "" : ",", (int)p, s->dr_ends[p]);
    rd_kafka_resp_err_t e = rd_kafka_producev(
        s->rk, RD_KAFKA_V_TOPIC(s->markers), RD_KAFKA_V_KEY(s->job, strlen(s->job)),
        RD_KAFKA_V_VALUE(v, n), RD_KAFKA_V_HEADER("ember.job", s->job, -1),
        RD_KAFKA_V_HEADER("ember.batch", batch, -1),
        RD_KAFKA_V_HEADER("ember.checkpoint", s->id, -1), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_OPAQUE(NULL), RD_KAFKA_V_END);
    if (!e)
        return 0;
    snprintf(err->msg, sizeof err->msg, "produce the marker to %s: %s", s->markers,
             rd_kafka_err2str(e));
    return 1;
}

int ks_commit_txn(kafka_sink *s, ember_err *err)
{
    kafka_backoff b = {0};
    for (;;) {
        int stopped;
        rd_kafka_error_t *e = txn_sliced(s, rd_kafka_commit_transaction, &stopped);
        if (stopped)
            return kafka_stopped(&s->ep, s->what, "committing a transaction", err);
        if (!e)
            return s->in_txn = 0;
        int rc = ks_txn_error(s, "commit_transaction", e, err);
        if (rc != 2)
            return rc;
        if ((rc = kafka_backoff_wait(&b, &s->ep, s->what, err->msg, err)))
            return rc;
    }
}

/* Waits for every delivery report, saying so every 2 s while the cluster is
 * slow; 1 when they did not all come within the transaction timeout,
 * -ECANCELED on a stop (the batch replays on the next run). */
int ks_await_deliveries(kafka_sink *s, const char *batch, ember_err *err)
{
    double t0 = em_mono_ms(), said = t0;
    while (rd_kafka_flush(s->rk, KAFKA_SLICE_MS) == RD_KAFKA_RESP_ERR__TIMED_OUT) {
        if (kafka_stopping(&s->ep))
            return kafka_stopped(&s->ep, s->what, "waiting for acknowledgements", err);
        if (em_mono_ms() - t0 > TXN_TIMEOUT_MS)
            return snprintf(err->msg, sizeof err->msg, "deliveries timed out"), 1;
        if (em_mono_ms() - said < 2000)
            continue;
        said = em_mono_ms();
        em_log(EMBER_LOG_WARN, "%s: batch %s: %d records not yet acknowledged by %s%s%s; "
               "waiting", s->what, batch, rd_kafka_outq_len(s->rk), s->ep.shown,
               s->ep.last_error[0] ? ": " : "", s->ep.last_error);
    }
    return 0;
}


/* The broker refused rows as too large (its limit, the topic's
 * max.message.bytes, is below the producer's): without on-oversize a stop
 * naming the first; with it they go to the dead-letter file and leave the
 * batch, which is tried again (1: abort and retry). */
static int set_aside_refused(kafka_sink *s, const char *batch, ember_err *err)
{
    size_t keep = 0, n = 0;
    for (size_t i = 0; i < s->n_rows; i++) {
        const out_row *r = &s->rows[i];
        if (r->refused && !s->dead_on)
            return ember_err_set(err, -EMSGSIZE, "%s: batch %s: the broker refused a row's "
                                 "record of %zu bytes as too large (the topic's "
                                 "max.message.bytes is below kafka.message.max.bytes=%lld): "
                                 "'%.40s...'; on-oversize=dead-letter:PATH sets such rows "
                                 "aside", s->what, batch, RECORD_FRAMING + s->header_bytes +
                                 strlen(batch) + r->key_len + r->val_len,
                                 (long long)s->max_record, s->buf.data + r->val_off);
        if (!r->refused) {
            s->rows[keep++] = *r;
            continue;
        }
        int rc = sink_dead_letter_append(&s->dead, s->buf.data + r->val_off, r->val_len, err);
        if (rc)
            return ember_err_prefix(err, "%s: on-oversize", s->what);
        n++;
    }
    s->n_rows = keep;
    snprintf(err->msg, sizeof err->msg, "the broker refused %zu records as too large: set "
             "aside in %s", n, s->dead.path);
    return 1;
}

/* Rows, then (once all are acknowledged) the marker, in one transaction.
 * 0 ok, 1 abort and retry, <0 stop. */
static int deliver_batch(kafka_sink *s, uint64_t batch, ember_err *err)
{
    char b[24];
    snprintf(b, sizeof b, "%" PRIu64, batch);
    rd_kafka_error_t *e = rd_kafka_begin_transaction(s->rk);
    if (e)
        return ks_txn_error(s, "begin_transaction", e, err) < 0 ? err->code : 1;
    s->in_txn = 1;
    s->dr_failed = 0;
    memcpy(s->dr_ends, s->ends, (size_t)s->n_parts * sizeof *s->ends);
    memset(s->seen, 0, (size_t)s->n_parts * sizeof *s->seen);
    for (size_t i = 0; i < s->n_rows; i++) {
        const out_row *r = &s->rows[i];
        if (s->seen[r->partition]++ < s->present[r->partition])
            continue; /* an interrupted attempt delivered it */
        int rc = produce_row(s, i, b, err);
        if (rc)
            return rc;
    }
    int rc = ks_await_deliveries(s, b, err);
    if (rc)
        return rc;
    if (s->dr_failed && s->dr_err == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE)
        return set_aside_refused(s, b, err);
    if (s->dr_failed)
        return snprintf(err->msg, sizeof err->msg, "delivery failed: %s", s->dr_error), 1;
    /* The set-aside rows are durable, and their length recorded, before the
     * transaction that commits the batch (dead_letter.h). */
    if (s->dead_on && (rc = sink_dead_letter_seal(&s->dead, batch, err)))
        return ember_err_prefix(err, "%s: on-oversize", s->what);
    s->marker_part = -1;
    rc = ks_produce_marker(s, b, err);
    if (!rc)
        rc = ks_await_deliveries(s, b, err);
    if (!rc && s->dr_failed)
        rc = (snprintf(err->msg, sizeof err->msg, "delivery failed: %s", s->dr_error), 1);
    if (!rc)
        rc = ks_check_rivals(s, batch, err);
    return rc ? rc : ks_commit_txn(s, err);
}

int ks_abort_txn(kafka_sink *s, ember_err *err)
{
    kafka_backoff b = {0};
    while (s->in_txn) {
        int stopped;
        rd_kafka_error_t *e = txn_sliced(s, rd_kafka_abort_transaction, &stopped);
        if (stopped) /* the next instance's init_transactions aborts it */
            return kafka_stopped(&s->ep, s->what, "aborting a transaction", err);
        if (!e) {
            s->in_txn = 0;
            break;
        }
        int rc = ks_txn_error(s, "abort_transaction", e, err);
        if (rc < 0)
            return rc;
        if ((rc = kafka_backoff_wait(&b, &s->ep, s->what, err->msg, err)))
            return rc;
    }
    return 0;
}


static int ksink_commit(sink *snk, uint64_t batch, ember_err *err)
{
    kafka_sink *s = snk->impl;
    kafka_backoff b = {0};
    int rc;
    if (s->task)
        return ks_task_rows(s, batch, err);
    while ((rc = deliver_batch(s, batch, err)) > 0) {
        char why[sizeof err->msg];
        snprintf(why, sizeof why, "batch %" PRIu64 ": %s; aborted", batch, err->msg);
        if ((rc = ks_abort_txn(s, err)) || (rc = kafka_backoff_wait(&b, &s->ep, s->what, why, err)))
            return rc;
        /* What the aborted attempt left visible is not sent again. */
        while ((rc = ks_count_present(s, batch, err)) == -ETIMEDOUT)
            if ((rc = kafka_backoff_wait(&b, &s->ep, s->what, err->msg, err)))
                return rc;
        if (rc)
            return rc;
    }
    if (rc)
        return rc;
    kafka_backoff_ok(&b, s->what);
    if (s->dead_on)
        sink_dead_letter_committed(&s->dead);
    ks_note_own_marker(s);
    s->delivered = batch;
    memcpy(s->ends, s->dr_ends, (size_t)s->n_parts * sizeof *s->ends);
    memset(s->present, 0, (size_t)s->n_parts * sizeof *s->present);
    s->present_batch = batch + 1;
    return 0;
}

static void ksink_close(sink *snk)
{
    kafka_sink *s = snk->impl;
    if (!s)
        return;
    if (s->rk) {
        /* After a stop mid-batch: what is still queued belongs to a
         * transaction the next instance aborts, and the batch replays. */
        rd_kafka_purge(s->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        rd_kafka_destroy(s->rk);
    }
    if (s->reader) {
        rd_kafka_consumer_close(s->reader);
        rd_kafka_destroy(s->reader);
    }
    kafka_endpoint_close(&s->ep);
    if (s->dead_on)
        sink_dead_letter_close(&s->dead);
    text_free(&s->buf);
    free(s->rows);
    free(s->ends);
    free(s->dr_ends);
    free(s->present);
    free(s->seen);
    free(s->topic);
    free(s->markers);
    free(s->txn_id);
    free(s->job);
    free(s->ckpt_dir);
    free(s->mparts);
    free(s->mscanned);
    free(s->mown);
    free(s);
    snk->impl = NULL;
}

const sink_ops sink_kafka_ops = {
    .kind = "kafka",
    .doc = "a Kafka topic through a transactional producer, with batch markers; exactly-once",
    .options = kafka_sink_options,
    .exactly_once = 1,
    .check = ksink_check,
    .open = ksink_open,
    .recover = ksink_recover,
    .begin = ksink_begin,
    .write = ksink_write,
    .commit = ksink_commit,
    .close = ksink_close,
};
