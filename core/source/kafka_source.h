/*
 * kafka_source: the state of the kafka source, shared by its planning and
 * reading (kafka.c) and its consumer-group commits (kafka_group.c); not for
 * use outside core/source/kafka*.c.
 */
#ifndef EMBER_SOURCE_KAFKA_SOURCE_H
#define EMBER_SOURCE_KAFKA_SOURCE_H

#include "core/base/clock.h"
#include "core/base/log.h"
#include "core/kafka/client.h"
#include "core/kafka/mock.h"
#include "core/kafka/props.h"
#include "core/source/source.h"

#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HELD_MAX            1024
#define REQUEST_TIMEOUT_MS  5000
#define METADATA_EVERY_MS   5000.0
#define EMBEDDED_PARTITIONS 4
#define GROUP_DRAIN_MS      30000.0 /* close waits up to timeout= (0: this) for group commits */
#define GROUP_REPORT_MS     10000.0 /* repeated identical failures: one line per this */
/* What the member subscribes to: librdkafka joins a group only with a
 * subscription that matches a topic; this one (made by the mock on first
 * use) is never read, so the group's members keep every partition of the
 * topics they consume. */
#define GROUP_MEMBER_TOPIC "ember.group-member"

typedef struct kpart {
    int32_t id;
    int64_t next;      /* next offset to plan; -1: not positioned yet */
    int64_t read_next; /* offset read() delivers next; -1: not assigned */
    rd_kafka_queue_t *q;
    rd_kafka_message_t *held[HELD_MAX]; /* fetched, not yet delivered */
    size_t held_at, n_held;
} kpart;

typedef struct kupstream kupstream; /* kafka_upstream.c */

typedef struct kafka_source {
    kafka_endpoint ep;
    rd_kafka_t *rk;
    const opt_set *props; /* the kafka.* options (borrowed from the job) */
    char *topic, *group;
    char *only; /* partitions=: "" or a comma list */
    kupstream *up; /* upstream=JOB: NULL without */
    char what[400]; /* "source kafka topic T" */
    int start_latest, on_data_loss_skip;
    int64_t max_per_part, timeout_ms;
    kpart **parts;
    size_t n_parts;
    int positioned_once; /* positions came from a checkpoint or a first plan */
    int reassign;        /* the assignment must be redone before reading */
    int reachable, engine_commits;
    kafka_backoff backoff;
    char ckpt_dir[4096]; /* named by the message about a forgetful embedded broker */
    double next_metadata_ms;
    src_range *ranges; /* the last plan */
    size_t n_ranges;
    int commit_pending; /* the last plan is not yet committed to the group */
    /* group=G commits (see the top). */
    int mock;                                 /* the cluster is librdkafka's mock */
    int in_flight;                            /* generation-less commits without a result yet */
    rd_kafka_t *member;                       /* the consumer that joined G to commit (mock only) */
    int joined;                               /* member has a generation (an assignment came) */
    int member_in_flight;                     /* member commits without a result yet */
    rd_kafka_topic_partition_list_t *pending; /* newest ends the member has yet to send */
    uint64_t group_failures, unreported;
    char group_error[200];
    double reported_ms;
} kafka_source;

/* kafka_upstream.c (upstream=JOB) */
EMBER_MUST_CHECK int ku_open(kafka_source *s, const char *job, ember_err *err);
void ku_close(kafka_source *s);
/* 1 when m's attempt counted, 0 when not, <0 (err says) when the markers
 * do not decide it even after folding them again (a planned range holds
 * decided records only: one replayed by a new process folds here first). */
EMBER_MUST_CHECK int ku_counts(kafka_source *s, const rd_kafka_message_t *m, ember_err *err);
EMBER_MUST_CHECK int ku_decided_end(kafka_source *s, int32_t p, int64_t from, int64_t *end,
                                    uint64_t budget, ember_err *err);

/* kafka_group.c */
void kg_group_commit(kafka_source *s, const src_range *ends, size_t n);
void kg_group_drain(kafka_source *s);
void kg_member_poll(kafka_source *s, int timeout_ms);
void kg_kafka_committed(source *src, const src_range *ends, size_t n);
void kg_on_group_commit(rd_kafka_t *rk, rd_kafka_resp_err_t e,
                        rd_kafka_topic_partition_list_t *offsets, void *opaque);

#endif
