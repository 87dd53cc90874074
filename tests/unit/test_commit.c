/*
 * test_commit: checkpoint/commit.c against a real store in a mkdtemp
 * directory. The commit record round-trips; its bytes, the offset keys and
 * the sink marker are exactly the layout commit.h documents (expected bytes
 * written out by hand here); a damaged or short value is refused; offsets of
 * partitions a later commit does not mention are kept.
 */
#include "checkpoint/commit.h"
#include "core/base/io.h"

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char g_tmp[64];
static char g_db[128];

static void setup(void)
{
    strcpy(g_tmp, "/tmp/ember-test-commit-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(g_tmp));
    snprintf(g_db, sizeof g_db, "%s/db", g_tmp);
}

static void teardown(void)
{
    ember_err err = {0};
    ck_assert_int_eq(io_remove_tree(g_tmp, &err), 0);
}

static store *open_store(void)
{
    store_opts o = {0};
    ember_err err = {0};
    store *s = NULL;
    ck_assert_msg(store_open(g_db, NULL, 0, &o, &s, &err) == 0, "%s", err.msg);
    return s;
}

static void write_commit(store *s, const commit_record *c)
{
    ember_err err = {0};
    store_batch *wb = store_batch_new();
    ck_assert_ptr_nonnull(wb);
    commit_put(wb, s, c);
    ck_assert_msg(store_write(s, wb, 1, &err) == 0, "%s", err.msg);
    store_batch_free(wb);
}

/* Puts raw bytes under a meta key (to damage what commit_put wrote). */
static void put_meta(store *s, const char *key, const void *v, size_t n)
{
    ember_err err = {0};
    store_batch *wb = store_batch_new();
    store_batch_put(wb, s, STORE_META, key, strlen(key), v, n);
    ck_assert_msg(store_write(s, wb, 1, &err) == 0, "%s", err.msg);
    store_batch_free(wb);
}

/* The raw value of a meta key; ck fails when absent. */
static char *get_meta(store *s, const char *key, size_t *n)
{
    ember_err err = {0};
    char *v = NULL;
    ck_assert_msg(store_get(s, STORE_META, key, strlen(key), &v, n, &err) == 0, "%s: %s", key,
                  err.msg);
    return v;
}

static commit_record sample(src_range *ends, size_t n)
{
    commit_record c = {.batch = 7,
                       .batch_time_ms = 1700000000123ull,
                       .job_hash = 0x0123456789abcdefull,
                       .dead_letter_bytes = 4096,
                       .records_total = 123456,
                       .ends = ends,
                       .n_ends = n,
                       .sink_batch = 7};
    strcpy(c.sink_kind, "file");
    return c;
}

/* ------------------------------------------------------------ round trip */

START_TEST(nothing_committed_is_enoent)
{
    store *s = open_store();
    commit_record c;
    ember_err err = {0};
    ck_assert_int_eq(commit_read(s, &c, &err), -ENOENT);
    ck_assert_ptr_null(c.ends);
    store_close(s);
}
END_TEST

START_TEST(record_round_trips)
{
    src_range ends[3] = {{0, 0, 100}, {1, 0, 250}, {4, 0, 9}};
    commit_record w = sample(ends, 3), r;
    ember_err err = {0};
    store *s = open_store();
    write_commit(s, &w);
    ck_assert_msg(commit_read(s, &r, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(r.batch, 7);
    ck_assert_uint_eq(r.batch_time_ms, 1700000000123ull);
    ck_assert_uint_eq(r.job_hash, 0x0123456789abcdefull);
    ck_assert_uint_eq(r.dead_letter_bytes, 4096);
    ck_assert_uint_eq(r.records_total, 123456);
    ck_assert_str_eq(r.sink_kind, "file");
    ck_assert_uint_eq(r.sink_batch, 7);
    ck_assert_uint_eq(r.n_ends, 3);
    uint32_t parts[3] = {0, 1, 4};
    uint64_t to[3] = {100, 250, 9};
    for (int i = 0; i < 3; i++) {
        ck_assert_uint_eq(r.ends[i].partition, parts[i]);
        ck_assert_uint_eq(r.ends[i].to, to[i]);
        ck_assert_uint_eq(r.ends[i].from, to[i]); /* read back as an empty range at the end */
    }
    commit_free(&r);
    ck_assert_ptr_null(r.ends);
    ck_assert_uint_eq(r.n_ends, 0);
    store_close(s);
}
END_TEST

START_TEST(largest_values_round_trip)
{
    src_range ends[1] = {{4294967295u, 0, UINT64_MAX}};
    commit_record w = sample(ends, 1), r;
    ember_err err = {0};
    w.batch = w.batch_time_ms = w.job_hash = w.dead_letter_bytes = w.records_total = UINT64_MAX;
    w.sink_batch = UINT64_MAX;
    store *s = open_store();
    write_commit(s, &w);
    ck_assert_msg(commit_read(s, &r, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(r.batch, UINT64_MAX);
    ck_assert_uint_eq(r.batch_time_ms, UINT64_MAX);
    ck_assert_uint_eq(r.job_hash, UINT64_MAX);
    ck_assert_uint_eq(r.dead_letter_bytes, UINT64_MAX);
    ck_assert_uint_eq(r.records_total, UINT64_MAX);
    ck_assert_uint_eq(r.sink_batch, UINT64_MAX);
    ck_assert_uint_eq(r.n_ends, 1);
    ck_assert_uint_eq(r.ends[0].partition, 4294967295u);
    ck_assert_uint_eq(r.ends[0].to, UINT64_MAX);
    commit_free(&r);
    store_close(s);
}
END_TEST

START_TEST(survives_reopen)
{
    src_range ends[1] = {{2, 0, 77}};
    commit_record w = sample(ends, 1), r;
    ember_err err = {0};
    store *s = open_store();
    write_commit(s, &w);
    store_close(s);
    s = open_store();
    ck_assert_msg(commit_read(s, &r, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(r.batch, 7);
    ck_assert_uint_eq(r.n_ends, 1);
    ck_assert_uint_eq(r.ends[0].to, 77);
    commit_free(&r);
    store_close(s);
}
END_TEST

START_TEST(no_sink_kind_writes_no_marker)
{
    commit_record w = sample(NULL, 0), r;
    ember_err err = {0};
    w.sink_kind[0] = '\0';
    store *s = open_store();
    write_commit(s, &w);
    ck_assert_msg(commit_read(s, &r, &err) == 0, "%s", err.msg);
    ck_assert_str_eq(r.sink_kind, "");
    ck_assert_uint_eq(r.sink_batch, 0);
    ck_assert_uint_eq(r.n_ends, 0);
    commit_free(&r);
    store_close(s);
}
END_TEST

/* ------------------------------------------------------------ layout */

/* The 41 bytes documented in commit.h, spelled out little-endian by hand. */
START_TEST(record_bytes_are_the_documented_layout)
{
    commit_record w = sample(NULL, 0);
    w.batch = 0x0102030405060708ull;
    w.batch_time_ms = 0x1112131415161718ull;
    w.job_hash = 0x2122232425262728ull;
    w.dead_letter_bytes = 0x3132333435363738ull;
    w.records_total = 0x4142434445464748ull;
    static const unsigned char want[41] = {
        1,                                              /* version */
        0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01, /* batch */
        0x18, 0x17, 0x16, 0x15, 0x14, 0x13, 0x12, 0x11, /* batch_time_ms */
        0x28, 0x27, 0x26, 0x25, 0x24, 0x23, 0x22, 0x21, /* job_hash */
        0x38, 0x37, 0x36, 0x35, 0x34, 0x33, 0x32, 0x31, /* dead_letter_bytes */
        0x48, 0x47, 0x46, 0x45, 0x44, 0x43, 0x42, 0x41, /* records_total */
    };
    store *s = open_store();
    write_commit(s, &w);
    size_t n;
    char *v = get_meta(s, "commit", &n);
    ck_assert_uint_eq(n, sizeof want);
    ck_assert_mem_eq(v, want, sizeof want);
    free(v);
    store_close(s);
}
END_TEST

START_TEST(offset_keys_are_ten_digits_with_le_values)
{
    src_range ends[2] = {{3, 0, 0x0a0b0c0dull}, {4000000000u, 0, 1}};
    commit_record w = sample(ends, 2);
    store *s = open_store();
    write_commit(s, &w);
    size_t n;
    char *v = get_meta(s, "offset/0000000003", &n);
    ck_assert_uint_eq(n, 8);
    ck_assert_mem_eq(v, "\x0d\x0c\x0b\x0a\0\0\0\0", 8);
    free(v);
    v = get_meta(s, "offset/4000000000", &n);
    ck_assert_mem_eq(v, "\x01\0\0\0\0\0\0\0", 8);
    free(v);
    store_close(s);
}
END_TEST

START_TEST(sink_marker_key_names_the_kind)
{
    commit_record w = sample(NULL, 0);
    strcpy(w.sink_kind, "kafka");
    w.sink_batch = 0x0201;
    store *s = open_store();
    write_commit(s, &w);
    size_t n;
    char *v = get_meta(s, "sink/kafka", &n);
    ck_assert_uint_eq(n, 8);
    ck_assert_mem_eq(v, "\x01\x02\0\0\0\0\0\0", 8);
    free(v);
    store_close(s);
}
END_TEST

/* Partition 10 sorts after 2: the zero padding keeps numeric order. */
START_TEST(offsets_read_in_partition_order)
{
    src_range ends[3] = {{10, 0, 1000}, {2, 0, 200}, {0, 0, 5}};
    commit_record w = sample(ends, 3), r;
    ember_err err = {0};
    store *s = open_store();
    write_commit(s, &w);
    ck_assert_msg(commit_read(s, &r, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(r.n_ends, 3);
    ck_assert_uint_eq(r.ends[0].partition, 0);
    ck_assert_uint_eq(r.ends[1].partition, 2);
    ck_assert_uint_eq(r.ends[2].partition, 10);
    ck_assert_uint_eq(r.ends[2].to, 1000);
    commit_free(&r);
    store_close(s);
}
END_TEST

/* A source that planned only some partitions commits only those: the
 * others keep their committed end. */
START_TEST(offsets_of_unmentioned_partitions_are_kept)
{
    src_range first[3] = {{0, 0, 10}, {1, 0, 20}, {2, 0, 30}};
    src_range second[1] = {{1, 20, 25}};
    commit_record w = sample(first, 3), r;
    ember_err err = {0};
    store *s = open_store();
    write_commit(s, &w);
    w = sample(second, 1);
    w.batch = 8;
    write_commit(s, &w);
    ck_assert_msg(commit_read(s, &r, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(r.batch, 8);
    ck_assert_uint_eq(r.n_ends, 3);
    ck_assert_uint_eq(r.ends[0].to, 10);
    ck_assert_uint_eq(r.ends[1].to, 25);
    ck_assert_uint_eq(r.ends[2].to, 30);
    commit_free(&r);
    store_close(s);
}
END_TEST

/* More partitions than the reader's first allocation (it grows). */
START_TEST(many_partitions_round_trip)
{
    enum { N = 100 };
    src_range ends[N];
    for (uint32_t i = 0; i < N; i++)
        ends[i] = (src_range){i, 0, (uint64_t)i * 1000 + 1};
    commit_record w = sample(ends, N), r;
    ember_err err = {0};
    store *s = open_store();
    write_commit(s, &w);
    ck_assert_msg(commit_read(s, &r, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(r.n_ends, N);
    for (uint32_t i = 0; i < N; i++) {
        ck_assert_uint_eq(r.ends[i].partition, i);
        ck_assert_uint_eq(r.ends[i].to, (uint64_t)i * 1000 + 1);
    }
    commit_free(&r);
    store_close(s);
}
END_TEST

/* ------------------------------------------------------------ damage */

static void expect_corrupt(store *s, const char *needle)
{
    commit_record r;
    ember_err err = {0};
    ck_assert_int_eq(commit_read(s, &r, &err), -EMBER_ECORRUPT);
    ck_assert_msg(strstr(err.msg, needle), "'%s' does not say '%s'", err.msg, needle);
    commit_free(&r);
}

START_TEST(short_or_long_record_is_corrupt)
{
    commit_record w = sample(NULL, 0);
    store *s = open_store();
    write_commit(s, &w);
    size_t n;
    char *v = get_meta(s, "commit", &n);
    for (size_t len = 0; len < n; len++) {
        put_meta(s, "commit", v, len);
        expect_corrupt(s, "commit record");
    }
    char longer[42];
    memcpy(longer, v, n);
    longer[41] = 0;
    put_meta(s, "commit", longer, 42);
    expect_corrupt(s, "42 bytes");
    free(v);
    store_close(s);
}
END_TEST

START_TEST(unknown_version_is_corrupt)
{
    commit_record w = sample(NULL, 0);
    store *s = open_store();
    write_commit(s, &w);
    size_t n;
    char *v = get_meta(s, "commit", &n);
    v[0] = 2;
    put_meta(s, "commit", v, n);
    expect_corrupt(s, "version 2");
    v[0] = 0;
    put_meta(s, "commit", v, n);
    expect_corrupt(s, "version 0");
    free(v);
    store_close(s);
}
END_TEST

START_TEST(offset_of_wrong_width_is_corrupt)
{
    src_range ends[1] = {{0, 0, 10}};
    commit_record w = sample(ends, 1);
    store *s = open_store();
    write_commit(s, &w);
    put_meta(s, "offset/0000000001", "\x01\x02\x03\x04\x05\x06\x07", 7);
    expect_corrupt(s, "offset");
    put_meta(s, "offset/0000000001", "\x01\x02\x03\x04\x05\x06\x07\x08\x09", 9);
    expect_corrupt(s, "offset");
    store_close(s);
}
END_TEST

START_TEST(offset_key_without_partition_is_corrupt)
{
    commit_record w = sample(NULL, 0);
    store *s = open_store();
    write_commit(s, &w);
    put_meta(s, "offset/", "\0\0\0\0\0\0\0\0", 8);
    expect_corrupt(s, "offset");
    store_close(s);
}
END_TEST

static Suite *commit_suite(void)
{
    Suite *s = suite_create("commit");
    TCase *tc = tcase_create("commit");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, nothing_committed_is_enoent);
    tcase_add_test(tc, record_round_trips);
    tcase_add_test(tc, largest_values_round_trip);
    tcase_add_test(tc, survives_reopen);
    tcase_add_test(tc, no_sink_kind_writes_no_marker);
    tcase_add_test(tc, record_bytes_are_the_documented_layout);
    tcase_add_test(tc, offset_keys_are_ten_digits_with_le_values);
    tcase_add_test(tc, sink_marker_key_names_the_kind);
    tcase_add_test(tc, offsets_read_in_partition_order);
    tcase_add_test(tc, offsets_of_unmentioned_partitions_are_kept);
    tcase_add_test(tc, many_partitions_round_trip);
    tcase_add_test(tc, short_or_long_record_is_corrupt);
    tcase_add_test(tc, unknown_version_is_corrupt);
    tcase_add_test(tc, offset_of_wrong_width_is_corrupt);
    tcase_add_test(tc, offset_key_without_partition_is_corrupt);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(commit_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
