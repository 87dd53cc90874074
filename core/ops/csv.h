/*
 * csv: splits one CSV or TSV line into typed values, without copying: string
 * values point into the line. Only a quoted field with doubled quotes ("a""b")
 * needs unescaping, into the batch arena.
 *
 * Rules (RFC 4180 minus embedded newlines, which a line-based source cannot
 * carry): fields separated by delim; a field starting with '"' is quoted and
 * may contain delim and "" for a quote; an empty field is EMBER_NULL; int
 * fields are decimal int64 with optional sign; float fields are strtod syntax
 * (finite only); surrounding spaces are not trimmed for strings, tolerated
 * for numbers. Fewer or more fields than the schema is an error.
 */
#ifndef EMBER_CSV_H
#define EMBER_CSV_H

#include "core/base/arena.h"
#include "core/ops/schema.h"

/* Fills out[0..s->n). On a bad line returns -EMBER_EBADRECORD with err->msg
 * the reason naming the field ("field 3 'temp': 'abc' is not a float") and
 * err->col the 1-based byte column in the line. */
EMBER_MUST_CHECK int csv_parse_line(const char *line, size_t len, char delim, const schema *s,
                                    ember_value *out, arena *scratch, ember_err *err);

#endif
