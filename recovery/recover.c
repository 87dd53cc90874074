/*
 * recover: the restart protocol, run by every `ember run` before its first
 * new batch (a fresh directory is the trivial case).
 *
 *   1. take DIR/LOCK (flock): one writer per checkpoint directory
 *   2. check the job spec against DIR/JOB (refuse state-layout changes)
 *   3. open the live state; if missing or unusable, restore the newest
 *      snapshot whose MANIFEST verifies (older ones if the newest fails)
 *   4. read the commit record: committed batch c, end offsets, sink marker
 *   5. open the WAL, truncating a torn tail (reported, never applied)
 *   6. re-execute every PLAN after c with exactly its ranges (checking the
 *      input is still there), through the same engine_execute as new batches
 *   7. position the source after the last replayed (or committed) batch
 * One line on stderr per decision, prefixed "recovery:".
 *
 * Invariants:
 *   R1. No batch is executed before the state it builds on is open and its
 *       commit record read (replay starts at c+1, never earlier).
 *   R2. WAL batches after c are dense (c+1, c+2, ...); a gap is corruption.
 *   R3. Damaged bytes (torn WAL tail, failing snapshot) are never applied.
 */
#include "checkpoint/ckdir.h"
#include "checkpoint/snapshot.h"
#include "core/engine/engine.h"
#include "state/dedupe.h"
#include "state/table.h"
#include "core/fault/failpoint.h"
#include "core/base/io.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define OP_CF_NAME "aggregate"
#define TIMER_CF_NAME "timers"

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int path_exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0;
}

/* A recovery failpoint: crash kills recovery itself (the chaos suite restarts
 * it and kills it again); an error action fails recovery with this message. */
static int recovery_failpoint(const char *name, ember_err *err)
{
    int rc = FAILPOINT(name);
    return rc ? ember_err_set(err, rc, "failpoint %s", name) : 0;
}

static int open_live(engine *e, ember_err *err)
{
    char db[4200];
    const char *ops[4 + JOB_MAX_STEPS];
    char join_names[JOB_MAX_STEPS][16];
    size_t n_ops = 0;
    if (e->job->n_aggs)
        ops[n_ops++] = OP_CF_NAME;
    if (e->job->n_aggs && (e->job->window.kind != WIN_NONE || e->job->ttl_ms))
        ops[n_ops++] = TIMER_CF_NAME;
    if (e->job->dedupe_step >= 0) {
        ops[n_ops++] = "dedupe";
        ops[n_ops++] = "dedupe_timers";
    }
    for (int s = 0, j = 0; s < e->job->n_steps; s++)
        if (e->job->steps[s].kind == STEP_JOIN) {
            snprintf(join_names[j], sizeof join_names[j], "join%d", j + 1);
            ops[n_ops++] = join_names[j++];
        }
    store_opts so = {.block_cache_bytes = 64u << 20};
    snprintf(db, sizeof db, "%s/db", e->dir);
    int rc = store_open(db, ops, n_ops, &so, &e->st, err);
    if (rc)
        return rc;
    e->op_cf = e->job->n_aggs ? store_cf_index(e->st, OP_CF_NAME) : -1;
    e->timer_cf = store_cf_index(e->st, TIMER_CF_NAME);
    rc = commit_read(e->st, &e->last, err);
    if (rc == -ENOENT)
        return 0;
    if (!rc && e->last.job_hash != e->job_hash)
        rc = ember_err_set(err, -EMBER_EINCOMPAT,
                           "%s/db: state was written by a job with another state layout "
                           "(spec hash %016" PRIx64 ", this job %016" PRIx64 ")",
                           e->dir, e->last.job_hash, e->job_hash);
    if (rc) {
        store_close(e->st);
        e->st = NULL;
    }
    return rc;
}

/* Tries snapshots newest first; the first that verifies becomes live. */
static int restore_newest(engine *e, const char *why, ember_err *err)
{
    uint64_t *b = NULL;
    size_t n = 0;
    int rc = snap_list(e->dir, &b, &n, err);
    for (size_t i = n; !rc && i > 0; i--) {
        ember_err verr = {0};
        if (snap_verify(e->dir, b[i - 1], NULL, &verr)) {
            fprintf(stderr, "recovery: snapshot %" PRIu64 " skipped: %s\n", b[i - 1], verr.msg);
            continue;
        }
        fprintf(stderr, "recovery: %s; restoring snapshot %" PRIu64 "\n", why, b[i - 1]);
        rc = snap_restore(e->dir, b[i - 1], err);
        if (!rc)
            rc = recovery_failpoint("recovery.after_restore", err);
        if (!rc)
            rc = open_live(e, err);
        free(b);
        return rc;
    }
    free(b);
    if (rc)
        return rc;
    return ember_err_set(err, -ENOENT, "no snapshot verifies");
}

