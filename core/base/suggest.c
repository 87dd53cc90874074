/* suggest: the closest name by edit distance (see suggest.h). */
#include "core/base/suggest.h"

#include <stdio.h>
#include <string.h>

#define SUGGEST_MAX 64

size_t em_edit_distance(const char *a, size_t an, const char *b, size_t bn)
{
    size_t d[SUGGEST_MAX + 1][SUGGEST_MAX + 1];
    if (an > SUGGEST_MAX || bn > SUGGEST_MAX)
        return (size_t)-1;
    for (size_t i = 0; i <= an; i++)
        d[i][0] = i;
    for (size_t j = 0; j <= bn; j++)
        d[0][j] = j;
    for (size_t i = 1; i <= an; i++) {
        for (size_t j = 1; j <= bn; j++) {
            size_t cost = a[i - 1] != b[j - 1];
            size_t best = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < best)
                best = d[i][j - 1] + 1;
            if (d[i - 1][j - 1] + cost < best)
                best = d[i - 1][j - 1] + cost;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                d[i - 2][j - 2] + 1 < best)
                best = d[i - 2][j - 2] + 1;
            d[i][j] = best;
        }
    }
    return d[an][bn];
}

const char *em_suggest(const char *word, size_t len, const char *const *cands, size_t n)
{
    size_t limit = (len + 1) / 4 > 1 ? (len + 1) / 4 : 1, best_d = limit + 1;
    const char *best = NULL;
    for (size_t i = 0; i < n; i++) {
        if (!cands[i])
            continue;
        size_t cn = strlen(cands[i]);
        size_t dist = em_edit_distance(word, len, cands[i], cn);
        if (dist == 0)
            return NULL; /* the word is valid: nothing to suggest */
        if (dist < best_d) {
            best_d = dist;
            best = cands[i];
        }
    }
    return best;
}

const char *em_suggest_list(const char *word, size_t len, const char *list, char sep, char *buf,
                            size_t cap)
{
    char names[32][SUGGEST_MAX + 1];
    const char *ptrs[32];
    size_t n = 0;
    for (const char *p = list; p && *p && n < 32;) {
        const char *end = strchr(p, sep);
        size_t k = end ? (size_t)(end - p) : strlen(p);
        if (k <= SUGGEST_MAX) {
            memcpy(names[n], p, k);
            names[n][k] = '\0';
            ptrs[n] = names[n];
            n++;
        }
        if (!end)
            break;
        p = end + 1;
    }
    const char *s = em_suggest(word, len, ptrs, n);
    if (!s || cap == 0)
        return NULL;
    snprintf(buf, cap, "%s", s);
    return buf;
}

const char *em_suggest_note(const char *suggestion, char *buf, size_t cap)
{
    if (cap)
        buf[0] = '\0';
    if (suggestion && cap)
        snprintf(buf, cap, "; did you mean '%s'?", suggestion);
    return buf;
}
