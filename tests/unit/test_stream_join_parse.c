/*
 * test_stream_join_parse: core/job/stream_join.c, the text after `join A, B`
 * of `stream OUT join A, B ...`. Every form against the bounds, keys and
 * output fields worked out by hand from stream_join.h, and every message
 * with the column of the word it names.
 *
 * bids:     auction:int,bidder:int,price:int,ts:int,channel  (event time ts)
 * auctions: id:int,seller:int,category:int,ts:int,channel:int (event time ts)
 * people:   id:int,name,ts:int                                (no watermark)
 */
#include "core/job/stream_join.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static schema g_bids, g_auctions, g_people;
static sj_input g_in_bids, g_in_auctions, g_in_people;

static void setup(void)
{
    ember_err err = {0};
    ck_assert_int_eq(schema_parse(&g_bids, "auction:int,bidder:int,price:int,ts:int,channel", &err),
                     0);
    ck_assert_int_eq(
        schema_parse(&g_auctions, "id:int,seller:int,category:int,ts:int,channel:int", &err), 0);
    ck_assert_int_eq(schema_parse(&g_people, "id:int,name,ts:int", &err), 0);
    g_in_bids = (sj_input){"bids", &g_bids, 3};
    g_in_auctions = (sj_input){"auctions", &g_auctions, 3};
    g_in_people = (sj_input){"people", &g_people, -1};
}

static stream_join_spec g_spec;

static void parse_ok(const char *text, const sj_input *a, const sj_input *b)
{
    ember_err err = {0};
    ck_assert_msg(stream_join_parse(text, a, b, &g_spec, &err) == 0, "%s: %s", text, err.msg);
}

/* The message contains want and err.col is col. */
static void parse_fails(const char *text, const sj_input *a, const sj_input *b, int col,
                        const char *want)
{
    ember_err err = {0};
    ck_assert_msg(stream_join_parse(text, a, b, &g_spec, &err) == -EMBER_EUSAGE, "%s parsed", text);
    ck_assert_msg(strstr(err.msg, want) != NULL, "%s: message '%s' lacks '%s'", text, err.msg,
                  want);
    ck_assert_msg(err.col == col, "%s: column %d, expected %d (%s)", text, err.col, col, err.msg);
}

START_TEST(within_is_a_symmetric_interval)
{
    parse_ok("on auctions.id = bids.auction within 10s", &g_in_auctions, &g_in_bids);
    ck_assert_int_eq(g_spec.form, SJ_INTERVAL);
    ck_assert_int_eq(g_spec.lo_ms, -10000);
    ck_assert_int_eq(g_spec.hi_ms, 10000);
    ck_assert_int_eq(g_spec.type, SJ_INNER);
    ck_assert_int_eq(g_spec.n_keys, 1);
    ck_assert_int_eq(g_spec.key[0][0], 0); /* auctions.id */
    ck_assert_int_eq(g_spec.key[1][0], 0); /* bids.auction */
}
END_TEST

/* B.ts - A.ts in [lo, hi], however the bounds are written. */
START_TEST(between_bounds_in_any_order_and_sign)
{
    static const struct {
        const char *cond;
        int64_t lo, hi;
    } cases[] = {
        {"bids.ts between auctions.ts - 30ms and auctions.ts + 2m", -30, 120000},
        {"bids.ts between auctions.ts + 2m and auctions.ts - 30ms", -30, 120000},
        {"bids.ts between auctions.ts + 1s and auctions.ts + 5s", 1000, 5000},
        {"bids.ts between auctions.ts - 5s and auctions.ts", -5000, 0},
        /* A as the subject: A.ts in [B.ts - 1s, B.ts + 5s] is B.ts - A.ts in [-5s, 1s] */
        {"auctions.ts between bids.ts - 1s and bids.ts + 5s", -5000, 1000},
        {"bids.ts between auctions.ts-1s and auctions.ts+1s", -1000, 1000},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char text[200];
        snprintf(text, sizeof text, "on auctions.id = bids.auction and %s", cases[i].cond);
        parse_ok(text, &g_in_auctions, &g_in_bids);
        ck_assert_int_eq(g_spec.form, SJ_INTERVAL);
        ck_assert_msg(g_spec.lo_ms == cases[i].lo && g_spec.hi_ms == cases[i].hi,
                      "%s: [%lld, %lld]", cases[i].cond, (long long)g_spec.lo_ms,
                      (long long)g_spec.hi_ms);
    }
}
END_TEST

