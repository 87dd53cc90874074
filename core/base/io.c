/*
 * io: the durable-file layer under the WAL, manifests, sink files and the
 * JOB file. Each call names the path and strerror in its error
 * ("write ckpt/wal/00000000000000000001.wal: No space left on device") and
 * consults a failpoint: io.open, io.write (also ftruncate), io.fsync (files
 * and directories), io.rename. io.write armed with "short" writes half the
 * buffer and then fails, as a full disk does.
 *
 * Power-loss mode (EMBER_POWERLOSS=1, read on first use) keeps a table of
 * files written through io_open and, at io_simulate_power_loss() (called by
 * the crash failpoint just before SIGKILL), puts the disk into the state a
 * power cut could leave:
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
 */
#include "core/base/io.h"
#include "core/fault/failpoint.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A file written through io, remembered for power-loss mode. */
typedef struct io_file {
    char *path; /* NULL once the name was replaced by a rename */
    off_t synced_bytes;
    int open_fds;
    int dirty;          /* written since the last fsync */
    int create_pending; /* created by io_open, directory not fsynced since */
    dev_t dir_dev;
    ino_t dir_ino;
} io_file;

/* An io_rename not yet made durable by an fsync of the destination dir. */
typedef struct io_rename_rec {
    char *from, *to;
    char *backup; /* hard link to the replaced target, or NULL */
    dev_t dir_dev;
    ino_t dir_ino;
} io_rename_rec;

typedef struct io_fd {
    char *path;
    io_file *file; /* power-loss mode only */
} io_fd;

static pthread_mutex_t io_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t io_once = PTHREAD_ONCE_INIT;
static int io_powerloss;

static io_fd *io_fds; /* indexed by fd, grown on demand */
static size_t io_fds_cap;
static io_file **io_files;
static size_t io_files_n, io_files_cap;
static io_rename_rec *io_renames;
static size_t io_renames_n, io_renames_cap;
static unsigned long io_backup_seq;

static void io_read_env(void)
{
    const char *v = getenv("EMBER_POWERLOSS");
    io_powerloss = v && strcmp(v, "1") == 0;
}

static void io_init(void)
{
    pthread_once(&io_once, io_read_env);
}

/* Grows *arr (of elem-byte items) so index `need` fits; zero-fills. */
static int io_grow(void **arr, size_t *cap, size_t need, size_t elem)
{
    size_t ncap = *cap ? *cap : 16;
    void *p;

    if (need < *cap)
        return 0;
    while (ncap <= need)
        ncap *= 2;
    p = realloc(*arr, ncap * elem);
    if (!p)
        return -ENOMEM;
    memset((char *)p + *cap * elem, 0, (ncap - *cap) * elem);
    *arr = p;
    *cap = ncap;
    return 0;
}

/* ------------------------------------------------------------ fd table */

/* Copies the path remembered for fd into buf (or "fd N"). */
static const char *io_fd_name(int fd, char *buf, size_t cap)
{
    pthread_mutex_lock(&io_lock);
    if (fd >= 0 && (size_t)fd < io_fds_cap && io_fds[fd].path)
        snprintf(buf, cap, "%s", io_fds[fd].path);
    else
        snprintf(buf, cap, "fd %d", fd);
    pthread_mutex_unlock(&io_lock);
    return buf;
}

static int io_fail(ember_err *err, int code, const char *op, const char *path)
{
    return ember_err_set(err, code, "%s %s: %s", op, path, strerror(-code));
}

static int io_fail_fd(ember_err *err, int code, const char *op, int fd)
{
    char name[PATH_MAX];
    return io_fail(err, code, op, io_fd_name(fd, name, sizeof name));
}

/* ------------------------------------------------------------ power-loss bookkeeping */

/* dirname into buf: "a/b/c" -> "a/b", "c" -> ".", "/c" -> "/". */
static void io_dirname(const char *path, char *buf, size_t cap)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(buf, cap, ".");
    else if (slash == path)
        snprintf(buf, cap, "/");
    else
        snprintf(buf, cap, "%.*s", (int)(slash - path), path);
}

