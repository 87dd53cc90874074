/*
 * test_gen: core/gen.c. The oracles here do not share code with the
 * generator: fields are split and parsed by hand (strtoll/strtod), the
 * schema comes from gen_fields(), Luhn and UUID shapes are checked directly.
 */
#include "core/gen.h"

#include <check.h>
#include <math.h>

/* Check's ck_assert records its location with a write per call; these tests
 * assert in loops over tens of thousands of records, so only a failure may
 * reach Check. */
#undef ck_assert_msg
#define ck_assert_msg(expr, ...)                                                                  \
    do {                                                                                          \
        if (!(expr))                                                                              \
            ck_abort_msg(__VA_ARGS__);                                                            \
    } while (0)
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N_FIELDS_MAX 16

typedef struct fields {
    int n;
    char v[N_FIELDS_MAX][GEN_LINE_MAX];
} fields;

static void split(const char *line, fields *f)
{
    f->n = 0;
    const char *p = line;
    for (;;) {
        const char *c = strchr(p, ',');
        size_t len = c ? (size_t)(c - p) : strlen(p);
        ck_assert_int_lt(f->n, N_FIELDS_MAX);
        memcpy(f->v[f->n], p, len);
        f->v[f->n][len] = '\0';
        f->n++;
        if (!c)
            break;
        p = c + 1;
    }
}

static long long parse_int(const char *s)
{
    char *end;
    ck_assert_msg(*s != '\0', "empty int field");
    long long v = strtoll(s, &end, 10);
    ck_assert_msg(*end == '\0', "'%s' is not an int", s);
    return v;
}

static double parse_float(const char *s)
{
    char *end;
    ck_assert_msg(*s != '\0', "empty float field");
    double v = strtod(s, &end);
    ck_assert_msg(*end == '\0', "'%s' is not a float", s);
    return v;
}

/* Checks every field against the kind's "name:type" spec. */
static void check_schema(gen_kind k, const fields *f)
{
    char spec[256];
    strcpy(spec, gen_fields(k));
    int i = 0;
    for (char *tok = strtok(spec, ","); tok; tok = strtok(NULL, ","), i++) {
        ck_assert_int_lt(i, f->n);
        const char *type = strchr(tok, ':');
        if (type && strcmp(type, ":int") == 0)
            (void)parse_int(f->v[i]);
        else if (type && strcmp(type, ":float") == 0)
            (void)parse_float(f->v[i]);
        else
            ck_assert_msg(f->v[i][0] != '\0', "empty string field %d", i);
    }
    ck_assert_int_eq(i, f->n);
}

static void check_event_time(long long ts, uint64_t seq)
{
    long long expect = GEN_EPOCH_MS + (long long)seq;
    ck_assert_int_ge(ts, expect - 50);
    ck_assert_int_le(ts, expect + 50);
}

START_TEST(kind_names_round_trip)
{
    for (int k = 0; k < GEN_KIND_COUNT; k++) {
        ck_assert_int_eq(gen_kind_parse(gen_kind_name((gen_kind)k)), k);
        ck_assert_str_ne(gen_fields((gen_kind)k), "");
        ck_assert_str_ne(gen_doc((gen_kind)k), "");
    }
    ck_assert_int_eq(gen_kind_parse("sensor"), -1);
    ck_assert_int_eq(gen_kind_parse(""), -1);
}
END_TEST

START_TEST(same_input_same_record)
{
    char a[GEN_LINE_MAX], b[GEN_LINE_MAX];
    for (uint64_t seq = 0; seq < 2000; seq++) {
        size_t la = gen_line((gen_kind)_i, 7, seq, a);
        size_t lb = gen_line((gen_kind)_i, 7, seq, b);
        ck_assert_uint_eq(la, lb);
        ck_assert_uint_eq(la, strlen(a));
        ck_assert_uint_lt(la, GEN_LINE_MAX);
        ck_assert_str_eq(a, b);
    }
}
END_TEST

/* A range generated on its own equals the slice of the whole, and a
 * generation in reverse order gives the same records. */
