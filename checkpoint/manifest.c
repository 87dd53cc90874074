/*
 * manifest: writes, reads and verifies the MANIFEST of a snapshot directory
 * (step 5 of the batch cycle, when a snapshot is taken; recovery step 3,
 * when it picks the newest snapshot that verifies).
 *
 * Durable format (text, '\n' line ends, fields separated by one space,
 * numbers in decimal, hashes as 16 lowercase hex digits):
 *
 *   ember-manifest 1
 *   batch <u64>
 *   created_ms <u64>
 *   job_hash <16 hex>
 *   offset <partition u32> <offset_end u64>      0..n, written first
 *   file <path> <bytes u64> <xxh64 16 hex>       0..n, sorted by path
 *   checksum <16 hex>
 *
 * Every hash is XXH64 with seed 0 (so `xxhsum -H1 db/FILE` checks a file by
 * hand). The checksum line covers every byte before it; nothing may follow
 * it. Paths are relative to the snapshot directory, start with "db/", hold
 * no whitespace and no ".." component. The file is replaced atomically
 * (io_write_file_atomic), so a crash leaves the old MANIFEST or the new one.
 */
#include "checkpoint/manifest.h"
#include "core/base/array.h"
#include "core/base/io.h"

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
#include <xxhash.h>

#define MANIFEST_NAME "MANIFEST"
#define MANIFEST_HASH_BUF (1u << 20)

/* ------------------------------------------------------------ file hashing */

/* Streams path through XXH64 in 1 MB reads. */
int manifest_hash_file(const char *path, uint64_t *bytes, uint64_t *hash, ember_err *err)
{
    XXH64_state_t *st = XXH64_createState();
    char *buf = malloc(MANIFEST_HASH_BUF);
    uint64_t total = 0;
    int rc = 0;
    int fd = -1;

    if (!st || !buf) {
        rc = ember_err_set(err, -ENOMEM, "hash %s: out of memory", path);
        goto out_free;
    }
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        rc = ember_err_set(err, -errno, "open %s: %s", path, strerror(errno));
        goto out_free;
    }
    XXH64_reset(st, 0);
    for (;;) {
        ssize_t n = read(fd, buf, MANIFEST_HASH_BUF);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = ember_err_set(err, -errno, "read %s: %s", path, strerror(errno));
            goto out_close;
        }
        if (n == 0)
            break;
        XXH64_update(st, buf, (size_t)n);
        total += (uint64_t)n;
    }
    *bytes = total;
    *hash = XXH64_digest(st);
out_close:
    close(fd); /* read-only */
out_free:
    free(buf);
    XXH64_freeState(st);
    return rc;
}

/* ------------------------------------------------------------ listing db/ */

typedef struct name_list {
    char **names;
    size_t n, cap;
} name_list;

static void names_free(name_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->names[i]);
    free(l->names);
    memset(l, 0, sizeof *l);
}

