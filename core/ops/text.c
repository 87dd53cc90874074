/* text: value formatting and row text shared by every text output. */
#include "core/ops/text.h"
#include <inttypes.h>
#include <stdio.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int text_reserve(text_buf *b, size_t extra)
{
    if (b->len + extra <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + extra)
        cap *= 2;
    char *p = realloc(b->data, cap);
    if (!p)
        return -ENOMEM;
    b->data = p;
    b->cap = cap;
    return 0;
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

/* A %g form that reads back as the same double: deterministic and exact.
 * 15 significant digits are enough for most values (and print them short,
 * 20.5 not 20.500000000000000); otherwise 17 always round-trip. */
static size_t format_double(double d, char *buf, size_t cap)
{
    int n = snprintf(buf, cap, "%.15g", d);
    if (n > 0 && (size_t)n < cap && strtod(buf, NULL) != d)
        n = snprintf(buf, cap, "%.17g", d);
    if (n < 0)
        return 0;
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
