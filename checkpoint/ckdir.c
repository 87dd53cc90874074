/* ckdir: lock and job-spec check of a checkpoint directory (see ckdir.h). */
#include "checkpoint/ckdir.h"
#include "core/base/io.h"
#include "core/base/log.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

int ckdir_lock(const char *dir, int *fd_out, ember_err *err)
{
    char path[4096], pid[32] = "";
    int rc = io_mkdir_p(dir, err);
    if (rc)
        return rc;
    snprintf(path, sizeof path, "%s/LOCK", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return ember_err_set(err, -errno, "%s: %s", path, strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        ssize_t n = pread(fd, pid, sizeof pid - 1, 0);
        pid[n > 0 ? n : 0] = '\0';
        pid[strcspn(pid, "\n")] = '\0';
        close(fd);
        if (e == EWOULDBLOCK)
            return ember_err_set(err, -EMBER_ELOCKED,
                                 "%s is in use by another ember process%s%s%s; stop it first or "
                                 "use another --dir", dir, pid[0] ? " (pid " : "", pid,
                                 pid[0] ? ")" : "");
        return ember_err_set(err, -e, "%s: flock: %s", path, strerror(e));
    }
    int n = snprintf(pid, sizeof pid, "%d\n", (int)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)n, 0) != n) {
        /* The pid is only for the message above; the flock is what counts. */
    }
    *fd_out = fd;
    return 0;
}

void ckdir_unlock(int fd)
{
    if (fd >= 0)
        close(fd);
}

int ckdir_is_checkpoint(const char *dir)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/JOB", dir);
    return access(path, F_OK) == 0;
}

/* The first line present in `a` but not in `b` (for the message). */
static void first_missing_line(const char *a, const char *b, char *out, size_t cap)
{
    out[0] = '\0';
    for (const char *p = a; p && *p;) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        int found = 0;
        for (const char *q = b; q && *q;) {
            const char *qn = strchr(q, '\n');
            size_t ql = qn ? (size_t)(qn - q) : strlen(q);
            if (ql == len && memcmp(p, q, len) == 0)
                found = 1;
            q = qn ? qn + 1 : NULL;
        }
        if (!found) {
            snprintf(out, cap, "%.*s", (int)len, p);
            return;
        }
        p = nl ? nl + 1 : NULL;
    }
}

static int refuse_change(const char *dir, const ember_job *stored, const ember_job *job,
                         ember_err *err)
{
    const char *old_layout = stored->layout ? stored->layout : "";
    const char *new_layout = job->layout ? job->layout : "";
    char was[512], now[512], type[256];
    if (job_state_type_change(stored, job, type, sizeof type))
        return ember_err_set(err, -EMBER_EINCOMPAT,
                             "%s/JOB: the job changes the state layout: %s; keep the "
                             "field's old type, or start fresh with another --dir (or delete "
                             "%s)",
                             dir, type, dir);
    first_missing_line(old_layout, new_layout, was, sizeof was);
    first_missing_line(new_layout, old_layout, now, sizeof now);
    return ember_err_set(err, -EMBER_EINCOMPAT,
                         "%s/JOB: the job changes the state layout ('%s' became '%s'); "
                         "keep the old job, or start fresh with another --dir (or delete %s)",
                         dir, was[0] ? was : "(nothing)", now[0] ? now : "(nothing)", dir);
}

/* ------------------------------------------------------------ DIR/JOB */

#define JOB_HEAD "# the job of this checkpoint, stored by ember run; do not edit\n"
#define JOB_SUM "# checksum "

/* The job text between DIR/JOB's head line and its checksum line, in place:
 * 0 and [*body, *body + *len) on a stamped file whose checksum holds, or on
 * a file with neither line (written by 0.4.0 or before: taken as it is); otherwise
 * -1 (damaged: cut, flipped, edited). */
static int job_body(const char *text, size_t n, const char **body, size_t *len)
{
    size_t head = sizeof JOB_HEAD - 1, tail = sizeof JOB_SUM - 1 + 16 + 1;
    int has_head = n >= head && !memcmp(text, JOB_HEAD, head);
    const char *sum = n >= tail ? text + n - tail : NULL;
    int has_sum = sum && !memcmp(sum, JOB_SUM, sizeof JOB_SUM - 1) && text[n - 1] == '\n';
    *body = text, *len = n;
    if (!has_head && !has_sum) /* 0.4.0's, unless a cut one (a part of the head) */
        return (n && n < head && !memcmp(text, JOB_HEAD, n)) ||
                       memmem(text, n, JOB_SUM, sizeof JOB_SUM - 1)
                   ? -1
                   : 0;
    if (!has_head || !has_sum)
        return -1;
    char want[17];
    snprintf(want, sizeof want, "%016" PRIx64, (uint64_t)XXH64(text, (size_t)(sum - text), 0));
    if (memcmp(sum + sizeof JOB_SUM - 1, want, 16))
        return -1;
    *body = text + head, *len = (size_t)(sum - text) - head;
    return 0;
}

