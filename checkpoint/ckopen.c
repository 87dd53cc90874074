/*
 * ckopen: read-only opens of a checkpoint's live state and snapshots (see
 * ckopen.h). RocksDB is opened read-only: it never writes to a read-only
 * db directory, so a snapshot still matches its MANIFEST after being read.
 */
#include "checkpoint/ckopen.h"
#include "checkpoint/snapshot.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int ck_open(const char *dir, uint64_t snapshot, store **st, ember_err *err)
{
    char db[4300];
    struct stat sb;
    store_opts o = {.read_only = 1};
    if (snapshot)
        snprintf(db, sizeof db, "%s/snapshots/%020" PRIu64 "/db", dir, snapshot);
    else
        snprintf(db, sizeof db, "%s/db", dir);
    if (stat(db, &sb) != 0 && errno == ENOENT)
        return snapshot ? ember_err_set(err, -ENOENT, "%s: no snapshot %" PRIu64, dir, snapshot)
                        : ember_err_set(err, -ENOENT, "%s/db: missing (no live state)", dir);
    if (access(db, R_OK | X_OK) != 0) /* RocksDB would call it "no state db here" */
        return ember_err_set(err, -errno, "%s: %s", db, strerror(errno));
    /* A running job may delete a file (an old RocksDB MANIFEST, a compacted
     * table) between our reading of CURRENT and opening it: try again. A
     * job's snapshots are listed first: each came after its commit. */
    int rc = 0;
    uint64_t newest = snapshot ? 0 : snap_newest(dir);
    for (useconds_t wait_us = 10000; wait_us <= 80000; wait_us *= 2) {
        memset(err, 0, sizeof *err);
        if (!(rc = store_open(db, NULL, 0, &o, st, err)) || access(db, F_OK) != 0)
            break;
        usleep(wait_us);
    }
    if (rc == -ENOENT) /* db/ without CURRENT: not "missing", damaged */
        rc = store_has_db_files(db) ? ember_err_set(err, -EMBER_ECORRUPT,
                                                    "%s: RocksDB files but no CURRENT: damaged",
                                                    db)
                                    : -ENOENT;
    if (!rc && !snapshot) {
        snap_live live;
        snap_judge_live(dir, *st, newest, &live);
        if (live.kind == SNAP_LIVE_DAMAGED) {
            store_close(*st);
            *st = NULL;
            rc = ember_err_set(err, live.code, "%s", live.why);
        }
    }
    return rc;
}

int ck_read_commit(const char *dir, uint64_t snapshot, commit_record *c, ember_err *err)
{
    store *st = NULL;
    memset(c, 0, sizeof *c);
    int rc = ck_open(dir, snapshot, &st, err);
    if (rc)
        return rc == -ENOENT ? -EIO : rc; /* -ENOENT means "nothing committed" */
    rc = commit_read(st, c, err);
    store_close(st);
    return rc;
}

uint64_t ck_du(const char *path)
{
    struct stat sb;
    if (lstat(path, &sb) != 0)
        return 0;
    if (!S_ISDIR(sb.st_mode))
        return S_ISREG(sb.st_mode) ? (uint64_t)sb.st_size : 0;
    uint64_t total = 0;
    DIR *d = opendir(path);
    for (struct dirent *e; d && (e = readdir(d));) {
        char sub[4200];
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
        total += ck_du(sub);
    }
    if (d)
        closedir(d);
    return total;
}
