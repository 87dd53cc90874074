/* test_expr: core/expr.c — precedence against values worked out by hand,
 * result types, type and syntax errors with their exact columns, NULL
 * semantics, division by zero, strings, and select lists. */
#include "core/ops/expr.h"

#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Input schema of every test: sensor, ts:int, temp:float, city. */
static schema sch;
static ember_value vals[4];
static ember_record rec = {4, vals};
static arena scratch; /* strings computed by functions; freed by teardown */

static void teardown(void)
{
    arena_free(&scratch);
}

static void setup(void)
{
    arena_init(&scratch, 4096);
    ember_err err = {0};
    ck_assert_int_eq(schema_parse(&sch, "sensor,ts:int,temp:float,city", &err), 0);
    vals[0] = (ember_value){.type = EMBER_STRING, .u.s = {"s1", 2}};
    vals[1] = (ember_value){.type = EMBER_INT, .u.i = 10};
    vals[2] = (ember_value){.type = EMBER_FLOAT, .u.f = 20.0};
    vals[3] = (ember_value){.type = EMBER_NULL};
}

static expr *compile_ok(const char *text)
{
    expr *e = NULL;
    ember_err err = {0};
    int rc = expr_compile(text, &sch, &e, &err);
    ck_assert_msg(rc == 0, "'%s' failed at col %d: %s", text, err.col, err.msg);
    ck_assert_ptr_nonnull(e);
    return e;
}

static ember_value eval(const char *text)
{
    ember_value v;
    expr *e = compile_ok(text);
    expr_eval(e, &rec, &scratch, &v);
    expr_free(e);
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
    ck_assert_msg(fabs(v.u.f - want) < 1e-9, "'%s' = %g, expected %g", text, v.u.f, want);
}

static void expect_bool(const char *text, int want)
{
    ember_value v = eval(text);
    ck_assert_msg(v.type == EMBER_BOOL, "'%s' has type %s", text, ember_type_name(v.type));
    ck_assert_msg(v.u.i == want, "'%s' is %lld, expected %d", text, (long long)v.u.i, want);
}

static void expect_null(const char *text)
{
    ember_value v = eval(text);
    ck_assert_msg(v.type == EMBER_NULL, "'%s' has type %s, expected null", text,
                  ember_type_name(v.type));
}

static void expect_error(const char *text, int col, const char *what)
{
    expr *e = NULL;
    ember_err err = {0};
    ck_assert_msg(expr_compile(text, &sch, &e, &err) == -EMBER_EUSAGE, "'%s' compiled", text);
    ck_assert_ptr_null(e);
    ck_assert_msg(err.col == col, "'%s': col %d, expected %d (%s)", text, err.col, col, err.msg);
    ck_assert_msg(strstr(err.msg, what) != NULL, "'%s': '%s' does not say '%s'", text, err.msg,
                  what);
}

/* ------------------------------------------------------------ precedence */

START_TEST(arithmetic_precedence)
{
    expect_int("2+3*4", 14);
    expect_int("(2+3)*4", 20);
    expect_int("-2*3", -6);
    expect_int("2*-3", -6);
    expect_int("10-4-3", 3); /* left associative: (10-4)-3 */
    expect_int("2*3%4", 2);  /* (2*3)%4 */
    expect_int("2+3%2", 3);  /* 2+(3%2) */
    expect_int("-(2+3)", -5);
    expect_int("- -4", 4);
    expect_int("1 - -1", 2);
    expect_int("ts * 2 + ts", 30);
    expect_int("-ts", -10);
    expect_float("7/2", 3.5); /* int / int is float */
    expect_float("12/4/2", 1.5);
    expect_float("temp * 1.8 + 32", 68.0);
    expect_float("-temp", -20.0);
    expect_float(".5 + 1e1 + 2.5E-1", 10.75);
}
END_TEST

START_TEST(boolean_precedence)
{
    expect_bool("not false and false", 0);     /* (not false) and false */
    expect_bool("true or false and false", 1); /* true or (false and false) */
    expect_bool("false and true or true", 1);  /* (false and true) or true */
    expect_bool("not 1 > 2", 1);               /* not (1 > 2) */
    expect_bool("not not true", 1);
    expect_bool("not (true or true)", 0);
    expect_bool("1 + 1 == 2 and 2 * 3 > 5", 1);
    expect_bool("ts > 5 and temp < 30.5 or sensor == 'x'", 1);
}
END_TEST

