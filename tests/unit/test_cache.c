/*
 * test_cache: state/cache.c. A shadow array holds the latest value put for
 * every key; whatever the cache returns must equal it, and its byte count
 * must never pass the bound, whatever it chose to evict.
 */
#include "state/cache.h"
#include "state/preagg.h"

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N_SLOTS 3

static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Key i: "k<i>" padded to a length that varies with i (5..68 bytes). */
static uint32_t key_of(int i, char *buf)
{
    int n = snprintf(buf, 80, "k%d", i);
    int len = 5 + i % 64;
    for (int j = n; j < len; j++)
        buf[j] = (char)('a' + j % 26);
    return (uint32_t)(len > n ? len : n);
}

static int put(cache *c, int i, int64_t v)
{
    char buf[80];
    uint32_t len = key_of(i, buf);
    acc_slot s[N_SLOTS] = {{.i = v}, {.i = -v}, {.f = (double)v / 2}};
    return cache_put(c, buf, len, preagg_hash(buf, len), s);
}

static acc_slot *get(cache *c, int i)
{
    char buf[80];
    uint32_t len = key_of(i, buf);
    return cache_get(c, buf, len, preagg_hash(buf, len));
}

static int slots_are(const acc_slot *s, int64_t v)
{
    return s[0].i == v && s[1].i == -v && s[2].f == (double)v / 2;
}

START_TEST(get_returns_what_was_put)
{
    cache *c = cache_new(N_SLOTS, 1 << 20);
    ck_assert_ptr_nonnull(c);
    ck_assert_ptr_null(get(c, 1));
    ck_assert_int_eq(put(c, 1, 10), 0);
    ck_assert_int_eq(put(c, 2, 20), 0);
    ck_assert(slots_are(get(c, 1), 10));
    ck_assert(slots_are(get(c, 2), 20));
    size_t bytes = cache_bytes(c);
    ck_assert_int_eq(put(c, 1, 11), 0); /* overwrite: same size */
    ck_assert(slots_are(get(c, 1), 11));
    ck_assert_uint_eq(cache_entries(c), 2);
    ck_assert_uint_eq(cache_bytes(c), bytes);
    cache_free(c);
}
END_TEST

START_TEST(bytes_count_keys_and_slots)
{
    cache *c = cache_new(N_SLOTS, 1 << 20);
    char buf[80];
    size_t payload = 0;
    for (int i = 0; i < 100; i++) {
        ck_assert_int_eq(put(c, i, i), 0);
        payload += key_of(i, buf) + N_SLOTS * sizeof(acc_slot);
    }
    ck_assert_uint_eq(cache_entries(c), 100);
    ck_assert_uint_gt(cache_bytes(c), payload);            /* plus overhead */
    ck_assert_uint_lt(cache_bytes(c), payload + 100 * 128); /* a sane overhead */
    cache_free(c);
}
END_TEST

START_TEST(random_workload_respects_bound_and_never_lies)
{
    const int n_keys = 5000;
    const size_t bound = 64 * 1024;
    int64_t *truth = calloc((size_t)n_keys, sizeof *truth); /* 0 = never put */
    cache *c = cache_new(N_SLOTS, bound);
    uint64_t seed = 3;
    size_t hits = 0, wrong = 0, over = 0, max_entries = 0;

    for (int op = 0; op < 300000; op++) {
        uint64_t r = rng_next(&seed);
        /* skewed keys: half the ops go to the 100 hottest */
        int k = (int)(r & 1 ? (r >> 8) % 100 : (r >> 8) % (uint64_t)n_keys);
        if ((r >> 40) % 3 == 0) {
            truth[k] = op + 1;
            if (put(c, k, truth[k]) != 0)
                wrong++;
        } else {
            acc_slot *s = get(c, k);
            if (s) {
                hits++;
                wrong += !slots_are(s, truth[k]);
            }
        }
        over += cache_bytes(c) > bound;
        if (cache_entries(c) > max_entries)
            max_entries = cache_entries(c);
    }
    ck_assert_uint_eq(wrong, 0);
    ck_assert_uint_eq(over, 0);
    ck_assert_uint_gt(hits, 10000);
    ck_assert_uint_gt(max_entries, 200);         /* it does fill up */
    ck_assert_uint_lt(max_entries, (size_t)n_keys); /* and does evict */
    cache_free(c);
    free(truth);
}
END_TEST