/* DIR/JOB read whole and checked: *raw (to free) and the body in it. */
static int read_job(const char *dir, char **raw, size_t *n, const char **body, size_t *len,
                    ember_err *err)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/JOB", dir);
    int rc = io_read_file(path, raw, n, err);
    if (rc)
        return rc;
    if (job_body(*raw, *n, body, len)) {
        free(*raw);
        *raw = NULL;
        return ember_err_set(err, -EMBER_ECORRUPT, "%s is damaged (checksum or format): the "
                             "stored job is not what ember run wrote; if you run the job that "
                             "made this checkpoint, delete %s and ember run stores it anew",
                             path, path);
    }
    return 0;
}

int ckdir_read_job_text(const char *dir, char **text, size_t *len, ember_err *err)
{
    char *raw = NULL;
    size_t n = 0;
    const char *body;
    int rc = read_job(dir, &raw, &n, &body, len, err);
    if (rc)
        return rc;
    memmove(raw, body, *len);
    raw[*len] = '\0';
    *text = raw;
    return 0;
}

/* The whole file is loaded: its two stamp lines are comments, and the
 * line numbers of a message are the file's. */
int ckdir_load_job(const char *dir, ember_job **job, ember_err *err)
{
    char path[4096], *raw = NULL;
    size_t n = 0, len;
    const char *body;
    snprintf(path, sizeof path, "%s/JOB", dir);
    *job = NULL;
    int rc = read_job(dir, &raw, &n, &body, &len, err);
    if (!rc)
        rc = job_load_text(path, raw, n, job, err);
    free(raw);
    return rc;
}

/* DIR/JOB: the head line, the text, the checksum of both (one atomic write). */
static int write_job(const char *path, const char *text, ember_err *err)
{
    size_t n = strlen(text), head = sizeof JOB_HEAD - 1;
    int nl = n && text[n - 1] != '\n';
    size_t cap = head + n + nl + sizeof JOB_SUM + 18;
    char *buf = malloc(cap);
    if (!buf)
        return ember_err_set(err, -ENOMEM, "out of memory");
    memcpy(buf, JOB_HEAD, head);
    memcpy(buf + head, text, n);
    size_t at = head + n;
    if (nl)
        buf[at++] = '\n';
    at += (size_t)snprintf(buf + at, cap - at, JOB_SUM "%016" PRIx64 "\n",
                           (uint64_t)XXH64(buf, at, 0));
    int rc = io_write_file_atomic(path, buf, at, err);
    free(buf);
    return rc;
}

/* Writes the job's canonical text to DIR/JOB once it is sure the text loads
 * back to the same state layout (what the next run compares with). */
static int store_job(const char *path, const ember_job *job, ember_err *err)
{
    ember_job *back = NULL;
    const char *text = job->text ? job->text : "";
    int rc = job_load_text(path, text, strlen(text), &back, err);
    if (rc)
        return ember_err_prefix(err, "the job's text does not load back, so it cannot be "
                                     "stored");
    if (strcmp(back->layout ? back->layout : "", job->layout ? job->layout : "") != 0)
        rc = ember_err_set(err, -EMBER_EUSAGE,
                           "%s: the job's text loads back to another state layout, so it "
                           "cannot be stored",
                           path);
    ember_job_free(back);
    return rc ? rc : write_job(path, text, err);
}

int ckdir_check_job(const char *dir, const ember_job *job, ember_err *err)
{
    char path[4096];
    ember_job *stored = NULL;
    snprintf(path, sizeof path, "%s/JOB", dir);
    if (access(path, F_OK) != 0)
        return store_job(path, job, err);
    int rc = ckdir_load_job(dir, &stored, err);
    if (rc == -EMBER_ECORRUPT)
        return rc;
    if (rc)
        return ember_err_prefix(err, "stored job spec unreadable");
    const char *old_layout = stored->layout ? stored->layout : "";
    const char *new_layout = job->layout ? job->layout : "";
    if (strcmp(old_layout, new_layout) != 0)
        rc = refuse_change(dir, stored, job, err);
    else if (strcmp(stored->text, job->text) != 0)
        rc = store_job(path, job, err);
    ember_job_free(stored);
    return rc;
}

