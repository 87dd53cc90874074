/*
 * json: reads one JSON object per line into typed values (`parse json`).
 * A field named "a.b.c" is the nested member c of b of a; a missing member
 * or a JSON null is EMBER_NULL. Types are strict: an int field takes a JSON
 * integer, a float field a JSON number, a string field a JSON string;
 * anything else, and a line that is not one JSON object, is a bad record.
 * Strings are copied into the batch arena (the parsed tree is freed before
 * the call returns). Through jansson (Debian's libjansson).
 */
#ifndef EMBER_OPS_JSON_H
#define EMBER_OPS_JSON_H

#include "core/base/arena.h"
#include "core/ops/schema.h"

/* Fills out[0..s->n). On a bad line returns -EMBER_EBADRECORD with err->msg
 * naming the field or the JSON error and err->col the 1-based column. */
EMBER_MUST_CHECK int json_parse_line(const char *line, size_t len, const schema *s,
                                     ember_value *out, arena *scratch, ember_err *err);

#endif
