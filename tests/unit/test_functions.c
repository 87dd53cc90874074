/* test_functions: core/ops/functions.c, functions_eval.c and expr_call.c —
 * every built-in function and syntax form against values computed by hand
 * or by Python (datetime for the time functions, re for regexp_extract,
 * str slicing for substr and split_part), NULL in and out, and the load-time
 * errors with their columns. */
#include "core/ops/expr.h"

#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* sensor = "s1", ts = 1700000000123 (2023-11-14T22:13:20.123Z, a Tuesday),
 * temp = 20.5, city = NULL, page = "  Home/Index ". */
static schema sch;
static ember_value vals[5];
static ember_record rec = {5, vals};
static arena scratch;
/* Compiled trees live until teardown: a constant string result borrows one. */
static expr *kept[64];
static int n_kept;

static void setup(void)
{
    ember_err err = {0};
    ck_assert_int_eq(schema_parse(&sch, "sensor,ts:int,temp:float,city,page", &err), 0);
    vals[0] = (ember_value){.type = EMBER_STRING, .u.s = {"s1", 2}};
    vals[1] = (ember_value){.type = EMBER_INT, .u.i = 1700000000123};
    vals[2] = (ember_value){.type = EMBER_FLOAT, .u.f = 20.5};
    vals[3] = (ember_value){.type = EMBER_NULL};
    vals[4] = (ember_value){.type = EMBER_STRING, .u.s = {"  Home/Index ", 13}};
    arena_init(&scratch, 4096);
}

static void teardown(void)
{
    while (n_kept)
        expr_free(kept[--n_kept]);
    arena_free(&scratch);
}

static ember_value eval(const char *text)
{
    expr *e = NULL;
    ember_err err = {0};
    ember_value v;
    int rc = expr_compile(text, &sch, &e, &err);
    ck_assert_msg(rc == 0, "'%s' failed at col %d: %s", text, err.col, err.msg);
    expr_eval(e, &rec, &scratch, &v);
    if (n_kept == 64)
        expr_free(kept[--n_kept]);
    kept[n_kept++] = e;
    return v;
}

static void expect_int(const char *text, int64_t want)
{
    ember_value v = eval(text);
    ck_assert_msg(v.type == EMBER_INT, "'%s' has type %s", text, ember_type_name(v.type));
    ck_assert_msg(v.u.i == want, "'%s' = %lld, expected %lld", text, (long long)v.u.i,
                  (long long)want);
}

static void expect_float(const char *text, double want)
{
    ember_value v = eval(text);
    ck_assert_msg(v.type == EMBER_FLOAT, "'%s' has type %s", text, ember_type_name(v.type));
    ck_assert_msg(fabs(v.u.f - want) < 1e-12, "'%s' = %.17g, expected %.17g", text, v.u.f, want);
}

static void expect_bool(const char *text, int want)
{
    ember_value v = eval(text);
    ck_assert_msg(v.type == EMBER_BOOL, "'%s' has type %s", text, ember_type_name(v.type));
    ck_assert_msg(v.u.i == want, "'%s' = %lld, expected %d", text, (long long)v.u.i, want);
}

static void expect_null(const char *text)
{
    ember_value v = eval(text);
    ck_assert_msg(v.type == EMBER_NULL, "'%s' has type %s, expected NULL", text,
                  ember_type_name(v.type));
}

/* Strings are compared against want by value. */
static void expect_str(const char *text, const char *want)
{
    ember_value v = eval(text);
    ck_assert_msg(v.type == EMBER_STRING, "'%s' has type %s", text, ember_type_name(v.type));
    ck_assert_msg(v.u.s.len == strlen(want) && !memcmp(v.u.s.ptr, want, v.u.s.len),
                  "'%s' = '%.*s', expected '%s'", text, (int)v.u.s.len, v.u.s.ptr, want);
}

static void expect_error(const char *text, int col, const char *part)
{
    expr *e = NULL;
    ember_err err = {0};
    int rc = expr_compile(text, &sch, &e, &err);
    ck_assert_msg(rc != 0, "'%s' compiled", text);
    ck_assert_ptr_null(e);
    ck_assert_msg(err.col == col, "'%s': col %d, expected %d (%s)", text, err.col, col, err.msg);
    ck_assert_msg(strstr(err.msg, part), "'%s': '%s' lacks '%s'", text, err.msg, part);
    ck_assert_msg(!strchr(err.msg, '\n'), "'%s': message spans lines", text);
}

