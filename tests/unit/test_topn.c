/*
 * test_topn: state/topn.c (`top K by COL per G` over records) and the
 * keep=last mode of state/dedupe.c, driven directly on a RocksDB store:
 * each batch is one call, then its WriteBatch is written (the commit). The
 * oracle keeps every row ever seen per group in plain C and sorts them by
 * (value desc, NULL last, older first) to get the K best; what topn emits
 * must be the change from the oracle's previous K best to its new ones.
 */
#include "core/base/io.h"
#include "state/dedupe.h"
#include "state/preagg.h"
#include "state/topn.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOP_CF 1
#define K      3
#define GROUPS 4

static char g_tmp[64];
static store *g_st;

static void setup(void)
{
    static const char *const ops[] = {"top", "dedupe", "dedupe_timers"};
    char db[128];
    ember_err err = {0};
    store_opts o = {0};
    strcpy(g_tmp, "/tmp/ember-test-topn-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(g_tmp));
    snprintf(db, sizeof db, "%s/db", g_tmp);
    ck_assert_msg(store_open(db, ops, 3, &o, &g_st, &err) == 0, "%s", err.msg);
}

static void teardown(void)
{
    ember_err err = {0};
    store_close(g_st);
    ck_assert_int_eq(io_remove_tree(g_tmp, &err), 0);
}

static void commit(store_batch *wb)
{
    ember_err err = {0};
    ck_assert_msg(store_write(g_st, wb, 0, &err) == 0, "%s", err.msg);
}

/* Rows: (group text, price or NULL, id); an id numbers every row ever made. */
typedef struct row {
    ember_value v[3];
    ember_record rec;
} row;

typedef struct emitted {
    int64_t id, rank;
    int sign;
} emitted;

typedef struct sink {
    emitted e[4096];
    int n;
} sink;

static int collect(void *ctx, const ember_record *r, int64_t rank, int sign)
{
    sink *s = ctx;
    ck_assert_int_eq(r->n, 3);
    s->e[s->n++] = (emitted){r->values[2].u.i, rank, sign};
    return 0;
}

/* Oracle order: larger price, NULL last, then the smaller (older) id. */
static int better(const row *a, const row *b)
{
    int an = a->v[1].type == EMBER_NULL, bn = b->v[1].type == EMBER_NULL;
    if (an != bn)
        return bn;
    if (!an && a->v[1].u.i != b->v[1].u.i)
        return a->v[1].u.i > b->v[1].u.i;
    return a->v[2].u.i < b->v[2].u.i;
}

/* The K best ids of group g among all[0..n). */
static int oracle_top(row *all, int n, int g, int64_t *ids)
{
    int m = 0;
    uint8_t used[4096] = {0};
    for (; m < K; m++) {
        int best = -1;
        for (int i = 0; i < n; i++)
            if (!used[i] && all[i].v[0].u.s.ptr[1] - '0' == g &&
                (best < 0 || better(&all[i], &all[best])))
                best = i;
        if (best < 0)
            break;
        used[best] = 1;
        ids[m] = all[best].v[2].u.i;
    }
    return m;
}

static const char *const g_names[GROUPS] = {"g0", "g1", "g2", "g3"};

START_TEST(top_k_per_group_matches_the_oracle)
{
    static row all[4096];
    static sink out;
    int n_all = 0;
    int64_t before[GROUPS][K], after[K];
    int n_before[GROUPS] = {0};
    ember_err err = {0};
    srand(5);
    for (uint64_t batch = 1; batch <= 12; batch++) {
        topn *t = topn_new(g_st, TOP_CF, K, 1, 3); /* reopened each batch: state is in RocksDB */
        ck_assert_ptr_nonnull(t);
        topn_row tr[64];
        int first = n_all, n = 20 + rand() % 40;
        for (int i = 0; i < n; i++) {
            row *r = &all[n_all];
            int g = rand() % GROUPS;
            r->v[0] = (ember_value){.type = EMBER_STRING, .u.s = {g_names[g], 2}};
            r->v[1] = (ember_value){.type = rand() % 8 ? EMBER_INT : EMBER_NULL,
                                    .u.i = rand() % 50}; /* ties are common */
            r->v[2] = (ember_value){.type = EMBER_INT, .u.i = n_all};
            r->rec = (ember_record){3, r->v};
            tr[i] = (topn_row){g_names[g], 2, preagg_hash(g_names[g], 2), &r->rec};
            n_all++;
        }
        store_batch *wb = store_batch_new();
        out.n = 0;
        ck_assert_msg(topn_batch(t, tr, (size_t)n, batch, wb, collect, &out, &err) == 0, "%s",
                      err.msg);
        commit(wb);
        store_batch_free(wb);
        topn_free(t);
        /* expected: groups in order of their first row in the batch */
        int at = 0, seen[GROUPS] = {0};
        for (int i = first; i < n_all; i++) {
            int g = all[i].v[0].u.s.ptr[1] - '0';
            if (seen[g]++)
                continue;
            int m = oracle_top(all, n_all, g, after);
            int same = m == n_before[g] && !memcmp(after, before[g], (size_t)m * sizeof *after);
            for (int j = 0; !same && j < n_before[g]; j++, at++)
                ck_assert(out.e[at].id == before[g][j] && out.e[at].rank == j + 1 &&
                          out.e[at].sign == -1);
            for (int j = 0; !same && j < m; j++, at++)
                ck_assert(out.e[at].id == after[j] && out.e[at].rank == j + 1 &&
                          out.e[at].sign == 1);
            memcpy(before[g], after, sizeof after);
            n_before[g] = m;
        }
        ck_assert_int_eq(out.n, at);
    }
}
END_TEST

START_TEST(top_refuses_a_damaged_value)
{
    ember_err err = {0};
    store_batch *wb = store_batch_new();
    store_batch_put(wb, g_st, TOP_CF, "g0", 2, "\x01\x05\x00junk", 7);
    commit(wb);
    store_batch_free(wb);
    topn *t = topn_new(g_st, TOP_CF, K, 1, 3);
    ember_value v[3] = {{.type = EMBER_STRING, .u.s = {"g0", 2}},
                        {.type = EMBER_INT, .u.i = 1},
                        {.type = EMBER_INT}};
    ember_record rec = {3, v};
    topn_row tr = {"g0", 2, preagg_hash("g0", 2), &rec};
    static sink out;
    wb = store_batch_new();
    ck_assert_int_eq(topn_batch(t, &tr, 1, 1, wb, collect, &out, &err), -EMBER_ECORRUPT);
    ck_assert_ptr_nonnull(strstr(err.msg, "group 'g0'"));
    store_batch_free(wb);
    topn_free(t);
}
END_TEST

/* keep=last: one id per batch passes, its last copy, and the row it
 * replaces (passed in an earlier batch) comes back in prev. */
START_TEST(dedupe_keep_last_returns_the_replaced_row)
{
    ember_err err = {0};
    dedupe *d = dedupe_new(g_st, 2, 3, 100, 1);
    ck_assert_ptr_nonnull(d);
    ember_value vals[6][1];
    const char *ids[6] = {"a", "b", "a", "a", "b", "c"};
    for (int batch = 0; batch < 2; batch++) {
        dedupe_id di[6];
        uint8_t drop[6] = {0};
        for (int i = 0; i < 6; i++) {
            vals[i][0] = (ember_value){.type = EMBER_INT, .u.i = batch * 10 + i};
            di[i] = (dedupe_id){(uint64_t)i, preagg_hash(ids[i], 1), ids[i],
                                1,           {1, vals[i]},           {0, NULL}};
        }
        store_batch *wb = store_batch_new();
        dedupe_begin(d, wb, batch);
        ck_assert_msg(dedupe_decide(d, di, 6, drop, &err) == 0, "%s", err.msg);
        const uint8_t want_drop[6] = {1, 1, 1, 0, 0, 0};
        ck_assert_mem_eq(drop, want_drop, 6);
        /* batch 0 replaces nothing; batch 1 replaces batch 0's last copies */
        const int64_t want_prev[6] = {-1, -1, -1, 3, 4, 5};
        for (int i = 3; i < 6; i++) {
            ck_assert_int_eq(di[i].prev.n, batch ? 1 : 0);
            if (batch)
                ck_assert_int_eq(di[i].prev.values[0].u.i, want_prev[i]);
        }
        ck_assert_msg(dedupe_expire(d, &err) == 0, "%s", err.msg);
        commit(wb);
        store_batch_free(wb);
    }
    dedupe_free(d);
}
END_TEST

static Suite *topn_suite(void)
{
    Suite *s = suite_create("topn");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, top_k_per_group_matches_the_oracle);
    tcase_add_test(tc, top_refuses_a_damaged_value);
    tcase_add_test(tc, dedupe_keep_last_returns_the_replaced_row);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(topn_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
