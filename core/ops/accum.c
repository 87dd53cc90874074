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
#include "core/ops/accum.h"
#include "core/ops/summary.h"

#include "core/base/endian.h"

#include "core/ops/text.h"

#include <errno.h>
#include <math.h>
#include <string.h>
#include <xxhash.h>

#define ACC_HEADER_BYTES 2

static int agg_slots(const agg_spec *a)
{
    switch (a->fn) {
    case AGG_COUNT: /* count(): reuses slot 0; count(f), a filtered count(): its own */
        return a->field >= 0 || a->filter;
    case AGG_AVG:
    case AGG_WAVG:
        return 2;
    case AGG_HLL:
        return HLL_SLOTS;
    case AGG_SET:
        return SET_SLOTS;
    case AGG_TOPK:
        return topk_slots(a->k);
    case AGG_USER:
        return (int)((a->user_fns.state_bytes + sizeof(acc_slot) - 1) / sizeof(acc_slot));
    default:
        return 1;
    }
}

static int user_check(const agg_spec *a, int i, ember_err *err)
{
    const ember_agg_fns *f = &a->user_fns;
    if (f->state_bytes < 1 || f->state_bytes > EMBER_AGG_STATE_MAX)
        return ember_err_set(err, -EMBER_EUSAGE,
                             "aggregate %d (%s): state must be 1 to %d bytes, not %u", i + 1,
                             a->name, EMBER_AGG_STATE_MAX, f->state_bytes);
    if (f->result_type != EMBER_INT && f->result_type != EMBER_FLOAT)
        return ember_err_set(err, -EMBER_EUSAGE, "aggregate %d (%s): result must be int or float",
                             i + 1, a->name);
    if (a->n_args < 0 || a->n_args > EMBER_AGG_MAX_ARGS)
        return ember_err_set(err, -EMBER_EUSAGE, "aggregate %d (%s): %d fields, at most %d",
                             i + 1, a->name, a->n_args, EMBER_AGG_MAX_ARGS);
    return 0;
}

