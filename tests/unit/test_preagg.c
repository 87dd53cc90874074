/*
 * test_preagg: state/preagg.c. The oracle for the big test sorts the raw keys
 * and counts runs, which shares nothing with hashing or probing.
 */
#include "state/preagg.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TEST_KEY_BYTES 24

typedef struct key {
    char b[TEST_KEY_BYTES];
    uint32_t len;
} key;

static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static int key_cmp(const void *a, const void *b)
{
    const key *x = a, *y = b;
    uint32_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->b, y->b, n);
    return c ? c : (x->len > y->len) - (x->len < y->len);
}

/* n keys drawn from `distinct` values, with varied lengths and binary bytes. */
static key *keys_gen(size_t n, uint64_t distinct, uint64_t seed)
{
    key *k = calloc(n, sizeof *k);
    ck_assert_ptr_nonnull(k);
    for (size_t i = 0; i < n; i++) {
        uint64_t v = rng_next(&seed) % distinct;
        int len = snprintf(k[i].b, TEST_KEY_BYTES, "s%llu", (unsigned long long)v);
        if (v % 3 == 0) /* some keys carry a NUL and a high byte */
            k[i].b[len++] = '\0', k[i].b[len++] = (char)0xff;
        k[i].len = (uint32_t)len;
    }
    return k;
}

static acc_slot *upsert(preagg *m, const key *k, int *is_new)
{
    return preagg_upsert(m, k->b, k->len, preagg_hash(k->b, k->len), is_new);
}

START_TEST(million_keys_match_sorted_count)
{
    const size_t n = 1000000;
    key *k = keys_gen(n, 300000, 1);
    preagg *m = preagg_new(2);
    size_t news = 0;
    ck_assert_ptr_nonnull(m);

    /* Check's assertions are slow (each one talks to the runner), so the
     * loops count mismatches and assert once. */
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        int is_new;
        acc_slot *s = upsert(m, &k[i], &is_new);
        if (!s) {
            bad++;
            break;
        }
        news += (size_t)is_new;
        s[0].i++;
        s[1].i += (int64_t)k[i].len;
    }
    ck_assert_uint_eq(bad, 0);
    qsort(k, n, sizeof *k, key_cmp);
    size_t distinct = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && key_cmp(&k[i], &k[j]) == 0)
            j++;
        acc_slot *s = preagg_find(m, k[i].b, k[i].len, preagg_hash(k[i].b, k[i].len));
        if (!s || s[0].i != (int64_t)(j - i) || s[1].i != (int64_t)((j - i) * k[i].len))
            bad++;
        distinct++;
        i = j;
    }
    ck_assert_uint_eq(bad, 0);
    ck_assert_uint_gt(distinct, 250000);
    ck_assert_uint_eq(preagg_count(m), distinct);
    ck_assert_uint_eq(news, distinct);

    int64_t total = 0;
    for (size_t i = 0; i < preagg_count(m); i++)
        total += preagg_entry_at(m, i)->slots[0].i;
    ck_assert_int_eq(total, (int64_t)n);
    ck_assert_ptr_null(preagg_entry_at(m, preagg_count(m)));
    preagg_free(m);
    free(k);
}
END_TEST

START_TEST(entries_keep_insertion_order_and_keys)
{
    preagg *m = preagg_new(1);
    char buf[32];
    for (int i = 0; i < 5000; i++) {
        int is_new, len = snprintf(buf, sizeof buf, "key-%d", i);
        acc_slot *s = preagg_upsert(m, buf, (uint32_t)len, preagg_hash(buf, (uint32_t)len),
                                    &is_new);
        ck_assert_int_eq(is_new, 1);
        ck_assert_int_eq(s[0].i, 0); /* new slots are zeroed */
        s[0].i = i;
    }
    for (int i = 0; i < 5000; i++) {
        preagg_entry *e = preagg_entry_at(m, (size_t)i);
        int len = snprintf(buf, sizeof buf, "key-%d", i);
        ck_assert_uint_eq(e->klen, (uint32_t)len);
        ck_assert_mem_eq(e->key, buf, (size_t)len);
        ck_assert_uint_eq(e->hash, preagg_hash(buf, (uint32_t)len));
        ck_assert_int_eq(e->slots[0].i, i);
    }
    preagg_free(m);
}
END_TEST

