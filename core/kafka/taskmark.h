/*
 * taskmark: the task markers of scale-out (`ember run --instance`), as
 * text, and the one rule that decides which attempt of each batch of a
 * task committed. Pure functions: the Kafka side is core/kafka/task.c.
 *
 * Topic `<job>-tasks`, partition = task, key "task-N", value one line:
 *   claim epoch=E owner=ID base=B
 *       an instance took the task at epoch E after restoring it to batch B
 *   commit epoch=E owner=ID batch=B attempt=A chunks=K
 *       batch B committed by attempt A (16 hex digits), whose state delta
 *       is K changelog records
 * Every changelog and output record carries the same (task, batch,
 * attempt) in its headers (ember.task, ember.batch, ember.attempt).
 *
 * The fold, in log order (the only place that decides):
 *   F1. claim E ID B with E > epoch and B == head: epoch = E, owner = ID
 *       (the claimant restored every counted batch);
 *   F2. commit E ID B A counts iff E == epoch, ID == owner and
 *       B == head + 1 (dense, one attempt per batch, the first one);
 *   F3. everything else is ignored: a fenced owner's commits, a second
 *       claim of the same epoch, a retried attempt of a counted batch, a
 *       claim whose base is not the head (the previous owner committed
 *       after the claimant read the log: it restores those and claims
 *       again).
 * So a counted batch stays counted: a reader of the output may act on it
 * as soon as its marker is there.
 * A broker that hides aborted transactions (Kafka, read_committed) never
 * shows an aborted attempt's marker; the embedded broker shows it, but
 * then it also shows every record of that attempt (the marker is produced
 * after the attempt's records were acknowledged), so the fold is right on
 * both: the data of exactly the attempts it counts is applied and shown.
 */
#ifndef EMBER_KAFKA_TASKMARK_H
#define EMBER_KAFKA_TASKMARK_H

#include "ember.h"
#include <stddef.h>
#include <stdint.h>

#define TASKMARK_OWNER_MAX 64

typedef enum { TASKMARK_CLAIM = 1, TASKMARK_COMMIT = 2 } taskmark_kind;

typedef struct taskmark {
    taskmark_kind kind;
    uint64_t epoch;
    char owner[TASKMARK_OWNER_MAX];
    uint64_t base;    /* claim */
    uint64_t batch;   /* commit */
    uint64_t attempt; /* commit */
    uint32_t chunks;  /* commit */
} taskmark;

typedef struct task_chain {
    uint64_t epoch;
    char owner[TASKMARK_OWNER_MAX];
    uint64_t head;      /* newest counted batch; 0 = none */
    uint64_t *attempts; /* attempts[b - 1]: the counted attempt of batch b */
    uint32_t *chunks;
    size_t cap;
} task_chain;

/* Parses one marker value; -EMBER_ECORRUPT (message names it) otherwise. */
EMBER_MUST_CHECK int taskmark_parse(const char *text, size_t len, taskmark *out,
                                    ember_err *err);
/* Formats m into buf (NUL-terminated); the length. */
size_t taskmark_format(const taskmark *m, char *buf, size_t cap);
/* Applies one marker (F1-F3); -ENOMEM. */
EMBER_MUST_CHECK int task_chain_apply(task_chain *c, const taskmark *m);
/* The counted attempt of batch b, 0 when b is not counted. */
uint64_t task_chain_attempt(const task_chain *c, uint64_t b);
uint32_t task_chain_chunks(const task_chain *c, uint64_t b);
void task_chain_free(task_chain *c);

#endif
