/*
 * custom_agg: an aggregate defined in C (ember_job_aggregate_fn). Reads
 * sensor,ts,value lines and writes, per sensor and 10-second event-time
 * window, the record count (built in) and the geometric mean of value (the
 * callbacks below), which no built-in aggregate gives:
 *
 *   geo_mean = exp(mean(log(value))) over the window's values > 0
 *
 * The state is 16 bytes: how many values, and the sum of their logarithms
 * in fixed point (round(log(v) * 2^32), an int64). Integer sums are exact
 * in any order, so the result does not depend on how records are split
 * into batches, threads, and partial states, and a restart after kill -9
 * writes byte-identical output. A double sum of logs would merge in an
 * order-dependent way and could differ in the last bit.
 *
 *   build/custom_agg IN.csv CKPT_DIR OUT_DIR [INTERVAL [WINDOW]]
 *
 * INTERVAL defaults to 10ms, WINDOW to "tumbling 10s on ts watermark 1s"
 * (any window spec works: sliding panes and sessions merge the state too).
 */
#include "ember.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define FIXED_ONE 4294967296.0 /* 2^32: log(v) in units of 2^-32 */

typedef struct geo_state {
    int64_t n;       /* values folded in */
    int64_t log_sum; /* sum of round(log(v) * 2^32) */
} geo_state;

/* A fresh state is all zeros, which merges as nothing. */
static void geo_init(void *state, void *user)
{
    (void)user;
    memset(state, 0, sizeof(geo_state));
}

/* Worker threads, several at a time on different states: touches only its state. */
static void geo_add(void *state, const ember_record *args, void *user)
{
    (void)user;
    geo_state *g = state;
    const ember_value *v = &args->values[0];
    if (v->type != EMBER_FLOAT || !(v->u.f > 0) || isinf(v->u.f))
        return; /* empty, zero, negative or NaN: no logarithm */
    g->n++;
    g->log_sum += (int64_t)floor(log(v->u.f) * FIXED_ONE + 0.5);
}

static void geo_merge(void *into, const void *from, void *user)
{
    (void)user;
    geo_state *a = into;
    const geo_state *b = from;
    a->n += b->n;
    a->log_sum += b->log_sum;
}

static void geo_result(const void *state, ember_value *out, void *user)
{
    (void)user;
    const geo_state *g = state;
    if (g->n == 0) {
        out->type = EMBER_NULL; /* no positive value in the window */
        return;
    }
    out->u.f = exp((double)g->log_sum / (double)g->n / FIXED_ONE);
}

static const ember_agg_fns geo_mean = {
    .state_bytes = sizeof(geo_state),
    .result_type = EMBER_FLOAT,
    .init = geo_init,
    .add = geo_add,
    .merge = geo_merge,
    .result = geo_result,
};

static int build(ember_job *job, char **argv, int argc, ember_err *err)
{
    ember_opt batch[] = {{"interval", argc > 4 ? argv[4] : "10ms"}, {"max-records", "500"}};
    ember_opt cp[] = {{"dir", argv[2]}, {"every", "4"}};
    ember_opt src[] = {{"path", argv[1]}};
    ember_opt parse[] = {{"fields", "sensor,ts:int,value:float"}};
    ember_opt sink[] = {{"dir", argv[3]}};
    int rc;
    if ((rc = ember_job_batch(job, batch, 2, err)) ||
        (rc = ember_job_checkpoint(job, cp, 2, err)) ||
        (rc = ember_job_source(job, "file", src, 1, err)) ||
        (rc = ember_job_parse(job, "csv", parse, 1, err)) ||
        (rc = ember_job_key(job, "sensor", err)) ||
        (rc = ember_job_window(job, argc > 5 ? argv[5] : "tumbling 10s on ts watermark 1s", err)) ||
        (rc = ember_job_aggregate(job, "count()", err)) ||
        (rc = ember_job_aggregate_fn(job, "geo_mean", "value", &geo_mean, NULL, err)) ||
        (rc = ember_job_sink(job, "file", sink, 1, err)))
        return rc;
    return 0;
}

int main(int argc, char **argv)
{
    ember_err err = {0};
    if (argc < 4 || argc > 6) {
        fprintf(stderr, "usage: custom_agg IN.csv CKPT_DIR OUT_DIR [INTERVAL [WINDOW]]\n");
        return 2;
    }
    ember_job *job = ember_job_new("custom_agg");
    if (!job)
        return 1;
    ember_run_opts opts = {.until_idle = 1, .threads = 2};
    int rc = build(job, argv, argc, &err);
    if (!rc)
        rc = ember_job_run(job, &opts, &err);
    if (rc)
        fprintf(stderr, "custom_agg: %s (%s)\n", err.msg, ember_strerror(rc));
    ember_job_free(job);
    return rc ? 1 : 0;
}
