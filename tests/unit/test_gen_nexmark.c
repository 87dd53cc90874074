/*
 * test_gen_nexmark: core/ops/gen_nexmark.c through gen_line. What the Python
 * spec test (tests/integration/test_nexmark_gen.py) cannot reach cheaply:
 * the line bound over many events and at huge sequence numbers, the column
 * count of every line, the kind sequence by event id, and that event-rate
 * moves date_time (and an auction's expires) only.
 */
#include "core/ops/gen.h"
#include "core/ops/gen_nexmark.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#undef ck_assert_msg
#define ck_assert_msg(expr, ...)                                                                   \
    do {                                                                                           \
        if (!(expr))                                                                               \
            ck_abort_msg(__VA_ARGS__);                                                             \
    } while (0)

static int commas(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += *s == ',';
    return n;
}

/* The i-th comma-separated field of line into out. */
static void field(const char *line, int i, char *out, size_t cap)
{
    while (i-- > 0)
        line = strchr(line, ',') + 1;
    size_t n = strcspn(line, ",");
    ck_assert_uint_lt(n, cap);
    memcpy(out, line, n);
    out[n] = '\0';
}

START_TEST(every_line_has_24_columns_and_fits)
{
    char line[GEN_LINE_MAX];
    size_t longest = 0;
    for (uint64_t seq = 0; seq < 300000; seq++) {
        size_t len = gen_line(GEN_NEXMARK, 11, seq, line);
        ck_assert_msg(len == strlen(line) && len <= NEXMARK_LINE_MAX, "seq %llu: %zu bytes",
                      (unsigned long long)seq, len);
        ck_assert_msg(commas(line) == 23, "seq %llu: %d commas", (unsigned long long)seq,
                      commas(line));
        if (len > longest)
            longest = len;
    }
    /* An auction's strings and extra reach ~700 bytes; far below the bound. */
    ck_assert_uint_gt(longest, 500);
}
END_TEST

START_TEST(kind_follows_the_event_id)
{
    char line[GEN_LINE_MAX];
    for (uint64_t seq = 0; seq < 5000; seq++) {
        gen_line(GEN_NEXMARK, 1, seq, line);
        uint64_t off = (seq + 2) % 50;
        char want = off == 0 ? '0' : off <= 3 ? '1' : '2';
        ck_assert_msg(line[0] == want && line[1] == ',', "seq %llu: '%c'", (unsigned long long)seq,
                      line[0]);
    }
}
END_TEST

START_TEST(huge_sequence_numbers_are_fine)
{
    char line[GEN_LINE_MAX];
    uint64_t seqs[] = {UINT64_MAX / 4, UINT64_MAX / 4 + 1, UINT64_MAX / 4 + 2, 1ull << 62};
    for (size_t i = 0; i < sizeof seqs / sizeof seqs[0]; i++) {
        size_t len = gen_line(GEN_NEXMARK, UINT64_MAX, seqs[i], line);
        ck_assert_uint_le(len, NEXMARK_LINE_MAX);
        ck_assert_int_eq(commas(line), 23);
    }
}
END_TEST

/* At 10 events per ms, event seq is stamped EPOCH + (seq + 1) / 10; the
 * fields that do not follow event time are those of the default rate. */
START_TEST(event_rate_moves_times_only)
{
    char a[GEN_LINE_MAX], b[GEN_LINE_MAX], fa[GEN_LINE_MAX], fb[GEN_LINE_MAX];
    for (uint64_t seq = 0; seq < 3000; seq++) {
        gen_line_at(GEN_NEXMARK, 4, seq, GEN_EVENTS_PER_S, a);
        gen_line_at(GEN_NEXMARK, 4, seq, 10000, b);
        field(b, 1, fb, sizeof fb);
        ck_assert_msg(strtoll(fb, NULL, 10) == GEN_EPOCH_MS + (long long)(seq + 1) / 10,
                      "seq %llu: date_time %s", (unsigned long long)seq, fb);
        for (int i = 2; i < 24; i++) {
            if (i == 14) /* auction_expires: date_time plus a length in event time */
                continue;
            field(a, i, fa, sizeof fa);
            field(b, i, fb, sizeof fb);
            ck_assert_msg(!strcmp(fa, fb), "seq %llu field %d: '%s' vs '%s'",
                          (unsigned long long)seq, i, fa, fb);
        }
    }
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("gen_nexmark");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, every_line_has_24_columns_and_fits);
    tcase_add_test(tc, kind_follows_the_event_id);
    tcase_add_test(tc, huge_sequence_numbers_are_fine);
    tcase_add_test(tc, event_rate_moves_times_only);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
