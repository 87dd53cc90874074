/*
 * cmd_state: `ember state DIR [--op NAME] [--key K | --prefix P] [--snapshot B]
 * [--limit N] [--format table|tsv|json]`. Opens the state read-only (works
 * while the job runs); without --op (and without --key or --prefix) lists the
 * operators.
 *
 * What each column family holds, and how it is shown:
 *   aggregate       key | [pane or session start] -> accumulators: one row per
 *                   key (per pane or session), decoded with DIR/JOB
 *   timers          tumbling, sliding: the pane index, pane start | key
 *                   session: end | key | start; ttl: expiry | key
 *   dedupe          id -> expiry (keep=last: "expiry row", the row comma-separated);
 *                   dedupe_timers: expiry | id
 *   top             group -> its K best rows: one line per rank, the row's
 *                   values comma-separated
 *   joinN           key -> the table's CSV line
 * Keys are shown as `ember state --key` takes them: composite keys' fields
 * joined by ','. In the table format times (window bounds, pane starts,
 * expiries) are ISO-8601 UTC; tsv and json keep epoch milliseconds.
 */
#include "core/base/endian.h"
#include "core/engine/transform.h"
#include "core/ops/text.h"
#include "state/layout.h"
#include "tools/cli.h"
#include "tools/commands.h"
#include "tools/statefmt.h"
#include "state/rows.h"
#include "state/topn.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct state_args {
    const char *dir, *op, *key, *prefix;
    uint64_t snapshot, limit;
    state_format fmt;
} state_args;

static void usage(void)
{
    printf("usage: ember state DIR [--op NAME] [--key K | --prefix P] [--snapshot B]\n"
           "                  [--limit N] [--format table|tsv|json]\n"
           "Prints the keyed state of an operator (read-only; works while the job runs).\n"
           "Without --op, lists the operators and how many keys each holds (the aggregate's\n"
           "count is the exact one committed with the batch).\n"
           "  --op NAME      aggregate (the default with --key or --prefix), timers, dedupe,\n"
           "                 dedupe_timers, top, join1, ... (NAME.N: node N of a graph)\n"
           "  --key K        one key (fields of a composite key joined by ','); exit 1 if\n"
           "                 it is not there\n"
           "  --prefix P     keys starting with P\n"
           "  --snapshot B   read snapshot B instead of the live state (0: the live state)\n"
           "  --limit N      at most N rows (0: no limit)\n"
           "  --format F     table (default; times as ISO-8601 UTC), tsv (header + rows) or\n"
           "                 json (array of objects); tsv and json keep epoch milliseconds\n"
           "  --task N       scale-out (`ember run --instance`): task N's state, DIR/tasks/N\n");
}

static int parse_args(int argc, char **argv, state_args *a)
{
    static const char *const flags[] = {"--op",    "--key",    "--prefix", "--snapshot",
                                        "--limit", "--format", "--task",   "--help", NULL};
    static char task_dir[4200];
    const char *task = NULL;
    for (int i = 1; i < argc; i++) {
        const char *f = argv[i];
        const char **dst = !strcmp(f, "--op") ? &a->op : !strcmp(f, "--key") ? &a->key
                         : !strcmp(f, "--prefix") ? &a->prefix : NULL;
        if (cli_is_help(f))
            return usage(), -1;
        if (dst) {
            if (!(*dst = cli_value(argc, argv, &i)))
                return cli_usage_error("state", "%s needs a value", f);
        } else if (!strcmp(f, "--snapshot") || !strcmp(f, "--limit")) {
            if (cli_u64(cli_value(argc, argv, &i), f[2] == 's' ? &a->snapshot : &a->limit))
                return cli_usage_error("state", "%s needs a number", f);
        } else if (!strcmp(f, "--task")) {
            uint64_t n;
            if (cli_u64(task = cli_value(argc, argv, &i), &n))
                return cli_usage_error("state", "--task needs a task number");
        } else if (!strcmp(f, "--format")) {
            if (statefmt_parse_format(cli_value(argc, argv, &i), &a->fmt))
                return cli_usage_error("state", "--format takes table, tsv or json");
        } else if (f[0] == '-') {
            return cli_unknown_flag("state", "flag", f, flags);
        } else if (a->dir) {
            return cli_usage_error("state", "one DIR only");
        } else {
            a->dir = f;
        }
    }
    if (!a->dir)
        return cli_usage_error("state", "missing DIR");
    if (task) {
        snprintf(task_dir, sizeof task_dir, "%s/tasks/%s", a->dir, task);
        a->dir = task_dir;
    }
    if (a->key && a->prefix)
        return cli_usage_error("state", "--key and --prefix exclude each other");
    if (!a->op && (a->key || a->prefix))
        a->op = "aggregate";
    return 0;
}

