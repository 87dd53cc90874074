/*
 * powerloss: the power-loss simulator (EMBER_POWERLOSS=1, see powerloss.h).
 *
 * It keeps a list of the files written through io_open and a list of the
 * io_renames not yet made durable and, at pl_simulate() (called by the crash
 * failpoint just before SIGKILL), puts the disk into the state a power cut
 * could leave:
 *   - a file is truncated to the length it had at its last io_fsync;
 *   - a file io_open created is unlinked unless its directory was
 *     io_fsync_dir'ed after the create;
 *   - an io_rename whose destination directory was not io_fsync_dir'ed since
 *     is undone (newest first); a replaced target is restored from a hard
 *     link taken at rename time, so the old content comes back.
 * What it does not model: files written by others (RocksDB), unlinks and
 * mkdirs (they stay done), truncations (treated as durable at once), torn or
 * reordered pages inside the unsynced region (all of it is dropped, which is
 * the worst prefix), overwrites inside the synced region, O_TRUNC of an
 * existing file (the truncation is kept), and for a rename across
 * directories only the destination directory's fsync counts. Files that
 * existed before io_open are assumed durable up to their size at open.
 *
 * Locking: pl_lock guards both lists and every record's fields. io calls the
 * file hooks under its own fd-table lock (io before pl, never the reverse),
 * which keeps a record alive until io_close hands it to pl_closed.
 */
#include "core/fault/powerloss.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct pl_file {
    pl_file *next;      /* the next younger record */
    char *path;         /* NULL once the name was replaced by a rename */
    off_t synced_bytes; /* length at the last fsync (or at open) */
    int open;           /* its descriptor is not closed yet */
    int dirty;          /* written since the last fsync */
    int create_pending; /* created by io_open, directory not fsynced since */
    dev_t dir_dev;
    ino_t dir_ino;
};

/* An io_rename not yet made durable by an fsync of the destination dir. */
typedef struct pl_rename_rec {
    struct pl_rename_rec *next; /* the next older rename */
    char *from, *to;
    char *backup; /* hard link to the replaced target, or NULL */
    dev_t dir_dev;
    ino_t dir_ino;
} pl_rename_rec;

static pthread_mutex_t pl_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t pl_once = PTHREAD_ONCE_INIT;
static int pl_on;

static pl_file *pl_files; /* oldest first */
static pl_file **pl_files_end = &pl_files;
static pl_rename_rec *pl_renames; /* newest first: the order to undo them */
static unsigned long pl_backup_seq;

static void pl_read_env(void)
{
    const char *v = getenv("EMBER_POWERLOSS");
    pl_on = v && strcmp(v, "1") == 0;
}

int pl_enabled(void)
{
    pthread_once(&pl_once, pl_read_env);
    return pl_on;
}

/* Identity of path's directory, to match a later pl_dir_synced by inode. */
static int pl_parent_id(const char *path, dev_t *dev, ino_t *ino)
{
    const char *slash = strrchr(path, '/');
    char dir[PATH_MAX];
    struct stat st;

    /* dirname: "a/b/c" -> "a/b", "c" -> ".", "/c" -> "/" */
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else
        snprintf(dir, sizeof dir, "%.*s", slash == path ? 1 : (int)(slash - path), path);
    if (stat(dir, &st) != 0)
        return -errno;
    *dev = st.st_dev;
    *ino = st.st_ino;
    return 0;
}

/* ------------------------------------------------------------ file hooks */

pl_file *pl_track(const char *path, int created, off_t size)
{
    pl_file *f = calloc(1, sizeof *f);

    if (!f || !(f->path = strdup(path))) {
        free(f);
        return NULL; /* untracked: power loss keeps this file as is */
    }
    f->synced_bytes = size;
    f->open = 1;
    f->create_pending = created;
    if (pl_parent_id(path, &f->dir_dev, &f->dir_ino) != 0)
        f->create_pending = 0; /* cannot match a dir fsync; never undo */
    pthread_mutex_lock(&pl_lock);
    *pl_files_end = f;
    pl_files_end = &f->next;
    pthread_mutex_unlock(&pl_lock);
    return f;
}

void pl_will_write(pl_file *f)
{
    if (!f)
        return;
    pthread_mutex_lock(&pl_lock);
    f->dirty = 1;
    pthread_mutex_unlock(&pl_lock);
}

void pl_synced(pl_file *f, off_t bytes)
{
    if (!f)
        return;
    pthread_mutex_lock(&pl_lock);
    f->synced_bytes = bytes;
    f->dirty = 0;
    pthread_mutex_unlock(&pl_lock);
}

void pl_truncated(pl_file *f, off_t bytes)
{
    if (!f)
        return;
    pthread_mutex_lock(&pl_lock);
    if (f->synced_bytes > bytes)
        f->synced_bytes = bytes;
    pthread_mutex_unlock(&pl_lock);
}

/* Forgets files with nothing left to undo. Caller holds pl_lock. */
static void pl_prune(void)
{
    pl_file **pp = &pl_files;

    while (*pp) {
        pl_file *f = *pp;
        if (!f->open && !f->dirty && (!f->create_pending || !f->path)) {
            *pp = f->next;
            free(f->path);
            free(f);
        } else {
            pp = &f->next;
        }
    }
    pl_files_end = pp;
}

