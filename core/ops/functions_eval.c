/*
 * functions_eval: what each built-in function computes (declared in
 * functions_eval.h, listed in functions.c's table). Strings are bytes:
 * lower/upper change ASCII letters only, length counts bytes, substr and
 * split_part count bytes from 1. A result that is a slice of an argument
 * borrows it; a new string is written into the scratch arena.
 */
#include "core/ops/functions_eval.h"
#include "core/ops/text.h"

#include <ctype.h>
#include <limits.h>
#include <math.h>
#include <regex.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MS_PER_DAY 86400000

static void set_null(ember_value *out)
{
    out->type = EMBER_NULL;
}
static void set_int(ember_value *out, int64_t v)
{
    *out = (ember_value){.type = EMBER_INT, .u.i = v};
}
static void set_float(ember_value *out, double v)
{
    *out = (ember_value){.type = EMBER_FLOAT, .u.f = v};
}
static void set_bool(ember_value *out, int v)
{
    *out = (ember_value){.type = EMBER_BOOL, .u.i = v != 0};
}
static void set_str(ember_value *out, const char *p, size_t n)
{
    *out = (ember_value){.type = EMBER_STRING, .u.s = {p, (uint32_t)n}};
}
static double num(const ember_value *v)
{
    return v->type == EMBER_FLOAT ? v->u.f : (double)v->u.i;
}

/* v converted to the call's common type (an int where a float is due). */
static void as_common(const expr *call, const ember_value *v, ember_value *out)
{
    *out = *v;
    if (call->otype == EMBER_FLOAT && v->type == EMBER_INT)
        set_float(out, (double)v->u.i);
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return q - (a % b != 0 && (a < 0) != (b < 0));
}

/* ---------------------------------------------------------------- strings */

static void map_case(const ember_value *s, arena *scratch, ember_value *out, int (*f)(int))
{
    char *p = arena_alloc(scratch, s->u.s.len + 1);
    if (!p)
        return set_null(out);
    for (uint32_t i = 0; i < s->u.s.len; i++)
        p[i] = (char)f((unsigned char)s->u.s.ptr[i]);
    set_str(out, p, s->u.s.len);
}

FN_EVAL(fn_lower)
{
    map_case(&args[0], scratch, out, tolower);
}
FN_EVAL(fn_upper)
{
    map_case(&args[0], scratch, out, toupper);
}
FN_EVAL(fn_length)
{
    set_int(out, args[0].u.s.len);
}

/* substr(s, start[, n]): start counts from 1, a negative start from the end
 * (-1 is the last byte), 0 is 1; a negative n gives "". */
FN_EVAL(fn_substr)
{
    int64_t len = args[0].u.s.len, start = args[1].u.i;
    int64_t from = start > 0 ? start - 1 : start < 0 ? len + start : 0;
    if (from < 0)
        from = 0;
    if (from > len)
        from = len;
    int64_t n = len - from;
    if (call->nargs == 3 && args[2].u.i < n)
        n = args[2].u.i < 0 ? 0 : args[2].u.i;
    set_str(out, args[0].u.s.ptr + from, (size_t)n);
}

FN_EVAL(fn_concat)
{
    size_t total = 0;
    char num_buf[64];
    for (int i = 0; i < call->nargs; i++)
        total += args[i].type == EMBER_STRING ? args[i].u.s.len
                                              : value_format(&args[i], num_buf, sizeof num_buf);
    char *p = arena_alloc(scratch, total + 1), *w = p;
    if (!p)
        return set_null(out);
    for (int i = 0; i < call->nargs; i++) {
        if (args[i].type == EMBER_STRING) {
            memcpy(w, args[i].u.s.ptr, args[i].u.s.len);
            w += args[i].u.s.len;
        } else {
            w += value_format(&args[i], w, sizeof num_buf);
        }
    }
    set_str(out, p, total);
}

/* Removes ASCII white space (space, \t \n \v \f \r) at both ends. */
FN_EVAL(fn_trim)
{
    const char *p = args[0].u.s.ptr;
    size_t a = 0, b = args[0].u.s.len;
    while (a < b && isspace((unsigned char)p[a]))
        a++;
    while (b > a && isspace((unsigned char)p[b - 1]))
        b--;
    set_str(out, p + a, b - a);
}

/* replace(s, from, to): every occurrence of from, left to right without
 * overlaps, becomes to (SQL's REPLACE); an empty from changes nothing. */
