/*
 * store_iter: iterators over one column family (by prefix or key range),
 * with the first read error kept and reported (a failed read inside an
 * iterator must not look like the end of the data), whole-family scans and
 * table walks for the damage checks, and RocksDB's size statistics.
 */
#include "state/store_private.h"
#include "core/fault/failpoint.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ---------------------------------------------------------------- iterators */

size_t store_key_text(const char *k, size_t n, char *out, size_t cap)
{
    size_t w = 0;
    if (!cap)
        return 0;
    for (size_t i = 0; i < n && w + 5 < cap; i++) {
        unsigned char c = (unsigned char)k[i];
        if (c >= 0x20 && c < 0x7f && c != '\\' && c != '\'')
            out[w++] = (char)c;
        else
            w += (size_t)snprintf(out + w, cap - w, "\\x%02x", c);
    }
    out[w] = '\0';
    return w;
}

/* When msg names a table file ("... in DIR/000017.sst ..." or
 * "... file 000017.sst ..."), appends " (000017.sst of \"cf\" holds keys
 * 'a'..'z')" from RocksDB's list of live files. */
static void table_range(store *s, const char *msg, char *out, size_t cap)
{
    const char *sst = strstr(msg, ".sst");
    if (!sst || cap < 2)
        return;
    const char *b = sst;
    while (b > msg && b[-1] >= '0' && b[-1] <= '9')
        b--;
    if (b == sst)
        return;
    char name[64];
    snprintf(name, sizeof name, "%.*s.sst", (int)(sst - b), b);
    const rocksdb_livefiles_t *lf = rocksdb_livefiles(s->db);
    int n = lf ? rocksdb_livefiles_count(lf) : 0;
    for (int i = 0; i < n; i++) {
        const char *f = rocksdb_livefiles_name(lf, i);
        size_t fl = strlen(f), nl = strlen(name);
        if (fl < nl || strcmp(f + fl - nl, name) != 0)
            continue;
        size_t a_len, z_len;
        const char *a = rocksdb_livefiles_smallestkey(lf, i, &a_len);
        const char *z = rocksdb_livefiles_largestkey(lf, i, &z_len);
        char ta[100], tz[100];
        store_key_text(a, a_len, ta, sizeof ta);
        store_key_text(z, z_len, tz, sizeof tz);
        snprintf(out, cap, " (%s of \"%s\" holds keys '%s'..'%s')", name,
                 rocksdb_livefiles_column_family_name(lf, i), ta, tz);
        break;
    }
    if (lf)
        rocksdb_livefiles_destroy(lf);
}

/* The smallest key above every key starting with p: p with trailing 0xff
 * bytes dropped and the last byte incremented. 0 when there is none (p is all
 * 0xff), and the iterator then checks the prefix itself. */
static size_t prefix_successor(const char *p, size_t plen, char *out)
{
    memcpy(out, p, plen);
    while (plen > 0 && (unsigned char)out[plen - 1] == 0xff)
        plen--;
    if (plen > 0)
        out[plen - 1] = (char)((unsigned char)out[plen - 1] + 1);
    return plen;
}

/* An iterator not yet positioned. */
static store_iter *iter_create(store *s, int cf, const void *prefix, size_t plen)
{
    store_iter *it = calloc(1, sizeof *it);

    if (!it || cf < 0 || (size_t)cf >= s->n_cfs)
        goto out_free;
    it->ropts = rocksdb_readoptions_create();
    it->prefix = malloc(plen * 2 + 1);
    if (!it->ropts || !it->prefix)
        goto out_free;
    rocksdb_readoptions_set_verify_checksums(it->ropts, 1);
    it->plen = plen;
    if (plen) {
        memcpy(it->prefix, prefix, plen);
        char *bound = it->prefix + plen;
        size_t blen = prefix_successor(prefix, plen, bound);
        if (blen)
            rocksdb_readoptions_set_iterate_upper_bound(it->ropts, bound, blen);
    }
    it->s = s;
    it->cf = cf;
    it->it = rocksdb_create_iterator_cf(s->db, it->ropts, s->cf[cf]);
    if (!it->it)
        goto out_free;
    return it;

out_free:
    store_iter_free(it);
    return NULL;
}

store_iter *store_iter_new(store *s, int cf, const void *prefix, size_t plen)
{
    store_iter *it = iter_create(s, cf, prefix, plen);
    if (it && plen)
        rocksdb_iter_seek(it->it, it->prefix, plen);
    else if (it)
        rocksdb_iter_seek_to_first(it->it);
    return it;
}

