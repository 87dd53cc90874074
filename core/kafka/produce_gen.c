/*
 * kafka_gen: produces generator records into a Kafka topic with an idempotent
 * producer (acks=all), so a retried send is not duplicated, and counts the
 * delivery reports to say how many records Kafka acknowledged.
 */
#include "core/kafka/produce_gen.h"
#include "core/base/log.h"

#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

typedef struct gen_delivery {
    uint64_t acked, failed;
    char first_error[256];
} gen_delivery;

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    gen_delivery *d = opaque;
    if (!m->err) {
        d->acked++;
        return;
    }
    if (!d->failed++)
        snprintf(d->first_error, sizeof d->first_error, "%s", rd_kafka_err2str(m->err));
}

static rd_kafka_t *make_producer(const char *brokers, gen_delivery *d)
{
    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "bootstrap.servers", brokers, errstr, sizeof errstr) ||
        rd_kafka_conf_set(conf, "enable.idempotence", "true", errstr, sizeof errstr) ||
        rd_kafka_conf_set(conf, "linger.ms", "5", errstr, sizeof errstr) ||
        /* keyless records spread evenly over the partitions, not in runs of
         * one partition per linger (sticky partitioning) */
        rd_kafka_conf_set(conf, "sticky.partitioning.linger.ms", "0", errstr, sizeof errstr) ||
        rd_kafka_conf_set(conf, "message.timeout.ms", "30000", errstr, sizeof errstr)) {
        em_log(EMBER_LOG_ERROR, "ember gen: kafka config: %s", errstr);
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_conf_set_opaque(conf, d);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (!rk) {
        em_log(EMBER_LOG_ERROR, "ember gen: kafka producer: %s", errstr);
        rd_kafka_conf_destroy(conf);
    }
    return rk;
}

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int produce_one(rd_kafka_t *rk, const char *topic, const char *line, size_t n)
{
    for (;;) {
        rd_kafka_resp_err_t e = rd_kafka_producev(
            rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_VALUE((void *)line, n),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
        if (e == RD_KAFKA_RESP_ERR_NO_ERROR)
            return 0;
        if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            em_log(EMBER_LOG_ERROR, "ember gen: produce to %s: %s", topic, rd_kafka_err2str(e));
            return 1;
        }
        rd_kafka_poll(rk, 10); /* queue full: wait for deliveries */
    }
}

int kafka_gen_produce(const char *hostport_topic, gen_kind kind, uint64_t seed, uint64_t count,
                      uint64_t rate, uint64_t events_per_s)
{
    char brokers[512], line[GEN_LINE_MAX];
    const char *slash = strchr(hostport_topic, '/');
    if (!slash || slash == hostport_topic || !slash[1] ||
        (size_t)(slash - hostport_topic) >= sizeof brokers) {
        em_log(EMBER_LOG_ERROR, "ember gen: expected kafka://HOST:PORT/TOPIC, got 'kafka://%s'",
               hostport_topic);
        return 2;
    }
    snprintf(brokers, sizeof brokers, "%.*s", (int)(slash - hostport_topic), hostport_topic);
    gen_delivery d = {0};
    rd_kafka_t *rk = make_producer(brokers, &d);
    if (!rk)
        return 1;
    int rc = 0;
    double t0 = mono_s();
    for (uint64_t seq = 0; seq < count && !rc && !d.failed; seq++) {
        size_t n = gen_line_at(kind, seed, seq, events_per_s, line);
        rc = produce_one(rk, slash + 1, line, n);
        rd_kafka_poll(rk, 0);
        while (rate && (double)seq / (double)rate > mono_s() - t0)
            rd_kafka_poll(rk, 1);
    }
    if (rd_kafka_flush(rk, 30000) != RD_KAFKA_RESP_ERR_NO_ERROR && !rc) {
        em_log(EMBER_LOG_ERROR, "ember gen: %s: timed out waiting for acknowledgements", brokers);
        rc = 1;
    }
    printf("acknowledged %llu records\n", (unsigned long long)d.acked);
    if (d.failed) {
        em_log(EMBER_LOG_ERROR, "ember gen: %llu records failed: %s", (unsigned long long)d.failed,
               d.first_error);
        rc = 1;
    }
    rd_kafka_destroy(rk);
    return rc;
}
