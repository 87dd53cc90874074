/*
 * test_aggregate_fn: aggregates defined in C (ember_job_aggregate_fn). In
 * core/ops/accum.c their state blob folds, merges and round-trips through
 * the value codec next to built-in aggregates; in core/job/job.c the API
 * call places the column, records the state-layout line (name, fields,
 * state size, type), and a job file with that line is readable by the tools
 * but refused by run. The oracle is plain arithmetic over the inputs.
 */
#include "core/job/job.h"
#include "core/ops/accum.h"

#include <check.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { F_KEY, F_A, F_B, N_FIELDS };

/* range(a) and "sum of a*b": 12 and 8 bytes of state. range's third int is
 * a flag, so its last slot is half used: the other half must stay zero. */
typedef struct range_state {
    int32_t lo, hi, set;
} range_state;

static int g_user_tag;

static void range_init(void *state, void *user)
{
    ck_assert_ptr_eq(user, &g_user_tag);
    const uint8_t *b = state;
    for (size_t i = 0; i < 16; i++) /* the whole slot pair arrives zeroed */
        ck_assert_int_eq(b[i], 0);
    range_state *r = state;
    r->lo = INT32_MAX;
    r->hi = INT32_MIN;
}

static void range_add(void *state, const ember_record *args, void *user)
{
    range_state *r = state;
    ck_assert_int_eq(args->n, 1);
    if (args->values[0].type != EMBER_INT)
        return;
    int32_t x = (int32_t)args->values[0].u.i;
    r->lo = x < r->lo ? x : r->lo;
    r->hi = x > r->hi ? x : r->hi;
    r->set = 1;
}

static void range_merge(void *into, const void *from, void *user)
{
    range_state *a = into;
    const range_state *b = from;
    a->lo = b->lo < a->lo ? b->lo : a->lo;
    a->hi = b->hi > a->hi ? b->hi : a->hi;
    a->set |= b->set;
}

static void range_result(const void *state, ember_value *out, void *user)
{
    const range_state *r = state;
    if (!r->set)
        out->type = EMBER_NULL;
    else
        out->u.i = (int64_t)r->hi - r->lo;
}

static const ember_agg_fns range_fns = {sizeof(range_state), EMBER_INT,   range_init,
                                        range_add,           range_merge, range_result};

static void dot_init(void *state, void *user)
{
    memset(state, 0, 8);
}

static void dot_add(void *state, const ember_record *args, void *user)
{
    ck_assert_int_eq(args->n, 2);
    if (args->values[0].type == EMBER_INT && args->values[1].type == EMBER_INT)
        *(int64_t *)state += args->values[0].u.i * args->values[1].u.i;
}

static void dot_merge(void *into, const void *from, void *user)
{
    *(int64_t *)into += *(const int64_t *)from;
}

static void dot_result(const void *state, ember_value *out, void *user)
{
    out->type = EMBER_FLOAT; /* declared int: a wrong type reads as NULL */
    out->u.f = (double)*(const int64_t *)state;
}

static const ember_agg_fns dot_fns = {8, EMBER_INT, dot_init, dot_add, dot_merge, dot_result};

/* ------------------------------------------------------------ accum */

enum { A_COUNT, A_RANGE, A_DOT, A_SUM, N_AGGS };
static agg_spec g_aggs[N_AGGS];
static acc_layout g_l;

static void setup(void)
{
    ember_err err = {0};
    memset(g_aggs, 0, sizeof g_aggs);
    g_aggs[A_COUNT] = (agg_spec){.fn = AGG_COUNT, .field = -1, .name = "count"};
    g_aggs[A_RANGE] = (agg_spec){.fn = AGG_USER,
                                 .field = -1,
                                 .name = "range",
                                 .user_fns = range_fns,
                                 .user = &g_user_tag,
                                 .n_args = 1,
                                 .args = {F_A}};
    g_aggs[A_DOT] = (agg_spec){.fn = AGG_USER,
                               .field = -1,
                               .name = "dot",
                               .user_fns = dot_fns,
                               .n_args = 2,
                               .args = {F_A, F_B}};
    g_aggs[A_SUM] = (agg_spec){.fn = AGG_SUM, .field = F_B, .in_type = EMBER_INT, .name = "s"};
    ck_assert_msg(acc_layout_init(&g_l, g_aggs, N_AGGS, &err) == 0, "%s", err.msg);
}

