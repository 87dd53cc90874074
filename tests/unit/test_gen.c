/*
 * test_gen: core/gen.c. The oracles here do not share code with the
 * generator: fields are split and parsed by hand (strtoll/strtod), the
 * schema comes from gen_fields(), Luhn and UUID shapes are checked directly,
 * and sets of ids are kept in a small hash set of the test's own.
 *
 * Speed matters under ASan: the checks run over tens of thousands of records,
 * so a passing assertion must cost nothing (see ck_assert_msg below), lookups
 * are hashed rather than linear, and the properties that hold for every kind
 * loop over the kinds inside one test case instead of forking one per kind.
 */
#include "core/ops/gen.h"

#include <check.h>
#include <ctype.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Check's ck_assert_msg records its location with a write to a pipe on every
 * call (5 minutes of system calls over these loops); only a failure needs to
 * reach Check. The ck_assert_* helpers expand to this one. */
#undef ck_assert_msg
#define ck_assert_msg(expr, ...)                                                                   \
    do {                                                                                           \
        if (!(expr))                                                                               \
            ck_abort_msg(__VA_ARGS__);                                                             \
    } while (0)

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

static void gen_split(gen_kind k, uint64_t seed, uint64_t seq, fields *f)
{
    char line[GEN_LINE_MAX];
    gen_line(k, seed, seq, line);
    split(line, f);
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

/* "<prefix><digits>" with exactly `width` digits, in [lo, hi]. */
static int is_numbered(const char *s, const char *prefix, int width, long lo, long hi)
{
    size_t n = strlen(prefix);
    if (strncmp(s, prefix, n) != 0 || strlen(s) != n + (size_t)width)
        return 0;
    for (int i = 0; i < width; i++)
        if (!isdigit((unsigned char)s[n + i]))
            return 0;
    long v = strtol(s + n, NULL, 10);
    return v >= lo && v <= hi;
}

static int has_2_decimals(const char *s)
{
    const char *dot = strchr(s, '.');
    return dot && strlen(dot) == 3;
}

/* Checks every field against the kind's "name:type" spec. */
static void check_schema(gen_kind k, const fields *f)
{
    char spec[256];
    snprintf(spec, sizeof spec, "%s", gen_fields(k));
    int i = 0;
    for (char *tok = strtok(spec, ","); tok; tok = strtok(NULL, ","), i++) {
        ck_assert_msg(i < f->n, "%s: fewer fields than '%s'", gen_kind_name(k), gen_fields(k));
        const char *type = strchr(tok, ':');
        if (type && strcmp(type, ":int") == 0)
            (void)parse_int(f->v[i]);
        else if (type && strcmp(type, ":float") == 0)
            (void)parse_float(f->v[i]);
        else
            ck_assert_msg(f->v[i][0] != '\0', "%s: empty string field %d", gen_kind_name(k), i);
    }
    ck_assert_msg(i == f->n, "%s: %d fields, spec has %d", gen_kind_name(k), f->n, i);
}

/* Index of the event-time field in the kind's spec ("ts" or "event_time"). */
static int time_field(gen_kind k)
{
    char spec[256];
    snprintf(spec, sizeof spec, "%s", gen_fields(k));
    int i = 0;
    for (char *tok = strtok(spec, ","); tok; tok = strtok(NULL, ","), i++)
        if (strcmp(tok, "ts:int") == 0 || strcmp(tok, "event_time:int") == 0 ||
            strcmp(tok, "date_time:int") == 0)
            return i;
    return -1;
}

static void check_event_time(long long ts, uint64_t seq)
{
    long long expect = GEN_EPOCH_MS + (long long)seq;
    ck_assert_msg(ts >= expect - 50 && ts <= expect + 50, "seq %llu: ts %lld",
                  (unsigned long long)seq, ts);
}

/* ------------------------------------------------------- a string set */

/* Open addressing over FNV-1a; entries get dense indexes in insertion
 * order, so a set doubles as a name -> small integer map. */
#define SET_SLOTS   4096 /* power of two, over twice the entries */
#define SET_MAX     1024
#define SET_KEY_MAX 40

typedef struct strset {
    int n;
    int slot[SET_SLOTS]; /* index + 1; 0 is empty */
    char key[SET_MAX][SET_KEY_MAX];
} strset;

static uint32_t fnv1a(const char *s, size_t len)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h;
}

