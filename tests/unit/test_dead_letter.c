/* test_dead_letter: core/sink/dead_letter.c, a sink's dead-letter file whose
 * committed length lives in a checksummed side file: lines of a batch whose
 * commit did not happen are cut at recover, committed ones stay. */
#include "core/base/io.h"
#include "core/sink/dead_letter.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmp_dir[128], path[256];

static void setup(void)
{
    snprintf(tmp_dir, sizeof tmp_dir, "/tmp/ember_test_dead.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmp_dir));
    snprintf(path, sizeof path, "%s/dead.tsv", tmp_dir);
}

static void teardown(void)
{
    ember_err err = {0};
    ck_assert_msg(io_remove_tree(tmp_dir, &err) == 0, "%s", err.msg);
}

static long file_bytes(void)
{
    struct stat st;
    return stat(path, &st) ? -1 : (long)st.st_size;
}

/* Opens and recovers as of `delivered`. */
static void reopen(sink_dead_letter *d, uint64_t delivered)
{
    ember_err err = {0};
    ck_assert_msg(sink_dead_letter_open(d, path, tmp_dir, "t", &err) == 0, "%s", err.msg);
    ck_assert_msg(sink_dead_letter_recover(d, delivered, &err) == 0, "%s", err.msg);
}

/* Batch 1 commits "aaaa\n"; batch 2 appends and seals "bb\n" but its commit
 * does not happen. */
static void two_batches(void)
{
    sink_dead_letter d;
    ember_err err = {0};
    reopen(&d, 0);
    ck_assert_int_eq(sink_dead_letter_append(&d, "aaaa", 4, &err), 0);
    ck_assert_int_eq(sink_dead_letter_seal(&d, 1, &err), 0);
    sink_dead_letter_committed(&d);
    ck_assert_int_eq(sink_dead_letter_append(&d, "bb", 2, &err), 0);
    ck_assert_int_eq(sink_dead_letter_seal(&d, 2, &err), 0);
    sink_dead_letter_close(&d);
    ck_assert_int_eq(file_bytes(), 8);
}

START_TEST(uncommitted_batch_is_cut_at_recover)
{
    sink_dead_letter d;
    two_batches();
    reopen(&d, 1); /* batch 2 never committed */
    ck_assert_int_eq(file_bytes(), 5);
    sink_dead_letter_close(&d);
}
END_TEST

START_TEST(committed_batch_stays)
{
    sink_dead_letter d;
    two_batches();
    reopen(&d, 2);
    ck_assert_int_eq(file_bytes(), 8);
    sink_dead_letter_close(&d);
}
END_TEST

START_TEST(rewind_drops_the_running_batch)
{
    sink_dead_letter d;
    ember_err err = {0};
    reopen(&d, 0);
    ck_assert_int_eq(sink_dead_letter_append(&d, "xyz", 3, &err), 0);
    ck_assert_int_eq(sink_dead_letter_rewind(&d, &err), 0);
    ck_assert_int_eq(file_bytes(), 0);
    sink_dead_letter_close(&d);
}
END_TEST

START_TEST(no_side_file_means_empty)
{
    sink_dead_letter d;
    FILE *f = fopen(path, "w");
    fputs("from another checkpoint\n", f);
    fclose(f);
    reopen(&d, 7);
    ck_assert_int_eq(file_bytes(), 0);
    sink_dead_letter_close(&d);
}
END_TEST

START_TEST(corrupt_side_file_is_refused)
{
    sink_dead_letter d;
    ember_err err = {0};
    char side[300];
    two_batches();
    snprintf(side, sizeof side, "%s/t.dead-letter-length", tmp_dir);
    FILE *f = fopen(side, "r+");
    fseek(f, 20, SEEK_SET);
    fputc('Z', f);
    fclose(f);
    ck_assert_int_eq(sink_dead_letter_open(&d, path, tmp_dir, "t", &err), 0);
    ck_assert_int_eq(sink_dead_letter_recover(&d, 2, &err), -EMBER_ECORRUPT);
    ck_assert_ptr_nonnull(strstr(err.msg, "t.dead-letter-length"));
    sink_dead_letter_close(&d);
}
END_TEST

START_TEST(shorter_file_is_refused)
{
    sink_dead_letter d;
    ember_err err = {0};
    two_batches();
    ck_assert_int_eq(truncate(path, 2), 0);
    ck_assert_int_eq(sink_dead_letter_open(&d, path, tmp_dir, "t", &err), 0);
    ck_assert_int_eq(sink_dead_letter_recover(&d, 2, &err), -EMBER_ECORRUPT);
    ck_assert_ptr_nonnull(strstr(err.msg, "shorter"));
    sink_dead_letter_close(&d);
}
END_TEST

static Suite *dead_letter_suite(void)
{
    Suite *s = suite_create("dead_letter");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, uncommitted_batch_is_cut_at_recover);
    tcase_add_test(tc, committed_batch_stays);
    tcase_add_test(tc, rewind_drops_the_running_batch);
    tcase_add_test(tc, no_side_file_means_empty);
    tcase_add_test(tc, corrupt_side_file_is_refused);
    tcase_add_test(tc, shorter_file_is_refused);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(dead_letter_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
