/*
 * cmd_restore: `ember restore DIR --batch B`: rolls the live state back to
 * snapshot B. The only inspection command that writes, so the only one that
 * takes the directory lock: it refuses while a job runs.
 *
 * The next `ember run` continues from B through the ordinary recovery: the
 * restored state carries B's commit record (committed batch, end offsets,
 * sink marker), so recovery replays the WAL's PLANs after B with exactly
 * their ranges (the same state and batch files as the first time) and then
 * reads on from the sources; with no PLAN after B it reads on from B's
 * offsets. Recovery stops at a gap in the PLANs, so restore refuses when the
 * PLANs after B do not start at B+1 or have a hole.
 *
 * Snapshots newer than B are deleted: they hold a future the next run
 * re-executes, and recovery must never fall back to one (their commit
 * records count dead-letter and late-file bytes that the next run cuts back
 * to B's length, and their state may differ if the input or a join table
 * changed since).
 *
 * Crash safety: at every instant DIR/db is either the old live state or
 * snapshot B, never missing or half-copied, and no snapshot is newer than
 * the live state's commit.
 *   1. take DIR/LOCK; verify snapshot B's files (MANIFEST) and read its
 *      commit record (batch B, this job's spec hash); check the WAL
 *   2. build the copy in DIR/db.restoring/db with snapshot.c's snap_restore,
 *      run on a staging directory whose snapshots/ links to ../snapshots
 *      (files copied or hard-linked, fsynced, directory fsynced)
 *   3. rename the snapshots newer than B to .del-<batch> (the names
 *      snap_cleanup removes), fsync snapshots/, remove them
 *   4. swap the copy with DIR/db in one renameat2(RENAME_EXCHANGE) (a plain
 *      rename when there is no live state), then fsync DIR
 *   5. remove DIR/db.restoring, which now holds the old state
 * A kill before 4 leaves the old state (perhaps without its newest
 * snapshots: it needs none), after 4 the new one; leftovers are removed by
 * the next run (snap_cleanup) or restore.
 */
#include "checkpoint/ckdir.h"
#include "checkpoint/snapshot.h"
#include "core/fault/failpoint.h"
#include "core/base/io.h"
#include "tools/ckread.h"
#include "tools/cli.h"
#include "tools/commands.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define STAGING "db.restoring" /* the name snap_cleanup removes */

static void usage(void)
{
    printf("usage: ember restore DIR --batch B\n"
           "Rolls the live state back to snapshot B (see `ember checkpoints DIR`), after\n"
           "verifying it. The job must not be running (the directory lock is taken; exit 2\n"
           "while a job holds it). The next `ember run` replays the batches after B that\n"
           "the WAL still plans (same ranges, same state and output), then continues from\n"
           "the sources; without such PLANs it continues from B's source offsets.\n"
           "Atomic: killed at any point, DIR/db is the old state or snapshot B.\n");
}

/* Step 1: snapshot B is whole and is B's state of this job. */
static int check_snapshot(const char *dir, const ember_job *job, uint64_t batch, commit_record *c,
                          ember_err *err)
{
    char path[4200];
    snap_path(path, sizeof path, dir, batch);
    if (access(path, F_OK) != 0)
        return ember_err_set(err, -ENOENT,
                             "%s: no snapshot %" PRIu64 " (`ember checkpoints %s` "
                             "lists them)",
                             dir, batch, dir);
    int rc = snap_verify(dir, batch, NULL, err);
    if (rc)
        return ember_err_prefix(err, "snapshot %" PRIu64 " is damaged, nothing restored", batch);
    rc = ck_read_commit(dir, batch, c, err);
    if (rc == -ENOENT)
        return ember_err_set(err, -EMBER_ECORRUPT, "snapshot %" PRIu64 ": no commit record", batch);
    if (!rc && c->batch != batch)
        rc = ember_err_set(err, -EMBER_ECORRUPT,
                           "snapshot %" PRIu64 ": its state committed batch %" PRIu64, batch,
                           c->batch);
    if (!rc && c->job_hash != job_layout_hash(job))
        rc = ember_err_set(err, -EMBER_EINCOMPAT,
                           "snapshot %" PRIu64 ": written by a job with spec hash %016" PRIx64
                           ", %s/JOB has %016" PRIx64,
                           batch, c->job_hash, dir, job_layout_hash(job));
    return rc;
}

