/*
 * topn: the K best rows per group, merged batch by batch (see topn.h).
 */
#include "state/topn.h"
#include "core/base/arena.h"
#include "core/base/endian.h"
#include "state/rowcodec.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MULTIGET_CHUNK 512

typedef struct cand {
    uint64_t seq;
    const ember_record *rec;
    const ember_value *v; /* its ranked column */
} cand;

/* The batch's groups: first row and the chain of their rows in order. */
typedef struct group {
    size_t first, last;
} group;

struct topn {
    store *st;
    int cf, k, col;
    uint32_t width;
    arena mem;    /* stored rows decoded this batch */
    size_t *slot; /* open addressing: group index + 1 */
    size_t slot_cap;
    size_t *next; /* per row: the next row of its group, SIZE_MAX = none */
    group *groups;
    cand *cands; /* one group's stored and new rows */
    size_t next_cap, groups_cap, cands_cap;
    uint8_t *buf; /* one encoded value */
    size_t buf_cap;
    uint64_t *old; /* k: a group's stored seqs and rows */
    const ember_record **old_rec;
};

topn *topn_new(store *st, int cf, int k, int col, uint32_t width)
{
    topn *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    *t = (topn){.st = st, .cf = cf, .k = k, .col = col, .width = width};
    arena_init(&t->mem, 64 * 1024);
    t->old = k >= 1 && k <= 65535 ? malloc((size_t)k * sizeof *t->old) : NULL;
    t->old_rec = t->old ? malloc((size_t)k * sizeof *t->old_rec) : NULL;
    if (!t->old_rec) {
        topn_free(t);
        return NULL;
    }
    return t;
}

void topn_free(topn *t)
{
    if (!t)
        return;
    arena_free(&t->mem);
    free(t->slot);
    free(t->next);
    free(t->groups);
    free(t->cands);
    free(t->buf);
    free(t->old);
    free(t->old_rec);
    free(t);
}

static int grow(void *pp, size_t *cap, size_t n, size_t size)
{
    void **p = pp;
    if (n <= *cap)
        return 0;
    size_t c = *cap ? *cap : 64;
    while (c < n)
        c *= 2;
    void *q = realloc(*p, c * size);
    if (!q)
        return -1;
    *p = q;
    *cap = c;
    return 0;
}

/* Groups the rows by key, in the order of each group's first row. */
static int group_rows(topn *t, const topn_row *rows, size_t n, size_t *n_groups)
{
    size_t cap = 64;
    while (cap < 2 * n)
        cap *= 2;
    if (grow(&t->next, &t->next_cap, n, sizeof *t->next) ||
        grow(&t->groups, &t->groups_cap, n, sizeof *t->groups) ||
        grow(&t->slot, &t->slot_cap, cap, sizeof *t->slot))
        return -ENOMEM;
    memset(t->slot, 0, cap * sizeof *t->slot);
    *n_groups = 0;
    for (size_t i = 0; i < n; i++) {
        size_t h = rows[i].hash & (cap - 1);
        for (; t->slot[h]; h = (h + 1) & (cap - 1)) {
            const topn_row *o = &rows[t->groups[t->slot[h] - 1].first];
            if (o->hash == rows[i].hash && o->klen == rows[i].klen &&
                !memcmp(o->key, rows[i].key, o->klen))
                break;
        }
        t->next[i] = SIZE_MAX;
        if (t->slot[h]) {
            group *g = &t->groups[t->slot[h] - 1];
            t->next[g->last] = i;
            g->last = i;
            continue;
        }
        t->groups[*n_groups] = (group){i, i};
        t->slot[h] = ++*n_groups;
    }
    return 0;
}

/* -1 when a ranks before b. */
static int cmp_cand_col(const ember_value *x, const ember_value *y)
{
    int xn = x->type != EMBER_INT && (x->type != EMBER_FLOAT || isnan(x->u.f));
    int yn = y->type != EMBER_INT && (y->type != EMBER_FLOAT || isnan(y->u.f));
    if (xn || yn)
        return xn - yn; /* NULL (and NaN) after every number */
    if (x->type == EMBER_INT && y->type == EMBER_INT)
        return x->u.i > y->u.i ? -1 : x->u.i < y->u.i;
    double a = x->type == EMBER_INT ? (double)x->u.i : x->u.f;
    double b = y->type == EMBER_INT ? (double)y->u.i : y->u.f;
    return a > b ? -1 : a < b;
}

static int cmp_cand(const void *a, const void *b)
{
    const cand *x = a, *y = b;
    int c = cmp_cand_col(x->v, y->v);
    if (c)
        return c;
    return (x->seq > y->seq) - (x->seq < y->seq);
}

int topn_decode_value(const void *v, size_t len, arena *mem, size_t cap, const ember_record **rows,
                      uint64_t *seqs, size_t *n)
{
    const uint8_t *p = v, *end = p + len;
    *n = 0;
    if (len < 3 || p[0] != TOPN_VERSION)
        return -1;
    size_t count = (size_t)p[1] | (size_t)p[2] << 8;
    if (count > cap)
        return -1;
    p += 3;
    for (size_t i = 0; i < count; i++) {
        ember_record *r = arena_alloc(mem, sizeof *r);
        if (!r || (size_t)(end - p) < 8)
            return -1;
        seqs[i] = get_u64le(p);
        p += 8;
        if (rowcodec_get(&p, end, mem, r))
            return -1;
        rows[i] = r;
    }
    *n = count;
    return p == end ? 0 : -1;
}

