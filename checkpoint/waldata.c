/*
 * waldata: the payload of a WAL DATA record, which holds the records of a
 * batch whose source cannot re-read them (socket, stdin), so a replay reads
 * them from the WAL instead (written before the batch is processed).
 */
#include "checkpoint/waldata.h"
#include "core/base/endian.h"

#include <errno.h>
#include <inttypes.h>
#include <lz4.h>
#include <stdlib.h>


int waldata_encode(const char *raw, size_t n, char **out, size_t *out_n, ember_err *err)
{
    if (n > (size_t)LZ4_MAX_INPUT_SIZE)
        return ember_err_set(err, -EFBIG, "batch of %zu bytes is too large for the WAL", n);
    int bound = LZ4_compressBound((int)n);
    char *buf = malloc(8 + (size_t)bound);
    if (!buf)
        return ember_err_set(err, -ENOMEM, "out of memory");
    put_u64le((uint8_t *)buf, (uint64_t)n);
    int c = LZ4_compress_default(raw, buf + 8, (int)n, bound);
    if (c <= 0 && n > 0) {
        free(buf);
        return ember_err_set(err, -EIO, "lz4 compression failed");
    }
    *out = buf;
    *out_n = 8 + (size_t)c;
    return 0;
}

int waldata_decode(const void *buf, size_t n, char **raw, size_t *raw_n, ember_err *err)
{
    const unsigned char *p = buf;
    if (n < 8)
        return ember_err_set(err, -EMBER_ECORRUPT, "WAL DATA record too short");
    uint64_t len = get_u64le(p);
    if (len > (uint64_t)LZ4_MAX_INPUT_SIZE)
        return ember_err_set(err, -EMBER_ECORRUPT, "WAL DATA record claims %" PRIu64 " bytes",
                             len);
    char *out = malloc(len + 1);
    if (!out)
        return ember_err_set(err, -ENOMEM, "out of memory");
    int d = LZ4_decompress_safe((const char *)p + 8, out, (int)(n - 8), (int)len);
    if (d < 0 || (uint64_t)d != len) {
        free(out);
        return ember_err_set(err, -EMBER_ECORRUPT, "WAL DATA record does not decompress");
    }
    out[len] = '\0';
    *raw = out;
    *raw_n = len;
    return 0;
}