FN_EVAL(fn_replace)
{
    const ember_str *s = &args[0].u.s, *f = &args[1].u.s, *t = &args[2].u.s;
    size_t hits = 0;
    if (!f->len || !s->len) {
        set_str(out, s->ptr, s->len);
        return;
    }
    for (const char *p = s->ptr, *end = s->ptr + s->len;
         (p = memmem(p, (size_t)(end - p), f->ptr, f->len)); p += f->len)
        hits++;
    size_t n = s->len - hits * f->len + hits * t->len;
    char *buf = arena_alloc(scratch, n + 1), *w = buf;
    if (!buf)
        return set_null(out);
    const char *p = s->ptr, *end = s->ptr + s->len, *hit;
    while ((hit = memmem(p, (size_t)(end - p), f->ptr, f->len))) {
        memcpy(w, p, (size_t)(hit - p));
        w += hit - p;
        if (t->len)
            memcpy(w, t->ptr, t->len);
        w += t->len;
        p = hit + f->len;
    }
    memcpy(w, p, (size_t)(end - p));
    set_str(out, buf, n);
}

FN_EVAL(fn_starts_with)
{
    const ember_str *s = &args[0].u.s, *p = &args[1].u.s;
    set_bool(out, p->len <= s->len && (!p->len || !memcmp(s->ptr, p->ptr, p->len)));
}

FN_EVAL(fn_contains)
{
    const ember_str *s = &args[0].u.s, *p = &args[1].u.s;
    set_bool(out, !p->len || (s->len && memmem(s->ptr, s->len, p->ptr, p->len)));
}

/* REG_STARTEND: the slice needs no NUL terminator and may hold NUL bytes. */
static int match(const expr *call, const ember_str *s, size_t n, regmatch_t *m)
{
    m[0].rm_so = 0;
    m[0].rm_eo = (regoff_t)s->len;
    return regexec(call->aux, s->ptr ? s->ptr : "", n, m, REG_STARTEND) == 0;
}

/* s like p: '%' is any run of bytes, '_' one byte. Iterative, with one
 * backtrack point (the last '%'): O(len(s) * len(p)) at worst, no stack. */
static int like_match(const char *s, size_t n, const char *p, size_t m)
{
    size_t i = 0, j = 0, star = SIZE_MAX, mark = 0;
    while (i < n) {
        if (j < m && (p[j] == '_' || (p[j] != '%' && p[j] == s[i]))) {
            i++, j++;
        } else if (j < m && p[j] == '%') {
            star = j++;
            mark = i;
        } else if (star != SIZE_MAX) {
            j = star + 1;
            i = ++mark;
        } else {
            return 0;
        }
    }
    while (j < m && p[j] == '%')
        j++;
    return j == m;
}

FN_EVAL(fn_like)
{
    set_bool(out, like_match(args[0].u.s.ptr, args[0].u.s.len, args[1].u.s.ptr, args[1].u.s.len));
}

/* The text of group iarg of the first match; NULL when nothing matches or
 * the group took no part in the match. */
FN_EVAL(fn_regexp_extract)
{
    regmatch_t m[FN_MAX_GROUPS];
    if (!match(call, &args[0].u.s, FN_MAX_GROUPS, m) || m[call->iarg].rm_so < 0)
        return set_null(out);
    const regmatch_t *g = &m[call->iarg];
    set_str(out, args[0].u.s.ptr + g->rm_so, (size_t)(g->rm_eo - g->rm_so));
}

/* split_part(s, delim, n): the n-th piece (from 1; negative counts from the
 * end), "" past the last; n = 0 or an empty delimiter is NULL. */
FN_EVAL(fn_split_part)
{
    const ember_str *s = &args[0].u.s, *d = &args[1].u.s;
    int64_t want = args[2].u.i, pieces = 1;
    if (want == 0 || d->len == 0)
        return set_null(out);
    if (s->len == 0)
        return set_str(out, "", 0);
    for (const char *p = s->ptr, *end = s->ptr + s->len;
         p && (p = memmem(p, (size_t)(end - p), d->ptr, d->len)); p += d->len)
        pieces++;
    if (want < 0)
        want += pieces + 1;
    if (want < 1 || want > pieces)
        return set_str(out, "", 0);
    const char *start = s->ptr, *end = s->ptr + s->len;
    for (int64_t i = 1; i < want; i++)
        start = (const char *)memmem(start, (size_t)(end - start), d->ptr, d->len) + d->len;
    const char *stop = memmem(start, (size_t)(end - start), d->ptr, d->len);
    set_str(out, start, (size_t)((stop ? stop : end) - start));
}

