/* schema: typed field lists ("sensor,ts:int,temp:float") of records. */
#include "core/schema.h"

#include <string.h>
#include <strings.h>

const char *ember_type_name(ember_type t)
{
    switch (t) {
    case EMBER_INT: return "int";
    case EMBER_FLOAT: return "float";
    case EMBER_STRING: return "string";
    case EMBER_BOOL: return "boolean";
    default: return "null";
    }
}

int schema_find(const schema *s, const char *name, size_t len)
{
    for (int i = 0; i < s->n; i++)
        if (strlen(s->f[i].name) == len && memcmp(s->f[i].name, name, len) == 0)
            return i;
    return -1;
}

static int is_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_';
}

static int parse_type(const char *t, size_t len, ember_type *out)
{
    static const struct {
        const char *name;
        ember_type type;
    } types[] = {{"int", EMBER_INT},     {"long", EMBER_INT},      {"float", EMBER_FLOAT},
                 {"double", EMBER_FLOAT}, {"string", EMBER_STRING}, {"str", EMBER_STRING}};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (strlen(types[i].name) == len && strncasecmp(types[i].name, t, len) == 0)
            return (*out = types[i].type), 0;
    return -1;
}

/* One "name[:type]" at spec[*pos]; advances *pos past it. */
static int parse_field(schema *s, const char *spec, size_t *pos, ember_err *err)
{
    size_t p = *pos, start = p;
    while (is_name_char(spec[p]))
        p++;
    if (p == start)
        return ember_err_set_col(err, -EMBER_EUSAGE, (int)start + 1, "expected a field name");
    if (p - start >= SCHEMA_NAME_MAX)
        return ember_err_set_col(err, -EMBER_EUSAGE, (int)start + 1, "field name too long");
    if (schema_find(s, spec + start, p - start) >= 0)
        return ember_err_set_col(err, -EMBER_EUSAGE, (int)start + 1, "field '%.*s' given twice",
                                 (int)(p - start), spec + start);
    if (s->n == SCHEMA_MAX_FIELDS)
        return ember_err_set_col(err, -EMBER_EUSAGE, (int)start + 1, "more than %d fields",
                                 SCHEMA_MAX_FIELDS);
    schema_field *f = &s->f[s->n];
    memcpy(f->name, spec + start, p - start);
    f->name[p - start] = '\0';
    f->type = EMBER_STRING;
    if (spec[p] == ':') {
        size_t t = ++p;
        while (is_name_char(spec[p]))
            p++;
        if (parse_type(spec + t, p - t, &f->type))
            return ember_err_set_col(err, -EMBER_EUSAGE, (int)t + 1,
                                     "unknown type '%.*s' (expected int, float or string)",
                                     (int)(p - t), spec + t);
    }
    s->n++;
    *pos = p;
    return 0;
}

int schema_parse(schema *s, const char *spec, ember_err *err)
{
    size_t pos = 0;
    s->n = 0;
    for (;;) {
        while (spec[pos] == ' ')
            pos++;
        int rc = parse_field(s, spec, &pos, err);
        if (rc)
            return rc;
        while (spec[pos] == ' ')
            pos++;
        if (spec[pos] == '\0')
            return 0;
        if (spec[pos] != ',')
            return ember_err_set_col(err, -EMBER_EUSAGE, (int)pos + 1,
                                     "expected ',' or ':type' after a field name");
        pos++;
    }
}