/* Step 1: recovery will replay the PLANs after B: they must be B+1, B+2... */
static int check_wal(const char *dir, uint64_t batch, ck_plans *p, ember_err *err)
{
    wal_damage dmg;
    int rc = ck_scan_plans(dir, batch, p, &dmg, err);
    if (rc)
        return rc;
    if (p->n && p->first != batch + 1)
        return ember_err_set(err, -EMBER_ECORRUPT,
                             "%s/wal: the first PLAN after batch %" PRIu64 " is of batch %" PRIu64
                             ": the next run could not replay from %" PRIu64 " (move %s/wal "
                             "aside to continue from the snapshot's source offsets)",
                             dir, batch, p->first, batch, dir);
    if (p->gap_next)
        return ember_err_set(err, -EMBER_ECORRUPT,
                             "%s/wal/%s at byte %" PRIu64 ": PLAN of batch %" PRIu64
                             " follows batch %" PRIu64 ": the next run could not replay past it",
                             dir, p->gap_segment, p->gap_offset, p->gap_next, p->gap_prev);
    return 0;
}

/* Step 2: DIR/db.restoring/db is a durable copy of snapshot B. */
static int stage(const char *dir, uint64_t batch, const char *staging, ember_err *err)
{
    char link[4300];
    snprintf(link, sizeof link, "%s/snapshots", staging);
    int rc = io_remove_tree(staging, err);
    if (!rc)
        rc = io_mkdir_p(staging, err);
    if (!rc && symlink("../snapshots", link) != 0)
        rc = ember_err_set(err, -errno, "%s: symlink: %s", link, strerror(errno));
    if (!rc)
        rc = snap_restore(staging, batch, err);
    return rc;
}

/* Step 3: one atomic exchange. Where the file system cannot exchange
 * (EINVAL), two renames with a short window without DIR/db. */
static int swap_in(const char *live, const char *staged, const char *old, ember_err *err)
{
    struct stat sb;
    if (lstat(live, &sb) != 0 && errno == ENOENT)
        return io_rename(staged, live, err);
    int rc = FAILPOINT("io.rename");
    if (rc)
        return ember_err_set(err, rc, "failpoint io.rename: %s", strerror(-rc));
    if (renameat2(AT_FDCWD, staged, AT_FDCWD, live, RENAME_EXCHANGE) == 0)
        return 0;
    if (errno != EINVAL && errno != ENOSYS)
        return ember_err_set(err, -errno, "exchange %s with %s: %s", staged, live, strerror(errno));
    fprintf(stderr,
            "ember restore: note: the file system cannot exchange %s atomically; "
            "using two renames\n",
            live);
    rc = io_rename(live, old, err);
    return rc ? rc : io_rename(staged, live, err);
}

/* Step 3: no snapshot newer than B survives. */
static int drop_newer(const char *dir, uint64_t batch, size_t *dropped, ember_err *err)
{
    char parent[4200];
    uint64_t *b = NULL;
    size_t n = 0;
    snprintf(parent, sizeof parent, "%s/snapshots", dir);
    int rc = snap_list(dir, &b, &n, err);
    for (size_t i = 0; !rc && i < n; i++) {
        char path[4200], doomed[4300];
        if (b[i] <= batch)
            continue;
        snap_path(path, sizeof path, dir, b[i]);
        snprintf(doomed, sizeof doomed, "%s/.del-%020" PRIu64, parent, b[i]);
        rc = io_rename(path, doomed, err);
        *dropped += !rc;
    }
    /* durable before the swap: recovery must not find one next to state B */
    if (!rc && *dropped)
        rc = io_fsync_dir(parent, err);
    for (size_t i = 0; !rc && i < n; i++) {
        char doomed[4300];
        snprintf(doomed, sizeof doomed, "%s/.del-%020" PRIu64, parent, b[i]);
        rc = b[i] > batch ? io_remove_tree(doomed, err) : 0;
    }
    free(b);
    return rc;
}

