/*
 * stream_join_bench: the stream-stream join operator (state/stream_join.c)
 * alone, without sources, parsing or sinks: how many input rows per second
 * one thread joins, RocksDB state and the batch's WriteBatch write included.
 *
 *   build/bench/stream_join_bench [FORM] [ROWS] [BATCH] [TYPE]
 *
 * FORM: interval (within 10s), window (tumbling 10s) or ttl (ttl 10s);
 * TYPE: inner, left, right or full (default). ROWS rows per side (default 1000000) in batches of
 * BATCH per side (default 10000). A is an auction stream (id unique), B a bid stream whose auction
 * is one of the last 1000 A ids; event time advances 1 ms per A row, the watermark trails it by 1
 * s, batch time advances 100 ms a batch. Prints rows/s of wall time and of CPU time, the output
 * rows and the state left before the drain.
 */
#include "core/job/stream_join.h"
#include "core/ops/window.h"
#include "state/stream_join.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(clockid_t c)
{
    struct timespec ts;
    clock_gettime(c, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int setup(const char *form, const char *type, stream_join_spec *spec, store **st,
                 const char *db)
{
    static schema a, b;
    ember_err err = {0};
    char tail[128];
    snprintf(tail, sizeof tail, "on A.id = B.auction %s type=%s",
             !strcmp(form, "window") ? "window tumbling 10s"
             : !strcmp(form, "ttl")  ? "ttl 10s"
                                     : "within 10s",
             type);
    static const char *const ops[] = {"join_rows", "join_timers"};
    store_opts o = {0};
    if (schema_parse(&a, "id:int,seller:int,ts:int", &err) ||
        schema_parse(&b, "auction:int,price:int,ts:int", &err))
        return fprintf(stderr, "%s\n", err.msg), -1;
    sj_input ia = {"A", &a, 2}, ib = {"B", &b, 2};
    if (stream_join_parse(tail, &ia, &ib, spec, &err) || store_open(db, ops, 2, &o, st, &err))
        return fprintf(stderr, "%s\n", err.msg), -1;
    return 0;
}

static void fill(ember_value *va, ember_value *vb, ember_record *ra, ember_record *rb, long base,
                 int n, unsigned *seed)
{
    for (int i = 0; i < n; i++) {
        long id = base + i, ts = base + i;
        ember_value *x = &va[3 * i], *y = &vb[3 * i];
        x[0] = (ember_value){.type = EMBER_INT, .u.i = id};
        x[1] = (ember_value){.type = EMBER_INT, .u.i = id % 977};
        x[2] = (ember_value){.type = EMBER_INT, .u.i = ts};
        long back = rand_r(seed) % 1000;
        y[0] = (ember_value){.type = EMBER_INT, .u.i = id - back};
        y[1] = (ember_value){.type = EMBER_INT, .u.i = rand_r(seed) % 10000};
        y[2] = (ember_value){.type = EMBER_INT, .u.i = ts + rand_r(seed) % 100};
        ra[i] = (ember_record){3, x};
        rb[i] = (ember_record){3, y};
    }
}

static int run_batch(stream_join *j, store *st, ember_record *ra, ember_record *rb, int n,
                     int64_t bt, int64_t wm, unsigned long *out)
{
    ember_err err = {0};
    store_batch *wb = store_batch_new();
    int rc = stream_join_batch(j, ra, (size_t)n, rb, (size_t)n, bt, wm, wb, &err);
    if (!rc)
        rc = store_write(st, wb, 0, &err);
    store_batch_free(wb);
    if (rc)
        fprintf(stderr, "%s\n", err.msg);
    *out += stream_join_rows(j);
    return rc;
}

int main(int argc, char **argv)
{
    const char *form = argc > 1 ? argv[1] : "interval";
    long rows = argc > 2 ? atol(argv[2]) : 1000000, batch = argc > 3 ? atol(argv[3]) : 10000;
    const char *type = argc > 4 ? argv[4] : "full";
    char db[] = "/tmp/ember-sjbench-XXXXXX", cmd[64];
    stream_join_spec spec;
    store *st;
    if (!mkdtemp(db) || batch <= 0 || setup(form, type, &spec, &st, db))
        return 1;
    stream_join *j = stream_join_new(&spec, st, 1, 2);
    ember_value *va = malloc(sizeof *va * 3 * (size_t)batch),
                *vb = malloc(sizeof *vb * 3 * (size_t)batch);
    ember_record *ra = malloc(sizeof *ra * (size_t)batch), *rb = malloc(sizeof *rb * (size_t)batch);
    unsigned long out = 0;
    unsigned seed = 1;
    int rc = !j || !va || !vb || !ra || !rb;
    double w0 = now_s(CLOCK_MONOTONIC), c0 = now_s(CLOCK_PROCESS_CPUTIME_ID);
    long b = 0;
    for (long base = 0; base < rows && !rc; base += batch, b++) {
        int n = (int)(rows - base < batch ? rows - base : batch);
        fill(va, vb, ra, rb, base, n, &seed);
        rc = run_batch(j, st, ra, rb, n, 1000 + b * 100, base + n - 1000, &out);
    }
    double w1 = now_s(CLOCK_MONOTONIC), c1 = now_s(CLOCK_PROCESS_CPUTIME_ID);
    uint64_t keys = 0, bytes = 0;
    store_stats(st, 1, &keys, &bytes);
    if (!rc)
        rc = run_batch(j, st, ra, rb, 0, 1000 + b * 100, WIN_DRAINED_EVENT_TIME, &out);
    if (!rc)
        printf("%s type=%s: %ld rows per side in %ld batches: %.0f input rows/s wall, %.0f "
               "rows/CPU-s; "
               "%lu output rows; ~%llu state rows before the drain\n",
               form, type, rows, b, 2.0 * (double)rows / (w1 - w0), 2.0 * (double)rows / (c1 - c0),
               out, (unsigned long long)keys);
    stream_join_free(j);
    store_close(st);
    free(va), free(vb), free(ra), free(rb);
    snprintf(cmd, sizeof cmd, "rm -rf %s", db);
    return system(cmd) || rc;
}
