/* test_csv: core/csv.c — quoting, escapes, NULLs, numbers and their limits,
 * TSV, field counts, and the field and column named in every error. Lines
 * are copied into exact-size heap buffers without a NUL so that ASan catches
 * any read past len. */
#include "core/ops/csv.h"

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static schema sch;
static arena scratch;
static ember_value vals[SCHEMA_MAX_FIELDS];
static char *line_buf;

static void setup(void)
{
    ember_err err = {0};
    ck_assert_int_eq(schema_parse(&sch, "sensor,ts:int,temp:float", &err), 0);
    arena_init(&scratch, 4096);
    line_buf = NULL;
}

static void teardown(void)
{
    free(line_buf);
    arena_free(&scratch);
}

/* Parses text (copied without its NUL) with the current schema. */
static int parse_delim(const char *text, int delim, ember_err *err)
{
    size_t len = strlen(text);
    free(line_buf);
    line_buf = malloc(len ? len : 1);
    ck_assert_ptr_nonnull(line_buf);
    memcpy(line_buf, text, len);
    return csv_parse_line(line_buf, len, delim, &sch, vals, &scratch, err);
}

static void parse_ok(const char *text)
{
    ember_err err = {0};
    int rc = parse_delim(text, ',', &err);
    ck_assert_msg(rc == 0, "'%s' failed: %s", text, err.msg);
}

static void expect_error(const char *text, int col, const char *what)
{
    ember_err err = {0};
    ck_assert_msg(parse_delim(text, ',', &err) == -EMBER_EBADRECORD, "'%s' parsed", text);
    ck_assert_int_eq(err.code, -EMBER_EBADRECORD);
    ck_assert_msg(err.col == col, "'%s': col %d, expected %d (%s)", text, err.col, col, err.msg);
    ck_assert_msg(strstr(err.msg, what) != NULL, "'%s': '%s' does not say '%s'", text, err.msg,
                  what);
}

static void assert_str(const ember_value *v, const char *want)
{
    ck_assert_int_eq(v->type, EMBER_STRING);
    ck_assert_uint_eq(v->u.s.len, strlen(want));
    ck_assert(memcmp(v->u.s.ptr, want, v->u.s.len) == 0);
}

START_TEST(plain_fields_are_typed_and_borrowed)
{
    parse_ok("s1,42,21.5");
    assert_str(&vals[0], "s1");
    ck_assert_ptr_eq(vals[0].u.s.ptr, line_buf); /* no copy */
    ck_assert_int_eq(vals[1].type, EMBER_INT);
    ck_assert_int_eq(vals[1].u.i, 42);
    ck_assert_int_eq(vals[2].type, EMBER_FLOAT);
    ck_assert(vals[2].u.f == 21.5);
}
END_TEST

START_TEST(quoted_fields_hold_delimiters)
{
    parse_ok("\"Paris, FR\",\"7\",\"-1.25\"");
    assert_str(&vals[0], "Paris, FR");
    ck_assert_ptr_eq(vals[0].u.s.ptr, line_buf + 1); /* still borrowed */
    ck_assert_int_eq(vals[1].u.i, 7);
    ck_assert(vals[2].u.f == -1.25);
}
END_TEST

START_TEST(doubled_quotes_are_unescaped_into_the_arena)
{
    parse_ok("\"say \"\"hi\"\", \"\"x\"\"\",1,2");
    assert_str(&vals[0], "say \"hi\", \"x\"");
    uintptr_t at = (uintptr_t)vals[0].u.s.ptr, line = (uintptr_t)line_buf;
    ck_assert(at < line || at >= line + 24); /* a copy, not the line itself */
    parse_ok("\"\"\"\",1,2");                /* a lone quote */
    assert_str(&vals[0], "\"");
}
END_TEST

START_TEST(quotes_inside_unquoted_fields_are_literal)
{
    parse_ok("5\" pipe,1,2");
    assert_str(&vals[0], "5\" pipe");
}
END_TEST

