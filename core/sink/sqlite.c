/*
 * sink_sqlite: `sink sqlite path=F table=T [mode=upsert|append] [create=yes]`.
 * Rows go into a table of a SQLite database, exactly once: each batch is one
 * transaction holding its rows and the sink's marker row in
 * ember_sink_batches(job, sink, batch), so the database holds a batch with its
 * marker or neither. On start the marker says which batches are already in
 * the database; a replayed batch at or below it is skipped.
 *
 * Modes: upsert (the default when rows have key fields) replaces a key's row
 * (and window's: window_start, window_end join the key), INSERT ... ON
 * CONFLICT DO UPDATE; append (records of a stream without a key) inserts.
 * create=yes makes the table (int -> INTEGER, float -> REAL, string -> TEXT,
 * the key as PRIMARY KEY); an existing table must have every column, else the
 * start is refused naming the column. WAL journal, synchronous=FULL: a
 * commit is durable before the engine commits the batch's state.
 */
#include "core/base/log.h"
#include "core/sink/sink.h"
#include "core/sink/sql.h"

#include <errno.h>
#include <inttypes.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const opt_def sqlite_options[] = {
    {"path", OPT_STR, NULL, NULL, "database file (created if missing)"},
    {"table", OPT_STR, NULL, NULL, "table the rows go to"},
    {"mode", OPT_ENUM, "auto", "auto|upsert|append",
     "upsert by the key (and window) columns, or append; auto: upsert when rows have a key"},
    {"create", OPT_BOOL, "no", NULL, "create the table when it does not exist"},
    {0},
};

typedef struct sqlite_sink {
    sqlite3 *db;
    sqlite3_stmt *insert, *marker;
    char *path, *table, *sink_id;
    const char *job;
    const schema *rows;
    int n_pk;   /* leading columns forming the key (upsert), 0 = append */
    int create; /* create=yes */
    uint64_t delivered; /* the marker: last batch in the database */
    uint64_t batch, row_no;
    int in_txn;
} sqlite_sink;

static int db_error(sqlite_sink *q, int rc, const char *what, ember_err *err)
{
    return ember_err_set(err, -EIO, "sink sqlite %s table %s: %s: %s", q->path, q->table, what,
                         q->db ? sqlite3_errmsg(q->db) : sqlite3_errstr(rc));
}

static const sql_dialect sqlite_sql = {0, "INTEGER", "REAL", "TEXT"};

