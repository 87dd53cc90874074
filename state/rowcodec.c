/*
 * rowcodec: whole records as bytes (format in rowcodec.h).
 */
#include "state/rowcodec.h"
#include "core/base/endian.h"

#include <string.h>

size_t rowcodec_bytes(const ember_record *r)
{
    size_t n = 2;
    for (uint32_t i = 0; i < r->n; i++)
        n += 1 + (r->values[i].type == EMBER_STRING ? 4 + r->values[i].u.s.len
                  : r->values[i].type == EMBER_NULL ? 0
                                                    : 8);
    return n;
}

uint8_t *rowcodec_put(uint8_t *p, const ember_record *r)
{
    p[0] = (uint8_t)(r->n & 0xff);
    p[1] = (uint8_t)(r->n >> 8);
    p += 2;
    for (uint32_t i = 0; i < r->n; i++) {
        const ember_value *v = &r->values[i];
        *p++ = (uint8_t)v->type;
        if (v->type == EMBER_STRING) {
            put_u32le(p, v->u.s.len);
            memcpy(p + 4, v->u.s.ptr, v->u.s.len);
            p += 4 + v->u.s.len;
        } else if (v->type != EMBER_NULL) {
            uint64_t bits;
            memcpy(&bits, &v->u, sizeof bits);
            put_u64le(p, bits);
            p += 8;
        }
    }
    return p;
}

static int get_value(const uint8_t **pp, const uint8_t *end, arena *mem, ember_value *v)
{
    const uint8_t *p = *pp;
    if (p >= end)
        return -1;
    v->type = (ember_type)*p++;
    if (v->type == EMBER_STRING) {
        if ((size_t)(end - p) < 4)
            return -1;
        uint32_t len = get_u32le(p);
        if (len > (size_t)(end - p) - 4)
            return -1;
        char *s = arena_strndup(mem, (const char *)p + 4, len);
        if (!s)
            return -1;
        v->u.s = (ember_str){s, len};
        p += 4 + len;
    } else if (v->type == EMBER_INT || v->type == EMBER_FLOAT || v->type == EMBER_BOOL) {
        if ((size_t)(end - p) < 8)
            return -1;
        uint64_t bits = get_u64le(p);
        memcpy(&v->u, &bits, sizeof bits);
        p += 8;
    } else if (v->type != EMBER_NULL) {
        return -1;
    }
    *pp = p;
    return 0;
}

int rowcodec_get(const uint8_t **p, const uint8_t *end, arena *mem, ember_record *out)
{
    if ((size_t)(end - *p) < 2)
        return -1;
    uint32_t n = (uint32_t)(*p)[0] | (uint32_t)(*p)[1] << 8;
    ember_value *v = arena_alloc(mem, (n ? n : 1) * sizeof *v);
    if (!v)
        return -1;
    *p += 2;
    for (uint32_t i = 0; i < n; i++)
        if (get_value(p, end, mem, &v[i]))
            return -1;
    *out = (ember_record){n, v};
    return 0;
}