/* 1 (after one line) when the iteration stopped at a failed read. */
static int iter_failed(const store_iter *it)
{
    ember_err err = {0};
    if (!store_iter_status(it, &err))
        return 0;
    fprintf(stderr, "ember state: %s\n", err.msg);
    return 1;
}

static int list_ops(store *st, state_format fmt)
{
    if (fmt == FMT_JSON)
        printf("[");
    for (size_t i = 1; i < store_cf_count(st); i++) {
        rows_op_stat o;
        ember_err err = {0};
        if (rows_op_stats(st, (int)i, &o, &err)) {
            fprintf(stderr, "ember state: %s\n", err.msg);
            return 1;
        }
        if (fmt == FMT_JSON)
            printf("%s{\"op\": \"%s\", \"keys\": %" PRIu64 ", \"exact\": %s, \"bytes\": %" PRIu64
                   "}",
                   i > 1 ? ", " : "", o.name, o.keys, o.exact ? "true" : "false", o.bytes);
        else
            printf("%s\t%s%" PRIu64 " keys%s\t%" PRIu64 " bytes\n", o.name, o.exact ? "" : "~",
                   o.keys, o.exact ? "" : " (RocksDB's estimate)", o.bytes);
    }
    if (fmt == FMT_JSON)
        printf("]\n");
    return 0;
}

/* --key / --prefix against a key as shown (fields joined by ','). */
static int key_wanted(const state_args *a, const char *shown)
{
    if (a->key)
        return strcmp(shown, a->key) == 0;
    if (a->prefix)
        return strncmp(shown, a->prefix, strlen(a->prefix)) == 0;
    return 1;
}

/* A time cell: ISO-8601 in the table, epoch ms otherwise. */
static cell_kind time_cell(state_format f, int64_t ms, char *buf, size_t cap)
{
    if (f == FMT_TABLE) {
        text_iso8601_ms(ms, buf, cap);
        return CELL_STR;
    }
    snprintf(buf, cap, "%" PRId64, ms);
    return CELL_NUM;
}

/* `top K by F per G`: each group's rows, one line per rank. */
static int print_top(store *st, int cf, const state_args *a, emitter *e)
{
    static const char *const cols[] = {"group", "rank", "row"};
    store_iter *it = store_iter_new(st, cf, NULL, 0);
    char key[4200], rank[24], val[4200], *cells[3] = {key, rank, val};
    const cell_kind kinds[3] = {CELL_STR, CELL_NUM, CELL_STR};
    const ember_record *rows[JOB_TOP_MAX_K];
    uint64_t seqs[JOB_TOP_MAX_K];
    arena mem;
    int rc = 0;
    if (!it)
        return 1;
    arena_init(&mem, 64 * 1024);
    emit_begin(e, stdout, a->fmt, cols, 3, a->key != NULL);
    for (; store_iter_valid(it) && !rc; store_iter_next(it)) {
        size_t kn, vn, n;
        const char *k = store_iter_key(it, &kn), *v = store_iter_value(it, &vn);
        store_key_text(k, kn, key, sizeof key);
        if (!key_wanted(a, key))
            continue;
        arena_reset(&mem);
        if (topn_decode_value(v, vn, &mem, JOB_TOP_MAX_K, rows, seqs, &n)) {
            fprintf(stderr, "ember state: group '%s': a damaged value (%zu bytes)\n", key, vn);
            rc = 1;
        }
        for (size_t i = 0; !rc && i < n && (!a->limit || e->rows < a->limit); i++) {
            snprintf(rank, sizeof rank, "%zu", i + 1);
            rows_record_text(rows[i], val, sizeof val);
            emit_row(e, cells, kinds);
        }
    }
    emit_end(e);
    arena_free(&mem);
    rc = rc ? rc : iter_failed(it);
    store_iter_free(it);
    return rc;
}

