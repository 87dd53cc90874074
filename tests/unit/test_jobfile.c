/* test_jobfile: the job-file loader: valid files, and every error kind with
 * its FILE:LINE:COL, computed by hand from the text written here. */
#include "checkpoint/ckdir.h"
#include "core/base/io.h"
#include "core/job/job.h"
#include "core/ops/csv.h"

#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char path[256];

static int load(const char *text, ember_job **job, ember_err *err)
{
    snprintf(path, sizeof path, "/tmp/ember-test-jobfile-%d.job", (int)getpid());
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
    int rc = ember_job_load_file(path, job, err);
    unlink(path);
    return rc;
}

/* The error must start with "path:line:col: " and contain `what`. */
static void expect_error(const char *text, int line, int col, const char *what)
{
    ember_job *job = NULL;
    ember_err err = {0};
    char prefix[300];
    ck_assert_int_ne(load(text, &job, &err), 0);
    ck_assert_ptr_null(job);
    snprintf(prefix, sizeof prefix, "%s:%d:%d: ", path, line, col);
    ck_assert_msg(strncmp(err.msg, prefix, strlen(prefix)) == 0, "'%s' does not start with '%s'",
                  err.msg, prefix);
    ck_assert_msg(strstr(err.msg, what) != NULL, "'%s' does not say '%s'", err.msg, what);
}

static const char *valid =
    "# comment\n"
    "job        sensor-avg\n"
    "batch      interval=500ms max-records=200000\n"
    "checkpoint dir=./ckpt/x every=20 keep=3 cache=1MB   # trailing comment\n"
    "source     generator kind=sensors seed=4\n"
    "parse      csv fields=sensor,ts:int,temp:float\n"
    "filter     temp > -50 and sensor != \"test\"\n"
    "select     sensor, temp * 1.8 + 32 as temp_f\n"
    "key        sensor\n"
    "aggregate  count() avg(temp_f) max(temp_f)\n"
    "sink       file dir=/tmp/out\n";

START_TEST(valid_file_builds_the_pipeline)
{
    ember_job *job = NULL;
    ember_err err = {0};
    ck_assert_int_eq(load(valid, &job, &err), 0);
    ck_assert_str_eq(job->name, "sensor-avg");
    ck_assert_int_eq(job->interval_ms, 500);
    ck_assert_int_eq(job->max_records, 200000);
    ck_assert_int_eq(job->cache_bytes, 1 << 20);
    ck_assert_int_eq(job->n_steps, 2);
    ck_assert_int_eq(job->n_keys, 1);
    ck_assert_int_eq(job->n_aggs, 3);
    ck_assert_int_eq(job->output.n, 4);
    ck_assert_str_eq(job->output.f[1].name, "count");
    ck_assert_str_eq(job->output.f[2].name, "avg_temp_f");
    ck_assert_str_eq(job->sinks[0].ops->kind, "file");
    ember_job_free(job);
}
END_TEST

START_TEST(unknown_step_names_line_and_column)
{
    expect_error("job x\n  explode tags\n", 2, 3, "unknown step 'explode'");
}
END_TEST

START_TEST(unknown_option_points_at_it)
{
    expect_error("job x\nsource generator kind=sensors sed=3\n", 2, 31, "unknown option 'sed'");
}
END_TEST

START_TEST(bad_option_value_is_typed)
{
    expect_error("job x\nbatch interval=fast\n", 2, 7, "duration");
    expect_error("job x\ncheckpoint cache=12XB\n", 2, 12, "size");
    expect_error("job x\nsource generator kind=planes\n", 2, 18, "not one of");
}
END_TEST

START_TEST(missing_required_option)
{
    expect_error("job x\nsource file\n", 2, 8, "missing required option 'path'");
}
END_TEST

START_TEST(unknown_source_and_sink)
{
    expect_error("job x\nsource ftp host=a\n", 2, 8, "unknown source 'ftp'");
    expect_error("job x\nsource generator kind=ads\nsink s3 bucket=b\n", 3, 6, "unknown sink 's3'");
}
END_TEST

