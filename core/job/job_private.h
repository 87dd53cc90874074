/*
 * job_private: what the files of core/job/ share (job.c, text.c,
 * pipeline.c, aggregate.c, aggregate_fn.c); not for use outside core/job/.
 */
#ifndef EMBER_JOB_PRIVATE_H
#define EMBER_JOB_PRIVATE_H

#include "core/job/job.h"

/* job.c: steps come in pipeline order (repeatable: the stage may recur). */
EMBER_MUST_CHECK int job_enter_stage(ember_job *job, job_stage stage, int repeatable,
                                     ember_err *err);
/* job.c: a job without a parse step reads each line as one string field. */
void job_ensure_schema(ember_job *job);
/* text.c: the typed layout lines of the key and aggregate steps. */
void job_layout_key(ember_job *job);
void job_layout_aggregate(ember_job *job);
void job_layout_top(ember_job *job);
/* Frees what an aggregate owns (its filter). */
void job_free_aggregate(agg_spec *a);

/* pipeline.c: a new step of `kind` at the end of the steps (pipeline order
 * checked); the caller fills it and counts it (n_steps++). */
job_step *job_add_step(ember_job *job, step_kind kind, ember_err *err);

#endif