/* Index of the first `len` characters of s; added if `add`, else -1 when
 * absent. */
static int set_index(strset *set, const char *s, size_t len, int add)
{
    ck_assert_msg(len < SET_KEY_MAX, "key '%s' too long", s);
    uint32_t h = fnv1a(s, len) & (SET_SLOTS - 1);
    for (;; h = (h + 1) & (SET_SLOTS - 1)) {
        int i = set->slot[h] - 1;
        if (i < 0)
            break;
        if (strncmp(set->key[i], s, len) == 0 && set->key[i][len] == '\0')
            return i;
    }
    if (!add)
        return -1;
    ck_assert_msg(set->n < SET_MAX, "set full at '%s'", s);
    memcpy(set->key[set->n], s, len);
    set->key[set->n][len] = '\0';
    set->slot[h] = ++set->n;
    return set->n - 1;
}

/* ------------------------------------------------------- every kind */

/* The kinds whose every field is filled; a nexmark row leaves the fields of
 * the other two event kinds empty (tests/unit/test_gen_nexmark.c). */
#define FILLED_KINDS GEN_NEXMARK

START_TEST(kind_names_round_trip)
{
    for (int k = 0; k < GEN_KIND_COUNT; k++) {
        ck_assert_int_eq(gen_kind_parse(gen_kind_name((gen_kind)k)), k);
        ck_assert_str_ne(gen_fields((gen_kind)k), "");
        ck_assert_str_ne(gen_doc((gen_kind)k), "");
    }
    ck_assert_int_eq(gen_kind_parse("sensor"), -1);
    ck_assert_int_eq(gen_kind_parse(""), -1);
    /* The new kinds come after the old ones, whose numbers are stable. */
    ck_assert_int_eq(gen_kind_parse("posts"), 3);
    ck_assert_int_eq(gen_kind_parse("clicks"), 4);
    ck_assert_int_eq(gen_kind_parse("trades"), 5);
    ck_assert_str_eq(gen_fields(GEN_POSTS), "user,hashtag,ts:int");
    ck_assert_str_eq(gen_fields(GEN_CLICKS), "user,item,ts:int");
    ck_assert_str_eq(gen_fields(GEN_TRADES), "symbol,price:float,qty:int,ts:int");
}
END_TEST

START_TEST(same_input_same_record)
{
    char a[GEN_LINE_MAX], b[GEN_LINE_MAX];
    for (int k = 0; k < GEN_KIND_COUNT; k++) {
        for (uint64_t seq = 0; seq < 2000; seq++) {
            size_t la = gen_line((gen_kind)k, 7, seq, a);
            size_t lb = gen_line((gen_kind)k, 7, seq, b);
            ck_assert_msg(la == lb && la == strlen(a) && la < GEN_LINE_MAX && !strcmp(a, b),
                          "%s seq %llu: '%s' then '%s'", gen_kind_name((gen_kind)k),
                          (unsigned long long)seq, a, b);
        }
    }
}
END_TEST

/* A range generated on its own equals the slice of the whole, and a
 * generation in reverse order gives the same records. */
