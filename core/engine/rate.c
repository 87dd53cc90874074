/*
 * rate: the PID rate estimator behind `batch backpressure=on` (see rate.h
 * for the controller's equations and how the engine uses it).
 */
#include "core/engine/rate.h"

#include <math.h>

void rate_init(rate_estimator *r, double interval_ms, double min_rate, double initial_rate)
{
    *r = (rate_estimator){
        /* A zero interval would divide the backlog term by zero. */
        .interval_ms = interval_ms > 1 ? interval_ms : 1,
        .min_rate = min_rate > 0 ? min_rate : 0,
        .kp = 1.0,
        .ki = 0.2,
        .kd = 0.0,
        .bound = initial_rate > 0 ? initial_rate : 0,
    };
}

int rate_update(rate_estimator *r, double time_ms, uint64_t records, double processing_ms,
                double sched_delay_ms)
{
    if (records == 0 || processing_ms <= 0 || (r->seeded && time_ms <= r->latest_time_ms))
        return 0;
    double processing_rate = (double)records * 1000.0 / processing_ms;
    if (!r->seeded) {
        r->seeded = 1;
        r->latest_time_ms = time_ms;
        r->latest_rate = processing_rate;
        r->latest_error = 0;
        return 0;
    }
    double since_s = (time_ms - r->latest_time_ms) / 1000.0;
    double error = r->latest_rate - processing_rate;
    double delay = sched_delay_ms > 0 ? sched_delay_ms : 0;
    double historical = delay * processing_rate / r->interval_ms;
    double d_error = (error - r->latest_error) / since_s;
    double rate = r->latest_rate - r->kp * error - r->ki * historical - r->kd * d_error;
    if (rate < r->min_rate)
        rate = r->min_rate;
    r->latest_time_ms = time_ms;
    r->latest_rate = rate;
    r->latest_error = error;
    r->bound = rate;
    return 1;
}

uint64_t rate_budget(const rate_estimator *r, uint64_t max_records)
{
    if (r->bound <= 0)
        return max_records;
    double floor_records = ceil(r->min_rate * r->interval_ms / 1000.0);
    double want = floor(r->bound * r->interval_ms / 1000.0);
    if (want < floor_records)
        want = floor_records;
    if (want < 1)
        want = 1;
    return want >= (double)max_records ? max_records : (uint64_t)want;
}
