/*
 * recover: the restart protocol (steps and invariants in recovery.h). It
 * returns what it found; the engine acts on it. Failpoints recovery.* let the
 * chaos suite kill a restart half way and restart it again.
 */
#include "recovery/recovery.h"
#include "checkpoint/ckdir.h"
#include "checkpoint/snapshot.h"
#include "checkpoint/waldata.h"
#include "core/base/log.h"
#include "core/fault/failpoint.h"
#include "state/layout.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* A recovery failpoint: crash kills recovery itself; an error action fails
 * recovery with this message. */
static int recovery_failpoint(const char *name, ember_err *err)
{
    int rc = FAILPOINT(name);
    return rc ? ember_err_set(err, rc, "failpoint %s", name) : 0;
}

/* Opens DIR/db with the job's column families and reads its commit record
 * (-ENOENT inside: nothing committed yet, which is fine). */
static int open_live(const char *dir, const ember_job *job, uint64_t job_hash, recovery *r,
                     ember_err *err)
{
    char db[4200];
    layout_cfs cfs;
    layout_job_cfs(job, &cfs);
    store_opts so = {.block_cache_bytes = 64u << 20};
    snprintf(db, sizeof db, "%s/db", dir);
    int rc = store_open(db, cfs.ptrs, cfs.n, &so, &r->st, err);
    if (rc)
        return rc;
    rc = commit_read(r->st, &r->last, err);
    if (rc == -ENOENT) {
        *err = (ember_err){0};
        return 0;
    }
    if (!rc && r->last.job_hash != job_hash)
        rc = ember_err_set(err, -EMBER_EINCOMPAT,
                           "%s/db: state was written by a job with another state layout "
                           "(spec hash %016" PRIx64 ", this job %016" PRIx64 ")",
                           dir, r->last.job_hash, job_hash);
    if (rc) {
        commit_free(&r->last);
        store_close(r->st);
        r->st = NULL;
    }
    return rc;
}

static void log_skipped(void *ctx, uint64_t batch, const char *why)
{
    (void)ctx;
    em_log(EMBER_LOG_WARN, "recovery: snapshot %" PRIu64 " skipped: %s", batch, why);
}

/* Step 3: the state snap_choose_state picks, judging the live state without
 * writing to it (checkpoint/snapshot.h): the live state, the newest
 * snapshot that verifies, or an empty state when the WAL plans every batch
 * from 1 (or with --rebuild). A writable open that meets Corruption where
 * the read-only judgement did not marks the db damaged and chooses again. */
static int open_state(const char *dir, const ember_job *job, uint64_t job_hash, int rebuild,
                      recovery *r, ember_err *err)
{
    snap_choose_opts o = {.rebuild = rebuild, .replayable = !job_unreplayable_source(job),
                          .log = log_skipped};
    for (int attempt = 0;; attempt++) {
        snap_choice ch;
        ember_err oerr = {0};
        int rc = snap_choose_state(dir, &o, &ch, err);
        if (rc)
            return rc;
        if (ch.action == SNAP_RESTORED)
            em_log(EMBER_LOG_WARN, "recovery: %s; restoring snapshot %" PRIu64 " and replaying "
                   "the WAL after it", ch.why, ch.batch);
        else if (ch.action == SNAP_START_EMPTY && ch.why[0])
            em_log(EMBER_LOG_WARN, "recovery: %s and no snapshot %s; the WAL plans every batch "
                   "from 1: replaying it on an empty state", ch.why,
                   ch.skipped[0] ? "verifies" : "exists");
        else if (ch.action == SNAP_REBUILD)
            em_log(EMBER_LOG_WARN, "recovery: %s and no snapshot verifies; --rebuild: an empty "
                   "state, the source re-read from its first offsets", ch.why);
        if (ch.action == SNAP_RESTORED && (rc = recovery_failpoint("recovery.after_restore", err)))
            return rc;
        rc = open_live(dir, job, job_hash, r, &oerr);
        if (!rc) {
            r->origin = ch.action == SNAP_RESTORED ? STATE_SNAPSHOT
                        : r->last.batch            ? STATE_LIVE
                                                   : STATE_FRESH;
            r->snapshot = ch.action == SNAP_RESTORED ? ch.batch : 0;
            r->rebuild = ch.action == SNAP_REBUILD;
            return 0;
        }
        if (rc != -EMBER_ECORRUPT || attempt) {
            *err = oerr;
            return rc;
        }
        char db[4200];
        snprintf(db, sizeof db, "%s/db", dir);
        store_mark_damaged(db, oerr.msg);
    }
}