/* ------------------------------------------------------------ identity */

#define ID_MAGIC "ember-checkpoint-id 1\n"

static int is_hex_id(const char *p, size_t n)
{
    if (n != CKDIR_ID_LEN)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f')))
            return 0;
    return 1;
}

/* Parses the text of DIR/ID; 0 ok, -1 damaged. */
static int parse_id(const char *text, size_t n, char id[CKDIR_ID_LEN + 1])
{
    const char *sum = NULL;
    for (size_t i = n; i-- > 0;)
        if (i + 9 <= n && (i == 0 || text[i - 1] == '\n') && !memcmp(text + i, "checksum ", 9)) {
            sum = text + i;
            break;
        }
    if (!sum || n < sizeof ID_MAGIC - 1 || memcmp(text, ID_MAGIC, sizeof ID_MAGIC - 1))
        return -1;
    char want[17];
    snprintf(want, sizeof want, "%016" PRIx64, (uint64_t)XXH64(text, (size_t)(sum - text), 0));
    size_t rest = n - (size_t)(sum - text);
    if (rest != 9 + 16 + 1 || memcmp(sum + 9, want, 16) || sum[25] != '\n')
        return -1;
    const char *line = strstr(text, "\nid ");
    if (!line || line > sum)
        return -1;
    line += 4;
    const char *end = strchr(line, '\n');
    if (!end || !is_hex_id(line, (size_t)(end - line)))
        return -1;
    memcpy(id, line, CKDIR_ID_LEN);
    id[CKDIR_ID_LEN] = '\0';
    return 0;
}

int ckdir_read_id(const char *dir, char id[CKDIR_ID_LEN + 1], ember_err *err)
{
    char path[4096];
    char *text = NULL;
    size_t n = 0;
    snprintf(path, sizeof path, "%s/ID", dir);
    if (access(path, F_OK) != 0 && errno == ENOENT)
        return ember_err_set(err, -ENOENT, "%s: no such file", path);
    int rc = io_read_file(path, &text, &n, err);
    if (rc)
        return rc;
    if (parse_id(text, n, id))
        rc = ember_err_set(err, -EMBER_ECORRUPT, "%s is damaged (checksum or format)", path);
    free(text);
    return rc;
}

static int random_bytes(unsigned char *buf, size_t n, ember_err *err)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = getrandom(buf + got, n - got, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return ember_err_set(err, -errno, "getrandom: %s", strerror(errno));
        got += (size_t)r;
    }
    return 0;
}

static int make_id(const char *dir, char id[CKDIR_ID_LEN + 1], ember_err *err)
{
    unsigned char raw[CKDIR_ID_LEN / 2];
    char text[256], path[4096];
    int rc = random_bytes(raw, sizeof raw, err);
    if (rc)
        return rc;
    for (size_t i = 0; i < sizeof raw; i++)
        snprintf(id + 2 * i, 3, "%02x", raw[i]);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int n = snprintf(text, sizeof text, ID_MAGIC "id %s\ncreated_ms %" PRIu64 "\n", id,
                     (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000);
    n += snprintf(text + n, sizeof text - (size_t)n, "checksum %016" PRIx64 "\n",
                  (uint64_t)XXH64(text, (size_t)n, 0));
    snprintf(path, sizeof path, "%s/ID", dir);
    return io_write_file_atomic(path, text, (size_t)n, err);
}

int ckdir_identity(const char *dir, int renew, char id[CKDIR_ID_LEN + 1], ember_err *err)
{
    int rc = ckdir_read_id(dir, id, err);
    if (rc == 0)
        return 0;
    if (rc == -EMBER_ECORRUPT && !renew) {
        char why[sizeof err->msg];
        snprintf(why, sizeof why, "%s", err->msg);
        return ember_err_set(err, -EMBER_ECORRUPT, "%s: the checkpoint's output identity is "
                             "lost; run with --reset-output to give it a new id (its output "
                             "is moved aside)", why);
    }
    if (rc != -ENOENT && rc != -EMBER_ECORRUPT)
        return rc;
    int damaged = rc == -EMBER_ECORRUPT, had_job = ckdir_is_checkpoint(dir);
    *err = (ember_err){0};
    if ((rc = make_id(dir, id, err)))
        return rc;
    if (damaged || had_job)
        em_log(EMBER_LOG_INFO, "recovery: %s/ID %s; the checkpoint's new id is %s", dir,
               damaged ? "was damaged (replaced: --reset-output)"
                       : "was missing (a checkpoint made before checkpoint ids, or the file "
                         "was deleted)",
               id);
    return 0;
}
