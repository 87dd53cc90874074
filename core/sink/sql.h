/*
 * sql: the SQL text the database sinks (sqlite, postgres) share: quoted
 * identifiers, CREATE TABLE for a row schema with its key, and the batch's
 * INSERT, plain or as an upsert by the key. Placeholders differ by database
 * ('?' for SQLite, '$1' for PostgreSQL). Statements longer than the buffer
 * fail rather than being cut.
 */
#ifndef EMBER_SINK_SQL_H
#define EMBER_SINK_SQL_H

#include "core/ops/schema.h"
#include <stddef.h>

typedef struct sql_dialect {
    int dollar_params; /* $1, $2 ... instead of ? */
    const char *int_type, *float_type, *text_type;
} sql_dialect;

/* CREATE TABLE IF NOT EXISTS table (columns..., PRIMARY KEY (first n_pk)).
 * 0, or -ENAMETOOLONG when it does not fit in cap. */
int sql_create_table(const sql_dialect *d, const char *table, const schema *rows, int n_pk,
                     char *buf, size_t cap);
/* INSERT INTO table (...) VALUES (...) [ON CONFLICT (first n_pk) DO UPDATE SET ...];
 * with from_table, INSERT INTO table (...) SELECT ... FROM from_table [ON CONFLICT ...]. */
int sql_insert(const sql_dialect *d, const char *table, const char *from_table,
               const schema *rows, int n_pk, char *buf, size_t cap);
/* 0 when name is a plain identifier ([A-Za-z_][A-Za-z0-9_]*), as table
 * names must be. */
int sql_check_name(const char *name);
/* The SQL type of an ember type in this dialect. */
const char *sql_type(const sql_dialect *d, ember_type t);
/* How many leading columns are the key: the key fields, and window_start,
 * window_end when they follow. */
int sql_key_columns(const schema *rows, int n_key_fields);

#endif
