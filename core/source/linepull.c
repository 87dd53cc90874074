/* linepull: whole-line pulling from a stream fd (see linepull.h). */
#include "core/source/linepull.h"
#include "core/base/array.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PULL_MAX_BYTES (64u << 20) /* one batch's pulled records at most */

void linepull_init(linepull *p, int fd)
{
    memset(p, 0, sizeof *p);
    p->fd = fd;
}

static void drop_taken(linepull *p)
{
    if (!p->taken)
        return;
    memmove(p->buf, p->buf + p->taken, p->len - p->taken);
    p->len -= p->taken;
    p->taken = 0;
}

static int grow(linepull *p, ember_err *err)
{
    /* at least 64 KiB free for the next read */
    if (em_buffer_reserve(&p->buf, &p->cap, p->len + 65536, 1))
        return ember_err_set(err, -ENOMEM, "out of memory");
    return 0;
}

int linepull_fill(linepull *p, int wait_ms, const char *what, ember_err *err)
{
    drop_taken(p);
    while (!p->eof && p->len < PULL_MAX_BYTES) {
        struct pollfd pfd = {.fd = p->fd, .events = POLLIN};
        int r = poll(&pfd, 1, wait_ms);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return r < 0 ? ember_err_set(err, -errno, "%s: poll: %s", what, strerror(errno)) : 0;
        int rc = grow(p, err);
        if (rc)
            return rc;
        ssize_t n = read(p->fd, p->buf + p->len, p->cap - p->len);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n < 0)
            return ember_err_set(err, -errno, "%s: read: %s", what, strerror(errno));
        if (n == 0)
            p->eof = 1;
        p->len += (size_t)n;
        wait_ms = 0; /* after the first read, only take what is already there */
    }
    return 0;
}

void linepull_take(linepull *p, uint64_t budget, src_range **ranges, size_t *n,
                   src_pulled *pulled)
{
    size_t end = 0;
    uint64_t lines = 0;
    for (size_t i = 0; i < p->len && lines < budget; i++)
        if (p->buf[i] == '\n') {
            lines++;
            end = i + 1;
        }
    p->taken = end;
    pulled->data = lines ? p->buf : NULL;
    pulled->bytes = end;
    pulled->records = lines;
    p->range = (src_range){0, p->next_seq, p->next_seq + lines};
    p->next_seq += lines;
    *ranges = &p->range;
    *n = 1;
}

int linepull_exhausted(const linepull *p)
{
    return p->eof && memchr(p->buf + p->taken, '\n', p->len - p->taken) == NULL;
}

void linepull_free(linepull *p)
{
    free(p->buf);
    p->buf = NULL;
}
