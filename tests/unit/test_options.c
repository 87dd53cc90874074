/* test_options: option tables (types, defaults, unknown/missing options) and
 * the PLAN record codec, against values written out by hand. */
#include "core/base/options.h"
#include "core/source/source.h"

#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const opt_def defs[] = {
    {"path", OPT_STR, NULL, NULL, "required"},
    {"size", OPT_SIZE, "64MB", NULL, "a size"},
    {"every", OPT_DURATION, "1s", NULL, "a duration"},
    {"mode", OPT_ENUM, "fail", "fail|skip|dead-letter:", "an enum"},
    {"on", OPT_BOOL, "false", NULL, "a bool"},
    {0},
};

START_TEST(units_are_converted)
{
    int64_t v;
    ck_assert_int_eq(opts_parse_value(OPT_SIZE, "64KB", &v), 0);
    ck_assert_int_eq(v, 65536);
    ck_assert_int_eq(opts_parse_value(OPT_SIZE, "3GB", &v), 0);
    ck_assert_int_eq(v, 3LL << 30);
    ck_assert_int_eq(opts_parse_value(OPT_DURATION, "500ms", &v), 0);
    ck_assert_int_eq(v, 500);
    ck_assert_int_eq(opts_parse_value(OPT_DURATION, "5m", &v), 0);
    ck_assert_int_eq(v, 300000);
    ck_assert_int_eq(opts_parse_value(OPT_DURATION, "2h", &v), 0);
    ck_assert_int_eq(v, 7200000);
    ck_assert_int_ne(opts_parse_value(OPT_DURATION, "fast", &v), 0);
    ck_assert_int_ne(opts_parse_value(OPT_INT, "-3", &v), 0);
    ck_assert_int_ne(opts_parse_value(OPT_SIZE, "12XB", &v), 0);
}
END_TEST

START_TEST(defaults_and_given_values)
{
    ember_opt in[] = {{"path", "/tmp/x"}, {"mode", "dead-letter:/tmp/bad"}, {"on", "yes"}};
    opt_set s = {0};
    ember_err err = {0};
    ck_assert_int_eq(opts_bind(defs, in, 3, &s, &err), 0);
    ck_assert_str_eq(opts_str(&s, "path"), "/tmp/x");
    ck_assert_int_eq(opts_int(&s, "size"), 64 << 20);
    ck_assert_int_eq(opts_int(&s, "every"), 1000);
    ck_assert_str_eq(opts_str(&s, "mode"), "dead-letter:/tmp/bad");
    ck_assert_int_eq(opts_int(&s, "on"), 1);
    opts_free(&s);
}
END_TEST

START_TEST(override_replaces_a_bound_value)
{
    ember_opt in[] = {{"path", "/tmp/x"}};
    opt_set s = {0};
    ember_err err = {0};
    ck_assert_int_eq(opts_bind(defs, in, 1, &s, &err), 0);
    ck_assert_int_eq(opts_override(&s, "path", "/tmp/y"), 0);
    ck_assert_int_eq(opts_override(&s, "size", "1KB"), 0);
    ck_assert_str_eq(opts_str(&s, "path"), "/tmp/y");
    ck_assert_int_eq(opts_int(&s, "size"), 1024);
    ck_assert_int_eq(opts_override(&s, "nope", "1"), -ENOENT);
    opts_free(&s);
}
END_TEST

START_TEST(bad_options_name_their_index)
{
    opt_set s = {0};
    ember_err err = {0};
    ember_opt unknown[] = {{"path", "a"}, {"colour", "red"}};
    ck_assert_int_eq(opts_bind(defs, unknown, 2, &s, &err), -EMBER_EUSAGE);
    ck_assert_int_eq(err.col, 2);
    ck_assert_ptr_nonnull(strstr(err.msg, "unknown option 'colour'"));
    ember_opt twice[] = {{"path", "a"}, {"path", "b"}};
    ck_assert_int_eq(opts_bind(defs, twice, 2, &s, &err), -EMBER_EUSAGE);
    ck_assert_int_eq(err.col, 2);
    ember_opt missing[] = {{"size", "1MB"}};
    ck_assert_int_eq(opts_bind(defs, missing, 1, &s, &err), -EMBER_EUSAGE);
    ck_assert_ptr_nonnull(strstr(err.msg, "missing required option 'path'"));
    ember_opt badenum[] = {{"path", "a"}, {"mode", "explode"}};
    ck_assert_int_eq(opts_bind(defs, badenum, 2, &s, &err), -EMBER_EUSAGE);
    ck_assert_int_eq(err.col, 2);
}
END_TEST

