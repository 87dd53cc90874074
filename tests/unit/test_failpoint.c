/* test_failpoint: core/failpoint.c — spec parsing, @N and pP semantics,
 * error returns, delay, crash (in a forked child) and hit statistics. */
#include "core/fault/failpoint.h"

#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int arm(const char *spec)
{
    ember_err err = {0};
    int rc = fp_arm(spec, &err);
    ck_assert_msg(rc == 0, "fp_arm(%s): %s", spec, err.msg);
    return rc;
}

static void arm_fails(const char *spec, const char *needle)
{
    ember_err err = {0};
    int rc = fp_arm(spec, &err);
    ck_assert_msg(rc == -EMBER_EUSAGE, "fp_arm(%s) gave %d", spec, rc);
    ck_assert_msg(strstr(err.msg, needle), "fp_arm(%s): '%s' lacks '%s'", spec, err.msg, needle);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    static char buf[8192];
    size_t n = 0;
    if (f) {
        n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
    }
    buf[n] = '\0';
    return buf;
}

/* ------------------------------------------------------------ parsing */

START_TEST(good_specs_parse)
{
    arm("wal.after_append=crash");
    arm(" io.write = enospc@p0.001 ; state.before_commit=crash@3 ;");
    arm("snapshot.mid_copy=delay(5)@2;io.fsync=eio;io.rename=error;io.open=short@p1");
    arm("");
    arm(";;");
    ember_err err = {0};
    ck_assert_int_eq(fp_arm(NULL, &err), 0);
    fp_disarm_all();
    ck_assert_int_eq(FAILPOINT("io.fsync"), 0);
}
END_TEST

START_TEST(bad_specs_name_the_bad_part)
{
    arm_fails("no.such.point=crash", "no.such.point");
    arm_fails("io.write=explode", "explode");
    arm_fails("io.write=crash@0", "@0");
    arm_fails("io.write=crash@p1.5", "p1.5");
    arm_fails("io.write=crash@x", "@x");
    arm_fails("io.write=crash@3x", "3x");
    arm_fails("io.write=delay(abc)", "delay(abc)");
    arm_fails("io.write=delay(5", "delay(5");
    arm_fails("io.write", "io.write");
    arm_fails("io.fsync=eio;bogus=crash", "bogus");
}
END_TEST

START_TEST(bad_spec_arms_nothing)
{
    ember_err err = {0};
    ck_assert_int_ne(fp_arm("io.write=eio;bogus=crash", &err), 0);
    ck_assert_int_eq(fp_eval("io.write"), 0);
}
END_TEST

START_TEST(bad_seed_is_an_error)
{
    ember_err err = {0};
    setenv("EMBER_FAILPOINT_SEED", "12ab", 1);
    ck_assert_int_eq(fp_init_from_env(&err), -EMBER_EUSAGE);
    ck_assert_ptr_nonnull(strstr(err.msg, "12ab"));
}
END_TEST

START_TEST(init_from_env_arms)
{
    ember_err err = {0};
    setenv("EMBER_FAILPOINTS", "io.rename=enospc@2", 1);
    ck_assert_int_eq(fp_init_from_env(&err), 0);
    ck_assert_int_eq(FAILPOINT("io.rename"), 0);
    ck_assert_int_eq(FAILPOINT("io.rename"), -ENOSPC);
    setenv("EMBER_FAILPOINTS", "nope=crash", 1);
    ck_assert_int_ne(fp_init_from_env(&err), 0);
    ck_assert_ptr_nonnull(strstr(err.msg, "nope"));
}
END_TEST

/* ------------------------------------------------------------ semantics */

START_TEST(actions_return_their_errors)
{
    arm("io.write=error;io.fsync=eio;io.rename=enospc;io.open=short");
    ck_assert_int_eq(FAILPOINT("io.write"), -EIO);
    ck_assert_int_eq(FAILPOINT("io.write"), -EIO); /* no @: every hit */
    ck_assert_int_eq(FAILPOINT("io.fsync"), -EIO);
    ck_assert_int_eq(FAILPOINT("io.rename"), -ENOSPC);
    ck_assert_int_eq(FAILPOINT("io.open"), -EFBIG);
    ck_assert_int_eq(FAILPOINT("sink.after_commit"), 0); /* not armed */
    ck_assert_int_eq(FAILPOINT("not.in.table"), 0);
}
END_TEST