START_TEST(string_functions)
{
    expect_str("lower(page)", "  home/index ");
    expect_str("upper(sensor)", "S1");
    expect_int("length(page)", 13);
    expect_str("trim(page)", "Home/Index");
    expect_str("trim('   ')", "");
    expect_str("replace('banana', 'an', 'o')", "booa"); /* 'banana'.replace('an', 'o') */
    expect_str("replace('aaaa', 'aa', 'b')", "bb");     /* left to right, no overlaps */
    expect_str("replace('abc', '', 'x')", "abc");
    expect_str("replace('abc', 'c', '')", "ab");
    expect_str("replace('', 'a', 'b')", "");
    expect_str("substr('hello', 2, 3)", "ell"); /* 'hello'[1:4] */
    expect_str("substr('hello', -3)", "llo");   /* 'hello'[-3:] */
    expect_str("substr('hello', -3, 2)", "ll");
    expect_str("substr('hello', 9)", "");
    expect_str("substr('hello', 0, 2)", "he");
    expect_str("substr('hello', 2, -1)", "");
    expect_str("concat(sensor, '-', ts, '-', temp)", "s1-1700000000123-20.5");
    expect_bool("starts_with(trim(page), 'Home')", 1);
    expect_bool("starts_with('Ho', 'Home')", 0);
    expect_bool("contains(page, 'e/I')", 1);
    expect_bool("contains(page, 'z')", 0);
    expect_bool("contains('', '')", 1);
}
END_TEST

START_TEST(split_part_counts_from_one_and_from_the_end)
{
    expect_str("split_part('a,b,,c', ',', 1)", "a");
    expect_str("split_part('a,b,,c', ',', 3)", ""); /* 'a,b,,c'.split(',')[2] */
    expect_str("split_part('a,b,,c', ',', -1)", "c");
    expect_str("split_part('a,b,,c', ',', 5)", "");
    expect_str("split_part('a::b', '::', 2)", "b");
    expect_null("split_part('a,b', ',', 0)");
}
END_TEST

START_TEST(like_and_regexp_extract)
{
    expect_bool("lower(trim(page)) like 'home%'", 1);
    expect_bool("like(sensor, 's_')", 1);
    expect_bool("sensor like 's'", 0);
    expect_bool("sensor not like 'x%'", 1);
    expect_bool("'a.c' like 'a.c'", 1);
    expect_bool("'abc' like 'a.c'", 0); /* '.' is literal */
    expect_bool("'a(b)' like '%(b)'", 1);
    expect_bool("'' like '%'", 1);
    expect_bool("'' like '_'", 0);
    expect_bool("'abcbcd' like 'a%bcd'", 1); /* the first 'bc' is not the one */
    expect_bool("'abcbce' like 'a%bcd'", 0);
    expect_bool("'aXbYc' like '%b%c'", 1);
    expect_bool("'abc' like 'ab%%c%'", 1);
    expect_bool("'abc' like 'a_'", 0);
    /* re.search(r'([a-z]+)-([0-9]+)', 'id: abc-123 x').group(2) */
    expect_str("regexp_extract('id: abc-123 x', '([a-z]+)-([0-9]+)', 2)", "123");
    expect_str("regexp_extract('id: abc-123 x', '([a-z]+)-([0-9]+)')", "abc");
    expect_str("regexp_extract('id: abc-123 x', '[0-9]+', 0)", "123");
    expect_null("regexp_extract('id: abc x', '[0-9]+', 0)");
    expect_str("regexp_extract('xaay', 'a+')", "aa"); /* no group: the whole match */
    expect_null("regexp_extract(city, 'a')");
}
END_TEST

START_TEST(math_functions)
{
    expect_int("abs(-3)", 3);
    expect_float("abs(-temp)", 20.5);
    expect_float("round(2.5)", 3.0);
    expect_float("round(-2.5)", -3.0); /* half away from zero, not Python's even */
    expect_float("round(3.14159, 2)", 3.14);
    expect_float("round(1234.5, -2)", 1200.0);
    expect_int("round(15, -1)", 20);
    expect_int("round(-15, -1)", -20);
    expect_int("round(14, -1)", 10);
    expect_int("round(7)", 7);
    expect_int("floor(temp)", 20);
    expect_int("floor(-0.5)", -1);
    expect_int("ceil(temp)", 21);
    expect_int("ceil(-0.5)", 0);
    expect_null("floor(1e300)");
    expect_float("sqrt(2)", 1.4142135623730951);
    expect_null("sqrt(-1)");
    expect_float("ln(10)", 2.302585092994046);
    expect_null("ln(0)");
    expect_float("exp(1)", 2.718281828459045);
    expect_float("pow(2, 0.5)", 1.4142135623730951);
    expect_float("pow(2, 10)", 1024.0);
    expect_null("pow(-8, 1.0 / 3)");
}
END_TEST