static const opt_def prefixed_defs[] = {
    {"topic", OPT_STR, NULL, NULL, "required"},
    {"kafka.", OPT_STR, "", NULL, "a prefix entry"},
    {0},
};

START_TEST(prefix_entry_collects_its_options_in_order)
{
    ember_opt in[] = {{"kafka.linger.ms", "5"}, {"topic", "t"}, {"kafka.acks", "all"}};
    opt_set s = {0};
    ember_err err = {0};
    ck_assert_int_eq(opts_bind(prefixed_defs, in, 3, &s, &err), 0);
    ck_assert_uint_eq(s.n_prefixed, 2);
    ck_assert_str_eq(s.prefixed[0].key, "kafka.linger.ms");
    ck_assert_str_eq(s.prefixed[0].value, "5");
    ck_assert_int_eq(s.prefixed[0].col, 1);
    ck_assert_str_eq(s.prefixed[1].key, "kafka.acks");
    ck_assert_int_eq(s.prefixed[1].col, 3);
    ck_assert_str_eq(opts_str(&s, "topic"), "t");
    ck_assert_ptr_eq(opts_find_def(prefixed_defs, "kafka.x"), &prefixed_defs[1]);
    ck_assert_ptr_null(opts_find_def(prefixed_defs, "kafkax"));
    opts_free(&s);
}
END_TEST

START_TEST(prefix_entry_refuses_twice_empty_and_bare)
{
    opt_set s = {0};
    ember_err err = {0};
    ember_opt twice[] = {{"topic", "t"}, {"kafka.acks", "1"}, {"kafka.acks", "all"}};
    ck_assert_int_eq(opts_bind(prefixed_defs, twice, 3, &s, &err), -EMBER_EUSAGE);
    ck_assert_int_eq(err.col, 3);
    ck_assert_ptr_nonnull(strstr(err.msg, "'kafka.acks' given twice"));
    ember_opt empty[] = {{"topic", "t"}, {"kafka.acks", ""}};
    ck_assert_int_eq(opts_bind(prefixed_defs, empty, 2, &s, &err), -EMBER_EUSAGE);
    ck_assert_int_eq(err.col, 2);
    ember_opt bare[] = {{"topic", "t"}, {"kafka.", "x"}};
    ck_assert_int_eq(opts_bind(prefixed_defs, bare, 2, &s, &err), -EMBER_EUSAGE);
    ck_assert_ptr_nonnull(strstr(err.msg, "kafka.NAME=VALUE"));
    ember_opt none[] = {{"topic", "t"}};
    ck_assert_int_eq(opts_bind(prefixed_defs, none, 1, &s, &err), 0);
    ck_assert_uint_eq(s.n_prefixed, 0);
    opts_free(&s);
}
END_TEST

/* issue 20: interval=5 was silently 5 ms; a duration needs its unit (0 is
 * 0 in any unit). */
