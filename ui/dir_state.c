/*
 * dir_state: the state browser's routes: state/operators (the column
 * families with key counts and bytes, as `ember state DIR`), state/get (one
 * key's rows) and state/scan (the rows of a key prefix), decoded as
 * `ember state --format json` shows them. `snapshot=B` reads snapshot B
 * instead of the live state.
 */
#include "core/base/endian.h"
#include "state/layout.h"
#include "state/preagg.h"
#include "state/rows.h"
#include "state/topn.h"
#include "ui/dir_private.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

int dir_route_operators(dir_req *r)
{
    store *st = NULL;
    uint64_t snapshot;
    int rc = dir_param_u64(r, "snapshot", 0, 0, UINT64_MAX, &snapshot);
    if (rc || (rc = dir_open(r, snapshot, &st)))
        return rc;
    json_t *ops = json_array();
    for (size_t i = 1; ops && i < store_cf_count(st); i++) {
        rows_op_stat o;
        ember_err err = {0};
        if ((rc = rows_op_stats(st, (int)i, &o, &err))) {
            rc = dir_fail(r, 500, "%s", err.msg);
            break;
        }
        json_array_append_new(ops, json_pack("{s:s,s:I,s:b,s:I}", "op", o.name, "keys",
                                             (json_int_t)o.keys, "exact", o.exact, "bytes",
                                             (json_int_t)o.bytes));
    }
    store_close(st);
    if (rc) {
        json_decref(ops);
        return rc;
    }
    return dir_send(r, ops);
}

/* What one lookup or scan asks for. */
typedef struct lookup {
    const ember_job *job;
    const char *op;
    const char *key;    /* state/get: the key as the user writes it */
    const char *prefix; /* state/scan */
    uint64_t limit;
    rows_timers timers;
    json_t *rows;
    int more; /* a row past the limit exists */
} lookup;

static int wanted(const lookup *l, const char *shown)
{
    if (l->key)
        return !strcmp(shown, l->key);
    return !strncmp(shown, l->prefix, strlen(l->prefix));
}

/* A timer entry: its times and key under the names `ember state` uses. */
static json_t *timer_row(const lookup *l, const rows_timer *t, const char *key)
{
    int dedupe = !strcmp(l->op, LAYOUT_CF_DEDUPE_TIMERS);
    if (l->timers == ROWS_TIMERS_PANES)
        return json_pack("{s:I,s:I,s:o}", "pane_start", (json_int_t)t->t0, "pane_end",
                         (json_int_t)t->t1, "key", dir_jstr(key, strlen(key)));
    if (l->timers == ROWS_TIMERS_SESSION)
        return json_pack("{s:I,s:o,s:I}", "window_end", (json_int_t)t->t0, "key",
                         dir_jstr(key, strlen(key)), "window_start", (json_int_t)t->t1);
    return json_pack("{s:I,s:o}", "expires", (json_int_t)t->t0, dedupe ? "id" : "key",
                     dir_jstr(key, strlen(key)));
}

/* "dedupe" of "dedupe.3" (a graph's node 3). */
static int is_base(const char *op, const char *base)
{
    size_t n = strlen(base);
    return !strncmp(op, base, n) && (op[n] == '\0' || op[n] == '.');
}

/* A group of `top K by F per G`: its K best rows, best first, as text. */
static json_t *top_row(const char *key, const char *v, size_t vn)
{
    const ember_record *rows[JOB_TOP_MAX_K];
    uint64_t seqs[JOB_TOP_MAX_K];
    size_t n;
    char text[4200];
    arena mem;
    arena_init(&mem, 64 * 1024);
    json_t *list = json_array();
    if (list && topn_decode_value(v, vn, &mem, JOB_TOP_MAX_K, rows, seqs, &n))
        json_array_append_new(list, dir_jstr("(damaged)", 9));
    else
        for (size_t i = 0; list && i < n; i++) {
            rows_record_text(rows[i], text, sizeof text);
            json_array_append_new(list, dir_jstr(text, strlen(text)));
        }
    arena_free(&mem);
    return json_pack("{s:o,s:o}", "group", dir_jstr(key, strlen(key)), "rows",
                     list ? list : json_null());
}

