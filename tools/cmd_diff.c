/*
 * cmd_diff: `ember diff DIR A B [--op NAME] [--format table|json]`: keys
 * added, removed and changed between two versions of an operator's state,
 * each a snapshot's batch or `live`, with old and new values. Both are read
 * read-only and walked once, side by side, in key order.
 */
#include "core/sink.h"
#include "tools/ckread.h"
#include "tools/cli.h"
#include "tools/commands.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

static void usage(void)
{
    printf("usage: ember diff DIR A B [--op NAME] [--format table|json]\n"
           "Keys added, removed and changed from state A to state B of an operator\n"
           "(default: aggregate); A and B are snapshot batches or 'live'. Read-only.\n");
}

static int open_version(const char *dir, const char *v, store **st)
{
    uint64_t b = 0;
    if (strcmp(v, "live") != 0 && (cli_u64(v, &b) || b == 0))
        return cli_usage_error("diff", "'%s' is neither a snapshot batch nor 'live'", v);
    return statefmt_open("diff", dir, b, st) ? 1 : 0;
}

typedef struct side {
    store_iter *it;
    const char *k, *v;
    size_t kn, vn;
} side;

static void step(side *s, int first)
{
    if (!first)
        store_iter_next(s->it);
    s->k = store_iter_valid(s->it) ? store_iter_key(s->it, &s->kn) : NULL;
    if (s->k)
        s->v = store_iter_value(s->it, &s->vn);
}

static void print_values(const ember_job *job, const char *k, size_t kn, const char *v,
                         size_t vn, int json)
{
    ember_value vals[SCHEMA_MAX_FIELDS];
    ember_record row;
    ember_err err = {0};
    if (statefmt_decode(job, k, kn, v, vn, vals, &row, &err)) {
        printf(json ? "null" : "(undecodable: %s)", err.msg);
        return;
    }
    if (json) {
        statefmt_row(stdout, job, &row, FMT_JSON, 1);
        return;
    }
    for (uint32_t i = (uint32_t)job->n_keys; i < row.n; i++) {
        char buf[64];
        if (row.values[i].type == EMBER_NULL)
            snprintf(buf, sizeof buf, "NULL");
        else
            value_format(&row.values[i], buf, sizeof buf);
        printf("%s%s=%s", i > (uint32_t)job->n_keys ? " " : "", job->output.f[i].name, buf);
    }
}

static void print_change(const ember_job *job, const char *what, const side *a, const side *b,
                         int json, int first)
{
    const side *key = a ? a : b;
    if (json) {
        printf("%s\n  {\"change\": \"%s\", \"key\": ", first ? "" : ",", what);
        json_string(stdout, key->k, key->kn);
        printf(", \"old\": ");
        if (a)
            print_values(job, a->k, a->kn, a->v, a->vn, 1);
        else
            printf("null");
        printf(", \"new\": ");
        if (b)
            print_values(job, b->k, b->kn, b->v, b->vn, 1);
        else
            printf("null");
        printf("}");
        return;
    }
    printf("%-8s %.*s", what, (int)key->kn, key->k);
    if (a) {
        printf("  old: ");
        print_values(job, a->k, a->kn, a->v, a->vn, 0);
    }
    if (b) {
        printf("  new: ");
        print_values(job, b->k, b->kn, b->v, b->vn, 0);
    }
    printf("\n");
}

int cmd_diff(int argc, char **argv)
{
    ck_args a;
    int rc = ck_parse("diff", argc, argv, NULL, 2, usage, &a);
    if (rc)
        return rc < 0 ? 0 : rc;
    ember_job *job = statefmt_load_job("diff", a.dir);
    if (!job)
        return 1;
    store *sa = NULL, *sb = NULL;
    const char *op = a.op ? a.op : "aggregate";
    if ((rc = open_version(a.dir, a.pos[0], &sa)) || (rc = open_version(a.dir, a.pos[1], &sb)))
        goto out;
    int ca = store_cf_index(sa, op), cb = store_cf_index(sb, op);
    if (ca <= 0 || cb <= 0 || strcmp(op, "aggregate") != 0) {
        fprintf(stderr, "ember diff: %s: no aggregate operator '%s' to compare\n", a.dir, op);
        rc = 1;
        goto out;
    }
    side x = {.it = store_iter_new(sa, ca, NULL, 0)}, y = {.it = store_iter_new(sb, cb, NULL, 0)};
    uint64_t added = 0, removed = 0, changed = 0;
    if (a.json)
        printf("{\"changes\": [");
    step(&x, 1);
    step(&y, 1);
    while (x.k || y.k) {
        int c = !x.k ? 1 : !y.k ? -1 : 0;
        if (!c) {
            size_t n = x.kn < y.kn ? x.kn : y.kn;
            c = memcmp(x.k, y.k, n);
            if (!c)
                c = (x.kn > y.kn) - (x.kn < y.kn);
        }
        int first = added + removed + changed == 0;
        if (c < 0) {
            print_change(job, "removed", &x, NULL, a.json, first);
            removed++;
            step(&x, 0);
        } else if (c > 0) {
            print_change(job, "added", NULL, &y, a.json, first);
            added++;
            step(&y, 0);
        } else {
            if (x.vn != y.vn || memcmp(x.v, y.v, x.vn)) {
                print_change(job, "changed", &x, &y, a.json, first);
                changed++;
            }
            step(&x, 0);
            step(&y, 0);
        }
    }
    if (a.json)
        printf("%s], \"added\": %" PRIu64 ", \"removed\": %" PRIu64 ", \"changed\": %" PRIu64 "}\n",
               added + removed + changed ? "\n" : "", added, removed, changed);
    else
        printf("%" PRIu64 " added, %" PRIu64 " removed, %" PRIu64 " changed\n", added, removed,
               changed);
    store_iter_free(x.it);
    store_iter_free(y.it);
out:
    if (sa)
        store_close(sa);
    if (sb)
        store_close(sb);
    ember_job_free(job);
    return rc;
}