START_TEST(range_regeneration_matches_whole)
{
    static char whole[1000][GEN_LINE_MAX];
    char line[GEN_LINE_MAX];
    for (int k = 0; k < GEN_KIND_COUNT; k++) {
        for (uint64_t seq = 0; seq < 1000; seq++)
            gen_line((gen_kind)k, 42, seq, whole[seq]);
        for (uint64_t seq = 500; seq < 600; seq++) {
            gen_line((gen_kind)k, 42, seq, line);
            ck_assert_msg(!strcmp(line, whole[seq]), "%s seq %llu", gen_kind_name((gen_kind)k),
                          (unsigned long long)seq);
        }
        for (uint64_t seq = 1000; seq-- > 0;) {
            gen_line((gen_kind)k, 42, seq, line);
            ck_assert_msg(!strcmp(line, whole[seq]), "%s seq %llu backwards",
                          gen_kind_name((gen_kind)k), (unsigned long long)seq);
        }
    }
}
END_TEST

START_TEST(different_seeds_differ)
{
    char a[GEN_LINE_MAX], b[GEN_LINE_MAX];
    for (int k = 0; k < GEN_KIND_COUNT; k++) {
        int same = 0;
        for (uint64_t seq = 0; seq < 1000; seq++) {
            gen_line((gen_kind)k, 1, seq, a);
            gen_line((gen_kind)k, 2, seq, b);
            same += strcmp(a, b) == 0;
        }
        ck_assert_msg(same < 10, "%s: %d of 1000 records equal", gen_kind_name((gen_kind)k), same);
    }
}
END_TEST

START_TEST(consecutive_records_differ)
{
    char a[GEN_LINE_MAX], b[GEN_LINE_MAX];
    for (int k = 0; k < GEN_KIND_COUNT; k++) {
        int same = 0;
        gen_line((gen_kind)k, 3, 0, a);
        for (uint64_t seq = 1; seq < 1000; seq++) {
            gen_line((gen_kind)k, 3, seq, b);
            same += strcmp(a, b) == 0;
            memcpy(a, b, sizeof a);
        }
        ck_assert_msg(same == 0, "%s: %d repeats", gen_kind_name((gen_kind)k), same);
    }
}
END_TEST

/* Every field parses as its spec says, and the event time is epoch + seq
 * within 50 ms. */
START_TEST(fields_parse_with_schema)
{
    fields f;
    for (int k = 0; k < FILLED_KINDS; k++) {
        int ts = time_field((gen_kind)k);
        if (ts < 0) {
            ck_abort_msg("%s has no event time", gen_kind_name((gen_kind)k));
            return;
        }
        for (uint64_t seq = 0; seq < 10000; seq++) {
            gen_split((gen_kind)k, 5, seq, &f);
            check_schema((gen_kind)k, &f);
            check_event_time(parse_int(f.v[ts]), seq);
        }
    }
}
END_TEST

START_TEST(event_times_are_slightly_out_of_order)
{
    fields f;
    long long prev = 0;
    int inversions = 0;
    for (uint64_t seq = 0; seq < 1000; seq++) {
        gen_split(GEN_SENSORS, 17, seq, &f);
        long long ts = parse_int(f.v[1]);
        inversions += ts < prev;
        prev = ts;
    }
    ck_assert_int_gt(inversions, 0);
}
END_TEST

/* event-rate: the default rate is gen_line itself; at E records per second
 * of event time, record seq's time is EPOCH + seq * 1000 / E ms (+-50), and
 * every other field is the same as at the default rate. */
START_TEST(event_rate_scales_event_time_only)
{
    char a[GEN_LINE_MAX], b[GEN_LINE_MAX];
    fields fa, fb;
    int bad = 0;
    for (int k = 0; k < GEN_KIND_COUNT; k++) {
        int t = time_field((gen_kind)k);
        ck_assert_int_ge(t, 0);
        for (uint64_t seq = 0; seq < 3000000; seq += 9973) {
            gen_line((gen_kind)k, 5, seq, a);
            gen_line_at((gen_kind)k, 5, seq, GEN_EVENTS_PER_S, b);
            bad += strcmp(a, b) != 0;
            if (k == GEN_ADS || k == GEN_SENSORS || k == GEN_TRANSACTIONS) {
                gen_line_at((gen_kind)k, 5, seq, 1000000, b);
                split(a, &fa);
                split(b, &fb);
                long long ts = parse_int(fb.v[t]), expect = GEN_EPOCH_MS + (long long)(seq / 1000);
                bad += ts < expect - 50 || ts > expect + 50;
                for (int i = 0; i < fa.n; i++)
                    bad += i != t && strcmp(fa.v[i], fb.v[i]) != 0;
            }
        }
    }
    ck_assert_int_eq(bad, 0);
}
END_TEST

