/*
 * test_accum_filter: `FN(...) filter (where COND)` in core/ops/accum.c. The
 * oracle folds each aggregate directly over the generated records that pass
 * its condition, computed in C here (no expression, no slots), so the filter
 * evaluation, the filtered count()'s own slot, merging, retracting and the
 * codec are checked against plain arithmetic.
 */
#include "core/ops/accum.h"
#include "core/ops/expr.h"
#include "core/ops/summary.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

enum { F_KEY, F_PRICE, F_BIDDER, N_FIELDS };
enum { A_ALL, A_CHEAP, A_SUM_MID, A_MAX_CHEAP, A_MIN_NONE, A_DISTINCT_RICH, N_AGGS };

static schema g_schema;
static agg_spec g_aggs[N_AGGS];
static acc_layout g_l;
static arena g_scratch;

static agg_spec spec(agg_fn fn, int field, ember_type t, const char *name, const char *cond)
{
    agg_spec a = {.fn = fn, .field = field, .in_type = t};
    ember_err err = {0};
    strncpy(a.name, name, sizeof a.name - 1);
    if (cond) {
        a.filter_text = strdup(cond);
        ck_assert_int_eq(expr_compile(cond, &g_schema, &a.filter, &err), 0);
    }
    return a;
}

static void setup(void)
{
    ember_err err = {0};
    ck_assert_int_eq(schema_parse(&g_schema, "key,price:int,bidder:int", &err), 0);
    g_aggs[A_ALL] = spec(AGG_COUNT, -1, EMBER_NULL, "count", NULL);
    g_aggs[A_CHEAP] = spec(AGG_COUNT, -1, EMBER_NULL, "cheap", "price < 100");
    g_aggs[A_SUM_MID] = spec(AGG_SUM, F_PRICE, EMBER_INT, "mid", "price >= 100 and price < 1000");
    g_aggs[A_MAX_CHEAP] = spec(AGG_MAX, F_PRICE, EMBER_INT, "max_cheap", "price < 100");
    g_aggs[A_MIN_NONE] = spec(AGG_MIN, F_PRICE, EMBER_INT, "none", "price < 0");
    g_aggs[A_DISTINCT_RICH] = spec(AGG_SET, F_BIDDER, EMBER_INT, "rich", "price >= 1000");
    ck_assert_int_eq(acc_layout_init(&g_l, g_aggs, N_AGGS, &err), 0);
    arena_init(&g_scratch, 4096);
}

static void teardown(void)
{
    for (int i = 0; i < N_AGGS; i++) {
        expr_free(g_aggs[i].filter);
        free(g_aggs[i].filter_text);
    }
    arena_free(&g_scratch);
}

/* Prices 0..1999 (NULL one time in 10), bidders 0..49. */
static void gen(ember_value (*v)[N_FIELDS], size_t n, unsigned seed)
{
    srand(seed);
    for (size_t i = 0; i < n; i++) {
        v[i][F_KEY] = (ember_value){.type = EMBER_STRING, .u.s = {"k", 1}};
        v[i][F_PRICE] =
            (ember_value){.type = rand() % 10 ? EMBER_INT : EMBER_NULL, .u.i = rand() % 2000};
        v[i][F_BIDDER] = (ember_value){.type = EMBER_INT, .u.i = rand() % 50};
    }
}

typedef struct oracle {
    int64_t all, cheap, mid, max_cheap, distinct_rich;
    int has_mid, has_max;
} oracle;

static oracle fold_oracle(ember_value (*v)[N_FIELDS], size_t n)
{
    oracle o = {0};
    uint8_t seen[50] = {0};
    for (size_t i = 0; i < n; i++) {
        int known = v[i][F_PRICE].type == EMBER_INT; /* NULL fails every condition */
        int64_t p = v[i][F_PRICE].u.i;
        o.all++;
        if (known && p < 100) {
            o.cheap++;
            o.max_cheap = o.has_max && o.max_cheap > p ? o.max_cheap : p;
            o.has_max = 1;
        }
        if (known && p >= 100 && p < 1000) {
            o.mid += p;
            o.has_mid = 1;
        }
        if (known && p >= 1000 && !seen[v[i][F_BIDDER].u.i]) {
            seen[v[i][F_BIDDER].u.i] = 1;
            o.distinct_rich++;
        }
    }
    return o;
}

static void fold(acc_slot *s, ember_value (*v)[N_FIELDS], size_t from, size_t to)
{
    acc_init(&g_l, s);
    for (size_t i = from; i < to; i++) {
        ember_record rec = {N_FIELDS, v[i]};
        acc_add(&g_l, s, &rec, &g_scratch);
    }
}

static ember_value result(const acc_slot *s, int i)
{
    ember_value v;
    acc_result(&g_l, s, i, &v, NULL);
    return v;
}

