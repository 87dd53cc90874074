/*
 * test_table: state/table.c, the static side of a stream-static join, over a
 * real store and CSV files written here: lookups with typed fields, the
 * errors that name the file and line, the stored copy that recovery joins
 * against (not the file as it is now), and refresh between batches.
 * Oracles: the CSV text itself, and for the stored copy the column family
 * and meta keys read back raw, with the file hash computed here by XXH64.
 */
#include "core/base/io.h"
#include "state/table.h"

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

#define CF 1

static char g_tmp[64];
static char g_csv[128];
static store *g_st;
static join_table *g_t;

static const char PEOPLE[] = "id,name,score,city\n"
                             "1,alice,10,paris\n"
                             "2,bob,20,rome\n"
                             "10,carol,,oslo\n";

/* Replaces the file by rename, so its inode changes too. */
static void write_csv(const char *text)
{
    char tmp[160];
    snprintf(tmp, sizeof tmp, "%s.tmp", g_csv);
    FILE *f = fopen(tmp, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    ck_assert_int_eq(fclose(f), 0);
    ck_assert_int_eq(rename(tmp, g_csv), 0);
}

static void open_store(void)
{
    static const char *const ops[] = {"join1"};
    char db[128];
    ember_err err = {0};
    store_opts o = {0};
    snprintf(db, sizeof db, "%s/db", g_tmp);
    ck_assert_msg(store_open(db, ops, 1, &o, &g_st, &err) == 0, "%s", err.msg);
}

/* A table keyed by id appending name (string) and score:int. */
static join_table *new_table(void)
{
    schema fields = {0};
    ember_err err = {0};
    ck_assert_msg(schema_parse(&fields, "name,score:int", &err) == 0, "%s", err.msg);
    join_table *t = table_new(g_csv, "id", &fields);
    ck_assert_ptr_nonnull(t);
    return t;
}

static void open_table(void)
{
    ember_err err = {0};
    g_t = new_table();
    ck_assert_msg(table_open(g_t, g_st, CF, &err) == 0, "%s", err.msg);
}

/* Closes and reopens the store and the table (a restart). */
static void restart(void)
{
    table_free(g_t);
    store_close(g_st);
    open_store();
    open_table();
}

static void setup(void)
{
    strcpy(g_tmp, "/tmp/ember-test-table-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(g_tmp));
    snprintf(g_csv, sizeof g_csv, "%s/people.csv", g_tmp);
    open_store();
    g_t = NULL;
}

static void teardown(void)
{
    ember_err err = {0};
    table_free(g_t);
    store_close(g_st);
    ck_assert_int_eq(io_remove_tree(g_tmp, &err), 0);
}

/* The row for key as "name|score" ("NULL" for empty), or "(none)". */
static const char *row(const char *key)
{
    static char out[128];
    const ember_value *v = table_lookup(g_t, key, strlen(key));
    if (!v)
        return "(none)";
    ck_assert_int_eq(v[0].type, EMBER_STRING);
    int n = snprintf(out, sizeof out, "%.*s|", (int)v[0].u.s.len, v[0].u.s.ptr);
    if (v[1].type == EMBER_NULL)
        snprintf(out + n, sizeof out - (size_t)n, "NULL");
    else {
        ck_assert_int_eq(v[1].type, EMBER_INT);
        snprintf(out + n, sizeof out - (size_t)n, "%lld", (long long)v[1].u.i);
    }
    return out;
}

static void expect_open_fails(const char *text, int code, const char *needle)
{
    ember_err err = {0};
    write_csv(text);
    g_t = new_table();
    ck_assert_int_eq(table_open(g_t, g_st, CF, &err), code);
    ck_assert_msg(strstr(err.msg, needle), "'%s' does not say '%s'", err.msg, needle);
    ck_assert_msg(strstr(err.msg, g_csv), "'%s' does not name the file", err.msg);
}

static char *get_meta(const char *key, size_t *n)
{
    ember_err err = {0};
    char *v = NULL;
    ck_assert_msg(store_get(g_st, STORE_META, key, strlen(key), &v, n, &err) == 0, "%s: %s", key,
                  err.msg);
    return v;
}

/* ------------------------------------------------------------ lookups */

START_TEST(lookup_returns_the_appended_fields_typed)
{
    write_csv(PEOPLE);
    open_table();
    ck_assert_uint_eq(table_rows(g_t), 3);
    ck_assert_str_eq(row("1"), "alice|10");
    ck_assert_str_eq(row("2"), "bob|20");
    ck_assert_str_eq(row("10"), "carol|NULL"); /* an empty int field is NULL */
    ck_assert_str_eq(row("3"), "(none)");
    ck_assert_str_eq(row("01"), "(none)"); /* keys match as text */
    ck_assert_str_eq(row(""), "(none)");
    ck_assert_str_eq(table_path(g_t), g_csv);
}
END_TEST

START_TEST(blank_lines_and_crlf_are_accepted)
{
    write_csv("id,name,score\r\n1,alice,10\r\n\r\n\n2,bob,20\r\n");
    open_table();
    ck_assert_uint_eq(table_rows(g_t), 2);
    ck_assert_str_eq(row("1"), "alice|10");
    ck_assert_str_eq(row("2"), "bob|20");
}
END_TEST

START_TEST(header_only_table_has_no_rows)
{
    write_csv("id,name,score\n");
    open_table();
    ck_assert_uint_eq(table_rows(g_t), 0);
    ck_assert_str_eq(row("1"), "(none)");
}
END_TEST

START_TEST(many_rows_all_found)
{
    static char text[5000 * 24];
    char key[16], want[32];
    size_t n = (size_t)snprintf(text, sizeof text, "id,name,score\n");
    for (int i = 0; i < 5000; i++)
        n += (size_t)snprintf(text + n, sizeof text - n, "k%d,n%d,%d\n", i, i, i * 3);
    write_csv(text);
    open_table();
    ck_assert_uint_eq(table_rows(g_t), 5000);
    for (int i = 0; i < 5000; i++) {
        snprintf(key, sizeof key, "k%d", i);
        snprintf(want, sizeof want, "n%d|%d", i, i * 3);
        ck_assert_str_eq(row(key), want);
    }
}
END_TEST

/* ------------------------------------------------------------ errors */

START_TEST(duplicate_key_names_both_lines)
{
    expect_open_fails("id,name,score\n1,a,1\n2,b,2\n1,c,3\n", -EMBER_EUSAGE,
                      ":4: key '1' appears twice (first on line 2)");
}
END_TEST

START_TEST(missing_key_column_is_an_error)
{
    expect_open_fails("ident,name,score\n1,a,1\n", -EMBER_EUSAGE,
                      ":1: the header has no key column 'id'");
}
END_TEST

START_TEST(missing_field_column_is_an_error)
{
    expect_open_fails("id,name\n1,a\n", -EMBER_EUSAGE, ":1: the header has no column 'score'");
}
END_TEST

START_TEST(empty_key_is_an_error)
{
    expect_open_fails("id,name,score\n,a,1\n", -EMBER_EUSAGE, ":2: empty key");
}
END_TEST

START_TEST(bad_typed_field_names_the_line)
{
    expect_open_fails("id,name,score\n1,a,1\n2,b,many\n", -EMBER_EBADRECORD, ":3");
}
END_TEST

START_TEST(empty_file_is_an_error)
{
    expect_open_fails("", -EMBER_EUSAGE, "empty table");
}
END_TEST

START_TEST(missing_file_is_an_error)
{
    ember_err err = {0};
    g_t = new_table();
    ck_assert_int_eq(table_open(g_t, g_st, CF, &err), -ENOENT);
    ck_assert_msg(strstr(err.msg, g_csv), "%s", err.msg);
}
END_TEST

/* ------------------------------------------------------------ stored copy */

START_TEST(open_stores_rows_header_and_file_hash)
{
    ember_err err = {0};
    write_csv(PEOPLE);
    open_table();
    char *v;
    size_t n;
    ck_assert_int_eq(store_get(g_st, CF, "2", 1, &v, &n, &err), 0);
    ck_assert_uint_eq(n, strlen("2,bob,20,rome"));
    ck_assert_mem_eq(v, "2,bob,20,rome", n); /* the raw line */
    free(v);
    v = get_meta("table/join1/header", &n);
    ck_assert_uint_eq(n, strlen("id,name,score,city"));
    ck_assert_mem_eq(v, "id,name,score,city", n);
    free(v);
    v = get_meta("table/join1/hash", &n);
    ck_assert_uint_eq(n, 8);
    uint64_t want = XXH64(PEOPLE, strlen(PEOPLE), 0), got = 0;
    for (int i = 7; i >= 0; i--)
        got = (got << 8) | (uint8_t)v[i];
    ck_assert_uint_eq(got, want);
    free(v);
}
END_TEST

/* Recovery joins replayed batches against the version they ran with. */
START_TEST(reopen_uses_the_stored_copy_not_the_changed_file)
{
    write_csv(PEOPLE);
    open_table();
    write_csv("id,name,score\n1,zed,99\n");
    restart();
    ck_assert_uint_eq(table_rows(g_t), 3);
    ck_assert_str_eq(row("1"), "alice|10");
    ck_assert_str_eq(row("10"), "carol|NULL");
}
END_TEST

START_TEST(reopen_works_without_the_file)
{
    write_csv(PEOPLE);
    open_table();
    ck_assert_int_eq(unlink(g_csv), 0);
    restart();
    ck_assert_str_eq(row("2"), "bob|20");
}
END_TEST

/* ------------------------------------------------------------ refresh */

START_TEST(refresh_of_an_unchanged_file_reloads_nothing)
{
    ember_err err = {0};
    int reloaded = 7;
    write_csv(PEOPLE);
    open_table();
    ck_assert_int_eq(table_refresh(g_t, &reloaded, &err), 0);
    ck_assert_int_eq(reloaded, 0);
    write_csv(PEOPLE); /* a new inode, the same bytes */
    ck_assert_int_eq(table_refresh(g_t, &reloaded, &err), 0);
    ck_assert_int_eq(reloaded, 0);
}
END_TEST

START_TEST(refresh_of_a_changed_file_replaces_the_version)
{
    ember_err err = {0};
    int reloaded = 0;
    write_csv(PEOPLE);
    open_table();
    write_csv("id,name,score\n1,alice,11\n3,dave,30\n");
    ck_assert_int_eq(table_refresh(g_t, &reloaded, &err), 0);
    ck_assert_int_eq(reloaded, 1);
    ck_assert_uint_eq(table_rows(g_t), 2);
    ck_assert_str_eq(row("1"), "alice|11");
    ck_assert_str_eq(row("2"), "(none)");
    ck_assert_str_eq(row("3"), "dave|30");
    /* the stored copy was replaced too: a restart sees the new version
     * (and rows of the old one are gone from the column family) */
    restart();
    ck_assert_uint_eq(table_rows(g_t), 2);
    ck_assert_str_eq(row("2"), "(none)");
    ck_assert_str_eq(row("3"), "dave|30");
}
END_TEST

/* A broken new version (here a duplicate key) is not taken: the loaded one
 * stays, in memory and in the store. */
START_TEST(refresh_keeps_the_loaded_version_when_the_new_one_is_broken)
{
    ember_err err = {0};
    int reloaded = 7;
    write_csv(PEOPLE);
    open_table();
    write_csv("id,name,score\n1,a,1\n1,b,2\n");
    ck_assert_int_eq(table_refresh(g_t, &reloaded, &err), 0);
    ck_assert_int_eq(reloaded, 0);
    ck_assert_str_eq(row("1"), "alice|10");
    restart();
    ck_assert_str_eq(row("1"), "alice|10");
}
END_TEST

START_TEST(refresh_keeps_the_loaded_version_when_the_file_is_gone)
{
    ember_err err = {0};
    int reloaded = 7;
    write_csv(PEOPLE);
    open_table();
    ck_assert_int_eq(unlink(g_csv), 0);
    ck_assert_int_eq(table_refresh(g_t, &reloaded, &err), 0);
    ck_assert_int_eq(reloaded, 0);
    ck_assert_str_eq(row("2"), "bob|20");
}
END_TEST

/* After a restart from the stored copy, a file changed meanwhile is taken
 * at the first refresh (between batches). */
START_TEST(refresh_after_restart_takes_a_file_changed_meanwhile)
{
    ember_err err = {0};
    int reloaded = 0;
    write_csv(PEOPLE);
    open_table();
    write_csv("id,name,score\n2,bobby,21\n");
    restart();
    ck_assert_str_eq(row("2"), "bob|20");
    ck_assert_int_eq(table_refresh(g_t, &reloaded, &err), 0);
    ck_assert_int_eq(reloaded, 1);
    ck_assert_str_eq(row("2"), "bobby|21");
    ck_assert_str_eq(row("1"), "(none)");
}
END_TEST

static Suite *table_suite(void)
{
    Suite *s = suite_create("table");
    TCase *l = tcase_create("lookup");
    tcase_add_checked_fixture(l, setup, teardown);
    tcase_add_test(l, lookup_returns_the_appended_fields_typed);
    tcase_add_test(l, blank_lines_and_crlf_are_accepted);
    tcase_add_test(l, header_only_table_has_no_rows);
    tcase_add_test(l, many_rows_all_found);
    suite_add_tcase(s, l);

    TCase *e = tcase_create("errors");
    tcase_add_checked_fixture(e, setup, teardown);
    tcase_add_test(e, duplicate_key_names_both_lines);
    tcase_add_test(e, missing_key_column_is_an_error);
    tcase_add_test(e, missing_field_column_is_an_error);
    tcase_add_test(e, empty_key_is_an_error);
    tcase_add_test(e, bad_typed_field_names_the_line);
    tcase_add_test(e, empty_file_is_an_error);
    tcase_add_test(e, missing_file_is_an_error);
    suite_add_tcase(s, e);

    TCase *st = tcase_create("stored");
    tcase_add_checked_fixture(st, setup, teardown);
    tcase_add_test(st, open_stores_rows_header_and_file_hash);
    tcase_add_test(st, reopen_uses_the_stored_copy_not_the_changed_file);
    tcase_add_test(st, reopen_works_without_the_file);
    tcase_add_test(st, refresh_of_an_unchanged_file_reloads_nothing);
    tcase_add_test(st, refresh_of_a_changed_file_replaces_the_version);
    tcase_add_test(st, refresh_keeps_the_loaded_version_when_the_new_one_is_broken);
    tcase_add_test(st, refresh_keeps_the_loaded_version_when_the_file_is_gone);
    tcase_add_test(st, refresh_after_restart_takes_a_file_changed_meanwhile);
    suite_add_tcase(s, st);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(table_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
