/*
 * rowfmt: the text forms a sink writes rows in (`format=csv|tsv|json` on the
 * file, stdout and kafka sinks). One formatter serves every sink, so a row
 * is the same bytes in a file, on stdout and in a Kafka record value.
 *
 *   (none)  what sinks wrote before format= existed, kept byte for byte:
 *           values tab-separated as value_format writes them, nothing
 *           escaped (a tab or newline inside a string is written as is),
 *           NULL as an empty field.
 *   csv     RFC 4180: comma-separated; a field holding a comma, '"', CR or
 *           LF is quoted, '"' doubled inside (spaces are data and
 *           stay unquoted); NULL is an empty field, the empty string "" (as
 *           PostgreSQL's CSV COPY writes them).
 *   tsv     PostgreSQL's text COPY format: tab-separated, a backslash,
 *           tab, newline and carriage return inside a value written as
 *           \\ \t \n \r, NULL as \N (`\copy t from 'f'` reads it back).
 *   json    one JSON object per line, {"name":value,...} in schema
 *           order: ints and bools as JSON numbers and true/false, floats
 *           in value_format's shortest round-trip digits with ".0" added
 *           to a whole number (so every reader sees a float: 20.0, -0.0,
 *           1e+300), inf and nan as null (JSON has neither), strings
 *           escaped per RFC 8259 (\" \\ \b \f \n \r \t, other control
 *           bytes as \u00XX; UTF-8 passes through, a byte that is not
 *           valid UTF-8 becomes U+FFFD), NULL as null.
 *
 * Values are formatted straight into a text_buf: no allocation per record
 * beyond the buffer's growth.
 */
#ifndef EMBER_OPS_ROWFMT_H
#define EMBER_OPS_ROWFMT_H

#include "core/ops/schema.h"
#include "core/ops/text.h"

typedef enum rowfmt {
    ROWFMT_PLAIN = 0, /* no format= given */
    ROWFMT_CSV,
    ROWFMT_TSV,
    ROWFMT_JSON,
} rowfmt;

/* The formats format= accepts, for option tables and messages. */
#define ROWFMT_NAMES "csv|tsv|json"

/* "" or NULL -> ROWFMT_PLAIN; "csv", "tsv", "json"; -1 for anything else. */
int rowfmt_from_name(const char *name);
/* The default file name extension of a format: tsv, csv, tsv, jsonl. */
const char *rowfmt_ext(rowfmt f);

/* Appends the column names of s as a header line (csv, tsv and plain; json
 * has none: appends nothing). */
EMBER_MUST_CHECK int rowfmt_append_header(text_buf *b, rowfmt f, const schema *s);
/* Appends the first n values of row (named by s's first n fields for json)
 * without a line end: a Kafka key or value. */
EMBER_MUST_CHECK int rowfmt_append_fields(text_buf *b, rowfmt f, const schema *s,
                                          const ember_record *row, uint32_t n);
/* Appends the whole row and a newline. */
EMBER_MUST_CHECK int rowfmt_append_row(text_buf *b, rowfmt f, const schema *s,
                                       const ember_record *row);
/* Appends one value in PostgreSQL's text COPY form (the tsv format's cell;
 * also the postgres sink's COPY stream). */
EMBER_MUST_CHECK int rowfmt_append_copy_value(text_buf *b, const ember_value *v);

#endif
