/*
 * store: keyed state over RocksDB (the only module that includes rocksdb/c.h).
 * Column family "meta" (index 0) holds the commit record; every stateful
 * operator has its own column family (index 1..n, in the order given).
 * lz4 compression; writes only through store_write() of one WriteBatch,
 * which is how the commit (step 5) stays atomic.
 */
#ifndef EMBER_STORE_H
#define EMBER_STORE_H

#include "ember.h"
#include <stddef.h>
#include <stdint.h>

typedef struct store store;
typedef struct store_batch store_batch;
typedef struct store_iter store_iter;

#define STORE_META 0

typedef struct store_opts {
    int read_only;           /* open read-only; works while a writer runs */
    size_t block_cache_bytes; /* 0 = RocksDB default */
} store_opts;

/* Opens or creates db_dir with CFs "meta" + op_names[0..n_ops). Read-only
 * opens take whatever CFs exist (op_names may be NULL); a missing db is
 * -ENOENT. A writer opens an existing db read-only first and stops there
 * if that fails (a writable open of a damaged db may delete its tables);
 * a directory with RocksDB files but no CURRENT is -EMBER_ECORRUPT, never
 * a new empty db. Either kind of open refuses a db marked damaged
 * (-EMBER_ECORRUPT, see store_mark_damaged). */
EMBER_MUST_CHECK int store_open(const char *db_dir, const char *const *op_names, size_t n_ops,
                                const store_opts *opts, store **out, ember_err *err);
void store_close(store *s);
/* CF index by name, -1 if absent (useful for read-only opens). */
int store_cf_index(const store *s, const char *name);
size_t store_cf_count(const store *s);
const char *store_cf_name(const store *s, size_t i);

/* Point lookups of n keys in one MultiGet. vals[i].ptr is NULL when absent;
 * otherwise malloc'd, free each with store_free_value. */
EMBER_MUST_CHECK int store_multiget(store *s, int cf, const ember_str *keys, size_t n,
                                    ember_str *vals, ember_err *err);
void store_free_value(ember_str *v);
/* One key; -ENOENT when absent; *val malloc'd. */
EMBER_MUST_CHECK int store_get(store *s, int cf, const void *key, size_t klen, char **val,
                               size_t *vlen, ember_err *err);

store_batch *store_batch_new(void);
void store_batch_free(store_batch *b);
/* The batch's serialized form (RocksDB's WriteBatch representation: every
 * put and delete with its family's id), valid until the batch changes; and
 * a batch made from such bytes (scale-out's changelog, applied to a store
 * whose families were created in the same order). NULL: out of memory. */
const char *store_batch_data(store_batch *b, size_t *len);
store_batch *store_batch_from(const char *data, size_t len);
void store_batch_put(store_batch *b, store *s, int cf, const void *k, size_t kl, const void *v,
                     size_t vl);
void store_batch_delete(store_batch *b, store *s, int cf, const void *k, size_t kl);
size_t store_batch_count(store_batch *b);
/* Applies the batch atomically; sync=1 waits for the RocksDB WAL fsync.
 * Failpoint state.write. */
EMBER_MUST_CHECK int store_write(store *s, store_batch *b, int sync, ember_err *err);

/* RocksDB checkpoint (hard links + copies) into dir, which must not exist. */
EMBER_MUST_CHECK int store_checkpoint(store *s, const char *dir, ember_err *err);

/* The file a writer leaves in its db directory when RocksDB reported
 * Corruption (at a read, a MultiGet, an iteration or a write): one line,
 * the error. The next start restores a snapshot instead. */
#define STORE_DAMAGE_FILE "EMBER-DAMAGED"
/* Writes it (the first reason stays); 0 or -errno. */
int store_mark_damaged(const char *db_dir, const char *why);
/* 1 (reason in buf) when db_dir carries the mark, else 0. */
int store_damage_note(const char *db_dir, char *buf, size_t cap);
/* Replaces newlines (RocksDB ends some messages with one) and doubled
 * blanks in place: every message is one line. */
