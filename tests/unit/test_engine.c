/*
 * test_engine: the engine (core/engine/) driven through ember_job_run by a
 * fake source and a fake sink defined here, over a real checkpoint directory:
 * one batch end to end, the replay of a planned-but-uncommitted batch with
 * its PLAN's ranges (not what the source would plan now), and a failure at
 * each step of the cycle returning an error with nothing committed.
 */
#include "checkpoint/commit.h"
#include "core/base/io.h"
#include "core/fault/failpoint.h"
#include "core/job/job.h"
#include "state/store.h"

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ------------------------------------------------------------ the fakes */

enum fail_at { FAIL_NONE, FAIL_PLAN, FAIL_READ, FAIL_WRITE };

static struct {
    enum fail_at fail;
    uint64_t per_plan; /* records the next plan takes */
    uint64_t next;     /* the source's position */
    int bad_record_at; /* >= 0: that record's v is not an int */
    /* what the sink saw */
    uint64_t begins, commits, rows, first_row_v, last_batch;
} fake;

static int fsrc_open(source *s, const opt_set *o, const source_env *env, ember_err *err)
{
    s->impl = &fake;
    return 0;
}

static int fsrc_restore(source *s, const src_range *ends, size_t n, ember_err *err)
{
    fake.next = n ? ends[0].to : 0;
    return 0;
}

static int fsrc_plan(source *s, uint64_t budget, src_range **ranges, size_t *n,
                     src_pulled *pulled, ember_err *err)
{
    static src_range r;
    if (fake.fail == FAIL_PLAN)
        return ember_err_set(err, -EIO, "fake source: plan failed");
    uint64_t take = fake.per_plan < budget ? fake.per_plan : budget;
    r = (src_range){0, fake.next, fake.next + take};
    fake.next += take;
    *ranges = &r;
    *n = 1;
    return 0;
}

/* Record i is "k<i%3>,<i>". */
static int fsrc_read(source *s, const src_range *r, src_line_fn fn, void *ctx, ember_err *err)
{
    char line[64];
    if (fake.fail == FAIL_READ)
        return ember_err_set(err, -EIO, "fake source: read failed");
    for (uint64_t i = r->from; i < r->to; i++) {
        int n = (int)i == fake.bad_record_at
                    ? snprintf(line, sizeof line, "k%llu,x", (unsigned long long)(i % 3))
                    : snprintf(line, sizeof line, "k%llu,%llu", (unsigned long long)(i % 3),
                               (unsigned long long)i);
        if (fn(line, (size_t)n, ctx))
            return -ENOMEM;
    }
    return 0;
}

static int fsrc_available(source *s, const src_range *r, ember_err *err) { return 0; }
static void fsrc_close(source *s) { s->impl = NULL; }

static const opt_def no_options[] = {{0}};

static const source_ops fake_source = {
    .kind = "fake", .doc = "test", .options = no_options, .replayable = 1,
    .open = fsrc_open, .restore = fsrc_restore, .plan = fsrc_plan, .read = fsrc_read,
    .available = fsrc_available, .close = fsrc_close,
};

static int fsnk_open(sink *s, const opt_set *o, const sink_env *env, ember_err *err)
{
    s->impl = &fake;
    return 0;
}
static int fsnk_recover(sink *s, uint64_t committed, ember_err *err) { return 0; }
static int fsnk_begin(sink *s, uint64_t batch, uint64_t time_ms, ember_err *err)
{
    fake.begins++;
    fake.last_batch = batch;
    return 0;
}
static int fsnk_write(sink *s, const ember_record *row, ember_err *err)
{
    if (fake.fail == FAIL_WRITE)
        return ember_err_set(err, -EIO, "fake sink: write failed");
    if (fake.rows++ == 0)
        fake.first_row_v = (uint64_t)row->values[1].u.i;
    return 0;
}
static int fsnk_commit(sink *s, uint64_t batch, ember_err *err)
{
    fake.commits++;
    return 0;
}
static void fsnk_close(sink *s) { s->impl = NULL; }