START_TEST(empty_fields_are_null)
{
    parse_ok(",,");
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(vals[i].type, EMBER_NULL);
    parse_ok("\"\",5,");
    ck_assert_int_eq(vals[0].type, EMBER_NULL);
    ck_assert_int_eq(vals[1].u.i, 5);
    ck_assert_int_eq(vals[2].type, EMBER_NULL);
}
END_TEST

START_TEST(spaces_are_kept_in_strings_and_tolerated_in_numbers)
{
    parse_ok(" s1 , 42 ,\t1.5 ");
    assert_str(&vals[0], " s1 ");
    ck_assert_int_eq(vals[1].u.i, 42);
    ck_assert(vals[2].u.f == 1.5);
}
END_TEST

START_TEST(bad_int_names_field_and_column)
{
    expect_error("s1,4x2,1.0", 4, "field 2 'ts': '4x2' is not an int");
    expect_error("s1,-,1.0", 4, "field 2 'ts'");
    expect_error("s1,1.5,1.0", 4, "is not an int");
    expect_error("s1,1 2,1.0", 4, "is not an int");
}
END_TEST

START_TEST(bad_float_names_field_and_column)
{
    expect_error("s1,1,abc", 6, "field 3 'temp': 'abc' is not a float");
    expect_error("s1,1,1.5x", 6, "is not a float");
    expect_error("s1,1,nan", 6, "is not a float");
    expect_error("s1,1,inf", 6, "is not a float");
    expect_error("s1,1,-Infinity", 6, "is not a float");
    expect_error("s1,1,1e999", 6, "field 3 'temp': '1e999' is out of range");
    expect_error("s1,1,.", 6, "is not a float");
    expect_error("s1,1,1e", 6, "is not a float");
}
END_TEST

START_TEST(int64_limits_and_overflow)
{
    parse_ok("s,9223372036854775807,0");
    ck_assert(vals[1].u.i == INT64_MAX);
    parse_ok("s,-9223372036854775808,0");
    ck_assert(vals[1].u.i == INT64_MIN);
    parse_ok("s,+17,0");
    ck_assert_int_eq(vals[1].u.i, 17);
    expect_error("s,9223372036854775808,0", 3,
                 "field 2 'ts': '9223372036854775808' is out of range");
    expect_error("s,-9223372036854775809,0", 3, "out of range");
    expect_error("s,18446744073709551616,0", 3, "out of range"); /* 2^64 */
    expect_error("s,99999999999999999999999x,0", 3, "is not an int");
}
END_TEST

/* The fast path must agree bit for bit with strtod, the C library's oracle. */
START_TEST(floats_match_strtod)
{
    static const char *texts[] = {"0",
                                  "-0.0",
                                  "21.5",
                                  ".5",
                                  "5.",
                                  "+3.25",
                                  "0.1",
                                  "123456.789",
                                  "1e3",
                                  "-2.5E-3",
                                  "9007199254740993",
                                  "0.30000000000000004",
                                  "1234567890123456789012",
                                  "3.14159265358979323846",
                                  "1e-310",
                                  "4.9e-324"};
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        char text[64];
        snprintf(text, sizeof text, "s,1,%s", texts[i]);
        parse_ok(text);
        double want = strtod(texts[i], NULL);
        ck_assert_msg(memcmp(&vals[2].u.f, &want, sizeof want) == 0, "%s: got %.17g want %.17g",
                      texts[i], vals[2].u.f, want);
    }
}
END_TEST

START_TEST(overlong_float_is_an_error_not_a_crash)
{
    char text[300] = "s,1,";
    memset(text + 4, '1', 200);
    text[204] = '\0';
    ember_err err = {0};
    ck_assert_int_eq(parse_delim(text, ',', &err), -EMBER_EBADRECORD);
    ck_assert_ptr_nonnull(strstr(err.msg, "'temp'"));
}
END_TEST