void store_one_line(char *msg);
/* Key bytes as text for a message (\xNN outside printable ASCII). */
size_t store_key_text(const char *k, size_t n, char *out, size_t cap);

/* Ordered iteration over a CF, optionally from a prefix (stops after it). */
EMBER_MUST_CHECK store_iter *store_iter_new(store *s, int cf, const void *prefix, size_t plen);
/* An iterator over the whole CF at the first key >= key: unlike
 * store_iter_new + store_iter_seek it never reads from the CF's first key,
 * so the tombstones a family of timers leaves at its front (deleted, not
 * yet compacted) are not walked every time. */
EMBER_MUST_CHECK store_iter *store_iter_new_at(store *s, int cf, const void *key, size_t klen);
/* Moves to the first key >= key (within the prefix bound, if any). */
void store_iter_seek(store_iter *it, const void *key, size_t klen);
int store_iter_valid(store_iter *it);
void store_iter_next(store_iter *it);
const char *store_iter_key(store_iter *it, size_t *len);
const char *store_iter_value(store_iter *it, size_t *len);
void store_iter_free(store_iter *it);
/* After a loop over store_iter_valid: 0 when the iteration ended at the end
 * of its range, else the read error (-EMBER_ECORRUPT for Corruption, -EIO)
 * naming the column family, the last key read before it and, when RocksDB
 * names the table file, the keys that file holds. Every reader that must
 * see the whole range checks it. NULL it: -ENOMEM. */
EMBER_MUST_CHECK int store_iter_status(const store_iter *it, ember_err *err);
/* The first iterator read that failed since the store was opened (as
 * store_iter_status), or 0: an iteration that ended early must not be taken
 * for a whole range, and store_write refuses a batch computed after one. */
EMBER_MUST_CHECK int store_read_status(const store *s, ember_err *err);
/* Reads every entry of a CF with checksums verified (not filling the
 * cache); *keys = entries read. */
EMBER_MUST_CHECK int store_scan(store *s, int cf, uint64_t *keys, ember_err *err);

/* 1 when dir holds a file RocksDB makes for data (a table, a MANIFEST, a
 * write-ahead log). */
int store_has_db_files(const char *dir);
/* 1 when dir holds data RocksDB wrote: a table or a non-empty log. */
int store_has_data(const char *dir);
/* Table files (*.sst) in the db directory that RocksDB's current version
 * does not list (the first name in first); after a clean close there are
 * none, after a crash mid-compaction a few, after a truncated MANIFEST all. */
int store_unlisted_tables(store *s, char *first, size_t cap);

/* One table file of the current version: its name ("000017.sst"), CF
 * index (-1 for one not exposed) and smallest and largest user keys. */
typedef struct store_table {
    const char *name;
    int cf;
    const char *lo, *hi;
    size_t lo_len, hi_len;
} store_table;
typedef int (*store_table_fn)(void *ctx, const store_table *t);
/* Calls fn for every table (stops at the first non-zero, returned). */
int store_each_table(store *s, store_table_fn fn, void *ctx);
/* store_scan over the keys lo..hi (both included). */
EMBER_MUST_CHECK int store_scan_range(store *s, int cf, const char *lo, size_t lo_len,
                                      const char *hi, size_t hi_len, uint64_t *keys,
                                      ember_err *err);

/* Estimates from RocksDB properties (rocksdb.estimate-num-keys, live sst size
 * + memtables). */
void store_stats(store *s, int cf, uint64_t *keys, uint64_t *bytes);
/* Bytes of the database's files on disk (SSTs, RocksDB's own log of the
 * writes not yet flushed, MANIFEST): the state's real size, which, unlike
 * sst + memtable estimates, does not drop to ~0 when a snapshot flushes. */
uint64_t store_disk_bytes(const store *s);

#endif
