/*
 * test_dir_api: ui/dir_api.c over a real checkpoint made by running a small
 * job through the public API (a file source of N_RECORDS lines "kNN,i",
 * key k, count() and sum(v), 100 records a batch, a snapshot every 3
 * batches, 3 kept). Every route's JSON is checked against figures computed
 * here from the generated input (counts and sums per key, records per
 * batch, the file's bytes), bad parameters get 400, unknown routes 404, a
 * damaged snapshot shows as damaged, and the directory's files are
 * byte-identical before and after (the API never writes). One case reads
 * the API while the job runs.
 */
#include "tests/unit/dir_fixture.h"

#include <check.h>
#include <dirent.h>
#include <jansson.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <xxhash.h>

#define N_RECORDS 1000
#define N_KEYS 17
#define PER_BATCH 100
#define N_BATCHES (N_RECORDS / PER_BATCH)

static char g_tmp[PATH_MAX], g_ckpt[PATH_MAX + 16];
static long g_file_bytes;
static long g_line_end[N_RECORDS]; /* byte offset after record i */

/* The oracle: count and sum of v for key k over the first n records. */
static void oracle(int k, int n, long *count, long *sum)
{
    *count = *sum = 0;
    for (int i = 0; i < n; i++)
        if (i % N_KEYS == k) {
            ++*count;
            *sum += i;
        }
}

static void write_job(const char *dir, const char *ckpt, const char *extra)
{
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/j.job", dir);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f,
            "job dirapi\nbatch interval=1ms max-records=%d\ncheckpoint dir=%s every=3 keep=3 %s\n"
            "source file path=%s/in.csv\nparse csv fields=k,v:int\nkey k\n"
            "aggregate count() sum(v)\nsink file dir=%s/out\n",
            PER_BATCH, ckpt, extra, dir, dir);
    fclose(f);
}

/* The input file, then the job. */
static int build(void)
{
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/in.csv", g_tmp);
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    for (int i = 0; i < N_RECORDS; i++) {
        fprintf(f, "k%02d,%d\n", i % N_KEYS, i);
        g_line_end[i] = ftell(f);
    }
    g_file_bytes = ftell(f);
    fclose(f);
    write_job(g_tmp, g_ckpt, "");
    return run_in_child(g_tmp);
}

/* Runs once for the test case, in the parent: the checkpoint every case reads. */
static void make_checkpoint(void)
{
    strcpy(g_tmp, "/tmp/ember-test-dirapi-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(g_tmp));
    snprintf(g_ckpt, sizeof g_ckpt, "%s/ckpt", g_tmp);
    ck_assert_msg(build() == 0, "the job that makes the checkpoint failed");
}

static void remove_checkpoint(void)
{
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_tmp);
    ck_assert_int_eq(system(cmd), 0);
}

static json_t *api(const char *route, const char *query, int want_status)
{
    int status;
    json_t *j = api_in(g_ckpt, route, query, &status);
    char *text = json_dumps(j, JSON_COMPACT);
    ck_assert_msg(status == want_status, "%s?%s: status %d, not %d: %.300s", route,
                  query ? query : "", status, want_status, text);
    if (want_status != 200)
        ck_assert_msg(json_is_string(json_object_get(j, "error")), "%s: no error: %s", route, text);
    free(text);
    return j;
}

START_TEST(history_is_the_last_n_batches_of_progress_jsonl)
{
    json_t *all = api("history", NULL, 200);
    ck_assert_int_eq(json_array_size(all), N_BATCHES);
    long in = 0;
    for (size_t i = 0; i < json_array_size(all); i++) {
        json_t *b = json_array_get(all, i);
        ck_assert_int_eq(jint(b, "batch"), (long)i + 1);
        ck_assert_int_eq(jint(b, "records_in"), PER_BATCH);
        in += jint(b, "records_in");
    }
    ck_assert_int_eq(in, N_RECORDS);
    json_t *last3 = api("history", "n=3", 200);
    ck_assert_int_eq(json_array_size(last3), 3);
    ck_assert_int_eq(jint(json_array_get(last3, 0), "batch"), N_BATCHES - 2);
    ck_assert_int_eq(jint(json_array_get(last3, 2), "batch"), N_BATCHES);
    ck_assert_int_eq(jint(json_array_get(last3, 2), "state_keys"), N_KEYS);
    json_decref(all);
    json_decref(last3);
}
END_TEST