static int restore(const char *dir, uint64_t batch, size_t *dropped, ember_err *err)
{
    char staging[4200], staged[4300], live[4200], old[4300];
    snprintf(staging, sizeof staging, "%s/" STAGING, dir);
    snprintf(staged, sizeof staged, "%s/db", staging);
    snprintf(old, sizeof old, "%s/db.old", staging);
    snprintf(live, sizeof live, "%s/db", dir);
    int rc = stage(dir, batch, staging, err);
    if (!rc)
        rc = drop_newer(dir, batch, dropped, err);
    if (!rc)
        rc = swap_in(live, staged, old, err);
    if (!rc)
        rc = io_fsync_dir(dir, err);
    if (!rc)
        rc = io_fsync_dir(staging, err);
    if (!rc)
        rc = io_remove_tree(staging, err);
    return rc;
}

static void say_next(const char *dir, uint64_t batch, const commit_record *c, const ck_plans *p,
                     const source_ops *src, size_t dropped)
{
    if (dropped)
        printf("deleted %zu snapshot%s newer than batch %" PRIu64 "\n", dropped,
               dropped > 1 ? "s" : "", batch);
    printf("restored snapshot %" PRIu64 " into %s/db (committed batch %" PRIu64 ", %" PRIu64
           " records; offsets ",
           batch, dir, c->batch, c->records_total);
    ck_text_offsets(stdout, c->ends, c->n_ends);
    if (p->n)
        printf(")\nthe next `ember run` replays batches %" PRIu64 "..%" PRIu64
               " from the WAL, then reads on from the sources\n",
               p->first, p->last);
    else if (src->replayable)
        printf(")\nthe next `ember run` continues from these offsets (the WAL plans no batch "
               "after %" PRIu64 ")\n",
               batch);
    else /* socket, stdin: what they gave is only in the WAL */
        printf(")\nthe WAL holds no batch after %" PRIu64 " and a %s source cannot be read "
               "again: the next `ember run` goes on with new input\n",
               batch, src->kind);
}

int cmd_restore(int argc, char **argv)
{
    static const char *const flags[] = {"--batch", NULL};
    ck_args a;
    ember_job *job;
    commit_record c = {0};
    ck_plans p;
    ember_err err = {0};
    size_t dropped = 0;
    int lock = -1;
    int rc = ck_parse("restore", argc, argv, flags, 0, usage, &a);
    if (rc)
        return ck_exit_code(rc);
    if (!a.has[0] || a.json)
        return cli_usage_error("restore", a.json ? "has no --format"
                                                 : "needs --batch B (a "
                                                   "snapshot's batch)");
    if (!(job = ck_load("restore", a.dir)))
        return 1;
    rc = ckdir_lock(a.dir, &lock, &err);
    if (!rc)
        rc = check_snapshot(a.dir, job, a.num[0], &c, &err);
    if (!rc)
        rc = check_wal(a.dir, a.num[0], &p, &err);
    if (!rc)
        rc = restore(a.dir, a.num[0], &dropped, &err);
    ckdir_unlock(lock);
    if (rc)
        fprintf(stderr, "ember restore: %s\n", err.msg);
    else
        say_next(a.dir, a.num[0], &c, &p,
                 job_unreplayable_source(job) ? job_unreplayable_source(job)
                                              : job_first_source(job),
                 dropped);
    commit_free(&c);
    ember_job_free(job);
    return !rc ? 0 : rc == -EMBER_ELOCKED ? 2 : 1;
}
