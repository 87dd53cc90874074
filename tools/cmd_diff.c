/*
 * cmd_diff: `ember diff DIR A B [--op NAME] [--format table|json]`: keys
 * added, removed and changed between two versions of an operator's state,
 * each a snapshot's batch or `live`, with old and new values. A snapshot is
 * verified against its MANIFEST first (a damaged one would silently read as
 * fewer keys); both are opened read-only and walked once, side by side, in
 * key order.
 */
#include "checkpoint/snapshot.h"
#include "core/base/endian.h"
#include "core/ops/text.h"
#include "tools/ckread.h"
#include "state/layout.h"
#include "tools/cli.h"
#include "tools/commands.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

static void usage(void)
{
    printf("usage: ember diff DIR A B [--op NAME] [--format table|json]\n"
           "Keys added, removed and changed from state A to state B of an operator\n"
           "(default: aggregate; see `ember state DIR` for the others), with old and new\n"
           "values; A and B are snapshot batches or 'live'. Snapshots are verified first.\n"
           "Read-only; works while the job runs.\n");
}

/* "live" -> 0, a snapshot batch -> B; -1 when neither. */
static int64_t parse_version(const char *v)
{
    uint64_t b = 0;
    if (!strcmp(v, "live"))
        return 0;
    return cli_u64(v, &b) || b == 0 || b > INT64_MAX ? -1 : (int64_t)b;
}

static int open_version(const char *dir, uint64_t batch, const char *op, store **st, int *cf)
{
    ember_err err = {0};
    if (batch && snap_verify(dir, batch, NULL, &err)) {
        fprintf(stderr, "ember diff: snapshot %" PRIu64 ": %s\n", batch, err.msg);
        return 1;
    }
    if (ck_open(dir, batch, st, &err)) {
        fprintf(stderr, "ember diff: %s\n", err.msg);
        return 1;
    }
    if ((*cf = store_cf_index(*st, op)) <= 0) {
        fprintf(stderr, "ember diff: %s: no operator '%s' in %s", dir, op,
                batch ? "snapshot" : "the live state");
        if (batch)
            fprintf(stderr, " %" PRIu64, batch);
        fprintf(stderr, " (`ember state %s` lists them)\n", dir);
        return 1;
    }
    return 0;
}

typedef struct differ {
    const ember_job *job;
    int decoded; /* the aggregate: rows decoded by the job spec */
    int dedupe;  /* dedupe ids: the value is the expiry */
    int json;
    uint64_t added, removed, changed;
} differ;

/* Bytes outside printable ASCII as \xNN (timer keys, window suffixes). */
static void print_raw(FILE *out, const char *s, size_t n, int json)
{
    char *buf = malloc(4 * n + 1), *p = buf;
    if (!buf)
        return;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        p += c >= 0x20 && c < 0x7f && c != '\\' ? sprintf(p, "%c", c) : sprintf(p, "\\x%02x", c);
    }
    *p = '\0';
    if (json)
        statefmt_json_string(out, buf, (size_t)(p - buf));
    else
        fputs(buf, out);
    free(buf);
}

/* The key as `ember state --key` takes it: key fields joined by ','. */
static void print_key(const differ *d, const rows_side *s, const ember_record *row, int ok)
{
    if (!d->decoded || !ok) {
        print_raw(stdout, s->k, s->kn, d->json);
        return;
    }
    char buf[4200];
    size_t n = 0;
    for (int i = 0; i < d->job->n_keys && n < sizeof buf; i++)
        n += (size_t)snprintf(buf + n, sizeof buf - n, "%s%.*s", i ? "," : "",
                              (int)row->values[i].u.s.len, row->values[i].u.s.ptr);
    n = n < sizeof buf ? n : sizeof buf - 1;
    if (d->json)
        statefmt_json_string(stdout, buf, n);
    else
        printf("%.*s", (int)n, buf);
}

/* The value of one side: the decoded row, the dedupe expiry, or raw. */
static void print_value(const differ *d, const rows_side *s, const ember_record *row, int ok)
{
    if (d->decoded && ok && d->json) {
        ck_json_row(stdout, d->job, row);
    } else if (d->decoded && ok) {
        for (uint32_t i = (uint32_t)d->job->n_keys; i < row->n; i++) {
            char buf[64];
            if (row->values[i].type == EMBER_NULL)
                snprintf(buf, sizeof buf, "NULL");
            else
                value_format(&row->values[i], buf, sizeof buf);
            printf("%s%s=%s", i > (uint32_t)d->job->n_keys ? " " : "", d->job->output.f[i].name,
                   buf);
        }
    } else if (d->dedupe && s->vn == 8) {
        printf(d->json ? "{\"expires\": %" PRIu64 "}" : "expires=%" PRIu64,
               get_u64le((const uint8_t *)s->v));
    } else {
        printf(d->json ? "{\"value\": " : "value=");
        print_raw(stdout, s->v, s->vn, d->json);
        printf(d->json ? "}" : "");
    }
}

