/*
 * store_private: the RocksDB handles behind a store, shared by store.c
 * (open, reads, writes, damage marks) and store_iter.c (iterators, scans,
 * statistics); not for use outside state/store*.c, the only files that
 * include rocksdb/c.h.
 */
#ifndef EMBER_STATE_STORE_PRIVATE_H
#define EMBER_STATE_STORE_PRIVATE_H

#include "state/store.h"

#include <rocksdb/c.h>
#include <stddef.h>

struct store {
    char *path;
    int read_only;
    rocksdb_t *db;
    rocksdb_options_t *opts;
    rocksdb_block_based_table_options_t *table_opts;
    rocksdb_cache_t *block_cache;
    rocksdb_readoptions_t *ropts;
    rocksdb_writeoptions_t *wopts_sync;
    rocksdb_writeoptions_t *wopts_nosync;
    size_t n_cfs;                        /* exposed: meta, ops, extras */
    char **cf_names;                     /* n_cfs */
    rocksdb_column_family_handle_t **cf; /* n_cfs + 1: "default" is last */
    /* The first iterator read that failed since open: a failed read inside
     * RocksDB ends an iteration as if the range ended, so every write and
     * every reader that must see the whole range checks this first. */
    char read_error[512];
    int read_error_code;
};

struct store_batch {
    rocksdb_writebatch_t *wb;
};

struct store_iter {
    store *s;
    int cf;
    rocksdb_iterator_t *it;
    char *last; /* the last key the iterator was valid on */
    size_t last_len, last_cap;
    int has_last;
    rocksdb_readoptions_t *ropts; /* must outlive it */
    char *prefix;                 /* prefix bytes, then the upper bound */
    size_t plen;
};

/* store.c, for store_iter.c */
int st_cf_check(const store *s, int cf, ember_err *err);
int st_is_listed(const rocksdb_livefiles_t *lf, int n_live, const char *name);
int st_is_table_name(const char *name);
int st_rocks_code(const char *msg);

#endif