START_TEST(keywords_are_case_insensitive)
{
    expect_bool("NOT FALSE AND True", 1);
    expect_bool("false Or TRUE", 1);
}
END_TEST

START_TEST(comparison_operators)
{
    expect_bool("ts = 10", 1);
    expect_bool("ts == 10", 1);
    expect_bool("ts != 10", 0);
    expect_bool("ts < 10", 0);
    expect_bool("ts <= 10", 1);
    expect_bool("ts > 9", 1);
    expect_bool("ts >= 11", 0);
    expect_bool("ts == 10.0", 1); /* int against float compares numerically */
    expect_bool("ts > 9.5", 1);
    expect_bool("temp >= ts * 2", 1);
    expect_bool("true == true", 1);
    expect_bool("(ts > 1) != (ts > 100)", 1);
}
END_TEST

/* ----------------------------------------------------------------- types */

START_TEST(result_types)
{
    static const struct {
        const char *text;
        ember_type type;
    } cases[] = {{"ts + 1", EMBER_INT},    {"ts + 1.0", EMBER_FLOAT}, {"ts / 2", EMBER_FLOAT},
                 {"ts % 3", EMBER_INT},    {"temp % 2", EMBER_FLOAT}, {"-ts", EMBER_INT},
                 {"temp > 3", EMBER_BOOL}, {"sensor", EMBER_STRING},  {"'x'", EMBER_STRING},
                 {"true", EMBER_BOOL},     {"(ts)", EMBER_INT},       {"1e3", EMBER_FLOAT}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        expr *e = compile_ok(cases[i].text);
        ck_assert_msg(expr_type(e) == cases[i].type, "'%s' is %s", cases[i].text,
                      ember_type_name(expr_type(e)));
        expr_free(e);
    }
}
END_TEST

START_TEST(type_errors_point_at_the_operator)
{
    expect_error("sensor > 3", 8, "cannot compare string with int");
    expect_error("sensor = temp", 8, "cannot compare string with float");
    expect_error("true < false", 6, "cannot compare boolean with boolean");
    expect_error("ts > 1 == true", 8, "comparisons cannot be chained");
    expect_error("temp + sensor", 6, "arithmetic needs numbers, not float and string");
    expect_error("ts * (ts > 1)", 4, "arithmetic needs numbers");
    expect_error("1 + 2 * 'a'", 7, "arithmetic needs numbers");
}
END_TEST

START_TEST(logic_errors_point_at_the_operand)
{
    expect_error("temp > 1 and ts", 14, "'and' needs conditions");
    expect_error("ts or temp > 1", 1, "'or' needs conditions");
    expect_error("not ts", 5, "'not' needs a condition");
    expect_error("not (ts + 1)", 5, "'not' needs a condition");
    expect_error("-sensor", 1, "cannot negate a string");
    expect_error("- -'a'", 3, "cannot negate a string");
}
END_TEST

START_TEST(names_and_syntax_errors)
{
    expect_error("tmp > 3", 1, "unknown field 'tmp'");
    expect_error("temp > tmp", 8, "unknown field 'tmp'");
    expect_error("Temp > 1", 1, "unknown field 'Temp'"); /* field names are case-sensitive */
    expect_error("(temp > 1", 10, "expected ')'");
    expect_error("((1)", 5, "expected ')' to close the '(' at column 1");
    expect_error("temp > ", 8, "expected a value");
    expect_error("", 1, "expected a value");
    expect_error("temp >> 1", 7, "expected a value, a field or '(', not '>'");
    expect_error("temp ! 1", 6, "expected '!='");
    expect_error("sensor == 'a", 11, "unterminated string");
    expect_error("ts > 99999999999999999999", 6, "out of range");
    expect_error("temp > 1e999", 8, "out of range");
    expect_error("temp $ 1", 6, "unexpected character '$'");
    expect_error("temp > 1 extra", 10, "unexpected 'extra'");
    expect_error("temp > 1)", 9, "unexpected ')'");
    expect_error("ts and", 7, "expected a value");
    expect_error("temp as t", 6, "unexpected 'as'");
}
END_TEST

