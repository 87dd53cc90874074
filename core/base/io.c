/*
 * io: the durable-file layer under the WAL, manifests, sink files and the
 * JOB file. Each call names the path and strerror in its error
 * ("write ckpt/wal/00000000000000000001.wal: No space left on device") and
 * consults a failpoint: io.open, io.write (also ftruncate), io.fsync (files
 * and directories), io.rename. io.write armed with "short" writes half the
 * buffer and then fails, as a full disk does.
 *
 * In power-loss mode (EMBER_POWERLOSS=1) every open, write, fsync,
 * truncate, close, directory fsync and rename is also reported to the
 * simulator in core/fault/powerloss.c, which the crash failpoint asks to
 * drop what a power cut could drop.
 */
#include "core/base/io.h"
#include "core/base/array.h"
#include "core/fault/failpoint.h"
#include "core/fault/powerloss.h"

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

typedef struct io_fd {
    char *path;
    pl_file *file; /* power-loss mode only */
} io_fd;

/* Guards the fd table; held around the file hooks of the simulator so an
 * io_close cannot release a record another thread is reporting on. */
static pthread_mutex_t io_lock = PTHREAD_MUTEX_INITIALIZER;
static io_fd *io_fds; /* indexed by fd, grown on demand */
static size_t io_fds_cap;

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

/* ------------------------------------------------------------ files */

static int io_remember_fd(int fd, const char *path, int created, off_t size)
{
    int rc = 0;

    pthread_mutex_lock(&io_lock);
    if (em_array_reserve(&io_fds, &io_fds_cap, (size_t)fd + 1, sizeof *io_fds) != 0) {
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
    if (pl_enabled())
        io_fds[fd].file = pl_track(path, created, size);
out_unlock:
    pthread_mutex_unlock(&io_lock);
    return rc;
}

int io_open(const char *path, int flags, int mode, ember_err *err)
{
    int rc, fd, existed = 1;
    struct stat st;

    if ((rc = FAILPOINT("io.open")) < 0)
        return io_fail(err, rc == -EFBIG ? -EIO : rc, "open", path);
    if (pl_enabled() && (flags & O_CREAT))
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

/* fd's power-loss record, or NULL. Caller holds io_lock. */
static pl_file *io_pl_file(int fd)
{
    return (size_t)fd < io_fds_cap ? io_fds[fd].file : NULL;
}

static void io_mark_dirty(int fd)
{
    pthread_mutex_lock(&io_lock);
    pl_will_write(io_pl_file(fd));
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

    if (pl_enabled())
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
    pl_synced(io_pl_file(fd), st.st_size);
    pthread_mutex_unlock(&io_lock);
}

int io_fsync(int fd, ember_err *err)
{
    int rc = FAILPOINT("io.fsync");

    if (rc == 0 && fsync(fd) != 0)
        rc = -errno;
    if (rc)
        return io_fail_fd(err, rc == -EFBIG ? -EIO : rc, "fsync", fd);
    if (pl_enabled())
        io_mark_synced(fd);
    return 0;
}

int io_close(int fd, ember_err *err)
{
    char name[PATH_MAX];

    io_fd_name(fd, name, sizeof name);
    pthread_mutex_lock(&io_lock);
    if (fd >= 0 && (size_t)fd < io_fds_cap) {
        free(io_fds[fd].path);
        io_fds[fd].path = NULL;
        pl_closed(io_fds[fd].file);
        io_fds[fd].file = NULL;
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
    pl_dir_synced(st.st_dev, st.st_ino);
out_close:
    close(fd); /* read-only directory fd: nothing to lose on close */
    return rc;
}

int io_rename(const char *from, const char *to, ember_err *err)
{
    int rc = FAILPOINT("io.rename");

    if (rc == -EFBIG)
        rc = -EIO;
    else if (rc == 0 && pl_enabled())
        rc = pl_rename(from, to); /* also remembered, to be undone at a power loss */
    else if (rc == 0 && rename(from, to) != 0)
        rc = -errno;
    if (rc)
        return ember_err_set(err, rc, "rename %s -> %s: %s", from, to, strerror(-rc));
    return 0;
}

int io_truncate(int fd, off_t len, ember_err *err)
{
    int rc = FAILPOINT("io.write");

    if (rc == 0 && ftruncate(fd, len) != 0)
        rc = -errno;
    if (rc)
        return io_fail_fd(err, rc == -EFBIG ? -EIO : rc, "truncate", fd);
    if (pl_enabled()) {
        pthread_mutex_lock(&io_lock);
        pl_truncated(io_pl_file(fd), len);
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
