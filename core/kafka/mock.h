/*
 * kafka_mock: a Kafka-protocol broker on 127.0.0.1, built on librdkafka's mock
 * cluster (librdkafka/rdkafka_mock.h). `ember broker` runs one in its own
 * process; a job's `brokers=embedded` shares one per process (source and sink
 * of the same job see the same cluster).
 *
 * What the mock gives: produce (idempotent, transactional), fetch, offsets,
 * consumer-group offset commits, topic auto-creation by producers (4
 * partitions). What it does not: transaction isolation (records of an open
 * or aborted transaction are visible to read_committed readers) and
 * configurable retention (each partition keeps its newest ~5 MB or 100000
 * record batches; older ones are deleted and the log start offset moves).
 * Data lives in memory only: it is gone when the process exits.
 */
#ifndef EMBER_KAFKA_MOCK_H
#define EMBER_KAFKA_MOCK_H

#include "ember.h"

typedef struct kafka_mock kafka_mock;

/* Starts a cluster of `brokers` brokers (1..16), each on its own loopback port. */
EMBER_MUST_CHECK int kafka_mock_start(int brokers, kafka_mock **out, ember_err *err);
/* "127.0.0.1:P1,127.0.0.1:P2,...": the brokers' own addresses. Borrowed. */
const char *kafka_mock_bootstraps(const kafka_mock *m);
/* Creates a topic; an existing topic is an error (-EEXIST). */
EMBER_MUST_CHECK int kafka_mock_create_topic(kafka_mock *m, const char *name, int partitions,
                                             ember_err *err);
/* Accepts connections on 127.0.0.1:port and forwards them to the first
 * broker, so a fixed bootstrap address works (the mock picks its own ports;
 * clients learn the brokers' real addresses from metadata). */
EMBER_MUST_CHECK int kafka_mock_listen(kafka_mock *m, int port, ember_err *err);
/* Down: every broker drops its connections and refuses new ones; up: back,
 * with the same ports and data (fault tests). */
void kafka_mock_set_up(kafka_mock *m, int up);
/* The librdkafka version the mock comes from ("2.0.2"), for messages. */
const char *kafka_mock_version(void);
void kafka_mock_stop(kafka_mock *m);

/* The process's embedded cluster (one broker), started on first use and
 * stopped when the last user releases it. *bootstraps borrowed until then.
 * Thread-safe. */
EMBER_MUST_CHECK int kafka_mock_embedded_acquire(const char **bootstraps, ember_err *err);
/* Creates `name` in the embedded cluster unless it exists. */
EMBER_MUST_CHECK int kafka_mock_embedded_topic(const char *name, int partitions, ember_err *err);
void kafka_mock_embedded_release(void);

#endif