START_TEST(expression_errors_point_into_the_line)
{
    const char *head = "job x\nsource generator kind=sensors\nparse csv fields=sensor,ts:int,temp:float\n";
    char text[512];
    snprintf(text, sizeof text, "%sfilter temp > tmp\n", head);
    expect_error(text, 4, 15, "unknown field 'tmp'");
    snprintf(text, sizeof text, "%sfilter sensor > 3\n", head);
    expect_error(text, 4, 15, "cannot compare string with int");
    snprintf(text, sizeof text, "%sfilter temp + 1\n", head);
    expect_error(text, 4, 8, "condition");
}
END_TEST

START_TEST(key_and_aggregate_errors)
{
    const char *head = "job x\nsource generator kind=sensors\nparse csv fields=sensor,ts:int,temp:float\n";
    char text[512];
    snprintf(text, sizeof text, "%skey sensor, place\n", head);
    expect_error(text, 4, 13, "unknown field 'place'");
    snprintf(text, sizeof text, "%skey sensor\naggregate count() median(temp)\n", head);
    expect_error(text, 5, 19, "unknown aggregate 'median'");
    snprintf(text, sizeof text, "%skey sensor\naggregate sum(sensor)\n", head);
    expect_error(text, 5, 15, "needs a number");
}
END_TEST

START_TEST(summary_aggregates_parse)
{
    const char *head = "job x\nsource generator kind=sensors\nparse csv fields=sensor,ts:int,temp:float\n"
                       "key sensor\n";
    char text[512];
    ember_job *job = NULL;
    ember_err err = {0};
    snprintf(text, sizeof text,
             "%saggregate count_distinct(ts) count_distinct(ts, approx) topk(sensor, 10)\n", head);
    ck_assert_int_eq(load(text, &job, &err), 0);
    ck_assert_int_eq(job->aggs[0].fn, AGG_SET);
    ck_assert_int_eq(job->aggs[1].fn, AGG_HLL);
    ck_assert_int_eq(job->aggs[2].fn, AGG_TOPK);
    ck_assert_int_eq(job->aggs[2].k, 10);
    ck_assert_str_eq(job->output.f[3].name, "topk_sensor");
    ck_assert_int_eq(job->output.f[3].type, EMBER_STRING);
    ck_assert_int_eq(job->output.f[1].type, EMBER_INT);
    ember_job_free(job);
    snprintf(text, sizeof text, "%saggregate topk(sensor)\n", head);
    expect_error(text, 5, 22, "topk needs a count");
    snprintf(text, sizeof text, "%saggregate topk(sensor, 40)\n", head);
    expect_error(text, 5, 24, "from 1 to 32, not '40'");
    snprintf(text, sizeof text, "%saggregate count_distinct(ts, exact)\n", head);
    expect_error(text, 5, 30, "expected 'approx'");
}
END_TEST

START_TEST(steps_out_of_order)
{
    expect_error("job x\nparse csv fields=a\n", 2, 7, "needs a 'source'");
    expect_error("job x\nsource generator kind=ads\nfilter line != \"\"\nparse csv fields=a\n", 4,
                 7, "'parse' cannot come after 'filter/select'");
    /* after a sink the stream goes on (fan-out): the step is typed against
     * the rows at that sink, here the one field "line" */
    expect_error("job x\nsource generator kind=ads\nsink stdout\nkey user_id\n", 4, 5,
                 "unknown field 'user_id'");
}
END_TEST

START_TEST(unterminated_quote_and_bad_pair)
{
    expect_error("job x\nsource file path=\"/tmp/a b\n", 2, 13, "unterminated");
    expect_error("job x\nsource file /tmp/a\n", 2, 13, "expected key=value");
}
END_TEST

START_TEST(layout_hash_ignores_harmless_changes)
{
    ember_job *a = NULL, *b = NULL, *c = NULL;
    ember_err err = {0};
    ck_assert_int_eq(load(valid, &a, &err), 0);
    char text[2048];
    snprintf(text, sizeof text, "%s", valid);
    memcpy(strstr(text, "500ms"), "900ms", 5);
    ck_assert_int_eq(load(text, &b, &err), 0);
    ck_assert_uint_eq(job_layout_hash(a), job_layout_hash(b));
    snprintf(text, sizeof text, "%s", valid);
    memcpy(strstr(text, "max(temp_f)"), "min(temp_f)", 11);
    ck_assert_int_eq(load(text, &c, &err), 0);
    ck_assert_uint_ne(job_layout_hash(a), job_layout_hash(c));
    ember_job_free(a);
    ember_job_free(b);
    ember_job_free(c);
}
END_TEST

