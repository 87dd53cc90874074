/*
 * taskmark: task marker text and the fold over a task's markers (see
 * taskmark.h for the format and the rule F1-F3).
 */
#include "core/kafka/taskmark.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The value of `name=` in a space-separated line, copied into buf. */
static int field(const char *text, const char *name, char *buf, size_t cap)
{
    size_t n = strlen(name);
    for (const char *p = text; (p = strstr(p, name)) != NULL; p += n) {
        if ((p != text && p[-1] != ' ') || p[n] != '=')
            continue;
        const char *v = p + n + 1;
        size_t len = strcspn(v, " ");
        if (len == 0 || len >= cap)
            return -1;
        memcpy(buf, v, len);
        buf[len] = '\0';
        return 0;
    }
    return -1;
}

static int field_u64(const char *text, const char *name, int base, uint64_t *out)
{
    char buf[32], *end;
    if (field(text, name, buf, sizeof buf))
        return -1;
    errno = 0;
    unsigned long long v = strtoull(buf, &end, base);
    if (errno || *end || buf[0] == '-')
        return -1;
    *out = v;
    return 0;
}

static int parse_commit(const char *t, taskmark *m)
{
    uint64_t chunks;
    m->kind = TASKMARK_COMMIT;
    if (field_u64(t, "batch", 10, &m->batch) || field_u64(t, "attempt", 16, &m->attempt) ||
        field_u64(t, "chunks", 10, &chunks) || chunks > UINT32_MAX || m->batch == 0)
        return -1;
    m->chunks = (uint32_t)chunks;
    return 0;
}

int taskmark_parse(const char *text, size_t len, taskmark *out, ember_err *err)
{
    char t[512];
    if (len >= sizeof t)
        return ember_err_set(err, -EMBER_ECORRUPT, "task marker of %zu bytes (at most %zu)",
                             len, sizeof t - 1);
    memcpy(t, text, len);
    t[len] = '\0';
    *out = (taskmark){0};
    int bad = field_u64(t, "epoch", 10, &out->epoch) ||
              field(t, "owner", out->owner, sizeof out->owner);
    if (!bad && !strncmp(t, "claim ", 6)) {
        out->kind = TASKMARK_CLAIM;
        bad = field_u64(t, "base", 10, &out->base);
    } else if (!bad && !strncmp(t, "commit ", 7)) {
        bad = parse_commit(t, out);
    } else {
        bad = 1;
    }
    return bad ? ember_err_set(err, -EMBER_ECORRUPT, "bad task marker '%.80s'", t) : 0;
}

size_t taskmark_format(const taskmark *m, char *buf, size_t cap)
{
    int n;
    if (m->kind == TASKMARK_CLAIM)
        n = snprintf(buf, cap, "claim epoch=%" PRIu64 " owner=%s base=%" PRIu64, m->epoch,
                     m->owner, m->base);
    else
        n = snprintf(buf, cap, "commit epoch=%" PRIu64 " owner=%s batch=%" PRIu64
                     " attempt=%016" PRIx64 " chunks=%u", m->epoch, m->owner, m->batch,
                     m->attempt, m->chunks);
    return n < 0 ? 0 : (size_t)n < cap ? (size_t)n : cap - 1;
}

static int chain_grow(task_chain *c, uint64_t b)
{
    if (b <= c->cap)
        return 0;
    size_t cap = c->cap ? c->cap : 64;
    while (cap < b)
        cap *= 2;
    uint64_t *a = realloc(c->attempts, cap * sizeof *a);
    if (!a)
        return -ENOMEM;
    c->attempts = a;
    uint32_t *k = realloc(c->chunks, cap * sizeof *k);
    if (!k)
        return -ENOMEM;
    c->chunks = k;
    c->cap = cap;
    return 0;
}

int task_chain_apply(task_chain *c, const taskmark *m)
{
    if (m->kind == TASKMARK_CLAIM) {
        if (m->epoch <= c->epoch || m->base != c->head)
            return 0; /* F3 */
        c->epoch = m->epoch; /* F1 */
        snprintf(c->owner, sizeof c->owner, "%s", m->owner);
        return 0;
    }
    if (m->epoch != c->epoch || strcmp(m->owner, c->owner) || m->batch != c->head + 1)
        return 0; /* F3 */
    if (chain_grow(c, m->batch))
        return -ENOMEM;
    c->attempts[m->batch - 1] = m->attempt; /* F2 */
    c->chunks[m->batch - 1] = m->chunks;
    c->head = m->batch;
    return 0;
}

uint64_t task_chain_attempt(const task_chain *c, uint64_t b)
{
    return b >= 1 && b <= c->head ? c->attempts[b - 1] : 0;
}

uint32_t task_chain_chunks(const task_chain *c, uint64_t b)
{
    return b >= 1 && b <= c->head ? c->chunks[b - 1] : 0;
}

void task_chain_free(task_chain *c)
{
    free(c->attempts);
    free(c->chunks);
    *c = (task_chain){0};
}
