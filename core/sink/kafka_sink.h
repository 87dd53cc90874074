/*
 * kafka_sink: the state of the kafka sink, shared by its batches and
 * transactions (kafka.c) and its markers (kafka_markers.c: recovery, the
 * checkpoint's own sequence, rivals); not for use outside core/sink/kafka*.c.
 */
#ifndef EMBER_SINK_KAFKA_SINK_H
#define EMBER_SINK_KAFKA_SINK_H

#include "core/base/array.h"
#include "core/base/clock.h"
#include "core/base/log.h"
#include "core/kafka/client.h"
#include "core/kafka/mock.h"
#include "core/kafka/props.h"
#include "core/kafka/task.h"
#include "core/ops/rowfmt.h"
#include "core/ops/text.h"
#include "core/sink/dead_letter.h"
#include "core/sink/sink.h"

#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REQUEST_TIMEOUT_MS  5000
#define TXN_TIMEOUT_MS      60000 /* transaction.timeout.ms: records not acknowledged by then fail */
#define EMBEDDED_PARTITIONS 4
#define CKPT_ID_LEN         32
#define MAX_RIVALS          8

/* Kafka's framing of one record (v2: length, attributes, timestamp and
 * offset deltas, key and value lengths, header count, all varints at their
 * widest) and of each header (two varint lengths): what librdkafka's
 * producer adds to a record's bytes, at most, before comparing them with
 * message.max.bytes. A row is over the limit when key + value + headers +
 * this framing is. */
#define RECORD_FRAMING 36
#define HEADER_FRAMING 10

typedef struct out_row {
    size_t key_off, key_len, val_off, val_len;
    int32_t partition;
    int refused; /* the broker refused its record as too large */
} out_row;

typedef struct kafka_sink {
    kafka_endpoint ep;
    char id[CKPT_ID_LEN + 1];   /* this checkpoint's id */
    char over[CKPT_ID_LEN + 1]; /* the checkpoint whose marker sequence ours took over, or "" */
    char *ckpt_dir;
    int reset;        /* --reset-output */
    int starts;       /* the next marker opens this id's sequence */
    int adopt_legacy; /* newest markers carry no id (written before ids): they are ours */
    /* The marker partition(s), for the second-writer check: per partition
     * the offset up to which it was checked, our newest marker there. */
    int32_t *mparts;
    int64_t *mscanned, *mown;
    size_t n_mparts;
    int32_t marker_part; /* the running transaction's marker, from its delivery report */
    int64_t marker_off;
    rd_kafka_t *rk;     /* the transactional producer */
    kafka_task *task;   /* scale-out: rows go into the task's transaction */
    rd_kafka_t *reader; /* read_committed consumer: markers, present rows */
    char *topic, *markers, *txn_id, *job;
    char what[300];
    const opt_set *props; /* the kafka.* options (borrowed from the job) */
    int64_t max_record;   /* message.max.bytes of the producer */
    size_t header_bytes;  /* ember's headers but the batch id's digits, framed */
    uint64_t batch;       /* the running batch */
    int dead_on;          /* on-oversize=dead-letter: */
    sink_dead_letter dead;
    int n_keys;
    /* partition-by=: the fields that make the key (scale-out's repartition
     * topic), else the first n_keys */
    int pby[SCHEMA_MAX_FIELDS], n_pby;
    schema pby_schema;
    const schema *schema; /* of the rows (borrowed from the job): json's names */
    rowfmt format;        /* of keys and values (format=) */
    int64_t timeout_ms;
    int32_t n_parts;   /* output partitions, fixed for the life of the process */
    int64_t *ends;     /* per partition: offset after this job's last record (-1 unknown) */
    int64_t *dr_ends;  /* the same, from the running transaction's delivery reports */
    uint64_t *present; /* per partition: rows of present_batch already in the topic */
    uint64_t *seen;
    uint64_t delivered;     /* newest batch whose marker is committed */
    uint64_t present_batch; /* the batch `present` counts (delivered + 1) */
    text_buf buf;           /* the running batch's keys and values */
    out_row *rows;
    size_t n_rows, cap_rows;
    int in_txn;
    int dr_failed;
    rd_kafka_resp_err_t dr_err;
    char dr_error[256];
} kafka_sink;

/* kafka.c: the transaction around a batch. */
EMBER_MUST_CHECK int ks_produce_marker(kafka_sink *s, const char *batch, ember_err *err);
EMBER_MUST_CHECK int ks_txn_error(kafka_sink *s, const char *call, rd_kafka_error_t *e,
                                  ember_err *err);
EMBER_MUST_CHECK int ks_commit_txn(kafka_sink *s, ember_err *err);
EMBER_MUST_CHECK int ks_abort_txn(kafka_sink *s, ember_err *err);
EMBER_MUST_CHECK int ks_await_deliveries(kafka_sink *s, const char *batch, ember_err *err);
/* kafka_partition.c: partition-by=. */
EMBER_MUST_CHECK int ks_partition_by(kafka_sink *s, const char *spec, const schema *rows,
                                     ember_err *err);
EMBER_MUST_CHECK int ks_append_key(kafka_sink *s, const ember_record *row);
EMBER_MUST_CHECK int ks_task_rows(kafka_sink *s, uint64_t batch, ember_err *err);
/* kafka_markers.c: the markers. */
EMBER_MUST_CHECK int ks_read_newest_marker(kafka_sink *s, uint64_t committed, ember_err *err);
EMBER_MUST_CHECK int ks_count_present(kafka_sink *s, uint64_t batch, ember_err *err);
uint64_t ks_present_total(const kafka_sink *s);
EMBER_MUST_CHECK int ks_check_rivals(kafka_sink *s, uint64_t batch, ember_err *err);
void ks_note_own_marker(kafka_sink *s);
void ks_short_id(const char *id, char *buf, size_t cap);

#endif
