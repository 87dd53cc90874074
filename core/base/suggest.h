/*
 * suggest: "did you mean ...?" for a misspelt name. Any list of names (option
 * tables, step names, plugin kinds, fields, functions, subcommands) passes
 * its candidates to em_suggest, which picks the closest one by edit distance
 * (Damerau-Levenshtein, optimal string alignment: an insertion, deletion,
 * substitution or swap of two neighbours costs 1) when it is close enough to
 * be a likely typo.
 */
#ifndef EMBER_BASE_SUGGEST_H
#define EMBER_BASE_SUGGEST_H

#include <stddef.h>

/* Edit distance between a[0..an) and b[0..bn); inputs longer than 63 bytes
 * count as far from everything. */
size_t em_edit_distance(const char *a, size_t an, const char *b, size_t bn);
/* The candidate closest to word[0..len) when the distance is at most
 * max(1, (len + 1) / 4) (git's rule of thumb: 'max-record' -> 'max-records',
 * 'tmp' -> 'temp', not 'x' -> 'id'); the first in the list on a tie. NULL when
 * none is close, or when word is itself a candidate. NULL entries are
 * skipped. */
const char *em_suggest(const char *word, size_t len, const char *const *cands, size_t n);
/* The same over a sep-separated list ("sensors|ads|..."); the match is copied
 * into buf. */
const char *em_suggest_list(const char *word, size_t len, const char *list, char sep, char *buf,
                            size_t cap);
/* Writes "; did you mean 'X'?" into buf when there is a suggestion, else "". */
const char *em_suggest_note(const char *suggestion, char *buf, size_t cap);

#endif
