/*
 * kafka_client: what the Kafka source and sink share on top of librdkafka:
 * the `brokers=` option (a bootstrap list or `embedded`), client settings
 * with librdkafka's own logging kept quiet (ember prints one clear line per
 * problem instead), topic metadata, watermark queries, the backoff used
 * while the cluster is unreachable, and a reader of one partition's range.
 * Only the Kafka adapters include this header (it includes rdkafka.h).
 */
#ifndef EMBER_KAFKA_CLIENT_H
#define EMBER_KAFKA_CLIENT_H

#include "ember.h"

#include <librdkafka/rdkafka.h>
#include <stddef.h>
#include <stdint.h>

#define KAFKA_BOOTSTRAP_MAX 1024

/* A client's connection facts, kept for messages. */
typedef struct kafka_endpoint {
    char bootstrap[KAFKA_BOOTSTRAP_MAX]; /* what librdkafka connects to */
    char shown[KAFKA_BOOTSTRAP_MAX];     /* what messages name ("embedded (127.0.0.1:P)") */
    int embedded;
    char last_error[256]; /* newest error librdkafka reported (error_cb) */
} kafka_endpoint;

/* Resolves `brokers`: "embedded" acquires the process's in-process cluster;
 * otherwise every host:port must parse and resolve (-EMBER_EUSAGE if not:
 * a wrong address is a configuration error). `what` prefixes messages. */
EMBER_MUST_CHECK int kafka_endpoint_open(kafka_endpoint *ep, const char *brokers,
                                         const char *what, ember_err *err);
void kafka_endpoint_close(kafka_endpoint *ep);

/* A configuration with bootstrap.servers, quiet logs and the error callback
 * filling ep->last_error, then the given "name", "value" pairs (NULL-ended).
 * NULL with err set on a bad setting. */
rd_kafka_conf_t *kafka_conf_new(kafka_endpoint *ep, const char *const *settings,
                                ember_err *err);

/* Partition ids of `topic` (malloc'd into *ids). -ENOENT: the topic does
 * not exist; -ETIMEDOUT: the cluster did not answer within timeout_ms. */
EMBER_MUST_CHECK int kafka_partitions(rd_kafka_t *rk, kafka_endpoint *ep, const char *topic,
                                      int timeout_ms, int32_t **ids, size_t *n, ember_err *err);

/* Per partition the log start (KAFKA_EARLIEST) or end (KAFKA_LATEST; the
 * last stable offset for a read_committed client) offset, one request per
 * broker. out[i] = -1 for a partition that reported an error. */
#define KAFKA_EARLIEST (-2)
#define KAFKA_LATEST (-1)
EMBER_MUST_CHECK int kafka_offsets(rd_kafka_t *rk, kafka_endpoint *ep, const char *topic,
                                   const int32_t *ids, size_t n, int64_t which, int64_t *out,
                                   int timeout_ms, ember_err *err);

/* Exponential backoff for retries while the cluster is unreachable. */
typedef struct kafka_backoff {
    int delay_ms;       /* next wait: 100 ms doubling to 5 s */
    int failing;        /* retries since the last success */
    double retry_at_ms; /* kafka_now_ms() before which not to retry */
} kafka_backoff;

/* Prints "<what>: <problem>; retrying in N ms" and sets retry_at_ms. */
void kafka_backoff_fail(kafka_backoff *b, const char *what, const char *problem);
/* kafka_backoff_fail, then sleeps until the retry time. */
void kafka_backoff_wait(kafka_backoff *b, const char *what, const char *problem);
int kafka_backoff_due(const kafka_backoff *b);
/* Prints "<what>: Kafka reachable again" when it was failing, and resets. */
void kafka_backoff_ok(kafka_backoff *b, const char *what);

double kafka_now_ms(void);

/* Calls fn for every message of partition p with offset in [from, to) (a
 * read_committed consumer skips aborted records and transaction markers).
 * The consumer is assigned that one partition. Waits through outages. */
typedef int (*kafka_msg_fn)(const rd_kafka_message_t *m, void *ctx);
EMBER_MUST_CHECK int kafka_scan(rd_kafka_t *consumer, kafka_endpoint *ep, const char *topic,
                                int32_t p, int64_t from, int64_t to, kafka_msg_fn fn, void *ctx,
                                ember_err *err);

/* A header's value as a NUL-terminated string in buf ("" when absent). */
void kafka_header(const rd_kafka_message_t *m, const char *name, char *buf, size_t cap);

#endif
