/*
 * test_snapshot: checkpoint/snapshot.c over a real store in a mkdtemp
 * checkpoint directory: create, list, verify, prune keep=K, restore and the
 * cleanup of interrupted operations. Oracles: the directory listing, the
 * MANIFEST text read here line by line, and key values read back from the
 * store (never snapshot.c's own view of itself).
 */
#include "checkpoint/snapshot.h"
#include "core/base/io.h"
#include "core/fault/failpoint.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char g_ck[64];  /* the checkpoint directory */
static char g_db[128]; /* its live db */
static store *g_st;
static const char *const OPS[] = {"state"};

static const char *path_in(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static const char *path_in(const char *fmt, ...)
{
    static char bufs[4][512];
    static int k;
    char *p = bufs[k++ % 4], rel[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rel, sizeof rel, fmt, ap);
    va_end(ap);
    snprintf(p, sizeof bufs[0], "%s/%s", g_ck, rel);
    return p;
}

static void open_live(void)
{
    store_opts o = {0};
    ember_err err = {0};
    ck_assert_msg(store_open(g_db, OPS, 1, &o, &g_st, &err) == 0, "%s", err.msg);
}

static void close_live(void)
{
    store_close(g_st);
    g_st = NULL;
}

static void setup(void)
{
    strcpy(g_ck, "/tmp/ember-test-snapshot-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(g_ck));
    snprintf(g_db, sizeof g_db, "%s/db", g_ck);
    open_live();
}

static void teardown(void)
{
    ember_err err = {0};
    fp_disarm_all();
    if (g_st)
        close_live();
    ck_assert_int_eq(io_remove_tree(g_ck, &err), 0);
}

static void put(const char *k, const char *v)
{
    ember_err err = {0};
    store_batch *wb = store_batch_new();
    store_batch_put(wb, g_st, 1, k, strlen(k), v, strlen(v));
    ck_assert_msg(store_write(g_st, wb, 1, &err) == 0, "%s", err.msg);
    store_batch_free(wb);
}

/* The value of k in the live store as a string; NULL when absent. */
static char *get(const char *k)
{
    ember_err err = {0};
    char *v = NULL, *s;
    size_t n = 0;
    int rc = store_get(g_st, 1, k, strlen(k), &v, &n, &err);
    if (rc == -ENOENT)
        return NULL;
    ck_assert_msg(rc == 0, "%s", err.msg);
    s = strndup(v, n);
    free(v);
    return s;
}

static void assert_get(const char *k, const char *want)
{
    char *got = get(k);
    ck_assert_msg(got && strcmp(got, want) == 0, "%s = %s, expected %s", k, got ? got : "(absent)",
                  want);
    free(got);
}

static void create(uint64_t batch)
{
    ember_err err = {0};
    src_range ends[2] = {{0, 0, batch * 10}, {1, 0, batch * 10 + 1}};
    ck_assert_msg(
        snap_create(g_ck, g_st, batch, 1700000000000ull + batch, ends, 2, 0xfeedull, &err) == 0,
        "%s", err.msg);
}

static int exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* Names in DIR/snapshots, sorted, joined by spaces. */
static void listing(char *out, size_t cap)
{
    char names[32][64];
    int n = 0;
    DIR *d = opendir(path_in("snapshots"));
    ck_assert_ptr_nonnull(d);
    for (struct dirent *e; (e = readdir(d)) && n < 32;)
        if (e->d_name[0] != '.' || (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")))
            snprintf(names[n++], sizeof names[0], "%s", e->d_name);
    closedir(d);
    qsort(names, (size_t)n, sizeof names[0], (int (*)(const void *, const void *))strcmp);
    out[0] = '\0';
    for (int i = 0; i < n; i++)
        snprintf(out + strlen(out), cap - strlen(out), "%s%s", i ? " " : "", names[i]);
}

static void assert_list(const uint64_t *want, size_t n_want)
{
    ember_err err = {0};
    uint64_t *b = NULL;
    size_t n = 99;
    ck_assert_msg(snap_list(g_ck, &b, &n, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(n, n_want);
    for (size_t i = 0; i < n; i++)
        ck_assert_uint_eq(b[i], want[i]);
    free(b);
}

/* The first db file of snapshot `batch` whose name ends in suffix. */
static void snap_file(uint64_t batch, const char *suffix, char *out, size_t cap)
{
    const char *db = path_in("snapshots/%020" PRIu64 "/db", batch);
    DIR *d = opendir(db);
    ck_assert_ptr_nonnull(d);
    out[0] = '\0';
    for (struct dirent *e; (e = readdir(d));) {
        size_t n = strlen(e->d_name), m = strlen(suffix);
        if (n >= m && strcmp(e->d_name + n - m, suffix) == 0 && e->d_name[0] != '.') {
            snprintf(out, cap, "%s", e->d_name);
            break;
        }
    }
    closedir(d);
    ck_assert_msg(out[0], "snapshot %" PRIu64 " has no *%s file", batch, suffix);
}

static void expect_verify_fails(uint64_t batch, int code, const char *needle)
{
    ember_err err = {0};
    ck_assert_int_eq(snap_verify(g_ck, batch, NULL, &err), code);
    ck_assert_msg(strstr(err.msg, needle), "'%s' does not name %s", err.msg, needle);
}

/* ------------------------------------------------------------ create, list */

START_TEST(path_is_twenty_digits_under_snapshots)
{
    char p[256];
    snap_path(p, sizeof p, "/x/ck", 42);
    ck_assert_str_eq(p, "/x/ck/snapshots/00000000000000000042");
}
END_TEST

START_TEST(create_leaves_one_complete_directory)
{
    char names[512];
    put("a", "1");
    create(3);
    listing(names, sizeof names);
    ck_assert_str_eq(names, "00000000000000000003"); /* no .tmp- left behind */
    ck_assert(exists(path_in("snapshots/00000000000000000003/MANIFEST")));
    ck_assert(exists(path_in("snapshots/00000000000000000003/db/CURRENT")));
}
END_TEST

START_TEST(manifest_records_batch_time_hash_and_offsets)
{
    ember_err err = {0};
    char *text;
    size_t n;
    create(5);
    ck_assert_int_eq(
        io_read_file(path_in("snapshots/00000000000000000005/MANIFEST"), &text, &n, &err), 0);
    ck_assert_msg(strstr(text, "ember-manifest 1\nbatch 5\ncreated_ms 1700000000005\n"
                               "job_hash 000000000000feed\noffset 0 50\noffset 1 51\n"),
                  "%s", text);
    ck_assert_ptr_nonnull(strstr(text, "\nfile db/CURRENT "));
    free(text);
}
END_TEST

START_TEST(verify_accepts_a_fresh_snapshot_and_fills_the_manifest)
{
    ember_err err = {0};
    manifest m;
    put("a", "1");
    create(2);
    ck_assert_msg(snap_verify(g_ck, 2, &m, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(m.batch, 2);
    ck_assert_uint_eq(m.created_ms, 1700000000002ull);
    ck_assert_uint_eq(m.job_hash, 0xfeed);
    ck_assert_uint_eq(m.n_offsets, 2);
    ck_assert_uint_eq(m.offsets[1].partition, 1);
    ck_assert_uint_eq(m.offsets[1].offset_end, 21);
    ck_assert_uint_gt(m.n_files, 0);
    manifest_free(&m);
}
END_TEST

START_TEST(list_without_snapshots_dir_is_empty)
{
    assert_list(NULL, 0);
}
END_TEST

START_TEST(list_is_ascending_and_ignores_other_names)
{
    create(12);
    create(3);
    create(100);
    ck_assert_int_eq(mkdir(path_in("snapshots/.tmp-00000000000000000200"), 0755), 0);
    ck_assert_int_eq(mkdir(path_in("snapshots/.del-00000000000000000001"), 0755), 0);
    ck_assert_int_eq(mkdir(path_in("snapshots/0000000000000000007"), 0755), 0); /* 19 digits */
    ck_assert_int_eq(mkdir(path_in("snapshots/0000000000000000007x"), 0755), 0);
    uint64_t want[3] = {3, 12, 100};
    assert_list(want, 3);
}
END_TEST

/* A replayed batch snapshots again: the new one replaces the old. */
START_TEST(create_again_replaces_the_snapshot)
{
    ember_err err = {0};
    manifest m;
    put("a", "1");
    create(4);
    put("b", "2");
    src_range ends[1] = {{0, 0, 999}};
    ck_assert_int_eq(snap_create(g_ck, g_st, 4, 77, ends, 1, 0xfeedull, &err), 0);
    ck_assert_msg(snap_verify(g_ck, 4, &m, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(m.created_ms, 77);
    ck_assert_uint_eq(m.offsets[0].offset_end, 999);
    manifest_free(&m);
    uint64_t want[1] = {4};
    assert_list(want, 1);
}
END_TEST

START_TEST(failed_create_leaves_no_visible_snapshot)
{
    ember_err err = {0};
    char names[512];
    create(1);
    ck_assert_int_eq(fp_arm("snapshot.before_rename=error", &err), 0);
    ck_assert_int_lt(snap_create(g_ck, g_st, 2, 0, NULL, 0, 0xfeedull, &err), 0);
    ck_assert_msg(strstr(err.msg, "snapshot 2"), "%s", err.msg);
    fp_disarm_all();
    uint64_t want[1] = {1};
    assert_list(want, 1);
    ck_assert_int_eq(snap_cleanup(g_ck, &err), 0);
    listing(names, sizeof names);
    ck_assert_str_eq(names, "00000000000000000001");
}
END_TEST

/* ------------------------------------------------------------ verify */

START_TEST(flipped_byte_fails_verify_naming_the_file)
{
    char name[256], rel[300];
    put("k", "some value to make an sst");
    create(6);
    snap_file(6, "CURRENT", name, sizeof name);
    const char *p = path_in("snapshots/00000000000000000006/db/%s", name);
    FILE *f = fopen(p, "r+b");
    ck_assert_ptr_nonnull(f);
    int c = fgetc(f);
    ck_assert_int_ne(c, EOF);
    ck_assert_int_eq(fseek(f, 0, SEEK_SET), 0);
    fputc(c ^ 0x20, f);
    ck_assert_int_eq(fclose(f), 0);
    snprintf(rel, sizeof rel, "db/%s", name);
    expect_verify_fails(6, -EMBER_ECORRUPT, rel);
}
END_TEST

START_TEST(missing_file_fails_verify_naming_the_file)
{
    char name[256], rel[300];
    create(7);
    snap_file(7, "CURRENT", name, sizeof name);
    ck_assert_int_eq(unlink(path_in("snapshots/00000000000000000007/db/%s", name)), 0);
    snprintf(rel, sizeof rel, "db/%s", name);
    expect_verify_fails(7, -EMBER_ECORRUPT, rel);
}
END_TEST

START_TEST(missing_manifest_fails_verify)
{
    create(8);
    ck_assert_int_eq(unlink(path_in("snapshots/00000000000000000008/MANIFEST")), 0);
    expect_verify_fails(8, -ENOENT, "MANIFEST");
}
END_TEST

/* A snapshot directory renamed to another batch is not that batch. */
START_TEST(manifest_of_another_batch_fails_verify)
{
    create(9);
    ck_assert_int_eq(rename(path_in("snapshots/00000000000000000009"),
                            path_in("snapshots/00000000000000000010")),
                     0);
    expect_verify_fails(10, -EMBER_ECORRUPT, "says batch 9");
}
END_TEST

START_TEST(verify_of_an_absent_snapshot_fails)
{
    ember_err err = {0};
    ck_assert_int_lt(snap_verify(g_ck, 11, NULL, &err), 0);
    ck_assert_msg(strstr(err.msg, "00000000000000000011"), "%s", err.msg);
}
END_TEST

/* ------------------------------------------------------------ prune */

static void create_batches(const uint64_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        create(b[i]);
}

START_TEST(prune_keeps_the_newest_k)
{
    ember_err err = {0};
    uint64_t made[5] = {2, 4, 6, 8, 10}, oldest = 0;
    char names[512];
    create_batches(made, 5);
    ck_assert_msg(snap_prune(g_ck, 2, &oldest, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(oldest, 8);
    uint64_t want[2] = {8, 10};
    assert_list(want, 2);
    listing(names, sizeof names);
    ck_assert_str_eq(names, "00000000000000000008 00000000000000000010"); /* no .del- left */
}
END_TEST

START_TEST(prune_with_fewer_than_k_deletes_nothing)
{
    ember_err err = {0};
    uint64_t made[2] = {3, 5}, oldest = 0;
    create_batches(made, 2);
    ck_assert_int_eq(snap_prune(g_ck, 3, &oldest, &err), 0);
    ck_assert_uint_eq(oldest, 3);
    assert_list(made, 2);
    ck_assert_int_eq(snap_prune(g_ck, 2, &oldest, &err), 0); /* exactly K */
    ck_assert_uint_eq(oldest, 3);
    assert_list(made, 2);
}
END_TEST

START_TEST(prune_keep_zero_deletes_all)
{
    ember_err err = {0};
    uint64_t made[3] = {1, 2, 3}, oldest = 99;
    create_batches(made, 3);
    ck_assert_int_eq(snap_prune(g_ck, 0, &oldest, &err), 0);
    ck_assert_uint_eq(oldest, 0);
    assert_list(NULL, 0);
}
END_TEST

START_TEST(prune_of_nothing_reports_none_kept)
{
    ember_err err = {0};
    uint64_t oldest = 99;
    ck_assert_int_eq(snap_prune(g_ck, 2, &oldest, &err), 0);
    ck_assert_uint_eq(oldest, 0);
}
END_TEST

/* Numeric order, not creation order, decides which are newest. */
START_TEST(prune_orders_by_batch_not_by_creation)
{
    ember_err err = {0};
    uint64_t made[4] = {30, 9, 100, 11}, oldest = 0;
    create_batches(made, 4);
    ck_assert_int_eq(snap_prune(g_ck, 2, &oldest, &err), 0);
    ck_assert_uint_eq(oldest, 30);
    uint64_t want[2] = {30, 100};
    assert_list(want, 2);
}
END_TEST

START_TEST(kept_snapshots_still_verify_after_prune)
{
    ember_err err = {0};
    uint64_t made[4] = {1, 2, 3, 4}, oldest;
    put("a", "1");
    create_batches(made, 4);
    ck_assert_int_eq(snap_prune(g_ck, 2, &oldest, &err), 0);
    ck_assert_msg(snap_verify(g_ck, 3, NULL, &err) == 0, "%s", err.msg);
    ck_assert_msg(snap_verify(g_ck, 4, NULL, &err) == 0, "%s", err.msg);
}
END_TEST

/* ------------------------------------------------------------ restore */

START_TEST(restore_brings_back_the_snapshots_state)
{
    ember_err err = {0};
    put("a", "1");
    put("b", "1");
    create(1);
    put("a", "2");
    put("c", "new");
    close_live();
    ck_assert_msg(snap_restore(g_ck, 1, &err) == 0, "%s", err.msg);
    open_live();
    assert_get("a", "1");
    assert_get("b", "1");
    ck_assert_ptr_null(get("c"));
    ck_assert(!exists(path_in("db.old")));
    ck_assert(!exists(path_in("db.restoring")));
}
END_TEST

START_TEST(restore_without_live_state_works)
{
    ember_err err = {0};
    put("a", "1");
    create(1);
    close_live();
    ck_assert_int_eq(io_remove_tree(g_db, &err), 0);
    ck_assert_msg(snap_restore(g_ck, 1, &err) == 0, "%s", err.msg);
    open_live();
    assert_get("a", "1");
}
END_TEST

/* The restored db is a copy: writing to it leaves the snapshot intact. */
START_TEST(restored_state_is_independent_of_the_snapshot)
{
    ember_err err = {0};
    put("a", "1");
    create(1);
    close_live();
    ck_assert_int_eq(snap_restore(g_ck, 1, &err), 0);
    open_live();
    for (int i = 0; i < 200; i++)
        put("a", "changed after restore");
    close_live();
    ck_assert_msg(snap_verify(g_ck, 1, NULL, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(snap_restore(g_ck, 1, &err), 0);
    open_live();
    assert_get("a", "1");
}
END_TEST

START_TEST(restore_of_an_absent_snapshot_keeps_the_live_state)
{
    ember_err err = {0};
    put("a", "live");
    close_live();
    ck_assert_int_lt(snap_restore(g_ck, 5, &err), 0);
    ck_assert_msg(strstr(err.msg, "restore of snapshot 5"), "%s", err.msg);
    open_live();
    assert_get("a", "live");
}
END_TEST

/* ------------------------------------------------------------ cleanup */

START_TEST(cleanup_removes_interrupted_operations_only)
{
    ember_err err = {0};
    char names[512];
    create(1);
    ck_assert_int_eq(mkdir(path_in("snapshots/.tmp-00000000000000000002"), 0755), 0);
    ck_assert_int_eq(mkdir(path_in("snapshots/.del-00000000000000000000"), 0755), 0);
    ck_assert_int_eq(mkdir(path_in("db.restoring"), 0755), 0);
    ck_assert_int_eq(snap_cleanup(g_ck, &err), 0);
    listing(names, sizeof names);
    ck_assert_str_eq(names, "00000000000000000001");
    ck_assert(!exists(path_in("db.restoring")));
    ck_assert(exists(g_db));
}
END_TEST

static Suite *snapshot_suite(void)
{
    Suite *s = suite_create("snapshot");
    TCase *c = tcase_create("create");
    tcase_add_checked_fixture(c, setup, teardown);
    tcase_add_test(c, path_is_twenty_digits_under_snapshots);
    tcase_add_test(c, create_leaves_one_complete_directory);
    tcase_add_test(c, manifest_records_batch_time_hash_and_offsets);
    tcase_add_test(c, verify_accepts_a_fresh_snapshot_and_fills_the_manifest);
    tcase_add_test(c, list_without_snapshots_dir_is_empty);
    tcase_add_test(c, list_is_ascending_and_ignores_other_names);
    tcase_add_test(c, create_again_replaces_the_snapshot);
    tcase_add_test(c, failed_create_leaves_no_visible_snapshot);
    suite_add_tcase(s, c);

    TCase *v = tcase_create("verify");
    tcase_add_checked_fixture(v, setup, teardown);
    tcase_add_test(v, flipped_byte_fails_verify_naming_the_file);
    tcase_add_test(v, missing_file_fails_verify_naming_the_file);
    tcase_add_test(v, missing_manifest_fails_verify);
    tcase_add_test(v, manifest_of_another_batch_fails_verify);
    tcase_add_test(v, verify_of_an_absent_snapshot_fails);
    suite_add_tcase(s, v);

    TCase *p = tcase_create("prune");
    tcase_add_checked_fixture(p, setup, teardown);
    tcase_add_test(p, prune_keeps_the_newest_k);
    tcase_add_test(p, prune_with_fewer_than_k_deletes_nothing);
    tcase_add_test(p, prune_keep_zero_deletes_all);
    tcase_add_test(p, prune_of_nothing_reports_none_kept);
    tcase_add_test(p, prune_orders_by_batch_not_by_creation);
    tcase_add_test(p, kept_snapshots_still_verify_after_prune);
    suite_add_tcase(s, p);

    TCase *r = tcase_create("restore");
    tcase_add_checked_fixture(r, setup, teardown);
    tcase_add_test(r, restore_brings_back_the_snapshots_state);
    tcase_add_test(r, restore_without_live_state_works);
    tcase_add_test(r, restored_state_is_independent_of_the_snapshot);
    tcase_add_test(r, restore_of_an_absent_snapshot_keeps_the_live_state);
    tcase_add_test(r, cleanup_removes_interrupted_operations_only);
    suite_add_tcase(s, r);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(snapshot_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