/* Backpressure is off unless asked for (as in Spark) and, like the rest
 * of the `batch` line, leaves the state layout alone. */
START_TEST(backpressure_options_parse_and_keep_the_layout)
{
    ember_job *a = NULL, *b = NULL;
    ember_err err = {0};
    ck_assert_int_eq(load(valid, &a, &err), 0);
    ck_assert_int_eq(a->backpressure, 0);
    ck_assert_int_eq(a->min_rate, 100);
    ck_assert_int_eq(a->initial_rate, 0);
    char text[2048];
    snprintf(text, sizeof text, "%s", valid);
    char *at = strstr(text, "max-records=200000\n");
    snprintf(at, sizeof text - (size_t)(at - text), "%s%s",
             "max-records=200000 backpressure=on min-rate=5000 initial-rate=70000\n",
             strstr(valid, "max-records=200000\n") + strlen("max-records=200000\n"));
    ck_assert_int_eq(load(text, &b, &err), 0);
    ck_assert_int_eq(b->backpressure, 1);
    ck_assert_int_eq(b->min_rate, 5000);
    ck_assert_int_eq(b->initial_rate, 70000);
    ck_assert_uint_eq(job_layout_hash(a), job_layout_hash(b));
    ember_job_free(a);
    ember_job_free(b);
    expect_error("job x\nbatch backpressure=yes\n", 2, 7, "not one of");
}
END_TEST

/* issue 20: every misspelt name gets the closest valid one. */
START_TEST(misspelt_names_get_a_suggestion)
{
    const char *head =
        "job x\nsource generator kind=sensors\nparse csv fields=sensor,ts:int,temp:float\n";
    char text[512];
    expect_error("job x\nbatch interval=1s max-record=4\n", 2, 19,
                 "unknown option 'max-record'; did you mean 'max-records'?");
    expect_error("job x\n  filtr temp > 3\n", 2, 3, "unknown step 'filtr'; did you mean 'filter'?");
    expect_error("job x\nsource generatr kind=ads\n", 2, 8,
                 "unknown source 'generatr'; did you mean 'generator'? (expected generator,");
    expect_error("job x\nsource generator kind=ads\nsink stdot\n", 3, 6,
                 "unknown sink 'stdot'; did you mean 'stdout'?");
    expect_error("job x\nsource generator kind=sensor\n", 2, 18, "did you mean 'sensors'?");
    expect_error("job x\nsource generator kind=ads\nparse cvs fields=a\n", 3, 7,
                 "unknown format 'cvs'; did you mean 'csv'?");
    snprintf(text, sizeof text, "%sfilter tmp > 3\n", head);
    expect_error(text, 4, 8, "unknown field 'tmp'; did you mean 'temp'?");
    snprintf(text, sizeof text, "%skey sensr\n", head);
    expect_error(text, 4, 5, "unknown field 'sensr' in key; did you mean 'sensor'?");
    snprintf(text, sizeof text, "%skey sensor\naggregate agv(temp)\n", head);
    expect_error(text, 5, 11, "unknown aggregate 'agv'; did you mean 'avg'?");
    snprintf(text, sizeof text, "%skey sensor\naggregate avg(tepm)\n", head);
    expect_error(text, 5, 15, "unknown field 'tepm'; did you mean 'temp'?");
    snprintf(text, sizeof text, "%skey sensor\nwindow tumbeling 1m on ts\naggregate count()\n",
             head);
    expect_error(text, 5, 8, "did you mean 'tumbling'?");
    snprintf(text, sizeof text, "%skey sensor\nwindow tumbling 1m on tss\naggregate count()\n",
             head);
    expect_error(text, 5, 23, "unknown field 'tss'; did you mean 'ts'?");
}
END_TEST

