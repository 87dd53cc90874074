/*
 * rate: the backpressure rate estimator (`batch backpressure=on`), a PID
 * controller after Spark Streaming's PIDRateEstimator. After every new batch
 * the engine feeds it what the batch took (records, processing time,
 * scheduling delay); the estimator answers the rate (records/s) the job can
 * sustain, and step 1 (plan) of the next batch takes at most
 * rate x interval records (rate_budget: never more than max-records, never
 * fewer than min-rate x interval, so the job always moves on).
 *
 * Per finished batch at time t (ms), with the previous update at t0:
 *   processing_rate = records * 1000 / processing_ms
 *   error           = latest_rate - processing_rate                  (P)
 *   historical      = sched_delay_ms * processing_rate / interval_ms (I)
 *                     (the backlog the delay stands for, as a rate)
 *   d_error         = (error - latest_error) * 1000 / (t - t0)       (D)
 *   rate            = max(min_rate, latest_rate - kp * error
 *                                   - ki * historical - kd * d_error)
 * The first update only seeds latest_rate = processing_rate; the bound
 * starts with the second (as in Spark). Gains are Spark's defaults
 * (kp 1, ki 0.2, kd 0).
 *
 * Only the planning of new batches reads the bound: a replayed batch uses
 * its PLAN's ranges. Nothing here is durable; a restart starts afresh, so the
 * option can change across restarts without touching the state layout.
 */
#ifndef EMBER_RATE_H
#define EMBER_RATE_H

#include <stdint.h>

typedef struct rate_estimator {
    double interval_ms;
    double min_rate; /* records/s, floor of the bound */
    double kp, ki, kd;
    int seeded;
    double latest_time_ms, latest_rate, latest_error;
    double bound; /* records/s the next plan is held to; 0 = none yet */
} rate_estimator;

/* initial_rate > 0 bounds the batches planned before the estimator has
 * one (Spark's backpressure.initialRate); 0 leaves them at max-records. */
void rate_init(rate_estimator *r, double interval_ms, double min_rate, double initial_rate);

/* Feeds one finished batch; time_ms is any monotonic clock. Returns 1 when
 * the bound changed, 0 when the batch says nothing (no records, no
 * processing time, a clock that did not advance, or the seeding update). */
int rate_update(rate_estimator *r, double time_ms, uint64_t records, double processing_ms,
                double sched_delay_ms);

/* Records the next batch may take: bound x interval, clamped to
 * [max(1, min_rate x interval), max_records]; max_records without a bound.
 * max_records always wins: it is a hard cap. */
uint64_t rate_budget(const rate_estimator *r, uint64_t max_records);

#endif
