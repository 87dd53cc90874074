/*
 * test_window: core/window.c (spec parsing, pane and lateness arithmetic,
 * the time codec) and the window-era aggregates of state/accum.c (wavg and
 * the HyperLogLog of count_distinct), each against plain arithmetic.
 */
#include "core/ops/window.h"
#include "core/ops/accum.h"

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static schema test_schema(void)
{
    schema s;
    ember_err err = {0};
    ck_assert_int_eq(schema_parse(&s, "k,ts:int,v:float,name", &err), 0);
    return s;
}

START_TEST(parse_kinds_and_options)
{
    schema s = test_schema();
    window_spec w;
    ember_err err = {0};
    ck_assert_int_eq(window_parse("sliding 1m every 10s on ts watermark 2s emit=update "
                                  "late=file:/tmp/late.csv", &s, &w, &err), 0);
    ck_assert_int_eq(w.kind, WIN_SLIDING);
    ck_assert_int_eq(w.size_ms, 60000);
    ck_assert_int_eq(w.slide_ms, 10000);
    ck_assert_int_eq(w.time_field, 1);
    ck_assert_int_eq(w.delay_ms, 2000);
    ck_assert_int_eq(w.emit, EMIT_UPDATE);
    ck_assert_str_eq(w.late_path, "/tmp/late.csv");
    free(w.late_path);
    ck_assert_int_eq(window_parse("session 30s", &s, &w, &err), 0);
    ck_assert_int_eq(w.kind, WIN_SESSION);
    ck_assert_int_eq(w.time_field, -1);
    ck_assert_int_eq(w.slide_ms, 30000);
}
END_TEST

START_TEST(parse_errors_point_at_the_column)
{
    static const struct {
        const char *text;
        int col;
        const char *msg;
    } cases[] = {
        {"hopping 10s", 1, "window kind"},
        {"tumbling 10x", 10, "positive duration"},
        {"sliding 10s 5s", 13, "every SLIDE"},
        {"sliding 10s every 3s", 19, "divide"},
        {"tumbling 5s on nope", 16, "unknown field"},
        {"tumbling 5s on v", 16, "must be an int"},
        {"tumbling 5s watermark 1s", 13, "needs event time"},
        {"tumbling 5s on ts emit=later", 19, "unexpected"},
    };
    schema s = test_schema();
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        window_spec w;
        ember_err err = {0};
        ck_assert_int_eq(window_parse(cases[i].text, &s, &w, &err), -EMBER_EUSAGE);
        ck_assert_msg(strstr(err.msg, cases[i].msg), "'%s': %s", cases[i].text, err.msg);
        ck_assert_msg(err.col == cases[i].col, "'%s': col %d, want %d", cases[i].text, err.col,
                      cases[i].col);
    }
}
END_TEST

START_TEST(pane_start_floors_negative_times)
{
    window_spec w = {.kind = WIN_SLIDING, .size_ms = 30, .slide_ms = 10};
    for (int64_t t = -35; t <= 35; t++) {
        int64_t p = window_pane_start(&w, t);
        ck_assert_msg(p <= t && t < p + 10 && p % 10 == 0, "t %lld -> pane %lld", (long long)t,
                      (long long)p);
    }
}
END_TEST

START_TEST(late_means_every_window_closed)
{
    window_spec w = {.kind = WIN_SLIDING, .size_ms = 30, .slide_ms = 10};
    /* Oracle: t is late when the last window holding it, [p, p + 30), ends <= wm. */
    for (int64_t wm = -50; wm <= 50; wm += 7)
        for (int64_t t = -60; t <= 60; t++) {
            int64_t p = t >= 0 ? t / 10 * 10 : -((-t + 9) / 10) * 10;
            ck_assert_int_eq(window_is_late(&w, t, wm), p + 30 <= wm);
        }
    ck_assert_int_eq(window_is_late(&w, -1000000, WIN_NO_WATERMARK), 0);
    window_spec s = {.kind = WIN_SESSION, .size_ms = 5, .slide_ms = 5};
    ck_assert_int_eq(window_is_late(&s, 10, 15), 1);
    ck_assert_int_eq(window_is_late(&s, 11, 15), 0);
    ck_assert_int_eq(window_is_late(&w, INT64_MAX - 5, INT64_MAX - 1), 0); /* no overflow */
}
END_TEST

