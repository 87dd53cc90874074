/*
 * csv: one CSV/TSV line into typed values without copying (see csv.h).
 * Numbers are parsed by hand: integers directly, floats through Clinger's
 * exact fast path (a mantissa below 2^53 scaled by an exactly representable
 * power of ten is correctly rounded by one IEEE division or multiplication),
 * and strtod on a bounded copy for everything else.
 */
#include "core/csv.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const double pow10_exact[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                     1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                     1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

static void trim(const char **p, size_t *n)
{
    while (*n && (**p == ' ' || **p == '\t'))
        (*p)++, (*n)--;
    while (*n && ((*p)[*n - 1] == ' ' || (*p)[*n - 1] == '\t'))
        (*n)--;
}

static int parse_int(const char *p, size_t n, int64_t *out)
{
    int neg = 0;
    uint64_t v = 0;
    trim(&p, &n);
    if (n && (*p == '-' || *p == '+')) {
        neg = *p == '-';
        p++, n--;
    }
    if (n == 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        unsigned d = (unsigned)(p[i] - '0');
        if (d > 9 || v > (UINT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    if (v > (uint64_t)INT64_MAX + (uint64_t)neg)
        return -1;
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return 0;
}

static int parse_float_slow(const char *p, size_t n, double *out)
{
    char buf[128];
    char *end;
    if (n >= sizeof buf)
        return -1;
    memcpy(buf, p, n);
    buf[n] = '\0';
    errno = 0;
    double d = strtod(buf, &end);
    if (end != buf + n || !isfinite(d) || (errno == ERANGE && d != 0))
        return -1;
    *out = d;
    return 0;
}

static int parse_float(const char *p, size_t n, double *out)
{
    const char *s = p, *end;
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
        return 0;
    }
    return n ? parse_float_slow(p, n, out) : -1;
}

/* Finds the end of the field starting at `start`; handles quotes. */
static int field_bounds(const char *line, size_t len, size_t start, char delim,
                        const char **fp, size_t *fn, int *escaped, size_t *next, ember_err *err)
{
    *escaped = 0;
    if (start < len && line[start] == '"') {
        size_t i = start + 1;
        for (;; i++) {
            if (i >= len)
                return ember_err_set_col(err, -EMBER_EBADRECORD, (int)start + 1,
                                         "unterminated quoted field");
            if (line[i] != '"')
                continue;
            if (i + 1 < len && line[i + 1] == '"') {
                *escaped = 1;
                i++;
                continue;
            }
            break;
        }
        *fp = line + start + 1;
        *fn = i - start - 1;
        if (i + 1 < len && line[i + 1] != delim)
            return ember_err_set_col(err, -EMBER_EBADRECORD, (int)i + 2,
                                     "expected a delimiter after a closing quote");
        *next = i + 1;
        return 0;
    }
    const char *d = memchr(line + start, delim, len - start);
    size_t stop = d ? (size_t)(d - line) : len;
    *fp = line + start;
    *fn = stop - start;
    *next = stop;
    return 0;
}

static int unescape(const char **fp, size_t *fn, arena *scratch, ember_err *err)
{
    char *out = arena_alloc(scratch, *fn);
    size_t o = 0;
    if (!out)
        return ember_err_set(err, -ENOMEM, "out of memory");
    for (size_t i = 0; i < *fn; i++) {
        out[o++] = (*fp)[i];
        if ((*fp)[i] == '"')
            i++; /* "" -> " */
    }
    *fp = out;
    *fn = o;
    return 0;
}

static int convert(const schema_field *f, int idx, const char *p, size_t n, int col,
                   ember_value *v, ember_err *err)
{
    if (n == 0) {
        v->type = EMBER_NULL;
        return 0;
    }
    v->type = f->type;
    if (f->type == EMBER_STRING) {
        v->u.s = (ember_str){p, (uint32_t)n};
        return 0;
    }
    if (f->type == EMBER_INT ? parse_int(p, n, &v->u.i) == 0 : parse_float(p, n, &v->u.f) == 0)
        return 0;
    return ember_err_set_col(err, -EMBER_EBADRECORD, col, "field %d '%s': '%.*s' is not %s",
                             idx + 1, f->name, (int)(n > 40 ? 40 : n), p,
                             f->type == EMBER_INT ? "an int" : "a float");
}

int csv_parse_line(const char *line, size_t len, char delim, const schema *s, ember_value *out,
                   arena *scratch, ember_err *err)
{
    size_t pos = 0;
    for (int i = 0; i < s->n; i++) {
        const char *fp = NULL;
        size_t fn = 0, next = 0;
        int escaped = 0, rc;
        if (i > 0) {
            if (pos >= len)
                return ember_err_set_col(err, -EMBER_EBADRECORD, (int)len + 1,
                                         "%d fields, expected %d", i, s->n);
            pos++; /* the delimiter */
        }
        if ((rc = field_bounds(line, len, pos, delim, &fp, &fn, &escaped, &next, err)))
            return rc;
        if (escaped && (rc = unescape(&fp, &fn, scratch, err)))
            return rc;
        if ((rc = convert(&s->f[i], i, fp, fn, (int)pos + 1, &out[i], err)))
            return rc;
        pos = next;
    }
    if (pos < len)
        return ember_err_set_col(err, -EMBER_EBADRECORD, (int)pos + 1,
                                 "more than %d fields", s->n);
    return 0;
}