/* issue 20: `interval=5` was silently 5 ms. */
START_TEST(bare_durations_need_a_unit)
{
    const char *head =
        "job x\nsource generator kind=sensors\nparse csv fields=sensor,ts:int,temp:float\n";
    char text[512];
    expect_error("job x\nbatch interval=5\n", 2, 7, "'5' needs a unit: 5ms, 5s, 5m or 5h");
    snprintf(text, sizeof text, "%skey sensor\nttl 5\naggregate count()\n", head);
    expect_error(text, 5, 5, "'5' needs a unit");
    snprintf(text, sizeof text, "%sdedupe sensor within 10\n", head);
    expect_error(text, 4, 22, "'10' needs a unit");
    snprintf(text, sizeof text, "%skey sensor\nwindow tumbling 60000 on ts\naggregate count()\n",
             head);
    expect_error(text, 5, 17, "'60000' needs a unit");
    snprintf(text, sizeof text,
             "%skey sensor\nwindow tumbling 1m on ts watermark 2000\naggregate count()\n", head);
    expect_error(text, 5, 36, "'2000' needs a unit");
    ember_job *job = NULL;
    ember_err err = {0};
    ck_assert_int_eq(load("job x\nbatch interval=0\nsource generator kind=ads\n", &job, &err), 0);
    ck_assert_int_eq(job->interval_ms, 0);
    ember_job_free(job);
}
END_TEST

/* DIR/JOB keeps the job's text, which must load again: ttl is kept as
 * written (it used to be rewritten as bare milliseconds), while the layout
 * line, which checkpoints hash, stays in milliseconds. */
