/*
 * live: which state a start uses. The live db is judged read-only first (its
 * commit record, key counts, tables against the newest MANIFEST, corruption
 * marks); a damaged one is set aside and the newest snapshot that verifies
 * restored, or, with --rebuild and every source able to re-read, the state
 * is rebuilt from the WAL's first plan. Snapshots themselves are snapshot.c.
 */
#include "checkpoint/snapshot.h"
#include "core/base/array.h"
#include "checkpoint/commit.h"
#include "checkpoint/wal.h"
#include "state/layout.h"
#include "core/fault/failpoint.h"
#include "core/base/io.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PATH_CAP 4096

/* ------------------------------------------------------------ the live state */

typedef struct plan_scan {
    uint64_t first, last; /* first and last PLAN batch; 0: none */
} plan_scan;

static int note_plan(const wal_record *r, void *ctx)
{
    plan_scan *p = ctx;
    if (r->type != WAL_PLAN)
        return 0;
    if (!p->first)
        p->first = r->batch;
    p->last = r->batch;
    return 0;
}

/* The first and last PLAN in DIR/wal (a damaged record ends the scan). */
static void scan_plans(const char *ckpt_dir, plan_scan *p)
{
    char wal_dir[PATH_CAP];
    wal_damage dmg = {0};
    ember_err ignored = {0};
    struct stat sb;
    memset(p, 0, sizeof *p);
    snprintf(wal_dir, sizeof wal_dir, "%s/wal", ckpt_dir);
    if (stat(wal_dir, &sb) == 0 && wal_scan(wal_dir, 0, note_plan, p, &dmg, &ignored) < 0)
        p->first = p->last = 0;
}

