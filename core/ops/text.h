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

/* Formats a value the way every text output does: ints as %lld; floats as
 * the shortest decimal that reads back as the same double (the digits
 * Python's repr picks; %g form, so 20.5, 0.1, 284.09, 1e+15, 5e-324, a whole
 * number without ".0"); NULL as empty. Returns the length. */
size_t value_format(const ember_value *v, char *buf, size_t cap);
/* Epoch milliseconds as ISO-8601 UTC, "2023-11-14T22:13:20.000Z" (24
 * bytes; for humans: window bounds in the stdout sink and `ember state`). */
#define TEXT_ISO8601_LEN 24
size_t text_iso8601_ms(int64_t ms, char *buf, size_t cap);

#endif