/* Step 3: live state, or a snapshot, or (with the whole WAL) empty state. */
static int open_state(engine *e, ember_err *err)
{
    char db[4200], why[700];
    snprintf(db, sizeof db, "%s/db", e->dir);
    int had_db = path_exists(db);
    if (had_db) {
        ember_err oerr = {0};
        if (!open_live(e, &oerr))
            return 0;
        if (oerr.code == -EMBER_EINCOMPAT) {
            *err = oerr;
            return oerr.code;
        }
        snprintf(why, sizeof why, "live state unusable (%s)", oerr.msg);
    } else {
        snprintf(why, sizeof why, "live state missing");
    }
    int rc = restore_newest(e, why, err);
    if (rc != -ENOENT)
        return rc;
    if (had_db)
        return ember_err_set(err, -EMBER_ECORRUPT,
                             "%s and no snapshot verifies; restore a snapshot with `ember "
                             "restore` or start fresh with another --dir", why);
    return open_live(e, err); /* nothing to restore: start empty, replay the WAL */
}

typedef struct pending {
    uint64_t batch, time_ms;
    src_range *ranges;
    size_t n;
    char *data;
    size_t data_bytes;
} pending;

typedef struct pending_list {
    pending *p;
    size_t n, cap;
    uint64_t after;
    ember_err *err;
} pending_list;

static int collect_plan(pending_list *l, const wal_record *rec)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        pending *p = realloc(l->p, cap * sizeof *p);
        if (!p)
            return ember_err_set(l->err, -ENOMEM, "out of memory");
        l->p = p;
        l->cap = cap;
    }
    pending *p = &l->p[l->n];
    memset(p, 0, sizeof *p);
    p->batch = rec->batch;
    int rc = plan_decode(rec->payload, rec->len, &p->time_ms, &p->ranges, &p->n, l->err);
    if (rc)
        return ember_err_prefix(l->err, "WAL %s offset %" PRIu64, rec->segment, rec->offset);
    uint64_t expect = l->n ? l->p[l->n - 1].batch + 1 : l->after + 1;
    l->n++;
    if (rec->batch != expect)
        return ember_err_set(l->err, -EMBER_ECORRUPT,
                             "WAL %s offset %" PRIu64 ": PLAN of batch %" PRIu64
                             " where batch %" PRIu64 " was expected",
                             rec->segment, rec->offset, rec->batch, expect);
    return 0;
}

static int collect_record(const wal_record *rec, void *ctx)
{
    pending_list *l = ctx;
    if (rec->batch <= l->after)
        return 0;
    if (rec->type == WAL_PLAN)
        return collect_plan(l, rec);
    if (rec->type == WAL_DATA && l->n && l->p[l->n - 1].batch == rec->batch)
        return waldata_decode(rec->payload, rec->len, &l->p[l->n - 1].data,
                              &l->p[l->n - 1].data_bytes, l->err);
    return 0;
}

static void pending_free(pending_list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->p[i].ranges);
        free(l->p[i].data);
    }
    free(l->p);
}

/* Input of a replayed batch must still exist; on-data-loss=skip empties it. */
static int check_available(engine *e, pending *p, uint64_t *skipped, ember_err *err)
{
    if (!e->src.ops->replayable)
        return p->data || p->n == 0
                   ? 0
                   : ember_err_set(err, -EMBER_EDATALOSS,
                                   "WAL has no DATA for batch %" PRIu64 " of a source that "
                                   "cannot replay", p->batch);
    for (size_t i = 0; i < p->n; i++) {
        ember_err aerr = {0};
        if (p->ranges[i].from == p->ranges[i].to ||
            !e->src.ops->available(&e->src, &p->ranges[i], &aerr))
            continue;
        if (!e->job->on_data_loss_skip) {
            *err = aerr;
            return ember_err_prefix(err, "batch %" PRIu64 " cannot be replayed (the job may "
                                    "say `checkpoint on-data-loss=skip`)", p->batch);
        }
        fprintf(stderr, "recovery: on-data-loss=skip: %s\n", aerr.msg);
        *skipped += p->ranges[i].to - p->ranges[i].from;
        p->ranges[i].from = p->ranges[i].to;
    }
    return 0;
}