START_TEST(durations_need_a_unit)
{
    int64_t v = -1;
    ck_assert_int_eq(opts_parse_value(OPT_DURATION, "5", &v), -EDOM);
    ck_assert_int_eq(opts_parse_value(OPT_DURATION, "0", &v), 0);
    ck_assert_int_eq(v, 0);
    ck_assert_int_eq(opts_parse_value(OPT_DURATION, "5s", &v), 0);
    ck_assert_int_eq(v, 5000);
    ck_assert_int_eq(opts_parse_value(OPT_INT, "5", &v), 0); /* ints and sizes may be bare */
    ck_assert_int_eq(opts_parse_value(OPT_SIZE, "4096", &v), 0);
    opt_set s = {0};
    ember_err err = {0};
    ember_opt bare[] = {{"path", "a"}, {"every", "5"}};
    ck_assert_int_eq(opts_bind(defs, bare, 2, &s, &err), -EMBER_EUSAGE);
    ck_assert_int_eq(err.col, 2);
    ck_assert_msg(strstr(err.msg, "option 'every': '5' needs a unit: 5ms, 5s, 5m or 5h"), "%s",
                  err.msg);
}
END_TEST

/* issue 20: a misspelt option or enum value gets the closest name; a word
 * close to none gets the list of options. */
START_TEST(unknown_names_get_a_suggestion)
{
    opt_set s = {0};
    ember_err err = {0};
    ember_opt typo[] = {{"path", "a"}, {"sise", "1MB"}};
    ck_assert_int_eq(opts_bind(defs, typo, 2, &s, &err), -EMBER_EUSAGE);
    ck_assert_msg(strstr(err.msg, "unknown option 'sise'; did you mean 'size'?"), "%s", err.msg);
    ember_opt far[] = {{"path", "a"}, {"colour", "red"}};
    ck_assert_int_eq(opts_bind(defs, far, 2, &s, &err), -EMBER_EUSAGE);
    ck_assert_msg(strstr(err.msg, "(options: path, size, every, mode, on)"), "%s", err.msg);
    ember_opt value[] = {{"path", "a"}, {"mode", "skp"}};
    ck_assert_int_eq(opts_bind(defs, value, 2, &s, &err), -EMBER_EUSAGE);
    ck_assert_msg(strstr(err.msg, "did you mean 'skip'?"), "%s", err.msg);
}
END_TEST

START_TEST(plan_round_trip_and_damage)
{
    src_range r[3] = {{0, 10, 20}, {7, 0, 0}, {4294967295u, 1ull << 40, (1ull << 40) + 5}};
    uint8_t buf[128];
    size_t n = plan_encoded_bytes(3);
    ck_assert_uint_eq(n, 12 + 3 * 20);
    plan_encode(1700000000123ull, r, 3, buf);
    /* little-endian batch time in the first 8 bytes */
    ck_assert_uint_eq(buf[0], 0x7b);
    ck_assert_uint_eq(buf[8], 3);
    uint64_t t;
    src_range *out = NULL;
    size_t count;
    ember_err err = {0};
    ck_assert_int_eq(plan_decode(buf, n, &t, &out, &count, &err), 0);
    ck_assert_uint_eq(t, 1700000000123ull);
    ck_assert_uint_eq(count, 3);
    for (int i = 0; i < 3; i++) {
        ck_assert_uint_eq(out[i].partition, r[i].partition);
        ck_assert_uint_eq(out[i].from, r[i].from);
        ck_assert_uint_eq(out[i].to, r[i].to);
    }
    free(out);
    ck_assert_int_eq(plan_decode(buf, n - 1, &t, &out, &count, &err), -EMBER_ECORRUPT);
    buf[12 + 20 + 4] = 9; /* partition 7's from becomes 9 > to = 0 */
    ck_assert_int_eq(plan_decode(buf, n, &t, &out, &count, &err), -EMBER_ECORRUPT);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("options");
    TCase *tc = tcase_create("options");
    tcase_add_test(tc, units_are_converted);
    tcase_add_test(tc, defaults_and_given_values);
    tcase_add_test(tc, override_replaces_a_bound_value);
    tcase_add_test(tc, bad_options_name_their_index);
    tcase_add_test(tc, durations_need_a_unit);
    tcase_add_test(tc, prefix_entry_collects_its_options_in_order);
    tcase_add_test(tc, prefix_entry_refuses_twice_empty_and_bare);
    tcase_add_test(tc, unknown_names_get_a_suggestion);
    tcase_add_test(tc, plan_round_trip_and_damage);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
