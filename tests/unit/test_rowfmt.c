/*
 * test_rowfmt: core/ops/rowfmt.c, the row formats of the sinks: CSV quoting
 * (RFC 4180, NULL vs the empty string), TSV as PostgreSQL's text COPY, JSON
 * escaping (control bytes, UTF-8 kept, bytes that are not UTF-8 replaced),
 * JSON floats that stay floats, headers, keys, and the plain form of earlier
 * releases. Expected bytes are written out by hand from the formats' rules.
 */
#include "core/ops/rowfmt.h"

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static schema sch;
static text_buf buf;

static void setup(void)
{
    ember_err err = {0};
    ck_assert_int_eq(schema_parse(&sch, "s,i:int,x:float", &err), 0);
    memset(&buf, 0, sizeof buf);
}

static void teardown(void) { text_free(&buf); }

static ember_value str(const char *s, size_t n)
{
    return (ember_value){.type = EMBER_STRING, .u.s = {s, (uint32_t)n}};
}

/* The row (s, i, x) in format f, as a NUL-terminated string. */
static const char *row(rowfmt f, ember_value s, ember_value i, ember_value x)
{
    ember_value v[3] = {s, i, x};
    ember_record r = {3, v};
    buf.len = 0;
    ck_assert_int_eq(rowfmt_append_row(&buf, f, &sch, &r), 0);
    ck_assert_int_eq(text_reserve(&buf, 1), 0);
    buf.data[buf.len] = '\0';
    return buf.data;
}

static const ember_value null = {.type = EMBER_NULL};
static const ember_value one = {.type = EMBER_INT, .u.i = 1};

START_TEST(csv_quotes_only_what_needs_it)
{
    ember_value f = {.type = EMBER_FLOAT, .u.f = 0.1};
    ck_assert_str_eq(row(ROWFMT_CSV, str("a b", 3), one, f), "a b,1,0.1\n");
    ck_assert_str_eq(row(ROWFMT_CSV, str("a,b", 3), one, f), "\"a,b\",1,0.1\n");
    ck_assert_str_eq(row(ROWFMT_CSV, str("say \"hi\"", 8), one, f), "\"say \"\"hi\"\"\",1,0.1\n");
    ck_assert_str_eq(row(ROWFMT_CSV, str("l1\nl2\r", 6), one, f), "\"l1\nl2\r\",1,0.1\n");
    ck_assert_str_eq(row(ROWFMT_CSV, str("t\tab", 4), one, f), "t\tab,1,0.1\n");
}
END_TEST

START_TEST(csv_null_is_an_empty_field_and_the_empty_string_is_quoted)
{
    ck_assert_str_eq(row(ROWFMT_CSV, str("", 0), null, null), "\"\",,\n");
}
END_TEST

START_TEST(tsv_escapes_as_postgres_text_copy)
{
    ck_assert_str_eq(row(ROWFMT_TSV, str("a\\b\tc\nd\re,\"", 11), null, null),
                     "a\\\\b\\tc\\nd\\re,\"\t\\N\t\\N\n");
    ck_assert_str_eq(row(ROWFMT_TSV, str("", 0), one, null), "\t1\t\\N\n");
}
END_TEST

START_TEST(json_escapes_control_bytes_and_keeps_utf8)
{
    const char s[] = "q\"b\\\b\f\n\r\t\x01\x1f\x7f h\xc3\xa9 \xf0\x9f\x98\x80";
    ck_assert_str_eq(row(ROWFMT_JSON, str(s, sizeof s - 1), one, null),
                     "{\"s\":\"q\\\"b\\\\\\b\\f\\n\\r\\t\\u0001\\u001f\x7f h\xc3\xa9 "
                     "\xf0\x9f\x98\x80\",\"i\":1,\"x\":null}\n");
}
END_TEST

START_TEST(json_replaces_bytes_that_are_not_utf8)
{
    /* a lone continuation byte, an overlong '/', a surrogate, a cut sequence */
    const char s[] = "a\x80" "b\xc0\xaf" "c\xed\xa0\x80" "d\xe2\x82";
    ck_assert_str_eq(row(ROWFMT_JSON, str(s, sizeof s - 1), null, null),
                     "{\"s\":\"a\xef\xbf\xbd" "b\xef\xbf\xbd\xef\xbf\xbd"
                     "c\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
                     "d\xef\xbf\xbd\xef\xbf\xbd\",\"i\":null,\"x\":null}\n");
}
END_TEST