/* Step 4: the counters committed beside the commit record. */
static int read_counters(recovery *r, ember_err *err)
{
    int rc = layout_get_u64(r->st, META_STATE_KEYS, &r->state_keys, err);
    if (rc == -ENOENT)
        rc = 0, *err = (ember_err){0};
    if (!rc && (rc = layout_get_u64(r->st, META_LATE_BYTES, &r->late_bytes, err)) == -ENOENT)
        rc = 0, *err = (ember_err){0};
    if (!rc && (rc = layout_get_u64(r->st, META_DRAINED, &r->drained, err)) == -ENOENT)
        rc = 0, *err = (ember_err){0};
    return rc;
}

/* Step 5. */
static int open_wal(const char *dir, const ember_job *job, recovery *r, ember_err *err)
{
    char wal_dir[4200];
    wal_damage dmg = {0};
    snprintf(wal_dir, sizeof wal_dir, "%s/wal", dir);
    int rc = wal_open(wal_dir, (uint64_t)job->wal_segment_bytes, &r->wal, &dmg, err);
    if (!rc && (dmg.torn_tail || dmg.corrupt))
        em_log(EMBER_LOG_WARN, "recovery: WAL %s truncated at offset %" PRIu64 " (%s): %s",
               dmg.segment, dmg.offset, dmg.torn_tail ? "torn tail" : "corrupt record",
               dmg.reason);
    return rc ? rc : recovery_failpoint("recovery.after_wal_truncate", err);
}

/* ------------------------------------------------------------ step 6 */

typedef struct collector {
    recovery *r;
    size_t cap;
    ember_err *err;
} collector;

static int collect_plan(collector *c, const wal_record *rec)
{
    recovery *r = c->r;
    if (r->n_pending == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 16;
        planned_batch *p = realloc(r->pending, cap * sizeof *p);
        if (!p)
            return ember_err_set(c->err, -ENOMEM, "out of memory");
        r->pending = p;
        c->cap = cap;
    }
    planned_batch *p = &r->pending[r->n_pending];
    memset(p, 0, sizeof *p);
    p->batch = rec->batch;
    int rc = plan_decode(rec->payload, rec->len, &p->time_ms, &p->ranges, &p->n, c->err);
    if (rc)
        return ember_err_prefix(c->err, "WAL %s offset %" PRIu64, rec->segment, rec->offset);
    uint64_t expect = r->n_pending ? r->pending[r->n_pending - 1].batch + 1 : r->last.batch + 1;
    r->n_pending++;
    if (rec->batch != expect) /* R2 */
        return ember_err_set(c->err, -EMBER_ECORRUPT,
                             "WAL %s offset %" PRIu64 ": PLAN of batch %" PRIu64
                             " where batch %" PRIu64 " was expected",
                             rec->segment, rec->offset, rec->batch, expect);
    return 0;
}

static int collect_record(const wal_record *rec, void *ctx)
{
    collector *c = ctx;
    recovery *r = c->r;
    if (rec->batch <= r->last.batch) /* R1 */
        return 0;
    if (rec->type == WAL_PLAN)
        return collect_plan(c, rec);
    planned_batch *last = r->n_pending ? &r->pending[r->n_pending - 1] : NULL;
    if (rec->type == WAL_DATA && last && last->batch == rec->batch)
        return waldata_decode(rec->payload, rec->len, &last->data, &last->data_bytes, c->err);
    if (rec->type == WAL_DRAIN && last && last->batch == rec->batch)
        last->drain = 1;
    return 0;
}

