/*
 * test_ui_board: the status page's pieces without a network: the board
 * (ui/board.c: the history ring, totals, histograms, the recovery
 * estimate), /metrics (ui/metrics.c: cumulative buckets), listen addresses
 * and query re-encoding (ui/server.c), and the engine's ring of a sink's
 * newest rows (core/engine/recent.c). Expected values are computed here from
 * the inputs the test publishes.
 */
#include "core/engine/recent.h"
#include "ui/board.h"
#include "ui/metrics.h"
#include "ui/server.h"

#include <arpa/inet.h>
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Batch i processes in (i * 7) % 1300 ms, starts (i * 3) % 40 ms late. */
static double proc_ms(int i)
{
    return (double)((i * 7) % 1300);
}
static double sched_ms(int i)
{
    return (double)((i * 3) % 40);
}

static void publish(ui_board *b, int i)
{
    ember_range_info r = {.from = (uint64_t)i * 10, .to = (uint64_t)i * 10 + 10};
    ember_partition_info p = {.committed = (uint64_t)i * 10 + 10, .end = 5000, .has_end = 1};
    const char *rows[] = {"a,1", "b,2"};
    ember_sink_info s = {.kind = "file", .stream = "t", .rows = rows, .n_rows = 2};
    ember_batch_info in = {.job_name = "t",
                           .job_text = "job t\naggregate count()\n",
                           .dir = "/x",
                           .source_kind = "generator",
                           .sink_kind = "file",
                           .batch = (uint64_t)i,
                           .records_in = (uint64_t)i,
                           .rows_out = 2,
                           .total_ms = proc_ms(i),
                           .scheduling_delay_ms = sched_ms(i),
                           .end_to_end_delay_ms = proc_ms(i) + sched_ms(i),
                           .ranges = &r,
                           .n_ranges = 1,
                           .partitions = &p,
                           .n_partitions = 1,
                           .last_error = "",
                           .last_snapshot_batch = (uint64_t)(i / 5 * 5),
                           .sinks = &s,
                           .n_sinks = 1};
    board_publish(&in, b);
}

START_TEST(history_keeps_the_newest_in_order)
{
    ui_board *b = board_new();
    int n = UI_HISTORY + 37;
    for (int i = 1; i <= n; i++)
        publish(b, i);
    ui_batch *rows = malloc(UI_HISTORY * sizeof *rows);
    size_t got = board_read_batches(b, rows, 5);
    ck_assert_uint_eq(got, 5);
    for (size_t k = 0; k < 5; k++)
        ck_assert_uint_eq(rows[k].batch, (uint64_t)(n - 4 + (int)k));
    got = board_read_batches(b, rows, UI_HISTORY);
    ck_assert_uint_eq(got, UI_HISTORY);
    ck_assert_uint_eq(rows[0].batch, (uint64_t)(n - UI_HISTORY + 1));
    ck_assert_uint_eq(rows[0].ranges[0].from, rows[0].batch * 10);
    ui_sink *sinks = malloc(UI_SINKS * sizeof *sinks);
    uint64_t batch = 0;
    ck_assert_uint_eq(board_read_sinks(b, sinks, &batch), 1);
    ck_assert_uint_eq(batch, (uint64_t)n);
    ck_assert_uint_eq(sinks[0].n_rows, 2);
    ck_assert_str_eq(sinks[0].rows[1], "b,2");
    free(sinks);
    free(rows);
    board_free(b);
}
END_TEST

START_TEST(totals_and_histograms_count_every_batch)
{
    ui_board *b = board_new();
    int n = 250;
    uint64_t want_in = 0, want_le[UI_BUCKETS] = {0};
    double want_sum = 0;
    for (int i = 1; i <= n; i++) {
        publish(b, i);
        want_in += (uint64_t)i;
        want_sum += proc_ms(i) / 1e3;
        for (int k = 0; k < UI_BUCKETS; k++)
            want_le[k] += proc_ms(i) / 1e3 <= board_bounds_s[k];
    }
    ui_latest l;
    board_read_latest(b, &l);
    ck_assert_uint_eq(l.totals.batches, (uint64_t)n);
    ck_assert_uint_eq(l.totals.records_in, want_in);
    ck_assert_uint_eq(l.totals.rows_out, 2 * (uint64_t)n);
    ck_assert_double_eq_tol(l.totals.processing.sum_s, want_sum, 1e-9);
    uint64_t cum = 0;
    for (int k = 0; k < UI_BUCKETS; k++) {
        cum += l.totals.processing.counts[k];
        ck_assert_uint_eq(cum, want_le[k]);
    }
    /* the newest batch (250) is the newest snapshot: nothing to replay */
    ck_assert_double_eq_tol(board_recovery_estimate_s(&l), 0, 1e-12);
    board_free(b);
}
END_TEST

START_TEST(recovery_estimate_is_batches_since_snapshot_times_mean)
{
    ui_board *b = board_new();
    double sum = 0;
    for (int i = 1; i <= 8; i++) {
        publish(b, i);
        sum += proc_ms(i);
    }
    ui_latest l;
    board_read_latest(b, &l);
    ck_assert_uint_eq(l.last_snapshot, 5);
    ck_assert_double_eq_tol(board_recovery_estimate_s(&l), 3 * sum / 8 / 1e3, 1e-12);
    board_free(b);
}
END_TEST

