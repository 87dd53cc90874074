/*
 * sink: the registry of sink plugins.
 */
#include "core/sink/sink.h"

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
