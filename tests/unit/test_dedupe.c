/*
 * test_dedupe: state/dedupe.c (`dedupe FIELD within HORIZON`) driven
 * directly, without the transform: each batch is begin, decide over a list
 * of ids, expire, then the WriteBatch is written (the commit). Expected
 * decisions, state and timers are worked out by hand from dedupe.h: an id
 * first kept at batch time T is remembered until T + HORIZON (exclusive);
 * the value is that expiry as u64 LE, the timer key is the expiry
 * (big-endian, sign bit flipped) followed by the id.
 */
#include "core/base/io.h"
#include "state/dedupe.h"
#include "state/preagg.h"

#include <check.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CF       1
#define TIMER_CF 2
#define HORIZON  10

static char g_tmp[64];
static store *g_st;
static dedupe *g_d;

static void open_all(void)
{
    static const char *const ops[] = {"dedupe", "dedupe_timers"};
    char db[128];
    ember_err err = {0};
    store_opts o = {0};
    snprintf(db, sizeof db, "%s/db", g_tmp);
    ck_assert_msg(store_open(db, ops, 2, &o, &g_st, &err) == 0, "%s", err.msg);
    g_d = dedupe_new(g_st, CF, TIMER_CF, HORIZON, 0);
    ck_assert_ptr_nonnull(g_d);
}

static void close_all(void)
{
    dedupe_free(g_d);
    store_close(g_st);
    g_d = NULL;
    g_st = NULL;
}

