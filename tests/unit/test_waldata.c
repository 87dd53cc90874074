/*
 * test_waldata: checkpoint/waldata.c, the payload of a WAL DATA record.
 * Oracles: the documented layout (u64 little-endian length, then one LZ4
 * block) checked byte by byte and with liblz4 directly, not through the
 * decoder under test.
 */
#include "checkpoint/waldata.h"

#include <check.h>
#include <errno.h>
#include <lz4.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char LINES[] = "a,1,2.5\nb,2,3.5\nsensor-17,1700000000000,21.25\n";

static void encode(const char *raw, size_t n, char **out, size_t *out_n)
{
    ember_err err = {0};
    ck_assert_msg(waldata_encode(raw, n, out, out_n, &err) == 0, "%s", err.msg);
}

static void expect_corrupt(const void *buf, size_t n, const char *needle)
{
    ember_err err = {0};
    char *raw = (char *)0x1;
    size_t raw_n = 12345;
    ck_assert_int_eq(waldata_decode(buf, n, &raw, &raw_n, &err), -EMBER_ECORRUPT);
    ck_assert_int_eq(err.code, -EMBER_ECORRUPT);
    ck_assert_msg(strstr(err.msg, needle), "'%s' does not say '%s'", err.msg, needle);
    ck_assert_ptr_eq(raw, (char *)0x1); /* outputs untouched on failure */
    ck_assert_uint_eq(raw_n, 12345);
}

/* Deterministic bytes that LZ4 cannot shrink (xorshift). */
static void noise(char *buf, size_t n, uint64_t seed)
{
    for (size_t i = 0; i < n; i++) {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        buf[i] = (char)seed;
    }
}

/* ------------------------------------------------------------ round trip */

START_TEST(records_round_trip)
{
    ember_err err = {0};
    char *enc, *raw;
    size_t enc_n, raw_n;
    encode(LINES, strlen(LINES), &enc, &enc_n);
    ck_assert_int_eq(waldata_decode(enc, enc_n, &raw, &raw_n, &err), 0);
    ck_assert_uint_eq(raw_n, strlen(LINES));
    ck_assert_mem_eq(raw, LINES, raw_n);
    ck_assert_int_eq(raw[raw_n], '\0'); /* NUL-terminated as documented */
    free(raw);
    free(enc);
}
END_TEST

START_TEST(empty_payload_round_trips)
{
    ember_err err = {0};
    char *enc, *raw;
    size_t enc_n, raw_n = 99;
    encode("", 0, &enc, &enc_n);
    ck_assert_uint_ge(enc_n, 8);
    ck_assert_mem_eq(enc, "\0\0\0\0\0\0\0\0", 8);
    ck_assert_int_eq(waldata_decode(enc, enc_n, &raw, &raw_n, &err), 0);
    ck_assert_uint_eq(raw_n, 0);
    ck_assert_int_eq(raw[0], '\0');
    free(raw);
    free(enc);
}
END_TEST

START_TEST(incompressible_megabyte_round_trips)
{
    ember_err err = {0};
    size_t n = (1u << 20) + 3;
    char *in = malloc(n), *enc, *raw;
    size_t enc_n, raw_n;
    noise(in, n, 0x9e3779b97f4a7c15ull);
    encode(in, n, &enc, &enc_n);
    ck_assert_uint_le(enc_n, 8 + (size_t)LZ4_compressBound((int)n));
    ck_assert_int_eq(waldata_decode(enc, enc_n, &raw, &raw_n, &err), 0);
    ck_assert_uint_eq(raw_n, n);
    ck_assert_mem_eq(raw, in, n);
    free(raw);
    free(enc);
    free(in);
}
END_TEST

START_TEST(repetitive_input_is_compressed)
{
    size_t n = 100000;
    char *in = malloc(n), *enc;
    size_t enc_n;
    for (size_t i = 0; i < n; i++)
        in[i] = "k,1\n"[i % 4];
    encode(in, n, &enc, &enc_n);
    ck_assert_uint_lt(enc_n, n / 10);
    free(enc);
    free(in);
}
END_TEST

/* ------------------------------------------------------------ layout */

/* 300 = 0x012c: the prefix is 2c 01 00 00 00 00 00 00. */
START_TEST(length_prefix_is_little_endian)
{
    char in[300], *enc;
    size_t enc_n;
    memset(in, 'x', sizeof in);
    encode(in, sizeof in, &enc, &enc_n);
    ck_assert_mem_eq(enc, "\x2c\x01\0\0\0\0\0\0", 8);
    free(enc);
}
END_TEST

/* The bytes after the prefix are one plain LZ4 block (liblz4 decodes it). */
START_TEST(body_is_one_lz4_block)
{
    char *enc, out[sizeof LINES];
    size_t enc_n, n = strlen(LINES);
    encode(LINES, n, &enc, &enc_n);
    int d = LZ4_decompress_safe(enc + 8, out, (int)(enc_n - 8), (int)sizeof out);
    ck_assert_int_eq(d, (int)n);
    ck_assert_mem_eq(out, LINES, n);
    free(enc);
}
END_TEST

/* A payload framed here by hand, from liblz4's own output, decodes. */
START_TEST(hand_framed_payload_decodes)
{
    ember_err err = {0};
    size_t n = strlen(LINES);
    char buf[8 + 256], *raw;
    size_t raw_n;
    int c = LZ4_compress_default(LINES, buf + 8, (int)n, 256);
    ck_assert_int_gt(c, 0);
    for (int i = 0; i < 8; i++)
        buf[i] = (char)((uint64_t)n >> (8 * i));
    ck_assert_int_eq(waldata_decode(buf, 8 + (size_t)c, &raw, &raw_n, &err), 0);
    ck_assert_uint_eq(raw_n, n);
    ck_assert_mem_eq(raw, LINES, n);
    free(raw);
}
END_TEST

