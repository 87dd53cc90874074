/*
 * test_accum: state/accum.c. The oracle computes each aggregate directly
 * from the generated values (no slots, no merge), so layout, folding,
 * merging and the value codec are all checked against plain arithmetic.
 */
#include "core/ops/accum.h"

#include <check.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { F_KEY, F_INT, F_FLOAT, N_FIELDS };
enum { A_COUNT, A_SUM_I, A_SUM_F, A_MIN_I, A_MAX_I, A_MIN_F, A_MAX_F, A_AVG_I, A_AVG_F, N_AGGS };

static agg_spec g_aggs[N_AGGS];
static acc_layout g_l;

static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static agg_spec spec(agg_fn fn, int field, ember_type t, const char *name)
{
    agg_spec a = {.fn = fn, .field = field, .in_type = t};
    strncpy(a.name, name, sizeof a.name - 1);
    return a;
}

static void setup(void)
{
    ember_err err = {0};
    g_aggs[A_COUNT] = spec(AGG_COUNT, -1, EMBER_NULL, "count");
    g_aggs[A_SUM_I] = spec(AGG_SUM, F_INT, EMBER_INT, "sum_i");
    g_aggs[A_SUM_F] = spec(AGG_SUM, F_FLOAT, EMBER_FLOAT, "sum_f");
    g_aggs[A_MIN_I] = spec(AGG_MIN, F_INT, EMBER_INT, "min_i");
    g_aggs[A_MAX_I] = spec(AGG_MAX, F_INT, EMBER_INT, "max_i");
    g_aggs[A_MIN_F] = spec(AGG_MIN, F_FLOAT, EMBER_FLOAT, "min_f");
    g_aggs[A_MAX_F] = spec(AGG_MAX, F_FLOAT, EMBER_FLOAT, "max_f");
    g_aggs[A_AVG_I] = spec(AGG_AVG, F_INT, EMBER_INT, "avg_i");
    g_aggs[A_AVG_F] = spec(AGG_AVG, F_FLOAT, EMBER_FLOAT, "avg_f");
    ck_assert_int_eq(acc_layout_init(&g_l, g_aggs, N_AGGS, &err), 0);
}

/* Generated input: NULL fields ~10% of the time; floats are multiples of
 * 1/4 below 2^20 so every sum is exact whatever the order. */
typedef struct input {
    size_t n;
    ember_value (*v)[N_FIELDS];
} input;

static input input_gen(size_t n, uint64_t seed)
{
    input in = {n, calloc(n ? n : 1, sizeof *in.v)};
    ck_assert_ptr_nonnull(in.v);
    for (size_t i = 0; i < n; i++) {
        uint64_t r = rng_next(&seed);
        in.v[i][F_KEY] = (ember_value){.type = EMBER_STRING, .u.s = {"k", 1}};
        in.v[i][F_INT].type = r % 10 == 0 ? EMBER_NULL : EMBER_INT;
        in.v[i][F_INT].u.i = (int64_t)(rng_next(&seed) % 2000001) - 1000000;
        in.v[i][F_FLOAT].type = (r >> 8) % 10 == 0 ? EMBER_NULL : EMBER_FLOAT;
        in.v[i][F_FLOAT].u.f = ((double)(rng_next(&seed) % 8000001) - 4000000.0) / 4.0;
    }
    return in;
}

static void fold_range(const input *in, size_t from, size_t to, acc_slot *s)
{
    acc_init(&g_l, s);
    for (size_t i = from; i < to; i++) {
        ember_record rec = {N_FIELDS, in->v[i]};
        acc_add(&g_l, s, &rec, NULL);
    }
}

/* The oracle: each aggregate straight from the values. */
typedef struct expect {
    int64_t count, sum_i, min_i, max_i, n_i, n_f;
    double sum_f, min_f, max_f;
} expect;

static expect oracle(const input *in)
{
    expect e = {.min_i = INT64_MAX, .max_i = INT64_MIN, .min_f = INFINITY, .max_f = -INFINITY};
    for (size_t i = 0; i < in->n; i++) {
        e.count++;
        if (in->v[i][F_INT].type == EMBER_INT) {
            int64_t x = in->v[i][F_INT].u.i;
            e.sum_i += x;
            e.n_i++;
            e.min_i = x < e.min_i ? x : e.min_i;
            e.max_i = x > e.max_i ? x : e.max_i;
        }
        if (in->v[i][F_FLOAT].type == EMBER_FLOAT) {
            double x = in->v[i][F_FLOAT].u.f;
            e.sum_f += x;
            e.n_f++;
            e.min_f = x < e.min_f ? x : e.min_f;
            e.max_f = x > e.max_f ? x : e.max_f;
        }
    }
    return e;
}

