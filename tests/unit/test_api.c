/*
 * test_api: the small parts of include/ember.h that are not a pipeline:
 * the version, ember_strerror over every code, and the log callback
 * (core/base/log.c) receiving what a library module reports, with nothing
 * left on stderr.
 */
#include "ember.h"
#include "state/store.h"
#include "state/table.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

START_TEST(version_matches_its_parts)
{
    char want[32];
    snprintf(want, sizeof want, "%d.%d.%d", EMBER_VERSION_MAJOR, EMBER_VERSION_MINOR,
             EMBER_VERSION_PATCH);
    ck_assert_str_eq(EMBER_VERSION, want);
    ck_assert_str_eq(ember_version(), EMBER_VERSION);
    ck_assert_int_eq(EMBER_VERSION_NUMBER,
                     EMBER_VERSION_MAJOR * 10000 + EMBER_VERSION_MINOR * 100 + EMBER_VERSION_PATCH);
}
END_TEST

START_TEST(strerror_names_every_ember_code)
{
    for (int c = EMBER_EUSAGE; c <= EMBER_EFENCED; c++) {
        const char *s = ember_strerror(-c);
        ck_assert_ptr_nonnull(s);
        ck_assert_msg(strcmp(s, "unknown error") != 0, "code %d has no text", c);
        ck_assert_str_eq(ember_strerror(c), s); /* sign does not matter */
        for (int d = EMBER_EUSAGE; d < c; d++)
            ck_assert_str_ne(ember_strerror(-d), s);
    }
    ck_assert_str_eq(ember_strerror(-EMBER_ECORRUPT), "checksum mismatch or torn record");
    ck_assert_str_eq(ember_strerror(EMBER_EFENCED + 1), "unknown error");
}
END_TEST

START_TEST(strerror_names_errno_values)
{
    ck_assert_str_eq(ember_strerror(0), "success");
    ck_assert_str_eq(ember_strerror(-ENOENT), "No such file or directory");
    ck_assert_str_eq(ember_strerror(ENOSPC), "No space left on device");
    ck_assert_str_eq(ember_strerror(-EIO), "Input/output error");
    ck_assert_str_eq(ember_strerror(-999), "unknown error");
    ck_assert_str_eq(ember_strerror(INT_MIN), "unknown error");
    ck_assert_str_eq(ember_strerror(INT_MAX), "unknown error");
}
END_TEST

/* A message quotes what it found; bytes from a damaged file come out as
 * \xNN, valid UTF-8 and tabs unchanged, so a message is one line of text. */
START_TEST(messages_are_clean_text)
{
    ember_err err = {0};
    ember_err_set(&err, -EMBER_EUSAGE, "unknown step '%s'", "so\xe1rce\n\x01");
    ck_assert_str_eq(err.msg, "unknown step 'so\\xe1rce\\x0a\\x01'");
    ember_err_set(&err, -EMBER_EUSAGE, "caf\xc3\xa9\tok \xe2\x82\xac");
    ck_assert_str_eq(err.msg, "caf\xc3\xa9\tok \xe2\x82\xac"); /* é, a tab, € */
    ember_err_set(&err, -EMBER_EUSAGE, "over\xc0\xafl \xed\xa0\x80 \xf4\x90\x80\x80");
    ck_assert_str_eq(err.msg, "over\\xc0\\xafl \\xed\\xa0\\x80 \\xf4\\x90\\x80\\x80");
    ember_err_prefix(&err, "file \x7f");
    ck_assert_int_eq(strncmp(err.msg, "file \\x7f: over", 15), 0);
}
END_TEST

/* ------------------------------------------------------------ log */

typedef struct captured {
    int lines;
    ember_log_level level;
    char last[1024];
} captured;

static void capture(ember_log_level level, const char *line, void *user)
{
    captured *c = user;
    c->lines++;
    c->level = level;
    snprintf(c->last, sizeof c->last, "%s", line);
}

static char g_tmp[PATH_MAX];
static int g_saved_stderr = -1;

/* fd 2 into a file, so a test can prove nothing was written there. */
static void stderr_to_file(const char *path)
{
    fflush(stderr);
    g_saved_stderr = dup(2);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(dup2(fd, 2), 2);
    close(fd);
}

