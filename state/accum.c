/*
 * accum: per-key accumulators of the aggregate step (see accum.h for the slot
 * layout and the durable encoding). Workers fold records in during the
 * transform (step 3), shards and the stored value are merged in step 4, and
 * the encoded slots are what the commit writes to RocksDB.
 *
 * Why merges stay exact in any order:
 *   - integer sums wrap modulo 2^64 (computed in uint64_t): wrapping addition
 *     is associative and commutative, and signed overflow would be UB;
 *   - min/max start at a sentinel that every real value beats, so a slot
 *     folded from nothing but NULL fields merges like an empty one:
 *       int min: INT64_MAX, int max: INT64_MIN, float min/max: NaN
 *     (NaN inputs are skipped by min/max, so a NaN slot always means "unset").
 *     An int min/max whose only values equal its sentinel reads back as NULL.
 */
#include "state/accum.h"

#include "core/endian.h"

#include "core/sink.h"

#include <errno.h>
#include <math.h>
#include <string.h>
#include <xxhash.h>

#define ACC_HEADER_BYTES 2

static int agg_slots(agg_fn fn)
{
    switch (fn) {
    case AGG_COUNT:
        return 0; /* reuses slot 0 */
    case AGG_AVG:
    case AGG_WAVG:
        return 2;
    case AGG_HLL:
        return HLL_SLOTS;
    default:
        return 1;
    }
}

static int agg_check(const agg_spec *a, int i, ember_err *err)
{
    if (a->fn == AGG_COUNT)
        return 0;
    if (a->fn < AGG_COUNT || a->fn > AGG_HLL)
        return ember_err_set(err, -EINVAL, "aggregate %d (%s): unknown function %d", i + 1,
                             a->name, (int)a->fn);
    if (a->field < 0)
        return ember_err_set(err, -EMBER_EUSAGE, "aggregate %d (%s): needs a field", i + 1,
                             a->name);
    if (a->fn == AGG_HLL)
        return 0;
    if (a->in_type != EMBER_INT && a->in_type != EMBER_FLOAT)
        return ember_err_set(err, -EMBER_EUSAGE,
                             "aggregate %d (%s): field must be int or float", i + 1, a->name);
    if (a->fn == AGG_WAVG && a->in_type2 != EMBER_INT && a->in_type2 != EMBER_FLOAT)
        return ember_err_set(err, -EMBER_EUSAGE,
                             "aggregate %d (%s): weight must be int or float", i + 1, a->name);
    return 0;
}

int acc_layout_init(acc_layout *l, agg_spec *aggs, int n_aggs, ember_err *err)
{
    int next = 1; /* slot 0 is the record count */

    if (n_aggs < 0 || (n_aggs > 0 && !aggs))
        return ember_err_set(err, -EINVAL, "aggregate list: bad size %d", n_aggs);
    for (int i = 0; i < n_aggs; i++) {
        int rc = agg_check(&aggs[i], i, err);
        if (rc < 0)
            return rc;
        int need = agg_slots(aggs[i].fn);
        if (next + need > ACC_MAX_SLOTS)
            return ember_err_set(err, -EMBER_EUSAGE,
                                 "aggregate list needs more than %d state slots (at %s)",
                                 ACC_MAX_SLOTS, aggs[i].name);
        aggs[i].slot = need ? next : 0;
        next += need;
    }
    l->aggs = aggs;
    l->n_aggs = n_aggs;
    l->n_slots = next;
    return 0;
}

void acc_init(const acc_layout *l, acc_slot *s)
{
    memset(s, 0, (size_t)l->n_slots * sizeof *s);
    for (int i = 0; i < l->n_aggs; i++) {
        const agg_spec *a = &l->aggs[i];
        int is_int = a->in_type == EMBER_INT;
        if (a->fn == AGG_MIN) {
            if (is_int)
                s[a->slot].i = INT64_MAX;
            else
                s[a->slot].f = NAN;
        } else if (a->fn == AGG_MAX) {
            if (is_int)
                s[a->slot].i = INT64_MIN;
            else
                s[a->slot].f = NAN;
        }
    }
}

static int64_t add_wrap(int64_t a, int64_t b)
{
    return (int64_t)((uint64_t)a + (uint64_t)b);
}

/* A float as int64 (truncated); 0 when it has no int64 value (NaN, out of
 * range), because converting those is undefined behaviour. */
static int float_to_int(double f, int64_t *out)
{
    if (!(f >= -9223372036854775808.0 && f < 9223372036854775808.0))
        return 0;
    *out = (int64_t)f;
    return 1;
}

/* A field value as the aggregate's input type; 0 when it is NULL (or of a
 * type the aggregate cannot fold, which the layout check rules out). The
 * parser gives fields their declared type, so conversion is a fallback. */
