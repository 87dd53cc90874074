/* names: lists of names in messages ("expected a, b or c"). */
#ifndef EMBER_BASE_NAMES_H
#define EMBER_BASE_NAMES_H

#include <stddef.h>

/* Writes "a, b or c" (or "a" / "a or b") into buf, cut to cap bytes. */
void em_names_join(const char *const *names, size_t n, char *buf, size_t cap);

#endif
