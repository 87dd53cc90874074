/* text: value formatting and row text shared by every text output. */
#include "core/ops/text.h"
#include "core/base/array.h"
#include <inttypes.h>
#include <stdio.h>

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int text_reserve(text_buf *b, size_t extra)
{
    return em_buffer_reserve(&b->data, &b->cap, b->len + extra, 1);
}

int text_append(text_buf *b, const char *s, size_t n)
{
    if (n == 0)
        return 0;
    int rc = text_reserve(b, n);
    if (rc)
        return rc;
    memcpy(b->data + b->len, s, n);
    b->len += n;
    return 0;
}

int text_append_row(text_buf *b, const ember_record *row, char sep)
{
    for (uint32_t i = 0; i < row->n; i++) {
        const ember_value *v = &row->values[i];
        size_t need = v->type == EMBER_STRING ? v->u.s.len + 2 : 40;
        int rc = text_reserve(b, need + 1);
        if (rc)
            return rc;
        if (i)
            b->data[b->len++] = sep;
        b->len += value_format(v, b->data + b->len, b->cap - b->len);
    }
    return text_append(b, "\n", 1);
}

void text_free(text_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

/* The shortest %g form that reads back as the same double (as Python's
 * repr and JavaScript pick the digits): deterministic and exact. For a
 * normal double, if any decimal of 15 or fewer significant digits reads
 * back, %.15g finds it (15 digits are finer than a double's spacing, so the
 * shortest one, zero-padded, is the nearest 15-digit decimal, and %g drops
 * the padding); otherwise 16, then 17 digits, which always suffice. An
 * exact power of two has a gap half as wide below it, where the nearest
 * 16-digit decimal may miss while its neighbour on the wide side reads
 * back: both are tried. Subnormals have fewer digits: from 1 up. */
static int reads_back(const char *buf, double d)
{
    return strtod(buf, NULL) == d;
}

/* Writes sign, the significant digits dig[0..n) (no trailing zeros) and
 * the decimal exponent of the first digit the way %.{prec}g would. */
static void g_style(int neg, const char *dig, int n, int exp10, int prec, char *out, size_t cap)
{
    size_t o = 0;
    if (neg)
        out[o++] = '-';
    if (exp10 < -4 || exp10 >= prec) {
        out[o++] = dig[0];
        if (n > 1) {
            out[o++] = '.';
            memcpy(out + o, dig + 1, (size_t)n - 1);
            o += (size_t)n - 1;
        }
        snprintf(out + o, cap - o, "e%c%02d", exp10 < 0 ? '-' : '+', exp10 < 0 ? -exp10 : exp10);
        return;
    }
    if (exp10 < 0) {
        out[o++] = '0';
        out[o++] = '.';
        for (int z = 0; z < -exp10 - 1; z++)
            out[o++] = '0';
        memcpy(out + o, dig, (size_t)n);
        o += (size_t)n;
    } else {
        for (int k = 0; k <= exp10; k++)
            out[o++] = k < n ? dig[k] : '0';
        if (n > exp10 + 1) {
            out[o++] = '.';
            memcpy(out + o, dig + exp10 + 1, (size_t)(n - exp10 - 1));
            o += (size_t)(n - exp10 - 1);
        }
    }
    out[o] = '\0';
}

/* d is a power of two whose nearest 16-digit decimal does not read back:
 * the gap below a power of two is half the one above, so the 16-digit
 * decimal one unit further from zero may. Writes it in %.16g form. */
static int neighbour_reads_back(char *tmp, size_t cap, double d)
{
    char e16[40], dig[20];
    snprintf(e16, sizeof e16, "%.15e", fabs(d)); /* D.DDDDDDDDDDDDDDDe[+-]XX */
    if (strlen(e16) < 20 || e16[1] != '.' || e16[17] != 'e')
        return 0;
    dig[0] = e16[0];
    memcpy(dig + 1, e16 + 2, 15);
    int k = 15;
    while (k >= 0 && dig[k] == '9')
        dig[k--] = '0';
    if (k < 0)
        return 0; /* 9.99...9 + 1 unit changes the exponent: leave it to 17 digits */
    dig[k]++;
    int exp10 = atoi(e16 + 18);
    char probe[40];
    snprintf(probe, sizeof probe, "%c.%.15se%d", dig[0], dig + 1, exp10);
    if (strtod(probe, NULL) != fabs(d))
        return 0;
    int n = 16;
    while (n > 1 && dig[n - 1] == '0')
        n--;
    g_style(d < 0, dig, n, exp10, 16, tmp, cap);
    return 1;
}

static size_t format_double(double d, char *buf, size_t cap)
{
    char tmp[40];
    int n = 0, p = fabs(d) < DBL_MIN && d != 0 ? 1 : 15;
    if (!isfinite(d)) {
        n = snprintf(tmp, sizeof tmp, "%s", isnan(d) ? "nan" : d > 0 ? "inf" : "-inf");
    } else {
        for (; p <= 17; p++) {
            n = snprintf(tmp, sizeof tmp, "%.*g", p, d);
            if (reads_back(tmp, d))
                break;
            int e;
            if (p == 16 && frexp(fabs(d), &e) == 0.5 && neighbour_reads_back(tmp, sizeof tmp, d)) {
                n = (int)strlen(tmp);
                break;
            }
        }
    }
    if (n < 0)
        return 0;
    snprintf(buf, cap, "%s", tmp);
    return (size_t)n >= cap ? cap - 1 : (size_t)n;
}

size_t value_format(const ember_value *v, char *buf, size_t cap)
{
    int n = 0;
    if (cap == 0)
        return 0;
    switch (v->type) {
    case EMBER_INT:
        n = snprintf(buf, cap, "%" PRId64, v->u.i);
        break;
    case EMBER_BOOL:
        n = snprintf(buf, cap, "%s", v->u.i ? "true" : "false");
        break;
    case EMBER_FLOAT:
        return format_double(v->u.f, buf, cap);
    case EMBER_STRING:
        n = snprintf(buf, cap, "%.*s", (int)v->u.s.len, v->u.s.ptr);
        break;
    default:
        buf[0] = '\0';
        return 0;
    }
    if (n < 0)
        return 0;
    return (size_t)n >= cap ? cap - 1 : (size_t)n;
}

size_t text_iso8601_ms(int64_t ms, char *buf, size_t cap)
{
    int64_t secs = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
    int frac = (int)(ms - secs * 1000);
    time_t t = (time_t)secs;
    struct tm tm;
    if (cap == 0)
        return 0;
    if (!gmtime_r(&t, &tm) || tm.tm_year + 1900 < 0 || tm.tm_year + 1900 > 9999) {
        int n = snprintf(buf, cap, "%" PRId64, ms); /* outside years 0..9999: the number */
        return n < 0 ? 0 : (size_t)n >= cap ? cap - 1 : (size_t)n;
    }
    int n = snprintf(buf, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
    return n < 0 ? 0 : (size_t)n >= cap ? cap - 1 : (size_t)n;
}
