/*
 * test_dir_state: the checkpoint API (ui/dir_state.c, dir_diff.c,
 * dir_ckpt.c) over the state of a windowed, deduplicating job run through
 * the public API: W_RECORDS lines "i<id>,k<n>,<ts>" where every 10th record
 * repeats the id before it, `dedupe id`, 3 keys, 10 s tumbling panes held
 * open by a 1 h watermark. The panes of a key, the four column families'
 * counts, timers and dedupe ids decoded, a diff of dedupe's ids and the
 * drain batch in status, each against figures computed here from the input.
 */
#include "tests/unit/dir_fixture.h"

#include <string.h>
#include <sys/stat.h>

#define W_RECORDS 600
#define W_KEYS 3
#define W_PANE_MS 10000
#define W_TS_STEP 100 /* record i has ts = i * 100 ms: 6 panes */
#define W_PANES (W_RECORDS * W_TS_STEP / W_PANE_MS)

static char g_wtmp[PATH_MAX], g_wckpt[PATH_MAX + 16];

/* Record i's id: every 10th record repeats the one before it (a duplicate
 * that dedupe drops). */
static int w_id(int i)
{
    return i % 10 == 0 && i ? i - 1 : i;
}

static int w_is_dup(int i)
{
    return i % 10 == 0 && i;
}

/* dir/j.job over in_dir/in.csv, its checkpoint in ckpt. */
static void write_window_job(const char *dir, const char *ckpt, const char *in_dir)
{
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/j.job", dir);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f,
            "job dirwin\nbatch interval=1ms max-records=100\ncheckpoint dir=%s every=3 keep=3\n"
            "source file path=%s/in.csv\nparse csv fields=id,k,ts:int\ndedupe id within 1h\n"
            "key k\nwindow tumbling 10s on ts watermark 1h\naggregate count()\n"
            "sink file dir=%s/out\n",
            ckpt, in_dir, dir);
    fclose(f);
}

static void make_window_checkpoint(void)
{
    char path[PATH_MAX + 32];
    strcpy(g_wtmp, "/tmp/ember-test-dirapi-win-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(g_wtmp));
    snprintf(g_wckpt, sizeof g_wckpt, "%s/ckpt", g_wtmp);
    snprintf(path, sizeof path, "%s/in.csv", g_wtmp);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    for (int i = 0; i < W_RECORDS; i++)
        fprintf(f, "i%d,k%d,%d\n", w_id(i), i % W_KEYS, i * W_TS_STEP);
    fclose(f);
    write_window_job(g_wtmp, g_wckpt, g_wtmp);
    ck_assert_msg(run_in_child(g_wtmp) == 0, "the windowed job failed");
}

static void remove_window_checkpoint(void)
{
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_wtmp);
    ck_assert_int_eq(system(cmd), 0);
}

static json_t *wapi(const char *route, const char *query, int want_status)
{
    int status;
    json_t *j = api_in(g_wckpt, route, query, &status);
    ck_assert_msg(status == want_status, "%s?%s: status %d, not %d", route, query, status,
                  want_status);
    return j;
}

/* Records of key k in the pane starting at start, duplicates dropped. */
static long w_count(int k, long start)
{
    long n = 0;
    for (int i = 0; i < W_RECORDS; i++)
        n += !w_is_dup(i) && i % W_KEYS == k && i * W_TS_STEP / W_PANE_MS * W_PANE_MS == start;
    return n;
}

START_TEST(windowed_rows_have_their_panes)
{
    json_t *j = wapi("state/get", "key=k1", 200);
    json_t *rows = json_object_get(j, "rows");
    ck_assert_int_eq(json_array_size(rows), W_PANES);
    for (size_t i = 0; i < json_array_size(rows); i++) {
        json_t *r = json_array_get(rows, i);
        long start = jint(r, "window_start");
        ck_assert_int_eq(start, (long)i * W_PANE_MS);
        ck_assert_int_eq(jint(r, "window_end"), start + W_PANE_MS);
        ck_assert_int_eq(jint(r, "count"), w_count(1, start));
    }
    json_decref(j);
}
END_TEST

START_TEST(operators_of_a_windowed_deduplicating_job)
{
    long ids = 0;
    for (int i = 0; i < W_RECORDS; i++)
        ids += !w_is_dup(i);
    json_t *ops = wapi("state/operators", NULL, 200);
    const char *names[] = {"aggregate", "timers", "dedupe", "dedupe_timers"};
    long want[] = {W_KEYS * W_PANES, W_KEYS * W_PANES, ids, ids};
    ck_assert_int_eq(json_array_size(ops), 4);
    for (size_t i = 0; i < 4; i++) {
        json_t *o = json_array_get(ops, i);
        ck_assert_str_eq(json_string_value(json_object_get(o, "op")), names[i]);
        ck_assert_int_eq(jint(o, "keys"), want[i]);
    }
    json_decref(ops);
}
END_TEST