START_TEST(deep_nesting_is_an_error_not_a_crash)
{
    char text[2100];
    memset(text, '(', 1000);
    text[1000] = '1';
    memset(text + 1001, ')', 1000);
    text[2001] = '\0';
    expect_error(text, 201, "nested too deeply");
    memset(text, '-', 2000); /* unary chains do not recurse */
    strcpy(text + 2000, "1");
    expect_int(text, 1);
}
END_TEST

/* "ts OP ts OP ... ts" with n terms (caller frees). */
static char *chain(const char *first, const char *op_term, int n)
{
    size_t a = strlen(first), b = strlen(op_term), len = a + (size_t)(n - 1) * b;
    char *t = malloc(len + 1);
    memcpy(t, first, a);
    for (int i = 1; i < n; i++)
        memcpy(t + a + (size_t)(i - 1) * b, op_term, b);
    t[len] = '\0';
    return t;
}

/* A 400k-term sum overflowed the stack in expr_eval, 1M terms in expr_free:
 * compiling refuses what would nest deeper than EXPR_MAX_DEPTH levels, at
 * the operator that crosses it, and frees what it built. */
START_TEST(deep_sums_are_refused_at_the_operator)
{
    int sizes[] = {400000, 1000000, EXPR_MAX_DEPTH + 1};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        char *t = chain("ts", " + ts", sizes[i]);
        expect_error(t, 5 * EXPR_MAX_DEPTH - 1, "nested too deeply"); /* the MAX-th '+' */
        free(t);
        t = chain("temp", "*temp", sizes[i]);
        expect_error(t, 5 * EXPR_MAX_DEPTH, "nested too deeply");
        free(t);
    }
    char *t = chain("ts", " + ts", EXPR_MAX_DEPTH); /* the deepest that loads */
    expect_int(t, 10 * EXPR_MAX_DEPTH);
    free(t);
    t = chain("ts", " - ts", EXPR_MAX_DEPTH); /* the comparison is one level more */
    char *cmp = malloc(strlen(t) + 8);
    sprintf(cmp, "%s > 0", t);
    expect_error(cmp, (int)strlen(t) + 2, "nested too deeply");
    free(cmp);
    free(t);
}
END_TEST

/* 100k unary minus signs overflowed the stack too: two cancel exactly (ints
 * wrap, floats flip the sign), so any number loads, and evaluates right. */
START_TEST(unary_minus_chains_cancel)
{
    char *t = chain("-", "-", 100000);
    char *e = malloc(100000 + 8);
    sprintf(e, "%sts", t);
    expect_int(e, 10);
    sprintf(e, "-%sts", t);
    expect_int(e, -10);
    sprintf(e, "-%stemp", t);
    expect_float(e, -20.0);
    sprintf(e, "%s'a'", t);
    expect_error(e, 100000, "cannot negate a string");
    free(e);
    free(t);
    expect_int("- - -ts", -10);
    expect_int("- -(-9223372036854775807 - 1)", INT64_MIN);
    expect_float("- - -(-0.5)", 0.5);
}
END_TEST

/* Long and/or chains (generated filters) are built balanced: any number of
 * conditions loads, evaluates left to right and stops at the first that
 * decides. */
START_TEST(long_and_or_chains_load_and_short_circuit)
{
    int n = 100000;
    char *t = chain("ts = 1", " or ts = 1", n);
    expect_bool(t, 0);
    free(t);
    t = chain("ts = 1", " or ts = 1", n);
    size_t len = strlen(t);
    t = realloc(t, len + 16);
    strcpy(t + len, " or ts = 10");
    expect_bool(t, 1);
    free(t);
    t = chain("ts = 10", " and ts > 1", n);
    expect_bool(t, 1);
    free(t);
    t = chain("ts = 10", " and ts > 1", n);
    len = strlen(t);
    t = realloc(t, len + 16);
    strcpy(t + len, " and ts > 99");
    expect_bool(t, 0);
    free(t);
    /* a NULL comparison makes a chain of false ones NULL, wherever it sits */
    t = chain("city = 'x'", " or ts = 1", 1000);
    expect_null(t);
    free(t);
    t = chain("not not (ts > 1)", " and not not (ts > 1)", 5000);
    expect_bool(t, 1);
    free(t);
    /* operand type errors still point at the operand */
    t = chain("ts > 1", " or ts > 1", 5000);
    len = strlen(t);
    t = realloc(t, len + 16);
    strcpy(t + len, " or temp");
    expect_error(t, (int)len + 5, "'or' needs conditions");
    free(t);
}
END_TEST