START_TEST(least_greatest_coalesce_nullif)
{
    expect_int("least(3, 1, 2)", 1);
    expect_float("greatest(3, temp, 2)", 20.5);
    expect_float("least(3, temp)", 3.0); /* the common type is float */
    expect_str("greatest('b', sensor, 'a')", "s1");
    expect_int("least(ts, 5, length(city))", 5); /* NULLs are skipped */
    expect_null("greatest(length(city))");
    expect_str("coalesce(city, sensor)", "s1");
    expect_float("coalesce(length(city), temp, 1)", 20.5);
    expect_null("coalesce(city)");
    expect_null("nullif(sensor, 's1')");
    expect_str("nullif(sensor, 's2')", "s1");
    expect_int("nullif(2, 2.5)", 2);
    expect_null("nullif(2, 2.0)");
}
END_TEST

START_TEST(if_and_case)
{
    expect_str("if(temp > 20, 'hot', 'cold')", "hot");
    expect_str("if(length(city) > 1, 'a', 'b')", "b"); /* a NULL condition takes else */
    expect_float("if(true, 1, temp)", 1.0);
    expect_str("case when temp < 10 then 'cold' when temp < 25 then 'mild' else 'hot' end", "mild");
    expect_str("CASE WHEN temp > 30 THEN 'hot' ELSE 'ok' END", "ok");
    expect_null("case when temp > 30 then 'hot' end");
    expect_int("case when city = 'x' then 1 else 2 end + 1", 3);
    expect_str("case when true then case when false then 'a' else 'b' end end", "b");
}
END_TEST

START_TEST(in_and_between)
{
    expect_bool("sensor in ('s0', 's1')", 1);
    expect_bool("sensor in ('s0')", 0);
    expect_bool("sensor not in ('s0', 's2')", 1);
    expect_bool("temp in (1, 20.5)", 1);
    expect_null("sensor in ('s0', city)"); /* no match and a NULL: unknown */
    expect_bool("sensor in (city, 's1')", 1);
    expect_null("city in ('a')");
    expect_bool("temp between 20 and 21", 1);
    expect_bool("temp between 21 and 30", 0);
    expect_bool("temp not between 21 and 30", 1);
    expect_bool("ts between 10 and 20 or true", 1);
    expect_bool("temp between 21 and length(city)", 0); /* one false side decides */
    expect_null("temp between 1 and length(city)");
}
END_TEST

START_TEST(cast_between_types)
{
    expect_int("cast(temp as int)", 20);
    expect_int("cast(-2.7 as int)", -2);
    expect_int("cast('42' as int)", 42);
    expect_int("cast('3.9' as int)", 3);
    expect_null("cast('x1' as int)");
    expect_null("cast('' as int)");
    expect_int("cast(true as int)", 1);
    expect_float("cast('2.5e1' as float)", 25.0);
    expect_float("cast(ts as float)", 1700000000123.0);
    expect_null("cast('1,5' as float)");
    expect_str("cast(temp as string)", "20.5");
    expect_str("cast(ts as string)", "1700000000123");
    expect_str("cast(1 = 1 as string)", "true");
    expect_null("cast(city as string)");
    expect_str("cast(sensor as string)", "s1");
}
END_TEST

/* Python: datetime.fromtimestamp(ts / 1000, timezone.utc) and ts // unit * unit */
START_TEST(time_functions_on_epoch_milliseconds)
{
    expect_int("date_trunc('minute', ts)", 1699999980000);
    expect_int("date_trunc('hour', ts)", 1699999200000);
    expect_int("date_trunc('DAY', ts)", 1699920000000);
    expect_int("date_trunc('hour', -1)", -3600000); /* floors before 1970 */
    expect_int("hour(ts)", 22);
    expect_int("hour(-1)", 23);
    expect_int("day_of_week(ts)", 2); /* isoweekday: Tuesday */
    expect_int("day_of_week(0)", 4);  /* 1970-01-01, a Thursday */
    expect_int("day_of_week(-1)", 3);
    expect_str("to_iso(ts)", "2023-11-14T22:13:20.123Z");
    expect_str("to_iso(0)", "1970-01-01T00:00:00.000Z");
}
END_TEST

START_TEST(null_arguments_give_null)
{
    expect_null("upper(city)");
    expect_null("length(city)");
    expect_null("concat(sensor, city)");
    expect_null("abs(length(city))");
    expect_null("to_iso(length(city))");
    expect_null("cast(length(city) as float)");
}
END_TEST

START_TEST(function_names_are_case_insensitive)
{
    expect_str("UPPER(sensor)", "S1");
    expect_str("Cast(ts As String)", "1700000000123");
}
END_TEST

