/*
 * cmd_wal: `ember wal DIR [--from B] [--to B] [--format table|json]`: every
 * WAL record with its segment, offset, type, batch, size and checksum; a
 * torn or corrupt record is flagged with its segment and byte offset.
 */
#include "checkpoint/wal.h"
#include "tools/ckread.h"
#include "tools/cli.h"
#include "tools/commands.h"

#include <inttypes.h>
#include <string.h>

static void usage(void)
{
    printf("usage: ember wal DIR [--from B] [--to B] [--format table|json]\n"
           "Dumps the write-ahead log: segment, byte offset, type (PLAN, DATA), batch,\n"
           "payload bytes and checksum status of every record; the first torn or corrupt\n"
           "record is flagged with its offset (the log is not read past it). Exit 1 when\n"
           "a record is corrupt; a torn tail (a crash mid-append) is reported, exit 0.\n");
}

typedef struct dump {
    uint64_t from, to;
    int json, n;
} dump;

static int visit(const wal_record *r, void *ctx)
{
    dump *d = ctx;
    const char *type = r->type == WAL_PLAN    ? "PLAN"
                       : r->type == WAL_DATA  ? "DATA"
                       : r->type == WAL_DRAIN ? "DRAIN"
                                              : "?";
    if (r->batch < d->from || r->batch > d->to)
        return 0;
    if (d->json)
        printf("%s\n  {\"segment\": \"%s\", \"offset\": %" PRIu64 ", \"type\": \"%s\", "
               "\"batch\": %" PRIu64 ", \"bytes\": %u, \"checksum\": \"ok\"}",
               d->n ? "," : "", r->segment, r->offset, type, r->batch, r->len);
    else
        printf("%-24s %10" PRIu64 "  %-4s %10" PRIu64 " %10u  ok\n", r->segment, r->offset, type,
               r->batch, r->len);
    d->n++;
    return 0;
}

static void print_damage(const dump *d, const char *kind, const char *segment, uint64_t offset,
                         const char *reason)
{
    if (!d->json) {
        if (kind)
            printf("%-24s %10" PRIu64 "  %s: %s\n", segment, offset,
                   !strcmp(kind, "torn")      ? "TORN TAIL"
                   : !strcmp(kind, "corrupt") ? "CORRUPT"
                                              : "UNREADABLE",
                   reason);
        return;
    }
    printf("%s], \"damage\": ", d->n ? "\n" : "");
    if (!kind) {
        printf("null}\n");
        return;
    }
    printf("{\"kind\": \"%s\", \"segment\": ", kind);
    ck_json_str(stdout, segment);
    printf(", \"offset\": %" PRIu64 ", \"reason\": ", offset);
    ck_json_str(stdout, reason);
    printf("}}\n");
}

int cmd_wal(int argc, char **argv)
{
    static const char *const flags[] = {"--from", "--to", NULL};
    ck_args a;
    ember_job *job;
    int rc = ck_parse("wal", argc, argv, flags, 0, usage, &a);
    if (rc)
        return ck_exit_code(rc);
    if (a.has[0] && a.has[1] && a.num[0] > a.num[1])
        return cli_usage_error("wal", "--from %" PRIu64 " is after --to %" PRIu64, a.num[0],
                               a.num[1]);
    if (!(job = ck_load("wal", a.dir)))
        return 1;
    ember_job_free(job);
    char wal_dir[4200], **segs = NULL;
    size_t n_segs = 0;
    dump d = {a.has[0] ? a.num[0] : 0, a.has[1] ? a.num[1] : UINT64_MAX, a.json, 0};
    wal_damage dmg = {0};
    ember_err err = {0};
    snprintf(wal_dir, sizeof wal_dir, "%s/wal", a.dir);
    /* a missing or unreadable WAL directory: one line, no half document */
    if (wal_list_segments(wal_dir, &segs, &n_segs, &err)) {
        fprintf(stderr, "ember wal: %s\n", err.msg);
        return 1;
    }
    wal_free_list(segs, n_segs);
    if (a.json)
        printf("{\"records\": [");
    else
        printf("%-24s %10s  %-4s %10s %10s  %s\n", "segment", "offset", "type", "batch", "bytes",
               "checksum");
    if (wal_scan(wal_dir, d.from, visit, &d, &dmg, &err) != 0) {
        /* a read error part-way: still one whole document, and exit 1 */
        print_damage(&d, "unreadable", "", 0, err.msg);
        fprintf(stderr, "ember wal: %s\n", err.msg);
        return 1;
    }
    print_damage(&d,
                 dmg.corrupt     ? "corrupt"
                 : dmg.torn_tail ? "torn"
                                 : NULL,
                 dmg.segment, dmg.offset, dmg.reason);
    return dmg.corrupt ? 1 : 0;
}
