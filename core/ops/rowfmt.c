/* rowfmt: rows as plain, CSV, TSV (text COPY) or JSON-lines text (see rowfmt.h). */
#include "core/ops/rowfmt.h"

#include <errno.h>
#include <math.h>
#include <string.h>

int rowfmt_from_name(const char *name)
{
    if (!name || !name[0])
        return ROWFMT_PLAIN;
    if (!strcmp(name, "csv"))
        return ROWFMT_CSV;
    if (!strcmp(name, "tsv"))
        return ROWFMT_TSV;
    if (!strcmp(name, "json"))
        return ROWFMT_JSON;
    return -1;
}

const char *rowfmt_ext(rowfmt f)
{
    return f == ROWFMT_CSV ? "csv" : f == ROWFMT_JSON ? "jsonl" : "tsv";
}

/* ------------------------------------------------------------ plain, csv, tsv */

static int append_number(text_buf *b, const ember_value *v)
{
    char num[64];
    return text_append(b, num, value_format(v, num, sizeof num));
}

/* A string that CSV must quote: it holds the delimiter, a quote or a line
 * end, or is empty (so that it differs from NULL's empty field). */
static int csv_needs_quotes(const char *p, uint32_t n)
{
    if (n == 0)
        return 1;
    for (uint32_t i = 0; i < n; i++)
        if (p[i] == ',' || p[i] == '"' || p[i] == '\n' || p[i] == '\r')
            return 1;
    return 0;
}

static int append_csv_value(text_buf *b, const ember_value *v)
{
    if (v->type == EMBER_NULL)
        return 0;
    if (v->type != EMBER_STRING)
        return append_number(b, v);
    const char *p = v->u.s.ptr;
    uint32_t n = v->u.s.len;
    if (!csv_needs_quotes(p, n))
        return text_append(b, p, n);
    int rc = text_append(b, "\"", 1);
    for (uint32_t i = 0; !rc && i < n;) {
        const char *q = memchr(p + i, '"', n - i);
        uint32_t run = q ? (uint32_t)(q - (p + i)) + 1 : n - i;
        rc = text_append(b, p + i, run); /* up to and with the quote */
        if (!rc && q)
            rc = text_append(b, "\"", 1); /* which is doubled */
        i += run;
    }
    return rc ? rc : text_append(b, "\"", 1);
}

int rowfmt_append_copy_value(text_buf *b, const ember_value *v)
{
    if (v->type == EMBER_NULL)
        return text_append(b, "\\N", 2);
    if (v->type != EMBER_STRING)
        return append_number(b, v);
    const char *p = v->u.s.ptr;
    uint32_t n = v->u.s.len, start = 0;
    int rc = 0;
    for (uint32_t i = 0; !rc && i < n; i++) {
        char c = p[i];
        const char *esc = c == '\\' ? "\\\\" : c == '\t' ? "\\t" : c == '\n' ? "\\n"
                        : c == '\r' ? "\\r" : NULL;
        if (!esc)
            continue;
        rc = text_append(b, p + start, i - start);
        if (!rc)
            rc = text_append(b, esc, 2);
        start = i + 1;
    }
    return rc ? rc : text_append(b, p + start, n - start);
}

/* Exactly what text_append_row writes for one value (value_format, which
 * stops a string at a NUL byte): the bytes of sinks before format=. */
static int append_plain_value(text_buf *b, const ember_value *v)
{
    size_t need = v->type == EMBER_STRING ? v->u.s.len + 2 : 40;
    int rc = text_reserve(b, need);
    if (rc)
        return rc;
    b->len += value_format(v, b->data + b->len, b->cap - b->len);
    return 0;
}

/* ------------------------------------------------------------ json */

/* Length of the valid UTF-8 sequence at p (1..4), 0 when it is not one
 * (overlong forms, surrogates and code points past U+10FFFF included). */
static unsigned utf8_len(const unsigned char *p, size_t avail)
{
    unsigned n = p[0] >= 0xF0 ? 4 : p[0] >= 0xE0 ? 3 : 2;
    if (p[0] < 0xC2 || p[0] > 0xF4 || avail < n)
        return 0;
    for (unsigned k = 1; k < n; k++)
        if ((p[k] & 0xC0) != 0x80)
            return 0;
    if ((p[0] == 0xE0 && p[1] < 0xA0) || (p[0] == 0xED && p[1] >= 0xA0) ||
        (p[0] == 0xF0 && p[1] < 0x90) || (p[0] == 0xF4 && p[1] >= 0x90))
        return 0;
    return n;
}

/* The escape of an ASCII byte inside a JSON string, NULL when it stands
 * for itself; control bytes without a short form go to \u00XX in esc. */
