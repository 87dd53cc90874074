/* json: one JSON object per line into typed values (see json.h). */
#include "core/ops/json.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <string.h>

/* The member at dotted path `name` (NULL when any step is missing). */
static json_t *member_at(json_t *obj, const char *name)
{
    const char *p = name;
    while (obj) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        if (!json_is_object(obj))
            return NULL;
        obj = json_object_getn(obj, p, n);
        if (!dot)
            return obj;
        p = dot + 1;
    }
    return NULL;
}

static const char *json_kind(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an int";
    case JSON_REAL: return "a float";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    default: return "null";
    }
}

static int wrong_type(int i, const schema_field *f, const json_t *v, ember_err *err)
{
    return ember_err_set(err, -EMBER_EBADRECORD, "field %d '%s': expected %s, got %s", i + 1,
                         f->name, f->type == EMBER_INT     ? "an int"
                                  : f->type == EMBER_FLOAT ? "a number"
                                                           : "a string",
                         json_kind(v));
}

static int to_value(int i, const schema_field *f, json_t *v, ember_value *out, arena *scratch,
                    ember_err *err)
{
    if (!v || json_is_null(v)) {
        *out = (ember_value){.type = EMBER_NULL};
        return 0;
    }
    if (f->type == EMBER_INT && json_is_integer(v)) {
        *out = (ember_value){.type = EMBER_INT, .u.i = (int64_t)json_integer_value(v)};
    } else if (f->type == EMBER_FLOAT && json_is_number(v)) {
        *out = (ember_value){.type = EMBER_FLOAT, .u.f = json_number_value(v)};
    } else if (f->type == EMBER_STRING && json_is_string(v)) {
        size_t n = json_string_length(v);
        char *copy = arena_strndup(scratch, json_string_value(v), n);
        if (!copy)
            return ember_err_set(err, -ENOMEM, "out of memory");
        *out = (ember_value){.type = EMBER_STRING, .u.s = {copy, (uint32_t)n}};
    } else {
        return wrong_type(i, f, v, err);
    }
    return 0;
}

int json_parse_line(const char *line, size_t len, const schema *s, ember_value *out,
                    arena *scratch, ember_err *err)
{
    json_error_t jerr;
    json_t *root = json_loadb(line, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
    if (!root)
        return ember_err_set_col(err, -EMBER_EBADRECORD, jerr.column > 0 ? jerr.column : 1,
                                 "not valid JSON (column %d): %s", jerr.column, jerr.text);
    int rc = 0;
    if (!json_is_object(root))
        rc = ember_err_set_col(err, -EMBER_EBADRECORD, 1, "not a JSON object but %s",
                               json_kind(root));
    for (int i = 0; !rc && i < s->n; i++)
        rc = to_value(i, &s->f[i], member_at(root, s->f[i].name), &out[i], scratch, err);
    json_decref(root);
    return rc;
}
