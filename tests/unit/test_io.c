/* test_io: core/io.c — atomic replace, error messages, failpoint-injected
 * short writes / ENOSPC / EIO, directory helpers, and power-loss mode (in
 * forked children that crash through a failpoint; the parent inspects). */
#include "core/fault/failpoint.h"
#include "core/base/io.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char tmp_dir[128];

static void setup(void)
{
    snprintf(tmp_dir, sizeof tmp_dir, "/tmp/ember_test_io.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmp_dir));
}

static void teardown(void)
{
    ember_err err = {0};
    ck_assert_msg(io_remove_tree(tmp_dir, &err) == 0, "%s", err.msg);
}

static const char *in_tmp(const char *name)
{
    static char bufs[4][300];
    static int k;
    char *p = bufs[k++ % 4];
    snprintf(p, sizeof bufs[0], "%s/%s", tmp_dir, name);
    return p;
}

static void arm(const char *spec)
{
    ember_err err = {0};
    ck_assert_msg(fp_arm(spec, &err) == 0, "%s", err.msg);
}

static off_t size_of(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return -1;
    return st.st_size;
}

/* Plain stdio writer for files that exist "before" a test (durable). */
static void put_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    ck_assert_int_eq(fclose(f), 0);
}

static char *get_file(const char *path)
{
    ember_err err = {0};
    char *buf;
    size_t n;
    ck_assert_msg(io_read_file(path, &buf, &n, &err) == 0, "%s", err.msg);
    return buf;
}

/* Number of entries in dir whose name contains needle. */
static int count_named(const char *dir, const char *needle)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    int n = 0;
    ck_assert_ptr_nonnull(d);
    while ((de = readdir(d)))
        n += strstr(de->d_name, needle) != NULL;
    closedir(d);
    return n;
}

/* ------------------------------------------------------------ basics */

START_TEST(atomic_write_round_trip)
{
    ember_err err = {0};
    const char *p = in_tmp("f.txt");
    ck_assert_int_eq(io_write_file_atomic(p, "hello", 5, &err), 0);
    char *got = get_file(p);
    ck_assert_str_eq(got, "hello");
    free(got);
    ck_assert_int_eq(io_write_file_atomic(p, "bye", 3, &err), 0);
    got = get_file(p);
    ck_assert_str_eq(got, "bye");
    free(got);
    ck_assert_int_eq(count_named(tmp_dir, ".tmp."), 0);
}
END_TEST

START_TEST(read_missing_file_names_it)
{
    ember_err err = {0};
    char *buf;
    size_t n;
    ck_assert_int_eq(io_read_file(in_tmp("nope"), &buf, &n, &err), -ENOENT);
    ck_assert_ptr_nonnull(strstr(err.msg, "nope"));
    ck_assert_ptr_nonnull(strstr(err.msg, "No such file or directory"));
}
END_TEST

START_TEST(mkdir_p_and_remove_tree)
{
    ember_err err = {0};
    struct stat st;
    ck_assert_int_eq(io_mkdir_p(in_tmp("a/b/c/"), &err), 0);
    ck_assert_int_eq(io_mkdir_p(in_tmp("a/b/c"), &err), 0);
    ck_assert_int_eq(stat(in_tmp("a/b/c"), &st), 0);
    put_file(in_tmp("a/b/c/x"), "x");
    put_file(in_tmp("a/y"), "y");
    ck_assert_int_eq(io_mkdir_p(in_tmp("a/y/z"), &err), -ENOTDIR);
    ck_assert_ptr_nonnull(strstr(err.msg, "a/y"));
    ck_assert_int_eq(io_remove_tree(in_tmp("a"), &err), 0);
    ck_assert_int_ne(stat(in_tmp("a"), &st), 0);
    ck_assert_int_eq(io_remove_tree(in_tmp("a"), &err), 0); /* already gone */
}
END_TEST

START_TEST(truncate_and_close)
{
    ember_err err = {0};
    const char *p = in_tmp("t");
    int fd = io_open(p, O_WRONLY | O_CREAT, 0644, &err);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(io_write_all(fd, "0123456789", 10, &err), 0);
    ck_assert_int_eq(io_truncate(fd, 4, &err), 0);
    ck_assert_int_eq(io_fsync(fd, &err), 0);
    ck_assert_int_eq(io_close(fd, &err), 0);
    ck_assert_int_eq(size_of(p), 4);
    ck_assert_int_eq(io_fsync_dir(tmp_dir, &err), 0);
    ck_assert_int_ne(io_fsync_dir(in_tmp("missing"), &err), 0);
    ck_assert_ptr_nonnull(strstr(err.msg, "missing"));
}
END_TEST

/* ------------------------------------------------------------ injected faults */

