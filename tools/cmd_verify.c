/*
 * cmd_verify: `ember verify DIR [--format table|json]`: checks every
 * checksum ember keeps (WAL records, each snapshot's files against its
 * MANIFEST) and the live state against its commit record (spec hash, exact
 * key count). Exit 0 when sound, 1 with one line per problem.
 */
#include "checkpoint/snapshot.h"
#include "checkpoint/wal.h"
#include "tools/ckread.h"
#include "tools/commands.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void usage(void)
{
    printf("usage: ember verify DIR [--format table|json]\n"
           "Checks the WAL's record checksums, every snapshot's files against its\n"
           "MANIFEST (size and xxh64), and the live state against its commit record (job\n"
           "spec hash, exact key count). Prints one line per problem and exits 1, or\n"
           "prints 'sound' and exits 0. A torn WAL tail (a crash mid-append, cut off on\n"
           "the next run) is a note, not a problem. Read-only.\n");
}

typedef struct findings {
    char lines[64][600];
    int is_problem[64];
    int n, problems;
} findings;

static void add(findings *f, int problem, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void add(findings *f, int problem, const char *fmt, ...)
{
    va_list ap;
    f->problems += problem;
    if (f->n == 64)
        return;
    va_start(ap, fmt);
    vsnprintf(f->lines[f->n], sizeof f->lines[0], fmt, ap);
    va_end(ap);
    f->is_problem[f->n++] = problem;
}

static uint64_t meta_u64(store *st, const char *name, int *found)
{
    char *v = NULL;
    size_t n = 0;
    uint64_t x = 0;
    ember_err err = {0};
    *found = store_get(st, STORE_META, name, strlen(name), &v, &n, &err) == 0 && n == 8;
    for (int i = 7; *found && i >= 0; i--)
        x = (x << 8) | (uint8_t)v[i];
    free(v);
    return x;
}

static void check_live(const char *dir, const ember_job *job, findings *f)
{
    store *st = NULL;
    commit_record c = {0};
    ember_err err = {0};
    if (statefmt_open("verify", dir, 0, &st)) {
        add(f, 1, "%s/db: the live state cannot be opened (the next run restores a snapshot)",
            dir);
        return;
    }
    int rc = commit_read(st, &c, &err);
    if (rc == -ENOENT)
        add(f, 0, "live state: nothing committed yet");
    else if (rc)
        add(f, 1, "live state: %s", err.msg);
    else if (c.job_hash != job_layout_hash(job))
        add(f, 1, "live state: committed by a job with spec hash %016" PRIx64 ", JOB has %016" PRIx64,
            c.job_hash, job_layout_hash(job));
    int cf = store_cf_index(st, "aggregate"), found = 0;
    uint64_t want = meta_u64(st, "state_keys", &found), have = 0;
    if (!rc && cf > 0 && found) {
        store_iter *it = store_iter_new(st, cf, NULL, 0);
        for (; it && store_iter_valid(it); store_iter_next(it))
            have++;
        store_iter_free(it);
        if (have != want)
            add(f, 1, "live state: %" PRIu64 " keys in \"aggregate\", the commit of batch %" PRIu64
                " says %" PRIu64, have, c.batch, want);
    }
    if (!rc)
        add(f, 0, "live state: batch %" PRIu64 " committed, %" PRIu64 " keys", c.batch, have);
    commit_free(&c);
    store_close(st);
}

static int count_record(const wal_record *r, void *ctx)
{
    (void)r;
    ++*(uint64_t *)ctx;
    return 0;
}

static void check_wal(const char *dir, findings *f)
{
    char wal_dir[4200];
    wal_damage dmg = {0};
    ember_err err = {0};
    uint64_t n = 0;
    snprintf(wal_dir, sizeof wal_dir, "%s/wal", dir);
    if (wal_scan(wal_dir, 0, count_record, &n, &dmg, &err))
        add(f, 1, "wal: %s", err.msg);
    else if (dmg.corrupt)
        add(f, 1, "wal: %s at byte %" PRIu64 ": corrupt record: %s", dmg.segment, dmg.offset,
            dmg.reason);
    else if (dmg.torn_tail)
        add(f, 0, "wal: %s at byte %" PRIu64 ": torn tail (%s), cut off by the next run",
            dmg.segment, dmg.offset, dmg.reason);
    if (!dmg.corrupt)
        add(f, 0, "wal: %" PRIu64 " records verified", n);
}

static void check_snapshots(const char *dir, findings *f)
{
    uint64_t *b = NULL;
    size_t n = 0;
    ember_err err = {0};
    if (snap_list(dir, &b, &n, &err)) {
        add(f, 1, "snapshots: %s", err.msg);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        ember_err verr = {0};
        char path[4200];
        snap_path(path, sizeof path, dir, b[i]);
        if (snap_verify(dir, b[i], NULL, &verr) && access(path, F_OK) != 0)
            add(f, 0, "snapshot %" PRIu64 ": pruned by the running job while verifying", b[i]);
        else if (verr.code)
            add(f, 1, "snapshot %" PRIu64 ": %s", b[i], verr.msg);
        else
            add(f, 0, "snapshot %" PRIu64 ": verified", b[i]);
    }
    free(b);
}

int cmd_verify(int argc, char **argv)
{
    ck_args a;
    int rc = ck_parse("verify", argc, argv, NULL, 0, usage, &a);
    if (rc)
        return rc < 0 ? 0 : rc;
    ember_job *job = statefmt_load_job("verify", a.dir);
    if (!job)
        return 1;
    findings *f = calloc(1, sizeof *f);
    if (!f) {
        ember_job_free(job);
        return 1;
    }
    check_live(a.dir, job, f);
    check_wal(a.dir, f);
    check_snapshots(a.dir, f);
    if (a.json) {
        printf("{\"sound\": %s, \"problems\": [", f->problems ? "false" : "true");
        for (int pass = 1, k = 0; pass >= 0; pass--, k = 0) {
            for (int i = 0; i < f->n; i++) {
                if (f->is_problem[i] != pass)
                    continue;
                printf("%s", k++ ? ", " : "");
                json_string(stdout, f->lines[i], strlen(f->lines[i]));
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
