/*
 * csv: one CSV/TSV line into typed values without copying (see csv.h). This
 * runs once per record in the transform step, so it avoids per-field calls
 * through pointers and library parsers: fields are found with memchr,
 * integers are parsed by hand, floats through Clinger's exact fast path (a
 * mantissa below 2^53 scaled by an exactly representable power of ten is
 * correctly rounded by one IEEE division), and strtod on a bounded,
 * NUL-terminated stack copy only for the rest (exponents, long mantissas).
 * The line is not NUL-terminated: nothing here reads line[len].
 */
#include "core/ops/csv.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Why a field could not be read; the message names the field. */
typedef enum csv_fault {
    CSV_OK = 0,
    CSV_UNTERMINATED, /* opening quote without a closing one */
    CSV_AFTER_QUOTE,  /* "abc"x: junk between closing quote and delimiter */
    CSV_NOT_A_NUMBER,
    CSV_OUT_OF_RANGE,
} csv_fault;

/* One field's raw bytes, quotes removed but "" not yet unescaped. */
typedef struct csv_field {
    const char *ptr;
    size_t len;
    size_t start; /* byte offset of the field (its opening quote if quoted) */
    size_t next;  /* offset of the delimiter after it, or len */
    int escaped;  /* contains "" that must be unescaped */
} csv_field;

