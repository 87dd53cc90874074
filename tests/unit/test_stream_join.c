/*
 * test_stream_join: state/stream_join.c driven directly, batch by batch,
 * against a brute-force oracle written here from the semantics in
 * state/stream_join.h: every pair of non-late rows (any batches) with equal
 * keys that meets the time condition comes out once, in the batch where
 * the later of the two arrives; an outer row that no row ever pairs with
 * comes out with NULLs in the first batch whose watermark (batch time, for
 * ttl) has passed every row it could still match, a row with a NULL key at
 * once; late rows never. The inputs are random (keys from a small set,
 * event times around a moving "now", watermarks that advance at random and
 * sometimes try to move back) over many batches and end with a drain.
 *
 * A: id:int,k:int,ts:int,s      B: id:int,k:int,ts:int,s,v:float
 * joined on A.k = B.k, so the output is A.id,A.k,A.ts,A.s,B.id,B.k,B.ts,
 * B.s,v [,window_start,window_end].
 */
#include "core/job/stream_join.h"
#include "core/ops/window.h"
#include "state/stream_join.h"

#include <check.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ROWS_CF     1
#define TIMER_CF    2
#define MAX_ROWS    4096
#define MAX_BATCHES 128
#define NOWM        WIN_NO_WATERMARK
#define TEXT_MAX    256

typedef struct trow {
    int side, batch;
    int64_t id, key, ts;
    int key_null, ts_null;
    char s[8];
    double v;
    ember_value vals[5];
    ember_record rec;
} trow;

typedef struct workload {
    int n_batches;
    trow rows[MAX_ROWS];
    int n_rows;
    int first[MAX_BATCHES + 1]; /* rows of batch b: first[b]..first[b+1) */
    int64_t bt[MAX_BATCHES], wm_pass[MAX_BATCHES], wm_after[MAX_BATCHES];
} workload;

/* What the oracle needs to know of the spec (from the tail it parses). */
typedef struct form {
    const char *tail;
    sj_form kind;
    int64_t lo, hi, size, ttl;
} form;

static const form g_forms[] = {
    {"on A.k = B.k within 100ms", SJ_INTERVAL, -100, 100, 0, 0},
    {"on A.k = B.k and B.ts between A.ts + 120ms and A.ts - 30ms", SJ_INTERVAL, -30, 120, 0, 0},
    {"on B.k = A.k window tumbling 200ms", SJ_WINDOW, 0, 0, 200, 0},
    {"on A.k = B.k ttl 350ms", SJ_TTL, 0, 0, 0, 350},
};
static const char *const g_types[] = {"inner", "left", "right", "full"};

static char g_tmp[64];
static workload g_w;
static schema g_sa, g_sb;

/* ------------------------------------------------------------ input */

static void fill_values(trow *r)
{
    ember_value *v = r->vals;
    v[0] = (ember_value){.type = EMBER_INT, .u.i = r->id};
    v[1] = r->key_null ? (ember_value){.type = EMBER_NULL}
                       : (ember_value){.type = EMBER_INT, .u.i = r->key};
    v[2] = r->ts_null ? (ember_value){.type = EMBER_NULL}
                      : (ember_value){.type = EMBER_INT, .u.i = r->ts};
    v[3] = (ember_value){.type = EMBER_STRING, .u.s = {r->s, (uint32_t)strlen(r->s)}};
    v[4] = (ember_value){.type = EMBER_FLOAT, .u.f = r->v};
    r->rec = (ember_record){r->side ? 5 : 4, r->vals};
}

/* A batch's rows: its A rows, then its B rows (the operator's two lists). */
static void gen_batch(workload *w, int b, unsigned *seed, int64_t *max_ts)
{
    int n = rand_r(seed) % 9;
    w->first[b] = w->n_rows;
    for (int side = 0; side < 2; side++)
        for (int i = 0; i < n + (side ? rand_r(seed) % 3 : 0) && w->n_rows < MAX_ROWS; i++) {
            trow *r = &w->rows[w->n_rows];
            *r = (trow){.side = side, .batch = b, .id = w->n_rows, .key = rand_r(seed) % 4};
            r->ts = (int64_t)b * 50 + rand_r(seed) % 210 - 150;
            r->key_null = rand_r(seed) % 25 == 0;
            r->ts_null = rand_r(seed) % 40 == 0;
            snprintf(r->s, sizeof r->s, "%c%d", side ? 'b' : 'a', rand_r(seed) % 100);
            r->v = (rand_r(seed) % 1000) / 8.0;
            fill_values(r);
            if (!r->ts_null && r->ts > *max_ts)
                *max_ts = r->ts;
            w->n_rows++;
        }
}