START_TEST(window_join_appends_the_window_fields)
{
    parse_ok("on auctions.seller = bids.bidder window tumbling 10s type=full", &g_in_auctions,
             &g_in_bids);
    ck_assert_int_eq(g_spec.form, SJ_WINDOW);
    ck_assert_int_eq(g_spec.size_ms, 10000);
    ck_assert_int_eq(g_spec.type, SJ_FULL);
    ck_assert_int_eq(g_spec.out.n, 5 + 5 + 2);
    ck_assert_str_eq(g_spec.out.f[10].name, "window_start");
    ck_assert_str_eq(g_spec.out.f[11].name, "window_end");
    ck_assert_int_eq(g_spec.out.f[11].type, EMBER_INT);
}
END_TEST

/* ttl needs no event time: people declares none. */
START_TEST(ttl_join_needs_no_watermark)
{
    parse_ok("type=left on people.id = auctions.seller ttl 1h", &g_in_people, &g_in_auctions);
    ck_assert_int_eq(g_spec.form, SJ_TTL);
    ck_assert_int_eq(g_spec.ttl_ms, 3600000);
    ck_assert_int_eq(g_spec.type, SJ_LEFT);
    ck_assert(stream_join_outer(&g_spec, 0));
    ck_assert(!stream_join_outer(&g_spec, 1));
}
END_TEST

/* A name on both sides becomes NAME.field on both; others keep theirs. */
START_TEST(output_names_qualify_only_the_shared_ones)
{
    parse_ok("on auctions.id = bids.auction within 1s", &g_in_auctions, &g_in_bids);
    static const char *const want[] = {
        "id",      "seller", "category", "auctions.ts", "auctions.channel",
        "auction", "bidder", "price",    "bids.ts",     "bids.channel"};
    ck_assert_int_eq(g_spec.out.n, 10);
    for (int i = 0; i < 10; i++)
        ck_assert_str_eq(g_spec.out.f[i].name, want[i]);
    ck_assert_int_eq(g_spec.out.f[4].type, EMBER_INT);    /* auctions.channel */
    ck_assert_int_eq(g_spec.out.f[9].type, EMBER_STRING); /* bids.channel */
}
END_TEST

/* Keys in either order; several; each pair typed alike. */
START_TEST(several_keys_written_either_way)
{
    parse_ok("on bids.auction = auctions.id and auctions.seller = bids.bidder within 1s type=right",
             &g_in_auctions, &g_in_bids);
    ck_assert_int_eq(g_spec.n_keys, 2);
    ck_assert_int_eq(g_spec.key[0][0], 0);
    ck_assert_int_eq(g_spec.key[1][0], 0);
    ck_assert_int_eq(g_spec.key[0][1], 1); /* auctions.seller */
    ck_assert_int_eq(g_spec.key[1][1], 1); /* bids.bidder */
    ck_assert_int_eq(g_spec.type, SJ_RIGHT);
    char layout[256];
    stream_join_layout_text(&g_spec, layout, sizeof layout);
    ck_assert_str_eq(layout, "stream_join auctions,bids type=right keys=id=auction,seller=bidder "
                             "interval=-1000..1000");
}
END_TEST