START_TEST(history_reads_the_rotated_file_first)
{
    /* progress.jsonl.1 holds older batches: they come first */
    char path[PATH_MAX + 64], dir[PATH_MAX + 16];
    snprintf(dir, sizeof dir, "%s/rot", g_tmp);
    mkdir(dir, 0755);
    snprintf(path, sizeof path, "%s/progress.jsonl.1", dir);
    FILE *f = fopen(path, "w");
    for (int b = 1; b <= 5; b++)
        fprintf(f, "{\"batch\": %d}\n", b);
    fclose(f);
    snprintf(path, sizeof path, "%s/progress.jsonl", dir);
    f = fopen(path, "w");
    for (int b = 6; b <= 8; b++)
        fprintf(f, "{\"batch\": %d}\n", b);
    fprintf(f, "{\"batch\": 9, \"being\": \"writ"); /* no newline: not yet a line */
    fclose(f);
    int status;
    json_t *j = api_in(dir, "history", "n=4", &status);
    ck_assert_int_eq(status, 200);
    ck_assert_int_eq(json_array_size(j), 4);
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(jint(json_array_get(j, (size_t)i), "batch"), 5 + i);
    json_decref(j);
}
END_TEST

START_TEST(status_shows_the_commit_offsets_and_keys)
{
    json_t *s = api("status", "", 200);
    ck_assert_str_eq(json_string_value(json_object_get(s, "job")), "dirapi");
    ck_assert_int_eq(strlen(json_string_value(json_object_get(s, "spec_hash"))), 16);
    json_t *c = json_object_get(s, "committed");
    ck_assert_int_eq(jint(c, "batch"), N_BATCHES);
    ck_assert_int_eq(jint(c, "records"), N_RECORDS);
    ck_assert_int_eq(jint(json_object_get(c, "offsets"), "0"), g_file_bytes);
    ck_assert_int_eq(jint(s, "state_keys"), N_KEYS);
    ck_assert(json_is_null(json_object_get(s, "drained")));
    json_t *wal = json_object_get(s, "wal");
    ck_assert_int_eq(jint(wal, "last_plan"), N_BATCHES);
    ck_assert(json_is_null(json_object_get(wal, "damage")));
    json_decref(s);
}
END_TEST

START_TEST(operators_count_the_keys)
{
    json_t *ops = api("state/operators", NULL, 200);
    ck_assert_int_eq(json_array_size(ops), 1);
    json_t *o = json_array_get(ops, 0);
    ck_assert_str_eq(json_string_value(json_object_get(o, "op")), "aggregate");
    ck_assert_int_eq(jint(o, "keys"), N_KEYS);
    ck_assert(json_is_true(json_object_get(o, "exact")));
    ck_assert_int_gt(jint(o, "bytes"), 0);
    json_decref(ops);
    json_decref(api("state/operators", "snapshot=3", 200));
    json_decref(api("state/operators", "snapshot=4", 404));
}
END_TEST

START_TEST(get_decodes_one_key)
{
    long count, sum;
    for (int k = 0; k < N_KEYS; k += 5) {
        char q[64];
        snprintf(q, sizeof q, "op=aggregate&key=k%02d", k);
        json_t *j = api("state/get", q, 200);
        json_t *rows = json_object_get(j, "rows");
        ck_assert_int_eq(json_array_size(rows), 1);
        oracle(k, N_RECORDS, &count, &sum);
        ck_assert_int_eq(jint(json_array_get(rows, 0), "count"), count);
        ck_assert_int_eq(jint(json_array_get(rows, 0), "sum_v"), sum);
        json_decref(j);
    }
    /* the snapshot of batch 3 holds the first 300 records */
    json_t *j = api("state/get", "key=k%30%34&snapshot=3", 200);
    oracle(4, 3 * PER_BATCH, &count, &sum);
    ck_assert_int_eq(jint(json_array_get(json_object_get(j, "rows"), 0), "count"), count);
    ck_assert_int_eq(jint(json_array_get(json_object_get(j, "rows"), 0), "sum_v"), sum);
    json_decref(j);
    json_decref(api("state/get", "key=k99", 404));
    json_decref(api("state/get", "key=k0", 404)); /* a prefix of keys is not a key */
    json_decref(api("state/get", "op=nope&key=k01", 404));
    json_decref(api("state/get", "op=aggregate", 400));
}
END_TEST

