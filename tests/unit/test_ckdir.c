/*
 * test_ckdir: checkpoint/ckdir.c, the checkpoint directory's LOCK, JOB and ID.
 * The lock is held by a child process (flock is per open file, so a second
 * process is the honest test); the JOB checks use job files written here.
 */
#include "checkpoint/ckdir.h"
#include "core/base/io.h"

#include <check.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <xxhash.h>

static char g_tmp[64];
static char g_dir[128]; /* the checkpoint directory, created by ckdir_lock */

static void setup(void)
{
    strcpy(g_tmp, "/tmp/ember-test-ckdir-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(g_tmp));
    snprintf(g_dir, sizeof g_dir, "%s/a/b/ckpt", g_tmp);
}

static char g_log[4096]; /* library log lines of the test, one per line */

static void capture_log(ember_log_level level, const char *line, void *user)
{
    size_t n = strlen(g_log);
    snprintf(g_log + n, sizeof g_log - n, "%d %s\n", (int)level, line);
}

static void teardown(void)
{
    ember_err err = {0};
    ember_set_log(NULL, NULL);
    ck_assert_int_eq(io_remove_tree(g_tmp, &err), 0);
}

static char *read_text(const char *path)
{
    ember_err err = {0};
    char *buf;
    size_t n;
    ck_assert_msg(io_read_file(path, &buf, &n, &err) == 0, "%s", err.msg);
    return buf;
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    ck_assert_int_eq(fclose(f), 0);
}

static const char *in_dir(const char *name)
{
    static char bufs[2][256];
    static int k;
    char *p = bufs[k++ % 2];
    snprintf(p, sizeof bufs[0], "%s/%s", g_dir, name);
    return p;
}

/* The job text ckdir_read_job_text gives back. */
static char *stored_text(void)
{
    ember_err err = {0};
    char *text = NULL;
    size_t n = 0;
    ck_assert_msg(ckdir_read_job_text(g_dir, &text, &n, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(strlen(text), n);
    return text;
}

/* DIR/JOB as ckdir.h specifies it: the head line, the text, the checksum
 * line with XXH64 of all before it, computed here. */
static void assert_stamped(const char *text)
{
    const char *head = "# the job of this checkpoint, stored by ember run; do not edit\n";
    char *file = read_text(in_dir("JOB")), want[600];
    size_t n = strlen(file), hn = strlen(head), tn = strlen(text);
    ck_assert_uint_eq(n, hn + tn + 28);
    ck_assert_int_eq(memcmp(file, head, hn), 0);
    ck_assert_int_eq(memcmp(file + hn, text, tn), 0);
    snprintf(want, sizeof want, "# checksum %016" PRIx64 "\n", (uint64_t)XXH64(file, hn + tn, 0));
    ck_assert_str_eq(file + hn + tn, want);
    free(file);
}

/* ------------------------------------------------------------ lock */

typedef struct holder {
    pid_t pid;
    int release_fd; /* write a byte (or close) to let the child exit */
} holder;

/* A child process that takes the lock and holds it until released. */
static holder hold_lock_in_child(void)
{
    int ready[2], release[2];
    ck_assert_int_eq(pipe(ready), 0);
    ck_assert_int_eq(pipe(release), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        ember_err err = {0};
        int fd = -1;
        close(ready[0]);
        close(release[1]); /* else the parent's close never reaches EOF here */
        char c = ckdir_lock(g_dir, &fd, &err) == 0 ? 'y' : 'n';
        if (write(ready[1], &c, 1) != 1 || read(release[0], &c, 1) < 0)
            _exit(2);
        _exit(0);
    }
    close(ready[1]);
    close(release[0]);
    char c = 0;
    ck_assert_int_eq(read(ready[0], &c, 1), 1);
    close(ready[0]);
    ck_assert_int_eq(c, 'y');
    return (holder){pid, release[1]};
}

static void release_child(holder *h)
{
    int status;
    close(h->release_fd);
    ck_assert_int_eq(waitpid(h->pid, &status, 0), h->pid);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

START_TEST(lock_creates_the_directory_and_records_the_pid)
{
    ember_err err = {0};
    int fd = -1;
    char want[32];
    ck_assert_msg(ckdir_lock(g_dir, &fd, &err) == 0, "%s", err.msg);
    ck_assert_int_ge(fd, 0);
    struct stat st;
    ck_assert_int_eq(stat(g_dir, &st), 0);
    ck_assert(S_ISDIR(st.st_mode));
    snprintf(want, sizeof want, "%d\n", (int)getpid());
    char *got = read_text(in_dir("LOCK"));
    ck_assert_str_eq(got, want);
    free(got);
    ckdir_unlock(fd);
}
END_TEST

START_TEST(second_locker_is_refused_with_the_holders_pid)
{
    ember_err err = {0};
    int fd = -1;
    char pid[32];
    holder h = hold_lock_in_child();
    ck_assert_int_eq(ckdir_lock(g_dir, &fd, &err), -EMBER_ELOCKED);
    ck_assert_int_eq(fd, -1);
    snprintf(pid, sizeof pid, "(pid %d)", (int)h.pid);
    ck_assert_msg(strstr(err.msg, pid), "'%s' does not name %s", err.msg, pid);
    ck_assert_msg(strstr(err.msg, g_dir), "'%s' does not name the directory", err.msg);
    release_child(&h);
}
END_TEST

/* The holder's pid is only informational: an empty LOCK still refuses. */
START_TEST(refusal_without_a_recorded_pid_says_no_pid)
{
    ember_err err = {0};
    int fd = -1;
    holder h = hold_lock_in_child();
    ck_assert_int_eq(truncate(in_dir("LOCK"), 0), 0);
    ck_assert_int_eq(ckdir_lock(g_dir, &fd, &err), -EMBER_ELOCKED);
    ck_assert_msg(!strstr(err.msg, "pid"), "%s", err.msg);
    ck_assert_ptr_nonnull(strstr(err.msg, "in use by another ember process"));
    release_child(&h);
}
END_TEST

START_TEST(lock_is_free_again_after_the_holder_exits)
{
    ember_err err = {0};
    int fd = -1;
    holder h = hold_lock_in_child();
    release_child(&h);
    ck_assert_msg(ckdir_lock(g_dir, &fd, &err) == 0, "%s", err.msg);
    ckdir_unlock(fd);
}
END_TEST

START_TEST(lock_is_free_again_after_the_holder_is_killed)
{
    ember_err err = {0};
    int fd = -1, status;
    holder h = hold_lock_in_child();
    ck_assert_int_eq(kill(h.pid, SIGKILL), 0);
    ck_assert_int_eq(waitpid(h.pid, &status, 0), h.pid);
    close(h.release_fd);
    ck_assert_msg(ckdir_lock(g_dir, &fd, &err) == 0, "%s", err.msg);
    ckdir_unlock(fd);
}
END_TEST

START_TEST(unlock_lets_another_process_lock)
{
    ember_err err = {0};
    int fd = -1;
    ck_assert_int_eq(ckdir_lock(g_dir, &fd, &err), 0);
    ckdir_unlock(fd);
    holder h = hold_lock_in_child(); /* asserts the child got it */
    release_child(&h);
}
END_TEST

START_TEST(lock_under_a_file_fails_without_claiming_a_lock)
{
    ember_err err = {0};
    int fd = -1;
    char path[160];
    snprintf(path, sizeof path, "%s/plain", g_tmp);
    write_text(path, "not a directory\n");
    snprintf(g_dir, sizeof g_dir, "%s/plain/ckpt", g_tmp);
    int rc = ckdir_lock(g_dir, &fd, &err);
    ck_assert_int_lt(rc, 0);
    ck_assert_int_ne(rc, -EMBER_ELOCKED);
    ck_assert_int_eq(fd, -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "plain"));
}
END_TEST

/* ------------------------------------------------------------ JOB */

/* A complete job; `batch_opts` is outside the state layout, `key` inside. */
static ember_job *load_job(const char *batch_opts, const char *key, const char *aggs)
{
    char text[1024], path[160];
    ember_err err = {0};
    ember_job *job = NULL;
    snprintf(text, sizeof text,
             "job        t\n"
             "batch      %s\n"
             "source     generator kind=sensors seed=1\n"
             "parse      csv fields=sensor,ts:int,temp:float\n"
             "key        %s\n"
             "aggregate  %s\n"
             "sink       stdout\n",
             batch_opts, key, aggs);
    snprintf(path, sizeof path, "%s/in.job", g_tmp);
    write_text(path, text);
    ck_assert_msg(ember_job_load_file(path, &job, &err) == 0, "%s", err.msg);
    return job;
}

static void make_dir(void)
{
    ember_err err = {0};
    ck_assert_int_eq(io_mkdir_p(g_dir, &err), 0);
}

START_TEST(fresh_directory_stores_the_job_text)
{
    ember_err err = {0};
    make_dir();
    ember_job *job = load_job("interval=1s", "sensor", "count()");
    ck_assert_msg(ckdir_check_job(g_dir, job, &err) == 0, "%s", err.msg);
    char *stored = stored_text();
    ck_assert_str_eq(stored, job->text);
    ck_assert_ptr_nonnull(strstr(stored, "key       sensor\n"));
    free(stored);
    assert_stamped(job->text);
    ember_job_free(job);
}
END_TEST

START_TEST(same_job_is_accepted_and_job_is_unchanged)
{
    ember_err err = {0};
    struct stat before, after;
    make_dir();
    ember_job *job = load_job("interval=1s", "sensor", "count()");
    ck_assert_int_eq(ckdir_check_job(g_dir, job, &err), 0);
    ck_assert_int_eq(stat(in_dir("JOB"), &before), 0);
    ck_assert_msg(ckdir_check_job(g_dir, job, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(stat(in_dir("JOB"), &after), 0);
    ck_assert_uint_eq(before.st_ino, after.st_ino); /* not rewritten (atomic writes rename) */
    ember_job_free(job);
}
END_TEST

START_TEST(harmless_change_is_accepted_and_recorded)
{
    ember_err err = {0};
    make_dir();
    ember_job *a = load_job("interval=1s", "sensor", "count()");
    ember_job *b = load_job("interval=250ms max-records=50", "sensor", "count()");
    ck_assert_int_eq(ckdir_check_job(g_dir, a, &err), 0);
    ck_assert_msg(ckdir_check_job(g_dir, b, &err) == 0, "%s", err.msg);
    char *stored = stored_text();
    ck_assert_str_eq(stored, b->text);
    ck_assert_ptr_nonnull(strstr(stored, "interval=250ms"));
    free(stored);
    ember_job_free(a);
    ember_job_free(b);
}
END_TEST

START_TEST(layout_change_is_refused_naming_both_lines)
{
    ember_err err = {0};
    make_dir();
    ember_job *a = load_job("interval=1s", "sensor", "count()");
    ember_job *b = load_job("interval=1s", "sensor,ts", "count()");
    ck_assert_int_eq(ckdir_check_job(g_dir, a, &err), 0);
    ck_assert_int_eq(ckdir_check_job(g_dir, b, &err), -EMBER_EINCOMPAT);
    /* the old and the new line, however a layout line spells its types */
    ck_assert_msg(strstr(err.msg, "('key sensor") && strstr(err.msg, "' became 'key sensor") &&
                      strstr(err.msg, ",ts"),
                  "%s", err.msg);
    ck_assert_msg(strstr(err.msg, "/JOB"), "%s", err.msg);
    char *stored = stored_text(); /* the old job stays */
    ck_assert_str_eq(stored, a->text);
    free(stored);
    ember_job_free(a);
    ember_job_free(b);
}
END_TEST

START_TEST(aggregate_change_is_a_layout_change)
{
    ember_err err = {0};
    make_dir();
    ember_job *a = load_job("interval=1s", "sensor", "count()");
    ember_job *b = load_job("interval=1s", "sensor", "count() max(temp)");
    ck_assert_int_eq(ckdir_check_job(g_dir, a, &err), 0);
    ck_assert_int_eq(ckdir_check_job(g_dir, b, &err), -EMBER_EINCOMPAT);
    ck_assert_msg(strstr(err.msg, "'aggregate count()' became 'aggregate count() max(temp"), "%s",
                  err.msg);
    ember_job_free(a);
    ember_job_free(b);
}
END_TEST

START_TEST(unreadable_stored_job_is_an_error)
{
    ember_err err = {0};
    make_dir();
    write_text(in_dir("JOB"), "this is not a job file\n");
    ember_job *a = load_job("interval=1s", "sensor", "count()");
    int rc = ckdir_check_job(g_dir, a, &err);
    ck_assert_int_lt(rc, 0);
    ck_assert_int_ne(rc, -EMBER_EINCOMPAT);
    ck_assert_msg(strstr(err.msg, "stored job spec unreadable"), "%s", err.msg);
    ck_assert_msg(strstr(err.msg, "JOB"), "%s", err.msg);
    ember_job_free(a);
}
END_TEST

START_TEST(every_damaged_byte_of_a_stored_job_is_found)
{
    ember_err err = {0};
    make_dir();
    ember_job *a = load_job("interval=1s", "sensor", "count()");
    ck_assert_int_eq(ckdir_check_job(g_dir, a, &err), 0);
    char *good = read_text(in_dir("JOB"));
    size_t n = strlen(good);
    for (size_t i = 0; i < n; i++) { /* bit 0 of every byte flipped, then every cut */
        for (int cut = 0; cut < 2; cut++) {
            ember_job *back = NULL;
            char *bad = strdup(good);
            if (cut)
                bad[i] = '\0';
            else
                bad[i] ^= 1;
            write_text(in_dir("JOB"), bad);
            err = (ember_err){0};
            int rc = ckdir_load_job(g_dir, &back, &err);
            if (cut && i == 0) { /* emptied: an empty job file, also an error */
                ck_assert_int_lt(rc, 0);
            } else {
                ck_assert_msg(rc == -EMBER_ECORRUPT, "byte %zu %s: rc %d %s", i,
                              cut ? "cut" : "flipped", rc, err.msg);
                ck_assert_msg(strstr(err.msg, "/JOB is damaged"), "%s", err.msg);
                ck_assert_int_eq(ckdir_check_job(g_dir, a, &err), -EMBER_ECORRUPT);
            }
            ember_job_free(back);
            free(bad);
        }
    }
    write_text(in_dir("JOB"), good);
    ember_job *back = NULL;
    ck_assert_msg(ckdir_load_job(g_dir, &back, &err) == 0, "%s", err.msg);
    ck_assert_str_eq(back->text, a->text);
    ck_assert_str_eq(back->layout, a->layout);
    ember_job_free(back);
    free(good);
    ember_job_free(a);
}
END_TEST

START_TEST(a_stored_job_of_before_the_checksum_still_loads)
{
    ember_err err = {0};
    make_dir();
    ember_job *a = load_job("interval=1s", "sensor", "count()");
    write_text(in_dir("JOB"), a->text); /* as 0.4.0 wrote it: the bare text */
    ember_job *back = NULL;
    ck_assert_msg(ckdir_load_job(g_dir, &back, &err) == 0, "%s", err.msg);
    ck_assert_str_eq(back->layout, a->layout);
    ember_job_free(back);
    ck_assert_msg(ckdir_check_job(g_dir, a, &err) == 0, "%s", err.msg);
    char *stored = stored_text();
    ck_assert_str_eq(stored, a->text);
    free(stored);
    ember_job_free(a);
}
END_TEST

/* ------------------------------------------------------------ ID */

/* DIR/ID as ckdir.h specifies it, checked line by line, with the checksum
 * computed here. */
static void assert_id_file(const char *id)
{
    char want[128];
    char *text = read_text(in_dir("ID"));
    int n = snprintf(want, sizeof want, "ember-checkpoint-id 1\nid %s\ncreated_ms ", id);
    ck_assert_msg(strncmp(text, want, (size_t)n) == 0, "%s", text);
    char *sum = strstr(text, "\nchecksum ");
    ck_assert_ptr_nonnull(sum);
    sum++;
    snprintf(want, sizeof want, "checksum %016" PRIx64 "\n",
             (uint64_t)XXH64(text, (size_t)(sum - text), 0));
    ck_assert_str_eq(sum, want);
    free(text);
}

static void assert_hex_id(const char *id)
{
    ck_assert_uint_eq(strlen(id), CKDIR_ID_LEN);
    for (const char *p = id; *p; p++)
        ck_assert_msg(isdigit((unsigned char)*p) || (*p >= 'a' && *p <= 'f'), "%s", id);
}

START_TEST(fresh_directory_gets_an_id_made_once)
{
    ember_err err = {0};
    char id[CKDIR_ID_LEN + 1], again[CKDIR_ID_LEN + 1];
    make_dir();
    ember_set_log(capture_log, NULL);
    ck_assert_msg(ckdir_identity(g_dir, 0, id, &err) == 0, "%s", err.msg);
    assert_hex_id(id);
    assert_id_file(id);
    ck_assert_str_eq(g_log, ""); /* a fresh directory says nothing */
    ck_assert_int_eq(ckdir_identity(g_dir, 0, again, &err), 0);
    ck_assert_str_eq(again, id);
    ck_assert_int_eq(ckdir_read_id(g_dir, again, &err), 0);
    ck_assert_str_eq(again, id);
}
END_TEST

START_TEST(two_directories_get_different_ids)
{
    ember_err err = {0};
    char a[CKDIR_ID_LEN + 1], b[CKDIR_ID_LEN + 1];
    make_dir();
    ck_assert_int_eq(ckdir_identity(g_dir, 0, a, &err), 0);
    snprintf(g_dir, sizeof g_dir, "%s/other", g_tmp);
    make_dir();
    ck_assert_int_eq(ckdir_identity(g_dir, 0, b, &err), 0);
    ck_assert_str_ne(a, b);
}
END_TEST

START_TEST(reading_a_missing_id_is_enoent)
{
    ember_err err = {0};
    char id[CKDIR_ID_LEN + 1];
    make_dir();
    ck_assert_int_eq(ckdir_read_id(g_dir, id, &err), -ENOENT);
    ck_assert_msg(strstr(err.msg, "/ID"), "%s", err.msg);
}
END_TEST

/* A file written here from the spec (not by ckdir.c) reads back. */
START_TEST(hand_written_id_reads_back)
{
    ember_err err = {0};
    char text[256], id[CKDIR_ID_LEN + 1];
    const char *want = "0123456789abcdef0123456789abcdef";
    make_dir();
    int n = snprintf(text, sizeof text, "ember-checkpoint-id 1\nid %s\ncreated_ms 5\n", want);
    snprintf(text + n, sizeof text - (size_t)n, "checksum %016" PRIx64 "\n",
             (uint64_t)XXH64(text, (size_t)n, 0));
    write_text(in_dir("ID"), text);
    ck_assert_msg(ckdir_read_id(g_dir, id, &err) == 0, "%s", err.msg);
    ck_assert_str_eq(id, want);
}
END_TEST

START_TEST(damaged_id_is_refused_without_reset_output)
{
    ember_err err = {0};
    char id[CKDIR_ID_LEN + 1], got[CKDIR_ID_LEN + 1];
    make_dir();
    ck_assert_int_eq(ckdir_identity(g_dir, 0, id, &err), 0);
    char *text = read_text(in_dir("ID"));
    size_t len = strlen(text);
    for (size_t i = 0; i < len; i++) {
        char *bad = strdup(text);
        bad[i] = bad[i] == '7' ? '8' : '7';
        write_text(in_dir("ID"), bad);
        ck_assert_msg(ckdir_read_id(g_dir, got, &err) == -EMBER_ECORRUPT, "byte %zu", i);
        ck_assert_msg(strstr(err.msg, "/ID is damaged"), "%s", err.msg);
        ck_assert_int_eq(ckdir_identity(g_dir, 0, got, &err), -EMBER_ECORRUPT);
        ck_assert_msg(strstr(err.msg, "--reset-output"), "%s", err.msg);
        free(bad);
    }
    free(text);
}
END_TEST

START_TEST(reset_output_replaces_a_damaged_id)
{
    ember_err err = {0};
    char id[CKDIR_ID_LEN + 1], renewed[CKDIR_ID_LEN + 1];
    make_dir();
    ck_assert_int_eq(ckdir_identity(g_dir, 0, id, &err), 0);
    write_text(in_dir("ID"), "ember-checkpoint-id 1\ngarbage\n");
    ember_set_log(capture_log, NULL);
    ck_assert_msg(ckdir_identity(g_dir, 1, renewed, &err) == 0, "%s", err.msg);
    ck_assert_str_ne(renewed, id);
    assert_id_file(renewed);
    ck_assert_msg(strstr(g_log, "was damaged") && strstr(g_log, renewed), "%s", g_log);
    ck_assert_int_eq(g_log[0], '0' + EMBER_LOG_INFO);
}
END_TEST

/* A checkpoint from before ids (DIR/JOB, no DIR/ID) gets one, and says so. */
START_TEST(checkpoint_without_an_id_gets_one_and_says_so)
{
    ember_err err = {0};
    char id[CKDIR_ID_LEN + 1];
    make_dir();
    ember_job *job = load_job("interval=1s", "sensor", "count()");
    ck_assert_int_eq(ckdir_check_job(g_dir, job, &err), 0);
    ember_set_log(capture_log, NULL);
    ck_assert_msg(ckdir_identity(g_dir, 0, id, &err) == 0, "%s", err.msg);
    assert_id_file(id);
    ck_assert_msg(strstr(g_log, "was missing") && strstr(g_log, id), "%s", g_log);
    ember_job_free(job);
}
END_TEST

static Suite *ckdir_suite(void)
{
    Suite *s = suite_create("ckdir");
    TCase *lock = tcase_create("lock");
    tcase_add_checked_fixture(lock, setup, teardown);
    tcase_add_test(lock, lock_creates_the_directory_and_records_the_pid);
    tcase_add_test(lock, second_locker_is_refused_with_the_holders_pid);
    tcase_add_test(lock, refusal_without_a_recorded_pid_says_no_pid);
    tcase_add_test(lock, lock_is_free_again_after_the_holder_exits);
    tcase_add_test(lock, lock_is_free_again_after_the_holder_is_killed);
    tcase_add_test(lock, unlock_lets_another_process_lock);
    tcase_add_test(lock, lock_under_a_file_fails_without_claiming_a_lock);
    suite_add_tcase(s, lock);

    TCase *job = tcase_create("job");
    tcase_add_checked_fixture(job, setup, teardown);
    tcase_add_test(job, fresh_directory_stores_the_job_text);
    tcase_add_test(job, same_job_is_accepted_and_job_is_unchanged);
    tcase_add_test(job, harmless_change_is_accepted_and_recorded);
    tcase_add_test(job, layout_change_is_refused_naming_both_lines);
    tcase_add_test(job, aggregate_change_is_a_layout_change);
    tcase_add_test(job, unreadable_stored_job_is_an_error);
    tcase_add_test(job, every_damaged_byte_of_a_stored_job_is_found);
    tcase_add_test(job, a_stored_job_of_before_the_checksum_still_loads);
    suite_add_tcase(s, job);

    TCase *id = tcase_create("id");
    tcase_add_checked_fixture(id, setup, teardown);
    tcase_add_test(id, fresh_directory_gets_an_id_made_once);
    tcase_add_test(id, two_directories_get_different_ids);
    tcase_add_test(id, reading_a_missing_id_is_enoent);
    tcase_add_test(id, hand_written_id_reads_back);
    tcase_add_test(id, damaged_id_is_refused_without_reset_output);
    tcase_add_test(id, reset_output_replaces_a_damaged_id);
    tcase_add_test(id, checkpoint_without_an_id_gets_one_and_says_so);
    suite_add_tcase(s, id);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(ckdir_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
