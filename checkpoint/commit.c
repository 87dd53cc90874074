/* commit: encoding of the commit record in the meta column family (see commit.h). */
#include "checkpoint/commit.h"
#include "core/base/array.h"
#include "core/base/endian.h"
#include "state/layout.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define COMMIT_VERSION 1
#define COMMIT_BYTES 41

void commit_put(store_batch *wb, store *s, const commit_record *c)
{
    uint8_t rec[COMMIT_BYTES], v[8];
    char key[64];
    rec[0] = COMMIT_VERSION;
    put_u64le(rec + 1, c->batch);
    put_u64le(rec + 9, c->batch_time_ms);
    put_u64le(rec + 17, c->job_hash);
    put_u64le(rec + 25, c->dead_letter_bytes);
    put_u64le(rec + 33, c->records_total);
    store_batch_put(wb, s, STORE_META, META_COMMIT, strlen(META_COMMIT), rec, sizeof rec);
    for (size_t i = 0; i < c->n_ends; i++) {
        int n = snprintf(key, sizeof key, META_OFFSET_PREFIX "%010u", c->ends[i].partition);
        put_u64le(v, c->ends[i].to);
        store_batch_put(wb, s, STORE_META, key, (size_t)n, v, 8);
    }
    if (c->sink_kind[0]) {
        int n = snprintf(key, sizeof key, META_SINK_PREFIX "%s", c->sink_kind);
        put_u64le(v, c->sink_batch);
        store_batch_put(wb, s, STORE_META, key, (size_t)n, v, 8);
    }
}

static int read_offsets(store *s, commit_record *c, ember_err *err)
{
    size_t plen = strlen(META_OFFSET_PREFIX), cap = 0;
    store_iter *it = store_iter_new(s, STORE_META, META_OFFSET_PREFIX, plen);
    if (!it)
        return ember_err_set(err, -ENOMEM, "out of memory");
    for (; store_iter_valid(it); store_iter_next(it)) {
        size_t klen, vlen;
        const char *k = store_iter_key(it, &klen);
        const char *v = store_iter_value(it, &vlen);
        if (vlen != 8 || klen <= plen) {
            store_iter_free(it);
            return ember_err_set(err, -EMBER_ECORRUPT, "meta: malformed offset entry");
        }
        if (em_array_reserve(&c->ends, &cap, c->n_ends + 1, sizeof *c->ends)) {
            store_iter_free(it);
            return ember_err_set(err, -ENOMEM, "out of memory");
        }
        src_range *r = &c->ends[c->n_ends++];
        r->partition = (uint32_t)strtoul(k + plen, NULL, 10);
        r->from = r->to = get_u64le((const uint8_t *)v);
    }
    store_iter_free(it);
    return store_read_status(s, err);
}

/* The sink marker "sink/<kind>" (one sink per job). */
static int read_sink_marker(store *s, commit_record *c, ember_err *err)
{
    store_iter *it = store_iter_new(s, STORE_META, META_SINK_PREFIX, strlen(META_SINK_PREFIX));
    if (!it)
        return ember_err_set(err, -ENOMEM, "out of memory reading the sink marker");
    if (store_iter_valid(it)) {
        size_t kn, vn;
        const char *k = store_iter_key(it, &kn);
        const char *v = store_iter_value(it, &vn);
        snprintf(c->sink_kind, sizeof c->sink_kind, "%.*s", (int)(kn - strlen(META_SINK_PREFIX)), k + strlen(META_SINK_PREFIX));
        if (vn == 8)
            c->sink_batch = get_u64le((const uint8_t *)v);
    }
    store_iter_free(it);
    return store_read_status(s, err);
}

int commit_read(store *s, commit_record *c, ember_err *err)
{
    char *val = NULL;
    size_t len = 0;
    memset(c, 0, sizeof *c);
    int rc = store_get(s, STORE_META, META_COMMIT, strlen(META_COMMIT), &val, &len, err);
    if (rc)
        return rc;
    unsigned version = len ? (uint8_t)val[0] : 0;
    if (len != COMMIT_BYTES || version != COMMIT_VERSION) {
        free(val);
        return ember_err_set(err, -EMBER_ECORRUPT,
                             "meta: commit record has %zu bytes / version %u (expected %d / %d)",
                             len, version, COMMIT_BYTES, COMMIT_VERSION);
    }
    const uint8_t *p = (const uint8_t *)val;
    c->batch = get_u64le(p + 1);
    c->batch_time_ms = get_u64le(p + 9);
    c->job_hash = get_u64le(p + 17);
    c->dead_letter_bytes = get_u64le(p + 25);
    c->records_total = get_u64le(p + 33);
    free(val);
    rc = read_offsets(s, c, err);
    return rc ? rc : read_sink_marker(s, c, err);
}

void commit_free(commit_record *c)
{
    free(c->ends);
    c->ends = NULL;
    c->n_ends = 0;
}
