/* sink_text: row formatting shared by the stdout, file and kafka sinks. */
#include "core/sink_text.h"
#include "core/sink.h"

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