START_TEST(scan_lists_a_prefix_up_to_the_limit)
{
    json_t *j = api("state/scan", "prefix=k1", 200);
    json_t *rows = json_object_get(j, "rows");
    ck_assert_int_eq(json_array_size(rows), 7); /* k10..k16 */
    ck_assert(json_is_false(json_object_get(j, "more")));
    for (size_t i = 0; i < json_array_size(rows); i++) {
        long count, sum;
        oracle(10 + (int)i, N_RECORDS, &count, &sum);
        char want[8];
        snprintf(want, sizeof want, "k%d", 10 + (int)i);
        ck_assert_str_eq(json_string_value(json_object_get(json_array_get(rows, i), "k")), want);
        ck_assert_int_eq(jint(json_array_get(rows, i), "count"), count);
        ck_assert_int_eq(jint(json_array_get(rows, i), "sum_v"), sum);
    }
    json_decref(j);
    j = api("state/scan", "limit=3", 200);
    ck_assert_int_eq(json_array_size(json_object_get(j, "rows")), 3);
    ck_assert(json_is_true(json_object_get(j, "more")));
    json_decref(j);
    j = api("state/scan", "limit=17", 200);
    ck_assert_int_eq(json_array_size(json_object_get(j, "rows")), N_KEYS);
    ck_assert(json_is_false(json_object_get(j, "more")));
    json_decref(j);
    json_decref(api("state/scan", "limit=0", 400));
    json_decref(api("state/scan", "limit=10001", 400));
    json_decref(api("state/scan", "limit=5x", 400));
}
END_TEST

START_TEST(snapshots_list_the_kept_ones_verified)
{
    json_t *j = api("snapshots", NULL, 200);
    ck_assert_int_eq(json_array_size(j), 3);
    for (int i = 0; i < 3; i++) {
        json_t *s = json_array_get(j, (size_t)i);
        int batch = 3 * (i + 1); /* every=3 keep=3 over 10 batches: 3, 6, 9 */
        ck_assert_int_eq(jint(s, "batch"), batch);
        ck_assert_str_eq(json_string_value(json_object_get(s, "verify")), "ok");
        ck_assert(json_is_null(json_object_get(s, "reason")));
        ck_assert_int_gt(jint(s, "bytes"), 0);
        ck_assert_int_gt(jint(s, "time_ms"), 0);
        ck_assert_int_eq(jint(json_object_get(s, "offsets"), "0"),
                         g_line_end[batch * PER_BATCH - 1]);
    }
    json_decref(j);
}
END_TEST

START_TEST(wal_shows_plans_with_their_ranges)
{
    json_t *j = api("wal", "limit=10000", 200);
    json_t *recs = json_object_get(j, "records");
    long plans = 0, prev_to = -1;
    for (size_t i = 0; i < json_array_size(recs); i++) {
        json_t *r = json_array_get(recs, i);
        if (strcmp(json_string_value(json_object_get(r, "type")), "PLAN") != 0)
            continue;
        long b = jint(r, "batch");
        json_t *range = json_array_get(json_object_get(r, "ranges"), 0);
        /* batch b reads records (b-1)*100 .. b*100 - 1: these bytes */
        ck_assert_int_eq(jint(range, "from"), b == 1 ? 0 : g_line_end[(b - 1) * PER_BATCH - 1]);
        ck_assert_int_eq(jint(range, "to"), g_line_end[b * PER_BATCH - 1]);
        ck_assert(prev_to < 0 || jint(range, "from") == prev_to);
        prev_to = jint(range, "to");
        plans++;
    }
    ck_assert_int_gt(plans, 0);
    ck_assert_int_eq(prev_to, g_file_bytes);
    json_decref(j);
    j = api("wal", "from=8&limit=2", 200);
    recs = json_object_get(j, "records");
    ck_assert_int_eq(json_array_size(recs), 2);
    ck_assert_int_eq(jint(json_array_get(recs, 0), "batch"), 8);
    ck_assert(json_is_true(json_object_get(j, "more")));
    json_decref(j);
}
END_TEST