/* Identity of path's directory, to match a later io_fsync_dir by inode. */
static int io_parent_id(const char *path, dev_t *dev, ino_t *ino)
{
    char dir[PATH_MAX];
    struct stat st;

    io_dirname(path, dir, sizeof dir);
    if (stat(dir, &st) != 0)
        return -errno;
    *dev = st.st_dev;
    *ino = st.st_ino;
    return 0;
}

/* Caller holds io_lock. */
static io_file *pl_track(const char *path, int created, off_t size)
{
    io_file *f = calloc(1, sizeof *f);

    if (!f || io_grow((void **)&io_files, &io_files_cap, io_files_n, sizeof *io_files))
        goto out_free;
    f->path = strdup(path);
    if (!f->path)
        goto out_free;
    f->synced_bytes = size;
    f->create_pending = created;
    if (io_parent_id(path, &f->dir_dev, &f->dir_ino) != 0)
        f->create_pending = 0; /* cannot match a dir fsync; never undo */
    io_files[io_files_n++] = f;
    return f;
out_free:
    if (f)
        free(f->path);
    free(f);
    return NULL; /* untracked: power loss keeps this file as is */
}

/* Forgets files with nothing left to undo. Caller holds io_lock. */
static void pl_prune(void)
{
    size_t keep = 0;
    for (size_t i = 0; i < io_files_n; i++) {
        io_file *f = io_files[i];
        if (f->open_fds == 0 && !f->dirty && (!f->create_pending || !f->path)) {
            free(f->path);
            free(f);
        } else {
            io_files[keep++] = f;
        }
    }
    io_files_n = keep;
}

/* Replaces prefix `from` by `to` in tracked paths equal to from or under
 * from/ (renames of files and of directories). Caller holds io_lock. */