static int collect_pending(const char *dir, recovery *r, ember_err *err)
{
    char wal_dir[4200];
    wal_damage dmg = {0};
    collector c = {r, 0, err};
    snprintf(wal_dir, sizeof wal_dir, "%s/wal", dir);
    if (r->rebuild) { /* --rebuild: everything before the WAL's oldest PLAN, one batch */
        planned_batch p = {0};
        int rc = snap_rebuild_batch(dir, &p.batch, &p.time_ms, &p.ranges, &p.n, err);
        if (rc)
            return rc;
        if (p.n && !(r->pending = malloc(sizeof p))) {
            free(p.ranges);
            return ember_err_set(err, -ENOMEM, "out of memory");
        }
        if (p.n) { /* as if batch p-1 had committed an empty state: batch p comes next */
            r->pending[0] = p;
            r->n_pending = c.cap = 1;
            r->last.batch = p.batch - 1;
            em_log(EMBER_LOG_WARN, "recovery: --rebuild: batch %" PRIu64 " re-reads %zu "
                   "partition%s from offset 0, then the WAL's PLANs from batch %" PRIu64,
                   p.batch, p.n, p.n == 1 ? "" : "s", p.batch + 1);
        }
    }
    return wal_scan(wal_dir, r->last.batch + 1, collect_record, &c, &dmg, err);
}

void recovery_free_pending(recovery *r)
{
    for (size_t i = 0; i < r->n_pending; i++) {
        free(r->pending[i].ranges);
        free(r->pending[i].data);
    }
    free(r->pending);
    r->pending = NULL;
    r->n_pending = 0;
}

static void say_found(const char *dir, const recovery *r)
{
    char line[1024];
    if (r->rebuild) {
        em_log(EMBER_LOG_INFO, "recovery: rebuilding %s from an empty state: %zu batch%s to run",
               dir, r->n_pending, r->n_pending == 1 ? "" : "es");
        return;
    }
    if (!r->last.batch) {
        if (r->n_pending)
            em_log(EMBER_LOG_INFO, "recovery: no committed batch in %s; %zu planned batch%s in "
                   "the WAL will be replayed", dir, r->n_pending, r->n_pending == 1 ? "" : "es");
        else
            em_log(EMBER_LOG_INFO, "recovery: no committed batch in %s, starting fresh", dir);
        return;
    }
    int n = snprintf(line, sizeof line, "recovery: committed batch %" PRIu64 " found (%" PRIu64
                     " records; offsets", r->last.batch, r->last.records_total);
    for (size_t i = 0; i < r->last.n_ends && n > 0 && (size_t)n < sizeof line; i++)
        n += snprintf(line + n, sizeof line - (size_t)n, " p%u=%" PRIu64,
                      r->last.ends[i].partition, r->last.ends[i].to);
    em_log(EMBER_LOG_INFO, "%s)", line);
    if (r->drained)
        em_log(EMBER_LOG_INFO, "recovery: the job was drained at batch %" PRIu64 " (every window "
               "emitted): records at or before its watermark are late", r->drained);
}

static void recovery_close(recovery *r)
{
    recovery_free_pending(r);
    if (r->wal)
        wal_close(r->wal);
    if (r->st)
        store_close(r->st);
    commit_free(&r->last);
    ckdir_unlock(r->lock_fd);
    r->wal = NULL;
    r->st = NULL;
    r->lock_fd = -1;
}

int recovery_open(const char *dir, const ember_job *job, uint64_t job_hash, int reset_output,
                  int rebuild, recovery *r, ember_err *err)
{
    memset(r, 0, sizeof *r);
    r->lock_fd = -1;
    int rc = ckdir_lock(dir, &r->lock_fd, err);
    if (!rc)
        rc = ckdir_identity(dir, reset_output, r->checkpoint_id, err);
    if (!rc)
        rc = ckdir_check_job(dir, job, err);
    if (!rc)
        rc = snap_cleanup(dir, err);
    if (!rc)
        rc = open_state(dir, job, job_hash, rebuild, r, err);
    if (!rc)
        rc = read_counters(r, err);
    if (!rc)
        rc = open_wal(dir, job, r, err);
    if (!rc)
        rc = collect_pending(dir, r, err);
    if (rc) {
        recovery_close(r);
        return rc;
    }
    say_found(dir, r);
    return 0;
}

int recovery_reread(recovery *r, ember_err *err)
{
    commit_free(&r->last);
    r->last = (commit_record){0};
    recovery_free_pending(r);
    int rc = commit_read(r->st, &r->last, err);
    if (rc == -ENOENT)
        rc = 0, *err = (ember_err){0};
    return rc ? rc : read_counters(r, err);
}