START_TEST(diff_of_two_snapshots_matches_the_input)
{
    json_t *j = api("diff", "a=6&b=9", 200);
    ck_assert_int_eq(jint(j, "added"), 0);
    ck_assert_int_eq(jint(j, "removed"), 0);
    ck_assert_int_eq(jint(j, "changed"), N_KEYS); /* every key has a record in 601..900 */
    json_t *c = json_array_get(json_object_get(j, "changes"), 0);
    ck_assert_str_eq(json_string_value(json_object_get(c, "key")), "k00");
    long count, sum;
    oracle(0, 6 * PER_BATCH, &count, &sum);
    ck_assert_int_eq(jint(json_object_get(c, "old"), "sum_v"), sum);
    oracle(0, 9 * PER_BATCH, &count, &sum);
    ck_assert_int_eq(jint(json_object_get(c, "new"), "sum_v"), sum);
    json_decref(j);
    j = api("diff", "a=9&b=live&limit=2", 200);
    ck_assert_int_eq(jint(j, "changed"), N_KEYS);
    ck_assert_int_eq(json_array_size(json_object_get(j, "changes")), 2);
    ck_assert(json_is_true(json_object_get(j, "more")));
    json_decref(j);
    json_decref(api("diff", "a=4&b=9", 404));
    json_decref(api("diff", "a=x&b=9", 400));
    json_decref(api("diff", "a=6", 400));
    json_decref(api("diff", "a=6&b=9&op=nope", 404));
}
END_TEST

START_TEST(bad_requests_get_4xx)
{
    json_decref(api("nope", NULL, 404));
    json_decref(api("state", NULL, 404));
    json_decref(api("", NULL, 404));
    json_decref(api("history", "x=1", 400));
    json_decref(api("history", "n=1&n=2", 400));
    json_decref(api("history", "n=%zz", 400));
    json_decref(api("history", "n=%00", 400));
    json_decref(api("history", "n=0", 400));
    json_decref(api("history", "n=10001", 400));
    json_decref(api("history", "n=-1", 400));
    json_decref(api("history", "=5", 400));
    json_decref(api("status", "n=1", 400));
    json_decref(api("wal", "from=abc", 400));
    int status;
    json_t *missing = api_in("/nonexistent/ember-dir", "history", NULL, &status);
    ck_assert_int_eq(status, 500);
    ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(missing, "error")),
                                 "/nonexistent/ember-dir"));
    json_decref(missing);
    /* an error names the parameter */
    json_t *j = api("state/scan", "limit=zero", 400);
    ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(j, "error")), "limit"));
    json_decref(j);
}
END_TEST

/* "path size xxh64" of every file under dir, sorted by the walk. */
static void fingerprint(const char *dir, text_buf *out)
{
    struct dirent **names = NULL;
    int n = scandir(dir, &names, NULL, alphasort);
    ck_assert_int_ge(n, 0);
    for (int i = 0; i < n; i++) {
        char path[PATH_MAX + 300], line[PATH_MAX + 400];
        struct stat sb;
        snprintf(path, sizeof path, "%s/%s", dir, names[i]->d_name);
        int skip = !strcmp(names[i]->d_name, ".") || !strcmp(names[i]->d_name, "..");
        free(names[i]);
        if (skip || lstat(path, &sb) != 0)
            continue;
        if (S_ISDIR(sb.st_mode)) {
            fingerprint(path, out);
            continue;
        }
        FILE *f = fopen(path, "rb");
        ck_assert_ptr_nonnull(f);
        char *buf = malloc((size_t)sb.st_size + 1);
        size_t got = fread(buf, 1, (size_t)sb.st_size, f);
        fclose(f);
        int len = snprintf(line, sizeof line, "%s %zu %016llx %ld\n", path, got,
                           (unsigned long long)XXH64(buf, got, 0), (long)sb.st_mtime);
        free(buf);
        ck_assert_int_eq(text_append(out, line, (size_t)len), 0);
    }
    free(names);
}