static void gen_workload(workload *w, int n_batches, unsigned seed)
{
    int64_t max_ts = INT64_MIN, prev = NOWM;
    memset(w, 0, sizeof *w);
    w->n_batches = n_batches;
    for (int b = 0; b < n_batches; b++) {
        gen_batch(w, b, &seed, &max_ts);
        w->bt[b] = 1000 + (int64_t)b * 100;
        int64_t pass = b < 3 || max_ts == INT64_MIN ? NOWM : max_ts - 40;
        if (rand_r(&seed) % 3 == 0 && prev != NOWM)
            pass = prev - (rand_r(&seed) % 2) * 30; /* stays, or tries to move back */
        if (b == n_batches - 1)
            pass = WIN_DRAINED_EVENT_TIME;
        w->wm_pass[b] = pass;
        w->wm_after[b] = pass > prev ? pass : prev;
        prev = w->wm_after[b];
    }
    w->first[n_batches] = w->n_rows;
}

/* ------------------------------------------------------------ text of rows */

static size_t val_text(const ember_value *v, char *out, size_t cap)
{
    switch (v->type) {
    case EMBER_INT:
        return (size_t)snprintf(out, cap, "i%" PRId64 "|", v->u.i);
    case EMBER_FLOAT:
        return (size_t)snprintf(out, cap, "f%a|", v->u.f);
    case EMBER_STRING:
        return (size_t)snprintf(out, cap, "s'%.*s'|", (int)v->u.s.len, v->u.s.ptr);
    default:
        return (size_t)snprintf(out, cap, "n|");
    }
}

static void rec_text(const ember_record *r, char *out)
{
    size_t w = 0;
    for (uint32_t i = 0; i < r->n; i++)
        w += val_text(&r->values[i], out + w, TEXT_MAX - w);
}

/* The expected text, built from the test's own fields, not the operator's. */
static void oracle_text(const form *f, const trow *a, const trow *b, char *out)
{
    size_t w = 0;
    ember_value null = {.type = EMBER_NULL};
    for (int i = 0; i < 4; i++)
        w += val_text(a ? &a->vals[i] : &null, out + w, TEXT_MAX - w);
    for (int i = 0; i < 5; i++)
        w += val_text(b ? &b->vals[i] : &null, out + w, TEXT_MAX - w);
    if (f->kind != SJ_WINDOW)
        return;
    const trow *t = a ? a : b;
    if (t->ts_null) {
        snprintf(out + w, TEXT_MAX - w, "n|n|");
        return;
    }
    int64_t ws =
        t->ts >= 0 ? t->ts / f->size * f->size : -((-t->ts + f->size - 1) / f->size) * f->size;
    snprintf(out + w, TEXT_MAX - w, "i%" PRId64 "|i%" PRId64 "|", ws, ws + f->size);
}

/* ------------------------------------------------------------ the oracle */

typedef struct expected {
    int batch;
    char text[TEXT_MAX];
} expected;

static int64_t wm_before(const workload *w, int b)
{
    return b ? w->wm_after[b - 1] : NOWM;
}

static int64_t window_of(const form *f, int64_t ts)
{
    int64_t q = ts / f->size;
    return (ts % f->size < 0 ? q - 1 : q) * f->size;
}

static int is_late(const workload *w, const form *f, const trow *r)
{
    int64_t wm = wm_before(w, r->batch);
    if (f->kind == SJ_TTL || r->ts_null || wm == NOWM)
        return 0;
    if (f->kind == SJ_WINDOW)
        return window_of(f, r->ts) + f->size <= wm;
    return r->ts < wm;
}

static int usable(const form *f, const trow *r)
{
    return !r->key_null && (f->kind == SJ_TTL || !r->ts_null);
}

static int pairs_with(const workload *w, const form *f, const trow *a, const trow *b)
{
    if (a->key != b->key)
        return 0;
    if (f->kind == SJ_TTL)
        return llabs(w->bt[a->batch] - w->bt[b->batch]) < f->ttl;
    if (f->kind == SJ_WINDOW)
        return window_of(f, a->ts) == window_of(f, b->ts);
    return b->ts - a->ts >= f->lo && b->ts - a->ts <= f->hi;
}

