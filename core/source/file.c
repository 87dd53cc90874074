/*
 * source_file: `source file path=P`. Reads a file that may still be growing;
 * partition 0, offsets are byte offsets. A batch ends after a newline, so it
 * never splits a line; a partial last line waits for its newline. Replayable:
 * a planned range is re-read with pread. plan() keeps the bytes it scanned so
 * the read that follows does not go to the file twice.
 */
#include "core/base/array.h"
#include "core/source/source.h"

#include <errno.h>
#include <stdio.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const opt_def file_options[] = {
    {"path", OPT_STR, NULL, NULL, "file of newline-terminated records (may grow)"},
    {0},
};

typedef struct file_source {
    char *path;
    int fd;
    uint64_t next;
    src_range range;
    char *buf; /* bytes of `range`, kept from plan() for read() */
    size_t buf_cap;
} file_source;

static int file_open(source *src, const opt_set *opts, const source_env *env, ember_err *err)
{
    file_source *f = calloc(1, sizeof *f);
    if (!f)
        return ember_err_set(err, -ENOMEM, "out of memory");
    f->path = strdup(opts_str(opts, "path"));
    f->fd = open(f->path, O_RDONLY | O_CLOEXEC);
    if (f->fd < 0) {
        int e = errno;
        ember_err_set(err, -e, "source file %s: %s", f->path, strerror(e));
        free(f->path);
        free(f);
        return -e;
    }
    src->impl = f;
    return 0;
}

static int file_restore(source *src, const src_range *ends, size_t n, ember_err *err)
{
    file_source *f = src->impl;
    for (size_t i = 0; i < n; i++)
        if (ends[i].partition == 0)
            f->next = ends[i].to;
    return 0;
}

static int reserve(file_source *f, size_t need, ember_err *err)
{
    if (em_buffer_reserve(&f->buf, &f->buf_cap, need, 1))
        return ember_err_set(err, -ENOMEM, "out of memory reading %s", f->path);
    return 0;
}

static int read_at(file_source *f, char *dst, size_t n, uint64_t off, size_t *got,
                   ember_err *err)
{
    ssize_t r;
    do
        r = pread(f->fd, dst, n, (off_t)off);
    while (r < 0 && errno == EINTR);
    if (r < 0)
        return ember_err_set(err, -errno, "source file %s: read at %llu: %s", f->path,
                             (unsigned long long)off, strerror(errno));
    *got = (size_t)r;
    return 0;
}

/* Scans forward from f->next for up to `budget` complete lines; returns the
 * byte count through the last newline taken (0 when none is complete). */
static int scan_lines(file_source *f, uint64_t budget, size_t *bytes, ember_err *err)
{
    size_t used = 0, complete = 0;
    uint64_t lines = 0;
    for (;;) {
        int rc = reserve(f, used + (1 << 20), err);
        size_t got = 0;
        if (rc || (rc = read_at(f, f->buf + used, 1 << 20, f->next + used, &got, err)))
            return rc;
        /* memchr, not a byte loop: this scan was a quarter of a YSB batch (perf). */
        const char *p = f->buf + used, *end = f->buf + used + got;
        while (lines < budget && (p = memchr(p, '\n', (size_t)(end - p)))) {
            lines++;
            complete = (size_t)(++p - f->buf);
        }
        used += got;
        if (got == 0 || lines >= budget)
            break;
    }
    *bytes = complete;
    return 0;
}

static int file_plan(source *src, uint64_t budget, src_range **ranges, size_t *n,
                     src_pulled *pulled, ember_err *err)
{
    file_source *f = src->impl;
    size_t bytes = 0;
    int rc = scan_lines(f, budget, &bytes, err);
    if (rc)
        return rc;
    f->range = (src_range){0, f->next, f->next + bytes};
    f->next += bytes;
    *ranges = &f->range;
    *n = 1;
    return 0;
}

