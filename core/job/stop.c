/*
 * stop: ember_job_stop() and the process-wide ember_request_stop().
 *
 * A stop is a flag in the job (job->stop), set from a signal handler as
 * well as from another thread, never reset; the engine and every source
 * and sink wait polls it. ember_request_stop() must reach every running job
 * without a lock (it runs in signal handlers), so running jobs sit in a
 * fixed table of slots claimed and released with atomic compare-and-swap.
 * `in_stop` counts the ember_request_stop() calls in progress: a job leaves
 * the table and then waits for it to reach 0, so a handler on another
 * thread that read the slot before it was released never writes to a job
 * that was freed meanwhile.
 */
#include "core/job/job.h"

#include <sched.h>

#define RUNNING_MAX 64

static ember_job *running[RUNNING_MAX];
static int in_stop;

void ember_job_stop(ember_job *job)
{
    if (job)
        job->stop = 1;
}

void ember_job_drain(ember_job *job)
{
    if (job) {
        job->drain = 1;
        job->stop = 1;
    }
}

void ember_request_stop(void)
{
    __atomic_add_fetch(&in_stop, 1, __ATOMIC_SEQ_CST);
    for (int i = 0; i < RUNNING_MAX; i++) {
        ember_job *job = __atomic_load_n(&running[i], __ATOMIC_SEQ_CST);
        if (job)
            job->stop = 1;
    }
    __atomic_sub_fetch(&in_stop, 1, __ATOMIC_SEQ_CST);
}

/* More than RUNNING_MAX jobs at once: the others are stopped only by
 * ember_job_stop(). */
void em_job_running_add(ember_job *job)
{
    for (int i = 0; i < RUNNING_MAX; i++) {
        ember_job *expected = NULL;
        if (__atomic_compare_exchange_n(&running[i], &expected, job, 0, __ATOMIC_SEQ_CST,
                                        __ATOMIC_SEQ_CST))
            return;
    }
}

void em_job_running_remove(ember_job *job)
{
    for (int i = 0; i < RUNNING_MAX; i++) {
        ember_job *expected = job;
        if (__atomic_compare_exchange_n(&running[i], &expected, NULL, 0, __ATOMIC_SEQ_CST,
                                        __ATOMIC_SEQ_CST))
            break;
    }
    while (__atomic_load_n(&in_stop, __ATOMIC_SEQ_CST))
        sched_yield();
}