/* The first batch at whose end r can match no later row. */
static int death_batch(const workload *w, const form *f, const trow *r)
{
    for (int k = r->batch; k < w->n_batches; k++) {
        int64_t wm = w->wm_after[k];
        if (wm == WIN_DRAINED_EVENT_TIME)
            return k;
        if (f->kind == SJ_TTL && w->bt[k] >= w->bt[r->batch] + f->ttl)
            return k;
        if (f->kind == SJ_WINDOW && wm != NOWM && wm >= window_of(f, r->ts) + f->size)
            return k;
        if (f->kind == SJ_INTERVAL && wm != NOWM &&
            wm > (r->side == 0 ? r->ts + f->hi : r->ts - f->lo))
            return k;
    }
    ck_abort_msg("row %" PRId64 " never expires (the workload ends with a drain)", r->id);
    return -1;
}

/* The expected rows (*n_alone of them with NULLs for a side). */
static int oracle(const workload *w, const form *f, int type, expected *out, int cap, int *n_alone)
{
    int n = 0;
    *n_alone = 0;
    for (int i = 0; i < w->n_rows; i++) {
        const trow *r = &w->rows[i];
        if (is_late(w, f, r))
            continue;
        int partner = 0;
        for (int j = 0; j < w->n_rows; j++) {
            const trow *o = &w->rows[j];
            if (o->side == r->side || is_late(w, f, o) || !usable(f, o) || !usable(f, r))
                continue;
            const trow *a = r->side ? o : r, *b = r->side ? r : o;
            if (!pairs_with(w, f, a, b))
                continue;
            partner = 1;
            if (r->side == 0) { /* each pair once */
                ck_assert_int_lt(n, cap);
                out[n].batch = a->batch > b->batch ? a->batch : b->batch;
                oracle_text(f, a, b, out[n++].text);
            }
        }
        if (partner || !(type & (r->side ? SJ_RIGHT : SJ_LEFT)))
            continue;
        ck_assert_int_lt(n, cap);
        out[n].batch = usable(f, r) ? death_batch(w, f, r) : r->batch;
        (*n_alone)++;
        oracle_text(f, r->side ? NULL : r, r->side ? r : NULL, out[n++].text);
    }
    return n;
}

/* ------------------------------------------------------------ running it */

typedef struct runner {
    store *st;
    stream_join *j;
    stream_join_spec spec;
    char (*got)[TEXT_MAX]; /* every output row of the run, in order */
    int n_got, cap_got;
    int n_alone; /* the oracle's rows with NULLs for a side */
} runner;

static void parse_spec(const char *tail, stream_join_spec *spec)
{
    ember_err err = {0};
    ck_assert_int_eq(schema_parse(&g_sa, "id:int,k:int,ts:int,s", &err), 0);
    ck_assert_int_eq(schema_parse(&g_sb, "id:int,k:int,ts:int,s,v:float", &err), 0);
    sj_input a = {"A", &g_sa, 2}, b = {"B", &g_sb, 2};
    ck_assert_msg(stream_join_parse(tail, &a, &b, spec, &err) == 0, "%s: %s", tail, err.msg);
}

static void open_runner(runner *r, const char *db)
{
    static const char *const ops[] = {"join_rows", "join_timers"};
    ember_err err = {0};
    store_opts o = {0};
    ck_assert_msg(store_open(db, ops, 2, &o, &r->st, &err) == 0, "%s", err.msg);
    r->j = stream_join_new(&r->spec, r->st, ROWS_CF, TIMER_CF);
    ck_assert_ptr_nonnull(r->j);
}

static void close_runner(runner *r)
{
    stream_join_free(r->j);
    store_close(r->st);
    r->j = NULL;
    r->st = NULL;
}