static const char *json_escape_of(unsigned char c, char esc[8])
{
    static const char hex[] = "0123456789abcdef";
    switch (c) {
    case '"': return "\\\"";
    case '\\': return "\\\\";
    case '\b': return "\\b";
    case '\f': return "\\f";
    case '\n': return "\\n";
    case '\r': return "\\r";
    case '\t': return "\\t";
    default: break;
    }
    if (c >= 0x20)
        return NULL;
    memcpy(esc, "\\u00", 4);
    esc[4] = hex[c >> 4];
    esc[5] = hex[c & 15];
    esc[6] = '\0';
    return esc;
}

static int append_json_string(text_buf *b, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t start = 0, i = 0;
    int rc = text_append(b, "\"", 1);
    while (!rc && i < n) {
        char buf[8];
        const char *esc = NULL;
        unsigned step = 1;
        if (p[i] >= 0x80) {
            step = utf8_len(p + i, n - i);
            if (step == 0) {
                esc = "\xEF\xBF\xBD"; /* U+FFFD for a byte that is not UTF-8 */
                step = 1;
            }
        } else {
            esc = json_escape_of(p[i], buf);
        }
        if (esc) {
            rc = text_append(b, s + start, i - start);
            if (!rc)
                rc = text_append(b, esc, strlen(esc));
            start = i + step;
        }
        i += step;
    }
    if (!rc)
        rc = text_append(b, s + start, n - start);
    return rc ? rc : text_append(b, "\"", 1);
}

/* A float as JSON: value_format's digits, ".0" after a whole number so it
 * reads back as a float, null for inf and nan. */
static int append_json_float(text_buf *b, const ember_value *v)
{
    char num[64];
    if (!isfinite(v->u.f))
        return text_append(b, "null", 4);
    size_t n = value_format(v, num, sizeof num - 2);
    if (!strpbrk(num, ".e")) {
        memcpy(num + n, ".0", 3);
        n += 2;
    }
    return text_append(b, num, n);
}

static int append_json_value(text_buf *b, const ember_value *v)
{
    switch (v->type) {
    case EMBER_STRING: return append_json_string(b, v->u.s.ptr, v->u.s.len);
    case EMBER_FLOAT: return append_json_float(b, v);
    case EMBER_INT:
    case EMBER_BOOL: return append_number(b, v);
    default: return text_append(b, "null", 4);
    }
}

static int append_json_fields(text_buf *b, const schema *s, const ember_record *row, uint32_t n)
{
    int rc = text_append(b, "{", 1);
    for (uint32_t i = 0; !rc && i < n; i++) {
        const char *name = (int)i < s->n ? s->f[i].name : "";
        if (i)
            rc = text_append(b, ",", 1);
        if (!rc)
            rc = append_json_string(b, name, strlen(name));
        if (!rc)
            rc = text_append(b, ":", 1);
        if (!rc)
            rc = append_json_value(b, &row->values[i]);
    }
    return rc ? rc : text_append(b, "}", 1);
}

/* ------------------------------------------------------------ rows */

int rowfmt_append_fields(text_buf *b, rowfmt f, const schema *s, const ember_record *row,
                         uint32_t n)
{
    if (n > row->n)
        n = row->n;
    if (f == ROWFMT_JSON)
        return append_json_fields(b, s, row, n);
    char sep = f == ROWFMT_CSV ? ',' : '\t';
    int rc = 0;
    for (uint32_t i = 0; !rc && i < n; i++) {
        const ember_value *v = &row->values[i];
        if (i)
            rc = text_append(b, &sep, 1);
        if (!rc)
            rc = f == ROWFMT_CSV   ? append_csv_value(b, v)
                 : f == ROWFMT_TSV ? rowfmt_append_copy_value(b, v)
                                   : append_plain_value(b, v);
    }
    return rc;
}

int rowfmt_append_row(text_buf *b, rowfmt f, const schema *s, const ember_record *row)
{
    int rc = rowfmt_append_fields(b, f, s, row, row->n);
    return rc ? rc : text_append(b, "\n", 1);
}

int rowfmt_append_header(text_buf *b, rowfmt f, const schema *s)
{
    if (f == ROWFMT_JSON)
        return 0;
    char sep = f == ROWFMT_CSV ? ',' : '\t';
    int rc = 0;
    for (int i = 0; !rc && i < s->n; i++) {
        ember_value name = {.type = EMBER_STRING,
                            .u.s = {s->f[i].name, (uint32_t)strlen(s->f[i].name)}};
        if (i)
            rc = text_append(b, &sep, 1);
        if (!rc)
            rc = f == ROWFMT_CSV ? append_csv_value(b, &name) : append_plain_value(b, &name);
    }
    return rc ? rc : text_append(b, "\n", 1);
}