START_TEST(errors_name_the_column_and_the_problem)
{
    const sj_input *a = &g_in_auctions, *b = &g_in_bids;
    /*          1234567890123456789012345678901234567890 */
    parse_fails("on auctions.id = bid.auction within 1s", a, b, 18,
                "unknown stream 'bid' (the join's inputs are auctions and bids)");
    parse_fails("on auctions.id = bids.auctoin within 1s", a, b, 23,
                "unknown field 'auctoin' of bids; did you mean 'auction'?");
    parse_fails("on auctions.id = bids.channel within 1s", a, b, 4,
                "join key auctions.id (int) and bids.channel (string) must have the same type");
    parse_fails("on auctions.id = auctions.seller within 1s", a, b, 4,
                "compares two fields of auctions");
    parse_fails("on auctions.id bids.auction within 1s", a, b, 16,
                "expected '=' or 'between' after the field");
    parse_fails("on id = bids.auction within 1s", a, b, 4,
                "expected auctions.FIELD or bids.FIELD, got 'id'");
    parse_fails("within 1s", a, b, 10, "expected 'on auctions.FIELD = bids.FIELD'");
    parse_fails("on auctions.id = bids.auction", a, b, 30,
                "expected 'within D', 'bids.ts between ...', 'window tumbling SIZE' or 'ttl D'");
    parse_fails("on auctions.id = bids.auction within 1s ttl 1h", a, b, 41,
                "'ttl' cannot be combined with 'within'");
    parse_fails("on auctions.id = bids.auction within 5", a, b, 38, "within: '5' needs a unit");
    parse_fails("on auctions.id = bids.auction within 1000000000000h", a, b, 38,
                "within: '1000000000000h' is too long (at most 2^61 ms)");
    parse_fails("on auctions.id = bids.auction ttl 0s", a, b, 35,
                "ttl: '0s' is not a positive duration");
    parse_fails(
        "on auctions.id = bids.auction within 1s type=lft", a, b, 46,
        "unknown join type 'lft' (expected inner, left, right or full); did you mean 'left'?");
    parse_fails("on auctions.id = bids.auction window sliding 1s", a, b, 38,
                "expected 'tumbling' after 'window'");
    parse_fails("on auctions.id = bids.auction within 1s emit=final", a, b, 41,
                "unexpected 'emit'");
}
END_TEST

START_TEST(time_errors_name_the_stream)
{
    const sj_input *a = &g_in_auctions, *b = &g_in_bids;
    /*          1234567890123456789012345678901234567890 */
    parse_fails("on people.id = auctions.seller within 1s", &g_in_people, a, 32,
                "'within' needs event time on both streams: people declares no watermark");
    parse_fails("on auctions.id = bids.auction and bids.price between auctions.ts - 1s and "
                "auctions.ts",
                a, b, 35, "'bids.price' is not the event time of bids (its watermark is on ts)");
    parse_fails("on auctions.id = bids.auction and bids.ts between bids.ts - 1s and auctions.ts", a,
                b, 51, "a between bound must be the other stream's event time");
    parse_fails("on auctions.id = bids.auction and bids.ts between auctions.ts - 1s or auctions.ts",
                a, b, 68, "expected 'and' between the two bounds");
    parse_fails("on people.id = auctions.seller and auctions.ts between people.ts and people.ts",
                &g_in_people, a, 56, "stream people declares no event time");
    parse_fails("on auctions.id = bids.auction and bids.ts between auctions.ts - 1s and "
                "auctions.ts within 1s",
                a, b, 84, "'within' cannot be combined with 'between'");
}
END_TEST

START_TEST(inputs_are_checked)
{
    ember_err err = {0};
    ck_assert_int_eq(stream_join_parse("on bids.auction = bids.bidder within 1s", &g_in_bids,
                                       &g_in_bids, &g_spec, &err),
                     -EMBER_EUSAGE);
    ck_assert_ptr_nonnull(strstr(err.msg, "a join of bids with itself"));
    schema wide;
    ck_assert_int_eq(schema_parse(&wide, "window_start:int,ts:int", &err), 0);
    sj_input w = {"w", &wide, 1};
    ck_assert_int_eq(stream_join_parse("on w.ts = bids.auction window tumbling 1s", &w, &g_in_bids,
                                       &g_spec, &err),
                     -EMBER_EUSAGE);
    ck_assert_ptr_nonnull(strstr(err.msg, "the window join adds 'window_start'"));
}
END_TEST

