/*
 * source: the registry of source plugins and the PLAN record codec, the
 * durable form of a batch's input ranges (written to the WAL in step 2 and
 * read back by recovery to replay exactly the same input).
 */
#include "core/source/source.h"
#include "core/base/endian.h"
#include "core/base/names.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define SOURCE(x) extern const source_ops source_##x##_ops;
#include "core/source/sources.def"
#undef SOURCE

const source_ops *const source_registry[] = {
#define SOURCE(x) &source_##x##_ops,
#include "core/source/sources.def"
#undef SOURCE
    NULL,
};

/* kind is source_ops' first member, as em_registry_* need. */
void source_kinds_text(char *buf, size_t cap)
{
    em_registry_kinds((const void *const *)source_registry, buf, cap);
}

const source_ops *source_find(const char *kind)
{
    return em_registry_find((const void *const *)source_registry, kind);
}

#define PLAN_HEADER_BYTES 12u
#define PLAN_RANGE_BYTES 20u

size_t plan_encoded_bytes(size_t n_ranges)
{
    return PLAN_HEADER_BYTES + n_ranges * PLAN_RANGE_BYTES;
}

void plan_encode(uint64_t batch_time_ms, const src_range *r, size_t n, uint8_t *out)
{
    put_u64le(out, batch_time_ms);
    put_u32le(out + 8, (uint32_t)n);
    out += PLAN_HEADER_BYTES;
    for (size_t i = 0; i < n; i++, out += PLAN_RANGE_BYTES) {
        put_u32le(out, r[i].partition);
        put_u64le(out + 4, r[i].from);
        put_u64le(out + 12, r[i].to);
    }
}

int plan_decode(const void *buf, size_t len, uint64_t *batch_time_ms, src_range **ranges,
                size_t *n, ember_err *err)
{
    const uint8_t *p = buf;
    if (len < PLAN_HEADER_BYTES)
        return ember_err_set(err, -EMBER_ECORRUPT, "PLAN record of %zu bytes is too short", len);
    uint32_t count = get_u32le(p + 8);
    if (len != plan_encoded_bytes(count))
        return ember_err_set(err, -EMBER_ECORRUPT,
                             "PLAN record says %u ranges but holds %zu bytes", count, len);
    *batch_time_ms = get_u64le(p);
    *ranges = calloc(count ? count : 1, sizeof **ranges);
    if (!*ranges)
        return ember_err_set(err, -ENOMEM, "out of memory");
    p += PLAN_HEADER_BYTES;
    for (uint32_t i = 0; i < count; i++, p += PLAN_RANGE_BYTES) {
        (*ranges)[i].partition = get_u32le(p);
        (*ranges)[i].from = get_u64le(p + 4);
        (*ranges)[i].to = get_u64le(p + 12);
        if ((*ranges)[i].to < (*ranges)[i].from) {
            free(*ranges);
            *ranges = NULL;
            return ember_err_set(err, -EMBER_ECORRUPT, "PLAN range %u ends before it starts", i);
        }
    }
    *n = count;
    return 0;
}

const char *src_partition_text(uint32_t partition, char *buf, size_t cap)
{
    if (partition >> SRC_TAG_SHIFT)
        snprintf(buf, cap, "s%u.p%u", partition >> SRC_TAG_SHIFT, partition & SRC_PARTITION_MASK);
    else
        snprintf(buf, cap, "p%u", partition);
    return buf;
}
