/*
 * sink_file: `sink file dir=D [format=csv|tsv|json] [ext=E]`. One file per
 * batch, D/<batch 12 digits>.<ext>, a header line of column names (none for
 * json) then one row per line in the format (core/ops/rowfmt.h; without
 * format= the tab-separated text of earlier releases, extension tsv). Exactly-once by
 * idempotence: the file is written to a temp name, fsynced, renamed and the
 * directory fsynced (io_write_file_atomic), so a reader sees a whole batch or
 * nothing, and a replayed batch overwrites the same name with the same bytes.
 *
 * Output identity: D/.ember-checkpoint names the checkpoint whose batches D
 * holds (its id, DIR/ID), written when the sink first uses D:
 *
 *   ember-output 1
 *   checkpoint <32 hex id>
 *   job <job name>
 *   dir <checkpoint directory>
 *   checksum <xxh64 16 hex of every byte before this line>
 *
 * At start, D marked by another checkpoint (an old run whose --dir was
 * deleted or changed), a damaged mark, or batch files without a mark in a
 * checkpoint that has committed nothing are refused: the new batches would
 * overwrite some of the old ones and leave the rest beside them. With
 * --reset-output D is moved aside to D.<time> first. Unmarked batch files
 * in a checkpoint that has committed batches are its own (written before
 * checkpoint ids) and get the mark. Every commit checks the mark again, so
 * a second copy of the job that took D over stops this one.
 */
#include "core/base/io.h"
#include "core/base/log.h"
#include "core/sink/sink.h"
#include "core/ops/rowfmt.h"
#include "core/ops/text.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#define MARK_NAME ".ember-checkpoint"
#define MARK_MAGIC "ember-output 1\n"
#define ID_LEN 32

static const opt_def file_sink_options[] = {
    {"dir", OPT_STR, NULL, NULL, "directory of the batch files"},
    {"format", OPT_ENUM, "", ROWFMT_NAMES,
     "row format: csv (RFC 4180), tsv (PostgreSQL text COPY), json (an object per line); "
     "default: tab-separated values unescaped, as before format= existed"},
    {"ext", OPT_STR, "", NULL, "file name extension (default: tsv; csv for format=csv, "
                               "jsonl for format=json)"},
    {0},
};

typedef struct file_sink {
    char *dir;
    char *ext;
    char *job, *ckpt_dir;
    char id[ID_LEN + 1];
    int reset;
    const schema *rows;
    rowfmt format;
    text_buf buf;
} file_sink;

/* What D/.ember-checkpoint says. */
typedef struct owner {
    char id[ID_LEN + 1];
    char job[256], dir[1024];
} owner;

/* ------------------------------------------------------------ the mark */

static void mark_path(const file_sink *f, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s/%s", f->dir, MARK_NAME);
}

/* The value of "NAME value\n" in text (before `end`), or "" when absent. */
static void field(const char *text, const char *end, const char *name, char *out, size_t cap)
{
    size_t n = strlen(name);
    out[0] = '\0';
    for (const char *p = text; p < end;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl)
            break;
        if ((size_t)(nl - p) > n && !memcmp(p, name, n) && p[n] == ' ') {
            snprintf(out, cap, "%.*s", (int)(nl - p - (ptrdiff_t)n - 1), p + n + 1);
            return;
        }
        p = nl + 1;
    }
}

static int is_id(const char *s)
{
    size_t n = strlen(s);
    if (n != ID_LEN)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return 1;
}

/* 0 and *o filled; -ENOENT no mark; -EMBER_ECORRUPT a mark that does not verify. */
static int read_owner(const file_sink *f, owner *o, ember_err *err)
{
    char path[4200], *text = NULL;
    size_t n = 0;
    mark_path(f, path, sizeof path);
    if (access(path, F_OK) != 0 && errno == ENOENT)
        return -ENOENT;
    int rc = io_read_file(path, &text, &n, err);
    if (rc)
        return rc;
    const char *sum = NULL;
    for (size_t i = n; i-- > 0 && !sum;)
        if ((i == 0 || text[i - 1] == '\n') && n - i >= 9 && !memcmp(text + i, "checksum ", 9))
            sum = text + i;
    char want[32], got[32];
    rc = -EMBER_ECORRUPT;
    if (sum && n >= sizeof MARK_MAGIC - 1 && !memcmp(text, MARK_MAGIC, sizeof MARK_MAGIC - 1)) {
        snprintf(want, sizeof want, "%016" PRIx64, (uint64_t)XXH64(text, (size_t)(sum - text), 0));
        field(sum, text + n, "checksum", got, sizeof got);
        field(text, sum, "checkpoint", o->id, sizeof o->id);
        field(text, sum, "job", o->job, sizeof o->job);
        field(text, sum, "dir", o->dir, sizeof o->dir);
        if (!strcmp(want, got) && is_id(o->id))
            rc = 0;
    }
    free(text);
    return rc ? ember_err_set(err, rc, "%s is damaged (checksum or format)", path) : 0;
}

