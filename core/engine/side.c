/*
 * side: side outputs, the append-only files beside the state that receive
 * what the pipeline set aside (dead letters of bad records, late records).
 * Protocol (engine.h, side_output): a batch's lines are appended and fsynced
 * before the commit that records the file's length; a restart cuts the file
 * back to the committed length, so a replayed batch never duplicates lines.
 */
#include "core/base/io.h"
#include "core/engine/engine.h"
#include "core/fault/failpoint.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

void side_init(side_output *s, const char *what,
               const char *(*lines)(transform *, size_t, size_t *))
{
    *s = (side_output){.what = what, .fd = -1, .lines = lines};
}

int side_open(side_output *s, const char *path, uint64_t committed_bytes, ember_err *err)
{
    s->fd = io_open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644, err);
    if (s->fd < 0)
        return s->fd;
    s->bytes = committed_bytes;
    int rc = io_truncate(s->fd, (off_t)committed_bytes, err);
    if (!rc && lseek(s->fd, (off_t)committed_bytes, SEEK_SET) < 0)
        rc = ember_err_set(err, -errno, "%s: %s", path, strerror(errno));
    if (rc)
        return rc;
    rc = FAILPOINT("recovery.after_dead_letter_truncate");
    return rc ? ember_err_set(err, rc, "failpoint recovery.after_dead_letter_truncate") : 0;
}

int side_write_batch(side_output *s, transform *t, ember_err *err)
{
    int rc = 0, wrote = 0;
    if (s->fd < 0)
        return 0;
    for (int w = 0; w < transform_workers(t) && !rc; w++) {
        size_t n;
        const char *d = s->lines(t, (size_t)w, &n);
        if (n) {
            rc = io_write_all(s->fd, d, n, err);
            s->bytes += n;
            wrote = 1;
        }
    }
    return rc || !wrote ? rc : io_fsync(s->fd, err);
}

void side_close(side_output *s)
{
    if (s->fd >= 0)
        close(s->fd);
    s->fd = -1;
}