START_TEST(equal_hashes_stay_distinct)
{
    /* every key gets the same hash: the map must still compare the bytes */
    preagg *m = preagg_new(1);
    char buf[16];
    for (int round = 0; round < 2; round++)
        for (int i = 0; i < 300; i++) {
            int is_new, len = snprintf(buf, sizeof buf, "%d", i);
            acc_slot *s = preagg_upsert(m, buf, (uint32_t)len, 42, &is_new);
            ck_assert_int_eq(is_new, round == 0);
            s[0].i++;
        }
    ck_assert_uint_eq(preagg_count(m), 300);
    for (int i = 0; i < 300; i++) {
        int len = snprintf(buf, sizeof buf, "%d", i);
        ck_assert_int_eq(preagg_find(m, buf, (uint32_t)len, 42)[0].i, 2);
    }
    ck_assert_ptr_null(preagg_find(m, "300", 3, 42));
    preagg_free(m);
}
END_TEST

START_TEST(empty_key_and_prefix_keys_differ)
{
    preagg *m = preagg_new(1);
    int is_new;
    ck_assert_ptr_nonnull(preagg_upsert(m, "", 0, preagg_hash("", 0), &is_new));
    ck_assert_int_eq(is_new, 1);
    ck_assert_ptr_nonnull(preagg_upsert(m, "ab", 1, preagg_hash("a", 1), &is_new));
    ck_assert_int_eq(is_new, 1);
    ck_assert_ptr_nonnull(preagg_upsert(m, "ab", 2, preagg_hash("ab", 2), &is_new));
    ck_assert_int_eq(is_new, 1);
    ck_assert_ptr_nonnull(preagg_upsert(m, "", 0, preagg_hash("", 0), &is_new));
    ck_assert_int_eq(is_new, 0);
    ck_assert_uint_eq(preagg_count(m), 3);
    ck_assert_ptr_null(preagg_find(m, "b", 1, preagg_hash("b", 1)));
    preagg_free(m);
}
END_TEST

START_TEST(reset_empties_and_map_is_reusable)
{
    const size_t n = 100000;
    key *k = keys_gen(n, 50000, 5);
    preagg *m = preagg_new(3);
    for (int batch = 0; batch < 3; batch++) {
        size_t dirty = 0;
        for (size_t i = 0; i < n; i++) {
            int is_new;
            acc_slot *s = upsert(m, &k[i], &is_new);
            if (is_new)
                dirty += s[0].i != 0 || s[1].i != 0 || s[2].i != 0;
            s[2].i++;
            s[0].i = s[1].i = -1; /* would show through a reused, unzeroed slot */
        }
        ck_assert_uint_eq(dirty, 0);
        ck_assert_uint_gt(preagg_count(m), 40000);
        preagg_reset(m);
        ck_assert_uint_eq(preagg_count(m), 0);
        ck_assert_ptr_null(preagg_find(m, k[0].b, k[0].len, preagg_hash(k[0].b, k[0].len)));
    }
    preagg_free(m);
    free(k);
}
END_TEST

START_TEST(low_hash_bits_constant_stays_fast)
{
    /* A worker shard sees only keys with hash % n_workers == shard; here the
     * low 20 bits are all zero. A map indexed by low bits would put every
     * key in one probe run (minutes); the timeout catches that. */
    const int n = 200000;
    preagg *m = preagg_new(1);
    char buf[32];
    size_t bad = 0;
    for (int round = 0; round < 2; round++)
        for (int i = 0; i < n; i++) {
            int is_new, len = snprintf(buf, sizeof buf, "sensor-%d", i);
            uint64_t h = preagg_hash(buf, (uint32_t)len) << 20;
            acc_slot *s = preagg_upsert(m, buf, (uint32_t)len, h, &is_new);
            bad += !s || is_new != (round == 0);
        }
    ck_assert_uint_eq(bad, 0);
    ck_assert_uint_eq(preagg_count(m), (size_t)n);
    preagg_free(m);
}
END_TEST

START_TEST(hash_is_xxh3)
{
    /* XXH3_64bits of the empty input, a published test vector */
    ck_assert_uint_eq(preagg_hash("", 0), 0x2D06800538D394C2ull);
    ck_assert_uint_ne(preagg_hash("a", 1), preagg_hash("b", 1));
}
END_TEST

static Suite *preagg_suite(void)
{
    Suite *s = suite_create("preagg");
    TCase *tc = tcase_create("preagg");
    tcase_set_timeout(tc, 120); /* ASan on a busy 2-core box */
    tcase_add_test(tc, million_keys_match_sorted_count);
    tcase_add_test(tc, entries_keep_insertion_order_and_keys);
    tcase_add_test(tc, equal_hashes_stay_distinct);
    tcase_add_test(tc, empty_key_and_prefix_keys_differ);
    tcase_add_test(tc, reset_empties_and_map_is_reusable);
    tcase_add_test(tc, low_hash_bits_constant_stays_fast);
    tcase_add_test(tc, hash_is_xxh3);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(preagg_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
