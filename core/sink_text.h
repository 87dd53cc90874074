/* sink_text: a growing text buffer that text sinks format rows into. */
#ifndef EMBER_SINK_TEXT_H
#define EMBER_SINK_TEXT_H

#include "ember.h"
#include <stddef.h>

typedef struct text_buf {
    char *data;
    size_t len, cap;
} text_buf;

EMBER_MUST_CHECK int text_reserve(text_buf *b, size_t extra);
/* Appends the row's values separated by `sep`, then a newline. */
EMBER_MUST_CHECK int text_append_row(text_buf *b, const ember_record *row, char sep);
EMBER_MUST_CHECK int text_append(text_buf *b, const char *s, size_t n);
void text_free(text_buf *b);

#endif
