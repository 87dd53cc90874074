/*
 * source: the plugin interface every input implements (generator, file,
 * kafka, socket, stdin). Adding a source is one new core/source/X.c and one
 * line in core/source/sources.def.
 *
 * The engine drives a source through the batch cycle:
 *   open -> restore(committed end offsets)          (start or recovery)
 *   plan(budget) -> ranges                          (step 1; advances positions)
 *   read(range) -> lines                            (step 3; also on replay)
 *   available(range)                                (recovery: data still there?)
 * Offsets are per partition, half-open [from, to), in the source's own unit
 * (byte offset, Kafka offset, generator sequence number).
 *
 * A source with replayable=0 (socket, stdin) cannot re-read: its plan() also
 * returns the batch's records (pulled), the engine writes them lz4-compressed
 * to the WAL as DATA before processing, and replays come from the WAL.
 */
#ifndef EMBER_SOURCE_H
#define EMBER_SOURCE_H

#include "core/base/options.h"
#include <signal.h>
#include <stddef.h>
#include <stdint.h>

/* A job with several sources (core/job/graph.c) keeps each source's number
 * in the top byte of a planned range's partition (PLAN, offsets): source 0's
 * partitions are unchanged, so a one-source job's checkpoint is that of
 * earlier releases. Tools show a tagged partition as "sN.pP". */
#define SRC_TAG_SHIFT 24
#define SRC_PARTITION_MASK ((1u << SRC_TAG_SHIFT) - 1)

/* "p3", or "s1.p3" for partition 3 of source 1; returns buf. */
const char *src_partition_text(uint32_t partition, char *buf, size_t cap);

typedef struct src_range {
    uint32_t partition;
    uint64_t from;
    uint64_t to;
} src_range;

/* Called once per record line (no newline), in order. Non-zero stops. */
typedef int (*src_line_fn)(const char *line, size_t len, void *ctx);

typedef struct source source;

/* What a source may need to know about the job. */
typedef struct source_env {
    const char *job_name;
    const char *checkpoint_dir;
    /* The job's stop flag (NULL: never stops). A source that waits (to
     * connect, for a cluster, in a backoff) polls it at least every 250 ms
     * and then returns -ECANCELED; the engine ends the run cleanly. */
    const volatile sig_atomic_t *stop;
} source_env;

/* Records pulled by a non-replayable source's plan(): newline-terminated
 * lines, malloc'd, owned by the source until the next plan(). */
typedef struct src_pulled {
    char *data;
    size_t bytes;
    uint64_t records;
} src_pulled;

typedef struct source_ops {
    const char *kind; /* first member: the registry looks kinds up through it */
    const char *doc;
    const opt_def *options;
    int replayable;

    /* Optional: validates the bound options at job load, beyond what the
     * table says (e.g. Kafka's kafka.* properties); err->col names the
     * option. Nothing is opened. */
    EMBER_MUST_CHECK int (*check)(const opt_set *opts, ember_err *err);
    EMBER_MUST_CHECK int (*open)(source *src, const opt_set *opts, const source_env *env,
                                 ember_err *err);
    /* Sets positions to the committed end offsets (n may be 0: fresh start). */
    EMBER_MUST_CHECK int (*restore)(source *src, const src_range *ends, size_t n,
                                    ember_err *err);
    /* Plans the next batch of at most `budget` records: fills *ranges (owned
     * by the source until the next plan) and advances positions. Zero ranges
     * or all-empty ranges means no input right now. */
    EMBER_MUST_CHECK int (*plan)(source *src, uint64_t budget, src_range **ranges, size_t *n,
                                 src_pulled *pulled, ember_err *err);
    /* Reads exactly one planned range (replayable sources only). */
    EMBER_MUST_CHECK int (*read)(source *src, const src_range *r, src_line_fn fn, void *ctx,
                                 ember_err *err);
    /* Optional, a faster read: points *data at the range's bytes (whole
     * newline-terminated lines), valid until the source's next plan or read,
     * so the batch indexes its lines in place instead of copying each. */
    EMBER_MUST_CHECK int (*read_block)(source *src, const src_range *r, const char **data,
                                       size_t *n, ember_err *err);
    /* 0 when the range can still be read, -EMBER_EDATALOSS naming the
     * partition and the missing range otherwise. */
    EMBER_MUST_CHECK int (*available)(source *src, const src_range *r, ember_err *err);
    /* Optional: 1 when no input will ever come again (stream closed). Without
     * it, a plan with no records counts as idle for --until-idle. */
    int (*exhausted)(source *src);
    /* Optional: called once batch b's commit is durable, with the end offset
     * of every partition it planned (to = the committed position). Kafka
     * commits them to its consumer group so lag tools see progress; nothing
     * depends on it for correctness (the checkpoint owns the offsets). */
    void (*committed)(source *src, const src_range *ends, size_t n);
    /* Optional: called once the last plan's batch is durable in the WAL (its
     * PLAN and DATA fsynced), before it is processed; an acknowledging
     * source (http) answers its clients then. */
    void (*durable)(source *src);
    /* Optional, for messages: names where the index-th record (0-based) of
     * range r lives, e.g. "in.csv:2" or "topic t partition 0 offset 41".
     * 0 when buf was filled. Called on error paths only. */
    int (*locate)(source *src, const src_range *r, uint64_t index, char *buf, size_t cap);
    /* Optional, for lag: the end of the partition's input now (Kafka's high
     * watermark as last fetched, a file's size), without waiting on the
     * network. 0 when *end was set, -1 when the source cannot tell. */
    int (*end_offset)(source *src, uint32_t partition, uint64_t *end);
    void (*close)(source *src);
} source_ops;

struct source {
    const source_ops *ops;
    void *impl;
};

/* "generator, file, socket, stdin or kafka": every kind, for messages. */
void source_kinds_text(char *buf, size_t cap);
/* Looks up a kind in the registry; NULL if unknown. */
const source_ops *source_find(const char *kind);
/* NULL-terminated list of every registered source. */
extern const source_ops *const source_registry[];

/* Planned ranges travel in the WAL's PLAN record:
 *   u64 batch_time_ms | u32 n | n x (u32 partition | u64 from | u64 to)   (LE) */
size_t plan_encoded_bytes(size_t n_ranges);
void plan_encode(uint64_t batch_time_ms, const src_range *r, size_t n, uint8_t *out);
/* *ranges malloc'd. -EMBER_ECORRUPT on a malformed payload. */
EMBER_MUST_CHECK int plan_decode(const void *buf, size_t len, uint64_t *batch_time_ms,
                                 src_range **ranges, size_t *n, ember_err *err);

#endif
