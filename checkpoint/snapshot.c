/*
 * snapshot: creation, listing, pruning, verification and restore of state
 * snapshots (see snapshot.h). Crash safety: a snapshot becomes visible by one
 * rename of a complete, fsynced directory; pruning renames a snapshot to a
 * ".del-" name before removing it, so a half-deleted snapshot is never listed.
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

void snap_path(char *buf, size_t cap, const char *ckpt_dir, uint64_t batch)
{
    snprintf(buf, cap, "%s/snapshots/%020" PRIu64, ckpt_dir, batch);
}

static int fp_check(const char *name, ember_err *err)
{
    int rc = FAILPOINT(name);
    return rc ? ember_err_set(err, rc, "failpoint %s: %s", name, strerror(-rc)) : 0;
}

/* Tables never change: one in the new snapshot that the previous snapshot
 * also has must still hash as that snapshot's MANIFEST says it did when it
 * was linked from the live db. Otherwise the live file was damaged since
 * (bit rot, a stray write), and a snapshot of it would verify against its
 * own MANIFEST with the damage inside: the snapshot fails, and the live db
 * is marked damaged (store_mark_damaged) so the next start restores. */
static int check_unchanged_tables(const char *ckpt_dir, uint64_t batch, const manifest *m,
                                  ember_err *err)
{
    uint64_t *b = NULL, prev = 0;
    size_t n = 0;
    char path[PATH_CAP];
    manifest old = {0};
    ember_err ignored = {0};
    if (snap_list(ckpt_dir, &b, &n, &ignored) == 0)
        for (size_t i = 0; i < n; i++)
            if (b[i] < batch)
                prev = b[i];
    free(b);
    snap_path(path, sizeof path, ckpt_dir, prev);
    if (!prev || manifest_read(path, &old, &ignored) != 0)
        return 0; /* nothing to compare with (a damaged MANIFEST is verify's) */
    int rc = 0;
    for (size_t i = 0; i < m->n_files && !rc; i++) {
        const manifest_file *f = &m->files[i];
        size_t len = strlen(f->path);
        if (len < 4 || strcmp(f->path + len - 4, ".sst") != 0)
            continue;
        for (size_t j = 0; j < old.n_files && !rc; j++) {
            const manifest_file *o = &old.files[j];
            if (strcmp(o->path, f->path) != 0 || (o->bytes == f->bytes && o->xxh64 == f->xxh64))
                continue;
            char db[PATH_CAP];
            rc = ember_err_set(err, -EMBER_ECORRUPT,
                               "%s/%s: Corruption: the table is not what snapshot %" PRIu64
                               " recorded (%" PRIu64 " bytes, xxh64 %016" PRIx64 "; now %" PRIu64
                               " bytes, %016" PRIx64 "): the live db is damaged",
                               ckpt_dir, f->path, prev, o->bytes, o->xxh64, f->bytes, f->xxh64);
            snprintf(db, sizeof db, "%s/db", ckpt_dir);
            if (store_mark_damaged(db, err->msg) == 0) {
                size_t k = strlen(err->msg);
                snprintf(err->msg + k, sizeof err->msg - k, " (state marked damaged: the next "
                         "start restores the newest snapshot that verifies)");
            }
        }
    }
    manifest_free(&old);
    return rc;
}