static ember_value g_in[600][N_FIELDS];

static void make_input(void)
{
    uint64_t x = 12345;
    for (int i = 0; i < 600; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        g_in[i][F_KEY] = (ember_value){.type = EMBER_STRING, .u.s = {"k", 1}};
        g_in[i][F_A] = (ember_value){.type = (x >> 60) == 0 ? EMBER_NULL : EMBER_INT,
                                     .u.i = (int64_t)((x >> 20) % 20001) - 10000};
        g_in[i][F_B] = (ember_value){.type = EMBER_INT, .u.i = (int64_t)((x >> 40) % 100)};
    }
}

static void fold(acc_slot *s, int from, int to)
{
    acc_init(&g_l, s);
    for (int i = from; i < to; i++) {
        ember_record rec = {N_FIELDS, g_in[i]};
        acc_add(&g_l, s, &rec, NULL);
    }
}

START_TEST(layout_gives_the_blob_whole_slots)
{
    ck_assert_int_eq(g_aggs[A_RANGE].slot, 1);
    ck_assert_int_eq(g_aggs[A_DOT].slot, 3); /* 12 bytes take 2 slots */
    ck_assert_int_eq(g_aggs[A_SUM].slot, 4);
    ck_assert_int_eq(g_l.n_slots, 5);
    ck_assert_int_eq(acc_result_type(&g_aggs[A_RANGE]), EMBER_INT);
}
END_TEST

START_TEST(layout_rejects_bad_declarations)
{
    acc_layout l;
    ember_err err = {0};
    agg_spec a = g_aggs[A_RANGE];
    a.user_fns.state_bytes = 0;
    ck_assert_int_eq(acc_layout_init(&l, &a, 1, &err), -EMBER_EUSAGE);
    a.user_fns.state_bytes = EMBER_AGG_STATE_MAX + 1;
    ck_assert_int_eq(acc_layout_init(&l, &a, 1, &err), -EMBER_EUSAGE);
    ck_assert_ptr_nonnull(strstr(err.msg, "range"));
    a.user_fns.state_bytes = EMBER_AGG_STATE_MAX;
    ck_assert_int_eq(acc_layout_init(&l, &a, 1, &err), 0);
    ck_assert_int_eq(l.n_slots, 1 + EMBER_AGG_STATE_MAX / 8);
    a.user_fns.result_type = EMBER_STRING;
    ck_assert_int_eq(acc_layout_init(&l, &a, 1, &err), -EMBER_EUSAGE);
}
END_TEST

START_TEST(results_match_brute_force)
{
    make_input();
    acc_slot s[8];
    fold(s, 0, 600);
    int64_t lo = INT64_MAX, hi = INT64_MIN, dot = 0;
    for (int i = 0; i < 600; i++)
        if (g_in[i][F_A].type == EMBER_INT) {
            int64_t a = g_in[i][F_A].u.i;
            lo = a < lo ? a : lo;
            hi = a > hi ? a : hi;
            dot += a * g_in[i][F_B].u.i;
        }
    ember_value v;
    acc_result(&g_l, s, A_RANGE, &v, NULL);
    ck_assert_int_eq(v.type, EMBER_INT);
    ck_assert_int_eq(v.u.i, hi - lo);
    ck_assert_int_eq(*(const int64_t *)&s[g_aggs[A_DOT].slot], dot);
    acc_result(&g_l, s, A_DOT, &v, NULL); /* returned a float for an int */
    ck_assert_int_eq(v.type, EMBER_NULL);
    acc_result(&g_l, s, A_COUNT, &v, NULL);
    ck_assert_int_eq(v.u.i, 600);
}
END_TEST

START_TEST(merge_of_splits_is_byte_identical)
{
    make_input();
    acc_slot whole[8], parts[3][8], merged[8], reversed[8];
    fold(whole, 0, 600);
    fold(parts[0], 0, 137);
    fold(parts[1], 137, 401);
    fold(parts[2], 401, 600);
    acc_init(&g_l, merged);
    acc_init(&g_l, reversed);
    for (int i = 0; i < 3; i++) {
        acc_merge(&g_l, merged, parts[i]);
        acc_merge(&g_l, reversed, parts[2 - i]);
    }
    size_t bytes = (size_t)g_l.n_slots * sizeof(acc_slot);
    ck_assert_mem_eq(merged, whole, bytes);
    ck_assert_mem_eq(reversed, whole, bytes);
    /* the 4 bytes past range's 12 stay zero: equal states, equal bytes */
    const uint8_t *tail = (const uint8_t *)&whole[g_aggs[A_RANGE].slot] + 12;
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(tail[i], 0);
}
END_TEST