START_TEST(tsv_splits_on_tabs_only)
{
    ember_err err = {0};
    ck_assert_int_eq(parse_delim("a,b\t12\t0.25", '\t', &err), 0);
    assert_str(&vals[0], "a,b");
    ck_assert_int_eq(vals[1].u.i, 12);
    ck_assert(vals[2].u.f == 0.25);
    ck_assert_int_eq(parse_delim("a\t\t", '\t', &err), 0);
    ck_assert_int_eq(vals[1].type, EMBER_NULL);
    ck_assert_int_eq(vals[2].type, EMBER_NULL);
    ck_assert_int_eq(parse_delim("a,1,2", '\t', &err), -EMBER_EBADRECORD);
    ck_assert_ptr_nonnull(strstr(err.msg, "1 field, expected 3"));
}
END_TEST

/* parse tsv's default (issue 20): a '"' is an ordinary byte, so real text
 * such as '"Batches' or 'say "hi"' is one field, and a tab between quotes
 * still splits. */
START_TEST(tsv_without_quoting_reads_quotes_as_bytes)
{
    ember_err err = {0};
    ck_assert_int_eq(parse_delim("\"Batches\t7\t0.5", '\t' | CSV_NO_QUOTES, &err), 0);
    assert_str(&vals[0], "\"Batches");
    ck_assert_int_eq(vals[1].u.i, 7);
    ck_assert_int_eq(parse_delim("\"a\"\"b\"\t1\t2", '\t' | CSV_NO_QUOTES, &err), 0);
    assert_str(&vals[0], "\"a\"\"b\"");
    ck_assert_int_eq(parse_delim("say \"hi\"\t5\t1.5", '\t' | CSV_NO_QUOTES, &err), 0);
    assert_str(&vals[0], "say \"hi\"");
    ck_assert_int_eq(parse_delim("\"x\t5\"\t1", '\t' | CSV_NO_QUOTES, &err), -EMBER_EBADRECORD);
    ck_assert_ptr_nonnull(strstr(err.msg, "'5\"' is not an int")); /* the tab splits */
}
END_TEST

/* With quoting (csv's default, tsv with quote=on) the same text is an
 * unterminated quoted field. */
START_TEST(quoting_on_still_rejects_an_open_quote)
{
    ember_err err = {0};
    ck_assert_int_eq(parse_delim("\"Batches\t7\t0.5", '\t', &err), -EMBER_EBADRECORD);
    ck_assert_ptr_nonnull(strstr(err.msg, "unterminated quoted field"));
    ck_assert_int_eq(parse_delim("\"a,b\",1,2", ',' | CSV_NO_QUOTES, &err), -EMBER_EBADRECORD);
    ck_assert_msg(strstr(err.msg, "field 2 'ts': 'b\"' is not an int"), "%s", err.msg);
}
END_TEST

/* The decision of issue 20: a number may have spaces around it and a leading
 * '+' (" 5", "+5" and "5 " are the int 5); the sign must touch the digits,
 * and numbers are decimal (no hex floats, which strtod would read). */
START_TEST(signs_and_spaces_around_numbers)
{
    const char *five[] = {"s, 5,1", "s,+5,1", "s,5 ,1", "s, +5 ,1", "s,\t+5,1"};
    for (size_t i = 0; i < sizeof five / sizeof five[0]; i++) {
        parse_ok(five[i]);
        ck_assert_msg(vals[1].type == EMBER_INT && vals[1].u.i == 5, "'%s'", five[i]);
    }
    parse_ok("s,-5,+2.5");
    ck_assert_int_eq(vals[1].u.i, -5);
    ck_assert(vals[2].u.f == 2.5);
    parse_ok("s,1, +.5e1 ");
    ck_assert(vals[2].u.f == 5.0);
    expect_error("s,+ 5,1", 3, "is not an int");
    expect_error("s,++5,1", 3, "is not an int");
    expect_error("s,+,1", 3, "is not an int");
    expect_error("s,0x5,1", 3, "is not an int");
    expect_error("s,1,0x10", 5, "'0x10' is not a float");
    expect_error("s,1,0x1p3", 5, "is not a float");
    expect_error("s,1,- 5", 5, "is not a float");
}
END_TEST