static void check_against(const acc_slot *s, const oracle *o)
{
    ck_assert_int_eq(result(s, A_ALL).u.i, o->all);
    ck_assert_int_eq(result(s, A_CHEAP).u.i, o->cheap);
    ck_assert_int_eq(result(s, A_SUM_MID).type, o->has_mid ? EMBER_INT : EMBER_NULL);
    if (o->has_mid)
        ck_assert_int_eq(result(s, A_SUM_MID).u.i, o->mid);
    ck_assert_int_eq(result(s, A_MAX_CHEAP).type, o->has_max ? EMBER_INT : EMBER_NULL);
    if (o->has_max)
        ck_assert_int_eq(result(s, A_MAX_CHEAP).u.i, o->max_cheap);
    ck_assert_int_eq(result(s, A_MIN_NONE).type, EMBER_NULL); /* no price is negative */
    ck_assert_int_eq(result(s, A_DISTINCT_RICH).u.i, o->distinct_rich);
}

START_TEST(filtered_aggregates_fold_only_passing_records)
{
    static ember_value v[3000][N_FIELDS];
    static acc_slot s[ACC_MAX_SLOTS];
    gen(v, 3000, 7);
    fold(s, v, 0, 3000);
    oracle o = fold_oracle(v, 3000);
    ck_assert_int_lt(o.cheap, o.all); /* the conditions do split the input */
    ck_assert_int_gt(o.cheap, 0);
    check_against(s, &o);
}
END_TEST

START_TEST(filtered_count_has_a_slot_of_its_own)
{
    /* count(): slot 0; the filtered count(): the next one */
    ck_assert_int_eq(g_aggs[A_ALL].slot, 0);
    ck_assert_int_eq(g_aggs[A_CHEAP].slot, 1);
    ck_assert_int_eq(g_aggs[A_SUM_MID].slot, 2);
}
END_TEST

START_TEST(filtered_merge_and_codec_match_the_whole)
{
    static ember_value v[2000][N_FIELDS];
    static acc_slot a[ACC_MAX_SLOTS], b[ACC_MAX_SLOTS], c[ACC_MAX_SLOTS];
    static uint8_t buf[ACC_MAX_SLOTS * 8 + 8];
    ember_err err = {0};
    gen(v, 2000, 11);
    fold(a, v, 0, 700);
    fold(b, v, 700, 2000);
    acc_merge(&g_l, b, a);
    size_t n = acc_encode(&g_l, b, buf);
    ck_assert_int_eq(acc_decode(&g_l, buf, n, c, &err), 0);
    oracle o = fold_oracle(v, 2000);
    check_against(c, &o);
}
END_TEST

START_TEST(filtered_retract_takes_back_only_what_was_taken)
{
    static ember_value v[500][N_FIELDS];
    static acc_slot s[ACC_MAX_SLOTS], delta[ACC_MAX_SLOTS];
    gen(v, 500, 3);
    fold(s, v, 0, 500);
    acc_init(&g_l, delta);
    for (size_t i = 400; i < 500; i++) { /* the last 100 taken back */
        ember_record rec = {N_FIELDS, v[i]};
        acc_retract(&g_l, delta, &rec, &g_scratch);
    }
    acc_merge(&g_l, s, delta);
    oracle o = fold_oracle(v, 400);
    ck_assert_int_eq(result(s, A_ALL).u.i, o.all);
    ck_assert_int_eq(result(s, A_CHEAP).u.i, o.cheap);
    ck_assert_int_eq(result(s, A_SUM_MID).u.i, o.mid);
}
END_TEST

/* Without a filter the layout is that of earlier releases: count() in slot
 * 0, version 1 of the codec, two slots for count() sum(x). */
START_TEST(unfiltered_layout_is_unchanged)
{
    agg_spec aggs[2] = {spec(AGG_COUNT, -1, EMBER_NULL, "count", NULL),
                        spec(AGG_SUM, F_PRICE, EMBER_INT, "sum_price", NULL)};
    acc_layout l;
    acc_slot s[2];
    uint8_t buf[32];
    ember_err err = {0};
    ember_value v[N_FIELDS] = {{.type = EMBER_STRING}, {.type = EMBER_INT, .u.i = 5}};
    ember_record rec = {N_FIELDS, v};
    ck_assert_int_eq(acc_layout_init(&l, aggs, 2, &err), 0);
    ck_assert_int_eq(l.n_slots, 2);
    acc_init(&l, s);
    acc_add(&l, s, &rec, NULL);
    ck_assert_uint_eq(acc_encode(&l, s, buf), 2 + 16);
    const uint8_t want[18] = {1, 2, 1, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0};
    ck_assert_mem_eq(buf, want, sizeof want);
}
END_TEST

static Suite *accum_filter_suite(void)
{
    Suite *s = suite_create("accum_filter");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, filtered_aggregates_fold_only_passing_records);
    tcase_add_test(tc, filtered_count_has_a_slot_of_its_own);
    tcase_add_test(tc, filtered_merge_and_codec_match_the_whole);
    tcase_add_test(tc, filtered_retract_takes_back_only_what_was_taken);
    tcase_add_test(tc, unfiltered_layout_is_unchanged);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(accum_filter_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