START_TEST(nothing_is_written_into_the_directory)
{
    static const char *const calls[][2] = {
        {"history", "n=10000"},         {"status", ""},        {"state/operators", ""},
        {"state/get", "key=k01"},       {"state/scan", ""},    {"snapshots", ""},
        {"wal", ""},                    {"diff", "a=3&b=9"},   {"diff", "a=6&b=live"},
        {"state/operators", "snapshot=9"}, {"nope", ""},
    };
    text_buf before = {0}, after = {0};
    fingerprint(g_ckpt, &before);
    for (size_t i = 0; i < sizeof calls / sizeof calls[0]; i++) {
        text_buf out = {0};
        (void)ui_dir_api(g_ckpt, calls[i][0], calls[i][1], &out);
        text_free(&out);
    }
    fingerprint(g_ckpt, &after);
    ck_assert_int_eq(before.len, after.len);
    ck_assert_msg(memcmp(before.data, after.data, before.len) == 0, "files changed:\n%.*s",
                  (int)after.len, after.data);
    text_free(&before);
    text_free(&after);
}
END_TEST

START_TEST(a_damaged_snapshot_is_reported_damaged)
{
    char cmd[3 * PATH_MAX], copy[PATH_MAX + 16], snap[PATH_MAX + 64];
    snprintf(copy, sizeof copy, "%s/damaged", g_tmp);
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && cp -a '%s' '%s'", copy, g_ckpt, copy);
    ck_assert_int_eq(system(cmd), 0);
    /* snapshot 3 is the oldest kept: it has its own copy of every file */
    snprintf(snap, sizeof snap, "%s/snapshots/%020d/db", copy, 3);
    snprintf(cmd, sizeof cmd,
             "f=$(ls '%s'/*.sst | head -n 1) && printf 'X' | dd of=\"$f\" bs=1 seek=20 "
             "conv=notrunc status=none",
             snap);
    ck_assert_int_eq(system(cmd), 0);
    int status;
    json_t *j = api_in(copy, "snapshots", NULL, &status);
    ck_assert_int_eq(status, 200);
    ck_assert_int_eq(json_array_size(j), 3);
    json_t *s3 = json_array_get(j, 0);
    ck_assert_int_eq(jint(s3, "batch"), 3);
    ck_assert_str_eq(json_string_value(json_object_get(s3, "verify")), "damaged");
    ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(s3, "reason")), ".sst"));
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(j, 1), "verify")), "ok");
    json_decref(j);
    j = api_in(copy, "diff", "a=3&b=9", &status);
    ck_assert_int_eq(status, 500);
    ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(j, "error")), "snapshot 3"));
    json_decref(j);
}
END_TEST

/* A small deterministic generator (xorshift64*) for the fuzz case. */
static uint64_t g_rng = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(uint64_t n)
{
    g_rng ^= g_rng >> 12;
    g_rng ^= g_rng << 25;
    g_rng ^= g_rng >> 27;
    return (g_rng * 0x2545f4914f6cdd1dull) % n;
}

/* A random value: a number, a word, an escape (good or bad), raw bytes. */
static void random_value(char *buf, size_t cap)
{
    static const char *const pieces[] = {"0", "1", "3", "9", "10000", "10001", "-1", "live", "k0",
                                         "k1", "%", "%2", "%zz", "%41", "%00", "%ff", "+", "&",
                                         "=", "\xff", "18446744073709551616", "aggregate", ""};
    size_t n = 0;
    for (uint64_t k = rnd(4); k-- > 0 && n + 24 < cap;)
        n += (size_t)snprintf(buf + n, cap - n, "%s", pieces[rnd(sizeof pieces / sizeof *pieces)]);
    if (rnd(8) == 0 && n + 2 < cap) /* a byte that is not UTF-8 */
        buf[n++] = (char)(0x80 + rnd(0x80));
    buf[n] = '\0';
}