START_TEST(empty_state_gives_null)
{
    acc_slot s[8];
    acc_init(&g_l, s);
    ember_value v;
    acc_result(&g_l, s, A_RANGE, &v, NULL);
    ck_assert_int_eq(v.type, EMBER_NULL);
}
END_TEST

START_TEST(codec_round_trips_the_blob)
{
    make_input();
    acc_slot s[8], d[8];
    ember_err err = {0};
    uint8_t buf[128];
    fold(s, 0, 300);
    size_t n = acc_encode(&g_l, s, buf);
    ck_assert_uint_eq(n, acc_encoded_bytes(&g_l));
    ck_assert_int_eq(acc_decode(&g_l, buf, n, d, &err), 0);
    ck_assert_mem_eq(s, d, (size_t)g_l.n_slots * sizeof *s);
    /* the blob's bytes are the slots' little-endian bytes (8-byte words) */
    range_state r;
    memcpy(&r, &s[g_aggs[A_RANGE].slot], sizeof r);
    uint32_t lo_le = (uint32_t)buf[2 + 8] | (uint32_t)buf[2 + 9] << 8 |
                     (uint32_t)buf[2 + 10] << 16 | (uint32_t)buf[2 + 11] << 24;
    ck_assert_int_eq((int32_t)lo_le, r.lo);
}
END_TEST

START_TEST(declared_only_is_inert)
{
    agg_spec a = {.fn = AGG_USER,
                  .field = -1,
                  .name = "decl",
                  .user_fns = {.state_bytes = 16, .result_type = EMBER_FLOAT}};
    acc_layout l;
    ember_err err = {0};
    ck_assert_int_eq(acc_layout_init(&l, &a, 1, &err), 0);
    acc_slot s[3], z[3] = {0};
    acc_init(&l, s);
    ember_record rec = {N_FIELDS, g_in[0]};
    acc_add(&l, s, &rec, NULL);
    acc_merge(&l, s, s);
    ck_assert_mem_eq(&s[1], &z[1], 16);
    ember_value v;
    acc_result(&l, s, 0, &v, NULL);
    ck_assert_int_eq(v.type, EMBER_NULL);
}
END_TEST

/* ------------------------------------------------------------ job API */

static ember_job *keyed_job(void)
{
    ember_err err = {0};
    ember_job *job = ember_job_new("t");
    ember_opt src[] = {{"path", "/nonexistent/in.csv"}};
    ember_opt parse[] = {{"fields", "k,a:int,b:int,v:float"}};
    ck_assert_ptr_nonnull(job);
    ck_assert_int_eq(ember_job_source(job, "file", src, 1, &err), 0);
    ck_assert_int_eq(ember_job_parse(job, "csv", parse, 1, &err), 0);
    ck_assert_int_eq(ember_job_key(job, "k", &err), 0);
    return job;
}

START_TEST(column_follows_call_order)
{
    ember_err err = {0};
    ember_job *job = keyed_job();
    ck_assert_int_eq(ember_job_aggregate_fn(job, "spread", "a", &range_fns, &g_user_tag, &err), 0);
    ck_assert_msg(ember_job_aggregate(job, "count(), sum(b)", &err) == 0, "%s", err.msg);
    ck_assert_int_eq(ember_job_aggregate_fn(job, "dot", "a, b", &dot_fns, NULL, &err), 0);
    ck_assert_int_eq(job->output.n, 5);
    ck_assert_str_eq(job->output.f[1].name, "spread");
    ck_assert_int_eq(job->output.f[1].type, EMBER_INT);
    ck_assert_str_eq(job->output.f[2].name, "count");
    ck_assert_str_eq(job->output.f[4].name, "dot");
    ck_assert_int_eq(job->aggs[4 - 1].n_args, 2);
    ck_assert_int_eq(ember_job_aggregate(job, "count()", &err), -EMBER_EUSAGE); /* once */
    ck_assert_ptr_nonnull(strstr(job->layout, "aggregate_fn spread fields=a state=12 type=int\n"));
    ck_assert_ptr_nonnull(strstr(job->layout, "aggregate_fn dot fields=a,b state=8 type=int\n"));
    ck_assert_int_eq(job_finish(job, &err), 0);
    ember_job_free(job);
}
END_TEST

