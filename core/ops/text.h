/* text: the one text form of a value (every text sink, the state tool and
 * dead letters print the same bytes, so replays are byte-identical), and a
 * growing text buffer that rows are formatted into. */
#ifndef EMBER_OPS_TEXT_H
#define EMBER_OPS_TEXT_H

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

/* Formats a value the way every text sink does (ints as %lld, floats with
 * %.17g trimmed to shortest round-trip, NULL as empty). Returns length. */
size_t value_format(const ember_value *v, char *buf, size_t cap);


#endif