START_TEST(range_regeneration_matches_whole)
{
    static char whole[1000][GEN_LINE_MAX];
    char line[GEN_LINE_MAX];
    for (uint64_t seq = 0; seq < 1000; seq++)
        gen_line((gen_kind)_i, 42, seq, whole[seq]);
    for (uint64_t seq = 500; seq < 600; seq++) {
        gen_line((gen_kind)_i, 42, seq, line);
        ck_assert_str_eq(line, whole[seq]);
    }
    for (uint64_t seq = 1000; seq-- > 0;) {
        gen_line((gen_kind)_i, 42, seq, line);
        ck_assert_str_eq(line, whole[seq]);
    }
}
END_TEST

START_TEST(different_seeds_differ)
{
    char a[GEN_LINE_MAX], b[GEN_LINE_MAX];
    int same = 0;
    for (uint64_t seq = 0; seq < 1000; seq++) {
        gen_line((gen_kind)_i, 1, seq, a);
        gen_line((gen_kind)_i, 2, seq, b);
        same += strcmp(a, b) == 0;
    }
    ck_assert_int_lt(same, 10);
}
END_TEST

START_TEST(consecutive_records_differ)
{
    char a[GEN_LINE_MAX], b[GEN_LINE_MAX];
    int same = 0;
    gen_line((gen_kind)_i, 3, 0, a);
    for (uint64_t seq = 1; seq < 1000; seq++) {
        gen_line((gen_kind)_i, 3, seq, b);
        same += strcmp(a, b) == 0;
        strcpy(a, b);
    }
    ck_assert_int_eq(same, 0);
}
END_TEST

START_TEST(fields_parse_with_schema)
{
    char line[GEN_LINE_MAX];
    fields f;
    for (uint64_t seq = 0; seq < 20000; seq++) {
        gen_line((gen_kind)_i, 5, seq, line);
        split(line, &f);
        check_schema((gen_kind)_i, &f);
    }
}
END_TEST

START_TEST(sensors_values_in_range)
{
    char line[GEN_LINE_MAX];
    fields f;
    int tests = 0, glitches = 0;
    static char seen[1001];
    memset(seen, 0, sizeof seen);
    for (uint64_t seq = 0; seq < 30000; seq++) {
        gen_line(GEN_SENSORS, 9, seq, line);
        split(line, &f);
        ck_assert_int_eq(f.n, 3);
        if (strcmp(f.v[0], "test") == 0) {
            tests++;
        } else {
            ck_assert_msg(f.v[0][0] == 's' && strlen(f.v[0]) == 5, "sensor '%s'", f.v[0]);
            long long id = parse_int(f.v[0] + 1);
            ck_assert(id >= 1 && id <= 1000);
            seen[id] = 1;
        }
        check_event_time(parse_int(f.v[1]), seq);
        double t = parse_float(f.v[2]);
        const char *dot = strchr(f.v[2], '.');
        ck_assert_msg(dot && strlen(dot) == 3, "temp '%s' needs 2 decimals", f.v[2]);
        if (t == -99.0)
            glitches++;
        else
            ck_assert_msg(t >= -20.0 && t < 45.0, "temp %s out of range", f.v[2]);
    }
    int distinct = 0;
    for (int i = 1; i <= 1000; i++)
        distinct += seen[i];
    ck_assert_int_eq(distinct, 1000);
    ck_assert_int_gt(tests, 25); /* about 1 in 500 of 30000 */
    ck_assert_int_lt(tests, 150);
    ck_assert_int_gt(glitches, 8); /* about 1 in 1000 */
    ck_assert_int_lt(glitches, 90);
}
END_TEST

static int is_uuid(const char *s)
{
    if (strlen(s) != 36)
        return 0;
    for (int i = 0; i < 36; i++) {
        int dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s[i] != '-' : !isxdigit((unsigned char)s[i]) || isupper((unsigned char)s[i]))
            return 0;
    }
    return 1;
}

static int in_set(const char *s, const char *const *set, int n)
{
    for (int i = 0; i < n; i++)
        if (strcmp(s, set[i]) == 0)
            return 1;
    return 0;
}

