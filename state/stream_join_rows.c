/*
 * stream_join_rows: the stream join's key and row codec, the output rows
 * and the set of stored rows matched during a batch (formats in
 * state/stream_join.h). Everything lives in the batch arena.
 */
#include "core/base/array.h"
#include "core/base/endian.h"
#include "core/ops/window.h"
#include "state/preagg.h"
#include "state/stream_join_private.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static uint64_t float_bits(double f)
{
    uint64_t b;
    if (f == 0)
        f = 0; /* -0 joins +0 */
    memcpy(&b, &f, sizeof b);
    return b;
}

static size_t jkey_value_bytes(const ember_value *v)
{
    return 1 + (v->type == EMBER_STRING ? 4 + (size_t)v->u.s.len : 8);
}

int sj_encode_jkey(stream_join *j, sj_row *r, ember_err *err)
{
    const int *key = j->spec.key[r->side];
    size_t n = 0;
    r->jkey = NULL;
    r->jlen = 0;
    for (int i = 0; i < j->spec.n_keys; i++) {
        const ember_value *v = &r->rec->values[key[i]];
        if (v->type != EMBER_INT && v->type != EMBER_FLOAT && v->type != EMBER_STRING)
            return 0; /* NULL (or a bool): matches nothing */
        n += jkey_value_bytes(v);
    }
    uint8_t *p = arena_alloc(&j->ar, n);
    if (!p)
        return ember_err_set(err, -ENOMEM, "out of memory for a join key");
    r->jkey = (char *)p;
    r->jlen = (uint32_t)n;
    for (int i = 0; i < j->spec.n_keys; i++) {
        const ember_value *v = &r->rec->values[key[i]];
        *p++ = (uint8_t)v->type;
        if (v->type == EMBER_STRING) {
            uint32_t len = v->u.s.len;
            p[0] = (uint8_t)(len >> 24), p[1] = (uint8_t)(len >> 16);
            p[2] = (uint8_t)(len >> 8), p[3] = (uint8_t)len;
            memcpy(p + 4, v->u.s.ptr, len);
            p += 4 + len;
            continue;
        }
        if (v->type == EMBER_INT)
            window_put_time(p, v->u.i);
        else
            put_u64be(p, float_bits(v->u.f));
        p += 8;
    }
    return 0;
}

char *sj_row_key(stream_join *j, const char *jkey, uint32_t jlen, int side, int64_t t, uint64_t seq,
                 uint32_t *len)
{
    uint8_t *k = arena_alloc(&j->ar, jlen + SJ_ROW_SUFFIX);
    if (!k)
        return NULL;
    memcpy(k, jkey, jlen);
    k[jlen] = (uint8_t)side;
    window_put_time(k + jlen + 1, t);
    put_u64be(k + jlen + 1 + SJ_TIME_BYTES, seq);
    *len = jlen + SJ_ROW_SUFFIX;
    return (char *)k;
}

static size_t value_bytes(const ember_value *v)
{
    switch (v->type) {
    case EMBER_INT:
    case EMBER_FLOAT:
    case EMBER_BOOL:
        return 9;
    case EMBER_STRING:
        return 5 + (size_t)v->u.s.len;
    default:
        return 1;
    }
}

char *sj_encode_row(stream_join *j, const sj_row *r, uint32_t *len)
{
    int n = j->spec.in[r->side].n;
    size_t bytes = 1 + 8 + 2;
    for (int i = 0; i < n; i++)
        bytes += value_bytes(&r->rec->values[i]);
    uint8_t *out = arena_alloc(&j->ar, bytes), *p = out;
    if (!out)
        return NULL;
    *p++ = r->matched ? SJ_FLAG_MATCHED : 0;
    put_u64le(p, (uint64_t)j->batch_time);
    p[8] = (uint8_t)n, p[9] = (uint8_t)(n >> 8);
    p += 10;
    for (int i = 0; i < n; i++) {
        const ember_value *v = &r->rec->values[i];
        int type = v->type == EMBER_INT || v->type == EMBER_FLOAT || v->type == EMBER_STRING ||
                           v->type == EMBER_BOOL
                       ? v->type
                       : EMBER_NULL;
        *p++ = (uint8_t)type;
        if (type == EMBER_INT || type == EMBER_BOOL)
            put_u64le(p, (uint64_t)v->u.i), p += 8;
        else if (type == EMBER_FLOAT)
            memcpy(p, &v->u.f, 8), p += 8;
        else if (type == EMBER_STRING) {
            put_u32le(p, v->u.s.len);
            memcpy(p + 4, v->u.s.ptr, v->u.s.len);
            p += 4 + v->u.s.len;
        }
    }
    *len = (uint32_t)bytes;
    return (char *)out;
}

static int corrupt(stream_join *j, const char *k, size_t klen, const char *what, ember_err *err)
{
    char text[128];
    store_key_text(k, klen, text, sizeof text);
    return ember_err_set(err, -EMBER_ECORRUPT, "stream join %s, %s: stored row '%s' %s",
                         j->spec.name[0], j->spec.name[1], text, what);
}

