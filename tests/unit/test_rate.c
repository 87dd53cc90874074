/* test_rate: core/rate.c — the PID rate estimator of backpressure and the
 * record budget it gives the next plan. Expected values are worked out by
 * hand in the comments from the equations in core/rate.h. */
#include "core/engine/rate.h"

#include <check.h>
#include <stdlib.h>

#define EPS 1e-6

START_TEST(first_batch_only_seeds)
{
    rate_estimator r;
    rate_init(&r, 100, 100, 0);
    /* 1000 records in 100 ms = 10000/s: seeds the rate, no bound yet. */
    ck_assert_int_eq(rate_update(&r, 1000, 1000, 100, 0), 0);
    ck_assert_double_eq_tol(r.latest_rate, 10000, EPS);
    ck_assert_double_eq_tol(r.bound, 0, EPS);
    ck_assert_uint_eq(rate_budget(&r, 5000), 5000);
}
END_TEST

START_TEST(proportional_and_integral_terms)
{
    rate_estimator r;
    rate_init(&r, 100, 100, 0);
    rate_update(&r, 1000, 1000, 100, 0); /* seed: 10000/s */
    /* 500 records in 100 ms = 5000/s, started 50 ms late:
     *   error      = 10000 - 5000        = 5000
     *   historical = 50 * 5000 / 100     = 2500
     *   rate       = 10000 - 5000 - 0.2 * 2500 = 4500 */
    ck_assert_int_eq(rate_update(&r, 1100, 500, 100, 50), 1);
    ck_assert_double_eq_tol(r.bound, 4500, EPS);
    ck_assert_double_eq_tol(r.latest_error, 5000, EPS);
    ck_assert_uint_eq(rate_budget(&r, 5000), 450); /* 4500/s x 100 ms */
    /* 450 records in 50 ms = 9000/s, on time:
     *   error = 4500 - 9000 = -4500; rate = 4500 + 4500 = 9000 */
    ck_assert_int_eq(rate_update(&r, 1200, 450, 50, 0), 1);
    ck_assert_double_eq_tol(r.bound, 9000, EPS);
    ck_assert_uint_eq(rate_budget(&r, 5000), 900);
}
END_TEST

START_TEST(steady_state_keeps_the_rate)
{
    rate_estimator r;
    rate_init(&r, 200, 10, 0);
    rate_update(&r, 0, 2000, 200, 0); /* 10000/s */
    for (int i = 1; i <= 5; i++) {
        ck_assert_int_eq(rate_update(&r, 200.0 * i, 2000, 200, 0), 1);
        ck_assert_double_eq_tol(r.bound, 10000, EPS);
    }
    ck_assert_uint_eq(rate_budget(&r, 1000000), 2000);
}
END_TEST

START_TEST(derivative_term)
{
    rate_estimator r;
    rate_init(&r, 100, 100, 0);
    r.kd = 0.5;
    rate_update(&r, 0, 1000, 100, 0); /* seed: 10000/s */
    /* 800 records in 100 ms = 8000/s, one second later:
     *   error = 2000; d_error = (2000 - 0) / 1 s = 2000
     *   rate  = 10000 - 2000 - 0.5 * 2000 = 7000 */
    ck_assert_int_eq(rate_update(&r, 1000, 800, 100, 0), 1);
    ck_assert_double_eq_tol(r.bound, 7000, EPS);
}
END_TEST

START_TEST(rate_never_falls_below_min_rate)
{
    rate_estimator r;
    rate_init(&r, 1000, 100, 0);
    rate_update(&r, 0, 10000, 1000, 0); /* seed: 10000/s */
    /* 100 records in 1000 ms = 100/s, 10 s late:
     *   error = 9900; historical = 10000 * 100 / 1000 = 1000
     *   rate  = 10000 - 9900 - 200 = -100 -> min_rate 100 */
    ck_assert_int_eq(rate_update(&r, 1000, 100, 1000, 10000), 1);
    ck_assert_double_eq_tol(r.bound, 100, EPS);
    ck_assert_uint_eq(rate_budget(&r, 1000000), 100); /* 100/s x 1 s */
}
END_TEST

START_TEST(budget_is_clamped_to_max_records_and_one)
{
    rate_estimator r;
    rate_init(&r, 100, 100, 0);
    r.bound = 1e9; /* 1e8 records per interval */
    ck_assert_uint_eq(rate_budget(&r, 70000), 70000);
    r.bound = 100; /* min-rate: 10 records per 100 ms */
    ck_assert_uint_eq(rate_budget(&r, 70000), 10);
    ck_assert_uint_eq(rate_budget(&r, 4), 4); /* max-records is a hard cap */
    rate_init(&r, 5, 100, 0);                 /* 100/s x 5 ms = 0.5 -> 1 */
    r.bound = 100;
    ck_assert_uint_eq(rate_budget(&r, 70000), 1);
}
END_TEST

START_TEST(initial_rate_bounds_the_first_batches)
{
    rate_estimator r;
    rate_init(&r, 100, 100, 2000);
    ck_assert_uint_eq(rate_budget(&r, 1000000), 200);
    ck_assert_int_eq(rate_update(&r, 0, 200, 10, 0), 0); /* seeding keeps it */
    ck_assert_uint_eq(rate_budget(&r, 1000000), 200);
}
END_TEST

START_TEST(uninformative_batches_are_ignored)
{
    rate_estimator r;
    rate_init(&r, 100, 100, 0);
    ck_assert_int_eq(rate_update(&r, 0, 0, 10, 0), 0);  /* no records */
    ck_assert_int_eq(rate_update(&r, 0, 100, 0, 0), 0); /* no time */
    ck_assert_int_eq(r.seeded, 0);
    rate_update(&r, 500, 1000, 100, 0);
    ck_assert_int_eq(rate_update(&r, 500, 10, 100, 0), 0); /* clock did not advance */
    ck_assert_int_eq(rate_update(&r, 400, 10, 100, 0), 0);
    ck_assert_double_eq_tol(r.bound, 0, EPS);
    ck_assert_double_eq_tol(r.latest_rate, 10000, EPS);
}
END_TEST

START_TEST(zero_interval_does_not_divide_by_zero)
{
    rate_estimator r;
    rate_init(&r, 0, 100, 0);
    rate_update(&r, 0, 1000, 100, 0);
    ck_assert_int_eq(rate_update(&r, 10, 1000, 100, 5), 1);
    /* interval taken as 1 ms: historical = 5 * 10000 / 1 = 50000 ->
     * 10000 - 0 - 10000 = 0 -> min_rate 100 */
    ck_assert_double_eq_tol(r.bound, 100, EPS);
    ck_assert_uint_eq(rate_budget(&r, 1000), 1);
}
END_TEST

static Suite *rate_suite(void)
{
    Suite *s = suite_create("rate");
    TCase *tc = tcase_create("pid");
    tcase_add_test(tc, first_batch_only_seeds);
    tcase_add_test(tc, proportional_and_integral_terms);
    tcase_add_test(tc, steady_state_keeps_the_rate);
    tcase_add_test(tc, derivative_term);
    tcase_add_test(tc, rate_never_falls_below_min_rate);
    tcase_add_test(tc, budget_is_clamped_to_max_records_and_one);
    tcase_add_test(tc, initial_rate_bounds_the_first_batches);
    tcase_add_test(tc, uninformative_batches_are_ignored);
    tcase_add_test(tc, zero_interval_does_not_divide_by_zero);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(rate_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