static int write_mark(const file_sink *f, ember_err *err)
{
    char path[4200], text[2048];
    mark_path(f, path, sizeof path);
    int n = snprintf(text, sizeof text, MARK_MAGIC "checkpoint %s\njob %.255s\ndir %.1000s\n",
                     f->id, f->job, f->ckpt_dir);
    n += snprintf(text + n, sizeof text - (size_t)n, "checksum %016" PRIx64 "\n",
                  (uint64_t)XXH64(text, (size_t)n, 0));
    return io_write_file_atomic(path, text, (size_t)n, err);
}

/* ------------------------------------------------------------ the directory */

/* A name the sink writes: <12 digits>.<ext>, its temp files, the mark. */
static int is_ours(const file_sink *f, const char *name, int *batch_file)
{
    size_t ext = strlen(f->ext);
    *batch_file = 0;
    if (!strcmp(name, MARK_NAME) || !strncmp(name, MARK_NAME ".tmp.", sizeof MARK_NAME + 4))
        return 1;
    for (int i = 0; i < 12; i++)
        if (name[i] < '0' || name[i] > '9')
            return 0;
    if (name[12] != '.' || strncmp(name + 13, f->ext, ext))
        return 0;
    const char *rest = name + 13 + ext;
    *batch_file = *rest == '\0';
    return *rest == '\0' || !strncmp(rest, ".tmp.", 5);
}

/* Counts D's batch files and the entries that are not the sink's. */
static int scan_dir(const file_sink *f, size_t *batches, size_t *foreign, char *first,
                    size_t cap, ember_err *err)
{
    DIR *d = opendir(f->dir);
    *batches = *foreign = 0;
    first[0] = '\0';
    if (!d)
        return errno == ENOENT ? 0 : ember_err_set(err, -errno, "%s: %s", f->dir, strerror(errno));
    for (struct dirent *e; (e = readdir(d));) {
        int batch;
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        if (!is_ours(f, e->d_name, &batch)) {
            (*foreign)++;
        } else if (batch) {
            (*batches)++;
            if (!first[0] || strcmp(e->d_name, first) < 0)
                snprintf(first, cap, "%s", e->d_name);
        }
    }
    closedir(d);
    return 0;
}

static void parent_of(const char *path, char *buf, size_t cap)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(buf, cap, ".");
    else if (slash == path)
        snprintf(buf, cap, "/");
    else
        snprintf(buf, cap, "%.*s", (int)(slash - path), path);
}

/* D.<local time>, with -2, -3... when taken. */
static void aside_name(const file_sink *f, char *buf, size_t cap)
{
    char stamp[32];
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
    snprintf(buf, cap, "%s.%s", f->dir, stamp);
    for (int i = 2; access(buf, F_OK) == 0 && i < 1000; i++)
        snprintf(buf, cap, "%s.%s-%d", f->dir, stamp, i);
}

/* --reset-output: D to D.<time>, whole when it holds only the sink's files,
 * else the sink's files one by one (the mark last, so an interrupted move
 * is still refused and can be resumed). */