static int replay(engine *e, ember_err *err)
{
    pending_list l = {.after = e->committed, .err = err};
    wal_damage dmg = {0};
    char wal_dir[4200];
    uint64_t skipped = 0;
    snprintf(wal_dir, sizeof wal_dir, "%s/wal", e->dir);
    int rc = wal_scan(wal_dir, e->committed + 1, collect_record, &l, &dmg, err);
    for (size_t i = 0; !rc && i < l.n; i++) {
        pending *p = &l.p[i];
        rc = check_available(e, p, &skipped, err);
        e->replay_nosync = i + 1 < l.n; /* one fsync for the whole replay */
        if (!rc)
            rc = engine_execute(e, p->batch, p->time_ms, p->ranges, p->n, p->data,
                                p->data_bytes, 1, err);
        e->replay_nosync = 0;
        if (!rc)
            rc = recovery_failpoint("recovery.mid_replay", err);
        if (!rc) {
            e->replayed_batches++;
            for (size_t j = 0; j < p->n; j++)
                e->replayed_records += p->ranges[j].to - p->ranges[j].from;
        }
    }
    if (skipped)
        fprintf(stderr, "recovery: %" PRIu64 " planned records skipped (on-data-loss=skip)\n",
                skipped);
    pending_free(&l);
    return rc;
}

static int open_wal(engine *e, ember_err *err)
{
    char wal_dir[4200];
    wal_damage dmg = {0};
    snprintf(wal_dir, sizeof wal_dir, "%s/wal", e->dir);
    int rc = wal_open(wal_dir, (uint64_t)e->job->wal_segment_bytes, &e->wal, &dmg, err);
    if (!rc && (dmg.torn_tail || dmg.corrupt))
        fprintf(stderr, "recovery: WAL %s truncated at offset %" PRIu64 " (%s): %s\n",
                dmg.segment, dmg.offset, dmg.torn_tail ? "torn tail" : "corrupt record",
                dmg.reason);
    return rc ? rc : recovery_failpoint("recovery.after_wal_truncate", err);
}

/* Opens an append-only side file (dead letters, late records) cut back to
 * its committed length, so a replayed batch never duplicates lines. */
static int open_committed_file(const char *path, uint64_t committed, int *fd, ember_err *err)
{
    *fd = io_open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644, err);
    if (*fd < 0)
        return *fd;
    int rc = io_truncate(*fd, (off_t)committed, err);
    if (!rc && lseek(*fd, (off_t)committed, SEEK_SET) < 0)
        rc = ember_err_set(err, -errno, "%s: %s", path, strerror(errno));
    return rc ? rc : recovery_failpoint("recovery.after_dead_letter_truncate", err);
}

static int open_dead_letters(engine *e, ember_err *err)
{
    if (e->job->on_error != ON_ERROR_DEAD_LETTER)
        return 0;
    e->dead_letter_bytes = e->last.dead_letter_bytes;
    return open_committed_file(e->job->dead_letter_path, e->dead_letter_bytes, &e->dead_fd, err);
}

static int open_late_file(engine *e, ember_err *err)
{
    if (!e->job->window.late_path)
        return 0;
    return open_committed_file(e->job->window.late_path, e->late_bytes, &e->late_fd, err);
}

static int open_progress(engine *e, ember_err *err)
{
    char path[4200], old[4300];
    struct stat st;
    snprintf(path, sizeof path, "%s/progress.jsonl", e->dir);
    if (stat(path, &st) == 0 && st.st_size > (8 << 20)) {
        snprintf(old, sizeof old, "%s.1", path);
        if (rename(path, old) != 0)
            return ember_err_set(err, -errno, "%s: %s", path, strerror(errno));
    }
    e->progress = fopen(path, "a");
    if (!e->progress)
        return ember_err_set(err, -errno, "%s: %s", path, strerror(errno));
    return 0;
}