/* One field of ROW at *p (end e) into v; -1 when it runs past e. */
static int decode_value(stream_join *j, const uint8_t **p, const uint8_t *e, ember_value *v)
{
    const uint8_t *q = *p;
    if (q >= e)
        return -1;
    v->type = (ember_type)*q++;
    if (v->type == EMBER_INT || v->type == EMBER_BOOL || v->type == EMBER_FLOAT) {
        if (e - q < 8)
            return -1;
        if (v->type == EMBER_FLOAT)
            memcpy(&v->u.f, q, 8);
        else
            v->u.i = (int64_t)get_u64le(q);
        q += 8;
    } else if (v->type == EMBER_STRING) {
        if (e - q < 4 || (size_t)(e - q - 4) < get_u32le(q))
            return -1;
        uint32_t len = get_u32le(q);
        char *s = arena_strndup(&j->ar, (const char *)q + 4, len);
        if (!s)
            return -2;
        v->u.s = (ember_str){s, len};
        q += 4 + len;
    } else if (v->type != EMBER_NULL) {
        return -1;
    }
    *p = q;
    return 0;
}

int sj_decode_row(stream_join *j, const char *k, size_t klen, const char *v, size_t vlen,
                  sj_stored *out, ember_err *err)
{
    if (klen < SJ_ROW_SUFFIX || vlen < 11)
        return corrupt(j, k, klen, "is too short", err);
    const uint8_t *suffix = (const uint8_t *)k + klen - SJ_ROW_SUFFIX;
    const uint8_t *p = (const uint8_t *)v, *e = p + vlen;
    out->side = suffix[0];
    out->t = window_get_time(suffix + 1);
    out->flags = p[0];
    int n = p[9] | p[10] << 8;
    if (out->side > 1 || n != j->spec.in[out->side].n)
        return corrupt(j, k, klen, "does not fit the join's schema", err);
    p += 11;
    out->values = arena_alloc(&j->ar, (size_t)(n ? n : 1) * sizeof *out->values);
    if (!out->values)
        return ember_err_set(err, -ENOMEM, "out of memory for a stored join row");
    for (int i = 0; i < n; i++) {
        int rc = decode_value(j, &p, e, &out->values[i]);
        if (rc == -2)
            return ember_err_set(err, -ENOMEM, "out of memory for a stored join row");
        if (rc)
            return corrupt(j, k, klen, "is truncated or has a bad field", err);
    }
    return p == e ? 0 : corrupt(j, k, klen, "has bytes past its fields", err);
}

int64_t sj_window_start(const stream_join *j, int64_t t)
{
    int64_t s = j->spec.size_ms, q = t / s;
    if (t % s < 0)
        q--;
    return q * s;
}

int sj_emit(stream_join *j, const ember_value *a, const ember_value *b, const int64_t *t,
            ember_err *err)
{
    const stream_join_spec *s = &j->spec;
    int na = s->in[0].n, nb = s->in[1].n;
    ember_value *vals = arena_alloc(&j->ar, (size_t)s->out.n * sizeof *vals);
    if (!vals || em_array_reserve(&j->out, &j->out_cap, j->n_out + 1, sizeof *j->out))
        return ember_err_set(err, -ENOMEM, "out of memory for the join's output");
    for (int i = 0; i < na; i++)
        vals[i] = a ? a[i] : (ember_value){.type = EMBER_NULL};
    for (int i = 0; i < nb; i++)
        vals[na + i] = b ? b[i] : (ember_value){.type = EMBER_NULL};
    if (s->form == SJ_WINDOW && t) {
        int64_t ws = sj_window_start(j, *t);
        vals[na + nb] = (ember_value){.type = EMBER_INT, .u.i = ws};
        vals[na + nb + 1] = (ember_value){.type = EMBER_INT, .u.i = ws + s->size_ms};
    } else if (s->form == SJ_WINDOW) {
        vals[na + nb] = vals[na + nb + 1] = (ember_value){.type = EMBER_NULL};
    }
    j->out[j->n_out++] = (ember_record){(uint32_t)s->out.n, vals};
    if (a && b)
        j->stats.pairs++;
    else
        j->stats.unmatched++;
    return 0;
}

/* ------------------------------------------------------------ marks */

static sj_mark_entry *mark_slot(const stream_join *j, const char *key, uint32_t len, uint64_t h)
{
    size_t mask = j->marks_cap - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        sj_mark_entry *m = &j->marks[i];
        if (!m->key || (m->hash == h && m->len == len && !memcmp(m->key, key, len)))
            return m;
    }
}

int sj_marked(const stream_join *j, const char *key, uint32_t len)
{
    return j->n_marks && mark_slot(j, key, len, preagg_hash(key, len))->key != NULL;
}

static int marks_grow(stream_join *j, ember_err *err)
{
    size_t cap = j->marks_cap ? j->marks_cap * 2 : 64;
    sj_mark_entry *old = j->marks, *m = calloc(cap, sizeof *m);
    size_t old_cap = j->marks_cap;
    if (!m)
        return ember_err_set(err, -ENOMEM, "out of memory for the join's matched rows");
    j->marks = m;
    j->marks_cap = cap;
    for (size_t i = 0; i < old_cap; i++)
        if (old[i].key)
            *mark_slot(j, old[i].key, old[i].len, old[i].hash) = old[i];
    free(old);
    return 0;
}

int sj_mark(stream_join *j, const char *key, uint32_t len, ember_err *err)
{
    int rc = (j->n_marks + 1) * 2 > j->marks_cap ? marks_grow(j, err) : 0;
    if (rc)
        return rc;
    uint64_t h = preagg_hash(key, len);
    sj_mark_entry *m = mark_slot(j, key, len, h);
    if (m->key)
        return 0;
    char *copy = arena_alloc(&j->ar, len ? len : 1);
    if (!copy)
        return ember_err_set(err, -ENOMEM, "out of memory for the join's matched rows");
    memcpy(copy, key, len);
    *m = (sj_mark_entry){h, copy, len};
    j->n_marks++;
    return 0;
}