static const double pow10_exact[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                     1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                     1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* ---------------------------------------------------------------- numbers */

static void trim_slow(const char **p, size_t *n)
{
    while (*n && (**p == ' ' || **p == '\t'))
        (*p)++, (*n)--;
    while (*n && ((*p)[*n - 1] == ' ' || (*p)[*n - 1] == '\t'))
        (*n)--;
}

/* Numbers rarely have spaces: one test on each end, the loop only then. */
static inline void trim(const char **p, size_t *n)
{
    if (*n && ((*p)[0] <= ' ' || (*p)[*n - 1] <= ' '))
        trim_slow(p, n);
}

/* Decimal int64 with optional sign; no strtoll (it needs a NUL and a locale). */
static csv_fault parse_int(const char *p, size_t n, int64_t *out)
{
    int neg = 0, overflow = 0;
    uint64_t v = 0;
    trim(&p, &n);
    if (n && (*p == '-' || *p == '+')) {
        neg = *p == '-';
        p++, n--;
    }
    if (n == 0)
        return CSV_NOT_A_NUMBER;
    for (size_t i = 0; i < n; i++) {
        unsigned d = (unsigned)(p[i] - '0');
        if (d > 9)
            return CSV_NOT_A_NUMBER;
        /* keep scanning after an overflow: "9999...x" is not a number at all */
        overflow |= __builtin_mul_overflow(v, 10, &v);
        overflow |= __builtin_add_overflow(v, d, &v);
    }
    if (overflow || v > (uint64_t)INT64_MAX + (uint64_t)neg)
        return CSV_OUT_OF_RANGE;
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return CSV_OK;
}

static csv_fault parse_float_slow(const char *p, size_t n, double *out)
{
    char buf[128];
    char *end;
    if (n >= sizeof buf)
        return CSV_NOT_A_NUMBER;
    memcpy(buf, p, n);
    buf[n] = '\0';
    /* strtod skips leading spaces; trim() removed them, so any other
     * leading byte it would skip (\n, \v) is rejected by the end check */
    if (buf[0] == ' ' || (buf[0] >= '\t' && buf[0] <= '\r'))
        return CSV_NOT_A_NUMBER;
    /* decimal only: strtod would also read hex ("0x1p3") */
    if (memchr(buf, 'x', n) || memchr(buf, 'X', n))
        return CSV_NOT_A_NUMBER;
    double d = strtod(buf, &end);
    if (end != buf + n)
        return CSV_NOT_A_NUMBER;
    /* "inf" and "nan" are not numbers here; "1e999" is one, too large */
    if (!isfinite(d))
        return isnan(d) || memchr(buf, 'n', n) || memchr(buf, 'N', n) ? CSV_NOT_A_NUMBER
                                                                      : CSV_OUT_OF_RANGE;
    *out = d;
    return CSV_OK;
}

static csv_fault parse_float(const char *p, size_t n, double *out)
{
    const char *s, *end;
    uint64_t m = 0;
    int neg = 0, digits = 0, frac = 0;
    trim(&p, &n);
    s = p;
    end = p + n;
    if (s < end && (*s == '-' || *s == '+'))
        neg = *s++ == '-';
    for (; s < end && *s >= '0' && *s <= '9' && digits < 19; s++, digits++)
        m = m * 10 + (uint64_t)(*s - '0');
    if (s < end && *s == '.')
        for (s++; s < end && *s >= '0' && *s <= '9' && digits < 19; s++, digits++, frac++)
            m = m * 10 + (uint64_t)(*s - '0');
    if (s == end && digits > 0 && m < (1ull << 53) && frac <= 22) {
        double d = (double)m / pow10_exact[frac];
        *out = neg ? -d : d;
        return CSV_OK;
    }
    return n ? parse_float_slow(p, n, out) : CSV_NOT_A_NUMBER;
}

/* ----------------------------------------------------------------- fields */

static csv_fault scan_quoted(const char *line, size_t len, int delim, csv_field *f)
{
    size_t i = f->start + 1;
    for (;; i++) {
        const char *q = memchr(line + i, '"', len - i);
        if (!q)
            return CSV_UNTERMINATED;
        i = (size_t)(q - line);
        if (i + 1 < len && line[i + 1] == '"') {
            f->escaped = 1;
            i++; /* skip the second quote of "" */
            continue;
        }
        break;
    }
    f->ptr = line + f->start + 1;
    f->len = i - f->start - 1;
    f->next = i + 1;
    return f->next < len && line[f->next] != delim ? CSV_AFTER_QUOTE : CSV_OK;
}

/* Finds the field starting at f->start; delim may carry CSV_NO_QUOTES. */
static csv_fault scan_field(const char *line, size_t len, int delim, csv_field *f)
{
    f->escaped = 0;
    if (!(delim & CSV_NO_QUOTES) && f->start < len && line[f->start] == '"')
        return scan_quoted(line, len, delim & 0xff, f);
    const char *d = memchr(line + f->start, delim & 0xff, len - f->start);
    f->next = d ? (size_t)(d - line) : len;
    f->ptr = line + f->start;
    f->len = f->next - f->start;
    return CSV_OK;
}

/* "a""b" -> a"b, into the arena; only fields that had "" get here. */
static int unescape(csv_field *f, arena *scratch, ember_err *err)
{
    char *out = arena_alloc(scratch, f->len);
    size_t o = 0;
    if (!out)
        return ember_err_set(err, -ENOMEM, "out of memory unescaping a quoted field");
    for (size_t i = 0; i < f->len; i++) {
        out[o++] = f->ptr[i];
        if (f->ptr[i] == '"')
            i++;
    }
    f->ptr = out;
    f->len = o;
    return 0;
}

static int field_error(const schema *s, int idx, const csv_field *f, csv_fault fault,
                       ember_err *err)
{
    const schema_field *sf = &s->f[idx];
    int shown = (int)(f->len > 40 ? 40 : f->len);
    size_t col = fault == CSV_AFTER_QUOTE ? f->next : f->start;
    const char *what = fault == CSV_UNTERMINATED   ? "unterminated quoted field"
                       : fault == CSV_AFTER_QUOTE  ? "unexpected text after the closing quote"
                       : fault == CSV_OUT_OF_RANGE ? "is out of range for"
                                                   : "is not";
    if (fault == CSV_UNTERMINATED || fault == CSV_AFTER_QUOTE)
        return ember_err_set_col(err, -EMBER_EBADRECORD, (int)col + 1, "field %d '%s': %s", idx + 1,
                                 sf->name, what);
    return ember_err_set_col(
        err, -EMBER_EBADRECORD, (int)col + 1, "field %d '%s': '%.*s'%s %s %s", idx + 1, sf->name,
        shown, f->ptr, f->len > 40 ? "..." : "", what,
        sf->type == EMBER_INT ? (fault == CSV_OUT_OF_RANGE ? "int64" : "an int") : "a float");
}

/* Types one field into *v; empty is NULL, strings borrow. */
static csv_fault convert(ember_type type, const csv_field *f, ember_value *v)
{
    if (f->len == 0) {
        v->type = EMBER_NULL;
        return CSV_OK;
    }
    v->type = type;
    if (type == EMBER_INT)
        return parse_int(f->ptr, f->len, &v->u.i);
    if (type == EMBER_FLOAT)
        return parse_float(f->ptr, f->len, &v->u.f);
    v->u.s = (ember_str){f->ptr, (uint32_t)f->len};
    return CSV_OK;
}

static int count_error(const schema *s, int got, size_t col, ember_err *err)
{
    if (got < s->n)
        return ember_err_set_col(err, -EMBER_EBADRECORD, (int)col + 1,
                                 "%d field%s, expected %d (missing field %d '%s')", got,
                                 got == 1 ? "" : "s", s->n, got + 1, s->f[got].name);
    return ember_err_set_col(err, -EMBER_EBADRECORD, (int)col + 1, "more than %d fields", s->n);
}

int csv_parse_line(const char *line, size_t len, int delim, const schema *s, ember_value *out,
                   arena *scratch, ember_err *err)
{
    csv_field f = {.next = 0};
    for (int i = 0; i < s->n; i++) {
        if (i > 0 && f.next >= len)
            return count_error(s, i, len, err);
        f.start = i > 0 ? f.next + 1 : 0; /* past the delimiter */
        csv_fault fault = scan_field(line, len, delim, &f);
        if (fault == CSV_OK && f.escaped && unescape(&f, scratch, err))
            return err->code;
        if (fault == CSV_OK)
            fault = convert(s->f[i].type, &f, &out[i]);
        if (fault != CSV_OK)
            return field_error(s, i, &f, fault, err);
    }
    if (f.next < len)
        return count_error(s, s->n + 1, f.next + 1, err);
    return 0;
}
