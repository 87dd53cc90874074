/*
 * kafka_task: one task of a scale-out instance (`ember run --instance`) on
 * the Kafka side: its transactional producer (transactional.id
 * `<job>-task-<N>`), its markers (core/kafka/taskmark.h) and its changelog.
 *
 * Per batch b of the task, in ONE transaction (begun by the first record):
 *   1. the sink's rows (sink kafka produces through kafka_task_produce),
 *   2. the batch's state delta: the RocksDB WriteBatch of the commit,
 *      packed (u32 LE length | lz4 block) and cut into chunks of
 *      KAFKA_TASK_CHUNK_BYTES, to `<job>-state-changelog` partition N,
 *   3. the input end offsets through send_offsets_to_transaction with the
 *      instance's consumer-group metadata (EOS v2: the group's offsets move
 *      with the output; lag tools read them),
 *   4. every record acknowledged; the marker partition is folded again: if
 *      another owner claimed the task the attempt is aborted (fenced,
 *      -EMBER_EFENCED) and nothing more is written,
 *   5. the commit marker (epoch, owner, b, attempt, chunks), then commit.
 * Records carry headers ember.task, ember.batch, ember.attempt.
 *
 * Threading: a kafka_task belongs to its task's thread; `group` (the
 * instance's consumer) is only asked for its group metadata, which
 * librdkafka allows from any thread.
 */
#ifndef EMBER_KAFKA_TASK_H
#define EMBER_KAFKA_TASK_H

#include "core/kafka/client.h"
#include "core/kafka/taskmark.h"

#include <signal.h>

#define KAFKA_TASK_CHUNK_BYTES (512 * 1024)

typedef struct kafka_task {
    kafka_endpoint ep;
    rd_kafka_t *rk;       /* transactional producer */
    rd_kafka_t *reader;   /* assign-only consumer: markers and changelog */
    rd_kafka_t *group;    /* borrowed: the instance's group member, NULL: none */
    char job[128], owner[TASKMARK_OWNER_MAX];
    char markers[300], changelog[300];
    int32_t task;
    task_chain chain;       /* the fold of the markers read so far */
    int64_t markers_read;   /* offset up to which the markers were folded */
    uint64_t epoch;         /* ours, once claimed */
    uint64_t attempt;       /* the running attempt, 0 = none */
    int in_txn, inited;
    /* the running transaction's delivery reports */
    int64_t outstanding;
    int dr_failed;
    char dr_error[256];
    int64_t changelog_next; /* offset after our newest changelog record */
} kafka_task;

/* Opens the clients; stop (borrowed) ends the waits. */
EMBER_MUST_CHECK int kafka_task_open(kafka_task *t, const char *brokers, const char *job,
                                     const char *owner, int32_t task, rd_kafka_t *group,
                                     const volatile sig_atomic_t *stop, ember_err *err);
void kafka_task_close(kafka_task *t);
/* Folds the markers written since the last call into t->chain. */
EMBER_MUST_CHECK int kafka_task_fold(kafka_task *t, ember_err *err);
/* Writes `claim epoch+1 owner base=head` (its own transaction) and folds
 * it: -EMBER_EFENCED when another instance claimed the task first, -EAGAIN
 * when the previous owner committed another batch first (restore it and
 * claim again). */
EMBER_MUST_CHECK int kafka_task_claim(kafka_task *t, ember_err *err);

/* One changelog record, in log order; data borrowed for the call. */
typedef int (*kafka_task_log_fn)(void *ctx, uint64_t batch, uint64_t attempt, uint32_t chunk,
                                 const void *data, size_t len, int64_t offset);
/* Reads the changelog from `from` (-1: its start) to its end now. *end is
 * the end offset. */
EMBER_MUST_CHECK int kafka_task_read_log(kafka_task *t, int64_t from, kafka_task_log_fn fn,
                                         void *ctx, int64_t *end, ember_err *err);

/* A record of the running attempt (begins the transaction); partition -1:
 * Kafka's default partitioner over the key. */
EMBER_MUST_CHECK int kafka_task_produce(kafka_task *t, const char *topic, int32_t partition,
                                        const void *key, size_t klen, const void *val,
                                        size_t vlen, uint64_t batch, ember_err *err);
/* Steps 2-5 for batch b: `delta` is the WriteBatch, `offsets` the input
 * ends (topic, partition, offset). -EMBER_EFENCED: another owner holds the
 * task (aborted, nothing counted); other errors abort as well. */
EMBER_MUST_CHECK int kafka_task_commit(kafka_task *t, uint64_t batch, const void *delta,
                                       size_t len,
                                       const rd_kafka_topic_partition_list_t *offsets,
                                       ember_err *err);
/* A delta gathered from its chunks back into the WriteBatch's bytes
 * (malloc'd into *out); -EMBER_ECORRUPT when it does not decompress. */
EMBER_MUST_CHECK int kafka_task_unpack(const char *blob, size_t len, char **out,
                                       size_t *out_len, ember_err *err);
/* Aborts the running attempt, if any. */
void kafka_task_abort(kafka_task *t);
/* The topic's partition count (for a sink's partitioner). */
EMBER_MUST_CHECK int kafka_task_partitions(kafka_task *t, const char *topic, int32_t *n,
                                           ember_err *err);

#endif
