/*
 * kafka_gen: produces generator records into a Kafka topic with an idempotent
 * producer (acks=all), so a retried send is not duplicated, and counts the
 * delivery reports to say how many records Kafka acknowledged. The cluster
 * must answer first (within 5 s): an unreachable one is named at once
 * ("cannot connect to HOST:PORT: why"), and librdkafka's own log lines go
 * through em_log like every client's (core/kafka/client.c).
 */
#include "core/kafka/produce_gen.h"
#include "core/base/clock.h"
#include "core/base/log.h"
#include "core/kafka/client.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define CONNECT_TIMEOUT_MS 5000

typedef struct gen_delivery {
    uint64_t acked, failed;
    char first_error[256];
} gen_delivery;

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    gen_delivery *d = m->_private;
    if (!m->err) {
        d->acked++;
        return;
    }
    if (!d->failed++)
        snprintf(d->first_error, sizeof d->first_error, "%s", rd_kafka_err2str(m->err));
}

static rd_kafka_t *make_producer(kafka_endpoint *ep)
{
    char errstr[512];
    ember_err err = {0};
    const char *settings[] = {
        "enable.idempotence", "true", "linger.ms", "5",
        /* keyless records spread evenly over the partitions, not in runs of
         * one partition per linger (sticky partitioning) */
        "sticky.partitioning.linger.ms", "0", "message.timeout.ms", "30000", NULL,
    };
    rd_kafka_conf_t *conf = kafka_conf_new(ep, settings, NULL, 0, &err);
    if (!conf) {
        em_log(EMBER_LOG_ERROR, "ember gen: %s", err.msg);
        return NULL;
    }
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (!rk) {
        em_log(EMBER_LOG_ERROR, "ember gen: kafka producer: %s", errstr);
        rd_kafka_conf_destroy(conf);
    }
    return rk;
}

/* "cannot connect to HOST:PORT: why" when connecting failed, else the
 * problem as the client layer words it. */
static void say_unreachable(const kafka_endpoint *ep, const char *problem)
{
    if (ep->connect_failed && !strncmp(ep->last_error, "connect to ", 11))
        em_log(EMBER_LOG_ERROR, "ember gen: cannot %s", ep->last_error);
    else if (ep->connect_failed)
        em_log(EMBER_LOG_ERROR, "ember gen: cannot connect to %s: %s", ep->shown, ep->last_error);
    else
        em_log(EMBER_LOG_ERROR, "ember gen: %s", problem);
}

/* The cluster must answer a metadata request within CONNECT_TIMEOUT_MS:
 * nothing is produced into a void for 30 s. */
static int check_reachable(rd_kafka_t *rk, kafka_endpoint *ep)
{
    const struct rd_kafka_metadata *md = NULL;
    ember_err err = {0};
    if (kafka_metadata(rk, ep, NULL, CONNECT_TIMEOUT_MS, &md, &err) == 0) {
        rd_kafka_metadata_destroy(md);
        return 0;
    }
    say_unreachable(ep, err.msg);
    return 1;
}

static int produce_one(rd_kafka_t *rk, const char *topic, const char *line, size_t n,
                       gen_delivery *d)
{
    for (;;) {
        rd_kafka_resp_err_t e = rd_kafka_producev(
            rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_VALUE((void *)line, n),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_OPAQUE(d), RD_KAFKA_V_END);
        if (e == RD_KAFKA_RESP_ERR_NO_ERROR)
            return 0;
        if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            em_log(EMBER_LOG_ERROR, "ember gen: produce to %s: %s", topic, rd_kafka_err2str(e));
            return 1;
        }
        rd_kafka_poll(rk, 10); /* queue full: wait for deliveries */
    }
}

/* Waits for the outstanding acknowledgements; gives up early when none
 * came for CONNECT_TIMEOUT_MS while the cluster is unreachable. */
static int await_acks(rd_kafka_t *rk, kafka_endpoint *ep, gen_delivery *d)
{
    double t0 = em_mono_ms(), progress = t0;
    uint64_t acked = d->acked;
    while (rd_kafka_flush(rk, 200) == RD_KAFKA_RESP_ERR__TIMED_OUT) {
        if (d->acked != acked) {
            acked = d->acked;
            progress = em_mono_ms();
        }
        if ((ep->connect_failed && em_mono_ms() - progress > CONNECT_TIMEOUT_MS) ||
            em_mono_ms() - t0 > 35000) {
            char problem[400];
            snprintf(problem, sizeof problem, "%s: %d records not acknowledged%s%s",
                     ep->shown, rd_kafka_outq_len(rk), ep->last_error[0] ? ": " : "",
                     ep->last_error);
            say_unreachable(ep, problem);
            return 1;
        }
    }
    return 0;
}

static int split_destination(const char *hostport_topic, char *brokers, size_t cap)
{
    const char *slash = strchr(hostport_topic, '/');
    if (!slash || slash == hostport_topic || !slash[1] ||
        (size_t)(slash - hostport_topic) >= cap) {
        em_log(EMBER_LOG_ERROR, "ember gen: expected kafka://HOST:PORT/TOPIC, got 'kafka://%s'",
               hostport_topic);
        return -1;
    }
    snprintf(brokers, cap, "%.*s", (int)(slash - hostport_topic), hostport_topic);
    if (strcmp(brokers, "embedded") == 0) {
        em_log(EMBER_LOG_ERROR, "ember gen: brokers=embedded lives inside a job's process: use "
               "the address the job prints (kafka: embedded broker at 127.0.0.1:P), or run "
               "`ember broker`");
        return -1;
    }
    return (int)(slash - hostport_topic);
}

int kafka_gen_produce(const char *hostport_topic, gen_kind kind, uint64_t seed, uint64_t count,
                      uint64_t rate, uint64_t events_per_s)
{
    char brokers[512], line[GEN_LINE_MAX];
    int at = split_destination(hostport_topic, brokers, sizeof brokers);
    if (at < 0)
        return 2;
    const char *topic = hostport_topic + at + 1;
    kafka_endpoint ep;
    ember_err err = {0};
    if (kafka_endpoint_open(&ep, brokers, "ember gen", NULL, &err)) {
        em_log(EMBER_LOG_ERROR, "%s", err.msg);
        return err.code == -EMBER_EUSAGE ? 2 : 1;
    }
    gen_delivery d = {0};
    rd_kafka_t *rk = make_producer(&ep);
    if (!rk)
        return 1;
    int rc = check_reachable(rk, &ep);
    if (rc)
        goto out;
    double t0 = em_mono_ms() / 1e3;
    for (uint64_t seq = 0; seq < count && !rc && !d.failed; seq++) {
        size_t n = gen_line_at(kind, seed, seq, events_per_s, line);
        rc = produce_one(rk, topic, line, n, &d);
        rd_kafka_poll(rk, 0);
        while (rate && (double)seq / (double)rate > em_mono_ms() / 1e3 - t0)
            rd_kafka_poll(rk, 1);
    }
    if (!rc)
        rc = await_acks(rk, &ep, &d);
    printf("acknowledged %llu records\n", (unsigned long long)d.acked);
    if (d.failed) {
        em_log(EMBER_LOG_ERROR, "ember gen: %llu records failed: %s",
               (unsigned long long)d.failed, d.first_error);
        rc = 1;
    }
out:
    rd_kafka_purge(rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_destroy(rk);
    kafka_endpoint_close(&ep);
    return rc;
}
