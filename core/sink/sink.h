/*
 * sink: the plugin interface of outputs (stdout, file, kafka). One new
 * core/sink/X.c and one line in core/sink/sinks.def adds a sink.
 *
 * Per batch (step 5): begin(b) -> write(row)* -> commit(b), then the engine
 * commits state + offsets + sink marker in one RocksDB WriteBatch. A replayed
 * batch goes through the same calls with the same rows in the same order;
 * the sink makes that idempotent (file: overwrite the same name; kafka: skip
 * batches its committed markers already cover). begin() returning 1 means
 * "already delivered, skip writes and commit".
 */
#ifndef EMBER_SINK_H
#define EMBER_SINK_H

#include "core/base/options.h"
#include "core/ops/schema.h"
#include "core/ops/text.h"
#include <signal.h>
#include <stdint.h>

typedef struct sink sink;
struct kafka_task; /* core/kafka/task.h */

typedef struct sink_env {
    const char *job_name;
    const char *checkpoint_dir;
    const schema *rows;     /* schema of the rows written */
    int n_key_fields;       /* first n fields of rows are the key (0: no key) */
    /* The job's stop flag (NULL: never stops); polled as source_env.stop is:
     * a wait ends with -ECANCELED, the batch stays uncommitted and replays. */
    const volatile sig_atomic_t *stop;
    /* The checkpoint's id (32 hex, DIR/ID): a sink marks its output with it
     * and, at start, refuses output marked by another checkpoint (an old
     * run with another --dir, a second copy of the job) unless reset_output
     * (`ember run --reset-output`): then it moves that output aside or
     * starts a new marker sequence owned by this id. */
    const char *checkpoint_id;
    int reset_output;
    /* "" for the job's one output; in a job with several sinks "NODE.SINK",
     * which a sink adds to ids it keeps outside the checkpoint (kafka: the
     * transactional id), so two sinks of a job never share them */
    const char *sink_id;
    /* A scale-out task (`ember run --instance`): a kafka sink writes its
     * rows into the task's transaction (core/kafka/task.h), which the
     * engine commits with the state delta; NULL otherwise. */
    struct kafka_task *task;
} sink_env;

typedef struct sink_ops {
    const char *kind; /* first member: the registry looks kinds up through it */
    const char *doc;
    const opt_def *options;
    int exactly_once; /* 0 for stdout (at-least-once) */

    /* Optional: validates the bound options at job load, beyond what the
     * table says (e.g. Kafka's kafka.* properties); err->col names the
     * option. Nothing is opened. */
    EMBER_MUST_CHECK int (*check)(const opt_set *opts, ember_err *err);

    EMBER_MUST_CHECK int (*open)(sink *s, const opt_set *opts, const sink_env *env,
                                 ember_err *err);
    /* Called once after recovery with the last committed batch (0 if none). */
    EMBER_MUST_CHECK int (*recover)(sink *s, uint64_t committed_batch, ember_err *err);
    /* 0 = go on, 1 = batch already delivered (skip), <0 error. */
    EMBER_MUST_CHECK int (*begin)(sink *s, uint64_t batch, uint64_t batch_time_ms,
                                  ember_err *err);
    EMBER_MUST_CHECK int (*write)(sink *s, const ember_record *row, ember_err *err);
    /* Makes the batch durable and visible (atomically if the sink can). */
    EMBER_MUST_CHECK int (*commit)(sink *s, uint64_t batch, ember_err *err);
    void (*close)(sink *s);
} sink_ops;

struct sink {
    const sink_ops *ops;
    void *impl;
};

const sink_ops *sink_find(const char *kind);
/* "stdout, file or kafka": every kind, for messages. */
void sink_kinds_text(char *buf, size_t cap);
extern const sink_ops *const sink_registry[];

#endif