START_TEST(time_codec_orders_like_numbers)
{
    static const int64_t v[] = {INT64_MIN, -1000, -1, 0, 1, 1700000000000LL, INT64_MAX};
    uint8_t a[8], b[8];
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        window_put_time(a, v[i]);
        ck_assert(window_get_time(a) == v[i]);
        if (i) {
            window_put_time(b, v[i - 1]);
            ck_assert_int_lt(memcmp(b, a, 8), 0);
        }
    }
}
END_TEST

static void fold(const acc_layout *l, acc_slot *s, ember_value *vals, int n)
{
    ember_record r = {(uint32_t)n, vals};
    acc_add(l, s, &r, NULL);
}

START_TEST(wavg_and_hll_match_direct_computation)
{
    agg_spec aggs[2] = {
        {.fn = AGG_WAVG, .field = 0, .in_type = EMBER_FLOAT, .field2 = 1, .in_type2 = EMBER_INT},
        {.fn = AGG_HLL, .field = 2, .in_type = EMBER_STRING},
    };
    acc_layout l;
    ember_err err = {0};
    ck_assert_int_eq(acc_layout_init(&l, aggs, 2, &err), 0);
    ck_assert_int_eq(l.n_slots, 1 + 2 + HLL_SLOTS);
    acc_slot *a = calloc((size_t)l.n_slots, sizeof *a), *b = calloc((size_t)l.n_slots, sizeof *b);
    acc_init(&l, a);
    acc_init(&l, b);
    double pq = 0, q = 0;
    char id[32];
    const int n = 50000, distinct = 20000;
    for (int i = 0; i < n; i++) {
        double price = 10 + (i % 97) * 0.25;
        int64_t qty = 1 + i % 13;
        snprintf(id, sizeof id, "user-%d", (i * 7919) % distinct);
        ember_value v[3] = {{.type = EMBER_FLOAT, .u.f = price},
                            {.type = EMBER_INT, .u.i = qty},
                            {.type = EMBER_STRING, .u.s = {id, (uint32_t)strlen(id)}}};
        fold(&l, i % 2 ? a : b, v, 3); /* two halves, merged below */
        pq += price * (double)qty;
        q += (double)qty;
    }
    acc_merge(&l, a, b);
    ember_value out;
    acc_result(&l, a, 0, &out, NULL);
    ck_assert_int_eq(out.type, EMBER_FLOAT);
    ck_assert(fabs(out.u.f - pq / q) < 1e-9 * (pq / q));
    acc_result(&l, a, 1, &out, NULL);
    double rel = fabs((double)out.u.i - distinct) / distinct;
    ck_assert_msg(rel < 3 * 1.04 / 16, "HLL estimate %lld for %d distinct", (long long)out.u.i,
                  distinct);
    /* small sets are counted (almost) exactly by linear counting */
    acc_init(&l, b);
    for (int i = 0; i < 40; i++) {
        snprintf(id, sizeof id, "x%d", i % 20);
        ember_value v[3] = {{.type = EMBER_NULL}, {.type = EMBER_NULL},
                            {.type = EMBER_STRING, .u.s = {id, (uint32_t)strlen(id)}}};
        fold(&l, b, v, 3);
    }
    acc_result(&l, b, 1, &out, NULL);
    ck_assert_msg(out.u.i >= 19 && out.u.i <= 21, "20 distinct read %lld", (long long)out.u.i);
    acc_result(&l, b, 0, &out, NULL);
    ck_assert_int_eq(out.type, EMBER_NULL); /* wavg of nothing */
    free(a);
    free(b);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("window");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, parse_kinds_and_options);
    tcase_add_test(tc, parse_errors_point_at_the_column);
    tcase_add_test(tc, pane_start_floors_negative_times);
    tcase_add_test(tc, late_means_every_window_closed);
    tcase_add_test(tc, time_codec_orders_like_numbers);
    tcase_add_test(tc, wavg_and_hll_match_direct_computation);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