static ember_value result(const acc_slot *s, int i)
{
    ember_value v;
    acc_result(&g_l, s, i, &v, NULL);
    return v;
}

static void check_against(const acc_slot *s, const expect *e)
{
    ember_value v = result(s, A_COUNT);
    ck_assert_int_eq(v.type, EMBER_INT);
    ck_assert_int_eq(v.u.i, e->count);
    v = result(s, A_SUM_I);
    ck_assert_int_eq(v.type, EMBER_INT);
    ck_assert_int_eq(v.u.i, e->sum_i);
    v = result(s, A_SUM_F);
    ck_assert_int_eq(v.type, EMBER_FLOAT);
    ck_assert(v.u.f == e->sum_f);
    if (e->n_i) {
        ck_assert_int_eq(result(s, A_MIN_I).u.i, e->min_i);
        ck_assert_int_eq(result(s, A_MAX_I).u.i, e->max_i);
        v = result(s, A_AVG_I);
        ck_assert_int_eq(v.type, EMBER_FLOAT);
        ck_assert_double_eq_tol(v.u.f, (double)e->sum_i / (double)e->n_i, 1e-9);
    } else {
        ck_assert_int_eq(result(s, A_MIN_I).type, EMBER_NULL);
        ck_assert_int_eq(result(s, A_AVG_I).type, EMBER_NULL);
    }
    if (e->n_f) {
        ck_assert(result(s, A_MIN_F).u.f == e->min_f);
        ck_assert(result(s, A_MAX_F).u.f == e->max_f);
        ck_assert_double_eq_tol(result(s, A_AVG_F).u.f, e->sum_f / (double)e->n_f, 1e-9);
    } else {
        ck_assert_int_eq(result(s, A_MAX_F).type, EMBER_NULL);
        ck_assert_int_eq(result(s, A_AVG_F).type, EMBER_NULL);
    }
}

START_TEST(layout_assigns_slots)
{
    /* slot 0 count; sums/min/max one slot each; avg two */
    ck_assert_int_eq(g_l.n_slots, 1 + 6 + 4);
    ck_assert_int_eq(g_aggs[A_COUNT].slot, 0);
    ck_assert_int_eq(g_aggs[A_SUM_I].slot, 1);
    ck_assert_int_eq(g_aggs[A_AVG_I].slot, 7);
    ck_assert_int_eq(g_aggs[A_AVG_F].slot, 9);
    ck_assert_int_eq(acc_result_type(&g_aggs[A_COUNT]), EMBER_INT);
    ck_assert_int_eq(acc_result_type(&g_aggs[A_AVG_I]), EMBER_FLOAT);
    ck_assert_int_eq(acc_result_type(&g_aggs[A_MAX_F]), EMBER_FLOAT);
    ck_assert_int_eq(acc_result_type(&g_aggs[A_MIN_I]), EMBER_INT);
}
END_TEST

START_TEST(layout_rejects_too_many_slots)
{
    static agg_spec many[ACC_MAX_SLOTS / 2];
    acc_layout l;
    ember_err err = {0};
    int n = ACC_MAX_SLOTS / 2;
    for (int i = 0; i < n; i++)
        many[i] = spec(AGG_AVG, F_FLOAT, EMBER_FLOAT, "avg");
    ck_assert_int_eq(acc_layout_init(&l, many, n - 1, &err), 0); /* 1 + 2046 */
    ck_assert_int_eq(l.n_slots, ACC_MAX_SLOTS - 1);
    ck_assert_int_lt(acc_layout_init(&l, many, n, &err), 0); /* 1 + 2048 */
    ck_assert_ptr_nonnull(strstr(err.msg, "2048"));
}
END_TEST

START_TEST(layout_rejects_string_field)
{
    agg_spec a = spec(AGG_SUM, F_KEY, EMBER_STRING, "sum_key");
    acc_layout l;
    ember_err err = {0};
    ck_assert_int_eq(acc_layout_init(&l, &a, 1, &err), -EMBER_EUSAGE);
    ck_assert_ptr_nonnull(strstr(err.msg, "sum_key"));
}
END_TEST