static int write_manifest(const char *ckpt_dir, const char *dir, uint64_t batch,
                          uint64_t created_ms, const src_range *ends, size_t n_ends,
                          uint64_t job_hash, ember_err *err)
{
    manifest m = {.batch = batch, .created_ms = created_ms, .job_hash = job_hash};
    int rc = -ENOMEM;
    m.offsets = calloc(n_ends ? n_ends : 1, sizeof *m.offsets);
    if (!m.offsets) {
        ember_err_set(err, rc, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n_ends; i++)
        m.offsets[i] = (manifest_offset){ends[i].partition, ends[i].to};
    m.n_offsets = n_ends;
    rc = manifest_collect_files(dir, &m, err);
    if (!rc)
        rc = check_unchanged_tables(ckpt_dir, batch, &m, err);
    if (!rc)
        rc = manifest_write(dir, &m, err);
out:
    manifest_free(&m);
    return rc;
}

/* Every column family of the db at db_dir read whole with RocksDB's block
 * checksums: a table that was already damaged in the live db when a
 * snapshot linked it matches the snapshot's MANIFEST, not RocksDB's own
 * checksums. Read-only: a snapshot still matches its MANIFEST after. */
static int reads_whole(const char *db_dir, ember_err *err)
{
    store *st = NULL;
    store_opts ro = {.read_only = 1};
    int rc = store_open(db_dir, NULL, 0, &ro, &st, err);
    for (size_t cf = 0; !rc && cf < store_cf_count(st); cf++) {
        uint64_t keys = 0;
        rc = store_scan(st, (int)cf, &keys, err);
    }
    store_close(st);
    return rc;
}

int snap_reads_whole(const char *ckpt_dir, uint64_t batch, ember_err *err)
{
    char db[PATH_CAP];
    snap_path(db, sizeof db, ckpt_dir, batch);
    strncat(db, "/db", sizeof db - strlen(db) - 1);
    return reads_whole(db, err);
}

int snap_create(const char *ckpt_dir, store *st, uint64_t batch, uint64_t created_ms,
                const src_range *ends, size_t n_ends, uint64_t job_hash, ember_err *err)
{
    char tmp[PATH_CAP], db[PATH_CAP], final[PATH_CAP], parent[PATH_CAP];
    snprintf(parent, sizeof parent, "%s/snapshots", ckpt_dir);
    snprintf(tmp, sizeof tmp, "%s/.tmp-%020" PRIu64, parent, batch);
    snprintf(db, sizeof db, "%s/db", tmp);
    snap_path(final, sizeof final, ckpt_dir, batch);

    int rc = io_remove_tree(tmp, err);
    if (!rc)
        rc = io_mkdir_p(tmp, err);
    if (!rc)
        rc = store_checkpoint(st, db, err);
    if (!rc)
        rc = fp_check("snapshot.mid_copy", err);
    if (!rc)
        rc = write_manifest(ckpt_dir, tmp, batch, created_ms, ends, n_ends, job_hash, err);

    if (!rc)
        rc = io_fsync_dir(db, err);
    if (!rc)
        rc = fp_check("snapshot.before_rename", err);
    if (!rc)
        rc = io_remove_tree(final, err); /* a replayed batch re-snapshots */
    if (!rc)
        rc = io_rename(tmp, final, err);
    if (!rc)
        rc = io_fsync_dir(parent, err);
    if (!rc)
        rc = fp_check("snapshot.after_rename", err);
    if (rc)
        ember_err_prefix(err, "snapshot %" PRIu64, batch);
    return rc;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static int is_snapshot_name(const char *name, uint64_t *batch)
{
    if (strlen(name) != 20 || strspn(name, "0123456789") != 20)
        return 0;
    *batch = strtoull(name, NULL, 10);
    return 1;
}

int snap_list(const char *ckpt_dir, uint64_t **batches, size_t *n, ember_err *err)
{
    char dir[PATH_CAP];
    size_t cap = 0;
    snprintf(dir, sizeof dir, "%s/snapshots", ckpt_dir);
    *batches = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT ? 0 : ember_err_set(err, -errno, "%s: %s", dir, strerror(errno));
    for (struct dirent *e; (e = readdir(d));) {
        uint64_t b;
        if (!is_snapshot_name(e->d_name, &b))
            continue;
        if (em_array_reserve(batches, &cap, *n + 1, sizeof **batches)) {
            closedir(d);
            return ember_err_set(err, -ENOMEM, "out of memory");
        }
        (*batches)[(*n)++] = b;
    }
    closedir(d);
    if (*n)
        qsort(*batches, *n, sizeof **batches, cmp_u64);
    return 0;
}

static int delete_snapshot(const char *ckpt_dir, uint64_t batch, ember_err *err)
{
    char path[PATH_CAP], doomed[PATH_CAP];
    snap_path(path, sizeof path, ckpt_dir, batch);
    snprintf(doomed, sizeof doomed, "%s/snapshots/.del-%020" PRIu64, ckpt_dir, batch);
    int rc = io_rename(path, doomed, err);
    if (!rc)
        rc = fp_check("snapshot.prune", err);
    if (!rc)
        rc = io_remove_tree(doomed, err);
    return rc;
}

/* Copies one file durably (snapshot files must stay immutable, so never a
 * hard link for files RocksDB appends to, like its MANIFEST). */
static int copy_file(const char *from, const char *to, ember_err *err)
{
    char *buf = NULL;
    size_t n = 0;
    int rc = io_read_file(from, &buf, &n, err);
    if (rc)
        return rc;
    int fd = io_open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644, err);
    if (fd < 0) {
        free(buf);
        return fd;
    }
    rc = io_write_all(fd, buf, n, err);
    if (!rc)
        rc = io_fsync(fd, err);
    int crc = io_close(fd, err);
    free(buf);
    return rc ? rc : crc;
}


/* The name a file being unshared is copied to first: outside every db/ (a
 * crash must not leave a file the MANIFEST does not list), removed by
 * snap_cleanup. */
static void unshare_tmp(char *buf, size_t cap, const char *ckpt_dir)
{
    snprintf(buf, cap, "%s/snapshots/.tmp-unshare", ckpt_dir);
}

/* Gives snapshot `batch` its own copy of every file it shares with the live
 * db or another snapshot (a RocksDB checkpoint hard-links tables): each is
 * copied aside, fsynced and renamed over its name, so the bytes and the
 * MANIFEST stay the same and only the inode changes. Idempotent. */
static int unshare(const char *ckpt_dir, uint64_t batch, ember_err *err)
{
    char db[PATH_CAP], tmp[PATH_CAP];
    snap_path(db, sizeof db, ckpt_dir, batch);
    strncat(db, "/db", sizeof db - strlen(db) - 1);
    unshare_tmp(tmp, sizeof tmp, ckpt_dir);
    DIR *d = opendir(db);
    if (!d)
        return ember_err_set(err, -errno, "%s: %s", db, strerror(errno));
    int rc = 0, changed = 0;
    for (struct dirent *e; !rc && (e = readdir(d));) {
        char path[PATH_CAP];
        struct stat sb;
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "%s/%s", db, e->d_name);
        if (lstat(path, &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_nlink < 2)
            continue;
        rc = copy_file(path, tmp, err);
        if (!rc)
            rc = fp_check("snapshot.unshare", err);
        if (!rc)
            rc = io_rename(tmp, path, err);
        changed = 1;
    }
    closedir(d);
    if (!rc && changed)
        rc = io_fsync_dir(db, err);
    return rc;
}

int snap_independent(const char *ckpt_dir, uint64_t batch)
{
    char db[PATH_CAP];
    snap_path(db, sizeof db, ckpt_dir, batch);
    strncat(db, "/db", sizeof db - strlen(db) - 1);
    DIR *d = opendir(db);
    int alone = d != NULL;
    for (struct dirent *e; alone && (e = readdir(d));) {
        char path[PATH_CAP];
        struct stat sb;
        snprintf(path, sizeof path, "%s/%s", db, e->d_name);
        if (e->d_name[0] != '.' && lstat(path, &sb) == 0 && S_ISREG(sb.st_mode))
            alone = sb.st_nlink == 1;
    }
    if (d)
        closedir(d);
    return alone;
}

/* The oldest kept snapshot is made independent before anything older is
 * deleted, so at every moment one snapshot shares no file with the live db
 * or the others: one damaged or missing file leaves it (or the live state)
 * whole, and the WAL is kept from the oldest kept snapshot on. */
int snap_prune(const char *ckpt_dir, size_t keep, uint64_t *oldest_kept, ember_err *err)
{
    uint64_t *b = NULL;
    size_t n = 0;
    int rc = snap_list(ckpt_dir, &b, &n, err);
    size_t first = n > keep ? n - keep : 0; /* == n: none kept (keep=0) */
    if (!rc && first < n)
        rc = unshare(ckpt_dir, b[first], err);
    for (size_t i = 0; !rc && i < first; i++)
        rc = delete_snapshot(ckpt_dir, b[i], err);
    *oldest_kept = first < n ? b[first] : 0;
    free(b);
    return rc;
}

int snap_verify(const char *ckpt_dir, uint64_t batch, manifest *out, ember_err *err)
{
    char path[PATH_CAP];
    manifest m = {0};
    snap_path(path, sizeof path, ckpt_dir, batch);
    int rc = manifest_read(path, &m, err);
    if (!rc && m.batch != batch)
        rc = ember_err_set(err, -EMBER_ECORRUPT, "%s/MANIFEST: says batch %" PRIu64, path,
                           m.batch);
    if (!rc)
        rc = manifest_verify_files(path, &m, err);
    if (rc || !out)
        manifest_free(&m);
    else
        *out = m;
    return rc;
}

static int copy_db(const char *from_dir, const char *to_dir, ember_err *err)
{
    int rc = io_mkdir_p(to_dir, err);
    DIR *d = rc ? NULL : opendir(from_dir);
    if (!rc && !d)
        return ember_err_set(err, -errno, "%s: %s", from_dir, strerror(errno));
    for (struct dirent *e; !rc && (e = readdir(d));) {
        char a[PATH_CAP], b[PATH_CAP];
        if (e->d_name[0] == '.')
            continue;
        snprintf(a, sizeof a, "%s/%s", from_dir, e->d_name);
        snprintf(b, sizeof b, "%s/%s", to_dir, e->d_name);
        rc = copy_file(a, b, err);
    }
    if (d)
        closedir(d);
    return rc ? rc : io_fsync_dir(to_dir, err);
}

int snap_restore(const char *ckpt_dir, uint64_t batch, ember_err *err)
{
    char snap[PATH_CAP], from[PATH_CAP], tmp[PATH_CAP], live[PATH_CAP], old[PATH_CAP];
    snap_path(snap, sizeof snap, ckpt_dir, batch);
    snprintf(from, sizeof from, "%s/db", snap);
    snprintf(tmp, sizeof tmp, "%s/db.restoring", ckpt_dir);
    snprintf(live, sizeof live, "%s/db", ckpt_dir);
    snprintf(old, sizeof old, "%s/db.old", ckpt_dir);

    int rc = io_remove_tree(tmp, err);
    if (!rc)
        rc = copy_db(from, tmp, err);
    if (!rc)
        rc = io_remove_tree(old, err);
    if (!rc && access(live, F_OK) == 0)
        rc = io_rename(live, old, err);
    if (!rc)
        rc = io_rename(tmp, live, err);
    if (!rc)
        rc = io_fsync_dir(ckpt_dir, err);
    if (!rc)
        rc = io_remove_tree(old, err);
    if (rc)
        ember_err_prefix(err, "restore of snapshot %" PRIu64, batch);
    return rc;
}

int snap_cleanup(const char *ckpt_dir, ember_err *err)
{
    char dir[PATH_CAP];
    snprintf(dir, sizeof dir, "%s/snapshots", ckpt_dir);
    DIR *d = opendir(dir);
    int rc = 0;
    if (!d)
        return 0;
    for (struct dirent *e; !rc && (e = readdir(d));) {
        char path[PATH_CAP];
        if (strncmp(e->d_name, ".tmp-", 5) != 0 && strncmp(e->d_name, ".del-", 5) != 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        rc = io_remove_tree(path, err);
    }
    closedir(d);
    snprintf(dir, sizeof dir, "%s/db.restoring", ckpt_dir);
    return rc ? rc : io_remove_tree(dir, err);
}
