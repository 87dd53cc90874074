/*
 * test_summary: state/summary.c through the accumulator API (accum.h):
 * exact count_distinct sets and topk Space-Saving sketches, their merges
 * and their version 2 codec. Oracles are plain counting arrays over the
 * generated values.
 */
#include "core/ops/accum.h"
#include "core/ops/summary.h"

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { A_COUNT, A_SET, A_TOPK, N_AGGS };

static agg_spec g_aggs[N_AGGS];
static acc_layout g_l;

static agg_spec spec(agg_fn fn, int field, int k, const char *name)
{
    agg_spec a = {.fn = fn, .field = field, .in_type = EMBER_STRING, .k = k};
    strncpy(a.name, name, sizeof a.name - 1);
    return a;
}

static void setup(void)
{
    ember_err err = {0};
    g_aggs[A_COUNT] = spec(AGG_COUNT, -1, 0, "count");
    g_aggs[A_SET] = spec(AGG_SET, 0, 0, "count_distinct_v");
    g_aggs[A_TOPK] = spec(AGG_TOPK, 0, 3, "topk_v");
    ck_assert_int_eq(acc_layout_init(&g_l, g_aggs, N_AGGS, &err), 0);
}

static acc_slot *slots_new(void)
{
    acc_slot *s = calloc((size_t)g_l.n_slots, sizeof *s);
    ck_assert_ptr_nonnull(s);
    acc_init(&g_l, s);
    return s;
}

/* Folds value "v<id>" (an int field when as_int). */
static void add_id(acc_slot *s, int id, int as_int)
{
    char buf[32];
    ember_value v = {.type = EMBER_INT, .u.i = id};
    if (!as_int) {
        int n = snprintf(buf, sizeof buf, "v%d", id);
        v = (ember_value){.type = EMBER_STRING, .u.s = {buf, (uint32_t)n}};
    }
    ember_record rec = {.n = 1, .values = &v};
    acc_add(&g_l, s, &rec, NULL);
}

static int64_t result_int(const acc_slot *s, int i)
{
    ember_value v;
    acc_result(&g_l, s, i, &v, NULL);
    return v.type == EMBER_INT ? v.u.i : -999;
}

static const char *result_text(const acc_slot *s, int i, acc_text *txt)
{
    ember_value v;
    txt->used = 0;
    acc_result(&g_l, s, i, &v, txt);
    ck_assert_int_eq(v.type, EMBER_STRING);
    static char out[4096];
    snprintf(out, sizeof out, "%.*s", (int)v.u.s.len, v.u.s.ptr);
    return out;
}

START_TEST(set_counts_exactly_and_merges_as_union)
{
    int seen[400] = {0}, distinct = 0;
    acc_slot *part[3] = {slots_new(), slots_new(), slots_new()};
    acc_slot *x = slots_new(), *y = slots_new();
    uint64_t r = 7;
    for (int i = 0; i < 3000; i++) {
        r = r * 6364136223846793005ull + 1442695040888963407ull;
        int id = (int)((r >> 33) % 120);
        distinct += !seen[id]++;
        add_id(part[i % 3], id, id % 2); /* odd ids as int, even ones as "v<id>" */
        add_id(part[(i + 1) % 3], id, !(id % 2)); /* and the other way */
    }
    /* (0 + 1) + 2 and 2 + (1 + 0): same slots, same count */
    acc_merge(&g_l, x, part[0]);
    acc_merge(&g_l, x, part[1]);
    acc_merge(&g_l, x, part[2]);
    acc_merge(&g_l, y, part[2]);
    acc_merge(&g_l, y, part[1]);
    acc_merge(&g_l, y, part[0]);
    ck_assert_int_eq(result_int(x, A_SET), result_int(y, A_SET));
    ck_assert_mem_eq(&x[g_aggs[A_SET].slot], &y[g_aggs[A_SET].slot], SET_SLOTS * sizeof *x);
    ck_assert_int_eq(distinct, 120);
    ck_assert_int_eq(result_int(x, A_SET), 2 * distinct); /* ids as text and as int */
    acc_slot *again = slots_new();
    acc_merge(&g_l, again, x);
    acc_merge(&g_l, again, x); /* idempotent: a union */
    ck_assert_int_eq(result_int(again, A_SET), result_int(x, A_SET));
    ember_err err = {0};
    ck_assert_int_eq(acc_check(&g_l, x, &err), 0);
    for (int i = 0; i < 3; i++)
        free(part[i]);
    free(x);
    free(y);
    free(again);
}
END_TEST

START_TEST(set_past_its_bound_fails_the_check)
{
    acc_slot *a = slots_new(), *b = slots_new();
    for (int i = 0; i < SET_MAX; i++) {
        add_id(a, i, 0);
        add_id(b, i + 1, 0);
    }
    ember_err err = {0};
    ck_assert_int_eq(result_int(a, A_SET), SET_MAX);
    ck_assert_int_eq(acc_check(&g_l, a, &err), 0);
    acc_merge(&g_l, a, b); /* SET_MAX + 1 in the union */
    ck_assert_int_eq(acc_check(&g_l, a, &err), -EOVERFLOW);
    ck_assert_ptr_nonnull(strstr(err.msg, "count_distinct_v: more than 256 distinct values"));
    ck_assert_ptr_nonnull(strstr(err.msg, "approx"));
    ember_value v;
    acc_result(&g_l, a, A_SET, &v, NULL);
    ck_assert_int_eq(v.type, EMBER_NULL);
    add_id(b, 100000, 0); /* one more value in one accumulator */
    ck_assert_int_eq(acc_check(&g_l, b, &err), -EOVERFLOW);
    acc_slot *c = slots_new();
    acc_merge(&g_l, c, b); /* overflow survives merges */
    ck_assert_int_eq(acc_check(&g_l, c, &err), -EOVERFLOW);
    free(a);
    free(b);
    free(c);
}
END_TEST

