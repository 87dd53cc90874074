/* test_endian: core/base/endian.h — byte order written out by hand, round
 * trips, and big-endian keys sorting as their numbers. */
#include "core/base/endian.h"

#include <check.h>
#include <string.h>

START_TEST(little_endian_byte_order)
{
    uint8_t b[8];
    const uint8_t want[8] = {0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01};
    put_u64le(b, 0x0102030405060708ull);
    ck_assert_mem_eq(b, want, 8);
    ck_assert_uint_eq(get_u64le(want), 0x0102030405060708ull);
    put_u32le(b, 0xdeadbeefu);
    ck_assert_uint_eq(b[0], 0xef);
    ck_assert_uint_eq(get_u32le(b), 0xdeadbeefu);
}
END_TEST

START_TEST(big_endian_byte_order)
{
    uint8_t b[8];
    const uint8_t want[8] = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08};
    put_u64be(b, 0x0102030405060708ull);
    ck_assert_mem_eq(b, want, 8);
    ck_assert_uint_eq(get_u64be(want), 0x0102030405060708ull);
}
END_TEST

START_TEST(big_endian_keys_sort_as_numbers)
{
    const uint64_t v[] = {0, 1, 255, 256, 65535, 1ull << 32, UINT64_MAX - 1, UINT64_MAX};
    for (size_t i = 0; i + 1 < sizeof v / sizeof v[0]; i++) {
        uint8_t a[8], b[8];
        put_u64be(a, v[i]);
        put_u64be(b, v[i + 1]);
        ck_assert_int_lt(memcmp(a, b, 8), 0);
        ck_assert_uint_eq(get_u64be(a), v[i]);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("endian");
    TCase *tc = tcase_create("endian");
    tcase_add_test(tc, little_endian_byte_order);
    tcase_add_test(tc, big_endian_byte_order);
    tcase_add_test(tc, big_endian_keys_sort_as_numbers);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
