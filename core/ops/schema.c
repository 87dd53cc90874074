/*
 * schema: typed field lists ("sensor,ts:int,temp:float") of records. Parsed
 * once when the job loads (parse step); csv and expr index fields by position,
 * so nothing here runs per record.
 */
#include "core/ops/schema.h"
#include "core/base/suggest.h"

#include <string.h>
#include <strings.h>

const char *ember_type_name(ember_type t)
{
    switch (t) {
    case EMBER_INT:
        return "int";
    case EMBER_FLOAT:
        return "float";
    case EMBER_STRING:
        return "string";
    case EMBER_BOOL:
        return "boolean";
    default:
        return "null";
    }
}

int schema_find(const schema *s, const char *name, size_t len)
{
    for (int i = 0; i < s->n; i++)
        if (strlen(s->f[i].name) == len && memcmp(s->f[i].name, name, len) == 0)
            return i;
    return -1;
}

const char *schema_suggest_note(const schema *s, const char *name, size_t len, char *buf,
                               size_t cap)
{
    const char *names[SCHEMA_MAX_FIELDS];
    for (int i = 0; i < s->n; i++)
        names[i] = s->f[i].name;
    return em_suggest_note(em_suggest(name, len, names, (size_t)s->n), buf, cap);
}

static int is_name_start(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

/* '.' names a nested member (parse json fields=a.b). */
static int is_name_char(char c)
{
    return is_name_start(c) || (c >= '0' && c <= '9') || c == '.';
}

static int parse_type(const char *t, size_t len, ember_type *out)
{
    static const struct {
        const char *name;
        ember_type type;
    } types[] = {{"int", EMBER_INT},      {"long", EMBER_INT},      {"float", EMBER_FLOAT},
                 {"double", EMBER_FLOAT}, {"string", EMBER_STRING}, {"str", EMBER_STRING}};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (strlen(types[i].name) == len && strncasecmp(types[i].name, t, len) == 0)
            return (*out = types[i].type), 0;
    return -1;
}

/* The name at spec[start]: an identifier, as expressions must be able to
 * name it. Returns its length, or fails with err->col at the name. */
static int parse_name(const schema *s, const char *spec, size_t start, size_t *len, ember_err *err)
{
    size_t p = start;
    int col = (int)start + 1;
    while (is_name_char(spec[p]))
        p++;
    if (p == start)
        return ember_err_set_col(err, -EMBER_EUSAGE, col, "expected a field name");
    if (!is_name_start(spec[start]))
        return ember_err_set_col(err, -EMBER_EUSAGE, col,
                                 "field name '%.*s' must start with a letter or '_'",
                                 (int)(p - start), spec + start);
    if (p - start >= SCHEMA_NAME_MAX)
        return ember_err_set_col(err, -EMBER_EUSAGE, col, "field name longer than %d bytes",
                                 SCHEMA_NAME_MAX - 1);
    if (schema_find(s, spec + start, p - start) >= 0)
        return ember_err_set_col(err, -EMBER_EUSAGE, col, "field '%.*s' given twice",
                                 (int)(p - start), spec + start);
    if (s->n == SCHEMA_MAX_FIELDS)
        return ember_err_set_col(err, -EMBER_EUSAGE, col, "more than %d fields", SCHEMA_MAX_FIELDS);
    *len = p - start;
    return 0;
}

/* One "name[:type]" at spec[*pos]; advances *pos past it. */
static int parse_field(schema *s, const char *spec, size_t *pos, ember_err *err)
{
    size_t p = *pos, len = 0;
    int rc = parse_name(s, spec, p, &len, err);
    if (rc)
        return rc;
    schema_field *f = &s->f[s->n];
    memcpy(f->name, spec + p, len);
    f->name[len] = '\0';
    f->type = EMBER_STRING;
    p += len;
    while (spec[p] == ' ')
        p++;
    if (spec[p] == ':') {
        p++;
        while (spec[p] == ' ')
            p++;
        size_t t = p;
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
    if (!spec)
        spec = "";
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
                                     "expected ',' after field '%s'", s->f[s->n - 1].name);
        pos++;
    }
}