START_TEST(topk_is_exact_within_its_counters)
{
    static acc_text txt;
    acc_slot *a = slots_new(), *b = slots_new(), *whole = slots_new();
    /* v<i> occurs (i % 7) + 1 times for i < 20: 20 values, below 32 counters */
    for (int i = 0; i < 20; i++)
        for (int n = 0; n <= i % 7; n++) {
            add_id(n % 2 ? a : b, i, 0);
            add_id(whole, i, 0);
        }
    ck_assert_str_eq(result_text(whole, A_TOPK, &txt), "v13:7|v6:7|v12:6");
    acc_merge(&g_l, a, b);
    ck_assert_str_eq(result_text(a, A_TOPK, &txt), "v13:7|v6:7|v12:6");
    free(a);
    free(b);
    free(whole);
}
END_TEST

START_TEST(topk_keeps_heavy_hitters_beyond_its_counters)
{
    static acc_text txt;
    acc_slot *part[4] = {slots_new(), slots_new(), slots_new(), slots_new()};
    acc_slot *all = slots_new();
    int n = 0;
    /* 3 heavy values among 2000 singletons: v1 x600, v2 x400, v3 x200 */
    for (int i = 0; i < 2000; i++) {
        add_id(part[i % 4], 1000 + i, 0);
        n++;
        for (int h = 1; h <= 3; h++)
            if (i % 10 < 4 - h) {
                add_id(part[i % 4], h, 0);
                n++;
            }
    }
    for (int i = 0; i < 4; i++)
        acc_merge(&g_l, all, part[i]);
    const char *got = result_text(all, A_TOPK, &txt);
    int c1, c2, c3;
    ck_assert_int_eq(sscanf(got, "v1:%d|v2:%d|v3:%d", &c1, &c2, &c3), 3);
    /* Space-Saving: counts overestimate by at most N / m per merge level */
    int slack = 2 * n / topk_counters(3);
    ck_assert_int_ge(c1, 600);
    ck_assert_int_le(c1, 600 + slack);
    ck_assert_int_ge(c2, 400);
    ck_assert_int_le(c2, 400 + slack);
    ck_assert_int_ge(c3, 200);
    ck_assert_int_le(c3, 200 + slack);
    for (int i = 0; i < 4; i++)
        free(part[i]);
    free(all);
}
END_TEST

START_TEST(codec_v2_round_trips_compactly)
{
    acc_slot *s = slots_new(), *d = slots_new();
    uint8_t *buf = malloc(acc_encoded_bytes(&g_l));
    ember_err err = {0};
    ck_assert_ptr_nonnull(buf);
    size_t len = acc_encode(&g_l, s, buf); /* empty: 3 + count + two headers */
    ck_assert_uint_eq(len, 3 + 3 * 8);
    ck_assert_int_eq(buf[0], ACC_CODEC_VERSION_SUMMARY);
    ck_assert_int_eq(buf[1] | buf[2] << 8, g_l.n_slots);
    for (int i = 0; i < 5; i++)
        add_id(s, i % 3, 0);
    len = acc_encode(&g_l, s, buf); /* 3 hashes, 3 counters of 8 slots */
    ck_assert_uint_eq(len, 3 + 8 * (1 + 1 + 3 + 1 + 3 * TOPK_COUNTER_SLOTS));
    ck_assert_int_eq(acc_decode(&g_l, buf, len, d, &err), 0);
    ck_assert_mem_eq(s, d, (size_t)g_l.n_slots * sizeof *s);
    ck_assert_int_eq(acc_decode(&g_l, buf, len - 1, d, &err), -EMBER_ECORRUPT);
    ck_assert_int_eq(acc_decode(&g_l, buf, 2, d, &err), -EMBER_ECORRUPT);
    buf[3 + 8] = 200; /* the set claims 200 hashes */
    ck_assert_int_eq(acc_decode(&g_l, buf, len, d, &err), -EMBER_ECORRUPT);
    buf[3 + 8] = 3;
    buf[0] = ACC_CODEC_VERSION;
    ck_assert_int_eq(acc_decode(&g_l, buf, len, d, &err), -EMBER_ECORRUPT);
    free(s);
    free(d);
    free(buf);
}
END_TEST

static Suite *summary_suite(void)
{
    Suite *s = suite_create("summary");
    TCase *tc = tcase_create("summary");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_test(tc, set_counts_exactly_and_merges_as_union);
    tcase_add_test(tc, set_past_its_bound_fails_the_check);
    tcase_add_test(tc, topk_is_exact_within_its_counters);
    tcase_add_test(tc, topk_keeps_heavy_hitters_beyond_its_counters);
    tcase_add_test(tc, codec_v2_round_trips_compactly);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(summary_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