static void check_ip(const char *s)
{
    int a, b, c, d;
    char tail;
    ck_assert_msg(sscanf(s, "%d.%d.%d.%d%c", &a, &b, &c, &d, &tail) == 4, "ip '%s'", s);
    ck_assert(a >= 1 && a <= 223 && b >= 0 && b <= 255 && c >= 0 && c <= 255 && d >= 0 &&
              d <= 255);
}

/* Ads: 1000 distinct ad ids; each ends in 0001..000a and its first 32
 * characters name one of 100 campaigns, each with exactly 10 ads. */
START_TEST(ads_values_in_range)
{
    static const char *const ad_types[] = {"banner", "modal", "sponsored-search", "mail",
                                           "mobile"};
    static const char *const events[] = {"view", "click", "purchase"};
    static char ads[1000][37];
    int n_ads = 0, counts[3] = {0};
    char line[GEN_LINE_MAX];
    fields f;
    for (uint64_t seq = 0; seq < 20000; seq++) {
        gen_line(GEN_ADS, 11, seq, line);
        split(line, &f);
        ck_assert_int_eq(f.n, 7);
        ck_assert(is_uuid(f.v[0]) && is_uuid(f.v[1]) && is_uuid(f.v[2]));
        ck_assert_msg(in_set(f.v[3], ad_types, 5), "ad_type '%s'", f.v[3]);
        ck_assert_msg(in_set(f.v[4], events, 3), "event_type '%s'", f.v[4]);
        counts[f.v[4][0] == 'v' ? 0 : f.v[4][0] == 'c' ? 1 : 2]++;
        check_event_time(parse_int(f.v[5]), seq);
        check_ip(f.v[6]);
        long suffix = strtol(f.v[2] + 32, NULL, 16);
        ck_assert(suffix >= 1 && suffix <= 10);
        int known = 0;
        for (int i = 0; i < n_ads && !known; i++)
            known = strcmp(ads[i], f.v[2]) == 0;
        if (!known) {
            ck_assert_int_lt(n_ads, 1000);
            strcpy(ads[n_ads++], f.v[2]);
        }
    }
    ck_assert_int_eq(n_ads, 1000);
    for (int e = 0; e < 3; e++)
        ck_assert_int_gt(counts[e], 20000 / 4);
    /* Group by campaign prefix: 100 campaigns of 10 ads. */
    for (int i = 0; i < n_ads; i++) {
        int same_campaign = 0;
        for (int j = 0; j < n_ads; j++)
            same_campaign += strncmp(ads[i], ads[j], 32) == 0;
        ck_assert_int_eq(same_campaign, 10);
    }
}
END_TEST

START_TEST(ad_ids_do_not_depend_on_seed)
{
    char a[GEN_LINE_MAX], b[GEN_LINE_MAX];
    fields fa, fb;
    static char from_seed1[1000][37];
    int n = 0;
    for (uint64_t seq = 0; seq < 20000 && n < 1000; seq++) {
        gen_line(GEN_ADS, 1, seq, a);
        split(a, &fa);
        int known = 0;
        for (int i = 0; i < n && !known; i++)
            known = strcmp(from_seed1[i], fa.v[2]) == 0;
        if (!known)
            strcpy(from_seed1[n++], fa.v[2]);
    }
    for (uint64_t seq = 0; seq < 5000; seq++) {
        gen_line(GEN_ADS, 99, seq, b);
        split(b, &fb);
        int known = 0;
        for (int i = 0; i < n && !known; i++)
            known = strcmp(from_seed1[i], fb.v[2]) == 0;
        ck_assert_msg(known, "ad '%s' of seed 99 not among seed 1's ads", fb.v[2]);
    }
}
END_TEST

static int luhn_ok(const char *digits)
{
    int n = (int)strlen(digits), sum = 0;
    for (int i = 0; i < n; i++) {
        int d = digits[n - 1 - i] - '0';
        if (i % 2 == 1)
            d = d * 2 > 9 ? d * 2 - 9 : d * 2;
        sum += d;
    }
    return sum % 10 == 0;
}

