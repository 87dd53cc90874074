/*
 * layout: the one owner of the state db's durable layout: which column
 * families a job has, what each meta key holds, and typed access to them.
 * Every reader and writer (the batch commit, recovery, the state updater,
 * the inspection tools) names keys and families through this header.
 *
 * Column families (besides "meta", index 0):
 *   "aggregate"      key -> accumulators           jobs with an aggregate
 *   "timers"         window/TTL timers             windowed or ttl aggregates
 *   "dedupe"         id -> expiry                  a dedupe step
 *   "dedupe_timers"  expiry | id                   a dedupe step
 *   "join1".."joinN" a stream-static join table    one per join step, in order
 * A dataflow graph (core/job/graph.c) keeps them per node: "aggregate.N",
 * "timers.N", "dedupe.N", "dedupe_timers.N" for node N; join tables are
 * numbered over the whole job. A stream-stream join node N keeps its rows
 * in "sjoin.N" and their expiry timers in "sjoin_timers.N".
 *
 * Meta keys (values little-endian; written in the batch's one WriteBatch
 * unless said otherwise):
 *   "commit"             u8 version=1 | u64 batch | u64 batch_time_ms |
 *                        u64 job_hash | u64 dead_letter_bytes | u64 records_total
 *                        (checkpoint/commit.c, every batch)
 *   "offset/<partition>" u64 committed end offset; partition as 10 decimal
 *                        digits (checkpoint/commit.c, every batch)
 *   "sink/<kind>"        u64 last batch the sink delivered (commit.c)
 *   "state_keys"         u64 exact number of keys in "aggregate" after the
 *                        batch (the engine's commit step, every batch)
 *   "late_bytes"         u64 committed length of the late=file:PATH side
 *                        output (the engine, jobs with late=file:)
 *   "event_time_max"     u64 (an int64) largest event time seen, from which
 *                        the watermark follows (state/update.c, windowed jobs);
 *                        WIN_DRAINED_EVENT_TIME after a drain
 *   "drained"            u64 the drain batch (the engine's commit of it)
 *   "event_time_max/N"   node N's "event_time_max" (a graph)
 *   "watermark/N"        u64 (an int64) largest event time node N's
 *                        `watermark` step saw (the engine, every batch)
 *   "watermark_seen/N"   u64 batch time of node N's last record at that step
 *                        (idleness: `watermark ... idle=D`)
 *   "sink/<kind>"        in a graph "sink/<N>.<i>.<kind>": node N's sink i
 *   "task/attempt"       u64 scale-out (`ember run --instance`): the attempt
 *                        of the committed batch, as its task marker names it
 *   "task/changelog_next" u64 the changelog offset after the committed
 *                        batch's records: where a restore continues
 */
#ifndef EMBER_STATE_LAYOUT_H
#define EMBER_STATE_LAYOUT_H

#include "core/job/job.h"
#include "state/store.h"

#define LAYOUT_CF_AGGREGATE "aggregate"
#define LAYOUT_CF_TIMERS "timers"
#define LAYOUT_CF_DEDUPE "dedupe"
#define LAYOUT_CF_DEDUPE_TIMERS "dedupe_timers"
#define LAYOUT_CF_TOP "top"
#define LAYOUT_CF_JOIN_PREFIX "join"
#define LAYOUT_CF_STREAM_JOIN "sjoin"
#define LAYOUT_CF_STREAM_JOIN_TIMERS "sjoin_timers"

#define META_COMMIT "commit"
#define META_OFFSET_PREFIX "offset/"
#define META_SINK_PREFIX "sink/"
#define META_STATE_KEYS "state_keys"
#define META_LATE_BYTES "late_bytes"
#define META_EVENT_TIME_MAX "event_time_max"
#define META_DRAINED "drained"
#define META_WATERMARK "watermark"
#define META_WATERMARK_SEEN "watermark_seen"
#define META_TASK_ATTEMPT "task/attempt"
#define META_TASK_CHANGELOG "task/changelog_next"

/* Room for every family name a job can have. */
#define LAYOUT_MAX_CFS (4 * JOB_MAX_NODES + JOB_MAX_STEPS)
#define LAYOUT_CF_NAME_MAX 32

typedef struct layout_cfs {
    size_t n;
    char names[LAYOUT_MAX_CFS][LAYOUT_CF_NAME_MAX];
    const char *ptrs[LAYOUT_MAX_CFS]; /* names[i], for store_open */
} layout_cfs;

/* The column families `job` keeps, in the order store_open takes them. */
void layout_job_cfs(const ember_job *job, layout_cfs *out);
/* A family or meta key of one node: `base` itself in a job that is not a
 * graph (the layout of a linear job), else "base.N" (families) or
 * "base/N" (meta keys). */
void layout_node_cf(const ember_job *node, const char *base, char *buf, size_t cap);
void layout_node_meta(const ember_job *node, const char *base, char *buf, size_t cap);
/* The node that owns family `cf` and the family's base name: "aggregate.3"
 * is node 3's "aggregate"; a linear job's families are the job's own (base
 * = cf). NULL when the number is no node of the job. */
const ember_job *layout_cf_node(const ember_job *job, const char *cf, char *base, size_t cap);
/* "joinN" for the n-th join step (1-based) into buf. */
void layout_join_cf(int n, char *buf, size_t cap);

/* A u64 meta value into the batch. */
void layout_put_u64(store_batch *wb, store *st, const char *key, uint64_t v);
/* Reads a u64 meta value: 0 and *v set, -ENOENT when absent (*v = 0),
 * -EMBER_ECORRUPT when it is not 8 bytes. */
EMBER_MUST_CHECK int layout_get_u64(store *st, const char *key, uint64_t *v, ember_err *err);

#endif
