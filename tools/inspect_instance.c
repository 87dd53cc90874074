/*
 * inspect_instance: `ember inspect DIR` on a scale-out instance's directory
 * (`ember run --instance`): its tasks, their phase, restore progress and
 * lag, from DIR/instance.json (the instance rewrites it every second).
 */
#include "tools/commands.h"

#include <jansson.h>
#include <stdio.h>

/* An instance's directory (`ember run --instance`): DIR/instance.json,
 * which the instance rewrites every second, as text (--json: as it is). */
int inspect_instance(const char *dir, int json)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/instance.json", dir);
    json_error_t je;
    json_t *root = json_load_file(path, 0, &je);
    if (!root) {
        fprintf(stderr, "ember inspect: %s:%d: %s\n", path, je.line, je.text);
        return 1;
    }
    if (json) {
        json_dumpf(root, stdout, JSON_INDENT(2));
        printf("\n");
        json_decref(root);
        return 0;
    }
    printf("instance %s of job %s, group %s, topic %s (pid %lld)\n",
           json_string_value(json_object_get(root, "instance")),
           json_string_value(json_object_get(root, "job")),
           json_string_value(json_object_get(root, "group")),
           json_string_value(json_object_get(root, "topic")),
           (long long)json_integer_value(json_object_get(root, "pid")));
    json_t *tasks = json_object_get(root, "tasks"), *t;
    size_t i;
    printf("%-6s %-22s %-10s %-8s %-10s %-8s %s\n", "task", "reads", "phase", "batch", "offset",
           "lag", "restore");
    json_array_foreach(tasks, i, t) {
        json_t *r = json_object_get(t, "restore");
        printf("%-6lld %-22s %-10s %-8lld %-10lld %-8lld %lld/%lld batches, %lld bytes, from "
               "offset %lld, %.0f ms%s\n",
               (long long)json_integer_value(json_object_get(t, "task")),
               json_string_value(json_object_get(t, "topic")),
               json_string_value(json_object_get(t, "phase")),
               (long long)json_integer_value(json_object_get(t, "committed_batch")),
               (long long)json_integer_value(json_object_get(t, "offset")),
               (long long)json_integer_value(json_object_get(t, "lag")),
               (long long)json_integer_value(json_object_get(r, "restored")),
               (long long)json_integer_value(json_object_get(r, "batches")),
               (long long)json_integer_value(json_object_get(r, "bytes")),
               (long long)json_integer_value(json_object_get(r, "from_offset")),
               json_number_value(json_object_get(r, "ms")),
               json_integer_value(json_object_get(t, "fenced")) ? " (fenced)" : "");
    }
    if (!json_array_size(tasks))
        printf("(no tasks assigned)\n");
    json_decref(root);
    return 0;
}

