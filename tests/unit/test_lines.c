/* test_lines: core/transform.c's batch_lines — lines copied one by one
 * (lines_push) and lines indexed in place in a source's buffer (lines_index)
 * must give the same lines: no newline, a CR before it dropped, a last line
 * without a newline kept, empty lines kept. */
#include "core/engine/transform.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

/* The expected lines of `text`, split here by hand. */
static size_t split_lines(const char *text, size_t n, char out[][64])
{
    size_t k = 0, len = 0;
    for (size_t i = 0; i < n; i++) {
        if (text[i] == '\n') {
            if (len && out[k][len - 1] == '\r')
                len--;
            out[k++][len] = '\0';
            len = 0;
        } else {
            out[k][len++] = text[i];
        }
    }
    if (len)
        out[k++][len] = '\0';
    return k;
}

static void check_same(const batch_lines *b, const char *text)
{
    char want[16][64];
    size_t n = split_lines(text, strlen(text), want);
    ck_assert_uint_eq(b->n, n);
    for (size_t i = 0; i < n; i++) {
        ck_assert_uint_eq(b->len[i], strlen(want[i]));
        if (b->len[i]) /* (an empty line may point nowhere) */
            ck_assert_int_eq(memcmp(lines_at(b, i), want[i], b->len[i]), 0);
    }
}

START_TEST(index_matches_push)
{
    static const char *const texts[] = {"a,1\nbb,2\n", "a,1\r\nb,2\r\n", "x\n\ny\n",
                                        "last,no,newline\nz", "\n", ""};
    for (size_t t = 0; t < sizeof texts / sizeof texts[0]; t++) {
        size_t n = strlen(texts[t]);
        char *owned = malloc(n + 1); /* exact size: ASan sees any read past it */
        memcpy(owned, texts[t], n + 1);
        batch_lines in_place = {0}, copied = {0};
        ck_assert_int_eq(lines_index(&in_place, owned, n), 0);
        check_same(&in_place, texts[t]);
        ck_assert_ptr_eq(in_place.borrowed, owned); /* in place: not copied */
        char want[16][64];
        size_t k = split_lines(texts[t], n, want);
        for (size_t i = 0; i < k; i++)
            ck_assert_int_eq(lines_push(&copied, want[i], strlen(want[i])), 0);
        check_same(&copied, texts[t]);
        lines_free(&in_place);
        lines_free(&copied);
        free(owned);
    }
}
END_TEST

START_TEST(clear_ends_the_borrow)
{
    char buf[] = "p\nq\n";
    batch_lines b = {0};
    ck_assert_int_eq(lines_index(&b, buf, 4), 0);
    ck_assert_int_ne(lines_push(&b, "r", 1), 0); /* no copies into a borrowed batch */
    lines_clear(&b);
    ck_assert_ptr_null(b.borrowed);
    ck_assert_int_eq(lines_push(&b, "r", 1), 0);
    ck_assert_uint_eq(b.n, 1);
    ck_assert_int_eq(memcmp(lines_at(&b, 0), "r", 1), 0);
    lines_free(&b);
}
END_TEST

static Suite *lines_suite(void)
{
    Suite *s = suite_create("lines");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, index_matches_push);
    tcase_add_test(tc, clear_ends_the_borrow);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(lines_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