/* Runs batch b into a new WriteBatch; the rows' text into out. */
static store_batch *run_batch(runner *r, const workload *w, int b, char (*out)[TEXT_MAX],
                              int *n_out)
{
    ember_err err = {0};
    const trow *rows = &w->rows[w->first[b]];
    int n = w->first[b + 1] - w->first[b], nl = 0;
    while (nl < n && rows[nl].side == 0)
        nl++;
    ember_record left[MAX_ROWS / 4], right[MAX_ROWS / 4];
    for (int i = 0; i < n; i++)
        *(i < nl ? &left[i] : &right[i - nl]) = rows[i].rec;
    store_batch *wb = store_batch_new();
    ck_assert_ptr_nonnull(wb);
    int rc = stream_join_batch(r->j, left, (size_t)nl, right, (size_t)(n - nl), w->bt[b],
                               w->wm_pass[b], wb, &err);
    ck_assert_msg(rc == 0, "batch %d: %s", b, err.msg);
    *n_out = (int)stream_join_rows(r->j);
    for (int i = 0; i < *n_out; i++) {
        ember_record rec;
        stream_join_row(r->j, (size_t)i, &rec);
        ck_assert_int_eq(rec.n, r->spec.out.n);
        rec_text(&rec, out[i]);
    }
    return wb;
}

static int cmp_text(const void *a, const void *b)
{
    return strcmp(a, b);
}

/* The batch's rows against the oracle's, as sorted lists. */
static void check_batch(const form *f, const expected *exp, int n_exp, int b, char (*got)[TEXT_MAX],
                        int n_got, const char *what)
{
    static char want[MAX_ROWS * 4][TEXT_MAX], have[MAX_ROWS * 4][TEXT_MAX];
    int nw = 0;
    for (int i = 0; i < n_exp; i++)
        if (exp[i].batch == b)
            memcpy(want[nw++], exp[i].text, TEXT_MAX);
    memcpy(have, got, (size_t)n_got * TEXT_MAX);
    qsort(want, (size_t)nw, TEXT_MAX, cmp_text);
    qsort(have, (size_t)n_got, TEXT_MAX, cmp_text);
    for (int i = 0; i < nw && i < n_got; i++)
        ck_assert_msg(!strcmp(want[i], have[i]), "%s [%s] batch %d row %d: want %s got %s", what,
                      f->tail, b, i, want[i], have[i]);
    ck_assert_msg(nw == n_got, "%s [%s] batch %d: %d rows, the oracle says %d", what, f->tail, b,
                  n_got, nw);
}

/* Rows and timers the state holds, besides the operator's META key. */
static int state_entries(store *st)
{
    int n = 0;
    for (int cf = ROWS_CF; cf <= TIMER_CF; cf++) {
        store_iter *it = store_iter_new(st, cf, NULL, 0);
        ck_assert_ptr_nonnull(it);
        for (; store_iter_valid(it); store_iter_next(it)) {
            size_t kl;
            const char *k = store_iter_key(it, &kl);
            n += !(cf == ROWS_CF && kl == 1 && k[0] == 0);
        }
        store_iter_free(it);
    }
    return n;
}

static int usable_in_batch(const workload *w, const form *f, int b)
{
    int n = 0;
    for (int i = w->first[b]; i < w->first[b + 1]; i++)
        n += usable(f, &w->rows[i]) && !is_late(w, f, &w->rows[i]);
    return n;
}

/* Runs every batch: replay=1 drops the WriteBatch of some batches and runs
 * them again (the rows must be byte-identical), reopen=1 closes and reopens
 * the store (and the operator) between some batches. Every batch against
 * the oracle; the state is empty after the drain. */