START_TEST(json_floats_stay_floats)
{
    const double d[] = {20.0, -0.0, 0.1, 1e300, 5e-324, INFINITY, NAN};
    const char *want[] = {"20.0", "-0.0", "0.1", "1e+300", "5e-324", "null", "null"};
    for (size_t k = 0; k < sizeof d / sizeof d[0]; k++) {
        char line[128];
        snprintf(line, sizeof line, "{\"s\":null,\"i\":1,\"x\":%s}\n", want[k]);
        ember_value x = {.type = EMBER_FLOAT, .u.f = d[k]};
        ck_assert_str_eq(row(ROWFMT_JSON, null, one, x), line);
    }
}
END_TEST

START_TEST(headers_per_format)
{
    buf.len = 0;
    ck_assert_int_eq(rowfmt_append_header(&buf, ROWFMT_CSV, &sch), 0);
    ck_assert_int_eq(rowfmt_append_header(&buf, ROWFMT_JSON, &sch), 0);
    ck_assert_int_eq(rowfmt_append_header(&buf, ROWFMT_TSV, &sch), 0);
    ck_assert_int_eq(text_append(&buf, "", 1), 0);
    ck_assert_str_eq(buf.data, "s,i,x\ns\ti\tx\n");
}
END_TEST

START_TEST(a_key_is_the_first_fields_without_a_line_end)
{
    ember_value v[3] = {str("k,1", 3), one, null};
    ember_record r = {3, v};
    ck_assert_int_eq(rowfmt_append_fields(&buf, ROWFMT_JSON, &sch, &r, 1), 0);
    ck_assert_int_eq(rowfmt_append_fields(&buf, ROWFMT_CSV, &sch, &r, 2), 0);
    ck_assert_int_eq(text_append(&buf, "", 1), 0);
    ck_assert_str_eq(buf.data, "{\"s\":\"k,1\"}\"k,1\",1");
}
END_TEST

START_TEST(plain_is_the_text_of_earlier_releases)
{
    ember_value v[3] = {str("a\tb\\c", 5), null, {.type = EMBER_FLOAT, .u.f = -0.0}};
    ember_record r = {3, v};
    ck_assert_int_eq(text_append_row(&buf, &r, '\t'), 0);
    size_t old = buf.len;
    ck_assert_int_eq(rowfmt_append_row(&buf, ROWFMT_PLAIN, &sch, &r), 0);
    ck_assert_uint_eq(buf.len, 2 * old);
    ck_assert_int_eq(memcmp(buf.data, buf.data + old, old), 0);
    ck_assert_int_eq(memcmp(buf.data, "a\tb\\c\t\t-0\n", old), 0);
}
END_TEST

START_TEST(format_names)
{
    ck_assert_int_eq(rowfmt_from_name(""), ROWFMT_PLAIN);
    ck_assert_int_eq(rowfmt_from_name("csv"), ROWFMT_CSV);
    ck_assert_int_eq(rowfmt_from_name("tsv"), ROWFMT_TSV);
    ck_assert_int_eq(rowfmt_from_name("json"), ROWFMT_JSON);
    ck_assert_int_eq(rowfmt_from_name("JSON"), -1);
    ck_assert_str_eq(rowfmt_ext(ROWFMT_JSON), "jsonl");
    ck_assert_str_eq(rowfmt_ext(ROWFMT_PLAIN), "tsv");
}
END_TEST

static Suite *rowfmt_suite(void)
{
    Suite *s = suite_create("rowfmt");
    TCase *tc = tcase_create("formats");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, csv_quotes_only_what_needs_it);
    tcase_add_test(tc, csv_null_is_an_empty_field_and_the_empty_string_is_quoted);
    tcase_add_test(tc, tsv_escapes_as_postgres_text_copy);
    tcase_add_test(tc, json_escapes_control_bytes_and_keeps_utf8);
    tcase_add_test(tc, json_replaces_bytes_that_are_not_utf8);
    tcase_add_test(tc, json_floats_stay_floats);
    tcase_add_test(tc, headers_per_format);
    tcase_add_test(tc, a_key_is_the_first_fields_without_a_line_end);
    tcase_add_test(tc, plain_is_the_text_of_earlier_releases);
    tcase_add_test(tc, format_names);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *r = srunner_create(rowfmt_suite());
    srunner_run_all(r, CK_NORMAL);
    int failed = srunner_ntests_failed(r);
    srunner_free(r);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