static void print_change(differ *d, const char *what, const rows_side *a, const rows_side *b)
{
    ember_value va[SCHEMA_MAX_FIELDS], vb[SCHEMA_MAX_FIELDS];
    acc_text ta, tb;
    ember_record ra = {0}, rb = {0};
    ember_err err = {0};
    int oka = a && d->decoded && !rows_decode(d->job, a->k, a->kn, a->v, a->vn, va, &ra, &ta, &err);
    int okb = b && d->decoded && !rows_decode(d->job, b->k, b->kn, b->v, b->vn, vb, &rb, &tb, &err);
    int first = d->added + d->removed + d->changed == 0;
    if (d->json) {
        printf("%s\n  {\"change\": \"%s\", \"key\": ", first ? "" : ",", what);
        print_key(d, a ? a : b, a ? &ra : &rb, a ? oka : okb);
        printf(", \"old\": ");
        if (a)
            print_value(d, a, &ra, oka);
        else
            printf("null");
        printf(", \"new\": ");
        if (b)
            print_value(d, b, &rb, okb);
        else
            printf("null");
        printf("}");
        return;
    }
    printf("%-8s ", what);
    print_key(d, a ? a : b, a ? &ra : &rb, a ? oka : okb);
    if (a) {
        printf("  old: ");
        print_value(d, a, &ra, oka);
    }
    if (b) {
        printf("  new: ");
        print_value(d, b, &rb, okb);
    }
    printf("\n");
}

/* rows_diff's visitor: one change printed and counted. */
static int on_change(const rows_side *a, const rows_side *b, void *ctx)
{
    differ *d = ctx;
    const char *what = !a ? "added" : !b ? "removed" : "changed";
    print_change(d, what, a, b);
    d->added += !a;
    d->removed += !b;
    d->changed += a && b;
    return 0;
}

int cmd_diff(int argc, char **argv)
{
    ck_args a;
    ember_job *job;
    store *sa = NULL, *sb = NULL;
    int ca = 0, cb = 0;
    int rc = ck_parse("diff", argc, argv, NULL, 2, usage, &a);
    if (rc)
        return ck_exit_code(rc);
    int64_t va = parse_version(a.pos[0]), vb = parse_version(a.pos[1]);
    const char *op = a.op ? a.op : "aggregate";
    if (va < 0 || vb < 0)
        return cli_usage_error("diff", "'%s' is neither a snapshot batch nor 'live'",
                               a.pos[va < 0 ? 0 : 1]);
    if (!(job = ck_load("diff", a.dir)))
        return 1;
    if ((rc = open_version(a.dir, (uint64_t)va, op, &sa, &ca)) ||
        (rc = open_version(a.dir, (uint64_t)vb, op, &sb, &cb)))
        goto out;
    char base[LAYOUT_CF_NAME_MAX]; /* a graph's "aggregate.3": node 3's "aggregate" */
    const ember_job *node = layout_cf_node(job, op, base, sizeof base);
    if (!node)
        node = job;
    differ d = {node, !strcmp(base, "aggregate") && node->n_aggs, !strcmp(base, "dedupe"), a.json,
                0, 0, 0};
    store_iter *x = store_iter_new(sa, ca, NULL, 0), *y = store_iter_new(sb, cb, NULL, 0);
    if (!x || !y) {
        fprintf(stderr, "ember diff: out of memory\n");
        rc = 1;
        goto out_iters;
    }
    if (a.json)
        printf("{\"changes\": [");
    (void)rows_diff(x, y, on_change, &d); /* on_change never stops it */
    ember_err ierr = {0};
    if (store_iter_status(x, &ierr) || store_iter_status(y, &ierr)) {
        if (a.json)
            printf("]}\n");
        fprintf(stderr, "ember diff: %s (the differences above stop there)\n", ierr.msg);
        rc = 1;
        goto out_iters;
    }
    if (a.json)
        printf("%s], \"added\": %" PRIu64 ", \"removed\": %" PRIu64 ", \"changed\": %" PRIu64 "}\n",
               d.added + d.removed + d.changed ? "\n" : "", d.added, d.removed, d.changed);
    else
        printf("%" PRIu64 " added, %" PRIu64 " removed, %" PRIu64 " changed\n", d.added, d.removed,
               d.changed);
out_iters:
    store_iter_free(x);
    store_iter_free(y);
out:
    if (sa)
        store_close(sa);
    if (sb)
        store_close(sb);
    ember_job_free(job);
    return rc;
}
