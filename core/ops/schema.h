/*
 * schema: the typed field list of records at one point of the pipeline
 * (parse creates it from `fields=sensor,ts:int,temp:float`; select replaces it).
 */
#ifndef EMBER_SCHEMA_H
#define EMBER_SCHEMA_H

#include "ember.h"
#include <stddef.h>

#define SCHEMA_MAX_FIELDS 64
#define SCHEMA_NAME_MAX 64

typedef struct schema_field {
    char name[SCHEMA_NAME_MAX];
    ember_type type; /* EMBER_INT, EMBER_FLOAT or EMBER_STRING */
} schema_field;

typedef struct schema {
    int n;
    schema_field f[SCHEMA_MAX_FIELDS];
} schema;

/* Parses "a,b:int,c:float,d:string" (type defaults to string). Errors set
 * err->col to the 1-based column in spec. */
EMBER_MUST_CHECK int schema_parse(schema *s, const char *spec, ember_err *err);
/* Index of the field, -1 if absent. */
int schema_find(const schema *s, const char *name, size_t len);
/* "; did you mean 'temp'?" for a field name not in s that is close to one
 * that is (core/base/suggest.h), else "". Returns buf. */
const char *schema_suggest_note(const schema *s, const char *name, size_t len, char *buf,
                               size_t cap);
const char *ember_type_name(ember_type t);

#endif
