/*
 * ckread: helpers of the checkpoint inspection commands (see ckread.h).
 * Everything here reads: RocksDB is opened read-only (it never writes to a
 * read-only db directory, so a snapshot still matches its MANIFEST after
 * being read) and the directory lock is never taken.
 */
#include "tools/ckread.h"
#include "checkpoint/snapshot.h"
#include "tools/cli.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int parse_flag(const char *cmd, int argc, char **argv, int *i, const char *const *flags,
                      ck_args *a)
{
    const char *f = argv[*i];
    for (int j = 0; flags && flags[j]; j++) {
        if (strcmp(f, flags[j]) != 0)
            continue;
        if (cli_u64(cli_value(argc, argv, i), &a->num[j]))
            return cli_usage_error(cmd, "%s needs a number", f);
        a->has[j] = 1;
        return 0;
    }
    if (!strcmp(f, "--format")) {
        const char *v = cli_value(argc, argv, i);
        if (!v || (strcmp(v, "table") != 0 && strcmp(v, "json") != 0))
            return cli_usage_error(cmd, "--format takes table or json");
        a->json = !strcmp(v, "json");
        return 0;
    }
    if (!strcmp(f, "--op")) {
        if (!(a->op = cli_value(argc, argv, i)))
            return cli_usage_error(cmd, "--op needs an operator name");
        return 0;
    }
    const char *known[16] = {"--format", "--op", "--help"};
    for (int j = 0; flags && flags[j] && j < 12; j++)
        known[3 + j] = flags[j];
    return cli_unknown_flag(cmd, "option", f, known);
}

int ck_parse(const char *cmd, int argc, char **argv, const char *const *flags, int n_pos,
             void (*usage)(void), ck_args *a)
{
    memset(a, 0, sizeof *a);
    for (int i = 1; i < argc; i++) {
        const char *f = argv[i];
        int rc = 0;
        if (cli_is_help(f))
            return usage(), -1;
        if (f[0] == '-' && f[1])
            rc = parse_flag(cmd, argc, argv, &i, flags, a);
        else if (!a->dir)
            a->dir = f;
        else if (a->n_pos < n_pos)
            a->pos[a->n_pos++] = f;
        else
            rc = cli_usage_error(cmd, "unexpected argument '%s'", f);
        if (rc)
            return rc;
    }
    if (!a->dir)
        return cli_usage_error(cmd, "needs a checkpoint directory");
    if (a->n_pos < n_pos)
        return cli_usage_error(cmd, "needs %d more argument%s", n_pos - a->n_pos,
                               n_pos - a->n_pos > 1 ? "s" : "");
    return 0;
}