START_TEST(nth_hit_fires_once)
{
    arm("state.write=eio@3");
    ck_assert_int_eq(FAILPOINT("state.write"), 0);
    ck_assert_int_eq(FAILPOINT("state.write"), 0);
    ck_assert_int_eq(FAILPOINT("state.write"), -EIO);
    for (int i = 0; i < 100; i++)
        ck_assert_int_eq(FAILPOINT("state.write"), 0);
    /* re-arming counts from the new arming */
    arm("state.write=enospc@1");
    ck_assert_int_eq(FAILPOINT("state.write"), -ENOSPC);
}
END_TEST

static int count_fires(const char *name, int hits, int *pattern)
{
    int fired = 0;
    for (int i = 0; i < hits; i++) {
        int rc = FAILPOINT(name);
        if (pattern)
            pattern[i] = rc != 0;
        fired += rc != 0;
    }
    return fired;
}

START_TEST(probability_is_roughly_p)
{
    arm("io.write=eio@p0.25;io.fsync=eio@p0;io.rename=eio@p1");
    int fired = count_fires("io.write", 20000, NULL);
    ck_assert_int_ge(fired, 4500);
    ck_assert_int_le(fired, 5500);
    ck_assert_int_eq(count_fires("io.fsync", 1000, NULL), 0);
    ck_assert_int_eq(count_fires("io.rename", 1000, NULL), 1000);
}
END_TEST

START_TEST(probability_is_deterministic_per_seed)
{
    static int a[2000], b[2000], c[2000];
    ember_err err = {0};

    setenv("EMBER_FAILPOINT_SEED", "7", 1);
    setenv("EMBER_FAILPOINTS", "io.write=eio@p0.1", 1);
    ck_assert_int_eq(fp_init_from_env(&err), 0);
    count_fires("io.write", 2000, a);
    /* other points being hit in between must not change the sequence */
    fp_disarm_all();
    ck_assert_int_eq(fp_init_from_env(&err), 0);
    for (int i = 0; i < 2000; i++) {
        b[i] = FAILPOINT("io.write") != 0;
        (void)FAILPOINT("io.fsync");
    }
    ck_assert_int_eq(memcmp(a, b, sizeof a), 0);

    setenv("EMBER_FAILPOINT_SEED", "8", 1);
    fp_disarm_all();
    ck_assert_int_eq(fp_init_from_env(&err), 0);
    count_fires("io.write", 2000, c);
    ck_assert_int_ne(memcmp(a, c, sizeof a), 0);
}
END_TEST

START_TEST(delay_sleeps_and_returns_zero)
{
    struct timespec t0, t1;
    arm("transform.after=delay(60)");
    clock_gettime(CLOCK_MONOTONIC, &t0);
    ck_assert_int_eq(FAILPOINT("transform.after"), 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    ck_assert_int_ge(ms, 60);
}
END_TEST

typedef struct thread_arg {
    int fired;
} thread_arg;

static void *hammer(void *p)
{
    thread_arg *a = p;
    for (int i = 0; i < 10000; i++)
        a->fired += FAILPOINT("io.write") != 0;
    return NULL;
}

START_TEST(nth_hit_is_exact_across_threads)
{
    pthread_t t[4];
    thread_arg a[4] = {{0}};
    arm("io.write=eio@25000");
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(pthread_create(&t[i], NULL, hammer, &a[i]), 0);
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(pthread_join(t[i], NULL), 0);
    ck_assert_int_eq(a[0].fired + a[1].fired + a[2].fired + a[3].fired, 1);

    char *buf;
    size_t n;
    FILE *f = open_memstream(&buf, &n);
    fp_report(f);
    fclose(f);
    ck_assert_msg(strstr(buf, "io.write\t40000\n"), "report: %s", buf);
    free(buf);
}
END_TEST

/* ------------------------------------------------------------ crash and stats */

static char tmp_dir[128];

static void setup(void)
{
    snprintf(tmp_dir, sizeof tmp_dir, "/tmp/ember_test_fp.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmp_dir));
}

static void teardown(void)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp_dir);
    ck_assert_int_eq(system(cmd), 0);
}