static int names_push(name_list *l, const char *name)
{
    if (em_array_reserve(&l->names, &l->cap, l->n + 1, sizeof *l->names))
        return -ENOMEM;
    if (!(l->names[l->n] = strdup(name)))
        return -ENOMEM;
    l->n++;
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int list_dir(const char *snap_dir, const char *rel, name_list *out, ember_err *err);

/* Adds one directory entry: files are listed, directories walked. */
static int list_entry(const char *snap_dir, const char *rel, name_list *out, ember_err *err)
{
    char path[PATH_MAX];
    struct stat st;

    if (snprintf(path, sizeof path, "%s/%s", snap_dir, rel) >= (int)sizeof path)
        return ember_err_set(err, -ENAMETOOLONG, "snapshot %s: path too long", snap_dir);
    if (lstat(path, &st) != 0)
        return ember_err_set(err, -errno, "stat %s: %s", path, strerror(errno));
    if (S_ISDIR(st.st_mode))
        return list_dir(snap_dir, rel, out, err);
    if (!S_ISREG(st.st_mode))
        return ember_err_set(err, -EMBER_ECORRUPT, "snapshot %s: %s is not a regular file",
                             snap_dir, rel);
    if (strpbrk(rel, " \t\r\n"))
        return ember_err_set(err, -EMBER_ECORRUPT,
                             "snapshot %s: file name '%s' has whitespace", snap_dir, rel);
    if (names_push(out, rel) != 0)
        return ember_err_set(err, -ENOMEM, "snapshot %s: out of memory", snap_dir);
    return 0;
}

/* Appends every regular file under snap_dir/rel (recursively) to out. */
static int list_dir(const char *snap_dir, const char *rel, name_list *out, ember_err *err)
{
    char path[PATH_MAX], child[PATH_MAX];
    struct dirent *de;
    DIR *d;
    int rc = 0;

    snprintf(path, sizeof path, "%s/%s", snap_dir, rel);
    if (!(d = opendir(path)))
        return ember_err_set(err, -errno, "open %s: %s", path, strerror(errno));
    while (rc == 0 && (de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (snprintf(child, sizeof child, "%s/%s", rel, de->d_name) >= (int)sizeof child)
            rc = ember_err_set(err, -ENAMETOOLONG, "snapshot %s: path too long", snap_dir);
        else
            rc = list_entry(snap_dir, child, out, err);
    }
    closedir(d);
    return rc;
}

/* Sorted relative paths ("db/...") of every file under snap_dir/db. */
static int list_db_files(const char *snap_dir, name_list *out, ember_err *err)
{
    int rc = list_dir(snap_dir, "db", out, err);

    if (rc) {
        names_free(out);
        return rc;
    }
    if (out->n)
        qsort(out->names, out->n, sizeof *out->names, cmp_str);
    return 0;
}

/* ------------------------------------------------------------ collect */

static void files_free(manifest *m)
{
    for (size_t i = 0; i < m->n_files; i++)
        free(m->files[i].path);
    free(m->files);
    m->files = NULL;
    m->n_files = 0;
}

int manifest_collect_files(const char *snap_dir, manifest *m, ember_err *err)
{
    char path[PATH_MAX];
    name_list names = {0};
    int rc;

    files_free(m);
    if ((rc = list_db_files(snap_dir, &names, err)) != 0)
        return rc;
    m->files = calloc(names.n ? names.n : 1, sizeof *m->files);
    if (!m->files) {
        rc = ember_err_set(err, -ENOMEM, "snapshot %s: out of memory", snap_dir);
        goto out_names;
    }
    for (size_t i = 0; i < names.n; i++) {
        manifest_file *f = &m->files[i];
        snprintf(path, sizeof path, "%s/%s", snap_dir, names.names[i]);
        if ((rc = manifest_hash_file(path, &f->bytes, &f->xxh64, err)) != 0)
            goto out_names;
        f->path = names.names[i]; /* ownership moves to m */
        names.names[i] = NULL;
        m->n_files = i + 1;
    }
out_names:
    names_free(&names);
    return rc;
}

/* ------------------------------------------------------------ write */

typedef struct text_buf {
    char *p;
    size_t len, cap;
    int oom;
} text_buf;

static void tb_printf(text_buf *tb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void tb_printf(text_buf *tb, const char *fmt, ...)
{
    va_list ap;
    int n;

    for (;;) {
        va_start(ap, fmt);
        n = vsnprintf(tb->p ? tb->p + tb->len : NULL, tb->p ? tb->cap - tb->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            tb->oom = 1;
            return;
        }
        if (tb->p && tb->len + (size_t)n < tb->cap)
            break;
        if (em_array_reserve(&tb->p, &tb->cap, tb->len + (size_t)n + 1, 1)) {
            tb->oom = 1;
            return;
        }
    }
    tb->len += (size_t)n;
}

static int manifest_path_ok(const char *path)
{
    return strncmp(path, "db/", 3) == 0 && !strpbrk(path, " \t\r\n") &&
           !strstr(path, "/../") && strcmp(path + strlen(path) - 3, "/..") != 0;
}

static void manifest_format(const manifest *m, text_buf *tb)
{
    tb_printf(tb, "ember-manifest 1\nbatch %" PRIu64 "\ncreated_ms %" PRIu64
                  "\njob_hash %016" PRIx64 "\n",
              m->batch, m->created_ms, m->job_hash);
    for (size_t i = 0; i < m->n_offsets; i++)
        tb_printf(tb, "offset %" PRIu32 " %" PRIu64 "\n", m->offsets[i].partition,
                  m->offsets[i].offset_end);
    for (size_t i = 0; i < m->n_files; i++)
        tb_printf(tb, "file %s %" PRIu64 " %016" PRIx64 "\n", m->files[i].path,
                  m->files[i].bytes, m->files[i].xxh64);
    if (!tb->oom)
        tb_printf(tb, "checksum %016" PRIx64 "\n", XXH64(tb->p, tb->len, 0));
}

int manifest_write(const char *snap_dir, const manifest *m, ember_err *err)
{
    char path[PATH_MAX];
    text_buf tb = {0};
    int rc;

    for (size_t i = 0; i < m->n_files; i++)
        if (!manifest_path_ok(m->files[i].path))
            return ember_err_set(err, -EINVAL, "manifest %s: bad file path '%s'", snap_dir,
                                 m->files[i].path);
    if (snprintf(path, sizeof path, "%s/" MANIFEST_NAME, snap_dir) >= (int)sizeof path)
        return ember_err_set(err, -ENAMETOOLONG, "manifest %s: path too long", snap_dir);
    manifest_format(m, &tb);
    if (tb.oom)
        rc = ember_err_set(err, -ENOMEM, "manifest %s: out of memory", path);
    else
        rc = io_write_file_atomic(path, tb.p, tb.len, err);
    free(tb.p);
    return rc;
}

/* ------------------------------------------------------------ read */

typedef struct parser {
    const char *path;
    char *line; /* current line, NUL-terminated in place */
    int line_no;
    ember_err *err;
} parser;

static int parse_fail(parser *ps, const char *what)
{
    return ember_err_set(ps->err, -EMBER_ECORRUPT, "%s:%d: %s", ps->path, ps->line_no, what);
}

static int parse_u64(const char *s, int base, int digits, uint64_t *out)
{
    uint64_t v = 0;
    int n = 0;

    for (; s[n]; n++) {
        int d = s[n] >= '0' && s[n] <= '9'   ? s[n] - '0'
                : s[n] >= 'a' && s[n] <= 'f' ? s[n] - 'a' + 10
                                             : 99;
        if (d >= base || v > (UINT64_MAX - (uint64_t)d) / (uint64_t)base)
            return -1;
        v = v * (uint64_t)base + (uint64_t)d;
    }
    if (n == 0 || (digits && n != digits) || (base == 10 && n > 1 && s[0] == '0'))
        return -1;
    *out = v;
    return 0;
}

/* Splits the current line into exactly n space-separated fields after the
 * keyword; returns 0 or -1. */
static int split_fields(char *line, char **fields, int n)
{
    char *save = NULL;
    int got = 0;

    if (strstr(line, "  ") || line[0] == ' ')
        return -1;
    for (char *t = strtok_r(line, " ", &save); t; t = strtok_r(NULL, " ", &save)) {
        if (got == n)
            return -1;
        fields[got++] = t;
    }
    return got == n ? 0 : -1;
}

static int parse_header(parser *ps, const char *key, int base, int digits, uint64_t *out)
{
    char *f[2];

    if (split_fields(ps->line, f, 2) != 0 || strcmp(f[0], key) != 0 ||
        parse_u64(f[1], base, digits, out) != 0) {
        char msg[96];
        snprintf(msg, sizeof msg, "expected '%s <%s>'", key, base == 16 ? "16 hex" : "u64");
        return parse_fail(ps, msg);
    }
    return 0;
}

static int push_offset(parser *ps, manifest *m, char **f)
{
    uint64_t part, end;
    manifest_offset *p;

    if (parse_u64(f[1], 10, 0, &part) != 0 || part > UINT32_MAX ||
        parse_u64(f[2], 10, 0, &end) != 0)
        return parse_fail(ps, "expected 'offset <partition> <offset_end>'");
    if (m->n_files)
        return parse_fail(ps, "offset line after the file lines");
    p = realloc(m->offsets, (m->n_offsets + 1) * sizeof *p);
    if (!p)
        return ember_err_set(ps->err, -ENOMEM, "%s: out of memory", ps->path);
    m->offsets = p;
    p[m->n_offsets++] = (manifest_offset){.partition = (uint32_t)part, .offset_end = end};
    return 0;
}

static int push_file(parser *ps, manifest *m, char **f)
{
    manifest_file *p;
    uint64_t bytes, hash;

    if (!manifest_path_ok(f[1]) || parse_u64(f[2], 10, 0, &bytes) != 0 ||
        parse_u64(f[3], 16, 16, &hash) != 0)
        return parse_fail(ps, "expected 'file db/<path> <bytes> <16 hex>'");
    p = realloc(m->files, (m->n_files + 1) * sizeof *p);
    if (!p)
        return ember_err_set(ps->err, -ENOMEM, "%s: out of memory", ps->path);
    m->files = p;
    if (!(p[m->n_files].path = strdup(f[1])))
        return ember_err_set(ps->err, -ENOMEM, "%s: out of memory", ps->path);
    p[m->n_files].bytes = bytes;
    p[m->n_files].xxh64 = hash;
    m->n_files++;
    return 0;
}

/* One "offset ..." or "file ..." line. */
static int parse_entry(parser *ps, manifest *m)
{
    char *f[4];

    if (strncmp(ps->line, "offset ", 7) == 0) {
        if (split_fields(ps->line, f, 3) != 0)
            return parse_fail(ps, "expected 'offset <partition> <offset_end>'");
        return push_offset(ps, m, f);
    }
    if (strncmp(ps->line, "file ", 5) == 0) {
        if (split_fields(ps->line, f, 4) != 0)
            return parse_fail(ps, "expected 'file db/<path> <bytes> <16 hex>'");
        return push_file(ps, m, f);
    }
    return parse_fail(ps, "expected an 'offset', 'file' or 'checksum' line");
}

/* Checks the final "checksum" line against the bytes before it and cuts the
 * text there; returns the length of the covered text or a negative error. */
static int check_checksum(parser *ps, char *text, size_t n)
{
    char *last;
    uint64_t stored;
    char *f[2];

    if (n == 0 || text[n - 1] != '\n')
        return parse_fail(ps, "truncated (no final newline)");
    text[n - 1] = '\0';
    last = strrchr(text, '\n');
    last = last ? last + 1 : text;
    ps->line = last;
    if (split_fields(last, f, 2) != 0 || strcmp(f[0], "checksum") != 0 ||
        parse_u64(f[1], 16, 16, &stored) != 0)
        return parse_fail(ps, "last line is not 'checksum <16 hex>'");
    if (XXH64(text, (size_t)(last - text), 0) != stored)
        return ember_err_set(ps->err, -EMBER_ECORRUPT, "%s: checksum mismatch", ps->path);
    *last = '\0';
    return 0;
}

/* Dispatches line ps->line_no (1-based) to its parser. */
static int parse_line(parser *ps, manifest *m)
{
    uint64_t version;
    int rc;

    switch (ps->line_no) {
    case 1:
        rc = parse_header(ps, "ember-manifest", 10, 0, &version);
        return rc == 0 && version != 1 ? parse_fail(ps, "unsupported manifest version") : rc;
    case 2:
        return parse_header(ps, "batch", 10, 0, &m->batch);
    case 3:
        return parse_header(ps, "created_ms", 10, 0, &m->created_ms);
    case 4:
        return parse_header(ps, "job_hash", 16, 16, &m->job_hash);
    default:
        return parse_entry(ps, m);
    }
}

/* text: the lines before the checksum line, each ended by '\n'. */
static int parse_body(parser *ps, char *text, manifest *m)
{
    char *line = text, *nl;
    int rc = 0;

    ps->line_no = 0;
    while (rc == 0 && *line) {
        nl = strchr(line, '\n');
        *nl = '\0'; /* check_checksum left only whole lines */
        ps->line = line;
        ps->line_no++;
        rc = parse_line(ps, m);
        line = nl + 1;
    }
    if (rc == 0 && ps->line_no < 4)
        rc = parse_fail(ps, "header incomplete");
    return rc;
}

int manifest_read(const char *snap_dir, manifest *m, ember_err *err)
{
    char path[PATH_MAX];
    parser ps = {.path = path, .err = err};
    char *text;
    size_t n;
    int rc;

    memset(m, 0, sizeof *m);
    if (snprintf(path, sizeof path, "%s/" MANIFEST_NAME, snap_dir) >= (int)sizeof path)
        return ember_err_set(err, -ENAMETOOLONG, "manifest %s: path too long", snap_dir);
    if ((rc = io_read_file(path, &text, &n, err)) != 0)
        return rc;
    if (strlen(text) != n)
        rc = ember_err_set(err, -EMBER_ECORRUPT, "%s: contains a NUL byte", path);
    else if ((rc = check_checksum(&ps, text, n)) == 0)
        rc = parse_body(&ps, text, m);
    free(text);
    if (rc)
        manifest_free(m);
    return rc;
}

/* ------------------------------------------------------------ verify */

/* Existence and size: cheap, so every file is checked before any hashing. */
static int verify_present(const char *snap_dir, const manifest_file *f, ember_err *err)
{
    char path[PATH_MAX];
    struct stat st;

    snprintf(path, sizeof path, "%s/%s", snap_dir, f->path);
    if (stat(path, &st) != 0)
        return ember_err_set(err, -EMBER_ECORRUPT, "snapshot %s: %s listed in MANIFEST: %s",
                             snap_dir, f->path, strerror(errno));
    if ((uint64_t)st.st_size != f->bytes)
        return ember_err_set(err, -EMBER_ECORRUPT,
                             "snapshot %s: %s is %" PRIu64 " bytes, MANIFEST says %" PRIu64,
                             snap_dir, f->path, (uint64_t)st.st_size, f->bytes);
    return 0;
}

static int verify_hash(const char *snap_dir, const manifest_file *f, ember_err *err)
{
    char path[PATH_MAX];
    uint64_t bytes, hash;
    int rc;

    snprintf(path, sizeof path, "%s/%s", snap_dir, f->path);
    if ((rc = manifest_hash_file(path, &bytes, &hash, err)) != 0)
        return rc;
    if (bytes != f->bytes || hash != f->xxh64)
        return ember_err_set(err, -EMBER_ECORRUPT,
                             "snapshot %s: %s checksum mismatch (xxh64 %016" PRIx64
                             ", MANIFEST says %016" PRIx64 ")",
                             snap_dir, f->path, hash, f->xxh64);
    return 0;
}

static int listed(const manifest *m, const char *rel)
{
    for (size_t i = 0; i < m->n_files; i++)
        if (strcmp(m->files[i].path, rel) == 0)
            return 1;
    return 0;
}

/* Files on disk that the MANIFEST does not list (a half-copied or tampered
 * snapshot). Quadratic, but snapshots hold tens to hundreds of files. */
static int verify_no_extra(const char *snap_dir, const manifest *m, ember_err *err)
{
    name_list names = {0};
    int rc;

    if ((rc = list_db_files(snap_dir, &names, err)) != 0)
        return rc == -ENOENT && m->n_files == 0 ? 0 : rc;
    for (size_t i = 0; rc == 0 && i < names.n; i++)
        if (!listed(m, names.names[i]))
            rc = ember_err_set(err, -EMBER_ECORRUPT,
                               "snapshot %s: %s is not listed in MANIFEST", snap_dir,
                               names.names[i]);
    names_free(&names);
    return rc;
}

int manifest_verify_files(const char *snap_dir, const manifest *m, ember_err *err)
{
    int rc = 0;

    for (size_t i = 0; rc == 0 && i < m->n_files; i++)
        rc = verify_present(snap_dir, &m->files[i], err);
    if (rc == 0)
        rc = verify_no_extra(snap_dir, m, err);
    for (size_t i = 0; rc == 0 && i < m->n_files; i++)
        rc = verify_hash(snap_dir, &m->files[i], err);
    return rc;
}

void manifest_free(manifest *m)
{
    if (!m)
        return;
    files_free(m);
    free(m->offsets);
    memset(m, 0, sizeof *m);
}