static int move_aside(file_sink *f, size_t foreign, const char *whose, ember_err *err)
{
    char to[4200], parent[4200];
    aside_name(f, to, sizeof to);
    parent_of(f->dir, parent, sizeof parent);
    int rc = 0;
    if (!foreign) {
        if (!(rc = io_rename(f->dir, to, err)))
            rc = io_fsync_dir(parent, err);
    } else {
        DIR *d = opendir(f->dir);
        if (!d)
            return ember_err_set(err, -errno, "%s: %s", f->dir, strerror(errno));
        rc = io_mkdir_p(to, err);
        for (struct dirent *e; !rc && (e = readdir(d));) {
            int batch;
            char a[4600], b[4600];
            if (!is_ours(f, e->d_name, &batch) || !strcmp(e->d_name, MARK_NAME))
                continue;
            snprintf(a, sizeof a, "%s/%s", f->dir, e->d_name);
            snprintf(b, sizeof b, "%s/%s", to, e->d_name);
            rc = io_rename(a, b, err);
        }
        closedir(d);
        char a[4600], b[4600];
        snprintf(a, sizeof a, "%s/%s", f->dir, MARK_NAME);
        snprintf(b, sizeof b, "%s/%s", to, MARK_NAME);
        if (!rc && access(a, F_OK) == 0)
            rc = io_rename(a, b, err);
        if (!rc && !(rc = io_fsync_dir(to, err)))
            rc = io_fsync_dir(f->dir, err);
        if (!rc)
            rc = io_fsync_dir(parent, err);
    }
    if (rc)
        return ember_err_prefix(err, "sink file dir=%s: --reset-output", f->dir);
    em_log(EMBER_LOG_INFO, "recovery: sink file: moved %s (%s) aside to %s (--reset-output); "
           "this checkpoint writes a new %s", f->dir, whose, to, f->dir);
    return io_mkdir_p(f->dir, err);
}

static void short_id(const char *id, char *buf, size_t cap)
{
    snprintf(buf, cap, "%.8s", id);
}

/* At start: makes D this checkpoint's, or refuses (see the top). */
static int claim(file_sink *f, uint64_t committed, ember_err *err)
{
    owner o;
    memset(&o, 0, sizeof o);
    size_t batches = 0, foreign = 0;
    char first[300], whose[1400], ours[16], theirs[16];
    int rc = read_owner(f, &o, err);
    if (rc && rc != -ENOENT && rc != -EMBER_ECORRUPT)
        return rc;
    if (!rc && !strcmp(o.id, f->id)) {
        if (f->reset)
            em_log(EMBER_LOG_INFO, "recovery: sink file: %s already holds this checkpoint's "
                   "output; nothing to reset", f->dir);
        return 0;
    }
    int damaged = rc == -EMBER_ECORRUPT;
    if ((rc = scan_dir(f, &batches, &foreign, first, sizeof first, err)))
        return rc;
    short_id(f->id, ours, sizeof ours);
    short_id(o.id, theirs, sizeof theirs);
    if (!o.id[0] && !damaged && (!batches || committed)) {
        if (batches)
            em_log(EMBER_LOG_INFO, "recovery: sink file: %s holds %zu batch files and no owner; "
                   "this checkpoint has committed batch %" PRIu64 ", so they are its own "
                   "(written before checkpoint ids): marked with id %s", f->dir, batches,
                   committed, ours);
        return write_mark(f, err);
    }
    if (damaged)
        snprintf(whose, sizeof whose, "its %s is damaged, so which checkpoint wrote it is "
                 "unknown", MARK_NAME);
    else if (o.id[0])
        snprintf(whose, sizeof whose, "the output of another checkpoint (job %s, id %s, "
                 "checkpoint %s)", o.job, theirs, o.dir);
    else
        snprintf(whose, sizeof whose, "%zu batch files (%s...) that no checkpoint claims, and "
                 "this checkpoint has committed nothing", batches, first);
    if (!f->reset)
        return ember_err_set(err, -EMBER_EINCOMPAT, "sink file dir=%s: %s holds %s; this "
                             "checkpoint (%s, id %s) would mix its batches with them: run with "
                             "--reset-output to move %s aside to %s.<time>, or point dir= "
                             "elsewhere", f->dir, f->dir, whose, f->ckpt_dir, ours, f->dir,
                             f->dir);
    if ((rc = move_aside(f, foreign, damaged ? "mark damaged" : o.id[0] ? whose : "no owner",
                         err)))
        return rc;
    return write_mark(f, err);
}

/* ------------------------------------------------------------ sink ops */