/* A schema "PREFIX0:int,PREFIX1:int,..." of n fields. */
static void int_fields(schema *s, const char *prefix, int n)
{
    char spec[2048];
    size_t w = 0;
    ember_err err = {0};
    for (int i = 0; i < n; i++)
        w += (size_t)snprintf(spec + w, sizeof spec - w, "%s%s%d:int", i ? "," : "", prefix, i);
    ck_assert_int_eq(schema_parse(s, spec, &err), 0);
}

START_TEST(limits_and_missing_parts_are_errors)
{
    const sj_input *a = &g_in_auctions, *b = &g_in_bids;
    /*          1234567890123456789012345678901234567890 */
    parse_fails("on bids.ts between auctions.ts - 1s and auctions.ts", a, b, 1,
                "a join needs at least one key equality (auctions.x = bids.y)");
    parse_fails("on auctions.id = bids.auction within", a, b, 37,
                "within: expected a duration (like 10s)");
    parse_fails("on auctions.id = bids.auction within 1s type left", a, b, 46,
                "expected type=inner|left|right|full");
    static schema x, y;
    int_fields(&x, "a", 9);
    int_fields(&y, "a", 9);
    sj_input ix = {"x", &x, -1}, iy = {"y", &y, -1};
    char text[512] = "on x.a0 = y.a0";
    for (int i = 1; i < 9; i++)
        snprintf(text + strlen(text), sizeof text - strlen(text), " and x.a%d = y.a%d", i, i);
    strcat(text, " ttl 1s");
    parse_fails(text, &ix, &iy, (int)(strstr(text, "x.a8") - text) + 1, "at most 8 join keys");
    int_fields(&x, "l", 40);
    int_fields(&y, "r", 30);
    ember_err err = {0};
    ck_assert_int_eq(stream_join_parse("on x.l0 = y.r0 ttl 1s", &ix, &iy, &g_spec, &err),
                     -EMBER_EUSAGE);
    ck_assert_str_eq(err.msg, "a join's output has at most 64 fields");
}
END_TEST

START_TEST(names_and_event_times_are_checked)
{
    static schema x, y;
    char name[80], field[80], spec[128];
    ember_err err = {0};
    memset(name, 's', 30), name[30] = '\0';
    memset(field, 'f', 40), field[40] = '\0';
    snprintf(spec, sizeof spec, "%s:int", field);
    ck_assert_int_eq(schema_parse(&x, spec, &err), 0);
    ck_assert_int_eq(schema_parse(&y, spec, &err), 0);
    sj_input ix = {name, &x, -1}, iy = {"y", &y, -1};
    char text[256];
    snprintf(text, sizeof text, "on %s.%s = y.%s ttl 1s", name, field, field);
    ck_assert_int_eq(stream_join_parse(text, &ix, &iy, &g_spec, &err), -EMBER_EUSAGE);
    ck_assert_ptr_nonnull(strstr(err.msg, "is longer than 63 bytes"));
    memset(name, 's', 70), name[70] = '\0';
    ck_assert_int_eq(stream_join_parse(text, &ix, &iy, &g_spec, &err), -EMBER_EUSAGE);
    ck_assert_ptr_nonnull(strstr(err.msg, "is too long"));
    sj_input bad = {"bids", &g_bids, 4}; /* channel, a string */
    ck_assert_int_eq(stream_join_parse("on auctions.id = bids.auction within 1s", &g_in_auctions,
                                       &bad, &g_spec, &err),
                     -EMBER_EUSAGE);
    ck_assert_str_eq(err.msg, "the event time of bids must be an int field");
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("stream_join_parse");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_test(tc, within_is_a_symmetric_interval);
    tcase_add_test(tc, between_bounds_in_any_order_and_sign);
    tcase_add_test(tc, window_join_appends_the_window_fields);
    tcase_add_test(tc, ttl_join_needs_no_watermark);
    tcase_add_test(tc, output_names_qualify_only_the_shared_ones);
    tcase_add_test(tc, several_keys_written_either_way);
    tcase_add_test(tc, errors_name_the_column_and_the_problem);
    tcase_add_test(tc, time_errors_name_the_stream);
    tcase_add_test(tc, inputs_are_checked);
    tcase_add_test(tc, limits_and_missing_parts_are_errors);
    tcase_add_test(tc, names_and_event_times_are_checked);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