/* A join table (key -> CSV line) or dedupe's ids (id -> expiry, 8 bytes LE). */
static int print_table(store *st, int cf, const state_args *a, int dedupe, emitter *e)
{
    static const char *const join_cols[] = {"key", "row"}, *const dedupe_cols[] = {"id", "expires"};
    store_iter *it = store_iter_new(st, cf, NULL, 0);
    char key[4200], val[4200], *cells[2] = {key, val};
    if (!it)
        return 1;
    emit_begin(e, stdout, a->fmt, dedupe ? dedupe_cols : join_cols, 2, a->key != NULL);
    for (; store_iter_valid(it) && (!a->limit || e->rows < a->limit); store_iter_next(it)) {
        size_t kn, vn;
        const char *k = store_iter_key(it, &kn);
        const char *v = store_iter_value(it, &vn);
        cell_kind kinds[2] = {CELL_STR, CELL_STR};
        rows_key_text(k, kn, key, sizeof key);
        if (!key_wanted(a, key))
            continue;
        if (dedupe && vn == 8)
            kinds[1] = time_cell(a->fmt, (int64_t)get_u64le((const uint8_t *)v), val, sizeof val);
        else if (dedupe && vn > 8) { /* keep=last: "EXPIRY ROW" */
            char row[4000];
            int64_t expiry;
            if (rows_dedupe_last(v, vn, &expiry, row, sizeof row))
                snprintf(row, sizeof row, "(damaged: %zu bytes)", vn);
            time_cell(a->fmt, expiry, val, 64);
            snprintf(val + strlen(val), sizeof val - strlen(val), " %s", row);
        }
        else
            snprintf(val, sizeof val, "%.*s", (int)vn, v);
        emit_row(e, cells, kinds);
    }
    emit_end(e);
    int rc = iter_failed(it);
    store_iter_free(it);
    return rc;
}

/* Timers in firing order (the column family's order). */
static int print_timers(store *st, int cf, const ember_job *job, const state_args *a,
                        rows_timers layout, const char *key_name, emitter *e)
{
    static const char *pane_cols[] = {"pane_start", "pane_end", "key"},
                      *session_cols[] = {"window_end", "key", "window_start"},
                      *expiry_cols[] = {"expires", "key"};
    const char *const *cols = layout == ROWS_TIMERS_PANES     ? pane_cols
                              : layout == ROWS_TIMERS_SESSION ? session_cols
                                                              : expiry_cols;
    int ncols = layout == ROWS_TIMERS_EXPIRY ? 2 : 3;
    char c0[64], c1[4200], c2[64], key[4200], *cells[3] = {c0, key, c2};
    cell_kind kinds[3] = {CELL_NUM, CELL_STR, CELL_NUM};
    const char *names[3] = {cols[0], cols[1], ncols == 3 ? cols[2] : NULL};
    if (layout == ROWS_TIMERS_EXPIRY)
        names[1] = key_name;
    if (layout == ROWS_TIMERS_PANES) { /* pane_start, pane_end, key */
        cells[1] = c1;
        cells[2] = key;
        kinds[2] = CELL_STR;
    }
    store_iter *it = store_iter_new(st, cf, NULL, 0);
    if (!it)
        return 1;
    emit_begin(e, stdout, a->fmt, names, ncols, a->key != NULL);
    for (; store_iter_valid(it) && (!a->limit || e->rows < a->limit); store_iter_next(it)) {
        size_t n;
        const char *k = store_iter_key(it, &n);
        rows_timer t;
        if (rows_timer_split(job, layout, k, n, &t))
            continue;
        rows_key_text(t.key, t.key_len, key, sizeof key);
        if (!key_wanted(a, key))
            continue;
        kinds[0] = time_cell(a->fmt, t.t0, c0, sizeof c0);
        if (layout == ROWS_TIMERS_PANES)
            kinds[1] = time_cell(a->fmt, t.t1, c1, sizeof c1);
        else if (layout == ROWS_TIMERS_SESSION)
            kinds[2] = time_cell(a->fmt, t.t1, c2, sizeof c2);
        emit_row(e, cells, kinds);
    }
    emit_end(e);
    int rc = iter_failed(it);
    store_iter_free(it);
    return rc;
}

