/*
 * gen_put: what the generators share: the counter-based hash that gives
 * every record its random words, and the writers that build a CSV line
 * piece by piece without snprintf (the generators run at millions of
 * records per second). Internal to core/ops/gen*.c.
 */
#ifndef EMBER_GEN_PUT_H
#define EMBER_GEN_PUT_H

#include <stdint.h>
#include <string.h>

#define GOLDEN 0x9e3779b97f4a7c15ull

/* splitmix64's finalizer: a bijective mix with full avalanche. */
static inline uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Uniform-enough value in [0, n) from a 64-bit word (multiply-shift). */
static inline uint32_t below(uint64_t w, uint32_t n)
{
    return (uint32_t)(((w >> 32) * (uint64_t)n) >> 32);
}

/* The writers return the end of what they wrote; the caller terminates the
 * line once. */
static inline char *put_str(char *p, const char *s)
{
    size_t n = strlen(s);
    memcpy(p, s, n); /* NOLINT(bugprone-not-null-terminated-result) */
    return p + n;
}

static inline char *put_u64(char *p, uint64_t v)
{
    char tmp[20];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        *p++ = tmp[--n];
    return p;
}

static inline char *put_i64(char *p, int64_t v)
{
    if (v < 0) {
        *p++ = '-';
        return put_u64(p, (uint64_t)0 - (uint64_t)v);
    }
    return put_u64(p, (uint64_t)v);
}

/* Exactly `width` digits, zero-padded. */
static inline char *put_fixed(char *p, uint64_t v, int width)
{
    for (int i = width - 1; i >= 0; i--) {
        p[i] = (char)('0' + v % 10);
        v /= 10;
    }
    return p + width;
}

#endif
