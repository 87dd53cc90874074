/*
 * summary: exact distinct sets and Space-Saving top-k sketches inside
 * accumulator slots (see summary.h for the layouts, bounds and errors).
 * Everything here is a pure function of the slots, so a replayed batch
 * folds to the same bytes.
 */
#include "core/ops/summary.h"

#include "core/ops/text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

/* Same hash as count_distinct(f, approx): the bytes of a string, the text
 * of any other value. */
int summary_hash(const ember_value *v, uint64_t *h, char *text, size_t cap, size_t *text_len)
{
    char buf[64];
    const char *p = buf;
    size_t n;
    if (v->type == EMBER_NULL)
        return 0;
    if (v->type == EMBER_STRING) {
        p = v->u.s.ptr;
        n = v->u.s.len;
    } else {
        n = value_format(v, buf, sizeof buf);
    }
    *h = XXH3_64bits(p, n);
    if (text) {
        *text_len = n < cap ? n : cap;
        memcpy(text, p, *text_len);
    }
    return 1;
}

/* ------------------------------------------------------------ sets */

int64_t set_count(const acc_slot *s)
{
    return s[0].i;
}

int set_used_slots(const acc_slot *s)
{
    return 1 + (s[0].i > 0 ? (int)s[0].i : 0);
}

static void set_overflow(acc_slot *s)
{
    memset(s, 0, SET_SLOTS * sizeof *s);
    s[0].i = -1;
}

void set_add(acc_slot *s, const ember_value *v)
{
    uint64_t h;
    int64_t n = s[0].i;
    if (n < 0 || !summary_hash(v, &h, NULL, 0, NULL))
        return;
    acc_slot *e = s + 1;
    size_t lo = 0, hi = (size_t)n;
    while (lo < hi) { /* first hash >= h */
        size_t mid = lo + (hi - lo) / 2;
        if ((uint64_t)e[mid].i < h)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < (size_t)n && (uint64_t)e[lo].i == h)
        return;
    if (n == SET_MAX) {
        set_overflow(s);
        return;
    }
    memmove(e + lo + 1, e + lo, ((size_t)n - lo) * sizeof *e);
    e[lo].i = (int64_t)h;
    s[0].i = n + 1;
}

/* into = into U from: a merge of two sorted runs. */
void set_merge(acc_slot *into, const acc_slot *from)
{
    int64_t na = into[0].i, nb = from[0].i;
    if (na < 0 || nb < 0) {
        set_overflow(into);
        return;
    }
    uint64_t u[2 * SET_MAX];
    int64_t i = 0, j = 0, n = 0;
    while (i < na || j < nb) {
        uint64_t a = i < na ? (uint64_t)into[1 + i].i : UINT64_MAX;
        uint64_t b = j < nb ? (uint64_t)from[1 + j].i : UINT64_MAX;
        if (j >= nb || (i < na && a < b)) {
            u[n++] = a;
            i++;
        } else {
            u[n++] = b;
            i += i < na && a == b;
            j++;
        }
    }
    if (n > SET_MAX) {
        set_overflow(into);
        return;
    }
    for (int64_t k = 0; k < n; k++)
        into[1 + k].i = (int64_t)u[k];
    into[0].i = n;
}

/* ------------------------------------------------------------ top-k */

typedef struct counter {
    uint64_t hash;
    int64_t count;
    uint8_t len;
    char text[TOPK_TEXT_MAX];
} counter;

int topk_counters(int k)
{
    return TOPK_FACTOR * k > TOPK_MIN_COUNTERS ? TOPK_FACTOR * k : TOPK_MIN_COUNTERS;
}

int topk_slots(int k)
{
    return 1 + topk_counters(k) * TOPK_COUNTER_SLOTS;
}

int topk_used_slots(const acc_slot *s)
{
    return 1 + (int)s[0].i * TOPK_COUNTER_SLOTS;
}

static acc_slot *counter_at(const acc_slot *s, int64_t i)
{
    return (acc_slot *)s + 1 + i * TOPK_COUNTER_SLOTS;
}

static void counter_get(const acc_slot *s, int64_t i, counter *c)
{
    const acc_slot *p = counter_at(s, i);
    const uint8_t *b = (const uint8_t *)(p + 2);
    c->hash = (uint64_t)p[0].i;
    c->count = p[1].i;
    c->len = b[0] <= TOPK_TEXT_MAX ? b[0] : TOPK_TEXT_MAX;
    memcpy(c->text, b + 1, TOPK_TEXT_MAX);
}