store_iter *store_iter_new_at(store *s, int cf, const void *key, size_t klen)
{
    store_iter *it = iter_create(s, cf, NULL, 0);
    if (it)
        rocksdb_iter_seek(it->it, key, klen);
    return it;
}

/* The first failed iterator read of the store, kept for store_write and
 * store_read_status: message naming the column family, the last key read
 * before it and, when RocksDB names the table file, that file's key range. */
static void note_iter_error(store_iter *it)
{
    char *rerr = NULL;
    store *s = it->s;
    rocksdb_iter_get_error(it->it, &rerr);
    if (!rerr)
        return;
    store_one_line(rerr);
    if (!s->read_error[0]) {
        char where[300] = "";
        if (it->has_last) {
            size_t n = store_key_text(it->last, it->last_len, where + 12, sizeof where - 13);
            memcpy(where, " after key '", 12);
            snprintf(where + 12 + n, sizeof where - 12 - n, "'");
        }
        int n = snprintf(s->read_error, sizeof s->read_error, "reading \"%s\"%s: %s",
                         s->cf_names[it->cf], it->has_last ? where : " from its first key",
                         rerr);
        if (n > 0 && (size_t)n < sizeof s->read_error)
            table_range(s, rerr, s->read_error + n, sizeof s->read_error - (size_t)n);
        s->read_error_code = st_rocks_code(rerr);
        if (s->read_error_code == -EMBER_ECORRUPT && !s->read_only) {
            char why[sizeof s->read_error + 300];
            snprintf(why, sizeof why, "%s: %s", s->path, s->read_error);
            store_mark_damaged(s->path, why);
        }
    }
    rocksdb_free(rerr);
}

int store_read_status(const store *s, ember_err *err)
{
    if (!s->read_error[0])
        return 0;
    int marked = !s->read_only && store_damage_note(s->path, NULL, 0);
    return ember_err_set(err, s->read_error_code, "%s: %s%s", s->path, s->read_error,
                         marked ? " (state marked damaged: the next start restores the newest "
                                  "snapshot that verifies)"
                                : "");
}

int store_iter_status(const store_iter *it, ember_err *err)
{
    char *rerr = NULL;
    if (!it)
        return ember_err_set(err, -ENOMEM, "out of memory for an iterator");
    rocksdb_iter_get_error(it->it, &rerr);
    if (!rerr)
        return 0;
    rocksdb_free(rerr);
    note_iter_error((store_iter *)it);
    return store_read_status(it->s, err);
}

void store_iter_seek(store_iter *it, const void *key, size_t klen)
{
    it->has_last = 0;
    rocksdb_iter_seek(it->it, key, klen);
}

int store_iter_valid(store_iter *it)
{
    size_t klen;
    const char *k;

    if (!rocksdb_iter_valid(it->it)) {
        note_iter_error(it);
        return 0;
    }
    if (!it->plen)
        return 1;
    k = rocksdb_iter_key(it->it, &klen);
    return klen >= it->plen && memcmp(k, it->prefix, it->plen) == 0;
}

/* Remembers the key being left, for the message of a read that fails on
 * the way to the next one. */
void store_iter_next(store_iter *it)
{
    size_t klen;
    const char *k = rocksdb_iter_key(it->it, &klen);
    if (klen > it->last_cap) {
        char *p = realloc(it->last, klen);
        if (p) {
            it->last = p;
            it->last_cap = klen;
        }
    }
    it->has_last = klen <= it->last_cap;
    if (it->has_last && klen) /* an empty key: nothing to copy (it->last may be NULL) */
        memcpy(it->last, k, klen);
    if (it->has_last)
        it->last_len = klen;
    rocksdb_iter_next(it->it);
}

const char *store_iter_key(store_iter *it, size_t *len)
{
    return rocksdb_iter_key(it->it, len);
}

const char *store_iter_value(store_iter *it, size_t *len)
{
    return rocksdb_iter_value(it->it, len);
}

void store_iter_free(store_iter *it)
{
    if (!it)
        return;
    if (it->it)
        rocksdb_iter_destroy(it->it);
    if (it->ropts)
        rocksdb_readoptions_destroy(it->ropts);
    free(it->prefix);
    free(it->last);
    free(it);
}

