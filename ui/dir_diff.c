/*
 * dir_diff: GET diff?a=ID&b=ID&op=NAME&limit=N, the keys added, removed and
 * changed from state a to state b of an operator (default: aggregate), each
 * a snapshot's batch or `live`, as `ember diff --format json`: snapshots are
 * verified against their MANIFEST first (a damaged one would read as fewer
 * keys), both versions are walked once, side by side. Every change is
 * counted; the first `limit` (default 1000) are listed.
 */
#include "checkpoint/ckopen.h"
#include "checkpoint/snapshot.h"
#include "core/base/endian.h"
#include "state/layout.h"
#include "state/rows.h"
#include "ui/dir_private.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct differ {
    const ember_job *job;
    int decoded; /* the aggregate: rows decoded with the job spec */
    int dedupe;  /* dedupe ids: the value is the expiry */
    uint64_t limit, added, removed, changed;
    json_t *changes;
    acc_text txt;
} differ;

/* "live" -> 0, a snapshot batch -> B; 0 or 400 written. */
static int version(dir_req *r, const char *name, uint64_t *batch)
{
    const char *v;
    char *end = NULL;
    int rc = dir_param_need(r, name, &v);
    *batch = 0;
    if (rc || !strcmp(v, "live"))
        return rc;
    errno = 0;
    unsigned long long b = *v >= '1' && *v <= '9' ? strtoull(v, &end, 10) : 0;
    if (!end || *end || errno || b == 0)
        return dir_fail(r, 400, "diff: parameter %s: '%.64s' is neither a snapshot batch nor "
                        "'live'", name, v);
    *batch = b;
    return 0;
}

static int open_version(dir_req *r, uint64_t batch, const char *op, store **st, int *cf)
{
    char path[4200];
    ember_err err = {0};
    snap_path(path, sizeof path, r->dir, batch);
    if (batch && access(path, F_OK) != 0)
        return dir_fail(r, 404, "diff: %s: no snapshot %" PRIu64, r->dir, batch);
    if (batch && snap_verify(r->dir, batch, NULL, &err))
        return dir_fail(r, 500, "diff: snapshot %" PRIu64 ": %s", batch, err.msg);
    int rc = dir_open(r, batch, st);
    if (!rc && (*cf = store_cf_index(*st, op)) <= 0)
        return dir_fail(r, 404, "diff: parameter op: no operator '%.64s' in %s", op,
                        batch ? "that snapshot" : "the live state");
    return rc;
}

/* The key (fields joined by ',' when decoded, else \xNN-escaped bytes) and
 * the value (the decoded row, the dedupe expiry, or raw) of one side. */
static void describe(differ *d, const rows_side *s, json_t **key, json_t **value)
{
    ember_value vals[SCHEMA_MAX_FIELDS];
    ember_record row;
    ember_err err = {0};
    char buf[4200];
    if (d->decoded && !rows_decode(d->job, s->k, s->kn, s->v, s->vn, vals, &row, &d->txt, &err)) {
        size_t n = 0;
        for (int i = 0; i < d->job->n_keys && n < sizeof buf; i++)
            n += (size_t)snprintf(buf + n, sizeof buf - n, "%s%.*s", i ? "," : "",
                                  (int)row.values[i].u.s.len, row.values[i].u.s.ptr);
        *key = dir_jstr(buf, n < sizeof buf ? n : sizeof buf - 1);
        *value = dir_jrow(d->job, &row);
        return;
    }
    *key = dir_jstr(buf, store_key_text(s->k, s->kn, buf, sizeof buf));
    if (d->dedupe && s->vn == 8)
        *value = json_pack("{s:I}", "expires", (json_int_t)get_u64le((const uint8_t *)s->v));
    else
        *value = json_pack("{s:o}", "value", dir_jstr(s->v, s->vn));
}

static int on_change(const rows_side *a, const rows_side *b, void *ctx)
{
    differ *d = ctx;
    uint64_t seen = d->added + d->removed + d->changed;
    d->added += !a;
    d->removed += !b;
    d->changed += a && b;
    if (seen >= d->limit)
        return 0; /* counted, not listed */
    json_t *key = NULL, *old = json_null(), *new_ = json_null(), *ignored = NULL;
    if (a) {
        json_decref(old);
        describe(d, a, &key, &old);
    }
    if (b) {
        json_decref(new_);
        describe(d, b, a ? &ignored : &key, &new_);
    }
    json_decref(ignored);
    json_array_append_new(d->changes, json_pack("{s:s,s:o,s:o,s:o}", "change",
                                                !a ? "added" : !b ? "removed" : "changed",
                                                "key", key, "old", old, "new", new_));
    return 0;
}

/* Both versions open: the walk and the reply. */
static int walk(dir_req *r, differ *d, store *sa, int ca, store *sb, int cb)
{
    ember_err err = {0};
    store_iter *x = store_iter_new(sa, ca, NULL, 0), *y = store_iter_new(sb, cb, NULL, 0);
    d->changes = json_array();
    int rc = x && y && d->changes ? 0 : ember_err_set(&err, -ENOMEM, "diff: out of memory");
    if (!rc)
        (void)rows_diff(x, y, on_change, d); /* on_change never stops it */
    if (!rc && !(rc = store_iter_status(x, &err)))
        rc = store_iter_status(y, &err);
    store_iter_free(x);
    store_iter_free(y);
    if (rc) {
        json_decref(d->changes);
        return dir_fail(r, 500, "diff: %s", err.msg);
    }
    uint64_t total = d->added + d->removed + d->changed;
    return dir_send(r, json_pack("{s:o,s:I,s:I,s:I,s:b}", "changes", d->changes, "added",
                                 (json_int_t)d->added, "removed", (json_int_t)d->removed,
                                 "changed", (json_int_t)d->changed, "more", total > d->limit));
}

int dir_route_diff(dir_req *r)
{
    uint64_t va = 0, vb = 0;
    ember_job *job = NULL;
    store *sa = NULL, *sb = NULL;
    int ca = 0, cb = 0;
    const char *op = dir_param(r, "op") ? dir_param(r, "op") : LAYOUT_CF_AGGREGATE;
    differ *d = calloc(1, sizeof *d); /* acc_text is 16 KB */
    int rc = d ? 0 : dir_fail(r, 500, "diff: out of memory");
    if (!rc)
        rc = version(r, "a", &va);
    if (!rc)
        rc = version(r, "b", &vb);
    if (!rc)
        rc = dir_param_u64(r, "limit", 1000, 1, DIR_MAX_ROWS, &d->limit);
    if (!rc)
        rc = dir_load_job(r, &job);
    if (!rc && !(rc = open_version(r, va, op, &sa, &ca)))
        rc = open_version(r, vb, op, &sb, &cb);
    if (!rc) {
        char base[LAYOUT_CF_NAME_MAX]; /* a graph's "aggregate.3": node 3's "aggregate" */
        const ember_job *node = layout_cf_node(job, op, base, sizeof base);
        d->job = node ? node : job;
        d->decoded = !strcmp(base, LAYOUT_CF_AGGREGATE) && d->job->n_aggs;
        d->dedupe = !strcmp(base, LAYOUT_CF_DEDUPE);
        rc = walk(r, d, sa, ca, sb, cb);
    }
    if (sa)
        store_close(sa);
    if (sb)
        store_close(sb);
    ember_job_free(job);
    free(d);
    return rc;
}
