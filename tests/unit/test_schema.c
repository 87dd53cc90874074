/* test_schema: core/schema.c — field specs, their error columns, lookup. */
#include "core/ops/schema.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* spec must fail with err->col == col and a message containing what. */
static void expect_error(const char *spec, int col, const char *what)
{
    schema s;
    ember_err err = {0};
    ck_assert_msg(schema_parse(&s, spec, &err) == -EMBER_EUSAGE, "'%s' parsed", spec);
    ck_assert_int_eq(err.code, -EMBER_EUSAGE);
    ck_assert_msg(err.col == col, "'%s': col %d, expected %d (%s)", spec, err.col, col, err.msg);
    ck_assert_msg(strstr(err.msg, what) != NULL, "'%s': '%s' does not say '%s'", spec, err.msg,
                  what);
}

START_TEST(types_parse_and_default_to_string)
{
    schema s;
    ember_err err = {0};
    ck_assert_int_eq(schema_parse(&s, "a,b:int,c:float,d:string", &err), 0);
    ck_assert_int_eq(s.n, 4);
    ck_assert_str_eq(s.f[0].name, "a");
    ck_assert_int_eq(s.f[0].type, EMBER_STRING);
    ck_assert_str_eq(s.f[1].name, "b");
    ck_assert_int_eq(s.f[1].type, EMBER_INT);
    ck_assert_int_eq(s.f[2].type, EMBER_FLOAT);
    ck_assert_int_eq(s.f[3].type, EMBER_STRING);
}
END_TEST

START_TEST(type_names_are_case_insensitive_with_aliases)
{
    schema s;
    ember_err err = {0};
    ck_assert_int_eq(schema_parse(&s, "x:INT,y:Double,z:long,w:str", &err), 0);
    ck_assert_int_eq(s.f[0].type, EMBER_INT);
    ck_assert_int_eq(s.f[1].type, EMBER_FLOAT);
    ck_assert_int_eq(s.f[2].type, EMBER_INT);
    ck_assert_int_eq(s.f[3].type, EMBER_STRING);
}
END_TEST

START_TEST(spaces_around_names_and_types_are_allowed)
{
    schema s;
    ember_err err = {0};
    ck_assert_int_eq(schema_parse(&s, " sensor , ts : int ,temp:float ", &err), 0);
    ck_assert_int_eq(s.n, 3);
    ck_assert_str_eq(s.f[0].name, "sensor");
    ck_assert_str_eq(s.f[1].name, "ts");
    ck_assert_int_eq(s.f[1].type, EMBER_INT);
    ck_assert_str_eq(s.f[2].name, "temp");
}
END_TEST

START_TEST(unknown_type_points_at_the_type)
{
    expect_error("a,b:integer", 5, "unknown type 'integer'");
    expect_error("a:", 3, "unknown type ''");
}
END_TEST

START_TEST(duplicate_name_points_at_the_second)
{
    expect_error("a,b:int,a", 9, "field 'a' given twice");
}
END_TEST

START_TEST(empty_names_are_errors)
{
    expect_error("", 1, "expected a field name");
    expect_error("a,,b", 3, "expected a field name");
    expect_error("a,", 3, "expected a field name");
    expect_error(":int", 1, "expected a field name");
}
END_TEST

START_TEST(names_must_be_identifiers)
{
    expect_error("a,1b", 3, "must start with a letter");
    expect_error("a b", 3, "expected ','");
    expect_error("a-b", 2, "expected ','");
}
END_TEST

START_TEST(too_many_fields_points_at_the_first_extra)
{
    char spec[1024] = "";
    size_t off = 0;
    for (int i = 0; i < SCHEMA_MAX_FIELDS; i++)
        off += (size_t)snprintf(spec + off, sizeof spec - off, "%sf%d", i ? "," : "", i);
    schema s;
    ember_err err = {0};
    ck_assert_int_eq(schema_parse(&s, spec, &err), 0);
    ck_assert_int_eq(s.n, SCHEMA_MAX_FIELDS);
    size_t extra = off + 2; /* 1-based column after the new comma */
    snprintf(spec + off, sizeof spec - off, ",g");
    expect_error(spec, (int)extra, "more than 64 fields");
}
END_TEST

START_TEST(too_long_name_is_an_error)
{
    char spec[SCHEMA_NAME_MAX + 8];
    memset(spec, 'x', sizeof spec);
    memcpy(spec, "a,", 2);
    spec[2 + SCHEMA_NAME_MAX] = '\0'; /* a 64-byte name: one too many */
    expect_error(spec, 3, "longer than 63");
    spec[2 + SCHEMA_NAME_MAX - 1] = '\0';
    schema s;
    ember_err err = {0};
    ck_assert_int_eq(schema_parse(&s, spec, &err), 0);
    ck_assert_uint_eq(strlen(s.f[1].name), SCHEMA_NAME_MAX - 1);
}
END_TEST

START_TEST(find_matches_whole_names_by_length)
{
    schema s;
    ember_err err = {0};
    ck_assert_int_eq(schema_parse(&s, "sensor,ts:int,temp:float", &err), 0);
    ck_assert_int_eq(schema_find(&s, "temp", 4), 2);
    ck_assert_int_eq(schema_find(&s, "ts > 3", 2), 1); /* name need not end in NUL */
    ck_assert_int_eq(schema_find(&s, "sens", 4), -1);
    ck_assert_int_eq(schema_find(&s, "sensors", 7), -1);
    ck_assert_int_eq(schema_find(&s, "TEMP", 4), -1);
}
END_TEST

START_TEST(type_names)
{
    ck_assert_str_eq(ember_type_name(EMBER_INT), "int");
    ck_assert_str_eq(ember_type_name(EMBER_FLOAT), "float");
    ck_assert_str_eq(ember_type_name(EMBER_STRING), "string");
    ck_assert_str_eq(ember_type_name(EMBER_BOOL), "boolean");
    ck_assert_str_eq(ember_type_name(EMBER_NULL), "null");
}
END_TEST

static Suite *schema_suite(void)
{
    Suite *s = suite_create("schema");
    TCase *tc = tcase_create("schema");
    /* the leak check at each forked test's exit can take seconds on a busy machine */
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, types_parse_and_default_to_string);
    tcase_add_test(tc, type_names_are_case_insensitive_with_aliases);
    tcase_add_test(tc, spaces_around_names_and_types_are_allowed);
    tcase_add_test(tc, unknown_type_points_at_the_type);
    tcase_add_test(tc, duplicate_name_points_at_the_second);
    tcase_add_test(tc, empty_names_are_errors);
    tcase_add_test(tc, names_must_be_identifiers);
    tcase_add_test(tc, too_many_fields_points_at_the_first_extra);
    tcase_add_test(tc, too_long_name_is_an_error);
    tcase_add_test(tc, find_matches_whole_names_by_length);
    tcase_add_test(tc, type_names);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(schema_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