/* ------------------------------------------------------------ damage */

START_TEST(shorter_than_the_prefix_is_corrupt)
{
    char *enc;
    size_t enc_n;
    encode(LINES, strlen(LINES), &enc, &enc_n);
    for (size_t cut = 0; cut < 8; cut++)
        expect_corrupt(enc, cut, "too short");
    free(enc);
}
END_TEST

START_TEST(truncated_block_is_corrupt)
{
    char *enc;
    size_t enc_n;
    encode(LINES, strlen(LINES), &enc, &enc_n);
    for (size_t cut = 8; cut < enc_n; cut++) {
        char *copy = malloc(cut); /* exact size: ASan sees any read past it */
        memcpy(copy, enc, cut);
        expect_corrupt(copy, cut, "does not decompress");
        free(copy);
    }
    free(enc);
}
END_TEST

START_TEST(prefix_longer_than_the_block_is_corrupt)
{
    char *enc;
    size_t enc_n, n = strlen(LINES);
    encode(LINES, n, &enc, &enc_n);
    enc[0] = (char)(n + 1);
    expect_corrupt(enc, enc_n, "does not decompress");
    free(enc);
}
END_TEST

START_TEST(prefix_shorter_than_the_block_is_corrupt)
{
    char *enc;
    size_t enc_n, n = strlen(LINES);
    encode(LINES, n, &enc, &enc_n);
    enc[0] = (char)(n - 1);
    expect_corrupt(enc, enc_n, "does not decompress");
    enc[0] = 0;
    expect_corrupt(enc, enc_n, "does not decompress");
    free(enc);
}
END_TEST

START_TEST(absurd_length_is_corrupt_before_allocating)
{
    char *enc;
    size_t enc_n;
    encode(LINES, strlen(LINES), &enc, &enc_n);
    memcpy(enc, "\xff\xff\xff\xff\xff\xff\xff\xff", 8);
    expect_corrupt(enc, enc_n, "claims");
    uint64_t past = (uint64_t)LZ4_MAX_INPUT_SIZE + 1;
    for (int i = 0; i < 8; i++)
        enc[i] = (char)(past >> (8 * i));
    expect_corrupt(enc, enc_n, "claims");
    free(enc);
}
END_TEST

START_TEST(garbage_block_is_corrupt)
{
    char buf[8 + 64];
    memcpy(buf, "\x40\0\0\0\0\0\0\0", 8); /* claims 64 bytes */
    memset(buf + 8, 0xff, 64);            /* literal lengths that run off the end */
    expect_corrupt(buf, sizeof buf, "does not decompress");
}
END_TEST

/* LZ4 has no checksum (the WAL frame's xxh64 catches flipped bytes), so a
 * flip may decode to other text; it must never decode to another length or
 * touch memory outside the buffers (ASan). */
START_TEST(flipped_byte_never_changes_the_length)
{
    char *enc;
    size_t enc_n, n = strlen(LINES);
    encode(LINES, n, &enc, &enc_n);
    for (size_t i = 8; i < enc_n; i++) {
        for (int bit = 0; bit < 8; bit++) {
            ember_err err = {0};
            char *raw = NULL;
            size_t raw_n = 0;
            enc[i] ^= (char)(1 << bit);
            int rc = waldata_decode(enc, enc_n, &raw, &raw_n, &err);
            ck_assert_msg(rc == 0 || rc == -EMBER_ECORRUPT, "byte %zu bit %d: %d", i, bit, rc);
            if (!rc)
                ck_assert_uint_eq(raw_n, n);
            free(raw);
            enc[i] ^= (char)(1 << bit);
        }
    }
    free(enc);
}
END_TEST

START_TEST(batch_too_large_for_lz4_is_refused)
{
    ember_err err = {0};
    char *enc = (char *)0x1;
    size_t enc_n = 7;
    /* never read: the size is checked first */
    ck_assert_int_eq(waldata_encode("", (size_t)LZ4_MAX_INPUT_SIZE + 1, &enc, &enc_n, &err),
                     -EFBIG);
    ck_assert_ptr_nonnull(strstr(err.msg, "too large"));
    ck_assert_ptr_eq(enc, (char *)0x1);
}
END_TEST

static Suite *waldata_suite(void)
{
    Suite *s = suite_create("waldata");
    TCase *tc = tcase_create("waldata");
    tcase_add_test(tc, records_round_trip);
    tcase_add_test(tc, empty_payload_round_trips);
    tcase_add_test(tc, incompressible_megabyte_round_trips);
    tcase_add_test(tc, repetitive_input_is_compressed);
    tcase_add_test(tc, length_prefix_is_little_endian);
    tcase_add_test(tc, body_is_one_lz4_block);
    tcase_add_test(tc, hand_framed_payload_decodes);
    tcase_add_test(tc, shorter_than_the_prefix_is_corrupt);
    tcase_add_test(tc, truncated_block_is_corrupt);
    tcase_add_test(tc, prefix_longer_than_the_block_is_corrupt);
    tcase_add_test(tc, prefix_shorter_than_the_block_is_corrupt);
    tcase_add_test(tc, absurd_length_is_corrupt_before_allocating);
    tcase_add_test(tc, garbage_block_is_corrupt);
    tcase_add_test(tc, flipped_byte_never_changes_the_length);
    tcase_add_test(tc, batch_too_large_for_lz4_is_refused);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(waldata_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