static int open_plugins(engine *e, ember_err *err)
{
    source_env senv = {e->job->name, e->dir};
    sink_env kenv = {e->job->name, e->dir, &e->job->output, e->job->n_aggs ? e->job->n_keys : 0,
                     e->checkpoint_id, e->opts.reset_output};
    e->src.ops = e->job->source;
    int rc = e->src.ops->open(&e->src, &e->job->source_opts, &senv, err);
    if (rc) {
        if (e->src.impl) /* a failed open may leave what it made so far */
            e->src.ops->close(&e->src);
        return rc;
    }
    e->src_open = 1;
    e->snk.ops = e->job->sink;
    rc = e->snk.ops->open(&e->snk, &e->job->sink_opts, &kenv, err);
    if (rc) {
        if (e->snk.impl)
            e->snk.ops->close(&e->snk);
        return rc;
    }
    e->snk_open = 1;
    rc = e->snk.ops->recover(&e->snk, e->committed, err);
    if (rc)
        return rc;
    for (int s = 0, j = 0; s < e->job->n_steps && !rc; s++) {
        char name[16];
        if (e->job->steps[s].kind != STEP_JOIN)
            continue;
        snprintf(name, sizeof name, "join%d", ++j);
        rc = table_open(e->job->steps[s].table, e->st, store_cf_index(e->st, name), err);
        if (!rc)
            fprintf(stderr, "recovery: join table %s: %zu rows\n",
                    table_path(e->job->steps[s].table), table_rows(e->job->steps[s].table));
    }
    if (rc)
        return rc;
    e->tf = transform_new(e->job, e->opts.threads);
    if (!e->tf)
        return ember_err_set(err, -ENOMEM, "out of memory");
    if (e->job->dedupe_step >= 0) {
        const job_step *d = &e->job->steps[e->job->dedupe_step];
        e->dd = dedupe_new(e->st, store_cf_index(e->st, "dedupe"),
                           store_cf_index(e->st, "dedupe_timers"), d->dedupe_ms);
        if (!e->dd)
            return ember_err_set(err, -ENOMEM, "out of memory");
        transform_set_dedupe(e->tf, dedupe_decide, e->dd);
    }
    if (e->job->n_aggs && !(e->upd = state_update_new(e->job, e->st, e->op_cf, e->timer_cf,
                                                      (size_t)e->job->cache_bytes)))
        return ember_err_set(err, -ENOMEM, "out of memory");
    return e->upd ? state_update_load(e->upd, err) : 0;
}

/* A u64 kept beside the commit record (0 in a fresh directory). */
static uint64_t read_u64_meta(engine *e, const char *name)
{
    char *v = NULL;
    size_t n = 0;
    uint64_t keys = 0;
    ember_err ignored = {0};
    if (store_get(e->st, STORE_META, name, strlen(name), &v, &n, &ignored) == 0 && n == 8)
        for (int i = 7; i >= 0; i--)
            keys = (keys << 8) | (uint8_t)v[i];
    free(v);
    return keys;
}

static void say_committed(const engine *e)
{
    if (!e->committed) {
        fprintf(stderr, "recovery: no committed batch in %s, starting fresh\n", e->dir);
        return;
    }
    fprintf(stderr, "recovery: committed batch %" PRIu64 " found (%" PRIu64 " records; offsets",
            e->committed, e->records_total);
    for (size_t i = 0; i < e->last.n_ends; i++)
        fprintf(stderr, " p%u=%" PRIu64, e->last.ends[i].partition, e->last.ends[i].to);
    fprintf(stderr, ")\n");
}

int recover_start(engine *e, ember_err *err)
{
    double t0 = now_ms();
    int rc = ckdir_lock(e->dir, &e->lock_fd, err);
    if (!rc)
        rc = ckdir_identity(e->dir, e->opts.reset_output, e->checkpoint_id, err);
    if (!rc)
        rc = ckdir_check_job(e->dir, e->job, err);
    e->job_hash = job_layout_hash(e->job);
    if (!rc)
        rc = snap_cleanup(e->dir, err);
    if (!rc)
        rc = open_state(e, err);
    if (rc)
        return rc;
    e->committed = e->last.batch;
    e->records_total = e->last.records_total;
    e->state_keys = read_u64_meta(e, "state_keys");
    e->late_bytes = read_u64_meta(e, "late_bytes");
    say_committed(e);
    if ((rc = open_wal(e, err)) || (rc = open_dead_letters(e, err)) ||
        (rc = open_late_file(e, err)) ||
        (rc = open_progress(e, err)) || (rc = open_plugins(e, err)) ||
        (rc = e->src.ops->restore(&e->src, e->last.ends, e->last.n_ends, err)) ||
        (rc = replay(e, err)))
        return rc;
    rc = e->src.ops->restore(&e->src, e->last.ends, e->last.n_ends, err);
    if (!rc && e->replayed_batches)
        fprintf(stderr, "recovery: replayed %" PRIu64 " batches (%" PRIu64 " records) in %.0f ms\n",
                e->replayed_batches, e->replayed_records, now_ms() - t0);
    return rc;
}