void pl_closed(pl_file *f)
{
    if (!pl_enabled())
        return;
    pthread_mutex_lock(&pl_lock);
    if (f)
        f->open = 0;
    pl_prune();
    pthread_mutex_unlock(&pl_lock);
}

/* ------------------------------------------------------------ directory hooks */

/* Replaces prefix `from` by `to` in tracked paths equal to from or under
 * from/ (renames of files and of directories). Caller holds pl_lock. */
static void pl_repath(const char *from, const char *to)
{
    size_t flen = strlen(from);
    for (pl_file *f = pl_files; f; f = f->next) {
        char *np;
        if (!f->path || strncmp(f->path, from, flen) != 0 ||
            (f->path[flen] != '\0' && f->path[flen] != '/'))
            continue;
        if (asprintf(&np, "%s%s", to, f->path + flen) < 0)
            continue;
        free(f->path);
        f->path = np;
    }
}

/* A rename onto a tracked path: the old file there loses its name. */
static void pl_forget_path(const char *path)
{
    for (pl_file *f = pl_files; f; f = f->next)
        if (f->path && strcmp(f->path, path) == 0) {
            free(f->path);
            f->path = NULL;
        }
}

/* Takes a hard link to an existing rename target so an undone rename can
 * bring the old content back. Caller holds pl_lock. */
static char *pl_backup_target(const char *to)
{
    char *backup;
    if (access(to, F_OK) != 0)
        return NULL;
    if (asprintf(&backup, "%s.plbak.%ld.%lu", to, (long)getpid(), ++pl_backup_seq) < 0)
        return NULL;
    if (link(to, backup) != 0) {
        free(backup);
        return NULL; /* a directory or a link failure: undo cannot restore it */
    }
    return backup;
}

/* Frees r; with drop_backup, also unlinks its hard link. */
static void pl_rename_free(pl_rename_rec *r, int drop_backup)
{
    if (drop_backup && r->backup && unlink(r->backup) != 0) {
        /* a stray test-mode link; nothing depends on it */
    }
    free(r->from);
    free(r->to);
    free(r->backup);
    free(r);
}

/* Caller holds pl_lock; takes ownership of backup. */
static void pl_record_rename(const char *from, const char *to, char *backup)
{
    pl_rename_rec *r = calloc(1, sizeof *r);

    if (!r) {
        if (backup && unlink(backup) != 0) {
            /* test-mode leftover only; the rename itself succeeded */
        }
        free(backup);
        return;
    }
    r->backup = backup;
    r->from = strdup(from);
    r->to = strdup(to);
    if (!r->from || !r->to || pl_parent_id(to, &r->dir_dev, &r->dir_ino) != 0) {
        pl_rename_free(r, 1);
        return;
    }
    r->next = pl_renames;
    pl_renames = r;
}

int pl_rename(const char *from, const char *to)
{
    char *backup;
    int rc = 0;

    pthread_mutex_lock(&pl_lock);
    backup = pl_backup_target(to);
    if (rename(from, to) != 0) {
        rc = -errno;
        if (backup && unlink(backup) != 0) {
            /* test-mode leftover only */
        }
        free(backup);
    } else {
        pl_forget_path(to);
        pl_repath(from, to);
        pl_record_rename(from, to, backup);
    }
    pthread_mutex_unlock(&pl_lock);
    return rc;
}

void pl_dir_synced(dev_t dev, ino_t ino)
{
    pl_rename_rec **pp = &pl_renames;

    if (!pl_enabled())
        return;
    pthread_mutex_lock(&pl_lock);
    for (pl_file *f = pl_files; f; f = f->next)
        if (f->dir_dev == dev && f->dir_ino == ino)
            f->create_pending = 0;
    while (*pp) {
        pl_rename_rec *r = *pp;
        if (r->dir_dev == dev && r->dir_ino == ino) {
            *pp = r->next;
            pl_rename_free(r, 1);
        } else {
            pp = &r->next;
        }
    }
    pl_prune();
    pthread_mutex_unlock(&pl_lock);
}

/* ------------------------------------------------------------ the power cut */

void pl_simulate(void)
{
    if (!pl_enabled())
        return;
    pthread_mutex_lock(&pl_lock);
    /* Undo renames newest first, so chains (a->b, b->c) unwind in order;
     * every step is best effort: we are about to SIGKILL ourselves. */
    for (pl_rename_rec *r = pl_renames; r; r = r->next) {
        if (rename(r->to, r->from) != 0)
            continue;
        pl_repath(r->to, r->from);
        if (r->backup && rename(r->backup, r->to) != 0) {
            /* the old target stays lost, as it would without a backup */
        }
    }
    for (pl_file *f = pl_files; f; f = f->next) {
        if (!f->path)
            continue;
        if (f->create_pending) {
            if (unlink(f->path) != 0) {
                /* already gone */
            }
        } else if (f->dirty && truncate(f->path, f->synced_bytes) != 0) {
            /* already gone or replaced: nothing left to drop */
        }
    }
    pthread_mutex_unlock(&pl_lock);
}
