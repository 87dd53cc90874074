/*
 * kafka_client: what the Kafka source and sink share on top of librdkafka:
 * the `brokers=` option (a bootstrap list or `embedded`), client settings
 * with librdkafka's own log lines routed through em_log (ember prints one
 * clear line per problem; librdkafka's connection chatter is dropped),
 * topic metadata, watermark queries, the backoff used while the cluster is
 * unreachable, and a reader of one partition's range.
 *
 * Stops: every wait here (a request to an unreachable cluster, a backoff,
 * a scan waiting for records) polls the endpoint's stop flag at least every
 * KAFKA_SLICE_MS and then fails with -ECANCELED ("... stopped while ...").
 * Only the Kafka adapters include this header (it includes rdkafka.h).
 */
#ifndef EMBER_KAFKA_CLIENT_H
#define EMBER_KAFKA_CLIENT_H

#include "ember.h"

#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#define KAFKA_BOOTSTRAP_MAX 1024

/* A client's connection facts, kept for messages. */
/* Longest a blocking librdkafka call waits before the stop flag is polled. */
#define KAFKA_SLICE_MS 250

typedef struct kafka_endpoint {
    char bootstrap[KAFKA_BOOTSTRAP_MAX]; /* what librdkafka connects to */
    char shown[KAFKA_BOOTSTRAP_MAX];     /* what messages name: HOST:PORT (default port
                                            added) or "embedded broker 127.0.0.1:P" */
    int embedded;
    char last_error[256]; /* newest error librdkafka reported (error_cb) */
    int connect_failed;   /* last_error is about connecting (refused, unresolved...) */
    const volatile sig_atomic_t *stop; /* the job's stop flag; NULL: never stops */
} kafka_endpoint;

/* Resolves `brokers`: "embedded" acquires the process's in-process cluster;
 * otherwise every host:port must parse and resolve (-EMBER_EUSAGE if not:
 * a wrong address is a configuration error). `what` prefixes messages;
 * `stop` (borrowed, may be NULL) ends the endpoint's waits. */
EMBER_MUST_CHECK int kafka_endpoint_open(kafka_endpoint *ep, const char *brokers,
                                         const char *what,
                                         const volatile sig_atomic_t *stop, ember_err *err);
void kafka_endpoint_close(kafka_endpoint *ep);

/* A configuration with bootstrap.servers, the log callback below and the
 * error callback filling ep->last_error, then the given "name", "value"
 * pairs (NULL-ended), then the user's kafka.* properties of `props` (NULL:
 * none; borrowed) whose scope includes `role` (KAFKA_ROLE_*, props.h).
 * NULL with err set on a bad setting. */
struct opt_set;
rd_kafka_conf_t *kafka_conf_new(kafka_endpoint *ep, const char *const *settings,
                                const struct opt_set *props, unsigned role, ember_err *err);

/* librdkafka's log callback for every client ember makes (rd_kafka_conf_set_log_cb):
 * lines go to em_log as "kafka: ...", never to stderr raw. Connection
 * failures are dropped (the error callback keeps them for ember's own
 * message); with EMBER_KAFKA_DEBUG set every line passes. */
void kafka_log_line(const rd_kafka_t *rk, int level, const char *fac, const char *buf);

/* 1 when the endpoint's job asked to stop. */
int kafka_stopping(const kafka_endpoint *ep);
/* Sets err to -ECANCELED "<what>: stopped while <doing>" and returns it. */
int kafka_stopped(const kafka_endpoint *ep, const char *what, const char *doing,
                  ember_err *err);
/* The slice a blocking call may wait now: KAFKA_SLICE_MS, less near `give_up_ms`. */
int kafka_slice_ms(double give_up_ms);

/* rd_kafka_metadata of every topic (only = NULL) or of one, retried in
 * slices until timeout_ms; -ETIMEDOUT naming the cause when the cluster does
 * not answer, -ECANCELED on a stop. *md as rd_kafka_metadata's. */
EMBER_MUST_CHECK int kafka_metadata(rd_kafka_t *rk, kafka_endpoint *ep, rd_kafka_topic_t *only,
                                    int timeout_ms, const struct rd_kafka_metadata **md,
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
    double retry_at_ms; /* em_mono_ms() before which not to retry */
} kafka_backoff;

/* Prints "<what>: <problem>; retrying in N ms" and sets retry_at_ms. */
void kafka_backoff_fail(kafka_backoff *b, const char *what, const char *problem);
/* kafka_backoff_fail, then sleeps until the retry time; -ECANCELED (err
 * set) when the endpoint's stop came first. `problem` may be err->msg. */
EMBER_MUST_CHECK int kafka_backoff_wait(kafka_backoff *b, const kafka_endpoint *ep,
                                        const char *what, const char *problem, ember_err *err);
int kafka_backoff_due(const kafka_backoff *b);
/* Prints "<what>: Kafka reachable again" when it was failing, and resets. */
void kafka_backoff_ok(kafka_backoff *b, const char *what);


/* Calls fn for every message of partition p with offset in [from, to) (a
 * read_committed consumer skips aborted records and transaction markers).
 * The consumer is assigned that one partition. Waits through outages
 * (until a stop: -ECANCELED). */
typedef int (*kafka_msg_fn)(const rd_kafka_message_t *m, void *ctx);
EMBER_MUST_CHECK int kafka_scan(rd_kafka_t *consumer, kafka_endpoint *ep, const char *topic,
                                int32_t p, int64_t from, int64_t to, kafka_msg_fn fn, void *ctx,
                                ember_err *err);

/* A header's value as a NUL-terminated string in buf ("" when absent). */
void kafka_header(const rd_kafka_message_t *m, const char *name, char *buf, size_t cap);

#endif