START_TEST(referenced_key_survives_clock)
{
    cache *c = cache_new(N_SLOTS, 16 * 1024);
    ck_assert_int_eq(put(c, 0, 7), 0);
    for (int i = 1; i < 5000; i++) {
        ck_assert_int_eq(put(c, i, i), 0);
        acc_slot *s = get(c, 0);
        if (!s)
            ck_abort_msg("hot key evicted after %d inserts", i);
    }
    ck_assert(slots_are(get(c, 0), 7));
    ck_assert_ptr_null(get(c, 1)); /* cold ones went */
    cache_free(c);
}
END_TEST

START_TEST(oversized_entry_is_not_cached)
{
    cache *c = cache_new(N_SLOTS, 256);
    char big[300];
    acc_slot s[N_SLOTS] = {{.i = 1}};
    memset(big, 'x', sizeof big);
    ck_assert_int_eq(put(c, 1, 1), 0);
    ck_assert_int_eq(cache_put(c, big, sizeof big, preagg_hash(big, sizeof big), s), 0);
    ck_assert_ptr_null(cache_get(c, big, sizeof big, preagg_hash(big, sizeof big)));
    ck_assert_ptr_nonnull(get(c, 1)); /* nothing evicted for it */
    ck_assert_uint_le(cache_bytes(c), 256);
    cache_free(c);
}
END_TEST

START_TEST(equal_hashes_stay_distinct)
{
    cache *c = cache_new(1, 1 << 20);
    acc_slot a = {.i = 1}, b = {.i = 2};
    ck_assert_int_eq(cache_put(c, "a", 1, 9, &a), 0);
    ck_assert_int_eq(cache_put(c, "b", 1, 9, &b), 0);
    ck_assert_int_eq(cache_get(c, "a", 1, 9)->i, 1);
    ck_assert_int_eq(cache_get(c, "b", 1, 9)->i, 2);
    ck_assert_ptr_null(cache_get(c, "c", 1, 9));
    ck_assert_ptr_null(cache_get(c, "ab", 2, 9));
    cache_free(c);
}
END_TEST

START_TEST(low_hash_bits_constant_still_works)
{
    /* hashes that differ only in their high bits, as after sharding */
    cache *c = cache_new(1, 1 << 22);
    char buf[32];
    size_t wrong = 0;
    for (int i = 0; i < 20000; i++) {
        int len = snprintf(buf, sizeof buf, "k%d", i);
        acc_slot v = {.i = i};
        wrong += cache_put(c, buf, (uint32_t)len, preagg_hash(buf, (uint32_t)len) << 24, &v) != 0;
    }
    for (int i = 0; i < 20000; i++) {
        int len = snprintf(buf, sizeof buf, "k%d", i);
        acc_slot *s = cache_get(c, buf, (uint32_t)len, preagg_hash(buf, (uint32_t)len) << 24);
        wrong += !s || s->i != i;
    }
    ck_assert_uint_eq(wrong, 0);
    cache_free(c);
}
END_TEST

START_TEST(clear_drops_everything)
{
    cache *c = cache_new(N_SLOTS, 1 << 20);
    for (int i = 0; i < 1000; i++)
        ck_assert_int_eq(put(c, i, i), 0);
    cache_clear(c);
    ck_assert_uint_eq(cache_entries(c), 0);
    ck_assert_uint_eq(cache_bytes(c), 0);
    ck_assert_ptr_null(get(c, 5));
    ck_assert_int_eq(put(c, 5, 50), 0);
    ck_assert(slots_are(get(c, 5), 50));
    cache_free(c);
}
END_TEST

START_TEST(zero_bound_caches_nothing)
{
    cache *c = cache_new(N_SLOTS, 0);
    ck_assert_int_eq(put(c, 1, 1), 0);
    ck_assert_ptr_null(get(c, 1));
    ck_assert_uint_eq(cache_bytes(c), 0);
    cache_free(c);
}
END_TEST

static Suite *cache_suite(void)
{
    Suite *s = suite_create("cache");
    TCase *tc = tcase_create("cache");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, get_returns_what_was_put);
    tcase_add_test(tc, bytes_count_keys_and_slots);
    tcase_add_test(tc, random_workload_respects_bound_and_never_lies);
    tcase_add_test(tc, referenced_key_survives_clock);
    tcase_add_test(tc, oversized_entry_is_not_cached);
    tcase_add_test(tc, equal_hashes_stay_distinct);
    tcase_add_test(tc, low_hash_bits_constant_still_works);
    tcase_add_test(tc, clear_drops_everything);
    tcase_add_test(tc, zero_bound_caches_nothing);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(cache_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
