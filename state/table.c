/*
 * table: a join table in memory and in its RocksDB column family (table.h).
 */
#include "state/table.h"
#include "core/base/arena.h"
#include "core/base/array.h"
#include "core/base/endian.h"
#include "core/ops/csv.h"
#include "core/base/io.h"
#include "core/base/log.h"
#include "core/ops/text.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <xxhash.h>

typedef struct row_entry {
    const char *key;
    uint32_t klen;
    uint32_t lineno;
    const char *line; /* the raw line, stored as the row's value */
    uint32_t line_len;
    const ember_value *vals;
} row_entry;

/* One version of the table: its text and the map over it. */
typedef struct table_ver {
    char *text;
    arena mem;
    row_entry *slots; /* open addressing, cap a power of two */
    size_t cap, n;
    char *header;
} table_ver;

struct join_table {
    char *path, *key_col;
    schema fields;
    store *st;
    int cf;
    char meta_hash[64], meta_header[64];
    table_ver *cur;
    uint64_t hash;
    struct stat seen;
    uint64_t bad_hash; /* a new version that failed to load, reported once */
};

static void ver_free(table_ver *v)
{
    if (!v)
        return;
    free(v->text);
    free(v->slots);
    free(v->header);
    arena_free(&v->mem);
    free(v);
}

join_table *table_new(const char *path, const char *key_col, const schema *fields)
{
    join_table *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->path = strdup(path);
    t->key_col = strdup(key_col);
    t->fields = *fields;
    t->cf = -1;
    if (!t->path || !t->key_col) {
        table_free(t);
        return NULL;
    }
    return t;
}

void table_free(join_table *t)
{
    if (!t)
        return;
    ver_free(t->cur);
    free(t->path);
    free(t->key_col);
    free(t);
}

const char *table_path(const join_table *t) { return t->path; }

size_t table_rows(const join_table *t) { return t->cur ? t->cur->n : 0; }

static uint64_t key_hash(const char *k, size_t n) { return XXH3_64bits(k, n); }

static row_entry *map_slot(const table_ver *v, const char *key, size_t klen)
{
    size_t i = key_hash(key, klen) & (v->cap - 1);
    while (v->slots[i].key &&
           (v->slots[i].klen != klen || memcmp(v->slots[i].key, key, klen) != 0))
        i = (i + 1) & (v->cap - 1);
    return &v->slots[i];
}

const ember_value *table_lookup(const join_table *t, const char *key, size_t klen)
{
    if (!t->cur || !t->cur->cap)
        return NULL;
    row_entry *e = map_slot(t->cur, key, klen);
    return e->key ? e->vals : NULL;
}

/* ------------------------------------------------------------ building */

typedef struct build_ctx {
    const join_table *t;
    const char *what; /* the file path, or "its column family" */
    schema cols;      /* the header's columns, typed */
    int key_idx;
    int field_idx[SCHEMA_MAX_FIELDS];
} build_ctx;

static int parse_header(build_ctx *c, const char *line, size_t len, ember_err *err)
{
    const join_table *t = c->t;
    c->cols.n = 0;
    c->key_idx = -1;
    for (const char *p = line, *end = line + len; p <= end;) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        size_t n = comma ? (size_t)(comma - p) : (size_t)(end - p);
        if (c->cols.n == SCHEMA_MAX_FIELDS || n == 0 || n >= sizeof c->cols.f[0].name)
            return ember_err_set(err, -EMBER_EUSAGE, "%s:1: bad header (column %d)", c->what,
                                 c->cols.n + 1);
        schema_field *f = &c->cols.f[c->cols.n];
        snprintf(f->name, sizeof f->name, "%.*s", (int)n, p);
        int fi = schema_find(&t->fields, p, n);
        f->type = fi >= 0 ? t->fields.f[fi].type : EMBER_STRING;
        if (strlen(t->key_col) == n && memcmp(t->key_col, p, n) == 0)
            c->key_idx = c->cols.n;
        c->cols.n++;
        if (!comma)
            break;
        p = comma + 1;
    }
    if (c->key_idx < 0)
        return ember_err_set(err, -EMBER_EUSAGE, "%s:1: the header has no key column '%s'",
                             c->what, t->key_col);
    for (int j = 0; j < t->fields.n; j++) {
        c->field_idx[j] = schema_find(&c->cols, t->fields.f[j].name, strlen(t->fields.f[j].name));
        if (c->field_idx[j] < 0)
            return ember_err_set(err, -EMBER_EUSAGE, "%s:1: the header has no column '%s'",
                                 c->what, t->fields.f[j].name);
    }
    return 0;
}