/* Runs hits of name in a child with spec and stats armed; returns status. */
static int run_child(const char *spec, const char *name, int hits, const char *stats,
                     const char *errfile)
{
    pid_t pid = fork();
    int status;

    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        ember_err err = {0};
        if (!freopen(errfile, "w", stderr))
            _exit(3);
        setenv("EMBER_FAILPOINTS", spec, 1);
        setenv("EMBER_FAILPOINT_STATS", stats, 1);
        if (fp_init_from_env(&err) != 0)
            _exit(4);
        for (int i = 0; i < hits; i++)
            (void)FAILPOINT(name);
        (void)FAILPOINT("sink.after_commit");
        exit(0); /* runs the atexit stats writer */
    }
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    return status;
}

START_TEST(crash_kills_and_writes_stats)
{
    char stats[256], errf[256];
    snprintf(stats, sizeof stats, "%s/stats", tmp_dir);
    snprintf(errf, sizeof errf, "%s/stderr", tmp_dir);

    int status = run_child("sink.before_commit=crash@2", "sink.before_commit", 5, stats, errf);
    ck_assert(WIFSIGNALED(status));
    ck_assert_int_eq(WTERMSIG(status), SIGKILL);
    ck_assert_ptr_nonnull(strstr(slurp(errf), "failpoint sink.before_commit: crash"));
    char *s = slurp(stats);
    ck_assert_msg(strstr(s, "sink.before_commit\t2\n"), "stats: %s", s);
    ck_assert_ptr_null(strstr(s, "sink.after_commit"));
}
END_TEST

START_TEST(clean_exit_appends_stats)
{
    char stats[256], errf[256];
    snprintf(stats, sizeof stats, "%s/stats", tmp_dir);
    snprintf(errf, sizeof errf, "%s/stderr", tmp_dir);

    /* nothing armed: hits are still counted when stats are wanted */
    int status = run_child("", "state.after_commit", 3, stats, errf);
    ck_assert(WIFEXITED(status));
    ck_assert_int_eq(WEXITSTATUS(status), 0);
    status = run_child("", "state.after_commit", 2, stats, errf);
    ck_assert(WIFEXITED(status));
    char *s = slurp(stats);
    ck_assert_msg(strstr(s, "state.after_commit\t3\nsink.after_commit\t1\n") &&
                      strstr(s, "state.after_commit\t2\n"),
                  "stats: %s", s);
}
END_TEST

START_TEST(list_names_every_point)
{
    static const char *const required[] = {
        "wal.after_append",  "transform.after",        "sink.before_commit",
        "sink.after_commit", "state.before_commit",    "state.after_commit",
        "snapshot.mid_copy", "snapshot.before_rename", "snapshot.after_rename",
        "snapshot.prune",    "wal.delete_segment",     "recovery.mid_replay",
        "state.write",       "io.write",               "io.fsync",
        "io.rename",         "io.open"};
    char *buf, line[64];
    size_t n;
    FILE *f = open_memstream(&buf, &n);
    fp_list(f);
    fclose(f);
    for (size_t i = 0; i < sizeof required / sizeof required[0]; i++) {
        snprintf(line, sizeof line, "%s\t", required[i]);
        ck_assert_msg(strstr(buf, line), "fp_list lacks %s", required[i]);
    }
    free(buf);
}
END_TEST

static Suite *fp_suite(void)
{
    Suite *s = suite_create("failpoint");
    TCase *tc = tcase_create("failpoint");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, good_specs_parse);
    tcase_add_test(tc, bad_specs_name_the_bad_part);
    tcase_add_test(tc, bad_spec_arms_nothing);
    tcase_add_test(tc, bad_seed_is_an_error);
    tcase_add_test(tc, init_from_env_arms);
    tcase_add_test(tc, actions_return_their_errors);
    tcase_add_test(tc, nth_hit_fires_once);
    tcase_add_test(tc, probability_is_roughly_p);
    tcase_add_test(tc, probability_is_deterministic_per_seed);
    tcase_add_test(tc, delay_sleeps_and_returns_zero);
    tcase_add_test(tc, nth_hit_is_exact_across_threads);
    tcase_add_test(tc, crash_kills_and_writes_stats);
    tcase_add_test(tc, clean_exit_appends_stats);
    tcase_add_test(tc, list_names_every_point);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(fp_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
