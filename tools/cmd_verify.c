/*
 * cmd_verify: `ember verify DIR [--format table|json]`: checks every
 * checksum ember keeps (WAL records, each snapshot's files against its
 * MANIFEST), what recovery relies on (PLANs dense from the batch after the
 * live commit, each snapshot's commit record of its batch) and the live
 * state against its commit record (spec hash, exact key count). Exit 0 when
 * sound, 1 with one line per problem.
 */
#include "checkpoint/snapshot.h"
#include "checkpoint/wal.h"
#include "core/base/endian.h"
#include "state/layout.h"
#include "tools/ckread.h"
#include "tools/commands.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void usage(void)
{
    printf("usage: ember verify DIR [--format table|json]\n"
           "Checks the WAL (every record's checksum; PLANs dense from the batch after the\n"
           "live commit), every snapshot (its files against its MANIFEST, size and xxh64;\n"
           "its own commit record of its batch and job) and the live state: every column\n"
           "family read whole with checksums (aggregate, timers, join tables, dedupe), and\n"
           "its commit record (job spec hash, exact key count). Prints one line per problem\n"
           "and exits 1, or prints 'sound' and exits 0. A torn WAL tail (a crash\n"
           "mid-append, cut off on the next run) is a note, not a problem. Read-only.\n");
}

#define MAX_FINDINGS 256

typedef struct findings {
    char lines[MAX_FINDINGS][600];
    int is_problem[MAX_FINDINGS];
    int n, problems;
} findings;