/* A failed compile deep inside a long chain frees every operand (ASan's leak
 * check sees the rest). */
START_TEST(errors_inside_long_chains_free_everything)
{
    char *t = chain("ts > 1", " and ts > 1", 20000);
    size_t len = strlen(t);
    t = realloc(t, len + 16);
    strcpy(t + len, " and tmp > 1");
    expect_error(t, (int)len + 6, "unknown field 'tmp'");
    free(t);
    select_list *s = NULL;
    ember_err err = {0};
    t = chain("ts", " + ts", 5000);
    char *list = malloc(strlen(t) + 32);
    sprintf(list, "sensor, %s as total", t);
    ck_assert_int_eq(select_compile(list, &sch, &s, &err), -EMBER_EUSAGE);
    ck_assert_ptr_nonnull(strstr(err.msg, "nested too deeply"));
    ck_assert_int_eq(err.col, 8 + 5 * EXPR_MAX_DEPTH - 1); /* after "sensor, " */
    free(list);
    free(t);
}
END_TEST

/* ------------------------------------------------------------------ NULL */

START_TEST(arithmetic_on_null_is_null)
{
    vals[2].type = EMBER_NULL;
    expect_null("temp + 1");
    expect_null("temp * 1.8 + 32");
    expect_null("-temp");
    expect_null("ts / temp");
    expect_null("city");
}
END_TEST

START_TEST(comparisons_with_null_are_null)
{
    vals[2].type = EMBER_NULL;
    expect_null("temp > 1");
    expect_null("temp <= 1");
    expect_null("temp == temp");
    expect_null("temp != 1");
    expect_null("city == 'x'");
    expect_null("city != 'x'");
    expect_null("temp + 1 > 0");
    expect_null("not (temp > 1)"); /* not NULL is NULL */
    expect_null("not not (temp > 1)");
    expect_bool("temp > 1 or ts == 10", 1);
    expect_bool("temp > 1 and ts == 11", 0);
    expect_null("temp > 1 and ts == 10");
}
END_TEST

/* Every pair of true, false and NULL (city = NULL makes "city = 'x'" NULL),
 * against SQL's tables: false and NULL = false, true or NULL = true. */
START_TEST(and_or_are_three_valued)
{
    static const char *const v[] = {"true", "false", "city = 'x'"};
    static const int and_t[3][3] = {{1, 0, -1}, {0, 0, 0}, {-1, 0, -1}};
    static const int or_t[3][3] = {{1, 1, 1}, {1, 0, -1}, {1, -1, -1}};
    char text[96];
    for (int i = 0; i < 3; i++) {
        for (int j = 0; j < 3; j++) {
            snprintf(text, sizeof text, "%s and %s", v[i], v[j]);
            and_t[i][j] < 0 ? expect_null(text) : expect_bool(text, and_t[i][j]);
            snprintf(text, sizeof text, "%s or %s", v[i], v[j]);
            or_t[i][j] < 0 ? expect_null(text) : expect_bool(text, or_t[i][j]);
        }
        snprintf(text, sizeof text, "not %s", v[i]);
        i == 2 ? expect_null(text) : expect_bool(text, i == 1);
    }
    /* a long chain: one false decides, else one NULL makes it NULL */
    expect_bool("true and city = 'x' and true and false and true", 0);
    expect_null("true and city = 'x' and true and true");
    expect_bool("false or city = 'x' or false or true", 1);
    expect_null("false or city = 'x' or false");
}
END_TEST

START_TEST(is_null_is_never_null)
{
    expect_bool("city is null", 1);
    expect_bool("city is not null", 0);
    expect_bool("sensor IS NULL", 0);
    expect_bool("sensor is not null", 1);
    expect_bool("ts / 0 is null", 1);
    expect_bool("(city = 'x') is null", 1);
    expect_bool("not (city = 'x') or city is null", 1);
    expect_error("city is nul", 9, "expected 'null' after 'is'");
}
END_TEST