/* The value of the sample line that starts with `prefix`. */
static double sample(const char *text, const char *prefix)
{
    char want[160];
    snprintf(want, sizeof want, "\n%s ", prefix);
    const char *p = strstr(text, want);
    ck_assert_msg(p != NULL, "no sample %s", prefix);
    return atof(p + strlen(want));
}

START_TEST(metrics_buckets_are_cumulative)
{
    ui_board *b = board_new();
    for (int i = 1; i <= 40; i++)
        publish(b, i);
    ui_latest l;
    board_read_latest(b, &l);
    text_buf out = {0};
    ck_assert_int_eq(metrics_format(&l, "aggregate", &out), 0);
    ck_assert_int_eq(text_append(&out, "", 1), 0); /* a C string for strstr */
    ck_assert_double_eq(sample(out.data, "ember_batches_total"), 40);
    ck_assert_double_eq(sample(out.data, "ember_processing_seconds_bucket{le=\"+Inf\"}"), 40);
    int le_100ms = 0, le_1s = 0;
    for (int i = 1; i <= 40; i++) {
        le_100ms += proc_ms(i) <= 100;
        le_1s += proc_ms(i) <= 1000;
    }
    ck_assert_double_eq(sample(out.data, "ember_processing_seconds_bucket{le=\"0.1\"}"), le_100ms);
    ck_assert_double_eq(sample(out.data, "ember_processing_seconds_bucket{le=\"1\"}"), le_1s);
    ck_assert_double_eq(sample(out.data, "ember_source_lag_records{source=\"0\",partition=\"0\"}"),
                        5000 - 410);
    ck_assert_ptr_nonnull(strstr(out.data, "# TYPE ember_processing_seconds histogram\n"));
    text_free(&out);
    board_free(b);
}
END_TEST

START_TEST(listen_addresses)
{
    uint32_t a;
    uint16_t port;
    ember_err err = {0};
    ck_assert_int_eq(ui_parse_listen("8080", &a, &port, &err), 0);
    ck_assert_uint_eq(port, 8080);
    ck_assert_uint_eq(a, htonl(0x7f000001));
    ck_assert_int_eq(ui_parse_listen("0.0.0.0:0", &a, &port, &err), 0);
    ck_assert_uint_eq(a, 0);
    ck_assert_uint_eq(port, 0);
    const char *bad[] = {"",    ":80", "65536", "1.2.3:80",   "host:80",
                         "80x", "+80", "-1",    "127.0.0.1:", NULL};
    for (int i = 0; bad[i]; i++) {
        ck_assert_int_eq(ui_parse_listen(bad[i], &a, &port, &err), -EMBER_EUSAGE);
        ck_assert_ptr_nonnull(strstr(err.msg, "listen address"));
    }
}
END_TEST

START_TEST(query_is_encoded_again)
{
    ui_query q = {.key = {"key", "op"}, .value = {"a b&c=%/\xc3\xa9", "aggregate"}, .n = 2};
    text_buf out = {0};
    ck_assert_int_eq(ui_query_encode(&q, &out), 0);
    ck_assert_str_eq(out.data, "key=a%20b%26c%3D%25%2F%C3%A9&op=aggregate");
    text_free(&out);
}
END_TEST

START_TEST(recent_rows_keep_the_newest)
{
    recent_rows r = {0};
    ember_value v[2];
    ember_record row = {2, v};
    recent_add(&r, &row); /* off: nothing kept, nothing crashes */
    ember_err err = {0};
    ck_assert_int_eq(recent_open(&r, &err), 0);
    char name[16];
    for (int i = 0; i < RECENT_ROWS + 10; i++) {
        snprintf(name, sizeof name, "k%d", i);
        v[0] = (ember_value){.type = EMBER_STRING, .u.s = {name, (uint32_t)strlen(name)}};
        v[1] = (ember_value){.type = EMBER_INT, .u.i = i * 3};
        recent_add(&r, &row);
    }
    const char *out[RECENT_ROWS];
    ck_assert_uint_eq(recent_list(&r, out, RECENT_ROWS), RECENT_ROWS);
    ck_assert_str_eq(out[0], "k10,30");
    ck_assert_str_eq(out[RECENT_ROWS - 1], "k73,219");
    char big[1000];
    memset(big, 'x', sizeof big);
    v[0] = (ember_value){.type = EMBER_STRING, .u.s = {big, sizeof big}};
    recent_add(&r, &row);
    ck_assert_uint_eq(recent_list(&r, out, 1), 1);
    ck_assert_uint_eq(strlen(out[0]), RECENT_ROW_BYTES - 1);
    recent_close(&r);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("ui_board");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, history_keeps_the_newest_in_order);
    tcase_add_test(tc, totals_and_histograms_count_every_batch);
    tcase_add_test(tc, recovery_estimate_is_batches_since_snapshot_times_mean);
    tcase_add_test(tc, metrics_buckets_are_cumulative);
    tcase_add_test(tc, listen_addresses);
    tcase_add_test(tc, query_is_encoded_again);
    tcase_add_test(tc, recent_rows_keep_the_newest);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