/* ---------------------------------------------------------------- numbers */

FN_EVAL(fn_abs)
{
    if (args[0].type == EMBER_INT)
        set_int(out, args[0].u.i < 0 ? (int64_t)(0 - (uint64_t)args[0].u.i) : args[0].u.i);
    else
        set_float(out, fabs(args[0].u.f));
}

/* Half away from zero, at d decimals (negative d: tens, hundreds, ...); an
 * int stays an int. */
FN_EVAL(fn_round)
{
    int64_t d = call->nargs == 2 ? args[1].u.i : 0;
    d = d < -18 ? -18 : d > 18 ? 18 : d; /* past any int64's or double's digits */
    double scale = pow(10, (double)(d < 0 ? -d : d));
    if (args[0].type == EMBER_INT) {
        if (d >= 0)
            return set_int(out, args[0].u.i);
        int64_t p = (int64_t)scale, x = args[0].u.i, r = x % p;
        uint64_t down = (uint64_t)(x - r), adj = (uint64_t)(x < 0 ? -p : p);
        return set_int(out,
                       (int64_t)((r < 0 ? -r : r) >= p - (r < 0 ? -r : r) ? down + adj : down));
    }
    double x = args[0].u.f, y = d >= 0 ? round(x * scale) / scale : round(x / scale) * scale;
    set_float(out, isfinite(y) ? y : x);
}

/* A double as an int64; NULL when it is NaN or out of range. */
static void float_to_int(double x, ember_value *out)
{
    if (!(x >= -9223372036854775808.0 && x < 9223372036854775808.0))
        return set_null(out);
    set_int(out, (int64_t)x);
}

FN_EVAL(fn_floor)
{
    if (args[0].type == EMBER_INT)
        return set_int(out, args[0].u.i);
    float_to_int(floor(args[0].u.f), out);
}
FN_EVAL(fn_ceil)
{
    if (args[0].type == EMBER_INT)
        return set_int(out, args[0].u.i);
    float_to_int(ceil(args[0].u.f), out);
}

/* Outside the domain (sqrt of a negative, ln of 0 or less): NULL. */
FN_EVAL(fn_sqrt)
{
    double x = num(&args[0]);
    x < 0 ? set_null(out) : set_float(out, sqrt(x));
}
FN_EVAL(fn_ln)
{
    double x = num(&args[0]);
    x <= 0 ? set_null(out) : set_float(out, log(x));
}
FN_EVAL(fn_exp)
{
    set_float(out, exp(num(&args[0])));
}
FN_EVAL(fn_pow)
{
    double r = pow(num(&args[0]), num(&args[1]));
    isnan(r) ? set_null(out) : set_float(out, r);
}

/* least/greatest skip NULLs (NULL only when all are NULL), as in Spark. */
static void extreme(const expr *call, const ember_value *args, ember_value *out, int sign)
{
    set_null(out);
    for (int i = 0; i < call->nargs; i++) {
        if (args[i].type == EMBER_NULL)
            continue;
        if (out->type == EMBER_NULL || expr_value_cmp(call->otype, &args[i], out) * sign > 0)
            as_common(call, &args[i], out);
    }
}
FN_EVAL(fn_least)
{
    extreme(call, args, out, -1);
}
FN_EVAL(fn_greatest)
{
    extreme(call, args, out, 1);
}

/* ---------------------------------------------------- NULLs and choices */

FN_EVAL(fn_coalesce)
{
    set_null(out);
    for (int i = 0; i < call->nargs; i++)
        if (args[i].type != EMBER_NULL)
            return as_common(call, &args[i], out);
}

FN_EVAL(fn_nullif)
{
    *out = args[0];
    if (args[0].type != EMBER_NULL && args[1].type != EMBER_NULL &&
        expr_value_cmp(call->otype, &args[0], &args[1]) == 0)
        set_null(out);
}

static int is_true(const ember_value *v)
{
    return v->type == EMBER_BOOL && v->u.i;
}

/* if(c, a, b): b when c is false or NULL. */
FN_EVAL(fn_if)
{
    as_common(call, is_true(&args[0]) ? &args[1] : &args[2], out);
}

/* args: cond, value, ... [, else]; no arm holds and no else: NULL. */
FN_EVAL(fn_case)
{
    int i = 0;
    for (; i + 1 < call->nargs; i += 2)
        if (is_true(&args[i]))
            return as_common(call, &args[i + 1], out);
    if (i < call->nargs)
        return as_common(call, &args[i], out);
    set_null(out);
}