START_TEST(unknown_function_lists_the_known_ones)
{
    expect_error("uper(sensor)", 1, "unknown function 'uper'; did you mean 'upper'?");
    expect_error("temp + frobnicate(1)", 8, "known: lower, upper, length");
    expect_error("x(1)", 1, "date_trunc, hour, day_of_week, to_iso, cast)");
}
END_TEST

START_TEST(argument_counts_name_the_function_column)
{
    expect_error("temp > 1 and upper()", 14, "upper takes 1 argument, not 0");
    expect_error("substr(sensor)", 1, "substr takes 2 to 3 arguments, not 1");
    expect_error("pow(1, 2, 3)", 1, "pow takes 2 arguments, not 3");
    expect_error("concat()", 1, "concat takes at least 1 argument");
    expect_error("upper(sensor", 13, "expected ',' or ')' to close the '(' at column 6");
}
END_TEST

START_TEST(argument_types_name_the_argument_column)
{
    expect_error("upper(ts)", 7, "argument 1 of upper must be a string, not int");
    expect_error("substr(sensor, 'a')", 16, "argument 2 of substr must be an int, not string");
    expect_error("abs(sensor)", 5, "argument 1 of abs must be a number, not string");
    expect_error("if(ts, 1, 2)", 4, "argument 1 of if must be a condition");
    expect_error("coalesce(ts, sensor)", 14,
                 "argument 2 of coalesce is string, but argument 1 is int");
    expect_error("case when temp > 1 then 1 else 'x' end", 32, "argument 3 of case is string");
    expect_error("case when temp then 1 end", 11, "argument 1 of case must be a condition");
    expect_error("sensor in ('a', 1)", 17, "argument 3 of in is int, but argument 1 is string");
    expect_error("ts between 'a' and 2", 12, "argument 2 of between is string");
    expect_error("sensor like page", 13, "argument 2 of like must be a constant");
    expect_error("regexp_extract(sensor, '(')", 24, "bad pattern in regexp_extract");
    expect_error("regexp_extract(sensor, '(a)', 2)", 31, "group 2 does not exist");
    expect_error("date_trunc('week', ts)", 12, "unit must be 'minute', 'hour' or 'day'");
    expect_error("date_trunc(sensor, ts)", 12, "must be a constant");
    expect_error("cast(ts as date)", 12, "cast needs a type: int, float or string, not 'date'");
    expect_error("cast(ts)", 8, "expected 'as'");
    expect_error("case when true then 1", 22, "expected 'end' to close the 'case'");
    expect_error("upper(sensor) + 1", 15, "arithmetic needs numbers, not string and int");
}
END_TEST

/* A select computes new strings per record into the scratch arena. */
START_TEST(select_with_functions)
{
    select_list *s = NULL;
    ember_err err = {0};
    ck_assert_int_eq(select_compile("upper(sensor) as u, date_trunc('hour', ts) as h, "
                                    "to_iso(ts) as iso",
                                    &sch, &s, &err),
                     0);
    ck_assert_int_eq(s->out.f[0].type, EMBER_STRING);
    ck_assert_int_eq(s->out.f[1].type, EMBER_INT);
    ember_value out_vals[3];
    ember_record out = {0, out_vals};
    select_eval(s, &rec, &scratch, &out);
    ck_assert_int_eq(out.n, 3);
    ck_assert_int_eq(out_vals[0].u.s.len, 2);
    ck_assert_mem_eq(out_vals[0].u.s.ptr, "S1", 2);
    ck_assert_int_eq(out_vals[1].u.i, 1699999200000);
    ck_assert_int_eq(out_vals[2].u.s.len, 24);
    select_free(s);
}
END_TEST

static Suite *functions_suite(void)
{
    Suite *s = suite_create("functions");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, string_functions);
    tcase_add_test(tc, split_part_counts_from_one_and_from_the_end);
    tcase_add_test(tc, like_and_regexp_extract);
    tcase_add_test(tc, math_functions);
    tcase_add_test(tc, least_greatest_coalesce_nullif);
    tcase_add_test(tc, if_and_case);
    tcase_add_test(tc, in_and_between);
    tcase_add_test(tc, cast_between_types);
    tcase_add_test(tc, time_functions_on_epoch_milliseconds);
    tcase_add_test(tc, null_arguments_give_null);
    tcase_add_test(tc, function_names_are_case_insensitive);
    tcase_add_test(tc, unknown_function_lists_the_known_ones);
    tcase_add_test(tc, argument_counts_name_the_function_column);
    tcase_add_test(tc, argument_types_name_the_argument_column);
    tcase_add_test(tc, select_with_functions);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(functions_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
