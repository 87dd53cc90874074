/*
 * table: the static side of a stream-static join
 * (`join table path=F.csv key=FIELD fields=A,B:int [on-miss=drop|keep]`).
 *
 * The file is CSV with a header line; `key` names both the record field and
 * the table column matched against it, `fields` the columns appended to the
 * record (typed like parse's fields, strings by default). A key that appears
 * twice is an error naming both lines.
 *
 * Workers look rows up in an in-memory hash map (XXH3, open addressing). The
 * table is also held in its own RocksDB column family, one entry per row,
 * with its header and the file's xxh64 in the meta CF; so recovery joins
 * replayed batches against the version they first ran with, not whatever
 * the file holds now. Between batches the engine calls table_refresh: when
 * the file changed, the new version replaces the old one in ONE synced
 * WriteBatch before the next batch is planned, then in memory.
 */
#ifndef EMBER_TABLE_H
#define EMBER_TABLE_H

#include "core/ops/schema.h"
#include "state/store.h"

typedef struct join_table join_table;

/* fields: the appended columns (names and types). */
EMBER_MUST_CHECK join_table *table_new(const char *path, const char *key_col,
                                       const schema *fields);
void table_free(join_table *t);
const char *table_path(const join_table *t);

/* At start: the committed version from the store if there is one, else the
 * file (written to the store at once). */
EMBER_MUST_CHECK int table_open(join_table *t, store *st, int cf, ember_err *err);
/* Between batches: reloads the file if it changed; *reloaded = 1 then. */
EMBER_MUST_CHECK int table_refresh(join_table *t, int *reloaded, ember_err *err);

/* The appended values of the row with this key, or NULL. */
const ember_value *table_lookup(const join_table *t, const char *key, size_t klen);
size_t table_rows(const join_table *t);

#endif
