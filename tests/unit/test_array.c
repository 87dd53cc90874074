/* test_array: core/base/array.h — growth by doubling, zeroed new items,
 * overflow and the unchanged array on failure. */
#include "core/base/array.h"

#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

typedef struct pair {
    uint64_t a, b;
} pair;

START_TEST(pushes_keep_earlier_items)
{
    pair *v = NULL;
    size_t n = 0, cap = 0;
    for (uint64_t i = 0; i < 1000; i++) {
        ck_assert_int_eq(em_array_reserve(&v, &cap, n + 1, sizeof *v), 0);
        ck_assert_uint_ge(cap, n + 1);
        v[n++] = (pair){i, 2 * i};
    }
    for (uint64_t i = 0; i < n; i++) {
        ck_assert_uint_eq(v[i].a, i);
        ck_assert_uint_eq(v[i].b, 2 * i);
    }
    free(v);
}
END_TEST

START_TEST(capacity_doubles_from_sixteen)
{
    char *v = NULL;
    size_t cap = 0;
    ck_assert_int_eq(em_array_reserve(&v, &cap, 1, 1), 0);
    ck_assert_uint_eq(cap, 16);
    ck_assert_int_eq(em_array_reserve(&v, &cap, 16, 1), 0);
    ck_assert_uint_eq(cap, 16); /* enough room: nothing moves */
    ck_assert_int_eq(em_array_reserve(&v, &cap, 17, 1), 0);
    ck_assert_uint_eq(cap, 32);
    ck_assert_int_eq(em_array_reserve(&v, &cap, 1000, 1), 0);
    ck_assert_uint_eq(cap, 1024);
    free(v);
}
END_TEST

START_TEST(new_items_are_zeroed)
{
    int *v = NULL;
    size_t cap = 0;
    ck_assert_int_eq(em_array_reserve(&v, &cap, 4, sizeof *v), 0);
    for (size_t i = 0; i < cap; i++)
        v[i] = -1;
    size_t old = cap;
    ck_assert_int_eq(em_array_reserve(&v, &cap, old + 1, sizeof *v), 0);
    for (size_t i = 0; i < cap; i++)
        ck_assert_int_eq(v[i], i < old ? -1 : 0);
    free(v);
}
END_TEST

START_TEST(overflow_leaves_the_array_alone)
{
    pair *v = NULL;
    size_t cap = 0;
    ck_assert_int_eq(em_array_reserve(&v, &cap, 3, sizeof *v), 0);
    pair *before = v;
    ck_assert_int_eq(em_array_reserve(&v, &cap, SIZE_MAX / 2, sizeof *v), -ENOMEM);
    ck_assert_int_eq(em_array_reserve(&v, &cap, SIZE_MAX, 1), -ENOMEM);
    ck_assert_ptr_eq(v, before);
    ck_assert_uint_eq(cap, 16);
    free(v);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("array");
    TCase *tc = tcase_create("array");
    tcase_add_test(tc, pushes_keep_earlier_items);
    tcase_add_test(tc, capacity_doubles_from_sixteen);
    tcase_add_test(tc, new_items_are_zeroed);
    tcase_add_test(tc, overflow_leaves_the_array_alone);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
