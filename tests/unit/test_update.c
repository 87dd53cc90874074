/*
 * test_update: state/update.c (step 4 of the batch cycle) driven through its
 * public functions over a real store in a mkdtemp directory: plain keyed
 * state, tumbling, sliding and session windows (emit=final and
 * emit=update), processing-time windows and TTL. Every expected row, state
 * entry and timer below was worked out by hand from the semantics in
 * core/ops/window.h and include/ember.h; the comments above each batch show
 * the arithmetic.
 *
 * state_update_batch takes the batch's pre-aggregated shards (update_input).
 * They still come from the real transform run over CSV lines, as in the
 * engine's cycle: the workers fill the hidden aggregates too (a session's
 * first and last event time, a TTL key's last update), which a test building
 * preagg maps by hand would have to re-derive from accum's slot layout. So a
 * batch is: transform_set_clock (batch time, watermark), transform_batch,
 * state_update_batch over its shards, then the WriteBatch is written (the
 * commit).
 *
 * Each scenario runs three ways (one TCase each): a large cache and one
 * worker; no cache (every previous value from RocksDB) and three workers
 * (the keys arrive in three shards); and the store and state_update closed
 * and reopened after every batch (the committed watermark and timers must be
 * enough to go on), two workers.
 */
#include "core/base/io.h"
#include "core/engine/transform.h"
#include "state/update.h"

#include <check.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OP_CF    1
#define TIMER_CF 2

static char g_tmp[64];
static size_t g_cache_bytes;
static int g_threads;
static int g_reopen; /* close and reopen everything after each batch */

static ember_job *g_job;
static store *g_st;
static state_update *g_u;
static transform *g_tf;
static uint64_t g_late;      /* late records of the last batch */
static update_stats g_stats; /* its state_update stats (kept across a reopen) */

/* ------------------------------------------------------------ harness */

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    ck_assert_int_eq(fclose(f), 0);
}

static void open_state(void)
{
    static const char *const ops[] = {"aggregate", "timers"};
    int with_timers = g_job->window.kind != WIN_NONE || g_job->ttl_ms;
    char db[128];
    ember_err err = {0};
    store_opts o = {0};
    snprintf(db, sizeof db, "%s/db", g_tmp);
    ck_assert_msg(store_open(db, ops, with_timers ? 2 : 1, &o, &g_st, &err) == 0, "%s", err.msg);
    g_u = state_update_new(g_job, g_st, OP_CF, with_timers ? TIMER_CF : -1, g_cache_bytes);
    ck_assert_ptr_nonnull(g_u);
    ck_assert_msg(state_update_load(g_u, &err) == 0, "%s", err.msg);
    g_tf = transform_new(g_job, g_threads);
    ck_assert_ptr_nonnull(g_tf);
}

static void close_state(void)
{
    transform_free(g_tf);
    state_update_free(g_u);
    store_close(g_st);
    g_tf = NULL;
    g_u = NULL;
    g_st = NULL;
}

/* Starts a job with fields k, t:int, v:int, key k, `step` (a ttl or window
 * line, or "") and count() sum(v). */
static void start(const char *step)
{
    char text[1024], path[128];
    ember_err err = {0};
    snprintf(text, sizeof text,
             "job        update\n"
             "source     stdin\n"
             "parse      csv fields=k,t:int,v:int\n"
             "key        k\n"
             "%s\n"
             "aggregate  count() sum(v)\n"
             "sink       stdout\n",
             step);
    snprintf(path, sizeof path, "%s/u.job", g_tmp);
    write_text(path, text);
    ck_assert_msg(ember_job_load_file(path, &g_job, &err) == 0, "%s", err.msg);
    open_state();
}