static void setup(void)
{
    strcpy(g_tmp, "/tmp/ember-test-dedupe-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(g_tmp));
    open_all();
}

static void teardown(void)
{
    ember_err err = {0};
    if (g_st)
        close_all();
    ck_assert_int_eq(io_remove_tree(g_tmp, &err), 0);
}

/* Splits "a b a" into ids (pointing into a copy that lives in *buf). */
static size_t parse_ids(const char *list, char **buf, dedupe_id *ids, size_t cap)
{
    size_t n = 0;
    *buf = strdup(list);
    for (char *save = NULL, *t = strtok_r(*buf, " ", &save); t; t = strtok_r(NULL, " ", &save)) {
        ck_assert_uint_lt(n, cap);
        uint32_t len = (uint32_t)strlen(t);
        ids[n] = (dedupe_id){n, preagg_hash(t, len), t, len};
        n++;
    }
    return n;
}

/* Runs one batch at batch time t over the ids; returns the decisions as a
 * string, '1' for dropped. commit=0 throws the WriteBatch away. */
static char *run(int64_t t, const char *list, int commit)
{
    static char out[8192];
    static dedupe_id ids[8192];
    static uint8_t drop[8192];
    char *buf;
    ember_err err = {0};
    size_t n = parse_ids(list, &buf, ids, 8192);
    store_batch *wb = store_batch_new();
    memset(drop, 0, n);
    dedupe_begin(g_d, wb, t);
    ck_assert_msg(dedupe_decide(g_d, ids, n, drop, &err) == 0, "%s", err.msg);
    ck_assert_msg(dedupe_expire(g_d, &err) == 0, "%s", err.msg);
    if (commit)
        ck_assert_msg(store_write(g_st, wb, 1, &err) == 0, "%s", err.msg);
    store_batch_free(wb);
    free(buf);
    for (size_t i = 0; i < n; i++)
        out[i] = drop[i] ? '1' : '0';
    out[n] = '\0';
    return out;
}

static void batch(int64_t t, const char *list, const char *want_drops)
{
    ck_assert_str_eq(run(t, list, 1), want_drops);
}

static int64_t get_be_time(const char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | (uint8_t)p[i];
    return (int64_t)(v ^ (1ull << 63));
}

static int64_t get_le(const char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | (uint8_t)p[i];
    return (int64_t)v;
}

/* "id=expiry\n" lines of the dedupe CF and "expiry|id\n" of its timers. */
static void assert_state(const char *want_ids, const char *want_timers)
{
    char ids[4096] = "", timers[4096] = "";
    store_iter *it = store_iter_new(g_st, CF, NULL, 0);
    for (; store_iter_valid(it); store_iter_next(it)) {
        size_t kn, vn;
        const char *k = store_iter_key(it, &kn);
        const char *v = store_iter_value(it, &vn);
        ck_assert_uint_eq(vn, 8);
        snprintf(ids + strlen(ids), sizeof ids - strlen(ids), "%.*s=%" PRId64 "\n", (int)kn, k,
                 get_le(v));
    }
    store_iter_free(it);
    it = store_iter_new(g_st, TIMER_CF, NULL, 0);
    for (; store_iter_valid(it); store_iter_next(it)) {
        size_t kn;
        const char *k = store_iter_key(it, &kn);
        ck_assert_uint_gt(kn, 8);
        snprintf(timers + strlen(timers), sizeof timers - strlen(timers), "%" PRId64 "|%.*s\n",
                 get_be_time(k), (int)(kn - 8), k + 8);
    }
    store_iter_free(it);
    ck_assert_msg(strcmp(ids, want_ids) == 0, "ids\n%s\nexpected\n%s", ids, want_ids);
    ck_assert_msg(strcmp(timers, want_timers) == 0, "timers\n%s\nexpected\n%s", timers,
                  want_timers);
}

/* ------------------------------------------------------------ decisions */

START_TEST(first_copy_in_a_batch_is_kept_later_ones_dropped)
{
    batch(100, "x y x x z y", "001101");
    assert_state("x=110\ny=110\nz=110\n", "110|x\n110|y\n110|z\n");
}
END_TEST

START_TEST(id_seen_within_the_horizon_is_dropped)
{
    batch(100, "x", "0");
    batch(105, "y x", "01");
    batch(109, "x", "1"); /* 109 < 100 + 10 */
    assert_state("x=110\ny=115\n", "110|x\n115|y\n");
}
END_TEST

/* The horizon is half-open: at exactly T + HORIZON the id is new again,
 * kept and remembered until the new batch time + HORIZON. */
START_TEST(id_at_exactly_the_horizon_is_kept_and_renewed)
{
    batch(100, "x", "0");
    batch(110, "x", "0");
    assert_state("x=120\n", "120|x\n");
    batch(119, "x", "1");
}
END_TEST

/* A dropped copy does not extend the horizon: it counts from the copy kept. */
START_TEST(dropped_copy_does_not_extend_the_horizon)
{
    batch(100, "x", "0");
    batch(105, "x", "1");
    assert_state("x=110\n", "110|x\n");
    batch(110, "x", "0");
}
END_TEST

START_TEST(empty_batch_decides_nothing)
{
    batch(100, "", "");
    assert_state("", "");
}
END_TEST

START_TEST(ids_are_compared_as_bytes)
{
    batch(100, "a ab A a", "0001");
    assert_state("A=110\na=110\nab=110\n", "110|A\n110|a\n110|ab\n");
}
END_TEST

/* ------------------------------------------------------------ expiry */

START_TEST(expire_deletes_ids_whose_horizon_passed)
{
    batch(100, "x y", "00");
    batch(104, "w", "0");
    batch(110, "z", "0"); /* x and y expire at 110 <= 110; w at 114 */
    assert_state("w=114\nz=120\n", "114|w\n120|z\n");
    batch(200, "", "");
    assert_state("", "");
}
END_TEST

/* x is due at 110 but comes again in that batch: kept, renewed, and the
 * expiry pass leaves the renewed entry alone (one timer, the new one). */
START_TEST(expire_keeps_an_id_renewed_in_the_same_batch)
{
    batch(100, "x", "0");
    batch(110, "x", "0");
    assert_state("x=120\n", "120|x\n");
}
END_TEST

/* ------------------------------------------------------------ durability */

START_TEST(decisions_survive_a_reopen)
{
    batch(100, "x y", "00");
    close_all();
    open_all();
    batch(105, "y z", "10");
    assert_state("x=110\ny=110\nz=115\n", "110|x\n110|y\n115|z\n");
}
END_TEST

/* A batch whose commit never happened decides the same when replayed. */
START_TEST(replayed_batch_decides_as_the_first_run)
{
    batch(100, "x y", "00");
    ck_assert_str_eq(run(110, "x z z y", 0), "0010");
    ck_assert_str_eq(run(110, "x z z y", 0), "0010");
    assert_state("x=110\ny=110\n", "110|x\n110|y\n");
    batch(110, "x z z y", "0010");
    assert_state("x=120\ny=120\nz=120\n", "120|x\n120|y\n120|z\n");
}
END_TEST

/* More distinct ids than one MultiGet chunk (1024), each twice. */
START_TEST(many_ids_span_multiget_chunks)
{
    enum { N = 2500 };
    static char list[N * 2 * 8], want[N * 2 + 1];
    size_t n = 0;
    for (int r = 0; r < 2; r++)
        for (int i = 0; i < N; i++)
            n += (size_t)snprintf(list + n, sizeof list - n, "i%d ", i);
    memset(want, '0', N);
    memset(want + N, '1', N);
    want[2 * N] = '\0';
    batch(100, list, want);
    memset(want, '1', 2 * N);
    batch(105, list, want);
}
END_TEST

static Suite *dedupe_suite(void)
{
    Suite *s = suite_create("dedupe");
    TCase *tc = tcase_create("dedupe");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, first_copy_in_a_batch_is_kept_later_ones_dropped);
    tcase_add_test(tc, id_seen_within_the_horizon_is_dropped);
    tcase_add_test(tc, id_at_exactly_the_horizon_is_kept_and_renewed);
    tcase_add_test(tc, dropped_copy_does_not_extend_the_horizon);
    tcase_add_test(tc, empty_batch_decides_nothing);
    tcase_add_test(tc, ids_are_compared_as_bytes);
    tcase_add_test(tc, expire_deletes_ids_whose_horizon_passed);
    tcase_add_test(tc, expire_keeps_an_id_renewed_in_the_same_batch);
    tcase_add_test(tc, decisions_survive_a_reopen);
    tcase_add_test(tc, replayed_batch_decides_as_the_first_run);
    tcase_add_test(tc, many_ids_span_multiget_chunks);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(dedupe_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
