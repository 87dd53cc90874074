/* names: lists of names in messages ("expected a, b or c"). */
#ifndef EMBER_BASE_NAMES_H
#define EMBER_BASE_NAMES_H

#include <stddef.h>

/* Writes "a, b or c" (or "a" / "a or b") into buf, cut to cap bytes. */
void em_names_join(const char *const *names, size_t n, char *buf, size_t cap);

/* Registries (sources, sinks) are NULL-terminated arrays of pointers to
 * structs whose first member is `const char *kind`. */
const void *em_registry_find(const void *const *items, const char *kind);
/* Every kind of the registry as "a, b or c". */
void em_registry_kinds(const void *const *items, char *buf, size_t cap);

#endif
