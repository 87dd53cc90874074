/*
 * wal: the write-ahead log (step 2 of the batch cycle). PLAN b, and DATA b for
 * sources that cannot replay, are appended and fsynced before batch b runs;
 * recovery re-executes every planned batch after the last commit.
 *
 * Durable format. DIR/wal/ holds segments named <first batch, 20 decimal
 * digits, zero-padded>.wal, so name order is batch order. A segment is a
 * sequence of records, no file header; an empty segment is valid:
 *
 *   offset  width  field
 *   0       4      payload_len  u32 little-endian, <= WAL_MAX_PAYLOAD
 *   4       1      type         1 = PLAN, 2 = DATA
 *   5       8      batch        u64 little-endian
 *   13      8      checksum     u64 little-endian, XXH64 with seed
 *                               0x656d626572 ("ember") over the bytes
 *                               type(1) | batch(8, LE) | payload_len(4, LE) |
 *                               payload
 *   21      len    payload
 *
 * Invariants:
 *   1. Records in a segment have batch >= the segment's name, and every
 *      record of segment i has batch < the name of segment i+1 (batches are
 *      appended in non-decreasing order; rotation happens between batches).
 *   2. Only the last segment can end in a torn record: a segment is written,
 *      flushed and fsynced completely before the next one is created.
 *   3. A record is trusted only if it is whole and its checksum matches; the
 *      first bad record of the last segment and everything after it are
 *      truncated by wal_open (after a crash they were never acknowledged:
 *      wal_sync had not returned). A bad record in an older segment is
 *      damage, never truncated silently.
 *   4. After a failed write or fsync the wal refuses further appends and
 *      syncs (SQLite's ERROR state): the caller reopens, which truncates.
 * Crash points: a kill -9 between the write and the fsync leaves a torn or
 * missing tail (truncated at reopen); between creating a segment and the
 * directory fsync, the new empty segment may vanish (harmless);
 * wal_delete_before removes oldest first, so a crash leaves a suffix.
 */
#include "checkpoint/wal.h"
#include "core/base/array.h"
#include "core/base/endian.h"
#include "core/fault/failpoint.h"
#include "core/base/io.h"

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>

#define WAL_SEED 0x656d626572ull
#define WAL_BUF_BYTES (1u << 20)
#define WAL_NAME_DIGITS 20

struct wal {
    char *dir;
    uint64_t segment_bytes;
    int fd;             /* active segment, -1 before the first append */
    char seg_name[32];  /* basename of the active segment */
    uint64_t seg_first; /* batch in its name */
    uint64_t seg_size;  /* bytes in it, including buffered ones */
    uint8_t *buf;       /* appended records not yet written */
    size_t buf_len;
    int dir_dirty;    /* a segment was created since the last dir fsync */
    int plan_pending; /* a PLAN was appended since the last wal_sync */
    int failed;       /* invariant 4 */
};

/* Checked by assert() on every entry point (debug builds). */
static int wal_invariants_ok(const wal *w)
{
    return w->buf_len <= WAL_BUF_BYTES && w->seg_size >= w->buf_len &&
           (w->fd >= 0 || (w->buf_len == 0 && w->seg_size == 0 && !w->dir_dirty));
}

/* ------------------------------------------------------------ framing */

static uint64_t wal_checksum(uint8_t type, uint64_t batch, uint32_t len, const void *payload)
{
    XXH64_state_t st;
    uint8_t fields[13];

    fields[0] = type;
    put_u64le(fields + 1, batch);
    put_u32le(fields + 9, len);
    XXH64_reset(&st, WAL_SEED);
    XXH64_update(&st, fields, sizeof fields);
    if (len)
        XXH64_update(&st, payload, len);
    return XXH64_digest(&st);
}

static void wal_encode_header(uint8_t *h, uint8_t type, uint64_t batch, const void *payload,
                              uint32_t len)
{
    put_u32le(h, len);
    h[4] = type;
    put_u64le(h + 5, batch);
    put_u64le(h + 13, wal_checksum(type, batch, len, payload));
}

/* ------------------------------------------------------------ segment names */