START_TEST(huge_seq_and_seed_are_fine)
{
    char line[GEN_LINE_MAX];
    fields f;
    for (int k = 0; k < FILLED_KINDS; k++) {
        size_t len = gen_line((gen_kind)k, UINT64_MAX, UINT64_MAX / 4, line);
        ck_assert_uint_lt(len, GEN_LINE_MAX);
        split(line, &f);
        check_schema((gen_kind)k, &f);
    }
}
END_TEST

/* ------------------------------------------------------- sensors, ads, cards */

START_TEST(sensors_values_in_range)
{
    fields f;
    int tests = 0, glitches = 0, bad_sensor = 0, bad_temp = 0;
    static char seen[1001];
    memset(seen, 0, sizeof seen);
    for (uint64_t seq = 0; seq < 30000; seq++) {
        gen_split(GEN_SENSORS, 9, seq, &f);
        ck_assert_int_eq(f.n, 3);
        if (strcmp(f.v[0], "test") == 0)
            tests++;
        else if (is_numbered(f.v[0], "s", 4, 1, 1000))
            seen[atoi(f.v[0] + 1)] = 1;
        else
            bad_sensor++;
        double t = parse_float(f.v[2]);
        if (t == -99.0)
            glitches++;
        else
            bad_temp += !has_2_decimals(f.v[2]) || t < -20.0 || t >= 45.0;
    }
    ck_assert_int_eq(bad_sensor, 0);
    ck_assert_int_eq(bad_temp, 0);
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

static int in_list(const char *s, const char *const *list, int n)
{
    for (int i = 0; i < n; i++)
        if (strcmp(s, list[i]) == 0)
            return 1;
    return 0;
}

static int is_ip(const char *s)
{
    int a, b, c, d;
    char tail;
    return sscanf(s, "%d.%d.%d.%d%c", &a, &b, &c, &d, &tail) == 4 && a >= 1 && a <= 223 && b >= 0 &&
           b <= 255 && c >= 0 && c <= 255 && d >= 0 && d <= 255;
}

/* Ads: 1000 distinct ad ids; each ends in 0001..000a and its first 32
 * characters name one of 100 campaigns, each with exactly 10 ads. */
START_TEST(ads_values_in_range)
{
    static const char *const ad_types[] = {"banner", "modal", "sponsored-search", "mail", "mobile"};
    static const char *const events[] = {"view", "click", "purchase"};
    static strset ads, campaigns;
    static int ads_of_campaign[SET_MAX];
    int counts[3] = {0}, bad = 0;
    fields f;
    memset(&ads, 0, sizeof ads);
    memset(&campaigns, 0, sizeof campaigns);
    memset(ads_of_campaign, 0, sizeof ads_of_campaign);
    for (uint64_t seq = 0; seq < 20000; seq++) {
        gen_split(GEN_ADS, 11, seq, &f);
        ck_assert_int_eq(f.n, 7);
        long suffix = strtol(f.v[2] + 32, NULL, 16);
        bad += !is_uuid(f.v[0]) || !is_uuid(f.v[1]) || !is_uuid(f.v[2]) ||
               !in_list(f.v[3], ad_types, 5) || !in_list(f.v[4], events, 3) || !is_ip(f.v[6]) ||
               suffix < 1 || suffix > 10;
        counts[f.v[4][0] == 'v' ? 0 : f.v[4][0] == 'c' ? 1 : 2]++;
        int n_before = ads.n;
        (void)set_index(&ads, f.v[2], 36, 1);
        if (ads.n > n_before)
            ads_of_campaign[set_index(&campaigns, f.v[2], 32, 1)]++;
    }
    ck_assert_int_eq(bad, 0);
    ck_assert_int_eq(ads.n, 1000);
    for (int e = 0; e < 3; e++)
        ck_assert_int_gt(counts[e], 20000 / 4);
    ck_assert_int_eq(campaigns.n, 100);
    for (int c = 0; c < campaigns.n; c++)
        ck_assert_msg(ads_of_campaign[c] == 10, "campaign %.32s has %d ads", campaigns.key[c],
                      ads_of_campaign[c]);
}
END_TEST

START_TEST(ad_ids_do_not_depend_on_seed)
{
    static strset from_seed1;
    fields f;
    memset(&from_seed1, 0, sizeof from_seed1);
    for (uint64_t seq = 0; seq < 20000 && from_seed1.n < 1000; seq++) {
        gen_split(GEN_ADS, 1, seq, &f);
        (void)set_index(&from_seed1, f.v[2], 36, 1);
    }
    ck_assert_int_eq(from_seed1.n, 1000);
    int unknown = 0;
    for (uint64_t seq = 0; seq < 5000; seq++) {
        gen_split(GEN_ADS, 99, seq, &f);
        unknown += set_index(&from_seed1, f.v[2], 36, 0) < 0;
    }
    ck_assert_msg(unknown == 0, "%d ads of seed 99 not among seed 1's", unknown);
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
    fields f;
    int big = 0, bad = 0;
    for (uint64_t seq = 0; seq < 20000; seq++) {
        gen_split(GEN_TRANSACTIONS, 13, seq, &f);
        ck_assert_int_eq(f.n, 4);
        double amount = parse_float(f.v[2]);
        bad += !is_numbered(f.v[0], "", 16, 0, LONG_MAX) || !luhn_ok(f.v[0]) ||
               !is_numbered(f.v[1], "m", 5, 1, 5000) || !has_2_decimals(f.v[2]) || amount < 1.0 ||
               amount >= 10000.0;
        big += amount >= 2000.0;
    }
    ck_assert_int_eq(bad, 0);
    ck_assert_int_gt(big, 100);
    ck_assert_int_lt(big, 2000);
}
END_TEST

/* ------------------------------------------------------- posts */

/* Tag index: #topic000..#topic199 -> 0..199, #trending00..49 -> 200..249,
 * anything else -1. */
static int tag_index(const char *tag)
{
    if (is_numbered(tag, "#topic", 3, 0, 199))
        return atoi(tag + 6);
    if (is_numbered(tag, "#trending", 2, 0, 49))
        return 200 + atoi(tag + 9);
    return -1;
}

#define POSTS        130000
#define POST_MINUTES 4 /* Unix minutes that 130 s from GEN_EPOCH_MS touch */

/* Users and hashtags in range; #topic000 is far more frequent than
 * #topic100; 1 in 8 posts carry a trending tag. */
START_TEST(posts_are_in_range_and_skewed)
{
    static int count[250];
    int bad = 0, trending = 0;
    fields f;
    memset(count, 0, sizeof count);
    for (uint64_t seq = 0; seq < POSTS; seq++) {
        gen_split(GEN_POSTS, 3, seq, &f);
        ck_assert_int_eq(f.n, 3);
        int tag = tag_index(f.v[1]);
        bad += !is_numbered(f.v[0], "u", 6, 1, 100000) || tag < 0;
        if (tag >= 0)
            count[tag]++;
        trending += tag >= 200;
    }
    ck_assert_int_eq(bad, 0);
    ck_assert_msg(count[0] > 5 * count[100], "#topic000 %d times, #topic100 %d", count[0],
                  count[100]);
    ck_assert(count[0] > count[1] && count[1] > count[10] && count[10] > count[100]);
    ck_assert(trending > POSTS / 10 && trending < POSTS / 6);
}
END_TEST

/* Within one minute of event time (as `tumbling 1m` cuts it: ts / 60000)
 * every trending post carries the same tag, consecutive minutes trend
 * differently, and in a whole minute the trending tag is second only to
 * #topic000, so per-minute top-k lists differ. */
START_TEST(posts_trend_per_minute)
{
    static int count[POST_MINUTES][250];
    int trend[POST_MINUTES], mixed = 0;
    long long first_minute = (GEN_EPOCH_MS - 50) / 60000;
    fields f;
    memset(count, 0, sizeof count);
    for (int m = 0; m < POST_MINUTES; m++)
        trend[m] = -1;
    for (uint64_t seq = 0; seq < POSTS; seq++) {
        gen_split(GEN_POSTS, 3, seq, &f);
        int tag = tag_index(f.v[1]);
        long long m = parse_int(f.v[2]) / 60000 - first_minute;
        ck_assert(tag >= 0 && m >= 0 && m < POST_MINUTES);
        count[m][tag]++;
        if (tag >= 200) {
            mixed += trend[m] >= 0 && trend[m] != tag;
            trend[m] = tag;
        }
    }
    ck_assert_int_eq(mixed, 0);
    /* As documented: #trendingNN with NN = Unix minute % 50. */
    for (int m = 0; m < POST_MINUTES; m++)
        if (trend[m] >= 0)
            ck_assert_int_eq(trend[m] - 200, (first_minute + m) % 50);
    ck_assert(trend[0] >= 0 && trend[1] >= 0 && trend[2] >= 0);
    /* GEN_EPOCH_MS is 20 s into its minute, so minute 1 is the whole one. */
    int *c = count[1], first = 0, second = -1;
    for (int t = 1; t < 250; t++) {
        if (c[t] > c[first]) {
            second = first;
            first = t;
        } else if (second < 0 || c[t] > c[second]) {
            second = t;
        }
    }
    ck_assert_int_eq(first, 0);
    ck_assert_int_eq(second, trend[1]);
}
END_TEST

/* ------------------------------------------------------- clicks */

#define CLICKS 270000 /* 5400 sessions: the first 400 users come back */

/* A user's clicks come in sessions of 50 within one second of event time,
 * all from one category of 20 items; between two sessions of a user lie
 * more than 240 s, far above a 30 s session gap. */
START_TEST(clicks_come_in_sessions)
{
    static long long first[5001], last[5001];
    static int category[5001], size[5001];
    int sessions = 0, returns = 0, bad = 0, wide = 0, off_category = 0, short_gap = 0;
    int wrong_size = 0;
    fields f;
    memset(last, 0, sizeof last);
    for (uint64_t seq = 0; seq < CLICKS; seq++) {
        gen_split(GEN_CLICKS, 5, seq, &f);
        ck_assert_int_eq(f.n, 3);
        bad += !is_numbered(f.v[0], "u", 4, 1, 5000) || !is_numbered(f.v[1], "i", 4, 0, 1999);
        int u = atoi(f.v[0] + 1), item = atoi(f.v[1] + 1);
        long long t = parse_int(f.v[2]);
        if (last[u] && t - last[u] < 30000) { /* same session */
            wide += t - first[u] >= 1000 || first[u] - t >= 1000;
            off_category += item / 20 != category[u];
            size[u]++;
        } else {
            if (last[u]) {
                returns++;
                short_gap += t - last[u] <= 240000;
                wrong_size += size[u] != 50;
            }
            sessions++;
            first[u] = t;
            category[u] = item / 20;
            size[u] = 1;
        }
        last[u] = t;
    }
    ck_assert_int_eq(bad, 0);
    ck_assert_int_eq(wide, 0);
    ck_assert_int_eq(off_category, 0);
    ck_assert_int_eq(short_gap, 0);
    ck_assert_int_eq(sessions, CLICKS / 50);
    ck_assert_int_eq(returns, CLICKS / 50 - 5000);
    /* Items of a session correlate, but sessions spread over the catalogue. */
    int categories = 0;
    static char used[100];
    memset(used, 0, sizeof used);
    for (int u = 1; u <= 5000; u++) {
        if (!last[u])
            continue;
        wrong_size += size[u] != 50;
        categories += !used[category[u]];
        used[category[u]] = 1;
    }
    ck_assert_int_eq(wrong_size, 0);
    ck_assert_int_eq(categories, 100);
}
END_TEST

/* ------------------------------------------------------- trades */

#define TRADE_STEP 7 /* a symbol trades about every 350 ms of the sample */

/* 50 symbols, positive prices with 2 decimals, qty 1..1000; a symbol's
 * price moves less than 1% between its consecutive trades, more than 5%
 * and less than 25% over the 10-minute wave. */
START_TEST(trade_prices_are_continuous)
{
    static strset symbols;
    static double prev[SET_MAX], lo[SET_MAX], hi[SET_MAX];
    int bad = 0, jumps = 0;
    fields f;
    memset(&symbols, 0, sizeof symbols);
    for (uint64_t seq = 0; seq < 600000; seq += TRADE_STEP) {
        gen_split(GEN_TRADES, 9, seq, &f);
        ck_assert_int_eq(f.n, 4);
        size_t len = strlen(f.v[0]);
        for (size_t i = 0; i < len; i++)
            bad += !isupper((unsigned char)f.v[0][i]);
        double p = parse_float(f.v[1]);
        long long q = parse_int(f.v[2]);
        bad += len < 1 || len > 5 || !has_2_decimals(f.v[1]) || p <= 0 || q < 1 || q > 1000;
        int n_before = symbols.n, s = set_index(&symbols, f.v[0], len, 1);
        if (symbols.n > n_before)
            prev[s] = lo[s] = hi[s] = p;
        jumps += fabs(p - prev[s]) >= 0.01 * prev[s];
        prev[s] = p;
        lo[s] = p < lo[s] ? p : lo[s];
        hi[s] = p > hi[s] ? p : hi[s];
    }
    ck_assert_int_eq(bad, 0);
    ck_assert_int_eq(jumps, 0);
    ck_assert_int_eq(symbols.n, 50);
    for (int s = 0; s < symbols.n; s++)
        ck_assert_msg(hi[s] > lo[s] * 1.05 && hi[s] < lo[s] * 1.25, "%s ranges %f..%f",
                      symbols.key[s], lo[s], hi[s]);
}
END_TEST

static Suite *gen_suite(void)
{
    Suite *s = suite_create("gen");
    TCase *tc = tcase_create("gen");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, kind_names_round_trip);
    tcase_add_test(tc, same_input_same_record);
    tcase_add_test(tc, range_regeneration_matches_whole);
    tcase_add_test(tc, different_seeds_differ);
    tcase_add_test(tc, consecutive_records_differ);
    tcase_add_test(tc, fields_parse_with_schema);
    tcase_add_test(tc, event_times_are_slightly_out_of_order);
    tcase_add_test(tc, event_rate_scales_event_time_only);
    tcase_add_test(tc, huge_seq_and_seed_are_fine);
    tcase_add_test(tc, sensors_values_in_range);
    tcase_add_test(tc, ads_values_in_range);
    tcase_add_test(tc, ad_ids_do_not_depend_on_seed);
    tcase_add_test(tc, transactions_values_in_range);
    tcase_add_test(tc, posts_are_in_range_and_skewed);
    tcase_add_test(tc, posts_trend_per_minute);
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