static void pl_repath(const char *from, const char *to)
{
    size_t flen = strlen(from);
    for (size_t i = 0; i < io_files_n; i++) {
        io_file *f = io_files[i];
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
    for (size_t i = 0; i < io_files_n; i++)
        if (io_files[i]->path && strcmp(io_files[i]->path, path) == 0) {
            free(io_files[i]->path);
            io_files[i]->path = NULL;
        }
}

/* Takes a hard link to an existing rename target so an undone rename can
 * bring the old content back. Caller holds io_lock. */
static char *pl_backup_target(const char *to)
{
    char *backup;
    if (access(to, F_OK) != 0)
        return NULL;
    if (asprintf(&backup, "%s.plbak.%ld.%lu", to, (long)getpid(), ++io_backup_seq) < 0)
        return NULL;
    if (link(to, backup) != 0) {
        free(backup);
        return NULL; /* a directory or a link failure: undo cannot restore it */
    }
    return backup;
}

static void pl_rename_free(io_rename_rec *r)
{
    free(r->from);
    free(r->to);
    free(r->backup);
}

static void pl_record_rename(const char *from, const char *to, char *backup)
{
    io_rename_rec r = {0};

    r.backup = backup;
    r.from = strdup(from);
    r.to = strdup(to);
    if (!r.from || !r.to || io_parent_id(to, &r.dir_dev, &r.dir_ino) != 0 ||
        io_grow((void **)&io_renames, &io_renames_cap, io_renames_n, sizeof *io_renames)) {
        if (backup && unlink(backup) != 0) {
            /* test-mode leftover only; the rename itself succeeded */
        }
        pl_rename_free(&r);
        return;
    }
    io_renames[io_renames_n++] = r;
}

/* The directory (dev, ino) was fsynced: creates and renames in it are now
 * durable. Caller holds io_lock. */
static void pl_dir_synced(dev_t dev, ino_t ino)
{
    size_t keep = 0;

    for (size_t i = 0; i < io_files_n; i++)
        if (io_files[i]->dir_dev == dev && io_files[i]->dir_ino == ino)
            io_files[i]->create_pending = 0;
    for (size_t i = 0; i < io_renames_n; i++) {
        io_rename_rec *r = &io_renames[i];
        if (r->dir_dev == dev && r->dir_ino == ino) {
            if (r->backup && unlink(r->backup) != 0) {
                /* a stray test-mode link; nothing depends on it */
            }
            pl_rename_free(r);
        } else {
            io_renames[keep++] = *r;
        }
    }
    io_renames_n = keep;
    pl_prune();
}

void io_simulate_power_loss(void)
{
    io_init();
    if (!io_powerloss)
        return;
    pthread_mutex_lock(&io_lock);
    /* Undo renames newest first, so chains (a->b, b->c) unwind in order;
     * every step is best effort: we are about to SIGKILL ourselves. */
    for (size_t i = io_renames_n; i-- > 0;) {
        io_rename_rec *r = &io_renames[i];
        if (rename(r->to, r->from) != 0)
            continue;
        pl_repath(r->to, r->from);
        if (r->backup && rename(r->backup, r->to) != 0) {
            /* the old target stays lost, as it would without a backup */
        }
    }
    for (size_t i = 0; i < io_files_n; i++) {
        io_file *f = io_files[i];
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
    pthread_mutex_unlock(&io_lock);
}

/* ------------------------------------------------------------ files */

static int io_remember_fd(int fd, const char *path, int created, off_t size)
{
    int rc = 0;

    pthread_mutex_lock(&io_lock);
    if (io_grow((void **)&io_fds, &io_fds_cap, (size_t)fd, sizeof *io_fds) != 0) {
        rc = -ENOMEM;
        goto out_unlock;
    }
    free(io_fds[fd].path);
    io_fds[fd].path = strdup(path);
    io_fds[fd].file = NULL;
    if (!io_fds[fd].path) {
        rc = -ENOMEM;
        goto out_unlock;
    }
    if (io_powerloss) {
        io_file *f = pl_track(path, created, size);
        if (f)
            f->open_fds++;
        io_fds[fd].file = f;
    }
out_unlock:
    pthread_mutex_unlock(&io_lock);
    return rc;
}

int io_open(const char *path, int flags, int mode, ember_err *err)
{
    int rc, fd, existed = 1;
    struct stat st;

    io_init();
    if ((rc = FAILPOINT("io.open")) < 0)
        return io_fail(err, rc == -EFBIG ? -EIO : rc, "open", path);
    if (io_powerloss && (flags & O_CREAT))
        existed = access(path, F_OK) == 0;
    fd = open(path, flags | O_CLOEXEC, mode);
    if (fd < 0)
        return io_fail(err, -errno, "open", path);
    if (fstat(fd, &st) != 0) {
        rc = io_fail(err, -errno, "stat", path);
        goto out_close;
    }
    if ((rc = io_remember_fd(fd, path, !existed, st.st_size)) != 0) {
        rc = io_fail(err, rc, "open", path);
        goto out_close;
    }
    return fd;
out_close:
    close(fd);
    return rc;
}

static void io_mark_dirty(int fd)
{
    pthread_mutex_lock(&io_lock);
    if ((size_t)fd < io_fds_cap && io_fds[fd].file)
        io_fds[fd].file->dirty = 1;
    pthread_mutex_unlock(&io_lock);
}

static int io_write_raw(int fd, const void *buf, size_t n)
{
    const char *p = buf;
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -errno;
        if (w == 0)
            return -EIO;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int io_write_all(int fd, const void *buf, size_t n, ember_err *err)
{
    int rc = FAILPOINT("io.write");
    char name[PATH_MAX];

    if (io_powerloss)
        io_mark_dirty(fd);
    if (rc == -EFBIG) {
        /* a short write, as from a disk filling up: half lands, then failure */
        if ((rc = io_write_raw(fd, buf, n / 2)) == 0)
            return ember_err_set(err, -EIO, "write %s: short write (%zu of %zu bytes)",
                                 io_fd_name(fd, name, sizeof name), n / 2, n);
    }
    if (rc == 0)
        rc = io_write_raw(fd, buf, n);
    return rc ? io_fail_fd(err, rc, "write", fd) : 0;
}

static void io_mark_synced(int fd)
{
    struct stat st;

    if (fstat(fd, &st) != 0)
        return; /* keep the older synced length: more is dropped, never less */
    pthread_mutex_lock(&io_lock);
    if ((size_t)fd < io_fds_cap && io_fds[fd].file) {
        io_fds[fd].file->synced_bytes = st.st_size;
        io_fds[fd].file->dirty = 0;
    }
    pthread_mutex_unlock(&io_lock);
}

int io_fsync(int fd, ember_err *err)
{
    int rc = FAILPOINT("io.fsync");

    if (rc == 0 && fsync(fd) != 0)
        rc = -errno;
    if (rc)
        return io_fail_fd(err, rc == -EFBIG ? -EIO : rc, "fsync", fd);
    if (io_powerloss)
        io_mark_synced(fd);
    return 0;
}

int io_close(int fd, ember_err *err)
{
    char name[PATH_MAX];
    io_file *f = NULL;

    io_fd_name(fd, name, sizeof name);
    pthread_mutex_lock(&io_lock);
    if (fd >= 0 && (size_t)fd < io_fds_cap) {
        free(io_fds[fd].path);
        io_fds[fd].path = NULL;
        f = io_fds[fd].file;
        io_fds[fd].file = NULL;
        if (f)
            f->open_fds--;
        pl_prune();
    }
    pthread_mutex_unlock(&io_lock);
    /* Linux releases the fd even when close fails, so never retry it. */
    if (close(fd) != 0)
        return io_fail(err, -errno, "close", name);
    return 0;
}

int io_fsync_dir(const char *dir, ember_err *err)
{
    int rc = FAILPOINT("io.fsync");
    struct stat st;
    int fd;

    if (rc)
        return io_fail(err, rc == -EFBIG ? -EIO : rc, "fsync", dir);
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return io_fail(err, -errno, "open", dir);
    if (fsync(fd) != 0 || fstat(fd, &st) != 0) {
        rc = io_fail(err, -errno, "fsync", dir);
        goto out_close;
    }
    io_init();
    if (io_powerloss) {
        pthread_mutex_lock(&io_lock);
        pl_dir_synced(st.st_dev, st.st_ino);
        pthread_mutex_unlock(&io_lock);
    }
out_close:
    close(fd); /* read-only directory fd: nothing to lose on close */
    return rc;
}

int io_rename(const char *from, const char *to, ember_err *err)
{
    int rc = FAILPOINT("io.rename");
    char *backup = NULL;

    if (rc)
        return ember_err_set(err, rc == -EFBIG ? -EIO : rc, "rename %s -> %s: %s", from, to,
                             strerror(rc == -EFBIG ? EIO : -rc));
    io_init();
    if (io_powerloss) {
        pthread_mutex_lock(&io_lock);
        backup = pl_backup_target(to);
    }
    if (rename(from, to) != 0) {
        rc = ember_err_set(err, -errno, "rename %s -> %s: %s", from, to, strerror(errno));
        if (backup && unlink(backup) != 0) {
            /* test-mode leftover only */
        }
        free(backup);
    } else if (io_powerloss) {
        pl_forget_path(to);
        pl_repath(from, to);
        pl_record_rename(from, to, backup);
    }
    if (io_powerloss)
        pthread_mutex_unlock(&io_lock);
    return rc;
}

int io_truncate(int fd, off_t len, ember_err *err)
{
    int rc = FAILPOINT("io.write");

    if (rc == 0 && ftruncate(fd, len) != 0)
        rc = -errno;
    if (rc)
        return io_fail_fd(err, rc == -EFBIG ? -EIO : rc, "truncate", fd);
    if (io_powerloss) {
        pthread_mutex_lock(&io_lock);
        if ((size_t)fd < io_fds_cap && io_fds[fd].file && io_fds[fd].file->synced_bytes > len)
            io_fds[fd].file->synced_bytes = len;
        pthread_mutex_unlock(&io_lock);
    }
    return 0;
}

/* Writes, fsyncs and closes a new file at tmp. */
static int io_write_new(const char *tmp, const void *buf, size_t n, ember_err *err)
{
    int fd = io_open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644, err);
    int rc;

    if (fd < 0)
        return fd;
    if ((rc = io_write_all(fd, buf, n, err)) != 0 || (rc = io_fsync(fd, err)) != 0) {
        ember_err scratch;
        if (io_close(fd, &scratch) != 0) {
            /* the write already failed; its error is the one to report */
        }
        return rc;
    }
    return io_close(fd, err);
}

int io_write_file_atomic(const char *path, const void *buf, size_t n, ember_err *err)
{
    char tmp[PATH_MAX], dir[PATH_MAX];
    int rc;

    if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof tmp)
        return ember_err_set(err, -ENAMETOOLONG, "write %s: path too long", path);
    io_dirname(path, dir, sizeof dir);
    if ((rc = io_write_new(tmp, buf, n, err)) != 0)
        goto out_unlink_tmp;
    if ((rc = io_rename(tmp, path, err)) != 0)
        goto out_unlink_tmp;
    /* the rename is only durable once the directory entry is */
    return io_fsync_dir(dir, err);
out_unlink_tmp:
    if (unlink(tmp) != 0) {
        /* a stray temp file is harmless: readers only open `path` */
    }
    return rc;
}

int io_read_file(const char *path, char **buf, size_t *n, ember_err *err)
{
    struct stat st;
    size_t got = 0;
    char *data = NULL;
    int rc = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0)
        return io_fail(err, -errno, "open", path);
    if (fstat(fd, &st) != 0) {
        rc = io_fail(err, -errno, "stat", path);
        goto out_close;
    }
    data = malloc((size_t)st.st_size + 1);
    if (!data) {
        rc = io_fail(err, -ENOMEM, "read", path);
        goto out_close;
    }
    /* reads up to the size seen at open; a file growing meanwhile is cut there */
    while (got < (size_t)st.st_size) {
        ssize_t r = read(fd, data + got, (size_t)st.st_size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = io_fail(err, -errno, "read", path);
            goto out_free;
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }
    data[got] = '\0';
    *buf = data;
    *n = got;
    goto out_close;
out_free:
    free(data);
out_close:
    close(fd); /* read-only fd */
    return rc;
}

/* mkdir one component; a new directory is made durable in its parent. */
static int io_mkdir_one(const char *path, ember_err *err)
{
    char parent[PATH_MAX];
    struct stat st;

    if (mkdir(path, 0755) == 0) {
        io_dirname(path, parent, sizeof parent);
        return io_fsync_dir(parent, err);
    }
    if (errno != EEXIST)
        return io_fail(err, -errno, "mkdir", path);
    if (stat(path, &st) != 0)
        return io_fail(err, -errno, "stat", path);
    if (!S_ISDIR(st.st_mode))
        return io_fail(err, -ENOTDIR, "mkdir", path);
    return 0;
}

int io_mkdir_p(const char *path, ember_err *err)
{
    char buf[PATH_MAX];
    size_t len = strlen(path);
    int rc;

    if (len == 0 || len >= sizeof buf)
        return ember_err_set(err, -EINVAL, "mkdir '%s': bad path", path);
    memcpy(buf, path, len + 1);
    while (len > 1 && buf[len - 1] == '/')
        buf[--len] = '\0';
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        rc = io_mkdir_one(buf, err);
        *p = '/';
        if (rc)
            return rc;
    }
    return io_mkdir_one(buf, err);
}

static int io_remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    if (type == FTW_DP ? rmdir(path) : unlink(path))
        return errno ? errno : EIO;
    return 0;
}

int io_remove_tree(const char *path, ember_err *err)
{
    struct stat st;
    int rc;

    if (lstat(path, &st) != 0)
        return errno == ENOENT ? 0 : io_fail(err, -errno, "stat", path);
    errno = 0;
    rc = nftw(path, io_remove_entry, 32, FTW_DEPTH | FTW_PHYS);
    if (rc != 0)
        return io_fail(err, rc > 0 ? -rc : (errno ? -errno : -EIO), "remove", path);
    return 0;
}