START_TEST(transactions_values_in_range)
{
    char line[GEN_LINE_MAX];
    fields f;
    int big = 0;
    for (uint64_t seq = 0; seq < 20000; seq++) {
        gen_line(GEN_TRANSACTIONS, 13, seq, line);
        split(line, &f);
        ck_assert_int_eq(f.n, 4);
        ck_assert_uint_eq(strlen(f.v[0]), 16);
        for (int i = 0; i < 16; i++)
            ck_assert(isdigit((unsigned char)f.v[0][i]));
        ck_assert_msg(luhn_ok(f.v[0]), "card %s fails Luhn", f.v[0]);
        ck_assert_msg(f.v[1][0] == 'm' && strlen(f.v[1]) == 6, "merchant '%s'", f.v[1]);
        long long m = parse_int(f.v[1] + 1);
        ck_assert(m >= 1 && m <= 5000);
        double amount = parse_float(f.v[2]);
        ck_assert(amount >= 1.0 && amount < 10000.0);
        ck_assert_uint_eq(strlen(strchr(f.v[2], '.')), 3);
        big += amount >= 2000.0;
        check_event_time(parse_int(f.v[3]), seq);
    }
    ck_assert_int_gt(big, 100);
    ck_assert_int_lt(big, 2000);
}
END_TEST

START_TEST(event_times_are_slightly_out_of_order)
{
    char line[GEN_LINE_MAX];
    fields f;
    long long prev = 0;
    int inversions = 0;
    for (uint64_t seq = 0; seq < 1000; seq++) {
        gen_line(GEN_SENSORS, 17, seq, line);
        split(line, &f);
        long long ts = parse_int(f.v[1]);
        inversions += ts < prev;
        prev = ts;
    }
    ck_assert_int_gt(inversions, 0);
}
END_TEST

START_TEST(huge_seq_and_seed_are_fine)
{
    char line[GEN_LINE_MAX];
    fields f;
    for (int k = 0; k < GEN_KIND_COUNT; k++) {
        size_t len = gen_line((gen_kind)k, UINT64_MAX, UINT64_MAX / 4, line);
        ck_assert_uint_lt(len, GEN_LINE_MAX);
        split(line, &f);
        check_schema((gen_kind)k, &f);
    }
}
END_TEST

/* posts: #topic000 is far more frequent than #topic100, 1 in 8 posts carry
 * the minute's trending tag, and consecutive minutes trend differently. */
START_TEST(posts_are_skewed_and_trend_per_minute)
{
    char line[GEN_LINE_MAX];
    fields f;
    int top = 0, mid = 0, trending = 0;
    char trend_of_minute[3][16] = {"", "", ""};
    for (uint64_t seq = 0; seq < 150000; seq++) {
        gen_line(GEN_POSTS, 3, seq, line);
        split(line, &f);
        ck_assert_int_eq(f.n, 3);
        ck_assert_msg(f.v[0][0] == 'u' && strlen(f.v[0]) == 7, "user '%s'", f.v[0]);
        top += strcmp(f.v[1], "#topic000") == 0;
        mid += strcmp(f.v[1], "#topic100") == 0;
        if (strncmp(f.v[1], "#trending", 9) == 0) {
            trending++;
            long long minute = (parse_int(f.v[2]) - GEN_EPOCH_MS + 60000) / 60000;
            if (minute >= 1 && minute <= 2)
                snprintf(trend_of_minute[minute], sizeof trend_of_minute[0], "%s", f.v[1]);
        }
    }
    ck_assert_msg(top > 5 * mid, "#topic000 %d times, #topic100 %d", top, mid);
    ck_assert(trending > 150000 / 10 && trending < 150000 / 6);
    ck_assert_str_ne(trend_of_minute[1], trend_of_minute[2]);
}
END_TEST

/* clicks: a user's consecutive clicks are under a second apart inside a
 * session and more than two minutes apart between sessions. */
