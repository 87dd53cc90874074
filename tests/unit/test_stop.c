/* test_stop: core/job/stop.c through the public API — ember_job_stop() per
 * job (a stop before ember_job_run makes it return at once, and run does
 * not reset it) and the process-wide ember_request_stop(). Jobs read an
 * endless generator into a file sink in a fresh temporary directory. */
#include "ember.h"

#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static ember_job *endless_job(const char *name, char *dir, size_t cap)
{
    char ckpt[300], out[300];
    ember_err err = {0};
    snprintf(dir, cap, "/tmp/ember-test-stop-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(ckpt, sizeof ckpt, "%s/ckpt", dir);
    snprintf(out, sizeof out, "%s/out", dir);
    ember_opt batch[] = {{"interval", "20ms"}, {"max-records", "100"}};
    ember_opt cp[] = {{"dir", ckpt}};
    ember_opt src[] = {{"kind", "sensors"}};
    ember_opt parse[] = {{"fields", "sensor,ts:int,temp:float"}};
    ember_opt sink[] = {{"dir", out}};
    ember_job *job = ember_job_new(name);
    ck_assert_ptr_nonnull(job);
    ck_assert_int_eq(ember_job_batch(job, batch, 2, &err), 0);
    ck_assert_int_eq(ember_job_checkpoint(job, cp, 1, &err), 0);
    ck_assert_int_eq(ember_job_source(job, "generator", src, 1, &err), 0);
    ck_assert_int_eq(ember_job_parse(job, "csv", parse, 1, &err), 0);
    ck_assert_int_eq(ember_job_key(job, "sensor", &err), 0);
    ck_assert_int_eq(ember_job_aggregate(job, "count()", &err), 0);
    ck_assert_int_eq(ember_job_sink(job, "file", sink, 1, &err), 0);
    return job;
}

static int exists(const char *dir, const char *name)
{
    char path[400];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return stat(path, &st) == 0;
}

typedef struct runner {
    ember_job *job;
    int rc;
    double ended;
    pthread_t thread;
} runner;

static void *run_thread(void *arg)
{
    runner *r = arg;
    ember_err err = {0};
    r->rc = ember_job_run(r->job, NULL, &err);
    r->ended = now_s();
    return NULL;
}

START_TEST(stop_before_run_returns_at_once_and_stays)
{
    char dir[64];
    ember_err err = {0};
    ember_job *job = endless_job("early", dir, sizeof dir);
    ember_job_stop(job);
    double t0 = now_s();
    ck_assert_int_eq(ember_job_run(job, NULL, &err), 0);
    ck_assert_int_eq(ember_job_run(job, NULL, &err), 0); /* not reset by the first run */
    ck_assert(now_s() - t0 < 0.5);
    ck_assert(!exists(dir, "ckpt")); /* nothing was opened */
    ember_job_free(job);
}
END_TEST

START_TEST(job_stop_ends_only_that_job)
{
    char d1[64], d2[64];
    runner a = {.job = endless_job("a", d1, sizeof d1)},
           b = {.job = endless_job("b", d2, sizeof d2)};
    pthread_create(&a.thread, NULL, run_thread, &a);
    pthread_create(&b.thread, NULL, run_thread, &b);
    usleep(400 * 1000);
    double t0 = now_s();
    ember_job_stop(a.job);
    pthread_join(a.thread, NULL);
    ck_assert_int_eq(a.rc, 0);
    ck_assert(a.ended - t0 < 1.0);
    usleep(200 * 1000);
    ck_assert(!b.ended);  /* still running */
    ember_request_stop(); /* the process-wide stop reaches b */
    pthread_join(b.thread, NULL);
    ck_assert_int_eq(b.rc, 0);
    ck_assert(exists(d1, "out") && exists(d2, "out")); /* both committed batches */
    ember_job_free(a.job);
    ember_job_free(b.job);
}
END_TEST

START_TEST(request_stop_does_not_reach_later_jobs)
{
    char dir[64];
    ember_request_stop(); /* no job runs: nothing to stop */
    runner r = {.job = endless_job("later", dir, sizeof dir)};
    pthread_create(&r.thread, NULL, run_thread, &r);
    usleep(300 * 1000);
    ck_assert(!r.ended);
    ember_job_stop(r.job);
    pthread_join(r.thread, NULL);
    ck_assert_int_eq(r.rc, 0);
    ember_job_free(r.job);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("stop");
    TCase *tc = tcase_create("stop");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, stop_before_run_returns_at_once_and_stays);
    tcase_add_test(tc, job_stop_ends_only_that_job);
    tcase_add_test(tc, request_stop_does_not_reach_later_jobs);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