static int add_row(build_ctx *c, table_ver *v, const char *line, size_t len, uint32_t lineno,
                   ember_err *err)
{
    ember_value vals[SCHEMA_MAX_FIELDS];
    int rc = csv_parse_line(line, len, ',', &c->cols, vals, &v->mem, err);
    if (rc)
        return ember_err_prefix(err, "%s:%u", c->what, lineno);
    const ember_value *kv = &vals[c->key_idx];
    char buf[64];
    const char *key = kv->u.s.ptr;
    size_t klen = kv->u.s.len;
    if (kv->type == EMBER_NULL)
        return ember_err_set(err, -EMBER_EUSAGE, "%s:%u: empty key", c->what, lineno);
    if (kv->type != EMBER_STRING) {
        klen = value_format(kv, buf, sizeof buf);
        if (!(key = arena_strndup(&v->mem, buf, klen)))
            return ember_err_set(err, -ENOMEM, "out of memory");
    }
    row_entry *e = map_slot(v, key, klen);
    if (e->key)
        return ember_err_set(err, -EMBER_EUSAGE, "%s:%u: key '%.*s' appears twice (first on "
                             "line %u)", c->what, lineno, (int)klen, key, e->lineno);
    ember_value *row = arena_alloc(&v->mem, (size_t)c->t->fields.n * sizeof *row + 1);
    if (!row)
        return ember_err_set(err, -ENOMEM, "out of memory");
    for (int j = 0; j < c->t->fields.n; j++)
        row[j] = vals[c->field_idx[j]];
    *e = (row_entry){key, (uint32_t)klen, lineno, line, (uint32_t)len, row};
    v->n++;
    return 0;
}

/* Builds a version from text = header line + rows; takes text. */
static int build(join_table *t, char *text, size_t n, const char *what, table_ver **out,
                 ember_err *err)
{
    build_ctx c = {.t = t, .what = what};
    table_ver *v = calloc(1, sizeof *v);
    if (!v) {
        free(text);
        return ember_err_set(err, -ENOMEM, "out of memory");
    }
    v->text = text;
    arena_init(&v->mem, 64 * 1024);
    size_t lines = 1;
    for (size_t i = 0; i < n; i++)
        lines += text[i] == '\n';
    v->cap = 16;
    while (v->cap < lines * 2)
        v->cap *= 2;
    v->slots = calloc(v->cap, sizeof *v->slots);
    int rc = v->slots ? 0 : ember_err_set(err, -ENOMEM, "out of memory");
    uint32_t lineno = 0;
    for (char *p = text, *end = text + n; !rc && p < end;) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
        if (len && p[len - 1] == '\r')
            len--;
        lineno++;
        if (lineno == 1) {
            rc = parse_header(&c, p, len, err);
            if (!rc && !(v->header = strndup(p, len)))
                rc = ember_err_set(err, -ENOMEM, "out of memory");
        } else if (len) {
            rc = add_row(&c, v, p, len, lineno, err);
        }
        p = nl ? nl + 1 : end;
    }
    if (!rc && lineno == 0)
        rc = ember_err_set(err, -EMBER_EUSAGE, "%s: empty table (a header line is needed)", what);
    if (rc) {
        ver_free(v);
        return rc;
    }
    *out = v;
    return 0;
}

/* ------------------------------------------------------------ the store */

/* Replaces the stored version by v in one synced WriteBatch. */
static int persist(join_table *t, const table_ver *old, const table_ver *v, uint64_t hash,
                   ember_err *err)
{
    store_batch *wb = store_batch_new();
    if (!wb)
        return ember_err_set(err, -ENOMEM, "out of memory");
    for (size_t i = 0; old && i < old->cap; i++)
        if (old->slots[i].key)
            store_batch_delete(wb, t->st, t->cf, old->slots[i].key, old->slots[i].klen);
    for (size_t i = 0; i < v->cap; i++) {
        const row_entry *e = &v->slots[i];
        if (e->key)
            store_batch_put(wb, t->st, t->cf, e->key, e->klen, e->line, e->line_len);
    }
    uint8_t h[8];
    put_u64le(h, hash);
    store_batch_put(wb, t->st, STORE_META, t->meta_header, strlen(t->meta_header), v->header,
                    strlen(v->header));
    store_batch_put(wb, t->st, STORE_META, t->meta_hash, strlen(t->meta_hash), h, 8);
    int rc = store_write(t->st, wb, 1, err);
    store_batch_free(wb);
    return rc;
}

