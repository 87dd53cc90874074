/* names: see names.h. */
#include "core/base/names.h"

#include <stdio.h>
#include <string.h>

/* The kind of a registry item: its first member (C11 6.7.2.1p15). */
static const char *kind_of(const void *item) { return *(const char *const *)item; }

const void *em_registry_find(const void *const *items, const char *kind)
{
    for (size_t i = 0; items[i]; i++)
        if (strcmp(kind_of(items[i]), kind) == 0)
            return items[i];
    return NULL;
}

void em_registry_kinds(const void *const *items, char *buf, size_t cap)
{
    const char *names[64];
    size_t n = 0;
    for (; n < 64 && items[n]; n++)
        names[n] = kind_of(items[n]);
    em_names_join(names, n, buf, cap);
}

void em_names_join(const char *const *names, size_t n, char *buf, size_t cap)
{
    size_t len = 0;
    if (cap)
        buf[0] = '\0';
    for (size_t i = 0; i < n && len < cap; i++) {
        const char *sep = i == 0 ? "" : i + 1 == n ? " or " : ", ";
        int w = snprintf(buf + len, cap - len, "%s%s", sep, names[i]);
        if (w < 0)
            return;
        len += (size_t)w;
    }
}