/* dedupe keep=last: the id, its expiry and its last row. */
static json_t *dedupe_last_row(const char *key, const char *v, size_t vn)
{
    char text[4200];
    int64_t expiry;
    if (rows_dedupe_last(v, vn, &expiry, text, sizeof text))
        snprintf(text, sizeof text, "(damaged: %zu bytes)", vn);
    return json_pack("{s:o,s:I,s:o}", "id", dir_jstr(key, strlen(key)), "expires",
                     (json_int_t)expiry, "row", dir_jstr(text, strlen(text)));
}

/* A join table (key -> CSV line), dedupe (id -> expiry), a top group or a
 * timer. */
static json_t *table_row(const lookup *l, const char *k, size_t kn, const char *v, size_t vn,
                         int *skip)
{
    char key[4200];
    rows_timer t;
    *skip = 1;
    if (l->timers != ROWS_NOT_TIMERS && rows_timer_split(l->job, l->timers, k, kn, &t))
        return NULL;
    if (l->timers != ROWS_NOT_TIMERS)
        rows_key_text(t.key, t.key_len, key, sizeof key);
    else
        rows_key_text(k, kn, key, sizeof key);
    if (!wanted(l, key))
        return NULL;
    *skip = 0;
    if (l->timers != ROWS_NOT_TIMERS)
        return timer_row(l, &t, key);
    if (!strcmp(l->op, LAYOUT_CF_DEDUPE) && vn == 8)
        return json_pack("{s:o,s:I}", "id", dir_jstr(key, strlen(key)), "expires",
                         (json_int_t)get_u64le((const uint8_t *)v));
    if (is_base(l->op, LAYOUT_CF_DEDUPE) && vn > 8)
        return dedupe_last_row(key, v, vn);
    if (is_base(l->op, LAYOUT_CF_TOP))
        return top_row(key, v, vn);
    return json_pack("{s:o,s:o}", "key", dir_jstr(key, strlen(key)), "row", dir_jstr(v, vn));
}

/* Adds one entry (or notes that one more exists). 0, or -1 to stop. */
static int add_row(lookup *l, json_t *row)
{
    if (json_array_size(l->rows) == l->limit) {
        json_decref(row);
        l->more = 1;
        return -1;
    }
    return row && json_array_append_new(l->rows, row) == 0 ? 0 : -1;
}

/* Every entry of a family other than the aggregate, filtered by key. */
static int scan_table(lookup *l, store_iter *it)
{
    for (; store_iter_valid(it); store_iter_next(it)) {
        size_t kn, vn;
        int skip;
        const char *k = store_iter_key(it, &kn), *v = store_iter_value(it, &vn);
        json_t *row = table_row(l, k, kn, v, vn, &skip);
        if (!skip && add_row(l, row))
            break;
    }
    return 0;
}

/* The aggregate from the stored key (or prefix) on, decoded. */
static int scan_aggregate(lookup *l, store_iter *it, size_t want_len, ember_err *err)
{
    size_t suffix = l->job->window.kind != WIN_NONE ? WIN_SUFFIX : 0;
    ember_value vals[SCHEMA_MAX_FIELDS];
    acc_text *txt = malloc(sizeof *txt);
    int rc = txt ? 0 : ember_err_set(err, -ENOMEM, "state/get: out of memory");
    for (; !rc && store_iter_valid(it); store_iter_next(it)) {
        size_t kn, vn;
        const char *k = store_iter_key(it, &kn), *v = store_iter_value(it, &vn);
        ember_record row;
        if (l->key && kn != want_len + suffix)
            continue; /* a longer key with this one as its prefix */
        if ((rc = rows_decode(l->job, k, kn, v, vn, vals, &row, txt, err)))
            break;
        if (add_row(l, dir_jrow(l->job, &row)))
            break;
    }
    free(txt);
    return rc;
}

