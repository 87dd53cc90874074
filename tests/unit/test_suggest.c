/* test_suggest: core/base/suggest.c, "did you mean" by edit distance. The
 * distances are counted by hand (insertions, deletions, substitutions and
 * swaps of neighbours). */
#include "core/base/suggest.h"

#include <check.h>
#include <string.h>

static size_t dist(const char *a, const char *b)
{
    return em_edit_distance(a, strlen(a), b, strlen(b));
}

START_TEST(edit_distance_by_hand)
{
    ck_assert_uint_eq(dist("", ""), 0);
    ck_assert_uint_eq(dist("abc", ""), 3);
    ck_assert_uint_eq(dist("max-record", "max-records"), 1); /* one insertion */
    ck_assert_uint_eq(dist("tmp", "temp"), 1);
    ck_assert_uint_eq(dist("sensor", "sensors"), 1);
    ck_assert_uint_eq(dist("tmep", "temp"), 1); /* a swap */
    ck_assert_uint_eq(dist("kitten", "sitting"), 3);
    ck_assert_uint_eq(dist("flaw", "lawn"), 2);
    ck_assert_uint_eq(dist("agv", "avg"), 1);
}
END_TEST

START_TEST(suggests_the_closest_close_name)
{
    const char *opts[] = {"interval", "max-records", "backpressure", "min-rate", "initial-rate"};
    const char *s = em_suggest("max-record", 10, opts, 5);
    ck_assert_ptr_nonnull(s);
    ck_assert_str_eq(s, "max-records");
    ck_assert_str_eq(em_suggest("intervl", 7, opts, 5), "interval");
    ck_assert_ptr_null(em_suggest("colour", 6, opts, 5));   /* nothing close */
    ck_assert_ptr_null(em_suggest("interval", 8, opts, 5)); /* valid: nothing to say */
    const char *fields[] = {"sensor", "ts", "temp"};
    ck_assert_str_eq(em_suggest("tmp", 3, fields, 3), "temp");
    ck_assert_ptr_null(em_suggest("x", 1, fields, 3)); /* 'ts' is 2 edits from 'x' */
    /* a word given with a length (not NUL-terminated) */
    ck_assert_str_eq(em_suggest("sensr > 3", 5, fields, 3), "sensor");
    const char *with_null[] = {NULL, "count", NULL};
    ck_assert_str_eq(em_suggest("cont", 4, with_null, 3), "count");
}
END_TEST

START_TEST(suggests_from_a_bar_list)
{
    char buf[64], note[96];
    const char *kinds = "sensors|ads|transactions|posts|clicks|trades";
    ck_assert_str_eq(em_suggest_list("sensor", 6, kinds, '|', buf, sizeof buf), "sensors");
    ck_assert_str_eq(em_suggest_list("trade", 5, kinds, '|', buf, sizeof buf), "trades");
    ck_assert_ptr_null(em_suggest_list("planes", 6, kinds, '|', buf, sizeof buf));
    ck_assert_str_eq(em_suggest_note("max-records", note, sizeof note),
                     "; did you mean 'max-records'?");
    ck_assert_str_eq(em_suggest_note(NULL, note, sizeof note), "");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("suggest");
    TCase *tc = tcase_create("suggest");
    tcase_add_test(tc, edit_distance_by_hand);
    tcase_add_test(tc, suggests_the_closest_close_name);
    tcase_add_test(tc, suggests_from_a_bar_list);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