int store_scan(store *s, int cf, uint64_t *keys, ember_err *err)
{
    *keys = 0;
    int rc = st_cf_check(s, cf, err);
    if (rc)
        return rc;
    store_iter *it = store_iter_new(s, cf, NULL, 0);
    if (!it)
        return ember_err_set(err, -ENOMEM, "%s: out of memory", s->path);
    rocksdb_readoptions_set_fill_cache(it->ropts, 0);
    for (; store_iter_valid(it); store_iter_next(it))
        (*keys)++;
    rc = store_iter_status(it, err);
    store_iter_free(it);
    return rc;
}

int store_unlisted_tables(store *s, char *first, size_t cap)
{
    const rocksdb_livefiles_t *lf = rocksdb_livefiles(s->db);
    int n_live = lf ? rocksdb_livefiles_count(lf) : 0, found = 0;
    DIR *d = opendir(s->path);
    for (struct dirent *e; d && (e = readdir(d));) {
        if (!st_is_table_name(e->d_name) || st_is_listed(lf, n_live, e->d_name))
            continue;
        if (found++ == 0 && cap)
            snprintf(first, cap, "%s", e->d_name);
    }
    if (d)
        closedir(d);
    if (lf)
        rocksdb_livefiles_destroy(lf);
    return found;
}

int store_each_table(store *s, store_table_fn fn, void *ctx)
{
    const rocksdb_livefiles_t *lf = rocksdb_livefiles(s->db);
    int n = lf ? rocksdb_livefiles_count(lf) : 0, rc = 0;
    for (int i = 0; i < n && !rc; i++) {
        store_table t;
        const char *name = rocksdb_livefiles_name(lf, i);
        const char *base = strrchr(name, '/');
        t.name = base ? base + 1 : name;
        t.cf = store_cf_index(s, rocksdb_livefiles_column_family_name(lf, i));
        t.lo = rocksdb_livefiles_smallestkey(lf, i, &t.lo_len);
        t.hi = rocksdb_livefiles_largestkey(lf, i, &t.hi_len);
        rc = fn(ctx, &t);
    }
    if (lf)
        rocksdb_livefiles_destroy(lf);
    return rc;
}

int store_scan_range(store *s, int cf, const char *lo, size_t lo_len, const char *hi,
                     size_t hi_len, uint64_t *keys, ember_err *err)
{
    *keys = 0;
    int rc = st_cf_check(s, cf, err);
    if (rc)
        return rc;
    store_iter *it = store_iter_new(s, cf, NULL, 0);
    if (!it)
        return ember_err_set(err, -ENOMEM, "%s: out of memory", s->path);
    rocksdb_readoptions_set_fill_cache(it->ropts, 0);
    store_iter_seek(it, lo, lo_len);
    for (; store_iter_valid(it); store_iter_next(it)) {
        size_t kn;
        const char *k = store_iter_key(it, &kn);
        size_t n = kn < hi_len ? kn : hi_len;
        int c = memcmp(k, hi, n);
        if (c > 0 || (c == 0 && kn > hi_len))
            break;
        (*keys)++;
    }
    rc = store_iter_status(it, err);
    store_iter_free(it);
    return rc;
}

/* ---------------------------------------------------------------- stats */

static uint64_t property_u64(store *s, int cf, const char *name)
{
    char *v = rocksdb_property_value_cf(s->db, s->cf[cf], name);
    uint64_t n = v ? strtoull(v, NULL, 10) : 0;

    rocksdb_free(v);
    return n;
}

void store_stats(store *s, int cf, uint64_t *keys, uint64_t *bytes)
{
    *keys = 0;
    *bytes = 0;
    if (cf < 0 || (size_t)cf >= s->n_cfs)
        return;
    *keys = property_u64(s, cf, "rocksdb.estimate-num-keys");
    *bytes = property_u64(s, cf, "rocksdb.total-sst-files-size") +
             property_u64(s, cf, "rocksdb.cur-size-all-mem-tables");
}

uint64_t store_disk_bytes(const store *s)
{
    uint64_t total = 0;
    DIR *d = opendir(s->path);
    for (struct dirent *e; d && (e = readdir(d));) {
        char path[4200];
        struct stat sb;
        snprintf(path, sizeof path, "%s/%s", s->path, e->d_name);
        if (e->d_name[0] != '.' && stat(path, &sb) == 0 && S_ISREG(sb.st_mode))
            total += (uint64_t)sb.st_size;
    }
    if (d)
        closedir(d);
    return total;
}