static int value_get(const ember_value *v, ember_type want, acc_slot *out)
{
    if (v->type == EMBER_INT) {
        if (want == EMBER_INT)
            out->i = v->u.i;
        else
            out->f = (double)v->u.i;
        return 1;
    }
    if (v->type == EMBER_FLOAT) {
        if (want == EMBER_FLOAT) {
            out->f = v->u.f;
            return 1;
        }
        return float_to_int(v->u.f, &out->i);
    }
    return 0;
}

/* Folds x into a min (dir < 0) or max (dir > 0) slot. */
static void fold_extreme(acc_slot *slot, ember_type t, acc_slot x, int dir)
{
    if (t == EMBER_INT) {
        if (dir < 0 ? x.i < slot->i : x.i > slot->i)
            slot->i = x.i;
        return;
    }
    if (isnan(x.f))
        return;
    if (isnan(slot->f) || (dir < 0 ? x.f < slot->f : x.f > slot->f))
        slot->f = x.f;
}

static void fold_sum(acc_slot *slot, ember_type t, acc_slot x)
{
    if (t == EMBER_INT)
        slot->i = add_wrap(slot->i, x.i);
    else
        slot->f += x.f;
}

static void fold_value(const agg_spec *a, acc_slot *s, acc_slot x)
{
    acc_slot *slot = &s[a->slot];

    switch (a->fn) {
    case AGG_SUM:
        fold_sum(slot, a->in_type, x);
        break;
    case AGG_MIN:
        fold_extreme(slot, a->in_type, x, -1);
        break;
    case AGG_MAX:
        fold_extreme(slot, a->in_type, x, 1);
        break;
    case AGG_AVG:
        slot[0].f += a->in_type == EMBER_INT ? (double)x.i : x.f;
        slot[1].i++;
        break;
    case AGG_COUNT:
    case AGG_WAVG:
    case AGG_HLL:
        break;
    }
}

/* HyperLogLog: the hash's top HLL_BITS pick a register, which keeps the
 * largest rank (leading zeros + 1) of the remaining bits. */
static void hll_add(acc_slot *s, const ember_value *v)
{
    char buf[64];
    uint64_t h;
    if (v->type == EMBER_NULL)
        return;
    if (v->type == EMBER_STRING)
        h = XXH3_64bits(v->u.s.ptr, v->u.s.len);
    else
        h = XXH3_64bits(buf, value_format(v, buf, sizeof buf));
    uint8_t *reg = (uint8_t *)s;
    unsigned idx = (unsigned)(h >> (64 - HLL_BITS));
    uint64_t rest = h << HLL_BITS;
    uint8_t rank = (uint8_t)(rest ? __builtin_clzll(rest) + 1 : 64 - HLL_BITS + 1);
    if (rank > reg[idx])
        reg[idx] = rank;
}

static void hll_merge(acc_slot *into, const acc_slot *from)
{
    uint8_t *a = (uint8_t *)into;
    const uint8_t *b = (const uint8_t *)from;
    for (int i = 0; i < HLL_REGISTERS; i++)
        if (b[i] > a[i])
            a[i] = b[i];
}

/* The HLL estimate with the small-range (linear counting) correction. */
static int64_t hll_estimate(const acc_slot *s)
{
    const uint8_t *reg = (const uint8_t *)s;
    double m = HLL_REGISTERS, sum = 0;
    int zeros = 0;
    for (int i = 0; i < HLL_REGISTERS; i++) {
        sum += ldexp(1.0, -reg[i]);
        zeros += reg[i] == 0;
    }
    double e = 0.7213 / (1 + 1.079 / m) * m * m / sum;
    if (e <= 2.5 * m && zeros)
        e = m * log(m / zeros);
    return (int64_t)(e + 0.5);
}

void acc_add(const acc_layout *l, acc_slot *s, const ember_record *rec)
{
    s[0].i++;
    for (int i = 0; i < l->n_aggs; i++) {
        const agg_spec *a = &l->aggs[i];
        acc_slot x;
        if (a->fn == AGG_COUNT || a->field < 0 || (uint32_t)a->field >= rec->n)
            continue;
        if (a->fn == AGG_HLL) {
            hll_add(&s[a->slot], &rec->values[a->field]);
            continue;
        }
        if (a->fn == AGG_WAVG) {
            acc_slot w;
            if ((uint32_t)a->field2 < rec->n &&
                value_get(&rec->values[a->field], EMBER_FLOAT, &x) &&
                value_get(&rec->values[a->field2], EMBER_FLOAT, &w)) {
                s[a->slot].f += x.f * w.f;
                s[a->slot + 1].f += w.f;
            }
            continue;
        }
        if (value_get(&rec->values[a->field], a->in_type, &x))
            fold_value(a, s, x);
    }
}

