/*
 * test_ckdir: checkpoint/ckdir.c, the checkpoint directory's LOCK and JOB.
 * The lock is held by a child process (flock is per open file, so a second
 * process is the honest test); the JOB checks use job files written here.
 */
#include "checkpoint/ckdir.h"
#include "core/base/io.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char g_tmp[64];
static char g_dir[128]; /* the checkpoint directory, created by ckdir_lock */

static void setup(void)
{
    strcpy(g_tmp, "/tmp/ember-test-ckdir-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(g_tmp));
    snprintf(g_dir, sizeof g_dir, "%s/a/b/ckpt", g_tmp);
}

static void teardown(void)
{
    ember_err err = {0};
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
    char *stored = read_text(in_dir("JOB"));
    ck_assert_str_eq(stored, job->text);
    ck_assert_ptr_nonnull(strstr(stored, "key       sensor\n"));
    free(stored);
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
    char *stored = read_text(in_dir("JOB"));
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
    ck_assert_msg(strstr(err.msg, "'key sensor:string' became 'key sensor:string,ts:int'"), "%s", err.msg);
    ck_assert_msg(strstr(err.msg, "/JOB"), "%s", err.msg);
    char *stored = read_text(in_dir("JOB")); /* the old job stays */
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
    ck_assert_msg(strstr(err.msg, "'aggregate count()' became 'aggregate count() max(temp:float)'"), "%s",
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
    suite_add_tcase(s, job);
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