START_TEST(random_routes_and_queries_get_a_status_and_json)
{
    static const char *const routes[] = {"history", "status", "state/operators", "state/get",
                                         "state/scan", "snapshots", "wal", "diff", "",
                                         "state/", "history/", "../etc", "state/get/x"};
    static const char *const names[] = {"n", "op", "key", "prefix", "limit", "snapshot",
                                        "from", "a", "b", "x", ""};
    for (int i = 0; i < 1500; i++) {
        char query[512], value[128];
        size_t n = 0;
        for (uint64_t k = rnd(5); k-- > 0;) {
            random_value(value, sizeof value);
            n += (size_t)snprintf(query + n, sizeof query - n, "%s%s%s%s", n ? "&" : "",
                                  names[rnd(sizeof names / sizeof *names)], rnd(6) ? "=" : "",
                                  value);
        }
        query[n] = '\0';
        const char *route = routes[rnd(sizeof routes / sizeof *routes)];
        if (!strcmp(route, "snapshots") || !strcmp(route, "diff"))
            route = rnd(4) ? "history" : route; /* the slow ones (verification) less often */
        int status;
        json_t *j = api_in(g_ckpt, route, query, &status);
        ck_assert_msg(status == 200 || status == 400 || status == 404, "%s?%s: %d", route, query,
                      status);
        ck_assert(status == 200 || json_is_string(json_object_get(j, "error")));
        json_decref(j);
    }
}
END_TEST

/* Callers on several threads at once: each call opens what it reads. */
static void *reader(void *arg)
{
    static const char *const calls[][2] = {
        {"status", ""}, {"state/scan", "limit=5"}, {"history", "n=4"}, {"state/get", "key=k03"},
        {"wal", "limit=3"}, {"state/operators", ""}};
    intptr_t bad = 0;
    for (int i = 0; i < 30; i++) {
        text_buf out = {0};
        size_t c = (size_t)(i + (intptr_t)arg) % (sizeof calls / sizeof calls[0]);
        bad += ui_dir_api(g_ckpt, calls[c][0], calls[c][1], &out) != 200;
        text_free(&out);
    }
    return (void *)bad;
}

START_TEST(calls_from_several_threads_at_once)
{
    pthread_t t[4];
    for (intptr_t i = 0; i < 4; i++)
        ck_assert_int_eq(pthread_create(&t[i], NULL, reader, (void *)i), 0);
    for (int i = 0; i < 4; i++) {
        void *bad;
        pthread_join(t[i], &bad);
        ck_assert_int_eq((int)(intptr_t)bad, 0);
    }
}
END_TEST

START_TEST(an_error_keeps_what_out_held_before)
{
    text_buf out = {0};
    ck_assert_int_eq(text_append(&out, "HEAD", 4), 0);
    ck_assert_int_eq(ui_dir_api(g_ckpt, "history", "n=zero", &out), 400);
    ck_assert_int_eq(memcmp(out.data, "HEAD{\"error\"", 12), 0);
    text_free(&out);
}
END_TEST

/* An instance's DIR/instance.json comes back as written; a directory
 * without one is a 404 that says what it is not, a torn one a 500. */
START_TEST(instance_shows_the_tasks_of_instance_json)
{
    char dir[] = "/tmp/ember-test-instance-XXXXXX", path[128];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    text_buf out = {0};
    ck_assert_int_eq(ui_dir_api(dir, "instance", "", &out), 404);
    ck_assert_ptr_nonnull(strstr(out.data, "not the directory of an instance"));
    snprintf(path, sizeof path, "%s/instance.json", dir);
    FILE *f = fopen(path, "w");
    fputs("{\"instance\": \"a\", \"tasks\": [{\"task\": 3, \"phase\": \"restoring\", "
          "\"lag\": 17}]}\n", f);
    fclose(f);
    out.len = 0;
    ck_assert_int_eq(ui_dir_api(dir, "instance", "", &out), 200);
    json_t *j = json_loadb(out.data, out.len, 0, NULL);
    ck_assert_ptr_nonnull(j);
    json_t *t = json_array_get(json_object_get(j, "tasks"), 0);
    ck_assert_int_eq(json_integer_value(json_object_get(t, "task")), 3);
    ck_assert_str_eq(json_string_value(json_object_get(t, "phase")), "restoring");
    ck_assert_int_eq(json_integer_value(json_object_get(t, "lag")), 17);
    json_decref(j);
    f = fopen(path, "w");
    fputs("{\"instance\": ", f); /* cut */
    fclose(f);
    out.len = 0;
    ck_assert_int_eq(ui_dir_api(dir, "instance", "", &out), 500);
    text_free(&out);
    unlink(path);
    rmdir(dir);
}
END_TEST

