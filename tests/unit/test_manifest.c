/* test_manifest: checkpoint/manifest.c — round trip, exact text format,
 * verification catching a changed byte, a size change, a missing file and
 * an extra file, and a damaged MANIFEST itself. */
#include "checkpoint/manifest.h"
#include "core/base/io.h"

#include <check.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

static char snap[128];

static const char *in_snap(const char *name)
{
    static char bufs[4][300];
    static int k;
    char *p = bufs[k++ % 4];
    snprintf(p, sizeof bufs[0], "%s/%s", snap, name);
    return p;
}

static void put_bytes(const char *name, const void *buf, size_t n)
{
    FILE *f = fopen(in_snap(name), "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(buf, 1, n, f), n);
    ck_assert_int_eq(fclose(f), 0);
}

static void put_text(const char *name, const char *text)
{
    put_bytes(name, text, strlen(text));
}

static char *get_text(const char *name, size_t *n)
{
    ember_err err = {0};
    char *buf;
    ck_assert_msg(io_read_file(in_snap(name), &buf, n, &err) == 0, "%s", err.msg);
    return buf;
}

static void setup(void)
{
    snprintf(snap, sizeof snap, "/tmp/ember_test_manifest.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(snap));
    ck_assert_int_eq(mkdir(in_snap("db"), 0755), 0);
    put_text("db/000012.sst", "sorted string table bytes");
    put_text("db/CURRENT", "MANIFEST-000005\n");
    put_text("db/OPTIONS-000007", "[Version]\n");
}

static void teardown(void)
{
    ember_err err = {0};
    ck_assert_int_eq(io_remove_tree(snap, &err), 0);
}

/* Collects, fills the other fields, writes; the caller frees *m. */
static void make_manifest(manifest *m)
{
    ember_err err = {0};
    static manifest_offset offs[2] = {{0, 1000}, {3, 18446744073709551615ull}};

    memset(m, 0, sizeof *m);
    ck_assert_msg(manifest_collect_files(snap, m, &err) == 0, "%s", err.msg);
    m->batch = 42;
    m->created_ms = 1700000000123ull;
    m->job_hash = 0x00ab00cd00ef0012ull;
    m->offsets = offs;
    m->n_offsets = 2;
    ck_assert_msg(manifest_write(snap, m, &err) == 0, "%s", err.msg);
    m->offsets = NULL; /* static: not ours to free */
    m->n_offsets = 0;
}

static void expect_verify_fails(const manifest *m, const char *needle)
{
    ember_err err = {0};
    int rc = manifest_verify_files(snap, m, &err);
    ck_assert_int_eq(rc, -EMBER_ECORRUPT);
    ck_assert_msg(strstr(err.msg, needle), "'%s' does not name %s", err.msg, needle);
}

/* ------------------------------------------------------------ round trip */

START_TEST(round_trip)
{
    ember_err err = {0};
    manifest w, r;

    make_manifest(&w);
    ck_assert_msg(manifest_read(snap, &r, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(r.batch, 42);
    ck_assert_uint_eq(r.created_ms, 1700000000123ull);
    ck_assert_uint_eq(r.job_hash, 0x00ab00cd00ef0012ull);
    ck_assert_uint_eq(r.n_offsets, 2);
    ck_assert_uint_eq(r.offsets[1].partition, 3);
    ck_assert_uint_eq(r.offsets[1].offset_end, 18446744073709551615ull);
    ck_assert_uint_eq(r.n_files, 3);
    for (size_t i = 0; i < 3; i++) {
        ck_assert_str_eq(r.files[i].path, w.files[i].path);
        ck_assert_uint_eq(r.files[i].bytes, w.files[i].bytes);
        ck_assert_uint_eq(r.files[i].xxh64, w.files[i].xxh64);
    }
    ck_assert_msg(manifest_verify_files(snap, &r, &err) == 0, "%s", err.msg);
    manifest_free(&w);
    manifest_free(&r);
}
END_TEST

/* The text is exactly the documented format (independent oracle: the
 * expected lines are built here with XXH64 of the raw bytes). */
START_TEST(text_format_is_exact)
{
    manifest m;
    char want[2048];
    size_t n;
    const char *sst = "sorted string table bytes";

    make_manifest(&m);
    int len = snprintf(want, sizeof want,
                       "ember-manifest 1\nbatch 42\ncreated_ms 1700000000123\n"
                       "job_hash 00ab00cd00ef0012\noffset 0 1000\n"
                       "offset 3 18446744073709551615\n"
                       "file db/000012.sst %zu %016" PRIx64 "\n"
                       "file db/CURRENT 16 %016" PRIx64 "\n"
                       "file db/OPTIONS-000007 10 %016" PRIx64 "\n",
                       strlen(sst), (uint64_t)XXH64(sst, strlen(sst), 0),
                       (uint64_t)XXH64("MANIFEST-000005\n", 16, 0),
                       (uint64_t)XXH64("[Version]\n", 10, 0));
    snprintf(want + len, sizeof want - (size_t)len, "checksum %016" PRIx64 "\n",
             (uint64_t)XXH64(want, (size_t)len, 0));
    char *got = get_text("MANIFEST", &n);
    ck_assert_str_eq(got, want);
    free(got);
    manifest_free(&m);
}
END_TEST

START_TEST(empty_db_and_nested_dirs)
{
    ember_err err = {0};
    manifest m, r;

    ck_assert_int_eq(io_remove_tree(in_snap("db"), &err), 0);
    ck_assert_int_eq(mkdir(in_snap("db"), 0755), 0);
    make_manifest(&m);
    ck_assert_uint_eq(m.n_files, 0);
    ck_assert_int_eq(manifest_read(snap, &r, &err), 0);
    ck_assert_int_eq(manifest_verify_files(snap, &r, &err), 0);
    manifest_free(&r);
    manifest_free(&m);

    ck_assert_int_eq(mkdir(in_snap("db/sub"), 0755), 0);
    put_text("db/sub/x", "x");
    make_manifest(&m);
    ck_assert_uint_eq(m.n_files, 1);
    ck_assert_str_eq(m.files[0].path, "db/sub/x");
    ck_assert_int_eq(manifest_verify_files(snap, &m, &err), 0);
    manifest_free(&m);
}
END_TEST

START_TEST(large_file_hash_streams)
{
    ember_err err = {0};
    size_t n = (3u << 20) + 12345;
    unsigned char *buf = malloc(n);
    manifest m;

    for (size_t i = 0; i < n; i++)
        buf[i] = (unsigned char)(i * 2654435761u >> 13);
    put_bytes("db/big.sst", buf, n);
    make_manifest(&m);
    ck_assert_str_eq(m.files[0].path, "db/000012.sst");
    ck_assert_str_eq(m.files[3].path, "db/big.sst");
    ck_assert_uint_eq(m.files[3].bytes, n);
    ck_assert_uint_eq(m.files[3].xxh64, XXH64(buf, n, 0));
    ck_assert_int_eq(manifest_verify_files(snap, &m, &err), 0);
    manifest_free(&m);
    free(buf);
}
END_TEST

/* ------------------------------------------------------------ verify */

START_TEST(changed_byte_fails_naming_file)
{
    manifest m;
    size_t n;

    make_manifest(&m);
    char *orig = get_text("db/000012.sst", &n);
    for (size_t i = 0; i < n; i++) {
        char *bad = strdup(orig);
        bad[i] ^= 0x01;
        put_bytes("db/000012.sst", bad, n);
        expect_verify_fails(&m, "db/000012.sst");
        free(bad);
    }
    free(orig);
    manifest_free(&m);
}
END_TEST

START_TEST(size_change_fails_naming_file)
{
    manifest m;
    make_manifest(&m);
    put_text("db/CURRENT", "MANIFEST-000005\n\n");
    expect_verify_fails(&m, "db/CURRENT");
    put_text("db/CURRENT", "MANIFEST");
    expect_verify_fails(&m, "db/CURRENT");
    manifest_free(&m);
}
END_TEST

START_TEST(missing_file_fails_naming_file)
{
    manifest m;
    make_manifest(&m);
    ck_assert_int_eq(unlink(in_snap("db/OPTIONS-000007")), 0);
    expect_verify_fails(&m, "db/OPTIONS-000007");
    manifest_free(&m);
}
END_TEST

START_TEST(extra_file_fails_naming_file)
{
    manifest m;
    make_manifest(&m);
    put_text("db/000099.log", "stray");
    expect_verify_fails(&m, "db/000099.log");
    manifest_free(&m);
}
END_TEST

/* ------------------------------------------------------------ damaged MANIFEST */

START_TEST(damaged_manifest_is_rejected)
{
    ember_err err = {0};
    manifest m, r;
    size_t n;

    make_manifest(&m);
    char *orig = get_text("MANIFEST", &n);
    for (size_t i = 0; i < n; i++) {
        char *bad = strdup(orig);
        bad[i] = bad[i] == '7' ? '8' : '7';
        put_bytes("MANIFEST", bad, n);
        ck_assert_msg(manifest_read(snap, &r, &err) == -EMBER_ECORRUPT, "byte %zu", i);
        ck_assert_ptr_nonnull(strstr(err.msg, "MANIFEST"));
        free(bad);
    }
    for (size_t cut = 0; cut < n; cut++) {
        put_bytes("MANIFEST", orig, cut);
        ck_assert_msg(manifest_read(snap, &r, &err) == -EMBER_ECORRUPT, "cut %zu", cut);
    }
    char *longer = malloc(n + 8);
    memcpy(longer, orig, n);
    memcpy(longer + n, "file x\n", 7);
    put_bytes("MANIFEST", longer, n + 7);
    ck_assert_int_eq(manifest_read(snap, &r, &err), -EMBER_ECORRUPT);
    free(longer);
    free(orig);
    manifest_free(&m);
}
END_TEST

/* Syntax errors with a valid checksum name the line. */
START_TEST(syntax_error_names_line)
{
    ember_err err = {0};
    manifest r;
    const char *body = "ember-manifest 1\nbatch 1\ncreated_ms 2\njob_hash 0000000000000003\n"
                       "offset 0 x\n";
    char text[512];
    int len = snprintf(text, sizeof text, "%schecksum %016" PRIx64 "\n", body,
                       (uint64_t)XXH64(body, strlen(body), 0));
    put_bytes("MANIFEST", text, (size_t)len);
    ck_assert_int_eq(manifest_read(snap, &r, &err), -EMBER_ECORRUPT);
    ck_assert_msg(strstr(err.msg, "MANIFEST:5:"), "%s", err.msg);
}
END_TEST

START_TEST(missing_manifest_is_an_error)
{
    ember_err err = {0};
    manifest r;
    ck_assert_int_eq(manifest_read(snap, &r, &err), -ENOENT);
    ck_assert_ptr_nonnull(strstr(err.msg, "MANIFEST"));
}
END_TEST

START_TEST(write_rejects_bad_paths)
{
    ember_err err = {0};
    manifest_file f = {.path = "../escape"};
    manifest m = {.files = &f, .n_files = 1};
    ck_assert_int_eq(manifest_write(snap, &m, &err), -EINVAL);
    f.path = "db/has space";
    ck_assert_int_eq(manifest_write(snap, &m, &err), -EINVAL);
}
END_TEST

static Suite *manifest_suite(void)
{
    Suite *s = suite_create("manifest");
    TCase *tc = tcase_create("manifest");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, round_trip);
    tcase_add_test(tc, text_format_is_exact);
    tcase_add_test(tc, empty_db_and_nested_dirs);
    tcase_add_test(tc, large_file_hash_streams);
    tcase_add_test(tc, changed_byte_fails_naming_file);
    tcase_add_test(tc, size_change_fails_naming_file);
    tcase_add_test(tc, missing_file_fails_naming_file);
    tcase_add_test(tc, extra_file_fails_naming_file);
    tcase_add_test(tc, damaged_manifest_is_rejected);
    tcase_add_test(tc, syntax_error_names_line);
    tcase_add_test(tc, missing_manifest_is_an_error);
    tcase_add_test(tc, write_rejects_bad_paths);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(manifest_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