static const sink_ops fake_sink = {
    .kind = "fake", .doc = "test", .options = no_options, .exactly_once = 1,
    .open = fsnk_open, .recover = fsnk_recover, .begin = fsnk_begin, .write = fsnk_write,
    .commit = fsnk_commit, .close = fsnk_close,
};

/* ------------------------------------------------------------ helpers */

static char g_dir[64];

static void reset_fake(uint64_t per_plan)
{
    memset(&fake, 0, sizeof fake);
    fake.per_plan = per_plan;
    fake.bad_record_at = -1;
}

static void setup(void)
{
    snprintf(g_dir, sizeof g_dir, "/tmp/ember-test-engine-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(g_dir));
    reset_fake(10);
    fp_disarm_all();
}

static void teardown(void)
{
    ember_err err = {0};
    fp_disarm_all();
    ck_assert_int_eq(io_remove_tree(g_dir, &err), 0);
}

/* A stateless job over the fake source into the fake sink. */
static ember_job *fake_job(const char *every)
{
    ember_err err = {0};
    ember_job *job = ember_job_new("engine-test");
    ember_opt batch[] = {{"interval", "1ms"}, {"max-records", "100"}};
    ember_opt ckpt[] = {{"dir", g_dir}, {"every", every}};
    ember_opt gen[] = {{"kind", "sensors"}};
    ember_opt parse[] = {{"fields", "k,v:int"}};
    ck_assert_ptr_nonnull(job);
    ck_assert_int_eq(ember_job_batch(job, batch, 2, &err), 0);
    ck_assert_int_eq(ember_job_checkpoint(job, ckpt, 2, &err), 0);
    ck_assert_int_eq(ember_job_source(job, "generator", gen, 1, &err), 0);
    ck_assert_int_eq(ember_job_parse(job, "csv", parse, 1, &err), 0);
    ck_assert_int_eq(ember_job_sink(job, "stdout", NULL, 0, &err), 0);
    job->source = &fake_source; /* options were bound by the generator: ignored */
    job->sinks[0].ops = &fake_sink;
    return job;
}

static int run(const char *every, uint64_t batches, ember_err *err)
{
    ember_job *job = fake_job(every);
    ember_run_opts o = {.max_batches = batches};
    int rc = ember_job_run(job, &o, err);
    ember_job_free(job);
    return rc;
}

/* The live commit record: its batch and partition 0's end offset. */
static void committed(uint64_t *batch, uint64_t *end)
{
    char db[128];
    store *st = NULL;
    commit_record c;
    ember_err err = {0};
    store_opts so = {.read_only = 1};
    snprintf(db, sizeof db, "%s/db", g_dir);
    ck_assert_int_eq(store_open(db, NULL, 0, &so, &st, &err), 0);
    int rc = commit_read(st, &c, &err);
    *batch = rc == 0 ? c.batch : 0;
    *end = rc == 0 && c.n_ends ? c.ends[0].to : 0;
    if (rc == 0)
        commit_free(&c);
    store_close(st);
}

/* ------------------------------------------------------------ tests */

START_TEST(one_batch_reaches_the_sink_and_commits)
{
    ember_err err = {0};
    uint64_t b, end;
    ck_assert_int_eq(run("0", 1, &err), 0);
    ck_assert_uint_eq(fake.begins, 1);
    ck_assert_uint_eq(fake.commits, 1);
    ck_assert_uint_eq(fake.rows, 10);
    ck_assert_uint_eq(fake.first_row_v, 0);
    committed(&b, &end);
    ck_assert_uint_eq(b, 1);
    ck_assert_uint_eq(end, 10);
}
END_TEST

START_TEST(a_planned_batch_is_replayed_with_its_plan)
{
    ember_err err = {0};
    uint64_t b, end;
    ck_assert_int_eq(fp_arm("state.before_commit=error@1", &err), 0);
    ck_assert_int_lt(run("0", 1, &err), 0); /* batch 1 planned [0,10), not committed */
    fp_disarm_all();
    committed(&b, &end);
    ck_assert_uint_eq(b, 0);
    reset_fake(25); /* the source would now plan 25 records */
    ck_assert_int_eq(run("0", 1, &err), 0);
    /* the replay of batch 1 with its 10 records, then new batch 2 from 10 */
    ck_assert_uint_eq(fake.begins, 2);
    ck_assert_uint_eq(fake.rows, 10 + 25);
    ck_assert_uint_eq(fake.first_row_v, 0);
    ck_assert_uint_eq(fake.last_batch, 2);
    committed(&b, &end);
    ck_assert_uint_eq(b, 2);
    ck_assert_uint_eq(end, 35);
}
END_TEST

/* A failure at one step: ember_job_run returns an error naming it and the
 * checkpoint holds no commit. */
static void expect_failure(const char *every, const char *needle)
{
    ember_err err = {0};
    uint64_t b, end;
    ck_assert_int_lt(run(every, 1, &err), 0);
    ck_assert_msg(strstr(err.msg, needle), "'%s' not in '%s'", needle, err.msg);
    committed(&b, &end);
    ck_assert_uint_eq(b, 0);
}

static void arm(const char *spec)
{
    ember_err err = {0};
    ck_assert_int_eq(fp_arm(spec, &err), 0);
}

START_TEST(a_failed_plan_returns_its_error)
{
    fake.fail = FAIL_PLAN;
    expect_failure("0", "fake source: plan failed");
}
END_TEST

START_TEST(a_failed_wal_append_returns_its_error)
{
    arm("wal.after_append=error");
    expect_failure("0", "wal");
}
END_TEST

START_TEST(a_failed_read_returns_its_error)
{
    fake.fail = FAIL_READ;
    expect_failure("0", "fake source: read failed");
}
END_TEST

START_TEST(a_bad_record_fails_the_transform)
{
    fake.bad_record_at = 4;
    expect_failure("0", "'k1,x'");
}
END_TEST

START_TEST(a_failed_transform_failpoint_returns_its_error)
{
    arm("transform.after=error");
    expect_failure("0", "transform.after");
}
END_TEST

START_TEST(a_failed_sink_write_returns_its_error)
{
    fake.fail = FAIL_WRITE;
    expect_failure("0", "fake sink: write failed");
}
END_TEST

START_TEST(a_failed_commit_returns_its_error)
{
    arm("state.write=error");
    expect_failure("0", "");
    ck_assert_uint_eq(fake.commits, 1); /* the sink committed; the state did not */
}
END_TEST

START_TEST(a_failed_snapshot_returns_its_error_after_the_commit)
{
    ember_err err = {0};
    uint64_t b, end;
    arm("snapshot.mid_copy=error");
    ck_assert_int_lt(run("1", 1, &err), 0);
    committed(&b, &end);
    ck_assert_uint_eq(b, 1); /* step 7 is durable before step 8 runs */
}
END_TEST

static Suite *engine_suite(void)
{
    Suite *s = suite_create("engine");
    TCase *tc = tcase_create("cycle");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, one_batch_reaches_the_sink_and_commits);
    tcase_add_test(tc, a_planned_batch_is_replayed_with_its_plan);
    tcase_add_test(tc, a_failed_plan_returns_its_error);
    tcase_add_test(tc, a_failed_wal_append_returns_its_error);
    tcase_add_test(tc, a_failed_read_returns_its_error);
    tcase_add_test(tc, a_bad_record_fails_the_transform);
    tcase_add_test(tc, a_failed_transform_failpoint_returns_its_error);
    tcase_add_test(tc, a_failed_sink_write_returns_its_error);
    tcase_add_test(tc, a_failed_commit_returns_its_error);
    tcase_add_test(tc, a_failed_snapshot_returns_its_error_after_the_commit);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *r = srunner_create(engine_suite());
    srunner_run_all(r, CK_NORMAL);
    int failed = srunner_ntests_failed(r);
    srunner_free(r);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