/* Parses "<20 digits>.wal"; returns 0 and the batch, or -1. */
static int wal_parse_name(const char *name, uint64_t *first)
{
    uint64_t v = 0;

    if (strlen(name) != WAL_NAME_DIGITS + 4 || strcmp(name + WAL_NAME_DIGITS, ".wal") != 0)
        return -1;
    for (int i = 0; i < WAL_NAME_DIGITS; i++) {
        if (name[i] < '0' || name[i] > '9')
            return -1;
        if (v > (UINT64_MAX - (uint64_t)(name[i] - '0')) / 10)
            return -1;
        v = v * 10 + (uint64_t)(name[i] - '0');
    }
    *first = v;
    return 0;
}

static uint64_t wal_name_batch(const char *name)
{
    uint64_t v = 0;
    if (wal_parse_name(name, &v) != 0)
        return 0; /* listed names were parsed already */
    return v;
}

static int wal_cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void wal_free_list(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

static int wal_list_push(char ***names, size_t *n, size_t *cap, const char *name)
{
    if (em_array_reserve(names, cap, *n + 1, sizeof **names))
        return -ENOMEM;
    if (!((*names)[*n] = strdup(name)))
        return -ENOMEM;
    (*n)++;
    return 0;
}

int wal_list_segments(const char *wal_dir, char ***names, size_t *n, ember_err *err)
{
    DIR *d = opendir(wal_dir);
    struct dirent *de;
    size_t cap = 0;
    uint64_t first;
    int rc = 0;

    *names = NULL;
    *n = 0;
    if (!d)
        return ember_err_set(err, -errno, "open %s: %s", wal_dir, strerror(errno));
    while ((de = readdir(d)) != NULL) {
        if (wal_parse_name(de->d_name, &first) != 0)
            continue; /* temp files, editor droppings: not ours */
        if ((rc = wal_list_push(names, n, &cap, de->d_name)) != 0) {
            rc = ember_err_set(err, rc, "list %s: out of memory", wal_dir);
            wal_free_list(*names, *n);
            *names = NULL;
            *n = 0;
            goto out_closedir;
        }
    }
    if (*n)
        qsort(*names, *n, sizeof **names, wal_cmp_names);
out_closedir:
    closedir(d);
    return rc;
}

/* ------------------------------------------------------------ reading */

/* A read window over one segment, sized at open: a writer appending
 * meanwhile is invisible (its bytes are past the end we scan to). */
typedef struct seg_reader {
    int fd;
    uint64_t file_bytes;
    uint8_t *win;
    size_t win_cap;
    uint64_t win_off;
    size_t win_len;
} seg_reader;

/* Points *out at n bytes at off. Returns 0, 1 when the segment ends before
 * off + n, or a negative errno. */
static int rd_get(seg_reader *r, uint64_t off, size_t n, const uint8_t **out)
{
    size_t want, got = 0;

    if (off >= r->win_off && off + n <= r->win_off + r->win_len) {
        *out = r->win + (off - r->win_off);
        return 0;
    }
    if (off + n > r->file_bytes)
        return 1;
    if (n > r->win_cap) {
        uint8_t *p = realloc(r->win, n);
        if (!p)
            return -ENOMEM;
        r->win = p;
        r->win_cap = n;
    }
    want = r->file_bytes - off < r->win_cap ? (size_t)(r->file_bytes - off) : r->win_cap;
    r->win_off = off;
    r->win_len = 0;
    while (got < n) {
        ssize_t k = pread(r->fd, r->win + got, want - got, (off_t)(off + got));
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            return -errno;
        if (k == 0)
            return 1; /* shrank under us: treat as the end */
        got += (size_t)k;
    }
    r->win_len = got;
    *out = r->win;
    return 0;
}

/* One segment scan: inputs, then what it found. */
typedef struct seg_scan {
    const char *dir;
    const char *name;
    uint64_t from_batch;
    wal_visit_fn fn; /* NULL: verify only */
    void *ctx;
    uint64_t valid_bytes; /* end of the last good record */
    int bad;              /* 1 torn (ends inside a record), 2 corrupt */
    uint64_t bad_offset;
    char reason[128];
    int io_rc; /* read error, negative errno */
} seg_scan;

static int scan_bad(seg_scan *s, int kind, uint64_t off, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Records damage in s; returns 2, scan_record's "damage" result. */
static int scan_bad(seg_scan *s, int kind, uint64_t off, const char *fmt, ...)
{
    va_list ap;

    s->bad = kind;
    s->bad_offset = off;
    va_start(ap, fmt);
    vsnprintf(s->reason, sizeof s->reason, fmt, ap);
    va_end(ap);
    return 2;
}

/* Checks the record at off; returns 0 with rec filled, 1 at a clean end,
 * 2 after recording damage in s, or a negative errno. */
static int scan_record(seg_reader *r, seg_scan *s, uint64_t off, wal_record *rec)
{
    const uint8_t *h, *payload;
    uint64_t sum;
    int rc = rd_get(r, off, WAL_HEADER_BYTES, &h);

    if (rc == 1 && off == r->file_bytes)
        return 1;
    if (rc == 1)
        return scan_bad(s, 1, off, "header cut short: %" PRIu64 " of %d bytes",
                        r->file_bytes - off, WAL_HEADER_BYTES);
    if (rc < 0)
        return rc;
    rec->len = get_u32le(h);
    rec->type = h[4];
    rec->batch = get_u64le(h + 5);
    sum = get_u64le(h + 13);
    if (!wal_type_known(rec->type))
        return scan_bad(s, 2, off, "unknown record type %u", rec->type);
    if (rec->len > WAL_MAX_PAYLOAD)
        return scan_bad(s, 2, off, "payload length %u exceeds %u", rec->len, WAL_MAX_PAYLOAD);
    rc = rd_get(r, off + WAL_HEADER_BYTES, rec->len, &payload);
    if (rc == 1)
        return scan_bad(s, 1, off, "record of %" PRIu64 " bytes cut at %" PRIu64,
                        WAL_HEADER_BYTES + (uint64_t)rec->len, r->file_bytes - off);
    if (rc < 0)
        return rc;
    if (wal_checksum(rec->type, rec->batch, rec->len, payload) != sum)
        return scan_bad(s, 2, off, "checksum mismatch (stored %016" PRIx64 ")", sum);
    rec->payload = payload;
    rec->segment = s->name;
    rec->offset = off;
    return 0;
}

/* Visits good records until the end or the first bad one. Returns 0, what
 * fn returned, or -1 with s->io_rc set after a read error. */
static int scan_records(seg_reader *r, seg_scan *s)
{
    uint64_t off = 0;
    wal_record rec;
    int rc;

    while ((rc = scan_record(r, s, off, &rec)) == 0) {
        off += WAL_HEADER_BYTES + (uint64_t)rec.len;
        s->valid_bytes = off;
        if (s->fn && rec.batch >= s->from_batch && (rc = s->fn(&rec, s->ctx)) != 0)
            return rc;
    }
    if (rc < 0) {
        s->io_rc = rc;
        return -1;
    }
    return 0;
}

/* Scans one segment. Returns 0 (s->bad says whether it was whole), a
 * negative error, or what fn returned. */
static int seg_scan_run(seg_scan *s, ember_err *err)
{
    char path[PATH_MAX];
    seg_reader r = {.fd = -1};
    struct stat st;
    int rc;

    snprintf(path, sizeof path, "%s/%s", s->dir, s->name);
    r.fd = open(path, O_RDONLY | O_CLOEXEC);
    if (r.fd < 0)
        return ember_err_set(err, -errno, "open %s: %s", path, strerror(errno));
    if (fstat(r.fd, &st) != 0) {
        rc = ember_err_set(err, -errno, "stat %s: %s", path, strerror(errno));
        goto out_close;
    }
    r.file_bytes = (uint64_t)st.st_size;
    /* small segments (tests, fresh runs) need no 1 MB window */
    r.win_cap = r.file_bytes < WAL_BUF_BYTES ? (size_t)r.file_bytes + 1 : WAL_BUF_BYTES;
    r.win = malloc(r.win_cap);
    if (!r.win) {
        rc = ember_err_set(err, -ENOMEM, "read %s: out of memory", path);
        goto out_close;
    }
    rc = scan_records(&r, s);
    if (s->io_rc)
        rc = ember_err_set(err, s->io_rc, "read %s: %s", path, strerror(-s->io_rc));
    free(r.win);
out_close:
    close(r.fd); /* read-only */
    return rc;
}

static void damage_fill(wal_damage *d, const seg_scan *s, int last)
{
    if (!d)
        return;
    d->torn_tail = s->bad == 1 && last;
    d->corrupt = !d->torn_tail;
    snprintf(d->segment, sizeof d->segment, "%s", s->name);
    d->offset = s->bad_offset;
    snprintf(d->reason, sizeof d->reason, "%s%s", s->reason,
             s->bad == 1 && !last ? " (not the last segment)" : "");
}

static int damage_error(const seg_scan *s, ember_err *err)
{
    return ember_err_set(err, -EMBER_ECORRUPT, "wal %s/%s: bad record at offset %" PRIu64 ": %s",
                         s->dir, s->name, s->bad_offset, s->reason);
}

int wal_scan(const char *wal_dir, uint64_t from_batch, wal_visit_fn fn, void *ctx,
             wal_damage *damage, ember_err *err)
{
    char **names;
    size_t n;
    int rc;

    if (damage)
        memset(damage, 0, sizeof *damage);
    if ((rc = wal_list_segments(wal_dir, &names, &n, err)) != 0)
        return rc;
    for (size_t i = 0; i < n; i++) {
        seg_scan s = {.dir = wal_dir, .name = names[i], .from_batch = from_batch, .fn = fn,
                      .ctx = ctx};
        int last = i + 1 == n;
        /* invariant 1: this segment holds only batches below the next name */
        if (!last && wal_name_batch(names[i + 1]) <= from_batch)
            continue;
        if ((rc = seg_scan_run(&s, err)) != 0)
            break;
        if (s.bad) {
            damage_fill(damage, &s, last);
            /* a caller that did not ask for damage must not miss corruption */
            if (!damage && !(s.bad == 1 && last))
                rc = damage_error(&s, err);
            break;
        }
    }
    wal_free_list(names, n);
    return rc;
}

/* ------------------------------------------------------------ writing */

static int wal_failed(wal *w, ember_err *err)
{
    return ember_err_set(err, -EIO,
                         "wal %s: an earlier write or fsync failed; reopen to recover", w->dir);
}

static int wal_seg_path(const wal *w, const char *name, char *path, size_t cap, ember_err *err)
{
    if (snprintf(path, cap, "%s/%s", w->dir, name) >= (int)cap)
        return ember_err_set(err, -ENAMETOOLONG, "wal %s: path too long", w->dir);
    return 0;
}

static int wal_flush(wal *w, ember_err *err)
{
    int rc;

    if (w->buf_len == 0)
        return 0;
    rc = io_write_all(w->fd, w->buf, w->buf_len, err);
    w->buf_len = 0;
    if (rc)
        w->failed = 1; /* a partial record may be on disk now */
    return rc;
}

/* Writes everything and makes it durable; no failpoint (used by rotation). */
static int wal_flush_sync(wal *w, ember_err *err)
{
    int rc;

    if (w->failed)
        return wal_failed(w, err);
    if (w->fd < 0)
        return 0;
    if ((rc = wal_flush(w, err)) != 0)
        return rc;
    if ((rc = io_fsync(w->fd, err)) != 0)
        goto out_failed;
    /* a new segment's directory entry must be durable before we rely on it */
    if (w->dir_dirty && (rc = io_fsync_dir(w->dir, err)) != 0)
        goto out_failed;
    w->dir_dirty = 0;
    return 0;
out_failed:
    w->failed = 1; /* never retry an fsync and trust it */
    return rc;
}

static int wal_seg_create(wal *w, uint64_t first, ember_err *err)
{
    char path[PATH_MAX], name[32];
    int fd, rc;

    snprintf(name, sizeof name, "%0*" PRIu64 ".wal", WAL_NAME_DIGITS, first);
    if ((rc = wal_seg_path(w, name, path, sizeof path, err)) != 0)
        return rc;
    fd = io_open(path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND, 0644, err);
    if (fd < 0)
        return fd;
    w->fd = fd;
    memcpy(w->seg_name, name, sizeof name);
    w->seg_first = first;
    w->seg_size = 0;
    w->dir_dirty = 1;
    return 0;
}

static int wal_seg_close(wal *w, ember_err *err)
{
    int rc = io_close(w->fd, err);
    w->fd = -1;
    w->seg_size = 0;
    return rc;
}

int wal_append(wal *w, uint8_t type, uint64_t batch, const void *payload, uint32_t len,
               ember_err *err)
{
    uint8_t h[WAL_HEADER_BYTES];
    int rc;

    assert(wal_invariants_ok(w));
    if (w->failed)
        return wal_failed(w, err);
    if (!wal_type_known(type) || len > WAL_MAX_PAYLOAD)
        return ember_err_set(err, -EINVAL, "wal %s: bad record (type %u, %u bytes)", w->dir,
                             type, len);
    if (w->fd < 0 && (rc = wal_seg_create(w, batch, err)) != 0)
        return rc;
    if (batch < w->seg_first)
        return ember_err_set(err, -EINVAL, "wal %s: batch %" PRIu64 " is older than segment %s",
                             w->dir, batch, w->seg_name);
    wal_encode_header(h, type, batch, payload, len);
    if (w->buf_len + sizeof h + len > WAL_BUF_BYTES && (rc = wal_flush(w, err)) != 0)
        return rc;
    if (sizeof h + len > WAL_BUF_BYTES) {
        /* larger than the buffer: straight to the file */
        if ((rc = io_write_all(w->fd, h, sizeof h, err)) != 0 ||
            (rc = io_write_all(w->fd, payload, len, err)) != 0) {
            w->failed = 1;
            return rc;
        }
    } else {
        memcpy(w->buf + w->buf_len, h, sizeof h);
        if (len)
            memcpy(w->buf + w->buf_len + sizeof h, payload, len);
        w->buf_len += sizeof h + len;
    }
    w->seg_size += sizeof h + len;
    if (type == WAL_PLAN)
        w->plan_pending = 1;
    return 0;
}

int wal_sync(wal *w, ember_err *err)
{
    int rc;

    assert(wal_invariants_ok(w));
    if ((rc = wal_flush_sync(w, err)) != 0)
        return rc;
    if (w->plan_pending) {
        w->plan_pending = 0;
        /* the PLAN is durable: batch b is now committed to being replayed */
        if ((rc = FAILPOINT("wal.after_append")) < 0)
            return ember_err_set(err, rc, "wal %s: %s (failpoint wal.after_append)", w->dir,
                                 strerror(-rc));
    }
    return 0;
}

int wal_maybe_rotate(wal *w, uint64_t next_batch, ember_err *err)
{
    int rc;

    assert(wal_invariants_ok(w));
    if (w->failed)
        return wal_failed(w, err);
    /* names must grow (invariant 1); no segment yet: the next append makes one */
    if (w->fd < 0 || w->seg_size < w->segment_bytes || next_batch <= w->seg_first)
        return 0;
    /* invariant 2: the old segment is whole and durable before the new one exists */
    if ((rc = wal_flush_sync(w, err)) != 0)
        return rc;
    if ((rc = wal_seg_close(w, err)) != 0) {
        w->failed = 1;
        return rc;
    }
    return wal_seg_create(w, next_batch, err);
}

/* ------------------------------------------------------------ deleting */

static int wal_unlink_segment(wal *w, const char *name, ember_err *err)
{
    char path[PATH_MAX];
    int rc;

    if ((rc = wal_seg_path(w, name, path, sizeof path, err)) != 0)
        return rc;
    if ((rc = FAILPOINT("wal.delete_segment")) < 0)
        return ember_err_set(err, rc, "delete %s: %s", path, strerror(-rc));
    if (unlink(path) != 0)
        return ember_err_set(err, -errno, "delete %s: %s", path, strerror(errno));
    return 0;
}

int wal_delete_before(wal *w, uint64_t keep_from, ember_err *err)
{
    char **names;
    size_t n, deleted = 0;
    int rc;

    if ((rc = wal_list_segments(w->dir, &names, &n, err)) != 0)
        return rc;
    /* oldest first, so a crash part-way leaves a contiguous suffix; the
     * last segment is the active one and always stays */
    for (size_t i = 0; i + 1 < n; i++) {
        if (wal_name_batch(names[i + 1]) > keep_from)
            break; /* segment i may hold batch keep_from */
        if ((rc = wal_unlink_segment(w, names[i], err)) != 0)
            break;
        deleted++;
    }
    if (deleted) {
        int src = io_fsync_dir(w->dir, rc ? NULL : err);
        rc = rc ? rc : src;
    }
    wal_free_list(names, n);
    return rc;
}

/* ------------------------------------------------------------ open/close */

/* Verifies one older segment: any damage there is an error (invariant 3). */
static int wal_check_old(wal *w, const char *name, wal_damage *damage, ember_err *err)
{
    seg_scan s = {.dir = w->dir, .name = name};
    int rc = seg_scan_run(&s, err);

    if (rc)
        return rc;
    if (!s.bad)
        return 0;
    damage_fill(damage, &s, 0);
    return damage_error(&s, err);
}

/* Drops the bad tail of the last segment, durably, before anything follows it. */
static int wal_cut_tail(wal *w, const seg_scan *s, wal_damage *damage, ember_err *err)
{
    int rc;

    damage_fill(damage, s, 1);
    if ((rc = io_truncate(w->fd, (off_t)s->valid_bytes, err)) != 0 ||
        (rc = io_fsync(w->fd, err)) != 0)
        return ember_err_prefix(err, "wal: truncating bad tail of %s", s->name);
    return 0;
}

static int wal_open_last(wal *w, const char *name, wal_damage *damage, ember_err *err)
{
    char path[PATH_MAX];
    seg_scan s = {.dir = w->dir, .name = name};
    int rc;

    if ((rc = seg_scan_run(&s, err)) != 0)
        return rc;
    if ((rc = wal_seg_path(w, name, path, sizeof path, err)) != 0)
        return rc;
    w->fd = io_open(path, O_WRONLY | O_APPEND, 0644, err);
    if (w->fd < 0)
        return w->fd;
    snprintf(w->seg_name, sizeof w->seg_name, "%s", name);
    w->seg_first = wal_name_batch(name);
    w->seg_size = s.valid_bytes;
    return s.bad ? wal_cut_tail(w, &s, damage, err) : 0;
}

static int wal_recover(wal *w, wal_damage *damage, ember_err *err)
{
    char **names;
    size_t n;
    int rc;

    if ((rc = wal_list_segments(w->dir, &names, &n, err)) != 0)
        return rc;
    for (size_t i = 0; rc == 0 && i + 1 < n; i++)
        rc = wal_check_old(w, names[i], damage, err);
    if (rc == 0 && n > 0)
        rc = wal_open_last(w, names[n - 1], damage, err);
    wal_free_list(names, n);
    return rc;
}

int wal_open(const char *wal_dir, uint64_t segment_bytes, wal **out, wal_damage *damage,
             ember_err *err)
{
    wal *w = calloc(1, sizeof *w);
    int rc;

    *out = NULL;
    if (damage)
        memset(damage, 0, sizeof *damage);
    if (!w || !(w->dir = strdup(wal_dir)) || !(w->buf = malloc(WAL_BUF_BYTES))) {
        rc = ember_err_set(err, -ENOMEM, "wal %s: out of memory", wal_dir);
        goto out_free;
    }
    w->fd = -1;
    w->segment_bytes = segment_bytes;
    if ((rc = io_mkdir_p(wal_dir, err)) != 0 || (rc = wal_recover(w, damage, err)) != 0)
        goto out_free;
    *out = w;
    return 0;
out_free:
    wal_close(w);
    return rc;
}

void wal_close(wal *w)
{
    ember_err scratch;

    if (!w)
        return;
    if (w->fd >= 0) {
        /* records not synced were never promised durable (wal_append), so a
         * failure here loses nothing that was acknowledged */
        if (!w->failed && wal_flush(w, &scratch) != 0) {
        }
        if (io_close(w->fd, &scratch) != 0) {
        }
    }
    free(w->buf);
    free(w->dir);
    free(w);
}