static void setup(void)
{
    strcpy(g_tmp, "/tmp/ember-test-update-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(g_tmp));
    g_job = NULL;
}

static void setup_cached(void)
{
    setup();
    g_cache_bytes = 64u << 20;
    g_threads = 1;
    g_reopen = 0;
}

static void setup_uncached(void)
{
    setup();
    g_cache_bytes = 0;
    g_threads = 3;
    g_reopen = 0;
}

static void setup_reopened(void)
{
    setup();
    g_cache_bytes = 64u << 20;
    g_threads = 2;
    g_reopen = 1;
}

static void teardown(void)
{
    ember_err err = {0};
    if (g_st)
        close_state();
    ember_job_free(g_job);
    ck_assert_int_eq(io_remove_tree(g_tmp, &err), 0);
}

static void append_value(char *out, size_t cap, const ember_value *v)
{
    size_t n = strlen(out);
    switch (v->type) {
    case EMBER_STRING:
        snprintf(out + n, cap - n, "%.*s", (int)v->u.s.len, v->u.s.ptr);
        break;
    case EMBER_INT:
    case EMBER_BOOL:
        snprintf(out + n, cap - n, "%" PRId64, v->u.i);
        break;
    case EMBER_FLOAT:
        snprintf(out + n, cap - n, "%g", v->u.f);
        break;
    case EMBER_NULL:
        snprintf(out + n, cap - n, "NULL");
        break;
    }
}

/* Output rows as "k|start|end|count|sum\n" lines, in the order given. */
static void render_rows(char *out, size_t cap)
{
    out[0] = '\0';
    for (size_t i = 0; i < state_update_rows(g_u); i++) {
        ember_record row;
        state_update_row(g_u, i, &row);
        for (uint32_t c = 0; c < row.n; c++) {
            if (c)
                snprintf(out + strlen(out), cap - strlen(out), "|");
            append_value(out, cap, &row.values[c]);
        }
        snprintf(out + strlen(out), cap - strlen(out), "\n");
    }
}

/* Runs the transform over CSV lines at batch_time (late records counted in
 * g_late). `in` is the caller's: the shards point into it until freed. */
static void transform_lines(int64_t batch_time, const char *lines, batch_lines *in)
{
    ember_err err = {0};
    uint64_t bad = 0;
    transform_stats ts;
    for (const char *p = lines; *p;) {
        const char *nl = strchr(p, '\n');
        ck_assert_ptr_nonnull(nl);
        ck_assert_int_eq(lines_push(in, p, (size_t)(nl - p)), 0);
        p = nl + 1;
    }
    transform_set_clock(g_tf, batch_time, state_update_watermark(g_u));
    ck_assert_msg(transform_batch(g_tf, in, &bad, &err) == 0, "%s", err.msg);
    transform_get_stats(g_tf, &ts);
    g_late = ts.late_records;
}

/* The state step over the transform's shards, as the engine's cycle calls
 * it; drain = the drain batch (every watermark moves to the end). */
static int update_step(int64_t batch_time, int drain, store_batch *wb, ember_err *err)
{
    preagg *shards[8];
    transform_stats ts;
    int n = transform_shards(g_tf);
    ck_assert_int_le(n, 8);
    for (int s = 0; s < n; s++)
        shards[s] = transform_shard(g_tf, s);
    transform_get_stats(g_tf, &ts);
    update_input in = {shards, n, batch_time, drain ? WIN_DRAINED_EVENT_TIME : ts.max_event_time};
    return state_update_batch(g_u, &in, wb, err);
}

/* Runs one batch and commits it; its rows are readable until the next. */
static void run_batch_as(int64_t batch_time, const char *lines, int drain)
{
    ember_err err = {0};
    batch_lines in = {0};
    transform_lines(batch_time, lines, &in);
    store_batch *wb = store_batch_new();
    ck_assert_ptr_nonnull(wb);
    ck_assert_msg(update_step(batch_time, drain, wb, &err) == 0, "%s", err.msg);
    state_update_get_stats(g_u, &g_stats);
    ck_assert_msg(store_write(g_st, wb, 1, &err) == 0, "%s", err.msg);
    store_batch_free(wb);
    lines_free(&in);
}

static void run_batch(int64_t batch_time, const char *lines)
{
    run_batch_as(batch_time, lines, 0);
}

static void maybe_reopen(void)
{
    if (g_reopen) {
        close_state();
        open_state();
    }
}

static void check_rows(int64_t batch_time, const char *want_rows)
{
    char got[4096];
    render_rows(got, sizeof got);
    ck_assert_msg(strcmp(got, want_rows) == 0, "batch at %" PRId64 ": rows\n%s\nexpected\n%s",
                  batch_time, got, want_rows);
    maybe_reopen();
}

/* One batch whose rows must be `want_rows`. */
static void batch(int64_t batch_time, const char *lines, const char *want_rows)
{
    run_batch(batch_time, lines);
    check_rows(batch_time, want_rows);
}

/* The drain batch (end of bounded input): no records, every open window
 * and session fires. */
static void drain(int64_t batch_time, const char *want_rows)
{
    run_batch_as(batch_time, "", 1);
    check_rows(batch_time, want_rows);
}

/* The documented time suffix: big-endian with the sign bit flipped. */
static int64_t get_time(const char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | (uint8_t)p[i];
    return (int64_t)(v ^ (1ull << 63));
}

static void render_value(const char *v, size_t n, char *out, size_t cap)
{
    ember_err err = {0};
    acc_slot slots[64];
    ck_assert_int_le(g_job->acc.n_slots, 64);
    ck_assert_msg(acc_decode(&g_job->acc, v, n, slots, &err) == 0, "%s", err.msg);
    for (int a = 0; a < g_job->n_aggs; a++) {
        ember_value val;
        acc_result(&g_job->acc, slots, a, &val, NULL);
        if (a)
            snprintf(out + strlen(out), cap - strlen(out), ",");
        append_value(out, cap, &val);
    }
}

/* The operator's state as "key=count,sum\n" lines, windowed keys as
 * "key@start=count,sum" (pane or session start), in store order. */
static void assert_state(const char *want)
{
    char got[4096] = "";
    ember_err err = {0};
    int windowed = g_job->window.kind != WIN_NONE;
    store_iter *it = store_iter_new(g_st, OP_CF, NULL, 0);
    ck_assert_ptr_nonnull(it);
    for (; store_iter_valid(it); store_iter_next(it)) {
        size_t kn, vn;
        const char *k = store_iter_key(it, &kn);
        const char *v = store_iter_value(it, &vn);
        size_t len = strlen(got);
        if (windowed) {
            ck_assert_uint_gt(kn, 8);
            snprintf(got + len, sizeof got - len, "%.*s@%" PRId64 "=", (int)(kn - 8), k,
                     get_time(k + kn - 8));
        } else {
            snprintf(got + len, sizeof got - len, "%.*s=", (int)kn, k);
        }
        render_value(v, vn, got, sizeof got);
        snprintf(got + strlen(got), sizeof got - strlen(got), "\n");
    }
    store_iter_free(it);
    ck_assert_int_eq(store_read_status(g_st, &err), 0);
    ck_assert_msg(strcmp(got, want) == 0, "state\n%s\nexpected\n%s", got, want);
}

/* The timers CF as lines: "time|key" (pane index: pane start | user key;
 * TTL: expiry | key) or, with session=1, "end|user key|start". */
static void assert_timers(int session, const char *want)
{
    char got[4096] = "";
    store_iter *it = store_iter_new(g_st, TIMER_CF, NULL, 0);
    ck_assert_ptr_nonnull(it);
    for (; store_iter_valid(it); store_iter_next(it)) {
        size_t kn, len = strlen(got);
        const char *k = store_iter_key(it, &kn);
        ck_assert_uint_ge(kn, session ? 16 : 8);
        if (session)
            snprintf(got + len, sizeof got - len, "%" PRId64 "|%.*s|%" PRId64 "\n", get_time(k),
                     (int)(kn - 16), k + 8, get_time(k + kn - 8));
        else
            snprintf(got + len, sizeof got - len, "%" PRId64 "|%.*s\n", get_time(k), (int)(kn - 8),
                     k + 8);
    }
    store_iter_free(it);
    ck_assert_msg(strcmp(got, want) == 0, "timers\n%s\nexpected\n%s", got, want);
}

static update_stats stats(void)
{
    return g_stats;
}

/* ------------------------------------------------------------ no window */

START_TEST(keyed_counts_and_sums_accumulate_across_batches)
{
    start("");
    /* a: 1+3, b: 2, ab sorts between a and b (byte order, shorter first) */
    batch(100, "a,0,1\nb,0,2\na,0,3\nab,0,7\n", "a|2|4\nab|1|7\nb|1|2\n");
    ck_assert_uint_eq(stats().new_keys, 3);
    ck_assert_uint_eq(stats().keys_changed, 3);
    assert_state("a=2,4\nab=1,7\nb=1,2\n");
    /* only the keys of this batch are rows; b continues from 1,2 */
    batch(200, "b,0,10\nc,0,5\n", "b|2|12\nc|1|5\n");
    ck_assert_uint_eq(stats().new_keys, 1);
    ck_assert_uint_eq(stats().deleted_keys, 0);
    assert_state("a=2,4\nab=1,7\nb=2,12\nc=1,5\n");
    /* an empty batch changes nothing and emits nothing */
    batch(300, "", "");
    assert_state("a=2,4\nab=1,7\nb=2,12\nc=1,5\n");
}
END_TEST

/* Row i of the last batch must be key k<i>, count, sum. */
static void assert_row(size_t i, int key, int64_t count, int64_t sum)
{
    ember_record row;
    char want[16];
    state_update_row(g_u, i, &row);
    snprintf(want, sizeof want, "k%04d", key);
    ck_assert_uint_eq(row.n, 3);
    ck_assert_int_eq(row.values[0].type, EMBER_STRING);
    ck_assert_uint_eq(row.values[0].u.s.len, strlen(want));
    ck_assert_mem_eq(row.values[0].u.s.ptr, want, strlen(want));
    ck_assert_int_eq(row.values[1].u.i, count);
    ck_assert_int_eq(row.values[2].u.i, sum);
}

/* 3000 keys: more than one MultiGet chunk (1024) of previous values. */
START_TEST(many_keys_fold_through_the_multiget_chunks)
{
    enum { KEYS = 3000 };
    static char lines[KEYS * 2 * 16];
    size_t n = 0;
    start("");
    for (int r = 0; r < 2; r++) /* each key twice per batch, v = its number */
        for (int i = KEYS - 1; i >= 0; i--)
            n += (size_t)snprintf(lines + n, sizeof lines - n, "k%04d,0,%d\n", i, i);
    run_batch(1, lines);
    ck_assert_uint_eq(state_update_rows(g_u), KEYS);
    ck_assert_uint_eq(stats().new_keys, KEYS);
    for (int i = 0; i < KEYS; i++) /* sorted by key */
        assert_row((size_t)i, i, 2, 2 * i);
    maybe_reopen();
    run_batch(2, lines);
    ck_assert_uint_eq(state_update_rows(g_u), KEYS);
    ck_assert_uint_eq(stats().new_keys, 0);
    for (int i = 0; i < KEYS; i++)
        assert_row((size_t)i, i, 4, 4 * i);
}
END_TEST

/* ------------------------------------------------------------ tumbling */

START_TEST(tumbling_windows_fire_when_the_watermark_passes_their_end)
{
    start("window     tumbling 10ms on t watermark 2ms");
    /* max t 8, watermark 6: window [0,10) ends at 10 > 6, nothing fires */
    batch(1, "a,1,1\na,5,2\nb,8,4\n", "");
    assert_state("a@0=2,3\nb@0=1,4\n");
    assert_timers(0, "0|a\n0|b\n");
    ck_assert_int_eq(state_update_watermark(g_u), 6);
    /* b,3 is not late (its window ends at 10 > 6); max 12, watermark 10:
     * [0,10) fires with a 1+2+10 and b 4+1; a,12 opens [10,20) */
    batch(2, "a,9,10\na,12,20\nb,3,1\n", "a|0|10|3|13\nb|0|10|2|5\n");
    ck_assert_uint_eq(g_late, 0);
    assert_state("a@10=1,20\n");
    assert_timers(0, "10|a\n");
    ck_assert_int_eq(state_update_watermark(g_u), 10);
    /* a,7 is late (its window ended at 10 <= 10); max 25, watermark 23:
     * [10,20) fires; b,25 is in [20,30), not yet due */
    batch(3, "a,7,100\nb,25,1\n", "a|10|20|1|20\n");
    ck_assert_uint_eq(g_late, 1);
    assert_state("b@20=1,1\n");
    /* max 40, watermark 38: [20,30) fires for b */
    batch(4, "c,40,1\n", "b|20|30|1|1\n");
    assert_state("c@40=1,1\n");
    assert_timers(0, "40|c\n");
}
END_TEST

/* A batch whose records are all behind the watermark leaves it where it
 * was and emits nothing. */
START_TEST(tumbling_watermark_never_moves_back)
{
    start("window     tumbling 10ms on t");
    batch(1, "a,35,1\n", "");
    ck_assert_int_eq(state_update_watermark(g_u), 35);
    /* t=12: window [10,20) ended at 20 <= 35, late */
    batch(2, "a,12,1\nb,5,1\n", "");
    ck_assert_uint_eq(g_late, 2);
    ck_assert_int_eq(state_update_watermark(g_u), 35);
    assert_state("a@30=1,1\n");
    /* t=36 is in [30,40): still open at watermark 36 */
    batch(3, "a,36,5\n", "");
    assert_state("a@30=2,6\n");
    batch(4, "b,40,1\n", "a|30|40|2|6\n");
}
END_TEST

START_TEST(tumbling_emit_update_emits_every_changed_window)
{
    start("window     tumbling 10ms on t emit=update");
    /* watermark 5: nothing due, but both changed windows are emitted */
    batch(1, "a,1,1\nb,5,2\n", "a|0|10|1|1\nb|0|10|1|2\n");
    assert_state("a@0=1,1\nb@0=1,2\n");
    /* watermark 12: [0,10) is due (no row for it: update mode emits changes
     * only); a's window [0,10) changed (t=9 is not late at watermark 5) */
    batch(2, "a,9,3\na,12,4\n", "a|0|10|2|4\na|10|20|1|4\n");
    assert_state("a@10=1,4\n");
}
END_TEST

/* Without `on FIELD` the batch time is the record time. */
START_TEST(processing_time_windows_use_the_batch_time)
{
    start("window     tumbling 10ms");
    batch(100, "a,0,1\n", "");
    /* batch time 105: still [100,110) */
    batch(105, "a,0,2\nb,0,3\n", "");
    assert_state("a@100=2,3\nb@100=1,3\n");
    /* 112 closes [100,110) */
    batch(112, "a,0,4\n", "a|100|110|2|3\nb|100|110|1|3\n");
    assert_state("a@110=1,4\n");
}
END_TEST

/* ------------------------------------------------------------ sliding */

START_TEST(sliding_windows_merge_their_panes)
{
    /* panes of 5; pane p belongs to the windows ending at p+5 and p+10 */
    start("window     sliding 10ms every 5ms on t");
    /* panes a@0, a@5, a@10; watermark 12 fires the windows ending at 5
     * ([-5,5): pane 0) and 10 ([0,10): panes 0, 5); firing [0,10) deletes
     * its oldest pane, 0, which no later window holds */
    batch(1, "a,1,1\na,6,2\na,12,4\n", "a|-5|5|1|1\na|0|10|2|3\n");
    assert_state("a@5=1,2\na@10=1,4\n");
    assert_timers(0, "5|a\n10|a\n");
    /* a,3 is late (pane 0's windows end at 5 and 10 <= 12); watermark 14 */
    batch(2, "a,3,100\nb,14,1\n", "");
    ck_assert_uint_eq(g_late, 1);
    assert_state("a@5=1,2\na@10=1,4\nb@10=1,1\n");
    /* watermark 21 fires the windows ending at 15 and 20, read from the
     * committed panes: a [5,15) = 2+4, a [10,20) = 4, b both = 1 */
    batch(3, "b,21,3\n", "a|5|15|2|6\na|10|20|1|4\nb|5|15|1|1\nb|10|20|1|1\n");
    assert_state("b@20=1,3\n");
    assert_timers(0, "20|b\n");
}
END_TEST

START_TEST(sliding_emit_update_emits_open_windows_of_changed_panes)
{
    start("window     sliding 10ms every 5ms on t emit=update");
    /* panes a@0 and a@5 change: windows ending at 5, 10 and 15 */
    batch(1, "a,1,1\na,6,2\n", "a|-5|5|1|1\na|0|10|2|3\na|5|15|1|2\n");
    /* watermark 6 fired [-5,5) only: its oldest pane (-5) held nothing */
    assert_state("a@0=1,1\na@5=1,2\n");
    /* watermark 8: pane 5 changes, windows ending at 10 and 15 */
    batch(2, "a,8,4\n", "a|0|10|3|7\na|5|15|2|6\n");
    /* watermark 11: [0,10) fires silently and deletes pane 0; b's pane 10 */
    batch(3, "b,11,1\n", "b|5|15|1|1\nb|10|20|1|1\n");
    assert_state("a@5=2,6\nb@10=1,1\n");
}
END_TEST

/* ------------------------------------------------------------ sessions */

START_TEST(sessions_close_a_gap_after_their_last_event)
{
    /* gap 10, watermark 20 behind the largest time */
    start("window     session 10ms on t watermark 20ms");
    /* a: 1..5 (ends 15), b: 3 (ends 13); watermark -15 */
    batch(1, "a,1,1\na,5,2\nb,3,4\n", "");
    assert_state("a@1=2,3\nb@3=1,4\n");
    assert_timers(1, "13|b|3\n15|a|1\n");
    /* a,30 starts a new session (30 >= 5+10), a,45 another (45 >= 30+10);
     * watermark 25 closes a@1 (ends 15) and b@3 (ends 13) */
    batch(2, "a,30,10\na,45,20\n", "a|1|15|2|3\nb|3|13|1|4\n");
    assert_state("a@30=1,10\na@45=1,20\n");
    assert_timers(1, "40|a|30\n55|a|45\n");
    /* a,38 bridges them: 38 < 30+10 and 45 < 38+10, one session 30..45
     * (ends 55) kept under its start, 30 */
    batch(3, "a,38,100\n", "");
    assert_state("a@30=3,130\n");
    assert_timers(1, "55|a|30\n");
    /* watermark 60 closes it */
    batch(4, "c,80,1\n", "a|30|55|3|130\n");
    assert_state("c@80=1,1\n");
    assert_timers(1, "90|c|80\n");
}
END_TEST

/* An event before a session's start extends it backwards: the session is
 * re-keyed under its new start. */
START_TEST(session_extended_backwards_moves_to_its_new_start)
{
    start("window     session 10ms on t watermark 50ms");
    batch(1, "a,20,1\n", "");
    assert_state("a@20=1,1\n");
    /* 12: 20 < 12+10, same session 12..20 (ends 30) */
    batch(2, "a,12,2\n", "");
    assert_state("a@12=2,3\n");
    assert_timers(1, "30|a|12\n");
    /* watermark 100 - 50 = 50 >= 30 */
    batch(3, "b,100,1\n", "a|12|30|2|3\n");
    assert_state("b@100=1,1\n");
}
END_TEST

/* A session whose end is already at the watermark fires in the batch that
 * made it, without ever being stored. */
START_TEST(session_ending_at_the_watermark_fires_in_its_own_batch)
{
    start("window     session 10ms on t watermark 20ms");
    /* max 40, watermark 20; a's session [10, 20) ends at 20 <= 20 */
    batch(1, "a,10,1\nb,40,1\n", "a|10|20|1|1\n");
    assert_state("b@40=1,1\n");
    assert_timers(1, "50|b|40\n");
}
END_TEST

START_TEST(session_late_event_is_dropped)
{
    start("window     session 10ms on t");
    batch(1, "a,50,1\n", "");
    /* 39 + 10 <= 50: any session of it would already have closed */
    batch(2, "a,39,1\n", "");
    ck_assert_uint_eq(g_late, 1);
    /* 41 + 10 > 50: it joins a's session (50 < 41+10) */
    batch(3, "a,41,2\n", "");
    ck_assert_uint_eq(g_late, 0);
    assert_state("a@41=2,3\n");
    batch(4, "b,60,1\n", "a|41|60|2|3\n");
}
END_TEST

START_TEST(session_emit_update_emits_every_changed_session)
{
    start("window     session 10ms on t watermark 20ms emit=update");
    batch(1, "a,1,1\na,5,2\nb,3,4\n", "a|1|15|2|3\nb|3|13|1|4\n");
    /* a@1 and b@3 close silently (update mode), the new sessions emit */
    batch(2, "a,30,10\na,45,20\n", "a|30|40|1|10\na|45|55|1|20\n");
    assert_state("a@30=1,10\na@45=1,20\n");
    batch(3, "a,38,100\n", "a|30|55|3|130\n");
    assert_state("a@30=3,130\n");
}
END_TEST

/* ------------------------------------------------------------ drain */

START_TEST(drain_fires_every_open_tumbling_and_sliding_window)
{
    start("window     sliding 10ms every 5ms on t watermark 2ms");
    /* max 8, watermark 6: [-5,5) fires with a's pane 0 */
    batch(1, "a,1,1\nb,8,2\n", "a|-5|5|1|1\n");
    assert_state("a@0=1,1\nb@5=1,2\n");
    /* the drain: a's [0,10); b's [0,10) and [5,15); no record left */
    drain(2, "a|0|10|1|1\nb|0|10|1|2\nb|5|15|1|2\n");
    assert_state("");
    assert_timers(0, "");
}
END_TEST

START_TEST(drain_closes_every_open_session)
{
    start("window     session 10ms on t watermark 20ms");
    batch(1, "a,1,1\na,5,2\nb,3,4\n", "");
    drain(2, "a|1|15|2|3\nb|3|13|1|4\n");
    assert_state("");
    assert_timers(1, "");
}
END_TEST

/* After the drain every record is behind the watermark. */
START_TEST(records_after_the_drain_are_late)
{
    start("window     tumbling 10ms on t");
    batch(1, "a,1,1\n", "");
    drain(2, "a|0|10|1|1\n");
    batch(3, "a,1000000,1\n", "");
    ck_assert_uint_eq(g_late, 1);
    assert_state("");
}
END_TEST

/* ------------------------------------------------------------ TTL */

START_TEST(ttl_deletes_keys_idle_for_the_ttl_of_batch_time)
{
    start("ttl        10ms");
    /* timers: expiry = last update + 10 */
    batch(100, "a,0,1\nb,0,2\n", "a|1|1\nb|1|2\n");
    assert_state("a=1,1\nb=1,2\n");
    assert_timers(0, "110|a\n110|b\n");
    /* a updated at 105: its timer moves to 115 */
    batch(105, "a,0,3\n", "a|2|4\n");
    assert_timers(0, "110|b\n115|a\n");
    /* batch time 110: b idle since 100 expires; no row for it */
    batch(110, "c,0,1\n", "c|1|1\n");
    ck_assert_uint_eq(stats().deleted_keys, 1);
    assert_state("a=2,4\nc=1,1\n");
    assert_timers(0, "115|a\n120|c\n");
    /* 114: a expires at 115, not yet */
    batch(114, "", "");
    assert_state("a=2,4\nc=1,1\n");
    /* 115: a is due but updated in this very batch, so it stays */
    batch(115, "a,0,5\n", "a|3|9\n");
    ck_assert_uint_eq(stats().deleted_keys, 0);
    assert_state("a=3,9\nc=1,1\n");
    assert_timers(0, "120|c\n125|a\n");
    /* 130: both idle past their expiry */
    batch(130, "", "");
    ck_assert_uint_eq(stats().deleted_keys, 2);
    assert_state("");
    assert_timers(0, "");
    /* an expired key starts again from nothing */
    batch(131, "a,0,7\n", "a|1|7\n");
    ck_assert_uint_eq(stats().new_keys, 1);
    assert_state("a=1,7\n");
}
END_TEST

/* ------------------------------------------------------------ failures */

static void put_raw(int cf, const char *k, size_t kn, const void *v, size_t vn)
{
    ember_err err = {0};
    store_batch *wb = store_batch_new();
    store_batch_put(wb, g_st, cf, k, kn, v, vn);
    ck_assert_msg(store_write(g_st, wb, 1, &err) == 0, "%s", err.msg);
    store_batch_free(wb);
}

/* Runs a batch that must fail; returns its error. */
static ember_err failing_batch(int64_t batch_time, const char *line)
{
    ember_err err = {0};
    batch_lines in = {0};
    transform_lines(batch_time, line, &in);
    store_batch *wb = store_batch_new();
    ck_assert_int_lt(update_step(batch_time, 0, wb, &err), 0);
    store_batch_free(wb);
    lines_free(&in);
    return err;
}

START_TEST(damaged_previous_value_fails_the_batch_naming_the_key)
{
    start("");
    put_raw(OP_CF, "a", 1, "\x07garbage", 8);
    ember_err err = failing_batch(1, "a,0,1\n");
    ck_assert_int_eq(err.code, -EMBER_ECORRUPT);
    ck_assert_msg(strstr(err.msg, "state of key 'a'"), "%s", err.msg);
}
END_TEST

/* The committed high mark of event time: meta "event_time_max", u64 LE. */
START_TEST(event_time_mark_is_committed_little_endian)
{
    ember_err err = {0};
    char *v = NULL;
    size_t n = 0;
    start("window     tumbling 10ms on t");
    batch(1, "a,258,1\n", ""); /* 258 = 0x0102 */
    ck_assert_int_eq(store_get(g_st, STORE_META, "event_time_max", 14, &v, &n, &err), 0);
    ck_assert_uint_eq(n, 8);
    ck_assert_mem_eq(v, "\x02\x01\0\0\0\0\0\0", 8);
    free(v);
}
END_TEST

START_TEST(committed_event_time_mark_sets_the_watermark_on_load)
{
    start("window     tumbling 10ms on t watermark 5ms");
    close_state();
    open_state();
    ck_assert_int_eq(state_update_watermark(g_u), WIN_NO_WATERMARK);    /* nothing committed */
    put_raw(STORE_META, "event_time_max", 14, "\x64\0\0\0\0\0\0\0", 8); /* 100 */
    close_state();
    open_state();
    ck_assert_int_eq(state_update_watermark(g_u), 95);
}
END_TEST

START_TEST(damaged_event_time_mark_is_refused_on_load)
{
    ember_err err = {0};
    start("window     tumbling 10ms on t");
    put_raw(STORE_META, "event_time_max", 14, "\x01\x02\x03", 3);
    state_update *u = state_update_new(g_job, g_st, OP_CF, TIMER_CF, 0);
    ck_assert_ptr_nonnull(u);
    ck_assert_int_eq(state_update_load(u, &err), -EMBER_ECORRUPT);
    ck_assert_msg(strstr(err.msg, "event_time_max") && strstr(err.msg, "3 bytes"), "%s", err.msg);
    state_update_free(u);
}
END_TEST

static void add_all(TCase *tc)
{
    tcase_add_test(tc, keyed_counts_and_sums_accumulate_across_batches);
    tcase_add_test(tc, many_keys_fold_through_the_multiget_chunks);
    tcase_add_test(tc, tumbling_windows_fire_when_the_watermark_passes_their_end);
    tcase_add_test(tc, tumbling_watermark_never_moves_back);
    tcase_add_test(tc, tumbling_emit_update_emits_every_changed_window);
    tcase_add_test(tc, processing_time_windows_use_the_batch_time);
    tcase_add_test(tc, sliding_windows_merge_their_panes);
    tcase_add_test(tc, sliding_emit_update_emits_open_windows_of_changed_panes);
    tcase_add_test(tc, sessions_close_a_gap_after_their_last_event);
    tcase_add_test(tc, session_extended_backwards_moves_to_its_new_start);
    tcase_add_test(tc, session_ending_at_the_watermark_fires_in_its_own_batch);
    tcase_add_test(tc, session_late_event_is_dropped);
    tcase_add_test(tc, session_emit_update_emits_every_changed_session);
    tcase_add_test(tc, drain_fires_every_open_tumbling_and_sliding_window);
    tcase_add_test(tc, drain_closes_every_open_session);
    tcase_add_test(tc, records_after_the_drain_are_late);
    tcase_add_test(tc, ttl_deletes_keys_idle_for_the_ttl_of_batch_time);
}

static Suite *update_suite(void)
{
    Suite *s = suite_create("update");
    TCase *cached = tcase_create("cached");
    tcase_add_checked_fixture(cached, setup_cached, teardown);
    add_all(cached);
    suite_add_tcase(s, cached);

    TCase *uncached = tcase_create("uncached-3-workers");
    tcase_add_checked_fixture(uncached, setup_uncached, teardown);
    add_all(uncached);
    suite_add_tcase(s, uncached);

    TCase *failures = tcase_create("meta-and-damage");
    tcase_add_checked_fixture(failures, setup_cached, teardown);
    tcase_add_test(failures, damaged_previous_value_fails_the_batch_naming_the_key);
    tcase_add_test(failures, event_time_mark_is_committed_little_endian);
    tcase_add_test(failures, committed_event_time_mark_sets_the_watermark_on_load);
    tcase_add_test(failures, damaged_event_time_mark_is_refused_on_load);
    suite_add_tcase(s, failures);

    TCase *reopened = tcase_create("reopened-every-batch");
    tcase_add_checked_fixture(reopened, setup_reopened, teardown);
    add_all(reopened);
    suite_add_tcase(s, reopened);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(update_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
