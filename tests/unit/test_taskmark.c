/* test_taskmark: core/kafka/taskmark.h — marker text round trips, bad text
 * is refused, and the fold F1-F3 counts exactly one attempt per batch of
 * the task's current owner. */
#include "core/kafka/taskmark.h"

#include <check.h>
#include <string.h>

static taskmark claim(uint64_t epoch, const char *owner, uint64_t base)
{
    taskmark m = {.kind = TASKMARK_CLAIM, .epoch = epoch, .base = base};
    strcpy(m.owner, owner);
    return m;
}

static taskmark commit(uint64_t epoch, const char *owner, uint64_t batch, uint64_t attempt)
{
    taskmark m = {.kind = TASKMARK_COMMIT, .epoch = epoch, .batch = batch, .attempt = attempt,
                  .chunks = 1};
    strcpy(m.owner, owner);
    return m;
}

static void apply(task_chain *c, taskmark m)
{
    ck_assert_int_eq(task_chain_apply(c, &m), 0);
}

START_TEST(marker_text_round_trips)
{
    taskmark in = commit(7, "inst-2", 41, 0xdeadbeef00112233ull), out;
    in.chunks = 3;
    char buf[256];
    ember_err err = {0};
    size_t n = taskmark_format(&in, buf, sizeof buf);
    ck_assert_str_eq(buf, "commit epoch=7 owner=inst-2 batch=41 attempt=deadbeef00112233 chunks=3");
    ck_assert_int_eq(taskmark_parse(buf, n, &out, &err), 0);
    ck_assert_int_eq(out.kind, TASKMARK_COMMIT);
    ck_assert_uint_eq(out.epoch, 7);
    ck_assert_uint_eq(out.batch, 41);
    ck_assert_uint_eq(out.attempt, 0xdeadbeef00112233ull);
    ck_assert_uint_eq(out.chunks, 3);
    ck_assert_str_eq(out.owner, "inst-2");
    in = claim(3, "a", 9);
    n = taskmark_format(&in, buf, sizeof buf);
    ck_assert_int_eq(taskmark_parse(buf, n, &out, &err), 0);
    ck_assert_int_eq(out.kind, TASKMARK_CLAIM);
    ck_assert_uint_eq(out.base, 9);
}
END_TEST

START_TEST(bad_markers_are_refused)
{
    static const char *const bad[] = {
        "", "claim", "claim epoch=1 owner=a", "commit epoch=1 owner=a batch=0 attempt=1 chunks=1",
        "commit epoch=x owner=a batch=1 attempt=1 chunks=1", "hello epoch=1 owner=a base=0",
        "commit epoch=1 owner=a batch=1 attempt=zz chunks=1", NULL};
    for (int i = 0; bad[i]; i++) {
        taskmark m;
        ember_err err = {0};
        ck_assert_int_eq(taskmark_parse(bad[i], strlen(bad[i]), &m, &err), -EMBER_ECORRUPT);
        ck_assert(strstr(err.msg, "task marker") != NULL);
    }
}
END_TEST

START_TEST(commits_count_densely_for_the_owner)
{
    task_chain c = {0};
    apply(&c, claim(1, "a", 0));
    apply(&c, commit(1, "a", 1, 11));
    apply(&c, commit(1, "a", 1, 12)); /* a retried attempt of a counted batch: F3 */
    apply(&c, commit(1, "a", 3, 13)); /* not dense: F3 */
    apply(&c, commit(1, "b", 2, 14)); /* not the owner: F3 */
    apply(&c, commit(1, "a", 2, 15));
    ck_assert_uint_eq(c.head, 2);
    ck_assert_uint_eq(task_chain_attempt(&c, 1), 11);
    ck_assert_uint_eq(task_chain_attempt(&c, 2), 15);
    ck_assert_uint_eq(task_chain_attempt(&c, 3), 0);
    task_chain_free(&c);
}
END_TEST

START_TEST(a_claim_fences_the_previous_owner)
{
    task_chain c = {0};
    apply(&c, claim(1, "a", 0));
    apply(&c, commit(1, "a", 1, 11));
    apply(&c, claim(2, "b", 1));      /* F1 */
    apply(&c, commit(1, "a", 2, 13)); /* the zombie: F3 */
    apply(&c, claim(2, "c", 1));      /* a second claim of the same epoch: F3 */
    apply(&c, commit(2, "c", 2, 14));
    ck_assert_uint_eq(c.head, 1);
    apply(&c, commit(2, "b", 2, 15));
    ck_assert_uint_eq(c.head, 2);
    ck_assert_uint_eq(task_chain_attempt(&c, 2), 15);
    ck_assert_str_eq(c.owner, "b");
    task_chain_free(&c);
}
END_TEST

START_TEST(a_counted_batch_stays_counted)
{
    task_chain c = {0};
    apply(&c, claim(1, "a", 0));
    apply(&c, commit(1, "a", 1, 11));
    apply(&c, commit(1, "a", 2, 12)); /* after b read the log at batch 1 */
    apply(&c, claim(2, "b", 1));      /* its base is not the head: F3 */
    ck_assert_uint_eq(c.head, 2);
    ck_assert_str_eq(c.owner, "a");
    ck_assert_uint_eq(task_chain_attempt(&c, 2), 12);
    apply(&c, claim(2, "b", 2)); /* b restored batch 2 and claimed again */
    ck_assert_str_eq(c.owner, "b");
    apply(&c, commit(1, "a", 3, 13));
    ck_assert_uint_eq(c.head, 2);
    task_chain_free(&c);
}
END_TEST

START_TEST(long_chains_grow)
{
    task_chain c = {0};
    apply(&c, claim(1, "a", 0));
    for (uint64_t b = 1; b <= 5000; b++)
        apply(&c, commit(1, "a", b, b * 3));
    ck_assert_uint_eq(c.head, 5000);
    ck_assert_uint_eq(task_chain_attempt(&c, 4999), 4999 * 3);
    task_chain_free(&c);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("taskmark");
    TCase *tc = tcase_create("taskmark");
    tcase_add_test(tc, marker_text_round_trips);
    tcase_add_test(tc, bad_markers_are_refused);
    tcase_add_test(tc, commits_count_densely_for_the_owner);
    tcase_add_test(tc, a_claim_fences_the_previous_owner);
    tcase_add_test(tc, a_counted_batch_stays_counted);
    tcase_add_test(tc, long_chains_grow);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