/* ------------------------------------------------------ while the job runs */

static void *run_thread(void *arg)
{
    ember_job *job = arg;
    ember_err err = {0};
    ember_run_opts o = {0};
    return (void *)(intptr_t)ember_job_run(job, &o, &err);
}

START_TEST(status_works_while_the_job_runs)
{
    char dir[PATH_MAX + 16], ckpt[PATH_MAX + 32], path[PATH_MAX + 64];
    snprintf(dir, sizeof dir, "%s/live", g_tmp);
    snprintf(ckpt, sizeof ckpt, "%s/ckpt", dir);
    mkdir(dir, 0755);
    snprintf(path, sizeof path, "cp '%s/in.csv' '%s/in.csv'", g_tmp, dir);
    ck_assert_int_eq(system(path), 0);
    write_job(dir, ckpt, "");
    ember_set_log(quiet, NULL);
    ember_job *job = NULL;
    ember_err err = {0};
    snprintf(path, sizeof path, "%s/j.job", dir);
    ck_assert_msg(ember_job_load_file(path, &job, &err) == 0, "%s", err.msg);
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, run_thread, job), 0);
    /* the job keeps running (no --until-idle) and holds the lock */
    long batch = 0;
    for (int i = 0; i < 500 && batch < N_BATCHES; i++) {
        int status;
        json_t *j = api_in(ckpt, "status", NULL, &status);
        json_t *c = json_object_get(j, "committed");
        if (status == 200 && json_is_object(c))
            batch = jint(c, "batch");
        json_decref(j);
        usleep(20000);
    }
    ember_job_stop(job);
    void *rc;
    pthread_join(t, &rc);
    ember_job_free(job);
    ck_assert_int_eq((int)(intptr_t)rc, 0);
    ck_assert_int_ge(batch, N_BATCHES);
}
END_TEST

static Suite *dir_api_suite(void)
{
    Suite *s = suite_create("dir_api");
    TCase *tc = tcase_create("routes");
    tcase_add_unchecked_fixture(tc, make_checkpoint, remove_checkpoint);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, history_is_the_last_n_batches_of_progress_jsonl);
    tcase_add_test(tc, history_reads_the_rotated_file_first);
    tcase_add_test(tc, status_shows_the_commit_offsets_and_keys);
    tcase_add_test(tc, operators_count_the_keys);
    tcase_add_test(tc, get_decodes_one_key);
    tcase_add_test(tc, scan_lists_a_prefix_up_to_the_limit);
    tcase_add_test(tc, snapshots_list_the_kept_ones_verified);
    tcase_add_test(tc, wal_shows_plans_with_their_ranges);
    tcase_add_test(tc, diff_of_two_snapshots_matches_the_input);
    tcase_add_test(tc, bad_requests_get_4xx);
    tcase_add_test(tc, nothing_is_written_into_the_directory);
    tcase_add_test(tc, a_damaged_snapshot_is_reported_damaged);
    tcase_add_test(tc, random_routes_and_queries_get_a_status_and_json);
    tcase_add_test(tc, calls_from_several_threads_at_once);
    tcase_add_test(tc, an_error_keeps_what_out_held_before);
    tcase_add_test(tc, status_works_while_the_job_runs);
    tcase_add_test(tc, instance_shows_the_tasks_of_instance_json);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(dir_api_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