static int emit_lines(const char *p, size_t n, src_line_fn fn, void *ctx)
{
    const char *end = p + n;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
        size_t line_len = len;
        if (line_len && p[line_len - 1] == '\r')
            line_len--;
        int rc = fn(p, line_len, ctx);
        if (rc)
            return rc;
        p += len + 1;
    }
    return 0;
}

/* The range's bytes in f->buf (the plan's scan left them there already
 * unless this is a replay). */
static int file_read_block(source *src, const src_range *r, const char **data, size_t *n,
                           ember_err *err)
{
    file_source *f = src->impl;
    size_t want = (size_t)(r->to - r->from), got = 0;
    *data = f->buf;
    *n = want;
    if (want == 0)
        return 0;
    if (r->from != f->range.from || r->to != f->range.to) {
        int rc = reserve(f, want, err);
        if (rc || (rc = read_at(f, f->buf, want, r->from, &got, err)))
            return rc;
        if (got != want)
            return ember_err_set(err, -EMBER_EDATALOSS,
                                 "source file %s: planned bytes [%llu, %llu) are gone "
                                 "(file is %llu bytes shorter)",
                                 f->path, (unsigned long long)r->from,
                                 (unsigned long long)r->to, (unsigned long long)(want - got));
        f->range = *r;
    }
    *data = f->buf;
    return 0;
}

static int file_read(source *src, const src_range *r, src_line_fn fn, void *ctx, ember_err *err)
{
    const char *data;
    size_t n;
    int rc = file_read_block(src, r, &data, &n, err);
    return rc ? rc : emit_lines(data, n, fn, ctx);
}

static int file_available(source *src, const src_range *r, ember_err *err)
{
    file_source *f = src->impl;
    struct stat st;
    if (fstat(f->fd, &st) != 0)
        return ember_err_set(err, -errno, "source file %s: %s", f->path, strerror(errno));
    if ((uint64_t)st.st_size < r->to)
        return ember_err_set(err, -EMBER_EDATALOSS,
                             "source file %s partition 0: range [%llu, %llu) is gone, the file "
                             "now has %llu bytes (truncated or rotated)",
                             f->path, (unsigned long long)r->from, (unsigned long long)r->to,
                             (unsigned long long)st.st_size);
    return 0;
}

/* Line numbers are counted from the start of the file: only error messages
 * need them, so the cost is paid only then. */
static int file_locate(source *src, const src_range *r, uint64_t index, char *buf, size_t cap)
{
    file_source *f = src->impl;
    char chunk[65536];
    uint64_t line = 1, off = 0;
    while (off < r->from) {
        size_t want = r->from - off < sizeof chunk ? (size_t)(r->from - off) : sizeof chunk;
        ssize_t got = pread(f->fd, chunk, want, (off_t)off);
        if (got <= 0)
            return -1;
        for (const char *p = chunk; (p = memchr(p, '\n', (size_t)(chunk + got - p))); p++)
            line++;
        off += (uint64_t)got;
    }
    snprintf(buf, cap, "%s:%llu", f->path, (unsigned long long)line + (unsigned long long)index);
    return 0;
}

static void file_close(source *src)
{
    file_source *f = src->impl;
    if (!f)
        return;
    close(f->fd);
    free(f->buf);
    free(f->path);
    free(f);
    src->impl = NULL;
}

/* Lag: the file's size now (the source reads whole lines, so the newest
 * bytes may be a line still being written). */
static int file_end_offset(source *src, uint32_t partition, uint64_t *end)
{
    file_source *f = src->impl;
    struct stat st;
    if (partition != 0 || fstat(f->fd, &st) != 0)
        return -1;
    *end = (uint64_t)st.st_size;
    return 0;
}

const source_ops source_file_ops = {
    .kind = "file",
    .doc = "a file that may grow, read by byte offset; never splits a line; replayable",
    .options = file_options,
    .replayable = 1,
    .open = file_open,
    .restore = file_restore,
    .plan = file_plan,
    .read = file_read,
    .read_block = file_read_block,
    .available = file_available,
    .locate = file_locate,
    .end_offset = file_end_offset,
    .close = file_close,
};