START_TEST(filter_drops_null)
{
    expr *e = compile_ok("city = 'x' or ts > 100");
    ck_assert_int_eq(expr_is_true(e, &rec, &scratch), 0); /* NULL: dropped */
    expr_free(e);
    e = compile_ok("not (city = 'x')");
    ck_assert_int_eq(expr_is_true(e, &rec, &scratch), 0); /* NULL, not true */
    expr_free(e);
    e = compile_ok("city = 'x' or ts = 10");
    ck_assert_int_eq(expr_is_true(e, &rec, &scratch), 1);
    expr_free(e);
}
END_TEST

START_TEST(division_and_modulo_by_zero_are_null)
{
    expect_null("ts / 0");
    expect_null("ts % 0");
    expect_null("temp / 0");
    expect_null("temp / 0.0");
    expect_null("temp % 0.0");
    expect_null("ts / (ts - 10)"); /* zero found at run time */
    expect_null("ts / 0 > 1");
    expect_int("ts % 3", 1);
    expect_int("-7 % 3", -1); /* C and SQL: sign of the dividend */
    expect_float("temp % 6", 2.0);
    expect_int("(-9223372036854775807 - 1) % -1", 0); /* INT64_MIN % -1 does not trap */
}
END_TEST

START_TEST(int_overflow_wraps)
{
    expect_int("9223372036854775807 + 1", INT64_MIN);
    expect_int("-(-9223372036854775807 - 1)", INT64_MIN);
}
END_TEST

/* --------------------------------------------------------------- strings */

START_TEST(string_comparisons)
{
    expect_bool("sensor == \"s1\"", 1);
    expect_bool("sensor = 's1'", 1);
    expect_bool("sensor != 's2'", 1);
    expect_bool("sensor == 's'", 0);
    expect_bool("sensor == 's10'", 0);
    expect_bool("sensor < 's2'", 1);
    expect_bool("'abc' < 'abd'", 1);
    expect_bool("'ab' < 'abc'", 1);
    expect_bool("'' < 'a'", 1);
    expect_bool("'B' < 'a'", 1);          /* bytes, not locale */
    expect_bool("'it\"s' == 'it\"s'", 1); /* the other quote is plain text */
}
END_TEST

START_TEST(filter_helper)
{
    expr *e = compile_ok("ts > 5 and sensor != 'test'");
    ck_assert_int_eq(expr_is_true(e, &rec, &scratch), 1);
    vals[0].u.s = (ember_str){"test", 4};
    ck_assert_int_eq(expr_is_true(e, &rec, &scratch), 0);
    vals[1].type = EMBER_NULL;
    vals[0].u.s = (ember_str){"s1", 2};
    ck_assert_int_eq(expr_is_true(e, &rec, &scratch), 0);
    expr_free(e);
    e = compile_ok("ts + 1");
    ck_assert_int_eq(expr_is_true(e, &rec, &scratch), 0); /* not a boolean */
    expr_free(e);
}
END_TEST

/* ---------------------------------------------------------------- select */

START_TEST(select_computes_and_names_columns)
{
    select_list *s = NULL;
    ember_err err = {0};
    ck_assert_int_eq(select_compile("sensor, temp * 1.8 + 32 as temp_f, ts AS t, 'v1' as ver, "
                                    "(ts > 5) as hot",
                                    &sch, &s, &err),
                     0);
    ck_assert_int_eq(s->n, 5);
    ck_assert_int_eq(s->out.n, 5);
    ck_assert_str_eq(s->out.f[0].name, "sensor");
    ck_assert_int_eq(s->out.f[0].type, EMBER_STRING);
    ck_assert_str_eq(s->out.f[1].name, "temp_f");
    ck_assert_int_eq(s->out.f[1].type, EMBER_FLOAT);
    ck_assert_str_eq(s->out.f[2].name, "t");
    ck_assert_int_eq(s->out.f[2].type, EMBER_INT);
    ck_assert_str_eq(s->out.f[3].name, "ver");
    ck_assert_int_eq(s->out.f[4].type, EMBER_BOOL);

    ember_value out_vals[5];
    ember_record out = {0, out_vals};
    select_eval(s, &rec, &scratch, &out);
    ck_assert_uint_eq(out.n, 5);
    ck_assert_uint_eq(out_vals[0].u.s.len, 2);
    ck_assert(out_vals[1].type == EMBER_FLOAT && out_vals[1].u.f == 68.0); /* 20 * 1.8 + 32 */
    ck_assert_int_eq(out_vals[2].u.i, 10);
    ck_assert(out_vals[3].u.s.len == 2 && memcmp(out_vals[3].u.s.ptr, "v1", 2) == 0);
    ck_assert_int_eq(out_vals[4].u.i, 1);

    vals[2].type = EMBER_NULL;
    select_eval(s, &rec, &scratch, &out);
    ck_assert_int_eq(out_vals[1].type, EMBER_NULL);
    select_free(s);
}
END_TEST