START_TEST(aggregates_match_brute_force)
{
    for (uint64_t seed = 1; seed <= 20; seed++) {
        input in = input_gen(seed * 500, seed);
        acc_slot s[ACC_MAX_SLOTS];
        expect e = oracle(&in);
        fold_range(&in, 0, in.n, s);
        check_against(s, &e);
        free(in.v);
    }
}
END_TEST

START_TEST(merge_of_splits_equals_whole)
{
    input in = input_gen(5000, 42);
    expect e = oracle(&in);
    uint64_t seed = 7;
    for (int round = 0; round < 50; round++) {
        /* split into 1..8 random pieces (some empty), merge in reverse order */
        size_t cuts[9] = {0};
        int pieces = 1 + (int)(rng_next(&seed) % 8);
        for (int p = 1; p < pieces; p++)
            cuts[p] = rng_next(&seed) % (in.n + 1);
        cuts[pieces] = in.n;
        acc_slot total[ACC_MAX_SLOTS], part[ACC_MAX_SLOTS];
        acc_init(&g_l, total);
        /* sort the cuts so the pieces are disjoint and cover [0, n) */
        for (int i = 1; i < pieces; i++)
            for (int j = i; j > 0 && cuts[j] < cuts[j - 1]; j--) {
                size_t t = cuts[j];
                cuts[j] = cuts[j - 1];
                cuts[j - 1] = t;
            }
        for (int p = pieces - 1; p >= 0; p--) {
            fold_range(&in, cuts[p], cuts[p + 1], part);
            acc_merge(&g_l, total, part);
        }
        check_against(total, &e);
    }
    free(in.v);
}
END_TEST

START_TEST(empty_and_all_null_give_null)
{
    acc_slot s[ACC_MAX_SLOTS];
    ember_value vals[N_FIELDS] = {{.type = EMBER_STRING}, {.type = EMBER_NULL},
                                  {.type = EMBER_NULL}};
    ember_record rec = {N_FIELDS, vals};

    acc_init(&g_l, s);
    ck_assert_int_eq(result(s, A_COUNT).u.i, 0);
    for (int i = A_SUM_I; i <= A_AVG_F; i++) /* SQL: sum of no value is NULL too */
        ck_assert_int_eq(result(s, i).type, EMBER_NULL);
    acc_add(&g_l, s, &rec, NULL);
    acc_add(&g_l, s, &rec, NULL);
    ck_assert_int_eq(result(s, A_COUNT).u.i, 2);
    for (int i = A_SUM_I; i <= A_AVG_F; i++)
        ck_assert_int_eq(result(s, i).type, EMBER_NULL);
    /* the encoded all-NULL sums decode as NULL again */
    uint8_t enc[1 << 16];
    acc_slot back[ACC_MAX_SLOTS];
    ember_err err = {0};
    size_t n = acc_encode(&g_l, s, enc);
    ck_assert_int_eq(acc_decode(&g_l, enc, n, back, &err), 0);
    ck_assert_int_eq(result(back, A_SUM_I).type, EMBER_NULL);
    ck_assert_int_eq(result(back, A_SUM_F).type, EMBER_NULL);

    /* merging an all-NULL accumulator into a set one changes nothing */
    acc_slot t[ACC_MAX_SLOTS];
    vals[F_INT] = (ember_value){.type = EMBER_INT, .u.i = -5};
    vals[F_FLOAT] = (ember_value){.type = EMBER_FLOAT, .u.f = 2.5};
    acc_init(&g_l, t);
    acc_add(&g_l, t, &rec, NULL);
    acc_merge(&g_l, t, s);
    ck_assert_int_eq(result(t, A_COUNT).u.i, 3);
    ck_assert_int_eq(result(t, A_MIN_I).u.i, -5);
    ck_assert_int_eq(result(t, A_MAX_I).u.i, -5);
    ck_assert_int_eq(result(t, A_SUM_I).u.i, -5);
    ck_assert(result(t, A_SUM_F).u.f == 2.5);
    ck_assert(result(t, A_MIN_F).u.f == 2.5);
    ck_assert(result(t, A_AVG_F).u.f == 2.5);
}
END_TEST