static void add(findings *f, int problem, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void add(findings *f, int problem, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    f->problems += problem;
    if (f->n < MAX_FINDINGS) { /* past it: counted, not printed; the exit code says it */
        vsnprintf(f->lines[f->n], sizeof f->lines[0], fmt, ap);
        f->is_problem[f->n++] = problem;
    }
    va_end(ap);
}

/* The live state against its commit record; *committed = the committed
 * batch, or -1 when unknown (unreadable live state). Every column family
 * is read whole (checksums verified), not only the aggregate. */
/* A family the state_keys counter counts: an aggregate's. */
static int is_aggregate(const ember_job *job, const char *cf)
{
    char base[LAYOUT_CF_NAME_MAX];
    return layout_cf_node(job, cf, base, sizeof base) && strcmp(base, LAYOUT_CF_AGGREGATE) == 0;
}

static void check_live(const char *dir, const ember_job *job, findings *f, int64_t *committed)
{
    store *st = NULL;
    commit_record c = {0};
    ember_err err = {0};
    *committed = -1;
    int rc = ck_open(dir, 0, &st, &err);
    if (rc) {
        add(f, 1, "%s (the next run restores the newest snapshot that verifies)", err.msg);
        return;
    }
    rc = commit_read(st, &c, &err);
    if (rc == -ENOENT) {
        add(f, 0, "live state: nothing committed yet");
        *committed = 0;
    } else if (rc) {
        add(f, 1, "%s/db: %s", dir, err.msg);
    } else {
        *committed = (int64_t)c.batch;
        if (c.job_hash != job_layout_hash(job))
            add(f, 1,
                "%s/db: committed by a job with spec hash %016" PRIx64 ", JOB has %016" PRIx64, dir,
                c.job_hash, job_layout_hash(job));
    }
    /* Every column family, read whole with checksums: a failed read is the
     * problem (a count that falls short would be a symptom, not the cause). */
    int aggs = 0, found = 0; /* "aggregate", or a graph's "aggregate.N" */
    uint64_t want = rows_meta_u64(st, "state_keys", &found), have = 0;
    for (size_t i = 0; i < store_cf_count(st); i++) {
        uint64_t keys = 0;
        ember_err serr = {0};
        if (store_scan(st, (int)i, &keys, &serr)) {
            add(f, 1, "%s", serr.msg);
            rc = rc ? rc : serr.code;
        } else if (i > 0 && is_aggregate(job, store_cf_name(st, i))) {
            have += keys;
            aggs++;
        }
    }
    if (!rc && aggs && found && have != want)
        add(f, 1,
            "%s/db: %" PRIu64 " keys in \"aggregate\", the commit of batch %" PRIu64
            " says %" PRIu64,
            dir, have, c.batch, want);
    if (!rc)
        add(f, 0, "live state: batch %" PRIu64 " committed, %" PRIu64 " keys", c.batch, have);
    commit_free(&c);
    store_close(st);
}

/* Checksums of every record, and the PLAN sequence recovery relies on:
 * dense, and reaching back to the batch after the live commit. */
static void check_wal(const char *dir, int64_t committed, findings *f)
{
    char wal_dir[4200];
    struct stat sb;
    ck_plans p;
    wal_damage dmg;
    ember_err err = {0};
    snprintf(wal_dir, sizeof wal_dir, "%s/wal", dir);
    if (stat(wal_dir, &sb) != 0) {
        add(f, 1, "%s: %s", wal_dir, strerror(errno));
        return;
    }
    if (ck_scan_plans(dir, 0, &p, &dmg, &err)) {
        add(f, 1, "wal: %s", err.msg);
        return;
    }
    if (dmg.corrupt)
        add(f, 1, "wal: %s at byte %" PRIu64 ": corrupt record: %s", dmg.segment, dmg.offset,
            dmg.reason);
    else if (dmg.torn_tail)
        add(f, 0, "wal: %s at byte %" PRIu64 ": torn tail (%s), cut off by the next run",
            dmg.segment, dmg.offset, dmg.reason);
    if (p.gap_next)
        add(f, 1,
            "wal: %s at byte %" PRIu64 ": PLAN of batch %" PRIu64 " follows batch %" PRIu64
            " (the PLANs between are missing)",
            p.gap_segment, p.gap_offset, p.gap_next, p.gap_prev);
    if (committed >= 0 && p.n && p.first > (uint64_t)committed + 1)
        add(f, 1,
            "wal: the oldest PLAN is of batch %" PRIu64 " but the live state committed "
            "batch %" PRId64 ": batches %" PRId64 "..%" PRIu64 " cannot be replayed",
            p.first, committed, committed + 1, p.first - 1);
    char gap[600];
    if (committed > 0 && ck_wal_gap(dir, &p, (uint64_t)committed, gap, sizeof gap))
        add(f, 1, "wal: %s", gap);
    if (p.n)
        add(f, 0, "wal: %" PRIu64 " records verified (PLANs of batches %" PRIu64 "..%" PRIu64 ")",
            p.records, p.first, p.last);
    else
        add(f, 0, "wal: %" PRIu64 " records verified", p.records);
}

/* A verified snapshot's own commit record must be of its batch and job. */
static void check_snapshot_commit(const char *dir, uint64_t batch, uint64_t hash, findings *f)
{
    commit_record c;
    ember_err err = {0};
    int rc = ck_read_commit(dir, batch, &c, &err);
    if (rc)
        add(f, 1, "snapshot %" PRIu64 ": %s", batch, rc == -ENOENT ? "no commit record" : err.msg);
    else if (c.batch != batch)
        add(f, 1, "snapshot %" PRIu64 ": its state committed batch %" PRIu64, batch, c.batch);
    else if (c.job_hash != hash)
        add(f, 1,
            "snapshot %" PRIu64 ": written by a job with spec hash %016" PRIx64
            ", JOB has %016" PRIx64,
            batch, c.job_hash, hash);
    else
        add(f, 0, "snapshot %" PRIu64 ": verified", batch);
    commit_free(&c);
}

static void check_snapshots(const char *dir, uint64_t hash, findings *f)
{
    uint64_t *b = NULL;
    size_t n = 0;
    ember_err err = {0};
    if (snap_list(dir, &b, &n, &err)) {
        add(f, 1, "snapshots: %s", err.msg);
        return;
    }
    int independent = 0;
    for (size_t i = 0; i < n; i++)
        independent += snap_independent(dir, b[i]);
    if (n)
        add(f, 0, "snapshots: %d of %zu share no file with the live state or each other", independent,
            n);
    for (size_t i = 0; i < n; i++) {
        ember_err verr = {0};
        char path[4200];
        snap_path(path, sizeof path, dir, b[i]);
        int rc = snap_verify(dir, b[i], NULL, &verr);
        if (rc && access(path, F_OK) != 0)
            add(f, 0, "snapshot %" PRIu64 ": pruned by the running job while verifying", b[i]);
        else if (rc)
            add(f, 1, "snapshot %" PRIu64 ": %s", b[i], verr.msg);
        else
            check_snapshot_commit(dir, b[i], hash, f);
    }
    free(b);
}

int cmd_verify(int argc, char **argv)
{
    ck_args a;
    ember_job *job;
    int64_t committed;
    int rc = ck_begin("verify", argc, argv, NULL, 0, usage, &a, &job);
    if (rc)
        return ck_exit_code(rc);
    findings *f = calloc(1, sizeof *f);
    if (!f) {
        ember_job_free(job);
        return 1;
    }
    check_live(a.dir, job, f, &committed);
    check_wal(a.dir, committed, f);
    check_snapshots(a.dir, job_layout_hash(job), f);
    if (a.json) {
        printf("{\"sound\": %s, \"problems\": [", f->problems ? "false" : "true");
        for (int pass = 1, k = 0; pass >= 0; pass--, k = 0) {
            for (int i = 0; i < f->n; i++) {
                if (f->is_problem[i] != pass)
                    continue;
                printf("%s", k++ ? ", " : "");
                statefmt_json_string(stdout, f->lines[i], strlen(f->lines[i]));
            }
            if (pass)
                printf("], \"notes\": [");
        }
        printf("]}\n");
    } else {
        for (int i = 0; i < f->n; i++)
            if (f->is_problem[i])
                printf("problem: %s\n", f->lines[i]);
        for (int i = 0; i < f->n; i++)
            if (!f->is_problem[i])
                printf("ok: %s\n", f->lines[i]);
        printf("%s\n", f->problems ? "DAMAGED" : "sound");
    }
    rc = f->problems ? 1 : 0;
    free(f);
    ember_job_free(job);
    return rc;
}
