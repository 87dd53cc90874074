/*
 * cmd_state: `ember state DIR [--op NAME] [--key K | --prefix P] [--snapshot B]
 * [--limit N] [--format table|tsv|json]`. Opens the state read-only (works
 * while the job runs); without --op lists the operators.
 */
#include "tools/cli.h"
#include "tools/commands.h"
#include "tools/statefmt.h"

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
           "Without --op, lists the operators and their key counts.\n"
           "  --key K        one key (fields of a composite key joined by ',')\n"
           "  --prefix P     keys starting with P\n"
           "  --snapshot B   read snapshot B instead of the live state\n"
           "  --limit N      at most N rows\n"
           "  --format F     table (default), tsv (header + rows) or json (array of objects)\n");
}

static int parse_args(int argc, char **argv, state_args *a)
{
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
        } else if (!strcmp(f, "--format")) {
            if (statefmt_parse_format(cli_value(argc, argv, &i), &a->fmt))
                return cli_usage_error("state", "--format takes table, tsv or json");
        } else if (f[0] == '-') {
            return cli_usage_error("state", "unknown flag '%s'", f);
        } else if (a->dir) {
            return cli_usage_error("state", "one DIR only");
        } else {
            a->dir = f;
        }
    }
    if (!a->dir)
        return cli_usage_error("state", "missing DIR");
    if (a->key && a->prefix)
        return cli_usage_error("state", "--key and --prefix exclude each other");
    return 0;
}

static int list_ops(store *st, state_format fmt)
{
    if (fmt == FMT_JSON)
        printf("[");
    for (size_t i = 1, n = 0; i < store_cf_count(st); i++, n++) {
        uint64_t keys = 0, bytes = 0;
        store_stats(st, (int)i, &keys, &bytes);
        if (fmt == FMT_JSON)
            printf("%s{\"op\": \"%s\", \"keys\": %llu, \"bytes\": %llu}", n ? ", " : "",
                   store_cf_name(st, i), (unsigned long long)keys, (unsigned long long)bytes);
        else
            printf("%s\t%llu keys\t%llu bytes\n", store_cf_name(st, i),
                   (unsigned long long)keys, (unsigned long long)bytes);
    }
    if (fmt == FMT_JSON)
        printf("]\n");
    return 0;
}

/* "a,b" from the command line -> the stored composite key "a\x1fb". */
static char *stored_key(const char *k)
{
    char *s = strdup(k);
    for (char *p = s; p && *p; p++)
        if (*p == ',')
            *p = '\x1f';
    return s;
}

/* A join table's column family: key -> the table's CSV line; dedupe's:
 * id -> expiry. */
static int print_table(store *st, int cf, const state_args *a, int dedupe)
{
    store_iter *it = store_iter_new(st, cf, NULL, 0);
    uint64_t shown = 0;
    if (!it)
        return 1;
    if (a->fmt == FMT_JSON)
        printf("[");
    else
        printf(dedupe ? "id\texpires\n" : a->fmt == FMT_TSV ? "key\trow\n" : "key\t\t\trow\n");
    for (; store_iter_valid(it) && (!a->limit || shown < a->limit); store_iter_next(it)) {
        size_t kn, vn;
        const char *k = store_iter_key(it, &kn);
        const char *v = store_iter_value(it, &vn);
        if (dedupe && vn == 8) {
            uint64_t t = 0;
            for (int i = 7; i >= 0; i--)
                t = (t << 8) | (uint8_t)v[i];
            printf(a->fmt == FMT_JSON ? "%s\n  {\"id\": " : "", shown ? "," : "");
            if (a->fmt == FMT_JSON)
                json_string(stdout, k, kn);
            else
                printf("%.*s\t", (int)kn, k);
            printf(a->fmt == FMT_JSON ? ", \"expires\": %llu}" : "%llu\n", (unsigned long long)t);
        } else if (a->fmt == FMT_JSON) {
            printf("%s\n  {\"key\": ", shown ? "," : "");
            json_string(stdout, k, kn);
            printf(", \"row\": ");
            json_string(stdout, v, vn);
            printf("}");
        } else {
            printf(a->fmt == FMT_TSV ? "%.*s\t%.*s\n" : "%-24.*s %.*s\n", (int)kn, k, (int)vn,
                   v);
        }
        shown++;
    }
    if (a->fmt == FMT_JSON)
        printf("\n]\n");
    store_iter_free(it);
    return 0;
}