START_TEST(too_few_fields_point_at_the_end)
{
    expect_error("s1,42", 6, "2 fields, expected 3 (missing field 3 'temp')");
    expect_error("", 1, "1 field, expected 3");
}
END_TEST

START_TEST(too_many_fields_point_at_the_extra)
{
    expect_error("s1,42,1.5,x", 11, "more than 3 fields");
    expect_error("s1,42,1.5,", 11, "more than 3 fields");
}
END_TEST

START_TEST(quote_errors_name_the_field)
{
    expect_error("s1,\"42,1.5", 4, "field 2 'ts': unterminated quoted field");
    expect_error("\"s1\"x,42,1.5", 5, "field 1 'sensor': unexpected text after the closing quote");
}
END_TEST

START_TEST(never_reads_past_len)
{
    /* the bytes after len look like more digits; they must be ignored */
    const char *buf = "s1,42,1.5999999e9";
    ember_err err = {0};
    ck_assert_int_eq(csv_parse_line(buf, 9, ',', &sch, vals, &scratch, &err), 0);
    ck_assert(vals[2].u.f == 1.5);
    ck_assert_int_eq(csv_parse_line(buf, 5, ',', &sch, vals, &scratch, &err), -EMBER_EBADRECORD);
    parse_ok("s1,42,1e3"); /* slow path at the very end of an unterminated buffer */
    ck_assert(vals[2].u.f == 1000.0);
    parse_ok("s1,42,\"2\"");
    ck_assert(vals[2].u.f == 2.0);
}
END_TEST

START_TEST(single_string_field_schema)
{
    ember_err err = {0};
    ck_assert_int_eq(schema_parse(&sch, "line", &err), 0);
    parse_ok("");
    ck_assert_int_eq(vals[0].type, EMBER_NULL);
    parse_ok("\"a,b\"");
    assert_str(&vals[0], "a,b");
}
END_TEST

static Suite *csv_suite(void)
{
    Suite *s = suite_create("csv");
    TCase *tc = tcase_create("csv");
    /* the leak check at each forked test's exit can take seconds on a busy machine */
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, plain_fields_are_typed_and_borrowed);
    tcase_add_test(tc, quoted_fields_hold_delimiters);
    tcase_add_test(tc, doubled_quotes_are_unescaped_into_the_arena);
    tcase_add_test(tc, quotes_inside_unquoted_fields_are_literal);
    tcase_add_test(tc, empty_fields_are_null);
    tcase_add_test(tc, spaces_are_kept_in_strings_and_tolerated_in_numbers);
    tcase_add_test(tc, bad_int_names_field_and_column);
    tcase_add_test(tc, bad_float_names_field_and_column);
    tcase_add_test(tc, int64_limits_and_overflow);
    tcase_add_test(tc, floats_match_strtod);
    tcase_add_test(tc, overlong_float_is_an_error_not_a_crash);
    tcase_add_test(tc, tsv_splits_on_tabs_only);
    tcase_add_test(tc, tsv_without_quoting_reads_quotes_as_bytes);
    tcase_add_test(tc, quoting_on_still_rejects_an_open_quote);
    tcase_add_test(tc, signs_and_spaces_around_numbers);
    tcase_add_test(tc, too_few_fields_point_at_the_end);
    tcase_add_test(tc, too_many_fields_point_at_the_extra);
    tcase_add_test(tc, quote_errors_name_the_field);
    tcase_add_test(tc, never_reads_past_len);
    tcase_add_test(tc, single_string_field_schema);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(csv_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
