/* test_clock: core/base/clock.h — the monotonic clock never goes back and
 * measures a sleep; the wall clock agrees with time(2). */
#include "core/base/clock.h"

#include <check.h>
#include <time.h>

START_TEST(monotonic_measures_a_sleep)
{
    struct timespec ts = {0, 20 * 1000000L};
    double t0 = em_mono_ms(), prev = t0;
    for (int i = 0; i < 1000; i++) {
        double t = em_mono_ms();
        ck_assert(t >= prev);
        prev = t;
    }
    nanosleep(&ts, NULL);
    ck_assert(em_mono_ms() - t0 >= 20.0);
}
END_TEST

START_TEST(wall_is_unix_milliseconds)
{
    uint64_t before = (uint64_t)time(NULL) * 1000;
    uint64_t now = em_wall_ms();
    uint64_t after = ((uint64_t)time(NULL) + 2) * 1000; /* time(2) may run a tick behind */
    ck_assert_uint_ge(now, before);
    ck_assert_uint_lt(now, after);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("clock");
    TCase *tc = tcase_create("clock");
    tcase_add_test(tc, monotonic_measures_a_sleep);
    tcase_add_test(tc, wall_is_unix_milliseconds);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
