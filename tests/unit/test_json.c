/*
 * test_json: core/ops/json.c, one JSON object per line into typed values:
 * nested members by dotted path, missing and null members as NULL, strict
 * types, and the bad-record messages for wrong types and for lines that are
 * not one JSON object.
 */
#include "core/ops/json.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

static schema sch;
static arena scratch;
static ember_value vals[SCHEMA_MAX_FIELDS];

static void setup(void)
{
    ember_err err = {0};
    ck_assert_int_eq(schema_parse(&sch, "user,ts:int,geo.lat:float,geo.city.name", &err), 0);
    arena_init(&scratch, 4096);
}

static void teardown(void) { arena_free(&scratch); }

/* Parses text from a heap copy that is wiped afterwards, so a value that
 * still pointed into the line would show. */
static int parse(const char *text, ember_err *err)
{
    size_t n = strlen(text);
    char *copy = malloc(n);
    memcpy(copy, text, n);
    int rc = json_parse_line(copy, n, &sch, vals, &scratch, err);
    memset(copy, 'X', n);
    free(copy);
    return rc;
}

static void assert_str(const ember_value *v, const char *want)
{
    ck_assert_int_eq(v->type, EMBER_STRING);
    ck_assert_uint_eq(v->u.s.len, strlen(want));
    ck_assert(memcmp(v->u.s.ptr, want, v->u.s.len) == 0);
}

START_TEST(nested_members_by_dotted_path)
{
    ember_err err = {0};
    ck_assert_int_eq(parse("{\"ts\": 7, \"user\": \"u\\u00e9\", \"geo\": {\"lat\": -1.25, "
                           "\"city\": {\"name\": \"Oslo\"}}}", &err), 0);
    assert_str(&vals[0], "u\xc3\xa9"); /* the escape decoded to UTF-8 */
    ck_assert_int_eq(vals[1].type, EMBER_INT);
    ck_assert_int_eq(vals[1].u.i, 7);
    ck_assert_int_eq(vals[2].type, EMBER_FLOAT);
    ck_assert(vals[2].u.f == -1.25);
    assert_str(&vals[3], "Oslo");
}
END_TEST

START_TEST(missing_and_null_members_are_null)
{
    ember_err err = {0};
    ck_assert_int_eq(parse("{\"user\": null, \"geo\": {\"city\": 5}}", &err), 0);
    ck_assert_int_eq(vals[0].type, EMBER_NULL); /* null */
    ck_assert_int_eq(vals[1].type, EMBER_NULL); /* missing */
    ck_assert_int_eq(vals[2].type, EMBER_NULL); /* geo has no lat */
    ck_assert_int_eq(vals[3].type, EMBER_NULL); /* geo.city is not an object */
}
END_TEST

START_TEST(an_integer_is_a_valid_float)
{
    ember_err err = {0};
    ck_assert_int_eq(parse("{\"geo\": {\"lat\": 3}}", &err), 0);
    ck_assert_int_eq(vals[2].type, EMBER_FLOAT);
    ck_assert(vals[2].u.f == 3.0);
}
END_TEST

START_TEST(a_float_is_not_an_int)
{
    ember_err err = {0};
    ck_assert_int_eq(parse("{\"ts\": 1.5}", &err), -EMBER_EBADRECORD);
    ck_assert_str_eq(err.msg, "field 2 'ts': expected an int, got a float");
}
END_TEST

START_TEST(a_number_is_not_a_string)
{
    ember_err err = {0};
    ck_assert_int_eq(parse("{\"user\": 12}", &err), -EMBER_EBADRECORD);
    ck_assert_str_eq(err.msg, "field 1 'user': expected a string, got an int");
}
END_TEST

START_TEST(an_array_is_not_a_record)
{
    ember_err err = {0};
    ck_assert_int_eq(parse("[1, 2]", &err), -EMBER_EBADRECORD);
    ck_assert_str_eq(err.msg, "not a JSON object but an array");
}
END_TEST

START_TEST(broken_json_names_the_column)
{
    ember_err err = {0};
    ck_assert_int_eq(parse("{\"user\": \"a\",, }", &err), -EMBER_EBADRECORD);
    ck_assert_int_eq(err.col, 14); /* the second comma */
    ck_assert_ptr_nonnull(strstr(err.msg, "not valid JSON (column 14)"));
}
END_TEST

START_TEST(two_objects_on_a_line_are_refused)
{
    ember_err err = {0};
    ck_assert_int_eq(parse("{} {}", &err), -EMBER_EBADRECORD);
}
END_TEST

static Suite *json_suite(void)
{
    Suite *s = suite_create("json");
    TCase *tc = tcase_create("parse");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, nested_members_by_dotted_path);
    tcase_add_test(tc, missing_and_null_members_are_null);
    tcase_add_test(tc, an_integer_is_a_valid_float);
    tcase_add_test(tc, a_float_is_not_an_int);
    tcase_add_test(tc, a_number_is_not_a_string);
    tcase_add_test(tc, an_array_is_not_a_record);
    tcase_add_test(tc, broken_json_names_the_column);
    tcase_add_test(tc, two_objects_on_a_line_are_refused);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *r = srunner_create(json_suite());
    srunner_run_all(r, CK_NORMAL);
    int failed = srunner_ntests_failed(r);
    srunner_free(r);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