START_TEST(ttl_text_reloads_and_keeps_the_layout)
{
    const char *text =
        "job x\nsource generator kind=sensors\nparse csv fields=sensor,ts:int,temp:float\n"
        "key sensor\nttl 10m\naggregate count()\n";
    ember_job *a = NULL, *b = NULL;
    ember_err err = {0};
    ck_assert_int_eq(load(text, &a, &err), 0);
    ck_assert_ptr_nonnull(strstr(a->text, "ttl       10m\n"));
    ck_assert_ptr_nonnull(strstr(a->layout, "ttl       600000\n"));
    ck_assert_msg(load(a->text, &b, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(job_layout_hash(a), job_layout_hash(b));
    ck_assert_int_eq(b->ttl_ms, 600000);
    ember_job_free(a);
    ember_job_free(b);
}
END_TEST

/* issue 20: TSV has no quoting unless quote=on asks for it. */
START_TEST(tsv_quoting_is_off_unless_asked)
{
    static const struct {
        const char *parse;
        int no_quotes;
    } cases[] = {{"parse tsv fields=w", 1},
                 {"parse csv fields=w", 0},
                 {"parse tsv fields=w quote=on", 0},
                 {"parse csv fields=w quote=off", 1}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char text[256];
        ember_job *job = NULL;
        ember_err err = {0};
        snprintf(text, sizeof text, "job x\nsource stdin\n%s\n", cases[i].parse);
        ck_assert_msg(load(text, &job, &err) == 0, "%s", err.msg);
        ck_assert_msg(((job->delim & CSV_NO_QUOTES) != 0) == cases[i].no_quotes, "%s",
                      cases[i].parse);
        ck_assert_int_eq(job->delim & 0xff, cases[i].parse[6] == 't' ? '\t' : ',');
        ember_job_free(job);
    }
    expect_error("job x\nsource stdin\nparse tsv fields=w quote=maybe\n", 3, 20,
                 "not one of on|off");
}
END_TEST

/* ------------------------------------------ the canonical text reloads */

/* load(text) must give a job whose canonical text loads to the same text
 * and the same state layout; returns the first job (caller frees). */
static ember_job *load_fixed_point(const char *text)
{
    ember_job *a = NULL, *b = NULL;
    ember_err err = {0};
    ck_assert_msg(load(text, &a, &err) == 0, "%s", err.msg);
    ck_assert_msg(job_load_text("canon", a->text, strlen(a->text), &b, &err) == 0,
                  "the canonical text does not load: %s\n%s", err.msg, a->text);
    ck_assert_str_eq(b->text, a->text);
    ck_assert_str_eq(b->layout, a->layout);
    ck_assert_uint_eq(job_layout_hash(b), job_layout_hash(a));
    ember_job_free(b);
    return a;
}

static const char *opt_value(const opt_set *set, const char *key)
{
    return opts_str(set, key);
}

/* A path with a space: written back without quotes it read as two options
 * ("JOB:8:40: expected key=value" on the second run). */
START_TEST(quoted_values_are_written_back_quoted)
{
    ember_job *job =
        load_fixed_point("job q\n"
                         "source file path=\"/tmp/my data/in.csv\"\n"
                         "parse csv fields=a,b:int on-error=\"dead-letter:/tmp/bad x\"\n"
                         "sink file dir=\"/tmp/out put\" ext=\"t sv\"\n");
    ck_assert_str_eq(opt_value(&job->source_opts, "path"), "/tmp/my data/in.csv");
    ck_assert_str_eq(job->dead_letter_path, "/tmp/bad x");
    ck_assert_str_eq(opt_value(&job->sinks[0].opts, "dir"), "/tmp/out put");
    ck_assert_str_eq(opt_value(&job->sinks[0].opts, "ext"), "t sv");
    ck_assert_ptr_nonnull(strstr(job->text, "path=\"/tmp/my data/in.csv\""));
    ember_job_free(job);
}
END_TEST

/* A '#' inside a quoted value is text; written back bare, it started a
 * comment and the stored job read as another layout. */
START_TEST(hash_inside_quotes_is_not_a_comment)
{
    ember_job *job = load_fixed_point("job h   # the job\n"
                                      "source file path=\"/tmp/run#1/in.csv\"  # a comment\n"
                                      "parse csv fields=sensor,n:int\n"
                                      "filter sensor != \"#x\" and sensor != 'y#'  # another\n"
                                      "key sensor\n"
                                      "aggregate count()\n"
                                      "sink file dir=/tmp/o#not-part-of-it\n");
    ck_assert_str_eq(job->name, "h");
    ck_assert_str_eq(opt_value(&job->source_opts, "path"), "/tmp/run#1/in.csv");
    ck_assert_str_eq(opt_value(&job->sinks[0].opts, "dir"), "/tmp/o");
    ck_assert_ptr_nonnull(strstr(job->text, "filter    sensor != \"#x\" and sensor != 'y#'\n"));
    ck_assert_ptr_nonnull(strstr(job->text, "path=\"/tmp/run#1/in.csv\"\n"));
    ember_job_free(job);
}
END_TEST

/* On a line of options a quote inside a bare value is plain text: it does not
 * hide a comment after it, and the value comes back as it was. */
START_TEST(quotes_inside_bare_values_are_text)
{
    ember_job *job = load_fixed_point("job x\n"
                                      "source file path=/tmp/o'brien\"s.csv # it's a comment\n"
                                      "sink file dir=/tmp/o ext=t'v\n");
    ck_assert_str_eq(opt_value(&job->source_opts, "path"), "/tmp/o'brien\"s.csv");
    ck_assert_str_eq(opt_value(&job->sinks[0].opts, "ext"), "t'v");
    ember_job_free(job);
    expect_error("job x\nsource file path=\"/tmp/a b\n", 2, 13, "unterminated");
}
END_TEST

/* Lines of any length: the canonical text cut them at 2047 bytes (a 3.6 KB
 * filter came back as an unterminated string). */
START_TEST(long_lines_are_not_cut)
{
    size_t cap = 64 * 1024;
    char *text = malloc(cap);
    size_t n = (size_t)snprintf(text, cap,
                                "job long\nsource file path=/tmp/%0300d.csv\n"
                                "parse csv fields=sensor,ts:int\nfilter ",
                                7);
    for (int i = 0; i < 400; i++)
        n += (size_t)snprintf(text + n, cap - n, "%ssensor = \"s%04d#\"", i ? " or " : "", i);
    n += (size_t)snprintf(text + n, cap - n, "\nselect sensor, ts");
    for (int i = 0; i < 300; i++)
        n += (size_t)snprintf(text + n, cap - n, " + %d", i);
    snprintf(text + n, cap - n, " as total\nkey sensor\naggregate sum(total) count()\n");
    ck_assert_uint_gt(strlen(text), 10000);
    ember_job *job = load_fixed_point(text);
    ck_assert_ptr_nonnull(strstr(job->text, "\"s0399#\"\n"));
    ck_assert_uint_gt(strlen(job->text), 10000);
    ember_job_free(job);
    free(text);
}
END_TEST

/* Every example job is a fixed point too (the fuzzer's seed corpus). */
START_TEST(examples_are_fixed_points)
{
    DIR *d = opendir("examples");
    ck_assert_ptr_nonnull(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));) {
        size_t len = strlen(e->d_name);
        if (len < 5 || strcmp(e->d_name + len - 4, ".job") != 0)
            continue;
        char file[512], *text = NULL;
        size_t size = 0;
        ember_err err = {0};
        snprintf(file, sizeof file, "examples/%s", e->d_name);
        ck_assert_msg(io_read_file(file, &text, &size, &err) == 0, "%s", err.msg);
        ember_job_free(load_fixed_point(text));
        free(text);
        n++;
    }
    closedir(d);
    ck_assert_int_ge(n, 5);
}
END_TEST