START_TEST(select_output_feeds_the_next_step)
{
    select_list *s = NULL;
    ember_err err = {0};
    ck_assert_int_eq(select_compile("temp * 1.8 + 32 as temp_f", &sch, &s, &err), 0);
    expr *e = NULL;
    ck_assert_int_eq(expr_compile("temp_f > 60", &s->out, &e, &err), 0);
    ember_value out_vals[1];
    ember_record out = {0, out_vals};
    select_eval(s, &rec, &scratch, &out);
    ck_assert_int_eq(expr_is_true(e, &out, &scratch), 1);
    expr_free(e);
    ck_assert_int_eq(expr_compile("temp > 1", &s->out, &e, &err), -EMBER_EUSAGE);
    ck_assert_ptr_nonnull(strstr(err.msg, "unknown field 'temp'"));
    select_free(s);
}
END_TEST

static void expect_select_error(const char *text, int col, const char *what)
{
    select_list *s = NULL;
    ember_err err = {0};
    ck_assert_msg(select_compile(text, &sch, &s, &err) == -EMBER_EUSAGE, "'%s' compiled", text);
    ck_assert_ptr_null(s);
    ck_assert_msg(err.col == col, "'%s': col %d, expected %d (%s)", text, err.col, col, err.msg);
    ck_assert_msg(strstr(err.msg, what) != NULL, "'%s': '%s' does not say '%s'", text, err.msg,
                  what);
}

START_TEST(select_errors)
{
    expect_select_error("ts, temp * 2", 5, "needs a name: add 'as NAME'");
    expect_select_error("temp, ts as temp", 13, "column 'temp' selected twice");
    expect_select_error("temp as", 8, "expected a column name after 'as'");
    expect_select_error("temp as and", 9, "expected a column name after 'as'");
    expect_select_error("temp x", 6, "expected ',' or 'as NAME'");
    expect_select_error("temp,", 6, "expected a value");
    expect_select_error("sensor, tmp", 9, "unknown field 'tmp'");
    expect_select_error("sensor + 1 as x", 8, "arithmetic needs numbers");
}
END_TEST

static Suite *expr_suite(void)
{
    Suite *s = suite_create("expr");
    TCase *tc = tcase_create("expr");
    /* the leak check at each forked test's exit can take seconds on a busy machine */
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, arithmetic_precedence);
    tcase_add_test(tc, boolean_precedence);
    tcase_add_test(tc, keywords_are_case_insensitive);
    tcase_add_test(tc, comparison_operators);
    tcase_add_test(tc, result_types);
    tcase_add_test(tc, type_errors_point_at_the_operator);
    tcase_add_test(tc, logic_errors_point_at_the_operand);
    tcase_add_test(tc, names_and_syntax_errors);
    tcase_add_test(tc, deep_nesting_is_an_error_not_a_crash);
    tcase_add_test(tc, deep_sums_are_refused_at_the_operator);
    tcase_add_test(tc, unary_minus_chains_cancel);
    tcase_add_test(tc, long_and_or_chains_load_and_short_circuit);
    tcase_add_test(tc, errors_inside_long_chains_free_everything);
    tcase_add_test(tc, arithmetic_on_null_is_null);
    tcase_add_test(tc, comparisons_with_null_are_null);
    tcase_add_test(tc, and_or_are_three_valued);
    tcase_add_test(tc, is_null_is_never_null);
    tcase_add_test(tc, filter_drops_null);
    tcase_add_test(tc, division_and_modulo_by_zero_are_null);
    tcase_add_test(tc, int_overflow_wraps);
    tcase_add_test(tc, string_comparisons);
    tcase_add_test(tc, filter_helper);
    tcase_add_test(tc, select_computes_and_names_columns);
    tcase_add_test(tc, select_output_feeds_the_next_step);
    tcase_add_test(tc, select_errors);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(expr_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
