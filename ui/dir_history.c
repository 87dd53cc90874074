/*
 * dir_history: GET history?n=N, the last N batches of DIR/progress.jsonl
 * (and of progress.jsonl.1, the file rotated away at 8 MB, when the current
 * one has fewer), oldest first, each the object the engine wrote. Only
 * complete lines count: the one a running job is writing is not read. Reads
 * the files' tails, not the whole files.
 */
#include "ui/dir_private.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TAIL_FIRST_BYTES (64u << 10)

/* The lines read so far: valid JSON objects separated by ','. */
typedef struct lines {
    text_buf text;
    size_t n;
} lines;

/* The last `want` complete lines of buf[0..n) appended to out; `whole`:
 * buf starts at the file's start (else its first line may be cut). The
 * lines are copied as the engine wrote them (its numbers unchanged), each
 * checked to be JSON first: a torn line (a crash mid-write) is left out. */
static int add_lines(lines *out, const char *buf, size_t n, int whole, size_t want)
{
    const char *p = buf, *end = buf + n, *nl;
    size_t complete = 0;
    for (size_t i = 0; i < n; i++)
        complete += buf[i] == '\n';
    if (!whole && complete) { /* the bytes before the first newline are a cut line */
        p = (const char *)memchr(buf, '\n', n) + 1;
        complete--;
    }
    size_t skip = complete > want ? complete - want : 0;
    for (; p < end && (nl = memchr(p, '\n', (size_t)(end - p))); p = nl + 1) {
        if (skip) {
            skip--;
            continue;
        }
        json_t *o = json_loadb(p, (size_t)(nl - p), 0, NULL);
        int ok = json_is_object(o);
        json_decref(o);
        if (!ok)
            continue;
        if ((out->n++ && text_append(&out->text, ",", 1)) ||
            text_append(&out->text, p, (size_t)(nl - p)))
            return -ENOMEM;
    }
    return 0; /* the bytes after the last newline are the line being written */
}

/* Reads growing tails of path until they hold `want` complete lines or the
 * whole file; appends those lines to out. 0, or -errno (-ENOENT: no file). */
static int read_tail(const char *path, size_t want, lines *out, ember_err *err)
{
    struct stat sb;
    int fd = open(path, O_RDONLY | O_CLOEXEC), rc = 0;
    if (fd < 0)
        return errno == ENOENT ? -ENOENT : ember_err_set(err, -errno, "%s: %s", path, strerror(errno));
    if (fstat(fd, &sb) != 0) {
        rc = ember_err_set(err, -errno, "%s: %s", path, strerror(errno));
        goto out_close;
    }
    size_t size = (size_t)sb.st_size;
    for (size_t window = TAIL_FIRST_BYTES;; window *= 4) {
        size_t from = size > window ? size - window : 0, found = 0;
        char *buf = malloc(size - from + 1);
        ssize_t got = buf ? pread(fd, buf, size - from, (off_t)from) : -1;
        if (got < 0) {
            rc = ember_err_set(err, buf ? -errno : -ENOMEM, "%s: %s", path,
                               buf ? strerror(errno) : "out of memory");
            free(buf);
            break;
        }
        for (ssize_t i = 0; i < got; i++)
            found += buf[i] == '\n';
        int done = found > want || from == 0;
        if (done && add_lines(out, buf, (size_t)got, from == 0, want))
            rc = ember_err_set(err, -ENOMEM, "%s: out of memory", path);
        free(buf);
        if (done)
            break;
    }
out_close:
    close(fd);
    return rc;
}

int dir_route_history(dir_req *r)
{
    char path[4200], old[4300];
    uint64_t n;
    ember_err err = {0};
    lines now = {0}, before = {0};
    int rc = dir_param_u64(r, "n", 100, 1, DIR_MAX_ROWS, &n);
    if (rc)
        return rc;
    snprintf(path, sizeof path, "%s/progress.jsonl", r->dir);
    snprintf(old, sizeof old, "%s.1", path);
    if ((rc = read_tail(path, n, &now, &err)) == -ENOENT)
        rc = 0; /* no batch yet */
    if (!rc && now.n < n && (rc = read_tail(old, n - now.n, &before, &err)) == -ENOENT)
        rc = 0;
    if (!rc && (text_append(r->out, "[", 1) ||
                text_append(r->out, before.text.data, before.text.len) ||
                (before.n && now.n && text_append(r->out, ",", 1)) ||
                text_append(r->out, now.text.data, now.text.len) || text_append(r->out, "]", 1)))
        rc = ember_err_set(&err, -ENOMEM, "history: out of memory");
    text_free(&now.text);
    text_free(&before.text);
    return rc ? dir_fail(r, 500, "%s", err.msg) : 200;
}