/* x in (...): true on a match; else NULL if x or any item is NULL. */
FN_EVAL(fn_in)
{
    int unknown = 0;
    if (args[0].type == EMBER_NULL)
        return set_null(out);
    for (int i = 1; i < call->nargs; i++) {
        if (args[i].type == EMBER_NULL)
            unknown = 1;
        else if (expr_value_cmp(call->otype, &args[0], &args[i]) == 0)
            return set_bool(out, 1);
    }
    unknown ? set_null(out) : set_bool(out, 0);
}

/* x between a and b is x >= a and x <= b, three-valued: one false side
 * makes it false even when the other is NULL. */
FN_EVAL(fn_between)
{
    const ember_value *x = &args[0];
    int lo = x->type == EMBER_NULL || args[1].type == EMBER_NULL
                 ? -1
                 : expr_value_cmp(call->otype, x, &args[1]) >= 0;
    int hi = x->type == EMBER_NULL || args[2].type == EMBER_NULL
                 ? -1
                 : expr_value_cmp(call->otype, x, &args[2]) <= 0;
    if (lo == 0 || hi == 0)
        return set_bool(out, 0);
    lo < 0 || hi < 0 ? set_null(out) : set_bool(out, 1);
}

/* x is null: never NULL itself (the only way to test for NULL). */
FN_EVAL(fn_is_null)
{
    set_bool(out, args[0].type == EMBER_NULL);
}

/* ------------------------------------------------------------- time (ms) */

FN_EVAL(fn_date_trunc)
{
    set_int(out, floor_div(args[1].u.i, call->iarg) * call->iarg);
}
FN_EVAL(fn_hour)
{
    set_int(out, (args[0].u.i - floor_div(args[0].u.i, MS_PER_DAY) * MS_PER_DAY) / 3600000);
}
/* ISO: 1 is Monday, 7 is Sunday; 1970-01-01 was a Thursday. */
FN_EVAL(fn_day_of_week)
{
    int64_t days = floor_div(args[0].u.i, MS_PER_DAY);
    set_int(out, ((days % 7) + 7 + 3) % 7 + 1);
}
FN_EVAL(fn_to_iso)
{
    char *p = arena_alloc(scratch, 64);
    if (!p)
        return set_null(out);
    set_str(out, p, text_iso8601_ms(args[0].u.i, p, 64));
}

/* ------------------------------------------------------------------ cast */

/* A string slice as a NUL-terminated copy in buf; 0 when it does not fit. */
static int terminated(const ember_str *s, char *buf, size_t cap)
{
    if (s->len == 0 || s->len >= cap)
        return 0;
    memcpy(buf, s->ptr, s->len);
    buf[s->len] = '\0';
    return 1;
}

/* cast(x as float): a string that is not wholly a number is NULL. */
static void parse_float(const ember_str *s, ember_value *out)
{
    char buf[64], *end;
    if (!terminated(s, buf, sizeof buf))
        return set_null(out);
    double x = strtod(buf, &end);
    *end || isspace((unsigned char)buf[0]) ? set_null(out) : set_float(out, x);
}

/* cast(x as int): floats and numeric strings truncate toward zero. */
FN_EVAL(fn_cast_int)
{
    char buf[64], *end;
    switch (args[0].type) {
    case EMBER_FLOAT:
        return float_to_int(trunc(args[0].u.f), out);
    case EMBER_STRING:
        if (!terminated(&args[0].u.s, buf, sizeof buf))
            return set_null(out);
        long long v = strtoll(buf, &end, 10);
        if (!*end && !isspace((unsigned char)buf[0]) && !(v == LLONG_MAX || v == LLONG_MIN))
            return set_int(out, v);
        parse_float(&args[0].u.s, out);
        return out->type == EMBER_FLOAT ? float_to_int(trunc(out->u.f), out) : (void)0;
    default: /* int, and a boolean as 0 or 1 */
        return set_int(out, args[0].u.i);
    }
}

FN_EVAL(fn_cast_float)
{
    if (args[0].type == EMBER_STRING)
        return parse_float(&args[0].u.s, out);
    set_float(out, args[0].type == EMBER_FLOAT ? args[0].u.f : (double)args[0].u.i);
}

/* Numbers as every text output writes them (value_format). */
FN_EVAL(fn_cast_string)
{
    if (args[0].type == EMBER_STRING)
        return (void)(*out = args[0]);
    char *p = arena_alloc(scratch, 64);
    if (!p)
        return set_null(out);
    set_str(out, p, value_format(&args[0], p, 64));
}