/* The C API cannot record a value no job file could hold. */
START_TEST(unstorable_option_values_are_refused)
{
    ember_job *job = ember_job_new("api");
    ember_err err = {0};
    ember_opt nl[] = {{"path", "/tmp/a\nb"}};
    ck_assert_int_eq(ember_job_source(job, "file", nl, 1, &err), -EMBER_EUSAGE);
    ck_assert_ptr_nonnull(strstr(err.msg, "line break"));
    ember_opt q[] = {{"path", "/tmp/\"a b\""}};
    ck_assert_int_eq(ember_job_source(job, "file", q, 1, &err), -EMBER_EUSAGE);
    ck_assert_int_eq(err.col, 1);
    ember_opt ok[] = {{"path", "/tmp/\"ab\""}};
    ck_assert_int_eq(ember_job_source(job, "file", ok, 1, &err), 0);
    ck_assert_int_eq(job_finish(job, &err), 0);
    ember_job *back = NULL;
    ck_assert_int_eq(job_load_text("t", job->text, strlen(job->text), &back, &err), 0);
    ck_assert_str_eq(opt_value(&back->source_opts, "path"), "/tmp/\"ab\"");
    ember_job_free(back);
    ember_job_free(job);
}
END_TEST

/* -------------------------------------- types of the fields in the state */

static const char *typechange_a = "job        typechange\n"
                                  "source     file path=/tmp/ember-typechange.csv\n"
                                  "parse      csv fields=sensor,ts:int,temp:float\n"
                                  "select     sensor, ts\n"
                                  "key        sensor\n"
                                  "aggregate  count() sum(ts)\n";

/* The same job with ts made a float by the select: the parse line is the
 * same, but sum(ts) folds floats now. */
static const char *typechange_b = "job        typechange\n"
                                  "source     file path=/tmp/ember-typechange.csv\n"
                                  "parse      csv fields=sensor,ts:int,temp:float\n"
                                  "select     sensor, ts * 1.0 as ts\n"
                                  "key        sensor\n"
                                  "aggregate  count() sum(ts)\n";

START_TEST(a_type_change_through_select_changes_the_layout)
{
    ember_job *a = load_fixed_point(typechange_a), *b = load_fixed_point(typechange_b);
    ck_assert_uint_ne(job_layout_hash(a), job_layout_hash(b));
    ck_assert_ptr_nonnull(strstr(a->layout, "sum(ts:int)"));
    ck_assert_ptr_nonnull(strstr(b->layout, "sum(ts:float)"));
    char msg[256];
    ck_assert_int_eq(job_state_type_change(a, b, msg, sizeof msg), 1);
    ck_assert_str_eq(msg, "field 'ts' was int and is now float (in sum_ts)");
    ck_assert_int_eq(job_state_type_change(a, a, msg, sizeof msg), 0);
    ember_job_free(a);
    ember_job_free(b);
}
END_TEST

/* Key fields count as well, and so does a field a join appends. */
START_TEST(key_and_join_field_types_are_in_the_layout)
{
    const char *head = "job k\nsource file path=/tmp/x\nparse csv fields=id,n:int\n";
    char t1[512], t2[512];
    snprintf(t1, sizeof t1, "%sselect id, n\nkey n\naggregate count()\n", head);
    snprintf(t2, sizeof t2, "%sselect id, n * 1.0 as n\nkey n\naggregate count()\n", head);
    ember_job *a = load_fixed_point(t1), *b = load_fixed_point(t2);
    ck_assert_uint_ne(job_layout_hash(a), job_layout_hash(b));
    char msg[256];
    ck_assert_int_eq(job_state_type_change(a, b, msg, sizeof msg), 1);
    ck_assert_str_eq(msg, "field 'n' was int and is now float (in the key)");
    ember_job_free(a);
    ember_job_free(b);
    snprintf(t1, sizeof t1,
             "%sjoin table path=/tmp/t.csv key=id fields=w:int\nkey id\n"
             "aggregate wavg(n, w)\n",
             head);
    snprintf(t2, sizeof t2,
             "%sjoin table path=/tmp/t.csv key=id fields=w:float\nkey id\n"
             "aggregate wavg(n, w)\n",
             head);
    a = load_fixed_point(t1);
    b = load_fixed_point(t2);
    ck_assert_uint_ne(job_layout_hash(a), job_layout_hash(b));
    ck_assert_int_eq(job_state_type_change(a, b, msg, sizeof msg), 1);
    ck_assert_str_eq(msg, "field 'w' was int and is now float (in wavg_n)");
    ember_job_free(a);
    ember_job_free(b);
}
END_TEST