START_TEST(works_with_windows_and_sessions)
{
    ember_err err = {0};
    ember_job *job = keyed_job();
    ck_assert_int_eq(ember_job_window(job, "session 5s", &err), 0);
    ck_assert_int_eq(ember_job_aggregate_fn(job, "spread", "a", &range_fns, &g_user_tag, &err), 0);
    /* the session's hidden first/last times come after it */
    ck_assert_int_eq(job->n_aggs, 1);
    ck_assert_int_eq(job->acc.n_aggs, 3);
    ck_assert_str_eq(job->aggs[1].name, "session_first");
    ck_assert_int_eq(job->aggs[1].slot, 3);
    ck_assert_str_eq(job->output.f[3].name, "spread");
    ember_job_free(job);
}
END_TEST

START_TEST(bad_calls_are_refused)
{
    ember_err err = {0};
    ember_job *job = keyed_job();
    ember_agg_fns no_merge = range_fns;
    no_merge.merge = NULL;
    ck_assert_int_eq(ember_job_aggregate_fn(job, "r", "a", &no_merge, NULL, &err), -EINVAL);
    ck_assert_int_eq(ember_job_aggregate_fn(job, "r", "a", NULL, NULL, &err), -EINVAL);
    ck_assert_int_eq(ember_job_aggregate_fn(job, "r", "nope", &range_fns, NULL, &err),
                     -EMBER_EUSAGE);
    ck_assert_ptr_nonnull(strstr(err.msg, "unknown field 'nope'"));
    ck_assert_int_eq(ember_job_aggregate_fn(job, "k", "a", &range_fns, NULL, &err), -EMBER_EUSAGE);
    ck_assert_int_eq(ember_job_aggregate_fn(job, "1x", "a", &range_fns, NULL, &err), -EMBER_EUSAGE);
    ck_assert_int_eq(ember_job_aggregate_fn(job, "a-b", "a", &range_fns, NULL, &err),
                     -EMBER_EUSAGE);
    ember_agg_fns big = range_fns;
    big.state_bytes = EMBER_AGG_STATE_MAX + 1;
    ck_assert_int_eq(ember_job_aggregate_fn(job, "r", "a", &big, NULL, &err), -EMBER_EUSAGE);
    ck_assert_int_eq(ember_job_aggregate_fn(job, "r", "a", &range_fns, NULL, &err), 0);
    ck_assert_int_eq(ember_job_aggregate_fn(job, "r", "b", &range_fns, NULL, &err),
                     -EMBER_EUSAGE); /* two columns named r */
    ck_assert_int_eq(job->n_aggs, 1);
    ck_assert_int_eq(job->output.n, 2);
    ember_job_free(job);

    job = ember_job_new("nokey");
    ember_opt src[] = {{"path", "/nonexistent/in.csv"}};
    ck_assert_int_eq(ember_job_source(job, "file", src, 1, &err), 0);
    ck_assert_int_eq(ember_job_aggregate_fn(job, "r", "", &range_fns, NULL, &err), -EMBER_EUSAGE);
    ck_assert_ptr_nonnull(strstr(err.msg, "needs a 'key'"));
    ember_job_free(job);
}
END_TEST

static uint64_t hash_of(const char *name, const char *fields, uint32_t bytes, ember_type t)
{
    ember_err err = {0};
    ember_job *job = keyed_job();
    ember_agg_fns f = range_fns;
    f.state_bytes = bytes;
    f.result_type = t;
    ck_assert_msg(ember_job_aggregate_fn(job, name, fields, &f, NULL, &err) == 0, "%s", err.msg);
    uint64_t h = job_layout_hash(job);
    ember_job_free(job);
    return h;
}

START_TEST(layout_hash_has_name_fields_size_and_type)
{
    uint64_t h = hash_of("r", "a", 12, EMBER_INT);
    ck_assert_uint_eq(hash_of("r", " a ", 12, EMBER_INT), h); /* canonical */
    ck_assert_uint_ne(hash_of("r2", "a", 12, EMBER_INT), h);
    ck_assert_uint_ne(hash_of("r", "a", 16, EMBER_INT), h);
    ck_assert_uint_ne(hash_of("r", "b", 12, EMBER_INT), h);
    ck_assert_uint_ne(hash_of("r", "a", 12, EMBER_FLOAT), h);
}
END_TEST