void acc_merge(const acc_layout *l, acc_slot *into, const acc_slot *from)
{
    into[0].i = add_wrap(into[0].i, from[0].i);
    for (int i = 0; i < l->n_aggs; i++) {
        const agg_spec *a = &l->aggs[i];
        const acc_slot *f = &from[a->slot];
        switch (a->fn) {
        case AGG_SUM:
        case AGG_MIN:
        case AGG_MAX:
            fold_value(a, into, *f);
            break;
        case AGG_AVG:
            into[a->slot].f += f[0].f;
            into[a->slot + 1].i = add_wrap(into[a->slot + 1].i, f[1].i);
            break;
        case AGG_WAVG:
            into[a->slot].f += f[0].f;
            into[a->slot + 1].f += f[1].f;
            break;
        case AGG_HLL:
            hll_merge(&into[a->slot], f);
            break;
        case AGG_COUNT:
            break;
        }
    }
}

ember_type acc_result_type(const agg_spec *a)
{
    if (a->fn == AGG_COUNT || a->fn == AGG_HLL)
        return EMBER_INT;
    if (a->fn == AGG_AVG || a->fn == AGG_WAVG)
        return EMBER_FLOAT;
    return a->in_type;
}

static int extreme_unset(const agg_spec *a, acc_slot v)
{
    if (a->in_type == EMBER_FLOAT)
        return isnan(v.f);
    return v.i == (a->fn == AGG_MIN ? INT64_MAX : INT64_MIN);
}

void acc_result(const acc_layout *l, const acc_slot *s, int i, ember_value *out)
{
    const agg_spec *a = &l->aggs[i];
    acc_slot v = s[a->slot];

    out->type = acc_result_type(a);
    switch (a->fn) {
    case AGG_COUNT:
        out->u.i = s[0].i;
        return;
    case AGG_AVG:
        if (s[a->slot + 1].i == 0)
            out->type = EMBER_NULL;
        else
            out->u.f = v.f / (double)s[a->slot + 1].i;
        return;
    case AGG_WAVG:
        if (s[a->slot + 1].f == 0)
            out->type = EMBER_NULL;
        else
            out->u.f = v.f / s[a->slot + 1].f;
        return;
    case AGG_HLL:
        out->u.i = hll_estimate(&s[a->slot]);
        return;
    case AGG_MIN:
    case AGG_MAX:
        if (s[0].i == 0 || extreme_unset(a, v)) {
            out->type = EMBER_NULL;
            return;
        }
        break;
    case AGG_SUM:
        break;
    }
    if (out->type == EMBER_INT)
        out->u.i = v.i;
    else
        out->u.f = v.f;
}

/*
 * Value format (one key of an operator's column family):
 *   offset 0   u8   version, ACC_CODEC_VERSION (1)
 *   offset 1   u8   n_slots (<= ACC_MAX_SLOTS)
 *   offset 2   n_slots x 8 bytes, little-endian: int64 (two's complement)
 *              or IEEE-754 double bit pattern, as the layout says
 * No checksum here: RocksDB checksums its blocks and the WAL.
 */
size_t acc_encoded_bytes(const acc_layout *l)
{
    return ACC_HEADER_BYTES + (size_t)l->n_slots * 8;
}

void acc_encode(const acc_layout *l, const acc_slot *s, uint8_t *out)
{
    out[0] = ACC_CODEC_VERSION;
    out[1] = (uint8_t)l->n_slots;
    for (int i = 0; i < l->n_slots; i++) {
        uint64_t bits;
        memcpy(&bits, &s[i], sizeof bits);
        put_u64le(out + ACC_HEADER_BYTES + 8 * (size_t)i, bits);
    }
}

int acc_decode(const acc_layout *l, const void *buf, size_t len, acc_slot *s, ember_err *err)
{
    const uint8_t *p = buf;

    if (len != acc_encoded_bytes(l))
        return ember_err_set(err, -EMBER_ECORRUPT,
                             "state value: %zu bytes, expected %zu for %d slots", len,
                             acc_encoded_bytes(l), l->n_slots);
    if (p[0] != ACC_CODEC_VERSION)
        return ember_err_set(err, -EMBER_ECORRUPT, "state value: version %u, expected %d",
                             p[0], ACC_CODEC_VERSION);
    if (p[1] != l->n_slots)
        return ember_err_set(err, -EMBER_ECORRUPT, "state value: %u slots, expected %d", p[1],
                             l->n_slots);
    for (int i = 0; i < l->n_slots; i++) {
        uint64_t bits = get_u64le(p + ACC_HEADER_BYTES + 8 * (size_t)i);
        memcpy(&s[i], &bits, sizeof bits);
    }
    return 0;
}
