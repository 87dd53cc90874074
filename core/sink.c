/*
 * sink: the registry of sink plugins and value_format, the one text form of
 * a value that every text sink (stdout, file, kafka) writes, so the same
 * state prints the same everywhere (and replays are byte-identical).
 */
#include "core/sink.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const sink_ops sink_stdout_ops;
extern const sink_ops sink_file_ops;
extern const sink_ops sink_kafka_ops;

const sink_ops *const sink_registry[] = {
    &sink_stdout_ops,
    &sink_file_ops,
    &sink_kafka_ops,
    NULL,
};

const sink_ops *sink_find(const char *kind)
{
    for (size_t i = 0; sink_registry[i]; i++)
        if (strcmp(sink_registry[i]->kind, kind) == 0)
            return sink_registry[i];
    return NULL;
}

/* A %g form that reads back as the same double: deterministic and exact.
 * 15 significant digits are enough for most values (and print them short,
 * 20.5 not 20.500000000000000); otherwise 17 always round-trip. */
static size_t format_double(double d, char *buf, size_t cap)
{
    int n = snprintf(buf, cap, "%.15g", d);
    if (n > 0 && (size_t)n < cap && strtod(buf, NULL) != d)
        n = snprintf(buf, cap, "%.17g", d);
    if (n < 0)
        return 0;
    return (size_t)n >= cap ? cap - 1 : (size_t)n;
}

size_t value_format(const ember_value *v, char *buf, size_t cap)
{
    int n = 0;
    if (cap == 0)
        return 0;
    switch (v->type) {
    case EMBER_INT:
        n = snprintf(buf, cap, "%" PRId64, v->u.i);
        break;
    case EMBER_BOOL:
        n = snprintf(buf, cap, "%s", v->u.i ? "true" : "false");
        break;
    case EMBER_FLOAT:
        return format_double(v->u.f, buf, cap);
    case EMBER_STRING:
        n = snprintf(buf, cap, "%.*s", (int)v->u.s.len, v->u.s.ptr);
        break;
    default:
        buf[0] = '\0';
        return 0;
    }
    if (n < 0)
        return 0;
    return (size_t)n >= cap ? cap - 1 : (size_t)n;
}