START_TEST(clicks_come_in_sessions)
{
    static long long last[5001];
    static int category[5001];
    char line[GEN_LINE_MAX];
    fields f;
    int sessions = 0, inside = 0;
    memset(last, 0, sizeof last);
    for (uint64_t seq = 0; seq < 300000; seq++) {
        gen_line(GEN_CLICKS, 5, seq, line);
        split(line, &f);
        ck_assert_int_eq(f.n, 3);
        long long u = parse_int(f.v[0] + 1), item = parse_int(f.v[1] + 1), t = parse_int(f.v[2]);
        ck_assert(u >= 1 && u <= 5000 && item >= 0 && item < 2000);
        if (last[u] && llabs(t - last[u]) < 1000) {
            inside++;
            ck_assert_msg(item / 20 == category[u], "a session stays in one category");
        } else {
            ck_assert_msg(!last[u] || t - last[u] > 120000, "user %lld: gap %lld ms", u,
                          t - last[u]);
            sessions++;
            category[u] = (int)(item / 20);
        }
        last[u] = t;
    }
    ck_assert_int_eq(sessions, 300000 / 50);
    ck_assert_int_eq(inside, 300000 - 300000 / 50);
}
END_TEST

/* trades: 50 symbols; a symbol's price moves less than 1% between trades
 * a second apart, and more than 5% over the 10-minute wave. */
START_TEST(trade_prices_are_continuous)
{
    static double prev[64], lo[64], hi[64];
    static char names[64][8];
    int n_sym = 0;
    char line[GEN_LINE_MAX];
    fields f;
    for (uint64_t seq = 0; seq < 600000; seq += 7) {
        gen_line(GEN_TRADES, 9, seq, line);
        split(line, &f);
        ck_assert_int_eq(f.n, 4);
        int s = 0;
        while (s < n_sym && strcmp(names[s], f.v[0]) != 0)
            s++;
        if (s == n_sym) {
            ck_assert_int_lt(n_sym, 50);
            snprintf(names[n_sym++], sizeof names[0], "%s", f.v[0]);
            prev[s] = lo[s] = hi[s] = parse_float(f.v[1]);
        }
        double p = parse_float(f.v[1]);
        long long q = parse_int(f.v[2]);
        ck_assert(q >= 1 && q <= 1000);
        ck_assert_msg(fabs(p - prev[s]) < 0.01 * prev[s], "%s jumps %f -> %f", f.v[0], prev[s], p);
        prev[s] = p;
        lo[s] = p < lo[s] ? p : lo[s];
        hi[s] = p > hi[s] ? p : hi[s];
    }
    ck_assert_int_eq(n_sym, 50);
    for (int s = 0; s < n_sym; s++)
        ck_assert_msg(hi[s] > lo[s] * 1.05, "%s ranges %f..%f", names[s], lo[s], hi[s]);
}
END_TEST

static Suite *gen_suite(void)
{
    Suite *s = suite_create("gen");
    TCase *tc = tcase_create("gen");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, kind_names_round_trip);
    tcase_add_loop_test(tc, same_input_same_record, 0, GEN_KIND_COUNT);
    tcase_add_loop_test(tc, range_regeneration_matches_whole, 0, GEN_KIND_COUNT);
    tcase_add_loop_test(tc, different_seeds_differ, 0, GEN_KIND_COUNT);
    tcase_add_loop_test(tc, consecutive_records_differ, 0, GEN_KIND_COUNT);
    tcase_add_loop_test(tc, fields_parse_with_schema, 0, GEN_KIND_COUNT);
    tcase_add_test(tc, sensors_values_in_range);
    tcase_add_test(tc, ads_values_in_range);
    tcase_add_test(tc, ad_ids_do_not_depend_on_seed);
    tcase_add_test(tc, transactions_values_in_range);
    tcase_add_test(tc, event_times_are_slightly_out_of_order);
    tcase_add_test(tc, huge_seq_and_seed_are_fine);
    tcase_add_test(tc, posts_are_skewed_and_trend_per_minute);
    tcase_add_test(tc, clicks_come_in_sessions);
    tcase_add_test(tc, trade_prices_are_continuous);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(gen_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