static void run_all(const workload *w, const form *f, int type, int replay, int reopen,
                    unsigned seed, runner *r)
{
    static expected exp[MAX_ROWS * 8];
    static char rows[MAX_ROWS * 4][TEXT_MAX], again[MAX_ROWS * 4][TEXT_MAX];
    char tail[160], db[128];
    int n_exp = oracle(w, f, type, exp, MAX_ROWS * 8, &r->n_alone);
    snprintf(tail, sizeof tail, "%s type=%s", f->tail, g_types[type]);
    snprintf(db, sizeof db, "%s/db-%d-%d-%u", g_tmp, replay, reopen, seed);
    parse_spec(tail, &r->spec);
    open_runner(r, db);
    r->n_got = 0;
    for (int b = 0; b < w->n_batches; b++) {
        int n = 0, n2 = 0;
        ember_err err = {0};
        if (reopen && rand_r(&seed) % 5 == 0) {
            close_runner(r);
            open_runner(r, db);
        }
        store_batch *wb = run_batch(r, w, b, rows, &n);
        if (replay && rand_r(&seed) % 3 == 0) {
            store_batch_free(wb); /* the commit failed */
            stream_join_drop_cache(r->j);
            wb = run_batch(r, w, b, again, &n2);
            ck_assert_int_eq(n2, n);
            for (int i = 0; i < n; i++)
                ck_assert_msg(!strcmp(rows[i], again[i]),
                              "[%s] batch %d replayed: row %d %s, "
                              "first run %s",
                              tail, b, i, again[i], rows[i]);
        }
        stream_join_stats st;
        stream_join_get_stats(r->j, &st, NULL);
        uint64_t bound = (uint64_t)usable_in_batch(w, f, b) + st.pairs + 1 + 2 * st.expired;
        ck_assert_msg(st.reads <= bound, "[%s] batch %d: %" PRIu64 " reads, more than %" PRIu64,
                      tail, b, st.reads, bound);
        ck_assert_msg(store_write(r->st, wb, 0, &err) == 0, "%s", err.msg);
        store_batch_free(wb);
        check_batch(f, exp, n_exp, b, rows, n, tail);
        for (int i = 0; i < n && r->n_got < r->cap_got; i++)
            memcpy(r->got[r->n_got++], rows[i], TEXT_MAX);
    }
    ck_assert_msg(state_entries(r->st) == 0, "[%s] %d rows or timers left after the drain", tail,
                  state_entries(r->st));
    close_runner(r);
}

/* ------------------------------------------------------------ cases */

static void setup(void)
{
    strcpy(g_tmp, "/tmp/ember-test-sjoin-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(g_tmp));
}

static void teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", g_tmp);
    ck_assert_int_eq(system(cmd), 0);
}

static runner *runner_new(void)
{
    runner *r = calloc(1, sizeof *r);
    ck_assert_ptr_nonnull(r);
    r->cap_got = MAX_ROWS * 8;
    r->got = calloc((size_t)r->cap_got, TEXT_MAX);
    ck_assert_ptr_nonnull(r->got);
    return r;
}

static void runner_free(runner *r)
{
    free(r->got);
    free(r);
}

/* Every form and type over random batches, three workloads each. */
START_TEST(every_form_and_type_matches_the_oracle)
{
    runner *r = runner_new();
    const form *f = &g_forms[_i / 4];
    uint64_t pairs = 0, unmatched = 0, late = 0;
    for (unsigned seed = 1; seed <= 3; seed++) {
        gen_workload(&g_w, 70, seed * 7919 + (unsigned)_i);
        run_all(&g_w, f, _i % 4, 0, 0, seed, r);
        pairs += (uint64_t)(r->n_got - r->n_alone);
        unmatched += (uint64_t)r->n_alone;
        for (int i = 0; i < g_w.n_rows; i++)
            late += is_late(&g_w, f, &g_w.rows[i]);
    }
    /* The workloads exercise what they claim to: pairs, lates, outer rows. */
    ck_assert_uint_gt(pairs, 50);
    if (f->kind != SJ_TTL)
        ck_assert_uint_gt(late, 5);
    if (_i % 4)
        ck_assert_uint_gt(unmatched, 5);
    runner_free(r);
}
END_TEST

/* A batch whose commit failed runs again on the same committed state and
 * gives the same rows in the same order (run_all checks each one); the
 * whole run gives exactly what a run without failures gives. */
START_TEST(a_dropped_batch_runs_again_byte_identical)
{
    runner *plain = runner_new(), *failing = runner_new();
    const form *f = &g_forms[_i];
    gen_workload(&g_w, 60, 4242 + (unsigned)_i);
    run_all(&g_w, f, SJ_FULL, 0, 0, 1, plain);
    run_all(&g_w, f, SJ_FULL, 1, 0, 2, failing);
    ck_assert_int_eq(plain->n_got, failing->n_got);
    for (int i = 0; i < plain->n_got; i++)
        ck_assert_str_eq(plain->got[i], failing->got[i]);
    runner_free(plain);
    runner_free(failing);
}
END_TEST

START_TEST(reopening_the_store_midway_changes_nothing)
{
    runner *plain = runner_new(), *reopened = runner_new();
    const form *f = &g_forms[_i];
    gen_workload(&g_w, 60, 777 + (unsigned)_i);
    run_all(&g_w, f, SJ_FULL, 0, 0, 1, plain);
    run_all(&g_w, f, SJ_FULL, 1, 1, 3, reopened);
    ck_assert_int_eq(plain->n_got, reopened->n_got);
    for (int i = 0; i < plain->n_got; i++)
        ck_assert_str_eq(plain->got[i], reopened->got[i]);
    runner_free(plain);
    runner_free(reopened);
}
END_TEST