/* Blanks and the case of aggregate names do not change the layout. */
START_TEST(layout_ignores_blanks_in_key_and_aggregate)
{
    const char *head = "job k\nsource file path=/tmp/x\nparse csv fields=id,n:int,f:float\n";
    char t1[512], t2[512];
    snprintf(t1, sizeof t1, "%skey id,n\naggregate count() sum(n) COUNT_DISTINCT(f, approx)\n",
             head);
    snprintf(t2, sizeof t2,
             "%skey  id , n\naggregate   count()  sum(n)   count_distinct(f, approx)\n", head);
    ember_job *a = load_fixed_point(t1), *b = load_fixed_point(t2);
    ck_assert_str_eq(a->layout, b->layout);
    ck_assert_ptr_nonnull(strstr(a->layout, "key id:string,n:int\n"));
    ck_assert_ptr_nonnull(
        strstr(a->layout, "aggregate count() sum(n:int) count_distinct(f:float, approx)\n"));
    ember_job_free(a);
    ember_job_free(b);
}
END_TEST

static char ck_dir[] = "/tmp/ember-test-ckdir-XXXXXX";

/* The second run of the other job is refused, naming the field and both
 * types (the stored DIR/JOB is the reference). */
START_TEST(checkpoint_refuses_the_type_change)
{
    ember_job *a = NULL, *b = NULL;
    ember_err err = {0};
    ck_assert_ptr_nonnull(mkdtemp(ck_dir));
    ck_assert_int_eq(load(typechange_a, &a, &err), 0);
    ck_assert_int_eq(load(typechange_b, &b, &err), 0);
    ck_assert_msg(ckdir_check_job(ck_dir, a, &err) == 0, "%s", err.msg);
    ck_assert_msg(ckdir_check_job(ck_dir, a, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(ckdir_check_job(ck_dir, b, &err), -EMBER_EINCOMPAT);
    ck_assert_msg(strstr(err.msg, "field 'ts' was int and is now float") != NULL, "%s", err.msg);
    ember_job_free(a);
    ember_job_free(b);
    ck_assert_int_eq(io_remove_tree(ck_dir, &err), 0);
}
END_TEST

/* A stored job with quoted values, '#' in them and a long line loads back
 * on the second run, and a harmless change is accepted. */
START_TEST(stored_job_reloads)
{
    char dir[] = "/tmp/ember-test-ckdir-XXXXXX", *text = malloc(16384);
    ember_job *a = NULL, *b = NULL;
    ember_err err = {0};
    ck_assert_ptr_nonnull(mkdtemp(dir));
    size_t n = (size_t)snprintf(text, 16384,
                                "job s\nbatch interval=1s\n"
                                "source file path=\"/tmp/a b#c.csv\"\n"
                                "parse csv fields=sensor,v:int\nfilter v > 0");
    for (int i = 0; i < 500; i++)
        n += (size_t)snprintf(text + n, 16384 - n, " and sensor != \"s%d#\"", i);
    snprintf(text + n, 16384 - n, "\nkey sensor\naggregate sum(v)\n");
    ck_assert_int_eq(load(text, &a, &err), 0);
    ck_assert_msg(ckdir_check_job(dir, a, &err) == 0, "%s", err.msg);
    memcpy(strstr(text, "interval=1s"), "interval=2s", 11);
    ck_assert_int_eq(load(text, &b, &err), 0);
    ck_assert_msg(ckdir_check_job(dir, b, &err) == 0, "%s", err.msg);
    ck_assert_msg(ckdir_check_job(dir, a, &err) == 0, "%s", err.msg);
    ember_job_free(a);
    ember_job_free(b);
    free(text);
    ck_assert_int_eq(io_remove_tree(dir, &err), 0);
}
END_TEST

/* ----------------------------------------------------- deep expressions */

/* "filter ts + ts + ..." with `terms` terms and `tail` after them. */
static char *sum_line(const char *head, int terms, const char *tail)
{
    size_t cap = strlen(head) + (size_t)terms * 5 + strlen(tail) + 64, n;
    char *t = malloc(cap);
    n = (size_t)snprintf(t, cap, "%sfilter ts", head);
    for (int i = 1; i < terms; i++)
        n += (size_t)snprintf(t + n, cap - n, " + ts");
    snprintf(t + n, cap - n, "%s", tail);
    return t;
}

/* 400k and 1M terms crashed (expr_eval, expr_free): now an error at the
 * operator that goes past the limit, and sums up to it still load. */
START_TEST(deep_expressions_are_refused_with_their_column)
{
    const char *head = "job d\nsource file path=/tmp/x\nparse csv fields=sensor,ts:int\n";
    int terms[] = {400000, 1000000, EXPR_MAX_DEPTH + 1};
    for (size_t i = 0; i < sizeof terms / sizeof terms[0]; i++) {
        char *t = sum_line(head, terms[i], " > 0\nkey sensor\naggregate count()\n");
        /* the EXPR_MAX_DEPTH-th '+' makes the sum one level too deep: the
         * expression's column 5 * MAX - 1, after "filter " (7 bytes) */
        expect_error(t, 4, 7 + 5 * EXPR_MAX_DEPTH - 1, "nested too deeply");
        free(t);
    }
    char *t = sum_line(head, EXPR_MAX_DEPTH - 1, " > 0\n");
    ember_job_free(load_fixed_point(t));
    free(t);
    /* 100k unary minus signs cancel in pairs: they load, whatever their number */
    size_t cap = 300000;
    t = malloc(cap);
    size_t n = (size_t)snprintf(t, cap, "%sselect sensor, ", head);
    for (int i = 0; i < 100001; i++)
        t[n++] = '-';
    snprintf(t + n, cap - n, "ts as neg\nkey sensor\naggregate sum(neg)\n");
    ember_job_free(load_fixed_point(t));
    free(t);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("jobfile");
    TCase *tc = tcase_create("jobfile");
    tcase_add_test(tc, valid_file_builds_the_pipeline);
    tcase_add_test(tc, unknown_step_names_line_and_column);
    tcase_add_test(tc, unknown_option_points_at_it);
    tcase_add_test(tc, bad_option_value_is_typed);
    tcase_add_test(tc, missing_required_option);
    tcase_add_test(tc, unknown_source_and_sink);
    tcase_add_test(tc, expression_errors_point_into_the_line);
    tcase_add_test(tc, key_and_aggregate_errors);
    tcase_add_test(tc, summary_aggregates_parse);
    tcase_add_test(tc, steps_out_of_order);
    tcase_add_test(tc, unterminated_quote_and_bad_pair);
    tcase_add_test(tc, layout_hash_ignores_harmless_changes);
    tcase_add_test(tc, backpressure_options_parse_and_keep_the_layout);
    tcase_add_test(tc, misspelt_names_get_a_suggestion);
    tcase_add_test(tc, bare_durations_need_a_unit);
    tcase_add_test(tc, ttl_text_reloads_and_keeps_the_layout);
    tcase_add_test(tc, tsv_quoting_is_off_unless_asked);
    tcase_add_test(tc, quoted_values_are_written_back_quoted);
    tcase_add_test(tc, hash_inside_quotes_is_not_a_comment);
    tcase_add_test(tc, quotes_inside_bare_values_are_text);
    tcase_add_test(tc, long_lines_are_not_cut);
    tcase_add_test(tc, examples_are_fixed_points);
    tcase_add_test(tc, unstorable_option_values_are_refused);
    tcase_add_test(tc, a_type_change_through_select_changes_the_layout);
    tcase_add_test(tc, key_and_join_field_types_are_in_the_layout);
    tcase_add_test(tc, layout_ignores_blanks_in_key_and_aggregate);
    tcase_add_test(tc, checkpoint_refuses_the_type_change);
    tcase_add_test(tc, stored_job_reloads);
    tcase_add_test(tc, deep_expressions_are_refused_with_their_column);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
