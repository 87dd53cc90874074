/*
 * sink: the registry of sink plugins.
 */
#include "core/sink/sink.h"
#include "core/base/names.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SINK(x) extern const sink_ops sink_##x##_ops;
#include "core/sink/sinks.def"
#undef SINK

const sink_ops *const sink_registry[] = {
#define SINK(x) &sink_##x##_ops,
#include "core/sink/sinks.def"
#undef SINK
    NULL,
};

void sink_kinds_text(char *buf, size_t cap)
{
    const char *names[32];
    size_t n = 0;
    for (; sink_registry[n] && n < 32; n++)
        names[n] = sink_registry[n]->kind;
    em_names_join(names, n, buf, cap);
}

const sink_ops *sink_find(const char *kind)
{
    for (size_t i = 0; sink_registry[i]; i++)
        if (strcmp(sink_registry[i]->kind, kind) == 0)
            return sink_registry[i];
    return NULL;
}