/* The aggregate's rows, decoded with the job spec. */
static int print_rows(store *st, int cf, const ember_job *job, const state_args *a, emitter *e)
{
    ember_value vals[SCHEMA_MAX_FIELDS];
    acc_text txt;
    ember_err err = {0};
    char *want = rows_stored_key(a->key ? a->key : a->prefix ? a->prefix : "");
    size_t wlen = strlen(want);
    store_iter *it = store_iter_new(st, cf, want, wlen);
    const char *names[SCHEMA_MAX_FIELDS];
    char bufs[SCHEMA_MAX_FIELDS][512], *cells[SCHEMA_MAX_FIELDS];
    cell_kind kinds[SCHEMA_MAX_FIELDS];
    int rc = it ? 0 : 1;
    for (int i = 0; i < job->output.n; i++) {
        names[i] = job->output.f[i].name;
        cells[i] = bufs[i];
    }
    emit_begin(e, stdout, a->fmt, names, job->output.n, a->key != NULL);
    for (; !rc && it && store_iter_valid(it); store_iter_next(it)) {
        size_t klen, vlen;
        const char *k = store_iter_key(it, &klen);
        const char *v = store_iter_value(it, &vlen);
        ember_record row;
        size_t suffix = job->window.kind != WIN_NONE ? WIN_SUFFIX : 0;
        if (a->key && (klen != wlen + suffix || memcmp(k, want, wlen)))
            continue;
        if (a->limit && e->rows == a->limit)
            break;
        if (rows_decode(job, k, klen, v, vlen, vals, &row, &txt, &err)) {
            fprintf(stderr, "ember state: %s\n", err.msg);
            rc = 1;
            break;
        }
        for (uint32_t i = 0; i < row.n && (int)i < job->output.n; i++)
            kinds[i] = statefmt_cell(job, &row, (int)i, a->fmt, bufs[i], sizeof bufs[i]);
        emit_row(e, cells, kinds);
    }
    emit_end(e);
    if (!rc && it)
        rc = iter_failed(it);
    store_iter_free(it);
    free(want);
    return rc;
}

static int print_op(store *st, const ember_job *job, const state_args *a)
{
    int cf = store_cf_index(st, a->op), rc;
    emitter e;
    if (cf <= 0) {
        fprintf(stderr, "ember state: %s has no operator '%s' (see `ember state %s`)\n", a->dir,
                a->op, a->dir);
        return 1;
    }
    char op[LAYOUT_CF_NAME_MAX]; /* a graph's "aggregate.3": node 3's "aggregate" */
    const ember_job *node = layout_cf_node(job, a->op, op, sizeof op);
    if (!node)
        node = job;
    if (strcmp(op, LAYOUT_CF_TOP) == 0)
        rc = print_top(st, cf, a, &e);
    else if (strncmp(op, "join", 4) == 0 || strcmp(op, "dedupe") == 0 ||
        strncmp(op, LAYOUT_CF_STREAM_JOIN, strlen(LAYOUT_CF_STREAM_JOIN)) == 0)
        rc = print_table(st, cf, a, strcmp(op, "dedupe") == 0, &e);
    else if (strcmp(op, "dedupe_timers") == 0)
        rc = print_timers(st, cf, node, a, ROWS_TIMERS_EXPIRY, "id", &e);
    else if (rows_timers_of(node, op) != ROWS_NOT_TIMERS)
        rc = print_timers(st, cf, node, a, rows_timers_of(node, op), "key", &e);
    else
        rc = print_rows(st, cf, node, a, &e);
    if (!rc && a->key && e.rows == 0) {
        fprintf(stderr, "ember state: key '%s' not found in %s\n", a->key, a->op);
        return 1;
    }
    return rc;
}

int cmd_state(int argc, char **argv)
{
    state_args a = {0};
    store *st = NULL;
    int rc = parse_args(argc, argv, &a);
    if (rc)
        return rc < 0 ? 0 : rc;
    ember_job *job = statefmt_load_job("state", a.dir);
    if (!job)
        return 1;
    rc = statefmt_open("state", a.dir, a.snapshot, &st);
    if (!rc)
        rc = a.op ? print_op(st, job, &a) : list_ops(st, a.fmt);
    if (st)
        store_close(st);
    ember_job_free(job);
    return rc;
}