static long stderr_restore(const char *path)
{
    fflush(stderr);
    dup2(g_saved_stderr, 2);
    close(g_saved_stderr);
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fclose(f);
    return n;
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

/* A join table whose file changes into one with a duplicate key: the reload
 * fails, the table keeps its loaded version and says so through the log. */
static void table_reload_fails(void)
{
    char csv[PATH_MAX + 16], db[PATH_MAX + 16];
    snprintf(csv, sizeof csv, "%s/t.csv", g_tmp);
    snprintf(db, sizeof db, "%s/db", g_tmp);
    write_text(csv, "id,name\n1,one\n2,two\n");
    schema fields;
    ember_err err = {0};
    ck_assert_int_eq(schema_parse(&fields, "name", &err), 0);
    const char *ops[] = {"join1"};
    store_opts o = {0};
    store *st = NULL;
    ck_assert_msg(store_open(db, ops, 1, &o, &st, &err) == 0, "%s", err.msg);
    join_table *t = table_new(csv, "id", &fields);
    ck_assert_ptr_nonnull(t);
    ck_assert_msg(table_open(t, st, store_cf_index(st, "join1"), &err) == 0, "%s", err.msg);
    usleep(10000); /* a new mtime even on coarse clocks */
    write_text(csv, "id,name\n1,one\n1,uno\n2,two\n");
    int reloaded = 1;
    ck_assert_msg(table_refresh(t, &reloaded, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(reloaded, 0);
    ck_assert_int_eq(table_rows(t), 2);
    table_free(t);
    store_close(st);
}

static void setup(void)
{
    strcpy(g_tmp, "/tmp/ember-test-api-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(g_tmp));
}

static void teardown(void)
{
    ember_set_log(NULL, NULL);
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_tmp);
    ck_assert_int_eq(system(cmd), 0);
}

START_TEST(log_callback_gets_library_lines_and_stderr_none)
{
    char err_path[PATH_MAX + 16];
    snprintf(err_path, sizeof err_path, "%s/stderr", g_tmp);
    captured c = {0};
    ember_set_log(capture, &c);
    stderr_to_file(err_path);
    table_reload_fails();
    long n = stderr_restore(err_path);
    ck_assert_int_eq(c.lines, 1);
    ck_assert_int_eq(c.level, EMBER_LOG_WARN);
    ck_assert_msg(strstr(c.last, "join table: keeping the loaded version") &&
                      strstr(c.last, "t.csv"),
                  "line: %s", c.last);
    ck_assert_msg(!strchr(c.last, '\n'), "a line has no newline: %s", c.last);
    ck_assert_msg(n == 0, "%ld bytes reached stderr", n);
}
END_TEST

START_TEST(log_default_is_one_line_on_stderr)
{
    char err_path[PATH_MAX + 16];
    snprintf(err_path, sizeof err_path, "%s/stderr", g_tmp);
    captured c = {0};
    ember_set_log(capture, &c);
    ember_set_log(NULL, NULL); /* back to the default */
    stderr_to_file(err_path);
    table_reload_fails();
    stderr_restore(err_path);
    ck_assert_int_eq(c.lines, 0);
    FILE *f = fopen(err_path, "r");
    ck_assert_ptr_nonnull(f);
    char buf[2048] = "";
    size_t got = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    ck_assert_msg(got > 0 && strstr(buf, "join table: keeping the loaded version"), "%s", buf);
    ck_assert_msg(strchr(buf, '\n') == buf + got - 1, "one line: %s", buf);
}
END_TEST

static Suite *api_suite(void)
{
    Suite *s = suite_create("api");
    TCase *tc = tcase_create("version_and_errors");
    tcase_add_test(tc, version_matches_its_parts);
    tcase_add_test(tc, strerror_names_every_ember_code);
    tcase_add_test(tc, strerror_names_errno_values);
    tcase_add_test(tc, messages_are_clean_text);
    suite_add_tcase(s, tc);
    tc = tcase_create("log");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, log_callback_gets_library_lines_and_stderr_none);
    tcase_add_test(tc, log_default_is_one_line_on_stderr);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(api_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