/* Retracting a record takes back what adding it did (count, sum, avg), also
 * in a delta that starts with the retraction; merged into a state holding
 * the record, the delta of "retract r, add r2" leaves what adding r2 alone
 * would have. */
START_TEST(retract_takes_a_record_back)
{
    acc_slot st[ACC_MAX_SLOTS], only2[ACC_MAX_SLOTS], delta[ACC_MAX_SLOTS];
    ember_value v1[N_FIELDS] = {{.type = EMBER_STRING}, {.type = EMBER_INT, .u.i = 7},
                                {.type = EMBER_FLOAT, .u.f = 1.5}};
    ember_value v2[N_FIELDS] = {{.type = EMBER_STRING}, {.type = EMBER_INT, .u.i = -3},
                                {.type = EMBER_FLOAT, .u.f = 4.0}};
    ember_record r1 = {N_FIELDS, v1}, r2 = {N_FIELDS, v2};
    acc_init(&g_l, st);
    acc_add(&g_l, st, &r1, NULL);
    acc_init(&g_l, only2);
    acc_add(&g_l, only2, &r2, NULL);
    acc_init(&g_l, delta);
    acc_retract(&g_l, delta, &r1, NULL);
    acc_add(&g_l, delta, &r2, NULL);
    acc_merge(&g_l, st, delta);
    for (int i = A_COUNT; i <= A_SUM_F; i++) {
        ember_value a = result(st, i), b = result(only2, i);
        ck_assert_int_eq(a.type, b.type);
        ck_assert_msg(a.type == EMBER_INT ? a.u.i == b.u.i : a.u.f == b.u.f,
                      "aggregate %d differs", i);
    }
    ck_assert_int_eq(result(st, A_SUM_I).u.i, -3);
    ck_assert(result(st, A_AVG_F).u.f == 4.0);
    ck_assert_int_eq(result(st, A_COUNT).u.i, 1);
}
END_TEST

/* count() counts records, count(f) the records whose f is not NULL; both
 * merge by adding and survive the codec. */
START_TEST(count_of_a_field_skips_nulls)
{
    agg_spec aggs[2] = {spec(AGG_COUNT, -1, EMBER_NULL, "count"),
                        spec(AGG_COUNT, F_INT, EMBER_INT, "count_i")};
    acc_layout l;
    ember_err err = {0};
    ck_assert_int_eq(acc_layout_init(&l, aggs, 2, &err), 0);
    ck_assert_int_eq(l.n_slots, 2); /* count(f) has a slot of its own */
    input in = input_gen(1000, 11);
    acc_slot a[2], b[2], c[2];
    int64_t non_null = 0;
    acc_init(&l, a);
    acc_init(&l, b);
    for (size_t i = 0; i < in.n; i++) {
        ember_record rec = {N_FIELDS, in.v[i]};
        acc_add(&l, i < 300 ? a : b, &rec, NULL);
        non_null += in.v[i][F_INT].type != EMBER_NULL;
    }
    acc_merge(&l, a, b);
    uint8_t buf[64];
    size_t n = acc_encode(&l, a, buf);
    ck_assert_int_eq(acc_decode(&l, buf, n, c, &err), 0);
    ember_value v;
    acc_result(&l, c, 0, &v, NULL);
    ck_assert_int_eq(v.u.i, 1000);
    acc_result(&l, c, 1, &v, NULL);
    ck_assert_int_eq(v.type, EMBER_INT);
    ck_assert_int_eq(v.u.i, non_null);
    ck_assert_int_lt(non_null, 1000); /* the input has NULLs */
    free(in.v);
}
END_TEST

START_TEST(int_sum_wraps_without_overflow_trap)
{
    acc_slot s[ACC_MAX_SLOTS];
    ember_value vals[N_FIELDS] = {{.type = EMBER_STRING},
                                  {.type = EMBER_INT, .u.i = INT64_MAX},
                                  {.type = EMBER_NULL}};
    ember_record rec = {N_FIELDS, vals};
    acc_init(&g_l, s);
    acc_add(&g_l, s, &rec, NULL);
    acc_add(&g_l, s, &rec, NULL);
    ck_assert_int_eq(result(s, A_SUM_I).u.i, -2); /* 2 * (2^63 - 1) mod 2^64 */
    ck_assert_int_eq(result(s, A_MAX_I).u.i, INT64_MAX);
}
END_TEST