START_TEST(timers_and_dedupe_are_decoded)
{
    json_t *j = wapi("state/scan", "op=timers&limit=10000", 200);
    json_t *rows = json_object_get(j, "rows");
    ck_assert_int_eq(json_array_size(rows), W_KEYS * W_PANES);
    for (size_t i = 0; i < json_array_size(rows); i++) {
        json_t *r = json_array_get(rows, i);
        ck_assert_int_eq(jint(r, "pane_end") - jint(r, "pane_start"), W_PANE_MS);
        ck_assert_int_eq(jint(r, "pane_start") % W_PANE_MS, 0);
        ck_assert(json_is_string(json_object_get(r, "key")));
    }
    json_decref(j);
    j = wapi("state/scan", "op=timers&prefix=k2&limit=10000", 200);
    ck_assert_int_eq(json_array_size(json_object_get(j, "rows")), W_PANES);
    json_decref(j);
    /* ids starting with "i5": i5, i50..i59, i500..i599 that are not duplicates */
    long want = 0;
    for (int i = 0; i < W_RECORDS; i++) {
        char id[16];
        snprintf(id, sizeof id, "i%d", i);
        want += !w_is_dup(i) && !strncmp(id, "i5", 2);
    }
    j = wapi("state/scan", "op=dedupe&prefix=i5&limit=10000", 200);
    rows = json_object_get(j, "rows");
    ck_assert_int_eq((long)json_array_size(rows), want);
    ck_assert_int_gt(jint(json_array_get(rows, 0), "expires"), 0);
    json_decref(j);
    json_decref(wapi("state/get", "op=dedupe&key=i19", 200));
    json_decref(wapi("state/get", "op=dedupe&key=i20", 404)); /* i20 was a duplicate of i19 */
    j = wapi("state/scan", "op=dedupe_timers&limit=1", 200);
    ck_assert(json_is_string(json_object_get(json_array_get(json_object_get(j, "rows"), 0), "id")));
    json_decref(j);
}
END_TEST

START_TEST(diff_of_dedupe_counts_the_new_ids)
{
    long added = 0;
    for (int i = 3 * 100; i < 6 * 100; i++)
        added += !w_is_dup(i);
    json_t *j = wapi("diff", "a=3&b=6&op=dedupe&limit=10000", 200);
    ck_assert_int_eq(jint(j, "added"), added);
    ck_assert_int_eq(jint(j, "removed"), 0);
    json_t *c = json_array_get(json_object_get(j, "changes"), 0);
    ck_assert_int_gt(jint(json_object_get(c, "new"), "expires"), 0);
    json_decref(j);
}
END_TEST

START_TEST(status_shows_the_drain_batch)
{
    char dir[PATH_MAX + 16], ckpt[PATH_MAX + 32], path[PATH_MAX + 64];
    snprintf(dir, sizeof dir, "%s/drain", g_wtmp);
    snprintf(ckpt, sizeof ckpt, "%s/ckpt", dir);
    mkdir(dir, 0755);
    write_window_job(dir, ckpt, g_wtmp);
    ember_set_log(quiet, NULL);
    ember_job *job = NULL;
    ember_err err = {0};
    snprintf(path, sizeof path, "%s/j.job", dir);
    ck_assert_msg(ember_job_load_file(path, &job, &err) == 0, "%s", err.msg);
    ember_run_opts o = {.until_idle = 1, .drain = 1};
    ck_assert_msg(ember_job_run(job, &o, &err) == 0, "%s", err.msg);
    ember_job_free(job);
    int status;
    json_t *s = api_in(ckpt, "status", NULL, &status);
    ck_assert_int_eq(status, 200);
    long committed = jint(json_object_get(s, "committed"), "batch");
    ck_assert_int_eq(committed, W_RECORDS / 100 + 1); /* the drain batch follows the input's */
    ck_assert_int_eq(jint(s, "drained"), committed);
    json_decref(s);
    s = api_in(g_wckpt, "status", NULL, &status); /* the run without --drain */
    ck_assert(json_is_null(json_object_get(s, "drained")));
    json_decref(s);
}
END_TEST

static Suite *dir_state_suite(void)
{
    Suite *s = suite_create("dir_state");
    TCase *tc = tcase_create("windows_and_dedupe");
    tcase_add_unchecked_fixture(tc, make_window_checkpoint, remove_window_checkpoint);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, windowed_rows_have_their_panes);
    tcase_add_test(tc, operators_of_a_windowed_deduplicating_job);
    tcase_add_test(tc, timers_and_dedupe_are_decoded);
    tcase_add_test(tc, diff_of_dedupe_counts_the_new_ids);
    tcase_add_test(tc, status_shows_the_drain_batch);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(dir_state_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