/* Timers in firing order. Windows: end | key | start; TTL: expiry | key. */
static int print_timers(store *st, int cf, const state_args *a, int ttl)
{
    store_iter *it = store_iter_new(st, cf, NULL, 0);
    uint64_t shown = 0;
    const char *due = ttl ? "expires" : "window_end", *start_name = ttl ? "" : "window_start";
    size_t suffix = ttl ? 0 : WIN_SUFFIX;
    if (!it)
        return 1;
    if (a->fmt == FMT_JSON)
        printf("[");
    else
        printf(a->fmt == FMT_TSV ? "%s\tkey\t%s\n" : "%-16s key                      %s\n", due,
               start_name);
    for (; store_iter_valid(it) && (!a->limit || shown < a->limit); store_iter_next(it)) {
        size_t n;
        const char *k = store_iter_key(it, &n);
        if (n < WIN_SUFFIX + suffix)
            continue;
        long long end = (long long)window_get_time((const uint8_t *)k);
        long long start = ttl ? 0 : (long long)window_get_time((const uint8_t *)k + n - suffix);
        int klen = (int)(n - WIN_SUFFIX - suffix);
        if (a->fmt == FMT_JSON) {
            printf("%s\n  {\"%s\": %lld, \"key\": ", shown ? "," : "", due, end);
            json_string(stdout, k + WIN_SUFFIX, (size_t)klen);
            if (!ttl)
                printf(", \"window_start\": %lld", start);
            printf("}");
        } else if (ttl) {
            printf(a->fmt == FMT_TSV ? "%lld\t%.*s\n" : "%-16lld %.*s\n", end, klen,
                   k + WIN_SUFFIX);
        } else {
            printf(a->fmt == FMT_TSV ? "%lld\t%.*s\t%lld\n" : "%-16lld %-24.*s %lld\n", end,
                   klen, k + WIN_SUFFIX, start);
        }
        shown++;
    }
    if (a->fmt == FMT_JSON)
        printf("\n]\n");
    store_iter_free(it);
    return 0;
}

static int print_rows(store *st, int cf, const ember_job *job, const state_args *a)
{
    ember_value vals[SCHEMA_MAX_FIELDS];
    acc_text txt;
    ember_err err = {0};
    char *want = stored_key(a->key ? a->key : a->prefix ? a->prefix : "");
    size_t wlen = strlen(want);
    store_iter *it = store_iter_new(st, cf, want, wlen);
    uint64_t shown = 0;
    int rc = it ? 0 : 1;
    statefmt_header(stdout, job, a->fmt);
    for (; !rc && it && store_iter_valid(it); store_iter_next(it)) {
        size_t klen, vlen;
        const char *k = store_iter_key(it, &klen);
        const char *v = store_iter_value(it, &vlen);
        ember_record row;
        size_t suffix = job->window.kind != WIN_NONE ? WIN_SUFFIX : 0;
        if (a->key && (klen != wlen + suffix || memcmp(k, want, wlen)))
            continue;
        if (a->limit && shown == a->limit)
            break;
        if (statefmt_decode(job, k, klen, v, vlen, vals, &row, &txt, &err)) {
            fprintf(stderr, "ember state: %s\n", err.msg);
            rc = 1;
            break;
        }
        statefmt_row(stdout, job, &row, a->fmt, shown++ == 0);
    }
    statefmt_footer(stdout, a->fmt);
    store_iter_free(it);
    free(want);
    if (!rc && a->key && shown == 0) {
        fprintf(stderr, "ember state: key '%s' not found\n", a->key);
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
    if (!rc && !a.op)
        rc = list_ops(st, a.fmt);
    else if (!rc) {
        int cf = store_cf_index(st, a.op);
        if (cf <= 0) {
            fprintf(stderr, "ember state: %s has no operator '%s' (see `ember state %s`)\n",
                    a.dir, a.op, a.dir);
            rc = 1;
        } else if (strncmp(a.op, "join", 4) == 0 || strcmp(a.op, "dedupe") == 0) {
            rc = print_table(st, cf, &a, strcmp(a.op, "dedupe") == 0);
        } else if (strcmp(a.op, "timers") == 0 && (job->window.kind != WIN_NONE || job->ttl_ms)) {
            rc = print_timers(st, cf, &a, job->ttl_ms != 0);
        } else {
            rc = print_rows(st, cf, job, &a);
        }
    }
    if (st)
        store_close(st);
    ember_job_free(job);
    return rc;
}
