/*
 * repartition: scale-out of a job whose input is not partitioned by its
 * `key` (README, "Scale-out", Repartitioning). The job is cut at its `key`
 * step into two jobs that every task runs side by side:
 *   stage 0  `JOB.0`: the source, parse and filters, then
 *            `sink kafka topic=JOB-repartition-0 format=csv partition-by=KEY`
 *            (its rows keyed and partitioned by the state key, in the
 *            task's transaction, its offsets and markers its own:
 *            `JOB.0-tasks`, `JOB.0-state-changelog`);
 *   stage 1  `JOB`: `source kafka topic=JOB-repartition-0 upstream=JOB.0`
 *            (only counted attempts, only decided offsets), `parse csv` of
 *            stage 0's fields, then the job from its `key` step on.
 * Task N of stage 1 reads partition N of the repartition topic: the state
 * of a key lives in one task whatever partition its input came through.
 */
#ifndef EMBER_ENGINE_REPARTITION_H
#define EMBER_ENGINE_REPARTITION_H

#include "ember.h"
#include <stddef.h>

/* Whether job_path needs the cut (its first kafka source's keyed-by= is not
 * the job's key): 0 and *stages = 0 when not; else writes DIR/stage-0.job
 * and DIR/stage-1.job and sets *stages = 2. -EMBER_EUSAGE for a job the cut
 * does not support (a graph, steps other than filters before `key`). */
EMBER_MUST_CHECK int repartition_split(const char *job_path, const char *dir, int *stages,
                                       ember_err *err);
/* DIR/stage-S.job into buf. */
void repartition_stage_path(const char *dir, int stage, char *buf, size_t cap);

#endif
