/*
 * sink_dead_letter: see dead_letter.h for the protocol.
 *
 * Side file DIR/<name>.dead-letter-length, 40 bytes, little-endian, replaced
 * whole (temp file, fsync, rename, fsync of the directory):
 *   u32 magic "EMDL" | u32 version 1 | u64 batch | u64 bytes before the
 *   batch | u64 bytes after it | u64 XXH64 (seed 0) of the 32 bytes before.
 * A missing side file means nothing was ever committed (length 0); a torn
 * or corrupt one is refused, naming the file.
 */
#include "core/sink/dead_letter.h"
#include "core/base/endian.h"
#include "core/base/io.h"
#include "core/fault/failpoint.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#define SIDE_MAGIC 0x4c444d45u /* "EMDL" */
#define SIDE_BYTES 40

int sink_dead_letter_open(sink_dead_letter *d, const char *path, const char *checkpoint_dir,
                          const char *name, ember_err *err)
{
    char side[4096];
    *d = (sink_dead_letter){.fd = -1};
    snprintf(side, sizeof side, "%s/%s.dead-letter-length", checkpoint_dir, name);
    d->path = strdup(path);
    d->side_path = strdup(side);
    if (!d->path || !d->side_path)
        return ember_err_set(err, -ENOMEM, "out of memory");
    d->fd = io_open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644, err);
    return d->fd < 0 ? d->fd : 0;
}

/* The committed length as of `delivered` from the side file (0 if none). */
static int side_read(const sink_dead_letter *d, uint64_t delivered, uint64_t *len, ember_err *err)
{
    char *buf = NULL;
    size_t n = 0;
    *len = 0;
    int rc = io_read_file(d->side_path, &buf, &n, err);
    if (rc == -ENOENT)
        return (*err = (ember_err){0}), 0;
    if (rc)
        return rc;
    const uint8_t *p = (const uint8_t *)buf;
    if (n != SIDE_BYTES || get_u32le(p) != SIDE_MAGIC || get_u32le(p + 4) != 1 ||
        XXH64(p, 32, 0) != get_u64le(p + 32))
        rc = ember_err_set(err, -EMBER_ECORRUPT,
                           "%s: not a valid dead-letter length record "
                           "(%zu bytes, bad magic or checksum)",
                           d->side_path, n);
    else
        *len = delivered >= get_u64le(p + 8) ? get_u64le(p + 24) : get_u64le(p + 16);
    free(buf);
    return rc;
}

static int cut_to(sink_dead_letter *d, uint64_t len, ember_err *err)
{
    int rc = io_truncate(d->fd, (off_t)len, err);
    if (!rc && lseek(d->fd, (off_t)len, SEEK_SET) < 0)
        rc = ember_err_set(err, -errno, "%s: %s", d->path, strerror(errno));
    d->bytes = len;
    return rc;
}

int sink_dead_letter_recover(sink_dead_letter *d, uint64_t delivered, ember_err *err)
{
    uint64_t len;
    struct stat st;
    int rc = side_read(d, delivered, &len, err);
    if (rc)
        return rc;
    if (fstat(d->fd, &st))
        return ember_err_set(err, -errno, "%s: %s", d->path, strerror(errno));
    if ((uint64_t)st.st_size < len)
        return ember_err_set(err, -EMBER_ECORRUPT,
                             "%s: %lld bytes, shorter than the %llu "
                             "committed ones (%s): was it cut or replaced?",
                             d->path, (long long)st.st_size, (unsigned long long)len, d->side_path);
    d->committed = len;
    if ((rc = cut_to(d, len, err)))
        return rc;
    rc = FAILPOINT("recovery.after_dead_letter_truncate");
    return rc ? ember_err_set(err, rc, "failpoint recovery.after_dead_letter_truncate") : 0;
}

int sink_dead_letter_rewind(sink_dead_letter *d, ember_err *err)
{
    return d->bytes == d->committed ? 0 : cut_to(d, d->committed, err);
}

int sink_dead_letter_append(sink_dead_letter *d, const char *line, size_t n, ember_err *err)
{
    int rc = io_write_all(d->fd, line, n, err);
    if (!rc)
        rc = io_write_all(d->fd, "\n", 1, err);
    if (rc)
        return rc;
    d->bytes += n + 1;
    d->rows++;
    return 0;
}

int sink_dead_letter_seal(sink_dead_letter *d, uint64_t batch, ember_err *err)
{
    uint8_t rec[SIDE_BYTES];
    if (d->bytes == d->committed)
        return 0;
    int rc = io_fsync(d->fd, err);
    if (rc)
        return rc;
    put_u32le(rec, SIDE_MAGIC);
    put_u32le(rec + 4, 1);
    put_u64le(rec + 8, batch);
    put_u64le(rec + 16, d->committed);
    put_u64le(rec + 24, d->bytes);
    put_u64le(rec + 32, XXH64(rec, 32, 0));
    return io_write_file_atomic(d->side_path, rec, sizeof rec, err);
}

void sink_dead_letter_committed(sink_dead_letter *d)
{
    d->committed = d->bytes;
}

void sink_dead_letter_close(sink_dead_letter *d)
{
    if (d->fd >= 0)
        close(d->fd);
    d->fd = -1;
    free(d->path);
    free(d->side_path);
    d->path = d->side_path = NULL;
}
