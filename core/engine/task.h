/*
 * task: one task of a scale-out instance (`ember run --instance`) inside
 * the engine. The instance runner (instance.c) makes a task_rt per task it
 * is assigned, hangs it on the task's job (ember_job.task) and runs the job
 * over DIR/tasks/N; the engine then
 *   at open     task_restore: brings the local state forward to the newest
 *               batch the task's markers count, from the changelog (from
 *               the local commit's changelog offset, else from its start),
 *               then claims the task (a new epoch);
 *   at commit   task_commit: the state delta (the batch's whole WriteBatch,
 *               commit record and offsets included) goes to the changelog
 *               and the offsets to the group, with the sink's rows, in one
 *               Kafka transaction that the marker closes; only then the
 *               local RocksDB commit.
 * A task whose local commit is not a batch the markers count (a zombie's,
 * an aborted attempt's) is removed by the runner before its job opens.
 */
#ifndef EMBER_ENGINE_TASK_H
#define EMBER_ENGINE_TASK_H

#include "core/kafka/task.h"
#include "recovery/recovery.h"

#include <pthread.h>

typedef enum { TASK_STARTING, TASK_RESTORING, TASK_RUNNING, TASK_ENDED } task_phase;

typedef struct task_rt {
    kafka_task kt;
    int32_t id;
    char dir[4200];         /* DIR/tasks/N */
    ember_job *job;         /* the task's copy of the job */
    ember_run_opts opts;    /* the instance's, dir = DIR/tasks/N */
    char brokers[1024], owner[TASKMARK_OWNER_MAX];
    struct rd_kafka_s *group; /* borrowed: the instance's member */
    volatile int64_t offset;  /* committed end offset of its first source's partition */
    pthread_t thread;
    int started, fenced, rc;
    ember_err err;
    /* what `ember inspect` shows (written by the task's thread) */
    volatile int phase;
    volatile uint64_t restore_from, restore_batches, restored_batches, restored_bytes;
    volatile uint64_t committed;
    volatile double restore_ms;
    struct engine *engine; /* while the job runs */
} task_rt;

struct engine;
struct batch_ctx;
EMBER_MUST_CHECK int task_restore(struct engine *e, recovery *r, ember_err *err);
EMBER_MUST_CHECK int task_commit(struct engine *e, struct batch_ctx *b, ember_err *err);

#endif
