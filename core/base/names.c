/* names: see names.h. */
#include "core/base/names.h"

#include <stdio.h>

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
