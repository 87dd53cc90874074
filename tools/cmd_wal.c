/*
 * cmd_wal: `ember wal DIR [--from B] [--to B] [--format table|json]`: every
 * WAL record with its segment, offset, type, batch, size and checksum; a
 * torn or corrupt record is flagged with its segment and byte offset.
 */
#include "checkpoint/wal.h"
#include "tools/ckread.h"
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
    const char *type = r->type == WAL_PLAN ? "PLAN" : r->type == WAL_DATA ? "DATA" : "?";
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

int cmd_wal(int argc, char **argv)
{
    static const char *const flags[] = {"--from", "--to", NULL};
    ck_args a;
    int rc = ck_parse("wal", argc, argv, flags, 0, usage, &a);
    if (rc)
        return rc < 0 ? 0 : rc;
    ember_job *job = statefmt_load_job("wal", a.dir);
    if (!job)
        return 1;
    ember_job_free(job);
    char wal_dir[4200];
    snprintf(wal_dir, sizeof wal_dir, "%s/wal", a.dir);
    dump d = {a.has[0] ? a.num[0] : 0, a.has[1] ? a.num[1] : UINT64_MAX, a.json, 0};
    wal_damage dmg = {0};
    ember_err err = {0};
    if (a.json)
        printf("{\"records\": [");
    else
        printf("%-24s %10s  %-4s %10s %10s  %s\n", "segment", "offset", "type", "batch", "bytes",
               "checksum");
    rc = wal_scan(wal_dir, d.from, visit, &d, &dmg, &err);
    if (rc) {
        if (a.json)
            printf("]}\n");
        fprintf(stderr, "ember wal: %s\n", err.msg);
        return 1;
    }
    const char *what = dmg.corrupt ? "corrupt" : dmg.torn_tail ? "torn" : NULL;
    if (a.json) {
        printf("%s], \"damage\": ", d.n ? "\n" : "");
        if (what) {
            printf("{\"kind\": \"%s\", \"segment\": \"%s\", \"offset\": %" PRIu64 ", \"reason\": ",
                   what, dmg.segment, dmg.offset);
            json_string(stdout, dmg.reason, strlen(dmg.reason));
            printf("}}\n");
        } else {
            printf("null}\n");
        }
    } else if (what) {
        printf("%-24s %10" PRIu64 "  %s: %s\n", dmg.segment, dmg.offset,
               dmg.corrupt ? "CORRUPT" : "TORN TAIL", dmg.reason);
    }
    return dmg.corrupt ? 1 : 0;
}