static int run_lookup(dir_req *r, lookup *l, uint64_t snapshot)
{
    store *st = NULL;
    ember_err err = {0};
    int rc = dir_open(r, snapshot, &st), cf = rc ? 0 : store_cf_index(st, l->op);
    if (rc)
        return rc;
    if (cf <= 0) {
        store_close(st);
        return dir_fail(r, 404, "%s: parameter op: no operator '%.64s' in %s (state/operators "
                        "lists them)", r->route, l->op, snapshot ? "this snapshot" : "the live state");
    }
    char base[LAYOUT_CF_NAME_MAX]; /* a graph's "aggregate.3": node 3's "aggregate" */
    const ember_job *node = layout_cf_node(l->job, l->op, base, sizeof base);
    if (node)
        l->job = node;
    int agg = !strcmp(base, LAYOUT_CF_AGGREGATE) && l->job->n_aggs;
    char *want = agg ? rows_stored_key(l->key ? l->key : l->prefix) : NULL;
    size_t wlen = want ? strlen(want) : 0;
    store_iter *it = store_iter_new(st, cf, want, wlen);
    l->timers = rows_timers_of(l->job, base);
    if (!(l->rows = json_array()) || !it || (agg && !want))
        rc = ember_err_set(&err, -ENOMEM, "%s: out of memory", r->route);
    else
        rc = agg ? scan_aggregate(l, it, wlen, &err) : scan_table(l, it);
    if (!rc && !l->more)
        rc = store_iter_status(it, &err); /* a failed read is not the end */
    store_iter_free(it);
    free(want);
    store_close(st);
    if (rc)
        return dir_fail(r, 500, "%s", err.msg);
    return 0;
}

/* The parameters state/get and state/scan share. */
static int lookup_begin(dir_req *r, lookup *l, ember_job **job, uint64_t *snapshot)
{
    int rc = dir_param_u64(r, "snapshot", 0, 0, UINT64_MAX, snapshot);
    l->op = dir_param(r, "op") ? dir_param(r, "op") : LAYOUT_CF_AGGREGATE;
    if (!rc && !*l->op)
        rc = dir_fail(r, 400, "%s: parameter op is empty", r->route);
    if (!rc)
        rc = dir_load_job(r, job);
    l->job = *job;
    return rc;
}

static int lookup_end(dir_req *r, lookup *l, ember_job *job, int rc, json_t *body)
{
    if (!rc)
        rc = dir_send(r, body);
    else
        json_decref(body);
    json_decref(l->rows);
    ember_job_free(job);
    return rc;
}

int dir_route_get(dir_req *r)
{
    lookup l = {.limit = DIR_MAX_ROWS};
    ember_job *job = NULL;
    uint64_t snapshot = 0;
    int rc = dir_param_need(r, "key", &l.key);
    if (!rc)
        rc = lookup_begin(r, &l, &job, &snapshot);
    if (!rc)
        rc = run_lookup(r, &l, snapshot);
    if (!rc && !json_array_size(l.rows))
        rc = dir_fail(r, 404, "state/get: key '%.200s' not found in %s", l.key, l.op);
    json_t *body = rc ? NULL
                      : json_pack("{s:s,s:o,s:O}", "op", l.op, "key", dir_jstr(l.key, strlen(l.key)),
                                  "rows", l.rows);
    return lookup_end(r, &l, job, rc, body);
}

int dir_route_scan(dir_req *r)
{
    lookup l = {.prefix = dir_param(r, "prefix") ? dir_param(r, "prefix") : ""};
    ember_job *job = NULL;
    uint64_t snapshot = 0;
    int rc = dir_param_u64(r, "limit", 100, 1, DIR_MAX_ROWS, &l.limit);
    if (!rc)
        rc = lookup_begin(r, &l, &job, &snapshot);
    if (!rc)
        rc = run_lookup(r, &l, snapshot);
    json_t *body = rc ? NULL
                      : json_pack("{s:s,s:o,s:O,s:b}", "op", l.op, "prefix",
                                  dir_jstr(l.prefix, strlen(l.prefix)), "rows", l.rows, "more",
                                  l.more);
    return lookup_end(r, &l, job, rc, body);
}