static void damaged(snap_live *out, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void damaged(snap_live *out, int code, const char *fmt, ...)
{
    va_list ap;
    out->kind = SNAP_LIVE_DAMAGED;
    out->code = code;
    va_start(ap, fmt);
    vsnprintf(out->why, sizeof out->why, fmt, ap);
    va_end(ap);
    store_one_line(out->why);
}

/* Whether the aggregate holds exactly the keys the commit counted (1 when
 * there is nothing to compare); otherwise out says damaged. A full scan:
 * done only when tables are unlisted. */
static int keys_match(store *st, snap_live *out)
{
    uint64_t want = 0, have = 0;
    ember_err err = {0};
    int cf = store_cf_index(st, LAYOUT_CF_AGGREGATE);
    if (layout_get_u64(st, META_STATE_KEYS, &want, &err))
        return 1;
    if (cf <= 0 && want) {
        damaged(out, -EMBER_ECORRUPT,
                "the live state has no \"aggregate\" column family, its commit record counts "
                "%" PRIu64 " keys", want);
        return 0;
    }
    if (cf <= 0)
        return 1;
    int rc = store_scan(st, cf, &have, &err);
    if (rc) {
        damaged(out, rc, "%s", err.msg);
        return 0;
    }
    if (have == want)
        return 1;
    damaged(out, -EMBER_ECORRUPT,
            "the live state holds %" PRIu64 " keys in \"aggregate\", its commit record says "
            "%" PRIu64, have, want);
    return 0;
}

uint64_t snap_newest(const char *ckpt_dir)
{
    uint64_t *b = NULL, newest = 0;
    size_t n = 0;
    ember_err ignored = {0};
    if (snap_list(ckpt_dir, &b, &n, &ignored) == 0 && n)
        newest = b[n - 1];
    free(b);
    return newest;
}

void snap_judge_live(const char *ckpt_dir, store *st, uint64_t newest, snap_live *out)
{
    commit_record c = {0};
    ember_err err = {0};
    char table[64] = "";
    memset(out, 0, sizeof *out);
    int rc = commit_read(st, &c, &err);
    if (rc && rc != -ENOENT) {
        damaged(out, rc, "%s", err.msg);
    } else if (rc == -ENOENT) {
        plan_scan p;
        scan_plans(ckpt_dir, &p);
        if (store_unlisted_tables(st, table, sizeof table))
            damaged(out, -EMBER_ECORRUPT,
                    "%s/db: no commit record, but it holds %s, which its RocksDB MANIFEST "
                    "does not list (a truncated MANIFEST opens as an empty db)",
                    ckpt_dir, table);
        else if (newest)
            damaged(out, -EMBER_ECORRUPT,
                    "%s/db: no commit record, but snapshot %" PRIu64 " was taken after a "
                    "commit (a truncated RocksDB MANIFEST opens as an empty db)",
                    ckpt_dir, newest);
        else if (p.last > 1)
            damaged(out, -EMBER_ECORRUPT,
                    "%s/db: no commit record, but the WAL plans batch %" PRIu64
                    " (planned only after batch %" PRIu64 " committed)",
                    ckpt_dir, p.last, p.last - 1);
        else
            out->kind = SNAP_LIVE_FRESH;
    } else if (store_unlisted_tables(st, table, sizeof table) && !keys_match(st, out)) {
        /* Tables the version does not list: after a crash mid-compaction
         * garbage, after a MANIFEST that lost its last records the state
         * (what the RocksDB log replays on top looks like a whole commit). */
        size_t n = strlen(out->why);
        snprintf(out->why + n, sizeof out->why - n, " (%s/db holds %s, which its RocksDB "
                 "MANIFEST does not list)", ckpt_dir, table);
    } else if (c.batch < newest) {
        damaged(out, -EMBER_ECORRUPT,
                "%s/db: its commit record is of batch %" PRIu64 ", older than snapshot %" PRIu64
                " (the state went back in time: a damaged RocksDB MANIFEST?)",
                ckpt_dir, c.batch, newest);
    } else {
        out->kind = SNAP_LIVE_OK;
        out->batch = c.batch;
    }
    commit_free(&c);
}

typedef struct table_check {
    const char *ckpt_dir;
    const manifest *m; /* of the newest snapshot, or NULL */
    uint64_t snap;
    store *st;
    ember_err *err;
} table_check;

/* One live table: the newest snapshot recorded it (tables never change:
 * its size and xxh64 must still be those), or it is newer than that and
 * its key range is read through RocksDB, checksums verified. */
static int check_one_table(void *ctx, const store_table *t)
{
    table_check *c = ctx;
    char rel[PATH_CAP], path[PATH_CAP];
    snprintf(rel, sizeof rel, "db/%s", t->name);
    snprintf(path, sizeof path, "%s/db/%s", c->ckpt_dir, t->name);
    for (size_t i = 0; c->m && i < c->m->n_files; i++) {
        const manifest_file *f = &c->m->files[i];
        uint64_t bytes = 0, hash = 0;
        if (strcmp(f->path, rel) != 0)
            continue;
        int rc = manifest_hash_file(path, &bytes, &hash, c->err);
        if (rc)
            return rc;
        if (bytes == f->bytes && hash == f->xxh64)
            return 0;
        return ember_err_set(c->err, -EMBER_ECORRUPT,
                             "%s: Corruption: the table is not what snapshot %" PRIu64
                             " recorded (%" PRIu64 " bytes, xxh64 %016" PRIx64 "; now %" PRIu64
                             " bytes, %016" PRIx64 ")",
                             path, c->snap, f->bytes, f->xxh64, bytes, hash);
    }
    uint64_t keys = 0;
    return t->cf < 0 ? 0
                     : store_scan_range(c->st, t->cf, t->lo, t->lo_len, t->hi, t->hi_len, &keys,
                                        c->err);
}

/* Before a batch builds on the live state: a block damaged while the job
 * was stopped is found only when read. Tables the newest snapshot has are
 * hashed (fast), newer ones read over their key ranges: the cost follows
 * what changed since the last snapshot. */
static int check_live_tables(const char *ckpt_dir, store *st, uint64_t newest, ember_err *err)
{
    char snap[PATH_CAP];
    manifest m = {0};
    ember_err ignored = {0};
    snap_path(snap, sizeof snap, ckpt_dir, newest);
    int have_m = newest && manifest_read(snap, &m, &ignored) == 0;
    table_check c = {ckpt_dir, have_m ? &m : NULL, newest, st, err};
    int rc = store_each_table(st, check_one_table, &c);
    manifest_free(&m);
    return rc;
}

void snap_check_live(const char *ckpt_dir, snap_live *out)
{
    char db[PATH_CAP];
    struct stat sb;
    store *st = NULL;
    store_opts ro = {.read_only = 1};
    ember_err err = {0};
    memset(out, 0, sizeof *out);
    snprintf(db, sizeof db, "%s/db", ckpt_dir);
    if (lstat(db, &sb) != 0 && errno == ENOENT) {
        out->kind = SNAP_LIVE_MISSING;
        return;
    }
    uint64_t newest = snap_newest(ckpt_dir);
    int rc = store_open(db, NULL, 0, &ro, &st, &err);
    if (rc == -ENOENT && !store_has_db_files(db)) {
        out->kind = SNAP_LIVE_FRESH; /* created, never written (a crash at the start) */
        return;
    }
    if (rc) {
        damaged(out, rc == -ENOENT ? -EMBER_ECORRUPT : rc, "%s", err.msg);
        return;
    }
    snap_judge_live(ckpt_dir, st, newest, out);
    if (out->kind == SNAP_LIVE_OK && out->batch) {
        ember_err terr = {0};
        rc = check_live_tables(ckpt_dir, st, newest, &terr);
        if (rc == -EMBER_ECORRUPT)
            damaged(out, rc, "%s", terr.msg);
    }
    store_close(st);
}

/* Renames path to aside (replacing an older aside), then fsyncs parent. */
static int set_aside(const char *path, const char *aside, const char *parent, ember_err *err)
{
    int rc = io_remove_tree(aside, err);
    if (!rc)
        rc = io_rename(path, aside, err);
    return rc ? rc : io_fsync_dir(parent, err);
}

int snap_set_aside_live(const char *ckpt_dir, ember_err *err)
{
    char db[PATH_CAP], aside[PATH_CAP];
    struct stat sb;
    snprintf(db, sizeof db, "%s/db", ckpt_dir);
    snprintf(aside, sizeof aside, "%s/" SNAP_DAMAGED_LIVE, ckpt_dir);
    if (lstat(db, &sb) != 0)
        return errno == ENOENT ? 0 : ember_err_set(err, -errno, "%s: %s", db, strerror(errno));
    return set_aside(db, aside, ckpt_dir, err);
}

/* A snapshot that failed verification goes to snapshots/damaged-<B>: never
 * listed again (recovery must not fall back to it, and a live state older
 * than it is not taken for one that went back in time), kept for a look. */
static int set_aside_snapshot(const char *ckpt_dir, uint64_t batch, ember_err *err)
{
    char path[PATH_CAP], aside[PATH_CAP], parent[PATH_CAP];
    snap_path(path, sizeof path, ckpt_dir, batch);
    snprintf(aside, sizeof aside, "%s/snapshots/damaged-%020" PRIu64, ckpt_dir, batch);
    snprintf(parent, sizeof parent, "%s/snapshots", ckpt_dir);
    return set_aside(path, aside, parent, err);
}

/* Whether an empty state plus the WAL is all that was ever committed: the
 * WAL plans batch 1, or nothing was kept anywhere (no PLAN, no snapshot, no
 * data in what is left of DIR/db: a start that crashed at once). */
static int empty_state_suffices(const char *ckpt_dir, size_t n_snapshots, int *nothing)
{
    char db[PATH_CAP];
    plan_scan p;
    scan_plans(ckpt_dir, &p);
    snprintf(db, sizeof db, "%s/db", ckpt_dir);
    *nothing = p.first == 0 && n_snapshots == 0 && !store_has_data(db);
    return p.first == 1 || *nothing;
}

/* Nothing verifies and the WAL cannot rebuild from empty: one line that
 * says what to do. */
static int no_state_left(const snap_choose_opts *o, const snap_choice *out, size_t n,
                         ember_err *err)
{
    char none[700];
    if (n)
        snprintf(none, sizeof none,
                 "no snapshot verifies (%s: moved to snapshots/damaged-<batch>)", out->skipped);
    else
        snprintf(none, sizeof none, "there is no snapshot");
    return ember_err_set(err, -EMBER_ECORRUPT, "%s and %s; %s", out->why, none,
                         o && o->replayable
                             ? "`ember run --rebuild` rebuilds the state by re-reading the "
                               "sources from their first offsets"
                             : "the source cannot re-read its input: start fresh with another "
                               "--dir");
}

int snap_choose_state(const char *ckpt_dir, const snap_choose_opts *o, snap_choice *out,
                      ember_err *err)
{
    snap_live live;
    uint64_t *b = NULL;
    size_t n = 0;
    size_t used = 0;
    memset(out, 0, sizeof *out);
    snap_check_live(ckpt_dir, &live);
    if (live.kind == SNAP_LIVE_OK || live.kind == SNAP_LIVE_FRESH) {
        out->action = SNAP_USE_LIVE;
        out->batch = live.batch;
        return 0;
    }
    if (live.kind == SNAP_LIVE_MISSING)
        snprintf(out->why, sizeof out->why, "live state missing");
    else
        snprintf(out->why, sizeof out->why, "live state damaged (%s)", live.why);
    int rc = snap_list(ckpt_dir, &b, &n, err);
    for (size_t i = n; !rc && i > 0; i--) {
        ember_err verr = {0};
        if (snap_verify(ckpt_dir, b[i - 1], NULL, &verr) == 0 &&
            snap_reads_whole(ckpt_dir, b[i - 1], &verr) == 0) {
            if (live.kind == SNAP_LIVE_DAMAGED)
                rc = snap_set_aside_live(ckpt_dir, err);
            if (!rc)
                rc = snap_restore(ckpt_dir, b[i - 1], err);
            out->action = SNAP_RESTORED;
            out->batch = b[i - 1];
            free(b);
            return rc;
        }
        if (o && o->log)
            o->log(o->log_ctx, b[i - 1], verr.msg);
        used += (size_t)snprintf(out->skipped + used, sizeof out->skipped - used,
                                 "%s%" PRIu64, used ? ", " : "", b[i - 1]);
        if (used >= sizeof out->skipped)
            used = sizeof out->skipped - 1;
        rc = set_aside_snapshot(ckpt_dir, b[i - 1], err);
    }
    free(b);
    if (rc)
        return rc;
    int nothing = 0, empty = empty_state_suffices(ckpt_dir, n, &nothing);
    if (nothing && live.kind == SNAP_LIVE_MISSING)
        out->why[0] = '\0'; /* a fresh directory: nothing to say */
    if (empty || (o && o->rebuild)) {
        /* Empty state: the WAL still plans every batch from 1 (replaying it
         * rebuilds exactly what was committed), or --rebuild re-reads the
         * sources from their first offsets. */
        rc = live.kind == SNAP_LIVE_DAMAGED ? snap_set_aside_live(ckpt_dir, err) : 0;
        out->action = empty ? SNAP_START_EMPTY : SNAP_REBUILD;
        return rc;
    }
    return no_state_left(o, out, n, err);
}

/* ------------------------------------------------------------ --rebuild */

typedef struct rebuild_scan {
    uint64_t first, first_time;
    src_range *r;
    size_t n;
    int oom;
} rebuild_scan;

static int note_first_from(const wal_record *rec, void *ctx)
{
    rebuild_scan *s = ctx;
    uint64_t t = 0;
    src_range *ranges = NULL;
    size_t n = 0;
    ember_err ignored = {0};
    if (rec->type != WAL_PLAN || plan_decode(rec->payload, rec->len, &t, &ranges, &n, &ignored))
        return 0;
    if (!s->first) {
        s->first = rec->batch;
        s->first_time = t;
    }
    for (size_t i = 0; i < n; i++) {
        size_t j = 0;
        while (j < s->n && s->r[j].partition != ranges[i].partition)
            j++;
        if (j < s->n)
            continue; /* an earlier PLAN named it */
        src_range *p = realloc(s->r, (s->n + 1) * sizeof *p);
        if (!p) {
            s->oom = 1;
            break;
        }
        s->r = p;
        s->r[s->n++] = (src_range){ranges[i].partition, 0, ranges[i].from};
    }
    free(ranges);
    return 0;
}

int snap_rebuild_batch(const char *ckpt_dir, uint64_t *batch, uint64_t *time_ms,
                       src_range **ranges, size_t *n, ember_err *err)
{
    char wal_dir[PATH_CAP];
    wal_damage dmg = {0};
    struct stat sb;
    rebuild_scan s = {0};
    *batch = *time_ms = 0;
    *ranges = NULL;
    *n = 0;
    snprintf(wal_dir, sizeof wal_dir, "%s/wal", ckpt_dir);
    int rc = stat(wal_dir, &sb) == 0 ? wal_scan(wal_dir, 0, note_first_from, &s, &dmg, err) : 0;
    if (!rc && s.oom)
        rc = ember_err_set(err, -ENOMEM, "out of memory");
    if (rc || s.first <= 1) {
        free(s.r);
        return rc;
    }
    *batch = s.first - 1;
    *time_ms = s.first_time ? s.first_time - 1 : 0;
    *ranges = s.r;
    *n = s.n;
    return 0;
}