/* The job's own text (what DIR/JOB keeps) loads back to the same layout,
 * declaring the aggregate without callbacks: readable, not runnable. */
START_TEST(job_text_declares_it_for_the_tools)
{
    ember_err err = {0};
    ember_job *job = keyed_job();
    ck_assert_int_eq(ember_job_window(job, "tumbling 10s", &err), 0);
    ck_assert_int_eq(ember_job_aggregate(job, "count()", &err), 0);
    ck_assert_int_eq(ember_job_aggregate_fn(job, "spread", "a", &range_fns, NULL, &err), 0);
    ck_assert_int_eq(job_finish(job, &err), 0);

    char path[] = "/tmp/ember-test-aggfn-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, job->text, strlen(job->text)), (ssize_t)strlen(job->text));
    close(fd);
    ember_job *loaded = NULL;
    int rc = ember_job_load_file(path, &loaded, &err);
    unlink(path);
    ck_assert_msg(rc == 0, "%s\n%s", err.msg, job->text);
    ck_assert_str_eq(loaded->layout, job->layout);
    ck_assert_uint_eq(job_layout_hash(loaded), job_layout_hash(job));
    ck_assert_int_eq(loaded->acc.n_slots, job->acc.n_slots);
    ck_assert_int_eq(loaded->aggs[1].fn, AGG_USER);
    ck_assert_ptr_null(loaded->aggs[1].user_fns.add);
    ck_assert_int_eq(job_finish(loaded, &err), -EMBER_EUSAGE);
    ck_assert_msg(strstr(err.msg, "aggregate_fn spread is defined in C"), "%s", err.msg);
    ember_job_free(loaded);
    ember_job_free(job);
}
END_TEST

START_TEST(job_file_line_is_checked)
{
    static const char *const bad[] = {
        "aggregate_fn r fields=a type=int\n",             /* state missing */
        "aggregate_fn r fields=a state=0 type=int\n",     /* too small */
        "aggregate_fn r fields=a state=65 type=int\n",    /* too big */
        "aggregate_fn r fields=a state=8 type=text\n",    /* bad type */
        "aggregate_fn r fields=zz state=8 type=int\n",    /* unknown field */
        "aggregate_fn r fields=a state=8 type=int x=1\n", /* unknown option */
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char path[] = "/tmp/ember-test-aggfn-XXXXXX";
        int fd = mkstemp(path);
        char text[512];
        int n = snprintf(text, sizeof text,
                         "job t\nsource file path=/x\nparse csv fields=k,a:int\nkey k\n%s", bad[i]);
        ck_assert_int_eq(write(fd, text, (size_t)n), n);
        close(fd);
        ember_job *job = NULL;
        ember_err err = {0};
        int rc = ember_job_load_file(path, &job, &err);
        unlink(path);
        ck_assert_msg(rc == -EMBER_EUSAGE && strstr(err.msg, ":5:"), "%s: %d %s", bad[i], rc,
                      err.msg);
        ck_assert_ptr_null(job);
    }
}
END_TEST

static Suite *aggregate_fn_suite(void)
{
    Suite *s = suite_create("aggregate_fn");
    TCase *tc = tcase_create("accum");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_test(tc, layout_gives_the_blob_whole_slots);
    tcase_add_test(tc, layout_rejects_bad_declarations);
    tcase_add_test(tc, results_match_brute_force);
    tcase_add_test(tc, merge_of_splits_is_byte_identical);
    tcase_add_test(tc, empty_state_gives_null);
    tcase_add_test(tc, codec_round_trips_the_blob);
    tcase_add_test(tc, declared_only_is_inert);
    suite_add_tcase(s, tc);
    tc = tcase_create("job");
    tcase_add_test(tc, column_follows_call_order);
    tcase_add_test(tc, works_with_windows_and_sessions);
    tcase_add_test(tc, bad_calls_are_refused);
    tcase_add_test(tc, layout_hash_has_name_fields_size_and_type);
    tcase_add_test(tc, job_text_declares_it_for_the_tools);
    tcase_add_test(tc, job_file_line_is_checked);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(aggregate_fn_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