static int say(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The one line a command prints when DIR cannot be used; returns 1. */
static int say(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "ember %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return 1;
}

/* Missing, not a directory, unreadable, no JOB: each its own message. */
static int check_dir(const char *cmd, const char *dir)
{
    char job[4200];
    struct stat sb;
    if (stat(dir, &sb) != 0)
        return say(cmd, "%s: %s", dir, strerror(errno));
    if (!S_ISDIR(sb.st_mode))
        return say(cmd, "%s: not a directory (an ember checkpoint directory was expected)", dir);
    if (access(dir, R_OK | X_OK) != 0)
        return say(cmd, "%s: %s", dir, strerror(errno));
    snprintf(job, sizeof job, "%s/JOB", dir);
    if (stat(job, &sb) != 0 && errno == ENOENT)
        return say(cmd, "%s is not an ember checkpoint directory (no JOB file)", dir);
    if (access(job, R_OK) != 0)
        return say(cmd, "%s: %s", job, strerror(errno));
    return 0;
}

ember_job *ck_load(const char *cmd, const char *dir)
{
    return check_dir(cmd, dir) ? NULL : statefmt_load_job(cmd, dir);
}

int ck_begin(const char *cmd, int argc, char **argv, const char *const *flags, int n_pos,
             void (*usage)(void), ck_args *a, ember_job **job)
{
    int rc = ck_parse(cmd, argc, argv, flags, n_pos, usage, a);
    *job = rc ? NULL : ck_load(cmd, a->dir);
    return rc ? rc : *job ? 0 : 1;
}



static int visit_plan(const wal_record *r, void *ctx)
{
    ck_plans *p = ctx;
    p->records++;
    if (r->type != WAL_PLAN)
        return 0;
    if (p->n && r->batch != p->last + 1 && !p->gap_next) {
        p->gap_prev = p->last;
        p->gap_next = r->batch;
        snprintf(p->gap_segment, sizeof p->gap_segment, "%s", r->segment);
        p->gap_offset = r->offset;
    }
    if (!p->n)
        p->first = r->batch;
    p->last = r->batch;
    p->n++;
    return 0;
}

int ck_scan_plans(const char *dir, uint64_t after, ck_plans *p, wal_damage *dmg, ember_err *err)
{
    char wal_dir[4200];
    struct stat sb;
    memset(p, 0, sizeof *p);
    memset(dmg, 0, sizeof *dmg);
    snprintf(wal_dir, sizeof wal_dir, "%s/wal", dir);
    if (stat(wal_dir, &sb) != 0 && errno == ENOENT)
        return 0;
    return wal_scan(wal_dir, after + 1, visit_plan, p, dmg, err);
}

int ck_wal_gap(const char *dir, const ck_plans *p, uint64_t committed, char *msg, size_t cap)
{
    uint64_t *b = NULL;
    size_t n = 0;
    ember_err ignored = {0};
    int gap = 0;
    if (snap_list(dir, &b, &n, &ignored) || !n || b[0] >= committed) {
        free(b);
        return 0; /* no fallback needs the WAL */
    }
    if (!p->n || p->first > b[0] + 1) {
        snprintf(msg, cap, "%s: a restore of snapshot %" PRIu64 " could not replay batches %" PRIu64
                 "..%" PRIu64, p->n ? "the oldest PLAN is of a later batch" : "no PLAN", b[0],
                 b[0] + 1, p->n ? p->first - 1 : committed);
        gap = 1;
    } else if (p->last < committed) {
        snprintf(msg, cap, "the newest PLAN is of batch %" PRIu64 ", the live state committed batch %"
                 PRIu64 ": a restore of snapshot %" PRIu64 " could not replay batches %" PRIu64
                 "..%" PRIu64, p->last, committed, b[n - 1],
                 (p->last > b[n - 1] ? p->last : b[n - 1]) + 1, committed);
        gap = 1;
    }
    free(b);
    return gap;
}


void ck_json_offsets(FILE *out, const src_range *ends, size_t n)
{
    fputc('{', out);
    for (size_t i = 0; i < n; i++)
        fprintf(out, "%s\"%u\": %" PRIu64, i ? ", " : "", ends[i].partition, ends[i].to);
    fputc('}', out);
}

void ck_text_offsets(FILE *out, const src_range *ends, size_t n)
{
    char part[32];
    for (size_t i = 0; i < n; i++)
        fprintf(out, "%s%s=%" PRIu64, i ? " " : "",
                src_partition_text(ends[i].partition, part, sizeof part), ends[i].to);
    if (!n)
        fputc('-', out);
}

void ck_json_str(FILE *out, const char *s)
{
    if (s)
        statefmt_json_string(out, s, strlen(s));
    else
        fputs("null", out);
}

void ck_json_row(FILE *out, const ember_job *job, const ember_record *row)
{
    char *buf = NULL;
    size_t n = 0;
    FILE *mem = open_memstream(&buf, &n);
    if (!mem) {
        fputs("null", out);
        return;
    }
    /* statefmt prints an array element ("\n  {...}"): keep the object only */
    statefmt_row(mem, job, row, FMT_JSON, 1);
    fclose(mem);
    fputs(buf + strspn(buf, "\n "), out);
    free(buf);
}