/* The stored rows of a group into t->old, t->old_rec and t->cands[0..*n). */
static int decode_stored(topn *t, const ember_str *v, size_t *n)
{
    *n = 0;
    if (!v->ptr)
        return 0;
    if (topn_decode_value(v->ptr, v->len, &t->mem, (size_t)t->k, t->old_rec, t->old, n) ||
        grow(&t->cands, &t->cands_cap, *n + 1, sizeof *t->cands))
        return -1;
    for (size_t i = 0; i < *n; i++) {
        if (t->old_rec[i]->n != t->width)
            return -1;
        t->cands[i] = (cand){t->old[i], t->old_rec[i], &t->old_rec[i]->values[t->col]};
    }
    return 0;
}

static int encode_top(topn *t, const cand *c, size_t n, size_t *len)
{
    size_t need = 3;
    for (size_t i = 0; i < n; i++)
        need += 8 + rowcodec_bytes(c[i].rec);
    if (grow(&t->buf, &t->buf_cap, need, 1))
        return -ENOMEM;
    uint8_t *p = t->buf;
    *p++ = TOPN_VERSION;
    *p++ = (uint8_t)(n & 0xff);
    *p++ = (uint8_t)(n >> 8);
    for (size_t i = 0; i < n; i++) {
        put_u64le(p, c[i].seq);
        p = rowcodec_put(p + 8, c[i].rec);
    }
    *len = (size_t)(p - t->buf);
    return 0;
}

typedef struct batch_ctx_topn {
    const topn_row *rows;
    uint64_t batch;
    store_batch *wb;
    topn_emit_fn emit;
    void *ctx;
} batch_ctx_topn;

/* Whether the K best (the first `keep` of cands) are the stored ones. */
static int unchanged(const cand *c, size_t keep, const uint64_t *old, size_t n_old)
{
    if (keep != n_old)
        return 0;
    for (size_t i = 0; i < keep; i++)
        if (c[i].seq != old[i])
            return 0;
    return 1;
}

/* One group: its stored rows (v) and the batch's, ranked; what changed is
 * emitted and written. */
static int merge_group(topn *t, const batch_ctx_topn *b, const group *g, const ember_str *v,
                       const ember_str *key, ember_err *err)
{
    size_t n_old, m;
    if (decode_stored(t, v, &n_old))
        return ember_err_set(err, -EMBER_ECORRUPT,
                             "top: the stored rows of group '%.*s' are "
                             "damaged or of another row width",
                             (int)(key->len < 64 ? key->len : 64), key->ptr);
    const uint64_t *old = t->old;
    const ember_record *const *old_rec = t->old_rec;
    m = n_old;
    for (size_t r = g->first; r != SIZE_MAX; r = t->next[r]) {
        if (grow(&t->cands, &t->cands_cap, m + 1, sizeof *t->cands))
            return ember_err_set(err, -ENOMEM, "out of memory in top");
        t->cands[m++] =
            (cand){b->batch << 32 | (uint64_t)r, b->rows[r].rec, &b->rows[r].rec->values[t->col]};
    }
    qsort(t->cands, m, sizeof *t->cands, cmp_cand);
    size_t keep = m < (size_t)t->k ? m : (size_t)t->k, len;
    if (unchanged(t->cands, keep, old, n_old))
        return 0;
    int rc = 0;
    for (size_t i = 0; i < n_old && !rc; i++)
        rc = b->emit(b->ctx, old_rec[i], (int64_t)i + 1, -1);
    for (size_t i = 0; i < keep && !rc; i++)
        rc = b->emit(b->ctx, t->cands[i].rec, (int64_t)i + 1, 1);
    if (rc || encode_top(t, t->cands, keep, &len))
        return ember_err_set(err, -ENOMEM, "out of memory in top");
    store_batch_put(b->wb, t->st, t->cf, key->ptr, key->len, t->buf, len);
    return 0;
}

static int merge_chunk(topn *t, const batch_ctx_topn *b, size_t from, size_t n, ember_err *err)
{
    ember_str keys[MULTIGET_CHUNK], vals[MULTIGET_CHUNK];
    for (size_t i = 0; i < n; i++) {
        const topn_row *r = &b->rows[t->groups[from + i].first];
        keys[i] = (ember_str){r->key, r->klen};
    }
    int rc = store_multiget(t->st, t->cf, keys, n, vals, err);
    if (rc)
        return rc;
    for (size_t i = 0; i < n; i++) {
        if (!rc)
            rc = merge_group(t, b, &t->groups[from + i], &vals[i], &keys[i], err);
        store_free_value(&vals[i]);
    }
    return rc;
}

int topn_batch(topn *t, const topn_row *rows, size_t n, uint64_t batch, store_batch *wb,
               topn_emit_fn emit, void *ctx, ember_err *err)
{
    size_t n_groups;
    batch_ctx_topn b = {rows, batch, wb, emit, ctx};
    arena_reset(&t->mem);
    if (n > UINT32_MAX)
        return ember_err_set(err, -EINVAL, "top: %zu rows in one batch, at most 2^32", n);
    if (group_rows(t, rows, n, &n_groups))
        return ember_err_set(err, -ENOMEM, "out of memory in top");
    int rc = 0;
    for (size_t g = 0; g < n_groups && !rc; g += MULTIGET_CHUNK)
        rc = merge_chunk(t, &b, g, n_groups - g < MULTIGET_CHUNK ? n_groups - g : MULTIGET_CHUNK,
                         err);
    return rc;
}