/* run_all asserts the state is empty after the drain; this one checks
 * that there was state to drain and every stored row left by its timer. */
START_TEST(the_drain_leaves_no_rows_or_timers)
{
    runner *r = runner_new();
    const form *f = &g_forms[_i];
    char db[128];
    gen_workload(&g_w, 40, 99 + (unsigned)_i);
    parse_spec(f->tail, &r->spec);
    snprintf(db, sizeof db, "%s/drain", g_tmp);
    open_runner(r, db);
    static char rows[MAX_ROWS * 4][TEXT_MAX];
    for (int b = 0; b < g_w.n_batches; b++) {
        int n;
        ember_err err = {0};
        if (b == g_w.n_batches - 1)
            ck_assert_int_gt(state_entries(r->st), 0);
        store_batch *wb = run_batch(r, &g_w, b, rows, &n);
        ck_assert_msg(store_write(r->st, wb, 0, &err) == 0, "%s", err.msg);
        store_batch_free(wb);
    }
    stream_join_stats total;
    stream_join_get_stats(r->j, NULL, &total);
    ck_assert_uint_gt(total.stored, 0);
    ck_assert_uint_eq(total.expired, total.stored);
    ck_assert_int_eq(state_entries(r->st), 0);
    close_runner(r);
    runner_free(r);
}
END_TEST

static ember_record make_row(ember_value *v, int64_t id, int64_t k, int64_t ts, int width)
{
    v[0] = (ember_value){.type = EMBER_INT, .u.i = id};
    v[1] = (ember_value){.type = EMBER_INT, .u.i = k};
    v[2] = (ember_value){.type = EMBER_INT, .u.i = ts};
    v[3] = (ember_value){.type = EMBER_STRING, .u.s = {"x", 1}};
    v[4] = (ember_value){.type = EMBER_FLOAT, .u.f = 0.5};
    return (ember_record){(uint32_t)width, v};
}

static void commit(runner *r, const ember_record *l, size_t nl, const ember_record *rt, size_t nr,
                   int64_t bt, int64_t wm)
{
    ember_err err = {0};
    store_batch *wb = store_batch_new();
    ck_assert_ptr_nonnull(wb);
    ck_assert_msg(stream_join_batch(r->j, l, nl, rt, nr, bt, wm, wb, &err) == 0, "%s", err.msg);
    ck_assert_msg(store_write(r->st, wb, 0, &err) == 0, "%s", err.msg);
    store_batch_free(wb);
}

/* 5000 stored rows; a batch of 3 probes and 9 due timers reads about 3 +
 * 2 matches + 9 timers + 7 unmatched rows: a scan of the state would read
 * 5000. */
START_TEST(reads_do_not_grow_with_the_state)
{
    enum { N = 5000, PER = 500 };
    runner *r = runner_new();
    char db[128];
    snprintf(db, sizeof db, "%s/big", g_tmp);
    parse_spec("on A.k = B.k within 1ms type=left", &r->spec);
    open_runner(r, db);
    static ember_value vals[PER][5];
    static ember_record left[PER];
    for (int b = 0; b < N / PER; b++) {
        for (int i = 0; i < PER; i++)
            left[i] = make_row(vals[i], b * PER + i, b * PER + i, b * PER + i, 4);
        commit(r, left, PER, NULL, 0, 1000 + b, NOWM);
    }
    ck_assert_int_eq(state_entries(r->st), 2 * N);
    ember_value rv[3][5];
    ember_record right[3] = {make_row(rv[0], 1, 7, 7, 5), make_row(rv[1], 2, 8, 8, 5),
                             make_row(rv[2], 3, 100000, 100000, 5)};
    commit(r, NULL, 0, right, 3, 2000, 10); /* A rows with ts + 1 < 10 expire: 0..8 */
    stream_join_stats st;
    stream_join_get_stats(r->j, &st, NULL);
    ck_assert_uint_eq(st.pairs, 2);
    ck_assert_uint_eq(st.unmatched, 7); /* 0..6: 7 and 8 matched in this batch */
    ck_assert_uint_eq(st.expired, 9);
    ck_assert_uint_le(st.reads, 3 + 2 + 1 + 9 + 7);
    ck_assert_int_eq(state_entries(r->st), 2 * (N - 9 + 1));
    close_runner(r);
    runner_free(r);
}
END_TEST