static int exec(sqlite_sink *q, const char *sql, const char *what, ember_err *err)
{
    int rc = sqlite3_exec(q->db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? 0 : db_error(q, rc, what, err);
}

/* ------------------------------------------------------------ schema */

static int create_table(sqlite_sink *q, ember_err *err)
{
    char sql[16384];
    if (sql_create_table(&sqlite_sql, q->table, q->rows, q->n_pk, sql, sizeof sql))
        return ember_err_set(err, -ENAMETOOLONG, "sink sqlite table %s: too many columns",
                             q->table);
    return exec(q, sql, "create table", err);
}

/* Every column of the rows must exist in the table. */
static int check_columns(sqlite_sink *q, ember_err *err)
{
    char sql[1024] = "SELECT name FROM pragma_table_info(?)";
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(q->db, sql, -1, &st, NULL), found = 0, have[SCHEMA_MAX_FIELDS] = {0};
    if (rc != SQLITE_OK)
        return db_error(q, rc, "read the table's columns", err);
    sqlite3_bind_text(st, 1, q->table, -1, SQLITE_STATIC);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(st, 0);
        found = 1;
        for (int i = 0; name && i < q->rows->n; i++)
            have[i] |= strcmp(name, q->rows->f[i].name) == 0;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return db_error(q, rc, "read the table's columns", err);
    if (!found)
        return ember_err_set(err, -EMBER_EUSAGE, "sink sqlite %s: no table %s (create=yes "
                             "makes it)", q->path, q->table);
    for (int i = 0; i < q->rows->n; i++)
        if (!have[i])
            return ember_err_set(err, -EMBER_EUSAGE, "sink sqlite %s table %s has no column "
                                 "'%s' (%s), which the job writes", q->path, q->table,
                                 q->rows->f[i].name, sql_type(&sqlite_sql, q->rows->f[i].type));
    return 0;
}

static int prepare_insert(sqlite_sink *q, ember_err *err)
{
    char sql[16384];
    if (sql_insert(&sqlite_sql, q->table, NULL, q->rows, q->n_pk, sql, sizeof sql))
        return ember_err_set(err, -ENAMETOOLONG, "sink sqlite table %s: too many columns",
                             q->table);
    int rc = sqlite3_prepare_v2(q->db, sql, -1, &q->insert, NULL);
    return rc == SQLITE_OK ? 0 : db_error(q, rc, "prepare the insert", err);
}

/* ------------------------------------------------------------ markers */

static int open_markers(sqlite_sink *q, ember_err *err)
{
    int rc = exec(q, "CREATE TABLE IF NOT EXISTS ember_sink_batches (job TEXT NOT NULL, "
                     "sink TEXT NOT NULL, batch INTEGER NOT NULL, PRIMARY KEY (job, sink))",
                  "create ember_sink_batches", err);
    if (rc)
        return rc;
    rc = sqlite3_prepare_v2(q->db,
                            "INSERT INTO ember_sink_batches (job, sink, batch) VALUES (?, ?, ?) "
                            "ON CONFLICT (job, sink) DO UPDATE SET batch = excluded.batch",
                            -1, &q->marker, NULL);
    return rc == SQLITE_OK ? 0 : db_error(q, rc, "prepare the marker", err);
}

static int read_marker(sqlite_sink *q, ember_err *err)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(q->db, "SELECT batch FROM ember_sink_batches WHERE job = ? "
                                "AND sink = ?", -1, &st, NULL);
    if (rc != SQLITE_OK)
        return db_error(q, rc, "read the marker", err);
    sqlite3_bind_text(st, 1, q->job, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, q->sink_id, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    q->delivered = rc == SQLITE_ROW ? (uint64_t)sqlite3_column_int64(st, 0) : 0;
    sqlite3_finalize(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : db_error(q, rc, "read the marker", err);
}

/* ------------------------------------------------------------ the plugin */

static int choose_mode(sqlite_sink *q, const opt_set *opts, const sink_env *env, ember_err *err)
{
    const char *mode = opts_str(opts, "mode");
    int pk = sql_key_columns(env->rows, env->n_key_fields);
    if (!strcmp(mode, "upsert") && pk == 0)
        return ember_err_set(err, -EMBER_EUSAGE, "sink sqlite mode=upsert needs rows with a "
                             "key or a window (an aggregate); use mode=append");
    q->n_pk = !strcmp(mode, "append") ? 0 : pk;
    return 0;
}

static int sq_open(sink *s, const opt_set *opts, const sink_env *env, ember_err *err)
{
    sqlite_sink *q = calloc(1, sizeof *q);
    if (!q)
        return ember_err_set(err, -ENOMEM, "out of memory");
    s->impl = q;
    q->path = strdup(opts_str(opts, "path"));
    q->table = strdup(opts_str(opts, "table"));
    q->job = env->job_name;
    q->rows = env->rows;
    q->create = (int)opts_int(opts, "create");
    if (!q->path || !q->table || asprintf(&q->sink_id, "sqlite:%s", q->table) < 0)
        return ember_err_set(err, -ENOMEM, "out of memory");
    if (q->table && sql_check_name(q->table))
        return ember_err_set(err, -EMBER_EUSAGE, "sink sqlite table=%s: expected a name of "
                             "letters, digits and _", q->table);
    int rc = choose_mode(q, opts, env, err);
    if (rc)
        return rc;
    rc = sqlite3_open_v2(q->path, &q->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
    if (rc != SQLITE_OK)
        return db_error(q, rc, "open", err);
    sqlite3_busy_timeout(q->db, 10000);
    if ((rc = exec(q, "PRAGMA journal_mode=WAL", "journal_mode=WAL", err)) ||
        (rc = exec(q, "PRAGMA synchronous=FULL", "synchronous=FULL", err)))
        return rc;
    if (q->create && (rc = create_table(q, err)))
        return rc;
    if ((rc = check_columns(q, err)) || (rc = prepare_insert(q, err)))
        return rc;
    return open_markers(q, err);
}

static int sq_recover(sink *s, uint64_t committed_batch, ember_err *err)
{
    sqlite_sink *q = s->impl;
    int rc = read_marker(q, err);
    if (!rc && q->delivered > committed_batch)
        em_log(EMBER_LOG_INFO, "sink sqlite %s: table %s holds batches up to %" PRIu64
               " (state committed %" PRIu64 "): those are not written again",
               q->path, q->table, q->delivered, committed_batch);
    return rc;
}

static int sq_begin(sink *s, uint64_t batch, uint64_t batch_time_ms, ember_err *err)
{
    sqlite_sink *q = s->impl;
    if (batch <= q->delivered)
        return 1; /* in the database with its marker already */
    q->batch = batch;
    q->row_no = 0;
    int rc = exec(q, "BEGIN IMMEDIATE", "begin", err);
    q->in_txn = !rc;
    return rc;
}

static int bind_value(sqlite3_stmt *st, int i, const ember_value *v)
{
    switch (v->type) {
    case EMBER_INT:
    case EMBER_BOOL: return sqlite3_bind_int64(st, i, v->u.i);
    case EMBER_FLOAT: return sqlite3_bind_double(st, i, v->u.f);
    case EMBER_STRING: return sqlite3_bind_text(st, i, v->u.s.ptr, (int)v->u.s.len, SQLITE_STATIC);
    default: return sqlite3_bind_null(st, i);
    }
}

static int sq_write(sink *s, const ember_record *row, ember_err *err)
{
    sqlite_sink *q = s->impl;
    int rc = SQLITE_OK;
    q->row_no++;
    sqlite3_reset(q->insert);
    for (uint32_t i = 0; i < row->n && i < (uint32_t)q->rows->n && rc == SQLITE_OK; i++)
        rc = bind_value(q->insert, (int)i + 1, &row->values[i]);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(q->insert);
    sqlite3_clear_bindings(q->insert);
    if (rc == SQLITE_DONE)
        return 0;
    return ember_err_set(err, -EIO, "sink sqlite %s table %s: batch %" PRIu64 " row %" PRIu64
                         " rejected: %s", q->path, q->table, q->batch, q->row_no,
                         sqlite3_errmsg(q->db));
}

static int sq_commit(sink *s, uint64_t batch, ember_err *err)
{
    sqlite_sink *q = s->impl;
    sqlite3_reset(q->marker);
    sqlite3_bind_text(q->marker, 1, q->job, -1, SQLITE_STATIC);
    sqlite3_bind_text(q->marker, 2, q->sink_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q->marker, 3, (sqlite3_int64)batch);
    int rc = sqlite3_step(q->marker);
    if (rc != SQLITE_DONE)
        return db_error(q, rc, "write the marker", err);
    rc = exec(q, "COMMIT", "commit", err);
    if (!rc) {
        q->in_txn = 0;
        q->delivered = batch;
    }
    return rc;
}

static void sq_close(sink *s)
{
    sqlite_sink *q = s->impl;
    if (!q)
        return;
    if (q->in_txn) /* a batch that failed half way: nothing of it stays */
        sqlite3_exec(q->db, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_finalize(q->insert);
    sqlite3_finalize(q->marker);
    sqlite3_close(q->db);
    free(q->path);
    free(q->table);
    free(q->sink_id);
    free(q);
    s->impl = NULL;
}

const sink_ops sink_sqlite_ops = {
    .kind = "sqlite",
    .doc = "rows into a SQLite table, one transaction per batch with its marker; exactly-once",
    .options = sqlite_options,
    .exactly_once = 1,
    .open = sq_open,
    .recover = sq_recover,
    .begin = sq_begin,
    .write = sq_write,
    .commit = sq_commit,
    .close = sq_close,
};
