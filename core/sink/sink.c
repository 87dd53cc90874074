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

/* kind is sink_ops' first member, as em_registry_* need. */
void sink_kinds_text(char *buf, size_t cap)
{
    em_registry_kinds((const void *const *)sink_registry, buf, cap);
}

const sink_ops *sink_find(const char *kind)
{
    return em_registry_find((const void *const *)sink_registry, kind);
}