static int agg_check(const agg_spec *a, int i, ember_err *err)
{
    if (a->fn == AGG_COUNT)
        return 0;
    if (a->fn == AGG_USER)
        return user_check(a, i, err);
    if (a->fn < AGG_COUNT || a->fn > AGG_TOPK)
        return ember_err_set(err, -EINVAL, "aggregate %d (%s): unknown function %d", i + 1,
                             a->name, (int)a->fn);
    if (a->field < 0)
        return ember_err_set(err, -EMBER_EUSAGE, "aggregate %d (%s): needs a field", i + 1,
                             a->name);
    if (a->fn == AGG_TOPK && (a->k < 1 || a->k > TOPK_MAX_K))
        return ember_err_set(err, -EMBER_EUSAGE, "aggregate %d (%s): K must be 1 to %d, not %d",
                             i + 1, a->name, TOPK_MAX_K, a->k);
    if (a->fn == AGG_HLL || a->fn == AGG_SET || a->fn == AGG_TOPK)
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
        int need = agg_slots(&aggs[i]);
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

/* A sum that has seen no value (only NULLs: the sum is NULL): INT64_MIN
 * for ints, a NaN with a payload of its own for floats (arithmetic on a NaN
 * input gives a quiet NaN, never this one). A state written before 0.4
 * holds 0 there: such a key keeps reading 0. */
#define SUM_NONE_BITS UINT64_C(0x7ff40000000e3b3e)

static acc_slot sum_none(ember_type t)
{
    acc_slot v;
    if (t == EMBER_INT)
        v.i = INT64_MIN;
    else
        v.i = (int64_t)SUM_NONE_BITS;
    return v;
}

static int sum_is_none(ember_type t, acc_slot v)
{
    return t == EMBER_INT ? v.i == INT64_MIN : (uint64_t)v.i == SUM_NONE_BITS;
}

void acc_init(const acc_layout *l, acc_slot *s)
{
    memset(s, 0, (size_t)l->n_slots * sizeof *s);
    for (int i = 0; i < l->n_aggs; i++) {
        const agg_spec *a = &l->aggs[i];
        int is_int = a->in_type == EMBER_INT;
        if (a->fn == AGG_USER && a->user_fns.init)
            a->user_fns.init(&s[a->slot], a->user);
        if (a->fn == AGG_SUM)
            s[a->slot] = sum_none(a->in_type);
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
    if (sum_is_none(t, x))
        return; /* merging a delta that saw no value */
    if (sum_is_none(t, *slot))
        *slot = x;
    else if (t == EMBER_INT)
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
    default: /* folded by acc_add itself */
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

/* A C aggregate's add, with the record's fields it asked for. */
static void user_add(const agg_spec *a, acc_slot *s, const ember_record *rec)
{
    ember_value v[EMBER_AGG_MAX_ARGS];
    ember_record args = {(uint32_t)a->n_args, v};
    if (!a->user_fns.add)
        return;
    for (int j = 0; j < a->n_args; j++)
        v[j] = (uint32_t)a->args[j] < rec->n ? rec->values[a->args[j]]
                                             : (ember_value){.type = EMBER_NULL};
    a->user_fns.add(s, &args, a->user);
}

/* Whether aggregate a folds the record: it has no filter, or its filter is
 * true (false and NULL skip it, as `filter` drops them). */
static int agg_takes(const agg_spec *a, const ember_record *rec, arena *scratch)
{
    return !a->filter || expr_is_true(a->filter, rec, scratch);
}

void acc_add(const acc_layout *l, acc_slot *s, const ember_record *rec, arena *scratch)
{
    s[0].i++;
    for (int i = 0; i < l->n_aggs; i++) {
        const agg_spec *a = &l->aggs[i];
        acc_slot x;
        if (!agg_takes(a, rec, scratch))
            continue;
        if (a->fn == AGG_COUNT && a->field < 0) { /* slot 0 unless filtered */
            s[a->slot].i += a->slot != 0;
            continue;
        }
        if (a->fn == AGG_USER) {
            user_add(a, &s[a->slot], rec);
            continue;
        }
        if (a->field < 0 || (uint32_t)a->field >= rec->n)
            continue;
        if (a->fn == AGG_COUNT) { /* count(f): the values that are not NULL */
            s[a->slot].i += rec->values[a->field].type != EMBER_NULL;
            continue;
        }
        if (a->fn == AGG_HLL) {
            hll_add(&s[a->slot], &rec->values[a->field]);
            continue;
        }
        if (a->fn == AGG_SET) {
            set_add(&s[a->slot], &rec->values[a->field]);
            continue;
        }
        if (a->fn == AGG_TOPK) {
            topk_add(&s[a->slot], a->k, &rec->values[a->field]);
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

void acc_retract(const acc_layout *l, acc_slot *s, const ember_record *rec, arena *scratch)
{
    s[0].i--;
    for (int i = 0; i < l->n_aggs; i++) {
        const agg_spec *a = &l->aggs[i];
        acc_slot x, *slot = &s[a->slot];
        if (!agg_takes(a, rec, scratch))
            continue;
        if (a->fn == AGG_COUNT && a->field < 0) {
            slot->i -= a->slot != 0;
            continue;
        }
        if (a->field < 0 || (uint32_t)a->field >= rec->n)
            continue;
        if (a->fn == AGG_COUNT) {
            slot->i -= rec->values[a->field].type != EMBER_NULL;
            continue;
        }
        if (!value_get(&rec->values[a->field], a->in_type, &x))
            continue;
        if (a->fn == AGG_SUM && sum_is_none(a->in_type, *slot))
            slot->i = 0; /* a delta that retracts first: 0 - x (0.0 has the bits of 0) */
        if (a->fn == AGG_SUM && a->in_type == EMBER_INT)
            slot->i = add_wrap(slot->i, -x.i);
        else if (a->fn == AGG_SUM)
            slot->f -= x.f;
        else if (a->fn == AGG_AVG) {
            slot[0].f -= a->in_type == EMBER_INT ? (double)x.i : x.f;
            slot[1].i--;
        }
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
        case AGG_SET:
            set_merge(&into[a->slot], f);
            break;
        case AGG_TOPK:
            topk_merge(&into[a->slot], f, a->k);
            break;
        case AGG_USER:
            if (a->user_fns.merge)
                a->user_fns.merge(&into[a->slot], f, a->user);
            break;
        case AGG_COUNT:
            if (a->slot)
                into[a->slot].i = add_wrap(into[a->slot].i, f->i);
            break;
        }
    }
}

ember_type acc_result_type(const agg_spec *a)
{
    if (a->fn == AGG_COUNT || a->fn == AGG_HLL || a->fn == AGG_SET)
        return EMBER_INT;
    if (a->fn == AGG_TOPK)
        return EMBER_STRING;
    if (a->fn == AGG_USER)
        return a->user_fns.result_type;
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

/* topk's "a:5|b:3" into txt (NULL when txt is full or missing). */
static void topk_result(const agg_spec *a, const acc_slot *s, ember_value *out, acc_text *txt)
{
    if (!txt || txt->used >= sizeof txt->buf) {
        out->type = EMBER_NULL;
        return;
    }
    char *p = txt->buf + txt->used;
    size_t n = topk_format(&s[a->slot], a->k, p, sizeof txt->buf - txt->used);
    txt->used += n;
    out->u.s = (ember_str){p, (uint32_t)n};
}

/* A C aggregate's result; NULL without callbacks or of another type. */
static void user_result(const agg_spec *a, const acc_slot *s, ember_value *out)
{
    out->u.i = 0;
    if (a->user_fns.result)
        a->user_fns.result(&s[a->slot], out, a->user);
    else
        out->type = EMBER_NULL;
    if (out->type != a->user_fns.result_type)
        out->type = EMBER_NULL;
}

void acc_result(const acc_layout *l, const acc_slot *s, int i, ember_value *out, acc_text *txt)
{
    const agg_spec *a = &l->aggs[i];
    acc_slot v = s[a->slot];

    out->type = acc_result_type(a);
    switch (a->fn) {
    case AGG_COUNT:
        out->u.i = a->slot ? v.i : s[0].i;
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
    case AGG_SET:
        out->u.i = set_count(&s[a->slot]);
        if (out->u.i < 0)
            out->type = EMBER_NULL; /* overflowed: acc_check fails the batch */
        return;
    case AGG_TOPK:
        topk_result(a, s, out, txt);
        return;
    case AGG_USER:
        user_result(a, s, out);
        return;
    case AGG_MIN:
    case AGG_MAX:
        if (s[0].i == 0 || extreme_unset(a, v)) {
            out->type = EMBER_NULL;
            return;
        }
        break;
    case AGG_SUM:
        if (sum_is_none(a->in_type, v))
            out->type = EMBER_NULL;
        break;
    }
    if (out->type == EMBER_NULL)
        return;
    if (out->type == EMBER_INT)
        out->u.i = v.i;
    else
        out->u.f = v.f;
}

int acc_check(const acc_layout *l, const acc_slot *s, ember_err *err)
{
    for (int i = 0; i < l->n_aggs; i++) {
        const agg_spec *a = &l->aggs[i];
        if (a->fn == AGG_SET && set_count(&s[a->slot]) < 0)
            return ember_err_set(err, -EOVERFLOW,
                                 "%s: more than %d distinct values, the bound of an exact "
                                 "count_distinct (use count_distinct(f, approx))",
                                 a->name, SET_MAX);
    }
    return 0;
}

/*
 * Value format (one key of an operator's column family), little-endian.
 * Version 1, for layouts of at most 255 slots without count_distinct(f) or
 * topk (what every checkpoint before version 2 holds):
 *   offset 0   u8   version, ACC_CODEC_VERSION (1)
 *   offset 1   u8   n_slots (<= 255)
 *   offset 2   n_slots x 8 bytes: int64 (two's complement) or IEEE-754
 *              double bit pattern, as the layout says
 * Version 2, for the other layouts (the summaries' unused slots are zero
 * and not written, so a key with 3 distinct values stores 3 hashes):
 *   offset 0   u8   version, ACC_CODEC_VERSION_SUMMARY (2)
 *   offset 1   u16  n_slots (<= ACC_MAX_SLOTS)
 *   offset 3   the slots in layout order, 8 bytes each as above, except
 *              that a summary writes its header slot (n) and then only its
 *              used slots: n hashes (count_distinct), n counters of 8 slots
 *              (topk)
 * No checksum here: RocksDB checksums its blocks and the WAL.
 */
static int codec_v2(const acc_layout *l)
{
    if (l->n_slots > 255)
        return 1;
    for (int i = 0; i < l->n_aggs; i++)
        if (l->aggs[i].fn == AGG_SET || l->aggs[i].fn == AGG_TOPK)
            return 1;
    return 0;
}

static size_t header_bytes(const acc_layout *l)
{
    return codec_v2(l) ? 3 : ACC_HEADER_BYTES;
}

size_t acc_encoded_bytes(const acc_layout *l)
{
    return header_bytes(l) + (size_t)l->n_slots * 8;
}

static uint8_t *put_slots(uint8_t *p, const acc_slot *s, int n)
{
    for (int i = 0; i < n; i++, p += 8) {
        uint64_t bits;
        memcpy(&bits, &s[i], sizeof bits);
        put_u64le(p, bits);
    }
    return p;
}

/* Slots of aggregate a that are in use (all, but for a summary). */
static int used_slots(const agg_spec *a, const acc_slot *s)
{
    if (a->fn == AGG_SET)
        return set_used_slots(&s[a->slot]);
    if (a->fn == AGG_TOPK)
        return topk_used_slots(&s[a->slot]);
    return agg_slots(a);
}

size_t acc_encode(const acc_layout *l, const acc_slot *s, uint8_t *out)
{
    uint8_t *p = out;
    if (!codec_v2(l)) {
        *p++ = ACC_CODEC_VERSION;
        *p++ = (uint8_t)l->n_slots;
        return (size_t)(put_slots(p, s, l->n_slots) - out);
    }
    *p++ = ACC_CODEC_VERSION_SUMMARY;
    *p++ = (uint8_t)(l->n_slots & 0xff);
    *p++ = (uint8_t)(l->n_slots >> 8);
    p = put_slots(p, s, 1);
    for (int i = 0; i < l->n_aggs; i++) {
        const agg_spec *a = &l->aggs[i];
        if (a->fn != AGG_COUNT || a->filter)
            p = put_slots(p, &s[a->slot], used_slots(a, s));
    }
    return (size_t)(p - out);
}

/* Reads n slots at *p, if they are within end. */
static int get_slots(const uint8_t **p, const uint8_t *end, acc_slot *s, int n)
{
    if (n < 0 || (size_t)(end - *p) < (size_t)n * 8)
        return -1;
    for (int i = 0; i < n; i++, *p += 8) {
        uint64_t bits = get_u64le(*p);
        memcpy(&s[i], &bits, sizeof bits);
    }
    return 0;
}

/* A summary's header slot, read: the used slots it announces, or -1. */
static int summary_used(const agg_spec *a, const acc_slot *s)
{
    int64_t n = s[a->slot].i;
    if (a->fn == AGG_SET)
        return n >= -1 && n <= SET_MAX ? set_used_slots(&s[a->slot]) : -1;
    return n >= 0 && n <= topk_counters(a->k) ? topk_used_slots(&s[a->slot]) : -1;
}

static int decode_summary(const acc_layout *l, const uint8_t *p, const uint8_t *end, acc_slot *s,
                          ember_err *err)
{
    memset(s, 0, (size_t)l->n_slots * sizeof *s);
    int bad = get_slots(&p, end, s, 1);
    for (int i = 0; i < l->n_aggs && !bad; i++) {
        const agg_spec *a = &l->aggs[i];
        if (a->fn == AGG_COUNT && !a->filter)
            continue; /* count(f) is not written here (the layout of earlier releases) */
        if (a->fn != AGG_SET && a->fn != AGG_TOPK) {
            bad = get_slots(&p, end, &s[a->slot], agg_slots(a));
            continue;
        }
        bad = get_slots(&p, end, &s[a->slot], 1);
        int used = bad ? -1 : summary_used(a, s);
        bad = used < 0 || get_slots(&p, end, &s[a->slot + 1], used - 1);
    }
    if (bad || p != end)
        return ember_err_set(err, -EMBER_ECORRUPT,
                             "state value: %zu bytes do not hold the %d slots' summaries",
                             (size_t)(end - p), l->n_slots);
    return 0;
}

int acc_decode(const acc_layout *l, const void *buf, size_t len, acc_slot *s, ember_err *err)
{
    const uint8_t *p = buf;
    int v2 = codec_v2(l);
    size_t hdr = header_bytes(l);

    if (v2 ? len < hdr || len > acc_encoded_bytes(l) : len != acc_encoded_bytes(l))
        return ember_err_set(err, -EMBER_ECORRUPT,
                             "state value: %zu bytes, expected %s%zu for %d slots", len,
                             v2 ? "at most " : "", acc_encoded_bytes(l), l->n_slots);
    int version = v2 ? ACC_CODEC_VERSION_SUMMARY : ACC_CODEC_VERSION;
    if (p[0] != version)
        return ember_err_set(err, -EMBER_ECORRUPT, "state value: version %u, expected %d",
                             p[0], version);
    int n_slots = v2 ? p[1] | p[2] << 8 : p[1];
    if (n_slots != l->n_slots)
        return ember_err_set(err, -EMBER_ECORRUPT, "state value: %d slots, expected %d",
                             n_slots, l->n_slots);
    if (v2)
        return decode_summary(l, p + hdr, p + len, s, err);
    p += hdr;
    (void)get_slots(&p, p + 8 * (size_t)n_slots, s, n_slots);
    return 0;
}