static void counter_put(acc_slot *s, int64_t i, const counter *c)
{
    acc_slot *p = counter_at(s, i);
    uint8_t *b = (uint8_t *)(p + 2);
    p[0].i = (int64_t)c->hash;
    p[1].i = c->count;
    memset(b, 0, (TOPK_COUNTER_SLOTS - 2) * sizeof *p);
    b[0] = c->len;
    memcpy(b + 1, c->text, c->len);
}

/* Output order: count descending, then text, then hash ascending. */
static int counter_cmp(const counter *x, const counter *y)
{
    if (x->count != y->count)
        return x->count > y->count ? -1 : 1;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->text, y->text, n);
    if (c || x->len != y->len)
        return c ? c : (x->len > y->len) - (x->len < y->len);
    return (x->hash > y->hash) - (x->hash < y->hash);
}

static int counter_qsort(const void *a, const void *b)
{
    return counter_cmp(a, b);
}

void topk_add(acc_slot *s, int k, const ember_value *v)
{
    counter c = {0}, old;
    size_t len = 0;
    int64_t n = s[0].i, m = topk_counters(k), victim = 0;
    if (!summary_hash(v, &c.hash, c.text, TOPK_TEXT_MAX, &len))
        return;
    c.len = (uint8_t)len;
    for (int64_t i = 0; i < n; i++) {
        acc_slot *p = counter_at(s, i);
        if ((uint64_t)p[0].i == c.hash) {
            p[1].i++;
            return;
        }
    }
    if (n < m) {
        c.count = 1;
        counter_put(s, n, &c);
        s[0].i = n + 1;
        return;
    }
    /* Full: the new value takes over the counter that sorts last (smallest
     * count), inheriting its count as the possible overestimate. */
    counter worst;
    counter_get(s, 0, &worst);
    for (int64_t i = 1; i < n; i++) {
        counter_get(s, i, &old);
        if (counter_cmp(&old, &worst) > 0) {
            worst = old;
            victim = i;
        }
    }
    c.count = worst.count + 1;
    counter_put(s, victim, &c);
}

static int64_t min_if_full(const acc_slot *s, int64_t m)
{
    int64_t n = s[0].i, min = 0;
    if (n < m)
        return 0;
    for (int64_t i = 0; i < n; i++)
        if (i == 0 || counter_at(s, i)[1].i < min)
            min = counter_at(s, i)[1].i;
    return min;
}

static int64_t find_count(const acc_slot *s, uint64_t hash)
{
    for (int64_t i = 0; i < s[0].i; i++)
        if ((uint64_t)counter_at(s, i)[0].i == hash)
            return counter_at(s, i)[1].i;
    return -1;
}

void topk_merge(acc_slot *into, const acc_slot *from, int k)
{
    int64_t m = topk_counters(k), na = into[0].i, nb = from[0].i, n = 0;
    int64_t min_a = min_if_full(into, m), min_b = min_if_full(from, m);
    counter all[2 * TOPK_FACTOR * TOPK_MAX_K];
    for (int64_t i = 0; i < na; i++) {
        counter_get(into, i, &all[n]);
        int64_t cb = find_count(from, all[n].hash);
        all[n++].count += cb >= 0 ? cb : min_b;
    }
    for (int64_t i = 0; i < nb; i++) {
        counter_get(from, i, &all[n]);
        if (find_count(into, all[n].hash) < 0)
            all[n++].count += min_a;
    }
    qsort(all, (size_t)n, sizeof *all, counter_qsort);
    if (n > m)
        n = m;
    memset(into, 0, (size_t)topk_slots(k) * sizeof *into);
    for (int64_t i = 0; i < n; i++)
        counter_put(into, i, &all[i]);
    into[0].i = n;
}

size_t topk_format(const acc_slot *s, int k, char *buf, size_t cap)
{
    counter all[TOPK_FACTOR * TOPK_MAX_K];
    int64_t n = s[0].i;
    size_t len = 0;
    if (n <= 0)
        return 0;
    for (int64_t i = 0; i < n; i++)
        counter_get(s, i, &all[i]);
    qsort(all, (size_t)n, sizeof *all, counter_qsort);
    for (int64_t i = 0; i < n && i < k; i++) {
        char num[24];
        int nl = snprintf(num, sizeof num, "%lld", (long long)all[i].count);
        size_t need = (i > 0) + all[i].len + 1 + (size_t)nl;
        if (len + need > cap)
            break; /* whole entries only */
        if (i > 0)
            buf[len++] = '|';
        memcpy(buf + len, all[i].text, all[i].len);
        len += all[i].len;
        buf[len++] = ':';
        memcpy(buf + len, num, (size_t)nl);
        len += (size_t)nl;
    }
    return len;
}