/* Header + every stored row, as text to build from. */
static int load_stored(join_table *t, const char *header, size_t hlen, table_ver **out,
                       ember_err *err)
{
    size_t cap = hlen + 1 + 4096, n = 0;
    char *text = malloc(cap);
    store_iter *it = store_iter_new(t->st, t->cf, NULL, 0);
    int rc = text && it ? 0 : ember_err_set(err, -ENOMEM, "out of memory");
    if (!rc) {
        memcpy(text, header, hlen);
        text[hlen] = '\n';
        n = hlen + 1;
    }
    for (; !rc && store_iter_valid(it); store_iter_next(it)) {
        size_t vlen;
        const char *val = store_iter_value(it, &vlen);
        if (em_array_reserve(&text, &cap, n + vlen + 1, 1)) {
            rc = ember_err_set(err, -ENOMEM, "out of memory");
            break;
        }
        memcpy(text + n, val, vlen);
        text[n + vlen] = '\n';
        n += vlen + 1;
    }
    if (!rc && (rc = store_iter_status(it, err)))
        ember_err_prefix(err, "join table %s (stored copy)", t->path);
    store_iter_free(it);
    if (rc) {
        free(text);
        return rc;
    }
    char what[4200];
    snprintf(what, sizeof what, "join table %s (stored copy)", t->path);
    return build(t, text, n, what, out, err);
}

static int read_file(join_table *t, char **text, size_t *n, uint64_t *hash, struct stat *sb,
                     ember_err *err)
{
    if (stat(t->path, sb) != 0)
        return ember_err_set(err, -errno, "join table %s: %s", t->path, strerror(errno));
    int rc = io_read_file(t->path, text, n, err);
    if (!rc)
        *hash = XXH64(*text, *n, 0);
    return rc;
}

int table_open(join_table *t, store *st, int cf, ember_err *err)
{
    t->st = st;
    t->cf = cf;
    snprintf(t->meta_hash, sizeof t->meta_hash, "table/%s/hash", store_cf_name(st, (size_t)cf));
    snprintf(t->meta_header, sizeof t->meta_header, "table/%s/header",
             store_cf_name(st, (size_t)cf));
    char *h = NULL, *header = NULL;
    size_t hn = 0, headn = 0;
    int rc = store_get(st, STORE_META, t->meta_hash, strlen(t->meta_hash), &h, &hn, err);
    if (!rc && hn == 8 &&
        !(rc = store_get(st, STORE_META, t->meta_header, strlen(t->meta_header), &header,
                         &headn, err))) {
        t->hash = get_u64le((const uint8_t *)h);
        rc = load_stored(t, header, headn, &t->cur, err);
        free(h);
        free(header);
        return rc;
    }
    free(h);
    free(header);
    if (rc != -ENOENT)
        return rc;
    *err = (ember_err){0};
    char *text;
    size_t n;
    if ((rc = read_file(t, &text, &n, &t->hash, &t->seen, err)))
        return rc;
    char what[4200];
    snprintf(what, sizeof what, "%s", t->path);
    if ((rc = build(t, text, n, what, &t->cur, err)))
        return rc;
    return persist(t, NULL, t->cur, t->hash, err);
}

static int same_file(const struct stat *a, const struct stat *b)
{
    return a->st_ino == b->st_ino && a->st_dev == b->st_dev && a->st_size == b->st_size &&
           a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

int table_refresh(join_table *t, int *reloaded, ember_err *err)
{
    struct stat sb;
    *reloaded = 0;
    if (stat(t->path, &sb) != 0 || same_file(&sb, &t->seen))
        return 0; /* gone or unchanged: keep the loaded version */
    char *text;
    size_t n;
    uint64_t hash;
    ember_err ferr = {0};
    if (read_file(t, &text, &n, &hash, &sb, &ferr))
        return 0; /* vanished between stat and read: try again next batch */
    if (hash == t->hash) {
        free(text);
        t->seen = sb;
        return 0;
    }
    table_ver *v;
    if (build(t, text, n, t->path, &v, &ferr)) {
        if (hash != t->bad_hash)
            em_log(EMBER_LOG_WARN, "join table: keeping the loaded version: %s", ferr.msg);
        t->bad_hash = hash;
        return 0;
    }
    int rc = persist(t, t->cur, v, hash, err);
    if (rc) {
        ver_free(v);
        return rc;
    }
    ver_free(t->cur);
    t->cur = v;
    t->hash = hash;
    t->seen = sb;
    *reloaded = 1;
    return 0;
}