START_TEST(codec_round_trips)
{
    uint64_t seed = 99;
    size_t len = acc_encoded_bytes(&g_l);
    ck_assert_uint_eq(len, 2 + 8 * (size_t)g_l.n_slots);
    uint8_t *buf = malloc(len);
    for (int round = 0; round < 1000; round++) {
        acc_slot s[ACC_MAX_SLOTS], d[ACC_MAX_SLOTS];
        ember_err err = {0};
        for (int i = 0; i < g_l.n_slots; i++) {
            uint64_t r = rng_next(&seed);
            if (i % 2)
                s[i].i = round < 3 ? (int64_t[]){INT64_MIN, -1, INT64_MAX}[round]
                                   : (int64_t)r;
            else
                s[i].f = ((double)(int64_t)r) / 1e6 * (r & 1 ? -1.0 : 1.0);
        }
        acc_encode(&g_l, s, buf);
        ck_assert_int_eq(buf[0], ACC_CODEC_VERSION);
        ck_assert_int_eq(buf[1], g_l.n_slots);
        ck_assert_int_eq(acc_decode(&g_l, buf, len, d, &err), 0);
        ck_assert_mem_eq(s, d, (size_t)g_l.n_slots * sizeof *s);
    }
    free(buf);
}
END_TEST

START_TEST(codec_is_little_endian)
{
    acc_slot s[ACC_MAX_SLOTS] = {{.i = 0x0102030405060708}, {.i = -2}};
    uint8_t buf[2 + 8 * ACC_MAX_SLOTS];
    for (int i = 2; i < g_l.n_slots; i++)
        s[i].i = 0;
    acc_encode(&g_l, s, buf);
    static const uint8_t want[] = {1, 11, 8, 7, 6, 5, 4, 3, 2, 1, 0xfe, 0xff, 0xff, 0xff,
                                   0xff, 0xff, 0xff, 0xff};
    ck_assert_mem_eq(buf, want, sizeof want);
}
END_TEST

START_TEST(codec_rejects_bad_input)
{
    acc_slot s[ACC_MAX_SLOTS], d[ACC_MAX_SLOTS];
    size_t len = acc_encoded_bytes(&g_l);
    uint8_t buf[2 + 8 * ACC_MAX_SLOTS + 1];
    ember_err err = {0};

    acc_init(&g_l, s);
    acc_encode(&g_l, s, buf);
    ck_assert_int_eq(acc_decode(&g_l, buf, len - 1, d, &err), -EMBER_ECORRUPT);
    ck_assert_int_eq(acc_decode(&g_l, buf, len + 1, d, &err), -EMBER_ECORRUPT);
    ck_assert_int_eq(acc_decode(&g_l, buf, 0, d, &err), -EMBER_ECORRUPT);
    buf[0] = 2;
    ck_assert_int_eq(acc_decode(&g_l, buf, len, d, &err), -EMBER_ECORRUPT);
    ck_assert_ptr_nonnull(strstr(err.msg, "version"));
    buf[0] = ACC_CODEC_VERSION;
    buf[1] = (uint8_t)(g_l.n_slots - 1);
    ck_assert_int_eq(acc_decode(&g_l, buf, len, d, &err), -EMBER_ECORRUPT);
    buf[1] = (uint8_t)g_l.n_slots;
    ck_assert_int_eq(acc_decode(&g_l, buf, len, d, &err), 0);
}
END_TEST

static Suite *accum_suite(void)
{
    Suite *s = suite_create("accum");
    TCase *tc = tcase_create("accum");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_test(tc, layout_assigns_slots);
    tcase_add_test(tc, layout_rejects_too_many_slots);
    tcase_add_test(tc, layout_rejects_string_field);
    tcase_add_test(tc, aggregates_match_brute_force);
    tcase_add_test(tc, merge_of_splits_equals_whole);
    tcase_add_test(tc, empty_and_all_null_give_null);
    tcase_add_test(tc, retract_takes_a_record_back);
    tcase_add_test(tc, count_of_a_field_skips_nulls);
    tcase_add_test(tc, int_sum_wraps_without_overflow_trap);
    tcase_add_test(tc, codec_round_trips);
    tcase_add_test(tc, codec_is_little_endian);
    tcase_add_test(tc, codec_rejects_bad_input);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(accum_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
