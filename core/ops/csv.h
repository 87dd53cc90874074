/*
 * csv: splits one CSV or TSV line into typed values, without copying: string
 * values point into the line. Only a quoted field with doubled quotes ("a""b")
 * needs unescaping, into the batch arena.
 *
 * Rules (RFC 4180 minus embedded newlines, which a line-based source cannot
 * carry): fields separated by delim; unless delim carries CSV_NO_QUOTES, a
 * field starting with '"' is quoted and may contain delim and "" for a
 * quote (with CSV_NO_QUOTES, as `parse tsv` by default, '"' is an ordinary
 * byte); an empty field is EMBER_NULL. Numbers are decimal: int fields are
 * an optional sign and digits (int64); float fields an optional sign,
 * digits with an optional fraction and exponent (5, -0.5, .5, 1e-3; finite:
 * no hex, inf or nan). Spaces and tabs around a number are allowed, so
 * " 5", "+5" and "5 " are the int 5, while "+ 5", "5 5" and "0x5" are not
 * numbers. Strings are never trimmed. Fewer or more fields than the schema
 * is an error.
 */
#ifndef EMBER_CSV_H
#define EMBER_CSV_H

#include "core/base/arena.h"
#include "core/ops/schema.h"

/* OR-ed into delim: no quoting, '"' is data. */
#define CSV_NO_QUOTES 0x100

/* Fills out[0..s->n). On a bad line returns -EMBER_EBADRECORD with err->msg
 * the reason naming the field ("field 3 'temp': 'abc' is not a float") and
 * err->col the 1-based byte column in the line. */
EMBER_MUST_CHECK int csv_parse_line(const char *line, size_t len, int delim, const schema *s,
                                    ember_value *out, arena *scratch, ember_err *err);

#endif