static int fsink_open(sink *s, const opt_set *opts, const sink_env *env, ember_err *err)
{
    file_sink *f = calloc(1, sizeof *f);
    if (!f)
        return ember_err_set(err, -ENOMEM, "out of memory");
    s->impl = f;
    f->dir = strdup(opts_str(opts, "dir"));
    f->format = (rowfmt)rowfmt_from_name(opts_str(opts, "format"));
    const char *ext = opts_str(opts, "ext");
    f->ext = strdup(ext[0] ? ext : rowfmt_ext(f->format));
    f->job = strdup(env->job_name);
    f->ckpt_dir = realpath(env->checkpoint_dir, NULL);
    if (!f->ckpt_dir)
        f->ckpt_dir = strdup(env->checkpoint_dir);
    f->rows = env->rows;
    f->reset = env->reset_output;
    snprintf(f->id, sizeof f->id, "%s", env->checkpoint_id ? env->checkpoint_id : "");
    if (!f->dir || !f->ext || !f->job || !f->ckpt_dir)
        return ember_err_set(err, -ENOMEM, "out of memory");
    for (size_t n = strlen(f->dir); n > 1 && f->dir[n - 1] == '/';)
        f->dir[--n] = '\0';
    if (!is_id(f->id))
        return ember_err_set(err, -EINVAL, "sink file: no checkpoint id");
    return io_mkdir_p(f->dir, err);
}

static int fsink_recover(sink *s, uint64_t committed_batch, ember_err *err)
{
    /* idempotent overwrite needs no memory of past batches, only the owner */
    return claim(s->impl, committed_batch, err);
}

static int fsink_begin(sink *s, uint64_t batch, uint64_t batch_time_ms, ember_err *err)
{
    file_sink *f = s->impl;
    f->buf.len = 0;
    if (rowfmt_append_header(&f->buf, f->format, f->rows))
        return ember_err_set(err, -ENOMEM, "out of memory");
    return 0;
}

static int fsink_write(sink *s, const ember_record *row, ember_err *err)
{
    file_sink *f = s->impl;
    if (rowfmt_append_row(&f->buf, f->format, f->rows, row))
        return ember_err_set(err, -ENOMEM, "out of memory");
    return 0;
}

/* D is still this checkpoint's (another copy of the job may have taken it
 * over with --reset-output, or written its own mark). */
static int still_ours(file_sink *f, uint64_t batch, ember_err *err)
{
    owner o;
    memset(&o, 0, sizeof o);
    char ours[16], theirs[16];
    int rc = read_owner(f, &o, err);
    /* D or its mark gone while running: another copy moving it aside with
     * --reset-output (a mark of ours written now could overwrite the one it
     * is about to write), or a user who deleted it. Either way stop; the next
     * start claims D again. */
    if (rc == -ENOENT)
        return ember_err_set(err, -EIO, "sink file dir=%s: its mark %s is gone while this job "
                             "ran (another copy took %s over with --reset-output, or it was "
                             "deleted); this one stops before batch %" PRIu64 ", a restart "
                             "claims it again", f->dir, MARK_NAME, f->dir, batch);
    if (rc)
        return ember_err_prefix(err, "sink file dir=%s: batch %" PRIu64, f->dir, batch);
    if (!strcmp(o.id, f->id))
        return 0;
    short_id(f->id, ours, sizeof ours);
    short_id(o.id, theirs, sizeof theirs);
    return ember_err_set(err, -EIO, "sink file dir=%s: another checkpoint (job %s, id %s, "
                         "checkpoint %s) took %s over after this one (id %s) started: two "
                         "copies of a job must not write one directory; this one stops before "
                         "batch %" PRIu64, f->dir, o.job, theirs, o.dir, f->dir, ours, batch);
}

static int fsink_commit(sink *s, uint64_t batch, ember_err *err)
{
    file_sink *f = s->impl;
    char path[4096];
    int rc = still_ours(f, batch, err);
    if (rc)
        return rc;
    snprintf(path, sizeof path, "%s/%012llu.%s", f->dir, (unsigned long long)batch, f->ext);
    return io_write_file_atomic(path, f->buf.data, f->buf.len, err);
}

static void fsink_close(sink *s)
{
    file_sink *f = s->impl;
    if (!f)
        return;
    text_free(&f->buf);
    free(f->dir);
    free(f->ext);
    free(f->job);
    free(f->ckpt_dir);
    free(f);
    s->impl = NULL;
}

const sink_ops sink_file_ops = {
    .kind = "file",
    .doc = "one file per batch, DIR/<batch>.tsv (.csv, .jsonl: format=), atomic rename; "
           "exactly-once; "
           "DIR/.ember-checkpoint names the checkpoint it belongs to",
    .options = file_sink_options,
    .exactly_once = 1,
    .open = fsink_open,
    .recover = fsink_recover,
    .begin = fsink_begin,
    .write = fsink_write,
    .commit = fsink_commit,
    .close = fsink_close,
};