START_TEST(short_write_writes_half_then_fails)
{
    ember_err err = {0};
    const char *p = in_tmp("short");
    int fd = io_open(p, O_WRONLY | O_CREAT, 0644, &err);
    ck_assert_int_ge(fd, 0);
    arm("io.write=short@1");
    ck_assert_int_eq(io_write_all(fd, "0123456789", 10, &err), -EIO);
    ck_assert_msg(strstr(err.msg, p) && strstr(err.msg, "short write"), "%s", err.msg);
    ck_assert_int_eq(size_of(p), 5);
    ck_assert_int_eq(io_write_all(fd, "ab", 2, &err), 0); /* only the 1st hit */
    ck_assert_int_eq(io_close(fd, &err), 0);
    ck_assert_int_eq(size_of(p), 7);
}
END_TEST

START_TEST(enospc_names_path_and_cause)
{
    ember_err err = {0};
    const char *p = in_tmp("full");
    char want[400];
    int fd = io_open(p, O_WRONLY | O_CREAT, 0644, &err);
    ck_assert_int_ge(fd, 0);
    arm("io.write=enospc");
    ck_assert_int_eq(io_write_all(fd, "abc", 3, &err), -ENOSPC);
    snprintf(want, sizeof want, "write %s: No space left on device", p);
    ck_assert_str_eq(err.msg, want);
    ck_assert_int_eq(size_of(p), 0);
    ck_assert_int_eq(io_truncate(fd, 0, &err), -ENOSPC);
    ck_assert_int_eq(io_close(fd, &err), 0);
}
END_TEST

START_TEST(fsync_open_rename_failpoints)
{
    ember_err err = {0};
    const char *p = in_tmp("f");
    int fd = io_open(p, O_WRONLY | O_CREAT, 0644, &err);
    ck_assert_int_ge(fd, 0);

    arm("io.fsync=eio;io.open=eio;io.rename=enospc");
    ck_assert_int_eq(io_fsync(fd, &err), -EIO);
    ck_assert_msg(strstr(err.msg, "fsync") && strstr(err.msg, p), "%s", err.msg);
    ck_assert_int_eq(io_fsync_dir(tmp_dir, &err), -EIO);
    ck_assert_int_eq(io_open(in_tmp("g"), O_WRONLY | O_CREAT, 0644, &err), -EIO);
    ck_assert_ptr_nonnull(strstr(err.msg, "/g"));
    ck_assert_int_eq(io_rename(p, in_tmp("h"), &err), -ENOSPC);
    ck_assert_int_eq(size_of(p), 0);
    ck_assert_int_eq(size_of(in_tmp("h")), -1);
    fp_disarm_all();
    ck_assert_int_eq(io_close(fd, &err), 0);
}
END_TEST

START_TEST(atomic_write_failure_keeps_old_file)
{
    ember_err err = {0};
    const char *p = in_tmp("keep");
    put_file(p, "old");
    const char *specs[] = {"io.write=enospc", "io.write=short", "io.fsync=eio@1",
                           "io.rename=eio", "io.open=eio"};
    for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++) {
        fp_disarm_all();
        arm(specs[i]);
        ck_assert_msg(io_write_file_atomic(p, "new!", 4, &err) < 0, "%s did not fail",
                      specs[i]);
        char *got = get_file(p);
        ck_assert_str_eq(got, "old");
        free(got);
        ck_assert_int_eq(count_named(tmp_dir, ".tmp."), 0);
    }
}
END_TEST

/* ------------------------------------------------------------ power loss */

/* Forks a child with EMBER_POWERLOSS=mode that runs body(), then crashes
 * through transform.after; checks the child died by SIGKILL. */
static void crash_child(const char *mode, void (*body)(void))
{
    pid_t pid;
    int status;

    setenv("EMBER_POWERLOSS", mode, 1);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        ember_err err = {0};
        if (!freopen("/dev/null", "w", stderr) || fp_arm("transform.after=crash", &err))
            _exit(3);
        body();
        (void)FAILPOINT("transform.after");
        _exit(4);
    }
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "child status %d",
                  status);
}

/* Child-side helpers: _exit(5) on any failure (the parent sees no SIGKILL). */
static int c_open(const char *p, int flags)
{
    ember_err err = {0};
    int fd = io_open(p, flags, 0644, &err);
    if (fd < 0)
        _exit(5);
    return fd;
}

static void c_check(int rc)
{
    if (rc != 0)
        _exit(5);
}

static void body_synced_prefix(void)
{
    ember_err err = {0};
    int fd = c_open(in_tmp("log"), O_WRONLY | O_CREAT | O_APPEND);
    char buf[150];
    memset(buf, 'x', sizeof buf);
    c_check(io_write_all(fd, buf, 100, &err));
    c_check(io_fsync(fd, &err));
    c_check(io_fsync_dir(tmp_dir, &err));
    c_check(io_write_all(fd, buf, 50, &err)); /* never synced */
}

START_TEST(power_loss_truncates_unsynced_bytes)
{
    crash_child("1", body_synced_prefix);
    ck_assert_int_eq(size_of(in_tmp("log")), 100);
}
END_TEST

START_TEST(without_power_loss_mode_bytes_survive)
{
    crash_child("0", body_synced_prefix);
    ck_assert_int_eq(size_of(in_tmp("log")), 150);
}
END_TEST

