/*
 * lines: the containers a batch's input moves in (transform.h): the lines
 * read from a source (batch_lines) and the rows a graph node hands to the
 * nodes after it (row_batch).
 */
#include "core/base/array.h"
#include "core/engine/transform.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ batch_lines */

/* off and len share the capacity n_cap; both grow from it alike. */
static int grow_index(batch_lines *b)
{
    size_t off_cap = b->n_cap, len_cap = b->n_cap;

    if (em_buffer_reserve(&b->off, &off_cap, b->n + 1, sizeof *b->off) ||
        em_buffer_reserve(&b->len, &len_cap, b->n + 1, sizeof *b->len))
        return -ENOMEM;
    b->n_cap = len_cap;
    return 0;
}

int lines_index(batch_lines *b, const char *buf, size_t n)
{
    const char *p = buf, *end = buf + n;
    b->borrowed = buf;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p), line_len = len;
        if (line_len && p[line_len - 1] == '\r')
            line_len--;
        if (grow_index(b))
            return -ENOMEM;
        b->off[b->n] = (uint64_t)(p - buf);
        b->len[b->n++] = (uint32_t)line_len;
        p += len + 1;
    }
    b->bytes = n;
    return 0;
}

int lines_push(batch_lines *b, const char *line, size_t len)
{
    if (b->borrowed || grow_index(b))
        return -ENOMEM; /* (a borrowed batch takes no copies) */
    if (em_buffer_reserve(&b->data, &b->cap, b->bytes + len, 1))
        return -ENOMEM;
    if (len) /* an empty first line: data may still be NULL */
        memcpy(b->data + b->bytes, line, len);
    b->off[b->n] = b->bytes;
    b->len[b->n++] = (uint32_t)len;
    b->bytes += len;
    return 0;
}

void lines_clear(batch_lines *b)
{
    b->borrowed = NULL;
    b->n = 0;
    b->bytes = 0;
}

void lines_free(batch_lines *b)
{
    free(b->data);
    free(b->off);
    free(b->len);
    memset(b, 0, sizeof *b);
}

/* ------------------------------------------------------------ row_batch */

int rows_push(row_batch *b, const ember_record *row, int sign)
{
    if (em_array_reserve(&b->rows, &b->cap, b->n + 1, sizeof *b->rows) ||
        em_array_reserve(&b->sign, &b->sign_cap, b->n + 1, 1))
        return -ENOMEM;
    b->rows[b->n] = *row;
    b->sign[b->n++] = (int8_t)(sign < 0 ? -1 : 1);
    return 0;
}

void rows_clear(row_batch *b) { b->n = 0; }

void rows_free(row_batch *b)
{
    free(b->rows);
    free(b->sign);
    memset(b, 0, sizeof *b);
}