/* Two keys of two types (int and string), the equality written either way. */
START_TEST(a_two_field_key_matches_on_both)
{
    runner *r = runner_new();
    ember_err err = {0};
    char db[128];
    snprintf(db, sizeof db, "%s/two", g_tmp);
    ck_assert_int_eq(schema_parse(&g_sa, "id:int,k:int,ts:int,s", &err), 0);
    ck_assert_int_eq(schema_parse(&g_sb, "id:int,k:int,ts:int,s,v:float", &err), 0);
    sj_input a = {"A", &g_sa, 2}, b = {"B", &g_sb, 2};
    ck_assert_int_eq(
        stream_join_parse("on B.k = A.k and A.s = B.s within 1s", &a, &b, &r->spec, &err), 0);
    open_runner(r, db);
    ember_value av[2][5], bv[2][5];
    ember_record left[2] = {make_row(av[0], 1, 5, 100, 4), make_row(av[1], 2, 5, 100, 4)};
    ember_record right[2] = {make_row(bv[0], 3, 5, 200, 5), make_row(bv[1], 4, 6, 200, 5)};
    av[1][3].u.s = (ember_str){"y", 1};
    commit(r, left, 2, NULL, 0, 1000, NOWM);
    commit(r, NULL, 0, right, 2, 1100, NOWM);
    ck_assert_uint_eq(stream_join_rows(r->j), 1); /* A.id 1 with B.id 3 only */
    ember_record out;
    stream_join_row(r->j, 0, &out);
    ck_assert_int_eq(out.values[0].u.i, 1);
    ck_assert_int_eq(out.values[4].u.i, 3);
    close_runner(r);
    runner_free(r);
}
END_TEST

/* A late row is counted and dropped, even on an outer side; a row with a
 * NULL key, or an event time past 2^62, comes out with NULLs at once on an
 * outer side. */
START_TEST(late_rows_are_counted_and_dropped)
{
    runner *r = runner_new();
    char db[128];
    snprintf(db, sizeof db, "%s/late", g_tmp);
    parse_spec("on A.k = B.k within 10ms type=full", &r->spec);
    open_runner(r, db);
    ember_value v[4][5];
    ember_record first = make_row(v[0], 1, 1, 500, 4);
    commit(r, &first, 1, NULL, 0, 1000, 400);
    ember_record late = make_row(v[1], 2, 1, 399, 4), nokey = make_row(v[2], 3, 1, 450, 4);
    ember_record endless = make_row(v[3], 4, 1, INT64_MAX, 4); /* beyond 2^62: no time */
    v[2][1] = (ember_value){.type = EMBER_NULL};
    ember_record rows[3] = {late, nokey, endless};
    commit(r, rows, 3, NULL, 0, 1100, 400);
    stream_join_stats st;
    stream_join_get_stats(r->j, &st, NULL);
    ck_assert_uint_eq(st.late, 1);
    ck_assert_uint_eq(st.unmatchable, 2);
    ck_assert_uint_eq(st.stored, 0);
    ck_assert_uint_eq(stream_join_rows(r->j), 2);
    for (size_t i = 0; i < 2; i++) {
        ember_record out;
        stream_join_row(r->j, i, &out);
        ck_assert_int_eq(out.values[0].u.i, 3 + (int64_t)i);
        ck_assert_int_eq(out.values[4].type, EMBER_NULL);
    }
    close_runner(r);
    runner_free(r);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("stream_join");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 600);
    tcase_add_loop_test(tc, every_form_and_type_matches_the_oracle, 0, 16);
    tcase_add_loop_test(tc, a_dropped_batch_runs_again_byte_identical, 0, 4);
    tcase_add_loop_test(tc, reopening_the_store_midway_changes_nothing, 0, 4);
    tcase_add_loop_test(tc, the_drain_leaves_no_rows_or_timers, 0, 4);
    tcase_add_test(tc, reads_do_not_grow_with_the_state);
    tcase_add_test(tc, a_two_field_key_matches_on_both);
    tcase_add_test(tc, late_rows_are_counted_and_dropped);
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