static void body_closed_unsynced(void)
{
    ember_err err = {0};
    int fd = c_open(in_tmp("pre"), O_WRONLY | O_APPEND);
    c_check(io_write_all(fd, "more", 4, &err));
    c_check(io_close(fd, &err));
}

START_TEST(power_loss_drops_bytes_of_closed_files)
{
    put_file(in_tmp("pre"), "existing");
    crash_child("1", body_closed_unsynced);
    ck_assert_int_eq(size_of(in_tmp("pre")), 8);
}
END_TEST

static void body_create_no_dirsync(void)
{
    ember_err err = {0};
    int fd = c_open(in_tmp("new"), O_WRONLY | O_CREAT);
    c_check(io_write_all(fd, "data", 4, &err));
    c_check(io_fsync(fd, &err)); /* the data, but not the directory entry */
    c_check(io_close(fd, &err));
}

START_TEST(power_loss_unlinks_creates_without_dir_sync)
{
    crash_child("1", body_create_no_dirsync);
    ck_assert_int_eq(size_of(in_tmp("new")), -1);
}
END_TEST

static void body_rename_no_dirsync(void)
{
    ember_err err = {0};
    int fd = c_open(in_tmp("tmpf"), O_WRONLY | O_CREAT | O_TRUNC);
    c_check(io_write_all(fd, "new content", 11, &err));
    c_check(io_fsync(fd, &err));
    c_check(io_close(fd, &err));
    c_check(io_fsync_dir(tmp_dir, &err));
    c_check(io_rename(in_tmp("tmpf"), in_tmp("target"), &err));
}

START_TEST(power_loss_undoes_rename_without_dir_sync)
{
    put_file(in_tmp("target"), "old");
    crash_child("1", body_rename_no_dirsync);
    char *got = get_file(in_tmp("target"));
    ck_assert_str_eq(got, "old");
    free(got);
    got = get_file(in_tmp("tmpf"));
    ck_assert_str_eq(got, "new content");
    free(got);
    ck_assert_int_eq(count_named(tmp_dir, ".plbak."), 0);
}
END_TEST

static void body_atomic_write(void)
{
    ember_err err = {0};
    c_check(io_write_file_atomic(in_tmp("target"), "new content", 11, &err));
}

START_TEST(power_loss_keeps_completed_atomic_write)
{
    put_file(in_tmp("target"), "old");
    crash_child("1", body_atomic_write);
    char *got = get_file(in_tmp("target"));
    ck_assert_str_eq(got, "new content");
    free(got);
    ck_assert_int_eq(count_named(tmp_dir, ".plbak."), 0);
    ck_assert_int_eq(count_named(tmp_dir, ".tmp."), 0);
}
END_TEST

static void body_dir_rename(void)
{
    ember_err err = {0};
    c_check(io_mkdir_p(in_tmp("snap.tmp"), &err));
    int fd = c_open(in_tmp("snap.tmp/MANIFEST"), O_WRONLY | O_CREAT);
    c_check(io_write_all(fd, "m", 1, &err));
    c_check(io_fsync(fd, &err));
    c_check(io_close(fd, &err));
    c_check(io_fsync_dir(in_tmp("snap.tmp"), &err));
    c_check(io_rename(in_tmp("snap.tmp"), in_tmp("snap"), &err));
    fd = c_open(in_tmp("snap/extra"), O_WRONLY | O_CREAT);
    c_check(io_write_all(fd, "unsynced", 8, &err));
    c_check(io_close(fd, &err));
}

START_TEST(power_loss_undoes_directory_rename)
{
    crash_child("1", body_dir_rename);
    ck_assert_int_eq(size_of(in_tmp("snap")), -1);
    ck_assert_int_eq(size_of(in_tmp("snap.tmp/MANIFEST")), 1);
    ck_assert_int_eq(size_of(in_tmp("snap.tmp/extra")), -1);
}
END_TEST

static Suite *io_suite(void)
{
    Suite *s = suite_create("io");
    TCase *tc = tcase_create("io");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, atomic_write_round_trip);
    tcase_add_test(tc, read_missing_file_names_it);
    tcase_add_test(tc, mkdir_p_and_remove_tree);
    tcase_add_test(tc, truncate_and_close);
    tcase_add_test(tc, short_write_writes_half_then_fails);
    tcase_add_test(tc, enospc_names_path_and_cause);
    tcase_add_test(tc, fsync_open_rename_failpoints);
    tcase_add_test(tc, atomic_write_failure_keeps_old_file);
    tcase_add_test(tc, power_loss_truncates_unsynced_bytes);
    tcase_add_test(tc, without_power_loss_mode_bytes_survive);
    tcase_add_test(tc, power_loss_drops_bytes_of_closed_files);
    tcase_add_test(tc, power_loss_unlinks_creates_without_dir_sync);
    tcase_add_test(tc, power_loss_undoes_rename_without_dir_sync);
    tcase_add_test(tc, power_loss_keeps_completed_atomic_write);
    tcase_add_test(tc, power_loss_undoes_directory_rename);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(io_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
